# DISABLETLS (from tcprules, per client): no STARTTLS offered or accepted,
# although control/servercert.pem exists. DISABLETLS=0 is off.
ctl me mx.example
ctl servercert.pem x
ctl databytes 1000
env DISABLETLS=1
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
