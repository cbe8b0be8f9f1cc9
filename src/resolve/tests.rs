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
    std::path::Path::new("/nonexistent")
        .join(format!("resolve-{tag}-absent"))
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
            a.check(addr.as_bytes(), &mut Vec::new()),
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
}

#[test]
fn accept_all_accepts() {
    assert_eq!(
        AcceptAll.check(b"nobody@example.com", &mut Vec::new()),
        Verdict::Accept
    );
}

/// A vpopmail host: example.net is a virtual domain whose users/cdb
/// record points at its directory, with vpopmail's .qmail-default, an
/// alias .qmail file and a vpasswd.cdb; alias.net is an alias domain of it
/// (vaddaliasdomain); catch.net has a catch-all; ff.example forwards
/// through fastforward.
mod catchalls {
    use super::*;

    const VP: u32 = 89;
    const DIR: &str = "/home/vpopmail/domains/example.net";
    const VDM: &str = "| /home/vpopmail/bin/vdelivermail '' bounce-no-mailbox\n";

    fn vrouting() -> Routing {
        Routing::new(
            b"example.com".to_vec(),
            lines(&["example.com"]),
            lines(&[]),
            lines(&[
                "example.net:example.net",
                "alias.net:alias.net",
                "catch.net:catch.net",
            ]),
        )
    }

    /// The directory (removed when dropped) and its users/cdb.
    fn users_cdb(tag: &str) -> (crate::testdir::TempDir, std::path::PathBuf) {
        let dir = tempdir(tag);
        let path = dir.join("cdb");
        let assign = [
            format!("+example.net-:example.net:{VP}:{VP}:{DIR}:-::"),
            format!("+alias.net-:example.net:{VP}:{VP}:{DIR}:-::"),
            format!("+catch.net-:catch.net:{VP}:{VP}:/home/vpopmail/domains/catch.net:-::"),
        ];
        let assign: Vec<&[u8]> = assign.iter().map(|l| l.as_bytes()).collect();
        newu(&path, &assign);
        (dir, path)
    }

    /// The fake's users/cdb as the vpopmail code reads it (vget_assign).
    fn vget_assign_records() -> Vec<(Vec<u8>, Vec<u8>)> {
        [("example.net", DIR), ("alias.net", DIR)]
            .iter()
            .map(|(d, dir)| {
                (
                    format!("!{d}-").into_bytes(),
                    format!("example.net\0{VP}\0{VP}\0{dir}\0-\0").into_bytes(),
                )
            })
            .collect()
    }

    fn vfake() -> Fake {
        let assign = vget_assign_records();
        let assign: Vec<(&[u8], &[u8])> = assign.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        Fake::new()
            .entry(DIR, Stat::dir(VP, 0o700))
            .entry("/home/vpopmail/bin/vdelivermail", Stat::file(VP, 0o755))
            .text(&format!("{DIR}/.qmail-default"), VP, VDM)
            .text(&format!("{DIR}/.qmail-sales"), VP, "&joe@example.net\n")
            .cdb("users/cdb", &assign)
            .cdb(
                &format!("{DIR}/vpasswd.cdb"),
                &[
                    (b"joe", b"$1$x:1:0:Joe:/d/joe:NOQUOTA:x"),
                    (b"locked", b"$1$x:1:16:L:/d/l:NOQUOTA:x"),
                ],
            )
            .entry("/home/vpopmail/domains/catch.net", Stat::dir(VP, 0o700))
            .text(
                "/home/vpopmail/domains/catch.net/.qmail-default",
                VP,
                "| /home/vpopmail/bin/vdelivermail '' postmaster@catch.net\n",
            )
    }

    fn v(r: &mut Resolver<Fake>, addr: &str) -> Verdict {
        r.explain_steps(addr.as_bytes()).1
    }

    #[test]
    fn vdelivermail_bounce_no_mailbox() {
        let (_dir, cdb) = users_cdb("vpop");
        let mut r = Resolver::with_users_cdb(vrouting(), vfake(), &cdb);
        assert_eq!(v(&mut r, "joe@example.net"), Verdict::Accept);
        assert_eq!(v(&mut r, "JOE@Example.NET"), Verdict::Accept);
        assert_eq!(
            v(&mut r, "sales@example.net"),
            Verdict::Accept,
            "alias file"
        );
        assert_eq!(v(&mut r, "joe@alias.net"), Verdict::Accept, "alias domain");
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Unknown);
        assert_eq!(v(&mut r, "nobody@alias.net"), Verdict::Unknown);
        assert_eq!(
            v(&mut r, "locked@example.net"),
            Verdict::Unknown,
            "BOUNCE_MAIL"
        );
        // Without vpopmail_config.h the check assumes --enable-qmail-ext.
        assert_eq!(v(&mut r, "joe-foo@example.net"), Verdict::Accept);
        assert_eq!(v(&mut r, "anyone@catch.net"), Verdict::Accept, "catch-all");
        // Before the catch-all: names vpopmail never allows bounce.
        assert_eq!(v(&mut r, "a:b@catch.net"), Verdict::Unknown);
        let (steps, _) = r.explain_steps(b"nobody@example.net");
        assert!(
            steps.iter().any(|s| s.to_string().contains(
                "vdelivermail bounce-no-mailbox: no vpopmail user nobody@example.net \
                 (/home/vpopmail/domains/example.net/vpasswd.cdb): qmail-local bounces"
            )),
            "{steps:#?}"
        );
    }

    #[test]
    fn qmail_ext_as_vpopmail_was_built() {
        let (_dir, cdb) = users_cdb("vpop-ext");
        let f = vfake().text(
            "/home/vpopmail/include/vpopmail_config.h",
            0,
            "/* config.h */\n#define VALIAS 1\n",
        );
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "joe-foo@example.net"), Verdict::Unknown);
        let f = vfake().text(
            "/home/vpopmail/include/vpopmail_config.h",
            0,
            "#define QMAIL_EXT 1\n",
        );
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "joe-foo@example.net"), Verdict::Accept);
        assert_eq!(v(&mut r, "bob-foo@example.net"), Verdict::Unknown);
    }

    #[test]
    fn a_database_the_check_cannot_read_is_never_a_550() {
        let (_dir, cdb) = users_cdb("vpop-fail");
        let f = vfake().cdb_error(&format!("{DIR}/vpasswd.cdb"), libc::EACCES);
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert!(matches!(
            v(&mut r, "nobody@example.net"),
            Verdict::Defer(Deferral::CannotLook { .. })
        ));
        assert!(matches!(
            v(&mut r, "joe@example.net"),
            Verdict::Defer(Deferral::CannotLook { .. })
        ));
        let f = vfake().cdb_error(&format!("{DIR}/vpasswd.cdb"), libc::EACCES);
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb).with_options(Options {
            fail_accept: true,
            ..Options::default()
        });
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Accept);
        // The .qmail-default itself unreadable: accepted, as without this layer.
        let f = vfake().read_error(&format!("{DIR}/.qmail-default"), libc::EACCES);
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Accept);
        // No vpasswd.cdb and no vpasswd: another backend, accepted.
        let mut f = vfake();
        f.remove_cdb(&format!("{DIR}/vpasswd.cdb"));
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Accept);
        // ... but with vpasswd there, vdelivermail would build the cdb from
        // it: the check reads it instead.
        let mut f = vfake().text(
            &format!("{DIR}/vpasswd"),
            VP,
            "joe:$1$x:1:0:Joe:/d/joe:NOQUOTA:x\nlocked:$1$x:1:16:L:/d/l:NOQUOTA:x\n",
        );
        f.remove_cdb(&format!("{DIR}/vpasswd.cdb"));
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "joe@example.net"), Verdict::Accept);
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Unknown);
        assert_eq!(v(&mut r, "locked@example.net"), Verdict::Unknown);
        let mut f = vfake()
            .file(&format!("{DIR}/vpasswd"), VP)
            .read_error(&format!("{DIR}/vpasswd"), libc::EACCES);
        f.remove_cdb(&format!("{DIR}/vpasswd.cdb"));
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert!(matches!(
            v(&mut r, "joe@example.net"),
            Verdict::Defer(Deferral::CannotLook { .. })
        ));
    }

    #[test]
    fn vdelivermail_syntax_and_missing_domain_records() {
        let (_dir, cdb) = users_cdb("vpop-syntax");
        let f = vfake().text(
            &format!("{DIR}/.qmail-default"),
            VP,
            "| /home/vpopmail/bin/vdelivermail bounce-no-mailbox\n",
        );
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert!(matches!(
            v(&mut r, "joe@example.net"),
            Verdict::Defer(Deferral::ProgramDefers { .. })
        ));
        // A domain routed to vpopmail's directory without its users/cdb
        // record: vget_assign fails and vdelivermail finds nobody.
        let mut f = vfake();
        f.remove_cdb("users/cdb");
        let f = f.cdb("users/cdb", &[]);
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        assert_eq!(v(&mut r, "joe@example.net"), Verdict::Unknown);
    }

    #[test]
    fn nodotqmail_turns_the_layer_off() {
        let (_dir, cdb) = users_cdb("vpop-off");
        let mut r = Resolver::with_users_cdb(vrouting(), vfake(), &cdb).with_options(Options {
            dotqmail: false,
            ..Options::default()
        });
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Accept);
        assert!(
            !r.system()
                .read_asked
                .iter()
                .any(|p| p.ends_with(b".qmail-default") || p.ends_with(b"vpasswd.cdb")),
            "{:?}",
            r.system().read_asked
        );
    }

    fn joe_with(file: &str, contents: &str) -> Resolver<Fake> {
        let f = fake().text(&format!("/home/joe/{file}"), 5001, contents);
        Resolver::with_users_cdb(routing(), f, no_cdb("dotqmail"))
    }

    #[test]
    fn bouncesaying() {
        let with_bin = |r: Resolver<Fake>| r;
        let mut r = with_bin(joe_with(
            ".qmail-gone",
            "|bouncesaying 'This address is gone.'\n",
        ));
        // bouncesaying is not where qmail's PATH would find it: accepted.
        assert_eq!(verdict(&mut r, "joe-gone@example.com"), Verdict::Accept);
        let f = fake()
            .file("bin/bouncesaying", 0)
            .text(
                "/home/joe/.qmail-gone",
                5001,
                "|bouncesaying 'This address is gone.'\n",
            )
            .text(
                "/home/joe/.qmail-cond",
                5001,
                "|bouncesaying 'No.' condredirect x\n",
            )
            .text(
                "/home/joe/.qmail-after",
                5001,
                "./Maildir/\n|bouncesaying 'No.'\n",
            )
            .text(
                "/home/joe/.qmail-fwd",
                5001,
                "# note\n&x@y\n|bouncesaying 'No.'\n",
            )
            .text("/home/joe/.qmail-shell", 5001, "|bouncesaying \"$X\"\n");
        let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("bouncesaying"));
        assert_eq!(verdict(&mut r, "joe-gone@example.com"), Verdict::Unknown);
        assert_eq!(verdict(&mut r, "joe-cond@example.com"), Verdict::Accept);
        assert_eq!(verdict(&mut r, "joe-after@example.com"), Verdict::Accept);
        assert_eq!(verdict(&mut r, "joe-fwd@example.com"), Verdict::Unknown);
        assert_eq!(verdict(&mut r, "joe-shell@example.com"), Verdict::Accept);
    }

    #[test]
    fn qmail_local_content_deferrals() {
        let mut r = joe_with(".qmail-blank", "\n./Maildir/\n");
        assert!(matches!(
            verdict(&mut r, "joe-blank@example.com"),
            Verdict::Defer(Deferral::FirstLineBlank { .. })
        ));
        let f = fake()
            .entry("/home/joe/.qmail-x", Stat::file(5001, 0o744))
            .text("/home/joe/.qmail-list", 5001, "+list\n&a@b\n|true\n");
        let mut r = Resolver::with_users_cdb(routing(), f, no_cdb("xbit"));
        // An empty file with the x bit: the default delivery (aliasempty,
        // which resets forward-only).
        assert_eq!(verdict(&mut r, "joe-x@example.com"), Verdict::Accept);
        assert!(matches!(
            verdict(&mut r, "joe-list@example.com"),
            Verdict::Defer(Deferral::ForwardOnly { .. })
        ));
    }

    #[test]
    fn fastforward() {
        let f = Fake::new()
            .user("alias", 7790, "/var/qmail/alias")
            .file("/usr/bin/fastforward", 0)
            .text(
                "/var/qmail/alias/.qmail-default",
                7790,
                "| fastforward -d /etc/aliases.cdb\n",
            )
            .text(
                "/var/qmail/alias/.qmail-p-default",
                7790,
                "|fastforward -p /etc/aliases.cdb\n./Maildir/\n",
            )
            .cdb(
                "/etc/aliases.cdb",
                &[
                    (b":postmaster@example.com", b"&root\0"),
                    (b":@localhost", b"&x\0"),
                    (b":webmaster@", b"&y\0"),
                ],
            );
        let routing = Routing::new(
            b"example.com".to_vec(),
            lines(&["example.com", "localhost"]),
            lines(&[]),
            lines(&[]),
        );
        let mut r = Resolver::with_users_cdb(routing, f, no_cdb("fastforward"));
        assert_eq!(verdict(&mut r, "PostMaster@example.com"), Verdict::Accept);
        assert_eq!(
            verdict(&mut r, "anyone@localhost"),
            Verdict::Accept,
            ":@host"
        );
        assert_eq!(
            verdict(&mut r, "webmaster@example.com"),
            Verdict::Accept,
            ":user@"
        );
        assert_eq!(verdict(&mut r, "nobody@example.com"), Verdict::Unknown);
        // -p: a miss goes on to the next line, which delivers.
        assert_eq!(verdict(&mut r, "p-nobody@example.com"), Verdict::Accept);
        let (steps, _) = r.explain_steps(b"nobody@example.com");
        assert!(
            steps.iter().any(|s| s.to_string().contains(
                "fastforward: no entry for nobody@example.com in /etc/aliases.cdb: qmail-local bounces"
            )),
            "{steps:#?}"
        );
    }
}

/// vpopmail with the MySQL backend: the same domain, its users in the
/// database (as the fake's tables) instead of vpasswd.cdb.
mod vpopmail_sql {
    use super::*;

    const VP: u32 = 89;
    const DIR: &str = "/home/vpopmail/domains/example.net";

    fn sql_fake() -> Fake {
        let assign = [
            (
                b"!example.net-".to_vec(),
                format!("example.net\0{VP}\0{VP}\0{DIR}\0-\0").into_bytes(),
            ),
            (
                b"!alias.net-".to_vec(),
                format!("example.net\0{VP}\0{VP}\0{DIR}\0-\0").into_bytes(),
            ),
        ];
        let assign: Vec<(&[u8], &[u8])> = assign.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let mut f = Fake::new()
            .entry(DIR, Stat::dir(VP, 0o700))
            .entry("/home/vpopmail/bin/vdelivermail", Stat::file(VP, 0o755))
            .file("/home/vpopmail/etc/vpopmail.mysql", VP)
            .text(
                &format!("{DIR}/.qmail-default"),
                VP,
                "| /home/vpopmail/bin/vdelivermail '' bounce-no-mailbox\n",
            )
            .cdb("users/cdb", &assign);
        f.sql_users
            .insert((b"joe".to_vec(), b"example.net".to_vec()), 0);
        f.sql_users
            .insert((b"locked".to_vec(), b"example.net".to_vec()), 0x10);
        f.valias.push((b"sales".to_vec(), b"example.net".to_vec()));
        f.valias
            .push((b"list-default".to_vec(), b"example.net".to_vec()));
        f
    }

    fn vrouting() -> Routing {
        Routing::new(
            b"example.com".to_vec(),
            lines(&["example.com"]),
            lines(&[]),
            lines(&["example.net:example.net", "alias.net:alias.net"]),
        )
    }

    /// The directory (removed when dropped) and its users/cdb.
    fn users_cdb(tag: &str) -> (crate::testdir::TempDir, std::path::PathBuf) {
        let dir = tempdir(tag);
        let path = dir.join("cdb");
        let a = format!("+example.net-:example.net:{VP}:{VP}:{DIR}:-::");
        let b = format!("+alias.net-:example.net:{VP}:{VP}:{DIR}:-::");
        newu(&path, &[a.as_bytes(), b.as_bytes()]);
        (dir, path)
    }

    #[test]
    fn users_valiases_alias_domains_and_a_database_that_is_down() {
        let (_dir, cdb) = users_cdb("vpop-sql");
        let mut r = Resolver::with_users_cdb(vrouting(), sql_fake(), &cdb);
        let v = |r: &mut Resolver<Fake>, a: &str| r.explain_steps(a.as_bytes()).1;
        assert_eq!(v(&mut r, "joe@example.net"), Verdict::Accept);
        assert_eq!(
            v(&mut r, "Joe@alias.net"),
            Verdict::Accept,
            "real domain asked"
        );
        assert_eq!(v(&mut r, "sales@example.net"), Verdict::Accept, "valias");
        assert_eq!(
            v(&mut r, "list-x-y@example.net"),
            Verdict::Accept,
            "valias -default"
        );
        assert_eq!(v(&mut r, "nobody@example.net"), Verdict::Unknown);
        assert_eq!(v(&mut r, "locked@example.net"), Verdict::Unknown);
        assert!(
            r.system()
                .sql_asked
                .iter()
                .any(|q| q.contains("User { name: [106, 111, 101], domain: [101, 120, 97, 109, 112, 108, 101, 46, 110, 101, 116]")),
            "{:?}",
            r.system().sql_asked
        );
        let mut f = sql_fake();
        f.sql_down = true;
        let mut r = Resolver::with_users_cdb(vrouting(), f, &cdb);
        for a in ["joe@example.net", "nobody@example.net"] {
            assert!(
                matches!(v(&mut r, a), Verdict::Defer(Deferral::Database { .. })),
                "{a}: a database that is down is never a 550"
            );
        }
    }
}
