//! # ec2-os-tagger
//!
//! Tags every Systems Manager managed node of the account and Region with its operating system, so
//! that reports, patch groups and cost allocation can slice by OS:
//!
//! | tag            | value (from `ssm:DescribeInstanceInformation`) |
//! |----------------|------------------------------------------------|
//! | `PlatformType` | `PlatformType` (`Linux`, `Windows`, `MacOS`)   |
//! | `OSName`       | `PlatformName` (`Amazon Linux`, `Ubuntu`, ...) |
//! | `OSVersion`    | `PlatformVersion` (`2023`, `22.04`, ...)       |
//!
//! ## Triggers (one binary handles both)
//! - **CloudFormation custom resource** (`Custom::Ec2OsTagger`): Create and Update tag every node;
//!   Delete tags nothing and succeeds. No properties. Physical id: `<stack name>-<logical id>`,
//!   stable across updates. Answer `Data` (strings): `InstancesTagged`, `ManagedInstancesTagged`,
//!   `Skipped`, `Vanished`.
//!   ```json
//!   {"RequestType": "Create", "ResponseURL": "https://...", "StackId": "arn:...:stack/patching/...",
//!    "RequestId": "...", "LogicalResourceId": "OsTagger", "ResourceType": "Custom::Ec2OsTagger",
//!    "ResourceProperties": {"ServiceToken": "arn:aws:lambda:..."}}
//!   ```
//! - **EventBridge schedule** (a rule's `Scheduled Event`, daily in the template), so nodes launched
//!   after the deployment are tagged too. Returns the counts; fails the invocation when AWS errors
//!   remain, after tagging whatever could be tagged.
//!
//! ## How it tags, and what it costs in API calls
//! - `DescribeInstanceInformation`, 50 nodes a page: ceil(nodes / 50) calls.
//! - EC2 instances (`i-...`) are grouped by identical tag set and tagged with one `ec2:CreateTags`
//!   per group and per 1000 ids (the API's limit), a few calls in flight. A fleet of 10,000 instances
//!   over six OS versions takes about 12 calls, not 10,000. When a call fails with
//!   `InvalidInstanceID.NotFound` (an instance terminated between describe and tag), AWS rejects the
//!   whole call: the ids it names are dropped and the rest retried.
//! - Hybrid nodes (`mi-...`) are not EC2 resources: `ssm:AddTagsToResource` with ResourceType
//!   `ManagedInstance`, one call per node (the API takes one resource). A node deregistered meanwhile
//!   (`InvalidResourceId`) is counted as vanished, not as a failure.
//! - Nodes that have not reported `PlatformName`/`PlatformVersion` yet are skipped and counted.
//!
//! ## Environment
//! The standard AWS variables only (see the `aws-setup` crate). `AWS_LAMBDA_LOG_FORMAT`/
//! `AWS_LAMBDA_LOG_LEVEL` for logs.
//!
//! ## IAM actions
//! - `ssm:DescribeInstanceInformation` on `*` (the action supports no resource scoping);
//! - `ec2:CreateTags` on `arn:${Partition}:ec2:${Region}:${Account}:instance/*`, which a policy can
//!   further restrict with `aws:TagKeys` to `PlatformType`, `OSName`, `OSVersion`;
//! - `ssm:AddTagsToResource` on `arn:${Partition}:ssm:${Region}:${Account}:managed-instance/*`.
//!
//! ## Idempotency
//! Tagging is idempotent: a repeated Create, Update or scheduled run sets the same values again.
//! Delete leaves the tags in place (they describe the nodes, not this stack) and touches nothing.

use std::collections::{BTreeMap, HashSet};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_ec2::types::Tag as Ec2Tag;
use aws_sdk_ssm::operation::add_tags_to_resource::AddTagsToResourceError;
use aws_sdk_ssm::types::{ResourceTypeForTagging, Tag as SsmTag};
use aws_setup::AwsError;
use cfn_response::{
    CustomResource, Outcome, Request, Runner, RunnerError, is_custom_resource_request,
};
use futures::stream::{self, StreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

/// `DescribeInstanceInformation` page size: the API's maximum.
pub const DESCRIBE_PAGE_SIZE: i32 = 50;
/// `CreateTags` accepts up to 1000 resource ids per call.
pub const CREATE_TAGS_BATCH: usize = 1000;
/// `CreateTags` calls in flight at once. EC2 throttles mutating calls per account; a few in flight
/// finish a large fleet quickly without provoking `RequestLimitExceeded`.
pub const EC2_IN_FLIGHT: usize = 4;
/// `AddTagsToResource` calls in flight at once; SSM's tagging APIs have a low request rate.
pub const SSM_IN_FLIGHT: usize = 4;
/// AWS allows tag values up to 256 characters.
const MAX_TAG_VALUE: usize = 256;
/// CreateTags' error when an instance id no longer exists. EC2's API models no error types (its
/// errors are codes only: "Error codes for the Amazon EC2 API"), so this one is matched by code.
const EC2_INSTANCE_NOT_FOUND: &str = "InvalidInstanceID.NotFound";

/// The three tags this function sets, as one comparable set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OsTags {
    /// `PlatformType`.
    pub platform_type: String,
    /// `OSName`.
    pub os_name: String,
    /// `OSVersion`.
    pub os_version: String,
}

impl OsTags {
    /// The tags as (key, value) pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            ("PlatformType", self.platform_type.as_str()),
            ("OSName", self.os_name.as_str()),
            ("OSVersion", self.os_version.as_str()),
        ]
    }
}

/// A managed node as `DescribeInstanceInformation` reports it, reduced to what tagging needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `i-...` or `mi-...`.
    pub id: String,
    /// `PlatformType`, if reported.
    pub platform_type: Option<String>,
    /// `PlatformName`, if reported.
    pub platform_name: Option<String>,
    /// `PlatformVersion`, if reported.
    pub platform_version: Option<String>,
}

/// Nodes sorted into what to do with them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// EC2 instance ids by tag set.
    pub ec2: BTreeMap<OsTags, Vec<String>>,
    /// Hybrid nodes with their tags.
    pub hybrid: Vec<(String, OsTags)>,
    /// Nodes without platform name or version yet, or of an unknown kind.
    pub skipped: Vec<String>,
}

impl Plan {
    /// The `CreateTags` batches: each tag set's ids in chunks of [`CREATE_TAGS_BATCH`].
    pub fn ec2_batches(&self) -> Vec<(OsTags, Vec<String>)> {
        self.ec2
            .iter()
            .flat_map(|(tags, ids)| {
                ids.chunks(CREATE_TAGS_BATCH)
                    .map(move |chunk| (tags.clone(), chunk.to_vec()))
            })
            .collect()
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn clip(value: &str) -> String {
    value.chars().take(MAX_TAG_VALUE).collect()
}

/// Sorts nodes into EC2 groups, hybrid nodes and skipped nodes. Pure, so it is tested directly.
pub fn plan(nodes: &[Node]) -> Plan {
    let mut plan = Plan::default();
    let mut seen = HashSet::new();
    for node in nodes {
        // A node listed twice (pages shifting while we read) is tagged once.
        if !seen.insert(node.id.as_str()) {
            continue;
        }
        let (Some(name), Some(version)) = (
            non_empty(node.platform_name.as_deref()),
            non_empty(node.platform_version.as_deref()),
        ) else {
            plan.skipped.push(node.id.clone());
            continue;
        };
        let tags = OsTags {
            platform_type: clip(non_empty(node.platform_type.as_deref()).unwrap_or("Unknown")),
            os_name: clip(name),
            os_version: clip(version),
        };
        if node.id.starts_with("i-") {
            plan.ec2.entry(tags).or_default().push(node.id.clone());
        } else if node.id.starts_with("mi-") {
            plan.hybrid.push((node.id.clone(), tags));
        } else {
            plan.skipped.push(node.id.clone());
        }
    }
    plan
}

/// SSM tag values allow letters, digits, spaces and `_ . : / = + - @` only; anything else (say the
/// parentheses of a distribution's name) is replaced by `_` so the node is still tagged.
pub fn ssm_tag_value(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The instance ids named by an `InvalidInstanceID.NotFound` message:
/// `The instance ID 'i-0123' does not exist` or `The instance IDs 'i-0123, i-0456' do not exist`.
pub fn ids_in_not_found_message(message: &str) -> Vec<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|token| {
            token
                .strip_prefix("i-")
                .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .map(str::to_owned)
        .collect()
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagReport {
    /// EC2 instances tagged.
    pub instances_tagged: usize,
    /// Hybrid (`mi-`) nodes tagged.
    pub managed_instances_tagged: usize,
    /// Nodes without platform details yet, or of an unknown kind.
    pub skipped: usize,
    /// Nodes that disappeared between describe and tag (terminated, deregistered).
    pub vanished: usize,
    /// AWS errors that remained after the SDK's retries, as `<operation> failed for <n> nodes: <code>: <message>`.
    pub failures: Vec<String>,
}

impl TagReport {
    /// The custom resource's `Data`.
    pub fn data(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "InstancesTagged".to_owned(),
                self.instances_tagged.to_string(),
            ),
            (
                "ManagedInstancesTagged".to_owned(),
                self.managed_instances_tagged.to_string(),
            ),
            ("Skipped".to_owned(), self.skipped.to_string()),
            ("Vanished".to_owned(), self.vanished.to_string()),
        ])
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum TaggerError {
    /// The nodes could not be listed: nothing was tagged.
    #[error(
        "ssm:DescribeInstanceInformation failed, nothing was tagged: {0} \
         (check that the function's role allows ssm:DescribeInstanceInformation)"
    )]
    Describe(#[source] AwsError),
    /// Some tagging calls failed; the rest were tagged.
    #[error(
        "tagged {} EC2 instances and {} managed instances, but {} tagging call(s) failed: {}",
        .report.instances_tagged, .report.managed_instances_tagged,
        .report.failures.len(), aws_setup::summarize(&.report.failures, 3)
    )]
    Partial {
        /// What was tagged, and the failures.
        report: Box<TagReport>,
    },
    /// The event is neither a custom resource request nor a scheduled event.
    #[error(
        "unsupported event: expected a CloudFormation custom resource request or an EventBridge \
         \"Scheduled Event\"; got {0}"
    )]
    UnsupportedEvent(String),
    /// The custom resource answer could not be delivered.
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

impl From<TaggerError> for Diagnostic {
    fn from(e: TaggerError) -> Self {
        let error_type = match &e {
            TaggerError::Describe(_) => "DescribeFailed",
            TaggerError::Partial { .. } => "TaggingFailed",
            TaggerError::UnsupportedEvent(_) => "UnsupportedEvent",
            TaggerError::Runner(_) => "CloudFormationUnanswered",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: cfn_response::error_chain(&e),
        }
    }
}

/// The tagger, holding its clients. Build once per process.
#[derive(Debug, Clone)]
pub struct Tagger {
    ssm: aws_sdk_ssm::Client,
    ec2: aws_sdk_ec2::Client,
}

impl Tagger {
    /// A tagger using these clients.
    pub fn new(ssm: aws_sdk_ssm::Client, ec2: aws_sdk_ec2::Client) -> Self {
        Self { ssm, ec2 }
    }

    /// Lists every managed node, 50 per page.
    pub async fn describe_nodes(&self) -> Result<Vec<Node>, AwsError> {
        let mut pages = self
            .ssm
            .describe_instance_information()
            .max_results(DESCRIBE_PAGE_SIZE)
            .into_paginator()
            .send();
        let mut nodes = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::from)?;
            nodes.extend(page.instance_information_list().iter().filter_map(|info| {
                Some(Node {
                    id: info.instance_id()?.to_owned(),
                    platform_type: info.platform_type().map(|p| p.as_str().to_owned()),
                    platform_name: info.platform_name().map(str::to_owned),
                    platform_version: info.platform_version().map(str::to_owned),
                })
            }));
        }
        Ok(nodes)
    }

    /// Tags every managed node. AWS errors on some nodes do not stop the others: they are collected
    /// and make the result an error after everything else is tagged.
    pub async fn tag_all(&self) -> Result<TagReport, TaggerError> {
        let nodes = self.describe_nodes().await.map_err(TaggerError::Describe)?;
        let plan = plan(&nodes);
        info!(
            nodes = nodes.len(),
            ec2_tag_sets = plan.ec2.len(),
            hybrid = plan.hybrid.len(),
            skipped = plan.skipped.len(),
            "planned tagging"
        );
        if !plan.skipped.is_empty() {
            info!(count = plan.skipped.len(), examples = ?plan.skipped.iter().take(5).collect::<Vec<_>>(),
                  "skipping nodes that have not reported their platform yet");
        }
        let mut report = TagReport {
            skipped: plan.skipped.len(),
            ..TagReport::default()
        };

        // EC2 and SSM throttle independently: tag both kinds at the same time.
        let ec2_work = stream::iter(plan.ec2_batches())
            .map(|(tags, ids)| self.tag_ec2_batch(tags, ids))
            .buffer_unordered(EC2_IN_FLIGHT)
            .collect::<Vec<BatchResult>>();
        let hybrid_work = stream::iter(plan.hybrid)
            .map(|(id, tags)| self.tag_hybrid(id, tags))
            .buffer_unordered(SSM_IN_FLIGHT)
            .collect::<Vec<BatchResult>>();
        let (ec2_results, hybrid_results) = futures::join!(ec2_work, hybrid_work);
        for r in ec2_results {
            report.instances_tagged += r.tagged;
            report.vanished += r.vanished;
            report.failures.extend(r.failure);
        }
        let mut hybrid_failures: BTreeMap<String, usize> = BTreeMap::new();
        for r in hybrid_results {
            report.managed_instances_tagged += r.tagged;
            report.vanished += r.vanished;
            if let Some(f) = r.failure {
                *hybrid_failures.entry(f).or_default() += 1;
            }
        }
        // One line per distinct error, not one per node: a missing permission fails them all alike.
        report
            .failures
            .extend(hybrid_failures.into_iter().map(|(f, n)| {
                format!("ssm:AddTagsToResource failed for {n} managed instance(s): {f}")
            }));

        info!(
            instances_tagged = report.instances_tagged,
            managed_instances_tagged = report.managed_instances_tagged,
            skipped = report.skipped,
            vanished = report.vanished,
            failures = report.failures.len(),
            "tagging finished"
        );
        if report.failures.is_empty() {
            Ok(report)
        } else {
            Err(TaggerError::Partial {
                report: Box::new(report),
            })
        }
    }

    /// One `CreateTags` batch; drops instances that no longer exist and retries the rest.
    async fn tag_ec2_batch(&self, tags: OsTags, mut ids: Vec<String>) -> BatchResult {
        let ec2_tags: Vec<Ec2Tag> = tags
            .pairs()
            .iter()
            .map(|(k, v)| Ec2Tag::builder().key(*k).value(*v).build())
            .collect();
        let mut vanished = 0;
        while !ids.is_empty() {
            let result = self
                .ec2
                .create_tags()
                .set_resources(Some(ids.clone()))
                .set_tags(Some(ec2_tags.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    info!(count = ids.len(), os_name = %tags.os_name, os_version = %tags.os_version, "tagged EC2 instances");
                    return BatchResult {
                        tagged: ids.len(),
                        vanished,
                        failure: None,
                    };
                }
                Err(e) => AwsError::from(e),
            };
            if err.is(EC2_INSTANCE_NOT_FOUND) {
                let gone: HashSet<String> =
                    ids_in_not_found_message(&err.message).into_iter().collect();
                let before = ids.len();
                ids.retain(|id| !gone.contains(id));
                let dropped = before - ids.len();
                if dropped > 0 {
                    warn!(dropped, ids = ?gone, "instances vanished before tagging; retrying the rest");
                    vanished += dropped;
                    continue;
                }
            }
            // Nothing identifiable to drop, or another error: report it and move on.
            return BatchResult {
                tagged: 0,
                vanished,
                failure: Some(format!(
                    "ec2:CreateTags failed for {} instance(s): {err}",
                    ids.len()
                )),
            };
        }
        BatchResult {
            tagged: 0,
            vanished,
            failure: None,
        }
    }

    /// One hybrid node.
    async fn tag_hybrid(&self, id: String, tags: OsTags) -> BatchResult {
        let ssm_tags: Vec<SsmTag> = tags
            .pairs()
            .iter()
            .filter_map(|(k, v)| {
                SsmTag::builder()
                    .key(*k)
                    .value(ssm_tag_value(v))
                    .build()
                    .ok()
            })
            .collect();
        let result = self
            .ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::ManagedInstance)
            .resource_id(&id)
            .set_tags(Some(ssm_tags))
            .send()
            .await;
        match result {
            Ok(_) => BatchResult {
                tagged: 1,
                vanished: 0,
                failure: None,
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(AddTagsToResourceError::is_invalid_resource_id) =>
            {
                warn!(instance_id = %id, "managed instance vanished before tagging");
                BatchResult {
                    tagged: 0,
                    vanished: 1,
                    failure: None,
                }
            }
            Err(e) => BatchResult {
                tagged: 0,
                vanished: 0,
                failure: Some(AwsError::from(e).to_string()),
            },
        }
    }
}

struct BatchResult {
    tagged: usize,
    vanished: usize,
    failure: Option<String>,
}

impl CustomResource for Tagger {
    type Error = TaggerError;

    async fn create(&self, request: &Request) -> Result<Outcome, TaggerError> {
        request.set_step("tagging managed nodes");
        let report = self.tag_all().await?;
        Ok(Outcome {
            physical_resource_id: request.current_or_stable_physical_id(),
            data: report.data(),
            no_echo: false,
        })
    }

    async fn update(&self, request: &Request) -> Result<Outcome, TaggerError> {
        // Same work as Create, same id: an update never replaces the tagger.
        self.create(request).await
    }

    async fn delete(&self, request: &Request) -> Result<Outcome, TaggerError> {
        info!("Delete: the OS tags describe the nodes and stay; nothing to do");
        Ok(Outcome::new(request.current_or_stable_physical_id()))
    }
}

/// The payload as an EventBridge scheduled event (a rule's schedule), if it is one.
pub fn scheduled_event(payload: &Value) -> Option<EventBridgeEvent<Value>> {
    serde_json::from_value::<EventBridgeEvent<Value>>(payload.clone())
        .ok()
        .filter(|e| e.detail_type == "Scheduled Event")
}

fn describe_payload(payload: &Value) -> String {
    match payload {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
            format!("an object with keys {keys:?}")
        }
        Value::Null => "null".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::String(_) => "a string".to_owned(),
        _ => "a scalar".to_owned(),
    }
}

/// What an invocation returns: the runner's result for a custom resource request, the tagging
/// report for a scheduled run. The runtime serializes it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// A custom resource request, answered to CloudFormation by the runner.
    CustomResource(Value),
    /// A scheduled run.
    Scheduled(TagReport),
}

/// The Lambda handler: a custom resource request goes to the runner (which always answers
/// CloudFormation); a scheduled event tags and returns the report.
pub async fn handle(
    runner: &Runner<Tagger>,
    event: LambdaEvent<Value>,
) -> Result<Answer, TaggerError> {
    if is_custom_resource_request(&event.payload) {
        return Ok(Answer::CustomResource(runner.handle(event).await?));
    }
    if let Some(schedule) = scheduled_event(&event.payload) {
        info!(rules = ?schedule.resources.unwrap_or_default(), "scheduled run");
        return Ok(Answer::Scheduled(runner.resource().tag_all().await?));
    }
    Err(TaggerError::UnsupportedEvent(describe_payload(
        &event.payload,
    )))
}

#[cfg(test)]
mod tests;
