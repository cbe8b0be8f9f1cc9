//! The real-recipient check (SPEC section 6): would qmail bounce this
//! recipient for lack of a mailbox?
//!
//! The logic is split along the qmail programs it repeats, so each part can be
//! read beside the program it mirrors:
//!
//! | module        | repeats                                   |
//! |---------------|-------------------------------------------|
//! | [`rewrite`]   | qmail-send: envnoathost, percenthack, locals, virtualdomains |
//! | [`users_cdb`] | qmail-lspawn: the users/cdb lookup (`nughde_get`) |
//! | [`getpw`]     | qmail-getpw: system accounts and the `alias` user |
//! | [`qmesearch`] | qmail-local: which `.qmail` file would be used |
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
//! Departures from the realrcptto patch, all deliberate (see each module):
//! - a home directory the check may not look into (EACCES) means "cannot
//!   prove it bounces": accept and log, instead of trying the next user name
//!   and perhaps rejecting through `alias` ([`getpw`]);
//! - any non-"no such user" error from getpwnam is a 421, not only ETXTBSY;
//! - `.qmail` names that would contain `/` after `.qmail` are never looked
//!   at, and ENAMETOOLONG means "does not exist" ([`qmesearch`]);
//! - a NUL byte in an address (only the tool can pass one: the server's
//!   command reader ends a line at a NUL) is looked up as LF;
//! - passwd and stat answers are cached for the session, and users/cdb is
//!   opened once per session instead of once per recipient.

use std::borrow::Cow;
use std::path::PathBuf;

mod cache;
pub mod errstr;
pub mod getpw;
pub mod qmesearch;
pub mod rewrite;
mod step;
pub mod system;
pub mod users_cdb;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use rewrite::Routing;
pub use step::{PwAnswer, QmailAnswer, Show, Step};

/// What the check concluded for one recipient address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// qmail would deliver it, or we cannot prove it would bounce.
    Accept,
    /// qmail would bounce it: no mailbox by that name.
    Unknown,
    /// users/cdb exists but cannot be read: 421, then exit.
    CdbTrouble,
    /// The system user database failed temporarily: 421, then exit.
    SysTrouble,
}

/// The seam between the SMTP session and the recipient check. The session
/// calls it at RCPT step 5 with the address as received (after any
/// RELAYCLIENT suffix).
pub trait RcptCheck {
    fn check(&mut self, addr: &[u8]) -> Verdict;
}

/// The check switched off (NOREALRCPTTO): every recipient is accepted, as
/// plain netqmail does.
pub struct AcceptAll;

impl RcptCheck for AcceptAll {
    fn check(&mut self, _addr: &[u8]) -> Verdict {
        Verdict::Accept
    }
}

/// One entry of the system user database, as much of it as qmail-getpw uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: Vec<u8>,
    pub uid: u32,
    pub dir: Vec<u8>,
}

/// Everything the check asks the operating system. The server uses
/// [`system::RealSystem`]; tests use an in-memory fake that also records what
/// it was asked.
pub trait System {
    /// Ok(None) = no such user; Err = temporary failure of the user database.
    fn getpwnam(&mut self, name: &[u8]) -> std::io::Result<Option<Passwd>>;
    /// The owner uid of PATH (stat, following symlinks); Err carries the errno.
    fn stat_uid(&mut self, path: &[u8]) -> std::io::Result<u32>;
}

/// The real-recipient check for one SMTP session.
///
/// It owns the session's caches: a dictionary attack that repeats user names
/// or `.qmail` paths costs one getpwnam or stat per distinct name, and the
/// caches are bounded so a long session cannot grow them without limit.
pub struct Resolver<S: System> {
    routing: Routing,
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
            sys: cache::Cached::new(sys),
            users: users_cdb::UsersCdb::new(path.into()),
        }
    }

    /// The routing tables the resolver was built with.
    pub fn routing(&self) -> &Routing {
        &self.routing
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

        let Some(local) = rewrite::rewrite(&self.routing, &addr, sink) else {
            return Verdict::Accept;
        };

        let (home, dash, ext) = match self.users.lookup(&local, sink) {
            Err(_) => return Verdict::CdbTrouble,
            Ok(users_cdb::Assignment::Short) => return Verdict::Accept,
            Ok(users_cdb::Assignment::Hit { home, dash, ext }) => (home, dash, ext),
            Ok(users_cdb::Assignment::NotListed) => match getpw::getpw(&mut self.sys, &local, sink)
            {
                getpw::Found::Home { home, dash, ext } => (home, dash, ext),
                getpw::Found::Accept => return Verdict::Accept,
                getpw::Found::Unknown => return Verdict::Unknown,
                getpw::Found::Trouble => return Verdict::SysTrouble,
            },
        };

        qmesearch::qmesearch(&mut self.sys, &home, &dash, &ext, sink)
    }

    /// [`Resolver::explain`] collecting the steps, for the tool and tests.
    pub fn explain_steps(&mut self, addr: &[u8]) -> (Vec<Step>, Verdict) {
        let mut steps = Vec::new();
        let verdict = self.explain(addr, &mut |s| steps.push(s));
        (steps, verdict)
    }
}

impl<S: System> RcptCheck for Resolver<S> {
    /// The server's view: only the log lines leave the resolver.
    fn check(&mut self, addr: &[u8]) -> Verdict {
        self.explain(addr, &mut |step| {
            if let Step::Log(line) = step {
                crate::logger::line(&line);
            }
        })
    }
}
