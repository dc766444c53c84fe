//! A Rust training loop recording its run with `RunWriter`.
//!
//! Fits `y = 3x - 1` with mini-batch SGD, logging the loss every step and a
//! validation metric every epoch, then queries the registry for the run.
//!
//! ```text
//! cargo run --example train_loop -- /tmp/runs-cache
//! runreg --cache-dir /tmp/runs-cache ls
//! ```
//!
//! Without an argument the cache directory is `$RUNREG_CACHE_DIR`, else a
//! temporary directory.

use std::path::PathBuf;
use std::time::Duration;

use runreg::writer::{RunOptions, RunWriter};
use runreg::{Query, Registry, SortSpec, Status};
use serde::Serialize;

#[derive(Serialize)]
struct Optim {
    name: &'static str,
    lr: f64,
    momentum: f64,
}

#[derive(Serialize)]
struct Config {
    optim: Optim,
    batch_size: usize,
    epochs: u64,
    seed: u64,
}

/// A tiny deterministic generator, so the example needs no dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp;
    let cache_dir: PathBuf = match std::env::args_os().nth(1) {
        Some(dir) => dir.into(),
        None => match std::env::var_os("RUNREG_CACHE_DIR") {
            Some(dir) => dir.into(),
            None => {
                temp = tempfile::tempdir()?;
                temp.path().to_owned()
            }
        },
    };

    let config = Config {
        optim: Optim {
            name: "sgd",
            lr: 0.05,
            momentum: 0.9,
        },
        batch_size: 32,
        epochs: 5,
        seed: 7,
    };
    // Hparams are flattened as stable-pretraining flattens them:
    // optim.name, optim.lr, optim.momentum, batch_size, epochs, seed.
    let run = RunWriter::create(
        &cache_dir,
        RunOptions::new()
            .tag("linear-regression")
            .tag("example")
            .notes("y = 3x - 1, mini-batch SGD")
            .hparams(&config)
            .flush_interval(Duration::from_secs(10)),
    )?;
    println!("run {} in {}", run.run_id(), run.run_dir().display());

    let mut rng = Rng(config.seed | 1);
    let data: Vec<(f64, f64)> = (0..1024)
        .map(|_| {
            let x = rng.uniform() * 2.0 - 1.0;
            (x, 3.0 * x - 1.0 + 0.1 * (rng.uniform() - 0.5))
        })
        .collect();
    let (train, val) = data.split_at(896);

    let (mut w, mut b, mut vw, mut vb) = (0.0, 0.0, 0.0, 0.0);
    let mut step = 0u64;
    for epoch in 0..config.epochs {
        for batch in train.chunks(config.batch_size) {
            let n = batch.len() as f64;
            let (mut gw, mut gb, mut loss) = (0.0, 0.0, 0.0);
            for &(x, y) in batch {
                let err = w * x + b - y;
                loss += err * err / n;
                gw += 2.0 * err * x / n;
                gb += 2.0 * err / n;
            }
            vw = config.optim.momentum * vw + gw;
            vb = config.optim.momentum * vb + gb;
            w -= config.optim.lr * vw;
            b -= config.optim.lr * vb;
            // Cheap enough for every step: the summary is updated in memory,
            // the CSV row is buffered, the heartbeat touched once a second.
            run.log_metrics(step, [("train_loss", loss), ("epoch", epoch as f64)])?;
            step += 1;
        }
        let val_loss = val
            .iter()
            .map(|&(x, y)| (w * x + b - y).powi(2))
            .sum::<f64>()
            / val.len() as f64;
        run.log_metrics(step, [("val_loss", val_loss), ("w", w), ("b", b)])?;
        // Where a real loop would save a checkpoint.
        run.set_checkpoint(
            run.run_dir()
                .join(format!("checkpoints/epoch={epoch}.ckpt")),
        )?;
    }
    run.finish(Status::Completed)?;

    // The run is in the registry, like any stable-pretraining run.
    let registry = Registry::open(&cache_dir)?;
    let best = registry.query(
        &Query::new()
            .tag("linear-regression")
            .status(Status::Completed)
            .sort(SortSpec::asc("summary.val_loss".parse()?))
            .limit(3),
    )?;
    for record in best {
        println!(
            "{}  val_loss={}  w={}  b={}",
            record.run_id, record.summary["val_loss"], record.summary["w"], record.summary["b"]
        );
    }
    Ok(())
}
