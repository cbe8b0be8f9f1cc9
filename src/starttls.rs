//! STARTTLS and SMTPS by exec: all TLS code lives in qmail-smtpd-tls, so
//! the plain qmail-smtpd started for every connection stays small and
//! quick. This module is the hand-over: which program, what it is told,
//! and the exec itself.

use std::ffi::CString;
use std::io;

/// The program that speaks TLS, relative to the qmail home (the working
/// directory).
pub const TLS_PROGRAM: &str = "bin/qmail-smtpd-tls";
/// Set to `starttls` for qmail-smtpd-tls when a client's STARTTLS is
/// due (`220 ready for tls`, handshake, no greeting after it); unset, it
/// does implicit TLS (SMTPS: handshake, then the greeting).
pub const TLS_MODE_VAR: &str = "QMAILSMTPD_TLS";
/// The HELO/EHLO name for the Received header, carried across the exec in
/// case the TLS handover fails and the session goes on in plain text.
pub const TLS_HELO_VAR: &str = "QMAILSMTPD_HELO";

/// Replaces this process with qmail-smtpd-tls (execv semantics: no $PATH
/// search, the environment inherited, fds 0-2 kept; our own descriptors
/// are close-on-exec). Our arguments go with it (SMTP AUTH's checkpassword
/// and its form). Returns only on failure, with an error that names
/// the program.
pub fn exec(starttls: bool, helo: Option<&[u8]>) -> io::Error {
    let mode: &[(&str, &[u8])] = if starttls {
        &[(TLS_MODE_VAR, b"starttls")]
    } else {
        &[]
    };
    let helo = helo.map(|h| (TLS_HELO_VAR, h));
    execv(TLS_PROGRAM, &[mode, helo.as_slice()].concat())
}

/// Replaces this process with `program` (relative to the qmail home),
/// the environment inherited but for [`TLS_MODE_VAR`] and
/// [`TLS_HELO_VAR`], which are set only as `extra` says.
pub fn execv(program: &str, extra: &[(&str, &[u8])]) -> io::Error {
    // execve by hand: std's Command would add some 25 KB to this binary.
    let envp = crate::queue::environ(&[TLS_MODE_VAR.as_bytes(), TLS_HELO_VAR.as_bytes()], extra);
    let path = CString::new(program).expect("no NUL");
    let mut argv = vec![path.clone()];
    argv.extend(
        crate::server::program_args()
            .into_iter()
            .filter_map(|a| CString::new(a).ok()),
    );
    match nix::unistd::execve(&path, &argv, &envp) {
        Ok(never) => match never {},
        Err(e) => {
            let e = io::Error::from(e);
            io::Error::new(e.kind(), format!("unable to exec {program}: {e}"))
        }
    }
}
