#!/usr/bin/env python3
"""Delivery differential: this qmail-smtpd's RCPT verdicts against what a
real netqmail-1.06 does when it delivers the same addresses.

    scripts/delivery-differential.py NETQMAIL_SRC [OURS_BINARY] [SEED] [COUNT]

NETQMAIL_SRC is an unpacked netqmail-1.06 tree, for example
    mkdir /tmp/nq && git -C notqmail archive netqmail-1.06 | tar -x -C /tmp/nq
OURS_BINARY defaults to target/release/qmail-smtpd (copied at start, so a
rebuild during the run changes nothing); SEED (default 1) and COUNT
(default 300) drive the random addresses added to the fixed corner cases
(an empty OURS_BINARY means the default). Run as root; python3 standard
library only; about two minutes on 2 cores (a vpopmail build included).
It needs Debian's fastforward package (apt-get install fastforward:
fastforward and setforward) unless NOFASTFORWARD=1, which drops its cases.
vpopmail is built from VPOPMAIL_SRC (a git repository, whose HEAD is used,
or an unpacked tree; default /work/.mirror/sagredo-dev+vpopmail/repo when
it exists; VPOPMAIL_SRC= skips vpopmail).
NETQMAIL_BUILD=DIR reuses a tree built by scripts/build-netqmail.sh (same
fixed qmail ids); KEEP=1 keeps the work directory for a post-mortem; ALL=1
also prints every row, agreements included.

What runs. The script re-executes itself under `unshare -m --propagation
private`; every mount below exists only in that namespace and vanishes with
it. Over /etc/passwd and /etc/group it binds copies of the real files plus
the qmail users (alias qmaild qmaill qmailp qmailq qmailr qmails, groups
qmail nofiles, the fixed ids of build-netqmail.sh), vpopmail (64020, group
vchkpw) and the fixture users; a temporary directory goes over /var/qmail
(through an overlay of /var when /var/qmail does not exist). fastforward
queues through bin/qmail-queue of its own qmail home (Debian's:
/var/lib/qmail): a directory with the same links plus netqmail's
qmail-queue is bound over /var/lib/qmail/bin. netqmail is built there with
scripts/build-netqmail.sh, installed with its own `install` and checked with
`instcheck`, and users/assign is compiled by its own qmail-newu.
vpopmail (--enable-auth-module=cdb --disable-qmail-ext) is configured, made
and installed into ~vpopmail there; its own vadddomain, vadduser, vmoduser,
valias and vaddaliasdomain make the domains (see Vpopmail), with a
stand-in `ps` so that they signal no qmail-send. The machine's real files,
users and processes are never touched.

What is compared. For each address, in each of eight configurations (base;
~alias/.qmail-default added; no users/cdb; no alias user at all; alias's
home missing; users/cdb not a cdb; ~alias/.qmail-default `|bouncesaying
TEXT`; ~alias/.qmail-default `| fastforward -d ~alias/aliases.cdb`), and
for vpopmail's domains in a ninth (vpopmail: the same files as base, ours
running as the vpopmail user, which may read the 0700 domain directories,
as the man page asks):
  qmail's side: one SMTP session with netqmail's own qmail-smtpd (as
    qmaild, so the envelope is exactly what netqmail would queue: quotes,
    [ip] literals, source routes) with the real qmail-queue behind it, then
    the FIRST delivery attempt of qmail-send (started by qmail-start with
    PATH=/var/qmail/bin:... as netqmail's rc scripts do, every daemon as its
    qmail user, qmail-lspawn/qmail-getpw/qmail-local doing the work, and
    bouncesaying, fastforward, vdelivermail the programs) as logged:
    `delivery N: success|deferral|failure: TEXT` for the `starting delivery
    N: msg M` of the message whose `info msg M` line has the qp that
    qmail-smtpd reported (and uid qmaild: forwards made by qmail-local,
    fastforward or vdelivermail carry other uids, and pids wrap). The
    sender is <>, and control/doublebounceto is empty, so a failure's
    double bounce goes to
    "@local.example", which qmail-lspawn discards; only the deliveries of
    the injected messages (matched by qp) are counted. Remote addresses go
    through qmail-rspawn/qmail-remote to a closed local port
    (control/smtproutes) and defer.
  ours: the RCPT reply of OURS_BINARY (as qmaild, or vpopmail, QMAILHOME=
    /var/qmail, the same control files and users/cdb, MAXUNKNOWNRCPT=0,
    MAXRCPT=100000, QMAILQUEUE a stand-in that exits 0), many RCPTs per
    session, asked BEFORE qmail delivers (deliveries change files:
    vdelivermail rebuilds a missing vpasswd.cdb).
The addresses: the corner cases in CORNER, BCORNER (bouncesaying) and
FCORNER (fastforward), each with a note, over fixture users and homes
(Fixture.build: every kind of .qmail file, home and passwd or users/assign
entry that qmail-getpw, qmail-lspawn and qmail-local treat specially;
Fixture.build_programs: .qmail files running bouncesaying and fastforward,
cdbs made by setforward), plus COUNT random ones made from the same names;
in the vpopmail configuration VCORNER and COUNT/4 random addresses at
vpopmail's domains. PROGRAM CASES lists every BCORNER, FCORNER and VCORNER
address with qmail's outcome and our reply code, per configuration.
Verdicts: agree = 2xx & delivered, 5xx & bounced, 4xx & deferred;
"accepted, qmail defers" (2xx & deferral: the check only refuses what has no
mailbox, so this is expected where a mailbox exists but is broken) is
counted apart; so is a 5xx for a name that vdelivermail '' delete
discards (qmail "delivers" it to nowhere; the check refuses it on purpose,
see the man page); the others are mismatches and listed with qmail's log
text and our reply (plus our log lines from a one-address rerun, and from
the first session when the rerun, after qmail's delivery, answers
otherwise). Exit status 1 if any 5xx was given for an address qmail
delivered or deferred.
"""
import os, sys, subprocess, shutil, tempfile, random, time, signal, socket, re, hashlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
QMAIL = "/var/qmail"

# Keep in step with QIDS/QGIDS in build-netqmail.sh (INSTALL.ids layout).
QMAIL_GROUPS = [("qmail", 64010), ("nofiles", 64011)]
QMAIL_USERS = [  # name, uid, gid, home
    ("alias", 64010, 64011, QMAIL + "/alias"), ("qmaild", 64011, 64011, QMAIL),
    ("qmaill", 64012, 64011, QMAIL), ("qmailp", 64013, 64011, QMAIL),
    ("qmailq", 64014, 64010, QMAIL), ("qmailr", 64015, 64010, QMAIL),
    ("qmails", 64016, 64010, QMAIL)]
QMAILD = 64011
NOFILES = 64011
FIXGID = 64100          # group of the fixture users
SUPPGID = 64102         # a group joe is a supplementary member of
DELIVERY = b"./Maildir/\n"

def log(*a):
    print(*a, file=sys.stderr, flush=True)

def die(msg):
    log("delivery-differential: " + msg)
    sys.exit(2)

def show(b):
    """An address or log text for the table: 8-bit and control bytes as \\xNN."""
    return "".join(chr(c) if 32 <= c < 127 else "\\x%02x" % c for c in b)

# ---------------------------------------------------------------- namespace

class Mounts:
    def __init__(self):
        self.done = []
    def run(self, *args):
        subprocess.run(["mount", *args], check=True)
        self.done.append(args[-1])
    def bind(self, src, dst):
        self.run("--bind", src, dst)
    def undo(self):
        for dst in reversed(self.done):
            if subprocess.run(["umount", dst], stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["umount", "-l", dst])
        self.done = []

# ---------------------------------------------------------------- fixtures

class Fixture:
    """Fixture users, homes and users/assign records, all under T/home.

    Each user's home exercises one corner of qmail-getpw (who is found),
    qmail-lspawn (users/cdb) or qmail-local (checkhome, qmesearch,
    qmeexists: which .qmail file, and whether it defers)."""

    def __init__(self, top):
        self.top = top
        self.h = os.path.join(top, "home")
        self.users = []      # (name bytes, uid, home bytes)
        self.uids = {}
        self.next = 64101

    def user(self, name, home=None, uid=None):
        if uid is None:
            uid = self.next
            self.next += 1
        if home is None:
            home = os.path.join(self.h, name.decode("latin-1")).encode("latin-1")
        self.users.append((name, uid, home))
        self.uids[name] = uid
        return home

    # filesystem helpers (paths may be bytes: one home has a latin-1 name)
    @staticmethod
    def mkdir(path, uid, mode=0o755):
        os.mkdir(path)
        os.chown(path, uid, FIXGID if uid else 0)
        os.chmod(path, mode)

    def home(self, name, mode=0o755, maildir=True, dotqmail=None, home=None, **files):
        """A home owned by the user, with a Maildir and .qmail-EXT files
        (keyword ext=content; content None means the default delivery)."""
        path = self.user(name, home)
        uid = self.uids[name]
        self.mkdir(path, uid)
        if maildir:
            self.maildir(os.path.join(path, b"Maildir"), uid)
        if dotqmail is not None:
            self.qfile(path, b".qmail", dotqmail, uid)
        for ext, content in files.items():
            self.qfile(path, b".qmail-" + ext.replace("_", "-").encode(), content, uid)
        os.chmod(path, mode)
        return path

    def maildir(self, path, uid):
        self.mkdir(path, uid, 0o700)
        for sub in (b"tmp", b"new", b"cur"):
            self.mkdir(os.path.join(path, sub), uid, 0o700)

    @staticmethod
    def qfile(home, name, content, uid, mode=0o644):
        path = os.path.join(home, name)
        with open(path, "wb") as f:
            f.write(DELIVERY if content is None else content)
        os.chown(path, uid, FIXGID if uid else 0)
        os.chmod(path, mode)
        return path

    def build(self):
        """Create every fixture home. Returns the users/assign text."""
        os.mkdir(self.h)
        os.chmod(self.h, 0o755)
        H = self.h.encode()
        Q = lambda *p: os.path.join(*p)

        # joe: ~/.qmail, and .qmail-EXT files of every kind; no .qmail-default.
        joe = self.home(b"joe", dotqmail=DELIVERY, ext1=None, list=None, virt_info=None,
                        sub_default=None, gwrit=None, empty=b"", comment=b"# nothing\n",
                        blank=b"\n./Maildir/\n", a_default=None)
        uid = self.uids[b"joe"]
        self.qfile(joe, b".qmail-a:b", None, uid)            # joe-a.b and joe-a:b
        self.mkdir(Q(joe, b".qmail-dir"), uid)                # joe-dir/x: ext with '/'
        self.qfile(Q(joe, b".qmail-dir"), b"x", None, uid)
        self.mkdir(Q(joe, b".qmail-isdir"), uid)              # a directory: ignored
        os.mkfifo(Q(joe, b".qmail-fifo"))                     # a FIFO: ignored
        os.chown(Q(joe, b".qmail-fifo"), uid, FIXGID)
        os.symlink(b"Maildir", Q(joe, b".qmail-symdir"))      # symlink to a directory
        os.symlink(b"nowhere", Q(joe, b".qmail-dangling"))    # dangling symlink
        os.symlink(b".qmail-ext1", Q(joe, b".qmail-symfile")) # symlink to a file
        s = socket.socket(socket.AF_UNIX)                     # a socket: open fails ENXIO
        s.bind(Q(joe, b".qmail-sock"))
        s.close()
        self.qfile(joe, b".qmail-noread", None, uid, 0o000)   # unreadable: defers
        self.qfile(joe, b".qmail-rootonly", None, 0, 0o600)   # root's 0600: defers
        self.qfile(joe, b".qmail-writable", None, uid, 0o666) # world-writable: defers
        os.chmod(Q(joe, b".qmail-gwrit"), 0o664)              # group-writable: fine (conf-patrn 002)
        self.qfile(joe, b".qmail-xbit", None, uid, 0o755)     # x bit + file line: defers
        self.qfile(joe, b".qmail-xprog", b"|true\n", uid, 0o755)
        self.qfile(joe, b".qmail-prog", b"|true\n", uid)      # program line, no x bit
        self.qfile(joe, b".qmail-" + b"y" * 200, None, uid)   # long but legal name
        self.qfile(joe, b".qmail-ro", None, uid, 0o400)       # read-only: fine
        self.qfile(joe, b".qmail-wo", None, uid, 0o200)       # owner cannot read: defers
        self.qfile(joe, b".qmail-owner0060", None, uid, 0o060)  # owner bits rule: defers
        self.qfile(joe, b".qmail-a b", None, uid)             # "joe-a b": a space
        self.qfile(Q(joe, b".qmail-dir"), b"sub-default", None, uid)  # joe-dir/sub-*
        os.symlink(b".qmail-loop", Q(joe, b".qmail-loop"))    # ELOOP: treated as missing
        os.symlink(b"/dev/null", Q(joe, b".qmail-devnull"))   # a device: ignored
        self.mkdir(Q(joe, b".qmail-wwdir"), uid, 0o777)       # a writable directory: ignored
        self.qfile(joe, b".qmail-\xe9", None, uid)            # latin-1 e-acute (lower case)
        self.qfile(joe, b".qmail-\xc3\xa9t\xc3\xa9", None, uid)  # UTF-8 "ete" (SMTPUTF8)
        self.qfile(joe, b".qmail-UP", None, uid)              # never matched: ext is lower-cased

        self.home(b"joe-list", x=None)                        # a user whose name has '-'
        bob = self.home(b"bob", wild_x=None, special=None)    # no ~/.qmail
        # files of bob's that joe's qmail-local may or may not read: it runs
        # with joe's passwd gid only, never with supplementary groups
        self.qfile(joe, b".qmail-grpread", None, self.uids[b"bob"], 0o640)
        self.qfile(joe, b".qmail-suppgrp", None, self.uids[b"bob"], 0o640)
        os.chown(Q(joe, b".qmail-suppgrp"), self.uids[b"bob"], SUPPGID)
        self.home(b"carol", default=None)                     # catch-all
        self.home(b"nomaildir", maildir=False)                # default delivery cannot work
        d = self.home(b"dashy")                               # ~/.qmail- (empty extension)
        self.qfile(d, b".qmail-", None, self.uids[b"dashy"])
        d = self.home(b"dirdef")                              # .qmail-default is a directory
        self.mkdir(Q(d, b".qmail-default"), self.uids[b"dirdef"])
        d = self.home(b"wdef")                                # .qmail-default 0666
        self.qfile(d, b".qmail-default", None, self.uids[b"wdef"], 0o666)
        self.home(b"badqmail", dotqmail=DELIVERY)             # ~/.qmail 0666
        os.chmod(Q(H, b"badqmail", b".qmail"), 0o666)
        self.home(b"stickyu", mode=0o1755, x=None)            # sticky home: defers
        self.home(b"wwhome", mode=0o777, x=None)              # world-writable home: defers
        self.home(b"gwhome", mode=0o775, x=None)              # group-writable home: fine
        self.home(b"privu", mode=0o700, yes=None)             # qmaild cannot look inside
        self.home(b"zerohome", mode=0o000, x=None)            # not even its user can enter
        self.home(b"dot.user")
        self.qfile(Q(H, b"dot.user"), b".qmail-a:b", None, self.uids[b"dot.user"])
        self.home(b"Mixed")                                   # qmail-getpw looks up "mixed"
        self.home(b"j\xf6rg", x=None)                         # latin-1 name, raw in passwd
        self.home(b"j\xc3\xb6rg", x=None)                     # UTF-8 name, raw in passwd
        self.home(b"u31" + b"x" * 28, x=None)                 # 31 bytes: found
        self.home(b"u32" + b"x" * 29, x=None)                 # 32 bytes: too long for qmail-getpw
        self.home(b"shadowed")                                # users/cdb overrides it
        # home owned by another uid: qmail-getpw skips the user
        p = self.user(b"otherown")
        self.mkdir(p, self.uids[b"bob"])
        # home that does not exist
        self.user(b"nohomeu", Q(H, b"does-not-exist"))
        # home is a regular file owned by the user: found, chdir fails
        p = self.user(b"filehome")
        self.qfile(H, b"filehome", b"", self.uids[b"filehome"])
        # home behind a 0700 root directory: qmailp's stat fails EACCES
        self.mkdir(Q(H, b"locked"), 0, 0o700)
        p = self.user(b"hiddenu", Q(H, b"locked", b"hiddenu"))
        self.mkdir(p, self.uids[b"hiddenu"])
        self.maildir(Q(p, b"Maildir"), self.uids[b"hiddenu"])
        self.qfile(p, b".qmail-x", None, self.uids[b"hiddenu"])
        # uid 0: skipped by qmail-getpw
        p = self.user(b"toor", uid=0)
        self.mkdir(p, 0)
        # home is a symlink to a directory owned by the user
        self.user(b"symhome", Q(H, b"symlink-home"))
        self.mkdir(Q(H, b"symreal"), self.uids[b"symhome"])
        self.maildir(Q(H, b"symreal", b"Maildir"), self.uids[b"symhome"])
        os.symlink(Q(H, b"symreal"), Q(H, b"symlink-home"))
        # a root-owned home for the uid-0 users/assign record
        self.mkdir(Q(H, b"rootrec"), 0)
        # passwd home "": stat fails, the user is skipped
        self.user(b"emptyhome", b"")
        # passwd home relative: qmail-getpw stats it in /var/qmail, finds
        # the user; qmail-local refuses a relative home (usage, exit 100)
        self.user(b"relpw", b"relpw-home")
        self.mkdir(os.path.join(QMAIL.encode(), b"relpw-home"), self.uids[b"relpw"])
        # homes under a 0700 directory of qmaild's (qmail-getpw, as qmailp,
        # cannot see the user) and of qmailp's (qmail-getpw sees it, the
        # user's qmail-local cannot enter, and qmaild cannot look)
        for n, owner in ((b"qmaildonly", QMAILD), (b"qmailponly", 64013)):
            self.mkdir(Q(H, n + b"-dir"), owner, 0o700)
            os.chown(Q(H, n + b"-dir"), owner, NOFILES)
            p = self.user(n, Q(H, n + b"-dir", n))
            self.mkdir(p, self.uids[n])
            self.maildir(Q(p, b"Maildir"), self.uids[n])
            self.qfile(p, b".qmail-x", None, self.uids[n])
        # a user name ending in '-'
        d = self.home(b"dashend-", x=None)
        # passwd home with a trailing slash
        p = self.user(b"trail", Q(H, b"trail") + b"/")
        self.mkdir(p, self.uids[b"trail"])
        self.maildir(Q(p, b"Maildir"), self.uids[b"trail"])
        self.qfile(p, b".qmail-x", None, self.uids[b"trail"])

        u = lambda n: "%d:%d" % (self.uids[n], FIXGID)
        h = lambda n: Q(H, n).decode("latin-1")
        assign = [
            "=assigned:joe:%s:%s:::" % (u(b"joe"), h(b"joe")),            # exact record
            "=assignlist:joe:%s:%s:-:list:" % (u(b"joe"), h(b"joe")),     # exact, with ext
            "=shadowed:shadowed:%s:%s:::" % (u(b"shadowed"), h(b"no-such-home")),  # home missing
            "=rootrec:root:0:0:%s:::" % h(b"rootrec"),                     # uid 0
            "=relhome:joe:%s:joe-relative:::" % u(b"joe"),                 # relative home
            "=UpperAssign:carol:%s:%s:::" % (u(b"carol"), h(b"carol")),    # key lower-cased
            "=dashempty:dashy:%s:%s:-::" % (u(b"dashy"), h(b"dashy")),     # dash, empty ext: .qmail-
            "=dashempty2:joe:%s:%s:-::" % (u(b"joe"), h(b"joe")),          # same, joe has none
            "+wild-a-:carol:%s:%s:-:wa-:" % (u(b"carol"), h(b"carol")),    # longer wildcard first
            "+wild-:bob:%s:%s:-:wild-:" % (u(b"bob"), h(b"bob")),          # wildcard
            "+Mixed-:carol:%s:%s:-:m-:" % (u(b"carol"), h(b"carol")),      # wildcard, upper case
            "."]
        return ("\n".join(assign) + "\n").encode("latin-1")

    def build_programs(self, fastforward):
        """Homes whose .qmail files run the programs step 7 of the check
        reads: bouncesaying (netqmail's own, in /var/qmail/bin) and, when
        `fastforward` is set, fastforward with cdbs made by the real
        setforward. Forward targets are joe@local.example (delivered)."""
        H = self.h.encode()
        Q = os.path.join
        bs = self.home(b"bs")
        uid = self.uids[b"bs"]
        for ext, content, mode in [
                (b"gone", b"|bouncesaying 'Gone.'\n", 0o644),
                (b"plain", b"|bouncesaying Gone.\n", 0o644),
                (b"space", b"| bouncesaying 'Gone.'\n", 0o644),
                (b"tab", b"|bouncesaying\t'Gone.'\t\n", 0o644),
                (b"dq", b"|bouncesaying \"Gone, sorry.\"\n", 0o644),
                (b"abs", b"|/var/qmail/bin/bouncesaying 'Gone.'\n", 0o644),
                (b"usage", b"|bouncesaying\n", 0o644),
                (b"condf", b"|bouncesaying 'No.' false\n", 0o644),
                (b"condt", b"|bouncesaying 'No.' true\n", 0o644),
                (b"condmissing", b"|bouncesaying 'No.' no-such-program\n", 0o644),
                (b"condempty", b"|bouncesaying 'No.' ''\n", 0o644),
                (b"filefirst", b"./Maildir/\n|bouncesaying 'Gone.'\n", 0o644),
                (b"filelast", b"|bouncesaying 'Gone.'\n./Maildir/\n", 0o644),
                (b"fwdfirst", b"&joe@local.example\n|bouncesaying 'Gone.'\n", 0o644),
                (b"fwdbare", b"joe@local.example\n&bob@local.example\n|bouncesaying 'Gone.'\n", 0o644),
                (b"fwdonly", b"&joe@local.example\n", 0o644),
                (b"comment", b"# moved away\n|bouncesaying 'Gone.'\n", 0o644),
                (b"truefirst", b"|true\n|bouncesaying 'Gone.'\n", 0o644),
                (b"blankfirst", b"\n|bouncesaying 'Gone.'\n", 0o644),
                (b"plist", b"+list\n|bouncesaying 'Gone.'\n", 0o644),
                (b"plistfwd", b"+list\n&joe@local.example\n|bouncesaying 'Gone.'\n", 0o644),
                (b"xbit", b"|bouncesaying 'Gone.'\n", 0o755),
                (b"xbitfwd", b"&joe@local.example\n", 0o755),
                (b"shellvar", b"|bouncesaying \"$HOME\"\n", 0o644),
                (b"shellsemi", b"|bouncesaying 'Gone.'; exit 0\n", 0o644),
                (b"shellor", b"|bouncesaying 'Gone.' || exit 0\n", 0o644),
                (b"backq", b"|bouncesaying `echo Gone.`\n", 0o644),
                (b"assign", b"|X=1 bouncesaying Gone.\n", 0o644),
                (b"exec", b"|exec bouncesaying 'Gone.'\n", 0o644),
                (b"hash", b"|bouncesaying 'Gone.' # why\n", 0o644),
                (b"upper", b"|BOUNCESAYING 'Gone.'\n", 0o644),
                (b"nosuchpath", b"|/no/such/bouncesaying 'Gone.'\n", 0o644),
                (b"relpath", b"|./bouncesaying 'Gone.'\n", 0o644),
                (b"crlf", b"|bouncesaying 'Gone.'\r\n", 0o644)]:
            self.qfile(bs, b".qmail-" + ext, content, uid, mode)
        d = self.home(b"bsdef")                      # a user's catch-all bounces
        uid = self.uids[b"bsdef"]
        self.qfile(d, b".qmail-default", b"|bouncesaying 'No such address.'\n", uid)
        self.qfile(d, b".qmail-real", None, uid)
        self.qfile(d, b".qmail-list-default", b"&joe@local.example\n", uid)
        if not fastforward:
            return
        ff = self.home(b"ffuser")
        uid = self.uids[b"ffuser"]
        J = b"joe@local.example"
        def cdb(name, text):
            p = Q(ff, name)
            subprocess.run(["setforward", p, p + b".tmp"], input=text, check=True)
            os.chown(p, uid, FIXGID)
            os.chmod(p, 0o644)
        # without -d the key is $RECIPIENT: ffuser-EXT@HOST
        cdb(b"ff.cdb", b"ffuser-ff-known@local.example: " + J + b";\n")
        cdb(b"strict.cdb",
            b"ffuser-strict-known@local.example: " + J + b";\n"
            b"FFUSER-STRICT-Upper@Local.Example: " + J + b";\n"
            b"ffuser-strict-anyhost@: " + J + b";\n"
            b"@ffwild.example: " + J + b";\n")
        # with -d the key is $DEFAULT@$HOST (or $EXT@$HOST)
        cdb(b"d.cdb",
            b"known@local.example: " + J + b";\n"
            b"known@ffvirt.example: " + J + b";\n"
            b"Upper@FFVirt.Example: " + J + b";\n"
            b"webmaster@: " + J + b";\n"
            b"@ffwild.example: " + J + b";\n"
            b"exact@local.example: " + J + b";\n"
            b"quoted@x@ffvirt.example: " + J + b";\n"
            b"trap@: " + J + b";\n"
            b"remote@ffvirt.example: someone@remote.example;\n"
            b"prog@ffvirt.example: |bouncesaying\\ 'Gone\\ via\\ fastforward.';\n"
            b"progok@ffvirt.example: |true;\n"
            b"list@ffvirt.example: known@ffvirt.example, " + J + b";\n")
        self.qfile(ff, b"bad.cdb", b"not a cdb\n", uid)
        self.qfile(ff, b"rootonly.cdb", b"", 0, 0o600)
        shutil.copy(Q(ff, b"d.cdb"), Q(ff, b"rootonly.cdb"))
        for ext, content, mode in [
                (b"ff-default", b"|fastforward -p ff.cdb\n./Maildir/\n", 0o644),
                (b"strict-default", b"|fastforward strict.cdb\n", 0o644),
                (b"d-default", b"|fastforward -d d.cdb\n", 0o644),
                (b"dp-default", b"|fastforward -dp d.cdb\n|bouncesaying 'Not in d.cdb.'\n", 0o644),
                (b"dpfile-default", b"|fastforward -d -p d.cdb\n./Maildir/\n", 0o644),
                (b"dd-default", b"|fastforward -dD d.cdb\n", 0o644),
                (b"n-default", b"|fastforward -n -d d.cdb\n", 0o644),
                (b"abs-default", b"|/usr/bin/fastforward -d d.cdb\n", 0o644),
                (b"nocdb-default", b"|fastforward -d missing.cdb\n", 0o644),
                (b"badcdb-default", b"|fastforward -d bad.cdb\n", 0o644),
                (b"rootcdb-default", b"|fastforward -d rootonly.cdb\n", 0o644),
                (b"absdir-default", b"|fastforward -d " + Q(ff, b"d.cdb") + b"\n", 0o644),
                (b"badopt-default", b"|fastforward -x d.cdb\n", 0o644),
                (b"noarg-default", b"|fastforward -d\n", 0o644),
                (b"exact", b"|fastforward -d d.cdb\n", 0o644),
                (b"exact2", b"|fastforward -d d.cdb\n", 0o644),
                (b"pfwd-default", b"&bob@local.example\n|fastforward -dp d.cdb\n|bouncesaying 'Not in d.cdb.'\n", 0o644),
                (b"xbit-default", b"|fastforward -d d.cdb\n", 0o755)]:
            self.qfile(ff, b".qmail-" + ext, content, uid, mode)
        os.chmod(Q(ff, b"rootonly.cdb"), 0o600)
        os.chown(Q(ff, b"rootonly.cdb"), 0, 0)

    def alias_home(self):
        a = os.path.join(QMAIL, "alias").encode()
        self.maildir(os.path.join(a, b"Maildir"), 64010)
        os.chown(os.path.join(a, b"Maildir"), 64010, 64011)
        for n in (b"postmaster", b"mailer-daemon", b"root"):
            self.qfile(a, b".qmail-" + n, None, 64010)

    def passwd_lines(self):
        out = []
        for name, uid, home in self.users:
            out.append(b"%s:x:%d:%d:fixture:%s:/bin/sh\n" % (name, uid, FIXGID if uid else 0, home))
        return b"".join(out)

# ------------------------------------------------------------------ addresses

DOMAINS = [b"local.example", b"other.example", b"pct.example", b"virt.example",
           b"carolvirt.example", b"nouser.example", b"alias.example", b".sub.example",
           b"remote.example", b"upvirt.example", b"listvirt.example", b"bsvirt.example",
           b"ffvirt.example", b"ffwild.example"]

CONTROLS = {
    "me": b"local.example\n",
    "locals": b"local.example\nother.example\npct.example\n",
    "rcpthosts": b"\n".join(DOMAINS) + b"\n",
    "virtualdomains": b"special@virt.example:bob\nvirt.example:joe-virt\ncarolvirt.example:carol\n"
                      b"nouser.example:ghost\nalias.example:alias\nexcept.sub.example:\n"
                      b".sub.example:joe-sub\nupvirt.example:CAROL\nlistvirt.example:joe-list\n"
                      b"bsvirt.example:bsdef\nffvirt.example:ffuser-d\nffwild.example:ffuser-d\n",
    "percenthack": b"pct.example\n",
    "doublebounceto": b"\n",
    "queuelifetime": b"31536000\n",
}

L = b"@local.example"
CORNER = [
    (b"joe" + L, "user, ~/.qmail"), (b"bob" + L, "user, no .qmail at all"),
    (b"nomaildir" + L, "no .qmail, no Maildir"), (b"JOE" + L, "upper case user"),
    (b"joe@LOCAL.EXAMPLE", "upper case domain"), (b"joe@other.example", "second local domain"),
    (b"carol-anything" + L, ".qmail-default"), (b"carol-default" + L, "literal ext default"),
    (b"bob-anything" + L, "no .qmail-default"), (b"joe-ext1" + L, ".qmail-ext1"),
    (b"JOE-EXT1" + L, "upper case ext"), (b"joe-a.b" + L, "dot: .qmail-a:b"),
    (b"joe-a:b" + L, "colon: .qmail-a:b"), (b"joe-A.B" + L, ".qmail-a:b, upper case"),
    (b"joe-a-x" + L, ".qmail-a-default"), (b"joe-a-b-c" + L, ".qmail-a-default, deeper"),
    (b"joe-a" + L, ".qmail-a-default does not cover a"), (b"joe-a-" + L, ".qmail-a-default covers a-"),
    (b"joe-dir/x" + L, ".qmail-dir/x regular file"), (b"joe-dir/nofile" + L, ".qmail-dir/nofile missing"),
    (b"joe-ext1/x" + L, ".qmail-ext1 is a file: ENOTDIR"), (b"joe-isdir" + L, ".qmail-isdir directory"),
    (b"joe-fifo" + L, ".qmail-fifo FIFO"), (b"joe-symdir" + L, "symlink to a directory"),
    (b"joe-dangling" + L, "dangling symlink"), (b"joe-symfile" + L, "symlink to a file"),
    (b"joe-sock" + L, "a unix socket"), (b"joe-noread" + L, "mode 000"),
    (b"joe-rootonly" + L, "root's 0600"), (b"joe-writable" + L, "mode 0666"),
    (b"joe-gwrit" + L, "mode 0664"), (b"joe-xbit" + L, "x bit, file line"),
    (b"joe-xprog" + L, "x bit, program line"), (b"joe-prog" + L, "program line"),
    (b"joe-blank" + L, "blank first line"), (b"joe-empty" + L, "empty .qmail-empty"),
    (b"joe-comment" + L, "comment only"), (b"joe-" + L, "empty extension"),
    (b"dashy-" + L, "~/.qmail- exists"), (b"joe--x" + L, "double dash"),
    (b"joe-default" + L, "no .qmail-default"), (b"joe-" + b"y" * 200 + L, "200-byte ext, exists"),
    (b"joe-" + b"z" * 300 + L, "300-byte ext: ENAMETOOLONG"),
    (b"carol-" + b"z" * 300 + L, "300-byte ext under .qmail-default"),
    (b"joe-\xe9t\xe9" + L, "8-bit ext"), (b"carol-\xe9t\xe9" + L, "8-bit ext, catch-all"),
    (b"joe-list" + L, "user joe-list"), (b"joe-list-x" + L, "joe-list's .qmail-x"),
    (b"joe-list-y" + L, "joe-list has no default; joe not tried"), (b"joe-lis" + L, "joe, ext lis"),
    (b"dirdef" + L, "user"), (b"dirdef-x" + L, ".qmail-default is a directory"),
    (b"wdef" + L, "user, no .qmail"), (b"wdef-x" + L, ".qmail-default 0666"),
    (b"badqmail" + L, "~/.qmail 0666"), (b"stickyu" + L, "sticky home"),
    (b"stickyu-x" + L, "sticky home, .qmail-x"), (b"stickyu-y" + L, "sticky home, no .qmail-y"),
    (b"wwhome" + L, "world-writable home"), (b"wwhome-y" + L, "world-writable home, no .qmail-y"),
    (b"gwhome-x" + L, "group-writable home"), (b"otherown" + L, "home owned by another uid"),
    (b"otherown-x" + L, "home owned by another uid, ext"), (b"nohomeu" + L, "home does not exist"),
    (b"filehome" + L, "home is a regular file"), (b"filehome-x" + L, "home is a file, ext"),
    (b"hiddenu" + L, "home behind a 0700 root dir"), (b"hiddenu-x" + L, "same, .qmail-x"),
    (b"toor" + L, "uid 0"), (b"root" + L, "root: ~alias/.qmail-root"),
    (b"Mixed" + L, "passwd name Mixed"), (b"mixed" + L, "passwd name Mixed, lower case"),
    (b"j\xf6rg" + L, "latin-1 user"), (b"J\xf6RG" + L, "latin-1 user, ASCII upper case"),
    (b"j\xd6rg" + L, "latin-1 upper case o-umlaut"), (b"j\xf6rg-x" + L, "latin-1 user, ext"),
    (b"j\xc3\xb6rg" + L, "UTF-8 user"), (b"J\xc3\xb6RG" + L, "UTF-8 user, ASCII upper case"),
    (b"j\xc3\x96rg" + L, "UTF-8 upper case O-umlaut: not lower-cased"),
    (b"j\xc3\xb6rg-x" + L, "UTF-8 user, ext"), (b"j\xc3\xb6rg-y" + L, "UTF-8 user, no .qmail-y"),
    (b"joe-\xc3\xa9t\xc3\xa9" + L, ".qmail- in UTF-8"), (b"joe-\xc3\x89T\xc3\x89" + L, "UTF-8 upper case ext"),
    (b"carol-\xc3\xa9" + L, "UTF-8 ext, catch-all"), (b"\xc3\xa9t\xc3\xa9" + L, "UTF-8 unknown user"),
    (b"u31" + b"x" * 28 + L, "31-byte user"), (b"u31" + b"x" * 28 + b"-x" + L, "31-byte user, ext"),
    (b"u32" + b"x" * 29 + L, "32-byte user"), (b"u32" + b"x" * 29 + b"-x" + L, "32-byte user, ext"),
    (b"dot.user" + L, "dot in user name"), (b"dot.user-a.b" + L, "dot user, .qmail-a:b"),
    (b"privu" + L, "0700 home"), (b"privu-yes" + L, "0700 home, .qmail-yes"),
    (b"privu-no" + L, "0700 home, no .qmail-no"), (b"zerohome" + L, "0000 home"),
    (b"zerohome-y" + L, "0000 home, ext"), (b"symhome" + L, "home is a symlink"),
    (b"shadowed" + L, "passwd user, users/cdb home missing"), (b"assigned" + L, "users/cdb = record"),
    (b"ASSIGNED" + L, "users/cdb, upper case"), (b"assigned-x" + L, "= record does not take ext"),
    (b"assignlist" + L, "= record with ext list"), (b"rootrec" + L, "users/cdb uid 0"),
    (b"relhome" + L, "users/cdb relative home"), (b"upperassign" + L, "=UpperAssign"),
    (b"UpperAssign" + L, "=UpperAssign as written"), (b"wild-x" + L, "+wild- .qmail-wild-x"),
    (b"WILD-X" + L, "+wild- upper case"), (b"wild-y" + L, "+wild-, no .qmail-wild-y"),
    (b"wild-" + L, "+wild-, empty rest"), (b"mixed-x" + L, "+Mixed- to carol's default"),
    (b"Mixed-x" + L, "+Mixed- as written"), (b"alias" + L, "the alias user itself"),
    (b"alias-postmaster" + L, "alias user, ext"), (b"postmaster" + L, "~alias/.qmail-postmaster"),
    (b"Postmaster" + L, "upper case postmaster"), (b"MAILER-DAEMON" + L, "~alias/.qmail-mailer-daemon"),
    (b"nosuch" + L, "plain unknown"), (b"nosuch-x" + L, "plain unknown, ext"),
    (b"joe.ext1" + L, "dot instead of dash"), (b"joe%x" + L, "percent, not a percenthack domain"),
    (b"info@virt.example", "virtual: joe-virt-info"), (b"INFO@VIRT.EXAMPLE", "virtual, upper case"),
    (b"x@virt.example", "virtual: joe-virt-x, no file"), (b"special@virt.example", "virtualdomains address key"),
    (b"anything@carolvirt.example", "virtual to carol's default"), (b"x@nouser.example", "virtual prefix, no user"),
    (b"x@alias.example", "virtual prefix alias"), (b"postmaster@alias.example", "virtual alias-postmaster"),
    (b"x@a.sub.example", "virtual .sub.example wildcard"), (b"x@except.sub.example", "virtualdomains exception: remote"),
    (b"x@remote.example", "remote"), (b"joe%local.example@pct.example", "percenthack to joe"),
    (b"nosuch%local.example@pct.example", "percenthack to unknown"), (b"joe@pct.example", "percenthack domain, no %"),
    (b"a%joe%local.example@pct.example", "two %"), (b"joe%remote.example@pct.example", "percenthack to remote"),
    (b"joe@[127.0.0.1]", "localiphost"), (b"nosuch@[127.0.0.1]", "localiphost, unknown"),
    (b"joe", "no domain: envnoathost"), (b"nosuch", "no domain, unknown"),
    (b'""' + L, "empty local part"), (b"", "<>"), (b"@other.example:joe" + L, "source route"),
    (b"joe-ro" + L, "mode 0400"), (b"joe-wo" + L, "mode 0200: owner cannot read"),
    (b"joe-owner0060" + L, "mode 0060, owned by joe"), (b"joe-grpread" + L, "bob's 0640, group = joe's gid"),
    (b"joe-suppgrp" + L, "bob's 0640, group joe is a supplementary member of"),
    (b"joe-loop" + L, "symlink loop"), (b"joe-devnull" + L, "symlink to /dev/null"),
    (b"joe-wwdir" + L, "0777 directory"), (b'"joe-a b"' + L, "quoted, space: .qmail-a b"),
    (b'"joe"' + L, "quoted user"), (b"jo\\e" + L, "backslash escape"),
    (b"joe-dir/" + L, ".qmail-dir/ is the directory"), (b"joe-dir//x" + L, "double slash"),
    (b"joe-dir/x/" + L, "trailing slash on a file"), (b"joe-dir/sub-any" + L, ".qmail-dir/sub-default"),
    (b"joe-dir/../ext1" + L, "dots become colons: no traversal"), (b"dashy-/x" + L, ".qmail- is a file"),
    (b"emptyhome" + L, "passwd home empty"), (b"relpw" + L, "passwd home relative"),
    (b"trail" + L, "passwd home with trailing slash"), (b"trail-x" + L, "same, .qmail-x"),
    (b"dashempty" + L, "= record dash - ext empty: .qmail-"), (b"dashempty2" + L, "same, no .qmail-"),
    (b"wild-a-x" + L, "+wild-a- beats +wild-"), (b"wild-b-x" + L, "+wild- only"),
    (b"x@upvirt.example", "virtual prefix CAROL"), (b"x@listvirt.example", "virtual prefix joe-list"),
    (b"y@listvirt.example", "virtual prefix joe-list, no file"),
    (b"joe%local.example@PCT.EXAMPLE", "percenthack, upper case"),
    (b"joe%local.example%other.example@pct.example", "percenthack, two domains"),
    (b"joe@local.example.", "trailing dot: not in rcpthosts"),
    (b"qmaildonly" + L, "home in a 0700 dir of qmaild's"), (b"qmaildonly-x" + L, "same, .qmail-x"),
    (b"qmaildonly-y" + L, "same, no .qmail-y"), (b"qmailponly" + L, "home in a 0700 dir of qmailp's"),
    (b"qmailponly-y" + L, "same, no .qmail-y"), (b"joe-\xe9" + L, ".qmail-\\xe9"),
    (b"joe-\xc9" + L, "latin-1 upper case: not lower-cased"), (b"joe-UP" + L, "only .qmail-UP exists"),
    (b"dashend-" + L, "user name ends in -"), (b"dashend--x" + L, "same, .qmail-x"),
    (b"dashend-x" + L, "user dashend does not exist"), (b"-x" + L, "local part starts with -"),
    (b"-" + L, "local part -"), (b"joe@x" + L, "two @: local part joe@x"),
    (b"SPECIAL@virt.example", "virtualdomains address key, upper case"),
]

# bouncesaying (netqmail's, on qmail-start's PATH as in netqmail's rc
# scripts): in .qmail files of the user bs, in bsdef's .qmail-default, and
# (configuration alias-bouncesaying) in ~alias/.qmail-default.
BCORNER = [
    (b"bs-gone" + L, "|bouncesaying 'Gone.'"), (b"bs-plain" + L, "|bouncesaying Gone."),
    (b"BS-GONE" + L, "|bouncesaying, upper case address"),
    (b"bs-space" + L, "| bouncesaying 'Gone.' (space after |)"),
    (b"bs-tab" + L, "|bouncesaying<TAB>'Gone.'<TAB>"), (b"bs-dq" + L, '|bouncesaying "Gone, sorry."'),
    (b"bs-abs" + L, "|/var/qmail/bin/bouncesaying 'Gone.'"), (b"bs-usage" + L, "|bouncesaying (no text: usage, 100)"),
    (b"bs-condf" + L, "|bouncesaying 'No.' false: delivers"),
    (b"bs-condt" + L, "|bouncesaying 'No.' true: bounces (accepted: conditional)"),
    (b"bs-condmissing" + L, "|bouncesaying 'No.' no-such-program: exec fails, delivers"),
    (b"bs-condempty" + L, "|bouncesaying 'No.' '': exec fails, delivers"),
    (b"bs-filefirst" + L, "./Maildir/ then |bouncesaying: delivered, then bounced"),
    (b"bs-filelast" + L, "|bouncesaying then ./Maildir/"),
    (b"bs-fwdfirst" + L, "&joe then |bouncesaying: forwards are sent after the last line"),
    (b"bs-fwdbare" + L, "joe, &bob, then |bouncesaying"), (b"bs-fwdonly" + L, "&joe only"),
    (b"bs-comment" + L, "# comment, then |bouncesaying"),
    (b"bs-truefirst" + L, "|true, then |bouncesaying"),
    (b"bs-blankfirst" + L, "blank first line, then |bouncesaying"),
    (b"bs-plist" + L, "+list, then |bouncesaying: forward-only"),
    (b"bs-plistfwd" + L, "+list, &joe, |bouncesaying"),
    (b"bs-xbit" + L, "x bit, |bouncesaying"), (b"bs-xbitfwd" + L, "x bit, &joe only"),
    (b"bs-shellvar" + L, '|bouncesaying "$HOME" (shell-expanded)'),
    (b"bs-shellsemi" + L, "|bouncesaying 'Gone.'; exit 0: sh exits 0"),
    (b"bs-shellor" + L, "|bouncesaying 'Gone.' || exit 0"),
    (b"bs-backq" + L, "|bouncesaying `echo Gone.`"), (b"bs-assign" + L, "|X=1 bouncesaying Gone."),
    (b"bs-exec" + L, "|exec bouncesaying 'Gone.'"), (b"bs-hash" + L, "|bouncesaying 'Gone.' # why"),
    (b"bs-upper" + L, "|BOUNCESAYING: sh: not found (127)"),
    (b"bs-nosuchpath" + L, "|/no/such/bouncesaying: not found (127)"),
    (b"bs-relpath" + L, "|./bouncesaying: not in the home (127)"),
    (b"bs-crlf" + L, "|bouncesaying 'Gone.'\\r: the text ends in CR"),
    (b"bs-nosuchext" + L, "bs has no .qmail-default"), (b"bs" + L, "bs itself: default delivery"),
    (b"bsdef" + L, "bsdef: default delivery"), (b"bsdef-real" + L, "bsdef's .qmail-real"),
    (b"bsdef-anything" + L, "bsdef's .qmail-default: |bouncesaying"),
    (b"BSDEF-Anything" + L, "same, upper case"), (b"bsdef-real-x" + L, "real-x: .qmail-default"),
    (b"bsdef-list-x" + L, ".qmail-list-default: &joe"), (b"bsdef-list" + L, "list: .qmail-default"),
    (b"x@bsvirt.example", "virtual domain to bsdef: bouncesaying"),
    (b"real@bsvirt.example", "virtual domain to bsdef-real"),
    (b"mailbox-gone" + L, "unknown: ~alias/.qmail-default (bouncesaying in alias-bouncesaying)"),
]

# fastforward (Debian's, cdbs made by its setforward): ~ffuser/.qmail-*, the
# virtual domains ffvirt.example and ffwild.example (to ffuser-d), and in
# configuration alias-fastforward ~alias/.qmail-default
# `| fastforward -d /var/qmail/alias/aliases.cdb`.
FCORNER = [
    (b"ffuser-ff-known" + L, "-p, in ff.cdb"), (b"ffuser-ff-unknown" + L, "-p, not in ff.cdb: ./Maildir/"),
    (b"ffuser-strict-known" + L, "no -p, in strict.cdb ($RECIPIENT)"),
    (b"ffuser-strict-unknown" + L, "no -p, not in strict.cdb"),
    (b"FFUSER-STRICT-KNOWN@LOCAL.EXAMPLE", "strict, upper case address"),
    (b"ffuser-strict-upper" + L, "strict.cdb key written in mixed case"),
    (b"ffuser-strict-anyhost@other.example", "strict.cdb user@ wildcard"),
    (b"ffuser-strict-anyhost" + L, "strict.cdb user@ wildcard, local.example"),
    (b"ffuser-d-known" + L, "-d: known@local.example"), (b"ffuser-d-unknown" + L, "-d, not in d.cdb"),
    (b"ffuser-d-webmaster" + L, "-d, user@ wildcard webmaster@"),
    (b"ffuser-d-KNOWN" + L, "-d, upper case DEFAULT"),
    (b"known@ffvirt.example", "virtual, -d: known@ffvirt.example"),
    (b"KNOWN@FFVIRT.EXAMPLE", "virtual, -d, upper case"), (b"upper@ffvirt.example", "key Upper@FFVirt.Example"),
    (b"unknown@ffvirt.example", "virtual, -d, not in d.cdb"),
    (b"webmaster@ffvirt.example", "virtual, -d, user@ wildcard"),
    (b"WebMaster@ffvirt.example", "same, mixed case"),
    (b"anything@ffwild.example", "virtual, -d, @host wildcard"),
    (b"webmaster@ffwild.example", "@host wildcard and user@ wildcard"),
    (b'"quoted@x"@ffvirt.example', "local part with @: key quoted@x@ffvirt.example"),
    (b'"trap@x"@ffvirt.example', "local part with @: trap@ only matches a split at the first @"),
    (b"remote@ffvirt.example", "forwards to a remote address"),
    (b"prog@ffvirt.example", "cdb entry |bouncesaying: fastforward bounces"),
    (b"progok@ffvirt.example", "cdb entry |true"), (b"list@ffvirt.example", "cdb entry with two targets"),
    (b"ffuser-dp-known" + L, "-dp then |bouncesaying, known"),
    (b"ffuser-dp-unknown" + L, "-dp then |bouncesaying, unknown"),
    (b"ffuser-dpfile-unknown" + L, "-d -p then ./Maildir/, unknown"),
    (b"ffuser-dd-known" + L, "-dD: $RECIPIENT again"), (b"ffuser-n-known" + L, "-n (no delivery), known"),
    (b"ffuser-n-unknown" + L, "-n, unknown"), (b"ffuser-abs-unknown" + L, "/usr/bin/fastforward, unknown"),
    (b"ffuser-abs-known" + L, "/usr/bin/fastforward, known"),
    (b"ffuser-nocdb-known" + L, "cdb missing"), (b"ffuser-badcdb-known" + L, "cdb is 10 bytes of text"),
    (b"ffuser-rootcdb-known" + L, "cdb root's 0600"), (b"ffuser-absdir-unknown" + L, "absolute cdb path, unknown"),
    (b"ffuser-badopt-unknown" + L, "fastforward -x: usage (100)"),
    (b"ffuser-noarg-unknown" + L, "fastforward -d without cdb: usage (100)"),
    (b"ffuser-exact" + L, "-d in .qmail-exact: $EXT@$HOST exact@local.example"),
    (b"ffuser-exact2" + L, "-d in .qmail-exact2: not in d.cdb"),
    (b"ffuser-pfwd-unknown" + L, "&bob, -dp not found, |bouncesaying"),
    (b"ffuser-pfwd-webmaster" + L, "&bob, -dp found (webmaster@)"),
    (b"ffuser-xbit-known" + L, "x bit and a program line"),
    (b"sales" + L, "alias-fastforward: sales@local.example"), (b"SALES" + L, "same, upper case"),
    (b"upper" + L, "aliases key Upper@Local.Example"), (b"nosuch@other.example", "@other.example wildcard"),
    (b"webmaster" + L, "aliases user@ wildcard"), (b"webmaster@alias.example", "same, virtual alias-webmaster"),
    (b"y@alias.example", "virtual alias-y, not in aliases"), (b"remotefw" + L, "aliases: to a remote address"),
    (b"progbounce" + L, "aliases: |bouncesaying"), (b'"quoted@x"' + L, "aliases key quoted@x@local.example"),
]

def random_addrs(rng, n, fx):
    """n addresses built from the fixture's names and .qmail extensions,
    with case changes, dots and colons, slashes and extra dashes."""
    names = [u[0] for u in fx.users if not u[0].startswith(b"sym")] + [
        b"assigned", b"assignlist", b"wild", b"mixed", b"upperassign", b"rootrec", b"relhome",
        b"nosuch", b"alias", b"postmaster", b"info", b"root", b"x", b"joe-list", b"sales"]
    exts = [b"ext1", b"a.b", b"a:b", b"a-x", b"a-b-c", b"a", b"dir/x", b"dir/y", b"isdir", b"fifo",
            b"symdir", b"dangling", b"symfile", b"sock", b"noread", b"rootonly", b"writable", b"gwrit",
            b"xbit", b"prog", b"blank", b"empty", b"comment", b"default", b"list", b"x", b"y", b"yes",
            b"no", b"virt-info", b"virt-x", b"sub-x", b"wild-x", b"m-x", b"special", b"foo", b"bar",
            b"gone", b"condt", b"filefirst", b"fwdfirst", b"ff-known", b"strict-known", b"d-known",
            b"d-x", b"dp-x", b"real", b"webmaster", b"sales"]
    local_domains = [b"local.example"] * 6 + [b"other.example", b"LOCAL.EXAMPLE", b"pct.example", b"[127.0.0.1]", None]
    virt_domains = [b"virt.example", b"carolvirt.example", b"nouser.example", b"alias.example", b"b.sub.example"]
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.2:                       # a virtual domain: the local part is an extension
            lp = rng.choice(exts + names[:10])
            dom = rng.choice(virt_domains)
        else:
            lp = rng.choice(names)
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                lp += b"-" + rng.choice(exts)
            dom = rng.choice(local_domains)
        m = rng.random()                  # mutations: case, dots, slashes, dashes
        if m < 0.2:
            lp = bytes(c ^ 0x20 if 97 <= c <= 122 and rng.random() < 0.5 else c for c in lp)
        elif m < 0.3:
            lp = lp.replace(b":", b".") if rng.random() < 0.5 else lp.replace(b".", b":")
        elif m < 0.38:
            lp += rng.choice([b"/x", b"/", b"/../x", b"-dir/x"])
        elif m < 0.46:
            lp += rng.choice([b"-", b"--", b"-default", b"."])
        elif m < 0.5:
            i = rng.randrange(len(lp) + 1)
            lp = lp[:i] + b"-" + lp[i:]
        if dom == b"pct.example" and rng.random() < 0.5:
            lp += b"%" + rng.choice([b"local.example", b"other.example", b"virt.example"])
        out.append(lp + (b"@" + dom if dom else b""))
    return out

# ------------------------------------------------------------------ vpopmail

VPOPUID = 64020         # the vpopmail user and vchkpw group of the namespace
VCHKPW = 64020
VPOP_DEFAULT_SRC = "/work/.mirror/sagredo-dev+vpopmail/repo"

class Vpopmail:
    """vpopmail (sagredo-dev/vpopmail) built with the cdb backend and
    without --enable-qmail-ext into ~vpopmail = T/vpopmail, domains made by
    its own vadddomain, vadduser, vmoduser, valias and vaddaliasdomain
    (they edit users/assign, rcpthosts and virtualdomains and run
    qmail-newu, as on a real system; a stand-in `ps` keeps them from
    signalling any qmail-send). This vadddomain writes `| vdelivermail ''
    delete` (its usage message notwithstanding); example.net and
    vp-nocdb.example get `bounce-no-mailbox` by hand, as qmailadmin's
    "bounce" setting writes it, and vp-del.example keeps vadddomain's."""

    def __init__(self, top, src):
        self.top = top
        self.src = src
        self.home = os.path.join(top, "vpopmail")
        self.users = {}          # domain -> set of user names
        self.delete = set()      # domains whose .qmail-default is vdelivermail '' delete
        self.skipped = None      # why vpopmail was not used

    def passwd_line(self):
        return b"vpopmail:x:%d:%d:vpopmail:%s:/bin/false\n" % (VPOPUID, VCHKPW, self.home.encode())

    def build(self):
        """Returns None, or why it could not be built."""
        t0 = time.time()
        tree = os.path.join(self.top, "vpopmail-src")
        os.mkdir(tree)
        if os.path.isdir(os.path.join(self.src, "objects")) or os.path.isfile(os.path.join(self.src, "HEAD")) \
                or os.path.isdir(os.path.join(self.src, ".git")):
            arch = subprocess.run(["git", "-C", self.src, "archive", "HEAD"], capture_output=True)
            if arch.returncode:
                return "git archive failed: " + arch.stderr.decode("latin-1")[-200:]
            subprocess.run(["tar", "-x", "-C", tree], input=arch.stdout, check=True)
        else:
            subprocess.run(["cp", "-R", self.src + "/.", tree], check=True)
        os.mkdir(self.home)
        os.chown(self.home, VPOPUID, VCHKPW)
        os.chmod(self.home, 0o755)
        logf = os.path.join(self.top, "vpopmail-build.log")
        steps = [["./configure", "--enable-qmaildir=" + QMAIL,
                  "--enable-qmail-newu=%s/bin/qmail-newu" % QMAIL,
                  "--enable-qmail-inject=%s/bin/qmail-inject" % QMAIL,
                  "--enable-qmail-newmrh=%s/bin/qmail-newmrh" % QMAIL,
                  "--enable-auth-module=cdb", "--disable-qmail-ext",
                  "--enable-vpopuser=vpopmail", "--enable-vpopgroup=vchkpw",
                  "--disable-roaming-users", "--disable-rebuild-tcpserver-file",
                  "--enable-logging=n", "--disable-auth-logging"],
                 ["make", "-j2"], ["make", "install-strip"]]
        with open(logf, "wb") as lf:
            for cmd in steps:
                r = subprocess.run(cmd, cwd=tree, stdout=lf, stderr=subprocess.STDOUT)
                if r.returncode and cmd[0] == "make" and cmd[1] == "-j2":
                    r = subprocess.run(["make"], cwd=tree, stdout=lf, stderr=subprocess.STDOUT)
                if r.returncode:
                    return "%s failed (exit %d): %s" % (" ".join(cmd[:2]), r.returncode,
                                                        show(open(logf, "rb").read()[-300:]))
        for p in ("vdelivermail", "vadddomain", "vadduser", "vmoduser", "valias", "vaddaliasdomain"):
            if not os.access(os.path.join(self.home, "bin", p), os.X_OK):
                return "bin/%s was not installed" % p
        log("built vpopmail in %.0fs" % (time.time() - t0))
        return None

    def tool(self, *args):
        fake = os.path.join(self.top, "fake-ps")
        if not os.path.isdir(fake):
            os.mkdir(fake)
            write(fake + "/ps", b"#!/bin/sh\necho '  PID TTY      STAT   TIME COMMAND'\n", 0o755)
        env = {"PATH": fake + ":/usr/bin:/bin", "HOME": "/"}
        r = subprocess.run([os.path.join(self.home, "bin", args[0]), *args[1:]], env=env,
                           cwd=self.home, capture_output=True, preexec_fn=lambda: os.umask(0o022))
        if r.returncode:
            die("vpopmail: %s: exit %d: %s" % (" ".join(args), r.returncode,
                                               show(r.stdout + r.stderr)))
        return r.stdout

    def domdir(self, domain):
        return os.path.join(self.home, "domains", domain)

    def setup(self):
        """Domains and users. After this, users/assign, rcpthosts and
        virtualdomains carry vpopmail's records."""
        vdm = os.path.join(self.home, "bin", "vdelivermail")
        def adduser(addr, *flags):
            self.tool("vadduser", addr, "secret")
            if flags:
                self.tool("vmoduser", *flags, addr)
            u, d = addr.split("@")
            self.users.setdefault(d.encode(), set()).add(u.encode())
        def bounce(domain):
            write(self.domdir(domain) + "/.qmail-default", b"| %s '' bounce-no-mailbox\n" % vdm.encode(),
                  0o600, VPOPUID, VCHKPW)
        self.tool("vadddomain", "example.net", "secret")
        self.vadddomain_default = open(self.domdir("example.net") + "/.qmail-default", "rb").read()
        bounce("example.net")
        self.users[b"example.net"] = {b"postmaster"}
        for u in ("joe", "first.last", "mary-ann", "x-y-z"):
            adduser(u + "@example.net")
        adduser("locked@example.net", "-b")           # BOUNCE_MAIL (0x10): bounces
        adduser("flagged@example.net", "-p")          # NO_PASSWD_CHNG (0x01): delivers
        adduser("locked2@example.net", "-b", "-p")    # both bits
        self.tool("valias", "-i", "joe@example.net", "sales@example.net")       # .qmail-sales
        self.tool("valias", "-i", "&joe@example.net", "sales.team@example.net") # .qmail-sales:team
        self.tool("valias", "-i", "|bouncesaying 'Gone.'", "gone@example.net")  # .qmail-gone
        self.tool("valias", "-i", "joe@example.net", "shadow@example.net")      # alias over a user
        adduser("shadow@example.net")
        self.tool("vaddaliasdomain", "example.net", "vp-alias.example")
        self.tool("vadddomain", "vp-del.example", "secret")
        self.users[b"vp-del.example"] = {b"postmaster"}
        adduser("joe@vp-del.example")
        adduser("locked@vp-del.example", "-b")
        self.tool("vadddomain", "-e", "joe@example.net", "vp-catch.example", "secret")
        self.users[b"vp-catch.example"] = {b"postmaster"}
        adduser("locked@vp-catch.example", "-b")
        self.tool("vadddomain", "-e", "postmaster", "vp-mdir.example", "secret")
        self.users[b"vp-mdir.example"] = {b"postmaster"}
        self.tool("vadddomain", "vp-nocdb.example", "secret")
        bounce("vp-nocdb.example")
        self.users[b"vp-nocdb.example"] = {b"postmaster"}
        adduser("joe@vp-nocdb.example")
        os.unlink(self.domdir("vp-nocdb.example") + "/vpasswd.cdb")  # vdelivermail rebuilds it
        self.tool("vadddomain", "vp-syntax.example", "secret")       # one argument: it defers
        self.users[b"vp-syntax.example"] = {b"postmaster"}
        write(self.domdir("vp-syntax.example") + "/.qmail-default", b"| %s bounce-no-mailbox\n" % vdm.encode(),
              0o600, VPOPUID, VCHKPW)
        # a domain routed to example.net's directory with no users/cdb "!" record
        with open(QMAIL + "/control/virtualdomains", "ab") as f:
            f.write(b"vpnorec.example:example.net\n")
        with open(QMAIL + "/control/rcpthosts", "ab") as f:
            f.write(b"vpnorec.example\n")
        for d in os.listdir(os.path.join(self.home, "domains")):
            f = self.domdir(d) + "/.qmail-default"
            if os.path.isfile(f) and open(f, "rb").read().rstrip().endswith(b"'' delete"):
                self.delete.add(d.encode())

    def discards(self, addr):
        """An address vdelivermail '' delete would discard (no such user)."""
        lp, _, dom = addr.rpartition(b"@")
        return dom.lower() in self.delete and lp.lower() not in self.users.get(dom.lower(), set())

V = b"@example.net"
VCORNER = [
    (b"joe" + V, "vpopmail user"), (b"JOE@EXAMPLE.NET", "vpopmail user, upper case"),
    (b"nosuch" + V, "no vpopmail user: bounce-no-mailbox"), (b"postmaster" + V, "vadddomain's postmaster"),
    (b"first.last" + V, "user with a dot (.qmail-first:last lookups)"), (b"mary-ann" + V, "user with a dash"),
    (b"mary" + V, "first part of mary-ann"), (b"x-y-z" + V, "user x-y-z"), (b"x-y" + V, "no user x-y"),
    (b"joe-ext" + V, "joe-ext: no qmail-ext build, no user"), (b"joe-" + V, "joe-"),
    (b"locked" + V, "vmoduser -b: BOUNCE_MAIL"), (b"LOCKED" + V, "locked, upper case"),
    (b"flagged" + V, "vmoduser -p: NO_PASSWD_CHNG, delivers"), (b"locked2" + V, "-b -p"),
    (b"sales" + V, "valias: .qmail-sales"), (b"SALES" + V, "valias, upper case"),
    (b"sales.team" + V, "valias: .qmail-sales:team"), (b"sales-x" + V, "no .qmail-sales-default: vdelivermail"),
    (b"gone" + V, "valias |bouncesaying: .qmail-gone"), (b"shadow" + V, "valias and a user of the same name"),
    (b'"a b"' + V, "space: vpopmail's invalid username"), (b"j\xf6rg" + V, "8-bit: invalid username"),
    (b"a:b" + V, "colon: invalid username"), (b'""' + V, "empty user"), (b"a=b" + V, "= is allowed"),
    (b"joe@vp-alias.example", "alias domain (vaddaliasdomain)"), (b"nosuch@vp-alias.example", "alias domain, no user"),
    (b"locked@vp-alias.example", "alias domain, locked"), (b"sales@vp-alias.example", "alias domain, .qmail-sales"),
    (b"JOE@VP-ALIAS.EXAMPLE", "alias domain, upper case"),
    (b"joe@vp-del.example", "delete domain, user"), (b"nosuch@vp-del.example", "delete domain: qmail discards"),
    (b"locked@vp-del.example", "delete domain, locked user"), (b"postmaster@vp-del.example", "delete domain, postmaster"),
    (b'"a b"@vp-del.example', "delete domain, invalid username"), (b'""@vp-del.example', "delete domain, empty user"),
    (b"nosuch@vp-catch.example", "catch-all to joe@example.net"), (b"locked@vp-catch.example", "catch-all domain, locked"),
    (b"LOCKED@vp-catch.example", "catch-all domain, locked, upper case"),
    (b'"a b"@vp-catch.example', "catch-all domain, invalid username"),
    (b"postmaster@vp-catch.example", "catch-all domain, postmaster"),
    (b"nosuch@vp-mdir.example", "catch-all to a directory (-e postmaster)"),
    (b"a:b@vp-mdir.example", "catch-all to a directory, invalid username"),
    (b"j\xf6rg@vp-mdir.example", "catch-all to a directory, 8-bit username"),
    (b"postmaster@vp-syntax.example", "vdelivermail with one argument: defers"),
    (b"nosuch@vp-syntax.example", "same, no user"),
    (b"joe@vp-nocdb.example", "vpasswd.cdb removed: vdelivermail rebuilds it"),
    (b"nosuch@vp-nocdb.example", "same, no user"),
    (b"joe@vpnorec.example", "virtualdomains to example.net, no users/cdb ! record"),
    (b"nosuch@vpnorec.example", "same, no user"),
]

def random_vpop_addrs(rng, n):
    names = [b"joe", b"nosuch", b"postmaster", b"first.last", b"first", b"mary-ann", b"mary", b"x-y-z",
             b"locked", b"flagged", b"sales", b"sales.team", b"gone", b"shadow", b"info", b"abuse"]
    doms = [b"example.net"] * 4 + [b"vp-alias.example", b"vp-del.example", b"vp-catch.example",
                                   b"vp-mdir.example", b"vp-nocdb.example", b"EXAMPLE.NET", b"vpnorec.example"]
    out = []
    while len(out) < n:
        lp = rng.choice(names)
        m = rng.random()
        if m < 0.25:
            lp = bytes(c ^ 0x20 if 97 <= c <= 122 and rng.random() < 0.5 else c for c in lp)
        elif m < 0.45:
            lp += rng.choice([b"-x", b"-", b"-default", b".x", b"-a-b"])
        elif m < 0.5:
            lp = lp.replace(b".", b":")
        out.append(lp + b"@" + rng.choice(doms))
    return out

# ------------------------------------------------------------------- qmail

class QmailSend:
    """qmail-start ./Maildir/ cat, stdout into a log file; its own process
    group. PATH as netqmail's rc scripts give it (env - PATH="/var/qmail/bin:
    $PATH" qmail-start ...), so .qmail programs find bouncesaying.

    Only messages queued with uid qmaild (by netqmail's qmail-smtpd) are
    followed: forwards (qmail-local, fastforward, vdelivermail) and double
    bounces have other uids, and their qp, a pid, may equal an injected
    one once pids wrap (pid_max is often 32768)."""

    def __init__(self, logpath):
        self.logpath = logpath
        env = {"PATH": QMAIL + "/bin:/usr/local/bin:/usr/bin:/bin"}
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen([QMAIL + "/bin/qmail-start", "./Maildir/", "cat"],
                                  stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
                                  env=env, cwd="/", start_new_session=True)
        self.f = open(logpath, "rb")
        self.buf = b""
        self.msg_qp = {}     # current message number -> qp (inode numbers are reused)
        self.deliv = {}      # delivery number -> qp
        self.start = {}      # qp -> (channel, address) of the first delivery
        self.result = {}     # qp -> (success|deferral|failure, text)
        self.lines = []

    def poll(self):
        data = self.f.read()
        if not data:
            return
        self.buf += data
        lines = self.buf.split(b"\n")
        self.buf = lines.pop()
        for l in lines:
            self.lines.append(l)
            m = re.match(rb"info msg (\d+): bytes \d+ from <.*> qp (\d+) uid (\d+)$", l)
            if m:
                if int(m[3]) == QMAILD:
                    self.msg_qp[m[1]] = int(m[2])
                else:
                    self.msg_qp.pop(m[1], None)
                continue
            m = re.match(rb"starting delivery (\d+): msg (\d+) to (local|remote) (.*)$", l)
            if m:
                qp = self.msg_qp.get(m[2])
                if qp is not None and qp not in self.start:
                    self.start[qp] = (m[3].decode(), m[4])
                    self.deliv[m[1]] = qp
                continue
            m = re.match(rb"delivery (\d+): (success|deferral|failure): (.*)$", l)
            if m:
                qp = self.deliv.pop(m[1], None)
                if qp is not None:
                    self.result[qp] = (m[2].decode(), m[3])
                continue
            m = re.match(rb"delivery (\d+): report mangled, will defer", l)
            if m:
                qp = self.deliv.pop(m[1], None)
                if qp is not None:
                    self.result[qp] = ("deferral", b"(report mangled)")
                continue
            m = re.match(rb"end msg (\d+)$", l)
            if m:
                self.msg_qp.pop(m[1], None)

    def forget(self, qps):
        """A new message has each of these qps: drop what an older one with
        the same qp (pids wrap) left. Call before polling its lines."""
        for q in qps:
            self.start.pop(q, None)
            self.result.pop(q, None)
        for d, q in list(self.deliv.items()):
            if q in qps:
                del self.deliv[d]

    def wait_for(self, qps, limit=300, quiet=30):
        """Until every qp has its first result, or nothing new for `quiet` s."""
        t0 = last = time.time()
        have = 0
        while True:
            self.poll()
            n = sum(1 for q in qps if q in self.result)
            if n == len(qps):
                return
            if n != have:
                have, last = n, time.time()
            if self.p.poll() is not None:
                die("qmail-send exited; log: " + show(b"\n".join(self.lines[-10:])))
            if time.time() - last > quiet or time.time() - t0 > limit:
                log("  timeout: %d of %d deliveries have no result" % (len(qps) - n, len(qps)))
                return
            time.sleep(0.2)

    def stop(self):
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        # qmail-lspawn, qmail-rspawn, qmail-clean and the logger exit on EOF;
        # whatever is left of our process group is killed.
        for _ in range(50):
            left = [pid for pid in os.listdir("/proc") if pid.isdigit() and pgid_of(pid) == self.p.pid]
            if not left:
                break
            if _ == 25:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.logf.close()

def pgid_of(pid):
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            s = f.read()
        return int(s[s.rindex(b")") + 2:].split()[2])
    except (OSError, ValueError, IndexError):
        return None

def as_qmaild(cmd, ids=(QMAILD, NOFILES)):
    return ["setpriv", "--reuid=%d" % ids[0], "--regid=%d" % ids[1], "--clear-groups", *cmd]

SMTP_ENV = {"PATH": "/usr/bin:/bin", "TCPREMOTEIP": "127.0.0.1", "TCPLOCALIP": "127.0.0.1",
            "TCPREMOTEHOST": "localhost", "TCPLOCALHOST": "local.example", "PROTO": "TCP"}

def replies(out):
    """SMTP replies in out, a multi-line reply as one (code, text)."""
    res, cur = [], []
    for line in out.split(b"\r\n"):
        if not line:
            continue
        cur.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            res.append((line[:3].decode("latin-1"), b" / ".join(cur)))
            cur = []
    return res

def netqmail_inject(addr):
    """One SMTP session with netqmail's qmail-smtpd: (RCPT reply, qp or None)."""
    inp = (b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<" + addr + b">\r\nDATA\r\n"
           b"Subject: delivery differential\r\n\r\ntest\r\n.\r\nQUIT\r\n")
    p = subprocess.run(as_qmaild([QMAIL + "/bin/qmail-smtpd"]), input=inp, capture_output=True,
                       env=SMTP_ENV, cwd="/", timeout=60)
    r = replies(p.stdout)
    if len(r) < 4:
        return (b"(no RCPT reply: %r)" % p.stdout[-200:]), None
    rcpt = r[3][1]
    for code, text in r[4:]:
        m = re.match(rb"250 ok \d+ qp (\d+)", text)
        if m:
            return rcpt, int(m[1])
    return rcpt, None

def ours_session(ours, addrs, qq, ids=(QMAILD, NOFILES)):
    """Our qmail-smtpd (as qmaild, or the uid and gid `ids`), many RCPTs per
    session; a session cut short (421) is resumed in a new one. Returns
    ([reply per address], stderr)."""
    env = dict(SMTP_ENV, QMAILHOME=QMAIL, QMAILQUEUE=qq, MAXUNKNOWNRCPT="0", MAXRCPT="100000")
    got, err, i = [], b"", 0
    while i < len(addrs):
        batch = addrs[i:i + 200]
        inp = b"HELO x\r\nMAIL FROM:<>\r\n" + b"".join(b"RCPT TO:<" + a + b">\r\n" for a in batch) + b"QUIT\r\n"
        p = subprocess.run(as_qmaild([ours], ids), input=inp, capture_output=True, env=env, cwd="/",
                           timeout=120)
        err += p.stderr
        r = replies(p.stdout)
        if len(r) < 3 or not r[0][0] == "220" or r[2][0] != "250":
            die("our qmail-smtpd did not take MAIL: %r %r" % (p.stdout[:300], p.stderr[-300:]))
        rc = r[3:3 + len(batch)]
        if not rc:
            die("our qmail-smtpd gave no RCPT reply: %r" % p.stdout[-300:])
        got += [t for _, t in rc]
        i += len(rc)
    return got, err

# ------------------------------------------------------------------- main

CATS = [  # (ours class, qmail outcome) -> category
    ("agree", "agree (2xx & delivered, 5xx & bounced, 4xx & deferred)"),
    ("acc-defer", "accepted, qmail defers (2xx & deferred)"),
    ("ref-deliv", "refused but delivered (5xx, qmail success)"),
    ("ref-defer", "refused but deferred (5xx, qmail deferral)"),
    ("acc-bounce", "accepted but bounced (2xx, qmail failure)"),
    ("temp-deliv", "temp-refused but delivered (4xx, success)"),
    ("temp-bounce", "temp-refused but bounced (4xx, failure)"),
    ("not-queued", "not queued by netqmail's own qmail-smtpd (no delivery to compare)"),
    ("no-result", "no first delivery result from qmail-send in time"),
    ("ref-discard", "refused, vdelivermail '' delete discards (as the man page says)"),
]

def categorize(ours_code, outcome):
    c = ours_code[:1]
    table = {("2", "success"): "agree", ("5", "failure"): "agree", ("4", "deferral"): "agree",
             ("2", "deferral"): "acc-defer", ("5", "success"): "ref-deliv",
             ("5", "deferral"): "ref-defer", ("2", "failure"): "acc-bounce",
             ("4", "success"): "temp-deliv", ("4", "failure"): "temp-bounce"}
    return table.get((c, outcome), "other")

def write(path, data, mode=0o644, uid=0, gid=0):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)

ALIASES = (  # setforward input for ~alias/aliases.cdb (configuration alias-fastforward)
    b"sales@local.example: joe@local.example;\n"
    b"Upper@Local.Example: joe@local.example;\n"
    b"@other.example: joe@local.example;\n"
    b"webmaster@: joe@local.example;\n"
    b"x@alias.example: joe@local.example;\n"
    b"remotefw@local.example: someone@remote.example;\n"
    b"progbounce@local.example: |bouncesaying\\ 'Gone\\ via\\ aliases.';\n"
    b"quoted@x@local.example: joe@local.example;\n")

def fastforward_setup(T):
    """fastforward queues through `bin/qmail-queue` of its compiled-in qmail
    home; Debian's is /var/lib/qmail, whose bin/ gets netqmail's
    qmail-queue (a bind mount over that directory, in the namespace only).
    Returns the mount point, or None when fastforward's home is /var/qmail."""
    ffbin = "/var/lib/qmail/bin"
    if not os.path.isdir(ffbin):
        return None
    d = T + "/ff-bin"
    os.mkdir(d)
    for n in os.listdir(ffbin):
        if n != "qmail-queue":
            os.symlink(os.path.realpath(os.path.join(ffbin, n)), os.path.join(d, n))
    os.symlink(QMAIL + "/bin/qmail-queue", d + "/qmail-queue")
    return ffbin

def run(src, ours_src, seed, count):
    t_start = time.time()
    rng = random.Random(seed)
    T = tempfile.mkdtemp(prefix="delivery-diff.", dir="/tmp")
    os.chmod(T, 0o755)
    mounts = Mounts()
    qs = None
    have_ff = bool(shutil.which("fastforward") and shutil.which("setforward")) and \
        not os.environ.get("NOFASTFORWARD")
    if not have_ff and not os.environ.get("NOFASTFORWARD"):
        die("fastforward is not installed (apt-get install fastforward); NOFASTFORWARD=1 skips its cases")
    vsrc = os.environ.get("VPOPMAIL_SRC", VPOP_DEFAULT_SRC if os.path.isdir(VPOP_DEFAULT_SRC) else "")
    optional = {"fastforward": "yes" if have_ff else "skipped (NOFASTFORWARD)"}
    try:
        # ---- users and groups, then the mounts
        fx = Fixture(T)
        real_pw = open("/etc/passwd", "rb").read()
        real_gr = open("/etc/group", "rb").read()
        real_names = {l.split(b":")[0] for l in real_pw.splitlines()}
        real_groups = {l.split(b":")[0] for l in real_gr.splitlines()}
        for n in [u[0].encode() for u in QMAIL_USERS] + [b"joe", b"bob", b"carol"]:
            if n in real_names:
                die("user %s already exists on this machine; this script is for machines "
                    "without qmail users (it adds its own, with fixed ids)" % n.decode())
        vp = None
        if not vsrc:
            optional["vpopmail"] = "skipped (no VPOPMAIL_SRC)"
        elif b"vpopmail" in real_names or b"vchkpw" in real_groups:
            optional["vpopmail"] = "skipped (a vpopmail user or vchkpw group exists on this machine)"
        else:
            vp = Vpopmail(T, vsrc)
        os.mkdir(T + "/etc")
        qmail_pw = b"".join(b"%s:x:%d:%d:qmail %s:%s:/bin/false\n" % (n.encode(), u, g, n.encode(), h.encode())
                            for n, u, g, h in QMAIL_USERS)
        if vp:
            qmail_pw += vp.passwd_line()
        groups = real_gr + b"".join(b"%s:x:%d:\n" % (n.encode(), g) for n, g in QMAIL_GROUPS) + \
            b"fixture:x:%d:\n" % FIXGID + b"suppg:x:%d:joe\n" % SUPPGID + \
            (b"vchkpw:x:%d:\n" % VCHKPW if vp else b"")
        write(T + "/etc/passwd", real_pw + qmail_pw)       # fixture users added below
        write(T + "/etc/group", groups)
        mounts.bind(T + "/etc/passwd", "/etc/passwd")
        mounts.bind(T + "/etc/group", "/etc/group")
        os.mkdir(T + "/qmail")
        if not os.path.isdir(QMAIL):
            os.mkdir(T + "/var-upper")
            os.mkdir(T + "/var-work")
            mounts.run("-t", "overlay", "overlay", "-o",
                       "lowerdir=/var,upperdir=%s/var-upper,workdir=%s/var-work" % (T, T), "/var")
            os.mkdir(QMAIL)
        mounts.bind(T + "/qmail", QMAIL)
        if have_ff:
            ffbin = fastforward_setup(T)
            if ffbin:
                mounts.bind(T + "/ff-bin", ffbin)

        # ---- build and install netqmail
        build = os.environ.get("NETQMAIL_BUILD")
        if not build:
            build = T + "/build"
            log("building netqmail-1.06 from %s ..." % src)
            subprocess.run([HERE + "/build-netqmail.sh", src, build], check=True,
                           stdout=subprocess.DEVNULL)
        ids = open(build + "/auto_uids.c").read()
        for n, u, g, h in QMAIL_USERS:
            key = {"alias": "a", "qmaild": "d", "qmaill": "l", "qmailp": "p", "qmailq": "q",
                   "qmailr": "r", "qmails": "s"}[n]
            if "int auto_uid%s = %d;" % (key, u) not in ids:
                die("%s was built with other qmail ids than %s=%d" % (build, n, u))
        subprocess.run(["./install"], cwd=build, check=True)
        subprocess.run(["./instcheck"], cwd=build, check=True)
        if not os.access(QMAIL + "/bin/bouncesaying", os.X_OK):
            die("netqmail's install left no bin/bouncesaying")

        # ---- fixture homes, users, controls, users/cdb
        assign = fx.build()
        fx.build_programs(have_ff)
        fx.alias_home()
        if have_ff:
            a = QMAIL + "/alias/aliases.cdb"
            subprocess.run(["setforward", a, a + ".tmp"], input=ALIASES, check=True)
            os.chown(a, 64010, 64011)
            os.chmod(a, 0o644)
        with open("/etc/passwd", "r+b") as f:     # in place: it is a bind mount
            f.seek(0, 2)
            f.write(fx.passwd_lines())
        base_pw = open("/etc/passwd", "rb").read()
        for name, data in CONTROLS.items():
            write(QMAIL + "/control/" + name, data)
        closed = socket.socket()                    # bound, never listening: connect is refused
        closed.bind(("127.0.0.1", 0))
        write(QMAIL + "/control/smtproutes", b":127.0.0.1:%d\n" % closed.getsockname()[1])
        write(QMAIL + "/users/assign", assign)
        subprocess.run([QMAIL + "/bin/qmail-newu"], check=True)
        if vp:
            why = vp.build()
            if why:
                log("vpopmail: " + why)
                optional["vpopmail"] = "skipped: " + why
                vp = None
            else:
                vp.setup()
                optional["vpopmail"] = "yes; vadddomain's .qmail-default: " + \
                    show(vp.vadddomain_default.rstrip(b"\n"))
        shutil.copy(QMAIL + "/users/cdb", T + "/users.cdb")   # for cfg_base
        ours = T + "/ours-qmail-smtpd"
        shutil.copy(ours_src, ours)
        os.chmod(ours, 0o755)
        qq = T + "/qmail-queue-true"
        write(qq, b"#!/bin/sh\nexec cat >/dev/null\n", 0o755)
        os.mkdir(T + "/log")

        qs = QmailSend(T + "/log/qmail-send")

        # ---- addresses
        seen, addrs = set(), []
        notes = {}
        corner = CORNER + BCORNER + (FCORNER if have_ff else [])
        for a, note in corner:
            if a not in seen:
                seen.add(a); addrs.append(a); notes[a] = note
        for a in random_addrs(rng, count * 3, fx):
            if len(addrs) >= len(corner) + count:
                break
            if a not in seen and len(a) < 900:
                seen.add(a); addrs.append(a)
        vaddrs = []
        if vp:
            for a, note in VCORNER:
                if a not in notes:
                    vaddrs.append(a); notes[a] = note
            for a in random_vpop_addrs(rng, count // 4 * 3):
                if len(vaddrs) >= len(VCORNER) + count // 4:
                    break
                if a not in notes and a not in vaddrs:
                    vaddrs.append(a)

        def cfg_base():
            with open("/etc/passwd", "r+b") as f:
                f.write(base_pw); f.truncate()
            for p in (QMAIL + "/alias/.qmail-default",):
                if os.path.exists(p):
                    os.unlink(p)
            shutil.copy(T + "/users.cdb", QMAIL + "/users/cdb")
        def cfg_alias_default():
            cfg_base()
            fx.qfile(QMAIL.encode() + b"/alias", b".qmail-default", None, 64010)
        def cfg_alias_program(line):
            def apply():
                cfg_base()
                fx.qfile(QMAIL.encode() + b"/alias", b".qmail-default", line, 64010)
            return apply
        def cfg_no_cdb():
            cfg_base()
            os.unlink(QMAIL + "/users/cdb")
        def alias_line(new):
            cfg_base()
            with open("/etc/passwd", "r+b") as f:
                f.write(b"".join((new if l.startswith(b"alias:") else l) for l in base_pw.splitlines(True)))
                f.truncate()
        def cfg_no_alias():
            alias_line(b"")
        def cfg_cdb_broken():
            cfg_base()
            write(QMAIL + "/users/cdb", b"not a cdb\n" * 10)
        def cfg_alias_nohome():
            alias_line(b"alias:x:64010:64011:qmail alias:%s/alias-missing:/bin/false\n" % QMAIL.encode())
        Q = (QMAILD, NOFILES)
        configs = [("base", cfg_base, addrs, Q), ("alias-default", cfg_alias_default, addrs, Q),
                   ("no-cdb", cfg_no_cdb, addrs, Q), ("no-alias-user", cfg_no_alias, addrs, Q),
                   ("alias-nohome", cfg_alias_nohome, addrs, Q), ("cdb-broken", cfg_cdb_broken, addrs, Q),
                   ("alias-bounce", cfg_alias_program(b"|bouncesaying 'No mailbox here by that name.'\n"),
                    addrs, Q)]
        if have_ff:
            configs.append(("alias-ff", cfg_alias_program(
                b"| fastforward -d %s/alias/aliases.cdb\n" % QMAIL.encode()), addrs, Q))
        if vp:
            configs.append(("vpopmail", cfg_base, vaddrs, (VPOPUID, VCHKPW)))

        rows = []   # (config, addr, category, qmail outcome, qmail text, channel/envelope, our reply)
        for cname, apply, caddrs, who in configs:
            apply()
            t0 = time.time()
            # ours first: what the server answers at RCPT time, before any
            # delivery changes the files (vdelivermail rebuilds vpasswd.cdb)
            got, batch_err = ours_session(ours, caddrs, qq, who)
            qs.poll()
            injected = {}
            nq_rcpt = {}
            for a in caddrs:
                rcpt, qp = netqmail_inject(a)
                nq_rcpt[a] = rcpt
                if qp is not None:
                    injected[a] = qp
            qs.forget(set(injected.values()))
            qs.wait_for(list(injected.values()))
            for a, mine in zip(caddrs, got):
                qp = injected.get(a)
                if qp is None:
                    rows.append((cname, a, "not-queued", "", nq_rcpt[a], "", mine))
                    continue
                if qp not in qs.result:
                    ch = qs.start.get(qp, ("", b""))
                    rows.append((cname, a, "no-result", "", b"", ch, mine))
                    continue
                outcome, text = qs.result[qp]
                cat = categorize(mine.decode("latin-1"), outcome)
                if cat == "ref-deliv" and vp and cname == "vpopmail" and vp.discards(a):
                    cat = "ref-discard"
                rows.append((cname, a, cat, outcome, text, qs.start[qp], mine))
            log("config %-14s %d addresses, %d queued by netqmail, %.1fs"
                % (cname, len(caddrs), len(injected), time.time() - t0))

            # our log lines for each mismatch, from a one-address session
            for i, row in enumerate(rows):
                if row[0] == cname and row[2] not in ("agree", "acc-defer"):
                    alone, err = ours_session(ours, [row[1]], qq, who)
                    extra = b""
                    if alone[0][:3] != row[6][:3]:
                        extra = b" [alone in a session, after qmail's delivery: " + alone[0] + b"]"
                        first = [re.sub(rb"^(realrcptto\S*) \d+ ", rb"\1 PID ", l)
                                 for l in batch_err.splitlines() if row[1] in l]
                        if first:
                            extra += b"  {first session's log: " + b" | ".join(first) + b"}"
                    err = b" | ".join(re.sub(rb"^(realrcptto\S*) \d+ ", rb"\1 PID ", l)
                                      for l in err.splitlines() if l.strip())
                    rows[i] = row[:6] + (row[6] + extra + (b"  {log: " + err + b"}" if err else b""),)
        cfg_base()
        report(rows, notes, configs, ours_src, src, seed, count, time.time() - t_start,
               len(corner), len(VCORNER) if vp else 0, optional)
        bad = sum(1 for r in rows if r[2] in ("ref-deliv", "ref-defer"))
        return 1 if bad else 0
    finally:
        if qs:
            qs.stop()
        mounts.undo()
        if os.environ.get("KEEP"):
            log("work directory kept: " + T)
        else:
            shutil.rmtree(T, ignore_errors=True)

def report(rows, notes, configs, ours_src, src, seed, count, secs, ncorner, nvcorner, optional):
    st = os.stat(ours_src)
    h = hashlib.sha256(open(ours_src, "rb").read()).hexdigest()[:16]
    print("delivery differential: ours %s (sha256 %s..., mtime %s)" %
          (ours_src, h, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))))
    print("  netqmail-1.06 from %s; seed %d, %d random + %d corner-case addresses per configuration; %.0fs"
          % (src, seed, count, ncorner, secs))
    print("  configurations: base (alias user, ~alias/.qmail-{postmaster,mailer-daemon,root}, users/cdb);\n"
          "    alias-default (+ ~alias/.qmail-default); no-cdb (no users/cdb); no-alias-user (no alias in\n"
          "    passwd); alias-nohome (alias's passwd home does not exist); cdb-broken (users/cdb is\n"
          "    100 bytes of text); alias-bounce (~alias/.qmail-default |bouncesaying TEXT); alias-ff\n"
          "    (~alias/.qmail-default | fastforward -d ~alias/aliases.cdb); vpopmail (ours as the vpopmail\n"
          "    user; %d + %d random addresses at vpopmail's domains only)" % (nvcorner, count // 4))
    for k, v in optional.items():
        print("  %s: %s" % (k, v))

    def line(r, cnames=None):
        cname, a, cat, outcome, text, ch, mine = r
        env = (" [%s %s]" % (ch[0], show(ch[1]))) if ch and ch[0] else ""
        note = (" (" + notes[a] + ")") if a in notes else ""
        q = ("qmail %s: %s%s" % (outcome, show(text), env)) if outcome else \
            ("netqmail qmail-smtpd: %s" % show(text) if cat == "not-queued" else "qmail: no result" + env)
        return "  <%s>%s  in %s\n      %s\n      ours: %s" % (show(a), note, ",".join(cnames or [cname]), q, show(mine))

    def grouped(sel):
        """Rows that differ only in their configuration, printed once."""
        groups = {}
        for r in sel:
            groups.setdefault(r[1:], []).append(r[0])
        for key, cnames in groups.items():
            print(line((cnames[0],) + key, cnames))

    order = ["ref-deliv", "ref-defer", "ref-discard", "acc-bounce", "temp-deliv", "temp-bounce", "not-queued",
             "no-result", "other"]
    print("\nMISMATCHES")
    n = 0
    for cat in order:
        sel = [r for r in rows if r[2] == cat]
        if not sel:
            continue
        print("\n %s: %d" % (dict(CATS).get(cat, cat), len(sel)))
        grouped(sel)
        n += len(sel)
    if not n:
        print("  none")
    sel = [r for r in rows if r[2] == "acc-defer"]
    print("\nACCEPTED, QMAIL DEFERS (%d; expected where a mailbox exists but is broken)" % len(sel))
    grouped(sel)

    prog = [a for a, _ in BCORNER + FCORNER + VCORNER]
    byaddr = {}
    for r in rows:
        if r[1] in prog:
            byaddr.setdefault(r[1], {}).setdefault((r[3] or r[2], r[6][:3]), []).append(r[0])
    print("\nPROGRAM CASES (bouncesaying, fastforward, vpopmail): qmail's first delivery / our reply")
    for a in prog:
        if a in byaddr:
            print("  <%s> (%s): %s" % (show(a), notes.get(a, ""), "; ".join(
                "%s %s/%s" % (",".join(c) if len(c) < sum(map(len, byaddr[a].values())) else "all",
                              o, show(code))
                for (o, code), c in byaddr[a].items())))

    if os.environ.get("ALL"):
        print("\nALL ROWS")
        for r in rows:
            print(line(r))

    print("\nSUMMARY")
    names = [c[0] for c in configs]
    print("  %-68s %8s  %s" % ("", "total", "  ".join("%13s" % c for c in names)))
    for cat, label in CATS + [("other", "other")]:
        tot = sum(1 for r in rows if r[2] == cat)
        if cat in ("other", "not-queued", "no-result", "ref-discard") and not tot:
            continue
        per = ["%13d" % sum(1 for r in rows if r[2] == cat and r[0] == c) for c in names]
        print("  %-68s %8d  %s" % (label, tot, "  ".join(per)))
    ag = [r for r in rows if r[2] == "agree"]
    print("  %-68s %8s" % ("  of agree: 2xx & delivered / 5xx & bounced / 4xx & deferred",
                          "%d/%d/%d" % tuple(sum(1 for r in ag if r[3] == o) for o in ("success", "failure", "deferral"))))
    print("  %-68s %8d" % ("rows", len(rows)))
    bad = sum(1 for r in rows if r[2] in ("ref-deliv", "ref-defer"))
    print("\nresult: %s" % ("FAIL: %d addresses refused with 5xx that qmail delivers or defers" % bad if bad
                             else "ok: no 5xx for an address qmail delivers or defers"))

def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    src = os.path.abspath(sys.argv[1])
    ours = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else \
        os.path.join(TOP, "target/release/qmail-smtpd")
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    if os.geteuid() != 0:
        die("must run as root (it builds and runs a real qmail in a private mount namespace)")
    if not os.path.isfile(os.path.join(src, "qmail-local.c")):
        die("%s: not a netqmail source tree" % src)
    if not (os.path.isfile(ours) and os.access(ours, os.X_OK)):
        die("%s: not an executable" % ours)
    # Re-execute in a new mount namespace; the marker holds the namespace we
    # started in, so the child can check that it really is in another one.
    mine = os.readlink("/proc/self/ns/mnt")
    outer = os.environ.get("DELIVERY_DIFF_NS")
    if not outer:
        env = dict(os.environ, DELIVERY_DIFF_NS=mine)
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                               os.path.abspath(__file__), src, ours, str(seed), str(count)], env)
    if outer == mine:
        die("not in a private mount namespace")
    del os.environ["DELIVERY_DIFF_NS"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    sys.exit(run(src, ours, seed, count))

if __name__ == "__main__":
    main()
