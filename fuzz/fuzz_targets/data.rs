//! The DATA machine fed arbitrary message bytes in arbitrary chunks: no
//! panic, never more consumed than given, the same decision (where the
//! message ends, too big, bare CR, hops) whatever the chunking, and the
//! same bytes passed on for every message that is not refused. (For a
//! refused one, how much reached qmail-queue before the refusal depends on
//! the chunks; none of it is queued.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::data::Data;

/// (bytes passed on, or None for a refused message; bytes consumed; the
/// decision flags).
type Outcome = (Option<Vec<u8>>, usize, (bool, bool, u32));

fn run(input: &[u8], chunk: usize, databytes: u64, refuse_bare_cr: bool) -> Outcome {
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
                return outcome(&d, out, consumed);
            }
            if used == 0 {
                break;
            }
        }
    }
    outcome(&d, out, consumed)
}

fn outcome(d: &Data, out: Vec<u8>, consumed: usize) -> Outcome {
    let flags = (d.too_big(), d.bare_cr(), d.hops());
    ((!d.failed()).then_some(out), consumed, flags)
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
