#!/usr/bin/env bash
# make demo: build qmail-smtpd, give it a small qmail home of its own under
# target/demo/, and show one SMTP session in which a known recipient is
# accepted and an unknown one refused at RCPT time.
#
# No root and no system users are needed: the demo domain is a virtual
# domain (control/virtualdomains) whose mailboxes are found through
# users/cdb alone, which is how qmail itself routes virtual domains. The
# message is "queued" by a stand-in qmail-queue that drops it into
# target/demo/Maildir/new/.
#
# Run from anywhere; everything it makes is under target/demo/, which it
# recreates each time.

set -eu -o pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# DEMO_BIN (a directory holding built binaries) skips the build and
# DEMO_DIR moves the qmail home: the test suite uses both.
bindir=${DEMO_BIN:-${CARGO_TARGET_DIR:-$top/target}/release}
demo=${DEMO_DIR:-$top/target/demo}
domain=demo.example

say() { printf '\n=== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
command -v python3 >/dev/null || die "python3 not found: it compiles users/assign (scripts/qmail-newu.py)"

if [ -z "${DEMO_BIN:-}" ]; then
  say "Building (cargo build --release)"
  cargo build --release
fi
[ -x "$bindir/qmail-smtpd" ] || die "no $bindir/qmail-smtpd after the build"

say "Making a qmail home in target/demo/"
rm -rf "$demo"
mkdir -p "$demo"/{control,users,bin,home/demo,envelopes} "$demo"/Maildir/{tmp,new,cur}

echo "mx.$domain" >"$demo/control/me"
echo "$domain" >"$demo/control/rcpthosts"
# Mail for the domain goes to the local names "demo-LOCALPART".
echo "$domain:demo" >"$demo/control/virtualdomains"

# Every local name starting "demo-" belongs to the user running the demo,
# with this home, dash "-", and the rest of the name as the extension: so
# alice@demo.example is delivered by home/demo/.qmail-alice. There is no
# .qmail-default, so every other name would bounce.
# qmail never delivers as root (qmail-lspawn defers such mail, and so the
# check answers 451): run as root, the demo assigns the names to nobody.
user=$(id -un) uid=$(id -u) gid=$(id -g)
if [ "$uid" = 0 ]; then
  user=nobody uid=$(id -u nobody) gid=$(id -g nobody)
fi
printf '+demo-:%s:%s:%s:%s:-::\n.\n' "$user" "$uid" "$gid" "$demo/home/demo" \
  >"$demo/users/assign"
python3 scripts/qmail-newu.py "$demo"
echo "$demo/Maildir/" >"$demo/home/demo/.qmail-alice"
# qmail-local, as that user, must be able to enter the home and read the
# file, whatever the umask (the check looks at the mode bits as it would).
chmod 755 "$demo/home" "$demo/home/demo"
chmod 644 "$demo/home/demo/.qmail-alice"

# The server runs bin/qmail-queue relative to its qmail home.
cp scripts/qmail-queue-maildir.sh "$demo/bin/qmail-queue"
chmod 755 "$demo/bin/qmail-queue"

for f in control/me control/rcpthosts control/virtualdomains users/assign; do
  printf '  %-24s %s\n' "$f" "$(head -n 1 "$demo/$f")"
done
printf '  %-24s %s\n' "users/cdb" "compiled by scripts/qmail-newu.py"
printf '  %-24s %s\n' "home/demo/.qmail-alice" "(alice exists; no .qmail-default)"
printf '  %-24s %s\n' "bin/qmail-queue" "stand-in: delivers to target/demo/Maildir/"

# What tcpserver would set for a client on 127.0.0.1; nothing else from the
# caller's environment (a stray NOREALRCPTTO or RELAYCLIENT would change
# the outcome).
server_env=(env -i "PATH=$PATH" "QMAILHOME=$demo" SMTPD_LOGLEVEL=info
  PROTO=TCP TCPREMOTEIP=127.0.0.1 TCPREMOTEHOST=localhost
  TCPLOCALIP=127.0.0.1 TCPLOCALHOST="mx.$domain")
log=$demo/smtpd.log

say "SMTP session (C: client, S: qmail-smtpd)"
coproc SMTPD { exec "${server_env[@]}" "$bindir/qmail-smtpd" 2>>"$log"; }
pid=$SMTPD_PID
# Our own copies: bash closes the coproc's descriptors as soon as it exits,
# which after QUIT may be before its last reply has been read.
exec {in}>&"${SMTPD[1]}" {out}<&"${SMTPD[0]}"

send() {
  printf 'C: %s\n' "$1"
  printf '%s\r\n' "$1" >&"$in"
}
# Reads one reply (every line of a multi-line one), prints it, and leaves
# its code in $code.
reply() {
  local line
  code=
  while IFS= read -r -t 10 line <&"$out"; do
    line=${line%$'\r'}
    printf 'S: %s\n' "$line"
    if [[ $line =~ ^([0-9]{3})\  ]]; then
      code=${BASH_REMATCH[1]}
      return 0
    fi
  done
  printf 'demo: no complete reply from qmail-smtpd (see %s)\n' "$log" >&2
  return 1
}

reply
send "HELO client.example"
reply
send "MAIL FROM:<sender@client.example>"
reply
send "RCPT TO:<alice@$domain>"
reply
alice=$code
send "RCPT TO:<nobody@$domain>"
reply
nobody=$code
send "DATA"
reply
if [ "$code" = 354 ]; then
  for line in "From: sender@client.example" "To: alice@$domain" "Subject: demo" "" \
    "Hello Alice. nobody@$domain was refused at RCPT, so nothing bounces." "."; do
    send "$line"
  done
  reply
fi
queued=$code
send "QUIT"
reply
exec {in}>&- {out}<&-
wait "$pid" || true

say "Log (qmail-smtpd's stderr, as multilog would receive it)"
sed 's/^/  /' "$log"

say "Queued message (target/demo/Maildir/new/)"
shopt -s nullglob
msgs=("$demo"/Maildir/new/*)
for m in "${msgs[@]}"; do
  echo "--- envelope: envelopes/${m##*/}"
  cat "$demo/envelopes/${m##*/}"
  echo "--- message: Maildir/new/${m##*/}"
  cat "$m"
done
[ ${#msgs[@]} -gt 0 ] || echo "  (nothing was queued)"

if [ -x "$bindir/qmail-realrcptto" ]; then
  say "Why: qmail-realrcptto alice@$domain nobody@$domain"
  status=0
  env -i "PATH=$PATH" "QMAILHOME=$demo" "$bindir/qmail-realrcptto" \
    "alice@$domain" "nobody@$domain" || status=$?
  echo "(exit status $status: 0 all accepted, 100 some unknown, 111 temporary failure)"
fi

say "The same RCPT with NOREALRCPTTO set (plain netqmail behaviour, for a swap-in)"
echo "C: RCPT TO:<nobody@$domain>"
printf 'MAIL FROM:<sender@client.example>\r\nRCPT TO:<nobody@%s>\r\nQUIT\r\n' "$domain" |
  "${server_env[@]}" NOREALRCPTTO=1 "$bindir/qmail-smtpd" 2>/dev/null |
  tr -d '\r' | sed -n 3p | sed 's/^/S: /'

if command -v tcpserver >/dev/null; then
  say "To try it over TCP yourself (tcpserver is installed; stop it with Ctrl-C)"
  cat <<EOF
  env QMAILHOME=$demo \\
    tcpserver -v -R -H -l mx.$domain 127.0.0.1 2525 $bindir/qmail-smtpd
  then, in another terminal:  telnet 127.0.0.1 2525   (or: swaks -s 127.0.0.1:2525 -t nobody@$domain)
EOF
fi

say "Result"
ok=1
if [ "$alice" = 250 ]; then echo "  alice@$domain: accepted (250)"; else echo "  alice@$domain: expected 250, got $alice"; ok=0; fi
if [ "$nobody" = 550 ]; then echo "  nobody@$domain: refused at RCPT (550), no bounce"; else echo "  nobody@$domain: expected 550, got $nobody"; ok=0; fi
if [ "$queued" = 250 ] && [ ${#msgs[@]} -eq 1 ]; then echo "  message queued for alice only"; else echo "  expected one queued message, DATA gave $queued"; ok=0; fi
[ "$ok" = 1 ] || die "the session did not go as expected"
