//! The operating system's answers: getpwnam and stat.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::User;

use super::{Passwd, System};

/// The real user database (through NSS, as qmail-getpw's getpwnam) and
/// file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSystem;

impl System for RealSystem {
    /// getpwnam_r. The errnos getpwnam(3) lists for "not found" (0, ENOENT,
    /// ESRCH, EBADF, EPERM) are "no such user"; any other error (an NSS
    /// backend down, say) is a temporary failure, where the realrcptto
    /// patch only noticed ETXTBSY.
    ///
    /// nix only takes UTF-8 names; a name that is not UTF-8 is taken as "no
    /// such user" (POSIX user names are portable ASCII, and the mail then
    /// goes the `alias` way, whose `.qmail` names are looked at as bytes).
    fn getpwnam(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        let Ok(text) = std::str::from_utf8(name) else {
            return Ok(None);
        };
        match User::from_name(text) {
            Ok(Some(u)) => Ok(Some(Passwd {
                name: name.to_vec(),
                uid: u.uid.as_raw(),
                dir: u.dir.into_os_string().into_vec(),
            })),
            Ok(None) => Ok(None),
            Err(
                Errno::UnknownErrno | Errno::ENOENT | Errno::ESRCH | Errno::EBADF | Errno::EPERM,
            ) => Ok(None),
            Err(e) => Err(io::Error::from_raw_os_error(e as i32)),
        }
    }

    fn stat_uid(&mut self, path: &[u8]) -> io::Result<u32> {
        std::fs::metadata(Path::new(OsStr::from_bytes(path))).map(|m| m.uid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc;

    #[test]
    fn root_and_missing_users() {
        let mut s = RealSystem;
        let root = s.getpwnam(b"root").unwrap().expect("root exists");
        assert_eq!(root.uid, 0);
        assert_eq!(s.getpwnam(b"no-such-user-qmail-test").unwrap(), None);
        assert_eq!(s.getpwnam(b"\xff\xfe").unwrap(), None);
    }

    #[test]
    fn stat_reports_owner_and_errno() {
        let mut s = RealSystem;
        assert_eq!(s.stat_uid(b"/").unwrap(), 0);
        assert_eq!(
            s.stat_uid(b"/no/such/path").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        let long = format!("/{}", "x".repeat(300));
        assert_eq!(
            s.stat_uid(long.as_bytes()).unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG)
        );
    }
}
