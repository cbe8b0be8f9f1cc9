# SPEC 7 step 3: a bare CR is refused (after the end marker), the session goes
# on; <CR>.<CR> does not end the message.
ctl me mx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C> a\r.\rMAIL FROM:<evil@x>\r\n.\r\n
E: -
S: 554 sorry, message contains a bare CR, which I refuse (#5.6.2)
C: NOOP
S: 250 ok
C: QUIT
S: 221 mx.example
