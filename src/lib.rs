//! A drop-in replacement for netqmail-1.06 `qmail-smtpd` that refuses, at
//! RCPT time, local recipients qmail would later bounce (the "realrcptto"
//! check).
//!
//! The SMTP session is a sans-IO state machine ([`session::Session`]): it is
//! fed bytes and answers with replies and effects. The only code that touches
//! file descriptors is in [`io`] and [`queue`].
//!
//! No `unsafe` code except the global allocator in [`oom`], which answers
//! 421 when memory runs out (an allocator cannot be written without it),
//! and one call of getpwnam_r in [`resolve::system`], which must pass a
//! user name's raw bytes.
#![deny(unsafe_code)]

pub mod addr;
pub mod cdb;
pub mod command;
pub mod control;
pub mod data;
pub mod decision;
pub mod io;
pub mod logger;
pub mod oom;
pub mod queue;
pub mod received;
pub mod reply;
pub mod resolve;
pub mod server;
pub mod session;
pub mod smtpd;
