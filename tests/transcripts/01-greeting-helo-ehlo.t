# SPEC 3: greeting, HELO, EHLO, QUIT; smtpgreeting overrides me.
ctl me mx.example
ctl smtpgreeting Welcome to mx.example
S: 220 Welcome to mx.example ESMTP
C: HELO client.example
S: 250 Welcome to mx.example
C: EHLO client.example
S: 250-Welcome to mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250 8BITMIME
C: ehlo
S: 250-Welcome to mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250 8BITMIME
C: QUIT
S: 221 Welcome to mx.example
