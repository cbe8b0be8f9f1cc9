//! The qmail home and the controls in it: `421 unable to read controls`
//! always comes with a log line saying which file and why, and without
//! $QMAILHOME the home is the one compiled in (`make PREFIX=...`, as
//! qmail's conf-qmail; /var/qmail by default).

mod support;

use support::{Fixture, Output};

const CONTROLS: &str = "421 unable to read controls (#4.3.0)\r\n";

fn fixture(name: &str) -> Fixture {
    Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    )
}

/// The run got the 421 and exit 1, and logged exactly `line`.
#[track_caller]
fn assert_logged(out: &Output, line: &str) {
    out.assert_stdout(CONTROLS).assert_exit(1);
    if out.stderr != format!("{line}\n").as_bytes() {
        out.fail(&format!("expected exactly this log line: {line}"));
    }
}

#[test]
fn an_unreadable_control_file_is_named_in_the_log() {
    // Root ignores file modes, so a directory stands in for an unreadable
    // file: reading it fails with EISDIR.
    for name in [
        "me",
        "smtpgreeting",
        "timeoutsmtpd",
        "rcpthosts",
        "databytes",
    ] {
        let f = fixture(&format!("log-{name}"));
        f.remove(&format!("control/{name}"));
        f.mkdir(&format!("control/{name}"));
        let out = f.run(&[], "QUIT\r\n");
        assert_logged(
            &out,
            &format!("unable to read controls: control/{name}: Is a directory (os error 21)"),
        );
    }
}

#[test]
fn a_control_file_qmaild_may_not_read_is_named_in_the_log() {
    support::require_program("setpriv", "util-linux");
    let f = fixture("log-eacces");
    let path = f.home.join("control/rcpthosts");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = f.cmd().as_nobody().input("QUIT\r\n").run();
    assert_logged(
        &out,
        "unable to read controls: control/rcpthosts: Permission denied (os error 13)",
    );
}

#[test]
fn a_missing_qmail_home_is_named_in_the_log() {
    let f = fixture("log-home");
    let missing = f.root.join("no-such-home");
    let out = f.cmd().env("QMAILHOME", &missing).input("QUIT\r\n").run();
    assert_logged(
        &out,
        &format!(
            "unable to read controls: unable to chdir to {}: No such file or directory (os error 2)",
            missing.display()
        ),
    );
}

#[test]
fn no_greeting_source_is_named_in_the_log() {
    let f = Fixture::with_controls("log-no-me", &[("rcpthosts", "example.com\n")]);
    let out = f.run(&[], "QUIT\r\n");
    assert_logged(
        &out,
        "unable to read controls: neither control/smtpgreeting nor control/me",
    );
}

#[test]
fn the_recipient_check_s_controls_are_named_in_the_log() {
    let f = fixture("log-locals");
    f.mkdir("control/locals");
    let out = f.cmd().env_remove("NOREALRCPTTO").input("QUIT\r\n").run();
    assert_logged(
        &out,
        "unable to read controls for the recipient check: control/locals: Is a directory (os error 21)",
    );
}

#[test]
fn an_unreadable_morercpthosts_is_named_in_the_log_at_rcpt() {
    let f = fixture("log-morercpthosts");
    f.mkdir("control/morercpthosts.cdb");
    let out = f.run(
        &[],
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@other.example>\r\nQUIT\r\n",
    );
    out.assert_stdout(format!("220 mx.example ESMTP\r\n250 ok\r\n{CONTROLS}"))
        .assert_exit(1)
        .assert_stderr_contains("unable to read controls: control/morercpthosts.cdb: ");
}

/// Without $QMAILHOME the compiled-in home is used: the one this build
/// was made for (`CONF_QMAIL`, from make's PREFIX; /var/qmail otherwise).
#[test]
fn without_qmailhome_the_compiled_in_home_is_used() {
    let home = qmail_smtpd::setup::default_home();
    if std::path::Path::new(home).exists() {
        println!("SKIPPED: {home} exists here, so its use cannot be told from the log");
        return;
    }
    let f = fixture("default-home");
    let out = f.cmd().env_remove("QMAILHOME").input("QUIT\r\n").run();
    assert_logged(
        &out,
        &format!(
            "unable to read controls: unable to chdir to {home}: No such file or directory (os error 2)"
        ),
    );
}
