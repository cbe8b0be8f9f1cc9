# SPEC 5 step 3: badmailfrom is checked at RCPT, for the whole address or
# @domain; MAIL itself is accepted.
ctl me mx.example
ctl badmailfrom spammer@bad.example\n@worse.example
S: 220 mx.example ESMTP
C: MAIL FROM:<SPAMMER@bad.EXAMPLE>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
C: RCPT TO:<@foo>
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
C: MAIL FROM:<anyone@Worse.Example>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
C: MAIL FROM:<other@bad.example>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: MAIL FROM:<x@sub.worse.example>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: QUIT
S: 221 mx.example
