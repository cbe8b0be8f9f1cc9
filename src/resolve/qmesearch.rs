//! qmail-local's `.qmail` search (qmesearch): which file tells qmail-local
//! what to do with this extension, and would it defer first?
//!
//! With dash D and extension EXT (lower-cased, every `.` turned into `:`),
//! qmail-local tries `.qmailDEXT`, then `.qmailDPREFIXdefault` for each
//! prefix of EXT that is empty or ends with a `-`, longest first (so
//! `.qmail-default` last, and `.qmaildefault` for an empty dash). The
//! first regular file it can open is used. None: with a non-empty dash it
//! bounces; with an empty dash (the whole local name was a user) the
//! user's default delivery applies.
//!
//! Each name is opened as the user (see [`access`](super::access)), and
//! that open decides:
//! - it does not exist (ENOENT), or cannot (ENOTDIR, ELOOP,
//!   ENAMETOOLONG): go on;
//! - the user may not read it: qmail-local defers ("Unable to open");
//! - a directory, device, FIFO or socket: not a regular file, go on;
//! - a regular file writable by others: defers ("Uh-oh: .qmail file is
//!   writable.");
//! - a regular file: used. What it says is not read here: it exists, so
//!   qmail-local does not bounce for lack of a mailbox.
//!
//! The check looks with `stat` as qmaild. When qmaild may not look
//! (EACCES: a 0700 home, say) the user may still see a file there: the
//! recipient is accepted and `unable to stat PATH: REASON` logged. A
//! temporary failure defers, as qmail-local's would.
//!
//! Names may contain `/` (`joe-dir/x` opens `.qmail-dir/x`), as in
//! qmail-local. Nothing outside the home is reached by an address: every
//! `.` of the extension has become `:`, so no component is `..`, and the
//! name starts with `.qmail` inside the home.

use super::access::{self, Kind};
use super::checkhome::{may_pass, temporary, unable_to_stat};
use super::{Deferral, Delivery, QmailAnswer, Step, System, Verdict, defer};
use nix::libc;

/// The extension as qmail-local uses it in file names.
fn safe_ext(ext: &[u8]) -> Vec<u8> {
    ext.iter()
        .map(|&b| {
            if b == b'.' {
                b':'
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The `.qmail` file qmail-local uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QmailFile {
    pub path: Vec<u8>,
    /// `$DEFAULT` as qmail-local sets it: the part of the extension a
    /// `-default` name stands for.
    pub default: Option<Vec<u8>>,
    /// Its mode bits (the owner's execute bit makes it forward-only).
    pub mode: u32,
}

/// Where the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// The answer is known without reading a file.
    Done(Verdict),
    /// qmail-local would run this file.
    Found(QmailFile),
}

/// qmail-local's `$DEFAULT` for a name made of `len` bytes of the
/// extension (then "default" when `default`): the rest of the extension,
/// as received; for an exact name ending in "default", what precedes it.
fn default_var(ext: &[u8], safe: &[u8], len: usize, default: bool) -> Option<Vec<u8>> {
    let i = if default {
        len
    } else {
        safe.len()
            .checked_sub(7)
            .filter(|&i| &safe[i..] == b"default")?
    };
    (i <= ext.len()).then(|| ext[i..].to_vec())
}

/// The `.qmail` paths qmail-local tries, in order, made one at a time (an
/// extension with hundreds of dashes has hundreds of names), each with
/// its `$DEFAULT`.
fn candidates(d: &Delivery) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> + '_ {
    let ext = safe_ext(&d.ext);
    // (length of the extension used, whether "default" follows)
    let mut cuts = vec![(ext.len(), false)];
    cuts.extend(
        (0..=ext.len())
            .rev()
            .filter(|&i| i == 0 || ext[i - 1] == b'-')
            .map(|i| (i, true)),
    );
    cuts.into_iter().map(move |(len, default)| {
        let mut path = d.home.clone();
        path.extend_from_slice(b"/.qmail");
        path.extend_from_slice(&d.dash);
        path.extend_from_slice(&ext[..len]);
        if default {
            path.extend_from_slice(b"default");
        }
        (path, default_var(&d.ext, &ext, len, default))
    })
}

/// What qmail-local's open of one candidate gives.
enum Look {
    /// Not there: try the next name.
    Next(QmailAnswer),
    /// The search ends here with this verdict.
    Done(Verdict),
    /// qmail-local uses this file; its mode.
    Use(u32),
}

pub fn qmesearch<S: System>(sys: &mut S, d: &Delivery, sink: &mut dyn FnMut(Step)) -> Search {
    for (path, default) in candidates(d) {
        match look(sys, d, &path, sink) {
            Look::Next(answer) => sink(Step::Qmail { path, answer }),
            Look::Done(verdict) => return Search::Done(verdict),
            Look::Use(mode) => {
                return Search::Found(QmailFile {
                    path,
                    default,
                    mode,
                });
            }
        }
    }
    if d.dash.is_empty() {
        sink(Step::DefaultDelivery {
            home: d.home.clone(),
        });
        return Search::Done(Verdict::Accept);
    }
    sink(Step::NoQmailFile);
    Search::Done(Verdict::Unknown)
}

fn look<S: System>(sys: &mut S, d: &Delivery, path: &[u8], sink: &mut dyn FnMut(Step)) -> Look {
    let qmail = |answer| Step::Qmail {
        path: path.to_vec(),
        answer,
    };
    // A name with '/' goes through directories inside the home: qmail-local
    // needs search permission on each (the home itself was checked).
    let inner = path[d.home.len() + 1..]
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .map(|(i, _)| &path[..d.home.len() + 1 + i]);
    if !may_pass(sys, d, inner) {
        sink(qmail(QmailAnswer::Unreadable));
        let why = Deferral::QmailUnopenable {
            path: path.to_vec(),
            errno: Some(libc::EACCES),
        };
        return Look::Done(defer(why, sink));
    }
    let st = match sys.stat(path) {
        Ok(st) => st,
        Err(e) => {
            let errno = e.raw_os_error();
            return match errno {
                Some(libc::ENOENT) => Look::Next(QmailAnswer::Absent),
                Some(libc::ENAMETOOLONG) => Look::Next(QmailAnswer::NameTooLong),
                Some(libc::ENOTDIR | libc::ELOOP) => Look::Next(QmailAnswer::Unreachable { errno }),
                _ if temporary(errno) => {
                    sink(qmail(QmailAnswer::Trouble { errno }));
                    let why = Deferral::QmailUnopenable {
                        path: path.to_vec(),
                        errno,
                    };
                    Look::Done(defer(why, sink))
                }
                _ => {
                    sink(qmail(QmailAnswer::Unseen { errno }));
                    sink(Step::Log(unable_to_stat(path, errno)));
                    Look::Done(Verdict::Accept)
                }
            };
        }
    };
    // open(2) checks permission before it looks at the file's type.
    if !st.allows(d.uid, d.gid, access::READ) {
        sink(qmail(QmailAnswer::Unreadable));
        let why = Deferral::QmailUnopenable {
            path: path.to_vec(),
            errno: Some(libc::EACCES),
        };
        return Look::Done(defer(why, sink));
    }
    match st.kind() {
        // A device opens like any file (/dev/null, say): qmail-local sees
        // it is not regular and goes on, as for directories and FIFOs.
        Kind::Directory | Kind::Device | Kind::Other => Look::Next(QmailAnswer::NotRegular),
        Kind::Regular if st.mode & access::PATRN != 0 => {
            sink(qmail(QmailAnswer::Writable));
            let why = Deferral::QmailWritable {
                path: path.to_vec(),
            };
            Look::Done(defer(why, sink))
        }
        Kind::Regular => {
            sink(qmail(QmailAnswer::Exists));
            Look::Use(st.mode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Stat;
    use crate::resolve::fake::Fake;

    const JOE: u32 = 5001;

    /// joe (uid 5001, gid 100), home /h/joe.
    fn delivery(dash: &str, ext: &str) -> Delivery {
        Delivery {
            user: b"joe".to_vec(),
            uid: JOE,
            gid: 100,
            home: b"/h/joe".to_vec(),
            dash: dash.into(),
            ext: ext.into(),
            local: b"joe".to_vec(),
            host: b"example.com".to_vec(),
        }
    }

    fn run(f: &mut Fake, dash: &str, ext: &str) -> (Verdict, Vec<Step>) {
        let d = delivery(dash, ext);
        let mut steps = Vec::new();
        let v = match qmesearch(f, &d, &mut |s| steps.push(s)) {
            Search::Done(v) => v,
            Search::Found(_) => Verdict::Accept,
        };
        (v, steps)
    }

    fn found(f: &mut Fake, dash: &str, ext: &str) -> QmailFile {
        let d = delivery(dash, ext);
        match qmesearch(f, &d, &mut |_| {}) {
            Search::Found(file) => file,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_is_set_as_qmail_local_sets_it() {
        let mut f = Fake::new().file("/h/joe/.qmail-a-default", JOE);
        let file = found(&mut f, "-", "A-b.Cd-E");
        assert_eq!(file.path, b"/h/joe/.qmail-a-default");
        // The rest after the cut, in the case it came in, dots kept.
        assert_eq!(file.default.as_deref(), Some(&b"b.Cd-E"[..]));
        let mut f = Fake::new().file("/h/joe/.qmail-default", JOE);
        assert_eq!(found(&mut f, "-", "X").default.as_deref(), Some(&b"X"[..]));
        // An exact name ending in "default" sets it too, to the "default"
        // itself (qmail-local's quirk); other exact names do not.
        let mut f = Fake::new().file("/h/joe/.qmail-list-default", JOE);
        let file = found(&mut f, "-", "list-default");
        assert_eq!(file.default.as_deref(), Some(&b"default"[..]));
        let mut f = Fake::new().file("/h/joe/.qmail-list", JOE);
        assert_eq!(found(&mut f, "-", "list").default, None);
    }

    fn asked(f: &Fake) -> Vec<String> {
        f.stat_asked
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    fn deferred(v: Verdict) -> Deferral {
        match v {
            Verdict::Defer(why) => why,
            other => panic!("not deferred: {other:?}"),
        }
    }

    #[test]
    fn empty_dash_default_delivery_after_dot_qmail_and_dot_qmaildefault() {
        let mut f = Fake::new();
        let (v, steps) = run(&mut f, "", "");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(asked(&f), ["/h/joe/.qmail", "/h/joe/.qmaildefault"]);
        assert_eq!(
            steps.last(),
            Some(&Step::DefaultDelivery {
                home: b"/h/joe".to_vec()
            })
        );
        // ~/.qmail is opened too, so a writable one defers.
        let mut f = Fake::new().entry("/h/joe/.qmail", Stat::file(JOE, 0o646));
        assert_eq!(
            deferred(run(&mut f, "", "").0),
            Deferral::QmailWritable {
                path: b"/h/joe/.qmail".to_vec()
            }
        );
    }

    #[test]
    fn search_order() {
        let mut f = Fake::new();
        let (v, steps) = run(&mut f, "-", "A.b-C-d");
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(
            asked(&f),
            [
                "/h/joe/.qmail-a:b-c-d",
                "/h/joe/.qmail-a:b-c-default",
                "/h/joe/.qmail-a:b-default",
                "/h/joe/.qmail-default",
            ]
        );
        assert_eq!(steps.last(), Some(&Step::NoQmailFile));
    }

    #[test]
    fn trailing_dash_in_extension() {
        // "x-": the exact name and the longest default coincide in form.
        let mut f = Fake::new();
        run(&mut f, "-", "x-");
        assert_eq!(
            asked(&f),
            [
                "/h/joe/.qmail-x-",
                "/h/joe/.qmail-x-default",
                "/h/joe/.qmail-default"
            ]
        );
    }

    #[test]
    fn empty_extension_needs_dot_qmail_dash_or_default() {
        let mut f = Fake::new();
        assert_eq!(run(&mut f, "-", "").0, Verdict::Unknown);
        assert_eq!(asked(&f), ["/h/joe/.qmail-", "/h/joe/.qmail-default"]);
        let mut f = Fake::new().file("/h/joe/.qmail-", JOE);
        assert_eq!(run(&mut f, "-", "").0, Verdict::Accept);
        let mut f = Fake::new().file("/h/joe/.qmail-default", JOE);
        assert_eq!(run(&mut f, "-", "").0, Verdict::Accept);
    }

    #[test]
    fn first_existing_file_accepts() {
        let mut f = Fake::new()
            .file("/h/joe/.qmail-a-default", JOE)
            .file("/h/joe/.qmail-default", JOE);
        let (v, steps) = run(&mut f, "-", "a-b-c");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            asked(&f),
            [
                "/h/joe/.qmail-a-b-c",
                "/h/joe/.qmail-a-b-default",
                "/h/joe/.qmail-a-default"
            ]
        );
        assert_eq!(
            steps.last(),
            Some(&Step::Qmail {
                path: b"/h/joe/.qmail-a-default".to_vec(),
                answer: QmailAnswer::Exists
            })
        );

        let mut f = Fake::new().file("/h/joe/.qmail-list", JOE);
        assert_eq!(run(&mut f, "-", "List").0, Verdict::Accept);
        assert_eq!(asked(&f), ["/h/joe/.qmail-list"]);

        let mut f = Fake::new().file("/h/joe/.qmail-default", JOE);
        assert_eq!(run(&mut f, "-", "anything-at-all").0, Verdict::Accept);
    }

    #[test]
    fn other_dash_from_users_cdb() {
        let mut f = Fake::new().file("/h/joe/.qmail+x", JOE);
        assert_eq!(run(&mut f, "+", "X").0, Verdict::Accept);
        let mut f = Fake::new();
        run(&mut f, "+", "a-b");
        assert_eq!(
            asked(&f),
            [
                "/h/joe/.qmail+a-b",
                "/h/joe/.qmail+a-default",
                "/h/joe/.qmail+default"
            ]
        );
    }

    #[test]
    fn a_file_qmaild_may_not_see_accepts_and_logs() {
        let mut f = Fake::new().stat_error("/h/joe/.qmail-x", libc::EACCES);
        let (v, steps) = run(&mut f, "-", "x");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            steps,
            vec![
                Step::Qmail {
                    path: b"/h/joe/.qmail-x".to_vec(),
                    answer: QmailAnswer::Unseen {
                        errno: Some(libc::EACCES)
                    }
                },
                Step::Log(b"unable to stat /h/joe/.qmail-x: access denied".to_vec()),
            ]
        );
    }

    #[test]
    fn a_temporary_failure_defers() {
        let mut f = Fake::new().stat_error("/h/joe/.qmail-default", libc::EIO);
        let (v, steps) = run(&mut f, "-", "x");
        let why = Deferral::QmailUnopenable {
            path: b"/h/joe/.qmail-default".to_vec(),
            errno: Some(libc::EIO),
        };
        assert_eq!(v, Verdict::Defer(why.clone()));
        assert_eq!(steps.last(), Some(&Step::Deferred(why)));
    }

    #[test]
    fn name_too_long_is_absent() {
        let long = "x".repeat(300);
        let mut f = Fake::new().file("/h/joe/.qmail-default", JOE);
        let (v, steps) = run(&mut f, "-", &long);
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            steps[0],
            Step::Qmail {
                path: format!("/h/joe/.qmail-{long}").into_bytes(),
                answer: QmailAnswer::NameTooLong
            }
        );
        let mut f = Fake::new();
        assert_eq!(run(&mut f, "-", &long).0, Verdict::Unknown);
    }

    /// qmail-local opens names with `/` (inside a `.qmail-...` directory of
    /// the home); `..` cannot occur, since every `.` became `:`.
    #[test]
    fn slash_names_are_looked_at_inside_the_home_only() {
        let mut f = Fake::new()
            .entry("/h/joe/.qmail-dir", Stat::dir(JOE, 0o755))
            .file("/h/joe/.qmail-dir/x", JOE);
        assert_eq!(run(&mut f, "-", "dir/x").0, Verdict::Accept);
        assert_eq!(asked(&f), ["/h/joe/.qmail-dir", "/h/joe/.qmail-dir/x"]);

        // A directory on the way that the user may not search: qmail-local's
        // open fails with EACCES and it defers, though qmaild sees no file.
        let mut f = Fake::new().entry("/h/joe/.qmail-dir", Stat::dir(JOE, 0o601));
        assert_eq!(
            deferred(run(&mut f, "-", "dir/y").0),
            Deferral::QmailUnopenable {
                path: b"/h/joe/.qmail-dir/y".to_vec(),
                errno: Some(libc::EACCES)
            }
        );

        let mut f = Fake::new().file("/etc/passwd", 0).file("/h/passwd", 0);
        let (v, _) = run(&mut f, "-", "a/../../etc/passwd");
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(
            asked(&f),
            [
                "/h/joe/.qmail-a",
                "/h/joe/.qmail-a/::/::/etc/passwd",
                "/h/joe/.qmail-default"
            ]
        );
        for p in asked(&f) {
            assert!(p.starts_with("/h/joe/.qmail"), "{p}");
            assert!(!p.split('/').any(|c| c == ".."), "{p}");
        }
        let mut f = Fake::new();
        run(&mut f, "-", "../x-../y");
        for p in asked(&f) {
            assert!(p.starts_with("/h/joe/.qmail-"), "{p}");
            assert!(!p.split('/').any(|c| c == ".."), "{p}");
        }
    }

    #[test]
    fn only_regular_files_count() {
        let fifo = Stat {
            uid: JOE,
            gid: JOE,
            mode: 0o010644,
        };
        let mut f = Fake::new()
            .entry("/h/joe/.qmail-x", Stat::dir(JOE, 0o755))
            .entry("/h/joe/.qmail-default", fifo);
        let (v, steps) = run(&mut f, "-", "x");
        assert_eq!(v, Verdict::Unknown);
        assert_eq!(
            steps[0],
            Step::Qmail {
                path: b"/h/joe/.qmail-x".to_vec(),
                answer: QmailAnswer::NotRegular
            }
        );
        // A device (a symbolic link to /dev/null, say) opens, and is not
        // a regular file either.
        let null = Stat {
            uid: 0,
            gid: 0,
            mode: 0o020666,
        };
        let mut f = Fake::new().entry("/h/joe/.qmail-x", null);
        assert_eq!(run(&mut f, "-", "x").0, Verdict::Unknown);
    }

    #[test]
    fn what_the_user_may_not_open_defers() {
        // Owned by root, 0600: joe's open fails with EACCES.
        let mut f = Fake::new()
            .entry("/h/joe/.qmail-x", Stat::file(0, 0o600))
            .file("/h/joe/.qmail-default", JOE);
        assert_eq!(
            deferred(run(&mut f, "-", "x").0),
            Deferral::QmailUnopenable {
                path: b"/h/joe/.qmail-x".to_vec(),
                errno: Some(libc::EACCES)
            }
        );
        // A directory joe may not read: open(O_RDONLY) fails the same way.
        let mut f = Fake::new().entry("/h/joe/.qmail-x", Stat::dir(0, 0o700));
        assert!(matches!(run(&mut f, "-", "x").0, Verdict::Defer(_)));
        // Readable through the group (joe's gid is 100).
        let mut f = Fake::new().entry(
            "/h/joe/.qmail-x",
            Stat {
                uid: 0,
                gid: 100,
                mode: 0o100640,
            },
        );
        assert_eq!(run(&mut f, "-", "x").0, Verdict::Accept);
    }

    #[test]
    fn a_writable_dot_qmail_defers() {
        let mut f = Fake::new().entry("/h/joe/.qmail-x", Stat::file(JOE, 0o666));
        assert_eq!(
            deferred(run(&mut f, "-", "x").0),
            Deferral::QmailWritable {
                path: b"/h/joe/.qmail-x".to_vec()
            }
        );
        // Group-writable passes netqmail's conf-patrn (002).
        let mut f = Fake::new().entry("/h/joe/.qmail-x", Stat::file(JOE, 0o664));
        assert_eq!(run(&mut f, "-", "x").0, Verdict::Accept);
    }
}
