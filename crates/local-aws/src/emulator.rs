//! The local AWS emulator: started once per test process on a free loopback port, stopped when the
//! process ends (it exits when its stdin closes, so even a killed test leaves nothing running).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Serialize;
use serde_json::{Value, json};

use crate::workspace_root;

/// Dummy credentials; moto accepts any.
pub const ACCESS_KEY: &str = "testing";
/// Dummy secret.
pub const SECRET_KEY: &str = "testing";
/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

/// Regions handed out to tests so that tests sharing one emulator never see each other's data.
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
    "af-south-1",
    "me-south-1",
    "ap-east-1",
    "eu-central-2",
    "ap-south-2",
    "il-central-1",
];

/// An emulator and a Region that no other test of this process uses. Tests share emulators to
/// save start-up time and keep apart by Region; when the Regions of one emulator run out, the next
/// test gets a new emulator.
pub fn isolated() -> (&'static Emulator, &'static str) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static POOL: [OnceLock<Emulator>; 8] = [const { OnceLock::new() }; 8];
    let i = NEXT.fetch_add(1, Ordering::SeqCst);
    let slot = (i / REGIONS.len()).min(POOL.len() - 1);
    let emulator = POOL[slot].get_or_init(|| match Emulator::start() {
        Ok(e) => e,
        Err(e) => panic!("the local AWS emulator did not start: {e:#}"),
    });
    (emulator, REGIONS[i % REGIONS.len()])
}

/// A running emulator.
pub struct Emulator {
    port: u16,
    // Held, never read: dropping the pipe (process exit) stops the emulator.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// A managed node to register.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSpec {
    /// `ec2` or `hybrid`.
    pub kind: &'static str,
    /// Fixed id; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Linux`, `Windows`, `MacOS`.
    pub platform_type: String,
    /// `None`: the node has not reported it yet.
    pub platform_name: Option<String>,
    /// `None`: the node has not reported it yet.
    pub platform_version: Option<String>,
    /// `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: &'static str,
    /// EC2 only: `false` registers the node in SSM without an EC2 instance (terminated and gone).
    pub in_ec2: bool,
}

impl NodeSpec {
    /// An EC2 node with this OS.
    pub fn ec2(platform_type: &str, name: &str, version: &str) -> Self {
        Self {
            kind: "ec2",
            id: None,
            platform_type: platform_type.into(),
            platform_name: Some(name.into()),
            platform_version: Some(version.into()),
            ping_status: "Online",
            in_ec2: true,
        }
    }

    /// A hybrid (`mi-`) node with this OS.
    pub fn hybrid(platform_type: &str, name: &str, version: &str) -> Self {
        Self {
            kind: "hybrid",
            ..Self::ec2(platform_type, name, version)
        }
    }

    /// The node has not reported its platform name and version yet.
    pub fn unreported(mut self) -> Self {
        self.platform_name = None;
        self.platform_version = None;
        self
    }

    /// Registered in SSM, but no EC2 instance exists (terminated and gone).
    pub fn without_instance(mut self) -> Self {
        self.in_ec2 = false;
        self
    }
}

/// An error the emulator returns instead of the next matching calls.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    /// Signing name: `ec2`, `ssm`, `s3`...
    pub service: String,
    /// Operation name: `CreateTags`.
    pub operation: String,
    /// Only calls to this Region.
    pub region: String,
    /// HTTP status.
    pub status: u16,
    /// AWS error code.
    pub code: String,
    /// AWS error message.
    pub message: String,
    /// How many calls fail; -1 for all.
    pub times: i64,
}

impl Fault {
    /// The next call of `service:operation` in `region` fails with `status`, `code` and `message`.
    pub fn new(
        service: &str,
        operation: &str,
        region: &str,
        status: u16,
        code: &str,
        message: &str,
    ) -> Self {
        Self {
            service: service.into(),
            operation: operation.into(),
            region: region.into(),
            status,
            code: code.into(),
            message: message.into(),
            times: 1,
        }
    }

    /// Every matching call fails, not just the next.
    pub fn always(mut self) -> Self {
        self.times = -1;
        self
    }
}

/// A bucket for [`Emulator::s3_bulk`]: `objects` keys under `key_prefix` with
/// `versions_per_object` versions each, a delete marker on top of `delete_markers` of them, and
/// `multipart_uploads` uploads in progress.
#[derive(Debug, Clone, Serialize)]
pub struct BulkBucket {
    pub region: String,
    pub bucket: String,
    /// `Enabled`, `Suspended`, or `None` for an unversioned bucket.
    pub versioning: Option<String>,
    /// Distinct keys.
    pub objects: usize,
    /// Versions per key.
    pub versions_per_object: usize,
    /// Keys that get a delete marker.
    pub delete_markers: usize,
    /// In-progress multipart uploads.
    pub multipart_uploads: usize,
    /// Key prefix.
    pub key_prefix: String,
}

/// The emulator's Python: `EMULATOR_PYTHON`, else the project's `.venv`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("EMULATOR_PYTHON") {
        return PathBuf::from(p);
    }
    workspace_root().join(".venv/bin/python")
}

impl Emulator {
    /// Starts a new emulator process with the project's Python (`.venv`, or `EMULATOR_PYTHON`).
    pub fn start() -> anyhow::Result<Emulator> {
        Self::start_with(&python())
    }

    /// Starts a new emulator process with the given Python interpreter on a free port.
    pub fn start_with(python: &std::path::Path) -> anyhow::Result<Emulator> {
        Self::start_on(python, 0)
    }

    /// Starts a new emulator process with the given Python interpreter on `port` (0: a free one).
    pub fn start_on(python: &std::path::Path, port: u16) -> anyhow::Result<Emulator> {
        let python = python.to_path_buf();
        let script = workspace_root().join("emulator/emulator.py");
        if !python.exists() {
            bail!(
                "{} does not exist: run `make setup` to create the Python environment with the \
                 pinned moto (or set EMULATOR_PYTHON)",
                python.display()
            );
        }
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", "127.0.0.1", "--exit-on-stdin-eof", "--port"])
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}: run `make setup`", python.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(port) = line
            .trim()
            .strip_prefix("EMULATOR_READY port=")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            let mut stderr = String::new();
            if let Some(err) = child.stderr.take() {
                use std::io::Read;
                let _ = BufReader::new(err).read_to_string(&mut stderr);
            }
            bail!(
                "the emulator did not report its port (got {line:?}); its stderr:\n{stderr}\n\
                 Run `make setup` to install the pinned moto into .venv"
            );
        };
        // Keep draining stderr so the emulator never blocks on a full pipe.
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if std::env::var_os("EMULATOR_VERBOSE").is_some() {
                        eprintln!("[emulator] {line}");
                    }
                }
            });
        }
        let stdin = child.stdin.take().context("no stdin")?;
        Ok(Emulator {
            port,
            _stdin: Mutex::new(stdin),
            _child: Mutex::new(child),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SDK configuration for this emulator and Region, as a function would load it from
    /// `AWS_ENDPOINT_URL`, dummy credentials and `AWS_MAX_ATTEMPTS`: the emulator's administrator
    /// of its default account (123456789012).
    pub async fn sdk_config(&self, region: &str, max_attempts: u32) -> SdkConfig {
        self.sdk_config_with(region, max_attempts, ACCESS_KEY).await
    }

    /// The same, as the administrator of `account` (an access key id that is an account id acts
    /// in that account: the emulator's README): for a resource that belongs to another account than
    /// the default one, which the emulator, as AWS, refuses to anyone outside that account.
    pub async fn sdk_config_as(&self, region: &str, max_attempts: u32, account: &str) -> SdkConfig {
        self.sdk_config_with(region, max_attempts, account).await
    }

    async fn sdk_config_with(
        &self,
        region: &str,
        max_attempts: u32,
        access_key: &str,
    ) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(
                access_key, SECRET_KEY, None, None, "tests",
            ))
            .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await
    }

    /// The environment a function binary needs to use this emulator in `region`.
    pub fn function_env(&self, region: &str) -> Vec<(String, String)> {
        [
            ("AWS_REGION", region),
            ("AWS_DEFAULT_REGION", region),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_MAX_ATTEMPTS", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([("AWS_ENDPOINT_URL".to_owned(), self.endpoint())])
        .collect()
    }

    async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        // A client per call: tests run on separate tokio runtimes, and a pooled client must not
        // outlive the runtime that opened its connections.
        let client = reqwest::Client::new();
        let mut request = client.request(method.clone(), format!("{}{path}", self.endpoint()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers managed nodes in `region`; returns their ids in order.
    pub async fn seed_nodes(
        &self,
        region: &str,
        nodes: &[NodeSpec],
    ) -> anyhow::Result<Vec<String>> {
        self.seed_nodes_in(ACCOUNT_ID, region, nodes).await
    }

    /// Registers managed nodes in `region` of another account than moto's default.
    pub async fn seed_nodes_in(
        &self,
        account: &str,
        region: &str,
        nodes: &[NodeSpec],
    ) -> anyhow::Result<Vec<String>> {
        let answer = self
            .control(
                reqwest::Method::POST,
                "/_emulator/managed-nodes",
                Some(json!({"account": account, "region": region, "nodes": nodes})),
            )
            .await?;
        serde_json::from_value(answer["ids"].clone()).context("ids")
    }

    /// Fires the scheduled EventBridge rule `rule` in `account` and `region` now, as its schedule
    /// would; returns each Lambda target's invocation (`outcome`, `response`, `error`).
    pub async fn fire_schedule(
        &self,
        account: &str,
        region: &str,
        rule: &str,
    ) -> anyhow::Result<Vec<Value>> {
        self.fire_schedule_at(account, region, rule, None).await
    }

    /// The enabled scheduled rules of `account` and `region` (`/_emulator/events/scheduled-rules`):
    /// each rule's name and its targets' ARNs.
    pub async fn scheduled_rules(
        &self,
        account: &str,
        region: &str,
    ) -> anyhow::Result<Vec<(String, Vec<String>)>> {
        let answer = self
            .control(
                reqwest::Method::GET,
                &format!("/_emulator/events/scheduled-rules?account={account}&region={region}"),
                None,
            )
            .await?;
        Ok(answer["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let targets = r["targets"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (r["rule"].as_str().unwrap_or_default().to_owned(), targets)
            })
            .collect())
    }

    /// [`Emulator::fire_schedule`], the event's `time` being `at` (`2026-11-21T12:00:00Z`): the
    /// schedule firing at a simulated present.
    pub async fn fire_schedule_at(
        &self,
        account: &str,
        region: &str,
        rule: &str,
        at: Option<&str>,
    ) -> anyhow::Result<Vec<Value>> {
        let mut body = json!({"account": account, "region": region, "rule": rule});
        if let Some(at) = at {
            body["time"] = json!(at);
        }
        let answer = self
            .control(
                reqwest::Method::POST,
                "/_emulator/events/fire-schedule",
                Some(body),
            )
            .await?;
        Ok(answer["invocations"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The managed nodes the emulator holds in `account` and `region`, as its control API lists
    /// them (`InstanceId`, `Tags`, ...).
    pub async fn managed_nodes(&self, account: &str, region: &str) -> anyhow::Result<Vec<Value>> {
        let answer = self
            .control(
                reqwest::Method::GET,
                &format!("/_emulator/managed-nodes?account={account}&region={region}"),
                None,
            )
            .await?;
        Ok(answer["nodes"].as_array().cloned().unwrap_or_default())
    }

    /// Removes a node from SSM, and its EC2 instance when `ec2` is true.
    pub async fn remove_node(&self, region: &str, id: &str, ec2: bool) -> anyhow::Result<()> {
        self.control(
            reqwest::Method::DELETE,
            &format!("/_emulator/managed-nodes?region={region}&id={id}&ec2={ec2}"),
            None,
        )
        .await
        .map(drop)
    }

    /// Makes the next matching calls fail.
    pub async fn inject(&self, fault: Fault) -> anyhow::Result<()> {
        self.control(
            reqwest::Method::POST,
            "/_emulator/faults",
            Some(serde_json::to_value(fault)?),
        )
        .await
        .map(drop)
    }

    /// Makes the next `BatchCreatePartition`/`BatchUpdatePartition` entry with these partition values,
    /// in this database, fail with `code` while the rest of the batch is applied.
    pub async fn glue_entry_fault(
        &self,
        operation: &str,
        database: &str,
        values: &[&str],
        code: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let body = json!({
            "operation": operation, "database": database, "values": values,
            "code": code, "message": message, "times": 1
        });
        self.control(
            reqwest::Method::POST,
            "/_emulator/glue/entry-faults",
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Fills a bucket (created if needed) directly in the emulator, without a request per object.
    /// Returns the emulator's answer (`versions`, `delete_markers`, `uploads`, `seconds`).
    pub async fn s3_bulk(&self, spec: &BulkBucket) -> anyhow::Result<Value> {
        self.control(
            reqwest::Method::POST,
            "/_emulator/s3/bulk",
            Some(serde_json::to_value(spec)?),
        )
        .await
    }

    /// Makes the next `DeleteObjects` entry for each of `keys` in `bucket` fail with `code`.
    pub async fn s3_delete_fault(
        &self,
        bucket: &str,
        keys: &[&str],
        code: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let body =
            json!({"bucket": bucket, "keys": keys, "code": code, "message": message, "times": 1});
        self.control(
            reqwest::Method::POST,
            "/_emulator/s3/delete-faults",
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Calls made in `region`, as `service:Operation` → count.
    pub async fn calls(&self, region: &str) -> anyhow::Result<BTreeMap<String, u64>> {
        let answer = self
            .control(
                reqwest::Method::GET,
                &format!("/_emulator/calls?region={region}"),
                None,
            )
            .await?;
        let mut counts = BTreeMap::new();
        for call in answer["calls"].as_array().cloned().unwrap_or_default() {
            let key = format!(
                "{}:{}",
                call["service"].as_str().unwrap_or_default(),
                call["operation"].as_str().unwrap_or_default()
            );
            *counts.entry(key).or_insert(0) += call["count"].as_u64().unwrap_or(0);
        }
        Ok(counts)
    }

    /// Every call signed with an `<account>-<caller>` access key id, by that key:
    /// key → `service:Operation` → count (all Regions).
    pub async fn calls_by_principal(
        &self,
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<String, u64>>> {
        let answer = self
            .control(reqwest::Method::GET, "/_emulator/calls-by-principal", None)
            .await?;
        let mut by: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for call in answer["calls"].as_array().cloned().unwrap_or_default() {
            let key = format!(
                "{}:{}",
                call["service"].as_str().unwrap_or_default(),
                call["operation"].as_str().unwrap_or_default()
            );
            *by.entry(call["principal"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .entry(key)
                .or_insert(0) += call["count"].as_u64().unwrap_or(0);
        }
        Ok(by)
    }

    /// Every authorization decision the emulator made so far (`/_emulator/authz/decisions`): who
    /// asked for which action on which resource, the answer, and the statements that allowed it.
    pub async fn authz_decisions(&self) -> anyhow::Result<AuthzDecisions> {
        let answer = self
            .control(reqwest::Method::GET, "/_emulator/authz/decisions", None)
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    /// Forgets the call counts of `region`.
    pub async fn reset_calls(&self, region: &str) -> anyhow::Result<()> {
        self.control(
            reqwest::Method::DELETE,
            &format!("/_emulator/calls?region={region}"),
            None,
        )
        .await
        .map(drop)
    }
}

/// The emulator's authorization decisions (`/_emulator/authz/decisions`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct AuthzDecisions {
    /// One entry per distinct decision, with how many times it was made.
    pub decisions: Vec<AuthzDecision>,
    /// Requests the emulator could not authorize (an unmapped operation, an unknown condition key).
    pub errors: Vec<String>,
}

/// One distinct authorization decision.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct AuthzDecision {
    /// `<account>-<label>` of the caller (a function's crate), or the service principal.
    pub caller: String,
    /// The principal's ARN (a role session's, `arn:aws:iam::<account>:root`, or a service's name).
    pub principal: String,
    /// The IAM action.
    pub action: String,
    /// The resource ARN, or `*`.
    pub resource: String,
    /// Whether the request was allowed.
    pub allowed: bool,
    /// `allowed`, or why not.
    pub reason: String,
    /// Labels of the statements that allowed it.
    pub allowed_by: Vec<String>,
    /// Labels of the statements without any one of which it would have been denied.
    pub needed: Vec<String>,
    /// How many times.
    pub count: u64,
}
