//! qmail-send's address rewriting: which local name, if any, a recipient
//! address is delivered to.
//!
//! This repeats the routing qmail-send does before handing a recipient to
//! qmail-lspawn: append envnoathost to an address without `@`, apply the
//! percenthack, then decide local (control/locals), virtual
//! (control/virtualdomains) or remote.

use std::io;
use std::path::Path;

use super::Step;
use crate::control::{self, HostMap, HostSet};

/// The routing tables from control/, read once per session.
#[derive(Debug, Clone)]
pub struct Routing {
    envnoathost: Vec<u8>,
    percenthack: HostSet,
    locals: HostSet,
    virtualdomains: HostMap,
}

impl Routing {
    /// Reads control/envnoathost, control/locals, control/percenthack and
    /// control/virtualdomains relative to the working directory (the qmail
    /// home). An error means the caller answers
    /// `421 unable to read controls (#4.3.0)`.
    pub fn load() -> io::Result<Routing> {
        Self::load_in(Path::new(""))
    }

    /// [`Routing::load`] with the control files under `qmail_home`.
    ///
    /// Defaults are qmail's: envnoathost falls back to control/me and then
    /// to the literal `envnoathost` (never to "no domain": an unqualified
    /// recipient must not slip through as remote); locals falls back to
    /// control/me, and with neither file there is no way to know what is
    /// local, so, as the realrcptto patch does, that is an error.
    pub fn load_in(qmail_home: &Path) -> io::Result<Routing> {
        let me = control::read_line(&qmail_home.join("control/me"))?;
        Self::load_with_me(qmail_home, me)
    }

    /// [`Routing::load_in`] with control/me already read (the server has
    /// read it for its greeting; one read per connection is enough).
    pub fn load_with_me(qmail_home: &Path, me: Option<Vec<u8>>) -> io::Result<Routing> {
        let path = |name: &str| qmail_home.join(name);
        let envnoathost = match control::read_line(&path("control/envnoathost"))? {
            Some(line) => line,
            None => me.clone().unwrap_or_else(|| b"envnoathost".to_vec()),
        };
        let locals = match (control::read_list(&path("control/locals"))?, me) {
            (Some(lines), _) => lines,
            (None, Some(me)) => vec![me],
            (None, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "control/locals and control/me are both missing",
                ));
            }
        };
        let percenthack = control::read_list(&path("control/percenthack"))?.unwrap_or_default();
        let virtualdomains =
            control::read_list(&path("control/virtualdomains"))?.unwrap_or_default();
        Ok(Routing::new(
            envnoathost,
            locals,
            percenthack,
            virtualdomains,
        ))
    }

    /// Routing tables from their lines, as the control files would hold them.
    pub fn new(
        envnoathost: Vec<u8>,
        locals: Vec<Vec<u8>>,
        percenthack: Vec<Vec<u8>>,
        virtualdomains: Vec<Vec<u8>>,
    ) -> Routing {
        Routing {
            envnoathost,
            percenthack: HostSet::new(percenthack),
            locals: HostSet::new(locals),
            virtualdomains: HostMap::new(virtualdomains),
        }
    }

    /// The domain appended to addresses without `@`.
    pub fn envnoathost(&self) -> &[u8] {
        &self.envnoathost
    }
}

fn rchr(s: &[u8], c: u8) -> Option<usize> {
    s.iter().rposition(|&b| b == c)
}

/// qmail-send's rewrite: the local name L that qmail-lspawn would be given,
/// or `None` when qmail would not deliver the address locally (remote, or a
/// virtualdomains exception), which the check accepts.
pub fn rewrite(routing: &Routing, addr: &[u8], sink: &mut dyn FnMut(Step)) -> Option<Vec<u8>> {
    rewrite_with_host(routing, addr, sink).map(|(local, _)| local)
}

/// [`rewrite`], with the host qmail-local is given too (the domain after
/// the last `@` of the rewritten address: its `$HOST`).
pub fn rewrite_with_host(
    routing: &Routing,
    addr: &[u8],
    sink: &mut dyn FnMut(Step),
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut s = addr.to_vec();
    let mut i = match rchr(&s, b'@') {
        Some(i) => i,
        None => {
            let i = s.len();
            s.push(b'@');
            s.extend_from_slice(&routing.envnoathost);
            i
        }
    };
    // The percenthack: user%host@gateway, with gateway listed, becomes
    // user@host, as often as it applies. `i` is the '@' qmail-send is
    // working with, which after a rewrite is not necessarily the last one.
    while routing.percenthack.contains(&s[i + 1..]) {
        let Some(j) = rchr(&s[..i], b'%') else { break };
        s.truncate(i);
        s[j] = b'@';
        i = j;
    }
    sink(Step::Rewritten { address: s.clone() });

    let at = rchr(&s, b'@').unwrap_or(i);
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if routing.locals.contains(domain) {
        sink(Step::LocalDomain {
            domain: domain.to_vec(),
            local: local.to_vec(),
        });
        return Some((local.to_vec(), domain.to_vec()));
    }

    // virtualdomains keys, first found wins: the whole address, the domain,
    // each suffix of the domain starting at a '.', longest first, then the
    // empty key.
    let keys = (0..=s.len())
        .filter(|&k| k == 0 || k == at + 1 || k == s.len() || (k > at && s[k] == b'.'));
    for k in keys {
        let key = &s[k..];
        let Some(prefix) = routing.virtualdomains.get(key) else {
            continue;
        };
        if prefix.is_empty() {
            sink(Step::VirtualException { key: key.to_vec() });
            return None;
        }
        let mut name = Vec::with_capacity(prefix.len() + 1 + local.len());
        name.extend_from_slice(prefix);
        name.push(b'-');
        name.extend_from_slice(local);
        sink(Step::VirtualDomain {
            key: key.to_vec(),
            prefix: prefix.to_vec(),
            local: name.clone(),
        });
        return Some((name, domain.to_vec()));
    }
    sink(Step::NotLocal {
        domain: domain.to_vec(),
    });
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    fn lines(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn routing(locals: &[&str], percenthack: &[&str], vdoms: &[&str]) -> Routing {
        Routing::new(
            b"noat.example".to_vec(),
            lines(locals),
            lines(percenthack),
            lines(vdoms),
        )
    }

    /// (rewritten address, local name or None)
    fn run(r: &Routing, addr: &str) -> (Vec<u8>, Option<Vec<u8>>, Vec<Step>) {
        let mut steps = Vec::new();
        let local = rewrite(r, addr.as_bytes(), &mut |s| steps.push(s));
        let Step::Rewritten { address } = steps[0].clone() else {
            panic!("{steps:?}")
        };
        (address, local, steps)
    }

    fn local_of(r: &Routing, addr: &str) -> Option<String> {
        run(r, addr).1.map(|l| String::from_utf8(l).unwrap())
    }

    #[test]
    fn no_at_gets_envnoathost() {
        let r = routing(&["noat.example"], &[], &[]);
        let (addr, local, _) = run(&r, "joe");
        assert_eq!(addr, b"joe@noat.example");
        assert_eq!(local, Some(b"joe".to_vec()));
    }

    #[test]
    fn envnoathost_defaults_to_me_then_literal() {
        let dir = TempDir::new("resolve-rewrite-envnoathost");
        std::fs::create_dir_all(dir.join("control")).unwrap();
        std::fs::write(dir.join("control/me"), "me.example\n").unwrap();
        let r = Routing::load_in(dir.path()).unwrap();
        assert_eq!(r.envnoathost(), b"me.example");
        assert_eq!(
            local_of(&r, "joe"),
            Some("joe".into()),
            "locals defaults to me too"
        );

        std::fs::write(dir.join("control/envnoathost"), "other.example \n").unwrap();
        assert_eq!(
            Routing::load_in(dir.path()).unwrap().envnoathost(),
            b"other.example"
        );

        std::fs::remove_file(dir.join("control/me")).unwrap();
        std::fs::remove_file(dir.join("control/envnoathost")).unwrap();
        std::fs::write(dir.join("control/locals"), "x.example\n").unwrap();
        let r = Routing::load_in(dir.path()).unwrap();
        assert_eq!(r.envnoathost(), b"envnoathost");
        // An unqualified address is then not local, and not silently local either.
        assert_eq!(run(&r, "joe").0, b"joe@envnoathost");
    }

    #[test]
    fn locals_and_me_both_missing_is_an_error() {
        let dir = TempDir::new("resolve-rewrite-nolocals");
        std::fs::create_dir_all(dir.join("control")).unwrap();
        let e = Routing::load_in(dir.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        // An unreadable control file is an error too, not "absent".
        std::fs::create_dir_all(dir.join("control/virtualdomains")).unwrap();
        std::fs::write(dir.join("control/me"), "me.example\n").unwrap();
        assert!(Routing::load_in(dir.path()).is_err());
    }

    #[test]
    fn locals_lines_and_vdoms_are_read() {
        let dir = TempDir::new("resolve-rewrite-loadall");
        std::fs::create_dir_all(dir.join("control")).unwrap();
        std::fs::write(dir.join("control/me"), "me.example\n").unwrap();
        std::fs::write(dir.join("control/locals"), "# c\nA.example\n\nb.example\n").unwrap();
        std::fs::write(dir.join("control/percenthack"), "gw.example\n").unwrap();
        std::fs::write(dir.join("control/virtualdomains"), "v.example:pre\n").unwrap();
        let r = Routing::load_in(dir.path()).unwrap();
        assert_eq!(local_of(&r, "x@a.EXAMPLE"), Some("x".into()));
        assert_eq!(local_of(&r, "x@b.example"), Some("x".into()));
        assert_eq!(
            local_of(&r, "x@me.example"),
            None,
            "me is not local when locals exists"
        );
        assert_eq!(local_of(&r, "x%a.example@gw.example"), Some("x".into()));
        assert_eq!(local_of(&r, "x@v.example"), Some("pre-x".into()));
    }

    #[test]
    fn percenthack_loops_on_the_last_percent() {
        let r = routing(&["local.example"], &["gw.example", "gw2.example"], &[]);
        // Last '%' becomes the '@', repeatedly while the new domain is listed.
        let (addr, local, _) = run(&r, "joe%local.example%gw2.example@gw.example");
        assert_eq!(addr, b"joe@local.example");
        assert_eq!(local, Some(b"joe".to_vec()));
        // Stops when the domain is not listed.
        let (addr, local, _) = run(&r, "a%b%remote.example@gw.example");
        assert_eq!(addr, b"a%b@remote.example");
        assert_eq!(local, None);
        // Stops when there is no '%' left.
        let (addr, _, _) = run(&r, "plain@gw.example");
        assert_eq!(addr, b"plain@gw.example");
        // Not listed: '%' stays.
        let (addr, _, _) = run(&r, "a%local.example@other.example");
        assert_eq!(addr, b"a%local.example@other.example");
        // Applies after envnoathost too.
        let r = Routing::new(
            b"gw.example".to_vec(),
            lines(&["local.example"]),
            lines(&["gw.example"]),
            vec![],
        );
        assert_eq!(run(&r, "joe%local.example").0, b"joe@local.example");
    }

    #[test]
    fn percenthack_keeps_working_on_qmail_sends_at() {
        // "a%b@c@gw": the '@' qmail-send works on is the last one; after the
        // hack the address is "a@b@c", whose last '@' decides the domain.
        let r = routing(&["c"], &["gw"], &[]);
        let (addr, local, _) = run(&r, "a%b@c@gw");
        assert_eq!(addr, b"a@b@c");
        assert_eq!(local, Some(b"a@b".to_vec()));
    }

    #[test]
    fn locals_are_case_insensitive_and_keep_local_case() {
        let r = routing(&["Example.COM"], &[], &[]);
        assert_eq!(local_of(&r, "Joe@EXAMPLE.com"), Some("Joe".into()));
        assert_eq!(local_of(&r, "a@b@example.com"), Some("a@b".into()));
        assert_eq!(local_of(&r, "joe@sub.example.com"), None);
    }

    #[test]
    fn virtualdomains_key_order() {
        let all = [
            "joe@sub.v.example:whole",
            "sub.v.example:domain",
            ".v.example:dotv",
            ".example:dotexample",
            ":catchall",
        ];
        let r = routing(&[], &[], &all);
        assert_eq!(local_of(&r, "joe@sub.v.example"), Some("whole-joe".into()));
        assert_eq!(local_of(&r, "JOE@Sub.V.example"), Some("whole-JOE".into()));
        assert_eq!(local_of(&r, "ann@sub.v.example"), Some("domain-ann".into()));
        assert_eq!(
            local_of(&r, "ann@x.sub.v.example"),
            Some("dotv-ann".into()),
            "longest suffix first"
        );
        assert_eq!(local_of(&r, "ann@v.example"), Some("dotexample-ann".into()));
        assert_eq!(local_of(&r, "ann@other.org"), Some("catchall-ann".into()));
        assert_eq!(local_of(&r, "ann@"), Some("catchall-ann".into()));

        let (_, _, steps) = run(&r, "ann@x.sub.v.example");
        assert_eq!(
            steps[1],
            Step::VirtualDomain {
                key: b".v.example".to_vec(),
                prefix: b"dotv".to_vec(),
                local: b"dotv-ann".to_vec()
            }
        );
    }

    #[test]
    fn virtualdomains_suffix_longest_first_even_if_shorter_listed_first() {
        let r = routing(&[], &[], &[".example:short", ".b.example:long"]);
        assert_eq!(local_of(&r, "x@a.b.example"), Some("long-x".into()));
    }

    #[test]
    fn virtualdomains_domain_itself_is_not_a_dot_suffix() {
        // ".v.example" does not match the bare domain "v.example".
        let r = routing(&[], &[], &[".v.example:dot"]);
        assert_eq!(local_of(&r, "x@v.example"), None);
    }

    #[test]
    fn no_key_is_not_ours() {
        let r = routing(&["local.example"], &[], &["v.example:pre"]);
        let (_, local, steps) = run(&r, "x@remote.example");
        assert_eq!(local, None);
        assert_eq!(
            steps[1],
            Step::NotLocal {
                domain: b"remote.example".to_vec()
            }
        );
    }

    #[test]
    fn empty_prefix_is_an_exception() {
        let r = routing(&[], &[], &["special.v.example:", ".v.example:pre", ":all"]);
        let (_, local, steps) = run(&r, "x@special.v.example");
        assert_eq!(local, None);
        assert_eq!(
            steps[1],
            Step::VirtualException {
                key: b"special.v.example".to_vec()
            }
        );
        assert_eq!(local_of(&r, "x@other.v.example"), Some("pre-x".into()));
        // The exception wins over the catch-all, being found first.
        let r = routing(&[], &[], &["joe@v.example:", ":all"]);
        assert_eq!(local_of(&r, "joe@v.example"), None);
        assert_eq!(local_of(&r, "ann@v.example"), Some("all-ann".into()));
    }

    #[test]
    fn locals_win_over_virtualdomains() {
        let r = routing(&["both.example"], &[], &["both.example:pre"]);
        assert_eq!(local_of(&r, "x@both.example"), Some("x".into()));
    }
}
