"""The deployment configuration: one TOML file the user edits (`deploy/example.toml` documents
every key), validated before any AWS call, with errors that name the key.

Each stack's settings are typed fields for what the deployment itself wires together (Regions,
accounts, the outputs passed from one stack to the next) and a `parameters` table for any other
template parameter, checked against the template's own `Parameters` (name, AllowedValues,
AllowedPattern, length and value bounds) so a typo fails here and not halfway through a deployment.
"""

from __future__ import annotations

import pathlib
import re
import tomllib
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ROOT = pathlib.Path(__file__).resolve().parents[1]
CFN = ROOT / "cfn"

# https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html (Id pattern).
ORG_ID = r"^o-[a-z0-9]{10,32}$"
# https://docs.aws.amazon.com/organizations/latest/APIReference/API_OrganizationalUnit.html (Id) and
# API_Root.html (a root id may be a StackSet target: "the ID of the organization's root").
OU_ID = r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"
REGION = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$"
ACCOUNT = r"^\d{12}$"
# Stack and StackSet names: "must start with an alphabetic character and can't be longer than 128
# characters" and contain only alphanumerics and hyphens (CreateStack / CreateStackSet, StackName).
STACK_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"
# The artifact buckets are <prefix>-<region> (S3 bucket naming rules; the longest Region name leaves
# 42 characters for the prefix). Kept in step with cfn/publish.py.
BUCKET_PREFIX = r"^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$"

# Template parameters the deployment sets itself (from typed keys or another stack's outputs): a
# `parameters` table may not override them.
ARTIFACT_PARAMETERS = {"ArtifactBucketPrefix", "ArtifactVersion", "Architecture"}
DERIVED = {
    "central-reporting.yaml": ARTIFACT_PARAMETERS | {
        "OrganizationId", "KeepDataOnDelete", "AlarmEmail", "EnableConfigAnalytics", "ExistingConfigBucket",
        "ExistingConfigBucketAccount", "ReportOrganizationsRoleArn", "ReportOwnerTagKey"},
    "quicksight.yaml": ARTIFACT_PARAMETERS | {
        "WorkGroup", "Database", "ConfigSnapshotTable", "PrincipalArns", "ImportMode", "SyncBucketName",
        "AthenaResultsBucketName", "ConfigBucketName", "KmsKeyArn"},
    "member-data-sync.yaml": ARTIFACT_PARAMETERS | {"BucketName", "BucketRegion", "BucketPrefix", "KmsKeyArn"},
    "member-patching.yaml": ARTIFACT_PARAMETERS | {"ConfigBucketName"},
    "cloudtrail-lake.yaml": set(),
    "organization-reader.yaml": {"ReportRoleArn", "OrganizationId", "RoleName"},
}


class Strict(BaseModel):
    """Every section refuses keys it does not know: a misspelt key is an error, not a silent default."""
    model_config = ConfigDict(extra="forbid", frozen=True)


TemplateValue = str | int | float | bool | list[str]


class Artifacts(Strict):
    bucket_prefix: Annotated[str, Field(pattern=BUCKET_PREFIX)]
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")] | None = None
    dist: pathlib.Path = ROOT / "dist" / "lambda"
    profile: str | None = None


class Central(Strict):
    profile: str | None = None
    account_id: Annotated[str, Field(pattern=ACCOUNT)] | None = None
    region: Annotated[str, Field(pattern=REGION)]
    stack_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-reporting"
    keep_data_on_delete: bool = True
    alarm_email: Annotated[str, Field(pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")] = ""
    parameters: dict[str, TemplateValue] = {}


class ConfigAnalytics(Strict):
    enabled: bool = False
    existing_bucket: str = ""
    existing_bucket_account: Annotated[str, Field(pattern=r"^(\d{12})?$")] = ""

    @model_validator(mode="after")
    def _bucket_and_account_together(self) -> ConfigAnalytics:
        if bool(self.existing_bucket) != bool(self.existing_bucket_account):
            raise ValueError("existing_bucket and existing_bucket_account go together: set both or neither")
        if self.existing_bucket and not self.enabled:
            raise ValueError("existing_bucket is read only with enabled = true")
        return self


class QuickSight(Strict):
    enabled: bool = False
    stack_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-quicksight"
    principal_arns: list[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)/.+$")]] = []
    import_mode: Literal["DIRECT_QUERY", "SPICE"] = "DIRECT_QUERY"
    parameters: dict[str, TemplateValue] = {}

    @model_validator(mode="after")
    def _principals_when_enabled(self) -> QuickSight:
        if self.enabled and not self.principal_arns:
            raise ValueError("principal_arns: name at least one QuickSight user or group ARN to share the "
                             "datasets with (arn:aws:quicksight:<identity region>:<account>:user/default/<name>)")
        return self


class StackSetPart(Strict):
    enabled: bool = True
    stack_set_name: Annotated[str, Field(pattern=STACK_NAME)]
    parameters: dict[str, TemplateValue] = {}


class DataSync(StackSetPart):
    """Always deployed: every member account's organization resource data sync."""
    enabled: Literal[True] = True
    stack_set_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-data-sync"


class Patching(StackSetPart):
    enabled: bool = False
    stack_set_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-patching"


class Members(Strict):
    profile: str | None = None
    # CreateStackSet CallAs: SELF from the management account, DELEGATED_ADMIN from a delegated
    # administrator ("Register a delegated administrator", StackSets user guide).
    call_as: Literal["SELF", "DELEGATED_ADMIN"] = "SELF"
    # The management account's own stacks (management_account_stacks) are made in the management
    # account itself: with DELEGATED_ADMIN, `profile` signs in elsewhere, so this one is needed.
    management_profile: str | None = None
    regions: Annotated[list[Annotated[str, Field(pattern=REGION)]], Field(min_length=1)]
    organizational_units: Annotated[list[Annotated[str, Field(pattern=OU_ID)]], Field(min_length=1)]
    # StackSetOperationPreferences (API reference): one of the count or percentage of each pair.
    failure_tolerance_percentage: Annotated[int, Field(ge=0, le=100)] = 10
    max_concurrent_percentage: Annotated[int, Field(ge=1, le=100)] = 25
    region_concurrency: Literal["SEQUENTIAL", "PARALLEL"] = "PARALLEL"
    # Service-managed StackSets skip the management account (DeploymentTargets, API reference):
    # deploy the member templates there as ordinary stacks, one per member Region.
    management_account_stacks: bool = True
    data_sync: DataSync = DataSync()
    patching: Patching = Patching()

    @model_validator(mode="after")
    def _management_stacks_need_the_management_account(self) -> Members:
        if self.call_as == "DELEGATED_ADMIN" and self.management_account_stacks and not self.management_profile:
            raise ValueError("members.management_profile: with call_as = \"DELEGATED_ADMIN\", members.profile signs in to "
                             "the delegated administrator, not the management account; name a profile of the "
                             "management account here for its own stacks, or set management_account_stacks = false")
        return self

    @field_validator("regions", "organizational_units")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("lists each value once")
        return values


class Owners(Strict):
    """The report's account names, OU paths and owners: a read-only role in the management account
    (or an Organizations delegated administrator) that compliance-report assumes."""
    enabled: bool = False
    profile: str | None = None
    stack_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-organization-reader"
    # IAM role names ("IAM identifiers", CreateRole RoleName).
    role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")] = "patch-compliance-organization-reader"
    # Tag.Key (Organizations API Reference), as central-reporting.yaml's ReportOwnerTagKey allows it.
    tag_key: Annotated[str, Field(pattern=r"^[\w .:/=+@-]{1,128}$")] = "Owner"


class CloudTrailLake(Strict):
    enabled: bool = False
    profile: str | None = None
    region: Annotated[str, Field(pattern=REGION)] | None = None
    stack_name: Annotated[str, Field(pattern=STACK_NAME)] = "patch-compliance-cloudtrail-lake"
    parameters: dict[str, TemplateValue] = {}


class Deployment(Strict):
    organization_id: Annotated[str, Field(pattern=ORG_ID)]
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    artifacts: Artifacts
    central: Central
    config_analytics: ConfigAnalytics = ConfigAnalytics()
    quicksight: QuickSight = QuickSight()
    members: Members
    cloudtrail_lake: CloudTrailLake = CloudTrailLake()
    owners: Owners = Owners()

    @model_validator(mode="after")
    def _patching_needs_a_config_bucket(self) -> Deployment:
        rules = as_parameter(self.members.patching.parameters.get("EnableConfigRules", True))
        if self.members.patching.enabled and rules == "true" and not self.config_analytics.enabled:
            # member-patching's Rule: "ConfigBucketName is required when EnableConfigRules is true"
            # (recorders it creates where none exists must deliver somewhere); the deployment
            # passes the central stack's Config bucket, which exists with config_analytics only.
            raise ValueError("members.patching: its Config rules need the organization Config bucket for the "
                             "recorders they create: set config_analytics.enabled = true, or "
                             "EnableConfigRules = false in members.patching.parameters")
        return self

    def parameter_problems(self) -> list[str]:
        """What is wrong with each `parameters` table, checked against its template."""
        problems = []
        for key, template, given in (
            ("central.parameters", "central-reporting.yaml", self.central.parameters),
            ("quicksight.parameters", "quicksight.yaml", self.quicksight.parameters),
            ("members.data_sync.parameters", "member-data-sync.yaml", self.members.data_sync.parameters),
            ("members.patching.parameters", "member-patching.yaml", self.members.patching.parameters),
            ("cloudtrail_lake.parameters", "cloudtrail-lake.yaml", self.cloudtrail_lake.parameters),
        ):
            problems += check_parameters(key, template, given)
        return problems

    def regions(self) -> list[str]:
        """Every Region a function runs in: the central Region and the member Regions."""
        return list(dict.fromkeys([self.central.region, *self.members.regions]))


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


def template_parameters(template: str) -> dict[str, dict]:
    """The `Parameters` section of a template in cfn/ (tags are irrelevant to it, so they load as None)."""
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)
    return yaml.load((CFN / template).read_text(), Loader=loader).get("Parameters", {})


def as_parameter(value: TemplateValue) -> str:
    """A TOML value as CloudFormation takes it: every parameter value is a string; booleans are the
    templates' "true"/"false"; lists are CommaDelimitedList values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def check_parameters(key: str, template: str, given: dict[str, TemplateValue]) -> list[str]:
    """What is wrong with `given` for `template`'s parameters, each problem naming `key.<name>`."""
    spec = template_parameters(template)
    problems = []
    for name, value in given.items():
        where = f"{key}.{name}"
        if name in DERIVED[template]:
            problems.append(f"{where}: set by the deployment itself (see the typed keys), remove it")
            continue
        if name not in spec:
            problems.append(f"{where}: {template} has no parameter {name} (it has: {', '.join(sorted(spec))})")
            continue
        p, text = spec[name], as_parameter(value)
        allowed = [str(a) for a in p.get("AllowedValues", [])]
        if allowed and text not in allowed:
            problems.append(f"{where}: {text!r} is not one of {allowed}")
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], text):
            problems.append(f"{where}: {text!r} does not match {p['AllowedPattern']}"
                            + (f" ({p['ConstraintDescription']})" if "ConstraintDescription" in p else ""))
        if not p.get("MinLength", 0) <= len(text) <= p.get("MaxLength", 4096):
            problems.append(f"{where}: length {len(text)} outside {p.get('MinLength', 0)}..{p.get('MaxLength')}")
        if p.get("Type") == "Number":
            try:
                number = float(text)
            except ValueError:
                problems.append(f"{where}: {text!r} is not a number")
                continue
            if "MinValue" in p and number < float(p["MinValue"]) or "MaxValue" in p and number > float(p["MaxValue"]):
                problems.append(f"{where}: {text} outside {p.get('MinValue')}..{p.get('MaxValue')}")
    return problems


def load(path: pathlib.Path) -> Deployment:
    """Reads and validates the file at `path`; raises ConfigError naming every bad key."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read the configuration {path}: {e.strerror} "
                          "(copy deploy/example.toml and edit it)") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from e
    try:
        deployment = Deployment.model_validate(data)
    except ValidationError as e:
        lines = []
        for error in e.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (see deploy/example.toml for the keys)"
            elif error["type"] == "missing":
                message = "required key is missing"
            lines.append(f"  {where}: {message}")
        raise ConfigError(f"{path}: {len(lines)} problem(s):\n" + "\n".join(lines)) from e
    problems = deployment.parameter_problems()
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))
    return deployment
