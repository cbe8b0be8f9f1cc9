//! Reading cdb files (users/cdb, control/morercpthosts.cdb) as qmail's own
//! `cdb_seek` does: a positioned read of the key's hash-table pointer, of
//! the slots it probes and of the record, nothing else.
//!
//! Memory does not grow with the file. A 1,000,000-entry users/cdb (some
//! 60 MB) costs a lookup a few small reads, whatever the softlimit: a
//! reader that maps the file (the cdb2 crate does) has the whole mapping
//! count against `softlimit -m`, and a large virtual-hosting site's users/cdb
//! then makes every RCPT a 421. The format is djb's: a 2048-byte header of
//! 256 (position, slot count) pairs, records of (key length, data length,
//! key, data), hash tables of (hash, record position) slots, all numbers
//! 32-bit little-endian.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A cdb as the session consults it (control/morercpthosts.cdb and the
/// validrcptto files): a trait, so that the session never opens a file and
/// tests can hand it a map.
pub trait Lookup {
    /// The data of the first record with this key; `Ok(None)` when there is
    /// none. `Err` says which file could not be read, and why.
    fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
}

/// A cdb file opened at start-up and kept open for the session, as qmail
/// keeps morercpthosts.cdb and the validrcptto patches their cdbs: one
/// open per connection, and a rebuild that renames a new file into place
/// does not change what this connection sees. Errors name the file.
#[derive(Debug)]
pub struct Named {
    path: PathBuf,
    cdb: Cdb,
}

impl Named {
    /// Opens `path`; `Err` names it.
    pub fn open(path: PathBuf) -> io::Result<Named> {
        match File::open(&path) {
            Ok(file) => Ok(Named {
                path,
                cdb: Cdb { file },
            }),
            Err(e) => Err(crate::control::naming(&path, e)),
        }
    }

    /// As [`Named::open`], with `Ok(None)` when the file does not exist
    /// (the common case, at every connection: no error text is made for it).
    pub fn open_if_exists(path: PathBuf) -> io::Result<Option<Named>> {
        match File::open(&path) {
            Ok(file) => Ok(Some(Named {
                path,
                cdb: Cdb { file },
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::control::naming(&path, e)),
        }
    }
}

impl Lookup for Named {
    fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.cdb
            .get(key)
            .map_err(|e| crate::control::naming(&self.path, e))
    }
}

/// A map standing in for a cdb (tests, fuzzing).
impl Lookup for BTreeMap<Vec<u8>, Vec<u8>> {
    fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// An open cdb file.
#[derive(Debug)]
pub struct Cdb {
    file: File,
}

/// cdb's hash: djb's, starting at 5381, `h = (h * 33) ^ byte`.
pub fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h.wrapping_shl(5).wrapping_add(h)) ^ u32::from(c)
    })
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("damaged cdb: {what}"))
}

impl Cdb {
    pub fn open(path: &Path) -> io::Result<Cdb> {
        Ok(Cdb {
            file: File::open(path)?,
        })
    }

    /// Two little-endian u32 at `pos`. A file too short to hold them is
    /// damaged (qmail's cdb_seek fails the same way).
    fn pair(&self, pos: u64) -> io::Result<(u32, u32)> {
        let mut b = [0u8; 8];
        self.file.read_exact_at(&mut b, pos).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                damaged("pointer past the end of the file")
            } else {
                e
            }
        })?;
        let (x, y) = b.split_at(4);
        Ok((
            u32::from_le_bytes(x.try_into().expect("4 bytes")),
            u32::from_le_bytes(y.try_into().expect("4 bytes")),
        ))
    }

    fn bytes(&self, pos: u64, len: u32) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; len as usize];
        self.file.read_exact_at(&mut v, pos).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                damaged("record past the end of the file")
            } else {
                e
            }
        })?;
        Ok(v)
    }

    /// The data of the first record with this key; `Ok(None)` when there
    /// is none.
    pub fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let h = hash(key);
        let (table, slots) = self.pair(u64::from(h & 0xff) * 8)?;
        if slots == 0 {
            return Ok(None);
        }
        let start = (h >> 8) % slots;
        for i in 0..slots {
            let slot = (start + i) % slots;
            let (slot_hash, record) = self.pair(u64::from(table) + u64::from(slot) * 8)?;
            if record == 0 {
                return Ok(None);
            }
            if slot_hash != h {
                continue;
            }
            let (klen, dlen) = self.pair(u64::from(record))?;
            if klen as usize != key.len() {
                continue;
            }
            let data_at = u64::from(record) + 8;
            if self.bytes(data_at, klen)? == key {
                return self.bytes(data_at + u64::from(klen), dlen).map(Some);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    fn write(path: &Path, records: &[(&[u8], &[u8])]) {
        let mut w = cdb2::CDBWriter::create(path).unwrap();
        for (k, v) in records {
            w.add(k, v).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn finds_what_a_writer_wrote_and_nothing_else() {
        let dir = TempDir::new("cdb-rw");
        let path = dir.join("x.cdb");
        let keys: Vec<Vec<u8>> = (0..2000).map(|i| format!("key{i}").into_bytes()).collect();
        let mut records: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &k[1..])).collect();
        records.push((b"", b"empty key"));
        records.push((b"dup", b"first"));
        records.push((b"dup", b"second"));
        write(&path, &records);
        let cdb = Cdb::open(&path).unwrap();
        for k in &keys {
            assert_eq!(cdb.get(k).unwrap().as_deref(), Some(&k[1..]));
        }
        assert_eq!(cdb.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
        assert_eq!(cdb.get(b"dup").unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(cdb.get(b"key2000").unwrap(), None);
        assert_eq!(cdb.get(b"nope").unwrap(), None);
    }

    #[test]
    fn an_empty_cdb_has_no_keys() {
        let dir = TempDir::new("cdb-empty");
        let path = dir.join("x.cdb");
        write(&path, &[]);
        assert_eq!(Cdb::open(&path).unwrap().get(b"a").unwrap(), None);
    }

    #[test]
    fn damage_is_an_error_not_a_miss() {
        let dir = TempDir::new("cdb-damaged");
        // Shorter than the header.
        std::fs::write(dir.join("short"), b"not a cdb").unwrap();
        let e = Cdb::open(&dir.join("short")).unwrap().get(b"").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // A table pointer past the end of the file.
        let mut bytes = vec![0u8; 2048];
        let slot = ((hash(b"k") & 0xff) as usize) * 8;
        bytes[slot..slot + 4].copy_from_slice(&4000u32.to_le_bytes());
        bytes[slot + 4..slot + 8].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(dir.join("broken"), &bytes).unwrap();
        let e = Cdb::open(&dir.join("broken"))
            .unwrap()
            .get(b"k")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // A directory: opened, but every read fails.
        assert!(Cdb::open(dir.path()).unwrap().get(b"k").is_err());
    }
}
