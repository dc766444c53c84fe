//! The query rules (docs/FORMAT.md §5; issue #2), and the reference's query
//! defects (docs/FORMAT.md §6, defects 1-4 and 8) not repeated.

mod common;

use std::fs;
use std::time::Duration;

use common::Tree;
use runreg::{Error, Field, Query, Registry, SortSpec, Status, Value};

fn open(tree: &Tree) -> Registry {
    Registry::open(tree.cache_dir()).unwrap()
}

fn ids(runs: &[runreg::RunRecord]) -> Vec<&str> {
    runs.iter().map(|r| r.run_id.as_str()).collect()
}

fn key(text: &str) -> Field {
    text.parse().unwrap()
}

#[test]
fn one_nan_does_not_break_metric_sorts_and_sorts_last() {
    // Defect 1: the reference fails with "malformed JSON" on any NaN.
    let tree = Tree::new();
    tree.run("diverged").metric("train_loss", f64::NAN).write();
    tree.run("low").metric("train_loss", 0.1).write();
    tree.run("high").metric("train_loss", 0.9).write();
    let reg = open(&tree);
    let desc = reg
        .query(&Query::new().sort(SortSpec::desc(key("summary.train_loss"))))
        .unwrap();
    assert_eq!(ids(&desc), ["high", "low", "diverged"]);
    let asc = reg
        .query(&Query::new().sort(SortSpec::asc(key("summary.train_loss"))))
        .unwrap();
    assert_eq!(ids(&asc), ["low", "high", "diverged"]);
    assert!(asc[2].summary["train_loss"].as_f64().unwrap().is_nan());
}

#[test]
fn missing_values_sort_last_in_both_directions() {
    // Defect 2: the reference puts NULL first when ascending.
    let tree = Tree::new();
    for i in 0..6 {
        tree.run(&format!("none{i}"))
            .status(Status::Completed)
            .write();
    }
    tree.run("b")
        .status(Status::Completed)
        .metric("train_loss", 0.2)
        .write();
    tree.run("a")
        .status(Status::Completed)
        .metric("train_loss", 0.1)
        .write();
    let reg = open(&tree);
    let best = reg
        .query(
            &Query::new()
                .status(Status::Completed)
                .sort(SortSpec::asc(key("summary.train_loss")))
                .limit(5),
        )
        .unwrap();
    assert_eq!(ids(&best)[..2], ["a", "b"]);
    assert_eq!(best.len(), 5);
    let desc = reg
        .query(
            &Query::new()
                .sort(SortSpec::desc(key("summary.train_loss")))
                .limit(2),
        )
        .unwrap();
    assert_eq!(ids(&desc), ["b", "a"]);
}

#[test]
fn limit_applies_after_the_hparams_filter() {
    // Defect 3: the reference limits in SQL, then filters.
    let tree = Tree::new();
    for i in 0..20 {
        let lr = if i % 4 == 0 { 0.1 } else { 0.01 };
        tree.run(&format!("r{i:02}"))
            .hparam("optim.lr", lr)
            .created(1000.0 + f64::from(i))
            .write();
    }
    let reg = open(&tree);
    let runs = reg
        .query(&Query::new().hparam("optim.lr", 0.1).limit(3))
        .unwrap();
    assert_eq!(ids(&runs), ["r16", "r12", "r08"]);
    let all = reg
        .query(&Query::new().hparam("optim.lr", 0.1).limit(50))
        .unwrap();
    assert_eq!(all.len(), 5);
}

#[test]
fn tags_match_exactly_without_wildcards() {
    // Defect 4: LIKE made `_` and `%` wildcards.
    let tree = Tree::new();
    tree.run("underscore").tag("a_b").write();
    tree.run("other").tag("axb").write();
    tree.run("percent").tag("100%").write();
    tree.run("prefix").tag("a_bc").write();
    let reg = open(&tree);
    assert_eq!(
        ids(&reg.query(&Query::new().tag("a_b")).unwrap()),
        ["underscore"]
    );
    assert_eq!(
        ids(&reg.query(&Query::new().tag("100%")).unwrap()),
        ["percent"]
    );
    assert!(reg.query(&Query::new().tag("%")).unwrap().is_empty());
    assert!(reg.query(&Query::new().tag("a")).unwrap().is_empty());
}

#[test]
fn dotted_keys_sort_as_one_flattened_key() {
    // Defect 8: the reference looked for a nested `optim` object.
    let tree = Tree::new();
    tree.run("mid")
        .hparam("optim.lr", 0.01)
        .metric("val.acc", 0.5)
        .write();
    tree.run("big")
        .hparam("optim.lr", 0.1)
        .metric("val.acc", 0.2)
        .write();
    tree.run("small")
        .hparam("optim.lr", 0.001)
        .metric("val.acc", 0.9)
        .write();
    let reg = open(&tree);
    let by_lr = reg
        .query(&Query::new().sort(SortSpec::desc(key("hparams.optim.lr"))))
        .unwrap();
    assert_eq!(ids(&by_lr), ["big", "mid", "small"]);
    let by_acc = reg
        .query(&Query::new().sort(SortSpec::asc(key("summary.val.acc"))))
        .unwrap();
    assert_eq!(ids(&by_acc), ["big", "mid", "small"]);
}

#[test]
fn config_keys_reach_into_nested_objects() {
    let tree = Tree::new();
    let optim = |lr: f64| Value::Map(vec![("lr".into(), Value::Float(lr))]);
    tree.run("a").config("optim", optim(0.3)).write();
    tree.run("b").config("optim", optim(0.2)).write();
    tree.run("c").write();
    let reg = open(&tree);
    let runs = reg
        .query(&Query::new().sort(SortSpec::asc(key("config.optim.lr"))))
        .unwrap();
    assert_eq!(ids(&runs), ["b", "a", "c"]);
}

#[test]
fn ties_are_broken_by_run_id_ascending() {
    let tree = Tree::new();
    for id in ["c", "a", "d", "b"] {
        tree.run(id).metric("acc", 0.5).write();
    }
    let reg = open(&tree);
    for spec in [
        SortSpec::desc(key("summary.acc")),
        SortSpec::asc(key("summary.acc")),
    ] {
        assert_eq!(
            ids(&reg.query(&Query::new().sort(spec)).unwrap()),
            ["a", "b", "c", "d"]
        );
    }
}

#[test]
fn without_a_sort_key_the_newest_come_first() {
    let tree = Tree::new();
    tree.run("old").created(100.0).write();
    tree.run("new").created(300.0).write();
    tree.run("mid").created(200.0).write();
    let reg = open(&tree);
    assert_eq!(
        ids(&reg.query(&Query::new()).unwrap()),
        ["new", "mid", "old"]
    );
}

#[test]
fn columns_sort_too() {
    let tree = Tree::new();
    tree.run("x").status(Status::Running).created(3.0).write();
    tree.run("y").status(Status::Completed).created(1.0).write();
    tree.run("z").status(Status::Failed).created(2.0).write();
    let reg = open(&tree);
    let by = |k: &str| {
        ids(&reg
            .query(&Query::new().sort(SortSpec::asc(key(k))))
            .unwrap())
        .join(",")
    };
    assert_eq!(by("created_at"), "y,z,x");
    assert_eq!(by("status"), "y,z,x");
    assert_eq!(by("run_id"), "x,y,z");
    assert_eq!(by("ended_at"), "x,y,z", "all missing: run_id order");
}

#[test]
fn sorting_across_types_puts_numbers_then_strings_then_booleans() {
    let tree = Tree::new();
    tree.run("bool").hparam("k", true).write();
    tree.run("str").hparam("k", "abc").write();
    tree.run("int").hparam("k", 5i64).write();
    tree.run("float").hparam("k", 2.5).write();
    tree.run("none").write();
    let reg = open(&tree);
    let runs = reg
        .query(&Query::new().sort(SortSpec::asc(key("hparams.k"))))
        .unwrap();
    assert_eq!(ids(&runs), ["float", "int", "str", "bool", "none"]);
}

#[test]
fn offset_pages_through_the_sorted_result() {
    let tree = Tree::new();
    for i in 0..7 {
        tree.run(&format!("r{i}")).metric("m", f64::from(i)).write();
    }
    let reg = open(&tree);
    let page = |offset| {
        let q = Query::new()
            .sort(SortSpec::desc(key("summary.m")))
            .offset(offset)
            .limit(3);
        ids(&reg.query(&q).unwrap()).join(",")
    };
    assert_eq!(page(0), "r6,r5,r4");
    assert_eq!(page(3), "r3,r2,r1");
    assert_eq!(page(6), "r0");
    assert_eq!(page(9), "");
}

#[test]
fn hparam_equality_is_numeric_aware_and_and_ed() {
    let tree = Tree::new();
    tree.run("int")
        .hparam("batch_size", 256i64)
        .hparam("amp", true)
        .write();
    tree.run("float")
        .hparam("batch_size", 256.0)
        .hparam("amp", false)
        .write();
    tree.run("string").hparam("batch_size", "256").write();
    let reg = open(&tree);
    let by = |q: Query| {
        let mut v: Vec<String> = reg
            .query(&q)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(by(Query::new().hparam("batch_size", 256i64)), "float,int");
    assert_eq!(by(Query::new().hparam("batch_size", 256.0)), "float,int");
    assert_eq!(by(Query::new().hparam("batch_size", "256")), "string");
    assert_eq!(
        by(Query::new()
            .hparam("batch_size", 256i64)
            .hparam("amp", true)),
        "int"
    );
    assert_eq!(
        by(Query::new().hparam("amp", 1i64)),
        "",
        "a bool is not a number"
    );
}

#[test]
fn status_alive_and_tag_filters_combine() {
    let tree = Tree::new();
    tree.run("live").tag("sweep:1").heartbeat(1.0).write();
    tree.run("stale").tag("sweep:1").heartbeat(9999.0).write();
    tree.run("done")
        .tag("sweep:1")
        .status(Status::Completed)
        .heartbeat(1.0)
        .write();
    tree.run("other").tag("sweep:2").heartbeat(1.0).write();
    let reg = open(&tree);
    let by = |q: Query| {
        let mut v: Vec<String> = reg
            .query(&q)
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(by(Query::new().tag("sweep:1").alive(true)), "live");
    assert_eq!(by(Query::new().tag("sweep:1").alive(false)), "done,stale");
    assert_eq!(
        by(Query::new().tag("sweep:1").status(Status::Running)),
        "live,stale"
    );
    assert_eq!(by(Query::new().status(Status::Completed)), "done");
    assert_eq!(by(Query::new().alive(true)), "live,other");
    assert_eq!(by(Query::new().tag("sweep:3")), "");
}

#[test]
fn unknown_statuses_are_kept_and_filterable() {
    let tree = Tree::new();
    tree.raw_sidecar("p", r#"{"run_id": "p", "status": "paused"}"#);
    let reg = open(&tree);
    let run = reg.get("p").unwrap().unwrap();
    assert_eq!(run.status.as_str(), "paused");
    let q = Query::new().status(Status::Other("paused".into()));
    assert_eq!(reg.query(&q).unwrap().len(), 1);
}

#[test]
fn get_is_a_point_lookup_and_len_counts_runs() {
    let tree = Tree::new();
    tree.run("a")
        .tag("t")
        .hparam("x", 1i64)
        .metric("m", 0.5)
        .notes("hello")
        .write();
    tree.run("b").write();
    let reg = open(&tree);
    assert_eq!(reg.len().unwrap(), 2);
    assert!(!reg.is_empty().unwrap());
    assert!(reg.get("nope").unwrap().is_none());
    let a = reg.get("a").unwrap().unwrap();
    assert_eq!(
        (a.tags.as_slice(), a.notes.as_str()),
        (&["t".to_owned()][..], "hello")
    );
    assert_eq!(a.hparams["x"], Value::Int(1));
    assert_eq!(a.summary["m"], Value::Float(0.5));
}

#[test]
fn opening_twice_within_the_ttl_scans_once() {
    let tree = Tree::new();
    tree.run("a").write();
    let first = Registry::open(tree.cache_dir()).unwrap();
    assert!(first.last_scan().is_some());
    tree.run("b").write();
    let second = Registry::open(tree.cache_dir()).unwrap();
    assert!(second.last_scan().is_none(), "within the TTL: no scan");
    assert!(second.get("b").unwrap().is_none());
    let third = Registry::builder(tree.cache_dir())
        .scan_ttl(Duration::ZERO)
        .open()
        .unwrap();
    assert!(third.get("b").unwrap().is_some());
}

#[test]
fn without_scan_the_cache_answers_as_it_is() {
    let tree = Tree::new();
    tree.run("a").write();
    Registry::open(tree.cache_dir()).unwrap();
    tree.run("b").write();
    let reg = Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap();
    assert_eq!(reg.len().unwrap(), 1);
}

#[test]
fn a_missing_cache_dir_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Registry::open(&missing).unwrap_err();
    assert!(matches!(err, Error::CacheDirMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"));
    assert!(!missing.exists());
}

#[test]
fn querying_an_unbuilt_cache_without_scan_is_no_cache() {
    let tree = Tree::new();
    let reg = Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap();
    let err = reg.query(&Query::new()).unwrap_err();
    assert!(
        matches!(&err, Error::NoCache { path } if path == reg.db_path()),
        "{err:?}"
    );
}

#[test]
fn records_carry_every_sidecar_field() {
    let tree = Tree::new();
    tree.raw_sidecar(
        "20261101/120000/full",
        r#"{
  "schema_version": 1,
  "run_id": "full",
  "run_dir": "/somewhere/else",
  "status": "completed",
  "created_at": 1700000000.25,
  "ended_at": 1700003600.5,
  "updated_at": 1700003601.0,
  "tags": ["resnet50", "sweep:12345"],
  "notes": "caf\u00e9",
  "hparams": {"optim.lr": 0.1, "layers.0": 64, "name": "r50", "amp": true, "extra": null},
  "summary": {"val_acc": 0.91, "train_loss": Infinity, "neg": -Infinity},
  "checkpoint_path": "/ckpt/last.ckpt",
  "config": {"trainer": {"max_epochs": 90}}
}"#,
    );
    let reg = open(&tree);
    let r = reg.get("full").unwrap().unwrap();
    assert_eq!(r.status, Status::Completed);
    assert_eq!(
        (r.created_at, r.ended_at, r.updated_at),
        (1700000000.25, Some(1700003600.5), 1700003601.0)
    );
    assert_eq!(r.tags, ["resnet50", "sweep:12345"]);
    assert_eq!(r.notes, "café");
    assert_eq!(r.hparams["layers.0"], Value::Int(64));
    assert_eq!(r.hparams["name"], Value::Str("r50".into()));
    assert_eq!(r.hparams["amp"], Value::Bool(true));
    assert_eq!(r.hparams["extra"], Value::Null);
    assert_eq!(r.summary["train_loss"], Value::Float(f64::INFINITY));
    assert_eq!(r.summary["neg"], Value::Float(f64::NEG_INFINITY));
    assert_eq!(r.checkpoint_path.as_deref(), Some("/ckpt/last.ckpt"));
    assert!(
        r.run_dir.ends_with("runs/20261101/120000/full"),
        "{}",
        r.run_dir
    );
    assert_eq!(
        serde_json::to_value(&r.config).unwrap(),
        serde_json::json!({"trainer": {"max_epochs": 90}})
    );
    assert!(fs::metadata(tree.cache_dir().join("registry.redb")).is_ok());
}

#[test]
fn run_ids_can_be_found_by_prefix() {
    let tree = Tree::new();
    for id in ["7f3a01", "7f3a02", "7f4b00", "8000"] {
        tree.run(id).write();
    }
    let reg = open(&tree);
    assert_eq!(
        reg.run_ids_starting_with("7f3a", 10).unwrap(),
        ["7f3a01", "7f3a02"]
    );
    assert_eq!(
        reg.run_ids_starting_with("7f", 2).unwrap(),
        ["7f3a01", "7f3a02"]
    );
    assert_eq!(reg.run_ids_starting_with("8", 10).unwrap(), ["8000"]);
    assert!(reg.run_ids_starting_with("9", 10).unwrap().is_empty());
}

#[test]
fn tags_are_counted_from_the_index() {
    let tree = Tree::new();
    tree.run("a").tag("sweep:1").tag("resnet").write();
    tree.run("b").tag("sweep:1").write();
    tree.run("c").tag("sweep:2").write();
    let reg = open(&tree);
    let tags = reg.tags().unwrap();
    assert_eq!(
        tags,
        [
            ("resnet".to_owned(), 1),
            ("sweep:1".to_owned(), 2),
            ("sweep:2".to_owned(), 1)
        ]
    );
    assert!(reg.check().unwrap().is_empty());
}

#[test]
fn orphans_can_be_removed_from_the_cache_only() {
    let tree = Tree::new();
    let gone = tree.run("gone").write();
    tree.run("kept").write();
    let reg = open(&tree);
    let moved = tree.cache_dir().join("moved-away");
    fs::rename(&gone, &moved).unwrap();
    let reg = Registry::builder(reg.cache_dir())
        .scan_ttl(Duration::ZERO)
        .open()
        .unwrap();
    assert_eq!(reg.remove_orphans(true).unwrap(), ["gone"]);
    assert_eq!(reg.len().unwrap(), 2, "a dry run removes nothing");
    assert_eq!(reg.remove_orphans(false).unwrap(), ["gone"]);
    assert_eq!(reg.len().unwrap(), 1);
    assert!(
        moved.join("sidecar.json").exists(),
        "run directories are never touched"
    );
    assert!(reg.check().unwrap().is_empty());
}

#[test]
fn scans_report_progress() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let tree = Tree::new();
    for i in 0..1100 {
        tree.run(&format!("r{i:04}")).write();
    }
    let walking = Arc::new(AtomicUsize::new(0));
    let reading = Arc::new(AtomicUsize::new(0));
    let (w, r) = (walking.clone(), reading.clone());
    Registry::builder(tree.cache_dir())
        .on_progress(move |p| {
            if p.walking {
                w.fetch_max(p.found, Ordering::SeqCst);
            } else {
                assert_eq!(p.found, 1100);
                r.fetch_max(p.processed, Ordering::SeqCst);
            }
        })
        .open()
        .unwrap();
    assert_eq!(walking.load(Ordering::SeqCst), 1024);
    assert_eq!(reading.load(Ordering::SeqCst), 1024);
}

#[test]
fn runs_kept_between_snapshots_are_never_served_stale() {
    // `get` keeps the records it read while the cache is unchanged; any
    // write, by this registry or another process, must be seen at once.
    let tree = Tree::new();
    let dir = tree.run("a").metric("val_acc", 0.5).write();
    let rel = dir
        .strip_prefix(tree.runs())
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let reader = Registry::builder(tree.cache_dir())
        .scan(true)
        .open()
        .unwrap();
    let val_acc = |reg: &Registry| reg.get("a").unwrap().unwrap().summary["val_acc"].clone();
    assert_eq!(val_acc(&reader), Value::Float(0.5));
    assert_eq!(
        reader
            .read(|s| Ok(s.get("a")?.unwrap().summary["val_acc"].clone()))
            .unwrap(),
        Value::Float(0.5)
    );

    // Another registry (as another process would) rescans a rewritten run.
    tree.run("a").at(&rel).metric("val_acc", 0.75).write();
    let mut writer = Registry::builder(tree.cache_dir())
        .scan(false)
        .open()
        .unwrap();
    assert_eq!(
        writer.scan(runreg::ScanMode::Incremental).unwrap().upserted,
        1
    );
    assert_eq!(val_acc(&reader), Value::Float(0.75));
    assert_eq!(
        reader
            .read(|s| Ok(s.get("a")?.unwrap().summary["val_acc"].clone()))
            .unwrap(),
        Value::Float(0.75)
    );

    // And the run gone from the cache is gone for the reader too.
    fs::remove_dir_all(&dir).unwrap();
    writer.scan(runreg::ScanMode::Incremental).unwrap();
    assert_eq!(writer.remove_orphans(false).unwrap(), ["a"]);
    assert!(reader.get("a").unwrap().is_none());
}

#[test]
fn a_stream_gives_every_chunk_in_order_and_stops_at_the_first_failed_visit() {
    let tree = Tree::new();
    for i in 0..7 {
        tree.run(&format!("r{i}")).write();
    }
    let reg = open(&tree);
    let by_id = Query::new().sort(SortSpec::asc(key("run_id")));
    let whole = ids(&reg.query(&by_id).unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    for chunk in [1, 2, 3, 7, 100] {
        let mut seen = Vec::new();
        let count = reg
            .stream(&by_id, chunk, |runs| {
                assert!(runs.len() <= chunk);
                seen.extend(runs.into_iter().map(|r| r.run_id));
                Ok(())
            })
            .unwrap();
        assert_eq!((count, &seen), (7, &whole), "chunks of {chunk}");
    }
    // A visit that fails ends the stream with its error; no chunk comes after.
    let mut visits = 0;
    let failed = reg.stream(&by_id, 2, |_| {
        visits += 1;
        if visits == 2 {
            return Err(Error::Internal {
                path: "visit".into(),
                reason: "stop".into(),
            });
        }
        Ok(())
    });
    assert!(matches!(failed, Err(Error::Internal { .. })), "{failed:?}");
    assert_eq!(visits, 2);
}

#[test]
fn query_counted_pages_and_counts_every_match_before_the_page() {
    let tree = Tree::new();
    for i in 0..7 {
        tree.run(&format!("r{i}"))
            .status(if i % 2 == 0 {
                Status::Completed
            } else {
                Status::Failed
            })
            .metric("val_acc", f64::from(i) / 10.0)
            .write();
    }
    let reg = open(&tree);
    let query = Query::new()
        .status(Status::Completed)
        .sort(SortSpec::desc(key("summary.val_acc")))
        .offset(1)
        .limit(2);
    let (page, total) = reg.query_counted(&query).unwrap();
    assert_eq!(ids(&page), ["r4", "r2"]);
    assert_eq!(total, 4);
    // The page is the one `query` returns.
    assert_eq!(page, reg.query(&query).unwrap());
    let (all, every) = reg.query_counted(&Query::new().limit(0)).unwrap();
    assert_eq!((all.len(), every), (0, 7));
}

#[test]
fn chunks_rendered_on_several_threads_come_in_order_and_the_first_error_ends_them() {
    let tree = Tree::new();
    for i in 0..23 {
        tree.run(&format!("r{i:02}")).write();
    }
    let reg = open(&tree);
    let by_id = Query::new().sort(SortSpec::asc(key("run_id")));
    let whole: Vec<String> = (0..23).map(|i| format!("r{i:02}")).collect();
    let ids_of = |runs: Vec<runreg::RunRecord>| Ok(runs.into_iter().map(|r| r.run_id).collect());
    for threads in [1, 2, 3, 8] {
        for chunk in [1, 4, 23, 50] {
            let mut seen: Vec<String> = Vec::new();
            let count = reg
                .stream_rendered(&by_id, chunk, threads, ids_of, |ids: Vec<String>| {
                    seen.extend(ids);
                    Ok(())
                })
                .unwrap();
            assert_eq!(
                (count, &seen),
                (23, &whole),
                "{threads} threads, chunks of {chunk}"
            );
        }
    }
    // A chunk that cannot be rendered ends the stream with its error, after
    // the chunks before it and none after.
    let render = |runs: Vec<runreg::RunRecord>| {
        if runs.iter().any(|r| r.run_id == "r09") {
            return Err(Error::Internal {
                path: "render".into(),
                reason: "r09".into(),
            });
        }
        Ok(runs.len())
    };
    let mut visited = 0;
    let failed = reg.stream_rendered(&by_id, 4, 3, render, |n| {
        visited += n;
        Ok(())
    });
    assert!(
        matches!(&failed, Err(Error::Internal { reason, .. }) if reason == "r09"),
        "{failed:?}"
    );
    assert_eq!(visited, 8, "the two chunks before r09's");
}

/// `Detail::Summary`: the same runs in the same order as the full answer,
/// each with its hot fields and nothing else, on every path (point lookups
/// for a few runs, one ordered pass decoded on every core for many, pages,
/// streams), and the answer's summary keys without its hparams.
#[test]
fn the_summary_detail_carries_the_hot_fields_of_the_same_answer() {
    use runreg::{Detail, Filter};

    let tree = Tree::new();
    // Enough runs for the dense paths (a cache of 4,096 runs and more).
    for i in 0..4300u32 {
        let mut run = tree
            .run(&format!("r{i:05}"))
            .status(Status::KNOWN[(i % 3) as usize].clone())
            .tag(&format!("t{}", i % 7))
            .hparam("lr", f64::from(i % 5) / 10.0)
            .hparam("optim.name", if i % 2 == 0 { "sgd" } else { "adam" })
            .metric("acc", f64::from(i % 101) / 100.0)
            .config("seed", Value::Int(i64::from(i)))
            .notes("note")
            .created(1.7e9 + f64::from(i * 7919 % 4300));
        if i % 11 == 0 {
            run = run.metric("loss", f64::NAN);
        }
        run.write();
    }
    let reg = open(&tree);
    let queries = [
        Query::new(),
        Query::new().status(Status::Completed),
        Query::new().tag("t3"),
        Query::new()
            .sort(SortSpec::desc(key("summary.acc")))
            .offset(10)
            .limit(2500),
        Query::new().filter(Filter::parse("hparams.lr >= 0.2 and summary.acc < 0.5").unwrap()),
        Query::new().hparam("optim.name", "sgd").limit(3),
    ];
    let emptied = |mut run: runreg::RunRecord| {
        run.hparams = Default::default();
        run.config = Default::default();
        run.run_dir = String::new();
        run.notes = String::new();
        run.checkpoint_path = None;
        run
    };
    for query in queries {
        let summary_query = query.clone().detail(Detail::Summary);
        let full = reg.query(&query).unwrap();
        assert!(!full.is_empty(), "{query:?}");
        assert!(!full[0].hparams.is_empty() && !full[0].run_dir.is_empty());
        // As JSON text, where a NaN equals a NaN.
        let json = |runs: &[runreg::RunRecord]| serde_json::to_string(runs).unwrap();
        let expected: Vec<runreg::RunRecord> = full.into_iter().map(emptied).collect();
        let expected = json(&expected);
        assert_eq!(
            json(&reg.query(&summary_query).unwrap()),
            expected,
            "{query:?}"
        );
        let mut streamed = Vec::new();
        reg.stream_rendered(&summary_query, 1000, 2, Ok, |runs| {
            streamed.extend(runs);
            Ok(())
        })
        .unwrap();
        assert_eq!(json(&streamed), expected, "streamed, {query:?}");

        let keys = reg.answer_keys(&query).unwrap();
        let summary_keys = reg.answer_keys(&summary_query).unwrap();
        assert_eq!(keys.hparams.len(), 2, "{query:?}");
        assert!(summary_keys.hparams.is_empty(), "{query:?}");
        assert_eq!(summary_keys.summary, keys.summary, "{query:?}");
        assert_eq!(summary_keys.statuses, keys.statuses, "{query:?}");
    }
}
