//! Item 2: crashes. A full scan of 20,000 runs is SIGKILLed at 10 random
//! moments; each time the next command succeeds, lists every run, and no
//! lock left behind blocks it.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use runreg::Registry;

use crate::common::Tree;
use crate::support::{Rng, figure, no_panic, run, runreg, scan_report, write_runs};

const RUNS: usize = 20_000;
const KILLS: usize = 10;

/// The run ids `ls --csv -c run_id` prints, sorted; checks it succeeded.
fn list_ids(cache_dir: &std::path::Path) -> (Vec<String>, String, Duration) {
    let out = run(runreg(cache_dir).args(["ls", "--csv", "-c", "run_id"]));
    assert_eq!(out.code, Some(0), "ls after a kill failed: {}", out.stderr);
    no_panic(&out.stderr, "ls after a kill");
    let mut ids: Vec<String> = out.stdout.lines().skip(1).map(str::to_owned).collect();
    ids.sort();
    (ids, out.stderr, out.elapsed)
}

#[test]
fn sigkill_during_full_scans_of_20000_runs_loses_nothing() {
    let tree = Tree::new();
    let cache_dir = tree.cache_dir().to_path_buf();
    let t = Instant::now();
    let expected = write_runs(&cache_dir, RUNS);
    figure!(
        "crashes: tree written",
        "{RUNS} runs in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let report = scan_report(&cache_dir, true);
    assert_eq!(report["upserted"], RUNS, "{report}");
    figure!("crashes: first build", "{:.1} s", t.elapsed().as_secs_f64());
    // The scans to kill re-read everything into a built cache.
    let t = Instant::now();
    let report = scan_report(&cache_dir, true);
    assert_eq!(report["total_sidecars"], RUNS, "{report}");
    let full_scan = t.elapsed();
    figure!(
        "crashes: one full scan of the built cache",
        "{:.1} s",
        full_scan.as_secs_f64()
    );

    let seed = Rng::seed_from_env();
    eprintln!("kill moments drawn with RUNREG_RELIABILITY_SEED={seed}");
    let mut rng = Rng::new(seed);
    let lock = cache_dir.join("registry.redb.lock");
    let (mut kills, mut missed) = (0, 0);
    let mut moments = Vec::new();
    let mut slowest_recovery = Duration::ZERO;
    while kills < KILLS {
        assert!(missed < 3 * KILLS, "scans keep finishing before the kill");
        // Anywhere in the scan: the walk, the reads, the writes, the commit.
        let at = full_scan.mul_f64(0.02 + 0.93 * rng.unit());
        let mut scan = runreg(&cache_dir)
            .args(["scan", "--full"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        thread::sleep(at);
        if scan.try_wait().unwrap().is_some() {
            missed += 1;
            continue;
        }
        scan.kill().unwrap(); // SIGKILL
        let status = scan.wait().unwrap();
        if status.success() {
            // It finished between the check and the kill.
            missed += 1;
            continue;
        }
        assert_eq!(status.signal(), Some(9), "{status}");
        kills += 1;
        moments.push(format!("{:.2}", at.as_secs_f64()));

        // The killed scan's lock file is still there; its lock is not.
        assert!(lock.exists());
        let (ids, stderr, elapsed) = list_ids(&cache_dir);
        assert_eq!(ids.len(), RUNS, "after kill {kills} at {at:?}: {stderr}");
        assert!(
            ids == expected,
            "after kill {kills} at {at:?}: other runs listed"
        );
        // A killed write transaction is rolled back, never a damaged file.
        assert_eq!(stderr, "", "after kill {kills} at {at:?}");
        slowest_recovery = slowest_recovery.max(elapsed);
    }
    let aside: Vec<_> = fs::read_dir(&cache_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.contains(".corrupt-").then_some(name)
        })
        .collect();
    assert_eq!(aside, Vec::<String>::new(), "no cache was moved aside");

    // The cache after all the kills: indexes agree with the records, and a
    // scan finds nothing to redo.
    let registry = Registry::builder(&cache_dir).scan(false).open().unwrap();
    assert_eq!(registry.check().unwrap(), Vec::<String>::new());
    assert_eq!(registry.len().unwrap(), RUNS);
    drop(registry);
    let report = scan_report(&cache_dir, false);
    assert_eq!(report["total_sidecars"], RUNS, "{report}");
    assert_eq!(report["upserted"], 0, "{report}");

    figure!(
        "crashes: full scans SIGKILLed / survived",
        "{kills} / {kills} (seed {seed}; {missed} scans finished before their moment)"
    );
    figure!(
        "crashes: kill moments (s into the scan)",
        "{}",
        moments.join(", ")
    );
    figure!(
        "crashes: slowest next command (ls of every run)",
        "{:.2} s",
        slowest_recovery.as_secs_f64()
    );
    figure!("crashes: runs lost", "0 of {RUNS}");
}
