# SPEC 1: EOF without QUIT: exit 1, no reply.
ctl me mx.example
C: NOOP
S: 220 mx.example ESMTP
S: 250 ok
exit 1
