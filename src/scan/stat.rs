//! lstat of many paths, cheaply: the only user of rustix.
//!
//! A scan stats every sidecar and directory it remembers. Each `lstat` of a
//! full path makes the kernel walk every component again (nine for
//! `…/runs/20261101/120000/<run>/sidecar.json`); stat'ing relative to an
//! open ancestor directory (`fstatat`) walks only the components below it:
//! three for a sidecar (its ancestors are few and shared), one for a
//! directory (relative to its parent). Paths are grouped by that ancestor,
//! which is opened once (`O_PATH`).

use std::ffi::OsStr;
use std::fs::{self, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustc_hash::FxHashMap;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::in_flight::in_shares;
use crate::store::FileStamp;

/// What kind of entry a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// The result of an lstat: kind and stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lstat {
    pub kind: Kind,
    pub stamp: FileStamp,
}

impl Lstat {
    pub fn of(meta: &Metadata) -> Lstat {
        let ty = meta.file_type();
        let kind = if ty.is_file() {
            Kind::File
        } else if ty.is_dir() {
            Kind::Dir
        } else if ty.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        Lstat {
            kind,
            stamp: FileStamp::of(meta),
        }
    }

    fn of_rustix(st: &rustix::fs::Stat) -> Lstat {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        let ns = |secs: i64, nsec: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsec);
        Lstat {
            kind,
            stamp: FileStamp {
                mtime_ns: ns(st.st_mtime, st.st_mtime_nsec as i64),
                ctime_ns: ns(st.st_ctime, st.st_ctime_nsec as i64),
                size: st.st_size as u64,
                inode: st.st_ino,
            },
        }
    }
}

/// lstat of one path.
pub(crate) fn lstat(path: &Path) -> io::Result<Lstat> {
    fs::symlink_metadata(path).map(|m| Lstat::of(&m))
}

/// Most ancestor directories held open at once by one thread. Paths come
/// sorted, so an ancestor's group is done once the next one starts; a few
/// suffice, and 16 threads stay far below the usual limit of 1,024 open
/// files (the sidecar reads of a full scan run meanwhile).
const MAX_OPEN: usize = 32;

/// lstat of every path (raw bytes), relative to its ancestor `depth`
/// components up, opened once per group; falls back to a plain lstat where
/// that cannot be done.
fn stat_group(keys: &[&[u8]], depth: usize, follow: Follow) -> Vec<io::Result<Lstat>> {
    let flags = match follow {
        Follow::No => AtFlags::SYMLINK_NOFOLLOW,
        Follow::Yes => AtFlags::empty(),
    };
    let mut open: FxHashMap<&[u8], Option<OwnedFd>> = FxHashMap::default();
    keys.iter()
        .map(|key| {
            let path = Path::new(OsStr::from_bytes(key));
            let Some((dir, rest)) = split(key, depth) else {
                return plain_stat(path, follow);
            };
            if open.len() >= MAX_OPEN && !open.contains_key(dir) {
                open.clear();
            }
            let fd = open.entry(dir).or_insert_with(|| {
                rustix::fs::open(
                    OsStr::from_bytes(dir),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .ok()
            });
            match fd {
                Some(fd) => rustix::fs::statat(&*fd, OsStr::from_bytes(rest), flags)
                    .map(|st| Lstat::of_rustix(&st))
                    .map_err(io::Error::from),
                None => plain_stat(path, follow),
            }
        })
        .collect()
}

/// Splits an absolute path into the ancestor `depth` components up and the
/// rest, which holds no `..`.
fn split(key: &[u8], depth: usize) -> Option<(&[u8], &[u8])> {
    let mut cut = key.len();
    for _ in 0..depth {
        cut = key[..cut].iter().rposition(|b| *b == b'/')?;
    }
    let (dir, rest) = (&key[..cut], &key[cut + 1..]);
    if dir.is_empty()
        || rest
            .split(|b| *b == b'/')
            .any(|c| c == b".." || c == b"." || c.is_empty())
    {
        return None;
    }
    Some((dir, rest))
}

/// Whether a stat follows a symbolic link at the end of the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Follow {
    /// lstat: the link itself.
    No,
    /// stat: what it points to.
    Yes,
}

fn plain_stat(path: &Path, follow: Follow) -> io::Result<Lstat> {
    match follow {
        Follow::No => lstat(path),
        Follow::Yes => fs::metadata(path).map(|m| Lstat::of(&m)),
    }
}

/// lstat (or stat) of every path, relative to its ancestor `depth`
/// components up (sorted paths share ancestors), on up to `threads` threads
/// (requests in flight: see [`in_flight`](super::in_flight)), in order.
pub(crate) fn stat_all(
    keys: &[&[u8]],
    depth: usize,
    follow: Follow,
    threads: usize,
) -> Vec<io::Result<Lstat>> {
    in_shares(keys, threads, MIN_SHARE, |part| {
        stat_group(part, depth, follow)
    })
}

/// Paths a thread stats at least. A share of 8 costs a local disk about
/// what starting its thread does (tens of microseconds), and a network
/// filesystem 8 round trips: small trees get many requests in flight too.
const MIN_SHARE: usize = 8;

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn relative_stats_agree_with_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("runs/20261101/120000/r1");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("sidecar.json"), "{}").unwrap();
        symlink("/nonexistent", root.join("link")).unwrap();
        let paths = [
            root.join("sidecar.json"),
            root.join("link"),
            root.join("missing"),
            root.clone(),
            dir.path().join("runs"),
            root.join("../r1/sidecar.json"),
        ];
        let keys: Vec<&[u8]> = paths.iter().map(|p| p.as_os_str().as_bytes()).collect();
        for depth in 1..=3 {
            let got = stat_all(&keys, depth, Follow::No, 1);
            for (path, got) in paths.iter().zip(got) {
                match (lstat(path), got) {
                    (Ok(want), Ok(got)) => assert_eq!(want, got, "{}", path.display()),
                    (Err(want), Err(got)) => {
                        assert_eq!(want.kind(), got.kind(), "{}", path.display())
                    }
                    (want, got) => panic!("{}: {want:?} vs {got:?}", path.display()),
                }
            }
        }
        assert_eq!(lstat(&paths[1]).unwrap().kind, Kind::Symlink);
        // Following links: a dangling one is an error, as for `metadata`.
        let followed = stat_all(&keys, 3, Follow::Yes, 1);
        assert_eq!(followed[0].as_ref().unwrap().kind, Kind::File);
        assert!(followed[1].is_err() && fs::metadata(&paths[1]).is_err());
    }

    #[test]
    fn split_keeps_depth_components_below_the_ancestor() {
        assert_eq!(split(b"/a/b/c/d/e", 3), Some((&b"/a/b"[..], &b"c/d/e"[..])));
        assert_eq!(split(b"/a/b/c/d/e", 1), Some((&b"/a/b/c/d"[..], &b"e"[..])));
        assert_eq!(split(b"/c/d/e", 3), None, "no ancestor left");
        assert_eq!(split(b"/a/b/../d/e", 3), None);
        assert_eq!(split(b"/a/b/..", 1), None);
    }
}
