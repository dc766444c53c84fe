//! The on-disk format: reading `sidecar.json` as stable-pretraining writes it
//! (docs/FORMAT.md §2).

mod json;

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use crate::status::Status;
use crate::value::Value;
use crate::value_map::{MapKind, ValueMap};
use json::Member;

pub use json::{JsonError, parse_value};
pub(crate) use json::{write_python_float, write_python_json, write_python_layout};

/// The file name of a run's sidecar.
pub const SIDECAR_NAME: &str = "sidecar.json";
/// The file name of a run's heartbeat (only its mtime matters).
pub const HEARTBEAT_NAME: &str = "heartbeat";
/// Sidecars larger than this are rejected without being read.
pub const MAX_SIDECAR_BYTES: u64 = 16 * 1024 * 1024;

/// The contents of one `sidecar.json` (schema_version 1), validated.
///
/// Optional fields take the reference's defaults: status `running`, empty
/// tags, hparams, summary, config and notes. `created_at` and `updated_at`
/// stay `None` when absent: the scanner fills them from the file's mtime.
#[derive(Clone, Debug, PartialEq)]
pub struct Sidecar {
    /// `schema_version`, when present.
    pub schema_version: Option<i64>,
    /// The run's id: a non-empty string.
    pub run_id: String,
    /// `run_dir` as stored at write time (goes stale when trees move; the
    /// scanner records where it found the file instead).
    pub run_dir: Option<String>,
    /// `status`; missing, null or empty means `running`.
    pub status: Status,
    /// `created_at`, epoch seconds.
    pub created_at: Option<f64>,
    /// `ended_at`, epoch seconds.
    pub ended_at: Option<f64>,
    /// `updated_at`, epoch seconds.
    pub updated_at: Option<f64>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `notes`.
    pub notes: String,
    /// `hparams`, flattened keys as written.
    pub hparams: ValueMap,
    /// `summary`: last value of each metric.
    pub summary: ValueMap,
    /// `checkpoint_path`.
    pub checkpoint_path: Option<String>,
    /// `config`, nested as written.
    pub config: ValueMap,
}

/// Why a file is not a valid sidecar. The message is a short reason, meant
/// to follow the file's path in a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSidecar {
    /// The bytes are not JSON, even in Python's dialect.
    #[error("not valid JSON: {0}")]
    Json(#[from] JsonError),

    /// The JSON is not an object.
    #[error("top level is {found}, not an object")]
    NotAnObject {
        /// What it is instead: `an array`, `a string`, `null`...
        found: &'static str,
    },

    /// There is no `run_id` field.
    #[error("run_id is missing")]
    MissingRunId,

    /// A field holds a value of the wrong type.
    #[error("{field} must be {expected}, found {found}")]
    WrongType {
        /// The field, with the index for list items (`tags[2]`).
        field: String,
        /// What the format allows (`a string or null`).
        expected: &'static str,
        /// What was there (`number`, `empty string`).
        found: &'static str,
    },

    /// The file is larger than [`MAX_SIDECAR_BYTES`]; it was not read.
    #[error("larger than the {} MiB limit ({size} bytes)", MAX_SIDECAR_BYTES >> 20)]
    TooLarge {
        /// The file's size.
        size: u64,
    },

    /// The file grew past [`MAX_SIDECAR_BYTES`] between its stat and its read.
    #[error("grew past the {} MiB limit while being read", MAX_SIDECAR_BYTES >> 20)]
    GrewWhileReading,

    /// The path is a directory, FIFO, socket or device.
    #[error("not a regular file")]
    NotARegularFile,

    /// Opening, stating or reading the file failed. A vanished file is
    /// `io::ErrorKind::NotFound`: a rename may be replacing it, which is not
    /// the same as a deleted run.
    #[error("cannot read: {0}")]
    Io(io::Error),
}

/// `O_NONBLOCK`, so that opening a FIFO named `sidecar.json` returns at once
/// instead of waiting for a writer. (No libc dependency for one constant;
/// the value differs between platforms.)
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    not(any(
        target_arch = "mips",
        target_arch = "mips64",
        target_arch = "sparc",
        target_arch = "sparc64"
    ))
))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "mips", target_arch = "mips64")
))]
const O_NONBLOCK: i32 = 0x80;
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "sparc", target_arch = "sparc64")
))]
const O_NONBLOCK: i32 = 0x4000;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
const O_NONBLOCK: i32 = 0x0004;

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn open_for_read(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
}

/// Elsewhere, without a known `O_NONBLOCK`: refuse what is not a regular
/// file before opening it (a swap between the two calls can still block).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn open_for_read(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    OpenOptions::new().read(true).open(path)
}

/// Reads everything `reader` holds, refusing more than `limit` bytes.
/// One byte past the limit is read so that a file that grew since its stat
/// is reported rather than silently truncated.
fn read_bounded(reader: impl Read, size_hint: u64, limit: u64) -> Result<Vec<u8>, InvalidSidecar> {
    let capacity = usize::try_from(size_hint.min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity.saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(InvalidSidecar::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InvalidSidecar::GrewWhileReading);
    }
    Ok(bytes)
}

/// The JSON kind of `value`, for "found ..." in messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Float(_) => "number",
        Value::Str(_) => "string",
        Value::List(_) => "array",
        Value::Map(_) => "object",
    }
}

fn wrong(field: &str, expected: &'static str, found: &Value) -> InvalidSidecar {
    InvalidSidecar::WrongType {
        field: field.to_owned(),
        expected,
        found: kind(found),
    }
}

/// A string or null/missing (`None`).
fn optional_string(field: &str, value: Option<Value>) -> Result<Option<String>, InvalidSidecar> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_string())),
        Some(other) => Err(wrong(field, "a string or null", &other)),
    }
}

/// Epoch seconds: any number (ints too, `NaN` included) or null/missing.
/// Booleans are refused although Python would take `True` for 1.
fn timestamp(field: &str, value: Option<Value>) -> Result<Option<f64>, InvalidSidecar> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(i as f64)),
        Some(Value::Float(f)) => Ok(Some(f)),
        Some(other) => Err(wrong(field, "a number or null", &other)),
    }
}

/// An object (values kept whatever their type) or null/missing (empty).
fn object(
    field: &str,
    kind: MapKind,
    value: Option<Member<'_>>,
) -> Result<ValueMap, InvalidSidecar> {
    match value {
        None | Some(Member::Value(Value::Null)) => Ok(ValueMap::new()),
        // The parser resolved repeated names (the last value wins).
        Some(Member::Object(entries)) => Ok(ValueMap::from_parsed(kind, entries)),
        Some(Member::Value(other)) => Err(wrong(field, "an object or null", &other)),
    }
}

fn tags(value: Option<Value>) -> Result<Vec<String>, InvalidSidecar> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::List(items)) => items,
        Some(other) => return Err(wrong("tags", "an array of strings or null", &other)),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(wrong(&format!("tags[{i}]"), "a string", &other)),
        })
        .collect()
}

/// The known fields of a sidecar object, before validation.
#[derive(Default)]
struct RawFields<'a> {
    schema_version: Option<Value>,
    run_id: Option<Value>,
    run_dir: Option<Value>,
    status: Option<Value>,
    created_at: Option<Value>,
    ended_at: Option<Value>,
    updated_at: Option<Value>,
    tags: Option<Value>,
    notes: Option<Value>,
    hparams: Option<Member<'a>>,
    summary: Option<Member<'a>>,
    checkpoint_path: Option<Value>,
    config: Option<Member<'a>>,
}

impl Sidecar {
    /// A sidecar with the defaults of a new run: status `running`,
    /// `schema_version` 1, everything else empty or absent.
    pub fn new(run_id: impl Into<String>) -> Sidecar {
        Sidecar {
            schema_version: Some(1),
            run_id: run_id.into(),
            run_dir: None,
            status: Status::Running,
            created_at: None,
            ended_at: None,
            updated_at: None,
            tags: Vec::new(),
            notes: String::new(),
            hparams: ValueMap::new(),
            summary: ValueMap::new(),
            checkpoint_path: None,
            config: ValueMap::new(),
        }
    }

    /// Parses and validates the bytes of a `sidecar.json`.
    ///
    /// The JSON is Python's dialect (`NaN`, `Infinity`, big integers; see
    /// [`parse_value`]). The top level must be an object with a non-empty
    /// string `run_id`. Every other field may be missing or `null`, which
    /// gives its default; when present it must have its type: `status`,
    /// `notes`, `run_dir`, `checkpoint_path` strings; `created_at`,
    /// `ended_at`, `updated_at` numbers; `tags` an array of strings;
    /// `hparams`, `summary`, `config` objects (their values are kept as they
    /// are, whatever their type); `schema_version` an integer. Unknown fields
    /// are ignored. A repeated key keeps its last value, as in Python.
    ///
    /// # Errors
    ///
    /// An [`InvalidSidecar`] naming the first problem found.
    ///
    /// # Examples
    ///
    /// ```
    /// use runreg::{Sidecar, Status, Value};
    ///
    /// let text = br#"{"run_id": "r1", "status": "failed", "tags": ["a"],
    ///                "summary": {"loss": NaN, "acc": 0.5}}"#;
    /// let sidecar = Sidecar::parse(text).unwrap();
    /// assert_eq!(sidecar.run_id, "r1");
    /// assert_eq!(sidecar.status, Status::Failed);
    /// assert!(sidecar.summary["loss"].is_missing());
    /// assert_eq!(sidecar.summary["acc"], Value::Float(0.5));
    ///
    /// let err = Sidecar::parse(br#"{"run_id": "r1", "tags": ["a", 2]}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "tags[1] must be a string, found number");
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<Sidecar, InvalidSidecar> {
        let members = match json::parse_members(bytes)? {
            Ok(members) => members,
            Err(other) => {
                let found = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Int(_) | Value::Float(_) => "a number",
                    Value::Str(_) => "a string",
                    Value::List(_) => "an array",
                    Value::Map(_) => "an object",
                };
                return Err(InvalidSidecar::NotAnObject { found });
            }
        };
        let mut raw = RawFields::default();
        // The parser already resolved repeated keys (last value wins), so
        // each slot is assigned at most once.
        for (key, member) in members {
            // Objects stay as their entries, names borrowed from `bytes`.
            let map = match &*key {
                "hparams" => Some(&mut raw.hparams),
                "summary" => Some(&mut raw.summary),
                "config" => Some(&mut raw.config),
                _ => None,
            };
            if let Some(slot) = map {
                *slot = Some(member);
                continue;
            }
            let slot = match &*key {
                "schema_version" => &mut raw.schema_version,
                "run_id" => &mut raw.run_id,
                "run_dir" => &mut raw.run_dir,
                "status" => &mut raw.status,
                "created_at" => &mut raw.created_at,
                "ended_at" => &mut raw.ended_at,
                "updated_at" => &mut raw.updated_at,
                "tags" => &mut raw.tags,
                "notes" => &mut raw.notes,
                "checkpoint_path" => &mut raw.checkpoint_path,
                _ => continue,
            };
            *slot = Some(member.into_value());
        }

        let run_id = match raw.run_id {
            None => return Err(InvalidSidecar::MissingRunId),
            Some(Value::Str(s)) if !s.is_empty() => s,
            Some(Value::Str(_)) => {
                return Err(InvalidSidecar::WrongType {
                    field: "run_id".to_owned(),
                    expected: "a non-empty string",
                    found: "empty string",
                });
            }
            Some(other) => return Err(wrong("run_id", "a non-empty string", &other)),
        };
        let schema_version = match raw.schema_version {
            None | Some(Value::Null) => None,
            Some(Value::Int(v)) => Some(v),
            Some(other) => {
                return Err(InvalidSidecar::WrongType {
                    field: "schema_version".to_owned(),
                    expected: "an integer or null",
                    found: match other {
                        Value::Float(_) => "float",
                        ref other => kind(other),
                    },
                });
            }
        };
        let status = match optional_string("status", raw.status)? {
            Some(s) => Status::from_sidecar(&s),
            None => Status::Running,
        };
        Ok(Sidecar {
            schema_version,
            run_id: run_id.to_string(),
            run_dir: optional_string("run_dir", raw.run_dir)?,
            status,
            created_at: timestamp("created_at", raw.created_at)?,
            ended_at: timestamp("ended_at", raw.ended_at)?,
            updated_at: timestamp("updated_at", raw.updated_at)?,
            tags: tags(raw.tags)?,
            notes: optional_string("notes", raw.notes)?.unwrap_or_default(),
            hparams: object("hparams", MapKind::Hparams, raw.hparams)?,
            summary: object("summary", MapKind::Summary, raw.summary)?,
            checkpoint_path: optional_string("checkpoint_path", raw.checkpoint_path)?,
            config: object("config", MapKind::Config, raw.config)?,
        })
    }

    /// Reads and parses the sidecar at `path`, returning it with the
    /// metadata of the file that was read (its size and mtime describe
    /// exactly these bytes, even if the path is replaced meanwhile).
    ///
    /// The file is opened non-blocking and checked with `fstat` before any
    /// read: a FIFO, directory or device named `sidecar.json` is refused
    /// without waiting, and a file over [`MAX_SIDECAR_BYTES`] is refused
    /// without being read.
    ///
    /// # Errors
    ///
    /// [`InvalidSidecar::Io`] when the file cannot be opened or read (a
    /// vanished file is `NotFound`), [`InvalidSidecar::NotARegularFile`],
    /// [`InvalidSidecar::TooLarge`], [`InvalidSidecar::GrewWhileReading`],
    /// or any error of [`Sidecar::parse`].
    pub fn read(path: &Path) -> Result<(Sidecar, Metadata), InvalidSidecar> {
        let (bytes, metadata) = Sidecar::read_bytes(path)?;
        Ok((Sidecar::parse(&bytes)?, metadata))
    }

    /// The bytes [`Sidecar::read`] parses, with the metadata of the file
    /// read, and the same checks: the I/O half of a read, which a scan does
    /// on more threads than the parsing (see `src/scan/in_flight.rs`).
    pub(crate) fn read_bytes(path: &Path) -> Result<(Vec<u8>, Metadata), InvalidSidecar> {
        let file = open_for_read(path).map_err(InvalidSidecar::Io)?;
        let metadata = file.metadata().map_err(InvalidSidecar::Io)?;
        if !metadata.is_file() {
            return Err(InvalidSidecar::NotARegularFile);
        }
        if metadata.len() > MAX_SIDECAR_BYTES {
            return Err(InvalidSidecar::TooLarge {
                size: metadata.len(),
            });
        }
        let bytes = read_bounded(file, metadata.len(), MAX_SIDECAR_BYTES)?;
        Ok((bytes, metadata))
    }

    /// The sidecar as stable-pretraining writes it: Python's
    /// `json.dump(make_sidecar(...), f, indent=2)`, byte for byte, with the
    /// fields in canonical order and `config` last, only when non-empty.
    ///
    /// `schema_version` is written as 1 when absent; absent timestamps are
    /// written as `null`. Objects are written in key order (the maps are
    /// [`ValueMap`]s, sorted), so a sidecar whose Python writer used another order
    /// comes back with the same content in sorted order.
    pub fn to_json(&self) -> String {
        let time = |t: Option<f64>| t.map_or(Value::Null, Value::Float);
        let text = |s: &Option<String>| s.as_deref().map_or(Value::Null, Value::from);
        let map =
            |m: &ValueMap| Value::Map(m.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect());
        let mut fields = vec![
            (
                "schema_version",
                Value::Int(self.schema_version.unwrap_or(1)),
            ),
            ("run_id", Value::from(self.run_id.as_str())),
            ("run_dir", text(&self.run_dir)),
            ("status", Value::from(self.status.as_str())),
            ("created_at", time(self.created_at)),
            ("ended_at", time(self.ended_at)),
            ("updated_at", time(self.updated_at)),
            (
                "tags",
                Value::List(self.tags.iter().map(|t| Value::from(t.as_str())).collect()),
            ),
            ("notes", Value::from(self.notes.as_str())),
            ("hparams", map(&self.hparams)),
            ("summary", map(&self.summary)),
            ("checkpoint_path", text(&self.checkpoint_path)),
        ];
        if !self.config.is_empty() {
            fields.push(("config", map(&self.config)));
        }
        let value = Value::Map(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        let mut out = String::with_capacity(1024);
        json::write_python_json(&value, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::json::tests::{arb_value, same_f64, same_value};
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    /// `json.dumps(d, indent=2)` by Python 3.11 for a sidecar laid out as
    /// stable-pretraining's `make_sidecar` lays it out (summary keys sorted).
    const PYTHON_SIDECAR: &str = r#"{
  "schema_version": 1,
  "run_id": "20251104_153012_a1b2c3",
  "run_dir": "/scratch/u/runs/20251104/153012/20251104_153012_a1b2c3",
  "status": "failed",
  "created_at": 1762266612.4817421,
  "ended_at": 1762270212.0,
  "updated_at": 1762270212.9051206,
  "tags": [
    "resnet50",
    "sweep:12345",
    "lr-\u00e9t\u00e9"
  ],
  "notes": "diverged at step 1200 \u2014 caf\u00e9 \ud83d\udd25 \u5b66\u4e60\nline two \"quoted\" \\ tab\t",
  "hparams": {
    "data.batch_size": 256,
    "model.name": "resnet50",
    "optim.betas.0": 0.9,
    "optim.lr": 0.001,
    "optim.weight_decay": 1e-05,
    "seed": 0,
    "trainer.precision": null,
    "use_amp": true
  },
  "summary": {
    "grad_norm": 1e+16,
    "train/acc": 0.1,
    "train/loss": NaN,
    "val/best": Infinity,
    "val/loss": 2.5,
    "val/worst": -Infinity
  },
  "checkpoint_path": "/scratch/u/runs/20251104/153012/20251104_153012_a1b2c3/checkpoints/last.ckpt"
}"#;

    /// Python's output for a running sidecar with a nested `config` and
    /// every optional field empty or null.
    const PYTHON_SIDECAR_WITH_CONFIG: &str = r#"{
  "schema_version": 1,
  "run_id": "r1",
  "run_dir": null,
  "status": "running",
  "created_at": 1700000000.5,
  "ended_at": null,
  "updated_at": 1700000001.0,
  "tags": [],
  "notes": "",
  "hparams": {},
  "summary": {},
  "checkpoint_path": null,
  "config": {
    "model": {
      "depth": 50,
      "name": "resnet"
    },
    "optim": {
      "betas": [
        0.9,
        0.999
      ],
      "lr": 0.001
    }
  }
}"#;

    fn parse_ok(text: &str) -> Sidecar {
        match Sidecar::parse(text.as_bytes()) {
            Ok(s) => s,
            Err(e) => panic!("{text} failed: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match Sidecar::parse(text.as_bytes()) {
            Ok(s) => panic!("{text} parsed as {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// A sidecar with `field` set to the JSON `value`.
    fn with_field(field: &str, value: &str) -> String {
        format!(r#"{{"run_id": "r1", "{field}": {value}}}"#)
    }

    fn float(v: &Value) -> f64 {
        match v {
            Value::Float(f) => *f,
            other => panic!("not a float: {other:?}"),
        }
    }

    /// Equality where NaN equals NaN and ints differ from floats.
    fn same_sidecar(a: &Sidecar, b: &Sidecar) -> bool {
        let times = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => same_f64(x, y),
            (x, y) => x.is_none() && y.is_none(),
        };
        let maps = |x: &ValueMap, y: &ValueMap| {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        };
        a.schema_version.unwrap_or(1) == b.schema_version.unwrap_or(1)
            && a.run_id == b.run_id
            && a.run_dir == b.run_dir
            && a.status == b.status
            && times(a.created_at, b.created_at)
            && times(a.ended_at, b.ended_at)
            && times(a.updated_at, b.updated_at)
            && a.tags == b.tags
            && a.notes == b.notes
            && maps(&a.hparams, &b.hparams)
            && maps(&a.summary, &b.summary)
            && a.checkpoint_path == b.checkpoint_path
            && maps(&a.config, &b.config)
    }

    #[test]
    fn reads_a_sidecar_as_python_writes_it() {
        let s = parse_ok(PYTHON_SIDECAR);
        assert_eq!(s.schema_version, Some(1));
        assert_eq!(s.run_id, "20251104_153012_a1b2c3");
        assert_eq!(
            s.run_dir.as_deref(),
            Some("/scratch/u/runs/20251104/153012/20251104_153012_a1b2c3")
        );
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.created_at, Some(1_762_266_612.481_742_1));
        assert_eq!(s.ended_at, Some(1_762_270_212.0));
        assert_eq!(s.updated_at, Some(1_762_270_212.905_120_6));
        assert_eq!(s.tags, ["resnet50", "sweep:12345", "lr-été"]);
        assert_eq!(
            s.notes,
            "diverged at step 1200 — café 🔥 学习\nline two \"quoted\" \\ tab\t"
        );
        assert!(matches!(s.hparams["data.batch_size"], Value::Int(256)));
        assert!(matches!(s.hparams["seed"], Value::Int(0)));
        assert_eq!(s.hparams["optim.weight_decay"], Value::Float(1e-5));
        assert_eq!(s.hparams["model.name"], Value::Str("resnet50".into()));
        assert_eq!(s.hparams["trainer.precision"], Value::Null);
        assert_eq!(s.hparams["use_amp"], Value::Bool(true));
        assert!(float(&s.summary["train/loss"]).is_nan());
        assert_eq!(float(&s.summary["val/best"]), f64::INFINITY);
        assert_eq!(float(&s.summary["val/worst"]), f64::NEG_INFINITY);
        assert_eq!(float(&s.summary["grad_norm"]), 1e16);
        assert!(
            s.checkpoint_path
                .as_deref()
                .is_some_and(|p| p.ends_with("last.ckpt"))
        );
        assert!(s.config.is_empty());
    }

    #[test]
    fn to_json_is_byte_for_byte_what_python_writes() {
        assert_eq!(parse_ok(PYTHON_SIDECAR).to_json(), PYTHON_SIDECAR);

        let mut s = Sidecar::new("r1");
        s.created_at = Some(1_700_000_000.5);
        s.updated_at = Some(1_700_000_001.0);
        s.config.insert(
            "model",
            Value::Map(vec![
                ("depth".into(), Value::Int(50)),
                ("name".into(), "resnet".into()),
            ]),
        );
        s.config.insert(
            "optim",
            Value::Map(vec![
                ("betas".into(), Value::List(vec![0.9.into(), 0.999.into()])),
                ("lr".into(), 0.001.into()),
            ]),
        );
        assert_eq!(s.to_json(), PYTHON_SIDECAR_WITH_CONFIG);
        assert!(same_sidecar(&parse_ok(PYTHON_SIDECAR_WITH_CONFIG), &s));
    }

    #[test]
    fn to_json_writes_config_only_when_present_and_defaults_schema_version() {
        let mut s = Sidecar::new("r1");
        s.schema_version = None;
        let text = s.to_json();
        assert!(!text.contains("config"), "{text}");
        assert!(text.starts_with("{\n  \"schema_version\": 1,\n  \"run_id\": \"r1\","));
        assert!(text.contains("\"created_at\": null,"), "{text}");
        s.config.insert("k", Value::Int(1));
        assert!(s.to_json().ends_with("\"config\": {\n    \"k\": 1\n  }\n}"));
    }

    #[test]
    fn new_has_the_defaults_of_a_fresh_run() {
        let s = Sidecar::new("abc");
        assert_eq!(s.run_id, "abc");
        assert_eq!(s.schema_version, Some(1));
        assert_eq!(s.status, Status::Running);
        assert_eq!((s.created_at, s.ended_at, s.updated_at), (None, None, None));
        assert!(s.tags.is_empty() && s.notes.is_empty());
        assert!(s.hparams.is_empty() && s.summary.is_empty() && s.config.is_empty());
        assert_eq!((s.run_dir, s.checkpoint_path), (None, None));
    }

    #[test]
    fn minimal_sidecar_takes_every_default() {
        let s = parse_ok(r#"{"run_id": "r1"}"#);
        let mut want = Sidecar::new("r1");
        want.schema_version = None;
        assert_eq!(s, want);
        let all_null = parse_ok(
            r#"{"run_id": "r1", "schema_version": null, "run_dir": null, "status": null,
                "created_at": null, "ended_at": null, "updated_at": null, "tags": null,
                "notes": null, "hparams": null, "summary": null, "checkpoint_path": null,
                "config": null}"#,
        );
        assert_eq!(all_null, want);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = PYTHON_SIDECAR.as_bytes();
        for end in 0..bytes.len() {
            assert!(Sidecar::parse(&bytes[..end]).is_err(), "{end}");
        }
        assert!(Sidecar::parse(bytes).is_ok());
    }

    #[test]
    fn bom_prefixed_sidecar_is_accepted() {
        let text = format!("\u{feff}{PYTHON_SIDECAR}");
        assert_eq!(parse_ok(&text).run_id, "20251104_153012_a1b2c3");
    }

    #[test]
    fn not_json_is_invalid() {
        assert_eq!(
            parse_err(""),
            "not valid JSON: expected value at line 1 column 1"
        );
        assert_eq!(
            parse_err("{\"run_id\": \"r1\",}"),
            "not valid JSON: expected a string key at line 1 column 17"
        );
        assert!(matches!(
            Sidecar::parse(b"\xff"),
            Err(InvalidSidecar::Json(_))
        ));
    }

    #[test]
    fn top_level_must_be_an_object() {
        let cases = [
            ("[]", "top level is an array, not an object"),
            ("\"r1\"", "top level is a string, not an object"),
            ("1.5", "top level is a number, not an object"),
            ("NaN", "top level is a number, not an object"),
            ("true", "top level is a boolean, not an object"),
            ("null", "top level is null, not an object"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_err(text), want);
        }
    }

    #[test]
    fn run_id_is_required_non_empty_string() {
        assert_eq!(parse_err("{}"), "run_id is missing");
        assert_eq!(parse_err(r#"{"status": "running"}"#), "run_id is missing");
        assert_eq!(
            parse_err(r#"{"run_id": ""}"#),
            "run_id must be a non-empty string, found empty string"
        );
        assert_eq!(
            parse_err(r#"{"run_id": 12}"#),
            "run_id must be a non-empty string, found number"
        );
        assert_eq!(
            parse_err(r#"{"run_id": null}"#),
            "run_id must be a non-empty string, found null"
        );
        assert_eq!(
            parse_err(r#"{"run_id": ["r1"]}"#),
            "run_id must be a non-empty string, found array"
        );
    }

    #[test]
    fn status_is_a_string_defaulting_to_running() {
        assert_eq!(
            parse_ok(&with_field("status", "\"completed\"")).status,
            Status::Completed
        );
        assert_eq!(
            parse_ok(&with_field("status", "\"\"")).status,
            Status::Running
        );
        assert_eq!(
            parse_ok(&with_field("status", "null")).status,
            Status::Running
        );
        assert_eq!(
            parse_ok(&with_field("status", "\"paused\"")).status,
            Status::Other("paused".into())
        );
        assert_eq!(
            parse_err(&with_field("status", "1")),
            "status must be a string or null, found number"
        );
        assert_eq!(
            parse_err(&with_field("status", "{}")),
            "status must be a string or null, found object"
        );
    }

    #[test]
    fn timestamps_are_numbers_or_null() {
        for field in ["created_at", "ended_at", "updated_at"] {
            let get = |s: &Sidecar| match field {
                "created_at" => s.created_at,
                "ended_at" => s.ended_at,
                _ => s.updated_at,
            };
            assert_eq!(
                get(&parse_ok(&with_field(field, "1700000000"))),
                Some(1.7e9)
            );
            assert_eq!(
                get(&parse_ok(&with_field(field, "1700000000.25"))),
                Some(1_700_000_000.25)
            );
            assert_eq!(get(&parse_ok(&with_field(field, "null"))), None);
            assert_eq!(get(&parse_ok(r#"{"run_id": "r1"}"#)), None);
            assert!(get(&parse_ok(&with_field(field, "NaN"))).is_some_and(f64::is_nan));
            assert_eq!(
                parse_err(&with_field(field, "\"2025-01-01\"")),
                format!("{field} must be a number or null, found string")
            );
            assert_eq!(
                parse_err(&with_field(field, "true")),
                format!("{field} must be a number or null, found boolean")
            );
        }
    }

    #[test]
    fn tags_are_strings_and_a_bad_item_is_named_by_index() {
        assert_eq!(
            parse_ok(&with_field("tags", r#"["a", "b"]"#)).tags,
            ["a", "b"]
        );
        assert!(parse_ok(&with_field("tags", "[]")).tags.is_empty());
        assert!(parse_ok(&with_field("tags", "null")).tags.is_empty());
        assert_eq!(
            parse_err(&with_field("tags", r#"["a", "b", 3]"#)),
            "tags[2] must be a string, found number"
        );
        assert_eq!(
            parse_err(&with_field("tags", r#"[null]"#)),
            "tags[0] must be a string, found null"
        );
        assert_eq!(
            parse_err(&with_field("tags", "\"a,b\"")),
            "tags must be an array of strings or null, found string"
        );
    }

    #[test]
    fn notes_are_a_string_defaulting_to_empty() {
        assert_eq!(parse_ok(&with_field("notes", "\"hi\"")).notes, "hi");
        assert_eq!(parse_ok(&with_field("notes", "null")).notes, "");
        assert_eq!(
            parse_err(&with_field("notes", "[]")),
            "notes must be a string or null, found array"
        );
    }

    #[test]
    fn sidecars_with_the_same_names_share_them_and_others_get_their_own() {
        let text = |hparams: &str| format!(r#"{{"run_id": "r", "hparams": {{{hparams}}}}}"#);
        let a = parse_ok(&text(r#""lr": 0.1, "optim": "adamw", "wd": 0"#));
        let b = parse_ok(&text(r#""lr": 0.2, "optim": "sgd", "wd": 1"#));
        assert!(a.hparams.shares_keys_with(&b.hparams));
        assert_eq!(b.hparams["optim"], Value::from("sgd"));
        // Other names (one changed, one more, an escaped one, or out of
        // order): a list of their own, with their values.
        for (hparams, want) in [
            (
                r#""lr": 1, "optim": 2, "xd": 3"#,
                vec![("lr", 1), ("optim", 2), ("xd", 3)],
            ),
            (
                r#""lr": 1, "optim": 2, "wd": 3, "z": 4"#,
                vec![("lr", 1), ("optim", 2), ("wd", 3), ("z", 4)],
            ),
            (
                r#""lr": 1, "optim": 2, "w\u0064": 3"#,
                vec![("lr", 1), ("optim", 2), ("wd", 3)],
            ),
            (
                r#""wd": 3, "lr": 1, "optim": 2"#,
                vec![("lr", 1), ("optim", 2), ("wd", 3)],
            ),
        ] {
            let c = parse_ok(&text(hparams));
            let got: Vec<(&str, Value)> = c.hparams.iter().map(|(k, v)| (k, v.clone())).collect();
            let want: Vec<(&str, Value)> =
                want.into_iter().map(|(k, v)| (k, Value::Int(v))).collect();
            assert_eq!(got, want, "{hparams}");
        }
        // Summary names are not taken for hparams names.
        let d = parse_ok(r#"{"run_id": "r", "summary": {"lr": 1, "optim": 2, "wd": 3}}"#);
        assert!(d.hparams.is_empty());
        assert_eq!(d.summary.len(), 3);
    }

    #[test]
    fn maps_are_objects_and_keep_any_value_losslessly() {
        let value = r#"{"i": 1, "f": 1.0, "big": 18446744073709551617, "s": "x", "b": false,
                        "n": null, "l": [1, "a"], "o": {"k": [NaN]}}"#;
        for field in ["hparams", "summary", "config"] {
            let s = parse_ok(&with_field(field, value));
            let map = match field {
                "hparams" => &s.hparams,
                "summary" => &s.summary,
                _ => &s.config,
            };
            assert!(matches!(map["i"], Value::Int(1)), "{field}");
            assert!(matches!(map["f"], Value::Float(f) if f == 1.0), "{field}");
            assert!(matches!(map["big"], Value::Float(f) if f == 18_446_744_073_709_551_616.0));
            assert_eq!(map["s"], Value::Str("x".into()));
            assert_eq!(map["b"], Value::Bool(false));
            assert_eq!(map["n"], Value::Null);
            assert_eq!(map["l"], Value::List(vec![1.into(), "a".into()]));
            let Value::Map(o) = &map["o"] else {
                panic!("o is not an object")
            };
            assert!(matches!(&o[0].1, Value::List(l) if float(&l[0]).is_nan()));

            assert!(parse_ok(&with_field(field, "null")).summary.is_empty());
            assert_eq!(
                parse_err(&with_field(field, "[1]")),
                format!("{field} must be an object or null, found array")
            );
            assert_eq!(
                parse_err(&with_field(field, "\"{}\"")),
                format!("{field} must be an object or null, found string")
            );
        }
    }

    #[test]
    fn paths_are_strings_or_null() {
        for field in ["run_dir", "checkpoint_path"] {
            let get = |s: Sidecar| match field {
                "run_dir" => s.run_dir,
                _ => s.checkpoint_path,
            };
            assert_eq!(
                get(parse_ok(&with_field(field, "\"/a/b\""))).as_deref(),
                Some("/a/b")
            );
            assert_eq!(get(parse_ok(&with_field(field, "null"))), None);
            assert_eq!(
                parse_err(&with_field(field, "false")),
                format!("{field} must be a string or null, found boolean")
            );
        }
    }

    #[test]
    fn schema_version_is_an_integer_or_null() {
        assert_eq!(
            parse_ok(&with_field("schema_version", "2")).schema_version,
            Some(2)
        );
        assert_eq!(
            parse_ok(&with_field("schema_version", "null")).schema_version,
            None
        );
        assert_eq!(
            parse_err(&with_field("schema_version", "1.0")),
            "schema_version must be an integer or null, found float"
        );
        assert_eq!(
            parse_err(&with_field("schema_version", "\"1\"")),
            "schema_version must be an integer or null, found string"
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let s =
            parse_ok(r#"{"run_id": "r1", "extra": [1, {"x": NaN}], "Status": 5, "future": null}"#);
        assert_eq!(s.status, Status::Running);
        assert_eq!(s.run_id, "r1");
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let s = parse_ok(
            r#"{"run_id": "old", "status": 3, "status": "failed", "run_id": "new",
                "hparams": {"lr": 1, "lr": 2}}"#,
        );
        assert_eq!(s.run_id, "new");
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.hparams.len(), 1);
        assert!(matches!(s.hparams["lr"], Value::Int(2)));
        // An invalid value repeated later is still invalid.
        assert!(Sidecar::parse(br#"{"run_id": "r1", "run_id": 5}"#).is_err());
    }

    fn arb_sidecar() -> impl Strategy<Value = Sidecar> {
        let opt_f64 = || {
            prop_oneof![
                Just(None),
                any::<f64>().prop_map(Some),
                Just(Some(f64::NAN)),
                Just(Some(f64::INFINITY))
            ]
        };
        let map = || prop::collection::btree_map(any::<String>(), arb_value(), 0..4);
        (
            (
                prop::option::of(any::<i64>()),
                "\\PC{1,12}",
                prop::option::of(any::<String>()),
                prop_oneof![
                    Just(String::new()),
                    "running|completed|failed",
                    any::<String>()
                ],
                opt_f64(),
                opt_f64(),
                opt_f64(),
            ),
            (
                prop::collection::vec(any::<String>(), 0..4),
                any::<String>(),
                map(),
                map(),
                prop::option::of(any::<String>()),
                map(),
            ),
        )
            .prop_map(
                |(
                    (schema_version, run_id, run_dir, status, created_at, ended_at, updated_at),
                    (tags, notes, hparams, summary, checkpoint_path, config),
                )| Sidecar {
                    schema_version,
                    run_id,
                    run_dir,
                    status: Status::from_sidecar(&status),
                    created_at,
                    ended_at,
                    updated_at,
                    tags,
                    notes,
                    hparams: hparams.into(),
                    summary: summary.into(),
                    checkpoint_path,
                    config: config.into(),
                },
            )
    }

    proptest! {
        #[test]
        fn to_json_round_trips(sidecar in arb_sidecar()) {
            let text = sidecar.to_json();
            let back = Sidecar::parse(text.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert!(same_sidecar(&sidecar, &back), "{sidecar:?}\n{text}\n{back:?}");
            prop_assert_eq!(back.to_json(), text);
        }
    }

    fn write_file(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join(SIDECAR_NAME);
        std::fs::write(&path, text).expect("write sidecar");
        path
    }

    #[test]
    fn read_returns_the_sidecar_and_the_metadata_of_what_was_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), PYTHON_SIDECAR);
        let (sidecar, metadata) = Sidecar::read(&path).expect("read");
        assert_eq!(sidecar.run_id, "20251104_153012_a1b2c3");
        assert_eq!(metadata.len(), PYTHON_SIDECAR.len() as u64);
        assert!(metadata.is_file());
    }

    #[test]
    fn read_reports_a_missing_file_as_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        match Sidecar::read(&dir.path().join(SIDECAR_NAME)) {
            Err(InvalidSidecar::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn read_reports_invalid_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_file(dir.path(), "[1, 2]");
        let err = Sidecar::read(&path).expect_err("array");
        assert_eq!(err.to_string(), "top level is an array, not an object");
    }

    #[test]
    fn directory_named_sidecar_json_is_not_a_regular_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SIDECAR_NAME);
        std::fs::create_dir(&path).expect("mkdir");
        let err = Sidecar::read(&path).expect_err("directory");
        assert!(matches!(err, InvalidSidecar::NotARegularFile), "{err:?}");
        assert_eq!(err.to_string(), "not a regular file");
    }

    #[cfg(unix)]
    #[test]
    fn fifo_named_sidecar_json_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SIDECAR_NAME);
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let fifo = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(Sidecar::read(&fifo).map(|_| ()).map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(result) => assert_eq!(result, Err("not a regular file".to_owned())),
            Err(_) => {
                // Unblock the reader before failing so the test binary exits.
                let _ = std::fs::OpenOptions::new().write(true).open(&path);
                panic!("reading a FIFO blocked");
            }
        }
    }

    #[test]
    fn oversized_file_is_refused_without_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SIDECAR_NAME);
        let file = File::create(&path).expect("create");
        file.set_len(100 * 1024 * 1024).expect("sparse file");
        let err = Sidecar::read(&path).expect_err("too large");
        // TooLarge, not a JSON error about 100 MB of NUL bytes: it was not read.
        assert!(
            matches!(err, InvalidSidecar::TooLarge { size: 104_857_600 }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "larger than the 16 MiB limit (104857600 bytes)"
        );

        file.set_len(MAX_SIDECAR_BYTES + 1).expect("truncate");
        assert!(matches!(
            Sidecar::read(&path),
            Err(InvalidSidecar::TooLarge { .. })
        ));
        // At the limit exactly, the file is read (and is not JSON).
        file.set_len(MAX_SIDECAR_BYTES).expect("truncate");
        assert!(matches!(Sidecar::read(&path), Err(InvalidSidecar::Json(_))));
    }

    #[test]
    fn a_file_that_grew_past_the_limit_while_read_is_refused() {
        let within = read_bounded(&b"0123456789"[..], 4, 10).expect("at the limit");
        assert_eq!(within, b"0123456789");
        let grew = read_bounded(&b"0123456789A"[..], 4, 10).expect_err("grew");
        assert!(matches!(grew, InvalidSidecar::GrewWhileReading));
        assert_eq!(
            grew.to_string(),
            "grew past the 16 MiB limit while being read"
        );
    }

    #[test]
    fn io_errors_say_cannot_read() {
        let err = InvalidSidecar::Io(io::Error::new(io::ErrorKind::PermissionDenied, "denied"));
        assert_eq!(err.to_string(), "cannot read: denied");
    }
}
