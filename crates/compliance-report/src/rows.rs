//! The rows of the shipped queries the report reads, typed. Field names are the queries' column
//! names (their `-- column:` headers for the datasets); columns a type does not name are ignored.
//! Athena answers text: numbers and times are parsed here, and a value that does not parse fails
//! the run with the query's name rather than counting as zero.

use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A whole number Athena wrote as text (`"3"`); NULL fails.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    text.trim()
        .parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a whole number")))
}

/// A whole number or NULL.
pub fn count_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a whole number"))),
    }
}

/// A time as Athena writes a `timestamp` (`2026-11-21 12:00:00.000`, UTC), or ISO 8601, or NULL.
pub fn time_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a time"))),
    }
}

/// Athena's `timestamp` text or an ISO 8601 time, as UTC.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    let athena = format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(text, athena)
        .map(PrimitiveDateTime::assume_utc)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .ok()
}

/// A row of the `nodes` dataset: one live managed node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct Node {
    pub account_id: String,
    pub region: String,
    pub node_id: String,
    pub node_type: Option<String>,
    pub computer_name: Option<String>,
    pub ip_address: Option<String>,
    pub platform_type: Option<String>,
    pub platform_name: Option<String>,
    pub platform_version: Option<String>,
    pub agent_version: Option<String>,
    pub instance_status: Option<String>,
    #[serde(default, deserialize_with = "time_opt")]
    pub last_seen: Option<OffsetDateTime>,
    pub patch_status: Option<String>,
    pub noncompliant_level: Option<String>,
    pub patch_group: Option<String>,
    pub baseline_id: Option<String>,
    pub last_operation: Option<String>,
    #[serde(default, deserialize_with = "time_opt")]
    pub last_operation_end: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "count_opt")]
    pub installed_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub installed_other_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub installed_pending_reboot_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub installed_rejected_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub missing_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub failed_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub not_applicable_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub critical_level_noncompliant_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub security_noncompliant_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub other_noncompliant_count: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_critical: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_high: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_medium: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_low: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_informational: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_unspecified: Option<i64>,
}

impl Node {
    /// The node's patch compliance status, `UNKNOWN` when the dataset gave none it knows.
    pub fn status(&self) -> &str {
        match self.patch_status.as_deref() {
            Some(s @ ("COMPLIANT" | "NON_COMPLIANT" | "NOT_SCANNED")) => s,
            _ => "UNKNOWN",
        }
    }

    /// Non-compliant patches at every compliance level.
    pub fn noncompliant_total(&self) -> i64 {
        [
            self.noncompliant_level_critical,
            self.noncompliant_level_high,
            self.noncompliant_level_medium,
            self.noncompliant_level_low,
            self.noncompliant_level_informational,
            self.noncompliant_level_unspecified,
        ]
        .iter()
        .map(|v| v.unwrap_or(0))
        .sum()
    }

    /// Missing at least one patch the vendor classifies as security.
    pub fn missing_security(&self) -> bool {
        self.security_noncompliant_count.unwrap_or(0) > 0
    }

    /// Missing at least one patch its baseline ranks CRITICAL.
    pub fn missing_critical_level(&self) -> bool {
        self.noncompliant_level_critical.unwrap_or(0) > 0
    }
}

/// A row of the `patches` dataset: one compliance item of one live node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct Patch {
    pub account_id: String,
    pub region: String,
    pub node_id: String,
    pub node_type: Option<String>,
    pub computer_name: Option<String>,
    pub platform_type: Option<String>,
    pub platform_name: Option<String>,
    pub platform_version: Option<String>,
    pub instance_status: Option<String>,
    pub patch_id: String,
    pub title: Option<String>,
    pub classification: Option<String>,
    pub compliance_level: Option<String>,
    pub vendor_severity: Option<String>,
    pub patch_state: Option<String>,
    pub status: Option<String>,
    #[serde(default, deserialize_with = "time_opt")]
    pub installed_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "time_opt")]
    pub scan_time: Option<OffsetDateTime>,
    pub baseline_id: Option<String>,
    pub patch_group: Option<String>,
}

/// A row of the `node_tags` dataset: one tag of one live node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct NodeTag {
    pub account_id: String,
    pub region: String,
    pub node_id: String,
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
    pub patch_status: Option<String>,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_level_critical: Option<i64>,
    #[serde(default, deserialize_with = "count_opt")]
    pub security_noncompliant_count: Option<i64>,
}

/// A row of the `config_compliance` dataset: one instance or node in AWS Config's view.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct ConfigItem {
    pub account_id: String,
    pub region: String,
    pub node_id: Option<String>,
    pub node_type: Option<String>,
    pub instance_state: Option<String>,
    pub managed_by_ssm: Option<String>,
    pub patch_compliance: Option<String>,
    pub patch_compliance_reason: Option<String>,
    /// The AWS::Config::ResourceCompliance items of the newest snapshot of the row's account and
    /// Region that could not be read (malformed or forged: their nodes lost their rule results);
    /// the same on every row of the account and Region.
    #[serde(default, deserialize_with = "count_opt")]
    pub unreadable_items: Option<i64>,
}

/// A row of `compliance_summary`: nodes per account, Region and compliance level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct LevelCount {
    pub account_id: String,
    pub region: String,
    pub compliance_level: Option<String>,
    #[serde(deserialize_with = "count")]
    pub noncompliant_nodes: i64,
}

/// A row of `ec2_not_managed`: an EC2 instance Systems Manager does not manage.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct Unmanaged {
    pub account_id: String,
    pub region: String,
    pub instance_id: String,
    pub name: Option<String>,
    pub instance_state: Option<String>,
    pub instance_type: Option<String>,
    pub platform: Option<String>,
    pub managed_rule_result: Option<String>,
    #[serde(default, deserialize_with = "time_opt")]
    pub config_captured: Option<OffsetDateTime>,
}

/// A row of `compliant_nodes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct CompliantNode {
    pub account_id: String,
    pub region: String,
}

/// A row of `noncompliant_nodes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct NoncompliantNode {
    pub account_id: String,
    pub region: String,
    #[serde(default, deserialize_with = "count_opt")]
    pub noncompliant_patches: Option<i64>,
}

/// A row of `patch_summary`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub struct PatchSummary {
    pub account_id: String,
    pub region: String,
    #[serde(default, deserialize_with = "count_opt")]
    pub security_noncompliant: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn athena_and_iso_times_read_as_utc() {
        let want = time::macros::datetime!(2026-11-21 12:00:00 UTC);
        assert_eq!(parse_time("2026-11-21 12:00:00.000"), Some(want));
        assert_eq!(parse_time("2026-11-21 12:00:00"), Some(want));
        assert_eq!(parse_time("2026-11-21T12:00:00Z"), Some(want));
        assert_eq!(parse_time("yesterday"), None);
    }
}
