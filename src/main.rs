//! qmail-smtpd: receive mail via SMTP, refusing unknown local recipients.
//! Started once per connection by tcpserver, inetd or xinetd.
//!
//! tcpserver starts one process per connection, so start-up is paid for
//! every message. This binary therefore skips Rust's runtime set-up (about
//! 120 µs here: it reads /proc/self/maps for a stack guard and maps a
//! signal stack) with `no_main`, and does by hand the two parts that
//! matter: SIGPIPE ignored, and fds 0-2 guaranteed open.
#![no_main]

use std::io::Write;

use qmail_smtpd::resolve::{AcceptAll, RcptCheck, Resolver, Routing, system::RealSystem};
use qmail_smtpd::smtpd::{self, Env, Peer, ProcessEnv, SystemIpme};
use qmail_smtpd::{io, logger, reply, session::Session};

/// The reply for a fatal start-up problem, then exit 1.
fn die(text: &[u8]) -> ! {
    let _ = std::io::stdout().write_all(text);
    std::process::exit(1)
}

/// The C entry point; see the module comment for why not Rust's `main`.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    ignore_sigpipe();
    io::ensure_standard_fds();
    run()
}

/// As qmail-smtpd does: a vanished client shows up as a write error, not a
/// signal. qmail-queue inherits it, as it does from netqmail's.
#[allow(unsafe_code)]
fn ignore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs SIG_IGN, not a handler; no other thread exists yet.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

fn run() -> ! {
    io::protect_stderr();
    let env = ProcessEnv;
    logger::init(logger::parse_level(env.get("SMTPD_LOGLEVEL").as_deref().and_then(|v| std::str::from_utf8(v).ok())));
    if std::env::set_current_dir(smtpd::qmail_home(&env)).is_err() {
        die(reply::CONTROLS);
    }
    let loaded = match smtpd::load(".".as_ref(), &env, Peer::of_stdin) {
        Ok(l) => l,
        Err(e) => {
            log::warn!("unable to read controls: {e}");
            die(reply::CONTROLS)
        }
    };
    let mut resolver;
    let mut accept_all = AcceptAll;
    let check: &mut dyn RcptCheck = if smtpd::is_set(&env, "NOREALRCPTTO") {
        &mut accept_all
    } else {
        match Routing::load() {
            Ok(routing) => {
                resolver = Resolver::new(routing, RealSystem::default());
                &mut resolver
            }
            Err(e) => {
                log::warn!("unable to read controls for the recipient check: {e}");
                die(reply::CONTROLS)
            }
        }
    };
    log::info!(
        "connection from {} ({})",
        String::from_utf8_lossy(&loaded.setup.remote_ip),
        String::from_utf8_lossy(&loaded.setup.remote_host)
    );
    let Ok(client) = io::Client::new(loaded.timeout) else {
        std::process::exit(1)
    };
    let mut ipme = SystemIpme::default();
    let mut session = Session::new(loaded.setup, &mut ipme, check);
    let code = io::run(&mut session, &client, &loaded.queue_program);
    std::process::exit(code)
}
