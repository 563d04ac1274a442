//! The stack's crawler runs over the sync bucket; its success event reaches
//! `glue-column-remover` through the stack's EventBridge rule, which removes the `resourcetype`
//! data column the crawler adds beside the partition key of that name.

use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_sdk_glue::types::CrawlerState;

use crate::context::Demo;

const CLASH_TABLE: &str = "aws_instanceinformation";

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let crawler = demo.central_output("CrawlerName")?;
    let database = demo.central_output("DatabaseName")?;
    let glue = aws_sdk_glue::Client::new(&demo.sdk(&demo.central, &demo.home).await);
    let before = demo.runner.stats();
    glue.start_crawler().name(&crawler).send().await?;
    let mut state = None;
    for _ in 0..1200 {
        let got = glue.get_crawler().name(&crawler).send().await?;
        let c = got.crawler().context("GetCrawler returned no crawler")?;
        if c.state() == Some(&CrawlerState::Ready) {
            state = c.last_crawl().and_then(|l| l.status()).cloned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = state.context("the crawl did not end")?;
    if state.as_str() != "SUCCEEDED" {
        bail!("the crawl ended {state:?}");
    }
    let tables = glue.get_tables().database_name(&database).send().await?;
    let names: Vec<&str> = tables.table_list().iter().map(|t| t.name()).collect();
    // The crawler's Succeeded event is delivered asynchronously: wait for the column remover.
    let remover = |stats: &std::collections::BTreeMap<String, local_aws::runner::FunctionStats>| {
        stats
            .iter()
            .filter(|(k, _)| k.contains("ColumnRemover") || k.contains("column-remover"))
            .map(|(_, s)| s.invocations)
            .sum::<u64>()
    };
    let mut clash = true;
    for _ in 0..600 {
        let ran = remover(&demo.runner.stats()) > remover(&before);
        let table = glue
            .get_table()
            .database_name(&database)
            .name(CLASH_TABLE)
            .send()
            .await?;
        clash = table
            .table()
            .and_then(|t| t.storage_descriptor())
            .is_some_and(|d| d.columns().iter().any(|c| c.name() == "resourcetype"));
        if ran && !clash {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if clash {
        bail!(
            "{CLASH_TABLE} still has the resourcetype data column after the crawler's success event"
        );
    }
    Ok(format!(
        "crawler {crawler} made {} tables ({}); its success event reached glue-column-remover, which \
         removed the resourcetype data column from {CLASH_TABLE}",
        names.len(),
        names.join(", ")
    ))
}
