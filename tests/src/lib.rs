//! Test harness shared by the integration tests (`it/`), the benchmarks (`src/bin/bench.rs`) and,
//! later, the local demo:
//!
//! - [`Emulator`]: the local AWS API emulator (moto's server plus our extensions in
//!   `tests/emulator/`), started on a free loopback port, with its control API: seeding managed
//!   nodes, injecting faults, reading per-operation call counts.
//! - [`lambda`]: a local Lambda Runtime API that runs a function's real binary the way Lambda runs
//!   it, measuring init time and peak memory.
//! - [`CustomResourceRequests`]: custom resource requests shaped as CloudFormation sends them.

pub mod emulator;
pub mod lambda;

pub use emulator::{BulkBucket, Emulator, Fault, NodeSpec, isolated};

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Custom resource requests of one resource in one stack, as CloudFormation sends them.
#[derive(Debug, Clone)]
pub struct CustomResourceRequests {
    /// `ResourceType`, e.g. `Custom::OrgDataSync`.
    pub resource_type: &'static str,
    /// `LogicalResourceId`.
    pub logical_id: &'static str,
    /// `StackId`.
    pub stack_id: String,
    /// `ServiceToken`: the function's ARN.
    pub service_token: String,
}

impl CustomResourceRequests {
    /// Requests for `resource_type`/`logical_id` in stack `stack` of account `account` in `region`,
    /// served by function `function`.
    pub fn new(
        resource_type: &'static str,
        logical_id: &'static str,
        region: &str,
        account: &str,
        stack: &str,
        function: &str,
    ) -> Self {
        Self {
            resource_type,
            logical_id,
            stack_id: format!("arn:aws:cloudformation:{region}:{account}:stack/{stack}/0a1b2c3d"),
            service_token: format!("arn:aws:lambda:{region}:{account}:function:{function}"),
        }
    }

    /// One request; `RequestId` is unique within the process. `physical_id` is sent on Update and
    /// Delete, `old` as `OldResourceProperties`.
    pub fn request(
        &self,
        kind: &str,
        response_url: &str,
        physical_id: Option<&str>,
        properties: Value,
        old: Option<Value>,
    ) -> Value {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut r = json!({
            "RequestType": kind,
            "ServiceToken": self.service_token,
            "ResponseURL": response_url,
            "StackId": self.stack_id,
            "RequestId": format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            "ResourceType": self.resource_type,
            "LogicalResourceId": self.logical_id,
            "ResourceProperties": properties,
        });
        if let Some(id) = physical_id {
            r["PhysicalResourceId"] = json!(id);
        }
        if let Some(old) = old {
            r["OldResourceProperties"] = old;
        }
        r
    }
}
