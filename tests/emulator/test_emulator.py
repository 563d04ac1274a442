"""Tests of the local AWS emulator (emulator/emulator.py).

The emulator runs as a subprocess on a free port, as the Rust test harness
runs it; we talk to it with boto3 and plain HTTP for the control endpoints.

    .venv/bin/python -m pytest tests/emulator -q
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import (  # noqa: E402  (shared with the other test modules)
    ACCOUNT, EMULATOR, REGION, client, control, error_of, seed, start_emulator, unvalidated,
)


# --------------------------------------------------------------------------
# Process behaviour
# --------------------------------------------------------------------------


def test_exits_on_stdin_eof():
    proc, port = start_emulator("--exit-on-stdin-eof")
    assert control(f"http://127.0.0.1:{port}", "GET", "/_emulator/health") == (200, {"ok": True})
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


def test_missing_moto_is_reported():
    # -S: no site-packages, so moto cannot be imported.
    out = subprocess.run([sys.executable, "-S", EMULATOR], capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    assert "moto is not installed in this Python: run `make setup`" in out.stderr
    assert out.stdout == ""


# --------------------------------------------------------------------------
# DescribeInstanceInformation
# --------------------------------------------------------------------------


def test_describe_instance_information_fields(emulator):
    ids = seed(emulator, [
        {"kind": "ec2", "platform_name": "Amazon Linux", "platform_version": "2023",
         "computer_name": "web-1", "ip_address": "10.1.2.3", "agent_version": "3.3.1.0"},
        {"kind": "ec2", "platform_name": None, "platform_version": None},
        {"kind": "hybrid", "platform_type": "Windows", "platform_name": "Microsoft Windows Server 2022",
         "platform_version": "10.0.20348", "ping_status": "ConnectionLost", "name": "dc-01"},
    ])
    assert ids[0].startswith("i-") and ids[1].startswith("i-")
    assert ids[2].startswith("mi-") and len(ids[2]) == 20
    ssm = client(emulator, "ssm")
    nodes = ssm.describe_instance_information()["InstanceInformationList"]
    assert [n["InstanceId"] for n in nodes] == ids
    a, b, c = nodes
    assert a["PlatformName"] == "Amazon Linux" and a["PlatformVersion"] == "2023"
    assert a["ResourceType"] == "EC2Instance" and a["SourceType"] == "AWS::EC2::Instance"
    assert a["ComputerName"] == "web-1" and a["IPAddress"] == "10.1.2.3"
    assert a["AgentVersion"] == "3.3.1.0" and a["PingStatus"] == "Online"
    assert a["LastPingDateTime"].year >= 2024
    assert "PlatformName" not in b and "PlatformVersion" not in b
    assert c["ResourceType"] == "ManagedInstance" and c["Name"] == "dc-01"
    assert c["PlatformType"] == "Windows" and c["PingStatus"] == "ConnectionLost"
    assert c["SourceType"] == "AWS::SSM::ManagedInstance" and "ActivationId" in c
    assert "RegistrationDate" in c


def test_describe_instance_information_timestamps_are_epoch_numbers(emulator):
    seed(emulator, [{"kind": "hybrid"}])
    body = json.dumps({}).encode()
    # A raw (unsigned-looking but scoped) request shows the wire format.
    req = urllib.request.Request(
        emulator + "/", data=body, method="POST",
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": "AmazonSSM.DescribeInstanceInformation",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/"
                                  "us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=x"})
    out = json.loads(urllib.request.urlopen(req).read())
    node = out["InstanceInformationList"][0]
    assert isinstance(node["LastPingDateTime"], (int, float))
    assert isinstance(node["RegistrationDate"], (int, float))


def test_pagination_with_filters_over_several_pages(emulator):
    specs = []
    for i in range(23):
        specs.append({"kind": "ec2" if i % 2 else "hybrid",
                      "ping_status": "Online" if i % 3 else "ConnectionLost"})
    ids = seed(emulator, specs)
    ssm = client(emulator, "ssm")
    expected = [i for i, s in zip(ids, specs) if s["ping_status"] == "Online"]
    got, pages, token = [], 0, None
    while True:
        kw = {"Filters": [{"Key": "PingStatus", "Values": ["Online"]}], "MaxResults": 5}
        if token:
            kw["NextToken"] = token
        page = ssm.describe_instance_information(**kw)
        pages += 1
        assert len(page["InstanceInformationList"]) <= 5
        got += [n["InstanceId"] for n in page["InstanceInformationList"]]
        token = page.get("NextToken")
        if not token:
            break
    # 15 matches: 5 + 5 + 5; the emulator looks ahead, so the last full page has no token
    assert got == expected and pages == 3

    # The legacy filter list, through boto3's paginator.
    paginator = ssm.get_paginator("describe_instance_information")
    legacy = [n["InstanceId"]
              for page in paginator.paginate(
                  InstanceInformationFilterList=[{"key": "ResourceType", "valueSet": ["ManagedInstance"]}],
                  PaginationConfig={"PageSize": 5})
              for n in page["InstanceInformationList"]]
    assert legacy == [i for i in ids if i.startswith("mi-")]

    # Default page size is 10.
    first = ssm.describe_instance_information()
    assert len(first["InstanceInformationList"]) == 10 and "NextToken" in first


def test_filters_by_tags_and_keys(emulator):
    ids = seed(emulator, [
        {"kind": "ec2", "tags": {"env": "prod", "team": "a"}},
        {"kind": "ec2", "in_ec2": False, "tags": {"env": "dev"}},
        {"kind": "hybrid", "tags": {"env": "prod"}, "platform_type": "MacOS"},
        {"kind": "hybrid"},
    ])
    ssm = client(emulator, "ssm")

    def ids_for(**kw):
        return [n["InstanceId"] for n in ssm.describe_instance_information(**kw)["InstanceInformationList"]]

    assert ids_for(Filters=[{"Key": "tag:env", "Values": ["prod"]}]) == [ids[0], ids[2]]
    assert ids_for(Filters=[{"Key": "tag:env", "Values": ["dev", "prod"]}]) == ids[:3]
    assert ids_for(Filters=[{"Key": "tag-key", "Values": ["team"]}]) == [ids[0]]
    assert ids_for(Filters=[{"Key": "PlatformTypes", "Values": ["MacOS"]}]) == [ids[2]]
    assert ids_for(Filters=[{"Key": "InstanceIds", "Values": [ids[1], ids[3]]}]) == [ids[1], ids[3]]
    assert ids_for(Filters=[{"Key": "ResourceType", "Values": ["EC2Instance"]}]) == ids[:2]
    assert ids_for(InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["Online"]}]) == ids
    # EC2 tags added later through EC2 are seen by SSM's tag filters.
    client(emulator, "ec2").create_tags(Resources=[ids[0]], Tags=[{"Key": "late", "Value": "1"}])
    assert ids_for(Filters=[{"Key": "tag:late", "Values": ["1"]}]) == [ids[0]]


def test_describe_instance_information_errors(emulator):
    seed(emulator, [{"kind": "hybrid"} for _ in range(12)])
    ssm = unvalidated(emulator, "ssm")
    for bad in (4, 51):
        with pytest.raises(ClientError) as e:
            ssm.describe_instance_information(MaxResults=bad)
        status, code, msg = error_of(e)
        assert (status, code) == (400, "ValidationException")
        assert f"Value '{bad}' at 'maxResults' failed to satisfy constraint" in msg
    for ok in (5, 50):
        ssm.describe_instance_information(MaxResults=ok)

    with pytest.raises(ClientError) as e:
        ssm.describe_instance_information(
            InstanceInformationFilterList=[{"key": "PingStatus", "valueSet": ["Online"]}],
            Filters=[{"Key": "PingStatus", "Values": ["Online"]}])
    assert error_of(e)[1] == "InvalidInstanceInformationFilterValue"

    with pytest.raises(ClientError) as e:
        ssm.describe_instance_information(Filters=[{"Key": "Colour", "Values": ["x"]}])
    assert error_of(e)[1] == "InvalidFilterKey"

    with pytest.raises(ClientError) as e:
        ssm.describe_instance_information(
            Filters=[{"Key": "ResourceType", "Values": ["EC2Instance", "ManagedInstance"]}])
    assert error_of(e)[1:] == ("InvalidInstanceInformationFilterValue",
                               "ResourceType filter may contain only one value.")

    for token in ("garbage!!", base64.b64encode(b'{"v": 1, "after": 3, "fp": "nope"}').decode()):
        with pytest.raises(ClientError) as e:
            ssm.describe_instance_information(NextToken=token)
        assert error_of(e)[:2] == (400, "InvalidNextToken")

    # A token minted for one filter is foreign to another query.
    token = ssm.describe_instance_information(MaxResults=5)["NextToken"]
    with pytest.raises(ClientError) as e:
        ssm.describe_instance_information(
            NextToken=token, Filters=[{"Key": "PingStatus", "Values": ["Online"]}])
    assert error_of(e)[1] == "InvalidNextToken"
    # ...but valid for the same query, whatever the page size.
    assert len(ssm.describe_instance_information(NextToken=token, MaxResults=6)
               ["InstanceInformationList"]) == 6


def test_nodes_are_per_account_and_region(emulator):
    seed(emulator, [{"kind": "hybrid"}], region="eu-west-1")
    assert client(emulator, "ssm").describe_instance_information()["InstanceInformationList"] == []
    assert len(client(emulator, "ssm", region="eu-west-1")
               .describe_instance_information()["InstanceInformationList"]) == 1


def test_reset_clears_nodes(emulator):
    seed(emulator, [{"kind": "hybrid"}])
    ssm = client(emulator, "ssm")
    assert len(ssm.describe_instance_information()["InstanceInformationList"]) == 1
    urllib.request.urlopen(urllib.request.Request(emulator + "/moto-api/reset", method="POST"))
    assert ssm.describe_instance_information()["InstanceInformationList"] == []


# --------------------------------------------------------------------------
# Tags on ManagedInstance
# --------------------------------------------------------------------------


def test_managed_instance_tags(emulator):
    (mi,) = seed(emulator, [{"kind": "hybrid", "tags": {"seeded": "yes"}}])
    ssm = client(emulator, "ssm")
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=mi,
                             Tags=[{"Key": "env", "Value": "prod"}, {"Key": "empty", "Value": ""}])
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=mi)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"seeded": "yes", "env": "prod", "empty": ""}
    ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId=mi, TagKeys=["seeded"])
    tags = ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=mi)["TagList"]
    assert {t["Key"] for t in tags} == {"env", "empty"}
    # Tag filters see the change.
    found = ssm.describe_instance_information(Filters=[{"Key": "tag:env", "Values": ["prod"]}])
    assert [n["InstanceId"] for n in found["InstanceInformationList"]] == [mi]

    for call in (
        lambda: ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId="mi-0123456789abcdef0",
                                         Tags=[{"Key": "a", "Value": "b"}]),
        lambda: ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId="mi-0123456789abcdef0"),
        lambda: ssm.remove_tags_from_resource(ResourceType="ManagedInstance", ResourceId="i-0123",
                                              TagKeys=["a"]),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[:2] == (400, "InvalidResourceId")


def test_managed_instance_tag_validation(emulator):
    (mi,) = seed(emulator, [{"kind": "hybrid"}])
    ssm = unvalidated(emulator, "ssm")
    cases = [
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "", "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": f"k{i}", "Value": "v"} for i in range(1001)],
    ]
    for tags in cases:
        with pytest.raises(ClientError) as e:
            ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=mi, Tags=tags)
        assert error_of(e)[:2] == (400, "ValidationException")
    ssm.add_tags_to_resource(ResourceType="ManagedInstance", ResourceId=mi,
                             Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    assert len(ssm.list_tags_for_resource(ResourceType="ManagedInstance", ResourceId=mi)["TagList"]) == 1


def test_other_resource_types_still_use_moto(emulator):
    ssm = client(emulator, "ssm")
    ssm.put_parameter(Name="/p", Value="v", Type="String")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/p", Tags=[{"Key": "a", "Value": "b"}])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/p")["TagList"] == [
        {"Key": "a", "Value": "b"}]


# --------------------------------------------------------------------------
# Resource data syncs
# --------------------------------------------------------------------------

S3_DEST = {"BucketName": "inventory-bucket", "Prefix": "inv", "SyncFormat": "JsonSerDe", "Region": REGION}


def test_resource_data_sync_lifecycle(emulator):
    ssm = client(emulator, "ssm")
    ssm.create_resource_data_sync(SyncName="s1", S3Destination=S3_DEST)
    ssm.create_resource_data_sync(
        SyncName="s2", SyncType="SyncToDestination",
        S3Destination={**S3_DEST, "DestinationDataSharing": {"DestinationDataSharingType": "Organization"}})
    ssm.create_resource_data_sync(
        SyncName="src", SyncType="SyncFromSource",
        SyncSource={"SourceType": "SingleAccountMultiRegions", "SourceRegions": [REGION]})
    items = ssm.list_resource_data_sync()["ResourceDataSyncItems"]
    assert [i["SyncName"] for i in items] == ["s1", "s2", "src"]
    s1 = items[0]
    assert s1["SyncType"] == "SyncToDestination" and s1["S3Destination"] == S3_DEST
    assert s1["LastStatus"] == "Successful"
    for key in ("SyncCreatedTime", "SyncLastModifiedTime", "LastSyncTime", "LastSuccessfulSyncTime"):
        assert s1[key].year >= 2024
    only_src = ssm.list_resource_data_sync(SyncType="SyncFromSource")["ResourceDataSyncItems"]
    assert [i["SyncName"] for i in only_src] == ["src"]

    with pytest.raises(ClientError) as e:
        ssm.create_resource_data_sync(SyncName="s1", S3Destination=S3_DEST)
    assert error_of(e)[:2] == (400, "ResourceDataSyncAlreadyExistsException")
    assert e.value.response.get("SyncName") == "s1"

    ssm.delete_resource_data_sync(SyncName="s1")
    ssm.delete_resource_data_sync(SyncName="src", SyncType="SyncFromSource")
    assert [i["SyncName"] for i in ssm.list_resource_data_sync()["ResourceDataSyncItems"]] == ["s2"]
    with pytest.raises(ClientError) as e:
        ssm.delete_resource_data_sync(SyncName="s1")
    assert error_of(e)[:2] == (400, "ResourceDataSyncNotFoundException")
    with pytest.raises(ClientError) as e:
        ssm.delete_resource_data_sync(SyncName="s2", SyncType="SyncFromSource")
    assert error_of(e)[1] == "ResourceDataSyncNotFoundException"


def test_only_one_organization_sync_per_account_and_region(emulator):
    ssm = client(emulator, "ssm")
    org = {**S3_DEST, "DestinationDataSharing": {"DestinationDataSharingType": "Organization"}}
    ssm.create_resource_data_sync(SyncName="org-1", S3Destination=org)
    ssm.create_resource_data_sync(SyncName="standard", S3Destination=S3_DEST)
    with pytest.raises(ClientError) as e:
        ssm.create_resource_data_sync(SyncName="org-2", S3Destination=org)
    assert error_of(e)[:2] == (400, "ResourceDataSyncCountExceededException")
    # Another Region has its own.
    other = client(emulator, "ssm", region="eu-west-3")
    other.create_resource_data_sync(SyncName="org-2", S3Destination={**org, "Region": "eu-west-3"})
    ssm.delete_resource_data_sync(SyncName="org-1")
    ssm.create_resource_data_sync(SyncName="org-2", S3Destination=org)


def test_resource_data_sync_invalid_configurations(emulator):
    ssm = unvalidated(emulator, "ssm")
    bad = [
        {"SyncName": "a", "SyncType": "SyncToDestination"},
        {"SyncName": "a"},
        {"SyncName": "a", "SyncType": "SyncFromSource", "S3Destination": S3_DEST},
        {"SyncName": "a", "S3Destination": {**S3_DEST, "DestinationDataSharing":
                                            {"DestinationDataSharingType": "Account"}}},
    ]
    for kw in bad:
        with pytest.raises(ClientError) as e:
            ssm.create_resource_data_sync(**kw)
        assert error_of(e)[:2] == (400, "ResourceDataSyncInvalidConfigurationException"), kw
    # A format outside the model's enum is refused by AWS's model validation first (emu_validate).
    with pytest.raises(ClientError) as e:
        ssm.create_resource_data_sync(SyncName="a", S3Destination={**S3_DEST, "SyncFormat": "Parquet"})
    assert error_of(e) == (400, "ValidationException", (
        "1 validation error detected: Value 'Parquet' at 's3Destination.syncFormat' failed to satisfy "
        "constraint: Member must satisfy enum value set: [JsonSerDe]"))
    assert ssm.list_resource_data_sync()["ResourceDataSyncItems"] == []


def test_resource_data_sync_quota_and_pagination(emulator):
    ssm = unvalidated(emulator, "ssm")
    for i in range(5):
        ssm.create_resource_data_sync(SyncName=f"d{i}", S3Destination=S3_DEST)
    with pytest.raises(ClientError) as e:
        ssm.create_resource_data_sync(SyncName="d5", S3Destination=S3_DEST)
    assert error_of(e)[:2] == (400, "ResourceDataSyncCountExceededException")
    # The quota is per type.
    ssm.create_resource_data_sync(SyncName="f0", SyncType="SyncFromSource",
                                  SyncSource={"SourceType": "SingleAccountMultiRegions",
                                              "SourceRegions": [REGION]})
    names, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 2, **({"NextToken": token} if token else {})}
        page = ssm.list_resource_data_sync(**kw)
        pages += 1
        names += [i["SyncName"] for i in page["ResourceDataSyncItems"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["d0", "d1", "d2", "d3", "d4", "f0"] and pages == 3
    for bad in (0, 51):
        with pytest.raises(ClientError) as e:
            ssm.list_resource_data_sync(MaxResults=bad)
        assert error_of(e)[1] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ssm.list_resource_data_sync(NextToken="nope")
    assert error_of(e)[1] == "InvalidNextToken"


# --------------------------------------------------------------------------
# EC2 CreateTags
# --------------------------------------------------------------------------


def test_create_tags_rejects_missing_instances(emulator):
    live, gone = seed(emulator, [{"kind": "ec2"}, {"kind": "ec2", "in_ec2": False}])
    ec2 = client(emulator, "ec2")
    tag = [{"Key": "owner", "Value": "me"}]

    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[gone], Tags=tag)
    assert error_of(e) == (400, "InvalidInstanceID.NotFound", f"The instance ID '{gone}' does not exist")

    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[live, "i-0123456789abcdef0", gone], Tags=tag)
    assert error_of(e) == (400, "InvalidInstanceID.NotFound",
                           f"The instance IDs 'i-0123456789abcdef0, {gone}' do not exist")
    # All or nothing: the live instance was not tagged either.
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [live]}])["Tags"] == []

    ec2.create_tags(Resources=[live], Tags=tag)
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [live]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("owner", "me")]
    inst = ec2.describe_instances(InstanceIds=[live])["Reservations"][0]["Instances"][0]
    assert {"Key": "owner", "Value": "me"} in inst["Tags"]


def test_create_tags_rejects_more_than_1000_ids(emulator):
    ec2 = client(emulator, "ec2")
    ids = [f"i-{n:017x}" for n in range(1001)]
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=ids, Tags=[{"Key": "a", "Value": "b"}])
    assert error_of(e)[:2] == (400, "InvalidParameterValue")


def test_delete_managed_node_from_ssm_and_ec2(emulator):
    (node,) = seed(emulator, [{"kind": "ec2"}])
    ec2 = client(emulator, "ec2")
    ec2.create_tags(Resources=[node], Tags=[{"Key": "a", "Value": "b"}])
    status, out = control(emulator, "DELETE", f"/_emulator/managed-nodes?region={REGION}&id={node}&ec2=true")
    assert (status, out) == (200, {"removed": True})
    assert client(emulator, "ssm").describe_instance_information()["InstanceInformationList"] == []
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[node], Tags=[{"Key": "a", "Value": "b"}])
    assert error_of(e)[1] == "InvalidInstanceID.NotFound"


# --------------------------------------------------------------------------
# Faults and call counting
# --------------------------------------------------------------------------


def test_fault_injection_ec2(emulator):
    (node,) = seed(emulator, [{"kind": "ec2"}])
    status, _ = control(emulator, "POST", "/_emulator/faults", {
        "service": "ec2", "operation": "CreateTags", "status": 400, "code": "UnauthorizedOperation",
        "message": "You are not authorized to perform this operation.", "times": 1})
    assert status == 200
    ec2 = client(emulator, "ec2")
    with pytest.raises(ClientError) as e:
        ec2.create_tags(Resources=[node], Tags=[{"Key": "a", "Value": "b"}])
    assert error_of(e) == (400, "UnauthorizedOperation", "You are not authorized to perform this operation.")
    ec2.create_tags(Resources=[node], Tags=[{"Key": "a", "Value": "b"}])  # only once
    _, calls = control(emulator, "GET", "/_emulator/calls")
    assert {"region": REGION, "service": "ec2", "operation": "CreateTags", "count": 2} in calls["calls"]


def test_fault_injection_ssm_forever_and_region(emulator):
    control(emulator, "POST", "/_emulator/faults", {
        "service": "ssm", "operation": "DescribeInstanceInformation", "region": "eu-west-1",
        "status": 400, "code": "AccessDeniedException", "message": "nope", "times": -1})
    ok = client(emulator, "ssm")
    denied = client(emulator, "ssm", region="eu-west-1")
    ok.describe_instance_information()
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            denied.describe_instance_information()
        assert error_of(e) == (400, "AccessDeniedException", "nope")
    control(emulator, "DELETE", "/_emulator/faults")
    denied.describe_instance_information()


def test_fault_injection_other_protocols(emulator):
    faults = [
        {"service": "s3", "operation": "ListBuckets", "status": 403, "code": "AccessDenied", "message": "s3 no"},
        {"service": "sts", "operation": "GetCallerIdentity", "status": 403, "code": "AccessDenied",
         "message": "sts no"},
        {"service": "glue", "operation": "GetDatabases", "status": 400, "code": "AccessDeniedException",
         "message": "glue no"},
        {"service": "quicksight", "operation": "ListDashboards", "status": 403,
         "code": "AccessDeniedException", "message": "qs no"},
    ]
    control(emulator, "POST", "/_emulator/faults", faults)
    calls = [
        lambda: client(emulator, "s3", s3={"addressing_style": "path"}).list_buckets(),
        lambda: client(emulator, "sts").get_caller_identity(),
        lambda: client(emulator, "glue").get_databases(),
        lambda: client(emulator, "quicksight").list_dashboards(AwsAccountId=ACCOUNT),
    ]
    for fault, call in zip(faults, calls):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == (fault["status"], fault["code"], fault["message"]), fault


def test_call_counting(emulator):
    seed(emulator, [{"kind": "hybrid"}])
    ssm = client(emulator, "ssm")
    ssm_eu = client(emulator, "ssm", region="eu-west-1")
    s3 = client(emulator, "s3", s3={"addressing_style": "path"})
    for _ in range(3):
        ssm.describe_instance_information()
    ssm_eu.describe_instance_information()
    client(emulator, "ec2").describe_instances()
    s3.create_bucket(Bucket="bucket-1")
    s3.put_bucket_versioning(Bucket="bucket-1", VersioningConfiguration={"Status": "Enabled"})
    s3.get_bucket_versioning(Bucket="bucket-1")
    s3.put_object(Bucket="bucket-1", Key="k/1", Body=b"x")
    s3.get_object(Bucket="bucket-1", Key="k/1")
    s3.list_objects_v2(Bucket="bucket-1")
    s3.list_object_versions(Bucket="bucket-1")
    s3.list_multipart_uploads(Bucket="bucket-1")
    up = s3.create_multipart_upload(Bucket="bucket-1", Key="big")
    s3.abort_multipart_upload(Bucket="bucket-1", Key="big", UploadId=up["UploadId"])
    s3.delete_objects(Bucket="bucket-1", Delete={"Objects": [{"Key": "k/1"}]})
    s3.delete_object(Bucket="bucket-1", Key="nothing")
    s3.head_bucket(Bucket="bucket-1")

    _, out = control(emulator, "GET", "/_emulator/calls")
    counts = {(c["region"], c["service"], c["operation"]): c["count"] for c in out["calls"]}
    assert counts[(REGION, "ssm", "DescribeInstanceInformation")] == 3
    assert counts[("eu-west-1", "ssm", "DescribeInstanceInformation")] == 1
    assert counts[(REGION, "ec2", "DescribeInstances")] == 1
    for op in ("CreateBucket", "PutBucketVersioning", "GetBucketVersioning", "PutObject", "GetObject",
               "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads", "CreateMultipartUpload",
               "AbortMultipartUpload", "DeleteObjects", "DeleteObject", "HeadBucket"):
        assert counts.get((REGION, "s3", op)) == 1, (op, counts)
    # Control endpoints are not counted.
    assert not any(s == "unknown" for _, s, _ in counts)

    _, eu = control(emulator, "GET", "/_emulator/calls?region=eu-west-1")
    assert eu["calls"] == [{"region": "eu-west-1", "service": "ssm",
                            "operation": "DescribeInstanceInformation", "count": 1}]
    control(emulator, "DELETE", "/_emulator/calls?region=eu-west-1")
    _, out = control(emulator, "GET", "/_emulator/calls")
    assert all(c["region"] == REGION for c in out["calls"]) and out["calls"]
    control(emulator, "DELETE", "/_emulator/calls")
    assert control(emulator, "GET", "/_emulator/calls")[1] == {"calls": []}


def test_unimplemented_action_is_a_parseable_error(emulator):
    with pytest.raises(ClientError) as e:
        client(emulator, "ssm").get_inventory()
    status, code, _ = error_of(e)
    assert (status, code) == (501, "NotImplemented")


# --------------------------------------------------------------------------
# Seeding at scale
# --------------------------------------------------------------------------


def test_seeding_speed_10k_ec2_and_1k_hybrid(emulator):
    t0 = time.monotonic()
    ec2_ids = seed(emulator, [{"kind": "ec2", "platform_name": "Amazon Linux", "platform_version": "2023"}
                              for _ in range(10_000)])
    t1 = time.monotonic()
    hybrid_ids = seed(emulator, [{"kind": "hybrid", "tags": {"site": f"s{i % 7}"}} for i in range(1_000)])
    t2 = time.monotonic()
    print(f"\nseeding: 10,000 EC2 nodes {t1 - t0:.2f}s, 1,000 hybrid nodes {t2 - t1:.2f}s, "
          f"total {t2 - t0:.2f}s")
    assert len(set(ec2_ids)) == 10_000 and len(set(hybrid_ids)) == 1_000

    ssm = client(emulator, "ssm")
    paginator = ssm.get_paginator("describe_instance_information")
    t3 = time.monotonic()
    site0 = [n["InstanceId"]
             for page in paginator.paginate(Filters=[{"Key": "tag:site", "Values": ["s0"]}],
                                            PaginationConfig={"PageSize": 50})
             for n in page["InstanceInformationList"]]
    print(f"paging tag-filtered nodes out of 11,000: {time.monotonic() - t3:.2f}s")
    assert site0 == hybrid_ids[::7]
    # The EC2 side knows the instances: tagging 1000 of them at once works.
    client(emulator, "ec2").create_tags(Resources=ec2_ids[:1000], Tags=[{"Key": "bulk", "Value": "1"}])


def test_a_twelve_digit_access_key_acts_in_that_account(emulator):
    # The demo plays member accounts by their credentials: access key id = account id.
    member = "111122223333"
    [node] = seed(emulator, [{"kind": "hybrid", "platform_type": "Linux", "platform_name": "Ubuntu",
                              "platform_version": "22.04"}], account=member)
    as_member = boto3.client("ssm", region_name=REGION, endpoint_url=emulator,
                             aws_access_key_id=member, aws_secret_access_key="x")
    listed = as_member.describe_instance_information()["InstanceInformationList"]
    assert [n["InstanceId"] for n in listed] == [node]
    # moto's default account (the usual test credentials) does not see the member's node.
    central = client(emulator, "ssm").describe_instance_information()["InstanceInformationList"]
    assert node not in [n["InstanceId"] for n in central]
    as_member.create_resource_data_sync(
        SyncName="s", SyncType="SyncToDestination",
        S3Destination={"BucketName": "central", "SyncFormat": "JsonSerDe", "Region": REGION})
    assert [s["SyncName"] for s in as_member.list_resource_data_sync()["ResourceDataSyncItems"]] == ["s"]
    assert client(emulator, "ssm").list_resource_data_sync()["ResourceDataSyncItems"] == []
    # `<account>-<caller>` keys act in the account too, and the calls are recorded per key.
    tagger = boto3.client("ssm", region_name=REGION, endpoint_url=emulator,
                          aws_access_key_id=f"{member}-ec2-os-tagger", aws_secret_access_key="x")
    assert [n["InstanceId"] for n in tagger.describe_instance_information()["InstanceInformationList"]] == [node]
    _, out = control(emulator, "GET", "/_emulator/calls-by-principal")
    by = {(c["principal"], c["operation"]): c["count"] for c in out["calls"]}
    assert by[(f"{member}-ec2-os-tagger", "DescribeInstanceInformation")] == 1
    assert by[(member, "DescribeInstanceInformation")] == 1
    assert not any(p.startswith("AKIA") for p, _ in by), "only account-shaped keys are recorded"


# --------------------------------------------------------------------------
# AWS Config
# --------------------------------------------------------------------------

MANAGED_BY_SSM = {"ConfigRuleName": "ec2-instance-managed-by-systems-manager-1a2b3c4d",
                  "Source": {"Owner": "AWS", "SourceIdentifier": "EC2_INSTANCE_MANAGED_BY_SSM"},
                  "Scope": {"ComplianceResourceTypes": ["AWS::EC2::Instance",
                                                        "AWS::SSM::ManagedInstanceInventory"]}}


def test_config_rules_need_a_customer_managed_recorder(emulator):
    config = client(emulator, "config", region="ap-south-2")
    with pytest.raises(ClientError) as e:
        config.put_config_rule(ConfigRule=MANAGED_BY_SSM)
    assert error_of(e)[:2] == (400, "NoAvailableConfigurationRecorderException")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config",
        "recordingGroup": {"allSupported": True}})
    config.put_config_rule(ConfigRule=MANAGED_BY_SSM)
    assert [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]] == [
        MANAGED_BY_SSM["ConfigRuleName"]]
    # One customer managed recorder per account and Region.
    with pytest.raises(ClientError) as e:
        config.put_configuration_recorder(ConfigurationRecorder={
            "name": "second", "roleARN": "arn:aws:iam::123456789012:role/config"})
    assert error_of(e)[1] == "MaxNumberOfConfigurationRecordersExceededException"
