//! Shared harness for the integration tests, in the spirit of ripgrep's
//! `tests/util.rs`: a fixture qmail home in a fresh temporary directory, a
//! stand-in qmail-queue that records what it is given, and a runner that
//! feeds client bytes to the real `qmail-smtpd` binary over pipes.
//!
//! Layout of a fixture:
//!
//! ```text
//! ROOT/home/              QMAILHOME (control/ inside)
//! ROOT/queue/qmail-queue  the stand-in qmail-queue ($QMAILQUEUE)
//! ROOT/queue/N.pid        pid of the N-th qmail-queue run (N = 0, 1, ...)
//! ROOT/queue/N.message    what it read on fd 0
//! ROOT/queue/N.envelope   what it read on fd 1
//! ROOT/queue/N.fds        its open descriptors (Queue::RecordFds only)
//! ```
//!
//! Typical use:
//!
//! ```ignore
//! let f = Fixture::with_controls("name", &[("me", "mx.example\n")]);
//! f.queue(Queue::Record(0));
//! let out = f.run(&[("TCPREMOTEIP", "192.0.2.1")], "MAIL FROM:<a@b>\r\n...");
//! out.assert_stdout("220 mx.example ESMTP\r\n...").assert_exit(0);
//! out.assert_queued("Received: from unknown (192.0.2.1)\n  by unknown with SMTP; DATE\n...", b"Fa@b\0Tc@d\0\0");
//! ```
//!
//! `250 ok UNIXTIME qp PID` replies are checked (time within the run, pid
//! one of qmail-queue's) and masked to exactly that text; the Received
//! date is checked and masked as `DATE`; everything else is compared byte
//! for byte.
//!
//! Every failed assertion prints the command, its environment, a listing of
//! the fixture directory, stdout and stderr, and what qmail-queue got. A
//! fixture whose test panicked is kept on disk for inspection; otherwise it
//! is removed.
//!
//! Test threads run in parallel: spawn through [`spawn`] / [`output`], so
//! no child is forked while a stand-in script is being written (ETXTBSY).
#![allow(dead_code)]

pub mod mariadb;
pub mod tcpserver;
mod tempdir;

pub use tempdir::TempDir;

/// The `rcpt-decision` lines (RCPTLOG) of a log, their pid checked to be
/// a number and masked as `PID`.
pub fn decision_lines(log: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(log)
        .lines()
        .filter(|l| l.starts_with("rcpt-decision "))
        .map(|l| {
            let (head, rest) = l.split_once(" pid=").expect("a pid field");
            let (pid, rest) = rest.split_once(' ').expect("fields after the pid");
            assert!(pid.parse::<u32>().is_ok(), "{l}");
            format!("{head} pid=PID {rest}")
        })
        .collect()
}

/// A small deterministic PRNG (xorshift64*), so that a failure of a test
/// made of random cases can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qmail-smtpd"))
}

/// How long any one run may take before it is killed and the test fails.
/// A checkpassword program (cr.yp.to/checkpwd/interface.html) for the
/// AUTH tests: alice's password is `secret` (for CRAM-MD5 the HMAC-MD5 of
/// the challenge with that key, by openssl); user `hang` never answers,
/// `temp` exits 111; anyone else is refused (exit 1). On success it runs
/// its arguments, as checkpassword does. With $CHECKPASSWORD_LOG set, the
/// bytes it read on fd 3 are appended there.
pub const CHECKPASSWORD: &str = r#"#!/bin/sh
data=$(tee -a "${CHECKPASSWORD_LOG:-/dev/null}" <&3 | tr '\0' '\n')
user=$(printf '%s\n' "$data" | sed -n 1p)
pass=$(printf '%s\n' "$data" | sed -n 2p)
chal=$(printf '%s\n' "$data" | sed -n 3p)
case $user in
hang) exec sleep 60 ;;
temp) exit 111 ;;
alice) ;;
*) exit 1 ;;
esac
if [ -n "$chal" ]; then
  want=$(printf '%s' "$chal" | openssl dgst -md5 -hmac secret | sed 's/.* //')
else
  want=secret
fi
[ "$pass" = "$want" ] || exit 1
exec "$@"
"#;

pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// What the stand-in qmail-queue does. Every variant first records its pid
/// (so the `qp` of a `250 ok` can be checked).
#[derive(Debug, Clone)]
pub enum Queue {
    /// Reads the whole message (fd 0) and the whole envelope (fd 1), records
    /// both, then exits with this code.
    Record(i32),
    /// As `Record`, then writes these bytes on fd 6 and exits 82 (the
    /// custom-error convention).
    Custom82(Vec<u8>),
    /// Reads a few bytes of the message, then kills itself with SIGKILL.
    KillMidMessage,
    /// Exits with this code before reading anything.
    ExitEarly(i32),
    /// Reads only this many bytes of the message, then exits with the code.
    ReadPartial(usize, i32),
    /// As `Record`, exiting with the N-th code on its N-th run (the last
    /// code once the list runs out).
    Sequence(Vec<i32>),
    /// Closes its envelope pipe (fd 1) first, then reads the whole message
    /// and exits 0: the envelope cannot reach it.
    NoEnvelope,
    /// As `Record(0)`, first listing its open descriptors (`ls -l
    /// /proc/PID/fd`) into N.fds.
    RecordFds,
    /// Hangs before reading anything, ignoring SIGTERM (only SIGKILL
    /// ends it).
    HangBeforeReading,
    /// Reads the whole message and envelope, then hangs without exiting.
    /// The envelope is recorded (the message "queued") only if it gets to
    /// exit 0; SIGTERM ends it without that.
    HangAfterEnvelope,
    /// Reads the message in reads of at most `chunk` bytes, pausing
    /// `pause_ms` after each; pauses as long after the envelope; then
    /// records both and exits 0: slow, but never stalled.
    SlowReader { chunk: usize, pause_ms: u32 },
}

/// Writes QMAIL_HOME/users/cdb for the tests' `nobody.example:ex` virtual
/// domain: every local name `ex-...` belongs to nobody (uid 65534), with
/// an empty home of its own (QMAIL_HOME/ex-home, 0755), so qmail would
/// bounce each such recipient for lack of a `.qmail` file, whatever this
/// machine's passwd holds. (Left to qmail-getpw, the names would go to
/// `alias`; on a machine without an alias user qmail defers them, and the
/// check answers 451.)
pub fn ex_bounces(qmail_home: &Path) {
    let ex_home = qmail_home.join("ex-home");
    std::fs::create_dir_all(&ex_home).unwrap();
    std::fs::set_permissions(&ex_home, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(qmail_home.join("users")).unwrap();
    let line = format!("+ex-:nobody:65534:65534:{}:-::", ex_home.display());
    let (key, value, wild) =
        qmail_smtpd::resolve::users_cdb::compile_assign_line(line.as_bytes()).unwrap();
    let mut w = cdb2::CDBWriter::create(qmail_home.join("users/cdb")).unwrap();
    w.add(&key, &value).unwrap();
    w.add(b"", &[wild.unwrap()]).unwrap();
    w.finish().unwrap();
}

/// A directory (and its parents) with mode 0755.
pub fn mkdir_755(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A file with these contents and this mode.
pub fn write_mode(p: &Path, text: &str, mode: u32) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The `realrcptto` and `realrcptto-deferred` lines of a log, their PID
/// field checked to be a number and masked as `PID`.
pub fn realrcptto_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with("realrcptto"))
        .map(|l| {
            let mut f: Vec<&str> = l.splitn(3, ' ').collect();
            assert!(f[1].parse::<u32>().is_ok(), "{l}");
            f[1] = "PID";
            f.join(" ")
        })
        .collect()
}

/// Single-quotes `s` for /bin/sh.
fn sh_quote(s: &[u8]) -> String {
    let mut q = String::from("'");
    for &b in s {
        if b == b'\'' {
            q.push_str("'\\''");
        } else {
            q.push(b as char);
        }
    }
    q.push('\'');
    q
}

/// A printf format that writes exactly `bytes`.
fn printf_octal(bytes: &[u8]) -> String {
    let mut s = String::from("'");
    for &b in bytes {
        write!(s, "\\{:03o}", b).unwrap();
    }
    s.push('\'');
    s
}

impl Queue {
    /// The /bin/sh script for this behaviour, recording into `dir`.
    fn script(&self, dir: &Path) -> String {
        let d = sh_quote(dir.as_os_str().as_bytes());
        let mut s = format!(
            "#!/bin/sh\n\
             # stand-in qmail-queue written by tests/support/mod.rs\n\
             D={d}\n\
             n=0\n\
             while [ -e \"$D/$n.pid\" ]; do n=$((n+1)); done\n\
             echo $$ > \"$D/$n.pid\"\n"
        );
        let record = "cat > \"$D/$n.message\"\ncat <&1 > \"$D/$n.envelope\"\n";
        match self {
            Queue::Record(code) => {
                s.push_str(record);
                writeln!(s, "exit {code}").unwrap();
            }
            Queue::Custom82(text) => {
                s.push_str(record);
                writeln!(s, "printf {} >&6", printf_octal(text)).unwrap();
                s.push_str("exit 82\n");
            }
            Queue::KillMidMessage => {
                s.push_str("head -c 10 > \"$D/$n.message\"\nkill -9 $$\nexit 0\n");
            }
            Queue::ExitEarly(code) => {
                writeln!(s, "exit {code}").unwrap();
            }
            Queue::ReadPartial(bytes, code) => {
                writeln!(s, "head -c {bytes} > \"$D/$n.message\"").unwrap();
                writeln!(s, "exit {code}").unwrap();
            }
            Queue::NoEnvelope => {
                s.push_str("exec 1<&-\ncat > \"$D/$n.message\"\nexit 0\n");
            }
            Queue::RecordFds => {
                s.push_str("ls -l /proc/$$/fd/ > \"$D/$n.fds\"\n");
                s.push_str(record);
                s.push_str("exit 0\n");
            }
            Queue::HangBeforeReading => {
                s.push_str("trap '' TERM\nexec sleep 60\n");
            }
            Queue::HangAfterEnvelope => {
                s.push_str("cat > \"$D/$n.message\"\ncat <&1 > \"$D/$n.pending\"\n");
                s.push_str("trap 'kill $! 2>/dev/null; exit 143' TERM\n");
                s.push_str("sleep 60 </dev/null >/dev/null 2>&1 6>&- &\nwait $!\n");
                s.push_str("mv \"$D/$n.pending\" \"$D/$n.envelope\"\nexit 0\n");
            }
            Queue::SlowReader { chunk, pause_ms } => {
                let pause = format!("{}.{:03}", pause_ms / 1000, pause_ms % 1000);
                writeln!(
                    s,
                    ": > \"$D/$n.message\"\n\
                     while [ \"$(dd bs={chunk} count=1 2>/dev/null | tee -a \"$D/$n.message\" | wc -c)\" -gt 0 ]; do\n\
                     \x20 sleep {pause}\n\
                     done\n\
                     sleep {pause}\n\
                     cat <&1 > \"$D/$n.envelope\"\n\
                     exit 0"
                )
                .unwrap();
            }
            Queue::Sequence(codes) => {
                s.push_str(record);
                s.push_str("case $n in\n");
                for (i, c) in codes.iter().enumerate() {
                    writeln!(s, "  {i}) exit {c} ;;").unwrap();
                }
                writeln!(
                    s,
                    "  *) exit {} ;;\nesac",
                    codes.last().copied().unwrap_or(0)
                )
                .unwrap();
            }
        }
        s
    }
}

/// Writing an executable while another thread forks lets the child inherit
/// the write descriptor until it execs; exec'ing the script then fails with
/// ETXTBSY ("text file busy"). Tests run in parallel threads, so every
/// spawn holds this lock shared and every executable write holds it
/// exclusively.
static EXEC_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `cmd.spawn()`, never concurrently with writing an executable.
pub fn spawn(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let _shared = EXEC_LOCK.read().unwrap_or_else(|e| e.into_inner());
    cmd.spawn()
}

/// Holds off every spawn through [`spawn`] (and every executable write)
/// while the guard lives: for a test that needs to be sure no other
/// process holds a copy of its pipes.
pub fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    EXEC_LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// A child (a server: tcpserver, xinetd) killed and reaped when dropped,
/// whatever happens; declare it after the [`TempDir`] it works in, so it
/// is gone before the directory is.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cmd.output()`, spawned through [`spawn`].
pub fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd)?.wait_with_output()
}

/// A qmail home in a fresh temporary directory.
pub struct Fixture {
    pub root: PathBuf,
    pub home: PathBuf,
    pub queue_dir: PathBuf,
    /// Owns `root`.
    dir: TempDir,
}

impl Fixture {
    /// An empty qmail home (with an empty `control/`) and a recording
    /// qmail-queue that exits 0.
    pub fn new(name: &str) -> Fixture {
        let dir = TempDir::new(name);
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        let queue_dir = root.join("queue");
        std::fs::create_dir_all(home.join("control")).unwrap();
        std::fs::create_dir_all(&queue_dir).unwrap();
        let f = Fixture {
            root,
            home,
            queue_dir,
            dir,
        };
        f.queue(Queue::Record(0));
        f
    }

    /// A qmail home with these control files, given as (name, contents).
    pub fn with_controls(name: &str, controls: &[(&str, &str)]) -> Fixture {
        let f = Fixture::new(name);
        for (n, c) in controls {
            f.control(n, c);
        }
        f
    }

    /// Writes `home/control/NAME`.
    pub fn control(&self, name: &str, contents: impl AsRef<[u8]>) -> &Self {
        self.write(&format!("control/{name}"), contents)
    }

    /// Writes a file under the qmail home, creating directories.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.home.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// Writes an executable (0755) under the qmail home, creating
    /// directories; no child is forked meanwhile (see [`spawn`]), so none
    /// holds it open for writing when it runs (ETXTBSY).
    pub fn script(&self, rel: &str, text: &str) -> &Self {
        let p = self.home.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let _exclusive = EXEC_LOCK.write().unwrap_or_else(|e| e.into_inner());
        write_mode(&p, text, 0o755);
        self
    }

    /// Removes a file under the qmail home.
    pub fn remove(&self, rel: &str) -> &Self {
        let _ = std::fs::remove_file(self.home.join(rel));
        self
    }

    /// Creates a directory under the qmail home.
    pub fn mkdir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.home.join(rel)).unwrap();
        self
    }

    /// Writes a cdb file under the qmail home from (key, value) pairs.
    pub fn cdb(&self, rel: &str, pairs: &[(&[u8], &[u8])]) -> &Self {
        let p = self.home.join(rel);
        let mut w =
            cdb2::CDBWriter::create(&p).unwrap_or_else(|e| panic!("cdb {}: {e}", p.display()));
        for (k, v) in pairs {
            w.add(k, v).unwrap();
        }
        w.finish().unwrap();
        self
    }

    /// users/cdb for the `nobody.example:ex` virtual domain the tests use:
    /// see [`ex_bounces`].
    pub fn ex_bounces(&self) -> &Self {
        ex_bounces(&self.home);
        self
    }

    /// Path of the stand-in qmail-queue.
    pub fn queue_program(&self) -> PathBuf {
        self.queue_dir.join("qmail-queue")
    }

    /// (Re)writes the stand-in qmail-queue with this behaviour.
    pub fn queue(&self, q: Queue) -> &Self {
        self.install_queue(&self.queue_program(), q);
        self
    }

    /// Writes a stand-in qmail-queue at `path` (recording into this
    /// fixture's queue directory), mode 0755.
    pub fn install_queue(&self, path: &Path, q: Queue) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        let _exclusive = EXEC_LOCK.write().unwrap_or_else(|e| e.into_inner());
        std::fs::write(path, q.script(&self.queue_dir)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Forgets what earlier runs recorded.
    fn clear_records(&self) {
        for e in std::fs::read_dir(&self.queue_dir).unwrap().flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if [".pid", ".message", ".envelope", ".fds", ".pending"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }

    /// The recorded qmail-queue runs, in order. A run may outlive the
    /// binary (the client vanished mid-DATA): each is waited for first, so
    /// what it records afterwards is not missed.
    pub fn calls(&self) -> Vec<QueueCall> {
        let mut calls = Vec::new();
        for n in 0.. {
            let pidfile = self.queue_dir.join(format!("{n}.pid"));
            let Ok(pid) = std::fs::read_to_string(&pidfile) else {
                break;
            };
            if let Ok(pid) = pid.trim().parse::<u32>() {
                wait_gone(pid);
            }
            let read = |ext: &str| std::fs::read(self.queue_dir.join(format!("{n}.{ext}"))).ok();
            calls.push(QueueCall {
                pid: pid.trim().parse().unwrap_or(0),
                message: read("message"),
                envelope: read("envelope").filter(|e| !e.is_empty()),
                fds: read("fds").map(|f| String::from_utf8_lossy(&f).into_owned()),
            });
        }
        calls
    }

    /// A runner with the standard environment: PATH, QMAILHOME, QMAILQUEUE
    /// (the stand-in) and NOREALRCPTTO=1.
    pub fn cmd(&self) -> Run<'_> {
        let mut env = BTreeMap::new();
        env.insert(
            "PATH".to_string(),
            OsString::from("/usr/local/bin:/usr/bin:/bin"),
        );
        env.insert("QMAILHOME".to_string(), self.home.clone().into_os_string());
        env.insert(
            "QMAILQUEUE".to_string(),
            self.queue_program().into_os_string(),
        );
        env.insert("NOREALRCPTTO".to_string(), OsString::from("1"));
        Run {
            fixture: self,
            env,
            input: Vec::new(),
            args: Vec::new(),
            wrapper: Vec::new(),
            keep_open: false,
            stdout: StdoutMode::Read,
            limit: RUN_LIMIT,
        }
    }

    /// Runs the binary with the standard environment plus `env`, feeding it
    /// `input` and then end of file.
    pub fn run(&self, env: &[(&str, &str)], input: impl AsRef<[u8]>) -> Output {
        let mut r = self.cmd();
        for (k, v) in env {
            r = r.env(k, v);
        }
        r.input(input).run()
    }

    /// `ls -lR`-ish listing of the fixture, for failure reports.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        list_dir(&self.root, &self.root, &mut out);
        out
    }
}

/// Waits (at most 10 s) until process `pid` has ended: gone from /proc, or
/// a zombie nobody reaps.
fn wait_gone(pid: u32) {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat) => {
                // The state follows the parenthesised command name.
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.trim_start().chars().next());
                if matches!(state, Some('Z') | Some('X') | None) {
                    return;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn list_dir(root: &Path, dir: &Path, out: &mut String) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p.strip_prefix(root).unwrap_or(&p);
        let kind = if md.is_dir() {
            'd'
        } else if md.file_type().is_symlink() {
            'l'
        } else {
            '-'
        };
        let _ = writeln!(
            out,
            "  {kind}{:04o} {:>5}:{:<5} {:>9}  {}",
            md.mode() & 0o7777,
            md.uid(),
            md.gid(),
            md.len(),
            rel.display()
        );
        if md.is_dir() {
            list_dir(root, &p, out);
        }
    }
}

/// One run of the binary, being set up.
pub struct Run<'a> {
    fixture: &'a Fixture,
    env: BTreeMap<String, OsString>,
    args: Vec<OsString>,
    /// A command line the binary runs under (setpriv, prlimit ...).
    wrapper: Vec<OsString>,
    input: Vec<u8>,
    keep_open: bool,
    stdout: StdoutMode,
    limit: Duration,
}

/// What the client does with the server's replies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StdoutMode {
    /// Reads them as they come.
    Read,
    /// Reads nothing until the binary has exited.
    Stall,
    /// Has closed its end before sending anything.
    Closed,
}

impl<'a> Run<'a> {
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.env.insert(k.to_string(), v.as_ref().to_os_string());
        self
    }

    pub fn env_remove(mut self, k: &str) -> Self {
        self.env.remove(k);
        self
    }

    /// Command-line arguments for the binary.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Run the binary under this command, which must exec its last
    /// argument (the binary) in the same process: `prlimit ...`,
    /// `setpriv ...`. Wrappers nest; the first one given is outermost.
    pub fn wrap<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, cmd: I) -> Self {
        self.wrapper
            .extend(cmd.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Run as this uid and gid, with no supplementary groups, via setpriv.
    #[allow(clippy::wrong_self_convention)]
    pub fn as_uid(self, uid: u32) -> Self {
        self.wrap([
            "setpriv".to_string(),
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".to_string(),
        ])
    }

    /// Run as uid/gid 65534 (nobody) with no supplementary groups.
    #[allow(clippy::wrong_self_convention)]
    pub fn as_nobody(self) -> Self {
        self.as_uid(65534)
    }

    /// The client's bytes.
    pub fn input(mut self, input: impl AsRef<[u8]>) -> Self {
        self.input = input.as_ref().to_vec();
        self
    }

    /// Keep the client's side open after the input (a client that goes
    /// quiet rather than away) until the binary exits.
    pub fn keep_open(mut self) -> Self {
        self.keep_open = true;
        self
    }

    /// A client that reads no reply until the binary has exited.
    pub fn stall_stdout(mut self) -> Self {
        self.stdout = StdoutMode::Stall;
        self
    }

    /// A client that has closed its receiving side before sending.
    pub fn close_stdout(mut self) -> Self {
        self.stdout = StdoutMode::Closed;
        self
    }

    pub fn limit(mut self, d: Duration) -> Self {
        self.limit = d;
        self
    }

    fn command(&self) -> Command {
        let mut c = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        c.args(&self.args);
        c.env_clear();
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.current_dir(&self.fixture.root);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        let c = self.command();
        let _ = writeln!(
            s,
            "command: {:?} {:?}",
            c.get_program(),
            c.get_args().collect::<Vec<_>>()
        );
        let _ = writeln!(s, "environment (after env_clear):");
        for (k, v) in &self.env {
            let v = v.to_string_lossy();
            match v.char_indices().nth(200) {
                Some((cut, _)) => {
                    let _ = writeln!(s, "  {k}={}... ({} bytes)", &v[..cut], v.len());
                }
                None => {
                    let _ = writeln!(s, "  {k}={v}");
                }
            }
        }
        let _ = writeln!(
            s,
            "input ({} bytes){}:\n{}",
            self.input.len(),
            match (self.keep_open, self.stdout) {
                (true, _) => ", then kept open",
                (_, StdoutMode::Stall) => ", replies left unread",
                (_, StdoutMode::Closed) => ", reply side closed",
                _ => "",
            },
            show(&self.input)
        );
        s
    }

    /// Runs the binary to its end.
    pub fn run(self) -> Output {
        self.fixture.clear_records();
        let describe = self.describe();
        let mut cmd = self.command();
        let started = SystemTime::now();
        let t0 = Instant::now();
        let mode = self.stdout;
        // A closed reply side: the binary's fd 1 is a pipe whose read end
        // is closed before it starts, so its very first write fails. No
        // other thread may fork while that read end exists (a child would
        // hold it open until it execs).
        let exclusive = (mode == StdoutMode::Closed)
            .then(|| EXEC_LOCK.write().unwrap_or_else(|e| e.into_inner()));
        let spawned = if exclusive.is_some() {
            let (r, w) = nix::unistd::pipe().expect("pipe");
            drop(r);
            cmd.stdout(Stdio::from(w));
            cmd.spawn()
        } else {
            spawn(&mut cmd)
        };
        drop(exclusive);
        let mut child =
            spawned.unwrap_or_else(|e| panic!("cannot start {}: {e}\n{describe}", bin().display()));
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take();
        let client_pipes = [pipe_inode(&stdin), stdout.as_ref().and_then(pipe_inode)];
        let mut stderr = child.stderr.take().unwrap();
        let input = self.input.clone();
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let keep_open = self.keep_open;
        let writer = std::thread::spawn(move || {
            // The server may stop reading (it exited): ignore EPIPE.
            let _ = stdin.write_all(&input);
            if keep_open {
                let _ = hold_rx.recv();
            }
            drop(stdin);
        });
        let (exited_tx, exited_rx) = std::sync::mpsc::channel::<()>();
        let out_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(out) = stdout.as_mut() {
                if mode == StdoutMode::Stall {
                    let _ = exited_rx.recv();
                }
                let _ = out.read_to_end(&mut v);
            }
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stderr.read_to_end(&mut v);
            v
        });
        let mut timed_out = false;
        let mut peak_rss_kb = None;
        let status = loop {
            // VmHWM is the peak so far: the last sample is the best.
            if let Some(kb) = vm_hwm_kb(child.id()) {
                peak_rss_kb = Some(kb);
            }
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t0.elapsed() > self.limit {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = t0.elapsed();
        let finished = SystemTime::now();
        drop(hold_tx);
        drop(exited_tx);
        let _ = writer.join();
        let stdout = out_reader.join().unwrap();
        let stderr = err_reader.join().unwrap();
        let out = Output {
            stdout,
            stderr,
            status,
            calls: self.fixture.calls(),
            elapsed,
            peak_rss_kb,
            client_pipes,
            started,
            finished,
            describe,
            listing: self.fixture.listing(),
        };
        if timed_out {
            out.fail(&format!(
                "the binary did not finish within {:?} and was killed",
                self.limit
            ));
        }
        out
    }
}

/// The inode of the pipe behind one of our ends.
fn pipe_inode(fd: &impl std::os::fd::AsRawFd) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// VmHWM (peak resident set) of a running process, in kB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One recorded run of the stand-in qmail-queue.
#[derive(Debug, Clone)]
pub struct QueueCall {
    pub pid: u32,
    /// What it read on fd 0 (None: it recorded nothing).
    pub message: Option<Vec<u8>>,
    /// What it read on fd 1; None when absent or empty.
    pub envelope: Option<Vec<u8>>,
    /// Its open descriptors (`Queue::RecordFds` only).
    pub fds: Option<String>,
}

/// What a run produced.
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
    pub calls: Vec<QueueCall>,
    pub elapsed: Duration,
    /// The binary's peak resident set (VmHWM) in kB, as last sampled while
    /// it ran; None when it ended before the first sample.
    pub peak_rss_kb: Option<u64>,
    /// Inodes of the pipes that are the binary's fd 0 and fd 1 (the client
    /// connection).
    pub client_pipes: [Option<u64>; 2],
    started: SystemTime,
    finished: SystemTime,
    describe: String,
    listing: String,
}

impl Output {
    /// Panics with `msg` and everything known about the run.
    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        let mut s = String::new();
        let _ = writeln!(s, "\n==== ASSERTION FAILED ====\n{msg}\n");
        let _ = writeln!(s, "---- run ----\n{}", self.describe);
        let _ = writeln!(
            s,
            "exit status: {:?} (signal {:?}); took {:?}; peak RSS {:?} kB",
            self.status.code(),
            self.status.signal(),
            self.elapsed,
            self.peak_rss_kb
        );
        let _ = writeln!(s, "\n---- fixture ----\n{}", self.listing);
        let _ = writeln!(
            s,
            "---- stdout ({} bytes) ----\n{}",
            self.stdout.len(),
            show(&self.stdout)
        );
        let _ = writeln!(
            s,
            "---- stderr ({} bytes) ----\n{}",
            self.stderr.len(),
            show(&self.stderr)
        );
        let _ = writeln!(s, "---- qmail-queue runs: {} ----", self.calls.len());
        for (i, c) in self.calls.iter().enumerate() {
            let _ = writeln!(s, "run {i}: pid {}", c.pid);
            match &c.message {
                Some(m) => {
                    let _ = writeln!(s, "  message ({} bytes):\n{}", m.len(), show(m));
                }
                None => {
                    let _ = writeln!(s, "  message: none");
                }
            }
            match &c.envelope {
                Some(e) => {
                    let _ = writeln!(s, "  envelope: {}", show(e));
                }
                None => {
                    let _ = writeln!(s, "  envelope: none");
                }
            }
        }
        panic!("{s}");
    }

    /// The exit code (None when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    #[track_caller]
    pub fn assert_exit(&self, code: i32) -> &Self {
        if self.status.code() != Some(code) {
            self.fail(&format!("expected exit code {code}, got {:?}", self.status));
        }
        self
    }

    /// The server's bytes with each `250 ok UNIXTIME qp PID` checked (the
    /// time within the run, the pid one of qmail-queue's) and masked to
    /// `250 ok UNIXTIME qp PID`.
    /// When the run started and ended (for checking masked times).
    pub fn started(&self) -> SystemTime {
        self.started
    }
    pub fn finished(&self) -> SystemTime {
        self.finished
    }

    pub fn masked_stdout(&self) -> Result<Vec<u8>, String> {
        mask_accepted(&self.stdout, self.started, self.finished, &self.calls)
    }

    /// The server's bytes, exactly (after masking the `250 ok` line).
    #[track_caller]
    pub fn assert_stdout(&self, expected: impl AsRef<[u8]>) -> &Self {
        let expected = expected.as_ref();
        let got = match self.masked_stdout() {
            Ok(g) => g,
            Err(e) => self.fail(&e),
        };
        if got != expected {
            self.fail(&format!("stdout differs\n{}", diff(expected, &got)));
        }
        self
    }

    /// The last qmail-queue run's message, if one recorded anything.
    pub fn message(&self) -> Option<Vec<u8>> {
        self.calls.last().and_then(|c| c.message.clone())
    }

    /// The last qmail-queue run's envelope; None when there was no run or it
    /// got an empty envelope (the message was refused).
    pub fn envelope(&self) -> Option<Vec<u8>> {
        self.calls.last().and_then(|c| c.envelope.clone())
    }

    /// (message, envelope) of every run that got an envelope: what a real
    /// qmail-queue would have queued.
    pub fn queued(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.calls
            .iter()
            .filter_map(|c| {
                c.envelope
                    .clone()
                    .map(|e| (c.message.clone().unwrap_or_default(), e))
            })
            .collect()
    }

    /// No qmail-queue run got an envelope.
    #[track_caller]
    pub fn assert_nothing_queued(&self) -> &Self {
        if !self.queued().is_empty() {
            self.fail("expected nothing to be queued (every envelope empty), but a qmail-queue run got an envelope");
        }
        self
    }

    /// Exactly one message was queued, with this message (the Received
    /// date checked and masked as `DATE`) and this envelope.
    #[track_caller]
    pub fn assert_queued(&self, message: impl AsRef<[u8]>, envelope: impl AsRef<[u8]>) -> &Self {
        let q = self.queued();
        if q.len() != 1 {
            self.fail(&format!(
                "expected exactly one queued message, got {}",
                q.len()
            ));
        }
        self.check_queued(&q[0], message.as_ref(), envelope.as_ref());
        self
    }

    /// Every queued message, in order, each as (message, envelope).
    #[track_caller]
    pub fn assert_queued_all(&self, expected: &[(&[u8], &[u8])]) -> &Self {
        let q = self.queued();
        if q.len() != expected.len() {
            self.fail(&format!(
                "expected {} queued messages, got {}",
                expected.len(),
                q.len()
            ));
        }
        for (got, (m, e)) in q.iter().zip(expected) {
            self.check_queued(got, m, e);
        }
        self
    }

    #[track_caller]
    fn check_queued(&self, got: &(Vec<u8>, Vec<u8>), message: &[u8], envelope: &[u8]) {
        let masked = match mask_received(&got.0, self.started, self.finished) {
            Ok(m) => m,
            Err(e) => self.fail(&format!("queued message: {e}")),
        };
        if masked != message {
            self.fail(&format!(
                "queued message differs (date masked as DATE)\n{}",
                diff(message, &masked)
            ));
        }
        if got.1 != envelope {
            self.fail(&format!("envelope differs\n{}", diff(envelope, &got.1)));
        }
    }

    /// stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        if !contains(&self.stderr, needle.as_bytes()) {
            self.fail(&format!("stderr does not contain {needle:?}"));
        }
        self
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Bytes shown readably: one output line per input line, non-printable
/// bytes escaped, long buffers cut in the middle.
pub fn show(b: &[u8]) -> String {
    const KEEP: usize = 3000;
    let (head, tail, cut) = if b.len() > 2 * KEEP {
        (&b[..KEEP], &b[b.len() - KEEP..], b.len() - 2 * KEEP)
    } else {
        (b, &b[b.len()..], 0)
    };
    let mut s = String::new();
    let put = |part: &[u8], s: &mut String| {
        for line in part.split_inclusive(|&c| c == b'\n') {
            s.push_str("  |");
            s.push_str(&line.escape_ascii().to_string());
            s.push('\n');
        }
    };
    put(head, &mut s);
    if cut > 0 {
        let _ = writeln!(s, "  ... {cut} bytes not shown ...");
        put(tail, &mut s);
    }
    s
}

/// Expected vs got, with the first differing offset.
pub fn diff(expected: &[u8], got: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    format!(
        "first difference at byte {at} (expected {} bytes, got {})\n-- expected --\n{}-- got --\n{}",
        expected.len(),
        got.len(),
        show(expected),
        show(got)
    )
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Replaces every `250 ok UNIXTIME qp PID\r\n` by the literal
/// `250 ok UNIXTIME qp PID\r\n`, after checking UNIXTIME lies within the run
/// and PID is one of the recorded qmail-queue pids.
fn mask_accepted(
    out: &[u8],
    started: SystemTime,
    finished: SystemTime,
    calls: &[QueueCall],
) -> Result<Vec<u8>, String> {
    let mut res = Vec::with_capacity(out.len());
    for line in out.split_inclusive(|&c| c == b'\n') {
        let Some(rest) = line.strip_prefix(b"250 ok ") else {
            res.extend_from_slice(line);
            continue;
        };
        let Some(rest) = rest.strip_suffix(b"\r\n") else {
            res.extend_from_slice(line);
            continue;
        };
        let text = String::from_utf8_lossy(rest);
        let parts: Vec<&str> = text.split(' ').collect();
        let [t, "qp", p] = parts[..] else {
            res.extend_from_slice(line);
            continue;
        };
        let (Ok(t), Ok(p)) = (t.parse::<u64>(), p.parse::<u32>()) else {
            return Err(format!(
                "malformed accept line {:?}",
                line.escape_ascii().to_string()
            ));
        };
        if t + 1 < secs(started) || t > secs(finished) + 1 {
            return Err(format!(
                "250 ok time {t} is not within the run ({}..{})",
                secs(started),
                secs(finished)
            ));
        }
        if !calls.iter().any(|c| c.pid == p) {
            return Err(format!(
                "250 ok qp {p} is not the pid of any qmail-queue run ({:?})",
                calls.iter().map(|c| c.pid).collect::<Vec<_>>()
            ));
        }
        res.extend_from_slice(b"250 ok UNIXTIME qp PID\r\n");
    }
    Ok(res)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `29 Nov 2026 20:33:46 -0000` strictly (day without a leading
/// zero, two-digit time fields, zone -0000); returns seconds since the epoch.
pub fn parse_date822(s: &str) -> Option<u64> {
    let f: Vec<&str> = s.split(' ').collect();
    let [d, mon, y, hms, "-0000"] = f[..] else {
        return None;
    };
    if d.is_empty() || d.len() > 2 || d.starts_with('0') || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let m = MONTHS.iter().position(|&x| x == mon)? as i64 + 1;
    if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t: Vec<&str> = hms.split(':').collect();
    if t.len() != 3
        || t.iter()
            .any(|x| x.len() != 2 || !x.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (d, y): (i64, i64) = (d.parse().ok()?, y.parse().ok()?);
    let (hh, mm, ss): (i64, i64, i64) =
        (t[0].parse().ok()?, t[1].parse().ok()?, t[2].parse().ok()?);
    if !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss) as u64)
}

/// Checks the two-line Received header at the start of `msg` (its date
/// well-formed and within the run) and replaces the date with `DATE`.
pub fn mask_received(
    msg: &[u8],
    started: SystemTime,
    finished: SystemTime,
) -> Result<Vec<u8>, String> {
    let err = |what: &str| {
        Err(format!(
            "{what}; message starts:\n{}",
            show(&msg[..msg.len().min(400)])
        ))
    };
    if !msg.starts_with(b"Received: from ") {
        return err("the message does not start with `Received: from `");
    }
    let Some(nl1) = msg.iter().position(|&c| c == b'\n') else {
        return err("no LF after the first Received line");
    };
    let Some(nl2) = msg[nl1 + 1..]
        .iter()
        .position(|&c| c == b'\n')
        .map(|p| p + nl1 + 1)
    else {
        return err("no LF after the second Received line");
    };
    let second = &msg[nl1 + 1..nl2];
    // The date follows the protocol (`with SMTP; `, `with UTF8SMTP; `).
    const SEP: &[u8] = b"; ";
    if !second.starts_with(b"  by ") {
        return err("the second Received line does not start with `  by `");
    }
    let Some(at) = second.windows(SEP.len()).rposition(|w| w == SEP) else {
        return err("the second Received line has no `; ` before a date");
    };
    let date = String::from_utf8_lossy(&second[at + SEP.len()..]).into_owned();
    let Some(t) = parse_date822(&date) else {
        return err(&format!("malformed Received date {date:?}"));
    };
    if t + 1 < secs(started) || t > secs(finished) + 1 {
        return err(&format!("Received date {date:?} is not within the run"));
    }
    let mut out = msg[..nl1 + 1 + at + SEP.len()].to_vec();
    out.extend_from_slice(b"DATE");
    out.extend_from_slice(&msg[nl2..]);
    Ok(out)
}

/// The greeting and QUIT replies for a given greeting text.
pub fn greeting(g: &str) -> String {
    format!("220 {g} ESMTP\r\n")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Panics with a clear message when `prog` is not on PATH.
pub fn require_program(prog: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
    {
        let p = dir.join(prog);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{prog}` is not installed: these end-to-end tests need it (Debian package `{package}`; \
         .ci/run installs it, or run `apt-get install {package}`)"
    );
}

/// A qmail home with a fresh self-signed certificate and key in
/// control/servercert.pem (unless `cert` says otherwise) and
/// bin/qmail-smtpd-tls.
pub fn tls_fixture(name: &str, cert: Option<&str>) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.queue(Queue::Record(0));
    match cert {
        Some(text) => {
            f.control("servercert.pem", text);
        }
        None => {
            let openssl = require_program("openssl", "openssl");
            let (key, crt) = (f.root.join("key.pem"), f.root.join("cert.pem"));
            let out = output(
                Command::new(openssl)
                    .args([
                        "req",
                        "-x509",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-days",
                        "2",
                        "-subj",
                        "/CN=mx.example",
                    ])
                    .args(["-addext", "subjectAltName=DNS:mx.example", "-keyout"])
                    .arg(&key)
                    .arg("-out")
                    .arg(&crt),
            )
            .expect("run openssl req");
            assert!(
                out.status.success(),
                "openssl req: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let pem = [std::fs::read(&crt).unwrap(), std::fs::read(&key).unwrap()].concat();
            f.control("servercert.pem", pem);
        }
    }
    std::fs::create_dir_all(f.home.join("bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_qmail-smtpd-tls"),
        f.home.join("bin/qmail-smtpd-tls"),
    )
    .unwrap();
    f
}

#[cfg(test)]
mod self_tests {
    use super::*;

    #[test]
    fn date_parsing() {
        assert_eq!(
            parse_date822("29 Nov 2026 20:33:46 -0000"),
            Some(1_795_984_426)
        );
        assert_eq!(parse_date822("1 Jan 1970 00:00:00 -0000"), Some(0));
        assert_eq!(parse_date822("01 Jan 1970 00:00:00 -0000"), None);
        assert_eq!(parse_date822("1 Jan 1970 00:00:00 +0000"), None);
        assert_eq!(parse_date822("1 Jan 1970 0:00:00 -0000"), None);
    }
}
