# Our limit on unknown recipients per connection (dictionary attacks).
ctl me mx.example
ctl rcpthosts nobody.example
env MAXUNKNOWNRCPT=2
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<a@nobody.example>
L: realrcptto PID  a@nobody.example
S: 550 sorry, no mailbox here by that name. (#5.1.1)
C: RCPT TO:<b@nobody.example>
L: realrcptto PID  b@nobody.example
S: 550 sorry, no mailbox here by that name. (#5.1.1)
C: RCPT TO:<c@nobody.example>
L: realrcptto PID  c@nobody.example
S: 421 too many unknown recipients, closing connection (#4.7.0)
C: NOOP
exit 1
