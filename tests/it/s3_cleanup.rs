//! `s3-cleanup` against the emulator's S3: versioned, suspended and unversioned buckets end empty,
//! an update never empties anything, the deadline is answered with progress.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use cfn_response::{ResponseBody, Status};
use integration_tests::{CustomResourceRequests, Emulator, isolated};
use s3_cleanup::Cleanup;
use serde_json::{Value, json};

use crate::support::Cfn;

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    s3: aws_sdk_s3::Client,
    cr: Cfn<Cleanup>,
}

async fn setup() -> Setup {
    let (emulator, region) = isolated();
    let s3 = aws_setup::s3_client(&emulator.sdk_config(region, 2).await);
    let requests = CustomResourceRequests::new(
        "Custom::S3Cleanup",
        "BucketCleanup",
        "us-east-1",
        "123456789012",
        "central",
        "s3-cleanup",
    );
    Setup {
        emulator,
        region,
        cr: Cfn::start(Cleanup::new(s3.clone()), requests).await,
        s3,
    }
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
    let s = setup().await;
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
}

#[tokio::test]
async fn running_short_of_time_answers_with_progress() {
    let s = setup().await;
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
}

#[tokio::test]
async fn keys_an_answer_reports_as_failed_are_retried_alone() {
    let s = setup().await;
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
}
