//! Unit tests with `aws-smithy-mocks`: retries of exactly the failed keys, missing buckets, and
//! which stack statuses let a Delete empty the buckets. Whole buckets and stacks against the
//! emulator: the workspace's `tests/it/s3_cleanup.rs`.

use super::*;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::types::Stack;
use aws_sdk_s3::operation::delete_objects::DeleteObjectsOutput;
use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput;
use aws_sdk_s3::operation::list_object_versions::{
    ListObjectVersionsError, ListObjectVersionsOutput,
};
use aws_sdk_s3::types::{DeleteMarkerEntry, Error as KeyError, ObjectVersion};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

/// The stack every request of these tests comes from.
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:111122223333:stack/central/1a2b3c4d-0000-0000-0000-000000000000";

/// A CloudFormation client whose `DescribeStacks` of [`STACK_ID`] (and of nothing else) answers
/// that the stack has `status`.
fn stack_in(status: StackStatus) -> (aws_sdk_cloudformation::Client, aws_smithy_mocks::Rule) {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(STACK_ID))
        .then_output(move || {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_id(STACK_ID)
                        .stack_name("central")
                        .stack_status(status.clone())
                        .build(),
                )
                .build()
        });
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe]);
    (cfn, describe)
}

/// A CloudFormation client that must not be called (the stack is being deleted, should it be).
fn no_status_read() -> (aws_sdk_cloudformation::Client, aws_smithy_mocks::Rule) {
    stack_in(StackStatus::DeleteInProgress)
}

fn listing(keys: usize) -> ListObjectVersionsOutput {
    ListObjectVersionsOutput::builder()
        .set_versions(Some(
            (0..keys)
                .map(|i| {
                    ObjectVersion::builder()
                        .key(format!("k{i}"))
                        .version_id(format!("v{i}"))
                        .build()
                })
                .collect(),
        ))
        .delete_markers(
            DeleteMarkerEntry::builder()
                .key("marker")
                .version_id("m1")
                .build(),
        )
        .is_truncated(false)
        .build()
}

fn key_error(key: &str, version: &str) -> KeyError {
    KeyError::builder()
        .key(key)
        .version_id(version)
        .code("InternalError")
        .message("We encountered an internal error")
        .build()
}

#[tokio::test]
async fn failed_keys_and_only_those_are_retried() {
    let list = mock!(aws_sdk_s3::Client::list_object_versions)
        .sequence()
        .output(|| listing(1500))
        .output(|| {
            ListObjectVersionsOutput::builder()
                .is_truncated(false)
                .build()
        })
        .build();
    // 1501 identifiers: two batches; the first answer reports two failed keys.
    let first_batches = mock!(aws_sdk_s3::Client::delete_objects)
        .match_requests(|r| {
            r.delete()
                .is_some_and(|d| d.objects().len() > 2 && d.quiet() == Some(true))
        })
        .sequence()
        .output(|| {
            DeleteObjectsOutput::builder()
                .errors(key_error("k1", "v1"))
                .errors(key_error("k7", "v7"))
                .build()
        })
        .output(|| DeleteObjectsOutput::builder().build())
        .build();
    let retry = mock!(aws_sdk_s3::Client::delete_objects)
        .match_requests(|r| {
            r.delete().is_some_and(|d| {
                let keys: Vec<(&str, Option<&str>)> = d
                    .objects()
                    .iter()
                    .map(|o| (o.key(), o.version_id()))
                    .collect();
                keys == [("k1", Some("v1")), ("k7", Some("v7"))]
            })
        })
        .then_output(|| DeleteObjectsOutput::builder().build());
    let uploads = mock!(aws_sdk_s3::Client::list_multipart_uploads)
        .then_output(|| ListMultipartUploadsOutput::builder().build());
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&list, &first_batches, &retry, &uploads]
    );
    let emptied = Cleanup::new(s3, no_status_read().0)
        .empty("bucket-a", None)
        .await
        .expect("emptied");
    assert_eq!(emptied.versions, 1501);
    assert_eq!(first_batches.num_calls(), 2, "ceil(1501 / 1000)");
    assert_eq!(
        retry.num_calls(),
        1,
        "one retry with exactly the failed keys"
    );
}

#[tokio::test]
async fn keys_that_keep_failing_fail_the_delete_with_the_reason() {
    let list = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| listing(1));
    let failing = mock!(aws_sdk_s3::Client::delete_objects).then_output(|| {
        DeleteObjectsOutput::builder()
            .errors(
                KeyError::builder()
                    .key("k0")
                    .version_id("v0")
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
            .build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &failing]);
    let err = Cleanup::new(s3, no_status_read().0)
        .empty("bucket-b", None)
        .await
        .expect_err("fails");
    let text = err.to_string();
    assert!(
        text.starts_with("deleted 1 object versions from bucket-b, but 1 could not be deleted"),
        "{text}"
    );
    assert!(
        text.contains("k0 (version v0): AccessDenied: Access Denied"),
        "{text}"
    );
    assert_eq!(failing.num_calls(), KEY_ATTEMPTS as usize);
}

#[tokio::test]
async fn a_missing_bucket_is_skipped() {
    let list = mock!(aws_sdk_s3::Client::list_object_versions).then_error(|| {
        ListObjectVersionsError::generic(ErrorMetadata::builder().code("NoSuchBucket").build())
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list]);
    let emptied = Cleanup::new(s3, no_status_read().0)
        .empty("gone", None)
        .await
        .expect("skipped");
    assert!(emptied.missing);
}

/// A request as CloudFormation sends it, from the documented fixture, with these properties (and
/// the old ones on Update: `null` without them, which reads as none).
fn request(kind: &str, properties: serde_json::Value, old: Option<serde_json::Value>) -> Request {
    use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
    let mut request: CfnRequest = serde_json::from_value(fixtures::cfn_request(kind))
        .expect("a request CloudFormation sends");
    let stack_id = STACK_ID;
    // The fields every kind has; the three request types share no trait to set them through.
    macro_rules! common {
        ($r:ident) => {{
            $r.stack_id = stack_id.to_owned();
            $r.logical_resource_id = "BucketCleanup".to_owned();
            $r.resource_type = "Custom::S3Cleanup".to_owned();
            $r.resource_properties = properties;
        }};
    }
    match &mut request {
        CfnRequest::Create(r) => common!(r),
        CfnRequest::Update(r) => {
            common!(r);
            r.physical_resource_id = "central-BucketCleanup".to_owned();
            r.old_resource_properties = old.unwrap_or(serde_json::Value::Null);
        }
        CfnRequest::Delete(r) => {
            common!(r);
            r.physical_resource_id = "central-BucketCleanup".to_owned();
        }
        other => panic!("not a request type of the fixtures: {other:?}"),
    }
    let payload = serde_json::to_value(&request).expect("a request serializes");
    let envelope = cfn_response::Envelope::from_value(&payload).expect("envelope");
    Request::parse(envelope, &payload).expect("request")
}

/// A client with no rules: any S3 call it is asked to make fails the test's expectations.
fn no_calls() -> (aws_sdk_s3::Client, aws_smithy_mocks::Rule) {
    let any = mock!(aws_sdk_s3::Client::list_object_versions).then_output(|| listing(3));
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&any]);
    (s3, any)
}

fn props(empty: Option<&str>) -> serde_json::Value {
    let mut p = serde_json::json!({"BucketNames": ["patch-sync-111122223333-us-east-1-1a2b3c4d"]});
    if let Some(e) = empty {
        p["EmptyOnDelete"] = serde_json::json!(e);
    }
    p
}

#[tokio::test]
async fn a_delete_that_does_not_ask_for_it_deletes_nothing() {
    // "false" (the stack keeps its data), absent (a resource from before the property existed) and
    // unreadable values all keep every object: no AWS call is made at all, not even for the
    // stack's status.
    for empty in [Some("false"), Some("FALSE"), None, Some("maybe"), Some("")] {
        let (s3, any) = no_calls();
        let (cfn, describe) = no_status_read();
        let outcome = Cleanup::new(s3, cfn)
            .delete(&request("Delete", props(empty), None))
            .await
            .expect("succeeds");
        assert_eq!(outcome.physical_resource_id, "central-BucketCleanup");
        assert_eq!(
            any.num_calls(),
            0,
            "EmptyOnDelete {empty:?} made an S3 call"
        );
        assert_eq!(
            describe.num_calls(),
            0,
            "EmptyOnDelete {empty:?} read the stack"
        );
    }
}

/// An S3 client that empties one bucket of 3 versions and a delete marker: the rules, to count
/// the calls made.
struct Bucket {
    s3: aws_sdk_s3::Client,
    list: aws_smithy_mocks::Rule,
    delete: aws_smithy_mocks::Rule,
    uploads: aws_smithy_mocks::Rule,
}

impl Bucket {
    fn new() -> Self {
        let list = mock!(aws_sdk_s3::Client::list_object_versions)
            .sequence()
            .output(|| listing(3))
            .output(|| {
                ListObjectVersionsOutput::builder()
                    .is_truncated(false)
                    .build()
            })
            .build();
        let delete = mock!(aws_sdk_s3::Client::delete_objects)
            .then_output(|| DeleteObjectsOutput::builder().build());
        let uploads = mock!(aws_sdk_s3::Client::list_multipart_uploads)
            .then_output(|| ListMultipartUploadsOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&list, &delete, &uploads]);
        Self {
            s3,
            list,
            delete,
            uploads,
        }
    }

    fn s3_calls(&self) -> usize {
        self.list.num_calls() + self.delete.num_calls() + self.uploads.num_calls()
    }
}

#[tokio::test]
async fn a_delete_that_asks_for_it_empties_the_buckets_while_the_stack_is_deleted() {
    let bucket = Bucket::new();
    let (cfn, describe) = stack_in(StackStatus::DeleteInProgress);
    let outcome = Cleanup::new(bucket.s3.clone(), cfn)
        .delete(&request("Delete", props(Some("true")), None))
        .await
        .expect("emptied");
    assert_eq!(
        describe.num_calls(),
        1,
        "one DescribeStacks, of the request's StackId"
    );
    assert_eq!(bucket.delete.num_calls(), 1);
    assert_eq!(
        outcome
            .data
            .get("ObjectVersionsDeleted")
            .map(String::as_str),
        Some("4")
    );
    assert_eq!(outcome.data.get(KEPT_BECAUSE), None);
}

/// Every stack status a Delete can arrive in, and whether the buckets are emptied: only when the
/// stack itself is going away (its deletion, or the rollback of its failed first create). A
/// Delete sent by an update (the resource renamed, replaced or removed: the update's cleanup, or
/// the cleanup after a failed update's rollback) keeps every object although EmptyOnDelete says
/// "true".
#[tokio::test]
async fn only_a_stack_that_is_going_away_has_its_buckets_emptied() {
    let cases = [
        (StackStatus::DeleteInProgress, true),
        (StackStatus::RollbackInProgress, true),
        (StackStatus::UpdateCompleteCleanupInProgress, false),
        (StackStatus::UpdateRollbackCompleteCleanupInProgress, false),
        (StackStatus::UpdateInProgress, false),
        (StackStatus::UpdateRollbackInProgress, false),
        (StackStatus::UpdateComplete, false),
        (StackStatus::CreateInProgress, false),
        (StackStatus::CreateComplete, false),
        (StackStatus::ImportRollbackInProgress, false),
        (StackStatus::DeleteComplete, false),
        (StackStatus::DeleteFailed, false),
        (StackStatus::RollbackComplete, false),
        (StackStatus::from("SOME_FUTURE_STATUS"), false),
    ];
    for (status, empties) in cases {
        assert_eq!(stack_is_going_away(&status), empties, "{status}");
        let bucket = Bucket::new();
        let (cfn, describe) = stack_in(status.clone());
        let outcome = Cleanup::new(bucket.s3.clone(), cfn)
            .delete(&request("Delete", props(Some("true")), None))
            .await
            .expect("a Delete succeeds in every status");
        assert_eq!(describe.num_calls(), 1, "{status}");
        assert_eq!(outcome.physical_resource_id, "central-BucketCleanup");
        if empties {
            assert_eq!(bucket.delete.num_calls(), 1, "{status}: emptied");
            assert_eq!(outcome.data.get(KEPT_BECAUSE), None, "{status}");
        } else {
            assert_eq!(bucket.s3_calls(), 0, "{status}: no S3 call at all");
            assert_eq!(
                outcome
                    .data
                    .get("ObjectVersionsDeleted")
                    .map(String::as_str),
                Some("0")
            );
            let why = outcome.data.get(KEPT_BECAUSE).expect("says why");
            assert!(
                why.starts_with(&format!("the stack is {status}, not being deleted")),
                "{why}"
            );
        }
    }
}

/// Without the stack's status nothing is deleted (a lost object cannot be brought back), and the
/// Delete still succeeds, saying why: DescribeStacks refused or failing after the SDK's retries,
/// or an answer without a status.
#[tokio::test]
async fn a_delete_whose_stack_status_cannot_be_read_deletes_nothing() {
    let refused = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::111122223333:assumed-role/cleanup/fn is not authorized to perform: cloudformation:DescribeStacks")
                .build(),
        )
    });
    let missing = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message(format!("Stack with id {STACK_ID} does not exist"))
                .build(),
        )
    });
    let empty = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .then_output(|| DescribeStacksOutput::builder().build());
    let no_status = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
        DescribeStacksOutput::builder()
            .stacks(Stack::builder().stack_name("central").build())
            .build()
    });
    let cases = [
        (
            refused,
            "failed: AccessDenied: User: arn:aws:sts::111122223333:assumed-role/cleanup/fn is not authorized",
        ),
        (
            missing,
            "failed: ValidationError: Stack with id arn:aws:cloudformation:us-east-1:111122223333:stack/central/",
        ),
        (empty, "answered no stack status"),
        (no_status, "answered no stack status"),
    ];
    for (rule, expected) in cases {
        let bucket = Bucket::new();
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&rule]);
        let outcome = Cleanup::new(bucket.s3.clone(), cfn)
            .delete(&request("Delete", props(Some("true")), None))
            .await
            .expect("succeeds without deleting");
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(bucket.s3_calls(), 0, "{expected}: no S3 call at all");
        assert_eq!(
            outcome
                .data
                .get("ObjectVersionsDeleted")
                .map(String::as_str),
            Some("0")
        );
        let why = outcome.data.get(KEPT_BECAUSE).expect("says why");
        assert!(
            why.starts_with(&format!(
                "the stack's status could not be read (cloudformation:DescribeStacks on {STACK_ID} "
            )),
            "{why}"
        );
        assert!(why.contains(expected), "{why}");
        assert!(why.contains("so nothing was deleted"), "{why}");
    }
}

#[tokio::test]
async fn an_update_that_toggles_the_choice_deletes_nothing() {
    for (old, new) in [("false", "true"), ("true", "false"), ("true", "true")] {
        let (s3, any) = no_calls();
        let (cfn, describe) = no_status_read();
        let outcome = Cleanup::new(s3, cfn)
            .update(&request("Update", props(Some(new)), Some(props(Some(old)))))
            .await
            .expect("succeeds");
        assert_eq!(
            outcome.physical_resource_id, "central-BucketCleanup",
            "never a replacement"
        );
        assert_eq!(any.num_calls(), 0, "Update {old} -> {new} made an S3 call");
        assert_eq!(
            describe.num_calls(),
            0,
            "Update {old} -> {new} read the stack"
        );
        assert_eq!(
            outcome.data.get(EMPTY_ON_DELETE).map(String::as_str),
            Some(new)
        );
    }
}

#[tokio::test]
async fn create_and_update_require_the_choice() {
    for kind in ["Create", "Update"] {
        let (s3, any) = no_calls();
        let cleanup = Cleanup::new(s3, no_status_read().0);
        for (empty, expected) in [
            (None, "property `EmptyOnDelete` is invalid: it is required"),
            (
                Some("maybe"),
                "property `EmptyOnDelete` is invalid: expected \"true\" or \"false\"",
            ),
        ] {
            let req = request(kind, props(empty), Some(props(Some("true"))));
            let err = if kind == "Create" {
                cleanup.create(&req).await
            } else {
                cleanup.update(&req).await
            }
            .expect_err("refused");
            assert!(err.to_string().starts_with(expected), "{kind}: {err}");
        }
        assert_eq!(any.num_calls(), 0);
    }
}
