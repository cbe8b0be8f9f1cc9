//! The PROXY protocol header a load balancer (HAProxy's `send-proxy` and
//! `send-proxy-v2`, nginx stream, cloud balancers) sends before any SMTP
//! byte, as HAProxy's proxy-protocol.txt defines it: version 1, one line
//! of text, and version 2, binary.
//!
//! Pure: [`parse`] is fed the bytes read so far and says how many more may
//! be read without reading past the header, or what the header is, or why
//! it is malformed. The reading (deadline, fd 0) is [`read`]; what the
//! header changes in the environment is [`environment`].
//!
//! Enabled by `$PROXYPROTOCOL`, the trusted balancers ([`Trusted`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub mod read;

/// The program that reads the header for qmail-smtpd (which execs it,
/// relative to the qmail home), then serves the session as qmail-smtpd.
pub const PROGRAM: &str = "bin/qmail-smtpd-proxy";

/// The longest version 1 line, CRLF included (the specification's worst
/// case, `PROXY UNKNOWN` with two full IPv6 addresses and ports).
pub const V1_MAX: usize = 107;
/// The shortest header of either version (`PROXY UNKNOWN\r\n`): so many
/// bytes can always be read at first without reading past any header.
const MIN_HEADER: usize = 15;
/// Version 2: the signature, then the version/command byte.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 2's fixed part: signature, version/command, family, length.
const V2_FIXED: usize = 16;
const V1_PREFIX: &[u8] = b"PROXY ";

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// The client's connection, or `None` when the connection's own
    /// addresses stand (v1 `UNKNOWN`; v2 `LOCAL`, the balancer's health
    /// check; v2 families other than TCP over IPv4 or IPv6).
    pub proxied: Option<Proxied>,
}

/// The original connection: the client and the address it connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proxied {
    pub source: SocketAddr,
    pub destination: SocketAddr,
}

/// The outcome of [`parse`] on the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// Not complete yet: read at most this many more bytes (at least 1),
    /// so that no byte after the header is taken from the session.
    Incomplete(usize),
    /// The header, and its length in bytes.
    Done(Header, usize),
    /// Not a PROXY header: why.
    Malformed(&'static str),
}

/// Parses the start of the connection, `buf` (bytes past the header, if
/// any, are left alone).
pub fn parse(buf: &[u8]) -> Parse {
    match buf.first() {
        None => Parse::Incomplete(MIN_HEADER),
        Some(b'P') => v1(buf),
        Some(b'\r') => v2(buf),
        Some(_) => Parse::Malformed("not a PROXY header"),
    }
}

/// Whether `buf` begins as `what` does, as far as `buf` goes.
fn starts_as(buf: &[u8], what: &[u8]) -> bool {
    let n = buf.len().min(what.len());
    buf[..n] == what[..n]
}

fn v1(buf: &[u8]) -> Parse {
    if !starts_as(buf, V1_PREFIX) {
        return Parse::Malformed("not a PROXY header");
    }
    let rest = &buf[V1_PREFIX.len().min(buf.len())..];
    if !["TCP4 ", "TCP6 ", "UNKNOWN"]
        .iter()
        .any(|p| starts_as(rest, p.as_bytes()))
    {
        return Parse::Malformed("v1: unknown protocol");
    }
    // Every CR must start the CRLF, and every LF end it.
    let end = buf.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = match end {
        Some(i) if i + 2 > V1_MAX => return Parse::Malformed("v1: no CRLF in 107 bytes"),
        Some(i) if buf[i] == b'\n' => return Parse::Malformed("v1: LF without CR"),
        Some(i) if i + 1 == buf.len() => return Parse::Incomplete(1),
        Some(i) if buf[i + 1] != b'\n' => return Parse::Malformed("v1: CR without LF"),
        Some(i) => &buf[..i],
        None if buf.len() >= V1_MAX - 1 => return Parse::Malformed("v1: no CRLF in 107 bytes"),
        None if buf.len() < MIN_HEADER => return Parse::Incomplete(MIN_HEADER - buf.len()),
        None => return Parse::Incomplete(1),
    };
    let len = line.len() + 2;
    let fields = &line[V1_PREFIX.len()..];
    if fields == b"UNKNOWN" || fields.starts_with(b"UNKNOWN ") {
        let header = Header {
            version: 1,
            proxied: None,
        };
        return Parse::Done(header, len);
    }
    match v1_addresses(fields) {
        Some(proxied) => Parse::Done(
            Header {
                version: 1,
                proxied: Some(proxied),
            },
            len,
        ),
        None => Parse::Malformed("v1: bad addresses"),
    }
}

/// `TCP4 src dst sport dport` (or TCP6), single spaces, addresses of the
/// named family.
fn v1_addresses(fields: &[u8]) -> Option<Proxied> {
    let text = std::str::from_utf8(fields).ok()?;
    let mut f = text.split(' ');
    let (proto, src, dst, sport, dport) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    if f.next().is_some() {
        return None;
    }
    let ip = |s: &str| -> Option<IpAddr> {
        match proto {
            "TCP4" => s.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
            "TCP6" => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            _ => None,
        }
    };
    Some(Proxied {
        source: SocketAddr::new(ip(src)?, port(sport)?),
        destination: SocketAddr::new(ip(dst)?, port(dport)?),
    })
}

/// A port in decimal, 0 to 65535, no sign and no leading zero.
fn port(s: &str) -> Option<u16> {
    let digits = s.bytes().all(|b| b.is_ascii_digit());
    if s.is_empty() || s.len() > 5 || !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

fn v2(buf: &[u8]) -> Parse {
    if !starts_as(buf, V2_SIGNATURE) {
        return Parse::Malformed("not a PROXY header");
    }
    if buf.len() < V2_FIXED {
        if let Some(&vc) = buf.get(12) {
            if let Err(why) = v2_command(vc) {
                return Parse::Malformed(why);
            }
        }
        return Parse::Incomplete(V2_FIXED - buf.len());
    }
    let local = match v2_command(buf[12]) {
        Ok(local) => local,
        Err(why) => return Parse::Malformed(why),
    };
    let family = buf[13];
    if family >> 4 > 3 || family & 0x0f > 2 {
        return Parse::Malformed("v2: bad address family or protocol");
    }
    let len = V2_FIXED + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if buf.len() < len {
        return Parse::Incomplete(len - buf.len());
    }
    let block = &buf[V2_FIXED..len];
    let proxied = match family {
        _ if local => None,
        0x11 => {
            let Some(a) = block.get(..12) else {
                return Parse::Malformed("v2: address block too short");
            };
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            Some(Proxied {
                source: SocketAddr::new(ip(0), u16::from_be_bytes([a[8], a[9]])),
                destination: SocketAddr::new(ip(4), u16::from_be_bytes([a[10], a[11]])),
            })
        }
        0x21 => {
            let Some(a) = block.get(..36) else {
                return Parse::Malformed("v2: address block too short");
            };
            let ip = |i: usize| {
                let o: [u8; 16] = a[i..i + 16].try_into().expect("16 bytes");
                IpAddr::V6(Ipv6Addr::from(o))
            };
            Some(Proxied {
                source: SocketAddr::new(ip(0), u16::from_be_bytes([a[32], a[33]])),
                destination: SocketAddr::new(ip(16), u16::from_be_bytes([a[34], a[35]])),
            })
        }
        // UNSPEC, UDP, UNIX: the specification lets a receiver fall back
        // to the connection's own addresses. TLVs after the addresses are
        // skipped: the length covers them.
        _ => None,
    };
    Parse::Done(
        Header {
            version: 2,
            proxied,
        },
        len,
    )
}

/// The version/command byte: `Ok(true)` for LOCAL, `Ok(false)` for PROXY.
fn v2_command(vc: u8) -> Result<bool, &'static str> {
    match vc {
        0x20 => Ok(true),
        0x21 => Ok(false),
        _ if vc >> 4 != 2 => Err("v2: bad version"),
        _ => Err("v2: bad command"),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; others as they
/// are.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The balancers allowed to send a header: `$PROXYPROTOCOL`, IPv4 and IPv6
/// addresses separated by commas or white space, compared exactly (an
/// IPv4-mapped address is its IPv4 address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted(Vec<IpAddr>);

impl Trusted {
    /// Parses the list; `Err` is the first entry that is no IP address.
    pub fn parse(list: &[u8]) -> Result<Trusted, String> {
        list.split(|b| b == &b',' || b.is_ascii_whitespace())
            .filter(|e| !e.is_empty())
            .map(|e| {
                std::str::from_utf8(e)
                    .ok()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .map(unmapped)
                    .ok_or_else(|| String::from_utf8_lossy(e).into_owned())
            })
            .collect::<Result<_, _>>()
            .map(Trusted)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&unmapped(ip))
    }
}

/// The variables tcpserver names the connection by, removed: they were
/// the balancer's (its name, its ident answer).
pub const BALANCER_ONLY: [&str; 4] = [
    "TCPREMOTEHOST",
    "TCPREMOTEINFO",
    "TCP6REMOTEHOST",
    "TCP6REMOTEINFO",
];

/// The variables a native connection under Debian's IPv6 tcpserver
/// (ucspi-tcp-ipv6) would have: `PROTO` `TCP` or `TCP6` by the client's
/// address, `TCP*` in that family's text (an IPv4-mapped address as IPv4),
/// and `TCP6*` always in IPv6 text (IPv4 as `::ffff:a.b.c.d`). Together
/// with [`BALANCER_ONLY`] unset.
pub fn environment(p: &Proxied) -> [(&'static str, String); 9] {
    let (src, dst) = (unmapped(p.source.ip()), unmapped(p.destination.ip()));
    let v6 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_string(),
        IpAddr::V6(v6) => v6.to_string(),
    };
    let proto = if src.is_ipv4() { "TCP" } else { "TCP6" };
    let (sport, dport) = (
        p.source.port().to_string(),
        p.destination.port().to_string(),
    );
    [
        ("PROTO", proto.to_string()),
        ("TCPREMOTEIP", src.to_string()),
        ("TCPREMOTEPORT", sport.clone()),
        ("TCPLOCALIP", dst.to_string()),
        ("TCPLOCALPORT", dport.clone()),
        ("TCP6REMOTEIP", v6(src)),
        ("TCP6REMOTEPORT", sport),
        ("TCP6LOCALIP", v6(dst)),
        ("TCP6LOCALPORT", dport),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(buf: &[u8]) -> (Header, usize) {
        match parse(buf) {
            Parse::Done(h, n) => (h, n),
            other => panic!("{other:?} for {buf:?}"),
        }
    }

    fn malformed(buf: &[u8]) -> &'static str {
        match parse(buf) {
            Parse::Malformed(why) => why,
            other => panic!("{other:?} for {buf:?}"),
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn proxied(src: &str, dst: &str) -> Option<Proxied> {
        Some(Proxied {
            source: sa(src),
            destination: sa(dst),
        })
    }

    /// Feeds `buf` as the reader does, as many bytes as `parse` allows at
    /// a time: the result, and how much was read.
    fn fed(buf: &[u8]) -> (Parse, usize) {
        let mut n = 0;
        loop {
            match parse(&buf[..n]) {
                Parse::Incomplete(more) if n < buf.len() => n += more.min(buf.len() - n),
                other => return (other, n),
            }
        }
    }

    #[test]
    fn v1_tcp4() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";
        let (h, n) = done(line);
        assert_eq!(n, line.len());
        assert_eq!(h.version, 1);
        assert_eq!(h.proxied, proxied("192.0.2.1:56324", "198.51.100.2:25"));
    }

    #[test]
    fn v1_tcp6_and_the_longest_line() {
        let (h, _) = done(b"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
        assert_eq!(h.proxied, proxied("[2001:db8::1]:0", "[::1]:65535"));
        let f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let line = format!("PROXY UNKNOWN {f} {f} 65535 65535\r\n");
        assert_eq!(line.len(), V1_MAX);
        assert_eq!(done(line.as_bytes()).1, V1_MAX);
        let line = format!("PROXY TCP6 {f} {f} 65535 65535\r\n");
        assert_eq!(done(line.as_bytes()).1, 104);
        let long = format!("PROXY UNKNOWN {f} {f} 65535 655350\r\n");
        assert_eq!(malformed(long.as_bytes()), "v1: no CRLF in 107 bytes");
    }

    #[test]
    fn v1_unknown_uses_the_connection() {
        for line in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN anything at all 1 2\r\n",
        ] {
            assert_eq!(
                done(line),
                (
                    Header {
                        version: 1,
                        proxied: None
                    },
                    line.len()
                )
            );
        }
        assert_eq!(malformed(b"PROXY UNKNOWNX\r\n"), "v1: bad addresses");
    }

    #[test]
    fn v1_strict_syntax() {
        for bad in [
            &b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n"[..],
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
            b"PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.256 1 2\r\n",
            b"PROXY TCP4 ::1 ::1 1 2\r\n",
            b"PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 \r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\xff\r\n",
            b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
        ] {
            assert_eq!(malformed(bad), "v1: bad addresses", "{bad:?}");
        }
        assert_eq!(done(b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n").1, 32);
    }

    #[test]
    fn v1_line_ends() {
        assert_eq!(
            malformed(b"PROXY TCP4 192.0.2.1 1.2.3.4 1 2\n"),
            "v1: LF without CR"
        );
        assert_eq!(
            malformed(b"PROXY TCP4 192.0.2.1 1.2.3.4 1 2\rx"),
            "v1: CR without LF"
        );
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.1 1.2.3.4 1 2\r"),
            Parse::Incomplete(1)
        );
        let no_end = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 93]].concat();
        assert_eq!(no_end.len(), V1_MAX);
        assert_eq!(malformed(&no_end), "v1: no CRLF in 107 bytes");
    }

    #[test]
    fn garbage_is_refused_at_once() {
        assert_eq!(malformed(b"E"), "not a PROXY header");
        assert_eq!(malformed(b"EHLO x\r\n"), "not a PROXY header");
        assert_eq!(malformed(b"PROXZ"), "not a PROXY header");
        assert_eq!(malformed(b"PROXY TCP5"), "v1: unknown protocol");
        assert_eq!(malformed(b"PROXY  TCP4"), "v1: unknown protocol");
        assert_eq!(malformed(b"\r\n\r\n\0\r\nQUIX"), "not a PROXY header");
        assert_eq!(malformed(b"\r\n\r\n\0\r\nQUIT\n\x11"), "v2: bad version");
    }

    #[test]
    fn incomplete_never_asks_past_the_header() {
        assert_eq!(parse(b""), Parse::Incomplete(15));
        assert_eq!(parse(b"PROXY"), Parse::Incomplete(10));
        assert_eq!(parse(b"PROXY UNKNOWN\r"), Parse::Incomplete(1));
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Parse::Incomplete(1));
        assert_eq!(parse(b"\r\n\r\n"), Parse::Incomplete(12));
        let mut v2 = v2_header(0x21, 0x11, &[0; 12]);
        v2.truncate(20);
        assert_eq!(parse(&v2), Parse::Incomplete(8));
    }

    /// A header followed by an SMTP command: read exactly, in the steps
    /// `parse` allows, the command is never taken; parsed whole, it is
    /// left over.
    #[test]
    fn pipelined_bytes_stay_for_the_session() {
        for header in [
            b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n".to_vec(),
            b"PROXY UNKNOWN\r\n".to_vec(),
            v2_header(0x21, 0x11, &[192, 0, 2, 1, 198, 51, 100, 2, 0, 1, 0, 25]),
            v2_header(0x20, 0x00, &[]),
        ] {
            let input = [header.as_slice(), b"EHLO x\r\n"].concat();
            let (result, read) = fed(&input);
            assert!(matches!(result, Parse::Done(_, n) if n == header.len()));
            assert_eq!(read, header.len());
            assert!(matches!(parse(&input), Parse::Done(_, n) if n == header.len()));
        }
    }

    fn v2_header(vc: u8, fam: u8, block: &[u8]) -> Vec<u8> {
        let len = (block.len() as u16).to_be_bytes();
        [V2_SIGNATURE.as_slice(), &[vc, fam], &len, block].concat()
    }

    #[test]
    fn v2_tcp4_tcp6_and_tlvs() {
        let a4 = [192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0, 25];
        let (h, n) = done(&v2_header(0x21, 0x11, &a4));
        assert_eq!((h.version, n), (2, 28));
        assert_eq!(h.proxied, proxied("192.0.2.1:56324", "198.51.100.2:25"));
        // TLVs (here PP2_TYPE_NOOP) follow the addresses: skipped.
        let with_tlv = [a4.as_slice(), &[0x04, 0, 3, 1, 2, 3]].concat();
        let (h2, n) = done(&v2_header(0x21, 0x11, &with_tlv));
        assert_eq!((h2, n), (h, 34));
        let mut a6 = [0u8; 36];
        a6[..16].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        a6[31] = 1;
        a6[32..].copy_from_slice(&[0, 7, 0, 25]);
        let (h, n) = done(&v2_header(0x21, 0x21, &a6));
        assert_eq!(n, 52);
        assert_eq!(h.proxied, proxied("[2001:db8::1]:7", "[::1]:25"));
    }

    #[test]
    fn v2_local_and_other_families_use_the_connection() {
        // LOCAL: any family and block, which is skipped.
        for (vc, fam, block) in [
            (0x20, 0x00, &[][..]),
            (0x20, 0x11, &[1u8; 12][..]),
            (0x21, 0x00, &[][..]),
            (0x21, 0x12, &[1u8; 12][..]),
            (0x21, 0x22, &[1u8; 36][..]),
            (0x21, 0x31, &[0u8; 216][..]),
            (0x21, 0x32, &[0u8; 216][..]),
        ] {
            let h = v2_header(vc, fam, block);
            assert_eq!(
                done(&h),
                (
                    Header {
                        version: 2,
                        proxied: None
                    },
                    h.len()
                ),
                "{vc:#x} {fam:#x}"
            );
        }
    }

    #[test]
    fn v2_malformed() {
        assert_eq!(
            malformed(&v2_header(0x22, 0x11, &[0; 12])),
            "v2: bad command"
        );
        assert_eq!(
            malformed(&v2_header(0x11, 0x11, &[0; 12])),
            "v2: bad version"
        );
        for fam in [0x41, 0x13, 0x03] {
            assert_eq!(
                malformed(&v2_header(0x21, fam, &[0; 12])),
                "v2: bad address family or protocol"
            );
        }
        assert_eq!(
            malformed(&v2_header(0x21, 0x11, &[0; 11])),
            "v2: address block too short"
        );
        assert_eq!(
            malformed(&v2_header(0x21, 0x21, &[0; 12])),
            "v2: address block too short"
        );
        // The length caps the header at 16 + 65535 bytes.
        let big = v2_header(0x21, 0x11, &vec![0; 65535]);
        assert_eq!(done(&big).1, 65551);
    }

    #[test]
    fn trusted_list() {
        let t = Trusted::parse(b" 192.0.2.1, ::1\t2001:db8::5,,::ffff:198.51.100.7 ").unwrap();
        assert!(t.contains("192.0.2.1".parse().unwrap()));
        assert!(t.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(t.contains("198.51.100.7".parse().unwrap()));
        assert!(t.contains("::1".parse().unwrap()));
        assert!(t.contains("2001:db8:0::5".parse().unwrap()));
        assert!(!t.contains("192.0.2.2".parse().unwrap()));
        assert!(!t.contains("127.0.0.1".parse().unwrap()));
        assert_eq!(Trusted::parse(b"").unwrap(), Trusted(vec![]));
        assert_eq!(
            Trusted::parse(b"192.0.2.1,10.0.0.0/8").unwrap_err(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn environment_as_ucspi_tcp_ipv6_sets_it() {
        let env = |src: &str, dst: &str| {
            let p = proxied(src, dst).unwrap();
            environment(&p)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            env("192.0.2.1:5678", "198.51.100.2:25"),
            "PROTO=TCP TCPREMOTEIP=192.0.2.1 TCPREMOTEPORT=5678 TCPLOCALIP=198.51.100.2 \
             TCPLOCALPORT=25 TCP6REMOTEIP=::ffff:192.0.2.1 TCP6REMOTEPORT=5678 \
             TCP6LOCALIP=::ffff:198.51.100.2 TCP6LOCALPORT=25"
        );
        assert_eq!(
            env("[2001:db8:0:0::1]:5678", "[::1]:25"),
            "PROTO=TCP6 TCPREMOTEIP=2001:db8::1 TCPREMOTEPORT=5678 TCPLOCALIP=::1 \
             TCPLOCALPORT=25 TCP6REMOTEIP=2001:db8::1 TCP6REMOTEPORT=5678 \
             TCP6LOCALIP=::1 TCP6LOCALPORT=25"
        );
        // A TCP6 line with a mapped client is an IPv4 client.
        assert!(
            env("[::ffff:192.0.2.1]:1", "[::1]:25").starts_with("PROTO=TCP TCPREMOTEIP=192.0.2.1 ")
        );
    }
}
