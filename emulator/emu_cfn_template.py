"""CloudFormation templates for the emulator's engine (``emu_cloudformation``): parsing, parameters,
rules, conditions and the intrinsic functions.

Why this module exists
----------------------
moto's own template code cannot evaluate our templates (/tmp/notes/moto_cfn_gaps.md, section 3:
``!Condition`` misparsed, ``AWS::NoValue`` kept as null in lists, CommaDelimitedList defaults not
split, ``Fn::If`` in DeletionPolicy ignored, ``Rules``/AllowedValues/AllowedPattern ignored). This
module evaluates a template the way the CloudFormation User Guide's "Template reference" describes
it; every function cites its page. Values that are not yet known (the attributes of a resource a
change set would replace) evaluate to ``UNKNOWN`` so a change set can say "Dynamic"/"Conditional".
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import regex
import yaml


class TemplateError(Exception):
    """A ValidationError at the API call ("Template format error: ..." and parameter errors)."""


class ResolveError(Exception):
    """An intrinsic that cannot be evaluated while the stack runs (fails the resource)."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


class _Unknown:
    def __repr__(self) -> str:
        return "<known after the update>"


NO_VALUE = _NoValue()
UNKNOWN = _Unknown()

PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName",
                     "AWS::StackId", "AWS::URLSuffix", "AWS::NotificationARNs", "AWS::NoValue")
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


# --------------------------------------------------------------------------------------------------
# YAML: the short forms of "Intrinsic function reference" (each !Tag is its Fn:: long form;
# !Ref and !Condition are the keys Ref and Condition; !GetAtt "A.B" is ["A", "B"]).
# --------------------------------------------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """CloudFormation's YAML: SafeLoader with the short forms as their long forms (below), and without
    YAML 1.1 timestamps: "2012-10-17" stays the string CloudFormation reads. The emulator's modules
    that read a template load it with ``load_template_text``."""


CfnLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


# Functions only the AWS::LanguageExtensions transform defines ("AWS::LanguageExtensions transform",
# transform-aws-languageextensions.html, Remarks: "Short-form YAML syntax isn't supported within a
# template for intrinsic functions that are only available in the AWS::LanguageExtensions transform.
# Use explicit references to these functions. For example, use Fn::Length instead of !Length.").
LANGUAGE_EXTENSION_FUNCTIONS = ("Fn::ForEach", "Fn::Length", "Fn::ToJsonString")


def _tag_constructor(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if f"Fn::{suffix}" in LANGUAGE_EXTENSION_FUNCTIONS:
        # The remark quoted above: no short form, with or without the transform (wording ours).
        raise TemplateError(f"Template format error: YAML short form !{suffix} is not supported: functions of "
                            f"the AWS::LanguageExtensions transform take their full name (Fn::{suffix})")
    value = _construct(loader, node)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template_text(text: str) -> Any:
    """A YAML (or JSON) template as CloudFormation reads it (``CfnLoader``), without checking it is
    one. yaml.YAMLError if it is not YAML; TemplateError for a short form CloudFormation refuses."""
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def parse_template(body: str) -> dict[str, Any]:
    """JSON or YAML ("Template formats"); the errors AWS answers as "Template format error"."""
    try:
        doc = json.loads(body)
    except ValueError:
        try:
            doc = load_template_text(body)
        except yaml.YAMLError as e:
            raise TemplateError(f"Template format error: YAML not well-formed. {e}") from None
    if not isinstance(doc, dict):
        raise TemplateError("Template format error: JSON not well-formed.")
    _check_language_extensions(doc)
    resources = doc.get("Resources")
    if not isinstance(resources, dict) or not resources:
        # "The Resources section is required" ("CloudFormation template sections", template-anatomy.html).
        raise TemplateError("Template format error: At least one Resources member must be defined.")
    for logical_id, res in resources.items():
        if not isinstance(res, dict) or not isinstance(res.get("Type"), str):
            raise TemplateError(f"Template format error: [/Resources/{logical_id}] Every Resources "
                                "object must contain a Type member.")
    return doc


def _check_language_extensions(doc: dict[str, Any]) -> None:
    """Fn::ForEach is not implemented: it fails here, by name, rather than as a malformed resource.
    Fn::Length and Fn::ToJsonString need the transform ("You must use the AWS::LanguageExtensions
    transform to use the Fn::Length intrinsic function", Fn::Length; likewise Fn::ToJsonString). The
    error wordings are ours; AWS does not document them."""
    with_transform = LANGUAGE_EXTENSIONS in transforms_of(doc)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and key.startswith("Fn::ForEach"):
                    raise TemplateError("Template format error: Fn::ForEach is not supported by the emulator")
                if key in LANGUAGE_EXTENSION_FUNCTIONS and not with_transform:
                    raise TemplateError(f"Template format error: {key} is only available with the "
                                        f"{LANGUAGE_EXTENSIONS} transform (Transform: {LANGUAGE_EXTENSIONS})")
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(doc)


def transforms_of(template: dict[str, Any]) -> list[str]:
    t = template.get("Transform")
    if t is None:
        return []
    return [t] if isinstance(t, str) else list(t)


# --------------------------------------------------------------------------------------------------
# Parameters ("Parameters" section, parameters-section-structure.html)
# --------------------------------------------------------------------------------------------------


@dataclass
class ParameterSpec:
    key: str
    type: str
    default: str | None
    no_echo: bool
    description: str
    allowed_values: list[str] | None
    allowed_pattern: str | None
    min_length: int | None
    max_length: int | None
    min_value: float | None
    max_value: float | None
    constraint_description: str | None

    @property
    def is_list(self) -> bool:
        return self.type == "CommaDelimitedList" or self.type.startswith("List<")


def scalar_str(value: Any) -> str:
    """The string CloudFormation sees for a scalar: parameters, Equals and custom-resource
    properties are strings ("true", "90"); booleans are lower case as in JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parameter_specs(template: dict[str, Any]) -> dict[str, ParameterSpec]:
    specs = {}
    for key, p in (template.get("Parameters") or {}).items():
        if not isinstance(p, dict) or "Type" not in p:
            raise TemplateError(f"Template format error: Every Parameters object must contain a "
                                f"Type member. ({key})")

        def num(name: str) -> float | None:
            return float(p[name]) if name in p else None

        specs[key] = ParameterSpec(
            key=key, type=p["Type"],
            default=None if "Default" not in p else scalar_str(p["Default"]),
            no_echo=scalar_str(p.get("NoEcho", "false")).lower() == "true",
            description=p.get("Description", ""),
            allowed_values=[scalar_str(v) for v in p["AllowedValues"]] if "AllowedValues" in p else None,
            allowed_pattern=p.get("AllowedPattern"),
            min_length=int(p["MinLength"]) if "MinLength" in p else None,
            max_length=int(p["MaxLength"]) if "MaxLength" in p else None,
            min_value=num("MinValue"), max_value=num("MaxValue"),
            constraint_description=p.get("ConstraintDescription"))
    return specs


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _check_one(spec: ParameterSpec, value: str) -> None:
    """The checks of one value (one member of a list type). The ConstraintDescription replaces the
    constraint in the message (Parameters section, "ConstraintDescription", whose documented text is
    "Malformed input-Parameter X must match pattern P"); the texts below are AWS's API texts as
    observed, undocumented."""

    def fail(constraint: str) -> None:
        if spec.constraint_description:
            raise TemplateError(f"Parameter '{spec.key}' failed to satisfy constraint: "
                                f"{spec.constraint_description}")
        raise TemplateError(f"Parameter '{spec.key}' {constraint}")

    numeric = spec.type in ("Number", "List<Number>")
    if numeric and not _is_number(value):
        fail("must be a number")
    if spec.allowed_values is not None and value not in spec.allowed_values:
        fail("must be one of AllowedValues")
    # AllowedPattern is a Java regular expression matched against the whole value: `regex`
    # understands Java's \p{L} classes, `re` does not.
    if spec.allowed_pattern is not None and not regex.fullmatch(spec.allowed_pattern, value):
        fail(f"must match pattern {spec.allowed_pattern}")
    if spec.min_length is not None and len(value) < spec.min_length:
        fail(f"must contain at least {spec.min_length} characters")
    if spec.max_length is not None and len(value) > spec.max_length:
        fail(f"must contain at most {spec.max_length} characters")
    if numeric and spec.min_value is not None and float(value) < spec.min_value:
        fail(f"must be a number not less than {scalar_str(spec.min_value)}")
    if numeric and spec.max_value is not None and float(value) > spec.max_value:
        fail(f"must be a number not greater than {scalar_str(spec.max_value)}")


def resolve_parameters(specs: dict[str, ParameterSpec], given: dict[str, str | None],
                       previous: dict[str, str] | None) -> dict[str, str]:
    """Raw string values of every parameter (``None`` in ``given`` = UsePreviousValue), checked.
    "Parameters: [X] must have values" / "Parameters: [X] do not exist in the template" are AWS's
    CreateStack/UpdateStack ValidationError texts."""
    unknown = [k for k in given if k not in specs]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    raw: dict[str, str] = {}
    missing = []
    for key, spec in specs.items():
        if key in given and given[key] is None:
            if previous is None or key not in previous:
                raise TemplateError(f"Invalid input for parameter key {key}. Cannot specify "
                                    "usePreviousValue as true for a parameter key not in the "
                                    "previous template")
            raw[key] = previous[key]
        elif key in given:
            raw[key] = given[key]  # type: ignore[assignment]
        elif spec.default is not None:
            raw[key] = spec.default
        else:
            missing.append(key)
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    for key, spec in specs.items():
        for member in typed_parameter(spec, raw[key]) if spec.is_list else [raw[key]]:
            _check_one(spec, member)
    return raw


def split_list(value: str, trim: bool = False) -> list[str]:
    """CommaDelimitedList and List<...>: split at each comma. CommaDelimitedList members are trimmed
    ("Parameters" section, parameters-section-structure.html, CommaDelimitedList: "each member
    string is space trimmed"); the page says nothing of the kind for the other list types."""
    return [m.strip() for m in value.split(",")] if trim else value.split(",")


def typed_parameter(spec: ParameterSpec, raw: str) -> Any:
    return split_list(raw, spec.type == "CommaDelimitedList") if spec.is_list else raw


# --------------------------------------------------------------------------------------------------
# Evaluation context
# --------------------------------------------------------------------------------------------------


@dataclass
class Context:
    """Everything a template's intrinsics can read. ``resource_ref`` and ``resource_att`` give a
    resource's Ref and GetAtt values (raising ResolveError for a resource not yet created)."""

    template: dict[str, Any]
    parameters: dict[str, Any]  # typed: str, or list[str] for list types
    pseudo: dict[str, Any]
    resource_ref: Callable[[str], Any]
    resource_att: Callable[[str, str], Any]
    import_value: Callable[[str], Any]
    azs: Callable[[str], list[str]]
    condition_cache: dict[str, bool] = field(default_factory=dict)

    @property
    def language_extensions(self) -> bool:
        return LANGUAGE_EXTENSIONS in transforms_of(self.template)

    def resource_names(self) -> set[str]:
        return set(self.template.get("Resources", {}))

    def condition(self, name: str) -> bool:
        if name not in self.condition_cache:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"Template format error: Unresolved dependencies [{name}]. "
                                    "Cannot reference resources in the Conditions block of the template")
            self.condition_cache[name] = as_bool(evaluate(conditions[name], self))
        return self.condition_cache[name]

    def resource_enabled(self, logical_id: str) -> bool:
        cond = self.template["Resources"][logical_id].get("Condition")
        return True if cond is None else self.condition(cond)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TemplateError(f"Template error: a condition evaluated to {value!r}, not a boolean")


def _intrinsic(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key in ("Ref", "Condition") or key.startswith("Fn::"):
            return key, arg
    return None


def evaluate(value: Any, ctx: Context) -> Any:
    """A template value with every intrinsic evaluated; ``AWS::NoValue`` removes the key or list
    item that holds it ("Get AWS values using pseudo parameters", AWS::NoValue)."""
    fn = _intrinsic(value)
    if fn is not None:
        return _FUNCTIONS[fn[0]](fn[1], ctx) if fn[0] in _FUNCTIONS else _unsupported(fn[0])
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            r = evaluate(v, ctx)
            if r is not NO_VALUE:
                out[k] = r
        return out
    if isinstance(value, list):
        return [r for r in (evaluate(v, ctx) for v in value) if r is not NO_VALUE]
    return value


def _unsupported(name: str) -> Any:
    raise TemplateError(f"Template format error: Unrecognized function {name} (not supported by "
                        "the emulator)")


def _ref(arg: Any, ctx: Context) -> Any:
    # "Ref": a parameter's value, a resource's physical id (its "Return values"), a pseudo parameter.
    if arg == "AWS::NoValue":
        return NO_VALUE
    if arg in ctx.pseudo:
        return ctx.pseudo[arg]
    if arg in ctx.parameters:
        return ctx.parameters[arg]
    if arg in ctx.resource_names():
        return ctx.resource_ref(arg)
    raise TemplateError(f"Template format error: Unresolved resource dependencies [{arg}] in the "
                        "Resources block of the template")


def _get_att(arg: Any, ctx: Context) -> Any:
    # "Fn::GetAtt": [logicalName, attributeName]; the attribute may hold dots (Compliance.Type).
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    name, attribute = arg[0], evaluate(arg[1], ctx)
    if name not in ctx.resource_names():
        raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {name}")
    return ctx.resource_att(name, attribute)


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _sub(arg: Any, ctx: Context) -> Any:
    """"Fn::Sub": ``${Name}`` (parameter, resource Ref, pseudo parameter or a variable of the
    second form), ``${Res.Attr}`` (GetAtt), ``${!Literal}`` (the literal ``${Literal}``)."""
    if isinstance(arg, list):
        text, variables = arg[0], {k: evaluate(v, ctx) for k, v in (arg[1] or {}).items()}
    else:
        text, variables = arg, {}
    unknown = False

    def replace(m: re.Match[str]) -> str:
        nonlocal unknown
        name = m.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            value = variables[name]
        elif "." in name and not name.startswith("AWS::"):
            res, att = name.split(".", 1)
            value = _get_att([res, att], ctx)
        else:
            value = _ref(name, ctx)
        if value is UNKNOWN:
            unknown = True
            return ""
        if isinstance(value, list):
            raise TemplateError(f"Template error: variable {name} in Fn::Sub expression does not "
                                "resolve to a string")
        return scalar_str(value)

    out = _SUB_VAR.sub(replace, text)
    return UNKNOWN if unknown else out


def _join(arg: Any, ctx: Context) -> Any:
    delimiter, items = arg[0], evaluate(arg[1], ctx)
    if items is UNKNOWN or any(i is UNKNOWN for i in items):
        return UNKNOWN
    return delimiter.join(scalar_str(i) for i in items)


def _split(arg: Any, ctx: Context) -> Any:
    delimiter, source = arg[0], evaluate(arg[1], ctx)
    return UNKNOWN if source is UNKNOWN else source.split(delimiter)


def _select(arg: Any, ctx: Context) -> Any:
    index, items = evaluate(arg[0], ctx), evaluate(arg[1], ctx)
    if items is UNKNOWN:
        return UNKNOWN
    i = int(index)
    if not 0 <= i < len(items):
        raise ResolveError(f"Template error: Fn::Select cannot select nonexistent value at index {i}")
    return items[i]


def _if(arg: Any, ctx: Context) -> Any:
    return evaluate(arg[1] if ctx.condition(arg[0]) else arg[2], ctx)


def _equals(arg: Any, ctx: Context) -> bool:
    a, b = evaluate(arg[0], ctx), evaluate(arg[1], ctx)
    norm = (lambda v: [scalar_str(x) for x in v] if isinstance(v, list) else scalar_str(v))
    return norm(a) == norm(b)


def _find_in_map(arg: Any, ctx: Context) -> Any:
    """"Fn::FindInMap"; with AWS::LanguageExtensions a fourth item {DefaultValue: x} answers a
    missing key ("Fn::FindInMap enhancements")."""
    default = None
    if len(arg) == 4 and ctx.language_extensions:
        default = arg[3]
    name, top, second = (evaluate(a, ctx) for a in arg[:3])
    mapping = (ctx.template.get("Mappings") or {}).get(name, {})
    try:
        return mapping[top][second]
    except (KeyError, TypeError):
        if default is not None:
            return evaluate(default["DefaultValue"], ctx)
        raise ResolveError(f"Template error: Unable to get mapping for {name}::{top}::{second}") from None


def _to_json_string(arg: Any, ctx: Context) -> Any:
    # "Fn::ToJsonString" (AWS::LanguageExtensions): the JSON text of an object or list, compact.
    return json.dumps(evaluate(arg, ctx), separators=(",", ":"))


def _length(arg: Any, ctx: Context) -> Any:
    # "Fn::Length" (AWS::LanguageExtensions): the number of elements of a list.
    items = evaluate(arg, ctx)
    return UNKNOWN if items is UNKNOWN else len(items)


def _contains(arg: Any, ctx: Context) -> bool:
    # Rule function "Fn::Contains" ("Rules", rules-section-structure.html): [list, value].
    items, value = evaluate(arg[0], ctx), evaluate(arg[1], ctx)
    return scalar_str(value) in [scalar_str(i) for i in items]


def _each_member_in(arg: Any, ctx: Context) -> bool:
    members, allowed = evaluate(arg[0], ctx), evaluate(arg[1], ctx)
    return all(scalar_str(m) in [scalar_str(a) for a in allowed] for m in members)


def _each_member_equals(arg: Any, ctx: Context) -> bool:
    members, value = evaluate(arg[0], ctx), evaluate(arg[1], ctx)
    return all(scalar_str(m) == scalar_str(value) for m in members)


_FUNCTIONS: dict[str, Callable[[Any, Context], Any]] = {
    "Ref": _ref,
    "Condition": lambda arg, ctx: ctx.condition(arg),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Split": _split,
    "Fn::Select": _select,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda arg, ctx: not as_bool(evaluate(arg[0], ctx)),
    "Fn::And": lambda arg, ctx: all(as_bool(evaluate(a, ctx)) for a in arg),
    "Fn::Or": lambda arg, ctx: any(as_bool(evaluate(a, ctx)) for a in arg),
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda arg, ctx: base64.b64encode(scalar_str(evaluate(arg, ctx)).encode()).decode(),
    "Fn::GetAZs": lambda arg, ctx: ctx.azs(evaluate(arg, ctx) or ctx.pseudo["AWS::Region"]),
    "Fn::ImportValue": lambda arg, ctx: ctx.import_value(evaluate(arg, ctx)),
    "Fn::ToJsonString": _to_json_string,
    "Fn::Length": _length,
    "Fn::Contains": _contains,
    "Fn::EachMemberIn": _each_member_in,
    "Fn::EachMemberEquals": _each_member_equals,
}


# --------------------------------------------------------------------------------------------------
# Rules ("Rules", rules-section-structure.html)
# --------------------------------------------------------------------------------------------------


def check_rules(ctx: Context) -> None:
    """Each rule whose RuleCondition holds (no condition: always) must satisfy every Assert; a
    failed one fails the call with its AssertDescription ("Rules": "If you don't define a rule
    condition, the rule's assertions always take effect"; "If a parameter value is invalid,
    CloudFormation does not create or update the stack"; the message being the AssertDescription is
    as observed)."""
    for name, rule in (ctx.template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not as_bool(evaluate(rule["RuleCondition"], ctx)):
            continue
        for assertion in rule.get("Assertions", []):
            if not as_bool(evaluate(assertion["Assert"], ctx)):
                raise TemplateError(assertion.get("AssertDescription")
                                    or f"Template error: rule {name} assertion failed")


# --------------------------------------------------------------------------------------------------
# Dependencies ("DependsOn attribute": Ref, Fn::GetAtt and Fn::Sub create implicit dependencies)
# --------------------------------------------------------------------------------------------------


def references(value: Any, ctx: Context) -> set[str]:
    """Logical ids a value depends on. Only the branch of an Fn::If its condition takes counts, so a
    resource of a false condition referenced from the other branch is no dependency."""
    names = ctx.resource_names()
    found: set[str] = set()

    def walk(v: Any) -> None:
        fn = _intrinsic(v)
        if fn is not None:
            key, arg = fn
            if key == "Ref" and isinstance(arg, str) and arg in names:
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                local = set((arg[1] or {}).keys()) if isinstance(arg, list) else set()
                for m in _SUB_VAR.finditer(text):
                    var = m.group(1)
                    head = var.split(".", 1)[0]
                    if not var.startswith("!") and head not in local and head in names:
                        found.add(head)
                if isinstance(arg, list):
                    walk(arg[1])
            elif key == "Fn::If":
                walk(arg[1] if ctx.condition(arg[0]) else arg[2])
            else:
                walk(arg)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return found


def resource_dependencies(logical_id: str, ctx: Context) -> set[str]:
    res = ctx.template["Resources"][logical_id]
    deps = references(res.get("Properties", {}), ctx)
    depends_on = res.get("DependsOn", [])
    deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
    for attr in ("DeletionPolicy", "UpdateReplacePolicy"):
        deps |= references(res.get(attr), ctx)
    return deps


def topological_order(nodes: list[str], deps: dict[str, set[str]]) -> list[str]:
    """Dependencies first; template order among independent resources. A cycle is AWS's
    "Circular dependency between resources" ValidationError."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise TemplateError("Circular dependency between resources: [" +
                                ", ".join(path[path.index(n):]) + "]")
        state[n] = 1
        for d in sorted(deps.get(n, set()), key=nodes.index):
            visit(d, path + [d])
        state[n] = 2
        order.append(n)

    for n in nodes:
        visit(n, [n])
    return order


def policy_of(logical_id: str, attribute: str, ctx: Context) -> str:
    """DeletionPolicy / UpdateReplacePolicy: Delete by default ("DeletionPolicy attribute"); an
    intrinsic only under AWS::LanguageExtensions ("Intrinsic function references in DeletionPolicy
    and UpdateReplacePolicy attributes": Fn::FindInMap, Fn::If, Ref)."""
    raw = ctx.template["Resources"][logical_id].get(attribute, "Delete")
    value = evaluate(raw, ctx) if ctx.language_extensions else raw
    if value not in ("Delete", "Retain", "Snapshot", "RetainExceptOnCreate"):
        raise TemplateError(f"Template format error: [/Resources/{logical_id}/{attribute}] "
                            f"Invalid value {value!r}")
    return value
