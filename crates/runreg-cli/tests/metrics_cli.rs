//! `runreg metrics` and `runreg diff`, black-box, on a small fixture: exact
//! output of each format, and each refusal with its exit code.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use common::{Tree, now};
use runreg::{Status, Value};

/// Three runs: `aa11` and `aa22` share a prefix; `bb33` is the same as
/// `aa11` but for a few values.
struct Fixture {
    tree: Tree,
    dirs: Vec<PathBuf>,
}

impl Fixture {
    fn new() -> Fixture {
        let tree = Tree::new();
        let t0 = (now() / 60.0).floor() * 60.0 - 3.0 * 3600.0;
        let mut a = tree
            .run("aa11")
            .status(Status::Completed)
            .created(t0)
            .hparam("optim.lr", 0.01)
            .hparam("batch_size", 256_i64)
            .hparam("seed", 1_i64)
            .hparam("warmup", f64::NAN)
            .metric("val_acc", 0.91)
            .metric("train_loss", 0.12);
        a.sidecar.config.insert(
            "optim",
            Value::Map(vec![
                ("name".to_owned(), Value::from("sgd")),
                ("momentum".to_owned(), Value::Float(0.9)),
            ]),
        );
        let a = a.write();
        let b = tree
            .run("bb33")
            .status(Status::Completed)
            .created(t0 - 60.0)
            .hparam("optim.lr", 0.1)
            .hparam("batch_size", 256.0)
            .hparam("seed", 1_i64)
            .hparam("warmup", f64::NAN)
            .hparam("dropout", 0.5)
            .metric("val_acc", 0.85)
            .metric("train_loss", 0.12)
            .config(
                "optim",
                Value::Map(vec![
                    ("name".to_owned(), Value::from("adamw")),
                    ("momentum".to_owned(), Value::Float(0.9)),
                ]),
            )
            .write();
        let c = tree
            .run("aa22")
            .status(Status::Running)
            .created(t0 - 120.0)
            .write();
        Fixture {
            tree,
            dirs: vec![a, b, c],
        }
    }

    fn runreg(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runreg"));
        for var in [
            "RUNREG_CACHE_DIR",
            "SPT_CACHE_DIR",
            "COLUMNS",
            "CLICOLOR_FORCE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("NO_COLOR", "1")
            .arg("--cache-dir")
            .arg(self.tree.cache_dir());
        cmd
    }

    fn metrics_csv(&self, run: usize, text: &str) {
        fs::write(self.dirs[run].join("metrics.csv"), text).unwrap();
    }
}

/// Lightning's layout: epoch first, sparse rows, CRLF, a last line being
/// written.
const LIGHTNING: &str = "epoch,step,train_loss,val_acc\r\n0,0,1.5,\r\n0,1,1.25,\r\n0,1,,0.5\r\n1,2,nan,\r\n1,3,oops,0.75\r\n1,4,0.2";

fn out(cmd: &mut Command) -> (String, String) {
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{cmd:?}: {output:?}");
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_prints_a_table_and_notes_what_it_skipped() {
    let f = Fixture::new();
    f.metrics_csv(0, LIGHTNING);
    let (stdout, stderr) = out(f.runreg().args(["metrics", "aa1"]));
    assert_eq!(
        stdout,
        "\
step  epoch  train_loss  val_acc
   0      0         1.5        -
   1      0        1.25        -
   1      0           -      0.5
   2      1         NaN        -
   3      1           -     0.75
"
    );
    assert_eq!(
        stderr,
        "\
runreg: note: metrics.csv: 1 cell of \"train_loss\" is not a number (first on line 6)
runreg: note: metrics.csv: line 7 is not finished (a run still writing?); ignored
"
    );
}

#[test]
fn metrics_selects_columns_and_the_last_rows() {
    let f = Fixture::new();
    f.metrics_csv(0, LIGHTNING);
    let (stdout, stderr) = out(f
        .runreg()
        .args(["-q", "metrics", "aa11", "-m", "val_acc", "-n", "1"]));
    assert_eq!(stdout, "step  epoch  val_acc\n   3      1     0.75\n");
    assert_eq!(stderr, "");
    let (_, stderr) = out(f
        .runreg()
        .args(["metrics", "aa11", "-m", "val_acc", "-n", "1"]));
    assert!(
        stderr.contains("runreg: note: the last 1 of 2 rows; -n 0 shows them all"),
        "{stderr}"
    );
}

#[test]
fn metrics_csv_and_json() {
    let f = Fixture::new();
    f.metrics_csv(0, LIGHTNING);
    let (stdout, _) = out(f.runreg().args(["-q", "metrics", "aa11", "--csv"]));
    assert_eq!(
        stdout,
        "step,epoch,train_loss,val_acc\n0,0,1.5,\n1,0,1.25,\n1,0,,0.5\n2,1,NaN,\n3,1,,0.75\n"
    );
    let (stdout, _) = out(f
        .runreg()
        .args(["-q", "metrics", "aa11", "--json", "-m", "train_loss"]));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "run_id": "aa11",
            "rows": 5,
            "metrics": [{"name": "train_loss", "count": 3, "points": [
                {"step": 0, "value": 1.5},
                {"step": 1, "value": 1.25},
                {"step": 2, "value": "NaN"},
            ]}],
            "issues": {
                "bad_cells": [{"column": "train_loss", "lines": {"count": 1, "first": 6}}],
                "wide_rows": null,
                "rows_without_step": null,
                "long_lines": null,
                "duplicate_columns": [],
                "partial_last_line": 7,
            },
        })
    );
}

#[test]
fn metrics_points_keeps_a_spike() {
    let f = Fixture::new();
    let mut text = String::from("step,loss\n");
    for step in 0..1000 {
        let loss = if step == 617 { 99.0 } else { 1.0 };
        text.push_str(&format!("{step},{loss}\n"));
    }
    f.metrics_csv(0, &text);
    let (stdout, _) = out(f
        .runreg()
        .args(["metrics", "aa11", "--points", "2", "--csv"]));
    // Buckets double in width as the rows come: two buckets are left,
    // rows 0-511 and 512-999; each keeps its first and last (its minimum
    // is its first, ties keeping the earlier), and the second its maximum,
    // the spike.
    assert_eq!(
        stdout,
        "step,loss\n0,1.0\n511,1.0\n512,1.0\n617,99.0\n999,1.0\n"
    );
}

#[test]
fn metrics_of_a_run_without_metrics_csv_fails() {
    let f = Fixture::new();
    let dir = f.dirs[2].canonicalize().unwrap();
    f.runreg()
        .args(["metrics", "aa22"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "runreg: run \"aa22\" has no metrics.csv (looked in {})\n",
            dir.display()
        ));
}

#[test]
fn metrics_names_an_unknown_metric_and_an_ambiguous_prefix() {
    let f = Fixture::new();
    f.metrics_csv(0, "step,loss\n0,1\n");
    let path = f.dirs[0].canonicalize().unwrap().join("metrics.csv");
    f.runreg()
        .args(["metrics", "aa11", "-m", "acc"])
        .assert()
        .code(1)
        .stderr(format!(
            "runreg: {} has no metric \"acc\"; its metrics: loss\n",
            path.display()
        ));
    f.runreg().args(["metrics", "aa"]).assert().code(1).stderr(
        "runreg: \"aa\" is the start of several run ids: aa11, aa22; give more of the id\n",
    );
}

#[cfg(unix)]
#[test]
fn metrics_does_not_follow_a_symlink_out_of_the_run_directory() {
    let f = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.csv");
    fs::write(&secret, "step,secret\n0,42\n").unwrap();
    std::os::unix::fs::symlink(&secret, f.dirs[0].join("metrics.csv")).unwrap();
    let assert = f
        .runreg()
        .args(["metrics", "aa11"])
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(!stderr.contains("42"));
}

// ---------------------------------------------------------------- diff

#[test]
fn diff_prints_what_differs_and_counts_what_is_equal() {
    let f = Fixture::new();
    let (stdout, stderr) = out(f.runreg().args(["diff", "aa1", "bb"]));
    assert_eq!(
        stdout,
        concat!(
            "              aa11  bb33\n",
            "hparams\n",
            "  dropout     -     0.5\n",
            "  optim.lr    0.01  0.1\n",
            "config\n",
            "  optim.name  sgd   adamw\n",
            "summary\n",
            "  val_acc     0.91  0.85\n",
            "\n",
            "3 hparams equal, 1 config equal, 1 summary equal\n"
        )
    );
    assert_eq!(stderr, "");
}

#[test]
fn diff_json_and_the_same_run_twice() {
    let f = Fixture::new();
    let (stdout, _) = out(f.runreg().args(["diff", "aa11", "bb33", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "runs": ["aa11", "bb33"],
            "differ": {
                "hparams": {"dropout": [null, 0.5], "optim.lr": [0.01, 0.1]},
                "config": {"optim.name": ["sgd", "adamw"]},
                "summary": {"val_acc": [0.91, 0.85]},
            },
            "equal": {"hparams": 3, "config": 1, "summary": 1},
        })
    );
    let (stdout, _) = out(f.runreg().args(["diff", "aa11", "aa11"]));
    assert_eq!(
        stdout,
        "no differences\n\n4 hparams equal, 2 config equal, 2 summary equal\n"
    );
}

#[test]
fn diff_needs_two_runs_that_exist() {
    let f = Fixture::new();
    f.runreg()
        .args(["diff", "aa11"])
        .assert()
        .code(2)
        .stdout("");
    f.runreg()
        .args(["diff", "aa11", "zz"])
        .assert()
        .code(1)
        .stdout("");
}
