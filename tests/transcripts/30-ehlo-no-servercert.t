# Without control/servercert.pem: no STARTTLS line, and STARTTLS is an
# unknown command, as in netqmail. With databytes, SIZE comes after
# STARTTLS's place, still before the last line.
ctl me mx.example
ctl databytes 1000
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-SIZE 1000
S: 250 8BITMIME
C: STARTTLS
S: 502 unimplemented (#5.5.1)
C: QUIT
S: 221 mx.example
