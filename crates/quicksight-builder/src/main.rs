//! Lambda entry point: builds the client once, then answers CloudFormation. Logic lives in `lib.rs`.

// The custom resource future nests the runner, the handler and several SDK calls; computing its
// layout needs more than the default query depth.
#![recursion_limit = "256"]

use cfn_response::Runner;
use lambda_runtime::{Error, run, service_fn};
use quicksight_builder::QuickSightBuilder;

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let config = aws_setup::load_config().await;
    // Lambda always sets AWS_REGION; the data source ARN (the physical id) is built from it.
    let region = config
        .region()
        .map(ToString::to_string)
        .ok_or("AWS_REGION is not set: the function cannot tell which QuickSight Region to use")?;
    let client = aws_sdk_quicksight::Client::new(&config);
    let runner = Runner::new(QuickSightBuilder::new(client, region))?;
    let runner = &runner;
    run(service_fn(move |event| runner.handle(event))).await
}
