//! `org-data-sync` against the emulator's resource data syncs, answering a real local HTTP server.

use cfn_response::{ResponseBody, Status};
use integration_tests::{CustomResourceRequests, Emulator, Fault, isolated};
use org_data_sync::DataSync;
use serde_json::{Value, json};

use crate::support::Cfn;

struct Setup {
    emulator: &'static Emulator,
    region: &'static str,
    ssm: aws_sdk_ssm::Client,
    cr: Cfn<DataSync>,
}

async fn setup() -> Setup {
    let (emulator, region) = isolated();
    let ssm = aws_sdk_ssm::Client::new(&emulator.sdk_config(region, 2).await);
    let requests = CustomResourceRequests::new(
        "Custom::OrgDataSync",
        "DataSync",
        "us-east-1",
        "111122223333",
        "StackSet-sync-abc",
        "org-data-sync",
    );
    Setup {
        emulator,
        region,
        cr: Cfn::start(DataSync::new(ssm.clone()), requests).await,
        ssm,
    }
}

fn props(name: &str, bucket: &str) -> Value {
    json!({"ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:org-data-sync",
           "SyncName": name, "BucketName": bucket, "BucketRegion": "us-east-1", "BucketPrefix": "inventory"})
}

impl Setup {
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

    /// Sync name → (bucket, prefix, sharing type).
    async fn syncs(&self) -> Vec<(String, String, Option<String>, Option<String>)> {
        let out = self
            .ssm
            .list_resource_data_sync()
            .send()
            .await
            .expect("list");
        out.resource_data_sync_items()
            .iter()
            .map(|i| {
                let s3 = i.s3_destination().expect("destination");
                (
                    i.sync_name().unwrap_or_default().to_owned(),
                    s3.bucket_name().to_owned(),
                    s3.prefix().map(str::to_owned),
                    s3.destination_data_sharing()
                        .and_then(|d| d.destination_data_sharing_type())
                        .map(str::to_owned),
                )
            })
            .collect()
    }

    async fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.emulator.calls(self.region).await.expect("calls")
    }
}

#[tokio::test]
async fn create_makes_an_organization_sync_and_a_retried_create_succeeds() {
    let s = setup().await;
    let answer = s
        .cfn(
            "Create",
            None,
            props("patch-compliance", "central-sync-bucket"),
            None,
        )
        .await;
    assert_eq!(answer.status, Status::Success, "{answer:?}");
    assert_eq!(answer.physical_resource_id, "patch-compliance");
    assert_eq!(
        answer.data.get("SyncName").map(String::as_str),
        Some("patch-compliance")
    );
    assert_eq!(
        s.syncs().await,
        vec![(
            "patch-compliance".into(),
            "central-sync-bucket".into(),
            Some("inventory".into()),
            Some("Organization".into())
        )]
    );
    let again = s
        .cfn(
            "Create",
            None,
            props("patch-compliance", "central-sync-bucket"),
            None,
        )
        .await;
    assert_eq!(
        again.status,
        Status::Success,
        "a retried Create converges: {again:?}"
    );
    assert_eq!(s.syncs().await.len(), 1);
}

#[tokio::test]
async fn someone_elses_sync_is_never_adopted_nor_deleted() {
    let s = setup().await;
    let foreign = org_data_sync::Destination {
        bucket: "someone-elses-bucket".into(),
        region: "us-east-1".into(),
        prefix: None,
        kms_key_arn: None,
        organization: false,
    };
    s.ssm
        .create_resource_data_sync()
        .sync_name("patch-compliance")
        .sync_type("SyncToDestination")
        .s3_destination(foreign.to_s3().expect("s3"))
        .send()
        .await
        .expect("foreign sync");
    let answer = s
        .cfn(
            "Create",
            None,
            props("patch-compliance", "central-sync-bucket"),
            None,
        )
        .await;
    assert_eq!(answer.status, Status::Failed);
    let reason = answer.reason.as_deref().expect("reason");
    assert!(
        reason.contains("already exists and writes to s3://someone-elses-bucket/"),
        "{reason}"
    );
    assert!(reason.contains("will not be adopted"), "{reason}");

    // CloudFormation then deletes the failed resource: the foreign sync must survive.
    let marker = answer.physical_resource_id.clone();
    let deleted = s
        .cfn(
            "Delete",
            Some(&marker),
            props("patch-compliance", "central-sync-bucket"),
            None,
        )
        .await;
    assert_eq!(deleted.status, Status::Success);
    assert_eq!(s.syncs().await[0].1, "someone-elses-bucket");
}

#[tokio::test]
async fn update_does_nothing_replaces_the_destination_or_renames() {
    let s = setup().await;
    let v1 = props("patch-compliance", "central-sync-bucket");
    s.cfn("Create", None, v1.clone(), None).await;

    // Unchanged: one look at the sync, nothing written.
    s.emulator.reset_calls(s.region).await.expect("reset");
    let same = s
        .cfn(
            "Update",
            Some("patch-compliance"),
            v1.clone(),
            Some(v1.clone()),
        )
        .await;
    assert_eq!(same.status, Status::Success);
    assert_eq!(
        s.calls().await,
        [("ssm:ListResourceDataSync".to_owned(), 1)].into()
    );

    // New destination, same name: deleted and created again, same physical id.
    let v2 = props("patch-compliance", "new-central-bucket");
    let moved = s
        .cfn(
            "Update",
            Some("patch-compliance"),
            v2.clone(),
            Some(v1.clone()),
        )
        .await;
    assert_eq!(moved.status, Status::Success, "{moved:?}");
    assert_eq!(moved.physical_resource_id, "patch-compliance");
    assert_eq!(s.syncs().await[0].1, "new-central-bucket");
    let calls = s.calls().await;
    assert_eq!(
        calls.get("ssm:DeleteResourceDataSync"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("ssm:UpdateResourceDataSync"),
        None,
        "UpdateResourceDataSync cannot change a SyncToDestination sync"
    );

    // New name: a new sync and a new physical id. Both are organization syncs, of which SSM allows
    // one per account and Region, so the old one goes first; CloudFormation's later Delete of the
    // old id finds nothing and succeeds.
    let v3 = props("patch-compliance-v2", "new-central-bucket");
    let renamed = s
        .cfn(
            "Update",
            Some("patch-compliance"),
            v3.clone(),
            Some(v2.clone()),
        )
        .await;
    assert_eq!(renamed.status, Status::Success, "{renamed:?}");
    assert_eq!(renamed.physical_resource_id, "patch-compliance-v2");
    let old_deleted = s.cfn("Delete", Some("patch-compliance"), v2, None).await;
    assert_eq!(old_deleted.status, Status::Success);
    let names: Vec<String> = s.syncs().await.into_iter().map(|s| s.0).collect();
    assert_eq!(names, ["patch-compliance-v2"]);
}

/// A rename whose new sync is refused after the old one was deleted: the old one is restored
/// before the answer, and CloudFormation's rollback (an Update back to the old properties)
/// converges, even when the restore failed too.
#[tokio::test]
async fn a_rename_that_fails_halfway_leaves_what_the_rollback_restores() {
    for failures in [1, 2] {
        let s = setup().await;
        let old = props("patch-compliance", "central-sync-bucket");
        let new = props("patch-compliance-v2", "central-sync-bucket");
        s.cfn("Create", None, old.clone(), None).await;
        // A refusal the SDK does not retry (an internal error would be retried and succeed).
        let mut fault = Fault::new(
            "ssm",
            "CreateResourceDataSync",
            s.region,
            400,
            "ResourceDataSyncInvalidConfigurationException",
            "The destination bucket policy does not allow the sync",
        );
        fault.times = failures;
        s.emulator.inject(fault).await.expect("fault");
        let failed = s
            .cfn(
                "Update",
                Some("patch-compliance"),
                new.clone(),
                Some(old.clone()),
            )
            .await;
        assert_eq!(failed.status, Status::Failed, "{failed:?}");
        let reason = failed.reason.as_deref().expect("reason");
        assert!(
            reason.contains("could not create resource data sync \"patch-compliance-v2\" in place of \"patch-compliance\""),
            "{reason}"
        );
        let names = |syncs: Vec<(String, String, Option<String>, Option<String>)>| {
            syncs.into_iter().map(|s| s.0).collect::<Vec<_>>()
        };
        if failures == 1 {
            assert!(reason.contains("was restored"), "{reason}");
            assert_eq!(names(s.syncs().await), ["patch-compliance"]);
        } else {
            assert!(reason.contains("failed too"), "{reason}");
            assert!(s.syncs().await.is_empty());
        }
        // The rollback: the resource still has the old id; the old properties come back.
        let rolled_back = s
            .cfn(
                "Update",
                Some("patch-compliance"),
                old.clone(),
                Some(new.clone()),
            )
            .await;
        assert_eq!(rolled_back.status, Status::Success, "{rolled_back:?}");
        assert_eq!(rolled_back.physical_resource_id, "patch-compliance");
        assert_eq!(
            names(s.syncs().await),
            ["patch-compliance"],
            "{failures} failures"
        );
    }
}

#[tokio::test]
async fn a_rename_onto_someone_elses_sync_changes_nothing() {
    let s = setup().await;
    let old = props("patch-compliance", "central-sync-bucket");
    s.cfn("Create", None, old.clone(), None).await;
    let foreign = org_data_sync::Destination {
        bucket: "someone-elses-bucket".into(),
        region: "us-east-1".into(),
        prefix: None,
        kms_key_arn: None,
        organization: false,
    };
    s.ssm
        .create_resource_data_sync()
        .sync_name("taken")
        .sync_type("SyncToDestination")
        .s3_destination(foreign.to_s3().expect("s3"))
        .send()
        .await
        .expect("foreign sync");
    let answer = s
        .cfn(
            "Update",
            Some("patch-compliance"),
            props("taken", "central-sync-bucket"),
            Some(old),
        )
        .await;
    assert_eq!(answer.status, Status::Failed);
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("will not be adopted"),
        "{answer:?}"
    );
    let mut names: Vec<String> = s.syncs().await.into_iter().map(|s| s.0).collect();
    names.sort();
    assert_eq!(names, ["patch-compliance", "taken"], "nothing deleted");
}

/// Syncs for this account only may exist side by side: the new one is created before the old one
/// is deleted, so the account never goes without one; the old one goes within the Update, while
/// the template's previous-name policy still lets the role delete it, and CloudFormation's later
/// Delete of the old id finds nothing (no DeleteResourceDataSync call, which the role could no
/// longer make).
#[tokio::test]
async fn an_account_only_rename_creates_the_new_sync_beside_the_old() {
    let s = setup().await;
    let mut old = props("patch-compliance", "central-sync-bucket");
    old["OrganizationSharing"] = json!("false");
    let mut new = old.clone();
    new["SyncName"] = json!("patch-compliance-v2");
    s.cfn("Create", None, old.clone(), None).await;
    let renamed = s
        .cfn(
            "Update",
            Some("patch-compliance"),
            new.clone(),
            Some(old.clone()),
        )
        .await;
    assert_eq!(renamed.status, Status::Success, "{renamed:?}");
    let names: Vec<String> = s.syncs().await.into_iter().map(|s| s.0).collect();
    assert_eq!(
        names,
        ["patch-compliance-v2"],
        "the Update removed the old one"
    );
    let deleted = s.cfn("Delete", Some("patch-compliance"), old, None).await;
    assert_eq!(deleted.status, Status::Success);
    let names: Vec<String> = s.syncs().await.into_iter().map(|s| s.0).collect();
    assert_eq!(names, ["patch-compliance-v2"]);
}

#[tokio::test]
async fn delete_of_a_missing_sync_succeeds() {
    let s = setup().await;
    let answer = s
        .cfn(
            "Delete",
            Some("never-created"),
            props("never-created", "central-sync-bucket"),
            None,
        )
        .await;
    assert_eq!(answer.status, Status::Success);
    assert_eq!(answer.physical_resource_id, "never-created");
}

#[tokio::test]
async fn bad_input_is_answered_before_any_aws_call() {
    let s = setup().await;
    let mut bad = props("patch-compliance", "Central_Bucket");
    let answer = s.cfn("Create", None, bad.clone(), None).await;
    assert_eq!(answer.status, Status::Failed);
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("property `BucketName` is invalid")
    );
    bad["BucketName"] = json!("central-sync-bucket");
    bad["KmsKeyArn"] = json!("not-an-arn");
    let answer = s.cfn("Create", None, bad, None).await;
    assert!(
        answer
            .reason
            .as_deref()
            .expect("reason")
            .contains("property `KmsKeyArn` is invalid")
    );
    assert!(s.calls().await.is_empty());
}
