//! qmail-smtpd: receive mail via SMTP, refusing unknown local recipients.
//! Started once per connection by tcpserver, inetd or xinetd.
//!
//! tcpserver starts one process per connection, so start-up is paid for
//! every message. This binary therefore skips Rust's runtime set-up (about
//! 120 µs here: it reads /proc/self/maps for a stack guard and maps a
//! signal stack) with `no_main`, and does by hand the parts that matter:
//! SIGPIPE ignored, SIGCHLD at its default, and fds 0-2 guaranteed open.
#![no_main]

use qmail_smtpd::queue::Program;
use qmail_smtpd::setup::Env;
use qmail_smtpd::{driver, io, oom, server, session::Session, starttls};

/// An allocation failure answers `421 out of memory (#4.3.0)` and exits 1
/// instead of aborting (see oom.rs).
#[global_allocator]
static ALLOCATOR: oom::Allocator = oom::Allocator;

/// The C entry point; see the module comment for why not Rust's `main`.
#[unsafe(no_mangle)]
pub extern "C" fn main(
    argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    oom::small_heap_pad();
    set_signals();
    io::ensure_standard_fds();
    run(argc)
}

/// SIGPIPE ignored, as qmail-smtpd does: a vanished client shows up as a
/// write error, not a signal. qmail-queue inherits it, as it does from
/// netqmail's.
///
/// SIGCHLD back to its default: a supervisor (or `swaks --pipe`) may start
/// us with it ignored, which the exec keeps, and then the kernel reaps
/// qmail-queue itself and its exit status is lost to waitpid.
#[allow(unsafe_code)]
fn set_signals() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installs SIG_IGN and SIG_DFL, not handlers; no other thread
    // exists yet.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
    let _ = unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) };
}

/// The plain server: implicit TLS (SMTPS) is qmail-smtpd-tls's job, so
/// hand it over at once; otherwise greet and serve, STARTTLS by exec.
struct Plain {
    /// Without arguments (AUTH off) std's copy of argv is not made.
    argc: std::ffi::c_int,
}

impl server::Front for Plain {
    fn args(&self) -> Vec<Vec<u8>> {
        if self.argc > 1 {
            server::program_args()
        } else {
            Vec::new()
        }
    }
    fn started(&mut self, env: &dyn Env) -> Result<(), server::Fatal> {
        if env.get("SMTPS").is_some_and(|v| !v.is_empty()) {
            // An SMTPS client expects a TLS handshake: no plain reply.
            return Err(server::Fatal::silent(starttls::exec(false, None)));
        }
        Ok(())
    }
    fn run(
        &mut self,
        session: &mut Session,
        client: &io::Client,
        queue: &mut Program,
    ) -> Result<i32, server::Fatal> {
        let mut host = io::SystemHost {
            start_tls: |helo| starttls::exec(true, helo),
        };
        session.greet();
        Ok(driver::run(session, &mut &*client, queue, &mut host))
    }
}

fn run(argc: std::ffi::c_int) -> ! {
    server::serve(&mut Plain { argc })
}
