//! Run ids: generated ones (unique, sortable by time) and the rules every
//! id must follow to name a directory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::writer::utc::UtcTime;

/// The longest run id accepted, in bytes: most filesystems' limit on one
/// path component.
pub const MAX_RUN_ID_BYTES: usize = 255;

/// Checks that `run_id` can name a run directory without leaving it: not
/// empty, at most [`MAX_RUN_ID_BYTES`] bytes, no `/`, `\` or NUL, and not
/// `.` or `..`.
///
/// # Errors
///
/// [`Error::InvalidRunId`] saying which rule the id breaks.
///
/// # Examples
///
/// ```
/// use runreg::writer::validate_run_id;
///
/// assert!(validate_run_id("20261126_132455_483_9f2c71ab").is_ok());
/// assert!(validate_run_id("resnet50-seed3").is_ok());
/// assert!(validate_run_id("../escape").is_err());
/// assert!(validate_run_id("..").is_err());
/// assert!(validate_run_id("").is_err());
/// ```
pub fn validate_run_id(run_id: &str) -> Result<()> {
    let reason = if run_id.is_empty() {
        "it is empty"
    } else if run_id.len() > MAX_RUN_ID_BYTES {
        "it is longer than 255 bytes"
    } else if run_id.contains('/') {
        "it contains '/'"
    } else if run_id.contains('\\') {
        "it contains '\\'"
    } else if run_id.contains('\0') {
        "it contains a NUL byte"
    } else if run_id == "." || run_id == ".." {
        "'.' and '..' are not directory names"
    } else {
        return Ok(());
    };
    Err(Error::InvalidRunId {
        run_id: run_id.to_owned(),
        reason: reason.to_owned(),
    })
}

/// A new run id: `YYYYMMDD_HHMMSS_mmm_rrrrrrrr`, the UTC date, time and
/// millisecond of its creation and 32 random bits in hex.
///
/// Ids sort by creation time (to the millisecond; strictly, within one
/// process). Two processes creating runs in the same millisecond differ by
/// their random bits, and [`RunWriter::create`](crate::writer::RunWriter::create)
/// draws again in the unlikely case that the directory already exists.
///
/// # Examples
///
/// ```
/// let id = runreg::writer::generate_run_id();
/// assert_eq!(id.len(), 28);
/// assert!(runreg::writer::validate_run_id(&id).is_ok());
/// assert!(id < runreg::writer::generate_run_id());
/// ```
pub fn generate_run_id() -> String {
    run_id_at(next_millis())
}

/// The id for the millisecond `millis` since the epoch, and the UTC time it
/// encodes (the run directory is named after the same time).
pub(crate) fn run_id_at(millis: u64) -> String {
    let t = UtcTime::from_unix_millis(u128::from(millis));
    format!(
        "{}_{}_{:03}_{:08x}",
        t.date(),
        t.time(),
        t.millis,
        random_u64() as u32
    )
}

/// Milliseconds since the epoch, strictly increasing within the process
/// (a burst of ids in one millisecond borrows the next ones), so ids made
/// by one process sort in creation order.
pub(crate) fn next_millis() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(now);
    now.max(previous.saturating_add(1))
}

/// 64 unpredictable bits. std's `RandomState` is seeded from the operating
/// system's randomness once per thread and differs per instance; mixing in
/// the time and a counter keeps successive draws apart.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn reason(run_id: &str) -> String {
        match validate_run_id(run_id) {
            Err(Error::InvalidRunId { reason, .. }) => reason,
            other => panic!("{run_id:?}: {other:?}"),
        }
    }

    #[test]
    fn valid_ids() {
        for id in [
            "a",
            "abc123",
            "20251104_153012_a1b2c3",
            "sweep:12345-task.7",
            "...",
            ".hidden",
            "a..b",
            "café ✓",
            &"x".repeat(255),
            &"é".repeat(127), // 254 bytes
        ] {
            validate_run_id(id).unwrap_or_else(|e| panic!("{id:?}: {e}"));
        }
    }

    #[test]
    fn invalid_ids_say_why() {
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason(&"x".repeat(256)), "it is longer than 255 bytes");
        assert_eq!(reason(&"é".repeat(128)), "it is longer than 255 bytes");
        assert_eq!(reason("a/b"), "it contains '/'");
        assert_eq!(reason("/abs"), "it contains '/'");
        assert_eq!(reason("../x"), "it contains '/'");
        assert_eq!(reason("a\\b"), "it contains '\\'");
        assert_eq!(reason("..\\x"), "it contains '\\'");
        assert_eq!(reason("a\0b"), "it contains a NUL byte");
        assert_eq!(reason("."), "'.' and '..' are not directory names");
        assert_eq!(reason(".."), "'.' and '..' are not directory names");
    }

    #[test]
    fn error_message_names_the_id() {
        let e = validate_run_id("a/b").unwrap_err();
        assert_eq!(e.to_string(), "invalid run id \"a/b\": it contains '/'");
    }

    #[test]
    fn generated_ids_are_valid_unique_and_sorted() {
        let ids: Vec<String> = (0..10_000).map(|_| generate_run_id()).collect();
        for id in &ids {
            validate_run_id(id).expect("valid");
            assert_eq!(id.len(), 28, "{id}");
            assert!(id.is_ascii());
        }
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "sorted in creation order"
        );
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn ids_from_many_threads_are_unique() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..2000).map(|_| generate_run_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().expect("thread") {
                assert!(all.insert(id));
            }
        }
    }

    #[test]
    fn id_encodes_the_utc_time() {
        let id = run_id_at(1_762_266_612_481);
        assert!(id.starts_with("20251104_143012_481_"), "{id}");
        assert!(id[20..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn random_draws_differ() {
        let draws: HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(draws.len(), 1000);
    }
}
