//! `sync-monitor` against the emulator's S3: the library on a bucket laid out as the syncs write
//! it (pages of 1000 keys, several type folders), and the real binary's metric line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use integration_tests::isolated;
use integration_tests::lambda::{LocalFunction, Outcome};
use serde_json::{Value, json};
use sync_monitor::{Monitor, Settings};

use crate::support::workspace_binary;

async fn bucket(s3: &aws_sdk_s3::Client, region: &str, name: &str) {
    let mut create = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.expect("CreateBucket");
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"{\"resourceId\":\"i\"}\n"))
        .send()
        .await
        .expect("PutObject");
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[tokio::test]
async fn every_account_and_region_is_found_across_pages_and_folders() {
    let (emulator, region) = isolated();
    let s3 = aws_setup::s3_client(&emulator.sdk_config(region, 2).await);
    let name = format!("sync-monitor-{region}");
    bucket(&s3, region, &name).await;
    // 1,200 node files of one account and Region (two pages), one file of another, the write check.
    for i in 0..1200 {
        put(&s3, &name, &format!("inventory/AWS:ComplianceSummary/accountid=111111111111/region=eu-west-1/resourcetype=ManagedInstanceInventory/i-{i:05}.json")).await;
    }
    put(&s3, &name, "inventory/AWS:Tag/accountid=222222222222/region=us-east-1/resourcetype=EC2Instance/i-1.json").await;
    put(
        &s3,
        &name,
        "inventory/AWS:InstanceInformation/accountid=222222222222/test.json",
    )
    .await;
    emulator.reset_calls(region).await.expect("reset");

    let settings = Settings::from_lookup(|k| match k {
        "BUCKET_NAME" => Some(name.clone()),
        "STALE_AFTER_DAYS" => Some("3".to_owned()),
        _ => None,
    })
    .expect("settings");
    let monitor = Monitor::new(s3, settings);
    let fresh = monitor.run(now()).await.expect("report");
    assert_eq!(
        (fresh.type_folders, fresh.sources, fresh.objects),
        (3, 2, 1201)
    );
    assert!(fresh.stale.is_empty());
    // Four days later with nothing new: both sources are stale.
    let later = monitor.run(now() + 4 * 86_400).await.expect("report");
    assert_eq!(later.stale.len(), 2);
    let calls = emulator.calls(region).await.expect("calls");
    // Per run: one delimiter listing, two pages of one folder, one of each other folder.
    assert_eq!(calls.get("s3:ListObjectsV2"), Some(&(2 * 5)), "{calls:?}");
}

#[tokio::test]
async fn the_binary_prints_the_metrics_and_returns_the_report() {
    let (emulator, region) = isolated();
    let s3 = aws_setup::s3_client(&emulator.sdk_config(region, 2).await);
    let name = format!("sync-monitor-bin-{region}");
    bucket(&s3, region, &name).await;
    put(&s3, &name, "inventory/AWS:Tag/accountid=333333333333/region=eu-west-1/resourcetype=EC2Instance/i-1.json").await;
    let mut env = emulator.function_env(region);
    env.extend([
        ("BUCKET_NAME".to_owned(), name.clone()),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
    ]);
    let function = LocalFunction::start(
        &workspace_binary("sync-monitor"),
        "sync-monitor",
        &env,
        Duration::from_secs(10),
    )
    .await
    .expect("starts");
    let scheduled = integration_tests::fixtures::scheduled(region);
    let invoked = function
        .invoke(&scheduled, Duration::from_secs(30))
        .await
        .expect("invoked");
    let Outcome::Response(report) = invoked.outcome else {
        panic!("no report: {}", function.logs().join("\n"));
    };
    assert_eq!(
        (report["sources"].clone(), report["stale"].clone()),
        (json!(1), json!([]))
    );
    let metrics: Vec<Value> = function
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(
        metrics.len(),
        1,
        "one metric document a run: {:?}",
        function.logs()
    );
    assert_eq!(metrics[0]["Bucket"], name.as_str());
    assert_eq!(metrics[0]["SyncSources"], 1);
    assert_eq!(metrics[0]["StaleSyncSources"], 0);
}
