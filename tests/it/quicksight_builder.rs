//! `quicksight-builder` against the emulator's QuickSight, answering a real local HTTP server.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_quicksight::types::{DataSourceParameters, DataSourceType, PhysicalTable};
use cfn_response::testing::ResponseServer;
use cfn_response::{ResponseBody, Status};
use integration_tests::lambda::{LocalFunction, Outcome};
use integration_tests::{CfnRequest, CustomResourceRequests, Emulator, Fault, isolated, payload};
use quicksight_builder::QuickSightBuilder;
use serde_json::{Value, json};

use crate::support::{Cfn, workspace_binary};

const ACCOUNT: &str = "111122223333";
/// QuickSight's identity Region (us-east-1) differs from the stack's Region on purpose.
const AUTHORS: &str = "arn:aws:quicksight:us-east-1:111122223333:group/default/compliance-authors";
const ALICE: &str = "arn:aws:quicksight:us-east-1:111122223333:user/default/alice";

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    qs: aws_sdk_quicksight::Client,
    cr: Cfn<QuickSightBuilder>,
}

async fn setup() -> Setup {
    let (emulator, region) = isolated();
    // The data sources belong to ACCOUNT: the handler acts there as that account's administrator.
    let qs = aws_sdk_quicksight::Client::new(&emulator.sdk_config_as(region, 1, ACCOUNT).await);
    let requests = CustomResourceRequests::new(
        "Custom::QuickSightBuilder",
        "Datasets",
        region,
        ACCOUNT,
        "quicksight",
        "quicksight-builder",
    );
    Setup {
        emulator,
        region,
        cr: Cfn::start(QuickSightBuilder::new(qs.clone(), region), requests).await,
        qs,
    }
}

fn props() -> Value {
    json!({"WorkGroup": "patch-compliance", "Database": "patch_compliance", "PrincipalArns": [AUTHORS]})
}

impl Setup {
    fn arn(&self, id: &str) -> String {
        format!(
            "arn:aws:quicksight:{}:{ACCOUNT}:datasource/{id}",
            self.region
        )
    }

    /// Sends one request and returns the answer CloudFormation received.
    async fn cfn(
        &self,
        kind: &str,
        physical_id: Option<&str>,
        properties: Value,
        old: Option<Value>,
    ) -> ResponseBody {
        self.cr.send(kind, physical_id, properties, old).await
    }

    async fn calls(&self) -> BTreeMap<String, u64> {
        let calls = self.emulator.calls(self.region).await.expect("calls");
        self.emulator
            .reset_calls(self.region)
            .await
            .expect("reset calls");
        calls
    }

    async fn data_set_ids(&self) -> Vec<String> {
        let out = self
            .qs
            .list_data_sets()
            .aws_account_id(ACCOUNT)
            .send()
            .await
            .expect("list");
        let mut ids: Vec<String> = out
            .data_set_summaries()
            .iter()
            .filter_map(|d| d.data_set_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// Principal → actions of a dataset.
    async fn data_set_grants(&self, id: &str) -> BTreeMap<String, usize> {
        let out = self
            .qs
            .describe_data_set_permissions()
            .aws_account_id(ACCOUNT)
            .data_set_id(id)
            .send()
            .await
            .expect("permissions");
        out.permissions()
            .iter()
            .map(|p| (p.principal().to_owned(), p.actions().len()))
            .collect()
    }

    async fn data_source_grants(&self, id: &str) -> Vec<String> {
        let out = self
            .qs
            .describe_data_source_permissions()
            .aws_account_id(ACCOUNT)
            .data_source_id(id)
            .send()
            .await
            .expect("permissions");
        out.permissions()
            .iter()
            .map(|p| p.principal().to_owned())
            .collect()
    }

    async fn work_group(&self, id: &str) -> String {
        let out = self
            .qs
            .describe_data_source()
            .aws_account_id(ACCOUNT)
            .data_source_id(id)
            .send()
            .await
            .expect("data source");
        let ds = out.data_source().expect("data source");
        assert_eq!(ds.r#type(), Some(&DataSourceType::Athena));
        match ds.data_source_parameters() {
            Some(DataSourceParameters::AthenaParameters(p)) => {
                p.work_group().unwrap_or_default().to_owned()
            }
            other => panic!("not Athena parameters: {other:?}"),
        }
    }

    /// (SQL, import mode, column names) of a dataset.
    async fn data_set_sql(&self, id: &str) -> (String, String, Vec<String>) {
        let out = self
            .qs
            .describe_data_set()
            .aws_account_id(ACCOUNT)
            .data_set_id(id)
            .send()
            .await
            .expect("dataset");
        let ds = out.data_set().expect("dataset");
        let table = ds
            .physical_table_map()
            .expect("tables")
            .get("sql")
            .expect("the sql table");
        let PhysicalTable::CustomSql(sql) = table else {
            panic!("not custom SQL: {table:?}")
        };
        assert_eq!(sql.data_source_arn(), self.arn("patch-compliance"));
        (
            sql.sql_query().to_owned(),
            ds.import_mode()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            sql.columns().iter().map(|c| c.name().to_owned()).collect(),
        )
    }
}

const INVENTORY_SETS: [&str; 3] = [
    "patch-compliance-node-tags",
    "patch-compliance-nodes",
    "patch-compliance-patches",
];

#[tokio::test]
async fn create_builds_the_data_source_and_datasets_and_a_retry_converges() {
    let s = setup().await;
    let answer = s.cfn("Create", None, props(), None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    let arn = s.arn("patch-compliance");
    assert_eq!(answer.physical_resource_id, arn.as_str());
    assert_eq!(
        answer.data.get("DataSourceArn").map(String::as_str),
        Some(arn.as_str())
    );
    assert_eq!(
        answer.data.get("DataSetIds").map(String::as_str),
        Some("patch-compliance-nodes,patch-compliance-patches,patch-compliance-node-tags")
    );
    assert_eq!(
        answer.data.get("NodeTagsDataSetArn"),
        Some(&format!(
            "arn:aws:quicksight:{}:{ACCOUNT}:dataset/patch-compliance-node-tags",
            s.region
        ))
    );
    assert_eq!(s.work_group("patch-compliance").await, "patch-compliance");
    assert_eq!(s.data_set_ids().await, INVENTORY_SETS);
    assert_eq!(s.data_source_grants("patch-compliance").await, [AUTHORS]);
    for id in INVENTORY_SETS {
        assert_eq!(
            s.data_set_grants(id).await,
            BTreeMap::from([(AUTHORS.to_owned(), 10)])
        );
    }
    let (sql, mode, columns) = s.data_set_sql("patch-compliance-nodes").await;
    assert_eq!(mode, "DIRECT_QUERY");
    assert!(
        sql.contains("FROM \"patch_compliance\".aws_instanceinformation") && !sql.contains("${"),
        "{sql}"
    );
    assert_eq!(&columns[..3], ["account_id", "region", "node_id"]);
    assert_eq!(
        s.calls().await,
        BTreeMap::from([
            ("quicksight:CreateDataSource".into(), 1),
            ("quicksight:CreateDataSet".into(), 3),
            // The Config dataset is not wanted: removing a leftover of an earlier attempt.
            ("quicksight:DeleteDataSet".into(), 1),
            // Test reads.
            ("quicksight:DescribeDataSet".into(), 1),
            ("quicksight:DescribeDataSetPermissions".into(), 3),
            ("quicksight:DescribeDataSource".into(), 1),
            ("quicksight:DescribeDataSourcePermissions".into(), 1),
            ("quicksight:ListDataSets".into(), 1),
        ])
    );

    // CloudFormation or Lambda may deliver the Create again: same state, same answer.
    let again = s.cfn("Create", None, props(), None).await;
    assert_eq!(again.status, Status::Success, "{again:?}");
    assert_eq!(again.physical_resource_id, answer.physical_resource_id);
    assert_eq!(again.data, answer.data);
    assert_eq!(s.data_set_ids().await, INVENTORY_SETS);
}

#[tokio::test]
async fn config_datasets_spice_and_update_in_place() {
    let s = setup().await;
    let mut with_config = props();
    with_config["ConfigSnapshotTable"] = json!("aws_config_snapshot");
    with_config["ConfigDatabase"] = json!("config_analytics");
    with_config["ImportMode"] = json!("SPICE");
    let answer = s.cfn("Create", None, with_config.clone(), None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    let arn = s.arn("patch-compliance");
    let mut all = INVENTORY_SETS.to_vec();
    all.insert(0, "patch-compliance-config-compliance");
    assert_eq!(s.data_set_ids().await, all);
    let (sql, mode, _) = s.data_set_sql("patch-compliance-config-compliance").await;
    assert_eq!(mode, "SPICE");
    assert!(
        sql.contains("FROM \"config_analytics\".\"aws_config_snapshot\""),
        "{sql}"
    );
    s.calls().await;

    // Update: another workgroup, Alice instead of the authors group, Config off, direct query.
    let mut updated = props();
    updated["WorkGroup"] = json!("reporting");
    updated["PrincipalArns"] = json!(ALICE);
    let answer = s
        .cfn("Update", Some(&arn), updated.clone(), Some(with_config))
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(
        answer.physical_resource_id,
        arn.as_str(),
        "in place, not replaced"
    );
    assert_eq!(
        s.calls().await,
        BTreeMap::from([
            ("quicksight:UpdateDataSource".into(), 1),
            ("quicksight:UpdateDataSourcePermissions".into(), 1),
            ("quicksight:UpdateDataSet".into(), 3),
            ("quicksight:UpdateDataSetPermissions".into(), 3),
            ("quicksight:DeleteDataSet".into(), 1),
        ])
    );
    assert_eq!(s.work_group("patch-compliance").await, "reporting");
    assert_eq!(
        s.data_set_ids().await,
        INVENTORY_SETS,
        "Config dataset deleted"
    );
    assert_eq!(s.data_source_grants("patch-compliance").await, [ALICE]);
    for id in INVENTORY_SETS {
        assert_eq!(
            s.data_set_grants(id).await,
            BTreeMap::from([(ALICE.to_owned(), 10)]),
            "the removed group lost its access"
        );
        assert_eq!(s.data_set_sql(id).await.1, "DIRECT_QUERY");
    }

    // An Update finding a dataset deleted by hand puts it back.
    s.qs.delete_data_set()
        .aws_account_id(ACCOUNT)
        .data_set_id("patch-compliance-patches")
        .send()
        .await
        .expect("delete by hand");
    let answer = s
        .cfn("Update", Some(&arn), updated.clone(), Some(updated))
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(s.data_set_ids().await, INVENTORY_SETS);
}

#[tokio::test]
async fn a_new_data_source_id_is_a_replacement_and_delete_removes_everything() {
    let s = setup().await;
    let first = s.cfn("Create", None, props(), None).await;
    let old_id = first.physical_resource_id.clone();
    let mut renamed = props();
    renamed["DataSourceId"] = json!("compliance-v2");
    let answer = s
        .cfn("Update", Some(&old_id), renamed.clone(), Some(props()))
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    let new_id = s.arn("compliance-v2");
    assert_eq!(answer.physical_resource_id, new_id.as_str());
    // The Update built the new ones and deleted the old ones, while the template's previous-id
    // policy still let the role delete them.
    assert_eq!(
        s.data_set_ids().await,
        [
            "compliance-v2-node-tags",
            "compliance-v2-nodes",
            "compliance-v2-patches"
        ]
    );

    // CloudFormation's Delete of the old resource finds nothing to delete and asks for nothing
    // (the role may no longer touch the old names): two listings, no delete.
    s.calls().await;
    let answer = s.cfn("Delete", Some(&old_id), props(), None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(s.data_set_ids().await.len(), 3);
    let listed = s.calls().await;
    assert!(
        !listed.keys().any(|call| call.contains("Delete")),
        "{listed:?}"
    );
    let answer = s.cfn("Delete", Some(&new_id), renamed.clone(), None).await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert!(s.data_set_ids().await.is_empty());
    assert_eq!(
        s.calls().await,
        BTreeMap::from([
            ("quicksight:DeleteDataSet".into(), 3),
            ("quicksight:DeleteDataSource".into(), 1),
            ("quicksight:ListDataSets".into(), 2),
            ("quicksight:ListDataSources".into(), 1),
        ])
    );
    let gone =
        s.qs.describe_data_source()
            .aws_account_id(ACCOUNT)
            .data_source_id("compliance-v2")
            .send()
            .await;
    assert!(gone.is_err(), "data source deleted");

    // Deleting again, or a physical id that is not ours, is success.
    for id in [new_id.as_str(), "quicksight-Datasets-garbage"] {
        let answer = s.cfn("Delete", Some(id), renamed.clone(), None).await;
        assert_eq!(answer.status, Status::Success, "{answer:?}");
    }
}

#[tokio::test]
async fn bad_input_and_conflicts_fail_with_a_reason_and_touch_nothing() {
    let s = setup().await;
    let mut bad = props();
    bad["PrincipalArns"] = json!("arn:aws:quicksight:us-east-1:444455556666:user/default/bob");
    let answer = s.cfn("Create", None, bad, None).await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.contains("PrincipalArns") && reason.contains("belongs to account 444455556666"),
        "{reason}"
    );
    assert!(s.calls().await.is_empty(), "no AWS call before validation");

    // Someone else's data source of another type under our id is not adopted.
    s.qs.create_data_source()
        .aws_account_id(ACCOUNT)
        .data_source_id("patch-compliance")
        .name("finance S3 manifests")
        .r#type(DataSourceType::S3)
        .send()
        .await
        .expect("foreign data source");
    let answer = s.cfn("Create", None, props(), None).await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.contains("is a S3 data source, not an Athena one")
            && reason.contains("another DataSourceId"),
        "{reason}"
    );
    assert!(s.data_set_ids().await.is_empty());
}

#[tokio::test]
async fn an_access_error_is_reported_with_the_failing_call() {
    let s = setup().await;
    s.emulator
        .inject(
            Fault::new(
                "quicksight",
                "CreateDataSet",
                s.region,
                403,
                "AccessDeniedException",
                "User is not authorized to perform quicksight:PassDataSource",
            )
            .always(),
        )
        .await
        .expect("fault");
    let answer = s.cfn("Create", None, props(), None).await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.contains("quicksight:CreateDataSet failed for patch-compliance-nodes")
            && reason.contains("AccessDeniedException: User is not authorized"),
        "{reason}"
    );
}

/// The real binary, run as Lambda runs it: with neither `AwsAccountId` nor a `ServiceToken`, the
/// account comes from the invoked function ARN of the Lambda context; the Region from AWS_REGION.
#[tokio::test]
async fn binary_takes_its_account_from_the_lambda_context() {
    let (emulator, region) = isolated();
    let server = ResponseServer::start().await.expect("server");
    let function = LocalFunction::start(
        &workspace_binary("quicksight-builder"),
        "quicksight-builder",
        &emulator.function_env(region),
        Duration::from_secs(30),
    )
    .await
    .expect("function starts");
    // LocalFunction's context names account 123456789012; the request carries no ServiceToken.
    let requests = CustomResourceRequests::new(
        "Custom::QuickSightBuilder",
        "Datasets",
        region,
        "123456789012",
        "quicksight",
        "quicksight-builder",
    );
    let request = |kind: &str, url: String, physical_id: Option<&str>| {
        let properties = json!({"WorkGroup": "primary", "Database": "patch_compliance",
            "PrincipalArns": "arn:aws:quicksight:us-east-1:123456789012:user/default/alice"});
        let mut r = requests.request(kind, &url, physical_id, properties, None);
        match &mut r {
            CfnRequest::Create(r) => r.service_token = None,
            CfnRequest::Delete(r) => r.service_token = None,
            other => panic!("only Create and Delete are sent here: {other:?}"),
        }
        payload(&r)
    };
    let invoked = function
        .invoke(
            &request("Create", server.url("create"), None),
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
    let arn = format!("arn:aws:quicksight:{region}:123456789012:datasource/patch-compliance");
    assert_eq!(answer.physical_resource_id, arn.as_str());

    function
        .invoke(
            &request("Delete", server.url("delete"), Some(&arn)),
            Duration::from_secs(60),
        )
        .await
        .expect("invoked");
    let answers = server.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(
        answers[1].answer().status,
        Status::Success,
        "{:?}",
        answers[1].answer()
    );
    let calls = emulator.calls(region).await.expect("calls");
    assert_eq!(calls.get("quicksight:DeleteDataSource"), Some(&1));
}
