//! Start-up shared by qmail-smtpd and qmail-smtpd-tls: log level, chdir
//! to the qmail home, controls, the recipient check, then the session,
//! which each binary runs over its own transport ([`Front`]).

use std::io::Write;

use crate::io::Client;
use crate::queue::Program;
use crate::resolve::{AcceptAll, Options, RcptCheck, Resolver, Routing, system::RealSystem};
use crate::session::{Session, Setup};
use crate::smtpd::{self, Env, Peer, ProcessEnv, SystemIpme};
use crate::{io, logger, reply};

/// What differs between the two binaries.
pub trait Front {
    /// In the qmail home, before the controls are read.
    fn started(&mut self, _env: &dyn Env) {}
    /// Adjusts the set-up before the session is built.
    fn setup(&mut self, _setup: &mut Setup) {}
    /// Whether this process logs `connection from ...`: once per
    /// connection, so not again after the exec for STARTTLS.
    fn logs_connection(&self) -> bool {
        true
    }
    /// Runs the session over the client; returns the exit status.
    fn run(&mut self, session: &mut Session, client: &Client, queue_program: &Program) -> i32;
}

/// The reply for a fatal start-up problem, then exit 1.
pub fn die(text: &[u8]) -> ! {
    let _ = std::io::stdout().write_all(text);
    std::process::exit(1)
}

/// Runs one connection and exits.
pub fn serve(front: &mut dyn Front) -> ! {
    io::protect_stderr();
    crate::oom::log_to_stderr();
    let env = ProcessEnv;
    logger::init(logger::parse_level(
        env.get("SMTPD_LOGLEVEL")
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok()),
    ));
    let home = smtpd::qmail_home(&env);
    if let Err(e) = std::env::set_current_dir(&home) {
        log::warn!(
            "unable to read controls: unable to chdir to {}: {e}",
            home.to_string_lossy()
        );
        die(reply::CONTROLS);
    }
    front.started(&env);
    let mut loaded = match smtpd::load(".".as_ref(), &env, Peer::of_stdin) {
        Ok(l) => l,
        Err(e) => {
            log::warn!("unable to read controls: {e}");
            die(reply::CONTROLS)
        }
    };
    front.setup(&mut loaded.setup);
    let mut resolver;
    let mut accept_all = AcceptAll;
    let check: &mut dyn RcptCheck = if smtpd::is_set(&env, "NOREALRCPTTO") {
        &mut accept_all
    } else {
        match Routing::load_with_me(".".as_ref(), loaded.me.take()) {
            Ok(routing) => {
                resolver =
                    Resolver::new(routing, RealSystem::default()).with_options(check_options(&env));
                &mut resolver
            }
            Err(e) => {
                log::warn!("unable to read controls for the recipient check: {e}");
                die(reply::CONTROLS)
            }
        }
    };
    if front.logs_connection() {
        log::info!(
            "connection from {} ({})",
            String::from_utf8_lossy(&loaded.setup.remote_ip),
            String::from_utf8_lossy(&loaded.setup.remote_host)
        );
    }
    let Ok(client) = io::Client::new(loaded.timeout) else {
        std::process::exit(1)
    };
    let mut ipme = SystemIpme::default();
    let mut session = Session::new(loaded.setup, &mut ipme, check);
    let code = front.run(&mut session, &client, &loaded.queue_program);
    std::process::exit(code)
}

/// The recipient check's switches: `NODOTQMAIL` (set: do not read the
/// `.qmail` file qmail-local would run), `DOTQMAILFAIL=accept` (accept
/// instead of 451 when a database that file points to cannot be read).
pub fn check_options(env: &dyn smtpd::Env) -> Options {
    Options {
        dotqmail: !smtpd::is_set(env, "NODOTQMAIL"),
        fail_accept: env.get("DOTQMAILFAIL").is_some_and(|v| v == b"accept"),
    }
}
