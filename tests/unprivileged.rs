//! The server never needs root: a whole session, the recipient check and a
//! delivery included, as an unprivileged user (as qmaild runs it), and the
//! message handed to qmail-queue as usual.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::Fixture;

#[test]
fn a_whole_session_as_nobody() {
    support::require_program("setpriv", "util-linux");
    let f = Fixture::with_controls(
        "nobody",
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "example.com\nnobody.example\n"),
            ("virtualdomains", "nobody.example:ex\n"),
        ],
    );
    f.ex_bounces();
    // The stand-in qmail-queue records into its directory as the same user.
    std::fs::set_permissions(&f.queue_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = f
        .cmd()
        .env("TCPREMOTEIP", "192.0.2.1")
        .env("TCPLOCALHOST", "mx.example")
        .env_remove("NOREALRCPTTO")
        .as_nobody()
        .input(
            "MAIL FROM:<a@sender.example>\r\nRCPT TO:<joe@nobody.example>\r\n\
             RCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
        )
        .run();
    out.assert_stdout(
        "220 mx.example ESMTP\r\n250 ok\r\n550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         250 ok\r\n354 go ahead\r\n250 ok UNIXTIME qp PID\r\n221 mx.example\r\n",
    )
    .assert_exit(0)
    .assert_queued(
        "Received: from unknown (192.0.2.1)\n  by mx.example with SMTP; DATE\nSubject: x\n\nbody\n",
        b"Fa@sender.example\0Tb@example.com\0\0",
    );
}
