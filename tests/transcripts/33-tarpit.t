# The tarpit patch: from the tarpitcount-th accepted recipient of a
# transaction on, each 250 waits tarpitdelay seconds (the reply comes after
# the pause); refused recipients do not count, and MAIL starts afresh.
ctl me mx.example
ctl rcpthosts x.example
ctl tarpitcount 2
env TARPITDELAY=1
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: RCPT TO:<u@elsewhere.example>
S: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)
C: RCPT TO:<v@x.example>
P: 1
S: 250 ok
C: RCPT TO:<w@x.example>
P: 1
S: 250 ok
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: QUIT
S: 221 mx.example
