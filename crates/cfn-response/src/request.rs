//! The request CloudFormation sends, parsed in two stages.
//!
//! Stage one ([`Envelope`]) reads only what is needed to answer: `ResponseURL`, `StackId`, `RequestId`,
//! `LogicalResourceId` and `PhysicalResourceId`. It is lenient, so that even a request whose other
//! fields are garbage can be answered FAILED with a clear reason. Stage two ([`Request`]) reads the
//! rest and may fail; its failure is answered through the envelope.

use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::time::Instant;

use crate::properties::{Properties, PropertyError};

/// The fields needed to answer a request, whatever else is wrong with it.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The pre-signed URL the answer is PUT to. Never log it: use [`crate::redact_url`].
    pub response_url: String,
    /// Copied into the answer.
    pub stack_id: String,
    /// Copied into the answer.
    pub request_id: String,
    /// Copied into the answer.
    pub logical_resource_id: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    /// `Create`, `Update`, `Delete`, or whatever arrived.
    pub request_type: Option<String>,
}

impl fmt::Debug for Envelope {
    // Hand-written so that the signed URL can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field(
                "response_url",
                &crate::sender::redact_url(&self.response_url),
            )
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("request_type", &self.request_type)
            .finish()
    }
}

/// Why a payload cannot be answered at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload is not a JSON object.
    #[error(
        "the event is not a CloudFormation custom resource request: expected a JSON object, got {0}"
    )]
    NotAnObject(&'static str),
    /// No `ResponseURL`: there is nowhere to answer.
    #[error(
        "the event has no ResponseURL, so CloudFormation cannot be answered: \
         is this function invoked by something other than a custom resource?"
    )]
    NoResponseUrl,
}

fn string_field(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// True when a payload looks like a custom resource request (it carries `ResponseURL` or
/// `RequestType` and `StackId`), for functions that also accept other events.
pub fn is_custom_resource_request(payload: &Value) -> bool {
    payload.get("ResponseURL").is_some()
        || (payload.get("RequestType").is_some() && payload.get("StackId").is_some())
}

impl Envelope {
    /// Reads the answering fields; fails only when there is no way to answer.
    pub fn from_value(payload: &Value) -> Result<Self, EnvelopeError> {
        let obj = match payload {
            Value::Object(obj) => obj,
            Value::Null => return Err(EnvelopeError::NotAnObject("null")),
            Value::Array(_) => return Err(EnvelopeError::NotAnObject("a list")),
            Value::String(_) => return Err(EnvelopeError::NotAnObject("a string")),
            Value::Number(_) => return Err(EnvelopeError::NotAnObject("a number")),
            Value::Bool(_) => return Err(EnvelopeError::NotAnObject("a boolean")),
        };
        let response_url = string_field(obj, "ResponseURL").ok_or(EnvelopeError::NoResponseUrl)?;
        Ok(Self {
            response_url,
            stack_id: string_field(obj, "StackId").unwrap_or_default(),
            request_id: string_field(obj, "RequestId").unwrap_or_default(),
            logical_resource_id: string_field(obj, "LogicalResourceId").unwrap_or_default(),
            physical_resource_id: string_field(obj, "PhysicalResourceId"),
            request_type: string_field(obj, "RequestType"),
        })
    }
}

/// `Create`, `Update` or `Delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// The resource is being created (or re-created after a replacement).
    Create,
    /// Properties changed.
    Update,
    /// The resource is being deleted, replaced, or rolled back.
    Delete,
}

impl RequestType {
    /// The name CloudFormation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
        }
    }
}

/// Why a request that can be answered cannot be handled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// `RequestType` is missing or not one of the three.
    #[error("unknown RequestType {0:?}: expected Create, Update or Delete")]
    UnknownRequestType(String),
    /// Update or Delete without `PhysicalResourceId`.
    #[error("{0} request without PhysicalResourceId: the request is malformed")]
    MissingPhysicalId(&'static str),
    /// `ResourceProperties` is not an object.
    #[error(transparent)]
    Properties(#[from] PropertyError),
}

/// A parsed custom resource request, handed to the [`crate::CustomResource`] handlers.
#[derive(Debug, Clone)]
pub struct Request {
    /// What CloudFormation asks for.
    pub request_type: RequestType,
    /// The answering fields.
    pub envelope: Envelope,
    /// `ResourceType`, e.g. `Custom::Ec2OsTagger`.
    pub resource_type: String,
    /// The current properties.
    pub properties: Properties,
    /// The properties before an Update; empty otherwise.
    pub old_properties: Properties,
    /// The whole payload as received, for handlers that need an unusual field.
    pub raw: Value,
    pub(crate) progress: Progress,
    pub(crate) work_deadline: Option<Instant>,
    pub(crate) invoked_function_arn: String,
}

impl Request {
    /// Parses the full request. `envelope` must come from the same payload.
    pub fn parse(envelope: Envelope, payload: &Value) -> Result<Self, RequestError> {
        let request_type = match envelope.request_type.as_deref() {
            Some("Create") => RequestType::Create,
            Some("Update") => RequestType::Update,
            Some("Delete") => RequestType::Delete,
            other => {
                return Err(RequestError::UnknownRequestType(
                    other.unwrap_or("").to_owned(),
                ));
            }
        };
        if request_type != RequestType::Create && envelope.physical_resource_id.is_none() {
            return Err(RequestError::MissingPhysicalId(request_type.as_str()));
        }
        let properties = Properties::from_value(payload.get("ResourceProperties"))?;
        let old_properties = Properties::from_value(payload.get("OldResourceProperties"))?;
        Ok(Self {
            request_type,
            resource_type: payload
                .get("ResourceType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            envelope,
            properties,
            old_properties,
            raw: payload.clone(),
            progress: Progress::default(),
            work_deadline: None,
            invoked_function_arn: String::new(),
        })
    }

    /// The physical id CloudFormation knows (Update and Delete), or `None` on Create.
    pub fn physical_resource_id(&self) -> Option<&str> {
        self.envelope.physical_resource_id.as_deref()
    }

    /// `LogicalResourceId` of the resource in its template.
    pub fn logical_resource_id(&self) -> &str {
        &self.envelope.logical_resource_id
    }

    /// A physical id derived from what the resource is, the same for every request about it:
    /// `<stack name>-<logical id>`. Never random, never a log stream name, so an Update that keeps it
    /// is never mistaken for a replacement.
    pub fn stable_physical_id(&self) -> String {
        // arn:aws:cloudformation:<region>:<account>:stack/<name>/<guid>
        let stack_name = self
            .envelope
            .stack_id
            .split('/')
            .nth(1)
            .filter(|s| !s.is_empty())
            .unwrap_or("stack");
        let id = format!("{stack_name}-{}", self.envelope.logical_resource_id);
        crate::response::truncate_bytes(&id, crate::response::MAX_PHYSICAL_ID_BYTES).to_owned()
    }

    /// The id to answer with when the resource is not replaced: the one CloudFormation knows, or on
    /// Create the [stable id](Self::stable_physical_id).
    pub fn current_or_stable_physical_id(&self) -> String {
        self.physical_resource_id()
            .map(str::to_owned)
            .unwrap_or_else(|| self.stable_physical_id())
    }

    /// Records what the handler is doing now. If the deadline is reached, the FAILED reason says
    /// "timed out after N s while <step>".
    pub fn set_step(&self, step: impl Into<String>) {
        self.progress.set(step.into());
    }

    /// When the handler must have finished so that the answer still reaches CloudFormation: the
    /// Lambda deadline minus the runner's margin. `None` when the invocation has no deadline.
    /// Long-running handlers check it to stop early and report progress.
    pub fn work_deadline(&self) -> Option<Instant> {
        self.work_deadline
    }

    /// The account the function runs in: from the invoked function ARN of the Lambda context, or,
    /// when that is unavailable (a test calling the handler directly), from the request's
    /// `ServiceToken`, which is the same function's ARN. `None` when neither is an ARN.
    pub fn function_account_id(&self) -> Option<&str> {
        let service_token = self.raw.get("ServiceToken").and_then(Value::as_str);
        [Some(self.invoked_function_arn.as_str()), service_token]
            .into_iter()
            .flatten()
            .find_map(arn_account)
    }

    /// Sets the invoked function ARN, as the runner does from the Lambda context.
    pub fn with_invoked_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.invoked_function_arn = arn.into();
        self
    }
}

/// The account field of an ARN (`arn:<partition>:<service>:<region>:<account>:...`), when it is
/// twelve digits.
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn")).then_some(())?;
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The handler's current step, shared with the runner's deadline timer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<String>>);

impl Progress {
    pub(crate) fn set(&self, step: String) {
        // A poisoned lock only means a panic elsewhere; the step text is still usable.
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *guard = step;
    }

    pub(crate) fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({
            "RequestType": "Update",
            "ResponseURL": "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=secret",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/my-stack/guid-1",
            "RequestId": "req-1",
            "ResourceType": "Custom::Thing",
            "LogicalResourceId": "Thing",
            "PhysicalResourceId": "phys-1",
            "ResourceProperties": {"A": "1"},
            "OldResourceProperties": {"A": "0"}
        })
    }

    #[test]
    fn envelope_is_lenient_but_needs_a_url() {
        let env = Envelope::from_value(&json!({"ResponseURL": "https://x/y", "StackId": 5}))
            .expect("answerable");
        assert_eq!(env.stack_id, "");
        assert_eq!(
            Envelope::from_value(&json!({})),
            Err(EnvelopeError::NoResponseUrl)
        );
        assert_eq!(
            Envelope::from_value(&json!([1])),
            Err(EnvelopeError::NotAnObject("a list"))
        );
    }

    #[test]
    fn debug_output_redacts_the_signature() {
        let env = Envelope::from_value(&payload()).expect("envelope");
        let debug = format!("{env:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn full_parse() {
        let p = payload();
        let req = Request::parse(Envelope::from_value(&p).expect("env"), &p).expect("request");
        assert_eq!(req.request_type, RequestType::Update);
        assert_eq!(req.physical_resource_id(), Some("phys-1"));
        assert_eq!(req.old_properties.required_str("A"), Ok("0"));
        assert_eq!(req.stable_physical_id(), "my-stack-Thing");
        assert_eq!(req.current_or_stable_physical_id(), "phys-1");
    }

    #[test]
    fn function_account_prefers_the_context_then_the_service_token() {
        let mut p = payload();
        let parse =
            |p: &Value| Request::parse(Envelope::from_value(p).expect("env"), p).expect("request");
        assert_eq!(parse(&p).function_account_id(), None);
        p["ServiceToken"] = json!("arn:aws:lambda:eu-west-1:111122223333:function:builder");
        assert_eq!(parse(&p).function_account_id(), Some("111122223333"));
        let req = parse(&p)
            .with_invoked_function_arn("arn:aws-cn:lambda:cn-north-1:444455556666:function:b:live");
        assert_eq!(req.function_account_id(), Some("444455556666"));
        // A context without a usable ARN falls back to the token; a token that is no ARN gives none.
        let req = parse(&p).with_invoked_function_arn("not-an-arn");
        assert_eq!(req.function_account_id(), Some("111122223333"));
        p["ServiceToken"] = json!("arn:aws:lambda:eu-west-1:12345:function:short");
        assert_eq!(parse(&p).function_account_id(), None);
    }

    #[test]
    fn unknown_type_and_missing_id_are_errors() {
        let mut p = payload();
        p["RequestType"] = json!("Upsert");
        let err =
            Request::parse(Envelope::from_value(&p).expect("env"), &p).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "unknown RequestType \"Upsert\": expected Create, Update or Delete"
        );

        let mut p = payload();
        p.as_object_mut()
            .expect("object")
            .remove("PhysicalResourceId");
        let err =
            Request::parse(Envelope::from_value(&p).expect("env"), &p).expect_err("must fail");
        assert_eq!(err, RequestError::MissingPhysicalId("Update"));

        let mut p = payload();
        p["ResourceProperties"] = json!("nope");
        assert!(Request::parse(Envelope::from_value(&p).expect("env"), &p).is_err());
    }

    #[test]
    fn detects_custom_resource_payloads() {
        assert!(is_custom_resource_request(&payload()));
        assert!(!is_custom_resource_request(
            &json!({"source": "aws.events"})
        ));
    }
}
