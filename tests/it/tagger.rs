//! `ec2-os-tagger` against the emulator: the library handler with real SDK clients, answering a real
//! local HTTP server standing in for CloudFormation's pre-signed URL.

use std::time::Duration;

use cfn_response::testing::ResponseServer;
use cfn_response::{ResponseBody, Runner, Status};
use ec2_os_tagger::{Tagger, TaggerError, handle};
use integration_tests::{Emulator, Fault, NodeSpec, isolated, payload};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::support::{
    cfn_request, context, data, ec2_tags, managed_instance_tags, os_tags, scheduled_event,
};

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    runner: Runner<Tagger>,
    server: ResponseServer,
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
}

async fn setup() -> Setup {
    let (emulator, region) = isolated();
    let config = emulator.sdk_config(region, 2).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let runner = Runner::new(Tagger::new(ssm.clone(), ec2.clone())).expect("runner");
    let server = ResponseServer::start().await.expect("response server");
    Setup {
        emulator,
        region,
        runner,
        server,
        ec2,
        ssm,
    }
}

impl Setup {
    async fn seed(&self, nodes: &[NodeSpec]) -> Vec<String> {
        self.emulator
            .seed_nodes(self.region, nodes)
            .await
            .expect("seed")
    }

    async fn invoke(&self, payload: Value) -> Result<Value, TaggerError> {
        handle(
            &self.runner,
            LambdaEvent::new(payload, context(Duration::from_secs(60))),
        )
        .await
        .map(|answer| serde_json::to_value(answer).expect("the answer serializes"))
    }

    /// Sends a custom resource request and returns CloudFormation's view of the answer.
    async fn cfn(&self, kind: &str, physical_id: Option<&str>) -> ResponseBody {
        let before = self.server.received().len();
        let url = self.server.url(&format!("{kind}-{before}"));
        self.invoke(payload(&cfn_request(kind, &url, physical_id)))
            .await
            .expect("answered");
        let received = self.server.received();
        assert_eq!(received.len(), before + 1, "exactly one answer per request");
        assert_eq!(received[before].header("content-type"), Some(""));
        received[before].answer()
    }

    async fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.emulator.calls(self.region).await.expect("calls")
    }
}

fn repeat(n: usize, spec: NodeSpec) -> Vec<NodeSpec> {
    vec![spec; n]
}

#[tokio::test]
async fn create_tags_a_mixed_fleet_over_several_pages_with_batched_calls() {
    let s = setup().await;
    let mut fleet = repeat(60, NodeSpec::ec2("Linux", "Amazon Linux", "2023"));
    fleet.extend(repeat(45, NodeSpec::ec2("Linux", "Ubuntu", "22.04")));
    fleet.extend(repeat(
        15,
        NodeSpec::ec2(
            "Windows",
            "Microsoft Windows Server 2022 Datacenter",
            "10.0.20348",
        ),
    ));
    fleet.extend(repeat(
        30,
        NodeSpec::hybrid("Linux", "Red Hat Enterprise Linux", "9.4"),
    ));
    fleet.extend(repeat(3, NodeSpec::ec2("Linux", "x", "y").unreported()));
    fleet.extend(repeat(2, NodeSpec::hybrid("Linux", "x", "y").unreported()));
    let ids = s.seed(&fleet).await;
    s.emulator.reset_calls(s.region).await.expect("reset");

    let answer = s.cfn("Create", None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(answer.physical_resource_id, "patching-OsTagger");
    assert_eq!(
        answer.data,
        data([
            ("InstancesTagged", "120"),
            ("ManagedInstancesTagged", "30"),
            ("Skipped", "5"),
            ("Vanished", "0")
        ])
    );

    assert_eq!(
        ec2_tags(&s.ec2, &ids[0]).await,
        os_tags("Linux", "Amazon Linux", "2023")
    );
    assert_eq!(
        ec2_tags(&s.ec2, &ids[60]).await,
        os_tags("Linux", "Ubuntu", "22.04")
    );
    assert_eq!(
        ec2_tags(&s.ec2, &ids[119]).await,
        os_tags(
            "Windows",
            "Microsoft Windows Server 2022 Datacenter",
            "10.0.20348"
        )
    );
    assert!(ids[120].starts_with("mi-"));
    assert_eq!(
        managed_instance_tags(&s.ssm, &ids[120]).await,
        os_tags("Linux", "Red Hat Enterprise Linux", "9.4")
    );
    assert!(
        ec2_tags(&s.ec2, &ids[150]).await.is_empty(),
        "unreported nodes are not tagged"
    );

    let calls = s.calls().await;
    // 155 nodes at 50 a page; one CreateTags per OS tag set; one AddTagsToResource per hybrid node.
    assert_eq!(
        calls.get("ssm:DescribeInstanceInformation"),
        Some(&4),
        "{calls:?}"
    );
    assert_eq!(calls.get("ec2:CreateTags"), Some(&3), "{calls:?}");
    assert_eq!(calls.get("ssm:AddTagsToResource"), Some(&30), "{calls:?}");
}

#[tokio::test]
async fn update_tags_nodes_added_since_and_keeps_the_physical_id() {
    let s = setup().await;
    s.seed(&repeat(3, NodeSpec::ec2("Linux", "Amazon Linux", "2")))
        .await;
    let created = s.cfn("Create", None).await;
    let id = created.physical_resource_id.clone();

    let later = s
        .seed(&repeat(2, NodeSpec::ec2("Linux", "SLES", "15.5")))
        .await;
    let updated = s.cfn("Update", Some(&id)).await;
    assert_eq!(updated.status, Status::Success);
    assert_eq!(
        updated.physical_resource_id,
        id.as_str(),
        "an update never replaces the tagger"
    );
    assert_eq!(
        updated.data.get("InstancesTagged").map(String::as_str),
        Some("5")
    );
    assert_eq!(
        ec2_tags(&s.ec2, &later[1]).await,
        os_tags("Linux", "SLES", "15.5")
    );
}

#[tokio::test]
async fn delete_tags_nothing_and_succeeds() {
    let s = setup().await;
    let ids = s
        .seed(&repeat(2, NodeSpec::ec2("Linux", "Amazon Linux", "2023")))
        .await;
    s.emulator.reset_calls(s.region).await.expect("reset");
    let answer = s.cfn("Delete", Some("patching-OsTagger")).await;
    assert_eq!(answer.status, Status::Success);
    assert_eq!(answer.physical_resource_id, "patching-OsTagger");
    assert!(s.calls().await.is_empty(), "Delete makes no AWS call");
    assert!(ec2_tags(&s.ec2, &ids[0]).await.is_empty());
}

#[tokio::test]
async fn delete_after_a_failed_create_succeeds() {
    let s = setup().await;
    s.seed(&[NodeSpec::ec2("Linux", "Amazon Linux", "2023")])
        .await;
    s.emulator
        .inject(Fault::new(
            "ssm",
            "DescribeInstanceInformation",
            s.region,
            400,
            "AccessDeniedException",
            "User is not authorized to perform: ssm:DescribeInstanceInformation",
        ))
        .await
        .expect("fault");
    let failed = s.cfn("Create", None).await;
    assert_eq!(failed.status, Status::Failed);
    let marker = failed.physical_resource_id.clone();
    s.emulator.reset_calls(s.region).await.expect("reset");
    let deleted = s.cfn("Delete", Some(&marker)).await;
    assert_eq!(deleted.status, Status::Success);
    assert!(s.calls().await.is_empty());
}

#[tokio::test]
async fn schedule_tags_nodes_launched_after_the_deployment() {
    let s = setup().await;
    let ids = s
        .seed(&[
            NodeSpec::ec2("Linux", "Rocky Linux", "9.3"),
            NodeSpec::hybrid(
                "Windows",
                "Microsoft Windows Server 2019 Datacenter",
                "10.0.17763",
            ),
        ])
        .await;
    let report = s
        .invoke(scheduled_event(s.region))
        .await
        .expect("scheduled run");
    assert_eq!(report["InstancesTagged"], 1);
    assert_eq!(report["ManagedInstancesTagged"], 1);
    assert_eq!(
        ec2_tags(&s.ec2, &ids[0]).await,
        os_tags("Linux", "Rocky Linux", "9.3")
    );
    assert_eq!(
        managed_instance_tags(&s.ssm, &ids[1]).await,
        os_tags(
            "Windows",
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763"
        )
    );
    assert!(
        s.server.received().is_empty(),
        "a scheduled run answers no CloudFormation"
    );
}

#[tokio::test]
async fn nodes_terminated_mid_run_are_dropped_and_the_rest_tagged() {
    let s = setup().await;
    let mut fleet = repeat(4, NodeSpec::ec2("Linux", "Amazon Linux", "2023"));
    fleet.insert(
        1,
        NodeSpec::ec2("Linux", "Amazon Linux", "2023").without_instance(),
    );
    fleet.push(NodeSpec::ec2("Linux", "Amazon Linux", "2023").without_instance());
    let ids = s.seed(&fleet).await;
    s.emulator.reset_calls(s.region).await.expect("reset");

    let answer = s.cfn("Create", None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(
        answer.data.get("InstancesTagged").map(String::as_str),
        Some("4")
    );
    assert_eq!(answer.data.get("Vanished").map(String::as_str), Some("2"));
    assert_eq!(
        ec2_tags(&s.ec2, &ids[0]).await,
        os_tags("Linux", "Amazon Linux", "2023")
    );
    let calls = s.calls().await;
    assert_eq!(
        calls.get("ec2:CreateTags"),
        Some(&2),
        "one rejected call, one retry: {calls:?}"
    );
}

#[tokio::test]
async fn nodes_without_platform_details_are_skipped_not_failed() {
    let s = setup().await;
    s.seed(&[
        NodeSpec::ec2("Linux", "x", "y").unreported(),
        NodeSpec::hybrid("Windows", "x", "y").unreported(),
    ])
    .await;
    let answer = s.cfn("Create", None).await;
    assert_eq!(answer.status, Status::Success);
    assert_eq!(
        answer.data,
        data([
            ("InstancesTagged", "0"),
            ("ManagedInstancesTagged", "0"),
            ("Skipped", "2"),
            ("Vanished", "0")
        ])
    );
}

#[tokio::test]
async fn aws_errors_answer_failed_after_tagging_what_could_be_tagged() {
    let s = setup().await;
    let ids = s
        .seed(&[
            NodeSpec::ec2("Linux", "Amazon Linux", "2023"),
            NodeSpec::hybrid("Linux", "Ubuntu", "24.04"),
        ])
        .await;
    s.emulator
        .inject(
            Fault::new(
                "ec2",
                "CreateTags",
                s.region,
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )
            .always(),
        )
        .await
        .expect("fault");
    let answer = s.cfn("Create", None).await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.contains(
            "ec2:CreateTags failed for 1 instance(s): UnauthorizedOperation: You are not authorized"
        ),
        "{reason}"
    );
    assert!(
        reason.starts_with("tagged 0 EC2 instances and 1 managed instances"),
        "{reason}"
    );
    assert_eq!(
        managed_instance_tags(&s.ssm, &ids[1]).await,
        os_tags("Linux", "Ubuntu", "24.04")
    );

    // The same failure on a scheduled run is an invocation error, so Lambda retries it.
    let err = s
        .invoke(scheduled_event(s.region))
        .await
        .expect_err("fails");
    assert!(matches!(err, TaggerError::Partial { .. }), "{err}");
}

#[tokio::test]
async fn describe_failure_answers_failed_with_the_aws_error() {
    let s = setup().await;
    s.emulator
        .inject(Fault::new(
            "ssm",
            "DescribeInstanceInformation",
            s.region,
            400,
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/tagger is not authorized",
        ))
        .await
        .expect("fault");
    let answer = s.cfn("Update", Some("patching-OsTagger")).await;
    assert_eq!(answer.status, Status::Failed);
    assert_eq!(answer.physical_resource_id, "patching-OsTagger");
    assert!(answer.reason.as_deref().expect("reason")
        .contains("AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/tagger is not authorized"));
}

#[tokio::test]
async fn malformed_requests_are_answered_or_rejected_clearly() {
    let s = setup().await;
    // Unknown RequestType: answered FAILED, nothing tagged. Raw JSON on purpose: the typed request
    // cannot carry a type CloudFormation does not send.
    let mut bad = payload(&cfn_request("Create", &s.server.url("bad"), None));
    bad["RequestType"] = json!("Replace");
    s.invoke(bad).await.expect("answered");
    let answer = s.server.received()[0].answer();
    assert_eq!(answer.status, Status::Failed);
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("unknown RequestType \"Replace\"")
    );

    // Update without a PhysicalResourceId. Raw JSON on purpose: the typed request always has the
    // field, and this request must not.
    let mut noid = payload(&cfn_request("Update", &s.server.url("noid"), None));
    noid.as_object_mut()
        .map(|request| request.remove("PhysicalResourceId"));
    s.invoke(noid).await.expect("answered");
    let answer = s.server.received()[1].answer();
    assert_eq!(answer.status, Status::Failed);
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("Update request without PhysicalResourceId"),
        "{answer:?}"
    );

    // Neither a custom resource request nor a scheduled event.
    for payload in [json!({"hello": "world"}), json!("text"), json!(null)] {
        let err = s.invoke(payload).await.expect_err("rejected");
        assert!(
            err.to_string()
                .starts_with("unsupported event: expected a CloudFormation"),
            "{err}"
        );
    }
    assert!(
        s.calls().await.is_empty(),
        "no AWS call for a malformed request"
    );
}
