# SMTPAUTH=! (submission): MAIL is refused until AUTH (sagredo's 530,
# trailing space and all); FORCEAUTHMAILFROM=1: MAIL FROM must be the
# user's name. RSET keeps the authentication.
ctl me mx.example
ctl rcpthosts example.com
args HOME/bin/checkpassword /bin/true
env SMTPAUTH=!
env FORCETLS=0
env FORCEAUTHMAILFROM=1
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-AUTH LOGIN PLAIN
S: 250 8BITMIME
C: MAIL FROM:<alice>
S: 530 Authorization required (#5.7.1) 
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
L: auth: auth-success ip=unknown type=plain user=<alice>
S: 235 ok, go ahead (#2.0.0)
C: MAIL FROM:<bob@example.com>
S: 503 from and auth not the same (#5.5.1)
C: MAIL FROM:<alice>
S: 250 ok
C: RSET
S: 250 flushed
C: MAIL FROM:<alice>
S: 250 ok
C: QUIT
S: 221 mx.example
