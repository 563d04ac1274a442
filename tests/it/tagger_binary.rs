//! The real `ec2-os-tagger` binary, run as Lambda runs it (local Runtime API), configured only
//! through the environment, against the emulator.

use std::time::Duration;

use cfn_response::Status;
use cfn_response::testing::ResponseServer;
use integration_tests::lambda::{LocalFunction, Outcome};
use integration_tests::{NodeSpec, isolated, payload};
use serde_json::json;

use crate::support::{cfn_request, scheduled_event, workspace_binary};

#[tokio::test]
async fn binary_answers_cloudformation_and_serves_the_schedule() {
    let (emulator, region) = isolated();
    emulator
        .seed_nodes(
            region,
            &[
                NodeSpec::ec2("Linux", "Amazon Linux", "2023"),
                NodeSpec::hybrid("Linux", "Debian", "12"),
            ],
        )
        .await
        .expect("seed");
    let server = ResponseServer::start().await.expect("server");

    let mut env = emulator.function_env(region);
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    let function = LocalFunction::start(
        &workspace_binary("ec2-os-tagger"),
        "ec2-os-tagger",
        &env,
        Duration::from_secs(30),
    )
    .await
    .expect("function starts");

    // Custom resource Create: the answer goes to the ResponseURL; the invocation succeeds.
    let invoked = function
        .invoke(
            &payload(&cfn_request("Create", &server.url("create"), None)),
            Duration::from_secs(60),
        )
        .await
        .expect("invoked");
    assert!(
        matches!(invoked.outcome, Outcome::Response(_)),
        "{:?}",
        invoked.outcome
    );
    let answer = server.wait_for(1, Duration::from_secs(5)).await[0].answer();
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(
        answer.data.get("InstancesTagged").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        answer
            .data
            .get("ManagedInstancesTagged")
            .map(String::as_str),
        Some("1")
    );

    // Scheduled run: the report is the invocation's result.
    let invoked = function
        .invoke(&scheduled_event(region), Duration::from_secs(60))
        .await
        .expect("invoked");
    match &invoked.outcome {
        Outcome::Response(report) => assert_eq!(report["InstancesTagged"], 1, "{report}"),
        other => panic!("expected a response, got {other:?}"),
    }

    // Anything else: an invocation error with a meaningful type.
    let invoked = function
        .invoke(&json!({"Records": []}), Duration::from_secs(10))
        .await
        .expect("invoked");
    match &invoked.outcome {
        Outcome::Error(e) => {
            assert_eq!(e["errorType"], "UnsupportedEvent", "{e}");
            assert!(
                e["errorMessage"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("keys [\"Records\"]"),
                "{e}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // Logs: JSON lines carrying the request id; never the signed URL.
    let logs = function.logs();
    let answering = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "answering")
        .unwrap_or_else(|| panic!("no JSON 'answering' line in {logs:#?}"));
    assert_eq!(
        answering["span"]["requestId"], "local-00000001",
        "{answering}"
    );
    assert!(
        logs.iter().all(|l| !l.contains("SECRET-SIGNATURE")),
        "signature leaked: {logs:#?}"
    );
    assert!(function.peak_memory_kib().is_some_and(|kib| kib > 0));
}
