# AUTH configured, no FORCETLS=0: in plain text it is not offered, and
# AUTH is refused with 538 until STARTTLS.
ctl me mx.example
ctl servercert.pem x
args HOME/bin/checkpassword /bin/true
env SMTPAUTH=+cram
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-STARTTLS
S: 250 8BITMIME
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: 538 auth not available without TLS (#5.3.3)
C: AUTH CRAM-MD5
S: 538 auth not available without TLS (#5.3.3)
C: QUIT
S: 221 mx.example
