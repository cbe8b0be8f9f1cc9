# SPEC 7 step 3: a bare LF in the data is fatal.
ctl me mx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C> line one\nline two\r\n.\r\nQUIT\r\n
S: 451 See https://cr.yp.to/docs/smtplf.html.
E: -
exit 1
