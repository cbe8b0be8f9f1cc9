//! Out of memory: qmail's `421 out of memory (#4.3.0)` and exit 1, never
//! an abort.
//!
//! When an allocation fails, Rust's default is to print `memory allocation
//! of N bytes failed` and abort: SIGABRT, no reply, the client left to
//! guess. The hook that would change that (`set_alloc_error_hook`) is
//! nightly-only, so the server binaries install [`Allocator`] as their
//! `#[global_allocator]`: the system allocator, except that a failure ends
//! the process as netqmail's `die_nomem()` does. Every allocation of the
//! server, wherever it is, goes through it.
//!
//! The one module of the crate with `unsafe`: `GlobalAlloc` is an unsafe
//! trait, and the reply must be written with raw `write(2)` and `_exit(2)`,
//! since anything of std's that might allocate is out of reach by then.
//! It also sets malloc's heap padding ([`small_heap_pad`]).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::reply;

/// The system allocator, answering 421 and exiting 1 when it fails.
pub struct Allocator;

/// fd 1 still carries plain SMTP (not TLS records): the reply may go there.
static REPLY: AtomicBool = AtomicBool::new(true);
/// fd 2 is known to be the log, not the client's socket (inetd).
static LOG: AtomicBool = AtomicBool::new(false);

/// How much more than it needs glibc's malloc takes each time it grows its
/// heap, under a memory limit: 16 KiB instead of its default 128 KiB
/// (M_TOP_PAD). Under `softlimit -m` (RLIMIT_AS, RLIMIT_DATA) that
/// reserve counts against the limit although it is never touched: the
/// default cost the smallest limit for a session 113 KB
/// (tests/softlimit.rs). 16 KiB keeps the heap's growth to a few `brk`
/// calls a session (it peaks near 48 KiB). Without a limit nothing is
/// changed: `mallopt` costs 3,400 instructions, 1.7% of a connection.
/// Called first thing in main, before anything allocates.
pub fn small_heap_pad() {
    use nix::libc;
    // prlimit64 through `syscall`, which the binary imports anyway:
    // getrlimit would be one more symbol to bind at every start (about
    // 600 instructions; mallopt is another, the price of this fix).
    let limited = |resource: libc::c_int| {
        let mut lim = libc::rlimit64 {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: prlimit64 on this process (pid 0), reading into `lim`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                resource,
                std::ptr::null::<libc::rlimit64>(),
                &mut lim,
            )
        };
        r == 0 && lim.rlim_cur != libc::RLIM64_INFINITY
    };
    if limited(libc::RLIMIT_DATA as libc::c_int) || limited(libc::RLIMIT_AS as libc::c_int) {
        // SAFETY: mallopt only sets a malloc parameter; no allocation has
        // been made yet and no other thread exists.
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, 16 * 1024);
        }
    }
}

/// From now on fd 1 carries TLS: a failure then ends the connection without
/// a plaintext reply, which the client could only take for a broken record.
pub fn no_plain_reply() {
    REPLY.store(false, Ordering::Relaxed);
}

/// fd 2 is the log (see `io::protect_stderr`): a failure is logged there.
pub fn log_to_stderr() {
    LOG.store(true, Ordering::Relaxed);
}

/// Writes all of `bytes` to `fd`, ignoring errors (nothing else is left to
/// try).
fn write_fd(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: a valid buffer of that length; no memory is allocated.
        let n = unsafe { nix::libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// The decimal digits of `n`, in `buf`, without allocating.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cold]
#[inline(never)]
fn out_of_memory(size: usize) -> ! {
    if REPLY.load(Ordering::Relaxed) {
        write_fd(1, reply::NOMEM);
    }
    if LOG.load(Ordering::Relaxed) {
        let mut digits = [0u8; 20];
        let mut line = [0u8; 80];
        let parts: [&[u8]; 3] = [
            b"out of memory: allocation of ",
            decimal(size, &mut digits),
            b" bytes failed\n",
        ];
        let mut len = 0;
        for p in parts {
            line[len..len + p.len()].copy_from_slice(p);
            len += p.len();
        }
        write_fd(2, &line[..len]);
    }
    // SAFETY: ends the process at once; nothing of ours needs flushing (the
    // replies that were pending are lost, as a client may be told at any
    // time that the server is closing).
    unsafe { nix::libc::_exit(1) }
}

// SAFETY: every method passes its arguments to the system allocator
// unchanged and returns what it returned; only a null result is diverted.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            out_of_memory(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            out_of_memory(new_size);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(8192, &mut b), b"8192");
        assert_eq!(
            decimal(usize::MAX, &mut b),
            usize::MAX.to_string().as_bytes()
        );
    }
}
