#!/bin/sh
# A stand-in for qmail-queue, for the demo and for trying the server without
# a qmail installation. It speaks qmail-queue's interface: the message on
# fd 0, then the envelope on fd 1 (F sender NUL, T recipient NUL ..., NUL).
#
# Instead of queueing, it drops the message, byte for byte as qmail-smtpd
# handed it over (our Received line first), into a Maildir, and writes the
# envelope next to it as text: one "F..." line, then one "T..." line per
# recipient.
#
#   DEMO_MAILDIR     the Maildir (default: ../Maildir from this script)
#   DEMO_ENVELOPES   where the envelopes go (default: ../envelopes)
#
# Exit codes are qmail-queue's: 0 queued, 53 write error, 54 read error
# (no envelope or a malformed one: qmail-smtpd sends none when it refuses
# the message, and nothing must be delivered then).

here=$(cd "$(dirname "$0")" && pwd) || exit 61
maildir=${DEMO_MAILDIR:-$here/../Maildir}
envdir=${DEMO_ENVELOPES:-$here/../envelopes}
mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur" "$envdir" || exit 53

name=$(date +%s).P$$.$(uname -n | tr '/:' '__')
tmp=$maildir/tmp/$name
envraw=$maildir/tmp/$name.envelope

cleanup() { rm -f "$tmp" "$envraw"; }

cat >"$tmp" || { cleanup; exit 53; }
# The envelope arrives on fd 1, which qmail-smtpd opened as a pipe for
# reading: make it cat's input.
cat 0<&1 >"$envraw" || { cleanup; exit 54; }

# Well formed: starts with F, ends with the NUL closing the last address
# and the final NUL.
if [ "$(head -c 1 "$envraw")" != F ] ||
   [ "$(tail -c 2 "$envraw" | od -An -tx1 | tr -d ' \n')" != 0000 ]; then
  cleanup
  exit 54
fi

tr '\0' '\n' <"$envraw" | sed '/^$/d' >"$envdir/$name" || { cleanup; exit 53; }
mv "$tmp" "$maildir/new/$name" || { cleanup; exit 53; }
rm -f "$envraw"
exit 0
