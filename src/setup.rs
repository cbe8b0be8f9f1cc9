//! Start-up: the environment and control files turned into a [`Setup`], as
//! qmail-smtpd's `setup()` does, and the socket's addresses when tcpserver
//! did not give them ([`Peer`]).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::addr::Rcpthosts;
use crate::control::{self, HostSet};
use crate::queue::Program;
use crate::session::Setup;
use crate::tcp_environ::TcpEnviron;

/// Default recipients per message: RFC 5321 asks for at least 100; this is
/// Postfix's default.
pub const DEFAULT_MAX_RCPT: usize = 1000;
/// Default unknown recipients per connection before 421 and disconnect.
pub const DEFAULT_MAX_UNKNOWN: u32 = 100;

/// The environment, as bytes. Read through a function so tests and tools can
/// supply their own.
pub trait Env {
    fn get(&self, name: &str) -> Option<Vec<u8>>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        std::env::var_os(name).map(OsString::into_vec)
    }
}

/// Everything read at start-up.
pub struct Loaded {
    pub setup: Setup,
    /// control/timeoutsmtpd, in seconds (at least 1).
    pub timeout: u64,
    /// $QMAILQUEUE or bin/qmail-queue, bounded by timeoutsmtpd.
    pub queue_program: Program,
    /// control/me, for the recipient check's defaults.
    pub me: Option<Vec<u8>>,
}

fn line_or(path: &Path, fallback: Option<&Vec<u8>>) -> io::Result<Option<Vec<u8>>> {
    Ok(control::read_line(path)?.or_else(|| fallback.cloned()))
}

/// An integer as qmail's `scan_ulong` reads an environment variable: the
/// leading digits, 0 when there are none.
fn env_ulong(env: &dyn Env, name: &str) -> Option<u64> {
    env.get(name).map(|v| control::scan_ulong(&v).unwrap_or(0))
}

/// Reads control files under `home` (the server passes ".", having made
/// the qmail home its working directory) and the environment. `Err` is
/// answered `421 unable to read controls`.
pub fn load(home: &Path, env: &dyn Env, peer: impl FnOnce() -> Peer) -> io::Result<Loaded> {
    load_with_args(home, env, peer, &[])
}

/// As [`load`], with the program's arguments (argv without argv\[0\]):
/// SMTP AUTH's forms (see [`crate::auth::Config::from_args`]).
pub fn load_with_args(
    home: &Path,
    env: &dyn Env,
    peer: impl FnOnce() -> Peer,
    args: &[Vec<u8>],
) -> io::Result<Loaded> {
    let ctl = |name: &str| control::path(home, name);
    let me = control::read_line(&ctl("me"))?;
    let greeting = line_or(&ctl("smtpgreeting"), me.as_ref())?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "neither control/smtpgreeting nor control/me",
        )
    })?;
    let localiphost = line_or(&ctl("localiphost"), me.as_ref())?;
    let timeout = timeout(home)?;
    let rcpthosts = rcpthosts(home)?;
    let badmailfrom = HostSet::new(control::read_list(&ctl("badmailfrom"))?.unwrap_or_default());
    let mut databytes = control::read_ulong(&ctl("databytes"))?.unwrap_or(0);
    if let Some(d) = env_ulong(env, "DATABYTES") {
        databytes = d;
    }
    // qmail keeps databytes in an unsigned int and reserves its top value.
    let mut databytes = databytes as u32;
    if databytes == u32::MAX {
        databytes -= 1;
    }

    // getpeername/getsockname only when tcpserver did not say.
    let peer_lazy = std::cell::OnceCell::new();
    let mut peer = Some(peer);
    let mut peer_lazy_get = || {
        peer_lazy
            .get_or_init(|| (peer.take().expect("once"))())
            .clone()
    };
    // See tcp_environ: netqmail's TCP* variables, else the IPv6
    // tcpservers' ${PROTO}* ones; IPv4-mapped addresses as IPv4.
    let tcp = TcpEnviron::new(env);
    let remote_ip = tcp
        .remote_ip()
        .or_else(|| peer_lazy_get().remote)
        .unwrap_or_else(|| b"unknown".to_vec());
    let local = tcp
        .local()
        .or_else(|| peer_lazy_get().local)
        .unwrap_or_else(|| b"unknown".to_vec());
    let remote_host = tcp.remote_host().unwrap_or_else(|| b"unknown".to_vec());
    let log_ip = tcp.log_ip(&remote_ip);
    let pid = std::process::id();
    let validrcptto = crate::validrcptto::load(home, env, pid, &remote_ip)?;
    let setup = Setup {
        greeting,
        localiphost,
        rcpthosts,
        badmailfrom,
        databytes: u64::from(databytes),
        relayclient: env.get("RELAYCLIENT"),
        remote_ip,
        remote_host,
        remote_info: tcp.remote_info(),
        local,
        log_ip,
        pid,
        deny_all: env.get("QMAILRRTDENYALL").as_deref() == Some(b"1"),
        allow_bare_cr: env.get("ALLOWBARECR").is_some(),
        max_rcpt: env_ulong(env, "MAXRCPT").map_or(DEFAULT_MAX_RCPT, |n| n.max(1) as usize),
        max_unknown: env_ulong(env, "MAXUNKNOWNRCPT")
            .map_or(DEFAULT_MAX_UNKNOWN, |n| n.min(u64::from(u32::MAX)) as u32),
        unknown_delay: env_ulong(env, "UNKNOWNRCPTDELAY").unwrap_or(0).min(3600),
        tarpit_count: tarpit_number(home, env, "tarpitcount", "TARPITCOUNT", 0)?,
        tarpit_delay: tarpit_delay(tarpit_number(home, env, "tarpitdelay", "TARPITDELAY", 5)?),
        validrcptto,
        rcptlog: switch(env, crate::decision::SWITCH),
        rcptcheck: rcptcheck(env, timeout),
        // As the TLS patch: offered when the file is there (stat only; it
        // is read by qmail-smtpd-tls, after STARTTLS).
        starttls: !switch(env, "DISABLETLS") && std::fs::metadata(ctl("servercert.pem")).is_ok(),
        require_tls: switch(env, "REQUIRETLS"),
        cipher: None,
        auth: auth(args, env, timeout),
    };
    let queue_program = Program {
        path: queue_program(env.get("QMAILQUEUE")),
        timeout: std::time::Duration::from_secs(timeout),
    };
    Ok(Loaded {
        setup,
        timeout,
        queue_program,
        me,
    })
}

/// control/timeoutsmtpd in seconds, 1200 without it. qmail stores the
/// number in a C int: what is <= 0 there becomes 1.
pub fn timeout(home: &Path) -> io::Result<u64> {
    Ok(
        match control::read_ulong(&control::path(home, "timeoutsmtpd"))? {
            Some(t) if (t as i32) > 0 => u64::from(t as i32 as u32),
            Some(_) => 1,
            None => 1200,
        },
    )
}

/// $RCPTCHECK, with its program run by [`crate::rcptcheck::spawn`],
/// bounded by timeoutsmtpd.
fn rcptcheck(
    env: &dyn Env,
    timeout: u64,
) -> Option<(crate::rcptcheck::Config, Box<dyn crate::rcptcheck::Checker>)> {
    let config = crate::rcptcheck::Config::from_env(|name| env.get(name))?;
    let spawner =
        crate::rcptcheck::spawn::Spawner::new(&config, std::time::Duration::from_secs(timeout));
    Some((config, Box::new(spawner)))
}

/// SMTP AUTH from the arguments, its program run by
/// [`crate::auth::spawn`], bounded by timeoutsmtpd. No arguments: no work.
fn auth(args: &[Vec<u8>], env: &dyn Env, timeout: u64) -> Option<crate::auth::Auth> {
    let config = crate::auth::Config::from_args(args, |name| env.get(name))?;
    let checker = crate::auth::spawn::Spawner::new(
        config.program.clone(),
        std::time::Duration::from_secs(timeout),
    );
    Some(crate::auth::Auth {
        config,
        checker: Box::new(checker),
    })
}

/// Longest tarpit pause, in seconds: the patch sleeps whatever the number
/// says (a TARPITDELAY that wraps negative is 68 years there); an hour
/// already holds a tcpserver slot longer than any client waits.
const MAX_TARPIT_DELAY: i32 = 3600;

/// The pause in seconds: at most MAX_TARPIT_DELAY, which is also what a
/// $TARPITDELAY that wraps negative in the patch's `int` gets.
fn tarpit_delay(n: i32) -> u64 {
    if n < 0 {
        MAX_TARPIT_DELAY as u64
    } else {
        n.min(MAX_TARPIT_DELAY) as u64
    }
}

/// The tarpit patch's numbers: control/NAME read as `control_readint`
/// does (a line that is no number leaves the default; negative becomes
/// 0), then $VAR, when set, as `scan_ulong` into the same C `int`.
fn tarpit_number(
    home: &Path,
    env: &dyn Env,
    name: &str,
    var: &str,
    default: i32,
) -> io::Result<i32> {
    let mut n = match control::read_ulong(&control::path(home, name))? {
        Some(v) => (v as i32).max(0),
        None => default,
    };
    if let Some(v) = env_ulong(env, var) {
        n = v as i32;
    }
    Ok(n)
}

/// control/rcpthosts, and control/morercpthosts.cdb when it exists, opened
/// once and kept, as qmail's `rcpthosts_init` does. Without rcpthosts,
/// morercpthosts.cdb is not consulted, as in qmail.
fn rcpthosts(home: &Path) -> io::Result<Rcpthosts> {
    let Some(lines) = control::read_list(&control::path(home, "rcpthosts"))? else {
        return Ok(Rcpthosts::default());
    };
    let more = crate::cdb::Named::open_if_exists(control::path(home, "morercpthosts.cdb"))?;
    let more = more.map(|m| Box::new(m) as Box<dyn crate::cdb::Lookup>);
    Ok(Rcpthosts::new(Some(HostSet::new(lines)), more))
}

/// qmail runs $QMAILQUEUE with execv, which never searches $PATH: a name
/// without a slash is a file in the qmail home. Rust's Command would search
/// $PATH for it, so such a name gets a `./`.
fn queue_program(value: Option<Vec<u8>>) -> OsString {
    match value {
        Some(v) if v.contains(&b'/') => OsString::from_vec(v),
        Some(v) => OsString::from_vec([b"./".as_slice(), &v].concat()),
        None => OsString::from("bin/qmail-queue"),
    }
}

/// The socket's own addresses, for inetd and xinetd, which set no TCP*
/// variables. Each is `None` when fd 0 is not an internet socket.
#[derive(Debug, Default, Clone)]
pub struct Peer {
    pub remote: Option<Vec<u8>>,
    pub local: Option<Vec<u8>>,
}

impl Peer {
    /// Asks the kernel about fd 0.
    pub fn of_stdin() -> Peer {
        use nix::sys::socket::{SockaddrLike, SockaddrStorage, getpeername, getsockname};
        use std::os::fd::AsRawFd;
        let fd = std::io::stdin().as_raw_fd();
        let ip = |sa: nix::Result<SockaddrStorage>| -> Option<Vec<u8>> {
            let sa = sa.ok()?;
            let ip = if let Some(v4) = sa.as_sockaddr_in() {
                std::net::IpAddr::V4(v4.ip())
            } else if let Some(v6) = sa.as_sockaddr_in6() {
                match v6.ip().to_ipv4_mapped() {
                    Some(v4) => std::net::IpAddr::V4(v4),
                    None => std::net::IpAddr::V6(v6.ip()),
                }
            } else {
                let _ = sa.family();
                return None;
            };
            Some(ip.to_string().into_bytes())
        };
        Peer {
            remote: ip(getpeername(fd)),
            local: ip(getsockname(fd)),
        }
    }
}

/// The compiled-in home (build.rs), between newlines and tagged, so that
/// `make install` can tell with grep which home a binary was built for.
const CONF_QMAIL_LINE: &str = concat!("\nconf-qmail:", env!("CONF_QMAIL"), "\n");

/// The qmail home compiled in, as qmail's conf-qmail is: `make PREFIX=...`,
/// else /var/qmail.
pub fn default_home() -> &'static str {
    // black_box: the whole tagged line must stay in the binary, not just
    // the slice of it that is used.
    let line = std::hint::black_box(CONF_QMAIL_LINE);
    let tag = "\nconf-qmail:".len();
    line.get(tag..line.len() - 1).unwrap_or("/var/qmail")
}

/// The qmail home: $QMAILHOME, else the compiled-in [`default_home`].
pub fn qmail_home(env: &dyn Env) -> OsString {
    env.get("QMAILHOME")
        .map_or_else(|| OsString::from(default_home()), OsString::from_vec)
}

/// A switch from the environment (tcprules): on when set to anything but
/// `0`, so both `DISABLETLS="1"` (the TLS patch's form) and `DISABLETLS=""`
/// turn it on.
pub fn switch(env: &dyn Env, name: &str) -> bool {
    env.get(name).is_some_and(|v| v != b"0")
}

/// The recipient check's switches: `NODOTQMAIL` (set: do not read the
/// `.qmail` file qmail-local would run), `DOTQMAILFAIL=accept` (accept
/// instead of 451 when a database that file points to cannot be read).
pub fn check_options(env: &dyn Env) -> crate::resolve::Options {
    crate::resolve::Options {
        dotqmail: !is_set(env, "NODOTQMAIL"),
        fail_accept: env.get("DOTQMAILFAIL").is_some_and(|v| v == b"accept"),
    }
}

/// True when `name` is set (to anything).
pub fn is_set(env: &dyn Env, name: &str) -> bool {
    env.get(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_home_is_absolute_and_tagged_in_the_binary() {
        assert!(default_home().starts_with('/'));
        assert_eq!(
            CONF_QMAIL_LINE,
            format!("\nconf-qmail:{}\n", default_home())
        );
    }

    #[test]
    fn queue_program_is_never_searched_in_path() {
        assert_eq!(queue_program(None), OsString::from("bin/qmail-queue"));
        assert_eq!(
            queue_program(Some(b"/usr/bin/q".to_vec())),
            OsString::from("/usr/bin/q")
        );
        assert_eq!(
            queue_program(Some(b"bin/q".to_vec())),
            OsString::from("bin/q")
        );
        assert_eq!(queue_program(Some(b"q".to_vec())), OsString::from("./q"));
    }
}
