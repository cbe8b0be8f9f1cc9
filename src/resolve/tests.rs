//! The whole check, address to verdict, with a fake system and real
//! users/cdb files.

use super::fake::Fake;
use super::users_cdb::tests::{newu, tempdir, write_cdb};
use super::*;
use nix::libc;

fn lines(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn routing() -> Routing {
    Routing::new(
        b"example.com".to_vec(),
        lines(&["example.com", "localhost"]),
        lines(&["gw.example.com"]),
        lines(&["virt.example:vu", "shop.example:", ".sub.example:su"]),
    )
}

/// A users/cdb path that does not exist (its directory is never created).
fn no_cdb(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!("resolve-{tag}-{}-absent", std::process::id()))
        .join("cdb")
}

fn fake() -> Fake {
    Fake::new()
        .user("joe", 5001, "/home/joe")
        .user("vu", 5002, "/home/vu")
        .alias("/var/qmail/alias")
        .file("/home/joe/.qmail-list", 5001)
        .file("/home/vu/.qmail-default", 5002)
        .file("/var/qmail/alias/.qmail-postmaster", 7790)
}

fn verdict(r: &mut Resolver<Fake>, addr: &str) -> Verdict {
    r.explain_steps(addr.as_bytes()).1
}

#[test]
fn local_users() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-local"));
    assert_eq!(verdict(&mut r, "joe@example.com"), Verdict::Accept);
    assert_eq!(verdict(&mut r, "JOE@EXAMPLE.COM"), Verdict::Accept);
    assert_eq!(
        verdict(&mut r, "joe"),
        Verdict::Accept,
        "envnoathost is local"
    );
    assert_eq!(verdict(&mut r, "joe-list@example.com"), Verdict::Accept);
    assert_eq!(verdict(&mut r, "joe-lust@example.com"), Verdict::Unknown);
    assert_eq!(verdict(&mut r, "joe-@example.com"), Verdict::Unknown);
    assert_eq!(
        verdict(&mut r, "postmaster@localhost"),
        Verdict::Accept,
        "through alias"
    );
    assert_eq!(verdict(&mut r, "nobody@example.com"), Verdict::Unknown);
    assert_eq!(
        verdict(&mut r, "joe%example.com@gw.example.com"),
        Verdict::Accept
    );
    assert_eq!(
        verdict(&mut r, "nobody%example.com@gw.example.com"),
        Verdict::Unknown
    );
}

#[test]
fn remote_and_virtual() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-virtual"));
    assert_eq!(verdict(&mut r, "anyone@elsewhere.org"), Verdict::Accept);
    assert_eq!(
        verdict(&mut r, "anyone@shop.example"),
        Verdict::Accept,
        "exception"
    );
    assert_eq!(
        verdict(&mut r, "anyone@virt.example"),
        Verdict::Accept,
        "vu's .qmail-default"
    );
    // ".sub.example" maps to "su", which is nobody: alias has no .qmail-su-x.
    assert_eq!(verdict(&mut r, "x@a.sub.example"), Verdict::Unknown);
    assert!(
        r.system()
            .stat_asked
            .contains(&b"/var/qmail/alias/.qmail-su-x".to_vec())
    );
}

#[test]
fn explain_reports_every_step_in_order() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-explain"));
    let (steps, v) = r.explain_steps(b"Joe-Lust@example.com");
    assert_eq!(v, Verdict::Unknown);
    assert_eq!(
        steps,
        vec![
            Step::Rewritten {
                address: b"Joe-Lust@example.com".to_vec()
            },
            Step::LocalDomain {
                domain: b"example.com".to_vec(),
                local: b"Joe-Lust".to_vec()
            },
            Step::UsersCdbAbsent,
            Step::Passwd {
                name: b"joe-lust".to_vec(),
                answer: PwAnswer::NoSuchUser
            },
            Step::Passwd {
                name: b"joe".to_vec(),
                answer: PwAnswer::Chosen {
                    uid: 5001,
                    home: b"/home/joe".to_vec(),
                    dash: b"-".to_vec(),
                    ext: b"Lust".to_vec()
                }
            },
            Step::HomeOk {
                home: b"/home/joe".to_vec()
            },
            Step::Qmail {
                path: b"/home/joe/.qmail-lust".to_vec(),
                answer: QmailAnswer::Absent
            },
            Step::Qmail {
                path: b"/home/joe/.qmail-default".to_vec(),
                answer: QmailAnswer::Absent
            },
            Step::NoQmailFile,
        ]
    );
}

#[test]
fn users_cdb_comes_before_passwd() {
    let dir = tempdir("e2e-cdb");
    let path = dir.join("cdb");
    newu(
        &path,
        &[
            b"=joe:joe:5001:5001:/srv/joe:::",
            b"+list-:vu:5002:5002:/srv/lists:-::",
        ],
    );
    let f = fake()
        .entry("/srv/joe", Stat::dir(5001, 0o755))
        .entry("/srv/lists", Stat::dir(5002, 0o755))
        .file("/srv/lists/.qmail-a-default", 5002);
    let mut r = Resolver::with_users_cdb(routing(), f, &path);
    // Exact record with empty dash: default delivery, never asks passwd.
    assert_eq!(verdict(&mut r, "joe@example.com"), Verdict::Accept);
    assert_eq!(verdict(&mut r, "list-a-b@example.com"), Verdict::Accept);
    assert_eq!(verdict(&mut r, "list-b@example.com"), Verdict::Unknown);
    assert!(r.system().pw_asked.is_empty(), "{:?}", r.system().pw_asked);
    // Not in users/cdb: on to passwd.
    assert_eq!(verdict(&mut r, "joe-list@example.com"), Verdict::Accept);
    assert_eq!(
        r.system().pw_asked,
        [b"joe-list".to_vec(), b"joe".to_vec(), b"qmailp".to_vec()]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn users_cdb_trouble_and_short_records() {
    let dir = tempdir("e2e-cdbtrouble");
    let path = dir.join("cdb");
    write_cdb(&path, &[(b"!joe\0".to_vec(), b"joe".to_vec())]);
    let mut r = Resolver::with_users_cdb(routing(), fake(), &path);
    assert_eq!(
        verdict(&mut r, "joe@example.com"),
        Verdict::CdbTrouble,
        "no wildchars record"
    );
    // Remote addresses never touch users/cdb.
    assert_eq!(verdict(&mut r, "x@remote.example"), Verdict::Accept);
    write_cdb(
        &path,
        &[
            (b"!joe\0".to_vec(), b"joe".to_vec()),
            (Vec::new(), Vec::new()),
        ],
    );
    let mut r = Resolver::with_users_cdb(routing(), fake(), &path);
    assert_eq!(
        verdict(&mut r, "joe@example.com"),
        Verdict::Defer(Deferral::ShortRecord {
            key: b"!joe\0".to_vec()
        }),
        "short record: qmail-lspawn's Internal qmail-lspawn bug."
    );
    assert_eq!(verdict(&mut r, "nobody@example.com"), Verdict::Unknown);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn system_trouble() {
    let f = fake().pw_error("bad-x", libc::EIO);
    let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("e2e-systrouble"));
    assert_eq!(verdict(&mut r, "bad-x@example.com"), Verdict::SysTrouble);
    let f = fake().stat_error("/home/joe", libc::EIO);
    let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("e2e-systrouble2"));
    assert_eq!(verdict(&mut r, "joe-x@example.com"), Verdict::SysTrouble);
}

#[test]
fn home_qmail_getpw_cannot_stat_is_no_match_with_a_log_line() {
    // /home is closed to qmailp (and to the check): qmail-getpw skips joe.
    let f = fake()
        .user("qmailp", 7791, "/var/qmail")
        .entry("/home", Stat::dir(0, 0o700))
        .stat_error("/home/joe", libc::EACCES);
    let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("e2e-eacces"));
    let (steps, v) = r.explain_steps(b"joe-nothing@example.com");
    assert_eq!(v, Verdict::Unknown, "on to alias, which has no such file");
    assert!(
        steps.contains(&Step::Alias {
            home: Some(b"/var/qmail/alias".to_vec()),
            ext: b"joe-nothing".to_vec()
        }),
        "{steps:?}"
    );
    let logs: Vec<_> = steps
        .iter()
        .filter_map(|s| {
            if let Step::Log(l) = s {
                Some(l.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(logs, [b"unable to stat /home/joe: access denied".to_vec()]);
}

#[test]
fn nul_is_looked_up_as_lf() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-nul"));
    let (steps, v) = r.explain_steps(b"joe-a\0b@example.com");
    assert_eq!(v, Verdict::Unknown);
    assert_eq!(
        steps[0],
        Step::Rewritten {
            address: b"joe-a\nb@example.com".to_vec()
        }
    );
    assert!(
        r.system()
            .stat_asked
            .contains(&b"/home/joe/.qmail-a\nb".to_vec())
    );
}

/// Every path the check stats is a home directory from passwd or a
/// `.qmail` name inside one (no `..` component, no NUL), whatever the
/// local part holds.
#[test]
fn hostile_local_parts_stay_inside_the_home() {
    let homes: &[&[u8]] = &[b"/home/joe", b"/home/vu", b"/var/qmail/alias"];
    let long = "y".repeat(300);
    let hostile: Vec<Vec<u8>> = vec![
        b"../x".to_vec(),
        b"../../../../etc/passwd".to_vec(),
        b"joe-../../etc/shadow".to_vec(),
        b"joe-a/b".to_vec(),
        b"a/b".to_vec(),
        b"/etc/passwd".to_vec(),
        b"joe-/".to_vec(),
        b"..".to_vec(),
        b"joe-..".to_vec(),
        b".qmail".to_vec(),
        b"joe-\0/../x".to_vec(),
        b"\0".to_vec(),
        b"joe-\xff\xfe/..".to_vec(),
        b"\xc3\xa9l\xc3\xa8ve".to_vec(),
        long.as_bytes().to_vec(),
        format!("joe-{long}").into_bytes(),
        format!("joe-{long}/x-y").into_bytes(),
        b"joe-%2e%2e%2fx".to_vec(),
        b"joe-a\\b".to_vec(),
        b"joe\n-x".to_vec(),
    ];
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-hostile"));
    for local in &hostile {
        for domain in [&b"@example.com"[..], b"@virt.example", b""] {
            let mut addr = local.clone();
            addr.extend_from_slice(domain);
            let v = verdict_bytes(&mut r, &addr);
            assert!(
                matches!(v, Verdict::Accept | Verdict::Unknown),
                "{addr:?}: {v:?}"
            );
        }
    }
    let asked = &r.system().stat_asked;
    assert!(!asked.is_empty());
    // The directories above the homes are looked at too (search rights).
    let above: &[&[u8]] = &[b"/", b"/home", b"/var", b"/var/qmail"];
    for path in asked {
        let ok = above.contains(&path.as_slice())
            || homes.iter().any(|home| {
                path == home || {
                    let mut prefix = home.to_vec();
                    prefix.extend_from_slice(b"/.qmail");
                    path.starts_with(&prefix)
                        && !path.split(|&b| b == b'/').any(|c| c == b"..")
                        && !path.contains(&0)
                }
            });
        assert!(ok, "stat outside a home: {}", Show(path));
    }
}

fn verdict_bytes(r: &mut Resolver<Fake>, addr: &[u8]) -> Verdict {
    r.explain_steps(addr).1
}

#[test]
fn dictionary_attack_asks_each_name_once() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-cache"));
    for _ in 0..5 {
        for name in ["a", "b", "joe-x", "joe-y"] {
            assert_eq!(
                verdict(&mut r, &format!("{name}@example.com")),
                Verdict::Unknown
            );
        }
    }
    let pw = &r.system().pw_asked;
    let mut unique = pw.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(pw.len(), unique.len(), "{pw:?}");
    assert_eq!(unique.len(), 7, "a b joe-x joe joe-y alias qmailp: {pw:?}");
    let st = &r.system().stat_asked;
    let mut unique = st.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(st.len(), unique.len(), "{st:?}");
}

#[test]
fn check_is_explain() {
    let mut a = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-same-a"));
    let mut b = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-same-b"));
    for addr in [
        "joe@example.com",
        "x@example.com",
        "joe-list@example.com",
        "x@remote",
        "x@shop.example",
    ] {
        assert_eq!(
            a.check(addr.as_bytes()),
            b.explain_steps(addr.as_bytes()).1,
            "{addr}"
        );
    }
}

#[test]
fn an_empty_local_name_is_delivered_by_qmail_lspawn() {
    let mut r = Resolver::with_users_cdb(routing(), fake(), no_cdb("e2e-empty"));
    let (steps, v) = r.explain_steps(b"@example.com");
    assert_eq!(v, Verdict::Accept);
    assert_eq!(steps.last(), Some(&Step::EmptyLocal));
    assert!(r.system().pw_asked.is_empty());
}

#[test]
fn no_alias_user_defers() {
    let f = Fake::new().user("joe", 5001, "/home/joe");
    let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("e2e-noalias"));
    assert_eq!(
        verdict(&mut r, "nobody@example.com"),
        Verdict::Defer(Deferral::NoAlias)
    );
    // A user who is found still gets an answer of its own.
    assert_eq!(verdict(&mut r, "joe-nope@example.com"), Verdict::Unknown);
}

#[test]
fn users_cdb_deliveries_meet_qmail_local_checks() {
    let dir = tempdir("e2e-cdbhome");
    let path = dir.join("cdb");
    newu(
        &path,
        &[
            b"=gone:g:5001:5001:/srv/gone:-::",
            b"=root:r:0:0:/srv/r:-::",
            b"=nan:n:x:5:/srv/r:-::",
            b"=rel:r:5001:5001:srv/r:-::",
            b"=ok:o:5001:5001:/srv/r:-::",
        ],
    );
    let f = fake()
        .entry("/srv/r", Stat::dir(0, 0o755))
        .file("/srv/r/.qmail-", 0);
    let mut r = Resolver::with_users_cdb(routing(), f, &path);
    assert_eq!(
        verdict(&mut r, "gone@example.com"),
        Verdict::Defer(Deferral::NoHome {
            home: b"/srv/gone".to_vec(),
            errno: Some(libc::ENOENT)
        })
    );
    for (name, user) in [("root", "r"), ("nan", "n")] {
        assert_eq!(
            verdict(&mut r, &format!("{name}@example.com")),
            Verdict::Defer(Deferral::Root {
                user: user.as_bytes().to_vec()
            }),
            "{name}"
        );
    }
    assert_eq!(verdict(&mut r, "rel@example.com"), Verdict::Unknown);
    assert_eq!(verdict(&mut r, "ok@example.com"), Verdict::Accept);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn accept_all_accepts() {
    assert_eq!(AcceptAll.check(b"nobody@example.com"), Verdict::Accept);
}
