//! Queries: which runs to return, in which order, how many.

#[cfg(any(feature = "arrow", test))]
mod copied;
mod exec;
mod fetch;
pub(crate) mod filter;
mod in_order;
mod keys;
mod page;
mod sort;
mod top;

pub use crate::value_kinds::ValueKinds;
pub(crate) use exec::{for_each, page, page_and_keys, run, run_counted};
pub(crate) use fetch::get;
pub(crate) use fetch::{fetch, render_views};
pub use filter::{CmpOp, Filter, FilterError, Literal, TimeLiteral};
#[cfg(feature = "arrow")]
pub(crate) use in_order::cores;
pub(crate) use in_order::map_page_in_order;
pub use keys::AnswerKeys;
pub use sort::SortSpec;
#[cfg(feature = "arrow")]
pub(crate) use {copied::CopiedRecords, fetch::is_dense};
#[cfg(feature = "arrow")]
pub(crate) use {in_order::map_in_order, page::Page};

use crate::field::{Field, Part};
use crate::liveness::Liveness;
use crate::status::Status;
use crate::value::Value;

/// What liveness is judged against while a query runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context {
    pub liveness: Liveness,
    /// Epoch seconds.
    pub now: f64,
}

/// A question about the runs: filters (all must hold), a sort, a page.
///
/// Every filter is applied before `offset` and `limit`. Tag and status
/// filters go through the cache's indexes; tags match exactly (no
/// wildcards). Sorting puts runs that lack the key, or hold `null` or `NaN`
/// there, last in both directions, and breaks ties by run_id ascending.
/// With no sort key, runs come newest first (created_at descending).
///
/// # Examples
///
/// ```
/// use runreg::{Query, SortSpec, Status};
///
/// // The five best completed runs of sweep 12345 by validation accuracy.
/// let query = Query::new()
///     .tag("sweep:12345")
///     .status(Status::Completed)
///     .sort(SortSpec::desc("summary.val_acc".parse()?))
///     .limit(5);
/// assert_eq!(query.limit, Some(5));
/// # Ok::<(), runreg::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Query {
    /// Only runs carrying this tag (exact match).
    pub tag: Option<String>,
    /// Only runs in this status.
    pub status: Option<Status>,
    /// Only runs that are (or are not) alive.
    pub alive: Option<bool>,
    /// Only runs whose hparams hold each of these values (numeric-aware:
    /// `1` matches `1.0`).
    pub hparams: Vec<(String, Value)>,
    /// Only runs the expression holds for (see [`Filter`]).
    pub filter: Option<Filter>,
    /// Sort keys, most significant first; run_id breaks the remaining ties.
    pub sort: Vec<SortSpec>,
    /// Runs to skip after sorting.
    pub offset: usize,
    /// Most runs to return.
    pub limit: Option<usize>,
    /// What each record of the answer carries.
    pub detail: Detail,
}

/// What each record of an answer carries: every field, or the fields a
/// scan keeps apart for filters and sorts, read from a fraction of the
/// bytes (the hot table).
///
/// Which runs match, and in which order, is the same either way; filters
/// and sorts on any field still apply.
///
/// ```
/// use runreg::{Detail, Query};
///
/// // For a table of ids, statuses and metrics.
/// let query = Query::new().detail(Detail::Summary);
/// assert_eq!(query.detail, Detail::Summary);
/// assert_eq!(Query::new().detail, Detail::Full);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detail {
    /// Every field (the default).
    #[default]
    Full,
    /// `run_id`, `status`, `alive`, `created_at`, `updated_at`,
    /// `ended_at`, `heartbeat_at`, `tags` and `summary`; `hparams` and
    /// `config` are left empty, `run_dir` and `notes` empty strings,
    /// `checkpoint_path` `None`.
    Summary,
}

impl Detail {
    /// Whether records of this detail hold `field`.
    ///
    /// ```
    /// use runreg::{Detail, Field};
    ///
    /// assert!(Detail::Summary.carries(&"summary.val_acc".parse::<Field>()?));
    /// assert!(!Detail::Summary.carries(&"hparams.optim.lr".parse::<Field>()?));
    /// assert!(!Detail::Summary.carries(&Field::RunDir));
    /// assert!(Detail::Full.carries(&Field::RunDir));
    /// # Ok::<(), runreg::FieldError>(())
    /// ```
    pub fn carries(self, field: &Field) -> bool {
        match self {
            Detail::Full => true,
            Detail::Summary => matches!(field.part(), Part::Head | Part::Hot),
        }
    }
}

impl Query {
    /// A query for every run, newest first.
    pub fn new() -> Query {
        Query::default()
    }

    /// Keeps runs carrying `tag`.
    pub fn tag(mut self, tag: impl Into<String>) -> Query {
        self.tag = Some(tag.into());
        self
    }

    /// Keeps runs in `status`.
    pub fn status(mut self, status: Status) -> Query {
        self.status = Some(status);
        self
    }

    /// Keeps runs that are alive (`true`) or not (`false`).
    pub fn alive(mut self, alive: bool) -> Query {
        self.alive = Some(alive);
        self
    }

    /// Keeps runs whose hparam `key` equals `value`.
    pub fn hparam(mut self, key: impl Into<String>, value: impl Into<Value>) -> Query {
        self.hparams.push((key.into(), value.into()));
        self
    }

    /// Keeps runs `filter` holds for; a second call ANDs with the first.
    ///
    /// ```
    /// use runreg::{Filter, Query};
    ///
    /// let q = Query::new().filter(Filter::parse("summary.val_acc > 0.8 and tags has 'dino'")?);
    /// # Ok::<(), runreg::FilterError>(())
    /// ```
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(match self.filter.take() {
            Some(existing) => Filter::And(Box::new(existing), Box::new(filter)),
            None => filter,
        });
        self
    }

    /// Adds a sort key after those already given.
    pub fn sort(mut self, spec: SortSpec) -> Query {
        self.sort.push(spec);
        self
    }

    /// Skips the first `offset` runs of the sorted result.
    pub fn offset(mut self, offset: usize) -> Query {
        self.offset = offset;
        self
    }

    /// Makes each record of the answer carry `detail` (see [`Detail`]).
    pub fn detail(mut self, detail: Detail) -> Query {
        self.detail = detail;
        self
    }

    /// Returns at most `limit` runs.
    pub fn limit(mut self, limit: usize) -> Query {
        self.limit = Some(limit);
        self
    }
}
