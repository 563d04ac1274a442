//! What every function of this project does the same way: load the AWS SDK configuration, set up
//! logging, and render AWS errors as `<code>: <message>`.
//!
//! # SDK configuration ([`load_config`])
//! From the standard environment, as every AWS tool reads it: `AWS_REGION`, credentials (the Lambda
//! execution role's, or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), `AWS_ENDPOINT_URL` (a local
//! emulator), `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`. When an endpoint override is set, S3 clients
//! use path-style addressing ([`s3_client`], feature `s3`): local emulators cannot serve
//! virtual-hosted bucket names.
//!
//! # Logging ([`init_tracing`])
//! JSON lines when the function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`, set by Lambda's
//! advanced logging controls), plain text otherwise; level from `AWS_LAMBDA_LOG_LEVEL`, then
//! `RUST_LOG`, then INFO. The Lambda runtime opens a span carrying `requestId` for every invocation,
//! and both formats print the current span's fields, so every line carries the request id.
//!
//! # Settings ([`setting`], [`required_setting`])
//! Functions read their own settings (table names, crawler names) from environment variables; a
//! blank value counts as unset, and a missing required one is a [`MissingSetting`] that names it.
//!
//! # Errors ([`AwsError`])
//! One error type for any SDK failure, displayed as `<code>: <message>`: the text a CloudFormation
//! `Reason` or an operator needs, without the SDK's nested debug output.

// The crates every function builds on: their public API is documented in full.
#![warn(missing_docs)]

pub mod names;

use std::error::Error as StdError;
use std::fmt;

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Loads the SDK configuration from the standard environment.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// True when the configuration points at an endpoint other than AWS's (a local emulator).
pub fn has_endpoint_override(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
}

/// An S3 client; path-style addressing when an endpoint override is set.
#[cfg(feature = "s3")]
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let builder =
        aws_sdk_s3::config::Builder::from(config).force_path_style(has_endpoint_override(config));
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// Installs the global tracing subscriber. Call once at the top of `main`; later calls do nothing.
///
/// The same variables as `lambda_runtime::tracing::init_default_subscriber` (Lambda's advanced
/// logging controls: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`; `AWS_LAMBDA_LOG_FORMAT=JSON`), but
/// not that function: it cannot keep the SDK's own crates at `warn` when a function runs at
/// `debug` (their debug output is voluminous and can include request bodies), it panics when a
/// subscriber is already set (tests and the local runner set one), and its JSON nests each event's
/// fields instead of flattening them, which CloudWatch Logs Insights reads less easily.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy()
        // The SDK's own debug output is voluminous and can include request bodies.
        .add_directive(
            "aws_smithy_runtime=warn"
                .parse()
                .unwrap_or_else(|_| level.into()),
        )
        .add_directive("aws_config=warn".parse().unwrap_or_else(|_| level.into()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Lambda adds its own timestamps to every line.
        .without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// A required environment variable is unset or blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSetting(pub &'static str);

impl fmt::Display for MissingSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment variable {} is required: set it in the function's configuration",
            self.0
        )
    }
}

impl StdError for MissingSetting {}

/// The trimmed value of setting `name` through `lookup` (`std::env::var` in production, a map in
/// tests); blank counts as unset.
pub fn setting(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A setting that must be present.
pub fn required_setting(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, MissingSetting> {
    setting(lookup, name).ok_or(MissingSetting(name))
}

/// Looks settings up in the process environment.
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The first `shown` failures joined with `; `, and how many more there are: a Reason or an error
/// message that stays readable (and within CloudFormation's 4 KB) however many items failed.
pub fn summarize(failures: &[String], shown: usize) -> String {
    let mut text = failures
        .iter()
        .take(shown)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > shown {
        text.push_str(&format!("; and {} more", failures.len() - shown));
    }
    text
}

/// An AWS SDK failure as `<code>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The service's error code (`InvalidInstanceID.NotFound`), or the kind of client-side failure
    /// (`TimeoutError`, `DispatchFailure`, `ResponseError`, `ConstructionFailure`).
    pub code: String,
    /// The service's message, or the client-side failure's cause chain.
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl StdError for AwsError {}

/// The error's message followed by its sources, skipping a source already quoted by its parent
/// (thiserror's `"...: {0}"` with `#[source]` would otherwise repeat it). Every function reports
/// errors through this one walk: the `Diagnostic`s Lambda logs, CloudFormation's `Reason`s and
/// the SDK's transport errors read the same way.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The causes of an SDK error without its own generic text ("dispatch failure"): the part that
/// says what went wrong. Falls back to the error's own message.
fn cause_chain(e: &dyn StdError) -> String {
    match e.source() {
        Some(source) => error_chain(source),
        None => e.to_string(),
    }
}

impl AwsError {
    /// Renders any SDK error.
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: fmt::Debug,
    {
        let (code, message) = match err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("UnknownError").to_owned();
                let message = inner
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| inner.to_string());
                (code, message)
            }
            SdkError::TimeoutError(_) => ("TimeoutError".to_owned(), cause_chain(err)),
            SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), cause_chain(err)),
            SdkError::ResponseError(_) => ("ResponseError".to_owned(), cause_chain(err)),
            SdkError::ConstructionFailure(_) => {
                ("ConstructionFailure".to_owned(), cause_chain(err))
            }
            _ => ("UnknownError".to_owned(), cause_chain(err)),
        };
        Self { code, message }
    }

    /// True when the error has this code. Only for services whose SDK models no error types (EC2,
    /// some S3 operations), with the code as a named constant; elsewhere match the SDK's typed
    /// error (`err.as_service_error().is_some_and(..::is_..)`).
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}

impl<E, R> From<SdkError<E, R>> for AwsError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: fmt::Debug,
{
    fn from(err: SdkError<E, R>) -> Self {
        Self::from_sdk(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    #[derive(Debug)]
    struct ServiceErr(ErrorMetadata);
    impl fmt::Display for ServiceErr {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "service error")
        }
    }
    impl StdError for ServiceErr {}
    impl ProvideErrorMetadata for ServiceErr {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn response() -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(400).expect("status"), SdkBody::empty())
    }

    #[test]
    fn service_errors_render_code_and_message() {
        let meta = ErrorMetadata::builder()
            .code("InvalidInstanceID.NotFound")
            .message("The instance ID 'i-1' does not exist")
            .build();
        let err: SdkError<ServiceErr, HttpResponse> =
            SdkError::service_error(ServiceErr(meta), response());
        let aws = AwsError::from(err);
        assert_eq!(
            aws.to_string(),
            "InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist"
        );
        assert!(aws.is("InvalidInstanceID.NotFound"));
    }

    #[test]
    fn service_error_without_metadata_still_renders() {
        let err: SdkError<ServiceErr, HttpResponse> =
            SdkError::service_error(ServiceErr(ErrorMetadata::builder().build()), response());
        assert_eq!(
            AwsError::from(err).to_string(),
            "UnknownError: service error"
        );
    }

    #[test]
    fn summaries_show_the_first_failures_and_count_the_rest() {
        let failures: Vec<String> = (1..=4).map(|i| format!("f{i}")).collect();
        assert_eq!(summarize(&failures, 5), "f1; f2; f3; f4");
        assert_eq!(summarize(&failures, 2), "f1; f2; and 2 more");
        assert_eq!(summarize(&[], 3), "");
    }

    #[test]
    fn settings_trim_and_name_what_is_missing() {
        let lookup = |name: &str| match name {
            "SET" => Some(" value ".to_owned()),
            "BLANK" => Some("   ".to_owned()),
            _ => None,
        };
        assert_eq!(setting(&lookup, "SET").as_deref(), Some("value"));
        assert_eq!(setting(&lookup, "BLANK"), None);
        assert_eq!(
            required_setting(&lookup, "ABSENT")
                .expect_err("missing")
                .to_string(),
            "environment variable ABSENT is required: set it in the function's configuration"
        );
    }

    #[test]
    fn client_side_failures_name_their_kind() {
        let err: SdkError<ServiceErr, HttpResponse> =
            SdkError::timeout_error(std::io::Error::other("operation timed out"));
        assert_eq!(
            AwsError::from(err).to_string(),
            "TimeoutError: operation timed out"
        );
    }
}
