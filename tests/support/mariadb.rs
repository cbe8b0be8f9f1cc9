//! A private MariaDB server, started by the test that needs it: Debian's
//! `mariadb-server-core` and `mariadb-client-core` (the binaries; no
//! system service is involved). `mariadb-install-db` makes a fresh data
//! directory in a [`super::TempDir`], `mariadbd` serves it on a
//! unix socket there with networking off, and the real `mariadb` client
//! loads schemas and rows as the database's root (password-less, on that
//! socket only).
//!
//! Tear-down is by the server's own pid and nothing else: `mariadbd` is
//! the child of a small `sh` that holds a pipe from this process; when
//! the pipe closes (the [`MariaDb`] is dropped, or the test binary exits
//! with a server still in a `static`), the shell kills that pid, waits for
//! it and removes the directory (the `TempDir` is handed over to it: this
//! directory goes even when the test panicked).
//!
//! Needs `super::spawn` and `super::output` (the harness's fork lock) and
//! `super::TempDir`; the benchmark includes this file and tempdir.rs, with
//! a plain `spawn` and `output` of its own.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private server.
pub struct MariaDb {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// mariadbd's pid.
    pub pid: i32,
    watchdog: Child,
    hold: Option<ChildStdin>,
}

/// Where a program of the MariaDB packages is, if installed.
pub fn find(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Whether the server, its installer and the client are all there.
pub fn installed() -> bool {
    ["mariadbd", "mariadb-install-db", "mariadb"]
        .iter()
        .all(|p| find(p).is_some())
}

fn need(prog: &str, package: &str) -> PathBuf {
    find(prog).unwrap_or_else(|| {
        panic!(
            "`{prog}` is not installed: these tests run a real MariaDB server (Debian package \
             `{package}`; .ci/run installs it, or run `apt-get install {package}`)"
        )
    })
}

/// Options for a small, quick server: no networking, small InnoDB files,
/// per-user connection counts (`information_schema.USER_STATISTICS`).
fn server_options(data: &Path, socket: &Path, pid_file: &Path) -> Vec<String> {
    let mut o = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", data.display()),
        // Servers started at the same time must not share temporary
        // table names in /tmp.
        format!("--tmpdir={}", data.with_file_name("tmp").display()),
        format!("--socket={}", socket.display()),
        format!("--pid-file={}", pid_file.display()),
        "--skip-networking".into(),
        "--skip-name-resolve".into(),
        "--skip-log-bin".into(),
        "--innodb-buffer-pool-size=16M".into(),
        "--innodb-log-file-size=4M".into(),
        "--userstat=1".into(),
        "--log-error=".to_string() + &data.with_file_name("mariadbd.err").display().to_string(),
    ];
    if is_root() {
        o.push("--user=root".into());
    }
    o
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl MariaDb {
    /// Installs a data directory and starts the server; panics, with the
    /// server's own log, if it does not come up within 30 seconds.
    pub fn start(name: &str) -> MariaDb {
        let install = need("mariadb-install-db", "mariadb-server-core");
        let mariadbd = need("mariadbd", "mariadb-server-core");
        need("mariadb", "mariadb-client-core");
        // Mode 0755: the server runs as root; the recipient check (as
        // nobody) must reach the socket. The watchdog below removes it.
        let dir = super::TempDir::new(&format!("mariadb-{name}")).into_path();
        let data = dir.join("data");
        let socket = dir.join("mysqld.sock");
        let pid_file = dir.join("mariadbd.pid");

        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let mut cmd = Command::new(&install);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", dir.join("tmp").display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=4M",
            ]);
        if is_root() {
            cmd.arg("--user=root");
        }
        let out = super::output(&mut cmd).expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        // sh DIR MARIADBD ARGS...: start it, say its pid, and when our
        // pipe closes, kill exactly that pid, reap it, clean up.
        let script = r#"d=$1; shift
"$@" </dev/null >"$d/mariadbd.out" 2>&1 &
echo $!
read _
kill -CONT $! 2>/dev/null; kill -KILL $! 2>/dev/null; wait
rm -rf "$d""#;
        let mut watchdog = super::spawn(
            Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .arg("sh")
                .arg(&dir)
                .arg(&mariadbd)
                .args(server_options(&data, &socket, &pid_file))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )
        .expect("start mariadbd");
        let hold = watchdog.stdin.take();
        let mut line = String::new();
        BufReader::new(watchdog.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid: i32 = line.trim().parse().expect("mariadbd's pid");
        let db = MariaDb {
            dir,
            socket,
            pid,
            watchdog,
            hold,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if db.socket.exists() && db.try_sql(None, "select 1").is_ok() {
                return db;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not come up; its log:\n{}",
                db.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's error log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mariadbd.err")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("mariadbd.out")).unwrap_or_default()
    }

    fn client(&self, database: Option<&str>) -> Command {
        let mut cmd = Command::new(need("mariadb", "mariadb-client-core"));
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--user=root", "--batch", "--skip-column-names"]);
        if let Some(d) = database {
            cmd.arg(d);
        }
        cmd
    }

    fn try_sql(&self, database: Option<&str>, sql: &str) -> Result<String, String> {
        let mut child = super::spawn(
            self.client(database)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .map_err(|e| e.to_string())?;
        let mut stdin = child.stdin.take().unwrap();
        let sql = sql.to_string();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(sql.as_bytes());
        });
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let _ = writer.join();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs SQL with the real `mariadb` client as root; its output
    /// (tab-separated, no column names). Panics on an error.
    pub fn sql(&self, database: Option<&str>, sql: &str) -> String {
        self.try_sql(database, sql).unwrap_or_else(|e| {
            panic!("mariadb failed on\n{sql}\n{e}\nserver log:\n{}", self.log())
        })
    }

    /// How many connections USER has made since the server started.
    pub fn connections(&self, user: &str) -> u64 {
        let out = self.sql(
            None,
            &format!(
                "select TOTAL_CONNECTIONS from information_schema.USER_STATISTICS \
                 where USER = '{user}';"
            ),
        );
        out.trim().parse().unwrap_or(0)
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig)
            .unwrap_or_else(|e| panic!("kill -{sig} {}: {e}", self.pid));
    }

    /// SIGSTOP: the server keeps its sockets and answers nothing.
    pub fn pause(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    /// SIGTERM, then waits until the server has shut down (it removes its
    /// socket and pid file last).
    pub fn stop(&self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.dir.join("mariadbd.pid").exists() || self.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "mariadbd did not stop; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        drop(self.hold.take());
        let _ = self.watchdog.wait();
    }
}
