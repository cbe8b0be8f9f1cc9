//! Started by inetd or xinetd: no TCP* variables, and fds 0, 1 and 2 are all
//! the client's socket. The addresses come from the socket itself, and no
//! log line may ever reach the client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

#[test]
fn addresses_from_the_socket_and_no_log_lines_to_the_client() {
    let dir = std::env::temp_dir().join(format!("inetd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("control")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("control/me"), "mx.example\n").unwrap();
    std::fs::write(dir.join("control/rcpthosts"), "x.example\nnobody.example\n").unwrap();
    // Routed to a local name nobody has: unknown, and logged.
    std::fs::write(dir.join("control/virtualdomains"), "nobody.example:ex\n").unwrap();
    let q = dir.join("bin/qmail-queue");
    std::fs::write(&q, "#!/bin/sh\nexec 3<&1\ncat > \"$0.message\"\ncat <&3 > \"$0.envelope\"\n").unwrap();
    std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o755)).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let sock = OwnedFd::from(server_side);
    let mut child = Command::new(env!("CARGO_BIN_EXE_qmail-smtpd"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QMAILHOME", &dir)
        .env("SMTPD_LOGLEVEL", "debug")
        .stdin(Stdio::from(sock.try_clone().unwrap()))
        .stdout(Stdio::from(sock.try_clone().unwrap()))
        .stderr(Stdio::from(sock))
        .spawn()
        .unwrap();
    client
        .write_all(b"HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<joe@nobody.example>\r\nRCPT TO:<u@x.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
        .unwrap();
    let mut replies = String::new();
    client.read_to_string(&mut replies).unwrap();
    let status = child.wait().unwrap();
    let message = std::fs::read_to_string(dir.join("bin/qmail-queue.message")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);

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
    let first_two: Vec<&str> = message.lines().take(2).collect();
    assert_eq!(first_two[0], "Received: from unknown (HELO c) (127.0.0.1)", "{message}");
    assert!(first_two[1].starts_with("  by 127.0.0.1 with SMTP; "), "{message}");
}
