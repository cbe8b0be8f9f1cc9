//! The PROXY protocol end to end: the real HAProxy (Debian's haproxy, in
//! the foreground) with `send-proxy` and `send-proxy-v2` in front of the
//! real tcpserver on loopback, clients on 127.0.0.x and ::1 (Python's
//! smtplib); raw sockets straight to tcpserver for the refusals; and the
//! binary over pipes for what needs no network.
//!
//! Loopback is all of 127.0.0.0/8, so the balancer (HAProxy, `source
//! 127.0.0.2`) and the clients (127.0.0.3, 127.0.0.4) have addresses of
//! their own, and a rule for one cannot be taken for the other.
//!
//! Needs haproxy, tcpserver and tcprules (ucspi-tcp) and python3 (.ci/run
//! installs them).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::tcpserver::TcpServer;
use support::{Fixture, KillOnDrop, Queue};

const BALANCER: &str = "127.0.0.2";

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.queue(Queue::Record(0));
    link_proxy_program(&f);
    f
}

/// bin/qmail-smtpd-proxy in the qmail home, which qmail-smtpd execs when
/// PROXYPROTOCOL is set: a link to the built one.
fn link_proxy_program(f: &Fixture) {
    std::fs::create_dir_all(f.home.join("bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_qmail-smtpd-proxy"),
        f.home.join("bin/qmail-smtpd-proxy"),
    )
    .unwrap();
}

/// Compiles tcprules `rules` into ROOT/proxyrules.cdb; returns its path.
fn proxyrules(f: &Fixture, rules: &str) -> String {
    let cdb = support::tcpserver::compile_rules_as(f, rules, "proxyrules");
    cdb.to_str().unwrap().to_string()
}

/// HAProxy running `cfg` in the foreground, killed when dropped.
struct Haproxy {
    _child: KillOnDrop,
    log: std::path::PathBuf,
}

impl Haproxy {
    /// Writes `cfg` into the fixture, starts `haproxy -f CFG -db` and
    /// waits until it accepts on 127.0.0.1:`port`.
    fn start(f: &Fixture, cfg: &str, port: u16) -> Haproxy {
        let haproxy = support::require_program("haproxy", "haproxy");
        let path = f.root.join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let log = f.root.join("haproxy.log");
        let child = support::spawn(
            Command::new(haproxy)
                .arg("-f")
                .arg(&path)
                .arg("-db")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(f.root.join("haproxy.err")).unwrap()),
        )
        .expect("start haproxy");
        let h = Haproxy {
            _child: KillOnDrop(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "haproxy never listened; stderr:\n{}",
                std::fs::read_to_string(f.root.join("haproxy.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = &h.log;
        h
    }
}

/// A haproxy.cfg: frontend on 127.0.0.1:`port` and [::1]:`port`, one
/// server, the tcpserver on `backend`, with `send` (`send-proxy` or
/// `send-proxy-v2`), connecting from the balancer's own address.
fn config(port: u16, backend: u16, send: &str) -> String {
    format!(
        "defaults\n  mode tcp\n  timeout connect 10s\n  timeout client 60s\n  timeout server 60s\n\
         frontend smtp\n  bind 127.0.0.1:{port}\n  bind [::1]:{port}\n  default_backend mx\n\
         backend mx\n  server mx 127.0.0.1:{backend} {send} source {BALANCER}\n"
    )
}

/// One message through smtplib from `source` to `host`:`port`: prints the
/// code of RCPT to a foreign domain (relaying), then of the rest.
const CLIENT: &str = r#"
import smtplib, sys
host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP(timeout=30, source_address=(source, 0))
s.connect(host, port)
s.ehlo("client.example")
print(s.mail("alice@sender.example")[0])
print(s.rcpt("bob@elsewhere.example")[0])
print(s.rcpt("bob@example.com")[0])
print(s.data(b"Subject: t\r\n\r\nhi\r\n")[0])
s.quit()
"#;

fn client(host: &str, port: u16, source: &str) -> String {
    let python = support::require_program("python3", "python3");
    let out = support::output(Command::new(python).arg("-c").arg(CLIENT).args([
        host,
        &port.to_string(),
        source,
    ]))
    .unwrap();
    assert!(
        out.status.success(),
        "smtplib: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace('\n', " ")
}

/// The one message queued: its Received line (date masked) and envelope.
fn queued(f: &Fixture, server: &TcpServer) -> Vec<(String, Vec<u8>)> {
    f.calls()
        .iter()
        .filter_map(|c| {
            let env = c.envelope.clone()?;
            let msg = c.message.clone().unwrap_or_default();
            let masked = support::mask_received(
                &msg,
                std::time::UNIX_EPOCH,
                std::time::SystemTime::now() + Duration::from_secs(5),
            )
            .unwrap_or_else(|e| panic!("{e}; log:\n{}", server.log_text()));
            let text = String::from_utf8_lossy(&masked);
            let received = text.split_inclusive('\n').take(2).collect::<String>();
            Some((received, env))
        })
        .collect()
}

const RELAYED: &[u8] = b"Falice@sender.example\0Tbob@elsewhere.example\0Tbob@example.com\0\0";
const LOCAL_ONLY: &[u8] = b"Falice@sender.example\0Tbob@example.com\0\0";

/// Through HAProxy with `send`: the client's address in the Received
/// header and the RCPTLOG lines, for IPv4 and IPv6; RELAYCLIENT from
/// PROXYRULES for 127.0.0.3 only (tcpserver's own rules give the balancer
/// nothing).
fn through_haproxy(name: &str, send: &str) {
    let f = fixture(name);
    let rules = proxyrules(&f, "127.0.0.3:allow,RELAYCLIENT=\"\"\n:allow\n");
    let server = TcpServer::start(
        &f,
        Some(&format!("{BALANCER}:allow\n:deny\n")),
        &[
            ("PROXYPROTOCOL", BALANCER),
            ("PROXYRULES", &rules),
            ("RCPTLOG", "1"),
        ],
    );
    let port = support::free_port();
    let _h = Haproxy::start(&f, &config(port, server.port, send), port);
    let mut expected = Vec::new();
    for (host, source, replies, envelope) in [
        ("127.0.0.1", "127.0.0.3", "250 250 250 250 ", RELAYED),
        ("127.0.0.1", "127.0.0.4", "250 553 250 250 ", LOCAL_ONLY),
        ("::1", "::1", "250 553 250 250 ", LOCAL_ONLY),
    ] {
        let got = client(host, port, source);
        assert_eq!(got, replies, "{source}; log:\n{}", server.log_text());
        expected.push((
            format!(
                "Received: from unknown (HELO client.example) ({source})\n  by mx.example with SMTP; DATE\n"
            ),
            envelope.to_vec(),
        ));
    }
    assert_eq!(queued(&f, &server), expected, "log:\n{}", server.log_text());
    let decisions = support::decision_lines(server.log_text().as_bytes());
    let ips: Vec<&str> = decisions
        .iter()
        .map(|l| l.split(" ip=").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(
        ips,
        [
            "127.0.0.3",
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.4",
            "::1",
            "::1"
        ],
        "{decisions:#?}"
    );
}

#[test]
fn haproxy_send_proxy_v1() {
    through_haproxy("proxy-v1", "send-proxy");
}

#[test]
fn haproxy_send_proxy_v2() {
    through_haproxy("proxy-v2", "send-proxy-v2");
}

/// Connects straight to tcpserver, writes `input`, and returns all the
/// server sent until it closed.
fn raw(server: &TcpServer, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(input).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Waits for `line` in the log (the server logs after the client saw the
/// close).
fn assert_logged(server: &TcpServer, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().lines().any(|l| l == line) {
        assert!(
            Instant::now() < deadline,
            "no line {line:?} in the log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_garbage_header_is_closed_without_a_reply() {
    let f = fixture("proxy-garbage");
    let server = TcpServer::start(&f, None, &[("PROXYPROTOCOL", "127.0.0.1")]);
    assert_eq!(raw(&server, b"EHLO client.example\r\n"), b"");
    assert_logged(
        &server,
        "PROXY refused: malformed header from 127.0.0.1: not a PROXY header",
    );
    assert_eq!(raw(&server, b"PROXY TCP4 1.2.3.4 5.6.7.8 01 25\r\n"), b"");
    assert_logged(
        &server,
        "PROXY refused: malformed header from 127.0.0.1: v1: bad addresses",
    );
    assert!(f.calls().is_empty());
}

#[test]
fn an_untrusted_peer_is_refused() {
    let f = fixture("proxy-untrusted");
    let server = TcpServer::start(&f, None, &[("PROXYPROTOCOL", "127.0.0.2, ::1")]);
    let header = b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 25\r\nQUIT\r\n";
    assert_eq!(raw(&server, header), b"");
    assert_logged(
        &server,
        "PROXY refused: 127.0.0.1 is not a balancer in PROXYPROTOCOL",
    );
}

#[test]
fn a_missing_header_times_out() {
    let f = fixture("proxy-timeout");
    f.control("timeoutsmtpd", "1\n");
    let server = TcpServer::start(&f, None, &[("PROXYPROTOCOL", "127.0.0.1")]);
    let start = Instant::now();
    assert_eq!(raw(&server, b""), b"");
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_logged(
        &server,
        "PROXY refused: no header from 127.0.0.1 within 1 second",
    );
}

#[test]
fn proxyrules_deny_closes() {
    let f = fixture("proxy-deny");
    let rules = proxyrules(&f, "192.0.2.:deny\n:allow\n");
    let server = TcpServer::start(
        &f,
        None,
        &[("PROXYPROTOCOL", "127.0.0.1"), ("PROXYRULES", &rules)],
    );
    let header = b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 25\r\nQUIT\r\n";
    assert_eq!(raw(&server, header), b"");
    assert_logged(
        &server,
        "PROXY refused: 192.0.2.1 denied by PROXYRULES rule \"192.0.2.\"",
    );
    // Another client is allowed.
    let header = b"PROXY TCP4 198.51.100.1 127.0.0.1 1234 25\r\nQUIT\r\n";
    assert_eq!(
        raw(&server, header),
        b"220 mx.example ESMTP\r\n221 mx.example\r\n"
    );
}

const SESSION: &[u8] = b"HELO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@example.com>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n";
const REPLIES: &str = "220 mx.example ESMTP\r\n250 mx.example\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n250 ok UNIXTIME qp PID\r\n221 mx.example\r\n";

/// Over pipes, the header and the session in one write: the session's
/// bytes are not lost to the header's reading, and the environment the
/// session and qmail-queue see is the client's (tcpserver's TCPREMOTEHOST
/// and TCPREMOTEINFO, the balancer's, gone).
#[test]
fn the_header_and_pipelined_commands_in_one_write() {
    let f = fixture("proxy-pipes");
    // qmail-queue's environment, recorded before the stand-in runs.
    f.install_queue(&f.queue_dir.join("record"), Queue::Record(0));
    f.script(
        "bin/env-queue",
        &format!(
            "#!/bin/sh\nenv | grep -E '^(PROTO|TCP)' | sort > {}/env\nexec {}/record\n",
            f.root.display(),
            f.queue_dir.display()
        ),
    );
    let queue = f.home.join("bin/env-queue");
    for header in [
        b"PROXY TCP6 2001:db8::7 2001:db8::25 4321 25\r\n".to_vec(),
        [
            b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24".as_slice(),
            &"2001:db8::7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            &"2001:db8::25"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            &[0x10, 0xe1, 0, 25],
        ]
        .concat(),
    ] {
        let out = f.run(
            &[
                ("PROXYPROTOCOL", "192.0.2.9"),
                ("TCPREMOTEIP", "192.0.2.9"),
                ("TCPREMOTEHOST", "balancer.example"),
                ("TCPREMOTEINFO", "haproxy"),
                ("TCPLOCALHOST", "mx.example"),
                ("PROTO", "TCP"),
                ("QMAILQUEUE", queue.to_str().unwrap()),
            ],
            [header.as_slice(), SESSION].concat(),
        );
        out.assert_stdout(REPLIES).assert_exit(0);
        let env = std::fs::read_to_string(f.root.join("env")).unwrap();
        assert_eq!(
            env,
            "PROTO=TCP6\nTCP6LOCALIP=2001:db8::25\nTCP6LOCALPORT=25\nTCP6REMOTEIP=2001:db8::7\n\
             TCP6REMOTEPORT=4321\nTCPLOCALHOST=mx.example\nTCPLOCALIP=2001:db8::25\nTCPLOCALPORT=25\n\
             TCPREMOTEIP=2001:db8::7\nTCPREMOTEPORT=4321\n"
        );
    }
}

/// The Received header over pipes, v1 and v2, LOCAL (the connection's own
/// address stays).
#[test]
fn received_names_the_client() {
    let f = fixture("proxy-received");
    for (header, ip) in [
        (
            &b"PROXY TCP4 192.0.2.1 198.51.100.2 5678 25\r\n"[..],
            "192.0.2.1",
        ),
        (b"PROXY UNKNOWN\r\n", "203.0.113.5"),
        (b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", "203.0.113.5"),
        (
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc6\x33\x64\x02\x16\x2e\x00\x19",
            "192.0.2.1",
        ),
    ] {
        f.queue(Queue::Record(0));
        let out = f.run(
            &[
                ("PROXYPROTOCOL", "203.0.113.5"),
                ("TCPREMOTEIP", "203.0.113.5"),
                ("TCPLOCALHOST", "mx.example"),
            ],
            [header, SESSION].concat(),
        );
        out.assert_stdout(REPLIES).assert_exit(0);
        let msg = format!(
            "Received: from unknown (HELO client.example) ({ip})\n  by mx.example with SMTP; DATE\nhi\n"
        );
        out.assert_queued(msg, b"Fa@b.example\0Tc@example.com\0\0");
    }
}

/// Without PROXYPROTOCOL nothing changes: a PROXY line is a command
/// qmail-smtpd does not know.
#[test]
fn disabled_a_proxy_line_is_an_unknown_command() {
    let f = fixture("proxy-disabled");
    let out = f.run(
        &[("TCPREMOTEIP", "192.0.2.9")],
        "PROXY TCP4 192.0.2.1 198.51.100.2 5678 25\r\nQUIT\r\n",
    );
    out.assert_stdout("220 mx.example ESMTP\r\n502 unimplemented (#5.5.1)\r\n221 mx.example\r\n")
        .assert_exit(0);
}

/// The example configuration: accepted by `haproxy -c` as shipped, and,
/// its two MX addresses and port 25 pointed at two tcpservers on
/// loopback, it delivers one session to each (round robin).
#[test]
fn the_example_haproxy_cfg_balances_two_mx() {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/haproxy.cfg"))
            .unwrap();
    let f = fixture("proxy-example");
    let g = fixture("proxy-example-2");
    let haproxy = support::require_program("haproxy", "haproxy");
    std::fs::write(f.root.join("as-shipped.cfg"), &example).unwrap();
    let out = support::output(
        Command::new(&haproxy)
            .arg("-c")
            .arg("-f")
            .arg(f.root.join("as-shipped.cfg")),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let env = [("PROXYPROTOCOL", "127.0.0.1")];
    let (mx1, mx2) = (
        TcpServer::start(&f, None, &env),
        TcpServer::start(&g, None, &env),
    );
    let port = support::free_port();
    let cfg = example
        .replace("192.0.2.25:25", &format!("127.0.0.1:{}", mx1.port))
        .replace("192.0.2.26:25", &format!("127.0.0.1:{}", mx2.port))
        .replace("bind :25", &format!("bind 127.0.0.1:{port}"))
        .replace("bind :::25 v6only", &format!("bind [::1]:{port} v6only"));
    assert_ne!(cfg, example);
    let _h = Haproxy::start(&f, &cfg, port);
    for _ in 0..2 {
        assert_eq!(client("127.0.0.1", port, "127.0.0.5"), "250 553 250 250 ");
    }
    for (fx, server) in [(&f, &mx1), (&g, &mx2)] {
        assert_eq!(
            queued(fx, server),
            [(
                "Received: from unknown (HELO client.example) (127.0.0.5)\n  by mx.example with SMTP; DATE\n"
                    .to_string(),
                LOCAL_ONLY.to_vec()
            )],
            "log:\n{}",
            server.log_text()
        );
    }
}

/// Without bin/qmail-smtpd-proxy: logged, the connection closed, no reply.
#[test]
fn without_the_proxy_program_the_connection_is_closed() {
    let f = fixture("proxy-no-program");
    f.remove("bin/qmail-smtpd-proxy");
    let out = f.run(
        &[("PROXYPROTOCOL", "192.0.2.9"), ("TCPREMOTEIP", "192.0.2.9")],
        "PROXY UNKNOWN\r\nQUIT\r\n",
    );
    out.assert_stdout("").assert_exit(1);
    out.assert_stderr_contains("unable to exec bin/qmail-smtpd-proxy: No such file or directory");
}
