//! # org-data-sync
//!
//! Creates the Systems Manager resource data sync that ships a member account's inventory and
//! compliance data, for one Region, to the organization's central bucket. Deployed by a
//! service-managed StackSet into every member account and Region. CloudFormation's own
//! `AWS::SSM::ResourceDataSync` cannot set `DestinationDataSharing`, hence this custom resource.
//!
//! ## Trigger
//! CloudFormation custom resource (`Custom::OrgDataSync`):
//! ```json
//! {"RequestType": "Create", "ResponseURL": "https://...", "StackId": "arn:...:stack/StackSet-sync-.../...",
//!  "RequestId": "...", "LogicalResourceId": "DataSync", "ResourceType": "Custom::OrgDataSync",
//!  "ResourceProperties": {"SyncName": "patch-compliance", "BucketName": "central-sync-bucket",
//!    "BucketRegion": "us-east-1", "BucketPrefix": "inventory",
//!    "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-...", "OrganizationSharing": "true"}}
//! ```
//!
//! ## Properties (strings)
//! - `SyncName` (required, 1 to 64 characters): also the physical id.
//! - `BucketName`, `BucketRegion` (required): the central bucket and its Region.
//! - `BucketPrefix` (optional): S3 safe characters, no leading `/`.
//! - `KmsKeyArn` (optional): a KMS key ARN in the bucket's Region.
//! - `OrganizationSharing` (`"true"` by default): `DestinationDataSharing` `Organization`; `"false"`
//!   makes a sync for this account only.
//!
//! Every value is checked before any AWS call; each failure says what is wrong.
//!
//! ## Behaviour
//! - **Create**: `CreateResourceDataSync` (`SyncToDestination`, `JsonSerDe`). If a sync of that name
//!   exists with the same destination, that is a retried Create: success. With a different
//!   destination: FAILED, saying so. Someone else's sync is never adopted, because this resource's
//!   Delete would later remove it.
//! - **Update**, same name: the sync is looked up (one `ListResourceDataSync`), not assumed from the
//!   old properties, so a rollback after a failure halfway finds and restores what is missing.
//!   Same destination: nothing to do. New destination: the sync is deleted and created again
//!   (`UpdateResourceDataSync` supports only `SyncFromSource` syncs).
//! - **Update**, new name (a rename, answered with the new name as the new physical id; CloudFormation
//!   then deletes the old id). The new name is checked first: a sync of that name writing elsewhere
//!   fails the Update before anything changes. The old sync is removed by the Update itself, while
//!   the role may still delete it: CloudFormation updates the role (the new name) before this
//!   resource, and the template's previous-name policy (which depends on this resource) after it,
//!   so during this Update only that policy names the old sync. SSM allows only one
//!   organization-shared sync per account and Region, so when the old and the new sync are both
//!   organization-shared the old one is deleted first; otherwise the new one is created first, then
//!   the old one deleted (and the new one removed again if that fails). The later Delete of the old
//!   id finds nothing and succeeds.
//! - **A failure halfway** (the old sync deleted, the new one refused): the old sync is created
//!   again with the destination it had before the answer FAILED goes out, so the account is left as
//!   it was and CloudFormation's rollback (an Update back to the old properties) converges.
//! - **Delete**: looked up first (`ListResourceDataSync`), then `DeleteResourceDataSync` only when
//!   the sync exists: after a rename the old name is gone and no longer the role's to delete.
//!   "Not found" is success.
//! - `ListResourceDataSync` is paginated and read to the end.
//!
//! Answer `Data`: `SyncName`.
//!
//! ## IAM actions
//! `ssm:CreateResourceDataSync`, `ssm:DeleteResourceDataSync` on
//! `arn:${Partition}:ssm:${Region}:${Account}:resource-data-sync/${SyncName}`, in the role's
//! policy and, for renames, in a second policy on the role that is updated after this resource
//! (it names the previous sync while a rename runs); `ssm:ListResourceDataSync` on `*` (no
//! resource-level scoping).
//!
//! ## Idempotency
//! Create, Update and Delete converge: a repeated request finds the sync as it left it.

use std::fmt;

use aws_sdk_ssm::operation::create_resource_data_sync::CreateResourceDataSyncError;
use aws_sdk_ssm::operation::delete_resource_data_sync::DeleteResourceDataSyncError;
use aws_sdk_ssm::types::{
    ResourceDataSyncDestinationDataSharing, ResourceDataSyncS3Destination, ResourceDataSyncS3Format,
};
use aws_setup::AwsError;
use aws_setup::names::{Arn, check_bucket_name, is_account_id, is_region};
use cfn_response::{CustomResource, Outcome, Properties, PropertyError, Request};
use tracing::{info, warn};

/// The only sync type this resource manages.
pub const SYNC_TYPE: &str = "SyncToDestination";
/// `DestinationDataSharingType` for an organization sync.
pub const ORGANIZATION: &str = "Organization";

/// Where a sync writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Bucket name.
    pub bucket: String,
    /// Bucket Region.
    pub region: String,
    /// Key prefix.
    pub prefix: Option<String>,
    /// KMS key ARN.
    pub kms_key_arn: Option<String>,
    /// Organization sharing.
    pub organization: bool,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "s3://{}/{} in {}",
            self.bucket,
            self.prefix.as_deref().unwrap_or(""),
            self.region
        )?;
        if let Some(key) = &self.kms_key_arn {
            write!(f, ", encrypted with {key}")?;
        }
        f.write_str(if self.organization {
            ", organization sharing"
        } else {
            ", this account only"
        })
    }
}

impl Destination {
    /// The SDK shape.
    pub fn to_s3(&self) -> Result<ResourceDataSyncS3Destination, aws_sdk_ssm::error::BuildError> {
        ResourceDataSyncS3Destination::builder()
            .bucket_name(&self.bucket)
            .region(&self.region)
            .sync_format(ResourceDataSyncS3Format::JsonSerde)
            .set_prefix(self.prefix.clone())
            .set_awskms_key_arn(self.kms_key_arn.clone())
            .set_destination_data_sharing(self.organization.then(|| {
                ResourceDataSyncDestinationDataSharing::builder()
                    .destination_data_sharing_type(ORGANIZATION)
                    .build()
            }))
            .build()
    }

    /// What an existing sync writes to, in the same terms.
    pub fn from_s3(s3: &ResourceDataSyncS3Destination) -> Self {
        Self {
            bucket: s3.bucket_name().to_owned(),
            region: s3.region().to_owned(),
            prefix: s3.prefix().filter(|p| !p.is_empty()).map(str::to_owned),
            kms_key_arn: s3
                .awskms_key_arn()
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
            organization: s3
                .destination_data_sharing()
                .and_then(|d| d.destination_data_sharing_type())
                .is_some_and(|t| t.eq_ignore_ascii_case(ORGANIZATION)),
        }
    }
}

/// The validated properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSpec {
    /// `SyncName`.
    pub name: String,
    /// Where it writes.
    pub destination: Destination,
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() > 256 {
        return Err(format!(
            "it is {} characters long; the limit is 256",
            prefix.len()
        ));
    }
    if prefix.starts_with('/') || prefix.contains("//") {
        return Err(format!(
            "{prefix:?} must not start with '/' or contain '//'"
        ));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!-_.*'()/".contains(*c)))
    {
        return Err(format!(
            "{prefix:?} contains {bad:?}; use letters, digits and ! - _ . * ' ( ) /"
        ));
    }
    Ok(())
}

fn check_kms_key_arn(arn: &str, bucket_region: &str) -> Result<(), String> {
    let shape = "expected arn:<partition>:kms:<region>:<account>:key/<key-id>";
    let Some(parsed) = Arn::parse(arn) else {
        return Err(format!("{arn:?} is not an ARN; {shape}"));
    };
    if parsed.service != "kms" || !is_account_id(parsed.account) {
        return Err(format!("{arn:?} is not a KMS ARN; {shape}"));
    }
    if parsed
        .resource
        .strip_prefix("key/")
        .is_none_or(str::is_empty)
    {
        return Err(format!(
            "{arn:?} is not a key ARN (an alias will not do); {shape}"
        ));
    }
    if parsed.region != bucket_region {
        return Err(format!(
            "the key is in {} but the bucket is in {bucket_region}: the key must be in the bucket's Region",
            parsed.region
        ));
    }
    Ok(())
}

impl SyncSpec {
    /// Reads and checks the properties; makes no AWS call.
    pub fn from_properties(props: &Properties) -> Result<Self, PropertyError> {
        let name = props.required_str("SyncName")?.to_owned();
        if name.chars().count() > 64 {
            return Err(PropertyError::invalid(
                "SyncName",
                "it must be 1 to 64 characters long",
            ));
        }
        let bucket = props.required_str("BucketName")?.to_owned();
        check_bucket_name(&bucket).map_err(|e| PropertyError::invalid("BucketName", e))?;
        let region = props.required_str("BucketRegion")?.to_owned();
        if !is_region(&region) {
            return Err(PropertyError::invalid(
                "BucketRegion",
                format!("{region:?} is not a Region name such as us-east-1"),
            ));
        }
        let prefix = props
            .optional_str("BucketPrefix")?
            .map(|p| p.trim_end_matches('/').to_owned());
        if let Some(p) = &prefix {
            check_prefix(p).map_err(|e| PropertyError::invalid("BucketPrefix", e))?;
        }
        let kms_key_arn = props.optional_str("KmsKeyArn")?.map(str::to_owned);
        if let Some(arn) = &kms_key_arn {
            check_kms_key_arn(arn, &region).map_err(|e| PropertyError::invalid("KmsKeyArn", e))?;
        }
        let organization = props.bool_or("OrganizationSharing", true)?;
        Ok(Self {
            name,
            destination: Destination {
                bucket,
                region,
                prefix: prefix.filter(|p| !p.is_empty()),
                kms_key_arn,
                organization,
            },
        })
    }
}

/// Why a request fails.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A property is missing or wrong.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// A sync of that name exists and writes somewhere else.
    #[error(
        "a resource data sync named {name:?} already exists and writes to {existing}, not to {wanted}; \
         it was not made by this stack and will not be adopted (this stack's Delete would remove it): \
         delete it (aws ssm delete-resource-data-sync --sync-name {name}) or choose another SyncName"
    )]
    Conflict {
        name: String,
        /// Where the existing sync writes.
        existing: String,
        /// Where this stack wants it to write.
        wanted: String,
    },
    /// A sync of that name exists but is not a `SyncToDestination` sync.
    #[error(
        "a resource data sync named {0:?} already exists but is not a SyncToDestination sync; choose another SyncName"
    )]
    OtherType(String),
    /// The replacement of a sync failed after the old one was deleted.
    #[error(
        "could not create resource data sync {new:?} in place of {old:?}: {source}; {restored}"
    )]
    Replacement {
        /// The sync that was deleted to make room.
        old: String,
        /// The sync that could not be created.
        new: String,
        /// Why the new sync could not be created.
        source: Box<SyncError>,
        /// What became of the old one: restored, or how to restore it by hand.
        restored: String,
    },
    /// A rename created the new sync but could not delete the old one.
    #[error(
        "renamed resource data sync {old:?} to {new:?} but could not delete {old:?}: {source}; {undone}"
    )]
    Rename {
        /// The sync that should have gone.
        old: String,
        /// The sync that was created.
        new: String,
        /// Why the old sync could not be deleted.
        source: Box<SyncError>,
        /// What became of the new one: removed again, or how to remove it by hand.
        undone: String,
    },
    /// An AWS call failed.
    #[error("ssm:{operation} failed for sync {name:?}: {source}")]
    Aws {
        operation: &'static str,
        name: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
}

/// An existing sync as `ListResourceDataSync` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No sync of that name.
    None,
    /// A `SyncToDestination` sync and where it writes.
    ToDestination(Destination),
    /// A sync of another type.
    OtherType,
}

/// The custom resource, holding its client.
#[derive(Debug, Clone)]
pub struct DataSync {
    ssm: aws_sdk_ssm::Client,
}

impl DataSync {
    /// A handler using this client.
    pub fn new(ssm: aws_sdk_ssm::Client) -> Self {
        Self { ssm }
    }

    fn aws(operation: &'static str, name: &str, source: AwsError) -> SyncError {
        SyncError::Aws {
            operation,
            name: name.to_owned(),
            source,
        }
    }

    /// Finds a sync by name, reading every page.
    pub async fn find(&self, name: &str) -> Result<Existing, SyncError> {
        let mut next_token: Option<String> = None;
        loop {
            let page = self
                .ssm
                .list_resource_data_sync()
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| Self::aws("ListResourceDataSync", name, AwsError::from(e)))?;
            if let Some(item) = page
                .resource_data_sync_items()
                .iter()
                .find(|i| i.sync_name() == Some(name))
            {
                return Ok(match (item.sync_type(), item.s3_destination()) {
                    (Some(SYNC_TYPE), Some(s3)) => {
                        Existing::ToDestination(Destination::from_s3(s3))
                    }
                    _ => Existing::OtherType,
                });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(Existing::None),
            }
        }
    }

    async fn send_create(&self, spec: &SyncSpec) -> Result<(), CreateFailed> {
        let destination = spec.destination.to_s3().map_err(|e| {
            CreateFailed::Other(AwsError {
                code: "InvalidDestination".into(),
                message: e.to_string(),
            })
        })?;
        match self
            .ssm
            .create_resource_data_sync()
            .sync_name(&spec.name)
            .sync_type(SYNC_TYPE)
            .s3_destination(destination)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(
                    CreateResourceDataSyncError::is_resource_data_sync_already_exists_exception,
                ) =>
            {
                Err(CreateFailed::Exists)
            }
            Err(e) => Err(CreateFailed::Other(e.into())),
        }
    }

    /// Creates the sync; an identical existing one is success, a different one a conflict.
    async fn create_sync(&self, spec: &SyncSpec) -> Result<(), SyncError> {
        match self.send_create(spec).await {
            Ok(()) => {
                info!(sync = %spec.name, destination = %spec.destination, "created the resource data sync");
                Ok(())
            }
            Err(CreateFailed::Exists) => {
                match self.find(&spec.name).await? {
                    Existing::ToDestination(existing) if existing == spec.destination => {
                        info!(sync = %spec.name, "the sync exists with this destination already (a retried Create)");
                        Ok(())
                    }
                    Existing::ToDestination(existing) => Err(SyncError::Conflict {
                        name: spec.name.clone(),
                        existing: existing.to_string(),
                        wanted: spec.destination.to_string(),
                    }),
                    Existing::OtherType => Err(SyncError::OtherType(spec.name.clone())),
                    // Deleted between the two calls: try once more.
                    Existing::None => self
                        .send_create(spec)
                        .await
                        .map_err(|e| Self::aws("CreateResourceDataSync", &spec.name, e.into())),
                }
            }
            Err(CreateFailed::Other(e)) => Err(Self::aws("CreateResourceDataSync", &spec.name, e)),
        }
    }

    /// Renames `current` to `spec.name`. The new name is checked before anything changes; an
    /// organization-shared sync replaces an organization-shared one in place (delete first, since
    /// only one may exist per account and Region), otherwise the new one is created beside the old.
    async fn rename(&self, current: &str, spec: &SyncSpec) -> Result<Outcome, SyncError> {
        match self.find(&spec.name).await? {
            Existing::ToDestination(existing) if existing == spec.destination => {
                // A retried rename, or a rollback to a sync that was restored: nothing to create.
                info!(sync = %spec.name, "the renamed sync exists already");
                return Ok(outcome(&spec.name));
            }
            Existing::ToDestination(existing) => {
                return Err(SyncError::Conflict {
                    name: spec.name.clone(),
                    existing: existing.to_string(),
                    wanted: spec.destination.to_string(),
                });
            }
            Existing::OtherType => return Err(SyncError::OtherType(spec.name.clone())),
            Existing::None => {}
        }
        match self.find(current).await? {
            Existing::ToDestination(old) if old.organization && spec.destination.organization => {
                self.replace(current, old, spec).await?;
            }
            Existing::ToDestination(_) => {
                // Both may exist side by side: the new one first, then the old one goes, now,
                // while the role may still delete it (the template's previous-name policy is
                // updated after this resource); CloudFormation's later Delete of the old id then
                // finds nothing to do.
                self.create_sync(spec).await?;
                if let Err(source) = self.delete_sync(current).await {
                    warn!(old = %current, new = %spec.name, error = %source, "deleting the old sync failed; removing the new one again");
                    let undone = match self.delete_sync(&spec.name).await {
                        Ok(()) => format!("the new sync {:?} was removed again", spec.name),
                        Err(e) => format!(
                            "removing the new sync {:?} failed too ({e}): delete it with aws ssm \
                             delete-resource-data-sync",
                            spec.name
                        ),
                    };
                    return Err(SyncError::Rename {
                        old: current.to_owned(),
                        new: spec.name.clone(),
                        source: Box::new(source),
                        undone,
                    });
                }
            }
            Existing::OtherType | Existing::None => self.create_sync(spec).await?,
        }
        Ok(outcome(&spec.name))
    }

    /// Deletes the sync `old_name` (writing to `old`) and creates `spec`. When the creation fails,
    /// the old sync is created again before the error is returned, so nothing is lost and a
    /// rollback to the old properties converges.
    async fn replace(
        &self,
        old_name: &str,
        old: Destination,
        spec: &SyncSpec,
    ) -> Result<(), SyncError> {
        self.delete_sync(old_name).await?;
        let Err(source) = self.create_sync(spec).await else {
            return Ok(());
        };
        warn!(old = %old_name, new = %spec.name, error = %source, "creating the replacement failed; restoring the old sync");
        let previous = SyncSpec {
            name: old_name.to_owned(),
            destination: old,
        };
        let restored = match self.create_sync(&previous).await {
            Ok(()) => format!(
                "the previous sync {old_name:?} ({}) was restored",
                previous.destination
            ),
            Err(e) => format!(
                "restoring the previous sync {old_name:?} ({}) failed too ({e}): roll the stack \
                 back, or create it again with aws ssm create-resource-data-sync",
                previous.destination
            ),
        };
        Err(SyncError::Replacement {
            old: old_name.to_owned(),
            new: spec.name.clone(),
            source: Box::new(source),
            restored,
        })
    }

    /// Deletes the sync; "not found" is success.
    async fn delete_sync(&self, name: &str) -> Result<(), SyncError> {
        let result = self
            .ssm
            .delete_resource_data_sync()
            .sync_name(name)
            .sync_type(SYNC_TYPE)
            .send()
            .await;
        match result {
            Ok(_) => {
                info!(sync = %name, "deleted the resource data sync");
                Ok(())
            }
            Err(e)
                if e.as_service_error().is_some_and(
                    DeleteResourceDataSyncError::is_resource_data_sync_not_found_exception,
                ) =>
            {
                info!(sync = %name, "no such sync: nothing to delete");
                Ok(())
            }
            Err(e) => Err(Self::aws("DeleteResourceDataSync", name, e.into())),
        }
    }
}

/// Why CreateResourceDataSync did not create the sync.
enum CreateFailed {
    /// A sync of that name exists (`ResourceDataSyncAlreadyExistsException`).
    Exists,
    /// Any other failure.
    Other(AwsError),
}

impl From<CreateFailed> for AwsError {
    fn from(e: CreateFailed) -> Self {
        match e {
            CreateFailed::Exists => AwsError {
                code: "ResourceDataSyncAlreadyExistsException".into(),
                message: "a sync of that name was created meanwhile".into(),
            },
            CreateFailed::Other(e) => e,
        }
    }
}

fn outcome(name: &str) -> Outcome {
    Outcome::new(name).with_data("SyncName", name)
}

impl CustomResource for DataSync {
    type Error = SyncError;

    async fn create(&self, request: &Request) -> Result<Outcome, SyncError> {
        let spec = SyncSpec::from_properties(&request.properties)?;
        request.set_step(format!("creating resource data sync {}", spec.name));
        self.create_sync(&spec).await?;
        Ok(outcome(&spec.name))
    }

    async fn update(&self, request: &Request) -> Result<Outcome, SyncError> {
        let spec = SyncSpec::from_properties(&request.properties)?;
        let current_name = request.physical_resource_id().unwrap_or_default();
        if spec.name != current_name {
            request.set_step(format!(
                "renaming resource data sync {current_name} to {}",
                spec.name
            ));
            return self.rename(current_name, &spec).await;
        }
        // Compared with the sync itself, never with the old properties: after a failed Update the
        // old properties describe what was asked, not what exists, and a rollback must converge.
        request.set_step(format!("checking resource data sync {}", spec.name));
        match self.find(&spec.name).await? {
            Existing::ToDestination(existing) if existing == spec.destination => {
                info!(sync = %spec.name, "nothing changed");
            }
            Existing::ToDestination(existing) => {
                request.set_step(format!(
                    "replacing the destination of resource data sync {}",
                    spec.name
                ));
                self.replace(&spec.name, existing, &spec).await?;
            }
            Existing::OtherType => return Err(SyncError::OtherType(spec.name.clone())),
            Existing::None => self.create_sync(&spec).await?,
        }
        Ok(outcome(&spec.name))
    }

    async fn delete(&self, request: &Request) -> Result<Outcome, SyncError> {
        let name = request.physical_resource_id().unwrap_or_default();
        // Looked up first: after a rename the old sync is gone already (the Update removed it) and
        // the role may no longer delete that name, so asking to delete it would be refused.
        request.set_step(format!("looking up resource data sync {name}"));
        match self.find(name).await? {
            Existing::None => {
                info!(sync = %name, "no such sync: nothing to delete");
            }
            Existing::OtherType => {
                warn!(sync = %name, "a sync of this name is not a SyncToDestination sync: left alone");
            }
            Existing::ToDestination(_) => {
                request.set_step(format!("deleting resource data sync {name}"));
                self.delete_sync(name).await?;
            }
        }
        Ok(Outcome::new(name))
    }
}

#[cfg(test)]
mod tests;
