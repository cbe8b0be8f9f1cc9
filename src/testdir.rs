//! The unit tests' temporary directory: the integration tests' own
//! `TempDir` (tests/support/tempdir.rs), compiled in here because unit
//! tests cannot reach tests/support. A fresh directory, mode 0755,
//! removed when dropped, kept and named on stderr when the test panicked.

#[path = "../tests/support/tempdir.rs"]
#[allow(dead_code)]
mod imp;

pub(crate) use imp::TempDir;
