# Our limit on unknown recipients per connection (dictionary attacks).
ctl me mx.example
ctl rcpthosts nobody.example
env MAXUNKNOWNRCPT=2
C: MAIL FROM:<a@b>
C: RCPT TO:<a@nobody.example>
C: RCPT TO:<b@nobody.example>
C: RCPT TO:<c@nobody.example>
C: NOOP
S: 220 mx.example ESMTP
S: 250 ok
S: 550 sorry, no mailbox here by that name. (#5.1.1)
S: 550 sorry, no mailbox here by that name. (#5.1.1)
S: 421 too many unknown recipients, closing connection (#4.7.0)
exit 1
