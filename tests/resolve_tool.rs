//! Process tests of `qmail-realrcptto`: the real binary, real getpwnam
//! (answering from a fixture passwd bind-mounted over /etc/passwd in a
//! private mount namespace), real home directories and `.qmail` files.
//! Those tests need root; without it they print SKIPPED and return.

mod resolve_support;

use resolve_support::Fixture;

const OK: &str = "250 ok";
const NO: &str = "550 sorry, no mailbox here by that name. (#5.1.1)";
const CDB: &str = "421 unable to read cdb user database (#4.3.0)";
const SYS: &str = "421 unable to read system user database (#4.3.0)";
const DEFER: &str = "451 sorry, that mailbox is temporarily unavailable (#4.2.1)";

const JOE: u32 = 5001;
const ANN: u32 = 5002;
const PRIV: u32 = 5004;
const CLOSED: u32 = 5005;
const QMAILD: u32 = 5009;
const ALIAS: u32 = 5010;

/// A qmail host: example.com and localhost local, a virtual domain, a
/// virtualdomains exception, a percenthack gateway, users/cdb assignments,
/// and accounts in every state qmail-getpw distinguishes.
fn standard(tag: &str, with_alias: bool) -> Fixture {
    let mut f = Fixture::new(tag);
    f.control("me", "example.com\n")
        .control("locals", "example.com\nlocalhost\n")
        .control("virtualdomains", "virt.example:joe-v\nshop.example:\n")
        .control("percenthack", "gw.example\n")
        .dir("homes", 0, 0o755)
        .dir("homes/joe", JOE, 0o755)
        .write("homes/joe/.qmail-list", "./Maildir/\n", JOE)
        .write("homes/joe/.qmail-v-default", "./Maildir/\n", JOE)
        .write("homes/joe/.qmail-w-ok", "./Maildir/\n", JOE)
        // A directory that would let "joe-a/b" reach a file if '/' were
        // allowed after ".qmail".
        .dir("homes/joe/.qmail-a", JOE, 0o755)
        .write("homes/joe/.qmail-a/b", "./Maildir/\n", JOE)
        .dir("homes/ann", 5003, 0o755)
        .dir("private", 0, 0o700)
        .dir("private/priv", PRIV, 0o755)
        .dir("homes/closed", CLOSED, 0o700)
        .dir("alias", ALIAS, 0o755)
        .write("alias/.qmail-postmaster", "&joe\n", ALIAS);
    let joe_home = f.p("homes/joe");
    f.users_cdb(&[
        &format!("=listed:joe:{JOE}:{JOE}:{joe_home}:-:list:"),
        &format!("+wild-:joe:{JOE}:{JOE}:{joe_home}:-:w-:"),
    ]);
    f.user("joe", JOE, "homes/joe")
        .user("ann", ANN, "homes/ann")
        .user("priv", PRIV, "private/priv")
        .user("closed", CLOSED, "homes/closed")
        .user("qmaild", QMAILD, "qmail");
    if with_alias {
        f.user("alias", ALIAS, "alias");
    }
    f
}

fn quiet_lines(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(a, r)| format!("{a}: {r}\n")).collect()
}

fn args<'a>(pairs: &[(&'a str, &str)]) -> Vec<&'a str> {
    std::iter::once("-q")
        .chain(pairs.iter().map(|(a, _)| *a))
        .collect()
}

#[test]
fn replies_as_qmail_would_deliver() {
    require_root!();
    let f = standard("replies", true);
    // Names too long for any file system: ENAMETOOLONG is "no such file".
    let long_ext = format!("joe-{}@example.com", "x".repeat(300));
    let long_local = format!("{}@example.com", "y".repeat(300));
    let cases = [
        ("joe@example.com", OK),
        ("Joe-List@Example.COM", OK),
        ("joe-nope@example.com", NO),
        ("joe-list", OK),
        ("joe-", NO),
        ("postmaster@localhost", OK),
        ("nobody@example.com", NO),
        ("joe%example.com@gw.example", OK),
        ("nobody%example.com@gw.example", NO),
        ("anyone@remote.example", OK),
        ("anyone@shop.example", OK),
        ("anyone@virt.example", OK),
        ("listed@example.com", OK),
        ("wild-ok@example.com", OK),
        ("wild-bad@example.com", NO),
        ("ann@example.com", NO),
        ("root@example.com", NO),
        ("priv-x@example.com", NO),
        ("closed-x@example.com", NO),
        ("../../etc/passwd@example.com", NO),
        // qmail-local opens .qmail-a/b inside the home.
        ("joe-a/b@example.com", OK),
        ("joe-a/c@example.com", NO),
        (&long_ext, NO),
        (&long_local, NO),
    ];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .stderr("")
        .code(100);
}

#[test]
fn all_accepted_exits_0() {
    require_root!();
    let f = standard("allok", true);
    let cases = [
        ("joe@example.com", OK),
        ("joe-list@example.com", OK),
        ("x@remote.example", OK),
    ];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(0);
}

#[test]
fn explains_every_step() {
    require_root!();
    let f = standard("explain", true);
    let home = f.p("homes/joe");
    let want = format!(
        "address: Joe-Nope
  after qmail-send's rewriting: Joe-Nope@example.com
  example.com is in control/locals: local name Joe-Nope
  users/cdb: no exact or wildcard record for Joe-Nope
  passwd: no user \"joe-nope\"
  passwd: user joe (uid {JOE}), home {home}, dash \"-\", extension \"Nope\"
  home {home}: the user can enter it; not writable by others, not sticky
  {home}/.qmail-nope: does not exist
  {home}/.qmail-default: does not exist
  no .qmail file applies: qmail-local would bounce
reply: {NO}
address: wild-ok@virt.example
  after qmail-send's rewriting: wild-ok@virt.example
  control/virtualdomains: key \"virt.example\" gives prefix \"joe-v\": local name joe-v-wild-ok
  users/cdb: no exact or wildcard record for joe-v-wild-ok
  passwd: no user \"joe-v-wild-ok\"
  passwd: no user \"joe-v-wild\"
  passwd: no user \"joe-v\"
  passwd: user joe (uid {JOE}), home {home}, dash \"-\", extension \"v-wild-ok\"
  home {home}: the user can enter it; not writable by others, not sticky
  {home}/.qmail-v-wild-ok: does not exist
  {home}/.qmail-v-wild-default: does not exist
  {home}/.qmail-v-default: exists
  {home}/.qmail-v-default: line \"./Maildir/\": a file delivery: accepted
reply: {OK}
address: Wild-OK@example.com
  after qmail-send's rewriting: Wild-OK@example.com
  example.com is in control/locals: local name Wild-OK
  users/cdb: wildcard record \"!wild-\": user joe (uid {JOE}), home {home}, dash \"-\", extension \"w-OK\"
  home {home}: the user can enter it; not writable by others, not sticky
  {home}/.qmail-w-ok: exists
  {home}/.qmail-w-ok: line \"./Maildir/\": a file delivery: accepted
reply: {OK}
"
    );
    f.run_in_namespace(
        None,
        &["Joe-Nope", "wild-ok@virt.example", "Wild-OK@example.com"],
    )
    .stdout(&want)
    .code(100);
}

/// Without an `alias` user qmail-getpw fails ("Unable to find alias
/// user!") and qmail-lspawn reports a temporary failure: qmail defers, so
/// the check answers 451 and the tool exits 111.
#[test]
fn no_alias_user_defers() {
    require_root!();
    let f = standard("noalias", false);
    let cases = [
        ("joe@example.com", OK),
        ("joe-nope@example.com", NO),
        ("postmaster@example.com", DEFER),
        ("nobody@example.com", DEFER),
    ];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(111);
    f.run_in_namespace(None, &["nobody@example.com"])
        .stdout_has("  no user name matched and there is no user alias")
        .stdout_has(
            "  qmail would defer (try again later): Unable to find alias user! \
             (qmail-lspawn: no user name matched and there is no user alias)",
        )
        .code(111);
}

/// users/cdb without qmail-newu's empty key is damaged: 421, and a
/// temporary failure outranks an unknown recipient in the exit status.
#[test]
fn damaged_users_cdb_is_421() {
    require_root!();
    let f = standard("badcdb", true);
    f.raw_users_cdb(&[(b"!joe\0", b"joe\x005001\x005001\x00/x\x00-\x00")]);
    let cases = [("x@remote.example", OK), ("joe@example.com", CDB)];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(111);
    // Unreadable users/cdb: the same.
    let f = standard("cdbperm", true);
    f.chmod("qmail/users/cdb", 0o600);
    let cases = [("nobody@example.com", CDB), ("x@remote.example", OK)];
    f.run_in_namespace(Some(QMAILD), &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(111);
}

/// A passwd entry longer than any getpwnam_r buffer makes every lookup
/// that reaches it fail with ERANGE: a temporary failure of the user
/// database, never "no such user".
#[test]
fn user_database_failure_is_421() {
    require_root!();
    let mut f = standard("syserr", true);
    f.raw_passwd_line(format!(
        "huge:x:5099:5099:{}:/tmp:/bin/sh",
        "g".repeat(2_000_000)
    ));
    let cases = [
        ("joe@example.com", OK),
        ("nobody@example.com", SYS),
        ("x@remote.example", OK),
    ];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(111);
}

/// As qmaild, as qmail-getpw (run as qmailp) does: a home behind a
/// directory it may not enter does not match the user name, and the search
/// goes on to `alias` (logged). A `.qmail` file inside a 0700 home that
/// the user may read but qmaild may not look at is accepted and logged.
#[test]
fn what_qmaild_cannot_see() {
    require_root!();
    let f = standard("qmaild", true);
    let cases = [
        ("priv-x@example.com", NO),
        ("closed-x@example.com", OK),
        ("joe-nope@example.com", NO),
    ];
    f.run_in_namespace(Some(QMAILD), &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(100);

    let run = f.run_in_namespace(
        Some(QMAILD),
        &["priv-x@example.com", "closed-x@example.com"],
    );
    run.stdout_has(&format!(
        "  passwd: priv (uid {PRIV}): home {}: access denied",
        f.p("private/priv")
    ))
    .stdout_has(&format!(
        "  logged: unable to stat {}: access denied",
        f.p("private/priv")
    ))
    .stdout_has(&format!(
        "  no user name matched: user alias, home {}, dash \"-\", extension \"priv-x\"",
        f.p("alias")
    ))
    .stdout_has(&format!(
        "  logged: unable to stat {}/.qmail-x: access denied",
        f.p("homes/closed")
    ))
    .code(100);

    // As root the tool sees into the 0700 home: no .qmail-x there.
    let cases = [("priv-x@example.com", NO), ("closed-x@example.com", NO)];
    f.run_in_namespace(None, &args(&cases))
        .stdout(&quiet_lines(&cases))
        .code(100);
}

#[test]
fn warns_when_users_assign_is_not_compiled() {
    // Remote addresses only: no passwd lookups, so no root needed.
    let f = Fixture::new("assign");
    f.control("me", "example.com\n");
    let cases = [("x@remote.example", OK)];
    f.run_plain(&args(&cases))
        .stdout(&quiet_lines(&cases))
        .stderr("")
        .code(0);

    f.write("qmail/users/assign", "=joe:joe:1:1:/home/joe:::\n.\n", 0);
    f.run_plain(&args(&cases))
        .stderr(
            "qmail-realrcptto: warning: users/assign exists but users/cdb does not: \
             qmail ignores users/assign until qmail-newu is run\n",
        )
        .code(0);

    f.users_cdb(&["=joe:joe:1:1:/home/joe:::"]);
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(f.path("qmail/users/cdb"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    f.run_plain(&args(&cases))
        .stderr(
            "qmail-realrcptto: warning: users/assign is newer than users/cdb: qmail uses users/cdb; run qmail-newu\n",
        )
        .code(0);

    std::fs::File::options()
        .write(true)
        .open(f.path("qmail/users/assign"))
        .unwrap()
        .set_modified(old - std::time::Duration::from_secs(60))
        .unwrap();
    f.run_plain(&args(&cases)).stderr("").code(0);
}

#[test]
fn chdir_and_controls_failures_are_111() {
    let f = Fixture::new("fatal");
    let mut cmd = std::process::Command::new(resolve_support::TOOL);
    cmd.arg("x@y").env("QMAILHOME", f.path("no-such-dir"));
    f.run_cmd(cmd)
        .stdout("")
        .stderr_has("qmail-realrcptto: fatal: unable to chdir to ")
        .code(111);

    // Neither control/locals nor control/me: qmail cannot tell what is local.
    f.run_plain(&["x@y"])
        .stdout("421 unable to read controls (#4.3.0)\n")
        .stderr_has("qmail-realrcptto: fatal: unable to read controls: ")
        .code(111);
}

#[test]
fn usage_errors_are_100() {
    let f = Fixture::new("usage");
    f.control("me", "example.com\n");
    f.run_plain(&[])
        .stdout("")
        .stderr("usage: qmail-realrcptto [-q] ADDRESS...\n")
        .code(100);
    f.run_plain(&["-x", "a@b"]).stdout("").code(100);
    // After "--", a leading '-' is an address.
    f.run_plain(&["-q", "--", "-x@remote.example"])
        .stdout("-x@remote.example: 250 ok\n")
        .code(0);
}

/// The tool shows qmail-local's own rules: a `.qmail` name that is not a
/// regular file, a sticky home, and a deferral (reply 451, exit 111).
#[test]
fn shows_qmail_local_rules_and_deferrals() {
    require_root!();
    let mut f = standard("qmail-local", true);
    f.dir("homes/joe/.qmail-isdir", JOE, 0o755)
        .dir("homes/sticky", 5030, 0o1755);
    f.user("sticky", 5030, "homes/sticky");
    let joe = f.p("homes/joe");
    let sticky = f.p("homes/sticky");
    let run = f.run_in_namespace(None, &["joe-isdir@example.com", "sticky-x@example.com"]);
    run.stdout_has(&format!(
        "  {joe}/.qmail-isdir: not a regular file: qmail-local does not use it"
    ))
    .stdout_has(&format!("  {joe}/.qmail-default: does not exist"))
    .stdout_has(&format!("reply: {NO}"))
    .stdout_has(&format!(
        "  qmail would defer (try again later): Home directory is sticky: \
         user is editing his .qmail file. (qmail-local: {sticky})"
    ))
    .stdout_has(&format!("reply: {DEFER}"))
    .code(111);
}
