//! The whole recipient check over an in-memory system whose `.qmail`
//! files, modes and cdb answers come from the fuzz input: no panic, and
//! every path it looks at stays inside the home directories (no `..`
//! component, no NUL); plus the shell-word reader on its own.
#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use qmail_smtpd::resolve::dotqmail::shell_words;
use qmail_smtpd::resolve::{
    Passwd, Resolver, Routing, SqlAnswer, SqlQuestion, Stat, System,
};

struct Sys<'a> {
    dotqmail: &'a [u8],
    mode: u32,
    asked: Vec<Vec<u8>>,
}

impl System for Sys<'_> {
    fn getpwnam(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        Ok((name == b"joe" || name == b"alias").then(|| Passwd {
            name: name.to_vec(),
            uid: 5001,
            gid: 5001,
            dir: [b"/h/", name].concat(),
        }))
    }
    fn stat(&mut self, path: &[u8]) -> io::Result<Stat> {
        self.asked.push(path.to_vec());
        if path == b"/h/joe" || path == b"/h/alias" || path == b"/h" || path == b"/" {
            return Ok(Stat { uid: 5001, gid: 5001, mode: 0o040755 });
        }
        if path.ends_with(b"/.qmail-default") || path.ends_with(b"bin/bouncesaying") {
            return Ok(Stat { uid: 5001, gid: 5001, mode: self.mode });
        }
        Err(io::Error::from_raw_os_error(2))
    }
    fn read_small(&mut self, path: &[u8], max: usize) -> io::Result<Option<Vec<u8>>> {
        self.asked.push(path.to_vec());
        Ok((self.dotqmail.len() <= max).then(|| self.dotqmail.to_vec()))
    }
    fn cdb_get(&mut self, path: &[u8], key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self.asked.push(path.to_vec());
        Ok((key.len() % 3 == 0).then(|| b"x\x001\x001\x00/h/joe\x00-\x00".to_vec()))
    }
    fn vpopmail_sql(&mut self, _conf: &[u8], q: &SqlQuestion) -> io::Result<SqlAnswer> {
        Ok(match q {
            SqlQuestion::Valias { .. } => SqlAnswer::Valias(false),
            SqlQuestion::User { name, .. } => SqlAnswer::User((name.len() % 2 == 0).then_some(0)),
        })
    }
}

fuzz_target!(|input: &[u8]| {
    let _ = shell_words(input);
    let Some((&m, rest)) = input.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (addr, dotqmail) = rest.split_at(split);
    let routing = Routing::new(
        b"example.com".to_vec(),
        vec![b"example.com".to_vec()],
        vec![b"gw.example.com".to_vec()],
        vec![b"virt.example:joe-v".to_vec()],
    );
    let sys = Sys {
        dotqmail,
        mode: 0o100000 | u32::from(m) << 1,
        asked: Vec::new(),
    };
    let mut r = Resolver::with_users_cdb(routing, sys, "/nonexistent/users/cdb");
    let _ = r.explain_steps(addr);
    for p in &r.system().asked {
        assert!(!p.contains(&0), "{p:?}");
        assert!(!p.split(|&b| b == b'/').any(|c| c == b".."), "{p:?}");
    }
});
