# SPEC 7 step 4: 100 Received/Delivered header lines are a loop.
ctl me mx.example
S: 220 mx.example ESMTP
C: MAIL FROM:<a@b>
S: 250 ok
C: RCPT TO:<u@x.example>
S: 250 ok
C: DATA
S: 354 go ahead
C: Received: from hop1
C: Received: from hop2
C: Received: from hop3
C: Received: from hop4
C: Received: from hop5
C: Received: from hop6
C: Received: from hop7
C: Received: from hop8
C: Received: from hop9
C: Received: from hop10
C: Received: from hop11
C: Received: from hop12
C: Received: from hop13
C: Received: from hop14
C: Received: from hop15
C: Received: from hop16
C: Received: from hop17
C: Received: from hop18
C: Received: from hop19
C: Received: from hop20
C: Received: from hop21
C: Received: from hop22
C: Received: from hop23
C: Received: from hop24
C: Received: from hop25
C: Received: from hop26
C: Received: from hop27
C: Received: from hop28
C: Received: from hop29
C: Received: from hop30
C: Received: from hop31
C: Received: from hop32
C: Received: from hop33
C: Received: from hop34
C: Received: from hop35
C: Received: from hop36
C: Received: from hop37
C: Received: from hop38
C: Received: from hop39
C: Received: from hop40
C: Received: from hop41
C: Received: from hop42
C: Received: from hop43
C: Received: from hop44
C: Received: from hop45
C: Received: from hop46
C: Received: from hop47
C: Received: from hop48
C: Received: from hop49
C: Received: from hop50
C: Delivered-To: hop1
C: Delivered-To: hop2
C: Delivered-To: hop3
C: Delivered-To: hop4
C: Delivered-To: hop5
C: Delivered-To: hop6
C: Delivered-To: hop7
C: Delivered-To: hop8
C: Delivered-To: hop9
C: Delivered-To: hop10
C: Delivered-To: hop11
C: Delivered-To: hop12
C: Delivered-To: hop13
C: Delivered-To: hop14
C: Delivered-To: hop15
C: Delivered-To: hop16
C: Delivered-To: hop17
C: Delivered-To: hop18
C: Delivered-To: hop19
C: Delivered-To: hop20
C: Delivered-To: hop21
C: Delivered-To: hop22
C: Delivered-To: hop23
C: Delivered-To: hop24
C: Delivered-To: hop25
C: Delivered-To: hop26
C: Delivered-To: hop27
C: Delivered-To: hop28
C: Delivered-To: hop29
C: Delivered-To: hop30
C: Delivered-To: hop31
C: Delivered-To: hop32
C: Delivered-To: hop33
C: Delivered-To: hop34
C: Delivered-To: hop35
C: Delivered-To: hop36
C: Delivered-To: hop37
C: Delivered-To: hop38
C: Delivered-To: hop39
C: Delivered-To: hop40
C: Delivered-To: hop41
C: Delivered-To: hop42
C: Delivered-To: hop43
C: Delivered-To: hop44
C: Delivered-To: hop45
C: Delivered-To: hop46
C: Delivered-To: hop47
C: Delivered-To: hop48
C: Delivered-To: hop49
C: received-spf: pass
C: 
C: Received: in the body does not count
C: .
E: -
S: 554 too many hops, this message is looping (#5.4.6)
C: QUIT
S: 221 mx.example
