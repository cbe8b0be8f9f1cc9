# DATABYTES overrides control/databytes (0 is unlimited).
ctl me mx.example
ctl databytes 2
env DATABYTES=0
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: a long line well over two bytes
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
