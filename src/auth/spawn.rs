//! The real [`Checker`]: runs CHECKPROGRAM SUBPROGRAM... for one AUTH.
//!
//! As the patches do: argv as given, the program found as execvp finds
//! it ($PATH searched for a name without a slash), the process's
//! environment, fd 3 the read end of a pipe carrying [`Request::fd3`].
//! Ours, as RCPTCHECK is run (src/rcptcheck/spawn.rs): posix_spawnp,
//! a process group of its own, stdin and stdout on /dev/null (the patches
//! leave the client's connection there), and the run bounded by
//! timeoutsmtpd, after which the group is killed and the program reaped.
//! The request is written into the pipe before the program starts: it is
//! at most two command lines long, far below a pipe's capacity, so the
//! write never waits for the program.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::unistd::Pid;

use super::{Checker, Request};
use crate::queue::{environ, is_exec_errno};
use crate::rcptcheck::Ended;
use crate::rcptcheck::spawn::{KILL_GRACE, away_from, wait_bounded};

/// Runs the checkpassword program, one process per [`Checker::check`].
#[derive(Debug)]
pub struct Spawner {
    program: Vec<Vec<u8>>,
    timeout: Duration,
}

impl Spawner {
    /// `program` is CHECKPROGRAM SUBPROGRAM...; each run is bounded by
    /// `timeout` (control/timeoutsmtpd).
    pub fn new(program: Vec<Vec<u8>>, timeout: Duration) -> Spawner {
        Spawner { program, timeout }
    }

    fn spawn(&self, req: &Request) -> Result<Pid, Ended> {
        let errno = |e: io::Error| e.raw_os_error().unwrap_or(Errno::EIO as i32);
        let setup = |e: io::Error| Ended::SetupFailed(errno(e));
        let fork = |e: Errno| Ended::ForkFailed(e as i32);
        let null = File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(setup)?;
        let null = away_from(null.into(), &[0, 1, 3]).map_err(setup)?;
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| setup(e.into()))?;
        let r: OwnedFd = away_from(r, &[0, 1, 3]).map_err(setup)?;
        // Written and closed before the start: the program reads it all,
        // then its end of file.
        let mut w = File::from(w);
        w.write_all(&req.fd3()).map_err(setup)?;
        drop(w);
        let mut actions = PosixSpawnFileActions::init().map_err(fork)?;
        actions.add_dup2(null.as_raw_fd(), 0).map_err(fork)?;
        actions.add_dup2(null.as_raw_fd(), 1).map_err(fork)?;
        actions.add_dup2(r.as_raw_fd(), 3).map_err(fork)?;
        let mut attr = PosixSpawnAttr::init().map_err(fork)?;
        attr.set_flags(PosixSpawnFlags::POSIX_SPAWN_SETPGROUP)
            .map_err(fork)?;
        attr.set_pgroup(Pid::from_raw(0)).map_err(fork)?;
        let argv: Vec<CString> = self
            .program
            .iter()
            .map(|a| CString::new(a.as_slice()))
            .collect::<Result<_, _>>()
            .map_err(|_| Ended::ExecFailed(Errno::EINVAL as i32))?;
        let Some(path) = argv.first() else {
            return Err(Ended::ExecFailed(Errno::ENOENT as i32));
        };
        let env = environ::<&[u8], &[u8]>(&[], &[]);
        // execvp's search, by hand: posix_spawnp would be one more libc
        // symbol for every connection's start-up to bind.
        let mut last = Errno::ENOENT;
        for candidate in search(path.as_bytes()) {
            let Ok(candidate) = CString::new(candidate) else {
                continue;
            };
            match posix_spawn(candidate.as_c_str(), &actions, &attr, &argv, &env) {
                Ok(pid) => return Ok(pid),
                Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EACCES)) => last = e,
                Err(e) if is_exec_errno(e as i32) => return Err(Ended::ExecFailed(e as i32)),
                Err(e) => return Err(Ended::ForkFailed(e as i32)),
            }
        }
        Err(Ended::ExecFailed(last as i32))
    }
}

/// Where execvp looks for `name`: itself when it has a slash, else each
/// directory of $PATH (glibc's default when unset).
fn search(name: &[u8]) -> Vec<Vec<u8>> {
    if name.contains(&b'/') {
        return vec![name.to_vec()];
    }
    use std::os::unix::ffi::OsStringExt;
    let path = std::env::var_os("PATH").map_or_else(|| b"/bin:/usr/bin".to_vec(), |p| p.into_vec());
    path.split(|&b| b == b':')
        .map(|dir| match dir {
            b"" => name.to_vec(),
            dir => [dir, b"/", name].concat(),
        })
        .collect()
}

impl Checker for Spawner {
    fn check(&mut self, req: &Request) -> Ended {
        match self.spawn(req) {
            Ok(pid) => wait_bounded(pid, Instant::now() + self.timeout, KILL_GRACE),
            Err(ended) => ended,
        }
    }
    fn now(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}
