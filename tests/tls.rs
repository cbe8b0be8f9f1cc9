//! STARTTLS and implicit TLS end to end: the real `tcpserver` runs
//! qmail-smtpd, which execs bin/qmail-smtpd-tls (a link to the built one
//! in the fixture's qmail home) when TLS is due; real clients talk to it:
//! swaks, `openssl s_client` and Python's smtplib and ssl modules. The
//! certificate is made for each run by `openssl req`.
//!
//! Needs tcpserver (ucspi-tcp), swaks, openssl and python3 (.ci/run
//! installs them).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::Fixture;
use support::tcpserver::TcpServer;

/// The names qmail-smtpd-tls may write (OpenSSL's, see its source).
const CIPHERS: [&str; 9] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

/// A qmail home with a certificate and bin/qmail-smtpd-tls (see
/// [`support::tls_fixture`]).
fn fixture(name: &str, cert: Option<&str>) -> Fixture {
    support::tls_fixture(name, cert)
}

/// tcpserver running qmail-smtpd for `f` (log level info, so the TLS
/// failures it logs can be checked), with `env` on top.
fn start(f: &Fixture, env: &[(&str, &str)]) -> TcpServer {
    let mut all = vec![("SMTPD_LOGLEVEL", "info")];
    all.extend_from_slice(env);
    TcpServer::start(f, None, &all)
}

/// swaks from alice@sender.example to bob@example.com, with `args`.
fn swaks(server: &TcpServer, f: &Fixture, args: &[&str]) -> Output {
    let mut all = vec!["--from", "alice@sender.example", "--to", "bob@example.com"];
    all.extend_from_slice(args);
    server.swaks(f, &all)
}

/// The one queued message, with its Received header's second line checked
/// for the encrypted form and returned.
fn queued_over_tls(f: &Fixture, server: &TcpServer, out: &Output) -> String {
    let call = server.only_queued(f, out);
    assert_eq!(
        call.envelope.as_deref(),
        Some(&b"Falice@sender.example\0Tbob@example.com\0\0"[..])
    );
    let msg = String::from_utf8_lossy(call.message.as_deref().unwrap_or_default()).into_owned();
    let by = msg.lines().nth(1).unwrap_or_default().to_string();
    let ok = by
        .strip_prefix("  by mx.example with (")
        .and_then(|r| r.split_once(" encrypted) SMTP; "))
        .is_some_and(|(cipher, _)| CIPHERS.contains(&cipher));
    if !ok {
        server.fail(
            f,
            out,
            &format!("Received header does not say (CIPHER encrypted) SMTP:\n{msg}"),
        );
    }
    msg
}

#[test]
fn swaks_starttls_delivers_and_received_says_encrypted() {
    let f = fixture("tls-swaks", None);
    let server = start(&f, &[]);
    let out = swaks(
        &server,
        &f,
        &["--tls", "--data", "Subject: tls\n\nover tls"],
    );
    let t = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    if !out.status.success()
        || !t.contains("<-  250-PIPELINING\n<-  250-SMTPUTF8\n<-  250-STARTTLS\n<-  250 8BITMIME\n")
        || !t.contains("<-  220 ready for tls\n")
        // After the handshake: the same EHLO reply without STARTTLS.
        || !t.contains("<~  250-mx.example\n<~  250-PIPELINING\n<~  250-SMTPUTF8\n<~  250 8BITMIME\n")
        || !t.contains("<~  250 ok ")
    {
        server.fail(&f, &out, "swaks --tls: unexpected dialogue");
    }
    let msg = queued_over_tls(&f, &server, &out);
    assert!(
        msg.starts_with("Received: from unknown (HELO client.example) (127.0.0.1)\n"),
        "{msg}"
    );
    assert!(msg.ends_with("Subject: tls\n\nover tls\n"), "{msg}");
    // TLS 1.2 too, with its own suite names.
    let f = fixture("tls-swaks-12", None);
    let server = start(&f, &[]);
    let out = swaks(&server, &f, &["--tls", "--tls-protocol", "tlsv1_2"]);
    if !out.status.success() {
        server.fail(&f, &out, "swaks --tls over TLS 1.2");
    }
    let msg = queued_over_tls(&f, &server, &out);
    assert!(msg.lines().nth(1).unwrap().contains("(ECDHE-RSA-"), "{msg}");
}

#[test]
fn openssl_s_client_starttls() {
    let f = fixture("tls-s-client", None);
    let server = start(&f, &[]);
    let openssl = support::require_program("openssl", "openssl");
    let mut child = support::spawn(
        Command::new(openssl)
            .args([
                "s_client",
                "-starttls",
                "smtp",
                "-quiet",
                "-crlf",
                "-connect",
            ])
            .arg(format!("127.0.0.1:{}", server.port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("run openssl s_client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"EHLO client.example\nNOOP\nQUIT\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let t = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    // s_client's own EHLO and STARTTLS are not shown; ours, inside TLS, are.
    if !t.ends_with(
        "250-mx.example\n250-PIPELINING\n250-SMTPUTF8\n250 8BITMIME\n250 ok\n221 mx.example\n",
    ) {
        server.fail(
            &f,
            &out,
            "openssl s_client -starttls smtp: unexpected replies",
        );
    }
}

#[test]
fn python_smtplib_starttls_and_smtp_ssl() {
    let f = fixture("tls-smtplib", None);
    let server = start(&f, &[]);
    let out = server.python(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=30)
s.ehlo()
assert s.has_extn("starttls"), s.esmtp_features
code, msg = s.starttls(context=ctx)
assert (code, msg) == (220, b"ready for tls"), (code, msg)
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
s.sendmail("alice@sender.example", ["bob@example.com"], "Subject: smtplib\r\n\r\nhello\r\n")
s.quit()
print("ok")
"#,
    );
    if !out.status.success() || out.stdout != b"ok\n" {
        server.fail(&f, &out, "smtplib starttls()");
    }
    let msg = queued_over_tls(&f, &server, &out);
    assert!(msg.ends_with("Subject: smtplib\n\nhello\n"), "{msg}");
    drop(server);

    // Implicit TLS: SMTPS set, qmail-smtpd execs qmail-smtpd-tls at once.
    let f = fixture("tls-smtp-ssl", None);
    let server = start(&f, &[("SMTPS", "1")]);
    let out = server.python(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", context=ctx, timeout=30)
code, msg = s.ehlo()
assert code == 250 and not s.has_extn("starttls"), s.esmtp_features
s.sendmail("alice@sender.example", ["bob@example.com"], "Subject: smtps\r\n\r\nhello\r\n")
s.quit()
print("ok")
"#,
    );
    if !out.status.success() || out.stdout != b"ok\n" {
        server.fail(&f, &out, "smtplib SMTP_SSL with SMTPS set");
    }
    queued_over_tls(&f, &server, &out);
}

#[test]
fn swaks_implicit_tls() {
    let f = fixture("tls-smtps-swaks", None);
    let server = start(&f, &[("SMTPS", "1")]);
    let out = swaks(
        &server,
        &f,
        &["--tlsc", "--data", "Subject: smtps\n\nimplicit"],
    );
    let t = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    // The greeting comes inside TLS, after the handshake.
    if !out.status.success() || !t.contains("<~  220 mx.example ESMTP\n") || t.contains("STARTTLS")
    {
        server.fail(&f, &out, "swaks --tlsc with SMTPS set");
    }
    queued_over_tls(&f, &server, &out);
}

/// CVE-2011-0411: `STARTTLS\r\nRSET\r\n` in one write. The RSET was sent in
/// plain text; it must not be answered inside TLS (it would come first, as
/// `250 flushed`, before the reply to NOOP).
#[test]
fn plaintext_pipelined_after_starttls_is_discarded() {
    let f = fixture("tls-injection", None);
    let server = start(&f, &[]);
    let out = server.python(
        r#"
import socket, ssl, sys
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = sock.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line)
        if line[3:4] != "-":
            return "".join(lines)
print(reply(), end="")
sock.sendall(b"EHLO client.example\r\n")
print(reply(), end="")
sock.sendall(b"STARTTLS\r\nRSET\r\n")
print(reply(), end="")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
tls = ctx.wrap_socket(sock, server_hostname="mx.example")
g = tls.makefile("rb")
tls.sendall(b"NOOP\r\nQUIT\r\n")
print(g.read().decode(), end="")
"#,
    );
    let want = "220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 8BITMIME\r\n\
                220 ready for tls\r\n250 ok\r\n221 mx.example\r\n";
    if !out.status.success() || out.stdout != want.as_bytes() {
        server.fail(&f, &out, &format!("want exactly:\n{want}"));
    }
}

/// Plaintext sent after `220 ready for tls`, in a later segment than
/// STARTTLS (so no read buffer swallowed it): it reaches qmail-smtpd-tls
/// as the start of a handshake, which fails; none of it is run as SMTP,
/// nothing is queued, and the process ends (logging why).
#[test]
fn plaintext_instead_of_a_handshake_is_never_run() {
    let f = fixture("tls-plaintext", None);
    let server = start(&f, &[]);
    let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(reply(&mut r), "220 mx.example ESMTP\r\n");
    w.write_all(b"EHLO client.example\r\n").unwrap();
    reply(&mut r);
    w.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(reply(&mut r), "220 ready for tls\r\n");
    let _ = w.write_all(
        b"MAIL FROM:<evil@sender.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n",
    );
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    // At most a TLS alert record (content type 21), never an SMTP reply.
    assert!(
        rest.is_empty() || rest[0] == 21,
        "answered in plain text: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(!String::from_utf8_lossy(&rest).contains("250"), "{rest:?}");
    assert!(
        f.calls().is_empty(),
        "qmail-queue ran: {:?}",
        f.calls().len()
    );
    // The process ended by itself and said why.
    let log = server.log_text();
    assert!(
        log.contains("qmail-smtpd-tls") || log.to_lowercase().contains("handshake"),
        "{log}"
    );
}

/// Reads one (possibly multi-line) reply.
fn reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return all;
        }
    }
}

/// A garbage control/servercert.pem: STARTTLS is offered (the file is
/// there), qmail-smtpd-tls cannot use it, answers 454, logs why, and the
/// session goes on in plain text, HELO name and all; it no longer offers
/// STARTTLS.
#[test]
fn bad_certificate_keeps_plain_smtp_working() {
    let f = fixture("tls-bad-cert", Some("this is no certificate\n"));
    let server = start(&f, &[]);
    let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut got = reply(&mut r);
    for cmd in [
        "EHLO client.example",
        "STARTTLS",
        "EHLO client.example",
        "MAIL FROM:<alice@sender.example>",
        "RCPT TO:<bob@example.com>",
        "DATA",
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        got.push_str(&reply(&mut r));
    }
    w.write_all(b"Subject: plain\r\n\r\nstill works\r\n.\r\nQUIT\r\n")
        .unwrap();
    let mut rest = String::new();
    r.read_to_string(&mut rest).unwrap();
    got.push_str(&rest);
    let got = got.split_once("250 ok 17").map_or(got.clone(), |(a, b)| {
        format!("{a}250 ok TIME{}", &b[b.find('\r').unwrap()..])
    });
    assert_eq!(
        got,
        "220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 8BITMIME\r\n\
         454 TLS not available due to temporary reason (#4.3.0)\r\n\
         250-mx.example\r\n250-PIPELINING\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n250 ok TIME\r\n221 mx.example\r\n",
        "log:\n{}",
        server.log_text()
    );
    let calls: Vec<_> = f
        .calls()
        .into_iter()
        .filter(|c| c.envelope.is_some())
        .collect();
    assert_eq!(calls.len(), 1);
    let msg = String::from_utf8_lossy(calls[0].message.as_deref().unwrap()).into_owned();
    assert!(
        msg.starts_with(
            "Received: from unknown (HELO client.example) (127.0.0.1)\n  by mx.example with SMTP; "
        ),
        "{msg}"
    );
    let log = server.log_text();
    assert!(
        log.contains("TLS not available: control/servercert.pem: no certificate"),
        "{log}"
    );

    // Implicit TLS cannot fall back: the connection is closed, the reason
    // logged.
    drop(server);
    let f = fixture("tls-bad-cert-smtps", Some("garbage\n"));
    let server = start(&f, &[("SMTPS", "1")]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty(), "{buf:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        server.log_text().contains("TLS not available"),
        "{}",
        server.log_text()
    );
}

/// SMTPS set but no bin/qmail-smtpd-tls: logged, connection closed.
#[test]
fn smtps_without_the_tls_binary() {
    let f = fixture("tls-no-binary", None);
    std::fs::remove_file(f.home.join("bin/qmail-smtpd-tls")).unwrap();
    let out = f.run(&[("SMTPS", "1")], "EHLO x\r\n");
    out.assert_exit(1).assert_stdout("");
    out.assert_stderr_contains("unable to exec bin/qmail-smtpd-tls");
}

/// The log of a STARTTLS session, line by line: one `connection from`
/// (qmail-smtpd's; qmail-smtpd-tls, exec'd for STARTTLS, does not log it
/// again), and the TLS version as OpenSSL names it (`TLSv1.3`, not Rust's
/// `Some(TLSv1_3)`). Implicit TLS logs the connection once too.
#[test]
fn log_lines_of_tls_sessions() {
    let check = |name: &str, env: &[(&str, &str)], args: &[&str], version: &str| {
        let f = fixture(name, None);
        let server = start(&f, env);
        let out = swaks(&server, &f, args);
        if !out.status.success() {
            server.fail(&f, &out, "swaks failed");
        }
        let log = server.log_text();
        let lines: Vec<&str> = log.lines().collect();
        let tls_ok = lines.get(1).is_some_and(|l| {
            l.strip_prefix("TLS started: ")
                .and_then(|r| r.split_once(' '))
                .is_some_and(|(v, cipher)| v == version && CIPHERS.contains(&cipher))
        });
        let qp_ok = lines.get(2).is_some_and(|l| {
            l.strip_prefix("message accepted: qp ")
                .is_some_and(|qp| qp.parse::<u32>().is_ok())
        });
        if lines.len() != 3
            || lines[0] != "connection from 127.0.0.1 (unknown)"
            || !tls_ok
            || !qp_ok
        {
            server.fail(
                &f,
                &out,
                &format!(
                    "expected exactly: connection from 127.0.0.1 (unknown) / \
                     TLS started: {version} CIPHER / message accepted: qp N"
                ),
            );
        }
    };
    check("tls-log-13", &[], &["--tls"], "TLSv1.3");
    check(
        "tls-log-12",
        &[],
        &["--tls", "--tls-protocol", "tlsv1_2"],
        "TLSv1.2",
    );
    check("tls-log-smtps", &[("SMTPS", "1")], &["--tlsc"], "TLSv1.3");
}

/// The start of both clients of [`smtps_and_starttls_behind_a_proxy_header`].
const PROXY_CLIENT: &str = "import smtplib, socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
";

/// Behind a balancer: the PROXY header comes before the TLS handshake
/// (SMTPS, qmail-smtpd execs qmail-smtpd-tls) or before the plain session
/// (STARTTLS, exec'd later); either way the client's address, not the
/// balancer's, is in the Received header, and qmail-smtpd-tls does not
/// wait for a second header.
#[test]
fn smtps_and_starttls_behind_a_proxy_header() {
    for (name, env, script) in [
        (
            "tls-proxy-smtps",
            vec![("SMTPS", "1"), ("PROXYPROTOCOL", "127.0.0.1")],
            r#"
class Proxied(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        sock.sendall(b"PROXY TCP4 192.0.2.77 198.51.100.25 40000 465\r\n")
        return self.context.wrap_socket(sock, server_hostname=host)
s = Proxied("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", context=ctx, timeout=30)
s.sendmail("alice@sender.example", ["bob@example.com"], "Subject: smtps\r\n\r\nhello\r\n")
s.quit()
print("ok")
"#,
        ),
        (
            "tls-proxy-starttls",
            vec![("PROXYPROTOCOL", "127.0.0.1")],
            r#"
class Proxied(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        sock.sendall(b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x4d\xc6\x33\x64\x19\x9c\x40\x00\x19")
        return sock
s = Proxied("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=30)
s.starttls(context=ctx)
s.sendmail("alice@sender.example", ["bob@example.com"], "Subject: starttls\r\n\r\nhello\r\n")
s.quit()
print("ok")
"#,
        ),
    ] {
        let f = fixture(name, None);
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_qmail-smtpd-proxy"),
            f.home.join("bin/qmail-smtpd-proxy"),
        )
        .unwrap();
        let server = start(&f, &env);
        let out = server.python(&format!("{PROXY_CLIENT}{script}"));
        if !out.status.success() || out.stdout != b"ok\n" {
            server.fail(&f, &out, "smtplib behind a PROXY header");
        }
        let msg = queued_over_tls(&f, &server, &out);
        assert!(
            msg.starts_with("Received: from unknown (HELO client.example) (192.0.2.77)\n"),
            "{msg}"
        );
    }
}
