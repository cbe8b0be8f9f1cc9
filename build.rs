//! Compiles in the qmail home, and sets up the server binary's link:
//! libgcc's unwinder linked statically where the toolchain has it, and its
//! machine code laid out so a session touches as few pages of it as
//! possible.
//!
//! The home: `CONF_QMAIL` (which `make PREFIX=...` sets, as qmail's own
//! conf-qmail file sets auto_qmail), else /var/qmail. `$QMAILHOME`
//! overrides it at run time.
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
    println!("cargo:rerun-if-env-changed=CONF_QMAIL");
    let home = std::env::var("CONF_QMAIL").unwrap_or_else(|_| "/var/qmail".into());
    assert!(
        home.starts_with('/') && !home.contains('\n'),
        "CONF_QMAIL (make's PREFIX) must be an absolute path, not {home:?}"
    );
    println!("cargo:rustc-env=CONF_QMAIL={home}");

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
