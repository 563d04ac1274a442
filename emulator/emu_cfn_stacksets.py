"""StackSets for the emulator's CloudFormation engine: service-managed stack sets over the
organization in moto's organizations backend.

Why this module exists
----------------------
moto's StackSets deploy synchronously, into hidden stacks its own engine cannot finish, one OU level
deep, ignoring OperationPreferences and RetainStacks, and its UpdateStackSet changes no resource
(/tmp/notes/moto_cfn_gaps.md, section 4). Here a stack instance is a real stack of the engine,
named ``StackSet-<set name>-<uuid>`` (the naming AWS uses, as observed; no page documents it), in the
member account and Region; operations run in a background thread, one at a time per stack set
("OperationInProgressException"), as the StackSets chapter of the User Guide and the API Reference
describe:

* DeploymentTargets: every account under the OrganizationalUnitIds, at any depth, never the
  management account ("CloudFormation doesn't deploy stack instances to the organization management
  account", DeploymentTargets); Accounts with AccountFilterType INTERSECTION / DIFFERENCE / UNION;
* OperationPreferences: Regions in RegionOrder; FailureToleranceCount / FailureTolerancePercentage
  per Region (a percentage "rounds down to the next whole number"); more failures than that stop the
  operation (FAILED), the remaining instances are CANCELLED, and with SEQUENTIAL Region concurrency
  the later Regions are not started ("StackSet operation options", stacksets-concepts.html;
  StackSetOperationPreferences, FailureToleranceCount). Instances run one at a time,
  which any MaxConcurrentCount/Percentage allows;
* instance status CURRENT, OUTDATED (the last operation failed or was cancelled on it) and
  INOPERABLE (a delete failed), with the stack's failure as StatusReason (StackInstanceSummary, Status);
* DeleteStackInstances with RetainStacks keeps the stacks and only drops the instances.

* AutoDeployment: an account created in, moved into, moved out of or removed from a target OU
  starts an operation of its own, queued behind a running one, that adds the account's instances in
  the Regions the OU is targeted in, or removes them (keeping the stacks with
  RetainStacksOnAccountRemoval). "Enable or disable automatic deployments for StackSets in AWS
  Organizations" (stacksets-orgs-manage-auto-deployment.html): "triggered when accounts are added
  to a target organization or OU, removed from a target organization or OU, or moved between target
  OUs"; "Automatic deployments do not consider account level targeting filters" (so neither does
  this).

* CallAs: SELF only from the management account, DELEGATED_ADMIN only from an account registered
  for ``member.org.stacksets.cloudformation.amazonaws.com``; a delegated administrator's stack sets
  live in the management account ("StackSets with service-managed permissions are created in the
  management account, including StackSets that are created by delegated administrators",
  CreateStackSet, CallAs), so both see the same ones.

Not reproduced: drift detection, SELF_MANAGED execution roles,
ParameterOverrides, AutoDeployment DependsOn.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import emu_cfn_engine as engine
from emu_cfn_engine import CfnError, Stack, now, validation
from emu_cfn_template import TemplateError, parse_template


@dataclass
class Instance:
    account: str
    region: str
    ou_id: str
    stack_id: str | None = None
    status: str = "OUTDATED"  # CURRENT | OUTDATED | INOPERABLE
    detailed: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED | INOPERABLE
    reason: str = ""
    last_operation_id: str = ""

    def summary(self, stack_set: "StackSet") -> dict[str, Any]:
        out: dict[str, Any] = {"StackSetId": stack_set.stack_set_id, "Region": self.region,
                               "Account": self.account, "Status": self.status,
                               "StackInstanceStatus": {"DetailedStatus": self.detailed},
                               "OrganizationalUnitId": self.ou_id, "DriftStatus": "NOT_CHECKED",
                               "LastOperationId": self.last_operation_id}
        if self.stack_id:
            out["StackId"] = self.stack_id
        if self.reason:
            out["StatusReason"] = self.reason
        return out


@dataclass
class Result:
    account: str
    region: str
    ou_id: str
    status: str = "PENDING"  # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELLED
    reason: str = ""

    def to_api(self) -> dict[str, Any]:
        out = {"Account": self.account, "Region": self.region, "Status": self.status,
               "OrganizationalUnitId": self.ou_id,
               "AccountGateResult": {"Status": "SKIPPED",
                                     "StatusReason": "Function not found: arn:aws:lambda:::function:AWSCloudFormationStackSetAccountGate"}}
        if self.reason:
            out["StatusReason"] = self.reason
        return out


@dataclass
class SetOperation:
    operation_id: str
    action: str  # CREATE | UPDATE | DELETE
    preferences: dict[str, Any]
    results: list[Result]
    retain_stacks: bool = False
    status: str = "RUNNING"
    reason: str = ""
    created: datetime = field(default_factory=now)
    ended: datetime | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"OperationId": self.operation_id, "Action": self.action, "Status": self.status,
                               "CreationTimestamp": self.created, "OperationPreferences": self.preferences}
        if self.ended:
            out["EndTimestamp"] = self.ended
        if self.reason:
            out["StatusReason"] = self.reason
        return out


@dataclass
class StackSet:
    name: str
    stack_set_id: str
    account: str
    region: str
    template_body: str
    parameters: dict[str, str]
    capabilities: list[str]
    permission_model: str
    auto_deployment: dict[str, Any]
    description: str | None
    tags: list[dict[str, str]]
    status: str = "ACTIVE"
    # The OUs the stack set targets and the Regions in each: DescribeStackSet's
    # OrganizationalUnitIds, and where automatic deployment puts an account that joins one.
    ou_regions: dict[str, set[str]] = field(default_factory=dict)
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    operations: list[SetOperation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def arn(self) -> str:
        return (f"arn:{engine.partition_of(self.region)}:cloudformation:{self.region}:{self.account}:"
                f"stackset/{self.stack_set_id}")

    def busy(self) -> bool:
        return any(op.status in ("RUNNING", "QUEUED", "STOPPING") for op in self.operations)

    def to_api(self) -> dict[str, Any]:
        ous = sorted(self.ou_regions)
        out: dict[str, Any] = {
            "StackSetName": self.name, "StackSetId": self.stack_set_id, "Status": self.status,
            "TemplateBody": self.template_body, "StackSetARN": self.arn,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Capabilities": self.capabilities, "Tags": self.tags, "PermissionModel": self.permission_model,
            "AutoDeployment": self.auto_deployment, "OrganizationalUnitIds": ous,
            "Regions": sorted({i.region for i in self.instances.values()} | set().union(*self.ou_regions.values())),
            "ManagedExecution": {"Active": False},
        }
        if self.description:
            out["Description"] = self.description
        return out


class StackSets:
    """The stack sets of one administrator account and Region (on moto's backend, reset with it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, StackSet] = {}

    def get(self, name_or_id: str) -> StackSet:
        with self.lock:
            for s in self.items.values():
                if name_or_id in (s.name, s.stack_set_id) and s.status == "ACTIVE":
                    return s
        raise CfnError("StackSetNotFoundException", f"StackSet {name_or_id} not found")


def stack_sets(account: str, region: str) -> StackSets:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][region]
    found = getattr(backend, "_emu_cfn_stack_sets", None)
    if found is None:
        found = StackSets()
        backend._emu_cfn_stack_sets = found
    return found


# --------------------------------------------------------------------------------------------------
# Organization
# --------------------------------------------------------------------------------------------------


def _organization(account: str, region: str) -> Any:
    from moto.organizations.models import organizations_backends

    master, partition = organizations_backends.master_accounts.get(account, (account, engine.partition_of(region)))
    backend = organizations_backends[master][partition]
    if backend.org is None:
        # Service-managed stack sets need AWS Organizations ("Activate trusted access for StackSets
        # with AWS Organizations", stacksets-orgs-activate-trusted-access.html); AWS's text (as seen)
        # for an account outside any organization.
        raise validation("You must enable organizations access to operate a service managed stack set")
    return backend


def _under(org: Any, wanted: set[str]) -> set[str]:
    """The OUs (and roots) in ``wanted`` and every OU below them, at any depth."""
    below = set(wanted)
    while True:
        more = {ou.id for ou in org.ou if ou.parent_id in below} - below
        if not more:
            return below
        below |= more


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


def management_account(account: str, region: str) -> str:
    return _organization(account, region).org.master_account_id


def check_caller(account: str, region: str, call_as: str) -> None:
    """Who may operate service-managed stack sets: the management account (CallAs SELF) or an account
    registered as delegated administrator for StackSets (CallAs DELEGATED_ADMIN), "Register a
    delegated administrator" (stacksets-orgs-delegated-admin.html). The two messages are not in
    AWS's reference; they are the ones AWS returns as quoted in public issue threads
    (hashicorp/terraform-provider-aws#32536, cdklabs/cdk-stacksets#265)."""
    org = _organization(account, region)
    if call_as == "DELEGATED_ADMIN":
        if not any(admin.account.id == account and STACKSETS_PRINCIPAL in admin.services for admin in org.admins):
            raise validation("Account used is not a delegated administrator")
    elif account != org.org.master_account_id:
        raise validation("You must be the management account or delegated admin account of an organization "
                         "before operating a SERVICE_MANAGED stack set")


def resolve_targets(account: str, region: str, targets: dict[str, Any]) -> list[tuple[str, str]]:
    """(account, OU id) pairs of a DeploymentTargets: accounts under the OUs at any depth, then
    AccountFilterType with Accounts (NONE: the OUs' accounts only). The default is UNION
    (DeploymentTargets, AccountFilterType: "UNION ... This is the default value if
    AccountFilterType is not provided"); without Accounts it is the OUs' accounts."""
    org = _organization(account, region)
    wanted = set(targets.get("OrganizationalUnitIds", []))
    known = {ou.id for ou in org.ou}
    for ou_id in wanted:
        if ou_id not in known:
            raise validation(f"OrganizationalUnitIds {ou_id} not found in the organization")
    below = _under(org, wanted)
    direct_parent = {ou.id: ou.parent_id for ou in org.ou}

    def top_ou(parent: str) -> str:
        while parent not in wanted and parent in direct_parent:
            parent = direct_parent[parent]
        return parent

    found = [(a.id, top_ou(a.parent_id)) for a in org.accounts
             if a.parent_id in below and a.status == "ACTIVE" and a.id != org.org.master_account_id]
    accounts = targets.get("Accounts", [])
    mode = targets.get("AccountFilterType") or "UNION"
    if mode == "INTERSECTION":
        found = [f for f in found if f[0] in accounts]
    elif mode == "DIFFERENCE":
        found = [f for f in found if f[0] not in accounts]
    elif mode == "UNION":
        found += [(a, "") for a in accounts if a not in {f[0] for f in found}]
    return found


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------


def tolerance(prefs: dict[str, Any], count: int) -> int:
    if "FailureToleranceCount" in prefs:
        return int(prefs["FailureToleranceCount"])
    if "FailureTolerancePercentage" in prefs:
        return math.floor(int(prefs["FailureTolerancePercentage"]) * count / 100)
    return 0


def check_preferences(prefs: dict[str, Any]) -> None:
    # StackSetOperationPreferences: "You must specify either FailureToleranceCount or
    # FailureTolerancePercentage, but not both" (and likewise MaxConcurrentCount/Percentage).
    for a, b in (("FailureToleranceCount", "FailureTolerancePercentage"),
                 ("MaxConcurrentCount", "MaxConcurrentPercentage")):
        if a in prefs and b in prefs:
            raise validation(f"You can specify either {a} or {b}, but not both.")


def _stack_reason(stack: Stack) -> str:
    """A failed instance's reason as StackSets words it: the first failed resource
    ("ResourceLogicalId:X, ResourceType:Y, ResourceStatusReason:Z."), else the stack's reason."""
    for ev in stack.events:
        if ev.status.endswith("_FAILED") and ev.logical_id != stack.name:
            return (f"ResourceLogicalId:{ev.logical_id}, ResourceType:{ev.resource_type}, "
                    f"ResourceStatusReason:{ev.reason}.")
    return stack.reason


def _instance_parameters(stack_set: StackSet) -> dict[str, str | None]:
    return dict(stack_set.parameters)


def _deploy(stack_set: StackSet, inst: Instance) -> str:
    """Creates or updates the instance's stack and waits for it. Returns "" or the failure."""
    st = engine.store(inst.account, inst.region)
    stack = st.find(inst.stack_id) if inst.stack_id else None
    if stack is not None and stack.status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE"):
        if stack.status == "ROLLBACK_COMPLETE":
            engine.Operation(stack).delete(set())
        stack = None
    try:
        if stack is None:
            stack = _new_stack(stack_set, inst)
            engine.Operation(stack).create()
            ok = stack.status == "CREATE_COMPLETE"
        else:
            template, raw = engine.prepare(stack, stack_set.template_body, _instance_parameters(stack_set),
                                           stack.raw_parameters, stack_set.capabilities)
            if stack_set.template_body == stack.template_body and raw == stack.raw_parameters:
                return ""
            engine.Operation(stack).update(stack_set.template_body, template, raw, stack_set.capabilities, None)
            ok = stack.status == "UPDATE_COMPLETE"
    except CfnError as e:
        return e.message
    return "" if ok else _stack_reason(stack)


def _new_stack(stack_set: StackSet, inst: Instance) -> Stack:
    st = engine.store(inst.account, inst.region)
    name = f"StackSet-{stack_set.name}-{uuid.uuid4()}"
    stack = Stack(engine.new_stack_id(inst.account, inst.region, name), name, inst.account, inst.region,
                  stack_set.template_body, {}, {}, stack_set.capabilities, stack_set.tags, [], False, "ROLLBACK")
    stack.template, stack.raw_parameters = engine.prepare(stack, stack_set.template_body,
                                                          _instance_parameters(stack_set), None,
                                                          stack_set.capabilities)
    with st.lock:
        st.stacks.append(stack)
    inst.stack_id = stack.stack_id
    return stack


def _remove(stack_set: StackSet, inst: Instance, retain: bool) -> str:
    if retain or not inst.stack_id:
        return ""
    stack = engine.store(inst.account, inst.region).find(inst.stack_id)
    if stack is None or stack.status == "DELETE_COMPLETE":
        return ""
    engine.Operation(stack).delete(set())
    return "" if stack.status == "DELETE_COMPLETE" else stack.reason


def run_operation(stack_set: StackSet, op: SetOperation) -> None:
    prefs = op.preferences
    regions = list(dict.fromkeys(prefs.get("RegionOrder", []) + [r.region for r in op.results]))
    sequential = prefs.get("RegionConcurrencyType", "SEQUENTIAL") == "SEQUENTIAL"
    stopped = False
    for region in regions:
        results = [r for r in op.results if r.region == region]
        allowed, failures = tolerance(prefs, len(results)), 0
        for res in results:
            if stopped or failures > allowed:
                res.status = "CANCELLED"
                _cancel(stack_set, res, op)
                continue
            res.status = "RUNNING"
            failure = _run_one(stack_set, op, res)
            res.status, res.reason = ("FAILED", failure) if failure else ("SUCCEEDED", "")
            failures += bool(failure)
        if failures > allowed:
            op.status = "FAILED"
            op.reason = f"The operation failed in Region {region}: {failures} failures exceeded the tolerance {allowed}."
            stopped = stopped or sequential
    if op.status == "RUNNING":
        op.status = "SUCCEEDED"
    op.ended = now()


def _cancel(stack_set: StackSet, res: Result, op: SetOperation) -> None:
    inst = stack_set.instances.get((res.account, res.region))
    if inst is not None:
        inst.status, inst.detailed, inst.last_operation_id = "OUTDATED", "CANCELLED", op.operation_id
        inst.reason = "Cancelled since failure tolerance has exceeded"


def _run_one(stack_set: StackSet, op: SetOperation, res: Result) -> str:
    key = (res.account, res.region)
    if op.action == "DELETE":
        inst = stack_set.instances[key]
        inst.detailed = "RUNNING"
        failure = _remove(stack_set, inst, op.retain_stacks)
        if failure:
            inst.status, inst.detailed, inst.reason = "INOPERABLE", "INOPERABLE", failure
        else:
            del stack_set.instances[key]
        return failure
    inst = stack_set.instances.setdefault(key, Instance(res.account, res.region, res.ou_id))
    inst.detailed, inst.last_operation_id = "RUNNING", op.operation_id
    failure = _deploy(stack_set, inst)
    inst.status, inst.detailed, inst.reason = (("OUTDATED", "FAILED", failure) if failure
                                               else ("CURRENT", "SUCCEEDED", ""))
    return failure


def start(stack_set: StackSet, action: str, targets: list[tuple[str, str, str]], prefs: dict[str, Any],
          operation_id: str | None, retain_stacks: bool = False) -> str:
    """Queues one operation over (account, region, OU) targets and runs it in the background."""
    check_preferences(prefs)
    with stack_set.lock:
        if stack_set.busy():
            raise CfnError("OperationInProgressException",
                           f"Another Operation on StackSet {stack_set.stack_set_id} is in progress")
        if operation_id and any(o.operation_id == operation_id for o in stack_set.operations):
            # OperationIdAlreadyExistsException: "The specified operation ID already exists"
            # (CreateStackInstances, UpdateStackSet, DeleteStackInstances); the text is ours.
            raise CfnError("OperationIdAlreadyExistsException", f"Operation {operation_id} already exists")
        op = SetOperation(operation_id or str(uuid.uuid4()), action, prefs,
                          [Result(a, r, ou) for a, r, ou in targets], retain_stacks)
        stack_set.operations.append(op)
    engine.run_in_background(lambda: run_operation(stack_set, op), f"stackset-{stack_set.name}")
    return op.operation_id


# --------------------------------------------------------------------------------------------------
# Automatic deployment
# --------------------------------------------------------------------------------------------------


def _every_stack_set() -> list[StackSet]:
    from moto.cloudformation.models import cloudformation_backends

    found = []
    for backends in list(cloudformation_backends.values()):
        for backend in list(backends.values()):
            registry = getattr(backend, "_emu_cfn_stack_sets", None)
            if registry is not None:
                with registry.lock:
                    found += [s for s in registry.items.values() if s.status == "ACTIVE"]
    return found


def _auto_deploy(stack_set: StackSet, org: Any, account_id: str) -> None:
    """Brings one account's instances in line with the OUs it is now under: creates those of the
    target OUs' Regions it lacks, removes those it no longer belongs to."""
    member = next((a for a in org.accounts if a.id == account_id and a.status == "ACTIVE"), None)
    wanted: dict[str, str] = {}  # Region -> target OU
    if member is not None and account_id != org.org.master_account_id:
        for ou_id, regions in stack_set.ou_regions.items():
            if member.parent_id in _under(org, {ou_id}):
                wanted.update({r: ou_id for r in regions if r not in wanted})
    have = {r for (a, r) in stack_set.instances if a == account_id}
    add = [(account_id, r, ou) for r, ou in wanted.items() if r not in have]
    drop = [(account_id, r, stack_set.instances[(account_id, r)].ou_id) for r in have - set(wanted)]
    retain = bool(stack_set.auto_deployment.get("RetainStacksOnAccountRemoval"))
    for action, targets in (("DELETE", drop), ("CREATE", add)):
        if not targets:
            continue
        # Queued behind a running operation, as AWS queues automatic deployments.
        while True:
            with stack_set.lock:
                if not stack_set.busy():
                    op = SetOperation(str(uuid.uuid4()), action, {}, [Result(*t) for t in targets],
                                      retain and action == "DELETE")
                    stack_set.operations.append(op)
                    break
            time.sleep(0.05)
        run_operation(stack_set, op)


def account_changed(org: Any, account_id: str) -> None:
    """Called after an account joins, moves within or leaves the organization: every service-managed
    stack set with AutoDeployment enabled follows it, in the background."""
    for stack_set in _every_stack_set():
        if stack_set.permission_model == "SERVICE_MANAGED" and stack_set.auto_deployment.get("Enabled"):
            engine.run_in_background(lambda s=stack_set: _auto_deploy(s, org, account_id),
                                     f"stackset-auto-{stack_set.name}")


def install() -> None:
    """Hooks moto's Organizations backend: account changes reach automatic deployment, and a delegated
    administrator can list the delegated administrators."""
    from moto.organizations.models import OrganizationsBackend

    create, move, remove = (OrganizationsBackend.create_account, OrganizationsBackend.move_account,
                            OrganizationsBackend.remove_account_from_organization)

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        status = create(self, **kwargs)
        account_changed(self, status["CreateAccountStatus"]["AccountId"])
        return status

    def move_account(self: Any, **kwargs: Any) -> None:
        move(self, **kwargs)
        account_changed(self, kwargs["AccountId"])

    def remove_account_from_organization(self: Any, **kwargs: Any) -> None:
        remove(self, **kwargs)
        account_changed(self, kwargs["AccountId"])

    def list_delegated_administrators(self: Any, **kwargs: Any) -> dict[str, Any]:
        # "This operation can be called only from the organization's management account or by a
        # member account that is a delegated administrator" (Organizations API Reference,
        # ListDelegatedAdministrators); moto answers a member from its own, empty backend.
        from moto.core.exceptions import JsonRESTError
        from moto.organizations.models import organizations_backends

        if self.org is None and self.account_id in organizations_backends.master_accounts:
            master, partition = organizations_backends.master_accounts[self.account_id]
            backend = organizations_backends[master][partition]
            if not any(admin.account.id == self.account_id for admin in backend.admins):
                raise JsonRESTError("AccessDeniedException", "You don't have permissions to access this resource.")
            return list_admins(backend, **kwargs)
        return list_admins(self, **kwargs)

    # "Register a delegated administrator" (StackSets user guide): aws organizations
    # register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com;
    # moto accepts only a few principals.
    from moto.organizations.models import FakeDelegatedAdministrator

    if STACKSETS_PRINCIPAL not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
        FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(STACKSETS_PRINCIPAL)
    list_admins = OrganizationsBackend.list_delegated_administrators
    OrganizationsBackend.list_delegated_administrators = list_delegated_administrators
    OrganizationsBackend.create_account = create_account
    OrganizationsBackend.move_account = move_account
    OrganizationsBackend.remove_account_from_organization = remove_account_from_organization


def validate_template(body: str) -> None:
    try:
        parse_template(body)
    except TemplateError as e:
        raise validation(str(e)) from None
