//! Item 3: damaged caches. Whatever is found at `registry.redb` (nothing,
//! half a file, noise, a SQLite database, another program's redb file,
//! overwritten pages) is moved aside to `registry.redb.corrupt-<unix
//! time>`, never deleted, and rebuilt from the sidecars with one warning
//! line; the answers equal a clean build's. A cache written by another
//! format version of runreg is deleted instead (it holds nothing its
//! sidecars do not), and rebuilt the same way.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, TableDefinition, TableHandle};
use runreg::Status;

use crate::common::Tree;
use crate::support::{Rng, figure, no_panic, run, runreg};

/// A tree of 40 runs of every kind (NaN metrics, nested config, tags).
fn tree() -> Tree {
    let tree = Tree::new();
    for i in 0..40_u32 {
        let status = [Status::Completed, Status::Failed, Status::Running][i as usize % 3].clone();
        let failed = status == Status::Failed;
        let mut run = tree
            .run(&format!("run{i:02}"))
            .status(status)
            .tag("sweep:7")
            .tag(if i % 2 == 0 { "even" } else { "odd" })
            .hparam("optim.lr", 0.1 / f64::from(i + 1))
            .hparam("seed", i64::from(i))
            .metric("val_acc", f64::from(i) / 40.0);
        if failed {
            run = run.metric("train_loss", f64::NAN);
        }
        run.write();
    }
    tree
}

/// A SQLite 3 database of one empty page: what the reference's
/// `registry.db` looks like, copied to the wrong name.
fn sqlite_file() -> Vec<u8> {
    let mut page = vec![0u8; 4096];
    page[..16].copy_from_slice(b"SQLite format 3\0");
    page[16..18].copy_from_slice(&4096u16.to_be_bytes());
    page[18] = 1; // write version: legacy
    page[19] = 1; // read version
    page[21] = 64; // max embedded payload fraction
    page[22] = 32;
    page[23] = 32;
    page[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    page[28..32].copy_from_slice(&1u32.to_be_bytes()); // pages
    page[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    page[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    page[92..96].copy_from_slice(&1u32.to_be_bytes());
    page[96..100].copy_from_slice(&3_045_000u32.to_be_bytes());
    page[100] = 0x0d; // a leaf table b-tree page: sqlite_schema, empty
    page[105..107].copy_from_slice(&4096u16.to_be_bytes());
    page
}

/// A redb file: with `format` as runreg's format version (bincode varint
/// bytes) in a `meta` table, or, without, another program's tables.
fn redb_file(dir: &Path, format: Option<&[u8]>) -> Vec<u8> {
    let path = dir.join("other.redb");
    let db = redb::Database::create(&path).unwrap();
    let txn = db.begin_write().unwrap();
    match format {
        Some(bytes) => {
            let meta: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
            let mut table = txn.open_table(meta).unwrap();
            table.insert("format_version", bytes).unwrap();
        }
        None => {
            let other: TableDefinition<u64, &str> = TableDefinition::new("experiments");
            let mut table = txn.open_table(other).unwrap();
            table.insert(1, "not runreg's").unwrap();
        }
    }
    txn.commit().unwrap();
    assert!(db.begin_read().is_ok());
    drop(db);
    let bytes = fs::read(&path).unwrap();
    fs::remove_file(&path).unwrap();
    bytes
}

fn moved_aside(cache_dir: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("registry.redb.corrupt-")
        })
        .collect()
}

/// The names of the tables of the redb file at `path`.
fn table_names(path: &Path) -> Vec<String> {
    redb::ReadOnlyDatabase::open(path)
        .unwrap()
        .begin_read()
        .unwrap()
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_owned())
        .collect()
}

/// The first bytes of every redb file, and the size of its header page.
const REDB_MAGIC: &[u8] = b"redb\x1a\n\xa9\r\n";
const REDB_PAGE: usize = 4096;

#[test]
fn damaged_caches_are_moved_aside_and_rebuilt() {
    let tree = tree();
    let cache_dir = tree.cache_dir().canonicalize().unwrap();
    let db = cache_dir.join("registry.redb");
    let clean = run(runreg(&cache_dir).args(["ls", "--json"]));
    assert_eq!(clean.stderr, "");
    let clean = clean.ok("clean build");
    let good = fs::read(&db).unwrap();

    let mut rng = Rng::new(7);
    let noise: Vec<u8> = (0..256 * 1024).map(|_| rng.next_u64() as u8).collect();
    let mut overwritten = good.clone();
    let len = overwritten.len();
    overwritten[len / 3..2 * len / 3].fill(0xab);
    let scratch = tempfile::tempdir().unwrap();
    // (what, the file, whether it is a sound redb file); a cache of another
    // runreg format version is the one kind deleted, not moved aside.
    let other_version = "a cache of another format version (999)";
    let kinds: Vec<(&str, Vec<u8>, bool)> = vec![
        ("an empty file", Vec::new(), false),
        (
            "a cache cut in half",
            good[..good.len() / 2].to_vec(),
            false,
        ),
        (
            "a cache cut to its first page",
            good[..4096].to_vec(),
            false,
        ),
        ("256 KiB of random bytes", noise, false),
        ("a SQLite database", sqlite_file(), false),
        (
            other_version,
            redb_file(scratch.path(), Some(&[251, 0xe7, 0x03])),
            true,
        ),
        (
            "another program's redb file",
            redb_file(scratch.path(), None),
            true,
        ),
        (
            "a cache with its middle third overwritten",
            overwritten,
            false,
        ),
    ];

    let mut recovered = 0;
    for (what, bytes, sound_redb) in &kinds {
        let before = moved_aside(&cache_dir);
        fs::write(&db, bytes).unwrap();

        // Answering from the cache as it is (--no-scan) fails, saying
        // which file, and leaves it alone.
        let out = run(runreg(&cache_dir).args(["--no-scan", "ls", "--json"]));
        assert_eq!(out.code, Some(1), "{what}: --no-scan ls: {out:?}");
        no_panic(&out.stderr, what);
        assert!(
            out.stderr
                .starts_with(&format!("runreg: cache {}: ", db.display())),
            "{what}: {}",
            out.stderr
        );
        // A file of another format, or one redb panics on, is one a scan
        // rebuilds: the message says so (the library's says only what is
        // wrong).
        if *sound_redb || out.stderr.contains("the cache is damaged (") {
            assert!(
                out.stderr.ends_with(": run `runreg scan` to rebuild it\n"),
                "{what}: {}",
                out.stderr
            );
        }
        if *sound_redb {
            assert!(
                out.stderr.contains(": cache format "),
                "{what}: {}",
                out.stderr
            );
        }
        eprintln!("{what}: --no-scan: {}", out.stderr.trim_end());
        assert!(fs::read(&db).unwrap() == *bytes, "{what}: --no-scan wrote");
        assert_eq!(
            moved_aside(&cache_dir),
            before,
            "{what}: --no-scan moved it"
        );

        // A command that scans moves it aside and rebuilds.
        let out = run(runreg(&cache_dir).args(["ls", "--json"]));
        assert_eq!(out.code, Some(0), "{what}: {out:?}");
        no_panic(&out.stderr, what);
        assert_eq!(
            out.stdout, clean,
            "{what}: the answer differs from a clean build's"
        );
        if *what == other_version {
            // Ours, of another version: deleted, nothing left beside.
            let warning = format!(
                "runreg: warning: cache rebuilt from the sidecars: {} was written by cache format 999, this runreg uses ",
                db.display()
            );
            assert!(
                out.stderr.starts_with(&warning)
                    && out
                        .stderr
                        .trim_end()
                        .ends_with("(deleted: a cache holds nothing its sidecars do not)")
                    && out.stderr.lines().count() == 1,
                "{what}: one warning line expected: {}",
                out.stderr
            );
            assert_eq!(moved_aside(&cache_dir), before, "{what}: moved aside");
        } else {
            let warning = format!(
                "runreg: warning: cache rebuilt from the sidecars: {} was unusable (",
                db.display()
            );
            assert!(
                out.stderr.starts_with(&warning) && out.stderr.lines().count() == 1,
                "{what}: one warning line expected: {}",
                out.stderr
            );
            let after = moved_aside(&cache_dir);
            let new: Vec<&PathBuf> = after.difference(&before).collect();
            assert_eq!(new.len(), 1, "{what}: {after:?}");
            assert!(
                out.stderr
                    .trim_end()
                    .ends_with(&format!("moved to {}", new[0].display())),
                "{what}: {}",
                out.stderr
            );
            if *sound_redb {
                // A sound redb file was opened (to read its format version)
                // before being moved: redb's header bookkeeping may differ, the
                // tables are what they were.
                let original = scratch.path().join("original.redb");
                fs::write(&original, bytes).unwrap();
                assert_eq!(
                    table_names(new[0]),
                    table_names(&original),
                    "{what}: moved with its tables"
                );
            } else {
                // redb may rewrite the header page of a file it recognises as
                // its own (its recovery bookkeeping), and grow the file to
                // write new pages at its end, before it meets the damage further
                // in (both seen in release builds, depending on where the damage
                // falls); nothing that was past the header is overwritten.
                let moved = fs::read(new[0]).unwrap();
                let same = if bytes.starts_with(REDB_MAGIC) {
                    let was = REDB_PAGE..bytes.len();
                    moved.len() >= bytes.len() && moved.get(was.clone()) == bytes.get(was)
                } else {
                    moved == *bytes
                };
                assert!(same, "{what}: moved, what it held unchanged");
            }
        }
        eprintln!("{what}: {}", out.stderr.trim_end());

        // The rebuilt cache is sound: no warning the next time.
        let again = run(runreg(&cache_dir).args(["ls", "--json"]));
        assert_eq!(again.stderr, "", "{what}");
        assert_eq!(again.ok(what), clean, "{what}");
        recovered += 1;
    }
    assert_eq!(
        moved_aside(&cache_dir).len(),
        kinds.len() - 1,
        "none deleted but the cache of another version"
    );
    figure!(
        "corrupt caches: kinds detected, moved aside, rebuilt",
        "{recovered} / {} (answers equal a clean build's; every damaged or foreign file kept)",
        kinds.len()
    );
}
