//! A drop-in replacement for netqmail-1.06 `qmail-smtpd` that refuses, at
//! RCPT time, local recipients qmail would later bounce (the "realrcptto"
//! check).
//!
//! The SMTP session is a sans-IO state machine ([`session::Session`]): it is
//! fed the client's bytes, the time and the answers of traits for every
//! outside fact (the recipient check's [`resolve::System`], [`ipme::Ipme`],
//! [`cdb::Lookup`] for morercpthosts.cdb), and emits replies, log records
//! and [`session::Action`]s. [`driver::run`] is the one loop that carries
//! the actions out, through three edges: the client ([`driver::Transport`]),
//! qmail-queue ([`driver::QmailQueue`]) and the rest ([`driver::Host`]).
//! Production runs it over [`io`] and [`queue`]; tests and fuzzing over
//! the in-memory edges of [`fake`].
//!
//! Where the system is touched: start-up ([`server`], [`setup`],
//! [`control`], [`validrcptto::load`]), the client's fds, clock and stderr
//! ([`io`], [`logger`]), qmail-queue ([`queue`]), the RCPTCHECK program
//! ([`rcptcheck::spawn`]), the STARTTLS exec ([`starttls`]), interface
//! addresses ([`ipme`]), cdb files ([`cdb`]), a load balancer's PROXY
//! header ([`proxy::read`]), and for the recipient check
//! [`resolve::system`] (passwd, stat, files, the MySQL helper). Nothing in
//! [`session`], [`data`], [`command`], [`addr`], [`received`], [`tcprules`],
//! [`proxy`] outside [`proxy::read`], or the rest of [`resolve`] opens a
//! file, reads the clock or makes a system call.
//!
//! No `unsafe` code except the global allocator in [`oom`], which answers
//! 421 when memory runs out (an allocator cannot be written without it),
//! one call of getpwnam_r in [`resolve::system`], which must pass a
//! user name's raw bytes, and the environment set from a PROXY header in
//! [`proxy::read`] (std's set_var is unsafe; the process has one thread).
#![deny(unsafe_code)]

pub mod addr;
pub mod auth;
pub mod cdb;
pub mod command;
pub mod control;
pub mod data;
pub mod decision;
pub mod driver;
#[doc(hidden)]
pub mod fake;
pub mod io;
pub mod ipme;
pub mod logger;
pub mod oom;
pub mod proxy;
pub mod queue;
pub mod rcptcheck;
pub mod received;
pub mod reply;
pub mod resolve;
pub mod server;
pub mod session;
pub mod setup;
pub mod starttls;
pub mod tcp_environ;
pub mod tcprules;
#[cfg(test)]
pub(crate) mod testdir;
pub mod validrcptto;
