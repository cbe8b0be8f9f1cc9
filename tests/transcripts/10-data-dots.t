# SPEC 7: DATA ends at a line of "."; the transaction is then over.
ctl me mx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: ..leading dot
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: .leading dot
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: DATA
S: 503 MAIL first (#5.5.1)
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: QUIT
S: 221 mx.example
