//! The resource's properties: read with [`Properties::deserialize`], then validated into a
//! [`BuilderSpec`] before any AWS call; each failure names the property.

use aws_sdk_quicksight::types::DataSetImportMode;
use aws_setup::names::{Arn, is_account_id, is_region, partition};
use cfn_response::{Properties, PropertyError, de};
use serde::Deserialize;

use crate::sql::{DatasetSql, Names, Source, datasets};
use crate::{DEFAULT_DATA_SOURCE_ID, DEFAULT_NAMESPACE};

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

/// The properties as CloudFormation sends them (every scalar a string; blank is absent), before
/// validation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawProperties {
    #[serde(default, deserialize_with = "de::blank_as_none")]
    aws_account_id: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    data_source_id: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    work_group: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    database: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    namespace: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    principal_arns: Vec<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    import_mode: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    config_snapshot_table: Option<String>,
    #[serde(default, deserialize_with = "de::blank_as_none")]
    config_database: Option<String>,
}

fn required(value: Option<String>, name: &str) -> Result<String, PropertyError> {
    value.ok_or_else(|| PropertyError::Missing { name: name.into() })
}

fn checked(
    value: String,
    name: &str,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Result<String, PropertyError> {
    check(&value).map_err(|e| PropertyError::invalid(name, e))?;
    Ok(value)
}

impl BuilderSpec {
    /// Reads and checks the properties; makes no AWS call. `function_account` is the account the
    /// function runs in, the default of `AwsAccountId`.
    pub fn from_properties(
        props: &Properties,
        function_account: Option<&str>,
    ) -> Result<Self, PropertyError> {
        let raw: RawProperties = props.deserialize()?;
        let account_id = match raw.aws_account_id {
            Some(id) if is_account_id(&id) => id,
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
        let names = "letters, digits, '_', '-' and '.'";
        let data_source_id = checked(
            raw.data_source_id
                .unwrap_or_else(|| DEFAULT_DATA_SOURCE_ID.to_owned()),
            "DataSourceId",
            |v| check_chars(v, 100, "_-.", names),
        )?;
        let work_group = checked(required(raw.work_group, "WorkGroup")?, "WorkGroup", |v| {
            check_chars(v, 128, "_-.", names)
        })?;
        let database = checked(
            required(raw.database, "Database")?,
            "Database",
            check_glue_name,
        )?;
        let namespace = checked(
            raw.namespace
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            "Namespace",
            |v| check_chars(v, 64, "_-.", names),
        )?;

        let mut principals: Vec<String> = Vec::new();
        for arn in raw.principal_arns {
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

        let import_mode = match raw.import_mode.as_deref() {
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

        let config = match raw.config_snapshot_table {
            None => None,
            Some(table) => Some(ConfigTable {
                table: checked(table, "ConfigSnapshotTable", check_glue_name)?,
                database: checked(
                    raw.config_database.unwrap_or_else(|| database.clone()),
                    "ConfigDatabase",
                    check_glue_name,
                )?,
            }),
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
