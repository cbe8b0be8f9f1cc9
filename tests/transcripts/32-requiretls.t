# REQUIRETLS: in plain text MAIL is refused until STARTTLS (so RCPT gets
# 503); everything else works.
ctl me mx.example
ctl servercert.pem x
env REQUIRETLS=1
C: EHLO client.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: NOOP
C: QUIT
S: 220 mx.example ESMTP
S: 250-mx.example
S: 250-PIPELINING
S: 250-STARTTLS
S: 250 8BITMIME
S: 530 Must issue a STARTTLS command first (#5.7.0)
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 221 mx.example
