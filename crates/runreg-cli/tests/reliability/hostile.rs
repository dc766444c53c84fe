//! Item 5: hostile trees, one test each. The scan never panics, never
//! aborts, never blocks, and every rejected file is in `runreg scan
//! --json`'s report with its reason; what is accepted can be queried.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runreg::{Registry, ScanMode, Status, Value};

use crate::common::Tree;
use crate::support::{
    NOBODY, Unprivileged, chown_tree, figure, get, is_root, items, json, parse, run, run_within,
    runreg, scan_report, snapshot, text,
};

/// How long one command on a hostile tree may take: generous for a debug
/// build on two busy cores, yet far below what work quadratic in the size
/// of one sidecar takes on these inputs (minutes). A command still running
/// then is killed and fails the test, rather than hanging the suite.
const HOSTILE_DEADLINE: Duration = Duration::from_secs(45);

/// `runreg scan --json` made by `runreg`, within [`HOSTILE_DEADLINE`].
fn bounded_scan(runreg: &dyn Fn() -> Command, what: &str) -> serde_json::Value {
    json(&run_within(runreg().args(["scan", "--json"]), HOSTILE_DEADLINE).ok(what))
}

/// Scans twice (a first, full scan and an incremental one), each within
/// [`HOSTILE_DEADLINE`], checking both succeed and report the same
/// rejections; returns the first report.
fn scan_twice(cache_dir: &Path) -> serde_json::Value {
    let runreg = || runreg(cache_dir);
    let first = bounded_scan(&runreg, "first scan");
    let again = bounded_scan(&runreg, "rescan with nothing changed");
    assert_eq!(
        first["invalid"], again["invalid"],
        "rejections differ on a rescan"
    );
    assert_eq!(
        first["total_sidecars"], again["total_sidecars"],
        "{first}\n{again}"
    );
    first
}

/// The reason the report gives for the path ending with `rel` (in
/// `invalid` or `errors`); fails the test when it is not there.
fn reason(report: &serde_json::Value, rel: &str) -> String {
    for list in ["invalid", "errors"] {
        for issue in report[list].as_array().unwrap() {
            if issue["path"].as_str().unwrap().ends_with(rel) {
                return issue["reason"].as_str().unwrap().to_owned();
            }
        }
    }
    panic!("{rel} is not in the report: {report}");
}

/// Every record `ls --json` prints.
fn records(cache_dir: &Path) -> Vec<Value> {
    let out =
        run_within(runreg(cache_dir).args(["ls", "--json"]), HOSTILE_DEADLINE).ok("ls --json");
    items(&parse(&out)).to_vec()
}

/// The rest of the round every hostile tree goes through, after its first
/// scan and a rescan with nothing changed (`scan_twice`): `change` rewrites
/// the hostile parts (still hostile), then a rescan, one more with nothing
/// changed, `ls --json`, `show` (table and JSON) of each run in `shown`,
/// and `export` to JSON lines and to CSV, each made by `runreg` and
/// succeeding within [`HOSTILE_DEADLINE`]. Returns the first rescan's
/// report. The exports are written into `cache_dir`, which the user of
/// `runreg` may write to.
fn changed_and_queried(
    cache_dir: &Path,
    runreg: &dyn Fn() -> Command,
    shown: &[&str],
    change: impl FnOnce(),
) -> serde_json::Value {
    change();
    let report = bounded_scan(runreg, "rescan after a change");
    bounded_scan(runreg, "rescan after that, with nothing changed");
    let within = |cmd: &mut Command, what: &str| run_within(cmd, HOSTILE_DEADLINE).ok(what);
    let listed = parse(&within(runreg().args(["ls", "--json"]), "ls --json"));
    let listed = items(&listed).len();
    for id in shown {
        let table = within(runreg().args(["show", id]), "show");
        assert!(table.starts_with("run_id"), "{table}");
        let record = parse(&within(
            runreg().args(["show", id, "--json"]),
            "show --json",
        ));
        assert_eq!(text(get(&record, "run_id")), *id);
    }
    let jsonl = cache_dir.join("export.jsonl");
    within(runreg().arg("export").arg(&jsonl), "export to JSON lines");
    assert_eq!(fs::read_to_string(&jsonl).unwrap().lines().count(), listed);
    let csv = cache_dir.join("export.csv");
    within(runreg().arg("export").arg(&csv), "export to CSV");
    assert!(fs::read_to_string(&csv).unwrap().starts_with("run_id,"));
    report
}

fn record<'a>(records: &'a [Value], run_id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| text(get(r, "run_id")) == run_id)
        .unwrap_or_else(|| panic!("{run_id:?} not listed"))
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn symlink_loops_are_not_followed() {
    let tree = Tree::new();
    let runs = tree.runs();
    tree.run("ok").write();
    fs::create_dir_all(runs.join("loop")).unwrap();
    symlink("..", runs.join("loop/up")).unwrap();
    symlink(&runs, runs.join("loop/root")).unwrap();
    symlink("l2", runs.join("l1")).unwrap();
    symlink("l1", runs.join("l2")).unwrap();
    fs::create_dir_all(runs.join("self")).unwrap();
    symlink("sidecar.json", runs.join("self/sidecar.json")).unwrap();
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["total_sidecars"], 2, "{report}");
    assert_eq!(
        reason(&report, "self/sidecar.json"),
        "a symbolic link (not followed)"
    );
    assert_eq!(
        records(tree.cache_dir())
            .iter()
            .map(|r| text(get(r, "run_id")))
            .collect::<Vec<_>>(),
        ["ok"]
    );
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["ok"],
        || {
            // The looping sidecar now loops through the directory loop.
            fs::remove_file(runs.join("self/sidecar.json")).unwrap();
            symlink(
                "../loop/up/self/sidecar.json",
                runs.join("self/sidecar.json"),
            )
            .unwrap();
        },
    );
    assert_eq!(
        reason(&report, "self/sidecar.json"),
        "a symbolic link (not followed)"
    );
    figure!(
        "hostile: symlink loops (dir to parent, to root, l1<->l2, sidecar.json to itself)",
        "not followed; the looping sidecar.json rejected"
    );
}

#[test]
fn symlinks_out_of_the_tree_are_not_followed() {
    let tree = Tree::new();
    let outside = tempfile::tempdir().unwrap();
    write(
        &outside.path().join("r/sidecar.json"),
        r#"{"run_id": "outside", "status": "completed"}"#,
    );
    write(&outside.path().join("secret"), "not a sidecar");
    symlink(outside.path(), tree.runs().join("linked_dir")).unwrap();
    fs::create_dir_all(tree.runs().join("linked_file")).unwrap();
    symlink(
        outside.path().join("r/sidecar.json"),
        tree.runs().join("linked_file/sidecar.json"),
    )
    .unwrap();
    fs::create_dir_all(tree.runs().join("to_secret")).unwrap();
    symlink("/etc/passwd", tree.runs().join("to_secret/sidecar.json")).unwrap();
    let before = snapshot(outside.path());
    let report = scan_twice(tree.cache_dir());
    assert_eq!(
        reason(&report, "linked_file/sidecar.json"),
        "a symbolic link (not followed)"
    );
    assert_eq!(
        reason(&report, "to_secret/sidecar.json"),
        "a symbolic link (not followed)"
    );
    assert!(records(tree.cache_dir()).is_empty());
    assert_eq!(snapshot(outside.path()), before);
    let linked = tree.runs().join("linked_file/sidecar.json");
    let report = changed_and_queried(tree.cache_dir(), &|| runreg(tree.cache_dir()), &[], || {
        fs::remove_file(&linked).unwrap();
        symlink(outside.path().join("secret"), &linked).unwrap();
    });
    assert_eq!(
        reason(&report, "linked_file/sidecar.json"),
        "a symbolic link (not followed)"
    );
    assert_eq!(snapshot(outside.path()), before);
    figure!(
        "hostile: symlinks out of the tree (a directory, a sidecar, /etc/passwd)",
        "not followed; the sidecar links rejected"
    );
}

/// A directory nobody may read, until dropped.
struct Locked(PathBuf);

impl Locked {
    fn new(dir: &Path) -> Locked {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o000)).unwrap();
        Locked(dir.to_path_buf())
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
    }
}

/// Makes the tree the unprivileged user's when the tests run as root.
fn give_to_the_user(cache_dir: &Path) {
    if is_root() {
        fs::set_permissions(cache_dir, fs::Permissions::from_mode(0o755)).unwrap();
        chown_tree(cache_dir, NOBODY);
    }
}

/// `runreg scan --json [--full]` as the unprivileged user: its report.
fn scan_as(user: &Unprivileged, cache_dir: &Path, full: bool) -> serde_json::Value {
    let mut cmd = user.runreg(cache_dir);
    cmd.args(["scan", "--json"]);
    if full {
        cmd.arg("--full");
    }
    json(&run(&mut cmd).ok("scan as the user"))
}

#[test]
fn an_unreadable_directory_is_reported_and_its_runs_kept() {
    // Root reads everything: the scans run as nobody, on a tree it owns.
    let user = Unprivileged::new();
    let tree = Tree::new();
    let open_dir = tree.run("open").status(Status::Completed).write();
    tree.run("hidden")
        .status(Status::Completed)
        .metric("acc", 0.9)
        .at("locked/hidden")
        .write();
    let cache_dir = tree.cache_dir().to_path_buf();
    give_to_the_user(&cache_dir);
    let scan = |full: bool| scan_as(&user, &cache_dir, full);
    let listed = || {
        let out = run(user.runreg(&cache_dir).args(["ls", "--json"])).ok("ls as the user");
        items(&parse(&out))
            .iter()
            .map(|r| {
                (
                    text(get(r, "run_id")).to_owned(),
                    text(get(r, "status")).to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let report = scan(false);
    assert_eq!(report["upserted"], 2, "{report}");

    let locked = tree.runs().join("locked");
    let _unlock = Locked::new(&locked);
    for full in [false, true] {
        let report = scan(full);
        assert_eq!(
            reason(&report, "runs/locked"),
            "cannot read directory: Permission denied (os error 13)",
            "{report}"
        );
        assert_eq!(report["orphaned"], 0, "{report}");
        // Unknown is not gone: the run under it is kept as it was.
        let mut runs = listed();
        runs.sort();
        assert_eq!(
            runs,
            [
                ("hidden".to_owned(), "completed".to_owned()),
                ("open".to_owned(), "completed".to_owned())
            ]
        );
    }
    let open = open_dir.join("sidecar.json");
    let report = changed_and_queried(
        &cache_dir,
        &|| user.runreg(&cache_dir),
        &["open", "hidden"],
        || {
            let mut s = runreg::Sidecar::new("open");
            s.status = Status::Failed;
            fs::write(&open, s.to_json()).unwrap();
        },
    );
    assert_eq!(report["upserted"], 1, "{report}");
    assert_eq!(
        reason(&report, "runs/locked"),
        "cannot read directory: Permission denied (os error 13)"
    );
    figure!(
        "hostile: an unreadable directory (chmod 000)",
        "reported with its reason; its runs kept, not orphaned (scanned as {})",
        if is_root() { "nobody" } else { "this user" }
    );
}

#[test]
fn an_unreadable_directory_met_while_sidecars_are_read_is_reported_and_its_runs_kept() {
    // More sidecars than a full scan walks before it starts reading them:
    // the walk and the reads overlap when it meets the directory.
    let user = Unprivileged::new();
    let tree = Tree::new();
    let n = 3000;
    let first = tree.run("r0000").status(Status::Completed).write();
    for i in 1..n {
        tree.run(&format!("r{i:04}"))
            .status(Status::Completed)
            .write();
    }
    for i in 0..3 {
        tree.run(&format!("hidden{i}"))
            .status(Status::Completed)
            .at(&format!("20261101/locked/hidden{i}"))
            .write();
    }
    let cache_dir = tree.cache_dir().to_path_buf();
    give_to_the_user(&cache_dir);
    let scan = |full: bool| scan_as(&user, &cache_dir, full);
    let report = scan(true);
    assert_eq!(report["upserted"], n + 3, "{report}");

    let locked = tree.runs().join("20261101/locked");
    let _unlock = Locked::new(&locked);
    let report = scan(true);
    assert_eq!(
        reason(&report, "runs/20261101/locked"),
        "cannot read directory: Permission denied (os error 13)",
        "{report}"
    );
    assert_eq!(report["errors"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["total_sidecars"], n, "{report}");
    assert_eq!(report["orphaned"], 0, "{report}");
    let out = run(user
        .runreg(&cache_dir)
        .args(["ls", "--json", "--status", "completed"]))
    .ok("ls as the user");
    assert_eq!(items(&parse(&out)).len(), n + 3, "runs under it are kept");
    let first = first.join("sidecar.json");
    let report = changed_and_queried(
        &cache_dir,
        &|| user.runreg(&cache_dir),
        &["r0000", "hidden0"],
        || {
            let mut s = runreg::Sidecar::new("r0000");
            s.status = Status::Failed;
            fs::write(&first, s.to_json()).unwrap();
        },
    );
    assert_eq!(report["upserted"], 1, "{report}");
    assert_eq!(report["orphaned"], 0, "{report}");
}

/// Scans `reg` fully, running `mutate` once from the progress callback,
/// when the walk is done and some sidecars are found but not yet read;
/// returns the report and how many sidecars were still unread then.
fn scan_mutating(
    cache_dir: &Path,
    mutate: impl Fn() + Send + Sync + 'static,
) -> (runreg::ScanReport, usize) {
    let armed = Arc::new(AtomicBool::new(true));
    let unread = Arc::new(AtomicUsize::new(0));
    let (armed2, unread2) = (Arc::clone(&armed), Arc::clone(&unread));
    let mut reg = Registry::builder(cache_dir)
        .scan(false)
        .on_progress(move |p| {
            if !p.walking
                && p.processed > 0
                && p.processed < p.found
                && armed2.swap(false, Ordering::SeqCst)
            {
                unread2.store(p.found - p.processed, Ordering::SeqCst);
                mutate();
            }
        })
        .open()
        .unwrap();
    let report = reg.scan(ScanMode::Full).unwrap();
    assert!(
        !armed.load(Ordering::SeqCst),
        "the scan never paused between reads"
    );
    (report, unread.load(Ordering::SeqCst))
}

/// Replaces `path` atomically (temp file + rename), as writers do.
fn replace(path: &Path, text: &str) {
    let temp = path.with_file_name(".sidecar.json.swap.tmp");
    fs::write(&temp, text).unwrap();
    fs::rename(&temp, path).unwrap();
}

#[test]
fn sidecars_deleted_between_walk_and_read_are_kept_until_truly_gone() {
    let tree = Tree::new();
    let n = 1200;
    for i in 0..n {
        tree.run(&format!("d{i:04}"))
            .status(Status::Completed)
            .write();
    }
    let cache_dir = tree.cache_dir().to_path_buf();
    Registry::open(&cache_dir).unwrap();
    let sidecars = tree.sidecars();
    let (report, unread) = scan_mutating(&cache_dir, move || {
        for path in &sidecars {
            fs::remove_file(path).unwrap();
        }
    });
    assert!(unread > 0);
    let vanished: Vec<_> = report
        .errors
        .iter()
        .filter(|e| e.reason == "vanished while being read")
        .collect();
    assert_eq!(vanished.len(), unread, "{report}");
    assert_eq!(report.errors.len(), unread, "{report}");
    assert_eq!(report.orphaned, 0, "{report}");
    // Seen, then gone before being read: not a deleted run yet.
    let reg = Registry::builder(&cache_dir).scan(false).open().unwrap();
    let all = reg.query(&runreg::Query::new()).unwrap();
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|r| r.status == Status::Completed));
    drop(reg);
    // Truly gone at the next scan: orphaned, still listed.
    let mut reg = Registry::open(&cache_dir).unwrap();
    let report = reg.scan(ScanMode::Incremental).unwrap();
    let all = reg.query(&runreg::Query::new()).unwrap();
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|r| r.status == Status::Orphaned), "{report}");
    drop(reg);
    let report = changed_and_queried(
        &cache_dir,
        &|| runreg(&cache_dir),
        &["d0000", "d0001"],
        || {
            tree.run("d0000").status(Status::Completed).write();
        },
    );
    assert_eq!(report["upserted"], 1, "{report}");
    figure!(
        "hostile: sidecars deleted between walk and read",
        "{unread} reported as vanished; 0 orphaned until the next scan; 0 runs lost"
    );
}

#[test]
fn sidecars_replaced_between_walk_and_read_are_read_whole() {
    let tree = Tree::new();
    let n = 1200;
    for i in 0..n {
        tree.run(&format!("v{i:04}"))
            .status(Status::Running)
            .tag("v1")
            .hparam("version", 1_i64)
            .write();
    }
    let cache_dir = tree.cache_dir().to_path_buf();
    Registry::open(&cache_dir).unwrap();
    let sidecars = tree.sidecars();
    // Every third replaced by garbage, the rest by a new version.
    let broken: Vec<PathBuf> = sidecars.iter().step_by(3).cloned().collect();
    let to_replace = sidecars.clone();
    let (report, unread) = scan_mutating(&cache_dir, move || {
        for (k, path) in to_replace.iter().enumerate() {
            if k % 3 == 0 {
                replace(path, "{\"run_id\": \"half");
            } else {
                let id = path
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap();
                let mut s = runreg::Sidecar::new(id);
                s.status = Status::Completed;
                s.tags = vec!["v2".into()];
                s.hparams.insert("version", Value::Int(2));
                replace(path, &s.to_json());
            }
        }
    });
    assert!(unread > 0);
    // What was rejected is broken, and reported as such.
    for issue in &report.invalid {
        assert!(broken.contains(&issue.path), "{}", issue.path.display());
        assert!(
            issue.reason.starts_with("not valid JSON"),
            "{}",
            issue.reason
        );
    }
    assert!(!report.invalid.is_empty(), "{report}");
    let check = |reg: &Registry, settled: bool| {
        let all = reg.query(&runreg::Query::new()).unwrap();
        assert_eq!(all.len(), n);
        for r in &all {
            // One version or the other, never a mix.
            let v = match r.hparams["version"] {
                Value::Int(v) => v,
                ref other => panic!("{other:?}"),
            };
            let want_tags = if v == 1 { ["v1"] } else { ["v2"] };
            assert_eq!(r.tags, want_tags, "{}", r.run_id);
            assert_eq!(r.status == Status::Completed, v == 2, "{}", r.run_id);
            if settled {
                let was_broken = broken.iter().any(|p| p.starts_with(&r.run_dir));
                assert_eq!(v, if was_broken { 1 } else { 2 }, "{}", r.run_id);
            }
        }
    };
    check(
        &Registry::builder(&cache_dir).scan(false).open().unwrap(),
        false,
    );
    // The next scan sees every change: v2 everywhere, the garbage reported,
    // the last good record kept for those.
    let mut reg = Registry::builder(&cache_dir).scan(false).open().unwrap();
    let report = reg.scan(ScanMode::Incremental).unwrap();
    assert_eq!(report.invalid.len(), broken.len(), "{report}");
    check(&reg, true);
    drop(reg);
    let report = changed_and_queried(&cache_dir, &|| runreg(&cache_dir), &["v0001"], || {
        for path in &broken {
            replace(path, "[1, 2");
        }
    });
    assert_eq!(
        report["invalid"].as_array().unwrap().len(),
        broken.len(),
        "{report}"
    );
    figure!(
        "hostile: sidecars replaced between walk and read",
        "{unread} read after the swap; no record mixes versions; {} garbage replacements reported",
        broken.len()
    );
}

#[test]
fn a_directory_named_sidecar_json_is_rejected() {
    let tree = Tree::new();
    tree.run("ok").write();
    fs::create_dir_all(tree.runs().join("odd/sidecar.json/inner")).unwrap();
    write(
        &tree.runs().join("odd/sidecar.json/inner/sidecar.json"),
        r#"{"run_id": "inside"}"#,
    );
    let report = scan_twice(tree.cache_dir());
    assert_eq!(reason(&report, "odd/sidecar.json"), "not a regular file");
    assert_eq!(records(tree.cache_dir()).len(), 1);
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["ok"],
        || {
            fs::create_dir_all(tree.runs().join("odd/sidecar.json/another")).unwrap();
        },
    );
    assert_eq!(reason(&report, "odd/sidecar.json"), "not a regular file");
    figure!(
        "hostile: a directory named sidecar.json",
        "rejected: not a regular file"
    );
}

#[test]
fn a_fifo_named_sidecar_json_does_not_block() {
    let tree = Tree::new();
    tree.run("ok").write();
    let fifo = tree.runs().join("pipe/sidecar.json");
    fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // A read that blocked would hit the deadline of `run`.
    let t = Instant::now();
    let report = scan_twice(tree.cache_dir());
    assert_eq!(reason(&report, "pipe/sidecar.json"), "not a regular file");
    let full = scan_report(tree.cache_dir(), true);
    assert_eq!(reason(&full, "pipe/sidecar.json"), "not a regular file");
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["ok"],
        || {
            fs::remove_file(&fifo).unwrap();
            assert!(
                Command::new("mkfifo")
                    .arg(&fifo)
                    .status()
                    .unwrap()
                    .success()
            );
        },
    );
    assert_eq!(reason(&report, "pipe/sidecar.json"), "not a regular file");
    figure!(
        "hostile: a FIFO named sidecar.json",
        "rejected: not a regular file; three scans in {:.2} s, none blocked",
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn a_100_mb_sidecar_is_rejected_by_size_without_being_read() {
    let tree = Tree::new();
    tree.run("ok").write();
    let big = tree.runs().join("big/sidecar.json");
    fs::create_dir_all(big.parent().unwrap()).unwrap();
    // Sparse: 100 MiB that take no disk.
    File::create(&big).unwrap().set_len(100 << 20).unwrap();
    let report = scan_twice(tree.cache_dir());
    // The size is from the file's stat; a file read past the limit would be
    // "grew past the 16 MiB limit while being read".
    assert_eq!(
        reason(&report, "big/sidecar.json"),
        "larger than the 16 MiB limit (104857600 bytes)"
    );
    assert_eq!(records(tree.cache_dir()).len(), 1);
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["ok"],
        || {
            File::options()
                .write(true)
                .open(&big)
                .unwrap()
                .set_len(200 << 20)
                .unwrap();
        },
    );
    assert_eq!(
        reason(&report, "big/sidecar.json"),
        "larger than the 16 MiB limit (209715200 bytes)"
    );
    figure!(
        "hostile: a 100 MiB sidecar (sparse)",
        "rejected by its size, unread ({} blocks on disk)",
        fs::metadata(&big).unwrap().blocks()
    );
}

#[test]
fn json_nested_100000_deep_is_rejected_without_overflowing() {
    let tree = Tree::new();
    tree.run("ok").write();
    let deep = 100_000;
    let arrays = format!(
        r#"{{"run_id": "arrays", "hparams": {{"x": {}{}}}}}"#,
        "[".repeat(deep),
        "]".repeat(deep)
    );
    let objects = format!(
        r#"{{"run_id": "objects", "config": {}1{}}}"#,
        r#"{"a": "#.repeat(deep),
        "}".repeat(deep)
    );
    let top = "[".repeat(deep);
    tree.raw_sidecar("deep/arrays", &arrays);
    tree.raw_sidecar("deep/objects", &objects);
    tree.raw_sidecar("deep/top", &top);
    let report = scan_twice(tree.cache_dir());
    for rel in ["arrays", "objects", "top"] {
        let why = reason(&report, &format!("deep/{rel}/sidecar.json"));
        assert!(why.contains("nesting deeper than"), "{rel}: {why}");
    }
    assert_eq!(records(tree.cache_dir()).len(), 1);
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["ok"],
        || {
            // Each rewritten with the other kind of nesting, deeper.
            let mixed = "[{\"a\": ".repeat(deep);
            tree.raw_sidecar(
                "deep/arrays",
                &format!(r#"{{"run_id": "arrays", "hparams": {{"x": {mixed}"#),
            );
            tree.raw_sidecar(
                "deep/objects",
                &format!(
                    r#"{{"run_id": "objects", "config": {}"#,
                    "[".repeat(2 * deep)
                ),
            );
            tree.raw_sidecar("deep/top", &r#"{"a": "#.repeat(deep));
        },
    );
    for rel in ["arrays", "objects", "top"] {
        let why = reason(&report, &format!("deep/{rel}/sidecar.json"));
        assert!(why.contains("nesting deeper than"), "{rel}: {why}");
    }
    figure!(
        "hostile: JSON nested 100,000 deep (arrays, objects, unclosed)",
        "rejected: nesting too deep; no stack overflow"
    );
}

#[test]
fn non_utf8_file_names_are_scanned_and_reported() {
    let tree = Tree::new();
    let runs = tree.runs();
    let good = runs.join(OsStr::from_bytes(b"run-\xff\xfe"));
    write(
        &good.join("sidecar.json"),
        r#"{"run_id": "bytes", "status": "completed"}"#,
    );
    write(&good.join(OsStr::from_bytes(b"metrics-\xc3.csv")), "x");
    let bad = runs.join(OsStr::from_bytes(b"bad-\xe9t\xe9"));
    write(&bad.join("sidecar.json"), "{oops");
    // A non-UTF-8 byte inside a JSON string.
    write(
        &runs.join("latin1/sidecar.json"),
        b"{\"run_id\": \"caf\xe9\"}",
    );
    tree.age_tree();
    let report = scan_twice(tree.cache_dir());
    assert!(reason(&report, "bad-\u{fffd}t\u{fffd}/sidecar.json").starts_with("not valid JSON"));
    assert!(reason(&report, "latin1/sidecar.json").contains("UTF-8"));
    let listed = records(tree.cache_dir());
    assert_eq!(listed.len(), 1);
    let r = record(&listed, "bytes");
    assert!(
        text(get(r, "run_dir")).ends_with("run-\u{fffd}\u{fffd}"),
        "{r:?}"
    );
    let again = scan_report(tree.cache_dir(), false);
    assert_eq!(again["upserted"], 0, "{again}");
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["bytes"],
        || {
            write(
                &good.join("sidecar.json"),
                r#"{"run_id": "bytes", "status": "failed"}"#,
            );
            write(&bad.join("sidecar.json"), b"{\"run_id\": \xff}");
            write(&runs.join("latin1/sidecar.json"), b"{\"run_id\": \"\xc3\"}");
        },
    );
    assert_eq!(report["upserted"], 1, "{report}");
    assert!(reason(&report, "bad-\u{fffd}t\u{fffd}/sidecar.json").starts_with("not valid JSON"));
    assert!(reason(&report, "latin1/sidecar.json").contains("UTF-8"));
    figure!(
        "hostile: non-UTF-8 names (run dir, other file, invalid sidecar) and bytes",
        "scanned; the bad ones reported with lossy paths"
    );
}

#[test]
fn a_utf8_bom_is_accepted() {
    let tree = Tree::new();
    write(
        &tree.runs().join("bom/sidecar.json"),
        b"\xef\xbb\xbf{\"run_id\": \"bom\", \"tags\": [\"x\"]}",
    );
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["skipped_invalid"], 0, "{report}");
    let listed = records(tree.cache_dir());
    assert_eq!(
        items(get(record(&listed, "bom"), "tags")),
        [Value::from("x")]
    );
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["bom"],
        || {
            write(
                &tree.runs().join("bom/sidecar.json"),
                b"\xef\xbb\xbf{\"run_id\": \"bom\", \"tags\": [\"y\"]}",
            );
        },
    );
    let listed = records(tree.cache_dir());
    assert_eq!(
        items(get(record(&listed, "bom"), "tags")),
        [Value::from("y")]
    );
    figure!("hostile: a UTF-8 BOM", "accepted");
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    let tree = Tree::new();
    tree.raw_sidecar(
        "dup",
        r#"{"run_id": "first", "status": "failed", "summary": {"acc": 1, "acc": 0.5},
            "run_id": "dup", "status": "completed", "tags": ["a"], "tags": ["b"]}"#,
    );
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["skipped_invalid"], 0, "{report}");
    let listed = records(tree.cache_dir());
    let r = record(&listed, "dup");
    assert_eq!(text(get(r, "status")), "completed");
    assert_eq!(get(get(r, "summary"), "acc").as_f64(), Some(0.5));
    assert_eq!(items(get(r, "tags")), [Value::from("b")]);
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["dup"],
        || {
            tree.raw_sidecar(
                "dup",
                r#"{"run_id": "dup", "tags": ["c"], "summary": {"acc": 0.25, "b": 1, "acc": 0.75},
                "status": "failed", "tags": ["d", "d"], "status": "interrupted"}"#,
            );
        },
    );
    let listed = records(tree.cache_dir());
    let r = record(&listed, "dup");
    assert_eq!(text(get(r, "status")), "interrupted");
    assert_eq!(get(get(r, "summary"), "acc").as_f64(), Some(0.75));
    assert_eq!(items(get(r, "tags")), [Value::from("d"), Value::from("d")]);
    figure!(
        "hostile: duplicate keys",
        "accepted; the last value wins (as in Python)"
    );
}

#[test]
fn run_ids_empty_with_slash_nul_or_10_kb() {
    let tree = Tree::new();
    let long = "x".repeat(10 * 1024);
    tree.raw_sidecar("empty", r#"{"run_id": ""}"#);
    tree.raw_sidecar("slash", r#"{"run_id": "a/b"}"#);
    tree.raw_sidecar("nul", r#"{"run_id": "a\u0000b"}"#);
    tree.raw_sidecar("long", &format!(r#"{{"run_id": "{long}"}}"#));
    tree.raw_sidecar("number", r#"{"run_id": 7}"#);
    let report = scan_twice(tree.cache_dir());
    assert_eq!(
        reason(&report, "empty/sidecar.json"),
        "run_id must be a non-empty string, found empty string"
    );
    assert_eq!(
        reason(&report, "number/sidecar.json"),
        "run_id must be a non-empty string, found number"
    );
    let listed = records(tree.cache_dir());
    let mut ids: Vec<&str> = listed.iter().map(|r| text(get(r, "run_id"))).collect();
    ids.sort();
    assert_eq!(ids, ["a\u{0}b", "a/b", long.as_str()]);
    // Each can be shown; the NUL is escaped in JSON, replaced in tables.
    for id in ["a/b", long.as_str()] {
        let out = run(runreg(tree.cache_dir()).args(["show", id, "--json"])).ok("show");
        assert_eq!(text(get(&parse(&out), "run_id")), id);
    }
    let table = run(runreg(tree.cache_dir()).args(["ls", "-c", "run_id"])).ok("ls");
    assert!(!table.contains('\0'), "a NUL reached the terminal");
    let longer = "y".repeat(20 * 1024);
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["a/b", longer.as_str()],
        || {
            tree.raw_sidecar("long", &format!(r#"{{"run_id": "{longer}"}}"#));
            tree.raw_sidecar("slash", r#"{"run_id": "a/b", "status": "failed"}"#);
        },
    );
    figure!(
        "hostile: run_ids empty / with `/` / with NUL / 10 KiB / a number",
        "empty and number rejected with reasons; the others accepted, shown and listed"
    );
}

#[test]
fn tags_that_are_not_strings_are_rejected() {
    let tree = Tree::new();
    let cases = [
        (
            "number",
            r#"["a", 1]"#,
            "tags[1] must be a string, found number",
        ),
        (
            "nested",
            r#"[["a"]]"#,
            "tags[0] must be a string, found array",
        ),
        (
            "object",
            r#"{"a": 1}"#,
            "tags must be an array of strings or null, found object",
        ),
        (
            "string",
            r#""a,b""#,
            "tags must be an array of strings or null, found string",
        ),
        (
            "null_item",
            r#"["a", null]"#,
            "tags[1] must be a string, found null",
        ),
    ];
    for (name, tags, _) in &cases {
        tree.raw_sidecar(name, &format!(r#"{{"run_id": "{name}", "tags": {tags}}}"#));
    }
    let report = scan_twice(tree.cache_dir());
    for (name, _, why) in &cases {
        assert_eq!(reason(&report, &format!("{name}/sidecar.json")), *why);
    }
    assert!(records(tree.cache_dir()).is_empty());
    let report = changed_and_queried(tree.cache_dir(), &|| runreg(tree.cache_dir()), &[], || {
        // Each case gets the tags of the next one.
        for (k, (name, _, _)) in cases.iter().enumerate() {
            let tags = cases[(k + 1) % cases.len()].1;
            tree.raw_sidecar(name, &format!(r#"{{"run_id": "{name}", "tags": {tags}}}"#));
        }
    });
    for (k, (name, _, _)) in cases.iter().enumerate() {
        let why = cases[(k + 1) % cases.len()].2;
        assert_eq!(reason(&report, &format!("{name}/sidecar.json")), why);
    }
    figure!(
        "hostile: tags that are not strings",
        "{} shapes, each rejected with its reason",
        cases.len()
    );
}

#[test]
fn summary_values_that_are_strings_or_objects_are_kept_and_queryable() {
    let tree = Tree::new();
    tree.raw_sidecar(
        "odd",
        r#"{"run_id": "odd", "status": "completed",
            "summary": {"acc": "high", "obj": {"a": [1, {"b": null}]}, "list": [1, 2]}}"#,
    );
    tree.run("num")
        .status(Status::Completed)
        .metric("acc", 0.7)
        .write();
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["skipped_invalid"], 0, "{report}");
    let listed = records(tree.cache_dir());
    let odd = get(record(&listed, "odd"), "summary");
    assert_eq!(get(odd, "acc"), &Value::from("high"));
    assert!(matches!(get(odd, "obj"), Value::Map(_)), "{odd:?}");
    for args in [
        vec!["ls", "--sort", "summary.acc"],
        vec!["ls", "--sort", "summary.obj", "--asc"],
        vec!["ls", "--where", "summary.acc > 0.5"],
        vec!["ls", "--where", "summary.obj = 1 or summary.list ~ '1*'"],
        vec!["best", "acc"],
        vec!["best", "obj", "--asc"],
        vec!["export", "-"],
    ] {
        run(runreg(tree.cache_dir()).args(&args)).ok(&args.join(" "));
    }
    let matched = run(runreg(tree.cache_dir()).args([
        "ls",
        "--where",
        "summary.acc > 0.5",
        "--csv",
        "-c",
        "run_id",
    ]))
    .ok("where");
    assert_eq!(matched, "run_id\nnum\n");
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["odd", "num"],
        || {
            tree.raw_sidecar(
                "odd",
                r#"{"run_id": "odd", "status": "completed",
                "summary": {"acc": [1, {"x": "y"}], "obj": "s", "list": {"0": null}}}"#,
            );
        },
    );
    let listed = records(tree.cache_dir());
    let odd = get(record(&listed, "odd"), "summary");
    assert_eq!(get(odd, "obj"), &Value::from("s"));
    figure!(
        "hostile: summary values that are strings, objects, arrays",
        "kept; sorts, filters, best and export run"
    );
}

#[test]
fn numbers_beyond_f64_and_i64_are_read() {
    let tree = Tree::new();
    tree.raw_sidecar(
        "big",
        r#"{"run_id": "big", "status": "completed",
            "summary": {"inf": 1e400, "ninf": -1e400, "tiny": 1e-400, "acc": 0.5},
            "hparams": {"u65": 18446744073709551617, "neg": -99999999999999999999999,
                        "i64max": 9223372036854775807}}"#,
    );
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["skipped_invalid"], 0, "{report}");
    let listed = records(tree.cache_dir());
    let r = record(&listed, "big");
    let summary = get(r, "summary");
    // runreg prints non-finite floats as strings in JSON.
    assert_eq!(get(summary, "inf"), &Value::from("Infinity"));
    assert_eq!(get(summary, "ninf"), &Value::from("-Infinity"));
    assert_eq!(get(summary, "tiny").as_f64(), Some(0.0));
    let hparams = get(r, "hparams");
    assert_eq!(
        get(hparams, "u65").as_f64(),
        Some(18_446_744_073_709_551_617_f64)
    );
    assert_eq!(get(hparams, "neg").as_f64(), Some(-1e23));
    assert!(matches!(get(hparams, "i64max"), Value::Int(i64::MAX)));
    for args in [
        vec!["ls", "--sort", "summary.inf"],
        vec!["ls", "--sort", "hparams.u65", "--asc"],
        vec!["best", "inf"],
        vec!["ls", "--where", "hparams.u65 > 1e19"],
    ] {
        run(runreg(tree.cache_dir()).args(&args)).ok(&args.join(" "));
    }
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["big"],
        || {
            tree.raw_sidecar(
                "big",
                r#"{"run_id": "big", "summary": {"inf": -1e999, "acc": 1e-999},
                "hparams": {"u65": -18446744073709551617, "i64min": -9223372036854775808}}"#,
            );
        },
    );
    let listed = records(tree.cache_dir());
    let summary = get(record(&listed, "big"), "summary");
    assert_eq!(get(summary, "inf"), &Value::from("-Infinity"));
    figure!(
        "hostile: 1e400, -1e400, 1e-400, integers beyond 2^64",
        "accepted: ±Infinity, 0.0, nearest floats"
    );
}

#[test]
fn a_sidecar_with_a_million_tags_is_scanned() {
    let tree = Tree::new();
    let tags: Vec<String> = (0..1_000_000).map(|i| format!("t{}", i % 1000)).collect();
    let mut s = runreg::Sidecar::new("tagged");
    s.tags = tags;
    let text_len = {
        let text = s.to_json();
        tree.raw_sidecar("tagged", &text);
        text.len()
    };
    tree.run("plain").tag("t5").write();
    let t = Instant::now();
    let report = scan_report(tree.cache_dir(), false);
    let scanned_in = t.elapsed();
    assert_eq!(report["upserted"], 2, "{report}");
    let out = run(runreg(tree.cache_dir()).args(["ls", "--tag", "t999", "--csv", "-c", "run_id"]))
        .ok("ls --tag");
    assert_eq!(out, "run_id\ntagged\n");
    let out = run(runreg(tree.cache_dir()).args(["ls", "--tag", "t5", "--csv", "-c", "run_id"]))
        .ok("ls --tag");
    assert_eq!(out.lines().count(), 3, "{out}");
    // Rewritten with a million tags of another thousand: the rescan
    // replaces every index entry of the run.
    let t = Instant::now();
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["tagged"],
        || {
            s.tags = (0..1_000_000).map(|i| format!("u{}", i % 1000)).collect();
            tree.raw_sidecar("tagged", &s.to_json());
        },
    );
    let rescanned_and_queried_in = t.elapsed();
    assert_eq!(report["upserted"], 1, "{report}");
    for (tag, want) in [("u999", "run_id\ntagged\n"), ("t999", "run_id\n")] {
        let out = run_within(
            runreg(tree.cache_dir()).args(["ls", "--tag", tag, "--csv", "-c", "run_id"]),
            HOSTILE_DEADLINE,
        )
        .ok("ls --tag");
        assert_eq!(out, want, "{tag}");
    }
    figure!(
        "hostile: a sidecar with a million tags (1,000 distinct)",
        "accepted; {:.1} MB scanned in {:.1} s (debug build); tag queries answer; \
         changed, rescanned and queried in {:.1} s",
        text_len as f64 / 1e6,
        scanned_in.as_secs_f64(),
        rescanned_and_queried_in.as_secs_f64()
    );
}

#[test]
fn a_rescan_after_a_tag_is_added_to_100000_distinct_ones_finishes() {
    // The index of a run's tags was brought up to date by looking each old
    // tag up in the new list and each new one in the old: 10^10 string
    // comparisons here, minutes of work, where sets take a second.
    let tree = Tree::new();
    let mut s = runreg::Sidecar::new("tagged");
    s.tags = (0..100_000).map(|i| format!("t{i}")).collect();
    tree.raw_sidecar("tagged", &s.to_json());
    let t = Instant::now();
    let report = scan_twice(tree.cache_dir());
    assert_eq!(report["upserted"], 1, "{report}");
    let scanned_in = t.elapsed();
    let t = Instant::now();
    let report = changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["tagged"],
        || {
            s.tags.push("added".to_owned());
            tree.raw_sidecar("tagged", &s.to_json());
        },
    );
    let rescanned_and_queried_in = t.elapsed();
    assert_eq!(report["upserted"], 1, "{report}");
    for tag in ["added", "t99999"] {
        let out = run_within(
            runreg(tree.cache_dir()).args(["ls", "--tag", tag, "--csv", "-c", "run_id"]),
            HOSTILE_DEADLINE,
        )
        .ok("ls --tag");
        assert_eq!(out, "run_id\ntagged\n", "{tag}");
    }
    figure!(
        "hostile: a sidecar with 100,000 distinct tags, then one more",
        "scanned twice in {:.1} s; changed, rescanned and queried in {:.1} s (debug build)",
        scanned_in.as_secs_f64(),
        rescanned_and_queried_in.as_secs_f64()
    );
}

/// A sidecar of `n` hparams `p<i>`, in a scrambled order (as a dict built
/// in no particular order is written without `sort_keys`).
fn unsorted_hparams(run_id: &str, n: usize, extra: &str) -> String {
    let mut text = format!(r#"{{"run_id": "{run_id}", "hparams": {{{extra}"#);
    // i -> i * 7919 mod n visits every i once (7919 is prime, n is not a
    // multiple of it), far from name order.
    assert_ne!(n % 7919, 0);
    for i in 0..n {
        let k = i * 7919 % n;
        text.push_str(&format!(r#""p{k}": {k}, "#));
    }
    text.truncate(text.len() - 2);
    text.push_str("}}");
    text
}

#[test]
fn a_sidecar_of_750000_hparams_out_of_name_order_is_scanned() {
    // Names out of order were inserted one by one into a sorted vector:
    // quadratic, two minutes here; sorted once, seconds.
    let tree = Tree::new();
    let n = 750_000;
    let text = unsorted_hparams("wide", n, "");
    assert!(text.len() < 16 << 20, "over the size limit");
    tree.raw_sidecar("wide", &text);
    let t = Instant::now();
    let report = scan_twice(tree.cache_dir());
    let scanned_in = t.elapsed();
    assert_eq!(report["skipped_invalid"], 0, "{report}");
    let listed = records(tree.cache_dir());
    let hparams = get(record(&listed, "wide"), "hparams");
    let Value::Map(entries) = hparams else {
        panic!("no hparams")
    };
    assert_eq!(entries.len(), n);
    assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "not in name order"
    );
    assert!(matches!(get(hparams, "p4242"), Value::Int(4242)));
    changed_and_queried(
        tree.cache_dir(),
        &|| runreg(tree.cache_dir()),
        &["wide"],
        || {
            tree.raw_sidecar("wide", &unsorted_hparams("wide", n, r#""zz": 1, "#));
        },
    );
    let listed = records(tree.cache_dir());
    assert!(matches!(
        get(get(record(&listed, "wide"), "hparams"), "zz"),
        Value::Int(1)
    ));
    figure!(
        "hostile: a sidecar of 750,000 hparams out of name order",
        "{:.1} MB scanned twice in {:.1} s (debug build); changed, rescanned and queried",
        text.len() as f64 / 1e6,
        scanned_in.as_secs_f64()
    );
}
