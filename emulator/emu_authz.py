"""Every request authorized as IAM authorizes it, before moto carries it out.

Who calls (`principal_of`), what the request needs (`iam_actions.resolve`), which policies apply
(`policies_for`: the caller's identity policies, the resource's policy, the SCPs of its account)
and the decision (`iam_policy.evaluate`). A denied call gets the service's own AccessDenied error,
with the message IAM writes ("User: <arn> is not authorized to perform: <action> on resource:
<arn> because no identity-based policy allows the <action> action", IAM User Guide,
"Troubleshoot access denied error messages").

Who calls, by the access key id a request is signed with:
- a role session's key (`ASIA...`, issued by `sts:AssumeRole`, or by this emulator to a Lambda
  function's execution role, as Lambda assumes it: "Lambda execution role") is that session;
- a 12-digit account id, or `<account>-<label>`, is the emulator's **administrator** of that
  account: the identity policy grants everything; SCPs, resource policies and cross-account rules
  still apply. Tests, the demo's setup and CloudFormation's resource providers sign this way
  (CloudFormation acts with the deployer's credentials when no service role is given:
  "CloudFormation service role"; our deployments are made by an administrator);
- any other key is the administrator of the default account 123456789012.
Services (S3 notifications, EventBridge, CloudWatch alarms, Config and SSM deliveries) call as
their service principal through `authorize_service` with the context keys they set.

Every decision is recorded (`/_emulator/authz/decisions`): which statements allowed each call is
what proves a statement needed (tests/demo).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import iam_actions
from iam_actions import Authorization, Call, Unmapped
from iam_policy import Decision, PolicyError, Principal, Request, Statement, evaluate, parse_policy

DEFAULT_ACCOUNT = "123456789012"
PARTITION = "aws"
# A plain-HTTP request (the negative TLS case): every SDK call to AWS is HTTPS, so the emulator's
# loopback HTTP counts as TLS unless a request says it is not.
INSECURE_HEADER = "HTTP_X_EMULATOR_INSECURE_TRANSPORT"

_ACCOUNT_KEY = re.compile(r"^(\d{12})(?:-([A-Za-z0-9-]+))?$")


class AuthzError(Exception):
    """The emulator cannot authorize a request faithfully (unmapped operation, unknown condition
    key): answered as a 500 that names what to add, never as a silent allow."""


# ---------------------------------------------------------------------------------------------
# Who calls
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Caller:
    principal: Principal
    label: str            # for the call records: "<account>-<label>" of admin keys, a function's crate


_SESSION_LABELS: dict[str, str] = {}
# access key id -> moto's AssumedRole: found once by scanning moto's sessions, then kept.
_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def label_session(access_key_id: str, label: str) -> None:
    """Name a role session in the call records (the Lambda runner: the function's crate)."""
    with _LOCK:
        _SESSION_LABELS[access_key_id] = label


def administrator(account: str) -> Principal:
    return Principal("root", f"arn:{PARTITION}:iam::{account}:root", account, administrator=True)


def _assumed_role(access_key_id: str) -> Any:
    from moto.sts.models import sts_backends

    found = _SESSIONS.get(access_key_id)
    if found is not None:
        return found
    for account in list(sts_backends.keys()):
        for role in sts_backends[account][PARTITION].assumed_roles:
            if role.access_key_id == access_key_id:
                with _LOCK:
                    _SESSIONS[access_key_id] = role
                return role
    return None


def principal_of(access_key_id: str | None) -> Caller:
    if not access_key_id:
        return Caller(Principal("anonymous", "*", None), "anonymous")
    m = _ACCOUNT_KEY.match(access_key_id)
    if m:
        return Caller(administrator(m.group(1)), access_key_id)
    if access_key_id.startswith("ASIA"):
        session = _assumed_role(access_key_id)
        if session is not None:
            role_arn = session.role_arn
            account = role_arn.split(":")[4]
            principal = Principal("role", session.arn, account, role_arn=role_arn,
                                  service_linked=":role/aws-service-role/" in role_arn)
            label = _SESSION_LABELS.get(access_key_id) or f"{account}-{role_arn.rsplit('/', 1)[-1]}"
            return Caller(principal, label)
    return Caller(administrator(DEFAULT_ACCOUNT), access_key_id)


def session_credentials(role_arn: str, session_name: str, *, service: str, region: str,
                        context: dict[str, Any] | None = None) -> dict[str, str]:
    """Credentials of a role session a service principal (lambda.amazonaws.com) opens, after the
    role's trust policy allowed it, with the context keys the service sets (AWS Config sends
    aws:SourceAccount). Raises PermissionError with the reason when it does not."""
    from moto.sts.models import sts_backends

    principal = Principal("service", service, None)
    decision = decide(principal, Authorization("sts:AssumeRole", role_arn, role_arn.split(":")[4]),
                      {**base_context(principal, region), **(context or {})})
    if not decision.allowed:
        raise PermissionError(f"{service} cannot assume {role_arn}: {service} is not authorized to perform: "
                              f"sts:AssumeRole on resource: {role_arn} {decision.reason}")
    account = role_arn.split(":")[4]
    backend = sts_backends[account][PARTITION]
    session = backend.assume_role(region_name=region, role_session_name=session_name[:64], role_arn=role_arn,
                                  policy="", duration=3600, external_id="")
    with _LOCK:
        _SESSIONS[session.access_key_id] = session
    return {"access_key_id": session.access_key_id, "secret_access_key": session.secret_access_key,
            "session_token": session.session_token}


# ---------------------------------------------------------------------------------------------
# Which policies apply
# ---------------------------------------------------------------------------------------------

def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends
    return iam_backends[account][PARTITION]


def _role(role_arn: str) -> Any:
    try:
        return _iam(role_arn.split(":")[4]).get_role_by_arn(role_arn)
    except Exception:
        return None


def _doc(document: Any) -> Any:
    """A policy document as its JSON text (parse_policy parses each text once), or as given."""
    if isinstance(document, bytes):
        document = document.decode()
    if isinstance(document, str):
        from urllib.parse import unquote
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        return text
    if isinstance(document, dict):
        return json.dumps(document, sort_keys=True)
    return document


def identity_statements(principal: Principal) -> list[Statement]:
    if principal.kind != "role" or not principal.role_arn:
        return []
    role = _role(principal.role_arn)
    if role is None:
        return []
    out: list[Statement] = []
    for name, document in role.policies.items():
        out += parse_policy(_doc(document), f"identity {principal.role_arn} inline:{name}")
    for arn, managed in role.managed_policies.items():
        out += parse_policy(_doc(_default_document(managed)), f"identity {principal.role_arn} managed:{arn}")
    return out


def _default_document(policy: Any) -> Any:
    """A managed policy's default version's document (moto keeps the versions in a list)."""
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    raise PolicyError(f"managed policy {policy.arn} has no default version {policy.default_version_id}")


def boundary_statements(principal: Principal) -> list[Statement] | None:
    if principal.kind != "role" or not principal.role_arn:
        return None
    role = _role(principal.role_arn)
    arn = getattr(role, "permissions_boundary_arn", None) if role else None
    if not arn:
        return None
    policy = _iam(arn.split(":")[4] if arn.split(":")[4] != "aws" else principal.account).get_policy(arn)
    return parse_policy(_doc(_default_document(policy)), f"boundary {arn}")


def _organization_of(account: str) -> tuple[Any, str] | None:
    """(the organizations backend holding the account's organization, management account id)."""
    from moto.organizations.models import organizations_backends

    mgmt = organizations_backends.master_accounts.get(account, (None,))[0] if hasattr(
        organizations_backends, "master_accounts") else None
    for candidate in ([mgmt] if mgmt else []) + [account]:
        if candidate is None or candidate not in organizations_backends:
            continue
        backend = organizations_backends[candidate][PARTITION]
        if backend.org is not None and any(a.id == account for a in backend.accounts):
            return backend, backend.org.master_account_id
    return None


def organization_id(account: str | None) -> str | None:
    if not account:
        return None
    org = _organization_of(account)
    return org[0].org.id if org else None


def scp_levels(principal: Principal) -> list[list[Statement]] | None:
    """SCPs from the root to the account, or None where SCPs do not apply (SCP: not to the
    management account, service-linked roles or service principals; only with the policy type
    enabled on the root)."""
    if principal.kind not in ("role", "root", "user") or principal.service_linked or not principal.account:
        return None
    org = _organization_of(principal.account)
    if org is None:
        return None
    backend, mgmt = org
    if principal.account == mgmt:
        return None
    root = backend.ou[0] if backend.ou else None
    if root is None or not any(t.get("Type") == "SERVICE_CONTROL_POLICY" and t.get("Status") == "ENABLED"
                               for t in getattr(root, "policy_types", [])):
        return None
    account = next(a for a in backend.accounts if a.id == principal.account)
    path: list[Any] = [account]
    parent = account.parent_id
    by_id = {ou.id: ou for ou in backend.ou}
    while parent in by_id:
        path.append(by_id[parent])
        parent = getattr(by_id[parent], "parent_id", None)
    levels = []
    for node in reversed(path):
        statements: list[Statement] = []
        for policy in node.attached_policies:
            if policy.type == "SERVICE_CONTROL_POLICY":
                statements += parse_policy(_doc(policy.content), f"scp {policy.name}")
        levels.append(statements)
    return levels


def bucket_exists(name: str) -> bool:
    return _bucket(name) is not None


def _bucket(name: str) -> tuple[Any, str] | None:
    from moto.s3.models import s3_backends

    owner = s3_backends.bucket_accounts.get(name)
    if owner is None:
        return None
    partition, account = owner
    try:
        return s3_backends[account][partition].get_bucket(name), account
    except Exception:
        return None


def resource_statements(resource: str, action: str) -> tuple[list[Statement] | None, str | None]:
    """The resource's own policy for `action` and its owner account (None, None when it has
    neither). A role's trust policy is the resource policy of sts:AssumeRole only."""
    parts = resource.split(":", 5)
    if len(parts) != 6:
        return None, None
    _, _, service, region, account, rest = parts
    try:
        if service == "s3":
            found = _bucket(rest.split("/", 1)[0])
            if found is None:
                return None, None
            bucket, owner = found
            policy = getattr(bucket, "policy", None)
            return (parse_policy(_doc(policy), f"resource bucket:{bucket.name}", resource_policy=True)
                    if policy else None), owner
        if service == "kms":
            from moto.kms.models import kms_backends
            key = kms_backends[account][region].keys.get(rest.split("/", 1)[-1])
            if key is None:
                return None, account
            return parse_policy(_doc(key.policy), f"resource key:{key.id}", resource_policy=True), account
        if service == "sns":
            from moto.sns.models import sns_backends
            topic = sns_backends[account][region].topics.get(resource)
            if topic is None or not topic.policy:
                return None, account
            return parse_policy(_doc(topic.policy), f"resource topic:{resource}", resource_policy=True), account
        if service == "sqs":
            from moto.sqs.models import sqs_backends
            queue = sqs_backends[account][region].queues.get(rest)
            policy = queue.policy if queue is not None else None
            return (parse_policy(_doc(policy), f"resource queue:{resource}", resource_policy=True)
                    if policy else None), account
        if service == "lambda" and rest.startswith("function:"):
            from moto.awslambda.models import lambda_backends
            name = rest.split(":")[1]
            try:
                fn = lambda_backends[account][region].get_function(name)
            except Exception:
                return None, account
            policy = fn.policy.get_policy() if getattr(fn, "policy", None) else None
            raw = policy.get("Policy") if isinstance(policy, dict) and "Policy" in policy else policy
            doc = (json.loads(raw) if isinstance(raw, (str, bytes)) else raw) if policy else None
            if doc and doc.get("Statement"):
                for st in doc["Statement"]:
                    # moto keeps AddPermission's FunctionUrlAuthType / InvokedViaFunctionUrl as
                    # statement keys; Lambda writes them as conditions ("Control access to Lambda
                    # function URLs": lambda:FunctionUrlAuthType, lambda:InvokedViaFunctionUrl).
                    condition = st.setdefault("Condition", {})
                    if "FunctionUrlAuthType" in st:
                        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = \
                            st.pop("FunctionUrlAuthType")
                    if "InvokedViaFunctionUrl" in st:
                        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = \
                            str(st.pop("InvokedViaFunctionUrl")).lower()
                    if not condition:
                        st.pop("Condition")
                return parse_policy(json.dumps(doc, sort_keys=True), f"resource function:{name}",
                                    resource_policy=True), account
            return None, account
        if service == "events" and rest.startswith("event-bus/"):
            from moto.events.models import events_backends
            bus = events_backends[account][region].event_buses.get(rest.split("/", 1)[1])
            policy = bus.policy if bus is not None else None
            return (parse_policy(_doc(policy), f"resource bus:{rest}", resource_policy=True)
                    if policy else None), account
        if service == "iam" and rest.startswith("role/") and action.lower().startswith("sts:assumerole"):
            role = _role(resource)
            if role is None:
                return None, account
            return parse_policy(_doc(role.assume_role_policy_document), f"trust {resource}",
                                resource_policy=True), account
    except PolicyError:
        raise
    except Exception:
        return None, account or None
    return None, account or None


# ---------------------------------------------------------------------------------------------
# Condition keys the emulator evaluates
# ---------------------------------------------------------------------------------------------

KNOWN_KEYS = {
    "aws:securetransport", "aws:principalorgid", "aws:principalaccount", "aws:principalarn",
    "aws:principaltype", "aws:userid", "aws:username", "aws:principalisawsservice",
    "aws:principalservicename", "aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid",
    "aws:requestedregion", "aws:currenttime", "aws:epochtime", "aws:resourceaccount",
    "aws:resourceorgid", "aws:viaawsservice", "aws:calledvia", "aws:tagkeys",
    "kms:viaservice", "kms:calleraccount", "kms:encryptioncontextkeys",
    "s3:x-amz-acl", "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:prefix", "s3:delimiter", "s3:max-keys", "s3:resourceaccount",
    "iam:passedtoservice", "sts:externalid",
    # Lambda function URLs: never set by the emulator (no function URLs), so a statement that
    # requires them applies to nothing.
    "lambda:functionurlauthtype", "lambda:invokedviafunctionurl",
    # SNS's legacy name of aws:SourceAccount, in the default topic policy SNS writes
    # ("Amazon SNS access control: Example cases", AWS:SourceOwner).
    "aws:sourceowner",
}
KNOWN_PREFIXES = ("kms:encryptioncontext:", "aws:requesttag/", "aws:resourcetag/")


def known_key(key: str) -> None:
    lower = key.lower()
    if lower in KNOWN_KEYS or lower.startswith(KNOWN_PREFIXES):
        return
    raise PolicyError(f"condition key {key} is not one the emulator evaluates: add it to "
                      "emulator/emu_authz.py's KNOWN_KEYS with the context the request sets")


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------

class Decisions:
    """Counts of decisions by (caller label, action, resource, allowed, allowing statements)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str, str, str, bool, str, tuple[str, ...], tuple[str, ...]]] = Counter()

    def add(self, caller: Caller, auth: Authorization, decision: Decision) -> None:
        key = (caller.label, caller.principal.arn, auth.action, auth.resource, decision.allowed,
               decision.reason, tuple(st.label for st in decision.allowed_by),
               tuple(st.label for st in decision.needed))
        with self.lock:
            self.counts[key] += 1
        if not decision.allowed:
            log({"denied": denial_message(caller.principal, auth, decision), "caller": caller.label})

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.counts.items())
        return [{"caller": k[0], "principal": k[1], "action": k[2], "resource": k[3], "allowed": k[4],
                 "reason": k[5], "allowed_by": list(k[6]), "needed": list(k[7]), "count": n}
                for k, n in items]

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()


DECISIONS = Decisions()


def base_context(principal: Principal, region: str, *, secure: bool = True) -> dict[str, Any]:
    """The global condition keys every request carries ("AWS global condition context keys")."""
    now = datetime.now(timezone.utc)
    ctx: dict[str, Any] = {
        "aws:SecureTransport": "true" if secure else "false",
        "aws:RequestedRegion": region,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    if principal.kind == "service":
        ctx["aws:PrincipalIsAWSService"] = "true"
        ctx["aws:PrincipalServiceName"] = principal.arn
        return ctx
    ctx["aws:PrincipalIsAWSService"] = "false"
    if principal.account:
        ctx["aws:PrincipalAccount"] = principal.account
        org = organization_id(principal.account)
        if org:
            ctx["aws:PrincipalOrgID"] = org
    if principal.kind == "role":
        ctx["aws:PrincipalArn"] = principal.role_arn
        ctx["aws:PrincipalType"] = "AssumedRole"
        ctx["aws:userid"] = f"AROA{principal.role_arn.rsplit('/', 1)[-1].upper()[:17]}:{principal.arn.rsplit('/', 1)[-1]}"
    elif principal.kind == "root":
        ctx["aws:PrincipalArn"] = principal.arn
        ctx["aws:PrincipalType"] = "Account"
        ctx["aws:userid"] = principal.account
    return ctx


def decide(principal: Principal, auth: Authorization, context: dict[str, Any],
           caller: Caller | None = None) -> Decision:
    resource_policy, owner = (resource_statements(auth.resource, auth.action) if auth.resource != "*"
                              else (None, None))
    owner = owner or auth.resource_account
    ctx = dict(context)
    ctx.update(auth.context)
    if owner:
        ctx.setdefault("aws:ResourceAccount", owner)
        org = organization_id(owner)
        if org:
            ctx.setdefault("aws:ResourceOrgID", org)
    request = Request(principal, auth.action, auth.resource, owner, ctx)
    decision = evaluate(request, identity=identity_statements(principal), resource=resource_policy,
                        scps=scp_levels(principal), boundary=boundary_statements(principal),
                        known_key=known_key)
    DECISIONS.add(caller or Caller(principal, principal.arn), auth, decision)
    return decision


def denial_message(principal: Principal, auth: Authorization, decision: Decision) -> str:
    who = principal.arn if principal.kind != "service" else principal.arn
    on = f" on resource: {auth.resource}" if auth.resource != "*" else ""
    kind = "User" if principal.kind != "service" else "Service"
    return f"{kind}: {who} is not authorized to perform: {auth.action}{on} {decision.reason}"


@dataclass(frozen=True)
class Denied:
    status: int
    code: str
    message: str


# The AccessDenied error each service answers (its API reference's "Common Errors" and the error
# shapes of its model): the code, and the HTTP status.
_DENIED = {
    "s3": (403, "AccessDenied"), "ec2": (403, "UnauthorizedOperation"), "sts": (403, "AccessDenied"),
    "iam": (403, "AccessDenied"), "sns": (403, "AuthorizationError"), "cloudformation": (403, "AccessDenied"),
    "sqs": (403, "AccessDenied"), "lambda": (403, "AccessDeniedException"),
    "quicksight": (401, "AccessDeniedException"),
}


def denied(service: str, message: str) -> Denied:
    status, code = _DENIED.get(service, (400, "AccessDeniedException"))
    return Denied(status, code, message)


def authorize(caller: Caller, service: str, prefix: str, operation: str, params: dict[str, Any], region: str,
              *, secure: bool = True, context: dict[str, Any] | None = None,
              checks: list[Authorization] | None = None) -> Denied | None:
    """None when the request is allowed; the service's AccessDenied when it is not. Raises
    AuthzError when the emulator cannot name what the request needs. `context`: keys the
    request's service principal sets (emu_deliveries)."""
    principal = caller.principal
    # What a request names without an account (an S3 bucket, a queue name) is the caller's; a
    # service acting for an account acts in that account.
    account = principal.account or (context or {}).get("aws:SourceAccount") or DEFAULT_ACCOUNT
    call = Call(service=service, prefix=prefix, operation=operation, params=params, account=account,
                region=region, partition=PARTITION)
    try:
        auths = iam_actions.resolve(call)
    except Unmapped as e:
        raise AuthzError(str(e)) from None
    if service == "s3" and params.get("ExpectedBucketOwner"):
        # "If the parameter doesn't match the bucket owner's account ID, the request fails with an
        # Access Denied error message" (S3 User Guide, "Verifying bucket ownership with bucket
        # owner condition"): 403 AccessDenied, whatever the policies say.
        found = _bucket(params.get("Bucket", ""))
        if found is not None and found[1] != params["ExpectedBucketOwner"]:
            return denied("s3", "Access Denied")
    context = {**base_context(principal, region, secure=secure), **(context or {})}
    for auth in auths + _dependent(call, auths) + list(checks or []):
        try:
            decision = decide(principal, auth, context, caller)
        except PolicyError as e:
            raise AuthzError(f"{service}.{operation}: {e}") from None
        if not decision.allowed:
            return denied(service, denial_message(principal, auth, decision))
    return None


def authorize_service(service_principal: str, auth: Authorization, *, source_account: str | None = None,
                      source_arn: str | None = None, region: str = "us-east-1") -> Decision:
    """A call a service makes as its service principal, with the context keys it sets
    (aws:SourceAccount, aws:SourceArn, aws:SourceOrgID: "AWS global condition context keys")."""
    principal = Principal("service", service_principal, None)
    ctx = base_context(principal, region)
    if source_account:
        ctx["aws:SourceAccount"] = source_account
        ctx["aws:SourceOwner"] = source_account
        org = organization_id(source_account)
        if org:
            ctx["aws:SourceOrgID"] = org
    if source_arn:
        ctx["aws:SourceArn"] = source_arn
    try:
        return decide(principal, auth, ctx, Caller(principal, service_principal))
    except PolicyError as e:
        raise AuthzError(f"{service_principal} {auth.action}: {e}") from None


# ---------------------------------------------------------------------------------------------
# What a request needs of other services: S3 with SSE-KMS, SNS with an encrypted topic
# ---------------------------------------------------------------------------------------------

def _kms_key_arn(key_id: str, account: str, region: str) -> str | None:
    """A KMS key id, alias or ARN as the key's ARN (None when no such key)."""
    from moto.kms.models import kms_backends

    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    parts = key_id.split(":") if key_id.startswith("arn:") else None
    if parts:
        account, region = parts[4], parts[3]
        key_id = parts[5]
    backend = kms_backends[account][region]
    try:
        real = backend.get_key_id_from_alias(key_id) if key_id.startswith("alias/") else key_id
    except Exception:
        return None
    if not real:
        return None
    return f"arn:{PARTITION}:kms:{region}:{account}:key/{real}"


def _dependent(call: Call, auths: list[Authorization]) -> list[Authorization]:
    """The KMS permissions a call needs because of the encryption of what it touches.

    S3 SSE-KMS: writing needs kms:GenerateDataKey and reading kms:Decrypt on the key, by the
    caller, through S3 ("Using server-side encryption with AWS KMS keys (SSE-KMS)", "Permissions":
    the encryption context is the object's ARN, or the bucket's with an S3 Bucket Key).
    SNS: publishing to an encrypted topic needs kms:GenerateDataKey and kms:Decrypt on its key
    ("Encryption at rest", "Key management": encryption context aws:sns:topicArn)."""
    out: list[Authorization] = []
    if call.service == "s3" and call.operation in ("PutObject", "CreateMultipartUpload", "GetObject",
                                                     "HeadObject", "CopyObject"):
        found = _bucket(call.params.get("Bucket", ""))
        if found is None:
            return out
        bucket, owner = found
        writing = call.operation in ("PutObject", "CreateMultipartUpload", "CopyObject")
        key_id = None
        bucket_key = False
        if writing:
            key_id = call.params.get("SSEKMSKeyId")
            rules = (getattr(bucket, "encryption", None) or {}).get("Rule", [])
            rules = rules if isinstance(rules, list) else [rules]
            for rule in rules:
                default = rule.get("ApplyServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") == "aws:kms" and not key_id and \
                        call.params.get("ServerSideEncryption") in (None, "aws:kms"):
                    key_id = default.get("KMSMasterKeyID")
                bucket_key = str(rule.get("BucketKeyEnabled", "false")).lower() == "true"
            if call.params.get("ServerSideEncryption") == "aws:kms" and not key_id:
                key_id = "alias/aws/s3"
        else:
            obj = None
            try:
                obj = bucket.keys.get(call.params.get("Key"))
            except Exception:
                obj = None
            if obj is not None and getattr(obj, "encryption", None) == "aws:kms":
                key_id = obj.kms_key_id
                bucket_key = bool(getattr(obj, "bucket_key_enabled", False))
        if not key_id:
            return out
        arn = _kms_key_arn(key_id, owner, call.region)
        if arn is None:
            return out
        context_arn = f"arn:{PARTITION}:s3:::{bucket.name}" if bucket_key else \
            f"arn:{PARTITION}:s3:::{bucket.name}/{call.params.get('Key')}"
        ctx = {"kms:ViaService": f"s3.{call.region}.amazonaws.com", "kms:CallerAccount": call.account,
               "kms:EncryptionContext:aws:s3:arn": context_arn, "kms:EncryptionContextKeys": ["aws:s3:arn"],
               "aws:ViaAWSService": "true", "aws:CalledVia": ["s3.amazonaws.com"]}
        action = "kms:GenerateDataKey" if writing else "kms:Decrypt"
        out.append(Authorization(action, arn, arn.split(":")[4], ctx))
    if call.service == "sns" and call.operation == "Publish":
        topic = call.params.get("TopicArn") or call.params.get("TargetArn")
        out += sns_kms(topic, call.account) if topic else []
    return out


def sns_kms(topic_arn: str, caller_account: str) -> list[Authorization]:
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    if len(parts) != 6:
        return []
    try:
        topic = sns_backends[parts[4]][parts[3]].topics.get(topic_arn)
    except Exception:
        return []
    key_id = getattr(topic, "kms_master_key_id", None) if topic else None
    if not key_id:
        return []
    arn = _kms_key_arn(key_id, parts[4], parts[3])
    if arn is None:
        return []
    ctx = {"kms:ViaService": f"sns.{parts[3]}.amazonaws.com", "kms:CallerAccount": caller_account,
           "kms:EncryptionContext:aws:sns:topicArn": topic_arn, "kms:EncryptionContextKeys": ["aws:sns:topicArn"],
           "aws:ViaAWSService": "true", "aws:CalledVia": ["sns.amazonaws.com"]}
    return [Authorization("kms:GenerateDataKey", arn, parts[4], ctx),
            Authorization("kms:Decrypt", arn, parts[4], ctx)]


# The request being served on this thread (the middleware sets it): what a service's own code
# checks per item, as S3 checks each key of a DeleteObjects.
_CURRENT = threading.local()


def serving(caller: Caller | None, region: str = "", secure: bool = True) -> None:
    _CURRENT.request = (caller, region, secure) if caller is not None else None


def current() -> tuple[Caller, str, bool] | None:
    """(caller, Region, secure transport) of the request being served on this thread, or None:
    what a service keeps when it carries on after answering with the caller's permissions (Athena
    runs a query as the principal that started it: emu_athena_query)."""
    return getattr(_CURRENT, "request", None)


def dependent(call: Call, auths: list[Authorization]) -> list[Authorization]:
    """The KMS permissions an S3 or SNS request needs because of the encryption of what it touches
    (`_dependent`), for a service that makes such requests with its caller's permissions."""
    return _dependent(call, auths)


def check_current(action: str, resource: str, context: dict[str, Any] | None = None) -> str | None:
    """The denial message when the request being served may not do `action` on `resource`."""
    current = getattr(_CURRENT, "request", None)
    if current is None:
        return None
    caller, region, secure = current
    auth = Authorization(action, resource, None, dict(context or {}))
    decision = decide(caller.principal, auth, base_context(caller.principal, region, secure=secure), caller)
    if decision.allowed or not enforcing():
        return None
    return denial_message(caller.principal, auth, decision)


def iam_prefix(service_model: Any) -> str:
    """The IAM service prefix of a botocore service model: its signing name, except where the
    reference names the service otherwise (CloudWatch signs as `monitoring`)."""
    name = service_model.signing_name or service_model.endpoint_prefix
    return iam_actions.PREFIX.get(name, name)


def log(entry: dict[str, Any]) -> None:
    """Denials and authorization errors, one JSON line each, to $EMULATOR_AUTHZ_LOG when set (a
    diagnostic for whoever runs a suite: which call was refused, and why)."""
    path = os.environ.get("EMULATOR_AUTHZ_LOG")
    if path:
        with _LOCK, open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def reset() -> None:
    DECISIONS.reset()
    with _LOCK:
        _SESSION_LABELS.clear()
        _SESSIONS.clear()


def enforcing() -> bool:
    return os.environ.get("EMULATOR_AUTHZ", "enforce") != "record"
