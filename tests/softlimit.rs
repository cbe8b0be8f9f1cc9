//! The whole server runs under `softlimit -m 3145728` (3 MiB, the limit
//! README states): a session with the recipient check (getpwnam included)
//! and a 20 MB message, streamed to qmail-queue.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use support::Fixture;

/// The documented smallest `softlimit -m`, in bytes.
const LIMIT: &str = "3145728";

#[test]
fn a_whole_session_under_softlimit() {
    assert!(
        std::path::Path::new("/usr/bin/softlimit").exists(),
        "softlimit is needed (Debian package daemontools)"
    );
    let f = Fixture::with_controls(
        "softlimit",
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "x.example\nnobody.example\n"),
            ("virtualdomains", "nobody.example:ex\n"),
        ],
    );
    f.ex_bounces();
    // qmail-queue runs under the same limit: dd, unlike cat, fits in it.
    let q = f.home.join("bin/qmail-queue");
    let envelope_file = f.home.join("bin/qmail-queue.envelope");
    f.write(
        "bin/qmail-queue",
        "#!/bin/sh\nexec 3<&1\ndd bs=4096 of=/dev/null 2>/dev/null || exit 54\ndd bs=4096 <&3 2>/dev/null > \"$0.envelope\" || exit 54\n",
    );
    std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut child = support::spawn(
        Command::new("/usr/bin/softlimit")
            .args(["-m", LIMIT, env!("CARGO_BIN_EXE_qmail-smtpd")])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILHOME", &f.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<joe@nobody.example>\r\nRCPT TO:<u@x.example>\r\nDATA\r\nSubject: big\r\n\r\n");
        let chunk = [b"z".repeat(78), b"\r\n".to_vec()].concat().repeat(1 << 12);
        for _ in 0..(20 << 20) / chunk.len() {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = stdin.write_all(b".\r\nQUIT\r\n");
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let envelope = std::fs::read(&envelope_file).unwrap_or_default();
    let replies = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = replies.split("\r\n").collect();
    assert_eq!(
        lines[..8],
        [
            "220 mx.example ESMTP",
            "250-mx.example",
            "250-PIPELINING",
            "250 8BITMIME",
            "250 ok",
            "550 sorry, no mailbox here by that name. (#5.1.1)",
            "250 ok",
            "354 go ahead"
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lines[8].starts_with("250 ok "),
        "{replies}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[9], "221 mx.example");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(envelope, b"Fa@b\0Tu@x.example\0\0");
}
