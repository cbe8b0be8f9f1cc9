# SPEC 7 step 5: databytes counts stored bytes (LF line ends, no dot-stuffing);
# the rest of DATA is read so the session stays in sync.
ctl me mx.example
ctl databytes 6
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: ..abcd
C: .
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: .abcde
C: more
C: .
C: NOOP
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
S: 250 ok
S: 221 mx.example
