//! $RCPTCHECK through the binary, with real programs: a shell script
//! choosing its exit by recipient, a lookup with freecdb's `cdbget`, a
//! program that hangs, and one that answers on fd 4 (sagredo's USE_FD4).
//! Exact replies, exact log lines, and the program's stdout never reaching
//! the client.

mod support;

use support::Fixture;

const GREETING: &str = "220 mx.example ESMTP\r\n";
const OK: &str = "250 ok\r\n";
const BYE: &str = "221 mx.example\r\n";
const NO_MAILBOX: &str = "553 sorry, no mailbox here by that name. (#5.1.1)\r\n";

/// The script: it records what it was told, writes junk on stdout, and
/// exits as the recipient's local part says.
const SCRIPT: &str = r#"#!/bin/sh
echo "stdout junk that must not reach the client"
printf '%s|%s|%s|%s|%s|%s\n' "$SENDER" "$RECIPIENT" "$HELO" "${RCPTFOUND-unset}" "${RCPTHOSTS-unset}" "${USE_FD4-unset}" >> "$0.calls"
case "$RECIPIENT" in
  no@*) exit 100 ;;
  verify@*) exit 111 ;;
  broken@*) exit 120 ;;
  crash@*) kill -9 $$ ;;
  ignore@*) exit 112 ;;
  limit@*) exit 113 ;;
  hang@*) sleep 30 ;;
  fd4@*) printf '550 5.1.1 <%s> unknown here\r\n' "$RECIPIENT" >&4; exit 100 ;;
  fd4bad@*) printf 'no code\n' >&4; exit 100 ;;
  fd4inject@*) printf '550-first\r\n250 ok\r\n' >&4; exit 100 ;;
esac
exit 0
"#;

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "example.com\n"),
            ("timeoutsmtpd", "2\n"),
        ],
    );
    f.script("bin/rcptcheck", SCRIPT);
    f
}

fn session(rcpts: &[&str]) -> String {
    let mut s = String::from("HELO client.example\r\nMAIL FROM:<s@sender.example>\r\n");
    for r in rcpts {
        s.push_str(&format!("RCPT TO:<{r}>\r\n"));
    }
    s + "QUIT\r\n"
}

fn calls(f: &Fixture) -> Vec<String> {
    std::fs::read_to_string(f.home.join("bin/rcptcheck.calls"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// The rcptcheck log lines (SMTPD_LOGLEVEL=info).
fn log_lines(out: &support::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("rcptcheck "))
        .map(String::from)
        .collect()
}

#[test]
fn the_exit_code_decides() {
    let f = fixture("exits");
    let env = [("RCPTCHECK", "bin/rcptcheck"), ("SMTPD_LOGLEVEL", "info")];
    let out = f.run(
        &env,
        session(&[
            "yes@example.com",
            "no@example.com",
            "ignore@example.com",
            "x@elsewhere.example",
        ]),
    );
    out.assert_stdout(
        [
            GREETING,
            "250 mx.example\r\n",
            OK,
            OK,
            NO_MAILBOX,
            OK,
            "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
            BYE,
        ]
        .concat(),
    )
    .assert_exit(0);
    // Run after rcpthosts: not for the relay attempt.
    assert_eq!(
        calls(&f),
        [
            "s@sender.example|yes@example.com|client.example|unset|1|unset",
            "s@sender.example|no@example.com|client.example|unset|1|unset",
            "s@sender.example|ignore@example.com|client.example|unset|1|unset",
        ]
    );
    assert_eq!(
        log_lines(&out),
        ["rcptcheck no@example.com: exit 100: refused 553"]
    );
    out.assert_queued_all(&[]);

    for (who, reply) in [
        ("verify", "421 unable to verify recipient (#4.3.0)\r\n"),
        (
            "broken",
            "421 unable to execute recipient check (#4.3.0)\r\n",
        ),
        (
            "crash",
            "421 unable to execute recipient check (#4.3.0)\r\n",
        ),
        (
            "limit",
            "421 you have exceeded your messaging limits (#4.3.0)\r\n",
        ),
    ] {
        let out = f.run(
            &env,
            session(&[&format!("{who}@example.com"), "yes@example.com"]),
        );
        out.assert_stdout([GREETING, "250 mx.example\r\n", OK, reply].concat())
            .assert_exit(1);
    }
}

#[test]
fn a_hung_program_is_killed_at_timeoutsmtpd() {
    let f = fixture("hang");
    let out = f.run(
        &[("RCPTCHECK", "bin/rcptcheck")],
        session(&["hang@example.com"]),
    );
    out.assert_stdout(
        [
            GREETING,
            "250 mx.example\r\n",
            OK,
            "421 unable to execute recipient check (#4.3.0)\r\n",
        ]
        .concat(),
    )
    .assert_exit(1);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        ["rcptcheck hang@example.com: ran for timeoutsmtpd seconds: killed: refused 421, closing"],
        "{lines:?}"
    );
}

#[test]
fn relayclient_skips_it_unless_rcptcheckrelayclient() {
    let f = fixture("relayclient");
    let env = [("RCPTCHECK", "bin/rcptcheck"), ("RELAYCLIENT", "")];
    let out = f.run(&env, session(&["no@example.com"]));
    out.assert_stdout([GREETING, "250 mx.example\r\n", OK, OK, BYE].concat());
    assert!(calls(&f).is_empty());

    let env = [
        ("RCPTCHECK", "bin/rcptcheck"),
        ("RELAYCLIENT", ""),
        ("RCPTCHECKRELAYCLIENT", "1"),
    ];
    let out = f.run(&env, session(&["no@example.com", "any@elsewhere.example"]));
    out.assert_stdout([GREETING, "250 mx.example\r\n", OK, NO_MAILBOX, OK, BYE].concat());
    assert_eq!(
        calls(&f),
        [
            "s@sender.example|no@example.com|client.example|unset|1|unset",
            "s@sender.example|any@elsewhere.example|client.example|unset|unset|unset",
        ]
    );
}

#[test]
fn fd4_gives_the_reply_one_line_only() {
    let f = fixture("fd4");
    let env = [("RCPTCHECK", "bin/rcptcheck"), ("USE_FD4", "1")];
    let out = f.run(
        &env,
        session(&[
            "fd4@example.com",
            "fd4bad@example.com",
            "fd4inject@example.com",
        ]),
    );
    out.assert_stdout(
        [
            GREETING,
            "250 mx.example\r\n",
            OK,
            "550 5.1.1 <fd4@example.com> unknown here\r\n",
            "451 temporary problem (#4.4.2)\r\n",
            "550 first\r\n",
            BYE,
        ]
        .concat(),
    )
    .assert_exit(0);
    assert!(calls(&f)[0].ends_with("|1"), "{:?}", calls(&f));
}

/// A lookup with Debian's freecdb: `cdbget KEY < FILE` exits 0 when the
/// key is there, 100 when it is not: exactly RCPTCHECK's codes.
#[test]
fn a_cdb_lookup_with_cdbget() {
    support::require_program("cdbget", "freecdb");
    let f = fixture("cdbget");
    f.cdb("control/mailboxes.cdb", &[(b"joe@example.com", b"")]);
    f.script(
        "bin/cdbcheck",
        // A missing cdb must be 111 (the shell's own exit 2 for a failed
        // redirection would accept).
        "#!/bin/sh\ntest -r control/mailboxes.cdb || exit 111\nexec cdbget \"$RECIPIENT\" < control/mailboxes.cdb > /dev/null\n",
    );
    let out = f.run(
        &[("RCPTCHECK", "bin/cdbcheck")],
        session(&["joe@example.com", "kim@example.com"]),
    );
    out.assert_stdout([GREETING, "250 mx.example\r\n", OK, OK, NO_MAILBOX, BYE].concat())
        .assert_exit(0);
    // Without the cdb: unable to verify.
    f.remove("control/mailboxes.cdb");
    let out = f.run(
        &[("RCPTCHECK", "bin/cdbcheck")],
        session(&["joe@example.com"]),
    );
    out.assert_stdout(
        [
            GREETING,
            "250 mx.example\r\n",
            OK,
            "421 unable to verify recipient (#4.3.0)\r\n",
        ]
        .concat(),
    )
    .assert_exit(1);
}

#[test]
fn without_rcptcheck_nothing_runs() {
    let f = fixture("plain");
    let out = f.run(&[], session(&["no@example.com"]));
    out.assert_stdout([GREETING, "250 mx.example\r\n", OK, OK, BYE].concat())
        .assert_exit(0);
    assert!(calls(&f).is_empty());
    assert_eq!(out.stderr, b"");
}
