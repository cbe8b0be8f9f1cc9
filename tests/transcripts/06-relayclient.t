# SPEC 5 step 4: RELAYCLIENT skips rcpthosts (its value is appended).
ctl me mx.example
ctl rcpthosts example.com
env RELAYCLIENT=
C: MAIL FROM:<a@b>
C: RCPT TO:<u@anywhere.example>
C: DATA
C: hello
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
