//! Run trees for tests: a temporary cache directory and a builder that
//! writes runs the way stable-pretraining does.

#![allow(dead_code)]

pub mod oracle;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runreg::{Sidecar, Status, Value};
use tempfile::TempDir;

/// A temporary cache directory with a `runs/` folder.
pub struct Tree {
    dir: TempDir,
    next_slot: std::cell::Cell<u32>,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("runs")).expect("runs dir");
        Tree {
            dir,
            next_slot: std::cell::Cell::new(0),
        }
    }

    pub fn cache_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// A run to write under `runs/20261101/<HHMMSS>/<run_id>/`.
    pub fn run(&self, run_id: &str) -> RunBuilder<'_> {
        let slot = self.next_slot.get();
        self.next_slot.set(slot + 1);
        let dir = self
            .runs()
            .join("20261101")
            .join(format!("{:06}", 120000 + slot))
            .join(run_id);
        let mut sidecar = Sidecar::new(run_id);
        sidecar.created_at = Some(now() - 3600.0);
        sidecar.updated_at = Some(now() - 3600.0);
        sidecar.run_dir = Some(dir.to_string_lossy().into_owned());
        RunBuilder {
            tree: self,
            dir,
            sidecar,
            heartbeat_age: None,
        }
    }

    /// Writes `text` as `<rel>/sidecar.json` under `runs/`; returns the file.
    pub fn raw_sidecar(&self, rel: &str, text: &str) -> PathBuf {
        let dir = self.runs().join(rel);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sidecar.json");
        fs::write(&path, text).unwrap();
        set_mtime(&path, now() - 3600.0);
        path
    }

    /// Every `sidecar.json` under `runs/`.
    pub fn sidecars(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.runs()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let ty = entry.file_type().unwrap();
                if ty.is_dir() {
                    stack.push(entry.path());
                } else if entry.file_name() == "sidecar.json" {
                    out.push(entry.path());
                }
            }
        }
        out.sort();
        out
    }

    /// Moves the mtime of every sidecar and every directory under `runs/`
    /// an hour back, out of the racy window, so that the next incremental
    /// scan trusts unchanged stamps.
    pub fn age_tree(&self) {
        self.age_sidecars();
        let mut stack = vec![self.runs()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                }
            }
            set_mtime(&dir, now() - 3600.0);
        }
    }

    /// Moves every sidecar's mtime an hour back, out of the racy window, so
    /// the next incremental scan trusts unchanged stamps.
    pub fn age_sidecars(&self) {
        for path in self.sidecars() {
            set_mtime(&path, now() - 3600.0);
        }
    }
}

/// A run being described; [`RunBuilder::write`] puts it on disk.
pub struct RunBuilder<'t> {
    tree: &'t Tree,
    dir: PathBuf,
    pub sidecar: Sidecar,
    heartbeat_age: Option<f64>,
}

impl RunBuilder<'_> {
    pub fn status(mut self, status: Status) -> Self {
        self.sidecar.status = status;
        self
    }
    pub fn tag(mut self, tag: &str) -> Self {
        self.sidecar.tags.push(tag.to_owned());
        self
    }
    pub fn hparam(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.sidecar.hparams.insert(key, value.into());
        self
    }
    pub fn metric(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.sidecar.summary.insert(key, value.into());
        self
    }
    pub fn config(mut self, key: &str, value: Value) -> Self {
        self.sidecar.config.insert(key, value);
        self
    }
    pub fn created(mut self, at: f64) -> Self {
        self.sidecar.created_at = Some(at);
        self
    }
    pub fn updated(mut self, at: f64) -> Self {
        self.sidecar.updated_at = Some(at);
        self
    }
    pub fn notes(mut self, notes: &str) -> Self {
        self.sidecar.notes = notes.to_owned();
        self
    }
    /// Gives the run a heartbeat file touched `secs` ago.
    pub fn heartbeat(mut self, secs_ago: f64) -> Self {
        self.heartbeat_age = Some(secs_ago);
        self
    }
    /// Puts the run in another directory (relative to `runs/`).
    pub fn at(mut self, rel: &str) -> Self {
        self.dir = self.tree.runs().join(rel);
        self
    }

    /// Writes sidecar.json (with an mtime an hour back) and the heartbeat;
    /// returns the run directory.
    pub fn write(self) -> PathBuf {
        fs::create_dir_all(&self.dir).unwrap();
        let path = self.dir.join("sidecar.json");
        fs::write(&path, self.sidecar.to_json()).unwrap();
        set_mtime(&path, now() - 3600.0);
        if let Some(age) = self.heartbeat_age {
            let hb = self.dir.join("heartbeat");
            File::create(&hb).unwrap();
            set_mtime(&hb, now() - age);
        }
        self.dir
    }
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub fn set_mtime(path: &Path, epoch_secs: f64) {
    let time = UNIX_EPOCH + Duration::from_secs_f64(epoch_secs);
    File::options()
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .unwrap()
        .set_modified(time)
        .unwrap();
}
