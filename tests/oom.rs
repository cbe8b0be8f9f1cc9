//! Out of memory, under `prlimit --as` at a sweep of limits: whatever
//! allocation fails, the server answers qmail's `421 out of memory
//! (#4.3.0)` and exits 1. It never aborts (Rust's default: `memory
//! allocation of N bytes failed`, SIGABRT, no reply), and nothing is queued
//! unless the client was told `250 ok`.
//!
//! Below some limit the dynamic loader cannot map libc.so.6 at all (exit
//! 127 before any of the server's code runs); that is allowed, and is the
//! floor of the sweep.

mod support;

use support::{Fixture, Output, Queue};

const G: &str = "220 mx.example ESMTP\r\n";
const NOMEM: &str = "421 out of memory (#4.3.0)\r\n";
const SESSION: &str = "HELO client.example\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: oom\r\n\r\nbody\r\n.\r\nQUIT\r\n";
/// What the session gets with memory enough.
const REPLIES: &str = "220 mx.example ESMTP\r\n250 mx.example\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n250 ok UNIXTIME qp PID\r\n221 mx.example\r\n";

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.queue(Queue::Record(0));
    f
}

/// How one run under a limit ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The loader could not map the binary's libraries: nothing of ours ran.
    Loader,
    /// The whole session, 250 and 221 included.
    Whole,
    /// 421 out of memory after this many replies of the normal session.
    OutOfMemory(usize),
    /// Exit 0 with some other ending that is not ours to judge here (the
    /// stand-in qmail-queue, running under the same limit, failing).
    Other,
}

/// Checks one run against the rules above; panics with everything known
/// if it breaks one.
fn judge(out: &Output, limit: u64, replies: &str) -> End {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = out.status.signal() {
        out.fail(&format!("prlimit --as={limit}: killed by signal {sig}"));
    }
    if support::contains(&out.stderr, b"memory allocation of") {
        out.fail(&format!(
            "prlimit --as={limit}: Rust's allocation failure message"
        ));
    }
    let stdout = match out.masked_stdout() {
        Ok(s) => String::from_utf8_lossy(&s).into_owned(),
        Err(e) => out.fail(&e),
    };
    let queued = !out.queued().is_empty();
    let accepted = stdout.contains("250 ok UNIXTIME qp PID\r\n");
    if queued && !accepted {
        out.fail(&format!(
            "prlimit --as={limit}: a message was queued without a 250"
        ));
    }
    match out.code() {
        // The dynamic loader's failures (`error while loading shared
        // libraries`, `cannot allocate TLS data structures for initial
        // thread`) exit 127; the server itself only ever exits 0 or 1.
        Some(127) if out.stdout.is_empty() => End::Loader,
        Some(0) if stdout == replies => End::Whole,
        Some(0) if stdout.ends_with("221 mx.example\r\n") => End::Other,
        Some(1) => {
            let Some(before) = stdout.strip_suffix(NOMEM) else {
                out.fail(&format!(
                    "prlimit --as={limit}: exit 1 without `421 out of memory` last"
                ));
            };
            if !replies.starts_with(before) {
                out.fail(&format!(
                    "prlimit --as={limit}: the replies before the 421 are not the session's"
                ));
            }
            End::OutOfMemory(before.matches("\r\n").count())
        }
        _ => out.fail(&format!("prlimit --as={limit}: unexpected ending")),
    }
}

/// Runs the session under `prlimit --as=L` for L from `from` in `step`s
/// until it works whole, judging every run.
fn sweep(f: &Fixture, env: &[(&str, String)], from: u64, step: u64) -> Vec<(u64, End)> {
    sweep_session(f, env, from, step, SESSION, REPLIES)
}

/// [`sweep`] with another session and the replies it gets whole.
fn sweep_session(
    f: &Fixture,
    env: &[(&str, String)],
    from: u64,
    step: u64,
    session: &str,
    replies: &str,
) -> Vec<(u64, End)> {
    let mut ends = Vec::new();
    let mut limit = from;
    loop {
        let run = env
            .iter()
            .fold(f.cmd(), |r, (k, v)| r.env(k, v))
            .wrap(["prlimit".to_string(), format!("--as={limit}")])
            .input(session);
        let out = run.run();
        let end = judge(&out, limit, replies);
        let whole = end == End::Whole;
        ends.push((limit, end));
        if whole {
            return ends;
        }
        assert!(
            limit < from + 40_000_000,
            "no whole session up to prlimit --as={limit}: {ends:?}"
        );
        limit += step;
    }
}

/// From below the loader's floor up to a working session: every allocation
/// that fails on the way (at start-up, before the greeting, or later) is
/// answered 421. The sweep has to meet at least one: the session's 300
/// long recipients grow the heap by some 250 KB (malloc's pad is small
/// under a limit, see oom.rs, so a short session would fit whenever the
/// loader does).
#[test]
fn every_limit_ends_in_a_reply_never_an_abort() {
    support::require_program("prlimit", "util-linux");
    let f = fixture("oom-sweep");
    let rcpt = format!("RCPT TO:<{}@example.com>\r\n", "r".repeat(800));
    let session = SESSION.replacen("RCPT TO:<b@example.com>\r\n", &rcpt.repeat(300), 1);
    let replies = REPLIES.replacen("250 ok\r\n250 ok\r\n", &"250 ok\r\n".repeat(301), 1);
    let ends = sweep_session(&f, &[], 1_500_000, 25_000, &session, &replies);
    assert!(
        ends.iter().any(|(_, e)| matches!(e, End::OutOfMemory(_))),
        "no limit of the sweep made an allocation fail: {ends:?}"
    );
    assert_eq!(ends.first().map(|(_, e)| e), Some(&End::Loader), "{ends:?}");
}

/// At DATA, starting qmail-queue copies the environment: with 1.5 MB of it
/// that is the largest allocation of the session, so some limits let the
/// session reach DATA and no further. The reply is then 421 (in place of
/// 354, or of a reply still pending for a pipelined command), qmail-queue
/// never runs, and nothing is queued. (Once 354 is sent, the message moves
/// through fixed buffers: nothing is allocated until the final dot.)
#[test]
fn out_of_memory_at_data_queues_nothing() {
    support::require_program("prlimit", "util-linux");
    let f = fixture("oom-data");
    let big = "x".repeat(100_000);
    let env: Vec<(&str, String)> = [
        "BIG0", "BIG1", "BIG2", "BIG3", "BIG4", "BIG5", "BIG6", "BIG7", "BIG8", "BIG9", "BIGA",
        "BIGB", "BIGC", "BIGD", "BIGE",
    ]
    .into_iter()
    .map(|k| (k, big.clone()))
    .collect();
    let ends = sweep(&f, &env, 3_000_000, 50_000);
    // The runs that got past the greeting and failed: at DATA. One of them
    // again, to look at what qmail-queue got (it never ran).
    let at_data: Vec<u64> = ends
        .iter()
        .filter(|(_, e)| matches!(e, End::OutOfMemory(n) if *n >= 1))
        .map(|(l, _)| *l)
        .collect();
    let Some(&limit) = at_data.get(at_data.len() / 2) else {
        panic!("no limit let the session reach DATA and fail there: {ends:?}");
    };
    let out = env
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .wrap(["prlimit".to_string(), format!("--as={limit}")])
        .input(SESSION)
        .run();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !stdout.starts_with(G) || !stdout.ends_with(NOMEM) || stdout.contains("354") {
        out.fail("expected the greeting, then 421 out of memory in place of 354");
    }
    out.assert_exit(1)
        .assert_stderr_contains("out of memory: allocation of ")
        .assert_nothing_queued();
    if !out.calls.is_empty() {
        out.fail("qmail-queue ran, though memory ran out before it was started");
    }
}
