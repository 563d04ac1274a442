//! # glue-column-remover
//!
//! After every successful crawl of the resource data sync bucket, the Glue crawler re-adds a data
//! column `resourcetype` to `aws_instanceinformation` (the `ResourceType` attribute of
//! `AWS:InstanceInformation` rows), which collides with the partition key of the same name. Athena
//! then fails on every query of the table. This function removes that data column from the table
//! and from every partition that carries it.
//!
//! ## Trigger
//! EventBridge, `Glue Crawler State Change` (the template's rule already matches this crawler's name
//! and state `Succeeded`; the function checks both again, so a broader rule cannot make it act on
//! the wrong crawl):
//! ```json
//! {"version": "0", "id": "...", "detail-type": "Glue Crawler State Change", "source": "aws.glue",
//!  "account": "123456789012", "region": "us-east-1", "time": "2026-11-22T06:00:00Z",
//!  "resources": [], "detail": {"crawlerName": "patch-compliance-crawler", "state": "Succeeded",
//!  "message": "Crawler Succeeded"}}
//! ```
//! Events of other crawlers, other states, and other event types are logged and ignored.
//!
//! And an EventBridge schedule (`"detail-type": "Scheduled Event"`, `"source": "aws.events"`):
//! the fix runs whatever happened, because Glue's events are delivered on a best-effort basis
//! ("Delivery type: Best effort", EventBridge Events Reference, "AWS Glue events"), so a crawl
//! whose success event was lost is still fixed before the next day's reports.
//!
//! ## Environment
//! - `DATABASE_NAME` (required): the Glue database of the sync bucket's tables.
//! - `CRAWLER_NAME` (required): the crawler whose successful runs trigger the fix.
//! - `TABLE_NAME` (default `aws_instanceinformation`).
//! - `COLUMN_NAME` (default `resourcetype`): the data column to remove when it is named like one of
//!   the table's partition keys. A data column that does not collide is never touched.
//!
//! ## What it does
//! 1. `glue:GetTable`. Table absent, or no colliding column: log it and succeed.
//! 2. `glue:UpdateTable` with a `TableInput` built field by field from the fields `TableInput`
//!    accepts (an allow-list: a field GetTable adds tomorrow cannot break it), minus the column, and
//!    the table's `VersionId` for optimistic concurrency. On `ConcurrentModificationException` it
//!    re-reads the table and tries again, up to [`MAX_TABLE_ATTEMPTS`] times.
//! 3. `glue:GetPartitions` (paginated) and `glue:BatchUpdatePartition` (up to 100 entries a call) for
//!    the partitions whose own column list carries the column; every per-entry error is checked.
//!
//! ## IAM actions
//! `glue:GetTable`, `glue:UpdateTable`, `glue:GetPartitions`, `glue:BatchUpdatePartition` on the
//! catalog, the database and the table (`arn:${Partition}:glue:${Region}:${Account}:catalog`,
//! `...:database/${DATABASE_NAME}`, `...:table/${DATABASE_NAME}/${TABLE_NAME}`).
//!
//! ## Idempotency and retries
//! Running twice is harmless: the second run finds nothing to remove. An AWS error that remains after
//! the SDK's retries is returned as an invocation error, so Lambda retries the event and finally sends
//! it to the dead-letter queue; nothing is swallowed.

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_glue::error::BuildError;
use aws_sdk_glue::operation::get_partitions::GetPartitionsError;
use aws_sdk_glue::operation::get_table::GetTableError;
use aws_sdk_glue::operation::update_table::UpdateTableError;
use aws_sdk_glue::types::{
    BatchUpdatePartitionRequestEntry, Column, Partition, PartitionInput, StorageDescriptor, Table,
    TableInput,
};
use aws_setup::{AwsError, MissingSetting, required_setting, setting};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};

/// Attempts of read-modify-write on the table before giving up to Lambda's retry.
pub const MAX_TABLE_ATTEMPTS: u32 = 5;
/// `BatchUpdatePartition` accepts up to 100 entries.
pub const PARTITION_BATCH: usize = 100;
/// The EventBridge detail type of crawler events.
pub const CRAWLER_EVENT: &str = "Glue Crawler State Change";
/// The EventBridge detail type of a schedule's events (source `aws.events`).
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DATABASE_NAME`.
    pub database: String,
    /// `CRAWLER_NAME`.
    pub crawler: String,
    /// `TABLE_NAME`.
    pub table: String,
    /// `COLUMN_NAME`.
    pub column: String,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Self::from_lookup(aws_setup::from_env)
    }

    /// Reads the settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingSetting> {
        Ok(Self {
            database: required_setting(&lookup, "DATABASE_NAME")?,
            crawler: required_setting(&lookup, "CRAWLER_NAME")?,
            table: setting(&lookup, "TABLE_NAME")
                .unwrap_or_else(|| "aws_instanceinformation".to_owned()),
            column: setting(&lookup, "COLUMN_NAME").unwrap_or_else(|| "resourcetype".to_owned()),
        })
    }
}

/// `detail` of a crawler state change event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrawlerDetail {
    pub crawler_name: String,
    /// `Started`, `Succeeded`, `Failed`.
    pub state: String,
}

/// Why an invocation fails.
#[derive(Debug, thiserror::Error)]
pub enum RemoverError {
    /// The event is not an EventBridge event, or a crawler event without its fields.
    #[error(
        "malformed event: expected an EventBridge \"{CRAWLER_EVENT}\" event from aws.glue with \
         detail.crawlerName and detail.state; {0}"
    )]
    Malformed(String),
    /// An AWS call failed after the SDK's retries.
    #[error("glue:{operation} on {target} failed: {source}")]
    Aws {
        operation: &'static str,
        /// The table or partitions.
        target: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
    /// The table kept changing under us.
    #[error(
        "table {0} changed concurrently {MAX_TABLE_ATTEMPTS} times in a row; the event will be retried"
    )]
    Contended(String),
    /// A Glue input could not be built from what Glue returned (a required field was missing).
    #[error("cannot build the Glue request for {0}: {1}")]
    Build(String, #[source] BuildError),
    /// Some partitions could not be updated.
    #[error("BatchUpdatePartition failed for {count} partition(s) of {table}: {details}")]
    Partitions {
        table: String,
        /// How many failed.
        count: usize,
        /// The first failures (values, `<code>: <message>`) and how many more.
        details: String,
    },
}

impl From<RemoverError> for Diagnostic {
    fn from(e: RemoverError) -> Self {
        let error_type = match &e {
            RemoverError::Malformed(_) => "MalformedEvent",
            RemoverError::Aws { .. } => "AwsError",
            RemoverError::Contended(_) => "ConcurrentModification",
            RemoverError::Partitions { .. } => "PartitionUpdateFailed",
            RemoverError::Build(..) => "InvalidGlueData",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: aws_setup::error_chain(&e),
        }
    }
}

/// What an invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Why nothing was done, if nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// The table's column was removed by this run.
    pub table_updated: bool,
    /// Partitions whose column was removed by this run.
    pub partitions_updated: usize,
}

impl Report {
    fn ignored(reason: impl Into<String>) -> Self {
        Self {
            ignored: Some(reason.into()),
            ..Self::default()
        }
    }
}

/// True when `column` is a data column of `descriptor` and names one of `partition_keys`.
pub fn has_colliding_column(
    descriptor: Option<&StorageDescriptor>,
    partition_keys: &[Column],
    column: &str,
) -> bool {
    let is_key = partition_keys
        .iter()
        .any(|k| k.name().eq_ignore_ascii_case(column));
    is_key
        && descriptor.is_some_and(|sd| {
            sd.columns()
                .iter()
                .any(|c| c.name().eq_ignore_ascii_case(column))
        })
}

/// The storage descriptor without `column`.
pub fn without_column(descriptor: &StorageDescriptor, column: &str) -> StorageDescriptor {
    let mut sd = descriptor.clone();
    let kept: Vec<Column> = sd
        .columns()
        .iter()
        .filter(|c| !c.name().eq_ignore_ascii_case(column))
        .cloned()
        .collect();
    sd.columns = Some(kept);
    sd
}

/// The `TableInput` for `table` minus `column`, built from the fields `TableInput` accepts. Read-only
/// fields of `Table` (CatalogId, DatabaseName, CreateTime, UpdateTime, CreatedBy, VersionId,
/// IsRegisteredWithLakeFormation, ...) are never copied: the typed builder has no place for them.
pub fn table_input_without(table: &Table, column: &str) -> Result<TableInput, BuildError> {
    TableInput::builder()
        .name(table.name())
        .set_description(table.description().map(str::to_owned))
        .set_owner(table.owner().map(str::to_owned))
        .set_last_access_time(table.last_access_time().copied())
        .set_last_analyzed_time(table.last_analyzed_time().copied())
        .retention(table.retention())
        .set_storage_descriptor(
            table
                .storage_descriptor()
                .map(|sd| without_column(sd, column)),
        )
        .set_partition_keys(Some(table.partition_keys().to_vec()))
        .set_view_original_text(table.view_original_text().map(str::to_owned))
        .set_view_expanded_text(table.view_expanded_text().map(str::to_owned))
        .set_table_type(table.table_type().map(str::to_owned))
        .set_parameters(table.parameters().cloned())
        .set_target_table(table.target_table().cloned())
        .build()
}

/// The `PartitionInput` for `partition` minus `column`.
pub fn partition_input_without(partition: &Partition, column: &str) -> PartitionInput {
    PartitionInput::builder()
        .set_values(Some(partition.values().to_vec()))
        .set_last_access_time(partition.last_access_time().copied())
        .set_last_analyzed_time(partition.last_analyzed_time().copied())
        .set_storage_descriptor(
            partition
                .storage_descriptor()
                .map(|sd| without_column(sd, column)),
        )
        .set_parameters(partition.parameters().cloned())
        .build()
}

/// The remover with its client and settings. Build once per process.
#[derive(Debug, Clone)]
pub struct Remover {
    glue: aws_sdk_glue::Client,
    settings: Settings,
}

impl Remover {
    /// A remover using this client and these settings.
    pub fn new(glue: aws_sdk_glue::Client, settings: Settings) -> Self {
        Self { glue, settings }
    }

    /// `database.table`, for messages.
    fn qualified(&self) -> String {
        format!("{}.{}", self.settings.database, self.settings.table)
    }

    fn aws(&self, operation: &'static str, source: AwsError) -> RemoverError {
        RemoverError::Aws {
            operation,
            target: self.qualified(),
            source,
        }
    }

    /// Handles one event.
    pub async fn handle_event(&self, payload: &Value) -> Result<Report, RemoverError> {
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(payload.clone()).map_err(|e| {
                RemoverError::Malformed(format!("it does not parse as an EventBridge event ({e})"))
            })?;
        if event.detail_type == SCHEDULED_EVENT && event.source == "aws.events" {
            info!("scheduled run");
            return self.fix().await;
        }
        if event.detail_type != CRAWLER_EVENT || event.source != "aws.glue" {
            info!(detail_type = %event.detail_type, source = %event.source, "not a crawler event; ignored");
            return Ok(Report::ignored(format!(
                "event {:?} from {} is not a crawler state change",
                event.detail_type, event.source
            )));
        }
        let detail: CrawlerDetail = serde_json::from_value(event.detail)
            .map_err(|e| RemoverError::Malformed(format!("its detail is incomplete ({e})")))?;
        if detail.crawler_name != self.settings.crawler {
            info!(crawler = %detail.crawler_name, expected = %self.settings.crawler, "another crawler; ignored");
            return Ok(Report::ignored(format!(
                "crawler {} is not {}",
                detail.crawler_name, self.settings.crawler
            )));
        }
        if detail.state != "Succeeded" {
            info!(state = %detail.state, "crawl did not succeed; nothing to fix");
            return Ok(Report::ignored(format!(
                "state {} is not Succeeded",
                detail.state
            )));
        }
        self.fix().await
    }

    /// Removes the column from the table and its partitions.
    pub async fn fix(&self) -> Result<Report, RemoverError> {
        let mut report = Report {
            table_updated: self.fix_table().await?,
            ..Report::default()
        };
        report.partitions_updated = self.fix_partitions().await?;
        info!(
            table_updated = report.table_updated,
            partitions_updated = report.partitions_updated,
            "done"
        );
        Ok(report)
    }

    async fn get_table(&self) -> Result<Option<Table>, RemoverError> {
        let result = self
            .glue
            .get_table()
            .database_name(&self.settings.database)
            .name(&self.settings.table)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.table),
            Err(e)
                if e.as_service_error()
                    .is_some_and(GetTableError::is_entity_not_found_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.aws("GetTable", e.into())),
        }
    }

    /// Returns whether this run changed the table.
    async fn fix_table(&self) -> Result<bool, RemoverError> {
        let column = &self.settings.column;
        for attempt in 1..=MAX_TABLE_ATTEMPTS {
            let Some(table) = self.get_table().await? else {
                info!(table = %self.settings.table, "table does not exist (yet); nothing to fix");
                return Ok(false);
            };
            if !has_colliding_column(table.storage_descriptor(), table.partition_keys(), column) {
                info!(table = %self.settings.table, %column, "no data column collides with a partition key");
                return Ok(false);
            }
            let input = table_input_without(&table, column)
                .map_err(|e| RemoverError::Build(format!("table {}", table.name()), e))?;
            let result = self
                .glue
                .update_table()
                .database_name(&self.settings.database)
                .table_input(input)
                .set_version_id(table.version_id().map(str::to_owned))
                .send()
                .await;
            match result {
                Ok(_) => {
                    info!(table = %self.settings.table, %column, version = ?table.version_id(), "removed the colliding column");
                    return Ok(true);
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(UpdateTableError::is_concurrent_modification_exception) =>
                {
                    warn!(
                        attempt,
                        "table changed while we updated it; reading it again"
                    );
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => return Err(self.aws("UpdateTable", e.into())),
            }
        }
        Err(RemoverError::Contended(self.qualified()))
    }

    /// Returns how many partitions this run changed.
    async fn fix_partitions(&self) -> Result<usize, RemoverError> {
        let column = &self.settings.column;
        let mut pages = self
            .glue
            .get_partitions()
            .database_name(&self.settings.database)
            .table_name(&self.settings.table)
            .into_paginator()
            .send();
        let mut pending: Vec<BatchUpdatePartitionRequestEntry> = Vec::new();
        let mut updated = 0;
        let mut failures = Vec::new();
        // Partition keys are the table's; a partition "collides" when its own column list still
        // carries the column, whatever its keys (partitions have no keys of their own).
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(GetPartitionsError::is_entity_not_found_exception) =>
                {
                    return Ok(updated);
                }
                Err(e) => return Err(self.aws("GetPartitions", e.into())),
            };
            for partition in page.partitions() {
                let carries = partition.storage_descriptor().is_some_and(|sd| {
                    sd.columns()
                        .iter()
                        .any(|c| c.name().eq_ignore_ascii_case(column))
                });
                if !carries {
                    continue;
                }
                let entry = BatchUpdatePartitionRequestEntry::builder()
                    .set_partition_value_list(Some(partition.values().to_vec()))
                    .partition_input(partition_input_without(partition, column))
                    .build()
                    .map_err(|e| {
                        RemoverError::Build(format!("partition {:?}", partition.values()), e)
                    })?;
                pending.push(entry);
                if pending.len() == PARTITION_BATCH {
                    updated += self
                        .update_partitions(std::mem::take(&mut pending), &mut failures)
                        .await?;
                }
            }
        }
        if !pending.is_empty() {
            updated += self.update_partitions(pending, &mut failures).await?;
        }
        if failures.is_empty() {
            Ok(updated)
        } else {
            Err(RemoverError::Partitions {
                table: self.qualified(),
                count: failures.len(),
                details: aws_setup::summarize(&failures, 5),
            })
        }
    }

    /// One `BatchUpdatePartition`; returns how many entries succeeded and records the failures.
    async fn update_partitions(
        &self,
        entries: Vec<BatchUpdatePartitionRequestEntry>,
        failures: &mut Vec<String>,
    ) -> Result<usize, RemoverError> {
        let total = entries.len();
        let out = self
            .glue
            .batch_update_partition()
            .database_name(&self.settings.database)
            .table_name(&self.settings.table)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| self.aws("BatchUpdatePartition", AwsError::from(e)))?;
        for error in out.errors() {
            let detail = error.error_detail();
            failures.push(format!(
                "{:?}: {}: {}",
                error.partition_value_list(),
                detail
                    .and_then(|d| d.error_code())
                    .unwrap_or("UnknownError"),
                detail.and_then(|d| d.error_message()).unwrap_or("")
            ));
        }
        let succeeded = total - out.errors().len();
        info!(succeeded, failed = out.errors().len(), "updated partitions");
        Ok(succeeded)
    }
}

/// The Lambda handler: the runtime serializes the report as the invocation's result.
pub async fn handle(remover: &Remover, event: LambdaEvent<Value>) -> Result<Report, RemoverError> {
    remover.handle_event(&event.payload).await
}

#[cfg(test)]
mod tests;
