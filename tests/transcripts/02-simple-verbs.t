# SPEC 3: RSET, NOOP, VRFY, HELP, unknown verbs; verbs are case-insensitive,
# a verb ends at the first space (not a tab), one trailing CR is removed.
ctl me mx.example
S: 220 mx.example ESMTP
C: RSET
S: 250 flushed
C: noop
S: 250 ok
C: NOOP with arguments
S: 250 ok
C: VRFY postmaster
S: 252 send some mail, i'll try my best
C: HELP
S: 214 qmail-smtpd (Rust, with realrcptto) home page: https://github.com/qmail-realrcptto/qmail-smtpd
C: EXPN list
S: 502 unimplemented (#5.5.1)
C: STARTTLS
S: 502 unimplemented (#5.5.1)
C: AUTH LOGIN
S: 502 unimplemented (#5.5.1)
C: 
S: 502 unimplemented (#5.5.1)
C:  NOOP
S: 502 unimplemented (#5.5.1)
C: NOOP\tx
S: 502 unimplemented (#5.5.1)
C> NOOP\r\r\n
S: 502 unimplemented (#5.5.1)
C> NOOP\n
S: 250 ok
C: QUIT trailing words
S: 221 mx.example
