//! The sans-IO session, run by the production driver loop over the
//! in-memory edges, fed arbitrary client bytes cut into arbitrary reads,
//! with arbitrary recipient-check verdicts, qmail-queue outcomes, the
//! operator controls (validrcptto, RCPTCHECK and its fd 4, the tarpit,
//! RCPTLOG) and a client that ends or times out: it must never panic, every reply it
//! writes is a whole CRLF line, and every envelope is well-formed.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::control::HostSet;
use qmail_smtpd::rcptcheck::{self, Checker, Ended, Request};
use qmail_smtpd::validrcptto::{LogId, Sagredo, Simpson};
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

/// RCPTCHECK's program, its outcome chosen by the address's first byte:
/// every exit code the patches know, crashes and timeouts, an fd 4 text.
struct Program;
impl Checker for Program {
    fn run(&mut self, req: &Request) -> rcptcheck::Outcome {
        let b = req.recipient.first().copied().unwrap_or(0);
        let ended = match b % 8 {
            0 => Ended::Exited(100),
            1 => Ended::Exited(111),
            2 => Ended::Exited(112),
            3 => Ended::Exited(113),
            4 => Ended::Signaled(9),
            5 => Ended::TimedOut,
            _ => Ended::Exited(0),
        };
        rcptcheck::Outcome {
            ended,
            fd4: req.recipient.get(1..).unwrap_or_default().to_vec(),
        }
    }
}

/// The new controls, as the second flag byte turns them on: Simpson's
/// and sagredo's validrcptto (small maps for cdbs), RCPTCHECK, the tarpit,
/// the RCPTLOG line.
fn controls(setup: &mut Setup, more: u8) {
    let id = LogId {
        pid: 1,
        remote_ip: b"192.0.2.1".to_vec(),
    };
    let cdb = |keys: &[&[u8]]| -> Box<dyn qmail_smtpd::cdb::Lookup> {
        Box::new(
            keys.iter()
                .map(|k| (k.to_vec(), if k.starts_with(b"-") { b"-".to_vec() } else { Vec::new() }))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    if more & 1 != 0 {
        let keys: &[&[u8]] = &[b"u@example.com", b"a-default@example.com", b"@sub.example.com"];
        setup.validrcptto.simpson = Some(Simpson::new(cdb(keys), i32::from(more >> 5), 2, id.clone()));
    }
    if more & 2 != 0 {
        let list = HostSet::new(vec![b"u@example.com".to_vec(), b"-no@example.com".to_vec()]);
        let keys: &[&[u8]] = &[b"@sub.example.com", b"-x@example.com"];
        setup.validrcptto.sagredo = Some(Sagredo::new(Some(list), Some(cdb(keys)), id));
    }
    if more & 4 != 0 {
        let config = rcptcheck::Config {
            program: b"bin/rcptcheck".to_vec(),
            with_relayclient: more & 8 != 0,
            fd4: more & 16 != 0,
        };
        setup.rcptcheck = Some((config, Box::new(Program)));
    }
    setup.tarpit_count = i32::from(more >> 6);
    setup.tarpit_delay = 1;
    setup.rcptlog = more & 32 != 0;
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
    let Some((&chunk, rest)) = rest.split_first() else {
        return;
    };
    let Some((&more, input)) = rest.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let (mut me, mut check) = (fake::Loopback, Check);
    let mut setup = setup(flags);
    controls(&mut setup, more);
    let mut s = Session::new(setup, &mut me, &mut check);
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
    // Every decision line is printable ASCII and reads back.
    for r in &summary.logs {
        if r.line.starts_with(b"rcpt-decision ") {
            assert!(r.line.iter().all(|b| (0x20..0x7f).contains(b)), "{:?}", r.line);
            assert!(qmail_smtpd::decision::parse(&r.line).is_some(), "{:?}", r.line);
        }
    }
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
