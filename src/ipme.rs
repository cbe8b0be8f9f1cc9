//! control/localiphost's question: is a bracketed IPv4 literal one of
//! this host's own addresses? qmail's `ipme` answers it from the interface
//! list; the session asks through [`Ipme`] so that it makes no system call.

use std::io;

/// The host facts address parsing needs: whether an IPv4 literal names one of
/// this host's interfaces (control/localiphost).
pub trait Ipme {
    /// `Err` when the interface list cannot be read (421).
    fn is_me(&mut self, ip: [u8; 4]) -> io::Result<bool>;
}

/// This host's IPv4 interface addresses, read at the first bracketed
/// literal (most sessions never need them), as qmail's `ipme` lists them:
/// 0.0.0.0 and the address of every interface that is up.
#[derive(Default)]
pub struct SystemIpme {
    addrs: Option<Vec<[u8; 4]>>,
}

impl Ipme for SystemIpme {
    fn is_me(&mut self, ip: [u8; 4]) -> io::Result<bool> {
        if self.addrs.is_none() {
            let mut addrs = vec![[0, 0, 0, 0]];
            for ifa in nix::ifaddrs::getifaddrs()? {
                if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
                    continue;
                }
                if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
                    addrs.push(sin.ip().octets());
                }
            }
            self.addrs = Some(addrs);
        }
        Ok(self.addrs.as_ref().is_some_and(|a| a.contains(&ip)))
    }
}
