//! Fixtures for process tests of `qmail-realrcptto`: a throw-away qmail
//! home, home directories owned by made-up uids, a passwd file that is
//! bind-mounted over /etc/passwd inside a private mount namespace (so real
//! getpwnam answers from it), and a runner that, on failure, shows the
//! command, its environment, the fixture's files, stdout and stderr.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::PathBuf;
use std::process::Command;

/// The tests' one temporary-directory helper (tests/support is not
/// included by the resolve tests; this is the part they need).
#[path = "../support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

pub const TOOL: &str = env!("CARGO_BIN_EXE_qmail-realrcptto");
pub const SMTPD: &str = env!("CARGO_BIN_EXE_qmail-smtpd");

/// qmailp's uid and the nofiles gid in every fixture passwd.
pub const QMAILP: u32 = 5011;
pub const NOFILES: u32 = 5012;

/// Why the namespace tests cannot run here, if they cannot.
pub fn cannot_run_as_root() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "not running as root (needed to bind-mount /etc/passwd and chown homes)".into(),
        );
    }
    match Command::new("unshare").args(["-m", "true"]).status() {
        Ok(s) if s.success() => {}
        Ok(s) => return Some(format!("`unshare -m true` failed: {s}")),
        Err(e) => return Some(format!("unshare not available: {e}")),
    }
    match Command::new("setpriv").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("setpriv (util-linux) not available".into()),
    }
}

/// Skips the calling test, loudly, when it cannot run here.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(why) = resolve_support::cannot_run_as_root() {
            eprintln!("SKIPPED {}: {why}", module_path!());
            return;
        }
    };
}

pub struct Fixture {
    pub root: PathBuf,
    passwd: Vec<Vec<u8>>,
    /// Owns `root`.
    _dir: TempDir,
}

impl Fixture {
    /// An empty fixture in a fresh directory (world-searchable, so an
    /// unprivileged run can reach the qmail home).
    pub fn new(tag: &str) -> Fixture {
        let dir = TempDir::new(&format!("resolve-tool-{tag}"));
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("qmail/control")).unwrap();
        fs::create_dir_all(root.join("qmail/users")).unwrap();
        for d in [
            &root.join("qmail"),
            &root.join("qmail/control"),
            &root.join("qmail/users"),
        ] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fixture {
            root,
            // qmailp: the user qmail-getpw runs as (group 5012 for nofiles),
            // whose view of home directories the check follows.
            passwd: vec![
                b"root:x:0:0:root:/root:/bin/sh".to_vec(),
                format!("qmailp:x:{QMAILP}:{NOFILES}::/var/qmail:/bin/sh").into_bytes(),
            ],
            _dir: dir,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The path as a string, for building expected output.
    pub fn p(&self, rel: &str) -> String {
        self.path(rel).to_str().unwrap().to_string()
    }

    pub fn qmail(&self) -> PathBuf {
        self.root.join("qmail")
    }

    pub fn control(&self, name: &str, content: &str) -> &Self {
        self.write(&format!("qmail/control/{name}"), content, 0)
    }

    pub fn write(&self, rel: &str, content: &str, owner: u32) -> &Self {
        let p = self.path(rel);
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        chown(&p, Some(owner), Some(owner)).unwrap();
        self
    }

    pub fn dir(&self, rel: &str, owner: u32, mode: u32) -> &Self {
        let p = self.path(rel);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        chown(&p, Some(owner), Some(owner)).unwrap();
        self
    }

    /// A passwd line; `home` is relative to the fixture unless absolute.
    pub fn user(&mut self, name: &str, uid: u32, home: &str) -> &mut Self {
        let home = if home.starts_with('/') {
            home.to_string()
        } else {
            self.p(home)
        };
        self.passwd
            .push(format!("{name}:x:{uid}:{uid}::{home}:/bin/sh").into_bytes());
        self
    }

    /// A passwd line as bytes (8-bit user names are real).
    pub fn raw_passwd_line(&mut self, line: impl Into<Vec<u8>>) -> &mut Self {
        self.passwd.push(line.into());
        self
    }

    /// users/cdb as qmail-newu builds it from users/assign lines.
    pub fn users_cdb(&self, assign: &[&str]) -> &Self {
        let mut w = cdb2::CDBWriter::create(self.path("qmail/users/cdb")).unwrap();
        let mut wildchars = Vec::new();
        for line in assign {
            let (key, data, wild) =
                qmail_smtpd::resolve::users_cdb::compile_assign_line(line.as_bytes())
                    .unwrap_or_else(|| panic!("bad assign line {line:?}"));
            wildchars.extend(wild.filter(|c| !wildchars.contains(c)));
            w.add(&key, &data).unwrap();
        }
        w.add(b"", &wildchars).unwrap();
        w.finish().unwrap();
        self.chmod("qmail/users/cdb", 0o644)
    }

    pub fn raw_users_cdb(&self, records: &[(&[u8], &[u8])]) -> &Self {
        let mut w = cdb2::CDBWriter::create(self.path("qmail/users/cdb")).unwrap();
        for (k, v) in records {
            w.add(k, v).unwrap();
        }
        w.finish().unwrap();
        self.chmod("qmail/users/cdb", 0o644)
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    fn passwd_file(&self) -> PathBuf {
        let p = self.path("passwd");
        let mut text = self.passwd.join(&b'\n');
        text.push(b'\n');
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// Runs the tool with the fixture's passwd as /etc/passwd, as root or,
    /// with `uid`, as that unprivileged uid (gid the same, no groups).
    pub fn run_in_namespace(&self, uid: Option<u32>, args: &[&str]) -> Run {
        let mut cmd = self.namespace_command(uid, TOOL);
        cmd.args(args);
        self.run_cmd(cmd)
    }

    /// One SMTP session of the real qmail-smtpd, client lines on stdin,
    /// in the same namespace set-up as [`Fixture::run_in_namespace`].
    pub fn smtpd_in_namespace(
        &self,
        uid: Option<u32>,
        env: &[(&str, &str)],
        input: impl AsRef<[u8]>,
    ) -> Run {
        let mut cmd = self.namespace_command(uid, SMTPD);
        cmd.envs(env.iter().copied());
        self.run_cmd_with_input(cmd, input.as_ref())
    }

    fn namespace_command(&self, uid: Option<u32>, program: &str) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$0" /etc/passwd && exec "$@""#,
        ]);
        cmd.arg(self.passwd_file());
        if let Some(uid) = uid {
            cmd.args([
                "setpriv",
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "--",
            ]);
        }
        cmd.arg(program).env("QMAILHOME", self.qmail());
        cmd
    }

    /// Runs the tool directly (no namespace, the machine's own passwd).
    pub fn run_plain(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(TOOL);
        cmd.args(args).env("QMAILHOME", self.qmail());
        self.run_cmd(cmd)
    }

    pub fn run_cmd(&self, cmd: Command) -> Run {
        self.run_cmd_with_input(cmd, b"")
    }

    pub fn run_cmd_with_input(&self, mut cmd: Command, input: &[u8]) -> Run {
        use std::io::Write;
        use std::process::Stdio;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run command");
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child.wait_with_output().expect("wait for command");
        let mut context = String::new();
        let _ = writeln!(context, "command: {cmd:?}");
        let _ = writeln!(context, "stdin: {:?}", String::from_utf8_lossy(input));
        let _ = writeln!(context, "env: {:?}", cmd.get_envs().collect::<Vec<_>>());
        let listing = Command::new("ls").args(["-lanR"]).arg(&self.root).output();
        if let Ok(l) = listing {
            let _ = writeln!(context, "files:\n{}", String::from_utf8_lossy(&l.stdout));
        }
        let passwd = fs::read(self.path("passwd")).unwrap_or_default();
        let passwd = String::from_utf8_lossy(&passwd);
        let short: String = passwd
            .lines()
            .map(|l| if l.len() > 200 { &l[..200] } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        let _ = writeln!(context, "passwd:\n{short}");
        let _ = writeln!(context, "exit: {:?}", out.status.code());
        let _ = writeln!(context, "stdout:\n{}", String::from_utf8_lossy(&out.stdout));
        let _ = writeln!(context, "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            context,
        }
    }
}

/// One run's results, with everything needed to understand a failure.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub context: String,
}

impl Run {
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, Some(want), "wrong exit code\n{}", self.context);
        self
    }

    pub fn stdout(&self, want: &str) -> &Self {
        assert_eq!(self.stdout, want, "wrong stdout\n{}", self.context);
        self
    }

    pub fn stdout_has(&self, line: &str) -> &Self {
        assert!(
            self.stdout.lines().any(|l| l == line),
            "stdout lacks line {line:?}\n{}",
            self.context
        );
        self
    }

    pub fn stdout_lacks(&self, text: &str) -> &Self {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}\n{}",
            self.context
        );
        self
    }

    pub fn stderr(&self, want: &str) -> &Self {
        assert_eq!(self.stderr, want, "wrong stderr\n{}", self.context);
        self
    }

    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n{}",
            self.context
        );
        self
    }
}
