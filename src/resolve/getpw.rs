//! qmail-getpw: which system account receives a local name that users/cdb
//! does not assign.
//!
//! Candidates are L and each prefix of L ending just before a `-`, longest
//! first; a candidate must be shorter than 32 bytes (qmail-getpw's buffer)
//! and is lower-cased. The first one that getpwnam knows, whose uid is not
//! 0, and whose home directory exists and belongs to it, wins. Otherwise
//! the mail goes to the user `alias` with the whole of L as extension.
//!
//! Departure from the realrcptto patch: the check runs as qmaild, not root,
//! so `stat(home)` can fail with EACCES where qmail-getpw would succeed.
//! Treating that as "no such home" (as the patch does) would skip a real
//! user and perhaps reject through `alias`; instead we accept the recipient
//! and log `unable to stat HOME: access denied`, the patch's own format for
//! "could not look, accepted".

use super::errstr::{error_str, is_temporary};
use super::{PwAnswer, Step, System};
use nix::libc;

/// qmail-getpw's user name buffer: names must be shorter than this.
pub const GETPW_USERLEN: usize = 32;

/// The user qmail delivers to when no account matches (qmail's
/// `auto_usera`, "alias" in every standard build).
pub const ALIAS_USER: &[u8] = b"alias";

/// What qmail-getpw's search gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Deliver in this home with this dash and extension.
    Home {
        home: Vec<u8>,
        dash: Vec<u8>,
        ext: Vec<u8>,
    },
    /// We cannot check (a home we may not look into): accept.
    Accept,
    /// No account and no `alias` user: the recipient is unknown.
    Unknown,
    /// The user database or a home directory failed temporarily: 421.
    Trouble,
}

pub fn getpw<S: System>(sys: &mut S, local: &[u8], sink: &mut dyn FnMut(Step)) -> Found {
    let candidates = (0..=local.len())
        .rev()
        .filter(|&e| e == local.len() || local[e] == b'-');
    for end in candidates {
        let name = local[..end].to_ascii_lowercase();
        if end >= GETPW_USERLEN {
            sink(Step::Passwd {
                name,
                answer: PwAnswer::TooLong,
            });
            continue;
        }
        // The empty name (L starting with '-') is never a user; qmail-getpw
        // asks anyway, we do not bother the user database.
        let answer = if name.is_empty() {
            Ok(None)
        } else {
            sys.getpwnam(&name)
        };
        let pw = match answer {
            Ok(Some(pw)) => pw,
            Ok(None) => {
                sink(Step::Passwd {
                    name,
                    answer: PwAnswer::NoSuchUser,
                });
                continue;
            }
            Err(e) => {
                sink(Step::Passwd {
                    name,
                    answer: PwAnswer::Trouble {
                        errno: e.raw_os_error(),
                    },
                });
                return Found::Trouble;
            }
        };
        let (uid, home) = (pw.uid, pw.dir);
        if uid == 0 {
            sink(Step::Passwd {
                name,
                answer: PwAnswer::Root { uid },
            });
            continue;
        }
        match sys.stat_uid(&home) {
            Ok(owner) if owner == uid => {
                let (dash, ext) = if end == local.len() {
                    (Vec::new(), Vec::new())
                } else {
                    (b"-".to_vec(), local[end + 1..].to_vec())
                };
                sink(Step::Passwd {
                    name,
                    answer: PwAnswer::Chosen {
                        uid,
                        home: home.clone(),
                        dash: dash.clone(),
                        ext: ext.clone(),
                    },
                });
                return Found::Home { home, dash, ext };
            }
            Ok(owner) => sink(Step::Passwd {
                name,
                answer: PwAnswer::HomeNotOwned { uid, home, owner },
            }),
            Err(e) => match e.raw_os_error() {
                Some(libc::EACCES) => {
                    let mut line = b"unable to stat ".to_vec();
                    line.extend_from_slice(&home);
                    line.extend_from_slice(b": ");
                    line.extend_from_slice(error_str(libc::EACCES).as_bytes());
                    sink(Step::Passwd {
                        name,
                        answer: PwAnswer::HomeDenied { uid, home },
                    });
                    sink(Step::Log(line));
                    return Found::Accept;
                }
                Some(errno) if is_temporary(errno) => {
                    sink(Step::Passwd {
                        name,
                        answer: PwAnswer::HomeTrouble {
                            uid,
                            home,
                            errno: Some(errno),
                        },
                    });
                    return Found::Trouble;
                }
                errno => sink(Step::Passwd {
                    name,
                    answer: PwAnswer::HomeMissing { uid, home, errno },
                }),
            },
        }
    }

    match sys.getpwnam(ALIAS_USER) {
        Ok(Some(pw)) => {
            sink(Step::Alias {
                home: Some(pw.dir.clone()),
                ext: local.to_vec(),
            });
            Found::Home {
                home: pw.dir,
                dash: b"-".to_vec(),
                ext: local.to_vec(),
            }
        }
        Ok(None) => {
            sink(Step::Alias {
                home: None,
                ext: local.to_vec(),
            });
            Found::Unknown
        }
        Err(e) => {
            sink(Step::Passwd {
                name: ALIAS_USER.to_vec(),
                answer: PwAnswer::Trouble {
                    errno: e.raw_os_error(),
                },
            });
            Found::Trouble
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::fake::Fake;

    fn run(fake: &mut Fake, local: &str) -> (Found, Vec<Step>) {
        let mut steps = Vec::new();
        let found = getpw(fake, local.as_bytes(), &mut |s| steps.push(s));
        (found, steps)
    }

    fn home(home: &str, dash: &str, ext: &str) -> Found {
        Found::Home {
            home: home.into(),
            dash: dash.into(),
            ext: ext.into(),
        }
    }

    fn names_asked(fake: &Fake) -> Vec<String> {
        fake.pw_asked
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    #[test]
    fn whole_name_wins_with_empty_dash() {
        let mut f = Fake::new().user("joe", 5001, "/h/joe").alias("/h/alias");
        assert_eq!(run(&mut f, "joe").0, home("/h/joe", "", ""));
        assert_eq!(names_asked(&f), ["joe"]);
    }

    #[test]
    fn longest_candidate_first_and_extension_after_dash() {
        let mut f = Fake::new()
            .user("joe", 5001, "/h/joe")
            .user("joe-list", 5002, "/h/jl")
            .alias("/h/alias");
        assert_eq!(run(&mut f, "joe-list-x-y").0, home("/h/jl", "-", "x-y"));
        assert_eq!(names_asked(&f), ["joe-list-x-y", "joe-list-x", "joe-list"]);
        let mut f = Fake::new().user("joe", 5001, "/h/joe").alias("/h/alias");
        let (found, steps) = run(&mut f, "Joe-Foo");
        assert_eq!(
            found,
            home("/h/joe", "-", "Foo"),
            "extension keeps its case"
        );
        assert_eq!(names_asked(&f), ["joe-foo", "joe"], "names are lower-cased");
        assert_eq!(
            steps,
            vec![
                Step::Passwd {
                    name: b"joe-foo".to_vec(),
                    answer: PwAnswer::NoSuchUser
                },
                Step::Passwd {
                    name: b"joe".to_vec(),
                    answer: PwAnswer::Chosen {
                        uid: 5001,
                        home: b"/h/joe".to_vec(),
                        dash: b"-".to_vec(),
                        ext: b"Foo".to_vec()
                    }
                },
            ]
        );
    }

    #[test]
    fn trailing_dash_gives_empty_extension() {
        let mut f = Fake::new().user("joe", 5001, "/h/joe");
        assert_eq!(run(&mut f, "joe-").0, home("/h/joe", "-", ""));
    }

    #[test]
    fn names_of_32_bytes_or_more_are_never_asked() {
        let n31 = "a".repeat(31);
        let n32 = "b".repeat(32);
        let mut f = Fake::new()
            .user(&n31, 5001, "/h/a")
            .user(&n32, 5002, "/h/b");
        assert_eq!(run(&mut f, &n31).0, home("/h/a", "", ""));
        let (found, steps) = run(&mut f, &format!("{n32}-x"));
        assert_eq!(found, Found::Unknown, "no alias user in this fake");
        assert_eq!(
            steps[0],
            Step::Passwd {
                name: format!("{n32}-x").into_bytes(),
                answer: PwAnswer::TooLong
            }
        );
        assert_eq!(
            steps[1],
            Step::Passwd {
                name: n32.clone().into_bytes(),
                answer: PwAnswer::TooLong
            }
        );
        assert!(!names_asked(&f).contains(&n32));
    }

    #[test]
    fn uid_0_is_skipped() {
        let mut f = Fake::new().user("root", 0, "/root").alias("/h/alias");
        let (found, steps) = run(&mut f, "root");
        assert_eq!(found, home("/h/alias", "-", "root"));
        assert_eq!(
            steps[0],
            Step::Passwd {
                name: b"root".to_vec(),
                answer: PwAnswer::Root { uid: 0 }
            }
        );
        assert!(f.stat_asked.is_empty(), "root's home is never looked at");
    }

    #[test]
    fn home_must_exist_and_belong_to_the_user() {
        let mut f = Fake::new()
            .user("joe", 5001, "/h/joe")
            .user("ann", 5002, "/h/ann")
            .user("bob", 5003, "/h/bob")
            .alias("/h/alias")
            .file("/h/joe", 5001)
            .file("/h/ann", 9999);
        f.remove_file("/h/bob");
        assert_eq!(run(&mut f, "joe-x").0, home("/h/joe", "-", "x"));
        let (found, steps) = run(&mut f, "ann-x");
        assert_eq!(found, home("/h/alias", "-", "ann-x"));
        assert_eq!(
            steps[1],
            Step::Passwd {
                name: b"ann".to_vec(),
                answer: PwAnswer::HomeNotOwned {
                    uid: 5002,
                    home: b"/h/ann".to_vec(),
                    owner: 9999
                }
            }
        );
        let (found, steps) = run(&mut f, "bob");
        assert_eq!(found, home("/h/alias", "-", "bob"));
        assert_eq!(
            steps[0],
            Step::Passwd {
                name: b"bob".to_vec(),
                answer: PwAnswer::HomeMissing {
                    uid: 5003,
                    home: b"/h/bob".to_vec(),
                    errno: Some(libc::ENOENT)
                }
            }
        );
    }

    #[test]
    fn home_we_may_not_look_at_is_accepted_and_logged() {
        let mut f = Fake::new()
            .user("joe", 5001, "/h/joe")
            .alias("/h/alias")
            .stat_error("/h/joe", libc::EACCES);
        let (found, steps) = run(&mut f, "joe-x");
        assert_eq!(found, Found::Accept);
        assert_eq!(
            steps[1..],
            [
                Step::Passwd {
                    name: b"joe".to_vec(),
                    answer: PwAnswer::HomeDenied {
                        uid: 5001,
                        home: b"/h/joe".to_vec()
                    }
                },
                Step::Log(b"unable to stat /h/joe: access denied".to_vec()),
            ]
        );
        assert!(
            !names_asked(&f).contains(&"alias".to_string()),
            "never falls through to alias"
        );
    }

    #[test]
    fn temporary_home_errors_are_trouble() {
        for errno in [
            libc::EIO,
            libc::EINTR,
            libc::ENOMEM,
            libc::EAGAIN,
            libc::ETXTBSY,
            libc::ETIMEDOUT,
            libc::ESTALE,
        ] {
            let mut f = Fake::new()
                .user("joe", 5001, "/h/joe")
                .alias("/h/a")
                .stat_error("/h/joe", errno);
            assert_eq!(run(&mut f, "joe").0, Found::Trouble, "errno {errno}");
        }
        // Non-temporary, non-EACCES errors mean "no such home": next candidate.
        for errno in [libc::ENOTDIR, libc::ELOOP, libc::ENAMETOOLONG] {
            let mut f = Fake::new()
                .user("joe", 5001, "/h/joe")
                .alias("/h/a")
                .stat_error("/h/joe", errno);
            assert_eq!(
                run(&mut f, "joe").0,
                home("/h/a", "-", "joe"),
                "errno {errno}"
            );
        }
    }

    #[test]
    fn user_database_errors_are_trouble() {
        let mut f = Fake::new()
            .user("joe", 5001, "/h/joe")
            .pw_error("joe-x", libc::EIO);
        let (found, steps) = run(&mut f, "joe-x");
        assert_eq!(found, Found::Trouble);
        assert_eq!(
            steps,
            vec![Step::Passwd {
                name: b"joe-x".to_vec(),
                answer: PwAnswer::Trouble {
                    errno: Some(libc::EIO)
                }
            }]
        );
        let mut f = Fake::new().pw_error("alias", libc::ETIMEDOUT);
        assert_eq!(run(&mut f, "nobody-here").0, Found::Trouble);
    }

    #[test]
    fn alias_fallback_and_no_alias() {
        let mut f = Fake::new().alias("/h/alias");
        let (found, steps) = run(&mut f, "Who-Is-This");
        assert_eq!(found, home("/h/alias", "-", "Who-Is-This"));
        assert_eq!(
            steps.last().unwrap(),
            &Step::Alias {
                home: Some(b"/h/alias".to_vec()),
                ext: b"Who-Is-This".to_vec()
            }
        );
        assert_eq!(names_asked(&f), ["who-is-this", "who-is", "who", "alias"]);
        // The alias user's uid and home are not checked.
        let mut f = Fake::new().user("alias", 0, "/nonexistent");
        assert_eq!(run(&mut f, "x").0, home("/nonexistent", "-", "x"));
        let mut f = Fake::new();
        let (found, steps) = run(&mut f, "x");
        assert_eq!(found, Found::Unknown);
        assert_eq!(
            steps.last().unwrap(),
            &Step::Alias {
                home: None,
                ext: b"x".to_vec()
            }
        );
    }

    #[test]
    fn empty_candidate_is_never_asked() {
        let mut f = Fake::new().alias("/h/a");
        assert_eq!(run(&mut f, "-x").0, home("/h/a", "-", "-x"));
        assert_eq!(run(&mut f, "").0, home("/h/a", "-", ""));
        assert!(!f.pw_asked.iter().any(|n| n.is_empty()));
    }
}
