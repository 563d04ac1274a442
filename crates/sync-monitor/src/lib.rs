//! # sync-monitor
//!
//! Notices when an account and Region stop syncing. Resource data syncs write each member
//! account's inventory and compliance into the central bucket, and nothing tells anyone when one
//! stops (a sync deleted, a KMS grant revoked, an account closed, the agents gone): the reports
//! then silently show old data. This function lists the bucket, finds for each account and Region
//! the time of its newest object, and writes CloudWatch metrics an alarm watches.
//!
//! ## Trigger
//! An EventBridge schedule (the template runs it every six hours), or a direct invocation; the
//! event's content is not read:
//! ```json
//! {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
//! ```
//!
//! ## Environment
//! - `BUCKET_NAME` (required): the sync bucket.
//! - `SYNC_PREFIX` (default `inventory`): the syncs' key prefix; `/` for syncs that write at the
//!   bucket's root (a sync's prefix is optional).
//! - `STALE_AFTER_DAYS` (default `3`): an account and Region whose newest object is older is stale.
//!   Scans write new compliance objects every day with the daily scan association; a healthy
//!   source whose inventory never changes and is never scanned rewrites nothing (PutInventory skips
//!   unchanged content), so keep this above the scan interval.
//! - `METRIC_NAMESPACE` (default `PatchCompliance`).
//!
//! ## What it does, and what it costs
//! One `ListObjectsV2` with a delimiter finds the type folders (`<prefix>/AWS:ComplianceSummary/`,
//! ...); each folder is then listed to the end (1000 keys a page, [`FOLDERS_IN_FLIGHT`] folders at
//! once). Keys `<prefix>/<type>/accountid=<id>/region=<region>/...` give the source; the object's
//! `LastModified` its age. A fleet of 10,000 nodes (about 100,000 objects) costs about 100 list
//! calls a run; memory holds one entry per account and Region.
//!
//! ## Output
//! - One line in CloudWatch's embedded metric format on stdout ("Embedded metric format
//!   specification", CloudWatch User Guide): `SyncSources`, `StaleSyncSources` (Count) and
//!   `OldestSyncAgeSeconds` (Seconds), dimension `Bucket`. CloudWatch turns it into metrics; no
//!   `PutMetricData` call and no per-source metric (each would cost a custom metric a month).
//! - One warning log line per stale account and Region.
//! - The report (JSON) as the invocation's result, for a person running it by hand.
//!
//! ## IAM actions
//! `s3:ListBucket` on the sync bucket.
//!
//! ## Idempotency
//! Read-only: any number of runs, in any order, report the bucket as it is.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_setup::{AwsError, MissingSetting, required_setting, setting};
use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};

/// Type folders listed at once.
pub const FOLDERS_IN_FLIGHT: usize = 8;
const DAY: f64 = 86_400.0;

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `BUCKET_NAME`.
    pub bucket: String,
    /// `SYNC_PREFIX`, without slashes at either end (empty: the bucket's root).
    pub prefix: String,
    /// `STALE_AFTER_DAYS`.
    pub stale_after_days: f64,
    /// `METRIC_NAMESPACE`.
    pub namespace: String,
}

/// A setting that is present but unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Required and missing.
    #[error(transparent)]
    Missing(#[from] MissingSetting),
    /// Not a positive number of days.
    #[error("STALE_AFTER_DAYS must be a positive number of days, got {0:?}")]
    StaleAfter(String),
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(aws_setup::from_env)
    }

    /// Reads the settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let stale = setting(&lookup, "STALE_AFTER_DAYS").unwrap_or_else(|| "3".to_owned());
        let stale_after_days = stale
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d > 0.0)
            .ok_or(SettingsError::StaleAfter(stale))?;
        Ok(Self {
            bucket: required_setting(&lookup, "BUCKET_NAME")?,
            prefix: setting(&lookup, "SYNC_PREFIX")
                .unwrap_or_else(|| "inventory".to_owned())
                .trim_matches('/')
                .to_owned(),
            stale_after_days,
            namespace: setting(&lookup, "METRIC_NAMESPACE")
                .unwrap_or_else(|| "PatchCompliance".to_owned()),
        })
    }
}

/// An account and Region as the bucket shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub account: String,
    pub region: String,
    /// Seconds since the epoch of its newest object.
    pub newest: i64,
    /// Its objects.
    pub objects: u64,
}

/// A source that stopped syncing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stale {
    pub account: String,
    pub region: String,
    /// Days since its newest object.
    pub days_since_last_object: f64,
}

/// What a run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Accounts and Regions with objects.
    pub sources: usize,
    /// Those older than the threshold, oldest first.
    pub stale: Vec<Stale>,
    /// Objects listed.
    pub objects: u64,
    /// Type folders listed.
    pub type_folders: usize,
    /// Seconds since the oldest source's newest object (0 without sources).
    pub oldest_age_seconds: i64,
}

/// Why a run fails.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Listing failed after the SDK's retries.
    #[error("s3:ListObjectsV2 on s3://{bucket}/{prefix} failed: {source}")]
    List {
        bucket: String,
        prefix: String,
        /// `<code>: <message>`.
        source: AwsError,
    },
}

impl From<MonitorError> for Diagnostic {
    fn from(e: MonitorError) -> Self {
        Diagnostic {
            error_type: "ListFailed".to_owned(),
            error_message: aws_setup::error_chain(&e),
        }
    }
}

/// The account and Region of a sync object's key:
/// `<prefix>/<type>/accountid=<account>/region=<region>/...`.
pub fn source_of(key: &str) -> Option<(&str, &str)> {
    let mut account = None;
    let mut region = None;
    for segment in key.split('/') {
        if let Some(a) = segment.strip_prefix("accountid=") {
            account = Some(a);
        } else if let Some(r) = segment.strip_prefix("region=") {
            region = Some(r);
        }
    }
    Some((
        account.filter(|a| !a.is_empty())?,
        region.filter(|r| !r.is_empty())?,
    ))
}

/// Folds one object into the sources.
pub fn record(sources: &mut BTreeMap<(String, String), Source>, key: &str, modified: i64) {
    let Some((account, region)) = source_of(key) else {
        return;
    };
    let entry = sources
        .entry((account.to_owned(), region.to_owned()))
        .or_insert_with(|| Source {
            account: account.to_owned(),
            region: region.to_owned(),
            newest: modified,
            objects: 0,
        });
    entry.newest = entry.newest.max(modified);
    entry.objects += 1;
}

/// The report for `sources` at `now`.
pub fn report(
    sources: &BTreeMap<(String, String), Source>,
    now: i64,
    stale_after_days: f64,
    type_folders: usize,
) -> Report {
    let mut stale: Vec<Stale> = sources
        .values()
        .map(|s| Stale {
            account: s.account.clone(),
            region: s.region.clone(),
            days_since_last_object: ((now - s.newest) as f64 / DAY * 10.0).round() / 10.0,
        })
        .filter(|s| s.days_since_last_object > stale_after_days)
        .collect();
    stale.sort_by(|a, b| {
        b.days_since_last_object
            .total_cmp(&a.days_since_last_object)
            .then_with(|| (&a.account, &a.region).cmp(&(&b.account, &b.region)))
    });
    Report {
        sources: sources.len(),
        stale,
        objects: sources.values().map(|s| s.objects).sum(),
        type_folders,
        oldest_age_seconds: sources
            .values()
            .map(|s| now - s.newest)
            .max()
            .unwrap_or(0)
            .max(0),
    }
}

/// The report as one embedded-metric-format document ("Specification: Embedded metric format",
/// CloudWatch User Guide): `_aws.Timestamp` in milliseconds, one metric directive, the values at
/// the top level beside the dimension.
pub fn emf(report: &Report, settings: &Settings, now_millis: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": now_millis,
            "CloudWatchMetrics": [{
                "Namespace": settings.namespace,
                "Dimensions": [["Bucket"]],
                "Metrics": [
                    {"Name": "SyncSources", "Unit": "Count"},
                    {"Name": "StaleSyncSources", "Unit": "Count"},
                    {"Name": "OldestSyncAgeSeconds", "Unit": "Seconds"},
                ],
            }],
        },
        "Bucket": settings.bucket,
        "SyncSources": report.sources,
        "StaleSyncSources": report.stale.len(),
        "OldestSyncAgeSeconds": report.oldest_age_seconds,
    })
}

/// The monitor, holding its client.
#[derive(Debug, Clone)]
pub struct Monitor {
    s3: aws_sdk_s3::Client,
    settings: Settings,
}

impl Monitor {
    /// A monitor of `settings.bucket`.
    pub fn new(s3: aws_sdk_s3::Client, settings: Settings) -> Self {
        Self { s3, settings }
    }

    fn list_error(&self, prefix: &str, source: AwsError) -> MonitorError {
        MonitorError::List {
            bucket: self.settings.bucket.clone(),
            prefix: prefix.to_owned(),
            source,
        }
    }

    /// The type folders under the prefix (`<prefix>/AWS:Application/`, ...).
    async fn type_folders(&self) -> Result<Vec<String>, MonitorError> {
        let root = if self.settings.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.settings.prefix)
        };
        let mut folders = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(&root)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.list_error(&root, AwsError::from(e)))?;
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
        }
        Ok(folders)
    }

    /// Every account and Region of one type folder, with its newest object.
    async fn scan_folder(
        &self,
        folder: String,
    ) -> Result<BTreeMap<(String, String), Source>, MonitorError> {
        let mut sources = BTreeMap::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.settings.bucket)
            .prefix(&folder)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.list_error(&folder, AwsError::from(e)))?;
            for object in page.contents() {
                if let (Some(key), Some(modified)) = (object.key(), object.last_modified()) {
                    record(&mut sources, key, modified.secs());
                }
            }
        }
        Ok(sources)
    }

    /// Lists the bucket and reports on it as of `now` (seconds since the epoch).
    pub async fn run(&self, now: i64) -> Result<Report, MonitorError> {
        let folders = self.type_folders().await?;
        let count = folders.len();
        let per_folder: Vec<_> = stream::iter(folders)
            .map(|folder| self.scan_folder(folder))
            .buffer_unordered(FOLDERS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut sources: BTreeMap<(String, String), Source> = BTreeMap::new();
        for found in per_folder {
            for (key, source) in found {
                match sources.get_mut(&key) {
                    Some(s) => {
                        s.newest = s.newest.max(source.newest);
                        s.objects += source.objects;
                    }
                    None => {
                        sources.insert(key, source);
                    }
                }
            }
        }
        let report = report(&sources, now, self.settings.stale_after_days, count);
        for s in &report.stale {
            warn!(account = %s.account, region = %s.region, days = s.days_since_last_object,
                "no new sync object for more than {} days", self.settings.stale_after_days);
        }
        info!(
            sources = report.sources,
            stale = report.stale.len(),
            objects = report.objects,
            "sync bucket checked"
        );
        Ok(report)
    }
}

/// Lambda handler: one run, the metrics on stdout, the report as the result.
pub async fn handle(monitor: &Monitor, _event: LambdaEvent<Value>) -> Result<Report, MonitorError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let report = monitor.run(now / 1000).await?;
    // Printed, not logged through tracing: CloudWatch reads an EMF document only as a whole line.
    println!("{}", emf(&report, &monitor.settings, now));
    Ok(report)
}

#[cfg(test)]
mod tests;
