//! report.html: the page's view (charts laid out, tables as typed cells) rendered by minijinja
//! from `templates/report.html`, with autoescaping on (the template's name ends in `.html`), so
//! a node name or tag value holding markup shows as text.

use minijinja::Environment;
use serde::Serialize;

use crate::charts::{self, BarChart, BarSpec, Donut, LineChart};
use crate::history::MissingRow;
use crate::rows::{Node, Unmanaged};
use crate::summary::{SEVERITIES, Summary, is_stale};

/// Longest HTML table; the CSV files hold every row.
pub const TABLE_ROWS: usize = 500;
const TEMPLATE: &str = include_str!("../templates/report.html");

/// A table cell: text and how to show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    text: String,
    style: &'static str,
    colour: &'static str,
    text_colour: &'static str,
}

impl Cell {
    fn text(value: impl ToString) -> Self {
        Self {
            text: value.to_string(),
            style: "",
            colour: "",
            text_colour: "",
        }
    }
    fn id(value: impl ToString) -> Self {
        Self {
            style: "id",
            ..Self::text(value)
        }
    }
    fn styled(value: impl ToString, style: &'static str) -> Self {
        Self {
            style,
            ..Self::text(value)
        }
    }
    fn badge(severity: Option<&str>) -> Self {
        let s = severity.unwrap_or("UNSPECIFIED");
        Self {
            text: charts::label(s),
            style: "badge",
            colour: charts::colour(s),
            text_colour: if matches!(s, "HIGH" | "MEDIUM" | "UNSPECIFIED") {
                "#1F2933"
            } else {
                "#fff"
            },
        }
    }
}

fn opt(value: &Option<String>) -> Cell {
    Cell::text(value.as_deref().unwrap_or(""))
}

/// A column header; kind `n` numeric, `w` wrapping text, empty one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    title: String,
    kind: &'static str,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    headers: Vec<Header>,
    rows: Vec<Vec<Cell>>,
    total: Option<Vec<Cell>>,
    /// The number of rows when more than shown.
    more: Option<usize>,
    note: String,
    wrapper: &'static str,
}

fn table(headers: &[(&str, &'static str)], rows: Vec<Vec<Cell>>, scroll: bool) -> Table {
    let count = rows.len();
    Table {
        headers: headers
            .iter()
            .map(|(t, k)| Header {
                title: (*t).to_owned(),
                kind: k,
            })
            .collect(),
        wrapper: if scroll && count > 14 {
            "scroll"
        } else {
            "wide"
        },
        more: (count > TABLE_ROWS).then_some(count),
        rows: rows.into_iter().take(TABLE_ROWS).collect(),
        total: None,
        note: String::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Kpi {
    key: &'static str,
    label: String,
    value: u64,
    colour: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct TagTable {
    key: String,
    table: Table,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Page<'a> {
    s: &'a Summary,
    days: String,
    scanned: String,
    ring: Donut,
    kpis: Vec<Kpi>,
    compliance_chart: BarChart,
    summary_table: Table,
    flagged_count: usize,
    critical_chart: BarChart,
    flagged_table: Table,
    patch_chart: BarChart,
    patch_table: Table,
    unmanaged_chart: BarChart,
    unmanaged_table: Table,
    config_table: Table,
    stale_chart: BarChart,
    stale_table: Table,
    tag_tables: Vec<TagTable>,
    checks_table: Table,
    sla_table: Table,
    sla_groups_table: Table,
    trend_chart: LineChart,
    trend_table: Table,
    pipeline_table: Table,
    owners_table: Table,
    accounts_table: Table,
}

/// A template error (a bug: the template is compiled in and tested).
#[derive(Debug, thiserror::Error)]
#[error("rendering report.html: {0}")]
pub struct RenderError(#[from] minijinja::Error);

fn short(t: Option<time::OffsetDateTime>) -> String {
    t.map(|t| {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    })
    .unwrap_or_default()
}

fn fmt_days(days: f64) -> String {
    if days.fract() == 0.0 {
        format!("{}", days as i64)
    } else {
        format!("{days}")
    }
}

/// Bytes as a person reads them (`1.2 MB`).
pub fn human_bytes(bytes: i64) -> String {
    let units = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// The rows the page lists beyond the summary's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Live nodes.
    pub nodes: &'a [Node],
    /// Unmanaged EC2 instances.
    pub unmanaged: &'a [Unmanaged],
    /// Today's missing patches with their ages.
    pub aged: &'a [MissingRow],
    /// Bytes Athena scanned for this report.
    pub scanned: i64,
}

/// Renders report.html.
pub fn render(summary: &Summary, rows: Rows<'_>) -> Result<String, RenderError> {
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let page = page(summary, rows);
    Ok(env.get_template("report.html")?.render(&page)?)
}

fn page<'a>(s: &'a Summary, rows: Rows<'_>) -> Page<'a> {
    let totals = &s.totals;
    let days = fmt_days(s.stale_days);
    let mut statuses = vec!["compliant", "non_compliant", "not_scanned"];
    if totals.unknown > 0 {
        statuses.push("unknown");
    }
    let status_key = |series: &str| match series {
        "compliant" => "COMPLIANT",
        "non_compliant" => "NON_COMPLIANT",
        "not_scanned" => "NOT_SCANNED",
        _ => "UNKNOWN",
    };
    let groups: Vec<(String, String, String)> = s
        .by_account_region
        .iter()
        .map(|g| {
            let k = format!("{}/{}", g.account_id, g.region);
            (k.clone(), k.clone(), k)
        })
        .collect();
    let per_group = |f: &dyn Fn(&crate::summary::Counts) -> Vec<u64>| -> Vec<Vec<u64>> {
        s.by_account_region.iter().map(|g| f(&g.counts)).collect()
    };
    let ring = charts::donut(
        "overall-compliance",
        &statuses
            .iter()
            .map(|x| (*x, totals.status(status_key(x))))
            .collect::<Vec<_>>(),
        s.compliance_rate.map_or("-".into(), |r| format!("{r}%")),
        "Live managed nodes by patch compliance status",
    );
    let kpis = vec![
        Kpi {
            key: "live_nodes",
            label: "Live managed nodes".into(),
            value: totals.live_nodes,
            colour: "#3E4C59",
        },
        Kpi {
            key: "compliant",
            label: "Compliant".into(),
            value: totals.compliant,
            colour: charts::colour("compliant"),
        },
        Kpi {
            key: "non_compliant",
            label: "Non-compliant".into(),
            value: totals.non_compliant,
            colour: charts::colour("non_compliant"),
        },
        Kpi {
            key: "not_scanned",
            label: "Not scanned".into(),
            value: totals.not_scanned,
            colour: charts::colour("not_scanned"),
        },
        Kpi {
            key: "missing_security",
            label: "Missing security patches".into(),
            value: totals.missing_security,
            colour: charts::colour("security"),
        },
        Kpi {
            key: "missing_critical_level",
            label: "Missing CRITICAL-level patches".into(),
            value: totals.missing_critical_level,
            colour: charts::colour("critical_level"),
        },
        Kpi {
            key: "unmanaged_ec2",
            label: "Unmanaged EC2 instances".into(),
            value: totals.unmanaged_ec2,
            colour: charts::colour("unmanaged"),
        },
        Kpi {
            key: "stale",
            label: format!("Stale (> {days} days)"),
            value: totals.stale,
            colour: charts::colour("stale"),
        },
        Kpi {
            key: "past_sla",
            label: "Missing patches past SLA".into(),
            value: s.sla.past_sla,
            colour: charts::colour("non_compliant"),
        },
        Kpi {
            key: "nodes_past_sla",
            label: "Nodes past SLA".into(),
            value: s.sla.nodes_past_sla,
            colour: charts::colour("non_compliant"),
        },
    ];
    let compliance_chart = BarSpec {
        name: "compliance-by-account-region",
        title: "Live managed nodes by compliance status, per account and Region".into(),
        categories: groups.clone(),
        series: statuses.iter().map(|x| (*x).to_owned()).collect(),
        values: per_group(&|c| statuses.iter().map(|x| c.status(status_key(x))).collect()),
        stacked: true,
        category_colours: None,
        legend: None,
    }
    .layout();
    let critical_chart = BarSpec {
        name: "missing-security-critical-level",
        title: "Nodes missing security or CRITICAL-level patches, per account and Region".into(),
        categories: groups.clone(),
        series: vec!["security".into(), "critical_level".into()],
        values: per_group(&|c| vec![c.missing_security, c.missing_critical_level]),
        stacked: false,
        category_colours: None,
        legend: None,
    }
    .layout();
    let top = &s.top_missing_patches;
    let patch_chart = BarSpec {
        name: "top-missing-patches",
        title: format!("The {} patches missing on the most nodes", top.len()),
        categories: top
            .iter()
            .map(|p| {
                let tip = format!("{}: {}", p.patch_id, p.title.as_deref().unwrap_or(""));
                (p.patch_id.clone(), p.patch_id.clone(), tip)
            })
            .collect(),
        series: vec!["nodes".into()],
        values: top.iter().map(|p| vec![p.nodes]).collect(),
        stacked: false,
        category_colours: Some(
            top.iter()
                .map(|p| charts::colour(&p.compliance_level))
                .collect(),
        ),
        legend: Some(
            SEVERITIES
                .iter()
                .filter(|l| top.iter().any(|p| p.compliance_level == **l))
                .map(|l| (*l).to_owned())
                .collect(),
        ),
    }
    .layout();
    let single = |name: &'static str,
                  title: String,
                  series: &str,
                  f: &dyn Fn(&crate::summary::Counts) -> u64| {
        BarSpec {
            name,
            title,
            categories: groups.clone(),
            series: vec![series.to_owned()],
            values: per_group(&|c| vec![f(c)]),
            stacked: false,
            category_colours: None,
            legend: Some(Vec::new()),
        }
        .layout()
    };
    let unmanaged_chart = single(
        "unmanaged-ec2",
        "EC2 instances not managed by Systems Manager, per account and Region".into(),
        "unmanaged",
        &|c| c.unmanaged_ec2,
    );
    let stale_chart = single(
        "stale-nodes",
        format!("Live nodes last seen more than {days} days ago, per account and Region"),
        "stale",
        &|c| c.stale,
    );

    let with_unknown = totals.unknown > 0;
    let mut headers: Vec<(&str, &'static str)> = vec![
        ("Account", ""),
        ("Region", ""),
        ("Live", "n"),
        ("Compliant", "n"),
        ("Non-compliant", "n"),
        ("Not scanned", "n"),
    ];
    if with_unknown {
        headers.push(("Unknown", "n"));
    }
    let stale_header = format!("Stale (>{days} d)");
    headers.extend([
        ("Missing security", "n"),
        ("Missing CRITICAL level", "n"),
        ("Unmanaged EC2", "n"),
        (stale_header.as_str(), "n"),
    ]);
    let numbers = |c: &crate::summary::Counts| {
        let mut v = vec![c.live_nodes, c.compliant, c.non_compliant, c.not_scanned];
        if with_unknown {
            v.push(c.unknown);
        }
        v.extend([
            c.missing_security,
            c.missing_critical_level,
            c.unmanaged_ec2,
            c.stale,
        ]);
        v.into_iter().map(Cell::text)
    };
    let mut summary_table = table(
        &headers,
        s.by_account_region
            .iter()
            .map(|g| {
                [Cell::text(&g.account_id), Cell::text(&g.region)]
                    .into_iter()
                    .chain(numbers(&g.counts))
                    .collect()
            })
            .collect(),
        false,
    );
    summary_table.total = Some(
        [Cell::text("Total"), Cell::text("")]
            .into_iter()
            .chain(numbers(totals))
            .collect(),
    );

    let mut flagged: Vec<&Node> = rows
        .nodes
        .iter()
        .filter(|n| n.missing_security() || n.missing_critical_level())
        .collect();
    flagged.sort_by(|a, b| {
        (
            b.security_noncompliant_count.unwrap_or(0),
            b.noncompliant_level_critical.unwrap_or(0),
        )
            .cmp(&(
                a.security_noncompliant_count.unwrap_or(0),
                a.noncompliant_level_critical.unwrap_or(0),
            ))
            .then_with(|| {
                (&a.account_id, &a.region, &a.node_id).cmp(&(&b.account_id, &b.region, &b.node_id))
            })
    });
    let mut flagged_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Node", ""),
            ("Name", "w"),
            ("Platform", "w"),
            ("Status", ""),
            ("Security", "n"),
            ("CRITICAL level", "n"),
            ("Non-compliant", "n"),
            ("Last scan (UTC)", ""),
        ],
        flagged
            .iter()
            .map(|n| {
                vec![
                    Cell::text(&n.account_id),
                    Cell::text(&n.region),
                    Cell::id(&n.node_id),
                    opt(&n.computer_name),
                    opt(&n.platform_name),
                    opt(&n.instance_status),
                    Cell::text(n.security_noncompliant_count.unwrap_or(0)),
                    Cell::text(n.noncompliant_level_critical.unwrap_or(0)),
                    Cell::text(n.noncompliant_total()),
                    Cell::text(short(n.last_operation_end)),
                ]
            })
            .collect(),
        true,
    );
    flagged_table.note = "nodes.csv lists every node.".into();

    let patch_table = table(
        &[
            ("Patch", ""),
            ("Title", "w"),
            ("Compliance level", ""),
            ("Vendor severity", ""),
            ("Classification", ""),
            ("Nodes", "n"),
            ("Accounts/Regions", "n"),
            ("States", "w"),
        ],
        top.iter()
            .map(|p| {
                vec![
                    Cell::id(&p.patch_id),
                    opt(&p.title),
                    Cell::badge(Some(&p.compliance_level)),
                    opt(&p.vendor_severity),
                    opt(&p.classification),
                    Cell::text(p.nodes),
                    Cell::text(p.accounts_regions),
                    Cell::text(
                        p.states
                            .iter()
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ]
            })
            .collect(),
        false,
    );
    let mut unmanaged_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Instance", ""),
            ("Name tag", "w"),
            ("State", ""),
            ("Type", ""),
            ("Platform", "w"),
            ("Config rule result", ""),
            ("Recorded (UTC)", ""),
        ],
        rows.unmanaged
            .iter()
            .map(|u| {
                vec![
                    Cell::text(&u.account_id),
                    Cell::text(&u.region),
                    Cell::id(&u.instance_id),
                    opt(&u.name),
                    opt(&u.instance_state),
                    opt(&u.instance_type),
                    opt(&u.platform),
                    opt(&u.managed_rule_result),
                    Cell::text(short(u.config_captured)),
                ]
            })
            .collect(),
        true,
    );
    unmanaged_table.note = "run the named query ec2_not_managed for every row.".into();
    let config_numbers = |c: &crate::summary::ConfigCounts| {
        [
            c.evaluated,
            c.stopped,
            c.managed_yes,
            c.managed_no,
            c.managed_not_applicable,
            c.managed_unknown,
            c.patch_compliant,
            c.patch_non_compliant,
            c.patch_no_result,
            c.patch_not_recorded,
        ]
        .into_iter()
        .map(Cell::text)
    };
    let mut config_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Instances and nodes", "n"),
            ("Stopped", "n"),
            ("Managed: yes", "n"),
            ("no", "n"),
            ("not applicable (stopped)", "n"),
            ("unknown", "n"),
            ("Patch rule: compliant", "n"),
            ("non-compliant", "n"),
            ("no result", "n"),
            ("of which not recorded", "n"),
        ],
        s.config
            .by_account_region
            .iter()
            .map(|g| {
                [Cell::text(&g.account_id), Cell::text(&g.region)]
                    .into_iter()
                    .chain(config_numbers(&g.counts))
                    .collect()
            })
            .collect(),
        false,
    );
    config_table.total = Some(
        [Cell::text("Total"), Cell::text("")]
            .into_iter()
            .chain(config_numbers(&s.config.totals))
            .collect(),
    );

    let as_of = crate::rows::parse_time(&s.as_of).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut stale: Vec<&Node> = rows
        .nodes
        .iter()
        .filter(|n| is_stale(n, as_of, s.stale_days))
        .collect();
    stale.sort_by(|a, b| (a.last_seen, &a.node_id).cmp(&(b.last_seen, &b.node_id)));
    let mut stale_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Node", ""),
            ("Name", "w"),
            ("Status", ""),
            ("Last seen (UTC)", ""),
            ("Days ago", "n"),
            ("Compliance status", ""),
        ],
        stale
            .iter()
            .map(|n| {
                vec![
                    Cell::text(&n.account_id),
                    Cell::text(&n.region),
                    Cell::id(&n.node_id),
                    opt(&n.computer_name),
                    opt(&n.instance_status),
                    Cell::text(short(n.last_seen)),
                    Cell::text(n.last_seen.map_or("-".into(), |t| {
                        format!("{:.1}", (as_of - t).as_seconds_f64() / 86_400.0)
                    })),
                    Cell::text(n.status()),
                ]
            })
            .collect(),
        true,
    );
    stale_table.note = "nodes.csv has each node's last-seen time.".into();

    let tag_tables = s
        .by_tag
        .iter()
        .map(|t| TagTable {
            key: t.tag_key.clone(),
            table: table(
                &[
                    ("Value", "w"),
                    ("Nodes", "n"),
                    ("Compliant", "n"),
                    ("Non-compliant", "n"),
                    ("Not scanned", "n"),
                    ("Missing security", "n"),
                    ("Missing CRITICAL level", "n"),
                    ("Compliance rate", "n"),
                ],
                t.values
                    .iter()
                    .map(|v| {
                        vec![
                            Cell::text(if v.value.is_empty() {
                                "(empty)"
                            } else {
                                &v.value
                            }),
                            Cell::text(v.nodes),
                            Cell::text(v.compliant),
                            Cell::text(v.non_compliant),
                            Cell::text(v.not_scanned),
                            Cell::text(v.missing_security),
                            Cell::text(v.missing_critical_level),
                            Cell::text(if v.nodes > 0 {
                                format!("{:.0}%", 100.0 * v.compliant as f64 / v.nodes as f64)
                            } else {
                                "-".into()
                            }),
                        ]
                    })
                    .collect(),
                false,
            ),
        })
        .collect();
    let checks_table = table(
        &[
            ("Check", ""),
            ("Result", ""),
            ("How", "w"),
            ("Differences (first, second)", "w"),
        ],
        s.checks
            .iter()
            .map(|c| {
                vec![
                    Cell::text(&c.check),
                    if c.ok {
                        Cell::styled("agrees", "ok")
                    } else {
                        Cell::styled("differs", "bad")
                    },
                    Cell::text(&c.how),
                    Cell::text(if c.differences.is_empty() {
                        String::new()
                    } else {
                        serde_json::to_string(&c.differences).unwrap_or_default()
                    }),
                ]
            })
            .collect(),
        false,
    );
    let mut past: Vec<&MissingRow> = rows.aged.iter().filter(|r| r.past_sla).collect();
    past.sort_by(|a, b| {
        (b.days_missing - b.sla_days)
            .cmp(&(a.days_missing - a.sla_days))
            .then_with(|| a.key().cmp(&b.key()))
    });
    let mut sla_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Node", ""),
            ("Patch", ""),
            ("Compliance level", ""),
            ("Classification", ""),
            ("Missing since", ""),
            ("Days missing", "n"),
            ("SLA days", "n"),
        ],
        past.iter()
            .map(|r| {
                vec![
                    Cell::text(&r.account_id),
                    Cell::text(&r.region),
                    Cell::id(&r.node_id),
                    Cell::id(&r.patch_id),
                    Cell::badge(r.compliance_level.as_deref()),
                    opt(&r.classification),
                    Cell::text(&r.first_seen),
                    Cell::text(r.days_missing),
                    Cell::text(r.sla_days),
                ]
            })
            .collect(),
        true,
    );
    sla_table.note = "missing-patches.csv lists every missing patch with its age.".into();
    let sla_groups_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Missing patches past SLA", "n"),
            ("Nodes past SLA", "n"),
        ],
        s.sla
            .by_account_region
            .iter()
            .map(|g| {
                vec![
                    Cell::text(&g.account_id),
                    Cell::text(&g.region),
                    Cell::text(g.past_sla),
                    Cell::text(g.nodes_past_sla),
                ]
            })
            .collect(),
        false,
    );
    let trend_chart = charts::line_chart(
        "compliance-trend",
        &format!(
            "Live managed nodes compliant, organization, last {} days",
            s.trend.days
        ),
        &s.trend
            .organization
            .iter()
            .filter_map(|p| p.rate.map(|r| (p.date.clone(), r)))
            .collect::<Vec<_>>(),
    );
    let rate_text = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r}%"));
    let trend_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("First run in the window", ""),
            ("Compliant then", "n"),
            ("Compliant now", "n"),
        ],
        s.trend
            .by_account_region
            .iter()
            .map(|g| {
                vec![
                    Cell::text(&g.account_id),
                    Cell::text(&g.region),
                    Cell::text(&g.first_date),
                    Cell::text(rate_text(g.first_rate)),
                    Cell::text(rate_text(g.rate)),
                ]
            })
            .collect(),
        false,
    );
    let pipeline_table = table(
        &[
            ("Account", ""),
            ("Region", ""),
            ("Newest inventory (UTC)", ""),
            ("Days old", "n"),
            ("Arriving", ""),
        ],
        s.pipeline
            .groups
            .iter()
            .map(|g| {
                vec![
                    Cell::text(&g.account_id),
                    Cell::text(&g.region),
                    Cell::text(g.newest.as_deref().unwrap_or("never")),
                    Cell::text(g.days_old.map_or("-".into(), |d| format!("{d:.1}"))),
                    if g.stale {
                        Cell::styled("no", "bad")
                    } else {
                        Cell::styled("yes", "ok")
                    },
                ]
            })
            .collect(),
        false,
    );
    let owners_table = table(
        &[
            ("Owner", "w"),
            ("Accounts", "n"),
            ("Live", "n"),
            ("Compliant", "n"),
            ("Non-compliant", "n"),
            ("Not scanned", "n"),
            ("Missing security", "n"),
            ("Past SLA", "n"),
            ("Nodes past SLA", "n"),
        ],
        s.owners
            .by_owner
            .iter()
            .map(|o| {
                let c = &o.counts;
                let mut row = vec![match &o.owner {
                    Some(owner) => Cell::text(owner),
                    None => Cell::styled("no owner tag", "muted"),
                }];
                row.extend(
                    [
                        o.accounts.len() as u64,
                        c.live_nodes,
                        c.compliant,
                        c.non_compliant,
                        c.not_scanned,
                        c.missing_security,
                        o.past_sla,
                    ]
                    .map(Cell::text),
                );
                row.push(if o.nodes_past_sla > 0 {
                    Cell::styled(o.nodes_past_sla, "bad")
                } else {
                    Cell::text(0)
                });
                row
            })
            .collect(),
        false,
    );
    let accounts_table = table(
        &[
            ("Account", ""),
            ("Name", "w"),
            ("Organizational unit", "w"),
            ("Owner", "w"),
        ],
        s.owners
            .accounts
            .iter()
            .map(|a| {
                vec![
                    Cell::id(&a.account_id),
                    opt(&a.name),
                    opt(&a.ou_path),
                    opt(&a.owner),
                ]
            })
            .collect(),
        true,
    );
    Page {
        owners_table,
        accounts_table,
        sla_table,
        sla_groups_table,
        trend_chart,
        trend_table,
        pipeline_table,
        s,
        days,
        scanned: human_bytes(rows.scanned),
        ring,
        kpis,
        compliance_chart,
        summary_table,
        flagged_count: flagged.len(),
        critical_chart,
        flagged_table,
        patch_chart,
        patch_table,
        unmanaged_chart,
        unmanaged_table,
        config_table,
        stale_chart,
        stale_table,
        tag_tables,
        checks_table,
    }
}
