# SPEC 5 step 4: rcpthosts, dot-suffixes, case, no-@ addresses, relay tricks.
ctl me mx.example
# addresses without @ are local (envnoathost); keep them out of the check
env NOREALRCPTTO=1
ctl rcpthosts example.com\n.sub.example\n# comment\n\nUPPER.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@example.com>
C: RCPT TO:<u@EXAMPLE.COM>
C: RCPT TO:<u@upper.EXAMPLE>
C: RCPT TO:<u@deep.a.sub.example>
C: RCPT TO:<u@sub.example>
C: RCPT TO:<u@x.example.com>
C: RCPT TO:<u@example.com.>
C: RCPT TO:<postmaster>
C: RCPT TO:<u%evil.example@example.com>
C: RCPT TO:<u@example.com@evil.example>
C: RCPT TO:<u@evil.example@example.com>
C: RCPT TO:<evil.example!u@example.com>
C: RCPT TO:<u@[192.0.2.1]>
C: RCPT TO:<u@>
C: RCPT TO:<u@# comment>
C: RCPT TO:<@example.com:u@evil.example>
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 250 ok
S: 250 ok
S: 250 ok
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 250 ok
S: 250 ok
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 250 ok
S: 250 ok
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
S: 221 mx.example
