#!/bin/sh
# Builds a complete netqmail-1.06 (qmail-send, qmail-lspawn, qmail-getpw,
# qmail-local, qmail-queue, qmail-start, qmail-clean, qmail-rspawn,
# qmail-remote, qmail-newu, qmail-smtpd, bouncesaying, install, instcheck, ... : the
# Makefile's `it` and `man` targets) for scripts/delivery-differential.py:
#
#   scripts/build-netqmail.sh NETQMAIL_SRC OUTDIR
#
# NETQMAIL_SRC is an unpacked netqmail-1.06 tree, for example
#   git -C notqmail archive netqmail-1.06 | tar -x -C DIR
# of github.com/notqmail/notqmail. It is copied into OUTDIR and never
# changed; not one line of qmail's C is changed either, only conf-cc
# (a modern gcc needs -std=gnu89 and no new errors). Nothing is
# installed: OUTDIR/install, run as root, installs into /var/qmail
# (conf-qmail is left alone), and OUTDIR/instcheck checks it.
#
# netqmail compiles the uids and gids of its users (alias qmaild qmaill
# root qmailp qmailq qmailr qmails) and groups (qmail nofiles) into
# auto_uids.c at build time. If they all exist here (getent), the build
# uses them. If none of them exists, the script runs the build as root in
# a private mount namespace (unshare -m) in which copies of /etc/passwd
# and /etc/group, extended with these users at the fixed ids below, are
# bind-mounted over the real files: the machine's files are never changed.
# delivery-differential.py gives its namespace the same ids, so it can
# reuse such a build (NETQMAIL_BUILD=OUTDIR).
set -eu

src=${1:?usage: $0 NETQMAIL_SRC OUTDIR}
out=${2:?usage: $0 NETQMAIL_SRC OUTDIR}
[ -f "$src/qmail-local.c" ] && [ -f "$src/auto-uid.c" ] ||
  { echo "$0: $src: not a netqmail source tree" >&2; exit 1; }

# The fixed ids for a namespace build; keep in step with
# QMAIL_USERS/QMAIL_GROUPS in delivery-differential.py.
QIDS='alias:64010 qmaild:64011 qmaill:64012 qmailp:64013 qmailq:64014 qmailr:64015 qmails:64016'
QGIDS='qmail:64010 nofiles:64011'

have=0 missing=0
for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do
  if getent passwd "$u" >/dev/null; then have=$((have+1)); else missing=$((missing+1)); fi
done
for g in qmail nofiles; do
  if getent group "$g" >/dev/null; then have=$((have+1)); else missing=$((missing+1)); fi
done

if [ "$missing" -gt 0 ]; then
  [ "$have" -eq 0 ] || {
    echo "$0: some qmail users/groups exist and some do not; refusing to guess ids" >&2
    exit 1; }
  [ "$(id -u)" -eq 0 ] || { echo "$0: needs root for the namespace build" >&2; exit 1; }
  [ -z "${BUILD_NETQMAIL_IN_NS:-}" ] || { echo "$0: users still missing inside the namespace" >&2; exit 1; }
  fix=$(mktemp -d /tmp/netqmail-ids.XXXXXX)
  trap 'rm -rf "$fix"' EXIT
  cp /etc/passwd "$fix/passwd"
  cp /etc/group "$fix/group"
  for e in $QGIDS; do
    echo "${e%%:*}:x:${e#*:}:" >>"$fix/group"
  done
  for e in $QIDS; do
    # INSTALL.ids: qmailq, qmailr and qmails in group qmail, the others
    # in nofiles; alias's home is ~qmail/alias.
    n=${e%%:*} id=${e#*:} g=64011 h=/var/qmail
    case $n in alias) h=/var/qmail/alias ;; qmailq|qmailr|qmails) g=64010 ;; esac
    echo "$n:x:$id:$g:qmail $n:$h:/bin/false" >>"$fix/passwd"
  done
  # Absolute paths: the namespace shell starts in the same directory, but
  # be explicit.
  self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
  srcabs=$(cd "$src" && pwd)
  mkdir -p "$out"
  outabs=$(cd "$out" && pwd)
  BUILD_NETQMAIL_IN_NS=1 unshare -m --propagation private sh -c '
    mount --bind "$1/passwd" /etc/passwd &&
    mount --bind "$1/group" /etc/group &&
    exec sh "$2" "$3" "$4"' sh "$fix" "$self" "$srcabs" "$outabs"
  exit $?
fi

mkdir -p "$out"
cp -R "$src"/. "$out"/
cd "$out"
echo 'gcc -O2 -std=gnu89 -w -Wno-error=implicit-function-declaration -Wno-error=implicit-int -Wno-error=incompatible-pointer-types -Wno-error=int-conversion' >conf-cc
# auto_uids.c is made from the users above; never reuse a stale one.
rm -f auto_uids.c auto_uids.o

# -j2 is safe for this Makefile (every rule lists its inputs); retry
# serially anyway so a rare race cannot fail the build.
if ! make -j2 it man >build.log 2>&1; then
  make it man >>build.log 2>&1 || { tail -30 build.log >&2; exit 1; }
fi
for p in qmail-send qmail-lspawn qmail-getpw qmail-local qmail-queue qmail-start \
         qmail-clean qmail-rspawn qmail-remote qmail-newu qmail-smtpd qmail-inject \
         bouncesaying qmail-newmrh install instcheck; do
  [ -x "$p" ] || { echo "$0: $p was not built (see $out/build.log)" >&2; exit 1; }
done
echo "built netqmail in $out with:" >&2
sed -n 's/^int \(auto_[ug]id.\) = \([0-9]*\);$/  \1=\2/p' auto_uids.c >&2
echo "$out"
