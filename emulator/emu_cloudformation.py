"""The CloudFormation API of the emulator, served by our engine instead of moto's.

Why this module exists
----------------------
moto's CloudFormation cannot run our templates (/tmp/notes/moto_cfn_gaps.md), so ``install()``
replaces the handlers of the actions below on moto's ``CloudFormationResponse`` (moto dispatches an
action to the method of its snake_case name) with ours, backed by ``emu_cfn_engine`` (stacks,
change sets, custom resources), ``emu_cfn_resources`` (one provider per resource type) and
``emu_cfn_stacksets``. Answers are moto's model-driven query-protocol XML (``ActionResult``), so boto3,
the AWS CLI and the Rust SDK parse them; errors are ``ErrorResponse`` documents with AWS's codes and
texts (``ValidationError`` "Stack with id X does not exist", "No updates are to be performed.").

Stacks: CreateStack, UpdateStack, DeleteStack, DescribeStacks, DescribeStackEvents,
DescribeStackResource(s), ListStackResources, ListStacks, GetTemplate, GetTemplateSummary,
ValidateTemplate, ListExports. Change sets: CreateChangeSet (CREATE, UPDATE), DescribeChangeSet,
ExecuteChangeSet, DeleteChangeSet, ListChangeSets. StackSets: CreateStackSet, UpdateStackSet,
DescribeStackSet, DeleteStackSet, ListStackSets, CreateStackInstances, DeleteStackInstances,
ListStackInstances, DescribeStackInstance, DescribeStackSetOperation, ListStackSetOperations,
ListStackSetOperationResults. Each handler cites its API Reference page ("API_<Action>.html").

Custom resources answer with an unsigned PUT to ``/_emulator/cloudformation/responses/<token>``
(see ``control``); ``PUT /_emulator/cloudformation/settings {"custom_resource_timeout": s}`` caps
every ServiceTimeout (tests), as env ``EMULATOR_CFN_CUSTOM_RESOURCE_TIMEOUT`` does.
"""

from __future__ import annotations

import json
import re
import uuid
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlparse
from xml.sax.saxutils import escape

from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult

import emu_cfn_engine as engine
import emu_cfn_stacksets as sets
from emu_cfn_engine import (ANSWERS, RESPONSE_PATH, CfnError, ChangeSet, Operation, Stack, plan_changes,
                            prepare, run_in_background, validation)
from emu_cfn_template import TemplateError, parameter_specs, parse_template, transforms_of

# API_CreateStack, StackName: "It must start with an alphabetical character and can't be longer than
# 128 characters" (pattern [a-zA-Z][-a-zA-Z0-9]*).
STACK_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
# States from which an update may start: the "last known stable state" list of API_RollbackStack
# (AWS also updates CREATE_FAILED/UPDATE_FAILED stacks kept by DisableRollback: stack-failure-options.html).
# The refusal text for the others is AWS's as seen.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE"}


def _error_xml(e: CfnError) -> tuple[int, dict[str, Any], str]:
    body = ('<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
            f"<Type>Sender</Type><Code>{escape(e.code)}</Code><Message>{escape(e.message)}</Message>"
            f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return e.status, {"status": e.status, "Content-Type": "text/xml"}, body


def action(fn: Callable[[CloudFormationResponse, dict[str, Any]], Any]) -> Callable[[CloudFormationResponse], Any]:
    """A handler: gets the request's parameters as nested dicts and lists (moto's query parser),
    answers an ActionResult, or the error document of a CfnError."""

    @wraps(fn)
    def handler(self: CloudFormationResponse) -> Any:
        try:
            return fn(self, self._get_params())
        except CfnError as e:
            return _error_xml(e)

    return handler


def _store(self: CloudFormationResponse) -> engine.Store:
    return engine.store(self.current_account, self.region)


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _given_parameters(params: dict[str, Any]) -> dict[str, str | None]:
    """Parameters: ParameterValue, or UsePreviousValue true (``None``)."""
    out: dict[str, str | None] = {}
    for p in params.get("Parameters", []):
        out[p["ParameterKey"]] = None if _flag(p.get("UsePreviousValue")) else p.get("ParameterValue", "")
    return out


def _template_body(self: CloudFormationResponse, params: dict[str, Any], previous: str | None = None) -> str:
    """TemplateBody, TemplateURL (an S3 object URL, read as the caller) or UsePreviousTemplate."""
    if params.get("TemplateBody"):
        return params["TemplateBody"]
    if params.get("TemplateURL"):
        return _read_template_url(self, params["TemplateURL"])
    if _flag(params.get("UsePreviousTemplate")) and previous is not None:
        return previous
    raise validation("Either Template URL or Template Body must be specified.")


def _read_template_url(self: CloudFormationResponse, url: str) -> str:
    # API_CreateStack, TemplateURL: "The URL must point to a template ... that's located in an Amazon
    # S3 bucket": virtual-hosted (bucket.s3[.region].amazonaws.com/key) or path style.
    parsed = urlparse(url)
    host, path = parsed.netloc, parsed.path.lstrip("/")
    m = re.match(r"^(.+)\.s3[.-]", host)
    bucket, key = (m.group(1), path) if m else tuple(path.split("/", 1))
    try:
        s3 = engine.CLIENTS.get(self.current_account, self.region, "s3")
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except Exception:
        raise validation(f"TemplateURL must reference a valid S3 object to which you have access. ({url})") from None


def _placeholder(self: CloudFormationResponse, name: str, params: dict[str, Any]) -> Stack:
    return Stack(engine.new_stack_id(self.current_account, self.region, name), name, self.current_account,
                 self.region, "", {}, {}, params.get("Capabilities", []), params.get("Tags", []),
                 params.get("NotificationARNs", []), _flag(params.get("DisableRollback")),
                 params.get("OnFailure") or "ROLLBACK", params.get("RoleARN"),
                 int(params["TimeoutInMinutes"]) if params.get("TimeoutInMinutes") else None,
                 retain_except_on_create=_flag(params.get("RetainExceptOnCreate")))


# --------------------------------------------------------------------------------------------------
# Stacks
# --------------------------------------------------------------------------------------------------


@action
def create_stack(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_CreateStack: AlreadyExistsException for a live name; DisableRollback and OnFailure are
    exclusive; everything in the template is checked before the stack exists."""
    name = params.get("StackName", "")
    if not STACK_NAME_RE.match(name):
        raise validation(f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    if params.get("OnFailure") and "DisableRollback" in params:
        raise validation("You cannot specify both DisableRollback and OnFailure.")
    st = _store(self)
    if st.find(name) is not None:
        raise CfnError("AlreadyExistsException", f"Stack [{name}] already exists")
    stack = _placeholder(self, name, params)
    stack.template_body = _template_body(self, params)
    stack.template, stack.raw_parameters = prepare(stack, stack.template_body, _given_parameters(params), None,
                                                   stack.capabilities)
    with st.lock:
        st.stacks.append(stack)
    run_in_background(Operation(stack).create, f"create-{name}")
    return ActionResult({"StackId": stack.stack_id})


def _check_updatable(stack: Stack) -> None:
    if stack.status not in UPDATABLE:
        raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


@action
def update_stack(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_UpdateStack: "No updates are to be performed." when template, parameters and tags are
    what the stack has."""
    stack = _store(self).get(params.get("StackName", ""))
    _check_updatable(stack)
    body = _template_body(self, params, stack.template_body)
    capabilities = params.get("Capabilities", [])
    template, raw = prepare(stack, body, _given_parameters(params), stack.raw_parameters, capabilities)
    tags = params.get("Tags")
    if body == stack.template_body and raw == stack.raw_parameters and (tags is None or tags == stack.tags):
        raise validation("No updates are to be performed.")
    if "DisableRollback" in params:
        stack.disable_rollback = _flag(params["DisableRollback"])
    # RetainExceptOnCreate applies to this operation only ("Default: false").
    stack.retain_except_on_create = _flag(params.get("RetainExceptOnCreate"))
    run_in_background(lambda: Operation(stack).update(body, template, raw, capabilities, tags),
                      f"update-{stack.name}")
    return ActionResult({"StackId": stack.stack_id})


@action
def delete_stack(self: CloudFormationResponse, params: dict[str, Any]) -> EmptyResult:
    """API_DeleteStack: no error for a stack that does not exist (as seen); RetainResources only for a
    stack in DELETE_FAILED ("For stacks in the DELETE_FAILED state, a list of resource logical IDs
    ... you want to retain"); ROLLBACK_COMPLETE and the other final states may be deleted."""
    stack = _store(self).find(params.get("StackName", ""))
    if stack is None or stack.status == "DELETE_COMPLETE" or stack.status == "DELETE_IN_PROGRESS":
        return EmptyResult()
    retain = set(params.get("RetainResources", []))
    if retain and stack.status != "DELETE_FAILED":
        raise validation(f"Invalid operation on stack {stack.stack_id}: RetainResources may only be "
                         "specified when the stack is in the DELETE_FAILED state")
    if stack.busy:
        raise validation(f"Stack {stack.stack_id} is in {stack.status} state and can not be deleted.")
    run_in_background(lambda: Operation(stack).delete(retain), f"delete-{stack.name}")
    return EmptyResult()


@action
def describe_stacks(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_DescribeStacks: one stack by name (live) or id (also deleted), or every live stack."""
    st = _store(self)
    if params.get("StackName"):
        return ActionResult({"Stacks": [st.get(params["StackName"]).to_api()]})
    with st.lock:
        stacks = [s for s in st.stacks if s.status != "DELETE_COMPLETE"]
    return ActionResult({"Stacks": [s.to_api() for s in reversed(stacks)]})


@action
def describe_stack_events(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_DescribeStackEvents: "in reverse chronological order"."""
    stack = _store(self).get(params.get("StackName", ""))
    return ActionResult({"StackEvents": [e.to_api() for e in reversed(list(stack.events))]})


def _resource_row(stack: Stack, res: engine.Resource) -> dict[str, Any]:
    row = res.summary()
    row.update(StackName=stack.name, StackId=stack.stack_id, Timestamp=res.updated)
    return row


@action
def describe_stack_resources(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_DescribeStackResources: by StackName (and LogicalResourceId) or PhysicalResourceId."""
    st = _store(self)
    if params.get("StackName"):
        stacks = [st.get(params["StackName"])]
    elif params.get("PhysicalResourceId"):
        with st.lock:
            stacks = [s for s in st.stacks if any(r.physical_id == params["PhysicalResourceId"]
                                                  for r in s.resources.values())]
        if not stacks:
            raise validation(f"Stack for {params['PhysicalResourceId']} does not exist")
    else:
        raise validation("Either StackName or PhysicalResourceId must be specified.")
    rows = [_resource_row(s, r) for s in stacks for r in list(s.resources.values())
            if params.get("LogicalResourceId") in (None, r.logical_id)
            and params.get("PhysicalResourceId") in (None, r.physical_id)]
    for row in rows:
        row.pop("LastUpdatedTimestamp")
    return ActionResult({"StackResources": rows})


@action
def describe_stack_resource(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_DescribeStackResource: "Resource X does not exist for stack Y" otherwise."""
    stack = _store(self).get(params.get("StackName", ""))
    res = stack.resources.get(params.get("LogicalResourceId", ""))
    if res is None:
        raise validation(f"Resource {params.get('LogicalResourceId')} does not exist for stack {stack.name}")
    detail = _resource_row(stack, res)
    detail.pop("Timestamp")
    detail["Metadata"] = json.dumps(stack.template["Resources"].get(res.logical_id, {}).get("Metadata", {}))
    return ActionResult({"StackResourceDetail": detail})


@action
def list_stack_resources(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack = _store(self).get(params.get("StackName", ""))
    return ActionResult({"StackResourceSummaries": [r.summary() for r in list(stack.resources.values())]})


@action
def list_stacks(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_ListStacks: every stack, deleted ones included, filtered by StackStatusFilter."""
    wanted = set(params.get("StackStatusFilter", []))
    st = _store(self)
    with st.lock:
        stacks = [s for s in st.stacks if not wanted or s.status in wanted]
    return ActionResult({"StackSummaries": [s.summary() for s in reversed(stacks)]})


@action
def get_template(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_GetTemplate: the body as submitted (Original), or the processed JSON (Processed).
    StagesAvailable: "For stacks, the Original and Processed templates are always available. For
    change sets, the Original template is always available. After CloudFormation finishes creating
    the change set, the Processed template becomes available." TemplateStage: "If the template
    doesn't include transforms, Original and Processed return the same template"."""
    if params.get("ChangeSetName"):
        cs = _change_set(self, params)
        body = cs.template_body
        template = cs.template
        stages = ["Original", "Processed"] if cs.status == "CREATE_COMPLETE" else ["Original"]
    else:
        stack = _store(self).get(params.get("StackName", ""))
        body, template = stack.template_body, stack.template
        stages = ["Original", "Processed"]
    if params.get("TemplateStage") == "Processed" and transforms_of(template):
        body = json.dumps({k: v for k, v in template.items() if k != "Transform"})
    return ActionResult({"TemplateBody": body, "StagesAvailable": stages})


def _summary_parameters(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, spec in parameter_specs(template).items():
        row: dict[str, Any] = {"ParameterKey": key, "ParameterType": spec.type, "NoEcho": spec.no_echo,
                               "Description": spec.description}
        if spec.default is not None:
            row["DefaultValue"] = spec.default
        if spec.allowed_values is not None:
            row["ParameterConstraints"] = {"AllowedValues": spec.allowed_values}
        out.append(row)
    return out


def _capabilities(template: dict[str, Any]) -> tuple[list[str], str]:
    try:
        engine.check_capabilities(template, [])
    except CfnError as e:
        needed = re.findall(r"CAPABILITY_\w+", e.message)
        return needed, "The following resource(s) require capabilities: " + ", ".join(
            sorted({r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::IAM::")}))
    return [], ""


def _parsed(self: CloudFormationResponse, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if params.get("StackName"):
        stack = _store(self).get(params["StackName"])
        return stack.template_body, stack.template
    if params.get("StackSetName"):
        body = _sets(self, params).get(params["StackSetName"]).template_body
    else:
        body = _template_body(self, params)
    try:
        return body, parse_template(body)
    except TemplateError as e:
        raise validation(str(e)) from None


@action
def get_template_summary(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_GetTemplateSummary: from TemplateBody/TemplateURL, a stack or a stack set."""
    _, template = _parsed(self, params)
    capabilities, reason = _capabilities(template)
    out: dict[str, Any] = {"Parameters": _summary_parameters(template),
                           "ResourceTypes": sorted({r["Type"] for r in template["Resources"].values()}),
                           "Version": template.get("AWSTemplateFormatVersion", "2010-09-09"),
                           "DeclaredTransforms": transforms_of(template), "Capabilities": capabilities}
    if reason:
        out["CapabilitiesReason"] = reason
    if template.get("Description"):
        out["Description"] = template["Description"]
    if template.get("Metadata"):
        out["Metadata"] = json.dumps(template["Metadata"])
    return ActionResult(out)


@action
def validate_template(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_ValidateTemplate: template format only (not parameter values)."""
    _, template = _parsed(self, params)
    capabilities, reason = _capabilities(template)
    out: dict[str, Any] = {"Parameters": [
        {k: v for k, v in p.items() if k in ("ParameterKey", "DefaultValue", "NoEcho", "Description")}
        for p in _summary_parameters(template)], "Capabilities": capabilities,
        "DeclaredTransforms": transforms_of(template)}
    if reason:
        out["CapabilitiesReason"] = reason
    if template.get("Description"):
        out["Description"] = template["Description"]
    return ActionResult(out)


@action
def list_exports(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    st = _store(self)
    with st.lock:
        exports = list(st.exports.values())
    return ActionResult({"Exports": [{"ExportingStackId": e.stack_id, "Name": e.name, "Value": e.value}
                                     for e in exports]})


# --------------------------------------------------------------------------------------------------
# Change sets
# --------------------------------------------------------------------------------------------------


def _change_set(self: CloudFormationResponse, params: dict[str, Any]) -> ChangeSet:
    st = _store(self)
    name = params.get("ChangeSetName", "")
    stack_name = params.get("StackName")
    with st.lock:
        for cs in st.change_sets.values():
            if cs.change_set_id == name or (cs.name == name and stack_name in (cs.stack_name, cs.stack_id)):
                return cs
    raise CfnError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist")


NO_CHANGES = ("The submitted information didn't contain changes. Submit different information to create a "
              "change set.")


def _compute(cs: ChangeSet, stack: Stack) -> None:
    """The change set's Changes; FAILED with NO_CHANGES when nothing would change (StatusReason
    wording as seen, not in the API Reference; cf. ansible-collections/amazon.aws#507)."""
    cs.status = "CREATE_IN_PROGRESS"
    try:
        cs.changes = plan_changes(stack, cs.template, cs.raw_parameters)
    except (CfnError, TemplateError) as e:
        cs.status, cs.reason = "FAILED", getattr(e, "message", str(e))
        return
    unchanged = (cs.template_body == stack.template_body and cs.raw_parameters == stack.raw_parameters)
    if not cs.changes and (unchanged or cs.change_set_type == "UPDATE"):
        cs.status, cs.reason = "FAILED", NO_CHANGES
        return
    cs.status, cs.execution_status = "CREATE_COMPLETE", "AVAILABLE"


@action
def create_change_set(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_CreateChangeSet: CREATE makes the stack in REVIEW_IN_PROGRESS; UPDATE needs an existing
    stack ("Stack [X] does not exist" otherwise)."""
    st = _store(self)
    name, stack_name = params.get("ChangeSetName", ""), params.get("StackName", "")
    kind = params.get("ChangeSetType", "UPDATE")
    stack = st.find(stack_name)
    if kind == "CREATE":
        if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
            raise validation(f"Stack [{stack_name}] already exists and cannot be created again with the "
                             f"changeSet [{name}].")
        if stack is None:
            stack = _placeholder(self, stack_name, params)
            stack.status = "REVIEW_IN_PROGRESS"
            stack.event(stack.name, stack.stack_id, "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS",
                        "User Initiated")
            with st.lock:
                st.stacks.append(stack)
    elif stack is None or stack.status == "REVIEW_IN_PROGRESS":
        raise validation(f"Stack [{stack_name}] does not exist")
    else:
        _check_updatable(stack)
    previous = stack.template_body or None
    body = _template_body(self, params, previous)
    capabilities = params.get("Capabilities", [])
    template, raw = prepare(stack, body, _given_parameters(params),
                            stack.raw_parameters if kind == "UPDATE" else None, capabilities)
    cs_id = (f"arn:{engine.partition_of(self.region)}:cloudformation:{self.region}:{self.current_account}:"
             f"changeSet/{name}/{uuid.uuid4()}")
    cs = ChangeSet(cs_id, name, stack.stack_id, stack.name, kind, body, template, raw, capabilities,
                   params.get("Tags", stack.tags), params.get("Description"))
    with st.lock:
        if any(c.name == name and c.stack_id == stack.stack_id for c in st.change_sets.values()):
            raise CfnError("AlreadyExistsException", f"ChangeSet {name} already exists")
        st.change_sets[cs_id] = cs
    run_in_background(lambda: _compute(cs, stack), f"changeset-{name}")
    return ActionResult({"Id": cs_id, "StackId": stack.stack_id})


@action
def describe_change_set(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    cs = _change_set(self, params)
    out = cs.summary()
    out.update(Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in cs.raw_parameters.items()],
               Capabilities=cs.capabilities, Tags=cs.tags, Changes=[c.to_api() for c in cs.changes],
               NotificationARNs=[], RollbackConfiguration={}, IncludeNestedStacks=False)
    return ActionResult(out)


@action
def list_change_sets(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack = _store(self).get(params.get("StackName", ""))
    st = _store(self)
    with st.lock:
        found = [c for c in st.change_sets.values() if c.stack_id == stack.stack_id]
    return ActionResult({"Summaries": [c.summary() for c in found]})


@action
def delete_change_set(self: CloudFormationResponse, params: dict[str, Any]) -> EmptyResult:
    cs = _change_set(self, params)
    if cs.execution_status == "EXECUTE_IN_PROGRESS":
        raise CfnError("InvalidChangeSetStatus", f"ChangeSet [{cs.change_set_id}] cannot be deleted")
    st = _store(self)
    with st.lock:
        st.change_sets.pop(cs.change_set_id, None)
    return EmptyResult()


@action
def execute_change_set(self: CloudFormationResponse, params: dict[str, Any]) -> EmptyResult:
    """API_ExecuteChangeSet: only an AVAILABLE change set; "CloudFormation deletes all other change
    sets associated with the stack because they aren't valid for the updated stack"."""
    cs = _change_set(self, params)
    if cs.execution_status != "AVAILABLE":
        raise CfnError("InvalidChangeSetStatus", f"ChangeSet [{cs.change_set_id}] cannot be executed in its "
                                                 f"current status of [{cs.status}]")
    st = _store(self)
    stack = st.get(cs.stack_id)
    with st.lock:
        for other in [c for c in st.change_sets.values() if c.stack_id == stack.stack_id and c is not cs]:
            del st.change_sets[other.change_set_id]
    cs.execution_status = "EXECUTE_IN_PROGRESS"
    stack.change_set_id = cs.change_set_id
    if "DisableRollback" in params:
        stack.disable_rollback = _flag(params["DisableRollback"])
    stack.retain_except_on_create = _flag(params.get("RetainExceptOnCreate"))

    def run() -> None:
        if cs.change_set_type == "CREATE":
            stack.template_body, stack.template, stack.raw_parameters = cs.template_body, cs.template, cs.raw_parameters
            stack.capabilities, stack.tags = cs.capabilities, cs.tags
            Operation(stack).create()
            ok = stack.status == "CREATE_COMPLETE"
        else:
            Operation(stack).update(cs.template_body, cs.template, cs.raw_parameters, cs.capabilities, cs.tags)
            ok = stack.status == "UPDATE_COMPLETE"
        cs.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"

    run_in_background(run, f"execute-{cs.name}")
    return EmptyResult()


# --------------------------------------------------------------------------------------------------
# StackSets
# --------------------------------------------------------------------------------------------------


def _owner(self: CloudFormationResponse, params: dict[str, Any]) -> str:
    """The account whose stack sets a call works on. API_CreateStackSet, CallAs: "StackSets with
    service-managed permissions are created in the management account, including StackSets that are
    created by delegated administrators": a delegated administrator (CallAs DELEGATED_ADMIN) works on
    the management account's, in the same Region."""
    if params.get("CallAs") == "DELEGATED_ADMIN":
        sets.check_caller(self.current_account, self.region, "DELEGATED_ADMIN")
        return sets.management_account(self.current_account, self.region)
    return self.current_account


def _sets(self: CloudFormationResponse, params: dict[str, Any]) -> sets.StackSets:
    return sets.stack_sets(_owner(self, params), self.region)


def _set_parameters(params: dict[str, Any], previous: dict[str, str]) -> dict[str, str]:
    out = {}
    for p in params.get("Parameters", []):
        if _flag(p.get("UsePreviousValue")):
            if p["ParameterKey"] in previous:
                out[p["ParameterKey"]] = previous[p["ParameterKey"]]
        else:
            out[p["ParameterKey"]] = p.get("ParameterValue", "")
    return out


@action
def create_stack_set(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_CreateStackSet: NameAlreadyExistsException; SERVICE_MANAGED needs the organization."""
    name = params.get("StackSetName", "")
    registry = _sets(self, params)
    with registry.lock:
        if any(s.name == name and s.status == "ACTIVE" for s in registry.items.values()):
            raise CfnError("NameAlreadyExistsException", f"StackSet {name} already exists")
    body = _template_body(self, params)
    sets.validate_template(body)
    model = params.get("PermissionModel", "SELF_MANAGED")
    if model == "SERVICE_MANAGED":
        sets.check_caller(self.current_account, self.region, params.get("CallAs", "SELF"))
    auto = params.get("AutoDeployment", {})
    stack_set = sets.StackSet(
        name, f"{name}:{uuid.uuid4()}", _owner(self, params), self.region, body, _set_parameters(params, {}),
        params.get("Capabilities", []), model,
        {k: _flag(v) for k, v in auto.items()} if model == "SERVICE_MANAGED" else {},
        params.get("Description"), params.get("Tags", []))
    with registry.lock:
        registry.items[stack_set.stack_set_id] = stack_set
    return ActionResult({"StackSetId": stack_set.stack_set_id})


@action
def describe_stack_set(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    return ActionResult({"StackSet": _sets(self, params).get(params.get("StackSetName", "")).to_api()})


@action
def list_stack_sets(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    registry = _sets(self, params)
    with registry.lock:
        items = [s for s in registry.items.values() if params.get("Status") in (None, s.status)]
    return ActionResult({"Summaries": [{"StackSetName": s.name, "StackSetId": s.stack_set_id, "Status": s.status,
                                        "PermissionModel": s.permission_model, "AutoDeployment": s.auto_deployment,
                                        "DriftStatus": "NOT_CHECKED"} for s in items]})


def _targets(self: CloudFormationResponse, stack_set: sets.StackSet, params: dict[str, Any]
             ) -> list[tuple[str, str, str]]:
    """(account, Region, OU) of a request: DeploymentTargets (service-managed: OUs required) or
    Accounts (self-managed), crossed with Regions."""
    regions = params.get("Regions", [])
    if not regions:
        raise validation("Regions must be specified")
    if stack_set.permission_model == "SERVICE_MANAGED":
        if params.get("Accounts") or not params.get("DeploymentTargets"):
            raise validation("StackSets with SERVICE_MANAGED permission model can only have "
                             "OrganizationalUnit as target")
        accounts = sets.resolve_targets(self.current_account, self.region, params["DeploymentTargets"])
    else:
        accounts = [(a, "") for a in params.get("Accounts") or params.get("DeploymentTargets", {}).get("Accounts", [])]
    return [(a, r, ou) for r in regions for a, ou in accounts]


def _preferences(params: dict[str, Any]) -> dict[str, Any]:
    prefs = dict(params.get("OperationPreferences", {}))
    for key in ("FailureToleranceCount", "FailureTolerancePercentage", "MaxConcurrentCount",
                "MaxConcurrentPercentage"):
        if key in prefs:
            prefs[key] = int(prefs[key])
    return prefs


@action
def create_stack_instances(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_CreateStackInstances (ParameterOverrides are not supported by the emulator)."""
    if params.get("ParameterOverrides"):
        raise validation("ParameterOverrides are not supported by the emulator")
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    deployment = params.get("DeploymentTargets", {})
    if deployment.get("Accounts") and (deployment.get("AccountFilterType") or "UNION") == "UNION":
        # DeploymentTargets, AccountFilterType: UNION is the default, and "UNION is not supported for
        # CreateStackInstances operations" (the error text is ours).
        raise validation("AccountFilterType UNION (the default when Accounts are given) is not supported for "
                         "CreateStackInstances: use INTERSECTION or DIFFERENCE")
    targets = _targets(self, stack_set, params)
    op = sets.start(stack_set, "CREATE", targets, _preferences(params), params.get("OperationId"))
    for ou in params.get("DeploymentTargets", {}).get("OrganizationalUnitIds", []):
        stack_set.ou_regions.setdefault(ou, set()).update(params["Regions"])
    return ActionResult({"OperationId": op})


@action
def delete_stack_instances(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_DeleteStackInstances: RetainStacks is required."""
    if "RetainStacks" not in params:
        raise validation("1 validation error detected: Value null at 'retainStacks' failed to satisfy "
                         "constraint: Member must not be null")
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    targets = [t for t in _targets(self, stack_set, params) if (t[0], t[1]) in stack_set.instances]
    op = sets.start(stack_set, "DELETE", targets, _preferences(params), params.get("OperationId"),
                    _flag(params["RetainStacks"]))
    for ou in params.get("DeploymentTargets", {}).get("OrganizationalUnitIds", []):
        left = stack_set.ou_regions.get(ou, set()) - set(params["Regions"])
        if left:
            stack_set.ou_regions[ou] = left
        else:
            stack_set.ou_regions.pop(ou, None)
    return ActionResult({"OperationId": op})


@action
def update_stack_set(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    """API_UpdateStackSet: the new template and parameters go to every instance (or to the given
    DeploymentTargets/Accounts and Regions)."""
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    body = _template_body(self, params, stack_set.template_body)
    sets.validate_template(body)
    if stack_set.busy():
        raise CfnError("OperationInProgressException",
                       f"Another Operation on StackSet {stack_set.stack_set_id} is in progress")
    if params.get("OperationId") and any(o.operation_id == params["OperationId"] for o in stack_set.operations):
        raise CfnError("OperationIdAlreadyExistsException", f"Operation {params['OperationId']} already exists")
    stack_set.template_body = body
    stack_set.parameters = _set_parameters(params, stack_set.parameters)
    if params.get("Capabilities") is not None:
        stack_set.capabilities = params["Capabilities"]
    if params.get("Description"):
        stack_set.description = params["Description"]
    if params.get("AutoDeployment"):
        stack_set.auto_deployment = {k: _flag(v) for k, v in params["AutoDeployment"].items()}
    # StackInstanceSummary, Status INOPERABLE: "Stacks in this state are excluded from further
    # UpdateStackSet operations": not updated, and they stay INOPERABLE.
    operable = [i for i in stack_set.instances.values() if i.status != "INOPERABLE"]
    if params.get("Regions"):
        wanted = {(a, r) for a, r, _ in _targets(self, stack_set, params)}
        targets = [(i.account, i.region, i.ou_id) for i in operable if (i.account, i.region) in wanted]
    else:
        targets = [(i.account, i.region, i.ou_id) for i in operable]
    for inst in operable:
        inst.status = "OUTDATED"
    op = sets.start(stack_set, "UPDATE", targets, _preferences(params), params.get("OperationId"))
    return ActionResult({"OperationId": op})


@action
def delete_stack_set(self: CloudFormationResponse, params: dict[str, Any]) -> EmptyResult:
    """API_DeleteStackSet: "Delete all stack instances from the stack set before deleting"."""
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    if stack_set.instances:
        raise CfnError("StackSetNotEmptyException", f"StackSet {stack_set.name} is not empty")
    if stack_set.busy():
        raise CfnError("OperationInProgressException",
                       f"Another Operation on StackSet {stack_set.stack_set_id} is in progress")
    stack_set.status = "DELETED"
    return EmptyResult()


@action
def list_stack_instances(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    rows = [i.summary(stack_set) for i in list(stack_set.instances.values())
            if params.get("StackInstanceAccount") in (None, i.account)
            and params.get("StackInstanceRegion") in (None, i.region)]
    return ActionResult({"Summaries": rows})


@action
def describe_stack_instance(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    inst = stack_set.instances.get((params.get("StackInstanceAccount"), params.get("StackInstanceRegion")))
    if inst is None:
        raise CfnError("StackInstanceNotFoundException",
                       f"Stack instance {params.get('StackInstanceAccount')} {params.get('StackInstanceRegion')} "
                       f"not found in StackSet {stack_set.name}")
    out = inst.summary(stack_set)
    out["ParameterOverrides"] = []
    return ActionResult({"StackInstance": out})


def _operation(stack_set: sets.StackSet, operation_id: str) -> sets.SetOperation:
    for op in stack_set.operations:
        if op.operation_id == operation_id:
            return op
    raise CfnError("OperationNotFoundException", f"Operation {operation_id} not found")


@action
def describe_stack_set_operation(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    op = _operation(stack_set, params.get("OperationId", ""))
    out = op.summary()
    out.update(StackSetId=stack_set.stack_set_id, RetainStacks=op.retain_stacks)
    return ActionResult({"StackSetOperation": out})


@action
def list_stack_set_operations(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    return ActionResult({"Summaries": [op.summary() for op in reversed(stack_set.operations)]})


@action
def list_stack_set_operation_results(self: CloudFormationResponse, params: dict[str, Any]) -> ActionResult:
    stack_set = _sets(self, params).get(params.get("StackSetName", ""))
    op = _operation(stack_set, params.get("OperationId", ""))
    return ActionResult({"Summaries": [r.to_api() for r in op.results]})


HANDLERS = (create_stack, update_stack, delete_stack, describe_stacks, describe_stack_events,
            describe_stack_resources, describe_stack_resource, list_stack_resources, list_stacks,
            get_template, get_template_summary, validate_template, list_exports, create_change_set,
            describe_change_set, list_change_sets, delete_change_set, execute_change_set, create_stack_set,
            describe_stack_set, list_stack_sets, create_stack_instances, delete_stack_instances,
            update_stack_set, delete_stack_set, list_stack_instances, describe_stack_instance,
            describe_stack_set_operation, list_stack_set_operations, list_stack_set_operation_results)


# --------------------------------------------------------------------------------------------------
# Control endpoints: custom-resource answers and settings
# --------------------------------------------------------------------------------------------------


def control(method: str, path: str, raw_body: bytes) -> tuple[int, Any] | None:
    if path.startswith(RESPONSE_PATH) and method == "PUT":
        # An answer to a custom resource request: the body is kept as sent and checked by the
        # waiting engine (a late or second answer is accepted and ignored, as S3 would store it).
        accepted = ANSWERS.deliver(path[len(RESPONSE_PATH):], raw_body)
        return 200, {"accepted": accepted}
    if path == "/_emulator/cloudformation/settings":
        if method == "PUT":
            body = json.loads(raw_body or b"{}")
            timeout = body.get("custom_resource_timeout")
            ANSWERS.timeout_override = None if timeout is None else float(timeout)
        return 200, {"custom_resource_timeout": ANSWERS.timeout_override}
    return None


def install() -> None:
    # moto reshapes some of its own answers (its Tags and Parameters are dicts); ours are already in
    # the API's shape.
    CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {}
    for fn in HANDLERS:
        setattr(CloudFormationResponse, fn.__name__, fn)
