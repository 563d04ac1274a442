//! The event handlers' real binaries, run as Lambda runs them: configuration from the environment,
//! a missing setting failing the init loudly, and the event answered.

use std::time::Duration;

use integration_tests::isolated;
use integration_tests::lambda::{LocalFunction, Outcome};
use serde_json::json;

use crate::support::{create_table, json_descriptor, workspace_binary};

#[tokio::test]
async fn missing_settings_fail_the_init_with_the_variable_name() {
    let (emulator, region) = isolated();
    let mut env = emulator.function_env(region);
    env.push(("DATABASE_NAME".into(), "inventory".into()));
    let err = LocalFunction::start(
        &workspace_binary("glue-column-remover"),
        "glue-column-remover",
        &env,
        Duration::from_secs(10),
    )
    .await
    .err()
    .expect("init fails");
    assert!(
        format!("{err:#}").contains("environment variable CRAWLER_NAME is required"),
        "{err:#}"
    );
}

#[tokio::test]
async fn partitioner_binary_handles_an_s3_notification() {
    let (emulator, region) = isolated();
    let glue = aws_sdk_glue::Client::new(&emulator.sdk_config(region, 2).await);
    create_table(
        &glue,
        "configdb",
        "snapshots",
        json_descriptor("s3://b/", &["fileversion"]),
        &["accountid", "region", "dt"],
    )
    .await;

    let mut env = emulator.function_env(region);
    env.extend([
        ("DATABASE_NAME".to_owned(), "configdb".to_owned()),
        ("SNAPSHOT_TABLE".to_owned(), "snapshots".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
    ]);
    let function = LocalFunction::start(
        &workspace_binary("config-partitioner"),
        "config-partitioner",
        &env,
        Duration::from_secs(10),
    )
    .await
    .expect("starts");
    let event =
        integration_tests::fixtures::s3_notification(vec![integration_tests::fixtures::s3_record(
            "ObjectCreated:Put",
            "b",
            "AWSLogs/123456789012/Config/us-east-1/2026/11/22/ConfigSnapshot/x.json.gz",
        )]);
    let invoked = function
        .invoke(&event, Duration::from_secs(30))
        .await
        .expect("invoked");
    match invoked.outcome {
        Outcome::Response(report) => assert_eq!(report["created"], 1, "{report}"),
        other => panic!(
            "expected a response, got {other:?}\n{}",
            function.logs().join("\n")
        ),
    }
    let invoked = function
        .invoke(&json!({"unexpected": true}), Duration::from_secs(30))
        .await
        .expect("invoked");
    match invoked.outcome {
        Outcome::Error(e) => assert_eq!(e["errorType"], "MalformedEvent", "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
