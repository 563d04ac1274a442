//! Lambda entry point: builds the clients once, then answers CloudFormation. Logic in `lib.rs`.

// The custom resource future nests the runner, the handler and several SDK calls; computing its
// layout needs more than the default query depth.
#![recursion_limit = "256"]

use cfn_response::Runner;
use lambda_runtime::{Error, run, service_fn};
use s3_cleanup::Cleanup;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let config = aws_setup::load_config().await;
    let runner = Runner::new(Cleanup::from_config(&config))?;
    let runner = &runner;
    run(service_fn(move |event| runner.handle(event))).await
}
