# SPEC 5 step 5 and 6: an unknown local recipient is refused at RCPT; the
# known one and the message go through.
ctl me mx.example
ctl rcpthosts nobody.example\nx.example
C: MAIL FROM:<a@b>
C: RCPT TO:<joe@nobody.example>
C: DATA
C: RCPT TO:<u@x.example>
C: RCPT TO:<JOE@NOBODY.EXAMPLE>
C: DATA
C: Subject: x
C: 
C: body
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 550 sorry, no mailbox here by that name. (#5.1.1)
S: 503 RCPT first (#5.5.1)
S: 250 ok
S: 550 sorry, no mailbox here by that name. (#5.1.1)
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
