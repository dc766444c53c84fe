//! [`RunRecord`]: one run as the registry answers it.

use serde::Serialize;

use crate::status::Status;
use crate::value::{Value, serialize_f64, serialize_opt_f64};
use crate::value_map::ValueMap;

/// One training run, as read from its sidecar and cached.
///
/// The fields are the reference registry's `RunRecord` plus `ended_at`; its
/// JSON form (`runreg ls --json`) has exactly these fields, with non-finite
/// floats written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// The sidecar's `run_id`.
    pub run_id: String,
    /// The sidecar's status, or `orphaned` once its sidecar is gone.
    pub status: Status,
    /// Epoch seconds the run was created (the sidecar file's mtime when the
    /// sidecar does not say).
    #[serde(serialize_with = "serialize_f64")]
    pub created_at: f64,
    /// Epoch seconds of the sidecar's last write.
    #[serde(serialize_with = "serialize_f64")]
    pub updated_at: f64,
    /// Epoch seconds the run ended, once finished.
    #[serde(serialize_with = "serialize_opt_f64")]
    pub ended_at: Option<f64>,
    /// Whether the run is alive: not terminal and a fresh heartbeat
    /// (see [`Liveness`](crate::Liveness)).
    pub alive: bool,
    /// The directory where the sidecar was found (not the path the sidecar
    /// stores, which goes stale when a tree is moved).
    pub run_dir: String,
    /// Path of the best or last checkpoint, if any.
    pub checkpoint_path: Option<String>,
    /// The sidecar's `config` object, nested as written.
    pub config: ValueMap,
    /// Flattened hyper-parameters (`optim.lr`, `layers.0`).
    pub hparams: ValueMap,
    /// Last logged value of each metric.
    pub summary: ValueMap,
    /// Tags, in the sidecar's order.
    pub tags: Vec<String>,
    /// Free text.
    pub notes: String,
    /// Epoch seconds of the heartbeat file's mtime at the last scan; `None`
    /// when the run has no heartbeat file.
    #[serde(skip)]
    pub heartbeat_at: Option<f64>,
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
    fn json_form_has_exactly_the_record_fields() {
        let record = RunRecord {
            run_id: "r1".into(),
            status: Status::Failed,
            created_at: 1.5,
            updated_at: 2.0,
            ended_at: None,
            alive: false,
            run_dir: "/c/runs/r1".into(),
            checkpoint_path: None,
            config: ValueMap::new(),
            hparams: ValueMap::new(),
            summary: [("loss".to_owned(), Value::Float(f64::NAN))].into(),
            tags: vec!["a".into()],
            notes: String::new(),
            heartbeat_at: Some(3.0),
        };
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            r#"{"run_id":"r1","status":"failed","created_at":1.5,"updated_at":2.0,"ended_at":null,"alive":false,"run_dir":"/c/runs/r1","checkpoint_path":null,"config":{},"hparams":{},"summary":{"loss":"NaN"},"tags":["a"],"notes":""}"#
        );
    }
}
