//! The tarpit (Chris Johnson's patch) through the binary: the pauses are
//! seen with strace, not timed, and each comes before the reply it delays.
//! (The order within the conversation is in tests/transcripts/33-tarpit.t.)

mod support;

use support::Fixture;

/// The binary's sleeps and writes, in order, from an strace log: `sleep
/// N` for each nanosleep, `write` for each write to the client (any fd but the log's 2:
/// the binary writes through a duplicate of fd 1).
fn sleeps_and_writes(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|l| {
            if l.contains("nanosleep(") {
                let secs = l.split("tv_sec=").nth(1)?.split(',').next()?;
                Some(format!("sleep {secs}"))
            } else if l.starts_with("write(") && !l.starts_with("write(2,") {
                Some("write".to_string())
            } else {
                None
            }
        })
        .collect()
}

fn run(f: &Fixture, env: &[(&str, &str)], rcpts: usize) -> (support::Output, Vec<String>) {
    support::require_program("strace", "strace");
    let trace = f.root.join("strace.log");
    let mut input = String::from("MAIL FROM:<a@b.example>\r\n");
    for i in 0..rcpts {
        input.push_str(&format!("RCPT TO:<u{i}@example.com>\r\n"));
    }
    input.push_str("QUIT\r\n");
    let mut cmd = f.cmd().wrap([
        "strace".as_ref(),
        "-qq".as_ref(),
        "-e".as_ref(),
        "trace=write,nanosleep,clock_nanosleep".as_ref(),
        "-o".as_ref(),
        trace.as_os_str(),
    ]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.input(input).run();
    let log = std::fs::read_to_string(&trace).unwrap();
    (out, sleeps_and_writes(&log))
}

fn fixture(name: &str, count: &str) -> Fixture {
    Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "example.com\n"),
            ("tarpitcount", count),
        ],
    )
}

#[test]
fn from_the_count_th_recipient_each_reply_waits() {
    let f = fixture("tarpit", "3\n");
    let (out, events) = run(&f, &[("TARPITDELAY", "1")], 4);
    out.assert_stdout(format!(
        "220 mx.example ESMTP\r\n{}221 mx.example\r\n",
        "250 ok\r\n".repeat(5)
    ))
    .assert_exit(0);
    // The greeting, then (the input was pipelined) two pauses before the
    // replies are written.
    assert_eq!(
        events,
        ["write", "sleep 1", "sleep 1", "write"],
        "{events:?}"
    );
}

#[test]
fn the_environment_overrides_the_control_files_and_zero_is_off() {
    let f = fixture("tarpit-env", "1\n");
    f.control("tarpitdelay", "2\n");
    let (_, events) = run(&f, &[], 2);
    assert_eq!(
        events,
        ["write", "sleep 2", "sleep 2", "write"],
        "{events:?}"
    );
    let (_, events) = run(&f, &[("TARPITCOUNT", "0")], 2);
    assert_eq!(events, ["write", "write"], "{events:?}");
    let (_, events) = run(&f, &[("TARPITDELAY", "0")], 2);
    assert_eq!(events, ["write", "write"], "{events:?}");
    // Without either control file or variable, nothing waits.
    f.remove("control/tarpitcount");
    f.remove("control/tarpitdelay");
    let (_, events) = run(&f, &[], 3);
    assert_eq!(events, ["write", "write"], "{events:?}");
}
