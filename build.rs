//! Link set-up for the server binary: libgcc's unwinder linked statically
//! where the toolchain has it, and its machine code laid out so a session
//! touches as few pages of it as possible.
//!
//! Rust's std wants `_Unwind_*` even with `panic = "abort"`, and on
//! linux-gnu gets them from the shared libgcc_s: one more library for the
//! dynamic loader at every connection (about 200 µs of exec here) and 128
//! KiB of address space under `softlimit -m`. libgcc_eh.a has the same
//! symbols; with it first on the link line, `--as-needed` drops libgcc_s.
//! Without a C compiler to ask, nothing changes.
//!
//! `link/cold-text.ld` (see there) moves code no session runs, std's
//! backtrace printer above all, behind the code sessions run: about a
//! third less of the binary is mapped per connection. qmail-smtpd only:
//! the other binaries are not started per connection.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/cold-text.ld");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let script = Path::new(&dir).join("link/cold-text.ld");
    if script.exists() {
        println!(
            "cargo:rustc-link-arg-bin=qmail-smtpd=-Wl,-T,{}",
            script.display()
        );
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = Path::new(&path);
    if !out.status.success() || !path.is_absolute() || !path.exists() {
        return;
    }
    if let Some(dir) = path.parent() {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
