//! The fail2ban example (examples/fail2ban/) against the decision lines,
//! with Debian's fail2ban (`fail2ban-regex`, `fail2ban-client`).
//!
//! The lines are made by the library (`decision::Decision::line`), stamped
//! as multilog does, mixed with the other lines qmail-smtpd writes (raw
//! client bytes in them: realrcptto, realrcptto-deferred, the debug `rcpt`
//! line), and given to fail2ban-regex with the shipped filter. The test
//! checks exactly which lines match and which address each gives: no HELO,
//! MAIL FROM, RCPT or `.qmail` name can make another address match, and
//! what the filter's regex captures of helo/from/to decodes back to the
//! original bytes. The same lines go through the real multilog, and as
//! syslog lines through the filter's syslog mode; the jail file passes
//! `fail2ban-client -t`.
//!
//! Needs fail2ban and daemontools (.ci/run installs them): fails without.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use qmail_smtpd::decision::{self, Decision, Rule, Verdict};

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn filter() -> PathBuf {
    top().join("examples/fail2ban/filter.d/qmail-smtpd-rcpt.conf")
}

/// The TAI64N label multilog writes for `t`: `@`, then 2^62 + 10 + the
/// Unix seconds in 16 hex digits (daemontools' TAI: 10 s ahead of UTC),
/// then the nanoseconds in 8.
fn tai64n(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap();
    format!(
        "@{:016x}{:08x}",
        (1u64 << 62) + 10 + d.as_secs(),
        d.subsec_nanos()
    )
}

/// The test's temporary directory.
struct Dir(support::TempDir);
impl Dir {
    fn new(name: &str) -> Dir {
        Dir(support::TempDir::new(&format!("fail2ban-{name}")))
    }
}

/// `log` through the real multilog (`multilog t DIR/main`); returns the
/// path of the file it wrote, stamped.
fn multilog(dir: &Dir, log: &[u8]) -> PathBuf {
    let multilog = support::require_program("multilog", "daemontools");
    let mut child = support::spawn(
        Command::new(multilog)
            .arg("t")
            .arg(dir.0.join("main"))
            .stdin(Stdio::piped()),
    )
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(log).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    dir.0.join("main/current")
}

/// Lines joined, each with its newline.
trait ConcatLines {
    fn concat_lines(&self) -> Vec<u8>;
}

impl ConcatLines for [Vec<u8>] {
    fn concat_lines(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for l in self {
            v.extend_from_slice(l);
            v.push(b'\n');
        }
        v
    }
}

/// The address an attacker would like to get banned (or a colleague).
const VICTIM: &str = "203.0.113.9";

/// A forged decision line, naming the victim.
const FORGED: &str = r#"rcpt-decision verdict=refused code=550 rule=alias file="" pid=1 ip=203.0.113.9 helo="" from="" to="x""#;

/// One decision line of the test, owning its values.
#[derive(Clone)]
struct Case {
    verdict: Verdict,
    code: u16,
    rule: Rule,
    file: Option<Vec<u8>>,
    pid: u32,
    ip: Vec<u8>,
    helo: Vec<u8>,
    from: Vec<u8>,
    to: Vec<u8>,
}

impl Case {
    fn line(&self) -> Vec<u8> {
        Decision {
            verdict: self.verdict,
            code: self.code,
            rule: self.rule,
            file: self.file.as_deref(),
            pid: self.pid,
            ip: &self.ip,
            helo: &self.helo,
            from: &self.from,
            to: &self.to,
        }
        .line()
    }

    /// Whether the filter is meant to count it (see the filter's header).
    fn counts(&self) -> bool {
        let unknown = matches!(
            self.rule,
            Rule::Passwd
                | Rule::Alias
                | Rule::UsersCdb
                | Rule::Dotqmail
                | Rule::Vpopmail
                | Rule::Fastforward
                | Rule::Validrcptto
                | Rule::Rcptcheck
        );
        let counted = match self.verdict {
            Verdict::Refused | Verdict::Hidden => unknown,
            Verdict::Closed => self.rule == Rule::Unknownlimit && self.code == 421,
            Verdict::Accepted | Verdict::Deferred => false,
        };
        counted && decision::is_ip(&self.ip)
    }
}

fn case(verdict: Verdict, code: u16, rule: Rule, pid: u32, ip: &str) -> Case {
    Case {
        verdict,
        code,
        rule,
        file: None,
        pid,
        ip: ip.into(),
        helo: b"mx.example".to_vec(),
        from: b"a@b.example".to_vec(),
        to: b"joe@example.com".to_vec(),
    }
}

/// The hand-picked cases: hostile values in every client field, every
/// verdict and the rules on both sides of the filter.
fn cases() -> Vec<Case> {
    use Rule::*;
    use Verdict::*;
    let forged_b = FORGED.as_bytes();
    let mut v = vec![
        case(Refused, 550, Alias, 101, "192.0.2.1"),
        Case {
            helo: format!("x ip={VICTIM}").into(),
            ..case(Refused, 550, Passwd, 102, "192.0.2.2")
        },
        Case {
            file: Some(format!("/home/joe/.qmail-\" ip={VICTIM} helo=\"").into()),
            to: format!("joe-\" ip=\"{VICTIM}@example.com").into(),
            ..case(Refused, 550, Dotqmail, 103, "192.0.2.3")
        },
        Case {
            to: [b"j\r\n@400000006b0f59b400000000 ", forged_b, b"\r\n"].concat(),
            ..case(Refused, 550, Vpopmail, 104, "192.0.2.4")
        },
        case(Hidden, 250, Passwd, 105, "2001:db8::5"),
        case(Closed, 421, Unknownlimit, 106, "192.0.2.6"),
        case(Refused, 550, UsersCdb, 107, "192.0.2.7"),
        case(Refused, 550, Fastforward, 108, "192.0.2.8"),
        case(Refused, 550, Validrcptto, 109, "192.0.2.9"),
        case(Refused, 550, Rcptcheck, 110, "192.0.2.10"),
        Case {
            from: b"\0\t\x7f\x80\xc3\xa9\xff\"=\\".to_vec(),
            to: b"\xe9l\xe8ve@\xc3\xa9cole.example\0".to_vec(),
            ..case(Refused, 550, Alias, 111, "192.0.2.11")
        },
        Case {
            // A trailing backslash tries to escape the closing quote.
            helo: b"x\\".to_vec(),
            from: format!("\\\" ip={VICTIM} \\").into(),
            ..case(Refused, 550, Alias, 112, "::ffff:192.0.2.12")
        },
        Case {
            helo: forged_b.to_vec(),
            from: forged_b.to_vec(),
            to: forged_b.to_vec(),
            ..case(Refused, 550, Alias, 113, "192.0.2.13")
        },
        Case {
            // Closes and reopens quotes so that a lazy ".*?" for the
            // values would read pid=1 ip=VICTIM.
            file: Some(format!("x\" pid=1 ip={VICTIM} helo=").into()),
            helo: b" from=".to_vec(),
            from: b" to=".to_vec(),
            to: b"".to_vec(),
            ..case(Refused, 550, Alias, 114, "192.0.2.14")
        },
        Case {
            // For a filter that looks for the last " ip=ADDR ".
            helo: format!("x ip={VICTIM} y").into(),
            to: format!(" ip={VICTIM} ").into(),
            ..case(Refused, 550, Alias, 115, "192.0.2.15")
        },
        // Not counted.
        Case {
            to: forged_b.to_vec(),
            helo: format!("x ip={VICTIM}").into(),
            ..case(Accepted, 250, Passwd, 201, "198.51.100.1")
        },
        case(Refused, 553, Rcpthosts, 202, "198.51.100.2"),
        case(Refused, 553, Badmailfrom, 203, "198.51.100.3"),
        case(Deferred, 451, Dotqmail, 204, "198.51.100.4"),
        case(Deferred, 452, Maxrcpt, 205, "198.51.100.5"),
        case(Closed, 421, Passwd, 206, "198.51.100.6"),
        case(Closed, 421, UsersCdb, 207, "198.51.100.7"),
        case(Closed, 421, Rcpthosts, 208, "198.51.100.8"),
        case(Accepted, 250, Denyall, 209, "198.51.100.9"),
        case(Accepted, 250, Norealrcptto, 210, "198.51.100.10"),
        case(Accepted, 250, Relayclient, 211, "198.51.100.11"),
        case(Accepted, 250, Remote, 212, "198.51.100.12"),
        case(Accepted, 250, Emptylocal, 213, "198.51.100.13"),
        // An ip= that is not an address is quoted, and never read.
        case(Refused, 550, Alias, 214, &format!("{VICTIM} helo=x")),
        case(Refused, 550, Alias, 215, ""),
        case(Refused, 550, Alias, 216, &format!("{VICTIM}\n")),
        case(Refused, 550, Alias, 217, "fe80::1%eth0"),
    ];
    for c in &v {
        assert_eq!(
            c.counts(),
            c.pid < 200,
            "case {} is on the wrong side",
            c.pid
        );
    }
    v.extend(random_cases(300, 1000));
    v
}

/// Reproducible hostile values without a dependency.
trait HostileBytes {
    fn bytes(&mut self) -> Vec<u8>;
}

impl HostileBytes for support::Rng {
    fn bytes(&mut self) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"=",
            b" ",
            b"\r",
            b"\n",
            b"\0",
            b"\t",
            b"\x7f",
            b"\xff",
            b"\xc3\xa9",
            b" ip=",
            b"\" ip=\"",
            b"203.0.113.9",
            b"rcpt-decision ",
            b"verdict=refused",
            b"@4000000065a1b2c3d4e5f607 ",
            b"to=\"",
            b"\\\"",
            b"\\x0a",
        ];
        let n = self.below(12);
        let mut v = Vec::new();
        for _ in 0..n {
            if self.below(3) == 0 {
                v.push(self.next() as u8);
            } else {
                v.extend_from_slice(PIECES[self.below(PIECES.len())]);
            }
        }
        v
    }
}

fn random_cases(n: usize, first_pid: u32) -> Vec<Case> {
    let mut r = support::Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let verdict = Verdict::ALL[r.below(Verdict::ALL.len())];
            let rule = Rule::ALL[r.below(Rule::ALL.len())];
            let code = match verdict {
                Verdict::Accepted | Verdict::Hidden => 250,
                Verdict::Refused => [550, 553][r.below(2)],
                Verdict::Deferred => [451, 452][r.below(2)],
                Verdict::Closed => 421,
            };
            let ip = match r.below(4) {
                0 => format!("2001:db8::{:x}", i + 1).into_bytes(),
                1 => r.bytes(),
                _ => format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256).into_bytes(),
            };
            let file =
                (r.below(2) == 0).then(|| [b"/home/u/.qmail-".as_slice(), &r.bytes()].concat());
            Case {
                verdict,
                code,
                rule,
                file,
                pid: first_pid + i as u32,
                ip,
                helo: r.bytes(),
                from: r.bytes(),
                to: r.bytes(),
            }
        })
        .collect()
}

/// The other lines qmail-smtpd writes, with raw client bytes in them (as
/// the session makes them): none may match.
fn other_lines() -> Vec<Vec<u8>> {
    let forged = FORGED.as_bytes();
    vec![
        [b"realrcptto 4242 192.0.2.50 ", forged].concat(),
        [b"realrcptto 4242 192.0.2.50 x\r", forged].concat(),
        [b"realrcptto 4242 192.0.2.50 x\r\x00\xff\xfe ", forged].concat(),
        [b"realrcptto-deferred 4242 192.0.2.51 ", forged, b": Home directory is sticky: user is editing his .qmail file. (qmail-local: /home/joe)"].concat(),
        [b"rcpt ", forged, b": refused: no mailbox here by that name"].concat(),
        [b"rcpt x: ", forged, b": accepted"].concat(),
        [b"unable to stat /home/joe/.qmail-", forged, b": access denied"].concat(),
        b"connection from 192.0.2.52 (mx.example)".to_vec(),
    ]
}

/// What fail2ban-regex found: for each matched line, (pid, ip, helo,
/// from, to) as the filter captured them.
type Found = Vec<(u32, String, String, String, String)>;

/// Runs fail2ban-regex on `log` with `filter` (a path, maybe with
/// `[options]`); returns the matches and the summary output.
fn fail2ban_regex(log: &Path, filter: &str) -> (Found, String) {
    let prog = support::require_program("fail2ban-regex", "fail2ban");
    let run = |args: &[&str]| {
        let out = support::output(Command::new(&prog).args(args).arg(log).arg(filter)).unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "fail2ban-regex {args:?} {log:?} {filter}: {}\n{stdout}\n{stderr}",
            out.status
        );
        assert!(
            !stdout.contains("ERROR") && !stderr.contains("ERROR"),
            "{stdout}\n{stderr}"
        );
        stdout
    };
    let raw = run(&["-o", "MATCH\t<F-PID>\t<ip>\t<F-HELO>\t<F-FROM>\t<F-TO>"]);
    let found = raw
        .lines()
        .filter_map(|l| l.strip_prefix("MATCH\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "an output line of fail2ban-regex: {l:?}");
            (
                f[0].parse().unwrap(),
                f[1].into(),
                f[2].into(),
                f[3].into(),
                f[4].into(),
            )
        })
        .collect();
    let summary = run(&["--print-no-missed"]);
    (found, summary)
}

/// An address as fail2ban bans it: an IPv4-mapped IPv6 address is the
/// IPv4 address (fail2ban gives `::ffff:192.0.2.12` as `192.0.2.12`).
fn addr(text: &[u8]) -> std::net::IpAddr {
    let ip: std::net::IpAddr = std::str::from_utf8(text).unwrap().parse().unwrap();
    ip.to_canonical()
}

/// Checks the matches against the cases: exactly the counted ones, in
/// order, each with its own address and its values given back.
fn check(found: &Found, cases: &[Case], what: &str) {
    let want: Vec<&Case> = cases.iter().filter(|c| c.counts()).collect();
    let got: Vec<u32> = found.iter().map(|f| f.0).collect();
    let expected: Vec<u32> = want.iter().map(|c| c.pid).collect();
    assert_eq!(got, expected, "{what}: the lines matched (by pid)");
    for ((pid, ip, helo, from, to), c) in found.iter().zip(want) {
        assert_eq!(
            addr(ip.as_bytes()),
            addr(&c.ip),
            "{what}: the address of line pid={pid}"
        );
        assert_ne!(ip, VICTIM, "{what}: line pid={pid}");
        let back = |s: &str| {
            decision::unquote(s.as_bytes())
                .unwrap_or_else(|| panic!("{what}: pid={pid}: {s:?} does not decode"))
        };
        assert_eq!(back(helo), c.helo, "{what}: helo of pid={pid}");
        assert_eq!(back(from), c.from, "{what}: from of pid={pid}");
        assert_eq!(back(to), c.to, "{what}: to of pid={pid}");
    }
}

/// Every line was read as one line, and dated by its own stamp.
fn check_summary(summary: &str, lines: usize, matched: usize, date: &str, what: &str) {
    let counts = format!(
        "Lines: {lines} lines, 0 ignored, {matched} matched, {} missed",
        lines - matched
    );
    assert!(
        summary.contains(&counts),
        "{what}: want {counts:?} in\n{summary}"
    );
    let dated = format!("[{lines}] {date}");
    assert!(
        summary.contains(&dated),
        "{what}: want {dated:?} (every line dated by its own stamp) in\n{summary}"
    );
}

/// The log as the session would write it: the cases with the other lines
/// in between.
fn stderr_lines(cases: &[Case]) -> Vec<Vec<u8>> {
    let others = other_lines();
    let mut lines = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        if i < others.len() {
            lines.push(others[i].clone());
        }
        lines.push(c.line());
    }
    lines
}

#[test]
fn the_filter_matches_exactly_the_unknown_recipients_in_a_multilog_file() {
    let dir = Dir::new("multilog");
    let cases = cases();
    let lines = stderr_lines(&cases);
    let matched = cases.iter().filter(|c| c.counts()).count();
    assert!(
        matched > 20 && matched < cases.len() - 20,
        "{matched} of {}",
        cases.len()
    );

    // Stamped by the helper, as multilog t does.
    let stamp = tai64n(SystemTime::now());
    let mut log = Vec::new();
    for l in &lines {
        log.extend_from_slice(stamp.as_bytes());
        log.push(b' ');
        log.extend_from_slice(l);
        log.push(b'\n');
    }
    let file = dir.0.join("current");
    std::fs::write(&file, &log).unwrap();
    let (found, summary) = fail2ban_regex(&file, filter().to_str().unwrap());
    check(&found, &cases, "stamped");
    check_summary(&summary, lines.len(), matched, "{^LN-BEG}TAI64N", "stamped");

    // Through the real multilog: the same lines, the same matches; and its
    // stamps look like the helper's.
    let current = multilog(&dir, &lines.concat_lines());
    let written = std::fs::read(&current).unwrap();
    assert_eq!(
        written
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        lines.len()
    );
    let first = &written[..stamp.len()];
    assert_eq!(
        &first[..8],
        &stamp.as_bytes()[..8],
        "multilog's stamp {:?} vs ours {stamp}",
        String::from_utf8_lossy(first)
    );
    assert_eq!(written[stamp.len()], b' ');
    let (found, summary) = fail2ban_regex(&current, filter().to_str().unwrap());
    check(&found, &cases, "multilog");
    check_summary(
        &summary,
        lines.len(),
        matched,
        "{^LN-BEG}TAI64N",
        "multilog",
    );
}

#[test]
fn the_syslog_mode_reads_splogger_lines_and_the_default_mode_does_not() {
    let dir = Dir::new("syslog");
    let cases: Vec<Case> = cases().into_iter().take(60).collect();
    let lines = stderr_lines(&cases);
    let matched = cases.iter().filter(|c| c.counts()).count();
    // splogger qmail to syslog: syslog's date and host, the tag, splogger's
    // own stamp; journald's lines for fail2ban's systemd backend have the
    // same "HOST IDENT[PID]: " (the date apart).
    let mut log = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let tag = if i % 2 == 0 {
            "qmail:"
        } else {
            "qmail-smtpd[4242]:"
        };
        let stamp = if i % 3 == 0 { "" } else { "1700000000.123456 " };
        log.extend_from_slice(format!("Dec  1 23:35:33 mx {tag} {stamp}").as_bytes());
        log.extend_from_slice(l);
        log.push(b'\n');
    }
    let file = dir.0.join("mail.log");
    std::fs::write(&file, &log).unwrap();
    let filter = filter();
    let (found, summary) = fail2ban_regex(&file, &format!("{}[mode=syslog]", filter.display()));
    check(&found, &cases, "syslog");
    assert!(summary.contains(&format!("{matched} matched")), "{summary}");
    let (found, _) = fail2ban_regex(&file, filter.to_str().unwrap());
    assert_eq!(
        found,
        vec![],
        "the multilog mode must not read syslog lines"
    );
}

#[test]
fn the_jail_passes_fail2ban_client_t() {
    let client = support::require_program("fail2ban-client", "fail2ban");
    let dir = Dir::new("jail");
    let conf = dir.0.join("conf");
    // Debian's configuration without its jails, with ours.
    let etc = Path::new("/etc/fail2ban");
    for d in ["filter.d", "jail.d", "action.d"] {
        std::fs::create_dir_all(conf.join(d)).unwrap();
    }
    for entry in std::fs::read_dir(etc).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "fail2ban.conf" || name == "jail.conf" || name.starts_with("paths-") {
            std::fs::copy(&p, conf.join(&name)).unwrap();
        }
    }
    for entry in std::fs::read_dir(etc.join("action.d")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, conf.join("action.d").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(filter(), conf.join("filter.d/qmail-smtpd-rcpt.conf")).unwrap();
    let jail = top().join("examples/fail2ban/jail.d/qmail-smtpd.conf");
    std::fs::copy(&jail, conf.join("jail.d/qmail-smtpd.conf")).unwrap();
    // The log must exist: point the jail at one here.
    let current = dir.0.join("current");
    std::fs::write(&current, "").unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!("[qmail-smtpd-rcpt]\nlogpath = {}\n", current.display()),
    )
    .unwrap();
    let out = support::output(Command::new(&client).arg("-c").arg(&conf).arg("-d")).unwrap();
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{dump}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut settings = BTreeMap::new();
    for l in dump
        .lines()
        .filter(|l| l.starts_with("['set', 'qmail-smtpd-rcpt', "))
    {
        let rest = &l["['set', 'qmail-smtpd-rcpt', ".len()..];
        if let Some((k, v)) = rest.split_once(", ") {
            settings.insert(
                k.trim_matches('\'').to_owned(),
                v.trim_end_matches(']').to_owned(),
            );
        }
    }
    assert_eq!(
        settings.get("maxretry").map(String::as_str),
        Some("5"),
        "{dump}"
    );
    assert_eq!(
        settings.get("findtime").map(String::as_str),
        Some("'10m'"),
        "{dump}"
    );
    assert!(
        dump.contains("['add', 'qmail-smtpd-rcpt', 'auto']"),
        "{dump}"
    );
    assert!(dump.contains("rcpt-decision"), "{dump}");
    let out = support::output(Command::new(&client).arg("-c").arg(&conf).arg("-t")).unwrap();
    assert!(
        out.status.success(),
        "fail2ban-client -t: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tai64n_labels() {
    assert_eq!(tai64n(UNIX_EPOCH), "@400000000000000a00000000");
    let t = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
    assert_eq!(tai64n(t), "@400000006553f10a075bcd15");
}

/// The binary's own lines, from a session with hostile HELO, MAIL FROM and
/// RCPT values, through the real multilog: the filter bans only the
/// client, once per unknown recipient, and nothing a client sends can
/// forge a field.
#[test]
fn the_binarys_own_lines_ban_only_the_client() {
    let f = support::Fixture::with_controls(
        "fail2ban-binary",
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "nobody.example\nexample.com\n"),
            ("virtualdomains", "nobody.example:ex\n"),
        ],
    );
    f.ex_bounces();
    let input: &[u8] = b"EHLO x\" ip=203.0.113.9 to=\"\r\n\
MAIL FROM:<\"a\\\" ip=203.0.113.9 \"@b.example>\r\n\
RCPT TO:<joe@nobody.example>\r\n\
RCPT TO:<\"x ip=203.0.113.9\"@nobody.example>\r\n\
RCPT TO:<k\xe4se\rip=203.0.113.9@nobody.example>\r\n\
RCPT TO:<u@elsewhere.example>\r\n\
RCPT TO:<u@example.com>\r\n\
QUIT\r\n";
    let out = f
        .cmd()
        .env_remove("NOREALRCPTTO")
        .env("RCPTLOG", "1")
        .env("PROTO", "TCP")
        .env("TCPREMOTEIP", "192.0.2.7")
        .input(input)
        .run();
    out.assert_exit(0);
    let stderr = out.stderr.clone();
    let decisions = support::decision_lines(&stderr);
    let helo = r#"helo="x\" ip=203.0.113.9 to=\"""#;
    let from = r#"from="a\" ip=203.0.113.9 @b.example""#;
    assert_eq!(
        decisions,
        [
            format!(
                "rcpt-decision verdict=refused code=550 rule=users/cdb file=\"\" pid=PID ip=192.0.2.7 {helo} {from} to=\"joe@nobody.example\""
            ),
            format!(
                "rcpt-decision verdict=refused code=550 rule=users/cdb file=\"\" pid=PID ip=192.0.2.7 {helo} {from} to=\"x ip=203.0.113.9@nobody.example\""
            ),
            format!(
                "rcpt-decision verdict=refused code=550 rule=users/cdb file=\"\" pid=PID ip=192.0.2.7 {helo} {from} to=\"k\\xe4se\\x0dip=203.0.113.9@nobody.example\""
            ),
            format!(
                "rcpt-decision verdict=refused code=553 rule=rcpthosts file=\"\" pid=PID ip=192.0.2.7 {helo} {from} to=\"u@elsewhere.example\""
            ),
            format!(
                "rcpt-decision verdict=accepted code=250 rule=remote file=\"\" pid=PID ip=192.0.2.7 {helo} {from} to=\"u@example.com\""
            ),
        ]
    );

    let dir = Dir::new("binary");
    let (found, _) = fail2ban_regex(&multilog(&dir, &stderr), filter().to_str().unwrap());
    let ips: Vec<&str> = found.iter().map(|(_, ip, ..)| ip.as_str()).collect();
    assert_eq!(ips, ["192.0.2.7"; 3], "{found:?}");
}

/// The AUTH filter: exactly the refused attempts, each with its address;
/// no user name can supply another.
#[test]
fn auth_filter_matches_refused_attempts_only() {
    let dir = Dir::new("auth");
    let lines: Vec<Vec<u8>> = vec![
        b"auth: auth-failed ip=192.0.2.61 type=plain user=<alice>".to_vec(),
        b"auth: auth-success ip=192.0.2.62 type=login user=<alice>".to_vec(),
        b"auth: auth-error ip=192.0.2.63 type=plain user=<temp> (checkpassword exited 111)".to_vec(),
        b"auth: auth-failed ip=2001:db8::64 type=cram-md5 user=<x> ip=192.0.2.99 type=plain user=<y>".to_vec(),
        b"auth: auth-failed ip=192.0.2.65 type=login user=<a?b>".to_vec(),
        b"connection from 192.0.2.66 (mx.example)".to_vec(),
    ];
    let log = [lines.join(&b"\n"[..]), b"\n".to_vec()].concat();
    let file = multilog(&dir, &log);
    let filter = top().join("examples/fail2ban/filter.d/qmail-smtpd-auth.conf");
    let prog = support::require_program("fail2ban-regex", "fail2ban");
    let out = support::output(
        Command::new(&prog)
            .args(["-o", "MATCH\t<ip>\t<F-USER>"])
            .arg(&file)
            .arg(&filter),
    )
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let found: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MATCH\t"))
        .collect();
    assert_eq!(
        found,
        [
            "192.0.2.61\t<alice>",
            "2001:db8::64\t<x> ip=192.0.2.99 type=plain user=<y>",
            "192.0.2.65\t<a?b>",
        ],
        "{stdout}"
    );
}
