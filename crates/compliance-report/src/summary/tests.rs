use super::*;

fn node(account: &str, id: &str, status: &str, security: i64, critical: i64, seen: &str) -> Node {
    serde_json::from_value(serde_json::json!({
        "account_id": account, "region": "us-east-1", "node_id": id, "patch_status": status,
        "security_noncompliant_count": security.to_string(),
        "noncompliant_level_critical": critical.to_string(),
        "noncompliant_level": if critical > 0 { "CRITICAL" } else { "UNSPECIFIED" },
        "last_seen": seen,
    }))
    .expect("a node row")
}

fn patch(account: &str, node: &str, id: &str, level: &str) -> Patch {
    serde_json::from_value(serde_json::json!({
        "account_id": account, "region": "us-east-1", "node_id": node, "patch_id": id,
        "compliance_level": level, "status": "NON_COMPLIANT", "patch_state": "Missing",
    }))
    .expect("a patch row")
}

fn options() -> Options {
    Options {
        as_of: time::macros::datetime!(2026-11-21 12:00 UTC),
        generated: time::macros::datetime!(2026-11-21 12:05 UTC),
        stale_days: 7.0,
        config_enabled: false,
    }
}

#[test]
fn counts_lists_top_patches_and_reconciliation() {
    let inputs = Inputs {
        nodes: vec![
            node(
                "111111111111",
                "i-1",
                "COMPLIANT",
                0,
                0,
                "2026-11-21 10:00:00.000",
            ),
            node(
                "111111111111",
                "i-2",
                "NON_COMPLIANT",
                2,
                1,
                "2026-11-01 10:00:00.000",
            ),
            node(
                "222222222222",
                "mi-3",
                "NON_COMPLIANT",
                0,
                0,
                "2026-11-21 10:00:00.000",
            ),
            node(
                "222222222222",
                "i-4",
                "NOT_SCANNED",
                0,
                0,
                "2026-11-21 10:00:00.000",
            ),
        ],
        patches: vec![
            patch("111111111111", "i-2", "KB1", "CRITICAL"),
            patch("111111111111", "i-2", "KB2", "UNSPECIFIED"),
            patch("222222222222", "mi-3", "KB2", "LOW"),
        ],
        levels: serde_json::from_value(serde_json::json!([
            {"account_id": "111111111111", "region": "us-east-1", "compliance_level": "CRITICAL",
             "noncompliant_nodes": "1"}]))
        .expect("levels"),
        compliant: serde_json::from_value(serde_json::json!([
            {"account_id": "111111111111", "region": "us-east-1"}]))
        .expect("compliant"),
        ..Inputs::default()
    };
    let s = build(&inputs, options(), vec!["q.sql".into()]);
    assert_eq!(s.accounts, ["111111111111", "222222222222"]);
    assert_eq!(
        s.totals,
        Counts {
            live_nodes: 4,
            compliant: 1,
            non_compliant: 2,
            not_scanned: 1,
            unknown: 0,
            missing_security: 1,
            missing_critical_level: 1,
            unmanaged_ec2: 0,
            stale: 1,
        }
    );
    assert_eq!(s.compliance_rate, Some(25.0));
    assert_eq!(s.noncompliant_unspecified_only, 1);
    assert_eq!(s.node_lists.stale, ["i-2"]);
    assert_eq!(s.node_lists.not_scanned, ["i-4"]);
    // KB2 is missing on two nodes, at LOW on one: the most severe level shows.
    assert_eq!(
        s.top_missing_patches
            .iter()
            .map(|p| (p.patch_id.as_str(), p.nodes, p.compliance_level.as_str()))
            .collect::<Vec<_>>(),
        [("KB2", 2, "LOW"), ("KB1", 1, "CRITICAL")]
    );
    assert_eq!((s.missing_patch_rows, s.distinct_missing_patches), (3, 2));
    // noncompliant_nodes and patch_summary were left empty: those two checks must disagree.
    let failed: Vec<&str> = s
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.check.as_str())
        .collect();
    assert_eq!(
        failed,
        ["non-compliant nodes", "nodes missing security patches"]
    );
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["by_account_region"][0]["live_nodes"], 2);
    assert_eq!(json["as_of"], "2026-11-21T12:00:00Z");
}

#[test]
fn a_node_never_seen_is_stale() {
    let mut n = node("1", "i", "COMPLIANT", 0, 0, "2026-11-21 10:00:00");
    n.last_seen = None;
    assert!(is_stale(&n, options().as_of, 7.0));
}

fn config_row(account: &str, region: &str, node: &str, patch: &str, unreadable: i64) -> ConfigItem {
    serde_json::from_value(serde_json::json!({
        "account_id": account, "region": region, "node_id": node, "node_type": "EC2",
        "instance_state": "running", "managed_by_ssm": "YES", "patch_compliance": patch,
        "patch_compliance_reason": if patch == "NOT_EVALUATED" { Some("NO_RESULT") } else { None },
        "unreadable_items": unreadable.to_string(),
    }))
    .expect("a config-compliance row")
}

fn page_of(s: &Summary) -> String {
    crate::html::render(
        s,
        crate::html::Rows {
            nodes: &[],
            unmanaged: &[],
            aged: &[],
            scanned: 0,
        },
    )
    .expect("renders")
}

/// The paragraph `data-note="<name>"` of the page's section `<id>`, if there is one.
fn note_in_section(page: &str, id: &str, name: &str) -> Option<String> {
    let start = page.find(&format!("<section id=\"{id}\">"))?;
    let section = &page[start..start + page[start..].find("</section>")?];
    let note = section.split(&format!("data-note=\"{name}\"")).nth(1)?;
    Some(note.split("</p>").next()?.to_owned())
}

#[test]
fn unreadable_config_items_are_named_with_their_count() {
    let config_on = Options {
        config_enabled: true,
        ..options()
    };
    let inputs = Inputs {
        config: vec![
            config_row("111111111111", "eu-west-1", "i-1", "NOT_EVALUATED", 3),
            config_row("111111111111", "eu-west-1", "i-2", "COMPLIANT", 3),
            config_row("111111111111", "us-east-1", "i-3", "NON_COMPLIANT", 1),
            config_row("222222222222", "eu-west-1", "i-4", "COMPLIANT", 0),
            // A row of a dataset without the column counts nothing.
            serde_json::from_value(serde_json::json!({
                "account_id": "333333333333", "region": "eu-west-1", "node_id": "i-5",
            }))
            .expect("a row without unreadable_items"),
        ],
        ..Inputs::default()
    };
    let mut s = build(&inputs, config_on, vec![]);
    // The Config view: the account's and Region's count (on each of its rows), once.
    let per_group: Vec<(&str, &str, u64)> = s
        .config
        .by_account_region
        .iter()
        .map(|g| {
            (
                g.account_id.as_str(),
                g.region.as_str(),
                g.counts.unreadable_items,
            )
        })
        .collect();
    assert_eq!(
        per_group,
        [
            ("111111111111", "eu-west-1", 3),
            ("111111111111", "us-east-1", 1),
            ("222222222222", "eu-west-1", 0),
            ("333333333333", "eu-west-1", 0),
        ]
    );
    assert_eq!(s.config.totals.unreadable_items, 4);
    // The data health: each account and Region with unreadable items, named with the count.
    s.pipeline = pipeline(&[], &s, config_on.as_of, 2.0);
    let named = |account: &str, region: &str, items: u64| UnreadableConfig {
        account_id: account.into(),
        region: region.into(),
        items,
    };
    assert_eq!(
        s.pipeline.unreadable_config,
        [
            named("111111111111", "eu-west-1", 3),
            named("111111111111", "us-east-1", 1)
        ]
    );
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(
        json["pipeline"]["unreadable_config"],
        serde_json::json!([
            {"account_id": "111111111111", "region": "eu-west-1", "items": 3},
            {"account_id": "111111111111", "region": "us-east-1", "items": 1},
        ])
    );
    assert_eq!(json["config"]["totals"]["unreadable_items"], 4);
    let note = note_in_section(&page_of(&s), "pipeline", "unreadable-config")
        .expect("the note in \"Is the data arriving?\"");
    assert!(
        note.contains("111111111111/eu-west-1: 3 items; 111111111111/us-east-1: 1 item."),
        "{note}"
    );
    assert!(!note.contains("222222222222") && !note.contains("333333333333"));

    // All readable: nothing named, no note.
    let clean = Inputs {
        config: vec![config_row(
            "222222222222",
            "eu-west-1",
            "i-4",
            "COMPLIANT",
            0,
        )],
        ..Inputs::default()
    };
    let mut s = build(&clean, config_on, vec![]);
    s.pipeline = pipeline(&[], &s, config_on.as_of, 2.0);
    assert!(s.pipeline.unreadable_config.is_empty());
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["pipeline"]["unreadable_config"], serde_json::json!([]));
    assert_eq!(
        note_in_section(&page_of(&s), "pipeline", "unreadable-config"),
        None
    );
}
