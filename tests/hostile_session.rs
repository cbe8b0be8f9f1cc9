//! Hostile input against the sans-IO session, in-process through the
//! production driver loop (with the in-memory edges of `fake`): no panic on
//! any input, replies always well-formed, chunking never changes the
//! answer, and no address form relays to a domain outside rcpthosts.

use proptest::prelude::*;

use qmail_smtpd::fake;
use qmail_smtpd::resolve::{RcptCheck, Verdict};
use qmail_smtpd::session::{Action, Session, Setup};

/// Unknown when the local part starts with "no".
struct Fake;
impl RcptCheck for Fake {
    fn check(&mut self, addr: &[u8], _log: &mut Vec<qmail_smtpd::logger::Record>) -> Verdict {
        if addr.starts_with(b"no") {
            Verdict::Unknown
        } else {
            Verdict::Accept
        }
    }
}

fn setup(relayclient: Option<&[u8]>) -> Setup {
    Setup {
        relayclient: relayclient.map(<[u8]>::to_vec),
        ..fake::setup()
    }
}

/// Everything one session produced: replies, the envelopes handed to
/// qmail-queue, the message bytes, and the exit status.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    out: Vec<u8>,
    envelopes: Vec<Vec<u8>>,
    messages: Vec<Vec<u8>>,
    exit: i32,
}

/// Runs the session through the production driver loop, the input cut
/// into reads at `cuts`.
fn run(input: &[u8], cuts: &[usize], relayclient: Option<&[u8]>) -> Run {
    let (mut ipme, mut check) = (fake::Loopback, Fake);
    let mut s = Session::new(setup(relayclient), &mut ipme, &mut check);
    s.greet();
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.push(input.len());
    bounds.sort();
    let mut reads = Vec::new();
    let mut start = 0;
    for end in bounds {
        reads.push(input[start..end].to_vec());
        start = end;
    }
    let (exit, events) = fake::run(&mut s, reads, fake::End::Eof, Vec::new());
    let summary = fake::summary(&events);
    Run {
        out: summary.output,
        envelopes: summary.queued.iter().map(|(_, e)| e.clone()).collect(),
        messages: summary.queued.into_iter().map(|(m, _)| m).collect(),
        exit,
    }
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"HELO x\r\n".to_vec()),
        Just(b"EHLO x\r\n".to_vec()),
        Just(b"MAIL FROM:<a@b>\r\n".to_vec()),
        Just(b"MAIL FROM:<s@bad.example>\r\n".to_vec()),
        Just(b"MAIL FROM:<a@b> SIZE=5000\r\n".to_vec()),
        Just(b"STARTTLS\r\n".to_vec()),
        Just(b"RCPT TO:<u@example.com>\r\n".to_vec()),
        Just(b"RCPT TO:<no@example.com>\r\n".to_vec()),
        Just(b"RCPT TO:<u@evil.example>\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b"RSET\r\n".to_vec()),
        Just(b"NOOP\r\n".to_vec()),
        Just(b".\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b".".to_vec()),
        Just(b"Received: x\r\n".to_vec()),
        Just(b"QUIT\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn session_input() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(token(), 0..60).prop_map(|v| v.concat())
}

/// Every reply line is `DDD` then space or dash, and ends in CRLF.
fn well_formed(out: &[u8]) -> bool {
    out.split_inclusive(|&b| b == b'\n').all(|line| {
        line.len() >= 6
            && line[..3].iter().all(u8::is_ascii_digit)
            && (line[3] == b' ' || line[3] == b'-')
            && line.ends_with(b"\r\n")
            && !line[..line.len() - 2].contains(&b'\r')
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn any_input_any_chunking_same_answer(input in session_input(), cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
        let whole = run(&input, &[], None);
        prop_assert!(well_formed(&whole.out), "{:?}", String::from_utf8_lossy(&whole.out));
        let chunked = run(&input, &cuts, None);
        prop_assert_eq!(&whole, &chunked);
        // One DATA never yields two messages: at most one per 354.
        let go_aheads = whole.out.windows(4).filter(|w| w == b"354 ").count();
        prop_assert!(whole.messages.len() <= go_aheads);
    }

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2000), cuts in proptest::collection::vec(any::<usize>(), 0..10)) {
        let r = run(&input, &cuts, None);
        prop_assert!(well_formed(&r.out));
    }

    #[test]
    fn no_address_form_relays(local in "[a-z%!@.\"\\\\ ]{0,12}", domain in "[a-zA-Z.@%\\[\\]0-9]{0,20}", tail in "[.>\" ]{0,2}") {
        let addr = format!("{local}@{domain}{tail}");
        let input = format!("MAIL FROM:<a@b>\r\nRCPT TO:<{addr}>\r\nDATA\r\nx\r\n.\r\n");
        let r = run(input.as_bytes(), &[], None);
        for env in &r.envelopes {
            assert_not_relayed(env);
        }
    }
}

/// Every recipient handed to qmail-queue either has no `@` (qmail-send adds
/// envnoathost) or a domain, after its last `@`, that rcpthosts lists.
fn assert_not_relayed(envelope: &[u8]) {
    for field in envelope.split(|&b| b == 0) {
        if let Some(rcpt) = field.strip_prefix(b"T") {
            if let Some(at) = rcpt.iter().rposition(|&b| b == b'@') {
                let domain = rcpt[at + 1..].to_ascii_lowercase();
                assert!(
                    domain == b"example.com" || domain.ends_with(b".sub.example.com"),
                    "relayed to {:?}",
                    String::from_utf8_lossy(rcpt)
                );
            }
        }
    }
}

#[test]
fn open_relay_corpus() {
    let attempts = [
        "u%evil.example@example.com.evil.example",
        "u@evil.example",
        "u@EVIL.example",
        "evil.example!u",
        "u@evil.example@",
        "u@example.com@evil.example",
        "\"u@example.com\"@evil.example",
        "u\\@example.com@evil.example",
        "@example.com:u@evil.example",
        "@example.com,@x:u@evil.example",
        "u@[192.0.2.9]",
        "u@[127.0.0.1]",
        "u@example.com.",
        "u@.example.com",
        "u@example.com.evil.example",
        "u@sub.example.com.evil.example",
        "u@evil.example\u{0}@example.com",
        "u@evil.example\u{ff}",
        "u@xexample.com",
        "u@evil.example>@example.com",
        "u@evil.example example.com",
    ];
    for a in attempts {
        let input = format!("MAIL FROM:<a@b>\r\nRCPT TO:<{a}>\r\nDATA\r\nx\r\n.\r\n");
        let r = run(input.as_bytes(), &[], None);
        for env in &r.envelopes {
            assert_not_relayed(env);
        }
        let rcpt_reply = String::from_utf8_lossy(&r.out)
            .lines()
            .nth(2)
            .unwrap_or("")
            .to_string();
        assert!(
            rcpt_reply.starts_with("553 ") || !r.envelopes.is_empty(),
            "{a:?}: {rcpt_reply:?}"
        );
    }
    // Accepted forms that stay local: the domain after the last @ is ours.
    for a in [
        "u%evil.example@example.com",
        "evil.example!u@example.com",
        "u@evil.example@example.com",
        "u@a.sub.example.com",
    ] {
        let input = format!("MAIL FROM:<a@b>\r\nRCPT TO:<{a}>\r\nDATA\r\nx\r\n.\r\n");
        let r = run(input.as_bytes(), &[], None);
        assert_eq!(
            r.envelopes.len(),
            1,
            "{a}: {}",
            String::from_utf8_lossy(&r.out)
        );
    }
}

#[test]
fn smuggling_variants_never_make_two_messages() {
    let variants: [&[u8]; 8] = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\r",
        b"\r\n\x00.\r\n",
        b".\r\r\n",
    ];
    for v in variants {
        let mut input = b"MAIL FROM:<a@b>\r\nRCPT TO:<u@example.com>\r\nDATA\r\nhello".to_vec();
        input.extend_from_slice(v);
        input.extend_from_slice(
            b"MAIL FROM:<evil@b>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nspoof\r\n.\r\n",
        );
        let r = run(&input, &[], Some(b""));
        assert!(
            r.messages.len() <= 1,
            "{v:?}: {}",
            String::from_utf8_lossy(&r.out)
        );
        for env in &r.envelopes {
            assert!(
                !env.windows(4).any(|w| w == b"evil"),
                "{v:?}: smuggled {:?}",
                String::from_utf8_lossy(env)
            );
        }
        let replies = String::from_utf8_lossy(&r.out);
        assert_eq!(
            replies
                .matches(&format!("250 ok {} qp {}", fake::NOW, fake::PID))
                .count(),
            r.messages.len(),
            "{v:?}: {replies}"
        );
    }
}

#[test]
fn pipelined_rcpts_beyond_the_limit_get_452() {
    let mut input = b"MAIL FROM:<a@b>\r\n".to_vec();
    for _ in 0..200_000 {
        input.extend_from_slice(b"RCPT TO:<u@example.com>\r\n");
    }
    let r = run(&input, &[65536, 131072], None);
    let text = String::from_utf8_lossy(&r.out);
    assert_eq!(text.matches("250 ok\r\n").count(), 1 + 50);
    assert_eq!(
        text.matches("452 sorry, too many recipients (#4.5.3)\r\n")
            .count(),
        200_000 - 50
    );
}

#[test]
fn unknown_recipient_delay_is_a_sleep_after_the_550() {
    let (mut ipme, mut check) = (fake::Loopback, Fake);
    let mut setup = setup(None);
    setup.unknown_delay = 3;
    let mut s = Session::new(setup, &mut ipme, &mut check);
    let input = b"MAIL FROM:<a@b>\r\nRCPT TO:<no@example.com>\r\nRCPT TO:<u@example.com>\r\n";
    let (used, action) = s.handle(input);
    assert_eq!(action, Action::Sleep(3));
    assert_eq!(
        s.output().as_slice(),
        b"250 ok\r\n550 sorry, no mailbox here by that name. (#5.1.1)\r\n"
    );
    s.output().clear();
    // Known recipients are not delayed.
    let (rest, action) = s.handle(&input[used..]);
    assert_eq!((used + rest, action), (input.len(), Action::NeedInput));
    assert_eq!(s.output().as_slice(), b"250 ok\r\n");
}

/// The realrcptto log lines, in-process: the session hands them to the I/O
/// layer as records, in the patch's exact format, with the deferral line
/// beside them; nothing else is always-on.
#[test]
fn realrcptto_log_lines_are_session_output() {
    struct Check;
    impl RcptCheck for Check {
        fn check(&mut self, addr: &[u8], log: &mut Vec<qmail_smtpd::logger::Record>) -> Verdict {
            match addr {
                b"no@example.com" => Verdict::Unknown,
                b"later@example.com" => {
                    log.push(qmail_smtpd::logger::Record::always(
                        b"unable to stat /h/x: access denied".to_vec(),
                    ));
                    Verdict::Defer(qmail_smtpd::resolve::Deferral::NoAlias)
                }
                _ => Verdict::Accept,
            }
        }
    }
    let mut ipme = fake::Loopback;
    let mut check = Check;
    let mut s = Session::new(
        Setup {
            log_ip: b"192.0.2.9".to_vec(),
            pid: 4321,
            ..setup(None)
        },
        &mut ipme,
        &mut check,
    );
    s.greet();
    let input = b"MAIL FROM:<a@b>\r\nRCPT TO:<no@example.com>\r\nRCPT TO:<later@example.com>\r\nRCPT TO:<u@example.com>\r\n";
    let mut at = 0;
    while at < input.len() {
        let (used, _) = s.handle(&input[at..]);
        at += used;
    }
    let always: Vec<String> = s
        .logs()
        .iter()
        .filter(|r| r.level.is_none())
        .map(|r| String::from_utf8_lossy(&r.line).into_owned())
        .collect();
    assert_eq!(
        always,
        [
            "realrcptto 4321 192.0.2.9 no@example.com",
            "unable to stat /h/x: access denied",
            "realrcptto-deferred 4321 192.0.2.9 later@example.com: Unable to find alias user! \
             (qmail-lspawn: no user name matched and there is no user alias)",
        ]
    );
    assert_eq!(
        String::from_utf8_lossy(s.output()),
        "220 mx.example ESMTP\r\n250 ok\r\n550 sorry, no mailbox here by that name. (#5.1.1)\r\n\
         451 sorry, that mailbox is temporarily unavailable (#4.2.1)\r\n250 ok\r\n"
    );
}
