//! qmail-queue: starting it, and turning how it ended into a reply.
//!
//! The message goes to its fd 0 and the envelope to its fd 1, as qmail's
//! `qmail.c` does. Like the widely deployed custom-error patch, the program
//! also gets a pipe on fd 6: when it exits 82 having written a line there,
//! that line is the reply (first byte `D` permanent, anything else
//! temporary), which is how content scanners refuse with their own text.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, posix_spawn};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How qmail-queue ended, as the session needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// Killed by a signal.
    Crashed,
    /// waitpid failed, so how it ended is unknown.
    WaitFailed,
    /// It made no progress for timeoutsmtpd seconds and was killed.
    TimedOut,
}

/// qmail-queue's verdict class: `Ok` is the 250, the rest a reply text
/// without the code, and whether it is permanent (554) or temporary (451).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Permanent(Vec<u8>),
    Temporary(Vec<u8>),
}

/// qmail's `qmail_close` table. `write_error` is true when a byte of the
/// message or envelope could not be written (qmail's `flagerr`): then even
/// exit 0 is a read error. `custom` is what the program wrote on fd 6.
pub fn classify(outcome: &Outcome, write_error: bool, custom: Option<&[u8]>) -> Verdict {
    use Verdict::{Permanent as P, Temporary as T};
    let code = match outcome {
        Outcome::Crashed => return T(b"qq crashed (#4.3.0)".to_vec()),
        Outcome::WaitFailed => return T(crate::reply::QQ_WAITPID.to_vec()),
        Outcome::TimedOut => return T(crate::reply::QQ_TIMEOUT.to_vec()),
        Outcome::Exited(c) => *c,
    };
    let text: &[u8] = match code {
        0 if !write_error => return Verdict::Accepted,
        11 | 115 => return P(b"envelope address too long for qq (#5.1.3)".to_vec()),
        31 => return P(b"mail server permanently rejected message (#5.3.0)".to_vec()),
        82 => match custom.and_then(custom_reply) {
            Some(v) => return v,
            None => b"qq temporary problem (#4.3.0)",
        },
        51 => b"qq out of memory (#4.3.0)",
        52 => b"qq timeout (#4.3.0)",
        53 => b"qq write error or disk full (#4.3.0)",
        0 | 54 => b"qq read error (#4.3.0)",
        55 => b"qq unable to read configuration (#4.3.0)",
        56 => b"qq trouble making network connection (#4.3.0)",
        61 => b"qq trouble in home directory (#4.3.0)",
        62..=66 => b"qq trouble creating files in queue (#4.3.0)",
        71 => b"mail server temporarily rejected message (#4.3.0)",
        72 => b"connection to mail server timed out (#4.4.1)",
        73 => b"connection to mail server rejected (#4.4.1)",
        74 => b"communication with mail server failed (#4.4.2)",
        81 | 91 => b"qq internal bug (#4.3.0)",
        120 => b"unable to exec qq (#4.3.0)",
        11..=40 => return P(b"qq permanent problem (#5.3.0)".to_vec()),
        _ => b"qq temporary problem (#4.3.0)",
    };
    T(text.to_vec())
}

/// The fd 6 text: its first line; `D` first means permanent. The text may
/// not break the reply into several lines, so it ends at the first CR or LF
/// and other control bytes become `?`.
fn custom_reply(raw: &[u8]) -> Option<Verdict> {
    let line = raw.split(|&b| b == b'\n' || b == b'\r').next()?;
    let (&class, text) = line.split_first()?;
    if text.is_empty() {
        return None;
    }
    let text: Vec<u8> = text
        .iter()
        .map(|&b| if b < 0x20 || b == 0x7f { b'?' } else { b })
        .collect();
    Some(if class == b'D' {
        Verdict::Permanent(text)
    } else {
        Verdict::Temporary(text)
    })
}

/// How a qmail-queue run ended, as the session is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub outcome: Outcome,
    /// A byte of the message or envelope could not be written (qmail's
    /// `flagerr`): even exit 0 is then a read error.
    pub write_error: bool,
    /// What the program wrote on fd 6, when it exited 82.
    pub custom: Option<Vec<u8>>,
}

impl Finished {
    /// The program could not be executed: qmail's child exits 120 then,
    /// and nothing was written.
    pub fn exec_failed() -> Finished {
        Finished {
            outcome: Outcome::Exited(120),
            write_error: true,
            custom: None,
        }
    }
}

/// Most bytes read from fd 6, as the custom-error patch reads.
const CUSTOM_MAX: usize = 255;

/// The program to run for each message, and how long it may go without
/// progress (control/timeoutsmtpd).
#[derive(Debug, Clone)]
pub struct Program {
    /// $QMAILQUEUE or bin/qmail-queue, relative to the qmail home.
    pub path: OsString,
    /// With no write to it accepted for this long, or no exit this long
    /// after the envelope, it is killed.
    pub timeout: Duration,
}

/// After SIGTERM, how long a timed-out program gets to clean up (a content
/// filter removing its work files) before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// A running qmail-queue.
pub struct Queue {
    pid: Pid,
    timeout: Duration,
    message: Option<File>,
    envelope: Option<File>,
    errors: Option<File>,
    /// What it wrote on fd 6 so far (at most CUSTOM_MAX bytes).
    custom: Vec<u8>,
    /// How it ended, once known: it was killed for making no progress.
    ended: Option<Outcome>,
    /// A write to the message or envelope pipe failed.
    pub write_error: bool,
}

/// Why qmail-queue could not be started. Each error names what failed.
#[derive(Debug)]
pub enum StartError {
    /// pipe or fork failed: `451 qqt failure`.
    System(io::Error),
    /// exec failed: qmail reports this after DATA as exit 120.
    Exec(io::Error),
}

/// A pipe's two ends, close-on-exec: only the copies posix_spawn moves to
/// fds 0, 1 and 6 reach qmail-queue, so it sees EOF when we close ours.
fn pipe(flags: OFlag) -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC | flags)?)
}

/// `fd` renumbered if it is `target` itself: a dup2 onto itself would keep
/// close-on-exec set. The duplicate takes the lowest free number, which
/// cannot be `target` while `fd` holds it.
fn not_numbered(fd: OwnedFd, target: i32) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() == target {
        fd.try_clone()
    } else {
        Ok(fd)
    }
}

impl Queue {
    /// Starts `program` (QMAILQUEUE or bin/qmail-queue, relative to the qmail
    /// home, which is the working directory), as qmail's `qmail_open` does,
    /// with posix_spawn: a vfork-speed start, no `$PATH` search (execv
    /// semantics), and SIGPIPE left ignored as qmail-smtpd leaves it.
    pub fn start(program: &Program) -> Result<Queue, StartError> {
        Queue::start_with(program, &[])
    }

    /// As [`Queue::start`], with these variables set (over the process's).
    pub fn start_with(
        program: &Program,
        extra: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<Queue, StartError> {
        let sys = StartError::System;
        let (msg_r, msg_w) = pipe(OFlag::empty()).map_err(sys)?;
        let (env_r, env_w) = pipe(OFlag::empty()).map_err(sys)?;
        let (err_r, err_w) = pipe(OFlag::O_NONBLOCK).map_err(sys)?;
        // Our ends only (each end is its own open file): every write can
        // then be bounded in time, while qmail-queue reads as usual.
        set_nonblocking(&msg_w).map_err(sys)?;
        set_nonblocking(&env_w).map_err(sys)?;
        let msg_r = not_numbered(msg_r, 1)
            .and_then(|f| not_numbered(f, 6))
            .map_err(sys)?;
        let env_r = not_numbered(env_r, 6).map_err(sys)?;
        let err_w = not_numbered(err_w, 6).map_err(sys)?;
        let spawn_err = |e: nix::Error| StartError::System(e.into());
        let mut actions = PosixSpawnFileActions::init().map_err(spawn_err)?;
        actions.add_dup2(msg_r.as_raw_fd(), 0).map_err(spawn_err)?;
        actions.add_dup2(env_r.as_raw_fd(), 1).map_err(spawn_err)?;
        actions.add_dup2(err_w.as_raw_fd(), 6).map_err(spawn_err)?;
        let attr = PosixSpawnAttr::init().map_err(spawn_err)?;
        let path = CString::new(program.path.as_bytes()).map_err(|e| StartError::Exec(e.into()))?;
        let env = environ(&[], extra);
        match posix_spawn(path.as_c_str(), &actions, &attr, &[path.as_c_str()], &env) {
            Ok(pid) => Ok(Queue {
                pid,
                timeout: program.timeout,
                message: Some(File::from(msg_w)),
                envelope: Some(File::from(env_w)),
                errors: Some(File::from(err_r)),
                custom: Vec::new(),
                ended: None,
                write_error: false,
            }),
            Err(e) if is_exec_errno(e as i32) => Err(StartError::Exec(io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: {}", program.path.to_string_lossy(), io::Error::from(e)),
            ))),
            Err(e) => Err(StartError::System(e.into())),
        }
    }

    /// The process id, shown as `qp` in the 250 reply.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Writes message bytes; a failure is remembered, not fatal: the client's
    /// DATA must still be read to stay in sync. A program that takes none
    /// of them for timeoutsmtpd seconds is killed.
    pub fn write_message(&mut self, bytes: &[u8]) {
        if self.write_error || bytes.is_empty() {
            return;
        }
        let Some(m) = &self.message else {
            self.write_error = true;
            return;
        };
        match write_within(m, bytes, self.timeout) {
            Ok(()) => {}
            Err(Stall::Broken) => self.write_error = true,
            Err(Stall::TimedOut) => {
                self.message = None;
                self.kill_stalled("taking the message");
            }
        }
    }

    /// Closes the message, writes the envelope (or none, when `envelope` is
    /// `None`: the message is being refused and qmail-queue must see a
    /// broken envelope and give up), and waits for the program to end:
    /// for at most timeoutsmtpd seconds, then it is killed.
    pub fn finish(mut self, envelope: Option<&[u8]>) -> Finished {
        drop(self.message.take());
        let env = self.envelope.take().expect("envelope pipe");
        match envelope {
            Some(e) if !self.write_error => match write_within(&env, e, self.timeout) {
                Ok(()) => {}
                Err(Stall::Broken) => self.write_error = true,
                Err(Stall::TimedOut) => {
                    drop(env);
                    self.kill_stalled("taking the envelope");
                    return Finished {
                        outcome: Outcome::TimedOut,
                        write_error: true,
                        custom: None,
                    };
                }
            },
            _ => self.write_error = true,
        }
        // Its end of file: the envelope is complete.
        drop(env);
        let outcome = match self.ended.take() {
            Some(o) => o,
            None => match self.wait(Instant::now() + self.timeout) {
                Ok(o) => o,
                Err(e) => {
                    log::warn!("unable to wait for qmail-queue: {e}");
                    Outcome::WaitFailed
                }
            },
        };
        let custom = if outcome == Outcome::Exited(82) {
            self.read_custom();
            (!self.custom.is_empty()).then(|| std::mem::take(&mut self.custom))
        } else {
            None
        };
        Finished {
            write_error: self.write_error || outcome == Outcome::WaitFailed,
            outcome,
            custom,
        }
    }

    /// Waits until the program ends, or `deadline`, when it is killed.
    ///
    /// No SIGCHLD handler and no thread: the program's end shows as the
    /// end of its fd 6 pipe (every descriptor closes at exit), so a poll on
    /// that wakes at once, and waitpid(WNOHANG) confirms. Should something
    /// it started hold fd 6 open, or should it close fd 6 itself, waitpid
    /// is asked at growing intervals (at most 200 ms apart).
    fn wait(&mut self, deadline: Instant) -> io::Result<Outcome> {
        let mut step = Duration::from_micros(100);
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(Outcome::Exited(code)),
                Ok(WaitStatus::Signaled(..)) => return Ok(Outcome::Crashed),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill_stalled("after the envelope (it did not exit)");
                return Ok(self.ended.take().unwrap_or(Outcome::TimedOut));
            }
            let nap = step.min(left);
            if !self.read_custom() {
                let ms = i32::try_from(nap.as_millis()).unwrap_or(i32::MAX).max(1);
                let fd = self
                    .errors
                    .as_ref()
                    .expect("open while read_custom is true");
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                );
            } else {
                std::thread::sleep(nap);
            }
            step = (step * 2).min(Duration::from_millis(200));
        }
    }

    /// Kills a program that made no progress: SIGTERM, a short grace, then
    /// SIGKILL. Logged; the message is then answered
    /// `451 qmail-queue timed out` and nothing is queued.
    fn kill_stalled(&mut self, doing: &str) {
        log::warn!(
            "qmail-queue (pid {}) made no progress {doing} for {} seconds: killed",
            self.pid,
            self.timeout.as_secs()
        );
        self.write_error = true;
        let _ = kill(self.pid, Signal::SIGTERM);
        let grace = Instant::now() + KILL_GRACE;
        // Until it has ended (or is already reaped: gone either way).
        while matches!(
            waitpid(self.pid, Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR)
        ) {
            if Instant::now() >= grace {
                let _ = kill(self.pid, Signal::SIGKILL);
                let _ = waitpid(self.pid, None);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.ended = Some(Outcome::TimedOut);
    }

    /// Reads what the program has written on fd 6 so far, keeping the first
    /// CUSTOM_MAX bytes. The pipe is non-blocking, so a grandchild holding
    /// it open cannot stall the session. Returns false while the pipe is
    /// open with nothing more to read, true once it has ended.
    fn read_custom(&mut self) -> bool {
        let Some(f) = &mut self.errors else {
            return true;
        };
        let mut buf = [0u8; CUSTOM_MAX];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let keep = n.min(CUSTOM_MAX - self.custom.len());
                    self.custom.extend_from_slice(&buf[..keep]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => break,
            }
        }
        self.errors = None;
        true
    }
}

impl crate::driver::QmailQueue for Program {
    fn start(
        &mut self,
        env: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<Box<dyn crate::driver::QueueRun>, StartError> {
        Ok(Box::new(Queue::start_with(self, env)?))
    }
}

impl crate::driver::QueueRun for Queue {
    fn pid(&self) -> u32 {
        Queue::pid(self)
    }
    fn write_message(&mut self, bytes: &[u8]) {
        Queue::write_message(self, bytes)
    }
    fn finish(self: Box<Self>, envelope: Option<&[u8]>) -> Finished {
        Queue::finish(*self, envelope)
    }
}

/// How a bounded write to qmail-queue failed.
enum Stall {
    /// The pipe is broken (the program exited or closed it).
    Broken,
    /// No byte was taken for the whole timeout.
    TimedOut,
}

/// Writes all of `bytes` to a non-blocking pipe, waiting at most `timeout`
/// for each write to be accepted (so a slow program that keeps reading is
/// never cut off; one that stops is).
fn write_within(f: &File, mut bytes: &[u8], timeout: Duration) -> Result<(), Stall> {
    let mut f = f;
    while !bytes.is_empty() {
        match f.write(bytes) {
            Ok(0) => return Err(Stall::Broken),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                match crate::io::wait(f.as_fd(), PollFlags::POLLOUT, Instant::now() + timeout) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(Stall::TimedOut),
                    Err(_) => return Err(Stall::Broken),
                }
            }
            Err(_) => return Err(Stall::Broken),
        }
    }
    Ok(())
}

pub(crate) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// The environment for a program this process starts (qmail-queue, a
/// checker, an exec): this process's variables but those named in `drop`
/// or set by `set`, then `set`, as C strings. Each variable is copied
/// once, straight into its C string: this runs near the smallest
/// softlimit (tests/softlimit.rs).
pub(crate) fn environ<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    drop: &[&[u8]],
    set: &[(K, V)],
) -> Vec<CString> {
    use std::os::unix::ffi::OsStrExt;
    let entry = |k: &[u8], v: &[u8]| CString::new([k, b"=", v].concat()).ok();
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.as_bytes();
            !drop.contains(&k) && !set.iter().any(|(name, _)| name.as_ref() == k)
        })
        .filter_map(|(k, v)| entry(k.as_bytes(), v.as_bytes()))
        .chain(
            set.iter()
                .filter_map(|(k, v)| entry(k.as_ref(), v.as_ref())),
        )
        .collect()
}

/// errno values from exec itself (as opposed to pipe/fork trouble).
pub(crate) fn is_exec_errno(errno: i32) -> bool {
    use nix::errno::Errno::*;
    [
        ENOENT,
        EACCES,
        ENOEXEC,
        ENOTDIR,
        ELOOP,
        ENAMETOOLONG,
        ETXTBSY,
        EISDIR,
        EPERM,
    ]
    .iter()
    .any(|e| *e as i32 == errno)
}
