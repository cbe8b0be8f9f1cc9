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
//! cannot be read: 451 (or accepted with `DOTQMAILFAIL=accept`). A domain
//! without vpasswd.cdb and without the `vpasswd` file it is built from
//! uses another backend (MySQL): not checked, accepted.

use super::dotqmail::{Run, cannot_look};
use super::{Delivery, Options, System};

const BOUNCE_ALL: &[u8] = b"bounce-no-mailbox";
const DELETE_ALL: &[u8] = b"delete";
/// vpopmail.h's BOUNCE_MAIL bit of a user's gid field.
const BOUNCE_MAIL: u32 = 0x10;

/// vpopmail's `is_username_valid`: the bytes it allows in a user name.
fn username_valid(user: &[u8]) -> bool {
    user.iter().all(
        |&c| matches!(c, 33 | 35 | 36 | 38 | 39 | 42 | 43 | 45..=57 | 61 | 63 | 65..=90 | 94..=126),
    )
}

/// vpopmail's `is_domain_valid`.
fn domain_valid(domain: &[u8]) -> bool {
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

pub fn vdelivermail<S: System>(
    sys: &mut S,
    d: &Delivery,
    program: &[u8],
    args: &[Vec<u8>],
    options: &Options,
) -> Run {
    if args.len() != 2 {
        return Run::Delivers("vdelivermail with other than two arguments (it defers)".into());
    }
    let bounce = &args[1];
    if bounce != BOUNCE_ALL && bounce != DELETE_ALL {
        return Run::Delivers(format!("vdelivermail catch-all to {}", show(bounce)));
    }
    let user = d.ext.to_ascii_lowercase();
    let domain = d.host.to_ascii_lowercase();
    if !username_valid(&user) {
        return Run::Bounces(format!("vdelivermail: invalid username {}", show(&user)));
    }
    if !domain_valid(&domain) {
        return Run::Bounces(format!(
            "vdelivermail: invalid domain name {}",
            show(&domain)
        ));
    }
    let qmail_ext = qmail_ext(sys, program);
    let base: &[u8] = match user.iter().position(|&b| b == b'-') {
        Some(i) if qmail_ext => &user[..i],
        _ => &user,
    };
    if qmail_ext && !username_valid(base) {
        return Run::Bounces(format!("vdelivermail: invalid username {}", show(base)));
    }

    // vget_assign: the domain's directory from qmail's users/cdb.
    let mut key = b"!".to_vec();
    key.extend_from_slice(&domain);
    key.push(b'-');
    let dir = match sys.cdb_get(b"users/cdb", &key) {
        Ok(Some(value)) => match value.split(|&b| b == 0).nth(3) {
            Some(dir) => dir.to_vec(),
            None => return Run::Delivers("users/cdb record for the domain too short".into()),
        },
        Ok(None) => {
            return Run::Delivers(format!(
                "no users/cdb record \"!{}-\" for vdelivermail to find the domain by",
                show(&domain)
            ));
        }
        Err(e) => return cannot_look(b"users/cdb", &e, options),
    };
    let mut cdb = dir.clone();
    cdb.extend_from_slice(b"/vpasswd.cdb");

    let mut names = vec![&user[..]];
    if base != &user[..] {
        names.push(base);
    }
    for name in names {
        match sys.cdb_get(&cdb, name) {
            Ok(Some(data)) => {
                let gid = data.split(|&b| b == b':').nth(2).map_or(0, atoi);
                let who = format!("vpopmail user {}@{}", show(name), show(&domain));
                return if gid & BOUNCE_MAIL != 0 {
                    Run::Bounces(format!("{who} is locked (BOUNCE_MAIL)"))
                } else {
                    Run::Delivers(format!("{who} exists in {}", show(&cdb)))
                };
            }
            Ok(None) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut text = dir.clone();
                text.extend_from_slice(b"/vpasswd");
                if sys.stat(&text).is_err() {
                    return Run::Delivers(format!(
                        "{} has no vpasswd.cdb or vpasswd: another vpopmail backend, not checked",
                        show(&dir)
                    ));
                }
                return cannot_look(&cdb, &e, options);
            }
            Err(e) => return cannot_look(&cdb, &e, options),
        }
    }
    let what = if bounce == BOUNCE_ALL {
        "bounce-no-mailbox"
    } else {
        "delete (qmail would discard the message)"
    };
    Run::Bounces(format!(
        "vdelivermail {what}: no vpopmail user {}@{} in {}",
        show(&user),
        show(&domain),
        show(&cdb)
    ))
}

/// Whether vdelivermail was built with --enable-qmail-ext: its
/// vpopmail_config.h (installed beside bin/, in include/) says. When it
/// cannot be read, assume so: the more accepting reading.
fn qmail_ext<S: System>(sys: &mut S, program: &[u8]) -> bool {
    let Some(slash) = program.iter().rposition(|&b| b == b'/') else {
        return true;
    };
    let bindir = &program[..slash];
    let Some(slash) = bindir.iter().rposition(|&b| b == b'/') else {
        return true;
    };
    let mut config = bindir[..slash].to_vec();
    config.extend_from_slice(b"/include/vpopmail_config.h");
    match sys.read_small(&config, 64 * 1024) {
        Ok(Some(text)) => text
            .split(|&b| b == b'\n')
            .any(|l| l.starts_with(b"#define QMAIL_EXT ")),
        _ => true,
    }
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
