# SPEC 5 step 4: RELAYCLIENT skips rcpthosts (its value is appended).
ctl me mx.example
ctl rcpthosts example.com
env RELAYCLIENT=
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@anywhere.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: hello
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: hello
E: Fa@b
E: Tu@anywhere.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
