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
        lines[..9],
        [
            "220 mx.example ESMTP",
            "250-mx.example",
            "250-PIPELINING",
            "250-SMTPUTF8",
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
        lines[9].starts_with("250 ok "),
        "{replies}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines[10], "221 mx.example");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(envelope, b"Fa@b\0Tu@x.example\0\0");
}

/// A large virtual-hosting site's users/cdb (1,000,000 entries, some 60 MB)
/// under the same 3 MiB limit: cdb files are read with positioned reads,
/// never mapped, so memory does not grow with the file. A listed user with
/// a `.qmail-default` is accepted, a name at a listed user without one
/// refused.
#[test]
fn a_million_entry_users_cdb_under_softlimit() {
    assert!(
        std::path::Path::new("/usr/bin/softlimit").exists(),
        "softlimit is needed (Debian package daemontools)"
    );
    let f = Fixture::with_controls(
        "softlimit-bigcdb",
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "big.example\n"),
            ("virtualdomains", "big.example:big\n"),
        ],
    );
    let full = f.home.join("full");
    let empty = f.home.join("empty");
    for d in [&full, &empty] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(full.join(".qmail-default"), "./Maildir/\n").unwrap();
    std::fs::create_dir_all(f.home.join("users")).unwrap();
    let mut w = cdb2::CDBWriter::create(f.home.join("users/cdb")).unwrap();
    for i in 0..1_000_000u32 {
        // Odd users have a .qmail-default, even ones nothing.
        let home = if i % 2 == 1 { &full } else { &empty };
        let key = format!("!big-user{i}-");
        let value = format!(
            "u{i}\0{}\0{}\0{}\0-\0",
            10_000 + i,
            10_000 + i,
            home.display()
        );
        w.add(key.as_bytes(), value.as_bytes()).unwrap();
    }
    w.add(b"", b"-").unwrap();
    w.finish().unwrap();
    assert!(std::fs::metadata(f.home.join("users/cdb")).unwrap().len() > 50 << 20);

    let out = support::spawn(
        Command::new("/usr/bin/softlimit")
            .args(["-m", LIMIT, env!("CARGO_BIN_EXE_qmail-smtpd")])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILHOME", &f.home)
            .stdin({
                let input = f.home.join("input");
                std::fs::write(
                    &input,
                    "MAIL FROM:<a@b>\r\n\
                     RCPT TO:<user999999-x@big.example>\r\n\
                     RCPT TO:<user999998-x@big.example>\r\n\
                     RCPT TO:<user1-anything@big.example>\r\n\
                     RCPT TO:<user0-x@big.example>\r\n\
                     QUIT\r\n",
                )
                .unwrap();
                std::fs::File::open(input).unwrap()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .and_then(|c| c.wait_with_output())
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "220 mx.example ESMTP\r\n\
         250 ok\r\n\
         250 ok\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         250 ok\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         221 mx.example\r\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}
