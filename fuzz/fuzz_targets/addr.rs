//! qmail's address parser, the SIZE parameter and rcpthosts matching fed
//! arbitrary bytes: no panic, and a parsed address never contains the
//! bytes qmail-queue's envelope cannot carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::addr::{self, Rcpthosts};
use qmail_smtpd::ipme::Ipme;
use qmail_smtpd::control::HostSet;

struct Me;
impl Ipme for Me {
    fn is_me(&mut self, ip: std::net::IpAddr) -> std::io::Result<bool> {
        Ok(ip.is_loopback())
    }
}

fuzz_target!(|arg: &[u8]| {
    let parsed = addr::parse(arg, Some(b"mx.example"), &mut Me).unwrap();
    if let Some(a) = &parsed {
        assert!(!a.contains(&0), "{a:?}");
        let mut r = Rcpthosts::from_hosts(Some(HostSet::new(vec![
            b"example.com".to_vec(),
            b".sub.example.com".to_vec(),
        ])));
        let _ = r.allowed(a);
    }
    let params = addr::parameters(arg);
    let _ = addr::declared_size(params);
});
