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

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::RACY_WINDOW_S;
use super::progress::ProgressFn;
use super::walk::{Found, Walk, find_sidecars};
use crate::sidecar::SIDECAR_NAME;
use crate::store::{DirState, FileStamp, FileState};

/// What the last scan left to compare against.
pub(crate) struct Remembered<'a> {
    pub dirs: &'a HashMap<Vec<u8>, DirState>,
    pub files: &'a HashMap<Vec<u8>, FileState>,
    /// Epoch seconds the last scan started.
    pub last_start: f64,
}

fn path_of(key: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(key))
}

fn sidecar_key(dir_key: &[u8]) -> Vec<u8> {
    path_of(dir_key)
        .join(SIDECAR_NAME)
        .into_os_string()
        .into_vec()
}

/// Finds the sidecars under `root` as a full walk would, reading only the
/// directories that changed since the last scan.
pub(crate) fn revisit(
    root: &Path,
    remembered: &Remembered<'_>,
    threads: usize,
    progress: Option<&ProgressFn>,
) -> Walk {
    if !remembered.dirs.contains_key(root.as_os_str().as_bytes()) {
        return find_sidecars(root, threads, progress);
    }
    let mut walk = Walk::default();
    // Run directories need no stat (their sidecar's stat tells), unless
    // their sidecar is not remembered.
    let dir_keys: Vec<&Vec<u8>> = remembered
        .dirs
        .iter()
        .filter(|(key, d)| !d.run_dir || !remembered.files.contains_key(&sidecar_key(key)))
        .map(|(k, _)| k)
        .collect();
    let file_keys: Vec<&Vec<u8>> = remembered.files.keys().collect();
    let dir_stats = stat_all(&dir_keys, threads);
    let file_stats = stat_all(&file_keys, threads);

    let mut to_read: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    let racy_from = remembered.last_start - RACY_WINDOW_S;
    for (key, stat) in dir_keys.iter().zip(dir_stats) {
        let path = path_of(key);
        match stat {
            Ok(meta) if meta.is_dir() => {
                let stamp = FileStamp::of(&meta);
                let known = &remembered.dirs[*key];
                if known.stamp == stamp && stamp.mtime_secs() < racy_from {
                    walk.dirs.push((path.to_path_buf(), known.clone()));
                } else {
                    to_read.push((path.to_path_buf(), meta));
                }
            }
            // Gone, or no longer a directory: what was under it is gone too,
            // which the stats of its sidecars show.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => walk.unreadable.push((path.to_path_buf(), e.to_string())),
        }
    }

    let mut run_dirs_to_read: HashSet<PathBuf> = HashSet::new();
    for (key, stat) in file_keys.iter().zip(file_stats) {
        let path = path_of(key);
        let parent = path.parent().unwrap_or(path);
        match stat {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The sidecar is gone; its directory may now hold other
                // runs, or be gone too.
                if let Ok(meta) = fs::symlink_metadata(parent)
                    && meta.is_dir()
                    && run_dirs_to_read.insert(parent.to_path_buf())
                {
                    to_read.push((parent.to_path_buf(), meta));
                }
            }
            meta => {
                if let Some(known) = remembered.dirs.get(parent.as_os_str().as_bytes())
                    && known.run_dir
                {
                    walk.dirs.push((parent.to_path_buf(), known.clone()));
                }
                walk.sidecars.push(Found {
                    path: path.to_path_buf(),
                    meta,
                });
            }
        }
    }

    // A run directory is remembered once, even if both paths above saw it.
    walk.dirs
        .retain(|(path, _)| !run_dirs_to_read.contains(path));
    for (dir, meta) in to_read {
        read_changed(&dir, meta, remembered, threads, progress, &mut walk);
    }
    walk.dirs.sort_by(|a, b| a.0.cmp(&b.0));
    walk.dirs.dedup_by(|a, b| a.0 == b.0);
    walk
}

/// Reads one changed directory: a new sidecar in it is found, a new
/// subdirectory walked whole; known subdirectories were stat'ed already.
fn read_changed(
    dir: &Path,
    meta: fs::Metadata,
    remembered: &Remembered<'_>,
    threads: usize,
    progress: Option<&ProgressFn>,
    walk: &mut Walk,
) {
    walk.dirs_read += 1;
    let entries = match fs::read_dir(dir).and_then(|rd| rd.collect::<io::Result<Vec<_>>>()) {
        Ok(entries) => entries,
        Err(e) => {
            walk.unreadable.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let stamp = FileStamp::of(&meta);
    if entries.iter().any(|e| e.file_name() == SIDECAR_NAME) {
        let sidecar = dir.join(SIDECAR_NAME);
        if !remembered
            .files
            .contains_key(sidecar.as_os_str().as_bytes())
        {
            let meta = fs::symlink_metadata(&sidecar);
            walk.sidecars.push(Found {
                path: sidecar,
                meta,
            });
        }
        walk.dirs.push((
            dir.to_path_buf(),
            DirState {
                stamp,
                run_dir: true,
            },
        ));
        return;
    }
    walk.dirs.push((
        dir.to_path_buf(),
        DirState {
            stamp,
            run_dir: false,
        },
    ));
    for entry in entries {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let path = entry.path();
        if is_dir && !remembered.dirs.contains_key(path.as_os_str().as_bytes()) {
            walk.merge(find_sidecars(&path, threads, progress));
        }
    }
}

/// lstat of every path, on up to `threads` threads.
fn stat_all(keys: &[&Vec<u8>], threads: usize) -> Vec<io::Result<fs::Metadata>> {
    let stat = |key: &&Vec<u8>| fs::symlink_metadata(path_of(key));
    if threads <= 1 || keys.len() < 1024 {
        return keys.iter().map(stat).collect();
    }
    let chunk = keys.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = keys
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(stat).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(keys.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                // A stat does not panic; if a thread did, do it all here.
                Err(_) => return keys.iter().map(stat).collect(),
            }
        }
        out
    })
}
