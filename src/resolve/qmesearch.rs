//! qmail-local's `.qmail` search (qmesearch): does a file exist that tells
//! qmail-local what to do with this extension?
//!
//! With dash `-` and extension EXT (lower-cased, `.` turned into `:`),
//! qmail-local uses the first of `HOME/.qmail-EXT`, then
//! `HOME/.qmail-PREFIX-default` for each prefix of EXT ending just before a
//! `-`, longest first, then `HOME/.qmail-default`. None: it bounces.
//!
//! Only names are looked at (stat), never contents: the check runs as
//! qmaild. Safety rules, departures from the patch:
//! - a name that would contain `/` after `.qmail` is never looked at: an
//!   extension like `a/../../etc` must not make us stat outside the home's
//!   own files. (`.` → `:` already makes `..` impossible.) qmail-local would
//!   open such a path; a `.qmail-a/b` would need a *directory* named
//!   `.qmail-a` in the home, which no qmail setup uses, so treating it as
//!   absent changes no real delivery;
//! - ENAMETOOLONG means the name cannot exist: "absent" (qmail-local too
//!   treats it as absent), so an overlong extension still reaches
//!   `.qmail-default` instead of being accepted unchecked;
//! - any other failure (EACCES, say) is logged as
//!   `unable to stat PATH: REASON` with qmail's error text, and the
//!   recipient accepted, as the patch does: we cannot prove it bounces.

use super::errstr::error_str;
use super::{QmailAnswer, Step, System, Verdict};
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

pub fn qmesearch<S: System>(
    sys: &mut S,
    home: &[u8],
    dash: &[u8],
    ext: &[u8],
    sink: &mut dyn FnMut(Step),
) -> Verdict {
    if dash.is_empty() {
        sink(Step::DefaultDelivery {
            home: home.to_vec(),
        });
        return Verdict::Accept;
    }
    let ext = safe_ext(ext);

    // The exact name, then the -default names, longest prefix first.
    let exact = (ext.len(), false);
    let defaults = (0..=ext.len())
        .rev()
        .filter(|&i| i == 0 || ext[i - 1] == b'-')
        .map(|i| (i, true));
    for (len, default) in std::iter::once(exact).chain(defaults) {
        let mut name = dash.to_vec();
        name.extend_from_slice(&ext[..len]);
        if default {
            name.extend_from_slice(b"default");
        }
        let mut path = home.to_vec();
        path.extend_from_slice(b"/.qmail");
        path.extend_from_slice(&name);

        if name.contains(&b'/') {
            sink(Step::Qmail {
                path,
                answer: QmailAnswer::Unsafe,
            });
            continue;
        }
        match sys.stat_uid(&path) {
            Ok(_) => {
                sink(Step::Qmail {
                    path,
                    answer: QmailAnswer::Exists,
                });
                return Verdict::Accept;
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::ENOENT) => sink(Step::Qmail {
                    path,
                    answer: QmailAnswer::Absent,
                }),
                Some(libc::ENAMETOOLONG) => sink(Step::Qmail {
                    path,
                    answer: QmailAnswer::NameTooLong,
                }),
                errno => {
                    let mut line = b"unable to stat ".to_vec();
                    line.extend_from_slice(&path);
                    line.extend_from_slice(b": ");
                    line.extend_from_slice(errno.map_or("unknown error", error_str).as_bytes());
                    sink(Step::Qmail {
                        path,
                        answer: QmailAnswer::Error { errno },
                    });
                    sink(Step::Log(line));
                    return Verdict::Accept;
                }
            },
        }
    }
    sink(Step::NoQmailFile);
    Verdict::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::fake::Fake;

    fn run(f: &mut Fake, dash: &str, ext: &str) -> (Verdict, Vec<Step>) {
        let mut steps = Vec::new();
        let v = qmesearch(f, b"/h/joe", dash.as_bytes(), ext.as_bytes(), &mut |s| {
            steps.push(s)
        });
        (v, steps)
    }

    fn asked(f: &Fake) -> Vec<String> {
        f.stat_asked
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }

    #[test]
    fn empty_dash_needs_no_file() {
        let mut f = Fake::new();
        let (v, steps) = run(&mut f, "", "anything");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            steps,
            vec![Step::DefaultDelivery {
                home: b"/h/joe".to_vec()
            }]
        );
        assert!(f.stat_asked.is_empty());
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
        let mut f = Fake::new().file("/h/joe/.qmail-", 1);
        assert_eq!(run(&mut f, "-", "").0, Verdict::Accept);
        let mut f = Fake::new().file("/h/joe/.qmail-default", 1);
        assert_eq!(run(&mut f, "-", "").0, Verdict::Accept);
    }

    #[test]
    fn first_existing_file_accepts() {
        let mut f = Fake::new()
            .file("/h/joe/.qmail-a-default", 1)
            .file("/h/joe/.qmail-default", 1);
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

        let mut f = Fake::new().file("/h/joe/.qmail-list", 1);
        assert_eq!(run(&mut f, "-", "List").0, Verdict::Accept);
        assert_eq!(asked(&f), ["/h/joe/.qmail-list"]);

        let mut f = Fake::new().file("/h/joe/.qmail-default", 1);
        assert_eq!(run(&mut f, "-", "anything-at-all").0, Verdict::Accept);
    }

    #[test]
    fn other_dash_from_users_cdb() {
        let mut f = Fake::new().file("/h/joe/.qmail+x", 1);
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
    fn stat_errors_accept_and_log() {
        let mut f = Fake::new().stat_error("/h/joe/.qmail-x", libc::EACCES);
        let (v, steps) = run(&mut f, "-", "x");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            steps,
            vec![
                Step::Qmail {
                    path: b"/h/joe/.qmail-x".to_vec(),
                    answer: QmailAnswer::Error {
                        errno: Some(libc::EACCES)
                    }
                },
                Step::Log(b"unable to stat /h/joe/.qmail-x: access denied".to_vec()),
            ]
        );
        let mut f = Fake::new().stat_error("/h/joe/.qmail-default", libc::EIO);
        let (v, steps) = run(&mut f, "-", "x");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(
            steps.last(),
            Some(&Step::Log(
                b"unable to stat /h/joe/.qmail-default: input/output error".to_vec()
            ))
        );
    }

    #[test]
    fn name_too_long_is_absent() {
        let long = "x".repeat(300);
        let mut f = Fake::new().file("/h/joe/.qmail-default", 1);
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

    #[test]
    fn slash_names_are_never_looked_at() {
        let mut f = Fake::new()
            .file("/h/joe/.qmail-default", 1)
            .file("/etc/passwd", 0);
        let (v, steps) = run(&mut f, "-", "a/../../etc-x");
        assert_eq!(v, Verdict::Accept);
        assert_eq!(asked(&f), ["/h/joe/.qmail-default"]);
        assert_eq!(
            steps[..3],
            [
                Step::Qmail {
                    path: b"/h/joe/.qmail-a/::/::/etc-x".to_vec(),
                    answer: QmailAnswer::Unsafe
                },
                Step::Qmail {
                    path: b"/h/joe/.qmail-a/::/::/etc-default".to_vec(),
                    answer: QmailAnswer::Unsafe
                },
                Step::Qmail {
                    path: b"/h/joe/.qmail-default".to_vec(),
                    answer: QmailAnswer::Exists
                },
            ]
        );
        // A slash in the dash (a strange users/assign line) is no way out either.
        let mut f = Fake::new();
        assert_eq!(run(&mut f, "-/", "x").0, Verdict::Unknown);
        assert!(f.stat_asked.is_empty());
    }
}
