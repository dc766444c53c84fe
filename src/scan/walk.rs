//! Finding sidecars by walking the tree: the only user of jwalk.
//!
//! A directory holding `sidecar.json` is a run directory: the walk keeps
//! only that entry and does not descend into its subdirectories
//! (`checkpoints/`, `media/`). When its parent is listed, an lstat of
//! `<dir>/sidecar.json` finds it, so run directories are never listed
//! (see [`Probes`]). Symbolic links are not followed, except the root itself
//! (see [`tree_root`]). Hidden entries are walked (the reference does not
//! skip them).

use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use jwalk::{Parallelism, WalkDirGeneric};
use rustc_hash::FxHashSet;

use super::progress::{PROGRESS_EVERY, ProgressFn, ScanProgress};
use super::stat::{Follow, Lstat, lstat, stat_all};
use crate::sidecar::SIDECAR_NAME;
use crate::store::DirState;

/// One `sidecar.json` found, with its lstat.
#[derive(Debug)]
pub(crate) struct Found {
    pub path: PathBuf,
    pub meta: io::Result<Lstat>,
    /// The run's heartbeat mtime (epoch seconds), when the walk stat'ed it
    /// already (`Some(None)`: no heartbeat); `None` when it did not look.
    pub heartbeat: Option<Option<f64>>,
}

/// What a walk (or a revisit) of `runs/` found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub sidecars: Vec<Found>,
    /// Directories (other than run directories) listed in this walk, with
    /// their state: what the next scan compares against to skip reading
    /// unchanged ones.
    pub dirs: Vec<(Vec<u8>, DirState)>,
    /// Remembered directories found gone or no longer plain directories.
    pub dirs_gone: Vec<Vec<u8>>,
    /// The walk listed the whole tree: every remembered directory not in
    /// `dirs` is gone.
    pub complete: bool,
    /// Directories that could not be read: what is under them is unknown,
    /// not gone.
    pub unreadable: Vec<(PathBuf, String)>,
    /// How many directories were listed.
    pub dirs_read: usize,
}

impl Walk {
    /// Adds what a walk of a subtree found.
    pub fn merge(&mut self, other: Walk) {
        self.sidecars.extend(other.sidecars);
        self.dirs.extend(other.dirs);
        self.dirs_gone.extend(other.dirs_gone);
        self.unreadable.extend(other.unreadable);
        self.dirs_read += other.dirs_read;
    }

    /// Whether `path` lies under a directory that could not be read.
    pub fn is_unknown(&self, path: &Path) -> bool {
        self.unreadable.iter().any(|(dir, _)| path.starts_with(dir))
    }
}

/// Walks the tree under `root` with `threads` threads (1: on this thread),
/// collecting the sidecars found. A missing `root` is an empty walk.
pub(crate) fn find_sidecars(root: &Path, threads: usize, progress: Option<&ProgressFn>) -> Walk {
    let mut sidecars = Vec::new();
    let mut walk = walk_tree(root, threads, |found| {
        sidecars.push(found);
        if let Some(progress) = progress
            && sidecars.len().is_multiple_of(PROGRESS_EVERY)
        {
            progress.report(ScanProgress {
                walking: true,
                found: sidecars.len(),
                processed: 0,
            });
        }
        ControlFlow::Continue(())
    });
    walk.sidecars = sidecars;
    walk
}

/// The root of the run tree of `cache_dir`: its `runs` directory.
///
/// Labs often make `runs` a symbolic link to a larger filesystem; the root
/// is then followed (as `find -H` does, and the reference's `rglob`), while
/// links below it are not. It is named with a trailing `/`, which makes
/// every stat and open of it follow the link, and keeps the paths below it
/// as the user named them (`{cache_dir}/runs/...`).
pub(crate) fn tree_root(cache_dir: &Path) -> PathBuf {
    let root = cache_dir.join("runs");
    match fs::symlink_metadata(&root) {
        Ok(meta) if meta.is_symlink() => root.join(""),
        _ => root,
    }
}

/// Whether the subdirectories at each depth are worth probing for a sidecar.
///
/// Probing a subdirectory (an lstat of `<dir>/sidecar.json`) spares
/// listing it when it is a run directory, and costs one failed lstat when it
/// is not. Trees keep their runs at one or two depths (`runs/<date>/<job>/
/// <run>/`): once [`GIVE_UP_AFTER`](Probes::GIVE_UP_AFTER) probes at a depth
/// have all failed, its directories are listed without a probe, which finds
/// a sidecar there just the same.
#[derive(Default)]
struct Probes {
    /// Per depth (the deepest counting for all below): probes that found a
    /// sidecar, and probes that did not.
    found: [AtomicU32; Probes::DEPTHS],
    missed: [AtomicU32; Probes::DEPTHS],
}

impl Probes {
    const DEPTHS: usize = 16;
    const GIVE_UP_AFTER: u32 = 64;

    fn worth_it(&self, depth: usize) -> bool {
        let d = depth.min(Self::DEPTHS - 1);
        self.found[d].load(Ordering::Relaxed) > 0
            || self.missed[d].load(Ordering::Relaxed) < Self::GIVE_UP_AFTER
    }

    fn record(&self, depth: usize, found: bool) {
        let d = depth.min(Self::DEPTHS - 1);
        let counter = if found {
            &self.found[d]
        } else {
            &self.missed[d]
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Walks the tree under `root` with `threads` threads (1: on this thread),
/// handing each sidecar to `on_found` as soon as it is found; the returned
/// [`Walk`] holds everything else (its `sidecars` are empty). `on_found`
/// may stop the walk, which is then not `complete`. A missing `root` is an
/// empty walk.
pub(crate) fn walk_tree(
    root: &Path,
    threads: usize,
    on_found: impl FnMut(Found) -> ControlFlow<()>,
) -> Walk {
    walk_probing(root, threads, Arc::new(Probes::default()), on_found)
}

/// [`walk_tree`], probing subdirectories as `probes` finds worth it.
fn walk_probing(
    root: &Path,
    threads: usize,
    probes: Arc<Probes>,
    mut on_found: impl FnMut(Found) -> ControlFlow<()>,
) -> Walk {
    let mut walk = Walk::default();
    match fs::symlink_metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        _ => {
            walk.complete = true;
            return walk;
        }
    }
    let parallelism = if threads <= 1 {
        Parallelism::Serial
    } else {
        // An own pool: the default one aborts the walk when the caller's
        // rayon pool is busy.
        Parallelism::RayonNewPool(threads)
    };
    // A directory's entry carries the lstat of its `sidecar.json`, when the
    // walk found one there without listing the directory.
    let walker = WalkDirGeneric::<((), Option<Lstat>)>::new(root)
        .skip_hidden(false)
        .follow_links(false)
        .sort(false)
        .parallelism(parallelism)
        .process_read_dir(move |depth, dir, _, children| {
            let holds_sidecar = children
                .iter()
                .any(|c| c.as_ref().is_ok_and(|e| e.file_name == SIDECAR_NAME));
            if holds_sidecar {
                children.retain(|c| c.as_ref().is_ok_and(|e| e.file_name == SIDECAR_NAME));
                for entry in children.iter_mut().flatten() {
                    // A directory named sidecar.json is reported, not walked.
                    entry.read_children_path = None;
                }
                return;
            }
            // A subdirectory holding a sidecar is a run directory: its other
            // entries do not matter, so one lstat replaces listing it. Where
            // the lstat fails for another reason than absence, the directory
            // is listed, and what stops that is reported.
            let depth = depth.map_or(0, |d| d + 1);
            for entry in children.iter_mut().flatten() {
                if entry.file_type.is_dir() && probes.worth_it(depth) {
                    let sidecar = dir.join(&entry.file_name).join(SIDECAR_NAME);
                    let meta = lstat(&sidecar);
                    probes.record(depth, meta.is_ok());
                    if let Ok(meta) = meta {
                        entry.client_state = Some(meta);
                        entry.read_children_path = None;
                    }
                }
            }
        });
    let mut listed = vec![root.to_path_buf()];
    // The run directories: the parents of the sidecars found.
    let mut run_dirs: FxHashSet<Vec<u8>> = FxHashSet::default();
    let mut stopped = false;
    for entry in walker {
        match entry {
            Ok(entry) => {
                if let Some(err) = &entry.read_children_error {
                    walk.unreadable.push((entry.path(), describe(err)));
                } else if let Some(meta) = entry.client_state {
                    let dir = entry.path();
                    run_dirs.insert(dir.as_os_str().as_bytes().to_vec());
                    let found = Found {
                        path: dir.join(SIDECAR_NAME),
                        meta: Ok(meta),
                        heartbeat: None,
                    };
                    if on_found(found).is_break() {
                        stopped = true;
                        break;
                    }
                } else if entry.depth > 0 && entry.file_name == SIDECAR_NAME {
                    let path = entry.path();
                    let meta = lstat(&path);
                    if let Some(dir) = path.parent() {
                        run_dirs.insert(dir.as_os_str().as_bytes().to_vec());
                    }
                    let found = Found {
                        path,
                        meta,
                        heartbeat: None,
                    };
                    if on_found(found).is_break() {
                        stopped = true;
                        break;
                    }
                } else if entry.depth > 0 && entry.file_type.is_dir() {
                    listed.push(entry.path());
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
    walk.complete = !stopped;
    walk.dirs_read = listed.len();
    // Directories are stamped after jwalk listed them: a change in between
    // has an mtime after this scan started, inside the racy window, so the
    // next scan lists that directory again. Run directories need no stamp.
    let unreadable: FxHashSet<&[u8]> = walk
        .unreadable
        .iter()
        .map(|(p, _)| p.as_os_str().as_bytes())
        .collect();
    let mut dirs: Vec<&[u8]> = listed
        .iter()
        .filter(|p| {
            let key = p.as_os_str().as_bytes();
            !run_dirs.contains(key) && !unreadable.contains(key)
        })
        .map(|p| p.as_os_str().as_bytes())
        .collect();
    // Sorted: siblings share the parent a stat is relative to.
    dirs.sort_unstable();
    // Stat'ed on the walk's threads: on a network filesystem these are as
    // many round trips as there are directories.
    let stats = stat_all(&dirs, 1, Follow::No, threads);
    walk.dirs = dirs
        .iter()
        .zip(stats)
        .filter_map(|(key, stat)| {
            let stat = stat.ok()?;
            let state = DirState { stamp: stat.stamp };
            Some((key.to_vec(), state))
        })
        .collect();
    walk
}

fn describe(err: &jwalk::Error) -> String {
    match err.io_error() {
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_a_depth_stops_after_misses_only_and_not_once_a_probe_found() {
        let probes = Probes::default();
        for _ in 0..Probes::GIVE_UP_AFTER - 1 {
            probes.record(2, false);
        }
        assert!(probes.worth_it(2));
        probes.record(2, false);
        assert!(!probes.worth_it(2), "64 misses and no find");
        assert!(probes.worth_it(3), "other depths are counted apart");
        for _ in 0..1000 {
            probes.record(3, false);
        }
        probes.record(3, true);
        assert!(probes.worth_it(3), "a depth where runs were found");
        // Depths past the last share its counters.
        for _ in 0..Probes::GIVE_UP_AFTER {
            probes.record(40, false);
        }
        assert!(!probes.worth_it(Probes::DEPTHS + 3));
    }

    /// Every sidecar is found whether the walk probes subdirectories or
    /// lists them, at any depth, with one or several walker threads.
    #[test]
    fn sidecars_are_found_with_or_without_probes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut want = Vec::new();
        for (i, rel) in ["a/r1", "a/b/r2", "a/b/c/d/r3", "e/r4", "e/f/g", "h"]
            .iter()
            .enumerate()
        {
            let run = root.join(rel);
            fs::create_dir_all(run.join("checkpoints")).unwrap();
            if i != 4 {
                fs::write(run.join(SIDECAR_NAME), "{}").unwrap();
                fs::write(run.join("checkpoints").join(SIDECAR_NAME), "{}").unwrap();
                want.push(run.join(SIDECAR_NAME));
            }
        }
        want.sort();
        let given_up = || {
            let probes = Probes::default();
            for depth in 0..Probes::DEPTHS {
                for _ in 0..Probes::GIVE_UP_AFTER {
                    probes.record(depth, false);
                }
            }
            probes
        };
        for threads in [1, 3] {
            for probes in [Probes::default(), given_up()] {
                let mut found = Vec::new();
                let walk = walk_probing(root, threads, Arc::new(probes), |f| {
                    assert!(f.meta.is_ok(), "{}", f.path.display());
                    found.push(f.path);
                    ControlFlow::Continue(())
                });
                found.sort();
                assert_eq!(found, want, "threads {threads}");
                assert!(walk.complete && walk.unreadable.is_empty());
            }
        }
    }
}
