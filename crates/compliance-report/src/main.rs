//! Lambda entry point: settings and clients once, then serve events. Logic lives in `lib.rs`.

use compliance_report::{Clients, Reporter, Settings, handle};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config = aws_setup::load_config().await;
    let reporter = Reporter::new(Clients::from_conf(&config, &settings).await, settings);
    let reporter = &reporter;
    run(service_fn(move |event| handle(reporter, event))).await
}
