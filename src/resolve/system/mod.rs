//! The operating system's answers: getpwnam, stat, file contents, cdb
//! lookups, and vpopmail's MySQL database through its helper.
//!
//! This is the crate's one `unsafe` block: getpwnam_r called with the
//! name's bytes. nix's `User::from_name` takes a `&str`, and qmail-getpw
//! hands getpwnam whatever bytes the local name has (a latin-1 `j\xf6rg`
//! is a real user on old systems): a user name must never be dropped for
//! not being UTF-8.

pub mod sqlhelper;

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::libc;

use super::{Passwd, SqlAnswer, SqlQuestion, Stat, System};
use crate::cdb::Cdb;
use sqlhelper::SqlHelper;

/// The real user database (through NSS, as qmail-getpw's getpwnam) and
/// file system. cdb files stay open for the session (a vpopmail domain's
/// vpasswd.cdb, a fastforward cdb): a handful at most, bounded. So does
/// the MySQL helper, once a question has started it.
#[derive(Debug, Default)]
pub struct RealSystem {
    cdbs: Vec<(Vec<u8>, Cdb)>,
    sql: Option<SqlHelper>,
}

/// cdb files kept open per session; the oldest is closed beyond this.
const OPEN_CDBS: usize = 8;

/// getpwnam_r's buffer starts here and doubles on ERANGE up to the limit
/// (a passwd entry longer than a megabyte is an error, not a reason to
/// grow without bound).
const PWBUF_START: usize = 1024;
const PWBUF_LIMIT: usize = 1 << 20;

impl System for RealSystem {
    /// getpwnam_r. The errnos getpwnam(3) lists for "not found" (0, ENOENT,
    /// ESRCH, EBADF, EPERM) are "no such user"; any other error (an NSS
    /// backend down, say) is a temporary failure, where the realrcptto
    /// patch only noticed ETXTBSY.
    fn getpwnam(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        // A name with a NUL cannot be in the user database.
        let Ok(cname) = CString::new(name) else {
            return Ok(None);
        };
        let mut buf = vec![0u8; PWBUF_START];
        loop {
            match getpwnam_r(&cname, &mut buf) {
                Err(libc::ERANGE) if buf.len() < PWBUF_LIMIT => {
                    buf.resize(buf.len() * 2, 0);
                }
                Err(0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM) => return Ok(None),
                Err(errno) => return Err(io::Error::from_raw_os_error(errno)),
                Ok(pw) => return Ok(pw),
            }
        }
    }

    fn stat(&mut self, path: &[u8]) -> io::Result<Stat> {
        std::fs::metadata(Path::new(OsStr::from_bytes(path))).map(|m| Stat {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode(),
        })
    }

    fn read_small(&mut self, path: &[u8], max: usize) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let file = std::fs::File::open(Path::new(OsStr::from_bytes(path)))?;
        let mut buf = Vec::new();
        file.take(max as u64 + 1).read_to_end(&mut buf)?;
        Ok((buf.len() <= max).then_some(buf))
    }

    /// Through bin/qmail-vpopmail-sql, started on the session's first
    /// question and kept for it (see [`SqlHelper`]). One vpopmail
    /// installation per session is the rule; a question about another
    /// settings file replaces the helper.
    fn vpopmail_sql(&mut self, conf: &[u8], q: &SqlQuestion) -> io::Result<SqlAnswer> {
        if self.sql.as_ref().is_none_or(|h| h.conf() != conf) {
            self.sql = Some(SqlHelper::new(conf));
        }
        self.sql.as_mut().expect("set above").ask(q)
    }

    fn cdb_get(&mut self, path: &[u8], key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let i = match self.cdbs.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                let cdb = Cdb::open(Path::new(OsStr::from_bytes(path)))?;
                if self.cdbs.len() >= OPEN_CDBS {
                    self.cdbs.remove(0);
                }
                self.cdbs.push((path.to_vec(), cdb));
                self.cdbs.len() - 1
            }
        };
        self.cdbs[i].1.get(key)
    }
}

/// One call of getpwnam_r(3) with `buf` as its string space: Ok(None) for
/// "no entry", Err(errno) for a failure (ERANGE: `buf` is too small).
#[allow(unsafe_code)]
fn getpwnam_r(name: &CStr, buf: &mut [u8]) -> Result<Option<Passwd>, i32> {
    // SAFETY: every pointer passed is valid for the call: `name` is a NUL
    // terminated string, `pwd` and `result` are local, and `buf` is
    // writable for `buf.len()` bytes. On success `result` is either null
    // or points to `pwd`, whose string fields point into `buf`, which
    // outlives their use here: each is copied out before returning.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 {
            return Err(rc);
        }
        if result.is_null() {
            return Ok(None);
        }
        let text = |p: *const libc::c_char| {
            if p.is_null() {
                Vec::new()
            } else {
                CStr::from_ptr(p).to_bytes().to_vec()
            }
        };
        Ok(Some(Passwd {
            name: text(pwd.pw_name),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            dir: text(pwd.pw_dir),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc;

    #[test]
    fn root_and_missing_users() {
        let mut s = RealSystem::default();
        let root = s.getpwnam(b"root").unwrap().expect("root exists");
        assert_eq!(root.uid, 0);
        assert_eq!(s.getpwnam(b"no-such-user-qmail-test").unwrap(), None);
        assert_eq!(s.getpwnam(b"\xff\xfe").unwrap(), None);
        assert_eq!(s.getpwnam(b"ro\0ot").unwrap(), None);
    }

    #[test]
    fn stat_reports_owner_and_errno() {
        let mut s = RealSystem::default();
        let root = s.stat(b"/").unwrap();
        assert_eq!((root.uid, root.mode & 0o170000), (0, 0o040000));
        assert_eq!(
            s.stat(b"/no/such/path").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        let long = format!("/{}", "x".repeat(300));
        assert_eq!(
            s.stat(long.as_bytes()).unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG)
        );
    }
}
