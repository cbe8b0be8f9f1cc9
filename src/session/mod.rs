//! The SMTP session: a sans-IO state machine.
//!
//! It is fed the client's bytes and answers with replies (in [`Session::output`]),
//! log records (in [`Session::logs`]) and [`Action`]s for the driver
//! ([`crate::driver`]) to carry out: start qmail-queue, write message bytes
//! to it, finish it, sleep, hand over for STARTTLS, exit. Events from
//! outside come in as method calls: qmail-queue started or finished, the
//! client timed out, STARTTLS failed. It never touches a file descriptor,
//! the clock or the environment; everything it needs from the outside comes
//! in through [`Setup`], a trait, or a method argument, so every dialogue
//! can be replayed in a test.

use crate::addr::{self, Rcpthosts};
use crate::command::{self, Verb};
use crate::control::HostSet;
use crate::data::{self, Data};
use crate::ipme::Ipme;
use crate::logger::Record;
use crate::queue::{self, Finished, StartError};
use crate::received::{self, Origin};
use crate::reply;
use crate::resolve::RcptCheck;

mod auth;
mod rcpt;

/// Longest command line we store; longer ones are read to their end and
/// refused (qmail has no limit: a 100 MB line costs it 200 MB).
pub const MAX_LINE: usize = 8192;

/// Replies pending beyond this many bytes are written before more commands
/// are run: a pipelined batch of empty lines is 1 byte each way in, 28
/// bytes each out, and must not grow the buffer without limit.
pub const OUTPUT_CHUNK: usize = 16 * 1024;

/// Flush the queue buffer to qmail-queue beyond this many bytes (the
/// size of the read buffer: one read's worth of message per write).
const QUEUE_CHUNK: usize = 16 * 1024;

/// Everything the session learns from the configuration and the environment
/// once, at start-up.
pub struct Setup {
    /// control/smtpgreeting (or control/me).
    pub greeting: Vec<u8>,
    /// control/localiphost (or control/me), when in effect.
    pub localiphost: Option<Vec<u8>>,
    pub rcpthosts: Rcpthosts,
    pub badmailfrom: HostSet,
    /// control/databytes or $DATABYTES; 0 is unlimited.
    pub databytes: u64,
    /// $RELAYCLIENT.
    pub relayclient: Option<Vec<u8>>,
    pub remote_ip: Vec<u8>,
    pub remote_host: Vec<u8>,
    pub remote_info: Option<Vec<u8>>,
    /// $TCPLOCALHOST, else $TCPLOCALIP, else `unknown`.
    pub local: Vec<u8>,
    /// `${PROTO}REMOTEIP` for the realrcptto log line; empty when unset.
    pub log_ip: Vec<u8>,
    /// Our process id, for the realrcptto log line.
    pub pid: u32,
    /// QMAILRRTDENYALL=1.
    pub deny_all: bool,
    /// ALLOWBARECR: store bare CRs as qmail does instead of refusing.
    pub allow_bare_cr: bool,
    /// Most recipients per message (452 beyond).
    pub max_rcpt: usize,
    /// Most unknown recipients per connection (421 and close at the next);
    /// 0 is no limit.
    pub max_unknown: u32,
    /// Seconds to pause after each unknown recipient.
    pub unknown_delay: u64,
    /// The tarpit patch's control/tarpitcount ($TARPITCOUNT), as its C
    /// `int`: 0 is off; from the count-th accepted recipient of a
    /// transaction on, each `250 ok` waits `tarpit_delay` seconds.
    pub tarpit_count: i32,
    /// control/tarpitdelay ($TARPITDELAY), default 5.
    pub tarpit_delay: u64,
    /// John Simpson's and sagredo's validrcptto, when configured.
    pub validrcptto: crate::validrcptto::Config,
    /// RCPTLOG: one `rcpt-decision` line per recipient (see decision.rs).
    pub rcptlog: bool,
    /// $RCPTCHECK: when it runs, and the program.
    pub rcptcheck: Option<(crate::rcptcheck::Config, Box<dyn crate::rcptcheck::Checker>)>,
    /// Offer STARTTLS: control/servercert.pem exists, DISABLETLS is not
    /// set, and the session is not encrypted yet.
    pub starttls: bool,
    /// REQUIRETLS: MAIL is refused (530) until the session is encrypted.
    pub require_tls: bool,
    /// The session runs over TLS with this cipher suite (OpenSSL's name),
    /// which the Received header records.
    pub cipher: Option<Vec<u8>>,
    /// SMTP AUTH, when configured (argv; see [`crate::auth`]).
    pub auth: Option<crate::auth::Auth>,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Flush the output and read more input.
    NeedInput,
    /// Start qmail-queue and report with [`Session::queue_started`].
    StartQueue,
    /// Write [`Session::queue_buffer`] to qmail-queue, then clear it.
    WriteQueue,
    /// Write the rest of the queue buffer, close the message, write this
    /// envelope (or none: the message is refused and must not be queued),
    /// wait, and report with [`Session::queue_finished`].
    FinishQueue(Option<Vec<u8>>),
    /// Flush the output, then pause this many seconds.
    Sleep(u64),
    /// Pause this many seconds with the output held (the tarpit: the
    /// `250 ok` it delays is written after the pause, as the patch's
    /// buffered reply is).
    Tarpit(u64),
    /// Flush the output and exit with this status.
    Exit(i32),
    /// STARTTLS: flush the output and hand the connection to
    /// qmail-smtpd-tls (which answers `220 ready for tls` and handshakes).
    /// Input already read is dropped with this process: nothing a client
    /// pipelined after STARTTLS may count as sent over TLS. If that fails,
    /// report with [`Session::starttls_failed`].
    StartTls,
}

#[derive(Debug)]
enum Phase {
    Commands,
    /// Between DATA and the driver's report on starting qmail-queue.
    Starting,
    Data {
        data: Data,
        qp: Option<u32>,
    },
    /// Between the end of DATA and the report on qmail-queue's exit.
    Finishing {
        data: Data,
        qp: Option<u32>,
    },
    Closed,
}

pub struct Session<'a> {
    setup: Setup,
    ipme: &'a mut dyn Ipme,
    rcpt_check: &'a mut dyn RcptCheck,
    phase: Phase,
    out: Vec<u8>,
    queue: Vec<u8>,
    /// Partial command line carried over between reads.
    line: Vec<u8>,
    /// The current line passed MAX_LINE: discard up to its LF.
    overlong: bool,
    /// HELO/EHLO name, when it differs from the remote host.
    fake_helo: Option<Vec<u8>>,
    seen_mail: bool,
    mail_from: Vec<u8>,
    /// This transaction's MAIL declared SMTPUTF8 (RFC 6531).
    smtputf8: bool,
    /// The recipients, as qmail-queue's envelope wants them: `T` addr NUL.
    rcpt_to: Vec<u8>,
    rcpt_count: usize,
    flag_barf: bool,
    /// QMAILRRTDENYALL saw an unknown recipient in this transaction.
    deny_any: bool,
    unknown_count: u32,
    /// The last HELO/EHLO argument (kept for the RCPTLOG line only).
    helo_arg: Vec<u8>,
    /// This recipient is unknown but answered 250 (QMAILRRTDENYALL): the
    /// RCPTLOG line says `hidden`.
    hidden: bool,
    /// Log lines decided on and not yet written: the driver writes and
    /// empties [`Session::logs`].
    logs: Vec<Record>,
    /// AUTH succeeded as this user.
    auth_user: Option<Vec<u8>>,
    /// Refused AUTH attempts in this connection.
    auth_failed: u32,
    /// An AUTH exchange waits for the client's next line.
    auth_pending: Option<crate::auth::Pending>,
    /// Variables for qmail-queue beyond the process's (set by AUTH).
    queue_env: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'a> Session<'a> {
    pub fn new(setup: Setup, ipme: &'a mut dyn Ipme, rcpt_check: &'a mut dyn RcptCheck) -> Self {
        Session {
            setup,
            ipme,
            rcpt_check,
            phase: Phase::Commands,
            out: Vec::with_capacity(1024),
            // Allocated at the first DATA (most connections never send
            // one), once: after that no message needs more memory, whatever
            // its size.
            queue: Vec::new(),
            line: Vec::new(),
            overlong: false,
            fake_helo: None,
            seen_mail: false,
            mail_from: Vec::new(),
            smtputf8: false,
            rcpt_to: Vec::new(),
            rcpt_count: 0,
            flag_barf: false,
            deny_any: false,
            unknown_count: 0,
            helo_arg: Vec::new(),
            hidden: false,
            logs: Vec::new(),
            auth_user: None,
            auth_failed: 0,
            auth_pending: None,
            queue_env: Vec::new(),
        }
    }

    /// The `220` greeting.
    pub fn greet(&mut self) {
        self.greeting_line(b"220 ");
        self.out.extend_from_slice(b" ESMTP\r\n");
    }

    fn greeting_line(&mut self, code: &[u8]) {
        self.out.extend_from_slice(code);
        self.out.extend_from_slice(&self.setup.greeting);
    }

    /// Replies not yet written to the client. The driver writes and
    /// clears them.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Log lines not yet written. The driver hands them to its host
    /// ([`crate::driver::Host::log`]: stderr in production, the event list
    /// in tests), which empties the list.
    pub fn logs(&mut self) -> &mut Vec<Record> {
        &mut self.logs
    }

    /// One recipient decision, at debug level (`SMTPD_LOGLEVEL=debug`).
    fn log_rcpt(&mut self, addr: &[u8], decision: &str) {
        self.log(log::Level::Debug, || {
            format!("rcpt {}: {decision}", String::from_utf8_lossy(addr))
        });
    }

    /// A log line at `level`, made only when that level is enabled.
    fn log(&mut self, level: log::Level, text: impl FnOnce() -> String) {
        if Record::wanted(level) {
            self.logs.push(Record {
                level: Some(level),
                line: text().into_bytes(),
            });
        }
    }

    /// Message bytes not yet written to qmail-queue.
    pub fn queue_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.queue
    }

    /// Feeds client bytes. Returns how many were consumed and what to do
    /// next; call again with the rest after carrying the action out.
    pub fn handle(&mut self, input: &[u8]) -> (usize, Action) {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            let (n, action) = match self.phase {
                Phase::Commands => self.handle_commands(rest),
                Phase::Data { .. } => self.handle_data(rest),
                Phase::Closed => return (input.len(), Action::Exit(1)),
                // The driver must report before feeding more.
                Phase::Starting | Phase::Finishing { .. } => return (used, Action::NeedInput),
            };
            used += n;
            if action != Action::NeedInput || self.out.len() >= OUTPUT_CHUNK {
                return (used, action);
            }
        }
        (used, Action::NeedInput)
    }

    /// Consumes command lines from `input` until one needs the outside
    /// world or the input runs out.
    fn handle_commands(&mut self, input: &[u8]) -> (usize, Action) {
        let mut used = 0;
        while let Some(lf) = memchr::memchr(b'\n', &input[used..]) {
            let end = used + lf;
            let chunk = &input[used..end];
            used = end + 1;
            let action = if self.overlong || self.line.len() + chunk.len() > MAX_LINE {
                self.line.clear();
                self.overlong = false;
                // An AUTH exchange ends with it.
                self.auth_pending = None;
                self.out.extend_from_slice(reply::LINE_TOO_LONG);
                None
            } else if self.line.is_empty() {
                self.command(chunk)
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(chunk);
                let action = self.command(&line);
                line.clear();
                self.line = line;
                action
            };
            if let Some(action) = action {
                return (used, action);
            }
            if !matches!(self.phase, Phase::Commands) || self.out.len() >= OUTPUT_CHUNK {
                return (used, Action::NeedInput);
            }
        }
        // A partial line: keep it, unless it is already too long to store.
        let rest = &input[used..];
        if self.overlong || self.line.len() + rest.len() > MAX_LINE {
            self.overlong = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(rest);
        }
        (input.len(), Action::NeedInput)
    }

    /// Runs one command line (without its LF).
    fn command(&mut self, line: &[u8]) -> Option<Action> {
        if self.auth_pending.is_some() {
            return self.auth_line(line);
        }
        let (verb, arg) = command::split(line);
        match verb {
            Verb::Rcpt => return self.rcpt(arg),
            Verb::Mail => return self.mail(arg),
            Verb::Data => return self.data(),
            Verb::Quit => {
                self.greeting_line(b"221 ");
                self.out.extend_from_slice(b"\r\n");
                self.phase = Phase::Closed;
                return Some(Action::Exit(0));
            }
            Verb::Helo => {
                self.greeting_line(b"250 ");
                self.out.extend_from_slice(b"\r\n");
                self.helo(arg);
            }
            Verb::Ehlo => {
                self.greeting_line(b"250-");
                self.out.extend_from_slice(reply::EHLO_PIPELINING);
                self.out.extend_from_slice(reply::EHLO_SMTPUTF8);
                if self.setup.starttls {
                    self.out.extend_from_slice(reply::EHLO_STARTTLS);
                }
                if let Some(lines) = self.auth_ehlo() {
                    self.out.extend_from_slice(lines);
                }
                if self.setup.databytes > 0 {
                    self.out.extend_from_slice(reply::EHLO_SIZE);
                    self.out
                        .extend_from_slice(format!("{}\r\n", self.setup.databytes).as_bytes());
                }
                self.out.extend_from_slice(reply::EHLO_LAST);
                self.helo(arg);
            }
            Verb::Rset => {
                self.seen_mail = false;
                self.out.extend_from_slice(reply::FLUSHED);
            }
            Verb::Help => self.out.extend_from_slice(reply::HELP),
            Verb::Noop => self.out.extend_from_slice(reply::OK),
            Verb::Vrfy => self.out.extend_from_slice(reply::VRFY),
            Verb::Starttls if !self.setup.starttls => {
                self.out.extend_from_slice(reply::UNIMPLEMENTED)
            }
            Verb::Starttls if !arg.is_empty() => self.out.extend_from_slice(reply::TLS_NO_PARAMS),
            Verb::Starttls => return Some(Action::StartTls),
            Verb::Auth => return self.auth(arg),
            Verb::Unknown => self.out.extend_from_slice(reply::UNIMPLEMENTED),
        }
        None
    }

    /// The driver's report that STARTTLS could not be handed over (or
    /// TLS cannot be set up), and why: logged; the client gets 454 and the
    /// plain session goes on as before.
    pub fn starttls_failed(&mut self, why: &str) {
        self.log(log::Level::Warn, || why.to_string());
        self.out.extend_from_slice(reply::TLS_UNAVAILABLE);
    }

    /// The client sent no whole line within timeoutsmtpd: say so (if it
    /// still listens) and end the session.
    pub fn handle_timeout(&mut self) -> Action {
        self.log(log::Level::Info, || {
            "timeout: no whole line from the client in time".to_string()
        });
        self.die(reply::TIMEOUT)
    }

    /// The TLS handshake is done (qmail-smtpd-tls): from now on the
    /// Received header names this cipher suite, STARTTLS is not offered,
    /// and the client starts afresh (RFC 3207: nothing from before counts).
    pub fn tls_started(&mut self, cipher: Vec<u8>) {
        self.setup.cipher = Some(cipher);
        self.setup.starttls = false;
        self.fake_helo = None;
        self.seen_mail = false;
    }

    /// The HELO/EHLO name the Received header will show, if any (carried
    /// across the exec of qmail-smtpd-tls).
    pub fn helo_name(&self) -> Option<&[u8]> {
        self.fake_helo.as_deref()
    }

    /// Restores a HELO/EHLO name given before the exec (see
    /// [`Session::helo_name`]).
    pub fn set_helo_name(&mut self, name: Option<Vec<u8>>) {
        self.fake_helo = name;
    }

    fn helo(&mut self, arg: &[u8]) {
        self.seen_mail = false;
        if self.setup.rcptlog {
            self.helo_arg.clear();
            self.helo_arg.extend_from_slice(arg);
        }
        self.fake_helo = (!arg.eq_ignore_ascii_case(&self.setup.remote_host)).then(|| arg.to_vec());
    }

    fn parse(&mut self, arg: &[u8]) -> Result<Option<Vec<u8>>, Action> {
        addr::parse(arg, self.setup.localiphost.as_deref(), self.ipme).map_err(|_| {
            self.out.extend_from_slice(reply::IPME);
            self.phase = Phase::Closed;
            Action::Exit(1)
        })
    }

    fn mail(&mut self, arg: &[u8]) -> Option<Action> {
        if !self.auth_mail_first() {
            return None;
        }
        let addr = match self.parse(arg) {
            Err(action) => return Some(action),
            Ok(None) => {
                self.out.extend_from_slice(reply::SYNTAX);
                return None;
            }
            Ok(Some(addr)) => addr,
        };
        if self.setup.require_tls && self.setup.cipher.is_none() {
            self.seen_mail = false;
            self.out.extend_from_slice(reply::MUST_STARTTLS);
            return None;
        }
        if !self.auth_mail_from(&addr) {
            return None;
        }
        let params = addr::parameters(arg);
        let smtputf8 = addr::declares_smtputf8(params);
        if smtputf8 && !addr::utf8_ok(&addr) {
            self.seen_mail = false;
            self.out.extend_from_slice(reply::SENDER_NOT_UTF8);
            return None;
        }
        // RFC 1870: a message declared too big is refused now, before it
        // is sent; the MAIL is not accepted.
        if self.setup.databytes > 0
            && addr::declared_size(params).is_some_and(|n| n > self.setup.databytes)
        {
            self.seen_mail = false;
            self.out.extend_from_slice(reply::TOO_BIG);
            self.log(log::Level::Info, || {
                format!(
                    "refused MAIL from {}: declared SIZE over databytes",
                    String::from_utf8_lossy(&addr)
                )
            });
            return None;
        }
        self.deny_any = false;
        self.flag_barf = addr::badmailfrom(&self.setup.badmailfrom, &addr);
        self.seen_mail = true;
        self.smtputf8 = smtputf8;
        self.rcpt_to.clear();
        self.rcpt_count = 0;
        self.mail_from = addr;
        self.out.extend_from_slice(reply::OK);
        None
    }

    /// A reply after which the session ends with exit status 1.
    fn die(&mut self, text: &[u8]) -> Action {
        self.out.extend_from_slice(text);
        self.phase = Phase::Closed;
        Action::Exit(1)
    }

    fn data(&mut self) -> Option<Action> {
        if !self.seen_mail {
            self.out.extend_from_slice(reply::WANT_MAIL);
            return None;
        }
        if self.rcpt_to.is_empty() {
            self.out.extend_from_slice(reply::WANT_RCPT);
            return None;
        }
        if self.setup.deny_all && self.deny_any {
            // The transaction stays open: only a new MAIL resets this.
            self.out.extend_from_slice(reply::NO_MAILBOX_DATA);
            return None;
        }
        self.seen_mail = false;
        self.phase = Phase::Starting;
        Some(Action::StartQueue)
    }

    /// The driver's report on starting qmail-queue: its pid, or why it
    /// could not be started. `now` is the time for the Received header, in
    /// seconds since the epoch.
    pub fn queue_started(&mut self, started: Result<u32, StartError>, now: u64) {
        let qp = match started {
            Ok(pid) => Some(pid),
            // As qmail: the message is read anyway and answered as for
            // qmail-queue's exit 120.
            Err(StartError::Exec(e)) => {
                self.log(log::Level::Warn, || format!("unable to exec {e}"));
                None
            }
            // pipe or fork failed: `451 qqt failure`, at once.
            Err(StartError::System(e)) => {
                self.log(log::Level::Warn, || {
                    format!("unable to start qmail-queue: {e}")
                });
                self.out.extend_from_slice(reply::QQT);
                self.phase = Phase::Commands;
                return;
            }
        };
        self.out.extend_from_slice(reply::GO_AHEAD);
        self.queue.clear();
        self.queue.reserve_exact(QUEUE_CHUNK + 2 * 1024);
        let origin = Origin {
            remote_host: &self.setup.remote_host,
            helo: self.fake_helo.as_deref(),
            remote_info: self.setup.remote_info.as_deref(),
            remote_ip: &self.setup.remote_ip,
            local: &self.setup.local,
            cipher: self.setup.cipher.as_deref(),
            smtputf8: self.smtputf8,
            auth: self.auth_user.is_some(),
        };
        received::header(&mut self.queue, &origin, now);
        let data = Data::new(self.setup.databytes, !self.setup.allow_bare_cr);
        self.phase = Phase::Data { data, qp };
    }

    fn handle_data(&mut self, input: &[u8]) -> (usize, Action) {
        let Phase::Data { data, .. } = &mut self.phase else {
            unreachable!("handle_data outside DATA");
        };
        // The machine never stores more bytes than it consumes, so feeding
        // at most the room left keeps the buffer within its capacity.
        let room = QUEUE_CHUNK.saturating_sub(self.queue.len());
        if room == 0 {
            return (0, Action::WriteQueue);
        }
        let (n, status) = data.feed(&input[..input.len().min(room)], &mut self.queue);
        match status {
            data::Status::StrayNewline => (n, self.die(reply::STRAY_NEWLINE)),
            data::Status::More if self.queue.len() >= QUEUE_CHUNK => (n, Action::WriteQueue),
            data::Status::More => (n, Action::NeedInput),
            data::Status::End => {
                let Phase::Data { data, qp } = std::mem::replace(&mut self.phase, Phase::Closed)
                else {
                    unreachable!()
                };
                let envelope = (!data.failed()).then(|| self.envelope());
                if envelope.is_none() {
                    self.queue.clear();
                }
                self.phase = Phase::Finishing { data, qp };
                (n, Action::FinishQueue(envelope))
            }
        }
    }

    /// qmail-queue's envelope, built in the recipients' own buffer: the
    /// transaction is over (a new MAIL is needed), and with a thousand long
    /// recipients a copy would be another megabyte at the peak.
    fn envelope(&mut self) -> Vec<u8> {
        let mut env = std::mem::take(&mut self.rcpt_to);
        let sender = [&b"F"[..], &self.mail_from, b"\0"].concat();
        env.reserve_exact(sender.len() + 1);
        env.splice(0..0, sender);
        env.push(0);
        env
    }

    /// The driver's report on qmail-queue's end (how it exited, whether
    /// any write to it failed, what it wrote on fd 6), and the time.
    pub fn queue_finished(&mut self, finished: Finished, now: u64) {
        let Phase::Finishing { data, qp } = std::mem::replace(&mut self.phase, Phase::Commands)
        else {
            panic!("queue_finished without a message");
        };
        let finished = if qp.is_none() {
            Finished::exec_failed()
        } else {
            finished
        };
        let write_error = finished.write_error || data.failed();
        match queue::classify(&finished.outcome, write_error, finished.custom.as_deref()) {
            queue::Verdict::Accepted => {
                let qp = qp.unwrap_or(0);
                self.log(log::Level::Info, || format!("message accepted: qp {qp}"));
                self.out
                    .extend_from_slice(format!("250 ok {now} qp {qp}\r\n").as_bytes());
            }
            _ if data.hops() >= data::MAX_HOPS => self.out.extend_from_slice(reply::TOO_MANY_HOPS),
            _ if data.too_big() => self.out.extend_from_slice(reply::TOO_BIG),
            _ if data.bare_cr() && !self.setup.allow_bare_cr => {
                self.out.extend_from_slice(reply::BARE_CR)
            }
            queue::Verdict::Permanent(text) => self.reply_text(b"554 ", &text),
            queue::Verdict::Temporary(text) => self.reply_text(b"451 ", &text),
        }
    }

    fn reply_text(&mut self, code: &[u8], text: &[u8]) {
        self.log(log::Level::Info, || {
            format!(
                "message refused: {}{}",
                String::from_utf8_lossy(code),
                String::from_utf8_lossy(text)
            )
        });
        self.out.extend_from_slice(code);
        self.out.extend_from_slice(text);
        self.out.extend_from_slice(b"\r\n");
    }
}
