//! The only code that touches the client's fds 0 and 1: reads and writes
//! bounded by timeoutsmtpd, output flushed only before a read would block
//! (qmail's whole PIPELINING support), and the loop that carries out the
//! session's actions.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::queue::{Outcome, Program, Queue, StartError};
use crate::reply;
use crate::session::{Action, OUTPUT_CHUNK, Session, Started};

/// Largest read buffer: DATA moves in chunks of this size. 16 KiB keeps
/// system calls rare (some 6,400 reads for 100 MiB) at a quarter of the
/// resident memory a 64 KiB buffer costs every session that sends a message.
const READ_SIZE: usize = 16 * 1024;
/// The read buffer starts this small and doubles each time a read fills
/// it, up to READ_SIZE: a command session never needs more, and zeroing
/// (and touching the pages of) a large buffer at start was a quarter of a
/// HELO/QUIT session's instructions.
const READ_START: usize = 1024;

/// How the session ended.
pub enum End {
    /// Exit with this status.
    Exit(i32),
}

/// Client I/O with timeoutsmtpd as the bound on every write and on each
/// whole line read (see [`Transport::line_started`]).
pub struct Client {
    timeout: Duration,
    /// When the line being read must be complete; `None` before the
    /// session runs (the TLS handshake: each read gets the timeout).
    line_deadline: Cell<Option<Instant>>,
    // Duplicates of fds 0 and 1 (same open files), owned so they can be
    // borrowed freely.
    input: OwnedFd,
    output: OwnedFd,
}

fn set_nonblocking(fd: BorrowedFd) {
    // Non-blocking fds make every write obey the timeout, however much the
    // client leaves unread. Failure (say, a terminal) only loses that.
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
}

/// Waits until `fd` is ready for `events`, until `deadline` at most.
pub(crate) fn wait(fd: BorrowedFd, events: PollFlags, deadline: Instant) -> io::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32 + 1)
            .unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, events)];
        match poll(&mut fds, ms) {
            Ok(0) => continue,
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Client {
    pub fn new(timeout_secs: u64) -> io::Result<Self> {
        let input = std::io::stdin().as_fd().try_clone_to_owned()?;
        let output = std::io::stdout().as_fd().try_clone_to_owned()?;
        set_nonblocking(input.as_fd());
        set_nonblocking(output.as_fd());
        Ok(Client {
            timeout: Duration::from_secs(timeout_secs),
            line_deadline: Cell::new(None),
            input,
            output,
        })
    }

    /// Reads some bytes; `Ok(0)` is end of input. Waits until the line's
    /// deadline, if one is set, else for the timeout.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self
            .line_deadline
            .get()
            .unwrap_or_else(|| Instant::now() + self.timeout);
        loop {
            match nix::unistd::read(&self.input, buf) {
                Ok(n) => return Ok(n),
                Err(Errno::EAGAIN) => wait(self.input.as_fd(), PollFlags::POLLIN, deadline)?,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The client's next line starts now: it must be complete, however it
    /// is sent, within the timeout.
    pub fn line_started(&self) {
        self.line_deadline.set(Some(Instant::now() + self.timeout));
    }

    /// Writes all of `bytes`, each wait bounded by the timeout.
    pub fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let deadline = Instant::now() + self.timeout;
            match nix::unistd::write(&self.output, bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::EAGAIN) => wait(self.output.as_fd(), PollFlags::POLLOUT, deadline)?,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// The client's byte stream: fds 0 and 1 as they are ([`Client`]), or the
/// TLS layer qmail-smtpd-tls puts over them. Timeouts are the transport's.
pub trait Transport {
    /// Reads some bytes; `Ok(0)` is end of input.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `bytes` (and, over TLS, sends them).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The client's next line starts now ([`Client::line_started`]).
    fn line_started(&mut self);
}

impl Transport for &Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Client::read(self, buf)
    }
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Client::write_all(self, bytes)
    }
    fn line_started(&mut self) {
        Client::line_started(self)
    }
}

/// Writes and clears the session's pending replies. A client that does
/// not take them in time, or has gone, ends the session (exit 1).
fn flush<T: Transport>(t: &mut T, out: &mut Vec<u8>) -> Result<(), End> {
    let r = t.write_all(out);
    out.clear();
    r.map_err(|_| End::Exit(1))
}

/// The program that speaks TLS, relative to the qmail home (the working
/// directory): all TLS code lives there, so this binary stays small.
pub const TLS_PROGRAM: &str = "bin/qmail-smtpd-tls";
/// Set to `starttls` for qmail-smtpd-tls when a client's STARTTLS is
/// due (`220 ready for tls`, handshake, no greeting after it); unset, it
/// does implicit TLS (SMTPS: handshake, then the greeting).
pub const TLS_MODE_VAR: &str = "QMAILSMTPD_TLS";
/// The HELO/EHLO name for the Received header, carried across the exec in
/// case the TLS handover fails and the session goes on in plain text.
pub const TLS_HELO_VAR: &str = "QMAILSMTPD_HELO";

/// Replaces this process with qmail-smtpd-tls (execv semantics: no $PATH
/// search, the environment inherited, fds 0-2 kept; our own descriptors
/// are close-on-exec). Returns only on failure.
pub fn exec_tls(starttls: bool, helo: Option<&[u8]>) -> io::Error {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStringExt;
    // execve by hand: std's Command would add some 25 KB to this binary.
    let var = |name: &str, value: &[u8]| CString::new([name.as_bytes(), b"=", value].concat()).ok();
    let mut envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != TLS_MODE_VAR && k != TLS_HELO_VAR)
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    if starttls {
        envp.extend(var(TLS_MODE_VAR, b"starttls"));
    }
    if let Some(helo) = helo {
        envp.extend(var(TLS_HELO_VAR, helo));
    }
    let path = CString::new(TLS_PROGRAM).expect("no NUL");
    match nix::unistd::execve(&path, &[&path], &envp) {
        Ok(never) => match never {},
        Err(e) => e.into(),
    }
}

/// The plain server's STARTTLS: exec qmail-smtpd-tls.
fn starttls_by_exec(session: &Session) -> io::Error {
    exec_tls(true, session.helo_name())
}

/// Seconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the session over fds 0 and 1 until it ends; returns the exit status.
pub fn run(session: &mut Session, client: &Client, queue_program: &Program) -> i32 {
    session.greet();
    run_over(session, &mut &*client, queue_program, starttls_by_exec)
}

/// Runs the session over `transport` (greeted already, or not, as the
/// caller needs) until it ends; returns the exit status. `starttls` hands
/// the connection over for STARTTLS and returns only on failure.
pub fn run_over<T: Transport>(
    session: &mut Session,
    transport: &mut T,
    queue_program: &Program,
    starttls: fn(&Session) -> io::Error,
) -> i32 {
    match drive(session, transport, queue_program, starttls) {
        Ok(never) => match never {},
        Err(End::Exit(code)) => code,
    }
}

fn drive<T: Transport>(
    session: &mut Session,
    client: &mut T,
    queue_program: &Program,
    starttls: fn(&Session) -> io::Error,
) -> Result<std::convert::Infallible, End> {
    let mut buf = vec![0u8; READ_START];
    let (mut start, mut end) = (0, 0);
    let mut queue: Option<Queue> = None;
    // timeoutsmtpd bounds the wait for each whole line, as Postfix's
    // smtpd_per_record_deadline does, not each read: a client dripping a
    // byte at a time cannot hold the connection past it. A line is waited
    // for from the moment the reply to the one before is out (or, for a
    // pipelined line, the one before was processed); a client sending
    // whole lines sees no change.
    let mut line_done = true;
    loop {
        let (used, action) = session.handle(&buf[start..end]);
        start += used;
        crate::logger::write(session.logs());
        match action {
            Action::NeedInput => {
                if start < end {
                    // More commands are buffered: write what is pending only
                    // if it has grown large (see OUTPUT_CHUNK).
                    if session.output().len() >= OUTPUT_CHUNK {
                        flush(client, session.output())?;
                    }
                    continue;
                }
                flush(client, session.output())?;
                if line_done {
                    client.line_started();
                }
                start = 0;
                end = match client.read(&mut buf) {
                    // The client vanished: nothing more to say, nothing queued
                    // (a running qmail-queue sees its input end without an
                    // envelope and gives up).
                    Ok(0) => return Err(End::Exit(1)),
                    Ok(n) => {
                        line_done = memchr::memchr(b'\n', &buf[..n]).is_some();
                        if n == buf.len() && n < READ_SIZE {
                            buf.resize(2 * n, 0);
                        }
                        n
                    }
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        log::info!("timeout: no whole line from the client in time");
                        session.output().extend_from_slice(reply::TIMEOUT);
                        let _ = flush(client, session.output());
                        return Err(End::Exit(1));
                    }
                    Err(_) => return Err(End::Exit(1)),
                };
            }
            Action::StartQueue => {
                let started = match Queue::start(queue_program) {
                    Ok(q) => {
                        let pid = q.pid();
                        queue = Some(q);
                        Started::Running(pid)
                    }
                    Err(StartError::Exec(e)) => {
                        log::warn!(
                            "unable to exec {}: {}",
                            queue_program.path.to_string_lossy(),
                            e
                        );
                        Started::ExecFailed
                    }
                    Err(StartError::System(e)) => {
                        log::warn!("unable to start qmail-queue: {e}");
                        Started::Failed
                    }
                };
                session.queue_started(started, now());
            }
            Action::WriteQueue => {
                if let Some(q) = &mut queue {
                    q.write_message(session.queue_buffer());
                }
                session.queue_buffer().clear();
            }
            Action::FinishQueue(envelope) => {
                let (outcome, write_error, custom) = match queue.take() {
                    Some(mut q) => {
                        q.write_message(session.queue_buffer());
                        match q.finish(envelope.as_deref()) {
                            Ok(r) => r,
                            Err(e) => {
                                log::warn!("unable to wait for qmail-queue: {e}");
                                (Outcome::WaitFailed, true, None)
                            }
                        }
                    }
                    None => (Outcome::ExecFailed, true, None),
                };
                session.queue_buffer().clear();
                session.queue_finished(outcome, write_error, custom.as_deref(), now());
            }
            Action::Sleep(secs) => {
                flush(client, session.output())?;
                std::thread::sleep(Duration::from_secs(secs));
            }
            Action::StartTls => {
                flush(client, session.output())?;
                let e = starttls(session);
                log::warn!("unable to exec {TLS_PROGRAM}: {e}");
                session.starttls_failed();
            }
            Action::Exit(code) => {
                // A QUIT whose 221 cannot be written is not a clean end:
                // netqmail's write error exits 1 too.
                flush(client, session.output())?;
                return Err(End::Exit(code));
            }
        }
    }
}

/// Makes sure fds 0, 1 and 2 are open (on /dev/null if they were closed),
/// as Rust's runtime would, so no pipe or file of ours can take one of
/// their numbers and receive replies or log lines by mistake.
pub fn ensure_standard_fds() {
    // open() takes the lowest free number: while that is below 3 it fills a
    // hole and is kept; the first one above is closed again.
    while let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        if null.as_fd().as_raw_fd() >= 3 {
            break;
        }
        std::mem::forget(null);
    }
}

/// Under inetd and xinetd, fd 2 is the client's socket, the very one fd 0
/// is. Log lines must never reach the client, so fd 2 is then pointed at
/// /dev/null.
pub fn protect_stderr() {
    use nix::sys::socket::{SockaddrStorage, getsockname};
    use nix::sys::stat::fstat;
    // Under tcpserver fd 2 is a pipe or a file, which getsockname tells
    // without two fstat calls (glibc's fstat also faults in a page of libc
    // for its "" path, at every connection).
    if getsockname::<SockaddrStorage>(2) == Err(Errno::ENOTSOCK) {
        return;
    }
    let same = match (
        fstat(std::io::stdin().as_fd()),
        fstat(std::io::stderr().as_fd()),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino && is_socket(a.st_mode),
        _ => false,
    };
    if same {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stderr(null.as_fd());
        }
    }
}

fn is_socket(mode: nix::libc::mode_t) -> bool {
    mode & nix::libc::S_IFMT == nix::libc::S_IFSOCK
}
