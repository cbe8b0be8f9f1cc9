//! Logging to stderr, for multilog or splogger: one plain line per event, no
//! timestamps (multilog adds them), no colour.
//!
//! Two kinds of line:
//! - [`line`]: lines existing log parsers depend on (`realrcptto ...`,
//!   `unable to stat ...`). Always written, as raw bytes, because addresses
//!   may carry 8-bit data that must reach the log unchanged.
//! - the `log` macros: decisions and diagnostics, filtered by the level in
//!   `$SMTPD_LOGLEVEL` (`off`, `error`, `warn` (default), `info`, `debug`,
//!   `trace`).
//!
//! Under inetd or xinetd fd 2 is the client's socket; `main` then points fd 2
//! at /dev/null before anything is logged (see `io::protect_stderr`).

use std::io::Write;

/// Writes one log line (a newline is added) straight to fd 2 in a single
/// write, whatever the level. Errors are ignored: a full log pipe must not
/// take the SMTP session down.
pub fn line(bytes: &[u8]) {
    let mut buf = Vec::with_capacity(bytes.len() + 1);
    buf.extend_from_slice(bytes);
    buf.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&buf);
}

/// A log line the sans-IO session (or the recipient check) decided on:
/// `level` `None` for the lines always written (`realrcptto ...`,
/// `unable to stat ...`), else its level. The I/O layer writes them with
/// [`write`]; tests read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub level: Option<log::Level>,
    pub line: Vec<u8>,
}

impl Record {
    /// A line that is always written.
    pub fn always(line: Vec<u8>) -> Record {
        Record { level: None, line }
    }

    /// Whether a record at `level` would be written at all (so the text
    /// need not be made when it would not).
    pub fn wanted(level: log::Level) -> bool {
        level <= log::max_level()
    }
}

/// Writes the records (those whose level is enabled) and empties the list.
pub fn write(records: &mut Vec<Record>) {
    for r in records.drain(..) {
        if r.level.is_none_or(Record::wanted) {
            line(&r.line);
        }
    }
}

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            line(format!("{}", record.args()).as_bytes());
        }
    }
    fn flush(&self) {}
}

/// Parses a level name as `$SMTPD_LOGLEVEL` takes it; unknown names give the
/// default, `warn`.
pub fn parse_level(name: Option<&str>) -> log::LevelFilter {
    match name.map(str::to_ascii_lowercase).as_deref() {
        Some("off") | Some("0") => log::LevelFilter::Off,
        Some("error") => log::LevelFilter::Error,
        Some("info") => log::LevelFilter::Info,
        Some("debug") => log::LevelFilter::Debug,
        Some("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Warn,
    }
}

/// Installs the stderr logger at `level`. Safe to call once per process.
pub fn init(level: log::LevelFilter) {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names() {
        assert_eq!(parse_level(None), log::LevelFilter::Warn);
        assert_eq!(parse_level(Some("DEBUG")), log::LevelFilter::Debug);
        assert_eq!(parse_level(Some("off")), log::LevelFilter::Off);
        assert_eq!(parse_level(Some("bogus")), log::LevelFilter::Warn);
    }
}
