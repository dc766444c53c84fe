//! The scanner's rules (docs/FORMAT.md §1 and §4; issue #2), each a test.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::time::Duration;

use common::{Tree, now, set_mtime};
use runreg::{Query, Registry, ScanMode, ScanReport, Status, Value};

fn registry(tree: &Tree) -> Registry {
    Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap()
}

fn scan(reg: &mut Registry) -> ScanReport {
    reg.scan(ScanMode::Incremental).unwrap()
}

fn ids(reg: &Registry) -> Vec<String> {
    let mut ids: Vec<String> = reg
        .query(&Query::new())
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_first_scan_reads_every_sidecar() {
    let tree = Tree::new();
    for id in ["a", "b", "c"] {
        tree.run(id).write();
    }
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert_eq!(
        (
            report.total_sidecars,
            report.upserted,
            report.skipped_unchanged
        ),
        (3, 3, 0)
    );
    assert_eq!(ids(&reg), ["a", "b", "c"]);
    assert_eq!(reg.len().unwrap(), 3);
}

#[test]
fn an_incremental_scan_skips_unchanged_sidecars() {
    let tree = Tree::new();
    for id in ["a", "b"] {
        tree.run(id).status(Status::Completed).write();
    }
    let mut reg = registry(&tree);
    scan(&mut reg);
    let report = scan(&mut reg);
    assert_eq!((report.upserted, report.skipped_unchanged), (0, 2));
}

#[test]
fn a_full_scan_rereads_everything() {
    let tree = Tree::new();
    tree.run("a").write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    let report = reg.scan(ScanMode::Full).unwrap();
    assert!(report.full);
    assert_eq!((report.upserted, report.skipped_unchanged), (1, 0));
}

#[test]
fn a_rewritten_sidecar_is_read_again() {
    let tree = Tree::new();
    let dir = tree.run("a").metric("val_acc", 0.5).write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    tree.run("a")
        .at(dir.strip_prefix(tree.runs()).unwrap().to_str().unwrap())
        .metric("val_acc", 0.75)
        .write();
    let report = scan(&mut reg);
    assert_eq!(report.upserted, 1);
    assert_eq!(
        reg.get("a").unwrap().unwrap().summary["val_acc"],
        Value::Float(0.75)
    );
}

#[test]
fn a_rewrite_that_keeps_the_mtime_is_still_seen() {
    // Same mtime (coarse timestamps, or a tool that restores it), other size.
    let tree = Tree::new();
    let dir = tree.run("a").metric("val_acc", 0.5).write();
    let path = dir.join("sidecar.json");
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let mut reg = registry(&tree);
    scan(&mut reg);
    let text = fs::read_to_string(&path).unwrap().replace("0.5", "0.625");
    fs::write(&path, text).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(scan(&mut reg).upserted, 1);
    assert_eq!(
        reg.get("a").unwrap().unwrap().summary["val_acc"],
        Value::Float(0.625)
    );
}

#[test]
fn a_sidecar_modified_just_before_the_last_scan_is_read_again() {
    // The racy-clean case: a rewrite within the timestamp granularity of the
    // previous read would keep the stamp, so recent files are not trusted.
    let tree = Tree::new();
    let dir = tree.run("a").write();
    set_mtime(&dir.join("sidecar.json"), now());
    let mut reg = registry(&tree);
    scan(&mut reg);
    assert_eq!(
        scan(&mut reg).upserted,
        1,
        "a recent sidecar must be re-read"
    );
    tree.age_sidecars();
    scan(&mut reg);
    assert_eq!(scan(&mut reg).upserted, 0, "an old one need not be");
}

#[test]
fn liveness_follows_the_heartbeat_of_unchanged_runs() {
    let tree = Tree::new();
    let dir = tree.run("live").heartbeat(3600.0).write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    assert!(
        !reg.get("live").unwrap().unwrap().alive,
        "an hour-old heartbeat is dead"
    );
    set_mtime(&dir.join("heartbeat"), now());
    let report = scan(&mut reg);
    assert_eq!(report.upserted, 0, "the sidecar did not change");
    assert!(
        reg.get("live").unwrap().unwrap().alive,
        "a fresh heartbeat is alive"
    );
}

#[test]
fn the_heartbeat_timeout_is_configurable() {
    let tree = Tree::new();
    tree.run("a").heartbeat(60.0).write();
    let reg = Registry::open(tree.cache_dir()).unwrap();
    assert!(reg.get("a").unwrap().unwrap().alive);
    let strict = Registry::builder(tree.cache_dir())
        .heartbeat_timeout(Duration::from_secs(30))
        .open()
        .unwrap();
    assert!(!strict.get("a").unwrap().unwrap().alive);
}

#[test]
fn completed_runs_are_never_alive_and_runs_without_heartbeat_are_dead() {
    let tree = Tree::new();
    tree.run("done")
        .status(Status::Completed)
        .heartbeat(0.0)
        .write();
    tree.run("failed")
        .status(Status::Failed)
        .heartbeat(0.0)
        .write();
    tree.run("interrupted")
        .status(Status::Interrupted)
        .heartbeat(0.0)
        .write();
    tree.run("silent").write();
    let reg = Registry::open(tree.cache_dir()).unwrap();
    let alive = |id: &str| reg.get(id).unwrap().unwrap().alive;
    assert!(!alive("done"));
    assert!(!alive("failed"));
    assert!(alive("interrupted"), "interrupted is not terminal");
    assert!(!alive("silent"));
}

#[test]
fn run_subdirectories_are_not_walked() {
    let tree = Tree::new();
    let dir = tree.run("a").write();
    let nested = dir.join("checkpoints/epoch=1");
    fs::create_dir_all(&nested).unwrap();
    fs::write(nested.join("sidecar.json"), r#"{"run_id": "nested"}"#).unwrap();
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert_eq!(report.total_sidecars, 1);
    assert_eq!(ids(&reg), ["a"]);
}

#[test]
fn sidecars_are_found_at_any_depth_and_in_hidden_directories() {
    let tree = Tree::new();
    tree.run("shallow").at("shallow").write();
    tree.run("deep").at("a/b/c/d/e/deep").write();
    tree.run("hidden").at(".archive/20250101/hidden").write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    assert_eq!(ids(&reg), ["deep", "hidden", "shallow"]);
}

#[test]
fn temp_files_of_atomic_writes_are_ignored() {
    let tree = Tree::new();
    let dir = tree.run("a").write();
    fs::write(dir.join(".sidecar.json.x1y2.tmp"), "{\"run_id\": \"half").unwrap();
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert_eq!((report.total_sidecars, report.skipped_invalid), (1, 0));
}

#[test]
fn symlinks_are_not_followed() {
    let tree = Tree::new();
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = outside.path().join("x");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("sidecar.json"), r#"{"run_id": "outside"}"#).unwrap();
    symlink(outside.path(), tree.runs().join("linked_dir")).unwrap();
    fs::create_dir_all(tree.runs().join("lone")).unwrap();
    symlink(
        elsewhere.join("sidecar.json"),
        tree.runs().join("lone/sidecar.json"),
    )
    .unwrap();
    symlink(tree.runs(), tree.runs().join("loop")).unwrap();
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert!(ids(&reg).is_empty());
    assert_eq!(report.skipped_invalid, 1);
    assert!(
        report.invalid[0].reason.contains("symbolic link"),
        "{:?}",
        report.invalid
    );
}

#[test]
fn a_runs_directory_that_is_a_symlink_is_followed() {
    // Labs keep {cache_dir}/runs as a link to a larger filesystem: the root
    // is followed (as `find -H` does, and the reference's `rglob`); links
    // below it are not (the test above).
    let tree = Tree::new();
    let first = tree.run("a").metric("val_acc", 0.5).write();
    let outside = tempfile::tempdir().unwrap();
    let real = outside.path().join("real");
    fs::rename(tree.runs(), &real).unwrap();
    symlink(&real, tree.runs()).unwrap();
    tree.age_tree();
    let mut reg = registry(&tree);
    assert_eq!(scan(&mut reg).upserted, 1);
    assert_eq!(ids(&reg), ["a"]);
    // Paths stay under the cache directory, as the user named them.
    assert_eq!(
        reg.get("a").unwrap().unwrap().run_dir,
        first.to_str().unwrap()
    );

    // Incremental scans see through it: a new run, a rewritten sidecar.
    tree.run("b").write();
    tree.run("a")
        .at(first.strip_prefix(tree.runs()).unwrap().to_str().unwrap())
        .metric("val_acc", 0.75)
        .write();
    tree.age_tree();
    let report = scan(&mut reg);
    assert_eq!((report.upserted, report.total_sidecars), (2, 2));
    assert_eq!(ids(&reg), ["a", "b"]);
    assert_eq!(
        reg.get("a").unwrap().unwrap().summary["val_acc"],
        Value::Float(0.75)
    );
    let report = scan(&mut reg);
    assert_eq!((report.upserted, report.skipped_unchanged), (0, 2));
    assert_eq!(reg.scan(ScanMode::Full).unwrap().upserted, 2);

    // A link to something that is not a directory is an empty tree.
    fs::remove_file(tree.runs()).unwrap();
    symlink(outside.path().join("missing"), tree.runs()).unwrap();
    let report = scan(&mut reg);
    assert_eq!(report.total_sidecars, 0);
}

#[test]
fn invalid_sidecars_are_skipped_with_reasons_and_the_scan_goes_on() {
    let tree = Tree::new();
    tree.run("good").write();
    tree.raw_sidecar("bad/json", "{not json");
    tree.raw_sidecar("bad/array", "[1, 2]");
    tree.raw_sidecar("bad/no_id", r#"{"status": "running"}"#);
    tree.raw_sidecar("bad/tags", r#"{"run_id": "t", "tags": "x"}"#);
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert_eq!(
        (
            report.total_sidecars,
            report.upserted,
            report.skipped_invalid
        ),
        (5, 1, 4)
    );
    let reasons: Vec<String> = report.invalid.iter().map(|i| i.reason.clone()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("not valid JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not an object")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("run_id is missing")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("tags")), "{reasons:?}");
    assert!(
        report
            .invalid
            .iter()
            .all(|i| i.path.ends_with("sidecar.json"))
    );
    // An unchanged invalid file is reported again without being fixed.
    let again = scan(&mut reg);
    assert_eq!((again.skipped_invalid, again.invalid.len()), (4, 4));
    assert_eq!(ids(&reg), ["good"]);
}

#[test]
fn a_sidecar_that_turns_invalid_keeps_its_last_good_record() {
    let tree = Tree::new();
    let dir = tree.run("a").metric("val_acc", 0.5).write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    fs::write(dir.join("sidecar.json"), "{\"run_id\": \"a\", \"summ").unwrap();
    let report = scan(&mut reg);
    assert_eq!(report.skipped_invalid, 1);
    let run = reg.get("a").unwrap().unwrap();
    assert_eq!(run.summary["val_acc"], Value::Float(0.5));
    assert_ne!(run.status, Status::Orphaned, "its file is still there");
    // Fixed again, it is read again.
    tree.run("a")
        .at(dir.strip_prefix(tree.runs()).unwrap().to_str().unwrap())
        .metric("val_acc", 0.8)
        .write();
    scan(&mut reg);
    assert_eq!(
        reg.get("a").unwrap().unwrap().summary["val_acc"],
        Value::Float(0.8)
    );
}

#[test]
fn a_run_whose_sidecar_is_gone_is_orphaned_and_still_listed() {
    let tree = Tree::new();
    let dir = tree.run("gone").heartbeat(0.0).write();
    tree.run("kept").write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    assert!(reg.get("gone").unwrap().unwrap().alive);
    let moved = tree.cache_dir().join("elsewhere");
    fs::rename(&dir, &moved).unwrap();
    let report = scan(&mut reg);
    assert_eq!(report.orphaned, 1);
    let run = reg.get("gone").unwrap().unwrap();
    assert_eq!((run.status, run.alive), (Status::Orphaned, false));
    assert_eq!(ids(&reg), ["gone", "kept"]);
    assert_eq!(scan(&mut reg).orphaned, 0, "counted once");
    // Back in the tree, it is a run like any other again.
    fs::rename(&moved, &dir).unwrap();
    scan(&mut reg);
    assert_eq!(reg.get("gone").unwrap().unwrap().status, Status::Running);
}

/// Sidecars deleted in many runs at once, their directories kept and now
/// holding other runs: the directories are looked at again (on the I/O
/// threads) and the runs in them found; the deleted runs are orphaned.
#[test]
fn runs_in_the_directories_of_deleted_sidecars_are_found() {
    let tree = Tree::new();
    let dirs: Vec<_> = (0..40)
        .map(|i| tree.run(&format!("old{i:02}")).write())
        .collect();
    tree.age_tree();
    let mut reg = Registry::builder(tree.cache_dir())
        .scan(false)
        .io_threads(8)
        .open()
        .unwrap();
    assert_eq!(scan(&mut reg).upserted, 40);
    for (i, dir) in dirs.iter().enumerate() {
        fs::remove_file(dir.join("sidecar.json")).unwrap();
        let rel = dir
            .join(format!("new{i:02}"))
            .strip_prefix(tree.runs())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        tree.run(&format!("new{i:02}")).at(&rel).write();
    }
    let report = scan(&mut reg);
    assert_eq!((report.orphaned, report.upserted), (40, 40), "{report:?}");
    let found = ids(&reg);
    assert_eq!(found.len(), 80);
    assert!(found.iter().filter(|id| id.starts_with("new")).count() == 40);
    let old = reg.get("old07").unwrap().unwrap();
    assert_eq!(old.status, Status::Orphaned);
}

#[test]
fn the_sidecar_run_id_wins_over_the_directory_name() {
    let tree = Tree::new();
    tree.run("real-id").at("20261101/120000/dir-name").write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    assert_eq!(ids(&reg), ["real-id"]);
}

#[test]
fn a_mismatched_run_id_is_not_read_again_on_every_scan() {
    // docs/FORMAT.md §6, defect 6.
    let tree = Tree::new();
    tree.run("real-id")
        .at("20261101/120000/dir-name")
        .status(Status::Completed)
        .write();
    let mut reg = registry(&tree);
    scan(&mut reg);
    let report = scan(&mut reg);
    assert_eq!((report.upserted, report.skipped_unchanged), (0, 1));
}

#[test]
fn run_dir_is_where_the_sidecar_was_found_after_a_move() {
    // docs/FORMAT.md §6, defect 5: the stored run_dir goes stale when trees move.
    let tree = Tree::new();
    tree.run("a").write();
    let moved = tempfile::tempdir().unwrap();
    let new_cache = moved.path().join("cache");
    fs::rename(tree.cache_dir(), &new_cache).unwrap();
    let reg = Registry::open(&new_cache).unwrap();
    let run = reg.get("a").unwrap().unwrap();
    assert_eq!(run.status, Status::Running, "not orphaned");
    assert!(
        run.run_dir
            .starts_with(&*new_cache.canonicalize().unwrap().to_string_lossy()),
        "{}",
        run.run_dir
    );
    assert!(
        std::path::Path::new(&run.run_dir)
            .join("sidecar.json")
            .exists()
    );
    fs::rename(&new_cache, tree.cache_dir()).unwrap();
}

#[test]
fn duplicate_run_ids_keep_the_newer_sidecar_and_are_reported() {
    // docs/FORMAT.md §6, defect 7.
    let tree = Tree::new();
    let t = now() - 100.0;
    let older = tree
        .run("dup")
        .at("z_first")
        .updated(t)
        .metric("v", 1.0)
        .write();
    let newer = tree
        .run("dup")
        .at("a_second")
        .updated(t + 10.0)
        .metric("v", 2.0)
        .write();
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert_eq!(report.duplicates.len(), 1);
    let dup = &report.duplicates[0];
    assert_eq!(dup.run_id, "dup");
    assert_eq!(dup.kept, newer.join("sidecar.json"));
    assert_eq!(dup.ignored, [older.join("sidecar.json")]);
    let run = reg.get("dup").unwrap().unwrap();
    assert_eq!(run.summary["v"], Value::Float(2.0));
    assert_eq!(run.run_dir, newer.to_string_lossy());
    assert_eq!(scan(&mut reg).duplicates.len(), 1, "reported on every scan");
    // The winner goes: the other copy takes over rather than orphaning the run.
    fs::remove_dir_all(&newer).unwrap();
    let report = scan(&mut reg);
    assert_eq!((report.orphaned, report.duplicates.len()), (0, 0));
    let run = reg.get("dup").unwrap().unwrap();
    assert_eq!(run.summary["v"], Value::Float(1.0));
    assert_eq!(run.run_dir, older.to_string_lossy());
}

#[test]
fn duplicate_run_ids_with_equal_updated_at_keep_the_smaller_path() {
    let tree = Tree::new();
    let t = now() - 100.0;
    tree.run("dup").at("b").updated(t).metric("v", 2.0).write();
    tree.run("dup").at("a").updated(t).metric("v", 1.0).write();
    let mut reg = registry(&tree);
    let report = scan(&mut reg);
    assert!(report.duplicates[0].kept.ends_with("a/sidecar.json"));
    assert_eq!(
        reg.get("dup").unwrap().unwrap().summary["v"],
        Value::Float(1.0)
    );
    // The same answer whatever was scanned first.
    let mut fresh = Registry::builder(tree.cache_dir())
        .db_path(tree.cache_dir().join("other.redb"))
        .scan(false)
        .open()
        .unwrap();
    fresh.scan(ScanMode::Full).unwrap();
    assert_eq!(
        fresh.get("dup").unwrap().unwrap().summary["v"],
        Value::Float(1.0)
    );
}

#[test]
fn a_missing_created_at_takes_the_sidecar_mtime() {
    let tree = Tree::new();
    let path = tree.raw_sidecar("r", r#"{"run_id": "r"}"#);
    set_mtime(&path, 1_700_000_000.5);
    let reg = Registry::open(tree.cache_dir()).unwrap();
    let run = reg.get("r").unwrap().unwrap();
    assert_eq!(run.created_at, 1_700_000_000.5);
    assert_eq!(
        (run.status, run.tags.len(), run.notes.as_str()),
        (Status::Running, 0, "")
    );
}

#[test]
fn a_tree_without_runs_scans_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::builder(dir.path()).scan(false).open().unwrap();
    let report = reg.scan(ScanMode::Incremental).unwrap();
    assert_eq!(report.total_sidecars, 0);
    assert_eq!(reg.len().unwrap(), 0);
}

#[test]
fn the_reference_sqlite_cache_is_never_touched() {
    let tree = Tree::new();
    tree.run("a").write();
    let theirs = tree.cache_dir().join("registry.db");
    fs::write(&theirs, b"SQLite format 3\0 their bytes").unwrap();
    set_mtime(&theirs, 1_600_000_000.0);
    let before = fs::metadata(&theirs).unwrap();
    let mut reg = Registry::open(tree.cache_dir()).unwrap();
    reg.scan(ScanMode::Full).unwrap();
    let after = fs::metadata(&theirs).unwrap();
    assert_eq!(fs::read(&theirs).unwrap(), b"SQLite format 3\0 their bytes");
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    assert_eq!(reg.db_path().file_name().unwrap(), "registry.redb");
}

/// Every run as the registry answers it, for comparing two caches.
fn snapshot(reg: &Registry) -> Vec<String> {
    let mut runs: Vec<String> = reg
        .query(&Query::new())
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {} {} {:?}", r.run_id, r.status, r.run_dir, r.summary))
        .collect();
    runs.sort();
    runs
}

#[test]
fn an_incremental_scan_of_an_unchanged_tree_reads_no_directory() {
    let tree = Tree::new();
    for i in 0..20 {
        tree.run(&format!("r{i}"))
            .at(&format!("2026110{}/1200{i:02}/r{i}", i % 3))
            .write();
    }
    tree.age_tree();
    let mut reg = registry(&tree);
    let full = reg.scan(ScanMode::Full).unwrap();
    assert!(full.dirs_read > 20, "{}", full.dirs_read);
    let report = scan(&mut reg);
    assert_eq!(report.dirs_read, 0);
    assert_eq!((report.total_sidecars, report.skipped_unchanged), (20, 20));
}

#[test]
fn an_incremental_scan_sees_every_change_a_full_scan_sees() {
    let tree = Tree::new();
    for i in 0..12 {
        tree.run(&format!("r{i:02}"))
            .at(&format!("2026110{}/1200{i:02}/r{i:02}", i % 3))
            .metric("m", f64::from(i))
            .write();
    }
    tree.age_tree();
    let mut reg = registry(&tree);
    reg.scan(ScanMode::Full).unwrap();
    // A second cache of the same tree, kept by full scans only.
    let mut full = Registry::builder(tree.cache_dir())
        .db_path(tree.cache_dir().join("full.redb"))
        .scan(false)
        .open()
        .unwrap();
    full.scan(ScanMode::Full).unwrap();
    let runs = tree.runs();
    type Change = Box<dyn Fn(&Tree)>;
    let changes: Vec<(&str, Change)> = vec![
        (
            "a new run in a new date directory",
            Box::new(|t: &Tree| {
                t.run("new1").at("20261201/090000/new1").write();
            }),
        ),
        (
            "a new run beside others in a known directory",
            Box::new(|t: &Tree| {
                t.run("new2").at("20261100/120000/new2").write();
            }),
        ),
        (
            "an in-place rewrite",
            Box::new(|t: &Tree| {
                let p = t.runs().join("20261100/120000/r00/sidecar.json");
                let text = fs::read_to_string(&p)
                    .unwrap()
                    .replace("\"m\": 0.0", "\"m\": 100.0");
                fs::write(&p, text).unwrap();
            }),
        ),
        (
            "an atomic replace",
            Box::new(|t: &Tree| {
                let dir = t.runs().join("20261101/120001/r01");
                let text = fs::read_to_string(dir.join("sidecar.json"))
                    .unwrap()
                    .replace("\"m\": 1.0", "\"m\": 101.0");
                fs::write(dir.join(".sidecar.json.abc.tmp"), text).unwrap();
                fs::rename(dir.join(".sidecar.json.abc.tmp"), dir.join("sidecar.json")).unwrap();
            }),
        ),
        (
            "a deleted run",
            Box::new(|t: &Tree| {
                fs::remove_dir_all(t.runs().join("20261102/120002/r02")).unwrap();
            }),
        ),
        (
            "a renamed date directory",
            Box::new(|t: &Tree| {
                fs::rename(t.runs().join("20261100"), t.runs().join("20261199")).unwrap();
            }),
        ),
        (
            "a run directory that became a plain one",
            Box::new(|t: &Tree| {
                let dir = t.runs().join("20261101/120004/r04");
                fs::remove_file(dir.join("sidecar.json")).unwrap();
                t.run("inner").at("20261101/120004/r04/inner").write();
            }),
        ),
        (
            "a sidecar replaced by a directory",
            Box::new(|t: &Tree| {
                let dir = t.runs().join("20261102/120005/r05");
                fs::remove_file(dir.join("sidecar.json")).unwrap();
                fs::create_dir(dir.join("sidecar.json")).unwrap();
            }),
        ),
        (
            "a run nested in a run directory (not walked)",
            Box::new(|t: &Tree| {
                t.run("nested")
                    .at("20261101/120007/r07/checkpoints/nested")
                    .write();
            }),
        ),
    ];
    for (what, change) in changes {
        change(&tree);
        tree.age_tree();
        scan(&mut reg);
        full.scan(ScanMode::Full).unwrap();
        assert_eq!(snapshot(&reg), snapshot(&full), "after {what}");
    }
    assert!(runs.exists());
}

#[test]
fn a_cache_with_damaged_pages_is_moved_aside_and_rebuilt() {
    let tree = Tree::new();
    for i in 0..400 {
        tree.run(&format!("r{i:03}"))
            .tag("sweep:1")
            .hparam("optim.lr", 0.1)
            .metric("acc", f64::from(i))
            .write();
    }
    let mut reg = registry(&tree);
    reg.scan(ScanMode::Full).unwrap();
    let want = snapshot(&reg);
    let db = reg.db_path().to_path_buf();
    drop(reg);
    let mut bytes = fs::read(&db).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + len / 3] {
        *b = 0xAB;
    }
    fs::write(&db, &bytes).unwrap();
    let mut reg = registry(&tree);
    let report = reg.scan(ScanMode::Incremental).unwrap();
    assert!(report.rebuilt.is_some(), "{report}");
    assert_eq!(snapshot(&reg), want);
    let aside: Vec<_> = fs::read_dir(tree.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("registry.redb.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

// Fewer operations (issue 17, item 2): a rescan that finds the tree as the
// cache remembers it writes nothing, and still sees every change.

/// The cache file's bytes and mtime: a rescan that wrote nothing leaves
/// both as they were.
fn cache_file(reg: &Registry) -> (Vec<u8>, std::time::SystemTime) {
    let path = reg.db_path();
    let mtime = fs::metadata(path).unwrap().modified().unwrap();
    (fs::read(path).unwrap(), mtime)
}

/// Ages the tree out of the racy window and scans until a rescan finds
/// nothing to write; checks that it wrote nothing.
fn settle(tree: &Tree, reg: &mut Registry) {
    tree.age_tree();
    scan(reg);
    let before = cache_file(reg);
    let report = scan(reg);
    assert!(!report.cache_written, "{report:?}");
    assert_eq!(report.dirs_read, 0);
    assert!(cache_file(reg) == before, "the cache file was written");
}

/// A tree of runs in the writer's layout (`<date>/<time>/<id>`), terminal
/// and not, with heartbeats; scanned and settled.
fn settled_tree() -> (Tree, Registry) {
    settled_tree_with(runreg::DEFAULT_IO_THREADS, 0)
}

/// [`settled_tree`] with `io_threads`, and `others` more runs (completed
/// and running, one per time directory, as gen_tree lays them out) so that
/// the stats and reads are shared among threads.
fn settled_tree_with(io_threads: usize, others: usize) -> (Tree, Registry) {
    let tree = Tree::new();
    for i in 0..others {
        let status = if i % 3 == 0 {
            Status::Running
        } else {
            Status::Completed
        };
        tree.run(&format!("o{i:04}"))
            .at(&format!("20261031/{:06}/o{i:04}", 100_000 + i))
            .status(status)
            .heartbeat(600.0)
            .write();
    }
    for (i, status) in [Status::Completed, Status::Failed, Status::Running]
        .into_iter()
        .enumerate()
    {
        tree.run(&format!("r{i}"))
            .at(&format!("20261101/12000{i}/r{i}"))
            .status(status)
            .heartbeat(600.0)
            .write();
    }
    let mut reg = Registry::builder(tree.cache_dir())
        .scan(false)
        .io_threads(io_threads)
        .open()
        .unwrap();
    reg.scan(ScanMode::Full).unwrap();
    settle(&tree, &mut reg);
    (tree, reg)
}

#[test]
fn a_rescan_of_an_unchanged_tree_leaves_the_cache_file_as_it_was() {
    let (_tree, mut reg) = settled_tree();
    let before = cache_file(&reg);
    let report = scan(&mut reg);
    assert_eq!((report.total_sidecars, report.skipped_unchanged), (3, 3));
    assert!(!report.cache_written);
    assert!(cache_file(&reg) == before, "no write, no commit");
    // What the cache answers is unchanged, too.
    assert_eq!(ids(&reg), ["r0", "r1", "r2"]);
}

#[test]
fn a_terminal_runs_heartbeat_is_not_looked_at() {
    let (tree, mut reg) = settled_tree();
    let before = cache_file(&reg);
    let kept = reg.get("r0").unwrap().unwrap().heartbeat_at;
    // Touched, then gone: a completed run can never be alive, so neither is
    // seen (a stat of it would store its new time).
    let heartbeat = tree.runs().join("20261101/120000/r0/heartbeat");
    set_mtime(&heartbeat, now());
    assert!(!scan(&mut reg).cache_written);
    fs::remove_file(&heartbeat).unwrap();
    assert!(!scan(&mut reg).cache_written);
    assert!(cache_file(&reg) == before);
    let run = reg.get("r0").unwrap().unwrap();
    assert_eq!((run.heartbeat_at, run.alive), (kept, false));
}

#[test]
fn a_rescan_that_writes_nothing_still_sees_every_change() {
    // One request at a time, the default, and more threads than cores.
    for io_threads in [1, runreg::DEFAULT_IO_THREADS, 32] {
        sees_every_change(io_threads);
    }
}

fn sees_every_change(io_threads: usize) {
    let (tree, mut reg) = settled_tree_with(io_threads, 700);
    assert_eq!(reg.len().unwrap(), 703);
    let run_dir = |rel: &str| tree.runs().join(rel);
    let sidecar = |rel: &str| run_dir(rel).join("sidecar.json");

    // A running run's heartbeat touched: alive again.
    assert!(!reg.get("r2").unwrap().unwrap().alive);
    set_mtime(&run_dir("20261101/120002/r2").join("heartbeat"), now());
    let report = scan(&mut reg);
    assert!(report.cache_written);
    assert!(reg.get("r2").unwrap().unwrap().alive);
    settle(&tree, &mut reg);

    // An in-place rewrite: same inode, same size, the mtime put back where
    // it was (a rewrite within the timestamp granularity); only the ctime
    // tells, and the scan is within the racy window of the last one.
    let path = sidecar("20261101/120000/r0");
    let meta = fs::metadata(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let rewritten = text.replace("\"notes\": \"\"", "\"notes\": \"X\"");
    let rewritten = rewritten.replacen("  ", " ", 1);
    assert_eq!(rewritten.len(), text.len());
    {
        use std::io::Write;
        let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all(rewritten.as_bytes()).unwrap();
        file.set_modified(meta.modified().unwrap()).unwrap();
    }
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&path).unwrap().ino(), meta.ino());
    let report = scan(&mut reg);
    assert_eq!(report.upserted, 1, "{report:?}");
    assert_eq!(reg.get("r0").unwrap().unwrap().notes, "X");
    settle(&tree, &mut reg);

    // A replaced sidecar (renamed over it), with the old size and mtime.
    let path = sidecar("20261101/120001/r1");
    let meta = fs::metadata(&path).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let replaced = text.replace("\"notes\": \"\"", "\"notes\": \"Y\"");
    let replaced = replaced.replacen("  ", " ", 1);
    let temp = path.with_file_name("sidecar.json.tmp");
    fs::write(&temp, &replaced).unwrap();
    set_mtime(
        &temp,
        meta.modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64(),
    );
    fs::rename(&temp, &path).unwrap();
    let report = scan(&mut reg);
    assert_eq!(report.upserted, 1, "{report:?}");
    assert_eq!(reg.get("r1").unwrap().unwrap().notes, "Y");
    settle(&tree, &mut reg);

    // New runs in old directories: a time directory and a date directory
    // that already hold runs.
    tree.run("n1").at("20261101/120000/n1").write();
    tree.run("n2").at("20261101/n2").write();
    let report = scan(&mut reg);
    assert_eq!(report.upserted, 2, "{report:?}");
    assert!(reg.get("n1").unwrap().is_some() && reg.get("n2").unwrap().is_some());
    settle(&tree, &mut reg);

    // A running run that completed (its sidecar rewritten by the writer).
    tree.run("r2")
        .at("20261101/120002/r2")
        .status(Status::Completed)
        .heartbeat(600.0)
        .write();
    scan(&mut reg);
    let run = reg.get("r2").unwrap().unwrap();
    assert_eq!((run.status, run.alive), (Status::Completed, false));
    settle(&tree, &mut reg);

    // A deleted run: orphaned.
    fs::remove_dir_all(run_dir("20261101/120001/r1")).unwrap();
    let report = scan(&mut reg);
    assert_eq!(report.orphaned, 1, "{report:?}");
    assert_eq!(reg.get("r1").unwrap().unwrap().status, Status::Orphaned);
    settle(&tree, &mut reg);
}

// The I/O concurrency (issue 17, item 1).

#[test]
fn io_threads_out_of_range_are_refused_with_the_setting_named() {
    let tree = Tree::new();
    tree.run("r1").write();
    for bad in [0, runreg::MAX_IO_THREADS + 1] {
        let err = Registry::builder(tree.cache_dir())
            .io_threads(bad)
            .open()
            .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                runreg::Error::InvalidSetting {
                    setting: "io_threads",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            message.contains("io_threads") && message.contains(&bad.to_string()),
            "{message}"
        );
    }
    // Refused before anything is scanned or created.
    assert!(!tree.cache_dir().join(runreg::DB_FILE_NAME).exists());
    for good in [1, runreg::MAX_IO_THREADS] {
        let reg = Registry::builder(tree.cache_dir())
            .io_threads(good)
            .open()
            .unwrap();
        assert_eq!(ids(&reg), ["r1"]);
    }
}

#[test]
fn every_io_thread_count_builds_the_same_cache() {
    // Duplicates across batches, invalid sidecars, live and terminal runs:
    // whatever the threads, the same records and the same report.
    let tree = Tree::new();
    for i in 0..1200 {
        let status = [Status::Completed, Status::Running, Status::Failed][i % 3].clone();
        tree.run(&format!("r{i:04}"))
            .at(&format!("20261101/{:06}/r{i:04}", 100_000 + i))
            .status(status)
            .heartbeat(30.0)
            .write();
        if i % 100 == 0 {
            tree.run(&format!("r{i:04}"))
                .at(&format!("20261102/{:06}/r{i:04}", 100_000 + i))
                .notes("the copy")
                .write();
        }
    }
    fs::write(
        tree.runs().join("20261101/100007/r0007/sidecar.json"),
        "{oops",
    )
    .unwrap();
    // The same tree into a cache of its own per thread count.
    let caches = tempfile::tempdir().unwrap();
    let answer = |io_threads: usize| {
        let mut reg = Registry::builder(tree.cache_dir())
            .db_path(caches.path().join(format!("{io_threads}.redb")))
            .scan(false)
            .io_threads(io_threads)
            .open()
            .unwrap();
        let mut report = reg.scan(ScanMode::Full).unwrap();
        report.elapsed = Duration::ZERO;
        let records: Vec<String> = reg
            .query(&Query::new())
            .unwrap()
            .into_iter()
            .map(|r| format!("{r:?}"))
            .collect();
        (format!("{report:?}"), records)
    };
    let one = answer(1);
    assert_eq!(
        one.1.len(),
        1199,
        "r0007 invalid and never valid: not a run"
    );
    for io_threads in [2, 16, 64] {
        assert!(answer(io_threads) == one, "io_threads {io_threads}");
    }
}

#[test]
fn a_rescan_finds_many_new_runs_in_old_and_new_directories_whatever_the_threads() {
    for io_threads in [1, 16] {
        let (tree, mut reg) = settled_tree_with(io_threads, 40);
        // A day of new runs: each its own time directory, in an old date
        // directory (more new subtrees than threads) and in a new one.
        for i in 0..40 {
            tree.run(&format!("n{i:02}"))
                .at(&format!("20261031/{:06}/n{i:02}", 200_000 + i))
                .write();
        }
        for i in 0..3 {
            tree.run(&format!("m{i}"))
                .at(&format!("20261105/{:06}/m{i}", 100_000 + i))
                .write();
        }
        let report = scan(&mut reg);
        assert_eq!(report.upserted, 43, "io_threads {io_threads}: {report:?}");
        assert_eq!(reg.len().unwrap(), 43 + 43);
        settle(&tree, &mut reg);
    }
}
