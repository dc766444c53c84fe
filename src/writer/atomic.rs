//! Atomic file replacement: write a temp file in the same directory, fsync
//! it, rename it over the destination, fsync the directory.
//!
//! A reader sees the old file or the new one, never a part of either. A
//! crash before the rename leaves the old file as it was and, at worst, a
//! `.<name>.<random>.tmp` file beside it, the name stable-pretraining's
//! writer uses too: readers ignore such files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::writer::run_id::random_u64;

/// A complete, fsynced temp file waiting to replace its destination.
/// Dropped without [`Staged::commit`], it removes the temp file.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

/// Writes a temp file beside `dir/name` with `write` and fsyncs it; the
/// destination is untouched until [`Staged::commit`].
pub(crate) fn stage(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> Result<Staged> {
    let (temp, file) = create_temp(dir, name)?;
    let staged = Staged {
        temp,
        dest: dir.join(name),
        committed: false,
    };
    let fill = || -> io::Result<()> {
        let mut out = BufWriter::with_capacity(64 * 1024, &file);
        write(&mut out)?;
        out.flush()?;
        drop(out);
        file.sync_all()
    };
    // On error `staged` is dropped here and removes the temp file.
    fill().map_err(|e| Error::io(&staged.temp, e))?;
    Ok(staged)
}

impl Staged {
    /// Renames the temp file over the destination. The directory entry is
    /// durable only after [`sync_dir`].
    pub(crate) fn commit(mut self) -> Result<()> {
        fs::rename(&self.temp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Makes the renames and creations in `dir` durable. Filesystems that cannot
/// fsync a directory (some network ones refuse it) are not an error: the
/// rename itself was atomic.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| Error::io(dir, e))?;
    match handle.sync_all() {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// A new `.<name>.<random>.tmp` in `dir`, created exclusively (never an
/// existing file, never through a symlink).
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File)> {
    let mut attempt = 0;
    loop {
        let temp = dir.join(format!(".{name}.{:012x}.tmp", random_u64() >> 16));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(Error::io(temp, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replaces `dir/name` with `bytes`, durably.
    fn replace(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
        stage(dir, name, |out| out.write_all(bytes))?.commit()?;
        sync_dir(dir)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replace_writes_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace(dir.path(), "sidecar.json", b"one").expect("first");
        replace(dir.path(), "sidecar.json", b"two").expect("second");
        assert_eq!(fs::read(dir.path().join("sidecar.json")).unwrap(), b"two");
        assert_eq!(entries(dir.path()), ["sidecar.json"]);
    }

    #[test]
    fn crash_between_temp_write_and_rename_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace(dir.path(), "sidecar.json", b"{\"run_id\": \"old\"}").expect("old");
        let staged = stage(dir.path(), "sidecar.json", |out| {
            out.write_all(b"{\"run_id\": \"new\"}")
        })
        .expect("stage");
        // A crash now: the process dies without renaming or cleaning up.
        std::mem::forget(staged);
        assert_eq!(
            fs::read(dir.path().join("sidecar.json")).unwrap(),
            b"{\"run_id\": \"old\"}"
        );
        let names = entries(dir.path());
        assert_eq!(names.len(), 2, "{names:?}");
        let temp = &names[0];
        assert!(
            temp.starts_with(".sidecar.json.") && temp.ends_with(".tmp"),
            "{temp}"
        );
        // The temp file was complete and synced before any rename.
        assert_eq!(
            fs::read(dir.path().join(temp)).unwrap(),
            b"{\"run_id\": \"new\"}"
        );
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_removes_the_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        replace(dir.path(), "summary.json", b"old").expect("old");
        let err = stage(dir.path(), "summary.json", |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .expect_err("failed write");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(fs::read(dir.path().join("summary.json")).unwrap(), b"old");
        assert_eq!(entries(dir.path()), ["summary.json"]);
    }

    #[test]
    fn dropping_a_staged_file_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let staged = stage(dir.path(), "x", |out| out.write_all(b"1")).expect("stage");
        drop(staged);
        assert!(entries(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn replace_swaps_a_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("outside");
        let target = outside.path().join("victim");
        fs::write(&target, b"precious").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("sidecar.json")).unwrap();
        replace(dir.path(), "sidecar.json", b"mine").expect("replace");
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        assert_eq!(fs::read(dir.path().join("sidecar.json")).unwrap(), b"mine");
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_temp_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gone = dir.path().join("gone");
        let err = replace(&gone, "sidecar.json", b"x").expect_err("no dir");
        assert!(err.to_string().contains("gone/.sidecar.json."), "{err}");
    }
}
