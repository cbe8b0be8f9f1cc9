//! Splitting an SMTP command line into verb and argument, as qmail's
//! `commands.c` does.

/// The verbs qmail-smtpd knows; anything else is `Unknown` (502).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Rcpt,
    Mail,
    Data,
    Quit,
    Helo,
    Ehlo,
    Rset,
    Help,
    Noop,
    Vrfy,
    /// RFC 3207; only in this list when TLS is built in (always, here).
    Starttls,
    /// RFC 4954; answered 502 as unknown unless AUTH is configured.
    Auth,
    Unknown,
}

/// Splits a command line (without its LF; one trailing CR is removed here).
///
/// qmail handles the line as a C string, so a NUL ends it: whatever follows
/// a NUL is invisible to the verb and the argument alike. The verb is what
/// precedes the first space; the argument is the rest with leading spaces
/// (not tabs) removed.
pub fn split(line: &[u8]) -> (Verb, &[u8]) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = match memchr::memchr(0, line) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let (verb, mut arg) = match memchr::memchr(b' ', line) {
        Some(sp) => (&line[..sp], &line[sp..]),
        None => (line, &line[line.len()..]),
    };
    while let [b' ', rest @ ..] = arg {
        arg = rest;
    }
    (verb_of(verb), arg)
}

fn verb_of(verb: &[u8]) -> Verb {
    const VERBS: [(&[u8], Verb); 12] = [
        (b"rcpt", Verb::Rcpt),
        (b"mail", Verb::Mail),
        (b"data", Verb::Data),
        (b"quit", Verb::Quit),
        (b"helo", Verb::Helo),
        (b"ehlo", Verb::Ehlo),
        (b"rset", Verb::Rset),
        (b"help", Verb::Help),
        (b"noop", Verb::Noop),
        (b"vrfy", Verb::Vrfy),
        (b"starttls", Verb::Starttls),
        (b"auth", Verb::Auth),
    ];
    VERBS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(verb))
        .map_or(Verb::Unknown, |&(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_arguments() {
        assert_eq!(
            split(b"MAIL FROM:<a@b>\r"),
            (Verb::Mail, &b"FROM:<a@b>"[..])
        );
        assert_eq!(split(b"rCpT   TO:<x>"), (Verb::Rcpt, &b"TO:<x>"[..]));
        assert_eq!(split(b"QUIT"), (Verb::Quit, &b""[..]));
        assert_eq!(split(b"quit\r\r"), (Verb::Unknown, &b""[..]));
        assert_eq!(split(b"HELO\tx"), (Verb::Unknown, &b""[..]));
        assert_eq!(split(b"NOOP \tx"), (Verb::Noop, &b"\tx"[..]));
        assert_eq!(split(b""), (Verb::Unknown, &b""[..]));
        assert_eq!(split(b" HELO x"), (Verb::Unknown, &b"HELO x"[..]));
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(split(b"MAIL FROM:<a\0b>"), (Verb::Mail, &b"FROM:<a"[..]));
        assert_eq!(split(b"MA\0IL FROM:<a>"), (Verb::Unknown, &b""[..]));
        assert_eq!(split(b"HELO\0 x"), (Verb::Helo, &b""[..]));
    }
}
