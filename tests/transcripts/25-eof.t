# SPEC 1: EOF without QUIT: exit 1, no reply.
ctl me mx.example
S: 220 mx.example ESMTP
C: NOOP
S: 250 ok
exit 1
