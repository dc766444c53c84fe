//! [`Live`]: one registry shared by every viewer, kept current by at most
//! one incremental scan per interval.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use runreg::{Registry, RegistryBuilder, ScanMode};

/// The registry the page reads, and the scanner that refreshes it.
///
/// A request that finds the last scan older than the interval runs the next
/// one; requests that come meanwhile do not wait for it, they read the cache
/// as it is (the cache's lock keeps each read whole). So a hundred viewers
/// polling every few seconds cost one scan per interval.
#[derive(Debug)]
pub struct Live {
    registry: Registry,
    /// `None` with `--no-scan`: the cache is read as it is.
    scanner: Option<Mutex<Registry>>,
    interval: Duration,
    last: Mutex<LastScan>,
}

/// When the last scan ended, and how.
#[derive(Clone, Debug)]
pub struct LastScan {
    /// When it ended.
    pub at: Instant,
    /// Epoch seconds when it ended.
    pub at_epoch: f64,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl Live {
    /// Opens the registry `builder` describes; unless `scan` is false, scans
    /// first and then at most once per `interval`.
    ///
    /// # Errors
    ///
    /// Those of [`RegistryBuilder::open`].
    pub fn open(builder: RegistryBuilder, scan: bool, interval: Duration) -> runreg::Result<Live> {
        let scanner = if scan {
            Some(Mutex::new(
                builder.clone().scan(true).scan_ttl(Duration::ZERO).open()?,
            ))
        } else {
            None
        };
        let registry = builder.scan(false).open()?;
        Ok(Live {
            registry,
            scanner,
            interval,
            last: Mutex::new(LastScan {
                at: Instant::now(),
                at_epoch: epoch_now(),
                error: None,
            }),
        })
    }

    /// The registry, after a scan if one is due and no other request is
    /// running it.
    pub fn registry(&self) -> &Registry {
        self.refresh();
        &self.registry
    }

    /// The registry as it is, without a scan.
    pub fn registry_now(&self) -> &Registry {
        &self.registry
    }

    /// How the last scan went.
    pub fn last_scan(&self) -> LastScan {
        self.last.lock().clone()
    }

    /// The scan interval; `None` when the server does not scan.
    pub fn interval(&self) -> Option<Duration> {
        self.scanner.as_ref().map(|_| self.interval)
    }

    fn refresh(&self) {
        let Some(scanner) = &self.scanner else {
            return;
        };
        if self.last.lock().at.elapsed() < self.interval {
            return;
        }
        // Another request is scanning: read what the cache holds now.
        let Some(mut scanner) = scanner.try_lock() else {
            return;
        };
        if self.last.lock().at.elapsed() < self.interval {
            return;
        }
        let error = scanner
            .scan(ScanMode::Incremental)
            .err()
            .map(|e| e.to_string());
        *self.last.lock() = LastScan {
            at: Instant::now(),
            at_epoch: epoch_now(),
            error,
        };
    }
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
