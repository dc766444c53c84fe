//! Finding sidecars: the only user of jwalk.
//!
//! A directory holding `sidecar.json` is a run directory: the walk keeps
//! only that entry and does not descend into its subdirectories
//! (`checkpoints/`, `media/`). Symbolic links are not followed. Hidden
//! entries are walked (the reference does not skip them).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jwalk::{Parallelism, WalkDirGeneric};

use super::progress::{PROGRESS_EVERY, ProgressFn, ScanProgress};
use crate::sidecar::SIDECAR_NAME;

/// One `sidecar.json` the walk found, with its lstat.
#[derive(Debug)]
pub(crate) struct Found {
    pub path: PathBuf,
    pub meta: io::Result<fs::Metadata>,
}

/// What a walk of `runs/` found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub sidecars: Vec<Found>,
    /// Directories that could not be read: what is under them is unknown,
    /// not gone.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Walks `root` for sidecars with `threads` threads (1: on this thread).
/// A missing `root` is an empty walk.
pub(crate) fn find_sidecars(root: &Path, threads: usize, progress: Option<&ProgressFn>) -> Walk {
    let mut walk = Walk::default();
    if fs::symlink_metadata(root).is_err() {
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
    walk
}

fn describe(err: &jwalk::Error) -> String {
    match err.io_error() {
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}
