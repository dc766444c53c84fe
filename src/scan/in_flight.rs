//! How many file-system requests a scan keeps in flight.
//!
//! A stat, a directory listing or a small read costs a local SSD a few
//! microseconds of CPU, and a network filesystem (NFS, Lustre, GPFS) a
//! round trip to its server, 0.2-1 ms during which the calling thread only
//! waits. Issued one after the other, 100,000 of them take the sum of those
//! waits; issued from many threads, the server answers them together. So
//! the latency-bound steps of a scan (the stats of a rescan, the reads of
//! changed sidecars, the walk's listings) run on [`DEFAULT_IO_THREADS`]
//! threads, more than there are cores, while the CPU-bound ones (parsing,
//! writing to the cache) stay on as many threads as there are cores.

use std::num::NonZeroUsize;

/// File-system requests a scan keeps in flight unless told otherwise
/// ([`RegistryBuilder::io_threads`](crate::RegistryBuilder::io_threads)):
/// enough for a network filesystem's round trips to overlap, cheap on a
/// local disk (measured in BENCHMARKS.md, "Cold caches and latency").
pub const DEFAULT_IO_THREADS: usize = 16;

/// The most I/O threads a setting may ask for.
pub const MAX_IO_THREADS: usize = 1024;

/// The threads a scan uses for each kind of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Threads {
    /// Listing directories (jwalk's pool; 1 walks on the calling thread).
    pub walk: usize,
    /// Stats and sidecar reads: the requests in flight.
    pub io: usize,
    /// Parsing sidecars: one a core, up to 8.
    pub cpu: usize,
}

impl Threads {
    /// `io` threads for the I/O, the walk's included, and one a core for
    /// the rest.
    pub fn io(io: usize) -> Threads {
        Threads {
            walk: io,
            io,
            cpu: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        }
    }
}

impl Default for Threads {
    fn default() -> Threads {
        Threads::io(DEFAULT_IO_THREADS)
    }
}

/// Maps `work` over `items`, on up to `threads` threads, each taking one
/// contiguous share of at least `min_share` items (neighbours in sorted
/// order share ancestors a share opens once); the results come back in the
/// order of `items`. Fewer than two shares run on this thread.
///
/// `work` does not panic; should a thread, its share is done again here.
pub(crate) fn in_shares<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    min_share: usize,
    work: impl Fn(&[I]) -> Vec<T> + Sync,
) -> Vec<T> {
    let min_share = NonZeroUsize::new(min_share).map_or(1, NonZeroUsize::get);
    let shares = threads.min(items.len() / min_share).max(1);
    if shares == 1 {
        return work(items);
    }
    let share = items.len().div_ceil(shares);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(share)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for (handle, part) in handles.into_iter().zip(items.chunks(share)) {
            match handle.join() {
                Ok(results) => out.extend(results),
                Err(_) => out.extend(work(part)),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    #[test]
    fn shares_keep_order_and_use_the_threads_asked_for() {
        let items: Vec<usize> = (0..1000).collect();
        for (threads, min_share, want_threads) in [(1, 1, 1), (4, 10, 4), (32, 100, 10), (8, 0, 8)]
        {
            let seen = Mutex::new(Vec::<ThreadId>::new());
            let out = in_shares(&items, threads, min_share, |part| {
                seen.lock().unwrap().push(std::thread::current().id());
                part.iter().map(|i| i * 2).collect()
            });
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let mut seen = seen.into_inner().unwrap();
            seen.sort_by_key(|id| format!("{id:?}"));
            seen.dedup();
            assert_eq!(seen.len(), want_threads, "threads {threads}");
        }
        assert!(in_shares(&[] as &[u8], 16, 1, |p| p.to_vec()).is_empty());
    }
}
