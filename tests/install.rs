//! `make install DESTDIR=...` lays out the binaries and man pages with
//! qmail's modes, keeps netqmail's qmail-smtpd and qmail-smtpd.8 instead of
//! destroying them, and `make uninstall` puts them back. The binaries are
//! rebuilt when a source is newer or when they were built for another
//! PREFIX (the qmail home compiled in), and not otherwise: an up-to-date
//! install needs no cargo.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs make in `dir` with `args`; returns its output, or panics with it.
fn make(dir: &Path, args: &[String]) -> String {
    let out = Command::new("make")
        .arg("-C")
        .arg(dir)
        .arg("--no-print-directory")
        .args(args)
        .env_remove("MAKEFLAGS")
        .env_remove("CONF_QMAIL")
        // The Makefile's TARGET_DIR defaults to it: the stand-in project
        // must build into its own target/ (make_real names TARGET_DIR).
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "make {args:?} failed:\n{text}");
    text
}

/// `make TARGET` in the project with the binaries cargo test built, which
/// make must not build again (cargo is busy running this very test).
fn make_real(target: &str, destdir: &Path) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_qmail-smtpd"));
    let target_dir = bin.parent().unwrap().parent().unwrap();
    let mut args = vec![
        target.to_string(),
        format!("DESTDIR={}", destdir.display()),
        format!("TARGET_DIR={}", target_dir.display()),
    ];
    for b in [
        "qmail-smtpd",
        "qmail-smtpd-tls",
        "qmail-smtpd-proxy",
        "qmail-realrcptto",
    ] {
        args.push("-o".into());
        args.push(format!("{}/release/{b}", target_dir.display()));
    }
    make(top(), &args)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const NETQMAIL_BIN: &[u8] = b"\x7fELF netqmail's qmail-smtpd";
const NETQMAIL_MAN: &[u8] = b".TH qmail-smtpd 8\n.SH NAME\nqmail-smtpd \\- receive mail via SMTP\n";

#[test]
fn install_lays_out_files_keeps_netqmail_and_uninstall_puts_it_back() {
    let tmp = support::TempDir::new("install");
    let dest = tmp.path();
    let bin = dest.join("var/qmail/bin");
    let man8 = dest.join("var/qmail/man/man8");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&man8).unwrap();
    // netqmail's binary and man page, already in place.
    std::fs::write(bin.join("qmail-smtpd"), NETQMAIL_BIN).unwrap();
    std::fs::write(man8.join("qmail-smtpd.8"), NETQMAIL_MAN).unwrap();

    let log = make_real("install", dest);
    assert!(log.contains("qmail-smtpd.netqmail"), "{log}");
    assert!(log.contains("qmail-smtpd.8.netqmail"), "{log}");
    assert!(!log.contains("building them again"), "{log}");
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd.netqmail")).unwrap(),
        NETQMAIL_BIN
    );
    assert_eq!(
        std::fs::read(man8.join("qmail-smtpd.8.netqmail")).unwrap(),
        NETQMAIL_MAN
    );
    for b in [
        "qmail-smtpd",
        "qmail-smtpd-tls",
        "qmail-smtpd-proxy",
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
        assert_eq!(mode(&man8.join(m)), 0o644, "{m}");
        assert_eq!(
            std::fs::read(man8.join(m)).unwrap(),
            std::fs::read(top().join("man").join(m)).unwrap(),
            "{m} is ours"
        );
    }

    // A second install replaces ours and leaves the backups alone.
    make_real("install", dest);
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd.netqmail")).unwrap(),
        NETQMAIL_BIN
    );
    assert_eq!(
        std::fs::read(man8.join("qmail-smtpd.8.netqmail")).unwrap(),
        NETQMAIL_MAN
    );
    assert_eq!(
        names(&bin),
        [
            "qmail-realrcptto",
            "qmail-smtpd",
            "qmail-smtpd-proxy",
            "qmail-smtpd-tls",
            "qmail-smtpd.netqmail",
            "qmail-vpopmail-sql"
        ]
    );
    assert_eq!(
        names(&man8),
        [
            "qmail-realrcptto.8",
            "qmail-smtpd.8",
            "qmail-smtpd.8.netqmail"
        ]
    );

    // Uninstall: netqmail's files back in place, ours gone.
    let log = make_real("uninstall", dest);
    assert!(log.contains("restored"), "{log}");
    assert_eq!(names(&bin), ["qmail-smtpd"]);
    assert_eq!(names(&man8), ["qmail-smtpd.8"]);
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd")).unwrap(),
        NETQMAIL_BIN
    );
    assert_eq!(
        std::fs::read(man8.join("qmail-smtpd.8")).unwrap(),
        NETQMAIL_MAN
    );
    // Nothing of ours left: a second uninstall changes nothing.
    make_real("uninstall", dest);
    assert_eq!(names(&bin), ["qmail-smtpd"]);
    assert_eq!(names(&man8), ["qmail-smtpd.8"]);
}

#[test]
fn uninstall_leaves_a_foreign_qmail_smtpd_alone() {
    let tmp = support::TempDir::new("uninstall-foreign");
    let dest = tmp.path();
    let bin = dest.join("var/qmail/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("qmail-smtpd"), NETQMAIL_BIN).unwrap();
    make_real("install", dest);
    // Someone installs another qmail-smtpd over ours since.
    std::fs::write(bin.join("qmail-smtpd"), b"\x7fELF another one").unwrap();
    let log = make_real("uninstall", dest);
    assert!(log.contains("is not ours: left alone"), "{log}");
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd")).unwrap(),
        b"\x7fELF another one"
    );
    assert_eq!(
        std::fs::read(bin.join("qmail-smtpd.netqmail")).unwrap(),
        NETQMAIL_BIN
    );
}

/// A copy of the project's Makefile and man pages with stand-in sources
/// and a stand-in cargo, which "builds" the three binaries (our HELP text
/// and the conf-qmail line build.rs compiles in, for CONF_QMAIL) and logs
/// each build to cargo.log.
struct Fake {
    dir: support::TempDir,
}

impl Fake {
    fn new(name: &str) -> Fake {
        let dir = support::TempDir::new(&format!("make-{name}"));
        std::fs::create_dir_all(dir.join("src/bin")).unwrap();
        std::fs::create_dir_all(dir.join("man")).unwrap();
        std::fs::copy(top().join("Makefile"), dir.join("Makefile")).unwrap();
        for m in ["qmail-smtpd.8", "qmail-realrcptto.8"] {
            std::fs::copy(top().join("man").join(m), dir.join("man").join(m)).unwrap();
        }
        for f in [
            "Cargo.toml",
            "Cargo.lock",
            "build.rs",
            "src/main.rs",
            "src/bin/tool.rs",
        ] {
            std::fs::write(dir.join(f), "// stand-in\n").unwrap();
        }
        let cargo = dir.join("fake-cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n\
             [ \"$*\" = 'build --release' ] || { echo \"fake-cargo: $*\" >&2; exit 2; }\n\
             cd \"$(dirname \"$0\")\"\n\
             mkdir -p target/release\n\
             for b in qmail-smtpd qmail-smtpd-tls qmail-smtpd-proxy qmail-realrcptto; do\n\
             \x20 printf 'qmail-smtpd (Rust, with realrcptto)\\n\\nconf-qmail:%s\\n' \"${CONF_QMAIL:-/var/qmail}\" > target/release/$b\n\
             done\n\
             echo \"build CONF_QMAIL=${CONF_QMAIL-unset}\" >> cargo.log\n",
        )
        .unwrap();
        std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir }
    }

    /// `make install` with the stand-in cargo (or `cargo`, a cargo that
    /// is not there) and `args`.
    fn install(&self, cargo: Option<&str>, args: &[&str]) -> String {
        let cargo = cargo.map_or_else(
            || self.dir.join("fake-cargo").display().to_string(),
            str::to_string,
        );
        let mut all = vec![
            "install".to_string(),
            format!("DESTDIR={}", self.dir.join("dest").display()),
            format!("CARGO={cargo}"),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        make(self.dir.path(), &all)
    }

    fn builds(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("cargo.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn set_mtime(&self, rel: &str, t: SystemTime) {
        std::fs::File::options()
            .append(true)
            .open(self.dir.join(rel))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}

#[test]
fn make_install_builds_when_a_source_is_newer_and_only_then() {
    let f = Fake::new("sources");
    // Nothing built yet: built.
    f.install(None, &[]);
    assert_eq!(f.builds(), ["build CONF_QMAIL=unset"]);
    // Up to date: no cargo needed at all.
    let log = f.install(Some("/nonexistent/cargo"), &[]);
    assert_eq!(f.builds().len(), 1, "{log}");
    // A newer source (git pull): built again, and the new build installed.
    let ago = |s| SystemTime::now() - Duration::from_secs(s);
    for src in ["src/bin/tool.rs", "Cargo.lock", "build.rs", "Cargo.toml"] {
        for b in [
            "qmail-smtpd",
            "qmail-smtpd-tls",
            "qmail-smtpd-proxy",
            "qmail-realrcptto",
        ] {
            f.set_mtime(&format!("target/release/{b}"), ago(120));
        }
        f.set_mtime(src, ago(60));
        let before = f.builds().len();
        f.install(None, &[]);
        // One build, however many binaries it makes.
        assert_eq!(
            f.builds().len(),
            before + 1,
            "{src} newer than the binaries"
        );
    }
    let log = f.install(Some("/nonexistent/cargo"), &[]);
    assert!(log.contains("installed"), "{log}");
}

#[test]
fn make_install_builds_for_its_prefix() {
    let f = Fake::new("prefix");
    f.install(None, &[]);
    // Built for /var/qmail; installed under /opt/qmail: built again, with
    // the home compiled in, and installed there.
    f.install(None, &["PREFIX=/opt/qmail"]);
    assert_eq!(
        f.builds(),
        ["build CONF_QMAIL=unset", "build CONF_QMAIL=/opt/qmail"]
    );
    let installed = std::fs::read_to_string(f.dir.join("dest/opt/qmail/bin/qmail-smtpd")).unwrap();
    assert!(
        installed.contains("\nconf-qmail:/opt/qmail\n"),
        "{installed}"
    );
    // Same PREFIX again: nothing to build.
    f.install(Some("/nonexistent/cargo"), &["PREFIX=/opt/qmail"]);
    assert_eq!(f.builds().len(), 2);
    // Back to the default home: built without CONF_QMAIL.
    f.install(None, &[]);
    assert_eq!(f.builds()[2], "build CONF_QMAIL=unset");
    // make PREFIX=... builds for that home too.
    make(
        f.dir.path(),
        &[
            "build".into(),
            "PREFIX=/srv/q".into(),
            format!("CARGO={}", f.dir.join("fake-cargo").display()),
        ],
    );
    assert_eq!(f.builds()[3], "build CONF_QMAIL=/srv/q");
}
