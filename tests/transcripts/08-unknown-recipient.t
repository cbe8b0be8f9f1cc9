# SPEC 5 step 5 and 6: an unknown local recipient is refused at RCPT; the
# known one and the message go through.
ctl me mx.example
ctl rcpthosts nobody.example\nx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<joe@nobody.example>
L: realrcptto PID  joe@nobody.example
S: 550 sorry, no mailbox here by that name. (#5.1.1)
C: DATA
S: 503 RCPT first (#5.5.1)
C: RCPT TO:<u@x.example>
S: 250 ok
C: RCPT TO:<JOE@NOBODY.EXAMPLE>
L: realrcptto PID  JOE@NOBODY.EXAMPLE
S: 550 sorry, no mailbox here by that name. (#5.1.1)
C: DATA
S: 354 go ahead
C: Subject: x
C: 
C: body
C: .
M: Received: from unknown (unknown)
M:   by unknown with SMTP; DATE
M: Subject: x
M: 
M: body
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
