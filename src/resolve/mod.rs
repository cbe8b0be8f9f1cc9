//! The real-recipient check (SPEC section 6): would qmail bounce this
//! recipient for lack of a mailbox, deliver it, or defer it?
//!
//! The truth is what qmail's own delivery programs do, not what the
//! realrcptto patch approximates. The logic is split along the programs it
//! repeats, so each part can be read beside the program it mirrors:
//!
//! | module        | repeats                                   |
//! |---------------|-------------------------------------------|
//! | [`rewrite`]   | qmail-send: envnoathost, percenthack, locals, virtualdomains |
//! | [`users_cdb`] | qmail-lspawn: the users/cdb lookup (`nughde_get`) |
//! | [`getpw`]     | qmail-getpw: system accounts and the `alias` user |
//! | [`checkhome`] | qmail-lspawn's uid-0 refusal; qmail-local's `chdir` and `checkhome` |
//! | [`qmesearch`] | qmail-local: which `.qmail` file would be used |
//! | [`dotqmail`], [`fastforward`], [`vpopmail`] | what that file runs: bouncesaying, fastforward, vdelivermail |
//! | [`vmysql`]    | vpopmail's vmysql.c: vpopmail.mysql, its queries, and the line protocol of bin/qmail-vpopmail-sql ([`system::sqlhelper`] starts it) |
//!
//! Three answers: accept (qmail delivers, or the check cannot prove it
//! would not), unknown (qmail bounces: 550) and defer (qmail-lspawn or
//! qmail-local would fail temporarily before delivering anything, so qmail
//! retries: the check answers 4xx and the sender retries instead).
//!
//! Everything that touches the operating system (passwd lookups and `stat`)
//! goes through the [`System`] trait, so every branch can be tested with an
//! in-memory fake; [`system::RealSystem`] is the one the server uses. The
//! users/cdb file is read directly: it is a plain file and the tests build
//! real ones.
//!
//! [`Resolver::explain`] is the only implementation of the check: it reports
//! every step it takes to a sink. [`RcptCheck::check`] is `explain` with a
//! sink that only writes the log lines, and the `qmail-realrcptto` tool is
//! `explain` with a sink that prints everything, so the tool and the server
//! cannot disagree.
//!
//! Departures from the realrcptto patch, all deliberate (see each module
//! and qmail-smtpd(8)): qmail's deferrals are 4xx, not 550 or accepted; the
//! delivering user's view of a file (owner, group, mode) decides what
//! qmail-local could open; `.qmail` names containing `/` are looked at, as
//! qmail-local opens them; any non-"no such user" error from getpwnam is a
//! 421; user names are bytes; passwd and stat answers are cached for the
//! session, and users/cdb is opened once per session.

use std::borrow::Cow;

use crate::logger::Record;
use std::path::PathBuf;

pub mod access;
mod cache;
pub mod checkhome;
pub mod dotqmail;
pub mod errstr;
pub mod fastforward;
pub mod getpw;
pub mod qmesearch;
pub mod rewrite;
mod step;
pub mod system;
pub mod users_cdb;
pub mod vmysql;
pub mod vpopmail;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use access::Stat;
pub use rewrite::Routing;
pub use step::{Deferral, PwAnswer, QmailAnswer, Show, Step};

/// What the check concluded for one recipient address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// qmail would deliver it, or we cannot prove it would not.
    Accept,
    /// qmail would bounce it: no mailbox by that name.
    Unknown,
    /// qmail would defer it (a temporary failure before any delivery):
    /// 4xx for this recipient, with the reason logged.
    Defer(Deferral),
    /// users/cdb exists but cannot be read: 421, then exit.
    CdbTrouble,
    /// The system user database failed temporarily: 421, then exit.
    SysTrouble,
}

/// The seam between the SMTP session and the recipient check. The session
/// calls it at RCPT step 5 with the address as received (after any
/// RELAYCLIENT suffix).
pub trait RcptCheck {
    /// The verdict, and the log lines the check wants written, appended to
    /// `log` (the session hands them to the driver).
    fn check(&mut self, addr: &[u8], log: &mut Vec<Record>) -> Verdict;

    /// [`RcptCheck::check`], telling `trace` which rule decided (for the
    /// RCPTLOG decision line). A check that cannot say leaves it alone.
    fn check_traced(
        &mut self,
        addr: &[u8],
        log: &mut Vec<Record>,
        _trace: &mut crate::decision::Trace,
    ) -> Verdict {
        self.check(addr, log)
    }
}

/// The check switched off (NOREALRCPTTO): every recipient is accepted, as
/// plain netqmail does.
pub struct AcceptAll;

impl RcptCheck for AcceptAll {
    fn check_traced(
        &mut self,
        _addr: &[u8],
        _log: &mut Vec<Record>,
        trace: &mut crate::decision::Trace,
    ) -> Verdict {
        trace.decided_by(crate::decision::Rule::Norealrcptto);
        Verdict::Accept
    }
    fn check(&mut self, _addr: &[u8], _log: &mut Vec<Record>) -> Verdict {
        Verdict::Accept
    }
}

/// One entry of the system user database, as much of it as qmail-getpw uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub dir: Vec<u8>,
}

/// What qmail-lspawn hands to qmail-local: the user, the uid and gid it
/// runs as, the home directory, and the dash and extension that choose the
/// `.qmail` file. From a users/cdb record or from qmail-getpw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub user: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub home: Vec<u8>,
    pub dash: Vec<u8>,
    pub ext: Vec<u8>,
    /// qmail-local's `local` and `host` arguments (`$LOCAL`, `$HOST`; with
    /// them `$RECIPIENT` is `local@host`): the rewritten address split at
    /// its last `@`. Filled in after users/cdb or qmail-getpw.
    pub local: Vec<u8>,
    pub host: Vec<u8>,
}

/// Switches of the check, from the environment.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read the `.qmail` file qmail-local would use and refuse what it
    /// provably bounces (off: `NODOTQMAIL`).
    pub dotqmail: bool,
    /// When a database such a file points to cannot be read (a
    /// vpasswd.cdb, a fastforward cdb): accept instead of answering 451
    /// (`DOTQMAILFAIL=accept`).
    pub fail_accept: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dotqmail: true,
            fail_accept: false,
        }
    }
}

/// Everything the check asks the operating system. The server uses
/// [`system::RealSystem`]; tests use an in-memory fake that also records what
/// it was asked.
pub trait System {
    /// Ok(None) = no such user; Err = temporary failure of the user
    /// database. The name is bytes: qmail passes 8-bit names through.
    fn getpwnam(&mut self, name: &[u8]) -> std::io::Result<Option<Passwd>>;
    /// stat(2) of PATH, following symbolic links as open(2) and chdir(2)
    /// do; Err carries the errno.
    fn stat(&mut self, path: &[u8]) -> std::io::Result<Stat>;
    /// The contents of the file PATH if it holds at most `max` bytes;
    /// Ok(None) when it is longer (read no further).
    fn read_small(&mut self, path: &[u8], max: usize) -> std::io::Result<Option<Vec<u8>>>;
    /// The data of the first record with KEY in the cdb file PATH;
    /// Ok(None) when there is none. A missing file is Err(NotFound).
    fn cdb_get(&mut self, path: &[u8], key: &[u8]) -> std::io::Result<Option<Vec<u8>>>;
    /// A question to vpopmail's MySQL database, whose settings are in the
    /// file CONF (vpopmail.mysql). Err: it could not be asked (down, slow,
    /// denied); never taken for "no".
    fn vpopmail_sql(&mut self, conf: &[u8], q: &SqlQuestion) -> std::io::Result<SqlAnswer>;
}

/// What vdelivermail asks vpopmail's MySQL backend (vmysql.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlQuestion<'a> {
    /// `select valias_line from valias where alias = ? and domain = ?`:
    /// is there a row?
    Valias { alias: &'a [u8], domain: &'a [u8] },
    /// `select pw_gid from vpopmail where pw_name = ? and pw_domain = ?`
    /// (with `many_domains` false, vpopmail's --disable-many-domains: from
    /// the domain's own table, its name the domain with `.` and `-` made
    /// `_`, and no pw_domain condition).
    User {
        name: &'a [u8],
        domain: &'a [u8],
        many_domains: bool,
    },
}

/// The answer to a [`SqlQuestion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlAnswer {
    Valias(bool),
    /// The user's pw_gid (vpopmail's flags), or no such row.
    User(Option<u32>),
}

/// The real-recipient check for one SMTP session.
///
/// It owns the session's caches: a dictionary attack that repeats user names
/// or `.qmail` paths costs one getpwnam or stat per distinct name, and the
/// caches are bounded so a long session cannot grow them without limit.
pub struct Resolver<S: System> {
    routing: Routing,
    options: Options,
    sys: cache::Cached<S>,
    users: users_cdb::UsersCdb,
}

impl<S: System> Resolver<S> {
    /// A resolver reading `users/cdb` relative to the working directory (the
    /// qmail home), as qmail-lspawn does.
    pub fn new(routing: Routing, sys: S) -> Self {
        Self::with_users_cdb(routing, sys, "users/cdb")
    }

    /// A resolver reading the users database from `path` instead (tests).
    pub fn with_users_cdb(routing: Routing, sys: S, path: impl Into<PathBuf>) -> Self {
        Resolver {
            routing,
            options: Options::default(),
            sys: cache::Cached::new(sys),
            users: users_cdb::UsersCdb::new(path.into()),
        }
    }

    /// The same resolver with these switches.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The system it asks (tests inspect their fake through this).
    pub fn system(&self) -> &S {
        self.sys.inner()
    }

    /// Runs the check on `addr` (as received, after any RELAYCLIENT suffix),
    /// telling `sink` every step, and returns the verdict. [`Step::Log`]
    /// steps are the lines the server writes to its log.
    pub fn explain(&mut self, addr: &[u8], sink: &mut dyn FnMut(Step)) -> Verdict {
        // The command reader already ends a line at a NUL (netqmail's C
        // strings do), so the server never passes one. The tool might: look
        // such an address up as LF, so no NUL can reach getpwnam or stat and
        // cut a name short the way a C string would.
        let addr: Cow<[u8]> = if addr.contains(&0) {
            Cow::Owned(
                addr.iter()
                    .map(|&b| if b == 0 { b'\n' } else { b })
                    .collect(),
            )
        } else {
            Cow::Borrowed(addr)
        };

        let Some((local, host)) = rewrite::rewrite_with_host(&self.routing, &addr, sink) else {
            return Verdict::Accept;
        };
        // qmail-lspawn: "if (!r[0]) _exit(0)": an empty local name is
        // reported delivered without running anything.
        if local.is_empty() {
            sink(Step::EmptyLocal);
            return Verdict::Accept;
        }

        let mut delivery = match self.users.lookup(&mut self.sys, &local, sink) {
            Err(_) => return Verdict::CdbTrouble,
            Ok(users_cdb::Assignment::Short { key }) => {
                return defer(Deferral::ShortRecord { key }, sink);
            }
            Ok(users_cdb::Assignment::Hit(delivery)) => delivery,
            Ok(users_cdb::Assignment::NotListed) => match getpw::getpw(&mut self.sys, &local, sink)
            {
                getpw::Found::User(delivery) => delivery,
                getpw::Found::NoAlias => return defer(Deferral::NoAlias, sink),
                getpw::Found::Unseen => return Verdict::Accept,
                getpw::Found::Trouble => return Verdict::SysTrouble,
            },
        };

        delivery.local = local;
        delivery.host = host;

        if let Some(verdict) = checkhome::checkhome(&mut self.sys, &delivery, sink) {
            return verdict;
        }
        match qmesearch::qmesearch(&mut self.sys, &delivery, sink) {
            qmesearch::Search::Done(verdict) => verdict,
            qmesearch::Search::Found(file) if self.options.dotqmail => {
                dotqmail::decide(&mut self.sys, &delivery, &file, &self.options, sink)
            }
            qmesearch::Search::Found(_) => Verdict::Accept,
        }
    }

    /// [`Resolver::explain`] collecting the steps, for the tool and tests.
    pub fn explain_steps(&mut self, addr: &[u8]) -> (Vec<Step>, Verdict) {
        let mut steps = Vec::new();
        let verdict = self.explain(addr, &mut |s| steps.push(s));
        (steps, verdict)
    }
}

/// Reports a deferral as a step and as the verdict.
fn defer(why: Deferral, sink: &mut dyn FnMut(Step)) -> Verdict {
    sink(Step::Deferred(why.clone()));
    Verdict::Defer(why)
}

impl<S: System> RcptCheck for Resolver<S> {
    /// The server's view: only the log lines leave the resolver.
    fn check(&mut self, addr: &[u8], log: &mut Vec<Record>) -> Verdict {
        self.explain(addr, &mut |step| {
            if let Step::Log(line) = step {
                log.push(Record::always(line));
            }
        })
    }

    fn check_traced(
        &mut self,
        addr: &[u8],
        log: &mut Vec<Record>,
        trace: &mut crate::decision::Trace,
    ) -> Verdict {
        self.explain(addr, &mut |step| {
            trace.observe(&step);
            if let Step::Log(line) = step {
                log.push(Record::always(line));
            }
        })
    }
}
