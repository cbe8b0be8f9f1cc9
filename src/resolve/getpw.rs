//! qmail-getpw: which system account receives a local name that users/cdb
//! does not assign.
//!
//! Candidates are L and each prefix of L ending just before a `-`, longest
//! first; a candidate must be shorter than 32 bytes (qmail-getpw's buffer)
//! and is lower-cased (ASCII only: names are bytes, and an 8-bit name
//! reaches getpwnam as it is). The first one that getpwnam knows, whose uid
//! is not 0, and whose home directory exists and belongs to it, wins.
//! Otherwise the mail goes to the user `alias` with the whole of L as
//! extension; without an `alias` user qmail-getpw exits with "Unable to
//! find alias user!", which qmail-lspawn reports as a temporary failure:
//! qmail defers.
//!
//! qmail-lspawn runs qmail-getpw as the unprivileged qmailp (with the
//! group nofiles only), so a home directory behind a directory qmailp may
//! not search does not match: its `stat` fails, and the search goes on to
//! shorter names and to `alias`. The check runs as qmaild, who may see
//! more or less than qmailp, so it judges qmailp's view from the modes of
//! the home's ancestors (qmailp's uid and passwd gid, nofiles in every
//! standard install):
//! - qmaild can stat the home, but qmailp may not reach it: no match, as
//!   for qmail-getpw;
//! - qmaild cannot stat it (EACCES) and qmailp may not reach it either:
//!   no match, logged `unable to stat HOME: REASON`;
//! - qmaild cannot stat it but qmailp might (or there is no qmailp user to
//!   judge by): qmail-getpw may well take this user, whose home the check
//!   cannot see: accepted, and logged.
//!
//! A temporary error is a 421, where qmail-getpw would exit 111.

use super::access::{self, Kind};
use super::errstr::{error_str, is_temporary};
use super::{Delivery, PwAnswer, Step, System};
use nix::libc;

/// The user qmail-lspawn runs qmail-getpw as (qmail's `auto_userp`).
pub const QMAILP_USER: &[u8] = b"qmailp";

/// qmail-getpw's user name buffer: names must be shorter than this.
pub const GETPW_USERLEN: usize = 32;

/// The user qmail delivers to when no account matches (qmail's
/// `auto_usera`, "alias" in every standard build).
pub const ALIAS_USER: &[u8] = b"alias";

/// What qmail-getpw's search gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// qmail-local runs as this user, in this home (an account, or alias).
    User(Delivery),
    /// No account and no `alias` user: qmail defers.
    NoAlias,
    /// A home the check cannot see that qmail-getpw might: accept.
    Unseen,
    /// The user database or a home directory failed temporarily: 421.
    Trouble,
}

pub fn getpw<S: System>(sys: &mut S, local: &[u8], sink: &mut dyn FnMut(Step)) -> Found {
    let candidates = (0..=local.len())
        .rev()
        .filter(|&e| e == local.len() || local[e] == b'-');
    for end in candidates {
        match candidate(sys, local, end, sink) {
            Candidate::Next => continue,
            Candidate::Done(found) => return found,
        }
    }

    match sys.getpwnam(ALIAS_USER) {
        Ok(Some(pw)) => {
            sink(Step::Alias {
                home: Some(pw.dir.clone()),
                ext: local.to_vec(),
            });
            Found::User(Delivery {
                user: pw.name,
                uid: pw.uid,
                gid: pw.gid,
                home: pw.dir,
                dash: b"-".to_vec(),
                ext: local.to_vec(),
                local: Vec::new(),
                host: Vec::new(),
            })
        }
        Ok(None) => {
            sink(Step::Alias {
                home: None,
                ext: local.to_vec(),
            });
            Found::NoAlias
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

enum Candidate {
    Next,
    Done(Found),
}

/// One turn of qmail-getpw's `userext` loop: the user name `local[..end]`.
fn candidate<S: System>(
    sys: &mut S,
    local: &[u8],
    end: usize,
    sink: &mut dyn FnMut(Step),
) -> Candidate {
    let name = local[..end].to_ascii_lowercase();
    let mut say = |answer| {
        sink(Step::Passwd {
            name: name.clone(),
            answer,
        })
    };
    if end >= GETPW_USERLEN {
        say(PwAnswer::TooLong);
        return Candidate::Next;
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
            say(PwAnswer::NoSuchUser);
            return Candidate::Next;
        }
        Err(e) => {
            say(PwAnswer::Trouble {
                errno: e.raw_os_error(),
            });
            return Candidate::Done(Found::Trouble);
        }
    };
    let (uid, home) = (pw.uid, pw.dir);
    if uid == 0 {
        say(PwAnswer::Root { uid });
        return Candidate::Next;
    }
    match sys.stat(&home) {
        Ok(st) if st.uid == uid => {
            if qmailp_reach(sys, &home) == Reach::No {
                say(PwAnswer::HiddenFromQmailp { uid, home });
                return Candidate::Next;
            }
            let (dash, ext) = if end == local.len() {
                (Vec::new(), Vec::new())
            } else {
                (b"-".to_vec(), local[end + 1..].to_vec())
            };
            say(PwAnswer::Chosen {
                uid,
                home: home.clone(),
                dash: dash.clone(),
                ext: ext.clone(),
            });
            Candidate::Done(Found::User(Delivery {
                user: pw.name,
                uid,
                gid: pw.gid,
                home,
                dash,
                ext,
                local: Vec::new(),
                host: Vec::new(),
            }))
        }
        Ok(st) => {
            say(PwAnswer::HomeNotOwned {
                uid,
                home,
                owner: st.uid,
            });
            Candidate::Next
        }
        Err(e) => match e.raw_os_error() {
            Some(errno) if is_temporary(errno) => {
                say(PwAnswer::HomeTrouble {
                    uid,
                    home,
                    errno: Some(errno),
                });
                Candidate::Done(Found::Trouble)
            }
            Some(libc::EACCES) if qmailp_reach(sys, &home) != Reach::No => {
                let line = unable_to_stat(&home, Some(libc::EACCES));
                say(PwAnswer::HomeUnseen { uid, home });
                sink(Step::Log(line.unwrap_or_default()));
                Candidate::Done(Found::Unseen)
            }
            errno => {
                let line = unable_to_stat(&home, errno);
                say(PwAnswer::HomeMissing { uid, home, errno });
                if let Some(line) = line {
                    sink(Step::Log(line));
                }
                Candidate::Next
            }
        },
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reach {
    /// qmailp may search every directory on the way.
    Yes,
    /// Some directory on the way stops qmailp.
    No,
    /// The check cannot tell (it cannot see that far, or there is no
    /// qmailp user).
    Unknown,
}

/// Whether qmail-getpw, running as qmailp, could get as far as `home`:
/// search permission on each of its ancestors, read from their modes.
fn qmailp_reach<S: System>(sys: &mut S, home: &[u8]) -> Reach {
    let Ok(Some(qmailp)) = sys.getpwnam(QMAILP_USER) else {
        return Reach::Unknown;
    };
    let slashes = home.iter().enumerate().filter(|&(_, &b)| b == b'/');
    for (i, _) in slashes {
        let dir = if i == 0 { &home[..1] } else { &home[..i] };
        match sys.stat(dir) {
            Ok(st) if st.kind() == Kind::Directory => {
                if !st.allows(qmailp.uid, qmailp.gid, access::SEARCH) {
                    return Reach::No;
                }
            }
            // Not a directory: nobody gets through.
            Ok(_) => return Reach::No,
            Err(_) => return Reach::Unknown,
        }
    }
    Reach::Yes
}

/// The patch's `unable to stat PATH: REASON` line, for a failure that is
/// not simply "does not exist" (an operator wants to know that a home
/// could not be looked at); `None` for ENOENT and ENOTDIR.
fn unable_to_stat(path: &[u8], errno: Option<i32>) -> Option<Vec<u8>> {
    if matches!(errno, Some(libc::ENOENT | libc::ENOTDIR)) {
        return None;
    }
    let mut line = b"unable to stat ".to_vec();
    line.extend_from_slice(path);
    line.extend_from_slice(b": ");
    line.extend_from_slice(errno.map_or("unknown error", error_str).as_bytes());
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Stat;
    use crate::resolve::fake::Fake;

    /// What qmail-getpw found: home, dash and extension of the chosen user,
    /// or the other outcomes as they are.
    #[derive(Debug, PartialEq)]
    enum Got {
        Home(Vec<u8>, Vec<u8>, Vec<u8>),
        NoAlias,
        Unseen,
        Trouble,
    }

    fn run(fake: &mut Fake, local: &str) -> (Got, Vec<Step>) {
        let mut steps = Vec::new();
        let found = getpw(fake, local.as_bytes(), &mut |s| steps.push(s));
        let got = match found {
            Found::User(d) => Got::Home(d.home, d.dash, d.ext),
            Found::NoAlias => Got::NoAlias,
            Found::Unseen => Got::Unseen,
            Found::Trouble => Got::Trouble,
        };
        (got, steps)
    }

    fn home(home: &str, dash: &str, ext: &str) -> Got {
        Got::Home(home.into(), dash.into(), ext.into())
    }

    /// The candidate names asked (not the look-up of qmailp itself).
    fn names_asked(fake: &Fake) -> Vec<String> {
        fake.pw_asked
            .iter()
            .filter(|n| n.as_slice() != QMAILP_USER)
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
        assert_eq!(found, Got::NoAlias, "no alias user in this fake");
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
            .entry("/h/ann", Stat::dir(9999, 0o755));
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

    /// qmailp: uid 7791, gid 7792 (nofiles).
    fn with_qmailp(f: Fake) -> Fake {
        f.entry("/var/qmail", Stat::dir(0, 0o755))
            .user("qmailp", 7791, "/var/qmail")
            .pw_gid("qmailp", 7792)
    }

    /// qmail-getpw runs as qmailp: a home behind a directory qmailp may not
    /// search is not a match, and the search goes on (here to alias), with a
    /// log line when the check could not stat it either.
    #[test]
    fn home_qmailp_cannot_reach_is_no_match_and_logged() {
        let mut f = with_qmailp(
            Fake::new()
                .user("joe", 5001, "/h/joe")
                .alias("/a/alias")
                .entry("/h", Stat::dir(0, 0o700))
                .stat_error("/h/joe", libc::EACCES),
        );
        let (found, steps) = run(&mut f, "joe-x");
        assert_eq!(found, home("/a/alias", "-", "joe-x"));
        assert_eq!(
            steps[1..3],
            [
                Step::Passwd {
                    name: b"joe".to_vec(),
                    answer: PwAnswer::HomeMissing {
                        uid: 5001,
                        home: b"/h/joe".to_vec(),
                        errno: Some(libc::EACCES)
                    }
                },
                Step::Log(b"unable to stat /h/joe: access denied".to_vec()),
            ]
        );
        // "Does not exist" is not worth a log line.
        let mut f = Fake::new().user("joe", 5001, "/h/joe").alias("/h/alias");
        f.remove_file("/h/joe");
        let (_, steps) = run(&mut f, "joe");
        assert!(
            !steps.iter().any(|s| matches!(s, Step::Log(_))),
            "{steps:?}"
        );
    }

    /// The check sees the home, qmailp would not: qmail-getpw skips it.
    #[test]
    fn home_only_the_check_can_reach_is_no_match() {
        let mut f = with_qmailp(
            Fake::new()
                .user("joe", 5001, "/h/joe")
                .alias("/a/alias")
                .entry("/h", Stat::dir(5009, 0o700)),
        );
        let (found, steps) = run(&mut f, "joe-x");
        assert_eq!(found, home("/a/alias", "-", "joe-x"));
        assert_eq!(
            steps[1],
            Step::Passwd {
                name: b"joe".to_vec(),
                answer: PwAnswer::HiddenFromQmailp {
                    uid: 5001,
                    home: b"/h/joe".to_vec()
                }
            }
        );
        // Through the group nofiles qmailp gets in.
        let mut f = with_qmailp(Fake::new().user("joe", 5001, "/h/joe").entry(
            "/h",
            Stat {
                uid: 0,
                gid: 7792,
                mode: 0o040710,
            },
        ));
        assert_eq!(run(&mut f, "joe-x").0, home("/h/joe", "-", "x"));
    }

    /// The check cannot see the home but qmailp might (or there is no
    /// qmailp to judge by): qmail-getpw may take this user: accept.
    #[test]
    fn home_qmailp_may_see_but_the_check_cannot_is_accepted() {
        for f in [
            with_qmailp(Fake::new()),
            Fake::new(), // no qmailp user
        ] {
            let mut f = f
                .user("joe", 5001, "/h/joe")
                .alias("/a/alias")
                .entry("/h", Stat::dir(7791, 0o700))
                .stat_error("/h/joe", libc::EACCES);
            let (found, steps) = run(&mut f, "joe-x");
            assert_eq!(found, Got::Unseen);
            assert_eq!(
                steps.last(),
                Some(&Step::Log(b"unable to stat /h/joe: access denied".to_vec()))
            );
            assert!(!f.pw_asked.contains(&b"alias".to_vec()));
        }
    }

    #[test]
    fn eight_bit_names_are_asked_as_bytes_lower_casing_ascii_only() {
        let mut f = Fake::new().alias("/h/alias");
        // A latin-1 name: the bytes 6a f6 72 67; J and R lower-cased, the
        // 8-bit byte left alone.
        let mut steps = Vec::new();
        let found = getpw(&mut f, b"J\xd6Rg-x", &mut |s| steps.push(s));
        assert!(matches!(found, Found::User(_)));
        assert_eq!(
            f.pw_asked[..2],
            [b"j\xd6rg-x".to_vec(), b"j\xd6rg".to_vec()]
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
            assert_eq!(run(&mut f, "joe").0, Got::Trouble, "errno {errno}");
        }
        // Errors that are not temporary mean "no such home": next candidate.
        for errno in [libc::ENOTDIR, libc::ELOOP, libc::ENAMETOOLONG, libc::EPERM] {
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
        assert_eq!(found, Got::Trouble);
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
        assert_eq!(run(&mut f, "nobody-here").0, Got::Trouble);
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
        assert_eq!(found, Got::NoAlias);
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
