//! Retrieval runs: a worker claims queued runs, streams the PSA's records into a new snapshot,
//! and makes the snapshot live only when the run succeeds.

pub mod credentials;
pub mod outage;
pub mod progress;
pub mod sink;
pub mod worker;
