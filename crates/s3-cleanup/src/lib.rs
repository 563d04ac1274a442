//! # s3-cleanup
//!
//! Empties the buckets a stack owns when the stack itself is deleted and its properties ask for it,
//! so that CloudFormation can delete them: every object version, every delete marker and every
//! in-progress multipart upload, in versioned, versioning-suspended and unversioned buckets alike.
//!
//! Two things must agree before anything is deleted: the properties (the user's choice) and the
//! stack's status (what the Delete is for). CloudFormation sends a custom resource a Delete "when
//! the template developer deletes the stack or removes the custom resource from the stack", and
//! after an update that replaced it ("sends a delete request to the old resource"; User Guide,
//! custom resources, `crpg-ref-requesttypes-delete.html`). The request does not say which, so the
//! function asks CloudFormation for the stack's status.
//!
//! The choice is a property, not the resource's existence. A template that created the resource
//! only when data was to be deleted (a `Condition` on the parameter) turned an update to "keep the
//! data" into a removal of the resource, so CloudFormation sent a Delete and the buckets were
//! emptied: the opposite of what was asked, and AWS Config history cannot be regenerated. Here the
//! resource always exists, only a Delete whose `EmptyOnDelete` is `"true"` deletes anything, and
//! only while the stack itself is going away: a Delete sent by an update (the resource renamed,
//! replaced or removed, whatever its properties say) keeps every object.
//!
//! ## Trigger
//! CloudFormation custom resource (`Custom::S3Cleanup`):
//! ```json
//! {"RequestType": "Delete", "ResponseURL": "https://...", "StackId": "arn:...:stack/central/...",
//!  "RequestId": "...", "LogicalResourceId": "BucketCleanup", "PhysicalResourceId": "central-BucketCleanup",
//!  "ResourceType": "Custom::S3Cleanup",
//!  "ResourceProperties": {"BucketNames": ["sync-bucket-111122223333", "athena-results-111122223333"],
//!    "EmptyOnDelete": "true"}}
//! ```
//!
//! ## Properties
//! - `BucketNames`: a list of bucket names (a comma-separated string is also accepted): only
//!   buckets the same stack creates, named by `Ref`, so that they exist no longer than the stack.
//! - `EmptyOnDelete`: `"true"` empties the buckets when the stack is deleted; `"false"` keeps
//!   every object. Required on Create and Update; a Delete whose properties lack it, or hold
//!   anything but `"true"`, keeps everything.
//!
//! ## Environment
//! None of its own: the SDK's standard variables (`AWS_REGION`, the execution role's credentials,
//! `AWS_ENDPOINT_URL` for a local emulator).
//!
//! ## Behaviour
//! - Physical id: `<stack name>-<logical id>`, independent of the properties, so an Update is
//!   never a replacement and a property change never empties a bucket (the reference's log-stream
//!   id did).
//! - Create and Update: check the properties; delete nothing, whatever `EmptyOnDelete` changes
//!   from or to (an Update makes no AWS call at all).
//! - Delete with `EmptyOnDelete` `"false"` or absent: no AWS call; every bucket keeps its data.
//! - Delete with `EmptyOnDelete` `"true"`: `cloudformation:DescribeStacks` on the request's StackId
//!   first; the buckets are emptied only when the stack's status says the stack is going away
//!   (User Guide, "Stack status codes", `view-stack-events.html`):
//!   - `DELETE_IN_PROGRESS` ("Ongoing removal of one or more stacks"): the stack is being deleted.
//!     Emptied.
//!   - `ROLLBACK_IN_PROGRESS` ("Ongoing removal of one or more stacks after a failed stack creation
//!     or after an explicitly cancelled stack creation"): the stack's first create failed and the
//!     stack is going away (`ROLLBACK_COMPLETE`: "Any resources that were created during the create
//!     stack action are deleted ... only a delete operation can be performed"). Every bucket named
//!     by `Ref` was created by that same failed create, minutes earlier, and goes with it; keeping
//!     its objects would only make the rollback fail on a non-empty bucket (`ROLLBACK_FAILED`),
//!     with this resource already gone and unable to empty it later. Emptied.
//!   - `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` ("Ongoing removal of old resources ... after a
//!     successful stack update"; the resource was renamed, replaced or removed),
//!     `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS` ("Ongoing removal of new resources ... after
//!     a failed stack update"), and every other status: the stack stays, and so do its buckets and
//!     their data. Nothing is deleted; the answer is SUCCESS, logged with the status.
//!   - `DescribeStacks` fails (after the SDK's retries) or answers no status: nothing is deleted
//!     and the answer is SUCCESS, so that no update or rollback is ever held up by it. The reason
//!     is logged as a warning and returned in `Data` (`KeptBecause`; the protocol crate sends no
//!     `Reason` with SUCCESS). When that happens during a stack deletion, the stack's deletion
//!     then fails on the non-empty buckets and they must be emptied by hand: data is never lost
//!     for want of a status, at the price of manual work.
//!
//!   When emptying: for each bucket (a bucket that does not exist is skipped), list up to
//!   [`ROUND_LIMIT`] versions and delete markers (`ListObjectVersions`, paginated), delete them
//!   with `DeleteObjects` (1000 keys a call, [`DELETES_IN_FLIGHT`] calls in flight, quiet mode),
//!   retry exactly the keys an answer's `Errors` names, abort in-progress multipart uploads, and
//!   list again until the bucket is empty. `DeleteObjects` calls: ceil(versions / 1000) plus
//!   retries of failed keys only; one `DescribeStacks` per Delete.
//! - Deadline-aware: when the time left runs short it stops and answers FAILED with its progress
//!   (`deleted N object versions from <bucket>, about M remain`); deleting the stack again
//!   resumes.
//!
//! Answer `Data`: `ObjectVersionsDeleted`, `UploadsAborted` and, when a Delete kept the data,
//! `KeptBecause` (Delete); `EmptyOnDelete` (Create, Update).
//!
//! ## IAM actions
//! On each bucket: `s3:ListBucketVersions`, `s3:ListBucketMultipartUploads`; on its objects
//! (`arn:${Partition}:s3:::<bucket>/*`): `s3:DeleteObject`, `s3:DeleteObjectVersion`,
//! `s3:AbortMultipartUpload`; on the stack itself (its own ARN, the request's StackId, which the
//! template writes as `!Ref AWS::StackId`): `cloudformation:DescribeStacks`. All of them only while
//! the stack's data is to be deleted with it: a Delete that keeps the data makes no call.
//!
//! ## Idempotency
//! Emptying an empty bucket does nothing; a repeated Delete converges (while the stack is being
//! deleted it empties what is left; once the stack stays, it keeps everything).

use std::time::Duration;

/// The SDK of [`Cleanup::new`]'s CloudFormation client, for callers that build one.
pub use aws_sdk_cloudformation;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_setup::names::check_bucket_name;
use aws_setup::{AwsError, SdkConfig};
use cfn_response::{CustomResource, Outcome, PropertyError, Request};
use futures::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::{info, warn};

/// The property that carries the user's choice to delete the data with the stack.
pub const EMPTY_ON_DELETE: &str = "EmptyOnDelete";
/// The `Data` entry of a Delete that kept the data although its properties asked to empty the
/// buckets: why.
pub const KEPT_BECAUSE: &str = "KeptBecause";

/// `DeleteObjects` takes up to 1000 keys.
pub const DELETE_BATCH: usize = 1000;
/// S3's code for a bucket that does not exist. ListObjectVersions models no error types in the S3
/// API (its SDK error has only `Unhandled`), so this one is matched by code.
const S3_NO_SUCH_BUCKET: &str = "NoSuchBucket";
/// `DeleteObjects` calls in flight per bucket.
pub const DELETES_IN_FLIGHT: usize = 4;
/// Versions listed before deleting them, bounding memory for buckets of any size (25,000
/// identifiers are a few MiB; listing again after a round costs no extra call, because the deleted
/// versions are gone from the listing).
pub const ROUND_LIMIT: usize = 25_000;
/// Attempts for keys an answer reports as failed.
pub const KEY_ATTEMPTS: u32 = 3;
/// Stop starting new work when less than this is left before the work deadline.
pub const TIME_RESERVE: Duration = Duration::from_secs(3);

/// Why a request fails.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// A property is missing or wrong.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// An AWS call failed after the SDK's retries.
    #[error("s3:{operation} on bucket {bucket} failed: {source}")]
    Aws {
        operation: &'static str,
        bucket: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
    /// Some keys kept failing.
    #[error(
        "deleted {deleted} object versions from {bucket}, but {failed} could not be deleted after {KEY_ATTEMPTS} attempts: {first}"
    )]
    KeysFailed {
        bucket: String,
        /// Versions deleted.
        deleted: u64,
        /// Versions left.
        failed: usize,
        /// The first failure: key, version, `<code>: <message>`.
        first: String,
    },
    /// The deadline came first.
    #[error(
        "deleted {deleted} object versions from {bucket}, about {remaining} remain: the function ran out \
         of time; delete the stack again to resume, or raise the function's timeout"
    )]
    OutOfTime {
        bucket: String,
        /// Versions deleted so far in this invocation.
        deleted: u64,
        /// Versions known to remain (a lower bound when listing had not finished).
        remaining: String,
    },
    /// A request could not be built.
    #[error("cannot build the S3 request: {0}")]
    Build(#[from] aws_sdk_s3::error::BuildError),
}

/// Reads `EmptyOnDelete` for a Create or Update, where it is required: a resource created without
/// saying what its Delete does would either lose data or fail the stack deletion later.
pub fn empty_on_delete(request: &Request) -> Result<bool, PropertyError> {
    if request.properties.get(EMPTY_ON_DELETE).is_none() {
        return Err(PropertyError::invalid(
            EMPTY_ON_DELETE,
            "it is required: \"true\" empties the buckets when the stack is deleted, \"false\" keeps their data",
        ));
    }
    request.properties.bool_or(EMPTY_ON_DELETE, false)
}

/// Whether a Delete's properties ask to empty the buckets: only when they say `"true"`. Absent,
/// empty or unreadable values keep the data (a Delete cannot be asked again, a deleted version
/// cannot be brought back). Even then, the stack's status decides ([`stack_is_going_away`]).
pub fn delete_empties(request: &Request) -> bool {
    match request.properties.bool_or(EMPTY_ON_DELETE, false) {
        Ok(choice) => choice,
        Err(e) => {
            warn!(error = %e, "EmptyOnDelete is unreadable; keeping the data");
            false
        }
    }
}

/// Reads and checks `BucketNames`.
pub fn bucket_names(request: &Request) -> Result<Vec<String>, PropertyError> {
    let names = request.properties.string_list("BucketNames")?;
    if names.is_empty() {
        return Err(PropertyError::Missing {
            name: "BucketNames".into(),
        });
    }
    for name in &names {
        check_bucket_name(name).map_err(|e| PropertyError::invalid("BucketNames", e))?;
    }
    Ok(names)
}

/// Whether a Delete sent while the stack has this status may empty the buckets: only when the
/// stack itself is going away (User Guide, "Stack status codes"). `DELETE_IN_PROGRESS` is the
/// stack's deletion; `ROLLBACK_IN_PROGRESS` is the removal of a stack whose first create failed,
/// whose buckets that create made. Every other status (above all
/// `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` and `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`, in
/// which an update removes a renamed, replaced or dropped resource) is a stack that stays.
pub fn stack_is_going_away(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::DeleteInProgress | StackStatus::RollbackInProgress
    )
}

/// Why a Delete whose properties ask to empty the buckets keeps every object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Kept {
    /// The stack is not being deleted: an update (or its rollback) removed or replaced this
    /// resource, and the buckets stay with the stack.
    #[error(
        "the stack is {0}, not being deleted: this Delete comes from an update or its rollback (the \
         resource renamed, replaced or removed), and the stack keeps its buckets and their data"
    )]
    StackStays(StackStatus),
    /// The stack's status could not be read.
    #[error(
        "the stack's status could not be read ({0}), so nothing was deleted; if the stack is being \
         deleted, its non-empty buckets will fail to delete: empty them, then delete the stack again"
    )]
    StatusUnknown(String),
}

/// What emptying a bucket did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emptied {
    /// Versions and delete markers deleted.
    pub versions: u64,
    /// Multipart uploads aborted.
    pub uploads: u64,
    /// The bucket did not exist.
    pub missing: bool,
}

/// The custom resource, holding its clients.
#[derive(Debug, Clone)]
pub struct Cleanup {
    s3: aws_sdk_s3::Client,
    cloudformation: aws_sdk_cloudformation::Client,
}

fn out_of_time(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() + TIME_RESERVE >= d)
}

impl Cleanup {
    /// A handler using these clients.
    pub fn new(s3: aws_sdk_s3::Client, cloudformation: aws_sdk_cloudformation::Client) -> Self {
        Self { s3, cloudformation }
    }

    /// A handler with clients made from `config` (S3 path-style under an endpoint override).
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(
            aws_setup::s3_client(config),
            aws_sdk_cloudformation::Client::new(config),
        )
    }

    /// The status of the stack a request comes from. `DescribeStacks` takes the stack's ARN (the
    /// request's `StackId`) as its `StackName` and answers for that stack even once it is deleted.
    pub async fn stack_status(&self, stack_id: &str) -> Result<StackStatus, Kept> {
        let out = self
            .cloudformation
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| {
                Kept::StatusUnknown(format!(
                    "cloudformation:DescribeStacks on {stack_id} failed: {}",
                    AwsError::from(e)
                ))
            })?;
        out.stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .cloned()
            .ok_or_else(|| {
                Kept::StatusUnknown(format!(
                    "cloudformation:DescribeStacks on {stack_id} answered no stack status"
                ))
            })
    }

    /// `Ok` when a Delete may empty the buckets, with the stack's status; otherwise why not.
    async fn deletion_allowed(&self, request: &Request) -> Result<StackStatus, Kept> {
        let status = self.stack_status(&request.envelope.stack_id).await?;
        if stack_is_going_away(&status) {
            Ok(status)
        } else {
            Err(Kept::StackStays(status))
        }
    }

    fn aws(operation: &'static str, bucket: &str, source: AwsError) -> CleanupError {
        CleanupError::Aws {
            operation,
            bucket: bucket.to_owned(),
            source,
        }
    }

    /// Lists up to [`ROUND_LIMIT`] versions and delete markers. `None` when the bucket is missing;
    /// the flag says whether more remain unlisted.
    async fn list_round(
        &self,
        bucket: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<(Vec<ObjectIdentifier>, bool)>, CleanupError> {
        let mut found = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(AwsError::from);
            let page = match page {
                Ok(p) => p,
                // ListObjectVersions models no error types (API reference), so the code is matched.
                Err(e) if e.is(S3_NO_SUCH_BUCKET) => return Ok(None),
                Err(e) => return Err(Self::aws("ListObjectVersions", bucket, e)),
            };
            for (key, version) in page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
            {
                if let Some(key) = key {
                    found.push(
                        ObjectIdentifier::builder()
                            .key(key)
                            .set_version_id(version.map(str::to_owned))
                            .build()?,
                    );
                }
            }
            let truncated = page.is_truncated().unwrap_or(false);
            if !truncated {
                return Ok(Some((found, false)));
            }
            if found.len() >= ROUND_LIMIT || out_of_time(deadline) {
                return Ok(Some((found, true)));
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
    }

    /// One `DeleteObjects`; returns the identifiers that failed, with the last error seen. Each
    /// error names its key and version, which is all an identifier holds: the batch is sent, not
    /// kept.
    async fn delete_batch(
        &self,
        bucket: &str,
        batch: Vec<ObjectIdentifier>,
    ) -> Result<(Vec<ObjectIdentifier>, Option<String>), CleanupError> {
        let out = self
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(batch))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| Self::aws("DeleteObjects", bucket, AwsError::from(e)))?;
        let mut failed = Vec::new();
        let mut last = None;
        for error in out.errors() {
            let Some(key) = error.key() else { continue };
            let version = error.version_id();
            last = Some(format!(
                "{key} (version {}): {}: {}",
                version.unwrap_or("null"),
                error.code().unwrap_or("UnknownError"),
                error.message().unwrap_or("")
            ));
            failed.push(
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()?,
            );
        }
        Ok((failed, last))
    }

    /// Deletes `ids` in batches, several in flight, retrying exactly the keys that failed.
    async fn delete_all(
        &self,
        bucket: &str,
        ids: Vec<ObjectIdentifier>,
        deleted: &mut u64,
        deadline: Option<Instant>,
    ) -> Result<(), CleanupError> {
        let mut pending = ids;
        for attempt in 1..=KEY_ATTEMPTS {
            if pending.is_empty() {
                return Ok(());
            }
            if out_of_time(deadline) {
                return Err(CleanupError::OutOfTime {
                    bucket: bucket.to_owned(),
                    deleted: *deleted,
                    remaining: pending.len().to_string(),
                });
            }
            let mut ids = std::mem::take(&mut pending).into_iter();
            let batches = std::iter::from_fn(|| {
                let batch: Vec<ObjectIdentifier> = ids.by_ref().take(DELETE_BATCH).collect();
                (!batch.is_empty()).then_some(batch)
            });
            let results: Vec<_> = stream::iter(batches)
                .map(|batch| async move {
                    let sent = batch.len();
                    self.delete_batch(bucket, batch).await.map(|r| (sent, r))
                })
                .buffer_unordered(DELETES_IN_FLIGHT)
                .collect()
                .await;
            let mut failed = Vec::new();
            let mut last_error = None;
            for result in results {
                let (sent, (batch_failed, last)) = result?;
                *deleted += (sent - batch_failed.len()) as u64;
                failed.extend(batch_failed);
                last_error = last.or(last_error);
            }
            if !failed.is_empty() {
                warn!(%bucket, attempt, failed = failed.len(), "some keys were not deleted; retrying them");
                if attempt == KEY_ATTEMPTS {
                    return Err(CleanupError::KeysFailed {
                        bucket: bucket.to_owned(),
                        deleted: *deleted,
                        failed: failed.len(),
                        first: last_error.unwrap_or_default(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            pending = failed;
        }
        Ok(())
    }

    /// Aborts every in-progress multipart upload.
    async fn abort_uploads(&self, bucket: &str) -> Result<u64, CleanupError> {
        let mut uploads = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut upload_marker: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_multipart_uploads()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_marker.take())
                .send()
                .await
                .map_err(|e| Self::aws("ListMultipartUploads", bucket, AwsError::from(e)))?;
            uploads.extend(
                page.uploads()
                    .iter()
                    .filter_map(|u| Some((u.key()?.to_owned(), u.upload_id()?.to_owned()))),
            );
            if !page.is_truncated().unwrap_or(false) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            upload_marker = page.next_upload_id_marker().map(str::to_owned);
        }
        let count = uploads.len() as u64;
        let results: Vec<Result<(), CleanupError>> = stream::iter(uploads)
            .map(|(key, upload_id)| async move {
                match self
                    .s3
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    // Completed or aborted meanwhile.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(AbortMultipartUploadError::is_no_such_upload) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(Self::aws("AbortMultipartUpload", bucket, e.into())),
                }
            })
            .buffer_unordered(DELETES_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(count)
    }

    /// Empties one bucket.
    pub async fn empty(
        &self,
        bucket: &str,
        deadline: Option<Instant>,
    ) -> Result<Emptied, CleanupError> {
        let mut emptied = Emptied::default();
        loop {
            let Some((ids, more)) = self.list_round(bucket, deadline).await? else {
                info!(%bucket, "bucket does not exist; skipped");
                emptied.missing = true;
                return Ok(emptied);
            };
            if ids.is_empty() {
                break;
            }
            info!(%bucket, versions = ids.len(), more, "deleting object versions");
            let listed = ids.len() as u64;
            let before = emptied.versions;
            match self
                .delete_all(bucket, ids, &mut emptied.versions, deadline)
                .await
            {
                Err(CleanupError::OutOfTime {
                    bucket, deleted, ..
                }) => {
                    let left = listed - (emptied.versions - before);
                    return Err(CleanupError::OutOfTime {
                        bucket,
                        deleted,
                        remaining: if more {
                            format!("{left} or more")
                        } else {
                            left.to_string()
                        },
                    });
                }
                other => other?,
            }
            if more && out_of_time(deadline) {
                return Err(CleanupError::OutOfTime {
                    bucket: bucket.to_owned(),
                    deleted: emptied.versions,
                    remaining: "an unknown number of".to_owned(),
                });
            }
        }
        emptied.uploads = self.abort_uploads(bucket).await?;
        info!(%bucket, versions = emptied.versions, uploads = emptied.uploads, "bucket is empty");
        Ok(emptied)
    }
}

impl CustomResource for Cleanup {
    type Error = CleanupError;

    async fn create(&self, request: &Request) -> Result<Outcome, CleanupError> {
        bucket_names(request)?;
        let empty = empty_on_delete(request)?;
        Ok(Outcome::new(request.current_or_stable_physical_id()).with_data(EMPTY_ON_DELETE, empty))
    }

    async fn update(&self, request: &Request) -> Result<Outcome, CleanupError> {
        // Same id whatever the properties: an update is never a replacement, never a Delete, and
        // turning EmptyOnDelete on or off only changes what a later Delete will do.
        self.create(request).await
    }

    async fn delete(&self, request: &Request) -> Result<Outcome, CleanupError> {
        let kept = || {
            Outcome::new(request.current_or_stable_physical_id())
                .with_data("ObjectVersionsDeleted", 0)
                .with_data("UploadsAborted", 0)
        };
        if !delete_empties(request) {
            info!("EmptyOnDelete is not \"true\": every bucket keeps its data");
            return Ok(kept());
        }
        let names = match bucket_names(request) {
            Ok(names) => names,
            Err(e) => {
                // Nothing valid can have been created under names that fail the rules.
                warn!(error = %e, "no valid bucket names; nothing to empty");
                return Ok(Outcome::new(request.current_or_stable_physical_id()));
            }
        };
        // The properties say "true"; only the stack's status says whether this Delete is the
        // stack's own deletion or an update removing a renamed or replaced resource.
        request.set_step("reading the stack's status");
        match self.deletion_allowed(request).await {
            Ok(status) => {
                info!(stack_status = %status, buckets = names.len(),
                      "the stack is going away: emptying its buckets");
            }
            Err(why) => {
                match &why {
                    Kept::StackStays(status) => info!(stack_status = %status, reason = %why,
                        "the stack is not being deleted: every bucket keeps its data"),
                    Kept::StatusUnknown(_) => warn!(reason = %why,
                        "the stack's status is unknown: every bucket keeps its data"),
                }
                return Ok(kept().with_data(KEPT_BECAUSE, why));
            }
        }
        let mut versions = 0;
        let mut uploads = 0;
        for bucket in &names {
            request.set_step(format!("emptying bucket {bucket}"));
            let emptied = self.empty(bucket, request.work_deadline()).await?;
            versions += emptied.versions;
            uploads += emptied.uploads;
        }
        Ok(Outcome::new(request.current_or_stable_physical_id())
            .with_data("ObjectVersionsDeleted", versions)
            .with_data("UploadsAborted", uploads))
    }
}

#[cfg(test)]
mod tests;
