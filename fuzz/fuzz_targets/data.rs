//! The DATA machine fed arbitrary message bytes in arbitrary chunks: no
//! panic, never more consumed than given, and the bytes it passes on are
//! the same whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::data::Data;

fn run(input: &[u8], chunk: usize, databytes: u64, refuse_bare_cr: bool) -> (Vec<u8>, usize) {
    let mut d = Data::new(databytes, refuse_bare_cr);
    let mut out = Vec::new();
    let mut consumed = 0;
    for piece in input.chunks(chunk) {
        let mut at = 0;
        while at < piece.len() {
            let (used, status) = d.feed(&piece[at..], &mut out);
            assert!(used <= piece.len() - at);
            at += used;
            consumed += used;
            if format!("{status:?}") != "More" {
                return (out, consumed);
            }
            if used == 0 {
                break;
            }
        }
    }
    (out, consumed)
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, input)) = input.split_first() else {
        return;
    };
    let databytes = if flags & 1 != 0 { 100 } else { 0 };
    let refuse = flags & 2 != 0;
    let whole = run(input, input.len().max(1), databytes, refuse);
    let chunked = run(input, usize::from(flags >> 2).max(1), databytes, refuse);
    assert_eq!(whole, chunked);
});
