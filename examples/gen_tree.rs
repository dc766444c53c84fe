//! Writes a realistic run tree for benchmarks (see `benches/support`).
//!
//! ```text
//! cargo run --release --example gen_tree -- DIR --runs N [--seed S] [--no-nan] [--threads T]
//! cargo run --release --example gen_tree -- DIR --rewrite FRACTION [--round K]
//! ```
//!
//! The first form writes `DIR/runs/...` (DIR may exist; `DIR/runs` must
//! not). The second rewrites `FRACTION` of the sidecars already under
//! `DIR/runs` the way a training process does (temp file + rename); rounds
//! `0, 1, 2, ...` touch different runs. Both print one JSON object on
//! stdout describing what was done; progress goes to stderr.

#[path = "../benches/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: gen_tree DIR --runs N [--seed S] [--no-nan] [--threads T]
       gen_tree DIR --rewrite FRACTION [--round K]";

struct Args {
    dir: PathBuf,
    runs: Option<usize>,
    seed: u64,
    nan: bool,
    threads: Option<usize>,
    rewrite: Option<f64>,
    round: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: PathBuf::new(),
        runs: None,
        seed: 1,
        nan: true,
        threads: None,
        rewrite: None,
        round: 0,
    };
    let mut dir = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |name: &str, text: String| {
            text.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{name} {text:?}: not a number"))
        };
        match arg.as_str() {
            "--runs" => args.runs = Some(number("--runs", value("--runs")?)? as usize),
            "--seed" => args.seed = number("--seed", value("--seed")?)?,
            "--threads" => args.threads = Some(number("--threads", value("--threads")?)? as usize),
            "--round" => args.round = number("--round", value("--round")?)? as usize,
            "--rewrite" => {
                let text = value("--rewrite")?;
                let fraction: f64 = text
                    .parse()
                    .map_err(|_| format!("--rewrite {text:?}: not a fraction"))?;
                if !(fraction > 0.0 && fraction <= 1.0) {
                    return Err(format!("--rewrite {text}: expected a fraction in (0, 1]"));
                }
                args.rewrite = Some(fraction);
            }
            "--no-nan" => args.nan = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}\n{USAGE}")),
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    args.dir = dir.ok_or_else(|| USAGE.to_owned())?;
    if args.runs.is_some() == args.rewrite.is_some() {
        return Err(format!("give exactly one of --runs and --rewrite\n{USAGE}"));
    }
    Ok(args)
}

fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    if let Some(fraction) = args.rewrite {
        let sidecars = support::find_sidecars(&args.dir)
            .map_err(|e| format!("{}: {e}", args.dir.display()))?;
        let chosen = support::rewrite_set(&sidecars, fraction, args.round);
        support::rewrite_sidecars(&chosen).map_err(|e| e.to_string())?;
        let out = serde_json::json!({
            "rewritten": chosen.len(),
            "of": sidecars.len(),
            "round": args.round,
            "elapsed_s": started.elapsed().as_secs_f64(),
        });
        println!("{out}");
        return Ok(());
    }
    let runs = args.runs.unwrap_or_default();
    let mut opts = support::TreeOptions {
        nan: args.nan,
        ..Default::default()
    };
    if let Some(threads) = args.threads {
        opts.threads = threads;
    }
    eprintln!(
        "gen_tree: writing {runs} runs (seed {}, {}, {} threads) under {}",
        args.seed,
        if args.nan { "with NaN" } else { "no NaN" },
        opts.threads,
        args.dir.join("runs").display()
    );
    let tree = support::write_tree(&args.dir, runs, args.seed, &opts).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "gen_tree: {runs} runs, {} files, {:.1} MB of sidecars in {elapsed:.1} s",
        tree.files,
        tree.sidecar_bytes as f64 / 1e6
    );
    let out = serde_json::json!({
        "cache_dir": tree.cache_dir,
        "runs": runs,
        "seed": args.seed,
        "nan": args.nan,
        "files": tree.files,
        "sidecar_bytes": tree.sidecar_bytes,
        "mean_sidecar_bytes": tree.sidecar_bytes / (runs.max(1) as u64),
        "sample_tag": support::sample_tag(),
        "sample_run_ids": support::spread_ids(&tree.run_ids, 5),
        "elapsed_s": elapsed,
    });
    println!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen_tree: {message}");
            ExitCode::FAILURE
        }
    }
}
