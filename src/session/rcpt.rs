//! RCPT: every check a recipient goes through, in order, and the one
//! place its answer is given ([`Session::answer`]), which also writes the
//! RCPTLOG decision line.
//!
//! The order: MAIL first; the address syntax; badmailfrom; rcpthosts (or
//! the RELAYCLIENT suffix); MAXRCPT; validrcptto (Simpson's, then
//! sagredo's; not under RELAYCLIENT); RCPTCHECK; the recipient check
//! (realrcptto, done as qmail delivers); then `250 ok` and the tarpit.

use super::{Action, Phase, Session};
use crate::decision::{self, Rule, Trace};
use crate::logger::Record;
use crate::rcptcheck;
use crate::reply;
use crate::resolve::{Deferral, Verdict};
use crate::validrcptto::{SagredoVerdict, SimpsonVerdict};

/// What validrcptto said of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    /// Not listed (or neither form configured): the recipient check decides.
    No,
    /// Simpson's cdb lists it: the recipient check still decides.
    Valid,
    /// sagredo's list accepts it: no recipient check.
    Accepted,
}

/// A recipient's end, when a check stops it: its reply has been given.
/// The action (if any) is for the driver (a pause, the end of the session).
type Stop = Option<Action>;

impl Session<'_> {
    pub(super) fn rcpt(&mut self, arg: &[u8]) -> Option<Action> {
        if !self.seen_mail {
            self.out.extend_from_slice(reply::WANT_MAIL);
            return None;
        }
        let mut addr = match self.parse(arg) {
            Err(action) => return Some(action),
            Ok(None) => {
                self.out.extend_from_slice(reply::SYNTAX);
                return None;
            }
            Ok(Some(addr)) => addr,
        };
        if self.smtputf8 && !crate::addr::utf8_ok(&addr) {
            self.out.extend_from_slice(reply::RECIPIENT_NOT_UTF8);
            return None;
        }
        match self.checks(&mut addr) {
            Ok(rule) => self.take(addr, rule),
            Err(stop) => stop,
        }
    }

    /// The checks, in order; `Ok` is the rule that let the recipient in.
    fn checks(&mut self, addr: &mut Vec<u8>) -> Result<(Rule, Option<Vec<u8>>), Stop> {
        if self.flag_barf {
            self.log_rcpt(addr, "refused: sender in badmailfrom");
            return Err(self.answer(addr, reply::BADMAILFROM, Rule::Badmailfrom, None));
        }
        // The address before any RELAYCLIENT suffix, for RCPTCHECK's
        // RCPTHOSTS.
        let parsed_len = addr.len();
        if let Some(suffix) = &self.setup.relayclient {
            addr.extend_from_slice(suffix);
        } else {
            self.rcpthosts(addr)?;
        }
        if self.rcpt_count >= self.setup.max_rcpt {
            self.log_rcpt(addr, "refused: too many recipients");
            return Err(self.answer(addr, reply::TOO_MANY_RCPTS, Rule::Maxrcpt, None));
        }
        let listed = if self.setup.relayclient.is_none() {
            self.validrcptto(addr)?
        } else {
            Listed::No
        };
        self.rcptcheck(addr, parsed_len, listed != Listed::No)?;
        if listed == Listed::Accepted {
            // The patch skips chkuser for a listed recipient.
            return Ok((Rule::Validrcptto, None));
        }
        // With QMAILRRTDENYALL, once one recipient is unknown the message
        // will be refused at DATA, so the rest need no check.
        if self.setup.deny_all && self.deny_any {
            return Ok((Rule::Denyall, None));
        }
        self.recipient_check(addr)
    }

    /// The recipient is in: into the envelope, `250 ok`, and the tarpit.
    fn take(&mut self, addr: Vec<u8>, (rule, file): (Rule, Option<Vec<u8>>)) -> Option<Action> {
        self.rcpt_to.push(b'T');
        self.rcpt_to.extend_from_slice(&addr);
        self.rcpt_to.push(0);
        self.rcpt_count += 1;
        self.answer(&addr, reply::OK, rule, file.as_deref());
        self.tarpit()
    }

    /// Gives a recipient its reply, and logs the decision line when
    /// RCPTLOG is on. A 421 ends the session: the action says so.
    fn answer(&mut self, addr: &[u8], text: &[u8], rule: Rule, file: Option<&[u8]>) -> Stop {
        self.out.extend_from_slice(text);
        let closing = text.starts_with(b"421");
        if self.setup.rcptlog {
            let verdict = match text.first() {
                Some(b'2') if self.hidden => decision::Verdict::Hidden,
                Some(b'2') => decision::Verdict::Accepted,
                Some(b'5') => decision::Verdict::Refused,
                _ if closing => decision::Verdict::Closed,
                _ => decision::Verdict::Deferred,
            };
            let code = std::str::from_utf8(text.get(..3).unwrap_or_default())
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let line = decision::Decision {
                verdict,
                code,
                rule,
                file,
                pid: self.setup.pid,
                ip: &self.setup.log_ip,
                helo: &self.helo_arg,
                from: &self.mail_from,
                to: addr,
            }
            .record();
            self.logs.push(line);
        }
        self.hidden = false;
        closing.then(|| {
            self.phase = Phase::Closed;
            Action::Exit(1)
        })
    }

    /// A reply that ends the session, for a control that cannot be read.
    fn trouble(&mut self, addr: &[u8], rule: Rule, e: std::io::Error) -> Stop {
        self.log(log::Level::Warn, || format!("unable to read controls: {e}"));
        self.answer(addr, reply::CONTROLS, rule, None)
    }

    /// control/rcpthosts and morercpthosts.cdb, without RELAYCLIENT.
    fn rcpthosts(&mut self, addr: &[u8]) -> Result<(), Stop> {
        match self.setup.rcpthosts.allowed(addr) {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.log_rcpt(addr, "refused: domain not in rcpthosts");
                Err(self.answer(addr, reply::NOGATEWAY, Rule::Rcpthosts, None))
            }
            Err(e) => Err(self.trouble(addr, Rule::Rcpthosts, e)),
        }
    }

    /// John Simpson's validrcptto.cdb, then sagredo's validrcptto.
    fn validrcptto(&mut self, addr: &[u8]) -> Result<Listed, Stop> {
        let mut listed = Listed::No;
        if let Some(simpson) = &mut self.setup.validrcptto.simpson {
            let verdict = simpson.check(addr, &mut self.logs);
            match verdict {
                SimpsonVerdict::Listed => listed = Listed::Valid,
                SimpsonVerdict::Refused | SimpsonVerdict::RefusedHangUp => {
                    self.log_rcpt(addr, "refused: validrcptto");
                    let text = if matches!(verdict, SimpsonVerdict::Refused) {
                        reply::NOT_IN_VALIDRCPTTO
                    } else {
                        reply::TOO_MANY_INVALID
                    };
                    return Err(self.answer(addr, text, Rule::Validrcptto, None));
                }
                SimpsonVerdict::Trouble(e) => return Err(self.trouble(addr, Rule::Validrcptto, e)),
            }
        }
        if let Some(sagredo) = &mut self.setup.validrcptto.sagredo {
            match sagredo.check(addr, &mut self.logs) {
                SagredoVerdict::Accept => return Ok(Listed::Accepted),
                SagredoVerdict::Neutral => {}
                SagredoVerdict::Refused => {
                    self.log_rcpt(addr, "refused: validrcptto");
                    let text = reply::NOT_IN_VALIDRCPTTO;
                    return Err(self.answer(addr, text, Rule::Validrcptto, None));
                }
                SagredoVerdict::Trouble(e) => return Err(self.trouble(addr, Rule::Validrcptto, e)),
            }
        }
        Ok(listed)
    }

    /// $RCPTCHECK, when set and it applies (without RELAYCLIENT, or with
    /// sagredo's RCPTCHECKRELAYCLIENT): the program lets the recipient go
    /// on or refuses it. `parsed_len` is the address's length before the
    /// RELAYCLIENT suffix; `found` says whether validrcptto vouched for it.
    fn rcptcheck(&mut self, addr: &[u8], parsed_len: usize, found: bool) -> Result<(), Stop> {
        let relayclient = self.setup.relayclient.is_some();
        let runs = |(config, _): &(rcptcheck::Config, _)| config.runs(relayclient);
        if !self.setup.rcptcheck.as_ref().is_some_and(runs) {
            return Ok(());
        }
        // RCPTHOSTS: without RELAYCLIENT the domain passed rcpthosts already.
        let rcpt_hosts = if relayclient {
            match self.setup.rcpthosts.allowed(&addr[..parsed_len]) {
                Ok(allowed) => allowed,
                Err(e) => return Err(self.trouble(addr, Rule::Rcpthosts, e)),
            }
        } else {
            true
        };
        let request = rcptcheck::Request {
            sender: &self.mail_from,
            recipient: addr,
            helo: self.fake_helo.as_deref().unwrap_or(&self.setup.remote_host),
            rcpt_found: found,
            rcpt_hosts,
        };
        let (_, checker) = self.setup.rcptcheck.as_mut().expect("checked above");
        let (decision, records) = rcptcheck::check(checker.as_mut(), &request);
        self.logs.extend(records);
        match decision {
            rcptcheck::Decision::Accept | rcptcheck::Decision::Ignore => Ok(()),
            // The session ends exactly when the reply is a 421, which
            // `decide` gives for every closing outcome.
            rcptcheck::Decision::Refuse { reply, close } => {
                debug_assert_eq!(close, reply.starts_with(b"421"));
                Err(self.answer(addr, &reply, Rule::Rcptcheck, None))
            }
        }
    }

    /// The realrcptto check, as qmail delivers. Under QMAILRRTDENYALL an
    /// unknown recipient is taken (the message is refused at DATA).
    fn recipient_check(&mut self, addr: &[u8]) -> Result<(Rule, Option<Vec<u8>>), Stop> {
        let mut trace = Trace::new();
        let verdict = if self.setup.rcptlog {
            self.rcpt_check
                .check_traced(addr, &mut self.logs, &mut trace)
        } else {
            self.rcpt_check.check(addr, &mut self.logs)
        };
        let rule = match trace.rule() {
            // Not local, and relayed because RELAYCLIENT is set.
            Rule::Remote if self.setup.relayclient.is_some() => Rule::Relayclient,
            rule => rule,
        };
        let file = trace.file().map(<[u8]>::to_vec);
        match verdict {
            Verdict::Accept => {
                self.log_rcpt(addr, "accepted");
                Ok((rule, file))
            }
            Verdict::Defer(why) => {
                self.log_deferred(addr, &why);
                Err(self.answer(addr, reply::MAILBOX_DEFERRED, rule, file.as_deref()))
            }
            Verdict::CdbTrouble => Err(self.answer(addr, reply::CDB, rule, None)),
            Verdict::SysTrouble => Err(self.answer(addr, reply::SYSUSERS, rule, None)),
            Verdict::Unknown => {
                self.unknown(addr)?;
                if self.setup.deny_all {
                    // 250 now, 554 at DATA.
                    self.hidden = true;
                    return Ok((rule, file));
                }
                self.log_rcpt(addr, "refused: no mailbox here by that name");
                self.answer(addr, reply::NO_MAILBOX, rule, file.as_deref());
                Err(self.unknown_delay())
            }
        }
    }

    /// Logs an unknown recipient the way log parsers expect, and enforces
    /// the per-connection limit on them.
    fn unknown(&mut self, addr: &[u8]) -> Result<(), Stop> {
        let mut line = format!("realrcptto {} ", self.setup.pid).into_bytes();
        line.extend_from_slice(&self.setup.log_ip);
        line.push(b' ');
        line.extend_from_slice(addr);
        self.logs.push(Record::always(line));
        self.deny_any = true;
        self.unknown_count = self.unknown_count.saturating_add(1);
        if self.setup.max_unknown != 0 && self.unknown_count > self.setup.max_unknown {
            let max = self.setup.max_unknown;
            self.log(log::Level::Info, || {
                format!("closing connection: more than {max} unknown recipients")
            });
            return Err(self.answer(addr, reply::TOO_MANY_UNKNOWN, Rule::Unknownlimit, None));
        }
        Ok(())
    }

    /// `realrcptto-deferred PID REMOTEIP ADDRESS: REASON`: beside the
    /// patch's `realrcptto` line (a refusal), with its own first word so
    /// that counting refusals by `realrcptto ` stays right.
    fn log_deferred(&mut self, addr: &[u8], why: &Deferral) {
        let mut line = format!("realrcptto-deferred {} ", self.setup.pid).into_bytes();
        line.extend_from_slice(&self.setup.log_ip);
        line.push(b' ');
        line.extend_from_slice(addr);
        line.extend_from_slice(b": ");
        line.extend_from_slice(why.to_string().as_bytes());
        self.logs.push(Record::always(line));
    }

    fn unknown_delay(&self) -> Option<Action> {
        (self.setup.unknown_delay > 0).then_some(Action::Sleep(self.setup.unknown_delay))
    }

    /// The tarpit patch: `if (tarpitcount && ++rcptcount >= tarpitcount)`
    /// sleep before the `250 ok`. The count is of recipients accepted in
    /// this transaction (MAIL starts it afresh); refused ones do not count.
    fn tarpit(&self) -> Option<Action> {
        let count = self.setup.tarpit_count;
        let due = count != 0 && self.rcpt_count as i64 >= i64::from(count);
        (due && self.setup.tarpit_delay > 0).then_some(Action::Tarpit(self.setup.tarpit_delay))
    }
}
