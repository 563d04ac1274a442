//! Unit tests with `aws-smithy-mocks`: what is called in an account with a recorder, without one,
//! with only a service-linked one, and when a creation fails halfway. Against the emulator: the
//! workspace's `tests/it/config_recorder.rs`.

use super::*;
use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
use aws_sdk_config::operation::delete_configuration_recorder::{
    DeleteConfigurationRecorderError, DeleteConfigurationRecorderOutput,
};
use aws_sdk_config::operation::delete_delivery_channel::{
    DeleteDeliveryChannelError, DeleteDeliveryChannelOutput,
};
use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
use aws_sdk_config::operation::describe_configuration_recorders::DescribeConfigurationRecordersOutput;
use aws_sdk_config::operation::describe_delivery_channels::DescribeDeliveryChannelsOutput;
use aws_sdk_config::operation::put_configuration_recorder::PutConfigurationRecorderOutput;
use aws_sdk_config::operation::put_delivery_channel::{
    PutDeliveryChannelError, PutDeliveryChannelOutput,
};
use aws_sdk_config::operation::start_configuration_recorder::StartConfigurationRecorderOutput;
use aws_sdk_config::operation::stop_configuration_recorder::StopConfigurationRecorderOutput;
use aws_sdk_config::types::ExclusionByResourceTypes;
use aws_sdk_config::types::error::{
    InsufficientDeliveryPolicyException, NoSuchConfigurationRecorderException,
    NoSuchDeliveryChannelException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

const ROLE: &str = "arn:aws:iam::111122223333:role/patching-ConfigRecorderRole-ABC";
const NAME: &str = "patch-compliance-1a2b3c4d";

/// A request of `kind` as CloudFormation sends it, from the documented fixture; `physical_id` on
/// Update and Delete (a Create has none), and an Update's old properties are its new ones.
fn request(kind: &str, properties: Value, physical_id: Option<&str>) -> Request {
    let mut request: CfnRequest = serde_json::from_value(fixtures::cfn_request(kind))
        .expect("a request CloudFormation sends");
    let stack_id = "arn:aws:cloudformation:us-east-1:111122223333:stack/StackSet-patching-x/1a2b3c4d-0000-0000-0000-000000000000";
    let named_id = || {
        physical_id
            .expect("Update and Delete name a physical id")
            .to_owned()
    };
    // The fields every kind has; the three request types share no trait to set them through.
    macro_rules! common {
        ($r:ident) => {{
            $r.stack_id = stack_id.to_owned();
            $r.logical_resource_id = "ConfigRecorder".to_owned();
            $r.resource_type = "Custom::ConfigRecorder".to_owned();
            $r.resource_properties = properties;
        }};
    }
    match &mut request {
        // CloudFormation names no physical id on Create: a test looping over kinds gives one
        // that only Update and Delete carry.
        CfnRequest::Create(r) => common!(r),
        CfnRequest::Update(r) => {
            r.old_resource_properties = properties.clone();
            common!(r);
            r.physical_resource_id = named_id();
        }
        CfnRequest::Delete(r) => {
            common!(r);
            r.physical_resource_id = named_id();
        }
        other => panic!("not a request type of the fixtures: {other:?}"),
    }
    let payload = serde_json::to_value(&request).expect("a request serializes");
    let envelope = cfn_response::Envelope::from_value(&payload).expect("envelope");
    Request::parse(envelope, &payload).expect("request")
}

fn props(bucket: Option<&str>) -> Value {
    let mut p =
        json!({"RecorderName": NAME, "RoleArn": ROLE, "DeliveryFrequency": "TwentyFour_Hours"});
    if let Some(b) = bucket {
        p["BucketName"] = json!(b);
    }
    p
}

fn recorders(list: Vec<ConfigurationRecorder>) -> Rule {
    mock!(aws_sdk_config::Client::describe_configuration_recorders).then_output(move || {
        DescribeConfigurationRecordersOutput::builder()
            .set_configuration_recorders(Some(list.clone()))
            .build()
    })
}

fn recorder(name: &str, group: Option<RecordingGroup>) -> ConfigurationRecorder {
    ConfigurationRecorder::builder()
        .name(name)
        .role_arn("arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
        .set_recording_group(group)
        .build()
}

fn status(recording: bool) -> Rule {
    mock!(aws_sdk_config::Client::describe_configuration_recorder_status).then_output(move || {
        DescribeConfigurationRecorderStatusOutput::builder()
            .configuration_recorders_status(
                ConfigurationRecorderStatus::builder()
                    .name("default")
                    .recording(recording)
                    .build(),
            )
            .build()
    })
}

/// Every call that writes: none may happen where a recorder exists.
struct Writes {
    put_recorder: Rule,
    put_channel: Rule,
    start: Rule,
    stop: Rule,
    delete_channel: Rule,
    delete_recorder: Rule,
    channels: Rule,
}

impl Writes {
    fn new() -> Self {
        Self {
            put_recorder: mock!(aws_sdk_config::Client::put_configuration_recorder)
                .then_output(|| PutConfigurationRecorderOutput::builder().build()),
            put_channel: mock!(aws_sdk_config::Client::put_delivery_channel)
                .then_output(|| PutDeliveryChannelOutput::builder().build()),
            start: mock!(aws_sdk_config::Client::start_configuration_recorder)
                .then_output(|| StartConfigurationRecorderOutput::builder().build()),
            stop: mock!(aws_sdk_config::Client::stop_configuration_recorder)
                .then_output(|| StopConfigurationRecorderOutput::builder().build()),
            delete_channel: mock!(aws_sdk_config::Client::delete_delivery_channel)
                .then_output(|| DeleteDeliveryChannelOutput::builder().build()),
            delete_recorder: mock!(aws_sdk_config::Client::delete_configuration_recorder)
                .then_output(|| DeleteConfigurationRecorderOutput::builder().build()),
            channels: mock!(aws_sdk_config::Client::describe_delivery_channels)
                .then_output(|| DescribeDeliveryChannelsOutput::builder().build()),
        }
    }

    fn count(&self) -> usize {
        [
            &self.put_recorder,
            &self.put_channel,
            &self.start,
            &self.stop,
            &self.delete_channel,
            &self.delete_recorder,
        ]
        .iter()
        .map(|r| r.num_calls())
        .sum()
    }
}

#[tokio::test]
async fn an_existing_recorder_is_used_and_never_changed() {
    let w = Writes::new();
    let group = RecordingGroup::builder()
        .all_supported(false)
        .resource_types(ResourceType::from("AWS::EC2::Instance"))
        .resource_types(ResourceType::from("AWS::SSM::ManagedInstanceInventory"))
        .build();
    let list = recorders(vec![recorder("default", Some(group))]);
    let st = status(false);
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [
            &list,
            &st,
            &w.put_recorder,
            &w.put_channel,
            &w.start,
            &w.channels
        ]
    );
    for kind in ["Create", "Update"] {
        let outcome = Recorder::new(config.clone())
            .ensure(&request(
                kind,
                props(Some("central-config")),
                Some("existing:default"),
            ))
            .await
            .expect("succeeds");
        assert_eq!(outcome.physical_resource_id, "existing:default");
        assert_eq!(outcome.data["Created"], "false");
        assert_eq!(outcome.data["Recording"], "false");
        assert_eq!(
            outcome.data["MissingResourceTypes"],
            "AWS::SSM::PatchCompliance,AWS::Config::ResourceCompliance"
        );
    }
    assert_eq!(w.count(), 0, "nothing written to someone else's recorder");
}

#[tokio::test]
async fn without_a_recorder_one_is_created_with_its_channel_and_started() {
    let w = Writes::new();
    let list = recorders(vec![]);
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [
            &list,
            &w.put_recorder,
            &w.put_channel,
            &w.start,
            &w.channels
        ]
    );
    let outcome = Recorder::new(config)
        .ensure(&request("Create", props(Some("central-config")), None))
        .await
        .expect("created");
    assert_eq!(outcome.physical_resource_id, format!("created:{NAME}"));
    assert_eq!(outcome.data["Created"], "true");
    assert_eq!(outcome.data["MissingResourceTypes"], "none");
    assert_eq!(
        (
            w.put_recorder.num_calls(),
            w.put_channel.num_calls(),
            w.start.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_service_linked_recorder_is_not_the_accounts_recorder() {
    let w = Writes::new();
    let linked = ConfigurationRecorder::builder()
        .name("AWSConfigurationRecorderForCloudWatch")
        .service_principal("telemetry.amazonaws.com")
        .build();
    let list = recorders(vec![linked]);
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [
            &list,
            &w.put_recorder,
            &w.put_channel,
            &w.start,
            &w.channels
        ]
    );
    let outcome = Recorder::new(config)
        .ensure(&request("Create", props(Some("central-config")), None))
        .await
        .expect("created");
    assert_eq!(outcome.physical_resource_id, format!("created:{NAME}"));
}

#[tokio::test]
async fn without_a_recorder_or_a_bucket_nothing_is_created() {
    let w = Writes::new();
    let list = recorders(vec![]);
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [
            &list,
            &w.put_recorder,
            &w.put_channel,
            &w.start,
            &w.channels
        ]
    );
    let err = Recorder::new(config)
        .ensure(&request("Create", props(None), None))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("set ConfigBucketName"), "{err}");
    assert_eq!(w.count(), 0);
}

#[tokio::test]
async fn a_creation_that_fails_halfway_removes_what_it_created() {
    let w = Writes::new();
    let list = recorders(vec![]);
    let refused = mock!(aws_sdk_config::Client::put_delivery_channel).then_error(|| {
        PutDeliveryChannelError::InsufficientDeliveryPolicyException(
            InsufficientDeliveryPolicyException::builder()
                .message("Insufficient delivery policy to s3 bucket: central-config")
                .meta(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("InsufficientDeliveryPolicyException")
                        .message("Insufficient delivery policy to s3 bucket: central-config")
                        .build(),
                )
                .build(),
        )
    });
    let no_channel = mock!(aws_sdk_config::Client::delete_delivery_channel).then_error(|| {
        DeleteDeliveryChannelError::NoSuchDeliveryChannelException(
            NoSuchDeliveryChannelException::builder().build(),
        )
    });
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [
            &list,
            &w.put_recorder,
            &refused,
            &w.channels,
            &w.stop,
            &no_channel,
            &w.delete_recorder
        ]
    );
    let err = Recorder::new(config)
        .ensure(&request("Create", props(Some("central-config")), None))
        .await
        .expect_err("fails");
    let text = err.to_string();
    assert!(
        text.starts_with("config:PutDeliveryChannel failed: InsufficientDeliveryPolicyException"),
        "{text}"
    );
    assert!(text.contains("was removed again"), "{text}");
    assert_eq!((w.stop.num_calls(), w.delete_recorder.num_calls()), (1, 1));
}

#[tokio::test]
async fn delete_removes_only_what_it_created() {
    // Its own recorder: stopped, channel and recorder deleted; "not found" is success.
    let w = Writes::new();
    let gone = mock!(aws_sdk_config::Client::delete_configuration_recorder).then_error(|| {
        DeleteConfigurationRecorderError::NoSuchConfigurationRecorderException(
            NoSuchConfigurationRecorderException::builder().build(),
        )
    });
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&w.stop, &w.delete_channel, &gone]
    );
    let id = format!("created:{NAME}");
    let outcome = Recorder::new(config)
        .delete(&request("Delete", props(None), Some(&id)))
        .await
        .expect("deleted");
    assert_eq!(outcome.physical_resource_id, id);
    assert_eq!(
        (
            w.stop.num_calls(),
            w.delete_channel.num_calls(),
            gone.num_calls()
        ),
        (1, 1, 1)
    );

    // Someone else's: nothing at all.
    let w = Writes::new();
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&w.stop, &w.delete_channel, &w.delete_recorder]
    );
    Recorder::new(config)
        .delete(&request("Delete", props(None), Some("existing:default")))
        .await
        .expect("nothing to do");
    assert_eq!(w.count(), 0);
}

#[test]
fn missing_types_follow_the_recording_strategy() {
    let all = RecordingGroup::builder().all_supported(true).build();
    assert!(missing_types(Some(&all)).is_empty());
    assert!(
        missing_types(None).is_empty(),
        "no group records everything"
    );
    let excluded = RecordingGroup::builder()
        .all_supported(false)
        .recording_strategy(
            RecordingStrategy::builder()
                .use_only(RecordingStrategyType::ExclusionByResourceTypes)
                .build(),
        )
        .exclusion_by_resource_types(
            ExclusionByResourceTypes::builder()
                .resource_types(ResourceType::from("AWS::Config::ResourceCompliance"))
                .build(),
        )
        .build();
    assert_eq!(
        missing_types(Some(&excluded)),
        ["AWS::Config::ResourceCompliance"]
    );
    let none = RecordingGroup::builder().all_supported(false).build();
    assert_eq!(missing_types(Some(&none)).len(), 4);
}

#[test]
fn properties_are_checked_before_any_call() {
    let parse = |v: Value| {
        RecorderSpec::from_properties(
            &cfn_response::Properties::from_value(Some(&v)).expect("object"),
        )
    };
    let spec = parse(props(Some("central-config"))).expect("valid");
    assert_eq!(spec.resource_types, DEFAULT_RESOURCE_TYPES);
    for (change, expected) in [
        (
            json!({"RecorderName": "AWSConfigurationRecorderForMe"}),
            "reserved for service-linked",
        ),
        (
            json!({"RoleArn": "arn:aws:s3:::bucket"}),
            "is not an IAM role ARN",
        ),
        (
            json!({"BucketName": "Bad_Bucket"}),
            "property `BucketName` is invalid",
        ),
        (
            json!({"DeliveryFrequency": "Daily"}),
            "is not one of One_Hour",
        ),
        (
            json!({"ResourceTypes": ["EC2::Instance"]}),
            "is not a resource type",
        ),
    ] {
        let mut p = props(Some("central-config"));
        for (k, v) in change.as_object().expect("object") {
            p[k] = v.clone();
        }
        let err = parse(p).expect_err("invalid").to_string();
        assert!(err.contains(expected), "{err}");
    }
}
