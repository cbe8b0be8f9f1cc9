//! Started by inetd or xinetd: no TCP* variables, and fds 0, 1 and 2 are all
//! the client's socket. The addresses come from the socket itself, and no
//! log line may ever reach the client.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use support::Fixture;

#[test]
fn addresses_from_the_socket_and_no_log_lines_to_the_client() {
    served_by_inetd("inetd", "127.0.0.1:0", "127.0.0.1", "127.0.0.1");
}

/// inetd over an IPv6 socket: getpeername and getsockname give `::1`.
#[test]
fn ipv6_addresses_from_the_socket() {
    served_by_inetd("inetd6", "[::1]:0", "::1", "::1");
}

/// An IPv4 client on a dual-stack IPv6 socket (xinetd's `flags = IPv6`):
/// the kernel says `::ffff:127.0.0.1`, the header says `127.0.0.1`.
#[test]
fn ipv4_client_on_an_ipv6_socket() {
    served_by_inetd("inetd-mapped", "[::]:0", "127.0.0.1", "127.0.0.1");
}

/// One session through a socket accepted on `listen`, the client
/// connecting from `connect`; the Received header must name `ip`.
fn served_by_inetd(name: &str, listen: &str, connect: &str, ip: &str) {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "x.example\nnobody.example\n"),
            // Routed to a local name nobody has: unknown, and logged.
            ("virtualdomains", "nobody.example:ex\n"),
        ],
    );
    f.ex_bounces();
    let listener = TcpListener::bind(listen).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect((connect, port)).unwrap();
    let sock = OwnedFd::from(listener.accept().unwrap().0);
    let mut child = support::spawn(
        Command::new(support::bin())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("QMAILHOME", &f.home)
            .env("QMAILQUEUE", f.queue_program())
            .env("SMTPD_LOGLEVEL", "debug")
            .stdin(Stdio::from(sock.try_clone().unwrap()))
            .stdout(Stdio::from(sock.try_clone().unwrap()))
            .stderr(Stdio::from(sock)),
    )
    .unwrap();
    client
        .write_all(b"HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<joe@nobody.example>\r\nRCPT TO:<u@x.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
        .unwrap();
    let mut replies = String::new();
    client.read_to_string(&mut replies).unwrap();
    let status = child.wait().unwrap();
    let calls = f.calls();

    let replies: Vec<&str> = replies.split("\r\n").collect();
    assert_eq!(
        replies[..6],
        [
            "220 mx.example ESMTP",
            "250 mx.example",
            "250 ok",
            "550 sorry, no mailbox here by that name. (#5.1.1)",
            "250 ok",
            "354 go ahead"
        ],
        "log lines must not reach the client: {replies:?}"
    );
    assert!(replies[6].starts_with("250 ok "), "{replies:?}");
    assert_eq!(replies[7..], ["221 mx.example", ""], "{replies:?}");
    assert_eq!(status.code(), Some(0));
    assert_eq!(calls.len(), 1);
    let message =
        String::from_utf8_lossy(calls[0].message.as_deref().unwrap_or_default()).into_owned();
    let first_two: Vec<&str> = message.lines().take(2).collect();
    assert_eq!(
        first_two[0],
        format!("Received: from unknown (HELO c) ({ip})"),
        "{message}"
    );
    assert!(
        first_two[1].starts_with(&format!("  by {ip} with SMTP; ")),
        "{message}"
    );
}
