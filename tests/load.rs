//! Load: 200 concurrent sessions through the real tcpserver (`-c 200`), each
//! delivering one message. Every message must be queued exactly once and
//! byte-identical to what its client sent.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SESSIONS: usize = 200;

fn which(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.exists())
}

fn body(i: usize) -> String {
    format!(
        "Subject: message {i}\r\nX-Seq: {i}\r\n\r\n{}\r\n..dot-stuffed line {i}\r\nend {i}\r\n",
        "z".repeat(1000 + i)
    )
}

/// What qmail-queue should receive for `body(i)`, after the Received header.
fn stored(i: usize) -> Vec<u8> {
    format!(
        "Subject: message {i}\nX-Seq: {i}\n\n{}\n.dot-stuffed line {i}\nend {i}\n",
        "z".repeat(1000 + i)
    )
    .into_bytes()
}

fn session(port: u16, i: usize) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let msg = format!(
        "HELO client{i}\r\nMAIL FROM:<sender{i}@example.org>\r\nRCPT TO:<rcpt{i}@example.com>\r\nDATA\r\n{}.\r\nQUIT\r\n",
        body(i)
    );
    s.write_all(msg.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn two_hundred_concurrent_sessions_each_queued_once() {
    let tcpserver = which("tcpserver").expect("tcpserver is needed (Debian package ucspi-tcp)");
    // The qmail home is the TempDir itself. Its qmail-queue is a script of
    // its own, not the fixtures' recording stand-in: 200 runs at once need
    // mktemp's unique names, where the stand-in numbers its runs by
    // looking for the first free N.
    let tmp = support::TempDir::new("load");
    let dir = tmp.path();
    for d in ["control", "bin", "queue"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("control/me"), "mx.example\n").unwrap();
    std::fs::write(dir.join("control/rcpthosts"), "example.com\n").unwrap();
    support::write_mode(
        &dir.join("bin/qmail-queue"),
        &format!(
            "#!/bin/sh\nf=$(mktemp {}/queue/msg.XXXXXXXX) || exit 53\nexec 3<&1\ncat > \"$f\" || exit 53\ncat <&3 > \"$f.env\" || exit 54\nexit 0\n",
            dir.display()
        ),
        0o755,
    );
    let port = support::free_port();
    let child = Command::new(tcpserver)
        .args([
            "-c",
            &SESSIONS.to_string(),
            "-b",
            "200",
            "-H",
            "-R",
            "-l",
            "mx.example",
            "127.0.0.1",
            &port.to_string(),
        ])
        .arg(env!("CARGO_BIN_EXE_qmail-smtpd"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QMAILHOME", dir)
        .env("NOREALRCPTTO", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = support::KillOnDrop(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "tcpserver did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The probe connection above is a session too; give it time to end.
    std::thread::sleep(Duration::from_millis(200));

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(SESSIONS));
    let threads: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                session(port, i)
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let out = t.join().unwrap();
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(
            lines[..5],
            [
                "220 mx.example ESMTP",
                "250 mx.example",
                "250 ok",
                "250 ok",
                "354 go ahead"
            ],
            "session {i}: {out}"
        );
        assert!(
            lines[5].starts_with("250 ok ") && lines[6] == "221 mx.example",
            "session {i}: {out}"
        );
    }

    let mut seen = vec![0usize; SESSIONS];
    for entry in std::fs::read_dir(dir.join("queue")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "env") {
            continue;
        }
        let msg = std::fs::read(&path).unwrap();
        let env = std::fs::read(format!("{}.env", path.display())).unwrap();
        let text = String::from_utf8(msg.clone()).unwrap();
        let after = text.splitn(3, '\n').nth(2).unwrap();
        let i: usize = after
            .lines()
            .nth(1)
            .unwrap()
            .strip_prefix("X-Seq: ")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            text.starts_with(&format!(
                "Received: from unknown (HELO client{i}) (127.0.0.1)\n  by mx.example with SMTP; "
            )),
            "{text:.200}"
        );
        assert_eq!(after.as_bytes(), stored(i), "message {i} altered");
        assert_eq!(
            env,
            format!("Fsender{i}@example.org\0Trcpt{i}@example.com\0\0").into_bytes(),
            "envelope {i}"
        );
        seen[i] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "queued counts: {seen:?}");
}
