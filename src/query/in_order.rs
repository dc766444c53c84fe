//! Work on several threads: chunks of an answer made on every core and
//! taken in the answer's order (how a large answer's records are read,
//! decoded and turned into text or columns while one consumer writes them
//! out), and parts of a pass folded into one state a thread (how a first
//! pass over a large cache runs on every core).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{OnceLock, mpsc};

use super::page::Page;
use crate::error::{Error, Result};
use crate::store::RunKey;

/// The threads worth starting for work on every core: asked once a
/// process (the standard library reads the cgroup's quota each time, ~30
/// µs, a tenth of a small query).
pub(crate) fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// [`map_in_order`] over the chunks of `page`, `chunk` runs each: `make`
/// gets the keys of each chunk's runs. Returns the page's length.
pub(crate) fn map_page_in_order<T: Send>(
    page: &Page,
    chunk: usize,
    threads: usize,
    make: impl Fn(&[RunKey<'_>]) -> Result<T> + Sync,
    visit: impl FnMut(T) -> Result<()>,
) -> Result<usize> {
    let make = |range: &std::ops::Range<usize>| make(&page.keys(range.clone()));
    map_in_order(&page.ranges(chunk), threads, make, visit)?;
    Ok(page.len())
}

/// Calls `make` on every chunk of `chunks`, on `threads` threads, and
/// `visit` with each result in the chunks' order, on this thread.
///
/// Thread `k` makes chunks `k`, `k + threads`, ...; a thread hands over
/// its result before it starts the next chunk, so at most one result a
/// thread exists besides the one `visit` holds, whatever the pace of
/// `visit`. The first error, of `make` or of `visit`, ends the work and is
/// returned; the threads stop at their next chunk. A panic on a thread is
/// resumed on this one.
pub(crate) fn map_in_order<C: Sync, T: Send>(
    chunks: &[C],
    threads: usize,
    make: impl Fn(&C) -> Result<T> + Sync,
    mut visit: impl FnMut(T) -> Result<()>,
) -> Result<()> {
    let threads = threads.clamp(1, chunks.len().max(1));
    if threads == 1 {
        return chunks.iter().try_for_each(|chunk| visit(make(chunk)?));
    }
    std::thread::scope(|scope| {
        let mut made = Vec::with_capacity(threads);
        for first in 0..threads {
            let (ahead, chunks_made) = mpsc::sync_channel(0);
            made.push(chunks_made);
            let make = &make;
            scope.spawn(move || {
                for chunk in chunks.iter().skip(first).step_by(threads) {
                    let result = make(chunk);
                    let failed = result.is_err();
                    if ahead.send(result).is_err() || failed {
                        break;
                    }
                }
            });
        }
        // Returning early drops the receivers: each thread stops at its
        // next send. A thread that panicked is resumed by the scope.
        for k in 0..chunks.len() {
            match made[k % threads].recv() {
                Ok(result) => visit(result?)?,
                Err(_) => break,
            }
        }
        Ok(())
    })
}

/// Calls `visit` on each of `parts` parts of some work, on `threads`
/// threads, each thread folding the parts it takes (the next one not yet
/// taken, so a slow part does not hold the others back) into a state of
/// its own, made by `start`; returns the states, for the caller to merge.
/// On an error, the threads take no new part, and the error of the first
/// part (in part order) that failed is returned: every earlier part was
/// taken before it and ends, so the error is the one a pass over the
/// parts in order would meet first. A panic on a thread is resumed here.
pub(crate) fn fold_parts<S: Send>(
    parts: usize,
    threads: usize,
    start: impl Fn() -> S + Sync,
    visit: impl Fn(usize, &mut S) -> Result<()> + Sync,
) -> Result<Vec<S>> {
    let threads = threads.clamp(1, parts.max(1));
    if threads == 1 {
        let mut state = start();
        (0..parts).try_for_each(|part| visit(part, &mut state))?;
        return Ok(vec![state]);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let folded: Vec<(S, Option<(usize, Error)>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = start();
                    while !failed.load(Ordering::Relaxed) {
                        let part = next.fetch_add(1, Ordering::Relaxed);
                        if part >= parts {
                            break;
                        }
                        if let Err(e) = visit(part, &mut state) {
                            failed.store(true, Ordering::Relaxed);
                            return (state, Some((part, e)));
                        }
                    }
                    (state, None)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut states = Vec::with_capacity(folded.len());
    let mut first_error: Option<(usize, Error)> = None;
    for (state, error) in folded {
        states.push(state);
        if let Some((part, e)) = error
            && first_error.as_ref().is_none_or(|(first, _)| part < *first)
        {
            first_error = Some((part, e));
        }
    }
    match first_error {
        Some((_, e)) => Err(e),
        None => Ok(states),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(what: &str) -> Error {
        Error::io("chunk", std::io::Error::other(what.to_owned()))
    }

    #[test]
    fn results_come_in_the_chunks_order_whatever_the_threads() {
        let chunks: Vec<usize> = (0..37).collect();
        for threads in [1, 2, 3, 8, 100] {
            let mut seen = Vec::new();
            map_in_order(
                &chunks,
                threads,
                |&c| {
                    // Early chunks take longest, so a wrong order would show.
                    std::thread::sleep(std::time::Duration::from_micros((40 - c as u64) * 20));
                    Ok(c * 10)
                },
                |t| {
                    seen.push(t);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(
                seen,
                chunks.iter().map(|c| c * 10).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn the_first_error_in_order_ends_the_work() {
        let chunks: Vec<usize> = (0..50).collect();
        for threads in [1, 2, 4] {
            let mut seen = Vec::new();
            let err = map_in_order(
                &chunks,
                threads,
                |&c| if c == 7 { Err(failure("seven")) } else { Ok(c) },
                |t| {
                    seen.push(t);
                    Ok(())
                },
            )
            .unwrap_err();
            assert!(err.to_string().contains("seven"), "{err}");
            assert_eq!(seen, (0..7).collect::<Vec<_>>(), "{threads} threads");

            let mut visits = 0;
            let err = map_in_order(
                &chunks,
                threads,
                |&c| Ok(c),
                |_| {
                    visits += 1;
                    if visits == 3 {
                        return Err(failure("consumer"));
                    }
                    Ok(())
                },
            )
            .unwrap_err();
            assert!(err.to_string().contains("consumer"), "{err}");
            assert_eq!(visits, 3);
        }
    }

    #[test]
    fn no_chunks_is_no_work() {
        let chunks: Vec<usize> = Vec::new();
        let mut visits = 0;
        map_in_order(
            &chunks,
            4,
            |&c| Ok(c),
            |_| {
                visits += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(visits, 0);
    }

    #[test]
    fn parts_fold_into_states_that_together_saw_each_part_once() {
        for (parts, threads) in [(0, 2), (1, 2), (37, 1), (37, 2), (37, 5), (3, 100)] {
            let states = fold_parts(parts, threads, Vec::new, |part, seen: &mut Vec<usize>| {
                std::thread::sleep(std::time::Duration::from_micros((part % 4) as u64 * 50));
                seen.push(part);
                Ok(())
            })
            .unwrap();
            assert!(
                states.len() <= threads.max(1),
                "{parts} parts, {threads} threads"
            );
            let mut all: Vec<usize> = states.concat();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..parts).collect::<Vec<_>>(),
                "{parts} parts, {threads} threads"
            );
        }
    }

    #[test]
    fn the_first_part_that_fails_gives_the_error() {
        for threads in [1, 2, 4] {
            // Parts `first..first + threads` fail, each on whichever thread
            // took it, the later ones sooner in time.
            for first in 3..13 {
                let err = fold_parts(
                    40,
                    threads,
                    || (),
                    |part, _| {
                        std::thread::sleep(std::time::Duration::from_micros(
                            (40 - part as u64) * 20,
                        ));
                        match part >= first && part < first + threads {
                            true => Err(failure(&format!("part {part}"))),
                            false => Ok(()),
                        }
                    },
                )
                .unwrap_err();
                let expected = format!("part {first}");
                assert!(
                    err.to_string().contains(&expected),
                    "{threads} threads: {err}"
                );
            }
        }
    }
}
