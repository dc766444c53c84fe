//! `runreg start`, `log`, `heartbeat` and `finish`, black-box: the run
//! directory each writes, their exact output, their errors and exit codes,
//! and a bash sweep driving them.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use runreg::sidecar::parse_value;
use runreg::{Query, Registry, Sidecar, SortSpec, Status, Value};

/// `runreg` with a deterministic environment and no cache directory.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runreg"));
    for var in [
        "RUNREG_CACHE_DIR",
        "SPT_CACHE_DIR",
        "SLURM_ARRAY_JOB_ID",
        "NO_COLOR",
        "COLUMNS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn runreg(cache_dir: &Path) -> Command {
    let mut cmd = bare();
    cmd.arg("--cache-dir").arg(cache_dir);
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

/// Runs `cmd`, expecting exit `code`, nothing on stdout, and stderr
/// starting with `runreg: ` and `message`.
fn fails(cmd: &mut Command, code: i32, message: &str) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    assert!(
        stderr.starts_with(&format!("runreg: {message}")),
        "{cmd:?}: {stderr:?} does not start with {message:?}"
    );
}

/// `runreg start ...` in `cache_dir`; the run directory it printed.
fn start(cache_dir: &Path, args: &[&str]) -> PathBuf {
    let out = stdout(runreg(cache_dir).arg("start").args(args));
    let dir = out.strip_suffix('\n').expect("one line");
    assert!(!dir.contains('\n'), "{out:?}");
    PathBuf::from(dir)
}

fn sidecar(run_dir: &Path) -> Sidecar {
    Sidecar::read(&run_dir.join("sidecar.json")).unwrap().0
}

fn summary(run_dir: &Path) -> Value {
    parse_value(&fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap()
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Map(e) => &e.iter().find(|(k, _)| k == key).unwrap().1,
        _ => panic!("not an object"),
    }
}

fn age_secs(path: &Path) -> f64 {
    SystemTime::now()
        .duration_since(fs::metadata(path).unwrap().modified().unwrap())
        .unwrap_or_default()
        .as_secs_f64()
}

fn age(path: &Path, secs: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

fn cache() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

// ------------------------------------------------------------------ start

#[test]
fn start_prints_the_new_run_directory() {
    let (_tmp, cache) = cache();
    let run = start(
        &cache,
        &[
            "--tag",
            "resnet50",
            "--tag",
            "sweep:12",
            "--hparam",
            "optim.lr=0.01",
            "--hparam",
            "optim.name=sgd",
            "--hparam",
            "amp=true",
            "--hparam",
            "layers=[64, 128]",
            "--notes",
            "baseline — 3 seeds",
        ],
    );
    assert!(run.starts_with(cache.join("runs")), "{}", run.display());
    assert_eq!(run.components().count(), cache.components().count() + 4);
    let s = sidecar(&run);
    assert_eq!(s.run_id, run.file_name().unwrap().to_str().unwrap());
    assert_eq!(s.run_id.len(), 28);
    assert_eq!(s.status, Status::Running);
    assert_eq!(s.tags, ["resnet50", "sweep:12"]);
    assert_eq!(s.notes, "baseline — 3 seeds");
    assert_eq!(s.hparams["optim.lr"], Value::Float(0.01));
    assert_eq!(s.hparams["optim.name"], Value::Str("sgd".into()));
    assert_eq!(s.hparams["amp"], Value::Bool(true));
    assert_eq!(
        s.hparams["layers"],
        Value::List(vec![Value::Int(64), Value::Int(128)])
    );
    assert!(age_secs(&run.join("heartbeat")) < 5.0);
    assert!(run.join("summary.json").is_file());
    // Alive in the registry.
    let record = Registry::open(&cache)
        .unwrap()
        .get(&s.run_id)
        .unwrap()
        .unwrap();
    assert!(record.alive);
}

#[test]
fn start_with_an_id_and_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("new-cache");
    let mut cmd = bare();
    cmd.env("RUNREG_CACHE_DIR", &cache)
        .env("SLURM_ARRAY_JOB_ID", "4711")
        .args(["start", "--id", "job-42"]);
    let run = PathBuf::from(stdout(&mut cmd).trim_end());
    assert!(run.ends_with("job-42"));
    assert!(run.starts_with(cache.canonicalize().unwrap()));
    let s = sidecar(&run);
    assert_eq!(s.run_id, "job-42");
    assert_eq!(
        s.tags,
        ["sweep:4711"],
        "SLURM array jobs get their sweep tag"
    );
}

#[test]
fn start_refuses_bad_ids_and_needs_a_cache_directory() {
    let (_tmp, cache) = cache();
    fails(
        runreg(&cache).args(["start", "--id", "../escape"]),
        2,
        "invalid run id \"../escape\": it contains '/'",
    );
    fails(
        runreg(&cache).args(["start", "--id", ".."]),
        2,
        "invalid run id \"..\": '.' and '..' are not directory names",
    );
    fails(
        runreg(&cache).args(["start", "--hparam", "lr"]),
        2,
        "--hparam \"lr\": expected KEY=VALUE",
    );
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "nothing written");
    fails(bare().arg("start"), 2, "no cache directory");
}

// ------------------------------------------------------------------ log

#[test]
fn log_appends_a_step_and_updates_the_summary() {
    let (_tmp, cache) = cache();
    let run = start(&cache, &[]);
    let run_arg = run.to_str().unwrap();
    assert_eq!(
        stdout(runreg(&cache).args(["log", run_arg, "--step", "0", "train_loss=2.5", "epoch=0"])),
        ""
    );
    stdout(bare().args(["log", run_arg, "--step", "1", "train_loss=1.5", "epoch=0"]));
    stdout(bare().args([
        "log",
        run_arg,
        "--step",
        "2",
        "val/acc=0.75",
        "best=true",
        "nan_loss=nan",
    ]));

    let s = sidecar(&run);
    assert_eq!(s.status, Status::Running);
    assert_eq!(s.summary["train_loss"], Value::Float(1.5));
    assert_eq!(s.summary["val/acc"], Value::Float(0.75));
    assert_eq!(s.summary["best"], Value::Float(1.0));
    assert!(s.summary["nan_loss"].as_f64().unwrap().is_nan());
    assert_eq!(
        fs::read_to_string(run.join("metrics.csv")).unwrap(),
        "step,train_loss,epoch,val/acc,best,nan_loss\n\
         0,2.5,0.0,,,\n1,1.5,0.0,,,\n2,,,0.75,1.0,nan\n"
    );
    let summary = summary(&run);
    assert_eq!(get(&summary, "step"), &Value::Int(2));
    let loss = get(get(&summary, "metrics"), "train_loss");
    assert_eq!(get(loss, "count"), &Value::Int(2));
    assert_eq!(get(loss, "min"), &Value::Float(1.5));
    assert_eq!(get(loss, "max"), &Value::Float(2.5));
    // The heartbeat was touched.
    age(&run.join("heartbeat"), 1000);
    stdout(bare().args(["log", run_arg, "--step", "3", "train_loss=1"]));
    assert!(age_secs(&run.join("heartbeat")) < 5.0);
}

#[test]
fn log_continues_an_interrupted_run_and_refuses_a_finished_one() {
    let (_tmp, cache) = cache();
    let run = start(&cache, &[]);
    let run_arg = run.to_str().unwrap();
    stdout(bare().args(["finish", run_arg, "--status", "interrupted"]));
    assert!(!run.join("heartbeat").exists());
    stdout(bare().args(["log", run_arg, "--step", "0", "loss=1"]));
    assert_eq!(sidecar(&run).status, Status::Running);
    assert!(run.join("heartbeat").exists());

    stdout(bare().args(["finish", run_arg]));
    let id = sidecar(&run).run_id;
    fails(
        bare().args(["log", run_arg, "--step", "1", "loss=0.5"]),
        1,
        &format!("run {id:?} in {run_arg} is completed: runreg log adds to unfinished runs only"),
    );
    assert_eq!(sidecar(&run).status, Status::Completed);
}

#[test]
fn log_refuses_bad_values_and_non_runs() {
    let (_tmp, cache) = cache();
    let run = start(&cache, &[]);
    let run_arg = run.to_str().unwrap();
    fails(
        bare().args(["log", run_arg, "--step", "0", "loss=abc"]),
        2,
        "metric \"loss=abc\": \"abc\" is not a number",
    );
    fails(
        bare().args(["log", run_arg, "--step", "0", "loss"]),
        2,
        "metric \"loss\": expected KEY=VALUE",
    );
    // clap: a step and at least one metric are required.
    bare()
        .args(["log", run_arg, "--step", "0"])
        .assert()
        .code(2);
    bare().args(["log", run_arg, "loss=1"]).assert().code(2);
    bare()
        .args(["log", run_arg, "--step", "-1", "loss=1"])
        .assert()
        .code(2);
    assert!(!run.join("metrics.csv").exists(), "nothing was logged");

    let not_a_run = cache.join("not-a-run");
    fs::create_dir(&not_a_run).unwrap();
    fails(
        bare().args(["log", not_a_run.to_str().unwrap(), "--step", "0", "loss=1"]),
        1,
        &format!(
            "{} is not a run: sidecar.json cannot read",
            not_a_run.display()
        ),
    );
    assert_eq!(
        fs::read_dir(&not_a_run).unwrap().count(),
        0,
        "nothing written"
    );
    fails(
        bare().args(["log", "/nonexistent/run", "--step", "0", "loss=1"]),
        1,
        "/nonexistent/run: No such file or directory",
    );
}

#[test]
fn parallel_log_calls_are_all_recorded() {
    let (_tmp, cache) = cache();
    let run = start(&cache, &[]);
    let mut procs: Vec<std::process::Child> = (0..8)
        .map(|step| {
            std::process::Command::new(env!("CARGO_BIN_EXE_runreg"))
                .arg("log")
                .arg(&run)
                .args(["--step", &step.to_string(), &format!("loss={step}")])
                .spawn()
                .unwrap()
        })
        .collect();
    for p in &mut procs {
        assert!(p.wait().unwrap().success());
    }
    let summary = summary(&run);
    let loss = get(get(&summary, "metrics"), "loss");
    assert_eq!(get(loss, "count"), &Value::Int(8), "no update was lost");
    assert_eq!(get(loss, "max"), &Value::Float(7.0));
    assert_eq!(get(loss, "min"), &Value::Float(0.0));
    let csv = fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9, "{csv}");
}

// ------------------------------------------------------------------ heartbeat

#[test]
fn heartbeat_touches_only_the_heartbeat() {
    let (_tmp, cache) = cache();
    let run = start(&cache, &[]);
    let hb = run.join("heartbeat");
    let before = fs::read(run.join("sidecar.json")).unwrap();
    age(&hb, 1000);
    assert_eq!(stdout(bare().arg("heartbeat").arg(&run)), "");
    assert!(age_secs(&hb) < 5.0);
    assert_eq!(fs::read(run.join("sidecar.json")).unwrap(), before);
    fs::remove_file(&hb).unwrap();
    stdout(bare().arg("heartbeat").arg(&run));
    assert!(hb.exists(), "re-created");

    let empty = cache.join("empty");
    fs::create_dir(&empty).unwrap();
    fails(
        bare().arg("heartbeat").arg(&empty),
        1,
        &format!("{} is not a run", empty.display()),
    );
    assert!(!empty.join("heartbeat").exists());
}

// ------------------------------------------------------------------ finish

#[test]
fn finish_writes_the_final_status() {
    let (_tmp, cache) = cache();
    let completed = start(&cache, &[]);
    let failed = start(&cache, &[]);
    stdout(bare().args(["log", completed.to_str().unwrap(), "--step", "0", "acc=0.5"]));
    assert_eq!(stdout(bare().arg("finish").arg(&completed)), "");
    stdout(
        bare()
            .arg("finish")
            .arg(&failed)
            .args(["--status", "failed"]),
    );
    let s = sidecar(&completed);
    assert_eq!(s.status, Status::Completed);
    assert!(s.ended_at.is_some());
    assert_eq!(s.summary["acc"], Value::Float(0.5));
    assert_eq!(sidecar(&failed).status, Status::Failed);
    bare()
        .arg("finish")
        .arg(&failed)
        .args(["--status", "running"])
        .assert()
        .code(2);
    fails(
        bare().arg("finish").arg(cache.join("missing")),
        1,
        &format!("{}", cache.join("missing").display()),
    );
}

// ------------------------------------------------------------------ a sweep

#[cfg(unix)]
#[test]
fn a_bash_sweep_records_every_run() {
    let (_tmp, cache) = cache();
    let script = r#"
        set -eu
        for lr in 0.1 0.01 0.001; do
          run=$(runreg start --tag sweep:lr --hparam optim.lr=$lr)
          status=completed
          for step in 0 1 2 3; do
            loss=$(awk "BEGIN { print $lr * (4 - $step) }")
            if [ "$lr" = 0.001 ] && [ "$step" = 2 ]; then status=failed; break; fi
            runreg log "$run" --step $step train_loss=$loss
          done
          runreg finish "$run" --status $status
        done
    "#;
    let bin = Path::new(env!("CARGO_BIN_EXE_runreg")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", script])
        .env("PATH", path)
        .env("RUNREG_CACHE_DIR", &cache)
        .env_remove("SLURM_ARRAY_JOB_ID")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let registry = Registry::open(&cache).unwrap();
    let runs = registry
        .query(
            &Query::new()
                .tag("sweep:lr")
                .sort(SortSpec::asc("summary.train_loss".parse().unwrap())),
        )
        .unwrap();
    let got: Vec<(String, Value, Value)> = runs
        .iter()
        .map(|r| {
            (
                r.status.to_string(),
                r.hparams["optim.lr"].clone(),
                r.summary["train_loss"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("failed".into(), Value::Float(0.001), Value::Float(0.003)),
            ("completed".into(), Value::Float(0.01), Value::Float(0.01)),
            ("completed".into(), Value::Float(0.1), Value::Float(0.1)),
        ]
    );
    assert!(runs.iter().all(|r| !r.alive));
    let first = Path::new(&runs[2].run_dir);
    assert_eq!(
        fs::read_to_string(first.join("metrics.csv")).unwrap(),
        "step,train_loss\n0,0.4\n1,0.3\n2,0.2\n3,0.1\n"
    );
}
