"""Shared helpers of the template checks: load the templates, find their functions and crates."""

from __future__ import annotations

import pathlib
import re
from functools import lru_cache

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CFN = ROOT / "cfn"
CRATES = ROOT / "crates"
TEMPLATES = sorted(CFN.glob("*.yaml"))
QUERIES = CFN / "queries"

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
}


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, turned into their long form."""


def _construct(loader: _Loader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else ("Fn::" + suffix if suffix != "Condition" else "Condition")
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


@lru_cache(maxsize=None)
def load(path: pathlib.Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


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
