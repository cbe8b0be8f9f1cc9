//! Start-up shared by qmail-smtpd and qmail-smtpd-tls, in one place: log
//! level, chdir to the qmail home, controls and environment ([`setup`]),
//! the recipient check, then the session, which each binary runs over its
//! own transport ([`Front`]).
//!
//! Behind a load balancer (`$PROXYPROTOCOL`), its PROXY header is read
//! first and the environment made the client's ([`proxy::read`]), by
//! qmail-smtpd-proxy (which qmail-smtpd execs) or qmail-smtpd-tls.
//!
//! Every way start-up can fail is a [`Fatal`], and there is one exit path
//! for it ([`serve`]): logged once, answered with its reply, exit 1.

use std::fmt;
use std::io::Write;

use crate::io::Client;
use crate::ipme::SystemIpme;
use crate::queue::Program;
use crate::resolve::{AcceptAll, RcptCheck, Resolver, Routing, system::RealSystem};
use crate::session::{Session, Setup};
use crate::setup::{self, Env, Peer, ProcessEnv};
use crate::{io, logger, proxy, reply, starttls};

/// What differs between the binaries.
pub trait Front {
    /// `$PROXYPROTOCOL` is set (to `list`): read the header, with
    /// [`read_proxy_header`], or hand the connection to the program that
    /// does. In the qmail home, before anything reads the environment.
    fn proxied(&mut self, list: &[u8]) -> Result<(), Fatal>;
    /// In the qmail home, before the controls are read.
    fn started(&mut self, _env: &dyn Env) -> Result<(), Fatal> {
        Ok(())
    }
    /// argv without argv\[0\] (SMTP AUTH's forms).
    fn args(&self) -> Vec<Vec<u8>> {
        program_args()
    }
    /// Adjusts the set-up before the session is built.
    fn setup(&mut self, _setup: &mut Setup) {}
    /// Whether this process logs `connection from ...`: once per
    /// connection, so not again after the exec for STARTTLS.
    fn logs_connection(&self) -> bool {
        true
    }
    /// Runs the session over the client; returns the exit status.
    fn run(
        &mut self,
        session: &mut Session,
        client: &Client,
        queue: &mut Program,
    ) -> Result<i32, Fatal>;
}

/// Why a session cannot start (or go on): what is logged, and the reply
/// the client gets, if any (none when it expects TLS and would not read
/// plain text).
#[derive(Debug)]
pub struct Fatal {
    reply: &'static [u8],
    why: String,
}

impl Fatal {
    /// This reply (from [`reply`]), and what to log.
    pub fn new(reply: &'static [u8], why: String) -> Fatal {
        Fatal { reply, why }
    }

    /// `421 unable to read controls (#4.3.0)`.
    pub fn controls(why: impl fmt::Display) -> Fatal {
        Fatal::new(reply::CONTROLS, format!("unable to read controls: {why}"))
    }

    /// Logged, no reply: the client is not speaking plain SMTP.
    pub fn silent(why: impl fmt::Display) -> Fatal {
        Fatal {
            reply: b"",
            why: why.to_string(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.why)
    }
}

/// argv without argv\[0\] (SMTP AUTH's forms).
pub fn program_args() -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    std::env::args_os()
        .skip(1)
        .map(OsStringExt::into_vec)
        .collect()
}

/// Reads and applies the PROXY header ([`proxy::read`]), within
/// control/timeoutsmtpd. Every failure is silent: the balancer is owed no
/// reply.
pub fn read_proxy_header(list: &[u8]) -> Result<(), Fatal> {
    let timeout = setup::timeout(".".as_ref())
        .map_err(|e| Fatal::silent(format_args!("unable to read controls: {e}")))?;
    proxy::read::accept(list, timeout).map_err(Fatal::silent)
}

/// SIGCHLD back to its default, as qmail-smtpd does (see there): a binary
/// tcpserver may start directly (qmail-smtpd-tls for SMTPS) or that
/// qmail-smtpd execs inherits it ignored. (Rust's runtime has already
/// ignored SIGPIPE.)
#[allow(unsafe_code)]
pub fn default_sigchld() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs SIG_DFL, not a handler; no other thread exists yet.
    let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
}

/// The plain server: implicit TLS (SMTPS) is qmail-smtpd-tls's job, so
/// hand it over at once; otherwise greet and serve, STARTTLS by exec.
/// Behind a balancer, qmail-smtpd-proxy's job first.
pub struct Plain {
    /// main's argc: without arguments (AUTH off) std's copy of argv is
    /// not made.
    pub argc: std::ffi::c_int,
}

impl Front for Plain {
    fn args(&self) -> Vec<Vec<u8>> {
        if self.argc > 1 {
            program_args()
        } else {
            Vec::new()
        }
    }
    /// The PROXY code is not in qmail-smtpd: linked in, it would cost
    /// every plain connection its relocations and some 45 KB of address
    /// space under `softlimit -m`.
    fn proxied(&mut self, _list: &[u8]) -> Result<(), Fatal> {
        Err(Fatal::silent(starttls::execv(proxy::PROGRAM, &[])))
    }
    fn started(&mut self, env: &dyn Env) -> Result<(), Fatal> {
        if env.get("SMTPS").is_some_and(|v| !v.is_empty()) {
            // An SMTPS client expects a TLS handshake: no plain reply.
            return Err(Fatal::silent(starttls::exec(false, None)));
        }
        Ok(())
    }
    fn run(
        &mut self,
        session: &mut Session,
        client: &Client,
        queue: &mut Program,
    ) -> Result<i32, Fatal> {
        let mut host = io::SystemHost {
            start_tls: |helo| starttls::exec(true, helo),
        };
        session.greet();
        Ok(crate::driver::run(session, &mut &*client, queue, &mut host))
    }
}

/// Runs one connection and exits: the only exit of both binaries after
/// their signal set-up.
pub fn serve(front: &mut dyn Front) -> ! {
    let Err(fatal) = start(front);
    log::warn!("{fatal}");
    let _ = std::io::stdout().write_all(fatal.reply);
    std::process::exit(1)
}

/// Starts and runs the session; returns only a fatal error. The normal
/// end is an exit right after the session, with nothing dropped: freeing
/// memory and closing descriptors the kernel is about to reclaim would
/// only cost every connection time.
fn start(front: &mut dyn Front) -> Result<std::convert::Infallible, Fatal> {
    io::protect_stderr();
    crate::oom::log_to_stderr();
    let env = ProcessEnv;
    logger::init(logger::parse_level(
        env.get("SMTPD_LOGLEVEL")
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok()),
    ));
    let home = setup::qmail_home(&env);
    std::env::set_current_dir(&home).map_err(|e| {
        Fatal::controls(format_args!(
            "unable to chdir to {}: {e}",
            home.to_string_lossy()
        ))
    })?;
    if let Some(list) = env.get(proxy::read::VAR) {
        // Before anything reads the environment the header changes (the
        // SMTPS exec in `started` included).
        front.proxied(&list)?;
    }
    front.started(&env)?;
    let args = front.args();
    let mut loaded = setup::load_with_args(".".as_ref(), &env, Peer::of_stdin, &args)
        .map_err(Fatal::controls)?;
    front.setup(&mut loaded.setup);
    let mut resolver;
    let mut accept_all = AcceptAll;
    let check: &mut dyn RcptCheck = if setup::is_set(&env, "NOREALRCPTTO") {
        &mut accept_all
    } else {
        let routing = Routing::load_with_me(".".as_ref(), loaded.me.take()).map_err(|e| {
            let why = format!("unable to read controls for the recipient check: {e}");
            Fatal::new(reply::CONTROLS, why)
        })?;
        resolver =
            Resolver::new(routing, RealSystem::default()).with_options(setup::check_options(&env));
        &mut resolver
    };
    if front.logs_connection() {
        log::info!(
            "connection from {} ({})",
            String::from_utf8_lossy(&loaded.setup.remote_ip),
            String::from_utf8_lossy(&loaded.setup.remote_host)
        );
    }
    let client = io::Client::new(loaded.timeout)
        .map_err(|e| Fatal::silent(format_args!("unable to set up fds 0 and 1: {e}")))?;
    let mut ipme = SystemIpme::default();
    let mut session = Session::new(loaded.setup, &mut ipme, check);
    let code = front.run(&mut session, &client, &mut loaded.queue_program)?;
    std::process::exit(code)
}
