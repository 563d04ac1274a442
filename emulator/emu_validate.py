"""Requests validated against the service's published model, as AWS validates them (issue #23).

Why this module exists
----------------------
AWS rejects a request whose parameters break its service model's constraints before the operation
runs: a missing required member, a string outside its enum, a pattern, a length or a range. moto
rarely checks them, so a request AWS would refuse ran here, and the code that sent it passed its
tests. `validate` walks the operation's input shape (botocore's model, the one moto's parser just
used, see `emu_request`) over the parsed parameters and answers the error the service answers.

What is checked, at any depth
-----------------------------
required members (absent or JSON null), string enums, `pattern` (a Java regular expression: full
match, as AWS matches it, see `java_regex`), min/max length of strings (characters), lists, maps
and blobs (bytes), min/max of numbers, and, for the `json` protocol, a string or boolean member sent
as another JSON type (`SerializationException`, the one type error the parser lets through). Every
violation is collected, in the model's member order, and answered in one message:

    N validation error(s) detected: Value 'x' at 'path.to.member' failed to satisfy constraint:
    Member must ...; Value null at 'other' failed to satisfy constraint: Member must not be null

the path being the members' names with a lower-case first letter, `.N.member` for the Nth element
of a list of structures and `.<key>.member` for a map value that is a structure. A list or map of
scalars is reported once, at the list or map, with every constraint of its member ("Member must
satisfy constraint: [...]", "Map keys must satisfy constraint: [...]", "Map value must satisfy
constraint: [...]"), and a sensitive member's value is left out ("Value at 'x'"). Examples AWS
answered (recorded against AWS by LocalStack's snapshot tests, tests/aws/services/*/
*.snapshot.json in localstack/localstack, and in public issues):

* "2 validation errors detected: Value '...' at 'name' failed to satisfy constraint: Member must
  satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+; Value '...' at 'name' failed to satisfy
  constraint: Member must have length less than or equal to 64; ..." (EventBridge CreateConnection,
  localstack test_api_destinations_and_connection.snapshot.json);
* "Value '[x86_64, arm64]' at 'architectures' ... Member must have length less than or equal to 1",
  "Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' ... Map keys must satisfy
  constraint: [Member must have length less than or equal to 1024, ...]" (Lambda,
  test_lambda_api.snapshot.json); "Value null at 'tags.1.member.value' ... Member must not be
  null" (CloudFormation, serverless/serverless#2036); "Value at 'plaintext' ..." (KMS, sensitive).

Which error, per service (`_policy`)
------------------------------------
* `json` and `rest-json` services: `ValidationException`, HTTP 400: SSM ("Value at 'value' ...
  Member must have length greater than or equal to 1", ministryofjustice/modernisation-platform
  #8116), Glue (aws-samples/dbt-glue#395), QuickSight (boto/boto3#2601: "Value '{table_map1=...}'
  at 'physicalTableMap' failed to satisfy constraint: Map keys must satisfy constraint: [...]"),
  Lambda (awslabs/aws-transit-vpc#32: "Value ... at 'code.s3Bucket' ..."), KMS, EventBridge,
  Config (the model declares ValidationException); the emulator's other JSON services too (AWS's
  default; not verified for CloudTrail and Organizations).
* Athena: `InvalidRequestException` (AthenaErrorCode INVALID_INPUT, which our error rendering does
  not carry) with the same message: real Athena measured in aoyagikouhei/athena-local
  tools/e2e/request-errors/verify.sh ("1 validation error detected: Value null at 'workGroup' ...").
* CloudWatch Logs: `InvalidParameterException` for the operations that declare it and not
  ValidationException (GetLogEvents "Value '10001' at 'limit' ..."), ValidationException for the
  newer ones that declare it (localstack test_logs_*.snapshot.json).
* `query` services (IAM, STS, CloudFormation, SNS, CloudWatch): `ValidationError`, HTTP 400, same
  message: IAM (SWO-GS/auto-tag#90, "at 'tags.6.member.value'"), STS ("Value 'Session1:2' at
  'roleSessionName'", localstack test_sts.snapshot.json), CloudFormation (humanmade/cf-to-tf#5,
  "at 'stackName'"). SNS answers `InvalidParameter` ("Invalid parameter: TopicArn ...") for its own
  checks, none of which its model encodes (a topic name's characters, an ARN's parts); for the
  model's constraints it answers ValidationError: "Value null at 'message' ... Member must not be
  null" for a Publish without Message (Comcast/cmb's SNS clone, localstack test_sns.snapshot.json
  "Value null at 'attributes'", "at 'messageAttributes.attr1.member.dataType'").
* EC2: only required members, `MissingParameter` "The request must contain the parameter X" (the
  EC2 API's common client errors, docs.aws.amazon.com/AWSEC2/latest/APIReference/
  errors-overview.html). EC2 is not validated against its model's enums and ranges: it answers
  InvalidParameterValue with per-parameter wording we cannot reproduce.
* SQS (JSON, query-compatible): only required members, `MissingParameter` "The request must
  contain the parameter MessageBody." (localstack test_sqs.snapshot.json); its enum members (queue
  attribute names) answer SQS's own InvalidAttributeName.
* S3 (`rest-xml`): not validated against its model. S3 is not a Coral service: it refuses bad
  input with per-parameter errors (InvalidBucketName, InvalidArgument, InvalidStorageClass...,
  moto raises several), and its model's few constraints are not those errors. One documented check
  is added: an object key longer than 1024 bytes of UTF-8 is `KeyTooLongError` "Your key is too
  long." (HTTP 400, the S3 API's error code list). Other `rest-xml` services are not validated.

What is deliberately not validated, and why
-------------------------------------------
Only what moto's parser hands over faithfully is checked: header maps (`location: headers`) and
query-string maps (the parser returns the whole query string), JSON-in-header strings (decoded),
timestamps (parsed), host labels, document types and event streams are skipped; an empty list in a
query string is indistinguishable from none (skipped for `min`); the JSON parser coerces numbers
(`"1"` -> 1) and iterates a string sent for a list, so integers and lists are not type-checked.
Union structures (exactly one member set) are not checked. Lengths are counted both ways AWS might
count them (Java's UTF-16 units, Unicode code points) and only a string that fails both is refused.
A model pattern that cannot be translated is logged once and not checked, a pattern match that runs
over a second counts as a match: the validator never refuses a request it cannot judge.

With `EMULATOR_VALIDATION_LOG=<file>` in the emulator's environment every refusal is appended to that
file as one JSON line (service, operation, code, message): refusals a caller swallows (a function
that logs and carries on) can be found after a run.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import regex
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import is_json_value_header

from emu_request import ParsedRequest


@dataclass(frozen=True)
class Invalid:
    status: int
    code: str
    message: str


# --------------------------------------------------------------------------
# Java regular expressions
# --------------------------------------------------------------------------

# Java's predefined classes are ASCII-only without UNICODE_CHARACTER_CLASS (`\w` is [a-zA-Z_0-9]),
# Python's are Unicode; regex's ASCII flag would also narrow `\p{L}`, so they are spelt out.
_SHORTHAND = {
    "w": "a-zA-Z_0-9",
    "d": "0-9",
    "s": " \\t\\n\\x0B\\f\\r",
    "h": " \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000",
    "v": "\\n\\x0B\\f\\r\\x85\\u2028\\u2029",
}
# Java's POSIX classes (\p{Alpha}...) are US-ASCII only; regex reads them as Unicode properties.
_POSIX = {
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7F", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~",
    "Blank": " \\t", "Cntrl": "\\x00-\\x1F\\x7F", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0B\\f\\r",
}
_JAVA_PROPERTIES = {
    "javaLowerCase": "Lowercase", "javaUpperCase": "Uppercase", "javaWhitespace": "White_Space",
    "javaMirrored": "Bidi_Mirrored", "javaLetter": "L", "javaDigit": "Nd",
    "javaLetterOrDigit": "Alnum", "javaAlphabetic": "Alphabetic",
}
# Java's `.` matches anything but its line terminators (without DOTALL).
_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"
_HEX = set("0123456789abcdefABCDEF")


def _hex4(s: str, i: int) -> int | None:
    part = s[i:i + 4]
    return int(part, 16) if len(part) == 4 and set(part) <= _HEX else None


def translate_java_regex(pattern: str) -> tuple[str, int]:
    """A Java regular expression as the `regex` package's (source, flags).

    Java-only constructs of the models: surrogate pairs written as two `\\uXXXX` (Java reads
    `\\uD800\\uDC00-\\uDBFF\\uDFFF` as U+10000-U+10FFFF), ASCII `\\w \\d \\s` and POSIX classes,
    `\\h \\v \\R \\z \\Z \\e \\Q..\\E \\cX \\0oct`, `.` without Java's line terminators, nested classes
    and `&&` intersections (regex's V1 set syntax). Possessive quantifiers, atomic groups,
    lookbehind and `\\p{...}` categories are regex's own syntax already."""
    out: list[str] = []
    i, n, depth = 0, len(pattern), 0
    v1 = False
    dotall = bool(regex.search(r"\(\?[a-zA-Z]*s[a-zA-Z]*[:)]", pattern))
    opened = False   # just after `[` or `[^`: a `]` there is a literal

    def cls(content: str, negated: bool) -> str:
        nonlocal v1
        if depth == 0:
            return f"[^{content}]" if negated else f"[{content}]"
        if negated:
            v1 = True
            return f"[^{content}]"
        return content

    while i < n:
        c = pattern[i]
        was_opened, opened = opened, False
        if c == "\\" and i + 1 < n:
            d = pattern[i + 1]
            if d == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append("".join("\\" + ch if not ch.isalnum() else ch for ch in literal))
                i = n if end < 0 else end + 2
                continue
            if d == "u" and _hex4(pattern, i + 2) is not None:
                unit = _hex4(pattern, i + 2)
                i += 6
                low = _hex4(pattern, i + 2) if pattern[i:i + 2] == "\\u" else None
                if 0xD800 <= unit <= 0xDBFF and low is not None and 0xDC00 <= low <= 0xDFFF:
                    out.append("\\U%08X" % (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)))
                    i += 6
                else:
                    out.append("\\u%04X" % unit)
                continue
            if d in "wdshvWDSHV":
                out.append(cls(_SHORTHAND[d.lower()], d.isupper()))
                i += 2
                continue
            if d in "pP":
                if i + 2 < n and pattern[i + 2] == "{":
                    end = pattern.find("}", i + 3)
                    if end < 0:
                        raise ValueError("unterminated \\p{")
                    name, i = pattern[i + 3:end], end + 1
                else:
                    name, i = pattern[i + 2:i + 3], i + 3
                posix = _POSIX.get(name[2:] if name.startswith("Is") else name)
                if posix is not None:
                    out.append(cls(posix, d == "P"))
                else:
                    out.append(f"\\{d}{{{_JAVA_PROPERTIES.get(name, name)}}}")
                continue
            if d == "z" and depth == 0:
                out.append("\\Z")
            elif d == "Z" and depth == 0:
                out.append("(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)")
            elif d == "R" and depth == 0:
                out.append("(?:\\r\\n|[\\n\\x0B\\f\\r\\x85\\u2028\\u2029])")
            elif d == "e":
                out.append("\\x1B")
            elif d == "c" and i + 2 < n:
                out.append("\\x%02X" % (ord(pattern[i + 2]) ^ 64))
                i += 3
                continue
            elif d == "0":
                j = i + 2
                while j < n and j < i + 5 and pattern[j] in "01234567" and int(pattern[i + 2:j + 1], 8) <= 0o377:
                    j += 1
                out.append("\\x%02X" % int(pattern[i + 2:j] or "0", 8))
                i = j
                continue
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if depth:
            if c == "[":
                v1 = True
                depth += 1
                out.append("[")
                if pattern[i + 1:i + 2] == "^":
                    out.append("^")
                    i += 1
                opened = True
            elif c == "]" and was_opened:
                out.append("\\]")
            elif c == "]":
                depth -= 1
                out.append("]")
            elif c == "&" and pattern[i + 1:i + 2] == "&":
                v1 = True
                out.append("&&")
                i += 1
            elif c in "|~&":
                out.append("\\" + c)
            elif c == "-" and out and out[-1] == "-":
                out.append("\\-")
            else:
                out.append(c)
        elif c == "[":
            depth = 1
            out.append("[")
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            opened = True
        elif c == "." and not dotall:
            out.append(_DOT)
        else:
            out.append(c)
        i += 1
    return "".join(out), (regex.V1 if v1 else regex.V0)


@functools.lru_cache(maxsize=None)
def java_regex(pattern: str) -> "regex.Pattern[str] | None":
    """The model's pattern compiled once, or None (logged) when it cannot be translated."""
    try:
        source, flags = translate_java_regex(pattern)
        return regex.compile(source, flags)
    except Exception as e:  # noqa: BLE001 - an untranslatable pattern is not checked
        print(f"emu_validate: pattern {pattern!r} not checked: {e}", file=sys.stderr)
        return None


def matches(pattern: str, value: str) -> bool:
    """Whether the whole value matches, as AWS's validation (Java's `Pattern.matches`) decides."""
    compiled = java_regex(pattern)
    if compiled is None:
        return True
    try:
        return compiled.fullmatch(value, timeout=1.0) is not None
    except TimeoutError:
        return True


# --------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------

_NULL = object()
_NUMBERS = ("integer", "long", "short", "byte", "float", "double", "bigInteger", "bigDecimal")
_FLOATS = ("float", "double", "bigDecimal")


@dataclass(frozen=True)
class Violation:
    path: str
    value: Any           # _NULL for a missing member
    shape: Shape | None  # the member's shape (rendering: sensitive values are left out)
    constraint: str


@functools.lru_cache(maxsize=4096)
def _wire(name: str) -> str:
    return name[:1].lower() + name[1:]


def _bound(shape: Shape, value: Any) -> str:
    if shape.type_name in _FLOATS:
        return repr(float(value))  # Java's Double.toString: 1.0
    return str(int(value))


def _utf16_units(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def render(value: Any, shape: Shape | None = None) -> str:
    """A value as AWS's (Java) messages print it: lists `[a, b]`, maps `{k=v}`."""
    if value is None or value is _NULL:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        return "[" + ", ".join(render(v, member) for v in value) + "]"
    if isinstance(value, dict):
        if shape is not None and shape.type_name == "structure":
            members = shape.members
            return shape.name + "(" + ", ".join(
                f"{_wire(k)}={render(value.get(k), m)}" for k, m in members.items()) + ")"
        vshape = shape.value if shape is not None and shape.type_name == "map" else None
        return "{" + ", ".join(f"{k}={render(v, vshape)}" for k, v in value.items()) + "}"
    return str(value)


class _Walker:
    def __init__(self, protocol: str, required_only: bool) -> None:
        self.protocol = protocol
        self.required_only = required_only
        self.violations: list[Violation] = []
        self.type_error: str | None = None

    # -- constraints of one scalar ------------------------------------------------
    def constraints(self, shape: Shape) -> list[str]:
        """Every constraint of a scalar shape, in the order AWS lists a member's constraints."""
        md = shape.metadata
        texts = []
        if shape.type_name in ("string", "blob"):
            if "max" in md:
                texts.append(f"Member must have length less than or equal to {int(md['max'])}")
            if "min" in md:
                texts.append(f"Member must have length greater than or equal to {int(md['min'])}")
            if shape.type_name == "string" and "pattern" in md:
                texts.append(f"Member must satisfy regular expression pattern: {md['pattern']}")
            if shape.type_name == "string" and md.get("enum"):
                texts.append("Member must satisfy enum value set: [" + ", ".join(md["enum"]) + "]")
        elif shape.type_name in _NUMBERS:
            if "max" in md:
                texts.append(f"Member must have value less than or equal to {_bound(shape, md['max'])}")
            if "min" in md:
                texts.append(f"Member must have value greater than or equal to {_bound(shape, md['min'])}")
        return texts

    def failures(self, shape: Shape, value: Any) -> list[str]:
        """The constraints a scalar value breaks, in the order they are reported."""
        md = shape.metadata
        out: list[str] = []
        t = shape.type_name
        if t == "string":
            if not isinstance(value, str) or is_json_value_header(shape) or shape.serialization.get("jsonvalue"):
                return out
            if md.get("enum") and value not in md["enum"]:
                out.append("Member must satisfy enum value set: [" + ", ".join(md["enum"]) + "]")
            if "pattern" in md and not matches(md["pattern"], value):
                out.append(f"Member must satisfy regular expression pattern: {md['pattern']}")
            if "max" in md and len(value) > md["max"]:
                out.append(f"Member must have length less than or equal to {int(md['max'])}")
            if "min" in md and len(value) < md["min"] and _utf16_units(value) < md["min"]:
                out.append(f"Member must have length greater than or equal to {int(md['min'])}")
        elif t == "blob":
            if not isinstance(value, (bytes, bytearray)) or shape.serialization.get("streaming"):
                return out
            if "max" in md and len(value) > md["max"]:
                out.append(f"Member must have length less than or equal to {int(md['max'])}")
            if "min" in md and len(value) < md["min"]:
                out.append(f"Member must have length greater than or equal to {int(md['min'])}")
        elif t in _NUMBERS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return out
            if "max" in md and value > md["max"]:
                out.append(f"Member must have value less than or equal to {_bound(shape, md['max'])}")
            if "min" in md and value < md["min"]:
                out.append(f"Member must have value greater than or equal to {_bound(shape, md['min'])}")
        return out

    # -- types -----------------------------------------------------------------
    def typed(self, shape: Shape, value: Any) -> bool:
        """Whether the value has the shape's type; a JSON string or boolean member sent as another
        JSON type is AWS's SerializationException (json protocol), anything else is not judged."""
        t = shape.type_name
        if t == "structure":
            return isinstance(value, dict)
        if t == "map":
            return isinstance(value, dict)
        if t == "list":
            return isinstance(value, list)
        if t == "string":
            if isinstance(value, str):
                return True
            self.type_mismatch(value, "a String")
            return False
        if t == "boolean":
            if isinstance(value, bool):
                return True
            self.type_mismatch(value, "a Boolean")
            return False
        if t in _NUMBERS:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if t == "blob":
            return isinstance(value, (bytes, bytearray))
        return False

    def type_mismatch(self, value: Any, expected: str) -> None:
        if self.protocol != "json" or self.type_error is not None:
            return
        if isinstance(value, list):
            self.type_error = "Start of list found where not expected"
        elif isinstance(value, dict):
            self.type_error = "Start of structure or map found where not expected."
        elif isinstance(value, bool):
            self.type_error = f"{'TRUE' if value else 'FALSE'}_VALUE can not be converted to {expected}"
        elif isinstance(value, (int, float)):
            self.type_error = f"NUMBER_VALUE can not be converted to {expected}"
        elif isinstance(value, str):
            self.type_error = f"STRING_VALUE can not be converted to {expected}"

    # -- the walk --------------------------------------------------------------
    def add(self, path: str, value: Any, shape: Shape | None, constraint: str) -> None:
        self.violations.append(Violation(path, value, shape, constraint))

    def structure(self, shape: Shape, value: dict[str, Any], prefix: str) -> None:
        if shape.metadata.get("document"):
            return
        required = set(shape.required_members)
        for name, member in shape.members.items():
            ser = member.serialization
            location = ser.get("location")
            if location == "headers" or ser.get("hostLabel") or ser.get("eventheader"):
                continue  # header maps: the parser gathers them by prefix, not as the client sent them
            if location == "querystring" and member.type_name == "map":
                continue  # the parser hands over the whole query string
            path = f"{prefix}.{_wire(name)}" if prefix else _wire(name)
            v = value.get(name)
            if location == "querystring" and member.type_name == "list" and v == []:
                v = None  # a query string cannot carry an empty list: the parser's [] means none
            if v is None:
                if name in required and not member.metadata.get("idempotencyToken"):
                    self.add(path, _NULL, member, "Member must not be null")
                continue
            if self.required_only:
                if member.type_name == "structure" and isinstance(v, dict):
                    self.structure(member, v, path)
                elif member.type_name == "list" and member.member.type_name == "structure" and isinstance(v, list):
                    for i, e in enumerate(v, 1):
                        if isinstance(e, dict):
                            self.structure(member.member, e, f"{path}.{i}.member")
                continue
            if location in ("header", "uri", "querystring") and member.type_name == "timestamp":
                continue
            self.value(member, v, path)

    def value(self, shape: Shape, v: Any, path: str) -> None:
        if shape.metadata.get("document") or shape.serialization.get("eventstream"):
            return
        if not self.typed(shape, v):
            return
        t = shape.type_name
        if t == "structure":
            self.structure(shape, v, path)
        elif t == "list":
            for text in self.failures_of_size(shape, len(v)):
                self.add(path, v, shape, text)
            member = shape.member
            if member.type_name in ("structure", "list", "map"):
                for i, e in enumerate(v, 1):
                    if e is not None:
                        self.value(member, e, f"{path}.{i}.member")
            else:
                broken = any(e is None or (self.typed(member, e) and self.failures(member, e)) for e in v)
                if broken and self.constraints(member):
                    self.add(path, v, shape, "Member must satisfy constraint: ["
                             + ", ".join(self.constraints(member)) + "]")
        elif t == "map":
            for text in self.failures_of_size(shape, len(v)):
                self.add(path, v, shape, text)
            if any(not self.typed(shape.key, k) or self.failures(shape.key, k) for k in v):
                if self.constraints(shape.key):
                    self.add(path, v, shape, "Map keys must satisfy constraint: ["
                             + ", ".join(self.constraints(shape.key)) + "]")
            vshape = shape.value
            if vshape.type_name in ("structure", "list", "map"):
                for k, e in v.items():
                    if e is not None:
                        self.value(vshape, e, f"{path}.{k}.member")
            else:
                broken = any(e is None or (self.typed(vshape, e) and self.failures(vshape, e))
                             for e in v.values())
                if broken:
                    self.add(path, v, shape, "Map value must satisfy constraint: ["
                             + ", ".join(self.constraints(vshape) + ["Member must not be null"]) + "]")
        else:
            for text in self.failures(shape, v):
                self.add(path, v, shape, text)

    @staticmethod
    def failures_of_size(shape: Shape, size: int) -> list[str]:
        md = shape.metadata
        out = []
        if "max" in md and size > md["max"]:
            out.append(f"Member must have length less than or equal to {int(md['max'])}")
        if "min" in md and size < md["min"]:
            out.append(f"Member must have length greater than or equal to {int(md['min'])}")
        return out


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


def message(violations: list[Violation]) -> str:
    """AWS's "N validation error(s) detected: ..." message."""
    parts = []
    for v in violations:
        sensitive = v.shape is not None and v.shape.metadata.get("sensitive") and v.value is not _NULL
        shown = "Value" if sensitive else (
            "Value null" if v.value is _NULL else f"Value '{render(v.value, v.shape)}'")
        parts.append(f"{shown} at '{v.path}' failed to satisfy constraint: {v.constraint}")
    n = len(violations)
    return f"{n} validation error{'s' if n != 1 else ''} detected: " + "; ".join(parts)


def _declares(operation: OperationModel, code: str) -> bool:
    return any((s.error_code or s.name) == code or s.name == code for s in operation.error_shapes)


def _policy(service: ServiceModel, operation: OperationModel) -> tuple[str, str] | None:
    """(what is validated: "all" | "required", the error code), or None: not validated."""
    name = service.service_name
    if name == "ec2":
        return "required", "MissingParameter"
    if name == "sqs":
        return "required", "MissingParameter"
    if name == "athena":
        return "all", "InvalidRequestException"
    if name == "logs":
        if _declares(operation, "ValidationException") or not _declares(operation, "InvalidParameterException"):
            return "all", "ValidationException"
        return "all", "InvalidParameterException"
    protocol = service.protocol
    if protocol == "query" or name == "cloudwatch":
        return "all", "ValidationError"
    if protocol in ("json", "rest-json"):
        return "all", "ValidationException"
    return None


def _ec2_name(shape: Shape, member: str) -> str:
    ser = shape.serialization
    if "queryName" in ser:
        return ser["queryName"]
    if "name" in ser:
        return ser["name"][:1].upper() + ser["name"][1:]
    return member


def _missing_parameter(service: ServiceModel, operation: OperationModel, v: Violation) -> str:
    # The wire name of the member: the first one missing, with its parents (EC2: Tag.1.Key).
    names = []
    shape: Shape | None = operation.input_shape
    for part in v.path.split("."):
        if part.isdigit() or part == "member":
            if part.isdigit():
                names.append(part)
            if shape is not None and shape.type_name == "list":
                shape = shape.member
            continue
        member = None
        if shape is not None and shape.type_name == "structure":
            member = next((m for m in shape.members if _wire(m) == part), None)
        if member is None:
            names.append(part[:1].upper() + part[1:])
            shape = None
            continue
        mshape = shape.members[member]
        names.append(_ec2_name(mshape, member) if service.service_name == "ec2" else member)
        shape = mshape
    text = f"The request must contain the parameter {'.'.join(names)}"
    return text + "." if service.service_name == "sqs" else text


def _s3(request: ParsedRequest) -> Invalid | None:
    key = request.params.get("Key")
    if isinstance(key, str) and len(key.encode("utf-8")) > 1024:
        return Invalid(400, "KeyTooLongError", "Your key is too long.")
    return None


_LOG_LOCK = threading.Lock()


def validate(request: ParsedRequest) -> Invalid | None:
    """The error AWS answers for a request that breaks its operation's model, or None."""
    try:
        invalid = _validate(request)
    except Exception as e:  # noqa: BLE001 - a request the validator cannot judge is not refused
        print(f"emu_validate: {request.service_model.service_name}.{request.operation_name} not validated: "
              f"{e!r}", file=sys.stderr)
        return None
    path = os.environ.get("EMULATOR_VALIDATION_LOG")
    if invalid is not None and path:
        line = json.dumps({"service": request.service_model.service_name, "operation": request.operation_name,
                           "code": invalid.code, "message": invalid.message[:2000]})
        with _LOG_LOCK, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return invalid


def _validate(request: ParsedRequest) -> Invalid | None:
    service, operation = request.service_model, request.operation
    if service.service_name == "s3":
        return _s3(request)
    input_shape = operation.input_shape
    if input_shape is None:
        return None
    policy = _policy(service, operation)
    if policy is None:
        return None
    scope, code = policy
    walker = _Walker(service.protocol, required_only=scope == "required")
    walker.structure(input_shape, request.params, "")
    if walker.type_error is not None:
        return Invalid(400, "SerializationException", walker.type_error)
    if not walker.violations:
        return None
    if scope == "required":
        missing = [v for v in walker.violations if v.value is _NULL]
        if not missing:
            return None
        return Invalid(400, code, _missing_parameter(service, operation, missing[0]))
    return Invalid(400, code, message(walker.violations))
