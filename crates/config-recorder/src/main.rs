//! Lambda entry point: builds the client once, then answers CloudFormation. Logic lives in `lib.rs`.

// The custom resource future nests the runner, the handler and several SDK calls; computing its
// layout needs more than the default query depth.
#![recursion_limit = "256"]

use cfn_response::Runner;
use config_recorder::Recorder;
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let config = aws_setup::load_config().await;
    let runner = Runner::new(Recorder::new(aws_sdk_config::Client::new(&config)))?;
    let runner = &runner;
    run(service_fn(move |event| runner.handle(event))).await
}
