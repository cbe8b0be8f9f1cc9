ctl me mx.example
queue 31
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 554 mail server permanently rejected message (#5.3.0)
S: 221 mx.example
