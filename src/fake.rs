//! In-memory edges for [`crate::driver`], for tests and fuzzing: a client
//! that sends scripted reads, a qmail-queue that records what it is given,
//! and a host with a fixed clock. All three write into one shared list of
//! [`Event`]s, in the order they happen, so that a test sees which reply
//! answered which command, and what was queued when.
//!
//! Nothing here touches the system; production uses [`crate::io`] and
//! [`crate::queue`] instead.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use crate::driver::{QmailQueue, QueueRun, Transport};
use crate::logger::Record;
use crate::queue::{Finished, Outcome, StartError};

/// One thing that happened at an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client's bytes, as one read returned them.
    Read(Vec<u8>),
    /// Bytes written to the client.
    Write(Vec<u8>),
    /// A message qmail-queue took: the message bytes, and the envelope
    /// (`None`: the session refused the message and sent none).
    Queued {
        message: Vec<u8>,
        envelope: Option<Vec<u8>>,
    },
    /// A log record the host wrote.
    Log(Record),
    /// A pause, in seconds.
    Slept(u64),
    /// qmail-queue was started with these variables beyond the process's
    /// (recorded only when there are any: AUTH).
    QueueEnv(Vec<(Vec<u8>, Vec<u8>)>),
}

/// The shared event list.
pub type Events = Rc<RefCell<Vec<Event>>>;

/// How the scripted client ends once its reads are used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// End of input (the client closed the connection).
    Eof,
    /// The next read times out (timeoutsmtpd passed).
    Timeout,
}

/// A client that sends its reads in order: each [`Transport::read`] returns
/// (at most a buffer's worth of) the next one.
pub struct Client {
    reads: VecDeque<Vec<u8>>,
    end: End,
    events: Events,
}

impl Client {
    pub fn new(reads: impl IntoIterator<Item = Vec<u8>>, end: End, events: &Events) -> Client {
        Client {
            reads: reads.into_iter().filter(|r| !r.is_empty()).collect(),
            end,
            events: events.clone(),
        }
    }
}

impl Transport for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(mut next) = self.reads.pop_front() else {
            return match self.end {
                End::Eof => Ok(0),
                End::Timeout => Err(io::ErrorKind::TimedOut.into()),
            };
        };
        if next.len() > buf.len() {
            let rest = next.split_off(buf.len());
            self.reads.push_front(rest);
        }
        buf[..next.len()].copy_from_slice(&next);
        let n = next.len();
        self.events.borrow_mut().push(Event::Read(next));
        Ok(n)
    }
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.events.borrow_mut().push(Event::Write(bytes.to_vec()));
        }
        Ok(())
    }
    fn line_started(&mut self) {}
}

/// How the recording qmail-queue behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Takes the message and exits with this outcome (and this fd 6 text).
    Ends(Outcome, Option<Vec<u8>>),
    /// Cannot be executed (as exec ENOENT).
    Unexecutable,
    /// Cannot be started at all (as pipe or fork failure).
    Unstartable,
}

/// A qmail-queue that records every message, and behaves as told; each run
/// takes the next behaviour, the last one repeating.
pub struct Queue {
    behaviours: Vec<Behaviour>,
    runs: usize,
    events: Events,
}

impl Queue {
    pub fn new(behaviours: Vec<Behaviour>, events: &Events) -> Queue {
        Queue {
            behaviours,
            runs: 0,
            events: events.clone(),
        }
    }

    /// Every run exits 0.
    pub fn accepting(events: &Events) -> Queue {
        Queue::new(vec![Behaviour::Ends(Outcome::Exited(0), None)], events)
    }
}

/// The pid the recording qmail-queue reports (the `qp` of the 250 reply).
pub const PID: u32 = 4242;

impl QmailQueue for Queue {
    fn start(&mut self, env: &[(Vec<u8>, Vec<u8>)]) -> Result<Box<dyn QueueRun>, StartError> {
        if !env.is_empty() {
            self.events.borrow_mut().push(Event::QueueEnv(env.to_vec()));
        }
        let i = self.runs.min(self.behaviours.len().saturating_sub(1));
        self.runs += 1;
        let behaviour = self
            .behaviours
            .get(i)
            .cloned()
            .unwrap_or(Behaviour::Ends(Outcome::Exited(0), None));
        let (outcome, custom) = match behaviour {
            Behaviour::Ends(outcome, custom) => (outcome, custom),
            Behaviour::Unexecutable => {
                let e = io::Error::from(io::ErrorKind::NotFound);
                return Err(StartError::Exec(io::Error::new(
                    e.kind(),
                    format!("bin/qmail-queue: {e}"),
                )));
            }
            Behaviour::Unstartable => {
                return Err(StartError::System(io::Error::other("fork failed")));
            }
        };
        Ok(Box::new(Run {
            outcome,
            custom,
            message: Vec::new(),
            events: self.events.clone(),
            finished: false,
        }))
    }
}

struct Run {
    outcome: Outcome,
    custom: Option<Vec<u8>>,
    message: Vec<u8>,
    events: Events,
    finished: bool,
}

/// A run dropped unfinished (the session ended mid-message) is what
/// qmail-queue sees when qmail-smtpd exits: the message ends with no
/// envelope, and nothing is queued.
impl Drop for Run {
    fn drop(&mut self) {
        if !self.finished {
            self.events.borrow_mut().push(Event::Queued {
                message: std::mem::take(&mut self.message),
                envelope: None,
            });
        }
    }
}

impl QueueRun for Run {
    fn pid(&self) -> u32 {
        PID
    }
    fn write_message(&mut self, bytes: &[u8]) {
        self.message.extend_from_slice(bytes);
    }
    fn finish(mut self: Box<Self>, envelope: Option<&[u8]>) -> Finished {
        self.finished = true;
        self.events.borrow_mut().push(Event::Queued {
            message: std::mem::take(&mut self.message),
            envelope: envelope.map(<[u8]>::to_vec),
        });
        let custom = self.custom.take();
        Finished {
            write_error: envelope.is_none(),
            custom: custom.filter(|_| self.outcome == Outcome::Exited(82)),
            outcome: self.outcome.clone(),
        }
    }
}

/// A fixed clock, sleeps recorded (not slept), logs recorded, and a
/// STARTTLS hand-over that fails (as with no bin/qmail-smtpd-tls).
pub struct Host {
    pub now: u64,
    events: Events,
}

/// The fake clock's time: 2026-11-29 16:33:46 UTC.
pub const NOW: u64 = 1_795_984_426;

impl Host {
    pub fn new(events: &Events) -> Host {
        Host {
            now: NOW,
            events: events.clone(),
        }
    }
}

impl crate::driver::Host for Host {
    fn now(&mut self) -> u64 {
        self.now
    }
    fn sleep(&mut self, secs: u64) {
        self.events.borrow_mut().push(Event::Slept(secs));
    }
    fn log(&mut self, records: &mut Vec<Record>) {
        let mut events = self.events.borrow_mut();
        events.extend(records.drain(..).map(Event::Log));
    }
    fn start_tls(&mut self, _helo: Option<&[u8]>) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            "unable to exec bin/qmail-smtpd-tls: file does not exist",
        )
    }
}

/// What a session did, gathered from its events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Everything written to the client.
    pub output: Vec<u8>,
    /// Each message qmail-queue was given with an envelope: (message,
    /// envelope).
    pub queued: Vec<(Vec<u8>, Vec<u8>)>,
    /// Runs that got no envelope (the session refused the message).
    pub refused: usize,
    pub logs: Vec<Record>,
}

/// Gathers the events into a [`Summary`].
pub fn summary(events: &[Event]) -> Summary {
    let mut s = Summary::default();
    for e in events {
        match e {
            Event::Write(b) => s.output.extend_from_slice(b),
            Event::Queued {
                message,
                envelope: Some(env),
            } => s.queued.push((message.clone(), env.clone())),
            Event::Queued { envelope: None, .. } => s.refused += 1,
            Event::Log(r) => s.logs.push(r.clone()),
            Event::Read(_) | Event::Slept(_) | Event::QueueEnv(_) => {}
        }
    }
    s
}

/// Runs `session` (greeted) over a scripted client, a recording queue
/// and the fake host; returns the exit status and the events.
pub fn run(
    session: &mut crate::session::Session,
    reads: impl IntoIterator<Item = Vec<u8>>,
    end: End,
    queue: Vec<Behaviour>,
) -> (i32, Vec<Event>) {
    let events = Events::default();
    let mut client = Client::new(reads, end, &events);
    let mut q = Queue::new(queue, &events);
    let mut host = Host::new(&events);
    let code = crate::driver::run(session, &mut client, &mut q, &mut host);
    let events = events.borrow().clone();
    (code, events)
}

/// This host's addresses for tests: 127.0.0.1 and ::1 only.
pub struct Loopback;

impl crate::ipme::Ipme for Loopback {
    fn is_me(&mut self, ip: std::net::IpAddr) -> io::Result<bool> {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        Ok(ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST))
    }
}

/// A set-up for tests and fuzzing: greeting and localiphost `mx.example`,
/// rcpthosts `example.com` and `.sub.example.com`, badmailfrom
/// `@bad.example`, databytes 1000, a client 192.0.2.1 (`client.example`),
/// at most 50 recipients and 20 unknown ones, STARTTLS offered. Callers
/// change what they test.
pub fn setup() -> crate::session::Setup {
    use crate::control::HostSet;
    crate::session::Setup {
        greeting: b"mx.example".to_vec(),
        localiphost: Some(b"mx.example".to_vec()),
        rcpthosts: crate::addr::Rcpthosts::from_hosts(Some(HostSet::new(vec![
            b"example.com".to_vec(),
            b".sub.example.com".to_vec(),
        ]))),
        badmailfrom: HostSet::new(vec![b"@bad.example".to_vec()]),
        databytes: 1000,
        relayclient: None,
        remote_ip: b"192.0.2.1".to_vec(),
        remote_host: b"client.example".to_vec(),
        remote_info: None,
        local: b"mx.example".to_vec(),
        log_ip: Vec::new(),
        pid: 1,
        deny_all: false,
        allow_bare_cr: false,
        max_rcpt: 50,
        max_unknown: 20,
        unknown_delay: 0,
        tarpit_count: 0,
        tarpit_delay: 5,
        validrcptto: Default::default(),
        rcptlog: false,
        rcptcheck: None,
        starttls: true,
        require_tls: false,
        cipher: None,
        auth: None,
    }
}
