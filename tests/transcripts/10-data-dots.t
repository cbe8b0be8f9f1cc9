# SPEC 7: DATA ends at a line of "."; the transaction is then over.
ctl me mx.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: ..leading dot
C: .
C: DATA
C: RCPT TO:<u@x.example>
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 503 MAIL first (#5.5.1)
S: 503 MAIL first (#5.5.1)
S: 221 mx.example
