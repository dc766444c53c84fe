//! Lists of runs stream (`ls --json`, `--jsonl`, `--csv`, `best`,
//! `export -`): the same bytes as a whole answer would print, and the cache
//! is not held while standard output is blocked, so a reader that stops
//! reading holds up no scan; a reader that goes away ends runreg quietly.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::Tree;
use runreg::Status;
use serde_json::Value as Json;

fn runreg(tree: &Tree) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runreg"));
    cmd.env_remove("RUNREG_CACHE_DIR")
        .env_remove("SPT_CACHE_DIR")
        .arg("--cache-dir")
        .arg(tree.cache_dir());
    cmd
}

/// More runs than one chunk (1,024) of a streamed answer.
fn big_tree(runs: usize) -> Tree {
    let tree = Tree::new();
    for i in 0..runs {
        let mut run = tree
            .run(&format!("run{i:05}"))
            .status(if i % 3 == 0 {
                Status::Failed
            } else {
                Status::Completed
            })
            .hparam("lr", 0.001 * i as f64)
            .tag("sweep:1")
            .at(&format!("20261201/{:06}/run{i:05}", i % 50));
        if i % 7 != 0 {
            run = run.metric("val_acc", (i % 101) as f64 / 100.0);
        }
        run.write();
    }
    runreg(&tree).arg("scan").assert().success();
    tree
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn json_lines_hold_the_records_of_json_in_order_over_several_chunks() {
    let tree = big_tree(2_500);
    let json: Vec<Json> = serde_json::from_str(&stdout(runreg(&tree).args([
        "ls",
        "--json",
        "--sort",
        "summary.val_acc",
    ])))
    .unwrap();
    let jsonl = stdout(runreg(&tree).args(["ls", "--jsonl", "--sort", "summary.val_acc"]));
    let lines: Vec<Json> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json.len(), 2_500);
    assert_eq!(lines, json);
    // Missing values last, over chunk boundaries too.
    let missing = json
        .iter()
        .position(|r| r["summary"].get("val_acc").is_none());
    assert_eq!(missing, Some(2_500 - 2_500 / 7 - 1));
}

#[test]
fn csv_streams_with_the_default_columns_of_the_whole_answer() {
    let tree = big_tree(1_500);
    let csv = stdout(runreg(&tree).args(["ls", "--csv", "--sort", "run_id:asc"]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("run_id,status,alive,created_at,tags,summary.val_acc")
    );
    assert_eq!(lines.clone().count(), 1_500);
    assert!(lines.next().unwrap().starts_with("run00000,failed,false,"));
}

#[test]
fn json_and_jsonl_print_exactly_what_serde_json_prints_of_the_records() {
    // Over chunk boundaries, with what JSON must escape or spell out:
    // NaN and infinities, nested and empty containers, non-ASCII and
    // control characters, runs with and without each key.
    let tree = Tree::new();
    for i in 0..2_100 {
        let mut run = tree
            .run(&format!("r{i:05}"))
            .status(if i % 5 == 0 {
                Status::Failed
            } else {
                Status::Completed
            })
            .tag(if i % 2 == 0 { "sweep:\"1\"" } else { "é\tü" })
            .hparam("lr", 0.001 * i as f64)
            .hparam(if i % 3 == 0 { "name" } else { "other" }, "x\ny ☃")
            .notes(if i % 4 == 0 { "multi\nline \u{1}" } else { "" })
            .at(&format!("20261201/{:06}/r{i:05}", i % 60));
        run = match i % 4 {
            0 => run.metric("loss", f64::NAN),
            1 => run.metric("loss", f64::INFINITY),
            2 => run.metric("loss", i as i64),
            _ => run,
        };
        if i % 7 == 0 {
            use runreg::Value;
            let layers = Value::List(vec![
                Value::Int(1),
                Value::Map(vec![("k".into(), Value::List(vec![]))]),
                Value::Map(vec![]),
            ]);
            run = run.config(
                "model",
                Value::Map(vec![
                    ("layers".into(), layers),
                    ("empty".into(), Value::Map(vec![])),
                ]),
            );
        }
        run.write();
    }
    runreg(&tree).arg("scan").assert().success();
    let registry = runreg::Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap();
    let records = registry.query(&runreg::Query::new()).unwrap();
    assert_eq!(records.len(), 2_100);
    let json = stdout(runreg(&tree).args(["--no-scan", "ls", "--json"]));
    assert_eq!(json, serde_json::to_string_pretty(&records).unwrap() + "\n");
    let jsonl = stdout(runreg(&tree).args(["--no-scan", "ls", "--jsonl"]));
    let lines: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    assert_eq!(jsonl, lines);
    // Exported to files (from one snapshot, chunks made on every core):
    // the same text; CSV as `export -` prints it.
    let out = tempfile::tempdir().unwrap();
    for (name, expected) in [
        ("runs.json", json),
        ("runs.jsonl", jsonl),
        (
            "runs.csv",
            stdout(runreg(&tree).args(["--no-scan", "export", "-"])),
        ),
    ] {
        let file = out.path().join(name);
        runreg(&tree)
            .args(["--no-scan", "export"])
            .arg(&file)
            .assert()
            .success();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), expected, "{name}");
    }
}

#[test]
fn csv_default_columns_match_the_json_of_the_same_query_in_either_detail() {
    let tree = big_tree(1_500);
    // Sorted by a summary metric (the summary detail, one first pass for
    // runs and keys) and by an hparam (whole records; the sort key's column
    // joins the defaults).
    for (sort, header) in [
        (
            "summary.val_acc:asc",
            "run_id,status,alive,created_at,tags,summary.val_acc",
        ),
        (
            "hparams.lr",
            "run_id,status,alive,created_at,tags,hparams.lr,summary.val_acc",
        ),
    ] {
        let csv =
            stdout(runreg(&tree).args(["ls", "--csv", "--status", "completed", "--sort", sort]));
        let json: Vec<Json> = serde_json::from_str(&stdout(runreg(&tree).args([
            "ls",
            "--json",
            "--status",
            "completed",
            "--sort",
            sort,
        ])))
        .unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(header), "{sort}");
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 1_000, "{sort}");
        for (row, run) in rows.iter().zip(&json) {
            assert_eq!(row[0], run["run_id"].as_str().unwrap(), "{sort}");
            assert_eq!(row[1], "completed");
            // Numbers compared as numbers: serde_json's default parser may
            // be one unit in the last place off the exact text.
            let close = |cell: &str, value: Option<&Json>| match value {
                None => cell.is_empty(),
                Some(v) => (cell.parse::<f64>().unwrap() - v.as_f64().unwrap()).abs() < 1e-12,
            };
            assert!(
                close(row.last().unwrap(), run["summary"].get("val_acc")),
                "{sort}: {row:?}"
            );
            if sort == "hparams.lr" {
                assert!(close(row[5], run["hparams"].get("lr")), "{row:?}");
            }
        }
    }
}

#[test]
fn best_streams_only_the_runs_it_can_rank() {
    let tree = big_tree(1_500);
    let jsonl =
        stdout(runreg(&tree).args(["best", "val_acc", "-n", "2000", "--jsonl", "--any-status"]));
    let ranked: Vec<Json> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ranked.len(), 1_500 - 1_500_usize.div_ceil(7));
    let accs: Vec<f64> = ranked
        .iter()
        .map(|r| r["summary"]["val_acc"].as_f64().unwrap())
        .collect();
    assert!(accs.windows(2).all(|w| w[0] >= w[1]), "best first");
    let csv = stdout(runreg(&tree).args(["best", "val_acc", "-n", "3", "--csv"]));
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].starts_with("rank,run_id,summary.val_acc,"),
        "{}",
        rows[0]
    );
    assert!(rows[3].starts_with("3,"), "{}", rows[3]);
}

#[test]
fn a_blocked_reader_holds_up_no_scan() {
    let tree = big_tree(3_000);
    // stdout is a pipe nobody reads: runreg blocks once the pipe is full.
    let mut ls = Process::new(env!("CARGO_BIN_EXE_runreg"))
        .arg("--cache-dir")
        .arg(tree.cache_dir())
        .args(["ls", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        ls.try_wait().unwrap().is_none(),
        "ls is blocked on its pipe"
    );
    let started = Instant::now();
    runreg(&tree)
        .args(["--lock-timeout", "5", "scan", "--full"])
        .assert()
        .success();
    let waited = started.elapsed();
    println!("figure: full scan beside a blocked ls --json = {waited:?}");
    // Now read everything: the answer is whole and valid.
    let mut text = String::new();
    ls.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    assert!(ls.wait().unwrap().success());
    let runs: Vec<Json> = serde_json::from_str(&text).unwrap();
    assert_eq!(runs.len(), 3_000);
}

#[test]
fn a_reader_that_goes_away_mid_stream_ends_runreg_quietly() {
    let tree = big_tree(2_000);
    for args in [
        ["ls", "--json"],
        ["ls", "--jsonl"],
        ["ls", "--csv"],
        ["export", "-"],
    ] {
        let mut child = Process::new(env!("CARGO_BIN_EXE_runreg"))
            .arg("--cache-dir")
            .arg(tree.cache_dir())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}
