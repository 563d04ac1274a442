//! Every guarantee of the custom resource contract, checked against a real local HTTP server.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
use cfn_response::testing::{ReceivedRequest, ResponseServer};
use cfn_response::{
    CustomResource, Outcome, PropertyError, Request, ResponseBody, Runner, RunnerError, Status,
};
use lambda_runtime::{Config, Context};
use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "../../../tests/fixtures/events.rs"]
mod fixtures;

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error(transparent)]
    Property(#[from] PropertyError),
    #[error("AccessDeniedException: User is not authorized to perform ssm:CreateResourceDataSync")]
    Aws,
}

/// A resource whose behaviour is chosen by its `Mode` property.
#[derive(Default)]
struct Scripted {
    calls: AtomicUsize,
}

impl Scripted {
    async fn run(&self, request: &Request) -> Result<Outcome, TestError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mode = request
            .properties
            .optional_str("Mode")?
            .unwrap_or("ok")
            .to_owned();
        let count = request.properties.parse::<u32>("Count")?.unwrap_or(0);
        let _flag = request.properties.bool_or("Flag", false)?;
        match mode.as_str() {
            "aws-error" => Err(TestError::Aws),
            "panic" => {
                request.set_step("counting sheep");
                panic!("sheep overflow")
            }
            "sleep" => {
                request.set_step("waiting for a slow API");
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Outcome::new("never"))
            }
            "big-data" => Ok(Outcome::new(request.current_or_stable_physical_id())
                .with_data("Small", "1")
                .with_data("Big", "x".repeat(6000))),
            "secret" => Ok(Outcome::new(request.current_or_stable_physical_id())
                .with_data("Password", "TOP-SECRET-VALUE")
                .secret()),
            "replace" => Ok(Outcome::new(format!("{}-v2", request.stable_physical_id()))),
            _ => {
                Ok(Outcome::new(request.current_or_stable_physical_id()).with_data("Count", count))
            }
        }
    }
}

impl CustomResource for Scripted {
    type Error = TestError;
    async fn create(&self, request: &Request) -> Result<Outcome, TestError> {
        self.run(request).await
    }
    async fn update(&self, request: &Request) -> Result<Outcome, TestError> {
        self.run(request).await
    }
    async fn delete(&self, request: &Request) -> Result<Outcome, TestError> {
        self.run(request).await
    }
}

/// A request of `kind` (`Create`, `Update` or `Delete`) from the documented fixture, typed as
/// `aws_lambda_events` types it; Update and Delete name `demo-stack-Thing`.
fn request(server: &ResponseServer, kind: &str, props: Value) -> CfnRequest {
    let mut r: CfnRequest = serde_json::from_value(fixtures::cfn_request(kind))
        .expect("a request CloudFormation sends");
    let url = server.url("r1");
    let stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo-stack/5b0c0a70-0000";
    // The fields every kind has; the three request types share no trait to set them through.
    macro_rules! common {
        ($r:ident) => {{
            $r.response_url = url;
            $r.stack_id = stack_id.to_owned();
            $r.request_id = "11111111-2222".to_owned();
            $r.resource_type = "Custom::Scripted".to_owned();
            $r.logical_resource_id = "Thing".to_owned();
            $r.resource_properties = props;
        }};
    }
    match &mut r {
        CfnRequest::Create(r) => common!(r),
        CfnRequest::Update(r) => {
            common!(r);
            r.physical_resource_id = "demo-stack-Thing".to_owned();
            r.old_resource_properties = json!({});
        }
        CfnRequest::Delete(r) => {
            common!(r);
            r.physical_resource_id = "demo-stack-Thing".to_owned();
        }
        other => panic!("not a request type of the fixtures: {other:?}"),
    }
    r
}

/// A Delete naming `physical_id`.
fn delete(server: &ResponseServer, props: Value, physical_id: &str) -> CfnRequest {
    let mut r = request(server, "Delete", props);
    if let CfnRequest::Delete(d) = &mut r {
        d.physical_resource_id = physical_id.to_owned();
    }
    r
}

/// The request as the JSON the function receives.
fn payload(request: &CfnRequest) -> Value {
    serde_json::to_value(request).expect("a request serializes")
}

fn context(timeout: Option<Duration>) -> Context {
    let mut ctx = Context::default();
    if let Some(t) = timeout {
        let deadline = SystemTime::now() + t;
        ctx.deadline = deadline
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
    }
    ctx.env_config = Arc::new(Config {
        log_stream: "2026/11/22/[$LATEST]abc".into(),
        ..Config::default()
    });
    ctx
}

async fn setup() -> (ResponseServer, Runner<Scripted>) {
    let server = ResponseServer::start().await.expect("server");
    let runner = Runner::new(Scripted::default()).expect("runner");
    (server, runner)
}

/// Exactly one PUT, with the protocol's required shape; returns its body, read as CloudFormation
/// reads it.
fn only_answer(received: &[ReceivedRequest]) -> ResponseBody {
    assert_eq!(
        received.len(),
        1,
        "expected exactly one answer: {received:#?}"
    );
    let put = &received[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.header("content-type"),
        Some(""),
        "S3 needs an empty Content-Type"
    );
    assert!(
        put.target.contains("X-Amz-Signature"),
        "the signed query must be sent as given"
    );
    assert!(put.body.len() <= 4096, "body of {} bytes", put.body.len());
    // Status, PhysicalResourceId, StackId, RequestId and LogicalResourceId are required: a body
    // without one of them does not read as an answer.
    let body = put.answer();
    assert!(!body.physical_resource_id.is_empty(), "{body:?}");
    body
}

/// Sends one request of `kind` with `props` and returns the one answer CloudFormation got for it.
async fn answer_to(
    server: &ResponseServer,
    runner: &Runner<Scripted>,
    kind: &str,
    props: Value,
    timeout: Option<Duration>,
) -> ResponseBody {
    let before = server.received().len();
    runner
        .handle_payload(&payload(&request(server, kind, props)), &context(timeout))
        .await
        .expect("answered");
    only_answer(&server.received()[before..])
}

#[tokio::test]
async fn create_succeeds_with_stable_id_and_data() {
    let (server, runner) = setup().await;
    let body = answer_to(
        &server,
        &runner,
        "Create",
        json!({"Count": "14", "Flag": "true"}),
        Some(Duration::from_secs(30)),
    )
    .await;
    assert_eq!(body.status, Status::Success);
    assert_eq!(body.physical_resource_id, "demo-stack-Thing");
    assert_eq!(body.data.get("Count").map(String::as_str), Some("14"));
    assert_eq!(body.request_id, "11111111-2222");
    assert_eq!(body.logical_resource_id, "Thing");
}

#[tokio::test]
async fn repeated_create_gives_the_same_answer() {
    let (server, runner) = setup().await;
    let event = payload(&request(&server, "Create", json!({})));
    // The invocation's result, not the answer: a summary of it for Lambda, as JSON.
    let summary = runner
        .handle_payload(&event, &context(None))
        .await
        .expect("first");
    assert_eq!(summary["Status"], "SUCCESS");
    assert_eq!(summary["PhysicalResourceId"], "demo-stack-Thing");
    runner
        .handle_payload(&event, &context(None))
        .await
        .expect("second");
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].answer(), received[1].answer());
}

#[tokio::test]
async fn update_echoes_the_id_unless_replaced() {
    let (server, runner) = setup().await;
    let kept = answer_to(&server, &runner, "Update", json!({}), None).await;
    assert_eq!(kept.physical_resource_id, "demo-stack-Thing");
    let replaced = answer_to(&server, &runner, "Update", json!({"Mode": "replace"}), None).await;
    assert_eq!(replaced.physical_resource_id, "demo-stack-Thing-v2");
}

#[tokio::test]
async fn garbage_properties_are_answered_failed() {
    let (server, runner) = setup().await;
    for (props, expected) in [
        (
            json!({"Count": "fourteen"}),
            "property `Count` is invalid: cannot parse \"fourteen\"",
        ),
        (
            json!({"Flag": "yes"}),
            "property `Flag` is invalid: expected \"true\" or \"false\"",
        ),
        (
            json!({"Mode": {"nested": true}}),
            "property `Mode` must be a string, got an object",
        ),
        (
            json!("not an object"),
            "property `ResourceProperties` must be an object",
        ),
    ] {
        let body = answer_to(&server, &runner, "Create", props, None).await;
        assert_eq!(body.status, Status::Failed);
        let reason = body.reason.as_deref().expect("reason");
        assert!(reason.starts_with(expected), "{reason}");
        assert!(
            reason.ends_with("(log stream 2026/11/22/[$LATEST]abc)"),
            "{reason}"
        );
        assert!(cfn_response::is_failed_create_id(
            &body.physical_resource_id
        ));
    }
}

#[tokio::test]
async fn unknown_request_type_is_answered_failed() {
    let (server, runner) = setup().await;
    // Raw JSON on purpose: the typed request cannot carry a type CloudFormation does not send.
    let mut event = payload(&request(&server, "Update", json!({})));
    event["RequestType"] = json!("Upsert");
    runner
        .handle_payload(&event, &context(None))
        .await
        .expect("answered");
    let body = only_answer(&server.received());
    assert_eq!(body.status, Status::Failed);
    assert_eq!(
        body.physical_resource_id, "demo-stack-Thing",
        "keeps the known id"
    );
    assert!(
        body.reason
            .as_deref()
            .expect("reason")
            .contains("unknown RequestType \"Upsert\"")
    );
    assert_eq!(runner.resource().calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn missing_request_type_and_ids_still_answered() {
    let (server, runner) = setup().await;
    // Raw JSON on purpose: a request missing every field but the URL is not a typed request.
    let event = json!({"ResponseURL": server.url("bare")});
    runner
        .handle_payload(&event, &context(None))
        .await
        .expect("answered");
    let body = only_answer(&server.received());
    assert_eq!(body.status, Status::Failed);
}

#[tokio::test]
async fn aws_error_becomes_the_reason() {
    let (server, runner) = setup().await;
    let body = answer_to(
        &server,
        &runner,
        "Create",
        json!({"Mode": "aws-error"}),
        None,
    )
    .await;
    assert_eq!(body.status, Status::Failed);
    assert!(
        body.reason
            .as_deref()
            .expect("reason")
            .starts_with("AccessDeniedException: User is not authorized")
    );
}

#[tokio::test]
async fn panic_is_answered_failed_with_the_step() {
    let (server, runner) = setup().await;
    let body = answer_to(&server, &runner, "Update", json!({"Mode": "panic"}), None).await;
    assert_eq!(body.status, Status::Failed);
    let reason = body.reason.as_deref().expect("reason");
    assert!(
        reason.contains("panicked while counting sheep: sheep overflow"),
        "{reason}"
    );
    assert_eq!(body.physical_resource_id, "demo-stack-Thing");
}

#[tokio::test]
async fn deadline_is_answered_before_lambda_kills_the_function() {
    let (server, runner) = setup().await;
    let started = std::time::Instant::now();
    let body = answer_to(
        &server,
        &runner,
        "Create",
        json!({"Mode": "sleep"}),
        Some(Duration::from_secs(3)),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}, past the deadline"
    );
    assert_eq!(body.status, Status::Failed);
    let reason = body.reason.as_deref().expect("reason");
    assert!(
        reason.starts_with("timed out after 2 s while waiting for a slow API"),
        "{reason}"
    );
}

#[tokio::test]
async fn delete_after_failed_create_does_nothing_and_succeeds() {
    let (server, runner) = setup().await;
    runner
        .handle_payload(
            &payload(&request(&server, "Create", json!({"Mode": "aws-error"}))),
            &context(None),
        )
        .await
        .expect("answered");
    let failed_id = server.received()[0].answer().physical_resource_id;
    let calls_before = runner.resource().calls.load(Ordering::SeqCst);

    let delete = delete(&server, json!({"Mode": "aws-error"}), &failed_id);
    runner
        .handle_payload(&payload(&delete), &context(None))
        .await
        .expect("answered");
    let received = server.received();
    assert_eq!(received.len(), 2);
    let body = received[1].answer();
    assert_eq!(body.status, Status::Success);
    assert_eq!(body.physical_resource_id, failed_id.as_str());
    assert_eq!(
        runner.resource().calls.load(Ordering::SeqCst),
        calls_before,
        "handler not called"
    );
}

#[tokio::test]
async fn delete_answers_the_id_cloudformation_named() {
    let (server, runner) = setup().await;
    let delete = delete(
        &server,
        json!({"Mode": "replace"}),
        "made-up-by-cloudformation-on-rollback",
    );
    runner
        .handle_payload(&payload(&delete), &context(None))
        .await
        .expect("answered");
    let body = only_answer(&server.received());
    assert_eq!(body.status, Status::Success);
    assert_eq!(
        body.physical_resource_id,
        "made-up-by-cloudformation-on-rollback"
    );
}

#[tokio::test]
async fn oversized_data_is_trimmed_not_dropped_answer() {
    let (server, runner) = setup().await;
    let body = answer_to(
        &server,
        &runner,
        "Create",
        json!({"Mode": "big-data"}),
        None,
    )
    .await;
    assert_eq!(body.status, Status::Success);
    assert_eq!(body.data.get("Small").map(String::as_str), Some("1"));
    assert!(!body.data.contains_key("Big"));
}

#[tokio::test]
async fn non_2xx_answers_are_retried_until_accepted() {
    let (server, runner) = setup().await;
    server.answer_next_with(&[500, 403]);
    runner
        .handle_payload(
            &payload(&request(&server, "Create", json!({}))),
            &context(Some(Duration::from_secs(20))),
        )
        .await
        .expect("delivered");
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0].body, received[2].body,
        "the same answer is resent"
    );
}

#[tokio::test]
async fn undeliverable_answer_is_an_invocation_error() {
    let (server, runner) = setup().await;
    server.answer_next_with(&[500; 50]);
    let err = runner
        .handle_payload(
            &payload(&request(&server, "Create", json!({}))),
            &context(Some(Duration::from_secs(3))),
        )
        .await
        .expect_err("undeliverable");
    let text = err.to_string();
    assert!(text.contains("could not deliver the answer"), "{text}");
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(!text.contains("SECRET-SIGNATURE"), "{text}");
    assert!(server.received().len() >= 2, "retried before giving up");
}

#[tokio::test]
async fn unreachable_url_is_retried_then_reported() {
    // A port nothing listens on: connection refused on every attempt.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let runner = Runner::new(Scripted::default()).expect("runner");
    // Raw JSON on purpose: a bare request with only what the runner needs to try answering.
    let mut event = json!({"RequestType": "Create", "ResponseURL": format!("http://127.0.0.1:{port}/x?X-Amz-Signature=SECRET-SIGNATURE"), "LogicalResourceId": "L"});
    event["ResourceProperties"] = json!({});
    let err = runner
        .handle_payload(&event, &context(Some(Duration::from_secs(2))))
        .await
        .expect_err("refused");
    assert!(matches!(err, RunnerError::Send(_)));
    assert!(!err.to_string().contains("SECRET-SIGNATURE"), "{err}");
}

#[tokio::test]
async fn non_https_url_is_refused_and_nothing_is_sent() {
    let runner = Runner::new(Scripted::default()).expect("runner");
    for url in [
        "http://bucket.s3.amazonaws.com/x?X-Amz-Signature=SECRET",
        "ftp://127.0.0.1/x",
    ] {
        // Raw JSON on purpose: nothing but the URL matters here.
        let event = json!({"RequestType": "Create", "ResponseURL": url, "ResourceProperties": {}});
        let err = runner
            .handle_payload(&event, &context(None))
            .await
            .expect_err("refused");
        assert!(!err.to_string().contains("SECRET"));
    }
    assert_eq!(
        runner.resource().calls.load(Ordering::SeqCst),
        0,
        "no work without a way to answer"
    );
}

#[tokio::test]
async fn payload_without_url_is_an_invocation_error() {
    let runner = Runner::new(Scripted::default()).expect("runner");
    // Raw JSON on purpose: garbage is what is being checked.
    for payload in [
        json!("garbage"),
        json!(null),
        json!({"RequestType": "Create"}),
    ] {
        let err = runner
            .handle_payload(&payload, &context(None))
            .await
            .expect_err("unanswerable");
        assert!(matches!(err, RunnerError::Unanswerable(_)), "{err}");
    }
}

/// A writer that collects log output in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_contain_the_signature_or_noecho_data() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, runner) = setup().await;
    server.answer_next_with(&[503]);
    runner
        .handle_payload(
            &payload(&request(&server, "Create", json!({"Mode": "secret"}))),
            &context(Some(Duration::from_secs(20))),
        )
        .await
        .expect("delivered");
    runner
        .handle_payload(
            &payload(&request(&server, "Create", json!({"Mode": "aws-error"}))),
            &context(None),
        )
        .await
        .expect("delivered");

    let received = server.received();
    let secret = received[1].answer();
    assert!(secret.no_echo, "{secret:?}");
    assert_eq!(
        secret.data.get("Password").map(String::as_str),
        Some("TOP-SECRET-VALUE"),
        "the data itself is sent"
    );
    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logs.contains("answering"), "logs were captured: {logs}");
    assert!(logs.contains("?<redacted>"), "{logs}");
    assert!(!logs.contains("SECRET-SIGNATURE"), "{logs}");
    assert!(!logs.contains("TOP-SECRET-VALUE"), "{logs}");
}
