"""emu_events and the EventBridge fixes in emu_lambda: a scheduled rule matches no event and fires
only on its schedule (here, on demand); events reach targets shaped as AWS sends them."""

from __future__ import annotations

import json

from conftest import client, control


def queue(emulator: str, name: str) -> tuple[str, str]:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_a_scheduled_rule_matches_no_event_and_fires_on_its_schedule(emulator) -> None:
    events, sqs = client(emulator, "events"), client(emulator, "sqs")
    url, arn = queue(emulator, "scheduled")
    events.put_rule(Name="every-hour", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="every-hour", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    status, answer = control(emulator, "POST", "/_emulator/events/fire-schedule",
                             {"account": "123456789012", "region": "us-east-1", "rule": "every-hour"})
    assert status == 200, answer
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["detail-type"] == "Scheduled Event" and body["source"] == "aws.events"


def test_only_scheduled_rules_fire(emulator) -> None:
    events = client(emulator, "events")
    events.put_rule(Name="pattern", EventPattern=json.dumps({"source": ["app"]}))
    status, answer = control(emulator, "POST", "/_emulator/events/fire-schedule",
                             {"account": "123456789012", "region": "us-east-1", "rule": "pattern"})
    assert status == 400 and "no ScheduleExpression" in json.dumps(answer)


def test_pattern_rules_still_deliver(emulator) -> None:
    events, sqs = client(emulator, "events"), client(emulator, "sqs")
    url, arn = queue(emulator, "matched")
    events.put_rule(Name="pattern", EventPattern=json.dumps({"source": ["app"]}))
    events.put_targets(Rule="pattern", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_a_scheduled_firing_reaches_each_target_once_whatever_the_pattern(emulator) -> None:
    events, sqs = client(emulator, "events"), client(emulator, "sqs")
    first, first_arn = queue(emulator, "first")
    second, second_arn = queue(emulator, "second")
    # PutRule: a rule with both an EventPattern and a ScheduleExpression "triggers on matching events
    # as well as on a schedule".
    events.put_rule(Name="both", ScheduleExpression="rate(1 hour)", EventPattern=json.dumps({"source": ["app"]}))
    events.put_targets(Rule="both", Targets=[{"Id": "a", "Arn": first_arn}, {"Id": "b", "Arn": second_arn}])
    status, answer = control(emulator, "POST", "/_emulator/events/fire-schedule",
                             {"account": "123456789012", "region": "us-east-1", "rule": "both"})
    assert status == 200, answer
    for url in (first, second):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["Scheduled Event"]
    # The pattern still delivers matching events.
    events.put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert len(sqs.receive_message(QueueUrl=first, MaxNumberOfMessages=10)["Messages"]) == 1
