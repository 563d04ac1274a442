//! Unit tests: planning, message parsing, and the AWS call logic with `aws-smithy-mocks`.
//! The same behaviours against the emulator are in the workspace's `tests/it/tagger.rs`.

use super::*;
use aws_sdk_ec2::operation::create_tags::{CreateTagsError, CreateTagsOutput};
use aws_sdk_ssm::operation::add_tags_to_resource::{
    AddTagsToResourceError, AddTagsToResourceOutput,
};
use aws_sdk_ssm::operation::describe_instance_information::{
    DescribeInstanceInformationError, DescribeInstanceInformationOutput,
};
use aws_sdk_ssm::types::error::InvalidResourceId;
use aws_sdk_ssm::types::{InstanceInformation, PlatformType};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

fn node(id: &str, name: Option<&str>, version: Option<&str>) -> Node {
    Node {
        id: id.into(),
        platform_type: Some("Linux".into()),
        platform_name: name.map(Into::into),
        platform_version: version.map(Into::into),
    }
}

#[test]
fn plan_groups_ec2_by_tag_set_and_separates_hybrid_and_unreported() {
    let nodes = vec![
        node("i-01", Some("Amazon Linux"), Some("2023")),
        node("i-02", Some("Amazon Linux"), Some("2023")),
        node("i-03", Some("Ubuntu"), Some("22.04")),
        node("mi-0123456789abcdef0", Some("Ubuntu"), Some("22.04")),
        node("i-04", None, Some("2023")),
        node("i-05", Some("Ubuntu"), Some("  ")),
        node("i-01", Some("Amazon Linux"), Some("2023")),
        node("weird-1", Some("X"), Some("1")),
    ];
    let p = plan(&nodes);
    assert_eq!(p.ec2.len(), 2);
    let al = OsTags {
        platform_type: "Linux".into(),
        os_name: "Amazon Linux".into(),
        os_version: "2023".into(),
    };
    assert_eq!(
        p.ec2[&al],
        vec!["i-01".to_string(), "i-02".to_string()],
        "duplicates tagged once"
    );
    assert_eq!(p.hybrid.len(), 1);
    assert_eq!(p.skipped, vec!["i-04", "i-05", "weird-1"]);
}

#[test]
fn batches_hold_at_most_1000_ids() {
    let nodes: Vec<Node> = (0..2500)
        .map(|i| node(&format!("i-{i:017x}"), Some("Amazon Linux"), Some("2023")))
        .chain((0..10).map(|i| {
            node(
                &format!("i-{:017x}", 10_000 + i),
                Some("Ubuntu"),
                Some("24.04"),
            )
        }))
        .collect();
    let sizes: Vec<usize> = plan(&nodes)
        .ec2_batches()
        .iter()
        .map(|(_, ids)| ids.len())
        .collect();
    assert_eq!(sizes, vec![1000, 1000, 500, 10]);
}

#[test]
fn long_values_are_clipped_to_256_characters() {
    let long = "x".repeat(300);
    let p = plan(&[node("i-1", Some(&long), Some("1"))]);
    let tags = p.ec2.keys().next().expect("one group");
    assert_eq!(tags.os_name.chars().count(), 256);
}

#[test]
fn not_found_messages_name_the_ids() {
    assert_eq!(
        ids_in_not_found_message("The instance ID 'i-0123abcd' does not exist"),
        vec!["i-0123abcd"]
    );
    assert_eq!(
        ids_in_not_found_message("The instance IDs 'i-0123abcd, i-0456ef00' do not exist"),
        vec!["i-0123abcd", "i-0456ef00"]
    );
    assert!(ids_in_not_found_message("The instance ID 'i-' does not exist").is_empty());
    assert!(ids_in_not_found_message("Something else entirely").is_empty());
}

#[test]
fn ssm_tag_values_keep_allowed_characters() {
    assert_eq!(
        ssm_tag_value("Amazon Linux 2023.1:x/y=z+@-_"),
        "Amazon Linux 2023.1:x/y=z+@-_"
    );
    assert_eq!(ssm_tag_value("SLES (SAP)"), "SLES _SAP_");
}

fn info(id: &str, name: Option<&str>, version: Option<&str>) -> InstanceInformation {
    InstanceInformation::builder()
        .instance_id(id)
        .platform_type(PlatformType::Linux)
        .set_platform_name(name.map(Into::into))
        .set_platform_version(version.map(Into::into))
        .build()
}

fn describe_one_page(items: Vec<InstanceInformation>) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ssm::Client::describe_instance_information)
        .match_requests(|r| r.max_results() == Some(50))
        .then_output(move || {
            DescribeInstanceInformationOutput::builder()
                .set_instance_information_list(Some(items.clone()))
                .build()
        })
}

fn not_found(ids: &str) -> CreateTagsError {
    CreateTagsError::generic(
        ErrorMetadata::builder()
            .code("InvalidInstanceID.NotFound")
            .message(format!("The instance IDs '{ids}' do not exist"))
            .build(),
    )
}

#[tokio::test]
async fn vanished_instances_are_dropped_and_the_rest_retried() {
    let describe = describe_one_page(vec![
        info("i-0a", Some("Amazon Linux"), Some("2023")),
        info("i-0b", Some("Amazon Linux"), Some("2023")),
        info("i-0c", Some("Amazon Linux"), Some("2023")),
    ]);
    let first = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(|r| r.resources().len() == 3)
        .then_error(|| not_found("i-0a, i-0c"));
    let retry = mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(|r| r.resources() == ["i-0b"] && r.tags().len() == 3)
        .then_output(|| CreateTagsOutput::builder().build());
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&describe]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&first, &retry]);
    let report = Tagger::new(ssm, ec2).tag_all().await.expect("tagged");
    assert_eq!(report.instances_tagged, 1);
    assert_eq!(report.vanished, 2);
    assert_eq!(first.num_calls(), 1);
    assert_eq!(retry.num_calls(), 1);
}

#[tokio::test]
async fn not_found_without_ids_is_a_failure_not_a_loop() {
    let describe = describe_one_page(vec![info("i-0a", Some("Amazon Linux"), Some("2023"))]);
    let failing = mock!(aws_sdk_ec2::Client::create_tags).then_error(|| {
        CreateTagsError::generic(
            ErrorMetadata::builder()
                .code("InvalidInstanceID.NotFound")
                .message("something unexpected")
                .build(),
        )
    });
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&describe]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&failing]);
    let err = Tagger::new(ssm, ec2).tag_all().await.expect_err("fails");
    assert!(
        err.to_string()
            .contains("InvalidInstanceID.NotFound: something unexpected"),
        "{err}"
    );
    assert_eq!(failing.num_calls(), 1);
}

#[tokio::test]
async fn hybrid_nodes_use_add_tags_to_resource_and_errors_are_collected() {
    let describe = describe_one_page(vec![
        info("mi-00000000000000001", Some("Ubuntu"), Some("22.04")),
        info("mi-00000000000000002", Some("Ubuntu"), Some("22.04")),
        info("mi-00000000000000003", Some("Ubuntu"), Some("22.04")),
        info("i-0a", None, None),
    ]);
    let ok = mock!(aws_sdk_ssm::Client::add_tags_to_resource)
        .match_requests(|r| {
            r.resource_id() == Some("mi-00000000000000001")
                && r.resource_type() == Some(&ResourceTypeForTagging::ManagedInstance)
                && r.tags().len() == 3
        })
        .then_output(|| AddTagsToResourceOutput::builder().build());
    let gone = mock!(aws_sdk_ssm::Client::add_tags_to_resource)
        .match_requests(|r| r.resource_id() == Some("mi-00000000000000002"))
        .then_error(|| {
            AddTagsToResourceError::InvalidResourceId(InvalidResourceId::builder().build())
        });
    let denied = mock!(aws_sdk_ssm::Client::add_tags_to_resource)
        .match_requests(|r| r.resource_id() == Some("mi-00000000000000003"))
        .then_error(|| {
            AddTagsToResourceError::generic(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform ssm:AddTagsToResource")
                    .build(),
            )
        });
    let ssm = mock_client!(
        aws_sdk_ssm,
        RuleMode::MatchAny,
        [&describe, &ok, &gone, &denied]
    );
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let err = Tagger::new(ssm, ec2)
        .tag_all()
        .await
        .expect_err("partial failure");
    let TaggerError::Partial { report, .. } = &err else {
        panic!("expected a partial failure, got {err}");
    };
    assert_eq!(report.managed_instances_tagged, 1);
    assert_eq!(report.vanished, 1);
    assert_eq!(report.skipped, 1);
    assert_eq!(
        report.failures,
        vec![
            "ssm:AddTagsToResource failed for 1 managed instance(s): AccessDeniedException: not authorized to perform ssm:AddTagsToResource"
        ]
    );
    assert!(err.to_string().starts_with(
        "tagged 0 EC2 instances and 1 managed instances, but 1 tagging call(s) failed"
    ));
}

#[tokio::test]
async fn describe_failure_tags_nothing_and_says_what_to_check() {
    let describe = mock!(aws_sdk_ssm::Client::describe_instance_information).then_error(|| {
        DescribeInstanceInformationError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("User is not authorized")
                .build(),
        )
    });
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&describe]);
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, []);
    let err = Tagger::new(ssm, ec2).tag_all().await.expect_err("fails");
    let text = err.to_string();
    assert!(
        text.contains("AccessDeniedException: User is not authorized"),
        "{text}"
    );
    assert!(
        text.contains("check that the function's role allows"),
        "{text}"
    );
}

#[test]
fn event_shapes() {
    assert!(scheduled_event(&fixtures::scheduled("us-east-1")).is_some());
    let s3_event = fixtures::s3_object_created("config-bucket", "x");
    assert!(scheduled_event(&s3_event).is_none());
    let no_source = serde_json::json!({"detail-type": "Scheduled Event"});
    assert!(
        scheduled_event(&no_source).is_none(),
        "no source: not EventBridge"
    );
    assert_eq!(
        describe_payload(&serde_json::json!({"a": 1})),
        "an object with keys [\"a\"]"
    );
}
