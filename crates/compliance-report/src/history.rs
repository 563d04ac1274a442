//! The report's memory: what each run saw, kept small in the reports bucket so the next run can
//! say how long each patch has been missing and draw compliance over time.
//!
//! Two datasets, one object per run date, partitioned like Hive folders so Athena reads them
//! (the central template declares both tables with partition projection on `dt`):
//! - `history/summary/dt=<date>/summary.json`: one JSON line per account and Region with the
//!   run's counts ([`TrendRow`]);
//! - `history/missing/dt=<date>/missing.json.gz`: one JSON line per node and missing patch with
//!   the date it was first seen missing ([`MissingRow`]), gzip-compressed (Athena reads `.gz`
//!   objects as gzip: "Compression support in Athena").
//!
//! A patch's first-seen date is carried from the newest earlier run's rows: a node and patch
//! missing then and now keeps its date; a new one starts today. A patch installed and missing
//! again later starts again (its earlier gap is not remembered). Running twice on one date
//! rewrites that date's objects from the same earlier run, so a re-run gives the same dates.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};

use aws_setup::AwsError;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

/// One account and Region's counts on one run date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TrendRow {
    pub date: String,
    pub account_id: String,
    pub region: String,
    pub live_nodes: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_scanned: u64,
    pub missing_security: u64,
    pub missing_critical_level: u64,
    pub stale: u64,
    #[serde(default)]
    pub sla_breaches: u64,
}

/// One node and missing patch on one run date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MissingRow {
    pub account_id: String,
    pub region: String,
    pub node_id: String,
    pub patch_id: String,
    pub compliance_level: Option<String>,
    pub classification: Option<String>,
    /// The run date it was first seen missing (`yyyy-mm-dd`).
    pub first_seen: String,
    pub days_missing: i64,
    pub sla_days: i64,
    pub past_sla: bool,
}

impl MissingRow {
    /// Node and patch: what a first-seen date belongs to.
    pub fn key(&self) -> (String, String, String, String) {
        (
            self.account_id.clone(),
            self.region.clone(),
            self.node_id.clone(),
            self.patch_id.clone(),
        )
    }
}

/// The history objects of a bucket and prefix.
#[derive(Debug, Clone)]
pub struct History {
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// A history object that does not read (written by something else): named.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// An S3 call failed.
    #[error("history in s3://{bucket}/{prefix}: {source}")]
    Call {
        bucket: String,
        prefix: String,
        /// The S3 error.
        #[source]
        source: AwsError,
    },
    /// An object is not JSON lines of the expected rows.
    #[error("history object s3://{bucket}/{key} does not read: {reason}; delete it or fix it")]
    Unreadable {
        bucket: String,
        key: String,
        reason: String,
    },
}

impl History {
    /// History under `s3://bucket/prefix/`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: String, prefix: String) -> Self {
        Self { s3, bucket, prefix }
    }

    fn call(&self, e: impl Into<AwsError>) -> HistoryError {
        HistoryError::Call {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            source: e.into(),
        }
    }

    /// The run dates kept for `kind` (`summary`, `missing`), oldest first.
    pub async fn dates(&self, kind: &str) -> Result<Vec<String>, HistoryError> {
        let folder = format!("{}/{kind}/", self.prefix);
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&folder)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut dates = Vec::new();
        while let Some(page) = pages.next().await {
            for p in page.map_err(|e| self.call(e))?.common_prefixes() {
                if let Some(date) = p
                    .prefix()
                    .and_then(|p| p.strip_prefix(&folder))
                    .and_then(|p| p.strip_prefix("dt="))
                    .map(|p| p.trim_end_matches('/'))
                    .filter(|d| is_date(d))
                {
                    dates.push(date.to_owned());
                }
            }
        }
        dates.sort();
        Ok(dates)
    }

    fn key(&self, kind: &str, date: &str) -> String {
        match kind {
            "missing" => format!("{}/missing/dt={date}/missing.json.gz", self.prefix),
            _ => format!("{}/summary/dt={date}/summary.json", self.prefix),
        }
    }

    async fn read<T: for<'de> Deserialize<'de>>(
        &self,
        kind: &str,
        date: &str,
    ) -> Result<Vec<T>, HistoryError> {
        let key = self.key(kind, date);
        let got = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let body = match got {
            Ok(o) => o
                .body
                .collect()
                .await
                .map_err(|e| HistoryError::Unreadable {
                    bucket: self.bucket.clone(),
                    key: key.clone(),
                    reason: e.to_string(),
                })?,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(self.call(e)),
        }
        .into_bytes();
        let unreadable = |reason: String| HistoryError::Unreadable {
            bucket: self.bucket.clone(),
            key: key.clone(),
            reason,
        };
        let mut text = String::new();
        if key.ends_with(".gz") {
            GzDecoder::new(&body[..])
                .read_to_string(&mut text)
                .map_err(|e| unreadable(e.to_string()))?;
        } else {
            text = String::from_utf8(body.to_vec()).map_err(|e| unreadable(e.to_string()))?;
        }
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| unreadable(e.to_string())))
            .collect()
    }

    /// The missing patches of the newest run before `date` among `dates` (from
    /// [`History::dates`]), if any.
    pub async fn previous_missing(
        &self,
        dates: &[String],
        date: &str,
    ) -> Result<Vec<MissingRow>, HistoryError> {
        match dates.iter().rev().find(|d| d.as_str() < date) {
            Some(d) => self.read("missing", d).await,
            None => Ok(Vec::new()),
        }
    }

    /// Every summary row from `since` to `until` (inclusive).
    pub async fn trend(&self, since: &str, until: &str) -> Result<Vec<TrendRow>, HistoryError> {
        let mut rows = Vec::new();
        for date in self.dates("summary").await? {
            if date.as_str() >= since && date.as_str() <= until {
                rows.extend(self.read::<TrendRow>("summary", &date).await?);
            }
        }
        Ok(rows)
    }

    /// Writes a run's rows (replacing that date's, if it ran before).
    pub async fn write(
        &self,
        date: &str,
        summary: &[TrendRow],
        missing: &[MissingRow],
    ) -> Result<(), HistoryError> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        for row in missing {
            // Writing to memory fails only on a bug in the encoder.
            let _ = serde_json::to_writer(&mut gz, row);
            let _ = gz.write_all(b"\n");
        }
        let missing_body = gz.finish().unwrap_or_default();
        let summary_body: Vec<u8> = summary
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .flat_map(|l| (l + "\n").into_bytes())
            .collect();
        for (kind, body, content_type) in [
            ("summary", summary_body, "application/json"),
            ("missing", missing_body, "application/gzip"),
        ] {
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(self.key(kind, date))
                .content_type(content_type)
                .body(body.into())
                .send()
                .await
                .map_err(|e| self.call(e))?;
        }
        Ok(())
    }
}

/// `yyyy-mm-dd`.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Whole days from `from` to `to` (both `yyyy-mm-dd`); 0 when either does not parse.
pub fn days_between(from: &str, to: &str) -> i64 {
    let parse = |d: &str| {
        time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
    };
    match (parse(from), parse(to)) {
        (Some(a), Some(b)) => (b - a).whole_days(),
        _ => 0,
    }
}

/// The patching SLA: days a missing patch may stay missing, by compliance level or
/// classification, else the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sla {
    /// Level or classification (as Patch Manager writes them: `CRITICAL`, `Security`,
    /// `SecurityUpdates`...) -> days.
    pub days: std::collections::BTreeMap<String, i64>,
    /// Days for everything else.
    pub default: i64,
}

impl Sla {
    /// Parses `CRITICAL=14,Security=14,default=30` (whitespace allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut days = std::collections::BTreeMap::new();
        let mut default = None;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not <level or classification>=<days>"))?;
            let value: i64 = value
                .trim()
                .parse()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| format!("{part:?}: days must be a whole number of 0 or more"))?;
            if key.trim() == "default" {
                default = Some(value);
            } else {
                days.insert(key.trim().to_owned(), value);
            }
        }
        Ok(Self {
            days,
            default: default.ok_or("the list needs a default=<days> entry")?,
        })
    }

    /// The days a patch of this level and classification may stay missing: the strictest that
    /// applies.
    pub fn days_for(&self, level: Option<&str>, classification: Option<&str>) -> i64 {
        [level, classification]
            .into_iter()
            .flatten()
            .filter_map(|k| self.days.get(k).copied())
            .min()
            .unwrap_or(self.default)
    }
}

/// Today's missing patches with their first-seen dates carried from `previous`.
pub fn age(
    today: &str,
    missing: &[&crate::rows::Patch],
    previous: &[MissingRow],
    sla: &Sla,
) -> Vec<MissingRow> {
    let first: HashMap<_, &str> = previous
        .iter()
        .map(|r| (r.key(), r.first_seen.as_str()))
        .collect();
    let mut rows: Vec<MissingRow> = missing
        .iter()
        .map(|p| {
            let key = (
                p.account_id.clone(),
                p.region.clone(),
                p.node_id.clone(),
                p.patch_id.clone(),
            );
            let first_seen = first
                .get(&key)
                .copied()
                .filter(|d| *d <= today)
                .unwrap_or(today)
                .to_owned();
            let days_missing = days_between(&first_seen, today);
            let sla_days = sla.days_for(p.compliance_level.as_deref(), p.classification.as_deref());
            MissingRow {
                account_id: key.0,
                region: key.1,
                node_id: key.2,
                patch_id: key.3,
                compliance_level: p.compliance_level.clone(),
                classification: p.classification.clone(),
                days_missing,
                sla_days,
                past_sla: days_missing > sla_days,
                first_seen,
            }
        })
        .collect();
    rows.sort_by_cached_key(MissingRow::key);
    rows.dedup_by(|a, b| a.key() == b.key());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_takes_the_strictest_rule_that_applies() {
        let sla = Sla::parse("CRITICAL=14, Security=7, default=30").expect("parses");
        assert_eq!(sla.days_for(Some("CRITICAL"), Some("Security")), 7);
        assert_eq!(sla.days_for(Some("CRITICAL"), Some("Bugfix")), 14);
        assert_eq!(sla.days_for(Some("LOW"), None), 30);
        assert!(Sla::parse("CRITICAL=14").is_err());
        assert!(Sla::parse("CRITICAL=-1,default=3").is_err());
        assert!(Sla::parse("CRITICAL,default=3").is_err());
    }

    #[test]
    fn first_seen_dates_carry_over_and_new_ones_start_today() {
        let patch = |node: &str, id: &str| -> crate::rows::Patch {
            serde_json::from_value(serde_json::json!({
                "account_id": "1", "region": "r", "node_id": node, "patch_id": id,
                "compliance_level": "CRITICAL", "classification": "Security", "status": "NON_COMPLIANT",
            }))
            .expect("a patch row")
        };
        let (a, b) = (patch("i-1", "KB1"), patch("i-2", "KB1"));
        let sla = Sla::parse("CRITICAL=14,default=30").expect("parses");
        let first = age("2026-11-01", &[&a], &[], &sla);
        assert_eq!(
            (first[0].first_seen.as_str(), first[0].days_missing),
            ("2026-11-01", 0)
        );
        let later = age("2026-11-20", &[&a, &b], &first, &sla);
        assert_eq!(later[0].days_missing, 19);
        assert!(later[0].past_sla);
        assert_eq!(
            (later[1].first_seen.as_str(), later[1].past_sla),
            ("2026-11-20", false)
        );
    }

    #[test]
    fn dates_are_checked_and_counted() {
        assert!(is_date("2026-11-01") && !is_date("2026-11-1") && !is_date("latest"));
        assert_eq!(days_between("2026-02-27", "2026-03-01"), 2);
    }
}
