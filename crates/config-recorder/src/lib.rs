//! # config-recorder
//!
//! Makes sure AWS Config records in a member account and Region, so that the managed Config rules
//! of `member-patching.yaml` can exist there, and never touches a recorder or delivery channel it
//! did not create.
//!
//! Why a custom resource: a Config rule needs a customer managed configuration recorder
//! (`PutConfigRule` fails with `NoAvailableConfigurationRecorderException` without one), and an
//! account and Region may hold only one ("You can create only one customer managed configuration
//! recorder for each account for each Amazon Web Services Region", AWS Config API Reference,
//! `PutConfigurationRecorder`). A StackSet applies one template everywhere, and real organizations
//! are mixed: Control Tower and Security Hub accounts have a recorder (Control Tower's mandatory
//! control `AWS-GR_CONFIG_CHANGE_PROHIBITED` even forbids changing it), others have none. A
//! template that always creates one fails in the first kind of account, one that never does
//! fails in the second. This resource looks first.
//!
//! ## Trigger
//! CloudFormation custom resource (`Custom::ConfigRecorder`):
//! ```json
//! {"RequestType": "Create", "ResponseURL": "https://...", "StackId": "arn:...:stack/StackSet-patching-.../...",
//!  "RequestId": "...", "LogicalResourceId": "ConfigRecorder", "ResourceType": "Custom::ConfigRecorder",
//!  "ResourceProperties": {"RecorderName": "patch-compliance-1a2b3c4d",
//!    "RoleArn": "arn:aws:iam::111122223333:role/patching-ConfigRecorderRole-ABC",
//!    "BucketName": "patch-config-444455556666-us-east-1-1a2b3c4d", "KeyPrefix": "",
//!    "DeliveryFrequency": "TwentyFour_Hours"}}
//! ```
//!
//! ## Properties (strings)
//! - `RecorderName` (required, 1 to 256 characters, not starting with `AWSConfigurationRecorderFor`,
//!   which AWS reserves for service-linked recorders): the name of a recorder this resource
//!   creates, and of its delivery channel. Unique to the stack, so a recorder of that name is this
//!   stack's own.
//! - `RoleArn` (required): the IAM role a created recorder records and delivers with.
//! - `BucketName` (required where no recorder exists): the delivery channel's bucket.
//! - `KeyPrefix` (optional): the delivery channel's key prefix.
//! - `ResourceTypes` (optional list): what a created recorder records; by default
//!   [`DEFAULT_RESOURCE_TYPES`], what the rules and the reports read.
//! - `DeliveryFrequency` (optional, `TwentyFour_Hours` by default): how often snapshots are delivered.
//!
//! ## Behaviour
//! - **A customer managed recorder exists** (any name but `RecorderName`): nothing is changed. The
//!   physical id is `existing:<its name>`; the answer says whether it is recording and which of
//!   [`DEFAULT_RESOURCE_TYPES`] it does not record (then the rules evaluate nothing there, and the
//!   reports say so), and the same is logged as a warning. Service-linked recorders (name prefix
//!   `AWSConfigurationRecorderFor`, or a `servicePrincipal`) are other services' and are ignored.
//! - **None exists**: `PutConfigurationRecorder` (`RecorderName`, `RoleArn`, the resource types),
//!   then a delivery channel of the same name to `BucketName` unless one exists already (an
//!   existing channel is used as it is), then `StartConfigurationRecorder`. Physical id
//!   `created:<RecorderName>`. A failure after the recorder was created removes what this call
//!   created before answering, so nothing is left half-made.
//! - **Its own recorder exists** (`RecorderName`): a retried Create or an Update; the recorder and
//!   its channel are brought to the properties and started.
//! - **Update** runs the same steps, so a recorder deleted by hand is created again, and one
//!   created by someone else since is adopted as `existing:`. A new physical id makes
//!   CloudFormation delete the old one, which removes only what the old id says it created.
//! - **Delete** of `created:<name>`: stop the recorder, delete the delivery channel of that name
//!   (not another one), delete the recorder; "not found" is success. Delete of `existing:<name>`
//!   (or anything else) changes nothing.
//!
//! Answer `Data`: `RecorderName`, `Created` (`true`/`false`), `Recording` (`true`/`false`),
//! `MissingResourceTypes` (comma-separated, `none` when every type is recorded).
//!
//! ## IAM actions
//! `config:DescribeConfigurationRecorders`, `DescribeConfigurationRecorderStatus`,
//! `DescribeDeliveryChannels`, `PutConfigurationRecorder`, `PutDeliveryChannel`,
//! `StartConfigurationRecorder`, `StopConfigurationRecorder`, `DeleteDeliveryChannel`,
//! `DeleteConfigurationRecorder` (on `*`: the recorder's ARN ends in an id AWS assigns at creation);
//! `iam:PassRole` on the recorder's role.
//!
//! ## Idempotency
//! Create, Update and Delete converge: a repeated request finds its own recorder by name, and an
//! `existing:` resource never writes anything.

use aws_sdk_config::error::SdkError;
use aws_sdk_config::types::{
    ConfigSnapshotDeliveryProperties, ConfigurationRecorder, ConfigurationRecorderStatus,
    DeliveryChannel, MaximumExecutionFrequency, RecordingGroup, RecordingStrategy,
    RecordingStrategyType, ResourceType,
};
use aws_setup::AwsError;
use cfn_response::{CustomResource, Outcome, Properties, PropertyError, Request};
use tracing::{info, warn};

/// What the rules and the reports need recorded: instances (the managed-by-SSM rule), managed
/// instance inventory (both), patch compliance (the patch rule) and the rules' own results.
pub const DEFAULT_RESOURCE_TYPES: [&str; 4] = [
    "AWS::EC2::Instance",
    "AWS::SSM::ManagedInstanceInventory",
    "AWS::SSM::PatchCompliance",
    "AWS::Config::ResourceCompliance",
];
/// "The prefix "AWSConfigurationRecorderFor" is reserved for service-linked configuration
/// recorders" (AWS Config API Reference, `InvalidConfigurationRecorderNameException`).
pub const SERVICE_LINKED_PREFIX: &str = "AWSConfigurationRecorderFor";
/// Physical id prefix of a recorder this resource created (and may delete).
pub const CREATED: &str = "created:";
/// Physical id prefix of a recorder that was there already (never changed).
pub const EXISTING: &str = "existing:";
const DELIVERY_FREQUENCIES: [&str; 5] = [
    "One_Hour",
    "Three_Hours",
    "Six_Hours",
    "Twelve_Hours",
    "TwentyFour_Hours",
];

/// The validated properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderSpec {
    /// `RecorderName`.
    pub name: String,
    /// `RoleArn`.
    pub role_arn: String,
    /// `BucketName`.
    pub bucket: Option<String>,
    /// `KeyPrefix`.
    pub prefix: Option<String>,
    /// `ResourceTypes`.
    pub resource_types: Vec<String>,
    /// `DeliveryFrequency`.
    pub frequency: String,
}

impl RecorderSpec {
    /// Reads and checks the properties; makes no AWS call.
    pub fn from_properties(props: &Properties) -> Result<Self, PropertyError> {
        let name = props.required_str("RecorderName")?.to_owned();
        if name.chars().count() > 256 {
            return Err(PropertyError::invalid(
                "RecorderName",
                "it must be 1 to 256 characters long",
            ));
        }
        if name.starts_with(SERVICE_LINKED_PREFIX) {
            return Err(PropertyError::invalid(
                "RecorderName",
                format!(
                    "the prefix {SERVICE_LINKED_PREFIX:?} is reserved for service-linked recorders"
                ),
            ));
        }
        let role_arn = props.required_str("RoleArn")?.to_owned();
        if aws_setup::names::Arn::parse(&role_arn)
            .is_none_or(|arn| arn.service != "iam" || !arn.resource.starts_with("role/"))
        {
            return Err(PropertyError::invalid(
                "RoleArn",
                format!(
                    "{role_arn:?} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)"
                ),
            ));
        }
        let bucket = props.optional_str("BucketName")?.map(str::to_owned);
        if let Some(b) = &bucket {
            aws_setup::names::check_bucket_name(b)
                .map_err(|e| PropertyError::invalid("BucketName", e))?;
        }
        let prefix = props
            .optional_str("KeyPrefix")?
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let mut resource_types = props.string_list("ResourceTypes")?;
        if resource_types.is_empty() {
            resource_types = DEFAULT_RESOURCE_TYPES.map(str::to_owned).to_vec();
        }
        if let Some(bad) = resource_types.iter().find(|t| !t.starts_with("AWS::")) {
            return Err(PropertyError::invalid(
                "ResourceTypes",
                format!("{bad:?} is not a resource type such as AWS::EC2::Instance"),
            ));
        }
        let frequency = props
            .optional_str("DeliveryFrequency")?
            .unwrap_or("TwentyFour_Hours")
            .to_owned();
        if !DELIVERY_FREQUENCIES.contains(&frequency.as_str()) {
            return Err(PropertyError::invalid(
                "DeliveryFrequency",
                format!(
                    "{frequency:?} is not one of {}",
                    DELIVERY_FREQUENCIES.join(", ")
                ),
            ));
        }
        Ok(Self {
            name,
            role_arn,
            bucket,
            prefix,
            resource_types,
            frequency,
        })
    }

    fn recorder(&self) -> Result<ConfigurationRecorder, aws_sdk_config::error::BuildError> {
        Ok(ConfigurationRecorder::builder()
            .name(&self.name)
            .role_arn(&self.role_arn)
            .recording_group(
                RecordingGroup::builder()
                    .all_supported(false)
                    .include_global_resource_types(false)
                    .recording_strategy(
                        RecordingStrategy::builder()
                            .use_only(RecordingStrategyType::InclusionByResourceTypes)
                            .build(),
                    )
                    .set_resource_types(Some(
                        self.resource_types
                            .iter()
                            .map(|t| ResourceType::from(t.as_str()))
                            .collect(),
                    ))
                    .build(),
            )
            .build())
    }

    fn channel(&self, bucket: &str) -> DeliveryChannel {
        DeliveryChannel::builder()
            .name(&self.name)
            .s3_bucket_name(bucket)
            .set_s3_key_prefix(self.prefix.clone())
            .config_snapshot_delivery_properties(
                ConfigSnapshotDeliveryProperties::builder()
                    .delivery_frequency(MaximumExecutionFrequency::from(self.frequency.as_str()))
                    .build(),
            )
            .build()
    }
}

/// Why a request fails.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// A property is missing or wrong.
    #[error(transparent)]
    Property(#[from] PropertyError),
    /// No recorder exists and there is nowhere to deliver to.
    #[error(
        "no AWS Config recorder exists in this account and Region and ConfigBucketName is empty, so \
         none can be created (a recorder needs a delivery channel to start): set ConfigBucketName, \
         or create a recorder here first"
    )]
    NoBucket,
    /// An AWS call failed.
    #[error("config:{operation} failed: {source}{undone}")]
    Aws {
        operation: &'static str,
        /// `<code>: <message>`.
        source: AwsError,
        /// What was removed again, when a creation failed halfway.
        undone: String,
    },
    /// A request could not be built.
    #[error("cannot build the AWS Config request: {0}")]
    Build(#[from] aws_sdk_config::error::BuildError),
}

fn aws<E, R>(operation: &'static str, err: &SdkError<E, R>) -> RecorderError
where
    E: aws_sdk_config::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    RecorderError::Aws {
        operation,
        source: AwsError::from_sdk(err),
        undone: String::new(),
    }
}

/// What the account's customer managed recorder is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its name.
    pub name: String,
    /// Whether it is recording.
    pub recording: bool,
    /// Which of [`DEFAULT_RESOURCE_TYPES`] it does not record.
    pub missing: Vec<String>,
}

/// The default types a recording group leaves out.
pub fn missing_types(group: Option<&RecordingGroup>) -> Vec<String> {
    // No recording group means "record all supported resource types" (PutConfigurationRecorder).
    let Some(group) = group else {
        return Vec::new();
    };
    let strategy = group.recording_strategy().and_then(|s| s.use_only());
    let excluded = group
        .exclusion_by_resource_types()
        .map(|e| e.resource_types())
        .unwrap_or_default();
    DEFAULT_RESOURCE_TYPES
        .iter()
        .filter(|wanted| {
            let recorded = match strategy {
                Some(RecordingStrategyType::ExclusionByResourceTypes) => {
                    !excluded.iter().any(|t| t.as_str() == **wanted)
                }
                _ if group.all_supported() => true,
                _ => group
                    .resource_types()
                    .iter()
                    .any(|t| t.as_str() == **wanted),
            };
            !recorded
        })
        .map(|t| (*t).to_owned())
        .collect()
}

/// The custom resource, holding its client.
#[derive(Debug, Clone)]
pub struct Recorder {
    config: aws_sdk_config::Client,
}

fn is_service_linked(r: &ConfigurationRecorder) -> bool {
    r.service_principal().is_some_and(|p| !p.is_empty())
        || r.name()
            .is_some_and(|n| n.starts_with(SERVICE_LINKED_PREFIX))
}

impl Recorder {
    /// A handler using this client.
    pub fn new(config: aws_sdk_config::Client) -> Self {
        Self { config }
    }

    /// The account's customer managed recorder, if any.
    async fn customer_managed(&self) -> Result<Option<ConfigurationRecorder>, RecorderError> {
        let out = self
            .config
            .describe_configuration_recorders()
            .send()
            .await
            .map_err(|e| aws("DescribeConfigurationRecorders", &e))?;
        Ok(out
            .configuration_recorders()
            .iter()
            .find(|r| !is_service_linked(r))
            .cloned())
    }

    async fn is_recording(&self, name: &str) -> Result<bool, RecorderError> {
        let out = self
            .config
            .describe_configuration_recorder_status()
            .configuration_recorder_names(name)
            .send()
            .await
            .map_err(|e| aws("DescribeConfigurationRecorderStatus", &e))?;
        Ok(out
            .configuration_recorders_status()
            .iter()
            .any(ConfigurationRecorderStatus::recording))
    }

    /// The delivery channels' names.
    async fn channels(&self) -> Result<Vec<String>, RecorderError> {
        let out = self
            .config
            .describe_delivery_channels()
            .send()
            .await
            .map_err(|e| aws("DescribeDeliveryChannels", &e))?;
        Ok(out
            .delivery_channels()
            .iter()
            .filter_map(|c| c.name().map(str::to_owned))
            .collect())
    }

    /// Creates or updates this stack's own recorder and channel, and starts it. `new`: the recorder
    /// did not exist before this call, so a failure after creating it removes it again.
    async fn make_own(&self, spec: &RecorderSpec, new: bool) -> Result<(), RecorderError> {
        let bucket = spec.bucket.as_deref().ok_or(RecorderError::NoBucket)?;
        self.config
            .put_configuration_recorder()
            .configuration_recorder(spec.recorder()?)
            .send()
            .await
            .map_err(|e| aws("PutConfigurationRecorder", &e))?;
        info!(recorder = %spec.name, new, "configuration recorder in place");
        let result = self.channel_and_start(spec, bucket).await;
        match result {
            Err(RecorderError::Aws {
                operation, source, ..
            }) if new => {
                let undone = match self.remove_own(&spec.name).await {
                    Ok(()) => format!(
                        "; the recorder {:?} created by this request was removed again",
                        spec.name
                    ),
                    Err(e) => format!(
                        "; removing the recorder {:?} created by this request failed too ({e}): \
                         delete it with aws configservice delete-configuration-recorder",
                        spec.name
                    ),
                };
                Err(RecorderError::Aws {
                    operation,
                    source,
                    undone,
                })
            }
            other => other,
        }
    }

    async fn channel_and_start(
        &self,
        spec: &RecorderSpec,
        bucket: &str,
    ) -> Result<(), RecorderError> {
        let channels = self.channels().await?;
        if channels.is_empty() || channels.contains(&spec.name) {
            self.config
                .put_delivery_channel()
                .delivery_channel(spec.channel(bucket))
                .send()
                .await
                .map_err(|e| aws("PutDeliveryChannel", &e))?;
            info!(channel = %spec.name, %bucket, "delivery channel in place");
        } else {
            // One delivery channel per account and Region ("You can have only one delivery channel
            // for each account for each Amazon Web Services Region", PutDeliveryChannel): someone
            // else's is used as it is.
            warn!(channels = ?channels, "a delivery channel exists already; it is used as it is");
        }
        self.config
            .start_configuration_recorder()
            .configuration_recorder_name(&spec.name)
            .send()
            .await
            .map_err(|e| aws("StartConfigurationRecorder", &e))?;
        Ok(())
    }

    /// Stops and deletes this stack's own recorder and the channel of the same name; "not found"
    /// is success at every step.
    async fn remove_own(&self, name: &str) -> Result<(), RecorderError> {
        match self
            .config
            .stop_configuration_recorder()
            .configuration_recorder_name(name)
            .send()
            .await
        {
            Ok(_) => info!(recorder = %name, "stopped"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_configuration_recorder_exception()) => {}
            Err(e) => return Err(aws("StopConfigurationRecorder", &e)),
        }
        match self
            .config
            .delete_delivery_channel()
            .delivery_channel_name(name)
            .send()
            .await
        {
            Ok(_) => info!(channel = %name, "deleted"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_delivery_channel_exception()) => {}
            Err(e) => return Err(aws("DeleteDeliveryChannel", &e)),
        }
        match self
            .config
            .delete_configuration_recorder()
            .configuration_recorder_name(name)
            .send()
            .await
        {
            Ok(_) => info!(recorder = %name, "deleted"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_configuration_recorder_exception()) => {}
            Err(e) => return Err(aws("DeleteConfigurationRecorder", &e)),
        }
        Ok(())
    }

    /// Create and Update: use the account's recorder, or make this stack's own.
    async fn ensure(&self, request: &Request) -> Result<Outcome, RecorderError> {
        let mut spec = RecorderSpec::from_properties(&request.properties)?;
        request.set_step("looking for the account's configuration recorder");
        let current = self.customer_managed().await?;
        // A recorder cannot be renamed (one per account and Region): this stack's own recorder
        // keeps the name it was created with, even if RecorderName changed since.
        let previous = request
            .physical_resource_id()
            .and_then(|id| id.strip_prefix(CREATED));
        if let (Some(previous), Some(r)) = (previous, current.as_ref())
            && r.name() == Some(previous)
            && previous != spec.name
        {
            warn!(recorder = %previous, wanted = %spec.name, "this stack's recorder keeps its name");
            spec.name = previous.to_owned();
        }
        let (id, created, found) = match current {
            Some(r) if r.name() != Some(spec.name.as_str()) => {
                let name = r.name().unwrap_or_default().to_owned();
                let found = Found {
                    recording: self.is_recording(&name).await?,
                    missing: missing_types(r.recording_group()),
                    name,
                };
                if !found.recording || !found.missing.is_empty() {
                    warn!(recorder = %found.name, recording = found.recording, missing = ?found.missing,
                        "the account's recorder is not recording what the rules need; it is left as it is");
                } else {
                    info!(recorder = %found.name, "using the account's configuration recorder");
                }
                (format!("{EXISTING}{}", found.name), false, found)
            }
            own => {
                request.set_step(format!("setting up configuration recorder {}", spec.name));
                self.make_own(&spec, own.is_none()).await?;
                let found = Found {
                    name: spec.name.clone(),
                    recording: true,
                    missing: missing_types(spec.recorder()?.recording_group()),
                };
                (format!("{CREATED}{}", spec.name), true, found)
            }
        };
        Ok(Outcome::new(id)
            .with_data("RecorderName", &found.name)
            .with_data("Created", created)
            .with_data("Recording", found.recording)
            // Never empty: an empty attribute cannot be shown as a stack output.
            .with_data(
                "MissingResourceTypes",
                if found.missing.is_empty() {
                    "none".to_owned()
                } else {
                    found.missing.join(",")
                },
            ))
    }
}

impl CustomResource for Recorder {
    type Error = RecorderError;

    async fn create(&self, request: &Request) -> Result<Outcome, RecorderError> {
        self.ensure(request).await
    }

    async fn update(&self, request: &Request) -> Result<Outcome, RecorderError> {
        self.ensure(request).await
    }

    async fn delete(&self, request: &Request) -> Result<Outcome, RecorderError> {
        let id = request
            .physical_resource_id()
            .unwrap_or_default()
            .to_owned();
        match id.strip_prefix(CREATED) {
            Some(name) => {
                request.set_step(format!("removing configuration recorder {name}"));
                self.remove_own(name).await?;
            }
            None => info!(id = %id, "not a recorder this stack created: nothing to remove"),
        }
        Ok(Outcome::new(id))
    }
}

#[cfg(test)]
mod tests;
