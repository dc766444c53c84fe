//! Random upserts, removes and commits against the store and a BTreeMap
//! model; records and every index are checked after the sequence.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use runreg::fuzzing::ModelOp;

#[derive(Arbitrary, Debug)]
enum Op {
    Upsert {
        id: u8,
        status: u8,
        tags: u8,
        updated: u8,
        created: u8,
        metric: Option<f64>,
    },
    Remove {
        id: u8,
    },
    Commit,
    Flush,
}

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 64 {
        return;
    }
    let ops: Vec<ModelOp> = ops
        .into_iter()
        .map(|op| match op {
            Op::Upsert {
                id,
                status,
                tags,
                updated,
                created,
                metric,
            } => ModelOp::Upsert {
                id: id % 16,
                status,
                tags,
                updated: updated % 8,
                created,
                metric,
            },
            Op::Remove { id } => ModelOp::Remove { id: id % 16 },
            Op::Commit => ModelOp::Commit,
            Op::Flush => ModelOp::Flush,
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    runreg::fuzzing::store_model(dir.path(), &ops);
});
