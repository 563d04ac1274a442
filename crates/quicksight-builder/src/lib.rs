//! # quicksight-builder
//!
//! Sets up QuickSight over the patch compliance tables so that people see compliance without
//! building anything by hand: an Athena data source on the reporting workgroup, datasets whose SQL
//! lives in this crate's `sql/` folder, and the usual author permissions for the chosen QuickSight
//! users and groups.
//!
//! ## Trigger
//! CloudFormation custom resource (`Custom::QuickSightBuilder`):
//! ```json
//! {"RequestType": "Create", "ResponseURL": "https://...", "StackId": "arn:...:stack/quicksight/...",
//!  "RequestId": "...", "LogicalResourceId": "Datasets", "ResourceType": "Custom::QuickSightBuilder",
//!  "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:quicksight-builder",
//!  "ResourceProperties": {"WorkGroup": "patch-compliance", "Database": "patch_compliance",
//!    "PrincipalArns": ["arn:aws:quicksight:us-east-1:111122223333:group/default/compliance-authors"],
//!    "ConfigSnapshotTable": "aws_config_snapshot"}}
//! ```
//!
//! ## Properties (strings)
//! - `WorkGroup` (required): the Athena workgroup QuickSight queries through.
//! - `Database` (required): the Glue database of the resource data sync tables.
//! - `PrincipalArns` (required, 1 to 64): QuickSight user or group ARNs, a list or a comma-separated
//!   string. Their Region is QuickSight's identity Region, which may differ from the stack's, so they
//!   are used exactly as given, never rebuilt; each must belong to `AwsAccountId` and `Namespace`.
//! - `DataSourceId` (default `patch-compliance`): the data source id; dataset ids are
//!   `<DataSourceId>-<key>`, the keys being `nodes`, `patches`, `node-tags` and `config-compliance`.
//! - `Namespace` (default `default`): the QuickSight namespace of the principals.
//! - `ImportMode` (`DIRECT_QUERY` by default, or `SPICE`).
//! - `AwsAccountId` (default: the function's own account, from the invoked function ARN).
//! - `ConfigSnapshotTable` (optional): the Glue table of AWS Config snapshots. When set, the
//!   `config-compliance` dataset is built over it; when empty, that dataset is not wanted.
//! - `ConfigDatabase` (default: `Database`): the Glue database of that table.
//!
//! Every value is checked before any AWS call, and each failure names the property.
//!
//! ## Behaviour
//! Physical id: the data source ARN (`arn:<partition>:quicksight:<region>:<account>:datasource/<id>`),
//! so a new `DataSourceId` or `AwsAccountId` is a replacement.
//! - **Create**: `CreateDataSource` (type `ATHENA`, the workgroup, author permissions); when it is
//!   asynchronous, `DescribeDataSource` until it settles, and a failed data source is FAILED with
//!   QuickSight's own reason (typically: QuickSight may not use the workgroup or its buckets). Then
//!   per dataset `CreateDataSet` with its custom SQL, columns, import mode and permissions. A retried
//!   Create finds its resources and updates them in place. A data source of that id that is not an
//!   Athena data source is not adopted: FAILED, saying so.
//! - **Update**: in place: `UpdateDataSource` and `UpdateDataSet` (created when missing), permissions
//!   granted to the new principals and revoked from principals the update removed; datasets no longer
//!   wanted (Config turned off) are deleted.
//! - **A new identity** (`DataSourceId` or `AwsAccountId`): the new data source and datasets are
//!   built, then the previous ones deleted within the Update (the role's previous-identity policy,
//!   updated after this resource, still names them); if that fails the new ones are deleted again
//!   and the Update fails. CloudFormation's later Delete of the old id finds nothing.
//! - **Delete**: `ListDataSets` and `ListDataSources` (paginated) find which of the data source and
//!   its datasets exist; `DeleteDataSet` for each of those, then `DeleteDataSource`. Nothing that
//!   does not exist is asked for: after a new identity the old names are no longer the role's.
//!
//! Answer `Data`: `DataSourceArn`, `DataSourceId`, `DataSetIds` (comma-separated) and one
//! `<Key>DataSetArn` per dataset (`NodesDataSetArn`, `PatchesDataSetArn`, `NodeTagsDataSetArn`,
//! `ConfigComplianceDataSetArn`).
//!
//! ## API calls
//! Create: 1 + one per dataset (+ one `DeleteDataSet` per unwanted dataset). Update: 2 for the data
//! source and 2 per dataset (+ one per unwanted dataset). Delete: one page of `ListDataSets` and of
//! `ListDataSources` per 100 in the account, then one call per existing dataset and data source.
//!
//! ## IAM actions
//! As the Service Authorization Reference ("Actions, resources, and condition keys for Amazon
//! QuickSight") defines them:
//! `quicksight:CreateDataSource` on `*` (it has no resource type), `quicksight:ListDataSources` and
//! `quicksight:ListDataSets` on `*` (likewise);
//! `quicksight:UpdateDataSource`, `DescribeDataSource`, `DeleteDataSource`,
//! `UpdateDataSourcePermissions`, `PassDataSource`, and `quicksight:CreateDataSet` and
//! `UpdateDataSet` (authorized on the data source they read) on
//! `arn:${Partition}:quicksight:${Region}:${Account}:datasource/${DataSourceId}`;
//! `quicksight:UpdateDataSet`, `DeleteDataSet`, `UpdateDataSetPermissions`, `PassDataSet` on
//! `arn:${Partition}:quicksight:${Region}:${Account}:dataset/${DataSourceId}-*`.
//! The template repeats these on the previous data source id in a second policy, updated after
//! this resource, for a new identity's Update.
//! QuickSight itself needs access to Athena, the buckets and the KMS key through its service role.
//!
//! ## Idempotency
//! Every step converges: creating something that exists updates it, deleting something missing is
//! success, so a repeated request leaves the same state and gives the same answer.

mod data_set;
mod data_source;
mod spec;
pub mod sql;

use std::time::Duration;

use aws_sdk_quicksight::types::ResourcePermission;
use aws_setup::AwsError;
use cfn_response::{CustomResource, Outcome, PropertyError, Request};
use tracing::{info, warn};

pub use spec::{BuilderSpec, ConfigTable, data_key, data_set_id, parse_data_source_arn};
pub use sql::{DatasetSql, Names, Source, datasets};

/// Default `DataSourceId`.
pub const DEFAULT_DATA_SOURCE_ID: &str = "patch-compliance";
/// Default `Namespace`.
pub const DEFAULT_NAMESPACE: &str = "default";
/// The physical table id inside each dataset.
pub const PHYSICAL_TABLE_ID: &str = "sql";

/// What the owner of a data source may do: QuickSight's "owner" set for data sources.
pub const DATA_SOURCE_ACTIONS: [&str; 6] = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
];

/// What the owner of a dataset may do: QuickSight's "owner" set for datasets.
pub const DATA_SET_ACTIONS: [&str; 10] = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSetPermissions",
];

/// How long to wait between `DescribeDataSource` calls while a data source is being created.
const POLL_START: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(5);

/// Why a request fails.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// A new data source identity was built but the previous data source could not be deleted.
    #[error(
        "built the new data source but could not delete the previous one {old}: {source}; {undone}"
    )]
    Replacement {
        /// The previous data source ARN.
        old: String,
        /// Why it could not be deleted.
        source: Box<BuilderError>,
        /// What became of the new one.
        undone: String,
    },
    /// A property is missing or wrong.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// A data source of that id exists and is not an Athena data source.
    #[error(
        "QuickSight data source {id:?} already exists and is a {kind} data source, not an Athena one; \
         it was not made by this stack and will not be adopted: choose another DataSourceId"
    )]
    NotAthena {
        id: String,
        /// Its type.
        kind: String,
    },
    /// QuickSight could not create or update the data source.
    #[error(
        "QuickSight data source {id:?} ended in {status}: {reason}. Check that QuickSight's service role may use \
         the Athena workgroup, the Glue database, the buckets and their KMS key (QuickSight → Manage QuickSight → \
         Security & permissions)"
    )]
    DataSourceFailed {
        id: String,
        /// `CREATION_FAILED` or `UPDATE_FAILED`.
        status: String,
        /// QuickSight's error type and message.
        reason: String,
    },
    /// A request could not be built (a bug: the values are validated).
    #[error("could not build the {what} request: {message}")]
    Build {
        /// Which request.
        what: &'static str,
        /// The builder's message.
        message: String,
    },
    /// An AWS call failed.
    #[error("quicksight:{operation} failed for {resource}: {source}")]
    Aws {
        operation: &'static str,
        /// The data source or dataset id.
        resource: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
}

fn aws(operation: &'static str, resource: &str, source: AwsError) -> BuilderError {
    BuilderError::Aws {
        operation,
        resource: resource.to_owned(),
        source,
    }
}

fn build_error(
    what: &'static str,
) -> impl FnOnce(aws_sdk_quicksight::error::BuildError) -> BuilderError {
    move |e| BuilderError::Build {
        what,
        message: e.to_string(),
    }
}

fn permissions(
    principals: &[String],
    actions: &[&str],
) -> Result<Vec<ResourcePermission>, BuilderError> {
    principals
        .iter()
        .map(|p| {
            ResourcePermission::builder()
                .principal(p)
                .set_actions(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
                .build()
                .map_err(build_error("permission"))
        })
        .collect()
}

/// The revocations for principals an update removed; `None` (no member in the request) when there
/// are none, since QuickSight rejects an empty list.
fn revocations(
    revoke: &[String],
    actions: &[&str],
) -> Result<Option<Vec<ResourcePermission>>, BuilderError> {
    (!revoke.is_empty())
        .then(|| permissions(revoke, actions))
        .transpose()
}

/// The custom resource, holding its client and the Region it works in.
#[derive(Debug, Clone)]
pub struct QuickSightBuilder {
    qs: aws_sdk_quicksight::Client,
    region: String,
}

impl QuickSightBuilder {
    /// A handler using this client, in this Region (the client's).
    pub fn new(qs: aws_sdk_quicksight::Client, region: impl Into<String>) -> Self {
        Self {
            qs,
            region: region.into(),
        }
    }

    /// Creates (`update == None`) or updates everything the spec wants, then removes what it does
    /// not want. `revoke` lists principals to take off.
    async fn converge(
        &self,
        request: &Request,
        spec: &BuilderSpec,
        update: Option<&[String]>,
    ) -> Result<Outcome, BuilderError> {
        request.set_step(format!("setting up data source {}", spec.data_source_id));
        match update {
            None => self.create_data_source(spec).await?,
            Some(revoke) => self.update_data_source(spec, revoke).await?,
        }
        let arn = spec.data_source_arn(&self.region);
        let mut outcome = Outcome::new(&arn)
            .with_data("DataSourceArn", &arn)
            .with_data("DataSourceId", &spec.data_source_id);
        let mut ids = Vec::new();
        let mut keys = Vec::new();
        for dataset in spec.wanted() {
            let id = data_set_id(&spec.data_source_id, &dataset.key);
            request.set_step(format!("setting up dataset {id}"));
            let arn = match update {
                None => self.create_data_set(spec, dataset).await?,
                Some(revoke) => self.update_data_set(spec, dataset, revoke).await?,
            };
            outcome = outcome.with_data(data_key(&dataset.key), arn);
            keys.push(dataset.key.as_str());
            ids.push(id);
        }
        self.delete_unwanted(request, &spec.account_id, &spec.data_source_id, &keys)
            .await?;
        Ok(outcome.with_data("DataSetIds", ids.join(",")))
    }

    /// Deletes every dataset and the data source named by a physical id, those that exist only:
    /// they are looked up first (`ListDataSets`, `ListDataSources`, which IAM cannot scope), because
    /// after a new `DataSourceId` the old ones are gone already and no longer the role's to touch.
    async fn delete_all(&self, request: &Request, physical_id: &str) -> Result<(), BuilderError> {
        let Some((account, data_source_id)) = parse_data_source_arn(physical_id) else {
            warn!(
                physical_id,
                "not a data source ARN this resource makes: nothing to delete"
            );
            return Ok(());
        };
        request.set_step(format!(
            "looking up data source {data_source_id} and its datasets"
        ));
        let data_sets = self.existing_data_sets(account, data_source_id).await?;
        for id in &data_sets {
            request.set_step(format!("deleting dataset {id}"));
            self.delete_data_set(account, id).await?;
        }
        if self.data_source_exists(account, data_source_id).await? {
            request.set_step(format!("deleting data source {data_source_id}"));
            self.delete_data_source(account, data_source_id).await?;
        } else {
            info!(data_source = %data_source_id, "no such data source: nothing to delete");
        }
        Ok(())
    }

    /// A new data source identity: the new data source and datasets are built, then the old ones
    /// deleted within this Update, while the role may still delete them (the template's
    /// previous-identity policy is updated after this resource). If the old ones cannot be deleted
    /// the new ones are deleted again, so a rollback finds the account as it was.
    async fn replace(
        &self,
        request: &Request,
        spec: &BuilderSpec,
        old: &str,
    ) -> Result<Outcome, BuilderError> {
        let outcome = self.converge(request, spec, None).await?;
        if let Err(source) = self.delete_all(request, old).await {
            warn!(old, error = %source, "deleting the previous data source failed; removing the new one again");
            let new = spec.data_source_arn(&self.region);
            let undone = match self.delete_all(request, &new).await {
                Ok(()) => "the new data source and datasets were deleted again".to_owned(),
                Err(e) => format!(
                    "deleting the new ones failed too ({e}): delete data source {new} and its \
                     datasets in QuickSight"
                ),
            };
            return Err(BuilderError::Replacement {
                old: old.to_owned(),
                source: Box::new(source),
                undone,
            });
        }
        Ok(outcome)
    }
}

impl CustomResource for QuickSightBuilder {
    type Error = BuilderError;

    async fn create(&self, request: &Request) -> Result<Outcome, BuilderError> {
        let spec =
            BuilderSpec::from_properties(&request.properties, request.function_account_id())?;
        self.converge(request, &spec, None).await
    }

    async fn update(&self, request: &Request) -> Result<Outcome, BuilderError> {
        let account = request.function_account_id();
        let spec = BuilderSpec::from_properties(&request.properties, account)?;
        let current = request.physical_resource_id().unwrap_or_default();
        if spec.data_source_arn(&self.region) != current {
            // Another account or data source id is another resource: build it, delete the old one
            // and answer the new id (CloudFormation's later Delete of the old id finds nothing).
            info!(
                old = current,
                "new data source identity: building a replacement"
            );
            return self.replace(request, &spec, current).await;
        }
        // Principals the update removed lose their access; others granted by hand keep theirs.
        // Unreadable old properties (a template fixed after a bad update) revoke nothing.
        let revoke: Vec<String> = BuilderSpec::from_properties(&request.old_properties, account)
            .map(|old| {
                old.principals
                    .into_iter()
                    .filter(|p| !spec.principals.contains(p))
                    .collect()
            })
            .unwrap_or_default();
        self.converge(request, &spec, Some(&revoke)).await
    }

    async fn delete(&self, request: &Request) -> Result<Outcome, BuilderError> {
        let id = request.physical_resource_id().unwrap_or_default();
        self.delete_all(request, id).await?;
        Ok(Outcome::new(id))
    }
}
