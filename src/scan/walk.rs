//! Finding sidecars by walking the tree: the only user of jwalk.
//!
//! A directory holding `sidecar.json` is a run directory: the walk keeps
//! only that entry and does not descend into its subdirectories
//! (`checkpoints/`, `media/`). Symbolic links are not followed. Hidden
//! entries are walked (the reference does not skip them).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jwalk::{Parallelism, WalkDirGeneric};

use super::progress::{PROGRESS_EVERY, ProgressFn, ScanProgress};
use crate::sidecar::SIDECAR_NAME;
use crate::store::{DirState, FileStamp};

/// One `sidecar.json` found, with its lstat.
#[derive(Debug)]
pub(crate) struct Found {
    pub path: PathBuf,
    pub meta: io::Result<fs::Metadata>,
}

/// What a walk (or a revisit) of `runs/` found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub sidecars: Vec<Found>,
    /// Every directory walked, with its state: what the next scan compares
    /// against to skip reading unchanged directories.
    pub dirs: Vec<(PathBuf, DirState)>,
    /// Directories that could not be read: what is under them is unknown,
    /// not gone.
    pub unreadable: Vec<(PathBuf, String)>,
    /// How many directories were listed.
    pub dirs_read: usize,
}

impl Walk {
    pub fn merge(&mut self, other: Walk) {
        self.sidecars.extend(other.sidecars);
        self.dirs.extend(other.dirs);
        self.unreadable.extend(other.unreadable);
        self.dirs_read += other.dirs_read;
    }

    /// Whether `path` lies under a directory that could not be read.
    pub fn is_unknown(&self, path: &Path) -> bool {
        self.unreadable.iter().any(|(dir, _)| path.starts_with(dir))
    }
}

/// Walks the tree under `root` with `threads` threads (1: on this thread).
/// A missing `root` is an empty walk.
pub(crate) fn find_sidecars(root: &Path, threads: usize, progress: Option<&ProgressFn>) -> Walk {
    let mut walk = Walk::default();
    // Directories are stamped after jwalk read them: a change in between
    // has an mtime after this scan started, inside the racy window, so the
    // next scan reads that directory again.
    let Ok(root_meta) = fs::symlink_metadata(root) else {
        return walk;
    };
    if !root_meta.is_dir() {
        return walk;
    }
    let parallelism = if threads <= 1 {
        Parallelism::Serial
    } else {
        // An own pool: the default one aborts the walk when the caller's
        // rayon pool is busy.
        Parallelism::RayonNewPool(threads)
    };
    let walker = WalkDirGeneric::<((), ())>::new(root)
        .skip_hidden(false)
        .follow_links(false)
        .sort(false)
        .parallelism(parallelism)
        .process_read_dir(|_, _, _, children| {
            let holds_sidecar = children
                .iter()
                .any(|c| c.as_ref().is_ok_and(|e| e.file_name == SIDECAR_NAME));
            if holds_sidecar {
                children.retain(|c| c.as_ref().is_ok_and(|e| e.file_name == SIDECAR_NAME));
                for entry in children.iter_mut().flatten() {
                    // A directory named sidecar.json is reported, not walked.
                    entry.read_children_path = None;
                }
            }
        });
    let mut dirs = vec![(root.to_path_buf(), root_meta)];
    for entry in walker {
        match entry {
            Ok(entry) => {
                if let Some(err) = &entry.read_children_error {
                    walk.unreadable.push((entry.path(), describe(err)));
                } else if entry.depth > 0 && entry.file_name == SIDECAR_NAME {
                    let path = entry.path();
                    let meta = fs::symlink_metadata(&path);
                    walk.sidecars.push(Found { path, meta });
                    if let Some(progress) = progress
                        && walk.sidecars.len().is_multiple_of(PROGRESS_EVERY)
                    {
                        progress.report(ScanProgress {
                            walking: true,
                            found: walk.sidecars.len(),
                            processed: 0,
                        });
                    }
                } else if entry.depth > 0 && entry.file_type.is_dir() {
                    let path = entry.path();
                    if let Ok(meta) = fs::symlink_metadata(&path) {
                        dirs.push((path, meta));
                    }
                }
            }
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                walk.unreadable.push((path, describe(&err)));
            }
        }
    }
    let run_dirs: HashSet<&Path> = walk
        .sidecars
        .iter()
        .filter_map(|f| f.path.parent())
        .collect();
    let stamped: Vec<(PathBuf, DirState)> = dirs
        .into_iter()
        .filter(|(path, _)| !walk.unreadable.iter().any(|(bad, _)| bad == path))
        .map(|(path, meta)| {
            let run_dir = run_dirs.contains(path.as_path());
            (
                path,
                DirState {
                    stamp: FileStamp::of(&meta),
                    run_dir,
                },
            )
        })
        .collect();
    walk.dirs = stamped;
    walk.dirs_read = walk.dirs.len();
    walk
}

fn describe(err: &jwalk::Error) -> String {
    match err.io_error() {
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}
