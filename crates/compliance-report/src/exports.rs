//! nodes.csv, missing-patches.csv and owners.csv. Column headers follow Patch Manager's console export
//! ("Export to S3"), with the account and Region the organization-wide view adds. Text that a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets a leading
//! apostrophe, so a tag value or node name cannot become a formula in an auditor's spreadsheet
//! (OWASP, "CSV Injection").

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::history::MissingRow;
use crate::owners::AccountView;
use crate::rows::{Node, Patch};
use crate::summary::{Summary, iso, severity_rank};

/// A text cell, defused.
pub fn text_cell(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
        Some(t) => t.to_owned(),
    }
}

fn number(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn when(value: Option<OffsetDateTime>) -> String {
    value.map(iso).unwrap_or_default()
}

/// The header of nodes.csv.
pub const NODE_COLUMNS: [&str; 34] = [
    "Account ID",
    "Region",
    "Managed node ID",
    "Managed node name",
    "Node type",
    "IP address",
    "Platform type",
    "Platform name",
    "Platform version",
    "SSM Agent version",
    "Instance status",
    "Last seen",
    "Patch group",
    "Patch baseline ID",
    "Compliance status",
    "Highest non-compliant level",
    "Last operation",
    "Last operation end",
    "Installed count",
    "Installed other count",
    "Installed pending reboot count",
    "Installed rejected count",
    "Missing count",
    "Failed count",
    "Not applicable count",
    "Critical noncompliant count",
    "Security noncompliant count",
    "Other noncompliant count",
    "Noncompliant critical level count",
    "Noncompliant high level count",
    "Noncompliant medium level count",
    "Noncompliant low level count",
    "Noncompliant informational level count",
    "Noncompliant unspecified level count",
];

fn node_record(n: &Node) -> [String; 34] {
    let t = |v: &Option<String>| text_cell(v.as_deref());
    [
        text_cell(Some(&n.account_id)),
        text_cell(Some(&n.region)),
        text_cell(Some(&n.node_id)),
        t(&n.computer_name),
        t(&n.node_type),
        t(&n.ip_address),
        t(&n.platform_type),
        t(&n.platform_name),
        t(&n.platform_version),
        t(&n.agent_version),
        t(&n.instance_status),
        when(n.last_seen),
        t(&n.patch_group),
        t(&n.baseline_id),
        t(&n.patch_status),
        t(&n.noncompliant_level),
        t(&n.last_operation),
        when(n.last_operation_end),
        number(n.installed_count),
        number(n.installed_other_count),
        number(n.installed_pending_reboot_count),
        number(n.installed_rejected_count),
        number(n.missing_count),
        number(n.failed_count),
        number(n.not_applicable_count),
        number(n.critical_level_noncompliant_count),
        number(n.security_noncompliant_count),
        number(n.other_noncompliant_count),
        number(n.noncompliant_level_critical),
        number(n.noncompliant_level_high),
        number(n.noncompliant_level_medium),
        number(n.noncompliant_level_low),
        number(n.noncompliant_level_informational),
        number(n.noncompliant_level_unspecified),
    ]
}

/// The header of missing-patches.csv.
pub const PATCH_COLUMNS: [&str; 23] = [
    "Past SLA",
    "Days missing",
    "SLA days",
    "Missing since",
    "Account ID",
    "Region",
    "Managed node ID",
    "Managed node name",
    "Node type",
    "Platform name",
    "Platform version",
    "Instance status",
    "Patch ID",
    "Title",
    "Classification",
    "Compliance level",
    "Vendor severity",
    "State",
    "Compliance status",
    "Installed time",
    "Scan time",
    "Patch baseline ID",
    "Patch group",
];

fn patch_record(p: &Patch, age: Option<&MissingRow>) -> [String; 23] {
    let t = |v: &Option<String>| text_cell(v.as_deref());
    [
        age.map_or(String::new(), |a| {
            if a.past_sla { "yes" } else { "no" }.to_owned()
        }),
        age.map_or(String::new(), |a| a.days_missing.to_string()),
        age.map_or(String::new(), |a| a.sla_days.to_string()),
        age.map_or(String::new(), |a| a.first_seen.clone()),
        text_cell(Some(&p.account_id)),
        text_cell(Some(&p.region)),
        text_cell(Some(&p.node_id)),
        t(&p.computer_name),
        t(&p.node_type),
        t(&p.platform_name),
        t(&p.platform_version),
        t(&p.instance_status),
        text_cell(Some(&p.patch_id)),
        t(&p.title),
        t(&p.classification),
        t(&p.compliance_level),
        t(&p.vendor_severity),
        t(&p.patch_state),
        t(&p.status),
        when(p.installed_time),
        when(p.scan_time),
        t(&p.baseline_id),
        t(&p.patch_group),
    ]
}

fn write<const N: usize>(header: [&str; N], records: impl Iterator<Item = [String; N]>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail but for a bug in the writer.
    let _ = out.write_record(header);
    for r in records {
        let _ = out.write_record(&r);
    }
    out.into_inner().unwrap_or_default()
}

/// nodes.csv: one row per live node, by account, Region and node.
pub fn nodes_csv(nodes: &[Node]) -> Vec<u8> {
    let mut sorted: Vec<&Node> = nodes.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.account_id, &a.region, &a.node_id).cmp(&(&b.account_id, &b.region, &b.node_id))
    });
    write(NODE_COLUMNS, sorted.into_iter().map(node_record))
}

/// missing-patches.csv: one row per node and non-compliant patch; those past their SLA first
/// (longest overdue first), then by node, most severe first.
pub fn missing_csv(missing: &[&Patch], aged: &[MissingRow]) -> Vec<u8> {
    let ages: std::collections::HashMap<_, &MissingRow> =
        aged.iter().map(|a| (a.key(), a)).collect();
    let age = |p: &Patch| {
        ages.get(&(
            p.account_id.clone(),
            p.region.clone(),
            p.node_id.clone(),
            p.patch_id.clone(),
        ))
        .copied()
    };
    let overdue = |p: &Patch| {
        age(p)
            .filter(|a| a.past_sla)
            .map(|a| a.days_missing - a.sla_days)
    };
    let order = |p: &Patch| {
        (
            std::cmp::Reverse(overdue(p)),
            p.account_id.clone(),
            p.region.clone(),
            p.node_id.clone(),
            severity_rank(p.compliance_level.as_deref()),
            p.patch_id.clone(),
        )
    };
    let mut sorted = missing.to_vec();
    sorted.sort_by_cached_key(|p| order(p));
    write(
        PATCH_COLUMNS,
        sorted.into_iter().map(|p| patch_record(p, age(p))),
    )
}

/// The header of owners.csv.
pub const OWNER_COLUMNS: [&str; 14] = [
    "Owner",
    "Account ID",
    "Account name",
    "Organizational unit",
    "Region",
    "Live nodes",
    "Compliant",
    "Non-compliant",
    "Not scanned",
    "Missing security patches",
    "Missing CRITICAL-level patches",
    "Stale",
    "Missing patches past SLA",
    "Nodes past SLA",
];

/// owners.csv: one row per account and Region with the account's owner, name and OU path (empty
/// without an Organizations role), by owner, account and Region.
pub fn owners_csv(summary: &Summary) -> Vec<u8> {
    let accounts: HashMap<&str, &AccountView> = summary
        .owners
        .accounts
        .iter()
        .map(|a| (a.account_id.as_str(), a))
        .collect();
    let sla: HashMap<(&str, &str), (u64, u64)> = summary
        .sla
        .by_account_region
        .iter()
        .map(|s| {
            (
                (s.account_id.as_str(), s.region.as_str()),
                (s.past_sla, s.nodes_past_sla),
            )
        })
        .collect();
    let mut rows: Vec<_> = summary
        .by_account_region
        .iter()
        .map(|g| (accounts.get(g.account_id.as_str()).copied(), g))
        .collect();
    // Owned accounts first, by owner; accounts without an owner after them.
    rows.sort_by_key(|(a, g)| {
        let owner = a.and_then(|a| a.owner.clone());
        (
            owner.is_none(),
            owner,
            g.account_id.clone(),
            g.region.clone(),
        )
    });
    write(
        OWNER_COLUMNS,
        rows.into_iter().map(|(a, g)| {
            let (past, nodes_past) = sla
                .get(&(g.account_id.as_str(), g.region.as_str()))
                .copied()
                .unwrap_or_default();
            let c = &g.counts;
            [
                text_cell(a.and_then(|a| a.owner.as_deref())),
                text_cell(Some(&g.account_id)),
                text_cell(a.and_then(|a| a.name.as_deref())),
                text_cell(a.and_then(|a| a.ou_path.as_deref())),
                text_cell(Some(&g.region)),
                c.live_nodes.to_string(),
                c.compliant.to_string(),
                c.non_compliant.to_string(),
                c.not_scanned.to_string(),
                c.missing_security.to_string(),
                c.missing_critical_level.to_string(),
                c.stale.to_string(),
                past.to_string(),
                nodes_past.to_string(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_is_not() {
        assert_eq!(text_cell(Some("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(text_cell(Some("-1+2")), "'-1+2");
        assert_eq!(text_cell(Some("web-01")), "web-01");
        assert_eq!(text_cell(None), "");
    }
}
