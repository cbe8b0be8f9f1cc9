//! What happens between qmail-lspawn choosing a delivery and qmail-local
//! searching for a `.qmail` file: the checks that defer or bounce a
//! recipient before any `.qmail` file is read.
//!
//! In qmail's order:
//! 1. qmail-lspawn sets the uid and refuses uid 0 ("Not allowed to perform
//!    deliveries as root."): deferred. qmail-getpw already skips uid-0
//!    accounts, so this is a users/cdb record, or an `alias` user, with uid
//!    0 (or a uid field that is not a number: qmail reads it as 0).
//! 2. qmail-local refuses a home that is not an absolute path with its
//!    usage message, exit 100: bounced.
//! 3. qmail-local's `chdir(home)`, as the user: a home that does not
//!    exist, is not a directory, or that the user may not enter, is
//!    deferred ("Unable to switch to HOME: ...").
//! 4. qmail-local's `checkhome`: a home writable by group or others
//!    ("Uh-oh: home directory is writable.") or with the sticky bit ("user
//!    is editing his .qmail file") is deferred.
//!
//! The check sees the home as qmaild. When qmaild may not look at it
//! (EACCES) the user may still reach it: nothing is proved, the recipient
//! is accepted and `unable to stat HOME: REASON` logged.

use super::access::{self, Kind};
use super::errstr::{error_str, is_temporary};
use super::{Deferral, Delivery, Step, System, Verdict, defer};
use nix::libc;

/// `None`: qmail-local gets as far as its `.qmail` search; go on.
/// `Some(verdict)`: the answer is known now.
pub fn checkhome<S: System>(
    sys: &mut S,
    d: &Delivery,
    sink: &mut dyn FnMut(Step),
) -> Option<Verdict> {
    if d.uid == 0 {
        return Some(defer(
            Deferral::Root {
                user: d.user.clone(),
            },
            sink,
        ));
    }
    if d.home.first() != Some(&b'/') {
        sink(Step::HomeNotAbsolute {
            home: d.home.clone(),
        });
        return Some(Verdict::Unknown);
    }
    let no_home = |errno| Deferral::NoHome {
        home: d.home.clone(),
        errno: Some(errno),
    };
    let st = match sys.stat(&d.home) {
        Ok(st) => st,
        Err(e) => {
            let errno = e.raw_os_error();
            return Some(match errno {
                Some(libc::EACCES | libc::EPERM) => {
                    sink(Step::HomeUnseen {
                        home: d.home.clone(),
                        errno,
                    });
                    sink(Step::Log(unable_to_stat(&d.home, errno)));
                    Verdict::Accept
                }
                // Does not exist (ENOENT, ENOTDIR, ELOOP, ...), or a
                // temporary failure: either way qmail-local's chdir fails
                // and it exits 111.
                Some(errno) => defer(no_home(errno), sink),
                None => {
                    sink(Step::HomeUnseen {
                        home: d.home.clone(),
                        errno,
                    });
                    Verdict::Accept
                }
            });
        }
    };
    let why = if st.kind() != Kind::Directory {
        Some(no_home(libc::ENOTDIR))
    } else if !st.allows(d.uid, d.gid, access::SEARCH) || !may_pass(sys, d, ancestors(&d.home)) {
        Some(no_home(libc::EACCES))
    } else if st.mode & access::PATRN != 0 {
        Some(Deferral::HomeWritable {
            home: d.home.clone(),
        })
    } else if st.mode & access::STICKY != 0 {
        Some(Deferral::HomeSticky {
            home: d.home.clone(),
        })
    } else {
        None
    };
    match why {
        Some(why) => Some(defer(why, sink)),
        None => {
            sink(Step::HomeOk {
                home: d.home.clone(),
            });
            None
        }
    }
}

/// The directories a path goes through: `/`, `/a`, `/a/b` for `/a/b/c`.
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let slashes = path.iter().enumerate().filter(|&(_, &b)| b == b'/');
    slashes.map(move |(i, _)| if i == 0 { &path[..1] } else { &path[..i] })
}

/// Whether the delivering user may search every one of these directories
/// (path resolution needs it, for chdir and open alike). They are looked at
/// in order up to the first the check cannot stat or that is not a
/// directory: beyond it nothing exists, and the look at the whole path
/// answers for it.
pub(super) fn may_pass<'a, S: System>(
    sys: &mut S,
    d: &Delivery,
    dirs: impl Iterator<Item = &'a [u8]>,
) -> bool {
    for dir in dirs {
        match sys.stat(dir) {
            Ok(st) if st.kind() == Kind::Directory => {
                if !st.allows(d.uid, d.gid, access::SEARCH) {
                    return false;
                }
            }
            _ => break,
        }
    }
    true
}

/// The patch's `unable to stat PATH: REASON` log line.
pub(super) fn unable_to_stat(path: &[u8], errno: Option<i32>) -> Vec<u8> {
    let mut line = b"unable to stat ".to_vec();
    line.extend_from_slice(path);
    line.extend_from_slice(b": ");
    line.extend_from_slice(errno.map_or("unknown error", error_str).as_bytes());
    line
}

/// Whether an errno from `stat` is one qmail would retry on.
pub(super) fn temporary(errno: Option<i32>) -> bool {
    errno.is_some_and(is_temporary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Stat;
    use crate::resolve::fake::Fake;

    fn delivery(uid: u32, home: &str) -> Delivery {
        Delivery {
            user: b"joe".to_vec(),
            uid,
            gid: uid,
            home: home.into(),
            dash: b"-".to_vec(),
            ext: b"x".to_vec(),
            local: b"joe-x".to_vec(),
            host: b"example.com".to_vec(),
        }
    }

    fn run(f: &mut Fake, d: &Delivery) -> (Option<Verdict>, Vec<Step>) {
        let mut steps = Vec::new();
        let v = checkhome(f, d, &mut |s| steps.push(s));
        (v, steps)
    }

    fn deferred(v: Option<Verdict>) -> Deferral {
        match v {
            Some(Verdict::Defer(why)) => why,
            other => panic!("not deferred: {other:?}"),
        }
    }

    #[test]
    fn a_good_home_goes_on_to_the_search() {
        let mut f = Fake::new().entry("/h/joe", Stat::dir(5001, 0o755));
        let (v, steps) = run(&mut f, &delivery(5001, "/h/joe"));
        assert_eq!(v, None);
        assert_eq!(
            steps,
            [Step::HomeOk {
                home: b"/h/joe".to_vec()
            }]
        );
        // Owned by another uid is fine for qmail-local (qmail-getpw checks
        // ownership; users/cdb homes need not be owned by the user).
        let mut f = Fake::new().entry("/h/shared", Stat::dir(0, 0o755));
        assert_eq!(run(&mut f, &delivery(5001, "/h/shared")).0, None);
    }

    #[test]
    fn uid_0_defers_before_anything_is_looked_at() {
        let mut f = Fake::new();
        let v = run(&mut f, &delivery(0, "/h/joe")).0;
        assert_eq!(
            deferred(v),
            Deferral::Root {
                user: b"joe".to_vec()
            }
        );
        assert!(f.stat_asked.is_empty());
    }

    #[test]
    fn a_relative_home_bounces() {
        let mut f = Fake::new();
        let (v, steps) = run(&mut f, &delivery(5001, "h/joe"));
        assert_eq!(v, Some(Verdict::Unknown));
        assert_eq!(
            steps,
            [Step::HomeNotAbsolute {
                home: b"h/joe".to_vec()
            }]
        );
        assert_eq!(run(&mut f, &delivery(5001, "")).0, Some(Verdict::Unknown));
        assert!(f.stat_asked.is_empty());
    }

    #[test]
    fn a_home_qmail_local_cannot_enter_defers() {
        let no_home = |errno| Deferral::NoHome {
            home: b"/h/joe".to_vec(),
            errno: Some(errno),
        };
        for errno in [libc::ENOENT, libc::ENOTDIR, libc::ELOOP, libc::EIO] {
            let mut f = Fake::new().stat_error("/h/joe", errno);
            assert_eq!(
                deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
                no_home(errno)
            );
        }
        let mut f = Fake::new().entry("/h/joe", Stat::file(5001, 0o755));
        assert_eq!(
            deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
            no_home(libc::ENOTDIR),
            "a regular file"
        );
        let mut f = Fake::new().entry("/h/joe", Stat::dir(0, 0o750));
        assert_eq!(
            deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
            no_home(libc::EACCES),
            "the user may not search it"
        );
        // Nor a directory on the way to it: chdir needs them all.
        let mut f = Fake::new()
            .entry("/h", Stat::dir(0, 0o710))
            .entry("/h/joe", Stat::dir(5001, 0o755));
        assert_eq!(
            deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
            no_home(libc::EACCES),
            "the user may not search /h"
        );
        let mut f = Fake::new()
            .entry("/", Stat::dir(0, 0o755))
            .entry("/h", Stat::dir(0, 0o711))
            .entry("/h/joe", Stat::dir(5001, 0o700));
        assert_eq!(run(&mut f, &delivery(5001, "/h/joe")).0, None);
        assert_eq!(f.stat_asked, [&b"/h/joe"[..], b"/", b"/h"]);
    }

    #[test]
    fn writable_and_sticky_homes_defer() {
        let mut f = Fake::new().entry("/h/joe", Stat::dir(5001, 0o757));
        assert_eq!(
            deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
            Deferral::HomeWritable {
                home: b"/h/joe".to_vec()
            }
        );
        // Group-writable is allowed by netqmail's conf-patrn (002).
        let mut f = Fake::new().entry("/h/joe", Stat::dir(5001, 0o775));
        assert_eq!(run(&mut f, &delivery(5001, "/h/joe")).0, None);
        let mut f = Fake::new().entry("/h/joe", Stat::dir(5001, 0o1755));
        assert_eq!(
            deferred(run(&mut f, &delivery(5001, "/h/joe")).0),
            Deferral::HomeSticky {
                home: b"/h/joe".to_vec()
            }
        );
    }

    #[test]
    fn a_home_qmaild_cannot_see_is_accepted_and_logged() {
        let mut f = Fake::new().stat_error("/h/joe", libc::EACCES);
        let (v, steps) = run(&mut f, &delivery(5001, "/h/joe"));
        assert_eq!(v, Some(Verdict::Accept));
        assert_eq!(
            steps.last(),
            Some(&Step::Log(b"unable to stat /h/joe: access denied".to_vec()))
        );
    }
}
