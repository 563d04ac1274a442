//! `config-partitioner` against the emulator's Glue catalog: partitions created once under duplicate
//! and reordered delivery, errors surfacing as invocation errors.

use std::time::Duration;

use config_partitioner::{Partitioner, PartitionerError, Settings, handle};
use integration_tests::{Emulator, Fault, fixtures, isolated};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::{all_partitions, context, create_table, json_descriptor};

const BUCKET: &str = "org-config-bucket";

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    database: String,
    glue: aws_sdk_glue::Client,
}

async fn setup(with_tables: bool) -> Setup {
    let (emulator, region) = isolated();
    let glue = aws_sdk_glue::Client::new(&emulator.sdk_config(region, 2).await);
    let database = format!("config_{}", region.replace('-', "_"));
    if with_tables {
        let columns = ["fileversion", "configsnapshotid", "configurationitems"];
        create_table(
            &glue,
            &database,
            "config_snapshots",
            json_descriptor(&format!("s3://{BUCKET}/"), &columns),
            &["accountid", "region", "dt"],
        )
        .await;
        // The history table orders its keys differently: the table decides the order.
        create_table(
            &glue,
            &database,
            "config_history",
            json_descriptor(&format!("s3://{BUCKET}/"), &columns),
            &["dt", "accountid", "region"],
        )
        .await;
    }
    emulator.reset_calls(region).await.expect("reset");
    Setup {
        emulator,
        region,
        database,
        glue,
    }
}

impl Setup {
    fn partitioner(&self, history: bool) -> Partitioner {
        let settings = Settings::from_lookup(|k| match k {
            "DATABASE_NAME" => Some(self.database.clone()),
            "SNAPSHOT_TABLE" => Some("config_snapshots".to_owned()),
            "HISTORY_TABLE" if history => Some("config_history".to_owned()),
            _ => None,
        })
        .expect("settings");
        Partitioner::new(self.glue.clone(), settings)
    }

    async fn deliver(
        &self,
        partitioner: &Partitioner,
        keys: &[String],
    ) -> Result<Value, PartitionerError> {
        let records: Vec<Value> = keys
            .iter()
            .map(|key| {
                let mut record = fixtures::s3_record("ObjectCreated:Put", BUCKET, key);
                record["awsRegion"] = json!(self.region);
                record
            })
            .collect();
        handle(
            partitioner,
            LambdaEvent::new(
                fixtures::s3_notification(records),
                context(Duration::from_secs(60)),
            ),
        )
        .await
        .map(|report| serde_json::to_value(report).expect("the report serializes"))
    }

    async fn partitions(&self, table: &str) -> Vec<(Vec<String>, String)> {
        let mut out: Vec<(Vec<String>, String)> = all_partitions(&self.glue, &self.database, table)
            .await
            .iter()
            .map(|p| {
                (
                    p.values().to_vec(),
                    p.storage_descriptor()
                        .and_then(|sd| sd.location())
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }
}

/// An S3 notification key (URL-encoded, as S3 sends it) of a Config delivery.
fn key(account: &str, region: &str, day: u32, history: bool) -> String {
    let kind = if history {
        "ConfigHistory"
    } else {
        "ConfigSnapshot"
    };
    let file = if history {
        format!(
            "{account}_Config_{region}_ConfigHistory_AWS%3A%3ASSM%3A%3APatchCompliance_20261{day}T000000Z_20261{day}T060000Z_1.json.gz"
        )
    } else {
        format!("{account}_Config_{region}_ConfigSnapshot_202611{day:02}T103717Z_{day}.json.gz")
    };
    format!("o-a1b2c3d4e5/AWSLogs/{account}/Config/{region}/2026/11/{day}/{kind}/{file}")
}

#[tokio::test]
async fn every_record_becomes_its_partition_once_whatever_the_delivery_order() {
    let s = setup(true).await;
    let partitioner = s.partitioner(true);
    let mut keys = Vec::new();
    for account in ["111111111111", "222222222222"] {
        for region in ["us-east-1", "eu-west-1"] {
            for day in [1, 2, 3] {
                keys.push(key(account, region, day, false));
                keys.push(key(account, region, day, false));
                keys.push(key(account, region, day, true));
            }
        }
    }
    keys.push("o-a1b2c3d4e5/AWSLogs/111111111111/Config/ConfigWritabilityCheckFile".to_owned());
    keys.push("unrelated/readme.txt".to_owned());

    // Deliver the second half first, then the whole event again (at-least-once, out of order).
    let (first, second) = keys.split_at(keys.len() / 2);
    s.deliver(&partitioner, second).await.expect("second half");
    let report = s.deliver(&partitioner, first).await.expect("first half");
    assert_eq!(report["records"], first.len());
    let report = s
        .deliver(&partitioner, &keys)
        .await
        .expect("duplicate delivery");
    assert_eq!(
        report["partitions"], 24,
        "12 snapshot + 12 history partitions"
    );
    assert_eq!(report["created"], 0, "everything existed already");
    assert_eq!(report["alreadyExisted"], 24);
    assert_eq!(report["skipped"], 2);

    let snapshots = s.partitions("config_snapshots").await;
    assert_eq!(snapshots.len(), 12);
    assert_eq!(
        snapshots[0],
        (
            vec![
                "111111111111".to_owned(),
                "eu-west-1".to_owned(),
                "2026-11-01".to_owned()
            ],
            format!(
                "s3://{BUCKET}/o-a1b2c3d4e5/AWSLogs/111111111111/Config/eu-west-1/2026/11/1/ConfigSnapshot/"
            )
        )
    );
    let history = s.partitions("config_history").await;
    assert_eq!(history.len(), 12);
    assert_eq!(
        history[0].0,
        ["2026-11-01", "111111111111", "eu-west-1"],
        "the table's key order"
    );
    assert!(history[0].1.ends_with("/ConfigHistory/"));

    let calls = s.emulator.calls(s.region).await.expect("calls");
    assert_eq!(
        calls.get("glue:GetTable"),
        Some(&2),
        "one per table, cached across invocations: {calls:?}"
    );
    assert_eq!(
        calls.get("glue:BatchCreatePartition"),
        Some(&6),
        "two tables × three events: {calls:?}"
    );
}

#[tokio::test]
async fn history_is_ignored_without_a_history_table() {
    let s = setup(true).await;
    let report = s
        .deliver(
            &s.partitioner(false),
            &[key("333333333333", "ap-south-1", 9, true)],
        )
        .await
        .expect("ignored");
    assert_eq!(report["skipped"], 1);
    assert!(s.emulator.calls(s.region).await.expect("calls").is_empty());
    assert!(s.partitions("config_history").await.is_empty());
}

#[tokio::test]
async fn errors_surface_as_invocation_errors() {
    // No table: GetTable fails, the event goes back to Lambda for a retry.
    let s = setup(false).await;
    let err = s
        .deliver(
            &s.partitioner(false),
            &[key("444444444444", "us-west-2", 5, false)],
        )
        .await
        .expect_err("no table");
    assert!(err.to_string().contains("glue:GetTable on"), "{err}");
    assert!(err.to_string().contains("EntityNotFoundException"), "{err}");

    // A per-entry failure other than AlreadyExists names the partition; the others are created.
    let s = setup(true).await;
    let partitioner = s.partitioner(false);
    s.emulator
        .glue_entry_fault(
            "BatchCreatePartition",
            &s.database,
            &["555555555555", "us-west-2", "2026-11-06"],
            "InternalServiceException",
            "try again",
        )
        .await
        .expect("entry fault");
    let keys = [
        key("555555555555", "us-west-2", 5, false),
        key("555555555555", "us-west-2", 6, false),
    ];
    let err = s
        .deliver(&partitioner, &keys)
        .await
        .expect_err("entry error");
    let text = err.to_string();
    assert!(
        text.contains(
            "[\"555555555555\", \"us-west-2\", \"2026-11-06\"]: InternalServiceException: try again"
        ),
        "{text}"
    );
    assert_eq!(s.partitions("config_snapshots").await.len(), 1);
    // Lambda's retry converges.
    s.deliver(&partitioner, &keys).await.expect("retry");
    assert_eq!(s.partitions("config_snapshots").await.len(), 2);

    // A whole-call AWS error.
    s.emulator
        .inject(Fault::new(
            "glue",
            "BatchCreatePartition",
            s.region,
            400,
            "AccessDeniedException",
            "not authorized",
        ))
        .await
        .expect("fault");
    let err = s
        .deliver(&partitioner, &[key("555555555555", "us-west-2", 7, false)])
        .await
        .expect_err("denied");
    assert!(
        err.to_string()
            .contains("AccessDeniedException: not authorized"),
        "{err}"
    );
}
