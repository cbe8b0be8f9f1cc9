# SPEC 7 step 2: qmail-queue cannot be started (pipe or fork failure): 451,
# and the transaction is over. (netqmail answers an exec failure later, as
# exit 120: see queue_exits.rs.)
only inprocess
ctl me mx.example
queue unstartable
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
L: unable to start qmail-queue: fork failed
S: 451 qqt failure (#4.3.0)
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: QUIT
S: 221 mx.example
