//! runreg's local web page: the runs table, the sweep view and a run's
//! metric curves, served read-only on loopback (`runreg ui`).
//!
//! A front end beside the `runreg` library, in a package of its own: the
//! server is tested on its own (`tests/api.rs`, `tests/browser/`), and
//! programs that embed the library pay nothing for it. Its answers come
//! from the library's public API alone.
//!
//! # Security
//!
//! - It listens on 127.0.0.1 unless told otherwise.
//! - The URL carries a random 128-bit [`Token`]; a request without it (the
//!   `token` query parameter or the `X-Runreg-Token` header) gets 403.
//! - The `Host` header must name this server (`127.0.0.1:PORT`,
//!   `localhost:PORT`, `[::1]:PORT` or the bound address), else 403: a page
//!   of another site that rebinds its name to 127.0.0.1 is refused.
//! - Only GET and HEAD are answered (405 otherwise); nothing writes.
//! - A run's files are reached only through its run id, looked up in the
//!   cache; a request never names a path. `metrics.csv` is never opened
//!   through a symbolic link.
//! - Every answer carries `Content-Security-Policy: default-src 'self'`
//!   (the page has no inline script), `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//!
//! # The JSON API
//!
//! Every endpoint takes the token; bad parameters give 400 with
//! `{"error": "..."}` (a bad filter also gives `"column"`, and its error
//! is the caret message of `runreg ls --where`); an unknown run gives 404.
//! Non-finite floats are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /api/runs?where=EXPR&sort=summary.val_acc:desc,hparams.lr:asc&offset=0&limit=100&columns=status,summary.val_acc` | `{"total", "offset", "limit", "columns", "runs": [{"run_id", "status", "alive", "values": [one per column]}]}`; `limit` at most 1000 |
//! | `GET /api/keys?where=EXPR&limit=N` | `{"fields", "hparams": [{"key", "kinds"}], "summary": [...]}`, of the first `limit` runs (newest first) when given |
//! | `GET /api/sweep?where=EXPR&metric=summary.val_acc` | `{"total", "returned", "metric", "hparams": [{"key", "kind"}], "runs": [{"run_id", "status", "alive", "hparams": [one per axis], "metric"}]}`: the hparams that vary; at most 20,000 runs |
//! | `GET /api/run/ID` | the run's record (`runreg show --json`) |
//! | `GET /api/run/ID/metrics?metric=NAME&points=500` | its metric series, downsampled (`runreg metrics --json`); `points` at most 5000 |
//! | `GET /api/diff?run=A&run=B` | what differs (`runreg diff --json`), 2 to 16 runs |
//! | `GET /api/status` | `{"generation", "total", "statuses", "alive", "scan_interval_s", "scanned_at", "scan_s", "scan_error"}` |
//!
//! `/api/status` starts a rescan of the tree when one is due: at most one
//! per interval (3 s by default), shared by every viewer, run beside the
//! requests (see [`Live`]). The page polls it every 3 s and redraws when
//! `generation` or `alive` changes; the other endpoints answer from the
//! cache as the last scan left it.

mod api;
mod assets;
mod gate;
mod live;
mod reply;
mod server;
mod target;
mod token;

pub use api::{MAX_DIFF_RUNS, MAX_PAGE, MAX_POINTS, MAX_SWEEP_RUNS};
pub use gate::TOKEN_HEADER;
pub use live::{LastScan, Live};
pub use reply::CONTENT_SECURITY_POLICY;
pub use server::{DEFAULT_THREADS, Server};
pub use token::Token;
