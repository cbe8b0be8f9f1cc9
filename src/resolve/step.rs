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
    /// There is no users/cdb: qmail-lspawn goes straight to qmail-getpw.
    UsersCdbAbsent,
    /// users/cdb exists but cannot be used: 421.
    UsersCdbTrouble { error: String },
    /// users/cdb has no exact or wildcard record for the local name.
    UsersCdbNoMatch { local: Vec<u8> },
    /// The matching record has too few fields; qmail-lspawn's realrcptto
    /// reading gives up and accepts.
    UsersCdbShort { key: Vec<u8> },
    /// A users/cdb record matched (`wildcard`: a `+` line of users/assign;
    /// the rest of the local name is already appended to `ext`).
    UsersCdbHit {
        key: Vec<u8>,
        wildcard: bool,
        user: Vec<u8>,
        home: Vec<u8>,
        dash: Vec<u8>,
        ext: Vec<u8>,
    },
    /// qmail-getpw considered the user name `name`.
    Passwd { name: Vec<u8>, answer: PwAnswer },
    /// No user name matched: qmail delivers as `alias` (home `None`: there is
    /// no `alias` user, so the recipient is unknown).
    Alias { home: Option<Vec<u8>>, ext: Vec<u8> },
    /// Empty dash: the user's default delivery, which needs no `.qmail`.
    DefaultDelivery { home: Vec<u8> },
    /// qmail-local's search looked at (or skipped) this `.qmail` path.
    Qmail { path: Vec<u8>, answer: QmailAnswer },
    /// No `.qmail` file applies: qmail-local would bounce.
    NoQmailFile,
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
    /// The home directory cannot be looked at for a reason that means "no"
    /// (it does not exist, say): qmail-getpw tries the next name.
    HomeMissing {
        uid: u32,
        home: Vec<u8>,
        errno: Option<i32>,
    },
    /// We may not look into the directory holding the home (EACCES); qmail,
    /// running as root, could. Accepted.
    HomeDenied {
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
    Exists,
    Absent,
    /// ENAMETOOLONG: no file can have that name.
    NameTooLong,
    /// The name would contain `/` after `.qmail`: it would lead out of the
    /// home directory's own files, so it is never looked at.
    Unsafe,
    /// Any other failure: logged, and the recipient accepted.
    Error {
        errno: Option<i32>,
    },
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
                write!(
                    f,
                    "users/cdb: record \"{}\" has too few fields: accepted",
                    Show(key)
                )
            }
            Step::UsersCdbHit {
                key,
                wildcard,
                user,
                home,
                dash,
                ext,
            } => write!(
                f,
                "users/cdb: {} record \"{}\": user {}, home {}, dash \"{}\", extension \"{}\"",
                if *wildcard { "wildcard" } else { "exact" },
                Show(key),
                Show(user),
                Show(home),
                Show(dash),
                Show(ext)
            ),
            Step::Passwd { name, answer } => {
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
                    PwAnswer::HomeDenied { uid, home } => write!(
                        f,
                        "passwd: {name} (uid {uid}): home {}: access denied: cannot check, accepted",
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
                f.write_str("no user name matched and there is no user alias: nobody to deliver to")
            }
            Step::DefaultDelivery { home } => write!(
                f,
                "empty dash: the default delivery of home {}, which needs no .qmail file",
                Show(home)
            ),
            Step::Qmail { path, answer } => {
                let path = Show(path);
                match answer {
                    QmailAnswer::Exists => write!(f, "{path}: exists"),
                    QmailAnswer::Absent => write!(f, "{path}: does not exist"),
                    QmailAnswer::NameTooLong => write!(f, "{path}: name too long, cannot exist"),
                    QmailAnswer::Unsafe => {
                        write!(f, "{path}: has '/' after .qmail: never looked at")
                    }
                    QmailAnswer::Error { errno } => {
                        write!(f, "{path}: unable to stat: {}: accepted", reason(*errno))
                    }
                }
            }
            Step::NoQmailFile => f.write_str("no .qmail file applies: qmail-local would bounce"),
            Step::Log(line) => write!(f, "logged: {}", Show(line)),
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
            answer: QmailAnswer::Error {
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
