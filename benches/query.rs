//! Queries over the cache of a realistic tree (`benches/support`), without
//! the lazy scan (`Registry::builder(dir).scan(false)`), so each figure is
//! the query alone: `get` by id, docs/FORMAT.md §7's queries, and filter
//! expressions (`--where`) beside the fixed filters they are equivalent to.
//!
//! ```text
//! cargo bench --bench query                          # 10,000 runs
//! RUNREG_BENCH_RUNS=100000 cargo bench --bench query
//! ```

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runreg::{Registry, ScanMode};

fn benches(c: &mut Criterion) {
    let runs = support::bench_runs();
    let dir = tempfile::Builder::new()
        .prefix("runreg-bench-query.")
        .tempdir()
        .expect("a temporary directory");
    let started = std::time::Instant::now();
    let tree = support::write_tree(dir.path(), runs, 1, &support::TreeOptions::default())
        .expect("writing the bench tree");
    eprintln!(
        "query bench: wrote {runs} runs in {:.1} s under {}",
        started.elapsed().as_secs_f64(),
        tree.cache_dir.display()
    );
    let report = Registry::builder(&tree.cache_dir)
        .scan(false)
        .open()
        .and_then(|mut r| r.scan(ScanMode::Full))
        .expect("scanning the bench tree");
    assert_eq!(report.upserted, runs, "the scan must cache every run");
    let registry = Registry::builder(&tree.cache_dir)
        .scan(false)
        .open()
        .expect("opening the registry");

    let mut group = c.benchmark_group("query");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    let ids = support::spread_ids(&tree.run_ids, 1000);
    let mut next = 0;
    group.bench_function("get_by_id", |b| {
        b.iter(|| {
            next = (next + 1) % ids.len();
            let run = registry.get(&ids[next]).expect("get");
            black_box(run.expect("a generated run is cached"))
        })
    });

    for (name, query) in support::queries() {
        let rows = registry.query(&query).expect("query").len();
        eprintln!("query bench: {name} returns {rows} runs");
        group.bench_function(name, |b| {
            b.iter(|| black_box(registry.query(&query).expect("query")))
        });
    }
    group.finish();
}

criterion_group!(query_benches, benches);
criterion_main!(query_benches);
