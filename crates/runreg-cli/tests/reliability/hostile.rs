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
use std::time::Instant;

use runreg::{Registry, ScanMode, Status, Value};

use crate::common::Tree;
use crate::support::{
    NOBODY, Unprivileged, chown_tree, figure, get, is_root, items, json, parse, run, runreg,
    scan_report, snapshot, text,
};

/// Scans twice (a first, full scan and an incremental one), checking both
/// succeed and report the same rejections; returns the first report.
fn scan_twice(cache_dir: &Path) -> serde_json::Value {
    let first = scan_report(cache_dir, false);
    let again = scan_report(cache_dir, false);
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
    let out = run(runreg(cache_dir).args(["ls", "--json"])).ok("ls --json");
    items(&parse(&out)).to_vec()
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
    tree.run("open").status(Status::Completed).write();
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
    for i in 0..n {
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
    figure!(
        "hostile: a sidecar with a million tags (1,000 distinct)",
        "accepted; {:.1} MB scanned in {:.1} s (debug build); tag queries answer",
        text_len as f64 / 1e6,
        scanned_in.as_secs_f64()
    );
}
