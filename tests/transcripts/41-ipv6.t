# IPv6: the address as Debian's ucspi-tcp-ipv6 sets it for a native IPv6
# client goes into the Received header and the realrcptto line; an
# [IPv6:...] literal of one of our own addresses becomes localiphost as
# [127.0.0.1] does (the IPv4-mapped form is the IPv4 address); malformed
# or foreign literals stay as they are, for rcpthosts to refuse.
ctl me mx.example
ctl localiphost lit.example
ctl rcpthosts lit.example\nnobody.example
env PROTO=TCP6
env TCPREMOTEIP=2001:db8::7
env TCP6REMOTEIP=2001:db8::7
env TCPLOCALIP=2001:db8::25
env TCP6LOCALIP=2001:db8::25
S: 220 mx.example ESMTP
C: HELO client.example
S: 250 mx.example
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@[IPv6:::1]>
S: 250 ok
C: RCPT TO:<v@[ipv6:0:0:0:0:0:ffff:127.0.0.1]>
S: 250 ok
C: RCPT TO:<z@[IPv6:::]>
S: 250 ok
C: RCPT TO:<w@[IPv6:2001:db8::99]>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<x@[IPv6:::1%lo]>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<y@[IPv6:::1>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<joe@nobody.example>
L: realrcptto PID 2001:db8::7 joe@nobody.example
S: 550 sorry, no mailbox here by that name. (#5.1.1)
C: DATA
S: 354 go ahead
C: hi
C: .
M: Received: from unknown (HELO client.example) (2001:db8::7)
M:   by 2001:db8::25 with SMTP; DATE
M: hi
E: Fa@b
E: Tu@lit.example
E: Tv@lit.example
E: Tz@lit.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
