# SPEC 3: greeting, HELO, EHLO, QUIT; smtpgreeting overrides me.
ctl me mx.example
ctl smtpgreeting Welcome to mx.example
C: HELO client.example
C: EHLO client.example
C: ehlo
C: QUIT
S: 220 Welcome to mx.example ESMTP
S: 250 Welcome to mx.example
S: 250-Welcome to mx.example
S: 250-PIPELINING
S: 250 8BITMIME
S: 250-Welcome to mx.example
S: 250-PIPELINING
S: 250 8BITMIME
S: 221 Welcome to mx.example
