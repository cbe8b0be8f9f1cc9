//! The steps of the check, as the `qmail-realrcptto` tool prints them.
//!
//! Each step carries its data (tests compare whole step lists) and a
//! one-line English rendering for the operator.

use std::fmt;

use super::errstr::error_str;

/// Bytes shown unambiguously: printable ASCII as is, everything else (8-bit
/// bytes, control characters, the NUL at the end of a users/cdb key) as
/// `\xNN`, backslash as `\\`. Addresses are bytes, and a diagnostic tool must
/// show what is really there.
pub struct Show<'a>(pub &'a [u8]);

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

/// An errno, in qmail's words; `None` (an error without an errno) is
/// "unknown error".
fn reason(errno: Option<i32>) -> &'static str {
    errno.map_or("unknown error", error_str)
}

/// One step of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The address after qmail-send's rewriting (envnoathost, percenthack).
    Rewritten { address: Vec<u8> },
    /// The domain is in control/locals: the local name is the local part.
    LocalDomain { domain: Vec<u8>, local: Vec<u8> },
    /// A control/virtualdomains key matched with a non-empty prefix.
    VirtualDomain {
        key: Vec<u8>,
        prefix: Vec<u8>,
        local: Vec<u8>,
    },
    /// A control/virtualdomains key with an empty prefix: an exception, so
    /// qmail delivers it remotely; not ours to check.
    VirtualException { key: Vec<u8> },
    /// Neither local nor virtual: qmail-send delivers it remotely.
    NotLocal { domain: Vec<u8> },
    /// The local name is empty: qmail-lspawn reports success without
    /// delivering anything.
    EmptyLocal,
    /// There is no users/cdb: qmail-lspawn goes straight to qmail-getpw.
    UsersCdbAbsent,
    /// users/cdb exists but cannot be used: 421.
    UsersCdbTrouble { error: String },
    /// users/cdb has no exact or wildcard record for the local name.
    UsersCdbNoMatch { local: Vec<u8> },
    /// The matching record lacks some of its six fields: qmail-lspawn
    /// stops with a temporary failure.
    UsersCdbShort { key: Vec<u8> },
    /// A users/cdb record matched (`wildcard`: a `+` line of users/assign;
    /// the rest of the local name is already appended to `ext`).
    UsersCdbHit {
        key: Vec<u8>,
        wildcard: bool,
        user: Vec<u8>,
        uid: u32,
        home: Vec<u8>,
        dash: Vec<u8>,
        ext: Vec<u8>,
    },
    /// qmail-getpw considered the user name `name`.
    Passwd { name: Vec<u8>, answer: PwAnswer },
    /// No user name matched: qmail delivers as `alias` (home `None`: there is
    /// no `alias` user).
    Alias { home: Option<Vec<u8>>, ext: Vec<u8> },
    /// The home directory is not an absolute path: qmail-local stops with
    /// its usage message (exit 100), so qmail bounces.
    HomeNotAbsolute { home: Vec<u8> },
    /// The home directory passed qmail-local's checks (it can enter it; not
    /// writable by others; not sticky).
    HomeOk { home: Vec<u8> },
    /// qmaild cannot look at the home directory (EACCES): the user may well
    /// reach it, so nothing can be proved. Accepted.
    HomeUnseen { home: Vec<u8>, errno: Option<i32> },
    /// No `.qmail` file, and an empty dash: the user's default delivery.
    DefaultDelivery { home: Vec<u8> },
    /// qmail-local's search looked at this `.qmail` path.
    Qmail { path: Vec<u8>, answer: QmailAnswer },
    /// No `.qmail` file applies: qmail-local would bounce.
    NoQmailFile,
    /// What a line of the `.qmail` file qmail-local uses means for this
    /// recipient (an empty `line`: the file as a whole).
    DotQmail {
        path: Vec<u8>,
        line: Vec<u8>,
        finding: String,
    },
    /// qmail would defer this recipient (try again later): the check
    /// answers 4xx.
    Deferred(Deferral),
    /// A line the server writes to its log (stderr) at this point.
    Log(Vec<u8>),
}

/// What qmail-getpw found for one candidate user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PwAnswer {
    /// 32 bytes or longer: qmail-getpw never asks for such a name.
    TooLong,
    NoSuchUser,
    /// The user database failed temporarily: 421.
    Trouble {
        errno: Option<i32>,
    },
    /// uid 0: qmail never delivers to root.
    Root {
        uid: u32,
    },
    /// The home directory is not owned by the user.
    HomeNotOwned {
        uid: u32,
        home: Vec<u8>,
        owner: u32,
    },
    /// `stat` of the home directory failed for a reason that is not
    /// temporary (it does not exist; or qmail-getpw, unprivileged like the
    /// check, may not look): qmail-getpw tries the next name.
    HomeMissing {
        uid: u32,
        home: Vec<u8>,
        errno: Option<i32>,
    },
    /// The home directory exists and belongs to the user, but qmail-getpw,
    /// running as qmailp, may not search a directory on the way to it, so
    /// for qmail this name does not match.
    HiddenFromQmailp {
        uid: u32,
        home: Vec<u8>,
    },
    /// qmaild may not look at the home (EACCES) but qmail-getpw, as
    /// qmailp, might: nothing can be proved. Accepted.
    HomeUnseen {
        uid: u32,
        home: Vec<u8>,
    },
    /// The home directory lookup failed temporarily: 421.
    HomeTrouble {
        uid: u32,
        home: Vec<u8>,
        errno: Option<i32>,
    },
    /// This user receives the mail.
    Chosen {
        uid: u32,
        home: Vec<u8>,
        dash: Vec<u8>,
        ext: Vec<u8>,
    },
}

/// What a look at one `.qmail` path gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmailAnswer {
    /// A regular file the user can read: qmail-local uses it.
    Exists,
    Absent,
    /// ENAMETOOLONG: no file can have that name.
    NameTooLong,
    /// ENOTDIR or ELOOP: the name leads through a non-directory or a
    /// symbolic link loop; qmail-local's open fails the same way and it
    /// goes on searching.
    Unreachable {
        errno: Option<i32>,
    },
    /// A directory, device, FIFO or socket: qmail-local counts only
    /// regular files and goes on searching.
    NotRegular,
    /// The user may not read it: qmail-local defers.
    Unreadable,
    /// Group- or other-writable: qmail-local defers.
    Writable,
    /// qmaild may not look (EACCES, or an unexpected error): logged, and
    /// the recipient accepted.
    Unseen {
        errno: Option<i32>,
    },
    /// A temporary failure: qmail-local would defer too.
    Trouble {
        errno: Option<i32>,
    },
}

/// Why qmail would defer, rather than deliver or bounce, a recipient: each
/// is a temporary failure (exit 111 or a `Z` report) of qmail-lspawn or
/// qmail-local before anything is delivered, so qmail retries until the
/// cause is gone. The check answers 4xx; the sender retries the same way.
/// The texts are qmail's own, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferral {
    /// qmail-lspawn: a users/cdb record without all six fields.
    ShortRecord { key: Vec<u8> },
    /// qmail-getpw: no user name matched and there is no `alias` user.
    NoAlias,
    /// qmail-lspawn refuses to run qmail-local as uid 0 (a users/cdb
    /// record or the `alias` user; qmail-getpw skips other uid-0 users).
    Root { user: Vec<u8> },
    /// qmail-local cannot chdir to the home directory.
    NoHome { home: Vec<u8>, errno: Option<i32> },
    /// The home directory is writable by group or others.
    HomeWritable { home: Vec<u8> },
    /// The home directory has the sticky bit.
    HomeSticky { home: Vec<u8> },
    /// qmail-local cannot open this `.qmail` file (no read permission for
    /// the user, or a temporary error).
    QmailUnopenable { path: Vec<u8>, errno: Option<i32> },
    /// The `.qmail` file is writable by group or others.
    QmailWritable { path: Vec<u8> },
    /// The first line of the `.qmail` file is blank.
    FirstLineBlank { path: Vec<u8> },
    /// A file or program delivery in a forward-only `.qmail` file (its
    /// owner's execute bit is set, or a `+list` line came first).
    ForwardOnly { path: Vec<u8> },
    /// A database the `.qmail` file points to (a vpasswd.cdb, a
    /// fastforward cdb) cannot be read: the check cannot tell whether this
    /// recipient exists, and will not guess.
    CannotLook { path: Vec<u8>, errno: Option<i32> },
    /// A program the `.qmail` file runs would exit 111 (vdelivermail with
    /// the wrong number of arguments, say).
    ProgramDefers { program: Vec<u8>, why: String },
    /// vpopmail's MySQL database (its settings in `conf`) could not answer:
    /// down, slow, refusing the query, or its helper failed.
    Database { conf: Vec<u8>, reason: String },
}

impl fmt::Display for Deferral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deferral::ShortRecord { key } => write!(
                f,
                "Internal qmail-lspawn bug. (qmail-lspawn: users/cdb record \"{}\" has too few fields)",
                Show(key)
            ),
            Deferral::NoAlias => f.write_str(
                "Unable to find alias user! (qmail-lspawn: no user name matched and there is no user alias)",
            ),
            Deferral::Root { user } => write!(
                f,
                "Not allowed to perform deliveries as root. (qmail-lspawn: user {} has uid 0)",
                Show(user)
            ),
            Deferral::NoHome { home, errno } => write!(
                f,
                "Unable to switch to {}: {}. (qmail-local)",
                Show(home),
                reason(*errno)
            ),
            Deferral::HomeWritable { home } => write!(
                f,
                "Uh-oh: home directory is writable. (qmail-local: {})",
                Show(home)
            ),
            Deferral::HomeSticky { home } => write!(
                f,
                "Home directory is sticky: user is editing his .qmail file. (qmail-local: {})",
                Show(home)
            ),
            Deferral::QmailUnopenable { path, errno } => write!(
                f,
                "Unable to open {}: {}. (qmail-local)",
                Show(path),
                reason(*errno)
            ),
            Deferral::QmailWritable { path } => write!(
                f,
                "Uh-oh: .qmail file is writable. (qmail-local: {})",
                Show(path)
            ),
            Deferral::FirstLineBlank { path } => write!(
                f,
                "Uh-oh: first line of .qmail file is blank. (qmail-local: {})",
                Show(path)
            ),
            Deferral::ForwardOnly { path } => write!(
                f,
                "Uh-oh: .qmail has file or program delivery but has x bit set. (qmail-local: {})",
                Show(path)
            ),
            Deferral::ProgramDefers { program, why } => {
                write!(f, "{why} (qmail-local runs {})", Show(program))
            }
            Deferral::CannotLook { path, errno } => write!(
                f,
                "unable to read {}: {}: cannot tell whether this recipient exists",
                Show(path),
                reason(*errno)
            ),
            Deferral::Database { conf, reason } => write!(
                f,
                "unable to ask vpopmail's MySQL database ({}): {reason}: cannot tell whether this recipient exists",
                Show(conf)
            ),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Rewritten { address } => {
                write!(f, "after qmail-send's rewriting: {}", Show(address))
            }
            Step::LocalDomain { domain, local } => {
                write!(
                    f,
                    "{} is in control/locals: local name {}",
                    Show(domain),
                    Show(local)
                )
            }
            Step::VirtualDomain { key, prefix, local } => write!(
                f,
                "control/virtualdomains: key \"{}\" gives prefix \"{}\": local name {}",
                Show(key),
                Show(prefix),
                Show(local)
            ),
            Step::VirtualException { key } => write!(
                f,
                "control/virtualdomains: key \"{}\" has an empty prefix (an exception): not delivered here, not checked",
                Show(key)
            ),
            Step::NotLocal { domain } => write!(
                f,
                "{} is in neither control/locals nor control/virtualdomains: not delivered here, not checked",
                Show(domain)
            ),
            Step::EmptyLocal => {
                f.write_str("empty local name: qmail-lspawn delivers nothing and reports success")
            }
            Step::UsersCdbAbsent => {
                f.write_str("users/cdb does not exist: asking the system user database")
            }
            Step::UsersCdbTrouble { error } => write!(f, "unable to read users/cdb: {error}"),
            Step::UsersCdbNoMatch { local } => {
                write!(
                    f,
                    "users/cdb: no exact or wildcard record for {}",
                    Show(local)
                )
            }
            Step::UsersCdbShort { key } => {
                write!(f, "users/cdb: record \"{}\" has too few fields", Show(key))
            }
            Step::UsersCdbHit {
                key,
                wildcard,
                user,
                uid,
                home,
                dash,
                ext,
            } => write!(
                f,
                "users/cdb: {} record \"{}\": user {} (uid {uid}), home {}, dash \"{}\", extension \"{}\"",
                if *wildcard { "wildcard" } else { "exact" },
                Show(key),
                Show(user),
                Show(home),
                Show(dash),
                Show(ext)
            ),
            Step::Passwd { name, answer } => fmt_passwd(f, name, answer),
            Step::Alias {
                home: Some(home),
                ext,
            } => write!(
                f,
                "no user name matched: user alias, home {}, dash \"-\", extension \"{}\"",
                Show(home),
                Show(ext)
            ),
            Step::Alias { home: None, .. } => {
                f.write_str("no user name matched and there is no user alias")
            }
            Step::HomeNotAbsolute { home } => write!(
                f,
                "home {} is not an absolute path: qmail-local stops with its usage message, and qmail bounces",
                Show(home)
            ),
            Step::HomeOk { home } => write!(
                f,
                "home {}: the user can enter it; not writable by others, not sticky",
                Show(home)
            ),
            Step::HomeUnseen { home, errno } => write!(
                f,
                "home {}: unable to stat: {}: cannot check, accepted",
                Show(home),
                reason(*errno)
            ),
            Step::DefaultDelivery { home } => write!(
                f,
                "no .qmail file and an empty dash: the default delivery of home {}",
                Show(home)
            ),
            Step::Qmail { path, answer } => fmt_qmail(f, path, answer),
            Step::NoQmailFile => f.write_str("no .qmail file applies: qmail-local would bounce"),
            Step::DotQmail {
                path,
                line,
                finding,
            } if line.is_empty() => write!(f, "{}: {finding}", Show(path)),
            Step::DotQmail {
                path,
                line,
                finding,
            } => write!(f, "{}: line \"{}\": {finding}", Show(path), Show(line)),
            Step::Deferred(why) => write!(f, "qmail would defer (try again later): {why}"),
            Step::Log(line) => write!(f, "logged: {}", Show(line)),
        }
    }
}

fn fmt_passwd(f: &mut fmt::Formatter<'_>, name: &[u8], answer: &PwAnswer) -> fmt::Result {
    let name = Show(name);
    match answer {
        PwAnswer::TooLong => {
            write!(
                f,
                "passwd: \"{name}\" is 32 bytes or longer: never a user name"
            )
        }
        PwAnswer::NoSuchUser => write!(f, "passwd: no user \"{name}\""),
        PwAnswer::Trouble { errno } => {
            write!(
                f,
                "passwd: looking up \"{name}\" failed: {}",
                reason(*errno)
            )
        }
        PwAnswer::Root { uid } => {
            write!(
                f,
                "passwd: {name} has uid {uid}: qmail never delivers to root"
            )
        }
        PwAnswer::HomeNotOwned { uid, home, owner } => write!(
            f,
            "passwd: {name} (uid {uid}): home {} is owned by uid {owner}, not by the user",
            Show(home)
        ),
        PwAnswer::HomeMissing { uid, home, errno } => {
            write!(
                f,
                "passwd: {name} (uid {uid}): home {}: {}",
                Show(home),
                reason(*errno)
            )
        }
        PwAnswer::HiddenFromQmailp { uid, home } => write!(
            f,
            "passwd: {name} (uid {uid}): home {}: qmail-getpw runs as qmailp, which may not search a directory on the way: no match",
            Show(home)
        ),
        PwAnswer::HomeUnseen { uid, home } => write!(
            f,
            "passwd: {name} (uid {uid}): home {}: access denied, but qmail-getpw (as qmailp) may see it: cannot check, accepted",
            Show(home)
        ),
        PwAnswer::HomeTrouble { uid, home, errno } => write!(
            f,
            "passwd: {name} (uid {uid}): home {}: {} (temporary)",
            Show(home),
            reason(*errno)
        ),
        PwAnswer::Chosen {
            uid,
            home,
            dash,
            ext,
        } => write!(
            f,
            "passwd: user {name} (uid {uid}), home {}, dash \"{}\", extension \"{}\"",
            Show(home),
            Show(dash),
            Show(ext)
        ),
    }
}

fn fmt_qmail(f: &mut fmt::Formatter<'_>, path: &[u8], answer: &QmailAnswer) -> fmt::Result {
    let path = Show(path);
    match answer {
        QmailAnswer::Exists => write!(f, "{path}: exists"),
        QmailAnswer::Absent => write!(f, "{path}: does not exist"),
        QmailAnswer::NameTooLong => write!(f, "{path}: name too long, cannot exist"),
        QmailAnswer::Unreachable { errno } => {
            write!(f, "{path}: {}: cannot exist", reason(*errno))
        }
        QmailAnswer::NotRegular => {
            write!(f, "{path}: not a regular file: qmail-local does not use it")
        }
        QmailAnswer::Unreadable => write!(f, "{path}: the user may not read it"),
        QmailAnswer::Writable => write!(f, "{path}: writable by group or others"),
        QmailAnswer::Unseen { errno } => {
            write!(f, "{path}: unable to stat: {}: accepted", reason(*errno))
        }
        QmailAnswer::Trouble { errno } => {
            write!(f, "{path}: unable to stat: {} (temporary)", reason(*errno))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_escapes_what_is_not_printable() {
        assert_eq!(Show(b"!joe\0").to_string(), "!joe\\x00");
        assert_eq!(Show(b"a\\b \xe9\n").to_string(), "a\\\\b \\xe9\\x0a");
    }

    #[test]
    fn steps_read_as_sentences() {
        let s = Step::Qmail {
            path: b"/h/.qmail-x".to_vec(),
            answer: QmailAnswer::Unseen {
                errno: Some(nix::libc::EACCES),
            },
        };
        assert_eq!(
            s.to_string(),
            "/h/.qmail-x: unable to stat: access denied: accepted"
        );
        let s = Step::Passwd {
            name: b"joe".to_vec(),
            answer: PwAnswer::NoSuchUser,
        };
        assert_eq!(s.to_string(), "passwd: no user \"joe\"");
        let s = Step::Log(b"unable to stat /h: access denied".to_vec());
        assert_eq!(s.to_string(), "logged: unable to stat /h: access denied");
    }
}
