"""Lambda invocations forwarded to an external "Lambda runner".

Why this module exists
----------------------
moto runs a function only in Docker (``LambdaFunction._invoke_lambda``), which this project does not
have, and its EventBridge rules cannot target Lambda at all (``Rule.send_to_targets`` raises
NotImplementedError). Every invocation goes through ``LambdaFunction.invoke``; this module replaces it
so each one (the Invoke API, RequestResponse and Event; S3 notifications; EventBridge targets;
custom resources, which CloudFormation invokes through the Invoke API) is POSTed to the runner
registered with ``PUT /_emulator/lambda-runner {"url": ...}`` (or env ``EMULATOR_LAMBDA_RUNNER``):

    POST <url>/invoke {"function_arn", "function_name", "account", "region", "handler", "runtime",
                       "architectures", "environment", "timeout", "memory_size", "role",
                       "code_zip", "code_s3", "code_sha256", "invocation_type", "payload"}
    -> 200 {"outcome": "response" | "error", "payload": <JSON>}; any other status: the runtime failed

Asynchronous invocations ("Asynchronous invocation", Lambda Developer Guide: S3, EventBridge and
SNS invoke asynchronously; the Invoke API with InvocationType Event) run on a background thread
and answer 202 at once; a failed one is retried MaximumRetryAttempts times (EventInvokeConfig,
default 2; AWS waits one then two minutes between attempts, the emulator does not: "How Lambda
handles errors and retries with asynchronous invocation"), then its event
goes to the OnFailure destination or dead-letter queue when that is an SQS queue
("Capturing records of Lambda asynchronous invocations"). Every invocation is logged at
``GET /_emulator/lambda-invocations``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import emu_authz
from iam_actions import Authorization
from moto.awslambda.models import LambdaFunction

NO_RUNNER = "no Lambda runner registered: PUT /_emulator/lambda-runner"
# "How Lambda handles errors and retries with asynchronous invocation": "by default Lambda attempts
# to run it two more times".
DEFAULT_ASYNC_RETRIES = 2
CODE_DIR = os.path.join(tempfile.gettempdir(), f"emulator-lambda-code-{os.getpid()}")


@dataclass
class Invocation:
    id: str
    function_arn: str
    function_name: str
    account: str
    region: str
    invocation_type: str
    attempt: int
    payload: Any
    start: float
    end: float | None = None
    outcome: str = "running"  # response | error | runtime-error | no-runner
    error: str | None = None
    response: Any = None
    sent_to: str | None = None  # where a failed asynchronous event went


@dataclass
class Runner:
    url: str | None = field(default_factory=lambda: os.environ.get("EMULATOR_LAMBDA_RUNNER") or None)
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[Invocation] = field(default_factory=list)
    # (function ARN, role ARN) -> the execution role's session credentials.
    sessions: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


RUNNER = Runner()


def _code_zip(fn: LambdaFunction) -> str:
    """The deployment package as a file the runner can open (moto keeps it in memory)."""
    os.makedirs(CODE_DIR, exist_ok=True)
    code = getattr(fn, "code_bytes", b"") or b""
    path = os.path.join(CODE_DIR, f"{hashlib.sha256(code).hexdigest()}.zip")
    if not os.path.exists(path):
        tmp = f"{path}.{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(code)
        os.replace(tmp, path)
    return path


def _crate(fn: LambdaFunction) -> str:
    """The crate a function runs (its package's name, as the runner reads it), else its name: how
    the call records name the function's calls."""
    key = fn.code.get("S3Key") if isinstance(fn.code, dict) else None
    name = (key or "").rsplit("/", 1)[-1]
    return name[: -len(".zip")] if name.endswith(".zip") else fn.function_name


def _credentials(fn: LambdaFunction) -> dict[str, str]:
    """The execution role's session the function signs with, opened once per function and role
    (a Lambda execution environment keeps its credentials) after the role's trust policy allowed
    lambda.amazonaws.com (emu_authz.session_credentials)."""
    cache_key = (fn.function_arn, fn.role)
    with RUNNER.lock:
        found = RUNNER.sessions.get(cache_key)
    if found is not None:
        return found
    credentials = emu_authz.session_credentials(fn.role, fn.function_name, service="lambda.amazonaws.com",
                                                region=fn.region)
    emu_authz.label_session(credentials["access_key_id"], f"{fn.account_id}-{_crate(fn)}")
    with RUNNER.lock:
        RUNNER.sessions[cache_key] = credentials
    return credentials


def _request(fn: LambdaFunction, invocation_type: str, payload: Any) -> dict[str, Any]:
    code_s3 = ({"bucket": fn.code["S3Bucket"], "key": fn.code["S3Key"]}
               if "S3Bucket" in fn.code else None)
    return {"credentials": _credentials(fn),"function_arn": fn.function_arn, "function_name": fn.function_name,
            "account": fn.account_id, "region": fn.region, "handler": fn.handler,
            "runtime": fn.run_time, "architectures": list(fn.architectures),
            "environment": dict(fn.environment_vars or {}), "timeout": fn.timeout,
            "memory_size": fn.memory_size, "role": fn.role, "code_zip": _code_zip(fn),
            "code_s3": code_s3, "code_sha256": fn.code_sha_256,
            "invocation_type": invocation_type, "payload": payload}


def _run(fn: LambdaFunction, invocation_type: str, payload: Any, attempt: int) -> Invocation:
    inv = Invocation(str(uuid.uuid4()), fn.function_arn, fn.function_name, fn.account_id, fn.region,
                     invocation_type, attempt, payload, time.time())
    with RUNNER.lock:
        RUNNER.log.append(inv)
    url = RUNNER.url
    if not url:
        inv.outcome, inv.error = "no-runner", NO_RUNNER
    else:
        try:
            body = json.dumps(_request(fn, invocation_type, payload)).encode()
        except PermissionError as e:
            inv.outcome, inv.error, inv.end = "runtime-error", str(e), time.time()
            return inv
        req = urllib.request.Request(url.rstrip("/") + "/invoke", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            # The function's own timeout bounds the run; the runner enforces it, this only
            # keeps a dead runner from hanging the caller forever.
            with urllib.request.urlopen(req, timeout=float(fn.timeout) + 60) as resp:
                answer = json.loads(resp.read() or b"null")
            inv.outcome = "error" if answer.get("outcome") == "error" else "response"
            inv.response = answer.get("payload")
        except urllib.error.HTTPError as e:
            inv.outcome, inv.error = "runtime-error", f"runner answered {e.code}: {e.read()[:500]!r}"
        except Exception as e:
            inv.outcome, inv.error = "runtime-error", f"runner unreachable: {e!r}"
        _deliver_logs(fn, inv)
    inv.end = time.time()
    return inv


def run_once(fn: LambdaFunction, payload: Any, invocation_type: str = "Event") -> Invocation:
    """One logged run, no retries, for callers that report each run themselves."""
    return _run(fn, invocation_type, payload, 1)


def _error_payload(inv: Invocation) -> Any:
    if inv.outcome == "error":
        return inv.response
    return {"errorType": "Runtime.EmulatorRunner", "errorMessage": inv.error}


def _async_settings(fn: LambdaFunction) -> tuple[int, dict[str, Any]]:
    retries, destination = DEFAULT_ASYNC_RETRIES, {}
    if fn.event_invoke_config:
        config = fn.event_invoke_config[0].config
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES))
        destination = config.get("DestinationConfig", {}).get("OnFailure", {})
    return retries, destination


def _failure_record(fn: LambdaFunction, inv: Invocation, request_id: str) -> dict[str, Any]:
    """The invocation record of an event that failed every attempt, as "Capturing records of Lambda
    asynchronous invocations" (invocation-async-retain-records.html) shows it: version, timestamp,
    requestContext (requestId, functionArn qualified with the version run, condition,
    approximateInvokeCount), requestPayload, responseContext (statusCode, executedVersion,
    functionError), responsePayload."""
    when = datetime.datetime.fromtimestamp(inv.end or time.time(), datetime.timezone.utc)
    return {"version": "1.0", "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "requestContext": {"requestId": request_id, "functionArn": f"{fn.function_arn}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": inv.attempt},
            "requestPayload": inv.payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": _error_payload(inv)}


def _dead_letter_attributes(inv: Invocation, request_id: str) -> dict[str, Any]:
    """"Dead-letter queues" (invocation-async-retain-records.html#invocation-dlq): "Lambda sends the
    event to the dead-letter queue as-is, with additional information in attributes": RequestID
    (String), ErrorCode (Number, "The 3-digit HTTP status code"), ErrorMessage (String, "The first 1 KB
    of the error message")."""
    error = _error_payload(inv)
    message = error.get("errorMessage") if isinstance(error, dict) else None
    message = str(message if message is not None else json.dumps(error))
    return {"RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": message.encode()[:1024].decode("utf-8", "ignore")}}


def _send_failure(fn: LambdaFunction, inv: Invocation, destination: dict[str, Any], request_id: str) -> None:
    """OnFailure destination first, else the dead-letter queue; only SQS targets are delivered
    (others are recorded in the log)."""
    target = destination.get("Destination") or (getattr(fn, "emu_dead_letter_config", None) or {}).get("TargetArn")
    if not target:
        return
    parts = target.split(":")
    if parts[2] != "sqs":
        inv.sent_to = target
        return
    # Lambda sends it with the function's execution role: the role needs sqs:SendMessage on the
    # queue ("Dead-letter queues": "your function's execution role needs permission"; "Configuring
    # destinations": the execution role's permissions), and the queue's policy is asked across
    # accounts. Refused: the event is lost, as in AWS, and the decision is recorded.
    try:
        credentials = _credentials(fn)
    except PermissionError:
        return
    caller = emu_authz.principal_of(credentials["access_key_id"])
    decision = emu_authz.decide(caller.principal, Authorization("sqs:SendMessage", target, parts[4]),
                                emu_authz.base_context(caller.principal, fn.region), caller)
    if not decision.allowed:
        return
    inv.sent_to = target
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[parts[4]][parts[3]]
    if destination.get("Destination") is None:
        queue.send_message(parts[5], json.dumps(inv.payload),
                           message_attributes=_dead_letter_attributes(inv, request_id))
    else:
        queue.send_message(parts[5], json.dumps(_failure_record(fn, inv, request_id)))


def _run_async(fn: LambdaFunction, payload: Any) -> None:
    retries, destination = _async_settings(fn)
    request_id = ""
    for attempt in range(1, retries + 2):
        inv = _run(fn, "Event", payload, attempt)
        # Retries are the same request: the first attempt's id is the request's id.
        request_id = request_id or inv.id
        if inv.outcome == "response":
            return
    _send_failure(fn, inv, destination, request_id)


def invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replaces ``LambdaFunction.invoke``. The Invoke API passes its headers; moto's event sources
    (S3 notifications, EventBridge, SNS) pass none, and AWS invokes those asynchronously."""
    payload = json.loads(body) if body else {}
    invocation_type = (request_headers.get("X-Amz-Invocation-Type") or request_headers.get("x-amz-invocation-type")
                       or "RequestResponse") if request_headers else "Event"
    if invocation_type == "Event":
        threading.Thread(target=_run_async, args=(self, payload), name=f"lambda-{self.function_name}",
                         daemon=True).start()
        return b""
    if invocation_type == "DryRun":
        return b""
    inv = _run(self, "RequestResponse", payload, 1)
    if inv.outcome == "response":
        return json.dumps(inv.response).encode()
    # Invoke API, X-Amz-Function-Error: "If present, indicates that an error occurred during function
    # execution"; the runner's failures are reported as Unhandled.
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(_error_payload(inv)).encode()


_orig_init = LambdaFunction.__init__
_orig_update_configuration = LambdaFunction.update_configuration


def _init(self: LambdaFunction, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
    _orig_init(self, account_id, spec, region, version)
    # moto drops DeadLetterConfig; the failed asynchronous events need it. LoggingConfig names the
    # log group Lambda writes to (default /aws/lambda/<name>).
    self.emu_dead_letter_config = spec.get("DeadLetterConfig")
    self.emu_logging_config = spec.get("LoggingConfig") or {}
    _check_role(self)


def _check_role(fn: LambdaFunction) -> None:
    """CreateFunction refuses a role Lambda may not assume: "The role defined for the function
    cannot be assumed by Lambda." (CreateFunction, Lambda API reference: InvalidParameterValueException)."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    decision = emu_authz.decide(emu_authz.Principal("service", "lambda.amazonaws.com", None),
                                Authorization("sts:AssumeRole", fn.role, fn.role.split(":")[4]), {})
    if not decision.allowed:
        raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")


def _deliver_logs(fn: LambdaFunction, inv: Invocation) -> None:
    """Lambda writes the function's logs to its log group with the execution role's permissions
    ("Sending Lambda function logs to CloudWatch Logs": the role needs logs:CreateLogStream and
    logs:PutLogEvents). The runner keeps the logs itself; what is checked here is whether Lambda
    could write them, and a refusal is recorded as AWS would drop the logs."""
    credentials = RUNNER.sessions.get((fn.function_arn, fn.role))
    if credentials is None:
        return
    caller = emu_authz.principal_of(credentials["access_key_id"])
    group = (getattr(fn, "emu_logging_config", {}) or {}).get("LogGroup") or f"/aws/lambda/{fn.function_name}"
    stream = f"{time.strftime('%Y/%m/%d', time.gmtime(inv.start))}/[$LATEST]{inv.id[:32]}"
    arn = f"arn:aws:logs:{fn.region}:{fn.account_id}:log-group:{group}:log-stream:{stream}"
    context = emu_authz.base_context(caller.principal, fn.region)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        emu_authz.decide(caller.principal, Authorization(action, arn, fn.account_id), context, caller)


def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "DeadLetterConfig" in config_updates:
        self.emu_dead_letter_config = config_updates["DeadLetterConfig"]
    if "LoggingConfig" in config_updates:
        self.emu_logging_config = config_updates["LoggingConfig"] or {}
    if config_updates.get("Role") and config_updates["Role"] != self.role:
        from moto.awslambda.exceptions import InvalidParameterValueException

        decision = emu_authz.decide(emu_authz.Principal("service", "lambda.amazonaws.com", None),
                                    Authorization("sts:AssumeRole", config_updates["Role"],
                                                  config_updates["Role"].split(":")[4]), {})
        if not decision.allowed:
            raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")
    if "Architectures" in config_updates:
        self.architectures = config_updates["Architectures"]
    return _orig_update_configuration(self, config_updates)


def _events_send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """EventBridge rule targets moto lacks: Lambda functions and SNS topics (asynchronous, as
    EventBridge delivers); every other target goes to moto's own code."""
    import copy

    from moto.events.models import EventTemplateParser
    from moto.utilities.arns import parse_arn

    # A rule with only a ScheduleExpression matches no event: its schedule alone triggers it
    # (API PutRule: "Rules with ScheduleExpressions self-trigger based on the given schedule");
    # moto's empty pattern matches everything. A scheduled run (emu_events.fire) reaches the targets
    # whatever the pattern: a rule with both "triggers on matching events as well as on a schedule".
    scheduled = getattr(self, "emu_scheduled_run", False)
    if not scheduled and not self.event_pattern._pattern:
        return
    if not scheduled and not self.event_pattern.matches_event(original_event):
        return
    # moto's own targets (SQS, logs, ...) read its fields; ours get the event as AWS sends it.
    aws_event = _as_aws_event(original_event)
    ours = [t for t in self.targets if parse_arn(t["Arn"]).service in ("lambda", "sns")]
    for target in ours:
        transformer = target.get("InputTransformer", {}) if transform_input else {}
        # moto's template parser reads its own ingestion-time field (the
        # <aws.events.event.ingestion-time> placeholder); the paths see the event as AWS sends it.
        event = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"), input_paths_map=transformer.get("InputPathsMap", {}),
            event={**aws_event, "ingestion-time": original_event.get("ingestion-time")}) \
            if transformer else aws_event
        arn = parse_arn(target["Arn"])
        # EventBridge delivers as events.amazonaws.com: the target's resource policy (a Lambda
        # permission, a topic policy, and the topic key's policy) must allow it for this rule
        # ("Using resource-based policies for Amazon EventBridge"); a refused delivery is a failed
        # invocation, and the event goes nowhere (the decision is recorded).
        if not eventbridge_may_deliver(self, target["Arn"], arn):
            continue
        if arn.service == "lambda":
            from moto.awslambda.utils import get_backend

            fn = get_backend(arn.account, arn.region).get_function(target["Arn"])
            fn.invoke(json.dumps(event), {}, {})
        else:
            from moto.sns.models import sns_backends

            message = event if isinstance(event, str) else json.dumps(event)
            sns_backends[arn.account][arn.region].publish(message=message, arn=target["Arn"])
    rest = copy.copy(self)
    rest.targets = [t for t in self.targets if t not in ours]
    if rest.targets:
        if scheduled:
            from moto.events.models import EventPattern

            rest.event_pattern = EventPattern(None, {})  # moto's own check would apply the pattern
        _orig_send_to_targets(rest, original_event, transform_input)


def eventbridge_may_deliver(rule: Any, target_arn: str, arn: Any) -> bool:
    action = "lambda:InvokeFunction" if arn.service == "lambda" else "sns:Publish"
    needed = [Authorization(action, target_arn, arn.account)]
    if arn.service == "sns":
        needed += emu_authz.sns_kms(target_arn, rule.account_id)
    return all(emu_authz.authorize_service("events.amazonaws.com", auth, source_account=rule.account_id,
                                           source_arn=rule.arn, region=rule.region_name).allowed
               for auth in needed)


def _as_aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it ("AWS service event metadata", eb-events-structure.html:
    ``time`` is an ISO 8601 UTC string such as ``2017-12-22T18:43:48Z``): moto puts epoch seconds
    there and adds an ``ingestion-time`` field AWS does not send."""
    import datetime

    event = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(event.get("time"), (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(event["time"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _orig_send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool) -> None:
    from moto.events.models import Rule

    Rule.__emu_orig_send_to_targets__(rule, event, transform_input)


# --------------------------------------------------------------------------------------------------
# Control endpoints
# --------------------------------------------------------------------------------------------------


def control(method: str, path: str, body: Any) -> tuple[int, Any] | None:
    if path == "/_emulator/lambda-runner":
        if method == "PUT":
            url = body.get("url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError('body needs {"url": "http://127.0.0.1:NNNN"}')
            RUNNER.url = url
        elif method == "DELETE":
            RUNNER.url = None
        return 200, {"url": RUNNER.url}
    if path == "/_emulator/lambda-invocations":
        if method == "DELETE":
            reset()
        with RUNNER.lock:
            return 200, {"invocations": [asdict(i) for i in RUNNER.log]}
    return None


def reset() -> None:
    """Clears the log (the runner registration stays: it is the emulator's configuration)."""
    with RUNNER.lock:
        RUNNER.log.clear()
        RUNNER.sessions.clear()


def install() -> None:
    from moto.events.models import Rule

    LambdaFunction.invoke = invoke
    LambdaFunction.__init__ = _init
    LambdaFunction.update_configuration = _update_configuration
    if not hasattr(Rule, "__emu_orig_send_to_targets__"):
        Rule.__emu_orig_send_to_targets__ = Rule.send_to_targets
    Rule.send_to_targets = _events_send_to_targets

