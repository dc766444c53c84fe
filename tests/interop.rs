//! Interop with the reference registry (stable-pretraining 0.1.8), in the
//! three directions issue #5 asks for:
//!
//! 1. runs written by `RunWriter` read back through the reference's
//!    `read_sidecar` and scanner with every field equal, and `RunWriter`
//!    writing what the reference's own `RegistryLogger` writes for the same
//!    calls (sidecar, `summary.json`, hparams flattening);
//! 2. runs written by the reference (`make_sidecar`, `write_sidecar`,
//!    `touch_heartbeat`, `RegistryLogger`) read back through runreg with
//!    every field equal, and resumed by `RunWriter`;
//! 3. a tree written half by each answers the same queries through both
//!    registries.
//!
//! Needs the oracle (`scripts/oracle/setup.sh`). Without it the tests are
//! skipped, or fail when `CI` is set.
//!
//! Values are compared in a canonical text form that keeps integers and
//! floats apart (`1` is not `1.0`), compares floats exactly, and ignores the
//! order of object keys (Python keeps insertion order, runreg sorts).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::oracle::Oracle;
use runreg::sidecar::parse_value;
use runreg::writer::{MetricStats, RunOptions, RunWriter};
use runreg::{Query, Registry, RunRecord, Sidecar, SortSpec, Status, Value};

// ------------------------------------------------------------------ the oracle

impl Oracle {
    /// Runs `ref.py <args>` and parses what it prints (Python's dialect).
    fn run(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Value {
        let mut cmd = self.ref_py();
        for a in args {
            cmd.arg(a);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("UTF-8 output");
        parse_value(&text).unwrap_or_else(|e| panic!("ref.py printed invalid JSON ({e}): {text}"))
    }
}

/// The oracle with the reference's logger, or `None` (see
/// [`Oracle::require`]).
fn oracle() -> Option<Oracle> {
    Oracle::require(
        "interop test",
        "spt_registry.query, loguru",
        &["target/oracle/unpacked/stable_pretraining/registry/logger.py"],
    )
}

// ------------------------------------------------------------------ values

/// A canonical text for a value: object keys sorted, integers and floats
/// distinct, floats exact (shortest round-trip digits), non-finite floats
/// named as strict JSON names them (so that strict and Python output agree).
fn canon(value: &Value) -> String {
    let mut out = String::new();
    write_canon(value, &mut out);
    out
}

fn write_canon(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_nan() => out.push_str("\"NaN\""),
        Value::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 {
                "\"Infinity\""
            } else {
                "\"-Infinity\""
            });
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}f");
        }
        Value::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_canon(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let sorted: BTreeMap<&str, &Value> =
                entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k:?}: ");
                write_canon(v, out);
            }
            out.push('}');
        }
    }
}

fn get<'a>(value: &'a Value, key: &str) -> &'a Value {
    match value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {key:?} in {}", canon(value))),
        other => panic!("{key:?} of a non-object: {}", canon(other)),
    }
}

fn entries(value: &Value) -> &[(String, Value)] {
    match value {
        Value::Map(entries) => entries,
        other => panic!("not an object: {}", canon(other)),
    }
}

fn items(value: &Value) -> &[Value] {
    match value {
        Value::List(items) => items,
        other => panic!("not a list: {}", canon(other)),
    }
}

fn map(m: &runreg::ValueMap) -> Value {
    Value::Map(m.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect())
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

fn opt_f64(f: Option<f64>) -> Value {
    f.map_or(Value::Null, Value::Float)
}

/// A sidecar as the JSON object it is written as.
fn sidecar_value(s: &Sidecar) -> Value {
    let mut fields = vec![
        (
            "schema_version".to_owned(),
            Value::Int(s.schema_version.unwrap_or(1)),
        ),
        ("run_id".to_owned(), Value::from(s.run_id.as_str())),
        ("run_dir".to_owned(), opt_str(s.run_dir.as_deref())),
        ("status".to_owned(), Value::from(s.status.as_str())),
        ("created_at".to_owned(), opt_f64(s.created_at)),
        ("ended_at".to_owned(), opt_f64(s.ended_at)),
        ("updated_at".to_owned(), opt_f64(s.updated_at)),
        (
            "tags".to_owned(),
            Value::List(s.tags.iter().map(|t| Value::from(t.as_str())).collect()),
        ),
        ("notes".to_owned(), Value::from(s.notes.as_str())),
        ("hparams".to_owned(), map(&s.hparams)),
        ("summary".to_owned(), map(&s.summary)),
        (
            "checkpoint_path".to_owned(),
            opt_str(s.checkpoint_path.as_deref()),
        ),
    ];
    if !s.config.is_empty() {
        fields.push(("config".to_owned(), map(&s.config)));
    }
    Value::Map(fields)
}

/// The fields of a registry record both registries have.
const RECORD_FIELDS: [&str; 12] = [
    "run_id",
    "status",
    "alive",
    "created_at",
    "updated_at",
    "run_dir",
    "checkpoint_path",
    "hparams",
    "summary",
    "tags",
    "notes",
    "config",
];

/// One of runreg's records as the reference's record object, restricted to
/// `fields`.
fn record_value(record: &RunRecord, fields: &[&str]) -> Value {
    let json = serde_json::to_string(record).expect("record to JSON");
    let all = parse_value(&json).expect("record JSON");
    pick(&all, fields)
}

fn pick(record: &Value, fields: &[&str]) -> Value {
    Value::Map(
        fields
            .iter()
            .map(|f| ((*f).to_owned(), get(record, f).clone()))
            .collect(),
    )
}

fn stats_value(stats: &[(String, MetricStats)]) -> Value {
    Value::Map(
        stats
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    Value::Map(vec![
                        ("last".into(), Value::Float(s.last)),
                        ("min".into(), Value::Float(s.min)),
                        ("max".into(), Value::Float(s.max)),
                        ("count".into(), Value::Int(s.count as i64)),
                    ]),
                )
            })
            .collect(),
    )
}

fn keys_in_order(value: &Value) -> Vec<String> {
    entries(value).iter().map(|(k, _)| k.clone()).collect()
}

/// A canonical temp directory: the reference stores the `run_dir` it was
/// given, runreg the path where it finds the sidecar; under a canonical
/// root both are the same string.
fn cache() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().canonicalize().expect("canonical");
    (dir, path)
}

fn registry(cache_dir: &Path) -> Registry {
    Registry::builder(cache_dir)
        .scan_ttl(Duration::ZERO)
        .open()
        .expect("runreg registry")
}

fn options() -> RunOptions {
    RunOptions::new()
        .slurm_sweep_tag(false)
        .flush_interval(Duration::from_secs(3600))
}

// ------------------------------------------------------------------ 1. RunWriter -> reference

#[derive(serde::Serialize)]
struct Optim {
    name: &'static str,
    lr: f64,
    betas: (f64, f64),
    schedule: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct TrainConfig {
    optim: Optim,
    layers: Vec<Vec<u32>>,
    augment: BTreeMap<&'static str, bool>,
    seed: i64,
    empty: BTreeMap<String, u8>,
}

/// Five runs covering what a writer produces: every status, NaN and
/// infinite metrics, unicode, nested hparams and config, a checkpoint, a
/// mid-run new metric, an explicit id.
fn write_runs_with_run_writer(cache_dir: &Path) -> Vec<RunWriter> {
    let config = TrainConfig {
        optim: Optim {
            name: "adamw",
            lr: 3e-4,
            betas: (0.9, 0.999),
            schedule: None,
        },
        layers: vec![vec![64, 128], vec![]],
        augment: [("flip", true), ("crop", false)].into(),
        seed: -7,
        empty: BTreeMap::new(),
    };
    let completed = RunWriter::create(
        cache_dir,
        options()
            .tag("resnet50")
            .tag("λ-sweep")
            .tag("sweep:4711")
            .notes("lr warmup \"linear\" — then cosine\nsecond line 🔥")
            .hparams(&config)
            .hparam("data.name", "cifar10")
            .config(&serde_json::json!({"model": {"depth": 50, "widths": [1, 2.5]}, "x": null})),
    )
    .unwrap();
    for step in 0..20u64 {
        let loss = 2.0 / (step + 1) as f64;
        completed
            .log_metrics(step, [("train_loss", loss), ("epoch", (step / 10) as f64)])
            .unwrap();
        if step >= 10 {
            completed
                .log_metrics(step, [("val/acc", 0.05 * step as f64)])
                .unwrap();
        }
    }
    completed
        .set_checkpoint(completed.run_dir().join("checkpoints/last.ckpt"))
        .unwrap();
    completed.finish(Status::Completed).unwrap();

    let failed = RunWriter::create(cache_dir, options().tag("resnet18")).unwrap();
    failed
        .log_metrics(0, [("train_loss", f64::NAN), ("grad_norm", f64::INFINITY)])
        .unwrap();
    failed
        .log_metrics(1, [("grad_norm", f64::NEG_INFINITY)])
        .unwrap();
    failed.finish(Status::Failed).unwrap();

    let running = RunWriter::create(cache_dir, options().hparam("lr", 0.1)).unwrap();
    running.log_metrics(0, [("train_loss", 1.0)]).unwrap();
    running.detach().unwrap();

    let interrupted = RunWriter::create(cache_dir, options().notes("preempted")).unwrap();
    interrupted.log_metrics(5, [("train_loss", 0.5)]).unwrap();

    let custom = RunWriter::create(cache_dir, options().run_id("job-42.task_3")).unwrap();
    custom.finish(Status::Completed).unwrap();

    let mut runs = vec![completed, failed, running, interrupted, custom];
    // Dropped without finish: interrupted. Keep a handle to its directory.
    let dropped = runs.remove(3);
    let dir = dropped.run_dir().to_owned();
    drop(dropped);
    runs.push(RunWriter::resume(&dir).unwrap());
    runs.last().unwrap().finish(Status::Interrupted).unwrap();
    runs
}

#[test]
fn runs_written_by_run_writer_read_back_through_the_reference() {
    let Some(oracle) = oracle() else { return };
    let (_tmp, cache_dir) = cache();
    let runs = write_runs_with_run_writer(&cache_dir);
    let scan = oracle.run(&[&"scan-json", &cache_dir]);

    // The reference scanner takes every sidecar as valid.
    let report = get(&scan, "report");
    assert_eq!(canon(get(report, "total_sidecars")), "5");
    assert_eq!(canon(get(report, "upserted")), "5");
    assert_eq!(canon(get(report, "skipped_invalid")), "0");

    let reference_records: BTreeMap<String, &Value> = items(get(&scan, "runs"))
        .iter()
        .map(|r| (get(r, "run_id").as_str().unwrap().to_owned(), r))
        .collect();
    let ours = registry(&cache_dir);
    let mut compared = 0;
    for run in &runs {
        let dir = run.run_dir();
        let sidecar_path = dir.join("sidecar.json").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&sidecar_path).unwrap();

        // read_sidecar: the reference's dict equals the file, field by
        // field, as runreg's Sidecar::parse reads it and as the writer holds
        // it.
        let reference = get(get(&scan, "sidecars"), &sidecar_path);
        let parsed = Sidecar::parse(text.as_bytes()).unwrap();
        assert_eq!(
            canon(reference),
            canon(&sidecar_value(&parsed)),
            "{sidecar_path}"
        );
        assert_eq!(
            canon(&sidecar_value(&parsed)),
            canon(&sidecar_value(&run.sidecar())),
            "{sidecar_path}"
        );
        assert_eq!(canon(reference), canon(&parse_value(&text).unwrap()));

        // summary.json: the reference's json.load equals what the writer
        // holds, metrics in first-seen order.
        let summary_path = dir.join("summary.json").to_string_lossy().into_owned();
        let summary = get(get(&scan, "summaries"), &summary_path);
        let stats = run.metric_stats();
        assert_eq!(canon(get(summary, "metrics")), canon(&stats_value(&stats)));
        assert_eq!(
            keys_in_order(get(summary, "metrics")),
            stats.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
        );
        let (step, epoch) = run.step_and_epoch();
        assert_eq!(canon(get(summary, "step")), step.to_string());
        assert_eq!(canon(get(summary, "epoch")), epoch.to_string());
        assert_eq!(get(summary, "run_id"), &Value::from(run.run_id()));
        assert_eq!(
            keys_in_order(summary),
            [
                "schema_version",
                "run_id",
                "run_dir",
                "updated_at",
                "step",
                "epoch",
                "metrics"
            ]
        );

        // The scanner's record equals runreg's, every field.
        let theirs = reference_records[run.run_id()];
        let mine = ours.get(run.run_id()).unwrap().expect("runreg has the run");
        assert_eq!(
            canon(&pick(theirs, &RECORD_FIELDS)),
            canon(&record_value(&mine, &RECORD_FIELDS)),
            "{}",
            run.run_id()
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
    // The statuses the writer wrote, as the reference reads them.
    let statuses: Vec<String> = runs
        .iter()
        .map(|r| canon(get(reference_records[r.run_id()], "status")))
        .collect();
    assert_eq!(
        statuses,
        [
            "\"completed\"",
            "\"failed\"",
            "\"running\"",
            "\"completed\"",
            "\"interrupted\""
        ]
    );
    let alive: Vec<String> = runs
        .iter()
        .map(|r| canon(get(reference_records[r.run_id()], "alive")))
        .collect();
    // Only the detached run is alive: an interrupted run has no heartbeat.
    assert_eq!(alive, ["false", "false", "true", "false", "false"]);
}

/// A script for the reference's `RegistryLogger` and what `RunWriter` does
/// with the same calls.
struct Script {
    text: String,
}

impl Script {
    fn parsed(&self) -> Value {
        parse_value(&self.text).expect("script parses")
    }

    /// Replays the script through `RunWriter` in `cache_dir`.
    fn replay_with_run_writer(&self, cache_dir: &Path) -> RunWriter {
        let script = self.parsed();
        let field = |k: &str| match &script {
            Value::Map(e) => e.iter().find(|(key, _)| key == k).map(|(_, v)| v),
            _ => None,
        };
        let mut options = options().run_id(field("run_id").unwrap().as_str().unwrap());
        if let Some(tags) = field("tags") {
            options = options.tags(items(tags).iter().map(|t| t.as_str().unwrap()));
        }
        if let Some(notes) = field("notes") {
            options = options.notes(notes.as_str().unwrap());
        }
        if let Some(hparams) = field("hparams") {
            options = options.hparams(hparams);
        }
        let run = RunWriter::create(cache_dir, options).unwrap();
        let save_every = field("save_every").and_then(Value::as_f64).unwrap_or(0.0) as usize;
        for (i, step) in field("steps").map_or(&[][..], items).iter().enumerate() {
            let [step, metrics] = items(step) else {
                panic!("a step is [step, metrics]")
            };
            let metrics: Vec<(String, f64)> = entries(metrics)
                .iter()
                .map(|(k, v)| {
                    let x = match v {
                        Value::Bool(b) => f64::from(u8::from(*b)),
                        other => other.as_f64().expect("numeric metric"),
                    };
                    (k.clone(), x)
                })
                .collect();
            run.log_metrics(step.as_f64().unwrap() as u64, metrics)
                .unwrap();
            if save_every > 0 && (i + 1) % save_every == 0 {
                run.flush().unwrap();
            }
        }
        if let Some(Value::Str(path)) = field("checkpoint") {
            run.set_checkpoint(&**path).unwrap();
        }
        match field("finalize").and_then(Value::as_str) {
            Some("success") => run.finish(Status::Completed).unwrap(),
            Some("failed") => run.finish(Status::Failed).unwrap(),
            Some(other) => run.finish(Status::from_sidecar(other)).unwrap(),
            None => run.flush().unwrap(),
        }
        run
    }
}

fn scripts() -> Vec<Script> {
    let texts = [
        // A Lightning-like run: nested config, epoch in the metrics, a NaN
        // loss, a boolean metric, a metric first seen mid-run, a
        // checkpoint.
        r#"{"run_id": "replay-a", "tags": ["resnet50", "sweep:1"], "notes": "n",
            "hparams": {"optim": {"lr": 0.1, "betas": [0.9, 0.99], "name": "sgd"},
                        "model": {"depth": 50, "pretrained": false}, "resume": null,
                        "layers": [64, [128, 256]], "seed": -3, "batch_size": 256},
            "steps": [[0, {"train_loss": 2.0, "epoch": 0}],
                      [1, {"train_loss": NaN, "epoch": 0, "use_ema": true}],
                      [2, {"train_loss": 1.0, "epoch": 1, "val/acc": 0.5}],
                      [3, {"train_loss": 1.5, "epoch": 1.9, "val/acc": Infinity}]],
            "save_every": 2, "checkpoint": "/ckpt/epoch=1.ckpt", "finalize": "success"}"#,
        // The flattening's edge cases: empty containers vanish, trailing
        // dots are stripped, empty keys, unicode keys and values.
        r#"{"run_id": "replay-b", "tags": [], "notes": "",
            "hparams": {"a.": 1, "b..": {"c.": 2}, "e": {}, "f": [], "g": {"h": {}},
                        "": {"": [1]}, "ключ": "значение ✓", "deep": {"x": {"y": {"z": [[], [0.5]]}}}},
            "steps": [[10, {"m": -0.0}], [11, {"m": 1e-7}], [12, {"m": 1e300}]],
            "finalize": "failed"}"#,
        // No hparams, no steps, never finalized (saved as running).
        r#"{"run_id": "replay-c"}"#,
        // Non-monotonic steps and an epoch that goes back.
        r#"{"run_id": "replay-d", "hparams": {"lr": 0.001},
            "steps": [[5, {"epoch": 3, "loss": 3}], [2, {"epoch": 1, "loss": -1}]],
            "finalize": "interrupted"}"#,
    ];
    texts
        .into_iter()
        .map(|t| Script { text: t.to_owned() })
        .collect()
}

#[test]
fn run_writer_writes_what_the_reference_logger_writes_for_the_same_calls() {
    let Some(oracle) = oracle() else { return };
    for script in scripts() {
        let (_tmp, cache_dir) = cache();
        let script_file = cache_dir.join("script.json");
        std::fs::write(&script_file, &script.text).unwrap();
        let reference_dir = cache_dir.join("reference-run");
        oracle.run(&[&"logger-replay", &script_file, &reference_dir]);
        let ours = script.replay_with_run_writer(&cache_dir);
        let id = ours.run_id().to_owned();

        // sidecar.json: every field but the paths and clock readings.
        let (theirs, _) = Sidecar::read(&reference_dir.join("sidecar.json")).unwrap();
        let (mine, _) = Sidecar::read(&ours.run_dir().join("sidecar.json")).unwrap();
        let strip = |s: &Sidecar| {
            let mut v = sidecar_value(s);
            if let Value::Map(e) = &mut v {
                e.retain(|(k, _)| {
                    !["run_dir", "created_at", "ended_at", "updated_at"].contains(&k.as_str())
                });
            }
            canon(&v)
        };
        assert_eq!(strip(&mine), strip(&theirs), "{id}: sidecar");
        assert_eq!(
            mine.ended_at.is_some(),
            theirs.ended_at.is_some(),
            "{id}: ended_at"
        );

        // summary.json: every field but the paths and clock readings, the
        // metrics in the same order.
        let read = |dir: &Path| {
            parse_value(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
        };
        let (theirs, mine) = (read(&reference_dir), read(ours.run_dir()));
        assert_eq!(keys_in_order(&mine), keys_in_order(&theirs), "{id}");
        for key in ["schema_version", "run_id", "step", "epoch", "metrics"] {
            assert_eq!(
                canon(get(&mine, key)),
                canon(get(&theirs, key)),
                "{id}: summary.json {key}"
            );
        }
        assert_eq!(
            keys_in_order(get(&mine, "metrics")),
            keys_in_order(get(&theirs, "metrics")),
            "{id}: metric order"
        );
    }
}

#[test]
fn the_reference_csv_writer_takes_our_metrics_csv_header() {
    let Some(oracle) = oracle() else { return };
    let (_tmp, cache_dir) = cache();
    let run = RunWriter::create(&cache_dir, options()).unwrap();
    run.log_metrics(0, [("train_loss", 1.0), ("epoch", 0.0)])
        .unwrap();
    run.log_metrics(1, [("val,acc \"quoted\"", 0.5)]).unwrap();
    run.finish(Status::Completed).unwrap();
    let header = oracle.run(&[&"csv-header", &run.run_dir()]);
    assert_eq!(
        canon(&header),
        r#"["step", "train_loss", "epoch", "val,acc \"quoted\""]"#
    );
}

// ------------------------------------------------------------------ 2. reference -> runreg

/// Runs for the reference to write, in Python's dialect: extreme floats,
/// i64 limits, unicode and control characters, every status, no
/// heartbeat, a directory not named after its run id, a config.
const REFERENCE_SPEC: &str = r#"[
  {"dir": "20261101/120000/ref-a", "run_id": "ref-a", "status": "completed",
   "created_at": 1793534400.123456, "ended_at": 1793538000.5,
   "hparams": {"optim.lr": 0.001, "optim.betas.0": 0.9, "layers.0": 64, "seed": -9223372036854775808,
               "max": 9223372036854775807, "name": "résumé ✓", "amp": true, "resume": null, "tiny": 5e-324},
   "summary": {"train_loss": 0.25, "val/acc": 0.875, "lr": 1e-05, "big": 1.7976931348623157e+308},
   "tags": ["resnet50", "sweep:4711", "λ-sweep", "emoji 🔥"], "notes": "tab\there\nnew line \"quoted\" \\ back",
   "checkpoint_path": "/ckpt/last.ckpt", "config": {"model": {"depth": 50, "widths": [1, 2.5, null]}, "flag": false}},
  {"dir": "20261101/120001/ref-b", "run_id": "ref-b", "status": "failed",
   "created_at": 1793534401.0, "summary": {"train_loss": NaN, "grad_norm": Infinity, "neg": -Infinity},
   "tags": [], "notes": ""},
  {"dir": "20261101/120002/ref-c", "run_id": "ref-c", "status": "running", "created_at": 1793534402.5},
  {"dir": "20261101/120003/ref-d", "run_id": "ref-d", "status": "running", "created_at": 1793534403.5,
   "heartbeat": false},
  {"dir": "20261101/120004/ref-e", "run_id": "ref-e", "status": "interrupted", "created_at": 1793534404.5,
   "summary": {"epoch": 3.0}},
  {"dir": "20261101/120005/other-name", "run_id": "ref-f", "status": "paused", "created_at": 1793534405.5,
   "hparams": {"": "empty key", "a b": [1, 2]}}
]"#;

#[test]
fn runs_written_by_the_reference_read_back_through_runreg() {
    let Some(oracle) = oracle() else { return };
    let (_tmp, cache_dir) = cache();
    let spec_file = cache_dir.join("spec.json");
    std::fs::write(&spec_file, REFERENCE_SPEC).unwrap();
    let written = oracle.run(&[&"write-runs", &cache_dir, &spec_file]);
    let scan = oracle.run(&[&"scan-json", &cache_dir]);
    let spec = parse_value(REFERENCE_SPEC).unwrap();
    assert_eq!(items(&written).len(), items(&spec).len());

    let ours = registry(&cache_dir);
    let reference_records: BTreeMap<String, &Value> = items(get(&scan, "runs"))
        .iter()
        .map(|r| (get(r, "run_id").as_str().unwrap().to_owned(), r))
        .collect();
    assert_eq!(reference_records.len(), 6);
    assert_eq!(ours.len().unwrap(), 6);
    for (run_spec, dir) in items(&spec).iter().zip(items(&written)) {
        let dir = PathBuf::from(dir.as_str().unwrap());
        let path = dir.join("sidecar.json");
        let id = get(run_spec, "run_id").as_str().unwrap();

        // Sidecar::read gives, field by field, what the reference's
        // read_sidecar gives.
        let (sidecar, _) = Sidecar::read(&path).unwrap();
        let reference = get(get(&scan, "sidecars"), path.to_str().unwrap());
        assert_eq!(canon(&sidecar_value(&sidecar)), canon(reference), "{id}");
        // ... and what the spec asked for.
        for (key, want) in entries(run_spec) {
            if key == "dir" || key == "heartbeat" {
                continue;
            }
            assert_eq!(canon(get(reference, key)), canon(want), "{id}: {key}");
        }

        // The registries agree on the record, every field.
        let mine = ours.get(id).unwrap().expect("runreg has the run");
        assert_eq!(
            canon(&record_value(&mine, &RECORD_FIELDS)),
            canon(&pick(reference_records[id], &RECORD_FIELDS)),
            "{id}"
        );
    }
    let alive = |id: &str| ours.get(id).unwrap().unwrap().alive;
    assert!(alive("ref-c"), "running with a fresh heartbeat");
    assert!(!alive("ref-d"), "running without a heartbeat");
    assert!(alive("ref-f"), "an unknown status is not terminal");
    assert_eq!(
        ours.get("ref-f").unwrap().unwrap().status,
        Status::Other("paused".into())
    );
}

#[test]
fn run_writer_resumes_a_run_the_reference_logger_wrote() {
    let Some(oracle) = oracle() else { return };
    let (_tmp, cache_dir) = cache();
    let script = &scripts()[0];
    let script_file = cache_dir.join("script.json");
    std::fs::write(&script_file, &script.text).unwrap();
    let run_dir = cache_dir.join("runs/20261101/120000/replay-a");
    oracle.run(&[&"logger-replay", &script_file, &run_dir]);
    let before =
        parse_value(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap();
    let (first, _) = Sidecar::read(&run_dir.join("sidecar.json")).unwrap();

    let run = RunWriter::resume(&run_dir).unwrap();
    // The reference's statistics, step and epoch are taken over as they are.
    assert_eq!(
        canon(&stats_value(&run.metric_stats())),
        canon(get(&before, "metrics"))
    );
    assert_eq!(run.step_and_epoch(), (3, 1));
    run.log_metrics(4, [("train_loss", 0.5), ("epoch", 2.0)])
        .unwrap();
    run.finish(Status::Completed).unwrap();

    // The reference reads the continued run back.
    let scan = oracle.run(&[&"scan-json", &cache_dir]);
    let sidecar = get(
        get(&scan, "sidecars"),
        run_dir.join("sidecar.json").to_str().unwrap(),
    );
    assert_eq!(canon(get(sidecar, "status")), "\"completed\"");
    assert_eq!(
        canon(get(sidecar, "created_at")),
        canon(&opt_f64(first.created_at)),
        "created_at is kept"
    );
    assert_eq!(canon(get(get(sidecar, "summary"), "train_loss")), "0.5f");
    assert_eq!(canon(get(sidecar, "hparams")), canon(&map(&first.hparams)));
    let summary = get(
        get(&scan, "summaries"),
        run_dir.join("summary.json").to_str().unwrap(),
    );
    let loss = get(get(summary, "metrics"), "train_loss");
    assert_eq!(canon(get(loss, "count")), "5");
    assert_eq!(canon(get(loss, "min")), "0.5f");
    assert_eq!(canon(get(loss, "max")), "2.0f");
    assert_eq!(canon(get(summary, "step")), "4");
    assert_eq!(canon(get(summary, "epoch")), "2");
}

// ------------------------------------------------------------------ 3. a mixed tree

/// One query, in both registries' terms.
struct MixedQuery {
    tag: Option<&'static str>,
    status: Option<&'static str>,
    alive: Option<bool>,
    hparams: Vec<(&'static str, Value)>,
    sort: Option<(&'static str, bool)>,
    limit: Option<usize>,
}

impl MixedQuery {
    fn new() -> MixedQuery {
        MixedQuery {
            tag: None,
            status: None,
            alive: None,
            hparams: Vec::new(),
            sort: None,
            limit: None,
        }
    }

    fn reference_kwargs(&self) -> String {
        let mut fields = Vec::new();
        if let Some(t) = self.tag {
            fields.push(format!("\"tag\": {t:?}"));
        }
        if let Some(s) = self.status {
            fields.push(format!("\"status\": {s:?}"));
        }
        if let Some(a) = self.alive {
            fields.push(format!("\"alive\": {a}"));
        }
        if !self.hparams.is_empty() {
            let pairs: Vec<String> = self
                .hparams
                .iter()
                .map(|(k, v)| format!("{k:?}: {}", serde_json::to_string(v).unwrap()))
                .collect();
            fields.push(format!("\"hparams\": {{{}}}", pairs.join(", ")));
        }
        if let Some((key, descending)) = self.sort {
            fields.push(format!(
                "\"sort_by\": {key:?}, \"descending\": {descending}"
            ));
        }
        if let Some(n) = self.limit {
            fields.push(format!("\"limit\": {n}"));
        }
        format!("{{{}}}", fields.join(", "))
    }

    fn runreg(&self) -> Query {
        let mut q = Query::new();
        if let Some(t) = self.tag {
            q = q.tag(t);
        }
        if let Some(s) = self.status {
            q = q.status(s.parse().unwrap());
        }
        if let Some(a) = self.alive {
            q = q.alive(a);
        }
        for (k, v) in &self.hparams {
            q = q.hparam(*k, v.clone());
        }
        if let Some((key, descending)) = self.sort {
            let key = key.parse().unwrap();
            q = q.sort(if descending {
                SortSpec::desc(key)
            } else {
                SortSpec::asc(key)
            });
        }
        if let Some(n) = self.limit {
            q = q.limit(n);
        }
        q
    }
}

/// RunWriter runs shaped like the reference tree's (same hparam keys and
/// types, same tags and metric names), with values the reference tree
/// cannot have (12 decimals), so that no sort key ties across the halves.
fn write_our_half(cache_dir: &Path, n: usize) {
    #[derive(serde::Serialize)]
    struct Half {
        optim: BTreeMap<&'static str, Value>,
        model: BTreeMap<&'static str, Value>,
        batch_size: i64,
        seed: i64,
        amp: bool,
    }
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let r = next();
        let model = ["resnet18", "resnet50"][(r % 2) as usize];
        let config = Half {
            optim: [
                (
                    "name",
                    Value::from(["sgd", "adamw", "lars"][(r % 3) as usize]),
                ),
                ("lr", Value::Float([0.1, 0.01, 0.001][(r % 3) as usize])),
            ]
            .into(),
            model: [
                ("name", Value::from(model)),
                ("depth", Value::Int([18, 34, 50][(r / 7 % 3) as usize])),
            ]
            .into(),
            batch_size: [128, 256, 512][(r / 5 % 3) as usize],
            seed: (r / 11 % 5) as i64,
            amp: r % 4 == 0,
        };
        let mut options = options().tag(model).hparams(&config);
        if r % 3 == 0 {
            options = options.tag("sweep:4711000");
        }
        let run = RunWriter::create(cache_dir, options).unwrap();
        let mut frac = |k: u64| (next() % 1_000_000_000_000) as f64 / 1e12 * k as f64;
        run.log_metrics(
            0,
            [
                ("val_acc", 0.1 + frac(1) * 0.85),
                ("train_loss", 0.05 + frac(1) * 2.45),
            ],
        )
        .unwrap();
        match i % 4 {
            0 => run.finish(Status::Completed).unwrap(),
            1 => run.finish(Status::Failed).unwrap(),
            2 => run.detach().unwrap(), // running, alive
            _ => drop(run),             // interrupted
        }
    }
}

/// The fields the reference's `query` subcommand prints.
const QUERY_FIELDS: [&str; 11] = [
    "run_id",
    "status",
    "alive",
    "created_at",
    "updated_at",
    "run_dir",
    "checkpoint_path",
    "hparams",
    "summary",
    "tags",
    "notes",
];

/// The sort key's value in a record (`summary.val_acc`, `created_at`), or
/// `None` when the run lacks it.
fn sort_value<'a>(record: &'a Value, key: &str) -> Option<&'a Value> {
    let value = match key.split_once('.') {
        Some((group, name)) => entries(get(record, group))
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v),
        None => Some(get(record, key)),
    };
    value.filter(|v| !v.is_missing())
}

/// Checks that both answers hold the same runs, in the same order where the
/// order is defined: by the sort key, for the runs that have it. (Runs
/// without it come last in both, in an order neither promises.)
fn assert_same_answer(query: &MixedQuery, ours: &[Value], theirs: &[Value]) {
    let what = query.reference_kwargs();
    assert_eq!(ours.len(), theirs.len(), "{what}: number of runs");
    let split = |records: &[Value]| -> (Vec<String>, Vec<String>) {
        let mut ordered = Vec::new();
        let mut rest = Vec::new();
        for r in records {
            match query.sort {
                Some((key, _)) if sort_value(r, key).is_some() => ordered.push(canon(r)),
                _ => rest.push(canon(r)),
            }
        }
        rest.sort();
        (ordered, rest)
    };
    let (our_ordered, our_rest) = split(ours);
    let (their_ordered, their_rest) = split(theirs);
    assert_eq!(our_ordered, their_ordered, "{what}: sorted runs");
    if query.limit.is_some() && query.sort.is_some() {
        assert!(
            our_rest.is_empty(),
            "{what}: pick a limit the sorted runs fill"
        );
    }
    assert_eq!(our_rest, their_rest, "{what}: other runs");
}

#[test]
fn a_mixed_tree_answers_the_same_queries_through_both_registries() {
    let Some(oracle) = oracle() else { return };
    let (_tmp, cache_dir) = cache();
    let mut write_tree = oracle.command();
    write_tree
        .arg(&oracle.script)
        .arg("write-tree")
        .arg(&cache_dir)
        .args(["--runs", "200", "--seed", "20261126"]);
    let out = write_tree.output().expect("run ref.py write-tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write_our_half(&cache_dir, 200);

    let q = MixedQuery::new;
    let queries = vec![
        MixedQuery {
            sort: Some(("created_at", true)),
            ..q()
        },
        MixedQuery {
            sort: Some(("created_at", false)),
            limit: Some(25),
            ..q()
        },
        MixedQuery {
            sort: Some(("run_id", false)),
            ..q()
        },
        MixedQuery {
            tag: Some("resnet50"),
            sort: Some(("summary.val_acc", true)),
            limit: Some(10),
            ..q()
        },
        MixedQuery {
            tag: Some("sweep:4711000"),
            status: Some("completed"),
            sort: Some(("summary.train_loss", true)),
            ..q()
        },
        MixedQuery {
            status: Some("running"),
            alive: Some(true),
            sort: Some(("run_id", false)),
            ..q()
        },
        MixedQuery {
            status: Some("running"),
            alive: Some(false),
            ..q()
        },
        MixedQuery {
            status: Some("completed"),
            ..q()
        },
        MixedQuery {
            status: Some("interrupted"),
            sort: Some(("run_id", true)),
            ..q()
        },
        MixedQuery {
            hparams: vec![
                ("optim.name", Value::from("sgd")),
                ("batch_size", Value::Int(256)),
            ],
            ..q()
        },
        MixedQuery {
            hparams: vec![("model.depth", Value::Int(50)), ("amp", Value::Bool(true))],
            sort: Some(("created_at", true)),
            ..q()
        },
        MixedQuery {
            tag: Some("resnet18"),
            alive: Some(false),
            sort: Some(("updated_at", true)),
            limit: Some(20),
            ..q()
        },
        MixedQuery {
            status: Some("failed"),
            sort: Some(("summary.val_acc", true)),
            limit: Some(5),
            ..q()
        },
        MixedQuery {
            alive: Some(true),
            sort: Some(("summary.val_acc", true)),
            ..q()
        },
    ];
    let requests = format!(
        "[{}]",
        queries
            .iter()
            .map(MixedQuery::reference_kwargs)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let requests_file = cache_dir.join("queries.json");
    std::fs::write(&requests_file, requests).unwrap();
    let answers = oracle.run(&[&"query", &cache_dir, &requests_file]);

    let ours = registry(&cache_dir);
    assert_eq!(ours.len().unwrap(), 400, "both halves, and nothing else");
    let mut nonempty = 0;
    for (query, answer) in queries.iter().zip(items(&answers)) {
        let theirs: Vec<Value> = items(answer)
            .iter()
            .map(|r| pick(r, &QUERY_FIELDS))
            .collect();
        let mine: Vec<Value> = ours
            .query(&query.runreg())
            .unwrap()
            .iter()
            .map(|r| record_value(r, &QUERY_FIELDS))
            .collect();
        assert_same_answer(query, &mine, &theirs);
        // Each query is answered from both halves of the tree.
        let written_by_us = mine
            .iter()
            .filter(|r| get(r, "run_id").as_str().is_some_and(|id| id.len() == 28))
            .count();
        if written_by_us > 0 && written_by_us < mine.len() {
            nonempty += 1;
        }
    }
    assert!(
        nonempty >= 10,
        "only {nonempty} queries matched runs of both writers"
    );
}
