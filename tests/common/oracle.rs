//! The reference registry (stable-pretraining 0.1.8) as a test oracle,
//! installed under `target/oracle/` by `scripts/oracle/setup.sh` and driven
//! through `scripts/oracle/ref.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Oracle {
    python: String,
    pythonpath: PathBuf,
    /// `scripts/oracle/ref.py`.
    pub script: PathBuf,
}

impl Oracle {
    /// The oracle, when `imports` (a Python import list) import and every
    /// path of `files` (relative to the repository) exists. Otherwise `None`
    /// after printing why `test` is skipped, or a panic when `CI` is set,
    /// where a skipped test would hide a regression.
    pub fn require(test: &str, imports: &str, files: &[&str]) -> Option<Oracle> {
        let root = repository_root();
        let oracle = Oracle {
            python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
            pythonpath: root.join("target/oracle/pkg"),
            script: root.join("scripts/oracle/ref.py"),
        };
        let imported = oracle
            .command()
            .args(["-c", &format!("import {imports}")])
            .output()
            .is_ok_and(|out| out.status.success());
        if imported && files.iter().all(|f| root.join(f).is_file()) {
            return Some(oracle);
        }
        let missing = "the reference oracle is not installed: run scripts/oracle/setup.sh";
        if std::env::var_os("CI").is_some() {
            panic!("{missing} (required when CI is set)");
        }
        println!("{test} skipped: {missing}");
        None
    }

    /// Python with the oracle on its path, outside any SLURM array job (the
    /// reference's logger tags those runs).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.env("PYTHONPATH", &self.pythonpath)
            .env_remove("SLURM_ARRAY_JOB_ID");
        cmd
    }

    /// `python3 scripts/oracle/ref.py`, ready for its arguments.
    pub fn ref_py(&self) -> Command {
        let mut cmd = self.command();
        cmd.arg(&self.script);
        cmd
    }
}

/// The repository's root: the nearest ancestor of the package being tested
/// that holds `scripts/oracle` (the library's package is the root; the
/// command line's is `crates/runreg-cli`).
pub fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/oracle").is_dir())
        .expect("the tests run inside the runreg repository")
}
