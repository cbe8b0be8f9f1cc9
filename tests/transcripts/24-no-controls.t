# SPEC 2: neither smtpgreeting nor me: 421 and exit.
only binary
ctl rcpthosts x.example
C: QUIT
S: 421 unable to read controls (#4.3.0)
exit 1
