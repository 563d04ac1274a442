//! Test harness shared by the integration tests (`it/`), the benchmarks (`src/bin/bench.rs`) and,
//! later, the local demo:
//!
//! - [`Emulator`]: the local AWS API emulator (moto's server plus our extensions in
//!   `tests/emulator/`), started on a free loopback port, with its control API: seeding managed
//!   nodes, injecting faults, reading per-operation call counts.
//! - [`lambda`]: a local Lambda Runtime API that runs a function's real binary the way Lambda runs
//!   it, measuring init time and peak memory.

pub mod emulator;
pub mod lambda;

pub use emulator::{BulkBucket, Emulator, Fault, NodeSpec, isolated};

use std::path::PathBuf;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
