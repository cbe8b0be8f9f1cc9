//! Peak memory does not grow with the input: whatever the client sends, the
//! server's maximum resident set stays under one fixed ceiling.
//!
//! Measured with GNU time's `%M` (getrusage's ru_maxrss of the server
//! process), so the figure is the server's own, not this test's.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// The ceiling in KiB, as documented in qmail-smtpd(8).
const CEILING_KIB: u64 = 4096;

/// A qmail home (the TempDir itself) whose bin/qmail-queue reads and
/// discards the message: not the fixtures' recording stand-in, which
/// would write each gigabyte to disk.
fn home(name: &str) -> support::TempDir {
    let dir = support::TempDir::new(&format!("memory-{name}"));
    std::fs::create_dir_all(dir.join("control")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("control/me"), "mx.example\n").unwrap();
    support::write_mode(
        &dir.join("bin/qmail-queue"),
        "#!/bin/sh\nexec 3<&1\ncat > /dev/null\ncat <&3 > /dev/null\nexit 0\n",
        0o755,
    );
    dir
}

/// Runs the server on input produced by `feed`, returning its replies and
/// its peak RSS in KiB.
fn peak(
    name: &str,
    env: &[(&str, &str)],
    feed: impl FnOnce(&mut dyn Write) + Send + 'static,
) -> (String, u64) {
    let time = "/usr/bin/time";
    assert!(
        std::path::Path::new(time).exists(),
        "GNU time is needed (Debian package `time`)"
    );
    let h = home(name);
    let mut cmd = Command::new(time);
    cmd.args(["-f", "%M", env!("CARGO_BIN_EXE_qmail-smtpd")])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QMAILHOME", h.path())
        .env("NOREALRCPTTO", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || feed(&mut stdin));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        // Keep only the replies' tail: 1,000,000 RCPTs make 40 MB of them.
        let mut tail = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 4096 {
                tail.drain(..tail.len() - 4096);
            }
        }
        (total, tail)
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    let (_, tail) = reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name}: no figure in {stderr:?}"));
    (String::from_utf8_lossy(&tail).into_owned(), kib)
}

fn message(w: &mut dyn Write, megabytes: usize) {
    let _ =
        w.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nSubject: big\r\n\r\n");
    let line = [b"y".repeat(78), b"\r\n".to_vec()].concat();
    let chunk = line.repeat(1 << 13);
    for _ in 0..(megabytes << 20) / chunk.len() {
        if w.write_all(&chunk).is_err() {
            return;
        }
    }
    let _ = w.write_all(b".\r\nQUIT\r\n");
}

#[test]
fn peak_memory_is_flat_whatever_the_client_sends() {
    let mut figures = Vec::new();

    let (tail, kib) = peak("line", &[], |w| {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"\r\nNOOP\r\nQUIT\r\n");
    });
    assert!(
        tail.ends_with("500 sorry, command line too long (#5.5.2)\r\n250 ok\r\n221 mx.example\r\n"),
        "{tail}"
    );
    figures.push(("100 MB line without newline", kib));

    let (tail, kib) = peak("rcpts", &[], |w| {
        let _ = w.write_all(b"MAIL FROM:<a@b>\r\n");
        let chunk = b"RCPT TO:<u@example.com>\r\n".repeat(10_000);
        for _ in 0..100 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"QUIT\r\n");
    });
    assert!(
        tail.ends_with("452 sorry, too many recipients (#4.5.3)\r\n221 mx.example\r\n"),
        "{tail}"
    );
    figures.push(("1,000,000 pipelined RCPTs", kib));

    let (tail, kib) = peak("over", &[("DATABYTES", "1000000")], |w| message(w, 1024));
    assert!(tail.ends_with("354 go ahead\r\n552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n221 mx.example\r\n"), "{tail}");
    figures.push(("1 GB message over databytes", kib));

    let (tail, kib) = peak("whole", &[], |w| message(w, 1024));
    assert!(
        tail.contains("354 go ahead\r\n250 ok ") && tail.ends_with("221 mx.example\r\n"),
        "{tail}"
    );
    figures.push(("1 GB message, no limit", kib));

    // Replies outweigh commands 28 to 1: pending replies must be written
    // out as they grow, not gathered over a whole read.
    let (tail, kib) = peak("empty-lines", &[], |w| {
        let chunk = vec![b'\n'; 1 << 20];
        for _ in 0..20 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"QUIT\r\n");
    });
    assert!(
        tail.ends_with("502 unimplemented (#5.5.1)\r\n221 mx.example\r\n"),
        "{tail}"
    );
    figures.push(("20,000,000 empty command lines", kib));

    // The most a transaction can hold: MAXRCPT (1000) recipients of nearly
    // 900 bytes each, then the message.
    let (tail, kib) = peak("envelope", &[("RELAYCLIENT", "")], |w| {
        let long = |c: &str| format!("{}@x.example", c.repeat(880));
        let _ = w.write_all(format!("MAIL FROM:<{}>\r\n", long("s")).as_bytes());
        for _ in 0..1000 {
            if w.write_all(format!("RCPT TO:<{}>\r\n", long("r")).as_bytes())
                .is_err()
            {
                return;
            }
        }
        let _ = w.write_all(b"DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n");
    });
    assert!(
        tail.contains("354 go ahead\r\n250 ok ") && tail.ends_with("221 mx.example\r\n"),
        "{tail}"
    );
    figures.push(("1,000 recipients of 890 bytes", kib));

    for (what, kib) in &figures {
        eprintln!("peak RSS {kib:>6} KiB  {what}");
    }
    for (what, kib) in figures {
        assert!(
            kib <= CEILING_KIB,
            "{what}: {kib} KiB exceeds the {CEILING_KIB} KiB ceiling"
        );
    }
}
