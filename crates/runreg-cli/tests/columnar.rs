//! `runreg export` to Parquet and Arrow IPC, read back with arrow-rs's own
//! readers: every cell equal to what `runreg ls --json` says of the same
//! runs, NaN and infinities kept, missing values null (never NaN), types as
//! the columnar docs say (src/columnar/mod.rs).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use assert_cmd::Command;
use common::Tree;
use runreg::{Status, Value};
use serde_json::Value as Json;

fn runreg(tree: &Tree) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runreg"));
    cmd.env_remove("RUNREG_CACHE_DIR")
        .env_remove("SPT_CACHE_DIR")
        .arg("--cache-dir")
        .arg(tree.cache_dir());
    cmd
}

/// Runs with every kind of value: NaN and infinities, ints and floats under
/// one key, a key mixing kinds, keys some runs lack, a null, many tags,
/// non-ASCII text, nested config.
fn tree() -> Tree {
    let tree = Tree::new();
    let mut first = tree
        .run("r1")
        .status(Status::Completed)
        .hparam("optim.lr", 0.1)
        .hparam("seed", 1_i64)
        .hparam("name", "ünïcødé データ")
        .hparam("pretrained", true)
        .hparam("mix", 1_i64)
        .metric("val_acc", f64::NAN)
        .metric("loss", f64::INFINITY)
        .notes("héllo\nworld, \"quoted\"");
    for i in 0..60 {
        first = first.tag(&format!("tag-{i}-ß"));
    }
    first.sidecar.ended_at = Some(1_795_000_000.25);
    first.sidecar.checkpoint_path = Some("/ckpt/r1/best.ckpt".to_owned());
    first.sidecar.config.insert(
        "optim",
        Value::Map(vec![
            ("name".to_owned(), Value::from("sgd")),
            ("lr".to_owned(), Value::Float(f64::NAN)),
        ]),
    );
    first.write();
    tree.run("r2")
        .status(Status::Failed)
        .hparam("optim.lr", 1_i64)
        .hparam("seed", 2_i64)
        .hparam("pretrained", false)
        .hparam("mix", "one")
        .metric("val_acc", 0.5)
        .metric("loss", f64::NEG_INFINITY)
        .metric("extra", Value::Null)
        .tag("sweep:1")
        .write();
    tree.run("r3").status(Status::Running).write();
    tree
}

fn export(tree: &Tree, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let file = tree.cache_dir().join(name);
    runreg(tree)
        .arg("export")
        .arg(&file)
        .args(extra)
        .assert()
        .success();
    file
}

fn read_parquet(file: &Path) -> Vec<RecordBatch> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        File::open(file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    reader.map(Result::unwrap).collect()
}

fn read_ipc(file: &Path) -> Vec<RecordBatch> {
    arrow_ipc::reader::FileReader::try_new(File::open(file).unwrap(), None)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `ls --json`, by run id.
fn json_runs(tree: &Tree) -> BTreeMap<String, Json> {
    let out = runreg(tree).args(["ls", "--json"]).output().unwrap();
    assert!(out.status.success());
    let runs: Vec<Json> = serde_json::from_slice(&out.stdout).unwrap();
    runs.into_iter()
        .map(|r| (r["run_id"].as_str().unwrap().to_owned(), r))
        .collect()
}

/// `--json` writes non-finite floats as these strings.
fn json_float(v: &Json) -> Option<f64> {
    match v {
        Json::String(s) if s == "NaN" => Some(f64::NAN),
        Json::String(s) if s == "Infinity" => Some(f64::INFINITY),
        Json::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
        other => other.as_f64(),
    }
}

fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// The JSON value of `run` under a column name (`hparams.optim.lr` is the
/// hparam `optim.lr`); `Json::Null` when absent.
fn json_cell<'a>(run: &'a Json, column: &str) -> &'a Json {
    match column.split_once('.') {
        Some((map @ ("hparams" | "summary"), key)) => run[map].get(key).unwrap_or(&Json::Null),
        _ => &run[column],
    }
}

/// Checks every cell of `batches` against `ls --json`.
fn check_against_json(batches: &[RecordBatch], runs: &BTreeMap<String, Json>) {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, runs.len());
    let mut cells = 0;
    for batch in batches {
        let schema = batch.schema();
        let ids = batch.column(0).as_string::<i32>();
        for row in 0..batch.num_rows() {
            let run = &runs[ids.value(row)];
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                let name = field.name();
                let expected = json_cell(run, name);
                check_cell(name, column.as_ref(), row, expected);
                cells += 1;
            }
        }
    }
    assert_eq!(cells, rows * batches[0].num_columns(), "every cell checked");
}

fn check_cell(name: &str, column: &dyn Array, row: usize, expected: &Json) {
    let at = format!("{name} of row {row}");
    if column.is_null(row) {
        assert!(expected.is_null(), "{at}: null, JSON has {expected}");
        return;
    }
    match name {
        "status" => {
            let dict = column.as_dictionary::<Int32Type>();
            let values = dict.values().as_string::<i32>();
            let key = dict.keys().value(row) as usize;
            assert_eq!(values.value(key), expected.as_str().unwrap(), "{at}");
        }
        "created_at" | "updated_at" | "ended_at" => {
            let us = column.as_primitive::<TimestampMicrosecondType>().value(row);
            // Whole microseconds of the JSON's seconds, to within one: an
            // mtime has nanoseconds, and serde_json's default float parsing
            // (no `float_roundtrip`) may land one ulp off, across a half.
            let seconds = expected.as_f64().unwrap();
            let want = (seconds * 1e6).round() as i64;
            assert!((us - want).abs() <= 1, "{at}: {us} against {want}");
        }
        "tags" => {
            let list = column.as_list::<i32>().value(row);
            let tags: Vec<&str> = list.as_string::<i32>().iter().map(Option::unwrap).collect();
            let want: Vec<&str> = expected
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(tags, want, "{at}");
        }
        "config" => {
            let text = column.as_string::<i32>().value(row);
            assert_eq!(
                &serde_json::from_str::<Json>(text).unwrap(),
                expected,
                "{at}"
            );
        }
        _ => match column.data_type() {
            DataType::Boolean => {
                assert_eq!(
                    Some(column.as_boolean().value(row)),
                    expected.as_bool(),
                    "{at}"
                )
            }
            DataType::Int64 => {
                let v = column.as_primitive::<Int64Type>().value(row);
                assert_eq!(Some(v), expected.as_i64(), "{at}");
            }
            DataType::Float64 => {
                let v = column.as_primitive::<Float64Type>().value(row);
                let want = json_float(expected).unwrap_or_else(|| panic!("{at}: {expected}"));
                assert!(same_float(v, want), "{at}: {v} against {expected}");
            }
            DataType::Utf8 => {
                let text = column.as_string::<i32>().value(row);
                match expected {
                    // A string column holds the string; a column of mixed
                    // kinds holds each value's JSON text.
                    Json::String(s) if text == s => {}
                    other => assert_eq!(
                        &serde_json::from_str::<Json>(text).unwrap(),
                        other,
                        "{at}: {text}"
                    ),
                }
            }
            other => panic!("{at}: unexpected type {other}"),
        },
    }
}

#[test]
fn parquet_and_arrow_files_hold_what_json_says() {
    let tree = tree();
    let runs = json_runs(&tree);
    let parquet = read_parquet(&export(&tree, "runs.parquet", &[]));
    check_against_json(&parquet, &runs);
    let ipc = read_ipc(&export(&tree, "runs.arrow", &[]));
    check_against_json(&ipc, &runs);
    assert_eq!(parquet[0].schema().fields(), ipc[0].schema().fields());
}

#[test]
fn columns_are_typed_from_their_values_in_a_stable_order() {
    let tree = tree();
    let batches = read_ipc(&export(&tree, "runs.feather", &[]));
    let schema = batches[0].schema();
    let columns: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let text = DataType::Utf8;
    let expected = [
        ("run_id", text.clone()),
        (
            "status",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        ),
        ("alive", DataType::Boolean),
        ("created_at", utc.clone()),
        ("updated_at", utc.clone()),
        ("ended_at", utc),
        ("run_dir", text.clone()),
        ("checkpoint_path", text.clone()),
        ("notes", text.clone()),
        (
            "tags",
            DataType::List(Arc::new(arrow_schema::Field::new_list_field(
                DataType::Utf8,
                true,
            ))),
        ),
        ("config", text.clone()),
        // An int under one run, a string under another: JSON text.
        ("hparams.mix", text.clone()),
        ("hparams.name", text.clone()),
        // 0.1 and 1: float64.
        ("hparams.optim.lr", DataType::Float64),
        ("hparams.pretrained", DataType::Boolean),
        ("hparams.seed", DataType::Int64),
        // Only nulls: JSON text (all null).
        ("summary.extra", text),
        ("summary.loss", DataType::Float64),
        ("summary.val_acc", DataType::Float64),
    ];
    let expected: Vec<(&str, &DataType)> = expected.iter().map(|(n, t)| (*n, t)).collect();
    assert_eq!(columns, expected);
}

#[test]
fn an_empty_answer_is_a_file_with_the_fixed_columns_and_no_row() {
    let tree = tree();
    let file = export(&tree, "none.parquet", &["--tag", "no-such-tag"]);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        File::open(&file).unwrap(),
    )
    .unwrap();
    let schema = reader.schema().clone();
    assert_eq!(schema.fields().len(), 11);
    assert_eq!(
        reader
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum::<usize>(),
        0
    );
}

#[test]
fn the_parquet_file_names_the_query_and_runreg_s_version_and_its_codec() {
    let tree = tree();
    let file = export(
        &tree,
        "failed.parquet",
        &["--status", "failed", "--compression", "gzip"],
    );
    let reader =
        parquet::file::reader::SerializedFileReader::new(File::open(&file).unwrap()).unwrap();
    let meta = parquet::file::reader::FileReader::metadata(&reader);
    let kv: BTreeMap<String, String> = meta
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(kv["runreg.version"], env!("CARGO_PKG_VERSION"));
    assert!(
        kv["runreg.query"].contains("--status failed"),
        "{}",
        kv["runreg.query"]
    );
    assert!(!kv["runreg.query"].contains("failed.parquet"));
    let codec = meta.row_group(0).column(0).compression();
    assert!(
        matches!(codec, parquet::basic::Compression::GZIP(_)),
        "{codec:?}"
    );
    assert_eq!(meta.file_metadata().num_rows(), 1);
}

#[test]
fn codecs_a_format_cannot_use_and_columnar_stdout_are_usage_errors() {
    let tree = tree();
    let out = tree.cache_dir().join("x.arrow");
    runreg(&tree)
        .arg("export")
        .arg(&out)
        .args(["--compression", "brotli"])
        .assert()
        .code(2)
        .stderr("runreg: Arrow IPC files take --compression none or lz4, not brotli\n");
    assert!(!out.exists(), "nothing written");
    runreg(&tree)
        .args(["export", "-", "--format", "parquet"])
        .assert()
        .code(2)
        .stderr("runreg: Parquet and Arrow files are written to a FILE, not to stdout\n");
    runreg(&tree)
        .arg("export")
        .arg(tree.cache_dir().join("x.csv"))
        .args(["--compression", "lz4"])
        .assert()
        .code(2)
        .stderr("runreg: --compression applies to Parquet and Arrow files only\n");
}

#[test]
fn a_json_export_is_the_array_ls_json_prints() {
    let tree = tree();
    let file = export(&tree, "runs.json", &[]);
    let out = runreg(&tree).args(["ls", "--json"]).output().unwrap();
    assert_eq!(std::fs::read(file).unwrap(), out.stdout);
    let none = export(&tree, "none.json", &["--tag", "nope"]);
    let out = runreg(&tree)
        .args(["ls", "--json", "--tag", "nope"])
        .output()
        .unwrap();
    assert_eq!(std::fs::read(none).unwrap(), out.stdout);
}

#[test]
fn answers_of_many_batches_with_statuses_in_any_order_export_to_every_columnar_format() {
    // More runs than one record batch holds (4,096), the newest (the first
    // batch, in the default order) all completed, then failed and running
    // ones: an Arrow IPC file allows one dictionary a field, so every batch
    // must carry the answer's whole status dictionary.
    let tree = Tree::new();
    let runs = 4_200;
    for i in 0..runs {
        let status = match i {
            0..50 => Status::Running,
            50..100 => Status::Failed,
            _ => Status::Completed,
        };
        tree.run(&format!("r{i:05}"))
            .status(status)
            .created(1_790_000_000.0 + i as f64)
            .write();
    }
    let json = json_runs(&tree);
    for name in ["runs.arrow", "runs.parquet"] {
        let file = export(&tree, name, &[]);
        let batches = if name.ends_with(".arrow") {
            read_ipc(&file)
        } else {
            read_parquet(&file)
        };
        assert!(batches.len() > 1, "{name}: {} batches", batches.len());
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            runs,
            "{name}"
        );
        check_against_json(&batches, &json);
    }
}

/// Columns whose values are one of a kind per run (ids, paths, times,
/// metrics) are written without a dictionary; the others (statuses, tags,
/// hparams) keep theirs. Every column chunk has its statistics.
#[test]
fn only_columns_of_repeated_values_get_a_parquet_dictionary() {
    let tree = tree();
    let file = export(&tree, "runs.parquet", &[]);
    let reader =
        parquet::file::reader::SerializedFileReader::new(File::open(&file).unwrap()).unwrap();
    let meta = parquet::file::reader::FileReader::metadata(&reader);
    let group = meta.row_group(0);
    let mut seen = BTreeMap::new();
    for column in group.columns() {
        let name = column.column_path().string();
        let dictionary = column.dictionary_page_offset().is_some();
        seen.insert(name, dictionary);
    }
    for name in [
        "run_id",
        "run_dir",
        "checkpoint_path",
        "config",
        "created_at",
        "updated_at",
        "ended_at",
        "summary.val_acc",
        "summary.loss",
    ] {
        assert_eq!(seen.get(name), Some(&false), "{name}: {seen:?}");
    }
    for name in [
        "status",
        "notes",
        "hparams.optim.lr",
        "hparams.name",
        "hparams.seed",
    ] {
        assert_eq!(seen.get(name), Some(&true), "{name}: {seen:?}");
    }
    // Each column chunk carries its min and max, which engines prune row
    // groups by.
    for column in group.columns() {
        let name = column.column_path().string();
        if ["hparams.seed", "created_at", "run_id"].contains(&name.as_str()) {
            let stats = column
                .statistics()
                .unwrap_or_else(|| panic!("{name}: no statistics"));
            assert!(
                stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some(),
                "{name}"
            );
        }
    }
}
