//! Times runreg's queries in-process on an already scanned cache, for
//! `scripts/bench/compare.sh`: the query alone, with no process start-up,
//! no lazy scan and no printing.
//!
//! ```text
//! cargo run --release --example bench_ops -- CACHE_DIR [--min-reps N] [--min-time SECS] [--scans] [--only OP,OP]
//! ```
//!
//! Opens the registry with `scan(false)` and times `get` by id (1,000 ids
//! per repetition, reported per call) and each query of
//! `benches/support`'s `queries()`. With `--scans`, also times an
//! incremental scan of the cache and a full scan into a fresh cache file
//! (in a temporary directory), in-process. Each operation is repeated at
//! least `--min-reps` times (default 5) and until `--min-time` seconds
//! (default 1) have passed, up to 1,000 times. Prints one JSON object:
//! `{"op": {"median_s", "min_s", "reps", "rows"}, ...}`. `--only OP,OP`
//! times only the operations named (handy under `perf record`).

#[path = "../benches/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use runreg::{Registry, ScanMode};

struct Settings {
    cache_dir: PathBuf,
    min_reps: usize,
    min_time: Duration,
    scans: bool,
    only: Option<Vec<String>>,
}

impl Settings {
    fn wants(&self, op: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == op))
    }
}

fn parse_args() -> Result<Settings, String> {
    let usage =
        "usage: bench_ops CACHE_DIR [--min-reps N] [--min-time SECS] [--scans] [--only OP,OP]";
    let mut settings = Settings {
        cache_dir: PathBuf::new(),
        min_reps: 5,
        min_time: Duration::from_secs(1),
        scans: false,
        only: None,
    };
    let mut dir = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--min-reps" => {
                settings.min_reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--min-reps needs a number")?;
            }
            "--min-time" => {
                let secs: f64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--min-time needs seconds")?;
                settings.min_time = Duration::from_secs_f64(secs.max(0.0));
            }
            "--scans" => settings.scans = true,
            "--only" => {
                let ops = it.next().ok_or("--only needs operation names")?;
                settings.only = Some(ops.split(',').map(str::to_owned).collect());
            }
            "-h" | "--help" => return Err(usage.to_owned()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}\n{usage}")),
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}\n{usage}")),
        }
    }
    settings.cache_dir = dir.ok_or(usage)?;
    Ok(settings)
}

/// Timings of one operation.
struct Timing {
    samples: Vec<f64>,
    rows: usize,
}

impl Timing {
    fn json(mut self) -> serde_json::Value {
        self.samples.sort_by(f64::total_cmp);
        let n = self.samples.len();
        let median = if n % 2 == 1 {
            self.samples[n / 2]
        } else {
            (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2.0
        };
        serde_json::json!({
            "median_s": median,
            "min_s": self.samples[0],
            "reps": n,
            "rows": self.rows,
        })
    }
}

/// Runs `op` (which returns a row count) until both limits are met.
fn measure(settings: &Settings, mut op: impl FnMut() -> usize) -> Timing {
    let started = Instant::now();
    let mut timing = Timing {
        samples: Vec::new(),
        rows: 0,
    };
    while timing.samples.len() < 1000
        && (timing.samples.len() < settings.min_reps || started.elapsed() < settings.min_time)
    {
        let t = Instant::now();
        timing.rows = black_box(op());
        timing.samples.push(t.elapsed().as_secs_f64());
    }
    timing
}

/// Time of one lookup of `ids` on one snapshot of the registry `open`
/// gives at each repetition.
fn time_gets<R: std::borrow::Borrow<Registry>>(
    settings: &Settings,
    ids: &[String],
    open: impl Fn() -> Option<R>,
) -> Timing {
    let mut get = measure(settings, || {
        let Some(registry) = open() else {
            return 0;
        };
        registry
            .borrow()
            .read(|snapshot| {
                Ok(ids
                    .iter()
                    .filter(|id| matches!(snapshot.get(id), Ok(Some(_))))
                    .count())
            })
            .unwrap_or(0)
    });
    for s in &mut get.samples {
        *s /= ids.len().max(1) as f64;
    }
    get
}

fn run(settings: &Settings) -> Result<serde_json::Value, String> {
    let registry = Registry::builder(&settings.cache_dir)
        .scan(false)
        .open()
        .map_err(|e| e.to_string())?;
    if registry.is_empty().map_err(|e| e.to_string())? {
        eprintln!("bench_ops: the cache is empty; scanning first");
        Registry::builder(&settings.cache_dir)
            .scan(false)
            .open()
            .map_err(|e| e.to_string())?
            .scan(ScanMode::Full)
            .map_err(|e| e.to_string())?;
    }
    let mut out = serde_json::Map::new();

    // Ids spread over the whole cache.
    let all: Vec<String> = registry
        .run_ids_starting_with("", usize::MAX)
        .map_err(|e| e.to_string())?;
    let ids = support::spread_ids(&all, 1000);
    eprintln!("bench_ops: {} runs cached", all.len());
    if settings.wants("get_by_id") {
        eprintln!("bench_ops: timing get_by_id x{}", ids.len());
        let mut get = measure(settings, || {
            ids.iter()
                .filter(|id| matches!(registry.get(id), Ok(Some(_))))
                .count()
        });
        for s in &mut get.samples {
            *s /= ids.len().max(1) as f64;
        }
        out.insert("get_by_id".into(), get.json());
    }
    if settings.wants("get_by_id_snapshot") {
        // The same lookups on one snapshot: the cache opened once, as the
        // reference's registry holds its SQLite connection open.
        eprintln!("bench_ops: timing get_by_id_snapshot x{}", ids.len());
        let get = time_gets(settings, &ids, || Some(&registry));
        out.insert("get_by_id_snapshot".into(), get.json());
    }
    if settings.wants("get_by_id_snapshot_cold") {
        // The same, by a registry opened for each repetition: records read
        // by id are not kept from earlier snapshots yet (a process's first
        // lookups).
        eprintln!("bench_ops: timing get_by_id_snapshot_cold x{}", ids.len());
        let get = time_gets(settings, &ids, || {
            Registry::builder(&settings.cache_dir)
                .scan(false)
                .open()
                .ok()
        });
        out.insert("get_by_id_snapshot_cold".into(), get.json());
    }
    for (name, query) in support::queries() {
        let snapshot_name = format!("{name}_snapshot");
        if !settings.wants(&snapshot_name) {
            continue;
        }
        eprintln!("bench_ops: timing {snapshot_name}");
        // Repeated on one open snapshot: redb's page cache stays warm.
        let timing = registry
            .read(|snapshot| {
                Ok(measure(settings, || {
                    snapshot.query(&query).map_or(0, |rows| rows.len())
                }))
            })
            .map_err(|e| e.to_string())?;
        out.insert(snapshot_name, timing.json());
    }

    for (name, query) in support::queries() {
        if !settings.wants(name) {
            continue;
        }
        eprintln!("bench_ops: timing {name}");
        let timing = measure(settings, || {
            registry.query(&query).map_or(0, |rows| rows.len())
        });
        out.insert(name.into(), timing.json());
    }

    let scans_named = settings.only.as_ref().is_some_and(|only| {
        only.iter()
            .any(|o| o == "scan_incremental_unchanged" || o == "scan_full_fresh")
    });
    if settings.scans || scans_named {
        let mut registry = Registry::builder(&settings.cache_dir)
            .scan(false)
            .open()
            .map_err(|e| e.to_string())?;
        if settings.wants("scan_incremental_unchanged") {
            eprintln!("bench_ops: timing incremental scans");
            let incremental = measure(settings, || {
                registry
                    .scan(ScanMode::Incremental)
                    .map_or(0, |r| r.upserted)
            });
            out.insert("scan_incremental_unchanged".into(), incremental.json());
        }
        if settings.wants("scan_full_fresh") {
            let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
            let db = dir.path().join("fresh.redb");
            eprintln!("bench_ops: timing full scans into a fresh cache");
            let full = measure(settings, || {
                let _ = std::fs::remove_file(&db);
                Registry::builder(&settings.cache_dir)
                    .scan(false)
                    .db_path(&db)
                    .open()
                    .and_then(|mut r| r.scan(ScanMode::Full))
                    .map_or(0, |r| r.upserted)
            });
            out.insert("scan_full_fresh".into(), full.json());
        }
    }
    Ok(serde_json::Value::Object(out))
}

fn main() -> ExitCode {
    let settings = match parse_args() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("bench_ops: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&settings) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_ops: {e}");
            ExitCode::FAILURE
        }
    }
}
