# Krzysztof Dabrowski's form: HOSTNAME CHECKPROGRAM SUBPROGRAM, no
# SMTPAUTH: LOGIN, PLAIN and CRAM-MD5 offered, with his AUTH= line.
ctl me mx.example
args mx.example HOME/bin/checkpassword /bin/true
env FORCETLS=0
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-AUTH LOGIN CRAM-MD5 PLAIN
S: 250-AUTH=LOGIN CRAM-MD5 PLAIN
S: 250 8BITMIME
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
L: auth: auth-success ip=unknown type=plain user=<alice>
S: 235 ok, go ahead (#2.0.0)
C: QUIT
S: 221 mx.example
