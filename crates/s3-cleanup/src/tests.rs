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
