//! The PROXY header read from fd 0 at start-up and applied to the process
//! environment, before anything reads it: the controls, the Received
//! header, the log lines, qmail-queue and the exec of qmail-smtpd-tls then
//! all see the client, as under tcpserver without a balancer.
//!
//! Read exactly: no byte after the header is taken, so a client's first
//! command (or TLS handshake) stays in the socket for the session.

use std::fmt;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;

use super::{Header, Parse, Trusted};
use crate::setup::Peer;

/// Enables the header: the trusted balancers' addresses.
pub const VAR: &str = "PROXYPROTOCOL";
/// A tcprules cdb applied to the client's address.
pub const RULES_VAR: &str = "PROXYRULES";

/// Why a connection is closed without a reply: the log line.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    BadList(String),
    NoPeer,
    Untrusted(IpAddr),
    Malformed(IpAddr, &'static str),
    Timeout(IpAddr, u64),
    Closed(IpAddr),
    Read(IpAddr, String),
    Rules(String),
    Denied(String, Vec<u8>),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("PROXY refused: ")?;
        match self {
            Refused::BadList(e) => write!(f, "{VAR} entry is no IP address: {e}"),
            Refused::NoPeer => write!(f, "no peer address to check against {VAR}"),
            Refused::Untrusted(ip) => write!(f, "{ip} is not a balancer in {VAR}"),
            Refused::Malformed(ip, why) => write!(f, "malformed header from {ip}: {why}"),
            Refused::Timeout(ip, t) => {
                let s = if *t == 1 { "" } else { "s" };
                write!(f, "no header from {ip} within {t} second{s}")
            }
            Refused::Closed(ip) => write!(f, "{ip} closed the connection before the header"),
            Refused::Read(ip, e) => write!(f, "reading the header from {ip}: {e}"),
            Refused::Rules(e) => write!(f, "{RULES_VAR}: {e}"),
            Refused::Denied(ip, key) => {
                let key = String::from_utf8_lossy(key);
                write!(f, "{ip} denied by {RULES_VAR} rule \"{key}\"")
            }
        }
    }
}

/// Checks the peer against `list` (the value of `$PROXYPROTOCOL`), reads
/// the header within `timeout` seconds and applies it. `Err` is logged
/// and the connection closed, with no SMTP reply.
pub fn accept(list: &[u8], timeout: u64) -> Result<(), Refused> {
    let trusted = Trusted::parse(list).map_err(Refused::BadList)?;
    let peer = std::env::var("TCPREMOTEIP")
        .ok()
        .or_else(|| {
            let remote = Peer::of_stdin().remote?;
            String::from_utf8(remote).ok()
        })
        .and_then(|s| s.parse::<IpAddr>().ok())
        .ok_or(Refused::NoPeer)?;
    if !trusted.contains(peer) {
        return Err(Refused::Untrusted(peer));
    }
    let header = read(peer, timeout)?;
    let mut env = Changes::default();
    if let Some(p) = &header.proxied {
        for name in super::BALANCER_ONLY {
            env.unset(name);
        }
        for (name, value) in super::environment(p) {
            env.set(name.as_bytes(), value.as_bytes());
        }
        log::info!(
            "PROXY v{} from {peer}: client {} port {}",
            header.version,
            super::unmapped(p.source.ip()),
            p.source.port()
        );
        if let Some(path) = std::env::var_os(RULES_VAR) {
            let client = super::unmapped(p.source.ip()).to_string();
            let mut cdb =
                crate::cdb::Named::open(path.into()).map_err(|e| Refused::Rules(e.to_string()))?;
            let rule = crate::tcprules::lookup(&mut cdb, client.as_bytes())
                .map_err(|e| Refused::Rules(e.to_string()))?;
            if let Some(rule) = rule {
                if rule.deny {
                    return Err(Refused::Denied(client, rule.key));
                }
                for (name, value) in &rule.set {
                    env.set(name, value);
                }
            }
        }
    }
    // Last, whatever a rule set: the header is read, and qmail-smtpd-tls,
    // exec'd for SMTPS or STARTTLS, must not wait for a second one.
    env.unset(VAR);
    env.apply();
    Ok(())
}

/// Reads the header from fd 0, never a byte past it.
fn read(peer: IpAddr, timeout: u64) -> Result<Header, Refused> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut buf = Vec::with_capacity(super::V1_MAX);
    loop {
        let more = match super::parse(&buf) {
            Parse::Incomplete(more) => more,
            Parse::Done(header, _) => return Ok(header),
            Parse::Malformed(why) => return Err(Refused::Malformed(peer, why)),
        };
        match crate::io::wait(fd, PollFlags::POLLIN, deadline) {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Refused::Timeout(peer, timeout));
            }
            Err(e) => return Err(Refused::Read(peer, e.to_string())),
            Ok(()) => {}
        }
        let old = buf.len();
        buf.resize(old + more, 0);
        match nix::unistd::read(fd, &mut buf[old..]) {
            Ok(0) => return Err(Refused::Closed(peer)),
            Ok(n) => buf.truncate(old + n),
            Err(Errno::EINTR | Errno::EAGAIN) => buf.truncate(old),
            Err(e) => return Err(Refused::Read(peer, e.to_string())),
        }
    }
}

/// Environment changes, collected first and made together once the
/// connection is accepted.
#[derive(Default)]
struct Changes(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Changes {
    fn set(&mut self, name: &[u8], value: &[u8]) {
        self.0.push((name.to_vec(), Some(value.to_vec())));
    }
    fn unset(&mut self, name: &str) {
        self.0.push((name.as_bytes().to_vec(), None));
    }

    /// A name set_var cannot take (empty, `=`, NUL; a hand-made cdb could
    /// hold one) is skipped, as the C library's setenv refuses it.
    #[allow(unsafe_code)]
    fn apply(self) {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        for (name, value) in self.0 {
            if name.is_empty() || name.contains(&b'=') || name.contains(&0) {
                continue;
            }
            let name = OsStr::from_bytes(&name);
            // SAFETY: start-up of a single-threaded process (no thread is
            // ever started before the session), so nothing reads the
            // environment concurrently.
            match value {
                Some(v) if !v.contains(&0) => unsafe {
                    std::env::set_var(name, OsStr::from_bytes(&v))
                },
                Some(_) => {}
                None => unsafe { std::env::remove_var(name) },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let lines = [
            (
                Refused::BadList("10.0.0.0/8".into()),
                "PROXY refused: PROXYPROTOCOL entry is no IP address: 10.0.0.0/8",
            ),
            (
                Refused::NoPeer,
                "PROXY refused: no peer address to check against PROXYPROTOCOL",
            ),
            (
                Refused::Untrusted(ip),
                "PROXY refused: 127.0.0.1 is not a balancer in PROXYPROTOCOL",
            ),
            (
                Refused::Malformed(ip, "not a PROXY header"),
                "PROXY refused: malformed header from 127.0.0.1: not a PROXY header",
            ),
            (
                Refused::Timeout(ip, 2),
                "PROXY refused: no header from 127.0.0.1 within 2 seconds",
            ),
            (
                Refused::Closed(ip),
                "PROXY refused: 127.0.0.1 closed the connection before the header",
            ),
            (
                Refused::Denied("192.0.2.1".into(), b"192.0.".to_vec()),
                "PROXY refused: 192.0.2.1 denied by PROXYRULES rule \"192.0.\"",
            ),
        ];
        for (r, line) in lines {
            assert_eq!(r.to_string(), line);
        }
    }
}
