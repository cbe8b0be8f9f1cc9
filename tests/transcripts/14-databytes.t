# SPEC 7 step 5: databytes counts stored bytes (LF line ends, no dot-stuffing);
# the rest of DATA is read so the session stays in sync.
ctl me mx.example
ctl databytes 6
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: ..abcd
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: .abcd
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: .abcde
C: more
C: .
E: -
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
C: NOOP
S: 250 ok
C: QUIT
S: 221 mx.example
