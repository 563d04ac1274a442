//! The emulator's Lambda runner: the emulator's CloudFormation creates Lambda functions from the
//! templates, and every invocation of one (the Invoke API, EventBridge targets, S3 notifications,
//! custom resources) is forwarded here as `POST /invoke` (the protocol is in the emulator's
//! `emu_lambda` documentation). Each function runs as its real `bootstrap` behind a local
//! Runtime API ([`LocalFunction`]), kept warm between invocations as Lambda keeps an execution
//! environment, with the function's own configuration: its environment variables, Region, memory
//! size and timeout, and credentials that act in its account and name it as the caller
//! (`<account>-<package>`, the package being the crate: `org-data-sync.zip` → `org-data-sync`;
//! the function name when the package has no name), so the emulator can count what each crate's
//! functions called, whatever name a stack gave them.
//!
//! The binary is the `bootstrap` inside the deployment package the function was created from
//! (Lambda's custom runtime contract: "the runtime ... is an executable file named bootstrap",
//! "Building a custom runtime for AWS Lambda"). With a binary folder (`--bin-dir`), a package
//! named `<crate>.zip` runs `<bin-dir>/<crate>` instead: the same code, built for the host, which
//! lets the demo use debug builds without zipping them.
//!
//! One invocation at a time per function (a reserved concurrency of 1): events queue, which
//! keeps the emulator's figures per function readable and changes no outcome our functions
//! depend on (each event handler is idempotent and order-independent).

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::lambda::{FunctionConfig, LocalFunction, Outcome, artifact, serve_http};

/// What the emulator sends for one invocation.
#[derive(Debug, Clone, Deserialize)]
pub struct InvokeRequest {
    /// The function's ARN.
    pub function_arn: String,
    /// Its name.
    pub function_name: String,
    /// The account it lives in.
    pub account: String,
    /// Its Region.
    pub region: String,
    /// Its environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Memory size in MB.
    #[serde(default = "default_memory")]
    pub memory_size: u64,
    /// A file holding the deployment package.
    pub code_zip: Option<PathBuf>,
    /// Where the package came from, when it came from S3.
    pub code_s3: Option<CodeS3>,
    /// The package's SHA-256 (Lambda's `CodeSha256`): a new package is a new environment.
    #[serde(default)]
    pub code_sha256: String,
    /// `RequestResponse` or `Event`.
    #[serde(default)]
    pub invocation_type: String,
    /// The event.
    pub payload: Value,
    /// The execution role's session, which the function's SDK signs with: the emulator assumed
    /// the role as `lambda.amazonaws.com` after its trust policy allowed it, as Lambda does
    /// ("Lambda execution role").
    pub credentials: SessionCredentials,
}

/// Temporary credentials of a role session.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionCredentials {
    /// `ASIA...`
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
}

fn default_timeout() -> u64 {
    3
}

fn default_memory() -> u64 {
    128
}

/// The S3 location of a deployment package.
#[derive(Debug, Clone, Deserialize)]
pub struct CodeS3 {
    pub bucket: String,
    pub key: String,
}

/// What the runner answers.
#[derive(Debug, Clone, Serialize)]
pub struct InvokeResponse {
    /// `response` or `error`.
    pub outcome: &'static str,
    /// The function's answer, or its error object.
    pub payload: Value,
}

/// What one function did while the runner served it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionStats {
    /// The crate the function runs (its deployment package's name, `s3-cleanup` for
    /// `s3-cleanup.zip`); empty when the package's name says nothing.
    pub package: String,
    /// Invocations answered.
    pub invocations: u64,
    /// Of which the function returned an error (or its runtime failed).
    pub errors: u64,
    /// Execution environments started (cold starts).
    pub cold_starts: u64,
    /// The longest init duration seen.
    pub init: Duration,
    /// The largest peak resident memory of its processes, KiB.
    pub peak_memory_kib: u64,
    /// Time spent in invocations.
    pub busy: Duration,
}

struct Warm {
    code: String,
    function: LocalFunction,
}

struct State {
    emulator: String,
    bin_dir: Option<PathBuf>,
    cache: PathBuf,
    warm: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Warm>>>>>,
    stats: Mutex<BTreeMap<String, FunctionStats>>,
    logs: Mutex<BTreeMap<String, Vec<String>>>,
}

/// A running Lambda runner.
pub struct Runner {
    addr: SocketAddr,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Runner {
    /// Starts a runner on a free loopback port. Functions reach AWS at `emulator` (their
    /// `AWS_ENDPOINT_URL`); `bin_dir` optionally replaces packages by local binaries.
    pub async fn start(emulator: &str, bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cache = std::env::temp_dir().join(format!("local-aws-runner-{}", std::process::id()));
        let state = Arc::new(State {
            emulator: emulator.trim_end_matches('/').to_owned(),
            bin_dir: bin_dir.map(Path::to_path_buf),
            cache,
            warm: tokio::sync::Mutex::new(HashMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            logs: Mutex::new(BTreeMap::new()),
        });
        let server = tokio::spawn(serve_http(listener, state.clone(), route));
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    /// The URL to register with the emulator (`PUT /_emulator/lambda-runner`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Registers this runner with the emulator it was started for.
    pub async fn register(&self) -> anyhow::Result<()> {
        let response = reqwest::Client::new()
            .put(format!("{}/_emulator/lambda-runner", self.state.emulator))
            .json(&serde_json::json!({ "url": self.url() }))
            .send()
            .await
            .context("PUT /_emulator/lambda-runner")?;
        if !response.status().is_success() {
            bail!(
                "the emulator refused the runner: HTTP {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// What each function (by `<account>/<region>/<name>`) did so far.
    pub fn stats(&self) -> BTreeMap<String, FunctionStats> {
        let mut stats = lock(&self.state.stats).clone();
        // Peak memory grows while a process lives: read it now as well.
        if let Ok(warm) = self.state.warm.try_lock() {
            for (key, slot) in warm.iter() {
                if let Ok(slot) = slot.try_lock()
                    && let Some(w) = slot.as_ref()
                    && let (Some(s), Some(kib)) = (stats.get_mut(key), w.function.peak_memory_kib())
                {
                    s.peak_memory_kib = s.peak_memory_kib.max(kib);
                }
            }
        }
        stats
    }

    /// Everything a function printed (by `<account>/<region>/<name>`), across its processes.
    pub fn logs(&self, key: &str) -> Vec<String> {
        let mut logs = lock(&self.state.logs).get(key).cloned().unwrap_or_default();
        if let Ok(warm) = self.state.warm.try_lock()
            && let Some(slot) = warm.get(key)
            && let Ok(slot) = slot.try_lock()
            && let Some(w) = slot.as_ref()
        {
            logs.extend(w.function.logs());
        }
        logs
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.method() != Method::POST || req.uri().path() != "/invoke" {
        return Ok(reply(StatusCode::NOT_FOUND, "POST /invoke only".into()));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, e.to_string())),
    };
    let request: InvokeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                format!("bad invoke request: {e}"),
            ));
        }
    };
    Ok(match invoke(&state, request).await {
        Ok(answer) => reply(
            StatusCode::OK,
            serde_json::to_string(&answer).unwrap_or_default(),
        ),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "the runtime failed");
            reply(StatusCode::BAD_GATEWAY, format!("{e:#}"))
        }
    })
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

async fn invoke(state: &State, request: InvokeRequest) -> anyhow::Result<InvokeResponse> {
    let key = format!(
        "{}/{}/{}",
        request.account, request.region, request.function_name
    );
    let slot = state
        .warm
        .lock()
        .await
        .entry(key.clone())
        .or_default()
        .clone();
    let mut slot = slot.lock().await;
    let code = format!(
        "{}:{}",
        request.code_sha256,
        serde_json::to_string(&request.environment)?
    );
    // A new package or configuration is a new execution environment, as in Lambda.
    if slot.as_ref().is_some_and(|w| w.code != code) {
        retire(state, &key, slot.take());
    }
    if slot.is_none() {
        let function = start(state, &request).await?;
        let mut stats = lock(&state.stats);
        let s = stats.entry(key.clone()).or_default();
        s.cold_starts += 1;
        s.init = s.init.max(function.init_duration());
        package(&request).clone_into(&mut s.package);
        drop(stats);
        *slot = Some(Warm { code, function });
    }
    let warm = slot.as_ref().context("no execution environment")?;
    let started = Instant::now();
    let invoked = warm
        .function
        .invoke(&request.payload, Duration::from_secs(request.timeout))
        .await;
    let peak = warm.function.peak_memory_kib().unwrap_or_default();
    let mut stats = lock(&state.stats);
    let s = stats.entry(key.clone()).or_default();
    s.invocations += 1;
    s.busy += started.elapsed();
    s.peak_memory_kib = s.peak_memory_kib.max(peak);
    match invoked {
        Ok(invoked) => Ok(match invoked.outcome {
            Outcome::Response(payload) => InvokeResponse {
                outcome: "response",
                payload,
            },
            Outcome::Error(payload) => {
                s.errors += 1;
                InvokeResponse {
                    outcome: "error",
                    payload,
                }
            }
        }),
        Err(e) => {
            // A timeout or a dead process: Lambda discards the environment; so do we.
            s.errors += 1;
            drop(stats);
            retire(state, &key, slot.take());
            Err(e)
        }
    }
}

fn retire(state: &State, key: &str, warm: Option<Warm>) {
    if let Some(w) = warm {
        lock(&state.logs)
            .entry(key.to_owned())
            .or_default()
            .extend(w.function.logs());
    }
}

/// The package's name without `.zip`: the crate the function runs (`""` when unknown).
fn package(request: &InvokeRequest) -> &str {
    request
        .code_s3
        .as_ref()
        .map(|c| c.key.as_str())
        .or_else(|| request.code_zip.as_deref().and_then(Path::to_str))
        .and_then(|k| k.rsplit('/').next())
        .and_then(|name| name.strip_suffix(".zip"))
        .unwrap_or_default()
}

async fn start(state: &State, request: &InvokeRequest) -> anyhow::Result<LocalFunction> {
    let binary = binary(state, request)?;
    let mut env: Vec<(String, String)> = request
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Lambda's reserved variables ("Defined runtime environment variables", Lambda developer
    // guide), with the execution role's session as the function's credentials.
    let credentials = &request.credentials;
    env.extend(
        [
            ("AWS_REGION", request.region.clone()),
            ("AWS_DEFAULT_REGION", request.region.clone()),
            ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY",
                credentials.secret_access_key.clone(),
            ),
            ("AWS_SESSION_TOKEN", credentials.session_token.clone()),
            ("AWS_ENDPOINT_URL", state.emulator.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    LocalFunction::start_with(
        &binary,
        &FunctionConfig {
            name: request.function_name.clone(),
            arn: request.function_arn.clone(),
            memory_size: request.memory_size,
        },
        &env,
        Duration::from_secs(30),
    )
    .await
}

/// The executable for `request`: `<bin-dir>/<crate>` when a binary folder is set and has one,
/// else the package's `bootstrap`, extracted once per package.
fn binary(state: &State, request: &InvokeRequest) -> anyhow::Result<PathBuf> {
    let package = package(request);
    if let Some(dir) = &state.bin_dir
        && !package.is_empty()
        && let Ok(path) = artifact(dir, package)
    {
        return Ok(path);
    }
    let zip = request.code_zip.as_deref().with_context(|| {
        format!(
            "{}: the emulator sent no deployment package and {} has no binary {package:?}",
            request.function_name,
            state
                .bin_dir
                .as_deref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "no --bin-dir".into())
        )
    })?;
    let digest = if request.code_sha256.is_empty() {
        request.function_name.clone()
    } else {
        request.code_sha256.replace(['/', '+', '='], "_")
    };
    let path = state.cache.join(digest).join("bootstrap");
    if !path.exists() {
        extract_bootstrap(zip, &path)?;
    }
    Ok(path)
}

fn extract_bootstrap(zip: &Path, to: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(zip).with_context(|| format!("open {}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip file", zip.display()))?;
    let mut entry = archive.by_name("bootstrap").with_context(|| {
        format!(
            "{} has no `bootstrap` at its root: a provided.al2023 function needs one",
            zip.display()
        )
    })?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes)?;
    let parent = to.parent().context("no parent folder")?;
    std::fs::create_dir_all(parent)?;
    let partial = parent.join("bootstrap.partial");
    std::fs::write(&partial, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&partial, to)?;
    Ok(())
}
