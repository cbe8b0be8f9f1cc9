//! The PROXY header parser fed arbitrary bytes: no panic; read as the
//! server reads it (never more than `Incomplete` allows), it never takes a
//! byte past the header, and it decides as on the whole input at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::proxy::{self, Parse};

fuzz_target!(|data: &[u8]| {
    let mut n = 0;
    let stepped = loop {
        match proxy::parse(&data[..n]) {
            Parse::Incomplete(more) => {
                assert!(more >= 1);
                if n == data.len() {
                    break None;
                }
                n += more.min(data.len() - n);
            }
            other => break Some(other),
        }
    };
    let whole = proxy::parse(data);
    match stepped {
        Some(Parse::Done(header, len)) => {
            assert_eq!(len, n, "read past the header");
            assert_eq!(whole, Parse::Done(header, len));
            if let Some(p) = &header.proxied {
                let _ = proxy::environment(p);
            }
        }
        Some(Parse::Malformed(_)) => assert!(matches!(whole, Parse::Malformed(_))),
        Some(Parse::Incomplete(_)) => unreachable!(),
        None => assert!(matches!(whole, Parse::Incomplete(_))),
    }
    let _ = proxy::Trusted::parse(data);
});
