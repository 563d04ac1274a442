//! Helpers shared by the test modules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cfn_response::ResponseBody;
use integration_tests::{CfnRequest, payload};
use lambda_runtime::{Config, Context};
use serde_json::{Value, json};

/// A Lambda context whose deadline is `timeout` from now.
pub fn context(timeout: Duration) -> Context {
    let mut ctx = Context::default();
    ctx.request_id = "test-request".into();
    ctx.deadline = (SystemTime::now() + timeout)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    ctx.env_config = std::sync::Arc::new(Config::default());
    ctx
}

/// A custom resource handler answering a real local ResponseURL server: send a request, get the
/// one answer CloudFormation would receive.
pub struct Cfn<R> {
    runner: cfn_response::Runner<R>,
    server: cfn_response::testing::ResponseServer,
    requests: integration_tests::CustomResourceRequests,
}

impl<R: cfn_response::CustomResource> Cfn<R> {
    /// `resource` behind a runner, with requests shaped by `requests`.
    pub async fn start(resource: R, requests: integration_tests::CustomResourceRequests) -> Self {
        Self {
            runner: cfn_response::Runner::new(resource).expect("runner"),
            server: cfn_response::testing::ResponseServer::start()
                .await
                .expect("response server"),
            requests,
        }
    }

    /// Sends one request with a 60-second deadline and returns the answer.
    pub async fn send(
        &self,
        kind: &str,
        physical_id: Option<&str>,
        properties: Value,
        old: Option<Value>,
    ) -> ResponseBody {
        let request = self.request(kind, physical_id, properties, old);
        self.send_raw(&request, Duration::from_secs(60)).await
    }

    /// A request addressed to this server.
    pub fn request(
        &self,
        kind: &str,
        physical_id: Option<&str>,
        properties: Value,
        old: Option<Value>,
    ) -> CfnRequest {
        let url = self
            .server
            .url(&format!("r{}", self.server.received().len()));
        self.requests
            .request(kind, &url, physical_id, properties, old)
    }

    /// Runs `request` with `timeout` left before the deadline; asserts exactly one answer arrived
    /// and returns it.
    pub async fn send_raw(&self, request: &CfnRequest, timeout: Duration) -> ResponseBody {
        let before = self.server.received().len();
        self.runner
            .handle_payload(&payload(request), &context(timeout))
            .await
            .expect("answered");
        let received = self.server.received();
        assert_eq!(received.len(), before + 1, "exactly one answer");
        received[before].answer()
    }
}

/// A tagger custom resource request as CloudFormation sends it (an Update repeats the properties
/// as the old ones).
pub fn cfn_request(kind: &str, response_url: &str, physical_id: Option<&str>) -> CfnRequest {
    let requests = integration_tests::CustomResourceRequests::new(
        "Custom::Ec2OsTagger",
        "OsTagger",
        "us-east-1",
        "123456789012",
        "patching",
        "ec2-os-tagger",
    );
    let properties = json!({"ServiceToken": requests.service_token});
    let old = (kind == "Update").then(|| properties.clone());
    requests.request(kind, response_url, physical_id, properties, old)
}

/// An answer's `Data`, for comparing it whole.
pub fn data<const N: usize>(entries: [(&str, &str); N]) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// An EventBridge scheduled event.
pub fn scheduled_event(region: &str) -> Value {
    integration_tests::fixtures::scheduled(region)
}

/// Tags of an EC2 instance, read back through the SDK.
pub async fn ec2_tags(ec2: &aws_sdk_ec2::Client, id: &str) -> BTreeMap<String, String> {
    let out = ec2
        .describe_tags()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("resource-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .expect("DescribeTags");
    out.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Tags of a hybrid node, read back through the SDK.
pub async fn managed_instance_tags(
    ssm: &aws_sdk_ssm::Client,
    id: &str,
) -> BTreeMap<String, String> {
    let out = ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::ManagedInstance)
        .resource_id(id)
        .send()
        .await
        .expect("ListTagsForResource");
    out.tag_list()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// The tags the tagger sets.
pub fn os_tags(platform_type: &str, name: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("PlatformType".to_owned(), platform_type.to_owned()),
        ("OSName".to_owned(), name.to_owned()),
        ("OSVersion".to_owned(), version.to_owned()),
    ])
}

/// A binary of this workspace, built by `cargo build --locked --workspace --bins` next to this test binary.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/it-<hash> → target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --locked --workspace --bins` first (`make test` does)",
        path.display()
    );
    path
}

/// A string column, as the crawler declares every column of the sync's JSON.
pub fn string_column(name: &str) -> aws_sdk_glue::types::Column {
    aws_sdk_glue::types::Column::builder()
        .name(name)
        .r#type("string")
        .build()
        .expect("column")
}

/// A JSON SerDe storage descriptor over `location` with these string columns.
pub fn json_descriptor(location: &str, columns: &[&str]) -> aws_sdk_glue::types::StorageDescriptor {
    aws_sdk_glue::types::StorageDescriptor::builder()
        .set_columns(Some(columns.iter().map(|c| string_column(c)).collect()))
        .location(location)
        .input_format("org.apache.hadoop.mapred.TextInputFormat")
        .output_format("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
        .serde_info(
            aws_sdk_glue::types::SerDeInfo::builder()
                .serialization_library("org.openx.data.jsonserde.JsonSerDe")
                .build(),
        )
        .build()
}

/// Creates a database and a table with these partition keys, as a crawler or the template would.
pub async fn create_table(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
    descriptor: aws_sdk_glue::types::StorageDescriptor,
    partition_keys: &[&str],
) {
    let _ = glue
        .create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(database)
                .build()
                .expect("database input"),
        )
        .send()
        .await;
    glue.create_table()
        .database_name(database)
        .table_input(
            aws_sdk_glue::types::TableInput::builder()
                .name(table)
                .table_type("EXTERNAL_TABLE")
                .parameters("classification", "json")
                .storage_descriptor(descriptor)
                .set_partition_keys(Some(
                    partition_keys.iter().map(|k| string_column(k)).collect(),
                ))
                .build()
                .expect("table input"),
        )
        .send()
        .await
        .expect("CreateTable");
}

/// Every partition of a table, following pages.
pub async fn all_partitions(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
) -> Vec<aws_sdk_glue::types::Partition> {
    let mut pages = glue
        .get_partitions()
        .database_name(database)
        .table_name(table)
        .into_paginator()
        .send();
    let mut partitions = Vec::new();
    while let Some(page) = pages.next().await {
        partitions.extend(page.expect("GetPartitions").partitions().iter().cloned());
    }
    partitions
}

/// Column names of a storage descriptor.
pub fn column_names(sd: Option<&aws_sdk_glue::types::StorageDescriptor>) -> Vec<String> {
    sd.map(|sd| sd.columns().iter().map(|c| c.name().to_owned()).collect())
        .unwrap_or_default()
}
