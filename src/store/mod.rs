//! The cache: runs and their indexes in one redb file (docs/FORMAT.md §9).
//! The only user of redb and of bincode (`codec`, `view`, `files`).
//!
//! Every use is short: take the [lock], open the file, run one
//! transaction, close, unlock. So many processes share one cache: readers
//! together, the scanner alone, each waiting its turn up to a timeout; a
//! waiting scanner goes before the readers that come after it.

mod codec;
mod files;
mod hot_row;
mod key_lists;
mod lock;
mod memory;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod model;
mod pending;
mod reader;
mod record_cache;
mod run_fields;
mod run_json;
mod run_key;
mod run_view;
mod tables;
mod view;
mod writer;

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use redb::{Database, DatabaseError, ReadableDatabase};

#[cfg(test)]
pub(crate) use codec::encode_record;
pub(crate) use codec::{Cold, Hot, Lists, RecordBytes, StoredRun};
pub(crate) use files::{DirState, FileStamp, FileState, FileStates};
pub(crate) use hot_row::{RunShape, ShapeKinds};
pub(crate) use memory::{Memory, Remembers};
pub(crate) use reader::Reader;
pub(crate) use run_fields::MapNames;
#[cfg(feature = "arrow")]
pub(crate) use run_fields::{MapFields, Scalar};
pub use run_json::{JsonLayout, JsonWriter};
pub(crate) use run_key::{RunKey, float_order};
pub use run_view::RunView;
pub(crate) use view::{HotRef, ValueRef, lookup};
pub(crate) use writer::Writer;

use crate::error::{Error, Result};
use lock::{CacheLock, LockKind};
use record_cache::RecordCache;

/// Version of the cache's layout. A cache written with another version is
/// moved aside and rebuilt from the sidecars.
pub(crate) const FORMAT_VERSION: u32 = 7;

/// Mode of the cache file and its lock when created, before the umask:
/// the user's umask decides, except that they are never world-writable
/// (anyone could then change what everyone else reads).
pub(crate) const CREATE_MODE: u32 = 0o664;

/// Pages redb may keep in memory for one writable open.
const CACHE_BYTES: usize = 64 << 20;

/// Pages redb may keep in memory for one read-only open: enough for the
/// branch pages of a large cache's tables. A read passes over each leaf
/// about once (the first pass reads the hot table in order; the runs of a
/// chunk are looked up once each), so keeping leaves saves nothing: with
/// 16 MiB, `ls --json` of 100,000 runs held 48 MiB and took no less time
/// than with 1 MiB, which holds 26 MiB (the same as for 10,000 runs).
const READ_CACHE_BYTES: usize = 1 << 20;

/// A cache file and how to take turns on it.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    path: PathBuf,
    lock_path: PathBuf,
    lock_timeout: Duration,
    /// Records read by id, kept while the cache is unchanged.
    records: Arc<Mutex<RecordCache>>,
}

/// What a look at the cache through a read-only open decided
/// ([`Store::write_unless`]).
pub(crate) enum Peek<T, S> {
    /// Done: nothing to write.
    Done(T),
    /// Something to write; what was found so far, for the write to go on
    /// from.
    Write(S),
}

/// What happened to the cache file when it was opened for writing.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Opening {
    /// The file was created (it did not exist, or was replaced).
    pub fresh: bool,
    /// The unusable cache this open replaced, if any.
    pub replaced: Option<Replaced>,
}

/// An unusable cache file, replaced by a new one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Replaced {
    /// Why it could not be used.
    pub why: String,
    /// Where it was moved; `None` when it was deleted: a cache written by
    /// another format version of runreg holds nothing its sidecars do not,
    /// and keeping it would leave a file the size of the cache behind at
    /// each upgrade. Anything else (damaged, or not runreg's) is kept.
    pub moved_to: Option<PathBuf>,
}

impl Store {
    pub fn new(path: PathBuf, lock_timeout: Duration) -> Store {
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Store {
            path,
            lock_path: PathBuf::from(lock_path),
            lock_timeout,
            records: Arc::default(),
        }
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the cache file exists yet.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Runs `work` in one write transaction under the exclusive lock, and
    /// commits it when `work` succeeds and wrote something ([`Writer::changed`]). A missing cache is created; one that
    /// cannot be opened or has another format version is moved aside and
    /// created afresh (the returned [`Opening`] says so).
    ///
    /// redb panics on some damaged files (overwritten pages pass the checks
    /// made on open): such a file is moved aside like any unusable one and
    /// `work` runs again on a fresh file.
    pub fn write<T>(
        &self,
        work: impl FnMut(&mut Writer<'_>, &Opening) -> Result<T>,
    ) -> Result<(T, Opening)> {
        let _lock = CacheLock::acquire(&self.lock_path, LockKind::Exclusive, self.lock_timeout)?;
        self.write_holding_lock(work)
    }

    /// Like [`write`](Self::write), but under the same exclusive lock first
    /// runs `peek` on a read-only open of the cache, which writes nothing
    /// (a writable open and close of a redb file write and fsync it even
    /// when no transaction commits). When `peek` is [`Peek::Done`], that is
    /// the answer and the file is not opened for writing. Otherwise `work`
    /// runs as for `write`, given what `peek` found the first time it runs
    /// (`None` after that, and when the read-only open or `peek` failed:
    /// the writable open then deals with the file as `write` does).
    pub fn write_unless<S, T>(
        &self,
        peek: impl FnOnce(&Memory) -> Result<Peek<T, Option<S>>>,
        mut work: impl FnMut(&mut Writer<'_>, &Opening, Option<S>) -> Result<T>,
    ) -> Result<(T, Opening)> {
        let _lock = CacheLock::acquire(&self.lock_path, LockKind::Exclusive, self.lock_timeout)?;
        let mut found = None;
        if self.exists() {
            match catching(|| self.peek_read_only(peek)) {
                Ok(Ok(Peek::Done(value))) => return Ok((value, Opening::default())),
                Ok(Ok(Peek::Write(state))) => found = state,
                // Damaged, of another version, in need of repair...: the
                // writable open below moves it aside or repairs it.
                Ok(Err(_)) | Err(_) => {}
            }
        }
        self.write_holding_lock(|writer, opening| work(writer, opening, found.take()))
    }

    /// `peek` on a read-only open, the exclusive lock held.
    fn peek_read_only<T>(&self, peek: impl FnOnce(&Memory) -> Result<T>) -> Result<T> {
        let db = Self::builder()
            .open_read_only(&self.path)
            .map_err(|e| Error::store(&self.path, e))?;
        let txn = db.begin_read().map_err(|e| Error::store(&self.path, e))?;
        let version = writer::format_version_in(&txn, &self.path)?;
        if version != Some(FORMAT_VERSION) {
            return Err(Error::CacheFormat {
                path: self.path.clone(),
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        peek(&Memory::open(&txn, &self.path)?)
    }

    /// [`write`](Self::write), the exclusive lock held.
    fn write_holding_lock<T>(
        &self,
        mut work: impl FnMut(&mut Writer<'_>, &Opening) -> Result<T>,
    ) -> Result<(T, Opening)> {
        match catching(|| self.write_locked(&mut work, None)) {
            Ok(done) => done,
            Err(panic) => {
                let replaced = Replaced {
                    why: format!("damaged ({})", panic_message(&panic)),
                    moved_to: Some(self.move_aside()?),
                };
                match catching(|| self.write_locked(&mut work, Some(replaced))) {
                    Ok(done) => done,
                    // The file is fresh: not damaged, so redb (or runreg)
                    // is at fault.
                    Err(panic) => Err(Error::internal(
                        &self.path,
                        format_args!("redb failed: {}", panic_message(&panic)),
                    )),
                }
            }
        }
    }

    /// One write transaction, the exclusive lock held; `replaced` says the
    /// file was just moved aside.
    fn write_locked<T>(
        &self,
        work: &mut impl FnMut(&mut Writer<'_>, &Opening) -> Result<T>,
        replaced: Option<Replaced>,
    ) -> Result<(T, Opening)> {
        let (mut db, mut opening) = self.open_writable()?;
        if replaced.is_some() {
            opening.fresh = true;
            opening.replaced = replaced;
        }
        let txn = db.begin_write().map_err(|e| Error::store(&self.path, e))?;
        let (value, compact, changed) = {
            let mut writer = Writer::open(&txn, &self.path)?;
            let value = work(&mut writer, &opening)?;
            writer.flush()?;
            (value, writer.compaction_requested(), writer.changed())
        };
        if !changed {
            // Nothing to commit (a rescan of an unchanged tree): the
            // transaction is dropped, which aborts it, and the file keeps
            // its bytes, its generation and its mtime; no write, no fsync.
            drop(txn);
            return Ok((value, opening));
        }
        txn.commit().map_err(|e| Error::store(&self.path, e))?;
        if compact {
            // Rewriting most records in one transaction leaves their old
            // pages free: the file doubles. Compacting then keeps it near
            // the size of what it holds. A failure here loses nothing.
            let _ = db.compact();
        }
        Ok((value, opening))
    }

    /// Runs `work` on a read snapshot under the shared lock.
    ///
    /// # Errors
    ///
    /// [`Error::NoCache`] when the cache was never built; [`Error::Database`],
    /// [`Error::CacheDamaged`] or [`Error::CacheFormat`] when it cannot be
    /// read.
    pub fn read<T>(&self, work: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        catching(|| self.read_locked(work))
            .unwrap_or_else(|panic| Err(Error::cache_damaged(&self.path, panic_message(&panic))))
    }

    fn read_locked<T>(&self, work: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        if !self.exists() {
            return Err(Error::NoCache {
                path: self.path.clone(),
            });
        }
        let shared = CacheLock::acquire(&self.lock_path, LockKind::Shared, self.lock_timeout)?;
        match Self::read_builder().open_read_only(&self.path) {
            Ok(db) => {
                let answer = self.read_snapshot(&db, work);
                // The file is closed before the lock is released: a scanner
                // taking the lock next opens the file for writing, which
                // redb refuses while any reader still has it open.
                drop(db);
                drop(shared);
                answer
            }
            // A crash, or a commit that failed on a full disk, left the file
            // needing repair, which only a writable open does. Read through
            // that same handle: on a disk still full, the repair may not be
            // saved. A file that cannot be opened is an error here, left as
            // it is for the next scan to move aside: a read never replaces
            // the cache.
            Err(DatabaseError::RepairAborted) => {
                drop(shared);
                let exclusive =
                    CacheLock::acquire(&self.lock_path, LockKind::Exclusive, self.lock_timeout)?;
                let db = Self::builder()
                    .open(&self.path)
                    .map_err(|e| Error::store(&self.path, e))?;
                let answer = self.read_snapshot(&db, work);
                drop(db);
                drop(exclusive);
                answer
            }
            Err(e) => Err(Error::store(&self.path, e)),
        }
    }

    fn read_snapshot<T>(
        &self,
        db: &impl ReadableDatabase,
        work: impl FnOnce(&Reader<'_>) -> Result<T>,
    ) -> Result<T> {
        let txn = db.begin_read().map_err(|e| Error::store(&self.path, e))?;
        let reader = Reader::open(&txn, &self.path, &self.records)?;
        self.records.lock().begin(reader.generation()?);
        work(&reader)
    }

    fn builder() -> redb::Builder {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        builder
    }

    fn read_builder() -> redb::Builder {
        let mut builder = Database::builder();
        builder.set_cache_size(READ_CACHE_BYTES);
        builder
    }

    /// Opens (or creates) the file for writing; moves an unusable one aside.
    /// Called with the exclusive lock held.
    fn open_writable(&self) -> Result<(Database, Opening)> {
        let existed = self.exists();
        let mut opening = Opening {
            fresh: !existed,
            replaced: None,
        };
        if existed {
            match Self::builder().open(&self.path) {
                Ok(db) => match writer::format_version(&db, &self.path) {
                    Ok(Some(FORMAT_VERSION)) => return Ok((db, opening)),
                    Ok(Some(version)) => {
                        drop(db);
                        fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))?;
                        opening.replaced = Some(Replaced {
                            why: format!(
                                "written by cache format {version}, this runreg uses {FORMAT_VERSION}"
                            ),
                            moved_to: None,
                        });
                    }
                    Ok(None) => {
                        drop(db);
                        opening.replaced = Some(Replaced {
                            why: "has no runreg format version".to_owned(),
                            moved_to: Some(self.move_aside()?),
                        });
                    }
                    Err(e) => {
                        drop(db);
                        opening.replaced = Some(Replaced {
                            why: e.to_string(),
                            moved_to: Some(self.move_aside()?),
                        });
                    }
                },
                Err(DatabaseError::Storage(redb::StorageError::Io(e))) if is_access_error(&e) => {
                    return Err(Error::io(&self.path, e));
                }
                Err(e @ DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(Error::store(&self.path, e));
                }
                Err(e) => {
                    opening.replaced = Some(Replaced {
                        why: e.to_string(),
                        moved_to: Some(self.move_aside()?),
                    });
                }
            }
            opening.fresh = true;
        }
        // Created here rather than by redb, for its mode; redb initializes
        // the empty file.
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(CREATE_MODE)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        let db = Self::builder()
            .create(&self.path)
            .map_err(|e| Error::store(&self.path, e))?;
        writer::initialize(&db, &self.path)?;
        Ok((db, opening))
    }

    /// Renames the cache file to `<name>.corrupt-<unix time>`; never deletes.
    fn move_aside(&self) -> Result<PathBuf> {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".corrupt-{secs}"));
        let mut aside = PathBuf::from(&name);
        let mut n = 1;
        while aside.exists() {
            aside = PathBuf::from(format!("{}.{n}", name.to_string_lossy()));
            n += 1;
        }
        fs::rename(&self.path, &aside).map_err(|e| Error::io(&self.path, e))?;
        Ok(aside)
    }
}

/// Decodes arbitrary bytes as a record, and as a hot row, and reads the
/// shape of the hot row made of them (for the fuzz targets).
#[cfg(feature = "fuzzing")]
pub(crate) fn decode_for_fuzzing(bytes: &[u8]) -> bool {
    let record = RecordBytes::plain(bytes);
    let hot = record.hot().is_ok();
    let hparams = record.hparams().is_ok();
    let cold = record.cold().is_ok();
    // The bytes as a record (its hot row made of it) and as a hot row.
    let mut kinds = ShapeKinds::default();
    let row = hot_row::hot_row(bytes);
    let _ = RunShape::read(RecordBytes::plain(&row), true, &mut kinds);
    let _ = RunShape::read(record, true, &mut kinds);
    hot && hparams && cold
}

thread_local! {
    /// Set while this thread runs code whose panics the store catches.
    static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work`, catching a panic (redb's, on a damaged file).
fn catching<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    let outer = CATCHING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(work));
    CATCHING.with(|c| c.set(outer));
    result
}

/// Installs a panic hook that stays quiet for the panics the store catches
/// and turns into errors (redb panics on some damaged files), and defers to
/// the previous hook for every other panic. For programs that print their
/// own errors, like the `runreg` command.
pub fn quiet_caught_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !CATCHING.with(|c| c.get()) {
            previous(info);
        }
    }));
}

/// The message of a caught panic.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

fn is_access_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied
            | io::ErrorKind::ReadOnlyFilesystem
            | io::ErrorKind::NotFound
    )
}

#[cfg(test)]
mod tests {
    use crate::ValueMap;

    use proptest::prelude::*;

    use super::*;
    use crate::status::Status;
    use crate::store::view::ValueRef;
    use crate::value::Value;

    fn store(dir: &Path) -> Store {
        Store::new(dir.join("registry.redb"), Duration::from_secs(5))
    }

    fn hot(status: Status, tags: &[&str], updated_at: f64) -> Hot {
        Hot {
            status,
            created_at: 1.0,
            updated_at,
            ended_at: None,
            heartbeat_at: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            summary: ValueMap::new(),
        }
    }

    fn cold() -> Cold {
        Cold {
            run_dir: "/r".into(),
            checkpoint_path: None,
            notes: String::new(),
            config: ValueMap::new(),
        }
    }

    fn stored(hot: Hot, hparams: ValueMap) -> StoredRun {
        StoredRun {
            hot,
            hparams,
            cold: cold(),
        }
    }

    fn op() -> impl Strategy<Value = model::ModelOp> {
        use model::ModelOp;
        prop_oneof![
            6 => (0u8..8, 0u8..6, any::<u8>(), 0u8..4, 0u8..5, proptest::option::of(prop_oneof![-1.0f64..1.0, Just(f64::NAN)]))
                .prop_map(|(id, status, tags, updated, created, metric)| ModelOp::Upsert { id, status, tags, updated, created, metric }),
            2 => (0u8..8).prop_map(|id| ModelOp::Remove { id }),
            1 => Just(ModelOp::Commit),
            1 => Just(ModelOp::Flush),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// After any sequence of upserts and removes, split over several
        /// transactions, the indexes agree with a full decode of the records,
        /// and the records with a plain map.
        #[test]
        fn indexes_always_match_the_records(ops in proptest::collection::vec(op(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            model::check(dir.path(), &ops).map_err(TestCaseError::fail)?;
        }
    }

    /// A run whose hparams are named `names`.
    fn with_hparams(names: &[String]) -> StoredRun {
        let hparams = names.iter().map(|n| (n.as_str(), Value::Int(1))).collect();
        let mut run = stored(hot(Status::Completed, &["t"], 1.0), hparams);
        run.hot.summary.insert("val_acc", Value::Float(0.5));
        run
    }

    fn file_state(size: u64, run_id: &str) -> FileState {
        FileState {
            stamp: FileStamp {
                mtime_ns: 1,
                ctime_ns: 1,
                size,
                inode: 1,
            },
            run_id: Some(run_id.to_owned()),
            invalid: None,
            source: true,
            terminal: true,
            updated_at: 1.0,
            heartbeat_at: None,
        }
    }

    /// While the runs table is empty, rows are held back until the
    /// transaction ends or `flush`; every read of the writer sees them as
    /// written, before and after, and what commits is the same.
    #[test]
    fn a_first_build_reads_back_the_rows_it_holds_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let dir_state = |size| DirState {
            stamp: file_state(size, "-").stamp,
        };
        // Stored before: file and directory states, and no run (every
        // sidecar invalid, say), so the next transaction holds rows back.
        store
            .write(|w, _| {
                w.put_file(b"/old", &file_state(1, "gone"))?;
                w.put_dir(b"/d-old", &dir_state(1))
            })
            .unwrap();
        store
            .write(|w, _| {
                assert!(w.is_empty()?);
                let run = |status, tag: &str| stored(hot(status, &[tag], 5.0), ValueMap::new());
                for flush in [false, true] {
                    w.upsert("r1", &run(Status::Failed, "a"))?;
                    w.upsert("r1", &run(Status::Completed, "b"))?;
                    w.upsert("r2", &run(Status::Completed, "a"))?;
                    assert!(!w.is_empty()?);
                    assert_eq!(w.hot("r1")?.unwrap().tags, ["b"]);
                    assert_eq!(w.record("r2")?.unwrap().hot.status, Status::Completed);
                    assert_eq!(w.run_ids_with_status("completed")?, ["r1", "r2"]);
                    assert!(w.run_ids_with_status("failed")?.is_empty());
                    w.put_file(b"/new", &file_state(2, "r1"))?;
                    w.remove_file(b"/old")?;
                    w.put_dir(b"/d-new", &dir_state(2))?;
                    w.remove_dir(b"/d-old")?;
                    let files = w.files()?;
                    assert_eq!(files.keys().collect::<Vec<_>>(), [b"/new"]);
                    assert_eq!(files[&b"/new"[..]].stamp.size, 2);
                    assert_eq!(w.dirs()?.keys().collect::<Vec<_>>(), [b"/d-new"]);
                    if flush {
                        // Written now: r1 and r2 are replaced in the tables.
                        w.flush()?;
                        w.upsert("r1", &run(Status::Failed, "c"))?;
                        assert_eq!(w.run_ids_with_status("failed")?, ["r1"]);
                        assert!(w.remove("r2")?);
                        assert!(!w.remove("r2")?);
                        w.upsert("r3", &run(Status::Completed, "a"))?;
                    } else {
                        assert!(w.remove("r2")?);
                        assert!(!w.remove("r2")?);
                        assert!(w.record("r2")?.is_none());
                    }
                }
                Ok(())
            })
            .unwrap();
        store
            .read(|r| {
                assert_eq!(r.verify_indexes()?, Vec::<String>::new());
                assert_eq!(r.len()?, 2);
                assert_eq!(r.run_ids_with_tag("c")?, ["r1"]);
                assert_eq!(r.run_ids_with_tag("a")?, ["r3"]);
                assert_eq!(r.run_ids_with_status("completed")?, ["r3"]);
                Ok(())
            })
            .unwrap();
        store
            .write(|w, _| {
                assert_eq!(w.files()?.keys().collect::<Vec<_>>(), [b"/new"]);
                assert_eq!(w.dirs()?.keys().collect::<Vec<_>>(), [b"/d-new"]);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn runs_with_the_same_names_store_them_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let names: Vec<String> = (0..57)
            .map(|i| format!("group{}.hparam_{i}", i % 7))
            .collect();
        let run = with_hparams(&names);
        let (lists, len) = store
            .write(|w, _| {
                for i in 0..100 {
                    w.upsert(&format!("r{i}"), &run)?;
                }
                w.key_lists_and_record_len("r7")
            })
            .unwrap()
            .0;
        // One list of hparam names, one of summary names.
        assert_eq!(lists, 2);
        let plain = codec::encode_record(&run).len();
        let len = len.unwrap();
        assert!(
            len * 3 < plain,
            "{len} bytes stored, {plain} with the names"
        );
        // Read back whole, by a query's borrowed views, and after a rewrite
        // by another transaction (which loads the dictionary again).
        let check = |store: &Store| {
            store
                .read(|r| {
                    let got = r.with_run("r7", |b| Ok(b.whole().unwrap()))?.unwrap();
                    assert_eq!(got, run);
                    let views = r.with_run("r7", |b| Ok(b.hparams_ref().unwrap().len()))?;
                    assert_eq!(views, Some(57));
                    let hot =
                        r.with_hot("r7", |b| {
                            Ok(b.hot_ref(true).unwrap().metric("val_acc")
                                == Some(ValueRef::Float(0.5)))
                        })?;
                    assert_eq!(hot, Some(true));
                    Ok(())
                })
                .unwrap()
        };
        check(&store);
        store.write(|w, _| w.upsert("r8", &run)).unwrap();
        check(&store);
        assert_eq!(
            store
                .write(|w, _| w.key_lists_and_record_len("r8"))
                .unwrap()
                .0
                .0,
            2
        );
    }

    #[test]
    fn past_the_dictionary_cap_names_stay_in_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let n = key_lists::MAX_LISTS as usize + 5;
        store
            .write(|w, _| {
                for i in 0..n {
                    w.upsert(&format!("r{i}"), &with_hparams(&[format!("only_{i}")]))?;
                }
                Ok(())
            })
            .unwrap();
        let (lists, _) = store
            .write(|w, _| w.key_lists_and_record_len("r0"))
            .unwrap()
            .0;
        assert_eq!(lists, u64::from(key_lists::MAX_LISTS));
        store
            .read(|r| {
                for i in [0, n - 1] {
                    let got = r
                        .with_run(&format!("r{i}"), |b| Ok(b.hparams().unwrap()))?
                        .unwrap();
                    assert_eq!(got.keys().collect::<Vec<_>>(), [format!("only_{i}")]);
                }
                assert!(r.verify_indexes()?.is_empty());
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_damaged_key_list_makes_its_records_corrupt_not_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let names: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
        store
            .write(|w, _| w.upsert("r1", &with_hparams(&names)))
            .unwrap();
        // Keys out of order, then not a key list at all.
        for damage in [&codec::encode_plain(&("b", "a"))[..], b"\xff\xff"] {
            store
                .write(|w, _| {
                    // The summary's list and the hparams' (1 and 2).
                    w.put_raw_key_list(1, damage)?;
                    w.put_raw_key_list(2, damage)
                })
                .unwrap();
            let err = store
                .read(|r| {
                    r.with_run("r1", |b| Ok(b.hparams().map_err(|e| r.corrupt("r1", e))))?
                        .unwrap()
                })
                .unwrap_err()
                .to_string();
            assert!(err.contains("run r1") && err.contains("key list"), "{err}");
        }
        // New lists are stored after the damaged one, never over it.
        store
            .write(|w, _| w.upsert("r2", &with_hparams(&["other".to_owned()])))
            .unwrap();
        let got = store
            .read(|r| r.with_run("r2", |b| Ok(b.hparams().unwrap())))
            .unwrap()
            .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["other"]);
        // A record made undecodable so is replaced where it is found, its
        // head naming its key: one record of r1 after, at its new time.
        let mut moved = with_hparams(&["fresh".to_owned()]);
        moved.hot.created_at = 7.0;
        store.write(|w, _| w.upsert("r1", &moved)).unwrap();
        store
            .read(|r| {
                assert_eq!(r.len()?, 2);
                assert_eq!(r.verify_indexes()?, Vec::<String>::new());
                let mut keys = Vec::new();
                r.for_each_run(|key, _| {
                    keys.push((key.order, key.run_id.to_owned()));
                    Ok(())
                })?;
                assert_eq!(keys[0], (run_key::created_order(7.0), "r1".to_owned()));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_cache_of_another_format_version_is_deleted_and_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store
            .write(|w, _| {
                w.upsert(
                    "r",
                    &stored(hot(Status::Running, &[], 1.0), ValueMap::new()),
                )?;
                w.set_meta(
                    "format_version",
                    &codec::encode_plain(&(FORMAT_VERSION + 1)),
                )
            })
            .unwrap();
        let (len, opening) = store.write(|w, _| w.files().map(|f| f.len())).unwrap();
        assert_eq!(len, 0);
        assert!(opening.fresh);
        let replaced = opening.replaced.unwrap();
        let why = &replaced.why;
        assert!(
            why.contains(&format!("cache format {}", FORMAT_VERSION + 1)),
            "{why}"
        );
        assert_eq!(replaced.moved_to, None);
        let beside: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".lock") && !name.ends_with(".turnstile"))
            .collect();
        assert_eq!(beside, ["registry.redb"], "nothing left beside the cache");
        assert_eq!(store.read(|r| r.len()).unwrap(), 0);
    }

    #[test]
    fn garbage_where_the_cache_should_be_is_moved_aside() {
        for garbage in [&b""[..], b"not a database at all", b"SQLite format 3\0"] {
            let dir = tempfile::tempdir().unwrap();
            let store = store(dir.path());
            fs::write(store.path(), garbage).unwrap();
            let ((), opening) = store.write(|_, _| Ok(())).unwrap();
            let aside = opening
                .replaced
                .and_then(|r| r.moved_to)
                .expect("moved aside");
            assert_eq!(fs::read(&aside).unwrap(), garbage);
            assert_eq!(store.read(|r| r.len()).unwrap(), 0);
        }
    }

    #[test]
    fn a_failed_write_leaves_the_previous_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        store
            .write(|w, _| {
                w.upsert(
                    "kept",
                    &stored(hot(Status::Running, &["t"], 1.0), ValueMap::new()),
                )
            })
            .unwrap();
        let failed = store.write(|w, _| {
            w.upsert(
                "lost",
                &stored(hot(Status::Running, &["t"], 1.0), ValueMap::new()),
            )?;
            w.remove("kept")?;
            Err::<(), _>(Error::internal(dir.path(), "abandoned"))
        });
        assert!(failed.is_err());
        let ids = store.read(|r| r.run_ids_with_tag("t")).unwrap();
        assert_eq!(ids, ["kept"]);
    }

    #[test]
    fn records_keep_every_value_type() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut h = hot(Status::Failed, &[], 1.0);
        h.summary.insert("loss", Value::Float(f64::NAN));
        let hparams: ValueMap = [("big".to_owned(), Value::Int(i64::MAX))].into();
        store
            .write(|w, _| w.upsert("r", &stored(h.clone(), hparams.clone())))
            .unwrap();
        let (got_hot, got_hparams) = store
            .read(|r| {
                Ok(
                    r.with_run("r", |b| Ok((b.hot().unwrap(), b.hparams().unwrap())))?
                        .unwrap(),
                )
            })
            .unwrap();
        assert!(got_hot.summary["loss"].as_f64().unwrap().is_nan());
        assert_eq!(got_hparams, hparams);
    }
}
