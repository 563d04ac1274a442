//! A real local HTTP server standing in for the pre-signed S3 ResponseURL, for tests and the local
//! demo (feature `testing`). It records every request exactly as received (method, headers, body)
//! and answers with scripted statuses, so tests check what CloudFormation would really get.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ResponseBody;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// `PUT`, normally.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Header names lower-cased, with their values.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl ReceivedRequest {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body read as CloudFormation reads it: the answer's fields, typed.
    pub fn try_answer(&self) -> Result<ResponseBody, serde_json::Error> {
        serde_json::from_str(&self.body)
    }

    /// The body read as CloudFormation reads it.
    ///
    /// # Panics
    ///
    /// When the body is not a well-formed answer (a test failure): the message shows the body.
    pub fn answer(&self) -> ResponseBody {
        self.try_answer()
            .unwrap_or_else(|e| panic!("not a custom resource answer ({e}): {}", self.body))
    }
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedRequest>,
    statuses: VecDeque<u16>,
}

/// A loopback HTTP server that records requests.
pub struct ResponseServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for ResponseServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResponseServer {
    /// Starts on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let task_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = task_state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| record(state.clone(), req));
                    // A client that hangs up mid-request is the client's business.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// A URL on this server shaped like a pre-signed S3 URL, with a fake signature in the query so
    /// tests can check it never reaches a log.
    pub fn url(&self, name: &str) -> String {
        format!(
            "http://{}/cfn-responses/{name}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SECRET-SIGNATURE-{name}",
            self.addr
        )
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next requests are answered with these statuses, in order; later ones get 200.
    pub fn answer_next_with(&self, statuses: &[u16]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.statuses.extend(statuses.iter().copied());
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .clone()
    }

    /// Waits until at least `n` requests have arrived, or `timeout` passes; returns what arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedRequest> {
        let end = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n || tokio::time::Instant::now() >= end {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Records the request and answers with the next scripted status (200 when none is left).
async fn record(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    // A body that breaks off is recorded as what arrived: the test then sees the truncation.
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        state.received.push(ReceivedRequest {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.to_string(), |p| p.to_string()),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        state.statuses.pop_front().unwrap_or(200)
    };
    let answer: &'static str = if status == 200 {
        ""
    } else {
        "<Error><Code>Scripted</Code></Error>"
    };
    let mut response = Response::new(Full::new(Bytes::from_static(answer.as_bytes())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(response)
}
