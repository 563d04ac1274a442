"""IAM policy evaluation, as the IAM User Guide documents it: the decision for one request.

Pure logic: no moto, no HTTP. `emu_authz` gathers the request context and the policies that apply
(identity, resource, SCPs) and asks `evaluate` for the decision; every rule below cites the page it
follows. Why not a published simulator: the one complete implementation we found
(@cloud-copilot/iam-simulate, npm) is AGPL-3.0 licensed and needs Node.js beside Python, and like
every other candidate it treats an unknown condition operator or key as a silent non-match, where we
need a loud error; principalmapper does not import on Python 3.10+ and mis-evaluates negated
operators; moto's own check evaluates only StringEquals and ignores resource policies.

Pages (IAM User Guide unless noted):
- EVAL: "Policy evaluation logic" and "Determining whether a request is allowed or denied within an
  account" (reference_policies_evaluation-logic.html, ..._policy-eval-denyallow.html).
- BASICS: "How AWS enforcement code logic evaluates requests..." (..._policy-eval-basics.html):
  "If either the identity-based policy or the resource-based policy within the same account allows
  the request and the other doesn't, the request is still allowed."
- XACCT: "Cross-account policy evaluation logic" (reference_policies_evaluation-logic-cross-account.html):
  the identity policy in the requester's account and the resource policy in the resource's account
  must both allow.
- PRINCIPAL: "AWS JSON policy elements: Principal" (reference_policies_elements_principal.html):
  an account principal delegates to the account (its identity policies must also allow); a role ARN
  matches the role's sessions; `*` is everyone.
- KMS: AWS KMS Developer Guide, "Key policies in AWS KMS": "Unless the key policy explicitly allows
  it, you cannot use IAM policies to allow access to a KMS key."
- TRUST: "Roles terms and concepts" / "Granting a user permissions to switch roles": a role's trust
  policy is the resource policy of sts:AssumeRole, required like a key policy.
- SCP: AWS Organizations User Guide, "Service control policies (SCPs)" and "SCP evaluation": SCPs
  do not apply to the management account or to service-linked roles; at every level of the path from
  the root to the account, some attached SCP must allow the action, and any deny applies.
- CONDITIONS: "IAM JSON policy elements: Condition operators" (reference_policies_elements_condition_operators.html),
  "Condition operators ... IfExists", "Multivalued context keys" (ForAllValues/ForAnyValue),
  "Creating a condition with multiple context keys or values" (AND across keys and operators, OR
  across the values of one key).
- MATCH: "IAM JSON policy elements: Action / Resource": action names are case-insensitive, `*` and
  `?` wildcards; resource ARNs are case-sensitive, wildcards within each of the six ARN parts.
- VARS: "IAM policy elements: Variables and tags": `${key}` in Resource and in string and ARN
  condition values; `${*}`, `${?}`, `${$}` are the literal characters.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable


class PolicyError(ValueError):
    """A policy the emulator cannot evaluate faithfully (unknown operator or key, malformed element).

    Raised rather than treating the statement as a non-match: a silent non-match would let a Deny
    the policy author meant go unenforced."""


# ---------------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Statement:
    source: str          # where the statement comes from: "<policy kind> <name>"
    index: int           # position in its policy's Statement list
    sid: str | None
    effect: str          # "Allow" | "Deny"
    principal: Any = None          # the Principal element (resource policies), or None
    not_principal: Any = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.source}#{self.sid or self.index}"


def _tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"expected a string or a list of strings, got {value!r}")


_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                   "NotResource", "Condition"}


def parse_policy(document: Any, source: str, *, resource_policy: bool = False) -> list[Statement]:
    """The statements of a policy document (a dict or its JSON text); the same text is parsed once."""
    import json

    if isinstance(document, str):
        return list(_parse_text(document, source, resource_policy))
    return _parse(document, source, resource_policy)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str, source: str, resource_policy: bool) -> tuple[Statement, ...]:
    return tuple(_parse(text, source, resource_policy))


def _parse(document: Any, source: str, resource_policy: bool) -> list[Statement]:
    import json

    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise PolicyError(f"{source}: not JSON: {e}") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(f"{source}: a policy document needs a Statement element")
    raw = document["Statement"]
    raw = [raw] if isinstance(raw, dict) else raw
    out = []
    for i, st in enumerate(raw):
        unknown = set(st) - _STATEMENT_KEYS
        if unknown:
            raise PolicyError(f"{source} statement {i}: unknown element(s) {sorted(unknown)}")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{source} statement {i}: Effect must be Allow or Deny, got {effect!r}")
        if ("Action" in st) == ("NotAction" in st):
            raise PolicyError(f"{source} statement {i}: exactly one of Action and NotAction")
        has_principal = "Principal" in st or "NotPrincipal" in st
        if resource_policy and not has_principal:
            raise PolicyError(f"{source} statement {i}: a resource policy statement needs a Principal")
        if not resource_policy and has_principal:
            raise PolicyError(f"{source} statement {i}: an identity policy cannot have a Principal")
        # A role's trust policy has no Resource; every other policy needs one of the two.
        if ("Resource" in st) and ("NotResource" in st):
            raise PolicyError(f"{source} statement {i}: at most one of Resource and NotResource")
        conditions = st.get("Condition") or {}
        for operator, block in conditions.items():
            _check_operator(operator, source, i)
            if not isinstance(block, dict):
                raise PolicyError(f"{source} statement {i}: condition {operator} must map keys to values")
        out.append(Statement(
            source=source, index=i, sid=st.get("Sid"), effect=effect,
            principal=st.get("Principal"), not_principal=st.get("NotPrincipal"),
            actions=_tuple(st["Action"]) if "Action" in st else None,
            not_actions=_tuple(st["NotAction"]) if "NotAction" in st else None,
            resources=_tuple(st["Resource"]) if "Resource" in st else None,
            not_resources=_tuple(st["NotResource"]) if "NotResource" in st else None,
            conditions=conditions,
        ))
    return out


# ---------------------------------------------------------------------------------------------
# Matching actions, resources, principals (MATCH, PRINCIPAL)
# ---------------------------------------------------------------------------------------------

def _wildcard(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """`*` any run of characters, `?` one character, nothing else special (`[` is literal in IAM)."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    return _compiled(pattern).fullmatch(value) is not None


@functools.lru_cache(maxsize=16384)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Resource element and ArnLike: `*` alone matches everything; otherwise the six colon-separated
    parts are compared one by one (the last may itself contain colons)."""
    if pattern == "*":
        return True
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        return _wildcard(pattern, arn, ignore_case=False)
    return all(_wildcard(p, a, ignore_case=False) for p, a in zip(p_parts, a_parts))


@dataclass(frozen=True)
class Principal:
    """Who signed the request.

    kind: "root" (an account's root user or the emulator's named administrator of it), "role"
    (a role session: `arn` is the session's `arn:aws:sts::<acct>:assumed-role/<role>/<session>` and
    `role_arn` the role's), "user", "service" (`arn` is the service principal's name, such as
    `config.amazonaws.com`), "anonymous"."""

    kind: str
    arn: str
    account: str | None
    role_arn: str | None = None
    service_linked: bool = False
    # For the administrator identity: its identity policy grants everything.
    administrator: bool = False


def _principal_values(element: Any) -> dict[str, list[str]]:
    if element == "*":
        return {"AWS": ["*"]}
    if not isinstance(element, dict):
        raise PolicyError(f"Principal must be \"*\" or a map, got {element!r}")
    return {k: list(_tuple(v)) for k, v in element.items()}


def principal_match(element: Any, who: Principal) -> str | None:
    """How a Principal element names `who`: "direct" (the principal itself, its role, a service, or
    everyone), "account" (its account: delegation, PRINCIPAL), or None."""
    values = _principal_values(element)
    if who.kind == "service":
        return "direct" if who.arn in values.get("Service", []) or "*" in values.get("AWS", []) else None
    best = None
    for value in values.get("AWS", []):
        if value == "*":
            return "direct"
        if who.account and value in (who.account, f"arn:aws:iam::{who.account}:root"):
            best = best or "account"
        elif value == who.arn or (who.role_arn and value == who.role_arn):
            return "direct"
    return best


# ---------------------------------------------------------------------------------------------
# Conditions (CONDITIONS, VARS)
# ---------------------------------------------------------------------------------------------

_STRING_OPS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike"}
_NUMERIC_OPS = {"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                "NumericGreaterThan", "NumericGreaterThanEquals"}
_DATE_OPS = {"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
             "DateGreaterThanEquals"}
_ARN_OPS = {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
_OTHER_OPS = {"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "Null"}
OPERATORS = _STRING_OPS | _NUMERIC_OPS | _DATE_OPS | _ARN_OPS | _OTHER_OPS
# Negated operators are true when the key is absent (CONDITIONS: "If the policy condition requires
# that the key is not matched, such as StringNotLike or ArnNotLike, and the right key is not present,
# the condition is true").
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
            "DateNotEquals", "ArnNotEquals", "ArnNotLike", "NotIpAddress"}


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyError(f"unknown set operator {qualifier!r}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in OPERATORS or (if_exists and base == "Null"):
        raise PolicyError(f"unknown condition operator {operator!r}")
    return qualifier, base, if_exists


def _check_operator(operator: str, source: str, index: int) -> None:
    try:
        _split_operator(operator)
    except PolicyError as e:
        raise PolicyError(f"{source} statement {index}: {e}") from None


_VAR = re.compile(r"\$\{([^}]+)\}")


def substitute(value: str, context: dict[str, Any]) -> str | None:
    """Policy variables replaced from the context; None when a variable has no value (VARS: the
    statement's element then matches nothing)."""
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        inner = m.group(1)
        if inner in ("*", "?", "$"):
            return inner
        key, _, default = inner.partition(",")
        key = key.strip()
        got = context_value(context, key)
        if got is None:
            default = default.strip()
            if default.startswith("'") and default.endswith("'") and len(default) >= 2:
                return default[1:-1]
            missing = True
            return ""
        if isinstance(got, list):
            missing = True  # multivalued keys cannot be variables
            return ""
        return str(got)

    out = _VAR.sub(repl, value)
    return None if missing else out


def context_value(context: dict[str, Any], key: str) -> Any:
    """Context keys are case-insensitive (CONDITIONS: "Condition key names are not case-sensitive")."""
    if key in context:
        return context[key]
    lower = key.lower()
    for k, v in context.items():
        if k.lower() == lower:
            return v
    return None


def _date(value: str) -> datetime:
    v = str(value)
    if re.fullmatch(r"\d+", v):
        return datetime.fromtimestamp(int(v), tz=timezone.utc)
    d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _one(base: str, policy_value: str, request_value: str, context: dict[str, Any]) -> bool:
    """One policy value against one request value, for a non-negated base operator."""
    if base in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike"):
        pv = substitute(str(policy_value), context)
        if pv is None:
            return False
        if base == "StringEquals":
            return pv == request_value
        if base == "StringEqualsIgnoreCase":
            return pv.lower() == request_value.lower()
        if base == "StringLike":
            return _wildcard(pv, request_value, ignore_case=False)
        return arn_matches(pv, request_value)
    if base == "NumericEquals":
        return float(policy_value) == float(request_value)
    if base == "NumericLessThan":
        return float(request_value) < float(policy_value)
    if base == "NumericLessThanEquals":
        return float(request_value) <= float(policy_value)
    if base == "NumericGreaterThan":
        return float(request_value) > float(policy_value)
    if base == "NumericGreaterThanEquals":
        return float(request_value) >= float(policy_value)
    if base == "DateEquals":
        return _date(request_value) == _date(policy_value)
    if base == "DateLessThan":
        return _date(request_value) < _date(policy_value)
    if base == "DateLessThanEquals":
        return _date(request_value) <= _date(policy_value)
    if base == "DateGreaterThan":
        return _date(request_value) > _date(policy_value)
    if base == "DateGreaterThanEquals":
        return _date(request_value) >= _date(policy_value)
    if base == "Bool":
        return str(policy_value).lower() == str(request_value).lower()
    if base == "BinaryEquals":
        return str(policy_value) == str(request_value)
    if base == "IpAddress":
        return ipaddress.ip_address(request_value) in ipaddress.ip_network(str(policy_value), strict=False)
    raise PolicyError(f"unhandled operator {base}")


_POSITIVE = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
             "StringNotLike": "StringLike", "NumericNotEquals": "NumericEquals",
             "DateNotEquals": "DateEquals", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
             "NotIpAddress": "IpAddress"}


def _key_matches(base: str, values: list[str], request: list[str], context: dict[str, Any]) -> bool:
    """A single-valued comparison: any policy value matches (OR), negated operators invert it."""
    negated = base in _NEGATED
    positive = _POSITIVE.get(base, base)
    hit = any(_one(positive, v, r, context) for v in values for r in request)
    return not hit if negated else hit


def condition_holds(operator: str, key: str, values: Any, context: dict[str, Any],
                    known_key: Any = None) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    if known_key is not None:
        known_key(key)
    policy_values = [str(v) if not isinstance(v, bool) else str(v).lower() for v in
                     (values if isinstance(values, list) else [values])]
    present = context_value(context, key)
    if base == "Null":
        want_absent = policy_values[0].lower() == "true"
        absent = present is None or present == []
        return absent == want_absent
    if present is None or present == []:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return base in _NEGATED
    request = [str(v).lower() if isinstance(v, bool) else str(v)
               for v in (present if isinstance(present, list) else [present])]
    if qualifier == "ForAllValues":
        return all(_key_matches(base, policy_values, [r], context) for r in request)
    if qualifier == "ForAnyValue":
        return any(_key_matches(base, policy_values, [r], context) for r in request)
    return _key_matches(base, policy_values, request, context)


def conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, Any],
                    known_key: Any = None) -> bool:
    """AND across operators and keys."""
    return all(condition_holds(op, key, values, context, known_key)
               for op, block in conditions.items() for key, values in block.items())


# ---------------------------------------------------------------------------------------------
# Evaluation (EVAL, BASICS, XACCT, KMS, TRUST, SCP)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str
    resource: str               # the resource ARN, or "*" for actions without a resource type
    resource_account: str | None
    context: dict[str, Any]


@dataclass
class Decision:
    allowed: bool
    reason: str                  # "allowed", "explicit deny in <kind>", "no <kind> allows ..."
    allowed_by: list[Statement] = field(default_factory=list)
    denied_by: Statement | None = None
    # The statements each of which alone stands between this request and a denial: without any one
    # of them the same request would be denied. What proves a statement needed.
    needed: list[Statement] = field(default_factory=list)

    @property
    def explicit(self) -> bool:
        return self.denied_by is not None


def statement_applies(st: Statement, request: Request, known_key: Any = None) -> str | None:
    """Whether a statement applies to the request, and how its principal matched ("direct",
    "account", or "identity" for statements without a Principal)."""
    if st.actions is not None:
        if not any(action_matches(a, request.action) for a in st.actions):
            return None
    elif any(action_matches(a, request.action) for a in st.not_actions or ()):
        return None
    ctx = request.context
    if st.resources is not None:
        patterns = [substitute(r, ctx) for r in st.resources]
        if not any(p is not None and arn_matches(p, request.resource) for p in patterns):
            return None
    elif st.not_resources is not None:
        patterns = [substitute(r, ctx) for r in st.not_resources]
        if any(p is not None and arn_matches(p, request.resource) for p in patterns):
            return None
    how = "identity"
    if st.principal is not None:
        how = principal_match(st.principal, request.principal)
        if how is None:
            return None
    elif st.not_principal is not None:
        if principal_match(st.not_principal, request.principal) is not None:
            return None
        how = "direct"
    if not conditions_hold(st.conditions, ctx, known_key):
        return None
    return how


def _applying(statements: Iterable[Statement], request: Request, known_key: Any) -> list[tuple[Statement, str]]:
    out = []
    for st in statements:
        how = statement_applies(st, request, known_key)
        if how is not None:
            out.append((st, how))
    return out


# Resources whose resource policy must allow the request whatever the identity policies say.
def resource_policy_required(action: str, resource: str) -> bool:
    """A KMS key's policy and a role's trust policy must allow (KMS, TRUST); an action on no
    particular key (CreateKey, ListKeys) or on an alias has no key policy to ask."""
    if action.split(":", 1)[0].lower() == "kms":
        return ":key/" in resource
    return action.lower() in ("sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml",
                              "sts:tagsession")


ADMINISTRATOR_POLICY = [Statement(source="administrator", index=0, sid="EmulatorAdministrator",
                                  effect="Allow", actions=("*",), resources=("*",))]


def evaluate(request: Request, *, identity: list[Statement], resource: list[Statement] | None,
             scps: list[list[Statement]] | None, boundary: list[Statement] | None = None,
             known_key: Any = None) -> Decision:
    """The decision for one request (EVAL's flowchart).

    identity: the principal's identity-based statements (inline and managed); for a service
    principal, none. resource: the resource policy's statements, or None when the resource has no
    policy. scps: one list of statements per level from the root to the account, or None when SCPs
    do not apply (no organization, the management account, a service-linked role, a service
    principal). known_key: called with every condition key a policy uses; raises PolicyError for
    keys the emulator does not evaluate."""
    who = request.principal
    identity = ADMINISTRATOR_POLICY if who.administrator else identity
    everything = list(identity) + list(resource or []) + [s for level in scps or [] for s in level] \
        + list(boundary or [])
    # 1. An explicit deny in any policy ends it (EVAL: "an explicit deny in any of these policies
    #    overrides the allow").
    for st, _ in _applying((s for s in everything if s.effect == "Deny"), request, known_key):
        return Decision(False, f"with an explicit deny in a {_kind(st)}", denied_by=st)
    # 2. SCPs: every level must allow (SCP).
    for level in scps or []:
        if not _applying((s for s in level if s.effect == "Allow"), request, known_key):
            return Decision(False, "because no service control policy allows the "
                                   f"{request.action} action")
    # 3. Resource policy and identity policies.
    rp = _applying((s for s in resource or [] if s.effect == "Allow"), request, known_key)
    direct = [st for st, how in rp if how == "direct"]
    delegated = [st for st, how in rp if how == "account"]
    ident = [st for st, _ in _applying((s for s in identity if s.effect == "Allow"), request, known_key)]
    if boundary is not None and who.kind in ("role", "user"):
        if not _applying((s for s in boundary if s.effect == "Allow"), request, known_key):
            return Decision(False, "because no permissions boundary allows the "
                                   f"{request.action} action")
    same_account = request.resource_account is None or request.resource_account == who.account
    # SCP levels with a single allowing statement: that statement is needed too.
    scp_needed = [allows[0][0] for level in scps or []
                  if len(allows := _applying((s for s in level if s.effect == "Allow"), request, known_key)) == 1]

    def allowed(by: list[Statement], *alternatives: list[Statement]) -> Decision:
        """Allowed by `by`; `alternatives` are the groups of which at least one statement must
        remain (a group of one is a needed statement)."""
        needed = [group[0] for group in alternatives if len(group) == 1] + scp_needed
        return Decision(True, "allowed", allowed_by=by, needed=needed)

    if who.kind in ("service", "anonymous"):
        # A service principal has no identity policy: only the resource policy can allow it.
        if direct:
            return allowed(direct, direct)
        return Decision(False, "because no resource-based policy allows the "
                               f"{request.action} action")
    if resource_policy_required(request.action, request.resource):
        # KMS, TRUST: the resource policy must allow, directly or by delegating to the account
        # (then the identity policy must allow too).
        if direct and same_account:
            if delegated and ident:
                return allowed(direct, direct + delegated)
            return allowed(direct, direct)
        if (direct or delegated) and ident:
            return allowed((direct or delegated) + ident, direct + delegated, ident)
        if not (direct or delegated):
            return Decision(False, f"because no resource-based policy allows the {request.action} action")
        return Decision(False, f"because no identity-based policy allows the {request.action} action")
    if same_account:
        # BASICS: either side allowing is enough within one account; an account principal in the
        # resource policy delegates to the identity policy (PRINCIPAL).
        if direct:
            return allowed(direct, direct + ident)
        if ident:
            return allowed(ident + delegated, ident)
        return Decision(False, f"because no identity-based policy allows the {request.action} action")
    # XACCT: both sides.
    if not ident:
        return Decision(False, f"because no identity-based policy allows the {request.action} action")
    if not (direct or delegated):
        return Decision(False, f"because no resource-based policy allows the {request.action} action")
    return allowed(ident + direct + delegated, ident, direct + delegated)


def _kind(st: Statement) -> str:
    kind = st.source.split(" ", 1)[0]
    return {"identity": "identity-based policy", "resource": "resource-based policy",
            "scp": "service control policy", "boundary": "permissions boundary",
            "administrator": "identity-based policy"}.get(kind, f"{kind} policy")


def uses_condition_keys(statements: Iterable[Statement]) -> set[str]:
    return {key for st in statements for block in st.conditions.values() for key in block}


__all__ = ["PolicyError", "Statement", "Principal", "Request", "Decision", "parse_policy", "evaluate",
           "action_matches", "arn_matches", "principal_match", "condition_holds", "substitute"]
