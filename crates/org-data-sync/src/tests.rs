//! Unit tests: property validation and the paginated lookup. Create, Update and Delete against the
//! emulator are in the workspace's `tests/it/org_data_sync.rs`.

use super::*;
use aws_sdk_ssm::operation::list_resource_data_sync::ListResourceDataSyncOutput;
use aws_sdk_ssm::types::ResourceDataSyncItem;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

fn props(v: Value) -> Properties {
    Properties::from_value(Some(&v)).expect("object")
}

fn valid() -> Value {
    json!({
        "SyncName": "patch-compliance",
        "BucketName": "central-sync-111122223333",
        "BucketRegion": "us-east-1",
        "BucketPrefix": "inventory/",
        "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    })
}

#[test]
fn valid_properties_with_defaults() {
    let spec = SyncSpec::from_properties(&props(valid())).expect("valid");
    assert_eq!(spec.name, "patch-compliance");
    assert_eq!(
        spec.destination.prefix.as_deref(),
        Some("inventory"),
        "trailing slash dropped"
    );
    assert!(
        spec.destination.organization,
        "organization sharing by default"
    );
    let mut v = valid();
    v["OrganizationSharing"] = json!("false");
    v.as_object_mut().expect("object").remove("KmsKeyArn");
    v.as_object_mut().expect("object").remove("BucketPrefix");
    let spec = SyncSpec::from_properties(&props(v)).expect("valid");
    assert!(!spec.destination.organization);
    assert_eq!(spec.destination.prefix, None);
}

#[test]
fn each_bad_property_is_named_with_what_is_wrong() {
    let cases: [(&str, Value, &str); 9] = [
        ("SyncName", Value::Null, "property `SyncName` is required"),
        ("SyncName", json!("x".repeat(65)), "1 to 64 characters"),
        (
            "BucketName",
            json!("Central_Bucket"),
            "only lowercase letters",
        ),
        ("BucketRegion", json!("us-east"), "is not a Region name"),
        (
            "BucketPrefix",
            json!("/inventory"),
            "must not start with '/'",
        ),
        ("BucketPrefix", json!("inv entory"), "contains ' '"),
        (
            "KmsKeyArn",
            json!("arn:aws:kms:us-east-1:111122223333:alias/sync"),
            "an alias will not do",
        ),
        (
            "KmsKeyArn",
            json!("arn:aws:kms:eu-west-1:111122223333:key/abc"),
            "the key must be in the bucket's Region",
        ),
        (
            "OrganizationSharing",
            json!("yes"),
            "expected \"true\" or \"false\"",
        ),
    ];
    for (field, value, expected) in cases {
        let mut v = valid();
        if value.is_null() {
            v.as_object_mut().expect("object").remove(field);
        } else {
            v[field] = value;
        }
        let err = SyncSpec::from_properties(&props(v))
            .expect_err(field)
            .to_string();
        assert!(
            err.contains(field) && err.contains(expected),
            "{field}: {err}"
        );
    }
}

#[test]
fn destinations_round_trip_through_the_sdk_shape() {
    let spec = SyncSpec::from_properties(&props(valid())).expect("valid");
    let s3 = spec.destination.to_s3().expect("s3");
    assert_eq!(s3.sync_format(), &ResourceDataSyncS3Format::JsonSerde);
    assert_eq!(Destination::from_s3(&s3), spec.destination);
    assert!(
        spec.destination
            .to_string()
            .contains("organization sharing")
    );
}

#[tokio::test]
async fn find_reads_every_page() {
    let pages = mock!(aws_sdk_ssm::Client::list_resource_data_sync)
        .sequence()
        .output(|| {
            ListResourceDataSyncOutput::builder()
                .resource_data_sync_items(
                    ResourceDataSyncItem::builder()
                        .sync_name("other")
                        .sync_type(SYNC_TYPE)
                        .build(),
                )
                .next_token("page-2")
                .build()
        })
        .output(|| {
            let spec = SyncSpec::from_properties(&props(valid())).expect("valid");
            ListResourceDataSyncOutput::builder()
                .resource_data_sync_items(
                    ResourceDataSyncItem::builder()
                        .sync_name("patch-compliance")
                        .sync_type(SYNC_TYPE)
                        .s3_destination(spec.destination.to_s3().expect("s3"))
                        .build(),
                )
                .build()
        })
        .build();
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&pages]);
    let found = DataSync::new(ssm)
        .find("patch-compliance")
        .await
        .expect("found");
    assert!(matches!(found, Existing::ToDestination(d) if d.bucket == "central-sync-111122223333"));
    assert_eq!(pages.num_calls(), 2);
}
