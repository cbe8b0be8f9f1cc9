//! vpopmail's MySQL module (sagredo-dev/vpopmail vmysql.c and vmysql.h),
//! as far as vdelivermail's questions go: its settings file, its table
//! names, its two queries, and the line protocol between qmail-smtpd and
//! the helper that asks them, `bin/qmail-vpopmail-sql`.
//!
//! Nothing here talks to a database: the MySQL client is linked into the
//! helper only, so the plain qmail-smtpd does not carry it. This module is
//! what both sides share, and what can be tested without a server.
//!
//! # The settings file
//!
//! `~vpopmail/etc/vpopmail.mysql`, read as vmysql.c's
//! `load_connection_info` reads it: lines starting with `#` and empty
//! lines are skipped; the first remaining line is
//! `server|port-or-socket|user|password|database` (the read settings), an
//! optional second one the same for updates. The line is cut at `|` and
//! newlines as `strtok` cuts it, so empty fields vanish (an empty
//! password cannot be written). The second field is a unix socket when it
//! starts with `/`, else a TCP port (C's `atoi`; 0 is MySQL's default,
//! 3306). As the C client library does, server `localhost` without a
//! socket means the server's unix socket at its default place (see
//! [`Server::endpoint`]), not TCP.
//!
//! # The protocol
//!
//! qmail-smtpd starts the helper (`qmail-vpopmail-sql CONF`) on the first
//! question of a session and keeps it, and its one database connection,
//! for the session. Each question is one line on the helper's stdin, each
//! answer one line on its stdout, in order; fields are separated by one
//! space. Names and domains are restricted to vpopmail's characters
//! ([`super::vpopmail::username_valid`], [`super::vpopmail::domain_valid`]),
//! so they hold no space, tab, newline or NUL; both sides check.
//!
//! | question                 | asks (prepared)                                           | answers         |
//! |--------------------------|-----------------------------------------------------------|-----------------|
//! | `valias ALIAS DOMAIN`    | `select valias_line from valias where alias = ? and domain = ?` | `yes`, `no` |
//! | `user NAME DOMAIN`       | `select pw_gid from vpopmail where pw_name = ? and pw_domain = ?` | `gid N`, `no` |
//! | `user-table NAME DOMAIN` | ``select pw_gid from `TABLE` where pw_name = ?`` (`--disable-many-domains`; TABLE is [`munch_domain`] of DOMAIN) | `gid N`, `no` |
//!
//! Any question may instead be answered `fail REASON` (the server refused
//! this query; the helper goes on) or `down REASON` (the database cannot
//! be used: unreachable, too slow, the connection lost; the helper exits).
//! A missing `valias` table is `no`: vpopmail creates it on first use.

use super::SqlQuestion;
use super::vpopmail::{domain_valid, username_valid};

/// The helper, relative to the qmail home (qmail-smtpd's working
/// directory), as qmail-smtpd finds bin/qmail-queue.
pub const HELPER: &str = "bin/qmail-vpopmail-sql";

/// MySQL's port when the settings say 0 (or no number).
pub const DEFAULT_PORT: u16 = 3306;

/// Where a MySQL/MariaDB server's unix socket usually is: Debian's and
/// Ubuntu's (libmariadb's compiled-in default there), the older spelling
/// of it, Red Hat's, and upstream MySQL's. The C library knows one of
/// these, fixed when it was built; the helper takes the first that
/// exists. `MYSQL_UNIX_PORT` overrides, as it does for the C library.
pub const DEFAULT_SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// One line of vpopmail.mysql.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    /// The second field when it starts with `/`.
    pub socket: Option<String>,
    /// The second field otherwise, as `atoi` reads it (0: the default).
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Socket(String),
    Tcp(String, u16),
}

impl Server {
    /// Where the C client library would connect: the socket when one is
    /// given; for `localhost`, the server's default unix socket
    /// (`unix_port`, else the first of [`DEFAULT_SOCKETS`] that `exists`);
    /// else TCP to the host and port.
    pub fn endpoint(&self, unix_port: Option<&str>, exists: impl Fn(&str) -> bool) -> Endpoint {
        if let Some(s) = &self.socket {
            return Endpoint::Socket(s.clone());
        }
        let port = if self.port == 0 {
            DEFAULT_PORT
        } else {
            self.port
        };
        if self.host == "localhost" {
            if let Some(p) = unix_port.filter(|p| !p.is_empty()) {
                return Endpoint::Socket(p.to_string());
            }
            if let Some(p) = DEFAULT_SOCKETS.iter().find(|p| exists(p)) {
                return Endpoint::Socket(p.to_string());
            }
        }
        Endpoint::Tcp(self.host.clone(), port)
    }

    /// For log lines: where, as whom, which database (never the password).
    pub fn describe(&self, endpoint: &Endpoint) -> String {
        let at = match endpoint {
            Endpoint::Socket(s) => s.clone(),
            Endpoint::Tcp(h, p) => format!("{h}:{p}"),
        };
        format!("{}@{at}, database {}", self.user, self.database)
    }
}

/// C's atoi: optional blanks and sign, then digits; anything else 0.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches([' ', '\t']);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if neg { -n } else { n }
}

/// The settings in vpopmail.mysql: the read server, then the update
/// server when a second line gives one.
pub fn parse_settings(text: &[u8]) -> Result<Vec<Server>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not UTF-8 text".to_string())?;
    let mut servers = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with('#') || line.starts_with('\n') {
            continue;
        }
        let fields: Vec<&str> = line.split(['|', '\n']).filter(|f| !f.is_empty()).collect();
        let which = if servers.is_empty() {
            "first"
        } else {
            "second"
        };
        let names = ["server", "port or socket", "user", "password", "database"];
        if fields.len() < names.len() {
            return Err(format!(
                "{which} settings line has no {} field",
                names[fields.len()]
            ));
        }
        let (socket, port) = if fields[1].starts_with('/') {
            (Some(fields[1].to_string()), 0)
        } else {
            (None, atoi(fields[1]).clamp(0, 65535) as u16)
        };
        servers.push(Server {
            host: fields[0].to_string(),
            socket,
            port,
            user: fields[2].to_string(),
            password: fields[3].to_string(),
            database: fields[4].to_string(),
        });
        if servers.len() == 2 {
            break;
        }
    }
    if servers.is_empty() {
        return Err("no settings line".into());
    }
    Ok(servers)
}

/// vmysql.c's `vauth_munch_domain`: a domain's own table (vpopmail built
/// with --disable-many-domains) is the domain with `.` and `-` made `_`.
pub fn munch_domain(domain: &str) -> String {
    domain
        .chars()
        .map(|c| if c == '.' || c == '-' { '_' } else { c })
        .collect()
}

/// The valias query (vmysql.c's `valias_select`).
pub const VALIAS_SELECT: &str = "select valias_line from valias where alias = ? and domain = ?";
/// The user query (vmysql.h's USER_SELECT, with MANY_DOMAINS), reduced to
/// the one column the check needs.
pub const USER_SELECT: &str = "select pw_gid from vpopmail where pw_name = ? and pw_domain = ?";

/// The user query without MANY_DOMAINS: from the domain's own table.
pub fn user_table_select(domain: &str) -> String {
    format!(
        "select pw_gid from `{}` where pw_name = ?",
        munch_domain(domain)
    )
}

/// A question as the helper reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Valias { alias: String, domain: String },
    User { name: String, domain: String },
    UserTable { name: String, domain: String },
}

/// The line for a question (newline included); None when a name or domain
/// has a character vpopmail does not allow (such a question has no
/// answer in vpopmail's database, and is not sent).
pub fn request_line(q: &SqlQuestion) -> Option<Vec<u8>> {
    let (verb, name, domain) = match q {
        SqlQuestion::Valias { alias, domain } => ("valias", alias, domain),
        SqlQuestion::User {
            name,
            domain,
            many_domains: true,
        } => ("user", name, domain),
        SqlQuestion::User {
            name,
            domain,
            many_domains: false,
        } => ("user-table", name, domain),
    };
    if !username_valid(name) || !domain_valid(domain) {
        return None;
    }
    Some([verb.as_bytes(), b" ", name, b" ", domain, b"\n"].concat())
}

/// Reads a question line (without its newline).
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [verb, name, domain] = fields[..] else {
        return Err("not three fields".into());
    };
    if !username_valid(name) || !domain_valid(domain) {
        return Err("a name or domain with characters vpopmail does not allow".into());
    }
    // Both checks above allow only ASCII.
    let name = String::from_utf8_lossy(name).into_owned();
    let domain = String::from_utf8_lossy(domain).into_owned();
    match verb {
        b"valias" => Ok(Request::Valias {
            alias: name,
            domain,
        }),
        b"user" => Ok(Request::User { name, domain }),
        b"user-table" => Ok(Request::UserTable { name, domain }),
        _ => Err("unknown question".into()),
    }
}

/// An answer as the helper writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Gid(u32),
    /// This question failed; the helper goes on.
    Fail(String),
    /// The database cannot be used; the helper exits.
    Down(String),
}

/// Newlines in a reason would end the answer early.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Answer {
    pub fn line(&self) -> Vec<u8> {
        let s = match self {
            Answer::Yes => "yes".to_string(),
            Answer::No => "no".to_string(),
            Answer::Gid(g) => format!("gid {g}"),
            Answer::Fail(why) => format!("fail {}", one_line(why)),
            Answer::Down(why) => format!("down {}", one_line(why)),
        };
        [s.as_bytes(), b"\n"].concat()
    }

    /// Reads an answer line (without its newline).
    pub fn parse(line: &[u8]) -> Option<Answer> {
        let text = std::str::from_utf8(line).ok()?;
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        match word {
            "yes" if rest.is_empty() => Some(Answer::Yes),
            "no" if rest.is_empty() => Some(Answer::No),
            "gid" => rest.parse().ok().map(Answer::Gid),
            "fail" => Some(Answer::Fail(rest.to_string())),
            "down" => Some(Answer::Down(rest.to_string())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, socket: Option<&str>, port: u16) -> Server {
        Server {
            host: host.into(),
            socket: socket.map(Into::into),
            port,
            user: "vpopmail".into(),
            password: "secret".into(),
            database: "vpopmail".into(),
        }
    }

    #[test]
    fn settings_as_load_connection_info_reads_them() {
        let text = b"# vpopmail's MySQL settings\n\nlocalhost|0|readonly|somepass|vpopmail\n\
                     # update\ndb.example|3307|root|secret|vpopmail\nignored|1|2|3|4\n";
        let s = parse_settings(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            Server {
                user: "readonly".into(),
                password: "somepass".into(),
                ..server("localhost", None, 0)
            }
        );
        assert_eq!(
            s[1],
            Server {
                user: "root".into(),
                ..server("db.example", None, 3307)
            }
        );
        let s = parse_settings(b"localhost|/tmp/my.sock|vpopmail|secret|vpopmail").unwrap();
        assert_eq!(s, [server("localhost", Some("/tmp/my.sock"), 0)]);
        // strtok: empty fields vanish, so the password is taken as the
        // database is missing; atoi: junk is port 0.
        assert_eq!(
            parse_settings(b"localhost|0|vpopmail||vpopmail\n").unwrap_err(),
            "first settings line has no database field"
        );
        assert_eq!(
            parse_settings(b"h|x12|u|p|d\n").unwrap()[0].port,
            0,
            "atoi of junk"
        );
        assert_eq!(parse_settings(b"h| 12x|u|p|d\n").unwrap()[0].port, 12);
        assert_eq!(
            parse_settings(b"# only a comment\n\n").unwrap_err(),
            "no settings line"
        );
        // A line of blanks is not skipped (load_connection_info skips only
        // '#' and empty lines).
        assert!(parse_settings(b"   \nlocalhost|0|u|p|d\n").is_err());
    }

    #[test]
    fn endpoints_as_the_c_library_chooses() {
        let none = |_: &str| false;
        assert_eq!(
            server("localhost", Some("/s"), 0).endpoint(None, none),
            Endpoint::Socket("/s".into())
        );
        assert_eq!(
            server("localhost", None, 0).endpoint(None, |p| p == "/var/lib/mysql/mysql.sock"),
            Endpoint::Socket("/var/lib/mysql/mysql.sock".into())
        );
        assert_eq!(
            server("localhost", None, 0).endpoint(Some("/m.sock"), none),
            Endpoint::Socket("/m.sock".into())
        );
        assert_eq!(
            server("localhost", None, 0).endpoint(None, none),
            Endpoint::Tcp("localhost".into(), 3306)
        );
        assert_eq!(
            server("127.0.0.1", None, 3307).endpoint(None, |_| true),
            Endpoint::Tcp("127.0.0.1".into(), 3307)
        );
        let s = server("db", None, 0);
        assert_eq!(
            s.describe(&s.endpoint(None, none)),
            "vpopmail@db:3306, database vpopmail"
        );
    }

    #[test]
    fn table_names_as_vauth_munch_domain_makes_them() {
        assert_eq!(munch_domain("mail.example-1.net"), "mail_example_1_net");
        assert_eq!(
            user_table_select("example.net"),
            "select pw_gid from `example_net` where pw_name = ?"
        );
    }

    #[test]
    fn protocol_lines_round_trip() {
        let q = SqlQuestion::User {
            name: b"joe",
            domain: b"example.net",
            many_domains: true,
        };
        let line = request_line(&q).unwrap();
        assert_eq!(line, b"user joe example.net\n");
        assert_eq!(
            parse_request(&line[..line.len() - 1]).unwrap(),
            Request::User {
                name: "joe".into(),
                domain: "example.net".into()
            }
        );
        let q = SqlQuestion::User {
            name: b"joe",
            domain: b"example.net",
            many_domains: false,
        };
        assert_eq!(request_line(&q).unwrap(), b"user-table joe example.net\n");
        let q = SqlQuestion::Valias {
            alias: b"list-default",
            domain: b"example.net",
        };
        assert_eq!(
            request_line(&q).unwrap(),
            b"valias list-default example.net\n"
        );
        assert_eq!(
            parse_request(b"user-table  example.net").unwrap(),
            Request::UserTable {
                name: "".into(),
                domain: "example.net".into()
            },
            "an empty name is a name vpopmail allows"
        );
        for bad in [
            &b"user a b c"[..],
            b"user a\tb example.net",
            b"user a example_net",
            b"drop x y",
            b"user",
            b"user \xff example.net",
        ] {
            assert!(parse_request(bad).is_err(), "{bad:?}");
        }
        for bad in [&b"a b"[..], b"a\nb", b"a\0b", b"a\tb"] {
            let q = SqlQuestion::Valias {
                alias: bad,
                domain: b"example.net",
            };
            assert_eq!(request_line(&q), None, "{bad:?}");
        }
        for a in [
            Answer::Yes,
            Answer::No,
            Answer::Gid(16),
            Answer::Fail("Table 'x' doesn't exist".into()),
            Answer::Down("timed out".into()),
        ] {
            let line = a.line();
            assert_eq!(Answer::parse(&line[..line.len() - 1]), Some(a));
        }
        assert_eq!(
            Answer::Down("a\nb".into()).line(),
            b"down a b\n",
            "one line"
        );
        for bad in [&b"yes please"[..], b"gid x", b"maybe", b""] {
            assert_eq!(Answer::parse(bad), None, "{bad:?}");
        }
    }
}
