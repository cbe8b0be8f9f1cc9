//! qmail-smtpd's side of bin/qmail-vpopmail-sql: started on the first
//! question of a session that needs vpopmail's MySQL database, kept for
//! the session (one database connection), spoken to over two pipes with
//! the line protocol of [`vmysql`](crate::resolve::vmysql).
//!
//! Every answer has a deadline ([`ANSWER_DEADLINE`], longer than the
//! helper's own connect and query deadlines together, so the helper
//! normally reports first). A helper that misses it, exits, or writes
//! nonsense is killed (it is our child: by its pid) and reaped, and the
//! database counts as down for the rest of the session: every later
//! question fails at once with the same reason, without a new process or
//! connection. A dictionary attack against a database that is down or
//! slow therefore costs one deadline per session, not one per RCPT.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, posix_spawn};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::resolve::vmysql::{Answer, HELPER, request_line};
use crate::resolve::{SqlAnswer, SqlQuestion};

/// How long qmail-smtpd waits for one answer: the helper's connect
/// deadline and its query deadline (5 s each), and 2 s to start it.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(12);

/// The longest answer line read; a longer one is nonsense.
const MAX_ANSWER: usize = 4096;

/// The helper of one session, for one settings file.
#[derive(Debug)]
pub struct SqlHelper {
    program: CString,
    conf: Vec<u8>,
    state: State,
}

#[derive(Debug)]
enum State {
    NotStarted,
    Running(Running),
    /// It failed earlier in this session: the reason, for every later
    /// question.
    Down(io::ErrorKind, String),
}

#[derive(Debug)]
struct Running {
    pid: Pid,
    to: File,
    from: File,
    /// Bytes read past the last answer (there should be none).
    buf: Vec<u8>,
}

impl SqlHelper {
    /// bin/qmail-vpopmail-sql (relative to the qmail home) for CONF.
    pub fn new(conf: &[u8]) -> SqlHelper {
        Self::with_program(HELPER.as_bytes(), conf)
    }

    pub fn with_program(program: &[u8], conf: &[u8]) -> SqlHelper {
        SqlHelper {
            program: CString::new(program).unwrap_or_default(),
            conf: conf.to_vec(),
            state: State::NotStarted,
        }
    }

    /// The settings file this helper was started for.
    pub fn conf(&self) -> &[u8] {
        &self.conf
    }

    /// Asks one question; Err when it could not be answered (never "no").
    pub fn ask(&mut self, q: &SqlQuestion) -> io::Result<SqlAnswer> {
        let Some(line) = request_line(q) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a name vpopmail does not allow",
            ));
        };
        if let State::NotStarted = self.state {
            self.state = match self.start() {
                Ok(r) => State::Running(r),
                // Not installed (qmail-smtpd copied alone): the backend
                // is not checked, as before there was a helper.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => State::Down(
                    io::ErrorKind::Unsupported,
                    format!("{} is not installed", self.program.to_string_lossy()),
                ),
                Err(e) => State::Down(
                    e.kind(),
                    format!("unable to run {}: {e}", self.program.to_string_lossy()),
                ),
            };
        }
        let running = match &mut self.state {
            State::Down(kind, why) => return Err(io::Error::new(*kind, why.clone())),
            State::Running(r) => r,
            State::NotStarted => unreachable!("started above"),
        };
        let result = running.exchange(&line);
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                self.stop(e.kind(), e.to_string());
                return Err(e);
            }
        };
        match (q, answer) {
            (SqlQuestion::Valias { .. }, Answer::Yes) => Ok(SqlAnswer::Valias(true)),
            (SqlQuestion::Valias { .. }, Answer::No) => Ok(SqlAnswer::Valias(false)),
            (SqlQuestion::User { .. }, Answer::Gid(g)) => Ok(SqlAnswer::User(Some(g))),
            (SqlQuestion::User { .. }, Answer::No) => Ok(SqlAnswer::User(None)),
            (_, Answer::Fail(why)) => Err(io::Error::other(why)),
            (_, Answer::Down(why)) => {
                self.stop(io::ErrorKind::Other, why.clone());
                Err(io::Error::other(why))
            }
            (_, _) => {
                let why = "qmail-vpopmail-sql answered another question".to_string();
                self.stop(io::ErrorKind::InvalidData, why.clone());
                Err(io::Error::new(io::ErrorKind::InvalidData, why))
            }
        }
    }

    /// Ends the helper (by its pid), remembering why for later questions.
    fn stop(&mut self, kind: io::ErrorKind, why: String) {
        if let State::Running(r) = std::mem::replace(&mut self.state, State::Down(kind, why)) {
            let _ = kill(r.pid, Signal::SIGKILL);
            while let Err(Errno::EINTR) = waitpid(r.pid, None) {}
        }
    }

    /// posix_spawn, as qmail-queue is started: stdin and stdout are our
    /// pipes (close-on-exec on our side), stderr is the log, the
    /// environment is ours (SMTPD_LOGLEVEL).
    fn start(&self) -> io::Result<Running> {
        let (q_r, q_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (a_r, a_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // dup2 onto the same number would keep close-on-exec set.
        let q_r = if q_r.as_raw_fd() == 0 || q_r.as_raw_fd() == 1 {
            q_r.try_clone()?
        } else {
            q_r
        };
        let a_w = if a_w.as_raw_fd() == 0 || a_w.as_raw_fd() == 1 {
            a_w.try_clone()?
        } else {
            a_w
        };
        let mut actions = PosixSpawnFileActions::init()?;
        actions.add_dup2(q_r.as_raw_fd(), 0)?;
        actions.add_dup2(a_w.as_raw_fd(), 1)?;
        let attr = PosixSpawnAttr::init()?;
        let conf = CString::new(self.conf.clone())?;
        let env = crate::queue::environ::<&[u8], &[u8]>(&[], &[]);
        let pid = posix_spawn(
            self.program.as_c_str(),
            &actions,
            &attr,
            &[self.program.as_c_str(), conf.as_c_str()],
            &env,
        )?;
        Ok(Running {
            pid,
            to: File::from(q_w),
            from: File::from(a_r),
            buf: Vec::new(),
        })
    }
}

impl Running {
    /// Writes the question, reads one answer line within the deadline.
    fn exchange(&mut self, line: &[u8]) -> io::Result<Answer> {
        let deadline = Instant::now() + ANSWER_DEADLINE;
        self.to.write_all(line).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("qmail-vpopmail-sql does not read its questions: {e}"),
            )
        })?;
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                return Answer::parse(&line[..end]).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "qmail-vpopmail-sql answered {:?}",
                            String::from_utf8_lossy(&line[..end])
                        ),
                    )
                });
            }
            if self.buf.len() > MAX_ANSWER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "qmail-vpopmail-sql answered an overlong line",
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.from.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) if Instant::now() >= deadline => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no answer from qmail-vpopmail-sql within {} seconds",
                            ANSWER_DEADLINE.as_secs()
                        ),
                    ));
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            if fds[0].revents().is_none_or(|r| r.is_empty()) {
                continue;
            }
            let mut chunk = [0u8; 512];
            match self.from.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "qmail-vpopmail-sql exited without answering",
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
