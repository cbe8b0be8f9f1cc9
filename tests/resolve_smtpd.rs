//! The check inside the real qmail-smtpd: what an SMTP client sees at RCPT,
//! and the log lines the server writes, with real getpwnam (fixture passwd
//! bind-mounted in a private mount namespace) and real home directories.
//! Needs root; without it the tests print SKIPPED and return.

mod resolve_support;

use resolve_support::Fixture;

const JOE: u32 = 5001;
const PRIV: u32 = 5004;
const QMAILD: u32 = 5009;

fn fixture(tag: &str) -> Fixture {
    let mut f = Fixture::new(tag);
    f.control("me", "example.com\n")
        .control("rcpthosts", "example.com\n")
        .dir("homes", 0, 0o755)
        .dir("homes/joe", JOE, 0o755)
        .write("homes/joe/.qmail-list", "./Maildir/\n", JOE)
        .dir("private", 0, 0o700)
        .dir("private/priv", PRIV, 0o755);
    f.user("joe", JOE, "homes/joe")
        .user("priv", PRIV, "private/priv");
    f
}

const SESSION: &str = "HELO client\r\n\
    MAIL FROM:<sender@remote.example>\r\n\
    RCPT TO:<joe-nope@example.com>\r\n\
    RCPT TO:<joe-list@example.com>\r\n\
    RCPT TO:<Joe@Example.com>\r\n\
    RCPT TO:<priv-x@example.com>\r\n\
    QUIT\r\n";

/// The `realrcptto`, `realrcptto-deferred` and `unable to stat` lines of a
/// run, with the PID field checked and masked.
fn check_lines(run: &resolve_support::Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| {
            l.starts_with("realrcptto ")
                || l.starts_with("realrcptto-deferred ")
                || l.starts_with("unable to stat ")
        })
        .map(|l| {
            let mut fields: Vec<&str> = l.splitn(3, ' ').collect();
            if fields[0].starts_with("realrcptto") {
                assert!(
                    fields[1].parse::<u32>().is_ok(),
                    "PID field: {l}\n{}",
                    run.context
                );
                fields[1] = "PID";
            }
            fields.join(" ")
        })
        .collect()
}

/// As qmaild: an unknown recipient gets 550 and the `realrcptto PID IP
/// ADDRESS` log line. A home qmaild may not stat does not match its user
/// name (qmail-getpw runs unprivileged too): logged, and the name goes to
/// `alias`; there is no alias user here, so qmail would defer: 451.
#[test]
fn rcpt_replies_and_log_lines() {
    require_root!();
    let f = fixture("smtpd");
    let run = f.smtpd_in_namespace(
        Some(QMAILD),
        &[("PROTO", "TCP"), ("TCPREMOTEIP", "192.0.2.7")],
        SESSION,
    );
    run.stdout(
        "220 example.com ESMTP\r\n\
         250 example.com\r\n\
         250 ok\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         250 ok\r\n\
         250 ok\r\n\
         451 sorry, that mailbox is temporarily unavailable (#4.2.1)\r\n\
         221 example.com\r\n",
    )
    .code(0);
    assert_eq!(
        check_lines(&run),
        [
            "realrcptto PID 192.0.2.7 joe-nope@example.com".to_string(),
            format!("unable to stat {}: access denied", f.p("private/priv")),
            "realrcptto-deferred PID 192.0.2.7 priv-x@example.com: Unable to find alias user! \
             (qmail-lspawn: no user name matched and there is no user alias)"
                .to_string(),
        ],
        "{}",
        run.context
    );
}

const STICKY: u32 = 5020;
const WRITABLE: u32 = 5021;
const JORG: u32 = 5022;
const ALIAS: u32 = 5010;
const PEE: u32 = 5023;
const DEE: u32 = 5024;

/// Every rule qmail-lspawn and qmail-local apply before a delivery, with
/// real files, real getpwnam and the server running as qmaild.
fn qmail_local_fixture(tag: &str) -> Fixture {
    let mut f = fixture(tag);
    f.dir("homes/joe/.qmail-dir", JOE, 0o755)
        .write("homes/joe/.qmail-dir/x", "./Maildir/\n", JOE)
        .dir("homes/joe/.qmail-isdir", JOE, 0o755)
        .write("homes/joe/.qmail-secret", "./Maildir/\n", 0)
        .chmod("homes/joe/.qmail-secret", 0o600)
        .write("homes/joe/.qmail-open", "./Maildir/\n", JOE)
        .chmod("homes/joe/.qmail-open", 0o666)
        .dir("homes/sticky", STICKY, 0o1755)
        .dir("homes/writable", WRITABLE, 0o757)
        .dir("homes/jorg", JORG, 0o755)
        .write("homes/jorg/.qmail-x", "./Maildir/\n", JORG)
        .dir("alias", ALIAS, 0o755)
        .write("alias/.qmail-postmaster", "&joe\n", ALIAS)
        // Behind a directory only qmailp may search: qmail-getpw finds the
        // user, the check (as qmaild) cannot look: accepted.
        .dir("qmailp-only", resolve_support::QMAILP, 0o700)
        .dir("qmailp-only/pee", PEE, 0o755)
        // Behind a directory only qmaild may search: qmail-getpw does not
        // find the user, so the name goes to alias: bounced.
        .dir("qmaild-only", QMAILD, 0o700)
        .dir("qmaild-only/dee", DEE, 0o755)
        .write("qmaild-only/dee/.qmail-x", "./Maildir/\n", DEE);
    nix::unistd::mkfifo(
        &f.path("homes/joe/.qmail-fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    std::os::unix::fs::chown(f.path("homes/joe/.qmail-fifo"), Some(JOE), Some(JOE)).unwrap();
    f.user("pee", PEE, "qmailp-only/pee")
        .user("dee", DEE, "qmaild-only/dee");
    f.user("sticky", STICKY, "homes/sticky")
        .user("writable", WRITABLE, "homes/writable")
        .user("alias", ALIAS, "alias");
    let mut jorg = b"j\xf6rg".to_vec();
    jorg.extend_from_slice(format!(":x:{JORG}:{JORG}::{}:/bin/sh", f.p("homes/jorg")).as_bytes());
    f.raw_passwd_line(jorg);
    let joe_home = f.p("homes/joe");
    let gone = f.p("homes/gone");
    f.users_cdb(&[
        &format!("=gone:gone:{JOE}:{JOE}:{gone}:-::"),
        &format!("=rootcdb:root:0:0:{joe_home}:-::"),
        &format!("+cdb-:joe:{JOE}:{JOE}:{joe_home}:-:dir/:"),
    ]);
    f
}

#[test]
fn qmail_local_rules_decide_deliver_defer_bounce() {
    require_root!();
    let f = qmail_local_fixture("qmail-local");
    let cases: &[(&[u8], &str)] = &[
        (b"joe-list@example.com", "250 ok"),
        // An extension with '/': qmail-local opens .qmail-dir/x.
        (b"joe-dir/x@example.com", "250 ok"),
        (b"joe-dir/y@example.com", "550"),
        (b"cdb-x@example.com", "250 ok"),
        (b"joe-../../etc/passwd@example.com", "550"),
        // Only regular files count.
        (b"joe-isdir@example.com", "550"),
        (b"joe-fifo@example.com", "550"),
        // qmail-local would defer.
        (b"joe-secret@example.com", "451"),
        (b"joe-open@example.com", "451"),
        (b"sticky-x@example.com", "451"),
        (b"writable-x@example.com", "451"),
        (b"gone@example.com", "451"),
        (b"rootcdb@example.com", "451"),
        // An 8-bit user name, ASCII lower-cased only.
        (b"J\xf6RG-x@example.com", "250 ok"),
        (b"J\xd6RG-x@example.com", "550"),
        // An empty local name: qmail-lspawn reports it delivered.
        (b"\"\"@example.com", "250 ok"),
        (b"postmaster@example.com", "250 ok"),
        (b"nobody@example.com", "550"),
        (b"pee-x@example.com", "250 ok"),
        (b"dee-x@example.com", "550"),
    ];
    let mut input = b"HELO client\r\nMAIL FROM:<sender@remote.example>\r\n".to_vec();
    for (addr, _) in cases {
        input.extend_from_slice(b"RCPT TO:<");
        input.extend_from_slice(addr);
        input.extend_from_slice(b">\r\n");
    }
    input.extend_from_slice(b"QUIT\r\n");
    let run = f.smtpd_in_namespace(
        Some(QMAILD),
        &[("PROTO", "TCP"), ("TCPREMOTEIP", "192.0.2.7")],
        &input,
    );
    let replies: Vec<&str> = run.stdout.lines().skip(3).take(cases.len()).collect();
    let deferred = "451 sorry, that mailbox is temporarily unavailable (#4.2.1)";
    let refused = "550 sorry, no mailbox here by that name. (#5.1.1)";
    for ((addr, want), got) in cases.iter().zip(&replies) {
        let want = match *want {
            "451" => deferred,
            "550" => refused,
            w => w,
        };
        assert_eq!(
            *got,
            want,
            "{}\n{}",
            String::from_utf8_lossy(addr),
            run.context
        );
    }
    assert_eq!(replies.len(), cases.len(), "{}", run.context);

    let home = f.p("homes");
    let deferral = |addr: &str, why: String| {
        format!("realrcptto-deferred PID 192.0.2.7 {addr}@example.com: {why}")
    };
    let unknown = |addr: &str| format!("realrcptto PID 192.0.2.7 {addr}@example.com");
    let mut want = vec![
        unknown("joe-dir/y"),
        unknown("joe-../../etc/passwd"),
        unknown("joe-isdir"),
        unknown("joe-fifo"),
        deferral(
            "joe-secret",
            format!("Unable to open {home}/joe/.qmail-secret: access denied. (qmail-local)"),
        ),
        deferral(
            "joe-open",
            format!("Uh-oh: .qmail file is writable. (qmail-local: {home}/joe/.qmail-open)"),
        ),
        deferral(
            "sticky-x",
            format!(
                "Home directory is sticky: user is editing his .qmail file. (qmail-local: {home}/sticky)"
            ),
        ),
        deferral(
            "writable-x",
            format!("Uh-oh: home directory is writable. (qmail-local: {home}/writable)"),
        ),
        deferral(
            "gone",
            format!("Unable to switch to {home}/gone: file does not exist. (qmail-local)"),
        ),
        deferral(
            "rootcdb",
            "Not allowed to perform deliveries as root. (qmail-lspawn: user root has uid 0)".into(),
        ),
    ];
    // The log line carries the address as received (8-bit bytes as they
    // came); this harness reads stderr lossily.
    want.push(String::from_utf8_lossy(b"realrcptto PID 192.0.2.7 J\xd6RG-x@example.com").into());
    want.push(unknown("nobody"));
    want.push(format!(
        "unable to stat {}: access denied",
        f.p("qmailp-only/pee")
    ));
    want.push(unknown("dee-x"));
    assert_eq!(check_lines(&run), want, "{}", run.context);
    // Nothing outside the homes was looked at: no stat line names /etc.
    assert!(!run.stderr.contains("/etc/passwd:"), "{}", run.context);
}

/// A temporary failure of the user database ends the session with 421.
#[test]
fn user_database_failure_ends_the_session() {
    require_root!();
    let mut f = fixture("smtpd-syserr");
    f.raw_passwd_line(format!(
        "huge:x:5099:5099:{}:/tmp:/bin/sh",
        "g".repeat(2_000_000)
    ));
    let input = "MAIL FROM:<s@remote.example>\r\nRCPT TO:<joe@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<joe@example.com>\r\n";
    let run = f.smtpd_in_namespace(None, &[], input);
    run.stdout(
        "220 example.com ESMTP\r\n\
         250 ok\r\n\
         250 ok\r\n\
         421 unable to read system user database (#4.3.0)\r\n",
    );
    assert_ne!(run.code, Some(0), "{}", run.context);
}

const UTF8USER: u32 = 5030;

/// SMTPUTF8 (RFC 6531): UTF-8 local parts are checked as qmail-getpw and
/// qmail-local read them, as bytes with only ASCII letters lower-cased. A
/// user name and a `.qmail-` file named in UTF-8 are found; an upper-case
/// non-ASCII letter is not folded, so it names no user or no file.
#[test]
fn utf8_local_parts_as_qmail_reads_them() {
    require_root!();
    let mut f = fixture("smtpd-utf8");
    f.write("homes/joe/.qmail-\u{e9}t\u{e9}", "./Maildir/\n", JOE)
        .dir("homes/j\u{f6}rg", UTF8USER, 0o755)
        .write("homes/j\u{f6}rg/.qmail-x", "./Maildir/\n", UTF8USER);
    f.user("j\u{f6}rg", UTF8USER, "homes/j\u{f6}rg");
    let run = f.smtpd_in_namespace(
        Some(QMAILD),
        &[("PROTO", "TCP"), ("TCPREMOTEIP", "192.0.2.7")],
        "EHLO client\r\n\
         MAIL FROM:<s\u{e9}nder@remote.example> SMTPUTF8\r\n\
         RCPT TO:<joe-\u{e9}t\u{e9}@example.com>\r\n\
         RCPT TO:<JOE-\u{e9}T\u{e9}@example.com>\r\n\
         RCPT TO:<joe-\u{c9}t\u{e9}@example.com>\r\n\
         RCPT TO:<j\u{f6}rg@example.com>\r\n\
         RCPT TO:<J\u{f6}RG-x@example.com>\r\n\
         RCPT TO:<j\u{d6}rg@example.com>\r\n\
         RCPT TO:<j\u{f6}rg-y@example.com>\r\n\
         QUIT\r\n",
    );
    run.stdout(
        "220 example.com ESMTP\r\n\
         250-example.com\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n\
         250 ok\r\n\
         250 ok\r\n\
         250 ok\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         250 ok\r\n\
         250 ok\r\n\
         451 sorry, that mailbox is temporarily unavailable (#4.2.1)\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         221 example.com\r\n",
    )
    .code(0);
    // j\u{d6}rg is no user, so qmail-lspawn goes to `alias`, which this
    // fixture does not have: qmail would defer (451), not bounce.
}
