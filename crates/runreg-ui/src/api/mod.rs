//! The JSON API under `/api/`: each endpoint calls the `runreg` library's
//! public API and nothing else. See the crate documentation for the list.

mod params;
mod run;
mod runs;
mod status;
mod sweep;

use runreg::Error;

use crate::live::Live;
use crate::reply::Reply;
use crate::target::Target;

/// Most runs one page of `/api/runs` holds.
pub const MAX_PAGE: usize = 1000;
/// Most runs `/api/sweep` returns (the answer says how many matched).
pub const MAX_SWEEP_RUNS: usize = 20_000;
/// Most points per metric `/api/run/ID/metrics` returns.
pub const MAX_POINTS: usize = 5000;
/// Most runs `/api/diff` compares.
pub const MAX_DIFF_RUNS: usize = 16;

/// Why an endpoint cannot answer: a status and a message (and, for a bad
/// filter, the column of its caret).
#[derive(Debug)]
pub struct Problem {
    status: u16,
    message: String,
    column: Option<usize>,
}

impl Problem {
    fn new(status: u16, message: impl Into<String>) -> Problem {
        Problem {
            status,
            message: message.into(),
            column: None,
        }
    }

    fn reply(self) -> Reply {
        Reply::error_with(self.status, &self.message, self.column)
    }
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        let status = match &e {
            Error::InvalidFilter(_) | Error::InvalidField(_) | Error::UnknownStatus(_) => 400,
            Error::RunNotFound { .. } | Error::NoMetrics { .. } => 404,
            Error::Busy { .. } => 503,
            _ => 500,
        };
        let column = match &e {
            Error::InvalidFilter(f) => Some(f.column()),
            _ => None,
        };
        Problem {
            status,
            message: e.to_string(),
            column,
        }
    }
}

/// The answer to `target`, whose path starts with `/api/`.
pub fn answer(live: &Live, target: &Target) -> Reply {
    let Some(segments) = target.segments("/api/") else {
        return Reply::error(400, "the path does not decode to UTF-8");
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result = match segments.as_slice() {
        ["status"] => status::status(live),
        ["runs"] => runs::runs(live.registry(), target),
        ["keys"] => runs::keys(live.registry(), target),
        ["sweep"] => sweep::sweep(live.registry(), target),
        ["diff"] => run::diff(live.registry(), target),
        ["run", id] => run::run(live.registry(), id),
        ["run", id, "metrics"] => run::metrics(live.registry(), id, target),
        _ => Err(Problem::new(
            404,
            format!("no such endpoint: {}", target.path()),
        )),
    };
    result.unwrap_or_else(Problem::reply)
}
