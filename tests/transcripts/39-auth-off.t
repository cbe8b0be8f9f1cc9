# AUTH off: arguments but SMTPAUTH=- (or no arguments at all, as in every
# other transcript): AUTH is unknown (502) and EHLO is netqmail's.
ctl me mx.example
args HOME/bin/checkpassword /bin/true
env SMTPAUTH=-
env FORCETLS=0
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250 8BITMIME
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: 502 unimplemented (#5.5.1)
C: QUIT
S: 221 mx.example
