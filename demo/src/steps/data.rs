//! The fleet's data arrives: fleet-sim writes, into the central stack's buckets, what the member
//! accounts' resource data syncs and Config deliveries write. Each Config delivery's S3
//! notification reaches `config-partitioner` through the emulator, as the stack wired it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::bail;
use aws_sdk_glue::types::Partition;
use fleet_sim::Destination;

use crate::context::{Demo, Progress};

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let days = crate::steps::fleet::days(demo);
    let arrived = arrive(demo, 0).await?;
    Ok(if days > 1 {
        format!(
            "the fleet of {} (day 1 of {days}; the report step brings the later days): {arrived}",
            fleet_sim::time::iso(demo.now - (days as i64 - 1) * fleet_sim::time::DAY)
        )
    } else {
        arrived
    })
}

/// The data of day `day` arrives in the central stack's buckets: the sync's objects and Config's
/// deliveries of that day's fleet (or of the given fleet folder); returns what arrived once every
/// Config snapshot delivery so far has its partition.
pub async fn arrive(demo: &mut Demo, day: usize) -> anyhow::Result<String> {
    let sync_bucket = demo.central_output("SyncBucketName")?;
    let prefix = demo.central_output("SyncPrefix")?;
    let config_bucket = demo.central_output("ConfigBucketName")?;
    let sync_prefix = format!("{}/", prefix.trim_end_matches('/'));
    let (objects, bytes) = if let Some(dir) = demo.args.fleet_dir.clone() {
        let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
        // A given fleet's accounts are not the organization's: no sync or recorder of theirs can
        // deliver, so the reporting account's administrator places the files (plain PutObject).
        let (a, b) = upload(&s3, &dir.join("sync"), &sync_bucket, &sync_prefix).await?;
        let (c, d) = upload(&s3, &dir.join("config"), &config_bucket, "").await?;
        (a + c, b + d)
    } else {
        let mut options = crate::steps::fleet::options(demo, day, true);
        options.sync = Destination::S3 {
            bucket: sync_bucket.clone(),
            prefix: sync_prefix,
        };
        options.config = Some(Destination::S3 {
            bucket: config_bucket.clone(),
            prefix: String::new(),
        });
        // The syncs and Config write into the reporting account's buckets.
        options.aws = Some(demo.sdk(&demo.central, &demo.home).await);
        let written = fleet_sim::run(options).await?;
        (written.objects as u64, written.bytes)
    };
    // Every snapshot delivery becomes its partition (account, Region, day) once the notifications
    // have been handled.
    let keys = list_keys(demo, &config_bucket).await?;
    let days: BTreeSet<String> = keys
        .iter()
        .filter_map(|k| {
            k.rsplit_once("/ConfigSnapshot/")
                .map(|(folder, _)| folder.to_owned())
        })
        .collect();
    let table = demo.central_output("ConfigSnapshotTable")?;
    let database = demo.central_output("DatabaseName")?;
    let glue = aws_sdk_glue::Client::new(&demo.sdk(&demo.central, &demo.home).await);
    let mut progress = Progress::new("Config deliveries → partitions", days.len());
    let mut partitions = Vec::new();
    for _ in 0..600 {
        partitions = snapshot_partitions(&glue, &database, &table).await?;
        progress.set(partitions.len());
        if partitions.len() >= days.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress.finish();
    if partitions.len() != days.len() {
        bail!(
            "{} snapshot partitions after the Config deliveries' notifications, {} expected (one per \
             account, Region and day)",
            partitions.len(),
            days.len()
        );
    }
    Ok(format!(
        "{objects} objects ({:.1} MiB) in {sync_bucket} and {config_bucket}; {} Config deliveries \
         notified config-partitioner: {} snapshot partitions",
        bytes as f64 / 1_048_576.0,
        keys.len(),
        partitions.len()
    ))
}

/// Uploads every file under `dir` to `bucket` as `<prefix><path under dir>`, laid out as the syncs
/// and Config write them: (objects, bytes).
async fn upload(
    s3: &aws_sdk_s3::Client,
    dir: &std::path::Path,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<(u64, u64)> {
    let (mut objects, mut bytes) = (0, 0);
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let relative = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
            let body = std::fs::read(&path)?;
            bytes += body.len() as u64;
            objects += 1;
            s3.put_object()
                .bucket(bucket)
                .key(format!("{prefix}{relative}"))
                .body(body.into())
                .send()
                .await?;
        }
    }
    Ok((objects, bytes))
}

async fn snapshot_partitions(
    glue: &aws_sdk_glue::Client,
    database: &str,
    table: &str,
) -> anyhow::Result<Vec<Partition>> {
    let pages: Vec<_> = glue
        .get_partitions()
        .database_name(database)
        .table_name(table)
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    Ok(pages
        .into_iter()
        .flat_map(|p| p.partitions.unwrap_or_default())
        .collect())
}

/// Every key in `bucket`.
pub async fn list_keys(demo: &Demo, bucket: &str) -> anyhow::Result<Vec<String>> {
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    let pages: Vec<_> = s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.contents())
        .filter_map(|o| o.key().map(str::to_owned))
        .collect())
}
