//! Unit tests: the SQL files' headers, property validation, and the asynchronous data source
//! states (which the emulator settles at once). Create, Update and Delete against the emulator are
//! in the workspace's `tests/it/quicksight_builder.rs`.

use super::*;
use aws_sdk_quicksight::operation::create_data_source::CreateDataSourceOutput;
use aws_sdk_quicksight::operation::describe_data_source::DescribeDataSourceOutput;
use aws_sdk_quicksight::types::{DataSource, DataSourceErrorInfo, DataSourceErrorInfoType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const AUTHORS: &str = "arn:aws:quicksight:us-east-1:111122223333:group/default/compliance-authors";

fn props(v: Value) -> Properties {
    Properties::from_value(Some(&v)).expect("object")
}

fn valid() -> Value {
    json!({"WorkGroup": "patch-compliance", "Database": "patch_compliance", "PrincipalArns": [AUTHORS]})
}

fn spec(v: Value) -> BuilderSpec {
    BuilderSpec::from_properties(&props(v), Some(ACCOUNT)).expect("valid")
}

#[test]
fn every_sql_file_has_a_usable_header() {
    let all = datasets();
    let keys: Vec<&str> = all.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["nodes", "patches", "node-tags", "config-compliance"]);
    for d in all {
        let names: Vec<&str> = d.columns.iter().map(|(n, _)| n.as_str()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{}: duplicate column", d.file);
        assert!(
            names.starts_with(&["account_id", "region", "node_id", "node_type"]),
            "{}: every dataset leads with the node's identity",
            d.file
        );
        let sql = d.render(&Names {
            database: "db_x",
            config: Some(("cfg_db", "cfg_table")),
        });
        assert!(!sql.contains("${"), "{}", d.file);
        assert!(
            sql.starts_with("WITH ") && !sql.contains("--") && !sql.trim_end().ends_with(';'),
            "{}: comments and a trailing ';' would break QuickSight's subquery",
            d.file
        );
        match d.source {
            Source::Inventory => assert!(sql.contains("\"db_x\".aws_"), "{}", d.file),
            Source::Config => assert!(sql.contains("\"cfg_db\".\"cfg_table\""), "{}", d.file),
        }
    }
}

#[test]
fn malformed_headers_are_rejected_with_the_file_name() {
    let cases = [
        (
            "-- name: X\n-- column: a STRING\nSELECT 1",
            "dataset: <key>",
        ),
        ("-- dataset: x\n-- column: a STRING\nSELECT 1", "name:"),
        ("-- dataset: x\n-- name: X\nSELECT 1", "column:"),
        (
            "-- dataset: x\n-- name: X\n-- column: a VARCHAR\nSELECT 1",
            "has type VARCHAR",
        ),
        (
            "-- dataset: x\n-- name: X\n-- column: a STRING\nSELECT * FROM ${db}.t",
            "unknown placeholder",
        ),
    ];
    for (text, expected) in cases {
        let err = DatasetSql::parse("bad.sql", text).expect_err(text);
        assert!(
            err.starts_with("bad.sql: ") && err.contains(expected),
            "{err}"
        );
    }
}

#[test]
fn defaults_and_the_config_dataset() {
    let s = spec(valid());
    assert_eq!(s.account_id, ACCOUNT, "from the function's ARN");
    assert_eq!(s.data_source_id, "patch-compliance");
    assert_eq!(s.namespace, "default");
    assert_eq!(s.import_mode, DataSetImportMode::DirectQuery);
    assert_eq!(s.config, None);
    let wanted: Vec<&str> = s.wanted().map(|d| d.key.as_str()).collect();
    assert_eq!(wanted, ["nodes", "patches", "node-tags"]);
    assert_eq!(
        s.data_source_arn("eu-west-1"),
        "arn:aws:quicksight:eu-west-1:111122223333:datasource/patch-compliance"
    );
    assert_eq!(
        s.data_source_arn("cn-north-1"),
        "arn:aws-cn:quicksight:cn-north-1:111122223333:datasource/patch-compliance"
    );

    let mut v = valid();
    v["ConfigSnapshotTable"] = json!("aws_config_snapshot");
    v["ImportMode"] = json!("spice");
    let s = spec(v.clone());
    assert_eq!(
        s.config,
        Some(ConfigTable {
            database: "patch_compliance".into(),
            table: "aws_config_snapshot".into()
        })
    );
    assert_eq!(s.import_mode, DataSetImportMode::Spice);
    assert_eq!(s.wanted().count(), 4);
    v["ConfigDatabase"] = json!("config_analytics");
    assert_eq!(
        spec(v).config.map(|c| c.database).as_deref(),
        Some("config_analytics")
    );
}

/// Seed 000 built the principal ARN from the stack's Region; QuickSight users live in the identity
/// Region, so the ARN must be used exactly as given.
#[test]
fn principals_keep_their_identity_region_and_are_deduplicated() {
    let mut v = valid();
    v["PrincipalArns"] = json!(format!(
        "{AUTHORS}, arn:aws:quicksight:eu-central-1:111122223333:user/default/alice, {AUTHORS}"
    ));
    let s = spec(v);
    assert_eq!(
        s.principals,
        [
            AUTHORS,
            "arn:aws:quicksight:eu-central-1:111122223333:user/default/alice"
        ]
    );
}

#[test]
fn each_bad_property_is_named_with_what_is_wrong() {
    let cases: [(&str, Value, &str); 14] = [
        ("WorkGroup", Value::Null, "property `WorkGroup` is required"),
        ("WorkGroup", json!("patch compliance"), "contains ' '"),
        (
            "Database",
            json!("Patch_Compliance"),
            "use \"patch_compliance\"",
        ),
        ("Database", json!("db\";drop"), "contains '\"'"),
        ("DataSourceId", json!("a/b"), "contains '/'"),
        (
            "PrincipalArns",
            json!([]),
            "at least one QuickSight user or group",
        ),
        ("PrincipalArns", json!("alice"), "is not an ARN"),
        (
            "PrincipalArns",
            json!("arn:aws:quicksight:us-east-1:444455556666:user/default/alice"),
            "belongs to account 444455556666",
        ),
        (
            "PrincipalArns",
            json!("arn:aws:quicksight:us-east-1:111122223333:user/finance/alice"),
            "namespace \"finance\"",
        ),
        (
            "PrincipalArns",
            json!("arn:aws:quicksight::111122223333:user/default/alice"),
            "has no Region",
        ),
        (
            "PrincipalArns",
            json!("arn:aws:quicksight:us-east-1:111122223333:dashboard/x/y"),
            "is not a user or group",
        ),
        (
            "ImportMode",
            json!("LIVE"),
            "neither DIRECT_QUERY nor SPICE",
        ),
        ("AwsAccountId", json!("1234"), "not a 12-digit account id"),
        (
            "ConfigSnapshotTable",
            json!("config.snapshots"),
            "contains '.'",
        ),
    ];
    for (field, value, expected) in cases {
        let mut v = valid();
        if value.is_null() {
            v.as_object_mut().expect("object").remove(field);
        } else {
            v[field] = value;
        }
        let err = BuilderSpec::from_properties(&props(v), Some(ACCOUNT))
            .expect_err(field)
            .to_string();
        assert!(
            err.contains(field) && err.contains(expected),
            "{field}: {err}"
        );
    }
    let err = BuilderSpec::from_properties(&props(valid()), None)
        .expect_err("no account")
        .to_string();
    assert!(
        err.contains("AwsAccountId") && err.contains("set it"),
        "{err}"
    );
    let mut many = valid();
    many["PrincipalArns"] = json!(
        (0..65)
            .map(|i| format!("arn:aws:quicksight:us-east-1:111122223333:user/default/u{i}"))
            .collect::<Vec<_>>()
    );
    let err = BuilderSpec::from_properties(&props(many), Some(ACCOUNT))
        .expect_err("too many")
        .to_string();
    assert!(err.contains("at most 64"), "{err}");
}

#[test]
fn physical_ids_and_data_keys() {
    assert_eq!(
        parse_data_source_arn(
            "arn:aws:quicksight:eu-west-1:111122223333:datasource/patch-compliance"
        ),
        Some(("111122223333", "patch-compliance"))
    );
    assert_eq!(parse_data_source_arn("central-QuickSight"), None);
    assert_eq!(
        parse_data_source_arn("arn:aws:quicksight:eu-west-1:111122223333:dataset/x"),
        None
    );
    assert_eq!(data_key("nodes"), "NodesDataSetArn");
    assert_eq!(data_key("node-tags"), "NodeTagsDataSetArn");
    assert_eq!(data_key("config-compliance"), "ConfigComplianceDataSetArn");
}

fn described(
    status: ResourceStatus,
    error: Option<DataSourceErrorInfo>,
) -> DescribeDataSourceOutput {
    DescribeDataSourceOutput::builder()
        .data_source(
            DataSource::builder()
                .data_source_id("patch-compliance")
                .r#type(DataSourceType::Athena)
                .status(status)
                .set_error_info(error)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn an_asynchronous_creation_is_awaited() {
    let create = mock!(aws_sdk_quicksight::Client::create_data_source).then_output(|| {
        CreateDataSourceOutput::builder()
            .creation_status(ResourceStatus::CreationInProgress)
            .build()
    });
    let describe = mock!(aws_sdk_quicksight::Client::describe_data_source)
        .sequence()
        .output(|| described(ResourceStatus::CreationInProgress, None))
        .output(|| described(ResourceStatus::CreationSuccessful, None))
        .build();
    let qs = mock_client!(aws_sdk_quicksight, RuleMode::MatchAny, [&create, &describe]);
    QuickSightBuilder::new(qs, "eu-west-1")
        .create_data_source(&spec(valid()))
        .await
        .expect("settled");
    assert_eq!(describe.num_calls(), 2, "polled until it settled");
}

#[tokio::test]
async fn a_failed_data_source_reports_quicksights_reason() {
    let create = mock!(aws_sdk_quicksight::Client::create_data_source).then_output(|| {
        CreateDataSourceOutput::builder()
            .creation_status(ResourceStatus::CreationInProgress)
            .build()
    });
    let describe = mock!(aws_sdk_quicksight::Client::describe_data_source).then_output(|| {
        described(
            ResourceStatus::CreationFailed,
            Some(
                DataSourceErrorInfo::builder()
                    .r#type(DataSourceErrorInfoType::AccessDenied)
                    .message("Unable to verify/create output bucket aws-athena-query-results")
                    .build(),
            ),
        )
    });
    let qs = mock_client!(aws_sdk_quicksight, RuleMode::MatchAny, [&create, &describe]);
    let err = QuickSightBuilder::new(qs, "eu-west-1")
        .create_data_source(&spec(valid()))
        .await
        .expect_err("failed")
        .to_string();
    assert!(
        err.contains("CREATION_FAILED")
            && err.contains("ACCESS_DENIED Unable to verify/create output bucket")
            && err.contains("service role"),
        "{err}"
    );
}
