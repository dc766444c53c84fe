//! Opening the files of a run directory without being led out of it: an
//! existing entry must be a regular file, never a symlink (which could point
//! anywhere), a directory or a device.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use crate::error::{Error, Result};

fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (a symlink, directory or device): refusing to use it",
    )
}

/// Opens `path` for writing without truncating, creating it when missing.
pub(crate) fn open_for_write(path: &Path) -> io::Result<File> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => OpenOptions::new().write(true).open(path),
        Ok(_) => Err(not_regular()),
        // `create_new` fails on any existing entry, dangling symlinks too.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            OpenOptions::new().write(true).create_new(true).open(path)
        }
        Err(e) => Err(e),
    }
}

/// Opens an existing regular file for reading; `None` when there is none.
pub(crate) fn open_existing(path: &Path) -> Result<Option<File>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => File::open(path).and_then(|file| {
            // The entry may have been swapped for a symlink since the lstat:
            // the file opened must be the one looked at.
            if same_file(&meta, &file.metadata()?) {
                Ok(Some(file))
            } else {
                Err(not_regular())
            }
        }),
        Ok(_) => Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
    .map_err(|e| Error::io(path, e))
}

#[cfg(unix)]
fn same_file(looked_at: &fs::Metadata, opened: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    opened.is_file() && looked_at.dev() == opened.dev() && looked_at.ino() == opened.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, opened: &fs::Metadata) -> bool {
    opened.is_file()
}

/// The whole of an existing regular file, at most `limit` bytes; `None`
/// when there is no such file or it is larger.
pub(crate) fn read_small(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let Some(file) = open_existing(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_for_write_creates_or_reuses_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        open_for_write(&path).unwrap();
        fs::write(&path, b"kept").unwrap();
        open_for_write(&path).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"kept");
        assert!(open_for_write(dir.path()).is_err(), "a directory");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused_even_dangling_ones() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = dir.path().join("f");
        std::os::unix::fs::symlink(outside.path().join("new"), &link).unwrap();
        let err = open_for_write(&link).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!outside.path().join("new").exists());
        assert!(open_existing(&link).is_err());
    }

    #[test]
    fn read_small_reads_or_refuses_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(read_small(&path, 10).unwrap(), None);
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            read_small(&path, 10).unwrap().as_deref(),
            Some(&b"0123456789"[..])
        );
        assert_eq!(read_small(&path, 9).unwrap(), None);
    }
}
