//! `config-recorder` against the emulator's AWS Config: one StackSet template succeeds in an
//! account without a recorder (one is made, the rules can then exist) and in one with a recorder
//! (nothing of it is touched, before or after the stack's deletion).

use aws_sdk_config::types::{
    ConfigRule, ConfigurationRecorder, DeliveryChannel, Owner, RecordingGroup, Scope, Source,
};
use cfn_response::Status;
use config_recorder::Recorder;
use integration_tests::{CustomResourceRequests, isolated};
use serde_json::{Value, json};

use crate::support::Cfn;

const NAME: &str = "patch-compliance-1a2b3c4d";

async fn setup() -> (aws_sdk_config::Client, Cfn<Recorder>) {
    let (emulator, region) = isolated();
    // The recorder's role is the member account's: only that account may pass it to AWS Config
    // (iam:PassRole; the emulator authorizes it), so the handler acts as that account.
    let config =
        aws_sdk_config::Client::new(&emulator.sdk_config_as(region, 2, "111122223333").await);
    let requests = CustomResourceRequests::new(
        "Custom::ConfigRecorder",
        "ConfigRecorder",
        region,
        "111122223333",
        "StackSet-patching-abc",
        "config-recorder",
    );
    (
        config.clone(),
        Cfn::start(Recorder::new(config), requests).await,
    )
}

fn props(bucket: &str) -> Value {
    json!({"RecorderName": NAME, "RoleArn": "arn:aws:iam::111122223333:role/patching-ConfigRecorderRole-ABC",
           "BucketName": bucket, "KeyPrefix": "", "DeliveryFrequency": "TwentyFour_Hours"})
}

/// The rule the stack creates after the recorder (DependsOn).
async fn put_rule(config: &aws_sdk_config::Client) -> Result<(), String> {
    let rule = ConfigRule::builder()
        .config_rule_name("ec2-instance-managed-by-systems-manager-1a2b3c4d")
        .source(
            Source::builder()
                .owner(Owner::Aws)
                .source_identifier("EC2_INSTANCE_MANAGED_BY_SSM")
                .build()
                .map_err(|e| e.to_string())?,
        )
        .scope(
            Scope::builder()
                .compliance_resource_types("AWS::EC2::Instance")
                .build(),
        )
        .build();
    config
        .put_config_rule()
        .config_rule(rule)
        .send()
        .await
        .map(drop)
        .map_err(|e| aws_setup::AwsError::from(e).to_string())
}

async fn recorders(config: &aws_sdk_config::Client) -> Vec<ConfigurationRecorder> {
    config
        .describe_configuration_recorders()
        .send()
        .await
        .expect("describe")
        .configuration_recorders()
        .to_vec()
}

async fn channels(config: &aws_sdk_config::Client) -> Vec<DeliveryChannel> {
    config
        .describe_delivery_channels()
        .send()
        .await
        .expect("describe")
        .delivery_channels()
        .to_vec()
}

#[tokio::test]
async fn an_account_without_a_recorder_gets_one_and_loses_it_with_the_stack() {
    let (config, cr) = setup().await;
    let before = put_rule(&config).await.expect_err("no recorder yet");
    assert!(
        before.starts_with("NoAvailableConfigurationRecorderException"),
        "{before}"
    );

    let created = cr
        .send("Create", None, props("central-config-bucket"), None)
        .await;
    assert_eq!(created.status, Status::Success, "{created:?}");
    assert_eq!(created.physical_resource_id, format!("created:{NAME}"));
    assert_eq!(
        created.data.get("Created").map(String::as_str),
        Some("true")
    );
    let recs = recorders(&config).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].name(), Some(NAME));
    let group = recs[0].recording_group().expect("group");
    assert_eq!(group.resource_types().len(), 4);
    assert_eq!(
        channels(&config).await[0].s3_bucket_name(),
        Some("central-config-bucket")
    );
    let status = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .expect("status");
    assert!(status.configuration_recorders_status()[0].recording());
    put_rule(&config).await.expect("the rules can now exist");

    // A retried Create and an Update converge on the same recorder.
    let again = cr
        .send("Create", None, props("central-config-bucket"), None)
        .await;
    assert_eq!(again.physical_resource_id, format!("created:{NAME}"));
    let id = format!("created:{NAME}");
    let moved = cr
        .send(
            "Update",
            Some(&id),
            props("new-config-bucket"),
            Some(props("central-config-bucket")),
        )
        .await;
    assert_eq!(moved.status, Status::Success, "{moved:?}");
    assert_eq!(
        channels(&config).await[0].s3_bucket_name(),
        Some("new-config-bucket")
    );

    let deleted = cr
        .send("Delete", Some(&id), props("new-config-bucket"), None)
        .await;
    assert_eq!(deleted.status, Status::Success, "{deleted:?}");
    assert!(recorders(&config).await.is_empty());
    assert!(channels(&config).await.is_empty());
}

#[tokio::test]
async fn an_account_with_a_recorder_keeps_it_untouched() {
    let (config, cr) = setup().await;
    // Control Tower's, say: all supported types, its own channel, recording.
    config
        .put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name("aws-controltower-BaselineConfigRecorder")
                .role_arn("arn:aws:iam::111122223333:role/aws-controltower-ConfigRecorderRole")
                .recording_group(RecordingGroup::builder().all_supported(true).build())
                .build(),
        )
        .send()
        .await
        .expect("recorder");
    config
        .put_delivery_channel()
        .delivery_channel(
            DeliveryChannel::builder()
                .name("aws-controltower-BaselineConfigDeliveryChannel")
                .s3_bucket_name("aws-controltower-logs-999988887777-us-east-1")
                .s3_key_prefix("o-abcde12345")
                .build(),
        )
        .send()
        .await
        .expect("channel");
    config
        .start_configuration_recorder()
        .configuration_recorder_name("aws-controltower-BaselineConfigRecorder")
        .send()
        .await
        .expect("start");
    let (recs_before, channels_before) = (recorders(&config).await, channels(&config).await);

    let created = cr
        .send("Create", None, props("central-config-bucket"), None)
        .await;
    assert_eq!(created.status, Status::Success, "{created:?}");
    assert_eq!(
        created.physical_resource_id,
        "existing:aws-controltower-BaselineConfigRecorder"
    );
    assert_eq!(
        created.data.get("Created").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        created.data.get("Recording").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        created.data.get("MissingResourceTypes").map(String::as_str),
        Some("none")
    );
    put_rule(&config)
        .await
        .expect("the rules use the account's recorder");

    let id = created.physical_resource_id.clone();
    let deleted = cr
        .send("Delete", Some(&id), props("central-config-bucket"), None)
        .await;
    assert_eq!(deleted.status, Status::Success);
    assert_eq!(
        recorders(&config).await,
        recs_before,
        "the recorder was not modified"
    );
    assert_eq!(
        channels(&config).await,
        channels_before,
        "the channel was not modified"
    );
    let status = config
        .describe_configuration_recorder_status()
        .send()
        .await
        .expect("status");
    assert!(
        status.configuration_recorders_status()[0].recording(),
        "still recording"
    );
}

#[tokio::test]
async fn without_a_recorder_or_a_bucket_the_answer_says_what_to_set() {
    let (config, cr) = setup().await;
    let mut p = props("x");
    p.as_object_mut().expect("object").remove("BucketName");
    let answer = cr.send("Create", None, p, None).await;
    assert_eq!(answer.status, Status::Failed);
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("set ConfigBucketName"),
        "{answer:?}"
    );
    assert!(recorders(&config).await.is_empty());
}
