//! Lambda entry point: builds the clients once, then serves invocations. Logic lives in `lib.rs`.

use cfn_response::Runner;
use ec2_os_tagger::{Tagger, handle};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let config = aws_setup::load_config().await;
    let tagger = Tagger::new(
        aws_sdk_ssm::Client::new(&config),
        aws_sdk_ec2::Client::new(&config),
    );
    let runner = Runner::new(tagger)?;
    let runner = &runner;
    run(service_fn(move |event| handle(runner, event))).await
}
