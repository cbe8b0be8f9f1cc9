# RFC 6531: EHLO offers SMTPUTF8. A MAIL with the SMTPUTF8 parameter marks
# its transaction: UTF-8 addresses and headers pass unchanged, the Received
# protocol reads UTF8SMTP, and an address that is not UTF-8 is refused
# (553, the MAIL not accepted). Without the parameter any bytes are taken
# and the header says SMTP, as netqmail.
ctl me mx.example
ctl rcpthosts x.example
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250 8BITMIME
C: MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.example> smtputf8 BODY=8BITMIME
S: 250 ok
C: RCPT TO:<\xc3\xa9t\xc3\xa9@x.example>
S: 250 ok
C: RCPT TO:<bad\xe9@x.example>
S: 553 sorry, that recipient address is not valid UTF-8 (#5.1.3)
C: DATA
S: 354 go ahead
C: Subject: caf\xc3\xa9
C: 
C: 20 \xe2\x82\xac
C: .
M: Received: from unknown (HELO client.example) (unknown)
M:   by unknown with UTF8SMTP; DATE
M: Subject: caf\xc3\xa9
M: 
M: 20 \xe2\x82\xac
E: Fj\xc3\xb6rg@b\xc3\xbccher.example
E: T\xc3\xa9t\xc3\xa9@x.example
S: 250 ok TIME qp PID
C: MAIL FROM:<j\xf6rg@b.example> SMTPUTF8
S: 553 sorry, that sender address is not valid UTF-8 (#5.1.7)
C: RCPT TO:<a@x.example>
S: 503 MAIL first (#5.5.1)
C: MAIL FROM:<j\xf6rg@b.example>
S: 250 ok
C: RCPT TO:<bad\xe9@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: latin-1 \xe9
C: .
M: Received: from unknown (HELO client.example) (unknown)
M:   by unknown with SMTP; DATE
M: latin-1 \xe9
E: Fj\xf6rg@b.example
E: Tbad\xe9@x.example
S: 250 ok TIME qp PID
C: QUIT
S: 221 mx.example
