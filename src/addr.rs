//! qmail-smtpd's address handling: the MAIL/RCPT argument parser,
//! badmailfrom, and rcpthosts/morercpthosts.cdb.

use std::io;
use std::net::{IpAddr, Ipv6Addr};

use crate::cdb::Lookup;
use crate::control::HostSet;
use crate::ipme::Ipme;

/// Addresses of this many bytes or more are a syntax error (qmail's limit).
pub const MAX_ADDR: usize = 900;

/// Parses the argument of MAIL or RCPT as qmail's `addrparse` does. Returns
/// `None` for a syntax error.
///
/// `localiphost` is control/localiphost (or control/me) when in effect: a
/// bracketed literal of one of our own addresses is replaced by it.
pub fn parse(
    arg: &[u8],
    localiphost: Option<&[u8]>,
    ipme: &mut dyn Ipme,
) -> io::Result<Option<Vec<u8>>> {
    // qmail's addrparse reads a C string: it ends at the first NUL. (The
    // command reader already ends a line there; this keeps a NUL out of
    // the envelope, where it separates recipients, whoever calls.)
    let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    let (mut rest, terminator) = match arg.iter().position(|&b| b == b'<') {
        Some(lt) => (&arg[lt + 1..], b'>'),
        None => {
            // Partner should go read RFC 821: take what follows the first ':'.
            let mut rest = match arg.iter().position(|&b| b == b':') {
                Some(colon) => &arg[colon + 1..],
                None => &arg[arg.len()..],
            };
            while let [b' ', tail @ ..] = rest {
                rest = tail;
            }
            (rest, b' ')
        }
    };
    // A source route (@a,@b:) is dropped up to and including the first ':'.
    if rest.first() == Some(&b'@') {
        rest = match rest.iter().position(|&b| b == b':') {
            Some(colon) => &rest[colon + 1..],
            None => &rest[rest.len()..],
        };
    }
    // The command line is bounded (see `session`), so copying it whole is too.
    let mut addr = Vec::with_capacity(rest.len());
    let (mut escaped, mut quoted) = (false, false);
    for &ch in rest {
        if escaped {
            escaped = false;
            addr.push(ch);
        } else if !quoted && ch == terminator {
            break;
        } else if ch == b'\\' {
            escaped = true;
        } else if ch == b'"' {
            quoted = !quoted;
        } else {
            addr.push(ch);
        }
    }
    if let Some(liphost) = localiphost {
        replace_own_literal(&mut addr, liphost, ipme)?;
    }
    // qmail counts the terminating NUL: 900 bytes or more is too long.
    Ok((addr.len() < MAX_ADDR).then_some(addr))
}

/// The ESMTP parameters of a MAIL or RCPT argument: whatever follows the
/// address as [`parse`] delimits it (the first unquoted `>`, or the first
/// unquoted space without `<`). qmail ignores them; only `SIZE` is read.
pub fn parameters(arg: &[u8]) -> &[u8] {
    let (start, terminator) = match arg.iter().position(|&b| b == b'<') {
        Some(lt) => (lt + 1, b'>'),
        None => match arg.iter().position(|&b| b == b':') {
            Some(colon) => (
                colon + 1 + arg[colon + 1..].iter().take_while(|&&b| b == b' ').count(),
                b' ',
            ),
            None => return &arg[arg.len()..],
        },
    };
    let (mut escaped, mut quoted) = (false, false);
    for (i, &ch) in arg.iter().enumerate().skip(start) {
        if escaped {
            escaped = false;
        } else if !quoted && ch == terminator {
            return &arg[i + 1..];
        } else if ch == b'\\' {
            escaped = true;
        } else if ch == b'"' {
            quoted = !quoted;
        }
    }
    &arg[arg.len()..]
}

/// The RFC 1870 `SIZE=N` parameter among `params`, if any (the first one;
/// the keyword in any case). A number too large for a u64 is `u64::MAX`;
/// a value that is no number is ignored, as qmail ignores every parameter.
pub fn declared_size(params: &[u8]) -> Option<u64> {
    params.split(|&b| b == b' ').find_map(|p| {
        let value = p
            .get(..5)
            .filter(|k| k.eq_ignore_ascii_case(b"SIZE="))
            .map(|_| &p[5..])?;
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            value
                .iter()
                .try_fold(0u64, |n, &d| {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                })
                .unwrap_or(u64::MAX),
        )
    })
}

/// Whether `params` has RFC 6531's `SMTPUTF8` (a keyword without a value,
/// in any case).
pub fn declares_smtputf8(params: &[u8]) -> bool {
    params
        .split(|&b| b == b' ')
        .any(|p| p.eq_ignore_ascii_case(b"SMTPUTF8"))
}

/// Whether an address may be taken under SMTPUTF8: it must be UTF-8 (RFC
/// 6531 section 3.3). Without SMTPUTF8 any bytes are taken, as netqmail
/// takes them.
pub fn utf8_ok(addr: &[u8]) -> bool {
    std::str::from_utf8(addr).is_ok()
}

/// `user@[1.2.3.4]` or `user@[IPv6:2001:db8::1]` naming one of our
/// interfaces becomes `user@LOCALIPHOST`.
fn replace_own_literal(addr: &mut Vec<u8>, liphost: &[u8], ipme: &mut dyn Ipme) -> io::Result<()> {
    let Some(at) = addr.iter().rposition(|&b| b == b'@') else {
        return Ok(());
    };
    let domain = &addr[at + 1..];
    let ip = match scan_bracket(domain) {
        Some((ip, len)) if len == domain.len() => Some(IpAddr::from(ip)),
        Some(_) => None,
        None => ipv6_literal(domain),
    };
    if let Some(ip) = ip {
        if ipme.is_me(ip)? {
            addr.truncate(at + 1);
            addr.extend_from_slice(liphost);
        }
    }
    Ok(())
}

/// RFC 5321's IPv6 address literal, `[IPv6:2001:db8::1]` (the tag in any
/// case, as RFC 5321's ABNF strings are), the whole domain. netqmail has
/// no such literal; its IPv4 form above keeps qmail's lenient reading,
/// this one is strict (RFC 4291's text forms, as `Ipv6Addr` parses them:
/// no zone, no spaces). An IPv4-mapped address is its IPv4 address.
fn ipv6_literal(domain: &[u8]) -> Option<IpAddr> {
    const TAG: &[u8] = b"[IPv6:";
    let inner = domain
        .get(..TAG.len())
        .filter(|t| t.eq_ignore_ascii_case(TAG))
        .and_then(|_| domain[TAG.len()..].strip_suffix(b"]"))?;
    let v6: Ipv6Addr = std::str::from_utf8(inner).ok()?.parse().ok()?;
    Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
}

/// qmail's `ip_scanbracket`: `[a.b.c.d]` with each part a run of decimal
/// digits taken modulo 256 (qmail's quirk: `[127.0.0.257]` is 127.0.0.1).
/// Returns the address and the number of bytes consumed.
fn scan_bracket(s: &[u8]) -> Option<([u8; 4], usize)> {
    let mut pos = 1;
    if s.first() != Some(&b'[') {
        return None;
    }
    let mut ip = [0u8; 4];
    for (i, octet) in ip.iter_mut().enumerate() {
        if i > 0 {
            if s.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let digits = s[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n = crate::control::scan_ulong(&s[pos..pos + digits])?;
        *octet = n as u8;
        pos += digits;
    }
    (s.get(pos) == Some(&b']')).then_some((ip, pos + 1))
}

/// The domain part qmail matches: everything after the last `@`.
fn domain_of(addr: &[u8]) -> Option<&[u8]> {
    addr.iter()
        .rposition(|&b| b == b'@')
        .map(|at| &addr[at + 1..])
}

/// control/badmailfrom: the whole sender, or `@domain` after its last `@`.
pub fn badmailfrom(bmf: &HostSet, sender: &[u8]) -> bool {
    if bmf.is_empty() {
        return false;
    }
    if bmf.contains(sender) {
        return true;
    }
    match sender.iter().rposition(|&b| b == b'@') {
        Some(at) => bmf.contains(&sender[at..]),
        None => false,
    }
}

/// control/rcpthosts and control/morercpthosts.cdb.
#[derive(Default)]
pub struct Rcpthosts {
    /// `None`: control/rcpthosts does not exist, every domain is accepted.
    hosts: Option<HostSet>,
    /// control/morercpthosts.cdb, consulted only when rcpthosts exists.
    more: Option<Box<dyn Lookup>>,
}

impl Rcpthosts {
    /// control/rcpthosts (`None` when the file does not exist) and, if
    /// there is one, control/morercpthosts.cdb.
    pub fn new(hosts: Option<HostSet>, more: Option<Box<dyn Lookup>>) -> Self {
        Rcpthosts { hosts, more }
    }

    /// A list given directly (tests, tools).
    pub fn from_hosts(hosts: Option<HostSet>) -> Self {
        Rcpthosts { hosts, more: None }
    }

    /// May we accept mail for this recipient? An address without `@` always
    /// passes (qmail-send will append envnoathost). `Err` is a cdb read
    /// failure, naming the file: answered 421 like any control-file failure.
    pub fn allowed(&mut self, addr: &[u8]) -> io::Result<bool> {
        let Some(hosts) = &self.hosts else {
            return Ok(true);
        };
        let Some(domain) = domain_of(addr) else {
            return Ok(true);
        };
        let domain = domain.to_ascii_lowercase();
        let suffixes = || {
            (0..domain.len())
                .filter(|&j| j == 0 || domain[j] == b'.')
                .map(|j| &domain[j..])
        };
        if suffixes().any(|s| hosts.contains(s)) {
            return Ok(true);
        }
        if let Some(more) = &mut self.more {
            for s in suffixes() {
                if more.get(s)?.is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Me(Vec<IpAddr>);
    impl Ipme for Me {
        fn is_me(&mut self, ip: IpAddr) -> io::Result<bool> {
            Ok(self.0.contains(&ip))
        }
    }
    fn me() -> Me {
        Me(vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()])
    }

    /// Found by the addr fuzz target: a NUL inside the brackets reached the
    /// parsed address (and so could have split an envelope entry).
    #[test]
    fn the_argument_ends_at_a_nul_as_a_c_string_does() {
        // As qmail: without its '>' the address runs to the end of the
        // string, here the NUL.
        assert_eq!(p("<@r1,@r2:u@x.examp\0e>").as_deref(), Some("u@x.examp"));
        assert_eq!(
            p("<u@x.example>\0<v@y.example>").as_deref(),
            Some("u@x.example")
        );
        assert_eq!(p(":u@x.example\0junk").as_deref(), Some("u@x.example"));
    }

    fn p(arg: &str) -> Option<String> {
        parse(arg.as_bytes(), Some(b"me.example"), &mut me())
            .unwrap()
            .map(|a| String::from_utf8(a).unwrap())
    }

    #[test]
    fn brackets_quotes_and_escapes() {
        assert_eq!(p("FROM:<a@b>").as_deref(), Some("a@b"));
        assert_eq!(p("FROM:<a@b> BODY=8BITMIME").as_deref(), Some("a@b"));
        assert_eq!(p("FROM:<>").as_deref(), Some(""));
        assert_eq!(p("TO:<\"a b>c\"@d>").as_deref(), Some("a b>c@d"));
        assert_eq!(p("TO:<a\\>b@d>").as_deref(), Some("a>b@d"));
        assert_eq!(p("TO:<a@b").as_deref(), Some("a@b"));
        assert_eq!(p("TO:x<a@b>").as_deref(), Some("a@b"));
    }

    #[test]
    fn unbracketed_form() {
        assert_eq!(p("FROM:  a@b c").as_deref(), Some("a@b"));
        assert_eq!(p("FROM:a@b").as_deref(), Some("a@b"));
        assert_eq!(p("a@b").as_deref(), Some(""));
        assert_eq!(p("").as_deref(), Some(""));
        assert_eq!(p("TO:\"a b\"@c d").as_deref(), Some("a b@c"));
    }

    #[test]
    fn source_routes_are_dropped() {
        assert_eq!(p("TO:<@a,@b:u@c>").as_deref(), Some("u@c"));
        assert_eq!(p("TO:<@a>").as_deref(), Some(""));
    }

    #[test]
    fn own_literals_become_localiphost() {
        assert_eq!(p("TO:<u@[127.0.0.1]>").as_deref(), Some("u@me.example"));
        assert_eq!(p("TO:<u@[127.0.0.257]>").as_deref(), Some("u@me.example"));
        assert_eq!(p("TO:<u@[10.0.0.1]>").as_deref(), Some("u@[10.0.0.1]"));
        assert_eq!(p("TO:<u@[127.0.0.1]x>").as_deref(), Some("u@[127.0.0.1]x"));
        assert_eq!(p("TO:<u@[127.0.0]>").as_deref(), Some("u@[127.0.0]"));
        let off = parse(b"TO:<u@[127.0.0.1]>", None, &mut me()).unwrap();
        assert_eq!(off.as_deref(), Some(&b"u@[127.0.0.1]"[..]));
    }

    #[test]
    fn own_ipv6_literals_become_localiphost() {
        for own in [
            "u@[IPv6:::1]",
            "u@[ipv6:::1]",
            "u@[IPV6:0:0:0:0:0:0:0:1]",
            "u@[IPv6:0000:0000:0000:0000:0000:0000:0000:0001]",
            // IPv4-mapped: the IPv4 address.
            "u@[IPv6:::ffff:127.0.0.1]",
            "u@[IPv6:::FFFF:7f00:1]",
        ] {
            assert_eq!(
                p(&format!("TO:<{own}>")).as_deref(),
                Some("u@me.example"),
                "{own}"
            );
        }
        for other in [
            "u@[IPv6:2001:db8::1]",
            "u@[IPv6:::2]",
            // Malformed: left as they are, for rcpthosts to refuse.
            "u@[IPv6:::1",
            "u@[IPv6:::1]x",
            "u@[IPv6: ::1]",
            "u@[IPv6:::1%lo]",
            "u@[IPv6:1:2:3:4:5:6:7:8:9]",
            "u@[IPv6:::1::]",
            "u@[IPv6:]",
            "u@[IPv6:12345::1]",
            "u@[IPv6:::127.0.0.1.1]",
            "u@[::1]",
            "u@IPv6:::1]",
            "u@[IPv6:\u{e9}::1]",
        ] {
            assert_eq!(
                p(&format!("TO:<{other}>")).as_deref(),
                Some(other),
                "{other}"
            );
        }
        let off = parse(b"TO:<u@[IPv6:::1]>", None, &mut me()).unwrap();
        assert_eq!(off.as_deref(), Some(&b"u@[IPv6:::1]"[..]));
    }

    #[test]
    fn the_smtputf8_keyword() {
        assert!(declares_smtputf8(b"SMTPUTF8"));
        assert!(declares_smtputf8(b"BODY=8BITMIME smtputf8"));
        assert!(declares_smtputf8(b"SIZE=10 SmtpUtf8 BODY=8BITMIME"));
        assert!(!declares_smtputf8(b""));
        assert!(!declares_smtputf8(b"SMTPUTF8=YES"));
        assert!(!declares_smtputf8(b"XSMTPUTF8"));
        assert!(!declares_smtputf8(b"SMTPUTF"));
        assert!(utf8_ok("j\u{f6}rg@b\u{fc}cher.example".as_bytes()));
        assert!(utf8_ok(b"plain@example.com"));
        assert!(!utf8_ok(b"j\xf6rg@example.com"));
        assert!(!utf8_ok(b"\xc3@example.com"));
        assert!(!utf8_ok(b"\xed\xa0\x80@example.com"), "a surrogate");
        assert!(!utf8_ok(b"\xc0\xaf@example.com"), "an overlong form");
    }

    #[test]
    fn nine_hundred_bytes_is_too_long() {
        let ok = format!("TO:<{}>", "a".repeat(899));
        let bad = format!("TO:<{}>", "a".repeat(900));
        assert_eq!(p(&ok).map(|a| a.len()), Some(899));
        assert_eq!(p(&bad), None);
    }

    #[test]
    fn badmailfrom_whole_and_domain() {
        let bmf = HostSet::new(vec![b"spam@x.example".to_vec(), b"@bad.example".to_vec()]);
        assert!(badmailfrom(&bmf, b"SPAM@X.example"));
        assert!(badmailfrom(&bmf, b"anyone@Bad.Example"));
        assert!(badmailfrom(&bmf, b"a@b@bad.example"));
        assert!(!badmailfrom(&bmf, b"a@sub.bad.example"));
        assert!(!badmailfrom(&bmf, b""));
        assert!(!badmailfrom(&HostSet::default(), b"spam@x.example"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_respects_the_limit(arg in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let got = parse(&arg, Some(b"me.example"), &mut me()).unwrap();
            if let Some(addr) = got {
                proptest::prop_assert!(addr.len() < MAX_ADDR);
                proptest::prop_assert!(addr.len() <= arg.len() + b"me.example".len());
            }
        }
    }

    #[test]
    fn rcpthosts_suffixes() {
        let mut rh = Rcpthosts::from_hosts(Some(HostSet::new(vec![
            b"example.com".to_vec(),
            b".sub.example".to_vec(),
        ])));
        assert!(rh.allowed(b"u@EXAMPLE.com").unwrap());
        assert!(rh.allowed(b"u@a.b.sub.example").unwrap());
        assert!(!rh.allowed(b"u@sub.example").unwrap());
        assert!(!rh.allowed(b"u@x.example.com").unwrap());
        assert!(!rh.allowed(b"u@example.com.").unwrap());
        assert!(!rh.allowed(b"u@").unwrap());
        assert!(rh.allowed(b"nodomain").unwrap());
        assert!(!rh.allowed(b"u@example.com@evil.example").unwrap());
        assert!(Rcpthosts::from_hosts(None).allowed(b"u@anything").unwrap());
    }

    #[test]
    fn esmtp_parameters_and_size() {
        assert_eq!(
            parameters(b"FROM:<a@b> SIZE=10 BODY=8BITMIME"),
            b" SIZE=10 BODY=8BITMIME"
        );
        assert_eq!(parameters(b"FROM:<\"x> SIZE=1\"@b> SIZE=2"), b" SIZE=2");
        assert_eq!(parameters(b"FROM: a@b SIZE=3"), b"SIZE=3");
        assert_eq!(parameters(b"FROM:<a@b>"), b"");
        assert_eq!(parameters(b"nothing"), b"");
        assert_eq!(declared_size(b" SIZE=10 BODY=8BITMIME"), Some(10));
        assert_eq!(declared_size(b" body=7bit size=0"), Some(0));
        assert_eq!(
            declared_size(b" SIZE=99999999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(declared_size(b" SIZE= SIZE=x1"), None);
        assert_eq!(declared_size(b" SIZEX=1"), None);
    }
}
