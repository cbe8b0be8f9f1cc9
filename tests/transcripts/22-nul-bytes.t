# A NUL ends the command line, as in qmail's C string handling.
ctl me mx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>\0junk
S: 250 ok
C: RCPT TO:<u@x.example\0>
S: 250 ok
C: NO\0OP
S: 502 unimplemented (#5.5.1)
C: QUIT
S: 221 mx.example
