//! vpopmail's MySQL backend, end to end: the real qmail-smtpd under the
//! real tcpserver (as nobody), its helper bin/qmail-vpopmail-sql, and a
//! real MariaDB server started here (see support/mariadb.rs), with
//! vpopmail's own table layouts (vmysql.h) and settings file.
//!
//! Layout (under the fixture's qmail home, as vpopmail's tools lay it out
//! under ~vpopmail, with the MySQL module: no vpasswd or vpasswd.cdb in
//! the domain directory):
//!
//! ```text
//! control/virtualdomains  example.net:example.net alias.net:alias.net
//! users/cdb               +example.net- and +alias.net- → vpopmail/domains/example.net
//! bin/qmail-vpopmail-sql  the helper under test (a link to the built one)
//! vpopmail/bin/vdelivermail
//! vpopmail/etc/vpopmail.mysql                  localhost|SOCKET|USER|secret|DATABASE
//! vpopmail/domains/example.net/.qmail-default  | .../vdelivermail '' bounce-no-mailbox
//! ```
//!
//! Rows: joe (pw_gid 0), flagged (8: a flag that does not bounce), locked
//! (18: BOUNCE_MAIL, 0x10, among others); valiases sales and list-default.
//! Each test has its own database user, so the server's per-user
//! connection count shows what one session opened.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::Fixture;
use support::mariadb::MariaDb;
use support::tcpserver::TcpServer;

const NOBODY: u32 = 65534;
const VPOPMAIL: u32 = 89;

const OK: &str = "250 ok";
const NO: &str = "550 sorry, no mailbox here by that name. (#5.1.1)";
const DEFER: &str = "451 sorry, that mailbox is temporarily unavailable (#4.2.1)";

/// vmysql.h's TABLE_LAYOUT with MANY_DOMAINS and CLEAR_PASS (vpopmail's
/// default build), for the `vpopmail` table.
const VPOPMAIL_LAYOUT: &str = "pw_name VARCHAR(64) not null, pw_domain VARCHAR(96) not null, \
     pw_passwd VARCHAR(128), pw_uid int, pw_gid int, pw_gecos VARCHAR(64), pw_dir VARCHAR(160), \
     pw_shell VARCHAR(20), pw_clear_passwd VARCHAR(128), primary key (pw_name, pw_domain ) ";
/// TABLE_LAYOUT without MANY_DOMAINS: a table per domain.
const DOMAIN_TABLE_LAYOUT: &str = "pw_name VARCHAR(64) not null, pw_passwd VARCHAR(128), \
     pw_uid int, pw_gid int, pw_gecos VARCHAR(64), pw_dir VARCHAR(160), pw_shell VARCHAR(20), \
     pw_clear_passwd VARCHAR(128), primary key (pw_name ) ";
/// VALIAS_TABLE_LAYOUT (without DEFAULT_DELIVERY).
const VALIAS_LAYOUT: &str = "id int(11) PRIMARY KEY AUTO_INCREMENT, alias VARCHAR(32) NOT NULL, \
     domain VARCHAR(96) NOT NULL, valias_line text NOT NULL, INDEX (alias, domain)";

/// The server the tests that leave it running share; it goes when the
/// test binary exits (see support/mariadb.rs).
static SHARED: OnceLock<MariaDb> = OnceLock::new();

fn shared() -> &'static MariaDb {
    SHARED.get_or_init(|| MariaDb::start("shared"))
}

/// How the database is laid out.
#[derive(Clone, Copy, PartialEq)]
enum Tables {
    /// vpopmail's default: one `vpopmail` table, and `valias`.
    ManyDomains,
    /// --disable-many-domains: the domain's own table, and no `valias`
    /// table yet (vpopmail makes it when it first needs it).
    PerDomain,
}

/// Creates DATABASE with vpopmail's tables and rows (as vauth_create_table
/// and vauth_adduser write them) and a user USER (password `secret`) that
/// may read it.
fn load(db: &MariaDb, database: &str, user: &str, tables: Tables) {
    let row = |name: &str, domain: Option<&str>, gid: u32| {
        let dir = format!("/home/vpopmail/domains/example.net/{name}");
        match domain {
            Some(d) => format!(
                "('{name}', '{d}', '$1$salt$hash', 0, {gid}, '{name}', '{dir}', 'NOQUOTA', 'secret')"
            ),
            None => format!(
                "('{name}', '$1$salt$hash', 0, {gid}, '{name}', '{dir}', 'NOQUOTA', 'secret')"
            ),
        }
    };
    let users = [("joe", 0), ("flagged", 8), ("locked", 0x10 | 0x02)];
    let sql = match tables {
        Tables::ManyDomains => {
            let rows: Vec<String> = users
                .iter()
                .map(|(n, g)| row(n, Some("example.net"), *g))
                .collect();
            format!(
                "CREATE TABLE IF NOT EXISTS vpopmail ( {VPOPMAIL_LAYOUT} );\n\
                 INSERT INTO vpopmail (pw_name, pw_domain, pw_passwd, pw_uid, pw_gid, pw_gecos, \
                 pw_dir, pw_shell, pw_clear_passwd) VALUES {};\n\
                 CREATE TABLE IF NOT EXISTS valias ( {VALIAS_LAYOUT} );\n\
                 INSERT INTO valias (alias, domain, valias_line) VALUES \
                 ('sales', 'example.net', '&joe@example.net'), \
                 ('list-default', 'example.net', '|/usr/bin/ezmlm-send /home/vpopmail/list');\n",
                rows.join(", ")
            )
        }
        Tables::PerDomain => {
            let rows: Vec<String> = users.iter().map(|(n, g)| row(n, None, *g)).collect();
            format!(
                "CREATE TABLE IF NOT EXISTS example_net ( {DOMAIN_TABLE_LAYOUT} );\n\
                 INSERT INTO example_net (pw_name, pw_passwd, pw_uid, pw_gid, pw_gecos, pw_dir, \
                 pw_shell, pw_clear_passwd) VALUES {};\n",
                rows.join(", ")
            )
        }
    };
    db.sql(
        None,
        &format!(
            "CREATE DATABASE {database};\nUSE {database};\n{sql}\
             CREATE USER '{user}'@'localhost' IDENTIFIED BY 'secret';\n\
             GRANT SELECT ON {database}.* TO '{user}'@'localhost';\n"
        ),
    );
}

/// The built helper.
fn helper() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_qmail-vpopmail-sql"))
}

/// A vpopmail home with the MySQL module; `settings` is the contents of
/// etc/vpopmail.mysql, `config_h` of include/vpopmail_config.h (None: no
/// such file, and the check assumes vpopmail's defaults).
fn fixture(name: &str, settings: &str, config_h: Option<&str>) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            ("rcpthosts", "example.net\nalias.net\n"),
            (
                "virtualdomains",
                "example.net:example.net\nalias.net:alias.net\n",
            ),
        ],
    );
    let h = &f.home;
    support::mkdir_755(h);
    let vp = h.join("vpopmail");
    let dom = vp.join("domains/example.net");
    for d in [&vp.join("bin"), &vp.join("etc"), &dom, &h.join("bin")] {
        support::mkdir_755(d);
    }
    support::write_mode(&vp.join("bin/vdelivermail"), "#!/bin/sh\nexit 111\n", 0o755);
    support::write_mode(
        &dom.join(".qmail-default"),
        &format!(
            "| {} '' bounce-no-mailbox\n",
            vp.join("bin/vdelivermail").display()
        ),
        0o644,
    );
    // Readable by nobody here; on a real system 0600 vpopmail, and the
    // server runs as vpopmail (qmail-smtpd(8)).
    support::write_mode(&vp.join("etc/vpopmail.mysql"), settings, 0o644);
    if let Some(text) = config_h {
        support::mkdir_755(&vp.join("include"));
        support::write_mode(&vp.join("include/vpopmail_config.h"), text, 0o644);
    }
    std::os::unix::fs::symlink(helper(), h.join("bin/qmail-vpopmail-sql")).unwrap();
    std::fs::create_dir_all(h.join("users")).unwrap();
    let mut w = cdb2::CDBWriter::create(h.join("users/cdb")).unwrap();
    for domain in ["example.net", "alias.net"] {
        let line = format!(
            "+{domain}-:example.net:{VPOPMAIL}:{VPOPMAIL}:{}:-::",
            dom.display()
        );
        let (key, value, _) =
            qmail_smtpd::resolve::users_cdb::compile_assign_line(line.as_bytes()).unwrap();
        w.add(&key, &value).unwrap();
    }
    w.add(b"", b"-").unwrap();
    w.finish().unwrap();
    f
}

/// vpopmail.mysql for this server, user and database, as vpopmail's
/// documentation writes it.
fn settings(db: &MariaDb, user: &str, database: &str) -> String {
    format!(
        "# vpopmail's MySQL settings: read line, then (optional) update line\n\
         localhost|{}|{user}|secret|{database}\n",
        db.socket.display()
    )
}

fn conf_path(f: &Fixture) -> String {
    f.home
        .join("vpopmail/etc/vpopmail.mysql")
        .display()
        .to_string()
}

/// The deferral log line for ADDR when the database could not answer.
fn deferred(f: &Fixture, addr: &str, reason: &str) -> String {
    format!(
        "realrcptto-deferred PID 127.0.0.1 {addr}: unable to ask vpopmail's MySQL database ({}): \
         {reason}: cannot tell whether this recipient exists",
        conf_path(f)
    )
}

/// One SMTP session, a command at a time (the tests act between them).
struct Smtp {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Smtp {
    fn connect(server: &TcpServer) -> Smtp {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut s = Smtp { stream, reader };
        assert_eq!(s.line(), "220 mx.example ESMTP");
        s
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    fn cmd(&mut self, c: &str) -> String {
        self.stream
            .write_all(format!("{c}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    fn rcpt(&mut self, addr: &str) -> String {
        self.cmd(&format!("RCPT TO:<{addr}>"))
    }
}

/// MAIL, then the recipients; their replies.
fn rcpts(server: &TcpServer, addrs: &[&str]) -> Vec<String> {
    let mut s = Smtp::connect(server);
    assert_eq!(s.cmd("MAIL FROM:<sender@remote.example>"), OK);
    let replies = addrs.iter().map(|a| s.rcpt(a)).collect();
    assert_eq!(s.cmd("QUIT"), "221 mx.example");
    replies
}

fn assert_replies(server: &TcpServer, cases: &[(&str, &str)]) {
    let addrs: Vec<&str> = cases.iter().map(|(a, _)| *a).collect();
    let got = rcpts(server, &addrs);
    let want: Vec<&str> = cases.iter().map(|(_, r)| *r).collect();
    let pairs: Vec<(&str, &str)> = addrs
        .iter()
        .copied()
        .zip(got.iter().map(|s| &s[..]))
        .collect();
    assert_eq!(got, want, "{pairs:#?}\nlog:\n{}", server.log_text());
}

#[test]
fn users_valiases_alias_domains_and_locked_accounts() {
    let db = shared();
    load(db, "vpop_main", "vpop_main", Tables::ManyDomains);
    let f = fixture(
        "vpopmail-sql",
        &settings(db, "vpop_main", "vpop_main"),
        None,
    );
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    assert_replies(
        &server,
        &[
            ("joe@example.net", OK),
            ("Joe@EXAMPLE.net", OK),
            ("joe-ext@example.net", OK),
            ("flagged@example.net", OK),
            ("sales@example.net", OK),
            ("list-x@example.net", OK),
            ("nobody@example.net", NO),
            ("locked@example.net", NO),
            ("joe@alias.net", OK),
            ("nobody@alias.net", NO),
        ],
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            "realrcptto PID 127.0.0.1 nobody@example.net",
            "realrcptto PID 127.0.0.1 locked@example.net",
            "realrcptto PID 127.0.0.1 nobody@alias.net",
        ],
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(
        db.connections("vpop_main"),
        1,
        "one database connection for the whole session"
    );
    // The tool shows the same steps, through the same helper.
    let tool = |addr: &str| {
        support::output(
            Command::new(env!("CARGO_BIN_EXE_qmail-realrcptto"))
                .arg(addr)
                .env("QMAILHOME", &f.home),
        )
        .unwrap()
    };
    let conf = conf_path(&f);
    let out = tool("joe@example.net");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "vpopmail user joe@example.net exists (vpopmail's MySQL database, {conf})"
        )),
        "{text}"
    );
    let out = tool("nobody@example.net");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(100), "{text}");
    assert!(
        text.contains(&format!(
            "vdelivermail bounce-no-mailbox: no vpopmail user nobody@example.net (vpopmail's \
             MySQL database, {conf})"
        )),
        "{text}"
    );
    assert_eq!(
        db.connections("vpop_main"),
        3,
        "one more for each run of the tool"
    );
    // A session that touches no vpopmail domain starts no helper.
    let replies = rcpts(&server, &["x@elsewhere.example"]);
    assert_eq!(
        replies,
        ["553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"]
    );
    assert_eq!(db.connections("vpop_main"), 3);
}

/// vpopmail built with --disable-many-domains: the domain's own table
/// (vauth_munch_domain's name), and no valias table yet.
#[test]
fn per_domain_tables_and_no_valias_table() {
    let db = shared();
    load(db, "vpop_single", "vpop_single", Tables::PerDomain);
    let f = fixture(
        "vpopmail-sql-single",
        &settings(db, "vpop_single", "vpop_single"),
        Some("#define VALIAS 1\n#define QMAIL_EXT 1\n#define CLEAR_PASS 1\n"),
    );
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    assert_replies(
        &server,
        &[
            ("joe@example.net", OK),
            ("joe@alias.net", OK),
            ("sales@example.net", NO),
            ("nobody@example.net", NO),
            ("locked@example.net", NO),
        ],
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            "realrcptto PID 127.0.0.1 sales@example.net",
            "realrcptto PID 127.0.0.1 nobody@example.net",
            "realrcptto PID 127.0.0.1 locked@example.net",
        ],
        "log:\n{}",
        server.log_text()
    );
}

/// A connection the server drops is opened again, once; the database
/// stopped in the middle of a session: 451, never 550, for that recipient
/// and the rest of the session; `DOTQMAILFAIL=accept` accepts instead.
#[test]
fn database_stopped_mid_session() {
    let db = MariaDb::start("stopped");
    load(&db, "vpopmail", "vpop_stop", Tables::ManyDomains);
    let f = fixture(
        "vpopmail-sql-stopped",
        &settings(&db, "vpop_stop", "vpopmail"),
        None,
    );
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let mut s = Smtp::connect(&server);
    assert_eq!(s.cmd("MAIL FROM:<sender@remote.example>"), OK);
    assert_eq!(s.rcpt("joe@example.net"), OK);
    // The server drops the helper's connection (as it does to an idle one
    // after wait_timeout): the helper connects again, once.
    let ids = db.sql(
        None,
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'vpop_stop';",
    );
    for id in ids.split_whitespace() {
        db.sql(None, &format!("KILL CONNECTION {id};"));
    }
    assert_eq!(
        s.rcpt("nobody@example.net"),
        NO,
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(db.connections("vpop_stop"), 2, "connected again once");
    db.stop();
    assert_eq!(
        s.rcpt("joe@example.net"),
        DEFER,
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(
        s.rcpt("nobody@example.net"),
        DEFER,
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(s.cmd("QUIT"), "221 mx.example");
    let why = format!(
        "unable to connect to vpop_stop@{}, database vpopmail: file does not exist",
        db.socket.display()
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            "realrcptto PID 127.0.0.1 nobody@example.net".to_string(),
            deferred(&f, "joe@example.net", &why),
            deferred(&f, "nobody@example.net", &why),
        ],
        "log:\n{}",
        server.log_text()
    );
    drop(server);

    let server = TcpServer::start_checked(&f, &[("DOTQMAILFAIL", "accept")], NOBODY, NOBODY);
    server.wait_for_greeting();
    assert_eq!(
        rcpts(&server, &["joe@example.net", "nobody@example.net"]),
        [OK, OK],
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        Vec::<String>::new()
    );
}

/// A server that stops answering (SIGSTOP): 451 within the helper's
/// 5-second query deadline, and at once for the rest of the session; one
/// that hangs before the first answer: 451 within its connect deadline.
#[test]
fn slow_database() {
    let db = MariaDb::start("slow");
    load(&db, "vpopmail", "vpop_slow", Tables::ManyDomains);
    let f = fixture(
        "vpopmail-sql-slow",
        &settings(&db, "vpop_slow", "vpopmail"),
        None,
    );
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let mut s = Smtp::connect(&server);
    assert_eq!(s.cmd("MAIL FROM:<sender@remote.example>"), OK);
    assert_eq!(s.rcpt("joe@example.net"), OK);
    db.pause();
    let t = Instant::now();
    let first = s.rcpt("nobody@example.net");
    let waited = t.elapsed();
    let t = Instant::now();
    let second = s.rcpt("joe@example.net");
    let then = t.elapsed();
    db.resume();
    assert_eq!(s.cmd("QUIT"), "221 mx.example");
    assert_eq!(
        [&first[..], &second[..]],
        [DEFER, DEFER],
        "log:\n{}",
        server.log_text()
    );
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(12),
        "the query deadline is 5 s; waited {waited:?}"
    );
    assert!(then < Duration::from_secs(1), "answered at once: {then:?}");
    let why = format!(
        "vpop_slow@{}, database vpopmail: no answer within 5 seconds",
        db.socket.display()
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            deferred(&f, "nobody@example.net", &why),
            deferred(&f, "joe@example.net", &why),
        ],
        "log:\n{}",
        server.log_text()
    );

    // Hung before the session's first question: the handshake's deadline.
    db.pause();
    let t = Instant::now();
    let replies = rcpts(&server, &["joe@example.net"]);
    let waited = t.elapsed();
    db.resume();
    assert_eq!(replies, [DEFER], "log:\n{}", server.log_text());
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(12),
        "waited {waited:?}"
    );
    let why = format!(
        "unable to connect to vpop_slow@{}, database vpopmail: no answer within 5 seconds",
        db.socket.display()
    );
    assert_eq!(
        support::realrcptto_lines(&server.log_text()).last(),
        Some(&deferred(&f, "joe@example.net", &why)),
        "log:\n{}",
        server.log_text()
    );
}

/// Replaces bin/qmail-vpopmail-sql with a script (under the harness's
/// exec lock, so no child inherits it half-written).
fn fake_helper(f: &Fixture, script: Option<&str>) {
    let path = f.home.join("bin/qmail-vpopmail-sql");
    let _guard = support::exclusive();
    let _ = std::fs::remove_file(&path);
    if let Some(script) = script {
        support::write_mode(&path, script, 0o755);
    }
}

/// The helper missing, exiting, or answering nonsense: never a 550. A
/// missing helper (qmail-smtpd installed alone) leaves the backend
/// unchecked, as before there was one; the others are 451.
#[test]
fn helper_missing_dying_or_talking_nonsense() {
    let f = fixture(
        "vpopmail-sql-helper",
        "localhost|/nonexistent.sock|u|p|d\n",
        None,
    );
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();

    fake_helper(&f, None);
    assert_eq!(rcpts(&server, &["nobody@example.net"]), [OK]);

    fake_helper(&f, Some("#!/bin/sh\nread q\nexit 3\n"));
    assert_eq!(
        rcpts(&server, &["nobody@example.net", "joe@example.net"]),
        [DEFER, DEFER]
    );
    fake_helper(&f, Some("#!/bin/sh\nread q\necho hello\nsleep 5\n"));
    assert_eq!(rcpts(&server, &["nobody@example.net"]), [DEFER]);
    let why = "qmail-vpopmail-sql exited without answering";
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            deferred(&f, "nobody@example.net", why),
            deferred(&f, "joe@example.net", why),
            deferred(
                &f,
                "nobody@example.net",
                "qmail-vpopmail-sql answered \"hello\""
            ),
        ],
        "log:\n{}",
        server.log_text()
    );
}

/// A helper that hangs: qmail-smtpd's own deadline (12 s) ends it.
#[test]
fn helper_that_hangs() {
    let f = fixture(
        "vpopmail-sql-hang",
        "localhost|/nonexistent.sock|u|p|d\n",
        None,
    );
    fake_helper(&f, Some("#!/bin/sh\nexec sleep 600\n"));
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let t = Instant::now();
    assert_eq!(
        rcpts(&server, &["nobody@example.net", "joe@example.net"]),
        [DEFER, DEFER]
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(12) && waited < Duration::from_secs(20),
        "one deadline for the session: {waited:?}"
    );
    let why = "no answer from qmail-vpopmail-sql within 12 seconds";
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            deferred(&f, "nobody@example.net", why),
            deferred(&f, "joe@example.net", why),
        ],
        "log:\n{}",
        server.log_text()
    );
}

/// Runs the helper with CONF and these question lines; its answers and
/// its stderr.
fn ask_helper(conf: &Path, questions: &str) -> (String, String) {
    ask_helper_under(&[], conf, questions)
}

/// The same, the helper run by WRAPPER (a program and its arguments).
fn ask_helper_under(wrapper: &[&str], conf: &Path, questions: &str) -> (String, String) {
    let mut cmd = match wrapper.split_first() {
        Some((prog, args)) => {
            let mut c = Command::new(support::require_program(prog, "daemontools"));
            c.args(args).arg(helper());
            c
        }
        None => Command::new(helper()),
    };
    let mut child = support::spawn(
        cmd.arg(conf)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(questions.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The helper on its own: the protocol, vpopmail.mysql as
/// load_connection_info reads it, the update line as a fallback, and
/// what it says when it cannot connect.
#[test]
fn helper_protocol_and_settings() {
    let db = shared();
    load(db, "vpop_proto", "vpop_proto", Tables::ManyDomains);
    load(
        db,
        "vpop_proto_single",
        "vpop_proto_single",
        Tables::PerDomain,
    );
    let dir = support::TempDir::new("helper");
    let conf = dir.join("vpopmail.mysql");
    let sock = db.socket.display().to_string();

    std::fs::write(
        &conf,
        format!("\n# comment\nlocalhost|{sock}|vpop_proto|secret|vpop_proto\n"),
    )
    .unwrap();
    let (out, err) = ask_helper(
        &conf,
        "user joe example.net\nuser locked example.net\nuser nobody example.net\n\
         valias sales example.net\nvalias list-default example.net\nvalias nobody example.net\n\
         user-table joe example.net\nuser joe example_net\nuser joe example.net\n",
    );
    assert_eq!(
        out,
        format!(
            "gid 0\ngid 18\nno\nyes\nyes\nno\n\
             fail vpop_proto@{sock}, database vpop_proto: Table 'vpop_proto.example_net' doesn't exist (error 1146)\n\
             fail bad question: a name or domain with characters vpopmail does not allow\ngid 0\n"
        ),
        "stderr: {err}"
    );
    assert_eq!(err, "");
    // Under the example run script's softlimit, meant for qmail-smtpd: the
    // MySQL client's buffers need more address space, which the helper
    // gives itself.
    let (out, err) = ask_helper_under(
        &["softlimit", "-m", "8000000"],
        &conf,
        "user joe example.net\n",
    );
    assert_eq!(out, "gid 0\n", "stderr: {err}");

    // The read line's password is wrong: the update line is used, and
    // the log says so.
    std::fs::write(
        &conf,
        format!(
            "localhost|{sock}|vpop_proto_single|wrong|vpop_proto_single\n\
             localhost|{sock}|vpop_proto_single|secret|vpop_proto_single\n"
        ),
    )
    .unwrap();
    let (out, err) = ask_helper(
        &conf,
        "user-table joe example.net\nvalias sales example.net\nuser-table nobody example.net\n",
    );
    assert_eq!(out, "gid 0\nno\nno\n", "stderr: {err}");
    assert!(
        err.starts_with(&format!(
            "qmail-vpopmail-sql: unable to connect to vpop_proto_single@{sock}, database \
             vpop_proto_single: Access denied for user 'vpop_proto_single'@'localhost'"
        )) && err.ends_with("; using the update settings\n"),
        "{err}"
    );

    for (settings, why) in [
        (
            format!("localhost|{sock}|vpop_proto|secret|no_such_db\n"),
            format!(
                "unable to connect to vpop_proto@{sock}, database no_such_db: Access denied for \
                 user 'vpop_proto'@'localhost' to database 'no_such_db' (error 1044)"
            ),
        ),
        (
            format!("localhost|{}.gone|u|p|d\n", sock),
            format!("unable to connect to u@{sock}.gone, database d: file does not exist"),
        ),
        (
            "# nothing but comments\n".to_string(),
            format!("{}: no settings line", conf.display()),
        ),
    ] {
        std::fs::write(&conf, settings).unwrap();
        let (out, err) = ask_helper(&conf, "user joe example.net\nuser joe example.net\n");
        assert_eq!(
            out,
            format!("down {why}\n"),
            "one answer, then it exits; {err}"
        );
    }
    std::fs::remove_file(&conf).unwrap();
    let (out, _) = ask_helper(&conf, "user joe example.net\n");
    assert_eq!(
        out,
        format!(
            "down unable to read {}: file does not exist\n",
            conf.display()
        )
    );
    let (out, _) = ask_helper(&conf, "");
    assert_eq!(out, "", "no question, no connection");
}
