//! [`Snapshot`]: the cache held open for a batch of reads.

use crate::error::Result;
use crate::query::{self, Context, Query};
use crate::record::RunRecord;
use crate::store::{Reader, RunKey, RunView};

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

    /// The runs matching `query`, from this one snapshot, a chunk of
    /// `chunk` records at a time, each turned into a `T` by `render` on one
    /// of `threads` threads and taken in order by `visit`, as
    /// [`Registry::stream_rendered`](crate::Registry::stream_rendered) does;
    /// returns how many runs.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for id in ["a", "b", "c"] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let by_id = Query::new().sort(SortSpec::asc("run_id".parse()?));
    /// let mut text = String::new();
    /// registry.read(|snapshot| {
    ///     let render = |runs: Vec<runreg::RunRecord>| {
    ///         Ok(runs.iter().map(|r| format!("{}\n", r.run_id)).collect::<String>())
    ///     };
    ///     snapshot.stream_rendered(&by_id, 2, 2, render, |lines| {
    ///         text.push_str(&lines);
    ///         Ok(())
    ///     })
    /// })?;
    /// assert_eq!(text, "a\nb\nc\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_rendered<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        render: impl Fn(Vec<RunRecord>) -> Result<T> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        let page = query::page(self.reader, query, &self.ctx)?;
        let in_one_pass = page.reads_in_one_pass();
        let read = |runs: &[RunKey<'_>]| {
            let (ctx, detail) = (&self.ctx, query.detail);
            render(query::fetch(self.reader, runs, ctx, detail, in_one_pass)?)
        };
        query::map_page_in_order(&page, chunk, threads, read, visit)
    }

    /// The runs matching `query` as [`RunView`]s, from this one snapshot:
    /// as [`Registry::stream_views`](crate::Registry::stream_views), each
    /// chunk of `chunk` runs made on one of `threads` threads by `start` and
    /// `render`, and taken in order by `visit`; returns how many runs. For
    /// a file that must hold one state of the cache.
    ///
    /// ```
    /// # fn main() -> runreg::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for id in ["a", "b", "c"] {
    /// #     let run = dir.path().join("runs/20261101/120000").join(id);
    /// #     std::fs::create_dir_all(&run).unwrap();
    /// #     std::fs::write(run.join("sidecar.json"), format!(r#"{{"run_id": "{id}"}}"#)).unwrap();
    /// # }
    /// use runreg::{Query, Registry, SortSpec};
    ///
    /// let registry = Registry::open(dir.path())?;
    /// let by_id = Query::new().sort(SortSpec::asc("run_id".parse()?));
    /// let mut ids = Vec::new();
    /// registry.read(|snapshot| {
    ///     snapshot.stream_views(&by_id, 2, 2, Vec::new, |chunk, run| {
    ///         chunk.push(run.run_id().to_owned());
    ///         Ok(())
    ///     }, |chunk| {
    ///         ids.extend(chunk);
    ///         Ok(())
    ///     })
    /// })?;
    /// assert_eq!(ids, ["a", "b", "c"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_views<T: Send>(
        &self,
        query: &Query,
        chunk: usize,
        threads: usize,
        start: impl Fn() -> T + Sync,
        render: impl Fn(&mut T, &RunView<'_>) -> Result<()> + Sync,
        visit: impl FnMut(T) -> Result<()>,
    ) -> Result<usize> {
        let page = query::page(self.reader, query, &self.ctx)?;
        let in_one_pass = page.reads_in_one_pass();
        let read = |runs: &[RunKey<'_>]| {
            let (ctx, detail) = (&self.ctx, query.detail);
            query::render_views(self.reader, runs, ctx, detail, in_one_pass, &start, &render)
        };
        query::map_page_in_order(&page, chunk, threads, read, visit)
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
