//! What the reliability tests share: running `runreg` (with a deadline, as
//! another user, under shell limits), snapshots of trees, trees of many runs
//! written fast, and the figures the tests print for RELIABILITY.md.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use runreg::Value;
use tempfile::TempDir;

/// The `runreg` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_runreg");

/// How long any one command may take before the test fails (a FIFO that
/// blocks, a lock never released).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The user the tests drop to when they run as root: `nobody`.
pub const NOBODY: u32 = 65534;

/// Prints one figure for RELIABILITY.md, as `figure: <name> = <value>`
/// (collect them with `cargo test --test reliability -- --nocapture 2>&1 |
/// grep '^figure:'`).
macro_rules! figure {
    ($name:expr, $($value:tt)*) => {
        eprintln!("figure: {} = {}", $name, format!($($value)*))
    };
}
pub(crate) use figure;

/// Clears what would make a command depend on the caller's environment.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "RUNREG_CACHE_DIR",
        "SPT_CACHE_DIR",
        "SLURM_ARRAY_JOB_ID",
        "NO_COLOR",
        "COLUMNS",
        "CLICOLOR_FORCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TZ", "UTC")
}

/// `runreg --cache-dir DIR`.
pub fn runreg(cache_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd).arg("--cache-dir").arg(cache_dir);
    cmd
}

/// A finished command: exit code (or the signal that ended it) and output.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// stdout, after checking the command succeeded without a panic.
    pub fn ok(self, what: &str) -> String {
        assert_eq!(self.code, Some(0), "{what} failed: {self:?}");
        no_panic(&self.stderr, what);
        self.stdout
    }
}

/// Fails the test when stderr shows a panic or an abort.
pub fn no_panic(stderr: &str, what: &str) {
    for sign in [
        "panicked",
        "RUST_BACKTRACE",
        "stack overflow",
        "memory allocation",
    ] {
        assert!(!stderr.contains(sign), "{what}: {sign} in stderr: {stderr}");
    }
}

/// Runs `cmd` to the end, failing the test if it takes longer than
/// [`DEADLINE`].
pub fn run(cmd: &mut Command) -> Outcome {
    run_within(cmd, DEADLINE)
}

/// Runs `cmd` to the end, failing the test (after killing it) if it takes
/// longer than `deadline`.
pub fn run_within(cmd: &mut Command, deadline: Duration) -> Outcome {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {deadline:?}: killed");
        }
        thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// Parses `text` as JSON, or fails the test showing it.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `runreg scan --json` on `cache_dir`: the report, after checking the scan
/// succeeded without a panic.
pub fn scan_report(cache_dir: &Path, full: bool) -> serde_json::Value {
    let mut cmd = runreg(cache_dir);
    cmd.args(["scan", "--json"]);
    if full {
        cmd.arg("--full");
    }
    json(&run(&mut cmd).ok("scan --json"))
}

// ------------------------------------------------------------ other users

/// Whether this process runs as root (then permission bits do not stop it,
/// and tests that need them drop to [`NOBODY`]).
pub fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Runs `runreg` as an unprivileged user: as [`NOBODY`] when this process
/// is root (with `setpriv`, else std's `uid`/`gid`), as this user otherwise.
pub struct Unprivileged {
    bin: PathBuf,
    setpriv: bool,
    /// Holds a copy of the binary when `nobody` cannot reach the original.
    _copy: Option<TempDir>,
}

impl Unprivileged {
    pub fn new() -> Unprivileged {
        if !is_root() {
            return Unprivileged {
                bin: PathBuf::from(BIN),
                setpriv: false,
                _copy: None,
            };
        }
        let setpriv = Command::new("setpriv")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        eprintln!(
            "dropping to uid {NOBODY} with {}",
            if setpriv {
                "setpriv"
            } else {
                "std's CommandExt::uid"
            }
        );
        let mut me = Unprivileged {
            bin: PathBuf::from(BIN),
            setpriv,
            _copy: None,
        };
        let reachable = me
            .command(None)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !reachable {
            // The build directory is private (a clone under /root): give
            // nobody a copy it can reach.
            let dir = tempfile::tempdir().unwrap();
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let copy = dir.path().join("runreg");
            if fs::hard_link(BIN, &copy).is_err() {
                fs::copy(BIN, &copy).unwrap();
            }
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
            me.bin = copy;
            me._copy = Some(dir);
        }
        me
    }

    /// `runreg`, as the unprivileged user, with a clean environment; with
    /// `umask`, started by `sh` under that umask.
    pub fn command(&self, umask: Option<u32>) -> Command {
        // What runs as the user: runreg itself, or sh setting the umask
        // and exec'ing runreg.
        let (program, lead): (PathBuf, Vec<String>) = match umask {
            None => (self.bin.clone(), Vec::new()),
            Some(mask) => (
                PathBuf::from("sh"),
                vec![
                    "-c".into(),
                    format!("umask {mask:03o}; exec \"$0\" \"$@\""),
                    self.bin.to_string_lossy().into_owned(),
                ],
            ),
        };
        let mut cmd = if !is_root() {
            Command::new(&program)
        } else if self.setpriv {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&program);
            cmd
        } else {
            let mut cmd = Command::new(&program);
            // std clears the supplementary groups when root sets a uid.
            cmd.uid(NOBODY).gid(NOBODY);
            cmd
        };
        cmd.args(lead);
        clean_env(&mut cmd);
        cmd
    }

    /// `runreg --cache-dir DIR`, as the unprivileged user.
    pub fn runreg(&self, cache_dir: &Path) -> Command {
        let mut cmd = self.command(None);
        cmd.arg("--cache-dir").arg(cache_dir);
        cmd
    }
}

/// `runreg --cache-dir DIR` started by `sh` under `umask`.
pub fn runreg_with_umask(cache_dir: &Path, umask: u32) -> Command {
    let mut cmd = Command::new("sh");
    clean_env(&mut cmd)
        .arg("-c")
        .arg(format!("umask {umask:03o}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .arg("--cache-dir")
        .arg(cache_dir);
    cmd
}

/// Gives `path` and everything under it to `uid` (when root).
pub fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// A temporary directory that other users may enter (tempfile makes them
/// 0700).
pub fn open_tempdir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

// ---------------------------------------------------------------- snapshots

/// What a snapshot records of one path (lstat): enough to see any write,
/// rename, chmod or truncation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub len: u64,
    pub mtime_ns: i128,
    pub mode: u32,
    pub ino: u64,
}

/// Every path under `root` (itself included, as ""), relative, with its
/// lstat. Symbolic links are recorded, not followed.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let ty = meta.file_type();
        let kind = if ty.is_symlink() {
            'l'
        } else if ty.is_dir() {
            'd'
        } else if ty.is_file() {
            'f'
        } else {
            'o'
        };
        if kind == 'd'
            && let Ok(entries) = fs::read_dir(&path)
        {
            stack.extend(entries.map(|e| e.unwrap().path()));
        }
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        out.insert(
            rel,
            Entry {
                kind,
                len: meta.len(),
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                mode: meta.mode(),
                ino: meta.ino(),
            },
        );
    }
    out
}

/// The paths that appeared, vanished or changed between two snapshots.
pub fn changes(
    before: &BTreeMap<PathBuf, Entry>,
    after: &BTreeMap<PathBuf, Entry>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = before
        .iter()
        .filter(|(path, entry)| after.get(*path) != Some(entry))
        .map(|(path, _)| path.clone())
        .collect();
    out.extend(
        after
            .keys()
            .filter(|path| !before.contains_key(*path))
            .cloned(),
    );
    out.sort();
    out.dedup();
    out
}

/// Whether `rel` (relative to a cache directory) is runreg's own: the cache
/// file, its lock and the lock's turnstile, a moved-aside copy.
pub fn is_cache_file(rel: &Path) -> bool {
    let name = rel.as_os_str().to_string_lossy();
    rel.parent() == Some(Path::new(""))
        && (name == "registry.redb"
            || name == "registry.redb.lock"
            || name == "registry.redb.lock.turnstile"
            || name.starts_with("registry.redb.corrupt-"))
}

// ----------------------------------------------------------- large trees

/// A tiny deterministic generator (xorshift64*), for reproducible "random"
/// choices; the seed is printed by the tests that use it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A seed from `RUNREG_RELIABILITY_SEED`, else from the clock.
    pub fn seed_from_env() -> u64 {
        std::env::var("RUNREG_RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The sidecar of run number `i` of a generated tree: a completed run with
/// tags, a few hparams and metrics, written as Python writes it.
pub fn small_sidecar(i: usize, run_dir: &Path) -> String {
    let mut s = runreg::Sidecar::new(run_id_of(i));
    s.run_dir = Some(run_dir.to_string_lossy().into_owned());
    s.status = runreg::Status::Completed;
    s.created_at = Some(1_790_000_000.0 + i as f64);
    s.updated_at = Some(1_790_000_600.0 + i as f64);
    s.ended_at = s.updated_at;
    s.tags = vec!["gen".to_owned(), format!("sweep:{}", i % 20)];
    s.hparams
        .insert("optim.lr", runreg::Value::Float(0.1 / (1 + i % 7) as f64));
    s.hparams.insert("seed", runreg::Value::Int(i as i64));
    s.hparams
        .insert("model.name", runreg::Value::from("resnet50"));
    s.summary
        .insert("val_acc", runreg::Value::Float((i % 1000) as f64 / 1000.0));
    s.summary
        .insert("train_loss", runreg::Value::Float(1.0 / (i + 1) as f64));
    s.to_json()
}

/// The id of run number `i` of a generated tree.
pub fn run_id_of(i: usize) -> String {
    format!("g{i:06}")
}

/// Writes `n` runs (`small_sidecar`) under `cache_dir/runs/20261101/<HHMMSS>/`,
/// a hundred runs per `<HHMMSS>` folder, on a few threads; returns their ids,
/// sorted.
pub fn write_runs(cache_dir: &Path, n: usize) -> Vec<String> {
    let runs = cache_dir.join("runs").join("20261101");
    let threads = thread::available_parallelism()
        .map_or(2, |t| t.get())
        .clamp(2, 8);
    thread::scope(|scope| {
        for t in 0..threads {
            let runs = &runs;
            scope.spawn(move || {
                for i in (t..n).step_by(threads) {
                    let dir = runs
                        .join(format!("{:06}", 100_000 + i / 100))
                        .join(run_id_of(i));
                    fs::create_dir_all(&dir).unwrap();
                    fs::write(dir.join("sidecar.json"), small_sidecar(i, &dir)).unwrap();
                }
            });
        }
    });
    (0..n).map(run_id_of).collect()
}

// ------------------------------------------------------------ JSON values

/// Parses JSON printed by runreg with runreg's own parser: floats come back
/// exactly (serde_json's default parser can be off by an ulp).
pub fn parse(text: &str) -> Value {
    runreg::sidecar::parse_value(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

static NULL: Value = Value::Null;

/// The field `key` of an object (`null` when absent or not an object).
pub fn get<'a>(value: &'a Value, key: &str) -> &'a Value {
    match value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(&NULL, |(_, v)| v),
        _ => &NULL,
    }
}

/// The items of an array, or fails the test.
pub fn items(value: &Value) -> &[Value] {
    match value {
        Value::List(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

/// The string, or fails the test.
pub fn text(value: &Value) -> &str {
    match value {
        Value::Str(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}
