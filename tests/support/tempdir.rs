//! The one temporary-directory helper of the tests: fixtures, tcpserver
//! and xinetd runs, the MariaDB datadir, install trees and the make
//! sandboxes all live in one. Plain std, so that what cannot include
//! tests/support whole includes this file alone: the resolve tests'
//! fixtures, the benchmark (for `mariadb.rs`) and, as `src/testdir.rs`,
//! the unit tests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary directory, removed when dropped (kept, and named on
/// stderr, when the test panicked, for inspection).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `$TMPDIR/qmail-smtpd-test.PID.N.NAME`, mode 0755 (readable by the
    /// unprivileged uids some tests run as).
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = std::env::temp_dir().join(format!(
            "qmail-smtpd-test.{}.{}.{}",
            std::process::id(),
            n,
            safe
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temporary directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Hands the directory over: it is no longer removed on drop, whoever
    /// takes the path removes it (the MariaDB watchdog, which outlives a
    /// server kept in a `static`).
    pub fn into_path(self) -> PathBuf {
        let mut me = std::mem::ManuallyDrop::new(self);
        std::mem::take(&mut me.path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A `TempDir` is used where a path is: `&dir` passes as a `&Path`.
impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}
