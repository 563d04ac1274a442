//! A local Lambda Runtime API: runs a function's real binary (its `bootstrap`) the way Lambda does,
//! so that tests and benchmarks exercise `main.rs`, the runtime client, environment-based
//! configuration and logging, and can measure what Lambda would bill: init time (process start to
//! the first `GET /next`) and peak memory (the process's `VmHWM`).
//!
//! Implements the parts of the Runtime API the Rust runtime uses: `GET /invocation/next`,
//! `POST /invocation/{id}/response`, `POST /invocation/{id}/error`, `POST /init/error`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this payload.
    Response(Value),
    /// The function returned an error (`errorType`, `errorMessage`).
    Error(Value),
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// What the function returned.
    pub outcome: Outcome,
    /// Wall time from queueing the event to the answer.
    pub duration: Duration,
}

struct Invocation {
    id: String,
    payload: String,
    deadline_ms: u64,
}

struct ApiState {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    ready: Notify,
    ready_at: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
    function_arn: String,
}

/// A function process served by a local Runtime API.
pub struct LocalFunction {
    child: Child,
    pid: u32,
    state: Arc<ApiState>,
    sender: mpsc::Sender<Invocation>,
    spawned_at: Instant,
    logs: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
    next_id: AtomicU64,
}

impl Drop for LocalFunction {
    fn drop(&mut self) {
        self.server.abort();
        let _ = self.child.start_kill();
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Who a function is: what Lambda tells its runtime about it.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// The invoked function ARN each event carries (`Lambda-Runtime-Invoked-Function-Arn`).
    pub arn: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB.
    pub memory_size: u64,
}

impl LocalFunction {
    /// Starts `binary` with `env` (plus the Lambda variables) as a function named
    /// `function_name` in moto's default account and `us-east-1`, and waits until it asks for its
    /// first event.
    pub async fn start(
        binary: &Path,
        function_name: &str,
        env: &[(String, String)],
        init_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let config = FunctionConfig {
            name: function_name.to_owned(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            memory_size: 128,
        };
        Self::start_with(binary, &config, env, init_timeout).await
    }

    /// Starts `binary` with `env` (plus the Lambda variables) as the function `config` describes
    /// and waits until it asks for its first event.
    pub async fn start_with(
        binary: &Path,
        config: &FunctionConfig,
        env: &[(String, String)],
        init_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let function_name = config.name.as_str();
        if !binary.exists() {
            bail!(
                "{} does not exist: build it first (`cargo build --locked --workspace --bins`, or `make build` \
                 for release artifacts)",
                binary.display()
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(16);
        let state = Arc::new(ApiState {
            queue: tokio::sync::Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            ready: Notify::new(),
            ready_at: Mutex::new(None),
            init_error: Mutex::new(None),
            function_arn: config.arn.clone(),
        });
        let server = tokio::spawn(serve(listener, state.clone()));

        let spawned_at = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api(addr))
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_size.to_string(),
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]local")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("no pid")?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            let name = function_name.to_owned();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if std::env::var_os("LAMBDA_VERBOSE").is_some() {
                        eprintln!("[{name}] {line}");
                    }
                    logs.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }

        let function = Self {
            child,
            pid,
            state,
            sender,
            spawned_at,
            logs,
            server,
            next_id: AtomicU64::new(1),
        };
        let mut function = function;
        let deadline = Instant::now() + init_timeout;
        // Ready when it asks for its first event; failed when it exits first (an init error).
        let exited = loop {
            if function
                .state
                .ready_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
            {
                break None;
            }
            if let Ok(Some(status)) = function.child.try_wait() {
                break Some(status.to_string());
            }
            if Instant::now() >= deadline {
                break Some(format!("still not ready after {init_timeout:?}"));
            }
            let _ =
                tokio::time::timeout(Duration::from_millis(20), function.state.ready.notified())
                    .await;
        };
        if let Some(why) = exited {
            // Let the log readers drain what the process printed before it exited.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let init_error = function
                .state
                .init_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            bail!(
                "{function_name} did not become ready ({why}); init error: {init_error:?}; logs:\n{}",
                function.logs().join("\n")
            );
        }
        Ok(function)
    }

    /// Time from process start to the first request for an event: Lambda's init duration.
    pub fn init_duration(&self) -> Duration {
        self.state
            .ready_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| t.duration_since(self.spawned_at))
            .unwrap_or_default()
    }

    /// The process's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Everything the function printed so far (stdout and stderr lines).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends one event and waits for the function's answer. `timeout` is the function timeout the
    /// event's deadline carries.
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> anyhow::Result<Invoked> {
        let id = format!("local-{:08}", self.next_id.fetch_add(1, Ordering::SeqCst));
        let (tx, rx) = oneshot::channel();
        self.state
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), tx);
        let started = Instant::now();
        self.sender
            .send(Invocation {
                id: id.clone(),
                payload: payload.to_string(),
                deadline_ms: epoch_ms(SystemTime::now() + timeout),
            })
            .await
            .context("the runtime API stopped")?;
        let outcome = tokio::time::timeout(timeout + Duration::from_secs(5), rx)
            .await
            .with_context(|| format!("invocation {id} timed out after {timeout:?}"))?
            .context("the runtime API dropped the invocation")?;
        Ok(Invoked {
            outcome,
            duration: started.elapsed(),
        })
    }
}

fn runtime_api(addr: SocketAddr) -> String {
    format!("{}:{}", addr.ip(), addr.port())
}

async fn serve(listener: TcpListener, state: Arc<ApiState>) {
    serve_http(listener, state, route).await;
}

/// Serves HTTP/1 on `listener`, each request answered by `route` with the shared `state`.
pub(crate) async fn serve_http<S, F, Fut>(listener: TcpListener, state: Arc<S>, route: F)
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| route(state.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(
    state: Arc<ApiState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    if method == Method::GET && rest == "invocation/next" {
        {
            let mut ready_at = state.ready_at.lock().unwrap_or_else(|e| e.into_inner());
            if ready_at.is_none() {
                *ready_at = Some(Instant::now());
                state.ready.notify_waiters();
                state.ready.notify_one();
            }
        }
        let next = state.queue.lock().await.recv().await;
        let Some(invocation) = next else {
            return Ok(reply(StatusCode::GONE, "shutting down"));
        };
        let mut response = reply(StatusCode::OK, invocation.payload);
        let headers = response.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", invocation.id.clone()),
            (
                "lambda-runtime-deadline-ms",
                invocation.deadline_ms.to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                state.function_arn.clone(),
            ),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{}", invocation.id),
            ),
            ("content-type", "application/json".to_owned()),
        ] {
            if let Ok(v) = value.parse() {
                headers.insert(name, v);
            }
        }
        return Ok(response);
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if method == Method::POST && rest == "init/error" {
        *state.init_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(json.to_string());
        return Ok(reply(StatusCode::ACCEPTED, "{}"));
    }
    if method == Method::POST
        && let Some((id, kind)) = rest
            .strip_prefix("invocation/")
            .and_then(|r| r.split_once('/'))
    {
        let outcome = match kind {
            "response" => Some(Outcome::Response(json)),
            "error" => Some(Outcome::Error(json)),
            _ => None,
        };
        if let Some(outcome) = outcome {
            if let Some(tx) = state
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id)
            {
                let _ = tx.send(outcome);
            }
            return Ok(reply(StatusCode::ACCEPTED, "{}"));
        }
    }
    Ok(reply(StatusCode::NOT_FOUND, "unknown runtime API call"))
}

/// A function's binary in a folder of artifacts: `<dir>/<function>/bootstrap` (cargo-lambda's
/// layout, `make build`) or `<dir>/<function>` (a Cargo target folder such as `target/debug`).
pub fn artifact(dir: &Path, function: &str) -> anyhow::Result<std::path::PathBuf> {
    let candidates = [dir.join(function).join("bootstrap"), dir.join(function)];
    candidates.into_iter().find(|p| p.is_file()).with_context(|| {
        format!(
            "no binary of {function} in {}: run `make build` (release artifacts) or `cargo build --locked --bins`",
            dir.display()
        )
    })
}
