//! Every reply text the server can send, defined once.
//!
//! These are byte-for-byte the texts of netqmail-1.06 qmail-smtpd plus the
//! realrcptto patch (see SPEC sections 3, 5, 6 and 7). Clients, log parsers
//! and bounce classifiers in the wild match on them: do not "improve" them.

pub const CONTROLS: &[u8] = b"421 unable to read controls (#4.3.0)\r\n";
pub const IPME: &[u8] = b"421 unable to figure out my IP addresses (#4.3.0)\r\n";
pub const CDB: &[u8] = b"421 unable to read cdb user database (#4.3.0)\r\n";
pub const SYSUSERS: &[u8] = b"421 unable to read system user database (#4.3.0)\r\n";
pub const TIMEOUT: &[u8] = b"451 timeout (#4.4.2)\r\n";
pub const STRAY_NEWLINE: &[u8] = b"451 See https://cr.yp.to/docs/smtplf.html.\r\n";

pub const OK: &[u8] = b"250 ok\r\n";
pub const FLUSHED: &[u8] = b"250 flushed\r\n";
pub const VRFY: &[u8] = b"252 send some mail, i'll try my best\r\n";
pub const GO_AHEAD: &[u8] = b"354 go ahead\r\n";
/// EHLO's lines after the greeting: PIPELINING first and 8BITMIME last, as
/// netqmail has them; the optional lines (STARTTLS, SIZE) go in between.
pub const EHLO_PIPELINING: &[u8] = b"\r\n250-PIPELINING\r\n";
pub const EHLO_LAST: &[u8] = b"250 8BITMIME\r\n";
/// RFC 6531, always offered (after PIPELINING, where sagredo's qmail has
/// it): qmail is 8-bit clean, so UTF-8 addresses and headers pass as they
/// are.
pub const EHLO_SMTPUTF8: &[u8] = b"250-SMTPUTF8\r\n";
/// Offered when control/servercert.pem exists and the session is plain.
pub const EHLO_STARTTLS: &[u8] = b"250-STARTTLS\r\n";
/// Followed by databytes and CRLF (RFC 1870), when databytes is set.
pub const EHLO_SIZE: &[u8] = b"250-SIZE ";

pub const UNIMPLEMENTED: &[u8] = b"502 unimplemented (#5.5.1)\r\n";
pub const SYNTAX: &[u8] = b"555 syntax error (#5.5.4)\r\n";
pub const WANT_MAIL: &[u8] = b"503 MAIL first (#5.5.1)\r\n";
pub const WANT_RCPT: &[u8] = b"503 RCPT first (#5.5.1)\r\n";
pub const BADMAILFROM: &[u8] =
    b"553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n";
pub const NOGATEWAY: &[u8] =
    b"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n";
pub const NO_MAILBOX: &[u8] = b"550 sorry, no mailbox here by that name. (#5.1.1)\r\n";
pub const NO_MAILBOX_DATA: &[u8] = b"554 sorry, no mailbox here by that name. (#5.1.1)\r\n";
pub const QQT: &[u8] = b"451 qqt failure (#4.3.0)\r\n";
pub const TOO_MANY_HOPS: &[u8] = b"554 too many hops, this message is looping (#5.4.6)\r\n";
pub const TOO_BIG: &[u8] = b"552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n";
/// An allocation failed (see oom.rs); then exit 1, as netqmail's die_nomem.
pub const NOMEM: &[u8] = b"421 out of memory (#4.3.0)\r\n";

// How qmail-queue ended, beyond its exit codes (whose texts are qmail.c's
// table, in queue::classify). Sent as `451 ` + text + CRLF, like those.
/// waitpid failed: qmail.c's text.
pub const QQ_WAITPID: &[u8] = b"qq waitpid surprise (#4.3.0)";
/// Ours: qmail-queue (or a $QMAILQUEUE filter) took no message byte, or
/// did not exit after the envelope, for timeoutsmtpd seconds, and was
/// killed. Distinct from qmail-queue's own exit 52, `qq timeout`.
pub const QQ_TIMEOUT: &[u8] = b"qmail-queue timed out (#4.3.0)";

// STARTTLS, as the qmail TLS patch (Frederik Vermeulen's, in netqmail
// installs) answers, with RFC 3207's wording for the temporary failure.
pub const READY_FOR_TLS: &[u8] = b"220 ready for tls\r\n";
pub const TLS_UNAVAILABLE: &[u8] = b"454 TLS not available due to temporary reason (#4.3.0)\r\n";
pub const TLS_NO_PARAMS: &[u8] = b"501 Syntax error (no parameters allowed) (#5.5.4)\r\n";
pub const MUST_STARTTLS: &[u8] = b"530 Must issue a STARTTLS command first (#5.7.0)\r\n";

// Replies of our own: limits and refusals netqmail does not have. Each is
// documented in qmail-smtpd(8).
pub const BARE_CR: &[u8] = b"554 sorry, message contains a bare CR, which I refuse (#5.6.2)\r\n";
pub const LINE_TOO_LONG: &[u8] = b"500 sorry, command line too long (#5.5.2)\r\n";
/// MAIL or RCPT with SMTPUTF8 declared, and the address is not UTF-8 (RFC
/// 6531 section 3.3; RFC 3463's bad sender / destination syntax codes).
pub const SENDER_NOT_UTF8: &[u8] =
    b"553 sorry, that sender address is not valid UTF-8 (#5.1.7)\r\n";
pub const RECIPIENT_NOT_UTF8: &[u8] =
    b"553 sorry, that recipient address is not valid UTF-8 (#5.1.3)\r\n";
pub const TOO_MANY_RCPTS: &[u8] = b"452 sorry, too many recipients (#4.5.3)\r\n";
/// The recipient check found that qmail would defer this recipient (a
/// temporary failure of qmail-lspawn or qmail-local before delivery: a
/// sticky home, a missing one, no alias user, ...): the sender keeps the
/// message and retries, as qmail's own queue would have.
pub const MAILBOX_DEFERRED: &[u8] =
    b"451 sorry, that mailbox is temporarily unavailable (#4.2.1)\r\n";
pub const TOO_MANY_UNKNOWN: &[u8] =
    b"421 too many unknown recipients, closing connection (#4.7.0)\r\n";

/// The HELP reply names this project's home page (netqmail's names its own).
pub const HELP: &[u8] = concat!(
    "214 qmail-smtpd (Rust, with realrcptto) home page: ",
    env!("CARGO_PKG_HOMEPAGE"),
    "\r\n"
)
.as_bytes();

// validrcptto (see src/validrcptto.rs): the refusal both published forms
// give (John Simpson's jms1 combined patch, err_vrt; sagredo's qmail,
// err_vrt), and Simpson's hang-up at VALIDRCPTTO_LIMIT misses (die_vrt;
// sagredo's brtlimit sends the same text).
pub const NOT_IN_VALIDRCPTTO: &[u8] =
    b"553 sorry, this recipient is not in my validrcptto list (#5.7.1)\r\n";
pub const TOO_MANY_INVALID: &[u8] = b"421 too many invalid addresses, goodbye (#4.3.0)\r\n";
// RCPTCHECK, the per-recipient program (see rcptcheck.rs): the texts of
// Jay Soffian's patch as notqmail carries it, and of sagredo's extension.
/// Exit 100: the notqmail patch's code (sagredo's answers 550).
pub const RCPTCHECK_NO_MAILBOX: &[u8] = b"553 sorry, no mailbox here by that name. (#5.1.1)\r\n";
/// Exit 111; then exit 1.
pub const RCPTCHECK_UNVERIFIED: &[u8] = b"421 unable to verify recipient (#4.3.0)\r\n";
/// Exit 120, exec failure, a crash, waitpid failure, the program killed
/// for running past timeoutsmtpd; then exit 1.
pub const RCPTCHECK_UNEXECUTED: &[u8] = b"421 unable to execute recipient check (#4.3.0)\r\n";
/// The program could not be started (fork failed); then exit 1.
pub const RCPTCHECK_FORK: &[u8] = b"421 unable to fork (#4.3.0)\r\n";
/// sagredo's exit 113; then exit 1.
pub const RCPTCHECK_OVERLIMIT: &[u8] = b"421 you have exceeded your messaging limits (#4.3.0)\r\n";
/// sagredo's answer when the fd 4 line does not start with a 4xx or 5xx
/// code (exit 100 or 113); the session goes on.
pub const RCPTCHECK_BAD_FD4: &[u8] = b"451 temporary problem (#4.4.2)\r\n";

// SMTP AUTH (see src/auth.rs): the texts of sagredo's qmail (Erwin
// Hoffmann's qmail-authentication), byte for byte, the trailing space of
// its 530 included; the EHLO lines of each form.
/// Hoffmann's form, `SMTPAUTH` empty or `!`.
pub const EHLO_AUTH: &[u8] = b"250-AUTH LOGIN PLAIN\r\n";
/// `SMTPAUTH=+cram` (or `!+cram`).
pub const EHLO_AUTH_ALL: &[u8] = b"250-AUTH LOGIN PLAIN CRAM-MD5\r\n";
/// `SMTPAUTH=cram` (or `!cram`).
pub const EHLO_AUTH_CRAM: &[u8] = b"250-AUTH CRAM-MD5\r\n";
/// Dabrowski's form, with the `AUTH=` line older clients (Outlook
/// Express, Netscape) look for.
pub const EHLO_AUTH_DABROWSKI: &[u8] =
    b"250-AUTH LOGIN CRAM-MD5 PLAIN\r\n250-AUTH=LOGIN CRAM-MD5 PLAIN\r\n";
pub const AUTH_OK: &[u8] = b"235 ok, go ahead (#2.0.0)\r\n";
pub const AUTH_FAILED: &[u8] = b"535 authentication failed (#5.7.1)\r\n";
pub const AUTH_INVALID: &[u8] = b"504 auth type invalid (#5.5.1)\r\n";
pub const AUTH_CANCELED: &[u8] = b"501 auth exchange canceled (#5.0.0)\r\n";
pub const AUTH_MALFORMED: &[u8] = b"501 malformed auth input (#5.5.4)\r\n";
pub const AUTH_NEEDS_TLS: &[u8] = b"538 auth not available without TLS (#5.3.3)\r\n";
pub const AUTH_REQUIRED: &[u8] = b"530 Authorization required (#5.7.1) \r\n";
pub const AUTH_ALREADY: &[u8] = b"503 you're already authenticated (#5.5.0)\r\n";
pub const AUTH_IN_MAIL: &[u8] = b"503 no auth during mail transaction (#5.5.0)\r\n";
pub const AUTH_MISMATCH: &[u8] = b"503 from and auth not the same (#5.5.1)\r\n";
/// checkpassword exited 111, crashed, or ran past timeoutsmtpd.
pub const AUTH_CHILD: &[u8] = b"454 oops, problem with child and I can't auth (#4.3.0)\r\n";
/// checkpassword could not be started or executed.
pub const AUTH_FORK: &[u8] = b"454 oops, child won't start and I can't auth (#4.3.0)\r\n";
/// Ours: MAXAUTHFAILED refusals in this connection; then exit 1.
pub const AUTH_TOO_MANY: &[u8] =
    b"421 too many failed authentications, closing connection (#4.7.0)\r\n";
