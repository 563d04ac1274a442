//! The compliance report: the sync and Config buckets read back from the emulator, the named
//! queries and QuickSight datasets we ship run by the embedded engine (`demo/report.py`, DuckDB
//! standing in for Athena), `report.html` and CSVs.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use local_aws::workspace_root;

use crate::context::{Demo, Progress};
use crate::steps::data::list_keys;

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let data = download(demo).await?;
    let script = workspace_root().join("demo/report.py");
    let status = tokio::process::Command::new(&demo.args.python)
        .arg(&script)
        .arg("--fleet")
        .arg(&data)
        .arg("--out")
        .arg(&demo.args.out)
        .status()
        .await
        .with_context(|| format!("running {}: run `make setup`", demo.args.python.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", script.display());
    }
    let results = store_results(demo).await?;
    Ok(format!(
        "named queries and datasets run by the embedded engine on the objects read back; wrote {}, \
         nodes.csv, missing-patches.csv, summary.json; {results} result files in the Athena \
         results bucket, and one cancelled query's unfinished upload",
        demo.args.out.join("report.html").display()
    ))
}

/// Puts the report's CSVs where Athena puts query results (the workgroup's output location), and
/// leaves one multipart upload unfinished, as a query cancelled while Athena writes its result
/// does; the stack's deletion must abort it ("Working with query results", Athena user guide;
/// S3's `AbortIncompleteMultipartUpload` exists for exactly these).
async fn store_results(demo: &Demo) -> anyhow::Result<usize> {
    let bucket = demo.central_output("AthenaResultsBucketName")?;
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    let mut stored = 0;
    for name in ["nodes.csv", "missing-patches.csv"] {
        let body = std::fs::read(demo.args.out.join(name))?;
        s3.put_object()
            .bucket(&bucket)
            .key(format!("query-results/{name}"))
            .body(body.into())
            .send()
            .await?;
        stored += 1;
    }
    s3.create_multipart_upload()
        .bucket(&bucket)
        .key("query-results/cancelled.csv")
        .send()
        .await?;
    Ok(stored)
}

/// Reads both buckets back into `<out>/report-data` (the report runs on what the system stored),
/// the sync objects under `sync/` without the stack's prefix, as the crawler's tables see them.
async fn download(demo: &Demo) -> anyhow::Result<PathBuf> {
    let dest = demo.args.out.join("report-data");
    let _ = std::fs::remove_dir_all(&dest);
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    let prefix = format!(
        "{}/",
        demo.central_output("SyncPrefix")?.trim_end_matches('/')
    );
    let mut jobs = Vec::new();
    for (bucket, folder, strip) in [
        (
            demo.central_output("SyncBucketName")?,
            "sync",
            prefix.as_str(),
        ),
        (demo.central_output("ConfigBucketName")?, "config", ""),
    ] {
        for key in list_keys(demo, &bucket).await? {
            let local = key.strip_prefix(strip).unwrap_or(&key).to_owned();
            jobs.push((bucket.clone(), key, dest.join(folder).join(local)));
        }
    }
    let mut progress = Progress::new("reading the buckets back", jobs.len());
    let mut done = 0;
    let mut stream = futures::stream::iter(jobs)
        .map(|(bucket, key, path)| {
            let s3 = s3.clone();
            async move {
                let body = s3
                    .get_object()
                    .bucket(&bucket)
                    .key(&key)
                    .send()
                    .await?
                    .body
                    .collect()
                    .await?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, body.into_bytes())?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16);
    while let Some(result) = stream.next().await {
        result?;
        done += 1;
        progress.set(done);
    }
    progress.finish();
    for file in ["fleet.json", "ground-truth.jsonl"] {
        std::fs::copy(demo.args.out.join("fleet").join(file), dest.join(file))?;
    }
    Ok(dest)
}
