# Without control/servercert.pem: no STARTTLS line, and STARTTLS is an
# unknown command, as in netqmail. With databytes, SIZE comes after
# STARTTLS's place, still before the last line.
ctl me mx.example
ctl databytes 1000
C: EHLO client.example
C: STARTTLS
C: QUIT
S: 220 mx.example ESMTP
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 1000
S: 250 8BITMIME
S: 502 unimplemented (#5.5.1)
S: 221 mx.example
