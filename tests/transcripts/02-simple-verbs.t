# SPEC 3: RSET, NOOP, VRFY, HELP, unknown verbs; verbs are case-insensitive,
# a verb ends at the first space (not a tab), one trailing CR is removed.
ctl me mx.example
C: RSET
C: noop
C: NOOP with arguments
C: VRFY postmaster
C: HELP
C: EXPN list
C: STARTTLS
C: AUTH LOGIN
C: 
C:  NOOP
C: NOOP\tx
C> NOOP\r\r\n
C> NOOP\n
C: QUIT trailing words
S: 220 mx.example ESMTP
S: 250 flushed
S: 250 ok
S: 250 ok
S: 252 send some mail, i'll try my best
S: 214 qmail-smtpd (Rust, with realrcptto) home page: https://github.com/qmail-realrcptto/qmail-smtpd
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 502 unimplemented (#5.5.1)
S: 250 ok
S: 221 mx.example
