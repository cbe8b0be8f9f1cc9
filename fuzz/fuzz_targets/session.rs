//! The sans-IO session, run by the production driver loop over the
//! in-memory edges, fed arbitrary client bytes cut into arbitrary reads,
//! with arbitrary recipient-check verdicts, qmail-queue outcomes and a
//! client that ends or times out: it must never panic, every reply it
//! writes is a whole CRLF line, and every envelope is well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::fake::{self, Behaviour, End};
use qmail_smtpd::queue::Outcome;
use qmail_smtpd::resolve::{Deferral, RcptCheck, Verdict};
use qmail_smtpd::session::{Session, Setup};

/// The verdict is chosen by the address's last byte.
struct Check;
impl RcptCheck for Check {
    fn check(&mut self, addr: &[u8], _log: &mut Vec<qmail_smtpd::logger::Record>) -> Verdict {
        match addr.last().copied().unwrap_or(0) % 5 {
            0 => Verdict::Unknown,
            1 => Verdict::Defer(Deferral::NoAlias),
            2 if addr.len() % 7 == 0 => Verdict::CdbTrouble,
            _ => Verdict::Accept,
        }
    }
}

fn setup(flags: u8) -> Setup {
    Setup {
        databytes: if flags & 1 != 0 { 300 } else { 0 },
        relayclient: (flags & 2 != 0).then(|| b"".to_vec()),
        deny_all: flags & 4 != 0,
        allow_bare_cr: flags & 8 != 0,
        max_rcpt: 20,
        max_unknown: 10,
        starttls: flags & 16 != 0,
        require_tls: flags & 32 != 0,
        ..fake::setup()
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let Some((&chunk, input)) = rest.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let (mut me, mut check) = (fake::Loopback, Check);
    let mut s = Session::new(setup(flags), &mut me, &mut check);
    s.greet();
    // qmail-queue's runs, in turn: unstartable, unexecutable, then exiting
    // with a code the flags choose (0, 82 with an fd 6 text, 31 or 120).
    let code = [0, 82, 31, 120][usize::from(flags >> 6)];
    let queue = vec![
        Behaviour::Ends(Outcome::Exited(code), Some(b"Dcustom\r\nrefusal".to_vec())),
        Behaviour::Unexecutable,
        Behaviour::Unstartable,
        Behaviour::Ends(Outcome::Exited(code), None),
    ];
    let reads = input.chunks(chunk).map(<[u8]>::to_vec);
    let end = if flags & 64 != 0 { End::Timeout } else { End::Eof };
    let (_, events) = fake::run(&mut s, reads, end, queue);
    let summary = fake::summary(&events);
    let out = summary.output;
    // Every reply is whole lines: CRLF-terminated, no bare CR or LF.
    assert!(out.is_empty() || out.ends_with(b"\r\n"), "{out:?}");
    for line in out.split(|&b| b == b'\n') {
        if !line.is_empty() {
            assert!(line.ends_with(b"\r"), "{out:?}");
            assert!(!line[..line.len() - 1].contains(&b'\r'), "{out:?}");
        }
    }
    // Every queued envelope is well-formed: F, then T entries, each ending
    // in NUL, and a final NUL; no recipient without its domain check.
    for (_, env) in &summary.queued {
        assert!(env.starts_with(b"F") && env.ends_with(b"\0\0"), "{env:?}");
    }
});
