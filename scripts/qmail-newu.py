#!/usr/bin/env python3
"""Compile users/assign into users/cdb, byte for byte as qmail-newu does.

Usage: qmail-newu.py [QMAILHOME]

QMAILHOME defaults to $QMAILHOME, then /var/qmail, like qmail-newu's
compiled-in home. Reads QMAILHOME/users/assign, writes
QMAILHOME/users/cdb.tmp and renames it to QMAILHOME/users/cdb.

For the demo and for tests on machines without qmail installed. The records
are those of netqmail-1.06 qmail-newu.c:

  =local:user:uid:gid:home:dash:ext:
      key   "!" + local + NUL, lower-cased
  +prefix:user:uid:gid:home:dash:pre:
      key   "!" + prefix, lower-cased; the last character of a non-empty
            prefix joins the "wildchars" set

  value  user NUL uid NUL gid NUL home NUL dash NUL ext
         (the six fields, NUL-separated, with no final NUL: qmail-lspawn
         adds the rest of the local name and the NUL itself)

  and one record with the empty key whose value is the wildchars set, in
  order of first appearance.

Like qmail-newu, any line whose first character is not "+" is read as an
"=" line, the file must end with a line starting with ".", and any format
problem is fatal (exit 111) and leaves users/cdb alone.
"""

import os
import struct
import sys


def die(msg):
    sys.stderr.write("qmail-newu: fatal: %s\n" % msg)
    sys.exit(111)


def lower(b):
    # case_lowerb: ASCII only; 8-bit bytes stay as they are.
    return bytes(c + 32 if 65 <= c <= 90 else c for c in b)


def cdb_hash(key):
    h = 5381
    for c in key:
        h = (((h << 5) + h) & 0xFFFFFFFF) ^ c
    return h


def cdb_make(records):
    """The bytes of a cdb holding `records` (key, value) in order, laid out
    exactly as djb's cdbmake/cdbmss writes them."""
    out = bytearray(2048)
    entries = []  # (hash, position), in insertion order
    for key, value in records:
        entries.append((cdb_hash(key), len(out)))
        out += struct.pack("<II", len(key), len(value)) + key + value
    header = bytearray()
    for bucket in range(256):
        mine = [e for e in entries if e[0] & 255 == bucket]
        tlen = 2 * len(mine)
        table = [(0, 0)] * tlen
        for h, pos in mine:
            where = (h >> 8) % tlen
            while table[where][1]:
                where = (where + 1) % tlen
            table[where] = (h, pos)
        header += struct.pack("<II", len(out), tlen)
        for h, pos in table:
            out += struct.pack("<II", h, pos)
        if len(out) > 0xFFFFFFFF:
            die("unable to write users/cdb.tmp")  # cdb positions are 32 bits
    out[0:2048] = header
    return bytes(out)


def parse_assign(data):
    """users/assign bytes to cdb records, as qmail-newu's main loop."""
    records = []
    wildchars = bytearray()
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        line = data[pos:] if nl < 0 else data[pos:nl + 1]
        pos = len(data) if nl < 0 else nl + 1
        if line[:1] == b".":
            break
        if nl < 0:
            die("bad format in users/assign")  # no final "." line
        if b"\0" in line:
            die("bad format in users/assign")
        i = line.find(b":")
        if i <= 0:
            die("bad format in users/assign")
        if line[:1] == b"+":
            key = lower(b"!" + line[1:i])
            if i >= 2 and line[i - 1] not in wildchars:
                wildchars.append(line[i - 1])
        else:
            key = lower(b"!" + line[1:i] + b"\0")
        fields = line[i + 1:].split(b":")
        if len(fields) < 7:  # six colons: the last field is terminated too
            die("bad format in users/assign")
        records.append((key, b"\0".join(fields[:6])))
    records.append((b"", bytes(wildchars)))
    return records


def main():
    if len(sys.argv) > 2:
        sys.stderr.write("usage: qmail-newu.py [QMAILHOME]\n")
        sys.exit(100)
    home = sys.argv[1] if len(sys.argv) == 2 else os.environ.get("QMAILHOME", "/var/qmail")
    try:
        os.chdir(home)
    except OSError:
        die("unable to chdir")
    os.umask(0o033)
    try:
        with open("users/assign", "rb") as f:
            data = f.read()
    except OSError:
        die("unable to open users/assign")
    image = cdb_make(parse_assign(data))
    try:
        with open("users/cdb.tmp", "wb") as f:
            f.write(image)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        die("unable to write users/cdb.tmp")
    try:
        os.rename("users/cdb.tmp", "users/cdb")
    except OSError:
        die("unable to move users/cdb.tmp to users/cdb")


if __name__ == "__main__":
    main()
