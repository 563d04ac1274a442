"""The emulator's CloudFormation: engine semantics on small templates, the five templates of cfn/
created, updated and deleted, StackSets over an organization, change sets, and the Lambda runner hook.

Custom resources here are answered by ``FakeRunner``, TEST SCAFFOLDING standing in for the Rust
Lambda runner: it implements the runner protocol (``POST /invoke``) and answers each custom
resource the way our functions do (one PUT to the ResponseURL), recording every event it got.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, EMULATOR, REGION, client, control, error_of, trust

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CFN = os.path.join(ROOT, "cfn")
PREFIX = "artifacts-test"
VERSION = "v1"
FUNCTIONS = ("glue-column-remover", "config-partitioner", "s3-cleanup", "sync-monitor", "quicksight-builder",
             "org-data-sync", "config-recorder", "ec2-os-tagger")
ORG_ID_PARAM = "o-abcde12345"
CAPS = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def template(name: str) -> str:
    """A template of cfn/ as deployed: its named queries' SQL included (cfn/render.py)."""
    sys.path.insert(0, CFN)
    import render

    return render.template(name)


def as_account(base: str, service: str, account: str, region: str = REGION) -> Any:
    return boto3.client(service, endpoint_url=base, region_name=region, aws_access_key_id=account,
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1},
                                                                 s3={"addressing_style": "path"}))


# --------------------------------------------------------------------------------------------------
# Test scaffolding: a fake Lambda runner
# --------------------------------------------------------------------------------------------------


class FakeRunner:
    """TEST SCAFFOLDING (the real runner is the Rust one): answers custom resources like our
    functions do, SUCCESS unless ``fail`` names the logical id (then FAILED with that reason; a Delete
    still succeeds, as crates/cfn-response's does after a failed Create), with
    the Data our functions return; ``silent`` logical ids get no answer, ``malformed`` ones a bad one.
    s3-cleanup empties the buckets on Delete when EmptyOnDelete is "true" (unless ``keep_objects``);
    config-recorder makes a recorder so the Config rules can be created."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.events: list[dict[str, Any]] = []
        self.fail: dict[str, str] = {}
        self.silent: set[str] = set()
        self.malformed: set[str] = set()
        self.keep_objects = False
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outcome = runner.handle(request)
                body = json.dumps(outcome).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        event = request["payload"]
        self.events.append(event)
        if isinstance(event, dict) and "ResponseURL" in event:
            self.answer(request, event)
        return {"outcome": "response", "payload": {"ok": True}}

    def answer(self, request: dict[str, Any], event: dict[str, Any]) -> None:
        logical = event["LogicalResourceId"]
        if logical in self.silent:
            return
        physical = event.get("PhysicalResourceId") or f"{logical}-{uuid.uuid4().hex[:8]}"
        answer: dict[str, Any] = {"Status": "SUCCESS", "PhysicalResourceId": physical,
                                  "StackId": event["StackId"], "RequestId": event["RequestId"],
                                  "LogicalResourceId": logical}
        if logical in self.fail and event["RequestType"] != "Delete":
            answer.update(Status="FAILED", Reason=self.fail[logical])
        else:
            answer["Data"] = self.data(request, event)
        body = b"not json" if logical in self.malformed else json.dumps(answer).encode()
        req = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
        urllib.request.urlopen(req, timeout=10).read()

    def data(self, request: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        props, kind = event["ResourceProperties"], event["ResourceType"]
        account, region = request["account"], request["region"]
        if kind == "Custom::S3Cleanup" and event["RequestType"] == "Delete" and props["EmptyOnDelete"] == "true" \
                and not self.keep_objects:
            s3 = as_account(self.base, "s3", account, region)
            for bucket in props["BucketNames"]:
                for v in s3.list_object_versions(Bucket=bucket).get("Versions", []):
                    s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        if kind == "Custom::ConfigRecorder":
            config = as_account(self.base, "config", account, region)
            if event["RequestType"] == "Delete":
                config.delete_configuration_recorder(ConfigurationRecorderName=props["RecorderName"])
            else:
                config.put_configuration_recorder(ConfigurationRecorder={"name": props["RecorderName"],
                                                                         "roleARN": props["RoleArn"]})
            return {"RecorderName": props["RecorderName"], "Created": "true", "Recording": "true",
                    "MissingResourceTypes": "none"}
        if kind == "Custom::QuickSightBuilder":
            return {"DataSourceArn": f"arn:aws:quicksight:{region}:{account}:datasource/{props['DataSourceId']}",
                    "DataSetIds": f"{props['DataSourceId']}-nodes"}
        if kind == "Custom::OrgDataSync":
            return {"SyncName": props["SyncName"]}
        if kind == "Custom::Ec2OsTagger":
            return {"InstancesTagged": "0", "ManagedInstancesTagged": "0"}
        return {"Echo": json.dumps(props)}

    def of(self, logical: str) -> list[dict[str, Any]]:
        return [e for e in self.events if isinstance(e, dict) and e.get("LogicalResourceId") == logical]


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers: a test says which stacks it makes and what it checks, these do the rest
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def runner(emulator: str):
    fake = FakeRunner(emulator)
    control(emulator, "PUT", "/_emulator/lambda-runner", {"url": fake.url})
    yield fake
    control(emulator, "DELETE", "/_emulator/lambda-runner")
    control(emulator, "PUT", "/_emulator/cloudformation/settings", {"custom_resource_timeout": None})
    fake.server.shutdown()


@pytest.fixture
def cf(emulator: str) -> Any:
    return client(emulator, "cloudformation")


@pytest.fixture
def artifacts(emulator: str) -> None:
    """The artifact bucket of REGION with every function's code, which the stacks' functions read."""
    publish(emulator)


def publish(base: str, account: str = ACCOUNT, region: str = REGION) -> None:
    """The artifact bucket <prefix>-<region> with a small zip per function (cfn/README.md, step 1)."""
    s3 = as_account(base, "s3", account, region)
    bucket = f"{PREFIX}-{region}"
    try:
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                          {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for fn in FUNCTIONS:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", f"#!/bin/sh\n# {fn}\n")
        s3.put_object(Bucket=bucket, Key=f"patch-compliance/{VERSION}/{fn}.zip", Body=buf.getvalue())


def params(**values: Any) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def wait(cf: Any, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.05)


def reasons(cf: Any, name: str) -> list[str]:
    """Every event with a reason, newest first (what a failed assertion shows)."""
    return [f"{e['LogicalResourceId']} {e['ResourceStatus']} {e['ResourceStatusReason']}"
            for e in cf.describe_stack_events(StackName=name)["StackEvents"] if e.get("ResourceStatusReason")]


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def settled(cf: Any, stack_id: str, expect: str) -> dict[str, Any]:
    """The stack once its operation has ended, which must have ended ``expect``."""
    stack = wait(cf, stack_id)
    assert stack["StackStatus"] == expect, reasons(cf, stack_id)
    return stack


def create(cf: Any, name: str, body: str, expect: str = "CREATE_COMPLETE", options: dict[str, Any] | None = None,
           **values: Any) -> dict[str, Any]:
    """Creates a stack (parameters ``values``, more CreateStack arguments in ``options``) and waits
    for it (by id, so a stack that OnFailure DELETE removed is still found)."""
    stack_id = cf.create_stack(StackName=name, TemplateBody=body, Parameters=params(**values), Capabilities=CAPS,
                               **(options or {}))["StackId"]
    return settled(cf, stack_id, expect)


def update(cf: Any, name: str, expect: str = "UPDATE_COMPLETE", body: str | None = None,
           options: dict[str, Any] | None = None, **values: Any) -> dict[str, Any]:
    """Updates a stack to ``body`` with parameters ``values``; without a body, the previous template with
    the previous value of every parameter not given."""
    given = params(**values)
    if body is None:
        current = {p["ParameterKey"] for p in cf.describe_stacks(StackName=name)["Stacks"][0]["Parameters"]}
        given += [{"ParameterKey": k, "UsePreviousValue": True} for k in current - set(values)]
    template = {"UsePreviousTemplate": True} if body is None else {"TemplateBody": body}
    cf.update_stack(StackName=name, Parameters=given, Capabilities=CAPS, **template, **(options or {}))
    return settled(cf, name, expect)


def delete(cf: Any, name: str, expect: str = "DELETE_COMPLETE", options: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    stack_id = cf.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
    cf.delete_stack(StackName=name, **(options or {}))
    return settled(cf, stack_id, expect)


def change_set(cf: Any, stack: str, name: str, **args: Any) -> dict[str, dict[str, Any]]:
    """Creates a change set (CreateChangeSet ``args``), waits until it can be executed and answers its
    ResourceChanges by logical id."""
    cf.create_change_set(StackName=stack, ChangeSetName=name, Capabilities=CAPS, **args)
    cf.get_waiter("change_set_create_complete").wait(StackName=stack, ChangeSetName=name, WaiterConfig={"Delay": 1})
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
            for c in cf.describe_change_set(StackName=stack, ChangeSetName=name)["Changes"]}


def execute(cf: Any, stack: str, name: str, expect: str = "UPDATE_COMPLETE") -> dict[str, Any]:
    cf.execute_change_set(StackName=stack, ChangeSetName=name)
    return settled(cf, stack, expect)


def physical(cf: Any, stack: str, logical: str) -> str:
    return cf.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"][
        "PhysicalResourceId"]


def settled_operation(cf: Any, stack_set: str, op_id: str) -> dict[str, Any]:
    """A StackSet operation once it has ended (or after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        op = cf.describe_stack_set_operation(StackSetName=stack_set, OperationId=op_id)["StackSetOperation"]
        if op["Status"] not in ("RUNNING", "QUEUED") or time.monotonic() > deadline:
            return op
        time.sleep(0.05)


def fail_next(emulator: str, service: str, operation: str) -> None:
    status, _ = control(emulator, "POST", "/_emulator/faults", {"service": service, "operation": operation,
                                                                "code": "AccessDenied", "message": "injected",
                                                                "times": 1})
    assert status == 200


# The small templates' parts: a stack of one queue, and the function (with its role) that answers
# their custom resources, its code in the bucket ``artifacts`` makes.
QUEUE = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
FUNCTION = """\
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: !Sub "artifacts-test-${AWS::Region}", S3Key: patch-compliance/v1/s3-cleanup.zip}
"""


# --------------------------------------------------------------------------------------------------
# Engine semantics on small templates
# --------------------------------------------------------------------------------------------------

SEMANTICS = """
Transform: AWS::LanguageExtensions
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
  Size: {Type: Number, Default: 30, MinValue: 10, MaxValue: 100}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
  Code: {Type: String, Default: ab, AllowedPattern: "[a-z]+", MinLength: 2, NoEcho: true}
  Keep: {Type: String, Default: "false", AllowedValues: ["true", "false"]}
  QueueSuffix: {Type: String, Default: one}
Rules:
  ProdIsBig:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !Contains [["60", "100"], !Ref Size]
        AssertDescription: prod needs Size 60 or 100
Mappings:
  Sizes: {dev: {Label: small}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  KeepIt: !Equals [!Ref Keep, "true"]
  Both: !And [!Condition NotProd, !Or [!Equals [!Ref Size, 30], !Condition IsProd]]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    DeletionPolicy: !If [KeepIt, Retain, Delete]
    UpdateReplacePolicy: Delete
    Properties:
      QueueName: !Sub "q-${AWS::StackName}-${QueueSuffix}"
      VisibilityTimeout: !Ref Size
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Join ["/", ["", !Select [1, !Split ["-", !Sub "x-${Env}-y"]], !Ref AWS::Region]]
      RetentionInDays: !If [Both, 7, 14]
  Check:
    Type: Custom::Check
    DependsOn: Group
    Properties:
      ServiceToken: !GetAtt Fn.Arn
      Literal: !Sub "${!NotAVar}-${Queue.QueueName}"
      Names: [!Select [0, !Ref Names], !If [IsProd, prod, !Ref AWS::NoValue], "last"]
      Count: {"Fn::Length": [1, 2, 3]}
      Json: {"Fn::ToJsonString": {a: [1, true]}}
      Label: !FindInMap [Sizes, !Ref Env, Label, {DefaultValue: big}]
      B64: !Base64 hi
      Zones: !Select [0, !GetAZs ""]
      Id8: !Select [0, !Split ["-", !Select [2, !Split ["/", !Ref AWS::StackId]]]]
      Flag: true
      Num: 5
""" + FUNCTION + """\
Outputs:
  QueueUrl: {Value: !Ref Queue, Export: {Name: !Sub "${AWS::StackName}-QueueUrl"}}
  Echo: {Value: !GetAtt Check.Echo}
  Prod: {Condition: IsProd, Value: yes}
"""


def test_parameters_rules_and_capabilities_fail_at_the_call(cf: Any, runner: FakeRunner) -> None:
    cases = [
        (params(Env="test"), "Parameter 'Env' must be one of AllowedValues"),
        (params(Size="5"), "Parameter 'Size' must be a number not less than 10"),
        (params(Size="abc"), "Parameter 'Size' must be a number"),
        (params(Code="A1"), "Parameter 'Code' must match pattern [a-z]+"),
        (params(Code="a"), "Parameter 'Code' must contain at least 2 characters"),
        (params(Nope="x"), "Parameters: [Nope] do not exist in the template"),
        (params(Env="prod"), "prod needs Size 60 or 100"),
    ]
    for given, message in cases:
        with pytest.raises(cf.exceptions.ClientError) as exc:
            cf.create_stack(StackName="bad", TemplateBody=SEMANTICS, Parameters=given, Capabilities=CAPS)
        assert error_of(exc) == (400, "ValidationError", message)
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack(StackName="bad", TemplateBody=SEMANTICS, Capabilities=["CAPABILITY_IAM"])
    assert error_of(exc)[1:] == ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.describe_stacks(StackName="bad")
    assert error_of(exc) == (400, "ValidationError", "Stack with id bad does not exist")
    body = "Resources:\n  X:\n    Type: AWS::Nope::Thing\n"
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack(StackName="bad", TemplateBody=body)
    assert "AWS::Nope::Thing" in error_of(exc)[2]


def test_intrinsics_conditions_policies_and_replacement(emulator: str, cf: Any, runner: FakeRunner,
                                                       artifacts: None) -> None:
    sqs = client(emulator, "sqs")
    stack = create(cf, "sem", SEMANTICS)
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Code"] == "****"
    (event,) = runner.of("Check")
    props = event["ResourceProperties"]
    stack_id8 = stack["StackId"].split("/")[2].split("-")[0]
    assert props == {"ServiceToken": props["ServiceToken"], "Literal": "${NotAVar}-q-sem-one",
                     "Names": ["a", "last"], "Count": "3", "Json": '{"a":[1,true]}', "Label": "small",
                     "B64": "aGk=", "Zones": "us-east-1a", "Id8": stack_id8, "Flag": "true", "Num": "5"}
    assert event["ResponseURL"].startswith(emulator + "/_emulator/cloudformation/responses/")
    assert outputs(stack)["Echo"] == json.dumps(props)
    assert "Prod" not in outputs(stack)
    logs = client(emulator, "logs").describe_log_groups(logGroupNamePrefix="/dev")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in logs] == [("/dev/us-east-1", 7)]
    exports = cf.list_exports()["Exports"]
    assert [e["Name"] for e in exports] == ["sem-QueueUrl"]
    importer = create(cf, "imp", QUEUE + "    Properties: {Tags: [{Key: url, Value: !ImportValue sem-QueueUrl}]}\n")
    assert importer["StackStatus"] == "CREATE_COMPLETE"
    old_url = outputs(stack)["QueueUrl"]

    # QueueName requires replacement: a new queue, then the old one goes in the cleanup phase; the
    # export changes, which the importing stack does not block (AWS would: not reproduced).
    stack = update(cf, "sem", QueueSuffix="two", Keep="true")
    new_url = outputs(stack)["QueueUrl"]
    assert new_url != old_url and new_url.endswith("q-sem-two")
    assert not any(u.endswith("q-sem-one") for u in sqs.list_queues()["QueueUrls"])
    statuses = [e["ResourceStatus"] for e in cf.describe_stack_events(StackName="sem")["StackEvents"]]
    assert statuses[0] == "UPDATE_COMPLETE" and "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in statuses
    (_, check_update) = runner.of("Check")
    assert check_update["RequestType"] == "Update"
    assert check_update["OldResourceProperties"]["Literal"] == "${NotAVar}-q-sem-one"

    with pytest.raises(cf.exceptions.ClientError) as exc:
        update(cf, "sem")
    assert error_of(exc) == (400, "ValidationError", "No updates are to be performed.")

    # An export in use blocks the exporting stack's deletion.
    stack_id = stack["StackId"]
    failed = delete(cf, "sem", expect="DELETE_FAILED")
    assert failed["StackStatusReason"] == "Export sem-QueueUrl cannot be deleted as it is in use by imp"
    delete(cf, "imp")
    # Keep=true: DeletionPolicy !If [KeepIt, Retain, Delete] retains the queue.
    delete(cf, stack_id)
    assert any(u.endswith("q-sem-two") for u in sqs.list_queues()["QueueUrls"])
    assert cf.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(cf.exceptions.ClientError):
        cf.describe_stacks(StackName="sem")
    assert [e["RequestType"] for e in runner.of("Check")] == ["Create", "Update", "Delete"]


def test_waiters_and_listing(cf: Any, runner: FakeRunner) -> None:
    body = QUEUE
    cf.create_stack(StackName="w", TemplateBody=body)
    cf.get_waiter("stack_create_complete").wait(StackName="w", WaiterConfig={"Delay": 1})
    cf.update_stack(StackName="w", TemplateBody=body.replace("Queue\n", "Queue\n    Properties: {DelaySeconds: 5}\n"))
    cf.get_waiter("stack_update_complete").wait(StackName="w", WaiterConfig={"Delay": 1})
    (res,) = cf.list_stack_resources(StackName="w")["StackResourceSummaries"]
    assert res["ResourceStatus"] == "UPDATE_COMPLETE"
    detail = cf.describe_stack_resource(StackName="w", LogicalResourceId="Q")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == res["PhysicalResourceId"]
    assert cf.get_template(StackName="w")["TemplateBody"].endswith("DelaySeconds: 5}\n")
    summary = cf.get_template_summary(TemplateBody=SEMANTICS)
    assert summary["Capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert {p["ParameterKey"] for p in cf.validate_template(TemplateBody=SEMANTICS)["Parameters"]} >= {"Env", "Size"}
    cf.delete_stack(StackName="w")
    cf.get_waiter("stack_delete_complete").wait(StackName="w", WaiterConfig={"Delay": 1})
    assert [s["StackStatus"] for s in cf.list_stacks()["StackSummaries"]] == ["DELETE_COMPLETE"]


# --------------------------------------------------------------------------------------------------
# Failures: custom resources, injected faults, non-empty buckets
# --------------------------------------------------------------------------------------------------

CUSTOM = """
Parameters:
  Value: {Type: String, Default: one}
Resources:
""" + FUNCTION + """\
  Bucket:
    Type: AWS::S3::Bucket
  Thing:
    Type: Custom::Thing
    DependsOn: Bucket
    Properties:
      ServiceToken: !GetAtt Fn.Arn
      ServiceTimeout: 600
      Value: !Ref Value
  After:
    Type: AWS::SQS::Queue
    DependsOn: Thing
Outputs:
  Missing: {Value: !GetAtt Thing.Echo}
"""


def test_failed_custom_resource_rolls_back_and_gets_its_delete(emulator: str, cf: Any, runner: FakeRunner,
                                                              artifacts: None) -> None:
    s3 = client(emulator, "s3")
    runner.fail["Thing"] = "the sync exists with another destination"
    stack_id = create(cf, "cr", CUSTOM, expect="ROLLBACK_COMPLETE")["StackId"]
    events = reasons(cf, "cr")
    assert any(r.startswith("Thing CREATE_FAILED Received response status [FAILED] from custom resource. "
                            "Message returned: the sync exists with another destination") for r in events)
    create_event, delete_event = runner.of("Thing")
    assert (create_event["RequestType"], delete_event["RequestType"]) == ("Create", "Delete")
    assert delete_event["PhysicalResourceId"].startswith("Thing-")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["artifacts-test-us-east-1"]
    assert not client(emulator, "sqs").list_queues().get("QueueUrls")
    # A stack in ROLLBACK_COMPLETE can only be deleted.
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.update_stack(StackName="cr", TemplateBody=CUSTOM, Capabilities=CAPS)
    assert "ROLLBACK_COMPLETE state and can not be updated" in error_of(exc)[2]
    delete(cf, stack_id)


def test_timeouts_malformed_answers_and_missing_attributes(emulator: str, cf: Any, runner: FakeRunner,
                                                          artifacts: None) -> None:
    control(emulator, "PUT", "/_emulator/cloudformation/settings", {"custom_resource_timeout": 0.5})
    runner.silent.add("Thing")
    create(cf, "t1", CUSTOM, expect="CREATE_FAILED", options={"OnFailure": "DO_NOTHING"})
    assert any("Thing CREATE_FAILED CloudFormation did not receive a response from your Custom Resource" in r
               for r in reasons(cf, "t1"))
    runner.silent.clear()
    runner.malformed.add("Thing")
    create(cf, "t2", CUSTOM, expect="CREATE_FAILED", options={"DisableRollback": True})
    assert "Thing CREATE_FAILED Invalid response object: the body is not JSON" in reasons(cf, "t2")
    runner.malformed.clear()
    body = CUSTOM.replace("!GetAtt Thing.Echo", "!GetAtt Thing.Nope")
    stack_id = create(cf, "t3", body, expect="DELETE_COMPLETE", options={"OnFailure": "DELETE"})["StackId"]
    assert any("CustomResource attribute error: Vendor response doesn't contain Nope attribute" in r
               for r in reasons(cf, stack_id))


def test_injected_fault_rolls_back_an_update(emulator: str, cf: Any, runner: FakeRunner, artifacts: None) -> None:
    create(cf, "f", CUSTOM)
    queue_before = physical(cf, "f", "After")
    body = CUSTOM.replace("    DependsOn: Thing\n", "    DependsOn: Thing\n    Properties: {DelaySeconds: 9}\n")
    fail_next(emulator, "sqs", "SetQueueAttributes")
    stack = update(cf, "f", expect="UPDATE_ROLLBACK_COMPLETE", body=body, Value="two")
    assert any(r.startswith("After UPDATE_FAILED Resource handler returned message: \"injected\"") for r in reasons(cf, "f"))
    # The custom resource was updated to "two", then back to "one" by the rollback.
    updates = [e for e in runner.of("Thing") if e["RequestType"] == "Update"]
    assert [e["ResourceProperties"]["Value"] for e in updates] == ["two", "one"]
    assert physical(cf, "f", "After") == queue_before
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {"Value": "one"}

    # A bucket with an object cannot be deleted: DELETE_FAILED, then RetainResources.
    bucket = physical(cf, "f", "Bucket")
    client(emulator, "s3").put_object(Bucket=bucket, Key="k", Body=b"x")
    failed = delete(cf, "f", expect="DELETE_FAILED")
    assert failed["StackStatusReason"] == "The following resource(s) failed to delete: [Bucket]. "
    assert any(r.startswith("Bucket DELETE_FAILED Resource handler returned message: \"The bucket you tried to "
                            "delete is not empty") for r in reasons(cf, "f"))
    delete(cf, failed["StackId"], options={"RetainResources": ["Bucket"]})
    assert client(emulator, "s3").head_bucket(Bucket=bucket)


def test_change_sets(emulator: str, cf: Any, runner: FakeRunner, artifacts: None) -> None:
    changes = change_set(cf, "cs", "first", TemplateBody=CUSTOM, ChangeSetType="CREATE")
    assert cf.describe_stacks(StackName="cs")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert {c["Action"] for c in changes.values()} == {"Add"}
    execute(cf, "cs", "first", expect="CREATE_COMPLETE")

    body = CUSTOM.replace("  Bucket:\n    Type: AWS::S3::Bucket\n", "  Bucket:\n    Type: AWS::S3::Bucket\n"
                          "    Properties: {BucketName: !Sub 'cs-${Value}'}\n").replace(
        "  After:\n    Type: AWS::SQS::Queue\n    DependsOn: Thing\n", "")
    changes = change_set(cf, "cs", "second", TemplateBody=body, Parameters=params(Value="two"))
    assert (changes["Bucket"]["Action"], changes["Bucket"]["Replacement"]) == ("Modify", "True")
    assert changes["After"]["Action"] == "Remove"
    assert (changes["Thing"]["Action"], changes["Thing"]["Replacement"]) == ("Modify", "False")
    assert changes["Thing"]["Details"][0]["Evaluation"] == "Static"

    cf.create_change_set(StackName="cs", ChangeSetName="same", UsePreviousTemplate=True, Capabilities=CAPS,
                         Parameters=[{"ParameterKey": "Value", "UsePreviousValue": True}])
    with pytest.raises(Exception):
        cf.get_waiter("change_set_create_complete").wait(StackName="cs", ChangeSetName="same",
                                                         WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    same = cf.describe_change_set(StackName="cs", ChangeSetName="same")
    assert (same["Status"], same["StatusReason"]) == ("FAILED", "The submitted information didn't contain "
                                                                "changes. Submit different information to create a change set.")
    assert len(cf.list_change_sets(StackName="cs")["Summaries"]) == 3
    execute(cf, "cs", "second")
    assert [s["ChangeSetName"] for s in cf.list_change_sets(StackName="cs")["Summaries"]] == ["second"]
    assert client(emulator, "s3").head_bucket(Bucket="cs-two")
    cf.delete_change_set(StackName="cs", ChangeSetName="second")
    delete(cf, "cs")


# --------------------------------------------------------------------------------------------------
# The Lambda runner hook
# --------------------------------------------------------------------------------------------------


def test_lambda_invocations_go_to_the_runner(emulator: str, runner: FakeRunner, artifacts: None) -> None:
    lam, iam = client(emulator, "lambda"), client(emulator, "iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    fn = lam.create_function(FunctionName="f", Runtime="provided.al2023", Handler="bootstrap", Role=role,
                             Code={"S3Bucket": f"{PREFIX}-{REGION}", "S3Key": "patch-compliance/v1/sync-monitor.zip"},
                             Environment={"Variables": {"AB": "1"}}, Architectures=["arm64"], Timeout=9)
    out = lam.invoke(FunctionName="f", Payload=b'{"x": 1}')
    assert json.loads(out["Payload"].read()) == {"ok": True}
    events = client(emulator, "events")
    rule = events.put_rule(Name="r", EventPattern=json.dumps({"source": ["test"]}))["RuleArn"]
    events.put_targets(Rule="r", Targets=[{"Id": "f", "Arn": fn["FunctionArn"]}])
    # EventBridge invokes as events.amazonaws.com: without the function's permission for this rule
    # nothing is delivered ("Using resource-based policies for Amazon EventBridge").
    events.put_events(Entries=[{"Source": "test", "DetailType": "d", "Detail": "{}"}])
    time.sleep(0.3)
    assert len(runner.events) == 1
    _, decisions = control(emulator, "GET", "/_emulator/authz/decisions")
    assert any(d["principal"] == "events.amazonaws.com" and not d["allowed"] for d in decisions["decisions"])
    lam.add_permission(FunctionName="f", StatementId="events", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule)
    events.put_events(Entries=[{"Source": "test", "DetailType": "d", "Detail": "{}"}])
    deadline = time.monotonic() + 5
    while len(runner.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.events[1]["source"] == "test"
    _, log = control(emulator, "GET", "/_emulator/lambda-invocations")
    first = log["invocations"][0]
    assert (first["function_name"], first["invocation_type"], first["outcome"]) == ("f", "RequestResponse", "response")
    assert log["invocations"][1]["invocation_type"] == "Event"
    control(emulator, "DELETE", "/_emulator/lambda-runner")
    out = lam.invoke(FunctionName="f", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorMessage"] == "no Lambda runner registered: PUT /_emulator/lambda-runner"


# --------------------------------------------------------------------------------------------------
# The five templates
# --------------------------------------------------------------------------------------------------


def test_central_reporting_create_update_delete(emulator: str, cf: Any, runner: FakeRunner, artifacts: None) -> None:
    s3 = client(emulator, "s3")
    body = template("central-reporting.yaml")
    stack = create(cf, "central", body, OrganizationId=ORG_ID_PARAM, ArtifactBucketPrefix=PREFIX,
                   ArtifactVersion=VERSION, EnableConfigAnalytics="true", AlarmEmail="ops@example.com")
    out = outputs(stack)
    assert set(out) >= {"SyncBucketName", "DatabaseName", "WorkGroupName", "CrawlerName", "ConfigBucketName",
                        "ConfigSnapshotTable", "KmsKeyArn", "AlarmTopicArn"}
    resources = cf.list_stack_resources(StackName="central")["StackResourceSummaries"]
    assert len(resources) == 79 and {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
    fn_env = client(emulator, "lambda").get_function(FunctionName=next(
        r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "ColumnRemoverFunction"))
    assert fn_env["Configuration"]["Environment"]["Variables"]["DATABASE_NAME"] == out["DatabaseName"]
    (cleanup,) = runner.of("BucketCleanup")
    assert cleanup["ResourceProperties"]["EmptyOnDelete"] == "true"
    assert cleanup["ResourceProperties"]["BucketNames"] == [out["SyncBucketName"], out["AthenaResultsBucketName"],
                                                            out["ReportsBucketName"], out["ConfigBucketName"]]
    notification = s3.get_bucket_notification_configuration(Bucket=out["ConfigBucketName"])
    assert notification["LambdaFunctionConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
    for bucket in (out["SyncBucketName"], out["AthenaResultsBucketName"]):
        s3.put_object(Bucket=bucket, Key="inventory/x.json", Body=b"{}")

    # KeepDataOnDelete both ways: nothing is replaced or deleted, the cleanup only gets Updates.
    update(cf, "central", KeepDataOnDelete="true")
    update(cf, "central", KeepDataOnDelete="false")
    stack = update(cf, "central", KeepDataOnDelete="true")
    assert [e["RequestType"] for e in runner.of("BucketCleanup")] == ["Create", "Update", "Update", "Update"]
    assert [e["ResourceProperties"]["EmptyOnDelete"] for e in runner.of("BucketCleanup")] == ["true", "false", "true", "false"]
    assert outputs(stack)["SyncBucketName"] == out["SyncBucketName"]
    assert s3.get_object(Bucket=out["SyncBucketName"], Key="inventory/x.json")["Body"].read() == b"{}"

    # The report's settings and its optional Organizations role, on and off: the function's
    # environment and its role's AssumeRole statement follow, and nothing is replaced.
    report = physical(cf, "central", "ComplianceReportFunction")
    report_role = physical(cf, "central", "ComplianceReportRole")
    reader = "arn:aws:iam::123456789012:role/patch-compliance-organization-reader"

    def report_settings() -> tuple[dict[str, str], list[dict]]:
        env = client(emulator, "lambda").get_function(FunctionName=report)["Configuration"]["Environment"]["Variables"]
        policy = client(emulator, "iam").get_role_policy(RoleName=report_role, PolicyName="compliance-report")
        document = policy["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        return env, [s for s in document["Statement"] if "sts:AssumeRole" in str(s["Action"])]

    update(cf, "central", ReportOrganizationsRoleArn=reader, ReportOwnerTagKey="Cost centre",
           ReportSlaDays="CRITICAL=7,default=21", ReportSchedule="rate(12 hours)")
    env, assume = report_settings()
    assert (env["ORGANIZATIONS_ROLE_ARN"], env["OWNER_TAG_KEY"], env["SLA_DAYS"]) == \
        (reader, "Cost centre", "CRITICAL=7,default=21")
    assert [s["Resource"] for s in assume] == [reader]
    update(cf, "central", ReportOrganizationsRoleArn="")
    env, assume = report_settings()
    assert "ORGANIZATIONS_ROLE_ARN" not in env and not assume
    assert physical(cf, "central", "ComplianceReportFunction") == report

    # Optional parts off and on again; the schedules and a database name change.
    stack = update(cf, "central", EnableConfigAnalytics="false", CrawlerSchedule="", ColumnFixSchedule="",
                   AlarmEmail="", DatabaseName="renamed_db", LogRetentionDays="30", StaleNodeFileDays="90")
    assert "ConfigBucketName" not in outputs(stack)
    assert outputs(stack)["DatabaseName"] == "renamed_db"
    assert client(emulator, "glue").get_crawler(Name=out["CrawlerName"])["Crawler"].get("Schedule") is None
    # The Config bucket was retained (KeepDataOnDelete true) when EnableConfigAnalytics went false.
    assert s3.head_bucket(Bucket=out["ConfigBucketName"])
    stack = update(cf, "central", EnableConfigAnalytics="true", CrawlerSchedule="cron(0 1 * * ? *)",
                   ColumnFixSchedule="rate(2 hours)", DatabaseName="", KeepDataOnDelete="false",
                   ExistingConfigBucket="org-config", ExistingConfigBucketAccount="111111111111")
    assert outputs(stack)["ConfigBucketName"] == "org-config"
    # The statements the owner of an existing (Control Tower) Config bucket adds let this account
    # read the Config deliveries and nothing else there, CloudTrail's logs included.
    statements = json.loads(outputs(stack)["ExistingConfigBucketPolicyStatement"])
    assert [st["Sid"] for st in statements][0] == "PatchComplianceReadsConfigDeliveries"
    archive = boto3.client("s3", endpoint_url=emulator, region_name=REGION, aws_access_key_id="111111111111",
                           aws_secret_access_key="x")
    archive.create_bucket(Bucket="org-config")
    archive.put_bucket_policy(Bucket="org-config", Policy=json.dumps({"Version": "2012-10-17",
                                                                      "Statement": statements}))
    config_key = "o-abc/AWSLogs/111111111111/Config/us-east-1/2026/1/1/ConfigSnapshot/x.json.gz"
    trail_key = "o-abc/AWSLogs/o-abc/111111111111/CloudTrail/us-east-1/2026/1/1/x.json.gz"
    for key in (config_key, trail_key):
        archive.put_object(Bucket="org-config", Key=key, Body=b"x")
    reader = s3  # this (central) account's administrator: its IAM allows everything
    assert reader.get_object(Bucket="org-config", Key=config_key)["Body"].read() == b"x"
    reader.list_objects_v2(Bucket="org-config", Prefix="o-abc/AWSLogs/111111111111/Config/")
    for refused in (lambda: reader.get_object(Bucket="org-config", Key=trail_key),
                    lambda: reader.list_objects_v2(Bucket="org-config", Prefix="o-abc/AWSLogs/o-abc/")):
        with pytest.raises(ClientError) as e:
            refused()
        assert error_of(e)[:2] == (403, "AccessDenied")

    # Delete with KeepDataOnDelete false: s3-cleanup empties the buckets, then they go.
    delete(cf, "central")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert out["SyncBucketName"] not in names and out["AthenaResultsBucketName"] not in names
    assert runner.of("BucketCleanup")[-1]["RequestType"] == "Delete"
    # Retained by their DeletionPolicy: the crawler log group and (from the earlier update) the Config bucket.
    assert client(emulator, "logs").describe_log_groups(logGroupNamePrefix="/aws-glue/crawlers")["logGroups"]


def test_quicksight_stack(emulator: str, cf: Any, runner: FakeRunner, artifacts: None) -> None:
    iam = client(emulator, "iam")
    for role in ("aws-quicksight-service-role-v0", "other-role"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust("quicksight.amazonaws.com"))
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    base = dict(WorkGroup="wg", Database="db", PrincipalArns=f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/a",
                SyncBucketName="sync-b", AthenaResultsBucketName="athena-b", KmsKeyArn=key,
                ArtifactBucketPrefix=PREFIX, ArtifactVersion=VERSION)
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack(StackName="qs", TemplateBody=template("quicksight.yaml"), Capabilities=CAPS,
                        Parameters=params(**base, ConfigSnapshotTable="aws_config_snapshot"))
    assert error_of(exc)[2].startswith("ConfigBucketName is required with ConfigSnapshotTable")
    stack = create(cf, "qs", template("quicksight.yaml"), **base)
    assert outputs(stack)["DataSetIds"].endswith("-nodes")
    policy_arn = iam.list_attached_role_policies(RoleName="aws-quicksight-service-role-v0")["AttachedPolicies"][0]["PolicyArn"]
    update(cf, "qs", QuickSightRoleNames="other-role", ConfigSnapshotTable="aws_config_snapshot",
           ConfigBucketName="cfg-b", ImportMode="SPICE")
    assert iam.list_attached_role_policies(RoleName="aws-quicksight-service-role-v0")["AttachedPolicies"] == []
    assert iam.list_attached_role_policies(RoleName="other-role")["AttachedPolicies"][0]["PolicyArn"] == policy_arn
    assert iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"] == "v2"
    update(cf, "qs", QuickSightRoleNames="")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=policy_arn)
    assert [e["RequestType"] for e in runner.of("Datasets")] == ["Create", "Update"]
    delete(cf, "qs")
    assert [e["RequestType"] for e in runner.of("Datasets")][-1] == "Delete"


def test_member_patching_and_cloudtrail_lake(emulator: str, cf: Any, runner: FakeRunner, artifacts: None) -> None:
    ssm = client(emulator, "ssm")
    body = template("member-patching.yaml")
    stack = create(cf, "mp", body, ConfigBucketName="cfg-b", ArtifactBucketPrefix=PREFIX, ArtifactVersion=VERSION,
                   BaselineAmazonLinux2023="CreateAsDefault", PatchGroup="web", CreateInstallWindow="true")
    assert outputs(stack)["ConfigRecorderCreatedByThisStack"] == "true"
    associations = ssm.list_associations()["Associations"]
    assert sorted(a["Name"] for a in associations) == ["AWS-GatherSoftwareInventory", "AWS-RunPatchBaseline",
                                                       "AWS-UpdateSSMAgent"]
    rules = client(emulator, "config").describe_config_rules()["ConfigRules"]
    assert len(rules) == 2
    stack = update(cf, "mp", EnableConfigRules="false", CreateInventoryAssociation="false",
                   AgentUpdateSchedule="rate(7 days)", ApproveAfterDays="3", RebootOption="NoReboot",
                   InstallWindowSchedule="cron(0 5 ? * SAT *)", BaselineWindows="Create")
    assert "ConfigRecorderName" not in outputs(stack)
    assert client(emulator, "config").describe_config_rules()["ConfigRules"] == []
    agent = next(a for a in ssm.list_associations()["Associations"] if a["Name"] == "AWS-UpdateSSMAgent")
    assert agent["ScheduleExpression"] == "rate(7 days)"
    assert [e["RequestType"] for e in runner.of("ConfigRecorder")] == ["Create", "Delete"]
    update(cf, "mp", EnableConfigRules="true", CreateInventoryAssociation="true", CreateInstallWindow="false",
           PatchGroup="")
    delete(cf, "mp")
    assert ssm.list_associations()["Associations"] == []

    trail = client(emulator, "cloudtrail")
    stack = create(cf, "lake", template("cloudtrail-lake.yaml"))
    arn = outputs(stack)["EventDataStoreArn"]
    with pytest.raises(cf.exceptions.ClientError) as exc:
        update(cf, "lake", BillingMode="FIXED_RETENTION_PRICING", RetentionDays="3653")
    assert error_of(exc)[2].startswith("FIXED_RETENTION_PRICING keeps at most 2557 days")
    update(cf, "lake", BillingMode="FIXED_RETENTION_PRICING", TerminationProtection="false")
    assert trail.get_event_data_store(EventDataStore=arn)["BillingMode"] == "FIXED_RETENTION_PRICING"
    delete(cf, "lake")
    assert trail.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"  # DeletionPolicy: Retain


def test_member_data_sync_stack_set_over_organization_units(emulator: str, cf: Any, runner: FakeRunner) -> None:
    org = client(emulator, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    parent = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    child = org.create_organizational_unit(ParentId=parent, Name="prod")["OrganizationalUnit"]["Id"]
    accounts = []
    for i, ou in enumerate((parent, child, child)):
        account_id = org.create_account(AccountName=f"m{i}", Email=f"m{i}@example.com")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
        accounts.append(account_id)
    regions = ["us-east-1", "eu-west-1"]
    for region in regions:
        publish(emulator, ACCOUNT, region)  # one artifact bucket per Region, read by every member
    cf.create_stack_set(StackSetName="mds", TemplateBody=template("member-data-sync.yaml"), Capabilities=CAPS,
                        PermissionModel="SERVICE_MANAGED",
                        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                        Parameters=params(BucketName="patch-sync-b", BucketRegion="us-east-1",
                                          KmsKeyArn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc-1",
                                          ArtifactBucketPrefix=PREFIX, ArtifactVersion=VERSION))
    runner.fail["DataSync"] = "an organization sync already exists"

    def run(op_id: str) -> dict[str, Any]:
        return settled_operation(cf, "mds", op_id)

    # Every instance fails in the first Region: the tolerance (1) is exceeded, the rest is cancelled.
    op = run(cf.create_stack_instances(StackSetName="mds", DeploymentTargets={"OrganizationalUnitIds": [parent]},
                                       Regions=regions, OperationPreferences={
                                           "FailureToleranceCount": 1, "RegionConcurrencyType": "SEQUENTIAL",
                                           "RegionOrder": regions})["OperationId"])
    assert op["Status"] == "FAILED"
    results = cf.list_stack_set_operation_results(StackSetName="mds", OperationId=op["OperationId"])["Summaries"]
    assert sorted(r["Status"] for r in results) == ["CANCELLED"] * 4 + ["FAILED"] * 2
    failed = next(r for r in results if r["Status"] == "FAILED")
    assert failed["StatusReason"].startswith("ResourceLogicalId:DataSync, ResourceType:Custom::OrgDataSync, "
                                             "ResourceStatusReason:Received response status [FAILED]")

    runner.fail.clear()
    op = run(cf.update_stack_set(StackSetName="mds", UsePreviousTemplate=True, Capabilities=CAPS, Parameters=[
        {"ParameterKey": k, "UsePreviousValue": True} for k in ("BucketName", "BucketRegion", "KmsKeyArn",
                                                                "ArtifactBucketPrefix", "ArtifactVersion")])["OperationId"])
    op = run(cf.create_stack_instances(StackSetName="mds", DeploymentTargets={"OrganizationalUnitIds": [parent]},
                                       Regions=regions)["OperationId"])
    assert op["Status"] == "SUCCEEDED"
    instances = cf.list_stack_instances(StackSetName="mds")["Summaries"]
    assert sorted((i["Account"], i["Region"]) for i in instances) == sorted((a, r) for a in accounts for r in regions)
    assert {i["Status"] for i in instances} == {"CURRENT"}
    one = cf.describe_stack_instance(StackSetName="mds", StackInstanceAccount=accounts[2],
                                     StackInstanceRegion="eu-west-1")["StackInstance"]
    member_cf = as_account(emulator, "cloudformation", accounts[2], "eu-west-1")
    member = member_cf.describe_stacks(StackName=one["StackId"])["Stacks"][0]
    assert member["StackName"].startswith("StackSet-mds-") and outputs(member) == {"SyncName": "patch-compliance"}

    # Automatic deployment: an account created and moved into the nested OU gets its instances in
    # both Regions; one moved out to the root loses them, stacks deleted (RetainStacksOnAccountRemoval
    # is false). Neither is an operation the caller started.
    def instances_of(account_id: str, count: int) -> list[dict[str, Any]]:
        """The account's instances once there are ``count`` of them and no operation runs."""
        deadline = time.monotonic() + 60
        while True:
            ops = cf.list_stack_set_operations(StackSetName="mds")["Summaries"]
            found = [i for i in cf.list_stack_instances(StackSetName="mds")["Summaries"] if i["Account"] == account_id]
            if (len(found) == count and all(o["Status"] not in ("RUNNING", "QUEUED") for o in ops)) \
                    or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    joined = org.create_account(AccountName="late", Email="late@example.com")["CreateAccountStatus"]["AccountId"]
    time.sleep(0.2)
    assert instances_of(joined, 0) == []  # the root is not a target
    before = len(cf.list_stack_set_operations(StackSetName="mds")["Summaries"])
    org.move_account(AccountId=joined, SourceParentId=root, DestinationParentId=child)
    assert sorted((i["Region"], i["Status"], i["OrganizationalUnitId"]) for i in instances_of(joined, 2)) == \
        [("eu-west-1", "CURRENT", parent), ("us-east-1", "CURRENT", parent)]
    assert len(cf.list_stack_set_operations(StackSetName="mds")["Summaries"]) == before + 1
    leaving = instances_of(accounts[0], 2)
    org.move_account(AccountId=accounts[0], SourceParentId=parent, DestinationParentId=root)
    assert instances_of(accounts[0], 0) == []
    for inst in leaving:
        stack = as_account(emulator, "cloudformation", accounts[0], inst["Region"]).describe_stacks(
            StackName=inst["StackId"])["Stacks"][0]
        assert stack["StackStatus"] == "DELETE_COMPLETE"
    accounts = accounts[1:] + [joined]
    assert cf.describe_stack_set(StackSetName="mds")["StackSet"]["OrganizationalUnitIds"] == [parent]

    # An update rolls to every instance: the custom resource of each gets an Update.
    op = run(cf.update_stack_set(StackSetName="mds", UsePreviousTemplate=True, Capabilities=CAPS, Parameters=params(
        BucketName="patch-sync-b", BucketRegion="us-east-1", KmsKeyArn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc-1",
        ArtifactBucketPrefix=PREFIX, ArtifactVersion=VERSION, SyncName="renamed"))["OperationId"])
    assert op["Status"] == "SUCCEEDED"
    assert sorted(e["ResourceProperties"]["SyncName"] for e in runner.of("DataSync")
                  if e["RequestType"] == "Update") == ["renamed"] * 6
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.delete_stack_set(StackSetName="mds")
    assert error_of(exc)[1] == "StackSetNotEmptyException"
    op = run(cf.delete_stack_instances(StackSetName="mds", DeploymentTargets={"OrganizationalUnitIds": [child]},
                                       Regions=["eu-west-1"], RetainStacks=True)["OperationId"])
    assert member_cf.describe_stacks(StackName=one["StackId"])["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    op = run(cf.delete_stack_instances(StackSetName="mds", DeploymentTargets={"OrganizationalUnitIds": [parent]},
                                       Regions=regions, RetainStacks=False)["OperationId"])
    assert op["Status"] == "SUCCEEDED"
    assert cf.list_stack_instances(StackSetName="mds")["Summaries"] == []
    cf.delete_stack_set(StackSetName="mds")


def test_service_managed_stack_sets_need_the_management_account_or_a_delegated_administrator(emulator: str) -> None:
    org = client(emulator, "organizations")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="tooling", Email="tooling@example.com")["CreateAccountStatus"]["AccountId"]
    cf = as_account(emulator, "cloudformation", member)
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})

    def create(call_as: str) -> None:
        cf.create_stack_set(StackSetName="delegated", TemplateBody=body, PermissionModel="SERVICE_MANAGED",
                            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False}, CallAs=call_as)

    with pytest.raises(cf.exceptions.ClientError) as exc:
        create("SELF")
    assert error_of(exc)[2].startswith("You must be the management account or delegated admin account")
    with pytest.raises(cf.exceptions.ClientError) as exc:
        create("DELEGATED_ADMIN")
    assert error_of(exc)[2] == "Account used is not a delegated administrator"
    member_org = as_account(emulator, "organizations", member)
    with pytest.raises(member_org.exceptions.ClientError) as exc:
        member_org.list_delegated_administrators()
    assert error_of(exc)[1] == "AccessDeniedException"

    org.register_delegated_administrator(AccountId=member,
                                         ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    create("DELEGATED_ADMIN")
    assert [s["StackSetName"] for s in cf.list_stack_sets(CallAs="DELEGATED_ADMIN")["Summaries"]] == ["delegated"]
    admins = member_org.list_delegated_administrators(
        ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [member]
    # "StackSets with service-managed permissions are created in the management account, including
    # StackSets that are created by delegated administrators" (CreateStackSet, CallAs): the
    # management account lists it too, and its ARN is the management account's.
    management = client(emulator, "cloudformation")
    assert [s["StackSetName"] for s in management.list_stack_sets()["Summaries"]] == ["delegated"]
    arn = management.describe_stack_set(StackSetName="delegated")["StackSet"]["StackSetARN"]
    assert arn.split(":")[4] == ACCOUNT
    assert cf.describe_stack_set(StackSetName="delegated", CallAs="DELEGATED_ADMIN")["StackSet"]["StackSetARN"] == arn


# --------------------------------------------------------------------------------------------------
# Behaviours checked against the AWS documentation
# --------------------------------------------------------------------------------------------------


def queue_names(emulator: str) -> set[str]:
    return {u.rsplit("/", 1)[1] for u in client(emulator, "sqs").list_queues().get("QueueUrls", [])}


ROLLBACK = """
Resources:
  Kept:
    Type: AWS::SQS::Queue
    DeletionPolicy: Retain
    Properties: {QueueName: rb-kept-SUFFIX}
  Created:
    Type: AWS::SQS::Queue
    DeletionPolicy: RetainExceptOnCreate
    Properties: {QueueName: rb-created-SUFFIX}
  Fails:
    Type: AWS::SNS::Topic
    DependsOn: [Kept, Created]
"""


def test_rollback_keeps_retain_but_deletes_retain_except_on_create(emulator: str, cf: Any) -> None:
    # A failed create: "If the stack operation that created the resource is rolled back,
    # CloudFormation deletes the resource" (RetainExceptOnCreate); Retain keeps it.
    fail_next(emulator, "sns", "CreateTopic")
    create(cf, "rbc", ROLLBACK.replace("SUFFIX", "c"), expect="ROLLBACK_COMPLETE")
    assert {"rb-kept-c", "rb-created-c"} & queue_names(emulator) == {"rb-kept-c"}

    # A failed update rolls back the resources it created the same way (RetainExceptOnCreate
    # "Default: false": a Retain resource the update created is kept)...
    create(cf, "rbu", "Resources:\n  Base:\n    Type: AWS::SQS::Queue\n")
    fail_next(emulator, "sns", "CreateTopic")
    body = "Resources:\n  Base:\n    Type: AWS::SQS::Queue\n" + ROLLBACK.split("Resources:\n", 1)[1]
    update(cf, "rbu", expect="UPDATE_ROLLBACK_COMPLETE", body=body.replace("SUFFIX", "u"))
    assert {"rb-kept-u", "rb-created-u"} & queue_names(emulator) == {"rb-kept-u"}
    statuses = {(e["LogicalResourceId"], e["ResourceStatus"]) for e in cf.describe_stack_events(StackName="rbu")["StackEvents"]}
    assert ("Kept", "DELETE_SKIPPED") in statuses and ("Created", "DELETE_COMPLETE") in statuses
    assert [r["LogicalResourceId"] for r in cf.list_stack_resources(StackName="rbu")["StackResourceSummaries"]] == ["Base"]
    # ... unless the update asks for RetainExceptOnCreate: "newly created resources are deleted when
    # the operation rolls back. This includes newly created resources marked with a deletion policy
    # of Retain".
    fail_next(emulator, "sns", "CreateTopic")
    update(cf, "rbu", expect="UPDATE_ROLLBACK_COMPLETE", body=body.replace("SUFFIX", "v"),
           options={"RetainExceptOnCreate": True})
    assert not {"rb-kept-v", "rb-created-v"} & queue_names(emulator)


def test_comma_delimited_list_members_are_trimmed(cf: Any) -> None:
    body = """
Parameters:
  Names: {Type: CommaDelimitedList, AllowedValues: [a, b, c]}
Resources:
  Q: {Type: AWS::SQS::Queue}
Outputs:
  Joined: {Value: !Join ["|", !Ref Names]}
"""
    # Parameters section, CommaDelimitedList: "each member string is space trimmed".
    stack = create(cf, "cdl", body, Names=" a, b ,c ")
    assert outputs(stack)["Joined"] == "a|b|c"


def test_get_template_always_offers_both_stages(cf: Any) -> None:
    body = QUEUE
    create(cf, "stages", body)
    # API_GetTemplate, StagesAvailable: "For stacks, the Original and Processed templates are always
    # available"; TemplateStage: without transforms "Original and Processed return the same template".
    out = cf.get_template(StackName="stages")
    assert out["StagesAvailable"] == ["Original", "Processed"]
    assert cf.get_template(StackName="stages", TemplateStage="Processed")["TemplateBody"] == body
    change_set(cf, "stages", "cs", TemplateBody=body.replace("Queue\n", "Queue\n    Properties: {DelaySeconds: 3}\n"))
    assert cf.get_template(StackName="stages", ChangeSetName="cs")["StagesAvailable"] == ["Original", "Processed"]


def test_language_extension_functions_need_the_transform_and_their_full_names(cf: Any) -> None:
    plain = 'Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: {"Fn::ToJsonString": [1]}}\n'
    cases = [
        # "You must use the AWS::LanguageExtensions transform to use the Fn::Length intrinsic function".
        (plain, "Fn::ToJsonString is only available with the AWS::LanguageExtensions transform"),
        (plain.replace("ToJsonString", "Length"), "Fn::Length is only available with the AWS::LanguageExtensions"),
        # "Short-form YAML syntax isn't supported ... use Fn::Length instead of !Length".
        ("Transform: AWS::LanguageExtensions\n" + plain.replace('{"Fn::ToJsonString": [1]}', "!Length [1]"),
         "YAML short form !Length is not supported"),
        ("Transform: AWS::LanguageExtensions\n" + plain.replace('{"Fn::ToJsonString": [1]}', "!ToJsonString [1]"),
         "YAML short form !ToJsonString is not supported"),
        # Fn::ForEach is not implemented: said so, not a misleading "must contain a Type member".
        ("Transform: AWS::LanguageExtensions\nResources:\n  Fn::ForEach::Queues:\n    - Name\n    - [a, b]\n"
         "    - Queue${Name}:\n        Type: AWS::SQS::Queue\n", "Fn::ForEach is not supported by the emulator"),
    ]
    for body, message in cases:
        for call in (lambda: cf.create_stack(StackName="le", TemplateBody=body, Capabilities=CAPS),
                     lambda: cf.validate_template(TemplateBody=body)):
            with pytest.raises(cf.exceptions.ClientError) as exc:
                call()
            status, code, text = error_of(exc)
            assert (status, code) == (400, "ValidationError") and message in text, text
    # With the transform and the full name, both work.
    body = ('Transform: AWS::LanguageExtensions\nResources:\n  Q:\n    Type: AWS::SQS::Queue\nOutputs:\n  Out:\n'
            '    Value: {"Fn::Join": ["-", [{"Fn::ToJsonString": [7]}, {"Fn::Length": [1, 2]}]]}\n')
    assert outputs(create(cf, "le", body))["Out"] == "[7]-2"


REPLACEMENTS = """
Parameters:
  Suffix: {Type: String, Default: one}
  Bus: {Type: String, Default: ""}
Conditions:
  NoBus: !Equals [!Ref Bus, ""]
Resources:
  First:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "dyn-${Suffix}"}
  Second:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "${First.QueueName}-second"}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !If [NoBus, !Ref AWS::NoValue, !Ref Bus]
      EventPattern: {source: [app]}
"""


def test_change_set_replacement_of_dynamic_values_and_conditional_properties(emulator: str, cf: Any) -> None:
    create(cf, "cs2", REPLACEMENTS)
    rule = physical(cf, "cs2", "Rule")
    changes = change_set(cf, "cs2", "next", UsePreviousTemplate=True, Parameters=params(Suffix="two", Bus="default"))
    assert changes["First"]["Replacement"] == "True"
    # API_ResourceChange: "If the RequiresRecreation field is Always and the Evaluation field is
    # Dynamic, Replacement is Conditional".
    (detail,) = changes["Second"]["Details"]
    assert (detail["Target"]["RequiresRecreation"], detail["Evaluation"], changes["Second"]["Replacement"]) == \
        ("Always", "Dynamic", "Conditional")
    # EventBusName is conditionally create-only: RequiresRecreation Conditionally; naming the default
    # bus explicitly is then an update of the same rule.
    (detail,) = changes["Rule"]["Details"]
    assert (detail["Target"]["RequiresRecreation"], changes["Rule"]["Replacement"]) == ("Conditionally", "Conditional")
    execute(cf, "cs2", "next")
    assert physical(cf, "cs2", "Rule") == rule
    assert "dyn-two-second" in queue_names(emulator)


def test_immutable_and_updatable_properties(emulator: str, cf: Any) -> None:
    kms, s3 = client(emulator, "kms"), client(emulator, "s3")
    body = """
Parameters:
  MultiRegion: {Type: String, Default: "false"}
  Class: {Type: String, Default: STANDARD}
  Catalog: {Type: String, Default: ""}
  Lock: {Type: String, Default: "false"}
Conditions:
  NoCatalog: !Equals [!Ref Catalog, ""]
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: {MultiRegion: !Ref MultiRegion}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupClass: !Ref Class}
  Db:
    Type: AWS::Glue::Database
    Properties:
      CatalogId: !If [NoCatalog, !Ref AWS::NoValue, !Ref Catalog]
      DatabaseInput: {Name: immutables}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockEnabled: !Ref Lock
      VersioningConfiguration: {Status: Enabled}
"""
    create(cf, "imm", body)
    key, group, bucket = physical(cf, "imm", "Key"), physical(cf, "imm", "Logs"), physical(cf, "imm", "Bucket")
    # AWS::KMS::Key: changing MultiRegion "the update request fails, regardless of the value of the
    # UpdateReplacePolicy attribute": no new key, the old one is not scheduled for deletion.
    update(cf, "imm", expect="UPDATE_ROLLBACK_COMPLETE", MultiRegion="true")
    assert any(r.startswith("Key UPDATE_FAILED You cannot change the MultiRegion of an existing KMS key")
               for r in reasons(cf, "imm"))
    assert physical(cf, "imm", "Key") == key and kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert len(kms.list_keys()["Keys"]) == 1
    # LogGroupClass: "Update requires: Updates are not supported."
    update(cf, "imm", expect="UPDATE_ROLLBACK_COMPLETE", Class="INFREQUENT_ACCESS")
    assert any(r.startswith("Logs UPDATE_FAILED LogGroupClass cannot be updated") for r in reasons(cf, "imm"))
    assert physical(cf, "imm", "Logs") == group
    # Glue Database CatalogId: "Update requires: No interruption".
    update(cf, "imm", Catalog=ACCOUNT)
    assert client(emulator, "glue").get_database(Name="immutables")["Database"]["Name"] == "immutables"
    # ObjectLockEnabled: turning Object Lock on updates the bucket; turning it off (impossible in S3)
    # replaces it.
    update(cf, "imm", Lock="true")
    assert physical(cf, "imm", "Bucket") == bucket
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    update(cf, "imm", Lock="false")
    assert physical(cf, "imm", "Bucket") != bucket


def test_lambda_permission_invoked_via_function_url_requires_replacement(cf: Any, artifacts: None) -> None:
    body = """
Parameters:
  ViaUrl: {Type: String, Default: "false"}
Resources:
""" + FUNCTION + """\
  Allow:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: "*"
      FunctionUrlAuthType: NONE
      InvokedViaFunctionUrl: !Ref ViaUrl
"""
    create(cf, "perm", body)
    changes = change_set(cf, "perm", "via", UsePreviousTemplate=True, Parameters=params(ViaUrl="true"))
    # AWS::Lambda::Permission InvokedViaFunctionUrl: "Update requires: Replacement".
    assert changes["Allow"]["Replacement"] == "True"
    old = physical(cf, "perm", "Allow")
    execute(cf, "perm", "via")
    assert physical(cf, "perm", "Allow") != old


def test_error_status_codes_follow_the_service_model(cf: Any) -> None:
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    # botocore's cloudformation service-2.json: 404 for the NotFound shapes, 409 for the conflicts.
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.describe_stack_set(StackSetName="nope")
    assert error_of(exc)[:2] == (404, "StackSetNotFoundException")
    cf.create_stack_set(StackSetName="codes", TemplateBody=body)
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack_set(StackSetName="codes", TemplateBody=body)
    assert error_of(exc)[:2] == (409, "NameAlreadyExistsException")
    op = cf.create_stack_instances(StackSetName="codes", Accounts=[ACCOUNT], Regions=[REGION], OperationId="op-1")
    settled_operation(cf, "codes", op["OperationId"])
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.delete_stack_instances(StackSetName="codes", Accounts=[ACCOUNT], Regions=[REGION], RetainStacks=True,
                                  OperationId="op-1")
    assert error_of(exc)[:2] == (409, "OperationIdAlreadyExistsException")
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.delete_stack_set(StackSetName="codes")
    assert error_of(exc)[:2] == (409, "StackSetNotEmptyException")
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.describe_stack_set_operation(StackSetName="codes", OperationId="nope")
    assert error_of(exc)[:2] == (404, "OperationNotFoundException")
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.describe_stack_instance(StackSetName="codes", StackInstanceAccount=ACCOUNT, StackInstanceRegion="eu-west-1")
    assert error_of(exc)[:2] == (404, "StackInstanceNotFoundException")
    create(cf, "codes", QUEUE)
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.describe_change_set(StackName="codes", ChangeSetName="nope")
    assert error_of(exc)[:2] == (404, "ChangeSetNotFound")


def test_stack_set_account_filter_default_and_inoperable_instances(emulator: str, cf: Any) -> None:
    org = client(emulator, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous, accounts = [], []
    for i in range(2):
        ou = org.create_organizational_unit(ParentId=root, Name=f"ou{i}")["OrganizationalUnit"]["Id"]
        account_id = org.create_account(AccountName=f"a{i}", Email=f"a{i}@example.com")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
        ous.append(ou)
        accounts.append(account_id)
    body = ("Parameters:\n  Delay: {Type: Number, Default: 0}\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
            "  Q:\n    Type: AWS::SQS::Queue\n    Properties: {DelaySeconds: !Ref Delay}\n")
    cf.create_stack_set(StackSetName="filters", TemplateBody=body, PermissionModel="SERVICE_MANAGED",
                        AutoDeployment={"Enabled": False})

    def run(op_id: str) -> dict[str, Any]:
        return settled_operation(cf, "filters", op_id)

    def instances() -> dict[str, str]:
        return {i["Account"]: i["Status"] for i in cf.list_stack_instances(StackSetName="filters")["Summaries"]}

    def deploy_both() -> None:
        for ou in ous:
            assert run(cf.create_stack_instances(StackSetName="filters", DeploymentTargets={"OrganizationalUnitIds": [ou]},
                                                 Regions=[REGION])["OperationId"])["Status"] == "SUCCEEDED"

    deploy_both()
    # DeploymentTargets, AccountFilterType: UNION "is the default value if AccountFilterType is not
    # provided": the OU's accounts plus the accounts listed...
    run(cf.delete_stack_instances(StackSetName="filters", Regions=[REGION], RetainStacks=True,
                                  DeploymentTargets={"OrganizationalUnitIds": [ous[1]], "Accounts": [accounts[0]]})["OperationId"])
    assert instances() == {}
    # ... and "UNION is not supported for CreateStackInstances operations".
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack_instances(StackSetName="filters", Regions=[REGION],
                                  DeploymentTargets={"OrganizationalUnitIds": [ous[1]], "Accounts": [accounts[0]]})
    assert error_of(exc)[:2] == (400, "ValidationError")
    deploy_both()

    # A failed DeleteStackInstances leaves the instance INOPERABLE (its bucket is not empty)...
    member = cf.describe_stack_instance(StackSetName="filters", StackInstanceAccount=accounts[0],
                                        StackInstanceRegion=REGION)["StackInstance"]
    member_cf = as_account(emulator, "cloudformation", accounts[0])
    bucket = member_cf.describe_stack_resource(StackName=member["StackId"], LogicalResourceId="Bucket")[
        "StackResourceDetail"]["PhysicalResourceId"]
    as_account(emulator, "s3", accounts[0]).put_object(Bucket=bucket, Key="k", Body=b"x")
    op = run(cf.delete_stack_instances(StackSetName="filters", Regions=[REGION], RetainStacks=False,
                                       DeploymentTargets={"OrganizationalUnitIds": [ous[0]], "Accounts": [accounts[0]],
                                                          "AccountFilterType": "INTERSECTION"})["OperationId"])
    assert op["Status"] == "FAILED" and instances() == {accounts[0]: "INOPERABLE", accounts[1]: "CURRENT"}
    # ... and "Stacks in this state are excluded from further UpdateStackSet operations".
    op = run(cf.update_stack_set(StackSetName="filters", UsePreviousTemplate=True,
                                 Parameters=params(Delay=5))["OperationId"])
    assert op["Status"] == "SUCCEEDED"
    results = cf.list_stack_set_operation_results(StackSetName="filters", OperationId=op["OperationId"])["Summaries"]
    assert [r["Account"] for r in results] == [accounts[1]]
    assert instances() == {accounts[0]: "INOPERABLE", accounts[1]: "CURRENT"}
    assert member_cf.describe_stacks(StackName=member["StackId"])["Stacks"][0]["StackStatus"] == "DELETE_FAILED"


# --------------------------------------------------------------------------------------------------
# The order of independent resources (EMULATOR_CFN_ORDER, emu_cfn_engine.ready_order): AWS creates
# resources without a dependency in parallel ("DependsOn attribute"), so a resource that needs
# another's effect without a Ref, GetAtt, Sub or DependsOn must fail here too.
# --------------------------------------------------------------------------------------------------

# The bucket's notification needs the permission's effect (S3 tests a destination when the
# configuration is saved) and refers only to the function; both only when Notify is "true". %s is
# how the bucket waits for the permission, if at all.
NOTIFIED = """\
Parameters:
  Notify: {Type: String, Default: "true"}
Conditions:
  Notifies: !Equals [!Ref Notify, "true"]
Resources:
""" + FUNCTION + """\
  InvokeFromBucket:
    Type: AWS::Lambda::Permission
    Condition: Notifies
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: s3.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
      SourceArn: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}-notified"
  Bucket:
    Type: AWS::S3::Bucket
%s    Properties:
      BucketName: !Sub "${AWS::StackName}-notified"
      NotificationConfiguration: !If
        - Notifies
        - LambdaConfigurations:
            - Event: s3:ObjectCreated:*
              Function: !GetAtt Fn.Arn
        - !Ref AWS::NoValue
"""
DEPENDS_ON = "    DependsOn: InvokeFromBucket\n"
# The wait for a resource that has a Condition: a conditional Ref in Metadata (cfn/quicksight.yaml's
# Datasets, cfn/member-patching.yaml's PatchScanAssociation).
METADATA_REF = "    Metadata:\n      WaitsFor: !If [Notifies, !Ref InvokeFromBucket, !Ref AWS::NoValue]\n"


def steps(cf: Any, name: str) -> list[tuple[str, str]]:
    """(logical id, status) of every resource event, oldest first."""
    return [(e["LogicalResourceId"], e["ResourceStatus"]) for e in reversed(cf.describe_stack_events(StackName=name)[
        "StackEvents"]) if e["ResourceType"] != "AWS::CloudFormation::Stack"]


def test_a_resource_needing_another_without_a_reference_fails_until_it_waits_for_it(
        emulator: str, cf: Any, artifacts: None) -> None:
    # Declared after the permission, the bucket came after it in declaration order and the missing
    # dependency went unnoticed. The default order takes the ready resource declared last, so the
    # bucket goes first and S3 refuses its notification, as it can in AWS.
    if os.environ.get("EMULATOR_CFN_ORDER", "reverse") in ("", "reverse"):
        stack = create(cf, "racy", NOTIFIED % "", expect="ROLLBACK_COMPLETE")
        assert ("Bucket CREATE_FAILED Resource handler returned message: \"Unable to validate the following "
                "destination configurations\"") in " ".join(reasons(cf, stack["StackId"]))
        assert ("InvokeFromBucket", "CREATE_IN_PROGRESS") not in steps(cf, stack["StackId"])
    # DependsOn makes it wait for the permission whatever the order; deleting goes the other way.
    for name, wait_for in (("depends", DEPENDS_ON), ("metadata", METADATA_REF)):
        stack = create(cf, name, NOTIFIED % wait_for)
        notification = client(emulator, "s3").get_bucket_notification_configuration(Bucket=f"{name}-notified")
        assert notification["LambdaFunctionConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
        delete(cf, name)
        done = [s for s in steps(cf, stack["StackId"]) if s[1] in ("CREATE_COMPLETE", "DELETE_COMPLETE")]
        assert [r for r, s in done if s == "CREATE_COMPLETE"][-2:] == ["InvokeFromBucket", "Bucket"], done
        assert [r for r, s in done if s == "DELETE_COMPLETE"][:2] == ["Bucket", "InvokeFromBucket"], done
    # Without the permission, DependsOn names a resource that is not created: the template is
    # refused at the call; the conditional Ref in Metadata waits for nothing.
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_stack(StackName="nodepends", TemplateBody=NOTIFIED % DEPENDS_ON, Parameters=params(Notify="false"),
                        Capabilities=CAPS)
    assert error_of(exc)[2] == ("Template format error: Unresolved resource dependencies [InvokeFromBucket] in the "
                                "Resources block of the template")
    create(cf, "nometadata", NOTIFIED % METADATA_REF, Notify="false")


SHUFFLE_SEEDS = (7, 2024)


def deploy_every_template(base: str) -> dict[str, list[str]]:
    """The stacks of cfn/ with their optional parts on, created and deleted (newest first) through
    the emulator at ``base``; answers each stack's creation order (logical ids)."""
    runner = FakeRunner(base)
    control(base, "PUT", "/_emulator/lambda-runner", {"url": runner.url})
    try:
        publish(base)
        client(base, "iam").create_role(RoleName="aws-quicksight-service-role-v0",
                                        AssumeRolePolicyDocument=trust("quicksight.amazonaws.com"))
        cf = client(base, "cloudformation")
        artifacts = dict(ArtifactBucketPrefix=PREFIX, ArtifactVersion=VERSION)
        central = outputs(create(cf, "central", template("central-reporting.yaml"), OrganizationId=ORG_ID_PARAM,
                                 EnableConfigAnalytics="true", AlarmEmail="ops@example.com",
                                 ReportEmail="ops@example.com", StaleNodeFileDays="90",
                                 ReportOrganizationsRoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", **artifacts))
        stacks = {
            "qs": ("quicksight.yaml", dict(
                WorkGroup=central["WorkGroupName"], Database=central["DatabaseName"],
                ConfigSnapshotTable=central["ConfigSnapshotTable"], ConfigBucketName=central["ConfigBucketName"],
                SyncBucketName=central["SyncBucketName"], AthenaResultsBucketName=central["AthenaResultsBucketName"],
                KmsKeyArn=central["KmsKeyArn"], PrincipalArns=f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/a",
                ImportMode="SPICE", **artifacts)),
            "patching": ("member-patching.yaml", dict(
                ConfigBucketName=central["ConfigBucketName"], PatchGroup="web", CreateInstallWindow="true",
                BaselineWindows="CreateAsDefault", BaselineAmazonLinux2023="CreateAsDefault", BaselineUbuntu="Create",
                InstallOutputBucket=central["ReportsBucketName"], **artifacts)),
            "sync": ("member-data-sync.yaml", dict(BucketName=central["SyncBucketName"], BucketRegion=REGION,
                                                   KmsKeyArn=central["KmsKeyArn"], **artifacts)),
            "lake": ("cloudtrail-lake.yaml", {}),
            "reader": ("organization-reader.yaml", dict(ReportRoleArn=f"arn:aws:iam::{ACCOUNT}:role/report",
                                                        OrganizationId=ORG_ID_PARAM)),
        }
        for name, (path, values) in stacks.items():
            create(cf, name, template(path), **values)
        orders = {name: [r for r, s in steps(cf, name) if s == "CREATE_IN_PROGRESS"] for name in ["central", *stacks]}
        for name in [*reversed(stacks), "central"]:
            delete(cf, name)
        return orders
    finally:
        control(base, "DELETE", "/_emulator/lambda-runner")
        runner.server.shutdown()


def test_the_templates_create_and_delete_in_shuffled_orders() -> None:
    """Every template of cfn/ under two seeds of EMULATOR_CFN_ORDER=shuffle:<seed>, each in its own
    emulator (the order is read when the emulator starts), both at once: a dependency a template
    does not declare fails one of them. A failure names the seed; EMULATOR_CFN_ORDER=shuffle:<seed>
    on the whole suite replays it."""
    results: dict[int, Any] = {}

    def run(seed: int) -> None:
        with tempfile.TemporaryFile("w+") as log:
            proc = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--exit-on-stdin-eof"],
                                    env={**os.environ, "EMULATOR_CFN_ORDER": f"shuffle:{seed}"},
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                line = proc.stdout.readline()
                assert line.startswith("EMULATOR_READY port="), line
                results[seed] = deploy_every_template(f"http://127.0.0.1:{line.strip().split('=', 1)[1]}")
            except BaseException as e:  # noqa: BLE001 - reported by the test's thread, with the seed
                results[seed] = e
            finally:
                proc.stdin.close()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                log.seek(0)
                # The seed is on stderr with every operation, so a failure elsewhere can be replayed.
                if not isinstance(results.get(seed), BaseException) and \
                        f"EMULATOR_CFN_ORDER=shuffle:{seed} replays it" not in log.read():
                    results[seed] = AssertionError(f"seed {seed} not on the emulator's stderr")

    threads = [threading.Thread(target=run, args=(seed,)) for seed in SHUFFLE_SEEDS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in SHUFFLE_SEEDS:
        if isinstance(results[seed], BaseException):
            raise AssertionError(f"EMULATOR_CFN_ORDER=shuffle:{seed}: {results[seed]}") from results[seed]
    first, second = (results[seed] for seed in SHUFFLE_SEEDS)
    assert first["central"] != second["central"], "two seeds, one order: the shuffle is not applied"
    assert sorted(first["central"]) == sorted(second["central"])
