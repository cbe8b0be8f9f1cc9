//! The one loop that runs a session: it feeds the client's bytes to the
//! sans-IO [`Session`] and carries out the session's actions through three
//! edges, each a trait:
//!
//! - [`Transport`]: the client's byte stream (fds 0 and 1 in
//!   [`crate::io::Client`], TLS over them in qmail-smtpd-tls, a script in
//!   [`crate::fake`]);
//! - [`QmailQueue`]: qmail-queue (the spawned program in [`crate::queue`],
//!   a recorder in tests);
//! - [`Host`]: the clock, sleeping, the log, and the STARTTLS hand-over.
//!
//! Production and tests run this same loop; only the edges differ. Output
//! is flushed only before a read would block (qmail's whole PIPELINING
//! support), or when it has grown large.

use std::io;

use crate::logger::Record;
use crate::queue::{Finished, StartError};
use crate::session::{Action, OUTPUT_CHUNK, Session};

/// Largest read buffer: DATA moves in chunks of this size. 16 KiB keeps
/// system calls rare (some 6,400 reads for 100 MiB) at a quarter of the
/// resident memory a 64 KiB buffer costs every session that sends a message.
pub const READ_SIZE: usize = 16 * 1024;
/// The read buffer starts this small and doubles each time a read fills
/// it, up to READ_SIZE: a command session never needs more, and zeroing
/// (and touching the pages of) a large buffer at start was a quarter of a
/// HELO/QUIT session's instructions.
const READ_START: usize = 1024;

/// The client's byte stream. Timeouts are the transport's: a read that
/// waited too long fails with [`io::ErrorKind::TimedOut`].
pub trait Transport {
    /// Reads some bytes; `Ok(0)` is end of input.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `bytes` (and, over TLS, sends them).
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The client's next line starts now: it must be complete, however it
    /// is sent, within timeoutsmtpd (see [`crate::io::Client`]).
    fn line_started(&mut self);
}

/// qmail-queue, started once per message.
pub trait QmailQueue {
    /// Starts it with the process's environment plus `env` (the variables
    /// a successful AUTH sets; empty otherwise).
    fn start(&mut self, env: &[(Vec<u8>, Vec<u8>)]) -> Result<Box<dyn QueueRun>, StartError>;
}

/// One running qmail-queue.
pub trait QueueRun {
    /// The process id, shown as `qp` in the 250 reply.
    fn pid(&self) -> u32;
    /// Writes message bytes; a failure is remembered, not fatal (the
    /// client's DATA must still be read to stay in sync).
    fn write_message(&mut self, bytes: &[u8]);
    /// Closes the message, writes the envelope (none: the message is
    /// refused, qmail-queue must see a broken envelope and give up) and
    /// waits for the end.
    fn finish(self: Box<Self>, envelope: Option<&[u8]>) -> Finished;
}

/// Everything else outside the session.
pub trait Host {
    /// Seconds since the epoch (the Received header, the 250 reply).
    fn now(&mut self) -> u64;
    /// Pauses (UNKNOWNRCPTDELAY); output is flushed before.
    fn sleep(&mut self, secs: u64);
    /// Writes the session's log records and empties the list.
    fn log(&mut self, records: &mut Vec<Record>);
    /// Hands the connection to qmail-smtpd-tls for STARTTLS, with the
    /// HELO name to carry over. Returns only on failure, saying why.
    fn start_tls(&mut self, helo: Option<&[u8]>) -> io::Error;
}

/// The client could not be written to, or is gone: the session ends with
/// exit status 1 (netqmail's write error exits 1 too).
struct ClientGone;

/// Writes and clears the session's pending replies.
fn flush(t: &mut dyn Transport, out: &mut Vec<u8>) -> Result<(), ClientGone> {
    let r = t.write_all(out);
    out.clear();
    r.map_err(|_| ClientGone)
}

/// Runs `session` (greeted already, or not, as the caller needs) until it
/// ends; returns the exit status.
pub fn run(
    session: &mut Session,
    client: &mut dyn Transport,
    queue: &mut dyn QmailQueue,
    host: &mut dyn Host,
) -> i32 {
    // ClientGone: exit 1, as netqmail's write error.
    drive(session, client, queue, host).unwrap_or(1)
}

fn drive(
    session: &mut Session,
    client: &mut dyn Transport,
    queue: &mut dyn QmailQueue,
    host: &mut dyn Host,
) -> Result<i32, ClientGone> {
    let mut buf = vec![0u8; READ_START];
    let (mut start, mut end) = (0, 0);
    let mut running: Option<Box<dyn QueueRun>> = None;
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
        host.log(session.logs());
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
                    Ok(0) => return Ok(1),
                    Ok(n) => {
                        line_done = memchr::memchr(b'\n', &buf[..n]).is_some();
                        if n == buf.len() && n < READ_SIZE {
                            buf.resize(2 * n, 0);
                        }
                        n
                    }
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        session.handle_timeout();
                        host.log(session.logs());
                        // Said, if the client still listens; the end either way.
                        let _ = flush(client, session.output());
                        return Ok(1);
                    }
                    Err(_) => return Ok(1),
                };
            }
            Action::StartQueue => {
                let started = queue.start(session.queue_env()).map(|run| {
                    let pid = run.pid();
                    running = Some(run);
                    pid
                });
                let now = host.now();
                session.queue_started(started, now);
            }
            Action::WriteQueue => {
                if let Some(run) = &mut running {
                    run.write_message(session.queue_buffer());
                }
                session.queue_buffer().clear();
            }
            Action::FinishQueue(envelope) => {
                let finished = match running.take() {
                    Some(mut run) => {
                        run.write_message(session.queue_buffer());
                        run.finish(envelope.as_deref())
                    }
                    // exec failed: the session answers as qmail does.
                    None => Finished::exec_failed(),
                };
                session.queue_buffer().clear();
                let now = host.now();
                session.queue_finished(finished, now);
            }
            Action::Sleep(secs) => {
                flush(client, session.output())?;
                host.sleep(secs);
            }
            Action::Tarpit(secs) => host.sleep(secs),
            Action::StartTls => {
                flush(client, session.output())?;
                let why = host.start_tls(session.helo_name());
                session.starttls_failed(&why.to_string());
            }
            Action::Exit(code) => {
                // A QUIT whose 221 cannot be written is not a clean end.
                flush(client, session.output())?;
                return Ok(code);
            }
        }
    }
}
