//! SMTP AUTH (RFC 4954) as qmail's AUTH patches do it: which form of
//! invocation is in use ([`Config::from_args`]), the LOGIN, PLAIN and
//! CRAM-MD5 exchanges ([`start`], [`resume`]), strict base64, and what the
//! checkpassword program is told on fd 3 ([`Request::fd3`]). Pure: the
//! program is run through [`Checker`] ([`spawn`] in production).
//!
//! The two published forms (see qmail-smtpd(8), SMTP AUTH):
//! - Krzysztof Dabrowski's qmail-smtpd-auth: `qmail-smtpd HOSTNAME
//!   CHECKPROGRAM SUBPROGRAM...`; LOGIN, PLAIN and CRAM-MD5, the CRAM
//!   challenge made with HOSTNAME. As John Simpson's combined patch, it
//!   needs all three (more than three words of argv).
//! - Erwin Hoffmann's (fehcom's qmail-authentication, in sagredo's qmail):
//!   `qmail-smtpd CHECKPROGRAM SUBPROGRAM...`, on only when `$SMTPAUTH` is
//!   set (the variable exists only in this form, which is how the two are
//!   told apart); its value picks the mechanisms and the required mode.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::rcptcheck::Ended;
use crate::reply;

pub mod spawn;

/// Failed attempts per connection before 421 (`MAXAUTHFAILED`): the
/// patches have no limit, only their 5 second pause.
pub const DEFAULT_MAX_FAILED: u32 = 3;
/// The patches' pause after a refused password (AUTHSLEEP), in seconds.
pub const DEFAULT_FAIL_DELAY: u64 = 5;

/// Which published form of invocation the arguments are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Dabrowski,
    Hoffmann,
}

/// AUTH as the administrator configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub form: Form,
    /// Dabrowski's HOSTNAME (the CRAM-MD5 challenge's domain); Hoffmann's
    /// form uses the local host name ($TCPLOCALHOST), as sagredo's does.
    pub hostname: Option<Vec<u8>>,
    /// CHECKPROGRAM and its arguments (SUBPROGRAM...), run as execvp does.
    pub program: Vec<Vec<u8>>,
    /// LOGIN and PLAIN offered.
    pub login_plain: bool,
    pub cram: bool,
    /// `!`: MAIL is refused (530) until AUTH succeeded.
    pub required: bool,
    /// `FORCETLS=0`: AUTH offered and accepted without TLS too.
    pub plaintext: bool,
    /// `FORCEAUTHMAILFROM=1`: MAIL FROM must be the authenticated user.
    pub force_mail_from: bool,
    /// `MAXAUTHFAILED`: the attempt refused this many times is answered
    /// 421 and the connection closed; 0 is no limit.
    pub max_failed: u32,
    /// `AUTHFAILDELAY`: seconds before a refusal is answered.
    pub fail_delay: u64,
}

impl Config {
    /// The configuration from argv (without argv\[0\]) and the
    /// environment; `None` is AUTH off (no arguments, `SMTPAUTH=-` or
    /// `0`, or too few of them), where everything is as without the
    /// patches.
    pub fn from_args(args: &[Vec<u8>], get: impl Fn(&str) -> Option<Vec<u8>>) -> Option<Config> {
        if args.is_empty() {
            return None;
        }
        let (form, hostname, program, login_plain, cram, required) = match get("SMTPAUTH") {
            Some(value) => {
                let v = value.to_ascii_lowercase();
                // sagredo's setup(): later tests win, as there.
                let (mut lp, mut cram, mut req) = (true, false, false);
                if v == b"-" || v == b"0" {
                    return None;
                }
                if v == b"!" {
                    req = true;
                }
                for (prefix, l, c, r) in [
                    (&b"cram"[..], false, true, false),
                    (b"+cram", true, true, false),
                    (b"!cram", false, true, true),
                    (b"!+cram", true, true, true),
                ] {
                    if v.starts_with(prefix) {
                        (lp, cram, req) = (l, c, r);
                    }
                }
                (Form::Hoffmann, None, args.to_vec(), lp, cram, req)
            }
            None if args.len() >= 3 => (
                Form::Dabrowski,
                Some(args[0].clone()),
                args[1..].to_vec(),
                true,
                true,
                false,
            ),
            None => return None,
        };
        let number = |name: &str| get(name).map(|v| crate::control::scan_ulong(&v).unwrap_or(0));
        Some(Config {
            form,
            hostname,
            program,
            login_plain,
            cram,
            required,
            plaintext: get("FORCETLS").is_some_and(|v| v == b"0"),
            force_mail_from: get("FORCEAUTHMAILFROM").is_some_and(|v| v == b"1"),
            max_failed: number("MAXAUTHFAILED")
                .map_or(DEFAULT_MAX_FAILED, |n| n.min(u64::from(u32::MAX)) as u32),
            fail_delay: number("AUTHFAILDELAY").map_or(DEFAULT_FAIL_DELAY, |n| n.min(3600)),
        })
    }

    /// The EHLO lines that offer AUTH, as each form writes them.
    pub fn ehlo_lines(&self) -> &'static [u8] {
        match (self.form, self.login_plain, self.cram) {
            (Form::Dabrowski, _, _) => reply::EHLO_AUTH_DABROWSKI,
            (_, true, true) => reply::EHLO_AUTH_ALL,
            (_, false, true) => reply::EHLO_AUTH_CRAM,
            _ => reply::EHLO_AUTH,
        }
    }

    /// The mechanism `name` names, when it is offered.
    pub fn mechanism(&self, name: &[u8]) -> Option<Mechanism> {
        let m = [Mechanism::Login, Mechanism::Plain, Mechanism::CramMd5]
            .into_iter()
            .find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))?;
        let on = match m {
            Mechanism::CramMd5 => self.cram,
            _ => self.login_plain,
        };
        on.then_some(m)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Login,
    Plain,
    CramMd5,
}

impl Mechanism {
    /// As the patches name it in their log and in SMTPAUTHMETHOD.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Login => "login",
            Mechanism::Plain => "plain",
            Mechanism::CramMd5 => "cram-md5",
        }
    }
}

/// What checkpassword is asked.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub mechanism: Mechanism,
    pub user: Vec<u8>,
    /// The password, or the CRAM-MD5 digest (hex).
    pub secret: Vec<u8>,
    /// The CRAM-MD5 challenge; empty for LOGIN and PLAIN.
    pub challenge: Vec<u8>,
}

/// Never the password in a debug print.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("mechanism", &self.mechanism)
            .field("user", &String::from_utf8_lossy(&self.user))
            .finish_non_exhaustive()
    }
}

impl Request {
    /// The checkpassword interface's fd 3: user, password (or digest),
    /// timestamp (or challenge), each NUL-terminated; the third is empty
    /// for LOGIN and PLAIN, as Dabrowski's patch sends it.
    pub fn fd3(&self) -> Vec<u8> {
        [
            &self.user[..],
            b"\0",
            &self.secret,
            b"\0",
            &self.challenge,
            b"\0",
        ]
        .concat()
    }
}

/// An exchange waiting for the client's next line.
#[derive(Clone, PartialEq, Eq)]
pub enum Pending {
    LoginUser,
    LoginPassword { user: Vec<u8> },
    Plain,
    Cram { challenge: Vec<u8> },
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Pending::LoginUser => "LoginUser",
            Pending::LoginPassword { .. } => "LoginPassword",
            Pending::Plain => "Plain",
            Pending::Cram { .. } => "Cram",
        })
    }
}

/// The next step of an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this `334` line and wait for the client's answer.
    Prompt(Vec<u8>, Pending),
    /// Ask checkpassword.
    Check(Request),
    /// The exchange is over, answered with this reply.
    Refuse(&'static [u8]),
}

/// Strict base64 (RFC 4648 with padding, nothing else); `=` alone is the
/// empty string (RFC 4954's empty initial response).
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    if text == b"=" {
        return Some(Vec::new());
    }
    STANDARD.decode(text).ok()
}

pub fn encode(bytes: &[u8]) -> Vec<u8> {
    STANDARD.encode(bytes).into_bytes()
}

/// `<pid.time@host>`, the CRAM-MD5 challenge as the patches build it.
pub fn challenge(pid: u32, now: u64, host: &[u8]) -> Vec<u8> {
    [format!("<{pid}.{now}@").as_bytes(), host, b">"].concat()
}

fn prompt(text: &[u8], next: Pending) -> Step {
    Step::Prompt([b"334 ", text, b"\r\n"].concat(), next)
}

/// `AUTH mechanism [initial-response]`; `challenge` is made only for
/// CRAM-MD5.
pub fn start(mechanism: Mechanism, arg: &[u8], challenge: impl FnOnce() -> Vec<u8>) -> Step {
    match mechanism {
        Mechanism::Login if arg.is_empty() => prompt(b"VXNlcm5hbWU6", Pending::LoginUser),
        Mechanism::Login => resume(Pending::LoginUser, arg),
        Mechanism::Plain if arg.is_empty() => prompt(b"", Pending::Plain),
        Mechanism::Plain => resume(Pending::Plain, arg),
        Mechanism::CramMd5 => {
            let challenge = challenge();
            let text = encode(&challenge);
            prompt(&text, Pending::Cram { challenge })
        }
    }
}

/// The client's line (without CR LF) for a pending exchange.
pub fn resume(pending: Pending, line: &[u8]) -> Step {
    if line == b"*" {
        return Step::Refuse(reply::AUTH_CANCELED);
    }
    // As the patches: an empty line, or one that is not base64, is
    // malformed; so is a user or password that comes out empty.
    let Some(data) = (!line.is_empty()).then(|| decode(line)).flatten() else {
        return Step::Refuse(reply::AUTH_MALFORMED);
    };
    let request = match pending {
        Pending::LoginUser => {
            return prompt(b"UGFzc3dvcmQ6", Pending::LoginPassword { user: data });
        }
        Pending::LoginPassword { user } => Request {
            mechanism: Mechanism::Login,
            user,
            secret: data,
            challenge: Vec::new(),
        },
        Pending::Plain => {
            // authzid NUL authcid NUL passwd; the authzid is ignored.
            let mut parts = data.splitn(3, |&b| b == 0);
            let (_, user, pass) = (parts.next(), parts.next(), parts.next());
            Request {
                mechanism: Mechanism::Plain,
                user: user.unwrap_or_default().to_vec(),
                secret: pass.unwrap_or_default().to_vec(),
                challenge: Vec::new(),
            }
        }
        Pending::Cram { challenge } => {
            // `user digest`: the last space splits them.
            let at = data.iter().rposition(|&b| b == b' ').unwrap_or(data.len());
            let digest = data.get(at..).unwrap_or_default();
            let digest = &digest[digest.iter().take_while(|&&b| b == b' ').count()..];
            Request {
                mechanism: Mechanism::CramMd5,
                user: data[..at].to_vec(),
                secret: digest.to_vec(),
                challenge,
            }
        }
    };
    // What C sees of a user or password is up to its first NUL.
    let cut = |v: &[u8]| v[..memchr::memchr(0, v).unwrap_or(v.len())].to_vec();
    let request = Request {
        user: cut(&request.user),
        secret: cut(&request.secret),
        ..request
    };
    if request.user.is_empty() || request.secret.is_empty() {
        return Step::Refuse(reply::AUTH_MALFORMED);
    }
    Step::Check(request)
}

/// What checkpassword's end means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Any exit but 0 and 111: `535`, counted towards MAXAUTHFAILED.
    Refused,
    /// Exit 111 (checkpassword's temporary failure), a crash, a timeout:
    /// `454`, not counted.
    Temporary,
    /// It could not be started or executed: `454`, not counted.
    Unstarted,
}

pub fn verdict(ended: &Ended) -> Verdict {
    match ended {
        Ended::Exited(0) => Verdict::Accepted,
        Ended::Exited(111) | Ended::Signaled(_) | Ended::TimedOut | Ended::WaitFailed(_) => {
            Verdict::Temporary
        }
        Ended::Exited(_) => Verdict::Refused,
        Ended::ExecFailed(_) | Ended::ForkFailed(_) | Ended::SetupFailed(_) => Verdict::Unstarted,
    }
}

/// How checkpassword ended, for the log.
pub fn describe(ended: &Ended) -> String {
    match ended {
        Ended::Exited(code) => format!("checkpassword exited {code}"),
        Ended::Signaled(sig) => format!("checkpassword killed by signal {sig}"),
        Ended::TimedOut => "checkpassword ran past timeoutsmtpd and was killed".to_string(),
        Ended::ExecFailed(e) | Ended::ForkFailed(e) | Ended::SetupFailed(e) => format!(
            "unable to start checkpassword: {}",
            std::io::Error::from_raw_os_error(*e)
        ),
        Ended::WaitFailed(e) => format!(
            "waitpid for checkpassword failed: {}",
            std::io::Error::from_raw_os_error(*e)
        ),
    }
}

/// Runs checkpassword; the clock for the CRAM-MD5 challenge comes from
/// here too, so that the session stays without one.
pub trait Checker {
    fn check(&mut self, request: &Request) -> Ended;
    /// Seconds since the epoch.
    fn now(&mut self) -> u64;
}

/// AUTH's configuration and its program, in the session's set-up.
pub struct Auth {
    pub config: Config,
    pub checker: Box<dyn Checker>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn config(words: &[&str], env: &[(&str, &str)]) -> Option<Config> {
        let env: Vec<(String, Vec<u8>)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        Config::from_args(&args(words), |n| {
            env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn forms_are_told_apart_by_smtpauth() {
        assert_eq!(config(&[], &[("SMTPAUTH", "")]), None);
        let c = config(&["/bin/checkpassword", "/bin/true"], &[("SMTPAUTH", "")]).unwrap();
        assert_eq!(c.form, Form::Hoffmann);
        assert_eq!(c.program, args(&["/bin/checkpassword", "/bin/true"]));
        assert!(c.login_plain && !c.cram && !c.required && !c.plaintext);
        assert_eq!(c.ehlo_lines(), b"250-AUTH LOGIN PLAIN\r\n");
        // Without SMTPAUTH, Hoffmann's form is off (as in sagredo's).
        assert_eq!(config(&["/bin/checkpassword", "/bin/true"], &[]), None);
        let c = config(&["mx.example", "/bin/checkpassword", "/bin/true"], &[]).unwrap();
        assert_eq!(c.form, Form::Dabrowski);
        assert_eq!(c.hostname.as_deref(), Some(&b"mx.example"[..]));
        assert_eq!(c.program, args(&["/bin/checkpassword", "/bin/true"]));
        assert!(c.login_plain && c.cram);
    }

    #[test]
    fn smtpauth_values() {
        let a = ["/c", "/bin/true"];
        let m =
            |v: &str| config(&a, &[("SMTPAUTH", v)]).map(|c| (c.login_plain, c.cram, c.required));
        assert_eq!(m("-"), None);
        assert_eq!(m("0"), None);
        assert_eq!(m(""), Some((true, false, false)));
        assert_eq!(m("!"), Some((true, false, true)));
        assert_eq!(m("cram"), Some((false, true, false)));
        assert_eq!(m("+CRAM"), Some((true, true, false)));
        assert_eq!(m("!cram"), Some((false, true, true)));
        assert_eq!(m("!+cram"), Some((true, true, true)));
        let c = config(
            &a,
            &[
                ("SMTPAUTH", ""),
                ("FORCETLS", "0"),
                ("FORCEAUTHMAILFROM", "1"),
                ("MAXAUTHFAILED", "7"),
                ("AUTHFAILDELAY", "0"),
            ],
        )
        .unwrap();
        assert!(c.plaintext && c.force_mail_from);
        assert_eq!((c.max_failed, c.fail_delay), (7, 0));
        assert_eq!(c.mechanism(b"LOGIN"), Some(Mechanism::Login));
        assert_eq!(c.mechanism(b"cram-md5"), None);
        assert_eq!(c.mechanism(b"XOAUTH2"), None);
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode(b"YWxpY2U="), Some(b"alice".to_vec()));
        assert_eq!(decode(b"="), Some(Vec::new()));
        assert_eq!(decode(b"YWxpY2U"), None);
        assert_eq!(decode(b"!!!!"), None);
        assert_eq!(decode(b"YWxp Y2U="), None);
    }

    fn check(step: Step) -> Request {
        match step {
            Step::Check(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_and_login() {
        let r = check(start(Mechanism::Plain, b"AGFsaWNlAHNlY3JldA==", Vec::new));
        assert_eq!(r.fd3(), b"alice\0secret\0\0");
        assert_eq!(
            start(Mechanism::Plain, b"=", Vec::new),
            Step::Refuse(reply::AUTH_MALFORMED)
        );
        let Step::Prompt(p, pending) = start(Mechanism::Plain, b"", Vec::new) else {
            panic!()
        };
        assert_eq!(p, b"334 \r\n");
        assert_eq!(
            resume(pending.clone(), b"*"),
            Step::Refuse(reply::AUTH_CANCELED)
        );
        assert_eq!(
            resume(pending, b"%%%%"),
            Step::Refuse(reply::AUTH_MALFORMED)
        );
        let Step::Prompt(p, pending) = start(Mechanism::Login, b"", Vec::new) else {
            panic!()
        };
        assert_eq!(p, b"334 VXNlcm5hbWU6\r\n");
        let Step::Prompt(p, pending) = resume(pending, b"YWxpY2U=") else {
            panic!()
        };
        assert_eq!(p, b"334 UGFzc3dvcmQ6\r\n");
        assert_eq!(
            check(resume(pending, b"c2VjcmV0")).fd3(),
            b"alice\0secret\0\0"
        );
    }

    #[test]
    fn cram_sends_user_digest_challenge() {
        let Step::Prompt(p, pending) =
            start(Mechanism::CramMd5, b"", || challenge(12, 34, b"mx.example"))
        else {
            panic!()
        };
        assert_eq!(
            p,
            [&b"334 "[..], &encode(b"<12.34@mx.example>"), b"\r\n"].concat()
        );
        let r = check(resume(pending, &encode(b"alice 0123abcd")));
        assert_eq!(r.fd3(), b"alice\x000123abcd\0<12.34@mx.example>\0");
    }

    #[test]
    fn exits() {
        assert_eq!(verdict(&Ended::Exited(0)), Verdict::Accepted);
        assert_eq!(verdict(&Ended::Exited(1)), Verdict::Refused);
        assert_eq!(verdict(&Ended::Exited(111)), Verdict::Temporary);
        assert_eq!(verdict(&Ended::TimedOut), Verdict::Temporary);
        assert_eq!(verdict(&Ended::ExecFailed(2)), Verdict::Unstarted);
    }
}
