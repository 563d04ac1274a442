//! # config-partitioner
//!
//! Makes every new AWS Config delivery queryable in Athena at once: for each snapshot (and, when a
//! history table is configured, each history file) written to the Config bucket, it adds the Glue
//! partition `(accountid, region, dt)` whose location is the object's folder.
//!
//! ## Triggers
//! - S3 event notifications (`s3:ObjectCreated:*`); every record of `Records` is handled:
//!   ```json
//!   {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
//!     "s3": {"bucket": {"name": "config-bucket"},
//!            "object": {"key": "o-abc/AWSLogs/111122223333/Config/eu-west-1/2026/4/7/ConfigSnapshot/111122223333_Config_eu-west-1_ConfigSnapshot_20260407T103717Z_0f1e.json.gz"}}}]}
//!   ```
//! - EventBridge `Object Created` events from S3 (`detail.bucket.name`, `detail.object.key`).
//!
//! S3's `s3:TestEvent`, records that are not object creations, and keys that are not Config
//! deliveries (`ConfigWritabilityCheckFile`, `OversizedChangeNotification`, foreign objects) are
//! skipped with a debug line.
//!
//! ## Keys
//! URL-decoded (notification keys arrive encoded, `+` for spaces), then
//! `[any/prefix/segments/]AWSLogs/<account>/Config/<region>/<yyyy>/<m>/<d>/ConfigSnapshot|ConfigHistory/<file>`.
//! Month and day are not zero-padded in S3; the partition value `dt` is `YYYY-MM-DD`.
//!
//! ## Environment
//! - `DATABASE_NAME` (required), `SNAPSHOT_TABLE` (required).
//! - `HISTORY_TABLE` (optional): when unset, history objects are skipped.
//!
//! ## What it does, and what it costs
//! One `glue:GetTable` per table per cold start (the partition keys decide the order of the values;
//! the storage descriptor is the table's with the partition's location), then
//! `glue:BatchCreatePartition` with up to 100 partitions a call, duplicates within the event removed:
//! an event of 1,000 records costs ceil(distinct partitions / 100) calls. No Athena query, no polling.
//!
//! ## IAM actions
//! `glue:GetTable`, `glue:BatchCreatePartition` on the catalog, the database and the two tables.
//!
//! ## Idempotency and retries
//! A partition that already exists (`AlreadyExistsException` per entry) is success, so duplicate and
//! out-of-order deliveries converge. Any other per-entry error, or an AWS error that remains after the
//! SDK's retries, fails the invocation and names the partitions: Lambda retries the event and then
//! hands it to the dead-letter queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_glue::types::{PartitionInput, StorageDescriptor};
use aws_setup::names::{is_account_id, is_region};
use aws_setup::{AwsError, MissingSetting, required_setting, setting};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::{debug, info};

/// `BatchCreatePartition` accepts up to 100 partitions.
pub const CREATE_BATCH: usize = 100;

/// Snapshot or history delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Delivery {
    /// `ConfigSnapshot/`.
    Snapshot,
    /// `ConfigHistory/`.
    History,
}

/// A Config delivery object, parsed from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigObject {
    /// Snapshot or history.
    pub delivery: Delivery,
    /// The 12-digit account id.
    pub account: String,
    pub region: String,
    /// `YYYY-MM-DD`.
    pub dt: String,
    /// The key of the object's folder, ending with `/`.
    pub folder: String,
}

/// Decodes an S3 event notification key: `+` is a space, then percent-decoding.
pub fn decode_notification_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn date(year: &str, month: &str, day: &str) -> Option<String> {
    let numeric = |s: &str, max_len| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if year.len() != 4 || !numeric(year, 4) || !numeric(month, 2) || !numeric(day, 2) {
        return None;
    }
    let (y, m, d): (u32, u32, u32) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    (d >= 1 && d <= days_in_month(y, m)).then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// Parses a decoded key; `Err` says why the object is not a Config delivery we partition.
pub fn parse_key(key: &str) -> Result<ConfigObject, String> {
    let segments: Vec<&str> = key.split('/').collect();
    let Some(at) = segments.iter().position(|s| *s == "AWSLogs") else {
        return Err("no AWSLogs/ segment".into());
    };
    let rest = &segments[at + 1..];
    if rest.len() == 3 && rest[1] == "Config" && rest[2] == "ConfigWritabilityCheckFile" {
        return Err("Config's writability check".into());
    }
    let [account, config, region, year, month, day, kind, file] = rest else {
        return Err(format!(
            "expected 8 segments after AWSLogs/, found {}",
            rest.len()
        ));
    };
    if *config != "Config" {
        return Err(format!("{config}/ is not Config/"));
    }
    if !is_account_id(account) {
        return Err(format!("{account:?} is not an account id"));
    }
    if !is_region(region) {
        return Err(format!("{region:?} is not a Region"));
    }
    let delivery = match *kind {
        "ConfigSnapshot" => Delivery::Snapshot,
        "ConfigHistory" => Delivery::History,
        other => {
            return Err(format!(
                "{other}/ is neither ConfigSnapshot nor ConfigHistory"
            ));
        }
    };
    if file.is_empty() {
        return Err("a folder, not an object".into());
    }
    let dt = date(year, month, day).ok_or_else(|| format!("{year}/{month}/{day} is not a date"))?;
    Ok(ConfigObject {
        delivery,
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        dt,
        folder: format!("{}/", segments[..at + 8].join("/")),
    })
}

/// One object that was created: bucket and decoded key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    pub key: String,
}

// S3 notification records are read with lenient structs of our own rather than
// `aws_lambda_events::s3::S3Event`, which requires every field of every record: one odd record must
// not make the whole event unreadable.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationRecord {
    #[serde(default)]
    event_name: String,
    s3: NotificationEntity,
}

#[derive(Deserialize)]
struct NotificationEntity {
    bucket: Named,
    object: Keyed,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Keyed {
    key: String,
}

#[derive(Deserialize)]
struct BridgeDetail {
    bucket: Named,
    object: Keyed,
}

/// The objects an event reports as created, and how many records were skipped.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventObjects {
    /// Created objects, in event order.
    pub created: Vec<CreatedObject>,
    /// Records that are not object creations (or unreadable records).
    pub skipped: usize,
    /// Records in the event.
    pub records: usize,
}

/// Why the event cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "malformed event: expected S3 event notifications (Records[].s3.bucket.name and .object.key) or an \
     EventBridge \"Object Created\" event from aws.s3; {0}"
)]
pub struct MalformedEvent(pub String);

/// Reads the created objects from an S3 notification or an EventBridge event.
pub fn objects_in(payload: &Value) -> Result<EventObjects, MalformedEvent> {
    if let Some(records) = payload.get("Records") {
        // Read in place: an event of 1,000 records is not copied.
        let records = records
            .as_array()
            .ok_or_else(|| MalformedEvent("Records is not a list".to_owned()))?;
        let mut out = EventObjects {
            records: records.len(),
            ..EventObjects::default()
        };
        for record in records {
            match NotificationRecord::deserialize(record) {
                Ok(r) if r.event_name.starts_with("ObjectCreated:") => {
                    out.created.push(CreatedObject {
                        bucket: r.s3.bucket.name,
                        key: decode_notification_key(&r.s3.object.key),
                    })
                }
                Ok(r) => {
                    debug!(event_name = %r.event_name, "not an object creation; skipped");
                    out.skipped += 1;
                }
                Err(e) => {
                    info!(error = %e, "unreadable record; skipped");
                    out.skipped += 1;
                }
            }
        }
        return Ok(out);
    }
    if payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        info!("S3 test event; nothing to do");
        return Ok(EventObjects::default());
    }
    let event = EventBridgeEvent::<Value>::deserialize(payload)
        .map_err(|e| MalformedEvent(format!("it is neither ({e})")))?;
    if event.source != "aws.s3" || event.detail_type != "Object Created" {
        debug!(detail_type = %event.detail_type, source = %event.source, "not an S3 object creation; skipped");
        return Ok(EventObjects {
            records: 1,
            skipped: 1,
            ..EventObjects::default()
        });
    }
    let detail = BridgeDetail::deserialize(&event.detail)
        .map_err(|e| MalformedEvent(format!("its detail lacks bucket.name or object.key ({e})")))?;
    Ok(EventObjects {
        created: vec![CreatedObject {
            bucket: detail.bucket.name,
            // EventBridge keys are not form-encoded: only percent-escapes, never `+` for a space.
            key: percent_encoding::percent_decode_str(&detail.object.key)
                .decode_utf8_lossy()
                .into_owned(),
        }],
        skipped: 0,
        records: 1,
    })
}

/// The function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DATABASE_NAME`.
    pub database: String,
    /// `SNAPSHOT_TABLE`.
    pub snapshot_table: String,
    /// `HISTORY_TABLE`, if set.
    pub history_table: Option<String>,
}

impl Settings {
    /// From the process environment.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Self::from_lookup(aws_setup::from_env)
    }

    /// Through `lookup` (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingSetting> {
        Ok(Self {
            database: required_setting(&lookup, "DATABASE_NAME")?,
            snapshot_table: required_setting(&lookup, "SNAPSHOT_TABLE")?,
            history_table: setting(&lookup, "HISTORY_TABLE"),
        })
    }

    /// The table a delivery goes to, if any.
    pub fn table_for(&self, delivery: Delivery) -> Option<&str> {
        match delivery {
            Delivery::Snapshot => Some(&self.snapshot_table),
            Delivery::History => self.history_table.as_deref(),
        }
    }
}

/// Why an invocation fails.
#[derive(Debug, thiserror::Error)]
pub enum PartitionerError {
    /// The event cannot be read.
    #[error(transparent)]
    Malformed(#[from] MalformedEvent),
    /// An AWS call failed after the SDK's retries.
    #[error("glue:{operation} on {table} failed: {source}")]
    Aws {
        operation: &'static str,
        /// `database.table`.
        table: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
    /// The table cannot take our partitions.
    #[error("table {table} cannot be partitioned by this function: {reason}")]
    Table {
        /// `database.table`.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// Some partitions were not created.
    #[error("{count} partition(s) could not be created: {details}")]
    Partitions {
        /// How many.
        count: usize,
        /// The first failures (table, values, `<code>: <message>`) and how many more.
        details: String,
    },
}

impl From<PartitionerError> for Diagnostic {
    fn from(e: PartitionerError) -> Self {
        let error_type = match &e {
            PartitionerError::Malformed(_) => "MalformedEvent",
            PartitionerError::Aws { .. } => "AwsError",
            PartitionerError::Table { .. } => "TableMismatch",
            PartitionerError::Partitions { .. } => "PartitionCreateFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: aws_setup::error_chain(&e),
        }
    }
}

/// The parts of a table the partitions are built from.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// Partition key names, in order.
    pub partition_keys: Vec<String>,
    /// The table's storage descriptor (its location is replaced per partition).
    pub storage_descriptor: StorageDescriptor,
}

impl TableShape {
    /// The partition values of `object`, in the table's key order.
    pub fn values_for(&self, object: &ConfigObject) -> Result<Vec<String>, String> {
        self.partition_keys
            .iter()
            .map(|key| match key.to_ascii_lowercase().as_str() {
                "accountid" => Ok(object.account.clone()),
                "region" => Ok(object.region.clone()),
                "dt" => Ok(object.dt.clone()),
                other => Err(format!(
                    "partition key {other:?} is not one of accountid, region, dt"
                )),
            })
            .collect()
    }
}

/// What an invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Records in the event.
    pub records: usize,
    /// Records or objects that were not Config deliveries for a configured table.
    pub skipped: usize,
    /// Distinct partitions the event maps to.
    pub partitions: usize,
    /// Partitions this run created.
    pub created: usize,
    /// Partitions that already existed.
    pub already_existed: usize,
}

/// The partitioner with its client, settings and table cache. Build once per process: the cache
/// keeps the `GetTable` answers across warm invocations.
#[derive(Debug)]
pub struct Partitioner {
    glue: aws_sdk_glue::Client,
    settings: Settings,
    tables: Mutex<HashMap<String, Arc<TableShape>>>,
}

impl Partitioner {
    /// A partitioner using this client and these settings.
    pub fn new(glue: aws_sdk_glue::Client, settings: Settings) -> Self {
        Self {
            glue,
            settings,
            tables: Mutex::new(HashMap::new()),
        }
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{table}", self.settings.database)
    }

    async fn shape(&self, table: &str) -> Result<Arc<TableShape>, PartitionerError> {
        let mut cache = self.tables.lock().await;
        if let Some(shape) = cache.get(table) {
            return Ok(shape.clone());
        }
        let out = self
            .glue
            .get_table()
            .database_name(&self.settings.database)
            .name(table)
            .send()
            .await
            .map_err(|e| PartitionerError::Aws {
                operation: "GetTable",
                table: self.qualified(table),
                source: AwsError::from(e),
            })?;
        let t = out.table.ok_or_else(|| PartitionerError::Table {
            table: self.qualified(table),
            reason: "GetTable returned no table".into(),
        })?;
        let storage_descriptor =
            t.storage_descriptor()
                .cloned()
                .ok_or_else(|| PartitionerError::Table {
                    table: self.qualified(table),
                    reason: "it has no storage descriptor".into(),
                })?;
        let shape = Arc::new(TableShape {
            partition_keys: t
                .partition_keys()
                .iter()
                .map(|k| k.name().to_owned())
                .collect(),
            storage_descriptor,
        });
        cache.insert(table.to_owned(), shape.clone());
        Ok(shape)
    }

    /// Handles one event.
    pub async fn handle_event(&self, payload: &Value) -> Result<Report, PartitionerError> {
        let objects = objects_in(payload)?;
        let mut report = Report {
            records: objects.records,
            skipped: objects.skipped,
            ..Report::default()
        };
        // table → partition values → location; BTreeMap removes duplicates and keeps calls stable.
        let mut wanted: BTreeMap<String, BTreeMap<Vec<String>, String>> = BTreeMap::new();
        for object in &objects.created {
            let parsed = match parse_key(&object.key) {
                Ok(p) => p,
                Err(why) => {
                    debug!(key = %object.key, %why, "not a Config delivery; skipped");
                    report.skipped += 1;
                    continue;
                }
            };
            let Some(table) = self.settings.table_for(parsed.delivery) else {
                debug!(key = %object.key, "history object, and no HISTORY_TABLE; skipped");
                report.skipped += 1;
                continue;
            };
            let shape = self.shape(table).await?;
            let values = shape
                .values_for(&parsed)
                .map_err(|reason| PartitionerError::Table {
                    table: self.qualified(table),
                    reason,
                })?;
            wanted
                .entry(table.to_owned())
                .or_default()
                .insert(values, format!("s3://{}/{}", object.bucket, parsed.folder));
        }
        report.partitions = wanted.values().map(BTreeMap::len).sum();

        let mut failures = Vec::new();
        for (table, partitions) in wanted {
            let shape = self.shape(&table).await?;
            let mut inputs = partitions.into_iter().map(|(values, location)| {
                let mut sd = shape.storage_descriptor.clone();
                sd.location = Some(location);
                PartitionInput::builder()
                    .set_values(Some(values))
                    .storage_descriptor(sd)
                    .build()
            });
            loop {
                let chunk: Vec<PartitionInput> = inputs.by_ref().take(CREATE_BATCH).collect();
                if chunk.is_empty() {
                    break;
                }
                let sent = chunk.len();
                let out = self
                    .glue
                    .batch_create_partition()
                    .database_name(&self.settings.database)
                    .table_name(&table)
                    .set_partition_input_list(Some(chunk))
                    .send()
                    .await
                    .map_err(|e| PartitionerError::Aws {
                        operation: "BatchCreatePartition",
                        table: self.qualified(&table),
                        source: AwsError::from(e),
                    })?;
                let mut existed = 0;
                for error in out.errors() {
                    let code = error
                        .error_detail()
                        .and_then(|d| d.error_code())
                        .unwrap_or("UnknownError");
                    if code == "AlreadyExistsException" {
                        existed += 1;
                    } else {
                        failures.push(format!(
                            "{}{:?}: {code}: {}",
                            self.qualified(&table),
                            error.partition_values(),
                            error
                                .error_detail()
                                .and_then(|d| d.error_message())
                                .unwrap_or("")
                        ));
                    }
                }
                let failed_here = out.errors().len() - existed;
                report.already_existed += existed;
                report.created += sent - out.errors().len();
                info!(%table, sent, existed, failed = failed_here, "BatchCreatePartition");
            }
        }
        if !failures.is_empty() {
            return Err(PartitionerError::Partitions {
                count: failures.len(),
                details: aws_setup::summarize(&failures, 5),
            });
        }
        info!(
            records = report.records,
            skipped = report.skipped,
            partitions = report.partitions,
            created = report.created,
            already_existed = report.already_existed,
            "partitions in place"
        );
        Ok(report)
    }
}

/// The Lambda handler: the runtime serializes the report as the invocation's result.
pub async fn handle(
    partitioner: &Partitioner,
    event: LambdaEvent<Value>,
) -> Result<Report, PartitionerError> {
    partitioner.handle_event(&event.payload).await
}

#[cfg(test)]
mod tests;
