# AUTH's refusals, each with sagredo's text: no or an unknown mechanism,
# one not offered, base64 garbage, `=` (empty) for PLAIN, `*` cancels,
# an empty line, AUTH inside a transaction, checkpassword's exit 111
# (temporary, not counted), and MAXAUTHFAILED refused passwords: the last
# is answered 421 and the connection closed.
ctl me mx.example
ctl rcpthosts example.com
args HOME/bin/checkpassword /bin/true
env SMTPAUTH=
env FORCETLS=0
env AUTHFAILDELAY=0
env MAXAUTHFAILED=2
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-AUTH LOGIN PLAIN
S: 250 8BITMIME
C: AUTH
S: 504 auth type invalid (#5.5.1)
C: AUTH XOAUTH2
S: 504 auth type invalid (#5.5.1)
C: AUTH CRAM-MD5
S: 504 auth type invalid (#5.5.1)
C: AUTH PLAIN !!!!
S: 501 malformed auth input (#5.5.4)
C: AUTH PLAIN YWxpY2U
S: 501 malformed auth input (#5.5.4)
C: AUTH PLAIN =
S: 501 malformed auth input (#5.5.4)
C: AUTH PLAIN
S: 334 
C: *
S: 501 auth exchange canceled (#5.0.0)
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: *
S: 501 auth exchange canceled (#5.0.0)
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: 
S: 501 malformed auth input (#5.5.4)
C: MAIL FROM:<a@b>
S: 250 ok
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: 503 no auth during mail transaction (#5.5.0)
C: RSET
S: 250 flushed
C: AUTH PLAIN AHRlbXAAeA==
L: auth: auth-error ip=unknown type=plain user=<temp> (checkpassword exited 111)
S: 454 oops, problem with child and I can't auth (#4.3.0)
C: AUTH PLAIN AGJvYgBzZWNyZXQ=
L: auth: auth-failed ip=unknown type=plain user=<bob>
S: 535 authentication failed (#5.7.1)
C: AUTH LOGIN YWxpY2U=
S: 334 UGFzc3dvcmQ6
C: d3Jvbmc=
L: auth: auth-failed ip=unknown type=login user=<alice>
S: 421 too many failed authentications, closing connection (#4.7.0)
C: NOOP
