# control/servercert.pem exists: EHLO offers STARTTLS (after PIPELINING, the
# last line unchanged). This fixture has no bin/qmail-smtpd-tls, so the
# handover fails: 454, and the plain session goes on as it was (the open
# transaction included). STARTTLS takes no parameters (501).
ctl me mx.example
ctl servercert.pem not parsed by the plain server
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-STARTTLS
S: 250 8BITMIME
C: MAIL FROM:<a@b>
S: 250 ok
C: STARTTLS now
S: 501 Syntax error (no parameters allowed) (#5.5.4)
C: STARTTLS
L: unable to exec bin/qmail-smtpd-tls: file does not exist
S: 454 TLS not available due to temporary reason (#4.3.0)
C: RCPT TO:<u@x.example>
S: 250 ok
C: QUIT
S: 221 mx.example
