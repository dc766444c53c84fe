//! [`Field`]: what a run has, by name. Sort keys, filter fields and the
//! command line's output columns are all fields; this file alone parses,
//! prints and reads them from a [`RunRecord`].

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::record::RunRecord;
use crate::value::Value;
use crate::value_map::ValueMap;

/// A field of a run: one of its columns, its tags, or one key of its
/// summary, hparams or config.
///
/// Written as the column's name (`run_id`, `created_at`, ...), `tags`, or
/// `summary.<k>`, `hparams.<k>`, `config.<k>`, where `<k>` is everything
/// after the first dot, taken as one flattened key: `hparams.optim.lr` is
/// the hparam named `optim.lr`, `summary.val/loss` the metric `val/loss`. A
/// key may also be written in backticks (``summary.`top-1 acc` ``), as the
/// filter language requires for keys with spaces and other characters.
///
/// # Examples
///
/// ```
/// use runreg::Field;
///
/// let lr: Field = "hparams.optim.lr".parse()?;
/// assert_eq!(lr, Field::Hparam("optim.lr".into()));
/// assert_eq!(lr.to_string(), "hparams.optim.lr");
/// assert_eq!("created_at".parse::<Field>()?, Field::CreatedAt);
/// assert_eq!("summary.`top-1 acc`".parse::<Field>()?, Field::Summary("top-1 acc".into()));
///
/// let err = "val_acc".parse::<Field>().unwrap_err();
/// assert!(err.to_string().contains("summary.val_acc"), "{err}");
/// # Ok::<(), runreg::FieldError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Field {
    /// `run_id`
    RunId,
    /// `status`
    Status,
    /// `alive`
    Alive,
    /// `created_at`, epoch seconds.
    CreatedAt,
    /// `updated_at`, epoch seconds.
    UpdatedAt,
    /// `ended_at`, epoch seconds; absent while the run has not ended.
    EndedAt,
    /// `run_dir`
    RunDir,
    /// `checkpoint_path`; absent when the run names none.
    CheckpointPath,
    /// `notes`: free text, empty when the run has none.
    Notes,
    /// `tags`: the run's list of tags.
    Tags,
    /// `summary.<k>`: a metric.
    Summary(String),
    /// `hparams.<k>`: a flattened hyper-parameter.
    Hparam(String),
    /// `config.<k>`: a config entry, nested keys joined by dots.
    Config(String),
}

/// The part of a stored record a field is read from; a query decodes only
/// the parts its fields name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Run id, status, liveness, times: the start of the hot section,
    /// always decoded.
    Head,
    /// Tags and summary: the rest of the hot section.
    Hot,
    /// The hparams map.
    Hparams,
    /// Paths, notes, config.
    Cold,
}

impl Field {
    /// The fields that are not keys of a map, by name, in the order the
    /// documentation lists them.
    pub const COLUMNS: [(&'static str, Field); 10] = [
        ("run_id", Field::RunId),
        ("status", Field::Status),
        ("alive", Field::Alive),
        ("tags", Field::Tags),
        ("notes", Field::Notes),
        ("run_dir", Field::RunDir),
        ("checkpoint_path", Field::CheckpointPath),
        ("created_at", Field::CreatedAt),
        ("updated_at", Field::UpdatedAt),
        ("ended_at", Field::EndedAt),
    ];

    /// Every root a field can have: the columns' names, then the map
    /// prefixes (`summary.` ...), for messages and suggestions.
    pub fn roots() -> impl Iterator<Item = &'static str> + Clone {
        Field::COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .chain(Field::MAPS)
    }

    /// The prefixes of the map fields, dot included.
    pub const MAPS: [&'static str; 3] = ["summary.", "hparams.", "config."];

    /// The field's root: a column's name, or `summary`, `hparams`,
    /// `config`.
    pub fn root(&self) -> &'static str {
        match self {
            Field::Summary(_) => "summary",
            Field::Hparam(_) => "hparams",
            Field::Config(_) => "config",
            column => Field::COLUMNS
                .iter()
                .find(|(_, c)| c == column)
                .map_or("?", |(name, _)| name),
        }
    }

    /// The key of a map field (`val_acc` of `summary.val_acc`).
    pub fn key(&self) -> Option<&str> {
        match self {
            Field::Summary(k) | Field::Hparam(k) | Field::Config(k) => Some(k),
            _ => None,
        }
    }

    /// Whether the field holds epoch seconds (and so takes dates and
    /// relative times in filters).
    pub fn is_time(&self) -> bool {
        matches!(self, Field::CreatedAt | Field::UpdatedAt | Field::EndedAt)
    }

    /// Whether runs can be sorted by the field: every field but `tags`.
    pub fn is_sortable(&self) -> bool {
        *self != Field::Tags
    }

    /// The part of a stored record the field is read from.
    pub(crate) fn part(&self) -> Part {
        match self {
            Field::Hparam(_) => Part::Hparams,
            Field::Config(_) | Field::RunDir | Field::CheckpointPath | Field::Notes => Part::Cold,
            Field::Tags | Field::Summary(_) => Part::Hot,
            Field::RunId
            | Field::Status
            | Field::Alive
            | Field::CreatedAt
            | Field::UpdatedAt
            | Field::EndedAt => Part::Head,
        }
    }

    /// The run's value of the field; `None` when the run does not have it
    /// (an absent key, no `ended_at` or `checkpoint_path` yet). Times are epoch seconds as floats, `tags` a list of strings.
    /// `config.<k>` finds nested entries: `config.optim.lr` reads
    /// `{"optim": {"lr": ..}}`.
    ///
    /// ```
    /// use runreg::{Field, RunRecord, Value};
    ///
    /// # fn check(run: &RunRecord) -> Result<(), runreg::FieldError> {
    /// let acc = "summary.val_acc".parse::<Field>()?;
    /// if let Some(value) = acc.get(run) {
    ///     println!("{}: {value}", run.run_id);
    /// }
    /// assert_eq!(Field::RunId.get(run).as_deref(), Some(&Value::from(run.run_id.as_str())));
    /// # Ok(())
    /// # }
    /// ```
    pub fn get<'r>(&self, run: &'r RunRecord) -> Option<Cow<'r, Value>> {
        let owned = |v: Value| Some(Cow::Owned(v));
        match self {
            Field::RunId => owned(Value::from(run.run_id.as_str())),
            Field::Status => owned(Value::from(run.status.as_str())),
            Field::Alive => owned(Value::Bool(run.alive)),
            Field::CreatedAt => owned(Value::Float(run.created_at)),
            Field::UpdatedAt => owned(Value::Float(run.updated_at)),
            Field::EndedAt => owned(Value::Float(run.ended_at?)),
            Field::RunDir => owned(Value::from(run.run_dir.as_str())),
            Field::CheckpointPath => owned(Value::from(run.checkpoint_path.as_deref()?)),
            Field::Notes => owned(Value::from(run.notes.as_str())),
            Field::Tags => owned(Value::List(
                run.tags.iter().map(|t| Value::from(t.as_str())).collect(),
            )),
            Field::Summary(k) => run.summary.get(k).map(Cow::Borrowed),
            Field::Hparam(k) => run.hparams.get(k).map(Cow::Borrowed),
            Field::Config(k) => lookup_nested(&run.config, k).map(Cow::Borrowed),
        }
    }
}

impl FromStr for Field {
    type Err = FieldError;

    fn from_str(text: &str) -> Result<Field, FieldError> {
        match text.split_once('.') {
            Some((root, key)) if key.len() >= 2 && key.starts_with('`') && key.ends_with('`') => {
                Field::parse_literal(&format!("{root}.{}", &key[1..key.len() - 1])).map_err(|e| {
                    FieldError {
                        field: text.to_owned(),
                        ..e
                    }
                })
            }
            _ => Field::parse_literal(text),
        }
    }
}

impl Field {
    /// Parses a name whose key is everything after the first dot, as it is
    /// (no backticks taken off): the filter parser's lexer has already
    /// unquoted it.
    pub(crate) fn parse_literal(text: &str) -> Result<Field, FieldError> {
        let invalid = |reason: String| FieldError {
            field: text.to_owned(),
            reason,
        };
        if let Some((_, field)) = Field::COLUMNS.iter().find(|(name, _)| *name == text) {
            return Ok(field.clone());
        }
        let Some((root, key)) = text.split_once('.') else {
            let names: Vec<&str> = Field::COLUMNS.iter().map(|(name, _)| *name).collect();
            return Err(invalid(format!(
                "expected one of {}, or summary.<key>, hparams.<key>, config.<key> (a metric: summary.{text})",
                names.join(", ")
            )));
        };
        if key.is_empty() {
            return Err(invalid(format!(
                "nothing after `{root}.`: name a key, as in `{root}.val_acc`"
            )));
        }
        match root {
            "summary" => Ok(Field::Summary(key.to_owned())),
            "hparams" => Ok(Field::Hparam(key.to_owned())),
            "config" => Ok(Field::Config(key.to_owned())),
            _ => Err(invalid(format!(
                "`{root}` is not one of summary, hparams, config"
            ))),
        }
    }
}

impl fmt::Display for Field {
    /// The field's name as it parses back: `summary.val_acc`, `created_at`.
    /// Keys are written as they are (no backticks).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key() {
            Some(key) => write!(f, "{}.{key}", self.root()),
            None => f.write_str(self.root()),
        }
    }
}

/// A field name that runreg cannot interpret, or a field that cannot serve
/// where it was named (`tags` as a sort key).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid field {field:?}: {reason}")]
#[non_exhaustive]
pub struct FieldError {
    /// The name as given.
    pub field: String,
    /// Why it was refused, and what would be accepted.
    pub reason: String,
}

/// Looks `key` up in a possibly nested map: an exact key first, else the key
/// split at a dot into an object key and the rest, recursively (array items
/// by index). This is how `config.optim.lr` finds `{"optim": {"lr": ..}}`.
pub(crate) fn lookup_nested<'a>(map: &'a ValueMap, key: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    key.match_indices('.').find_map(|(dot, _)| {
        let child = map.get(&key[..dot])?;
        lookup_in_value(child, &key[dot + 1..])
    })
}

fn lookup_in_value<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let split = std::iter::once(key.len()).chain(key.match_indices('.').map(|(i, _)| i));
    for end in split {
        let (head, rest) = (&key[..end], key.get(end + 1..));
        let child = match value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k == head)
                .map(|(_, v)| v),
            Value::List(items) => head.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match (child, rest) {
            (Some(v), None) => return Some(v),
            (Some(v), Some(rest)) => {
                if let Some(found) = lookup_in_value(v, rest) {
                    return Some(found);
                }
            }
            (None, _) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    fn config() -> ValueMap {
        let mut map = ValueMap::new();
        map.insert(
            "optim",
            Value::Map(vec![
                ("lr".to_owned(), Value::Float(0.1)),
                (
                    "betas".to_owned(),
                    Value::List(vec![Value::Float(0.9), Value::Float(0.99)]),
                ),
            ]),
        );
        map.insert("data.name", Value::Str("cifar".into()));
        map
    }

    fn run() -> RunRecord {
        RunRecord {
            run_id: "r1".into(),
            status: Status::Failed,
            created_at: 1.5,
            updated_at: 2.0,
            ended_at: None,
            alive: false,
            run_dir: "/c/runs/r1".into(),
            checkpoint_path: Some("/c/ckpt".into()),
            config: config(),
            hparams: [("optim.lr".to_owned(), Value::Float(0.1))].into(),
            summary: [("val/loss".to_owned(), Value::Float(f64::NAN))].into(),
            tags: vec!["a".into(), "sweep:1".into()],
            notes: String::new(),
            heartbeat_at: Some(3.0),
        }
    }

    #[test]
    fn nested_lookup_descends_objects_and_arrays() {
        let c = config();
        assert_eq!(lookup_nested(&c, "optim.lr"), Some(&Value::Float(0.1)));
        assert_eq!(
            lookup_nested(&c, "optim.betas.1"),
            Some(&Value::Float(0.99))
        );
        assert_eq!(
            lookup_nested(&c, "data.name"),
            Some(&Value::Str("cifar".into()))
        );
        assert_eq!(lookup_nested(&c, "optim.wd"), None);
        assert_eq!(lookup_nested(&c, "optim.betas.7"), None);
    }

    #[test]
    fn every_column_parses_and_prints_back() {
        for (name, field) in Field::COLUMNS {
            assert_eq!(name.parse::<Field>().unwrap(), field);
            assert_eq!(field.to_string(), name);
            assert_eq!(field.root(), name);
        }
    }

    #[test]
    fn everything_after_the_first_dot_is_one_key() {
        for (text, field) in [
            ("summary.val.acc", Field::Summary("val.acc".into())),
            ("config.a.b.c", Field::Config("a.b.c".into())),
            ("summary.val/loss", Field::Summary("val/loss".into())),
            ("hparams.optim.lr", Field::Hparam("optim.lr".into())),
            ("summary.`top-1 acc`", Field::Summary("top-1 acc".into())),
            ("summary.top-1 acc", Field::Summary("top-1 acc".into())),
        ] {
            assert_eq!(text.parse::<Field>().unwrap(), field, "{text}");
            assert_eq!(field.to_string().parse::<Field>().unwrap(), field);
        }
    }

    #[test]
    fn malformed_names_say_what_is_expected() {
        let err = |text: &str| text.parse::<Field>().unwrap_err().to_string();
        assert!(err("metrics.acc").contains("not one of summary, hparams, config"));
        assert!(err("hparams.").contains("nothing after `hparams.`"));
        assert!(err("hparams.``").contains("nothing after `hparams.`"));
        let bare = err("acc");
        assert!(bare.contains("expected one of run_id,"), "{bare}");
        assert!(bare.contains("(a metric: summary.acc)"), "{bare}");
    }

    #[test]
    fn get_reads_every_field_of_a_record() {
        let run = run();
        let get = |text: &str| {
            text.parse::<Field>()
                .unwrap()
                .get(&run)
                .map(Cow::into_owned)
        };
        assert_eq!(get("run_id"), Some(Value::from("r1")));
        assert_eq!(get("status"), Some(Value::from("failed")));
        assert_eq!(get("alive"), Some(Value::Bool(false)));
        assert_eq!(get("created_at"), Some(Value::Float(1.5)));
        assert_eq!(get("updated_at"), Some(Value::Float(2.0)));
        assert_eq!(get("ended_at"), None);
        assert_eq!(get("run_dir"), Some(Value::from("/c/runs/r1")));
        assert_eq!(get("checkpoint_path"), Some(Value::from("/c/ckpt")));
        assert_eq!(get("notes"), Some(Value::from("")));
        assert_eq!(
            get("tags"),
            Some(Value::List(vec![Value::from("a"), Value::from("sweep:1")]))
        );
        assert!(matches!(get("summary.val/loss"), Some(Value::Float(x)) if x.is_nan()));
        assert_eq!(get("summary.val"), None);
        assert_eq!(get("hparams.optim.lr"), Some(Value::Float(0.1)));
        assert_eq!(get("config.optim.betas.0"), Some(Value::Float(0.9)));
        assert_eq!(get("config.data.name"), Some(Value::from("cifar")));
        assert_eq!(get("config.nope"), None);
    }

    #[test]
    fn only_tags_cannot_be_sorted_and_only_times_are_times() {
        for (_, field) in Field::COLUMNS {
            assert_eq!(field.is_sortable(), field != Field::Tags);
            assert_eq!(
                field.is_time(),
                matches!(field, Field::CreatedAt | Field::UpdatedAt | Field::EndedAt)
            );
        }
        assert!(Field::Summary("x".into()).is_sortable());
    }
}
