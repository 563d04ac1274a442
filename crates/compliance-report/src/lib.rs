//! # compliance-report
//!
//! The organization's patch compliance report, made where the data is: Athena runs the named
//! queries and QuickSight dataset queries this repository ships over the resource data sync and
//! AWS Config tables, and the function writes what an auditor reads to the reports bucket:
//! `report.html` (one self-contained page: no script, no remote resource, charts as inline SVG),
//! `nodes.csv`, `missing-patches.csv`, `owners.csv` and `summary.json` (every number the page
//! shows).
//!
//! ## Trigger
//! An EventBridge schedule (the central template's `ReportSchedule`, daily by default), or a
//! direct invocation on demand. The report describes the data as of one time, from which
//! staleness is measured: the request's `as_of` (ISO 8601) when given, else a scheduled event's
//! `time` (when the schedule fired), else now. Other fields are ignored:
//! ```json
//! {"as_of": "2026-11-21T12:00:00Z"}
//! ```
//!
//! ## Environment
//! - `WORKGROUP` (required): the Athena workgroup; its result location and encryption apply.
//! - `DATABASE` (required): the Glue database of the sync tables (the crawler's).
//! - `STAGING_DATABASE` (required): the Glue database the run's Parquet copies go in.
//! - `CONFIG_DATABASE`, `CONFIG_TABLE` (optional, together): the AWS Config snapshot table; without
//!   them the report has no AWS Config section and says so.
//! - `REPORTS_BUCKET` (required), `REPORTS_PREFIX` (default `reports`): where the report goes,
//!   `<prefix>/<as_of date>/` and `<prefix>/latest/` (the newest, overwritten each run).
//! - `STALE_AFTER_DAYS` (default `7`): a live node last seen longer before `as_of` is stale.
//! - `SLA_DAYS` (default `CRITICAL=14,Security=14,SecurityUpdates=14,CriticalUpdates=14,default=30`):
//!   days a missing patch may stay missing, by compliance level or classification (the strictest
//!   that applies), else `default`.
//! - `TREND_DAYS` (default `90`): how far back the trend looks.
//! - `HISTORY_PREFIX` (default `history`): where each run keeps its rows ([`history`]).
//! - `PIPELINE_STALE_DAYS` (default `3`): an account and Region whose newest inventory is older is
//!   reported as no longer arriving.
//! - `CRAWLER_NAME` (optional): the crawler whose last run the report shows.
//! - `ORGANIZATIONS_ROLE_ARN` (optional): a role in the management account (or an Organizations
//!   delegated administrator) the function assumes to read account names, organizational unit
//!   paths and the `OWNER_TAG_KEY` tag (default `Owner`) of the accounts in the report
//!   ([`owners`]); without it the report shows account ids only. Reading the organization may
//!   fail without failing the report: the report says why.
//! - `DIGEST_TOPIC_ARN` (optional): the SNS topic each run's digest goes to, with a pre-signed link
//!   to the report valid for `LINK_EXPIRY_HOURS` (default `24`; a link signed with the function's
//!   temporary credentials stops working when they expire, whichever comes first: "Sharing objects
//!   with presigned URLs", S3 User Guide).
//!
//! ## What it does, and what it costs
//! 1. Copies each sync table the queries read, and the AWS Config snapshot table, into Parquet
//!    once (`CREATE TABLE AS SELECT` into `STAGING_DATABASE`, named `run_<request>_<table>`, under
//!    the workgroup's `tables/` location): five or six statements, [`athena::IN_FLIGHT`] at a time.
//!    Each JSON source table is read once per run; Athena bills JSON by the whole object.
//! 2. Runs the nine shipped queries on the copies ([`queries::ALL`]; without Config analytics the
//!    two Config queries are skipped): Athena reads only the Parquet columns each names. Each
//!    answer is read from its result object (one `GetObject`).
//! 3. Drops the copies (`DROP TABLE`) and deletes their objects, whether or not step 2 succeeded.
//! 4. Reads the previous run's first-seen dates (one list, one `GetObject`) and the trend window's
//!    summaries (one list, one `GetObject` per run date) from the history, and the previous
//!    `latest/summary.json` for what changed; asks Glue for the crawler's last run; with an
//!    Organizations role, walks the organization and reads the owner tag of each account in the
//!    report ([`owners`]: one `AssumeRole`, two calls per root and OU, one per account).
//! 5. Writes the five files twice (dated and `latest/`) and the run's history: twelve
//!    `PutObject`s; publishes the digest (one `Publish`).
//!
//! `make bench` prints what a run scans at 10,000 and 100,000 nodes against the queries run one
//! by one on the JSON tables.
//!
//! State requests back off from 250 ms to 5 s; a query still running when the function's time is
//! nearly out is stopped and the run fails naming it.
//!
//! ## IAM actions
//! `athena:StartQueryExecution`, `athena:GetQueryExecution`, `athena:StopQueryExecution` on the
//! workgroup; `s3:GetObject` on the results bucket (answers), `s3:ListBucket` and
//! `s3:DeleteObject` on its `tables/` prefix (the copies); `s3:PutObject` on the reports bucket's
//! `reports/` and `history/`, `s3:GetObject` and `s3:ListBucket` there (the history and the
//! previous summary); `glue:GetCrawler` on the crawler; `sts:AssumeRole` on the Organizations
//! role when one is set (what that role grants is below); `sns:Publish` on the digest topic (and
//! `kms:GenerateDataKey`, `kms:Decrypt` on its key, which the data key already grants).
//! Athena acts with the caller's permissions when it runs a query ("Identity and access management
//! in Athena"): `glue:GetDatabase`, `glue:GetTable`, `glue:GetPartitions` on the source tables,
//! `glue:CreateTable`, `glue:DeleteTable` in the staging database, `s3:GetObject`, `s3:ListBucket`,
//! `s3:GetBucketLocation` on the sync and Config buckets, `s3:PutObject`,
//! `s3:AbortMultipartUpload` on the results bucket and `kms:Decrypt`, `kms:GenerateDataKey` on the
//! data key are granted for Athena's use, not called by the function.
//!
//! ## The Organizations role's actions
//! The role of `ORGANIZATIONS_ROLE_ARN` (cfn/organization-reader.yaml) grants what the function
//! calls as that role: `organizations:ListRoots`, `organizations:ListOrganizationalUnitsForParent`,
//! `organizations:ListAccountsForParent` and `organizations:ListTagsForResource` on the
//! organization's accounts.
//!
//! ## Idempotency
//! A run reads, then writes files named by the `as_of` date: running again for the same date
//! overwrites that date's report with the same numbers for the same data. Runs never share
//! staging tables (named after the request), so overlapping runs do not collide.

pub mod athena;
pub mod charts;
pub mod exports;
pub mod history;
pub mod html;
pub mod owners;
pub mod queries;
pub mod rows;
pub mod summary;

use aws_setup::{AwsError, MissingSetting, required_setting, setting};
use futures::{StreamExt as _, TryStreamExt as _};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::athena::{Answer, Athena, Finished, QueryError, Statement};
use crate::queries::{Catalog, Shipped};
use crate::summary::{Inputs, Options, Summary};

/// Patching SLA when `SLA_DAYS` is not set: security and critical patches within two weeks,
/// everything else within a month.
pub const DEFAULT_SLA: &str =
    "CRITICAL=14,Security=14,SecurityUpdates=14,CriticalUpdates=14,default=30";

/// Time kept back from the function's deadline to drop the copies and write the report.
pub const CLEANUP_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The function's settings, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `SLA_DAYS`.
    pub sla: history::Sla,
    /// `TREND_DAYS`.
    pub trend_days: i64,
    /// `HISTORY_PREFIX`.
    pub history_prefix: String,
    /// `PIPELINE_STALE_DAYS`.
    pub pipeline_stale_days: f64,
    /// `CRAWLER_NAME`.
    pub crawler: Option<String>,
    /// `ORGANIZATIONS_ROLE_ARN` and `OWNER_TAG_KEY`.
    pub organizations: Option<owners::Source>,
    /// `DIGEST_TOPIC_ARN`.
    pub topic: Option<String>,
    /// `LINK_EXPIRY_HOURS`.
    pub link_hours: u64,
    /// `WORKGROUP`.
    pub workgroup: String,
    /// `DATABASE`.
    pub database: String,
    /// `STAGING_DATABASE`.
    pub staging_database: String,
    /// `CONFIG_DATABASE` and `CONFIG_TABLE`.
    pub config: Option<(String, String)>,
    /// `REPORTS_BUCKET`.
    pub bucket: String,
    /// `REPORTS_PREFIX`, without slashes at either end.
    pub prefix: String,
    /// `STALE_AFTER_DAYS`.
    pub stale_days: f64,
}

/// A setting that is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Required and missing.
    #[error(transparent)]
    Missing(#[from] MissingSetting),
    /// Not a number of days.
    #[error("STALE_AFTER_DAYS must be a number of days of 0 or more, got {0:?}")]
    StaleDays(String),
    /// Only one of the two Config settings.
    #[error("set CONFIG_DATABASE and CONFIG_TABLE together (Config analytics on), or neither")]
    HalfConfig,
    /// A setting that is not what it should be.
    #[error("{name}: {reason}")]
    Invalid {
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Settings {
    /// Reads the settings through `lookup` (the environment in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let stale = setting(&lookup, "STALE_AFTER_DAYS").unwrap_or_else(|| "7".into());
        let stale_days = stale
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d >= 0.0)
            .ok_or(SettingsError::StaleDays(stale))?;
        let config = match (
            setting(&lookup, "CONFIG_DATABASE"),
            setting(&lookup, "CONFIG_TABLE"),
        ) {
            (Some(d), Some(t)) => Some((d, t)),
            (None, None) => None,
            _ => return Err(SettingsError::HalfConfig),
        };
        let number = |name: &'static str, default: &str, max: f64| -> Result<f64, SettingsError> {
            let text = setting(&lookup, name).unwrap_or_else(|| default.into());
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0 && *v <= max)
                .ok_or(SettingsError::Invalid {
                    name,
                    reason: format!("must be a number from 0 to {max}, got {text:?}"),
                })
        };
        let sla = setting(&lookup, "SLA_DAYS").unwrap_or_else(|| DEFAULT_SLA.into());
        Ok(Self {
            sla: history::Sla::parse(&sla).map_err(|reason| SettingsError::Invalid {
                name: "SLA_DAYS",
                reason,
            })?,
            trend_days: number("TREND_DAYS", "90", 3660.0)? as i64,
            history_prefix: setting(&lookup, "HISTORY_PREFIX")
                .unwrap_or_else(|| "history".into())
                .trim_matches('/')
                .to_owned(),
            pipeline_stale_days: number("PIPELINE_STALE_DAYS", "3", 3660.0)?,
            crawler: setting(&lookup, "CRAWLER_NAME"),
            organizations: organizations(&lookup)?,
            topic: setting(&lookup, "DIGEST_TOPIC_ARN"),
            // SigV4 pre-signed URLs live at most 7 days ("Sharing objects with presigned URLs").
            link_hours: number("LINK_EXPIRY_HOURS", "24", 168.0)? as u64,
            workgroup: required_setting(&lookup, "WORKGROUP")?,
            database: required_setting(&lookup, "DATABASE")?,
            staging_database: required_setting(&lookup, "STAGING_DATABASE")?,
            config,
            bucket: required_setting(&lookup, "REPORTS_BUCKET")?,
            prefix: setting(&lookup, "REPORTS_PREFIX")
                .unwrap_or_else(|| "reports".into())
                .trim_matches('/')
                .to_owned(),
            stale_days,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(aws_setup::from_env)
    }
}

/// `ORGANIZATIONS_ROLE_ARN` and `OWNER_TAG_KEY`, checked.
fn organizations(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<owners::Source>, SettingsError> {
    let Some(role_arn) = setting(lookup, "ORGANIZATIONS_ROLE_ARN") else {
        return Ok(None);
    };
    // arn:<partition>:iam::<account>:role/<path/name> ("IAM identifiers", IAM User Guide).
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let valid = matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty()));
    if !valid {
        return Err(SettingsError::Invalid {
            name: "ORGANIZATIONS_ROLE_ARN",
            reason: format!(
                "must be an IAM role ARN such as arn:aws:iam::111122223333:role/organization-reader, got {role_arn:?}"
            ),
        });
    }
    let tag_key = setting(lookup, "OWNER_TAG_KEY").unwrap_or_else(|| "Owner".into());
    // Tag keys: 1 to 128 characters ("Tagging AWS Organizations resources").
    if tag_key.chars().count() > 128 {
        return Err(SettingsError::Invalid {
            name: "OWNER_TAG_KEY",
            reason: "a tag key has at most 128 characters".into(),
        });
    }
    Ok(Some(owners::Source { role_arn, tag_key }))
}

/// What the function is asked: everything optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Request {
    /// The time the report describes (ISO 8601).
    #[serde(default)]
    pub as_of: Option<String>,
    /// A scheduled event's time: when the schedule fired.
    #[serde(default)]
    pub time: Option<String>,
}

/// What a run made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `s3://bucket/<prefix>/<date>/report.html`.
    pub report: String,
    /// `s3://bucket/<prefix>/latest/report.html`.
    pub latest: String,
    /// The time the report describes.
    pub as_of: String,
    /// Live managed nodes.
    pub live_nodes: u64,
    /// Percentage compliant.
    pub compliance_rate: Option<f64>,
    /// Athena statements run (staging, queries, drops).
    pub queries: usize,
    /// Bytes Athena scanned for this run: what it costs.
    pub bytes_scanned: i64,
    /// The checks whose two ways disagreed (normally none).
    pub disagreements: Vec<String>,
    /// Node and missing patch pairs past the SLA.
    pub past_sla: u64,
    /// The digest's SNS message id, when one was published.
    pub digest: Option<String>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The request's `as_of` is not a time.
    #[error("as_of must be an ISO 8601 time such as 2026-11-21T12:00:00Z, got {0:?}")]
    AsOf(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A query uses a placeholder the function has no value for (a packaging bug).
    #[error(transparent)]
    Placeholder(#[from] queries::UnknownPlaceholder),
    /// The page could not be rendered (a bug).
    #[error(transparent)]
    Render(#[from] html::RenderError),
    /// The history could not be read or written.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// The digest could not be published.
    #[error("publishing the digest to {topic}: {source}")]
    Digest {
        topic: String,
        /// The SNS error.
        #[source]
        source: AwsError,
    },
    /// Writing the report failed.
    #[error("writing s3://{bucket}/{key}: {source}")]
    Store {
        bucket: String,
        key: String,
        /// The S3 error.
        #[source]
        source: AwsError,
    },
}

impl From<ReportError> for Diagnostic {
    fn from(e: ReportError) -> Self {
        let kind = match &e {
            ReportError::AsOf(_) => "InvalidRequest",
            ReportError::Query(_) | ReportError::Placeholder(_) => "QueryFailed",
            ReportError::Render(_) => "RenderFailed",
            ReportError::Store { .. } | ReportError::History(_) => "StoreFailed",
            ReportError::Digest { .. } => "DigestFailed",
        };
        Diagnostic {
            error_type: kind.to_owned(),
            error_message: aws_setup::error_chain(&e),
        }
    }
}

/// The clients a reporter uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Athena.
    pub athena: aws_sdk_athena::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// Glue (the crawler's state).
    pub glue: aws_sdk_glue::Client,
    /// SNS (the digest).
    pub sns: aws_sdk_sns::Client,
    /// Organizations as the assumed role, when `ORGANIZATIONS_ROLE_ARN` is set.
    pub organizations: Option<aws_sdk_organizations::Client>,
}

impl Clients {
    /// Every client from one SDK configuration; Organizations through `settings`' role.
    pub async fn from_conf(config: &aws_setup::SdkConfig, settings: &Settings) -> Self {
        let organizations = match &settings.organizations {
            Some(source) => Some(owners::client(config, &source.role_arn).await),
            None => None,
        };
        Self {
            athena: aws_sdk_athena::Client::new(config),
            s3: aws_setup::s3_client(config),
            glue: aws_sdk_glue::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            organizations,
        }
    }
}

/// The function: clients and settings, built once.
#[derive(Debug, Clone)]
pub struct Reporter {
    athena: Athena,
    s3: aws_sdk_s3::Client,
    glue: aws_sdk_glue::Client,
    sns: aws_sdk_sns::Client,
    organizations: Option<aws_sdk_organizations::Client>,
    history: history::History,
    settings: Settings,
}

impl Reporter {
    /// A reporter with these clients.
    pub fn new(clients: Clients, settings: Settings) -> Self {
        Self {
            athena: Athena::new(
                clients.athena,
                clients.s3.clone(),
                settings.workgroup.clone(),
            ),
            history: history::History::new(
                clients.s3.clone(),
                settings.bucket.clone(),
                settings.history_prefix.clone(),
            ),
            s3: clients.s3,
            glue: clients.glue,
            sns: clients.sns,
            organizations: clients.organizations,
            settings,
        }
    }

    /// One run, named `run_id` (letters, digits and `_`), until `deadline`.
    pub async fn run(
        &self,
        run_id: &str,
        as_of: OffsetDateTime,
        deadline: tokio::time::Instant,
    ) -> Result<Outcome, ReportError> {
        let catalog = Catalog {
            database: self.settings.database.clone(),
            staging_database: self.settings.staging_database.clone(),
            staging_prefix: format!("run_{run_id}_"),
            config: self.settings.config.clone(),
        };
        let work_deadline = deadline - CLEANUP_MARGIN;
        let mut finished: Vec<Finished> = Vec::new();
        let staged = self
            .athena
            .run_all(&catalog.staging_database, &catalog.stage(), work_deadline)
            .await;
        let answers = match staged {
            Ok(copies) => {
                finished.extend(copies);
                self.query(&catalog, work_deadline).await
            }
            Err(e) => Err(e.into()),
        };
        // Whatever happened: drop the copies and delete their objects.
        let dropped = self.unstage(&catalog, &finished, deadline).await;
        let (answers, ran) = answers?;
        if let Err(e) = dropped {
            warn!(error = %aws_setup::error_chain(&e), "the run's staging copies were not all removed");
        }
        let queries = finished.len() + ran.len() + catalog.unstage().len();
        let scanned = finished.iter().chain(&ran).map(|f| f.scanned).sum();
        self.publish(answers, as_of, queries, scanned).await
    }

    async fn query(
        &self,
        catalog: &Catalog,
        deadline: tokio::time::Instant,
    ) -> Result<(Vec<(Shipped, Answer)>, Vec<Finished>), ReportError> {
        let shipped: Vec<Shipped> = queries::ALL
            .into_iter()
            .filter(|q| !q.reads_config || catalog.config.is_some())
            .collect();
        let statements: Vec<Statement> = shipped
            .iter()
            .map(|q| catalog.render(q))
            .collect::<Result<_, _>>()?;
        let finished = self
            .athena
            .run_all(&catalog.staging_database, &statements, deadline)
            .await?;
        // The answers are independent objects: read them concurrently, as many as the queries
        // that ran at once.
        let read: Vec<Answer> = futures::stream::iter(&finished)
            .map(|done| self.athena.answer(done))
            .buffered(athena::IN_FLIGHT)
            .try_collect()
            .await?;
        Ok((shipped.into_iter().zip(read).collect(), finished))
    }

    async fn unstage(
        &self,
        catalog: &Catalog,
        copies: &[Finished],
        deadline: tokio::time::Instant,
    ) -> Result<(), QueryError> {
        let drops = self
            .athena
            .run_all(&catalog.staging_database, &catalog.unstage(), deadline)
            .await;
        for copy in copies {
            // A workgroup that enforces its settings writes a CTAS table under
            // "<result location>/tables/<query id>/" (CREATE TABLE AS, Athena User Guide).
            let Some((bucket, key)) = copy.output.as_deref().and_then(athena::split_s3_url) else {
                continue;
            };
            let folder = key.rsplit_once('/').map_or("", |(dir, _)| dir);
            let prefix = if folder.is_empty() {
                format!("tables/{}/", copy.id)
            } else {
                format!("{folder}/tables/{}/", copy.id)
            };
            self.delete_prefix(bucket, &prefix)
                .await
                .map_err(|source| QueryError::Call {
                    query: copy.name.clone(),
                    source,
                })?;
        }
        drops.map(|_| ())
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<(), AwsError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page?;
            let keys: Vec<_> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .ok()
                })
                .collect();
            if keys.is_empty() {
                continue;
            }
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| AwsError {
                    code: "ConstructionFailure".into(),
                    message: e.to_string(),
                })?;
            self.s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await?;
        }
        Ok(())
    }

    async fn publish(
        &self,
        answers: Vec<(Shipped, Answer)>,
        as_of: OffsetDateTime,
        queries: usize,
        scanned: i64,
    ) -> Result<Outcome, ReportError> {
        let mut inputs = Inputs::default();
        let mut sources = Vec::new();
        for (query, answer) in &answers {
            let name = query.path;
            sources.push(name.to_owned());
            match *query {
                q if q == queries::NODES => inputs.nodes = answer.records(name)?,
                q if q == queries::PATCHES => inputs.patches = answer.records(name)?,
                q if q == queries::NODE_TAGS => inputs.tags = answer.records(name)?,
                q if q == queries::CONFIG_COMPLIANCE => inputs.config = answer.records(name)?,
                q if q == queries::COMPLIANCE_SUMMARY => inputs.levels = answer.records(name)?,
                q if q == queries::EC2_NOT_MANAGED => inputs.unmanaged = answer.records(name)?,
                q if q == queries::COMPLIANT_NODES => inputs.compliant = answer.records(name)?,
                q if q == queries::NONCOMPLIANT_NODES => {
                    inputs.noncompliant = answer.records(name)?
                }
                q if q == queries::PATCH_SUMMARY => inputs.patch_summary = answer.records(name)?,
                _ => {}
            }
        }
        sources.sort();
        let options = Options {
            as_of,
            generated: OffsetDateTime::now_utc(),
            stale_days: self.settings.stale_days,
            config_enabled: self.settings.config.is_some(),
        };
        let mut summary = summary::build(&inputs, options, sources);
        let missing: Vec<&rows::Patch> = inputs
            .patches
            .iter()
            .filter(|p| p.status.as_deref() == Some("NON_COMPLIANT"))
            .collect();
        let date = summary.as_of[..10].to_owned();
        // Patch ageing: first-seen dates carried from the newest earlier run.
        let kept = self.history.dates("missing").await?;
        let previous_missing = self.history.previous_missing(&kept, &date).await?;
        let aged = history::age(&date, &missing, &previous_missing, &self.settings.sla);
        let since = kept.into_iter().next();
        summary.sla = summary::sla_view(&aged, &self.settings.sla, since.or(Some(date.clone())));
        // Compliance over time: the window's earlier runs and this one.
        let today = summary::trend_rows(&summary, &date, &aged);
        let from = as_of - time::Duration::days(self.settings.trend_days);
        let mut trend_rows = self.history.trend(&summary::iso(from)[..10], &date).await?;
        trend_rows.retain(|r| r.date != date);
        trend_rows.extend(today.iter().cloned());
        summary.trend = summary::trend(&trend_rows, self.settings.trend_days);
        // Is the data arriving?
        summary.pipeline = summary::pipeline(
            &inputs.nodes,
            &summary,
            as_of,
            self.settings.pipeline_stale_days,
        );
        summary.pipeline.crawler = self.crawler().await;
        summary.owners = self.owners(&summary).await;
        // What changed since the previous report.
        if let Some(previous) = self.previous_summary().await {
            let before: std::collections::HashSet<_> = previous_missing
                .iter()
                .filter(|r| r.past_sla)
                .map(history::MissingRow::key)
                .collect();
            let new_breaches = aged
                .iter()
                .filter(|r| r.past_sla && !before.contains(&r.key()))
                .count() as u64;
            summary.changes = Some(summary::changes(&previous, &summary, new_breaches));
        }
        let page = html::render(
            &summary,
            html::Rows {
                nodes: &inputs.nodes,
                unmanaged: &inputs.unmanaged,
                aged: &aged,
                scanned,
            },
        )?;
        let json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
        let files: [(&str, &str, Vec<u8>); 5] = [
            ("report.html", "text/html; charset=utf-8", page.into_bytes()),
            (
                "nodes.csv",
                "text/csv; charset=utf-8",
                exports::nodes_csv(&inputs.nodes),
            ),
            (
                "missing-patches.csv",
                "text/csv; charset=utf-8",
                exports::missing_csv(&missing, &aged),
            ),
            (
                "owners.csv",
                "text/csv; charset=utf-8",
                exports::owners_csv(&summary),
            ),
            ("summary.json", "application/json", json),
        ];
        let dated = self.key(&date);
        let latest = self.key("latest");
        for folder in [&dated, &latest] {
            for (name, content_type, body) in &files {
                self.put(&format!("{folder}/{name}"), content_type, body.clone())
                    .await?;
            }
        }
        self.history.write(&date, &today, &aged).await?;
        let mut outcome = outcome(
            &summary,
            &self.settings.bucket,
            &dated,
            &latest,
            queries,
            scanned,
        );
        if let Some(topic) = &self.settings.topic {
            outcome.digest = Some(self.digest(topic, &summary, &dated).await?);
        }
        info!(report = %outcome.report, live_nodes = outcome.live_nodes, bytes_scanned = scanned, "report written");
        Ok(outcome)
    }

    /// The crawler's last run, when the function knows the crawler; a failure to ask is shown,
    /// not fatal (the report stands without it).
    async fn crawler(&self) -> Option<summary::CrawlerState> {
        let name = self.settings.crawler.clone()?;
        let state = match self.glue.get_crawler().name(&name).send().await {
            Ok(got) => {
                let last = got.crawler().and_then(|c| c.last_crawl());
                summary::CrawlerState {
                    last_status: last.and_then(|l| l.status()).map(|s| s.as_str().to_owned()),
                    last_start: last
                        .and_then(|l| l.start_time())
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
                        .map(summary::iso),
                    error: last.and_then(|l| l.error_message()).map(str::to_owned),
                    name,
                }
            }
            Err(e) => summary::CrawlerState {
                error: Some(AwsError::from(e).to_string()),
                last_status: None,
                last_start: None,
                name,
            },
        };
        Some(state)
    }

    /// Who owns the report's accounts, when the function has an Organizations role; a failure
    /// to read the organization is shown, not fatal (the report stands with account ids).
    async fn owners(&self, summary: &Summary) -> owners::Owners {
        let (Some(source), Some(client)) = (&self.settings.organizations, &self.organizations)
        else {
            return owners::view(summary, None);
        };
        let wanted = summary.accounts.iter().cloned().collect();
        match owners::read(client, &source.tag_key, &wanted).await {
            Ok(directory) => owners::view(summary, Some((&source.tag_key, Ok(&directory)))),
            Err(e) => {
                let reason = format!(
                    "reading the organization as {}: {e} (the role must trust this function's \
                     role and allow the Organizations reads: cfn/organization-reader.yaml)",
                    source.role_arn
                );
                warn!(error = %reason, "account names and owners unavailable");
                owners::view(summary, Some((&source.tag_key, Err(reason))))
            }
        }
    }

    /// The previous run's `latest/summary.json`, when there is one that reads.
    async fn previous_summary(&self) -> Option<summary::Previous> {
        let got = self
            .s3
            .get_object()
            .bucket(&self.settings.bucket)
            .key(format!("{}/summary.json", self.key("latest")))
            .send()
            .await;
        match got {
            Ok(o) => {
                let bytes = o.body.collect().await.ok()?.into_bytes();
                match serde_json::from_slice(&bytes) {
                    Ok(previous) => Some(previous),
                    Err(e) => {
                        warn!(error = %e, "the previous summary.json does not read: no changes reported");
                        None
                    }
                }
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => {
                warn!(error = %AwsError::from(e), "the previous summary.json could not be read: no changes reported");
                None
            }
        }
    }

    /// Publishes the run's digest: headline numbers, what changed, and a pre-signed link.
    async fn digest(
        &self,
        topic: &str,
        summary: &Summary,
        folder: &str,
    ) -> Result<String, ReportError> {
        let key = format!("{folder}/report.html");
        let expiry = std::time::Duration::from_secs(self.settings.link_hours.max(1) * 3600);
        let link = match aws_sdk_s3::presigning::PresigningConfig::expires_in(expiry) {
            Ok(config) => self
                .s3
                .get_object()
                .bucket(&self.settings.bucket)
                .key(&key)
                .presigned(config)
                .await
                .map(|p| p.uri().to_owned())
                .ok(),
            Err(_) => None,
        };
        let sent = self
            .sns
            .publish()
            .topic_arn(topic)
            .subject(digest_subject(summary))
            .message(digest_text(
                summary,
                link.as_deref(),
                &self.settings.bucket,
                &key,
            ))
            .send()
            .await
            .map_err(|e| ReportError::Digest {
                topic: topic.to_owned(),
                source: e.into(),
            })?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }

    fn key(&self, folder: &str) -> String {
        if self.settings.prefix.is_empty() {
            folder.to_owned()
        } else {
            format!("{}/{folder}", self.settings.prefix)
        }
    }

    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), ReportError> {
        self.s3
            .put_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| ReportError::Store {
                bucket: self.settings.bucket.clone(),
                key: key.to_owned(),
                source: e.into(),
            })?;
        Ok(())
    }
}

fn outcome(
    summary: &Summary,
    bucket: &str,
    dated: &str,
    latest: &str,
    queries: usize,
    scanned: i64,
) -> Outcome {
    Outcome {
        report: format!("s3://{bucket}/{dated}/report.html"),
        latest: format!("s3://{bucket}/{latest}/report.html"),
        as_of: summary.as_of.clone(),
        live_nodes: summary.totals.live_nodes,
        compliance_rate: summary.compliance_rate,
        queries,
        bytes_scanned: scanned,
        disagreements: summary
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.check.clone())
            .collect(),
        past_sla: summary.sla.past_sla,
        digest: None,
    }
}

/// The digest's subject: at most 100 characters (SNS Publish, `Subject`).
pub fn digest_subject(summary: &Summary) -> String {
    let mut subject = format!(
        "Patch compliance {}: {}% compliant, {} past SLA",
        &summary.as_of[..10],
        summary
            .compliance_rate
            .map_or("-".into(), |r| r.to_string()),
        summary.sla.past_sla
    );
    subject.truncate(100);
    subject
}

/// The digest's text: the headline numbers, what changed and where the report is.
pub fn digest_text(summary: &Summary, link: Option<&str>, bucket: &str, key: &str) -> String {
    let t = &summary.totals;
    let mut lines = vec![
        format!("Patch compliance report, as of {}", summary.as_of),
        String::new(),
        format!(
            "Live managed nodes: {} ({}% compliant), non-compliant {}, not scanned {}",
            t.live_nodes,
            summary
                .compliance_rate
                .map_or("-".into(), |r| r.to_string()),
            t.non_compliant,
            t.not_scanned
        ),
        format!(
            "Missing security patches: {} nodes; CRITICAL-level: {} nodes; stale: {}; unmanaged EC2: {}",
            t.missing_security, t.missing_critical_level, t.stale, t.unmanaged_ec2
        ),
        format!(
            "Past the patching SLA: {} node-patch pairs on {} nodes",
            summary.sla.past_sla, summary.sla.nodes_past_sla
        ),
    ];
    match &summary.changes {
        Some(c) => {
            lines.push(String::new());
            lines.push(format!("Since {}:", c.since));
            lines.push(format!(
                "  {} nodes became non-compliant{}",
                c.newly_non_compliant.len(),
                preview(&c.newly_non_compliant)
            ));
            lines.push(format!("  {} new SLA breaches", c.new_sla_breaches));
            lines.push(format!(
                "  {} accounts and Regions stopped sending data{}",
                c.stopped_syncing.len(),
                preview(&c.stopped_syncing)
            ));
        }
        None => {
            lines.push(String::new());
            lines.push("The first report: no earlier one to compare with.".into());
        }
    }
    let stale: Vec<String> = summary
        .pipeline
        .groups
        .iter()
        .filter(|g| g.stale)
        .map(|g| format!("{}/{}", g.account_id, g.region))
        .collect();
    if !stale.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "No recent data from {} accounts and Regions{}: their numbers are old.",
            stale.len(),
            preview(&stale)
        ));
    }
    lines.push(String::new());
    match link {
        Some(link) => lines.push(format!("Report (link valid for a limited time): {link}")),
        None => lines.push(format!("Report: s3://{bucket}/{key}")),
    }
    lines.join("\n")
}

fn preview(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
    let more = items.len() - shown.len();
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(": {}{tail}", shown.join(", "))
}

/// A request id as the run's name: its letters and digits, lower-cased, at most 16.
pub fn run_id(request_id: &str) -> String {
    let id: String = request_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(16)
        .collect();
    if id.is_empty() { "local".into() } else { id }
}

/// Handles one invocation.
pub async fn handle(
    reporter: &Reporter,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Outcome, ReportError> {
    // Only `as_of` is read; a scheduled event's other fields are ignored.
    let request: Request = serde_json::from_value(event.payload)
        .map_err(|e| ReportError::AsOf(format!("the request does not read: {e}")))?;
    let as_of = match request.as_of.as_deref().or(request.time.as_deref()) {
        None => OffsetDateTime::now_utc(),
        Some(text) => rows::parse_time(text).ok_or_else(|| ReportError::AsOf(text.to_owned()))?,
    };
    let now_ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = u64::try_from(i128::from(event.context.deadline) - now_ms).unwrap_or(0);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(left);
    reporter
        .run(&run_id(&event.context.request_id), as_of, deadline)
        .await
}

#[cfg(test)]
mod tests;
