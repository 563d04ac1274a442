//! Lambda entry point: settings and client once, then serve events. Logic lives in `lib.rs`.

use lambda_runtime::{Error, run, service_fn};
use sync_monitor::{Monitor, Settings, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config = aws_setup::load_config().await;
    let monitor = Monitor::new(aws_setup::s3_client(&config), settings);
    let monitor = &monitor;
    run(service_fn(move |event| handle(monitor, event))).await
}
