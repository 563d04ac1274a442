"""emu_lambda: what a failed asynchronous invocation leaves in its OnFailure destination or
dead-letter queue, as the Lambda Developer Guide documents it."""

from __future__ import annotations

import io
import json
import time
import zipfile

from conftest import ACCOUNT, REGION, client, control, trust


def function(emulator: str, name: str, send: str | None = None, **extra) -> str:
    """A function whose role may send to the queue ARN `send` (Lambda sends a failed event there with
    the function's execution role)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    iam = client(emulator, "iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    if send:
        iam.put_role_policy(RoleName=f"{name}-role", PolicyName="send", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": send}]}))
    return client(emulator, "lambda").create_function(FunctionName=name, Runtime="provided.al2023", Handler="bootstrap",
                                                       Role=role, Code={"ZipFile": buf.getvalue()}, **extra)["FunctionArn"]


def queue(emulator: str, name: str) -> tuple[str, str]:
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive(emulator: str, url: str) -> dict:
    sqs = client(emulator, "sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]).get("Messages", [])
        if messages:
            return messages[0]
        time.sleep(0.05)
    raise AssertionError("no message")


def test_failure_destination_gets_the_documented_invocation_record(emulator: str) -> None:
    control(emulator, "DELETE", "/_emulator/lambda-runner")  # no runner: every attempt fails
    lam = client(emulator, "lambda")
    url, arn = queue(emulator, "failures")
    fn = function(emulator, "fails", send=arn)
    lam.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": arn}})
    lam.invoke(FunctionName="fails", InvocationType="Event", Payload=b'{"order": 7}')
    record = json.loads(receive(emulator, url)["Body"])
    # "Capturing records of Lambda asynchronous invocations", the example invocation record.
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload", "responseContext",
                           "responsePayload"}
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z") and len(record["timestamp"]) == 24
    context = record["requestContext"]
    assert (context["functionArn"], context["condition"], context["approximateInvokeCount"]) == \
        (f"{fn}:$LATEST", "RetriesExhausted", 2)
    _, log = control(emulator, "GET", "/_emulator/lambda-invocations")
    assert context["requestId"] == log["invocations"][0]["id"]
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert "no Lambda runner registered" in record["responsePayload"]["errorMessage"]


def test_dead_letter_queue_message_carries_the_documented_attributes(emulator: str) -> None:
    control(emulator, "DELETE", "/_emulator/lambda-runner")
    lam = client(emulator, "lambda")
    url, arn = queue(emulator, "dead-letters")
    function(emulator, "dlq", send=arn, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName="dlq", MaximumRetryAttempts=0)
    lam.invoke(FunctionName="dlq", InvocationType="Event", Payload=b'{"order": 8}')
    message = receive(emulator, url)
    # "Dead-letter queues": the event as-is, with RequestID, ErrorCode and ErrorMessage attributes.
    assert json.loads(message["Body"]) == {"order": 8}
    attributes = message["MessageAttributes"]
    _, log = control(emulator, "GET", "/_emulator/lambda-invocations")
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": log["invocations"][0]["id"]}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"]["StringValue"].startswith("no Lambda runner registered")
    assert (ACCOUNT, REGION) == (arn.split(":")[4], arn.split(":")[3])


def test_a_role_that_may_not_send_to_the_dead_letter_queue_loses_the_event(emulator: str) -> None:
    # Lambda sends with the function's execution role: without sqs:SendMessage nothing arrives, and
    # the refusal is recorded.
    control(emulator, "DELETE", "/_emulator/lambda-runner")
    lam = client(emulator, "lambda")
    url, arn = queue(emulator, "unreachable")
    function(emulator, "mute", DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName="mute", MaximumRetryAttempts=0)
    lam.invoke(FunctionName="mute", InvocationType="Event", Payload=b"{}")
    deadline = time.monotonic() + 5
    refused = []
    while not refused and time.monotonic() < deadline:
        _, decisions = control(emulator, "GET", "/_emulator/authz/decisions")
        refused = [d for d in decisions["decisions"] if d["action"] == "sqs:SendMessage" and not d["allowed"]]
        time.sleep(0.05)
    assert refused and refused[0]["principal"].endswith("assumed-role/mute-role/mute")
    assert "Messages" not in client(emulator, "sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
