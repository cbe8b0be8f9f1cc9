//! The connection as tcp-environ(5) describes it: the TCP* variables that
//! tcpserver sets, read as netqmail's qmail-smtpd reads them, plus what the
//! IPv6 tcpservers add.
//!
//! Three tcpservers are in use, and they disagree:
//! - djb's ucspi-tcp: IPv4 only; `PROTO=TCP` and the `TCP*` variables.
//! - Debian's ucspi-tcp-ipv6 (Felix von Leitner's patch): `PROTO=TCP6` for
//!   a native IPv6 client, `TCPREMOTEIP` in compressed IPv6 form, and
//!   always `TCP6REMOTEIP` (an IPv4 client there as `::ffff:a.b.c.d`; and
//!   with `-6`, `TCPREMOTEIP` too).
//! - fehcom's ucspi-tcp6: `PROTO=TCP6` and only `TCP6*` for a native IPv6
//!   client.
//!
//! So each value is `TCP*`, as netqmail reads it, else `${PROTO}*` (what
//! realrcptto's log line reads), and an IPv4-mapped IPv6 address is the
//! IPv4 address it maps: it is one client, whichever socket it came in on.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use crate::setup::Env;

/// `tcp` (`TCP` + `what`, spelled out: the common case builds no name),
/// else `${PROTO}` + `what` when PROTO names another prefix (`TCP6`).
fn tcp_or_proto(env: &dyn Env, tcp: &str, what: &str) -> Option<Vec<u8>> {
    debug_assert_eq!(&tcp[3..], what);
    env.get(tcp).or_else(|| {
        let proto = env.get("PROTO")?;
        if proto == b"TCP" {
            return None;
        }
        prefixed(env, &proto, what)
    })
}

/// `${PROTO}` + `what` (realrcptto's `${PROTO}REMOTEIP`).
fn proto_var(env: &dyn Env, what: &str) -> Option<Vec<u8>> {
    prefixed(env, &env.get("PROTO")?, what)
}

fn prefixed(env: &dyn Env, proto: &[u8], what: &str) -> Option<Vec<u8>> {
    env.get(&format!("{}{what}", String::from_utf8_lossy(proto)))
}

/// The client's address: `TCPREMOTEIP`, else `${PROTO}REMOTEIP`; unmapped.
pub fn remote_ip(env: &dyn Env) -> Option<Vec<u8>> {
    tcp_or_proto(env, "TCPREMOTEIP", "REMOTEIP").map(unmapped)
}

/// Our own name or address for the Received header, as netqmail:
/// `TCPLOCALHOST`, else `TCPLOCALIP`; each also as `${PROTO}*`.
pub fn local(env: &dyn Env) -> Option<Vec<u8>> {
    tcp_or_proto(env, "TCPLOCALHOST", "LOCALHOST")
        .or_else(|| tcp_or_proto(env, "TCPLOCALIP", "LOCALIP").map(unmapped))
}

/// The client's DNS name (`TCPREMOTEHOST`, else `${PROTO}REMOTEHOST`).
pub fn remote_host(env: &dyn Env) -> Option<Vec<u8>> {
    tcp_or_proto(env, "TCPREMOTEHOST", "REMOTEHOST")
}

/// The ident answer (`TCPREMOTEINFO`, else `${PROTO}REMOTEINFO`).
pub fn remote_info(env: &dyn Env) -> Option<Vec<u8>> {
    tcp_or_proto(env, "TCPREMOTEINFO", "REMOTEINFO")
}

/// The address in the realrcptto and RCPTLOG lines: the patch's
/// `${PROTO}REMOTEIP`, else `remote_ip` (what the Received header shows,
/// `TCPREMOTEIP` or the socket's), else empty as in the patch; unmapped.
pub fn log_ip(env: &dyn Env, remote_ip: &[u8]) -> Vec<u8> {
    match proto_var(env, "REMOTEIP") {
        Some(ip) => unmapped(ip),
        None if remote_ip == b"unknown" => Vec::new(),
        None => remote_ip.to_vec(),
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, in any of its textual
/// forms) as the IPv4 address; anything else unchanged. A plain IPv4
/// address has no `:` and costs one scan.
pub fn unmapped(ip: Vec<u8>) -> Vec<u8> {
    match unmap(&ip) {
        Cow::Owned(v4) => v4,
        Cow::Borrowed(_) => ip,
    }
}

/// [`unmapped`] without taking the value.
pub fn unmap(ip: &[u8]) -> Cow<'_, [u8]> {
    if !ip.contains(&b':') {
        return Cow::Borrowed(ip);
    }
    let v4 = std::str::from_utf8(ip)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
        .and_then(|v6| v6.to_ipv4_mapped());
    match v4 {
        Some(v4) => Cow::Owned(v4.to_string().into_bytes()),
        None => Cow::Borrowed(ip),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, &'static str>);
    impl Env for Vars {
        fn get(&self, name: &str) -> Option<Vec<u8>> {
            self.0.get(name).map(|v| v.as_bytes().to_vec())
        }
    }
    fn vars(pairs: &[(&'static str, &'static str)]) -> Vars {
        Vars(pairs.iter().copied().collect())
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_address() {
        for (ip, want) in [
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::FFFF:192.0.2.1", "192.0.2.1"),
            ("0:0:0:0:0:ffff:c000:201", "192.0.2.1"),
            ("192.0.2.1", "192.0.2.1"),
            ("2001:db8::1", "2001:db8::1"),
            ("::1", "::1"),
            // Not mapped: IPv4-compatible (deprecated) and NAT64 forms.
            ("::192.0.2.1", "::192.0.2.1"),
            ("64:ff9b::192.0.2.1", "64:ff9b::192.0.2.1"),
            // Not addresses: left as they are.
            ("::ffff:192.0.2", "::ffff:192.0.2"),
            ("::ffff:192.0.2.1%eth0", "::ffff:192.0.2.1%eth0"),
            ("unknown", "unknown"),
            ("", ""),
        ] {
            assert_eq!(unmap(ip.as_bytes()).as_ref(), want.as_bytes(), "{ip}");
            assert_eq!(unmapped(ip.as_bytes().to_vec()), want.as_bytes(), "{ip}");
        }
    }

    #[test]
    fn debian_ucspi_tcp_ipv6_native_client() {
        let env = vars(&[
            ("PROTO", "TCP6"),
            ("TCPREMOTEIP", "2001:db8::7"),
            ("TCP6REMOTEIP", "2001:db8::7"),
            ("TCPLOCALIP", "2001:db8::25"),
            ("TCP6LOCALIP", "2001:db8::25"),
        ]);
        let ip = remote_ip(&env).unwrap();
        assert_eq!(ip, b"2001:db8::7");
        assert_eq!(local(&env).unwrap(), b"2001:db8::25");
        assert_eq!(log_ip(&env, &ip), b"2001:db8::7");
    }

    #[test]
    fn debian_ucspi_tcp_ipv6_ipv4_client() {
        // PROTO=TCP: ${PROTO}REMOTEIP is TCPREMOTEIP.
        let env = vars(&[
            ("PROTO", "TCP"),
            ("TCPREMOTEIP", "192.0.2.1"),
            ("TCP6REMOTEIP", "::ffff:192.0.2.1"),
        ]);
        let ip = remote_ip(&env).unwrap();
        assert_eq!(ip, b"192.0.2.1");
        assert_eq!(log_ip(&env, &ip), b"192.0.2.1");
        // With -6, an IPv4 client on the IPv6 socket.
        let env = vars(&[
            ("PROTO", "TCP6"),
            ("TCPREMOTEIP", "::ffff:192.0.2.1"),
            ("TCP6REMOTEIP", "::ffff:192.0.2.1"),
            ("TCPLOCALIP", "::ffff:192.0.2.25"),
        ]);
        let ip = remote_ip(&env).unwrap();
        assert_eq!(ip, b"192.0.2.1");
        assert_eq!(log_ip(&env, &ip), b"192.0.2.1");
        assert_eq!(local(&env).unwrap(), b"192.0.2.25");
    }

    #[test]
    fn fehcom_ucspi_tcp6_native_client_has_only_tcp6_variables() {
        let env = vars(&[
            ("PROTO", "TCP6"),
            ("TCP6REMOTEIP", "2001:db8::7"),
            ("TCP6REMOTEHOST", "client.example"),
            ("TCP6REMOTEINFO", "joe"),
            ("TCP6LOCALIP", "2001:db8::25"),
            ("TCP6LOCALHOST", "mx.example"),
        ]);
        let ip = remote_ip(&env).unwrap();
        assert_eq!(ip, b"2001:db8::7");
        assert_eq!(log_ip(&env, &ip), b"2001:db8::7");
        assert_eq!(remote_host(&env).unwrap(), b"client.example");
        assert_eq!(remote_info(&env).unwrap(), b"joe");
        assert_eq!(local(&env).unwrap(), b"mx.example");
    }

    #[test]
    fn djb_ucspi_tcp_and_no_tcpserver() {
        let env = vars(&[("PROTO", "TCP"), ("TCPREMOTEIP", "192.0.2.1")]);
        assert_eq!(remote_ip(&env).unwrap(), b"192.0.2.1");
        assert_eq!(local(&env), None);
        assert_eq!(remote_host(&env), None);
        // The realrcptto line: TCPREMOTEIP when PROTO is unset (it was
        // empty in the patch), the socket's address under inetd, and
        // empty when there is none.
        let env = vars(&[("TCPREMOTEIP", "192.0.2.1")]);
        let ip = remote_ip(&env).unwrap();
        assert_eq!(log_ip(&env, &ip), b"192.0.2.1");
        let env = vars(&[]);
        assert_eq!(remote_ip(&env), None);
        assert_eq!(log_ip(&env, b"2001:db8::9"), b"2001:db8::9");
        assert_eq!(log_ip(&env, b"unknown"), b"");
    }
}
