//! End to end, as deployed: the real `tcpserver` (ucspi-tcp) on 127.0.0.1
//! runs the binary for each connection, and the real `swaks` client talks
//! to it. RELAYCLIENT comes from a rules cdb built by `tcprules`. The IPv6
//! tests run Debian's ucspi-tcp-ipv6 tcpserver (Felix von Leitner's
//! patch) on ::1, with swaks -6 and Python's smtplib.
//!
//! tcpserver, tcprules and swaks must be installed (.ci/run installs them,
//! and unpacks ucspi-tcp-ipv6 into /opt/ucspi-tcp-ipv6): these tests fail,
//! naming the missing package, when they are not.

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
        let c = self.only_queued(f, out);
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

/// The RCPTLOG decision lines' `ip=` fields in the server's log.
fn decision_ips(server: &TcpServer) -> Vec<String> {
    support::decision_lines(server.log_text().as_bytes())
        .iter()
        .filter_map(|l| {
            l.split(' ')
                .find_map(|w| w.strip_prefix("ip="))
                .map(str::to_string)
        })
        .collect()
}

const V6_DATA: &str = "Subject: v6\\n\\nover IPv6";

/// swaks (`family`, `-4` or `-6`) sends one message: the Received header
/// and the RCPTLOG line must name the client as `ip`.
fn one_message_names(f: &Fixture, server: &TcpServer, family: &str, ip: &str) {
    server.wait_for_greeting();
    let out = server.swaks(
        f,
        &[
            family,
            "--from",
            "alice@sender.example",
            "--to",
            "bob@example.com",
            "--data",
            V6_DATA,
        ],
    );
    server.assert_swaks_ok(f, &out);
    server.assert_queued(
        f,
        &out,
        &format!(
            "Received: from unknown (HELO client.example) ({ip})\n  by mx.example with SMTP; DATE\nSubject: v6\n\nover IPv6\n"
        ),
        ENVELOPE,
    );
    assert_eq!(decision_ips(server), [ip], "{}", server.log_text());
}

#[test]
fn ipv6_client_under_ucspi_tcp_ipv6() {
    // PROTO=TCP6, TCPREMOTEIP=::1: the Received header and the
    // realrcptto ip (${PROTO}REMOTEIP) show the IPv6 address.
    let f = fixture("tcpserver6-native");
    let server = TcpServer::start_ipv6(&f, None, &[("RCPTLOG", "1")], &[], ("::1", "::1"));
    one_message_names(&f, &server, "-6", "::1");
}

#[test]
fn ipv4_client_on_an_ipv6_socket_is_its_ipv4_address() {
    // tcpserver -6 on the dual-stack socket: an IPv4 client arrives as
    // TCPREMOTEIP=::ffff:127.0.0.1 with PROTO=TCP6, and is written and
    // logged as 127.0.0.1.
    let f = fixture("tcpserver6-mapped");
    let server = TcpServer::start_ipv6(&f, None, &[("RCPTLOG", "1")], &["-6"], ("0", "127.0.0.1"));
    one_message_names(&f, &server, "-4", "127.0.0.1");
}

#[test]
fn relayclient_for_an_ipv6_client_from_tcprules() {
    // ucspi-tcp-ipv6's rules for ::1 (its rule keys are IPv6 text, and
    // prefixes of it ending in `:`, as `2001:db8:` for a range): RELAYCLIENT
    // for the IPv6 client, none for an IPv4 client of the same server.
    let rules = "::1:allow,RELAYCLIENT=\"\"\n:allow\n";
    let relay = [
        "--from",
        "alice@sender.example",
        "--to",
        "user@elsewhere.example",
        "--data",
        "Subject: relay\\n\\nrelayed",
    ];
    let f = fixture("tcpserver6-relay");
    let mut server = TcpServer::start_ipv6(&f, Some(rules), &[], &["-6"], ("0", "::1"));
    server.wait_for_greeting();
    let out = server.swaks(&f, &[&["-6"][..], &relay].concat());
    server.assert_swaks_ok(&f, &out);
    server.assert_queued(
        &f,
        &out,
        "Received: from unknown (HELO client.example) (::1)\n  by mx.example with SMTP; DATE\nSubject: relay\n\nrelayed\n",
        b"Falice@sender.example\0Tuser@elsewhere.example\0\0",
    );
    server.host = "127.0.0.1";
    let out = server.swaks(&f, &[&["-4"][..], &relay].concat());
    let t = String::from_utf8_lossy(&out.stdout);
    if out.status.success()
        || !t.contains("<** 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")
    {
        server.fail(
            &f,
            &out,
            "the IPv4 client must not relay (the rule is for ::1)",
        );
    }
}

#[test]
fn smtputf8_with_smtplib_over_ipv6() {
    // Python's smtplib sends the UTF-8 envelope only when EHLO offers
    // SMTPUTF8 and mail_options asks for it; the message bytes pass as
    // they are, and the header says UTF8SMTP. An address that is not
    // UTF-8 is refused at MAIL under SMTPUTF8, taken without it.
    let f = fixture("tcpserver6-smtputf8");
    let server = TcpServer::start_ipv6(&f, None, &[], &[], ("::1", "::1"));
    server.wait_for_greeting();
    let script = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[2], int(sys.argv[1]), local_hostname="client.example", timeout=30)
s.ehlo()
print("smtputf8" if s.has_extn("smtputf8") else "no smtputf8")
msg = "Subject: caf\u00e9\r\n\r\n20 \u20ac\r\n".encode()
print(s.sendmail("j\u00f6rg@b\u00fccher.example", ["\u00e9t\u00e9@example.com"], msg, mail_options=["SMTPUTF8"]))
s.send(b"MAIL FROM:<j\xf6rg@b.example> SMTPUTF8\r\n")
print(s.getreply())
s.send(b"MAIL FROM:<j\xf6rg@b.example>\r\n")
print(s.getreply())
s.quit()
"#;
    let out = server.python(script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = "smtputf8\n{}\n(553, b'sorry, that sender address is not valid UTF-8 (#5.1.7)')\n(250, b'ok')\n";
    if !out.status.success() || stdout != want {
        server.fail(&f, &out, &format!("smtplib's session, want:\n{want}"));
    }
    server.assert_queued(
        &f,
        &out,
        "Received: from unknown (HELO client.example) (::1)\n  by mx.example with UTF8SMTP; DATE\nSubject: caf\u{e9}\n\n20 \u{20ac}\n",
        "Fj\u{f6}rg@b\u{fc}cher.example\0T\u{e9}t\u{e9}@example.com\0\0".as_bytes(),
    );
}
