//! Lambda entry point: settings and client once, then serve events. Logic lives in `lib.rs`.

use glue_column_remover::{Remover, Settings, handle};
use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aws_setup::init_tracing();
    // A missing setting fails the init, so Lambda reports it before any event is lost to it.
    let settings = Settings::from_env()
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config = aws_setup::load_config().await;
    let remover = Remover::new(aws_sdk_glue::Client::new(&config), settings);
    let remover = &remover;
    run(service_fn(move |event| handle(remover, event))).await
}
