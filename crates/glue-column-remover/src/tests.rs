//! Unit tests: settings, the allow-list TableInput, and the AWS call logic with `aws-smithy-mocks`.
//! The same behaviours against the emulator are in the workspace's `tests/it/glue_column_remover.rs`.

use std::collections::HashMap;

use super::*;
use aws_sdk_glue::operation::batch_update_partition::BatchUpdatePartitionOutput;
use aws_sdk_glue::operation::get_partitions::GetPartitionsOutput;
use aws_sdk_glue::operation::get_table::GetTableOutput;
use aws_sdk_glue::operation::update_table::{UpdateTableError, UpdateTableOutput};
use aws_sdk_glue::types::error::ConcurrentModificationException;
use aws_sdk_glue::types::{
    BatchUpdatePartitionFailureEntry, ErrorDetail, SerDeInfo, TableIdentifier,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

fn col(name: &str) -> Column {
    Column::builder()
        .name(name)
        .r#type("string")
        .build()
        .expect("column")
}

fn descriptor(columns: &[&str]) -> StorageDescriptor {
    StorageDescriptor::builder()
        .set_columns(Some(columns.iter().map(|c| col(c)).collect()))
        .location("s3://sync-bucket/AWS:InstanceInformation/")
        .input_format("org.apache.hadoop.mapred.TextInputFormat")
        .serde_info(
            SerDeInfo::builder()
                .serialization_library("org.openx.data.jsonserde.JsonSerDe")
                .build(),
        )
        .build()
}

fn crawled_table() -> Table {
    Table::builder()
        .name("aws_instanceinformation")
        .database_name("inventory")
        .catalog_id("123456789012")
        .version_id("7")
        .created_by("arn:aws:sts::123456789012:assumed-role/crawler")
        .create_time(DateTime::from_secs(1_700_000_000))
        .update_time(DateTime::from_secs(1_700_000_100))
        .is_registered_with_lake_formation(false)
        .owner("owner")
        .description("crawled")
        .retention(0)
        .table_type("EXTERNAL_TABLE")
        .parameters("classification", "json")
        .target_table(TableIdentifier::builder().name("t").build())
        .storage_descriptor(descriptor(&["instanceid", "resourcetype", "platformname"]))
        .set_partition_keys(Some(vec![
            col("accountid"),
            col("region"),
            col("resourcetype"),
        ]))
        .build()
        .expect("table")
}

fn settings() -> Settings {
    let env = HashMap::from([
        ("DATABASE_NAME", "inventory"),
        ("CRAWLER_NAME", "patch-crawler"),
    ]);
    Settings::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("settings")
}

#[test]
fn settings_defaults_and_required() {
    let s = settings();
    assert_eq!(s.table, "aws_instanceinformation");
    assert_eq!(s.column, "resourcetype");
    let err = Settings::from_lookup(|k| (k == "DATABASE_NAME").then(|| "db".to_owned()))
        .expect_err("crawler missing");
    assert_eq!(
        err.to_string(),
        "environment variable CRAWLER_NAME is required: set it in the function's configuration"
    );
    assert!(
        Settings::from_lookup(|_| Some("  ".to_owned())).is_err(),
        "blank counts as missing"
    );
}

#[test]
fn collision_needs_both_a_data_column_and_a_partition_key() {
    let t = crawled_table();
    assert!(has_colliding_column(
        t.storage_descriptor(),
        t.partition_keys(),
        "resourcetype"
    ));
    assert!(has_colliding_column(
        t.storage_descriptor(),
        t.partition_keys(),
        "ResourceType"
    ));
    assert!(
        !has_colliding_column(t.storage_descriptor(), t.partition_keys(), "platformname"),
        "not a key"
    );
    assert!(
        !has_colliding_column(t.storage_descriptor(), t.partition_keys(), "accountid"),
        "not a data column"
    );
    assert!(!has_colliding_column(
        None,
        t.partition_keys(),
        "resourcetype"
    ));
}

#[test]
fn table_input_keeps_every_accepted_field_and_drops_the_column() {
    let t = crawled_table();
    let input = table_input_without(&t, "resourcetype").expect("input");
    assert_eq!(input.name(), "aws_instanceinformation");
    assert_eq!(input.owner(), Some("owner"));
    assert_eq!(input.description(), Some("crawled"));
    assert_eq!(input.table_type(), Some("EXTERNAL_TABLE"));
    assert_eq!(
        input
            .parameters()
            .and_then(|p| p.get("classification"))
            .map(String::as_str),
        Some("json")
    );
    assert_eq!(input.target_table().and_then(|t| t.name()), Some("t"));
    assert_eq!(input.partition_keys().len(), 3, "partition keys untouched");
    let sd = input.storage_descriptor().expect("descriptor");
    let names: Vec<&str> = sd.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["instanceid", "platformname"]);
    assert_eq!(
        sd.location(),
        Some("s3://sync-bucket/AWS:InstanceInformation/")
    );
    assert_eq!(
        sd.serde_info().and_then(|s| s.serialization_library()),
        Some("org.openx.data.jsonserde.JsonSerDe")
    );
}

fn crawler_event(crawler: &str, state: &str) -> Value {
    fixtures::crawler_state(crawler, state)
}

fn get_table_rule() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_glue::Client::get_table)
        .match_requests(|r| {
            r.database_name() == Some("inventory") && r.name() == Some("aws_instanceinformation")
        })
        .then_output(|| GetTableOutput::builder().table(crawled_table()).build())
}

#[tokio::test]
async fn events_not_for_us_make_no_call() {
    let get_table = get_table_rule();
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get_table]);
    let remover = Remover::new(glue, settings());
    for event in [
        crawler_event("other-crawler", "Succeeded"),
        crawler_event("patch-crawler", "Failed"),
    ] {
        let report = remover.handle_event(&event).await.expect("ignored");
        assert!(report.ignored.is_some());
    }
    let mut other = crawler_event("patch-crawler", "Succeeded");
    other["detail-type"] = serde_json::json!("Glue Job State Change");
    assert!(
        remover
            .handle_event(&other)
            .await
            .expect("ignored")
            .ignored
            .is_some()
    );
    assert_eq!(get_table.num_calls(), 0);
}

/// Glue's events are best-effort: a schedule runs the fix whatever happened to them.
#[tokio::test]
async fn a_scheduled_event_fixes_the_table_without_a_crawler_event() {
    let get_table = get_table_rule();
    let update = mock!(aws_sdk_glue::Client::update_table)
        .then_output(|| UpdateTableOutput::builder().build());
    let partitions = mock!(aws_sdk_glue::Client::get_partitions)
        .then_output(|| GetPartitionsOutput::builder().build());
    let glue = mock_client!(
        aws_sdk_glue,
        RuleMode::MatchAny,
        [&get_table, &update, &partitions]
    );
    // The event EventBridge sends for a schedule.
    let scheduled = fixtures::scheduled("us-east-1");
    let report = Remover::new(glue, settings())
        .handle_event(&scheduled)
        .await
        .expect("fixed");
    assert!(report.ignored.is_none() && report.table_updated);
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn malformed_events_say_what_was_expected() {
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, []);
    let remover = Remover::new(glue, settings());
    let mut no_name = crawler_event("x", "Succeeded");
    no_name["detail"] = serde_json::json!({"state": "Succeeded"});
    for event in [
        serde_json::json!({"hello": 1}),
        no_name,
        serde_json::json!([1, 2]),
    ] {
        let err = remover.handle_event(&event).await.expect_err("malformed");
        assert!(
            err.to_string().starts_with(
                "malformed event: expected an EventBridge \"Glue Crawler State Change\""
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn concurrent_modification_rereads_and_retries_with_the_version() {
    let get_table = get_table_rule();
    let conflict = mock!(aws_sdk_glue::Client::update_table)
        .match_requests(|r| r.version_id() == Some("7"))
        .sequence()
        .error(|| {
            UpdateTableError::ConcurrentModificationException(
                ConcurrentModificationException::builder()
                    .message("table changed")
                    .build(),
            )
        })
        .output(|| UpdateTableOutput::builder().build())
        .build();
    let partitions = mock!(aws_sdk_glue::Client::get_partitions)
        .then_output(|| GetPartitionsOutput::builder().build());
    let glue = mock_client!(
        aws_sdk_glue,
        RuleMode::MatchAny,
        [&get_table, &conflict, &partitions]
    );
    let report = Remover::new(glue, settings()).fix().await.expect("fixed");
    assert!(report.table_updated);
    assert_eq!(get_table.num_calls(), 2, "re-read after the conflict");
    assert_eq!(conflict.num_calls(), 2);
}

#[tokio::test]
async fn endless_conflicts_become_an_error_for_lambda_to_retry() {
    let get_table = get_table_rule();
    let conflict = mock!(aws_sdk_glue::Client::update_table).then_error(|| {
        UpdateTableError::ConcurrentModificationException(
            ConcurrentModificationException::builder()
                .message("table changed")
                .build(),
        )
    });
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get_table, &conflict]);
    let err = Remover::new(glue, settings())
        .fix()
        .await
        .expect_err("contended");
    assert!(matches!(err, RemoverError::Contended(_)), "{err}");
    assert_eq!(conflict.num_calls(), MAX_TABLE_ATTEMPTS as usize);
}

fn partition(i: usize, columns: &[&str]) -> Partition {
    Partition::builder()
        .set_values(Some(vec![
            format!("{:012}", i),
            "us-east-1".into(),
            "ManagedInstanceInventory".into(),
        ]))
        .storage_descriptor(descriptor(columns))
        .build()
}

#[tokio::test]
async fn partitions_are_updated_100_at_a_time_and_entry_errors_fail_the_run() {
    let no_collision = mock!(aws_sdk_glue::Client::get_table).then_output(|| {
        let mut t = crawled_table();
        t.storage_descriptor = Some(descriptor(&["instanceid"]));
        GetTableOutput::builder().table(t).build()
    });
    let pages = mock!(aws_sdk_glue::Client::get_partitions)
        .sequence()
        .output(|| {
            GetPartitionsOutput::builder()
                .set_partitions(Some(
                    (0..150)
                        .map(|i| partition(i, &["instanceid", "resourcetype"]))
                        .collect(),
                ))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            GetPartitionsOutput::builder()
                .set_partitions(Some(
                    (150..260)
                        .map(|i| {
                            partition(
                                i,
                                if i % 2 == 0 {
                                    &["instanceid", "resourcetype"]
                                } else {
                                    &["instanceid"]
                                },
                            )
                        })
                        .collect(),
                ))
                .build()
        })
        .build();
    let batch = mock!(aws_sdk_glue::Client::batch_update_partition)
        .match_requests(|r| {
            r.entries().len() <= 100
                && r.entries().iter().all(|e| {
                    e.partition_input()
                        .and_then(|p| p.storage_descriptor())
                        .is_some_and(|sd| sd.columns().iter().all(|c| c.name() != "resourcetype"))
                })
        })
        .sequence()
        .output(|| BatchUpdatePartitionOutput::builder().build())
        .output(|| {
            BatchUpdatePartitionOutput::builder()
                .errors(
                    BatchUpdatePartitionFailureEntry::builder()
                        .partition_value_list("000000000150")
                        .error_detail(
                            ErrorDetail::builder()
                                .error_code("InternalServiceException")
                                .error_message("try again")
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .output(|| BatchUpdatePartitionOutput::builder().build())
        .build();
    let glue = mock_client!(
        aws_sdk_glue,
        RuleMode::MatchAny,
        [&no_collision, &pages, &batch]
    );
    let err = Remover::new(glue, settings())
        .fix()
        .await
        .expect_err("entry error");
    // 150 + 55 colliding partitions = 205 entries: 100 + 100 + 5.
    assert_eq!(batch.num_calls(), 3);
    let text = err.to_string();
    assert!(
        text.contains("BatchUpdatePartition failed for 1 partition(s)"),
        "{text}"
    );
    assert!(
        text.contains("InternalServiceException: try again"),
        "{text}"
    );
}
