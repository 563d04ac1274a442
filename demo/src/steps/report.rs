//! The compliance report, once a day: the central stack's `ReportSchedule` fires at each day's
//! present (fleet-sim's days: the first day's data arrived in the data step, each later day's
//! arrives here before its run), so `compliance-report` runs as it runs in an account (the
//! emulator's Athena executes its queries over the crawled tables and the objects in the
//! buckets) and builds its history: a trend with a point a day, patch ages, SLA breaches (the
//! demo's SLA is days, not weeks, so three days cross it), what changed. The last run's
//! report.html, CSVs and summary.json are read back from the reports bucket into the output
//! folder.

use anyhow::{Context as _, bail};

use crate::context::Demo;

/// What the function writes, under `<prefix>/latest/`.
const FILES: [&str; 5] = [
    "report.html",
    "nodes.csv",
    "missing-patches.csv",
    "owners.csv",
    "summary.json",
];

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let rule = demo.resources["central"]["ComplianceReportScheduleRule"]
        .as_str()
        .context("the central stack has no ComplianceReportScheduleRule")?
        .to_owned();
    let days = crate::steps::fleet::days(demo);
    let mut answers = Vec::new();
    let mut fired = Vec::new();
    for day in 0..days {
        if day > 0 {
            let arrived = crate::steps::data::arrive(demo, day).await?;
            println!("  day {} of {days}: {arrived}", day + 1);
        }
        let when = fleet_sim::time::iso(demo.now - (days - 1 - day) as i64 * fleet_sim::time::DAY);
        let answer = demo
            .emulator
            .fire_schedule_at(&demo.central, &demo.home, &rule, Some(&when))
            .await?
            .into_iter()
            .next()
            .context("the schedule's rule invoked nothing")?;
        if answer["outcome"] != "response" {
            bail!("compliance-report failed at {when}: {answer}");
        }
        answers.push(answer);
        fired.push(when);
    }
    let outcome = &answers[days - 1]["response"];
    if outcome["digest"].is_null() {
        bail!("compliance-report published no digest: {outcome}");
    }
    let disagreements = outcome["disagreements"].as_array().map_or(0, Vec::len);
    if disagreements > 0 {
        bail!("the report's sources disagree: {outcome}");
    }
    let bucket = demo.central_output("ReportsBucketName")?;
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    for name in FILES {
        let body = s3
            .get_object()
            .bucket(&bucket)
            .key(format!("reports/latest/{name}"))
            .send()
            .await
            .with_context(|| format!("reading reports/latest/{name}"))?
            .body
            .collect()
            .await?
            .into_bytes();
        std::fs::write(demo.args.out.join(name), body)?;
    }
    let unfinished = leave_an_unfinished_upload(demo).await?;
    Ok(format!(
        "rule {rule} fired at {}: compliance-report ran {} Athena statements ({} bytes scanned) \
         a run, {} live nodes, {}% compliant, {} missing patches past SLA; wrote {} and its CSVs \
         and summary.json, the history, a digest; {unfinished}",
        fired.join(", "),
        outcome["queries"],
        outcome["bytes_scanned"],
        outcome["live_nodes"],
        outcome["compliance_rate"],
        outcome["past_sla"],
        demo.args.out.join("report.html").display(),
    ))
}

/// Leaves one multipart upload unfinished in the Athena results bucket, as a query cancelled
/// while Athena writes its result does; the stack's deletion must abort it ("Working with query
/// results", Athena user guide; S3's `AbortIncompleteMultipartUpload` exists for exactly these).
async fn leave_an_unfinished_upload(demo: &Demo) -> anyhow::Result<&'static str> {
    let bucket = demo.central_output("AthenaResultsBucketName")?;
    let s3 = aws_setup::s3_client(&demo.sdk(&demo.central, &demo.home).await);
    s3.create_multipart_upload()
        .bucket(&bucket)
        .key("results/cancelled.csv")
        .send()
        .await?;
    Ok("one cancelled query's unfinished upload left in the results bucket")
}
