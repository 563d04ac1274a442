"""Scheduled EventBridge rules, fired on demand.

The emulator has no clock that runs schedules. ``POST /_emulator/events/fire-schedule
{"account", "region", "rule"}`` does what EventBridge does when a scheduled rule's time comes: it
sends each target the rule's ``Scheduled Event`` (its ``time`` the body's ``"time"`` when given: the moment the
schedule fires, for a simulated present; else now) (shape: EventBridge User Guide, "Creating a scheduled
rule (legacy) in Amazon EventBridge", eb-create-rule-schedule.html / the ``aws.events`` "Scheduled
Event" example: ``detail-type``
``Scheduled Event``, ``source`` ``aws.events``, ``resources`` the rule's ARN, empty ``detail``),
or the target's constant ``Input`` when it has one ("Target", EventBridge API reference). Lambda
targets are invoked here and now, one after the other, and the answer lists each invocation
(``outcome``, ``response``, ``error``) so a caller sees what the schedule's run did; other targets
are delivered as the rule delivers any event, once each, whatever the rule's ``EventPattern`` (PutRule:
a rule with both "triggers on matching events as well as on a schedule"). A rule without a
``ScheduleExpression`` or a disabled one is refused (400), as a schedule would never fire it.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import time
import uuid
from dataclasses import asdict
from typing import Any

import emu_lambda


def _scheduled_event(rule: Any, account: str, region: str, at: str | None = None) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account,
            "time": at or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region, "resources": [rule.arn], "detail": {}}


def fire(account: str, region: str, name: str, at: str | None = None) -> list[dict[str, Any]]:
    from moto.awslambda.utils import get_backend
    from moto.events.models import events_backends
    from moto.utilities.arns import parse_arn

    backend = events_backends[account][region]
    rule = backend.describe_rule(name, None)
    if not rule.scheduled_expression:
        raise ValueError(f"rule {name} has no ScheduleExpression: a schedule never fires it")
    if rule.state != "ENABLED":
        raise ValueError(f"rule {name} is {rule.state}: its schedule does not fire")
    event = _scheduled_event(rule, account, region, at)
    answers = []
    others = []
    for target in rule.targets:
        payload = json.loads(target["Input"]) if target.get("Input") else event
        arn = parse_arn(target["Arn"])
        if arn.service == "lambda":
            # EventBridge invokes as events.amazonaws.com: the function's permission must allow
            # this rule ("Using resource-based policies for Amazon EventBridge"); a refused
            # invocation is a failed one and the function does not run.
            fn = get_backend(arn.account, arn.region).get_function(target["Arn"])
            if not emu_lambda.eventbridge_may_deliver(rule, target["Arn"], arn):
                now = time.time()
                refused = emu_lambda.Invocation(
                    str(uuid.uuid4()), fn.function_arn, fn.function_name, fn.account_id, fn.region, "Event", 1,
                    payload, now, now, "error",
                    f"events.amazonaws.com may not invoke {fn.function_arn} for {rule.arn}: no Lambda permission "
                    "allows it (the function did not run; the decision is recorded)")
                answers.append(asdict(refused))
                continue
            answers.append(asdict(emu_lambda.run_once(fn, payload)))
        else:
            others.append(target)
    if others:
        # One delivery to the other targets together (send_to_targets sends to every target of the
        # rule it is given), on a copy so neither the rule's Lambda targets nor a concurrent event
        # see the scheduled run.
        scheduled = copy.copy(rule)
        scheduled.targets = others
        scheduled.emu_scheduled_run = True
        # moto's own targets read its envelope: epoch-second times and an ingestion time.
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        scheduled.send_to_targets({**event, "time": now, "ingestion-time": now})
    return answers


def scheduled_rules(account: str, region: str) -> list[dict[str, Any]]:
    """The enabled rules with a schedule in an account and Region, and their targets' ARNs."""
    from moto.events.models import events_backends

    out = []
    for bus in events_backends[account][region].event_buses.values():
        for rule in bus.rules.values():
            if rule.scheduled_expression and rule.state == "ENABLED":
                out.append({"rule": rule.name, "schedule": rule.scheduled_expression,
                            "targets": [t["Arn"] for t in rule.targets]})
    return out


def control(method: str, path: str, body: Any, query: dict[str, str] | None = None) -> tuple[int, Any] | None:
    if path == "/_emulator/events/scheduled-rules" and method == "GET":
        query = query or {}
        return 200, {"rules": scheduled_rules(query.get("account", "123456789012"),
                                              query.get("region", "us-east-1"))}
    if path == "/_emulator/events/fire-schedule" and method == "POST":
        if not isinstance(body, dict) or not body.get("rule"):
            raise ValueError('body needs {"account", "region", "rule"}')
        at = body.get("time")
        if at is not None and not (isinstance(at, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at)):
            raise ValueError('"time" is the scheduled time as EventBridge writes it: yyyy-mm-ddThh:mm:ssZ')
        return 200, {"invocations": fire(body.get("account", "123456789012"), body.get("region", "us-east-1"),
                                         body["rule"], at)}
    return None
