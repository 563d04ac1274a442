//! Test harness shared by the integration tests (`it/`) and the benchmarks (`bench/`):
//!
//! - [`Emulator`]: the local AWS API emulator (moto's server plus our extensions in
//!   `emulator/`), started on a free loopback port, with its control API: seeding managed
//!   nodes, injecting faults, reading per-operation call counts.
//! - [`lambda`]: a local Lambda Runtime API that runs a function's real binary the way Lambda runs
//!   it, measuring init time and peak memory.
//! - [`CustomResourceRequests`]: custom resource requests shaped as CloudFormation sends them.

pub use local_aws::{BulkBucket, Emulator, Fault, NodeSpec, emulator, isolated, lambda};

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use lambda::{Invoked, LocalFunction};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

pub use local_aws::workspace_root;

/// The event fixtures (`tests/fixtures/events/`), each the documented shape of an event.
#[path = "../fixtures/events.rs"]
pub mod fixtures;

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
        let mut r = fixtures::cfn_request(kind);
        let request = r.as_object_mut().expect("a request is an object");
        request.remove("PhysicalResourceId");
        request.remove("OldResourceProperties");
        r["ServiceToken"] = json!(self.service_token);
        r["ResponseURL"] = json!(response_url);
        r["StackId"] = json!(self.stack_id);
        r["RequestId"] = json!(format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        r["ResourceType"] = json!(self.resource_type);
        r["LogicalResourceId"] = json!(self.logical_id);
        r["ResourceProperties"] = properties;
        if let Some(id) = physical_id {
            r["PhysicalResourceId"] = json!(id);
        }
        if let Some(old) = old {
            r["OldResourceProperties"] = old;
        }
        r
    }
}

/// A Glue column of type string.
pub fn string_column(name: &str) -> anyhow::Result<aws_sdk_glue::types::Column> {
    Ok(aws_sdk_glue::types::Column::builder()
        .name(name)
        .r#type("string")
        .build()?)
}

/// The `configurationitems` column type of the Config snapshot table, as the central template
/// declares it (`configuration` as a JSON string).
pub const CONFIG_ITEMS_TYPE: &str = "array<struct<configurationitemcapturetime:string,\
configurationitemstatus:string,resourcetype:string,resourceid:string,awsaccountid:string,\
awsregion:string,configuration:string,tags:map<string,string>>>";

/// Creates a Config delivery table as the central template declares it: JSON SerDe over
/// `location`, partitioned by `accountid`, `region` and `dt`.
pub async fn create_config_table(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
    location: &str,
) -> anyhow::Result<()> {
    use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, TableInput};
    let descriptor = StorageDescriptor::builder()
        .columns(string_column("fileversion")?)
        .columns(string_column("configsnapshotid")?)
        .columns(
            Column::builder()
                .name("configurationitems")
                .r#type(CONFIG_ITEMS_TYPE)
                .build()?,
        )
        .location(location)
        .input_format("org.apache.hadoop.mapred.TextInputFormat")
        .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
        .serde_info(
            SerDeInfo::builder()
                .serialization_library("org.openx.data.jsonserde.JsonSerDe")
                .build(),
        )
        .build();
    glue.create_table()
        .database_name(database)
        .table_input(
            TableInput::builder()
                .name(table)
                .storage_descriptor(descriptor)
                .partition_keys(string_column("accountid")?)
                .partition_keys(string_column("region")?)
                .partition_keys(string_column("dt")?)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Starts a custom resource's binary, sends it `request` (its ResponseURL pointing at a local
/// server), and returns the running function, the invocation and CloudFormation's SUCCESS answer.
pub async fn custom_resource(
    binary: &Path,
    name: &str,
    env: &[(String, String)],
    mut request: Value,
) -> anyhow::Result<(LocalFunction, Invoked, Value)> {
    let server = cfn_response::testing::ResponseServer::start().await?;
    request["ResponseURL"] = Value::String(server.url(name));
    let function = LocalFunction::start(binary, name, env, Duration::from_secs(30)).await?;
    let invoked = function.invoke(&request, Duration::from_secs(900)).await?;
    let answers = server.wait_for(1, Duration::from_secs(5)).await;
    let answer = answers.first().map(|r| r.json());
    match answer {
        Some(answer) if answer["Status"] == "SUCCESS" && answers.len() == 1 => {
            Ok((function, invoked, answer))
        }
        other => bail!(
            "{name} did not succeed: {other:?} / {:?}\n{}",
            invoked.outcome,
            function.logs().join("\n")
        ),
    }
}
