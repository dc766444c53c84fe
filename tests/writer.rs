//! Behaviour of `RunWriter`: the run tree it writes, the summary, metrics
//! and heartbeat, finishing and interruption, resuming, threads, crashes,
//! and staying inside the run directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runreg::sidecar::parse_value;
use runreg::writer::{MetricStats, RunOptions, RunWriter, generate_run_id};
use runreg::{Error, Registry, Sidecar, Status, Value};
use serde::Serialize;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn read_sidecar(run_dir: &Path) -> Sidecar {
    Sidecar::read(&run_dir.join("sidecar.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", run_dir.display()))
        .0
}

/// summary.json, parsed in Python's dialect (it may hold NaN).
fn read_summary(run_dir: &Path) -> Value {
    let text = fs::read_to_string(run_dir.join("summary.json")).expect("summary.json");
    parse_value(&text).expect("summary.json parses")
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    match value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {key} in {value}")),
        other => panic!("not an object: {other}"),
    }
}

fn keys(value: &Value) -> Vec<&str> {
    match value {
        Value::Map(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
        other => panic!("not an object: {other}"),
    }
}

fn stats(value: &Value) -> MetricStats {
    let f = |k| field(value, k).as_f64().expect("number");
    MetricStats {
        last: f("last"),
        min: f("min"),
        max: f("max"),
        count: f("count") as u64,
    }
}

fn csv(run_dir: &Path) -> String {
    fs::read_to_string(run_dir.join("metrics.csv")).expect("metrics.csv")
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, epoch_secs: f64) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs_f64(epoch_secs))
        .unwrap();
}

fn age_secs(path: &Path) -> f64 {
    now()
        - mtime(path)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
}

fn registry(cache_dir: &Path) -> Registry {
    Registry::builder(cache_dir)
        .scan_ttl(Duration::ZERO)
        .open()
        .expect("registry")
}

/// Options that never flush or touch on their own, so tests see exactly
/// what each call writes.
fn quiet() -> RunOptions {
    RunOptions::new()
        .flush_interval(Duration::from_secs(3600))
        .heartbeat_interval(Duration::from_secs(3600))
        .slurm_sweep_tag(false)
}

#[derive(Serialize)]
struct Optim {
    name: &'static str,
    lr: f64,
    betas: (f64, f64),
}

#[derive(Serialize)]
struct Config {
    optim: Optim,
    layers: Vec<u32>,
    amp: bool,
    resume_from: Option<String>,
    empty: Vec<u8>,
}

fn config() -> Config {
    Config {
        optim: Optim {
            name: "adamw",
            lr: 3e-4,
            betas: (0.9, 0.999),
        },
        layers: vec![64, 128, 512],
        amp: true,
        resume_from: None,
        empty: vec![],
    }
}

// ------------------------------------------------------------------ create

#[test]
fn create_lays_out_the_run_and_writes_its_sidecar() {
    let cache = tempfile::tempdir().unwrap();
    let before = now();
    let run = RunWriter::create(
        cache.path(),
        quiet()
            .tag("resnet50")
            .tag("sweep:7")
            .notes("first — try")
            .hparams(&config())
            .config(&serde_json::json!({"model": {"depth": 50}})),
    )
    .unwrap();
    let after = now();

    // {cache}/runs/<YYYYMMDD>/<HHMMSS>/<run_id>, the UTC time of creation.
    let rel = run
        .run_dir()
        .strip_prefix(cache.path().canonicalize().unwrap())
        .unwrap()
        .to_path_buf();
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(parts.len(), 4, "{rel:?}");
    assert_eq!(parts[0], "runs");
    assert_eq!(parts[3], run.run_id());
    let id = run.run_id();
    assert_eq!(&id[..8], parts[1], "the id starts with the day folder");
    assert_eq!(&id[9..15], parts[2], "then the time folder");

    let s = read_sidecar(run.run_dir());
    assert_eq!(s.schema_version, Some(1));
    assert_eq!(s.run_id, run.run_id());
    assert_eq!(s.run_dir.as_deref(), Some(run.run_dir().to_str().unwrap()));
    assert!(Path::new(s.run_dir.as_deref().unwrap()).is_absolute());
    assert_eq!(s.status, Status::Running);
    let created = s.created_at.unwrap();
    assert!(before - 0.01 <= created && created <= after + 0.01);
    assert_eq!(s.ended_at, None);
    assert!(s.updated_at.unwrap() >= created);
    assert_eq!(s.tags, ["resnet50", "sweep:7"]);
    assert_eq!(s.notes, "first — try");
    let h = &s.hparams;
    assert_eq!(h["optim.name"], Value::Str("adamw".into()));
    assert_eq!(h["optim.lr"], Value::Float(3e-4));
    assert_eq!(h["optim.betas.0"], Value::Float(0.9));
    assert_eq!(h["optim.betas.1"], Value::Float(0.999));
    assert_eq!(h["layers.2"], Value::Int(512));
    assert_eq!(h["amp"], Value::Bool(true));
    assert_eq!(h["resume_from"], Value::Null);
    assert!(!h.contains_key("empty"), "an empty list has no key");
    assert_eq!(h.len(), 9);
    assert!(s.summary.is_empty());
    assert_eq!(s.checkpoint_path, None);
    assert_eq!(
        s.config["model"],
        Value::Map(vec![("depth".into(), Value::Int(50))])
    );
    assert_eq!(s, run.sidecar());

    // A heartbeat, fresh; an empty summary; no metrics.csv before any row.
    assert!(age_secs(&run.run_dir().join("heartbeat")) < 5.0);
    assert_eq!(
        fs::metadata(run.run_dir().join("heartbeat")).unwrap().len(),
        0
    );
    let summary = read_summary(run.run_dir());
    assert_eq!(
        keys(&summary),
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
    assert_eq!(keys(field(&summary, "metrics")), Vec::<&str>::new());
    assert!(!run.run_dir().join("metrics.csv").exists());

    // The registry sees it, alive.
    let record = registry(cache.path()).get(run.run_id()).unwrap().unwrap();
    assert!(record.alive);
    assert_eq!(record.status, Status::Running);
    assert_eq!(record.tags, ["resnet50", "sweep:7"]);
    run.finish(Status::Completed).unwrap();
}

#[test]
fn create_makes_a_missing_cache_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("new/cache");
    let run = RunWriter::create(&cache, quiet()).unwrap();
    assert!(run.run_dir().starts_with(cache.canonicalize().unwrap()));
    run.finish(Status::Completed).unwrap();
}

#[test]
fn generated_ids_are_unique_and_sort_by_creation() {
    let cache = tempfile::tempdir().unwrap();
    let runs: Vec<RunWriter> = (0..20)
        .map(|_| RunWriter::create(cache.path(), quiet()).unwrap())
        .collect();
    let ids: Vec<&str> = runs.iter().map(RunWriter::run_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for run in &runs {
        run.finish(Status::Completed).unwrap();
    }
    assert!(generate_run_id().as_str() > ids[19]);
}

#[test]
fn an_explicit_id_is_used_and_a_taken_directory_is_an_error() {
    let cache = tempfile::tempdir().unwrap();
    let first = RunWriter::create(cache.path(), quiet().run_id("job-42")).unwrap();
    assert_eq!(first.run_id(), "job-42");
    assert!(first.run_dir().ends_with("job-42"));
    first.detach().unwrap();
    // The same id within the same second names the same directory. (Runs
    // created in different seconds live in different folders: when the
    // clock turns a second between two attempts, the next one meets the
    // run made last.)
    let mut last = first.run_dir().to_path_buf();
    for _ in 0..5 {
        match RunWriter::create(cache.path(), quiet().run_id("job-42")) {
            Err(Error::Io { path, source }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
                assert_eq!(path, last);
                // The existing run was not touched.
                assert_eq!(read_sidecar(&last).status, Status::Running);
                return;
            }
            Ok(other) => {
                assert_ne!(other.run_dir(), last);
                last = other.run_dir().to_path_buf();
                other.detach().unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("never created twice within one second");
}

#[test]
fn rejected_run_ids_write_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let long = "x".repeat(256);
    for (id, reason) in [
        ("", "it is empty"),
        ("..", "'.' and '..' are not directory names"),
        (".", "'.' and '..' are not directory names"),
        ("../../etc", "it contains '/'"),
        ("a/b", "it contains '/'"),
        ("/abs", "it contains '/'"),
        ("..\\up", "it contains '\\'"),
        ("nul\0byte", "it contains a NUL byte"),
        (long.as_str(), "it is longer than 255 bytes"),
    ] {
        match RunWriter::create(cache.path(), quiet().run_id(id)) {
            Err(Error::InvalidRunId {
                run_id,
                reason: why,
            }) => {
                assert_eq!((run_id.as_str(), why.as_str()), (id, reason));
            }
            Err(e) => panic!("{id:?}: {e}"),
            Ok(run) => panic!("{id:?} accepted: {}", run.run_dir().display()),
        }
    }
    assert_eq!(
        fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing was created, not even runs/"
    );
}

#[test]
fn serialization_failures_are_reported_by_create() {
    struct Bad;
    impl Serialize for Bad {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("tensor on the GPU"))
        }
    }
    let cache = tempfile::tempdir().unwrap();
    let err = RunWriter::create(cache.path(), quiet().hparams(&Bad)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot serialize hparams: tensor on the GPU"
    );
    let err = RunWriter::create(cache.path(), quiet().config(&[1, 2])).unwrap_err();
    assert!(
        matches!(err, Error::Serialize { what: "config", .. }),
        "{err}"
    );
    assert_eq!(fs::read_dir(cache.path()).unwrap().count(), 0);
}

// ------------------------------------------------------------------ metrics

#[test]
fn log_metrics_keeps_stats_rows_and_the_summary() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("train_loss", 2.0), ("epoch", 0.0)])
        .unwrap();
    run.log_metrics(1, [("train_loss", 1.0), ("epoch", 0.0)])
        .unwrap();
    run.log_metrics(2, [("train_loss", 1.5), ("epoch", 1.0)])
        .unwrap();
    assert_eq!(
        run.metric_stats(),
        [
            (
                "train_loss".to_owned(),
                MetricStats {
                    last: 1.5,
                    min: 1.0,
                    max: 2.0,
                    count: 3
                }
            ),
            (
                "epoch".to_owned(),
                MetricStats {
                    last: 1.0,
                    min: 0.0,
                    max: 1.0,
                    count: 3
                }
            ),
        ]
    );
    assert_eq!(run.step_and_epoch(), (2, 1));
    run.flush().unwrap();

    let s = read_sidecar(run.run_dir());
    assert_eq!(s.summary["train_loss"], Value::Float(1.5));
    assert_eq!(s.summary["epoch"], Value::Float(1.0));
    let summary = read_summary(run.run_dir());
    assert_eq!(field(&summary, "run_id"), &Value::Str(run.run_id().into()));
    assert_eq!(
        field(&summary, "run_dir"),
        &Value::Str(run.run_dir().to_string_lossy().into())
    );
    assert!(matches!(field(&summary, "step"), Value::Int(2)));
    assert!(matches!(field(&summary, "epoch"), Value::Int(1)));
    let metrics = field(&summary, "metrics");
    assert_eq!(keys(metrics), ["train_loss", "epoch"], "first-seen order");
    assert_eq!(stats(field(metrics, "train_loss")), run.metric_stats()[0].1);
    assert_eq!(
        csv(run.run_dir()),
        "step,train_loss,epoch\n0,2.0,0.0\n1,1.0,0.0\n2,1.5,1.0\n"
    );
    run.finish(Status::Completed).unwrap();
}

#[test]
fn a_new_metric_mid_run_widens_the_csv_and_keeps_old_rows() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    for step in 0..3u64 {
        run.log_metrics(step, [("loss", 1.0 / (step + 1) as f64)])
            .unwrap();
    }
    run.log_metrics(3, [("val_acc", 0.5), ("val_loss", 0.75)])
        .unwrap();
    run.log_metrics(4, [("loss", 0.2), ("val_acc", 0.625)])
        .unwrap();
    run.flush().unwrap();
    assert_eq!(
        csv(run.run_dir()),
        "step,loss,val_acc,val_loss\n\
         0,1.0,,\n1,0.5,,\n2,0.3333333333333333,,\n3,,0.5,0.75\n4,0.2,0.625,\n"
    );
    let s = read_sidecar(run.run_dir());
    assert_eq!(s.summary.len(), 3);
    assert_eq!(s.summary["val_acc"], Value::Float(0.625));
    run.finish(Status::Completed).unwrap();
}

#[test]
fn metric_values_of_any_numeric_type_and_non_finite_values() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    let from_map: std::collections::HashMap<String, f32> = [("f32".to_owned(), 0.5f32)].into();
    run.log_metrics(0, &from_map).unwrap();
    run.log_metrics(1, [("int", 3i64)]).unwrap();
    run.log_metrics(2, [("flag", true)]).unwrap();
    run.log_metrics(3, vec![("loss", f64::NAN), ("best", f64::INFINITY)])
        .unwrap();
    run.log_metrics(4, Vec::<(&str, f64)>::new()).unwrap();
    run.finish(Status::Failed).unwrap();

    let s = read_sidecar(run.run_dir());
    assert_eq!(s.summary["f32"], Value::Float(0.5));
    assert_eq!(s.summary["int"], Value::Float(3.0));
    assert_eq!(s.summary["flag"], Value::Float(1.0));
    assert!(s.summary["loss"].as_f64().unwrap().is_nan());
    assert_eq!(s.summary["best"], Value::Float(f64::INFINITY));
    let text = fs::read_to_string(run.run_dir().join("sidecar.json")).unwrap();
    assert!(text.contains("\"loss\": NaN"), "{text}");
    assert!(text.contains("\"best\": Infinity"), "{text}");
    assert!(text.contains("\"int\": 3.0"), "{text}");
    assert_eq!(
        csv(run.run_dir()),
        "step,f32,int,flag,loss,best\n0,0.5,,,,\n1,,3.0,,,\n2,,,1.0,,\n3,,,,nan,inf\n4,,,,,\n"
    );
    // A NaN summary does not stop the registry from sorting by it.
    let reg = registry(cache.path());
    let record = reg.get(run.run_id()).unwrap().unwrap();
    assert!(record.summary["loss"].as_f64().unwrap().is_nan());
}

#[test]
fn log_metrics_does_not_rewrite_the_sidecar() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    let sidecar = run.run_dir().join("sidecar.json");
    let summary = run.run_dir().join("summary.json");
    let before = (fs::read(&sidecar).unwrap(), fs::read(&summary).unwrap());
    set_mtime(&sidecar, now() - 100.0);
    let stamp = mtime(&sidecar);
    for step in 0..500 {
        run.log_metrics(step, [("loss", step as f64)]).unwrap();
    }
    assert_eq!(mtime(&sidecar), stamp);
    assert_eq!(
        (fs::read(&sidecar).unwrap(), fs::read(&summary).unwrap()),
        before
    );
    // Rows are buffered until the flush.
    run.flush().unwrap();
    assert_eq!(csv(run.run_dir()).lines().count(), 501);
    assert_ne!(mtime(&sidecar), stamp);
    run.finish(Status::Completed).unwrap();
}

#[test]
fn the_sidecar_is_rewritten_on_its_own_every_flush_interval() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(
        cache.path(),
        quiet().flush_interval(Duration::from_millis(150)),
    )
    .unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    assert!(read_sidecar(run.run_dir()).summary.is_empty());
    std::thread::sleep(Duration::from_millis(200));
    run.log_metrics(1, [("loss", 0.5)]).unwrap();
    assert_eq!(
        read_sidecar(run.run_dir()).summary["loss"],
        Value::Float(0.5)
    );
    assert_eq!(csv(run.run_dir()), "step,loss\n0,1.0\n1,0.5\n");

    let every = RunWriter::create(cache.path(), quiet().flush_interval(Duration::ZERO)).unwrap();
    every.log_metrics(0, [("acc", 0.25)]).unwrap();
    assert_eq!(
        read_sidecar(every.run_dir()).summary["acc"],
        Value::Float(0.25)
    );
    run.finish(Status::Completed).unwrap();
    every.finish(Status::Completed).unwrap();
}

#[test]
fn log_metrics_touches_the_heartbeat_at_most_once_per_interval() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(
        cache.path(),
        quiet().heartbeat_interval(Duration::from_millis(200)),
    )
    .unwrap();
    let hb = run.run_dir().join("heartbeat");
    set_mtime(&hb, now() - 1000.0);
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    assert!(age_secs(&hb) > 900.0, "touched within the interval");
    std::thread::sleep(Duration::from_millis(250));
    run.log_metrics(1, [("loss", 1.0)]).unwrap();
    assert!(age_secs(&hb) < 5.0, "touched after the interval");

    let every =
        RunWriter::create(cache.path(), quiet().heartbeat_interval(Duration::ZERO)).unwrap();
    let hb = every.run_dir().join("heartbeat");
    for step in 0..3 {
        set_mtime(&hb, now() - 1000.0);
        every.log_metrics(step, [("loss", 1.0)]).unwrap();
        assert!(age_secs(&hb) < 5.0);
    }
    // An explicit heartbeat touches whatever the interval, and re-creates a
    // deleted file.
    fs::remove_file(&hb).unwrap();
    every.heartbeat().unwrap();
    assert!(hb.exists());
    run.finish(Status::Completed).unwrap();
    every.finish(Status::Completed).unwrap();
}

#[test]
fn metadata_changes_are_written_at_once() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet().tag("a")).unwrap();
    run.add_tag("b").unwrap();
    run.add_tag("a").unwrap();
    run.set_notes("diverged at step 3").unwrap();
    run.set_checkpoint(run.run_dir().join("checkpoints/last.ckpt"))
        .unwrap();
    run.log_hparams(&serde_json::json!({"data": {"name": "cifar10"}, "seed": 1}))
        .unwrap();
    let s = read_sidecar(run.run_dir());
    assert_eq!(s.tags, ["a", "b"]);
    assert_eq!(s.notes, "diverged at step 3");
    assert_eq!(
        s.checkpoint_path.unwrap(),
        run.run_dir()
            .join("checkpoints/last.ckpt")
            .to_str()
            .unwrap()
    );
    assert_eq!(s.hparams["data.name"], Value::Str("cifar10".into()));
    assert_eq!(s.hparams["seed"], Value::Int(1));
    assert!(
        !run.run_dir().join("checkpoints").exists(),
        "a checkpoint path is only recorded"
    );
    run.finish(Status::Completed).unwrap();
}

// ------------------------------------------------------------------ ending

#[test]
fn finish_writes_the_status_and_closes_the_writer() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    let before = now();
    run.finish(Status::Completed).unwrap();
    let s = read_sidecar(run.run_dir());
    assert_eq!(s.status, Status::Completed);
    assert!(s.ended_at.unwrap() >= before - 0.01);
    assert_eq!(s.summary["loss"], Value::Float(1.0));
    assert_eq!(csv(run.run_dir()), "step,loss\n0,1.0\n");

    for err in [
        run.log_metrics(1, [("loss", 0.5)]).unwrap_err(),
        run.add_tag("late").unwrap_err(),
        run.finish(Status::Failed).unwrap_err(),
        run.detach().unwrap_err(),
    ] {
        assert!(
            matches!(
                &err,
                Error::RunClosed {
                    state: "finished",
                    ..
                }
            ),
            "{err}"
        );
    }
    run.flush().unwrap();
    drop(run);
    let after = read_sidecar(Path::new(s.run_dir.as_deref().unwrap()));
    assert_eq!(
        after.status,
        Status::Completed,
        "Drop leaves a finished run"
    );
    let record = registry(cache.path()).get(&s.run_id).unwrap().unwrap();
    assert!(!record.alive, "a completed run is never alive");
    assert_eq!(record.ended_at, s.ended_at);
}

#[test]
fn finish_refuses_running() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    for status in [Status::Running, Status::Other(String::new())] {
        let err = run.finish(status).unwrap_err();
        assert!(matches!(err, Error::FinishStatus { .. }), "{err}");
    }
    run.finish(Status::Interrupted).unwrap();
    assert_eq!(read_sidecar(run.run_dir()).status, Status::Interrupted);
}

#[test]
fn a_writer_dropped_without_finish_marks_the_run_interrupted() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    let dir = run.run_dir().to_owned();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    drop(run);
    let s = read_sidecar(&dir);
    assert_eq!(s.status, Status::Interrupted);
    assert!(s.ended_at.is_some());
    assert_eq!(s.summary["loss"], Value::Float(1.0));
    assert_eq!(
        csv(&dir),
        "step,loss\n0,1.0\n",
        "buffered rows were written"
    );
    // An interrupted run is not terminal: without its heartbeat it is not
    // alive either.
    assert!(!dir.join("heartbeat").exists());
    let record = registry(cache.path()).get(&s.run_id).unwrap().unwrap();
    assert!(!record.alive);
    // Resuming brings the heartbeat back.
    let run = RunWriter::resume(&dir).unwrap();
    assert!(dir.join("heartbeat").exists());
    assert!(
        registry(cache.path())
            .get(&s.run_id)
            .unwrap()
            .unwrap()
            .alive
    );
    run.finish(Status::Completed).unwrap();
}

#[test]
fn a_panic_in_the_training_loop_marks_the_run_interrupted() {
    let cache = tempfile::tempdir().unwrap();
    let path = cache.path().to_owned();
    let dir = std::thread::spawn(move || {
        let run = RunWriter::create(&path, quiet()).unwrap();
        let dir = run.run_dir().to_owned();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run.log_metrics(0, [("loss", 1.0)]).unwrap();
            panic!("CUDA out of memory");
        }));
        assert!(result.is_err());
        drop(run);
        dir
    })
    .join()
    .unwrap();
    assert_eq!(read_sidecar(&dir).status, Status::Interrupted);
}

#[test]
fn drop_does_not_panic_when_the_run_directory_is_gone() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    fs::remove_dir_all(run.run_dir()).unwrap();
    assert!(matches!(run.flush(), Err(Error::Io { .. })));
    drop(run); // best effort, silently
}

#[test]
fn detach_leaves_the_run_running() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    run.detach().unwrap();
    let dir = run.run_dir().to_owned();
    drop(run);
    let s = read_sidecar(&dir);
    assert_eq!(s.status, Status::Running);
    assert_eq!(s.ended_at, None);
    assert_eq!(s.summary["loss"], Value::Float(1.0));
}

// ------------------------------------------------------------------ resume

#[test]
fn resume_continues_a_run() {
    let cache = tempfile::tempdir().unwrap();
    let run =
        RunWriter::create(cache.path(), quiet().tag("x").notes("n").hparams(&config())).unwrap();
    let dir = run.run_dir().to_owned();
    run.log_metrics(0, [("loss", 2.0), ("epoch", 0.0)]).unwrap();
    run.log_metrics(1, [("loss", 1.0), ("epoch", 0.0)]).unwrap();
    run.set_checkpoint("/ckpt/last.ckpt").unwrap();
    drop(run); // preempted
    let first = read_sidecar(&dir);
    assert_eq!(first.status, Status::Interrupted);

    let run = RunWriter::resume(&dir).unwrap();
    assert_eq!(run.run_id(), first.run_id);
    let s = read_sidecar(&dir);
    assert_eq!(s.status, Status::Running, "written at once");
    assert_eq!(s.ended_at, None);
    assert_eq!(s.created_at, first.created_at);
    assert_eq!(s.tags, first.tags);
    assert_eq!(s.notes, "n");
    assert_eq!(s.hparams, first.hparams);
    assert_eq!(s.checkpoint_path.as_deref(), Some("/ckpt/last.ckpt"));
    assert_eq!(s.summary, first.summary);
    assert_eq!(run.step_and_epoch(), (1, 0));

    run.log_metrics(2, [("loss", 0.5), ("epoch", 1.0)]).unwrap();
    run.log_metrics(3, [("acc", 0.9)]).unwrap();
    run.finish(Status::Completed).unwrap();

    let stats = run.metric_stats();
    assert_eq!(
        stats[0],
        (
            "loss".to_owned(),
            MetricStats {
                last: 0.5,
                min: 0.5,
                max: 2.0,
                count: 3
            }
        )
    );
    assert_eq!(stats[1].1.count, 3);
    assert_eq!(stats[2].0, "acc");
    let summary = read_summary(&dir);
    assert!(matches!(field(&summary, "step"), Value::Int(3)));
    assert!(matches!(field(&summary, "epoch"), Value::Int(1)));
    assert_eq!(
        csv(&dir),
        "step,loss,epoch,acc\n0,2.0,0.0,\n1,1.0,0.0,\n2,0.5,1.0,\n3,,,0.9\n"
    );
    let s = read_sidecar(&dir);
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.created_at, first.created_at);
}

#[test]
fn resume_of_a_running_run_does_not_rewrite_its_sidecar() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.detach().unwrap();
    let sidecar = run.run_dir().join("sidecar.json");
    let bytes = fs::read(&sidecar).unwrap();
    let again = RunWriter::resume(run.run_dir()).unwrap();
    assert_eq!(fs::read(&sidecar).unwrap(), bytes);
    again.detach().unwrap();
}

#[test]
fn resume_of_a_moved_run_records_where_it_is_now() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    run.finish(Status::Completed).unwrap();
    let moved = tempfile::tempdir().unwrap();
    let new_dir = moved.path().join("elsewhere");
    fs::rename(run.run_dir(), &new_dir).unwrap();
    let run = RunWriter::resume(&new_dir).unwrap();
    let s = read_sidecar(&new_dir);
    assert_eq!(
        s.run_dir.as_deref(),
        Some(new_dir.canonicalize().unwrap().to_str().unwrap())
    );
    run.finish(Status::Completed).unwrap();
}

#[test]
fn resume_with_merges_options() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet().tag("a").hparam("lr", 0.1)).unwrap();
    run.detach().unwrap();
    let dir = run.run_dir().to_owned();
    let again = RunWriter::resume_with(
        &dir,
        quiet()
            .run_id(run.run_id())
            .tag("a")
            .tag("requeued")
            .notes("second attempt")
            .hparam("resumed", true),
    )
    .unwrap();
    again.flush().unwrap();
    let s = read_sidecar(&dir);
    assert_eq!(s.tags, ["a", "requeued"]);
    assert_eq!(s.notes, "second attempt");
    assert_eq!(s.hparams["lr"], Value::Float(0.1));
    assert_eq!(s.hparams["resumed"], Value::Bool(true));

    again.finish(Status::Interrupted).unwrap();
    assert!(!dir.join("heartbeat").exists());
    let err = RunWriter::resume_with(&dir, quiet().run_id("someone-else")).unwrap_err();
    assert!(
        !dir.join("heartbeat").exists(),
        "a refused resume does not make the run look alive"
    );
    assert_eq!(read_sidecar(&dir).status, Status::Interrupted);
    assert!(
        matches!(&err, Error::InvalidRunId { reason, .. } if reason.contains(run.run_id())),
        "{err}"
    );
}

#[test]
fn resume_rebuilds_stats_from_metrics_csv_without_summary_json() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    for (step, loss) in [(0, 3.0), (1, 1.0), (2, 2.0)] {
        run.log_metrics(step, [("loss", loss), ("epoch", 4.0)])
            .unwrap();
    }
    run.detach().unwrap();
    let dir = run.run_dir().to_owned();
    let want = run.metric_stats();
    fs::remove_file(dir.join("summary.json")).unwrap();
    let run = RunWriter::resume(&dir).unwrap();
    assert_eq!(run.metric_stats(), want);
    assert_eq!(run.step_and_epoch(), (2, 4));
    run.detach().unwrap();

    // Neither summary.json nor metrics.csv: one value per summary metric.
    fs::remove_file(dir.join("summary.json")).unwrap();
    fs::remove_file(dir.join("metrics.csv")).unwrap();
    let run = RunWriter::resume(&dir).unwrap();
    assert_eq!(
        run.metric_stats(),
        [
            ("epoch".to_owned(), MetricStats::first(4.0)),
            ("loss".to_owned(), MetricStats::first(2.0)),
        ]
    );
    run.detach().unwrap();
}

#[test]
fn resume_refuses_a_directory_without_a_valid_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let err = RunWriter::resume(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotARun { .. }), "{err}");
    assert!(err.to_string().contains("is not a run"), "{err}");
    fs::write(dir.path().join("sidecar.json"), "{\"status\": \"running\"}").unwrap();
    let err = RunWriter::resume(dir.path()).unwrap_err();
    assert!(err.to_string().ends_with("run_id is missing"), "{err}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );
    assert!(matches!(
        RunWriter::resume(dir.path().join("missing")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn a_run_has_one_writer_at_a_time() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    let start = std::time::Instant::now();
    let err = RunWriter::resume_with(run.run_dir(), quiet().lock_wait(Duration::from_millis(200)))
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(
        matches!(&err, Error::RunBusy { run_dir, .. } if run_dir == run.run_dir()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("is being written by another process"),
        "{err}"
    );
    // The refused writer changed nothing.
    assert_eq!(read_sidecar(run.run_dir()).status, Status::Running);

    // A second writer waiting for the first gets in once it closes.
    let dir = run.run_dir().to_owned();
    let waiter = std::thread::spawn(move || {
        let second = RunWriter::resume(&dir).unwrap();
        second.log_metrics(1, [("loss", 0.5)]).unwrap();
        second.finish(Status::Completed).unwrap();
        second.metric_stats()
    });
    std::thread::sleep(Duration::from_millis(100));
    run.detach().unwrap();
    let stats = waiter.join().unwrap();
    assert_eq!(
        stats[0].1.count, 2,
        "the second writer saw the first one's values"
    );
    assert_eq!(read_sidecar(run.run_dir()).status, Status::Completed);
}

// ------------------------------------------------------------------ threads

#[test]
fn two_threads_log_concurrently() {
    let cache = tempfile::tempdir().unwrap();
    let run = Arc::new(RunWriter::create(cache.path(), quiet()).unwrap());
    let threads: Vec<_> = ["gpu0_loss", "gpu1_loss"]
        .into_iter()
        .enumerate()
        .map(|(t, metric)| {
            let run = Arc::clone(&run);
            std::thread::spawn(move || {
                for i in 0..1000u64 {
                    run.log_metrics(t as u64 * 1000 + i, [(metric, i as f64), ("shared", 1.0)])
                        .unwrap();
                    if i % 250 == 0 {
                        run.flush().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    run.finish(Status::Completed).unwrap();
    let stats: std::collections::HashMap<String, MetricStats> =
        run.metric_stats().into_iter().collect();
    assert_eq!(stats["gpu0_loss"].count, 1000);
    assert_eq!(stats["gpu1_loss"].count, 1000);
    assert_eq!(stats["shared"].count, 2000);
    assert_eq!(stats["gpu0_loss"].max, 999.0);

    let text = csv(run.run_dir());
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), 4);
    let mut steps: Vec<u64> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 4, "{line}");
            cells[0].parse().unwrap()
        })
        .collect();
    steps.sort_unstable();
    assert_eq!(steps, (0..2000).collect::<Vec<u64>>(), "every row, once");
}

// ------------------------------------------------------------------ safety

#[test]
fn a_crash_between_temp_write_and_rename_keeps_the_old_sidecar() {
    // The state such a crash leaves: the old sidecar, and a temp file
    // beside it holding part of the new one.
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet().notes("old")).unwrap();
    run.detach().unwrap();
    let dir = run.run_dir().to_owned();
    fs::write(
        dir.join(".sidecar.json.x7k2m9q1ab3c.tmp"),
        "{\n  \"schema_version\": 1,\n  \"run_",
    )
    .unwrap();

    let mut reg = registry(cache.path());
    let report = reg.scan(runreg::ScanMode::Full).unwrap();
    assert_eq!((report.total_sidecars, report.skipped_invalid), (1, 0));
    assert_eq!(reg.get(run.run_id()).unwrap().unwrap().notes, "old");

    let again = RunWriter::resume(&dir).unwrap();
    again.set_notes("new").unwrap();
    again.finish(Status::Completed).unwrap();
    assert_eq!(read_sidecar(&dir).notes, "new");
}

/// A real crash in the middle of a sidecar rewrite: a child process whose
/// file size limit kills it (SIGXFSZ) while it writes the temp file.
#[cfg(target_os = "linux")]
#[test]
fn a_process_killed_while_writing_the_sidecar_leaves_the_old_one() {
    use std::os::unix::process::ExitStatusExt;
    const SIGXFSZ: i32 = 25;

    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet().notes("before the crash")).unwrap();
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    run.detach().unwrap();
    let dir = run.run_dir().to_owned();
    let old = fs::read(dir.join("sidecar.json")).unwrap();

    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        // 64 blocks (of 512 bytes, or 1 KiB in bash): far more than the old
        // sidecar, far less than the new one.
        .arg("ulimit -f 64 && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("RUNREG_CRASH_CHILD_RUN", &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(fs::read(dir.join("sidecar.json")).unwrap(), old);
    let temps: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(".sidecar.json.") && name.ends_with(".tmp")
        })
        .collect();
    match (status.signal(), status.code()) {
        // Killed in the middle of writing the temp file: the crash.
        (Some(SIGXFSZ), _) => {
            assert_eq!(temps.len(), 1, "the crash left its temp file");
            // (`ulimit -f` counts 512-byte blocks in POSIX sh, 1 KiB in bash.)
            assert!(fs::metadata(&temps[0]).unwrap().len() <= 64 * 1024);
        }
        // Where SIGXFSZ is ignored the write fails instead, and the writer
        // cleans up its temp file.
        (None, Some(3)) => assert!(temps.is_empty(), "{temps:?}"),
        _ => panic!("the child was neither killed nor refused: {status:?}"),
    }

    let reg = registry(cache.path());
    let record = reg.get(run.run_id()).unwrap().unwrap();
    assert_eq!(record.notes, "before the crash");
    assert_eq!(record.summary["loss"], Value::Float(1.0));
    let again = RunWriter::resume(&dir).unwrap();
    again.finish(Status::Completed).unwrap();
    assert_eq!(read_sidecar(&dir).status, Status::Completed);
}

/// The child of the test above; does nothing in a normal test run.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("RUNREG_CRASH_CHILD_RUN") else {
        return;
    };
    let run = RunWriter::resume(&dir).unwrap();
    // A 1 MiB note makes the new sidecar exceed the file size limit.
    if run.set_notes("x".repeat(1 << 20)).is_err() {
        std::process::exit(3);
    }
    unreachable!("the write above must have failed or killed this process");
}

#[cfg(unix)]
#[test]
fn the_writer_never_writes_through_symlinks() {
    use std::os::unix::fs::symlink;
    let cache = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"precious").unwrap();

    let run = RunWriter::create(cache.path(), quiet()).unwrap();
    let dir = run.run_dir().to_owned();
    // sidecar.json and summary.json swapped for links: the rewrite replaces
    // the links, the target is untouched.
    for name in ["sidecar.json", "summary.json"] {
        fs::remove_file(dir.join(name)).unwrap();
        symlink(&victim, dir.join(name)).unwrap();
    }
    run.log_metrics(0, [("loss", 1.0)]).unwrap();
    run.flush().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(
        !fs::symlink_metadata(dir.join("sidecar.json"))
            .unwrap()
            .is_symlink()
    );
    run.detach().unwrap();

    // metrics.csv or heartbeat as links: the writer refuses them.
    fs::remove_file(dir.join("metrics.csv")).unwrap();
    symlink(&victim, dir.join("metrics.csv")).unwrap();
    let err = RunWriter::resume(&dir).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    fs::remove_file(dir.join("metrics.csv")).unwrap();
    fs::remove_file(dir.join("heartbeat")).unwrap();
    symlink(&victim, dir.join("heartbeat")).unwrap();
    let err = RunWriter::resume(&dir).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn everything_the_writer_creates_is_inside_the_run_directory() {
    let cache = tempfile::tempdir().unwrap();
    let run = RunWriter::create(cache.path(), quiet().run_id("r1")).unwrap();
    for step in 0..10 {
        run.log_metrics(step, [("loss", 1.0), (format!("m{step}").as_str(), 2.0)])
            .unwrap();
    }
    run.set_checkpoint("../../../../etc/passwd").unwrap();
    run.finish(Status::Completed).unwrap();
    let mut files = Vec::new();
    let mut stack = vec![cache.path().canonicalize().unwrap()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(
                    p.strip_prefix(run.run_dir().canonicalize().unwrap())
                        .map(Path::to_owned),
                );
            }
        }
    }
    let mut names: Vec<String> = files
        .into_iter()
        .map(|f| {
            f.expect("inside the run dir")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["heartbeat", "metrics.csv", "sidecar.json", "summary.json"]
    );
}
