# A NUL ends the command line, as in qmail's C string handling.
ctl me mx.example
C: MAIL FROM:<a@b>\0junk
C: RCPT TO:<u@x.example\0>
C: NO\0OP
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 502 unimplemented (#5.5.1)
S: 221 mx.example
