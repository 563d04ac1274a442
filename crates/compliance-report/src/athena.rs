//! Running queries through Athena: started a few at a time, waited for with backoff, their
//! answers read from the result objects Athena writes.
//!
//! Athena runs a query asynchronously: `StartQueryExecution` returns an id, `GetQueryExecution`
//! tells its state (QUEUED, RUNNING, then SUCCEEDED, FAILED or CANCELLED), and a SELECT's rows
//! are in the CSV object at the execution's `OutputLocation` ("Working with query results,
//! recent queries, and output files", Athena User Guide). One `GetObject` reads a whole answer,
//! where `GetQueryResults` would take one call per 1,000 rows (100,000 nodes' missing patches:
//! hundreds of calls). Athena's CSV quotes every value and writes NULL as an empty unquoted field;
//! a CSV reader cannot tell that from an empty string, so both read as `None` here (no value the
//! report shows distinguishes them).

use std::time::Duration;

use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use aws_setup::AwsError;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use tracing::{debug, info};

/// Queries in flight at once. Athena's quota of active DML queries (queued and running) is
/// shared by the whole account; the last published defaults were 20 to 25 per Region ("Service
/// Quotas", Athena User Guide), so the report keeps well below. Throttled starts
/// (`TooManyRequestsException`) are retried by the SDK's standard retry, which classifies that
/// code as throttling.
pub const IN_FLIGHT: usize = 4;
/// First wait before asking for a query's state, doubled up to [`MAX_POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(250);
/// Longest wait between two state requests.
pub const MAX_POLL: Duration = Duration::from_secs(5);

/// What went wrong with one query, named.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// An Athena or S3 call failed.
    #[error("query {query}: {source}")]
    Call {
        /// The query's name.
        query: String,
        /// The call's error.
        #[source]
        source: AwsError,
    },
    /// Athena ran the query and it did not succeed.
    #[error("query {query} ended {state}: {reason}")]
    Failed {
        /// The query's name.
        query: String,
        /// FAILED or CANCELLED.
        state: String,
        /// Athena's `StateChangeReason`.
        reason: String,
    },
    /// The answer is not what the query's columns promise.
    #[error("query {query}: its result does not read as expected: {reason}")]
    Shape {
        /// The query's name.
        query: String,
        /// What did not fit.
        reason: String,
    },
    /// The function's time ran out while the query was running.
    #[error(
        "query {query} was still {state} when the function's time ran out: raise the function's timeout or check the workgroup's queue"
    )]
    Timeout {
        /// The query's name.
        query: String,
        /// Its last state.
        state: String,
    },
}

/// One statement to run: a name for messages and the SQL, placeholders already replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Where the SQL came from (`cfn/queries/patch_summary.sql`), for messages.
    pub name: String,
    /// The SQL Athena runs.
    pub sql: String,
}

/// A finished query.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The statement's name.
    pub name: String,
    /// Athena's execution id.
    pub id: String,
    /// Bytes Athena scanned (what the query costs).
    pub scanned: i64,
    /// The result object (`s3://bucket/key.csv`), when Athena wrote one.
    pub output: Option<String>,
}

/// A query's answer: its column names and rows (`None` for NULL or empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Answer {
    /// Parses Athena's CSV result.
    pub fn from_csv(name: &str, body: &[u8]) -> Result<Self, QueryError> {
        let shape = |e: csv::Error| QueryError::Shape {
            query: name.to_owned(),
            reason: e.to_string(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(body);
        let columns = reader
            .headers()
            .map_err(shape)?
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                r.map(|record| {
                    record
                        .iter()
                        .map(|v| (!v.is_empty()).then(|| v.to_owned()))
                        .collect()
                })
            })
            .collect::<Result<_, _>>()
            .map_err(shape)?;
        Ok(Self { columns, rows })
    }

    /// The rows as `T`s: each row a map of column name to value, read by serde (numbers and
    /// times through the field's `deserialize_with`).
    pub fn records<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, QueryError> {
        self.rows
            .iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| {
                        (
                            c.clone(),
                            v.clone()
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| {
                    QueryError::Shape {
                        query: name.to_owned(),
                        reason: e.to_string(),
                    }
                })
            })
            .collect()
    }
}

/// Runs statements in one workgroup and database.
#[derive(Debug, Clone)]
pub struct Athena {
    athena: aws_sdk_athena::Client,
    s3: aws_sdk_s3::Client,
    workgroup: String,
}

impl Athena {
    /// A runner for `workgroup`, whose settings give the result location.
    pub fn new(athena: aws_sdk_athena::Client, s3: aws_sdk_s3::Client, workgroup: String) -> Self {
        Self {
            athena,
            s3,
            workgroup,
        }
    }

    /// Runs every statement, [`IN_FLIGHT`] at a time, until each has finished; fails with the
    /// first statement that fails (the others that were started still finish in Athena). The
    /// answers come back in the statements' order.
    pub async fn run_all(
        &self,
        database: &str,
        statements: &[Statement],
        deadline: tokio::time::Instant,
    ) -> Result<Vec<Finished>, QueryError> {
        stream::iter(statements)
            .map(|s| self.run(database, s, deadline))
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Starts one statement and waits for it, with exponential backoff between state requests.
    pub async fn run(
        &self,
        database: &str,
        statement: &Statement,
        deadline: tokio::time::Instant,
    ) -> Result<Finished, QueryError> {
        let call = |e: AwsError| QueryError::Call {
            query: statement.name.clone(),
            source: e,
        };
        let started = self
            .athena
            .start_query_execution()
            .query_string(&statement.sql)
            .work_group(&self.workgroup)
            .query_execution_context(QueryExecutionContext::builder().database(database).build())
            .send()
            .await
            .map_err(|e| call(e.into()))?;
        let id = started.query_execution_id().unwrap_or_default().to_owned();
        debug!(query = %statement.name, id = %id, "started");
        let mut wait = FIRST_POLL;
        loop {
            let now = tokio::time::Instant::now();
            if now + wait > deadline {
                let _ = self
                    .athena
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await;
                return Err(QueryError::Timeout {
                    query: statement.name.clone(),
                    state: "RUNNING".into(),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_POLL);
            let got = self
                .athena
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| call(e.into()))?;
            let Some(execution) = got.query_execution() else {
                continue;
            };
            let status = execution.status();
            let state = status.and_then(|s| s.state()).cloned();
            match state {
                Some(QueryExecutionState::Succeeded) => {
                    let scanned = execution
                        .statistics()
                        .and_then(|s| s.data_scanned_in_bytes())
                        .unwrap_or(0);
                    info!(query = %statement.name, id = %id, scanned, "succeeded");
                    return Ok(Finished {
                        name: statement.name.clone(),
                        id,
                        scanned,
                        output: execution
                            .result_configuration()
                            .and_then(|c| c.output_location())
                            .map(str::to_owned),
                    });
                }
                Some(s @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    return Err(QueryError::Failed {
                        query: statement.name.clone(),
                        state: s.as_str().to_owned(),
                        reason: status
                            .and_then(|s| s.state_change_reason())
                            .unwrap_or("Athena gave no reason")
                            .to_owned(),
                    });
                }
                _ => {}
            }
        }
    }

    /// Reads a finished SELECT's answer from its result object.
    pub async fn answer(&self, finished: &Finished) -> Result<Answer, QueryError> {
        let location = finished
            .output
            .as_deref()
            .ok_or_else(|| QueryError::Shape {
                query: finished.name.clone(),
                reason: "Athena named no result object".into(),
            })?;
        let (bucket, key) = split_s3_url(location).ok_or_else(|| QueryError::Shape {
            query: finished.name.clone(),
            reason: format!("{location} is not an s3:// location"),
        })?;
        let call = |e: AwsError| QueryError::Call {
            query: finished.name.clone(),
            source: e,
        };
        let body = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| call(e.into()))?
            .body
            .collect()
            .await
            .map_err(|e| QueryError::Shape {
                query: finished.name.clone(),
                reason: format!("reading {location}: {e}"),
            })?
            .into_bytes();
        Answer::from_csv(&finished.name, &body)
    }
}

/// `s3://bucket/key` as (bucket, key).
pub fn split_s3_url(url: &str) -> Option<(&str, &str)> {
    url.strip_prefix("s3://")?.split_once('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Row {
        name: Option<String>,
        #[serde(deserialize_with = "crate::rows::count")]
        n: i64,
    }

    #[test]
    fn athena_csv_reads_with_null_and_quotes() {
        let body = b"\"name\",\"n\"\n\"a \"\"b\"\", c\",\"3\"\n,\"0\"\n";
        let answer = Answer::from_csv("q", body).expect("parses");
        assert_eq!(answer.columns, ["name", "n"]);
        let rows: Vec<Row> = answer.records("q").expect("typed");
        assert_eq!(
            rows,
            [
                Row {
                    name: Some("a \"b\", c".into()),
                    n: 3
                },
                Row { name: None, n: 0 }
            ]
        );
    }

    #[test]
    fn a_row_that_does_not_fit_names_the_query() {
        let answer = Answer::from_csv("q.sql", b"\"name\",\"n\"\n\"a\",\"x\"\n").expect("parses");
        let err = answer.records::<Row>("q.sql").expect_err("not a number");
        assert!(
            err.to_string().starts_with("query q.sql: its result"),
            "{err}"
        );
    }

    #[test]
    fn s3_urls_split_at_the_first_slash() {
        assert_eq!(split_s3_url("s3://b/a/b.csv"), Some(("b", "a/b.csv")));
        assert_eq!(split_s3_url("https://b/a"), None);
    }
}
