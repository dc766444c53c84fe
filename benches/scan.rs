//! Scans of a realistic tree (`benches/support`): full into a fresh cache,
//! full over an existing cache, incremental with nothing changed, and
//! incremental with 1% of the sidecars rewritten.
//!
//! ```text
//! cargo bench --bench scan                          # 10,000 runs
//! RUNREG_BENCH_RUNS=100000 cargo bench --bench scan
//! ```
//!
//! The tree is written once into a temporary directory (under `$TMPDIR`)
//! and removed at the end.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use runreg::{Registry, ScanMode, ScanReport};

struct Fixture {
    _dir: tempfile::TempDir,
    cache_dir: PathBuf,
    runs: usize,
}

fn fixture() -> Fixture {
    let runs = support::bench_runs();
    let dir = tempfile::Builder::new()
        .prefix("runreg-bench-scan.")
        .tempdir()
        .expect("a temporary directory");
    let started = std::time::Instant::now();
    let tree = support::write_tree(dir.path(), runs, 1, &support::TreeOptions::default())
        .expect("writing the bench tree");
    eprintln!(
        "scan bench: wrote {runs} runs ({:.1} MB of sidecars) in {:.1} s under {}",
        tree.sidecar_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        tree.cache_dir.display()
    );
    Fixture {
        cache_dir: tree.cache_dir,
        _dir: dir,
        runs,
    }
}

fn open(cache_dir: &Path, db: Option<&Path>) -> Registry {
    let mut builder = Registry::builder(cache_dir).scan(false);
    if let Some(db) = db {
        builder = builder.db_path(db);
    }
    builder.open().expect("opening the registry")
}

fn scan(registry: &mut Registry, mode: ScanMode) -> ScanReport {
    registry.scan(mode).expect("scanning")
}

/// Says once, on stderr, what a scan of each kind does on this tree, so a
/// timing that looks too good can be told from a scan that did nothing.
fn check(name: &str, report: &ScanReport, expect_upserted: usize) {
    eprintln!(
        "scan bench: {name}: {} sidecars, {} upserted, {} unchanged, {} invalid, {} orphaned in {:.0} ms",
        report.total_sidecars,
        report.upserted,
        report.skipped_unchanged,
        report.skipped_invalid,
        report.orphaned,
        report.elapsed.as_secs_f64() * 1e3
    );
    if report.upserted != expect_upserted {
        eprintln!(
            "scan bench: WARNING: {name} upserted {} runs, expected {expect_upserted}",
            report.upserted
        );
    }
}

fn benches(c: &mut Criterion) {
    let fx = fixture();
    let db_dir = tempfile::Builder::new()
        .prefix("runreg-bench-db.")
        .tempdir()
        .expect("a temporary directory");
    let mut registry = open(&fx.cache_dir, None);
    check(
        "first full scan",
        &scan(&mut registry, ScanMode::Full),
        fx.runs,
    );
    check(
        "incremental, nothing changed",
        &scan(&mut registry, ScanMode::Incremental),
        0,
    );

    // Scale the measuring time with the tree: a 100k-run full scan takes
    // seconds.
    let scale = (fx.runs as f64 / 10_000.0).max(0.1);
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs_f64(10.0 * scale));
    group.warm_up_time(Duration::from_secs_f64(2.0 * scale));

    let fresh_db = db_dir.path().join("fresh.redb");
    group.bench_function("full_fresh_cache", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_file(&fresh_db);
                open(&fx.cache_dir, Some(&fresh_db))
            },
            |mut fresh| scan(&mut fresh, ScanMode::Full),
            BatchSize::PerIteration,
        )
    });

    group.bench_function("full_rescan", |b| {
        b.iter(|| scan(&mut registry, ScanMode::Full))
    });

    group.bench_function("incremental_unchanged", |b| {
        b.iter(|| scan(&mut registry, ScanMode::Incremental))
    });

    let sidecars = support::find_sidecars(&fx.cache_dir).expect("listing the sidecars");
    let one_percent = support::rewrite_set(&sidecars, 0.01, 0).len();
    support::rewrite_sidecars(&support::rewrite_set(&sidecars, 0.01, 0)).expect("rewriting");
    check(
        "incremental, 1% rewritten",
        &scan(&mut registry, ScanMode::Incremental),
        one_percent,
    );
    let mut round = 1;
    group.bench_function("incremental_1pct_changed", |b| {
        b.iter_batched(
            || {
                support::rewrite_sidecars(&support::rewrite_set(&sidecars, 0.01, round))
                    .expect("rewriting 1% of the sidecars");
                round += 1;
            },
            |()| scan(&mut registry, ScanMode::Incremental),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(scan_benches, benches);
criterion_main!(scan_benches);
