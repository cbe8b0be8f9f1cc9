//! The real RCPTCHECK checker (`rcptcheck::spawn::Spawner`) against real
//! programs: shell scripts, and a lookup with freecdb's `cdbget`.
//!
//! Driven directly, not through the qmail-smtpd binary. Every script is
//! written once, before any test spawns anything (a script being written
//! while another thread spawns could fail with ETXTBSY); each test passes
//! its parameters and its own output directory in the environment.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qmail_smtpd::rcptcheck::spawn::Spawner;
use qmail_smtpd::rcptcheck::{self, Checker, Config, Decision, Ended, Outcome, Request};
use qmail_smtpd::reply;

struct Fixture {
    root: PathBuf,
    /// freecdb's cdbget, and the cdb it looks in (when installed).
    cdb: Option<(PathBuf, PathBuf)>,
}

const SCRIPTS: &[(&str, &str)] = &[
    (
        "exit",
        "echo 'stdout noise: must reach nobody'\nexit \"$CODE\"\n",
    ),
    (
        "record",
        "echo 'stdout noise: must reach nobody'\n\
         env > \"$OUT/env\"\n\
         echo \"$0 $#\" > \"$OUT/argv\"\n\
         fd0=$(readlink /proc/$$/fd/0)\n\
         fd1=$(readlink /proc/$$/fd/1)\n\
         echo \"$fd0\" > \"$OUT/fd0\"\n\
         echo \"$fd1\" > \"$OUT/fd1\"\n\
         ls -l /proc/$$/fd/ > \"$OUT/fdlinks\"\n\
         cat /proc/$$/stat > \"$OUT/stat\"\n\
         exit \"$CODE\"\n",
    ),
    (
        "hasvar",
        "[ -n \"${CARGO_MANIFEST_DIR+set}\" ] && exit 100\nexit 0\n",
    ),
    ("signal", "kill -\"$SIG\" $$\nsleep 5\n"),
    ("hang", "sleep 30 &\necho $! > \"$OUT/child\"\nwait\n"),
    (
        "stubborn",
        "trap '' TERM\nsleep 30 &\necho $! > \"$OUT/child\"\nwhile :; do wait; done\n",
    ),
    ("fd4", "printf '%b' \"$FD4\" >&4\nexit \"$CODE\"\n"),
    (
        "fd4big",
        "{ printf '550 big '; head -c 200000 /dev/zero | tr '\\0' y; } >&4\nexit 100\n",
    ),
    (
        "fd4orphan",
        "sleep 3 &\nprintf '550 orphan\\r\\n' >&4\nexit 100\n",
    ),
    (
        "nofd4",
        "if [ -n \"${USE_FD4+set}\" ]; then exit 1; fi\n\
         if printf x 2>/dev/null >&4; then exit 2; fi\n\
         exit 100\n",
    ),
    (
        "cdb",
        "[ -r \"$CDB\" ] || exit 111\nexec \"$CDBGET\" \"$RECIPIENT\" < \"$CDB\"\n",
    ),
];

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let tmp = std::env::temp_dir();
        // Fixtures of earlier runs whose process is gone.
        for e in fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("rcptcheck-spawn-"))
            else {
                continue;
            };
            if !Path::new("/proc").join(pid).exists() {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let root = tmp.join(format!("rcptcheck-spawn-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("out")).unwrap();
        for (name, body) in SCRIPTS {
            write(&root.join(name), &format!("#!/bin/sh\n{body}"), 0o755);
        }
        write(&root.join("noshebang"), "exit 0\n", 0o755);
        write(&root.join("noexec"), "#!/bin/sh\nexit 0\n", 0o644);
        let cdb = cdb_fixture(&root);
        Fixture { root, cdb }
    })
}

fn write(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A cdb of the valid recipients, made with freecdb's cdbmake (Debian
/// package freecdb); `None` when not installed (the test fails then).
fn cdb_fixture(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        ["/usr/bin", "/bin", "/usr/local/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
    };
    let (get, make) = (find("cdbget")?, find("cdbmake")?);
    let mut input = String::new();
    for key in ["postmaster@example.org", "alice@example.org"] {
        input.push_str(&format!("+{},1:{key}->1\n", key.len()));
    }
    input.push('\n');
    let cdb = root.join("rcpt.cdb");
    let mut child = std::process::Command::new(make)
        .arg(&cdb)
        .arg(root.join("rcpt.tmp"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "cdbmake failed");
    Some((get, cdb))
}

/// A test's own output directory.
fn out(name: &str) -> PathBuf {
    let d = fixture().root.join("out").join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

fn config(script: &str, fd4: bool) -> Config {
    Config {
        program: fixture()
            .root
            .join(script)
            .into_os_string()
            .into_encoded_bytes(),
        with_relayclient: false,
        fd4,
    }
}

fn env(vars: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut e: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"PATH".to_vec(), b"/usr/bin:/bin".to_vec())];
    e.extend(
        vars.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())),
    );
    e
}

const REQ: Request<'static> = Request {
    sender: b"sender@example.net",
    recipient: b"alice@example.org",
    helo: b"client.example.net",
    rcpt_found: false,
    rcpt_hosts: true,
};

fn run(script: &str, fd4: bool, vars: &[(&str, &str)], timeout: Duration) -> Outcome {
    Spawner::new(&config(script, fd4), timeout)
        .with_env(env(vars))
        .run(&REQ)
}

fn refused(reply: &[u8], close: bool) -> Decision {
    Decision::Refuse {
        reply: reply.to_vec().into(),
        close,
    }
}

const T: Duration = Duration::from_secs(5);

#[test]
fn exit_codes() {
    let table: &[(&str, Decision)] = &[
        ("0", Decision::Accept),
        ("1", Decision::Accept),
        ("99", Decision::Accept),
        ("100", refused(reply::RCPTCHECK_NO_MAILBOX, false)),
        ("111", refused(reply::RCPTCHECK_UNVERIFIED, true)),
        ("112", Decision::Ignore),
        ("113", refused(reply::RCPTCHECK_OVERLIMIT, true)),
        ("120", refused(reply::RCPTCHECK_UNEXECUTED, true)),
        ("255", Decision::Accept),
    ];
    for (code, want) in table {
        let o = run("exit", false, &[("CODE", code)], T);
        assert_eq!(o.ended, Ended::Exited(code.parse().unwrap()));
        assert!(o.fd4.is_empty());
        assert_eq!(&rcptcheck::decide(&o), want, "exit {code}");
    }
}

/// What the program sees: argv, environment, descriptors, process group.
#[test]
fn program_environment_and_descriptors() {
    for fd4 in [false, true] {
        let dir = out(&format!("record-{fd4}"));
        let o = run(
            "record",
            fd4,
            &[
                ("CODE", "0"),
                ("OUT", dir.to_str().unwrap()),
                ("SENDER", "inherited"),
                ("RCPTFOUND", "1"),
                ("USE_FD4", "inherited"),
            ],
            T,
        );
        assert_eq!(o.ended, Ended::Exited(0));
        let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap();
        // execv(path, {path, 0}): no arguments.
        let script = fixture().root.join("record");
        assert_eq!(read("argv"), format!("{} 0\n", script.display()));
        let vars: Vec<String> = read("env").lines().map(str::to_string).collect();
        let has = |v: &str| vars.iter().any(|l| l == v);
        assert!(has("SENDER=sender@example.net"), "{vars:?}");
        assert!(has("RECIPIENT=alice@example.org"));
        assert!(has("HELO=client.example.net"));
        assert!(has("RCPTHOSTS=1"));
        assert!(!vars.iter().any(|l| l.starts_with("RCPTFOUND=")));
        assert!(!has("SENDER=inherited"));
        assert_eq!(has("USE_FD4=1"), fd4);
        assert!(!has("USE_FD4=inherited"));
        // stdin and stdout are /dev/null: nothing it prints reaches anyone.
        assert_eq!(read("fd0"), "/dev/null\n");
        assert_eq!(read("fd1"), "/dev/null\n");
        // fd 4 is there only with USE_FD4, and our end of its pipe is not
        // (both ends would show the same pipe). Other descriptors are the
        // shell's own and what this test process inherited without
        // close-on-exec (as netqmail passes them on).
        let links: Vec<(String, String)> = read("fdlinks")
            .lines()
            .filter_map(|l| {
                let (a, target) = l.split_once(" -> ")?;
                Some((a.rsplit(' ').next()?.to_string(), target.to_string()))
            })
            .collect();
        for n in ["0", "1", "2"] {
            assert!(links.iter().any(|(fd, _)| fd == n), "{links:?}");
        }
        let fd4_target = links.iter().find(|(fd, _)| fd == "4").map(|(_, t)| t);
        assert_eq!(fd4_target.is_some(), fd4, "{links:?}");
        if let Some(t) = fd4_target {
            assert!(t.starts_with("pipe:"), "{t}");
            assert_eq!(links.iter().filter(|(_, x)| x == t).count(), 1, "{links:?}");
        }
        // Its own process group: after "(comm)", state ppid pgrp.
        let stat = read("stat");
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        assert_eq!(
            f[2],
            stat.split(' ').next().unwrap(),
            "pgrp is its pid: {stat}"
        );
    }
}

/// Without `with_env`, the process's environment is the base.
#[test]
fn the_process_environment_by_default() {
    let cfg = config("hasvar", false);
    let o = Spawner::new(&cfg, T).run(&REQ);
    let want = if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        100
    } else {
        0
    };
    assert_eq!(o.ended, Ended::Exited(want));
    let o = Spawner::new(&cfg, T).with_env(Vec::new()).run(&REQ);
    assert_eq!(o.ended, Ended::Exited(0));
}

#[test]
fn killed_by_a_signal() {
    for sig in ["KILL", "SEGV", "TERM"] {
        let o = run("signal", false, &[("SIG", sig)], T);
        assert!(matches!(o.ended, Ended::Signaled(_)), "{sig}: {o:?}");
        assert_eq!(
            rcptcheck::decide(&o),
            refused(reply::RCPTCHECK_UNEXECUTED, true)
        );
    }
}

#[test]
fn cannot_execute() {
    use nix::errno::Errno::{EACCES, ENOENT, ENOEXEC};
    let root = &fixture().root;
    let cases: Vec<(Vec<u8>, i32)> = vec![
        (
            root.join("missing").into_os_string().into_encoded_bytes(),
            ENOENT as i32,
        ),
        (
            root.join("noexec").into_os_string().into_encoded_bytes(),
            EACCES as i32,
        ),
        (
            root.join("noshebang").into_os_string().into_encoded_bytes(),
            ENOEXEC as i32,
        ),
        // Set and empty: execv("") ([N] runs it too).
        (Vec::new(), ENOENT as i32),
        // No $PATH search (execv, not execvp).
        (b"true".to_vec(), ENOENT as i32),
    ];
    for (program, errno) in cases {
        let cfg = Config {
            program: program.clone(),
            with_relayclient: false,
            fd4: true,
        };
        let o = Spawner::new(&cfg, T).with_env(env(&[])).run(&REQ);
        assert_eq!(
            o.ended,
            Ended::ExecFailed(errno),
            "{}",
            String::from_utf8_lossy(&program)
        );
        assert_eq!(
            rcptcheck::decide(&o),
            refused(reply::RCPTCHECK_UNEXECUTED, true)
        );
    }
}

/// A path relative to the working directory (qmail-smtpd's is the qmail
/// home) is executed from there.
#[test]
fn relative_path() {
    let cwd = std::env::current_dir().unwrap();
    let target = fixture().root.join("exit");
    let ups = cwd.components().count() - 1;
    let rel = format!(
        "{}{}",
        "../".repeat(ups),
        target.strip_prefix("/").unwrap().display()
    );
    let cfg = Config {
        program: rel.into_bytes(),
        with_relayclient: false,
        fd4: false,
    };
    let o = Spawner::new(&cfg, T)
        .with_env(env(&[("CODE", "100")]))
        .run(&REQ);
    assert_eq!(o.ended, Ended::Exited(100));
}

fn gone(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        // A zombie waiting for a reaper is gone as well.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z'),
    }
}

fn wait_gone(pid: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A hung program is killed at the deadline, with what it started.
#[test]
fn hung_program_is_killed() {
    let dir = out("hang");
    let t0 = Instant::now();
    let o = run(
        "hang",
        true,
        &[("OUT", dir.to_str().unwrap())],
        Duration::from_secs(1),
    );
    let took = t0.elapsed();
    assert_eq!(o.ended, Ended::TimedOut);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert_eq!(
        rcptcheck::decide(&o),
        refused(reply::RCPTCHECK_UNEXECUTED, true)
    );
    let child = fs::read_to_string(dir.join("child")).unwrap();
    assert!(wait_gone(&child), "its sleep {child} survived");
}

/// One that ignores SIGTERM gets SIGKILL after the grace.
#[test]
fn stubborn_program_is_killed() {
    let dir = out("stubborn");
    let t0 = Instant::now();
    let o = Spawner::new(&config("stubborn", false), Duration::from_secs(1))
        .with_grace(Duration::from_millis(300))
        .with_env(env(&[("OUT", dir.to_str().unwrap())]))
        .run(&REQ);
    let took = t0.elapsed();
    assert_eq!(o.ended, Ended::TimedOut);
    assert!(
        took >= Duration::from_millis(1300) && took < Duration::from_millis(3000),
        "{took:?}"
    );
    let child = fs::read_to_string(dir.join("child")).unwrap();
    assert!(wait_gone(&child), "its sleep {child} survived");
}

#[test]
fn fd4_reply_line() {
    let cases: &[(&str, &str, Decision)] = &[
        (
            "100",
            "550 5.1.1 <alice@example.org>: unknown user\\r\\n",
            refused(b"550 5.1.1 <alice@example.org>: unknown user\r\n", false),
        ),
        ("100", "421 go away\\n", refused(b"421 go away\r\n", true)),
        (
            "113",
            "452 too many today\\n",
            refused(b"452 too many today\r\n", false),
        ),
        (
            "100",
            "250 ok\\r\\n",
            refused(reply::RCPTCHECK_BAD_FD4, false),
        ),
        ("113", "bogus", refused(reply::RCPTCHECK_BAD_FD4, false)),
        // Hostile: no extra reply lines, no continuation, no control bytes.
        (
            "100",
            "550 first\\r\\n250 injected\\r\\n",
            refused(b"550 first\r\n", false),
        ),
        ("100", "550-a\\n550 b\\n", refused(b"550 a\r\n", false)),
        (
            "100",
            "550 \\033[31mred\\0377",
            refused(b"550 ?[31mred?\r\n", false),
        ),
        // Written but not answered: 0 accepts, 111 is its own 421.
        ("0", "550 no\\n", Decision::Accept),
        (
            "111",
            "550 no\\n",
            refused(reply::RCPTCHECK_UNVERIFIED, true),
        ),
        // Nothing but a newline is no text.
        ("100", "\\r\\n", refused(reply::RCPTCHECK_NO_MAILBOX, false)),
    ];
    for (code, text, want) in cases {
        let o = run("fd4", true, &[("CODE", code), ("FD4", text)], T);
        assert_eq!(o.ended, Ended::Exited(code.parse().unwrap()));
        assert_eq!(&rcptcheck::decide(&o), want, "exit {code}, fd 4 {text:?}");
    }
}

/// 200 kB on fd 4: no deadlock (the pipe is read while it runs), the first
/// FD4_MAX bytes kept, one reply line of at most 512 bytes.
#[test]
fn fd4_flood() {
    let t0 = Instant::now();
    let o = run("fd4big", true, &[], T);
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(o.ended, Ended::Exited(100));
    assert_eq!(o.fd4.len(), rcptcheck::FD4_MAX);
    let Decision::Refuse { reply, close } = rcptcheck::decide(&o) else {
        panic!()
    };
    assert!(!close);
    assert_eq!(reply.len(), rcptcheck::REPLY_MAX);
    assert!(reply.starts_with(b"550 big yyy") && reply.ends_with(b"y\r\n"));
}

/// A grandchild holding fd 4 open does not delay the answer.
#[test]
fn fd4_held_by_a_grandchild() {
    let t0 = Instant::now();
    let o = run("fd4orphan", true, &[], T);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(o.ended, Ended::Exited(100));
    assert_eq!(rcptcheck::decide(&o), refused(b"550 orphan\r\n", false));
}

/// Without USE_FD4: no variable, no fd 4.
#[test]
fn no_fd4_without_use_fd4() {
    let o = run("nofd4", false, &[("USE_FD4", "1")], T);
    assert_eq!(o.ended, Ended::Exited(100));
    assert!(o.fd4.is_empty());
    assert_eq!(
        rcptcheck::decide(&o),
        refused(reply::RCPTCHECK_NO_MAILBOX, false)
    );
}

/// A lookup with freecdb's cdbget: 0 found, 100 not found; no cdb: 111.
#[test]
fn cdb_lookup() {
    let Some((cdbget, cdb)) = &fixture().cdb else {
        panic!("cdbget and cdbmake are needed (Debian package freecdb; .ci/run installs it)");
    };
    let check = |rcpt: &[u8], cdb: &Path| {
        let req = Request {
            recipient: rcpt,
            ..REQ
        };
        let o = Spawner::new(&config("cdb", false), T)
            .with_env(env(&[
                ("CDBGET", cdbget.to_str().unwrap()),
                ("CDB", cdb.to_str().unwrap()),
            ]))
            .run(&req);
        rcptcheck::decide(&o)
    };
    assert_eq!(check(b"alice@example.org", cdb), Decision::Accept);
    assert_eq!(check(b"postmaster@example.org", cdb), Decision::Accept);
    assert_eq!(
        check(b"mallory@example.org", cdb),
        refused(reply::RCPTCHECK_NO_MAILBOX, false)
    );
    assert_eq!(
        check(b"alice@example.org", &fixture().root.join("missing.cdb")),
        refused(reply::RCPTCHECK_UNVERIFIED, true)
    );
}

/// The whole check, with its log lines.
#[test]
fn check_and_log() {
    let mut s = Spawner::new(&config("exit", false), T).with_env(env(&[("CODE", "100")]));
    let (d, logs) = rcptcheck::check(&mut s, &REQ);
    assert_eq!(d, refused(reply::RCPTCHECK_NO_MAILBOX, false));
    assert_eq!(logs.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&logs[0].line),
        "rcptcheck alice@example.org: exit 100: refused 553"
    );
}
