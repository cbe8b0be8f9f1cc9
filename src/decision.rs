//! The opt-in decision line: one `key=value` record per RCPT, for fail2ban
//! and statistics (`RCPTLOG`, see [`SWITCH`]).
//!
//! ```text
//! rcpt-decision verdict=refused code=550 rule=alias file="" pid=4242 ip=192.0.2.7 helo="mx.example" from="a@b.example" to="joe@example.com"
//! ```
//!
//! The first word is [`FIRST_WORD`], then always the same nine fields in
//! the same order: `verdict code rule file pid ip helo from to`. It is
//! written beside the `realrcptto` line, which stays as it is.
//!
//! A value is either *bare* or *quoted*:
//! - bare values come from the program only: `verdict` and `rule` (a
//!   lower-case token of a fixed vocabulary, [`Verdict`] and [`Rule`]),
//!   `code` and `pid` (decimal digits), and `ip` when it is a valid IPv4 or
//!   IPv6 address in text form (digits, hex letters, `.` and `:` only);
//! - every value that can hold a client's or a file's byte (`file`,
//!   `helo`, `from`, `to`, and `ip` when it is not a valid address, which
//!   tcpserver never gives) is written between double quotes. Inside,
//!   `"` and `\` are escaped as `\"` and `\\`; space and the printable
//!   ASCII bytes 0x21-0x7e stand for themselves; every other byte (control
//!   bytes with CR, LF, NUL and TAB, DEL, and all 8-bit bytes) is `\xHH`
//!   (lower-case hex).
//!
//! So a line holds only bytes 0x20-0x7e: no client byte can end it or start
//! another, a quoted value never contains a bare `"`, so no `" ip=` inside a
//! value can make a field, and [`unquote`] gives back the exact bytes
//! (8-bit addresses included). An empty value is `""`; `file=""` means no
//! `.qmail` file is involved (a file name is never empty).
//!
//! Pure: the session makes a [`Decision`] and pushes [`Decision::record`]
//! when the switch is on. [`Trace`] turns the recipient check's steps into
//! the rule and the file.

use std::net::IpAddr;

use crate::logger::Record;
use crate::resolve::{Deferral, QmailAnswer, Step};

/// The line's first word. Not `rcpt`: the debug line `rcpt ADDRESS: ...`
/// (SMTPD_LOGLEVEL=debug) already starts with that word, followed by raw
/// client bytes.
pub const FIRST_WORD: &str = "rcpt-decision";

/// The environment variable that turns the line on: set to anything but
/// `0` (as `setup::switch` reads switches).
pub const SWITCH: &str = "RCPTLOG";

/// The field names, in the order of the line.
pub const KEYS: [&str; 9] = [
    "verdict", "code", "rule", "file", "pid", "ip", "helo", "from", "to",
];

/// What the client was told about this recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// 250: the recipient is taken.
    Accepted,
    /// 5xx: refused for good (553 badmailfrom or rcpthosts, 550 unknown).
    Refused,
    /// 4xx, the session goes on (451 qmail would defer it, 452 too many
    /// recipients).
    Deferred,
    /// 421: the session ends after this reply (too many unknown
    /// recipients; users/cdb, the user database or the controls could not
    /// be read).
    Closed,
    /// 250 although the recipient is unknown: QMAILRRTDENYALL=1 hides the
    /// refusal, and DATA will be refused with 554.
    Hidden,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Accepted,
        Verdict::Refused,
        Verdict::Deferred,
        Verdict::Closed,
        Verdict::Hidden,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Refused => "refused",
            Verdict::Deferred => "deferred",
            Verdict::Closed => "closed",
            Verdict::Hidden => "hidden",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Verdict> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.name().as_bytes() == name)
    }
}

/// What decided. A fixed vocabulary of lower-case tokens: the session
/// picks the rule for its own checks, [`Trace`] the one of the recipient
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    // The session's own checks, in the order RCPT runs them.
    /// 553: the envelope sender is in control/badmailfrom.
    Badmailfrom,
    /// 553: the domain is not in control/rcpthosts or morercpthosts.cdb (a
    /// relay attempt); with `closed`, 421: they could not be read.
    Rcpthosts,
    /// 452: more recipients than the limit for one message.
    Maxrcpt,
    /// 250 without a check: an earlier recipient of this message was
    /// unknown under QMAILRRTDENYALL=1, so DATA will be refused anyway.
    Denyall,
    /// 421: this unknown recipient is one more than MAXUNKNOWNRCPT allows.
    Unknownlimit,
    /// 250 without a check: NOREALRCPTTO switched the check off.
    Norealrcptto,
    /// The address is not local and RELAYCLIENT is set: relayed (the
    /// session's name for what [`Trace`] calls `remote`).
    Relayclient,
    /// validrcptto: Simpson's cdb or sagredo's list (refused, or accepted
    /// without the recipient check).
    Validrcptto,
    /// A RCPTCHECK program.
    Rcptcheck,
    // The recipient check's stages (see resolve): where qmail's delivery
    // would be decided.
    /// The domain is not local (not in control/locals or virtualdomains,
    /// or a virtualdomains exception): qmail delivers it remotely.
    Remote,
    /// The local name is empty: qmail-lspawn reports success.
    Emptylocal,
    /// A users/cdb record (qmail-users), without a `.qmail` file that
    /// decides; also a record too short (451) or users/cdb unreadable (421).
    UsersCdb,
    /// A system account (qmail-getpw), without a `.qmail` file that
    /// decides: e.g. `joe-ext` where joe has no `.qmail-ext` or
    /// `.qmail-default`; 421 when the user database failed.
    Passwd,
    /// No account matched: the `alias` user, which has no `.qmail` file
    /// for the name (the usual unknown recipient); 451 when there is no
    /// alias user.
    Alias,
    /// The `.qmail` file in `file` decided: bouncesaying, its lines, its
    /// permissions.
    Dotqmail,
    /// vdelivermail (vpopmail), run from the `.qmail` file in `file`.
    Vpopmail,
    /// fastforward, run from the `.qmail` file in `file`.
    Fastforward,
}

impl Rule {
    pub const ALL: [Rule; 17] = [
        Rule::Badmailfrom,
        Rule::Rcpthosts,
        Rule::Maxrcpt,
        Rule::Denyall,
        Rule::Unknownlimit,
        Rule::Norealrcptto,
        Rule::Relayclient,
        Rule::Validrcptto,
        Rule::Rcptcheck,
        Rule::Remote,
        Rule::Emptylocal,
        Rule::UsersCdb,
        Rule::Passwd,
        Rule::Alias,
        Rule::Dotqmail,
        Rule::Vpopmail,
        Rule::Fastforward,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Badmailfrom => "badmailfrom",
            Rule::Rcpthosts => "rcpthosts",
            Rule::Maxrcpt => "maxrcpt",
            Rule::Denyall => "denyall",
            Rule::Unknownlimit => "unknownlimit",
            Rule::Norealrcptto => "norealrcptto",
            Rule::Relayclient => "relayclient",
            Rule::Validrcptto => "validrcptto",
            Rule::Rcptcheck => "rcptcheck",
            Rule::Remote => "remote",
            Rule::Emptylocal => "emptylocal",
            Rule::UsersCdb => "users/cdb",
            Rule::Passwd => "passwd",
            Rule::Alias => "alias",
            Rule::Dotqmail => "dotqmail",
            Rule::Vpopmail => "vpopmail",
            Rule::Fastforward => "fastforward",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name().as_bytes() == name)
    }
}

/// One RCPT's decision, as the session knows it. The byte slices are as
/// received or found: the line quotes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub verdict: Verdict,
    /// The reply code sent (250, 421, 451, 452, 550, 553).
    pub code: u16,
    pub rule: Rule,
    /// The `.qmail` file that decided, as the check names it (its path);
    /// `None`: none.
    pub file: Option<&'a [u8]>,
    /// Our process id, as in the realrcptto line.
    pub pid: u32,
    /// `${PROTO}REMOTEIP` (empty when unset), as in the realrcptto line.
    pub ip: &'a [u8],
    /// The argument of the last HELO or EHLO; empty when none.
    pub helo: &'a [u8],
    /// The MAIL FROM address; empty for the null sender `<>`.
    pub from: &'a [u8],
    /// The recipient as received, after any RELAYCLIENT suffix (as in the
    /// realrcptto line).
    pub to: &'a [u8],
}

impl Decision<'_> {
    /// The log line, without its newline.
    pub fn line(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(96 + 4 * (self.helo.len() + self.from.len() + self.to.len()));
        out.extend_from_slice(FIRST_WORD.as_bytes());
        out.extend_from_slice(b" verdict=");
        out.extend_from_slice(self.verdict.name().as_bytes());
        out.extend_from_slice(format!(" code={:03}", self.code).as_bytes());
        out.extend_from_slice(b" rule=");
        out.extend_from_slice(self.rule.name().as_bytes());
        out.extend_from_slice(b" file=");
        quote(&mut out, self.file.unwrap_or_default());
        out.extend_from_slice(format!(" pid={}", self.pid).as_bytes());
        out.extend_from_slice(b" ip=");
        if is_ip(self.ip) {
            out.extend_from_slice(self.ip);
        } else {
            quote(&mut out, self.ip);
        }
        out.extend_from_slice(b" helo=");
        quote(&mut out, self.helo);
        out.extend_from_slice(b" from=");
        quote(&mut out, self.from);
        out.extend_from_slice(b" to=");
        quote(&mut out, self.to);
        out
    }

    /// The line as a record that is always written (level `None`): the
    /// switch, not SMTPD_LOGLEVEL, decides whether there is one.
    pub fn record(&self) -> Record {
        Record::always(self.line())
    }
}

/// Whether `ip` is written bare: a textual IPv4 or IPv6 address (as
/// tcpserver's TCPREMOTEIP always is). Anything else is quoted.
pub fn is_ip(ip: &[u8]) -> bool {
    ip.iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        && std::str::from_utf8(ip).is_ok_and(|s| s.parse::<IpAddr>().is_ok())
}

/// Appends `value` quoted: `"`, then the escaped bytes, then `"`.
pub fn quote(out: &mut Vec<u8>, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in value {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
        }
    }
    out.push(b'"');
}

/// The bytes a quoted value stands for, from its text between the quotes
/// (what the fail2ban filter's `"(?:[^"\\]|\\.)*"` captures inside them).
/// `None` when it is not something [`quote`] writes: a bare `"`, a byte
/// outside 0x20-0x7e, an unknown escape, or `\x` without two lower-case
/// hex digits.
pub fn unquote(inner: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => match inner.get(i + 1)? {
                b @ (b'"' | b'\\') => {
                    out.push(*b);
                    i += 2;
                }
                b'x' => {
                    let hi = hex(*inner.get(i + 2)?)?;
                    let lo = hex(*inner.get(i + 3)?)?;
                    let b = hi << 4 | lo;
                    // What quote writes as itself is never escaped.
                    if (0x20..=0x7e).contains(&b) {
                        return None;
                    }
                    out.push(b);
                    i += 4;
                }
                _ => return None,
            },
            b'"' => return None,
            b @ 0x20..=0x7e => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// A decision line read back (tests, statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub verdict: Verdict,
    pub code: u16,
    pub rule: Rule,
    pub file: Option<Vec<u8>>,
    pub pid: u32,
    pub ip: Vec<u8>,
    pub helo: Vec<u8>,
    pub from: Vec<u8>,
    pub to: Vec<u8>,
}

/// Reads a line [`Decision::line`] wrote (without its newline, and without
/// any multilog or syslog prefix). `None` when it is not exactly such a line:
/// another first word, a field missing, out of order or extra, a bad value.
pub fn parse(line: &[u8]) -> Option<Parsed> {
    let mut rest = line.strip_prefix(FIRST_WORD.as_bytes())?;
    let mut values: Vec<(bool, Vec<u8>)> = Vec::with_capacity(KEYS.len());
    for key in KEYS {
        rest = rest.strip_prefix(b" ")?;
        rest = rest.strip_prefix(key.as_bytes())?;
        rest = rest.strip_prefix(b"=")?;
        let (quoted, value, after) = value(rest)?;
        values.push((quoted, value));
        rest = after;
    }
    if !rest.is_empty() {
        return None;
    }
    let mut v = values.into_iter();
    let verdict = Verdict::from_name(&bare(&mut v)?)?;
    let code = u16::try_from(digits(&bare(&mut v)?)?).ok()?;
    let rule = Rule::from_name(&bare(&mut v)?)?;
    let (fq, file) = v.next()?;
    let pid = u32::try_from(digits(&bare(&mut v)?)?).ok()?;
    let (ipq, ip) = v.next()?;
    let helo = quoted(&mut v)?;
    let from = quoted(&mut v)?;
    let to = quoted(&mut v)?;
    // A valid address is always bare, anything else always quoted.
    if !fq || ipq == is_ip(&ip) {
        return None;
    }
    Some(Parsed {
        verdict,
        code,
        rule,
        file: (!file.is_empty()).then_some(file),
        pid,
        ip,
        helo,
        from,
        to,
    })
}

type Values = std::vec::IntoIter<(bool, Vec<u8>)>;

fn bare(v: &mut Values) -> Option<Vec<u8>> {
    match v.next()? {
        (false, value) => Some(value),
        (true, _) => None,
    }
}

fn quoted(v: &mut Values) -> Option<Vec<u8>> {
    match v.next()? {
        (true, value) => Some(value),
        (false, _) => None,
    }
}

/// One value at the start of `s`: (quoted, decoded bytes, the rest).
fn value(s: &[u8]) -> Option<(bool, Vec<u8>, &[u8])> {
    if let Some(inner) = s.strip_prefix(b"\"") {
        let mut i = 0;
        loop {
            match *inner.get(i)? {
                b'"' => break,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        Some((true, unquote(&inner[..i])?, &inner[i + 1..]))
    } else {
        let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
        let token = &s[..end];
        if token.is_empty() || !token.iter().all(|&b| b.is_ascii_graphic() && b != b'"') {
            return None;
        }
        Some((false, token.to_vec(), &s[end..]))
    }
}

fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The rule and the `.qmail` file of the recipient check, from its steps
/// ([`crate::resolve::Resolver::explain`]'s sink): feed every step to
/// [`Trace::observe`], then read [`Trace::rule`] and [`Trace::file`].
///
/// The rule is where qmail's delivery would be decided: the `.qmail` file
/// (or the vdelivermail or fastforward it runs) when one is used, else
/// where the delivery came from (users/cdb, an account, alias), or remote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    source: Option<Rule>,
    decider: Option<Rule>,
    file: Option<Vec<u8>>,
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }

    pub fn observe(&mut self, step: &Step) {
        match step {
            Step::VirtualException { .. } | Step::NotLocal { .. } => {
                self.source = Some(Rule::Remote);
            }
            Step::EmptyLocal => self.source = Some(Rule::Emptylocal),
            Step::UsersCdbTrouble { .. }
            | Step::UsersCdbShort { .. }
            | Step::UsersCdbHit { .. } => {
                self.source = Some(Rule::UsersCdb);
            }
            // A name that does not match leaves the search going on:
            // alias, when nothing matches, says so with its own step.
            Step::Passwd { .. } => self.source = Some(Rule::Passwd),
            Step::Alias { .. } => self.source = Some(Rule::Alias),
            Step::Qmail { path, answer } => match answer {
                QmailAnswer::Exists
                | QmailAnswer::Unreadable
                | QmailAnswer::Writable
                | QmailAnswer::Unseen { .. }
                | QmailAnswer::Trouble { .. } => {
                    self.file = Some(path.clone());
                    self.decider = Some(Rule::Dotqmail);
                }
                QmailAnswer::Absent
                | QmailAnswer::NameTooLong
                | QmailAnswer::Unreachable { .. }
                | QmailAnswer::NotRegular => {}
            },
            Step::DotQmail { path, line, .. } => {
                self.file = Some(path.clone());
                self.decider = Some(match line.strip_prefix(b"|") {
                    Some(command) => program_rule(command),
                    None => Rule::Dotqmail,
                });
            }
            Step::Deferred(why) => match why {
                Deferral::NoAlias => self.source = Some(Rule::Alias),
                Deferral::ShortRecord { .. } => self.source = Some(Rule::UsersCdb),
                Deferral::Database { .. } => self.decider = Some(Rule::Vpopmail),
                Deferral::ProgramDefers { program, .. } => {
                    self.decider = Some(program_rule(program));
                }
                Deferral::QmailUnopenable { path, .. }
                | Deferral::QmailWritable { path }
                | Deferral::FirstLineBlank { path }
                | Deferral::ForwardOnly { path } => {
                    self.file = Some(path.clone());
                    self.decider = Some(Rule::Dotqmail);
                }
                // A database the file points to: the file's delivery is
                // what cannot be checked.
                Deferral::CannotLook { .. } => {
                    self.decider.get_or_insert(Rule::Dotqmail);
                }
                Deferral::Root { .. }
                | Deferral::NoHome { .. }
                | Deferral::HomeWritable { .. }
                | Deferral::HomeSticky { .. } => {}
            },
            Step::NoQmailFile => {
                self.decider = None;
                self.file = None;
            }
            _ => {}
        }
    }

    /// A check that looks at nothing decided (NOREALRCPTTO's AcceptAll).
    pub fn decided_by(&mut self, rule: Rule) {
        self.decider = Some(rule);
        self.file = None;
    }

    /// The rule that decided; `remote` when no step said otherwise (the
    /// check accepts what is not local).
    pub fn rule(&self) -> Rule {
        self.decider.or(self.source).unwrap_or(Rule::Remote)
    }

    /// The `.qmail` file of [`Trace::rule`], when a file decided.
    pub fn file(&self) -> Option<&[u8]> {
        match self.decider {
            Some(_) => self.file.as_deref(),
            None => None,
        }
    }
}

/// The rule of a `.qmail` program line (after its `|`): vdelivermail and
/// fastforward by name, any other program is the file's own decision.
fn program_rule(command: &[u8]) -> Rule {
    let words = crate::resolve::dotqmail::shell_words(command).unwrap_or_default();
    let name = words.first().map(Vec::as_slice).unwrap_or_default();
    match name.rsplit(|&b| b == b'/').next().unwrap_or(name) {
        b"vdelivermail" => Rule::Vpopmail,
        b"fastforward" => Rule::Fastforward,
        _ => Rule::Dotqmail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::PwAnswer;
    use proptest::prelude::*;
    use regex::bytes::Regex;

    /// The filter's grammar (examples/fail2ban/filter.d/qmail-smtpd-rcpt.conf,
    /// with its `<HOST>` as an address group and every field captured): the
    /// same quoted-value expression, `"(?:[^"\\]|\\.)*"`.
    const LINE_RE: &str = r#"^rcpt-decision verdict=([a-z]+) code=([0-9]{3}) rule=([a-z/]+) file="((?:[^"\\]|\\.)*)" pid=([0-9]+) ip=([0-9A-Fa-f.:]+|"(?:[^"\\]|\\.)*") helo="((?:[^"\\]|\\.)*)" from="((?:[^"\\]|\\.)*)" to="((?:[^"\\]|\\.)*)"$"#;

    fn decision<'a>(helo: &'a [u8], from: &'a [u8], to: &'a [u8]) -> Decision<'a> {
        Decision {
            verdict: Verdict::Refused,
            code: 550,
            rule: Rule::Alias,
            file: None,
            pid: 4242,
            ip: b"192.0.2.7",
            helo,
            from,
            to,
        }
    }

    fn text(d: &Decision) -> String {
        String::from_utf8(d.line()).unwrap()
    }

    #[test]
    fn a_plain_line() {
        let d = decision(b"mx.example", b"a@b.example", b"joe@example.com");
        assert_eq!(
            text(&d),
            r#"rcpt-decision verdict=refused code=550 rule=alias file="" pid=4242 ip=192.0.2.7 helo="mx.example" from="a@b.example" to="joe@example.com""#
        );
        let p = parse(&d.line()).unwrap();
        assert_eq!(p.verdict, Verdict::Refused);
        assert_eq!(p.rule, Rule::Alias);
        assert_eq!((p.code, p.pid), (550, 4242));
        assert_eq!(p.file, None);
        assert_eq!(p.to, b"joe@example.com");
    }

    #[test]
    fn a_file_and_ipv6() {
        let d = Decision {
            verdict: Verdict::Hidden,
            code: 250,
            rule: Rule::Dotqmail,
            file: Some(b"/home/joe/.qmail-joe-default"),
            ip: b"2001:db8::25",
            ..decision(b"", b"", b"joe-x@example.com")
        };
        assert_eq!(
            text(&d),
            r#"rcpt-decision verdict=hidden code=250 rule=dotqmail file="/home/joe/.qmail-joe-default" pid=4242 ip=2001:db8::25 helo="" from="" to="joe-x@example.com""#
        );
        assert_eq!(
            parse(&d.line()).unwrap().file.as_deref(),
            Some(&b"/home/joe/.qmail-joe-default"[..])
        );
    }

    #[test]
    fn hostile_values_are_escaped() {
        let d = decision(
            b"x ip=203.0.113.9",
            b"a\" ip=\"203.0.113.9\\",
            b"j o=e\r\nrcpt-decision verdict=refused ip=203.0.113.9\0\t\x7f\xc3\xa9\xff",
        );
        assert_eq!(
            text(&d),
            concat!(
                r#"rcpt-decision verdict=refused code=550 rule=alias file="" pid=4242 ip=192.0.2.7 "#,
                r#"helo="x ip=203.0.113.9" from="a\" ip=\"203.0.113.9\\" "#,
                r#"to="j o=e\x0d\x0arcpt-decision verdict=refused ip=203.0.113.9\x00\x09\x7f\xc3\xa9\xff""#
            )
        );
        let p = parse(&d.line()).unwrap();
        assert_eq!(p.ip, b"192.0.2.7");
        assert_eq!(p.helo, d.helo);
        assert_eq!(p.from, d.from);
        assert_eq!(p.to, d.to);
    }

    #[test]
    fn an_ip_that_is_not_an_address_is_quoted() {
        for (ip, written) in [
            (&b""[..], r#"ip="""#),
            (b"unknown", r#"ip="unknown""#),
            (b"192.0.2.7 helo=x", r#"ip="192.0.2.7 helo=x""#),
            (b"1.2.3.4\n", r#"ip="1.2.3.4\x0a""#),
            (b"::ffff:192.0.2.7", "ip=::ffff:192.0.2.7"),
            (b"fe80::1%eth0", r#"ip="fe80::1%eth0""#),
            (b"999.1.1.1", r#"ip="999.1.1.1""#),
        ] {
            let d = Decision {
                ip,
                ..decision(b"h", b"f", b"t")
            };
            assert!(
                text(&d).contains(&format!(" {written} helo=")),
                "{ip:?}: {}",
                text(&d)
            );
            assert_eq!(parse(&d.line()).unwrap().ip, ip);
        }
    }

    #[test]
    fn unquote_refuses_what_quote_never_writes() {
        for bad in [
            &br#"a"b"#[..],
            br"\",
            br"\n",
            br"\x4",
            br"\xZZ",
            br"\x41",
            br"\xC3",
            b"\x01",
            b"\xc3",
        ] {
            assert_eq!(unquote(bad), None, "{bad:?}");
        }
        assert_eq!(unquote(br#"\"\\\x00\xff x"#).unwrap(), b"\"\\\x00\xff x");
    }

    #[test]
    fn parse_refuses_other_lines() {
        let good = text(&decision(b"h", b"f", b"t"));
        assert!(parse(good.as_bytes()).is_some());
        for bad in [
            good.replacen("rcpt-decision", "rcpt", 1),
            good.replacen(" pid=4242", "", 1),
            good.replacen("rule=alias", "rule=nosuchrule", 1),
            good.replacen("helo=\"h\"", "helo=h", 1),
            good.replacen("ip=192.0.2.7", "ip=\"192.0.2.7\"", 1),
            format!("{good} "),
            format!("{good} extra=\"x\""),
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn the_vocabularies_are_lower_case_tokens() {
        for v in Verdict::ALL {
            assert!(v.name().bytes().all(|b| b.is_ascii_lowercase()));
            assert_eq!(Verdict::from_name(v.name().as_bytes()), Some(v));
        }
        let mut names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        for r in Rule::ALL {
            assert!(
                r.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'/')
            );
            assert_eq!(Rule::from_name(r.name().as_bytes()), Some(r));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Rule::ALL.len());
    }

    #[test]
    fn the_record_is_always_written() {
        let d = decision(b"h", b"f", b"t");
        assert_eq!(d.record(), Record::always(d.line()));
    }

    fn trace(steps: &[Step]) -> (Rule, Option<Vec<u8>>) {
        let mut t = Trace::new();
        for s in steps {
            t.observe(s);
        }
        (t.rule(), t.file().map(<[u8]>::to_vec))
    }

    fn qmail(path: &str, answer: QmailAnswer) -> Step {
        Step::Qmail {
            path: path.into(),
            answer,
        }
    }

    #[test]
    fn trace_rules() {
        let notlocal = Step::NotLocal {
            domain: b"example.org".to_vec(),
        };
        assert_eq!(trace(&[notlocal]), (Rule::Remote, None));
        assert_eq!(trace(&[]), (Rule::Remote, None));

        // No such user, alias has no .qmail for it: the usual unknown.
        let alias = [
            Step::Passwd {
                name: b"joe".to_vec(),
                answer: PwAnswer::NoSuchUser,
            },
            Step::Alias {
                home: Some(b"/var/qmail/alias".to_vec()),
                ext: b"joe".to_vec(),
            },
            qmail("/var/qmail/alias/.qmail-joe", QmailAnswer::Absent),
            qmail("/var/qmail/alias/.qmail-default", QmailAnswer::Absent),
            Step::NoQmailFile,
        ];
        assert_eq!(trace(&alias), (Rule::Alias, None));
        assert_eq!(
            trace(&[Step::Deferred(Deferral::NoAlias)]),
            (Rule::Alias, None)
        );

        let user = Step::Passwd {
            name: b"joe".to_vec(),
            answer: PwAnswer::Chosen {
                uid: 1000,
                home: b"/home/joe".to_vec(),
                dash: b"-".to_vec(),
                ext: b"x".to_vec(),
            },
        };
        assert_eq!(
            trace(&[user.clone(), Step::NoQmailFile]),
            (Rule::Passwd, None)
        );
        let dq = [
            user.clone(),
            qmail("/home/joe/.qmail-x", QmailAnswer::Absent),
            qmail("/home/joe/.qmail-default", QmailAnswer::Exists),
            Step::DotQmail {
                path: b"/home/joe/.qmail-default".to_vec(),
                line: b"|bouncesaying 'no'".to_vec(),
                finding: "bouncesaying always bounces: qmail-local bounces".into(),
            },
        ];
        assert_eq!(
            trace(&dq),
            (Rule::Dotqmail, Some(b"/home/joe/.qmail-default".to_vec()))
        );

        let vpop = [
            Step::UsersCdbHit {
                key: b"!example.com-".to_vec(),
                wildcard: true,
                user: b"vpopmail".to_vec(),
                uid: 89,
                home: b"/home/vpopmail/domains/example.com".to_vec(),
                dash: b"-".to_vec(),
                ext: b"joe".to_vec(),
            },
            qmail(
                "/home/vpopmail/domains/example.com/.qmail-default",
                QmailAnswer::Exists,
            ),
            Step::DotQmail {
                path: b"/home/vpopmail/domains/example.com/.qmail-default".to_vec(),
                line: b"| /home/vpopmail/bin/vdelivermail '' bounce-no-mailbox".to_vec(),
                finding: "vdelivermail: no such user: qmail-local bounces".into(),
            },
        ];
        let (rule, file) = trace(&vpop);
        assert_eq!(rule, Rule::Vpopmail);
        assert_eq!(
            file.unwrap(),
            b"/home/vpopmail/domains/example.com/.qmail-default"
        );
        let db = Step::Deferred(Deferral::Database {
            conf: b"c".to_vec(),
            reason: "down".into(),
        });
        assert_eq!(trace(&[&vpop[..2], &[db]].concat()).0, Rule::Vpopmail);

        let ff = Step::DotQmail {
            path: b"/var/qmail/alias/.qmail-default".to_vec(),
            line: b"|fastforward -d /etc/aliases.cdb".to_vec(),
            finding: "no such alias: qmail-local bounces".into(),
        };
        assert_eq!(trace(&[ff]).0, Rule::Fastforward);

        let short = Step::UsersCdbShort {
            key: b"!joe".to_vec(),
        };
        assert_eq!(trace(&[short]), (Rule::UsersCdb, None));
        let sticky = Step::Deferred(Deferral::HomeSticky {
            home: b"/home/joe".to_vec(),
        });
        assert_eq!(trace(&[user.clone(), sticky]), (Rule::Passwd, None));
        let writable = [
            user,
            qmail("/home/joe/.qmail-x", QmailAnswer::Writable),
            Step::Deferred(Deferral::QmailWritable {
                path: b"/home/joe/.qmail-x".to_vec(),
            }),
        ];
        assert_eq!(
            trace(&writable),
            (Rule::Dotqmail, Some(b"/home/joe/.qmail-x".to_vec()))
        );
        assert_eq!(trace(&[Step::EmptyLocal]), (Rule::Emptylocal, None));
    }

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        // Plenty of the bytes that matter: quotes, backslashes, `=`,
        // spaces, CR, LF, NUL, 8-bit; and anything.
        let special = prop::sample::select(vec![
            b'"', b'\\', b'=', b' ', b'\r', b'\n', 0, 0x7f, 0x80, 0xff, b'x',
        ]);
        prop::collection::vec(prop_oneof![special, any::<u8>()], 0..40)
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip_through_the_filter_grammar(
            helo in arb_bytes(),
            from in arb_bytes(),
            to in arb_bytes(),
            file in prop::option::of(arb_bytes().prop_filter("a file name is never empty", |f| !f.is_empty())),
            ip in prop_oneof![
                Just(b"192.0.2.7".to_vec()),
                Just(b"2001:db8::1".to_vec()),
                arb_bytes(),
            ],
            verdict in prop::sample::select(Verdict::ALL.to_vec()),
            rule in prop::sample::select(Rule::ALL.to_vec()),
            code in 200u16..600,
            pid in any::<u32>(),
        ) {
            let d = Decision { verdict, code, rule, file: file.as_deref(), pid, ip: &ip, helo: &helo, from: &from, to: &to };
            let line = d.line();
            prop_assert!(line.iter().all(|&b| (0x20..0x7f).contains(&b)));

            let re = Regex::new(LINE_RE).unwrap();
            let caps = re.captures(&line).expect("the line matches the filter's grammar");
            prop_assert_eq!(caps.len(), 1 + KEYS.len());
            prop_assert_eq!(&caps[1], verdict.name().as_bytes());
            let code_text = format!("{code:03}");
            prop_assert_eq!(&caps[2], code_text.as_bytes());
            prop_assert_eq!(&caps[3], rule.name().as_bytes());
            prop_assert_eq!(unquote(&caps[4]).unwrap(), file.clone().unwrap_or_default());
            let pid_text = pid.to_string();
            prop_assert_eq!(&caps[5], pid_text.as_bytes());
            let ip_field = &caps[6];
            if is_ip(&ip) {
                prop_assert_eq!(ip_field, &ip[..]);
            } else {
                prop_assert_eq!(unquote(&ip_field[1..ip_field.len() - 1]).unwrap(), ip.clone());
            }
            prop_assert_eq!(unquote(&caps[7]).unwrap(), helo.clone());
            prop_assert_eq!(unquote(&caps[8]).unwrap(), from.clone());
            prop_assert_eq!(unquote(&caps[9]).unwrap(), to.clone());

            // The same by the parser, and nine fields: splitting at the
            // spaces outside quotes gives the first word and nine `key=`.
            let p = parse(&line).expect("parse reads what line writes");
            prop_assert_eq!(p, Parsed { verdict, code, rule, file, pid, ip, helo, from, to });
            let mut in_quotes = false;
            let mut escaped = false;
            let mut fields = 1;
            for &b in &line {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' if in_quotes => escaped = true,
                    b'"' => in_quotes = !in_quotes,
                    b' ' if !in_quotes => fields += 1,
                    _ => {}
                }
            }
            prop_assert_eq!(fields, 1 + KEYS.len());
        }
    }
}
