//! [`Live`]: one registry shared by every viewer, kept current by at most
//! one incremental scan per interval, run beside the requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use runreg::{Registry, RegistryBuilder, ScanMode};

/// The registry the page reads, and the scanner that refreshes it.
///
/// A poll of the status that finds a scan due starts it on a thread of its
/// own and goes on reading the cache as it is (the cache's lock keeps each
/// read whole); so do the requests that come while it runs. So a hundred viewers
/// polling every few seconds cost one scan per interval, and no request
/// waits for one. The interval stretches to twice the last scan's length
/// (a big tree's scan takes a second or more): scanning never takes more
/// than a third of the time.
#[derive(Debug)]
pub struct Live {
    registry: Registry,
    /// `None` with `--no-scan`: the cache is read as it is.
    scanner: Option<Arc<Scanner>>,
}

#[derive(Debug)]
struct Scanner {
    registry: Mutex<Registry>,
    interval: Duration,
    running: AtomicBool,
    last: Mutex<LastScan>,
}

/// When the last scan ended, and how.
#[derive(Clone, Debug)]
pub struct LastScan {
    /// When it ended.
    pub at: Instant,
    /// Epoch seconds when it ended.
    pub at_epoch: f64,
    /// How long it took.
    pub took: Duration,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl LastScan {
    fn now(took: Duration, error: Option<String>) -> LastScan {
        LastScan {
            at: Instant::now(),
            at_epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            took,
            error,
        }
    }
}

impl Live {
    /// Opens the registry `builder` describes; unless `scan` is false, scans
    /// first and then at most once per `interval` while requests come.
    ///
    /// # Errors
    ///
    /// Those of [`RegistryBuilder::open`].
    pub fn open(builder: RegistryBuilder, scan: bool, interval: Duration) -> runreg::Result<Live> {
        let scanner = if scan {
            let started = Instant::now();
            let registry = builder.clone().scan(true).scan_ttl(Duration::ZERO).open()?;
            Some(Arc::new(Scanner {
                registry: Mutex::new(registry),
                interval,
                running: AtomicBool::new(false),
                last: Mutex::new(LastScan::now(started.elapsed(), None)),
            }))
        } else {
            None
        };
        let registry = builder.scan(false).open()?;
        Ok(Live { registry, scanner })
    }

    /// The registry, as the last scan left the cache.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, after starting a scan beside this request if one is
    /// due. Only the status the page polls calls this: a viewer's first
    /// rows never share the machine with a scan they started, and the poll
    /// every few seconds keeps the answers current while the page is open.
    pub fn poll(&self) -> &Registry {
        if let Some(scanner) = &self.scanner {
            scanner.start_if_due();
        }
        &self.registry
    }

    /// How the last scan went (`None` when the server does not scan).
    pub fn last_scan(&self) -> Option<LastScan> {
        self.scanner.as_ref().map(|s| s.last.lock().clone())
    }

    /// The scan interval; `None` when the server does not scan.
    pub fn interval(&self) -> Option<Duration> {
        self.scanner.as_ref().map(|s| s.interval)
    }
}

impl Scanner {
    fn start_if_due(self: &Arc<Scanner>) {
        let due = {
            let last = self.last.lock();
            last.at.elapsed() >= self.interval.max(last.took * 2)
        };
        // One scan at a time: whoever flips `running` starts it.
        if !due || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let scanner = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("runreg-ui-scan".into())
            .spawn(move || {
                let mut registry = scanner.registry.lock();
                let started = Instant::now();
                let error = registry
                    .scan(ScanMode::Incremental)
                    .err()
                    .map(|e| e.to_string());
                *scanner.last.lock() = LastScan::now(started.elapsed(), error);
                scanner.running.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.running.store(false, Ordering::Release);
        }
    }
}
