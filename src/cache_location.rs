//! Where a cache directory's cache file lives: beside its runs when the
//! directory is writable, else in the user's own cache directory.
//!
//! A colleague's runs, or a read-only mount, can then still be queried: the
//! cache is built under `$XDG_CACHE_HOME/runreg/` (else `~/.cache/runreg/`),
//! in a folder named after the cache directory's canonical path.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::CREATE_MODE;

/// The cache file's name in a cache directory. The reference's SQLite cache
/// beside it, `registry.db`, is never opened, moved or deleted.
pub const DB_FILE_NAME: &str = "registry.redb";

/// The cache file for `cache_dir` (canonical), and whether it had to move
/// out of `cache_dir` because that is not writable.
pub(crate) fn default_db_path(cache_dir: &Path) -> Result<(PathBuf, bool)> {
    db_path_in(cache_dir, user_cache_home())
}

/// [`default_db_path`] with the user's cache directory given (`None`: the
/// environment names none).
fn db_path_in(cache_dir: &Path, user_cache_home: Option<PathBuf>) -> Result<(PathBuf, bool)> {
    let beside = cache_dir.join(DB_FILE_NAME);
    if can_write(&beside) {
        return Ok((beside, false));
    }
    let base = user_cache_home.ok_or_else(|| Error::CacheDirNotWritable {
        path: cache_dir.to_path_buf(),
    })?;
    let dir = base.join("runreg").join(folder_name(cache_dir));
    // Never world-writable, whatever the umask: whoever may write the
    // folder may replace the cache in it.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o775)
        .create(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    Ok((dir.join(DB_FILE_NAME), true))
}

/// Whether runreg may keep its cache at `db`: its lock file can be opened
/// for writing, and so can the cache file if it exists.
fn can_write(db: &Path) -> bool {
    let mut lock = db.as_os_str().to_owned();
    lock.push(".lock");
    let lock_ok = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(CREATE_MODE)
        .open(PathBuf::from(lock))
        .is_ok();
    lock_ok && (!db.exists() || OpenOptions::new().write(true).open(db).is_ok())
}

fn user_cache_home() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))
}

/// `<last component>-<16 hex digits of a hash of the whole path>`: readable,
/// and distinct for distinct paths.
fn folder_name(cache_dir: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    // FNV-1a: stable across runs and releases (std's hasher is not).
    let hash = cache_dir
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    let name: String = cache_dir
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("{name}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_readable_and_distinct() {
        let a = folder_name(Path::new("/data/alice/runs cache"));
        let b = folder_name(Path::new("/data/bob/runs cache"));
        assert!(a.starts_with("runs_cache-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(
            a,
            folder_name(Path::new("/data/alice/runs cache")),
            "stable"
        );
        assert_eq!(a.len(), "runs_cache-".len() + 16);
    }

    #[test]
    fn a_writable_cache_dir_keeps_its_cache() {
        let dir = tempfile::tempdir().unwrap();
        let (db, moved) = default_db_path(dir.path()).unwrap();
        assert_eq!((db, moved), (dir.path().join(DB_FILE_NAME), false));
    }

    #[test]
    fn a_cache_dir_not_writable_with_no_user_cache_home_is_its_own_error() {
        // /proc takes no new file, even from root.
        let proc = Path::new("/proc");
        let err = db_path_in(proc, None).unwrap_err();
        assert!(
            matches!(&err, Error::CacheDirNotWritable { path } if path == proc),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "/proc: not writable, and neither XDG_CACHE_HOME nor HOME is set to hold the cache elsewhere"
        );
        let home = tempfile::tempdir().unwrap();
        let (db, moved) = db_path_in(proc, Some(home.path().to_owned())).unwrap();
        assert!(
            moved && db.starts_with(home.path().join("runreg")),
            "{db:?}"
        );
    }
}
