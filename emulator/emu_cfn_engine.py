"""The emulator's CloudFormation engine: stacks, their operations, change sets and custom resources.

Why this module exists
----------------------
moto's engine cannot run our stacks (/tmp/notes/moto_cfn_gaps.md): custom resources are
Create-only, FAILED answers are ignored, nothing is updated or deleted through them, unknown types
are skipped, updates see only literal changes. This engine runs a stack operation the way the
CloudFormation User Guide describes it, in a background thread as AWS does (the API answers at once,
the stack is ``*_IN_PROGRESS``, DescribeStackEvents shows each step):

* create in dependency order ("DependsOn attribute": Ref, GetAtt and Sub make implicit
  dependencies; so do Refs in a resource's Metadata, see ``resource_dependencies``), delete in the
  reverse order; on a failed create ROLLBACK_IN_PROGRESS deletes what
  was made (OnFailure ROLLBACK, the default), or DELETE, or DO_NOTHING / DisableRollback keeps it
  (API_CreateStack, OnFailure; "Choose how to handle failures when provisioning resources",
  stack-failure-options.html);
* update: every resource's properties are evaluated with the new template and parameters and
  compared with the ones last applied; equal is no change, different is an in-place update or, when
  a changed property's "Update requires" is Replacement (the provider's ``replacement``), a new
  resource made before the old one is deleted in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS ("Understand
  update behaviors of stack resources", using-cfn-updating-stacks-update-behaviors.html); a failure rolls
  back (UPDATE_ROLLBACK_IN_PROGRESS restores old properties, then
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS deletes what the update made);
* DeletionPolicy Retain/Snapshot/Delete and UpdateReplacePolicy ("DeletionPolicy attribute",
  "UpdateReplacePolicy attribute"); DELETE_FAILED lists the resources that failed, and a retry may
  name them in RetainResources ("DeleteStack", RetainResources);
* custom resources exactly as "Custom resource request objects" / "response objects" describe
  (now "CloudFormation custom resource request and response reference", crpg-ref.html): the
  ServiceToken's function is invoked with InvocationType Event ("CloudFormation invokes your Lambda
  function asynchronously", Lambda Developer Guide, services-cloudformation.html), the engine waits
  for the PUT to the ResponseURL (this emulator's ``/_emulator/cloudformation/responses/<token>``)
  or ServiceTimeout.

Resources run one after another (AWS runs independent ones in parallel); the order is a valid AWS
order, and one that exposes a missing dependency ("DependsOn attribute": "CloudFormation creates,
updates, and deletes resources in parallel to the extent possible. It automatically determines which
resources in a template can be parallelized and which have dependencies that require other
operations to finish first", so nothing but a dependency orders two resources).
Among the resources whose dependencies are done, creation and update take the one declared last
(``EMULATOR_CFN_ORDER`` unset or ``reverse``), or a seeded random one (``shuffle[:<seed>]``; the
seed is printed to stderr with each operation), or the one declared first (``declaration``, the
order a template's author reads, which hides most missing dependencies). A resource that needs
another's effect (a permission, a policy attachment) without a reference or DependsOn therefore
fails here as it can in AWS, instead of working because it happens to be declared later. Deletion is
the reverse of the order the resources were created in, so dependents always go first.
"""

from __future__ import annotations

import copy
import json
import os
import random
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import boto3
from botocore.config import Config

from emu_cfn_template import (
    NO_VALUE, UNKNOWN, Context, ResolveError, TemplateError, check_rules, evaluate,
    parameter_specs, parse_template, policy_of, references, resolve_parameters,
    resource_dependencies as declared_dependencies, scalar_str, topological_order, transforms_of,
    typed_parameter, LANGUAGE_EXTENSIONS,
)


def resource_dependencies(logical_id: str, ctx: Context) -> set[str]:
    """What a resource waits for: its Ref, GetAtt and Sub targets and DependsOn (emu_cfn_template),
    and the resources its Metadata references. "Metadata attribute": "you can use intrinsic
    functions (such as GetAtt and Ref) ... within the Metadata attribute to add those interpreted
    values", so a Ref there is only interpreted once its resource exists; an Fn::If there is how a
    template waits for a resource that has a Condition (DependsOn takes no function, and naming a
    resource whose Condition is false is "Unresolved resource dependencies"): only the branch the
    condition takes counts, as in Properties."""
    deps = declared_dependencies(logical_id, ctx)
    return deps | references(ctx.template["Resources"][logical_id].get("Metadata"), ctx)


def now() -> datetime:
    return datetime.now(timezone.utc)


# The HTTP status of each error the CloudFormation service model gives one other than 400 (botocore's
# data/cloudformation/2010-05-15/service-2.json, each shape's "error": {"httpStatusCode": ...}).
ERROR_STATUS = {
    "OperationInProgressException": 409, "StackSetNotEmptyException": 409,
    "NameAlreadyExistsException": 409, "OperationIdAlreadyExistsException": 409,
    "StackSetNotFoundException": 404, "OperationNotFoundException": 404,
    "StackInstanceNotFoundException": 404, "ChangeSetNotFound": 404,
}


class CfnError(Exception):
    """An API error: code, message, HTTP status (the query protocol's ErrorResponse)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)


def validation(message: str) -> CfnError:
    return CfnError("ValidationError", message)


# --------------------------------------------------------------------------------------------------
# The emulator's own endpoint: providers call AWS through it (counted, faults injectable), and
# custom resources answer to it.
# --------------------------------------------------------------------------------------------------


class Endpoint:
    def __init__(self) -> None:
        self.url = ""

    def set(self, url: str) -> None:
        self.url = url.rstrip("/")


ENDPOINT = Endpoint()
# The access key providers sign with: `<account>-cloudformation` acts in the stack's account (see
# emu_control) and keeps CloudFormation's calls apart from each function's in calls-by-principal.
CALLER = "cloudformation"


class Clients:
    """boto3 clients against the emulator, one per (account, region, service); no retries, so an
    injected fault fails the resource as a real handler's failed call would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session = boto3.session.Session()
        self.cache: dict[tuple[str, str, str], Any] = {}

    def get(self, account: str, region: str, service: str) -> Any:
        key = (account, region, service)
        with self.lock:
            if key not in self.cache:
                self.cache[key] = self.session.client(
                    service, endpoint_url=ENDPOINT.url, region_name=region,
                    aws_access_key_id=f"{account}-{CALLER}", aws_secret_access_key="emulator",
                    config=Config(retries={"total_max_attempts": 1}, read_timeout=900,
                                  s3={"addressing_style": "path"}))
            return self.cache[key]


CLIENTS = Clients()


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


@dataclass
class Event:
    stack_id: str
    stack_name: str
    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    reason: str = ""
    properties: str | None = None
    timestamp: datetime = field(default_factory=now)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_api(self) -> dict[str, Any]:
        out = {"StackId": self.stack_id, "EventId": self.event_id, "StackName": self.stack_name,
               "LogicalResourceId": self.logical_id, "PhysicalResourceId": self.physical_id,
               "ResourceType": self.resource_type, "Timestamp": self.timestamp,
               "ResourceStatus": self.status}
        if self.reason:
            out["ResourceStatusReason"] = self.reason
        if self.properties is not None:
            out["ResourceProperties"] = self.properties
        return out


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    reason: str = ""
    updated: datetime = field(default_factory=now)
    deletion_policy: str = "Delete"
    replace_policy: str = "Delete"
    depends_on: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        out = {"LogicalResourceId": self.logical_id, "PhysicalResourceId": self.physical_id or "",
               "ResourceType": self.type, "LastUpdatedTimestamp": self.updated,
               "ResourceStatus": self.status, "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
        if self.reason:
            out["ResourceStatusReason"] = self.reason
        return out


@dataclass
class Output:
    key: str
    value: str
    description: str | None
    export_name: str | None


@dataclass
class Stack:
    stack_id: str
    name: str
    account: str
    region: str
    template_body: str
    template: dict[str, Any]
    raw_parameters: dict[str, str]
    capabilities: list[str]
    tags: list[dict[str, str]]
    notification_arns: list[str]
    disable_rollback: bool
    on_failure: str
    role_arn: str | None = None
    timeout_minutes: int | None = None
    status: str = "CREATE_IN_PROGRESS"
    reason: str = ""
    created: datetime = field(default_factory=now)
    last_updated: datetime | None = None
    deleted: datetime | None = None
    resources: dict[str, Resource] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    change_set_id: str | None = None
    # CreateStack/UpdateStack/ExecuteChangeSet RetainExceptOnCreate: "When set to true, newly created
    # resources are deleted when the operation rolls back. This includes newly created resources
    # marked with a deletion policy of Retain. Default: false".
    retain_except_on_create: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def busy(self) -> bool:
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"

    def event(self, logical_id: str, physical_id: str | None, rtype: str, status: str,
              reason: str = "", properties: dict[str, Any] | None = None) -> None:
        self.events.append(Event(self.stack_id, self.name, logical_id, physical_id or "", rtype,
                                 status, reason, None if properties is None else json.dumps(properties)))

    def set_status(self, status: str, reason: str = "") -> None:
        self.status, self.reason = status, reason
        self.event(self.name, self.stack_id, "AWS::CloudFormation::Stack", status, reason)

    def parameters_api(self) -> list[dict[str, str]]:
        specs = parameter_specs(self.template)
        return [{"ParameterKey": k, "ParameterValue": "****" if specs[k].no_echo else v}
                for k, v in self.raw_parameters.items()]

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackId": self.stack_id, "StackName": self.name, "CreationTime": self.created,
            "StackStatus": self.status, "DisableRollback": self.disable_rollback,
            "Parameters": self.parameters_api(), "NotificationARNs": self.notification_arns,
            "Capabilities": self.capabilities, "Tags": self.tags,
            "Outputs": [_output_api(o) for o in self.outputs],
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            "RollbackConfiguration": {},
        }
        for key, value in (("Description", self.template.get("Description")),
                           ("StackStatusReason", self.reason or None),
                           ("LastUpdatedTime", self.last_updated), ("DeletionTime", self.deleted),
                           ("RoleARN", self.role_arn), ("TimeoutInMinutes", self.timeout_minutes),
                           ("ChangeSetId", self.change_set_id)):
            if value is not None:
                out[key] = value
        return out

    def summary(self) -> dict[str, Any]:
        out = {"StackId": self.stack_id, "StackName": self.name, "CreationTime": self.created,
               "StackStatus": self.status, "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}}
        for key, value in (("TemplateDescription", self.template.get("Description")),
                           ("StackStatusReason", self.reason or None),
                           ("LastUpdatedTime", self.last_updated), ("DeletionTime", self.deleted)):
            if value is not None:
                out[key] = value
        return out


def _output_api(o: Output) -> dict[str, str]:
    out = {"OutputKey": o.key, "OutputValue": o.value}
    if o.description:
        out["Description"] = o.description
    if o.export_name:
        out["ExportName"] = o.export_name
    return out


@dataclass
class Change:
    """One ResourceChange of a change set ("Change", API Reference)."""

    action: str  # Add | Modify | Remove
    logical_id: str
    resource_type: str
    physical_id: str | None
    replacement: str | None  # True | False | Conditional (Modify only)
    details: list[dict[str, Any]]

    def to_api(self) -> dict[str, Any]:
        rc: dict[str, Any] = {"Action": self.action, "LogicalResourceId": self.logical_id,
                              "ResourceType": self.resource_type, "Details": self.details,
                              "Scope": ["Properties"] if self.details else []}
        if self.physical_id:
            rc["PhysicalResourceId"] = self.physical_id
        if self.replacement is not None:
            rc["Replacement"] = self.replacement
        return {"Type": "Resource", "ResourceChange": rc}


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    change_set_type: str
    template_body: str
    template: dict[str, Any]
    raw_parameters: dict[str, str]
    capabilities: list[str]
    tags: list[dict[str, str]]
    description: str | None
    status: str = "CREATE_PENDING"
    execution_status: str = "UNAVAILABLE"
    reason: str = ""
    changes: list[Change] = field(default_factory=list)
    created: datetime = field(default_factory=now)

    def summary(self) -> dict[str, Any]:
        out = {"StackId": self.stack_id, "StackName": self.stack_name, "ChangeSetId": self.change_set_id,
               "ChangeSetName": self.name, "ExecutionStatus": self.execution_status,
               "Status": self.status, "CreationTime": self.created}
        if self.reason:
            out["StatusReason"] = self.reason
        if self.description:
            out["Description"] = self.description
        return out


@dataclass
class Export:
    name: str
    value: str
    stack_id: str


class Store:
    """The CloudFormation state of one account and Region (kept on moto's backend object, so
    moto's reset clears it with everything else)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stacks: list[Stack] = []
        self.change_sets: dict[str, ChangeSet] = {}
        self.exports: dict[str, Export] = {}
        self.imports: dict[str, set[str]] = {}  # export name -> ids of the stacks importing it

    def find(self, name_or_id: str) -> Stack | None:
        """A live stack by name, or any stack by id ("DescribeStacks": "you must specify the
        unique stack ID" for a deleted stack)."""
        with self.lock:
            for s in reversed(self.stacks):
                if s.stack_id == name_or_id or (s.name == name_or_id and s.status != "DELETE_COMPLETE"):
                    return s
        return None

    def get(self, name_or_id: str) -> Stack:
        stack = self.find(name_or_id)
        if stack is None:
            raise validation(f"Stack with id {name_or_id} does not exist")
        return stack


def store(account: str, region: str) -> Store:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][region]
    st = getattr(backend, "_emu_cfn_store", None)
    if st is None:
        st = Store()
        backend._emu_cfn_store = st
    return st


def partition_of(region: str) -> str:
    # "AWS::Partition": aws, aws-cn (China), aws-us-gov (GovCloud).
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def new_stack_id(account: str, region: str, name: str) -> str:
    return f"arn:{partition_of(region)}:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"


# --------------------------------------------------------------------------------------------------
# Custom resource answers
# --------------------------------------------------------------------------------------------------


@dataclass
class Pending:
    request: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    answer: bytes | None = None


class Answers:
    """Requests waiting for their PUT. Only the first answer counts; one after the timeout, or a
    second one, changes nothing (undocumented: the presigned S3 object CloudFormation reads once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, Pending] = {}
        self.timeout_override: float | None = _env_float("EMULATOR_CFN_CUSTOM_RESOURCE_TIMEOUT")

    def open(self, request: dict[str, Any]) -> tuple[str, Pending]:
        token = secrets.token_urlsafe(24)
        pending = Pending(request)
        with self.lock:
            self.pending[token] = pending
        return token, pending

    def close(self, token: str) -> None:
        with self.lock:
            self.pending.pop(token, None)

    def deliver(self, token: str, body: bytes) -> bool:
        with self.lock:
            pending = self.pending.pop(token, None)
        if pending is None:
            return False
        pending.answer = body
        pending.done.set()
        return True


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    return float(raw) if raw else None


ANSWERS = Answers()
RESPONSE_PATH = "/_emulator/cloudformation/responses/"


def _stringify(value: Any) -> Any:
    """CloudFormation sends custom-resource properties with every scalar as a string ("true",
    "900"); lists and objects keep their shape. AWS does not document it; it is what it sends
    (aws-cloudformation/cloudformation-coverage-roadmap#1037) and what crates/cfn-response's
    Properties expects."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return scalar_str(value)


# "Custom resource response objects": the body is at most 4096 bytes.
MAX_RESPONSE_BYTES = 4096


class ResourceFailure(Exception):
    """A resource's operation failed; the message is the event's ResourceStatusReason."""


@dataclass
class Call:
    """What a provider gets for one operation on one resource."""

    stack: Stack
    logical_id: str
    resource_type: str
    set_physical_id: Callable[[str], None]

    @property
    def account(self) -> str:
        return self.stack.account

    @property
    def region(self) -> str:
        return self.stack.region

    @property
    def partition(self) -> str:
        return partition_of(self.stack.region)

    def client(self, service: str, region: str | None = None) -> Any:
        return CLIENTS.get(self.stack.account, region or self.stack.region, service)

    def physical_name(self, max_length: int, lower: bool = False) -> str:
        """A generated name: <stack>-<logical id>-<random>, shortened to fit ("CloudFormation resource
        custom naming", aws-properties-name.html: "CloudFormation generates a unique physical ID",
        e.g. MyStack-MyBucket-abcdefghijk1)."""
        suffix = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12))
        room = max_length - len(suffix) - 2
        stack_part = self.stack.name[: max(1, room // 2)]
        logical_part = self.logical_id[: max(1, room - len(stack_part))]
        name = f"{stack_part}-{logical_part}-{suffix}"
        return name.lower() if lower else name

    def custom(self, request_type: str, properties: dict[str, Any], physical_id: str | None,
               old_properties: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        return run_custom_resource(self, request_type, properties, physical_id, old_properties)


def run_custom_resource(call: Call, request_type: str, properties: dict[str, Any],
                        physical_id: str | None, old_properties: dict[str, Any] | None
                        ) -> tuple[str, dict[str, Any]]:
    """One request to a custom resource and its answer: (PhysicalResourceId, Data)."""
    token_arn = properties.get("ServiceToken", "")
    if not isinstance(token_arn, str) or ":lambda:" not in token_arn:
        raise ResourceFailure(f"ServiceToken {token_arn!r} is not a Lambda function ARN (the emulator "
                              "delivers custom resources to Lambda only)")
    # ServiceTimeout: "an integer from 1 to 3600. The default value is 3600 seconds".
    timeout = float(properties.get("ServiceTimeout", 3600))
    if ANSWERS.timeout_override is not None:
        timeout = min(timeout, ANSWERS.timeout_override)
    request: dict[str, Any] = {
        "RequestType": request_type, "ServiceToken": token_arn,
        "StackId": call.stack.stack_id, "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": call.logical_id, "ResourceType": call.resource_type,
        "ResourceProperties": _stringify(properties),
    }
    if physical_id is not None:
        request["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        request["OldResourceProperties"] = _stringify(old_properties)
    token, pending = ANSWERS.open(request)
    request["ResponseURL"] = f"{ENDPOINT.url}{RESPONSE_PATH}{token}"
    try:
        call.client("lambda").invoke(FunctionName=token_arn, InvocationType="Event",
                                     Payload=json.dumps(request).encode())
    except Exception as e:  # the invoke itself failed (no such function, a fault)
        ANSWERS.close(token)
        raise ResourceFailure(f"Failed to invoke the custom resource's function: {e}") from None
    if not pending.done.wait(timeout):
        ANSWERS.close(token)
        # AWS's text when no answer arrives within ServiceTimeout (undocumented wording, as seen).
        raise ResourceFailure("CloudFormation did not receive a response from your Custom Resource. "
                              f"Please check your logs for requestId [{request['RequestId']}].")
    return _read_answer(call, request, pending.answer or b"")


def _read_answer(call: Call, request: dict[str, Any], body: bytes) -> tuple[str, dict[str, Any]]:
    """Checks an answer against "Custom resource response objects": Status SUCCESS|FAILED, the
    request's StackId, RequestId and LogicalResourceId, a PhysicalResourceId, Data an object, at
    most 4096 bytes. AWS's texts for a malformed answer are not documented: "Invalid response
    object: ..." names what is wrong."""
    if len(body) > MAX_RESPONSE_BYTES:
        raise ResourceFailure("Response object is too long.")
    try:
        answer = json.loads(body)
    except ValueError:
        raise ResourceFailure("Invalid response object: the body is not JSON") from None
    if not isinstance(answer, dict):
        raise ResourceFailure("Invalid response object: the body is not a JSON object")
    status = answer.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        raise ResourceFailure(f"Invalid response object: Status {status!r} is not SUCCESS or FAILED")
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        if answer.get(key) != request[key]:
            raise ResourceFailure(f"Invalid response object: {key} {answer.get(key)!r} does not "
                                  f"match the request's {request[key]!r}")
    if status == "FAILED":
        if request["RequestType"] == "Create" and isinstance(answer.get("PhysicalResourceId"), str):
            # The rollback's Delete goes to the id the FAILED answer gave ("Custom resource
            # response objects", PhysicalResourceId: required in every answer).
            call.set_physical_id(answer["PhysicalResourceId"])
        # What AWS shows for a FAILED answer (undocumented wording, as seen in stack events).
        raise ResourceFailure(f"Received response status [FAILED] from custom resource. Message "
                              f"returned: {answer.get('Reason', '')} (RequestId: {request['RequestId']})")
    physical = answer.get("PhysicalResourceId")
    if not isinstance(physical, str) or not physical:
        raise ResourceFailure("Invalid response object: PhysicalResourceId is required")
    data = answer.get("Data", {})
    if not isinstance(data, dict):
        raise ResourceFailure("Invalid response object: Data must be a JSON object")
    return physical, data


# --------------------------------------------------------------------------------------------------
# Evaluating a stack's template
# --------------------------------------------------------------------------------------------------


def pseudo_parameters(stack: Stack) -> dict[str, Any]:
    # "Get AWS values using pseudo parameters" (pseudo-parameter-reference.html).
    return {"AWS::AccountId": stack.account, "AWS::Region": stack.region,
            "AWS::Partition": partition_of(stack.region), "AWS::StackName": stack.name,
            "AWS::StackId": stack.stack_id, "AWS::NotificationARNs": list(stack.notification_arns),
            "AWS::URLSuffix": "amazonaws.com.cn" if stack.region.startswith("cn-") else "amazonaws.com"}


def make_context(stack: Stack, template: dict[str, Any], raw_parameters: dict[str, str],
                 resources: dict[str, Resource], unknown: frozenset[str] = frozenset()) -> Context:
    from emu_cfn_resources import provider_for

    specs = parameter_specs(template)
    params = {k: typed_parameter(specs[k], v) for k, v in raw_parameters.items() if k in specs}

    def ref(logical_id: str) -> Any:
        if logical_id in unknown:
            return UNKNOWN
        res = resources.get(logical_id)
        if res is None or not res.physical_id:
            raise ResolveError(f"Template error: resource {logical_id} is not created (a Ref to a "
                               "resource whose Condition is false?)")
        return res.physical_id

    def att(logical_id: str, name: str) -> Any:
        if logical_id in unknown:
            return UNKNOWN
        res = resources.get(logical_id)
        if res is None or not res.physical_id:
            raise ResolveError(f"Template error: resource {logical_id} is not created")
        return provider_for(res.type).attribute(stack, res, name)

    def import_value(name: str) -> Any:
        st = store(stack.account, stack.region)
        exp = st.exports.get(name)
        if exp is None:
            raise ResolveError(f"No export named {name} found.")
        with st.lock:
            st.imports.setdefault(name, set()).add(stack.stack_id)
        return exp.value

    def azs(region: str) -> list[str]:
        # "Fn::GetAZs": the Availability Zones of the Region (moto's EC2 knows them).
        from moto.ec2.models import ec2_backends

        zones = ec2_backends[stack.account][region].describe_availability_zones()
        return [z.name for z in zones]

    return Context(template, params, pseudo_parameters(stack), ref, att, import_value, azs)


def check_capabilities(template: dict[str, Any], capabilities: list[str]) -> None:
    """"Acknowledging IAM resources" and "CAPABILITY_AUTO_EXPAND" (CreateStack, Capabilities):
    IAM resources need CAPABILITY_IAM, named ones CAPABILITY_NAMED_IAM; a transform needs
    CAPABILITY_AUTO_EXPAND. InsufficientCapabilities "Requires capabilities : [X]"."""
    needed: list[str] = []
    iam = [r for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")]
    named = any(k in (r.get("Properties") or {}) for r in iam
                for k in ("RoleName", "ManagedPolicyName", "UserName", "GroupName", "InstanceProfileName"))
    if named and "CAPABILITY_NAMED_IAM" not in capabilities:
        needed.append("CAPABILITY_NAMED_IAM")
    elif iam and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        needed.append("CAPABILITY_IAM")
    if transforms_of(template) and "CAPABILITY_AUTO_EXPAND" not in capabilities:
        needed.append("CAPABILITY_AUTO_EXPAND")
    if needed:
        raise CfnError("InsufficientCapabilitiesException", f"Requires capabilities : [{', '.join(needed)}]")


def prepare(stack_like: Stack, template_body: str, given: dict[str, str | None],
            previous: dict[str, str] | None, capabilities: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Everything checked at the API call: template, transforms, capabilities, parameters, Rules
    and every condition and reference (ValidationError at the call, as AWS answers)."""
    try:
        template = parse_template(template_body)
        for t in transforms_of(template):
            if t != LANGUAGE_EXTENSIONS:
                raise TemplateError(f"Template format error: transform {t} is not supported by the emulator")
        check_capabilities(template, capabilities)
        raw = resolve_parameters(parameter_specs(template), given, previous)
        ctx = make_context(stack_like, template, raw, {})
        check_rules(ctx)
        from emu_cfn_resources import provider_for

        for logical_id, res in template["Resources"].items():
            provider_for(res["Type"])  # unknown types fail at the call, naming the type
            if not ctx.resource_enabled(logical_id):
                continue
            for dep in resource_dependencies(logical_id, ctx):
                if dep not in template["Resources"]:
                    raise TemplateError(f"Template format error: Unresolved resource dependencies "
                                        f"[{dep}] in the Resources block of the template")
                if not ctx.resource_enabled(dep):
                    raise TemplateError(f"Template format error: Unresolved resource dependencies "
                                        f"[{dep}] in the Resources block of the template")
            policy_of(logical_id, "DeletionPolicy", ctx)
            policy_of(logical_id, "UpdateReplacePolicy", ctx)
        active = [k for k in template["Resources"] if ctx.resource_enabled(k)]
        topological_order(active, {k: resource_dependencies(k, ctx) for k in active})
        for out in (template.get("Outputs") or {}).values():
            if "Condition" in out:
                ctx.condition(out["Condition"])
    except TemplateError as e:
        raise validation(str(e)) from None
    return template, raw


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------


def canonical(value: Any) -> str:
    """Properties as CloudFormation compares them: scalars as strings (a Number parameter "90" and
    a literal 90 are the same value)."""
    return json.dumps(_stringify(value), sort_keys=True)


# --------------------------------------------------------------------------------------------------
# The order of independent resources
# --------------------------------------------------------------------------------------------------

ORDER_ENV = "EMULATOR_CFN_ORDER"


@dataclass(frozen=True)
class OrderMode:
    """Which ready resource goes next: ``reverse`` (the default: the one declared last),
    ``declaration`` (the one declared first) or ``shuffle`` (a random one, from ``seed``)."""

    kind: str
    seed: int | None = None

    @property
    def setting(self) -> str:
        return f"{ORDER_ENV}={self.kind}" + (f":{self.seed}" if self.kind == "shuffle" else "")


def parse_order(raw: str | None) -> OrderMode:
    """``EMULATOR_CFN_ORDER``: unset, ``reverse``, ``declaration``, ``shuffle`` (a seed drawn once
    for the process) or ``shuffle:<seed>`` (an integer). Anything else stops the emulator at import,
    naming the accepted values, rather than silently running in another order."""
    value = (raw or "").strip()
    if value in ("", "reverse"):
        return OrderMode("reverse")
    if value == "declaration":
        return OrderMode("declaration")
    if value == "shuffle":
        return OrderMode("shuffle", secrets.randbelow(10**9))
    if value.startswith("shuffle:"):
        try:
            return OrderMode("shuffle", int(value.split(":", 1)[1]))
        except ValueError:
            pass
    raise ValueError(f"{ORDER_ENV}={value!r}: expected reverse (the default), declaration, shuffle or "
                     "shuffle:<integer seed>")


ORDER = parse_order(os.environ.get(ORDER_ENV))


def ready_order(nodes: list[str], deps: dict[str, set[str]], mode: OrderMode) -> list[str]:
    """The order one operation creates or updates ``nodes`` (declaration order) in: a resource only
    after every resource it depends on, and among those whose dependencies are done, the one
    ``mode`` picks. A cycle is the ValidationError topological_order raises (prepare checks it at
    the call). The same seed gives the same order for the same resources and dependencies, whatever
    else the emulator runs (each operation draws from its own generator)."""
    topological_order(nodes, deps)  # a cycle raises TemplateError, as at the call
    index = {n: i for i, n in enumerate(nodes)}
    waiting = {n: set(deps.get(n, set())) for n in nodes}
    dependents: dict[str, list[str]] = {n: [] for n in nodes}
    for n, ds in waiting.items():
        for d in ds:
            dependents[d].append(n)
    rng = random.Random(mode.seed) if mode.kind == "shuffle" else None
    ready = [n for n in nodes if not waiting[n]]  # kept in declaration order
    order: list[str] = []
    while ready:
        if rng is not None:
            pick = rng.randrange(len(ready))
        else:
            pick = 0 if mode.kind == "declaration" else len(ready) - 1
        n = ready.pop(pick)
        order.append(n)
        for m in dependents[n]:
            waiting[m].discard(n)
            if not waiting[m]:
                ready.append(m)
                ready.sort(key=index.__getitem__)
    return order


class Operation:
    """One stack operation on its own thread (or the caller's, for StackSets)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    # -- helpers -----------------------------------------------------------------------------------

    def _call(self, res: Resource) -> Call:
        def set_physical(pid: str) -> None:
            res.physical_id = pid

        return Call(self.stack, res.logical_id, res.type, set_physical)

    def _resource_event(self, res: Resource, status: str, reason: str = "",
                        properties: dict[str, Any] | None = None) -> None:
        res.status, res.reason, res.updated = status, reason, now()
        self.stack.event(res.logical_id, res.physical_id, res.type, status, reason, properties)

    def _evaluate_properties(self, ctx: Context, logical_id: str) -> dict[str, Any]:
        raw = ctx.template["Resources"][logical_id].get("Properties") or {}
        try:
            props = evaluate(raw, ctx)
        except (TemplateError, ResolveError) as e:
            raise ResourceFailure(str(e)) from None
        return props

    def _create(self, ctx: Context, res: Resource, props: dict[str, Any]) -> None:
        from emu_cfn_resources import provider_for

        res.properties = props
        self._resource_event(res, "CREATE_IN_PROGRESS", properties=props)
        try:
            physical, attributes = provider_for(res.type).create(self._call(res), props)
        except ResourceFailure as e:
            self._resource_event(res, "CREATE_FAILED", str(e), props)
            raise
        except Exception as e:  # an AWS error from the provider's calls
            reason = _handler_message(e)
            self._resource_event(res, "CREATE_FAILED", reason, props)
            raise ResourceFailure(reason) from None
        res.physical_id, res.attributes = physical, attributes
        self._resource_event(res, "CREATE_COMPLETE", properties=props)

    def _delete(self, res: Resource, policy: str) -> None:
        """Deletes one resource (or skips it under Retain). Raises ResourceFailure on failure."""
        from emu_cfn_resources import provider_for

        if policy in ("Retain", "RetainExceptOnCreate") or not res.physical_id:
            # "DeletionPolicy": Retain keeps the resource; a resource never made has nothing to delete.
            self._resource_event(res, "DELETE_SKIPPED" if res.physical_id else "DELETE_COMPLETE")
            return
        self._resource_event(res, "DELETE_IN_PROGRESS")
        try:
            provider_for(res.type).delete(self._call(res), res)
        except ResourceFailure as e:
            self._resource_event(res, "DELETE_FAILED", str(e))
            raise
        except Exception as e:
            reason = _handler_message(e)
            self._resource_event(res, "DELETE_FAILED", reason)
            raise ResourceFailure(reason) from None
        self._resource_event(res, "DELETE_COMPLETE")

    def _delete_all(self, resources: dict[str, Resource], retain: set[str], ctx_policy: Callable[[Resource], str]
                    ) -> list[str]:
        """Deletes in the reverse dependency order: the reverse of the order the resources were
        created in (``resources`` keeps it; a dependency recorded since moves its dependents ahead of
        it), whatever ORDER chose among independent ones. A resource whose dependents failed to
        delete stays. Returns the logical ids that failed."""
        order = topological_order(list(resources), {k: r.depends_on & set(resources) for k, r in resources.items()})
        failed: list[str] = []
        blocked: set[str] = set()
        for logical_id in reversed(order):
            res = resources[logical_id]
            if logical_id in blocked:
                blocked |= res.depends_on
                continue
            try:
                self._delete(res, "Retain" if logical_id in retain else ctx_policy(res))
            except ResourceFailure:
                failed.append(logical_id)
                blocked |= res.depends_on
        return failed

    def _outputs(self, ctx: Context) -> list[Output]:
        outputs = []
        for key, spec in (ctx.template.get("Outputs") or {}).items():
            if "Condition" in spec and not ctx.condition(spec["Condition"]):
                continue
            try:
                value = evaluate(spec["Value"], ctx)
                export = evaluate(spec["Export"]["Name"], ctx) if "Export" in spec else None
            except (TemplateError, ResolveError) as e:
                raise ResourceFailure(f"Output {key}: {e}") from None
            if isinstance(value, list):
                value = ",".join(scalar_str(v) for v in value)
            outputs.append(Output(key, scalar_str(value), spec.get("Description"), export))
        return outputs

    def _publish_exports(self, outputs: list[Output]) -> None:
        """"Fn::ImportValue": export names are unique in the account and Region; a taken name fails
        the stack ("Export with name X is already exported by stack Y")."""
        st = store(self.stack.account, self.stack.region)
        with st.lock:
            for o in outputs:
                if o.export_name:
                    other = st.exports.get(o.export_name)
                    if other and other.stack_id != self.stack.stack_id:
                        raise ResourceFailure(f"Export with name {o.export_name} is already exported "
                                              f"by stack {other.stack_id.split('/')[1]}")
            for name in [n for n, e in st.exports.items() if e.stack_id == self.stack.stack_id]:
                del st.exports[name]
            for o in outputs:
                if o.export_name:
                    st.exports[o.export_name] = Export(o.export_name, o.value, self.stack.stack_id)

    def _drop_exports(self) -> None:
        st = store(self.stack.account, self.stack.region)
        with st.lock:
            for name in [n for n, e in st.exports.items() if e.stack_id == self.stack.stack_id]:
                del st.exports[name]

    # -- create ------------------------------------------------------------------------------------

    def create(self) -> None:
        stack = self.stack
        stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
        ctx = make_context(stack, stack.template, stack.raw_parameters, stack.resources)
        try:
            for logical_id in self._plan_order(ctx, "CREATE"):
                spec = stack.template["Resources"][logical_id]
                res = Resource(logical_id, spec["Type"], depends_on=resource_dependencies(logical_id, ctx),
                               deletion_policy=policy_of(logical_id, "DeletionPolicy", ctx),
                               replace_policy=policy_of(logical_id, "UpdateReplacePolicy", ctx))
                stack.resources[logical_id] = res
                try:
                    props = self._evaluate_properties(ctx, logical_id)
                except ResourceFailure as e:
                    self._resource_event(res, "CREATE_FAILED", str(e))
                    raise
                self._create(ctx, res, props)
            outputs = self._outputs(ctx)
            self._publish_exports(outputs)
            stack.outputs = outputs
        except ResourceFailure as e:
            self._create_failed(str(e))
            return
        stack.set_status("CREATE_COMPLETE")

    def _plan_order(self, ctx: Context, operation: str) -> list[str]:
        """The active resources in the order ``operation`` (CREATE, UPDATE) takes them (ORDER)."""
        active = self._active(ctx)
        if ORDER.kind == "shuffle":
            # The seed on stderr, so a failure can be replayed with the same order.
            print(f"emulator cloudformation: {operation} {self.stack.name} in shuffled order "
                  f"({ORDER.setting} replays it)", file=sys.stderr, flush=True)
        return ready_order(active, {k: resource_dependencies(k, ctx) for k in active}, ORDER)

    @staticmethod
    def _active(ctx: Context) -> list[str]:
        return [k for k in ctx.template["Resources"] if ctx.resource_enabled(k)]

    def _create_failed(self, reason: str) -> None:
        stack = self.stack
        failed = [r.logical_id for r in stack.resources.values() if r.status == "CREATE_FAILED"]
        summary = (f"The following resource(s) failed to create: [{', '.join(failed)}]. "
                   if failed else reason)
        if stack.on_failure == "DO_NOTHING" or stack.disable_rollback:
            stack.set_status("CREATE_FAILED", summary)
            return
        if stack.on_failure == "DELETE":
            stack.set_status("CREATE_FAILED", summary)
            self.delete(set())
            return
        stack.set_status("ROLLBACK_IN_PROGRESS", summary + " Rollback requested by user."
                         if failed else reason)
        remaining = self._delete_all(dict(stack.resources), set(), lambda r: rollback_policy(stack, r))
        if remaining:
            stack.set_status("ROLLBACK_FAILED", f"The following resource(s) failed to delete: "
                                                f"[{', '.join(remaining)}]. ")
        else:
            stack.set_status("ROLLBACK_COMPLETE")

    # -- delete ------------------------------------------------------------------------------------

    def delete(self, retain: set[str]) -> None:
        stack = self.stack
        stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        importers = _importers_of(stack)
        if importers:
            stack.set_status("DELETE_FAILED", importers)
            return
        live = {k: r for k, r in stack.resources.items() if r.status != "DELETE_COMPLETE"}
        failed = self._delete_all(live, retain, lambda r: r.deletion_policy)
        if failed:
            stack.set_status("DELETE_FAILED", f"The following resource(s) failed to delete: "
                                              f"[{', '.join(failed)}]. ")
            return
        self._drop_exports()
        stack.deleted = now()
        stack.set_status("DELETE_COMPLETE")

    # -- update ------------------------------------------------------------------------------------

    def update(self, template_body: str, template: dict[str, Any], raw: dict[str, str],
               capabilities: list[str], tags: list[dict[str, str]] | None) -> None:
        stack = self.stack
        old = (stack.template_body, stack.template, stack.raw_parameters, stack.capabilities, stack.tags)
        old_resources = {k: copy.copy(r) for k, r in stack.resources.items()}
        stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")
        stack.last_updated = now()
        ctx = make_context(stack, template, raw, stack.resources)
        undo: list[tuple[str, Resource | None]] = []  # (logical id, its state before) in order
        replaced: list[Resource] = []
        try:
            for logical_id in self._plan_order(ctx, "UPDATE"):
                self._update_one(ctx, logical_id, old_resources.get(logical_id), undo, replaced)
            outputs = self._outputs(ctx)
            self._publish_exports(outputs)
        except ResourceFailure as e:
            self._update_failed(str(e), old, old_resources, undo, replaced)
            return
        stack.template_body, stack.template, stack.raw_parameters = template_body, template, raw
        stack.capabilities = capabilities
        if tags is not None:
            stack.tags = tags
        stack.outputs = outputs
        stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        self._cleanup_after_update(ctx, old_resources, replaced)
        stack.set_status("UPDATE_COMPLETE")

    def _update_one(self, ctx: Context, logical_id: str, before: Resource | None,
                    undo: list[tuple[str, Resource | None]], replaced: list[Resource]) -> None:
        from emu_cfn_resources import provider_for

        stack = self.stack
        spec = ctx.template["Resources"][logical_id]
        deps = resource_dependencies(logical_id, ctx)
        policies = (policy_of(logical_id, "DeletionPolicy", ctx), policy_of(logical_id, "UpdateReplacePolicy", ctx))
        if before is None or before.status in ("DELETE_COMPLETE", "") or not before.physical_id:
            res = Resource(logical_id, spec["Type"], depends_on=deps, deletion_policy=policies[0],
                           replace_policy=policies[1])
            stack.resources[logical_id] = res
            undo.append((logical_id, None))
            props = self._evaluate_properties(ctx, logical_id)
            self._create(ctx, res, props)
            return
        res = stack.resources[logical_id]
        res.depends_on, (res.deletion_policy, res.replace_policy) = deps, policies
        if spec["Type"] != before.type:
            raise ResourceFailure(f"Update of resource type is not permitted ({logical_id}: "
                                  f"{before.type} -> {spec['Type']})")
        props = self._evaluate_properties(ctx, logical_id)
        if canonical(props) == canonical(before.properties):
            return
        provider = provider_for(res.type)
        undo.append((logical_id, copy.copy(before)))
        try:
            provider.check_update(before.properties, props)  # a change the type refuses fails the update
        except ResourceFailure as e:
            self._resource_event(res, "UPDATE_FAILED", str(e), props)
            raise
        if provider.needs_replacement(before.properties, props):
            replaced.append(copy.copy(before))
            fresh = Resource(logical_id, res.type, depends_on=deps, deletion_policy=policies[0],
                             replace_policy=policies[1])
            stack.resources[logical_id] = fresh
            self._resource_event(fresh, "UPDATE_IN_PROGRESS", "Requested update requires the creation "
                                 "of a new physical resource; hence creating one.", props)
            self._create(ctx, fresh, props)
            return
        self._update_in_place(res, before, props, replaced)

    def _update_in_place(self, res: Resource, before: Resource, props: dict[str, Any],
                         replaced: list[Resource]) -> None:
        from emu_cfn_resources import provider_for

        self._resource_event(res, "UPDATE_IN_PROGRESS", properties=props)
        try:
            physical, attributes = provider_for(res.type).update(self._call(res), before, props)
        except ResourceFailure as e:
            self._resource_event(res, "UPDATE_FAILED", str(e), props)
            raise
        except Exception as e:
            reason = _handler_message(e)
            self._resource_event(res, "UPDATE_FAILED", reason, props)
            raise ResourceFailure(reason) from None
        if physical != before.physical_id:
            # A custom resource that answered with a new PhysicalResourceId was replaced: the old
            # one gets a Delete in the cleanup ("Custom resource response objects", PhysicalResourceId:
            # "CloudFormation recognizes the update as a replacement and sends a delete request").
            replaced.append(copy.copy(before))
        res.physical_id, res.attributes, res.properties = physical, attributes, props
        self._resource_event(res, "UPDATE_COMPLETE", properties=props)

    def _cleanup_after_update(self, ctx: Context, old_resources: dict[str, Resource],
                              replaced: list[Resource]) -> None:
        """Old copies of replaced resources (their UpdateReplacePolicy), then resources no longer in
        the template (their DeletionPolicy), newest dependents first. Failures here do not fail the
        update (AWS reports them as DELETE_FAILED events; the stack is UPDATE_COMPLETE)."""
        stack = self.stack
        for old in reversed(replaced):
            try:
                self._delete(old, old.replace_policy)
            except ResourceFailure:
                pass
        active = set(self._active(ctx))
        removed = {k: stack.resources[k] for k in list(stack.resources)
                   if k not in active and stack.resources[k].status != "DELETE_COMPLETE"}
        self._delete_all(removed, set(), lambda r: old_resources.get(r.logical_id, r).deletion_policy)
        for k in removed:
            del stack.resources[k]

    def _update_failed(self, reason: str, old: tuple, old_resources: dict[str, Resource],
                       undo: list[tuple[str, Resource | None]], replaced: list[Resource]) -> None:
        stack = self.stack
        failed = [r.logical_id for r in stack.resources.values() if r.status in ("UPDATE_FAILED", "CREATE_FAILED")]
        summary = f"The following resource(s) failed to update: [{', '.join(failed)}]. " if failed else reason
        if stack.disable_rollback:
            stack.set_status("UPDATE_FAILED", summary)
            return
        stack.set_status("UPDATE_ROLLBACK_IN_PROGRESS", summary)
        ctx = make_context(stack, old[1], old[2], stack.resources)
        to_delete: list[Resource] = []
        created: set[int] = set()  # ids of the resources the update created (not replacements)
        try:
            for logical_id, before in reversed(undo):
                current = stack.resources[logical_id]
                if before is None:
                    to_delete.append(current)
                    created.add(id(current))
                    continue
                if current.physical_id != before.physical_id:
                    to_delete.append(current)  # a replacement: the old resource is still there
                    stack.resources[logical_id] = before
                    self._resource_event(before, "UPDATE_COMPLETE")
                    continue
                self._update_in_place(current, copy.copy(current), before.properties, to_delete)
        except ResourceFailure as e:
            stack.set_status("UPDATE_ROLLBACK_FAILED", str(e))
            return
        stack.template_body, stack.template, stack.raw_parameters, stack.capabilities, stack.tags = old
        stack.outputs = self._outputs(ctx)
        stack.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for res in to_delete:
            try:
                # A resource the update created keeps its DeletionPolicy Retain unless the update
                # asked for RetainExceptOnCreate (API_UpdateStack, RetainExceptOnCreate, quoted on
                # Stack); a replacement's new physical resource is deleted ("DeletionPolicy
                # attribute": the policy "doesn't apply to resources whose physical instance is
                # replaced during stack update operations").
                self._delete(res, rollback_policy(stack, res) if id(res) in created else "Delete")
            except ResourceFailure:
                pass
            if stack.resources.get(res.logical_id) is res:
                del stack.resources[res.logical_id]
        stack.set_status("UPDATE_ROLLBACK_COMPLETE")


def rollback_policy(stack: Stack, res: Resource) -> str:
    """The DeletionPolicy a rollback applies to a resource the rolled-back operation created.
    "DeletionPolicy attribute", RetainExceptOnCreate: "If the stack operation that created the
    resource is rolled back, CloudFormation deletes the resource"; a Retain resource is kept unless
    the operation asked for RetainExceptOnCreate (Stack.retain_except_on_create)."""
    if res.deletion_policy == "RetainExceptOnCreate":
        return "Delete"
    if res.deletion_policy == "Retain":
        return "Delete" if stack.retain_except_on_create else "Retain"
    return "Delete"  # Delete, and Snapshot (treated as Delete by the emulator)


def _importers_of(stack: Stack) -> str:
    """"Fn::ImportValue": "After another stack imports an output value, you can't delete the stack
    that is exporting the output value". AWS's reason text (as seen): "Export X cannot be deleted
    as it is in use by Y"."""
    st = store(stack.account, stack.region)
    with st.lock:
        for name, exp in st.exports.items():
            if exp.stack_id != stack.stack_id:
                continue
            users = [s for s in st.stacks if s.stack_id in st.imports.get(name, set())
                     and s.status != "DELETE_COMPLETE" and s.stack_id != stack.stack_id]
            if users:
                return f"Export {name} cannot be deleted as it is in use by {users[0].name}"
    return ""


def _handler_message(e: Exception) -> str:
    """A provider's AWS error as CloudFormation shows it: "Resource handler returned message:
    "<message>" (Service: X, Status Code: N)" (undocumented wording, as seen in stack events)."""
    response = getattr(e, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return (f'Resource handler returned message: "{err.get("Message", "")}" (Operation: '
                f'{getattr(e, "operation_name", "")}, Status Code: {status}, Error Code: {err.get("Code", "")})')
    return f"Internal failure: {e!r}"


def run_in_background(fn: Callable[[], None], name: str) -> None:
    def guarded() -> None:
        try:
            fn()
        except Exception as e:  # pragma: no cover - an engine bug must not hang the stack silently
            import traceback

            traceback.print_exc()
            print(f"emulator cloudformation: operation {name} crashed: {e!r}")

    threading.Thread(target=guarded, name=f"cfn-{name}", daemon=True).start()


def wait_until_settled(stack: Stack, timeout: float = 7200) -> None:
    deadline = time.monotonic() + timeout
    while stack.busy and time.monotonic() < deadline:
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------------
# Change sets: what an update would do, without doing it
# --------------------------------------------------------------------------------------------------


def plan_changes(stack: Stack, template: dict[str, Any], raw: dict[str, str]) -> list[Change]:
    """Add / Modify / Remove per resource, with Replacement True / False / Conditional (API_ResourceChange,
    Replacement: a property whose value depends on a resource being replaced is only known at
    execution, so its change is Dynamic and, if it requires replacement, Conditional)."""
    from emu_cfn_resources import provider_for

    probe = make_context(stack, template, raw, stack.resources)
    active = [k for k in template["Resources"] if probe.resource_enabled(k)]
    order = topological_order(active, {k: resource_dependencies(k, probe) for k in active})
    changes: list[Change] = []
    unknown: set[str] = set()
    for logical_id in order:
        rtype = template["Resources"][logical_id]["Type"]
        before = stack.resources.get(logical_id)
        if before is None or not before.physical_id or before.status == "DELETE_COMPLETE":
            changes.append(Change("Add", logical_id, rtype, None, None, []))
            unknown.add(logical_id)
            continue
        ctx = make_context(stack, template, raw, stack.resources, frozenset(unknown))
        try:
            props = evaluate(template["Resources"][logical_id].get("Properties") or {}, ctx)
        except (TemplateError, ResolveError):
            props = {"__unresolvable__": UNKNOWN}
        details, replacement = _property_changes(provider_for(rtype), before.properties, props,
                                                 stack.template["Resources"].get(logical_id, {}).get("Properties") or {},
                                                 template["Resources"][logical_id].get("Properties") or {})
        if details:
            changes.append(Change("Modify", logical_id, rtype, before.physical_id, replacement, details))
            if replacement != "False" or provider_for(rtype).may_change_physical_id:
                unknown.add(logical_id)
    for logical_id, res in stack.resources.items():
        if logical_id not in active and res.status != "DELETE_COMPLETE" and res.physical_id:
            changes.append(Change("Remove", logical_id, res.type, res.physical_id, None, []))
    return changes


def _property_changes(provider: Any, old: dict[str, Any], new: dict[str, Any],
                      old_raw: dict[str, Any], new_raw: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Each changed property's RequiresRecreation: Always for a property whose "Update requires" is
    Replacement, Conditionally for one the type replaces only when it cannot update it (the
    provider's ``conditional``), else Never. API_ResourceChange, Replacement: "if the
    RequiresRecreation field is Always and the Evaluation field is Static, Replacement is True. If
    the RequiresRecreation field is Always and the Evaluation field is Dynamic, Replacement is
    Conditional"; with several changes "the change with the most impact" decides."""
    details = []
    impacts = set()
    for name in sorted(set(old) | set(new)):
        value = new.get(name, NO_VALUE)
        dynamic = _contains_unknown(value)
        if not dynamic and canonical(old.get(name)) == canonical(new.get(name)):
            continue
        if name in provider.replacement:
            recreation = "Always"
            impacts.add("Conditional" if dynamic else "True")
        elif name in provider.conditional:
            recreation = "Conditionally"
            impacts.add("Conditional")
        else:
            recreation = "Never"
        if canonical(old_raw.get(name)) != canonical(new_raw.get(name)):
            source = "DirectModification"
        else:
            source = "ResourceReference" if dynamic else "ParameterReference"
        details.append({"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
                        "Evaluation": "Dynamic" if dynamic else "Static", "ChangeSource": source})
    replacement = "True" if "True" in impacts else "Conditional" if "Conditional" in impacts else "False"
    return details, replacement


def _contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unknown(v) for v in value)
    return False
