//! What the `.qmail` file qmail-local would use says: does that delivery
//! provably bounce this recipient?
//!
//! The file is read as qmail-local reads it (at most [`MAX_DOTQMAIL`]
//! bytes here; a longer one is not judged): one instruction per line,
//! trailing blanks removed, `#` a comment, `.`/`/` a file or maildir
//! delivery, `|` a program run by `/bin/sh -c`, `&` or anything else a
//! forward, `+list` making the rest forward-only. qmail-local defers when
//! the first line is blank, or when a file or program delivery comes while
//! forward-only (the owner's execute bit on the file, or `+list`).
//!
//! The lines are followed in order. A file delivery delivers: accepted.
//! Forwards are sent only after the last line, so they do not stop a
//! later program from bouncing the message. A program line is judged when
//! it is one whose decision can be read: `bouncesaying TEXT` with no
//! program after it always bounces; `fastforward` bounces a recipient its
//! cdb lacks ([`fastforward`](super::fastforward)); vpopmail's
//! `vdelivermail '' bounce-no-mailbox` (or `delete`) refuses a name that
//! is no vpopmail user ([`vpopmail`](super::vpopmail)). Any other program
//! could do anything: accepted. So is a file the check may not read.

use super::errstr::error_str;
use super::qmesearch::QmailFile;
use super::{Deferral, Delivery, Options, Step, System, Verdict, defer};
use super::{fastforward, vpopmail};

/// The most of a `.qmail` file the check reads; qmail-local itself has
/// no limit, so a longer file is accepted unjudged.
pub const MAX_DOTQMAIL: usize = 4096;

/// What a program line decides.
pub enum Run {
    /// The program exits 100: qmail-local bounces the message.
    Bounces(String),
    /// The program exits 0 without delivering: qmail-local goes on with
    /// the next line.
    PassesOn(String),
    /// It delivers, or may: accepted.
    Delivers(String),
    /// The answer is this verdict (a deferral, a failure to look).
    Verdict(Verdict),
}

pub fn decide<S: System>(
    sys: &mut S,
    d: &Delivery,
    file: &QmailFile,
    options: &Options,
    sink: &mut dyn FnMut(Step),
) -> Verdict {
    let path = &file.path;
    let note = |line: &[u8], finding: String| Step::DotQmail {
        path: path.clone(),
        line: line.to_vec(),
        finding,
    };
    let text = match sys.read_small(path, MAX_DOTQMAIL) {
        Ok(Some(text)) => text,
        Ok(None) => {
            sink(note(
                b"",
                format!("longer than {MAX_DOTQMAIL} bytes: not judged, accepted"),
            ));
            return Verdict::Accept;
        }
        Err(e) => {
            let errno = e.raw_os_error();
            let reason = errno.map_or("unknown error", error_str);
            sink(note(b"", format!("unable to read: {reason}: accepted")));
            let mut line = b"unable to read ".to_vec();
            line.extend_from_slice(path);
            line.extend_from_slice(b": ");
            line.extend_from_slice(reason.as_bytes());
            sink(Step::Log(line));
            return Verdict::Accept;
        }
    };
    if text.is_empty() {
        sink(note(b"", "empty: the default delivery".into()));
        return Verdict::Accept;
    }
    let mut forward_only = file.mode & 0o100 != 0;
    let mut lines = text.split(|&b| b == b'\n').peekable();
    let mut first = true;
    while let Some(raw) = lines.next() {
        // The piece after the last newline is a line only if not empty
        // (qmail-local adds a final newline when there is none).
        if lines.peek().is_none() && raw.is_empty() && !first {
            break;
        }
        let line = trim_end(raw);
        let is_first = std::mem::replace(&mut first, false);
        match line.first() {
            None if is_first => {
                let why = Deferral::FirstLineBlank { path: path.clone() };
                return defer(why, sink);
            }
            None | Some(b'#') => {}
            Some(b'.' | b'/') | Some(b'|') if forward_only => {
                let why = Deferral::ForwardOnly { path: path.clone() };
                return defer(why, sink);
            }
            Some(b'.' | b'/') => {
                sink(note(line, "a file delivery: accepted".into()));
                return Verdict::Accept;
            }
            Some(b'|') => match program(sys, d, file, &line[1..], options) {
                Run::Bounces(why) => {
                    sink(note(line, format!("{why}: qmail-local bounces")));
                    return Verdict::Unknown;
                }
                Run::PassesOn(why) => sink(note(line, format!("{why}: on to the next line"))),
                Run::Delivers(why) => {
                    sink(note(line, format!("{why}: accepted")));
                    return Verdict::Accept;
                }
                Run::Verdict(Verdict::Defer(why)) => return defer(why, sink),
                Run::Verdict(v) => return v,
            },
            Some(b'+') => {
                if &line[1..] == b"list" {
                    forward_only = true;
                }
            }
            Some(_) => sink(note(line, "a forward, sent after the last line".into())),
        }
    }
    sink(note(b"", "no line bounces: accepted".into()));
    Verdict::Accept
}

fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = line {
        line = rest;
    }
    line
}

/// A program line (after the `|`).
fn program<S: System>(
    sys: &mut S,
    d: &Delivery,
    file: &QmailFile,
    command: &[u8],
    options: &Options,
) -> Run {
    let Some(words) = shell_words(command) else {
        return Run::Delivers("a program the check cannot read".into());
    };
    let Some(name) = words.first() else {
        return Run::Delivers("an empty program".into());
    };
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    let known = match base {
        b"bouncesaying" => Some(Known::Bouncesaying),
        b"fastforward" => Some(Known::Fastforward),
        b"vdelivermail" => Some(Known::Vdelivermail),
        _ => None,
    };
    let Some(known) = known else {
        return Run::Delivers("a program whose decision the check cannot know".into());
    };
    if !runnable(sys, name) {
        return Run::Delivers(format!(
            "{} is not where qmail's PATH would find it",
            String::from_utf8_lossy(name)
        ));
    }
    let args = &words[1..];
    match known {
        // bouncesaying: with a program after the text it bounces only if
        // that program succeeds; with none (or no text: its usage
        // message) it always exits 100.
        Known::Bouncesaying if args.len() <= 1 => {
            Run::Bounces("bouncesaying always bounces".into())
        }
        Known::Bouncesaying => {
            Run::Delivers("bouncesaying with a program: it may not bounce".into())
        }
        Known::Fastforward => fastforward::run(sys, d, file, args, options),
        Known::Vdelivermail => vpopmail::vdelivermail(sys, d, name, args, options),
    }
}

enum Known {
    Bouncesaying,
    Fastforward,
    Vdelivermail,
}

/// Whether `sh -c` would find the program: an absolute path that exists,
/// or a bare name in the qmail home's bin/ or the usual system
/// directories, which qmail's start-up scripts put on its PATH.
fn runnable<S: System>(sys: &mut S, name: &[u8]) -> bool {
    if name.starts_with(b"/") {
        return sys.stat(name).is_ok();
    }
    if name.contains(&b'/') {
        return false;
    }
    ["bin/", "/usr/local/bin/", "/usr/bin/", "/bin/"]
        .iter()
        .any(|dir| {
            let mut path = dir.as_bytes().to_vec();
            path.extend_from_slice(name);
            sys.stat(&path).is_ok()
        })
}

/// The words `/bin/sh -c` would make of a command, for the plain forms
/// .qmail files use: words of safe characters, `'single'` and `"double"`
/// quoted strings without expansions. `None` for anything else
/// (variables, globs, redirections, several commands, ...): the check
/// does not guess what a shell would do with it.
pub fn shell_words(command: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < command.len() {
        match command[i] {
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            b'#' => return None,
            _ => {}
        }
        let mut word = Vec::new();
        while i < command.len() && !matches!(command[i], b' ' | b'\t') {
            match command[i] {
                b'\'' => {
                    let end = command[i + 1..].iter().position(|&b| b == b'\'')?;
                    word.extend_from_slice(&command[i + 1..i + 1 + end]);
                    i += end + 2;
                }
                b'"' => {
                    let end = command[i + 1..].iter().position(|&b| b == b'"')?;
                    let inner = &command[i + 1..i + 1 + end];
                    if inner.iter().any(|b| matches!(b, b'$' | b'`' | b'\\')) {
                        return None;
                    }
                    word.extend_from_slice(inner);
                    i += end + 2;
                }
                b if b.is_ascii_alphanumeric() || b"/_.,:@+-%^".contains(&b) || b >= 0x80 => {
                    word.push(b);
                    i += 1;
                }
                // '=' in the first word could be a variable assignment.
                b'=' if !word.is_empty() && !words.is_empty() => {
                    word.push(b'=');
                    i += 1;
                }
                _ => return None,
            }
        }
        words.push(word);
    }
    Some(words)
}

/// A failure to look at a database the file points to: 451 (the sender
/// retries), or accepted when the install says so (`DOTQMAILFAIL=accept`).
pub fn cannot_look(path: &[u8], e: &std::io::Error, options: &Options) -> Run {
    if options.fail_accept {
        return Run::Delivers(format!(
            "unable to read {}: {} (DOTQMAILFAIL=accept)",
            String::from_utf8_lossy(path),
            e.raw_os_error().map_or("unknown error", error_str)
        ));
    }
    Run::Verdict(Verdict::Defer(Deferral::CannotLook {
        path: path.to_vec(),
        errno: e.raw_os_error(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Option<Vec<String>> {
        shell_words(s.as_bytes()).map(|w| {
            w.into_iter()
                .map(|w| String::from_utf8(w).unwrap())
                .collect()
        })
    }

    #[test]
    fn plain_shell_words() {
        assert_eq!(
            words(" /home/vpopmail/bin/vdelivermail '' bounce-no-mailbox"),
            Some(vec![
                "/home/vpopmail/bin/vdelivermail".into(),
                "".into(),
                "bounce-no-mailbox".into()
            ])
        );
        assert_eq!(
            words("bouncesaying 'This address is no longer in use.'"),
            Some(vec![
                "bouncesaying".into(),
                "This address is no longer in use.".into()
            ])
        );
        assert_eq!(
            words("bouncesaying \"Gone, sorry\" x"),
            Some(vec![
                "bouncesaying".into(),
                "Gone, sorry".into(),
                "x".into()
            ])
        );
        assert_eq!(words("fastforward -d aliases.cdb").unwrap().len(), 3);
        assert_eq!(words("a'b'\"c\"").unwrap(), ["abc"]);
    }

    #[test]
    fn anything_a_shell_would_expand_is_not_read() {
        for cmd in [
            "bouncesaying $X",
            "bouncesaying \"$X\"",
            "bouncesaying x; true",
            "bouncesaying x && true",
            "bouncesaying x | cat",
            "bouncesaying x > /dev/null",
            "bouncesaying `x`",
            "bouncesaying *",
            "bouncesaying 'unterminated",
            "X=1 bouncesaying x",
            "bouncesaying x # comment",
            "bouncesaying ~/x",
            "bouncesaying \\x",
        ] {
            assert_eq!(words(cmd), None, "{cmd}");
        }
    }
}
