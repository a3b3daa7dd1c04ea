//! End-to-end suite: real PostgreSQL (a fresh database per test), the real `ontofleet` binary,
//! real worker processes. One test binary for all scenarios.

mod concurrency;
mod expect;
mod migration;
mod preview;
mod rules;

use std::time::Duration;

/// Generous bound for a small run on a 2-core CI machine.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
