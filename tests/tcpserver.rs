//! End to end, as deployed: the real `tcpserver` (ucspi-tcp) on 127.0.0.1
//! runs the binary for each connection, and the real `swaks` client talks
//! to it. RELAYCLIENT comes from a rules cdb built by `tcprules`.
//!
//! tcpserver, tcprules and swaks must be installed (.ci/run installs them):
//! these tests fail, naming the missing package, when they are not.

mod support;

use std::process::Output;
use std::time::Duration;

use support::tcpserver::TcpServer;
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

/// The tcpserver checks these tests share.
trait Checks {
    fn assert_swaks_ok(&self, f: &Fixture, out: &Output);
    fn assert_queued(&self, f: &Fixture, out: &Output, message: &str, envelope: &[u8]);
}

/// tcpserver with `rules`, greeting checked.
fn start(f: &Fixture, rules: &str) -> TcpServer {
    let server = TcpServer::start(f, Some(rules), &[]);
    server.wait_for_greeting();
    server
}

impl Checks for TcpServer {
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
    let server = start(&f, ":allow\n");
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
    let server = start(&f, ":allow\n");
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
    let server = start(&f, ":allow\n");
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
    let server = start(&f, "127.:allow,RELAYCLIENT=\"\"\n:allow\n");
    let out = server.swaks(&f, &args);
    server.assert_swaks_ok(&f, &out);
    server.assert_queued(
        &f,
        &out,
        &format!("{RCVD}Subject: relay\n\nrelayed\n"),
        b"Falice@sender.example\0Tuser@elsewhere.example\0\0",
    );
}
