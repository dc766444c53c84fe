//! Sort keys: what a query orders by, and the order itself.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::value::Value;

/// A column of a run that can be sorted on directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// `run_id`
    RunId,
    /// `status`
    Status,
    /// `created_at`
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
    /// `ended_at`
    EndedAt,
    /// `alive`
    Alive,
    /// `run_dir`
    RunDir,
    /// `checkpoint_path`
    CheckpointPath,
    /// `notes`
    Notes,
}

impl Column {
    /// Every column, by name.
    pub const ALL: [(&'static str, Column); 9] = [
        ("run_id", Column::RunId),
        ("status", Column::Status),
        ("created_at", Column::CreatedAt),
        ("updated_at", Column::UpdatedAt),
        ("ended_at", Column::EndedAt),
        ("alive", Column::Alive),
        ("run_dir", Column::RunDir),
        ("checkpoint_path", Column::CheckpointPath),
        ("notes", Column::Notes),
    ];

    /// The column's name.
    pub fn name(self) -> &'static str {
        Column::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(name, _)| name)
    }
}

/// What to sort runs by.
///
/// Parsed from the reference's syntax: a column name, or `summary.<k>`,
/// `hparams.<k>`, `config.<k>`, where `<k>` is everything after the first
/// dot, taken as one flattened key (`hparams.optim.lr` is the hparam named
/// `optim.lr`; `summary.val/loss` the metric `val/loss`).
///
/// # Examples
///
/// ```
/// use runreg::{Column, SortKey};
///
/// assert_eq!("hparams.optim.lr".parse::<SortKey>().unwrap(), SortKey::Hparam("optim.lr".into()));
/// assert_eq!("created_at".parse::<SortKey>().unwrap(), SortKey::Column(Column::CreatedAt));
/// assert!("summary.".parse::<SortKey>().is_err());
/// assert!("val_acc".parse::<SortKey>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// A column of the run.
    Column(Column),
    /// `summary.<k>`: a metric.
    Summary(String),
    /// `hparams.<k>`: a flattened hyper-parameter.
    Hparam(String),
    /// `config.<k>`: a config entry, nested keys joined by dots.
    Config(String),
}

impl FromStr for SortKey {
    type Err = Error;

    fn from_str(text: &str) -> Result<SortKey, Error> {
        let invalid = |reason: String| Error::InvalidSortKey {
            key: text.to_owned(),
            reason,
        };
        if let Some((_, column)) = Column::ALL.iter().find(|(name, _)| *name == text) {
            return Ok(SortKey::Column(*column));
        }
        let Some((root, key)) = text.split_once('.') else {
            let columns: Vec<&str> = Column::ALL.iter().map(|(name, _)| *name).collect();
            return Err(invalid(format!(
                "expected a column ({}) or summary.<key>, hparams.<key>, config.<key>",
                columns.join(", ")
            )));
        };
        if key.is_empty() {
            return Err(invalid(format!(
                "nothing after `{root}.`: name a key, as in `{root}.val_acc`"
            )));
        }
        match root {
            "summary" => Ok(SortKey::Summary(key.to_owned())),
            "hparams" => Ok(SortKey::Hparam(key.to_owned())),
            "config" => Ok(SortKey::Config(key.to_owned())),
            _ => Err(invalid(format!(
                "`{root}` is not one of summary, hparams, config"
            ))),
        }
    }
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SortKey::Column(c) => f.write_str(c.name()),
            SortKey::Summary(k) => write!(f, "summary.{k}"),
            SortKey::Hparam(k) => write!(f, "hparams.{k}"),
            SortKey::Config(k) => write!(f, "config.{k}"),
        }
    }
}

/// A sort key with its direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SortSpec {
    /// What to sort by.
    pub key: SortKey,
    /// Largest first when `true`.
    pub descending: bool,
}

impl SortSpec {
    /// Largest first.
    pub fn desc(key: SortKey) -> SortSpec {
        SortSpec {
            key,
            descending: true,
        }
    }

    /// Smallest first.
    pub fn asc(key: SortKey) -> SortSpec {
        SortSpec {
            key,
            descending: false,
        }
    }
}

impl FromStr for SortSpec {
    type Err = Error;

    /// `KEY`, `KEY:desc` or `KEY:asc`; descending when no direction is
    /// given.
    ///
    /// ```
    /// use runreg::{SortKey, SortSpec};
    ///
    /// let spec: SortSpec = "summary.val_acc:asc".parse()?;
    /// assert_eq!(spec, SortSpec::asc(SortKey::Summary("val_acc".into())));
    /// let list = SortSpec::parse_list("summary.val_acc:desc, created_at:asc")?;
    /// assert_eq!(list.len(), 2);
    /// # Ok::<(), runreg::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<SortSpec, Error> {
        let text = text.trim();
        if let Some(key) = text.strip_suffix(":asc") {
            return Ok(SortSpec::asc(key.parse()?));
        }
        if let Some(key) = text.strip_suffix(":desc") {
            return Ok(SortSpec::desc(key.parse()?));
        }
        Ok(SortSpec::desc(text.parse()?))
    }
}

impl SortSpec {
    /// A comma-separated list of sort specs, most significant first.
    pub fn parse_list(text: &str) -> Result<Vec<SortSpec>, Error> {
        text.split(',').map(str::parse).collect()
    }
}

impl fmt::Display for SortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.key,
            if self.descending { "desc" } else { "asc" }
        )
    }
}

/// Orders two runs' values for one sort spec: missing values (absent,
/// `null`, `NaN`) last in both directions, present ones by
/// [`Value::sort_cmp`], reversed when descending.
pub(crate) fn compare(a: Option<&Value>, b: Option<&Value>, descending: bool) -> Ordering {
    let a = a.filter(|v| !v.is_missing());
    let b = b.filter(|v| !v.is_missing());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) if descending => b.sort_cmp(a),
        (Some(a), Some(b)) => a.sort_cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_after_the_first_dot_is_one_key() {
        assert_eq!(
            "summary.val.acc".parse::<SortKey>().unwrap(),
            SortKey::Summary("val.acc".into())
        );
        assert_eq!(
            "config.a.b.c".parse::<SortKey>().unwrap(),
            SortKey::Config("a.b.c".into())
        );
        assert_eq!(
            "summary.val/loss".parse::<SortKey>().unwrap(),
            SortKey::Summary("val/loss".into())
        );
    }

    #[test]
    fn every_column_parses_and_prints_back() {
        for (name, column) in Column::ALL {
            let key: SortKey = name.parse().unwrap();
            assert_eq!(key, SortKey::Column(column));
            assert_eq!(key.to_string(), name);
        }
    }

    #[test]
    fn malformed_keys_say_what_is_expected() {
        let err = "metrics.acc".parse::<SortKey>().unwrap_err().to_string();
        assert!(err.contains("not one of summary, hparams, config"), "{err}");
        let err = "hparams.".parse::<SortKey>().unwrap_err().to_string();
        assert!(err.contains("nothing after `hparams.`"), "{err}");
        let err = "acc".parse::<SortKey>().unwrap_err().to_string();
        assert!(err.contains("expected a column"), "{err}");
    }

    #[test]
    fn missing_and_nan_sort_last_in_both_directions() {
        let one = Value::Float(1.0);
        let nan = Value::Float(f64::NAN);
        for descending in [true, false] {
            assert_eq!(compare(Some(&one), None, descending), Ordering::Less);
            assert_eq!(compare(Some(&one), Some(&nan), descending), Ordering::Less);
            assert_eq!(
                compare(Some(&Value::Null), Some(&one), descending),
                Ordering::Greater
            );
            assert_eq!(compare(None, Some(&nan), descending), Ordering::Equal);
        }
        assert_eq!(
            compare(Some(&one), Some(&Value::Int(2)), true),
            Ordering::Greater
        );
        assert_eq!(
            compare(Some(&one), Some(&Value::Int(2)), false),
            Ordering::Less
        );
    }
}
