#!/bin/sh
# Builds netqmail-1.06's qmail-smtpd for the benchmark's optional C column:
#
#   benches/build-c-qmail-smtpd.sh NETQMAIL_SRC [REALRCPTTO_C] [OUTDIR]
#   BENCH_C_SMTPD=OUTDIR/qmail-smtpd cargo bench --bench smtpd
#
# NETQMAIL_SRC is an unpacked netqmail-1.06 tree (for example
# `git archive netqmail-1.06` of github.com/notqmail/notqmail); it is
# copied, never changed. REALRCPTTO_C is realrcptto.c from Paul Jarc's
# realrcptto patch; without it the C column's RCPT rows measure nothing.
# OUTDIR defaults to a new directory under /tmp. Nothing is installed.
#
# Changes made to the copy, all for the benchmark's fixtures:
# - qmail-smtpd and qmail_open chdir to $QMAILHOME when it is set (netqmail
#   always uses the compiled-in /var/qmail);
# - with REALRCPTTO_C: the patch's hooks (init in setup, start in MAIL, the
#   check after rcpthosts with the patch's 550 reply, its die_cdb/die_sys),
#   and NOREALRCPTTO=1 switches the check off, as in the Rust server.
set -eu

src=${1:?usage: $0 NETQMAIL_SRC [REALRCPTTO_C] [OUTDIR]}
rrt=${2:-}
out=${3:-$(mktemp -d /tmp/netqmail-bench.XXXXXX)}
[ -f "$src/qmail-smtpd.c" ] || { echo "$src: no qmail-smtpd.c" >&2; exit 1; }
mkdir -p "$out"
cp -R "$src"/. "$out"/
cd "$out"

# Old K&R C: a modern gcc needs the old dialect and no new errors.
echo 'gcc -O2 -std=gnu89 -w -Wno-error=implicit-function-declaration -Wno-error=implicit-int -Wno-error=incompatible-pointer-types -Wno-error=int-conversion' > conf-cc

python3 - "$rrt" <<'EOF'
import sys
rrt = sys.argv[1]
def edit(path, pairs):
    s = open(path).read()
    for old, new in pairs:
        if old not in s:
            sys.exit(f"{path}: expected text not found: {old!r}")
        s = s.replace(old, new, 1)
    open(path, "w").write(s)

edit("qmail.c", [("      if (chdir(auto_qmail) == -1) _exit(61);",
                  '      { char *h = env_get("QMAILHOME"); if (chdir(h ? h : auto_qmail) == -1) _exit(61); }')])
pairs = [("  if (chdir(auto_qmail) == -1) die_control();",
          '  { char *h = env_get("QMAILHOME"); if (chdir(h ? h : auto_qmail) == -1) die_control(); }')]
if rrt:
    pairs += [
        ("void die_ipme()",
         'void die_cdb() { out("421 unable to read cdb user database (#4.3.0)\\r\\n"); flush(); _exit(1); }\n'
         'void die_sys() { out("421 unable to read system user database (#4.3.0)\\r\\n"); flush(); _exit(1); }\n'
         "void die_ipme()"),
        ("void setup()", "int norrt;\nvoid setup()"),
        ("  if (rcpthosts_init() == -1) die_control();",
         '  if (rcpthosts_init() == -1) die_control();\n  realrcptto_init();\n  norrt = env_get("NOREALRCPTTO") != 0;'),
        ("  flagbarf = bmfcheck();\n", "  flagbarf = bmfcheck();\n  realrcptto_start();\n"),
        ("    if (!addrallowed()) { err_nogateway(); return; }\n",
         "    if (!addrallowed()) { err_nogateway(); return; }\n"
         '  if (!norrt && !realrcptto(addr.s)) { out("550 sorry, no mailbox here by that name. (#5.1.1)\\r\\n"); return; }\n'),
        # QMAILRRTDENYALL: DATA refused after the 503 checks, the
        # transaction left open (SPEC 6 and 7).
        ("  if (!rcptto.len) { err_wantrcpt(); return; }\n",
         "  if (!rcptto.len) { err_wantrcpt(); return; }\n"
         '  if (!norrt && realrcptto_deny()) { out("554 sorry, no mailbox here by that name. (#5.1.1)\\r\\n"); return; }\n'),
    ]
edit("qmail-smtpd.c", pairs)
EOF

make qmail-smtpd.o qmail.o rcpthosts.o commands.o timeoutread.o timeoutwrite.o \
  ip.o ipme.o ipalloc.o control.o constmap.o received.o date822fmt.o now.o \
  cdb.a fd.a wait.a datetime.a getln.a open.a sig.a case.a env.a stralloc.a \
  alloc.a substdio.a error.a str.a fs.a auto_qmail.o auto_break.o auto_usera.o \
  socket.lib load >build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
extra=
if [ -n "$rrt" ]; then
  cp "$rrt" realrcptto.c
  ./compile realrcptto.c >>build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
  extra="realrcptto.o auto_break.o auto_usera.o"
fi
# shellcheck disable=SC2086
./load qmail-smtpd $extra rcpthosts.o commands.o timeoutread.o \
  timeoutwrite.o ip.o ipme.o ipalloc.o control.o constmap.o received.o \
  date822fmt.o now.o qmail.o cdb.a fd.a wait.a datetime.a getln.a open.a \
  sig.a case.a env.a stralloc.a alloc.a substdio.a error.a str.a fs.a \
  auto_qmail.o $(cat socket.lib) >>build.log 2>&1 || { tail -20 build.log >&2; exit 1; }
echo "$out/qmail-smtpd"
