//! Records read by id, kept between snapshots while the cache is unchanged.
//!
//! Each snapshot opens the cache file anew (a handle left open would block
//! the scanners of other processes), so redb's page cache starts empty
//! every time and a lookup by id costs a read of its page. SQLite keeps its
//! page cache across transactions and checks a change counter in the file
//! at each; this does the same one level up: every write transaction stamps
//! the cache with a new random [`generation`](GENERATION_KEY), and the
//! records remembered here are used only while a snapshot finds the stamp
//! they were read under.
//!
//! Only point lookups fill it (passes over many runs would wash it out),
//! and it holds at most [`MAX_BYTES`] of record bytes: two generations of
//! entries, the older dropped when the newer fills up, so that what is read
//! again and again stays.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustc_hash::FxHashMap;

/// The meta key of the stamp every write transaction changes.
pub(crate) const GENERATION_KEY: &str = "generation";

/// Record bytes kept at most (both halves together).
const MAX_BYTES: usize = 16 << 20;

/// A stamp no other write transaction will draw: random per process, mixed
/// with the time and a counter.
pub(crate) fn new_generation() -> u64 {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Records by run id, valid for one generation of the cache.
#[derive(Debug, Default)]
pub(crate) struct RecordCache {
    /// The generation the entries were read under; `None`: nothing kept.
    generation: Option<u64>,
    recent: Half,
    older: Half,
}

#[derive(Debug, Default)]
struct Half {
    records: FxHashMap<Box<str>, Arc<[u8]>>,
    bytes: usize,
}

impl RecordCache {
    /// Starts a snapshot that found `generation` in the cache: entries of
    /// another generation (or of a cache without one) are dropped.
    pub fn begin(&mut self, generation: Option<u64>) {
        if generation.is_none() || generation != self.generation {
            *self = RecordCache {
                generation,
                ..RecordCache::default()
            };
        }
    }

    /// The stored record of `run_id`, if it was read under this generation.
    pub fn get(&mut self, run_id: &str) -> Option<Arc<[u8]>> {
        self.generation?;
        if let Some(found) = self.recent.records.get(run_id) {
            return Some(Arc::clone(found));
        }
        // Read again: moves to the recent half.
        let (key, bytes) = self.older.records.remove_entry(run_id)?;
        self.older.bytes -= bytes.len();
        self.put(key, Arc::clone(&bytes));
        Some(bytes)
    }

    /// Remembers the stored record of `run_id`, read under this generation.
    pub fn insert(&mut self, run_id: &str, bytes: &[u8]) -> Arc<[u8]> {
        let bytes: Arc<[u8]> = Arc::from(bytes);
        if self.generation.is_some() && bytes.len() <= MAX_BYTES / 4 {
            self.put(run_id.into(), Arc::clone(&bytes));
        }
        bytes
    }

    fn put(&mut self, run_id: Box<str>, bytes: Arc<[u8]>) {
        if self.recent.bytes + bytes.len() > MAX_BYTES / 2 {
            self.older = std::mem::take(&mut self.recent);
        }
        self.recent.bytes += bytes.len();
        if let Some(old) = self.recent.records.insert(run_id, bytes) {
            self.recent.bytes -= old.len();
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.recent.bytes + self.older.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_one_generation() {
        let mut cache = RecordCache::default();
        cache.begin(Some(1));
        cache.insert("a", b"record a");
        assert_eq!(cache.get("a").as_deref(), Some(&b"record a"[..]));
        cache.begin(Some(1));
        assert!(cache.get("a").is_some());
        // The cache was written since: nothing read before is used.
        cache.begin(Some(2));
        assert!(cache.get("a").is_none());
        // A cache without a stamp keeps nothing.
        cache.insert("a", b"x");
        cache.begin(None);
        cache.insert("a", b"x");
        assert!(cache.get("a").is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn memory_is_bounded_and_what_is_read_again_stays() {
        let mut cache = RecordCache::default();
        cache.begin(Some(7));
        let record = vec![0u8; 4096];
        cache.insert("hot", &record);
        for i in 0..(2 * MAX_BYTES / record.len()) {
            cache.insert(&format!("run{i}"), &record);
            // Read often: stays.
            assert!(cache.get("hot").is_some(), "lost after {i}");
        }
        assert!(cache.bytes() <= MAX_BYTES, "{}", cache.bytes());
        assert!(cache.get("run0").is_none());
        // A record too large to be worth keeping is passed through.
        let huge = vec![1u8; MAX_BYTES / 2];
        assert_eq!(cache.insert("huge", &huge).len(), huge.len());
        assert!(cache.get("huge").is_none());
    }

    #[test]
    fn generations_differ_between_draws() {
        let draws: std::collections::HashSet<u64> = (0..1000).map(|_| new_generation()).collect();
        assert_eq!(draws.len(), 1000);
    }
}
