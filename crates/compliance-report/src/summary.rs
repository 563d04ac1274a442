//! Every number the report shows, counted from the shipped queries' rows (summary.json).
//!
//! The report only counts and sorts rows; which query feeds which number:
//! - `nodes` dataset: live managed nodes, compliance status, security and CRITICAL-level counts,
//!   stale nodes, nodes.csv;
//! - `patches` dataset: missing-patches.csv and the most-missing patches;
//! - `node_tags` dataset: compliance by tag;
//! - `config_compliance` dataset: AWS Config's view (stopped and unmanaged instances included),
//!   and per account and Region the Config items it could not read (`unreadable_items`, shown
//!   with the data health);
//! - `compliance_summary`: nodes missing CRITICAL-level patches per account and Region;
//! - `ec2_not_managed`: unmanaged EC2 instances;
//! - `compliant_nodes`, `noncompliant_nodes`, `patch_summary`: reconciliation, each headline count
//!   computed a second way from another query.
//!
//! Two meanings of "critical" are kept apart. Security is the vendor's (the patch summary's
//! SecurityNonCompliantCount): the headline, as it means the same on every baseline. Critical
//! level is the compliance level the node's patch baseline assigns: AWS's predefined baselines
//! assign UNSPECIFIED to every patch ("About predefined and custom patch baselines", SSM User
//! Guide), so on them it is 0 whatever is missing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use time::OffsetDateTime;

use crate::rows::{
    CompliantNode, ConfigItem, LevelCount, Node, NodeTag, NoncompliantNode, Patch, PatchSummary,
    Unmanaged,
};

/// Compliance levels, most severe first (ComplianceItem Severity, Systems Manager API Reference).
/// fleet-sim lists the same six to write its data; a Lambda function does not depend on the
/// simulator, so the list is written here too.
pub const SEVERITIES: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNSPECIFIED",
];
/// The patches listed as most missing.
pub const TOP_PATCHES: usize = 15;

/// A severity's rank (0 = CRITICAL); unknown ones last.
pub fn severity_rank(severity: Option<&str>) -> usize {
    severity
        .and_then(|s| SEVERITIES.iter().position(|x| *x == s))
        .unwrap_or(SEVERITIES.len())
}

/// Every row the report reads, by query.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `nodes` dataset.
    pub nodes: Vec<Node>,
    /// `patches` dataset.
    pub patches: Vec<Patch>,
    /// `node_tags` dataset.
    pub tags: Vec<NodeTag>,
    /// `config_compliance` dataset (empty without Config analytics).
    pub config: Vec<ConfigItem>,
    /// `compliance_summary`.
    pub levels: Vec<LevelCount>,
    /// `ec2_not_managed` (empty without Config analytics).
    pub unmanaged: Vec<Unmanaged>,
    /// `compliant_nodes`.
    pub compliant: Vec<CompliantNode>,
    /// `noncompliant_nodes`.
    pub noncompliant: Vec<NoncompliantNode>,
    /// `patch_summary`.
    pub patch_summary: Vec<PatchSummary>,
}

/// The counts of one account and Region (or of all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct Counts {
    pub live_nodes: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_scanned: u64,
    pub unknown: u64,
    pub missing_security: u64,
    pub missing_critical_level: u64,
    pub unmanaged_ec2: u64,
    pub stale: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.live_nodes += other.live_nodes;
        self.compliant += other.compliant;
        self.non_compliant += other.non_compliant;
        self.not_scanned += other.not_scanned;
        self.unknown += other.unknown;
        self.missing_security += other.missing_security;
        self.missing_critical_level += other.missing_critical_level;
        self.unmanaged_ec2 += other.unmanaged_ec2;
        self.stale += other.stale;
    }

    /// The count of a status (`COMPLIANT`...).
    pub fn status(&self, status: &str) -> u64 {
        match status {
            "COMPLIANT" => self.compliant,
            "NON_COMPLIANT" => self.non_compliant,
            "NOT_SCANNED" => self.not_scanned,
            _ => self.unknown,
        }
    }

    fn count_status(&mut self, status: &str) {
        match status {
            "COMPLIANT" => self.compliant += 1,
            "NON_COMPLIANT" => self.non_compliant += 1,
            "NOT_SCANNED" => self.not_scanned += 1,
            _ => self.unknown += 1,
        }
    }
}

/// An account and Region with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub account_id: String,
    pub region: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One of the most-missing patches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopPatch {
    /// The patch (KB article, package name...).
    pub patch_id: String,
    /// Distinct nodes missing it.
    pub nodes: u64,
    /// The most severe compliance level the nodes' baselines give it.
    pub compliance_level: String,
    /// The vendor's severity most nodes report.
    pub vendor_severity: Option<String>,
    /// The classification most nodes report.
    pub classification: Option<String>,
    /// The title most nodes report.
    pub title: Option<String>,
    /// Nodes per patch state (Missing, Failed...).
    pub states: BTreeMap<String, u64>,
    /// Accounts and Regions it is missing in.
    pub accounts_regions: u64,
}

/// AWS Config's view of one account and Region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct ConfigCounts {
    pub evaluated: u64,
    pub stopped: u64,
    pub managed_yes: u64,
    pub managed_no: u64,
    pub managed_not_applicable: u64,
    pub managed_unknown: u64,
    pub patch_compliant: u64,
    pub patch_non_compliant: u64,
    pub patch_no_result: u64,
    pub patch_not_recorded: u64,
    /// ResourceCompliance items of the newest snapshot that could not be read (their nodes' rule
    /// results are missing from the counts above).
    pub unreadable_items: u64,
}

impl ConfigCounts {
    fn add(&mut self, o: &ConfigCounts) {
        self.evaluated += o.evaluated;
        self.stopped += o.stopped;
        self.managed_yes += o.managed_yes;
        self.managed_no += o.managed_no;
        self.managed_not_applicable += o.managed_not_applicable;
        self.managed_unknown += o.managed_unknown;
        self.patch_compliant += o.patch_compliant;
        self.patch_non_compliant += o.patch_non_compliant;
        self.patch_no_result += o.patch_no_result;
        self.patch_not_recorded += o.patch_not_recorded;
        self.unreadable_items += o.unreadable_items;
    }
}

/// AWS Config's view of an account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigGroup {
    pub account_id: String,
    pub region: String,
    #[serde(flatten)]
    pub counts: ConfigCounts,
}

/// AWS Config's view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigView {
    /// Whether the Config table was read (Config analytics on).
    pub enabled: bool,
    /// Per account and Region.
    pub by_account_region: Vec<ConfigGroup>,
    pub totals: ConfigCounts,
}

/// Compliance of the nodes carrying one value of a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct TagValue {
    pub value: String,
    pub nodes: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    pub not_scanned: u64,
    pub unknown: u64,
    pub missing_security: u64,
    pub missing_critical_level: u64,
}

/// Compliance per value of one tag key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagBreakdown {
    pub tag_key: String,
    /// Its values, most nodes first.
    pub values: Vec<TagValue>,
}

/// One count computed two ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What is counted.
    pub check: String,
    /// True when both ways agree for every account and Region.
    pub ok: bool,
    /// The two ways.
    pub how: String,
    /// `account/region` -> [first, second], where they differ.
    pub differences: BTreeMap<String, [u64; 2]>,
}

/// The lists of node ids behind the headline counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct NodeLists {
    pub non_compliant: Vec<String>,
    pub missing_critical_level: Vec<String>,
    pub missing_security: Vec<String>,
    pub stale: Vec<String>,
    pub unmanaged_ec2: Vec<String>,
    pub not_scanned: Vec<String>,
}

/// What summary.json holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Title of the report.
    pub title: String,
    /// The time the report describes (staleness is measured from it), ISO 8601.
    pub as_of: String,
    /// When the report was made, ISO 8601.
    pub generated_at: String,
    /// A live node last seen more than this many days before `as_of` is stale.
    pub stale_days: f64,
    /// Accounts seen, in order.
    pub accounts: Vec<String>,
    /// Regions seen, in order.
    pub regions: Vec<String>,
    /// Counts per account and Region.
    pub by_account_region: Vec<Group>,
    /// Counts of the organization.
    pub totals: Counts,
    /// Percentage of live nodes compliant, one decimal.
    pub compliance_rate: Option<f64>,
    /// Non-compliant nodes whose missing patches are all at level UNSPECIFIED.
    pub noncompliant_unspecified_only: u64,
    /// The patches missing on the most nodes.
    pub top_missing_patches: Vec<TopPatch>,
    /// Node and non-compliant patch pairs (rows of missing-patches.csv).
    pub missing_patch_rows: u64,
    /// Distinct non-compliant patches.
    pub distinct_missing_patches: u64,
    /// AWS Config's view.
    pub config: ConfigView,
    /// Compliance by tag.
    pub by_tag: Vec<TagBreakdown>,
    /// Node ids behind the counts.
    pub node_lists: NodeLists,
    /// Reconciliation.
    pub checks: Vec<Check>,
    /// The shipped queries the numbers come from.
    pub sources: Vec<String>,
    /// Missing patches past the patching SLA.
    pub sla: SlaView,
    /// Compliance over time.
    pub trend: Trend,
    /// Whether the data is arriving.
    pub pipeline: Pipeline,
    /// What changed since the previous run (none on the first).
    pub changes: Option<Changes>,
    /// Account names, OU paths and owners (account ids only without an Organizations role).
    pub owners: crate::owners::Owners,
}

/// Missing patches past the SLA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlaView {
    /// Days per level or classification, and the default.
    pub thresholds: BTreeMap<String, i64>,
    /// Node and patch pairs past their SLA.
    pub past_sla: u64,
    /// Nodes with at least one.
    pub nodes_past_sla: u64,
    /// Per account and Region: (pairs, nodes) past SLA.
    pub by_account_region: Vec<SlaGroup>,
    /// The longest any missing patch has been missing, in days.
    pub oldest_days: i64,
    /// Runs the first-seen dates go back to (the history's first date).
    pub history_since: Option<String>,
}

/// One account and Region's SLA breaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct SlaGroup {
    pub account_id: String,
    pub region: String,
    pub past_sla: u64,
    pub nodes_past_sla: u64,
}

/// One run date's compliance.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct TrendPoint {
    pub date: String,
    pub live_nodes: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    pub rate: Option<f64>,
}

/// An account and Region's compliance at the window's first run and now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct TrendGroup {
    pub account_id: String,
    pub region: String,
    pub first_date: String,
    pub first_rate: Option<f64>,
    pub rate: Option<f64>,
}

/// Compliance over the trend window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trend {
    /// Days looked back.
    pub days: i64,
    /// The organization per run date, oldest first (today's run last).
    pub organization: Vec<TrendPoint>,
    /// Per account and Region.
    pub by_account_region: Vec<TrendGroup>,
}

/// An account and Region's newest data.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub struct Freshness {
    pub account_id: String,
    pub region: String,
    /// The newest inventory any of its live nodes reported (ISO 8601).
    pub newest: Option<String>,
    pub days_old: Option<f64>,
    pub stale: bool,
}

/// The crawler's last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct CrawlerState {
    pub name: String,
    pub last_status: Option<String>,
    pub last_start: Option<String>,
    pub error: Option<String>,
}

/// An account and Region whose newest AWS Config snapshot holds items the queries could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct UnreadableConfig {
    pub account_id: String,
    pub region: String,
    /// Its unreadable AWS::Config::ResourceCompliance items (malformed or forged deliveries): each
    /// lost its node's Config rule results, which the report shows as unknown or not evaluated.
    pub items: u64,
}

/// Whether the data is arriving.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Pipeline {
    /// An account and Region is stale when its newest data is older than this many days.
    pub stale_after_days: f64,
    /// Per account and Region.
    pub groups: Vec<Freshness>,
    /// The crawler, when the function knows it.
    pub crawler: Option<CrawlerState>,
    /// Live nodes never scanned for patches.
    pub never_scanned: u64,
    /// Accounts and Regions with AWS Config items that could not be read, in order (none when all
    /// is well, or without Config analytics).
    pub unreadable_config: Vec<UnreadableConfig>,
}

/// What changed since the previous run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The previous run's time.
    pub since: String,
    /// Nodes non-compliant now that were not then.
    pub newly_non_compliant: Vec<String>,
    /// Node and patch pairs past SLA now that were not then.
    pub new_sla_breaches: u64,
    /// Accounts and Regions whose data is stale now and was not then.
    pub stopped_syncing: Vec<String>,
    /// Accounts and Regions stale then and fresh now.
    pub resumed_syncing: Vec<String>,
}

/// Counting options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The time the report describes.
    pub as_of: OffsetDateTime,
    /// When the report is made.
    pub generated: OffsetDateTime,
    /// Staleness threshold in days.
    pub stale_days: f64,
    /// Whether the Config queries ran.
    pub config_enabled: bool,
}

type Key = (String, String);

fn key(account: &str, region: &str) -> Key {
    (account.to_owned(), region.to_owned())
}

/// Formats a time as ISO 8601 to the second, UTC.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Is a node stale at `as_of`?
pub fn is_stale(node: &Node, as_of: OffsetDateTime, stale_days: f64) -> bool {
    let cutoff = as_of - time::Duration::seconds_f64(stale_days * 86_400.0);
    node.last_seen.is_none_or(|seen| seen < cutoff)
}

fn most_common(counts: &BTreeMap<Option<String>, u64>) -> Option<String> {
    // Ties go to the first in order, as Python's Counter.most_common keeps insertion order; here
    // the order is the values' own, which is deterministic.
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .and_then(|(v, _)| v.clone())
}

/// Counts everything.
pub fn build(inputs: &Inputs, options: Options, sources: Vec<String>) -> Summary {
    let mut accounts: Vec<String> = Vec::new();
    let mut regions: Vec<String> = Vec::new();
    let mut groups: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut see = |account: &str, region: &str, groups: &mut BTreeMap<Key, Counts>| {
        if !accounts.iter().any(|a| a == account) {
            accounts.push(account.to_owned());
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_owned());
        }
        groups.entry(key(account, region)).or_default();
    };
    for n in &inputs.nodes {
        see(&n.account_id, &n.region, &mut groups);
    }
    for u in &inputs.unmanaged {
        see(&u.account_id, &u.region, &mut groups);
    }
    for c in &inputs.config {
        see(&c.account_id, &c.region, &mut groups);
    }
    for s in &inputs.levels {
        see(&s.account_id, &s.region, &mut groups);
    }
    accounts.sort();
    regions.sort();

    let mut lists = NodeLists::default();
    let mut unspecified_only = 0;
    for n in &inputs.nodes {
        let row = groups.entry(key(&n.account_id, &n.region)).or_default();
        row.live_nodes += 1;
        row.count_status(n.status());
        if n.missing_security() {
            row.missing_security += 1;
            lists.missing_security.push(n.node_id.clone());
        }
        if n.missing_critical_level() {
            lists.missing_critical_level.push(n.node_id.clone());
        }
        if n.status() == "NOT_SCANNED" {
            lists.not_scanned.push(n.node_id.clone());
        }
        if n.status() == "NON_COMPLIANT" {
            lists.non_compliant.push(n.node_id.clone());
        }
        if n.status() == "NON_COMPLIANT" && n.noncompliant_level.as_deref() == Some("UNSPECIFIED") {
            unspecified_only += 1;
        }
        if is_stale(n, options.as_of, options.stale_days) {
            row.stale += 1;
            lists.stale.push(n.node_id.clone());
        }
    }
    for s in &inputs.levels {
        if s.compliance_level.as_deref() == Some("CRITICAL") {
            groups
                .entry(key(&s.account_id, &s.region))
                .or_default()
                .missing_critical_level += s.noncompliant_nodes.max(0) as u64;
        }
    }
    for u in &inputs.unmanaged {
        groups
            .entry(key(&u.account_id, &u.region))
            .or_default()
            .unmanaged_ec2 += 1;
        lists.unmanaged_ec2.push(u.instance_id.clone());
    }
    for list in [
        &mut lists.non_compliant,
        &mut lists.missing_critical_level,
        &mut lists.missing_security,
        &mut lists.stale,
        &mut lists.unmanaged_ec2,
        &mut lists.not_scanned,
    ] {
        list.sort();
    }
    let mut totals = Counts::default();
    for c in groups.values() {
        totals.add(c);
    }

    // Most-missing patches: distinct nodes per patch among the non-compliant items.
    let missing: Vec<&Patch> = inputs
        .patches
        .iter()
        .filter(|p| p.status.as_deref() == Some("NON_COMPLIANT"))
        .collect();
    #[derive(Default)]
    struct Tally {
        nodes: BTreeSet<(String, String, String)>,
        levels: BTreeSet<usize>,
        vendor: BTreeMap<Option<String>, u64>,
        classification: BTreeMap<Option<String>, u64>,
        title: BTreeMap<Option<String>, u64>,
        states: BTreeMap<String, u64>,
        groups: BTreeSet<Key>,
    }
    let mut by_patch: HashMap<&str, Tally> = HashMap::new();
    for p in &missing {
        let t = by_patch.entry(p.patch_id.as_str()).or_default();
        t.nodes
            .insert((p.account_id.clone(), p.region.clone(), p.node_id.clone()));
        t.levels
            .insert(severity_rank(p.compliance_level.as_deref()));
        *t.vendor.entry(p.vendor_severity.clone()).or_default() += 1;
        *t.classification
            .entry(p.classification.clone())
            .or_default() += 1;
        *t.title.entry(p.title.clone()).or_default() += 1;
        *t.states
            .entry(p.patch_state.clone().unwrap_or_default())
            .or_default() += 1;
        t.groups.insert(key(&p.account_id, &p.region));
    }
    let mut ranked: Vec<(&str, &Tally)> = by_patch.iter().map(|(k, v)| (*k, v)).collect();
    ranked.sort_by(|a, b| b.1.nodes.len().cmp(&a.1.nodes.len()).then(a.0.cmp(b.0)));
    let top = ranked
        .iter()
        .take(TOP_PATCHES)
        .map(|(id, t)| TopPatch {
            patch_id: (*id).to_owned(),
            nodes: t.nodes.len() as u64,
            // A patch's compliance level comes from the baseline rule that approved it, so it
            // differs between nodes on different baselines: show the most severe.
            compliance_level: t
                .levels
                .iter()
                .next()
                .and_then(|r| SEVERITIES.get(*r))
                .unwrap_or(&"UNSPECIFIED")
                .to_string(),
            vendor_severity: most_common(&t.vendor),
            classification: most_common(&t.classification),
            title: most_common(&t.title),
            states: t.states.clone(),
            accounts_regions: t.groups.len() as u64,
        })
        .collect();

    let config = config_view(inputs, &groups, options.config_enabled);
    let by_tag = tag_breakdown(&inputs.tags, 12, 3);
    let checks = reconcile(inputs, &missing);
    let as_group = |(k, counts): (&Key, &Counts)| Group {
        account_id: k.0.clone(),
        region: k.1.clone(),
        counts: counts.clone(),
    };
    Summary {
        title: "Patch compliance report".into(),
        as_of: iso(options.as_of),
        generated_at: iso(options.generated),
        stale_days: options.stale_days,
        accounts,
        regions,
        by_account_region: groups.iter().map(as_group).collect(),
        compliance_rate: (totals.live_nodes > 0)
            .then(|| (1000.0 * totals.compliant as f64 / totals.live_nodes as f64).round() / 10.0),
        totals,
        noncompliant_unspecified_only: unspecified_only,
        top_missing_patches: top,
        missing_patch_rows: missing.len() as u64,
        distinct_missing_patches: by_patch.len() as u64,
        config,
        by_tag,
        node_lists: lists,
        checks,
        sources,
        sla: SlaView::default(),
        trend: Trend::default(),
        pipeline: Pipeline::default(),
        changes: None,
        owners: crate::owners::Owners::default(),
    }
}

/// The SLA view of today's aged missing patches.
pub fn sla_view(
    rows: &[crate::history::MissingRow],
    sla: &crate::history::Sla,
    since: Option<String>,
) -> SlaView {
    let mut thresholds = sla.days.clone();
    thresholds.insert("default".into(), sla.default);
    let past: Vec<_> = rows.iter().filter(|r| r.past_sla).collect();
    let mut groups: BTreeMap<Key, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for r in &past {
        let g = groups.entry(key(&r.account_id, &r.region)).or_default();
        g.0 += 1;
        g.1.insert(&r.node_id);
    }
    let nodes: BTreeSet<(&str, &str, &str)> = past
        .iter()
        .map(|r| (r.account_id.as_str(), r.region.as_str(), r.node_id.as_str()))
        .collect();
    SlaView {
        thresholds,
        past_sla: past.len() as u64,
        nodes_past_sla: nodes.len() as u64,
        by_account_region: groups
            .into_iter()
            .map(|(k, (n, ids))| SlaGroup {
                account_id: k.0,
                region: k.1,
                past_sla: n,
                nodes_past_sla: ids.len() as u64,
            })
            .collect(),
        oldest_days: rows.iter().map(|r| r.days_missing).max().unwrap_or(0),
        history_since: since,
    }
}

/// Today's rows of the summary history.
pub fn trend_rows(
    summary: &Summary,
    date: &str,
    rows: &[crate::history::MissingRow],
) -> Vec<crate::history::TrendRow> {
    summary
        .by_account_region
        .iter()
        .map(|g| crate::history::TrendRow {
            date: date.to_owned(),
            account_id: g.account_id.clone(),
            region: g.region.clone(),
            live_nodes: g.counts.live_nodes,
            compliant: g.counts.compliant,
            non_compliant: g.counts.non_compliant,
            not_scanned: g.counts.not_scanned,
            missing_security: g.counts.missing_security,
            missing_critical_level: g.counts.missing_critical_level,
            stale: g.counts.stale,
            sla_breaches: rows
                .iter()
                .filter(|r| r.past_sla && r.account_id == g.account_id && r.region == g.region)
                .count() as u64,
        })
        .collect()
}

fn rate(compliant: u64, live: u64) -> Option<f64> {
    (live > 0).then(|| (1000.0 * compliant as f64 / live as f64).round() / 10.0)
}

/// Compliance over time from the history's rows (today's included).
pub fn trend(rows: &[crate::history::TrendRow], days: i64) -> Trend {
    let mut by_date: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    let mut by_group: BTreeMap<Key, Vec<&crate::history::TrendRow>> = BTreeMap::new();
    for r in rows {
        let d = by_date.entry(&r.date).or_default();
        d.0 += r.live_nodes;
        d.1 += r.compliant;
        d.2 += r.non_compliant;
        by_group
            .entry(key(&r.account_id, &r.region))
            .or_default()
            .push(r);
    }
    Trend {
        days,
        organization: by_date
            .into_iter()
            .map(|(date, (live, compliant, non))| TrendPoint {
                date: date.to_owned(),
                live_nodes: live,
                compliant,
                non_compliant: non,
                rate: rate(compliant, live),
            })
            .collect(),
        by_account_region: by_group
            .into_iter()
            .filter_map(|(k, mut rows)| {
                rows.sort_by(|a, b| a.date.cmp(&b.date));
                let (first, last) = (rows.first()?, rows.last()?);
                Some(TrendGroup {
                    account_id: k.0,
                    region: k.1,
                    first_date: first.date.clone(),
                    first_rate: rate(first.compliant, first.live_nodes),
                    rate: rate(last.compliant, last.live_nodes),
                })
            })
            .collect(),
    }
}

/// Each account and Region's newest data, the nodes never scanned, and the accounts and Regions
/// whose AWS Config items could not all be read (from the Config view `summary` already counted).
pub fn pipeline(
    nodes: &[Node],
    summary: &Summary,
    as_of: OffsetDateTime,
    stale_after_days: f64,
) -> Pipeline {
    let mut newest: BTreeMap<Key, Option<OffsetDateTime>> = summary
        .by_account_region
        .iter()
        .map(|g| (key(&g.account_id, &g.region), None))
        .collect();
    for n in nodes {
        let slot = newest.entry(key(&n.account_id, &n.region)).or_default();
        if n.last_seen > *slot {
            *slot = n.last_seen;
        }
    }
    Pipeline {
        stale_after_days,
        groups: newest
            .into_iter()
            .map(|(k, t)| {
                let days =
                    t.map(|t| ((as_of - t).as_seconds_f64() / 86_400.0 * 10.0).round() / 10.0);
                Freshness {
                    account_id: k.0,
                    region: k.1,
                    newest: t.map(iso),
                    days_old: days,
                    stale: days.is_none_or(|d| d > stale_after_days),
                }
            })
            .collect(),
        crawler: None,
        never_scanned: summary.totals.not_scanned,
        unreadable_config: summary
            .config
            .by_account_region
            .iter()
            .filter(|g| g.counts.unreadable_items > 0)
            .map(|g| UnreadableConfig {
                account_id: g.account_id.clone(),
                region: g.region.clone(),
                items: g.counts.unreadable_items,
            })
            .collect(),
    }
}

/// What a previous run's summary.json holds that the changes need.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct Previous {
    pub as_of: String,
    /// Its node lists.
    pub node_lists: NodeLists,
    /// Its pipeline view.
    pub pipeline: PreviousPipeline,
}

/// A previous run's pipeline view.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct PreviousPipeline {
    /// Its groups.
    pub groups: Vec<Freshness>,
}

/// What changed between `previous` and now.
pub fn changes(previous: &Previous, now: &Summary, new_sla_breaches: u64) -> Changes {
    let before: BTreeSet<&String> = previous.node_lists.non_compliant.iter().collect();
    let stale = |groups: &[Freshness]| -> BTreeSet<String> {
        groups
            .iter()
            .filter(|g| g.stale)
            .map(|g| format!("{}/{}", g.account_id, g.region))
            .collect()
    };
    let (then, now_stale) = (
        stale(&previous.pipeline.groups),
        stale(&now.pipeline.groups),
    );
    Changes {
        since: previous.as_of.clone(),
        newly_non_compliant: now
            .node_lists
            .non_compliant
            .iter()
            .filter(|n| !before.contains(n))
            .cloned()
            .collect(),
        new_sla_breaches,
        stopped_syncing: now_stale.difference(&then).cloned().collect(),
        resumed_syncing: then.difference(&now_stale).cloned().collect(),
    }
}

fn config_view(inputs: &Inputs, groups: &BTreeMap<Key, Counts>, enabled: bool) -> ConfigView {
    let mut rows: BTreeMap<Key, ConfigCounts> = groups
        .keys()
        .map(|k| (k.clone(), ConfigCounts::default()))
        .collect();
    for c in &inputs.config {
        let r = rows.entry(key(&c.account_id, &c.region)).or_default();
        r.evaluated += 1;
        if c.instance_state.as_deref() == Some("stopped") {
            r.stopped += 1;
        }
        match c.managed_by_ssm.as_deref().unwrap_or("UNKNOWN") {
            "YES" => r.managed_yes += 1,
            "NO" => r.managed_no += 1,
            "NOT_APPLICABLE" => r.managed_not_applicable += 1,
            _ => r.managed_unknown += 1,
        }
        if c.patch_compliance_reason.as_deref() == Some("NOT_RECORDED") {
            r.patch_not_recorded += 1;
        }
        // The account's and Region's count, on each of its rows.
        let unreadable = u64::try_from(c.unreadable_items.unwrap_or(0)).unwrap_or(0);
        r.unreadable_items = r.unreadable_items.max(unreadable);
        // The patch rule's result; INSUFFICIENT_DATA or none at all both mean no verdict.
        match c.patch_compliance.as_deref() {
            Some("COMPLIANT") => r.patch_compliant += 1,
            Some("NON_COMPLIANT") => r.patch_non_compliant += 1,
            _ => r.patch_no_result += 1,
        }
    }
    let mut totals = ConfigCounts::default();
    for r in rows.values() {
        totals.add(r);
    }
    ConfigView {
        enabled,
        by_account_region: rows
            .into_iter()
            .map(|(k, counts)| ConfigGroup {
                account_id: k.0,
                region: k.1,
                counts,
            })
            .collect(),
        totals,
    }
}

/// Compliance per value of the most used tag keys that have few values (Environment, Owner...).
/// Name tags are left out: one value per node says nothing about a group.
pub fn tag_breakdown(tags: &[NodeTag], max_values: usize, max_keys: usize) -> Vec<TagBreakdown> {
    let mut per_key: BTreeMap<&str, BTreeMap<&str, Vec<&NodeTag>>> = BTreeMap::new();
    for t in tags {
        let Some(k) = t
            .tag_key
            .as_deref()
            .filter(|k| !k.is_empty() && *k != "Name")
        else {
            continue;
        };
        per_key
            .entry(k)
            .or_default()
            .entry(t.tag_value.as_deref().unwrap_or(""))
            .or_default()
            .push(t);
    }
    let mut keys: Vec<&str> = per_key
        .iter()
        .filter(|(_, v)| v.len() <= max_values)
        .map(|(k, _)| *k)
        .collect();
    let size = |k: &str| per_key[k].values().map(Vec::len).sum::<usize>();
    keys.sort_by(|a, b| size(b).cmp(&size(a)).then(a.cmp(b)));
    keys.truncate(max_keys);
    keys.into_iter()
        .map(|k| {
            let mut values: Vec<(&str, &Vec<&NodeTag>)> =
                per_key[k].iter().map(|(v, rows)| (*v, rows)).collect();
            values.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
            TagBreakdown {
                tag_key: k.to_owned(),
                values: values
                    .into_iter()
                    .map(|(value, rows)| {
                        let mut counts = Counts::default();
                        for r in rows {
                            counts.count_status(match r.patch_status.as_deref() {
                                Some(s @ ("COMPLIANT" | "NON_COMPLIANT" | "NOT_SCANNED")) => s,
                                _ => "UNKNOWN",
                            });
                        }
                        TagValue {
                            value: value.to_owned(),
                            nodes: rows.len() as u64,
                            compliant: counts.compliant,
                            non_compliant: counts.non_compliant,
                            not_scanned: counts.not_scanned,
                            unknown: counts.unknown,
                            missing_security: rows
                                .iter()
                                .filter(|r| r.security_noncompliant_count.unwrap_or(0) > 0)
                                .count() as u64,
                            missing_critical_level: rows
                                .iter()
                                .filter(|r| r.noncompliant_level_critical.unwrap_or(0) > 0)
                                .count() as u64,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

fn per_group<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    group: impl Fn(&T) -> Key,
    keep: impl Fn(&T) -> bool,
) -> BTreeMap<Key, u64> {
    let mut out = BTreeMap::new();
    for i in items {
        if keep(i) {
            *out.entry(group(i)).or_default() += 1;
        }
    }
    out
}

fn check(name: &str, a: &BTreeMap<Key, u64>, b: &BTreeMap<Key, u64>, how: &str) -> Check {
    let keys: BTreeSet<&Key> = a.keys().chain(b.keys()).collect();
    let differences: BTreeMap<String, [u64; 2]> = keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (
                a.get(k).copied().unwrap_or(0),
                b.get(k).copied().unwrap_or(0),
            );
            (x != y).then(|| (format!("{}/{}", k.0, k.1), [x, y]))
        })
        .collect();
    Check {
        check: name.into(),
        ok: differences.is_empty(),
        how: how.into(),
        differences,
    }
}

/// Each headline count computed a second way, from another shipped query.
fn reconcile(inputs: &Inputs, missing: &[&Patch]) -> Vec<Check> {
    let node_key = |n: &Node| key(&n.account_id, &n.region);
    let nodes = &inputs.nodes;
    let mut critical: BTreeMap<Key, u64> = BTreeMap::new();
    for s in &inputs.levels {
        if s.compliance_level.as_deref() == Some("CRITICAL") {
            *critical.entry(key(&s.account_id, &s.region)).or_default() +=
                s.noncompliant_nodes.max(0) as u64;
        }
    }
    let mut missing_nodes: BTreeMap<Key, BTreeSet<&str>> = BTreeMap::new();
    for p in missing {
        missing_nodes
            .entry(key(&p.account_id, &p.region))
            .or_default()
            .insert(p.node_id.as_str());
    }
    let missing_nodes: BTreeMap<Key, u64> = missing_nodes
        .into_iter()
        .map(|(k, v)| (k, v.len() as u64))
        .collect();
    let mut checks = vec![
        check(
            "compliant nodes",
            &per_group(nodes, node_key, |n| n.status() == "COMPLIANT"),
            &per_group(
                &inputs.compliant,
                |c| key(&c.account_id, &c.region),
                |_| true,
            ),
            "nodes dataset vs named query compliant_nodes",
        ),
        check(
            "non-compliant nodes",
            &per_group(nodes, node_key, |n| n.status() == "NON_COMPLIANT"),
            // noncompliant_nodes also lists compliant Windows nodes with unapproved security updates.
            &per_group(
                &inputs.noncompliant,
                |c| key(&c.account_id, &c.region),
                |c| c.noncompliant_patches.unwrap_or(0) > 0,
            ),
            "nodes dataset (compliance summary) vs named query noncompliant_nodes (compliance items)",
        ),
        check(
            "nodes with missing patches",
            &per_group(nodes, node_key, |n| n.status() == "NON_COMPLIANT"),
            &missing_nodes,
            "nodes dataset vs distinct nodes of the patches dataset's non-compliant rows",
        ),
        check(
            "nodes missing CRITICAL-level patches",
            &per_group(nodes, node_key, Node::missing_critical_level),
            &critical,
            "nodes dataset vs named query compliance_summary (compliance level CRITICAL)",
        ),
        check(
            "nodes missing security patches",
            &per_group(nodes, node_key, Node::missing_security),
            &per_group(
                &inputs.patch_summary,
                |c| key(&c.account_id, &c.region),
                |c| c.security_noncompliant.unwrap_or(0) > 0,
            ),
            "nodes dataset vs named query patch_summary (SecurityNonCompliantCount)",
        ),
    ];
    if !inputs.config.is_empty() || !inputs.unmanaged.is_empty() {
        checks.push(check(
            "unmanaged EC2 instances",
            &per_group(
                &inputs.unmanaged,
                |u| key(&u.account_id, &u.region),
                |_| true,
            ),
            &per_group(
                &inputs.config,
                |c| key(&c.account_id, &c.region),
                |c| {
                    c.node_type.as_deref() == Some("EC2")
                        && c.managed_by_ssm.as_deref() == Some("NO")
                },
            ),
            "named query ec2_not_managed vs config-compliance dataset (managed_by_ssm NO)",
        ));
    }
    checks
}

#[cfg(test)]
mod tests;
