//! Arbitrary bytes as a cached record: an error, never a panic, and never
//! an allocation beyond the decode limit (libFuzzer's -rss_limit_mb and
//! -malloc_limit_mb catch one).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = runreg::fuzzing::decode_record(data);
});
