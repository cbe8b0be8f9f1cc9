# SPEC 6: QMAILRRTDENYALL=1 answers 250 to the unknown recipient and refuses
# DATA; RSET and HELO do not reset it, MAIL does.
ctl me mx.example
ctl rcpthosts nobody.example\nx.example
env QMAILRRTDENYALL=1
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: RCPT TO:<joe@nobody.example>
C: DATA
C: RSET
C: RCPT TO:<u@x.example>
C: HELO x
C: DATA
C: MAIL FROM:<a@b>
C: RCPT TO:<joe@nobody.example>
C: DATA
C: RCPT TO:<u@x.example>
C: DATA
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 250 ok
S: 554 sorry, no mailbox here by that name. (#5.1.1)
S: 250 flushed
S: 503 MAIL first (#5.5.1)
S: 250 mx.example
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 250 ok
S: 554 sorry, no mailbox here by that name. (#5.1.1)
S: 250 ok
S: 554 sorry, no mailbox here by that name. (#5.1.1)
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
