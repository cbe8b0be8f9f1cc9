# ALLOWBARECR restores qmail's behaviour: a bare CR is stored.
ctl me mx.example
env ALLOWBARECR=1
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C> a\rb\r\n.\r\n
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
