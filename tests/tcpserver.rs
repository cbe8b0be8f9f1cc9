//! End to end, as deployed: the real `tcpserver` (ucspi-tcp) on 127.0.0.1
//! runs the binary for each connection, and the real `swaks` client talks
//! to it. RELAYCLIENT comes from a rules cdb built by `tcprules`.
//!
//! tcpserver, tcprules and swaks must be installed (.ci/run installs them):
//! these tests fail, naming the missing package, when they are not.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::{Fixture, Queue};

const ENVELOPE: &[u8] = b"Falice@sender.example\0Tbob@example.com\0\0";
/// tcpserver runs with -H (no TCPREMOTEHOST), -R (no TCPREMOTEINFO) and
/// `-l mx.example` (TCPLOCALHOST); swaks says `EHLO client.example`.
const RCVD: &str =
    "Received: from unknown (HELO client.example) (127.0.0.1)\n  by mx.example with SMTP; DATE\n";

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.queue(Queue::Record(0));
    f
}

/// A running tcpserver; killed when dropped, whatever happens.
struct TcpServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TcpServer {
    /// Starts tcpserver on 127.0.0.1 (a port the kernel picks, printed by
    /// `-1`) with `rules` compiled by tcprules, and waits until it greets.
    fn start(f: &Fixture, rules: &str) -> TcpServer {
        let tcpserver = support::require_program("tcpserver", "ucspi-tcp");
        let tcprules = support::require_program("tcprules", "ucspi-tcp");
        let cdb = f.root.join("rules.cdb");
        let mut tr = support::spawn(
            Command::new(&tcprules)
                .arg(&cdb)
                .arg(f.root.join("rules.tmp"))
                .stdin(Stdio::piped()),
        )
        .expect("run tcprules");
        tr.stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(tr.wait().unwrap().success(), "tcprules failed on {rules:?}");

        let log = f.root.join("tcpserver.log");
        let child = support::spawn(
            Command::new(&tcpserver)
                .args(["-1", "-R", "-H", "-l", "mx.example", "-c", "20", "-x"])
                .arg(&cdb)
                .args(["127.0.0.1", "0"])
                .arg(support::bin())
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("QMAILHOME", &f.home)
                .env("QMAILQUEUE", f.queue_program())
                .env("NOREALRCPTTO", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log).unwrap()),
        )
        .expect("start tcpserver");
        let mut server = TcpServer {
            child,
            port: 0,
            log,
        };
        // -1: tcpserver prints the port once it listens.
        let stdout = server.child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        server.port = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "tcpserver did not report a port (got {line:?}); log:\n{}",
                server.log_text()
            )
        });
        server.wait_for_greeting();
        server
    }

    /// Connects until the server answers with its greeting, then quits.
    fn wait_for_greeting(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = [0u8; 256];
                let n = s.read(&mut buf).unwrap_or(0);
                assert_eq!(
                    &buf[..n],
                    b"220 mx.example ESMTP\r\n",
                    "greeting through tcpserver; log:\n{}",
                    self.log_text()
                );
                s.write_all(b"QUIT\r\n").unwrap();
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
                assert_eq!(rest, b"221 mx.example\r\n", "QUIT through tcpserver");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tcpserver never accepted; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs swaks against this server with `args`.
    fn swaks(&self, f: &Fixture, args: &[&str]) -> Output {
        let swaks = support::require_program("swaks", "swaks");
        support::output(
            Command::new(swaks)
                .args(["--server", "127.0.0.1", "--port", &self.port.to_string()])
                .args(["--helo", "client.example", "--timeout", "30"])
                .args(args)
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", &f.root),
        )
        .expect("run swaks")
    }

    /// Panics with everything known.
    fn fail(&self, f: &Fixture, out: &Output, msg: &str) -> ! {
        let mut calls = String::new();
        for (i, c) in f.calls().iter().enumerate() {
            calls.push_str(&format!(
                "run {i}: pid {}\n  message:\n{}  envelope: {}\n",
                c.pid,
                support::show(c.message.as_deref().unwrap_or_default()),
                support::show(c.envelope.as_deref().unwrap_or_default())
            ));
        }
        panic!(
            "\n==== ASSERTION FAILED ====\n{msg}\n\n---- swaks exit {:?} ----\n{}\n---- swaks stderr ----\n{}\n\
             ---- tcpserver log (also the binary's stderr) ----\n{}\n---- fixture ----\n{}\n---- qmail-queue runs ----\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text(),
            f.listing(),
            calls
        );
    }

    fn assert_swaks_ok(&self, f: &Fixture, out: &Output) {
        if !out.status.success() {
            self.fail(f, out, "swaks failed");
        }
        let t = String::from_utf8_lossy(&out.stdout);
        if !t
            .lines()
            .any(|l| l.starts_with("<-  250 ok ") && l.contains(" qp "))
        {
            self.fail(
                f,
                out,
                "no `250 ok UNIXTIME qp PID` in the swaks transcript",
            );
        }
    }

    /// Exactly one message queued, as expected (Received date masked).
    fn assert_queued(&self, f: &Fixture, out: &Output, message: &str, envelope: &[u8]) {
        let calls = f.calls();
        let queued: Vec<_> = calls.iter().filter(|c| c.envelope.is_some()).collect();
        if queued.len() != 1 {
            self.fail(
                f,
                out,
                &format!("expected one queued message, got {}", queued.len()),
            );
        }
        let c = queued[0];
        let msg = c.message.clone().unwrap_or_default();
        let masked = support::mask_received(
            &msg,
            std::time::UNIX_EPOCH,
            std::time::SystemTime::now() + Duration::from_secs(5),
        )
        .unwrap_or_else(|e| self.fail(f, out, &e));
        if masked != message.as_bytes() {
            self.fail(
                f,
                out,
                &format!(
                    "queued message differs\n{}",
                    support::diff(message.as_bytes(), &masked)
                ),
            );
        }
        if c.envelope.as_deref() != Some(envelope) {
            self.fail(
                f,
                out,
                &format!(
                    "envelope differs\n{}",
                    support::diff(envelope, c.envelope.as_deref().unwrap_or_default())
                ),
            );
        }
    }
}

#[test]
fn plain_delivery() {
    let f = fixture("tcpserver-plain");
    let server = TcpServer::start(&f, ":allow\n");
    let out = server.swaks(
        &f,
        &[
            "--from",
            "alice@sender.example",
            "--to",
            "bob@example.com",
            "--data",
            "Subject: e2e\\n\\nhello from swaks\\n.leading dot\\nlast line",
        ],
    );
    server.assert_swaks_ok(&f, &out);
    server.assert_queued(
        &f,
        &out,
        &format!("{RCVD}Subject: e2e\n\nhello from swaks\n.leading dot\nlast line\n"),
        ENVELOPE,
    );
}

#[test]
fn pipelining() {
    let f = fixture("tcpserver-pipeline");
    let server = TcpServer::start(&f, ":allow\n");
    let out = server.swaks(
        &f,
        &[
            "--pipeline",
            "--from",
            "alice@sender.example",
            "--to",
            "bob@example.com,carol@example.com",
            "--data",
            "Subject: pipelined\\n\\nbody",
        ],
    );
    server.assert_swaks_ok(&f, &out);
    let t = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    // The PIPELINING advertisement, and swaks sending MAIL, both RCPTs and
    // DATA before reading any reply to them.
    let pipelined = " -> MAIL FROM:<alice@sender.example>\n -> RCPT TO:<bob@example.com>\n -> RCPT TO:<carol@example.com>\n -> DATA\n\
                     <-  250 ok\n<-  250 ok\n<-  250 ok\n<-  354 go ahead\n";
    if !t.contains("<-  250-PIPELINING\n") || !t.contains(pipelined) {
        server.fail(
            &f,
            &out,
            &format!("the transcript does not show a pipelined transaction:\n{pipelined}"),
        );
    }
    server.assert_queued(
        &f,
        &out,
        &format!("{RCVD}Subject: pipelined\n\nbody\n"),
        b"Falice@sender.example\0Tbob@example.com\0Tcarol@example.com\0\0",
    );
}

#[test]
fn relayclient_from_tcprules() {
    let args = [
        "--from",
        "alice@sender.example",
        "--to",
        "user@elsewhere.example",
        "--data",
        "Subject: relay\\n\\nrelayed",
    ];
    // Without RELAYCLIENT a domain outside rcpthosts is refused.
    let f = fixture("tcpserver-norelay");
    let server = TcpServer::start(&f, ":allow\n");
    let out = server.swaks(&f, &args);
    let t = String::from_utf8_lossy(&out.stdout);
    if out.status.success()
        || !t.contains("<** 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")
    {
        server.fail(
            &f,
            &out,
            "expected the RCPT to be refused with 553 (no RELAYCLIENT)",
        );
    }
    if f.calls().iter().any(|c| c.envelope.is_some()) {
        server.fail(
            &f,
            &out,
            "something was queued although the recipient was refused",
        );
    }
    drop(server);

    // The rules set RELAYCLIENT for 127.*: accepted, envelope unchanged.
    let f = fixture("tcpserver-relay");
    let server = TcpServer::start(&f, "127.:allow,RELAYCLIENT=\"\"\n:allow\n");
    let out = server.swaks(&f, &args);
    server.assert_swaks_ok(&f, &out);
    server.assert_queued(
        &f,
        &out,
        &format!("{RCVD}Subject: relay\n\nrelayed\n"),
        b"Falice@sender.example\0Tuser@elsewhere.example\0\0",
    );
}
