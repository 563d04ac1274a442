//! The CloudFormation custom-resource protocol, as every custom resource of this project uses it.
//!
//! CloudFormation invokes a custom resource's Lambda asynchronously and then waits for one HTTP PUT
//! to a pre-signed S3 URL. If that answer never comes, the stack hangs until the resource's
//! `ServiceTimeout` (an hour by default), and again on rollback. This crate makes the answer
//! unconditional. Its [`Runner`] guarantees, for every invocation:
//!
//! 1. **Exactly one answer**, whatever happens: bad JSON, missing or mistyped properties, an unknown
//!    `RequestType`, an AWS error, a panic, or the deadline. The answering fields are read first
//!    ([`Envelope`]), so even a malformed request is answered FAILED with a clear reason.
//! 2. **Before the deadline**: the handler races the Lambda deadline minus a margin (a quarter of the
//!    time, between 0.2 and 10 s); when it is reached the answer is FAILED
//!    "timed out after N s while <step>" ([`Request::set_step`]).
//! 3. **Stable physical ids**: [`Request::stable_physical_id`] is `<stack name>-<logical id>`; never a
//!    log stream name or a random value.
//! 4. **Idempotent Delete**: a failed Create answers with a marker id ([`FAILED_CREATE_PREFIX`]); the
//!    Delete that follows is answered SUCCESS without calling the handler.
//! 5. **Body within 4096 bytes**: the reason is shortened in the middle (keeping what failed and the
//!    final error), then `Data` entries are dropped, largest first.
//! 6. **Checked delivery**: a PUT with an empty `Content-Type` (the pre-signed URL's signature needs
//!    it); a non-2xx answer or a transport error is retried with backoff within the remaining time;
//!    only an undeliverable answer makes the invocation return an error.
//! 7. **Nothing secret in logs**: the URL's signature is redacted everywhere, NoEcho data never logged.
//! 8. **https only**, except `http` to loopback addresses for local tests and the local demo.
//!
//! Property values arrive as strings; [`Properties`] parses `"true"`, `"14"` and lists with errors
//! that name the property.
//!
//! # Example
//!
//! ```no_run
//! use cfn_response::{CustomResource, Outcome, PropertyError, Request, Runner};
//!
//! struct Greeting;
//!
//! impl CustomResource for Greeting {
//!     type Error = PropertyError;
//!
//!     async fn create(&self, request: &Request) -> Result<Outcome, Self::Error> {
//!         let name = request.properties.required_str("Name")?;
//!         Ok(Outcome::new(request.stable_physical_id()).with_data("Greeting", format!("hello {name}")))
//!     }
//!
//!     async fn update(&self, request: &Request) -> Result<Outcome, Self::Error> {
//!         let mut outcome = self.create(request).await?;
//!         outcome.physical_resource_id = request.current_or_stable_physical_id();
//!         Ok(outcome)
//!     }
//!
//!     async fn delete(&self, request: &Request) -> Result<Outcome, Self::Error> {
//!         Ok(Outcome::new(request.current_or_stable_physical_id()))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let runner = Runner::new(Greeting)?;
//!     let runner = &runner;
//!     lambda_runtime::run(lambda_runtime::service_fn(move |event| runner.handle(event))).await
//! }
//! ```

// The crates every function builds on: their public API is documented in full.
#![warn(missing_docs)]

mod properties;
mod request;
mod response;
mod runner;
mod sender;

pub use properties::{Properties, PropertyError, de};
pub use request::{
    Envelope, EnvelopeError, Request, RequestError, RequestType, is_custom_resource_request,
};
pub use response::{
    FAILED_CREATE_PREFIX, MAX_BODY_BYTES, MAX_PHYSICAL_ID_BYTES, Outcome, ResponseBody, Status,
    failed_create_id, is_failed_create_id,
};
pub use runner::{CustomResource, Runner, RunnerError, error_chain};
pub use sender::{
    AttemptError, HttpSender, ResponseSender, SendError, SendFuture, deliver, redact_url,
    validate_url,
};

#[cfg(feature = "testing")]
pub mod testing;
