//! The sans-IO session fed arbitrary client bytes, cut into arbitrary
//! chunks, with arbitrary recipient-check verdicts and qmail-queue exits:
//! it must never panic, and every reply it writes is a whole CRLF line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::addr::{Ipme, Rcpthosts};
use qmail_smtpd::control::HostSet;
use qmail_smtpd::queue::Outcome;
use qmail_smtpd::resolve::{Deferral, RcptCheck, Verdict};
use qmail_smtpd::session::{Action, Session, Setup, Started};

struct Me;
impl Ipme for Me {
    fn is_me(&mut self, ip: [u8; 4]) -> std::io::Result<bool> {
        Ok(ip == [127, 0, 0, 1])
    }
}

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
        greeting: b"mx.example".to_vec(),
        localiphost: Some(b"mx.example".to_vec()),
        rcpthosts: Rcpthosts::from_hosts(Some(HostSet::new(vec![
            b"example.com".to_vec(),
            b".sub.example.com".to_vec(),
        ]))),
        badmailfrom: HostSet::new(vec![b"@bad.example".to_vec()]),
        databytes: if flags & 1 != 0 { 300 } else { 0 },
        relayclient: (flags & 2 != 0).then(|| b"".to_vec()),
        remote_ip: b"192.0.2.1".to_vec(),
        remote_host: b"client.example".to_vec(),
        remote_info: None,
        local: b"mx.example".to_vec(),
        log_ip: Vec::new(),
        pid: 1,
        deny_all: flags & 4 != 0,
        allow_bare_cr: flags & 8 != 0,
        max_rcpt: 20,
        max_unknown: 10,
        unknown_delay: 0,
        starttls: flags & 16 != 0,
        require_tls: flags & 32 != 0,
        cipher: None,
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
    let (mut me, mut check) = (Me, Check);
    let mut s = Session::new(setup(flags), &mut me, &mut check);
    s.greet();
    let mut out = Vec::new();
    let mut queue_runs = 0u8;
    'chunks: for piece in input.chunks(chunk) {
        let mut at = 0;
        while at < piece.len() {
            let (used, action) = s.handle(&piece[at..]);
            assert!(used <= piece.len() - at);
            at += used;
            out.append(s.output());
            match action {
                Action::NeedInput => {
                    if used == 0 && at < piece.len() {
                        // The session wants more than this piece holds.
                        break;
                    }
                }
                Action::Sleep(_) => {}
                Action::StartTls => s.starttls_failed(),
                Action::StartQueue => {
                    queue_runs = queue_runs.wrapping_add(1);
                    let started = match queue_runs % 4 {
                        0 => Started::Failed,
                        1 => Started::ExecFailed,
                        _ => Started::Running(7),
                    };
                    s.queue_started(started, 0);
                }
                Action::WriteQueue => s.queue_buffer().clear(),
                Action::FinishQueue(env) => {
                    s.queue_buffer().clear();
                    let outcome = Outcome::Exited(i32::from(flags >> 6) * 40);
                    s.queue_finished(outcome, env.is_none(), None, 0);
                }
                Action::Exit(_) => {
                    out.append(s.output());
                    break 'chunks;
                }
            }
        }
    }
    out.append(s.output());
    // Every reply is whole lines: CRLF-terminated, no bare CR or LF.
    assert!(out.is_empty() || out.ends_with(b"\r\n"), "{out:?}");
    for line in out.split(|&b| b == b'\n') {
        if !line.is_empty() {
            assert!(line.ends_with(b"\r"), "{out:?}");
            assert!(!line[..line.len() - 1].contains(&b'\r'), "{out:?}");
        }
    }
});
