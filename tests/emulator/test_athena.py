"""Tests of the emulator's Athena query engine (emu_athena_query.py): queries run over tables of
the Glue catalog and the S3 objects under them, and answer as Athena answers.

    .venv/bin/python -m pytest tests/emulator/test_athena.py -q
"""

from __future__ import annotations

import gzip
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import client, error_of

DB = "inventory"
BUCKET = "sync-bucket"
RESULTS = "athena-results"
OPENX = "org.openx.data.jsonserde.JsonSerDe"


@pytest.fixture
def aws(emulator):
    s3, glue, athena = (client(emulator, s) for s in ("s3", "glue", "athena"))
    for bucket in (BUCKET, RESULTS):
        s3.create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={"Name": DB})
    athena.create_work_group(Name="reports", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/query-results/"},
        "EnforceWorkGroupConfiguration": True})
    athena.create_work_group(Name="open", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/open/"},
        "EnforceWorkGroupConfiguration": False})
    return s3, glue, athena


def json_table(glue, name: str, columns: list[tuple[str, str]], params: dict | None = None,
               partitions: list[str] = ("accountid", "region")) -> None:
    glue.create_table(DatabaseName=DB, TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": p, "Type": "string"} for p in partitions],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in columns], "Location": f"s3://{BUCKET}/{name}/",
            "SerdeInfo": {"SerializationLibrary": OPENX, "Parameters": params or {}}}})


def put_partition(s3, glue, table: str, values: list[str], rows: list[dict], gz: bool = False,
                  name: str = "data.json") -> int:
    folder = f"{table}/" + "/".join(f"k{i}={v}" for i, v in enumerate(values)) + "/"
    body = "\n".join(json.dumps(r) for r in rows).encode()
    if gz:
        body = gzip.compress(body)
    s3.put_object(Bucket=BUCKET, Key=folder + name, Body=body)
    try:
        glue.create_partition(DatabaseName=DB, TableName=table, PartitionInput={
            "Values": values, "StorageDescriptor": {"Location": f"s3://{BUCKET}/{folder}"}})
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyExistsException":
            raise
    return len(body)


def run(athena, sql: str, *, parameters: list[str] | None = None, group: str = "reports",
        timeout: float = 30) -> dict:
    args = {"QueryString": sql, "WorkGroup": group, "QueryExecutionContext": {"Database": DB}}
    if parameters:
        args["ExecutionParameters"] = parameters
    exec_id = athena.start_query_execution(**args)["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=exec_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        assert time.monotonic() < deadline, execution
        time.sleep(0.05)


def rows(athena, exec_id: str, page_size: int = 1000) -> tuple[list[str], list[list[str | None]], int]:
    """The header, the rows and the number of pages, read as a client pages through them."""
    pages = athena.get_paginator("get_query_results").paginate(
        QueryExecutionId=exec_id, PaginationConfig={"PageSize": page_size})
    table, count = [], 0
    for page in pages:
        count += 1
        table += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
    return table[0], table[1:], count


NODES = [
    {"InstanceId": "i-1", "PlatformType": "Linux", "ComputerName": "a", "Cores": 2},
    {"InstanceId": "i-2", "PlatformType": "Windows", "ComputerName": "b", "Cores": 4},
    {"InstanceId": "mi-3", "PlatformType": "Linux"},
]


def test_select_reads_partitions_case_insensitively_with_athena_results(aws):
    s3, glue, athena = aws
    json_table(glue, "aws_instanceinformation",
               [("instanceid", "string"), ("platformtype", "string"), ("computername", "string"),
                ("cores", "bigint")])
    size = put_partition(s3, glue, "aws_instanceinformation", ["111111111111", "us-east-1"], NODES[:2])
    size += put_partition(s3, glue, "aws_instanceinformation", ["222222222222", "eu-west-1"], NODES[2:], gz=True,
                          name="data.json.gz")
    # Objects outside every partition, and names Athena ignores, are not read.
    s3.put_object(Bucket=BUCKET, Key="aws_instanceinformation/stray.json", Body=b'{"InstanceId": "i-9"}')
    s3.put_object(Bucket=BUCKET, Key="aws_instanceinformation/k0=111111111111/k1=us-east-1/_SUCCESS", Body=b"x")

    done = run(athena, "SELECT accountid, region, instanceid, platformtype, cores, computername\n"
                       "FROM inventory.aws_instanceinformation ORDER BY instanceid")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert done["StatementType"] == "DML"
    assert done["Statistics"]["DataScannedInBytes"] == size
    header, data, _ = rows(athena, done["QueryExecutionId"])
    assert header == ["accountid", "region", "instanceid", "platformtype", "cores", "computername"]
    assert data == [["111111111111", "us-east-1", "i-1", "Linux", "2", "a"],
                    ["111111111111", "us-east-1", "i-2", "Windows", "4", "b"],
                    ["222222222222", "eu-west-1", "mi-3", "Linux", None, None]]
    info = athena.get_query_results(QueryExecutionId=done["QueryExecutionId"])["ResultSet"]["ResultSetMetadata"]
    assert [(c["Name"], c["Type"]) for c in info["ColumnInfo"]][3:5] == [("platformtype", "varchar"), ("cores", "bigint")]

    # Pseudo-columns stay out of SELECT *; partition keys come after the data columns.
    star = run(athena, "SELECT * FROM aws_instanceinformation LIMIT 1")
    assert rows(athena, star["QueryExecutionId"])[0] == [
        "instanceid", "platformtype", "computername", "cores", "accountid", "region"]

    location = done["ResultConfiguration"]["OutputLocation"]
    assert location == f"s3://{RESULTS}/query-results/{done['QueryExecutionId']}.csv"
    body = s3.get_object(Bucket=RESULTS, Key=location.split("/", 3)[3])["Body"].read().decode()
    assert body.splitlines()[0] == '"accountid","region","instanceid","platformtype","cores","computername"'
    assert body.splitlines()[3] == '"222222222222","eu-west-1","mi-3","Linux",,'
    s3.head_object(Bucket=RESULTS, Key=location.split("/", 3)[3] + ".metadata")


def test_duplicate_keys_fail_as_the_openx_serde_fails_them(aws):
    s3, glue, athena = aws
    json_table(glue, "tags", [("name", "string")])
    put_partition(s3, glue, "tags", ["1", "r"], [{"Name": "web", "name": "x"}])
    done = run(athena, "SELECT * FROM tags")
    assert done["Status"]["State"] == "FAILED"
    assert done["Status"]["StateChangeReason"].startswith(
        'HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException: Duplicate key "name"')
    assert done["Status"]["AthenaError"]["ErrorCategory"] == 2


def test_case_sensitive_mappings_nested_fields_and_path(aws):
    s3, glue, athena = aws
    json_table(glue, "snapshots", [("fileversion", "string"),
                                   ("configurationitems", "array<struct<resourceid:string,tags:map<string,string>>>")],
               {"case.insensitive": "false", "mapping.fileversion": "fileVersion",
                "mapping.configurationitems": "configurationItems", "mapping.resourceid": "resourceId"},
               partitions=["dt"])
    put_partition(s3, glue, "snapshots", ["2026-12-01"], [{
        "fileVersion": "1.0", "configurationItems": [
            {"resourceId": "i-1", "tags": {"Name": "web", "name": "x"}}, {"resourceId": "i-2", "tags": {}}]}],
        gz=True, name="snap.json.gz")
    done = run(athena, "SELECT dt, fileversion, ci.resourceid, element_at(ci.tags, 'Name') AS tag, \"$path\" AS p "
                       "FROM snapshots CROSS JOIN UNNEST(configurationitems) AS t(ci) ORDER BY 3")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    _, data, _ = rows(athena, done["QueryExecutionId"])
    path = f"s3://{BUCKET}/snapshots/k0=2026-12-01/snap.json.gz"
    assert data == [["2026-12-01", "1.0", "i-1", "web", path], ["2026-12-01", "1.0", "i-2", None, path]]


@pytest.mark.parametrize("sql, reason", [
    ("SELECT 1 FROM\n  inventory.nothing", "TABLE_NOT_FOUND: line 2:3: Table 'awsdatacatalog.inventory.nothing' does not exist"),
    ("SELECT thing,\n       nosuchcolumn FROM things", "COLUMN_NOT_FOUND: line 2:8: Column 'nosuchcolumn' cannot be resolved"),
    ("INSERT INTO things VALUES ('a')", "NOT_SUPPORTED: the emulator runs SELECT"),
])
def test_a_failing_query_says_why(aws, sql, reason):
    s3, glue, athena = aws
    json_table(glue, "things", [("thing", "string")])
    done = run(athena, sql)
    assert done["Status"]["State"] == "FAILED"
    assert done["Status"]["StateChangeReason"].startswith(reason), done["Status"]["StateChangeReason"]
    with pytest.raises(ClientError) as exc:
        athena.get_query_results(QueryExecutionId=done["QueryExecutionId"])
    assert error_of(exc)[1] == "InvalidRequestException"


def test_results_page_by_a_thousand_rows_with_the_header_once(aws):
    _, _, athena = aws
    done = run(athena, "SELECT x FROM UNNEST(sequence(1, 2500)) AS t(x) ORDER BY x")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    header, data, pages = rows(athena, done["QueryExecutionId"])
    assert header == ["x"] and pages == 3
    assert [int(r[0]) for r in data] == list(range(1, 2501))
    with pytest.raises(ClientError) as exc:
        athena.get_query_results(QueryExecutionId=done["QueryExecutionId"], NextToken="forged")
    assert error_of(exc)[1] == "InvalidRequestException"


def test_execution_parameters_are_sql_values_in_order(aws):
    s3, glue, athena = aws
    json_table(glue, "things", [("thing", "string"), ("n", "bigint")])
    put_partition(s3, glue, "things", ["1", "r"], [{"thing": "a", "n": 1}, {"thing": "b", "n": 5}])
    done = run(athena, "SELECT thing FROM things WHERE n > ? AND thing <> ?", parameters=["0", "'a'"])
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert done["ExecutionParameters"] == ["0", "'a'"]
    assert rows(athena, done["QueryExecutionId"])[1] == [["b"]]
    wrong = run(athena, "SELECT thing FROM things WHERE n > ?")
    assert wrong["Status"]["State"] == "FAILED"
    assert "INVALID_PARAMETER_USAGE" in wrong["Status"]["StateChangeReason"]


def test_ctas_writes_parquet_reads_back_and_drop_keeps_the_data(aws):
    s3, glue, athena = aws
    json_table(glue, "things", [("thing", "string"), ("n", "bigint")])
    put_partition(s3, glue, "things", ["1", "r"], [{"thing": t, "n": i} for i, t in enumerate("abcde")])
    ctas = run(athena, "CREATE TABLE inventory.latest WITH (format = 'PARQUET', "
                       f"external_location = 's3://{RESULTS}/tmp/latest/') AS SELECT thing, n FROM things WHERE n < 4",
               group="open")
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    assert ctas["StatementType"] == "DML"
    answer = athena.get_query_results(QueryExecutionId=ctas["QueryExecutionId"])
    assert answer["UpdateCount"] == 4 and answer["ResultSet"]["Rows"] == []
    assert [c["Name"] for c in answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]] == ["rows"]
    table = glue.get_table(DatabaseName=DB, Name="latest")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [("thing", "string"), ("n", "bigint")]
    written = s3.list_objects_v2(Bucket=RESULTS, Prefix="tmp/latest/")["Contents"]
    assert len(written) == 1

    read = run(athena, "SELECT count(*) AS c, sum(n) AS s FROM latest")
    assert rows(athena, read["QueryExecutionId"])[1] == [["4", "6"]]
    # Athena reads a Parquet table's named columns only: fewer bytes than the object.
    one = run(athena, "SELECT n FROM latest")
    assert 0 < one["Statistics"]["DataScannedInBytes"] < written[0]["Size"]

    again = run(athena, "CREATE TABLE inventory.again WITH (format = 'PARQUET', "
                        f"external_location = 's3://{RESULTS}/tmp/latest/') AS SELECT 1 AS x", group="open")
    assert again["Status"]["StateChangeReason"].startswith("HIVE_PATH_ALREADY_EXISTS")

    dropped = run(athena, "DROP TABLE IF EXISTS latest")
    assert dropped["Status"]["State"] == "SUCCEEDED", dropped["Status"]
    assert (dropped["StatementType"], dropped["ResultConfiguration"]["OutputLocation"][-4:]) == ("DDL", ".txt")
    with pytest.raises(ClientError):
        glue.get_table(DatabaseName=DB, Name="latest")
    assert len(s3.list_objects_v2(Bucket=RESULTS, Prefix="tmp/latest/")["Contents"]) == 1
    assert run(athena, "DROP TABLE latest")["Status"]["State"] == "FAILED"


def test_requests_athena_refuses(aws, emulator):
    _, _, athena = aws
    athena.create_work_group(Name="bare", Configuration={})
    with pytest.raises(ClientError) as exc:
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="bare")
    assert error_of(exc)[1:] == ("InvalidRequestException", "No output location provided. An output location is "
                                 "required either through the Workgroup result configuration setting or as an API input.")
    with pytest.raises(ClientError) as exc:
        athena.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
    assert error_of(exc)[1] == "InvalidRequestException"
    # The client's location counts when the workgroup has none.
    exec_id = athena.start_query_execution(QueryString="SELECT 1 AS one", WorkGroup="bare",
                                           ResultConfiguration={"OutputLocation": f"s3://{RESULTS}/mine/"})["QueryExecutionId"]
    done = run(athena, "SELECT 1", group="reports")
    assert done["Status"]["State"] == "SUCCEEDED"
    execution = athena.get_query_execution(QueryExecutionId=exec_id)["QueryExecution"]
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{RESULTS}/mine/{exec_id}.csv"


def test_an_enforced_workgroup_places_ctas_tables_itself(aws):
    s3, glue, athena = aws
    refused = run(athena, f"CREATE TABLE t1 WITH (external_location = 's3://{RESULTS}/mine/') AS SELECT 1 AS x")
    assert refused["Status"]["StateChangeReason"].startswith(
        "The Create Table As Select query failed because it was submitted with an 'external_location' property")
    done = run(athena, "CREATE TABLE t2 AS SELECT 1 AS x")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    location = glue.get_table(DatabaseName=DB, Name="t2")["Table"]["StorageDescriptor"]["Location"]
    assert location == f"s3://{RESULTS}/query-results/tables/{done['QueryExecutionId']}/"
    assert s3.list_objects_v2(Bucket=RESULTS, Prefix=f"query-results/tables/{done['QueryExecutionId']}/")["KeyCount"] == 1


def test_a_statement_that_does_not_parse_is_refused_at_once(aws):
    _, _, athena = aws
    with pytest.raises(ClientError) as exc:
        athena.start_query_execution(QueryString="SELECT FROM WHERE (", WorkGroup="reports")
    status, code, message = error_of(exc)
    assert (status, code) == (400, "InvalidRequestException") and message.startswith("line 1:")


def test_queued_queries_can_be_stopped_and_never_run(aws):
    _, _, athena = aws
    slow = "SELECT count(*) FROM UNNEST(sequence(1, 3000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 3000)) AS b(y)"
    ids = [athena.start_query_execution(QueryString=slow, WorkGroup="reports")["QueryExecutionId"] for _ in range(6)]
    athena.stop_query_execution(QueryExecutionId=ids[-1])
    last = athena.get_query_execution(QueryExecutionId=ids[-1])["QueryExecution"]["Status"]
    assert last["State"] == "CANCELLED"
    for exec_id in ids[:-1]:
        athena.stop_query_execution(QueryExecutionId=exec_id)
    # Stopping a finished query changes nothing (the call is idempotent).
    athena.stop_query_execution(QueryExecutionId=ids[-1])
    assert athena.get_query_execution(QueryExecutionId=ids[-1])["QueryExecution"]["Status"]["State"] == "CANCELLED"
