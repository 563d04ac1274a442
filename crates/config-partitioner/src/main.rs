//! Lambda entry point: settings and client once (the table cache lives as long as the process),
//! then serve events. Logic lives in `lib.rs`.

use config_partitioner::{Partitioner, Settings, handle};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config = aws_setup::load_config().await;
    let partitioner = Partitioner::new(aws_sdk_glue::Client::new(&config), settings);
    let partitioner = &partitioner;
    run(service_fn(move |event| handle(partitioner, event))).await
}
