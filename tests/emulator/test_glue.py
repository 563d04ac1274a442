"""Tests of the emulator's Glue Data Catalog (moto + emu_glue.py), as the Glue
Lambda handlers use it: tables set up the way a crawler leaves them, optimistic
locking on UpdateTable, paged GetPartitions, and the batch partition calls.

    .venv/bin/python -m pytest tests/emulator/test_glue.py -q
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import client, control, error_of, unvalidated

DB = "crawled"
TABLE = "events"
SERDE = {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
         "Parameters": {"serialization.format": "1"}}
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
COLUMNS = [{"Name": "id", "Type": "string"}, {"Name": "value", "Type": "double"},
           {"Name": "dt", "Type": "string"}]  # "dt" duplicates the partition key (the bug)
PARTITION_KEYS = [{"Name": "dt", "Type": "string"}]


def storage(location: str, columns: list[dict] = COLUMNS) -> dict:
    return {"Columns": columns, "Location": location, "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT, "SerdeInfo": SERDE, "Compressed": False,
            "StoredAsSubDirectories": False}


def table_input(name: str = TABLE, columns: list[dict] = COLUMNS,
                keys: list[dict] = PARTITION_KEYS) -> dict:
    return {"Name": name, "StorageDescriptor": storage(f"s3://bucket/{name}/", columns),
            "PartitionKeys": keys, "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "CrawlerSchemaSerializerVersion": "1.0"}}


def partition_input(day: int, columns: list[dict] = COLUMNS) -> dict:
    value = f"2024-01-{day:02d}" if day < 32 else f"d{day:04d}"
    return {"Values": [value], "StorageDescriptor": storage(f"s3://bucket/{TABLE}/dt={value}/", columns),
            "Parameters": {"classification": "parquet", "recordCount": str(day)}}


@pytest.fixture
def glue(emulator):
    g = client(emulator, "glue")
    g.create_database(DatabaseInput={"Name": DB})
    g.create_table(DatabaseName=DB, TableInput=table_input())
    return g


def create_partitions(g, days) -> None:
    days = list(days)
    for i in range(0, len(days), 100):
        out = g.batch_create_partition(DatabaseName=DB, TableName=TABLE,
                                       PartitionInputList=[partition_input(d) for d in days[i:i + 100]])
        assert not out.get("Errors"), out


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def test_table_lifecycle_as_a_crawler_leaves_it(glue):
    t = glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]
    assert t["Name"] == TABLE and t["DatabaseName"] == DB and t["TableType"] == "EXTERNAL_TABLE"
    assert t["StorageDescriptor"]["Columns"] == COLUMNS
    assert t["StorageDescriptor"]["Location"] == f"s3://bucket/{TABLE}/"
    assert t["StorageDescriptor"]["SerdeInfo"] == SERDE
    assert t["StorageDescriptor"]["InputFormat"] == INPUT_FORMAT
    assert t["PartitionKeys"] == PARTITION_KEYS
    assert t["Parameters"]["classification"] == "parquet"
    assert isinstance(t["CreateTime"], dt.datetime)
    assert t["VersionId"] == "0"
    with pytest.raises(ClientError) as e:
        glue.create_table(DatabaseName=DB, TableInput=table_input())
    assert error_of(e)[:2] == (400, "AlreadyExistsException")
    glue.delete_table(DatabaseName=DB, Name=TABLE)
    for call in (lambda: glue.get_table(DatabaseName=DB, Name=TABLE),
                 lambda: glue.delete_table(DatabaseName=DB, Name=TABLE),
                 lambda: glue.get_table(DatabaseName="nodb", Name=TABLE)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[:2] == (400, "EntityNotFoundException")


def test_update_table_versions_and_optimistic_locking(glue):
    assert glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]["VersionId"] == "0"
    fixed = table_input(columns=COLUMNS[:2])  # AWS accepts the duplicate column; the fix removes it
    glue.update_table(DatabaseName=DB, TableInput=fixed, VersionId="0")
    t = glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]
    assert t["VersionId"] == "1" and t["StorageDescriptor"]["Columns"] == COLUMNS[:2]
    assert "UpdateTime" in t

    # A stale version: rejected, nothing changes.
    with pytest.raises(ClientError) as e:
        glue.update_table(DatabaseName=DB, TableInput=table_input(), VersionId="0")
    assert error_of(e) == (400, "ConcurrentModificationException",
                           "Update table failed due to concurrent modifications.")
    t = glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]
    assert t["VersionId"] == "1" and t["StorageDescriptor"]["Columns"] == COLUMNS[:2]

    # Without VersionId: unconditional, and still a new version.
    glue.update_table(DatabaseName=DB, TableInput=table_input())
    assert glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]["VersionId"] == "2"
    glue.update_table(DatabaseName=DB, TableInput=table_input(), VersionId="2")
    assert glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]["VersionId"] == "3"
    versions = glue.get_table_versions(DatabaseName=DB, TableName=TABLE)["TableVersions"]
    assert sorted(v["VersionId"] for v in versions) == ["0", "1", "2", "3"]

    with pytest.raises(ClientError) as e:
        glue.update_table(DatabaseName=DB, TableInput=table_input("missing"), VersionId="0")
    assert error_of(e)[:2] == (400, "EntityNotFoundException")


def test_update_table_accepts_columns_that_duplicate_partition_keys(glue):
    # AWS does not validate this; the handler under test exists to fix it.
    glue.update_table(DatabaseName=DB, TableInput=table_input(), VersionId="0")
    assert glue.get_table(DatabaseName=DB, Name=TABLE)["Table"]["StorageDescriptor"]["Columns"] == COLUMNS


# --------------------------------------------------------------------------
# GetPartitions
# --------------------------------------------------------------------------


def test_get_partitions_pages_in_stable_order(glue):
    create_partitions(glue, range(1, 251))
    expected = [f"d{d:04d}" if d >= 32 else f"2024-01-{d:02d}" for d in range(1, 251)]
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        out = glue.get_partitions(DatabaseName=DB, TableName=TABLE, MaxResults=100, **kw)
        pages += 1
        assert len(out["Partitions"]) == (100 if pages < 3 else 50)
        for p in out["Partitions"]:
            seen.append(p["Values"][0])
            assert p["DatabaseName"] == DB and p["TableName"] == TABLE
            assert isinstance(p["CreationTime"], dt.datetime)
            assert p["StorageDescriptor"]["Columns"] == COLUMNS
            assert p["StorageDescriptor"]["Location"].endswith(f"dt={p['Values'][0]}/")
            assert p["Parameters"]["classification"] == "parquet"
        token = out.get("NextToken")
        if not token:
            break
        # The handler fixes each page before fetching the next: order must hold.
        entries = [{"PartitionValueList": p["Values"],
                    "PartitionInput": {**partition_input(1, COLUMNS[:2]), "Values": p["Values"]}}
                   for p in out["Partitions"]]
        assert not glue.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=entries).get("Errors")
    assert pages == 3 and seen == expected

    # Default page: everything up to 1000; boto3's paginator agrees.
    assert len(glue.get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]) == 250
    pager = glue.get_paginator("get_partitions").paginate(
        DatabaseName=DB, TableName=TABLE, PaginationConfig={"PageSize": 1})
    assert sum(len(p["Partitions"]) for p in pager) == 250


def test_get_partitions_options_and_errors(emulator, glue):
    create_partitions(glue, range(1, 6))
    out = glue.get_partitions(DatabaseName=DB, TableName=TABLE, ExcludeColumnSchema=True,
                              Expression="dt > '2024-01-03'")
    assert [p["Values"] for p in out["Partitions"]] == [["2024-01-04"], ["2024-01-05"]]
    assert "Columns" not in out["Partitions"][0]["StorageDescriptor"]
    assert out["Partitions"][0]["StorageDescriptor"]["Location"].endswith("dt=2024-01-04/")

    raw = unvalidated(emulator, "glue")
    for bad in (0, 1001):
        with pytest.raises(ClientError) as e:
            raw.get_partitions(DatabaseName=DB, TableName=TABLE, MaxResults=bad)
        assert error_of(e)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName=DB, TableName=TABLE, NextToken="garbage")
    assert error_of(e)[:2] == (400, "InvalidInputException")
    # A token is bound to its table and expression.
    token = glue.get_partitions(DatabaseName=DB, TableName=TABLE, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName=DB, TableName=TABLE, Expression="dt > 'a'", NextToken=token)
    assert error_of(e)[:2] == (400, "InvalidInputException")
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName=DB, TableName="missing")
    assert error_of(e)[:2] == (400, "EntityNotFoundException")


# --------------------------------------------------------------------------
# BatchUpdatePartition
# --------------------------------------------------------------------------


def test_batch_update_partition_per_entry_errors(glue):
    create_partitions(glue, range(1, 4))
    before = glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2024-01-02"])["Partition"]
    fixed = partition_input(2, COLUMNS[:2])
    out = glue.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=[
        {"PartitionValueList": ["2024-01-02"], "PartitionInput": fixed},
        {"PartitionValueList": ["2099-01-01"], "PartitionInput": {**fixed, "Values": ["2099-01-01"]}},
        # Values omitted: the partition keeps its values.
        {"PartitionValueList": ["2024-01-03"], "PartitionInput": {"StorageDescriptor": fixed["StorageDescriptor"]}},
        # Renaming onto an existing partition.
        {"PartitionValueList": ["2024-01-01"], "PartitionInput": {**fixed, "Values": ["2024-01-02"]}},
        {"PartitionValueList": ["2024-01-01"], "PartitionInput": {**fixed, "Values": ["a", "b"]}},
    ])
    assert out["Errors"] == [
        {"PartitionValueList": ["2099-01-01"],
         "ErrorDetail": {"ErrorCode": "EntityNotFoundException", "ErrorMessage": "Partition not found."}},
        {"PartitionValueList": ["2024-01-01"],
         "ErrorDetail": {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "Partition already exists."}},
        {"PartitionValueList": ["2024-01-01"],
         "ErrorDetail": {"ErrorCode": "InvalidInputException",
                         "ErrorMessage": "The number of partition keys do not match the number of partition values"}},
    ]
    after = glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2024-01-02"])["Partition"]
    assert after["StorageDescriptor"]["Columns"] == COLUMNS[:2]
    assert after["CreationTime"] == before["CreationTime"]
    p3 = glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2024-01-03"])["Partition"]
    assert p3["StorageDescriptor"]["Columns"] == COLUMNS[:2]
    p1 = glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2024-01-01"])["Partition"]
    assert p1["StorageDescriptor"]["Columns"] == COLUMNS
    assert [p["Values"] for p in glue.get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]] == [
        ["2024-01-01"], ["2024-01-02"], ["2024-01-03"]]
    with pytest.raises(ClientError) as e:
        glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2099-01-01"])
    assert error_of(e)[:2] == (400, "EntityNotFoundException")


def test_batch_update_partition_limits(emulator, glue):
    raw = unvalidated(emulator, "glue")
    entries = [{"PartitionValueList": [f"v{i}"], "PartitionInput": {"Values": [f"v{i}"]}} for i in range(101)]
    with pytest.raises(ClientError) as e:
        raw.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=entries)
    assert error_of(e)[:2] == (400, "ValidationException")
    assert "less than or equal to 100" in error_of(e)[2]
    with pytest.raises(ClientError) as e:
        raw.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=[])
    assert error_of(e)[:2] == (400, "ValidationException")
    out = glue.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=entries[:100])
    assert len(out["Errors"]) == 100
    with pytest.raises(ClientError) as e:
        glue.batch_update_partition(DatabaseName=DB, TableName="missing", Entries=entries[:1])
    assert error_of(e)[:2] == (400, "EntityNotFoundException")


# --------------------------------------------------------------------------
# BatchCreatePartition
# --------------------------------------------------------------------------


def test_batch_create_partition(emulator, glue):
    create_partitions(glue, [1])
    out = glue.batch_create_partition(DatabaseName=DB, TableName=TABLE,
                                      PartitionInputList=[partition_input(d) for d in (1, 2, 3)])
    assert out["Errors"] == [{"PartitionValues": ["2024-01-01"], "ErrorDetail": {
        "ErrorCode": "AlreadyExistsException", "ErrorMessage": "Partition already exists."}}]
    assert len(glue.get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]) == 3

    # A value count that does not match the partition keys fails the whole call.
    bad = {**partition_input(5), "Values": ["2024-01-05", "extra"]}
    with pytest.raises(ClientError) as e:
        glue.batch_create_partition(DatabaseName=DB, TableName=TABLE,
                                    PartitionInputList=[partition_input(4), bad])
    assert error_of(e) == (400, "InvalidInputException",
                           "The number of partition keys do not match the number of partition values")
    assert len(glue.get_partitions(DatabaseName=DB, TableName=TABLE)["Partitions"]) == 3

    with pytest.raises(ClientError) as e:
        unvalidated(emulator, "glue").batch_create_partition(
            DatabaseName=DB, TableName=TABLE, PartitionInputList=[partition_input(d) for d in range(10, 111)])
    assert error_of(e)[:2] == (400, "ValidationException")
    for db, table in ((DB, "missing"), ("nodb", TABLE)):
        with pytest.raises(ClientError) as e:
            glue.batch_create_partition(DatabaseName=db, TableName=table, PartitionInputList=[partition_input(4)])
        assert error_of(e)[:2] == (400, "EntityNotFoundException")


def test_entry_faults(emulator, glue):
    create_partitions(glue, [1, 2])
    status, out = control(emulator, "POST", "/_emulator/glue/entry-faults", [
        {"operation": "BatchCreatePartition", "values": ["2024-01-04"],
         "code": "InternalServiceException", "message": "boom"},
        {"operation": "BatchUpdatePartition", "values": ["2024-01-02"], "table": TABLE,
         "code": "ResourceNumberLimitExceededException", "times": -1},
    ])
    assert status == 200 and len(out["faults"]) == 2
    out = glue.batch_create_partition(DatabaseName=DB, TableName=TABLE,
                                      PartitionInputList=[partition_input(d) for d in (3, 4, 5)])
    assert out["Errors"] == [{"PartitionValues": ["2024-01-04"], "ErrorDetail": {
        "ErrorCode": "InternalServiceException", "ErrorMessage": "boom"}}]
    # Consumed: a retry of the failed entry succeeds.
    assert not glue.batch_create_partition(DatabaseName=DB, TableName=TABLE,
                                           PartitionInputList=[partition_input(4)]).get("Errors")
    for _ in range(2):
        out = glue.batch_update_partition(DatabaseName=DB, TableName=TABLE, Entries=[
            {"PartitionValueList": [v], "PartitionInput": partition_input(d, COLUMNS[:2])}
            for d, v in ((1, "2024-01-01"), (2, "2024-01-02"))])
        assert [e["ErrorDetail"]["ErrorCode"] for e in out["Errors"]] == ["ResourceNumberLimitExceededException"]
    p2 = glue.get_partition(DatabaseName=DB, TableName=TABLE, PartitionValues=["2024-01-02"])["Partition"]
    assert p2["StorageDescriptor"]["Columns"] == COLUMNS
    assert len(control(emulator, "GET", "/_emulator/glue/entry-faults")[1]["faults"]) == 1
    status, out = control(emulator, "POST", "/_emulator/glue/entry-faults",
                          {"operation": "GetTable", "values": [], "code": "X"})
    assert status == 400 and "operation must be one of" in out["error"]
    control(emulator, "POST", "/_emulator/reset")
    assert control(emulator, "GET", "/_emulator/glue/entry-faults")[1]["faults"] == []


# --------------------------------------------------------------------------
# Faults and call counting
# --------------------------------------------------------------------------


def test_glue_fault_is_aws_json_and_calls_are_counted(emulator, glue):
    control(emulator, "DELETE", "/_emulator/calls")
    control(emulator, "POST", "/_emulator/faults", {
        "service": "glue", "operation": "UpdateTable", "code": "ThrottlingException",
        "message": "Rate exceeded", "status": 400})
    with pytest.raises(ClientError) as e:
        glue.update_table(DatabaseName=DB, TableInput=table_input(), VersionId="0")
    assert error_of(e) == (400, "ThrottlingException", "Rate exceeded")
    glue.update_table(DatabaseName=DB, TableInput=table_input(), VersionId="0")  # fault consumed
    glue.get_table(DatabaseName=DB, Name=TABLE)
    glue.get_partitions(DatabaseName=DB, TableName=TABLE)

    # What the Rust SDK parses: the awsJson1_1 body's __type and the header.
    control(emulator, "POST", "/_emulator/faults", {
        "service": "glue", "operation": "GetTable", "code": "InternalServiceException",
        "message": "oops", "status": 500})
    req = urllib.request.Request(emulator + "/", method="POST", data=json.dumps(
        {"DatabaseName": DB, "Name": TABLE}).encode(), headers={
        "X-Amz-Target": "AWSGlue.GetTable", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/glue/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(req)
    assert he.value.code == 500
    assert he.value.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert he.value.headers["x-amzn-ErrorType"] == "InternalServiceException"
    assert json.loads(he.value.read())["__type"] == "InternalServiceException"

    calls = {c["operation"]: c["count"] for c in control(emulator, "GET", "/_emulator/calls")[1]["calls"]
             if c["service"] == "glue" and c["region"] == "us-east-1"}
    assert calls == {"UpdateTable": 2, "GetTable": 2, "GetPartitions": 1}
