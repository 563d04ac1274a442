"""StackSets for the emulator's CloudFormation engine: service-managed stack sets over the
organization in moto's organizations backend.

Why this module exists
----------------------
moto's StackSets deploy synchronously, into hidden stacks its own engine cannot finish, one OU level
deep, ignoring OperationPreferences and RetainStacks, and its UpdateStackSet changes no resource
(/tmp/notes/moto_cfn_gaps.md, section 4). Here a stack instance is a real stack of the engine,
named ``StackSet-<set name>-<uuid>`` (the name "Stack instances" in the User Guide shows), in the
member account and Region; operations run in a background thread, one at a time per stack set
("OperationInProgressException"), as the StackSets chapter of the User Guide and the API Reference
describe:

* DeploymentTargets: every account under the OrganizationalUnitIds, at any depth, never the
  management account ("CloudFormation doesn't deploy stack instances to the organization management
  account", DeploymentTargets); Accounts with AccountFilterType INTERSECTION / DIFFERENCE / UNION;
* OperationPreferences: Regions in RegionOrder; FailureToleranceCount / FailureTolerancePercentage
  per Region (a percentage "rounds down to the next whole number"); more failures than that stop the
  operation (FAILED), the remaining instances are CANCELLED, and with SEQUENTIAL Region concurrency
  the later Regions are not started ("Stack set operation options"). Instances run one at a time,
  which any MaxConcurrentCount/Percentage allows;
* instance status CURRENT, OUTDATED (the last operation failed or was cancelled on it) and
  INOPERABLE (a delete failed), with the stack's failure as StatusReason;
* DeleteStackInstances with RetainStacks keeps the stacks and only drops the instances.

Not reproduced: automatic deployment to accounts that join an OU later (AutoDeployment is stored
and described only), drift detection, CallAs DELEGATED_ADMIN checks, SELF_MANAGED execution roles.
"""

from __future__ import annotations

import math
import threading
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
        ous = sorted({i.ou_id for i in self.instances.values() if i.ou_id})
        out: dict[str, Any] = {
            "StackSetName": self.name, "StackSetId": self.stack_set_id, "Status": self.status,
            "TemplateBody": self.template_body, "StackSetARN": self.arn,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Capabilities": self.capabilities, "Tags": self.tags, "PermissionModel": self.permission_model,
            "AutoDeployment": self.auto_deployment, "OrganizationalUnitIds": ous,
            "Regions": sorted({i.region for i in self.instances.values()}),
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
        # Service-managed stack sets need AWS Organizations ("Activate trusted access for stack
        # sets with AWS Organizations"); AWS's text for an account outside any organization.
        raise validation("You must enable organizations access to operate a service managed stack set")
    return backend


def resolve_targets(account: str, region: str, targets: dict[str, Any]) -> list[tuple[str, str]]:
    """(account, OU id) pairs of a DeploymentTargets: accounts under the OUs at any depth, then
    AccountFilterType with Accounts (NONE: the OUs' accounts only)."""
    org = _organization(account, region)
    wanted = set(targets.get("OrganizationalUnitIds", []))
    known = {ou.id for ou in org.ou}
    for ou_id in wanted:
        if ou_id not in known:
            raise validation(f"OrganizationalUnitIds {ou_id} not found in the organization")
    below = set(wanted)
    while True:
        more = {ou.id for ou in org.ou if ou.parent_id in below} - below
        if not more:
            break
        below |= more
    direct_parent = {ou.id: ou.parent_id for ou in org.ou}

    def top_ou(parent: str) -> str:
        while parent not in wanted and parent in direct_parent:
            parent = direct_parent[parent]
        return parent

    found = [(a.id, top_ou(a.parent_id)) for a in org.accounts
             if a.parent_id in below and a.status == "ACTIVE" and a.id != org.org.master_account_id]
    accounts = targets.get("Accounts", [])
    mode = targets.get("AccountFilterType", "NONE")
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
    # OperationPreferences: "you can specify either FailureToleranceCount or
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
        op = SetOperation(operation_id or str(uuid.uuid4()), action, prefs,
                          [Result(a, r, ou) for a, r, ou in targets], retain_stacks)
        stack_set.operations.append(op)
    engine.run_in_background(lambda: run_operation(stack_set, op), f"stackset-{stack_set.name}")
    return op.operation_id


def validate_template(body: str) -> None:
    try:
        parse_template(body)
    except TemplateError as e:
        raise validation(str(e)) from None
