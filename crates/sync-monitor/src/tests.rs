//! Unit tests: keys to sources, staleness, the metric document, and the listing with
//! `aws-smithy-mocks`. Against the emulator: the workspace's `tests/it/sync_monitor.rs`.

use super::*;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::types::{CommonPrefix, Object};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;

const NOW: i64 = 1_764_720_000; // 2025-12-03T00:00:00Z

fn settings() -> Settings {
    Settings::from_lookup(|k| (k == "BUCKET_NAME").then(|| "patch-sync-1".to_owned()))
        .expect("settings")
}

#[test]
fn settings_defaults_and_checks() {
    let s = settings();
    assert_eq!(
        (s.prefix.as_str(), s.stale_after_days, s.namespace.as_str()),
        ("inventory", 3.0, "PatchCompliance")
    );
    let bad = Settings::from_lookup(|k| match k {
        "BUCKET_NAME" => Some("b".to_owned()),
        "STALE_AFTER_DAYS" => Some("-1".to_owned()),
        _ => None,
    });
    assert!(
        bad.expect_err("refused")
            .to_string()
            .contains("STALE_AFTER_DAYS")
    );
    assert!(
        Settings::from_lookup(|_| None).is_err(),
        "BUCKET_NAME is required"
    );
}

#[test]
fn keys_give_their_account_and_region() {
    let key = "inventory/AWS:ComplianceSummary/accountid=111122223333/region=eu-west-1/resourcetype=ManagedInstanceInventory/i-0a.json";
    assert_eq!(source_of(key), Some(("111122223333", "eu-west-1")));
    // The sync's write check has no Region: it says the sync exists, not that it delivers.
    assert_eq!(
        source_of("inventory/AWS:InstanceInformation/accountid=111122223333/test.json"),
        None
    );
    assert_eq!(source_of("inventory/other/object.json"), None);
}

#[test]
fn stale_sources_are_those_older_than_the_threshold_oldest_first() {
    let mut sources = BTreeMap::new();
    let key = |a: &str, r: &str| {
        format!("inventory/AWS:Tag/accountid={a}/region={r}/resourcetype=EC2Instance/i.json")
    };
    record(&mut sources, &key("111111111111", "us-east-1"), NOW - 3600);
    record(
        &mut sources,
        &key("111111111111", "us-east-1"),
        NOW - 10 * 86_400,
    );
    record(
        &mut sources,
        &key("222222222222", "eu-west-1"),
        NOW - 4 * 86_400,
    );
    record(
        &mut sources,
        &key("333333333333", "eu-west-1"),
        NOW - 9 * 86_400,
    );
    let r = report(&sources, NOW, 3.0, 1);
    assert_eq!((r.sources, r.objects), (3, 4));
    let stale: Vec<_> = r
        .stale
        .iter()
        .map(|s| (s.account.as_str(), s.days_since_last_object))
        .collect();
    assert_eq!(
        stale,
        [("333333333333", 9.0), ("222222222222", 4.0)],
        "the newest object counts"
    );
    assert_eq!(r.oldest_age_seconds, 9 * 86_400);
}

#[test]
fn the_metric_document_follows_the_embedded_metric_format() {
    let r = report(&BTreeMap::new(), NOW, 3.0, 0);
    let doc = emf(&r, &settings(), NOW * 1000);
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(doc["_aws"]["Timestamp"], NOW * 1000);
    assert_eq!(directive["Namespace"], "PatchCompliance");
    assert_eq!(directive["Dimensions"], json!([["Bucket"]]));
    // Every dimension and metric named in the directive is a top-level member.
    assert_eq!(doc["Bucket"], "patch-sync-1");
    for metric in directive["Metrics"].as_array().expect("metrics") {
        let name = metric["Name"].as_str().expect("name");
        assert!(doc[name].is_number(), "{name}");
    }
    assert_eq!(doc["StaleSyncSources"], 0);
}

fn object(key: &str, modified: i64) -> Object {
    Object::builder()
        .key(key)
        .last_modified(DateTime::from_secs(modified))
        .build()
}

#[tokio::test]
async fn every_type_folder_is_listed_to_the_end_and_merged() {
    let folders = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.delimiter() == Some("/"))
        .then_output(|| {
            ListObjectsV2Output::builder()
                .common_prefixes(CommonPrefix::builder().prefix("inventory/AWS:Tag/").build())
                .common_prefixes(
                    CommonPrefix::builder()
                        .prefix("inventory/AWS:ComplianceSummary/")
                        .build(),
                )
                .build()
        });
    let tags = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.prefix() == Some("inventory/AWS:Tag/") && r.delimiter().is_none())
        .sequence()
        .output(|| {
            ListObjectsV2Output::builder()
                .contents(object("inventory/AWS:Tag/accountid=111111111111/region=us-east-1/resourcetype=EC2Instance/i-1.json", NOW - 5 * 86_400))
                .is_truncated(true)
                .next_continuation_token("page-2")
                .build()
        })
        .output(|| {
            ListObjectsV2Output::builder()
                .contents(object("inventory/AWS:Tag/accountid=222222222222/region=us-east-1/resourcetype=EC2Instance/i-2.json", NOW - 5 * 86_400))
                .is_truncated(false)
                .build()
        })
        .build();
    let summaries = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.prefix() == Some("inventory/AWS:ComplianceSummary/"))
        .then_output(|| {
            ListObjectsV2Output::builder()
                .contents(object("inventory/AWS:ComplianceSummary/accountid=111111111111/region=us-east-1/resourcetype=EC2Instance/i-1.json", NOW - 3600))
                .build()
        });
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&folders, &tags, &summaries]
    );
    let r = Monitor::new(s3, settings()).run(NOW).await.expect("report");
    assert_eq!(tags.num_calls(), 2, "both pages");
    assert_eq!((r.type_folders, r.sources, r.objects), (2, 2, 3));
    // Account 1's tags are old, but its compliance summary is new: only account 2 is stale.
    let stale: Vec<_> = r.stale.iter().map(|s| s.account.as_str()).collect();
    assert_eq!(stale, ["222222222222"]);
}
