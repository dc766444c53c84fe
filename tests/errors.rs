//! The library's errors, as a library user meets them: a distinct variant
//! for each store failure, naming the cache file; redb's error reachable
//! through `source()`; messages that name no command or flag of the
//! `runreg` program (it adds its advice where it prints them).

mod common;

use std::error::Error as _;
use std::fs;
use std::path::Path;

use common::Tree;
use runreg::{Error, Query, Registry, ScanMode};

/// A registry on `tree` that reads its cache as it is (no scan).
fn unscanned(tree: &Tree) -> Registry {
    Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap()
}

/// The message names no `runreg` command and no flag.
fn assert_no_cli_advice(err: &Error) {
    let message = err.to_string();
    assert!(!message.contains("runreg "), "names a command: {message}");
    let flag = message
        .as_bytes()
        .windows(3)
        .any(|w| w[..2] == *b"--" && w[2].is_ascii_lowercase());
    assert!(!flag, "names a flag: {message}");
}

/// The `redb::Error` behind `err`, if its source is one.
fn redb_source(err: &Error) -> Option<&redb::Error> {
    err.source()?.downcast_ref::<redb::Error>()
}

/// A tree of a few runs, scanned into its cache.
fn built_tree(runs: usize) -> Tree {
    let tree = Tree::new();
    for i in 0..runs {
        tree.run(&format!("r{i:03}"))
            .tag("sweep:1")
            .hparam("optim.lr", 0.1)
            .metric("acc", i as f64)
            .write();
    }
    unscanned(&tree).scan(ScanMode::Full).unwrap();
    tree
}

#[test]
fn a_cache_never_built_is_no_cache() {
    let tree = Tree::new();
    let reg = unscanned(&tree);
    let err = reg.query(&Query::new()).unwrap_err();
    assert!(
        matches!(&err, Error::NoCache { path } if path == reg.db_path()),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("cache {}: no cache yet", reg.db_path().display())
    );
    assert_no_cli_advice(&err);
}

#[test]
fn a_file_that_is_not_a_database_is_a_redb_error_reachable_through_source() {
    let tree = Tree::new();
    let reg = unscanned(&tree);
    fs::write(reg.db_path(), b"not a database at all").unwrap();
    let err = reg.query(&Query::new()).unwrap_err();
    assert!(
        matches!(&err, Error::Database { path, .. } if path == reg.db_path()),
        "{err:?}"
    );
    let source = redb_source(&err).expect("the source is a redb::Error");
    assert!(
        err.to_string()
            .starts_with(&format!("cache {}: ", reg.db_path().display())),
        "{err}"
    );
    assert!(err.to_string().ends_with(&source.to_string()), "{err}");
    assert_no_cli_advice(&err);
}

#[test]
fn a_cache_file_another_handle_holds_open_is_database_already_open() {
    let tree = built_tree(3);
    let mut reg = unscanned(&tree);
    // Another program (here: redb in this process) has the file open.
    let held = redb::Database::open(reg.db_path()).unwrap();
    let err = reg.scan(ScanMode::Incremental).unwrap_err();
    assert!(
        matches!(redb_source(&err), Some(redb::Error::DatabaseAlreadyOpen)),
        "{err:?}"
    );
    assert!(matches!(&err, Error::Database { path, .. } if path == reg.db_path()));
    assert_no_cli_advice(&err);
    // The scan refused the file rather than moving it aside.
    drop(held);
    assert!(reg.scan(ScanMode::Incremental).unwrap().rebuilt.is_none());
}

#[test]
fn another_programs_redb_file_is_a_cache_format_mismatch() {
    let tree = Tree::new();
    let reg = unscanned(&tree);
    {
        let db = redb::Database::create(reg.db_path()).unwrap();
        let txn = db.begin_write().unwrap();
        let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("theirs");
        txn.open_table(def).unwrap().insert("k", 1).unwrap();
        txn.commit().unwrap();
    }
    let err = reg.query(&Query::new()).unwrap_err();
    match &err {
        Error::CacheFormat {
            path,
            found,
            expected,
        } => {
            assert_eq!(path, reg.db_path());
            assert_eq!(*found, None);
            assert!(*expected > 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("cache format unknown is not this runreg's"),
        "{err}"
    );
    assert_no_cli_advice(&err);
}

#[test]
fn a_cache_of_an_older_format_is_a_format_mismatch_not_a_missing_table() {
    let tree = Tree::new();
    let reg = unscanned(&tree);
    {
        // Format 4, as a runreg of then stamped it, and none of the newer
        // tables.
        let db = redb::Database::create(reg.db_path()).unwrap();
        let txn = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        txn.open_table(meta)
            .unwrap()
            .insert("format_version", &[4u8][..])
            .unwrap();
        txn.commit().unwrap();
    }
    let err = reg.query(&Query::new()).unwrap_err();
    assert!(
        matches!(&err, Error::CacheFormat { found: Some(4), expected, .. } if *expected != 4),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "cache {}: cache format 4 is not this runreg's (",
            reg.db_path().display()
        )),
        "{err}"
    );
    assert_no_cli_advice(&err);
}

#[test]
fn a_cache_whose_pages_are_overwritten_is_damaged() {
    runreg::quiet_caught_panics();
    let tree = built_tree(400);
    let reg = unscanned(&tree);
    let db: &Path = reg.db_path();
    let mut bytes = fs::read(db).unwrap();
    let len = bytes.len();
    bytes[len / 3..2 * len / 3].fill(0xab);
    fs::write(db, &bytes).unwrap();
    // redb panics on these pages; the read reports a damaged cache and
    // leaves the file as it is.
    let err = reg.query(&Query::new()).unwrap_err();
    assert!(
        matches!(&err, Error::CacheDamaged { path, reason } if path == db && !reason.is_empty()),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cache {}: the cache is damaged (", db.display())),
        "{err}"
    );
    assert_no_cli_advice(&err);
    assert!(fs::read(db).unwrap() == bytes, "the read changed the file");
}
