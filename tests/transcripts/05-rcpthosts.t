# SPEC 5 step 4: rcpthosts, dot-suffixes, case, no-@ addresses, relay tricks.
ctl me mx.example
# addresses without @ are local (envnoathost); keep them out of the check
env NOREALRCPTTO=1
ctl rcpthosts example.com\n.sub.example\n# comment\n\nUPPER.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@example.com>
S: 250 ok
C: RCPT TO:<u@EXAMPLE.COM>
S: 250 ok
C: RCPT TO:<u@upper.EXAMPLE>
S: 250 ok
C: RCPT TO:<u@deep.a.sub.example>
S: 250 ok
C: RCPT TO:<u@sub.example>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<u@x.example.com>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<u@example.com.>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<postmaster>
S: 250 ok
C: RCPT TO:<u%evil.example@example.com>
S: 250 ok
C: RCPT TO:<u@example.com@evil.example>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<u@evil.example@example.com>
S: 250 ok
C: RCPT TO:<evil.example!u@example.com>
S: 250 ok
C: RCPT TO:<u@[192.0.2.1]>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<u@>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<u@# comment>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<@example.com:u@evil.example>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: QUIT
S: 221 mx.example
