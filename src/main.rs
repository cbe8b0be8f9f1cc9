//! qmail-smtpd: receive mail via SMTP, refusing unknown local recipients.
//! Started once per connection by tcpserver, inetd or xinetd.
//!
//! tcpserver starts one process per connection, so start-up is paid for
//! every message. This binary therefore skips Rust's runtime set-up (about
//! 120 µs here: it reads /proc/self/maps for a stack guard and maps a
//! signal stack) with `no_main`, and does by hand the parts that matter:
//! SIGPIPE ignored, SIGCHLD at its default, and fds 0-2 guaranteed open.
#![no_main]

use qmail_smtpd::{io, oom, server};

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

fn run(argc: std::ffi::c_int) -> ! {
    server::serve(&mut server::Plain { argc })
}
