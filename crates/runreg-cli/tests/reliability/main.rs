//! Reliability and safety (issue 7), black-box where it can be: many
//! processes on one cache, processes killed mid-scan, damaged caches,
//! read-only cache directories, hostile trees, full disks, and what runreg
//! may write. Every test prints its figures as `figure: <name> = <value>`;
//! RELIABILITY.md collects them.
//!
//! Several tests drop to the user `nobody` when run as root (CI), so that
//! permissions apply; the rest of the suite needs no privilege.

#[path = "../../../../tests/common/mod.rs"]
mod common;
mod support;

mod concurrency;
mod corrupt;
mod crashes;
mod disk_full;
mod hostile;
mod read_only;
mod round_trips;
mod safety;
