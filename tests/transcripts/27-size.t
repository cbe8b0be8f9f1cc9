# RFC 1870: with databytes set, EHLO advertises SIZE (before the last line,
# so netqmail's final 250 8BITMIME stays); MAIL ... SIZE=N over the limit is
# refused at MAIL and the MAIL is not accepted; at the limit it is accepted.
# Other parameters stay ignored, and SIZE= with no number is ignored too.
ctl me mx.example
ctl databytes 100
C: EHLO client.example
C: MAIL FROM:<a@b> SIZE=101 BODY=8BITMIME
C: RCPT TO:<u@x.example>
C: MAIL FROM:<a@b> BODY=8BITMIME SIZE=100
C: RCPT TO:<u@x.example>
C: DATA
C: small
C: .
C: MAIL FROM:<a@b> size=99999999999999999999999
C: MAIL FROM:<a@b> SIZE=junk
C: MAIL FROM: a@b SIZE=101
C: QUIT
S: 220 mx.example ESMTP
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 100
S: 250 8BITMIME
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
S: 503 MAIL first (#5.5.1)
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
S: 250 ok
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
S: 221 mx.example
