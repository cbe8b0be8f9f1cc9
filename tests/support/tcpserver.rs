//! The real tcpserver (ucspi-tcp) on 127.0.0.1 running the built
//! qmail-smtpd for a fixture, and the real clients the end-to-end tests
//! talk to it with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::Fixture;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A running tcpserver; killed when dropped, whatever happens.
pub struct TcpServer {
    child: Child,
    pub port: u16,
    /// The address clients connect to.
    pub host: &'static str,
    log: PathBuf,
}

/// Where Debian's ucspi-tcp-ipv6 (which conflicts with ucspi-tcp) is
/// unpacked by .ci/run: $TCPSERVER6_DIR, else /opt/ucspi-tcp-ipv6.
pub fn ipv6_program(name: &str) -> PathBuf {
    let dir = std::env::var_os("TCPSERVER6_DIR").unwrap_or_else(|| "/opt/ucspi-tcp-ipv6".into());
    let p = PathBuf::from(dir).join("bin").join(name);
    assert!(
        p.is_file(),
        "{} is missing: the IPv6 tests need Debian's ucspi-tcp-ipv6 unpacked there \
         (.ci/run does it: apt-get download ucspi-tcp-ipv6, dpkg -x, bin/ copied)",
        p.display()
    );
    p
}

/// Which tcpserver listens where.
struct Listen {
    tcpserver: PathBuf,
    tcprules: PathBuf,
    /// Options before the others (`-6`).
    options: &'static [&'static str],
    bind: &'static str,
    connect: &'static str,
    /// qmail-smtpd's arguments (SMTP AUTH's CHECKPROGRAM SUBPROGRAM...).
    args: Vec<String>,
}

impl Listen {
    fn ipv4() -> Listen {
        Listen {
            tcpserver: super::require_program("tcpserver", "ucspi-tcp"),
            tcprules: super::require_program("tcprules", "ucspi-tcp"),
            options: &[],
            bind: "127.0.0.1",
            connect: "127.0.0.1",
            args: Vec::new(),
        }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TcpServer {
    /// Starts `tcpserver -1 -R -H -l mx.example` on a port the kernel picks
    /// (printed by `-1`), with `rules` compiled by tcprules when given, the
    /// fixture's qmail home and stand-in qmail-queue, NOREALRCPTTO=1, and
    /// `env` on top. The binary's stderr goes to a log file.
    pub fn start(f: &Fixture, rules: Option<&str>, env: &[(&str, &str)]) -> TcpServer {
        Self::launch(f, rules, env, None, Listen::ipv4())
    }

    /// As [`TcpServer::start`] under Debian's ucspi-tcp-ipv6 tcpserver,
    /// listening on `bind` (`::1`; or `0` with `-6`, where an IPv4 client
    /// arrives as `::ffff:a.b.c.d`), clients connecting to `connect`.
    pub fn start_ipv6(
        f: &Fixture,
        rules: Option<&str>,
        env: &[(&str, &str)],
        options: &'static [&'static str],
        (bind, connect): (&'static str, &'static str),
    ) -> TcpServer {
        let listen = Listen {
            tcpserver: ipv6_program("tcpserver"),
            tcprules: ipv6_program("tcprules"),
            options,
            bind,
            connect,
            args: Vec::new(),
        };
        Self::launch(f, rules, env, None, listen)
    }

    /// As [`TcpServer::start`] with the recipient check on (no
    /// NOREALRCPTTO) and the server running as `uid`:`gid` (tcpserver's
    /// `-u` and `-g`), as qmaild would.
    pub fn start_checked(f: &Fixture, env: &[(&str, &str)], uid: u32, gid: u32) -> TcpServer {
        Self::launch(f, None, env, Some((uid, gid)), Listen::ipv4())
    }

    /// As [`TcpServer::start`], qmail-smtpd run with these arguments
    /// (SMTP AUTH's CHECKPROGRAM SUBPROGRAM...).
    pub fn start_args(f: &Fixture, env: &[(&str, &str)], args: &[&str]) -> TcpServer {
        let listen = Listen {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Listen::ipv4()
        };
        Self::launch(f, None, env, None, listen)
    }

    fn launch(
        f: &Fixture,
        rules: Option<&str>,
        env: &[(&str, &str)],
        checked_as: Option<(u32, u32)>,
        listen: Listen,
    ) -> TcpServer {
        let mut cmd = Command::new(&listen.tcpserver);
        cmd.args(listen.options);
        cmd.args(["-1", "-R", "-H", "-l", "mx.example", "-c", "20"]);
        if let Some((uid, gid)) = checked_as {
            cmd.args(["-u", &uid.to_string(), "-g", &gid.to_string()]);
        }
        if let Some(rules) = rules {
            cmd.arg("-x").arg(compile_rules(f, &listen.tcprules, rules));
        }
        let log = f.root.join("tcpserver.log");
        cmd.args([listen.bind, "0"])
            .arg(super::bin())
            .args(&listen.args)
            .env_clear()
            .env("PATH", PATH)
            .env("QMAILHOME", &f.home)
            .env("QMAILQUEUE", f.queue_program())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        if checked_as.is_none() {
            cmd.env("NOREALRCPTTO", "1");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = super::spawn(&mut cmd).expect("start tcpserver");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let mut server = TcpServer {
            child,
            port: 0,
            host: listen.connect,
            log,
        };
        server.port = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "tcpserver did not report a port (got {line:?}); log:\n{}",
                server.log_text()
            )
        });
        server
    }

    /// Connects until the server answers with its plain greeting, then
    /// quits.
    pub fn wait_for_greeting(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect((self.host, self.port)) {
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

    /// What the binaries wrote on stderr, and tcpserver's own lines.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One SMTP conversation in lock-step: the greeting, then one reply
    /// line per command (MAIL, RCPT, RSET, NOOP, QUIT: one-line replies).
    pub fn converse(&self, commands: &[&[u8]]) -> Vec<String> {
        let mut s = TcpStream::connect((self.host, self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let mut replies = vec![line.trim_end().to_string()];
        for c in commands {
            s.write_all(c).unwrap();
            s.write_all(b"\r\n").unwrap();
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            replies.push(line.trim_end().to_string());
        }
        replies
    }

    /// Runs swaks against this server (`EHLO client.example`) with `args`.
    pub fn swaks(&self, f: &Fixture, args: &[&str]) -> Output {
        let swaks = super::require_program("swaks", "swaks");
        super::output(
            Command::new(swaks)
                .args(["--server", self.host, "--port", &self.port.to_string()])
                .args(["--helo", "client.example", "--timeout", "30"])
                .args(args)
                .env_clear()
                .env("PATH", PATH)
                .env("HOME", &f.root),
        )
        .expect("run swaks")
    }

    /// Runs a Python 3 script with the port and the host as its
    /// arguments.
    pub fn python(&self, script: &str) -> Output {
        let python = super::require_program("python3", "python3");
        super::output(
            Command::new(python)
                .arg("-c")
                .arg(script)
                .arg(self.port.to_string())
                .arg(self.host)
                .env("PATH", PATH),
        )
        .expect("run python3")
    }

    /// The one qmail-queue run that got an envelope (a message queued);
    /// fails with everything known unless there is exactly one.
    pub fn only_queued(&self, f: &Fixture, out: &Output) -> super::QueueCall {
        let mut calls: Vec<_> = f
            .calls()
            .into_iter()
            .filter(|c| c.envelope.is_some())
            .collect();
        if calls.len() != 1 {
            self.fail(
                f,
                out,
                &format!("expected one queued message, got {}", calls.len()),
            );
        }
        calls.remove(0)
    }

    /// Panics with everything known: the client's output, the server log,
    /// the fixture and what qmail-queue got.
    pub fn fail(&self, f: &Fixture, out: &Output, msg: &str) -> ! {
        let mut calls = String::new();
        for (i, c) in f.calls().iter().enumerate() {
            calls.push_str(&format!(
                "run {i}: pid {}\n  message:\n{}  envelope: {}\n",
                c.pid,
                super::show(c.message.as_deref().unwrap_or_default()),
                super::show(c.envelope.as_deref().unwrap_or_default())
            ));
        }
        panic!(
            "\n==== ASSERTION FAILED ====\n{msg}\n\n---- client exit {:?} ----\n{}\n---- client stderr ----\n{}\n\
             ---- tcpserver log (also the binary's stderr) ----\n{}\n---- fixture ----\n{}\n---- qmail-queue runs ----\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text(),
            f.listing(),
            calls
        );
    }
}

/// Compiles tcprules `rules` into a cdb in the fixture; returns its path.
fn compile_rules(f: &Fixture, tcprules: &std::path::Path, rules: &str) -> PathBuf {
    compile_rules_with(f, tcprules, rules, "rules")
}

/// Compiles tcprules `rules` (ucspi-tcp's tcprules) into ROOT/NAME.cdb;
/// returns its path.
pub fn compile_rules_as(f: &Fixture, rules: &str, name: &str) -> PathBuf {
    let tcprules = super::require_program("tcprules", "ucspi-tcp");
    compile_rules_with(f, &tcprules, rules, name)
}

fn compile_rules_with(f: &Fixture, tcprules: &std::path::Path, rules: &str, name: &str) -> PathBuf {
    let cdb = f.root.join(format!("{name}.cdb"));
    let mut tr = super::spawn(
        Command::new(tcprules)
            .arg(&cdb)
            .arg(f.root.join(format!("{name}.tmp")))
            .stdin(Stdio::piped()),
    )
    .expect("run tcprules");
    tr.stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(tr.wait().unwrap().success(), "tcprules failed on {rules:?}");
    cdb
}
