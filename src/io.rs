//! The client's fds 0 and 1, and the rest of the real host: reads and
//! writes bounded by timeoutsmtpd, the clock, sleep, stderr for the log,
//! and the standard fds made safe at start. The loop that runs a session
//! over them is [`crate::driver`].

use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::driver::{Host, Transport};
use crate::logger::Record;

/// Client I/O with timeoutsmtpd as the bound on every write and on each
/// whole line read (see [`Client::line_started`]).
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

/// The real host of a session: the system clock, sleep, stderr for the
/// log, and the STARTTLS hand-over this binary does.
pub struct SystemHost {
    /// Hands the connection over for STARTTLS; returns only on failure.
    pub start_tls: fn(Option<&[u8]>) -> io::Error,
}

impl Host for SystemHost {
    fn now(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
    fn sleep(&mut self, secs: u64) {
        std::thread::sleep(Duration::from_secs(secs));
    }
    fn log(&mut self, records: &mut Vec<Record>) {
        crate::logger::write(records);
    }
    fn start_tls(&mut self, helo: Option<&[u8]>) -> io::Error {
        (self.start_tls)(helo)
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
