//! `make demo` works on a fresh machine: its session shows the known
//! recipient accepted, the unknown one refused at RCPT, and one message
//! queued.

mod support;

use std::path::Path;
use std::process::Command;

#[test]
fn demo_shows_accepted_and_refused_recipients() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_qmail-smtpd"))
        .parent()
        .unwrap();
    // demo.sh empties and fills DEMO_DIR itself.
    let dir = support::TempDir::new("demo");
    let out = Command::new("bash")
        .arg(top.join("scripts/demo.sh"))
        .env("DEMO_BIN", bin)
        .env("DEMO_DIR", dir.join("home"))
        .env_remove("NOREALRCPTTO")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed\n{stdout}\n{stderr}");
    for want in [
        "RCPT TO:<alice@demo.example>",
        "RCPT TO:<nobody@demo.example>",
        "550 sorry, no mailbox here by that name. (#5.1.1)",
        "354 go ahead",
        "realrcptto ",
    ] {
        assert!(
            stdout.contains(want),
            "demo output lacks {want:?}\n{stdout}"
        );
    }
    // The accepted RCPT is answered 250 right after it is sent.
    let lines: Vec<&str> = stdout.lines().collect();
    let alice = lines
        .iter()
        .position(|l| l.contains("RCPT TO:<alice@demo.example>"))
        .unwrap();
    assert!(
        lines[alice + 1..]
            .iter()
            .find(|l| l.contains("250") || l.contains("550"))
            .unwrap()
            .contains("250 ok"),
        "{stdout}"
    );
    let nobody = lines
        .iter()
        .position(|l| l.contains("RCPT TO:<nobody@demo.example>"))
        .unwrap();
    assert!(
        lines[nobody + 1..]
            .iter()
            .find(|l| l.contains("250") || l.contains("550"))
            .unwrap()
            .contains("550 "),
        "{stdout}"
    );
}
