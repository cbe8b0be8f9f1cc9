//! Golden transcripts: a conversation in the order it happens, replayed
//! in-process through the production driver loop (the in-memory edges of
//! `qmail_smtpd::fake`) and through the built binary over pipes.
//!
//! Each `tests/transcripts/*.t` file holds directives:
//!
//! ```text
//! # comment
//! ctl NAME TEXT      control/NAME gets TEXT (`\n`, `\r`, `\t`, `\0`, `\xHH`, `\\` escapes) + LF
//! env NAME=VALUE     environment for the server (escapes as above)
//! queue N            the stand-in qmail-queue exits N (default 0)
//! queue unstartable  qmail-queue cannot be started (pipe/fork failure;
//!                    in-process only)
//! only inprocess     skip the binary run (or: only binary)
//! exit N             the server's exit status (default: 0 after QUIT, else 1)
//!
//! C: TEXT            the client sends TEXT + CRLF
//! C> TEXT            the client sends TEXT as is
//! S: TEXT            the server answers TEXT + CRLF
//! M: TEXT            a line of the message qmail-queue got: TEXT + LF
//! E: FIELD           a field of its envelope (`Fsender`, `Trecipient`);
//!                    `E: -` when it got none (the message was refused)
//! L: TEXT            a log line (realrcptto lines, warnings)
//! P: N               a pause of N seconds (UNKNOWNRCPTDELAY, tarpit)
//! Q: NAME=VALUE      a variable qmail-queue got beyond the server's own
//!                    (SMTP AUTH; in-process only)
//! args WORDS...      the server's arguments (SMTP AUTH); `HOME/` is the
//!                    fixture's qmail home, whose bin/checkpassword is
//!                    support::CHECKPASSWORD
//! ```
//!
//! The C/S/M/E/L lines are in the order things happen: each reply follows
//! the command it answers, a message follows the line that ended it. The
//! in-process run checks that order exactly, sending one `C` line per
//! read; it also sends the whole input at once and in chunks of 1 and 7
//! bytes (pipelining), where only the replies, what was queued and the
//! log must be the same. The binary gets the whole input at once; its
//! replies, what the stand-in qmail-queue recorded, and its realrcptto
//! log lines must match.
//!
//! Masks: `250 ok UNIXTIME qp PID` reads `250 ok TIME qp PID`; the
//! Received date reads `DATE`; the pid in realrcptto lines reads `PID`.
//! In-process, recipients at `nobody.example` are unknown; through the
//! binary the same comes from control/virtualdomains (`nobody.example:ex`)
//! and a users/cdb giving every `ex-` name an empty home
//! (`support::ex_bounces`).
//!
//! Set `BLESS=1` to rewrite the conversation of each file from the
//! in-process run (review the diff: it is what the program does, not
//! necessarily what it should do).

mod support;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use qmail_smtpd::fake::{self, Behaviour, Event};
use qmail_smtpd::ipme::Ipme;
use qmail_smtpd::logger::Record;
use qmail_smtpd::queue::Outcome;
use qmail_smtpd::resolve::{RcptCheck, Verdict};
use qmail_smtpd::session::Session;
use qmail_smtpd::setup::{self, Env, Peer};
use support::Fixture;

#[derive(Debug, Default, Clone)]
struct Transcript {
    name: String,
    controls: BTreeMap<String, Vec<u8>>,
    env: BTreeMap<String, String>,
    queue_exit: i32,
    queue_unstartable: bool,
    exit: Option<i32>,
    only: Option<String>,
    args: Vec<String>,
    /// Directive lines before the conversation, and after it.
    head: Vec<String>,
    tail: Vec<String>,
    /// The conversation: C/S/M/E/L lines as written.
    lines: Vec<String>,
}

impl Transcript {
    /// What the client sends, one entry per `C` line.
    fn sends(&self) -> Vec<Vec<u8>> {
        self.lines.iter().filter_map(|l| client_bytes(l)).collect()
    }
    fn input(&self) -> Vec<u8> {
        self.sends().concat()
    }
    /// The conversation's lines of these kinds (`"S: "`, ...).
    fn kinds(&self, kinds: &[&str]) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| kinds.iter().any(|k| l.starts_with(k)))
            .cloned()
            .collect()
    }
}

fn client_bytes(line: &str) -> Option<Vec<u8>> {
    if let Some(rest) = line.strip_prefix("C: ") {
        let mut b = unescape(rest);
        b.extend_from_slice(b"\r\n");
        Some(b)
    } else {
        line.strip_prefix("C> ").map(unescape)
    }
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = s.bytes();
    while let Some(c) = chars.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'x') => {
                let hex: String = [chars.next().unwrap(), chars.next().unwrap()]
                    .iter()
                    .map(|&b| b as char)
                    .collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

/// The inverse of [`unescape`] for one line's text: printable ASCII as is
/// (a backslash doubled), everything else escaped.
fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0 => s.push_str("\\0"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

const CONVERSATION: [&str; 8] = ["C: ", "C> ", "S: ", "M: ", "E: ", "L: ", "P: ", "Q: "];

fn parse_text(name: &str, text: &str) -> Transcript {
    let mut t = Transcript {
        name: name.to_string(),
        ..Default::default()
    };
    for line in text.lines() {
        if CONVERSATION.iter().any(|k| line.starts_with(k)) {
            t.lines.push(line.to_string());
            continue;
        }
        if t.lines.is_empty() {
            t.head.push(line.to_string());
        } else {
            t.tail.push(line.to_string());
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        match head {
            "ctl" => {
                let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
                let mut v = unescape(value);
                v.push(b'\n');
                t.controls.insert(name.to_string(), v);
            }
            "env" => {
                let (k, v) = rest.split_once('=').unwrap();
                t.env.insert(k.to_string(), v.to_string());
            }
            "queue" if rest == "unstartable" => t.queue_unstartable = true,
            "queue" => t.queue_exit = rest.parse().unwrap(),
            "only" => t.only = Some(rest.to_string()),
            "exit" => t.exit = Some(rest.parse().unwrap()),
            "args" => t.args = rest.split(' ').map(str::to_string).collect(),
            _ => panic!("{}: unknown directive {line:?}", t.name),
        }
    }
    t
}

fn transcripts() -> Vec<(PathBuf, Transcript)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "transcripts missing in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let t = parse_text(&name, &std::fs::read_to_string(&p).unwrap());
            (p, t)
        })
        .collect()
}

/// `250 ok 1795987951 qp 5200` → `250 ok TIME qp PID` (as the harness's
/// `UNIXTIME`, which it checked against the run's times).
fn mask_reply(line: &str) -> String {
    if line == "250 ok UNIXTIME qp PID" {
        return "250 ok TIME qp PID".to_string();
    }
    match line
        .strip_prefix("250 ok ")
        .and_then(|r| r.split_once(" qp "))
    {
        Some((t, p))
            if t.bytes().all(|b| b.is_ascii_digit()) && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            "250 ok TIME qp PID".to_string()
        }
        _ => line.to_string(),
    }
}

/// The Received date (after the protocol's `; ` on the `  by` line) →
/// `DATE`.
fn mask_message_line(line: &str) -> String {
    const SEP: &str = "; ";
    match (line.starts_with("  by "), line.rfind(SEP)) {
        (true, Some(at)) => format!("{}DATE", &line[..at + SEP.len()]),
        _ => line.to_string(),
    }
}

/// `realrcptto 1234 ...` → `realrcptto PID ...` (and `realrcptto-deferred`).
fn mask_log(line: &str) -> String {
    for word in ["realrcptto ", "realrcptto-deferred "] {
        if let Some(rest) = line.strip_prefix(word) {
            if let Some((pid, rest)) = rest.split_once(' ') {
                if pid.bytes().all(|b| b.is_ascii_digit()) {
                    return format!("{word}PID {rest}");
                }
            }
        }
    }
    line.to_string()
}

fn s_lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .split_inclusive("\r\n")
        .map(|l| match l.strip_suffix("\r\n") {
            Some(l) => format!("S: {}", mask_reply(&escape(l.as_bytes()))),
            None => format!("S: {} (no CRLF)", escape(l.as_bytes())),
        })
        .collect()
}

/// `M:` and `E:` lines for one qmail-queue run.
fn queued_lines(message: &[u8], envelope: Option<&[u8]>) -> Vec<String> {
    let Some(envelope) = envelope else {
        return vec!["E: -".to_string()];
    };
    let mut v: Vec<String> = message
        .split_inclusive(|&b| b == b'\n')
        .map(|l| match l.strip_suffix(b"\n") {
            Some(l) => format!("M: {}", mask_message_line(&escape(l))),
            None => format!("M: {} (no LF)", escape(l)),
        })
        .collect();
    let fields = envelope.strip_suffix(b"\0").unwrap_or(envelope);
    for field in fields.split_inclusive(|&b| b == 0) {
        match field.strip_suffix(b"\0") {
            Some(f) => v.push(format!("E: {}", escape(f))),
            None => v.push(format!("E: {} (no NUL)", escape(field))),
        }
    }
    v
}

/// Log records as `L:` lines: those always written, and warnings (what
/// the binary writes at its default level).
fn log_line(r: &Record) -> Option<String> {
    r.level
        .is_none_or(|l| l <= log::Level::Warn)
        .then(|| format!("L: {}", mask_log(&escape(&r.line))))
}

/// Renders the events as a conversation. `sends` are the client's lines,
/// in order: each is shown once all its bytes have been read; those never
/// read are shown at the end.
fn render(events: &[Event], sends: &[(Vec<u8>, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = 0;
    let mut pending: Vec<u8> = Vec::new();
    for e in events {
        match e {
            Event::Read(b) => {
                pending.extend_from_slice(b);
                while next < sends.len() && pending.starts_with(&sends[next].0) {
                    pending.drain(..sends[next].0.len());
                    out.push(sends[next].1.clone());
                    next += 1;
                }
            }
            Event::Write(b) => out.extend(s_lines(b)),
            Event::Queued { message, envelope } => {
                out.extend(queued_lines(message, envelope.as_deref()))
            }
            Event::Log(r) => out.extend(log_line(r)),
            Event::Slept(secs) => out.push(format!("P: {secs}")),
            Event::QueueEnv(vars) => out.extend(
                vars.iter()
                    .map(|(k, v)| format!("Q: {}={}", escape(k), escape(v))),
            ),
        }
    }
    out.extend(sends[next..].iter().map(|(_, l)| l.clone()));
    out
}

struct MapEnv<'a>(&'a BTreeMap<String, String>);
impl Env for MapEnv<'_> {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).map(|v| unescape(v))
    }
}

struct Loopback;
impl Ipme for Loopback {
    fn is_me(&mut self, ip: std::net::IpAddr) -> std::io::Result<bool> {
        Ok(["127.0.0.1", "0.0.0.0", "::1", "::"]
            .iter()
            .any(|me| ip == me.parse::<std::net::IpAddr>().unwrap()))
    }
}

/// The in-process stand-in for the resolver: `nobody.example` has no
/// mailboxes.
struct NobodyUnknown;
impl RcptCheck for NobodyUnknown {
    fn check(&mut self, addr: &[u8], _log: &mut Vec<Record>) -> Verdict {
        if addr.to_ascii_lowercase().ends_with(b"@nobody.example") {
            Verdict::Unknown
        } else {
            Verdict::Accept
        }
    }
}

/// The qmail home of a transcript: its controls, and every `ex-` user of
/// `nobody.example` without a mailbox.
fn fixture(t: &Transcript) -> Fixture {
    let f = Fixture::new(&t.name);
    let mut controls = t.controls.clone();
    controls
        .entry("virtualdomains".into())
        .or_insert_with(|| b"nobody.example:ex\n".to_vec());
    for (name, value) in &controls {
        f.control(name, value);
    }
    f.ex_bounces();
    if !t.args.is_empty() {
        f.script("bin/checkpassword", support::CHECKPASSWORD);
    }
    f
}

/// The transcript's arguments, `HOME/` made the fixture's qmail home.
fn args(t: &Transcript, f: &Fixture) -> Vec<String> {
    let home = format!("{}/", f.home.display());
    t.args.iter().map(|a| a.replace("HOME/", &home)).collect()
}

/// Runs `t` in-process, the client's bytes cut into these reads.
fn run_in_process(t: &Transcript, f: &Fixture, reads: Vec<Vec<u8>>) -> (i32, Vec<Event>) {
    // Warnings are made (and so checked) as the binary makes them.
    log::set_max_level(log::LevelFilter::Warn);
    let args: Vec<Vec<u8>> = args(t, f).into_iter().map(String::into_bytes).collect();
    let loaded =
        setup::load_with_args(&f.home, &MapEnv(&t.env), Peer::default, &args).expect("controls");
    let (mut ipme, mut check) = (Loopback, NobodyUnknown);
    let mut s = Session::new(loaded.setup, &mut ipme, &mut check);
    s.greet();
    let queue = if t.queue_unstartable {
        Behaviour::Unstartable
    } else {
        Behaviour::Ends(Outcome::Exited(t.queue_exit), None)
    };
    fake::run(&mut s, reads, fake::End::Eof, vec![queue])
}

fn expected_exit(t: &Transcript) -> i32 {
    t.exit.unwrap_or_else(|| {
        let replies = t.kinds(&["S: "]);
        if replies.last().is_some_and(|l| l.starts_with("S: 221 ")) {
            0
        } else {
            1
        }
    })
}

fn diff(want: &[String], got: &[String]) -> String {
    let mut s = String::new();
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i), got.get(i));
        let mark = if w == g { ' ' } else { '!' };
        s.push_str(&format!(
            "{mark} {:<60} | {}\n",
            w.map_or("", String::as_str),
            g.map_or("", String::as_str)
        ));
    }
    s
}

/// Everything but the order: replies, what was queued, the log. (Pauses
/// are checked in-process only: the binary's sleeps are seen by strace,
/// in tests/tarpit.rs.)
fn unordered(lines: &[String]) -> [Vec<String>; 3] {
    let of = |k: &[&str]| {
        lines
            .iter()
            .filter(|l| k.iter().any(|k| l.starts_with(k)))
            .cloned()
            .collect()
    };
    [of(&["S: "]), of(&["M: ", "E: "]), of(&["L: "])]
}

#[test]
fn transcripts_in_process() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for (path, t) in transcripts() {
        if t.only.as_deref() == Some("binary") {
            continue;
        }
        let f = fixture(&t);
        let sends: Vec<(Vec<u8>, String)> = t
            .lines
            .iter()
            .filter_map(|l| client_bytes(l).map(|b| (b, l.clone())))
            .collect();
        // One read per client line: the order is checked exactly.
        let (code, events) = run_in_process(&t, &f, t.sends());
        let got = render(&events, &sends);
        if bless {
            if got != t.lines {
                bless_file(&path, &t, &got);
            }
            continue;
        }
        if got != t.lines || code != expected_exit(&t) {
            failures.push(format!(
                "{} (a read per line): exit {code}, want {}\n{}",
                t.name,
                expected_exit(&t),
                diff(&t.lines, &got)
            ));
            continue;
        }
        // Pipelined, and cut anywhere: the same replies, message and log.
        let input = t.input();
        for chunk in [usize::MAX, 1, 7] {
            let reads = input
                .chunks(chunk.min(input.len().max(1)))
                .map(<[u8]>::to_vec);
            let (code, events) = run_in_process(&t, &f, reads.collect());
            let got = unordered(&render(&events, &sends));
            let want = unordered(&t.lines);
            if got != want || code != expected_exit(&t) {
                failures.push(format!(
                    "{} (chunks of {chunk}): exit {code}, want {}\n{}",
                    t.name,
                    expected_exit(&t),
                    diff(&want.concat(), &got.concat())
                ));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn transcripts_through_the_binary() {
    let mut failures = Vec::new();
    for (_, t) in transcripts() {
        if t.only.as_deref() == Some("inprocess") {
            continue;
        }
        let f = fixture(&t);
        f.queue(support::Queue::Record(t.queue_exit));
        // The recipient check is on, as in production (the harness turns
        // it off by default).
        let mut cmd = f.cmd().env_remove("NOREALRCPTTO");
        for (k, v) in &t.env {
            cmd = cmd.env(k, std::ffi::OsStr::from_bytes(&unescape(v)));
        }
        let out = cmd.args(args(&t, &f)).input(t.input()).run();
        let code = out.code().unwrap_or(-1);
        let stdout = match out.masked_stdout() {
            Ok(s) => s,
            Err(e) => out.fail(&e),
        };
        let mut queued = Vec::new();
        for call in &out.calls {
            let Some(message) = &call.message else {
                continue;
            };
            let message = match &call.envelope {
                Some(_) => support::mask_received(message, out.started(), out.finished())
                    .unwrap_or_else(|e| out.fail(&e)),
                None => message.clone(),
            };
            queued.extend(queued_lines(&message, call.envelope.as_deref()));
        }
        let realrcptto: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("realrcptto"))
            .map(|l| format!("L: {}", mask_log(l)))
            .collect();
        let got = [s_lines(&stdout), queued, realrcptto];
        let [s, q, l] = unordered(&t.lines);
        let l: Vec<String> = l
            .into_iter()
            .filter(|l| l.starts_with("L: realrcptto"))
            .collect();
        let want = [s, q, l];
        if got != want || code != expected_exit(&t) {
            failures.push(format!(
                "{}: exit {code}, want {}\n{}--- stderr\n{}",
                t.name,
                expected_exit(&t),
                diff(&want.concat(), &got.concat()),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rewrites the conversation of a transcript, keeping its directives.
fn bless_file(path: &Path, t: &Transcript, lines: &[String]) {
    let mut all: Vec<String> = t.head.clone();
    all.extend(lines.iter().cloned());
    all.extend(t.tail.iter().cloned());
    std::fs::write(path, all.join("\n") + "\n").unwrap();
}

/// The realrcptto line, in-process: the exact bytes log parsers read.
#[test]
fn unknown_recipients_are_logged_as_realrcptto_expects() {
    let t = parse_text(
        "inline",
        "ctl me mx.example\nctl rcpthosts nobody.example\nenv PROTO=TCP\nenv TCPREMOTEIP=192.0.2.7\nC: MAIL FROM:<a@b>\nC: RCPT TO:<joe@nobody.example>\nC: QUIT\n",
    );
    let f = fixture(&t);
    let (code, events) = run_in_process(&t, &f, t.sends());
    assert_eq!(code, 0);
    let summary = fake::summary(&events);
    assert_eq!(
        summary.logs,
        [Record::always(
            format!(
                "realrcptto {} 192.0.2.7 joe@nobody.example",
                std::process::id()
            )
            .into_bytes()
        )]
    );
    assert_eq!(
        String::from_utf8_lossy(&summary.output),
        "220 mx.example ESMTP\r\n250 ok\r\n550 sorry, no mailbox here by that name. (#5.1.1)\r\n221 mx.example\r\n"
    );

    // PROTO naming an unset variable: an empty field, two spaces.
    let t = parse_text(
        "inline",
        "ctl me mx.example\nenv PROTO=NOPE\nC: MAIL FROM:<a@b>\nC: RCPT TO:<joe@nobody.example>\n",
    );
    let f = fixture(&t);
    let (_, events) = run_in_process(&t, &f, t.sends());
    let logs = fake::summary(&events).logs;
    assert_eq!(logs.len(), 1);
    assert!(logs[0].line.ends_with(b"  joe@nobody.example"), "{logs:?}");
}
