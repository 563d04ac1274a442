//! Delivering the answer: one HTTP PUT to the pre-signed ResponseURL, checked and retried.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use reqwest::Url;
use tokio::time::Instant;
use tracing::{info, warn};

/// Why an answer could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The ResponseURL is not a URL we may PUT to.
    #[error("ResponseURL {url} is not acceptable: {reason}")]
    BadUrl {
        /// The URL with its signature redacted.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Every attempt failed before the deadline.
    #[error("could not deliver the answer to {url} after {attempts} attempts: {last_error}")]
    Undelivered {
        /// The URL with its signature redacted.
        url: String,
        /// How many PUTs were tried.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
}

/// One PUT attempt's failure.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The server answered with a non-2xx status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer body (S3 explains signature errors there).
        body: String,
    },
    /// The request did not complete.
    #[error("{0}")]
    Transport(String),
}

/// A boxed future, so the trait stays object-safe for tests that swap the transport.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AttemptError>> + Send + 'a>>;

/// Puts one body to one URL, once. The runner adds validation, retries and the deadline.
pub trait ResponseSender: Send + Sync {
    /// One attempt; `timeout` bounds it.
    fn put<'a>(&'a self, url: &'a Url, body: &'a str, timeout: Duration) -> SendFuture<'a>;
}

/// The production sender: HTTPS with reqwest (rustls), an empty `Content-Type` as the pre-signed S3
/// URL's signature requires, no redirects, no proxies.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
}

impl HttpSender {
    /// Builds the HTTP client. Done once per process (cold start), not per invocation.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { client })
    }
}

impl ResponseSender for HttpSender {
    fn put<'a>(&'a self, url: &'a Url, body: &'a str, timeout: Duration) -> SendFuture<'a> {
        Box::pin(async move {
            let response = self
                .client
                .put(url.clone())
                // S3 signs the pre-signed URL for an empty content type; any other value makes S3
                // answer 403 SignatureDoesNotMatch and CloudFormation never hears back.
                .header(reqwest::header::CONTENT_TYPE, "")
                .body(body.to_owned())
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| AttemptError::Transport(transport_message(e)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            let text = response.text().await.unwrap_or_default();
            let body: String = text.chars().take(300).collect();
            Err(AttemptError::Status {
                status: status.as_u16(),
                body,
            })
        })
    }
}

/// reqwest's error display includes the URL, with its signature; keep only the cause chain.
fn transport_message(e: reqwest::Error) -> String {
    aws_setup::error_chain(&e.without_url())
}

/// The URL without its query string (which holds the signature) for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_owned(),
    }
}

/// Accepts `https` URLs, and `http` only to loopback addresses (local tests and the local demo).
pub fn validate_url(raw: &str) -> Result<Url, SendError> {
    let bad = |reason: &str| SendError::BadUrl {
        url: redact_url(raw),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(bad(
            "plain http is accepted only for loopback addresses; CloudFormation always sends https",
        )),
        other => Err(bad(&format!("scheme {other:?} is not https"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Retry schedule: 0.2 s doubling to 5 s between attempts, while time remains.
fn backoff(attempt: u32) -> Duration {
    let ms = 200u64.saturating_mul(1 << attempt.min(5));
    Duration::from_millis(ms.min(5_000))
}

/// PUTs `body` until a 2xx answer or `deadline`. At least one attempt is made even if the deadline
/// has passed, because an answer that may arrive late beats no answer.
pub async fn deliver(
    sender: &dyn ResponseSender,
    url: &Url,
    body: &str,
    deadline: Instant,
) -> Result<u32, SendError> {
    let redacted = redact_url(url.as_str());
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = remaining.clamp(Duration::from_secs(2), Duration::from_secs(15));
        match sender.put(url, body, timeout).await {
            Ok(()) => {
                info!(attempts = attempt, url = %redacted, "answer delivered");
                return Ok(attempt);
            }
            Err(e) => {
                let pause = backoff(attempt - 1);
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining <= pause {
                    return Err(SendError::Undelivered {
                        url: redacted,
                        attempts: attempt,
                        last_error: e.to_string(),
                    });
                }
                warn!(attempt, error = %e, url = %redacted, "answer not accepted; retrying");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_the_query() {
        assert_eq!(
            redact_url("https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Credential=x"),
            "https://b.s3.amazonaws.com/k?<redacted>"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(validate_url("https://bucket.s3.amazonaws.com/x?sig=1").is_ok());
        assert!(validate_url("http://127.0.0.1:8080/x").is_ok());
        assert!(validate_url("http://127.1.2.3/x").is_ok());
        assert!(validate_url("http://localhost:9/x").is_ok());
        assert!(validate_url("http://[::1]:9/x").is_ok());
        for bad in [
            "http://bucket.s3.amazonaws.com/x?sig=secret",
            "http://10.0.0.1/x",
            "http://localhost.evil.com/x",
            "ftp://127.0.0.1/x",
            "not a url",
            "file:///etc/passwd",
        ] {
            let err = validate_url(bad).expect_err(bad).to_string();
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(10), Duration::from_millis(5_000));
    }
}
