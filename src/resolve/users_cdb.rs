//! qmail-lspawn's users/cdb lookup (`nughde_get`): the assignments an
//! operator made in users/assign, compiled by qmail-newu.
//!
//! Record format, as qmail-newu writes it:
//! - `=local:user:uid:gid:home:dash:ext:` → key `!local` NUL, value
//!   `user NUL uid NUL gid NUL home NUL dash NUL ext` (no final NUL);
//! - `+prefix:user:uid:gid:home:dash:pre:` → key `!prefix` (no NUL), same
//!   value; the rest of the local name after the prefix is appended to the
//!   extension;
//! - the empty key holds the characters that end some `+` prefix (the
//!   "wildchars"), so most prefixes need no lookup at all.
//!
//! The file is opened once per session, on first use, and every question is
//! a hashed cdb lookup of a few positioned reads ([`crate::cdb`], through
//! [`System::cdb_get`]): nothing is scanned or mapped, so memory does not
//! grow with the file. A users/cdb replaced by
//! qmail-newu during a session is seen by the next session.

use std::io;
use std::path::PathBuf;

use std::os::unix::ffi::OsStringExt;

use super::{Delivery, Step, System};

/// What users/cdb says about a local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// No users/cdb, or no record for this name: ask qmail-getpw.
    NotListed,
    /// The record (this key) lacks some of its six fields: qmail-lspawn
    /// stops with "Internal qmail-lspawn bug." (a temporary failure), so
    /// qmail defers.
    Short { key: Vec<u8> },
    /// qmail-local runs with this delivery.
    Hit(Delivery),
}

/// What is known of the file so far.
enum State {
    Unread,
    Absent,
    /// The characters that end some `+` prefix (the empty key's data).
    Read {
        wildchars: Vec<u8>,
    },
}

/// The session's handle on users/cdb. The file itself is read through
/// the [`System`] (which keeps it open for the session).
pub struct UsersCdb {
    path: Vec<u8>,
    state: State,
}

impl UsersCdb {
    pub fn new(path: PathBuf) -> UsersCdb {
        UsersCdb {
            path: path.into_os_string().into_vec(),
            state: State::Unread,
        }
    }

    /// Reads the wildchars record if not yet done. Only "does not exist"
    /// means "no users/cdb"; any other failure, or a file without the
    /// wildchars record (so not written by qmail-newu, or damaged), is an
    /// error and is retried at the next lookup.
    fn open<S: System>(&mut self, sys: &mut S) -> io::Result<()> {
        if !matches!(self.state, State::Unread) {
            return Ok(());
        }
        match sys.cdb_get(&self.path, b"") {
            Ok(Some(wildchars)) => self.state = State::Read { wildchars },
            Ok(None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "no wildcard-character record (empty key): not written by qmail-newu?",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.state = State::Absent,
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Looks up the local name L: the exact key first, then wildcard
    /// prefixes, longest first.
    pub fn lookup<S: System>(
        &mut self,
        sys: &mut S,
        local: &[u8],
        sink: &mut dyn FnMut(Step),
    ) -> io::Result<Assignment> {
        if let Err(e) = self.open(sys) {
            sink(Step::UsersCdbTrouble {
                error: describe(&e),
            });
            return Err(e);
        }
        let State::Read { wildchars } = &self.state else {
            sink(Step::UsersCdbAbsent);
            return Ok(Assignment::NotListed);
        };

        let mut key = Vec::with_capacity(local.len() + 2);
        key.push(b'!');
        key.extend_from_slice(local);
        key.push(0);
        key.make_ascii_lowercase();

        // `i` is the key length tried: the whole key (exact), then
        // "!" + each prefix of L, down to the bare "!", which is always
        // tried; a prefix is tried only if its last byte ends some `+` line.
        for i in (1..=key.len()).rev() {
            let wildcard = i < key.len();
            if wildcard && i > 1 && !wildchars.contains(&key[i - 1]) {
                continue;
            }
            let value = match sys.cdb_get(&self.path, &key[..i]) {
                Ok(None) => continue,
                Ok(Some(value)) => value,
                Err(e) => {
                    sink(Step::UsersCdbTrouble {
                        error: describe(&e),
                    });
                    return Err(e);
                }
            };
            // qmail-lspawn appends the rest of L (as received, not
            // lower-cased) after the record's extension.
            let rest: &[u8] = if wildcard { &local[i - 1..] } else { &[] };
            return Ok(parse(&key[..i], wildcard, value, rest, sink));
        }
        sink(Step::UsersCdbNoMatch {
            local: local.to_vec(),
        });
        Ok(Assignment::NotListed)
    }
}

/// Splits a record the way qmail-lspawn's `spawn` reads it, after
/// `nughde_get` has appended the wildcard rest and a NUL: user, uid, gid,
/// home, dash and extension must each end with a NUL. Fewer fields:
/// [`Assignment::Short`].
fn parse(
    key: &[u8],
    wildcard: bool,
    mut value: Vec<u8>,
    rest: &[u8],
    sink: &mut dyn FnMut(Step),
) -> Assignment {
    value.extend_from_slice(rest);
    value.push(0);
    let fields: Vec<&[u8]> = value.split(|&b| b == 0).collect();
    // Six NUL-terminated fields make at least seven pieces.
    if fields.len() < 7 {
        sink(Step::UsersCdbShort { key: key.to_vec() });
        return Assignment::Short { key: key.to_vec() };
    }
    let delivery = Delivery {
        user: fields[0].to_vec(),
        uid: scan_ulong(fields[1]) as u32,
        gid: scan_ulong(fields[2]) as u32,
        home: fields[3].to_vec(),
        dash: fields[4].to_vec(),
        ext: fields[5].to_vec(),
        local: Vec::new(),
        host: Vec::new(),
    };
    sink(Step::UsersCdbHit {
        key: key.to_vec(),
        wildcard,
        user: delivery.user.clone(),
        uid: delivery.uid,
        home: delivery.home.clone(),
        dash: delivery.dash.clone(),
        ext: delivery.ext.clone(),
    });
    Assignment::Hit(delivery)
}

/// qmail's `scan_ulong`, as qmail-lspawn reads the uid and gid: the
/// leading decimal digits, wrapping on overflow, 0 when there are none.
/// qmail-lspawn then stores it in a 32-bit uid_t (the caller truncates), so
/// a uid that is not a number, or a multiple of 2^32, is uid 0 and qmail
/// defers ("Not allowed to perform deliveries as root.").
fn scan_ulong(field: &[u8]) -> u64 {
    field
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, &d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        })
}

fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => super::errstr::error_str(errno).to_string(),
        None => e.to_string(),
    }
}

/// One users/assign line compiled as qmail-newu compiles it: the users/cdb
/// key (`!` + name + NUL for `=` lines, `!` + prefix for `+` wildcard
/// lines, lower-cased), the value (the six fields after the name, NUL
/// separated, as qmail-lspawn reads them), and for a wildcard line the
/// character it adds to the empty key's list. `None` for a line that is
/// neither, or has fewer than six fields. Tests and tools build users/cdb
/// fixtures with it; the server only reads.
pub fn compile_assign_line(line: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Option<u8>)> {
    let (&kind, rest) = line.split_first()?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let (name, fields) = (&rest[..colon], &rest[colon + 1..]);
    let fields: Vec<&[u8]> = fields.split(|&b| b == b':').take(6).collect();
    if fields.len() < 6 {
        return None;
    }
    let mut key = [b"!", name].concat();
    let wildchar = match kind {
        b'+' => name.last().copied(),
        b'=' => {
            key.push(0);
            None
        }
        _ => return None,
    };
    key.make_ascii_lowercase();
    Some((key, fields.join(&0u8), wildchar))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    /// A users/cdb built as qmail-newu would build it from users/assign
    /// lines (`=` exact, `+` wildcard), with the wildchars record.
    pub(crate) fn newu(path: &Path, assign: &[&[u8]]) {
        let mut records = Vec::new();
        let mut wildchars = Vec::new();
        for line in assign {
            let (key, data, wild) = compile_assign_line(line).expect("bad assign line");
            wildchars.extend(wild.filter(|c| !wildchars.contains(c)));
            records.push((key, data));
        }
        records.push((Vec::new(), wildchars));
        write_cdb(path, &records);
    }

    #[test]
    fn assign_lines_compile_as_qmail_newu_does() {
        assert_eq!(
            compile_assign_line(b"=Joe:joe:1001:1001:/home/joe:::"),
            Some((
                b"!joe\0".to_vec(),
                b"joe\x001001\x001001\x00/home/joe\0\0".to_vec(),
                None
            ))
        );
        assert_eq!(
            compile_assign_line(b"+Demo-:u:5:6:/h:-:ext:"),
            Some((
                b"!demo-".to_vec(),
                b"u\x005\x006\0/h\0-\0ext".to_vec(),
                Some(b'-')
            ))
        );
        assert_eq!(compile_assign_line(b"+x:u:5:6:/h:-"), None, "five fields");
        assert_eq!(compile_assign_line(b"."), None);
        assert_eq!(compile_assign_line(b"#x:u:5:6:/h:-::"), None);
    }

    pub(crate) fn write_cdb(path: &Path, records: &[(Vec<u8>, Vec<u8>)]) {
        let mut w = cdb2::CDBWriter::create(path).unwrap();
        for (k, v) in records {
            w.add(k, v).unwrap();
        }
        w.finish().unwrap();
    }

    pub(crate) fn tempdir(tag: &str) -> crate::testdir::TempDir {
        crate::testdir::TempDir::new(&format!("resolve-{tag}"))
    }

    type Hde = (Vec<u8>, Vec<u8>, Vec<u8>);

    fn hit(home: &str, dash: &str, ext: &str) -> Hde {
        (home.into(), dash.into(), ext.into())
    }

    impl Assignment {
        /// Home, dash and extension of a hit.
        fn hde(self) -> Hde {
            match self {
                Assignment::Hit(d) => (d.home, d.dash, d.ext),
                other => panic!("not a hit: {other:?}"),
            }
        }
    }

    fn look(u: &mut UsersCdb, local: &[u8]) -> (io::Result<Assignment>, Vec<Step>) {
        let mut sys = crate::resolve::system::RealSystem::default();
        look_with(&mut sys, u, local)
    }

    fn look_with(
        sys: &mut crate::resolve::system::RealSystem,
        u: &mut UsersCdb,
        local: &[u8],
    ) -> (io::Result<Assignment>, Vec<Step>) {
        let mut steps = Vec::new();
        let r = u.lookup(sys, local, &mut |s| steps.push(s));
        (r, steps)
    }

    #[test]
    fn exact_then_wildcards_longest_first() {
        let dir = tempdir("cdb-order");
        let path = dir.join("cdb");
        newu(
            &path,
            &[
                b"=joe:joe:5001:5001:/h/joe:-:exact:",
                b"+joe-:joe:5001:5001:/h/joe:-:w-:",
                b"+jo:jo:5002:5002:/h/jo:-:p:",
                b"+:catch:5003:5003:/h/catch:-::",
            ],
        );
        let mut u = UsersCdb::new(path);
        // Exact key wins.
        let (r, steps) = look(&mut u, b"joe");
        assert_eq!(r.unwrap().hde(), hit("/h/joe", "-", "exact"));
        assert_eq!(
            steps,
            vec![Step::UsersCdbHit {
                key: b"!joe\0".to_vec(),
                wildcard: false,
                user: b"joe".to_vec(),
                uid: 5001,
                home: b"/h/joe".to_vec(),
                dash: b"-".to_vec(),
                ext: b"exact".to_vec()
            }]
        );
        let cases: [(&[u8], Hde); 5] = [
            // Longest wildcard prefix; rest appended in original case.
            (b"joe-List-X", hit("/h/joe", "-", "w-List-X")),
            // "jo" ends in 'o', a wildchar (from "+jo"): "!jo" is tried.
            (b"john", hit("/h/jo", "-", "phn")),
            // The bare "!" is always tried.
            (b"zed", hit("/h/catch", "-", "zed")),
            // Upper-case names find lower-cased keys.
            (b"JOE", hit("/h/joe", "-", "exact")),
            (b"JOE-X", hit("/h/joe", "-", "w-X")),
        ];
        for (local, want) in cases {
            assert_eq!(look(&mut u, local).0.unwrap().hde(), want, "{local:?}");
        }
    }

    #[test]
    fn wildcard_prefix_needs_its_last_byte_in_wildchars() {
        let dir = tempdir("cdb-wildchars");
        let path = dir.join("cdb");
        // A hand-made file whose wildchars list lacks 'e': "!joe" is never
        // tried as a prefix, even though the key exists.
        write_cdb(
            &path,
            &[
                (
                    b"!joe".to_vec(),
                    b"joe\x005001\x005001\x00/h/joe\x00-\x00w".to_vec(),
                ),
                (Vec::new(), b"-".to_vec()),
            ],
        );
        let mut u = UsersCdb::new(path.clone());
        let (r, steps) = look(&mut u, b"joex");
        assert_eq!(r.unwrap(), Assignment::NotListed);
        assert_eq!(
            steps,
            vec![Step::UsersCdbNoMatch {
                local: b"joex".to_vec()
            }]
        );
        // With 'e' listed it is found.
        write_cdb(
            &path,
            &[
                (
                    b"!joe".to_vec(),
                    b"joe\x005001\x005001\x00/h/joe\x00-\x00w".to_vec(),
                ),
                (Vec::new(), b"-e".to_vec()),
            ],
        );
        let mut u = UsersCdb::new(path);
        assert_eq!(
            look(&mut u, b"joex").0.unwrap().hde(),
            hit("/h/joe", "-", "wx")
        );
        // "!joe" as a wildcard also matches L = "joe" itself (i = len - 1),
        // but only when the exact key is missing.
        assert_eq!(
            look(&mut u, b"joe").0.unwrap().hde(),
            hit("/h/joe", "-", "w")
        );
    }

    #[test]
    fn absent_file_means_ask_getpw() {
        let dir = tempdir("cdb-absent");
        let mut u = UsersCdb::new(dir.join("cdb"));
        let (r, steps) = look(&mut u, b"joe");
        assert_eq!(r.unwrap(), Assignment::NotListed);
        assert_eq!(steps, vec![Step::UsersCdbAbsent]);
    }

    #[test]
    fn missing_wildchars_record_is_trouble() {
        let dir = tempdir("cdb-nowild");
        let path = dir.join("cdb");
        write_cdb(
            &path,
            &[(b"!joe\0".to_vec(), b"joe\x001\x001\x00/h\x00-\x00".to_vec())],
        );
        let mut u = UsersCdb::new(path);
        let (r, steps) = look(&mut u, b"joe");
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(
            matches!(&steps[..], [Step::UsersCdbTrouble { .. }]),
            "{steps:?}"
        );
    }

    #[test]
    fn unreadable_or_damaged_file_is_trouble() {
        let dir = tempdir("cdb-bad");
        // A directory cannot be opened as a cdb.
        std::fs::create_dir_all(dir.join("cdb")).unwrap();
        let mut u = UsersCdb::new(dir.join("cdb"));
        assert!(look(&mut u, b"joe").0.is_err());
        // A truncated file is not a cdb.
        std::fs::write(dir.join("short"), b"not a cdb").unwrap();
        let mut u = UsersCdb::new(dir.join("short"));
        assert!(look(&mut u, b"joe").0.is_err());
        // A pointer past the end of the file is a read error.
        let mut bytes = vec![0u8; 2048];
        let h = cdb2_hash(b"");
        let slot = ((h & 0xff) as usize) * 8;
        bytes[slot..slot + 4].copy_from_slice(&4000u32.to_le_bytes());
        bytes[slot + 4..slot + 8].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(dir.join("broken"), &bytes).unwrap();
        let mut u = UsersCdb::new(dir.join("broken"));
        assert!(look(&mut u, b"joe").0.is_err());
    }

    fn cdb2_hash(key: &[u8]) -> u32 {
        key.iter().fold(5381u32, |h, &c| {
            (h.wrapping_shl(5).wrapping_add(h)) ^ u32::from(c)
        })
    }

    #[test]
    fn short_records_defer() {
        let dir = tempdir("cdb-short");
        let path = dir.join("cdb");
        let rec = |k: &[u8], v: &[u8]| (k.to_vec(), v.to_vec());
        write_cdb(
            &path,
            &[
                rec(b"!a\0", b"a"),
                rec(b"!b\0", b"b\x001\x001\x00/h"),
                rec(b"!c\0", b"c\x001\x001\x00/h\x00-"),
                rec(b"!d\0", b"d\x001\x001\x00/h\x00-\x00"),
                rec(b"!e\0", b"e\x001\x001\x00/h\x00-\x00ext\x00junk"),
                rec(b"", b""),
            ],
        );
        let mut u = UsersCdb::new(path);
        for name in [&b"a"[..], b"b", b"c"] {
            let (r, steps) = look(&mut u, name);
            let mut key = b"!".to_vec();
            key.extend_from_slice(name);
            key.push(0);
            assert_eq!(
                r.unwrap(),
                Assignment::Short { key: key.clone() },
                "{name:?}"
            );
            assert_eq!(steps, vec![Step::UsersCdbShort { key }]);
        }
        // Five NULs: the extension is empty; text after a sixth NUL is ignored.
        assert_eq!(look(&mut u, b"d").0.unwrap().hde(), hit("/h", "-", ""));
        assert_eq!(look(&mut u, b"e").0.unwrap().hde(), hit("/h", "-", "ext"));
    }

    #[test]
    fn uid_and_gid_read_as_scan_ulong_does() {
        let dir = tempdir("cdb-uid");
        let path = dir.join("cdb");
        newu(
            &path,
            &[
                b"=a:a:5001:6001:/h:-::",
                b"=b:b:12abc:x:/h:-::",
                b"=c:c:4294967296:4294967297:/h:-::",
                b"=d:d::-5:/h:-::",
            ],
        );
        let mut u = UsersCdb::new(path);
        let ids = |u: &mut UsersCdb, name: &[u8]| match look(u, name).0.unwrap() {
            Assignment::Hit(d) => (d.uid, d.gid),
            other => panic!("{other:?}"),
        };
        assert_eq!(ids(&mut u, b"a"), (5001, 6001));
        assert_eq!(ids(&mut u, b"b"), (12, 0), "leading digits only");
        assert_eq!(ids(&mut u, b"c"), (0, 1), "truncated to 32 bits");
        assert_eq!(ids(&mut u, b"d"), (0, 0), "no digits: 0");
    }

    /// Our fixtures are real cdb files: freecdb's cdbdump (the cdb code
    /// qmail itself carries) reads back exactly the records qmail-newu
    /// would have written.
    #[test]
    fn fixtures_are_what_freecdb_reads() {
        if std::process::Command::new("cdbdump")
            .stdin(std::process::Stdio::null())
            .output()
            .is_err()
        {
            eprintln!("SKIPPED fixtures_are_what_freecdb_reads: no cdbdump (freecdb) installed");
            return;
        }
        let dir = tempdir("cdb-freecdb");
        let path = dir.join("cdb");
        newu(
            &path,
            &[
                b"=Joe:joe:5001:5001:/h/joe:-:x:",
                b"+list-:l:5002:5002:/h/l:-::",
            ],
        );
        let out = std::process::Command::new("cdbdump")
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let want: &[u8] = b"+5,24:!joe\0->joe\x005001\x005001\x00/h/joe\x00-\x00x\n\
            +6,19:!list-->l\x005002\x005002\x00/h/l\x00-\x00\n\
            +0,1:->-\n\n";
        assert_eq!(out.stdout, want);
    }

    #[test]
    fn opened_once() {
        let dir = tempdir("cdb-once");
        let path = dir.join("cdb");
        newu(&path, &[b"=joe:joe:1:1:/h/joe:-:x:"]);
        let mut u = UsersCdb::new(path.clone());
        let mut sys = crate::resolve::system::RealSystem::default();
        assert_eq!(
            look_with(&mut sys, &mut u, b"joe").0.unwrap().hde(),
            hit("/h/joe", "-", "x")
        );
        // Removing the file does not matter to an open session.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            look_with(&mut sys, &mut u, b"joe").0.unwrap().hde(),
            hit("/h/joe", "-", "x")
        );
    }
}
