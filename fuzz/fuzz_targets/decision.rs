//! The RCPTLOG decision line with arbitrary bytes in every value a client
//! or a file can supply: the line is printable ASCII only (no CR, LF or
//! NUL can start a line of its own), and reading it back gives exactly the
//! values written (no field can be forged). Arbitrary lines never make the
//! reader panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::decision::{self, Decision, Rule, Verdict};

fuzz_target!(|input: &[u8]| {
    let _ = decision::parse(input);
    let mut parts = input.split(|&b| b == 0xff);
    let mut next = || parts.next().unwrap_or_default();
    let (ip, helo, from, to, file) = (next(), next(), next(), next(), next());
    let sel = input.first().copied().unwrap_or(0) as usize;
    let d = Decision {
        verdict: Verdict::ALL[sel % Verdict::ALL.len()],
        code: 250 + (sel as u16 % 350),
        rule: Rule::ALL[sel % Rule::ALL.len()],
        file: (!file.is_empty()).then_some(file),
        pid: sel as u32,
        ip,
        helo,
        from,
        to,
    };
    let line = d.line();
    assert!(line.iter().all(|b| (0x20..0x7f).contains(b)), "{line:?}");
    let p = decision::parse(&line).expect("a line we wrote reads back");
    assert_eq!(
        (&p.ip[..], &p.helo[..], &p.from[..], &p.to[..]),
        (ip, helo, from, to)
    );
    assert_eq!(p.file.as_deref(), d.file);
    assert_eq!((p.verdict, p.code, p.rule, p.pid), (d.verdict, d.code, d.rule, d.pid));
});
