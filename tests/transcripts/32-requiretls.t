# REQUIRETLS: in plain text MAIL is refused until STARTTLS (so RCPT gets
# 503); everything else works.
ctl me mx.example
ctl servercert.pem x
env REQUIRETLS=1
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-STARTTLS
S: 250 8BITMIME
C: MAIL FROM:<a@b>
S: 530 Must issue a STARTTLS command first (#5.7.0)
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: NOOP
S: 250 ok
C: QUIT
S: 221 mx.example
