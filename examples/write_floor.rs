//! What redb alone takes to write a cache's rows: the floor under the
//! writing thread of a full scan (see BENCHMARKS.md, "Full scan: the
//! floors").
//!
//! ```text
//! cargo run --release --example write_floor -- CACHE_DIR [--rounds N]
//! ```
//!
//! Reads every row of `CACHE_DIR/registry.redb` (a cache built by `runreg
//! scan`) into memory, then inserts them into a fresh redb file in one write
//! transaction and commits, with runreg's page cache size: once in key
//! order (each table after the other, the best case for a B-tree) and once
//! run by run in a shuffled order, as a scan meets runs in walk order. No
//! sidecar is read, parsed or encoded: the time is redb's. Prints one JSON
//! object per round.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use redb::{
    Database, MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition,
};

// The tables of cache format 5 (src/store/tables.rs).
const RUNS: TableDefinition<&str, &[u8]> = TableDefinition::new("runs");
const HOT: TableDefinition<&str, &[u8]> = TableDefinition::new("hot");
const BY_TAG: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("by_tag");
const BY_STATUS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("by_status");
const BY_UPDATED: TableDefinition<(i64, &str), ()> = TableDefinition::new("by_updated");
const FILES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("files");
const DIRS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("dirs");

/// runreg's page cache (src/store/mod.rs, `CACHE_BYTES`).
const CACHE_BYTES: usize = 64 << 20;

/// Every row of one run: its record, hot row and index entries.
struct Run {
    id: String,
    record: Vec<u8>,
    hot: Vec<u8>,
    tags: Vec<String>,
    status: String,
    updated: i64,
}

/// The rows of a cache.
#[derive(Default)]
struct Rows {
    runs: Vec<Run>,
    files: Vec<(Vec<u8>, Vec<u8>)>,
    dirs: Vec<(Vec<u8>, Vec<u8>)>,
}

type Failure = Box<dyn std::error::Error>;

fn read_rows(path: &Path) -> Result<Rows, Failure> {
    let db = redb::ReadOnlyDatabase::open(path)?;
    let txn = db.begin_read()?;
    let mut rows = Rows::default();
    let hot = txn.open_table(HOT)?;
    for entry in txn.open_table(RUNS)?.iter()? {
        let (id, record) = entry?;
        let id = id.value().to_owned();
        let hot = hot.get(id.as_str())?.map(|h| h.value().to_vec());
        rows.runs.push(Run {
            record: record.value().to_vec(),
            hot: hot.ok_or_else(|| format!("run {id} has no hot row"))?,
            id,
            tags: Vec::new(),
            status: String::new(),
            updated: 0,
        });
    }
    let at = |id: &str, runs: &[Run]| runs.binary_search_by(|r| r.id.as_str().cmp(id)).ok();
    for entry in txn.open_multimap_table(BY_TAG)?.iter()? {
        let (tag, ids) = entry?;
        for id in ids {
            if let Some(i) = at(id?.value(), &rows.runs) {
                rows.runs[i].tags.push(tag.value().to_owned());
            }
        }
    }
    for entry in txn.open_multimap_table(BY_STATUS)?.iter()? {
        let (status, ids) = entry?;
        for id in ids {
            if let Some(i) = at(id?.value(), &rows.runs) {
                rows.runs[i].status = status.value().to_owned();
            }
        }
    }
    for entry in txn.open_table(BY_UPDATED)?.iter()? {
        let (key, ()) = entry.map(|(k, _)| (k, ()))?;
        let (ns, id) = key.value();
        if let Some(i) = at(id, &rows.runs) {
            rows.runs[i].updated = ns;
        }
    }
    for (table, out) in [(FILES, &mut rows.files), (DIRS, &mut rows.dirs)] {
        for entry in txn.open_table(table)?.iter()? {
            let (k, v) = entry?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
    }
    Ok(rows)
}

/// A fixed permutation of `0..n` (xorshift, seed 1): the order of a walk.
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// Writes `rows` into a fresh file in one transaction: table by table in key
/// order, or run by run in `order`. Returns the time to insert and to commit.
fn write(
    rows: &Rows,
    path: &Path,
    order: Option<&[usize]>,
) -> Result<(Duration, Duration), Failure> {
    let _ = std::fs::remove_file(path);
    let mut builder = Database::builder();
    builder.set_cache_size(CACHE_BYTES);
    let db = builder.create(path)?;
    let started = Instant::now();
    let txn = db.begin_write()?;
    {
        let mut runs = txn.open_table(RUNS)?;
        let mut hot = txn.open_table(HOT)?;
        let mut by_tag = txn.open_multimap_table(BY_TAG)?;
        let mut by_status = txn.open_multimap_table(BY_STATUS)?;
        let mut by_updated = txn.open_table(BY_UPDATED)?;
        let mut files = txn.open_table(FILES)?;
        let mut dirs = txn.open_table(DIRS)?;
        match order {
            None => {
                for r in &rows.runs {
                    runs.insert(r.id.as_str(), r.record.as_slice())?;
                }
                for r in &rows.runs {
                    hot.insert(r.id.as_str(), r.hot.as_slice())?;
                }
                for r in &rows.runs {
                    for tag in &r.tags {
                        by_tag.insert(tag.as_str(), r.id.as_str())?;
                    }
                }
                for r in &rows.runs {
                    by_status.insert(r.status.as_str(), r.id.as_str())?;
                }
                for r in &rows.runs {
                    by_updated.insert((r.updated, r.id.as_str()), ())?;
                }
                for (k, v) in &rows.files {
                    files.insert(k.as_slice(), v.as_slice())?;
                }
            }
            Some(order) => {
                // A scan's writes for one run, run after run; the file
                // states in walk order too.
                for &i in order {
                    let r = &rows.runs[i];
                    for tag in &r.tags {
                        by_tag.insert(tag.as_str(), r.id.as_str())?;
                    }
                    by_status.insert(r.status.as_str(), r.id.as_str())?;
                    by_updated.insert((r.updated, r.id.as_str()), ())?;
                    runs.insert(r.id.as_str(), r.record.as_slice())?;
                    hot.insert(r.id.as_str(), r.hot.as_slice())?;
                }
                for &i in &shuffled(rows.files.len()) {
                    let (k, v) = &rows.files[i];
                    files.insert(k.as_slice(), v.as_slice())?;
                }
            }
        }
        // Directory states are written at the end of a scan, in path order.
        for (k, v) in &rows.dirs {
            dirs.insert(k.as_slice(), v.as_slice())?;
        }
    }
    let inserted = started.elapsed();
    txn.commit()?;
    Ok((inserted, started.elapsed() - inserted))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(cache_dir), rest) = (args.next(), args.collect::<Vec<_>>()) else {
        eprintln!("usage: write_floor CACHE_DIR [--rounds N]");
        return ExitCode::from(2);
    };
    let rounds = match rest.as_slice() {
        [] => 3,
        [flag, n] if flag == "--rounds" => match n.parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("write_floor: --rounds takes a number");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: write_floor CACHE_DIR [--rounds N]");
            return ExitCode::from(2);
        }
    };
    let cache = PathBuf::from(&cache_dir).join("registry.redb");
    let rows = match read_rows(&cache) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("write_floor: {}: {e}", cache.display());
            return ExitCode::FAILURE;
        }
    };
    let scratch = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("write_floor: cannot make a scratch directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = scratch.path().join("floor.redb");
    let walk_order = shuffled(rows.runs.len());
    for round in 0..rounds {
        for (name, order) in [
            ("key_order", None),
            ("walk_order", Some(walk_order.as_slice())),
        ] {
            match write(&rows, &target, order) {
                Ok((inserted, committed)) => println!(
                    "{{\"round\":{round},\"order\":\"{name}\",\"runs\":{},\"files\":{},\"dirs\":{},\"insert_s\":{:.3},\"commit_s\":{:.3},\"total_s\":{:.3}}}",
                    rows.runs.len(),
                    rows.files.len(),
                    rows.dirs.len(),
                    inserted.as_secs_f64(),
                    committed.as_secs_f64(),
                    (inserted + committed).as_secs_f64()
                ),
                Err(e) => {
                    eprintln!("write_floor: {}: {e}", target.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
