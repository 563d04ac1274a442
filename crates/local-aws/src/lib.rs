//! The local AWS the tests, the benchmarks and the demo run on:
//!
//! - [`Emulator`]: the local AWS API emulator (moto's server plus our extensions), started on a
//!   loopback port, with its control API: seeding managed nodes, injecting faults, reading
//!   per-operation call counts.
//! - [`lambda`]: a local Lambda Runtime API that runs a function's real binary the way Lambda runs
//!   it, measuring init time and peak memory.
//! - [`runner`]: the Lambda runner the emulator forwards every invocation to, so that functions
//!   created by the emulator's CloudFormation run as their real binaries.
//!
//! The `local-aws` binary starts an emulator with a runner for `make emulator`.

pub mod emulator;
pub mod lambda;
pub mod runner;

pub use emulator::{BulkBucket, Emulator, Fault, NodeSpec, isolated};

use std::path::PathBuf;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or(manifest)
}
