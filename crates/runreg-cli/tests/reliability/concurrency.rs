//! Item 1: many processes at once. Sixteen `runreg ls --json` loop while
//! another process creates 1,000 runs with the writer: every command exits
//! 0, every listing is a consistent snapshot, and a final scan sees all
//! 1,000. Sixteen readers looping never keep a waiting scan out (issue 13,
//! item 6).

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use runreg::{Registry, RunOptions, RunWriter, Status, Value};

use crate::common::Tree;
use crate::support::{
    Outcome, figure, get, items, parse, run, runreg, scan_report, text, write_runs,
};

/// Where the helper process writes its runs (set only for it).
const WRITER_ENV: &str = "RUNREG_RELIABILITY_WRITE_MANY";
const RUNS: usize = 1000;
const READERS: usize = 16;

fn run_id(i: usize) -> String {
    format!("many-{i:04}")
}

fn loss(i: usize) -> f64 {
    1.0 / (i as f64 + 2.0)
}

/// The writer process of `sixteen_readers_while_a_writer_creates_1000_runs`
/// (this test binary started again, running only this function): creates
/// the runs one after the other, as a training script would.
#[test]
#[ignore = "helper process, started by sixteen_readers_while_a_writer_creates_1000_runs"]
fn write_many() {
    let Some(cache_dir) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    for i in 0..RUNS {
        let options = RunOptions::new()
            .run_id(run_id(i))
            .tag("many")
            .hparam("i", i as i64)
            .notes(format!("run {i} of {RUNS}"))
            .slurm_sweep_tag(false);
        let run = RunWriter::create(&cache_dir, options).unwrap();
        run.log_metrics(1, [("loss", loss(i))]).unwrap();
        run.finish(Status::Completed).unwrap();
    }
    println!("wrote {RUNS} runs");
}

/// Checks that `record` is a whole run as the writer wrote it at some
/// moment: its creation fields all there, and a completed run with its
/// final summary and end time. Returns the run's number.
fn check_complete(record: &Value) -> usize {
    let id = text(get(record, "run_id"));
    let i: usize = id
        .strip_prefix("many-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected run {id}"));
    assert!(i < RUNS, "{record:?}");
    let tags = items(get(record, "tags"));
    assert_eq!(tags, [Value::from("many")], "{record:?}");
    let hparams = get(record, "hparams");
    assert!(
        matches!(hparams, Value::Map(h) if h.len() == 1 && matches!(h[0], (ref k, Value::Int(n)) if k == "i" && n == i as i64)),
        "{record:?}"
    );
    assert_eq!(text(get(record, "notes")), format!("run {i} of {RUNS}"));
    assert!(text(get(record, "run_dir")).ends_with(id), "{record:?}");
    let loss_logged = get(get(record, "summary"), "loss").as_f64();
    match text(get(record, "status")) {
        "completed" => {
            assert_eq!(loss_logged, Some(loss(i)), "{record:?}");
            assert!(get(record, "ended_at").as_f64().is_some(), "{record:?}");
        }
        "running" => assert!(loss_logged.is_none_or(|l| l == loss(i)), "{record:?}"),
        other => panic!("status {other}: {record:?}"),
    }
    i
}

/// Lists the runs, checks the listing, returns how many runs it held.
fn list_and_check(cache_dir: &Path) -> (usize, Duration) {
    let out = run(runreg(cache_dir).args(["ls", "--json"]));
    assert_eq!(out.code, Some(0), "ls --json failed: {out:?}");
    assert_eq!(out.stderr, "", "ls --json wrote to stderr");
    let listing = parse(&out.stdout);
    let records = items(&listing);
    let mut seen = vec![false; RUNS];
    for record in records {
        let i = check_complete(record);
        assert!(!seen[i], "run {i} listed twice");
        seen[i] = true;
    }
    (records.len(), out.elapsed)
}

#[test]
fn sixteen_readers_while_a_writer_creates_1000_runs() {
    let tree = Tree::new();
    let cache_dir = tree.cache_dir().to_path_buf();
    scan_report(&cache_dir, false);

    let started = Instant::now();
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "concurrency::write_many",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(WRITER_ENV, &cache_dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let done = AtomicBool::new(false);
    let in_flight = AtomicUsize::new(0);
    let most_in_flight = AtomicUsize::new(0);
    let commands = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..READERS {
            scope.spawn(|| {
                let mut last = 0;
                loop {
                    // Read before listing: one more listing after the
                    // writer is done.
                    let finished = done.load(Ordering::SeqCst);
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most_in_flight.fetch_max(now, Ordering::SeqCst);
                    let (count, elapsed) = list_and_check(&cache_dir);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    commands.fetch_add(1, Ordering::SeqCst);
                    latencies.lock().unwrap().push(elapsed);
                    // Runs are only ever added, and each listing follows a
                    // scan at least as recent as the previous one's.
                    assert!(
                        count >= last,
                        "a listing of {count} runs after one of {last}"
                    );
                    last = count;
                    if finished {
                        break;
                    }
                }
            });
        }
        let status = writer.wait().unwrap();
        done.store(true, Ordering::SeqCst);
        assert!(status.success(), "the writer failed: {status}");
    });
    let mut helper_out = String::new();
    std::io::Read::read_to_string(&mut writer.stdout.take().unwrap(), &mut helper_out).unwrap();
    assert!(
        helper_out.contains(&format!("wrote {RUNS} runs")),
        "the writer did not run: {helper_out}"
    );

    let report = scan_report(&cache_dir, true);
    assert_eq!(report["total_sidecars"], RUNS, "{report}");
    assert_eq!(report["invalid"], serde_json::json!([]), "{report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    let (count, _) = list_and_check(&cache_dir);
    assert_eq!(count, RUNS);
    let completed =
        run(runreg(&cache_dir).args(["ls", "--status", "completed", "--csv", "-c", "run_id"]))
            .ok("ls --status completed");
    assert_eq!(completed.lines().count(), RUNS + 1, "{completed}");

    figure!(
        "concurrency: runreg processes at once (most seen)",
        "{} readers + 1 writer",
        most_in_flight.load(Ordering::SeqCst)
    );
    figure!(
        "concurrency: ls --json commands, all exit 0",
        "{}",
        commands.load(Ordering::SeqCst)
    );
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64();
    figure!(
        "concurrency: ls --json latency (median / 95th percentile / slowest)",
        "{:.2} s / {:.2} s / {:.2} s",
        at(0.5),
        at(0.95),
        at(1.0)
    );
    figure!(
        "concurrency: runs written / listed at the end (lost)",
        "{RUNS} / {count} ({})",
        RUNS - count
    );
    figure!(
        "concurrency: wall time",
        "{:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_held_cache_is_waited_for_then_reported_busy() {
    let tree = Tree::new();
    for i in 0..3 {
        tree.run(&format!("r{i}")).write();
    }
    let cache_dir = tree.cache_dir().to_path_buf();
    scan_report(&cache_dir, false);
    let lock = File::options()
        .read(true)
        .write(true)
        .open(cache_dir.join("registry.redb.lock"))
        .unwrap();

    // Held by a scanner: readers share nothing with it.
    lock.lock().unwrap();
    let t = Instant::now();
    let err = Registry::builder(&cache_dir)
        .lock_timeout(Duration::from_millis(300))
        .open()
        .unwrap_err();
    let waited = t.elapsed();
    assert!(matches!(err, runreg::Error::Busy { .. }), "{err}");
    assert!(err.to_string().starts_with("registry busy: "), "{err}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The command line waits (30 s by default) and goes on once it is free.
    let mut ls = runreg(&cache_dir)
        .args(["ls", "--csv", "-c", "run_id"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1000));
    assert!(ls.try_wait().unwrap().is_none(), "ls did not wait");
    lock.unlock().unwrap();
    let out = ls.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 4);

    // Held by a reader: other readers go on at once.
    lock.lock_shared().unwrap();
    let out = run(runreg(&cache_dir).args(["--no-scan", "ls", "--csv", "-c", "run_id"]));
    let elapsed = out.elapsed;
    assert_eq!(out.ok("a read beside a reader").lines().count(), 4);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    lock.unlock().unwrap();
    figure!(
        "concurrency: cache held by another process",
        "waited for, then Error::Busy \"registry busy\" after the timeout ({:.2} s for a 0.3 s timeout)",
        waited.as_secs_f64()
    );
}

/// Issue 13 item 6: flock has no queue, so sixteen readers taking turns on
/// the shared lock could keep a scan waiting for the exclusive one most of
/// its timeout (11 s of 30 s). A waiting scan now closes the turnstile to
/// readers that come after it: each scan gets in well before its timeout,
/// and every reader still succeeds.
#[test]
fn a_waiting_scan_gets_in_ahead_of_sixteen_looping_readers() {
    const FAIR_RUNS: usize = 300;
    /// Readers loop this long before the first scan, so that it waits.
    const RAMP_UP: Duration = Duration::from_secs(2);
    /// No scan starts after this: the test stops by itself, well within 40 s.
    const LAST_SCAN: Duration = Duration::from_secs(18);
    /// A starved scan fails with "registry busy" after this (its timeout).
    const SCAN_LOCK_TIMEOUT: &str = "10";
    /// A scan that took longer waited for readers that came after it.
    const BOUND: Duration = Duration::from_secs(5);

    let tree = Tree::new();
    let cache_dir = tree.cache_dir().to_path_buf();
    write_runs(&cache_dir, FAIR_RUNS);
    scan_report(&cache_dir, false);
    let alone = run(runreg(&cache_dir).args(["scan", "--full", "--json"]));
    let alone_elapsed = alone.elapsed;
    alone.ok("scan --full alone");

    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let readers_failed = Mutex::new(Vec::<Outcome>::new());
    let latencies = Mutex::new(Vec::new());
    let scans = thread::scope(|scope| {
        for _ in 0..READERS {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    // --no-scan: the readers only read, never scan.
                    let out =
                        run(runreg(&cache_dir).args(["--no-scan", "ls", "--csv", "-c", "run_id"]));
                    latencies.lock().unwrap().push(out.elapsed);
                    if out.code != Some(0) || out.stdout.lines().count() != FAIR_RUNS + 1 {
                        readers_failed.lock().unwrap().push(out);
                    }
                }
            });
        }
        // Nothing here may panic before `stop` is set: the readers would
        // loop on and the scope never end.
        thread::sleep(RAMP_UP);
        let mut scans = Vec::new();
        while started.elapsed() < LAST_SCAN {
            scans.push(run(runreg(&cache_dir).args([
                "--lock-timeout",
                SCAN_LOCK_TIMEOUT,
                "scan",
                "--full",
                "--json",
            ])));
        }
        stop.store(true, Ordering::SeqCst);
        scans
    });
    let wall = started.elapsed();

    let failed = readers_failed.into_inner().unwrap();
    let latencies = latencies.into_inner().unwrap();
    assert_eq!(failed.len(), 0, "readers failed: {failed:?}");
    let slowest_reader = latencies.iter().max().copied().unwrap_or_default();
    let mut elapsed: Vec<Duration> = scans.iter().map(|s| s.elapsed).collect();
    elapsed.sort();
    let median = elapsed.get(elapsed.len() / 2).copied().unwrap_or_default();
    let slowest_scan = elapsed.last().copied().unwrap_or_default();
    figure!(
        "concurrency: scan --full of 300 runs alone / beside 16 looping readers (median, slowest)",
        "{:.2} s / {} scans back to back: {:.2} s, {:.2} s",
        alone_elapsed.as_secs_f64(),
        scans.len(),
        median.as_secs_f64(),
        slowest_scan.as_secs_f64()
    );
    figure!(
        "concurrency: --no-scan ls beside the scans, all exit 0 (slowest)",
        "{} ({:.2} s)",
        latencies.len(),
        slowest_reader.as_secs_f64()
    );
    figure!(
        "concurrency: fair-lock test wall time",
        "{:.1} s",
        wall.as_secs_f64()
    );
    for scan in scans {
        let what = format!(
            "a scan beside 16 readers ({:.2} s)",
            scan.elapsed.as_secs_f64()
        );
        let elapsed = scan.elapsed;
        let report = scan.ok(&what);
        assert!(report.contains("total_sidecars"), "{what}: {report}");
        assert!(
            elapsed < BOUND,
            "{what}: waited for readers that came after it"
        );
    }
}
