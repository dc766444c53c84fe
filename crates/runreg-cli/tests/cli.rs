//! The `runreg` binary, black-box: each subcommand run on a fixture tree,
//! its exact output (table, JSON, CSV), and each error with its exit code.
//!
//! Determinism: every run of the fixture was created a little over three
//! hours ago (`3h ago` for a good while), live runs beat an hour ago under a
//! two-hour heartbeat timeout, absolute times are printed in UTC (`TZ`), and
//! stdout is a pipe, so tables are not cut unless `COLUMNS` says so.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use common::{Tree, now};
use runreg::{Status, Value};

/// The fixture: five runs, newest first a1b2c3, a1ff00, b7e1a9, c3d4e5,
/// d9d9d9.
struct Fixture {
    tree: Tree,
    /// created_at of the newest run (whole seconds, about 3 h ago).
    t0: f64,
}

impl Fixture {
    fn new() -> Fixture {
        let tree = Tree::new();
        let t0 = (now() / 60.0).floor() * 60.0 - 3.0 * 3600.0;

        let mut best = tree
            .run("a1b2c3")
            .status(Status::Completed)
            .created(t0)
            .updated(t0 + 600.0)
            .tag("resnet50")
            .tag("sweep:1")
            .hparam("optim.lr", 0.01)
            .hparam("batch_size", 256_i64)
            .metric("val_acc", 0.91)
            .metric("train_loss", 0.12)
            .notes("baseline run\nsecond try of the lr");
        best.sidecar.ended_at = Some(t0 + 600.0);
        best.sidecar.checkpoint_path = Some("/ckpt/a1b2c3/best.ckpt".to_owned());
        best.sidecar.config.insert(
            "optim",
            Value::Map(vec![
                ("name".to_owned(), Value::from("sgd")),
                ("lr".to_owned(), Value::Float(0.01)),
            ]),
        );
        best.write();
        tree.run("a1ff00")
            .status(Status::Completed)
            .created(t0 - 60.0)
            .updated(t0 - 60.0)
            .tag("resnet50")
            .tag("sweep:1")
            .hparam("optim.lr", 0.1)
            .hparam("batch_size", 256_i64)
            .metric("val_acc", 0.85)
            .metric("train_loss", 0.2)
            .write();
        tree.run("b7e1a9")
            .status(Status::Failed)
            .created(t0 - 120.0)
            .updated(t0 - 120.0)
            .tag("sweep:1")
            .hparam("optim.lr", 1.0)
            .hparam("batch_size", 128_i64)
            .metric("val_acc", 0.5)
            .metric("train_loss", f64::NAN)
            .write();
        tree.run("c3d4e5")
            .status(Status::Running)
            .created(t0 - 180.0)
            .updated(t0 - 180.0)
            .tag("vit")
            .hparam("optim.lr", 0.001)
            .metric("val_acc", 0.7)
            .heartbeat(3600.0)
            .write();
        tree.run("d9d9d9")
            .status(Status::Interrupted)
            .created(t0 - 240.0)
            .updated(t0 - 240.0)
            .write();
        Fixture { tree, t0 }
    }

    /// `runreg --cache-dir <tree>` with a deterministic environment.
    fn runreg(&self) -> Command {
        let mut cmd = bare();
        cmd.arg("--cache-dir").arg(self.tree.cache_dir());
        cmd
    }

    /// The canonical cache directory (run_dir values start with it).
    fn dir(&self) -> PathBuf {
        self.tree.cache_dir().canonicalize().unwrap()
    }

    /// Where run `id` (the `n`th written, from 0) lives.
    fn run_dir(&self, n: u32, id: &str) -> String {
        self.dir()
            .join(format!("runs/20261101/{:06}/{id}", 120000 + n))
            .display()
            .to_string()
    }

    /// `t0 + offset` as CSV and JSON print it.
    fn at(&self, offset: f64) -> String {
        Value::Float(self.t0 + offset).to_string()
    }

    /// `t0 + offset` as `show` prints it (UTC).
    fn utc(&self, offset: f64) -> String {
        jiff::Timestamp::from_second((self.t0 + offset) as i64)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string()
    }
}

/// `runreg` with no cache directory and a deterministic environment.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runreg"));
    for var in [
        "RUNREG_CACHE_DIR",
        "RUNREG_IO_THREADS",
        "SPT_CACHE_DIR",
        "NO_COLOR",
        "COLUMNS",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TZ", "UTC").args(["--heartbeat-timeout", "7200"]);
    cmd
}

/// Runs `cmd`, expecting success and nothing on stderr; returns stdout.
fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let (so, se) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {se}",
        out.status
    );
    assert_eq!(se, "", "{cmd:?} wrote to stderr");
    so
}

/// Runs `cmd`, expecting exit `code`, nothing on stdout and `message` as
/// the whole of stderr.
fn fails(cmd: &mut Command, code: i32, message: &str) {
    cmd.assert()
        .code(code)
        .stdout("")
        .stderr(format!("runreg: {message}\n"));
}

// ---------------------------------------------------------------- ls

#[test]
fn ls_prints_a_table_of_the_runs_newest_first() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().arg("ls")),
        "\
run_id  status       alive  age     tags              val_acc  train_loss
a1b2c3  completed    no     3h ago  resnet50,sweep:1     0.91        0.12
a1ff00  completed    no     3h ago  resnet50,sweep:1     0.85         0.2
b7e1a9  failed       no     3h ago  sweep:1               0.5         NaN
c3d4e5  running      yes    3h ago  vit                   0.7           -
d9d9d9  interrupted  no     3h ago  -                       -           -
5 runs
"
    );
}

#[test]
fn ls_filters_sorts_and_pages() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().args([
            "ls",
            "--sort",
            "summary.val_acc",
            "--asc",
            "-c",
            "run_id,summary.val_acc,hparams.optim.lr",
        ])),
        "\
run_id  val_acc  hparams.optim.lr
b7e1a9      0.5                 1
c3d4e5      0.7             0.001
a1ff00     0.85               0.1
a1b2c3     0.91              0.01
d9d9d9        -                 -
5 runs
"
    );
    let ids = |args: &[&str]| -> String {
        let mut cmd = f.runreg();
        cmd.arg("ls").args(args).args(["-c", "run_id", "--csv"]);
        stdout(&mut cmd)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(ids(&["--status", "completed"]), "a1b2c3 a1ff00");
    assert_eq!(ids(&["--alive"]), "c3d4e5");
    assert_eq!(ids(&["--dead", "--tag", "sweep:1"]), "a1b2c3 a1ff00 b7e1a9");
    assert_eq!(ids(&["--hparam", "optim.lr=0.1"]), "a1ff00");
    assert_eq!(
        ids(&["--hparam", "batch_size=256", "--sort", "run_id"]),
        "a1ff00 a1b2c3"
    );
    assert_eq!(
        ids(&["--tag", "sweep:1", "-n", "1", "--offset", "1"]),
        "a1ff00"
    );
    assert_eq!(ids(&["--asc", "-n", "2"]), "d9d9d9 c3d4e5");
}

#[test]
fn where_filters_with_expressions() {
    let f = Fixture::new();
    let ids = |expr: &str| -> String {
        let mut cmd = f.runreg();
        cmd.args([
            "ls",
            "--where",
            expr,
            "-c",
            "run_id",
            "--csv",
            "--sort",
            "run_id:asc",
        ]);
        stdout(&mut cmd)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(ids("summary.val_acc > 0.8"), "a1b2c3 a1ff00");
    assert_eq!(
        ids("hparams.optim.lr in (0.1, 1) or tags has 'vit'"),
        "a1ff00 b7e1a9 c3d4e5"
    );
    assert_eq!(
        ids("not summary.train_loss < 1"),
        "b7e1a9 c3d4e5 d9d9d9",
        "NaN and missing fail the comparison"
    );
    assert_eq!(ids("not exists summary.val_acc"), "d9d9d9");
    assert_eq!(ids("run_id ~ 'a1*' and created_at > -1d"), "a1b2c3 a1ff00");
    assert_eq!(ids("created_at < -1d"), "");
    // Repeated --where: all must hold, with the other filters too.
    let mut cmd = f.runreg();
    cmd.args([
        "ls",
        "--tag",
        "sweep:1",
        "--where",
        "summary.val_acc > 0.6",
        "--where",
        "hparams.batch_size = 256",
    ]);
    cmd.args(["-c", "run_id", "--csv"]);
    assert_eq!(stdout(&mut cmd), "run_id\na1b2c3\na1ff00\n");
}

#[test]
fn where_errors_point_at_the_problem() {
    let f = Fixture::new();
    f.runreg()
        .args(["ls", "--where", "sumary.acc > 1"])
        .assert()
        .code(2)
        .stdout("")
        .stderr("runreg: invalid filter: unknown field `sumary.acc`: did you mean `summary.`? at column 1\n  sumary.acc > 1\n  ^\n");
    f.runreg()
        .args(["best", "val_acc", "--where", "summary.val_acc >"])
        .assert()
        .code(2)
        .stderr("runreg: invalid filter: expected a value (a number, a 'string', true, false, null), found the end at column 18\n  summary.val_acc >\n                   ^\n");
}

#[test]
fn sort_takes_a_list_of_keys_with_directions() {
    let f = Fixture::new();
    let ids = |sort: &str, extra: &[&str]| -> String {
        let mut cmd = f.runreg();
        cmd.args(["ls", "--sort", sort, "-c", "run_id", "--csv"])
            .args(extra);
        stdout(&mut cmd)
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        ids("hparams.batch_size:desc,summary.val_acc:asc", &[]),
        "a1ff00 a1b2c3 b7e1a9 c3d4e5 d9d9d9"
    );
    assert_eq!(
        ids("hparams.batch_size,summary.val_acc", &["--asc"]),
        "b7e1a9 a1ff00 a1b2c3 c3d4e5 d9d9d9"
    );
    assert_eq!(
        ids("status:asc,created_at:desc", &[]),
        "a1b2c3 a1ff00 b7e1a9 d9d9d9 c3d4e5"
    );
    assert_eq!(
        ids("status:asc,created_at:desc", &["-n", "2", "--offset", "1"]),
        "a1ff00 b7e1a9"
    );
    let out = f
        .runreg()
        .args(["ls", "--sort", "summary.val_acc,metrics.x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "runreg: --sort \"metrics.x\": `metrics` is not one of summary, hparams, config\n"
    );
}

#[test]
fn ls_adds_the_sort_key_as_a_column() {
    let f = Fixture::new();
    assert_eq!(
        stdout(
            f.runreg()
                .args(["ls", "--sort", "hparams.optim.lr", "-n", "2"])
        ),
        "\
run_id  status     alive  age     tags              hparams.optim.lr  val_acc  train_loss
b7e1a9  failed     no     3h ago  sweep:1                          1      0.5         NaN
a1ff00  completed  no     3h ago  resnet50,sweep:1               0.1     0.85         0.2
2 runs
"
    );
}

#[test]
fn ls_says_when_nothing_matches() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().args(["ls", "--tag", "nope"])),
        "no runs match\n"
    );
    assert_eq!(
        stdout(f.runreg().args(["ls", "--tag", "nope", "--json"])),
        "[]\n"
    );
    let empty = Tree::new();
    assert_eq!(
        stdout(bare().arg("--cache-dir").arg(empty.cache_dir()).arg("ls")),
        "no runs\n"
    );
}

#[test]
fn ls_json_is_an_array_of_records() {
    let f = Fixture::new();
    let expected = format!(
        r#"[
  {{
    "run_id": "c3d4e5",
    "status": "running",
    "created_at": {created},
    "updated_at": {created},
    "ended_at": null,
    "alive": true,
    "run_dir": "{dir}",
    "checkpoint_path": null,
    "config": {{}},
    "hparams": {{
      "optim.lr": 0.001
    }},
    "summary": {{
      "val_acc": 0.7
    }},
    "tags": [
      "vit"
    ],
    "notes": ""
  }}
]
"#,
        created = f.at(-180.0),
        dir = f.run_dir(3, "c3d4e5"),
    );
    assert_eq!(
        stdout(f.runreg().args(["ls", "--tag", "vit", "--json"])),
        expected
    );

    // Every run, NaN written as a string (RFC 8259 has no NaN).
    let all: serde_json::Value =
        serde_json::from_str(&stdout(f.runreg().args(["ls", "--json"]))).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[2]["summary"]["train_loss"], "NaN");
}

#[test]
fn ls_csv_has_raw_values_and_quotes_what_needs_it() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().args(["ls", "--csv", "-n", "3"])),
        format!(
            "\
run_id,status,alive,created_at,tags,summary.val_acc,summary.train_loss
a1b2c3,completed,false,{},\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\",0.91,0.12
a1ff00,completed,false,{},\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\",0.85,0.2
b7e1a9,failed,false,{},\"[\"\"sweep:1\"\"]\",0.5,NaN
",
            f.at(0.0),
            f.at(-60.0),
            f.at(-120.0)
        )
    );
    assert_eq!(
        stdout(f.runreg().args([
            "ls",
            "--csv",
            "--status",
            "completed",
            "-c",
            "run_id,notes,checkpoint_path,config.optim.name"
        ])),
        "\
run_id,notes,checkpoint_path,config.optim.name
a1b2c3,\"baseline run\nsecond try of the lr\",/ckpt/a1b2c3/best.ckpt,sgd
a1ff00,,,
"
    );
    // Ages are whole seconds since created: a little over 3 h.
    let ages = stdout(
        f.runreg()
            .args(["ls", "--csv", "-c", "run_id,age,heartbeat"]),
    );
    let lines: Vec<Vec<&str>> = ages.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[0], ["run_id", "age", "heartbeat"]);
    for line in &lines[1..] {
        let age: u64 = line[1].parse().unwrap();
        assert!((3 * 3600..4 * 3600).contains(&age), "{line:?}");
        let beat = (line[0] == "c3d4e5").then(|| line[2].parse::<u64>().unwrap());
        assert!(beat.is_none_or(|b| (3600..3700).contains(&b)), "{line:?}");
        assert_eq!(line[2].is_empty(), line[0] != "c3d4e5", "{line:?}");
    }
}

#[test]
fn tables_fit_columns_cutting_free_text_and_leaving_out_extra_metrics() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().env("COLUMNS", "50").args(["ls", "-n", "2"])),
        "\
run_id  status     alive  age     tags
a1b2c3  completed  no     3h ago  resnet50,sweep:1
a1ff00  completed  no     3h ago  resnet50,sweep:1
2 runs
"
    );
    assert_eq!(
        stdout(f.runreg().env("COLUMNS", "42").args(["ls", "-n", "2"])),
        "\
run_id  status     alive  age     tags
a1b2c3  completed  no     3h ago  resnet5…
a1ff00  completed  no     3h ago  resnet5…
2 runs
"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let f = Fixture::new();
    let plain = stdout(f.runreg().args(["ls", "--alive"]));
    assert!(!plain.contains('\u{1b}'));
    let coloured = stdout(f.runreg().args(["ls", "--alive", "--color", "always"]));
    assert!(
        coloured.contains("\u{1b}[1mrun_id\u{1b}[0m"),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("\u{1b}[36mrunning\u{1b}[0m"),
        "{coloured:?}"
    );
    let never = stdout(
        f.runreg()
            .env("NO_COLOR", "1")
            .args(["ls", "--alive", "--color", "auto"]),
    );
    assert_eq!(never, plain);
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let f = Fixture::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runreg"))
        .arg("--cache-dir")
        .arg(f.tree.cache_dir())
        .arg("ls")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before runreg writes a byte.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn watch_redraws_until_interrupted() {
    let f = Fixture::new();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runreg"))
        .env("TZ", "UTC")
        .args(["--heartbeat-timeout", "7200", "--cache-dir"])
        .arg(f.tree.cache_dir())
        .args(["ls", "--alive", "--watch", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read what it prints as it prints it; stop it after ~2 s (or up to
    // 10 s on a slow machine) once two frames are out.
    let mut pipe = child.stdout.take().unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&printed);
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut chunk) {
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let started = std::time::Instant::now();
    let frames_so_far = || {
        let bytes = printed.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .matches("Every 0.5s: ")
            .count()
    };
    while started.elapsed() < Duration::from_secs(2)
        || (frames_so_far() < 2 && started.elapsed() < Duration::from_secs(10))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    let frames: Vec<&str> = text.split("\n\nEvery").collect();
    assert!(frames.len() >= 2, "fewer than two frames:\n{text}");
    // Not a terminal: no escape sequences, frames one after another.
    assert!(!text.contains('\u{1b}'));
    let first = frames[0];
    assert!(
        first.starts_with("Every 0.5s: runreg --heartbeat-timeout 7200 --cache-dir "),
        "{first}"
    );
    assert!(
        first.ends_with("\n\nrun_id  status   alive  age     tags  val_acc\nc3d4e5  running  yes    3h ago  vit       0.7\n1 run"),
        "{first}"
    );
}

#[test]
fn watch_needs_a_positive_interval_and_a_table() {
    let f = Fixture::new();
    fails(
        f.runreg().args(["ls", "--watch", "0"]),
        2,
        "--watch takes a number of seconds greater than 0, as in --watch 5",
    );
    f.runreg()
        .args(["ls", "--watch", "1", "--json"])
        .assert()
        .code(2)
        .stdout("");
}

// ---------------------------------------------------------------- show

#[test]
fn show_prints_one_run_readably() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().args(["show", "a1b2c3"])),
        format!(
            "\
run_id      a1b2c3
status      completed
alive       no (completed)
created     {created} (3h ago)
updated     {updated} (2h ago)
ended       {updated} (2h ago)
run_dir     {dir}
checkpoint  /ckpt/a1b2c3/best.ckpt
tags        resnet50, sweep:1
notes       baseline run
            second try of the lr

summary
  train_loss  0.12
  val_acc     0.91

hparams
  batch_size  256
  optim.lr    0.01

config
  optim.lr    0.01
  optim.name  sgd
",
            created = f.utc(0.0),
            updated = f.utc(600.0),
            dir = f.run_dir(0, "a1b2c3"),
        )
    );
}

#[test]
fn show_tells_liveness_with_the_heartbeat_age() {
    let f = Fixture::new();
    let alive = stdout(f.runreg().args(["show", "c3d4e5"]));
    assert!(
        alive.contains("\nalive       yes (heartbeat 1h ago)\n"),
        "{alive}"
    );
    let stale = stdout(
        f.runreg()
            .args(["--heartbeat-timeout", "60", "show", "c3d4e5"]),
    );
    assert!(
        stale.contains("\nalive       no (heartbeat 1h ago, older than the 60s timeout)\n"),
        "{stale}"
    );
    let bare = stdout(f.runreg().args(["show", "d9d9d9"]));
    assert!(
        bare.contains("\nalive       no (no heartbeat file)\n"),
        "{bare}"
    );
    assert!(
        bare.ends_with("tags        -\nnotes       -\n\nsummary (none)\n\nhparams (none)\n"),
        "{bare}"
    );
}

#[test]
fn show_accepts_a_unique_prefix_and_lists_an_ambiguous_ones_candidates() {
    let f = Fixture::new();
    assert!(stdout(f.runreg().args(["show", "c3"])).starts_with("run_id      c3d4e5\n"));
    fails(
        f.runreg().args(["show", "a1"]),
        1,
        "\"a1\" is the start of several run ids: a1b2c3, a1ff00; give more of the id",
    );
}

#[test]
fn show_json_is_one_record() {
    let f = Fixture::new();
    let one: serde_json::Value =
        serde_json::from_str(&stdout(f.runreg().args(["show", "b7", "--json"]))).unwrap();
    let listed: serde_json::Value = serde_json::from_str(&stdout(
        f.runreg().args(["ls", "--status", "failed", "--json"]),
    ))
    .unwrap();
    assert_eq!(one, listed[0]);
    assert_eq!(one["summary"]["train_loss"], "NaN");
}

#[test]
fn show_of_an_absent_run_fails_with_not_found() {
    let f = Fixture::new();
    fails(
        f.runreg().args(["show", "zzz"]),
        1,
        &format!(
            "run \"zzz\" not found in {}; 'runreg ls' lists the runs",
            f.dir().display()
        ),
    );
}

// ---------------------------------------------------------------- best

#[test]
fn best_ranks_completed_runs_highest_first() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().args(["best", "val_acc"])),
        "\
#  run_id  val_acc  age     tags
1  a1b2c3     0.91  3h ago  resnet50,sweep:1
2  a1ff00     0.85  3h ago  resnet50,sweep:1
"
    );
    assert_eq!(
        stdout(
            f.runreg()
                .args(["best", "summary.val_acc", "--any-status", "-n", "3"])
        ),
        "\
#  run_id  val_acc  status     age     tags
1  a1b2c3     0.91  completed  3h ago  resnet50,sweep:1
2  a1ff00     0.85  completed  3h ago  resnet50,sweep:1
3  c3d4e5      0.7  running    3h ago  vit
"
    );
}

#[test]
fn best_never_ranks_missing_or_nan_values() {
    let f = Fixture::new();
    // b7e1a9's loss is NaN and two runs have none: only two are ranked,
    // lowest first.
    assert_eq!(
        stdout(f.runreg().args([
            "best",
            "train_loss",
            "--asc",
            "--any-status",
            "-c",
            "run_id,summary.train_loss"
        ])),
        "\
#  run_id  train_loss
1  a1b2c3        0.12
2  a1ff00         0.2
"
    );
    f.runreg()
        .args(["best", "train_loss", "--status", "failed", "--json"])
        .assert()
        .success()
        .stdout("[]\n")
        .stderr(
            "runreg: the only failed run has no value for \"train_loss\" (NaN does not count); its metrics: train_loss, val_acc\n",
        );
}

#[test]
fn best_json_and_csv() {
    let f = Fixture::new();
    let ranked: serde_json::Value = serde_json::from_str(&stdout(
        f.runreg().args(["best", "val_acc", "--json", "-n", "1"]),
    ))
    .unwrap();
    assert_eq!(ranked.as_array().unwrap().len(), 1);
    assert_eq!(ranked[0]["run_id"], "a1b2c3");
    assert_eq!(
        stdout(
            f.runreg()
                .args(["best", "val_acc", "--csv", "--tag", "resnet50"])
        ),
        format!(
            "\
rank,run_id,summary.val_acc,status,created_at,tags
1,a1b2c3,0.91,completed,{},\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\"
2,a1ff00,0.85,completed,{},\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\"
",
            f.at(0.0),
            f.at(-60.0)
        )
    );
}

#[test]
fn best_explains_an_empty_ranking() {
    let f = Fixture::new();
    f.runreg()
        .args(["best", "val_acc_typo"])
        .assert()
        .success()
        .stdout("")
        .stderr(
            "runreg: none of the 2 completed runs has a value for \"val_acc_typo\" (NaN does not count); their metrics: train_loss, val_acc\n",
        );
    f.runreg()
        .args(["best", "val_acc", "--tag", "nope"])
        .assert()
        .success()
        .stdout("")
        .stderr("runreg: no completed runs match the filters, so none to rank\n");
    f.runreg()
        .args(["best", "val_acc", "--any-status", "--status", "failed"])
        .assert()
        .code(2)
        .stdout("");
}

// ---------------------------------------------------------------- export

#[test]
fn export_writes_csv_with_every_hparam_and_metric() {
    let f = Fixture::new();
    let out = f.tree.cache_dir().join("out.csv");
    f.runreg()
        .args(["export"])
        .arg(&out)
        .args(["--status", "completed", "--sort", "run_id", "--asc"])
        .assert()
        .success()
        .stdout("")
        .stderr(format!("runreg: wrote 2 runs to {}\n", out.display()));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "\
run_id,status,alive,created_at,updated_at,ended_at,run_dir,checkpoint_path,tags,notes,hparams.batch_size,hparams.optim.lr,summary.train_loss,summary.val_acc
a1b2c3,completed,false,{t0},{t600},{t600},{d0},/ckpt/a1b2c3/best.ckpt,\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\",\"baseline run
second try of the lr\",256,0.01,0.12,0.91
a1ff00,completed,false,{t60},{t60},,{d1},,\"[\"\"resnet50\"\",\"\"sweep:1\"\"]\",,256,0.1,0.2,0.85
",
            t0 = f.at(0.0),
            t600 = f.at(600.0),
            t60 = f.at(-60.0),
            d0 = f.run_dir(0, "a1b2c3"),
            d1 = f.run_dir(1, "a1ff00"),
        )
    );
}

#[test]
fn export_refuses_to_overwrite_without_force() {
    let f = Fixture::new();
    let out = f.tree.cache_dir().join("runs.csv");
    std::fs::write(&out, "precious").unwrap();
    fails(
        f.runreg().arg("export").arg(&out),
        1,
        &format!(
            "{} already exists; pass --force to overwrite it",
            out.display()
        ),
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    f.runreg()
        .arg("--quiet")
        .arg("export")
        .arg(&out)
        .arg("--force")
        .assert()
        .success()
        .stderr("");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("run_id,status,alive,"), "{written}");
    assert!(written.contains("\nd9d9d9,interrupted,false,"), "{written}");
}

#[test]
fn export_jsonl_holds_one_record_per_line() {
    let f = Fixture::new();
    let out = f.tree.cache_dir().join("runs.jsonl");
    f.runreg().arg("export").arg(&out).assert().success();
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(f.runreg().args(["ls", "--json"]))).unwrap();
    assert_eq!(lines, listed);

    // `-` is stdout (CSV unless --format says otherwise), with no note.
    let piped = stdout(f.runreg().args(["export", "-", "--format", "jsonl"]));
    assert_eq!(piped, text);
    let csv = stdout(f.runreg().args(["export", "-", "--alive"]));
    assert!(csv.starts_with("run_id,status,alive,created_at,"), "{csv}");
    assert_eq!(csv.lines().count(), 2);

    // Streamed to a file: refused over an existing one, written beside and
    // renamed over it with --force, sorted and paged as `ls`.
    fails(
        f.runreg().arg("export").arg(&out),
        1,
        &format!(
            "{} already exists; pass --force to overwrite it",
            out.display()
        ),
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    let args = ["--sort", "created_at", "-n", "2"];
    f.runreg()
        .arg("export")
        .arg(&out)
        .arg("--force")
        .args(args)
        .assert()
        .success()
        .stderr(format!("runreg: wrote 2 runs to {}\n", out.display()));
    let paged: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(f.runreg().args(["ls", "--json"]).args(args))).unwrap();
    assert_eq!(paged, listed);
    let leftovers: Vec<_> = std::fs::read_dir(f.tree.cache_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn export_needs_a_known_format() {
    let f = Fixture::new();
    let out = f.tree.cache_dir().join("runs.txt");
    fails(
        f.runreg().arg("export").arg(&out),
        2,
        &format!(
            "cannot tell the format of {} from its extension: name it .parquet, .arrow, .csv, .jsonl or .json, or pass --format",
            out.display()
        ),
    );
    assert!(!out.exists());
    f.runreg()
        .arg("export")
        .arg(&out)
        .args(["--format", "csv", "-q"])
        .assert()
        .success();
    assert!(out.exists());
}

// ---------------------------------------------------------------- tags, status

#[test]
fn tags_lists_each_tag_with_its_run_count() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().arg("tags")),
        "\
tag       runs
resnet50     2
sweep:1      3
vit          1
"
    );
    assert_eq!(
        stdout(f.runreg().args(["tags", "--prefix", "sweep:", "--json"])),
        "[\n  {\n    \"tag\": \"sweep:1\",\n    \"runs\": 3\n  }\n]\n"
    );
    assert_eq!(
        stdout(f.runreg().args(["tags", "--prefix", "x"])),
        "no tags start with \"x\"\n"
    );
}

#[test]
fn status_counts_runs_by_status_and_liveness() {
    let f = Fixture::new();
    assert_eq!(
        stdout(f.runreg().arg("status")),
        "\
status       runs  alive
running         1      1
completed       2      0
failed          1      0
interrupted     1      0
orphaned        0      0
total           5      1
"
    );
    assert_eq!(
        stdout(f.runreg().args(["status", "--tag", "sweep:1", "--json"])),
        r#"{
  "total": {
    "runs": 3,
    "alive": 0
  },
  "by_status": {
    "running": {
      "runs": 0,
      "alive": 0
    },
    "completed": {
      "runs": 2,
      "alive": 0
    },
    "failed": {
      "runs": 1,
      "alive": 0
    },
    "interrupted": {
      "runs": 0,
      "alive": 0
    },
    "orphaned": {
      "runs": 0,
      "alive": 0
    }
  }
}
"#
    );
}

#[test]
fn status_lists_other_statuses_after_the_known_ones() {
    let f = Fixture::new();
    f.tree
        .run("e0e0e0")
        .status(Status::Other("paused".to_owned()))
        .created(f.t0 - 300.0)
        .tag("sweep:1")
        .heartbeat(60.0)
        .write();
    let by_tag = "\
status       runs  alive
running         0      0
completed       2      0
failed          1      0
interrupted     0      0
orphaned        0      0
paused          1      1
total           4      1
";
    assert_eq!(
        stdout(f.runreg().args(["status", "--tag", "sweep:1"])),
        by_tag
    );
    assert_eq!(
        stdout(f.runreg().args(["status", "--alive"])),
        "\
status       runs  alive
running         1      1
completed       0      0
failed          0      0
interrupted     0      0
orphaned        0      0
paused          1      1
total           2      2
"
    );
}

// ---------------------------------------------------------------- gc, scan

#[test]
fn gc_removes_orphans_from_the_cache_only() {
    let f = Fixture::new();
    stdout(f.runreg().arg("scan"));
    let gone = PathBuf::from(f.run_dir(2, "b7e1a9"));
    let aside = f.tree.cache_dir().join("aside");
    std::fs::rename(&gone, &aside).unwrap();

    assert_eq!(
        stdout(f.runreg().args(["gc", "--dry-run"])),
        "would remove b7e1a9\n1 orphaned run to remove; run 'runreg gc' to remove it from the cache\n"
    );
    assert_eq!(
        stdout(f.runreg().args(["gc", "--dry-run", "--json"])),
        "{\n  \"dry_run\": true,\n  \"orphans\": [\n    \"b7e1a9\"\n  ]\n}\n"
    );
    assert_eq!(
        stdout(f.runreg().arg("gc")),
        "removed b7e1a9\nremoved 1 orphaned run from the cache (run directories are never touched)\n"
    );
    assert_eq!(stdout(f.runreg().arg("gc")), "no orphaned runs\n");
    assert!(aside.join("sidecar.json").exists());
    assert_eq!(
        stdout(f.runreg().args(["ls", "-c", "run_id", "--csv"])),
        "run_id\na1b2c3\na1ff00\nc3d4e5\nd9d9d9\n"
    );
}

#[test]
fn scan_reports_what_it_did() {
    let f = Fixture::new();
    let text = stdout(f.runreg().args(["scan", "--full"]));
    let (head, tail) = text.split_once(" ms: ").unwrap();
    assert!(head.starts_with("scanned 5 sidecars in "), "{text}");
    assert_eq!(
        tail,
        "5 upserted, 0 unchanged, 0 invalid, 0 orphaned, 0 duplicated, 0 errors\n"
    );
    let report: serde_json::Value =
        serde_json::from_str(&stdout(f.runreg().args(["scan", "--json"]))).unwrap();
    assert_eq!(report["total_sidecars"], 5);
    assert_eq!(report["skipped_unchanged"], 5);
}

/// Every directory changed at once (a restore, a remount that renumbers
/// inodes): a rescan lists them all on its I/O threads, and still within a
/// small limit of open files: no listing keeps its directory open.
#[test]
fn a_rescan_of_many_changed_directories_stays_within_the_open_file_limit() {
    let tree = Tree::new();
    for i in 0..600 {
        tree.run(&format!("run{i:03}")).write();
    }
    tree.age_tree();
    let scan = |tree: &Tree| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("ulimit -n 128 && exec \"$0\" --cache-dir \"$1\" scan --json")
            .arg(env!("CARGO_BIN_EXE_runreg"))
            .arg(tree.cache_dir())
            .env_remove("RUNREG_CACHE_DIR")
            .env_remove("SPT_CACHE_DIR");
        let report: serde_json::Value = serde_json::from_str(&stdout(&mut cmd)).unwrap();
        report
    };
    assert_eq!(scan(&tree)["upserted"], 600);
    // Every directory under runs/ gets another mtime, out of the racy window.
    let mut dirs = vec![tree.runs()];
    let mut changed = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            }
        }
        common::set_mtime(&dir, now() - 1800.0);
        changed += 1;
    }
    assert!(changed > 600, "{changed}");
    let report = scan(&tree);
    let errors = report["errors"].as_array().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first {}",
        errors.len(),
        errors[0]
    );
    assert_eq!(report["skipped_unchanged"], 600, "{report}");
    assert!(report["dirs_read"].as_u64().unwrap() > 600, "{report}");
}

// ---------------------------------------------------------------- help, completions

#[test]
fn completions_need_no_cache_directory() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(bare().args(["completions", shell]));
        assert!(script.contains("runreg"), "{shell}");
        assert!(script.contains("export"), "{shell}");
    }
    bare().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn every_command_help_ends_with_examples() {
    let top = stdout(bare().arg("--help"));
    for needle in [
        "--cache-dir",
        "RUNREG_CACHE_DIR",
        "SPT_CACHE_DIR",
        "Examples:",
    ] {
        assert!(top.contains(needle), "runreg --help lacks {needle}");
    }
    for command in [
        "scan",
        "ls",
        "show",
        "best",
        "export",
        "tags",
        "status",
        "gc",
        "completions",
    ] {
        let help = stdout(bare().args([command, "--help"]));
        let (_, examples) = help
            .rsplit_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("runreg {command} --help has no examples"));
        let lines: Vec<&str> = examples.lines().collect();
        assert!(
            (2..=3).contains(&lines.len())
                && lines
                    .iter()
                    .all(|l| l.starts_with(&format!("  runreg {command}"))),
            "runreg {command} --help examples: {lines:?}"
        );
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn no_cache_directory_says_how_to_give_one() {
    fails(
        bare().arg("ls"),
        2,
        "no cache directory: pass --cache-dir DIR or set RUNREG_CACHE_DIR (or SPT_CACHE_DIR)",
    );
}

#[test]
fn a_missing_cache_directory_is_named_with_its_source() {
    let f = Fixture::new();
    let missing = f.tree.cache_dir().join("nope");
    fails(
        bare().arg("--cache-dir").arg(&missing).arg("status"),
        1,
        &format!(
            "cache directory {} (from --cache-dir) does not exist; give the directory that holds runs/",
            missing.display()
        ),
    );
    fails(
        bare().env("SPT_CACHE_DIR", &missing).arg("ls"),
        1,
        &format!(
            "cache directory {} (from SPT_CACHE_DIR) does not exist; give the directory that holds runs/",
            missing.display()
        ),
    );
    // RUNREG_CACHE_DIR wins over SPT_CACHE_DIR.
    let listed = stdout(
        bare()
            .env("RUNREG_CACHE_DIR", f.tree.cache_dir())
            .env("SPT_CACHE_DIR", &missing)
            .args(["ls", "--csv", "-c", "run_id", "-n", "1"]),
    );
    assert_eq!(listed, "run_id\na1b2c3\n");
}

/// The library says what is wrong with the cache; the command line adds
/// which command puts it right.
#[test]
fn cache_errors_say_which_command_puts_them_right() {
    let f = Fixture::new();
    let db = f.dir().join("registry.redb");
    fails(
        f.runreg().args(["--no-scan", "ls"]),
        1,
        &format!(
            "cache {}: no cache yet: run `runreg scan` to build it",
            db.display()
        ),
    );

    // Another program's redb file: a scan moves it aside and rebuilds.
    {
        let other = redb::Database::create(&db).unwrap();
        let txn = other.begin_write().unwrap();
        let table: redb::TableDefinition<u64, &str> = redb::TableDefinition::new("experiments");
        txn.open_table(table).unwrap().insert(1, "theirs").unwrap();
        txn.commit().unwrap();
    }
    fails(
        f.runreg().args(["--no-scan", "ls"]),
        1,
        &format!(
            "cache {}: cache format unknown is not this runreg's (7): run `runreg scan` to rebuild it",
            db.display()
        ),
    );
    f.runreg().arg("scan").assert().success();
    stdout(f.runreg().args(["--no-scan", "show", "a1b2c3"]));

    // An undecodable record: a full scan reads its sidecar again.
    {
        let cache = redb::Database::open(&db).unwrap();
        let txn = cache.begin_write().unwrap();
        // The runs table is keyed by (order, run id): the record is
        // overwritten where it is.
        let runs: redb::TableDefinition<(u64, &str), &[u8]> = redb::TableDefinition::new("runs");
        let mut table = txn.open_table(runs).unwrap();
        let order = redb::ReadableTable::iter(&table)
            .unwrap()
            .map(|entry| entry.unwrap().0.value().0)
            .find(|&order| {
                redb::ReadableTable::get(&table, (order, "a1b2c3"))
                    .unwrap()
                    .is_some()
            })
            .unwrap();
        table
            .insert((order, "a1b2c3"), &b"\xff garbage"[..])
            .unwrap();
        drop(table);
        txn.commit().unwrap();
    }
    let out = f
        .runreg()
        .args(["--no-scan", "show", "a1b2c3"])
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let prefix = format!("runreg: cache {}: run a1b2c3: ", db.display());
    assert!(
        stderr.starts_with(&prefix)
            && stderr.ends_with(" (`runreg scan --full` rewrites it from its sidecar)\n"),
        "{stderr}"
    );
    f.runreg().args(["scan", "--full"]).assert().success();
    stdout(f.runreg().args(["--no-scan", "show", "a1b2c3"]));
}

#[test]
fn usage_errors_exit_2_with_what_is_accepted() {
    let f = Fixture::new();
    fails(
        f.runreg().args(["ls", "-c", "run_id,val_acc"]),
        2,
        "unknown column \"val_acc\": expected one of run_id, status, alive, age, heartbeat, tags, notes, run_dir, checkpoint_path, created_at, updated_at, ended_at, or summary.<key>, hparams.<key>, config.<key> (a metric: summary.val_acc)",
    );
    fails(
        f.runreg().args(["ls", "-c", "metrics.acc"]),
        2,
        "unknown column \"metrics.acc\": `metrics` is not one of summary, hparams, config",
    );
    fails(
        f.runreg().args(["ls", "--sort", "summary."]),
        2,
        "--sort \"summary.\": nothing after `summary.`: name a key, as in `summary.val_acc`",
    );
    fails(
        f.runreg().args(["ls", "--sort", "tags"]),
        2,
        "--sort \"tags\": runs are not sorted by their tags; sort by another column or a summary, hparams or config key",
    );
    fails(
        f.runreg().args(["best", "val_acc", "--status", "done"]),
        2,
        "unknown status \"done\": expected one of running, completed, failed, interrupted, orphaned",
    );
    fails(
        f.runreg().args(["ls", "--hparam", "lr"]),
        2,
        "--hparam \"lr\": expected KEY=VALUE, as in optim.lr=0.01",
    );
    f.runreg()
        .args(["ls", "--no-such-flag"])
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn io_threads_is_a_count_from_the_flag_or_the_environment() {
    let f = Fixture::new();
    let want = stdout(f.runreg().args(["ls", "--json"]));
    for (flag, env) in [
        (Some("0"), None),
        (None, Some("0")),
        (Some("1025"), None),
        (Some("many"), Some("4")),
    ] {
        let mut cmd = f.runreg();
        if let Some(n) = env {
            cmd.env("RUNREG_IO_THREADS", n);
        }
        if let Some(n) = flag {
            cmd.args(["--io-threads", n]);
        }
        let out = cmd.args(["scan", "--full"]).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag:?} {env:?}: {err}");
        assert!(
            err.contains("--io-threads") && err.contains("from 1 to 1024"),
            "{err}"
        );
    }
    // Any count in range scans to the same runs; the flag wins over the
    // environment.
    for (flag, env) in [("1", "64"), ("64", "1"), ("1024", "2")] {
        stdout(f.runreg().env("RUNREG_IO_THREADS", env).args([
            "--io-threads",
            flag,
            "scan",
            "--full",
        ]));
        assert_eq!(stdout(f.runreg().args(["ls", "--json"])), want, "{flag}");
    }
    stdout(
        f.runreg()
            .env("RUNREG_IO_THREADS", "3")
            .args(["scan", "--full"]),
    );
    assert_eq!(stdout(f.runreg().args(["ls", "--json"])), want);
}

#[test]
fn a_held_cache_makes_commands_wait_then_say_busy() {
    let f = Fixture::new();
    stdout(f.runreg().arg("scan"));
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(f.tree.cache_dir().join("registry.redb.lock"))
        .unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let out = f
        .runreg()
        .args(["--lock-timeout", "0.3", "ls"])
        .output()
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("runreg: registry busy: "), "{err}");
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    lock.unlock().unwrap();
    let out = f
        .runreg()
        .env("RUNREG_LOCK_TIMEOUT", "0.3")
        .arg("ls")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}
