//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Not a
//! stable API.

use std::path::Path;

pub use crate::store::model::{ModelOp, check as check_store_model};

/// Decodes `bytes` as a stored record, section by section; must return
/// (`true` when every section decoded), never panic, never allocate without
/// bound.
pub fn decode_record(bytes: &[u8]) -> bool {
    crate::store::decode_for_fuzzing(bytes)
}

/// Runs `ops` against a store in `dir` and a model; panics on a
/// disagreement, so the fuzzer reports it.
pub fn store_model(dir: &Path, ops: &[ModelOp]) {
    if let Err(problem) = check_store_model(dir, ops) {
        panic!("store and model disagree: {problem}");
    }
}
