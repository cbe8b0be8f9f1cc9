//! How qmail-queue's end becomes the reply to DATA (SPEC section 7, steps 2
//! and 7): every exit code of the table, the fd 6 custom-error text, a
//! crash, a program that cannot be run, and one that stops reading early.
//! After each failure the session goes on.

mod support;

use support::{Fixture, Output, Queue};

const G: &str = "220 mx.example ESMTP\r\n";
const BYE: &str = "221 mx.example\r\n";
const RCVD: &str = "Received: from client.example (192.0.2.1)\n  by mx.example with SMTP; DATE\n";
const ENVELOPE: &[u8] = b"Falice@sender.example\0Tbob@example.com\0\0";
const STD_ENV: &[(&str, &str)] = &[
    ("TCPREMOTEIP", "192.0.2.1"),
    ("TCPREMOTEHOST", "client.example"),
    ("TCPLOCALHOST", "mx.example"),
];
const BEFORE: &str = "HELO client.example\r\nMAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";
const UPTO_354: &str =
    "220 mx.example ESMTP\r\n250 mx.example\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n";
/// After the message: the transaction is over (RCPT needs a new MAIL), and
/// the session answers RSET and QUIT.
const AFTER: &str = "RCPT TO:<bob@example.com>\r\nRSET\r\nQUIT\r\n";
const AFTER_REPLIES: &str = "503 MAIL first (#5.5.1)\r\n250 flushed\r\n221 mx.example\r\n";

fn fixture(name: &str, q: Queue) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[("me", "mx.example\n"), ("rcpthosts", "example.com\n")],
    );
    f.queue(q);
    f
}

fn send(f: &Fixture, body: &[u8]) -> Output {
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(body);
    input.extend_from_slice(b".\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    f.run(STD_ENV, input)
}

/// qmail-queue reads everything, then exits `code`: the reply is `reply`,
/// and the stand-in got the whole message and envelope (so the reply is
/// about the exit code, not about a failed write).
fn check_exit(code: i32, reply: &str) {
    let f = fixture(&format!("exit-{code}"), Queue::Record(code));
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    let expected = format!("{UPTO_354}{reply}{AFTER_REPLIES}");
    match out.masked_stdout() {
        Ok(got) if got == expected.as_bytes() => {}
        Ok(got) => out.fail(&format!(
            "qmail-queue exit {code}: reply differs\n{}",
            support::diff(expected.as_bytes(), &got)
        )),
        Err(e) => out.fail(&format!("qmail-queue exit {code}: {e}")),
    }
    out.assert_exit(0);
    out.assert_queued(format!("{RCVD}Subject: q\n\nbody\n"), ENVELOPE);
}

macro_rules! exit_codes {
    ($($name:ident: $code:expr => $reply:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_exit($code, $reply);
            }
        )*
    };
}

exit_codes! {
    exit_0_is_accepted: 0 => "250 ok UNIXTIME qp PID\r\n";
    exit_11: 11 => "554 envelope address too long for qq (#5.1.3)\r\n";
    exit_115: 115 => "554 envelope address too long for qq (#5.1.3)\r\n";
    exit_31: 31 => "554 mail server permanently rejected message (#5.3.0)\r\n";
    exit_51: 51 => "451 qq out of memory (#4.3.0)\r\n";
    exit_52: 52 => "451 qq timeout (#4.3.0)\r\n";
    exit_53: 53 => "451 qq write error or disk full (#4.3.0)\r\n";
    exit_54: 54 => "451 qq read error (#4.3.0)\r\n";
    exit_55: 55 => "451 qq unable to read configuration (#4.3.0)\r\n";
    exit_56: 56 => "451 qq trouble making network connection (#4.3.0)\r\n";
    exit_61: 61 => "451 qq trouble in home directory (#4.3.0)\r\n";
    exit_62: 62 => "451 qq trouble creating files in queue (#4.3.0)\r\n";
    exit_63: 63 => "451 qq trouble creating files in queue (#4.3.0)\r\n";
    exit_64: 64 => "451 qq trouble creating files in queue (#4.3.0)\r\n";
    exit_65: 65 => "451 qq trouble creating files in queue (#4.3.0)\r\n";
    exit_66: 66 => "451 qq trouble creating files in queue (#4.3.0)\r\n";
    exit_71: 71 => "451 mail server temporarily rejected message (#4.3.0)\r\n";
    exit_72: 72 => "451 connection to mail server timed out (#4.4.1)\r\n";
    exit_73: 73 => "451 connection to mail server rejected (#4.4.1)\r\n";
    exit_74: 74 => "451 communication with mail server failed (#4.4.2)\r\n";
    exit_81: 81 => "451 qq internal bug (#4.3.0)\r\n";
    exit_91: 91 => "451 qq internal bug (#4.3.0)\r\n";
    exit_120: 120 => "451 unable to exec qq (#4.3.0)\r\n";
    exit_82_without_text: 82 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_12_other_permanent: 12 => "554 qq permanent problem (#5.3.0)\r\n";
    exit_40_other_permanent: 40 => "554 qq permanent problem (#5.3.0)\r\n";
    exit_41_temporary: 41 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_10_temporary: 10 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_1_temporary: 1 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_67_temporary: 67 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_99_temporary: 99 => "451 qq temporary problem (#4.3.0)\r\n";
    exit_255_temporary: 255 => "451 qq temporary problem (#4.3.0)\r\n";
}

/// qmail-queue writes `text` on fd 6 and exits 82.
fn check_custom(text: &[u8], reply: &str) {
    let f = fixture("custom82", Queue::Custom82(text.to_vec()));
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    out.assert_stdout(format!("{UPTO_354}{reply}{AFTER_REPLIES}"));
    out.assert_exit(0);
}

#[test]
fn exit_82_with_d_text_is_permanent() {
    check_custom(
        b"Dsorry, this message looks like spam (#5.7.1)",
        "554 sorry, this message looks like spam (#5.7.1)\r\n",
    );
}

#[test]
fn exit_82_with_z_text_is_temporary() {
    check_custom(
        b"Zvirus scanner unavailable, try later (#4.3.0)",
        "451 virus scanner unavailable, try later (#4.3.0)\r\n",
    );
}

#[test]
fn exit_82_with_other_first_byte_is_temporary() {
    check_custom(b"Xsomething odd (#4.3.0)", "451 something odd (#4.3.0)\r\n");
}

#[test]
fn exit_82_text_is_one_reply_line() {
    // A trailing newline, or a second line, never reaches the client as
    // a line of its own.
    check_custom(b"Dvirus found (#5.7.1)\n", "554 virus found (#5.7.1)\r\n");
    check_custom(
        b"Dfirst line (#5.7.1)\r\n250 ok injected\r\n",
        "554 first line (#5.7.1)\r\n",
    );
}

#[test]
fn killed_by_a_signal_is_qq_crashed() {
    let f = fixture("killed", Queue::KillMidMessage);
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    out.assert_stdout(format!(
        "{UPTO_354}451 qq crashed (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
    out.assert_nothing_queued();
}

#[test]
fn killed_by_a_signal_during_a_large_message() {
    let f = fixture("killed-large", Queue::KillMidMessage);
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}451 qq crashed (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

/// A message body of more than a pipe buffer (1 MB).
fn megabyte_body() -> Vec<u8> {
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    let line = format!("{}\r\n", "z".repeat(98));
    while body.len() < 1_000_000 {
        body.extend_from_slice(line.as_bytes());
    }
    body
}

#[test]
fn missing_qmail_queue_is_unable_to_exec_after_the_data() {
    let f = fixture("missing", Queue::Record(0));
    let missing = f.root.join("no-such-qmail-queue");
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(b"Subject: q\r\n\r\nbody\r\n.\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    let out = STD_ENV
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .env("QMAILQUEUE", &missing)
        .input(&input)
        .run();
    out.assert_stdout(format!(
        "{UPTO_354}451 unable to exec qq (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
    if !out.calls.is_empty() {
        out.fail("the recording qmail-queue ran although QMAILQUEUE named a missing program");
    }
}

#[test]
fn missing_qmail_queue_with_a_large_message() {
    // The whole message is still read, so the session stays in sync.
    let f = fixture("missing-large", Queue::Record(0));
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(&megabyte_body());
    input.extend_from_slice(b".\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    let out = STD_ENV
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .env("QMAILQUEUE", f.root.join("nope"))
        .input(&input)
        .run();
    out.assert_stdout(format!(
        "{UPTO_354}451 unable to exec qq (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

#[test]
fn non_executable_qmail_queue_is_unable_to_exec() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture("noexec", Queue::Record(0));
    std::fs::set_permissions(f.queue_program(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    out.assert_stdout(format!(
        "{UPTO_354}451 unable to exec qq (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

#[test]
fn default_queue_program_is_bin_qmail_queue_in_the_qmail_home() {
    let f = fixture("default-qq", Queue::Record(0));
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(b"x\r\n.\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    let run = |f: &Fixture| {
        STD_ENV
            .iter()
            .fold(f.cmd(), |r, (k, v)| r.env(k, v))
            .env_remove("QMAILQUEUE")
            .input(&input)
            .run()
    };
    // Not there: unable to exec.
    let out = run(&f);
    out.assert_stdout(format!(
        "{UPTO_354}451 unable to exec qq (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    // There: used.
    f.install_queue(&f.home.join("bin/qmail-queue"), Queue::Record(0));
    let out = run(&f);
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n{AFTER_REPLIES}"
    ));
    out.assert_queued(format!("{RCVD}x\n"), ENVELOPE);
}

#[test]
fn relative_qmailqueue_is_relative_to_the_qmail_home() {
    let f = fixture("relative-qq", Queue::Record(0));
    f.install_queue(&f.home.join("bin/qq-alt"), Queue::Record(0));
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(b"x\r\n.\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    let out = STD_ENV
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .env("QMAILQUEUE", "bin/qq-alt")
        .input(&input)
        .run();
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n{AFTER_REPLIES}"
    ));
    out.assert_queued(format!("{RCVD}x\n"), ENVELOPE);
}

#[test]
fn exit_0_after_reading_part_of_the_message_is_not_250() {
    let f = fixture("partial0", Queue::ReadPartial(1000, 0));
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}451 qq read error (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

#[test]
fn exit_0_before_reading_anything_is_not_250() {
    let f = fixture("early0", Queue::ExitEarly(0));
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}451 qq read error (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

#[test]
fn early_nonzero_exit_gives_that_code_s_reply() {
    let f = fixture("partial71", Queue::ReadPartial(1000, 71));
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}451 mail server temporarily rejected message (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    let f = fixture("early31", Queue::ExitEarly(31));
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}554 mail server permanently rejected message (#5.3.0)\r\n{AFTER_REPLIES}"
    ));
}

#[test]
fn a_large_message_reaches_qmail_queue_whole() {
    let f = fixture("large-ok", Queue::Record(0));
    let body = megabyte_body();
    let out = send(&f, &body);
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n{AFTER_REPLIES}"
    ));
    let stored = String::from_utf8(body).unwrap().replace("\r\n", "\n");
    out.assert_queued(format!("{RCVD}{stored}"), ENVELOPE);
}

#[test]
fn the_session_continues_after_a_failure() {
    // First run fails temporarily, the second (a new transaction) succeeds,
    // the third fails permanently.
    let f = fixture("sequence", Queue::Sequence(vec![71, 0, 31]));
    let msg = "MAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n";
    let input = format!("HELO client.example\r\n{msg}{msg}{msg}NOOP\r\nQUIT\r\n");
    let out = f.run(STD_ENV, input);
    let txn = "250 ok\r\n250 ok\r\n354 go ahead\r\n";
    out.assert_stdout(format!(
        "{G}250 mx.example\r\n{txn}451 mail server temporarily rejected message (#4.3.0)\r\n\
         {txn}250 ok UNIXTIME qp PID\r\n\
         {txn}554 mail server permanently rejected message (#5.3.0)\r\n250 ok\r\n{BYE}"
    ));
    out.assert_exit(0);
    if out.calls.len() != 3 {
        out.fail("expected three qmail-queue runs");
    }
    // The 250's qp is the pid of the second run.
    let accepted = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("250 ok "))
        .map(str::to_string);
    let qp = accepted
        .as_deref()
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|p| p.parse::<u32>().ok());
    if qp != Some(out.calls[1].pid) {
        out.fail(&format!(
            "250 ok names qp {qp:?}, but the accepting qmail-queue was pid {}",
            out.calls[1].pid
        ));
    }
}

#[test]
fn exit_0_without_taking_the_envelope_is_not_250() {
    // qmail-queue read the whole message and exited 0, but the envelope
    // could not be written to it: not every byte reached it. The message
    // is larger than a pipe buffer, so the stand-in has closed its fd 1
    // (before reading) by the time the message is through and the envelope
    // is written.
    let f = fixture("no-envelope", Queue::NoEnvelope);
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!(
        "{UPTO_354}451 qq read error (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
}

#[test]
fn qmail_queue_does_not_inherit_the_client_connection() {
    // Were the client's descriptors to leak into qmail-queue (or anything
    // it runs), the connection would outlive the session.
    let f = fixture("fds", Queue::RecordFds);
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n{AFTER_REPLIES}"
    ));
    let Some(fds) = out.calls.first().and_then(|c| c.fds.clone()) else {
        out.fail("the stand-in qmail-queue recorded no descriptor list");
    };
    for ino in out.client_pipes.iter().flatten() {
        let name = format!("pipe:[{ino}]");
        if fds.contains(&name) {
            out.fail(&format!("qmail-queue has the client's {name} open:\n{fds}"));
        }
    }
    // fd 6 is the custom-error pipe.
    if !fds.lines().any(|l| l.contains(" 6 -> pipe:[")) {
        out.fail(&format!("qmail-queue has no pipe on fd 6:\n{fds}"));
    }
    if out.client_pipes.iter().flatten().count() != 2 {
        out.fail("could not find the client's pipes");
    }
}

/// Started with SIGCHLD ignored (some supervisors, `swaks --pipe`): the
/// exec keeps that, and the kernel would reap qmail-queue before waitpid
/// sees its exit status. The server resets SIGCHLD to its default first.
#[test]
fn sigchld_ignored_by_the_parent_still_gets_the_exit_status() {
    let f = fixture("sigchld-ignored", Queue::Sequence(vec![0, 31]));
    let msg = "MAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n";
    let input = format!("HELO client.example\r\n{msg}{msg}QUIT\r\n");
    let out = STD_ENV
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .wrap([
            "perl",
            "-e",
            "$SIG{CHLD} = 'IGNORE'; exec { $ARGV[0] } @ARGV or die \"exec: $!\"",
        ])
        .input(input)
        .run();
    let txn = "250 ok\r\n250 ok\r\n354 go ahead\r\n";
    out.assert_stdout(format!(
        "{G}250 mx.example\r\n{txn}250 ok UNIXTIME qp PID\r\n\
         {txn}554 mail server permanently rejected message (#5.3.0)\r\n{BYE}"
    ));
    out.assert_exit(0);
}

/// waitpid itself failing (injected with strace: every wait4 of the
/// server answers ECHILD) is netqmail's `qq waitpid surprise`, not an
/// exit code made up for it; the reason is logged.
#[test]
fn waitpid_failing_is_qq_waitpid_surprise() {
    support::require_program("strace", "strace");
    let f = fixture("waitpid-surprise", Queue::Record(0));
    let mut input = BEFORE.as_bytes().to_vec();
    input.extend_from_slice(b"x\r\n.\r\n");
    input.extend_from_slice(AFTER.as_bytes());
    let out = STD_ENV
        .iter()
        .fold(f.cmd(), |r, (k, v)| r.env(k, v))
        .wrap([
            "strace",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=wait4",
            "-e",
            "inject=wait4:error=ECHILD",
        ])
        .input(&input)
        .run();
    out.assert_stdout(format!(
        "{UPTO_354}451 qq waitpid surprise (#4.3.0)\r\n{AFTER_REPLIES}"
    ));
    out.assert_exit(0);
    out.assert_stderr_contains("unable to wait for qmail-queue: No child processes");
}

/// A fixture whose qmail-queue may go `timeoutsmtpd` seconds without
/// progress.
fn timeout_fixture(name: &str, q: Queue, timeoutsmtpd: u32) -> Fixture {
    let f = fixture(name, q);
    f.control("timeoutsmtpd", format!("{timeoutsmtpd}\n"));
    f
}

/// The reply when qmail-queue was killed for making no progress.
const QQ_TIMED_OUT: &str = "451 qmail-queue timed out (#4.3.0)\r\n";

/// A qmail-queue that never reads: once the pipe is full, no write is
/// accepted for timeoutsmtpd seconds, and it is killed (SIGKILL, as it
/// ignores SIGTERM). The rest of the message is still read from the
/// client, the session goes on, nothing is queued.
#[test]
fn qmail_queue_hanging_before_reading_is_killed() {
    let f = timeout_fixture("hang-before", Queue::HangBeforeReading, 2);
    let out = send(&f, &megabyte_body());
    out.assert_stdout(format!("{UPTO_354}{QQ_TIMED_OUT}{AFTER_REPLIES}"));
    out.assert_exit(0);
    out.assert_nothing_queued();
    out.assert_stderr_contains("made no progress taking the message for 2 seconds: killed");
    // 2 s without progress, then 2 s of grace after SIGTERM.
    if out.elapsed < std::time::Duration::from_secs(3)
        || out.elapsed > std::time::Duration::from_secs(20)
    {
        out.fail("expected the kill after about 4 seconds");
    }
    if std::path::Path::new(&format!("/proc/{}", out.calls[0].pid)).exists() {
        out.fail("the hung qmail-queue is still running");
    }
}

/// A qmail-queue that takes message and envelope, then never exits: killed
/// timeoutsmtpd seconds after the envelope. It is a real qmail-queue's
/// exit 0 that says the message is queued; this one never gives it.
#[test]
fn qmail_queue_not_exiting_after_the_envelope_is_killed() {
    let f = timeout_fixture("hang-after", Queue::HangAfterEnvelope, 2);
    let out = send(&f, b"Subject: q\r\n\r\nbody\r\n");
    out.assert_stdout(format!("{UPTO_354}{QQ_TIMED_OUT}{AFTER_REPLIES}"));
    out.assert_exit(0);
    out.assert_nothing_queued();
    out.assert_stderr_contains(
        "made no progress after the envelope (it did not exit) for 2 seconds: killed",
    );
    if out.message().is_none() || !f.queue_dir.join("0.pending").exists() {
        out.fail("the stand-in should have read the message and the envelope");
    }
    if out.elapsed > std::time::Duration::from_secs(20) {
        out.fail("the kill came late");
    }
}

/// A slow filter that keeps reading (a write accepted every 0.3 s) and
/// takes 0.3 s to exit is never killed, though it runs for longer than
/// timeoutsmtpd in all: the limit is on a stall, not on the whole.
#[test]
fn a_slow_but_progressing_qmail_queue_is_not_killed() {
    let f = timeout_fixture(
        "slow-filter",
        Queue::SlowReader {
            chunk: 32 * 1024,
            pause_ms: 300,
        },
        2,
    );
    let mut body = b"Subject: slow\r\n\r\n".to_vec();
    let line = format!("{}\r\n", "s".repeat(98));
    while body.len() < 400_000 {
        body.extend_from_slice(line.as_bytes());
    }
    let out = send(&f, &body);
    out.assert_stdout(format!(
        "{UPTO_354}250 ok UNIXTIME qp PID\r\n{AFTER_REPLIES}"
    ));
    let stored = String::from_utf8(body).unwrap().replace("\r\n", "\n");
    out.assert_queued(format!("{RCVD}{stored}"), ENVELOPE);
    if out.elapsed < std::time::Duration::from_secs(3) {
        out.fail("the stand-in was meant to take longer than timeoutsmtpd in all");
    }
}
