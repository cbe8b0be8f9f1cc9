//! A client that goes away or goes quiet right after the final dot: the
//! message was whole, so it is queued exactly once (nothing half-queued,
//! nothing lost), and the process ends by itself within timeoutsmtpd.
//! A client that drips a line a byte at a time is cut off at timeoutsmtpd
//! too.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Fixture;

const ENV: &[(&str, &str)] = &[
    ("TCPREMOTEIP", "192.0.2.1"),
    ("TCPREMOTEHOST", "client.example"),
    ("TCPLOCALHOST", "mx.example"),
];
const UPTO_354: &str = "220 mx.example ESMTP\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n";
const SESSION: &str = "MAIL FROM:<a@sender.example>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n";
const MESSAGE: &[u8] =
    b"Received: from client.example (192.0.2.1)\n  by mx.example with SMTP; DATE\nSubject: x\n\nbody\n";
const ENVELOPE: &[u8] = b"Fa@sender.example\0Tb@example.com\0\0";

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.control("timeoutsmtpd", "1\n");
    f
}

fn run(f: &Fixture) -> support::Run<'_> {
    ENV.iter()
        .fold(f.cmd().env("NOREALRCPTTO", "1"), |r, (k, v)| r.env(k, v))
}

#[test]
fn gone_right_after_the_final_dot() {
    let f = fixture("gone-after-dot");
    let out = run(&f).input(SESSION).run();
    out.assert_stdout(format!("{UPTO_354}250 ok UNIXTIME qp PID\r\n"))
        .assert_exit(1)
        .assert_queued(MESSAGE, ENVELOPE);
}

#[test]
fn quiet_right_after_the_final_dot() {
    let f = fixture("quiet-after-dot");
    let start = Instant::now();
    let out = run(&f).input(SESSION).keep_open().run();
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n451 timeout (#4.4.2)\r\n"
    ))
    .assert_exit(1)
    .assert_queued(MESSAGE, ENVELOPE);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the process outlived timeoutsmtpd by far"
    );
}

#[test]
fn quiet_inside_the_final_dot_line() {
    // ".\r" without its LF: the end is not there yet, nothing may be queued.
    let f = fixture("quiet-in-dot");
    let input = SESSION.strip_suffix('\n').unwrap();
    let out = run(&f).input(input).keep_open().run();
    out.assert_stdout(format!("{UPTO_354}451 timeout (#4.4.2)\r\n"))
        .assert_exit(1)
        .assert_nothing_queued();
}

/// timeoutsmtpd bounds a whole line, not each read: a client sending one
/// byte every half second never lets a read time out, but its line is not
/// complete within 2 seconds, so it gets `451 timeout` and is gone. A
/// lock-step client, whose whole lines come 1.5 s apart, is not affected,
/// though its session outlasts timeoutsmtpd.
#[test]
fn a_line_dripped_byte_by_byte_times_out() {
    let f = fixture("drip");
    f.control("timeoutsmtpd", "2\n");
    let mut child = support::spawn(
        Command::new(support::bin())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILHOME", &f.home)
            .env("NOREALRCPTTO", "1")
            .env("SMTPD_LOGLEVEL", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        for _ in 0..3 {
            let _ = stdin.write_all(b"NOOP\r\n");
            std::thread::sleep(Duration::from_millis(1500));
        }
        let _ = tx.send(Instant::now());
        for &b in b"HELO client.example\r\n" {
            if stdin.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    let dripped = rx.recv().unwrap().elapsed();
    writer.join().unwrap();
    let context = format!(
        "stdout: {:?}\nstderr: {}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "220 mx.example ESMTP\r\n250 ok\r\n250 ok\r\n250 ok\r\n451 timeout (#4.4.2)\r\n",
        "{context}"
    );
    assert_eq!(status.code(), Some(1), "{context}");
    assert!(
        dripped < Duration::from_secs(6),
        "the dripping client held on for {dripped:?}\n{context}"
    );
    assert!(
        support::contains(&stderr, b"timeout: no whole line from the client in time"),
        "{context}"
    );
}
