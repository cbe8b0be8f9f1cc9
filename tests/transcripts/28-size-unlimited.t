# databytes 0 (unlimited): no SIZE line, and any declared SIZE is accepted.
ctl me mx.example
ctl databytes 0
S: 220 mx.example ESMTP
C: EHLO client.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SMTPUTF8
S: 250 8BITMIME
C: MAIL FROM:<a@b> SIZE=99999999999
S: 250 ok
C: QUIT
S: 221 mx.example
