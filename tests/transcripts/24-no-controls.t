# SPEC 2: neither smtpgreeting nor me: 421 and exit.
only binary
ctl rcpthosts x.example
S: 421 unable to read controls (#4.3.0)
C: QUIT
exit 1
