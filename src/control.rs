//! qmail's control-file rules, and the configuration qmail-smtpd reads once
//! at start-up.
//!
//! Every reader is tri-state like qmail's `control.c`: `Err` when the file
//! exists but cannot be read (the caller answers 421), `Ok(None)` when it does
//! not exist, `Ok(Some(..))` otherwise. Paths are relative to the qmail home,
//! which the process has already made its working directory.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// `home/control/name`, in one allocation (`Path::join` twice costs two
/// and a copy, at every connection, for each of a dozen files).
pub fn path(home: &Path, name: &str) -> PathBuf {
    let mut path = PathBuf::with_capacity(home.as_os_str().len() + name.len() + 9);
    path.push(home);
    path.push("control");
    path.push(name);
    path
}

/// Reads a whole control file; a missing file is `None`, any other error is
/// an error (qmail treats only ENOENT as "not configured"), naming the file.
fn read_file(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(f) => read_all(f).map(Some).map_err(|e| naming(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(naming(path, e)),
    }
}

/// `e`, its text prefixed with the file's name (relative to the qmail
/// home when it is), for the log line of a `421 unable to read controls`.
pub fn naming(path: &Path, e: io::Error) -> io::Error {
    let shown = path.strip_prefix(".").unwrap_or(path);
    io::Error::new(e.kind(), format!("{}: {e}", shown.display()))
}

/// Reads `f` to its end in plain reads. (`File::read_to_end` first asks
/// for the file's size and position, two more system calls for each of the
/// dozen files read at every connection, where a control file is a line.)
fn read_all(mut f: File) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 512];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(2 * len, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// qmail strips spaces, tabs and newlines, but not CRs, from line ends.
fn strip_trailing_whitespace(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\n'] = line {
        line = rest;
    }
    line
}

/// A "line" control file: its first line, trailing whitespace removed.
pub fn read_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    Ok(read_file(path)?.map(|buf| {
        let first = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
        strip_trailing_whitespace(first).to_vec()
    }))
}

/// A "list" control file: every line with trailing whitespace removed,
/// skipping empty lines and comments (lines starting with `#`).
pub fn read_list(path: &Path) -> io::Result<Option<Vec<Vec<u8>>>> {
    Ok(read_file(path)?.map(|buf| {
        buf.split(|&b| b == b'\n')
            .map(strip_trailing_whitespace)
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .map(<[u8]>::to_vec)
            .collect()
    }))
}

/// An integer control file, read as qmail's `control_readint` does: leading
/// decimal digits, wrapping like C's `unsigned long`; no digits means "not
/// configured".
pub fn read_ulong(path: &Path) -> io::Result<Option<u64>> {
    Ok(read_line(path)?.and_then(|l| scan_ulong(&l)))
}

/// qmail's `scan_ulong`: the leading digits of `s`, wrapping on overflow;
/// `None` when `s` does not start with a digit.
pub fn scan_ulong(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    (digits > 0).then(|| {
        s[..digits].iter().fold(0u64, |n, &d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        })
    })
}

/// A set of host names (or addresses) matched ASCII-case-insensitively, as
/// qmail's `constmap` does for rcpthosts, badmailfrom, locals, percenthack.
#[derive(Debug, Default, Clone)]
pub struct HostSet(HashSet<Vec<u8>>);

impl HostSet {
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(lines: I) -> Self {
        HostSet(lines.into_iter().map(|l| l.to_ascii_lowercase()).collect())
    }
    pub fn contains(&self, key: &[u8]) -> bool {
        // Keys are short; lower-casing a copy is cheaper than a custom hasher.
        self.0.contains(&key.to_ascii_lowercase())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A `key:value` map such as control/virtualdomains: keys matched
/// case-insensitively, lines without a colon ignored, and (as with qmail's
/// `constmap`) the last line for a key wins.
#[derive(Debug, Default, Clone)]
pub struct HostMap(HashMap<Vec<u8>, Vec<u8>>);

impl HostMap {
    pub fn new<I: IntoIterator<Item = Vec<u8>>>(lines: I) -> Self {
        let mut map = HashMap::new();
        for line in lines {
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                map.insert(
                    line[..colon].to_ascii_lowercase(),
                    line[colon + 1..].to_vec(),
                );
            }
        }
        HostMap(map)
    }
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.0.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_ulong_takes_leading_digits_and_wraps() {
        assert_eq!(scan_ulong(b"1200"), Some(1200));
        assert_eq!(scan_ulong(b"12abc"), Some(12));
        assert_eq!(scan_ulong(b"abc"), None);
        assert_eq!(scan_ulong(b""), None);
        assert_eq!(scan_ulong(b"-5"), None);
        assert_eq!(scan_ulong(b"18446744073709551616"), Some(0));
    }

    #[test]
    fn strip_keeps_cr() {
        assert_eq!(strip_trailing_whitespace(b"a \t\n"), b"a");
        assert_eq!(strip_trailing_whitespace(b"a\r"), b"a\r");
        assert_eq!(strip_trailing_whitespace(b" \t"), b"");
    }

    #[test]
    fn list_and_line_rules() {
        let dir = crate::testdir::TempDir::new("ctl-test");
        let f = dir.join("list");
        std::fs::write(&f, b"# comment\n\nExample.COM  \n .x\t\nlast").unwrap();
        assert_eq!(
            read_list(&f).unwrap().unwrap(),
            vec![b"Example.COM".to_vec(), b" .x".to_vec(), b"last".to_vec()]
        );
        assert_eq!(read_line(&f).unwrap().unwrap(), b"# comment".to_vec());
        assert_eq!(read_line(&dir.join("missing")).unwrap(), None);
        let e = read_line(dir.path()).expect_err("a directory is unreadable, not absent");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: ", dir.path().display())),
            "the error names the file: {e}"
        );
    }

    #[test]
    fn host_set_and_map_ignore_case() {
        let s = HostSet::new(vec![b"Example.COM".to_vec()]);
        assert!(s.contains(b"example.com"));
        assert!(!s.contains(b"example.co"));
        let m = HostMap::new(vec![
            b"Virt.Example:alice".to_vec(),
            b"nocolon".to_vec(),
            b"virt.example:bob".to_vec(),
            b":catchall".to_vec(),
        ]);
        assert_eq!(m.get(b"VIRT.example"), Some(&b"bob"[..]));
        assert_eq!(m.get(b""), Some(&b"catchall"[..]));
        assert_eq!(m.get(b"nocolon"), None);
    }
}
