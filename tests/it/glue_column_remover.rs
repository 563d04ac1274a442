//! `glue-column-remover` against the emulator's Glue catalog (which enforces `VersionId` and pages
//! `GetPartitions` as AWS does).

use std::time::Duration;

use glue_column_remover::{Remover, RemoverError, Settings, handle};
use integration_tests::{Emulator, Fault, fixtures, isolated};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::{all_partitions, column_names, context, create_table, json_descriptor};

const TABLE: &str = "aws_instanceinformation";
const CRAWLER: &str = "patch-compliance-crawler";
const COLUMNS: &[&str] = &[
    "agentversion",
    "instanceid",
    "platformname",
    "resourcetype",
    "instancestatus",
];

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    database: String,
    glue: aws_sdk_glue::Client,
    remover: Remover,
}

async fn setup() -> Setup {
    let (emulator, region) = isolated();
    let glue = aws_sdk_glue::Client::new(&emulator.sdk_config(region, 2).await);
    let database = format!("inventory_{}", region.replace('-', "_"));
    let settings = Settings::from_lookup(|k| match k {
        "DATABASE_NAME" => Some(database.clone()),
        "CRAWLER_NAME" => Some(CRAWLER.to_owned()),
        _ => None,
    })
    .expect("settings");
    let remover = Remover::new(glue.clone(), settings);
    Setup {
        emulator,
        region,
        database,
        glue,
        remover,
    }
}

impl Setup {
    /// The table as the crawler leaves it, with `partitions` partitions carrying the column and
    /// `clean` partitions without it.
    async fn crawl(&self, partitions: usize, clean: usize) {
        let location = "s3://sync-bucket/AWS:InstanceInformation/";
        create_table(
            &self.glue,
            &self.database,
            TABLE,
            json_descriptor(location, COLUMNS),
            &["accountid", "region", "resourcetype"],
        )
        .await;
        let inputs: Vec<aws_sdk_glue::types::PartitionInput> = (0..partitions + clean)
            .map(|i| {
                let values = vec![
                    format!("{:012}", 100_000 + i),
                    "us-east-1".to_owned(),
                    "ManagedInstanceInventory".to_owned(),
                ];
                let columns: &[&str] = if i < partitions {
                    COLUMNS
                } else {
                    &COLUMNS[..3]
                };
                aws_sdk_glue::types::PartitionInput::builder()
                    .set_values(Some(values.clone()))
                    .storage_descriptor(json_descriptor(
                        &format!("{location}accountid={}/", values[0]),
                        columns,
                    ))
                    .build()
            })
            .collect();
        for chunk in inputs.chunks(100) {
            self.glue
                .batch_create_partition()
                .database_name(&self.database)
                .table_name(TABLE)
                .set_partition_input_list(Some(chunk.to_vec()))
                .send()
                .await
                .expect("BatchCreatePartition");
        }
        self.emulator.reset_calls(self.region).await.expect("reset");
    }

    async fn invoke(&self, crawler: &str, state: &str) -> Result<Value, RemoverError> {
        let mut event = fixtures::crawler_state(crawler, state);
        event["region"] = json!(self.region);
        handle(
            &self.remover,
            LambdaEvent::new(event, context(Duration::from_secs(60))),
        )
        .await
        .map(|report| serde_json::to_value(report).expect("the report serializes"))
    }

    async fn table(&self) -> aws_sdk_glue::types::Table {
        self.glue
            .get_table()
            .database_name(&self.database)
            .name(TABLE)
            .send()
            .await
            .expect("GetTable")
            .table
            .expect("table")
    }

    async fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.emulator.calls(self.region).await.expect("calls")
    }
}

#[tokio::test]
async fn removes_the_column_from_the_table_and_every_partition() {
    let s = setup().await;
    s.crawl(230, 20).await;
    let version_before = s.table().await.version_id().map(str::to_owned);

    let report = s.invoke(CRAWLER, "Succeeded").await.expect("fixed");
    assert_eq!(
        report,
        json!({"tableUpdated": true, "partitionsUpdated": 230})
    );

    let table = s.table().await;
    assert_eq!(
        column_names(table.storage_descriptor()),
        [
            "agentversion",
            "instanceid",
            "platformname",
            "instancestatus"
        ]
    );
    let keys: Vec<&str> = table.partition_keys().iter().map(|k| k.name()).collect();
    assert_eq!(
        keys,
        ["accountid", "region", "resourcetype"],
        "partition keys untouched"
    );
    assert_eq!(
        table
            .parameters()
            .and_then(|p| p.get("classification"))
            .map(String::as_str),
        Some("json")
    );
    assert_ne!(table.version_id().map(str::to_owned), version_before);
    let partitions = all_partitions(&s.glue, &s.database, TABLE).await;
    assert_eq!(partitions.len(), 250);
    for p in &partitions {
        assert!(
            !column_names(p.storage_descriptor()).contains(&"resourcetype".to_owned()),
            "{:?}",
            p.values()
        );
        assert!(
            p.storage_descriptor()
                .and_then(|sd| sd.location())
                .is_some_and(|l| l.contains("accountid=")),
            "location kept"
        );
    }
    let calls = s.calls().await;
    assert_eq!(calls.get("glue:UpdateTable"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("glue:BatchUpdatePartition"),
        Some(&3),
        "230 partitions, 100 a call: {calls:?}"
    );

    // A second delivery of the same event (or the next crawl with nothing re-added) changes nothing.
    s.emulator.reset_calls(s.region).await.expect("reset");
    let again = s.invoke(CRAWLER, "Succeeded").await.expect("idempotent");
    assert_eq!(
        again,
        json!({"tableUpdated": false, "partitionsUpdated": 0})
    );
    let calls = s.calls().await;
    assert!(
        !calls.contains_key("glue:UpdateTable") && !calls.contains_key("glue:BatchUpdatePartition"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn other_crawlers_and_states_are_ignored() {
    let s = setup().await;
    s.crawl(2, 0).await;
    for (crawler, state) in [
        ("someone-elses-crawler", "Succeeded"),
        (CRAWLER, "Failed"),
        (CRAWLER, "Started"),
    ] {
        let report = s.invoke(crawler, state).await.expect("ignored");
        assert!(report["ignored"].is_string(), "{report}");
    }
    assert!(
        s.calls().await.is_empty(),
        "no Glue call for an event that is not ours"
    );
    assert!(
        column_names(s.table().await.storage_descriptor()).contains(&"resourcetype".to_owned())
    );
}

#[tokio::test]
async fn a_concurrent_writer_makes_it_reread_and_retry() {
    let s = setup().await;
    s.crawl(1, 0).await;
    s.emulator
        .inject(Fault::new(
            "glue",
            "UpdateTable",
            s.region,
            400,
            "ConcurrentModificationException",
            "Update table failed due to concurrent modifications.",
        ))
        .await
        .expect("fault");
    let report = s
        .invoke(CRAWLER, "Succeeded")
        .await
        .expect("fixed after a retry");
    assert_eq!(report["tableUpdated"], true);
    let calls = s.calls().await;
    assert_eq!(calls.get("glue:UpdateTable"), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("glue:GetTable"),
        Some(&2),
        "re-read before retrying: {calls:?}"
    );
}

#[tokio::test]
async fn missing_table_is_nothing_to_do() {
    let s = setup().await;
    let report = s.invoke(CRAWLER, "Succeeded").await.expect("nothing to do");
    assert_eq!(
        report,
        json!({"tableUpdated": false, "partitionsUpdated": 0})
    );
}

#[tokio::test]
async fn aws_errors_surface_as_invocation_errors() {
    let s = setup().await;
    s.crawl(3, 0).await;
    s.emulator
        .inject(Fault::new(
            "glue",
            "GetTable",
            s.region,
            400,
            "AccessDeniedException",
            "not authorized to perform glue:GetTable",
        ))
        .await
        .expect("fault");
    let err = s.invoke(CRAWLER, "Succeeded").await.expect_err("fails");
    assert!(
        err.to_string()
            .contains("AccessDeniedException: not authorized to perform glue:GetTable"),
        "{err}"
    );

    // A partition that cannot be updated fails the invocation after the others are fixed.
    s.emulator
        .glue_entry_fault(
            "BatchUpdatePartition",
            &s.database,
            &["000000100001", "us-east-1", "ManagedInstanceInventory"],
            "InternalServiceException",
            "try again",
        )
        .await
        .expect("entry fault");
    let err = s
        .invoke(CRAWLER, "Succeeded")
        .await
        .expect_err("entry error");
    let text = err.to_string();
    assert!(
        text.contains("BatchUpdatePartition failed for 1 partition(s)"),
        "{text}"
    );
    assert!(text.contains("000000100001"), "{text}");
    // The retry Lambda makes converges.
    let report = s
        .invoke(CRAWLER, "Succeeded")
        .await
        .expect("retry fixes the rest");
    assert_eq!(report["partitionsUpdated"], 1);
}
