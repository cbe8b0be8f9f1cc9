//! An in-memory [`System`] for tests: a passwd table and a file tree given
//! as path → stat, recording every question it is asked.

use std::collections::HashMap;
use std::io;

use super::{Passwd, Stat, System};
use nix::libc;

/// A cdb file's records, key to data.
type Records = HashMap<Vec<u8>, Vec<u8>>;

#[derive(Default)]
pub struct Fake {
    users: HashMap<Vec<u8>, Result<Passwd, i32>>,
    files: HashMap<Vec<u8>, Result<Stat, i32>>,
    contents: HashMap<Vec<u8>, Result<Vec<u8>, i32>>,
    cdbs: HashMap<Vec<u8>, Result<Records, i32>>,
    pub read_asked: Vec<Vec<u8>>,
    /// vpopmail's SQL tables: valias (alias, domain) and users
    /// ((name, domain) → gid); `sql_down` makes every question fail.
    pub valias: Vec<(Vec<u8>, Vec<u8>)>,
    pub sql_users: HashMap<(Vec<u8>, Vec<u8>), u32>,
    pub sql_down: bool,
    pub sql_asked: Vec<String>,
    pub pw_asked: Vec<Vec<u8>>,
    pub stat_asked: Vec<Vec<u8>>,
}

impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    /// A user (gid = uid) whose home exists, belongs to it and is 0755.
    pub fn user(mut self, name: &str, uid: u32, home: &str) -> Fake {
        let pw = Passwd {
            name: name.into(),
            uid,
            gid: uid,
            dir: home.into(),
        };
        self.users.insert(name.into(), Ok(pw));
        self.files.insert(home.into(), Ok(Stat::dir(uid, 0o755)));
        self
    }

    /// The `alias` user (uid 7790) with this home.
    pub fn alias(self, home: &str) -> Fake {
        self.user("alias", 7790, home)
    }

    /// Gives an existing user another gid.
    pub fn pw_gid(mut self, name: &str, gid: u32) -> Fake {
        if let Some(Ok(pw)) = self.users.get_mut(name.as_bytes()) {
            pw.gid = gid;
        }
        self
    }

    pub fn pw_error(mut self, name: &str, errno: i32) -> Fake {
        self.users.insert(name.into(), Err(errno));
        self
    }

    /// A regular file, mode 0644, owned by `owner` (group `owner` too).
    pub fn file(self, path: &str, owner: u32) -> Fake {
        self.entry(path, Stat::file(owner, 0o644))
    }

    /// Any file, with exactly this stat.
    pub fn entry(mut self, path: &str, st: Stat) -> Fake {
        self.files.insert(path.into(), Ok(st));
        self
    }

    /// A regular file (0644, owned by `owner`) with these contents.
    pub fn text(mut self, path: &str, owner: u32, contents: &str) -> Fake {
        self.contents.insert(path.into(), Ok(contents.into()));
        self.file(path, owner)
    }

    /// Reading PATH fails with this errno (its stat still succeeds).
    pub fn read_error(mut self, path: &str, errno: i32) -> Fake {
        self.contents.insert(path.into(), Err(errno));
        self
    }

    /// A cdb file with these records.
    pub fn cdb(mut self, path: &str, records: &[(&[u8], &[u8])]) -> Fake {
        let map = records
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        self.cdbs.insert(path.into(), Ok(map));
        self.file(path, 0)
    }

    /// Reading the cdb file PATH fails with this errno.
    pub fn cdb_error(mut self, path: &str, errno: i32) -> Fake {
        self.cdbs.insert(path.into(), Err(errno));
        self
    }

    pub fn stat_error(mut self, path: &str, errno: i32) -> Fake {
        self.files.insert(path.into(), Err(errno));
        self
    }

    /// Takes a cdb file away (it no longer exists).
    pub fn remove_cdb(&mut self, path: &str) {
        self.cdbs.remove(path.as_bytes());
        self.files.remove(path.as_bytes());
    }

    pub fn remove_file(&mut self, path: &str) {
        self.files.remove(path.as_bytes());
    }
}

impl Fake {
    /// Whether some known path lies below `dir`.
    fn holds(&self, dir: &[u8]) -> bool {
        self.files
            .keys()
            .chain(
                self.users
                    .values()
                    .filter_map(|u| u.as_ref().ok())
                    .map(|u| &u.dir),
            )
            .any(|p| p.len() > dir.len() && p.starts_with(dir) && p[dir.len()] == b'/')
    }
}

impl System for Fake {
    fn getpwnam(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        self.pw_asked.push(name.to_vec());
        match self.users.get(name) {
            None => Ok(None),
            Some(Ok(pw)) => Ok(Some(pw.clone())),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
        }
    }

    /// Unknown paths do not exist, except that, like Linux, a path
    /// component longer than 255 bytes gives ENAMETOOLONG, and that the
    /// directories above known paths exist.
    fn stat(&mut self, path: &[u8]) -> io::Result<Stat> {
        self.stat_asked.push(path.to_vec());
        match self.files.get(path) {
            Some(Ok(st)) => Ok(*st),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
            None if path.split(|&b| b == b'/').any(|c| c.len() > 255) => {
                Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG))
            }
            // "/" and every directory above a known file: root's, 0755.
            None if path == b"/" || self.holds(path) => Ok(Stat::dir(0, 0o755)),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn read_small(&mut self, path: &[u8], max: usize) -> io::Result<Option<Vec<u8>>> {
        self.read_asked.push(path.to_vec());
        match self.contents.get(path) {
            Some(Ok(c)) => Ok((c.len() <= max).then(|| c.clone())),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
            None if self.files.contains_key(path) => Ok(Some(Vec::new())),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn vpopmail_sql(
        &mut self,
        _conf: &[u8],
        q: &super::SqlQuestion,
    ) -> io::Result<super::SqlAnswer> {
        use super::{SqlAnswer, SqlQuestion};
        self.sql_asked.push(format!("{q:?}"));
        if self.sql_down {
            return Err(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        }
        Ok(match q {
            SqlQuestion::Valias { alias, domain } => {
                SqlAnswer::Valias(self.valias.iter().any(|(a, d)| a == alias && d == domain))
            }
            SqlQuestion::User { name, domain, .. } => SqlAnswer::User(
                self.sql_users
                    .get(&(name.to_vec(), domain.to_vec()))
                    .copied(),
            ),
        })
    }

    fn cdb_get(&mut self, path: &[u8], key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.read_asked.push(path.to_vec());
        match self.cdbs.get(path) {
            Some(Ok(map)) => Ok(map.get(key).cloned()),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
            // Paths the fake does not hold are real files (the tests'
            // users/cdb, written as qmail-newu would).
            None => {
                use std::os::unix::ffi::OsStrExt;
                let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
                crate::cdb::Cdb::open(path)?.get(key)
            }
        }
    }
}
