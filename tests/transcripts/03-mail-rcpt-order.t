# SPEC 5 step 1 and SPEC 7 step 1: MAIL first, RCPT first; RSET and HELO end
# the transaction; a failed MAIL leaves the old one alone.
ctl me mx.example
C: RCPT TO:<u@x.example>
C: DATA
C: MAIL FROM:<a@b.example>
C: DATA
C: RSET
C: RCPT TO:<u@x.example>
C: MAIL FROM:<a@b.example>
C: HELO again
C: RCPT TO:<u@x.example>
C: MAIL FROM:<a@b.example>
C: MAIL FROM:<a@b.example>
C: RCPT TO:<u@x.example>
C: MAIL FROM:<bad
C: RCPT TO:<v@x.example>
C: QUIT
S: 220 mx.example ESMTP
S: 503 MAIL first (#5.5.1)
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 503 RCPT first (#5.5.1)
S: 250 flushed
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 250 mx.example
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 250 ok
S: 250 ok
S: 250 ok
S: 250 ok
S: 221 mx.example
