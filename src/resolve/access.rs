//! What the delivering user may do with a file, read from its `stat`.
//!
//! The check runs as qmaild, but qmail-local runs as the user who receives
//! the mail: qmail-lspawn sets the uid and gid of the users/cdb record or
//! passwd entry, and `prot_gid` leaves that gid as the only group
//! (`setgroups` with one entry). So whether qmail-local can enter a home
//! directory or open a `.qmail` file follows from the file's owner, group
//! and mode bits alone, the way the kernel reads them: the owner bits if
//! the user owns the file, else the group bits if the file's group is the
//! user's gid, else the other bits.
//!
//! POSIX ACLs are not read. A file whose ACL grants the user more than its
//! mode bits say is judged by the mode bits: the check then answers 4xx
//! where qmail would deliver (never 5xx: every conclusion drawn from a
//! permission here is a deferral).

/// The parts of `stat(2)` the check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub uid: u32,
    pub gid: u32,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
}

/// The kinds of file qmail-local tells apart when it opens a `.qmail` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    /// Character or block device: what its open does is up to its driver.
    Device,
    /// FIFO or socket.
    Other,
}

/// Read permission (for `open`).
pub const READ: u32 = 0o4;
/// Search permission (for `chdir` and for looking up names inside).
pub const SEARCH: u32 = 0o1;

/// qmail's conf-patrn: the mode bits qmail-local refuses in a home
/// directory and in a `.qmail` file ("Uh-oh: ... is writable"). 002 is
/// netqmail's default; a site that built qmail with 022 has qmail defer a
/// few more files than the check does, which only means those are accepted
/// and deferred by qmail, as without the check.
pub const PATRN: u32 = 0o002;

/// The sticky bit on a home directory: qmail-local defers ("user is
/// editing his .qmail file").
pub const STICKY: u32 = 0o1000;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;

impl Stat {
    pub fn kind(&self) -> Kind {
        match self.mode & S_IFMT {
            S_IFREG => Kind::Regular,
            S_IFDIR => Kind::Directory,
            S_IFCHR | S_IFBLK => Kind::Device,
            _ => Kind::Other,
        }
    }

    /// Whether a process with this uid and this one group has permission
    /// `want` ([`READ`] or [`SEARCH`]) on the file. uid 0 is never asked:
    /// qmail never delivers as root.
    pub fn allows(&self, uid: u32, gid: u32, want: u32) -> bool {
        let bits = if self.uid == uid {
            self.mode >> 6
        } else if self.gid == gid {
            self.mode >> 3
        } else {
            self.mode
        };
        bits & want == want
    }

    /// A regular file with this owner and permission bits (tests).
    pub fn file(uid: u32, perm: u32) -> Stat {
        Stat {
            uid,
            gid: uid,
            mode: S_IFREG | perm,
        }
    }

    /// A directory with this owner and permission bits (tests).
    pub fn dir(uid: u32, perm: u32) -> Stat {
        Stat {
            uid,
            gid: uid,
            mode: S_IFDIR | perm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_then_group_then_other() {
        let f = Stat {
            uid: 10,
            gid: 20,
            mode: S_IFREG | 0o044,
        };
        // The owner bits alone count for the owner, even when the group
        // and other bits would allow more.
        assert!(!f.allows(10, 20, READ));
        assert!(f.allows(11, 20, READ));
        assert!(f.allows(11, 21, READ));
        let d = Stat::dir(10, 0o710);
        assert!(d.allows(10, 99, SEARCH));
        assert!(d.allows(11, 10, SEARCH));
        assert!(!d.allows(11, 11, SEARCH));
    }

    #[test]
    fn kinds() {
        assert_eq!(Stat::file(1, 0o644).kind(), Kind::Regular);
        assert_eq!(Stat::dir(1, 0o755).kind(), Kind::Directory);
        let mode = |m| Stat {
            uid: 0,
            gid: 0,
            mode: m,
        };
        assert_eq!(mode(0o020666).kind(), Kind::Device);
        assert_eq!(mode(0o060660).kind(), Kind::Device);
        assert_eq!(mode(0o010644).kind(), Kind::Other);
        assert_eq!(mode(0o140777).kind(), Kind::Other);
    }
}
