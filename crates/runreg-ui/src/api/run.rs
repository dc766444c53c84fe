//! One run (`/api/run/ID`), its metric curves (`/api/run/ID/metrics`), and
//! what differs across runs (`/api/diff?run=A&run=B`).
//!
//! A run's files are reached only through its id: the registry looks the
//! id up in the cache and opens `metrics.csv` in the directory it recorded,
//! never through a symbolic link. No path comes from the request.

use runreg::{Downsample, Error, Registry, RunDiff, RunRecord};

use super::{MAX_DIFF_RUNS, MAX_POINTS, Problem, params};
use crate::reply::Reply;
use crate::target::Target;

fn find(registry: &Registry, id: &str) -> Result<RunRecord, Problem> {
    let id = params::run_id(id)?;
    registry.get(id)?.ok_or_else(|| {
        Problem::from(Error::RunNotFound {
            run_id: id.to_owned(),
        })
    })
}

/// `GET /api/run/ID`: the run's record, as `runreg show --json` prints it.
pub fn run(registry: &Registry, id: &str) -> Result<Reply, Problem> {
    Ok(Reply::json(&find(registry, id)?))
}

/// `GET /api/run/ID/metrics?metric=NAME&points=500`: each metric's series
/// (every metric when none is named), downsampled to about `points`
/// buckets (each keeps its first, min, max and last points).
pub fn metrics(registry: &Registry, id: &str, target: &Target) -> Result<Reply, Problem> {
    let id = params::run_id(id)?;
    let points = params::count(target, "points", 500, MAX_POINTS)?.max(1);
    let names: Vec<String> = target.all("metric").map(str::to_owned).collect();
    let reader = registry.metrics(id).map_err(|e| match e {
        // Not a regular file (a symbolic link, a directory) or unreadable:
        // there is no metrics.csv this page will serve.
        Error::Io { .. } => Problem::new(404, format!("run {id} has no readable metrics.csv")),
        e => Problem::from(e),
    })?;
    let history = reader.history(&names, Some(Downsample { buckets: points }))?;
    Ok(Reply::json(&history))
}

/// `GET /api/diff?run=A&run=B...`: the hparams, config and summary values
/// that differ, as `runreg diff --json` prints them.
pub fn diff(registry: &Registry, target: &Target) -> Result<Reply, Problem> {
    let ids: Vec<&str> = target.all("run").collect();
    if !(2..=MAX_DIFF_RUNS).contains(&ids.len()) {
        return Err(Problem::new(
            400,
            format!("give 2 to {MAX_DIFF_RUNS} runs: run=A&run=B"),
        ));
    }
    let runs = ids
        .iter()
        .map(|id| find(registry, id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Reply::json(&RunDiff::of(&runs)))
}
