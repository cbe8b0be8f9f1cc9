//! RCPTCHECK's fd 4 text (sagredo's USE_FD4), whatever a program writes
//! there: the reply it becomes is one well-formed SMTP line (a 4xx or 5xx
//! code, printable bytes, CRLF once, at the end, at most REPLY_MAX
//! bytes), so a program can never add reply lines of its own; and the
//! decision for every exit code keeps to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::rcptcheck::{self, Decision, Ended, Outcome};

fn well_formed(reply: &[u8]) {
    assert!(reply.len() <= rcptcheck::REPLY_MAX, "{reply:?}");
    let line = reply.strip_suffix(b"\r\n").expect("CRLF at the end");
    assert!(line.len() >= 3, "{reply:?}");
    assert!(matches!(line[0], b'4' | b'5'), "{reply:?}");
    assert!(line[1..3].iter().all(u8::is_ascii_digit), "{reply:?}");
    // No continuation line: a space (or nothing) after the code.
    assert!(line.len() == 3 || line[3] == b' ', "{reply:?}");
    assert!(line.iter().all(|b| (0x20..0x7f).contains(b)), "{reply:?}");
}

fuzz_target!(|input: &[u8]| {
    let Some((&code, raw)) = input.split_first() else {
        return;
    };
    if let Some(reply) = rcptcheck::fd4_reply(raw) {
        well_formed(&reply);
    }
    let outcome = Outcome {
        ended: Ended::Exited(i32::from(code)),
        fd4: raw.to_vec(),
    };
    match rcptcheck::decide(&outcome) {
        Decision::Accept | Decision::Ignore => {}
        Decision::Refuse { reply, close } => {
            well_formed(&reply);
            assert_eq!(close, reply.starts_with(b"421"), "{reply:?}");
        }
    }
});
