"""Tests of the emulator's QuickSight data sources, datasets and permissions
(moto + emu_quicksight.py), as the ``quicksight-builder`` custom resource uses
them: an Athena data source, custom-SQL datasets over it, principals' grants.

    .venv/bin/python -m pytest tests/emulator/test_quicksight.py -q
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, client, control, error_of, unvalidated

DS_ID = "athena-src"
DS_ARN = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:datasource/{DS_ID}"
ALICE = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:user/default/alice"
ADMINS = f"arn:aws:quicksight:us-east-1:{ACCOUNT}:group/default/admins"
READ = ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions",
        "quicksight:PassDataSet", "quicksight:DescribeIngestion", "quicksight:ListIngestions"]
WRITE = ["quicksight:UpdateDataSet", "quicksight:DeleteDataSet", "quicksight:CreateIngestion",
         "quicksight:CancelIngestion", "quicksight:UpdateDataSetPermissions"]
COLUMNS = [{"Name": "id", "Type": "STRING"}, {"Name": "n", "Type": "INTEGER"},
           {"Name": "amount", "Type": "DECIMAL", "SubType": "FIXED"},
           {"Name": "at", "Type": "DATETIME"}, {"Name": "flag", "Type": "BIT"}]


def physical(sql: str = "SELECT * FROM db.events", columns: list[dict] = COLUMNS,
             arn: str = DS_ARN) -> dict:
    return {"events": {"CustomSql": {"DataSourceArn": arn, "Name": "events", "SqlQuery": sql,
                                     "Columns": columns}}}


@pytest.fixture
def qs(emulator):
    return client(emulator, "quicksight")


@pytest.fixture
def source(qs):
    qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="Athena", Type="ATHENA",
                          DataSourceParameters={"AthenaParameters": {"WorkGroup": "primary"}},
                          Permissions=[{"Principal": ADMINS, "Actions": ["quicksight:DescribeDataSource"]}])
    return DS_ARN


def create_set(qs, ds_id: str = "events", **kw):
    args = {"AwsAccountId": ACCOUNT, "DataSetId": ds_id, "Name": f"Events {ds_id}",
            "ImportMode": "DIRECT_QUERY", "PhysicalTableMap": physical()}
    args.update(kw)
    return qs.create_data_set(**args)


# --------------------------------------------------------------------------
# Data sources
# --------------------------------------------------------------------------


def test_data_source_lifecycle(qs):
    out = qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="Athena", Type="ATHENA",
                                DataSourceParameters={"AthenaParameters": {"WorkGroup": "primary"}})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202 and out["Status"] == 202
    assert out["Arn"] == DS_ARN and out["DataSourceId"] == DS_ID
    assert out["CreationStatus"] == "CREATION_SUCCESSFUL" and out["RequestId"]

    d = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    assert d["Status"] == 200
    src = d["DataSource"]
    assert (src["Arn"], src["DataSourceId"], src["Name"], src["Type"], src["Status"]) == (
        DS_ARN, DS_ID, "Athena", "ATHENA", "CREATION_SUCCESSFUL")
    assert src["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "primary"}}
    assert isinstance(src["CreatedTime"], dt.datetime) and src["CreatedTime"].tzinfo is not None

    up = qs.update_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="Athena 2",
                               DataSourceParameters={"AthenaParameters": {"WorkGroup": "analytics"}})
    assert up["UpdateStatus"] == "UPDATE_SUCCESSFUL" and up["Arn"] == DS_ARN
    src2 = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)["DataSource"]
    assert src2["Name"] == "Athena 2" and src2["Status"] == "UPDATE_SUCCESSFUL"
    assert src2["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "analytics"
    assert src2["LastUpdatedTime"] >= src["LastUpdatedTime"] and src2["CreatedTime"] == src["CreatedTime"]

    gone = qs.delete_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    assert (gone["Arn"], gone["DataSourceId"], gone["Status"]) == (DS_ARN, DS_ID, 200)
    with pytest.raises(ClientError) as e:
        qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")


def test_data_source_errors(qs, source):
    with pytest.raises(ClientError) as e:
        qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="again", Type="ATHENA")
    assert error_of(e)[:2] == (409, "ResourceExistsException")
    assert e.value.response["ResourceType"] == "DATA_SOURCE"
    for call in (lambda: qs.update_data_source(AwsAccountId=ACCOUNT, DataSourceId="nope", Name="x"),
                 lambda: qs.delete_data_source(AwsAccountId=ACCOUNT, DataSourceId="nope"),
                 lambda: qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId="nope"),
                 lambda: qs.update_data_source_permissions(
                     AwsAccountId=ACCOUNT, DataSourceId="nope",
                     GrantPermissions=[{"Principal": ALICE, "Actions": ["quicksight:DescribeDataSource"]}])):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    raw = unvalidated(qs.meta.endpoint_url, "quicksight")
    # An empty name and an unknown type break the model: AWS's model validation answers (emu_validate).
    with pytest.raises(ClientError) as e:
        raw.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="x", Name="", Type="ATHENA")
    assert error_of(e)[:2] == (400, "ValidationException")
    assert "at 'name' failed to satisfy constraint" in error_of(e)[2]
    with pytest.raises(ClientError) as e:
        raw.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="x", Name="n", Type="ATHENAX")
    assert error_of(e)[:2] == (400, "ValidationException")
    assert "Value 'ATHENAX' at 'type'" in error_of(e)[2]


def test_data_source_in_another_account_and_region(qs, source, emulator):
    other = client(emulator, "quicksight", region="eu-west-1")
    with pytest.raises(ClientError) as e:
        other.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    assert error_of(e)[0] == 404
    # Another account's QuickSight is not this caller's: QuickSight has no resource policies, so
    # a resource of another account is denied (emu_authz, "Cross-account policy evaluation logic").
    with pytest.raises(ClientError) as e:
        qs.describe_data_source(AwsAccountId="210987654321", DataSourceId=DS_ID)
    assert error_of(e)[:2] == (401, "AccessDeniedException")
    # Signed as that account, its own data sources are separate from ours.
    theirs = boto3.client("quicksight", region_name=REGION, endpoint_url=emulator,
                          aws_access_key_id="210987654321", aws_secret_access_key="x")
    with pytest.raises(ClientError) as e:
        theirs.describe_data_source(AwsAccountId="210987654321", DataSourceId=DS_ID)
    assert error_of(e)[0] == 404
    out = theirs.create_data_source(AwsAccountId="210987654321", DataSourceId=DS_ID, Name="n", Type="ATHENA")
    assert out["Arn"] == f"arn:aws:quicksight:{REGION}:210987654321:datasource/{DS_ID}"


def test_every_region_has_quicksight(emulator):
    """moto lists only Regions where QuickSight is offered (not us-west-1); the Rust tests run one
    test per Region, so every Region must work rather than fail with an HTML 500."""
    west = client(emulator, "quicksight", region="us-west-1")
    out = west.create_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="n", Type="ATHENA")
    assert out["Arn"] == f"arn:aws:quicksight:us-west-1:{ACCOUNT}:datasource/{DS_ID}"
    assert west.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"][0]["DataSourceId"] == DS_ID


def test_error_wire_format(emulator, source):
    """restJson1: status, x-amzn-ErrorType header, {"Message", "RequestId"} body."""
    req = urllib.request.Request(f"{emulator}/accounts/{ACCOUNT}/data-sets/missing", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/quicksight/aws4_request, "
                         "SignedHeaders=host, Signature=x"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 404
    assert e.value.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    body = json.loads(e.value.read())
    assert body["Message"] and body["RequestId"] and body["ResourceType"] == "DATA_SET"


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def test_data_set_lifecycle(qs, source):
    logical = {"l1": {"Alias": "events", "Source": {"PhysicalTableId": "events"}}}
    out = create_set(qs, LogicalTableMap=logical,
                     Permissions=[{"Principal": ALICE, "Actions": READ}])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201 and out["Status"] == 201
    arn = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dataset/events"
    assert out["Arn"] == arn and out["DataSetId"] == "events" and "IngestionArn" not in out

    d = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="events")["DataSet"]
    assert d["Arn"] == arn and d["Name"] == "Events events" and d["ImportMode"] == "DIRECT_QUERY"
    assert d["PhysicalTableMap"] == physical() and d["LogicalTableMap"] == logical
    assert d["OutputColumns"] == [{"Name": "id", "Type": "STRING"}, {"Name": "n", "Type": "INTEGER"},
                                  {"Name": "amount", "Type": "DECIMAL", "SubType": "FIXED"},
                                  {"Name": "at", "Type": "DATETIME"}, {"Name": "flag", "Type": "INTEGER"}]
    assert isinstance(d["CreatedTime"], dt.datetime)

    up = qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="events", Name="Renamed", ImportMode="SPICE",
                            PhysicalTableMap=physical("SELECT id FROM db.events", [{"Name": "id", "Type": "STRING"}]))
    assert up["Arn"] == arn and up["IngestionArn"].startswith(arn + "/ingestion/") and up["IngestionId"]
    d2 = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="events")["DataSet"]
    assert d2["Name"] == "Renamed" and d2["ImportMode"] == "SPICE" and "LogicalTableMap" not in d2
    assert d2["OutputColumns"] == [{"Name": "id", "Type": "STRING"}]
    # Update leaves permissions alone.
    perms = qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="events")["Permissions"]
    assert perms == [{"Principal": ALICE, "Actions": READ}]

    gone = qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="events")
    assert (gone["Arn"], gone["DataSetId"]) == (arn, "events")
    for call in (lambda: qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="events"),
                 lambda: qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="events"),
                 lambda: qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="events", Name="x",
                                            ImportMode="SPICE", PhysicalTableMap=physical()),
                 lambda: qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="events")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[:2] == (404, "ResourceNotFoundException")


def test_data_set_spice_create_reports_ingestion_and_duplicate_is_409(qs, source):
    out = create_set(qs, "spice", ImportMode="SPICE")
    assert out["IngestionArn"] == f"{out['Arn']}/ingestion/{out['IngestionId']}"
    with pytest.raises(ClientError) as e:
        create_set(qs, "spice")
    assert error_of(e)[:2] == (409, "ResourceExistsException")


# The cases the service model refuses are AWS's ValidationException (emu_validate answers them before
# the QuickSight module); the others are the module's InvalidParameterValueException.
MODEL = "ValidationException"


@pytest.mark.parametrize("change, fragment", [
    ({"Name": ""}, (MODEL, "at 'name'")),
    ({"ImportMode": "LIVE"}, (MODEL, "at 'importMode'")),
    ({"PhysicalTableMap": {}}, "PhysicalTableMap"),
    ({"PhysicalTableMap": {"t": {}}}, "exactly one"),
    ({"PhysicalTableMap": {"t": {**physical()["events"],
                                 "S3Source": {"DataSourceArn": DS_ARN, "InputColumns": COLUMNS}}}},
     "exactly one"),
    ({"PhysicalTableMap": physical(arn=DS_ARN + "-missing")}, "DataSourceArn"),
    # Another account's data source: CreateDataSet is authorized on the data source it reads, and
    # a QuickSight resource of another account is never this caller's (emu_authz).
    ({"PhysicalTableMap": physical(arn=DS_ARN.replace(ACCOUNT, "210987654321"))},
     (401, "AccessDeniedException", "on resource: arn:aws:quicksight:us-east-1:210987654321:datasource/")),
    ({"PhysicalTableMap": physical(arn=DS_ARN.replace(REGION, "eu-west-1"))}, "DataSourceArn"),
    ({"PhysicalTableMap": physical(sql="")}, (MODEL, "at 'physicalTableMap.events.member.customSql.sqlQuery'")),
    ({"PhysicalTableMap": physical(sql="   ")}, "SqlQuery"),
    ({"PhysicalTableMap": physical(sql="S" * 168001)},
     (MODEL, "at 'physicalTableMap.events.member.customSql.sqlQuery'")),
    ({"PhysicalTableMap": physical(columns=[])}, "Columns"),
    ({"PhysicalTableMap": physical(columns=[{"Name": "a", "Type": "VARCHAR"}])},
     (MODEL, "Value 'VARCHAR' at 'physicalTableMap.events.member.customSql.columns.1.member.type'")),
    ({"LogicalTableMap": {"l": {"Alias": "a", "Source": {"PhysicalTableId": "other"}}}}, "other"),
    ({"Permissions": [{"Principal": "alice", "Actions": READ}]}, "Principal"),
    ({"Permissions": [{"Principal": "arn:aws:iam::123456789012:user/alice", "Actions": READ}]}, "Principal"),
    ({"Permissions": [{"Principal": ALICE, "Actions": []}]}, (MODEL, "at 'permissions.1.member.actions'")),
])
def test_data_set_validation(qs, source, change, fragment):
    if isinstance(fragment, tuple) and len(fragment) == 3:
        expected_status, expected, fragment = fragment
    else:
        expected_status = 400
        expected, fragment = fragment if isinstance(fragment, tuple) else ("InvalidParameterValueException", fragment)
    raw = unvalidated(qs.meta.endpoint_url, "quicksight")
    with pytest.raises(ClientError) as e:
        create_set(raw, "bad", **change)
    status, code, message = error_of(e)
    assert (status, code) == (expected_status, expected)
    assert fragment in message
    with pytest.raises(ClientError) as e:
        qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="bad")
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")  # nothing was created


def test_update_data_set_is_validated_and_atomic(qs, source):
    create_set(qs)
    raw = unvalidated(qs.meta.endpoint_url, "quicksight")
    with pytest.raises(ClientError) as e:
        raw.update_data_set(AwsAccountId=ACCOUNT, DataSetId="events", Name="x", ImportMode="SPICE",
                            PhysicalTableMap=physical(sql="   "))
    assert error_of(e)[:2] == (400, "InvalidParameterValueException")
    d = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="events")["DataSet"]
    assert d["Name"] == "Events events" and d["ImportMode"] == "DIRECT_QUERY"


def test_sql_at_the_limit_and_ids_with_dots(qs, source):
    create_set(qs, "v1.events", PhysicalTableMap=physical(sql="S" * 168000))
    d = qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="v1.events")["DataSet"]
    assert len(d["PhysicalTableMap"]["events"]["CustomSql"]["SqlQuery"]) == 168000


# --------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------


def test_data_set_permissions_grant_and_revoke(qs, source):
    create_set(qs, Permissions=[{"Principal": ALICE, "Actions": READ}])
    out = qs.update_data_set_permissions(
        AwsAccountId=ACCOUNT, DataSetId="events",
        GrantPermissions=[{"Principal": ALICE, "Actions": READ[:2] + WRITE[:1]},
                          {"Principal": ADMINS, "Actions": READ + WRITE}])
    assert out["DataSetArn"].endswith(":dataset/events") and out["DataSetId"] == "events"
    perms = {p["Principal"]: p["Actions"] for p in
             qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="events")["Permissions"]}
    assert perms == {ALICE: READ + WRITE[:1], ADMINS: READ + WRITE}

    qs.update_data_set_permissions(
        AwsAccountId=ACCOUNT, DataSetId="events",
        RevokePermissions=[{"Principal": ALICE, "Actions": WRITE},
                           {"Principal": ADMINS, "Actions": READ + WRITE},
                           {"Principal": ALICE.replace("alice", "nobody"), "Actions": READ}])
    p = qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="events")
    assert p["Permissions"] == [{"Principal": ALICE, "Actions": READ}]
    assert p["DataSetArn"].endswith(":dataset/events")

    raw = unvalidated(qs.meta.endpoint_url, "quicksight")
    with pytest.raises(ClientError) as e:
        raw.update_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="events",
                                        GrantPermissions=[{"Principal": "bob", "Actions": READ}])
    assert error_of(e)[:2] == (400, "InvalidParameterValueException")


def test_data_source_permissions(qs, source):
    perms = qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    assert perms["DataSourceArn"] == DS_ARN
    assert perms["Permissions"] == [{"Principal": ADMINS, "Actions": ["quicksight:DescribeDataSource"]}]
    acts = ["quicksight:DescribeDataSource", "quicksight:PassDataSource", "quicksight:UpdateDataSource"]
    qs.update_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID,
                                      GrantPermissions=[{"Principal": ALICE, "Actions": acts}],
                                      RevokePermissions=[{"Principal": ADMINS,
                                                          "Actions": ["quicksight:DescribeDataSource"]}])
    perms = qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)["Permissions"]
    assert perms == [{"Principal": ALICE, "Actions": acts}]
    # Updating the definition leaves permissions alone.
    qs.update_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="x")
    assert qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)["Permissions"] == perms


# --------------------------------------------------------------------------
# Listing, reset, call counting
# --------------------------------------------------------------------------


def test_list_pagination(qs, source):
    for i in range(5):
        create_set(qs, f"s{i}", ImportMode="SPICE" if i % 2 else "DIRECT_QUERY")
    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        out = qs.list_data_sets(AwsAccountId=ACCOUNT, MaxResults=2, **kw)
        pages.append([s["DataSetId"] for s in out["DataSetSummaries"]])
        token = out.get("NextToken")
        if not token:
            break
    assert pages == [["s0", "s1"], ["s2", "s3"], ["s4"]]
    s1 = qs.list_data_sets(AwsAccountId=ACCOUNT)["DataSetSummaries"][1]
    assert s1["Arn"].endswith(":dataset/s1") and s1["Name"] == "Events s1" and s1["ImportMode"] == "SPICE"
    assert isinstance(s1["CreatedTime"], dt.datetime)
    paged = [s["DataSetId"] for p in qs.get_paginator("list_data_sets").paginate(
        AwsAccountId=ACCOUNT, PaginationConfig={"PageSize": 3}) for s in p["DataSetSummaries"]]
    assert paged == [f"s{i}" for i in range(5)]

    qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="second", Name="n", Type="ATHENA")
    first = qs.list_data_sources(AwsAccountId=ACCOUNT, MaxResults=1)
    assert [d["DataSourceId"] for d in first["DataSources"]] == [DS_ID]
    second = qs.list_data_sources(AwsAccountId=ACCOUNT, MaxResults=1, NextToken=first["NextToken"])
    assert [d["DataSourceId"] for d in second["DataSources"]] == ["second"] and "NextToken" not in second

    with pytest.raises(ClientError) as e:
        qs.list_data_sets(AwsAccountId=ACCOUNT, NextToken="garbage")
    assert error_of(e)[:2] == (400, "InvalidNextTokenException")
    with pytest.raises(ClientError) as e:
        qs.list_data_sets(AwsAccountId=ACCOUNT, NextToken=first["NextToken"])  # a data-source token
    assert error_of(e)[:2] == (400, "InvalidNextTokenException")


def test_moto_reset_clears_quicksight(qs, source, emulator):
    create_set(qs)
    req = urllib.request.Request(f"{emulator}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).read()
    assert qs.list_data_sources(AwsAccountId=ACCOUNT)["DataSources"] == []
    assert qs.list_data_sets(AwsAccountId=ACCOUNT)["DataSetSummaries"] == []


def test_call_counter_names_quicksight_operations(qs, source, emulator):
    control(emulator, "DELETE", "/_emulator/calls")
    create_set(qs, "a.b")
    qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="a.b")
    qs.update_data_set(AwsAccountId=ACCOUNT, DataSetId="a.b", Name="n", ImportMode="SPICE",
                       PhysicalTableMap=physical())
    qs.list_data_sets(AwsAccountId=ACCOUNT)
    qs.update_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="a.b",
                                   GrantPermissions=[{"Principal": ALICE, "Actions": READ}])
    qs.describe_data_set_permissions(AwsAccountId=ACCOUNT, DataSetId="a.b")
    qs.delete_data_set(AwsAccountId=ACCOUNT, DataSetId="a.b")
    qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    qs.update_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="n")
    qs.list_data_sources(AwsAccountId=ACCOUNT)
    qs.update_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID,
                                      GrantPermissions=[{"Principal": ALICE, "Actions": READ}])
    qs.describe_data_source_permissions(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    qs.delete_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID)
    with pytest.raises(ClientError) as e:
        qs.describe_data_set(AwsAccountId=ACCOUNT, DataSetId="missing")
    assert error_of(e)[:2] == (404, "ResourceNotFoundException")
    qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId=DS_ID, Name="n", Type="ATHENA")
    _, out = control(emulator, "GET", "/_emulator/calls")
    counts = {c["operation"]: c["count"] for c in out["calls"] if c["service"] == "quicksight"}
    assert counts == {op: 1 for op in (
        "CreateDataSet", "UpdateDataSet", "ListDataSets", "UpdateDataSetPermissions",
        "DescribeDataSetPermissions", "DeleteDataSet", "DescribeDataSource", "UpdateDataSource",
        "ListDataSources", "UpdateDataSourcePermissions", "DescribeDataSourcePermissions",
        "DeleteDataSource", "CreateDataSource")} | {"DescribeDataSet": 2}


def test_faults_apply_to_quicksight_operations(qs, source, emulator):
    control(emulator, "POST", "/_emulator/faults",
            {"service": "quicksight", "operation": "CreateDataSet", "status": 429,
             "code": "ThrottlingException", "message": "Rate exceeded"})
    with pytest.raises(ClientError) as e:
        create_set(qs)
    assert error_of(e) == (429, "ThrottlingException", "Rate exceeded")
    assert create_set(qs)["Status"] == 201
