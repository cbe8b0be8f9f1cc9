//! AUTH in the session: when it is offered and accepted, the exchange's
//! lines, the checkpassword answer, and what success changes (relaying,
//! the Received header, qmail-queue's environment). The mechanisms
//! themselves are in [`crate::auth`].

use super::{Action, Phase, Session};
use crate::auth::{self, Mechanism, Step, Verdict};
use crate::reply;

impl Session<'_> {
    /// The EHLO lines offering AUTH, when it is configured, not yet done,
    /// and (unless FORCETLS=0) the session is encrypted.
    pub(super) fn auth_ehlo(&self) -> Option<&'static [u8]> {
        let a = self.setup.auth.as_ref()?;
        (self.setup.cipher.is_some() || a.config.plaintext).then(|| a.config.ehlo_lines())
    }

    /// The user, once AUTH succeeded.
    pub fn auth_user(&self) -> Option<&[u8]> {
        self.auth_user.as_deref()
    }

    /// `AUTH mechanism [initial-response]`, in sagredo's order of checks.
    pub(super) fn auth(&mut self, arg: &[u8]) -> Option<Action> {
        let Some(a) = &self.setup.auth else {
            self.out.extend_from_slice(reply::UNIMPLEMENTED);
            return None;
        };
        let reply = if self.auth_user.is_some() {
            reply::AUTH_ALREADY
        } else if self.seen_mail {
            reply::AUTH_IN_MAIL
        } else if self.setup.cipher.is_none() && !a.config.plaintext {
            reply::AUTH_NEEDS_TLS
        } else {
            let (name, rest) = match memchr::memchr(b' ', arg) {
                Some(sp) => (&arg[..sp], &arg[sp..]),
                None => (arg, &b""[..]),
            };
            let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
            match a.config.mechanism(name) {
                Some(m) => {
                    let host = a
                        .config
                        .hostname
                        .clone()
                        .unwrap_or_else(|| self.setup.local.clone());
                    let pid = self.setup.pid;
                    let Some(a) = &mut self.setup.auth else {
                        unreachable!()
                    };
                    let checker = &mut a.checker;
                    let step = auth::start(m, rest, || auth::challenge(pid, checker.now(), &host));
                    return self.auth_step(step);
                }
                None => reply::AUTH_INVALID,
            }
        };
        if reply == reply::AUTH_NEEDS_TLS {
            self.log(log::Level::Info, || {
                "reject (auth not available without TLS)".to_string()
            });
        }
        self.out.extend_from_slice(reply);
        None
    }

    /// A line of the client's for a pending exchange (its CR removed).
    pub(super) fn auth_line(&mut self, line: &[u8]) -> Option<Action> {
        let pending = self.auth_pending.take().expect("an exchange is pending");
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.auth_step(auth::resume(pending, line))
    }

    fn auth_step(&mut self, step: Step) -> Option<Action> {
        let request = match step {
            Step::Prompt(text, pending) => {
                self.out.extend_from_slice(&text);
                self.auth_pending = Some(pending);
                return None;
            }
            Step::Refuse(text) => {
                self.out.extend_from_slice(text);
                return None;
            }
            Step::Check(request) => request,
        };
        let a = self.setup.auth.as_mut().expect("AUTH configured");
        let ended = a.checker.check(&request);
        let (max, delay) = (a.config.max_failed, a.config.fail_delay);
        let mechanism = request.mechanism;
        let user = request.user;
        let verdict = auth::verdict(&ended);
        match verdict {
            Verdict::Accepted => {
                self.auth_log("auth-success", mechanism, &user, None);
                self.authenticated(mechanism, user);
                self.out.extend_from_slice(reply::AUTH_OK);
                None
            }
            Verdict::Temporary | Verdict::Unstarted => {
                let why = auth::describe(&ended);
                self.auth_log("auth-error", mechanism, &user, Some(&why));
                self.out
                    .extend_from_slice(if verdict == Verdict::Temporary {
                        reply::AUTH_CHILD
                    } else {
                        reply::AUTH_FORK
                    });
                None
            }
            Verdict::Refused => {
                self.auth_failed += 1;
                self.auth_log("auth-failed", mechanism, &user, None);
                if max > 0 && self.auth_failed >= max {
                    self.out.extend_from_slice(reply::AUTH_TOO_MANY);
                    self.phase = Phase::Closed;
                    // No pause: the connection ends at once.
                    return Some(Action::Exit(1));
                }
                self.out.extend_from_slice(reply::AUTH_FAILED);
                // As the patches: the refusal waits (their AUTHSLEEP).
                (delay > 0).then_some(Action::Tarpit(delay))
            }
        }
    }

    /// One line per outcome, always written (as the patches' strerr_warn
    /// lines are), with the client's address (for fail2ban) and the user
    /// (made printable: no log line can be forged), never the password.
    fn auth_log(&mut self, what: &str, m: Mechanism, user: &[u8], why: Option<&str>) {
        let ip = String::from_utf8_lossy(&self.setup.remote_ip);
        let user: String = user
            .iter()
            .map(|&b| {
                if (0x21..0x7f).contains(&b) {
                    b as char
                } else {
                    '?'
                }
            })
            .collect();
        let why = why.map_or(String::new(), |w| format!(" ({w})"));
        let line = format!("auth: {what} ip={ip} type={} user=<{user}>{why}", m.name());
        self.logs
            .push(crate::logger::Record::always(line.into_bytes()));
    }

    /// As sagredo's on success: relaying allowed (RELAYCLIENT empty), the
    /// user as TCPREMOTEINFO (and so in the Received header), and the
    /// variables qmail-queue and its filters are given.
    fn authenticated(&mut self, m: Mechanism, user: Vec<u8>) {
        self.setup.relayclient = Some(Vec::new());
        self.setup.remote_info = Some(user.clone());
        for (k, v) in [
            ("SMTPAUTHMETHOD", m.name().as_bytes()),
            ("TCPREMOTEINFO", &user[..]),
            ("RELAYCLIENT", b""),
            ("SMTPAUTHUSER", &user),
            ("SMTP_AUTH_USER", &user),
        ] {
            self.queue_env.push((k.as_bytes().to_vec(), v.to_vec()));
        }
        self.auth_user = Some(user);
    }

    /// MAIL's AUTH checks: required mode before the address is parsed (as
    /// sagredo's), FORCEAUTHMAILFROM after. False: refused, answered.
    pub(super) fn auth_mail_first(&mut self) -> bool {
        let required = self.setup.auth.as_ref().is_some_and(|a| a.config.required);
        if required && self.auth_user.is_none() {
            self.out.extend_from_slice(reply::AUTH_REQUIRED);
            return false;
        }
        true
    }

    pub(super) fn auth_mail_from(&mut self, addr: &[u8]) -> bool {
        let force = self
            .setup
            .auth
            .as_ref()
            .is_some_and(|a| a.config.force_mail_from);
        match &self.auth_user {
            Some(user) if force && user[..] != *addr => {
                self.out.extend_from_slice(reply::AUTH_MISMATCH);
                false
            }
            _ => true,
        }
    }

    /// Variables for qmail-queue beyond the process's own (set by AUTH).
    pub fn queue_env(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.queue_env
    }
}
