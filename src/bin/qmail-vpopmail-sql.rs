//! qmail-vpopmail-sql: asks vpopmail's MySQL/MariaDB database whether a
//! user or a valias exists, for qmail-smtpd's recipient check.
//!
//! `qmail-vpopmail-sql CONF`, where CONF is vpopmail's own settings file
//! (`~vpopmail/etc/vpopmail.mysql`). qmail-smtpd starts it on the first
//! recipient of a session that needs the database, and keeps it for the
//! session: one connection, opened on the first question, each query
//! prepared once. Questions come one per line on stdin, answers go one per
//! line to stdout; the protocol, the settings file and the queries are in
//! `src/resolve/vmysql.rs`. It ends at EOF on stdin.
//!
//! The MySQL client lives in this binary only, so the plain qmail-smtpd
//! that tcpserver starts for every connection does not map it.
//!
//! Every wait for the database has a deadline: [`CONNECT_TIMEOUT`] for a
//! TCP connection, [`IO_TIMEOUT`] for each read and write on it (the
//! handshake's and every query's). A database that is down or too slow
//! is answered `down REASON`, and the helper exits: qmail-smtpd answers
//! 451 for that recipient and for the rest of the session.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use qmail_smtpd::logger;
use qmail_smtpd::resolve::errstr::error_str;
use qmail_smtpd::resolve::vmysql::{
    self, Answer, Endpoint, Request, USER_SELECT, VALIAS_SELECT, user_table_select,
};

/// Deadline for a TCP connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline for each read and each write on the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest question read (names are at most a few hundred bytes).
const MAX_QUESTION: u64 = 1024;
/// MySQL's ER_NO_SUCH_TABLE.
const ER_NO_SUCH_TABLE: u16 = 1146;
/// The soft limit on address space and data the helper gives itself.
const MEMORY_LIMIT: u64 = 32 << 20;

/// The MySQL client reserves 4 MiB buffers for packets in each direction
/// (mysql_common's MySyncFramed) and never fills them here: the helper's
/// peak RSS is under 4 MB, but it needs about 14 MB of address space. The
/// run script's `softlimit -m` is meant for qmail-smtpd (8000000 in the
/// example), so the helper sets its own soft limits to [`MEMORY_LIMIT`],
/// never beyond the hard limits, and never lowers a larger one.
fn own_memory_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    for r in [Resource::RLIMIT_AS, Resource::RLIMIT_DATA] {
        if let Ok((soft, hard)) = getrlimit(r) {
            if soft < MEMORY_LIMIT {
                let _ = setrlimit(r, MEMORY_LIMIT.min(hard), hard);
            }
        }
    }
}

fn main() -> ExitCode {
    own_memory_limit();
    logger::init(logger::parse_level(
        std::env::var("SMTPD_LOGLEVEL").ok().as_deref(),
    ));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let [_, conf] = &args[..] else {
        eprintln!("usage: qmail-vpopmail-sql ~vpopmail/etc/vpopmail.mysql");
        return ExitCode::from(100);
    };
    let conf = Path::new(conf);
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut db: Option<Db> = None;
    loop {
        let mut line = Vec::new();
        let a = match (&mut input).take(MAX_QUESTION).read_until(b'\n', &mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                match vmysql::parse_request(&line) {
                    Ok(request) => answer(conf, &mut db, &request),
                    Err(why) => Answer::Fail(format!("bad question: {why}")),
                }
            }
            Ok(_) => Answer::Down("question too long or cut short".into()),
            Err(_) => return ExitCode::from(111),
        };
        let written = output.write_all(&a.line()).and_then(|_| output.flush());
        if written.is_err() || matches!(a, Answer::Down(_)) {
            // qmail-smtpd has gone, or the database: nothing to close
            // politely, and qmail-smtpd kills us anyway.
            std::process::exit(111);
        }
    }
}

/// The session's connection, and where it goes (for the reasons).
struct Db {
    conn: Conn,
    name: String,
}

/// The answer to one question, connecting first if need be. A connection
/// lost since the last question (the server restarted, or closed it as
/// idle) is opened again once, as vmysql.c's vauth_getpw does; a server
/// that is merely slow is not asked twice.
fn answer(conf: &Path, db: &mut Option<Db>, request: &Request) -> Answer {
    for attempt in 0..2 {
        let d = match db {
            Some(d) => d,
            None => match connect(conf) {
                Ok(d) => db.insert(d),
                Err(why) => return Answer::Down(why),
            },
        };
        match ask(&mut d.conn, request) {
            Ok(a) => return a,
            // The server answered: the connection is fine.
            Err(mysql::Error::MySqlError(e)) => {
                return Answer::Fail(format!("{}: {} (error {})", d.name, e.message, e.code));
            }
            Err(e) if attempt == 1 || is_timeout(&e) => {
                return Answer::Down(format!("{}: {}", d.name, describe(&e)));
            }
            Err(_) => *db = None,
        }
    }
    unreachable!("the second attempt returns")
}

/// Connects with the read settings, then, if that fails and the file has
/// them, with the update settings (as vmysql.c's vauth_open_read falls
/// back).
fn connect(conf: &Path) -> Result<Db, String> {
    let text = std::fs::read(conf).map_err(|e| {
        let why = e
            .raw_os_error()
            .map_or_else(|| e.to_string(), |n| error_str(n).to_string());
        format!("unable to read {}: {why}", conf.display())
    })?;
    let mut servers =
        vmysql::parse_settings(&text).map_err(|e| format!("{}: {e}", conf.display()))?;
    servers.dedup();
    let unix_port = std::env::var("MYSQL_UNIX_PORT").ok();
    let mut failures = Vec::new();
    for s in &servers {
        let endpoint = s.endpoint(unix_port.as_deref(), |p| Path::new(p).exists());
        let opts = OptsBuilder::new()
            .user(Some(&s.user))
            .pass(Some(&s.password))
            .db_name(Some(&s.database))
            // Exactly where the settings say: no switch to the socket the
            // server reports.
            .prefer_socket(false)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT))
            // Set, so connecting costs no `select @@max_allowed_packet`.
            .max_allowed_packet(Some(1 << 20))
            .stmt_cache_size(4);
        let opts = match &endpoint {
            Endpoint::Socket(path) => opts.socket(Some(path)),
            Endpoint::Tcp(host, port) => opts.ip_or_hostname(Some(host)).tcp_port(*port),
        };
        match Conn::new(opts) {
            Ok(conn) => {
                for f in &failures {
                    log::warn!("qmail-vpopmail-sql: {f}; using the update settings");
                }
                let name = s.describe(&endpoint);
                return Ok(Db { conn, name });
            }
            Err(e) => failures.push(format!(
                "unable to connect to {}: {}",
                s.describe(&endpoint),
                describe(&e)
            )),
        }
    }
    Err(failures.join("; "))
}

/// One question, with its prepared statement.
fn ask(conn: &mut Conn, request: &Request) -> mysql::Result<Answer> {
    let gid = |row: Option<Option<i64>>| match row {
        // pw_gid NULL: vmysql leaves the flags at 0.
        Some(gid) => Answer::Gid(gid.unwrap_or(0) as u32),
        None => Answer::No,
    };
    match request {
        Request::Valias { alias, domain } => {
            match conn.exec_first::<mysql::Value, _, _>(VALIAS_SELECT, (alias, domain)) {
                Ok(row) => Ok(if row.is_some() {
                    Answer::Yes
                } else {
                    Answer::No
                }),
                // vpopmail creates the table when it first needs it.
                Err(mysql::Error::MySqlError(e)) if e.code == ER_NO_SUCH_TABLE => Ok(Answer::No),
                Err(e) => Err(e),
            }
        }
        Request::User { name, domain } => conn
            .exec_first::<Option<i64>, _, _>(USER_SELECT, (name, domain))
            .map(gid),
        Request::UserTable { name, domain } => conn
            .exec_first::<Option<i64>, _, _>(user_table_select(domain), (name,))
            .map(gid),
    }
}

/// The I/O error under a mysql error, if that is what it is (the packet
/// codec wraps those of a connection already set up).
fn io_error(e: &mysql::Error) -> Option<&std::io::Error> {
    use std::error::Error as _;
    match e {
        mysql::Error::IoError(io) => Some(io),
        mysql::Error::CodecError(c) => c.source()?.downcast_ref(),
        _ => None,
    }
}

fn is_timeout(e: &mysql::Error) -> bool {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    matches!(
        e,
        mysql::Error::DriverError(mysql::DriverError::ConnectTimeout)
    ) || io_error(e).is_some_and(|io| matches!(io.kind(), TimedOut | WouldBlock))
}

/// The error in words: qmail's for an errno, a timeout named as one.
fn describe(e: &mysql::Error) -> String {
    use mysql::DriverError::{ConnectTimeout, CouldNotConnect};
    use std::io::ErrorKind;
    let kind_words = |kind: ErrorKind| match kind {
        ErrorKind::NotFound => Some("file does not exist"),
        ErrorKind::ConnectionRefused => Some("connection refused"),
        ErrorKind::PermissionDenied => Some("access denied"),
        ErrorKind::ConnectionReset => Some("connection reset"),
        ErrorKind::BrokenPipe => Some("broken pipe"),
        ErrorKind::UnexpectedEof => Some("connection closed by the server"),
        _ => None,
    };
    match e {
        _ if is_timeout(e) => match e {
            mysql::Error::DriverError(ConnectTimeout) => {
                format!("no connection within {} seconds", CONNECT_TIMEOUT.as_secs())
            }
            _ => format!("no answer within {} seconds", IO_TIMEOUT.as_secs()),
        },
        _ if io_error(e).is_some() => {
            let io = io_error(e).expect("checked");
            match io.raw_os_error() {
                Some(errno) => error_str(errno).to_string(),
                None => kind_words(io.kind()).map_or_else(|| io.to_string(), str::to_string),
            }
        }
        mysql::Error::DriverError(CouldNotConnect(Some((_, desc, kind)))) => {
            kind_words(*kind).map_or_else(|| desc.clone(), str::to_string)
        }
        mysql::Error::MySqlError(e) => format!("{} (error {})", e.message, e.code),
        other => other.to_string(),
    }
}
