# SPEC 7 step 3: a bare CR is refused (after the end marker), the session goes
# on; <CR>.<CR> does not end the message.
ctl me mx.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C> a\r.\rMAIL FROM:<evil@x>\r\n.\r\n
C: NOOP
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 554 sorry, message contains a bare CR, which I refuse (#5.6.2)
S: 250 ok
S: 221 mx.example
