# SPEC 7 step 7: qmail-queue's exit code decides the reply.
ctl me mx.example
queue 53
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 451 qq write error or disk full (#4.3.0)
S: 221 mx.example
