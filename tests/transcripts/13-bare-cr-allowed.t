# ALLOWBARECR restores qmail's behaviour: a bare CR is stored.
ctl me mx.example
env ALLOWBARECR=1
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C> a\rb\r\n.\r\n
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: a\rb
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
