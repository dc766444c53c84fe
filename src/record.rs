//! [`RunRecord`]: one run as the registry answers it.

use serde::Serialize;

use crate::status::Status;
use crate::value::{serialize_f64, serialize_opt_f64};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

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
