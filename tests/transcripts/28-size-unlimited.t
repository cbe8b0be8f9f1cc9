# databytes 0 (unlimited): no SIZE line, and any declared SIZE is accepted.
ctl me mx.example
ctl databytes 0
C: EHLO client.example
C: MAIL FROM:<a@b> SIZE=99999999999
C: QUIT
S: 220 mx.example ESMTP
S: 250-mx.example
S: 250-PIPELINING
S: 250 8BITMIME
S: 250 ok
S: 221 mx.example
