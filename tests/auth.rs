//! SMTP AUTH end to end: the real tcpserver runs qmail-smtpd with a
//! checkpassword program (support::CHECKPASSWORD: alice's password is
//! `secret`), real clients authenticate: swaks `--auth PLAIN|LOGIN|CRAM-MD5`
//! over STARTTLS (`--tls`) and SMTPS (`--tlsc`), Python's smtplib
//! `login()`. Checked: exact replies, relaying only after success, the
//! Received header and the variables the stand-in qmail-queue sees, a
//! hanging checker killed after timeoutsmtpd, the failure limit, the log
//! line fail2ban reads (the IP, never the password).
//!
//! Needs tcpserver, swaks, openssl and python3 (.ci/run installs them).
//! Debian packages no checkpassword program (`apt-cache search
//! checkpassword` finds none), so only our own is used.

mod support;

use std::process::Output;

use support::tcpserver::TcpServer;
use support::{Fixture, Queue};

const PLAIN_OK: &[u8] = b"AUTH PLAIN AGFsaWNlAHNlY3JldA==";

/// A TLS-capable qmail home with bin/checkpassword, and a stand-in
/// qmail-queue that also writes its environment to qq.env.
fn fixture(name: &str) -> Fixture {
    let f = support::tls_fixture(name, None);
    f.script("bin/checkpassword", support::CHECKPASSWORD);
    f.queue(Queue::Record(0));
    let wrapper = format!(
        "#!/bin/sh\nenv > '{}/qq.env'\nexec '{}'\n",
        f.root.display(),
        f.queue_program().display()
    );
    support::write_mode(&f.root.join("qq-env"), &wrapper, 0o755);
    f
}

/// tcpserver running `qmail-smtpd ARGS` (Hoffmann's form unless the
/// arguments say otherwise), with `env`.
fn start(f: &Fixture, env: &[(&str, &str)], args: &[&str]) -> TcpServer {
    let qq = f.root.join("qq-env");
    let mut all = vec![("QMAILQUEUE", qq.to_str().unwrap()), ("AUTHFAILDELAY", "0")];
    all.extend_from_slice(env);
    TcpServer::start_args(f, &all, args)
}

fn checkpassword(f: &Fixture) -> String {
    f.home.join("bin/checkpassword").display().to_string()
}

fn swaks(server: &TcpServer, f: &Fixture, to: &str, args: &[&str]) -> (Output, String) {
    let mut all = vec!["--from", "alice@example.com", "--to", to];
    all.extend_from_slice(args);
    let out = server.swaks(f, &all);
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out, text)
}

/// The one message queued: its two Received lines, and the variables
/// qmail-queue saw.
fn queued(f: &Fixture, server: &TcpServer, out: &Output) -> (String, String) {
    let call = server.only_queued(f, out);
    let msg = String::from_utf8_lossy(call.message.as_deref().unwrap_or_default());
    let head: Vec<&str> = msg.lines().take(2).collect();
    let env = std::fs::read_to_string(f.root.join("qq.env")).unwrap_or_default();
    (head.join("\n"), env)
}

fn assert_env(env: &str, user: &str, method: &str) {
    for want in [
        format!("SMTPAUTHUSER={user}"),
        format!("SMTP_AUTH_USER={user}"),
        format!("TCPREMOTEINFO={user}"),
        format!("SMTPAUTHMETHOD={method}"),
        "RELAYCLIENT=".to_string(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in:\n{env}");
    }
}

#[test]
fn swaks_starttls_plain_login_cram() {
    for (mech, method) in [
        ("PLAIN", "plain"),
        ("LOGIN", "login"),
        ("CRAM-MD5", "cram-md5"),
    ] {
        let f = fixture(&format!("auth-starttls-{method}"));
        let server = start(
            &f,
            &[("SMTPAUTH", "+cram")],
            &[&checkpassword(&f), "/bin/true"],
        );
        let (out, t) = swaks(
            &server,
            &f,
            "bob@remote.example",
            &[
                "--tls",
                "--auth",
                mech,
                "--auth-user",
                "alice",
                "--auth-password",
                "secret",
            ],
        );
        // Not offered in plain text; offered after STARTTLS.
        if !out.status.success()
            || !t.contains("<-  250-PIPELINING\n<-  250-SMTPUTF8\n<-  250-STARTTLS\n<-  250 8BITMIME\n")
            || !t.contains(
                "<~  250-PIPELINING\n<~  250-SMTPUTF8\n<~  250-AUTH LOGIN PLAIN CRAM-MD5\n<~  250 8BITMIME\n",
            )
            || !t.contains("<~  235 ok, go ahead (#2.0.0)\n")
            || !t.contains("<~  250 ok ")
        {
            server.fail(&f, &out, &format!("swaks --tls --auth {mech}"));
        }
        let (received, env) = queued(&f, &server, &out);
        let second = received.lines().nth(1).unwrap_or_default();
        assert!(
            received.starts_with("Received: from unknown (HELO client.example) (alice@127.0.0.1)\n  by mx.example with ESMTPSA (TLS_")
                && second.contains(" encrypted, authenticated); "),
            "{received}"
        );
        assert_env(&env, "alice", method);
        let log = server.log_text();
        assert!(
            log.contains(&format!(
                "auth: auth-success ip=127.0.0.1 type={method} user=<alice>"
            )),
            "{log}"
        );
    }
}

#[test]
fn swaks_smtps_required_auth() {
    let f = fixture("auth-smtps");
    let server = start(
        &f,
        &[("SMTPS", "1"), ("SMTPAUTH", "!")],
        &[&checkpassword(&f), "/bin/true"],
    );
    // Without AUTH: MAIL refused (530, sagredo's trailing space).
    let (out, t) = swaks(&server, &f, "bob@remote.example", &["--tlsc"]);
    if out.status.success() || !t.contains("<~* 530 Authorization required (#5.7.1) \n") {
        server.fail(&f, &out, "swaks --tlsc without AUTH");
    }
    let (out, t) = swaks(
        &server,
        &f,
        "bob@remote.example",
        &[
            "--tlsc",
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "secret",
        ],
    );
    if !out.status.success()
        || !t.contains("<~  334 VXNlcm5hbWU6\n")
        || !t.contains("<~  334 UGFzc3dvcmQ6\n")
        || !t.contains("<~  235 ok, go ahead (#2.0.0)\n")
    {
        server.fail(&f, &out, "swaks --tlsc --auth LOGIN");
    }
    let (received, env) = queued(&f, &server, &out);
    assert!(
        received.contains(" encrypted, authenticated); "),
        "{received}"
    );
    assert_env(&env, "alice", "login");
}

#[test]
fn dabrowski_form_cram_over_smtps() {
    let f = fixture("auth-dabrowski");
    let server = start(
        &f,
        &[("SMTPS", "1")],
        &["mx.example", &checkpassword(&f), "/bin/true"],
    );
    let (out, t) = swaks(
        &server,
        &f,
        "bob@remote.example",
        &[
            "--tlsc",
            "--auth",
            "CRAM-MD5",
            "--auth-user",
            "alice",
            "--auth-password",
            "secret",
        ],
    );
    if !out.status.success()
        || !t.contains("<~  250-AUTH LOGIN CRAM-MD5 PLAIN\n<~  250-AUTH=LOGIN CRAM-MD5 PLAIN\n")
        || !t.contains("<~  235 ok, go ahead (#2.0.0)\n")
    {
        server.fail(&f, &out, "Dabrowski's form, CRAM-MD5");
    }
}

#[test]
fn python_smtplib_login() {
    let f = fixture("auth-smtplib");
    let server = start(&f, &[("SMTPAUTH", "")], &[&checkpassword(&f), "/bin/true"]);
    let out = server.python(
        r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.example", timeout=30)
s.ehlo()
assert not s.has_extn("auth"), s.esmtp_features
assert s.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==") == (538, b"auth not available without TLS (#5.3.3)")
s.starttls(context=ctx)
s.ehlo()
assert s.esmtp_features["auth"].strip() == "LOGIN PLAIN", s.esmtp_features
try:
    s.login("alice", "wrong")
    raise SystemExit("wrong password accepted")
except smtplib.SMTPAuthenticationError as e:
    assert (e.smtp_code, e.smtp_error) == (535, b"authentication failed (#5.7.1)"), e
assert s.login("alice", "secret") == (235, b"ok, go ahead (#2.0.0)")
s.sendmail("alice@example.com", ["bob@remote.example"], "Subject: smtplib\r\n\r\nhello\r\n")
s.quit()
print("ok")
"#,
    );
    if !out.status.success() || out.stdout != b"ok\n" {
        server.fail(&f, &out, "smtplib login()");
    }
    let (received, env) = queued(&f, &server, &out);
    assert!(received.contains("with ESMTPSA ("), "{received}");
    // smtplib prefers PLAIN to LOGIN.
    assert_env(&env, "alice", "plain");
    // The failure, for fail2ban: the address and the user, no password.
    let log = server.log_text();
    assert!(
        log.contains("auth: auth-failed ip=127.0.0.1 type=plain user=<alice>\n"),
        "{log}"
    );
    assert!(!log.contains("wrong") && !log.contains("secret"), "{log}");
}

#[test]
fn plaintext_refusals_garbage_relaying_and_the_limit() {
    let f = fixture("auth-plain");
    f.control("rcpthosts", "example.com\n");
    let server = start(
        &f,
        &[("SMTPAUTH", ""), ("FORCETLS", "0"), ("MAXAUTHFAILED", "2")],
        &[&checkpassword(&f), "/bin/true"],
    );
    let r = server.converse(&[
        b"MAIL FROM:<alice@example.com>",
        b"RCPT TO:<bob@remote.example>",
        b"RSET",
        b"AUTH PLAIN not*base64",
        b"AUTH PLAIN AGFsaWNlAHdyb25n",
        b"AUTH PLAIN AGJvYgBzZWNyZXQ=",
    ]);
    assert_eq!(
        r,
        [
            "220 mx.example ESMTP",
            "250 ok",
            "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
            "250 flushed",
            "501 malformed auth input (#5.5.4)",
            "535 authentication failed (#5.7.1)",
            "421 too many failed authentications, closing connection (#4.7.0)",
        ]
    );
    let r = server.converse(&[
        PLAIN_OK,
        b"MAIL FROM:<alice@example.com>",
        b"RCPT TO:<bob@remote.example>",
        b"QUIT",
    ]);
    assert_eq!(
        r,
        [
            "220 mx.example ESMTP",
            "235 ok, go ahead (#2.0.0)",
            "250 ok",
            "250 ok",
            "221 mx.example",
        ]
    );
    let log = server.log_text();
    assert!(
        log.contains("auth: auth-failed ip=127.0.0.1 type=plain user=<bob>\n"),
        "{log}"
    );
}

#[test]
fn a_hanging_checker_is_killed_after_timeoutsmtpd() {
    let f = fixture("auth-hang");
    f.control("timeoutsmtpd", "1\n");
    let server = start(
        &f,
        &[("SMTPAUTH", ""), ("FORCETLS", "0")],
        &[&checkpassword(&f), "/bin/true"],
    );
    let started = std::time::Instant::now();
    let r = server.converse(&[b"AUTH PLAIN AGhhbmcAeA==", b"QUIT"]);
    assert_eq!(
        r,
        [
            "220 mx.example ESMTP",
            "454 oops, problem with child and I can't auth (#4.3.0)",
            "221 mx.example",
        ]
    );
    // timeoutsmtpd, then at most the second of grace before SIGKILL.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let log = server.log_text();
    assert!(
        log.contains("auth: auth-error ip=127.0.0.1 type=plain user=<hang> (checkpassword ran past timeoutsmtpd and was killed)"),
        "{log}"
    );
}

/// What checkpassword reads on fd 3: user, password, and an empty third
/// field for PLAIN (Dabrowski's layout).
#[test]
fn checkpassword_reads_the_interface_on_fd3() {
    let f = fixture("auth-fd3");
    let seen = f.root.join("fd3");
    let server = start(
        &f,
        &[
            ("SMTPAUTH", ""),
            ("FORCETLS", "0"),
            ("CHECKPASSWORD_LOG", seen.to_str().unwrap()),
        ],
        &[&checkpassword(&f), "/bin/true"],
    );
    let r = server.converse(&[PLAIN_OK, b"QUIT"]);
    assert_eq!(r[1], "235 ok, go ahead (#2.0.0)");
    assert_eq!(std::fs::read(&seen).unwrap(), b"alice\0secret\0\0");
}
