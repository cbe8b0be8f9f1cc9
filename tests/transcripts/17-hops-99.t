# SPEC 7 step 4: 99 hops are fine.
ctl me mx.example
C: MAIL FROM:<a@b>
C: RCPT TO:<u@x.example>
C: DATA
C: RECEIVED: from hop1
C: RECEIVED: from hop2
C: RECEIVED: from hop3
C: RECEIVED: from hop4
C: RECEIVED: from hop5
C: RECEIVED: from hop6
C: RECEIVED: from hop7
C: RECEIVED: from hop8
C: RECEIVED: from hop9
C: RECEIVED: from hop10
C: RECEIVED: from hop11
C: RECEIVED: from hop12
C: RECEIVED: from hop13
C: RECEIVED: from hop14
C: RECEIVED: from hop15
C: RECEIVED: from hop16
C: RECEIVED: from hop17
C: RECEIVED: from hop18
C: RECEIVED: from hop19
C: RECEIVED: from hop20
C: RECEIVED: from hop21
C: RECEIVED: from hop22
C: RECEIVED: from hop23
C: RECEIVED: from hop24
C: RECEIVED: from hop25
C: RECEIVED: from hop26
C: RECEIVED: from hop27
C: RECEIVED: from hop28
C: RECEIVED: from hop29
C: RECEIVED: from hop30
C: RECEIVED: from hop31
C: RECEIVED: from hop32
C: RECEIVED: from hop33
C: RECEIVED: from hop34
C: RECEIVED: from hop35
C: RECEIVED: from hop36
C: RECEIVED: from hop37
C: RECEIVED: from hop38
C: RECEIVED: from hop39
C: RECEIVED: from hop40
C: RECEIVED: from hop41
C: RECEIVED: from hop42
C: RECEIVED: from hop43
C: RECEIVED: from hop44
C: RECEIVED: from hop45
C: RECEIVED: from hop46
C: RECEIVED: from hop47
C: RECEIVED: from hop48
C: RECEIVED: from hop49
C: RECEIVED: from hop50
C: RECEIVED: from hop51
C: RECEIVED: from hop52
C: RECEIVED: from hop53
C: RECEIVED: from hop54
C: RECEIVED: from hop55
C: RECEIVED: from hop56
C: RECEIVED: from hop57
C: RECEIVED: from hop58
C: RECEIVED: from hop59
C: RECEIVED: from hop60
C: RECEIVED: from hop61
C: RECEIVED: from hop62
C: RECEIVED: from hop63
C: RECEIVED: from hop64
C: RECEIVED: from hop65
C: RECEIVED: from hop66
C: RECEIVED: from hop67
C: RECEIVED: from hop68
C: RECEIVED: from hop69
C: RECEIVED: from hop70
C: RECEIVED: from hop71
C: RECEIVED: from hop72
C: RECEIVED: from hop73
C: RECEIVED: from hop74
C: RECEIVED: from hop75
C: RECEIVED: from hop76
C: RECEIVED: from hop77
C: RECEIVED: from hop78
C: RECEIVED: from hop79
C: RECEIVED: from hop80
C: RECEIVED: from hop81
C: RECEIVED: from hop82
C: RECEIVED: from hop83
C: RECEIVED: from hop84
C: RECEIVED: from hop85
C: RECEIVED: from hop86
C: RECEIVED: from hop87
C: RECEIVED: from hop88
C: RECEIVED: from hop89
C: RECEIVED: from hop90
C: RECEIVED: from hop91
C: RECEIVED: from hop92
C: RECEIVED: from hop93
C: RECEIVED: from hop94
C: RECEIVED: from hop95
C: RECEIVED: from hop96
C: RECEIVED: from hop97
C: RECEIVED: from hop98
C: RECEIVED: from hop99
C: 
C: Received: in the body does not count
C: .
C: QUIT
S: 220 mx.example ESMTP
S: 250 ok
S: 250 ok
S: 354 go ahead
S: 250 ok TIME qp PID
S: 221 mx.example
