//! The answer body, kept within CloudFormation's limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::request::Envelope;

/// CloudFormation rejects an answer whose body exceeds this many bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// CloudFormation rejects a physical id longer than this.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;
/// Prefix of the physical id a failed Create answers with. The Delete CloudFormation sends after a
/// failed Create carries it back, and the runner then succeeds without calling the handler: there is
/// nothing to delete.
pub const FAILED_CREATE_PREFIX: &str = "cfn-response-failed-create:";

/// `SUCCESS` or `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The request succeeded.
    Success,
    /// The request failed; `Reason` says why.
    Failed,
}

/// What a handler answers on success: the physical id and optional `Data` for `Fn::GetAtt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The resource's physical id. On Update, a different id means replacement.
    pub physical_resource_id: String,
    /// Attributes readable with `Fn::GetAtt`. Values are strings, as CloudFormation requires.
    pub data: BTreeMap<String, String>,
    /// Masks `Data` in the console and keeps it out of this function's logs.
    pub no_echo: bool,
}

impl Outcome {
    /// An outcome with the given physical id and no data.
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Self {
            physical_resource_id: physical_resource_id.into(),
            ..Self::default()
        }
    }

    /// Adds one `Data` attribute.
    pub fn with_data(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.data.insert(key.into(), value.to_string());
        self
    }

    /// Marks the data as secret.
    pub fn secret(mut self) -> Self {
        self.no_echo = true;
        self
    }
}

/// The JSON body PUT to the ResponseURL. It also deserializes, so that tests and tools read an
/// answer back as what CloudFormation reads: the fields left out when empty come back empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResponseBody {
    /// SUCCESS or FAILED.
    pub status: Status,
    /// Why it failed; also sent on success when something worth knowing happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Never empty, at most 1 KB.
    pub physical_resource_id: String,
    /// Copied from the request.
    pub stack_id: String,
    /// Copied from the request.
    pub request_id: String,
    /// Copied from the request.
    pub logical_resource_id: String,
    /// Masks Data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    /// `Fn::GetAtt` attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Shortens a reason to at most `max` bytes, keeping its start (what failed) and its end (the AWS
/// error, the log stream), which are the informative parts of a long message.
fn shorten_reason(reason: &str, max: usize) -> String {
    const MARK: &str = " […] ";
    if reason.len() <= max {
        return reason.to_owned();
    }
    if max <= MARK.len() + 8 {
        return truncate_bytes(reason, max).to_owned();
    }
    let budget = max - MARK.len();
    let head_len = budget / 4;
    let tail_len = budget - head_len;
    let head = truncate_bytes(reason, head_len);
    let mut start = reason.len() - tail_len;
    while !reason.is_char_boundary(start) {
        start += 1;
    }
    format!("{head}{MARK}{}", &reason[start..])
}

impl ResponseBody {
    /// A body for `envelope` with the given status.
    pub fn new(envelope: &Envelope, status: Status, physical_resource_id: String) -> Self {
        Self {
            status,
            reason: None,
            physical_resource_id,
            stack_id: envelope.stack_id.clone(),
            request_id: envelope.request_id.clone(),
            logical_resource_id: envelope.logical_resource_id.clone(),
            no_echo: false,
            data: BTreeMap::new(),
        }
    }

    /// A FAILED body. The physical id is the one CloudFormation knows; a failed Create gets the
    /// recognisable marker id so that the Delete that follows can be skipped.
    pub fn failed(envelope: &Envelope, reason: impl Into<String>) -> Self {
        let physical_id = envelope
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| failed_create_id(envelope));
        let mut body = Self::new(envelope, Status::Failed, physical_id);
        body.reason = Some(reason.into());
        body
    }

    /// Serializes the body within [`MAX_BODY_BYTES`]: first the reason is shortened, then `Data`
    /// entries are dropped (largest first). Never fails to produce a body.
    pub fn to_json_within_limit(&mut self) -> String {
        if self.physical_resource_id.is_empty() {
            self.physical_resource_id =
                failed_create_id_from_parts(&self.logical_resource_id, &self.request_id);
        }
        self.physical_resource_id =
            truncate_bytes(&self.physical_resource_id, MAX_PHYSICAL_ID_BYTES).to_owned();
        let mut json = self.render();
        if json.len() <= MAX_BODY_BYTES {
            return json;
        }
        if let Some(reason) = self.reason.take() {
            let without = {
                self.reason = Some(String::new());
                self.render().len()
            };
            // JSON escaping can make the reason longer than its text; shrink until it fits.
            let mut allowed = MAX_BODY_BYTES.saturating_sub(without);
            loop {
                self.reason = Some(shorten_reason(&reason, allowed));
                json = self.render();
                if json.len() <= MAX_BODY_BYTES || allowed == 0 {
                    break;
                }
                allowed = allowed.saturating_sub((json.len() - MAX_BODY_BYTES).max(16));
            }
            if json.len() <= MAX_BODY_BYTES {
                return json;
            }
        }
        while json.len() > MAX_BODY_BYTES {
            let Some(largest) = self
                .data
                .iter()
                .max_by_key(|(k, v)| k.len() + v.len())
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.data.remove(&largest);
            json = self.render();
        }
        if json.len() > MAX_BODY_BYTES {
            // Only the copied request fields are left to blame: a malformed request with huge ids.
            self.stack_id = truncate_bytes(&self.stack_id, 1024).to_owned();
            self.logical_resource_id = truncate_bytes(&self.logical_resource_id, 512).to_owned();
            self.request_id = truncate_bytes(&self.request_id, 512).to_owned();
            self.reason = self.reason.as_deref().map(|r| shorten_reason(r, 256));
            json = self.render();
        }
        json
    }

    fn render(&self) -> String {
        // Serializing a struct of strings and a string map cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// The marker id a failed Create answers with.
pub fn failed_create_id(envelope: &Envelope) -> String {
    failed_create_id_from_parts(&envelope.logical_resource_id, &envelope.request_id)
}

fn failed_create_id_from_parts(logical_id: &str, request_id: &str) -> String {
    let id = format!("{FAILED_CREATE_PREFIX}{logical_id}:{request_id}");
    truncate_bytes(&id, MAX_PHYSICAL_ID_BYTES).to_owned()
}

/// True for the marker id of a failed Create.
pub fn is_failed_create_id(physical_id: &str) -> bool {
    physical_id.starts_with(FAILED_CREATE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            response_url: "https://example.com/r".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/g".into(),
            request_id: "r-1".into(),
            logical_resource_id: "Res".into(),
            physical_resource_id: None,
            request_type: Some("Create".into()),
        }
    }

    #[test]
    fn failed_create_gets_the_marker_id() {
        let body = ResponseBody::failed(&envelope(), "boom");
        assert!(is_failed_create_id(&body.physical_resource_id));
        assert_eq!(
            body.physical_resource_id,
            "cfn-response-failed-create:Res:r-1"
        );
        let mut env = envelope();
        env.physical_resource_id = Some("existing".into());
        assert_eq!(
            ResponseBody::failed(&env, "boom").physical_resource_id,
            "existing"
        );
    }

    #[test]
    fn body_field_names_and_empty_fields() {
        let mut body = ResponseBody::new(&envelope(), Status::Success, "p".into());
        // Untyped on purpose: this checks the wire names and which empty fields are left out,
        // which reading the body back into `ResponseBody` would hide.
        let json: serde_json::Value =
            serde_json::from_str(&body.to_json_within_limit()).expect("json");
        assert_eq!(json["Status"], "SUCCESS");
        assert_eq!(json["PhysicalResourceId"], "p");
        assert_eq!(json["LogicalResourceId"], "Res");
        assert!(json.get("Data").is_none());
        assert!(json.get("NoEcho").is_none());
        assert!(json.get("Reason").is_none());
    }

    #[test]
    fn long_reason_keeps_head_and_tail_within_4096_bytes() {
        let reason = format!("START {} AccessDenied: the end", "é".repeat(10_000));
        let mut body = ResponseBody::failed(&envelope(), reason);
        let json = body.to_json_within_limit();
        assert!(json.len() <= MAX_BODY_BYTES, "{}", json.len());
        let answer: ResponseBody = serde_json::from_str(&json).expect("an answer");
        let r = answer.reason.as_deref().expect("reason");
        assert!(r.starts_with("START "), "{r}");
        assert!(r.ends_with("AccessDenied: the end"), "{r}");
        assert!(
            r.len() > 3000,
            "reason should use the space it has: {}",
            r.len()
        );
    }

    #[test]
    fn body_reads_back_as_sent() {
        let mut body = ResponseBody::failed(&envelope(), "boom");
        body.data.insert("Key".into(), "value".into());
        body.no_echo = true;
        let json = body.to_json_within_limit();
        assert_eq!(
            serde_json::from_str::<ResponseBody>(&json).expect("an answer"),
            body
        );
        let mut bare = ResponseBody::new(&envelope(), Status::Success, "p".into());
        let json = bare.to_json_within_limit();
        assert_eq!(
            serde_json::from_str::<ResponseBody>(&json).expect("an answer"),
            bare
        );
        let known = r#"{"Status":"SUCCESS","PhysicalResourceId":"p","StackId":"s","RequestId":"r","LogicalResourceId":"l""#;
        assert!(serde_json::from_str::<ResponseBody>(&format!("{known}}}")).is_ok());
        assert!(
            serde_json::from_str::<ResponseBody>(&format!("{known},\"Extra\":\"x\"}}")).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn escaped_reason_still_fits() {
        // Control characters escape to six bytes each in JSON.
        let reason = "\u{1}".repeat(5000);
        let mut body = ResponseBody::failed(&envelope(), reason);
        assert!(body.to_json_within_limit().len() <= MAX_BODY_BYTES);
    }

    #[test]
    fn data_is_trimmed_largest_first() {
        let mut body = ResponseBody::new(&envelope(), Status::Success, "p".into());
        body.data.insert("Small".into(), "1".into());
        body.data.insert("Big".into(), "x".repeat(5000));
        let json = body.to_json_within_limit();
        assert!(json.len() <= MAX_BODY_BYTES);
        assert_eq!(body.data.len(), 1);
        assert!(body.data.contains_key("Small"));
    }

    #[test]
    fn physical_id_is_never_empty_nor_over_1kb() {
        let mut body = ResponseBody::new(&envelope(), Status::Success, String::new());
        body.to_json_within_limit();
        assert!(!body.physical_resource_id.is_empty());
        let mut body = ResponseBody::new(&envelope(), Status::Success, "x".repeat(3000));
        body.to_json_within_limit();
        assert_eq!(body.physical_resource_id.len(), MAX_PHYSICAL_ID_BYTES);
    }

    #[test]
    fn huge_request_ids_still_give_a_body_within_limit() {
        let mut env = envelope();
        env.stack_id = "s".repeat(5000);
        env.request_id = "r".repeat(5000);
        let mut body = ResponseBody::failed(&env, "bad request");
        assert!(body.to_json_within_limit().len() <= MAX_BODY_BYTES);
    }
}
