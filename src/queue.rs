//! qmail-queue: starting it, and turning how it ended into a reply.
//!
//! The message goes to its fd 0 and the envelope to its fd 1, as qmail's
//! `qmail.c` does. Like the widely deployed custom-error patch, the program
//! also gets a pipe on fd 6: when it exits 82 having written a line there,
//! that line is the reply (first byte `D` permanent, anything else
//! temporary), which is how content scanners refuse with their own text.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};

use nix::fcntl::OFlag;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};

/// How qmail-queue ended, as the session needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// Killed by a signal.
    Crashed,
    /// It could not be executed at all (qmail's child exits 120 then).
    ExecFailed,
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
        Outcome::ExecFailed => 120,
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
    let text: Vec<u8> = text.iter().map(|&b| if b < 0x20 || b == 0x7f { b'?' } else { b }).collect();
    Some(if class == b'D' { Verdict::Permanent(text) } else { Verdict::Temporary(text) })
}

/// Most bytes read from fd 6, as the custom-error patch reads.
const CUSTOM_MAX: usize = 255;

/// A running qmail-queue.
pub struct Queue {
    child: Child,
    message: Option<ChildStdin>,
    envelope: Option<std::fs::File>,
    errors: Option<std::fs::File>,
    /// A write to the message or envelope pipe failed.
    pub write_error: bool,
}

/// Why qmail-queue could not be started.
pub enum StartError {
    /// pipe or fork failed: `451 qqt failure`.
    System(io::Error),
    /// exec failed: qmail reports this after DATA as exit 120.
    Exec(io::Error),
}

impl Queue {
    /// Starts `program` (QMAILQUEUE or bin/qmail-queue, relative to the qmail
    /// home, which is the working directory).
    pub fn start(program: &std::ffi::OsStr) -> Result<Queue, StartError> {
        let sys = |e: nix::Error| StartError::System(e.into());
        let (env_r, env_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys)?;
        let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(sys)?;
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::piped()).stdout(Stdio::from(env_r)).stderr(Stdio::inherit());
        give_fd6(&mut cmd, err_w.as_raw_fd());
        let spawned = cmd.spawn();
        drop(cmd); // closes our copy of the envelope pipe's read end
        drop(err_w);
        match spawned {
            Ok(mut child) => Ok(Queue {
                message: child.stdin.take(),
                child,
                envelope: Some(std::fs::File::from(env_w)),
                errors: Some(std::fs::File::from(err_r)),
                write_error: false,
            }),
            Err(e) if e.raw_os_error().is_some_and(is_exec_errno) => Err(StartError::Exec(e)),
            Err(e) => Err(StartError::System(e)),
        }
    }

    /// The process id, shown as `qp` in the 250 reply.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes message bytes; a failure is remembered, not fatal: the client's
    /// DATA must still be read to stay in sync.
    pub fn write_message(&mut self, bytes: &[u8]) {
        if self.write_error || bytes.is_empty() {
            return;
        }
        match &mut self.message {
            Some(m) => {
                if m.write_all(bytes).is_err() {
                    self.write_error = true;
                }
            }
            None => self.write_error = true,
        }
    }

    /// Closes the message, writes the envelope (or none, when `envelope` is
    /// `None`: the message is being refused and qmail-queue must see a
    /// broken envelope and give up), and waits for the program to end.
    pub fn finish(mut self, envelope: Option<&[u8]>) -> io::Result<(Outcome, bool, Option<Vec<u8>>)> {
        drop(self.message.take());
        let mut env = self.envelope.take().expect("envelope pipe");
        match envelope {
            Some(e) if !self.write_error => {
                if env.write_all(e).is_err() {
                    self.write_error = true;
                }
            }
            _ => self.write_error = true,
        }
        drop(env);
        let status = self.child.wait()?;
        let outcome = outcome_of(status);
        let custom = if outcome == Outcome::Exited(82) { self.read_custom() } else { None };
        Ok((outcome, self.write_error, custom))
    }

    /// Reads what the program left on fd 6. The pipe is non-blocking and read
    /// only after the program exited, so a grandchild holding it open cannot
    /// stall the session.
    fn read_custom(&mut self) -> Option<Vec<u8>> {
        let mut f = self.errors.take()?;
        let mut buf = vec![0u8; CUSTOM_MAX];
        let mut len = 0;
        while len < CUSTOM_MAX {
            match f.read(&mut buf[len..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
        buf.truncate(len);
        (len > 0).then_some(buf)
    }
}

fn outcome_of(status: ExitStatus) -> Outcome {
    match status.code() {
        Some(c) => Outcome::Exited(c),
        None => {
            debug_assert!(status.signal().is_some());
            Outcome::Crashed
        }
    }
}

/// errno values from exec itself (as opposed to pipe/fork trouble).
fn is_exec_errno(errno: i32) -> bool {
    use nix::errno::Errno::*;
    [ENOENT, EACCES, ENOEXEC, ENOTDIR, ELOOP, ENAMETOOLONG, ETXTBSY, EISDIR, EPERM]
        .iter()
        .any(|e| *e as i32 == errno)
}

/// Makes `fd` the child's fd 6, the custom-error channel. `fd` is
/// close-on-exec, so only this fd 6 copy reaches qmail-queue.
#[allow(unsafe_code)]
fn give_fd6(cmd: &mut Command, fd: RawFd) {
    let hook = move || {
        // dup2 is async-signal-safe. When the pipe already is fd 6, dup2 is a
        // no-op that would leave close-on-exec set, so clear it instead.
        let r = if fd == 6 {
            unsafe { nix::libc::fcntl(6, nix::libc::F_SETFD, 0) }
        } else {
            unsafe { nix::libc::dup2(fd, 6) }
        };
        if r == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
    };
    // SAFETY: the hook runs between fork and exec and only makes
    // async-signal-safe system calls on fds it owns; it allocates nothing.
    unsafe {
        cmd.pre_exec(hook);
    }
}
