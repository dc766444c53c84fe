//! A deterministic, realistic run tree for the benchmarks: what a lab's
//! `{cache_dir}/runs/` looks like after weeks of sweeps (docs/FORMAT.md §7).
//!
//! Shared by the criterion benches (`mod support;`) and by the examples
//! `gen_tree` and `bench_ops` (`#[path = "../benches/support/mod.rs"]`), so
//! every measurement runs on the same kind of tree and asks the same
//! questions.
//!
//! # The tree
//!
//! One `runs/<YYYYMMDD>/<HHMMSS>/<run_id>/` per run (a distinct `<HHMMSS>`
//! folder each), `created_at` spread over six weeks, holding:
//!
//! - `sidecar.json` written by [`Sidecar::to_json`] (byte for byte Python's
//!   `json.dump(indent=2)`), about 2.5 KB: ~55 flattened hparams of mixed
//!   types (`optim.lr`, `model.backbone`, `data.batch_size`,
//!   `augment.color_jitter.p`, ...), 10 summary metrics, tags (backbone,
//!   method, one of [`SWEEPS`] `sweep:<id>` tags for 90% of runs, a few
//!   `baseline`/`debug`/`ablation`, and [`FIXED_TAG`] on exactly 25 runs
//!   whatever the tree's size), statuses 75% completed, 10% failed,
//!   10% running, 5% interrupted;
//! - `heartbeat` (97% of runs): fresh for most running runs, an hour to days
//!   old for the rest;
//! - `summary.json`, `metrics.csv`, `hparams.yaml`, `checkpoints/` (with a
//!   small `last.ckpt` for completed runs and half the others), and in 1% of
//!   runs a leftover `.sidecar.json.<random>.tmp`.
//!
//! With `nan`, 60% of failed runs have a `NaN` train_loss (and some an
//! `Infinity` grad_norm), as diverged runs do.
//!
//! Contents depend on the seed and the run count only (and on the cache
//! directory, which `run_dir` names). File and directory mtimes are set an
//! hour or more in the past, so that runreg's racy-clean window (2 s) never
//! makes a freshly generated tree look modified; heartbeats of live runs are
//! set relative to the time of writing.

#![allow(dead_code)]

mod plan;
mod rng;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::SystemTime;

use runreg::Sidecar;
use runreg::{Field, Filter, Query, SortSpec, Status, Value};

use plan::{Plan, epoch, from_epoch, plan_run, utc_folders};

/// Number of distinct `sweep:<id>` tags (SLURM array ids).
pub const SWEEPS: usize = 200;

/// `created_at` values fall in the [`SPAN_S`] seconds before this instant
/// (2026-11-20T00:00:00Z); fixed so that contents depend on the seed only.
pub const TREE_END: u64 = 1_795_132_800;

/// Six weeks.
pub const SPAN_S: u64 = 42 * 24 * 3600;

/// How far back file and directory mtimes are set (the sidecars of a real
/// tree were written long before a scan).
pub const AGE_S: u64 = 3600;

/// The environment variable sizing the benches' trees.
pub const RUNS_ENV: &str = "RUNREG_BENCH_RUNS";

/// Runs in the benches' trees: `$RUNREG_BENCH_RUNS` (underscores allowed,
/// as in `100_000`), default 10,000.
pub fn bench_runs() -> usize {
    match std::env::var(RUNS_ENV) {
        Ok(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{RUNS_ENV}={text:?} is not a number of runs")),
        Err(_) => 10_000,
    }
}

/// The tag of sweep `k` (`0 <= k < SWEEPS`).
pub fn sweep_tag(k: usize) -> String {
    format!("sweep:{}", 5_812_000 + 541 * k as u64)
}

/// A tag carried by exactly [`FIXED_TAG_RUNS`] runs, spread over the tree,
/// whatever its size (runs picked for a paper).
pub const FIXED_TAG: &str = "paper-final";

/// How many runs carry [`FIXED_TAG`].
pub const FIXED_TAG_RUNS: u64 = 25;

/// The sweep tag the queries ask for (one in the middle of the tree).
pub fn sample_tag() -> String {
    sweep_tag(SWEEPS / 3)
}

/// How to write a tree.
#[derive(Clone, Debug)]
pub struct TreeOptions {
    /// Whether failed runs may hold `NaN`/`Infinity` metrics (the reference
    /// cannot sort a cache holding one).
    pub nan: bool,
    /// Threads writing files.
    pub threads: usize,
}

impl Default for TreeOptions {
    fn default() -> TreeOptions {
        TreeOptions {
            nan: true,
            threads: thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(4),
        }
    }
}

/// What [`write_tree`] wrote.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The cache directory (the one holding `runs/`), absolute.
    pub cache_dir: PathBuf,
    /// Run ids, in creation order.
    pub run_ids: Vec<String>,
    /// Each run's `sidecar.json`, in creation order.
    pub sidecars: Vec<PathBuf>,
    /// Total size of the sidecars.
    pub sidecar_bytes: u64,
    /// Files written, sidecars included.
    pub files: u64,
}

// ------------------------------------------------------------------ writing

fn write_file(path: &Path, bytes: &[u8], mtime: SystemTime) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.set_modified(mtime)
}

fn set_dir_mtime(dir: &Path, mtime: SystemTime) -> io::Result<()> {
    File::open(dir)?.set_modified(mtime)
}

/// Writes one planned run; returns the sidecar's size and the files written.
fn write_run(plan: &Plan, runs_dir: &Path, now: f64) -> io::Result<(u64, u64)> {
    let old = from_epoch(now - AGE_S as f64);
    let run_dir = runs_dir.join(&plan.rel_dir);
    let hms_dir = run_dir.parent().expect("a run dir has a parent");
    fs::create_dir(hms_dir)?;
    fs::create_dir(&run_dir)?;
    let checkpoints = run_dir.join("checkpoints");
    fs::create_dir(&checkpoints)?;

    let sidecar = plan.sidecar.to_json();
    let updated_at = plan.sidecar.updated_at.unwrap_or(now);
    let sidecar_mtime = from_epoch(updated_at.min(now - AGE_S as f64));
    write_file(
        &run_dir.join("sidecar.json"),
        sidecar.as_bytes(),
        sidecar_mtime,
    )?;
    write_file(
        &run_dir.join("summary.json"),
        plan.summary_json.as_bytes(),
        sidecar_mtime,
    )?;
    write_file(
        &run_dir.join("metrics.csv"),
        plan.metrics_csv.as_bytes(),
        sidecar_mtime,
    )?;
    write_file(
        &run_dir.join("hparams.yaml"),
        plan.hparams_yaml.as_bytes(),
        old,
    )?;
    let mut files = 4;
    if plan.checkpoint {
        write_file(
            &checkpoints.join("last.ckpt"),
            &[0x80, 0x04, 0x95, 0x0c],
            old,
        )?;
        files += 1;
    }
    if let Some(name) = &plan.leftover_tmp {
        write_file(&run_dir.join(name), br#"{"run_id": "half"#, old)?;
        files += 1;
    }
    if let Some(heartbeat) = plan.heartbeat {
        let at = match heartbeat {
            Ok(seconds_ago) => now - seconds_ago,
            Err(at) => at.min(now - AGE_S as f64),
        };
        write_file(&run_dir.join("heartbeat"), b"", from_epoch(at))?;
        files += 1;
    }
    set_dir_mtime(&checkpoints, old)?;
    set_dir_mtime(&run_dir, old)?;
    set_dir_mtime(hms_dir, old)?;
    Ok((sidecar.len() as u64, files))
}

/// One run a worker wrote.
struct Written {
    index: u64,
    run_id: String,
    sidecar: PathBuf,
    sidecar_bytes: u64,
    files: u64,
}

/// Writes a tree of `runs` runs under `cache_dir/runs/` (created; it must
/// not hold a `runs/` already), deterministic by `seed`.
///
/// # Errors
///
/// Any I/O error, with the path involved.
pub fn write_tree(
    cache_dir: &Path,
    runs: usize,
    seed: u64,
    opts: &TreeOptions,
) -> io::Result<Tree> {
    fs::create_dir_all(cache_dir)?;
    let cache_dir = cache_dir.canonicalize()?;
    let runs_dir = cache_dir.join("runs");
    fs::create_dir(&runs_dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", runs_dir.display())))?;
    let now = epoch(SystemTime::now());
    let n = runs as u64;
    let threads = opts.threads.clamp(1, 64).min(runs.max(1));

    // Day folders first, from one thread: the workers then only create
    // folders nobody else does.
    let spacing = (SPAN_S / n.max(1)).max(1);
    let start = TREE_END - (spacing * n).max(SPAN_S);
    let days: BTreeSet<String> = (0..n)
        .flat_map(|i| [start + i * spacing, start + (i + 1) * spacing - 1])
        .map(|t| utc_folders(t).0)
        .collect();
    for day in &days {
        fs::create_dir(runs_dir.join(day))?;
    }

    let results: Vec<io::Result<Vec<Written>>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let runs_dir = &runs_dir;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    let mut index = t;
                    while index < n {
                        let plan = plan_run(seed, index, n, opts.nan, runs_dir);
                        let (sidecar_bytes, files) =
                            write_run(&plan, runs_dir, now).map_err(|e| {
                                io::Error::new(
                                    e.kind(),
                                    format!("{}: {e}", runs_dir.join(&plan.rel_dir).display()),
                                )
                            })?;
                        let sidecar = runs_dir.join(&plan.rel_dir).join("sidecar.json");
                        done.push(Written {
                            index,
                            run_id: plan.run_id,
                            sidecar,
                            sidecar_bytes,
                            files,
                        });
                        index += threads as u64;
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a tree writer panicked"))
            .collect()
    });
    let mut all = Vec::with_capacity(runs);
    for result in results {
        all.extend(result?);
    }
    all.sort_unstable_by_key(|r| r.index);

    let old = from_epoch(now - AGE_S as f64);
    for day in &days {
        set_dir_mtime(&runs_dir.join(day), old)?;
    }
    set_dir_mtime(&runs_dir, old)?;

    let mut tree = Tree {
        cache_dir,
        run_ids: Vec::with_capacity(runs),
        sidecars: Vec::with_capacity(runs),
        sidecar_bytes: 0,
        files: 0,
    };
    for run in all {
        tree.run_ids.push(run.run_id);
        tree.sidecars.push(run.sidecar);
        tree.sidecar_bytes += run.sidecar_bytes;
        tree.files += run.files;
    }
    Ok(tree)
}

// ------------------------------------------------------------------ changes

/// Every `sidecar.json` under `cache_dir/runs`, sorted.
pub fn find_sidecars(cache_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![cache_dir.join("runs")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else if entry.file_name() == "sidecar.json" {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The sidecars round `round` rewrites: every `1/fraction`-th, shifted by
/// the round, so consecutive rounds touch different runs.
pub fn rewrite_set(sidecars: &[PathBuf], fraction: f64, round: usize) -> Vec<PathBuf> {
    let stride = (1.0 / fraction).round().max(1.0) as usize;
    sidecars
        .iter()
        .skip(round % stride)
        .step_by(stride)
        .cloned()
        .collect()
}

/// Rewrites each sidecar as a training process does at a metrics flush:
/// `updated_at` and `step` advance and the losses move, written to a temp
/// file in the run directory and renamed over `sidecar.json` (which also
/// moves the directory's mtime).
///
/// The new file's mtime is set 10 s back: far enough before the next scan
/// that runreg's racy-clean window (2 s) does not make it re-read this
/// batch again in the scan after next, so a bench of "1% changed" re-reads
/// exactly 1%. The change is still seen (inode, size, ctime and mtime all
/// move).
///
/// # Errors
///
/// The first I/O or parse failure, with the path.
pub fn rewrite_sidecars(sidecars: &[PathBuf]) -> io::Result<()> {
    let now = epoch(SystemTime::now());
    for (n, path) in sidecars.iter().enumerate() {
        let context =
            |e: &dyn std::fmt::Display| io::Error::other(format!("{}: {e}", path.display()));
        let (mut sidecar, _) = Sidecar::read(path).map_err(|e| context(&e))?;
        sidecar.updated_at = Some(now);
        for (key, factor) in [("step", 1.0), ("train_loss", 0.995), ("val_loss", 0.997)] {
            if let Some(Value::Float(v)) = sidecar.summary.get_mut(key) {
                *v = if key == "step" {
                    *v + 50.0
                } else {
                    *v * factor
                };
            }
        }
        let dir = path.parent().expect("a sidecar has a parent");
        let tmp = dir.join(format!(".sidecar.json.{:06x}{n}.tmp", std::process::id()));
        write_file(&tmp, sidecar.to_json().as_bytes(), from_epoch(now - 10.0))
            .map_err(|e| context(&e))?;
        fs::rename(&tmp, path).map_err(|e| context(&e))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ queries

/// The questions every bench asks, by name (docs/FORMAT.md §7's, plus filter
/// expressions beside the fixed filters they are equivalent to).
pub fn queries() -> Vec<(&'static str, Query)> {
    let tag = sample_tag();
    let val_acc = || -> Field { "summary.val_acc".parse().expect("a sort key") };
    let expr = |text: &str| Filter::parse(text).expect("a filter expression");
    vec![
        (
            "tag_sort_limit5",
            Query::new()
                .tag(&tag)
                .sort(SortSpec::desc(val_acc()))
                .limit(5),
        ),
        (
            "fixed_tag_sort_limit5",
            Query::new()
                .tag(FIXED_TAG)
                .sort(SortSpec::desc(val_acc()))
                .limit(5),
        ),
        (
            "sort_all_limit10",
            Query::new().sort(SortSpec::desc(val_acc())).limit(10),
        ),
        (
            "status_completed_all",
            Query::new().status(Status::Completed),
        ),
        (
            "hparams_eq",
            Query::new()
                .hparam("optim.lr", 0.01)
                .hparam("data.batch_size", 256_i64),
        ),
        (
            "where_tag_sort_limit5",
            Query::new()
                .filter(expr(&format!("tags has '{tag}'")))
                .sort(SortSpec::desc(val_acc()))
                .limit(5),
        ),
        (
            "where_status_completed_all",
            Query::new().filter(expr("status = 'completed'")),
        ),
        (
            "where_hparams_eq",
            Query::new().filter(expr(
                "hparams.optim.lr = 0.01 and hparams.data.batch_size = 256",
            )),
        ),
        (
            "where_acc_and_lr_in",
            Query::new().filter(expr(
                "summary.val_acc > 0.5 and hparams.optim.lr in (0.1, 0.01)",
            )),
        ),
    ]
}

/// The hparams and summary of one generated run (for writer benches).
pub fn sample_run(seed: u64) -> Sidecar {
    plan_run(seed, 0, 1, false, Path::new("/runs")).sidecar
}

/// Up to `count` run ids spread evenly over `run_ids` (for `get`).
pub fn spread_ids(run_ids: &[String], count: usize) -> Vec<String> {
    let step = (run_ids.len() / count.max(1)).max(1);
    run_ids.iter().step_by(step).take(count).cloned().collect()
}
