//! vpopmail's vdelivermail, as its source decides (sagredo-dev/vpopmail
//! vdelivermail.c and vcdb.c), with the cdb user database.
//!
//! A vpopmail domain's `.qmail-default` is `| .../vdelivermail '' BOUNCE`.
//! vdelivermail takes the user from `$EXT` and the domain from `$HOST`,
//! both lower-cased; a user name or domain with characters vpopmail never
//! allows bounces. It looks the domain up in qmail's users/cdb (key
//! `!domain-`, vpopmail's `vget_assign`: this is how an alias domain made
//! by vaddaliasdomain finds the real domain's directory) and the user in
//! that directory's vpasswd.cdb (key: the user name; data
//! `password:uid:gid:gecos:dir:shell:clear`). A user whose gid has the
//! BOUNCE_MAIL flag (0x10, an account locked by vmoduser) bounces; any
//! other user is delivered. Built with --enable-qmail-ext, vdelivermail
//! also tries the name up to its first `-` (`joe-foo` → `joe`); the check
//! reads ~vpopmail/include/vpopmail_config.h to know, and assumes it is
//! on when it cannot tell (so it never refuses a name that might be
//! delivered). No user: BOUNCE `bounce-no-mailbox` bounces, `delete`
//! discards the message (refused here: the sender learns instead of
//! losing it silently), anything else is a catch-all (an address or a
//! directory) that delivers: accepted.
//!
//! Aliases of a cdb domain are `.qmail-NAME` files in its directory, found
//! by qmail-local before `.qmail-default` is reached. A vpasswd.cdb that
//! cannot be read: 451 (or accepted with `DOTQMAILFAIL=accept`).
//!
//! With the MySQL backend (a domain directory without vpasswd or
//! vpasswd.cdb, and ~vpopmail/etc/vpopmail.mysql present) the same
//! questions go to the database through [`System::vpopmail_sql`]: first
//! the valias table (when vpopmail was built with --enable-valias), as
//! vdelivermail's process_valias asks it, then the user row. The database
//! down or slow is a 451, never a 550. Another backend: not checked,
//! accepted.

use super::dotqmail::{Run, cannot_look};
use super::{Deferral, Delivery, Options, SqlAnswer, SqlQuestion, System, Verdict};

const BOUNCE_ALL: &[u8] = b"bounce-no-mailbox";
const DELETE_ALL: &[u8] = b"delete";
/// vpopmail.h's BOUNCE_MAIL bit of a user's gid field.
const BOUNCE_MAIL: u32 = 0x10;

/// vpopmail's `is_username_valid`: the bytes it allows in a user name.
pub fn username_valid(user: &[u8]) -> bool {
    user.iter().all(
        |&c| matches!(c, 33 | 35 | 36 | 38 | 39 | 42 | 43 | 45..=57 | 61 | 63 | 65..=90 | 94..=126),
    )
}

/// vpopmail's `is_domain_valid`.
pub fn domain_valid(domain: &[u8]) -> bool {
    domain
        .iter()
        .all(|&c| matches!(c, 45 | 46 | 48..=57 | 65..=90 | 97..=122))
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// C's atoi on a field: leading digits (after an optional sign), else 0.
fn atoi(field: &[u8]) -> u32 {
    let digits = field.strip_prefix(b"+").unwrap_or(field);
    digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u32, |n, &d| {
            n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        })
}

/// What vpopmail's build says, from its include/vpopmail_config.h; each
/// `true` when the file cannot be read (the more accepting reading).
struct Build {
    /// --enable-qmail-ext: `joe-foo` is tried as `joe` too.
    qmail_ext: bool,
    /// --enable-valias (SQL backends): aliases in the valias table.
    valias: bool,
    /// --enable-many-domains (the default): one `vpopmail` table.
    many_domains: bool,
}

impl Build {
    fn read<S: System>(sys: &mut S, vpopmail_dir: &[u8]) -> Build {
        let mut config = vpopmail_dir.to_vec();
        config.extend_from_slice(b"/include/vpopmail_config.h");
        match sys.read_small(&config, 64 * 1024) {
            Ok(Some(text)) => {
                let defined = |name: &[u8]| {
                    text.split(|&b| b == b'\n').any(|l| {
                        l.strip_prefix(b"#define ")
                            .and_then(|r| r.strip_prefix(name))
                            .is_some_and(|r| r.first() == Some(&b' '))
                    })
                };
                Build {
                    qmail_ext: defined(b"QMAIL_EXT"),
                    valias: defined(b"VALIAS"),
                    many_domains: defined(b"MANY_DOMAINS"),
                }
            }
            _ => Build {
                qmail_ext: true,
                valias: true,
                many_domains: true,
            },
        }
    }
}

/// One answer about a name from the user database.
enum Lookup {
    /// A user with this gid field.
    User(u32),
    /// No such user.
    Absent,
    /// The answer, already (a deferral, a failure to look, "not checked").
    Done(Run),
}

pub fn vdelivermail<S: System>(
    sys: &mut S,
    d: &Delivery,
    program: &[u8],
    args: &[Vec<u8>],
    options: &Options,
) -> Run {
    if args.len() != 2 {
        return Run::Verdict(Verdict::Defer(Deferral::ProgramDefers {
            program: program.to_vec(),
            why: "vdelivermail: invalid syntax in .qmail-default file".into(),
        }));
    }
    let bounce = &args[1];
    let user = d.ext.to_ascii_lowercase();
    let mut domain = d.host.to_ascii_lowercase();
    // get_arguments: before anything else, whatever the catch-all.
    if !username_valid(&user) {
        return Run::Bounces(format!("vdelivermail: invalid username {}", show(&user)));
    }
    if !domain_valid(&domain) {
        return Run::Bounces(format!(
            "vdelivermail: invalid domain name {}",
            show(&domain)
        ));
    }
    let vpopmail_dir = parent(parent(program));
    let build = Build::read(sys, vpopmail_dir);
    let base: &[u8] = match user.iter().position(|&b| b == b'-') {
        Some(i) if build.qmail_ext => &user[..i],
        _ => &user,
    };
    if build.qmail_ext && !username_valid(base) {
        return Run::Bounces(format!("vdelivermail: invalid username {}", show(base)));
    }

    // vget_assign: the domain's directory from qmail's users/cdb, and the
    // real domain (an alias domain's record names it first).
    let mut key = b"!".to_vec();
    key.extend_from_slice(&domain);
    key.push(b'-');
    let record = match sys.cdb_get(b"users/cdb", &key) {
        Ok(Some(value)) => {
            let fields: Vec<&[u8]> = value.split(|&b| b == 0).collect();
            if fields.len() < 4 {
                return Run::Delivers("users/cdb record for the domain too short".into());
            }
            domain = fields[0].to_ascii_lowercase();
            Some(fields[3].to_vec())
        }
        Ok(None) => None,
        Err(e) => return cannot_look(b"users/cdb", &e, options),
    };
    let backend = match Backend::find(sys, record.as_deref(), vpopmail_dir) {
        Ok(b) => b,
        Err(run) => return run,
    };
    if let Backend::Sql { conf } = &backend {
        if build.valias {
            if let Some(run) = valias(sys, conf, &user, base, &domain, options) {
                return run;
            }
        }
    }
    let mut names = vec![&user[..]];
    if base != &user[..] {
        names.push(base);
    }
    for name in names {
        let found = match &backend {
            Backend::Cdb { dir } => cdb_user(sys, dir, name, options),
            Backend::Sql { conf } => {
                sql_user(sys, conf, name, &domain, build.many_domains, options)
            }
            Backend::NoDomain => Lookup::Absent,
        };
        match found {
            Lookup::User(gid) => {
                let who = format!("vpopmail user {}@{}", show(name), show(&domain));
                return if gid & BOUNCE_MAIL != 0 {
                    Run::Bounces(format!("vdelivermail: {who} is locked (BOUNCE_MAIL)"))
                } else {
                    Run::Delivers(format!("{who} exists ({})", backend.describe()))
                };
            }
            Lookup::Absent => {}
            Lookup::Done(run) => return run,
        }
    }
    // usernotfound: the .qmail-default's last argument decides.
    let what = if bounce == BOUNCE_ALL {
        "bounce-no-mailbox"
    } else if bounce == DELETE_ALL {
        "delete (qmail would discard the message)"
    } else {
        return Run::Delivers(format!(
            "no vpopmail user {}@{}: vdelivermail's catch-all {}",
            show(&user),
            show(&domain),
            show(bounce)
        ));
    };
    Run::Bounces(format!(
        "vdelivermail {what}: no vpopmail user {}@{} ({})",
        show(&user),
        show(&domain),
        backend.describe()
    ))
}

fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b".",
    }
}

/// Where vpopmail keeps its users for this domain.
enum Backend {
    /// The cdb module: DIR/vpasswd.cdb, built from DIR/vpasswd.
    Cdb { dir: Vec<u8> },
    /// The MySQL module: the settings in ~vpopmail/etc/vpopmail.mysql.
    Sql { conf: Vec<u8> },
    /// The cdb module and no users/cdb record for the domain:
    /// vget_assign fails and vdelivermail finds no user at all.
    NoDomain,
}

impl Backend {
    /// The cdb module leaves vpasswd (and vpasswd.cdb, built from it) in
    /// the domain directory; the MySQL module its settings in etc/ (and it
    /// asks the database even when users/cdb has no record).
    fn find<S: System>(
        sys: &mut S,
        dir: Option<&[u8]>,
        vpopmail_dir: &[u8],
    ) -> Result<Backend, Run> {
        if let Some(dir) = dir {
            let at = |name: &[u8]| [dir, b"/", name].concat();
            if sys.stat(&at(b"vpasswd.cdb")).is_ok() || sys.stat(&at(b"vpasswd")).is_ok() {
                return Ok(Backend::Cdb { dir: dir.to_vec() });
            }
        }
        let conf = [vpopmail_dir, b"/etc/vpopmail.mysql"].concat();
        if sys.stat(&conf).is_ok() {
            return Ok(Backend::Sql { conf });
        }
        match dir {
            None => Ok(Backend::NoDomain),
            Some(dir) => Err(Run::Delivers(format!(
                "{} has no vpasswd.cdb or vpasswd, and there is no {}: a vpopmail backend the check does not read",
                show(dir),
                show(&conf)
            ))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Backend::Cdb { dir } => format!("{}/vpasswd.cdb", show(dir)),
            Backend::Sql { conf } => format!("vpopmail's MySQL database, {}", show(conf)),
            Backend::NoDomain => "no users/cdb record for the domain".into(),
        }
    }
}

/// The most of a vpasswd file read when its vpasswd.cdb is missing.
const MAX_VPASSWD: usize = 4 << 20;

/// A user in DIR/vpasswd.cdb (key: the name; data
/// `password:uid:gid:gecos:dir:shell:clear`). Without vpasswd.cdb,
/// vdelivermail builds it from DIR/vpasswd (lines `name:data`): the check
/// reads that file instead.
fn cdb_user<S: System>(sys: &mut S, dir: &[u8], name: &[u8], options: &Options) -> Lookup {
    let gid = |data: &[u8]| data.split(|&b| b == b':').nth(2).map_or(0, atoi);
    let cdb = [dir, b"/vpasswd.cdb"].concat();
    match sys.cdb_get(&cdb, name) {
        Ok(Some(data)) => return Lookup::User(gid(&data)),
        Ok(None) => return Lookup::Absent,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Lookup::Done(cannot_look(&cdb, &e, options)),
    }
    let text = [dir, b"/vpasswd"].concat();
    match sys.read_small(&text, MAX_VPASSWD) {
        Ok(Some(lines)) => {
            let found = lines.split(|&b| b == b'\n').find_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                (&line[..colon] == name).then(|| gid(&line[colon + 1..]))
            });
            found.map_or(Lookup::Absent, Lookup::User)
        }
        Ok(None) => Lookup::Done(cannot_look(
            &text,
            &std::io::Error::new(std::io::ErrorKind::FileTooLarge, "too large to read"),
            options,
        )),
        Err(e) => Lookup::Done(cannot_look(&text, &e, options)),
    }
}

/// A user row of the SQL backend, as vmysql's vauth_getpw selects it.
fn sql_user<S: System>(
    sys: &mut S,
    conf: &[u8],
    name: &[u8],
    domain: &[u8],
    many_domains: bool,
    options: &Options,
) -> Lookup {
    match sys.vpopmail_sql(
        conf,
        &SqlQuestion::User {
            name,
            domain,
            many_domains,
        },
    ) {
        Ok(SqlAnswer::User(Some(gid))) => Lookup::User(gid),
        Ok(_) => Lookup::Absent,
        Err(e) => Lookup::Done(sql_failed(conf, &e, options)),
    }
}

/// A question the database could not answer: 451 (or accepted), except
/// where the SQL client is not installed, and the backend is not checked.
fn sql_failed(conf: &[u8], e: &std::io::Error, options: &Options) -> Run {
    if e.kind() == std::io::ErrorKind::Unsupported {
        return Run::Delivers(format!("{e}: not checked"));
    }
    if options.fail_accept {
        return Run::Delivers(format!(
            "unable to ask vpopmail's MySQL database ({}): {e} (DOTQMAILFAIL=accept)",
            show(conf)
        ));
    }
    Run::Verdict(super::Verdict::Defer(super::Deferral::Database {
        conf: conf.to_vec(),
        reason: e.to_string(),
    }))
}

/// vdelivermail's process_valias: a valias row for the name, for each
/// `PREFIX-default` of it (longest first), or for the name up to its
/// first `-` (QMAIL_EXT) delivers the message.
fn valias<S: System>(
    sys: &mut S,
    conf: &[u8],
    user: &[u8],
    base: &[u8],
    domain: &[u8],
    options: &Options,
) -> Option<Run> {
    let mut aliases = vec![user.to_vec()];
    for i in (1..=user.len()).rev() {
        if user[i - 1] == b'-' {
            aliases.push([&user[..i], b"default"].concat());
        }
    }
    if base != user {
        aliases.push(base.to_vec());
    }
    for alias in &aliases {
        match sys.vpopmail_sql(conf, &SqlQuestion::Valias { alias, domain }) {
            Ok(SqlAnswer::Valias(true)) => {
                return Some(Run::Delivers(format!(
                    "valias {}@{} ({})",
                    show(alias),
                    show(domain),
                    show(conf)
                )));
            }
            Ok(_) => {}
            Err(e) => return Some(sql_failed(conf, &e, options)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpopmail_character_rules() {
        assert!(username_valid(b"joe.bloggs-1+x"));
        assert!(username_valid(b""));
        assert!(!username_valid(b"joe@x"));
        assert!(!username_valid(b"a b"));
        assert!(
            username_valid(b"a/b"),
            "'/' (47) is among vpopmail's 45..=57"
        );
        assert!(domain_valid(b"example.com"));
        assert!(!domain_valid(b"ex_ample.com"));
        assert_eq!(atoi(b"89"), 89);
        assert_eq!(atoi(b"16x"), 16);
        assert_eq!(atoi(b""), 0);
    }
}
