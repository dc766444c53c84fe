//! The incremental walk: re-reads only directories that changed.
//!
//! A directory's mtime moves when an entry is added, removed or renamed in
//! it (which is how atomic writers replace sidecars), so a directory whose
//! stamp (mtime, ctime, inode) is the one remembered still lists the same
//! entries and need not be read. Sidecars are still stat'ed one by one: an
//! in-place rewrite moves the file's mtime, not its directory's. What costs
//! a full walk a `readdir` per directory costs this a `stat`, spread over
//! threads; only changed directories are read, and new subtrees walked.
//!
//! Directories modified within the racy window of the last scan are read
//! again even when their stamp matches, as sidecars are.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};

use super::RACY_WINDOW_S;
use super::in_flight::{Threads, in_shares};
use super::progress::ProgressFn;
use super::read::heartbeat_from;
use super::stat::{Follow, Kind, Lstat, lstat, stat_all};
use super::walk::{Found, Walk, find_sidecars};
use crate::sidecar::{HEARTBEAT_NAME, SIDECAR_NAME};
use crate::store::{DirState, FileState, FileStates};

/// What the last scan left to compare against.
pub(crate) struct Remembered<'a> {
    pub dirs: &'a FxHashMap<Vec<u8>, DirState>,
    pub files: &'a FileStates,
    /// Epoch seconds the last scan started.
    pub last_start: f64,
}

fn path_of(key: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(key))
}

fn sidecar_key(dir: &Path) -> Vec<u8> {
    dir.join(SIDECAR_NAME).into_os_string().into_vec()
}

/// The remembered directories, stat'ed: the first step of a revisit, which
/// can run while the file states are still being loaded.
pub(crate) struct DirStats<'a> {
    /// Sorted.
    keys: Vec<&'a [u8]>,
    stats: Vec<io::Result<Lstat>>,
}

/// Stats every remembered directory (relative to its parent: one path
/// component for the kernel to walk), on `io_threads` threads.
pub(crate) fn stat_dirs(dirs: &FxHashMap<Vec<u8>, DirState>, io_threads: usize) -> DirStats<'_> {
    // Sorted, so that paths sharing an ancestor are stat'ed together.
    let mut keys: Vec<&[u8]> = dirs.keys().map(Vec::as_slice).collect();
    keys.sort_unstable();
    let stats = stat_all(&keys, 1, Follow::No, io_threads);
    DirStats { keys, stats }
}

/// Finds the sidecars under `root` as a full walk would, reading only the
/// directories that changed since the last scan. `dir_stats` are the stats
/// of `remembered.dirs` ([`stat_dirs`]).
pub(crate) fn revisit(
    root: &Path,
    remembered: &Remembered<'_>,
    dir_stats: DirStats<'_>,
    threads: Threads,
    progress: Option<&ProgressFn>,
) -> Walk {
    if !remembered.dirs.contains_key(root.as_os_str().as_bytes()) {
        return find_sidecars(root, threads.walk, progress);
    }
    let mut walk = Walk::default();
    // In path order as loaded: paths sharing an ancestor are stat'ed together.
    let files: Vec<(&[u8], &FileState)> = remembered
        .files
        .iter()
        .map(|(k, state)| (k.as_slice(), state))
        .collect();
    let file_keys: Vec<&[u8]> = files.iter().map(|(k, _)| *k).collect();
    // Relative to the directory three levels up, shared by many sidecars.
    let file_stats = stat_all(&file_keys, 3, Follow::No, threads.io);
    let heartbeats = stat_heartbeats(&files, threads.io);
    let DirStats {
        keys: dir_keys,
        stats: dir_stats,
    } = dir_stats;

    let trusted_before = remembered.last_start - RACY_WINDOW_S;
    let mut to_read: Vec<(PathBuf, Lstat)> = Vec::new();
    for (key, stat) in dir_keys.into_iter().zip(dir_stats) {
        match stat {
            Ok(meta) if meta.kind == Kind::Dir => {
                let stamp = meta.stamp;
                let unchanged =
                    remembered.dirs[key].stamp == stamp && stamp.mtime_secs() < trusted_before;
                if !unchanged {
                    to_read.push((path_of(key).to_path_buf(), meta));
                }
            }
            // Gone, or no longer a directory: what was under it is gone too,
            // which the stats of its sidecars show.
            Ok(_) => walk.dirs_gone.push(key.to_vec()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => walk.dirs_gone.push(key.to_vec()),
            Err(e) => walk
                .unreadable
                .push((path_of(key).to_path_buf(), e.to_string())),
        }
    }

    let mut listed: FxHashSet<PathBuf> = to_read.iter().map(|(p, _)| p.clone()).collect();
    let mut gone_from: Vec<PathBuf> = Vec::new();
    walk.sidecars.reserve(file_keys.len());
    for ((key, stat), heartbeat) in file_keys.into_iter().zip(file_stats).zip(heartbeats) {
        let path = path_of(key);
        match stat {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The sidecar is gone; its directory may now hold other runs.
                let parent = path.parent().unwrap_or(path);
                if listed.insert(parent.to_path_buf()) {
                    gone_from.push(parent.to_path_buf());
                }
            }
            meta => walk.sidecars.push(Found {
                path: path.to_path_buf(),
                meta,
                heartbeat,
            }),
        }
    }
    // The directories of gone sidecars, stat'ed on the I/O threads: a
    // clean-up may remove thousands of runs at once.
    let gone_from_stats = in_shares(&gone_from, threads.io, 1, |part| {
        part.iter().map(|dir| lstat(dir)).collect()
    });
    for (dir, stat) in gone_from.into_iter().zip(gone_from_stats) {
        if let Ok(meta) = stat
            && meta.kind == Kind::Dir
        {
            to_read.push((dir, meta));
        }
    }

    // Listed on the I/O threads (after a remount or a restore, every
    // directory may have changed: one listing after the other would cost a
    // round trip each), then taken in path order here.
    let listings = in_shares(&to_read, threads.io, 1, |part| {
        part.iter()
            .map(|(dir, _)| Listing::of(dir, remembered))
            .collect()
    });
    let mut new_subtrees = Vec::new();
    for ((dir, meta), listing) in to_read.iter().zip(listings) {
        read_changed(dir, meta, listing, remembered, &mut walk, &mut new_subtrees);
    }
    walk_new_subtrees(&new_subtrees, threads, progress, &mut walk);
    walk
}

/// Walks the subtrees new since the last scan: a few one after the other,
/// each with the walk's threads; many (a day of new runs, each its own
/// time directory) on the I/O threads, each walked by one.
fn walk_new_subtrees(
    subtrees: &[PathBuf],
    threads: Threads,
    progress: Option<&ProgressFn>,
    walk: &mut Walk,
) {
    let walks = if subtrees.len() < threads.io {
        subtrees
            .iter()
            .map(|path| find_sidecars(path, threads.walk, progress))
            .collect()
    } else {
        in_shares(subtrees, threads.io, 1, |part| {
            part.iter()
                .map(|path| find_sidecars(path, 1, None))
                .collect()
        })
    };
    for mut subtree in walks {
        subtree.complete = false;
        walk.merge(subtree);
    }
}

/// The heartbeats of the runs of remembered sidecars whose state the scan
/// keeps up to date (valid, not terminal), stat'ed on the I/O threads; `None`
/// for the other sidecars.
fn stat_heartbeats(files: &[(&[u8], &FileState)], threads: usize) -> Vec<Option<Option<f64>>> {
    let wanted =
        |state: &FileState| !state.terminal && state.invalid.is_none() && state.run_id.is_some();
    let heartbeat_keys: Vec<Vec<u8>> = files
        .iter()
        .filter(|(_, state)| wanted(state))
        .map(|(k, _)| {
            let mut path = path_of(k).to_path_buf();
            path.set_file_name(HEARTBEAT_NAME);
            path.into_os_string().into_vec()
        })
        .collect();
    let borrowed: Vec<&[u8]> = heartbeat_keys.iter().map(Vec::as_slice).collect();
    // Followed, as `read::heartbeat_of` follows them.
    let mut stats = stat_all(&borrowed, 3, Follow::Yes, threads).into_iter();
    files
        .iter()
        .map(|(_, state)| {
            wanted(state).then(|| {
                stats
                    .next()
                    .and_then(|stat| stat.ok())
                    .map(|stat| heartbeat_from(&stat.stamp))
            })
        })
        .collect()
}

/// A changed directory's entries (each name, and whether it is a
/// directory), and the lstat of a sidecar among them that the cache does
/// not know: the I/O of [`read_changed`]. Names are copied out: a
/// `DirEntry` keeps its directory open, and thousands of listings may wait
/// here at once.
struct Listing {
    entries: io::Result<Vec<(OsString, bool)>>,
    new_sidecar: Option<(PathBuf, io::Result<Lstat>)>,
}

impl Listing {
    fn of(dir: &Path, remembered: &Remembered<'_>) -> Listing {
        let entries = fs::read_dir(dir).and_then(|entries| {
            entries
                .map(|entry| {
                    entry.map(|e| (e.file_name(), e.file_type().is_ok_and(|t| t.is_dir())))
                })
                .collect::<io::Result<Vec<_>>>()
        });
        let new_sidecar = match &entries {
            Ok(entries) if entries.iter().any(|(name, _)| name == SIDECAR_NAME) => {
                let sidecar = dir.join(SIDECAR_NAME);
                let known = remembered
                    .files
                    .contains_key(sidecar.as_os_str().as_bytes());
                (!known).then(|| {
                    let meta = lstat(&sidecar);
                    (sidecar, meta)
                })
            }
            _ => None,
        };
        Listing {
            entries,
            new_sidecar,
        }
    }
}

/// Takes in one changed directory, listed: a new sidecar in it is found, a
/// new subdirectory added to `new_subtrees` (to be walked whole); known
/// subdirectories and sidecars were stat'ed already.
fn read_changed(
    dir: &Path,
    meta: &Lstat,
    listing: Listing,
    remembered: &Remembered<'_>,
    walk: &mut Walk,
    new_subtrees: &mut Vec<PathBuf>,
) {
    walk.dirs_read += 1;
    let entries = match listing.entries {
        Ok(entries) => entries,
        Err(e) => {
            walk.unreadable.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let key = dir.as_os_str().as_bytes();
    if entries.iter().any(|(name, _)| name == SIDECAR_NAME) {
        // A run directory (now): its sidecar is all that counts.
        if let Some((path, meta)) = listing.new_sidecar {
            walk.sidecars.push(Found {
                path,
                meta,
                heartbeat: None,
            });
        }
        if remembered.dirs.contains_key(key) {
            walk.dirs_gone.push(key.to_vec());
        }
        return;
    }
    walk.dirs
        .push((key.to_vec(), DirState { stamp: meta.stamp }));
    for (name, is_dir) in entries {
        if !is_dir {
            continue;
        }
        let path = dir.join(name);
        let known = remembered.dirs.contains_key(path.as_os_str().as_bytes())
            || remembered.files.contains_key(&sidecar_key(&path));
        if !known {
            new_subtrees.push(path);
        }
    }
}
