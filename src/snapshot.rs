//! [`Snapshot`]: the cache held open for a batch of reads.

use crate::error::Result;
use crate::query::{self, Context, Query};
use crate::record::RunRecord;
use crate::store::Reader;

/// One consistent view of the cache, open for the length of
/// [`Registry::read`](crate::Registry::read).
///
/// Each call on a [`Registry`](crate::Registry) opens the cache, reads and
/// closes it, so that other processes can take their turn; a snapshot
/// opens it once for many lookups (a dashboard's page, a script's loop), at
/// a few microseconds each, and every answer comes from the same state of
/// the cache. Scans by other processes wait while a snapshot is open: keep
/// it short.
///
/// Records looked up by id ([`Snapshot::get`], [`Registry::get`]) are kept
/// by the registry (up to 16 MiB) for later snapshots, as SQLite keeps its
/// pages between transactions: every write to the cache, by any process,
/// stamps it anew, and a snapshot that finds another stamp drops them.
///
/// [`Registry::get`]: crate::Registry::get
///
/// # Examples
///
/// ```
/// # fn main() -> runreg::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # for id in ["a", "b"] {
/// #     let run = dir.path().join("runs/20261101/120000").join(id);
/// #     std::fs::create_dir_all(&run).unwrap();
/// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
/// # }
/// use runreg::{Query, Registry};
///
/// let registry = Registry::open(dir.path())?;
/// let found = registry.read(|snapshot| {
///     let mut found = 0;
///     for id in ["a", "b", "c"] {
///         found += usize::from(snapshot.get(id)?.is_some());
///     }
///     Ok(found)
/// })?;
/// assert_eq!(found, 2);
/// # Ok(())
/// # }
/// ```
pub struct Snapshot<'a> {
    reader: &'a Reader<'a>,
    ctx: Context,
}

impl<'a> Snapshot<'a> {
    pub(crate) fn new(reader: &'a Reader<'a>, ctx: Context) -> Snapshot<'a> {
        Snapshot { reader, ctx }
    }

    /// The run `run_id`, or `None`.
    pub fn get(&self, run_id: &str) -> Result<Option<RunRecord>> {
        query::get(self.reader, run_id, &self.ctx)
    }

    /// The runs matching `query`, sorted and paged.
    pub fn query(&self, query: &Query) -> Result<Vec<RunRecord>> {
        query::run(self.reader, query, &self.ctx)
    }

    /// Calls `visit` with each run matching `query`, in the query's order;
    /// returns how many. Unlike [`Snapshot::query`], the records are
    /// materialized a thousand at a time, so a million runs can be exported
    /// without holding them all; an error from `visit` stops the pass.
    pub fn for_each(
        &self,
        query: &Query,
        visit: impl FnMut(RunRecord) -> Result<()>,
    ) -> Result<usize> {
        query::for_each(self.reader, query, &self.ctx, visit)
    }

    /// Number of runs in the cache.
    pub fn len(&self) -> Result<usize> {
        Ok(self.reader.len()? as usize)
    }

    /// Whether the cache holds no run.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
