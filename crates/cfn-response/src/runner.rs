//! The runner: parses, dispatches, races the deadline, catches panics, and answers exactly once.

use std::error::Error as StdError;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::request::{Envelope, EnvelopeError, Request, RequestType};
use crate::response::{MAX_PHYSICAL_ID_BYTES, Outcome, ResponseBody, Status, is_failed_create_id};
use crate::sender::{HttpSender, ResponseSender, SendError, deliver, redact_url, validate_url};

/// The three operations of a custom resource. Implementations hold their AWS clients.
///
/// Each returns the physical id and `Data` on success; an error becomes a FAILED answer whose
/// `Reason` is the error's message followed by its sources, so write messages that say what to do.
/// Handlers must be idempotent: CloudFormation and Lambda may deliver the same request twice.
pub trait CustomResource: Send + Sync {
    /// The handler's error type.
    type Error: StdError + Send + Sync + 'static;

    /// Creates the resource. Usually answers [`Request::stable_physical_id`].
    fn create(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Updates the resource. Answer the current id ([`Request::physical_resource_id`]) unless the
    /// resource was really replaced: a new id makes CloudFormation delete the old one.
    fn update(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Deletes the resource. "Not found" must be success. Never called for the marker id of a
    /// failed Create: the runner answers that Delete itself.
    fn delete(
        &self,
        request: &Request,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

/// Why an invocation ends in an error instead of an answer. Lambda then retries the invocation.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// There is no usable ResponseURL: nothing can be answered.
    #[error("cannot answer CloudFormation: {0}")]
    Unanswerable(#[from] EnvelopeError),
    /// The ResponseURL is unusable, or the answer could not be delivered in time.
    #[error("cannot answer CloudFormation: {0}")]
    Send(#[from] SendError),
}

impl From<RunnerError> for lambda_runtime::Diagnostic {
    fn from(e: RunnerError) -> Self {
        Self {
            error_type: "CloudFormationUnanswered".to_owned(),
            error_message: error_chain(&e),
        }
    }
}

/// Room kept between the end of the handler's work and the Lambda deadline for sending the answer.
fn margin_for(remaining: Duration) -> Duration {
    (remaining / 4).clamp(Duration::from_millis(200), Duration::from_secs(10))
}

/// Time kept back at the very end so that the last PUT completes before Lambda freezes the process.
const FINAL_GUARD: Duration = Duration::from_millis(300);

/// How long to try delivering when the invocation carries no deadline (local runs, tests).
const NO_DEADLINE_SEND_BUDGET: Duration = Duration::from_secs(60);

/// Runs a [`CustomResource`] for one invocation at a time. Build it once in `main`.
pub struct Runner<R> {
    resource: R,
    sender: Arc<dyn ResponseSender>,
}

impl<R: CustomResource> Runner<R> {
    /// A runner that answers over HTTPS.
    pub fn new(resource: R) -> Result<Self, reqwest::Error> {
        Ok(Self::with_sender(resource, Arc::new(HttpSender::new()?)))
    }

    /// A runner with another transport (tests).
    pub fn with_sender(resource: R, sender: Arc<dyn ResponseSender>) -> Self {
        Self { resource, sender }
    }

    /// The resource handlers.
    pub fn resource(&self) -> &R {
        &self.resource
    }

    /// Handles one Lambda invocation. `Ok` means CloudFormation has its answer (SUCCESS or FAILED);
    /// the returned JSON summarises it for the invocation's result.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, RunnerError> {
        self.handle_payload(&event.payload, &event.context).await
    }

    /// [`Runner::handle`] with the payload and context separated.
    pub async fn handle_payload(
        &self,
        payload: &Value,
        ctx: &Context,
    ) -> Result<Value, RunnerError> {
        let started = Instant::now();
        let envelope = Envelope::from_value(payload)
            .inspect_err(|e| error!(error = %e, "unanswerable event"))?;
        let url = validate_url(&envelope.response_url)
            .inspect_err(|e| error!(error = %e, "unanswerable event"))?;

        let (work_deadline, send_deadline) = deadlines(ctx, started);
        info!(
            request_type = envelope.request_type.as_deref().unwrap_or("<missing>"),
            logical_resource_id = %envelope.logical_resource_id,
            physical_resource_id = envelope.physical_resource_id.as_deref().unwrap_or(""),
            stack_id = %envelope.stack_id,
            response_url = %redact_url(&envelope.response_url),
            "custom resource request"
        );

        let mut body = self
            .respond(&envelope, payload, ctx, work_deadline, started)
            .await;
        // The log stream tells the person reading the stack events where to look.
        if body.status == Status::Failed
            && !ctx.env_config.log_stream.is_empty()
            && let Some(reason) = body.reason.as_mut()
        {
            reason.push_str(&format!(" (log stream {})", ctx.env_config.log_stream));
        }
        let json = body.to_json_within_limit();
        if body.no_echo {
            info!(status = ?body.status, physical_resource_id = %body.physical_resource_id,
                  data_keys = ?body.data.keys().collect::<Vec<_>>(), "answering (NoEcho data not logged)");
        } else {
            info!(status = ?body.status, physical_resource_id = %body.physical_resource_id,
                  reason = body.reason.as_deref().unwrap_or(""), data = ?body.data, "answering");
        }
        deliver(self.sender.as_ref(), &url, &json, send_deadline).await?;
        let mut summary = json!({
            "Status": body.status,
            "PhysicalResourceId": body.physical_resource_id,
        });
        if let Some(reason) = &body.reason {
            summary["Reason"] = json!(reason);
        }
        Ok(summary)
    }

    /// Produces the answer body; never fails.
    async fn respond(
        &self,
        envelope: &Envelope,
        payload: &Value,
        ctx: &Context,
        work_deadline: Option<Instant>,
        started: Instant,
    ) -> ResponseBody {
        let mut request = match Request::parse(envelope.clone(), payload) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "malformed request");
                return ResponseBody::failed(envelope, e.to_string());
            }
        };
        request.work_deadline = work_deadline;
        request.invoked_function_arn = ctx.invoked_function_arn.clone();
        if request.request_type == RequestType::Delete
            && request
                .physical_resource_id()
                .is_some_and(is_failed_create_id)
        {
            info!("Delete after a failed Create: nothing was created, nothing to delete");
            let id = request
                .physical_resource_id()
                .unwrap_or_default()
                .to_owned();
            return ResponseBody::new(envelope, Status::Success, id);
        }

        request.set_step(format!("handling {}", request.request_type.as_str()));
        let work = AssertUnwindSafe(self.dispatch(&request)).catch_unwind();
        let outcome = match work_deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, work).await {
                Ok(result) => result,
                Err(_) => {
                    let reason = format!(
                        "timed out after {} s while {}; raise the function timeout or make the work smaller",
                        started.elapsed().as_secs(),
                        request.progress.get()
                    );
                    error!(%reason, "deadline reached");
                    return ResponseBody::failed(envelope, reason);
                }
            },
            None => work.await,
        };
        match outcome {
            Ok(Ok(outcome)) => success_body(&request, outcome),
            Ok(Err(e)) => {
                let reason = error_chain(&e);
                error!(%reason, "handler failed");
                ResponseBody::failed(envelope, reason)
            }
            Err(panic) => {
                let reason = format!(
                    "the function panicked while {}: {} (a bug: please report it with this function's log)",
                    request.progress.get(),
                    panic_message(panic.as_ref())
                );
                error!(%reason, "handler panicked");
                ResponseBody::failed(envelope, reason)
            }
        }
    }

    async fn dispatch(&self, request: &Request) -> Result<Outcome, R::Error> {
        match request.request_type {
            RequestType::Create => self.resource.create(request).await,
            RequestType::Update => self.resource.update(request).await,
            RequestType::Delete => self.resource.delete(request).await,
        }
    }
}

fn success_body(request: &Request, outcome: Outcome) -> ResponseBody {
    let envelope = &request.envelope;
    let physical_id = match request.request_type {
        // A Delete answers for the resource CloudFormation named, whatever the handler said.
        RequestType::Delete => request
            .physical_resource_id()
            .unwrap_or_default()
            .to_owned(),
        _ => outcome.physical_resource_id,
    };
    if physical_id.trim().is_empty() || physical_id.len() > MAX_PHYSICAL_ID_BYTES {
        return ResponseBody::failed(
            envelope,
            format!(
                "the handler returned a physical id of {} bytes; it must be 1 to {MAX_PHYSICAL_ID_BYTES} bytes (a bug)",
                physical_id.len()
            ),
        );
    }
    let mut body = ResponseBody::new(envelope, Status::Success, physical_id);
    body.data = outcome.data;
    body.no_echo = outcome.no_echo;
    body
}

/// Computes (end of work, end of delivery) from the Lambda deadline.
fn deadlines(ctx: &Context, now: Instant) -> (Option<Instant>, Instant) {
    if ctx.deadline == 0 {
        return (None, now + NO_DEADLINE_SEND_BUDGET);
    }
    let remaining = ctx
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let send_deadline = now + remaining.saturating_sub(FINAL_GUARD);
    let work_deadline = now + remaining.saturating_sub(margin_for(remaining));
    (Some(work_deadline), send_deadline)
}

pub use aws_setup::error_chain;

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_scales_with_the_timeout() {
        assert_eq!(
            margin_for(Duration::from_secs(300)),
            Duration::from_secs(10)
        );
        assert_eq!(margin_for(Duration::from_secs(8)), Duration::from_secs(2));
        assert_eq!(
            margin_for(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn error_chain_skips_repeated_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("inner failure")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        enum Outer {
            #[error("tagging failed: {0}")]
            Quoted(#[source] Inner),
            #[error("tagging failed")]
            Plain(#[source] Inner),
        }
        assert_eq!(
            error_chain(&Outer::Quoted(Inner)),
            "tagging failed: inner failure"
        );
        assert_eq!(
            error_chain(&Outer::Plain(Inner)),
            "tagging failed: inner failure"
        );
    }
}
