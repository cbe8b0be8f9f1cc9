# SPEC 5 step 3: badmailfrom is checked at RCPT, for the whole address or
# @domain; MAIL itself is accepted.
ctl me mx.example
ctl badmailfrom spammer@bad.example\n@worse.example
C: MAIL FROM:<SPAMMER@bad.EXAMPLE>
C: RCPT TO:<u@x.example>
C: RCPT TO:<@foo>
C: MAIL FROM:<anyone@Worse.Example>
C: RCPT TO:<u@x.example>
C: MAIL FROM:<other@bad.example>
C: RCPT TO:<u@x.example>
C: MAIL FROM:<x@sub.worse.example>
C: RCPT TO:<u@x.example>
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
S: 250 ok
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
S: 250 ok
S: 250 ok
S: 250 ok
S: 250 ok
S: 221 mx.example
