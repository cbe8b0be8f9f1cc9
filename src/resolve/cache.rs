//! Per-session memory of passwd and stat answers.
//!
//! A dictionary attack sends many recipients that share user names and
//! `.qmail` paths (`alias`, `.qmail-default`, the same home again and
//! again). Each distinct question goes to the system once per session.
//! Only answers are kept, never temporary failures (those end the session
//! or are retried). Each table holds at most [`LIMIT`] entries and is
//! emptied when full, so memory stays bounded whatever the client sends.

use std::collections::HashMap;
use std::io;

use super::errstr::is_temporary;
use super::{Passwd, Stat, System};
use nix::libc;

/// Entries per table. Names are under 32 bytes and paths under a few
/// hundred, so this is well under a megabyte.
pub const LIMIT: usize = 1024;

pub struct Cached<S> {
    inner: S,
    users: HashMap<Vec<u8>, Option<Passwd>>,
    stats: HashMap<Vec<u8>, Result<Stat, i32>>,
}

impl<S> Cached<S> {
    pub fn new(inner: S) -> Self {
        Cached {
            inner,
            users: HashMap::new(),
            stats: HashMap::new(),
        }
    }
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn remember<V>(table: &mut HashMap<Vec<u8>, V>, key: &[u8], value: V) {
    if table.len() >= LIMIT {
        table.clear();
    }
    table.insert(key.to_vec(), value);
}

impl<S: System> System for Cached<S> {
    /// A name with a NUL cannot be in the user database (C strings end
    /// there); it is "no such user" without asking.
    fn getpwnam(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        if name.contains(&0) {
            return Ok(None);
        }
        if let Some(answer) = self.users.get(name) {
            return Ok(answer.clone());
        }
        let answer = self.inner.getpwnam(name)?;
        remember(&mut self.users, name, answer.clone());
        Ok(answer)
    }

    /// A path with a NUL cannot exist: ENOENT without asking.
    fn stat(&mut self, path: &[u8]) -> io::Result<Stat> {
        if path.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        if let Some(answer) = self.stats.get(path) {
            return answer.map_err(io::Error::from_raw_os_error);
        }
        let answer = self.inner.stat(path);
        match &answer {
            Ok(st) => remember(&mut self.stats, path, Ok(*st)),
            Err(e) => {
                if let Some(errno) = e.raw_os_error().filter(|&n| !is_temporary(n)) {
                    remember(&mut self.stats, path, Err(errno));
                }
            }
        }
        answer
    }

    /// Not cached: a `.qmail` file is read at most once per recipient, and
    /// only at the end of the search.
    fn read_small(&mut self, path: &[u8], max: usize) -> io::Result<Option<Vec<u8>>> {
        if path.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.inner.read_small(path, max)
    }

    fn vpopmail_sql(
        &mut self,
        conf: &[u8],
        q: &super::SqlQuestion,
    ) -> io::Result<super::SqlAnswer> {
        self.inner.vpopmail_sql(conf, q)
    }

    /// The system below keeps the files open; lookups are not cached.
    fn cdb_get(&mut self, path: &[u8], key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        if path.contains(&0) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.inner.cdb_get(path, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::fake::Fake;

    #[test]
    fn each_question_asked_once() {
        let mut c = Cached::new(Fake::new().user("joe", 5001, "/h/joe"));
        for _ in 0..3 {
            assert_eq!(c.getpwnam(b"joe").unwrap().unwrap().uid, 5001);
            assert_eq!(c.getpwnam(b"nobody").unwrap(), None);
            assert_eq!(c.stat(b"/h/joe").unwrap().uid, 5001);
            assert_eq!(
                c.stat(b"/h/joe/.qmail-x").unwrap_err().raw_os_error(),
                Some(libc::ENOENT)
            );
        }
        assert_eq!(c.inner().pw_asked, [b"joe".to_vec(), b"nobody".to_vec()]);
        assert_eq!(
            c.inner().stat_asked,
            [b"/h/joe".to_vec(), b"/h/joe/.qmail-x".to_vec()]
        );
    }

    #[test]
    fn failures_are_not_remembered() {
        let mut c = Cached::new(
            Fake::new()
                .pw_error("joe", libc::EIO)
                .stat_error("/x", libc::EIO)
                .stat_error("/y", libc::EACCES),
        );
        for _ in 0..2 {
            assert!(c.getpwnam(b"joe").is_err());
            assert!(c.stat(b"/x").is_err());
            assert_eq!(
                c.stat(b"/y").unwrap_err().raw_os_error(),
                Some(libc::EACCES)
            );
        }
        assert_eq!(c.inner().pw_asked.len(), 2);
        assert_eq!(
            c.inner().stat_asked,
            [b"/x".to_vec(), b"/y".to_vec(), b"/x".to_vec()]
        );
    }

    #[test]
    fn nul_never_reaches_the_system() {
        let mut c = Cached::new(Fake::new());
        assert_eq!(c.getpwnam(b"jo\0e").unwrap(), None);
        assert_eq!(
            c.stat(b"/h/.qmail-\0").unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        assert!(c.inner().pw_asked.is_empty() && c.inner().stat_asked.is_empty());
    }

    #[test]
    fn bounded() {
        let mut c = Cached::new(Fake::new());
        for i in 0..(3 * LIMIT) {
            let _ = c.stat(format!("/p{i}").as_bytes());
            let _ = c.getpwnam(format!("u{i}").as_bytes());
            assert!(c.stats.len() <= LIMIT && c.users.len() <= LIMIT);
        }
        // Still answers correctly after being emptied.
        assert_eq!(c.getpwnam(b"u0").unwrap(), None);
    }
}
