# SPEC 7 step 2: qmail-queue cannot be started (pipe or fork failure): 451,
# and the transaction is over. (netqmail answers an exec failure later, as
# exit 120: see queue_exits.rs.)
only inprocess
ctl me mx.example
queue unstartable
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: RCPT TO:<u@x.example>
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 451 qqt failure (#4.3.0)
S: 503 MAIL first (#5.5.1)
S: 221 mx.example
