//! Golden transcripts: client lines and the exact server lines, replayed
//! twice, in-process against the sans-IO session and through the built
//! binary over pipes.
//!
//! Each `tests/transcripts/*.t` file holds directives:
//!
//! ```text
//! # comment
//! ctl NAME TEXT      control/NAME gets TEXT (`\n`, `\r`, `\t`, `\0`, `\\` escapes) + LF
//! env NAME=VALUE     environment for the server
//! queue N            the stand-in qmail-queue exits N (default 0)
//! queue unstartable  qmail-queue cannot be started (pipe/fork failure;
//!                    in-process only)
//! only inprocess     skip the binary run (or: only binary)
//! C: TEXT            the client sends TEXT + CRLF (escapes as above)
//! C> TEXT            the client sends TEXT as is (escapes as above)
//! S: TEXT            the server answers TEXT + CRLF
//! exit N             the server's exit status (default: 0 after QUIT, else 1)
//! ```
//!
//! All client input is sent at once, as a pipelining client would. In
//! `250 ok UNIXTIME qp PID` the numbers are masked to `TIME` and `PID`.
//! In-process, recipients at `nobody.example` are unknown; through the
//! binary the same comes from control/virtualdomains (`nobody.example:ex`)
//! and a users/cdb giving every `ex-` name an empty home
//! (`support::ex_bounces`).
//!
//! Set `BLESS=1` to rewrite the expected lines from the binary's answers.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use qmail_smtpd::addr::Ipme;
use qmail_smtpd::queue::Outcome;
use qmail_smtpd::resolve::{RcptCheck, Verdict};
use qmail_smtpd::session::{Action, Session, Started};
use qmail_smtpd::smtpd::{self, Env, Peer};

#[derive(Debug, Default, Clone)]
struct Transcript {
    name: String,
    controls: BTreeMap<String, Vec<u8>>,
    env: BTreeMap<String, String>,
    queue_exit: i32,
    queue_unstartable: bool,
    input: Vec<u8>,
    expected: Vec<u8>,
    exit: Option<i32>,
    only: Option<String>,
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

fn parse(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t = Transcript {
        name: path.file_name().unwrap().to_string_lossy().into(),
        ..Default::default()
    };
    for line in text.lines() {
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
            "C:" => {
                t.input.extend(unescape(rest));
                t.input.extend_from_slice(b"\r\n");
            }
            "C>" => t.input.extend(unescape(rest)),
            "S:" => {
                t.expected.extend(unescape(rest));
                t.expected.extend_from_slice(b"\r\n");
            }
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
    files.into_iter().map(|p| (p.clone(), parse(&p))).collect()
}

/// `250 ok 1795987951 qp 5200` → `250 ok TIME qp PID`.
fn mask(out: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(out);
    let mut res = String::new();
    for line in text.split_inclusive("\r\n") {
        match line
            .strip_prefix("250 ok ")
            .and_then(|r| r.split_once(" qp "))
        {
            Some((t, p))
                if t.bytes().all(|b| b.is_ascii_digit())
                    && p.trim_end().bytes().all(|b| b.is_ascii_digit()) =>
            {
                res.push_str("250 ok TIME qp PID\r\n")
            }
            _ => res.push_str(line),
        }
    }
    res.into_bytes()
}

fn fixture(t: &Transcript) -> tempdir::Dir {
    let dir = tempdir::Dir::new(&t.name);
    let ctl = dir.path().join("control");
    std::fs::create_dir_all(&ctl).unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    let mut controls = t.controls.clone();
    controls
        .entry("virtualdomains".into())
        .or_insert_with(|| b"nobody.example:ex\n".to_vec());
    for (name, value) in &controls {
        std::fs::write(ctl.join(name), value).unwrap();
    }
    support::ex_bounces(dir.path());
    let queue = dir.path().join("bin/qmail-queue");
    std::fs::write(
        &queue,
        format!(
            "#!/bin/sh\nexec 3<&1\ncat > \"$0.message\"\ncat <&3 > \"$0.envelope\"\nexit {}\n",
            t.queue_exit
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&queue, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

mod tempdir {
    use std::path::{Path, PathBuf};
    pub struct Dir(PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Dir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "transcript-{}-{}-{}",
                std::process::id(),
                n,
                name
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

struct MapEnv<'a>(&'a BTreeMap<String, String>);
impl Env for MapEnv<'_> {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).map(|v| unescape(v))
    }
}

struct Loopback;
impl Ipme for Loopback {
    fn is_me(&mut self, ip: [u8; 4]) -> std::io::Result<bool> {
        Ok(ip == [127, 0, 0, 1] || ip == [0, 0, 0, 0])
    }
}

/// The in-process stand-in for the resolver: `nobody.example` has no
/// mailboxes.
struct NobodyUnknown;
impl RcptCheck for NobodyUnknown {
    fn check(&mut self, addr: &[u8], _log: &mut Vec<qmail_smtpd::logger::Record>) -> Verdict {
        if addr.to_ascii_lowercase().ends_with(b"@nobody.example") {
            Verdict::Unknown
        } else {
            Verdict::Accept
        }
    }
}

/// Replays `t` against the session in-process, feeding the input in chunks
/// of `chunk` bytes. Returns the output and the exit status.
fn run_in_process(t: &Transcript, chunk: usize) -> (Vec<u8>, i32) {
    let dir = fixture(t);
    let loaded = smtpd::load(dir.path(), &MapEnv(&t.env), Peer::default).expect("controls");
    let mut ipme = Loopback;
    let mut check = NobodyUnknown;
    let mut s = Session::new(loaded.setup, &mut ipme, &mut check);
    s.greet();
    let mut out = Vec::new();
    let mut pending: &[u8] = &t.input;
    let mut queued = false;
    loop {
        let take = pending.len().min(chunk);
        let (used, action) = s.handle(&pending[..take]);
        pending = &pending[used..];
        out.append(s.output());
        match action {
            Action::NeedInput if pending.is_empty() => return (out, 1),
            Action::NeedInput | Action::Sleep(_) => {}
            // As through the binary, whose fixture has no bin/qmail-smtpd-tls.
            Action::StartTls => s.starttls_failed(),
            Action::StartQueue if t.queue_unstartable => {
                s.queue_started(Started::Failed, 1_795_984_426)
            }
            Action::StartQueue => {
                s.queue_started(Started::Running(4242), 1_795_984_426);
                queued = true;
            }
            Action::WriteQueue => s.queue_buffer().clear(),
            Action::FinishQueue(envelope) => {
                assert!(queued);
                s.queue_buffer().clear();
                let outcome = Outcome::Exited(t.queue_exit);
                s.queue_finished(outcome, envelope.is_none(), None, 1_795_984_426);
            }
            Action::Exit(code) => {
                out.append(s.output());
                return (out, code);
            }
        }
    }
}

fn run_binary(t: &Transcript) -> (Vec<u8>, i32, String) {
    let dir = fixture(t);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qmail-smtpd"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("QMAILHOME", dir.path());
    for (k, v) in &t.env {
        cmd.env(
            k,
            std::ffi::OsStr::new(&*String::from_utf8_lossy(&unescape(v))),
        );
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = t.input.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.stdout,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn expected_exit(t: &Transcript) -> i32 {
    t.exit.unwrap_or_else(|| {
        if t.expected.ends_with(b"\r\n")
            && String::from_utf8_lossy(&t.expected)
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("221 "))
        {
            0
        } else {
            1
        }
    })
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "⏎\n")
}

#[test]
fn transcripts_in_process() {
    let mut failures = Vec::new();
    for (_, t) in transcripts() {
        if t.only.as_deref() == Some("binary") {
            continue;
        }
        for chunk in [usize::MAX, 1, 7] {
            let (out, code) = run_in_process(&t, chunk);
            let out = mask(&out);
            if out != t.expected || code != expected_exit(&t) {
                failures.push(format!(
                    "{} (chunks of {chunk}): exit {code}, want {}\n--- got\n{}--- want\n{}",
                    t.name,
                    expected_exit(&t),
                    show(&out),
                    show(&t.expected)
                ));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn transcripts_through_the_binary() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for (path, t) in transcripts() {
        if t.only.as_deref() == Some("inprocess") {
            continue;
        }
        let (out, code, stderr) = run_binary(&t);
        let out = mask(&out);
        if bless && out != t.expected {
            bless_file(&path, &out);
            continue;
        }
        if out != t.expected || code != expected_exit(&t) {
            failures.push(format!(
                "{}: exit {code}, want {}\n--- got\n{}--- want\n{}--- stderr\n{stderr}",
                t.name,
                expected_exit(&t),
                show(&out),
                show(&t.expected)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Replaces the `S:` lines of a transcript with what the server said.
fn bless_file(path: &Path, out: &[u8]) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("S: "))
        .map(String::from)
        .collect();
    for l in String::from_utf8_lossy(out).split_terminator("\r\n") {
        lines.push(format!("S: {l}"));
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn unknown_recipients_are_logged_as_realrcptto_expects() {
    let t = parse_str(
        "only binary\nctl me mx.example\nctl rcpthosts nobody.example\nenv PROTO=TCP\nenv TCPREMOTEIP=192.0.2.7\nC: MAIL FROM:<a@b>\nC: RCPT TO:<joe@nobody.example>\nC: QUIT\n",
    );
    let (out, code, stderr) = run_binary(&t);
    assert_eq!(show(&out), show(b"220 mx.example ESMTP\r\n250 ok\r\n550 sorry, no mailbox here by that name. (#5.1.1)\r\n221 mx.example\r\n"));
    assert_eq!(code, 0);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("realrcptto "))
        .expect(&stderr);
    let fields: Vec<&str> = line.splitn(4, ' ').collect();
    assert!(fields[1].parse::<u32>().is_ok(), "{line}");
    assert_eq!(fields[2..], ["192.0.2.7", "joe@nobody.example"], "{line}");

    // PROTO naming an unset variable: an empty field, two spaces.
    let t = parse_str(
        "ctl me mx.example\nenv PROTO=NOPE\nC: MAIL FROM:<a@b>\nC: RCPT TO:<joe@nobody.example>\n",
    );
    let (_, _, stderr) = run_binary(&t);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("realrcptto "))
        .expect(&stderr);
    assert!(line.ends_with("  joe@nobody.example"), "{line:?}");
}

fn parse_str(text: &str) -> Transcript {
    let dir = tempdir::Dir::new("inline");
    let p = dir.path().join("inline.t");
    std::fs::write(&p, text).unwrap();
    parse(&p)
}
