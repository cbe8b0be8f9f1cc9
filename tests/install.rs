//! `make install DESTDIR=...` lays out the binaries and man pages with
//! qmail's modes, and keeps netqmail's qmail-smtpd instead of destroying it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn make_install(destdir: &Path) -> String {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_qmail-smtpd"));
    // The binaries cargo test built: make must not build again.
    let target_dir = bin.parent().unwrap().parent().unwrap();
    let out = Command::new("make")
        .arg("-C")
        .arg(top)
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("TARGET_DIR={}", target_dir.display()))
        .env_remove("MAKEFLAGS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make install failed:\n{text}");
    text
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_lays_out_files_and_keeps_netqmail() {
    let dest = std::env::temp_dir().join(format!("install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let bin = dest.join("var/qmail/bin");
    std::fs::create_dir_all(&bin).unwrap();
    // netqmail's binary, already in place.
    std::fs::write(bin.join("qmail-smtpd"), b"\x7fELF netqmail's qmail-smtpd").unwrap();

    let log = make_install(&dest);
    assert!(log.contains("qmail-smtpd.netqmail"), "{log}");
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd.netqmail")).unwrap(),
        b"\x7fELF netqmail's qmail-smtpd"
    );
    for b in [
        "qmail-smtpd",
        "qmail-smtpd-tls",
        "qmail-realrcptto",
        "qmail-vpopmail-sql",
    ] {
        assert_eq!(mode(&bin.join(b)), 0o755, "{b}");
        assert_eq!(
            std::fs::read(bin.join(b)).unwrap(),
            std::fs::read(Path::new(env!("CARGO_BIN_EXE_qmail-smtpd")).with_file_name(b)).unwrap(),
            "{b} is the built binary"
        );
    }
    for m in ["qmail-smtpd.8", "qmail-realrcptto.8"] {
        assert_eq!(mode(&dest.join("var/qmail/man/man8").join(m)), 0o644, "{m}");
    }

    // A second install replaces our binary and leaves the backup alone.
    make_install(&dest);
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd.netqmail")).unwrap(),
        b"\x7fELF netqmail's qmail-smtpd"
    );
    let mut names: Vec<String> = std::fs::read_dir(&bin)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "qmail-realrcptto",
            "qmail-smtpd",
            "qmail-smtpd-tls",
            "qmail-smtpd.netqmail",
            "qmail-vpopmail-sql"
        ]
    );
    let _ = std::fs::remove_dir_all(&dest);
}
