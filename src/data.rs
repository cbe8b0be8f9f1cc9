//! The DATA byte machine: qmail-smtpd's `blast()`, fed any chunking of the
//! client's bytes.
//!
//! - a line consisting of `.` ends the message; a leading `.` is removed;
//! - CRLF becomes LF; a bare LF (not after CR) is fatal;
//! - header lines starting `Received` or `Delivered` (any case, counted on
//!   the raw bytes, so `Received-SPF:` and `Delivered-To:` count too) are
//!   hops;
//! - stored bytes are counted against databytes;
//! - a bare CR is noted (the session refuses such a message unless
//!   ALLOWBARECR is set; stored unchanged otherwise, as qmail does).
//!
//! The states mirror qmail's so the quirks match byte for byte: for example
//! `.<CR>x` at the start of a line keeps its dot.

/// qmail's MAXHOPS: this many hops or more is a mail loop.
pub const MAX_HOPS: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside a line.
    Mid,
    /// At the start of a line (after CRLF, or the first byte of DATA).
    LineStart,
    /// A line starting with `.`.
    Dot,
    /// A line starting with `.<CR>`.
    DotCr,
    /// After a CR whose meaning the next byte decides.
    Cr,
}

/// How a chunk of input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// All input consumed; the message goes on.
    More,
    /// The end-of-data line was seen; its final LF was the last byte
    /// consumed.
    End,
    /// A bare LF: the session must answer 451 and exit.
    StrayNewline,
}

/// Recognises `Received`/`Delivered` header lines and the empty line that
/// ends the header, on the raw bytes, exactly as qmail does.
#[derive(Debug, Clone)]
struct HopCounter {
    in_header: bool,
    pos: usize,
    maybe_received: bool,
    maybe_blank: bool,
    maybe_delivered: bool,
    hops: u32,
}

impl HopCounter {
    fn new() -> Self {
        HopCounter {
            in_header: true,
            pos: 0,
            maybe_received: true,
            maybe_blank: true,
            maybe_delivered: true,
            hops: 0,
        }
    }

    #[inline]
    fn byte(&mut self, ch: u8) {
        if self.pos < 9 {
            let pos = self.pos;
            if ch.to_ascii_lowercase() != b"delivered"[pos] {
                self.maybe_delivered = false;
            }
            if self.maybe_delivered && pos == 8 {
                self.hops = self.hops.saturating_add(1);
            }
            if pos < 8 && ch.to_ascii_lowercase() != b"received"[pos] {
                self.maybe_received = false;
            }
            if self.maybe_received && pos == 7 {
                self.hops = self.hops.saturating_add(1);
            }
            if pos < 2 && ch != b"\r\n"[pos] {
                self.maybe_blank = false;
            }
            if self.maybe_blank && pos == 1 {
                self.in_header = false;
            }
            self.pos += 1;
        }
        if ch == b'\n' {
            self.pos = 0;
            self.maybe_received = true;
            self.maybe_blank = true;
            self.maybe_delivered = true;
        }
    }
}

/// One message's worth of DATA decoding.
#[derive(Debug, Clone)]
pub struct Data {
    state: State,
    hops: HopCounter,
    /// databytes; 0 means unlimited.
    limit: u64,
    stored: u64,
    bare_cr: bool,
    /// Stop storing a bare CR-carrying message (the default).
    refuse_bare_cr: bool,
}

impl Data {
    pub fn new(databytes: u64, refuse_bare_cr: bool) -> Self {
        Data {
            state: State::LineStart,
            hops: HopCounter::new(),
            limit: databytes,
            stored: 0,
            bare_cr: false,
            refuse_bare_cr,
        }
    }

    /// Number of hop lines counted in the header.
    pub fn hops(&self) -> u32 {
        self.hops.hops
    }

    /// True when the stored message exceeds databytes.
    pub fn too_big(&self) -> bool {
        self.limit != 0 && self.stored > self.limit
    }

    /// True when the message carried a CR not followed by LF.
    pub fn bare_cr(&self) -> bool {
        self.bare_cr
    }

    /// True once the message is certain to be refused, so nothing more needs
    /// to reach qmail-queue.
    pub fn failed(&self) -> bool {
        self.too_big() || self.hops.hops >= MAX_HOPS || (self.refuse_bare_cr && self.bare_cr)
    }

    #[inline]
    fn put(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.failed() {
            return;
        }
        self.stored += bytes.len() as u64;
        if self.too_big() {
            return;
        }
        out.extend_from_slice(bytes);
    }

    /// Decodes as much of `input` as belongs to the message, appending the
    /// bytes to store to `out`. Returns the number of bytes consumed and why
    /// it stopped. After `End` or `StrayNewline` the rest of `input` belongs
    /// to the SMTP command stream (or nobody).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Status) {
        let mut i = 0;
        while i < input.len() {
            // Fast path: the middle of a line, up to the next CR or LF,
            // copied in one go. In the header only once the line is past
            // the bytes hop counting looks at (then only LF matters to it).
            if self.state == State::Mid && (!self.hops.in_header || self.hops.pos >= 9) {
                let run = memchr::memchr2(b'\r', b'\n', &input[i..]).unwrap_or(input.len() - i);
                if run > 0 {
                    self.put(out, &input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            let ch = input[i];
            i += 1;
            if self.hops.in_header {
                self.hops.byte(ch);
            }
            match self.step(ch, out) {
                Status::More => {}
                done => return (i, done),
            }
        }
        (input.len(), Status::More)
    }

    /// One byte of qmail's state machine.
    #[inline]
    fn step(&mut self, ch: u8, out: &mut Vec<u8>) -> Status {
        use State::*;
        match (self.state, ch) {
            (Mid | LineStart | Dot, b'\n') => return Status::StrayNewline,
            (DotCr, b'\n') => return Status::End,
            (Mid | LineStart, b'\r') => self.state = Cr,
            (LineStart, b'.') => self.state = Dot,
            (Dot, b'\r') => self.state = DotCr,
            (Mid | LineStart | Dot, _) => {
                // In Dot the dot itself is dropped: dot-unstuffing.
                self.state = Mid;
                self.put(out, &[ch]);
            }
            (DotCr, _) => {
                // `.<CR>` not followed by LF: qmail keeps both bytes.
                self.bare_cr = true;
                self.put(out, b".\r");
                if ch == b'\r' {
                    self.state = Cr;
                } else {
                    self.state = Mid;
                    self.put(out, &[ch]);
                }
            }
            (Cr, b'\n') => {
                self.state = LineStart;
                self.put(out, b"\n");
            }
            (Cr, b'\r') => {
                // The earlier CR was bare; this one may still start a CRLF.
                self.bare_cr = true;
                self.put(out, b"\r");
            }
            (Cr, _) => {
                self.bare_cr = true;
                self.state = Mid;
                self.put(out, &[b'\r', ch]);
            }
        }
        Status::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(input: &[u8]) -> (Vec<u8>, Status, usize, Data) {
        let mut d = Data::new(0, false);
        let mut out = Vec::new();
        let (n, st) = d.feed(input, &mut out);
        (out, st, n, d)
    }

    #[test]
    fn plain_message_and_dot_rules() {
        let (out, st, n, _) = run(b"Subject: x\r\n\r\n..dot\r\n.x\r\nbody\r\n.\r\nQUIT\r\n");
        assert_eq!(st, Status::End);
        assert_eq!(out, b"Subject: x\n\n.dot\nx\nbody\n");
        assert_eq!(n, 34);
    }

    #[test]
    fn empty_message() {
        let (out, st, _, _) = run(b".\r\n");
        assert_eq!((out.as_slice(), st), (&b""[..], Status::End));
    }

    #[test]
    fn bare_lf_is_fatal_everywhere_but_after_cr() {
        for input in [&b"a\nb"[..], b"\n", b".\n", b"a\r\n\n", b"a\r\n.\n"] {
            assert_eq!(run(input).1, Status::StrayNewline, "{input:?}");
        }
    }

    #[test]
    fn bare_cr_is_stored_and_noted() {
        let (out, st, _, d) = run(b"a\rb\r\r\n.\rx\r\n.\r\r\n.\r\n");
        assert_eq!(st, Status::End);
        assert_eq!(out, b"a\rb\r\n.\rx\n.\r\n");
        assert!(d.bare_cr());
        assert!(!run(b"a\r\n.\r\n").3.bare_cr());
    }

    #[test]
    fn smuggling_variants_stay_inside() {
        // <CR>.<CR>, <LF>.<CR><LF> and friends never end the message.
        let (out, st, _, _) = run(b"a\r.\rMAIL FROM:<x>\r\n.\r\n");
        assert_eq!(st, Status::End);
        assert_eq!(out, b"a\r.\rMAIL FROM:<x>\n");
    }

    #[test]
    fn hops_count_received_and_delivered_in_header_only() {
        let msg = b"Received: a\r\nreceived-spf: b\r\nDELIVERED-TO: c\r\nDeliver: no\r\nX: y\r\n\r\nReceived: body\r\n.\r\n";
        let (_, _, _, d) = run(msg);
        assert_eq!(d.hops(), 3);
        let dot = run(b".Received: x\r\n\r\n.\r\n").3;
        assert_eq!(dot.hops(), 0);
    }

    #[test]
    fn databytes_counts_stored_bytes() {
        let mut d = Data::new(4, false);
        let mut out = Vec::new();
        assert_eq!(d.feed(b"abc\r\n.\r\n", &mut out).1, Status::End);
        assert!(!d.too_big());
        let mut d = Data::new(3, false);
        let mut out = Vec::new();
        assert_eq!(d.feed(b"abc\r\nmore\r\n.\r\n", &mut out).1, Status::End);
        assert!(d.too_big());
        assert_eq!(out, b"abc", "nothing stored past the limit");
    }

    fn chunked(input: &[u8], cuts: &[usize]) -> (Vec<u8>, Status, usize, u32, bool) {
        let mut d = Data::new(0, false);
        let mut out = Vec::new();
        let mut start = 0;
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
        bounds.sort();
        bounds.push(input.len());
        for end in bounds {
            if end < start {
                continue;
            }
            let (n, st) = d.feed(&input[start..end], &mut out);
            if st != Status::More {
                return (out, st, start + n, d.hops(), d.bare_cr());
            }
            start = end;
        }
        (out, Status::More, input.len(), d.hops(), d.bare_cr())
    }

    /// SMTP-encodes a message of LF-terminated lines: dot-stuffing, CRLF.
    fn encode(lines: &[Vec<u8>]) -> Vec<u8> {
        let mut wire = Vec::new();
        for l in lines {
            if l.first() == Some(&b'.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(l);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".\r\n");
        wire
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_result(
            input in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'R'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            prop_assert_eq!(chunked(&input, &[]), chunked(&input, &cuts));
        }

        #[test]
        fn encode_then_decode_is_identity(
            lines in proptest::collection::vec(
                proptest::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..40),
                0..20),
        ) {
            let wire = encode(&lines);
            let (out, st, n, _, bare) = chunked(&wire, &[]);
            prop_assert_eq!(st, Status::End);
            prop_assert_eq!(n, wire.len());
            prop_assert!(!bare);
            let expected: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
            prop_assert_eq!(out, expected);
        }
    }
}
