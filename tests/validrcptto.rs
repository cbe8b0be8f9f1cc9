//! The two published forms of validrcptto, through the binary: John
//! Simpson's `$VALIDRCPTTO_CDB` (his jms1 combined patch) and sagredo's
//! control/validrcptto and control/morevalidrcptto.cdb. Exact replies,
//! exact log lines, and what a plain install (neither configured) does.

mod support;

use support::{Fixture, Output};

const GREETING: &str = "220 mx.example ESMTP\r\n";
const OK: &str = "250 ok\r\n";
const NOT_LISTED: &str = "553 sorry, this recipient is not in my validrcptto list (#5.7.1)\r\n";
const TOO_MANY: &str = "421 too many invalid addresses, goodbye (#4.3.0)\r\n";
const BYE: &str = "221 mx.example\r\n";

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "example.com\nother.example\nnobody.example\n"),
            ("virtualdomains", "nobody.example:ex\n"),
        ],
    );
    f.ex_bounces();
    f
}

/// The session's log lines written by the patches' code (`qmail-smtpd[PID]: `
/// first), with the pid checked and masked.
fn patch_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("qmail-smtpd[")?;
            let (pid, text) = rest.split_once("]: ")?;
            assert!(pid.parse::<u32>().is_ok(), "{l}");
            Some(format!("qmail-smtpd[PID]: {text}"))
        })
        .collect()
}

fn session(rcpts: &[&str]) -> String {
    let mut s = String::from("MAIL FROM:<a@b.example>\r\n");
    for r in rcpts {
        s.push_str(&format!("RCPT TO:<{r}>\r\n"));
    }
    s + "QUIT\r\n"
}

fn simpson(name: &str) -> Fixture {
    let f = fixture(name);
    f.cdb(
        "control/validrcptto.cdb",
        &[
            (b"joe@example.com", b""),
            (b"list-default@example.com", b"1"),
            (b"@other.example", b""),
            (b"bad@other.example", b"-"),
        ],
    );
    f
}

#[test]
fn simpson_refuses_what_the_cdb_does_not_list() {
    let f = simpson("simpson");
    let env = [
        ("VALIDRCPTTO_CDB", "control/validrcptto.cdb"),
        ("TCPREMOTEIP", "192.0.2.9"),
    ];
    let out = f.run(
        &env,
        session(&[
            "joe@example.com",
            "JOE@Example.COM",
            "list-foo-bar@example.com",
            "anyone@other.example",
            "bad@other.example",
            "nobody@example.com",
            "x@elsewhere.example",
        ]),
    );
    let want = [
        GREETING,
        OK,
        OK,
        OK,
        OK,
        OK,
        NOT_LISTED,
        NOT_LISTED,
        "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
        BYE,
    ]
    .concat();
    out.assert_stdout(want).assert_exit(0);
    assert_eq!(
        patch_lines(&out),
        [
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] not found: bad@other.example",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] not found: nobody@example.com",
        ]
    );
}

#[test]
fn simpson_hangs_up_at_the_limit_and_logs_every_key_at_level_2() {
    let f = simpson("simpson-limit");
    let env = [
        ("VALIDRCPTTO_CDB", "control/validrcptto.cdb"),
        ("VALIDRCPTTO_LIMIT", "2"),
        ("TCPREMOTEIP", "192.0.2.9"),
    ];
    let out = f.run(
        &env,
        session(&["a@example.com", "b@example.com", "joe@example.com"]),
    );
    out.assert_stdout([GREETING, OK, NOT_LISTED, TOO_MANY].concat())
        .assert_exit(1);
    assert_eq!(
        patch_lines(&out),
        [
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] not found: a@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] not found: b@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] excessive violations, hanging up",
        ]
    );

    let env = [
        ("VALIDRCPTTO_CDB", "control/validrcptto.cdb"),
        ("VALIDRCPTTO_LOG", "2"),
        ("TCPREMOTEIP", "192.0.2.9"),
    ];
    let out = f.run(&env, session(&["List-A-B@Example.com"]));
    out.assert_stdout([GREETING, OK, OK, BYE].concat())
        .assert_exit(0);
    assert_eq!(
        patch_lines(&out),
        [
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] RCPT TO: list-a-b@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] trying: list-a-b@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] trying: list-a-default@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] trying: list-default@example.com",
            "qmail-smtpd[PID]: validrcptto [192.0.2.9] found: list-default@example.com",
        ]
    );
}

#[test]
fn simpson_is_skipped_under_relayclient_and_needs_its_cdb() {
    let f = simpson("simpson-relayclient");
    let out = f.run(
        &[
            ("VALIDRCPTTO_CDB", "control/validrcptto.cdb"),
            ("RELAYCLIENT", ""),
        ],
        session(&["nobody@example.com", "x@elsewhere.example"]),
    );
    out.assert_stdout([GREETING, OK, OK, OK, BYE].concat())
        .assert_exit(0);
    assert!(patch_lines(&out).is_empty());

    // Named but missing: the patch dies with die_control at start.
    let out = f.run(&[("VALIDRCPTTO_CDB", "control/missing.cdb")], "QUIT\r\n");
    out.assert_stdout("421 unable to read controls (#4.3.0)\r\n")
        .assert_exit(1);
    out.assert_stderr_contains("control/missing.cdb: No such file or directory");
    // Set but empty: no check.
    let out = f.run(&[("VALIDRCPTTO_CDB", "")], session(&["nobody@example.com"]));
    out.assert_stdout([GREETING, OK, OK, BYE].concat());
}

fn sagredo(name: &str) -> Fixture {
    let f = fixture(name);
    f.control(
        "validrcptto",
        "# the lists' owner\njoe@nobody.example\n@other.example\n-spam@other.example\n-x@nobody.example\n",
    );
    f.cdb(
        "control/morevalidrcptto.cdb",
        &[(b"kim@nobody.example", b"")],
    );
    f
}

#[test]
fn sagredo_accepts_refuses_or_leaves_it_to_the_recipient_check() {
    let f = sagredo("sagredo");
    // The recipient check is on: every ex- name of nobody.example bounces.
    let out = f
        .cmd()
        .env_remove("NOREALRCPTTO")
        .env("TCPREMOTEIP", "192.0.2.9")
        .input(session(&[
            "JOE@nobody.example",
            "kim@nobody.example",
            "x@nobody.example",
            "other@nobody.example",
            "spam@other.example",
            "any@other.example",
        ]))
        .run();
    let want = [
        GREETING,
        OK,
        OK,
        OK,
        NOT_LISTED,
        "550 sorry, no mailbox here by that name. (#5.1.1)\r\n",
        NOT_LISTED,
        OK,
        BYE,
    ]
    .concat();
    out.assert_stdout(want).assert_exit(0);
    assert_eq!(
        patch_lines(&out),
        [
            "qmail-smtpd[PID]: validrcptto: accepted address <JOE@nobody.example> at 192.0.2.9",
            "qmail-smtpd[PID]: validrcptto: accepted address <kim@nobody.example> at 192.0.2.9",
            "qmail-smtpd[PID]: validrcptto: drop address <x@nobody.example> at 192.0.2.9",
            "qmail-smtpd[PID]: validrcptto: drop address <spam@other.example> at 192.0.2.9",
            "qmail-smtpd[PID]: validrcptto: accepted address <any@other.example> at 192.0.2.9",
        ]
    );
    assert_eq!(
        support::realrcptto_lines(&String::from_utf8_lossy(&out.stderr)).len(),
        1
    );
}

#[test]
fn sagredo_files_named_by_the_environment() {
    let f = sagredo("sagredo-env");
    f.control("other-list", "other@nobody.example\n");
    let out = f
        .cmd()
        .env_remove("NOREALRCPTTO")
        .env("VALIDRCPTTO", "control/other-list")
        .env("MOREVALIDRCPTTO_CDB", "")
        .input(session(&["other@nobody.example", "kim@nobody.example"]))
        .run();
    out.assert_stdout(
        [
            GREETING,
            OK,
            OK,
            "550 sorry, no mailbox here by that name. (#5.1.1)\r\n",
            BYE,
        ]
        .concat(),
    );
    // An unreadable list is die_control, at start.
    f.remove("control/validrcptto");
    f.mkdir("control/validrcptto");
    let out = f.run(&[], "QUIT\r\n");
    out.assert_stdout("421 unable to read controls (#4.3.0)\r\n")
        .assert_exit(1);
}

#[test]
fn neither_configured_changes_nothing() {
    let f = fixture("plain");
    let input = session(&["joe@example.com", "x@elsewhere.example"]);
    let out = f.run(&[], &input);
    out.assert_stdout(
        [
            GREETING,
            OK,
            OK,
            "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n",
            BYE,
        ]
        .concat(),
    )
    .assert_exit(0);
    assert_eq!(out.stderr, b"");
}
