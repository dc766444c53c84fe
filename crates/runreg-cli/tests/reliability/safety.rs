//! Item 7: safety. Scans and queries write only the cache file (and its
//! lock); the writer writes only inside its own run directory; `export`
//! never overwrites without `--force`; the cache file is created with the
//! user's umask and never world-writable.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use runreg::{RunOptions, RunWriter, Status};

use crate::common::Tree;
use crate::support::{changes, figure, is_cache_file, run, runreg, runreg_with_umask, snapshot};

/// A tree with everything a real one holds: live and finished runs with
/// their other files, a leftover temp file, an invalid sidecar, the
/// reference's SQLite cache, and a run whose sidecar is gone (orphaned by
/// the next scan).
fn busy_tree() -> Tree {
    let tree = Tree::new();
    for i in 0..20_u32 {
        let status = if i % 4 == 0 {
            Status::Running
        } else {
            Status::Completed
        };
        let dir = tree
            .run(&format!("r{i:02}"))
            .status(status)
            .tag("sweep:1")
            .hparam("optim.lr", 0.1 * f64::from(i))
            .metric("val_acc", f64::from(i) / 20.0)
            .heartbeat(10.0)
            .write();
        fs::write(dir.join("metrics.csv"), "step,val_acc\n1,0.5\n").unwrap();
        fs::create_dir_all(dir.join("checkpoints")).unwrap();
        fs::write(dir.join("checkpoints/last.ckpt"), [0u8; 64]).unwrap();
    }
    let r0 = tree.runs().join("20261101/120000/r00");
    fs::write(r0.join(".sidecar.json.x8f3.tmp"), "{\"run_id\": ").unwrap();
    tree.raw_sidecar("broken/b1", "{not json");
    fs::write(
        tree.cache_dir().join("registry.db"),
        b"SQLite format 3\0...",
    )
    .unwrap();
    tree
}

#[test]
fn scans_and_queries_write_nothing_but_the_cache() {
    let tree = busy_tree();
    let dir = tree.cache_dir().to_path_buf();
    run(runreg(&dir).arg("scan")).ok("first scan");
    // A run whose sidecar is gone: the next scan orphans it, gc drops it.
    fs::remove_file(tree.runs().join("20261101/120019/r19/sidecar.json")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let export = outside.path().join("runs.csv");
    let before = snapshot(&dir);

    let commands: Vec<Vec<&str>> = vec![
        vec!["scan"],
        vec!["scan", "--full"],
        vec!["scan", "--json"],
        vec!["ls"],
        vec!["ls", "--json", "--alive"],
        vec!["ls", "--csv", "--sort", "summary.val_acc", "-n", "3"],
        vec![
            "ls",
            "--where",
            "hparams.optim.lr > 0.5 and tags has 'sweep:1'",
        ],
        vec!["--no-scan", "ls", "--status", "orphaned"],
        vec!["show", "r03"],
        vec!["show", "r03", "--json"],
        vec!["best", "val_acc", "-n", "5"],
        vec!["tags"],
        vec!["status", "--json"],
        vec!["export", "-", "--format", "jsonl"],
        vec!["gc", "--dry-run"],
        vec!["gc"],
        vec!["--heartbeat-timeout", "1", "ls", "--dead"],
    ];
    let mut ran = 0;
    for args in &commands {
        run(runreg(&dir).args(args)).ok(&args.join(" "));
        ran += 1;
    }
    run(runreg(&dir).arg("export").arg(&export)).ok("export FILE");
    ran += 1;

    let after = snapshot(&dir);
    let changed: Vec<PathBuf> = changes(&before, &after)
        .into_iter()
        .filter(|p| !is_cache_file(p))
        .collect();
    assert_eq!(
        changed,
        Vec::<PathBuf>::new(),
        "written outside the cache file"
    );
    assert_eq!(
        after.keys().filter(|p| is_cache_file(p)).count(),
        3,
        "only registry.redb, its lock and turnstile: {:?}",
        after
            .keys()
            .filter(|p| is_cache_file(p))
            .collect::<Vec<_>>()
    );
    figure!(
        "safety: commands run on a tree left unchanged (paths, sizes, mtimes, modes, inodes)",
        "{ran} commands, {} paths, 0 changed outside registry.redb, its lock and turnstile",
        before.len()
    );
}

#[test]
fn the_writer_writes_only_inside_its_run_directory() {
    let tree = busy_tree();
    let dir = tree.cache_dir().to_path_buf();
    run(runreg(&dir).arg("scan")).ok("scan");
    let before = snapshot(&dir);

    // From the shell...
    let out = run(runreg(&dir).args(["start", "--tag", "shell", "--hparam", "optim.lr=0.1"]));
    let run_dir = PathBuf::from(out.ok("start").trim_end());
    for step in 1..=3 {
        run(runreg(&dir).arg("log").arg(&run_dir).args([
            "--step",
            &step.to_string(),
            &format!("loss={}", 1.0 / f64::from(step)),
        ]))
        .ok("log");
    }
    run(runreg(&dir).arg("heartbeat").arg(&run_dir)).ok("heartbeat");
    run(runreg(&dir).arg("finish").arg(&run_dir)).ok("finish");
    // ...and from Rust.
    let writer =
        RunWriter::create(&dir, RunOptions::new().tag("rust").slurm_sweep_tag(false)).unwrap();
    writer.log_metrics(1, [("loss", 0.5)]).unwrap();
    writer
        .set_checkpoint(writer.run_dir().join("checkpoints/best.ckpt"))
        .unwrap();
    let rust_dir = writer.run_dir().to_path_buf();
    writer.finish(Status::Completed).unwrap();

    let after = snapshot(&dir);
    let run_dirs: Vec<PathBuf> = [&run_dir, &rust_dir]
        .iter()
        .map(|d| {
            d.strip_prefix(dir.canonicalize().unwrap())
                .unwrap()
                .to_path_buf()
        })
        .collect();
    for path in changes(&before, &after) {
        let inside = run_dirs.iter().any(|d| path.starts_with(d));
        // Its parents (runs/<date>/<time>/) are created, or gain an entry.
        let parent_of_run = run_dirs.iter().any(|d| d.starts_with(&path))
            && after[&path].kind == 'd'
            && before.get(&path).is_none_or(|b| b.ino == after[&path].ino);
        assert!(
            inside || parent_of_run,
            "the writer changed {} outside its run directories",
            path.display()
        );
    }
    figure!(
        "safety: writer (start/log/heartbeat/finish, RunWriter) writes outside its run directory",
        "0 paths (of {} in the tree)",
        after.len()
    );
}

#[test]
fn export_never_overwrites_without_force() {
    let tree = busy_tree();
    let dir = tree.cache_dir().to_path_buf();
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("runs.csv");
    let precious = out_dir.path().join("precious.txt");
    fs::write(&precious, "precious").unwrap();
    let mut refused = 0;

    // An existing file, a symlink to one, a dangling symlink, a directory.
    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "an existing file",
            Box::new(|t: &Path| fs::write(t, "mine").unwrap()),
        ),
        (
            "a symlink to a file",
            Box::new(|t: &Path| symlink("precious.txt", t).unwrap()),
        ),
        (
            "a dangling symlink",
            Box::new(|t: &Path| symlink("nowhere.csv", t).unwrap()),
        ),
        (
            "a directory",
            Box::new(|t: &Path| fs::create_dir(t).unwrap()),
        ),
    ];
    for (what, make) in &cases {
        make(&target);
        let before = snapshot(out_dir.path());
        let out = run(runreg(&dir).arg("export").arg(&target));
        assert_eq!(out.code, Some(1), "{what}: {out:?}");
        assert!(
            out.stderr.contains(&target.display().to_string()),
            "{what}: {}",
            out.stderr
        );
        assert_eq!(snapshot(out_dir.path()), before, "{what}: written");
        assert!(!out_dir.path().join("nowhere.csv").exists());
        refused += 1;
        let meta = fs::symlink_metadata(&target).unwrap();
        if meta.is_dir() {
            fs::remove_dir(&target).unwrap();
        } else {
            fs::remove_file(&target).unwrap();
        }
    }

    // A failed query writes no file.
    let out = run(runreg(&dir)
        .arg("export")
        .arg(&target)
        .args(["--where", "summary.x >"]));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(!target.exists());

    // --force replaces the file, or the symlink itself: never the file a
    // symlink points to. No temp file is left behind.
    fs::write(&target, "mine").unwrap();
    run(runreg(&dir).arg("export").arg(&target).arg("--force")).ok("export --force");
    assert!(fs::read_to_string(&target).unwrap().starts_with("run_id,"));
    fs::remove_file(&target).unwrap();
    symlink("precious.txt", &target).unwrap();
    run(runreg(&dir).arg("export").arg(&target).arg("--force")).ok("export --force");
    assert!(
        !fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "precious");
    let mut names: Vec<String> = fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["precious.txt", "runs.csv"]);
    figure!(
        "safety: export targets refused without --force",
        "{refused} of {} (file, symlink, dangling symlink, directory)",
        cases.len()
    );
}

#[test]
fn the_cache_file_is_created_with_the_umask_never_world_writable() {
    let tree = busy_tree();
    let dir = tree.cache_dir().to_path_buf();
    let db = dir.join("registry.redb");
    let lock = dir.join("registry.redb.lock");
    let turnstile = dir.join("registry.redb.lock.turnstile");
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut checked = Vec::new();
    for umask in [0o000, 0o002, 0o022, 0o027, 0o077] {
        let _ = fs::remove_file(&db);
        let _ = fs::remove_file(&lock);
        let _ = fs::remove_file(&turnstile);
        run(runreg_with_umask(&dir, umask).arg("scan")).ok("scan");
        let want = 0o666 & !umask & !0o002;
        assert_eq!(mode(&db), want, "cache file under umask {umask:03o}");
        assert_eq!(mode(&lock), want, "lock file under umask {umask:03o}");
        assert_eq!(mode(&turnstile), want, "turnstile under umask {umask:03o}");
        checked.push(format!("{umask:03o}->{want:03o}"));
    }

    // A cache rebuilt after the old one was moved aside, and one at --db.
    fs::write(&db, b"garbage").unwrap();
    run(runreg_with_umask(&dir, 0o000).arg("scan")).ok("rebuild");
    assert_eq!(mode(&db), 0o664, "rebuilt cache under umask 000");
    let elsewhere = tempfile::tempdir().unwrap();
    let other = elsewhere.path().join("other.redb");
    run(runreg_with_umask(&dir, 0o000)
        .arg("--db")
        .arg(&other)
        .arg("scan"))
    .ok("--db");
    assert_eq!(mode(&other), 0o664, "--db cache under umask 000");
    figure!(
        "safety: cache file modes by umask (never o+w)",
        "{}",
        checked.join(", ")
    );
}
