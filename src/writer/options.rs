//! [`RunOptions`]: what a new run is, and how its writer behaves.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::value::Value;
use crate::value_map::ValueMap;
use crate::writer::flatten::{config_value, flatten_hparams};

/// The default for [`RunOptions::flush_interval`].
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// The default for [`RunOptions::heartbeat_interval`].
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// The default for [`RunOptions::lock_wait`].
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// What a run is (id, tags, notes, hyper-parameters, config) and how its
/// [`RunWriter`](crate::writer::RunWriter) behaves (flush and heartbeat
/// cadence). A by-value builder.
///
/// # Examples
///
/// ```
/// use runreg::writer::RunOptions;
/// use std::time::Duration;
///
/// #[derive(serde::Serialize)]
/// struct Config { lr: f64, layers: Vec<u32> }
///
/// let options = RunOptions::new()
///     .tag("resnet50")
///     .tag("baseline")
///     .notes("first try")
///     .hparams(&Config { lr: 0.1, layers: vec![64, 128] })
///     .hparam("seed", 3)
///     .flush_interval(Duration::from_secs(10));
/// ```
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub(crate) run_id: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) notes: Option<String>,
    pub(crate) hparams: ValueMap,
    pub(crate) config: ValueMap,
    /// The first serialization failure, reported by `create`.
    error: Option<(&'static str, String)>,
    pub(crate) flush_interval: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) lock_wait: Duration,
    pub(crate) slurm_sweep_tag: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions::new()
    }
}

impl RunOptions {
    /// No id (one is generated), no tags, notes, hparams or config; flush
    /// every 30 s, heartbeat at most every second, wait up to 10 s for
    /// another writer of the run, SLURM sweep tag on.
    pub fn new() -> RunOptions {
        RunOptions {
            run_id: None,
            tags: Vec::new(),
            notes: None,
            hparams: ValueMap::new(),
            config: ValueMap::new(),
            error: None,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            lock_wait: DEFAULT_LOCK_WAIT,
            slurm_sweep_tag: true,
        }
    }

    /// The run's id (default: [`generate_run_id`](crate::writer::generate_run_id)).
    /// It must pass [`validate_run_id`](crate::writer::validate_run_id);
    /// creating the run fails otherwise. Given to
    /// [`RunWriter::resume_with`](crate::writer::RunWriter::resume_with), it
    /// must be the resumed run's id.
    pub fn run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Adds a tag (once: a tag already given is not repeated).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        let tag = tag.into();
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// Adds several tags, as [`RunOptions::tag`] does.
    pub fn tags<I, T>(self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        tags.into_iter().fold(self, RunOptions::tag)
    }

    /// Free-text notes.
    pub fn notes(mut self, notes: impl Into<String>) -> Self {
        self.notes = Some(notes.into());
        self
    }

    /// Hyper-parameters from any `Serialize` value (a config struct, a map,
    /// `serde_json::Value`), flattened as stable-pretraining flattens them
    /// (see [`flatten_hparams`]) and merged
    /// into those given before. A serialization failure is reported by
    /// [`RunWriter::create`](crate::writer::RunWriter::create).
    pub fn hparams<T: Serialize + ?Sized>(mut self, hparams: &T) -> Self {
        match flatten_hparams(hparams) {
            Ok(flat) => self.hparams.extend(flat),
            Err(e) => self.fail(e),
        }
        self
    }

    /// One hyper-parameter, under its already flat key (`optim.lr`).
    pub fn hparam(mut self, key: impl AsRef<str>, value: impl Into<Value>) -> Self {
        self.hparams.insert(key, value.into());
        self
    }

    /// The sidecar's `config` object: any `Serialize` value that is a map
    /// or struct, kept nested; merged into a config given before.
    pub fn config<T: Serialize + ?Sized>(mut self, config: &T) -> Self {
        match config_value(config) {
            Ok(map) => self.config.extend(map),
            Err(e) => self.fail(e),
        }
        self
    }

    /// How often the writer rewrites `sidecar.json` and `summary.json` on
    /// its own, checked at each [`log_metrics`](crate::writer::RunWriter::log_metrics)
    /// (default 30 s). `Duration::ZERO` rewrites them at every call, for
    /// jobs that log rarely.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The shortest time between two heartbeat touches from
    /// [`log_metrics`](crate::writer::RunWriter::log_metrics) (default 1 s,
    /// far below the 180 s after which a run stops counting as alive).
    /// On network filesystems each touch is a round trip to the server;
    /// `Duration::ZERO` touches at every call.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long [`RunWriter::resume`](crate::writer::RunWriter::resume)
    /// waits for another writer of the same run to close it (default 10 s;
    /// then [`Error::RunBusy`]). A writer holds an exclusive lock on the
    /// run's heartbeat file while it is open, so that two writers (say two
    /// `runreg log` calls in parallel) never interleave their updates.
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Whether a job of a SLURM array (`SLURM_ARRAY_JOB_ID` set) gets the
    /// tag `sweep:<array job id>`, as stable-pretraining's logger adds it
    /// (default `true`).
    pub fn slurm_sweep_tag(mut self, enabled: bool) -> Self {
        self.slurm_sweep_tag = enabled;
        self
    }

    fn fail(&mut self, error: Error) {
        if self.error.is_some() {
            return;
        }
        self.error = Some(match error {
            Error::Serialize { what, message } => (what, message),
            other => ("hparams", other.to_string()),
        });
    }

    /// The first serialization failure, if any.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.error {
            Some((what, message)) => Err(Error::Serialize {
                what,
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The tags to give the run: those given, then the SLURM sweep tag.
    pub(crate) fn all_tags(&self) -> Vec<String> {
        let mut tags = self.tags.clone();
        if self.slurm_sweep_tag
            && let Some(job) = std::env::var("SLURM_ARRAY_JOB_ID")
                .ok()
                .filter(|j| !j.is_empty())
        {
            let tag = format!("sweep:{job}");
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_not_repeated() {
        let o = RunOptions::new().tag("a").tags(["b", "a"]).tag("b");
        assert_eq!(o.tags, ["a", "b"]);
    }

    #[test]
    fn hparams_merge_and_later_keys_win() {
        let o = RunOptions::new()
            .hparams(&serde_json::json!({"optim": {"lr": 0.1}, "seed": 1}))
            .hparam("seed", 2)
            .hparams(&serde_json::json!({"batch": 64}));
        assert_eq!(o.hparams["optim.lr"], Value::Float(0.1));
        assert_eq!(o.hparams["seed"], Value::Int(2));
        assert_eq!(o.hparams["batch"], Value::Int(64));
        o.check().expect("no error");
    }

    #[test]
    fn the_first_serialization_error_is_kept() {
        let o = RunOptions::new().config(&3).config(&"x");
        let err = o.check().unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot serialize config: it must serialize to a map or struct, not 3"
        );
    }
}
