//! control/localiphost's question: is a bracketed address literal one of
//! this host's own addresses? qmail's `ipme` answers it from the interface
//! list; the session asks through [`Ipme`] so that it makes no system call.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host facts address parsing needs: whether an address names one of
/// this host's interfaces (control/localiphost).
pub trait Ipme {
    /// `Err` when the interface list cannot be read (421).
    fn is_me(&mut self, ip: IpAddr) -> io::Result<bool>;
}

/// This host's interface addresses, read at the first bracketed literal
/// (most sessions never need them), as qmail's `ipme` lists them: 0.0.0.0
/// and the address of every interface that is up. netqmail's list has
/// IPv4 only; ours has the IPv6 ones too, and `::`, which is to IPv6 what
/// 0.0.0.0 is to IPv4 (a connection to it reaches this host).
#[derive(Default)]
pub struct SystemIpme {
    addrs: Option<Vec<IpAddr>>,
}

impl Ipme for SystemIpme {
    fn is_me(&mut self, ip: IpAddr) -> io::Result<bool> {
        if self.addrs.is_none() {
            let mut addrs = vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ];
            for ifa in nix::ifaddrs::getifaddrs()? {
                if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
                    continue;
                }
                let Some(a) = ifa.address.as_ref() else {
                    continue;
                };
                if let Some(sin) = a.as_sockaddr_in() {
                    addrs.push(IpAddr::V4(sin.ip()));
                } else if let Some(sin6) = a.as_sockaddr_in6() {
                    addrs.push(IpAddr::V6(sin6.ip()));
                }
            }
            self.addrs = Some(addrs);
        }
        Ok(self.addrs.as_ref().is_some_and(|a| a.contains(&ip)))
    }
}
