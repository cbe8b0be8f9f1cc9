# SPEC 4: [127.0.0.1] names this host, so it becomes localiphost and is then
# subject to rcpthosts like any name.
ctl me mx.example
ctl localiphost local.example
ctl rcpthosts local.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@[127.0.0.1]>
S: 250 ok
C: RCPT TO:<u@[192.0.2.55]>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: QUIT
S: 221 mx.example
