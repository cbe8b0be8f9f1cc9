//! Catch-alls that bounce, end to end: the real server under the real
//! tcpserver, running as nobody, reading the `.qmail-default` files a
//! vpopmail domain, a fastforward alias table (built by Debian's real
//! `setforward`) and a `bouncesaying` domain leave for qmail-local, with
//! exact replies and log lines.
//!
//! Layout (all under the fixture's qmail home, as vpopmail's tools lay it
//! out under ~vpopmail):
//!
//! ```text
//! control/virtualdomains  example.net:example.net alias.net:alias.net
//!                         catch.net:catch.net ff.example:ff gone.example:gone
//! users/cdb               +example.net- and +alias.net- → vpopmail/domains/example.net
//!                         (vaddaliasdomain's way), +catch.net-, +ff-, +gone-
//! vpopmail/bin/vdelivermail
//! vpopmail/domains/example.net/.qmail-default  | .../vdelivermail '' bounce-no-mailbox
//! vpopmail/domains/example.net/.qmail-sales    an alias
//! vpopmail/domains/example.net/vpasswd.cdb     joe, locked (BOUNCE_MAIL)
//! vpopmail/domains/catch.net/.qmail-default    | .../vdelivermail '' postmaster@catch.net
//! ff/.qmail-default                            | fastforward -d ff/aliases.cdb
//! gone/.qmail-default                          |bouncesaying 'This domain is gone.'
//! ```

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use support::Fixture;
use support::tcpserver::TcpServer;

const NOBODY: u32 = 65534;
const VPOPMAIL: u32 = 89;

const OK: &str = "250 ok";
const NO: &str = "550 sorry, no mailbox here by that name. (#5.1.1)";
const DEFER: &str = "451 sorry, that mailbox is temporarily unavailable (#4.2.1)";

/// A vpasswd.cdb as vpopmail's make_vpasswd_cdb writes it: key the user
/// name, data `password:uid:gid:gecos:dir:shell:clear`.
fn vpasswd_cdb(path: &Path, users: &[(&str, u32)]) {
    let mut w = cdb2::CDBWriter::create(path).unwrap();
    for (user, gid) in users {
        let data = format!("$1$salt$hash:1:{gid}:{user}:/d/{user}:NOQUOTA:secret");
        w.add(user.as_bytes(), data.as_bytes()).unwrap();
    }
    w.finish().unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn fixture(name: &str) -> Fixture {
    let f = Fixture::with_controls(
        name,
        &[
            ("me", "mx.example\n"),
            (
                "rcpthosts",
                "example.net\nalias.net\ncatch.net\nff.example\ngone.example\n",
            ),
            (
                "virtualdomains",
                "example.net:example.net\nalias.net:alias.net\ncatch.net:catch.net\n\
                 ff.example:ff\ngone.example:gone\n",
            ),
        ],
    );
    let h = &f.home;
    support::mkdir_755(h);
    let vp = h.join("vpopmail");
    let dom = vp.join("domains/example.net");
    let catch = vp.join("domains/catch.net");
    for d in [
        &vp.join("bin"),
        &dom,
        &catch,
        &h.join("ff"),
        &h.join("gone"),
        &h.join("bin"),
    ] {
        support::mkdir_755(d);
    }
    support::write_mode(&vp.join("bin/vdelivermail"), "#!/bin/sh\nexit 111\n", 0o755);
    support::write_mode(&h.join("bin/bouncesaying"), "#!/bin/sh\nexit 100\n", 0o755);
    let vdm = vp.join("bin/vdelivermail");
    support::write_mode(
        &dom.join(".qmail-default"),
        &format!("| {} '' bounce-no-mailbox\n", vdm.display()),
        0o644,
    );
    support::write_mode(&dom.join(".qmail-sales"), "&joe@example.net\n", 0o644);
    vpasswd_cdb(&dom.join("vpasswd.cdb"), &[("joe", 0), ("locked", 0x10)]);
    support::write_mode(
        &catch.join(".qmail-default"),
        &format!("| {} '' postmaster@catch.net\n", vdm.display()),
        0o644,
    );
    let ff = h.join("ff");
    support::write_mode(
        &ff.join(".qmail-default"),
        &format!("| fastforward -d {}/aliases.cdb\n", ff.display()),
        0o644,
    );
    support::write_mode(
        &h.join("gone/.qmail-default"),
        "|bouncesaying 'This domain is gone.'\n",
        0o644,
    );
    // The real setforward (Debian's fastforward package) builds the table.
    let setforward = support::require_program("setforward", "fastforward");
    let mut child = support::spawn(
        Command::new(setforward)
            .arg(ff.join("aliases.cdb"))
            .arg(ff.join("aliases.tmp"))
            .stdin(Stdio::piped()),
    )
    .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"postmaster@ff.example: &root@mx.example;\nwebmaster@: &root@mx.example;\n")
        .unwrap();
    assert!(child.wait().unwrap().success(), "setforward");
    std::fs::set_permissions(
        ff.join("aliases.cdb"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let assign = [
        format!(
            "+example.net-:example.net:{VPOPMAIL}:{VPOPMAIL}:{}:-::",
            dom.display()
        ),
        format!(
            "+alias.net-:example.net:{VPOPMAIL}:{VPOPMAIL}:{}:-::",
            dom.display()
        ),
        format!(
            "+catch.net-:catch.net:{VPOPMAIL}:{VPOPMAIL}:{}:-::",
            catch.display()
        ),
        format!("+ff-:nobody:{NOBODY}:{NOBODY}:{}:-::", ff.display()),
        format!(
            "+gone-:nobody:{NOBODY}:{NOBODY}:{}:-::",
            h.join("gone").display()
        ),
    ];
    let mut w = cdb2::CDBWriter::create(h.join("users/cdb")).unwrap_or_else(|_| {
        std::fs::create_dir_all(h.join("users")).unwrap();
        cdb2::CDBWriter::create(h.join("users/cdb")).unwrap()
    });
    for line in &assign {
        let (key, value, _) =
            qmail_smtpd::resolve::users_cdb::compile_assign_line(line.as_bytes()).unwrap();
        w.add(&key, &value).unwrap();
    }
    w.add(b"", b"-").unwrap();
    w.finish().unwrap();
    f
}

fn session(server: &TcpServer, rcpts: &[&str]) -> Vec<String> {
    let mut commands: Vec<Vec<u8>> = vec![b"MAIL FROM:<sender@remote.example>".to_vec()];
    commands.extend(rcpts.iter().map(|r| format!("RCPT TO:<{r}>").into_bytes()));
    commands.push(b"QUIT".to_vec());
    let refs: Vec<&[u8]> = commands.iter().map(|c| &c[..]).collect();
    server.converse(&refs)
}

#[test]
fn vpopmail_fastforward_and_bouncesaying_domains() {
    let f = fixture("catchall");
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let cases = [
        ("joe@example.net", OK),
        ("Joe@EXAMPLE.net", OK),
        ("sales@example.net", OK),
        ("nobody@example.net", NO),
        ("locked@example.net", NO),
        ("joe@alias.net", OK),
        ("nobody@alias.net", NO),
        ("anyone@catch.net", OK),
        ("postmaster@ff.example", OK),
        ("webmaster@ff.example", OK),
        ("nobody@ff.example", NO),
        ("anyone@gone.example", NO),
    ];
    let rcpts: Vec<&str> = cases.iter().map(|(a, _)| *a).collect();
    let replies = session(&server, &rcpts);
    let mut want = vec!["220 mx.example ESMTP".to_string(), OK.to_string()];
    want.extend(cases.iter().map(|(_, r)| r.to_string()));
    want.push("221 mx.example".into());
    assert_eq!(replies, want, "log:\n{}", server.log_text());
    assert_eq!(
        support::realrcptto_lines(&server.log_text()),
        [
            "realrcptto PID 127.0.0.1 nobody@example.net",
            "realrcptto PID 127.0.0.1 locked@example.net",
            "realrcptto PID 127.0.0.1 nobody@alias.net",
            "realrcptto PID 127.0.0.1 nobody@ff.example",
            "realrcptto PID 127.0.0.1 anyone@gone.example",
        ],
        "log:\n{}",
        server.log_text()
    );
}

/// A vpasswd.cdb the server may not read is never a 550: 451 for every
/// name it would decide, with the reason logged; `DOTQMAILFAIL=accept`
/// accepts instead, and `NODOTQMAIL` turns the whole layer off.
#[test]
fn a_user_database_the_server_cannot_read() {
    let f = fixture("catchall-unreadable");
    let cdb = f.home.join("vpopmail/domains/example.net/vpasswd.cdb");
    std::fs::set_permissions(&cdb, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = TcpServer::start_checked(&f, &[("PROTO", "TCP")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let replies = session(
        &server,
        &["joe@example.net", "nobody@example.net", "sales@example.net"],
    );
    assert_eq!(
        replies[2..5],
        [DEFER, DEFER, OK],
        "log:\n{}",
        server.log_text()
    );
    let want = format!(
        "realrcptto-deferred PID 127.0.0.1 nobody@example.net: unable to read {}: access denied: \
         cannot tell whether this recipient exists",
        cdb.display()
    );
    assert!(
        support::realrcptto_lines(&server.log_text()).contains(&want),
        "{want}\nlog:\n{}",
        server.log_text()
    );
    drop(server);

    let server = TcpServer::start_checked(&f, &[("DOTQMAILFAIL", "accept")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let replies = session(&server, &["joe@example.net", "nobody@example.net"]);
    assert_eq!(replies[2..4], [OK, OK], "log:\n{}", server.log_text());
    drop(server);

    std::fs::set_permissions(&cdb, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TcpServer::start_checked(&f, &[("NODOTQMAIL", "1")], NOBODY, NOBODY);
    server.wait_for_greeting();
    let replies = session(&server, &["nobody@example.net", "anyone@gone.example"]);
    assert_eq!(replies[2..4], [OK, OK], "log:\n{}", server.log_text());
}
