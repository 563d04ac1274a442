//! Unit tests: retries of exactly the failed keys, and missing buckets, with `aws-smithy-mocks`.
//! Whole buckets against the emulator: the workspace's `tests/it/s3_cleanup.rs`.

use super::*;
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
    let emptied = Cleanup::new(s3)
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
    let err = Cleanup::new(s3)
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
    let emptied = Cleanup::new(s3).empty("gone", None).await.expect("skipped");
    assert!(emptied.missing);
}

/// A request as CloudFormation sends it, from the documented fixture, with these properties (and
/// the old ones on Update: `null` without them, which reads as none).
fn request(kind: &str, properties: serde_json::Value, old: Option<serde_json::Value>) -> Request {
    use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
    let mut request: CfnRequest = serde_json::from_value(fixtures::cfn_request(kind))
        .expect("a request CloudFormation sends");
    let stack_id = "arn:aws:cloudformation:us-east-1:111122223333:stack/central/1a2b3c4d-0000-0000-0000-000000000000";
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
    // unreadable values all keep every object: no S3 call is made at all.
    for empty in [Some("false"), Some("FALSE"), None, Some("maybe"), Some("")] {
        let (s3, any) = no_calls();
        let outcome = Cleanup::new(s3)
            .delete(&request("Delete", props(empty), None))
            .await
            .expect("succeeds");
        assert_eq!(outcome.physical_resource_id, "central-BucketCleanup");
        assert_eq!(
            any.num_calls(),
            0,
            "EmptyOnDelete {empty:?} made an S3 call"
        );
    }
}

#[tokio::test]
async fn a_delete_that_asks_for_it_empties_the_buckets() {
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
    let outcome = Cleanup::new(s3)
        .delete(&request("Delete", props(Some("true")), None))
        .await
        .expect("emptied");
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(
        outcome
            .data
            .get("ObjectVersionsDeleted")
            .map(String::as_str),
        Some("4")
    );
}

#[tokio::test]
async fn an_update_that_toggles_the_choice_deletes_nothing() {
    for (old, new) in [("false", "true"), ("true", "false"), ("true", "true")] {
        let (s3, any) = no_calls();
        let outcome = Cleanup::new(s3)
            .update(&request("Update", props(Some(new)), Some(props(Some(old)))))
            .await
            .expect("succeeds");
        assert_eq!(
            outcome.physical_resource_id, "central-BucketCleanup",
            "never a replacement"
        );
        assert_eq!(any.num_calls(), 0, "Update {old} -> {new} made an S3 call");
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
        let cleanup = Cleanup::new(s3);
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
