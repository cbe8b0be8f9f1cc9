//! RCPTLOG through the binary: one exact `rcpt-decision` line for every
//! RCPT past the syntax checks, naming the rule that decided, for each of
//! the session's checks and the recipient check's stages; none without
//! the switch.

mod support;

use support::Fixture;

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "nobody.example\nexample.com\nlisted.example\n"),
            ("virtualdomains", "nobody.example:ex\n"),
            ("badmailfrom", "@spam.example\n"),
        ],
    );
    f.ex_bounces();
    f.cdb(
        "control/v.cdb",
        &[(b"@nobody.example", b""), (b"@example.com", b"")],
    );
    f.script(
        "bin/rcptcheck",
        "#!/bin/sh\ncase \"$RECIPIENT\" in checked-out@*) exit 100 ;; esac\nexit 0\n",
    );
    f
}

/// The decision lines of a run, the pid masked.
fn decisions(out: &support::Output) -> Vec<String> {
    support::decision_lines(&out.stderr)
}

fn line(verdict: &str, code: u16, rule: &str, from: &str, to: &str) -> String {
    format!(
        "rcpt-decision verdict={verdict} code={code} rule={rule} file=\"\" pid=PID ip=192.0.2.7 helo=\"client.example\" from=\"{from}\" to=\"{to}\""
    )
}

#[test]
fn every_check_names_itself() {
    let f = fixture("rules");
    let input = "HELO client.example\r\n\
MAIL FROM:<x@spam.example>\r\n\
RCPT TO:<a@example.com>\r\n\
MAIL FROM:<s@b.example>\r\n\
RCPT TO:<u@elsewhere.example>\r\n\
RCPT TO:<u@listed.example>\r\n\
RCPT TO:<checked-out@example.com>\r\n\
RCPT TO:<joe@nobody.example>\r\n\
RCPT TO:<u@example.com>\r\n\
RCPT TO:<v@example.com>\r\n\
QUIT\r\n";
    let out = f
        .cmd()
        .env_remove("NOREALRCPTTO")
        .env("RCPTLOG", "1")
        .env("PROTO", "TCP")
        .env("TCPREMOTEIP", "192.0.2.7")
        .env("VALIDRCPTTO_CDB", "control/v.cdb")
        .env("RCPTCHECK", "bin/rcptcheck")
        .env("MAXRCPT", "1")
        .input(input)
        .run();
    out.assert_exit(0);
    let from = "s@b.example";
    assert_eq!(
        decisions(&out),
        [
            line(
                "refused",
                553,
                "badmailfrom",
                "x@spam.example",
                "a@example.com"
            ),
            line("refused", 553, "rcpthosts", from, "u@elsewhere.example"),
            line("refused", 553, "validrcptto", from, "u@listed.example"),
            line("refused", 553, "rcptcheck", from, "checked-out@example.com"),
            line("refused", 550, "users/cdb", from, "joe@nobody.example"),
            line("accepted", 250, "remote", from, "u@example.com"),
            line("deferred", 452, "maxrcpt", from, "v@example.com"),
        ]
    );
}

#[test]
fn denyall_hides_and_the_limit_closes() {
    let f = fixture("denyall");
    let input = "HELO client.example\r\nMAIL FROM:<s@b.example>\r\n\
RCPT TO:<a@nobody.example>\r\n\
RCPT TO:<u@example.com>\r\n\
RCPT TO:<b@nobody.example>\r\n\
QUIT\r\n";
    let run = |env: &[(&str, &str)]| {
        let mut cmd = f
            .cmd()
            .env_remove("NOREALRCPTTO")
            .env("RCPTLOG", "1")
            .env("PROTO", "TCP")
            .env("TCPREMOTEIP", "192.0.2.7");
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.input(input).run()
    };
    let from = "s@b.example";
    // After the first unknown, QMAILRRTDENYALL checks no more recipients.
    let out = run(&[("QMAILRRTDENYALL", "1")]);
    out.assert_exit(0);
    assert_eq!(
        decisions(&out),
        [
            line("hidden", 250, "users/cdb", from, "a@nobody.example"),
            line("accepted", 250, "denyall", from, "u@example.com"),
            line("accepted", 250, "denyall", from, "b@nobody.example"),
        ]
    );
    let out = run(&[("MAXUNKNOWNRCPT", "1")]);
    out.assert_exit(1);
    assert_eq!(
        decisions(&out),
        [
            line("refused", 550, "users/cdb", from, "a@nobody.example"),
            line("accepted", 250, "remote", from, "u@example.com"),
            line("closed", 421, "unknownlimit", from, "b@nobody.example"),
        ]
    );
}

#[test]
fn relayed_and_unchecked_recipients() {
    let f = fixture("relayed");
    let session =
        "HELO client.example\r\nMAIL FROM:<s@b.example>\r\nRCPT TO:<u@far.example>\r\nQUIT\r\n";
    fn base(f: &Fixture) -> support::Run<'_> {
        f.cmd()
            .env("RCPTLOG", "1")
            .env("PROTO", "TCP")
            .env("TCPREMOTEIP", "192.0.2.7")
    }
    let out = base(&f)
        .env_remove("NOREALRCPTTO")
        .env("RELAYCLIENT", "")
        .input(session)
        .run();
    assert_eq!(
        decisions(&out),
        [line(
            "accepted",
            250,
            "relayclient",
            "s@b.example",
            "u@far.example"
        )]
    );
    // The harness's default: NOREALRCPTTO=1.
    let out = base(&f).env("RELAYCLIENT", "").input(session).run();
    assert_eq!(
        decisions(&out),
        [line(
            "accepted",
            250,
            "norealrcptto",
            "s@b.example",
            "u@far.example"
        )]
    );
    // Without the switch (or with RCPTLOG=0): no such line.
    for env in [None, Some("0")] {
        let mut cmd = f.cmd().env("RELAYCLIENT", "");
        if let Some(v) = env {
            cmd = cmd.env("RCPTLOG", v);
        }
        let out = cmd.input(session).run();
        assert!(decisions(&out).is_empty());
        assert_eq!(out.stderr, b"");
    }
}
