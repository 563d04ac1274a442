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
//! - **Delete**: `DeleteDataSet` for every dataset key, then `DeleteDataSource`; "not found" is
//!   success.
//!
//! Answer `Data`: `DataSourceArn`, `DataSourceId`, `DataSetIds` (comma-separated) and one
//! `<Key>DataSetArn` per dataset (`NodesDataSetArn`, `PatchesDataSetArn`, `NodeTagsDataSetArn`,
//! `ConfigComplianceDataSetArn`).
//!
//! ## API calls
//! Create: 1 + one per dataset (+ one `DeleteDataSet` per unwanted dataset). Update: 2 for the data
//! source and 2 per dataset (+ one per unwanted dataset). Delete: 5.
//!
//! ## IAM actions
//! `quicksight:CreateDataSource`, `UpdateDataSource`, `DescribeDataSource`, `DeleteDataSource`,
//! `UpdateDataSourcePermissions`, `PassDataSource` on
//! `arn:${Partition}:quicksight:${Region}:${Account}:datasource/${DataSourceId}`;
//! `quicksight:CreateDataSet`, `UpdateDataSet`, `DeleteDataSet`, `UpdateDataSetPermissions`,
//! `PassDataSet` on `arn:${Partition}:quicksight:${Region}:${Account}:dataset/${DataSourceId}-*`.
//! QuickSight itself needs access to Athena, the buckets and the KMS key through its service role.
//!
//! ## Idempotency
//! Every step converges: creating something that exists updates it, deleting something missing is
//! success, so a repeated request leaves the same state and gives the same answer.

pub mod sql;

use std::time::Duration;

use aws_sdk_quicksight::types::{
    AthenaParameters, CustomSql, DataSetImportMode, DataSourceParameters, DataSourceType,
    InputColumn, PhysicalTable, ResourcePermission, ResourceStatus,
};
use aws_setup::AwsError;
use aws_setup::names::{Arn, is_account_id, is_region, partition};
use cfn_response::{CustomResource, Outcome, Properties, PropertyError, Request};
use tracing::{info, warn};

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

/// The Config snapshot table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigTable {
    /// Glue database.
    pub database: String,
    /// Glue table.
    pub table: String,
}

/// The validated properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderSpec {
    /// `AwsAccountId`.
    pub account_id: String,
    /// `DataSourceId`.
    pub data_source_id: String,
    /// `WorkGroup`.
    pub work_group: String,
    /// `Database`.
    pub database: String,
    /// `Namespace`.
    pub namespace: String,
    /// `PrincipalArns`, deduplicated, in the given order.
    pub principals: Vec<String>,
    /// `ImportMode`.
    pub import_mode: DataSetImportMode,
    /// `ConfigSnapshotTable` and `ConfigDatabase`.
    pub config: Option<ConfigTable>,
}

fn check_chars(value: &str, max: usize, extra: &str, what: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > max {
        return Err(format!("it must be 1 to {max} characters long"));
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || extra.contains(*c)))
    {
        Some(bad) => Err(format!("{value:?} contains {bad:?}; use {what}")),
        None => Ok(()),
    }
}

/// A Glue database or table name usable inside a double-quoted Athena identifier.
fn check_glue_name(value: &str) -> Result<(), String> {
    check_chars(
        value,
        255,
        "_-",
        "lowercase letters, digits, '_' and '-' (Athena's names for Glue databases and tables)",
    )?;
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "{value:?} has uppercase letters; Glue stores names in lowercase: use {:?}",
            value.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// Checks a principal ARN: `arn:<partition>:quicksight:<region>:<account>:(user|group)/<namespace>/<name>`.
fn check_principal(arn: &str, account: &str, namespace: &str) -> Result<(), String> {
    let shape = "expected arn:<partition>:quicksight:<identity region>:<account>:user/<namespace>/<user name> or …:group/<namespace>/<group name>";
    let Some(parsed) = Arn::parse(arn) else {
        return Err(format!("{arn:?} is not an ARN; {shape}"));
    };
    if parsed.service != "quicksight" {
        return Err(format!("{arn:?} is not a QuickSight ARN; {shape}"));
    }
    if !is_region(parsed.region) {
        return Err(format!(
            "{arn:?} has no Region; use the ARN QuickSight shows (the Region is QuickSight's identity Region)"
        ));
    }
    if parsed.account != account {
        return Err(format!(
            "{arn:?} belongs to account {}, but the data source is in {account}: QuickSight grants only principals of its own account",
            parsed.account
        ));
    }
    let mut segments = parsed.resource.splitn(3, '/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("user" | "group"), Some(ns), Some(name)) if !name.is_empty() => {
            if ns != namespace {
                return Err(format!(
                    "{arn:?} is in namespace {ns:?}, not in Namespace {namespace:?}"
                ));
            }
            Ok(())
        }
        _ => Err(format!("{arn:?} is not a user or group; {shape}")),
    }
}

impl BuilderSpec {
    /// Reads and checks the properties; makes no AWS call. `function_account` is the account the
    /// function runs in, the default of `AwsAccountId`.
    pub fn from_properties(
        props: &Properties,
        function_account: Option<&str>,
    ) -> Result<Self, PropertyError> {
        let account_id = match props.optional_str("AwsAccountId")? {
            Some(id) if is_account_id(id) => id.to_owned(),
            Some(id) => {
                return Err(PropertyError::invalid(
                    "AwsAccountId",
                    format!("{id:?} is not a 12-digit account id"),
                ));
            }
            None => function_account.map(str::to_owned).ok_or_else(|| {
                PropertyError::invalid(
                    "AwsAccountId",
                    "it is not set and the function's own account could not be read from its ARN; set it",
                )
            })?,
        };
        let data_source_id = props
            .optional_str("DataSourceId")?
            .unwrap_or(DEFAULT_DATA_SOURCE_ID)
            .to_owned();
        check_chars(
            &data_source_id,
            100,
            "_-.",
            "letters, digits, '_', '-' and '.'",
        )
        .map_err(|e| PropertyError::invalid("DataSourceId", e))?;
        let work_group = props.required_str("WorkGroup")?.to_owned();
        check_chars(&work_group, 128, "_-.", "letters, digits, '_', '-' and '.'")
            .map_err(|e| PropertyError::invalid("WorkGroup", e))?;
        let database = props.required_str("Database")?.to_owned();
        check_glue_name(&database).map_err(|e| PropertyError::invalid("Database", e))?;
        let namespace = props
            .optional_str("Namespace")?
            .unwrap_or(DEFAULT_NAMESPACE)
            .to_owned();
        check_chars(&namespace, 64, "_-.", "letters, digits, '_', '-' and '.'")
            .map_err(|e| PropertyError::invalid("Namespace", e))?;

        let mut principals: Vec<String> = Vec::new();
        for arn in props.string_list("PrincipalArns")? {
            check_principal(&arn, &account_id, &namespace)
                .map_err(|e| PropertyError::invalid("PrincipalArns", e))?;
            if !principals.contains(&arn) {
                principals.push(arn);
            }
        }
        if principals.is_empty() {
            return Err(PropertyError::invalid(
                "PrincipalArns",
                "name at least one QuickSight user or group (arn:aws:quicksight:<identity region>:<account>:user/<namespace>/<name>); \
                 without one nobody could see the datasets",
            ));
        }
        if principals.len() > 64 {
            return Err(PropertyError::invalid(
                "PrincipalArns",
                format!(
                    "{} principals given; QuickSight accepts at most 64: grant a group instead",
                    principals.len()
                ),
            ));
        }

        let import_mode = match props.optional_str("ImportMode")? {
            None => DataSetImportMode::DirectQuery,
            Some(m) if m.eq_ignore_ascii_case("DIRECT_QUERY") => DataSetImportMode::DirectQuery,
            Some(m) if m.eq_ignore_ascii_case("SPICE") => DataSetImportMode::Spice,
            Some(m) => {
                return Err(PropertyError::invalid(
                    "ImportMode",
                    format!("{m:?} is neither DIRECT_QUERY nor SPICE"),
                ));
            }
        };

        let config = match props.optional_str("ConfigSnapshotTable")? {
            None => None,
            Some(table) => {
                check_glue_name(table)
                    .map_err(|e| PropertyError::invalid("ConfigSnapshotTable", e))?;
                let database = props
                    .optional_str("ConfigDatabase")?
                    .unwrap_or(&database)
                    .to_owned();
                check_glue_name(&database)
                    .map_err(|e| PropertyError::invalid("ConfigDatabase", e))?;
                Some(ConfigTable {
                    database,
                    table: table.to_owned(),
                })
            }
        };

        Ok(Self {
            account_id,
            data_source_id,
            work_group,
            database,
            namespace,
            principals,
            import_mode,
            config,
        })
    }

    /// The datasets these properties want, in build order.
    pub fn wanted(&self) -> impl Iterator<Item = &'static DatasetSql> + '_ {
        datasets()
            .iter()
            .filter(|d| d.source == Source::Inventory || self.config.is_some())
    }

    /// The names to substitute into the SQL.
    pub fn names(&self) -> Names<'_> {
        Names {
            database: &self.database,
            config: self
                .config
                .as_ref()
                .map(|c| (c.database.as_str(), c.table.as_str())),
        }
    }

    /// The data source ARN, also the physical id.
    pub fn data_source_arn(&self, region: &str) -> String {
        format!(
            "arn:{}:quicksight:{region}:{}:datasource/{}",
            partition(region),
            self.account_id,
            self.data_source_id
        )
    }
}

/// The dataset id for a key.
pub fn data_set_id(data_source_id: &str, key: &str) -> String {
    format!("{data_source_id}-{key}")
}

/// `nodes` → `NodesDataSetArn`, `node-tags` → `NodeTagsDataSetArn`.
pub fn data_key(key: &str) -> String {
    let mut out: String = key
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    out.push_str("DataSetArn");
    out
}

/// A data source ARN made by [`BuilderSpec::data_source_arn`], taken apart: (account, data source id).
pub fn parse_data_source_arn(arn: &str) -> Option<(&str, &str)> {
    let parsed = Arn::parse(arn)?;
    let id = parsed.resource.strip_prefix("datasource/")?;
    (parsed.service == "quicksight" && is_account_id(parsed.account) && !id.is_empty())
        .then_some((parsed.account, id))
}

/// Why a request fails.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// A property is missing or wrong.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// A data source of that id exists and is not an Athena data source.
    #[error(
        "QuickSight data source {id:?} already exists and is a {kind} data source, not an Athena one; \
         it was not made by this stack and will not be adopted: choose another DataSourceId"
    )]
    NotAthena {
        /// The id.
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
        /// The id.
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
        /// The operation.
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

/// Whether an update or create left the data source settled, in progress, or failed.
fn is_in_progress(status: Option<&ResourceStatus>) -> bool {
    matches!(
        status,
        Some(ResourceStatus::CreationInProgress | ResourceStatus::UpdateInProgress)
    )
}

fn is_failed(status: Option<&ResourceStatus>) -> bool {
    matches!(
        status,
        Some(ResourceStatus::CreationFailed | ResourceStatus::UpdateFailed)
    )
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

    fn athena_parameters(spec: &BuilderSpec) -> DataSourceParameters {
        DataSourceParameters::AthenaParameters(
            AthenaParameters::builder()
                .work_group(&spec.work_group)
                .build(),
        )
    }

    fn data_source_name(spec: &BuilderSpec) -> String {
        format!("Patch compliance (Athena {})", spec.work_group)
    }

    /// Creates the data source, or on a retried Create updates the one found.
    async fn create_data_source(&self, spec: &BuilderSpec) -> Result<(), BuilderError> {
        let id = &spec.data_source_id;
        let result = self
            .qs
            .create_data_source()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .name(Self::data_source_name(spec))
            .r#type(DataSourceType::Athena)
            .data_source_parameters(Self::athena_parameters(spec))
            .set_permissions(Some(permissions(&spec.principals, &DATA_SOURCE_ACTIONS)?))
            .send()
            .await
            .map_err(AwsError::from);
        match result {
            Ok(out) => {
                info!(data_source = %id, status = ?out.creation_status(), "created the data source");
                self.settle(spec, out.creation_status()).await
            }
            Err(e) if e.is("ResourceExistsException") => {
                let existing = self
                    .qs
                    .describe_data_source()
                    .aws_account_id(&spec.account_id)
                    .data_source_id(id)
                    .send()
                    .await
                    .map_err(|e| aws("DescribeDataSource", id, e.into()))?;
                let kind = existing.data_source().and_then(|d| d.r#type());
                if kind != Some(&DataSourceType::Athena) {
                    return Err(BuilderError::NotAthena {
                        id: id.clone(),
                        kind: kind.map_or("unknown", |k| k.as_str()).to_owned(),
                    });
                }
                info!(data_source = %id, "the data source exists (a retried Create): updating it");
                self.update_data_source(spec, &[]).await
            }
            Err(e) => Err(aws("CreateDataSource", id, e)),
        }
    }

    /// Updates the data source in place (creating it when missing) and its permissions.
    async fn update_data_source(
        &self,
        spec: &BuilderSpec,
        revoke: &[String],
    ) -> Result<(), BuilderError> {
        let id = &spec.data_source_id;
        let result = self
            .qs
            .update_data_source()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .name(Self::data_source_name(spec))
            .data_source_parameters(Self::athena_parameters(spec))
            .send()
            .await
            .map_err(AwsError::from);
        match result {
            Ok(out) => {
                info!(data_source = %id, status = ?out.update_status(), "updated the data source");
                self.settle(spec, out.update_status()).await?;
            }
            Err(e) if e.is("ResourceNotFoundException") => {
                warn!(data_source = %id, "the data source is gone: creating it again");
                return Box::pin(self.create_data_source(spec)).await;
            }
            Err(e) => return Err(aws("UpdateDataSource", id, e)),
        }
        self.qs
            .update_data_source_permissions()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .set_grant_permissions(Some(permissions(&spec.principals, &DATA_SOURCE_ACTIONS)?))
            .set_revoke_permissions(revocations(revoke, &DATA_SOURCE_ACTIONS)?)
            .send()
            .await
            .map_err(|e| aws("UpdateDataSourcePermissions", id, e.into()))?;
        Ok(())
    }

    /// Waits while QuickSight creates or updates the data source asynchronously; a failure is an
    /// error carrying QuickSight's reason.
    async fn settle(
        &self,
        spec: &BuilderSpec,
        status: Option<&ResourceStatus>,
    ) -> Result<(), BuilderError> {
        if !is_in_progress(status) && !is_failed(status) {
            return Ok(());
        }
        let id = &spec.data_source_id;
        let mut delay = POLL_START;
        loop {
            if is_in_progress(status) {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(POLL_MAX);
            }
            let described = self
                .qs
                .describe_data_source()
                .aws_account_id(&spec.account_id)
                .data_source_id(id)
                .send()
                .await
                .map_err(|e| aws("DescribeDataSource", id, e.into()))?;
            let source = described.data_source();
            let now = source.and_then(|d| d.status());
            if is_failed(now) {
                let reason = source
                    .and_then(|d| d.error_info())
                    .map(|e| {
                        format!(
                            "{} {}",
                            e.r#type().map_or("", |t| t.as_str()),
                            e.message().unwrap_or("")
                        )
                        .trim()
                        .to_owned()
                    })
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "QuickSight gave no reason".to_owned());
                return Err(BuilderError::DataSourceFailed {
                    id: id.clone(),
                    status: now.map_or("", |s| s.as_str()).to_owned(),
                    reason,
                });
            }
            if !is_in_progress(now) {
                info!(data_source = %id, status = ?now, "the data source is ready");
                return Ok(());
            }
        }
    }

    fn physical_table(
        spec: &BuilderSpec,
        region: &str,
        dataset: &DatasetSql,
    ) -> Result<PhysicalTable, BuilderError> {
        let columns = dataset
            .columns
            .iter()
            .map(|(name, ty)| {
                InputColumn::builder()
                    .name(name)
                    .r#type(ty.clone())
                    .build()
                    .map_err(build_error("column"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PhysicalTable::CustomSql(
            CustomSql::builder()
                .data_source_arn(spec.data_source_arn(region))
                .name(&dataset.name)
                .sql_query(dataset.render(&spec.names()))
                .set_columns(Some(columns))
                .build()
                .map_err(build_error("custom SQL"))?,
        ))
    }

    fn data_set_name(spec: &BuilderSpec, dataset: &DatasetSql) -> String {
        if spec.data_source_id == DEFAULT_DATA_SOURCE_ID {
            dataset.name.clone()
        } else {
            format!("{} ({})", dataset.name, spec.data_source_id)
        }
    }

    /// Creates a dataset; when it exists already, updates it in place. Returns its ARN.
    async fn create_data_set(
        &self,
        spec: &BuilderSpec,
        dataset: &DatasetSql,
    ) -> Result<String, BuilderError> {
        let id = data_set_id(&spec.data_source_id, &dataset.key);
        let result = self
            .qs
            .create_data_set()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .name(Self::data_set_name(spec, dataset))
            .physical_table_map(
                PHYSICAL_TABLE_ID,
                Self::physical_table(spec, &self.region, dataset)?,
            )
            .import_mode(spec.import_mode.clone())
            .set_permissions(Some(permissions(&spec.principals, &DATA_SET_ACTIONS)?))
            .send()
            .await
            .map_err(AwsError::from);
        match result {
            Ok(out) => {
                info!(data_set = %id, sql = dataset.file, "created the dataset");
                Ok(out.arn().unwrap_or_default().to_owned())
            }
            Err(e) if e.is("ResourceExistsException") => {
                info!(data_set = %id, "the dataset exists (a retried Create): updating it");
                self.update_data_set(spec, dataset, &[]).await
            }
            Err(e) => Err(aws("CreateDataSet", &id, e)),
        }
    }

    /// Updates a dataset in place (creating it when missing) and its permissions. Returns its ARN.
    async fn update_data_set(
        &self,
        spec: &BuilderSpec,
        dataset: &DatasetSql,
        revoke: &[String],
    ) -> Result<String, BuilderError> {
        let id = data_set_id(&spec.data_source_id, &dataset.key);
        let result = self
            .qs
            .update_data_set()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .name(Self::data_set_name(spec, dataset))
            .physical_table_map(
                PHYSICAL_TABLE_ID,
                Self::physical_table(spec, &self.region, dataset)?,
            )
            .import_mode(spec.import_mode.clone())
            .send()
            .await
            .map_err(AwsError::from);
        let arn = match result {
            Ok(out) => {
                info!(data_set = %id, sql = dataset.file, "updated the dataset");
                out.arn().unwrap_or_default().to_owned()
            }
            Err(e) if e.is("ResourceNotFoundException") => {
                warn!(data_set = %id, "the dataset is missing: creating it");
                return Box::pin(self.create_data_set(spec, dataset)).await;
            }
            Err(e) => return Err(aws("UpdateDataSet", &id, e)),
        };
        self.qs
            .update_data_set_permissions()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .set_grant_permissions(Some(permissions(&spec.principals, &DATA_SET_ACTIONS)?))
            .set_revoke_permissions(revocations(revoke, &DATA_SET_ACTIONS)?)
            .send()
            .await
            .map_err(|e| aws("UpdateDataSetPermissions", &id, e.into()))?;
        Ok(arn)
    }

    /// Deletes a dataset; "not found" is success.
    async fn delete_data_set(&self, account: &str, id: &str) -> Result<(), BuilderError> {
        match self
            .qs
            .delete_data_set()
            .aws_account_id(account)
            .data_set_id(id)
            .send()
            .await
            .map_err(AwsError::from)
        {
            Ok(_) => {
                info!(data_set = %id, "deleted the dataset");
                Ok(())
            }
            Err(e) if e.is("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(aws("DeleteDataSet", id, e)),
        }
    }

    /// Deletes the datasets these properties do not want (all of them when `spec` wants none).
    async fn delete_unwanted(
        &self,
        request: &Request,
        account: &str,
        data_source_id: &str,
        wanted: &[&str],
    ) -> Result<(), BuilderError> {
        for key in sql::all_keys().filter(|k| !wanted.contains(k)) {
            let id = data_set_id(data_source_id, key);
            request.set_step(format!("deleting dataset {id}"));
            self.delete_data_set(account, &id).await?;
        }
        Ok(())
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

    /// Deletes every dataset and the data source named by a physical id; "not found" is success.
    async fn delete_all(&self, request: &Request, physical_id: &str) -> Result<(), BuilderError> {
        let Some((account, data_source_id)) = parse_data_source_arn(physical_id) else {
            warn!(
                physical_id,
                "not a data source ARN this resource makes: nothing to delete"
            );
            return Ok(());
        };
        self.delete_unwanted(request, account, data_source_id, &[])
            .await?;
        request.set_step(format!("deleting data source {data_source_id}"));
        match self
            .qs
            .delete_data_source()
            .aws_account_id(account)
            .data_source_id(data_source_id)
            .send()
            .await
            .map_err(AwsError::from)
        {
            Ok(_) => info!(data_source = %data_source_id, "deleted the data source"),
            Err(e) if e.is("ResourceNotFoundException") => {
                info!(data_source = %data_source_id, "no such data source: nothing to delete");
            }
            Err(e) => return Err(aws("DeleteDataSource", data_source_id, e)),
        }
        Ok(())
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
            // Another account or data source id is another resource: build it, answer its id, and
            // CloudFormation deletes the old one.
            info!(
                old = current,
                "new data source identity: building a replacement"
            );
            return self.converge(request, &spec, None).await;
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

#[cfg(test)]
mod tests;
