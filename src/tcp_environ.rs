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

/// The variables, with `PROTO` read once.
pub struct TcpEnviron<'a> {
    env: &'a dyn Env,
    /// `PROTO` when it names a prefix other than `TCP` (`TCP6`): the
    /// prefix of the fallbacks.
    other_proto: Option<Vec<u8>>,
}

impl<'a> TcpEnviron<'a> {
    pub fn new(env: &'a dyn Env) -> Self {
        TcpEnviron {
            env,
            other_proto: env.get("PROTO").filter(|p| p != b"TCP"),
        }
    }

    /// `tcp` (`TCP` + `what`, spelled out: the common case builds no
    /// name), else `${PROTO}` + `what`.
    fn tcp_or_proto(&self, tcp: &str, what: &str) -> Option<Vec<u8>> {
        debug_assert_eq!(&tcp[3..], what);
        self.env.get(tcp).or_else(|| self.proto_var(what))
    }

    /// `${PROTO}` + `what`, when PROTO is not `TCP`.
    fn proto_var(&self, what: &str) -> Option<Vec<u8>> {
        let proto = self.other_proto.as_deref()?;
        self.env
            .get(&format!("{}{what}", String::from_utf8_lossy(proto)))
    }

    /// The client's address: `TCPREMOTEIP`, else `${PROTO}REMOTEIP`;
    /// unmapped.
    pub fn remote_ip(&self) -> Option<Vec<u8>> {
        self.tcp_or_proto("TCPREMOTEIP", "REMOTEIP").map(unmapped)
    }

    /// Our own name or address for the Received header, as netqmail:
    /// `TCPLOCALHOST`, else `TCPLOCALIP`; each also as `${PROTO}*`.
    pub fn local(&self) -> Option<Vec<u8>> {
        self.tcp_or_proto("TCPLOCALHOST", "LOCALHOST")
            .or_else(|| self.tcp_or_proto("TCPLOCALIP", "LOCALIP").map(unmapped))
    }

    /// The client's DNS name (`TCPREMOTEHOST`, else `${PROTO}REMOTEHOST`).
    pub fn remote_host(&self) -> Option<Vec<u8>> {
        self.tcp_or_proto("TCPREMOTEHOST", "REMOTEHOST")
    }

    /// The ident answer (`TCPREMOTEINFO`, else `${PROTO}REMOTEINFO`).
    pub fn remote_info(&self) -> Option<Vec<u8>> {
        self.tcp_or_proto("TCPREMOTEINFO", "REMOTEINFO")
    }

    /// The address in the realrcptto and RCPTLOG lines: the patch's
    /// `${PROTO}REMOTEIP`, else `remote_ip` (what the Received header
    /// shows: `TCPREMOTEIP`, which is also `${PROTO}REMOTEIP` when PROTO
    /// is `TCP`, or the socket's), else empty as in the patch; unmapped.
    pub fn log_ip(&self, remote_ip: &[u8]) -> Vec<u8> {
        match self.proto_var("REMOTEIP") {
            Some(ip) => unmapped(ip),
            None if remote_ip == b"unknown" => Vec::new(),
            None => remote_ip.to_vec(),
        }
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
        let t = TcpEnviron::new(&env);
        let ip = t.remote_ip().unwrap();
        assert_eq!(ip, b"2001:db8::7");
        assert_eq!(t.local().unwrap(), b"2001:db8::25");
        assert_eq!(t.log_ip(&ip), b"2001:db8::7");
    }

    #[test]
    fn debian_ucspi_tcp_ipv6_ipv4_client() {
        // PROTO=TCP: ${PROTO}REMOTEIP is TCPREMOTEIP.
        let env = vars(&[
            ("PROTO", "TCP"),
            ("TCPREMOTEIP", "192.0.2.1"),
            ("TCP6REMOTEIP", "::ffff:192.0.2.1"),
        ]);
        let t = TcpEnviron::new(&env);
        let ip = t.remote_ip().unwrap();
        assert_eq!(ip, b"192.0.2.1");
        assert_eq!(t.log_ip(&ip), b"192.0.2.1");
        // With -6, an IPv4 client on the IPv6 socket.
        let env = vars(&[
            ("PROTO", "TCP6"),
            ("TCPREMOTEIP", "::ffff:192.0.2.1"),
            ("TCP6REMOTEIP", "::ffff:192.0.2.1"),
            ("TCPLOCALIP", "::ffff:192.0.2.25"),
        ]);
        let t = TcpEnviron::new(&env);
        let ip = t.remote_ip().unwrap();
        assert_eq!(ip, b"192.0.2.1");
        assert_eq!(t.log_ip(&ip), b"192.0.2.1");
        assert_eq!(t.local().unwrap(), b"192.0.2.25");
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
        let t = TcpEnviron::new(&env);
        let ip = t.remote_ip().unwrap();
        assert_eq!(ip, b"2001:db8::7");
        assert_eq!(t.log_ip(&ip), b"2001:db8::7");
        assert_eq!(t.remote_host().unwrap(), b"client.example");
        assert_eq!(t.remote_info().unwrap(), b"joe");
        assert_eq!(t.local().unwrap(), b"mx.example");
    }

    #[test]
    fn djb_ucspi_tcp_and_no_tcpserver() {
        let env = vars(&[("PROTO", "TCP"), ("TCPREMOTEIP", "192.0.2.1")]);
        let t = TcpEnviron::new(&env);
        assert_eq!(t.remote_ip().unwrap(), b"192.0.2.1");
        assert_eq!(t.local(), None);
        assert_eq!(t.remote_host(), None);
        // The realrcptto line: TCPREMOTEIP when PROTO is unset (it was
        // empty in the patch), the socket's address under inetd, and
        // empty when there is none.
        let env = vars(&[("TCPREMOTEIP", "192.0.2.1")]);
        let t = TcpEnviron::new(&env);
        let ip = t.remote_ip().unwrap();
        assert_eq!(t.log_ip(&ip), b"192.0.2.1");
        let env = vars(&[]);
        let t = TcpEnviron::new(&env);
        assert_eq!(t.remote_ip(), None);
        assert_eq!(t.log_ip(b"2001:db8::9"), b"2001:db8::9");
        assert_eq!(t.log_ip(b"unknown"), b"");
    }
}
