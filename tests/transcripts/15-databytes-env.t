# DATABYTES overrides control/databytes (0 is unlimited).
ctl me mx.example
ctl databytes 2
env DATABYTES=0
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: a long line well over two bytes
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: a long line well over two bytes
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
