//! SMTP AUTH's exchanges fed arbitrary client lines: no panic, every
//! prompt is one `334` line, and whatever checkpassword is asked has a
//! non-empty user and secret without NUL, so fd 3 always carries exactly
//! the interface's three NUL-terminated fields. Also the argument and
//! SMTPAUTH parsing, fed arbitrary words.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::auth::{self, Config, Mechanism, Step};

fn check(step: &Step) {
    match step {
        Step::Prompt(line, _) => {
            let text = line.strip_prefix(b"334 ").expect("a 334 prompt");
            let text = text.strip_suffix(b"\r\n").expect("CRLF at the end");
            assert!(!text.contains(&b'\r') && !text.contains(&b'\n'), "{line:?}");
        }
        Step::Check(req) => {
            assert!(!req.user.is_empty() && !req.secret.is_empty(), "{req:?}");
            assert!(!req.user.contains(&0) && !req.secret.contains(&0), "{req:?}");
            let fd3 = req.fd3();
            assert_eq!(fd3.iter().filter(|&&b| b == 0).count(), 3 + req.challenge.iter().filter(|&&b| b == 0).count());
            assert!(fd3.ends_with(b"\0"));
        }
        Step::Refuse(reply) => {
            assert!(matches!(reply.first(), Some(b'4' | b'5')), "{reply:?}");
            assert!(reply.ends_with(b"\r\n"));
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    // Lines of the exchange, split at LF (the session hands them over
    // without CR LF).
    let mut lines = rest.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let mechanism = match selector % 3 {
        0 => Mechanism::Login,
        1 => Mechanism::Plain,
        _ => Mechanism::CramMd5,
    };
    let mut step = auth::start(mechanism, first, || auth::challenge(4242, 0, b"mx.example"));
    check(&step);
    for line in lines {
        let Step::Prompt(_, pending) = step else { break };
        step = auth::resume(pending, line);
        check(&step);
    }
    if let Some(decoded) = auth::decode(rest) {
        assert_eq!(auth::decode(&auth::encode(&decoded)), Some(decoded));
    }
    // The arguments and $SMTPAUTH, as words of the same input.
    let words: Vec<Vec<u8>> = rest.split(|&b| b == b' ').map(<[u8]>::to_vec).collect();
    let smtpauth = (selector & 4 != 0).then(|| words.first().cloned().unwrap_or_default());
    if let Some(config) = Config::from_args(&words, |name| {
        (name == "SMTPAUTH").then(|| smtpauth.clone()).flatten()
    }) {
        let lines = config.ehlo_lines();
        assert!(lines.is_empty() || lines.ends_with(b"\r\n"));
        for name in [&b"LOGIN"[..], b"plain", b"CRAM-MD5", first] {
            let _ = config.mechanism(name);
        }
    }
});
