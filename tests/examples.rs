//! The example files in examples/ work as shipped: the tcprules file
//! compiles and grants RELAYCLIENT to localhost through the real tcpserver,
//! the daemontools scripts parse, and the xinetd service file serves SMTP
//! through the real xinetd.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Connects (retrying while the server starts) and runs one session.
fn session(port: u16, input: &[u8]) -> String {
    let start = Instant::now();
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("server on port {port} never answered: {e}"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(input).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

const RELAY_SESSION: &[u8] =
    b"HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@elsewhere.example>\r\nQUIT\r\n";

#[test]
fn tcp_smtp_rules_grant_relaying_to_localhost() {
    let f = support::Fixture::with_controls(
        "tcp-smtp",
        &[("me", "mx.example\n"), ("rcpthosts", "mx.example\n")],
    );
    let rules = std::fs::read_to_string(top().join("examples/tcp.smtp")).unwrap();
    let server = support::tcpserver::TcpServer::start(&f, Some(&rules), &[]);
    let out = session(server.port, RELAY_SESSION);
    assert_eq!(
        out,
        "220 mx.example ESMTP\r\n250 mx.example\r\n250 ok\r\n250 ok\r\n221 mx.example\r\n"
    );
}

#[test]
fn daemontools_scripts_parse() {
    for script in [
        "examples/service/qmail-smtpd/run",
        "examples/service/qmail-smtpd/log/run",
        "examples/service/qmail-submission/run",
        "examples/service/qmail-smtps/run",
    ] {
        let p = top().join(script);
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o111,
            0o111,
            "{script} must be executable"
        );
        let st = Command::new("sh").arg("-n").arg(&p).status().unwrap();
        assert!(st.success(), "{script} does not parse");
    }
    let run = std::fs::read_to_string(top().join("examples/service/qmail-smtpd/run")).unwrap();
    assert!(
        run.contains("/var/qmail/bin/qmail-smtpd") && run.contains("softlimit -m"),
        "{run}"
    );
    // Sessions at once and the listen backlog are set, the backlog above
    // the default concurrency (issue 12: the default backlog caps a burst
    // of senders at a fraction of what the host can take).
    assert!(
        run.contains("-c \"$MAXSMTPD\" -b 256") && run.contains("MAXSMTPD=${MAXSMTPD:-40}"),
        "{run}"
    );
}

#[test]
fn xinetd_service_file_serves_smtp() {
    let xinetd = ["/usr/sbin/xinetd", "/usr/bin/xinetd"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists());
    let xinetd = xinetd.expect("xinetd (Debian package xinetd)");
    // control/me, control/rcpthosts and the recording qmail-queue as
    // bin/qmail-queue, where the server looks with QMAILHOME alone.
    let f = support::Fixture::with_controls(
        "xinetd",
        &[("me", "mx.example\n"), ("rcpthosts", "mx.example\n")],
    );
    f.install_queue(&f.home.join("bin/qmail-queue"), support::Queue::Record(0));
    let dir = &f.home;
    let port = support::free_port();
    // The shipped file, pointed at this build, this port and a test home;
    // everything else (socket type, wait, flags) as shipped.
    let shipped = std::fs::read_to_string(top().join("examples/xinetd.d/smtp")).unwrap();
    let mut conf = String::from("defaults\n{\n}\n");
    for line in shipped.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        match key {
            "service" => conf.push_str("service qmail-smtpd-test\n"),
            "user" => conf.push_str("    user = root\n"),
            "group" => conf.push_str("    group = root\n"),
            "server" => conf.push_str(&format!(
                "    server = {}\n    type = UNLISTED\n    port = {port}\n    bind = 127.0.0.1\n    env = QMAILHOME={} SMTPD_LOGLEVEL=debug\n",
                env!("CARGO_BIN_EXE_qmail-smtpd"),
                dir.display()
            )),
            _ => {
                conf.push_str(line);
                conf.push('\n');
            }
        }
    }
    let conf_path = f.root.join("xinetd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let server = support::spawn(
        Command::new(xinetd)
            .args(["-dontfork", "-stayalive", "-f"])
            .arg(&conf_path)
            .arg("-pidfile")
            .arg(f.root.join("xinetd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    // u@mx.example is users/cdb's (nobody, with an empty home): qmail would
    // bounce it, whatever this machine's passwd holds.
    std::fs::create_dir_all(dir.join("users")).unwrap();
    std::fs::create_dir_all(dir.join("h")).unwrap();
    std::fs::set_permissions(dir.join("h"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let line = format!("=u:nobody:65534:65534:{}:-::", dir.join("h").display());
    let (key, value, _) =
        qmail_smtpd::resolve::users_cdb::compile_assign_line(line.as_bytes()).unwrap();
    let mut w = cdb2::CDBWriter::create(dir.join("users/cdb")).unwrap();
    w.add(&key, &value).unwrap();
    w.add(b"", b"").unwrap();
    w.finish().unwrap();
    let _guard = support::KillOnDrop(server);
    let out = session(port, b"HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u@elsewhere.example>\r\nRCPT TO:<u@mx.example>\r\nQUIT\r\n");
    // No TCP* variables under xinetd, and stderr is the socket: only SMTP
    // replies reach the client, never a log line.
    assert_eq!(
        out,
        "220 mx.example ESMTP\r\n250 mx.example\r\n250 ok\r\n553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n\
         550 sorry, no mailbox here by that name. (#5.1.1)\r\n221 mx.example\r\n"
    );
}

/// The submission run scripts (587: STARTTLS + AUTH, 465: SMTPS + AUTH),
/// run as they are with the qmail home, the checkpassword program, the
/// address and the user overridden, then used by swaks with AUTH PLAIN.
#[test]
fn submission_run_scripts_serve_authenticated_mail() {
    for (script, tls) in [
        ("examples/service/qmail-submission/run", "--tls"),
        ("examples/service/qmail-smtps/run", "--tlsc"),
    ] {
        use std::os::unix::fs::MetadataExt;
        support::require_program("softlimit", "daemontools");
        let f = support::tls_fixture("example-submission", None);
        f.script("bin/checkpassword", support::CHECKPASSWORD);
        f.queue(support::Queue::Record(0));
        std::os::unix::fs::symlink(support::bin(), f.home.join("bin/qmail-smtpd")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uid = std::fs::metadata(&f.home).unwrap().uid();
        let gid = std::fs::metadata(&f.home).unwrap().gid();
        let mut child = support::KillOnDrop(
            support::spawn(
                Command::new("sh")
                    .arg(top().join(script))
                    .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                    .env("QMAIL", &f.home)
                    .env("CHECKPASSWORD", f.home.join("bin/checkpassword"))
                    .env("IP", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("QMAILDUID", uid.to_string())
                    .env("NOFILESGID", gid.to_string())
                    .env("QMAILHOME", &f.home)
                    .env("QMAILQUEUE", f.queue_program())
                    .env("NOREALRCPTTO", "1")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null()),
            )
            .unwrap(),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{script}: no listener"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let swaks = support::require_program("swaks", "swaks");
        let out = Command::new(swaks)
            .args(["--server", "127.0.0.1", "--port", &port.to_string()])
            .args(["--helo", "client.example", "--timeout", "30", tls])
            .args(["--from", "alice@example.com", "--to", "bob@remote.example"])
            .args([
                "--auth",
                "PLAIN",
                "--auth-user",
                "alice",
                "--auth-password",
                "secret",
            ])
            .output()
            .unwrap();
        let t = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
        let _ = child.0.kill();
        assert!(
            out.status.success()
                && t.contains("<~  235 ok, go ahead (#2.0.0)\n")
                && t.contains("<~  250 ok "),
            "{script}:\n{t}"
        );
        let queued = f
            .calls()
            .into_iter()
            .filter(|c| c.envelope.is_some())
            .count();
        assert_eq!(queued, 1, "{script}");
    }
}
