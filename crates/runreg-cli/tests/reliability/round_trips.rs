//! Item 8's property tests, end to end through the files: what the writer
//! writes reads back the same (sidecar write and read), and whatever a
//! sidecar holds comes back the same from the cache (record encode and
//! decode, through a scan and a query). The in-memory round trips are unit
//! tests in `src/sidecar`; the fuzz targets are in `fuzz/`.

use std::collections::BTreeMap;
use std::fs;

use proptest::prelude::*;
use runreg::{Registry, RunOptions, RunRecord, RunWriter, Sidecar, Status, Value, ValueMap};

/// Equal, strictly: same variant, floats bit for bit (any NaN equals any
/// NaN), maps in the same order.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => same_f64(*x, *y),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => false,
    }
}

fn same_f64(x: f64, y: f64) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

fn same_map(a: &ValueMap, b: &ValueMap) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

fn same_time(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_f64(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(5e-324),
            Just(1e16),
            Just(0.1),
        ],
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        float().prop_map(Value::Float),
        any::<String>().prop_map(Value::from),
    ]
}

/// Any JSON value; objects without repeated keys (a repeated key keeps its
/// last value when read, as in Python, so it could not come back).
fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            prop::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Map(m.into_iter().collect())),
        ]
    })
}

fn map() -> impl Strategy<Value = ValueMap> {
    prop::collection::btree_map(any::<String>(), value(), 0..5).prop_map(ValueMap::from)
}

fn time() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(float())
}

fn sidecar() -> impl Strategy<Value = Sidecar> {
    (
        (
            prop::option::of(any::<i64>()),
            "\\PC{1,12}",
            prop::option::of(any::<String>()),
            prop_oneof![
                Just(String::new()),
                "running|completed|failed|interrupted|orphaned",
                any::<String>()
            ],
            time(),
            time(),
            time(),
        ),
        (
            prop::collection::vec(any::<String>(), 0..5),
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
                hparams,
                summary,
                checkpoint_path,
                config,
            },
        )
}

/// Whether the cache's record holds what the sidecar holds.
fn record_matches(record: &RunRecord, sidecar: &Sidecar) -> Result<(), TestCaseError> {
    prop_assert_eq!(&record.run_id, &sidecar.run_id);
    prop_assert_eq!(&record.status, &sidecar.status);
    if let Some(created) = sidecar.created_at {
        prop_assert!(
            same_f64(record.created_at, created),
            "created_at {record:?}"
        );
    }
    if let Some(updated) = sidecar.updated_at {
        prop_assert!(
            same_f64(record.updated_at, updated),
            "updated_at {record:?}"
        );
    }
    prop_assert!(
        same_time(record.ended_at, sidecar.ended_at),
        "ended_at {record:?}"
    );
    prop_assert_eq!(&record.tags, &sidecar.tags);
    prop_assert_eq!(&record.notes, &sidecar.notes);
    prop_assert_eq!(&record.checkpoint_path, &sidecar.checkpoint_path);
    prop_assert!(
        same_map(&record.hparams, &sidecar.hparams),
        "hparams {record:?}"
    );
    prop_assert!(
        same_map(&record.summary, &sidecar.summary),
        "summary {record:?}"
    );
    prop_assert!(
        same_map(&record.config, &sidecar.config),
        "config {record:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Record encode/decode, end to end: sidecars of any content, written
    /// as Python writes them, scanned into the cache and read back whole.
    #[test]
    fn what_a_sidecar_holds_comes_back_from_the_cache(
        sidecars in prop::collection::vec(sidecar(), 1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        for (k, mut sidecar) in sidecars.into_iter().enumerate() {
            sidecar.run_id = format!("{k}-{}", sidecar.run_id);
            let run_dir = dir.path().join("runs").join(k.to_string());
            fs::create_dir_all(&run_dir).unwrap();
            fs::write(run_dir.join("sidecar.json"), sidecar.to_json()).unwrap();
            written.push((sidecar, run_dir));
        }
        let registry = Registry::open(dir.path()).unwrap();
        prop_assert_eq!(registry.last_scan().unwrap().skipped_invalid, 0);
        for (sidecar, run_dir) in &written {
            let record = registry.get(&sidecar.run_id).unwrap().unwrap();
            record_matches(&record, sidecar)?;
            prop_assert_eq!(&record.run_dir, &run_dir.canonicalize().unwrap().to_string_lossy().into_owned());
        }
        let all = registry.query(&runreg::Query::new()).unwrap();
        prop_assert_eq!(all.len(), written.len());
        for record in &all {
            let (sidecar, _) = written.iter().find(|(s, _)| s.run_id == record.run_id).unwrap();
            record_matches(record, sidecar)?;
        }
    }

    /// Sidecar write and read, through the writer: tags, notes, hparams and
    /// the last value of every metric read back as given, from the file and
    /// from the cache.
    #[test]
    fn what_the_writer_writes_reads_back_the_same(
        tags in prop::collection::btree_set(any::<String>(), 0..4),
        notes in any::<String>(),
        hparams in prop::collection::btree_map(any::<String>(), scalar(), 0..6),
        steps in prop::collection::vec(prop::collection::vec(("\\PC{1,8}", float()), 1..4), 1..4),
        status in prop_oneof![Just(Status::Completed), Just(Status::Failed), Just(Status::Interrupted)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let tags: Vec<String> = tags.into_iter().collect();
        let mut options = RunOptions::new().tags(tags.clone()).notes(notes.clone()).slurm_sweep_tag(false);
        for (key, value) in &hparams {
            options = options.hparam(key.clone(), value.clone());
        }
        let run = RunWriter::create(dir.path(), options).unwrap();
        let mut last: BTreeMap<String, f64> = BTreeMap::new();
        for (step, metrics) in steps.iter().enumerate() {
            run.log_metrics(step as u64, metrics.iter().map(|(k, v)| (k.as_str(), *v))).unwrap();
            for (k, v) in metrics {
                last.insert(k.clone(), *v);
            }
        }
        let run_dir = run.run_dir().to_path_buf();
        let run_id = run.run_id().to_owned();
        run.finish(status.clone()).unwrap();

        let (read, _) = Sidecar::read(&run_dir.join("sidecar.json")).unwrap();
        prop_assert_eq!(&read.run_id, &run_id);
        prop_assert_eq!(&read.tags, &tags);
        prop_assert_eq!(&read.notes, &notes);
        prop_assert_eq!(&read.status, &status);
        prop_assert!(same_map(&read.hparams, &ValueMap::from(hparams.clone())), "hparams {:?}", read.hparams);
        let summary: ValueMap =
            last.into_iter().map(|(k, v)| (k, Value::Float(v))).collect();
        prop_assert!(same_map(&read.summary, &summary), "summary {:?} != {:?}", read.summary, summary);
        prop_assert!(read.ended_at.is_some());
        prop_assert!(read.created_at <= read.updated_at);

        let registry = Registry::open(dir.path()).unwrap();
        let record = registry.get(&run_id).unwrap().unwrap();
        record_matches(&record, &read)?;
    }
}
