//! A tcprules cdb consulted as tcpserver's `-x` consults it (ucspi-tcp's
//! rules.c and tcpserver.c's `found`), for an address tcpserver never saw:
//! the client behind a PROXY header (`$PROXYRULES`).
//!
//! Without a remote host name or ident answer (a proxied connection has
//! neither), rules.c tries, and the first key found decides: the address
//! itself, then each of its prefixes ending in `.` from the longest
//! (`192.0.2.`, `192.0.`, `192.`), then the empty key. Debian's IPv6
//! tcpserver (ucspi-tcp-ipv6) cuts IPv6 text the same way at `:` too
//! (`2001:db8::`, `2001:db8:`, `2001:`), which changes nothing for IPv4.
//!
//! A record is a list of NUL-terminated instructions: `D` denies,
//! `+VAR=value` sets VAR (an empty value sets it empty), and anything else,
//! `+VAR` without `=` included, is ignored, as tcpserver ignores it.

use std::io;

use crate::cdb::Lookup;

/// What the rule found says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// The key that matched.
    pub key: Vec<u8>,
    pub deny: bool,
    /// Variables to set, in the record's order.
    pub set: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The keys rules.c tries for `ip`, in order.
pub fn keys(ip: &[u8]) -> Vec<&[u8]> {
    let mut keys = vec![ip];
    keys.extend(
        (1..ip.len())
            .rev()
            .filter(|&n| matches!(ip[n - 1], b'.' | b':'))
            .map(|n| &ip[..n]),
    );
    keys.push(b"");
    keys
}

/// The rule for `ip`; `Ok(None)` when no key matches (tcpserver then
/// allows, setting nothing).
pub fn lookup(cdb: &mut dyn Lookup, ip: &[u8]) -> io::Result<Option<Rule>> {
    for key in keys(ip) {
        if let Some(data) = cdb.get(key)? {
            return Ok(Some(decode(key, &data)));
        }
    }
    Ok(None)
}

/// A record's instructions; a last one without its NUL is ignored, as
/// tcpserver's loop ignores it.
fn decode(key: &[u8], data: &[u8]) -> Rule {
    let mut rule = Rule {
        key: key.to_vec(),
        ..Rule::default()
    };
    let mut parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    parts.pop();
    for part in parts {
        match part.split_first() {
            Some((b'D', _)) => rule.deny = true,
            Some((b'+', var)) => {
                if let Some(eq) = var.iter().position(|&b| b == b'=') {
                    rule.set.push((var[..eq].to_vec(), var[eq + 1..].to_vec()));
                }
            }
            _ => {}
        }
    }
    rule
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn keys_in_rules_c_order() {
        assert_eq!(
            keys(b"192.0.2.1"),
            [&b"192.0.2.1"[..], b"192.0.2.", b"192.0.", b"192.", b""]
        );
        assert_eq!(
            keys(b"2001:db8::1"),
            [
                &b"2001:db8::1"[..],
                b"2001:db8::",
                b"2001:db8:",
                b"2001:",
                b""
            ]
        );
    }

    fn cdb(pairs: &[(&[u8], &[u8])]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn first_key_found_decides() {
        // The records tcprules writes for `192.0.2.:allow,RELAYCLIENT=""`,
        // `192.0.:deny` and `:allow,X="a=b"`.
        let mut c = cdb(&[
            (b"192.0.2.", b"+RELAYCLIENT=\0"),
            (b"192.0.", b"D\0"),
            (b"", b"+X=a=b\0"),
        ]);
        let r = lookup(&mut c, b"192.0.2.9").unwrap().unwrap();
        assert_eq!(r.key, b"192.0.2.");
        assert!(!r.deny);
        assert_eq!(r.set, [(b"RELAYCLIENT".to_vec(), b"".to_vec())]);
        let r = lookup(&mut c, b"192.0.3.9").unwrap().unwrap();
        assert!(r.deny && r.set.is_empty());
        let r = lookup(&mut c, b"10.0.0.1").unwrap().unwrap();
        assert_eq!(
            (r.key, r.set),
            (vec![], vec![(b"X".to_vec(), b"a=b".to_vec())])
        );
        assert_eq!(lookup(&mut cdb(&[]), b"10.0.0.1").unwrap(), None);
    }

    #[test]
    fn records_as_tcpserver_reads_them() {
        let r = decode(b"k", b"D\0+A=1\0+NOEQ\0junk\0\0+B=\0+C=unterminated");
        assert!(r.deny);
        assert_eq!(
            r.set,
            [
                (b"A".to_vec(), b"1".to_vec()),
                (b"B".to_vec(), b"".to_vec())
            ]
        );
        assert_eq!(decode(b"", b""), Rule::default());
    }
}
