"""Shared helpers of the template checks: load the templates, find their functions and crates."""

from __future__ import annotations

import json
import pathlib
import re
import sys
import tempfile
from functools import lru_cache


ROOT = pathlib.Path(__file__).resolve().parents[2]
CFN = ROOT / "cfn"
CRATES = ROOT / "crates"
QUERIES = CFN / "queries"
sys.path.insert(0, str(CFN))
sys.path.insert(0, str(CFN.parent / "emulator"))
import render  # noqa: E402
from emu_cfn_template import load_template_text  # noqa: E402

# The templates as they are deployed (their named queries' SQL included from cfn/queries): what
# cfn-lint and checkov read. cfn/*.yaml themselves are the sources.
RENDERED = pathlib.Path(tempfile.mkdtemp(prefix="patch-compliance-cfn-"))
render.write(RENDERED)
TEMPLATES = sorted(RENDERED.glob("*.yaml"))

# The action a function's role may hold beyond the ones its code calls: Lambda itself needs them to
# write the function's logs and to hand a failed asynchronous event to its dead-letter queue. Each
# must be scoped to that function's own log group or queue (test_role_resources_are_scoped).
RUNTIME_ACTIONS = {
    "logs:CreateLogStream": "Lambda writes the function's logs (its own log group only)",
    "logs:PutLogEvents": "Lambda writes the function's logs (its own log group only)",
    "sqs:SendMessage": "Lambda sends failed asynchronous events to the function's dead-letter queue",
}

# Actions that may be granted on Resource "*", and why.
STAR_RESOURCE_ACTIONS = {
    "ssm:DescribeInstanceInformation": "the action supports no resource-level permissions",
    "ssm:ListResourceDataSync": "the action supports no resource-level permissions",
    # AWS Config's recorder and delivery channel actions: the recorder's ARN ends in an id AWS
    # assigns at creation, and the Describe/List actions take no resource.
    **{f"config:{a}": "the recorder's ARN holds an id known only after creation; Describe takes no resource"
       for a in ("DescribeConfigurationRecorders", "DescribeConfigurationRecorderStatus",
                 "DescribeDeliveryChannels", "PutConfigurationRecorder", "PutDeliveryChannel",
                 "StartConfigurationRecorder", "StopConfigurationRecorder", "DeleteDeliveryChannel",
                 "DeleteConfigurationRecorder")},
}


@lru_cache(maxsize=None)
def load(path: pathlib.Path) -> dict:
    """A template as deployed: the source's includes rendered (a rendered file has none)."""
    # The emulator's CloudFormation YAML reading (short forms as long forms, dates as strings).
    return load_template_text(render.expand(path))


def resources(template: dict, kind: str | None = None) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if kind is None or v["Type"] == kind}


def ref_target(value) -> str | None:
    """The logical id a Ref or GetAtt points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def sub_text(value) -> str | None:
    """The template string of an Fn::Sub (either form), or a plain string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def walk(value):
    """Every node of a structure, depth first."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def function_crates() -> list[str]:
    """Crates that build a Lambda function: a binary on the Lambda runtime (fleet-sim is a tool)."""
    return sorted(p.parent.parent.name for p in CRATES.glob("*/src/main.rs")
                  if re.search(r"^lambda_runtime\b", (p.parent.parent / "Cargo.toml").read_text(), re.M))


def crate_of(function: dict) -> str:
    key = sub_text(function["Properties"]["Code"]["S3Key"])
    match = re.fullmatch(r"patch-compliance/\$\{ArtifactVersion\}/([a-z0-9-]+)\.zip", key or "")
    assert match, f"S3Key {key!r} is not patch-compliance/${{ArtifactVersion}}/<function>.zip"
    return match.group(1)


def functions() -> list[tuple[pathlib.Path, str, str, dict]]:
    """(template, logical id, crate, resource) of every function the templates deploy."""
    found = []
    for path in TEMPLATES:
        for name, res in resources(load(path), "AWS::Lambda::Function").items():
            found.append((path, name, crate_of(res), res))
    return found


@lru_cache(maxsize=None)
def header(crate: str) -> str:
    """The `//!` doc header of a crate's lib.rs."""
    lines = (CRATES / crate / "src" / "lib.rs").read_text().splitlines()
    return "\n".join(line[3:].removeprefix(" ") for line in lines if line.startswith("//!"))


def section(crate: str, title: str) -> str:
    """The text of a `## <title>` section of the header ('' when absent)."""
    match = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", header(crate), re.M | re.S)
    return match.group(1) if match else ""


def header_actions(crate: str) -> set[str]:
    """IAM actions of the header's `## IAM actions` section: `service:Action` tokens, and bare
    `Action` tokens that continue a list started by a `service:` token (`quicksight:A`, `B`)."""
    text = section(crate, "IAM actions")
    actions: set[str] = set()
    service = None
    for token in re.findall(r"`([^`]+)`", text):
        if token.startswith("arn:") or "/" in token or "$" in token:
            continue
        if token.startswith("aws:"):  # a global condition key (`aws:TagKeys`), not an action
            service = None
        elif m := re.fullmatch(r"([a-z0-9-]+):([A-Z][A-Za-z0-9]+)", token):
            service = m.group(1)
            actions.add(token)
        elif re.fullmatch(r"[A-Z][A-Za-z0-9]+", token) and service:
            actions.add(f"{service}:{token}")
    return actions


def header_properties(crate: str) -> set[str]:
    """Custom resource property names of the header's `## Properties` section (list items that
    start with backticked names), or the empty set for a custom resource without properties."""
    text = section(crate, "Properties")
    names: set[str] = set()
    for line in text.splitlines():
        m = re.match(r"^(?:- )?((?:`[A-Za-z]+`(?:, )?)+)", line)
        if m:
            names |= set(re.findall(r"`([A-Za-z]+)`", m.group(1)))
    return names


# --------------------------------------------------------------------------------------------
# A small evaluator of CloudFormation's intrinsic functions, enough to ask "which resources exist
# with these parameters" and "what name does this resource get" without deploying. Conditions and
# values follow the documented semantics of the intrinsic function reference
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
# --------------------------------------------------------------------------------------------

NO_VALUE = object()


class Stack:
    """A template with parameter values (defaults filled in) and pseudo parameters."""

    def __init__(self, template: dict, parameters: dict | None = None, *, stack_name: str = "central",
                 account: str = "111122223333", region: str = "us-east-1",
                 stack_uuid: str = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d") -> None:
        self.template = template
        given = dict(parameters or {})
        self.parameters: dict = {}
        for name, spec in template.get("Parameters", {}).items():
            value = given.pop(name, spec.get("Default"))
            assert value is not None, f"parameter {name} has no default: give it a value"
            if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
                value = [v.strip() for v in value.split(",")] if value else [""]
            self.parameters[name] = value if isinstance(value, list) else str(value)
        assert not given, f"unknown parameters {sorted(given)}"
        self.pseudo = {
            "AWS::StackName": stack_name, "AWS::AccountId": account, "AWS::Region": region,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/{stack_uuid}",
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        cond = self.template["Resources"][logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def broken_rules(self) -> list[str]:
        """The template's Rules whose condition holds and an assertion fails: CloudFormation would
        refuse these parameters before creating anything."""
        broken = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            if not all(self.value(a["Assert"]) for a in rule["Assertions"]):
                broken.append(name)
        return broken

    def resources(self) -> dict[str, dict]:
        return {k: v for k, v in self.template["Resources"].items() if self.exists(k)}

    def value(self, node):
        """The node with every intrinsic function evaluated; Fn::GetAtt gives "<id>.<attr>"."""
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.pseudo:
                    return self.pseudo[arg]
                if arg in self.parameters:
                    return self.parameters[arg]
                return f"{arg}.Ref"
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                return ".".join(arg if isinstance(arg, list) else arg.split(".", 1))
            if key == "Fn::Equals":
                a, b = (self.value(v) for v in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(v) for v in arg)
            if key == "Fn::Or":
                return any(self.value(v) for v in arg)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(v) for v in self.value(items))
            if key == "Fn::Split":
                sep, text = arg
                return str(self.value(text)).split(sep)
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))

                def substitute(m: re.Match) -> str:
                    name = m.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name in extra:
                        return str(extra[name])
                    if "." in name and name.split(".")[0] in self.template["Resources"]:
                        return name
                    return str(self.value({"Ref": name}))

                return re.sub(r"\$\{([^}]+)\}", substitute, text)
            if key == "Fn::Contains":  # Rules only: [list, value]
                items, value = arg
                return str(self.value(value)) in [str(v) for v in self.value(items)]
            if key == "Fn::FindInMap":
                name, top, second = (self.value(v) for v in arg)
                return self.template["Mappings"][name][top][second]
        out = {}
        for k, v in node.items():
            v = self.value(v)
            if v is not NO_VALUE:
                out[k] = v
        return out


# --------------------------------------------------------------------------------------------
# Physical names and ARNs: what a deployed stack's Ref and Fn::GetAtt would return, so that a
# policy's ARNs are concrete (the IAM lint, iam_lint.py, checks them against the Service
# Authorization Reference's ARN formats). The values follow each resource type's "Return values"
# section of the CloudFormation template reference; a resource without a name property gets
# CloudFormation's generated "<stack>-<logical id>-<suffix>" (lower case where the type needs it).
# --------------------------------------------------------------------------------------------


def if_conditions(node) -> set[str]:
    """The condition names of every Fn::If in a node."""
    return {n["Fn::If"][0] for n in walk(node) if isinstance(n, dict) and list(n) == ["Fn::If"]}


class PhysicalStack(Stack):
    """A Stack whose Ref and Fn::GetAtt of resources give representative physical ids and ARNs
    instead of "<id>.Ref" and "<id>.<attr>". A type or attribute it does not know is an error:
    add it to `_physical`. `conditions` forces the value of named conditions (the IAM lint takes
    each Fn::If branch in turn)."""

    KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"

    def __init__(self, template: dict, parameters: dict | None = None, *,
                 conditions: dict[str, bool] | None = None, **kwargs) -> None:
        super().__init__(template, parameters, **kwargs)
        self._conditions.update(conditions or {})

    def _name(self, logical_id: str, prop: str | None, *, lower: bool = False, sep: str = "-") -> str:
        props = self.template["Resources"][logical_id].get("Properties", {})
        if prop:
            value = props
            for part in prop.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return str(self.value(value))
        name = sep.join([self.pseudo["AWS::StackName"], logical_id, "1A2B3C4D5E6F"])
        return name.lower() if lower else name

    def _physical(self, logical_id: str, attribute: str | None) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        p, region, account = (self.pseudo[k] for k in ("AWS::Partition", "AWS::Region", "AWS::AccountId"))
        arn = f"arn:{p}:{{}}:{region}:{account}:{{}}".format
        if kind == "AWS::S3::Bucket":
            name = self._name(logical_id, "BucketName", lower=True)
            values = {None: name, "Arn": f"arn:{p}:s3:::{name}"}
        elif kind == "AWS::KMS::Key":
            values = {None: self.KEY_ID, "KeyId": self.KEY_ID, "Arn": arn("kms", f"key/{self.KEY_ID}")}
        elif kind == "AWS::SNS::Topic":
            name = self._name(logical_id, "TopicName")
            values = {None: arn("sns", name), "TopicArn": arn("sns", name), "TopicName": name}
        elif kind == "AWS::SQS::Queue":
            name = self._name(logical_id, "QueueName")
            url = f"https://sqs.{region}.{self.pseudo['AWS::URLSuffix']}/{account}/{name}"
            values = {None: url, "QueueUrl": url, "QueueName": name, "Arn": arn("sqs", name)}
        elif kind == "AWS::IAM::Role":
            name = self._name(logical_id, "RoleName")
            path = self.template["Resources"][logical_id].get("Properties", {}).get("Path", "/")
            values = {None: name, "Arn": f"arn:{p}:iam::{account}:role{path}{name}", "RoleId": "AROA1234567890EXAMPLE"}
        elif kind == "AWS::IAM::ManagedPolicy":
            name = self._name(logical_id, "ManagedPolicyName")
            values = {None: f"arn:{p}:iam::{account}:policy/{name}", "PolicyArn": f"arn:{p}:iam::{account}:policy/{name}"}
        elif kind == "AWS::Lambda::Function":
            name = self._name(logical_id, "FunctionName")
            values = {None: name, "Arn": arn("lambda", f"function:{name}")}
        elif kind == "AWS::Logs::LogGroup":
            name = self._name(logical_id, "LogGroupName")
            values = {None: name, "Arn": arn("logs", f"log-group:{name}:*")}
        elif kind == "AWS::Events::Rule":
            name = self._name(logical_id, "Name")
            values = {None: name, "Arn": arn("events", f"rule/{name}")}
        elif kind in ("AWS::Athena::WorkGroup", "AWS::Glue::Crawler"):
            values = {None: self._name(logical_id, "Name")}
        elif kind == "AWS::Glue::Database":
            values = {None: self._name(logical_id, "DatabaseInput.Name", lower=True, sep="_")}
        elif kind == "AWS::Glue::Table":
            values = {None: self._name(logical_id, "TableInput.Name", lower=True, sep="_")}
        elif kind == "AWS::CloudTrail::EventDataStore":
            values = {None: arn("cloudtrail", f"eventdatastore/{self.KEY_ID}"),
                      "EventDataStoreArn": arn("cloudtrail", f"eventdatastore/{self.KEY_ID}")}
        else:
            raise KeyError(f"PhysicalStack knows no physical id of {kind} ({logical_id}): add it")
        if attribute not in values:
            raise KeyError(f"PhysicalStack knows no {attribute or 'Ref'} of {kind} ({logical_id}): add it")
        return values[attribute]

    def value(self, node):
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            resources = self.template["Resources"]
            if key == "Ref" and arg in resources:
                return self._physical(arg, None)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._physical(logical_id, attribute)
            if key == "Fn::ToJsonString":
                return json.dumps(self.value(arg), separators=(",", ":"))
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def attribute(m: re.Match) -> str:
                    name = m.group(1)
                    logical_id, _, attr = name.partition(".")
                    if name in extra or not attr or logical_id not in resources:
                        return m.group(0)
                    return self._physical(logical_id, attr)

                text = re.sub(r"\$\{([^}!][^}]*)\}", attribute, text)
                return super().value({"Fn::Sub": text if isinstance(arg, str) else [text, arg[1]]})
        return super().value(node)
