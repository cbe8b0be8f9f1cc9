//! The real [`Checker`]: runs `$RCPTCHECK` for a recipient.
//!
//! As both patches do (notqmail 7c76d11 qmail-smtpd.c:233-243; sagredo
//! 302f308 qmail-smtpd.c:1019-1040): the path is executed as given (execv:
//! no `$PATH` search, no shell; relative to the working directory, the
//! qmail home), with itself as its only argument, in the process's
//! environment plus the request's variables ([`super::child_env`]).
//!
//! Ours: started with posix_spawn as qmail-queue is (src/queue.rs), in a
//! process group of its own; stdin and stdout are /dev/null (the patches
//! leave the client's connection there: the program could read what the
//! client pipelined, and what it prints would reach the client); stderr is
//! inherited (the log). With `USE_FD4`, fd 4 is a pipe, read while the
//! program runs (so it never blocks on a full pipe, which deadlocks
//! sagredo's), non-blocking (so a grandchild holding it cannot stall the
//! session), keeping [`FD4_MAX`] bytes. The run is bounded by timeoutsmtpd:
//! then the group gets SIGTERM, a short grace, SIGKILL, and the program is
//! reaped.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid;

use super::{Checker, Config, Ended, FD4_MAX, Outcome, Request, child_env};
use crate::queue::{is_exec_errno, set_nonblocking};

/// After SIGTERM, how long a timed-out program gets before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Longest pause between two looks at the program while it runs (without
/// fd 4 its end is noticed by waitpid alone, asked at growing intervals).
const MAX_NAP: Duration = Duration::from_millis(20);

/// Most bytes of fd 4 read at one go (the rest waits for the next look).
const READ_BUDGET: usize = 1 << 20;

/// Runs the program, one process per [`Checker::run`].
#[derive(Debug)]
pub struct Spawner {
    program: Vec<u8>,
    fd4: bool,
    timeout: Duration,
    grace: Duration,
    /// The environment to start from; `None`: the process's, at each run.
    env: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// /dev/null, opened at the first run.
    null: Option<OwnedFd>,
}

impl Spawner {
    /// A checker for `config`, each run bounded by `timeout`
    /// (control/timeoutsmtpd).
    pub fn new(config: &Config, timeout: Duration) -> Spawner {
        Spawner {
            program: config.program.clone(),
            fd4: config.fd4,
            timeout,
            grace: KILL_GRACE,
            env: None,
            null: None,
        }
    }

    /// Another grace between SIGTERM and SIGKILL (tests).
    pub fn with_grace(mut self, grace: Duration) -> Spawner {
        self.grace = grace;
        self
    }

    /// Starts from this environment instead of the process's (tests, or a
    /// caller that keeps its own copy).
    pub fn with_env(mut self, env: Vec<(Vec<u8>, Vec<u8>)>) -> Spawner {
        self.env = Some(env);
        self
    }

    fn devnull(&mut self) -> io::Result<&OwnedFd> {
        if self.null.is_none() {
            let f = File::options().read(true).write(true).open("/dev/null")?;
            self.null = Some(away_from(f.into(), &[0, 1, 4])?);
        }
        Ok(self.null.as_ref().expect("just opened"))
    }

    fn spawn(&mut self, req: &Request<'_>) -> Result<(Pid, Option<File>), Ended> {
        let errno = |e: io::Error| e.raw_os_error().unwrap_or(Errno::EIO as i32);
        let setup = |e: io::Error| Ended::SetupFailed(errno(e));
        let fork = |e: Errno| Ended::ForkFailed(e as i32);
        let null = self.devnull().map_err(setup)?.as_raw_fd();
        let pipe = if self.fd4 {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup(e.into()))?;
            set_nonblocking(&r).map_err(setup)?;
            Some((r, away_from(w, &[0, 1, 4]).map_err(setup)?))
        } else {
            None
        };
        let mut actions = PosixSpawnFileActions::init().map_err(fork)?;
        if let Some((_, w)) = &pipe {
            actions.add_dup2(w.as_raw_fd(), 4).map_err(fork)?;
        }
        actions.add_dup2(null, 0).map_err(fork)?;
        actions.add_dup2(null, 1).map_err(fork)?;
        let mut attr = PosixSpawnAttr::init().map_err(fork)?;
        // A group of its own (pgid = its pid), so that on a timeout what it
        // started is killed too.
        attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETPGROUP)
            .map_err(fork)?;
        attr.set_pgroup(Pid::from_raw(0)).map_err(fork)?;
        let path = CString::new(self.program.as_slice())
            .map_err(|_| Ended::ExecFailed(Errno::EINVAL as i32))?;
        let base = match &self.env {
            Some(e) => e.clone(),
            None => std::env::vars_os()
                .map(|(k, v)| (k.into_vec(), v.into_vec()))
                .collect(),
        };
        let env: Vec<CString> = child_env(base, req, self.fd4)
            .into_iter()
            .filter_map(|e| CString::new(e).ok())
            .collect();
        match posix_spawn(path.as_c_str(), &actions, &attr, &[path.as_c_str()], &env) {
            // Our copy of the write end closes here: at the program's exit
            // the pipe ends.
            Ok(pid) => Ok((pid, pipe.map(|(r, _)| File::from(r)))),
            Err(e) if is_exec_errno(e as i32) => Err(Ended::ExecFailed(e as i32)),
            Err(e) => Err(Ended::ForkFailed(e as i32)),
        }
    }
}

impl Checker for Spawner {
    fn run(&mut self, req: &Request) -> Outcome {
        let (pid, fd4) = match self.spawn(req) {
            Ok(started) => started,
            Err(ended) => return Outcome::new(ended),
        };
        let mut run = Run {
            pid,
            fd4,
            got: Vec::new(),
        };
        let ended = run.wait(Instant::now() + self.timeout, self.grace);
        Outcome {
            ended,
            fd4: run.got,
        }
    }
}

/// Waits for `pid` (a program started in a process group of its own)
/// until `deadline`, then kills its group as a timed-out RCPTCHECK is
/// killed (SIGTERM, `grace`, SIGKILL) and reaps it. Shared with the AUTH
/// checker ([`crate::auth::spawn`]).
pub(crate) fn wait_bounded(pid: Pid, deadline: Instant, grace: Duration) -> Ended {
    Run {
        pid,
        fd4: None,
        got: Vec::new(),
    }
    .wait(deadline, grace)
}

/// A running program.
struct Run {
    pid: Pid,
    /// Our end of its fd 4, until that reached its end.
    fd4: Option<File>,
    /// What it wrote there (at most FD4_MAX bytes).
    got: Vec<u8>,
}

impl Run {
    /// Waits until the program ends, or `deadline`, when it is killed.
    /// No SIGCHLD handler and no thread, as queue.rs waits: its end shows
    /// as the end of fd 4 (when that is a pipe), so a poll on that wakes at
    /// once and waitpid(WNOHANG) confirms; otherwise, and should something
    /// it started hold fd 4, waitpid is asked at growing intervals.
    fn wait(&mut self, deadline: Instant, grace: Duration) -> Ended {
        let mut nap = Duration::from_micros(100);
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    // Its writes are all in the pipe now; take what is
                    // there without waiting for a grandchild's.
                    self.read_fd4();
                    return Ended::Exited(code);
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ended::Signaled(sig as i32),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Ended::WaitFailed(e as i32),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill(grace);
                return Ended::TimedOut;
            }
            let nap_now = nap.min(left);
            if self.read_fd4() {
                std::thread::sleep(nap_now);
            } else {
                let fd = self.fd4.as_ref().expect("open while read_fd4 is false");
                let ms = i32::try_from(nap_now.as_millis())
                    .unwrap_or(i32::MAX)
                    .max(1);
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                );
            }
            nap = (nap * 2).min(MAX_NAP);
        }
    }

    /// Reads what is on fd 4 now (at most READ_BUDGET bytes), keeping the
    /// first FD4_MAX bytes and dropping the rest. Returns false while the
    /// pipe is open, true once it has ended (or was never there).
    fn read_fd4(&mut self) -> bool {
        let Some(f) = &mut self.fd4 else {
            return true;
        };
        let mut buf = [0u8; 4096];
        // A writer as fast as we read must not keep us here.
        let mut budget = READ_BUDGET;
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let keep = n.min(FD4_MAX - self.got.len());
                    self.got.extend_from_slice(&buf[..keep]);
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(_) => break,
            }
        }
        self.fd4 = None;
        true
    }

    /// SIGTERM to its group, up to `grace` for the program to end, then
    /// SIGKILL to the group (what ignored SIGTERM, or outlived it), then
    /// reaped. Until reaped, its pid (the group's id) cannot be reused, so
    /// the signals reach only its group. The reply is 421 (and the log line
    /// [`super::log_records`]'s).
    fn kill(&mut self, grace: Duration) {
        // kill(2) with the negated group id, not killpg(3): the same call,
        // without one more symbol for every connection's start-up to bind.
        let group = Pid::from_raw(-self.pid.as_raw());
        let _ = kill(group, Signal::SIGTERM);
        let until = Instant::now() + grace;
        let ended = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        while matches!(
            waitid(Id::Pid(self.pid), ended),
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR)
        ) && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = kill(group, Signal::SIGKILL);
        while let Err(Errno::EINTR) = waitpid(self.pid, None) {}
        self.fd4 = None;
    }
}

/// `fd`, renumbered while it is one of `targets` (fds posix_spawn will
/// dup2 onto: a dup2 onto itself would keep close-on-exec set, and a later
/// dup2 would overwrite it). A clone takes the lowest free number from 3
/// up, which cannot be one still held.
pub(crate) fn away_from(fd: OwnedFd, targets: &[RawFd]) -> io::Result<OwnedFd> {
    let mut held = Vec::new();
    let mut fd = fd;
    while targets.contains(&fd.as_raw_fd()) {
        let next = fd.try_clone()?;
        held.push(fd);
        fd = next;
    }
    Ok(fd)
}
