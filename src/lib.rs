//! runreg: a local registry of machine-learning training runs.

mod error;
mod liveness;
mod record;
pub mod sidecar;
mod status;
mod value;

pub use error::{Error, Result};
pub use liveness::Liveness;
pub use record::RunRecord;
pub use sidecar::Sidecar;
pub use status::Status;
pub use value::Value;
