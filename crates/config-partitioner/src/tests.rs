//! Unit tests: key parsing, event reading, partition values, and the Glue call logic with
//! `aws-smithy-mocks`. Against the emulator: the workspace's `tests/it/config_partitioner.rs`.

use super::*;
use aws_sdk_glue::operation::batch_create_partition::BatchCreatePartitionOutput;
use aws_sdk_glue::operation::get_table::GetTableOutput;
use aws_sdk_glue::types::{Column, ErrorDetail, PartitionError, Table};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::json;

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

const SNAP: &str = "AWSLogs/111122223333/Config/eu-west-1/2026/4/7/ConfigSnapshot/111122223333_Config_eu-west-1_ConfigSnapshot_20260407T103717Z_0f1e.json.gz";

#[test]
fn key_parsing() {
    struct Case {
        key: &'static str,
        expect: Option<(
            Delivery,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
        )>,
    }
    let cases = [
        Case {
            key: SNAP,
            expect: Some((
                Delivery::Snapshot,
                "111122223333",
                "eu-west-1",
                "2026-04-07",
                "AWSLogs/111122223333/Config/eu-west-1/2026/4/7/ConfigSnapshot/",
            )),
        },
        // A delivery prefix and an organization id before AWSLogs/.
        Case {
            key: "config/o-a1b2c3d4e5/AWSLogs/111122223333/Config/us-gov-west-1/2026/12/31/ConfigHistory/111122223333_Config_us-gov-west-1_ConfigHistory_AWS::SSM::PatchCompliance_20261231T000000Z_20261231T060000Z_1.json.gz",
            expect: Some((
                Delivery::History,
                "111122223333",
                "us-gov-west-1",
                "2026-12-31",
                "config/o-a1b2c3d4e5/AWSLogs/111122223333/Config/us-gov-west-1/2026/12/31/ConfigHistory/",
            )),
        },
        // Zero-padded dates are accepted too.
        Case {
            key: "AWSLogs/111122223333/Config/ap-southeast-2/2024/02/29/ConfigSnapshot/x.json.gz",
            expect: Some((
                Delivery::Snapshot,
                "111122223333",
                "ap-southeast-2",
                "2024-02-29",
                "AWSLogs/111122223333/Config/ap-southeast-2/2024/02/29/ConfigSnapshot/",
            )),
        },
        Case {
            key: "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/eu-west-1/2026/4/7/OversizedChangeNotification/AWS::EC2::Instance/i-1/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/4/7/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/1111/Config/eu-west-1/2026/4/7/ConfigSnapshot/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/EU_WEST/2026/4/7/ConfigSnapshot/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/eu-west-1/2026/2/30/ConfigSnapshot/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/eu-west-1/2025/2/29/ConfigSnapshot/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/eu-west-1/2026/13/1/ConfigSnapshot/x.json.gz",
            expect: None,
        },
        Case {
            key: "AWSLogs/111122223333/Config/eu-west-1/2026/4/7/ConfigSnapshot/",
            expect: None,
        },
        Case {
            key: "unrelated/object.txt",
            expect: None,
        },
        Case {
            key: "",
            expect: None,
        },
    ];
    for case in cases {
        let got = parse_key(case.key)
            .ok()
            .map(|o| (o.delivery, o.account, o.region, o.dt, o.folder));
        let want = case
            .expect
            .map(|(d, a, r, dt, f)| (d, a.to_owned(), r.to_owned(), dt.to_owned(), f.to_owned()));
        assert_eq!(got, want, "{}", case.key);
    }
}

#[test]
fn notification_keys_are_url_decoded() {
    assert_eq!(
        decode_notification_key(
            "AWSLogs/1/Config/r/ConfigHistory/x_AWS%3A%3ASSM%3A%3APatchCompliance_1.json.gz"
        ),
        "AWSLogs/1/Config/r/ConfigHistory/x_AWS::SSM::PatchCompliance_1.json.gz"
    );
    assert_eq!(decode_notification_key("my+prefix/a%2Bb"), "my prefix/a+b");
}

fn record(event_name: &str, key: &str) -> Value {
    fixtures::s3_record(event_name, "config-bucket", key)
}

#[test]
fn every_record_is_read_and_non_creations_skipped() {
    let event = json!({"Records": [
        record("ObjectCreated:Put", "a%3Ab"),
        record("ObjectRemoved:Delete", "c"),
        record("ObjectCreated:CompleteMultipartUpload", "d"),
        {"eventName": "ObjectCreated:Put"}
    ]});
    let objects = objects_in(&event).expect("readable");
    assert_eq!(objects.records, 4);
    assert_eq!(objects.skipped, 2);
    assert_eq!(
        objects.created,
        vec![
            CreatedObject {
                bucket: "config-bucket".into(),
                key: "a:b".into()
            },
            CreatedObject {
                bucket: "config-bucket".into(),
                key: "d".into()
            },
        ]
    );
}

#[test]
fn eventbridge_object_created_and_other_shapes() {
    let bridge = fixtures::s3_object_created("config-bucket", SNAP);
    let objects = objects_in(&bridge).expect("readable");
    assert_eq!(objects.created[0].key, SNAP);

    let test_event =
        json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "config-bucket"});
    assert_eq!(
        objects_in(&test_event).expect("ignored"),
        EventObjects::default()
    );

    let other = json!({"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}});
    assert_eq!(objects_in(&other).expect("ignored").skipped, 1);

    for junk in [
        json!({"hello": 1}),
        json!({"Records": "x"}),
        json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}),
    ] {
        let err = objects_in(&junk).expect_err("malformed");
        assert!(
            err.to_string()
                .starts_with("malformed event: expected S3 event notifications"),
            "{err}"
        );
    }
}

#[test]
fn values_follow_the_table_key_order() {
    let object = parse_key(SNAP).expect("parsed");
    let shape = |keys: &[&str]| TableShape {
        partition_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        storage_descriptor: StorageDescriptor::builder().build(),
    };
    assert_eq!(
        shape(&["accountid", "region", "dt"]).values_for(&object),
        Ok(vec![
            "111122223333".into(),
            "eu-west-1".into(),
            "2026-04-07".into()
        ])
    );
    assert_eq!(
        shape(&["dt", "AccountId"]).values_for(&object),
        Ok(vec!["2026-04-07".into(), "111122223333".into()])
    );
    assert!(
        shape(&["year"])
            .values_for(&object)
            .expect_err("unknown key")
            .contains("\"year\"")
    );
}

fn settings(history: bool) -> Settings {
    Settings::from_lookup(|k| match k {
        "DATABASE_NAME" => Some("config".into()),
        "SNAPSHOT_TABLE" => Some("snapshots".into()),
        "HISTORY_TABLE" if history => Some("history".into()),
        _ => None,
    })
    .expect("settings")
}

fn table_rule() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_glue::Client::get_table).then_output(|| {
        GetTableOutput::builder()
            .table(
                Table::builder()
                    .name("snapshots")
                    .storage_descriptor(
                        StorageDescriptor::builder()
                            .location("s3://config-bucket/")
                            .build(),
                    )
                    .set_partition_keys(Some(
                        ["accountid", "region", "dt"]
                            .iter()
                            .map(|k| Column::builder().name(*k).build().expect("col"))
                            .collect(),
                    ))
                    .build()
                    .expect("table"),
            )
            .build()
    })
}

fn snapshot_key(account: u32, day: u32) -> String {
    format!(
        "AWSLogs/{account:012}/Config/eu-west-1/2026/4/{day}/ConfigSnapshot/f-{account}-{day}.json.gz"
    )
}

#[tokio::test]
async fn batches_of_100_one_get_table_and_duplicates_removed() {
    let get_table = table_rule();
    let create = mock!(aws_sdk_glue::Client::batch_create_partition)
        .match_requests(|r| r.partition_input_list().len() <= 100)
        .then_output(|| BatchCreatePartitionOutput::builder().build());
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get_table, &create]);
    let partitioner = Partitioner::new(glue, settings(false));
    // 5 accounts × 30 days = 150 partitions, each delivered twice, plus history objects (ignored).
    let mut records = Vec::new();
    for account in 0..5 {
        for day in 1..=30 {
            records.push(record("ObjectCreated:Put", &snapshot_key(account, day)));
            records.push(record("ObjectCreated:Put", &snapshot_key(account, day)));
            records.push(record(
                "ObjectCreated:Put",
                &format!(
                    "AWSLogs/{account:012}/Config/eu-west-1/2026/4/{day}/ConfigHistory/h.json.gz"
                ),
            ));
        }
    }
    let report = partitioner
        .handle_event(&json!({"Records": records}))
        .await
        .expect("created");
    assert_eq!(report.records, 450);
    assert_eq!(report.partitions, 150);
    assert_eq!(report.created, 150);
    assert_eq!(report.skipped, 150, "history ignored without HISTORY_TABLE");
    assert_eq!(create.num_calls(), 2);
    // A warm invocation reuses the table.
    partitioner
        .handle_event(&json!({"Records": [record("ObjectCreated:Put", &snapshot_key(9, 1))]}))
        .await
        .expect("created");
    assert_eq!(get_table.num_calls(), 1);
}

#[tokio::test]
async fn already_existing_is_success_other_entry_errors_fail_naming_the_partition() {
    let get_table = table_rule();
    let create = mock!(aws_sdk_glue::Client::batch_create_partition).then_output(|| {
        let error = |values: &[&str], code: &str| {
            PartitionError::builder()
                .set_partition_values(Some(values.iter().map(|v| (*v).to_owned()).collect()))
                .error_detail(
                    ErrorDetail::builder()
                        .error_code(code)
                        .error_message("detail")
                        .build(),
                )
                .build()
        };
        BatchCreatePartitionOutput::builder()
            .errors(error(
                &["000000000000", "eu-west-1", "2026-04-01"],
                "AlreadyExistsException",
            ))
            .errors(error(
                &["000000000000", "eu-west-1", "2026-04-02"],
                "InternalServiceException",
            ))
            .build()
    });
    let glue = mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&get_table, &create]);
    let partitioner = Partitioner::new(glue, settings(false));
    let event = json!({"Records": [
        record("ObjectCreated:Put", &snapshot_key(0, 1)),
        record("ObjectCreated:Put", &snapshot_key(0, 2)),
        record("ObjectCreated:Put", &snapshot_key(0, 3)),
    ]});
    let err = partitioner
        .handle_event(&event)
        .await
        .expect_err("one real failure");
    let text = err.to_string();
    assert!(
        text.starts_with("1 partition(s) could not be created"),
        "{text}"
    );
    assert!(text.contains("config.snapshots[\"000000000000\", \"eu-west-1\", \"2026-04-02\"]: InternalServiceException: detail"), "{text}");
}
