//! fastforward (djb's, Debian's `fastforward` package): forward by a cdb,
//! bounce what is not in it.
//!
//! `| fastforward [ -nNpPdD ] CDB` looks the recipient up in CDB (made by
//! setforward or newaliases): the address is `$RECIPIENT`, or with `-d`
//! `$DEFAULT@$HOST` (`$EXT@$HOST` without `$DEFAULT`). The keys tried are
//! `:address`, then `:@host`, then `:user@`, all lower-cased. Found: the
//! message is forwarded. Not found: it bounces ("Sorry, no mailbox here by
//! that name."), or with `-p` fastforward exits 0 and qmail-local goes on
//! with the next line. CDB is relative to the home directory. A CDB that
//! cannot be read makes fastforward defer; the check then answers 451 (or
//! accepts with `DOTQMAILFAIL=accept`).

use super::dotqmail::{Run, cannot_look};
use super::qmesearch::QmailFile;
use super::{Delivery, Options, System};

pub fn run<S: System>(
    sys: &mut S,
    d: &Delivery,
    file: &QmailFile,
    args: &[Vec<u8>],
    options: &Options,
) -> Run {
    let mut passthrough = false;
    let mut use_default = false;
    let mut rest = args;
    // getopt: options until the first non-option or "--".
    while let Some((arg, more)) = rest.split_first() {
        if arg == b"--" {
            rest = more;
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        for &c in &arg[1..] {
            match c {
                b'p' => passthrough = true,
                b'P' => passthrough = false,
                b'd' => use_default = true,
                b'D' => use_default = false,
                b'n' | b'N' => {}
                _ => return Run::Delivers("fastforward with an unknown option".into()),
            }
        }
        rest = more;
    }
    let Some(cdb) = rest.first() else {
        return Run::Delivers("fastforward without a cdb".into());
    };
    let mut path = Vec::new();
    if !cdb.starts_with(b"/") {
        path.extend_from_slice(&d.home);
        path.push(b'/');
    }
    path.extend_from_slice(cdb);

    let mut address = if use_default {
        file.default.clone().unwrap_or_else(|| d.ext.clone())
    } else {
        d.local.clone()
    };
    address.push(b'@');
    address.extend_from_slice(&d.host);
    address.make_ascii_lowercase();

    let at = address
        .iter()
        .rposition(|&b| b == b'@')
        .expect("just added");
    let keys = [&address[..], &address[at..], &address[..=at]];
    for key in keys {
        let mut k = vec![b':'];
        k.extend_from_slice(key);
        match sys.cdb_get(&path, &k) {
            Ok(Some(_)) => {
                return Run::Delivers(format!(
                    "fastforward: {} has an entry for {}",
                    String::from_utf8_lossy(&path),
                    String::from_utf8_lossy(key)
                ));
            }
            Ok(None) => {}
            Err(e) => return cannot_look(&path, &e, options),
        }
    }
    let why = format!(
        "fastforward: no entry for {} in {}",
        String::from_utf8_lossy(&address),
        String::from_utf8_lossy(&path)
    );
    if passthrough {
        Run::PassesOn(format!("{why} (-p)"))
    } else {
        Run::Bounces(why)
    }
}
