# SMTP AUTH, Erwin Hoffmann's form (sagredo's qmail): CHECKPROGRAM
# SUBPROGRAM with SMTPAUTH set; FORCETLS=0 allows it without TLS. A
# refused password waits AUTHFAILDELAY; after LOGIN succeeds relaying is
# allowed, the Received header says ESMTPA with the user, and qmail-queue
# gets the variables sagredo's sets.
ctl me mx.example
ctl rcpthosts example.com
args HOME/bin/checkpassword /bin/true
env SMTPAUTH=
env FORCETLS=0
env AUTHFAILDELAY=1
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-AUTH LOGIN PLAIN
S: 250 8BITMIME
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<x@remote.example>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RSET
S: 250 flushed
C: AUTH PLAIN AGFsaWNlAHdyb25n
L: auth: auth-failed ip=unknown type=plain user=<alice>
P: 1
S: 535 authentication failed (#5.7.1)
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: YWxpY2U=
S: 334 UGFzc3dvcmQ6
C: c2VjcmV0
L: auth: auth-success ip=unknown type=login user=<alice>
S: 235 ok, go ahead (#2.0.0)
C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
S: 503 you're already authenticated (#5.5.0)
C: MAIL FROM:<alice@example.com>
S: 250 ok
C: RCPT TO:<x@remote.example>
S: 250 ok
C: DATA
Q: SMTPAUTHMETHOD=login
Q: TCPREMOTEINFO=alice
Q: RELAYCLIENT=
Q: SMTPAUTHUSER=alice
Q: SMTP_AUTH_USER=alice
S: 354 go ahead
C: Subject: hi
C: 
C: sent
C: .
M: Received: from unknown (HELO client.example) (alice@unknown)
M:   by unknown with ESMTPA; DATE
M: Subject: hi
M: 
M: sent
E: Falice@example.com
E: Tx@remote.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
