//! RCPTCHECK: a program run for each recipient, whose exit code accepts or
//! refuses it.
//!
//! Two published forms, both supported; the source line each behaviour
//! follows is cited where it is implemented:
//!
//! - **notqmail**: Jay Soffian's patch as notqmail carries it (branch
//!   `patches/notqmail/smtpd-rcptcheck`, commit 7c76d11, `qmail-smtpd.c`):
//!   `$RCPTCHECK` is executed (execv, no arguments) after rcpthosts, only
//!   without RELAYCLIENT, with `SENDER` and `RECIPIENT` in its environment;
//!   exit 100 refuses (553), 111 and 120 (or a crash) answer 421 and end the
//!   session, anything else accepts.
//! - **sagredo**: sagredo's qmail (github.com/sagredo-dev/qmail, commit 302f308,
//!   `qmail-smtpd.c`), which extends it: `RCPTCHECKRELAYCLIENT` runs it with
//!   RELAYCLIENT too; `HELO`, `RCPTFOUND`, `RCPTHOSTS` and `USE_FD4` in its
//!   environment; exit 112 accepts ("ignore"), 113 answers `421 you have
//!   exceeded your messaging limits` and ends the session; a reply line the
//!   program writes on fd 4 replaces the reply of 100 and 113.
//!
//! Line numbers cited are those of `qmail-smtpd.c` at these commits. Where
//! the two disagree this module says which it follows. Ours alone: the
//! program's stdin and stdout are /dev/null (both patches leave the
//! client's connection on its fd 0, and notqmail on its fd 1 too), its run
//! is bounded by timeoutsmtpd, and the fd 4 line is sanitized
//! ([`fd4_reply`]).
//!
//! This module is pure: a [`Checker`] runs the program and reports how it
//! ended ([`Outcome`]); [`decide`] turns that into what the session answers.
//! The real checker, which spawns, is [`spawn::Spawner`].

use std::borrow::Cow;

use crate::control;
use crate::logger::Record;
use crate::reply;

pub mod spawn;

/// The configuration, from the environment at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `$RCPTCHECK`, as given: executed without a `$PATH` search, relative
    /// to the qmail home (the working directory). Set and empty is kept:
    /// the exec then fails and every RCPT is answered 421, as in notqmail
    /// (`env_get` is non-null, 7c76d11 qmail-smtpd.c:136, 232, 239).
    pub program: Vec<u8>,
    /// `$RCPTCHECKRELAYCLIENT` (sagredo 442-443): also run when RELAYCLIENT is
    /// set.
    pub with_relayclient: bool,
    /// `$USE_FD4` set (any value): fd 4 is a pipe the program may write a
    /// reply line to, and `USE_FD4=1` is in its environment, as sagredo always
    /// does (1030, 1034). Unset: no fd 4 pipe, as notqmail.
    pub fd4: bool,
}

impl Config {
    /// Reads `RCPTCHECK`, `RCPTCHECKRELAYCLIENT` and `USE_FD4`; `None`
    /// when `RCPTCHECK` is unset (no program runs).
    pub fn from_env(get: impl Fn(&str) -> Option<Vec<u8>>) -> Option<Config> {
        let program = get("RCPTCHECK")?;
        Some(Config {
            program,
            with_relayclient: get("RCPTCHECKRELAYCLIENT").is_some_and(|v| relayclient_flag(&v)),
            fd4: get("USE_FD4").is_some(),
        })
    }

    /// Whether the program runs for a recipient, given whether RELAYCLIENT
    /// is set: notqmail only without it (7c76d11 qmail-smtpd.c:281-289), sagredo
    /// also with it when RCPTCHECKRELAYCLIENT says so (1563).
    pub fn runs(&self, relayclient: bool) -> bool {
        !relayclient || self.with_relayclient
    }
}

/// sagredo 442-443: `scan_ulong` (leading digits, wrapping) stored in an `int`:
/// on when that is non-zero, i.e. when the value's low 32 bits are.
fn relayclient_flag(v: &[u8]) -> bool {
    control::scan_ulong(v).is_some_and(|n| n as u32 != 0)
}

/// One run's input: what the program finds in its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `SENDER`: the MAIL FROM address as parsed (no brackets; empty for
    /// `<>`) (notqmail 237).
    pub sender: &'a [u8],
    /// `RECIPIENT`: this RCPT's address as parsed, after the RELAYCLIENT
    /// suffix when that is set (notqmail 238; sagredo 1028).
    pub recipient: &'a [u8],
    /// `HELO`: the HELO/EHLO argument, or before any, the remote host name
    /// (`$TCPREMOTEHOST` or `unknown`) (sagredo 1029, dohelo at setup).
    pub helo: &'a [u8],
    /// `RCPTFOUND=1`, else unset: an earlier recipient check vouched for
    /// this address (sagredo 1565-1570).
    pub rcpt_found: bool,
    /// `RCPTHOSTS=1`, else unset: the address's domain is in rcpthosts or
    /// morercpthosts.cdb, checked before any RELAYCLIENT suffix (sagredo 1391,
    /// 1571-1576).
    pub rcpt_hosts: bool,
}

/// The variables a run sets or removes; an inherited value of any of them
/// never reaches the program.
pub const VARIABLES: [&str; 6] = [
    "SENDER",
    "RECIPIENT",
    "HELO",
    "RCPTFOUND",
    "RCPTHOSTS",
    "USE_FD4",
];

/// The program's environment, as `NAME=value` entries: `base` (the
/// process environment) without [`VARIABLES`], then the request's. A value
/// ends at its first NUL, as the C string the patches put there would.
pub fn child_env<I>(base: I, req: &Request<'_>, fd4: bool) -> Vec<Vec<u8>>
where
    I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
{
    let mut env: Vec<Vec<u8>> = base
        .into_iter()
        .filter(|(k, _)| !VARIABLES.iter().any(|v| v.as_bytes() == k.as_slice()))
        .map(|(k, v)| entry(&k, &v))
        .collect();
    env.push(entry(b"SENDER", req.sender));
    env.push(entry(b"RECIPIENT", req.recipient));
    env.push(entry(b"HELO", req.helo));
    if req.rcpt_found {
        env.push(entry(b"RCPTFOUND", b"1"));
    }
    if req.rcpt_hosts {
        env.push(entry(b"RCPTHOSTS", b"1"));
    }
    if fd4 {
        env.push(entry(b"USE_FD4", b"1"));
    }
    env
}

fn entry(name: &[u8], value: &[u8]) -> Vec<u8> {
    let value = value.split(|&b| b == 0).next().unwrap_or_default();
    [name, b"=", value].concat()
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code (0-255).
    Exited(i32),
    /// It was killed by this signal (not ours: see `TimedOut`).
    Signaled(i32),
    /// It could not be executed (this errno): the patches' child exits 120.
    ExecFailed(i32),
    /// It could not be started: the fork (spawn) failed with this errno.
    ForkFailed(i32),
    /// The fd 4 pipe or /dev/null could not be opened (this errno).
    SetupFailed(i32),
    /// waitpid failed (this errno): how it ended is unknown.
    WaitFailed(i32),
    /// It ran for timeoutsmtpd seconds and was killed.
    TimedOut,
}

/// What a [`Checker`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ended: Ended,
    /// What it wrote on fd 4: at most [`FD4_MAX`] bytes, empty when fd 4
    /// was not a pipe.
    pub fd4: Vec<u8>,
}

impl Outcome {
    /// An outcome with nothing on fd 4.
    pub fn new(ended: Ended) -> Outcome {
        Outcome {
            ended,
            fd4: Vec::new(),
        }
    }
}

/// Most bytes of fd 4 kept: sagredo's buffer of 1024 less room for CRLF and
/// NUL (1014, 1045). The rest is read and dropped.
pub const FD4_MAX: usize = 1021;

/// Runs the program for one recipient.
pub trait Checker {
    fn run(&mut self, req: &Request) -> Outcome;
}

/// What the session does with a recipient after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on (the recipient is accepted unless a later check refuses it).
    Accept,
    /// sagredo's exit 112, "ignore": go on as for `Accept`; the program did not
    /// vouch for the address (a log difference only, sagredo 1611-1613).
    Ignore,
    /// Send `reply` (a whole line, CRLF included) and do not take the
    /// recipient; when `close`, then end the session (exit 1).
    Refuse {
        reply: Cow<'static, [u8]>,
        close: bool,
    },
}

fn refuse(reply: &'static [u8], close: bool) -> Decision {
    Decision::Refuse {
        reply: Cow::Borrowed(reply),
        close,
    }
}

/// The exit table. notqmail 7c76d11 qmail-smtpd.c:235-249; sagredo 1058-1070 and
/// 1586-1630 for 112, 113 and fd 4.
pub fn decide(outcome: &Outcome) -> Decision {
    let code = match outcome.ended {
        Ended::Exited(code) => code,
        // notqmail 235 die_fork.
        Ended::ForkFailed(_) => return refuse(reply::RCPTCHECK_FORK, true),
        // notqmail 240 (exit 120), 242 (wait_pid -1), 243 (wait_crashed); sagredo
        // 1019 (pipe). Killed for running too long is a crash too.
        Ended::ExecFailed(_)
        | Ended::SetupFailed(_)
        | Ended::WaitFailed(_)
        | Ended::Signaled(_)
        | Ended::TimedOut => return refuse(reply::RCPTCHECK_UNEXECUTED, true),
    };
    match code {
        // notqmail 245 with err_badrcpt's 553 (sagredo says 550: the issue fixes 553).
        100 => custom_or(&outcome.fd4, reply::RCPTCHECK_NO_MAILBOX, false),
        // notqmail 246 die_rcpt; sagredo reads fd 4 first but only logs it.
        111 => refuse(reply::RCPTCHECK_UNVERIFIED, true),
        // sagredo 1062-1063, 1611-1613.
        112 => Decision::Ignore,
        // sagredo 1064-1065, 1615-1620.
        113 => custom_or(&outcome.fd4, reply::RCPTCHECK_OVERLIMIT, true),
        // notqmail 247 die_rcpt2.
        120 => refuse(reply::RCPTCHECK_UNEXECUTED, true),
        // notqmail 249; sagredo 1071: fd 4 is then not answered (1625).
        _ => Decision::Accept,
    }
}

/// sagredo 1586-1600: with an fd 4 text, its line (421 closing) or, not
/// starting with 4xx/5xx, `451 temporary problem`, the session going on;
/// without one, `default`.
fn custom_or(fd4: &[u8], default: &'static [u8], close: bool) -> Decision {
    if fd4_text(fd4).is_none() {
        return refuse(default, close);
    }
    match fd4_reply(fd4) {
        Some(line) => Decision::Refuse {
            close: line.starts_with(b"421"),
            reply: Cow::Owned(line),
        },
        None => refuse(reply::RCPTCHECK_BAD_FD4, false),
    }
}

/// The fd 4 text as sagredo sees it: up to the first NUL (a C string), trailing
/// CRs and LFs removed (1048-1049); `None` when that is empty (1586).
fn fd4_text(raw: &[u8]) -> Option<&[u8]> {
    let s = raw.split(|&b| b == 0).next().unwrap_or_default();
    let end = s
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    (end > 0).then(|| &s[..end])
}

/// Longest reply line sent, CRLF included (RFC 5321 4.5.3.1.5).
pub const REPLY_MAX: usize = 512;

/// The reply line made of an fd 4 text, or `None` when it does not start
/// with a code from 400 to 599 (sagredo 1587-1590: the first three bytes through
/// strtoul, which is that).
///
/// sagredo sends the text as written; here it cannot become more than one
/// reply line, nor an unfinished one: only its first line is used (up to the
/// first CR or LF: a program cannot add reply lines of its own), after the
/// code one optional space or `-` is dropped and a single space put (a
/// `-` would announce a continuation that never comes), bytes outside
/// printable ASCII become `?` (replies are 7-bit; control bytes could
/// upset a client), and the line is cut to [`REPLY_MAX`].
pub fn fd4_reply(raw: &[u8]) -> Option<Vec<u8>> {
    let text = fd4_text(raw)?;
    let line = text
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let code = line.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !(b"400".as_slice()..=b"599").contains(&code) {
        return None;
    }
    let mut rest = &line[3..];
    if let [b' ' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    let mut out = Vec::with_capacity(REPLY_MAX);
    out.extend_from_slice(code);
    if !rest.is_empty() {
        out.push(b' ');
        let room = REPLY_MAX - 2 - out.len();
        out.extend(rest.iter().take(room).map(
            |&b| {
                if (0x20..0x7f).contains(&b) { b } else { b'?' }
            },
        ));
    }
    out.extend_from_slice(b"\r\n");
    Some(out)
}

/// How a run ended, for the log.
fn describe(ended: &Ended) -> String {
    // The C library's text (strerror at run time), as the other log lines
    // give it: nix's own table would be a few hundred relocations more in
    // every connection's start-up.
    let errno = |e: i32| std::io::Error::from_raw_os_error(e);
    match ended {
        Ended::Exited(c) => format!("exit {c}"),
        Ended::Signaled(s) => format!("killed by signal {s}"),
        Ended::ExecFailed(e) => format!("unable to execute: {}", errno(*e)),
        Ended::ForkFailed(e) => format!("unable to start: {}", errno(*e)),
        Ended::SetupFailed(e) => format!("unable to set up fd 4 or /dev/null: {}", errno(*e)),
        Ended::WaitFailed(e) => format!("waitpid failed: {}", errno(*e)),
        Ended::TimedOut => "ran for timeoutsmtpd seconds: killed".to_string(),
    }
}

/// The log lines of one run:
///
/// - `rcptcheck ADDR: fd 4: TEXT` (info) when it wrote on fd 4 (sagredo logs
///   `RCPTCHECK error: TEXT`, 1052); bytes outside printable ASCII shown as
///   `\xNN`;
/// - `rcptcheck ADDR: HOW: WHAT`, where HOW is `exit N`, `killed by signal
///   N`, `unable to execute: ERROR`, ... and WHAT is `accepted`,
///   `ignored` (112), or `refused CODE` / `refused CODE, closing`: debug
///   for an acceptance, warn for a program that did not run to its end,
///   info otherwise.
pub fn log_records(req: &Request<'_>, outcome: &Outcome, decision: &Decision) -> Vec<Record> {
    let mut records = Vec::new();
    let prefix = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"rcptcheck ");
        out.extend_from_slice(req.recipient);
        out.extend_from_slice(b": ");
    };
    if let Some(text) = fd4_text(&outcome.fd4) {
        let mut line = Vec::new();
        prefix(&mut line);
        line.extend_from_slice(b"fd 4: ");
        for &b in text {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                line.push(b);
            } else {
                line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
        }
        records.push(Record {
            level: Some(log::Level::Info),
            line,
        });
    }
    let what = match decision {
        Decision::Accept => "accepted".to_string(),
        Decision::Ignore => "ignored".to_string(),
        Decision::Refuse { reply, close } => format!(
            "refused {}{}",
            String::from_utf8_lossy(reply.get(..3).unwrap_or_default()),
            if *close { ", closing" } else { "" }
        ),
    };
    let level = match (&outcome.ended, decision) {
        (Ended::Exited(c), _) if *c != 120 => match decision {
            Decision::Accept | Decision::Ignore => log::Level::Debug,
            Decision::Refuse { .. } => log::Level::Info,
        },
        _ => log::Level::Warn,
    };
    let mut line = Vec::new();
    prefix(&mut line);
    line.extend_from_slice(format!("{}: {what}", describe(&outcome.ended)).as_bytes());
    records.push(Record {
        level: Some(level),
        line,
    });
    records
}

/// One check: runs the program and returns the decision and its log lines.
pub fn check(checker: &mut dyn Checker, req: &Request<'_>) -> (Decision, Vec<Record>) {
    let outcome = checker.run(req);
    let decision = decide(&outcome);
    let records = log_records(req, &outcome, &decision);
    (decision, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> Outcome {
        Outcome::new(Ended::Exited(code))
    }

    fn with_fd4(code: i32, fd4: &[u8]) -> Outcome {
        Outcome {
            ended: Ended::Exited(code),
            fd4: fd4.to_vec(),
        }
    }

    fn refused(reply: &[u8], close: bool) -> Decision {
        Decision::Refuse {
            reply: Cow::Owned(reply.to_vec()),
            close,
        }
    }

    // notqmail 7c76d11 qmail-smtpd.c:245, 61: 100 -> err_badrcpt (553), the
    // session goes on.
    #[test]
    fn rcptcheck_exit_100_refuses_553() {
        assert_eq!(
            decide(&exited(100)),
            refused(
                b"553 sorry, no mailbox here by that name. (#5.1.1)\r\n",
                false
            )
        );
    }

    // notqmail 246, 48: 111 -> die_rcpt, 421 and exit 1.
    #[test]
    fn rcptcheck_exit_111_is_421_unable_to_verify_and_closes() {
        assert_eq!(
            decide(&exited(111)),
            refused(b"421 unable to verify recipient (#4.3.0)\r\n", true)
        );
        // sagredo 1052 + 1061: fd 4 is logged, not answered.
        assert_eq!(
            decide(&with_fd4(111, b"550 custom\n")),
            refused(reply::RCPTCHECK_UNVERIFIED, true)
        );
    }

    // notqmail 247, 49: 120 -> die_rcpt2; 240: an exec failure is the child's 120.
    #[test]
    fn rcptcheck_exit_120_and_exec_failure_are_421_unable_to_execute() {
        let want = refused(b"421 unable to execute recipient check (#4.3.0)\r\n", true);
        assert_eq!(decide(&exited(120)), want);
        assert_eq!(decide(&Outcome::new(Ended::ExecFailed(2))), want);
        assert_eq!(decide(&with_fd4(120, b"550 x")), want);
    }

    // notqmail 243: wait_crashed -> die_rcpt2; 242: wait_pid -1 -> die_rcpt2.
    // Ours: killed after timeoutsmtpd is a crash; sagredo 1019: no pipe.
    #[test]
    fn rcptcheck_crash_wait_failure_timeout_are_421_unable_to_execute() {
        for ended in [
            Ended::Signaled(9),
            Ended::Signaled(11),
            Ended::WaitFailed(10),
            Ended::TimedOut,
            Ended::SetupFailed(24),
        ] {
            assert_eq!(
                decide(&Outcome::new(ended.clone())),
                refused(reply::RCPTCHECK_UNEXECUTED, true),
                "{ended:?}"
            );
        }
        // fd 4 never counts then (sagredo dies before reading it).
        let o = Outcome {
            ended: Ended::Signaled(15),
            fd4: b"250 ok".to_vec(),
        };
        assert_eq!(decide(&o), refused(reply::RCPTCHECK_UNEXECUTED, true));
    }

    // notqmail 235, 47: fork failure -> die_fork.
    #[test]
    fn rcptcheck_fork_failure_is_421_unable_to_fork() {
        assert_eq!(
            decide(&Outcome::new(Ended::ForkFailed(11))),
            refused(b"421 unable to fork (#4.3.0)\r\n", true)
        );
    }

    // notqmail 249: anything else accepts; its man page (b6bb341):
    // "anything other than 120 (most typically 0)". sagredo 1071 the same,
    // but for 112 and 113.
    #[test]
    fn rcptcheck_other_exits_accept() {
        for code in [0, 1, 2, 99, 101, 110, 114, 119, 121, 255] {
            assert_eq!(decide(&exited(code)), Decision::Accept, "exit {code}");
        }
        // sagredo 1625: fd 4 is answered only for 100 and 113.
        assert_eq!(decide(&with_fd4(0, b"550 no\r\n")), Decision::Accept);
    }

    // sagredo 1062-1063 return 2, 1611-1613 "ignore": accepted.
    #[test]
    fn rcptcheck_exit_112_ignores() {
        assert_eq!(decide(&exited(112)), Decision::Ignore);
        assert_eq!(decide(&with_fd4(112, b"421 bye")), Decision::Ignore);
    }

    // sagredo 1064-1065 return 3, 1615-1620: the 421 and closesession.
    #[test]
    fn rcptcheck_exit_113_is_421_overlimit_and_closes() {
        assert_eq!(
            decide(&exited(113)),
            refused(
                b"421 you have exceeded your messaging limits (#4.3.0)\r\n",
                true
            )
        );
    }

    // sagredo 1586-1598: a 4xx/5xx fd 4 line is the reply; 421 closes (1589),
    // any other code does not, not even after 113.
    #[test]
    fn rcptcheck_fd4_line_replaces_100_and_113() {
        assert_eq!(
            decide(&with_fd4(100, b"550 5.1.1 unknown user\n")),
            refused(b"550 5.1.1 unknown user\r\n", false)
        );
        assert_eq!(
            decide(&with_fd4(100, b"421 go away\r\n")),
            refused(b"421 go away\r\n", true)
        );
        assert_eq!(
            decide(&with_fd4(113, b"452 slow down")),
            refused(b"452 slow down\r\n", false)
        );
        assert_eq!(
            decide(&with_fd4(113, b"421 limit")),
            refused(b"421 limit\r\n", true)
        );
    }

    // sagredo 1591-1594: a code outside 400-599 -> 451 temporary problem, and
    // closesession stays 0 even after 113.
    #[test]
    fn rcptcheck_fd4_without_4xx_5xx_is_451_temporary_problem() {
        for bad in [
            b"250 ok".as_slice(),
            b"399 x",
            b"600 x",
            b"hello",
            b"55",
            b"5a0 x",
            b" 550 x",
            b"+55 x",
            b"\n550 x", // the first line is empty
        ] {
            for code in [100, 113] {
                assert_eq!(
                    decide(&with_fd4(code, bad)),
                    refused(b"451 temporary problem (#4.4.2)\r\n", false),
                    "exit {code}, fd 4 {bad:?}"
                );
            }
        }
    }

    // sagredo 1048-1056, 1586: only CR/LF, or nothing before a NUL, is no text:
    // the standard reply.
    #[test]
    fn rcptcheck_fd4_empty_is_no_text() {
        for empty in [
            b"".as_slice(),
            b"\r\n",
            b"\n\n\r",
            b"\x00550 x",
            b"\r\n\0junk",
        ] {
            assert_eq!(
                decide(&with_fd4(100, empty)),
                refused(reply::RCPTCHECK_NO_MAILBOX, false),
                "{empty:?}"
            );
        }
    }

    // Ours (hostile input): the program cannot add reply lines, leave a
    // continuation open, send control or 8-bit bytes, or exceed 512 bytes.
    #[test]
    fn rcptcheck_fd4_cannot_inject_reply_lines() {
        let r = |raw: &[u8]| fd4_reply(raw).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(r(b"550 no\r\n250 ok\r\n").as_deref(), Some("550 no\r\n"));
        assert_eq!(r(b"550 no\r250 ok").as_deref(), Some("550 no\r\n"));
        assert_eq!(r(b"550 no\n\n250 ok").as_deref(), Some("550 no\r\n"));
        // A continuation line would leave the client waiting.
        assert_eq!(
            r(b"550-first\r\n550 last").as_deref(),
            Some("550 first\r\n")
        );
        // NUL ends the text (sagredo: a C string).
        assert_eq!(r(b"550 a\0\r\n250 ok").as_deref(), Some("550 a\r\n"));
        // Control and 8-bit bytes.
        assert_eq!(
            r(b"550 a\tb\x1b[2J\x7f\xc3\xa9").as_deref(),
            Some("550 a?b?[2J???\r\n")
        );
        // Only the code.
        assert_eq!(r(b"554").as_deref(), Some("554\r\n"));
        assert_eq!(r(b"554 ").as_deref(), Some("554\r\n"));
        // No separator: one is put.
        assert_eq!(r(b"5501 x").as_deref(), Some("550 1 x\r\n"));
        // Overlong: cut to 512 bytes with the CRLF.
        let long = [b"550 ".as_slice(), &[b'x'; 2000]].concat();
        let line = fd4_reply(&long).unwrap();
        assert_eq!(line.len(), REPLY_MAX);
        assert!(line.ends_with(b"xx\r\n"));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    // Whatever fd 4 holds, the reply is one line, CRLF-terminated, printable.
    #[test]
    fn rcptcheck_fd4_reply_is_always_one_clean_line() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let alphabet = b"45059 -\r\n\0\x80\xff\tx";
            let raw: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 60)) as usize + i) % alphabet.len()])
                .collect();
            for code in [100, 113] {
                let d = decide(&with_fd4(code, &raw));
                let Decision::Refuse { reply, .. } = d else {
                    panic!("{raw:?}")
                };
                assert!(reply.ends_with(b"\r\n"), "{raw:?}");
                let body = &reply[..reply.len() - 2];
                assert!(body.iter().all(|b| (0x20..0x7f).contains(b)), "{raw:?}");
                assert!(reply.len() <= REPLY_MAX);
                assert!(matches!(reply[0], b'4' | b'5'));
                assert_ne!(reply.get(3), Some(&b'-'));
            }
        }
    }

    // notqmail 136 (env_get), 232; sagredo 440-443 (scan_ulong into an int).
    #[test]
    fn rcptcheck_config_from_env() {
        let env = |vars: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.as_bytes().to_vec())
            }
        };
        assert_eq!(Config::from_env(env(vec![])), None);
        let c = Config::from_env(env(vec![("RCPTCHECK", "")])).unwrap();
        assert_eq!(c.program, b"");
        assert!(!c.with_relayclient && !c.fd4);
        assert!(c.runs(false) && !c.runs(true));
        for (v, on) in [
            ("1", true),
            ("2", true),
            ("1x", true),
            ("0", false),
            ("", false),
            ("yes", false),
            (" 1", false),
            ("4294967296", false),
            ("4294967297", true),
        ] {
            let vars = vec![("RCPTCHECK", "bin/check"), ("RCPTCHECKRELAYCLIENT", v)];
            let c = Config::from_env(env(vars)).unwrap();
            assert_eq!(c.with_relayclient, on, "RCPTCHECKRELAYCLIENT={v:?}");
            assert_eq!(c.runs(true), on);
            assert!(c.runs(false));
        }
        let c = Config::from_env(env(vec![("RCPTCHECK", "x"), ("USE_FD4", "")])).unwrap();
        assert!(c.fd4);
    }

    // notqmail 237-238; sagredo 1027-1030, 1565-1576.
    #[test]
    fn rcptcheck_child_env() {
        let base = vec![
            (b"PATH".to_vec(), b"/bin".to_vec()),
            (b"SENDER".to_vec(), b"inherited".to_vec()),
            (b"RCPTFOUND".to_vec(), b"1".to_vec()),
            (b"USE_FD4".to_vec(), b"yes".to_vec()),
            (b"RCPTCHECK".to_vec(), b"bin/check".to_vec()),
        ];
        let req = Request {
            sender: b"",
            recipient: b"a@b\0c",
            helo: b"client.example",
            rcpt_found: false,
            rcpt_hosts: true,
        };
        let s = |env: Vec<Vec<u8>>| -> Vec<String> {
            env.into_iter()
                .map(|e| String::from_utf8(e).unwrap())
                .collect()
        };
        assert_eq!(
            s(child_env(base.clone(), &req, false)),
            [
                "PATH=/bin",
                "RCPTCHECK=bin/check",
                "SENDER=",
                "RECIPIENT=a@b",
                "HELO=client.example",
                "RCPTHOSTS=1"
            ]
        );
        let req = Request {
            rcpt_found: true,
            rcpt_hosts: false,
            ..req
        };
        assert_eq!(
            s(child_env(base, &req, true)),
            [
                "PATH=/bin",
                "RCPTCHECK=bin/check",
                "SENDER=",
                "RECIPIENT=a@b",
                "HELO=client.example",
                "RCPTFOUND=1",
                "USE_FD4=1"
            ]
        );
    }

    #[test]
    fn rcptcheck_log_records() {
        let req = Request {
            sender: b"s@x",
            recipient: b"r@y",
            helo: b"h",
            rcpt_found: false,
            rcpt_hosts: true,
        };
        let lines = |o: &Outcome| -> Vec<(Option<log::Level>, String)> {
            log_records(&req, o, &decide(o))
                .into_iter()
                .map(|r| (r.level, String::from_utf8(r.line).unwrap()))
                .collect()
        };
        use log::Level::*;
        assert_eq!(
            lines(&exited(0)),
            [(Some(Debug), "rcptcheck r@y: exit 0: accepted".into())]
        );
        assert_eq!(
            lines(&exited(112)),
            [(Some(Debug), "rcptcheck r@y: exit 112: ignored".into())]
        );
        assert_eq!(
            lines(&exited(100)),
            [(Some(Info), "rcptcheck r@y: exit 100: refused 553".into())]
        );
        assert_eq!(
            lines(&exited(113)),
            [(
                Some(Info),
                "rcptcheck r@y: exit 113: refused 421, closing".into()
            )]
        );
        assert_eq!(
            lines(&with_fd4(100, b"550 a\r\nb\\\xff\n")),
            [
                (
                    Some(Info),
                    "rcptcheck r@y: fd 4: 550 a\\x0d\\x0ab\\x5c\\xff".into()
                ),
                (Some(Info), "rcptcheck r@y: exit 100: refused 550".into())
            ]
        );
        assert_eq!(
            lines(&Outcome::new(Ended::TimedOut)),
            [(
                Some(Warn),
                "rcptcheck r@y: ran for timeoutsmtpd seconds: killed: refused 421, closing".into()
            )]
        );
        assert_eq!(
            lines(&Outcome::new(Ended::ExecFailed(2))),
            [(
                Some(Warn),
                "rcptcheck r@y: unable to execute: No such file or directory (os error 2): refused 421, closing"
                    .into()
            )]
        );
        assert_eq!(lines(&exited(120))[0].0, Some(Warn));
        assert_eq!(lines(&Outcome::new(Ended::Signaled(9)))[0].0, Some(Warn));
    }

    struct Fixed(Outcome, Vec<Vec<u8>>);

    impl Checker for Fixed {
        fn run(&mut self, req: &Request) -> Outcome {
            self.1.push(req.recipient.to_vec());
            self.0.clone()
        }
    }

    #[test]
    fn rcptcheck_check_runs_the_checker_once() {
        let mut c = Fixed(exited(100), Vec::new());
        let req = Request {
            sender: b"",
            recipient: b"r@y",
            helo: b"h",
            rcpt_found: false,
            rcpt_hosts: true,
        };
        let (d, logs) = check(&mut c, &req);
        assert_eq!(d, refused(reply::RCPTCHECK_NO_MAILBOX, false));
        assert_eq!(logs.len(), 1);
        assert_eq!(c.1, [b"r@y".to_vec()]);
    }
}
