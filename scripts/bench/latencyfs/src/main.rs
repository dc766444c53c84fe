//! latencyfs: a read-only FUSE view of a directory that answers every
//! request after a fixed delay, as a network filesystem answers after a
//! round trip. A benchmark tool of runreg (`scripts/bench/latency.sh`),
//! never one of its dependencies.
//!
//! ```sh
//! latencyfs SOURCE MOUNTPOINT [--delay-us 500] [--threads 64] [--ttl-ms 0]
//! fusermount3 -u MOUNTPOINT      # or SIGINT/SIGTERM to latencyfs
//! ```
//!
//! Requests are served concurrently: fuser runs `--threads` event loops,
//! each with its own clone of the `/dev/fuse` descriptor, and each sleeps
//! its delay apart from the others; the kernel is told it may look up
//! entries of one directory in parallel (`FUSE_PARALLEL_DIROPS`). So 16
//! stats issued at once take about one delay, not 16, as on a server that
//! handles many clients' requests at a time. With `--ttl-ms 0` (the
//! default) the kernel caches no entry and no attribute: every path
//! component of every stat is a request, as on an NFS client whose
//! attribute cache has expired.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, Request,
};

/// What the command line asks for.
struct Options {
    source: PathBuf,
    mountpoint: PathBuf,
    delay: Duration,
    threads: usize,
    ttl: Duration,
}

const USAGE: &str =
    "usage: latencyfs SOURCE MOUNTPOINT [--delay-us N (500)] [--threads N (64)] [--ttl-ms N (0)]";

impl Options {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Options, String> {
        let mut positional = Vec::new();
        let mut delay_us = 500u64;
        let mut threads = 64usize;
        let mut ttl_ms = 0u64;
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let value = args.next().ok_or(format!("{name} needs a value"))?;
                value
                    .to_str()
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("{name}: not a number: {}", value.to_string_lossy()))
            };
            match arg.to_str() {
                Some("--delay-us") => delay_us = number("--delay-us")?,
                Some("--threads") => threads = number("--threads")?.clamp(1, 1024) as usize,
                Some("--ttl-ms") => ttl_ms = number("--ttl-ms")?,
                Some("-h" | "--help") => return Err(USAGE.to_owned()),
                _ => positional.push(PathBuf::from(arg)),
            }
        }
        let [source, mountpoint] = <[PathBuf; 2]>::try_from(positional).map_err(|_| USAGE)?;
        Ok(Options {
            source,
            mountpoint,
            delay: Duration::from_micros(delay_us),
            threads,
            ttl: Duration::from_millis(ttl_ms),
        })
    }
}

/// The inode numbers handed to the kernel, and the paths they stand for.
/// Numbers are never reused: a benchmark's tree is small enough to keep.
#[derive(Default)]
struct Inodes {
    paths: Vec<PathBuf>,
    numbers: HashMap<PathBuf, u64>,
}

/// One entry of a directory listing: inode, kind, name.
type Listed = (u64, FileType, OsString);

struct LatencyFs {
    delay: Duration,
    ttl: Duration,
    inodes: RwLock<Inodes>,
    files: Mutex<HashMap<u64, File>>,
    /// A directory's entries as listed at `opendir`, served by offset.
    listings: Mutex<HashMap<u64, Vec<Listed>>>,
    next_handle: AtomicU64,
}

impl LatencyFs {
    fn new(source: PathBuf, delay: Duration, ttl: Duration) -> LatencyFs {
        // Inode 1 is the root; index 0 is unused.
        let inodes = Inodes {
            paths: vec![PathBuf::new(), source.clone()],
            numbers: HashMap::from([(source, 1)]),
        };
        LatencyFs {
            delay,
            ttl,
            inodes: RwLock::new(inodes),
            files: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        }
    }

    /// The round trip: every request waits it, on its own thread.
    fn wait(&self) {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
    }

    fn path(&self, ino: INodeNo) -> Option<PathBuf> {
        let inodes = self.inodes.read().unwrap();
        inodes
            .paths
            .get(ino.0 as usize)
            .filter(|_| ino.0 > 0)
            .cloned()
    }

    fn number(&self, path: &Path) -> u64 {
        if let Some(n) = self.inodes.read().unwrap().numbers.get(path) {
            return *n;
        }
        let mut inodes = self.inodes.write().unwrap();
        if let Some(n) = inodes.numbers.get(path) {
            return *n;
        }
        let n = inodes.paths.len() as u64;
        inodes.paths.push(path.to_path_buf());
        inodes.numbers.insert(path.to_path_buf(), n);
        n
    }

    fn handle(&self) -> u64 {
        self.next_handle.fetch_add(1, Ordering::Relaxed)
    }
}

fn errno(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_i32)
}

fn kind_of(ty: fs::FileType) -> FileType {
    FileType::from_std(ty).unwrap_or(FileType::RegularFile)
}

fn time(secs: i64, nsec: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(nsec as u64)
    }
}

fn attr(ino: u64, meta: &fs::Metadata) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: meta.size(),
        blocks: meta.blocks(),
        atime: time(meta.atime(), meta.atime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: kind_of(meta.file_type()),
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: meta.blksize() as u32,
        flags: 0,
    }
}

impl Filesystem for LatencyFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        // Lookups in one directory in parallel (else the kernel holds the
        // directory's lock across each), and many requests in the background.
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        let _ = config.set_max_background(256);
        let _ = config.set_congestion_threshold(192);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.wait();
        let Some(dir) = self.path(parent) else {
            return reply.error(Errno::ENOENT);
        };
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) => {
                let ino = self.number(&path);
                reply.entry(&self.ttl, &attr(ino, &meta), Generation(0));
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.wait();
        let Some(path) = self.path(ino) else {
            return reply.error(Errno::ENOENT);
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) => reply.attr(&self.ttl, &attr(ino.0, &meta)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.wait();
        match self.path(ino).map(fs::read_link) {
            Some(Ok(target)) => reply.data(target.as_os_str().as_bytes()),
            Some(Err(e)) => reply.error(errno(&e)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.wait();
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        let Some(path) = self.path(ino) else {
            return reply.error(Errno::ENOENT);
        };
        match File::open(&path) {
            Ok(file) => {
                let fh = self.handle();
                self.files.lock().unwrap().insert(fh, file);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.wait();
        let file = match self.files.lock().unwrap().get(&fh.0) {
            Some(file) => file.try_clone(),
            None => return reply.error(Errno::EBADF),
        };
        let mut buf = vec![0; size as usize];
        match file.and_then(|f| f.read_at(&mut buf, offset)) {
            Ok(n) => reply.data(&buf[..n]),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.wait();
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.wait();
        self.files.lock().unwrap().remove(&fh.0);
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.wait();
        let Some(path) = self.path(ino) else {
            return reply.error(Errno::ENOENT);
        };
        let listed = fs::read_dir(&path).and_then(|entries| {
            entries
                .map(|entry| {
                    let entry = entry?;
                    let kind = kind_of(entry.file_type()?);
                    Ok((entry.ino().max(1), kind, entry.file_name()))
                })
                .collect::<io::Result<Vec<_>>>()
        });
        match listed {
            Ok(mut entries) => {
                entries.insert(0, (ino.0, FileType::Directory, OsString::from(".")));
                entries.insert(1, (1, FileType::Directory, OsString::from("..")));
                let fh = self.handle();
                self.listings.lock().unwrap().insert(fh, entries);
                reply.opened(FileHandle(fh), FopenFlags::empty());
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.wait();
        let listings = self.listings.lock().unwrap();
        let Some(entries) = listings.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), (i + 1) as u64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.wait();
        self.listings.lock().unwrap().remove(&fh.0);
        reply.ok();
    }
}

fn main() {
    let options = match Options::parse(std::env::args_os().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let source = match options.source.canonicalize() {
        Ok(source) if source.is_dir() => source,
        _ => {
            eprintln!("latencyfs: {} is not a directory", options.source.display());
            std::process::exit(2);
        }
    };
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName("latencyfs".to_owned()),
        MountOption::Subtype("latencyfs".to_owned()),
    ];
    config.n_threads = Some(options.threads);
    config.clone_fd = true;
    let fs = LatencyFs::new(source, options.delay, options.ttl);
    if let Err(e) = fuser::mount(fs, &options.mountpoint, &config) {
        eprintln!("latencyfs: mounting {}: {e}", options.mountpoint.display());
        std::process::exit(1);
    }
}
