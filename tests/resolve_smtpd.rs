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

/// As qmaild: an unknown recipient gets 550 and the `realrcptto PID IP
/// ADDRESS` log line; a home qmaild may not look into is accepted with an
/// `unable to stat` line.
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
         250 ok\r\n\
         221 example.com\r\n",
    )
    .code(0);
    let log: Vec<&str> = run.stderr.lines().collect();
    let realrcptto: Vec<&str> = log
        .iter()
        .copied()
        .filter(|l| l.starts_with("realrcptto "))
        .collect();
    assert_eq!(realrcptto.len(), 1, "{}", run.context);
    let fields: Vec<&str> = realrcptto[0].split(' ').collect();
    assert_eq!(fields.len(), 4, "{}", run.context);
    assert!(
        fields[1].parse::<u32>().is_ok(),
        "PID field: {}",
        run.context
    );
    assert_eq!(
        fields[2..],
        ["192.0.2.7", "joe-nope@example.com"],
        "{}",
        run.context
    );
    let stat_lines: Vec<&str> = log
        .iter()
        .copied()
        .filter(|l| l.starts_with("unable to stat "))
        .collect();
    assert_eq!(
        stat_lines,
        [format!(
            "unable to stat {}: access denied",
            f.p("private/priv")
        )],
        "{}",
        run.context
    );
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
