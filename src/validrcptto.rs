//! The two published forms of "validrcptto": lists of the valid recipient
//! addresses, checked at RCPT, for a backup MX or a gateway that cannot ask
//! the real mailbox store.
//!
//! - [`Simpson`]: John Simpson's validrcptto.cdb, as in his jms1 combined
//!   patch (v7.08, qmail-smtpd.c: `readenv`, `vrtlog`, `vrtcheck`,
//!   `smtp_rcpt`, `err_vrt`, `die_vrt`). `$VALIDRCPTTO_CDB` names a cdb;
//!   with it, a recipient it does not list is refused with 553, and
//!   `$VALIDRCPTTO_LIMIT` such refusals end the connection with 421.
//! - [`Sagredo`]: sagredo's qmail (github.com/sagredo-dev/qmail,
//!   qmail-smtpd.c at 302f308: `setup` lines 414-429, `vrtcheck` lines
//!   699-771, `smtp_rcpt` lines 1468-1488). `control/validrcptto` (text)
//!   and `control/morevalidrcptto.cdb` say yes, no, or nothing; nothing
//!   leaves the decision to the recipient check.
//!
//! Both are skipped when RELAYCLIENT is set (the session does not call them
//! then), and both take the address as the session parsed it: after the
//! localiphost substitution, without any RELAYCLIENT suffix.
//!
//! The lookup part is pure: cdbs are consulted through [`Lookup`], the text
//! list is in memory, log lines are handed back as [`Record`]s. Only
//! [`load`], at the bottom, touches files.
//!
//! One deliberate difference from both patches: a cdb that cannot be read
//! during a lookup is [`SimpsonVerdict::Trouble`] / [`SagredoVerdict::Trouble`]
//! (the session answers 421 and ends), where the patches' `cdb_seek`
//! returns -1 and they take it as "no such key": for Simpson that turns a
//! damaged or truncated cdb into a permanent 553 for every recipient.

use std::io;
use std::path::{Path, PathBuf};

use crate::cdb::{Lookup, Named};
use crate::control::{self, HostSet};
use crate::logger::Record;
use crate::setup::Env;

/// The extension separator: qmail's conf-break, `-` (Simpson's `vrtcheck`
/// uses `*auto_break`).
const BREAK: u8 = b'-';

/// `$VALIDRCPTTO_LIMIT` when unset (Simpson: `int vrtlimit = 10;`).
pub const DEFAULT_LIMIT: i32 = 10;

/// What identifies this process in the patches' log lines: both start them
/// with `qmail-smtpd[PID]: ` (`title`, made in `main`) and name the client
/// by `remoteip` (the address the Received header shows: $TCPREMOTEIP,
/// else see tcp_environ; `unknown` when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogId {
    pub pid: u32,
    pub remote_ip: Vec<u8>,
}

impl LogId {
    fn line(&self, parts: &[&[u8]]) -> Record {
        let mut line = format!("qmail-smtpd[{}]: ", self.pid).into_bytes();
        for p in parts {
            line.extend_from_slice(p);
        }
        Record::always(line)
    }
}

/// Simpson's verdict on one recipient.
#[derive(Debug)]
pub enum SimpsonVerdict {
    /// Listed: go on with the remaining checks (the recipient check
    /// still applies; the patch goes on to its RCPTCHECK).
    Listed,
    /// Not listed, or listed with a value starting with `-`: reply
    /// [`crate::reply::NOT_IN_VALIDRCPTTO`]; the session goes on.
    Refused,
    /// As `Refused`, and this miss reached `$VALIDRCPTTO_LIMIT`: reply
    /// [`crate::reply::TOO_MANY_INVALID`] instead, then exit 1.
    RefusedHangUp,
    /// The cdb could not be read (our addition, see the module text):
    /// 421, then exit 1. Not counted as a miss.
    Trouble(io::Error),
}

/// John Simpson's validrcptto.cdb check, for one connection.
pub struct Simpson {
    cdb: Box<dyn Lookup>,
    /// `$VALIDRCPTTO_LIMIT` as the patch's `int`: 0 is no limit; a value
    /// that wraps negative hangs up at the first miss, as there.
    limit: i32,
    /// `$VALIDRCPTTO_LOG` as the patch's `int`: 1 logs the address and
    /// the key that decided, 2 also every key tried.
    log_level: i32,
    id: LogId,
    /// Misses this connection (`vrtcount`: never reset, not by MAIL, not
    /// by RSET).
    misses: i64,
}

impl Simpson {
    pub fn new(cdb: Box<dyn Lookup>, limit: i32, log_level: i32, id: LogId) -> Simpson {
        Simpson {
            cdb,
            limit,
            log_level,
            id,
            misses: 0,
        }
    }

    /// Misses counted so far on this connection.
    pub fn misses(&self) -> i64 {
        self.misses
    }

    /// `validrcptto [IP] ` + text, as the patch's `vrtlog` and the two
    /// unconditional lines of `smtp_rcpt` write.
    fn log(&self, log: &mut Vec<Record>, what: &[u8], text: &[u8]) {
        log.push(
            self.id
                .line(&[b"validrcptto [", &self.id.remote_ip, b"] ", what, text]),
        );
    }

    /// The check, for a recipient whose domain rcpthosts allowed and with
    /// RELAYCLIENT unset. Log lines are appended to `log`.
    pub fn check(&mut self, addr: &[u8], log: &mut Vec<Record>) -> SimpsonVerdict {
        // vrtcheck: "lowercase whatever we were sent" (case_lowerb: ASCII).
        let laddr = addr.to_ascii_lowercase();
        if self.log_level >= 1 {
            self.log(log, b"RCPT TO: ", &laddr);
        }
        let mut hit = None;
        for key in simpson_keys(&laddr) {
            if self.log_level >= 2 {
                self.log(log, b"trying: ", &key);
            }
            match self.cdb.get(&key) {
                Ok(Some(data)) => {
                    hit = Some((key, data));
                    break;
                }
                Ok(None) => {}
                Err(e) => return SimpsonVerdict::Trouble(e),
            }
        }
        if let Some((key, data)) = hit {
            // vrtcheck: a value whose first byte is '-' rejects.
            if data.first() == Some(&b'-') {
                if self.log_level >= 1 {
                    self.log(log, b"reject: ", &key);
                }
            } else {
                if self.log_level >= 1 {
                    self.log(log, b"found: ", &key);
                }
                return SimpsonVerdict::Listed;
            }
        }
        // smtp_rcpt: logged whatever VALIDRCPTTO_LOG, with the address as
        // received (not lower-cased).
        self.log(log, b"not found: ", addr);
        // `if (vrtlimit && (++vrtcount >= vrtlimit))`: counted only with a
        // limit; the limit-th miss gets the 421 instead of the 553.
        if self.limit != 0 {
            self.misses += 1;
            if self.misses >= i64::from(self.limit) {
                self.log(log, b"excessive violations, hanging up", b"");
                return SimpsonVerdict::RefusedHangUp;
            }
        }
        SimpsonVerdict::Refused
    }
}

/// The keys Simpson's `vrtcheck` looks up, in order, for a lower-cased
/// address: the address; then, when it has an `@` (the last one splits
/// it), for each `-` of the local part from the right, the local part up
/// to and including that `-`, `default`, and `@domain`; then `@domain`.
/// The first key found decides.
fn simpson_keys(laddr: &[u8]) -> Vec<Vec<u8>> {
    let mut keys = vec![laddr.to_vec()];
    if let Some(at) = laddr.iter().rposition(|&b| b == b'@') {
        let (mut user, dom) = laddr.split_at(at);
        while let Some(k) = user.iter().rposition(|&b| b == BREAK) {
            keys.push([&user[..=k], b"default", dom].concat());
            user = &user[..k];
        }
        keys.push(dom.to_vec());
    }
    keys
}

/// Sagredo's verdict on one recipient.
#[derive(Debug)]
pub enum SagredoVerdict {
    /// Listed: accept it without the recipient check (the patch skips
    /// chkuser: `flagvrt = 1`).
    Accept,
    /// Listed with a leading `-`: reply
    /// [`crate::reply::NOT_IN_VALIDRCPTTO`]; the session goes on.
    Refused,
    /// Not listed: the recipient check decides.
    Neutral,
    /// The cdb could not be read (our addition): 421, then exit 1.
    Trouble(io::Error),
}

/// Sagredo's control/validrcptto and control/morevalidrcptto.cdb check.
pub struct Sagredo {
    /// control/validrcptto (or $VALIDRCPTTO), matched as qmail's constmap
    /// matches: whole lines, ASCII case ignored.
    list: Option<HostSet>,
    /// control/morevalidrcptto.cdb (or $MOREVALIDRCPTTO_CDB): a key's
    /// presence counts, its value is ignored.
    more: Option<Box<dyn Lookup>>,
    id: LogId,
}

impl Sagredo {
    pub fn new(list: Option<HostSet>, more: Option<Box<dyn Lookup>>, id: LogId) -> Sagredo {
        Sagredo { list, more, id }
    }

    /// Whether either source has the key (vrtcheck looks each key up in
    /// both and merges the answers).
    fn has(&mut self, key: &[u8]) -> io::Result<bool> {
        if self.list.as_ref().is_some_and(|l| l.contains(key)) {
            return Ok(true);
        }
        match &mut self.more {
            Some(cdb) => Ok(cdb.get(key)?.is_some()),
            None => Ok(false),
        }
    }

    /// The check, for a recipient with RELAYCLIENT unset. Log lines are
    /// appended to `log`.
    pub fn check(&mut self, addr: &[u8], log: &mut Vec<Record>) -> SagredoVerdict {
        let laddr = addr.to_ascii_lowercase();
        for (key, yes) in sagredo_keys(&laddr) {
            match self.has(&key) {
                Ok(false) => {}
                Ok(true) => {
                    let (what, verdict) = if yes {
                        (&b"accepted"[..], SagredoVerdict::Accept)
                    } else {
                        (&b"drop"[..], SagredoVerdict::Refused)
                    };
                    log.push(self.id.line(&[
                        b"validrcptto: ",
                        what,
                        b" address <",
                        addr,
                        b"> at ",
                        &self.id.remote_ip,
                    ]));
                    return verdict;
                }
                Err(e) => return SagredoVerdict::Trouble(e),
            }
        }
        SagredoVerdict::Neutral
    }
}

/// Sagredo's keys for a lower-cased address, in the order that decides
/// (vrtcheck's `if (okaddr) ... else if (noaddr) ... else if (okdom) ...
/// else if (nodom)`), each with whether it accepts: `user@dom`,
/// `-user@dom`, `@dom`, `-@dom`; only the first without an `@`.
fn sagredo_keys(laddr: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut keys = vec![(laddr.to_vec(), true)];
    if let Some(at) = laddr.iter().rposition(|&b| b == b'@') {
        let dom = &laddr[at..];
        keys.push(([b"-", laddr].concat(), false));
        keys.push((dom.to_vec(), true));
        keys.push(([b"-", dom].concat(), false));
    }
    keys
}

// ---------------------------------------------------------------------------
// Start-up: the only part that touches files.
// ---------------------------------------------------------------------------

/// Both forms as configured for this connection; `None` where a form is
/// not configured.
#[derive(Default)]
pub struct Config {
    pub simpson: Option<Simpson>,
    pub sagredo: Option<Sagredo>,
}

/// A path from the environment, relative to the qmail home as the patches
/// (which have made it their working directory) open it.
fn env_path(home: &Path, value: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    home.join(std::ffi::OsStr::from_bytes(value))
}

/// An environment number as the patches read it: `scan_ulong` (leading
/// digits, 0 without), then cast to C's `int`.
fn env_int(env: &dyn Env, name: &str) -> Option<i32> {
    env.get(name)
        .map(|v| control::scan_ulong(&v).unwrap_or(0) as i32)
}

/// Reads the environment and opens the files, once per connection.
/// `Err` (a file that exists but cannot be opened or read, or a
/// $VALIDRCPTTO_CDB that cannot be opened at all) is answered as the
/// patches do, `421 unable to read controls (#4.3.0)` (die_control).
pub fn load(home: &Path, env: &dyn Env, pid: u32, remote_ip: &[u8]) -> io::Result<Config> {
    // Made only for a form that is configured.
    let id = || LogId {
        pid,
        remote_ip: remote_ip.to_vec(),
    };

    // Simpson (readenv): set and non-empty, it must open, whatever the
    // error (a missing file included); empty or unset, no check.
    let simpson = match env.get("VALIDRCPTTO_CDB") {
        Some(v) if !v.is_empty() => {
            let cdb = Box::new(Named::open(env_path(home, &v))?);
            let limit = env_int(env, "VALIDRCPTTO_LIMIT").unwrap_or(DEFAULT_LIMIT);
            let log_level = env_int(env, "VALIDRCPTTO_LOG").unwrap_or(0);
            Some(Simpson::new(cdb, limit, log_level, id()))
        }
        _ => None,
    };

    // Sagredo (setup, lines 415-425): a missing file is no list, any other
    // failure is die_control. An empty $VALIDRCPTTO or $MOREVALIDRCPTTO_CDB
    // names no file (open("") is ENOENT there).
    let list_path = match env.get("VALIDRCPTTO") {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(env_path(home, &v)),
        None => Some(control::path(home, "validrcptto")),
    };
    let list = match list_path {
        Some(p) => control::read_list(&p)?.map(HostSet::new),
        None => None,
    };
    let more_path = match env.get("MOREVALIDRCPTTO_CDB") {
        Some(v) if v.is_empty() => None,
        Some(v) => Some(env_path(home, &v)),
        None => Some(control::path(home, "morevalidrcptto.cdb")),
    };
    let more: Option<Box<dyn Lookup>> = match more_path {
        Some(path) => Named::open_if_exists(path)?.map(|m| Box::new(m) as Box<dyn Lookup>),
        None => None,
    };
    let sagredo = (list.is_some() || more.is_some()).then(|| Sagredo::new(list, more, id()));

    Ok(Config { simpson, sagredo })
}

#[cfg(test)]
mod tests {
    //! [S] is Simpson's jms1 combined patch v7.08, qmail-smtpd.c; [G] is
    //! sagredo-dev/qmail at 302f308, qmail-smtpd.c, with line numbers.
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    fn id() -> LogId {
        LogId {
            pid: 42,
            remote_ip: b"192.0.2.1".to_vec(),
        }
    }

    /// A map that records the keys asked, shared with the test.
    struct Spy {
        map: BTreeMap<Vec<u8>, Vec<u8>>,
        asked: Rc<RefCell<Vec<Vec<u8>>>>,
    }

    impl Lookup for Spy {
        fn get(&mut self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
            self.asked.borrow_mut().push(key.to_vec());
            Ok(self.map.get(key).cloned())
        }
    }

    type Asked = Rc<RefCell<Vec<Vec<u8>>>>;

    fn spy(entries: &[(&str, &str)]) -> (Box<dyn Lookup>, Asked) {
        let asked = Rc::new(RefCell::new(Vec::new()));
        let map = entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        (
            Box::new(Spy {
                map,
                asked: asked.clone(),
            }),
            asked,
        )
    }

    /// A cdb whose every read fails.
    struct Broken;
    impl Lookup for Broken {
        fn get(&mut self, _key: &[u8]) -> io::Result<Option<Vec<u8>>> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "damaged cdb"))
        }
    }

    fn simpson(entries: &[(&str, &str)], limit: i32, level: i32) -> (Simpson, Asked) {
        let (cdb, asked) = spy(entries);
        (Simpson::new(cdb, limit, level, id()), asked)
    }

    fn strings(v: &[Vec<u8>]) -> Vec<String> {
        v.iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    fn lines(log: &[Record]) -> Vec<String> {
        assert!(log.iter().all(|r| r.level.is_none()), "always written");
        log.iter()
            .map(|r| String::from_utf8_lossy(&r.line).into_owned())
            .collect()
    }

    // ---- Simpson ----------------------------------------------------------

    #[test]
    fn simpson_tries_address_then_each_dash_default_then_domain() {
        // [S] vrtcheck: exact; loop on byte_rchr(user, auto_break) making
        // user[..=k] + "default" + "@domain", then user.len = k; then
        // laddr+j ("@domain").
        let (mut s, asked) = simpson(&[], 0, 0);
        let _ = s.check(b"a-b-c@example.com", &mut Vec::new());
        assert_eq!(
            strings(&asked.borrow()),
            [
                "a-b-c@example.com",
                "a-b-default@example.com",
                "a-default@example.com",
                "@example.com"
            ]
        );
    }

    #[test]
    fn simpson_keys_edge_cases() {
        // [S] vrtcheck: the last '@' splits; a leading or doubled dash is
        // a step like any other; no '@', only the exact key.
        assert_eq!(
            strings(&simpson_keys(b"x@y@d")),
            ["x@y@d", "@d"],
            "the last @ splits"
        );
        assert_eq!(strings(&simpson_keys(b"-@d")), ["-@d", "-default@d", "@d"]);
        assert_eq!(
            strings(&simpson_keys(b"a--b@d")),
            ["a--b@d", "a--default@d", "a-default@d", "@d"]
        );
        assert_eq!(strings(&simpson_keys(b"postmaster")), ["postmaster"]);
        assert_eq!(strings(&simpson_keys(b"a-b")), ["a-b"]);
        assert_eq!(strings(&simpson_keys(b"u@")), ["u@", "@"]);
    }

    #[test]
    fn simpson_lower_cases_the_whole_address() {
        // [S] vrtcheck: case_lowerb(laddr.s, laddr.len) before any lookup;
        // the cdb holds lower-cased keys.
        let (mut s, asked) = simpson(&[("joe@example.com", "")], 0, 0);
        assert!(matches!(
            s.check(b"JOE@Example.COM", &mut Vec::new()),
            SimpsonVerdict::Listed
        ));
        assert_eq!(strings(&asked.borrow()), ["joe@example.com"]);
        // A key stored with capitals is never matched.
        let (mut s, _) = simpson(&[("Joe@example.com", "")], 0, 0);
        assert!(matches!(
            s.check(b"Joe@example.com", &mut Vec::new()),
            SimpsonVerdict::Refused
        ));
    }

    #[test]
    fn simpson_first_key_found_decides_and_dash_value_rejects() {
        // [S] vrtcheck: `if (r>0) { f=...; break; }`, then a value whose
        // dval.s[0] == '-' returns 0 (reject) without trying further keys.
        let (mut s, asked) = simpson(&[("joe-spam-default@d", "-"), ("@d", "")], 0, 0);
        assert!(matches!(
            s.check(b"joe-spam-x@d", &mut Vec::new()),
            SimpsonVerdict::Refused
        ));
        assert_eq!(
            strings(&asked.borrow()),
            ["joe-spam-x@d", "joe-spam-default@d"],
            "@d, which would accept, is not tried"
        );
        // Any value starting with '-' rejects; other values (or none) accept.
        for (value, listed) in [
            ("-", false),
            ("-gone", false),
            ("", true),
            ("1", true),
            ("x-", true),
        ] {
            let (mut s, _) = simpson(&[("u@d", value)], 0, 0);
            let v = s.check(b"u@d", &mut Vec::new());
            assert_eq!(
                matches!(v, SimpsonVerdict::Listed),
                listed,
                "value {value:?}"
            );
        }
        // The domain catches what nothing more specific decided.
        let (mut s, _) = simpson(&[("@d", "")], 0, 0);
        assert!(matches!(
            s.check(b"anyone-at-all@d", &mut Vec::new()),
            SimpsonVerdict::Listed
        ));
        // A '-' on the exact address beats an accepting domain.
        let (mut s, _) = simpson(&[("bad@d", "-"), ("@d", "")], 0, 0);
        assert!(matches!(
            s.check(b"bad@d", &mut Vec::new()),
            SimpsonVerdict::Refused
        ));
    }

    #[test]
    fn simpson_address_without_at_must_be_listed_exactly() {
        // [S] vrtcheck: without '@' only the exact key; smtp_rcpt refuses
        // any recipient vrtcheck does not find (rcpthosts lets such
        // addresses through, so this is where they are refused).
        let (mut s, _) = simpson(&[("@d", "")], 0, 0);
        assert!(matches!(
            s.check(b"postmaster", &mut Vec::new()),
            SimpsonVerdict::Refused
        ));
        let (mut s, _) = simpson(&[("postmaster", "")], 0, 0);
        assert!(matches!(
            s.check(b"Postmaster", &mut Vec::new()),
            SimpsonVerdict::Listed
        ));
    }

    #[test]
    fn simpson_limit_th_miss_hangs_up_and_counts_per_connection() {
        // [S] smtp_rcpt: `if(vrtlimit && (++vrtcount >= vrtlimit))` then
        // die_vrt; vrtcount is never reset (not in smtp_mail/smtp_rset).
        let (mut s, _) = simpson(&[("ok@d", ""), ("no@d", "-")], 3, 0);
        let mut log = Vec::new();
        assert!(matches!(s.check(b"x@d", &mut log), SimpsonVerdict::Refused));
        assert!(matches!(s.check(b"ok@d", &mut log), SimpsonVerdict::Listed));
        assert_eq!(s.misses(), 1, "a listed address is not a miss");
        // A '-' value is a miss too (vrtcheck returns 0 for both).
        assert!(matches!(
            s.check(b"no@d", &mut log),
            SimpsonVerdict::Refused
        ));
        // The third miss, whatever messages came between, hangs up.
        assert!(matches!(
            s.check(b"y@d", &mut log),
            SimpsonVerdict::RefusedHangUp
        ));
        assert_eq!(s.misses(), 3);
    }

    #[test]
    fn simpson_default_limit_is_ten_and_zero_is_off() {
        // [S] `int vrtlimit = 10;`; readenv: VALIDRCPTTO_LIMIT=0 disables.
        assert_eq!(DEFAULT_LIMIT, 10);
        let (mut s, _) = simpson(&[], DEFAULT_LIMIT, 0);
        for _ in 0..9 {
            assert!(matches!(
                s.check(b"x@d", &mut Vec::new()),
                SimpsonVerdict::Refused
            ));
        }
        assert!(matches!(
            s.check(b"x@d", &mut Vec::new()),
            SimpsonVerdict::RefusedHangUp
        ));
        let (mut s, _) = simpson(&[], 0, 0);
        for _ in 0..1000 {
            assert!(matches!(
                s.check(b"x@d", &mut Vec::new()),
                SimpsonVerdict::Refused
            ));
        }
        assert_eq!(s.misses(), 0, "without a limit nothing is counted");
        // A limit that wraps negative in the patch's int: the first miss.
        let (mut s, _) = simpson(&[], 4_294_967_295u64 as i32, 0);
        assert!(matches!(
            s.check(b"x@d", &mut Vec::new()),
            SimpsonVerdict::RefusedHangUp
        ));
    }

    #[test]
    fn simpson_log_lines_at_each_level() {
        // [S] vrtlog: strerr_warn6(title, "validrcptto [", remoteip, "] ",
        // a, b) when l <= vrtlog_do; RCPT TO/found/reject at 1, trying at
        // 2. smtp_rcpt: "not found: " + addr and "excessive violations,
        // hanging up" always.
        let entries = [("u-default@d", "")];
        let (mut s, _) = simpson(&entries, 0, 0);
        let mut log = Vec::new();
        assert!(matches!(
            s.check(b"U-x@d", &mut log),
            SimpsonVerdict::Listed
        ));
        assert!(log.is_empty(), "level 0 logs nothing for a listed address");

        let (mut s, _) = simpson(&entries, 0, 1);
        let mut log = Vec::new();
        let _ = s.check(b"U-x@d", &mut log);
        assert_eq!(
            lines(&log),
            [
                "qmail-smtpd[42]: validrcptto [192.0.2.1] RCPT TO: u-x@d",
                "qmail-smtpd[42]: validrcptto [192.0.2.1] found: u-default@d",
            ]
        );

        let (mut s, _) = simpson(&[("No@D", "-"), ("no@d", "-")], 1, 2);
        let mut log = Vec::new();
        assert!(matches!(
            s.check(b"No@D", &mut log),
            SimpsonVerdict::RefusedHangUp
        ));
        assert_eq!(
            lines(&log),
            [
                "qmail-smtpd[42]: validrcptto [192.0.2.1] RCPT TO: no@d",
                "qmail-smtpd[42]: validrcptto [192.0.2.1] trying: no@d",
                "qmail-smtpd[42]: validrcptto [192.0.2.1] reject: no@d",
                "qmail-smtpd[42]: validrcptto [192.0.2.1] not found: No@D",
                "qmail-smtpd[42]: validrcptto [192.0.2.1] excessive violations, hanging up",
            ]
        );
    }

    #[test]
    fn simpson_unreadable_cdb_is_trouble_not_a_miss() {
        // Ours: [S] vrtcheck takes cdb_seek's -1 as "not found".
        let mut s = Simpson::new(Box::new(Broken), 1, 0, id());
        let mut log = Vec::new();
        assert!(matches!(
            s.check(b"u@d", &mut log),
            SimpsonVerdict::Trouble(_)
        ));
        assert_eq!(s.misses(), 0);
        assert!(log.is_empty());
    }

    // ---- Sagredo ----------------------------------------------------------

    fn sagredo(list: Option<&[&str]>, more: Option<&[&str]>) -> (Sagredo, Asked) {
        let (cdb, asked) = spy(&more
            .unwrap_or(&[])
            .iter()
            .map(|k| (*k, ""))
            .collect::<Vec<_>>());
        let list = list.map(|l| HostSet::new(l.iter().map(|s| s.as_bytes().to_vec())));
        (Sagredo::new(list, more.map(|_| cdb), id()), asked)
    }

    fn verdict(s: &mut Sagredo, addr: &str) -> &'static str {
        match s.check(addr.as_bytes(), &mut Vec::new()) {
            SagredoVerdict::Accept => "accept",
            SagredoVerdict::Refused => "refused",
            SagredoVerdict::Neutral => "neutral",
            SagredoVerdict::Trouble(_) => "trouble",
        }
    }

    #[test]
    fn sagredo_precedence_is_address_negated_address_domain_negated_domain() {
        // [G] 766-770: okaddr, then noaddr, then okdom, then nodom.
        let (mut s, _) = sagredo(Some(&["u@d", "-u@d"]), None);
        assert_eq!(verdict(&mut s, "u@d"), "accept", "user@dom beats -user@dom");
        let (mut s, _) = sagredo(Some(&["@d", "-u@d"]), None);
        assert_eq!(verdict(&mut s, "u@d"), "refused", "-user@dom beats @dom");
        assert_eq!(verdict(&mut s, "v@d"), "accept");
        let (mut s, _) = sagredo(Some(&["@d", "-@d"]), None);
        assert_eq!(verdict(&mut s, "u@d"), "accept", "@dom beats -@dom");
        let (mut s, _) = sagredo(Some(&["-@d", "u@d"]), None);
        assert_eq!(verdict(&mut s, "u@d"), "accept", "user@dom beats -@dom");
        assert_eq!(verdict(&mut s, "v@d"), "refused");
        assert_eq!(verdict(&mut s, "v@other"), "neutral");
    }

    #[test]
    fn sagredo_keys_and_their_order() {
        // [G] 728-741: the last '@' splits; "-" + user + "@dom" and "-" +
        // "@dom"; without '@', only the address itself (atfound = 0).
        assert_eq!(
            sagredo_keys(b"u@d"),
            [
                (b"u@d".to_vec(), true),
                (b"-u@d".to_vec(), false),
                (b"@d".to_vec(), true),
                (b"-@d".to_vec(), false)
            ]
        );
        assert_eq!(
            sagredo_keys(b"postmaster"),
            [(b"postmaster".to_vec(), true)]
        );
        assert_eq!(sagredo_keys(b"a@b@d")[2].0, b"@d");
        let (mut s, asked) = sagredo(None, Some(&[]));
        assert_eq!(verdict(&mut s, "Postmaster"), "neutral");
        assert_eq!(strings(&asked.borrow()), ["postmaster"]);
    }

    #[test]
    fn sagredo_no_match_is_neutral() {
        // [G] 770 `else return 0;` and 1473-1487: neither flagvrt nor
        // err_vrt, so chkuser (the recipient check) decides.
        let (mut s, _) = sagredo(Some(&["u@d"]), Some(&["@e"]));
        assert_eq!(verdict(&mut s, "v@d"), "neutral");
    }

    #[test]
    fn sagredo_merges_list_and_cdb() {
        // [G] 743-764: each key is looked up in both, setting the same flags.
        let (mut s, _) = sagredo(Some(&["@d"]), Some(&["-u@d"]));
        assert_eq!(verdict(&mut s, "u@d"), "refused");
        let (mut s, _) = sagredo(Some(&["-u@d"]), Some(&["u@d"]));
        assert_eq!(verdict(&mut s, "u@d"), "accept");
        let (mut s, _) = sagredo(None, Some(&["@d"]));
        assert_eq!(verdict(&mut s, "x@d"), "accept");
    }

    #[test]
    fn sagredo_case() {
        // [G] 725 case_lowerb on the address; the text list is a constmap,
        // matched without regard to case; the cdb is matched exactly
        // (qmail-newmvrt lower-cases the keys it writes).
        let (mut s, _) = sagredo(Some(&["Joe@Example.com"]), None);
        assert_eq!(verdict(&mut s, "JOE@example.COM"), "accept");
        let (mut s, _) = sagredo(None, Some(&["Joe@Example.com"]));
        assert_eq!(verdict(&mut s, "Joe@Example.com"), "neutral");
        let (mut s, _) = sagredo(None, Some(&["joe@example.com"]));
        assert_eq!(verdict(&mut s, "Joe@Example.com"), "accept");
    }

    #[test]
    fn sagredo_cdb_values_do_not_matter() {
        // [G] 758-762: only cdb_seek's "found" counts; dlen is not read.
        let asked = Rc::new(RefCell::new(Vec::new()));
        let map = BTreeMap::from([(b"u@d".to_vec(), b"-".to_vec())]);
        let mut s = Sagredo::new(None, Some(Box::new(Spy { map, asked })), id());
        assert_eq!(verdict(&mut s, "u@d"), "accept");
    }

    #[test]
    fn sagredo_log_lines() {
        // [G] 1478 and 1481: strerr_warn5(title, "validrcptto: accepted
        // address <", addr, "> at ", remoteip) / "validrcptto: drop
        // address <"; vrtlog is a no-op ([G] 695-696 commented out).
        let (mut s, _) = sagredo(Some(&["u@d", "-v@d"]), None);
        let mut log = Vec::new();
        assert!(matches!(s.check(b"U@d", &mut log), SagredoVerdict::Accept));
        assert!(matches!(s.check(b"V@d", &mut log), SagredoVerdict::Refused));
        assert!(matches!(s.check(b"w@d", &mut log), SagredoVerdict::Neutral));
        assert_eq!(
            lines(&log),
            [
                "qmail-smtpd[42]: validrcptto: accepted address <U@d> at 192.0.2.1",
                "qmail-smtpd[42]: validrcptto: drop address <V@d> at 192.0.2.1",
            ]
        );
    }

    #[test]
    fn sagredo_unreadable_cdb_is_trouble() {
        // Ours: [G] 758-762 take cdb_seek's -1 as "not found".
        let mut s = Sagredo::new(None, Some(Box::new(Broken)), id());
        assert_eq!(verdict(&mut s, "u@d"), "trouble");
        // The list is consulted first for each key: a hit there answers.
        let list = HostSet::new([b"u@d".to_vec()]);
        let mut s = Sagredo::new(Some(list), Some(Box::new(Broken)), id());
        assert_eq!(verdict(&mut s, "u@d"), "accept");
    }

    // ---- load -------------------------------------------------------------

    struct MapEnv(BTreeMap<&'static str, &'static [u8]>);
    impl Env for MapEnv {
        fn get(&self, name: &str) -> Option<Vec<u8>> {
            self.0.get(name).map(|v| v.to_vec())
        }
    }

    fn home(tag: &str) -> crate::testdir::TempDir {
        let d = crate::testdir::TempDir::new(&format!("vrt-{tag}"));
        std::fs::create_dir_all(d.join("control")).unwrap();
        d
    }

    fn write_cdb(path: &Path, records: &[(&[u8], &[u8])]) {
        let mut w = cdb2::CDBWriter::create(path).unwrap();
        for (k, v) in records {
            w.add(k, v).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn load_nothing_configured() {
        let h = home("none");
        let c = load(&h, &MapEnv(BTreeMap::new()), 1, b"unknown").unwrap();
        assert!(c.simpson.is_none() && c.sagredo.is_none());
        // Empty values name no file ([S] readenv `if(*x)`; [G] open("")).
        let env = MapEnv(BTreeMap::from([
            ("VALIDRCPTTO_CDB", &b""[..]),
            ("VALIDRCPTTO", &b""[..]),
            ("MOREVALIDRCPTTO_CDB", &b""[..]),
        ]));
        let c = load(&h, &env, 1, b"unknown").unwrap();
        assert!(c.simpson.is_none() && c.sagredo.is_none());
    }

    #[test]
    fn load_simpson_from_env_relative_to_home() {
        // [S] readenv: open_read(VALIDRCPTTO_CDB), die_control if it fails
        // (a missing file too); LIMIT and LOG by scan_ulong.
        let h = home("simpson");
        write_cdb(&h.join("control/v.cdb"), &[(b"u@d", b""), (b"-x@d", b"")]);
        let env = MapEnv(BTreeMap::from([
            ("VALIDRCPTTO_CDB", &b"control/v.cdb"[..]),
            ("VALIDRCPTTO_LIMIT", &b"2"[..]),
            ("VALIDRCPTTO_LOG", &b"1"[..]),
        ]));
        let mut c = load(&h, &env, 1, b"198.51.100.7").unwrap();
        assert!(c.sagredo.is_none());
        let s = c.simpson.as_mut().unwrap();
        let mut log = Vec::new();
        assert!(matches!(s.check(b"U@d", &mut log), SimpsonVerdict::Listed));
        assert!(lines(&log)[0].ends_with("validrcptto [198.51.100.7] RCPT TO: u@d"));
        assert!(matches!(s.check(b"v@d", &mut log), SimpsonVerdict::Refused));
        assert!(matches!(
            s.check(b"w@d", &mut log),
            SimpsonVerdict::RefusedHangUp
        ));

        let env = MapEnv(BTreeMap::from([(
            "VALIDRCPTTO_CDB",
            &b"control/missing.cdb"[..],
        )]));
        let e = load(&h, &env, 1, b"unknown")
            .err()
            .expect("a missing cdb is an error");
        assert!(e.to_string().contains("missing.cdb"), "{e}");

        // Unset LIMIT: 10; a non-number: 0, no limit.
        let env = MapEnv(BTreeMap::from([("VALIDRCPTTO_CDB", &b"control/v.cdb"[..])]));
        assert_eq!(
            load(&h, &env, 1, b"unknown")
                .unwrap()
                .simpson
                .unwrap()
                .limit,
            10
        );
        let env = MapEnv(BTreeMap::from([
            ("VALIDRCPTTO_CDB", &b"control/v.cdb"[..]),
            ("VALIDRCPTTO_LIMIT", &b"none"[..]),
        ]));
        assert_eq!(
            load(&h, &env, 1, b"unknown")
                .unwrap()
                .simpson
                .unwrap()
                .limit,
            0
        );
    }

    #[test]
    fn load_sagredo_files_and_overrides() {
        // [G] 415-425: control/validrcptto via control_readfile (comments
        // and blank lines skipped, trailing blanks stripped), $VALIDRCPTTO
        // instead; control/morevalidrcptto.cdb or $MOREVALIDRCPTTO_CDB,
        // ENOENT meaning none.
        let h = home("sagredo");
        std::fs::write(h.join("control/validrcptto"), b"# valid\n\nJoe@D  \n-@d\n").unwrap();
        write_cdb(&h.join("control/morevalidrcptto.cdb"), &[(b"ann@d", b"")]);
        let mut c = load(&h, &MapEnv(BTreeMap::new()), 1, b"unknown").unwrap();
        assert!(c.simpson.is_none());
        let s = c.sagredo.as_mut().unwrap();
        assert_eq!(verdict(s, "joe@d"), "accept");
        assert_eq!(verdict(s, "ann@d"), "accept");
        assert_eq!(verdict(s, "bob@d"), "refused");
        assert_eq!(verdict(s, "# valid"), "neutral");

        std::fs::write(h.join("other"), b"bob@d\n").unwrap();
        let env = MapEnv(BTreeMap::from([
            ("VALIDRCPTTO", &b"other"[..]),
            ("MOREVALIDRCPTTO_CDB", &b"nothere.cdb"[..]),
        ]));
        let mut c = load(&h, &env, 1, b"unknown").unwrap();
        let s = c.sagredo.as_mut().unwrap();
        assert_eq!(verdict(s, "bob@d"), "accept");
        assert_eq!(
            verdict(s, "joe@d"),
            "neutral",
            "control/validrcptto not read"
        );
        assert_eq!(verdict(s, "ann@d"), "neutral", "the default cdb not opened");

        // A list that exists but cannot be read: die_control.
        let env = MapEnv(BTreeMap::from([("VALIDRCPTTO", &b"control"[..])]));
        assert!(load(&h, &env, 1, b"unknown").is_err());
    }
}
