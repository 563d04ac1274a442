//! `s3-cleanup` against the emulator's S3 and CloudFormation: versioned, suspended and unversioned
//! buckets end empty while their stack is deleted, an update never empties anything (a renamed
//! cleanup resource's Delete included), a failed first create's rollback empties the buckets it
//! made, the deadline is answered with progress.
//!
//! A Delete empties only while the stack's status says the stack is going away, so every Delete
//! here comes from a real stack of the emulator's CloudFormation: either a stack whose deletion is
//! held open (its own cleanup's Delete left unanswered while the test sends its requests), or the
//! requests the emulator's CloudFormation sends itself, handed to the handler in process as Lambda
//! would run the function.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cfn_response::{Envelope, ResponseBody, Status};
use integration_tests::{CustomResourceRequests, Emulator, isolated, lambda_invocations};
use s3_cleanup::aws_sdk_cloudformation::types::{Capability, StackStatus};
use s3_cleanup::{Cleanup, aws_sdk_cloudformation};
use serde_json::{Value, json};

use crate::support::{Cfn, context};

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    s3: aws_sdk_s3::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    cleanup: Cleanup,
    cr: Cfn<Cleanup>,
}

/// Requests from a stack that does not exist: enough for Create and Update, and for a Delete that
/// keeps the data (none of them reads the stack).
async fn setup() -> Setup {
    let (emulator, region) = isolated();
    let requests = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        "us-east-1",
        "123456789012",
        "central",
        "s3-cleanup",
    );
    let config = emulator.sdk_config(region, 2).await;
    let cleanup = Cleanup::from_config(&config);
    Setup {
        emulator,
        region,
        s3: aws_setup::s3_client(&config),
        cloudformation: aws_sdk_cloudformation::Client::new(&config),
        cr: Cfn::start(cleanup.clone(), requests).await,
        cleanup,
    }
}

/// Requests from a stack of the emulator that is being deleted: the stack `held`, created in the
/// test's Region and left in `DELETE_IN_PROGRESS` until [`Held::finish`].
async fn setup_deleting() -> (Setup, Held) {
    let mut s = setup().await;
    let mut stack = TestStack::create(&s, "held", &template("BucketCleanup", "")).await;
    let delete = stack.begin_delete(&s).await;
    let mut requests = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        s.region,
        "123456789012",
        "held",
        "s3-cleanup",
    );
    requests.stack_id = stack.id.clone();
    s.cr = Cfn::start(s.cleanup.clone(), requests).await;
    (s, Held { stack, delete })
}

/// A stack whose deletion waits for the answer to its cleanup's Delete.
struct Held {
    stack: TestStack,
    delete: Value,
}

impl Held {
    /// Answers the held Delete (the stack's own, empty bucket is emptied) and lets the deletion end.
    async fn finish(mut self, s: &Setup) {
        self.stack.answer(s, &self.delete).await;
        assert_eq!(self.stack.settle(s).await, StackStatus::DeleteComplete);
    }
}

/// A stack of one versioned bucket (`Data`, its name the output `BucketName`) and the cleanup
/// resource `cleanup` over it, `EmptyOnDelete` `"true"`; `extra` resources follow. The function is
/// never run: the test hands each request to the handler itself.
fn template(cleanup: &str, extra: &str) -> String {
    format!(
        r##"
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {{Status: Enabled}}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: {{ZipFile: "# never run: the test answers every request"}}
  {cleanup}:
    Type: Custom::S3Cleanup
    Properties:
      ServiceToken: !GetAtt Function.Arn
      ServiceTimeout: 120
      EmptyOnDelete: "true"
      BucketNames: [!Ref Data]
{extra}
Outputs:
  BucketName: {{Value: !Ref Data}}
"##
    )
}

/// What a test stack's request was: its type, its resource and the stack's status when answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    request_type: String,
    logical_id: String,
    stack_status: StackStatus,
}

/// A stack of the emulator's CloudFormation whose custom resource requests the test answers: the
/// emulator records each invocation of the function (no Lambda runner is registered), and the
/// test hands its payload to the cleanup's handler, whose answer goes to the emulator's
/// ResponseURL as the function's would.
struct TestStack {
    name: String,
    id: String,
    /// RequestIds taken (answered, or held by the test).
    taken: HashSet<String>,
    /// Every request answered by the handler, in order.
    served: Vec<Served>,
}

fn field<'a>(payload: &'a Value, name: &str) -> &'a str {
    payload
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl TestStack {
    /// Creates the stack and answers its requests until the creation ends, which must succeed.
    async fn create(s: &Setup, name: &str, body: &str) -> Self {
        let mut stack = Self::start(s, name, body).await;
        assert_eq!(stack.settle(s).await, StackStatus::CreateComplete);
        stack
    }

    /// Starts creating the stack; its requests wait for the test.
    async fn start(s: &Setup, name: &str, body: &str) -> Self {
        let out = s
            .cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(body)
            .capabilities(Capability::CapabilityIam)
            .send()
            .await
            .expect("CreateStack");
        Self {
            name: name.to_owned(),
            id: out.stack_id().expect("a stack id").to_owned(),
            taken: HashSet::new(),
            served: Vec::new(),
        }
    }

    /// Updates the stack to `body`; its requests are answered until the update ends.
    async fn update(&mut self, s: &Setup, body: &str) -> StackStatus {
        s.cloudformation
            .update_stack()
            .stack_name(&self.id)
            .template_body(body)
            .capabilities(Capability::CapabilityIam)
            .send()
            .await
            .expect("UpdateStack");
        self.settle(s).await
    }

    /// Starts deleting the stack and returns its first Delete request, unanswered: the stack stays
    /// in `DELETE_IN_PROGRESS`, waiting for it.
    async fn begin_delete(&mut self, s: &Setup) -> Value {
        s.cloudformation
            .delete_stack()
            .stack_name(&self.id)
            .send()
            .await
            .expect("DeleteStack");
        let held = self
            .next_request(s, |p| field(p, "RequestType") == "Delete")
            .await;
        assert_eq!(self.status(s).await, StackStatus::DeleteInProgress);
        held
    }

    async fn status(&self, s: &Setup) -> StackStatus {
        s.cloudformation
            .describe_stacks()
            .stack_name(&self.id)
            .send()
            .await
            .expect("DescribeStacks")
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .cloned()
            .expect("a status")
    }

    /// The physical id of a resource of the stack.
    async fn physical_id(&self, s: &Setup, logical_id: &str) -> String {
        s.cloudformation
            .describe_stack_resource()
            .stack_name(&self.id)
            .logical_resource_id(logical_id)
            .send()
            .await
            .expect("DescribeStackResource")
            .stack_resource_detail()
            .and_then(|r| r.physical_resource_id())
            .expect("a physical id")
            .to_owned()
    }

    async fn output(&self, s: &Setup, key: &str) -> String {
        let out = s
            .cloudformation
            .describe_stacks()
            .stack_name(&self.id)
            .send()
            .await
            .expect("DescribeStacks");
        out.stacks()
            .first()
            .into_iter()
            .flat_map(|stack| stack.outputs())
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap_or_else(|| panic!("no output {key}"))
            .to_owned()
    }

    /// Requests for this stack the emulator recorded and nobody took yet, oldest first (a request
    /// appears once per attempt of the asynchronous invocation: one is kept).
    async fn new_requests(&mut self, s: &Setup) -> Vec<Value> {
        let invocations = lambda_invocations(s.emulator).await.expect("invocations");
        let mut fresh = Vec::new();
        for invocation in invocations {
            let payload = &invocation["payload"];
            if field(payload, "StackId") == self.id
                && self.taken.insert(field(payload, "RequestId").to_owned())
            {
                fresh.push(payload.clone());
            }
        }
        fresh
    }

    /// Hands `payload` to the cleanup's handler; its one answer goes to the payload's ResponseURL.
    async fn answer(&mut self, s: &Setup, payload: &Value) {
        let stack_status = self.status(s).await;
        let runner = cfn_response::Runner::new(s.cleanup.clone()).expect("runner");
        runner
            .handle_payload(payload, &context(Duration::from_secs(60)))
            .await
            .expect("answered");
        self.served.push(Served {
            request_type: field(payload, "RequestType").to_owned(),
            logical_id: field(payload, "LogicalResourceId").to_owned(),
            stack_status,
        });
    }

    /// Answers every request until one matching `wanted` arrives, which is returned unanswered.
    async fn next_request(&mut self, s: &Setup, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for payload in self.new_requests(s).await {
                if wanted(&payload) {
                    return payload;
                }
                self.answer(s, &payload).await;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no such request came",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Answers every request until the stack's operation ends; returns the status it ended in.
    async fn settle(&mut self, s: &Setup) -> StackStatus {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            for payload in self.new_requests(s).await {
                self.answer(s, &payload).await;
            }
            let status = self.status(s).await;
            if !status.as_str().ends_with("_IN_PROGRESS") {
                return status;
            }
            assert!(Instant::now() < deadline, "{} is still {status}", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The request types and resources the handler answered, with the stack's status then.
    fn served(&self) -> Vec<(&str, &str, &str)> {
        self.served
            .iter()
            .map(|r| {
                (
                    r.request_type.as_str(),
                    r.logical_id.as_str(),
                    r.stack_status.as_str(),
                )
            })
            .collect()
    }
}

/// Answers a request as a failing function would: FAILED with `reason`.
async fn fail(payload: &Value, reason: &str) {
    let envelope = Envelope::from_value(payload).expect("answerable");
    let mut body = ResponseBody::failed(&envelope, reason);
    reqwest::Client::new()
        .put(&envelope.response_url)
        .header("Content-Type", "")
        .body(body.to_json_within_limit())
        .send()
        .await
        .expect("PUT")
        .error_for_status()
        .expect("accepted");
}

impl Setup {
    fn bucket(&self, name: &str) -> String {
        format!("{name}-{}", self.region)
    }

    async fn create_bucket(
        &self,
        name: &str,
        versioning: Option<BucketVersioningStatus>,
    ) -> String {
        let bucket = self.bucket(name);
        let mut create = self.s3.create_bucket().bucket(&bucket);
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        self.region,
                    ))
                    .build(),
            );
        }
        create.send().await.expect("CreateBucket");
        if let Some(status) = versioning {
            self.s3
                .put_bucket_versioning()
                .bucket(&bucket)
                .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                .send()
                .await
                .expect("PutBucketVersioning");
        }
        bucket
    }

    async fn put(&self, bucket: &str, key: &str, times: usize) {
        for i in 0..times {
            self.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(format!("version {i}").into_bytes()))
                .send()
                .await
                .expect("PutObject");
        }
    }

    async fn delete_marker(&self, bucket: &str, key: &str) {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("DeleteObject");
    }

    async fn versions_left(&self, bucket: &str) -> usize {
        let out = self
            .s3
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .expect("ListObjectVersions");
        out.versions().len() + out.delete_markers().len()
    }

    async fn uploads_left(&self, bucket: &str) -> usize {
        self.s3
            .list_multipart_uploads()
            .bucket(bucket)
            .send()
            .await
            .expect("ListMultipartUploads")
            .uploads()
            .len()
    }

    /// A request whose properties ask for the buckets to be emptied on Delete.
    async fn cfn(&self, kind: &str, buckets: Value, timeout: Duration) -> ResponseBody {
        self.cfn_with(
            kind,
            json!({"BucketNames": buckets, "EmptyOnDelete": "true"}),
            None,
            timeout,
        )
        .await
    }

    async fn cfn_with(
        &self,
        kind: &str,
        properties: Value,
        old: Option<Value>,
        timeout: Duration,
    ) -> ResponseBody {
        let physical_id = (kind != "Create").then_some("central-BucketCleanup");
        let request = self.cr.request(kind, physical_id, properties, old);
        self.cr.send_raw(&request, timeout).await
    }
}

#[tokio::test]
async fn create_and_update_check_names_and_delete_nothing() {
    let s = setup().await;
    let bucket = s
        .create_bucket("kept", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&bucket, "a.json", 2).await;
    s.emulator.reset_calls(s.region).await.expect("reset");

    let created = s
        .cfn("Create", json!([bucket]), Duration::from_secs(60))
        .await;
    assert_eq!(created.status, Status::Success);
    assert_eq!(created.physical_resource_id, "central-BucketCleanup");
    // A changed bucket list is still the same resource: same id, nothing emptied.
    let updated = s
        .cfn(
            "Update",
            json!(format!("{bucket}, other-bucket")),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(updated.status, Status::Success);
    assert_eq!(
        updated.physical_resource_id, "central-BucketCleanup",
        "never a replacement"
    );
    let calls = s.emulator.calls(s.region).await.expect("calls");
    assert!(
        calls.is_empty(),
        "Create and Update make no S3 call: {calls:?}"
    );
    assert_eq!(s.versions_left(&bucket).await, 2);

    let bad = s
        .cfn("Create", json!(["Bad_Bucket"]), Duration::from_secs(60))
        .await;
    assert_eq!(bad.status, Status::Failed);
    assert!(
        bad.reason
            .as_deref()
            .expect("reason")
            .contains("property `BucketNames` is invalid")
    );
}

/// The data-loss regression of a conditional cleanup resource: switching the stack to "keep the
/// data" in either direction, then deleting it with the data kept, deletes nothing.
#[tokio::test]
async fn keeping_the_data_is_a_property_and_no_update_or_kept_delete_deletes() {
    let s = setup().await;
    let bucket = s
        .create_bucket("history", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&bucket, "AWSLogs/111122223333/Config/snapshot.json.gz", 3)
        .await;
    s.emulator.reset_calls(s.region).await.expect("reset");
    let with = |empty: &str| json!({"BucketNames": [bucket], "EmptyOnDelete": empty});

    let created = s
        .cfn_with("Create", with("true"), None, Duration::from_secs(60))
        .await;
    assert_eq!(created.status, Status::Success, "{created:?}");
    assert_eq!(
        created.data.get("EmptyOnDelete").map(String::as_str),
        Some("true")
    );
    for (old, new) in [("true", "false"), ("false", "true"), ("true", "false")] {
        let updated = s
            .cfn_with(
                "Update",
                with(new),
                Some(with(old)),
                Duration::from_secs(60),
            )
            .await;
        assert_eq!(updated.status, Status::Success, "{updated:?}");
        assert_eq!(updated.physical_resource_id, "central-BucketCleanup");
    }
    // The stack is deleted with the data kept (its last properties say "false"), and a resource
    // from before the property existed (no EmptyOnDelete at all) keeps it too.
    for properties in [with("false"), json!({"BucketNames": [bucket]})] {
        let deleted = s
            .cfn_with("Delete", properties, None, Duration::from_secs(60))
            .await;
        assert_eq!(deleted.status, Status::Success, "{deleted:?}");
        assert_eq!(
            deleted
                .data
                .get("ObjectVersionsDeleted")
                .map(String::as_str),
            Some("0")
        );
    }
    let calls = s.emulator.calls(s.region).await.expect("calls");
    assert!(calls.is_empty(), "nothing touched S3: {calls:?}");
    assert_eq!(s.versions_left(&bucket).await, 3, "every version kept");

    // Created without saying what its Delete does: refused before anything exists.
    let unsaid = s
        .cfn_with(
            "Create",
            json!({"BucketNames": [bucket]}),
            None,
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(unsaid.status, Status::Failed);
    assert!(
        unsaid
            .reason
            .as_deref()
            .expect("reason")
            .contains("property `EmptyOnDelete` is invalid: it is required"),
        "{unsaid:?}"
    );
}

#[tokio::test]
async fn delete_empties_versioned_suspended_and_unversioned_buckets() {
    let (s, held) = setup_deleting().await;
    let versioned = s
        .create_bucket("versioned", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&versioned, "a.json", 3).await;
    s.put(&versioned, "b.json", 1).await;
    s.delete_marker(&versioned, "b.json").await;
    let upload =
        s.s3.create_multipart_upload()
            .bucket(&versioned)
            .key("big.bin")
            .send()
            .await
            .expect("CreateMultipartUpload");
    assert!(upload.upload_id().is_some());

    let suspended = s
        .create_bucket("suspended", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&suspended, "a.json", 2).await;
    s.s3.put_bucket_versioning()
        .bucket(&suspended)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("suspend");
    s.put(&suspended, "a.json", 1).await;
    s.put(&suspended, "c.json", 1).await;

    let plain = s.create_bucket("plain", None).await;
    s.put(&plain, "x.json", 1).await;
    s.put(&plain, "y.json", 1).await;

    let answer = s
        .cfn(
            "Delete",
            json!([versioned, suspended, plain, s.bucket("never-existed")]),
            Duration::from_secs(120),
        )
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(
        answer.data.get("UploadsAborted").map(String::as_str),
        Some("1")
    );
    for bucket in [&versioned, &suspended, &plain] {
        assert_eq!(s.versions_left(bucket).await, 0, "{bucket} is empty");
    }
    assert_eq!(s.uploads_left(&versioned).await, 0);
    // Every version counted: 3 + 1 + a marker; 2 from before the suspension + "null" + 1; 2.
    assert_eq!(
        answer.data.get("ObjectVersionsDeleted").map(String::as_str),
        Some("11")
    );

    // A repeated Delete finds nothing to do.
    let again = s
        .cfn("Delete", json!([versioned]), Duration::from_secs(60))
        .await;
    assert_eq!(
        again.data.get("ObjectVersionsDeleted").map(String::as_str),
        Some("0")
    );
    held.finish(&s).await;
}

#[tokio::test]
async fn running_short_of_time_answers_with_progress() {
    let (s, held) = setup_deleting().await;
    let bucket = s
        .create_bucket("slow", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&bucket, "a.json", 5).await;
    // A 4-second function leaves less than the reserve before the work deadline: the cleanup
    // stops before deleting and says how much is left, instead of being killed without an answer.
    let answer = s
        .cfn("Delete", json!([bucket]), Duration::from_secs(4))
        .await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.starts_with(&format!(
            "deleted 0 object versions from {bucket}, about 5 remain"
        )),
        "{reason}"
    );
    assert_eq!(
        s.versions_left(&bucket).await,
        5,
        "nothing lost, nothing half-done"
    );
    held.finish(&s).await;
}

#[tokio::test]
async fn keys_an_answer_reports_as_failed_are_retried_alone() {
    let (s, held) = setup_deleting().await;
    let bucket = s
        .create_bucket("flaky", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&bucket, "a.json", 2).await;
    s.put(&bucket, "b.json", 1).await;
    s.emulator
        .s3_delete_fault(
            &bucket,
            &["a.json"],
            "InternalError",
            "We encountered an internal error",
        )
        .await
        .expect("fault");
    s.emulator.reset_calls(s.region).await.expect("reset");
    let answer = s
        .cfn("Delete", json!([bucket]), Duration::from_secs(60))
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(s.versions_left(&bucket).await, 0);
    let calls = s.emulator.calls(s.region).await.expect("calls");
    assert_eq!(
        calls.get("s3:DeleteObjects"),
        Some(&2),
        "one batch, one retry of the failed key: {calls:?}"
    );
    held.finish(&s).await;
}

/// A Delete whose properties ask to empty the buckets, from a stack that is not being deleted
/// (created and left as it is) or whose status cannot be read (a stack that does not exist):
/// SUCCESS, no S3 call, every version kept, and the answer says why.
#[tokio::test]
async fn a_delete_while_the_stack_stays_keeps_every_object() {
    let s = setup().await;
    let bucket = s
        .create_bucket("stays", Some(BucketVersioningStatus::Enabled))
        .await;
    s.put(&bucket, "a.json", 3).await;
    let stack = TestStack::create(&s, "stays", &template("BucketCleanup", "")).await;
    let mut standing = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        s.region,
        "123456789012",
        "stays",
        "s3-cleanup",
    );
    standing.stack_id = stack.id.clone();
    let standing = Cfn::start(s.cleanup.clone(), standing).await;
    s.emulator.reset_calls(s.region).await.expect("reset");

    let properties = json!({"BucketNames": [bucket], "EmptyOnDelete": "true"});
    let physical_id = Some("central-BucketCleanup");
    for (cr, why) in [
        (
            &standing,
            "the stack is CREATE_COMPLETE, not being deleted".to_owned(),
        ),
        (
            &s.cr,
            format!(
                "the stack's status could not be read (cloudformation:DescribeStacks on {} failed: \
                 ValidationError: Stack with id {0} does not exist), so nothing was deleted",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/central/0a1b2c3d"
            ),
        ),
    ] {
        let answer = cr
            .send("Delete", physical_id, properties.clone(), None)
            .await;
        assert_eq!(answer.status, Status::Success, "{answer:?}");
        let kept = answer.data.get("KeptBecause").expect("says why");
        assert!(kept.starts_with(&why), "{kept}");
        assert_eq!(
            answer.data.get("ObjectVersionsDeleted").map(String::as_str),
            Some("0")
        );
    }
    let calls = s.emulator.calls(s.region).await.expect("calls");
    assert!(
        calls.keys().all(|k| !k.starts_with("s3:")),
        "no S3 call: {calls:?}"
    );
    assert_eq!(calls.get("cloudformation:DescribeStacks"), Some(&2));
    assert_eq!(s.versions_left(&bucket).await, 3, "every version kept");
}

/// Issue #23: an update that renames the cleanup resource (a new logical id) makes CloudFormation
/// create the new one and delete the old one in the update's cleanup, a Delete whose properties
/// say "true": every object stays. So does a renaming update that fails and rolls back, whose
/// cleanup deletes the new resource. Deleting the stack then empties the bucket and removes it.
#[tokio::test]
async fn an_update_that_renames_the_cleanup_resource_keeps_every_object() {
    let s = setup().await;
    let mut stack = TestStack::create(&s, "renamed", &template("BucketCleanup", "")).await;
    let bucket = stack.output(&s, "BucketName").await;
    s.put(&bucket, "AWSLogs/111122223333/Config/history.json.gz", 3)
        .await;
    s.delete_marker(&bucket, "AWSLogs/111122223333/Config/history.json.gz")
        .await;
    s.put(&bucket, "inventory/AWS:Tag/x.json", 1).await;

    assert_eq!(
        stack.update(&s, &template("Cleanup", "")).await,
        StackStatus::UpdateComplete
    );
    assert_eq!(
        stack.served()[1..],
        [
            ("Create", "Cleanup", "UPDATE_IN_PROGRESS"),
            (
                "Delete",
                "BucketCleanup",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            ),
        ]
    );
    assert_eq!(s.versions_left(&bucket).await, 5, "every version kept");

    // Renamed again, and the update fails on a resource after the new cleanup: the rollback's
    // cleanup deletes the cleanup the update made.
    let failing = "  Fails:\n    Type: Custom::Fails\n    DependsOn: Renamed\n    Properties:\n      \
                   ServiceToken: !GetAtt Function.Arn\n";
    s.cloudformation
        .update_stack()
        .stack_name(&stack.id)
        .template_body(template("Renamed", failing))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .expect("UpdateStack");
    let fails = stack
        .next_request(&s, |p| field(p, "LogicalResourceId") == "Fails")
        .await;
    fail(&fails, "refused by the test").await;
    assert_eq!(stack.settle(&s).await, StackStatus::UpdateRollbackComplete);
    assert_eq!(
        stack.served()[3..],
        [
            ("Create", "Renamed", "UPDATE_IN_PROGRESS"),
            (
                "Delete",
                "Fails",
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
            ),
            (
                "Delete",
                "Renamed",
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
            ),
        ]
    );
    assert_eq!(s.versions_left(&bucket).await, 5, "every version kept");

    // The stack's deletion empties the bucket, and CloudFormation can delete it.
    s.cloudformation
        .delete_stack()
        .stack_name(&stack.id)
        .send()
        .await
        .expect("DeleteStack");
    assert_eq!(stack.settle(&s).await, StackStatus::DeleteComplete);
    assert_eq!(
        stack.served().last(),
        Some(&("Delete", "Cleanup", "DELETE_IN_PROGRESS"))
    );
    assert!(
        s.s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "{bucket} was emptied and deleted with the stack"
    );
}

/// A stack whose first create fails after the cleanup resource was created rolls back
/// (`ROLLBACK_IN_PROGRESS`): the stack is going away, and the buckets it just created are
/// emptied so that the rollback can delete them.
#[tokio::test]
async fn a_failed_first_create_rolls_back_with_its_buckets_emptied() {
    let s = setup().await;
    let failing = "  Fails:\n    Type: Custom::Fails\n    DependsOn: BucketCleanup\n    Properties:\n      \
                   ServiceToken: !GetAtt Function.Arn\n";
    let mut stack = TestStack::start(&s, "rolled-back", &template("BucketCleanup", failing)).await;
    let fails = stack
        .next_request(&s, |p| field(p, "LogicalResourceId") == "Fails")
        .await;
    // Data arrived while the stack was being created.
    let bucket = stack.physical_id(&s, "Data").await;
    s.put(&bucket, "inventory/AWS:Tag/x.json", 2).await;
    fail(&fails, "refused by the test").await;
    assert_eq!(stack.settle(&s).await, StackStatus::RollbackComplete);
    assert_eq!(
        stack.served(),
        [
            ("Create", "BucketCleanup", "CREATE_IN_PROGRESS"),
            ("Delete", "Fails", "ROLLBACK_IN_PROGRESS"),
            ("Delete", "BucketCleanup", "ROLLBACK_IN_PROGRESS"),
        ]
    );
    assert!(
        s.s3.head_bucket().bucket(&bucket).send().await.is_err(),
        "{bucket} was emptied and deleted by the rollback"
    );
}
