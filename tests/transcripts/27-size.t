# RFC 1870: with databytes set, EHLO advertises SIZE (before the last line,
# so netqmail's final 250 8BITMIME stays); MAIL ... SIZE=N over the limit is
# refused at MAIL and the MAIL is not accepted; at the limit it is accepted.
# Other parameters stay ignored, and SIZE= with no number is ignored too.
ctl me mx.example
ctl databytes 100
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250-SIZE 100
S: 250 8BITMIME
C: MAIL FROM:<a@b> SIZE=101 BODY=8BITMIME
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
C: RCPT TO:<u@x.example>
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<a@b> BODY=8BITMIME SIZE=100
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: small
C: .
M: Received: from unknown (HELO client.example) (unknown)
M:   by unknown with SMTP; DATE
M: small
E: Fa@b
E: Tu@x.example
S: 250 ok TIME qp PID
C: MAIL FROM:<a@b> size=99999999999999999999999
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
C: MAIL FROM:<a@b> SIZE=junk
S: 250 ok
C: MAIL FROM: a@b SIZE=101
S: 552 sorry, that message size exceeds my databytes limit (#5.3.4)
C: QUIT
S: 221 mx.example
