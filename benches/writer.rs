//! The training-side writer: [`RunWriter::log_metrics`] as a training loop
//! calls it (10 metrics a step), with the default intervals (a heartbeat
//! touch at most every second, a sidecar rewrite every 30 s), with a
//! heartbeat touch at every call, and an explicit `flush` (the atomic,
//! fsynced rewrite of `sidecar.json` and `summary.json`).
//!
//! ```text
//! cargo bench --bench writer
//! ```

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runreg::{RunOptions, RunWriter};

const METRICS: [&str; 10] = [
    "train_loss",
    "val_loss",
    "val_acc",
    "val_acc_top5",
    "knn_acc",
    "lr",
    "epoch",
    "grad_norm",
    "throughput",
    "step_time",
];

fn options() -> RunOptions {
    let sample = support::sample_run(7);
    let mut options = RunOptions::new()
        .tags(sample.tags.clone())
        .slurm_sweep_tag(false);
    for (key, value) in sample.hparams {
        options = options.hparam(key, value);
    }
    options
}

fn log(run: &RunWriter, step: u64) {
    let x = 1.0 / (step + 1) as f64;
    let values = METRICS
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, x * (i + 1) as f64));
    run.log_metrics(step, values).expect("log_metrics");
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("runreg-bench-writer.")
        .tempdir()
        .expect("a temporary directory");
    let mut group = c.benchmark_group("writer");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    let run = RunWriter::create(dir.path(), options()).expect("creating a run");
    let hparams = run.sidecar().hparams.len();
    assert!(
        hparams > 40,
        "the run should carry realistic hparams, has {hparams}"
    );
    let mut step = 0;
    group.bench_function("log_metrics_10", |b| {
        b.iter(|| {
            step += 1;
            log(&run, black_box(step));
        })
    });

    let eager = RunWriter::create(dir.path(), options().heartbeat_interval(Duration::ZERO))
        .expect("creating a run");
    let mut step = 0;
    group.bench_function("log_metrics_10_heartbeat_every_call", |b| {
        b.iter(|| {
            step += 1;
            log(&eager, black_box(step));
        })
    });

    group.bench_function("flush", |b| {
        b.iter(|| {
            step += 1;
            log(&eager, step);
            eager.flush().expect("flush");
        })
    });
    group.finish();
}

criterion_group!(writer_benches, benches);
criterion_main!(writer_benches);
