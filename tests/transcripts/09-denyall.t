# SPEC 6: QMAILRRTDENYALL=1 answers 250 to the unknown recipient and refuses
# DATA; RSET and HELO do not reset it, MAIL does.
ctl me mx.example
ctl rcpthosts nobody.example\nx.example
env QMAILRRTDENYALL=1
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: RCPT TO:<joe@nobody.example>
L: realrcptto PID  joe@nobody.example
S: 250 ok
C: DATA
S: 554 sorry, no mailbox here by that name. (#5.1.1)
C: RSET
S: 250 flushed
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: HELO x
S: 250 mx.example
C: DATA
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<joe@nobody.example>
L: realrcptto PID  joe@nobody.example
S: 250 ok
C: DATA
S: 554 sorry, no mailbox here by that name. (#5.1.1)
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 554 sorry, no mailbox here by that name. (#5.1.1)
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: .
M: Received: from unknown (HELO x) (unknown)
M:   by unknown with SMTP; DATE
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
