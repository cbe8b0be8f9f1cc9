//! qmail-realrcptto: show what qmail-smtpd's real-recipient check says about
//! some addresses, and why.
//!
//! `qmail-realrcptto [-q] ADDRESS...`
//!
//! For each address: every step of the check (qmail-send's rewriting, the
//! control/virtualdomains key used, the users/cdb record or passwd entry,
//! each `.qmail` path looked at and what was found, the lines the server
//! would log), then the exact SMTP reply qmail-smtpd would give at RCPT.
//! `-q` prints only `ADDRESS: REPLY`.
//!
//! It runs the very code qmail-smtpd runs ([`Resolver::explain`]), from the
//! qmail home (`$QMAILHOME`, else the home it was built for, /var/qmail
//! unless `make PREFIX=...` said otherwise). Run it as the qmaild user to
//! see exactly what the server sees; as root it may find files qmaild
//! cannot look at. The check is always on here: NOREALRCPTTO is ignored;
//! NODOTQMAIL and DOTQMAILFAIL are honoured as by the server.
//!
//! Exit status: 0 all accepted, 100 some recipient unknown (or bad usage),
//! 111 a temporary failure or a recipient qmail would defer (which wins).

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use qmail_smtpd::reply;
use qmail_smtpd::resolve::{Resolver, Routing, Show, Verdict, system::RealSystem};

const USAGE: &str = "usage: qmail-realrcptto [-q] ADDRESS...";

/// The reply line without its CRLF.
fn text(reply: &'static [u8]) -> &'static [u8] {
    reply.strip_suffix(b"\r\n").unwrap_or(reply)
}

fn reply_for(v: &Verdict) -> &'static [u8] {
    text(match v {
        Verdict::Accept => reply::OK,
        Verdict::Unknown => reply::NO_MAILBOX,
        Verdict::Defer(_) => reply::MAILBOX_DEFERRED,
        Verdict::CdbTrouble => reply::CDB,
        Verdict::SysTrouble => reply::SYSUSERS,
    })
}

/// qmail's exit codes: 111 (temporary) outranks 100 (permanent).
fn exit_for(v: &Verdict) -> u8 {
    match v {
        Verdict::Accept => 0,
        Verdict::Unknown => 100,
        Verdict::Defer(_) | Verdict::CdbTrouble | Verdict::SysTrouble => 111,
    }
}

/// users/assign does nothing until qmail-newu compiles it into users/cdb,
/// and the check (like qmail) reads only users/cdb: say so when the two
/// disagree, as that is the usual reason the tool's answer surprises.
fn warn_about_assign() {
    let Ok(assign) = std::fs::metadata("users/assign") else {
        return;
    };
    match std::fs::metadata("users/cdb") {
        Err(_) => eprintln!(
            "qmail-realrcptto: warning: users/assign exists but users/cdb does not: \
             qmail ignores users/assign until qmail-newu is run"
        ),
        Ok(cdb) => {
            if let (Ok(a), Ok(c)) = (assign.modified(), cdb.modified()) {
                if a > c {
                    eprintln!(
                        "qmail-realrcptto: warning: users/assign is newer than users/cdb: \
                         qmail uses users/cdb; run qmail-newu"
                    );
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let mut quiet = false;
    let mut addrs: Vec<OsString> = Vec::new();
    let mut options = true;
    for arg in std::env::args_os().skip(1) {
        match arg.as_bytes() {
            b"-q" if options => quiet = true,
            b"--" if options => options = false,
            [b'-', _, ..] if options => {
                eprintln!("{USAGE}");
                return ExitCode::from(100);
            }
            _ => addrs.push(arg),
        }
    }
    if addrs.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(100);
    }

    let home =
        std::env::var_os("QMAILHOME").unwrap_or_else(|| qmail_smtpd::setup::default_home().into());
    if let Err(e) = std::env::set_current_dir(&home) {
        eprintln!(
            "qmail-realrcptto: fatal: unable to chdir to {}: {e}",
            Path::new(&home).display()
        );
        return ExitCode::from(111);
    }
    let routing = match Routing::load() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("qmail-realrcptto: fatal: unable to read controls: {e}");
            let _ = io::stdout().write_all(text(reply::CONTROLS));
            let _ = io::stdout().write_all(b"\n");
            return ExitCode::from(111);
        }
    };
    warn_about_assign();

    let mut resolver = Resolver::new(routing, RealSystem::default()).with_options(
        qmail_smtpd::setup::check_options(&qmail_smtpd::setup::ProcessEnv),
    );
    let mut status = 0;
    let mut out = io::stdout().lock();
    for addr in &addrs {
        let addr = addr.as_bytes();
        let mut written = Ok(());
        let verdict = if quiet {
            resolver.explain(addr, &mut |_| {})
        } else {
            written = writeln!(out, "address: {}", Show(addr));
            resolver.explain(addr, &mut |step| {
                if written.is_ok() {
                    written = writeln!(out, "  {step}");
                }
            })
        };
        let line = if quiet {
            let mut l = Show(addr).to_string().into_bytes();
            l.extend_from_slice(b": ");
            l
        } else {
            b"reply: ".to_vec()
        };
        let result = written
            .and_then(|()| out.write_all(&line))
            .and_then(|()| out.write_all(reply_for(&verdict)))
            .and_then(|()| out.write_all(b"\n"));
        if result.is_err() {
            return ExitCode::from(111);
        }
        status = status.max(exit_for(&verdict));
    }
    if out.flush().is_err() {
        return ExitCode::from(111);
    }
    ExitCode::from(status)
}
