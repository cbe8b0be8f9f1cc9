ctl me mx.example
queue 31
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
E: Fa@b
E: Tu@x.example
S: 554 mail server permanently rejected message (#5.3.0)
C: QUIT
S: 221 mx.example
