//! qmail-smtpd-proxy: qmail-smtpd behind a load balancer. qmail-smtpd
//! execs it when `$PROXYPROTOCOL` is set (tcpserver may also run it
//! directly); it reads the balancer's PROXY header, makes the environment
//! the client's, and serves the session exactly as qmail-smtpd does
//! (SMTPS and STARTTLS by exec of qmail-smtpd-tls).
//!
//! A binary of its own so that the plain qmail-smtpd, started for every
//! connection, carries none of this code (see [`server::Plain`]).

use qmail_smtpd::io::Client;
use qmail_smtpd::queue::Program;
use qmail_smtpd::server::{self, Fatal, Plain};
use qmail_smtpd::session::Session;
use qmail_smtpd::setup::Env;
use qmail_smtpd::{io, oom};

/// As in qmail-smtpd: out of memory is `421 out of memory (#4.3.0)` and
/// exit 1, never an abort.
#[global_allocator]
static ALLOCATOR: oom::Allocator = oom::Allocator;

/// qmail-smtpd's front, but reading the header itself.
struct Proxied(Plain);

impl server::Front for Proxied {
    fn args(&self) -> Vec<Vec<u8>> {
        self.0.args()
    }
    fn proxied(&mut self, list: &[u8]) -> Result<(), Fatal> {
        server::read_proxy_header(list)
    }
    fn started(&mut self, env: &dyn Env) -> Result<(), Fatal> {
        self.0.started(env)
    }
    fn run(
        &mut self,
        session: &mut Session,
        client: &Client,
        queue: &mut Program,
    ) -> Result<i32, Fatal> {
        self.0.run(session, client, queue)
    }
}

fn main() {
    server::default_sigchld();
    io::ensure_standard_fds();
    let argc = std::env::args_os().len() as std::ffi::c_int;
    server::serve(&mut Proxied(Plain { argc }))
}
