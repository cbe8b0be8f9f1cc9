# SPEC 7 step 3: a bare LF in the data is fatal.
ctl me mx.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C> line one\nline two\r\n.\r\nQUIT\r\n
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 451 See https://cr.yp.to/docs/smtplf.html.
exit 1
