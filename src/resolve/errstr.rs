//! qmail's words for errno values.
//!
//! The realrcptto patch logs `unable to stat PATH: REASON` with REASON from
//! qmail's `error_str()`, not from `strerror()`. Log parsers and operators
//! grep for those exact words ("access denied", not "Permission denied"), so
//! we reproduce qmail's table rather than use the C library's texts.
//!
//! The same module holds qmail's `error_temp()` classification, which decides
//! whether a failure is worth a 421 (try again later) or is an answer.

use nix::libc;

/// errno → qmail text, checked in qmail's order: the first matching row wins,
/// which matters where two names share a number (EAGAIN and EWOULDBLOCK on
/// Linux give "temporary failure", as in qmail).
const TABLE: &[(i32, &str)] = &[
    (0, "no error"),
    (libc::EINTR, "interrupted system call"),
    (libc::ENOMEM, "out of memory"),
    (libc::ENOENT, "file does not exist"),
    (libc::ETXTBSY, "text busy"),
    (libc::EIO, "input/output error"),
    (libc::EEXIST, "file already exists"),
    (libc::ETIMEDOUT, "timed out"),
    (libc::EINPROGRESS, "operation in progress"),
    (libc::EAGAIN, "temporary failure"),
    (libc::EWOULDBLOCK, "input/output would block"),
    (libc::EPIPE, "broken pipe"),
    (libc::EPERM, "permission denied"),
    (libc::EACCES, "access denied"),
    (libc::ENXIO, "device not configured"),
    (libc::EPROTO, "protocol error"),
    (libc::EISDIR, "is a directory"),
    (libc::ECONNREFUSED, "connection refused"),
    (libc::ENOTDIR, "not a directory"),
    (libc::ESRCH, "no such process"),
    (libc::E2BIG, "argument list too long"),
    (libc::ENOEXEC, "exec format error"),
    (libc::EBADF, "file descriptor not open"),
    (libc::ECHILD, "no child processes"),
    (libc::EDEADLK, "operation would cause deadlock"),
    (libc::EFAULT, "bad address"),
    (libc::ENOTBLK, "not a block device"),
    (libc::EBUSY, "device busy"),
    (libc::EXDEV, "cross-device link"),
    (libc::ENODEV, "device does not support operation"),
    (libc::EINVAL, "invalid argument"),
    (libc::ENFILE, "system cannot open more files"),
    (libc::EMFILE, "process cannot open more files"),
    (libc::ENOTTY, "not a tty"),
    (libc::EFBIG, "file too big"),
    (libc::ENOSPC, "out of disk space"),
    (libc::ESPIPE, "unseekable descriptor"),
    (libc::EROFS, "read-only file system"),
    (libc::EMLINK, "too many links"),
    (libc::EDOM, "input out of range"),
    (libc::ERANGE, "output out of range"),
    (libc::EALREADY, "operation already in progress"),
    (libc::ENOTSOCK, "not a socket"),
    (libc::EDESTADDRREQ, "destination address required"),
    (libc::EMSGSIZE, "message too long"),
    (libc::EPROTOTYPE, "incorrect protocol type"),
    (libc::ENOPROTOOPT, "protocol not available"),
    (libc::EPROTONOSUPPORT, "protocol not supported"),
    (libc::ESOCKTNOSUPPORT, "socket type not supported"),
    (libc::EOPNOTSUPP, "operation not supported"),
    (libc::EPFNOSUPPORT, "protocol family not supported"),
    (libc::EAFNOSUPPORT, "address family not supported"),
    (libc::EADDRINUSE, "address already used"),
    (libc::EADDRNOTAVAIL, "address not available"),
    (libc::ENETDOWN, "network down"),
    (libc::ENETUNREACH, "network unreachable"),
    (libc::ENETRESET, "network reset"),
    (libc::ECONNABORTED, "connection aborted"),
    (libc::ECONNRESET, "connection reset"),
    (libc::ENOBUFS, "out of buffer space"),
    (libc::EISCONN, "already connected"),
    (libc::ENOTCONN, "not connected"),
    (libc::ESHUTDOWN, "socket shut down"),
    (libc::ETOOMANYREFS, "too many references"),
    (libc::ELOOP, "symbolic link loop"),
    (libc::ENAMETOOLONG, "file name too long"),
    (libc::EHOSTDOWN, "host down"),
    (libc::EHOSTUNREACH, "host unreachable"),
    (libc::ENOTEMPTY, "directory not empty"),
    (libc::EUSERS, "too many users"),
    (libc::EDQUOT, "disk quota exceeded"),
    (libc::ESTALE, "stale NFS file handle"),
    (libc::EREMOTE, "too many levels of remote in path"),
    (libc::ENOLCK, "no locks available"),
    (libc::ENOSYS, "system call not available"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ENOSTR, "not a stream device"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ETIME, "timer expired"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ENOSR, "out of stream resources"),
    (libc::ENOMSG, "no message of desired type"),
    (libc::EBADMSG, "bad message type"),
    (libc::EIDRM, "identifier removed"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ENONET, "machine not on network"),
    (libc::ENOLINK, "link severed"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::EADV, "advertise error"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ESRMNT, "srmount error"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::ECOMM, "communication error"),
    (libc::EMULTIHOP, "multihop attempted"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::EREMCHG, "remote address changed"),
];

/// qmail's `error_str()`: the text qmail logs for `errno`.
pub fn error_str(errno: i32) -> &'static str {
    TABLE
        .iter()
        .find(|&&(e, _)| e == errno)
        .map_or("unknown error", |&(_, s)| s)
}

/// qmail's text for an I/O error: the errno's text when there is one,
/// "unknown error" otherwise (as qmail would print for an errno it has no
/// name for).
pub fn io_error_str(e: &std::io::Error) -> &'static str {
    e.raw_os_error().map_or("unknown error", error_str)
}

/// qmail's `error_temp()`: errors that say "try again later" rather than
/// giving an answer. A passwd or home-directory lookup failing this way means
/// we cannot know whether the recipient exists, so the SMTP reply is a 421.
pub fn is_temporary(errno: i32) -> bool {
    const TEMPORARY: &[i32] = &[
        libc::EINTR,
        libc::ENOMEM,
        libc::ETXTBSY,
        libc::EIO,
        libc::ETIMEDOUT,
        libc::EWOULDBLOCK,
        libc::EAGAIN,
        libc::EDEADLK,
        libc::EBUSY,
        libc::ENFILE,
        libc::EMFILE,
        libc::EFBIG,
        libc::ENOSPC,
        libc::ENETDOWN,
        libc::ENETUNREACH,
        libc::ENETRESET,
        libc::ECONNABORTED,
        libc::ECONNRESET,
        libc::ENOBUFS,
        libc::ETOOMANYREFS,
        libc::ECONNREFUSED,
        libc::EHOSTDOWN,
        libc::EHOSTUNREACH,
        libc::EUSERS,
        libc::EDQUOT,
        libc::ESTALE,
        libc::ENOLCK,
    ];
    TEMPORARY.contains(&errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmail_words_not_strerror() {
        assert_eq!(error_str(libc::EACCES), "access denied");
        assert_eq!(error_str(libc::EPERM), "permission denied");
        assert_eq!(error_str(libc::ENOENT), "file does not exist");
        assert_eq!(error_str(libc::ENOTDIR), "not a directory");
        assert_eq!(error_str(libc::ELOOP), "symbolic link loop");
        assert_eq!(error_str(libc::ENAMETOOLONG), "file name too long");
        assert_eq!(error_str(libc::EIO), "input/output error");
        assert_eq!(error_str(libc::ESTALE), "stale NFS file handle");
        assert_eq!(error_str(0), "no error");
        assert_eq!(error_str(-1), "unknown error");
        assert_eq!(error_str(100_000), "unknown error");
    }

    #[test]
    fn first_row_wins_for_shared_numbers() {
        // On Linux EAGAIN == EWOULDBLOCK; qmail tests EAGAIN first.
        assert_eq!(error_str(libc::EAGAIN), "temporary failure");
    }

    #[test]
    fn io_errors_without_errno() {
        let e = std::io::Error::other("bad");
        assert_eq!(io_error_str(&e), "unknown error");
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(io_error_str(&e), "access denied");
    }

    #[test]
    fn temporary_class_is_qmails() {
        for e in [
            libc::EINTR,
            libc::ENOMEM,
            libc::ETXTBSY,
            libc::EIO,
            libc::EAGAIN,
            libc::ETIMEDOUT,
            libc::ESTALE,
        ] {
            assert!(is_temporary(e), "{e}");
        }
        for e in [
            0,
            libc::ENOENT,
            libc::EACCES,
            libc::EPERM,
            libc::ENOTDIR,
            libc::ELOOP,
            libc::ENAMETOOLONG,
            libc::EINVAL,
        ] {
            assert!(!is_temporary(e), "{e}");
        }
    }
}
