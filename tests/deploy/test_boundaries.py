"""The boundaries the deployment promises, refused by the emulator as AWS refuses them.

The organization of tests/deploy/test_deploy.py, deployed once with Config analytics and patching
(member Config recorders delivering with their roles) and a named reader of the reports; then, each
as the principal AWS uses (emulator/emu_deliveries.py for the syncs' and Config's writes):
- a member account's resource data sync, and its Config recorder, write only that account's data;
- an account outside the organization cannot deliver at all;
- a plain-HTTP request is refused on every bucket;
- the reports are written only by compliance-report and read only by it and the named readers.

    LOCAL_AWS=<target>/debug/local-aws .venv/bin/python -m pytest -q tests/deploy/test_boundaries.py
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from test_deploy import CENTRAL_REGION, dist, local_aws, organization, run, write_config  # noqa: F401

OUTSIDER = "999988887777"


def client(organization: dict, service: str, account: str, region: str = CENTRAL_REGION, **extra):
    return boto3.client(service, endpoint_url=organization["endpoint"], region_name=region,
                        aws_access_key_id=account, aws_secret_access_key="local", **extra)


@pytest.fixture(scope="module")
def deployed(organization, dist, tmp_path_factory):  # noqa: F811
    """The deployment, with a reader role of the reporting account named in ReportReaderArns."""
    central = organization["accounts"][0]
    iam = client(organization, "iam", central)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{central}:root"}, "Action": "sts:AssumeRole"}]})
    readers = {}
    for name in ("auditor", "bystander"):
        readers[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        # Both may read every bucket of the account as far as IAM goes: only the bucket policy
        # tells them apart.
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                                    "Resource": "*"}]}))
    path = write_config(tmp_path_factory.mktemp("bounds") / "deploy.toml", organization, dist, patching=True,
                        name="bounds")
    text = path.read_text().replace("[config_analytics]", "[central.parameters]\n"
                                    f'ReportReaderArns = "{readers["auditor"]}"\n[config_analytics]', 1)
    path.write_text(text)
    result = run(path)
    return {"outputs": result.outputs["central"], "readers": readers, "central": central}


def deliver(organization: dict, kind: str, account: str, region: str | None, bucket: str, key: str) -> None:
    """A PutObject as AWS's delivery for `account` makes it (the emulator finds the sender)."""
    s3 = client(organization, "s3", organization["accounts"][0])

    def headers(request, **_):
        request.headers["x-emulator-delivery"] = kind
        request.headers["x-emulator-source-account"] = account
        if region:
            request.headers["x-emulator-source-region"] = region

    s3.meta.events.register("before-sign.s3.PutObject", headers)
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")


def denied(call) -> str:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response["Error"]
    return e.value.response["Error"]["Message"]


def sync_key(account: str, region: str = CENTRAL_REGION) -> str:
    return (f"inventory/AWS:InstanceInformation/accountid={account}/region={region}/"
            "resourcetype=ManagedInstanceInventory/i-0123456789abcdef0.json")


def test_a_member_accounts_sync_writes_its_own_account_only(organization, deployed) -> None:
    member, other = organization["accounts"][1], organization["accounts"][2]
    bucket = deployed["outputs"]["SyncBucketName"]
    deliver(organization, "resource-data-sync", member, CENTRAL_REGION, bucket, sync_key(member))
    message = denied(lambda: deliver(organization, "resource-data-sync", member, CENTRAL_REGION, bucket,
                                     sync_key(other)))
    assert "ssm.amazonaws.com" in message and "explicit deny" in message


def test_a_member_accounts_config_recorder_writes_its_own_account_only(organization, deployed) -> None:
    member, other = organization["accounts"][1], organization["accounts"][2]
    bucket = deployed["outputs"]["ConfigBucketName"]

    def key(account: str) -> str:
        return (f"AWSLogs/{account}/Config/{CENTRAL_REGION}/2026/12/7/ConfigSnapshot/"
                f"{account}_Config_{CENTRAL_REGION}_ConfigSnapshot_20261207T000000Z_x.json.gz")

    deliver(organization, "config", member, CENTRAL_REGION, bucket, key(member))
    # The recorder's role may write its own account's folder only, and the service principal is
    # accepted for the accounts named in ConfigServicePrincipalAccounts only (none here).
    denied(lambda: deliver(organization, "config", member, CENTRAL_REGION, bucket, key(other)))


def test_an_account_outside_the_organization_cannot_deliver(organization, deployed) -> None:
    bucket = deployed["outputs"]["SyncBucketName"]
    ssm = client(organization, "ssm", OUTSIDER)
    ssm.create_resource_data_sync(SyncName="outsider", SyncType="SyncToDestination", S3Destination={
        "BucketName": bucket, "Prefix": "inventory", "SyncFormat": "JsonSerDe", "Region": CENTRAL_REGION})
    message = denied(lambda: deliver(organization, "resource-data-sync", OUTSIDER, CENTRAL_REGION, bucket,
                                     sync_key(OUTSIDER)))
    assert "ssm.amazonaws.com" in message


def test_a_plain_http_request_is_refused_by_every_bucket(organization, deployed) -> None:
    central = deployed["central"]
    s3 = client(organization, "s3", central)
    s3.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__(
        "x-emulator-insecure-transport", "true"))
    for output in ("SyncBucketName", "ConfigBucketName", "ReportsBucketName"):
        bucket = deployed["outputs"][output]
        message = denied(lambda b=bucket: s3.list_objects_v2(Bucket=b))
        assert "explicit deny in a resource-based policy" in message, output


def test_the_reports_are_read_by_the_report_and_its_named_readers_only(organization, deployed) -> None:
    central, bucket = deployed["central"], deployed["outputs"]["ReportsBucketName"]
    # A report object, as compliance-report writes one (placed by the emulator: only the report's
    # role may write there, and the function does not run in this module).
    import urllib.request
    req = urllib.request.Request(f"{organization['endpoint']}/_emulator/s3/bulk", method="POST",
                                 data=json.dumps({"account": central, "region": CENTRAL_REGION, "bucket": bucket,
                                                  "versioning": "Enabled", "objects": 1, "versions_per_object": 1,
                                                  "key_prefix": "reports/latest/"}).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
    key = client(organization, "s3", central).list_objects_v2(Bucket=bucket, Prefix="reports/")["Contents"][0]["Key"]

    def as_role(arn: str):
        creds = client(organization, "sts", central).assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
        return boto3.client("s3", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])

    auditor, bystander = as_role(deployed["readers"]["auditor"]), as_role(deployed["readers"]["bystander"])
    assert auditor.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert "explicit deny" in denied(lambda: bystander.get_object(Bucket=bucket, Key=key))
    # The account's administrator is no reader either, and nobody but the report writes.
    admin = client(organization, "s3", central)
    denied(lambda: admin.get_object(Bucket=bucket, Key=key))
    denied(lambda: auditor.put_object(Bucket=bucket, Key="reports/latest/forged.html", Body=b"x"))
    denied(lambda: admin.put_object(Bucket=bucket, Key="history/forged.json", Body=b"x"))


def decisions(organization: dict) -> list[dict]:
    import urllib.request
    with urllib.request.urlopen(f"{organization['endpoint']}/_emulator/authz/decisions", timeout=60) as r:
        return json.loads(r.read())["decisions"]


def test_eventbridge_may_use_the_key_for_the_alarm_topic_only(organization, deployed) -> None:
    # The key policy binds EventBridge's kms:GenerateDataKey to the alarm topic's ARN (SNS's
    # encryption context): a failed crawl reaches the alarm topic; a rule publishing to another
    # topic encrypted with the same key is refused by the key, whatever that topic's policy says.
    import time

    central, outputs = deployed["central"], deployed["outputs"]
    events, sns = client(organization, "events", central), client(organization, "sns", central)
    other = sns.create_topic(Name="elsewhere", Attributes={"KmsMasterKeyId": outputs["KmsKeyArn"]})["TopicArn"]
    rule = events.put_rule(Name="elsewhere", EventPattern=json.dumps({"source": ["test.boundary"]}))["RuleArn"]
    sns.set_topic_attributes(TopicArn=other, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                "Action": "sns:Publish", "Resource": other,
                                                "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}]}))
    events.put_targets(Rule="elsewhere", Targets=[{"Id": "t", "Arn": other}])
    events.put_events(Entries=[
        {"Source": "test.boundary", "DetailType": "d", "Detail": "{}"},
        {"Source": "aws.glue", "DetailType": "Glue Crawler State Change",
         "Detail": json.dumps({"crawlerName": outputs["CrawlerName"], "state": "Failed", "errorMessage": "x"})}])
    time.sleep(1)
    kms = [d for d in decisions(organization)
           if d["principal"] == "events.amazonaws.com" and d["action"] == "kms:GenerateDataKey"
           and d["resource"].endswith(outputs["KmsKeyArn"].rsplit("/", 1)[-1])]
    assert any(not d["allowed"] for d in kms), f"the key refused the other topic: {kms}"
    assert any(d["allowed"] for d in kms), f"the key allowed the alarm topic: {kms}"
    published = [d for d in decisions(organization) if d["principal"] == "events.amazonaws.com"
                 and d["action"] == "sns:Publish" and d["resource"] == outputs["AlarmTopicArn"]]
    assert published and all(d["allowed"] for d in published), published
