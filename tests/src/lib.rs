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

use cfn_response::{ResponseBody, Status};
use serde_json::Value;

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

    /// One request; `RequestId` is unique within the process. It starts from the documented
    /// fixture of its kind (`Create`, `Update` or `Delete`) and replaces every field a test relies on.
    /// `physical_id` is sent on Update and Delete (an Update or Delete without one gets an empty
    /// id, which the protocol reads as none), `old` as `OldResourceProperties` on Update (`null`
    /// without one, which the protocol reads as no old properties). `ResourceProperties` is
    /// `properties` as given.
    ///
    /// # Panics
    ///
    /// On a kind CloudFormation does not send, or a Create with a physical id: build such a
    /// malformed request from [`payload`] of a well-formed one.
    pub fn request(
        &self,
        kind: &str,
        response_url: &str,
        physical_id: Option<&str>,
        properties: Value,
        old: Option<Value>,
    ) -> CfnRequest {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let mut request: CfnRequest = serde_json::from_value(fixtures::cfn_request(kind))
            .unwrap_or_else(|e| panic!("{kind:?} is not a request CloudFormation sends: {e}"));
        let request_id = format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        // The fields every kind has; the three request types share no trait to set them through.
        macro_rules! common {
            ($r:ident) => {{
                $r.service_token = Some(self.service_token.clone());
                $r.response_url = response_url.to_owned();
                $r.stack_id = self.stack_id.clone();
                $r.request_id = request_id;
                $r.resource_type = self.resource_type.to_owned();
                $r.logical_resource_id = self.logical_id.to_owned();
                $r.resource_properties = properties;
            }};
        }
        match &mut request {
            CfnRequest::Create(r) => {
                assert!(
                    physical_id.is_none(),
                    "CloudFormation sends no PhysicalResourceId on Create"
                );
                common!(r);
            }
            CfnRequest::Update(r) => {
                common!(r);
                r.physical_resource_id = physical_id.unwrap_or_default().to_owned();
                r.old_resource_properties = old.unwrap_or(Value::Null);
            }
            CfnRequest::Delete(r) => {
                common!(r);
                r.physical_resource_id = physical_id.unwrap_or_default().to_owned();
            }
            other => panic!("a request type this harness does not know: {other:?}"),
        }
        request
    }
}

/// A custom resource request, as CloudFormation sends it and `aws_lambda_events` types it;
/// `ResourceProperties` and `OldResourceProperties` as JSON, since each resource has its own.
pub type CfnRequest = aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;

/// The request as the JSON the function receives.
pub fn payload(request: &CfnRequest) -> Value {
    serde_json::to_value(request).expect("a request serializes to JSON")
}

/// The request with its `ResponseURL` replaced.
pub fn with_response_url(mut request: CfnRequest, url: &str) -> CfnRequest {
    match &mut request {
        CfnRequest::Create(r) => r.response_url = url.to_owned(),
        CfnRequest::Update(r) => r.response_url = url.to_owned(),
        CfnRequest::Delete(r) => r.response_url = url.to_owned(),
        other => panic!("a request type this harness does not know: {other:?}"),
    }
    request
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
    request: CfnRequest,
) -> anyhow::Result<(LocalFunction, Invoked, ResponseBody)> {
    let server = cfn_response::testing::ResponseServer::start().await?;
    let request = with_response_url(request, &server.url(name));
    let function = LocalFunction::start(binary, name, env, Duration::from_secs(30)).await?;
    let invoked = function
        .invoke(&payload(&request), Duration::from_secs(900))
        .await?;
    let answers = server.wait_for(1, Duration::from_secs(5)).await;
    let answer = answers
        .first()
        .map(|r| r.try_answer().map_err(|e| (e, r.body.clone())));
    match answer {
        Some(Ok(answer)) if answer.status == Status::Success && answers.len() == 1 => {
            Ok((function, invoked, answer))
        }
        other => bail!(
            "{name} did not succeed: {other:?} / {:?}\n{}",
            invoked.outcome,
            function.logs().join("\n")
        ),
    }
}

/// The Lambda invocations `emulator` has recorded (`GET /_emulator/lambda-invocations`), oldest
/// first, each with its `function_arn`, `attempt`, `payload` and `outcome`. Without a Lambda runner
/// (these tests register none) an invocation is recorded, not run (`outcome` `no-runner`, retried
/// as an asynchronous invocation is): a test can hand its `payload` to a handler itself, as
/// Lambda would.
pub async fn lambda_invocations(emulator: &Emulator) -> anyhow::Result<Vec<Value>> {
    // A client per call, as the emulator's control calls make (tests run on separate runtimes).
    let url = format!("{}/_emulator/lambda-invocations", emulator.endpoint());
    let body: Value = reqwest::get(&url).await?.error_for_status()?.json().await?;
    Ok(body
        .get("invocations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}
