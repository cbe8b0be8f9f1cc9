# SPEC 5 step 1 and SPEC 7 step 1: MAIL first, RCPT first; RSET and HELO end
# the transaction; a failed MAIL leaves the old one alone.
ctl me mx.example
S: 220 mx.example ESMTP
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: DATA
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<a@b.example>
S: 250 ok
C: DATA
S: 503 RCPT first (#5.5.1)
C: RSET
S: 250 flushed
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<a@b.example>
S: 250 ok
C: HELO again
S: 250 mx.example
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<a@b.example>
S: 250 ok
C: MAIL FROM:<a@b.example>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: MAIL FROM:<bad
S: 250 ok
C: RCPT TO:<v@x.example>
S: 250 ok
C: QUIT
S: 221 mx.example
