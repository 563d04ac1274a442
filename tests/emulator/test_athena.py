"""Tests of the emulator's Athena query engine (emu_athena_query.py): queries run over tables of
the Glue catalog and the S3 objects under them, and answer as Athena answers.

    .venv/bin/python -m pytest tests/emulator/test_athena.py -q
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
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


# --- partition projection ---------------------------------------------------------------------------

REPORTS = "reports-bucket"
TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "cfn", "central-reporting.yaml")


def template_table(glue, resource: str) -> dict:
    """Creates the central template's Glue table `resource` with its TableInput as written there
    (its ``!Sub`` strings resolved with the reports bucket ``REPORTS``); returns the TableInput."""
    from emu_cfn_template import load_template_text

    def resolve(value):
        if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"].replace("${ReportsBucket}", REPORTS).replace("${!", "${")
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    with open(TEMPLATE) as handle:
        table_input = resolve(load_template_text(handle.read())["Resources"][resource]["Properties"]["TableInput"])
    glue.create_table(DatabaseName=DB, TableInput=table_input)
    return table_input


def trend(date: str, account: str, nodes: int) -> dict:
    # compliance-report's TrendRow, as serde_json writes it (crates/compliance-report/src/history.rs).
    return {"date": date, "account_id": account, "region": "us-east-1", "live_nodes": nodes, "compliant": nodes - 1,
            "non_compliant": 1, "not_scanned": 0, "missing_security": 1, "missing_critical_level": 0, "stale": 0,
            "sla_breaches": 0}


def put_lines(s3, bucket: str, key: str, lines: list[dict]) -> None:
    body = "".join(json.dumps(r) + "\n" for r in lines).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if key.endswith(".gz") else body)


def projected_table(glue, name: str, keys: list[str], params: dict[str, str]) -> None:
    glue.create_table(DatabaseName=DB, TableInput={
        "Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": params,
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
        "StorageDescriptor": {"Columns": [{"Name": "v", "Type": "string"}], "Location": f"s3://{BUCKET}/{name}/",
                              "SerdeInfo": {"SerializationLibrary": OPENX, "Parameters": {}}}})


def days_ago(n: int) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=n)).strftime("%Y-%m-%d")


def test_the_report_history_tables_are_read_through_their_projection(aws):
    s3, glue, athena = aws
    s3.create_bucket(Bucket=REPORTS)
    summary = template_table(glue, "ReportHistoryTable")
    assert summary["Parameters"]["projection.dt.range"] == "2024-01-01,NOW"
    template_table(glue, "ReportMissingPatchesTable")
    today = days_ago(0)
    # Where compliance-report writes them (history.rs: history/summary/dt=<date>/summary.json,
    # history/missing/dt=<date>/missing.json.gz).
    put_lines(s3, REPORTS, "history/summary/dt=2024-01-01/summary.json", [trend("2024-01-01", "111111111111", 3)])
    put_lines(s3, REPORTS, "history/summary/dt=2025-02-28/summary.json",
              [trend("2025-02-28", "111111111111", 4), trend("2025-02-28", "222222222222", 7)])
    put_lines(s3, REPORTS, f"history/summary/dt={today}/summary.json", [trend(today, "111111111111", 5)])
    # Outside the range (before its start, after NOW), not a date the format writes, not a dt folder,
    # a name Athena ignores: none is read.
    put_lines(s3, REPORTS, "history/summary/dt=2023-12-31/summary.json", [trend("2023-12-31", "111111111111", 9)])
    put_lines(s3, REPORTS, f"history/summary/dt={days_ago(-2)}/summary.json", [trend("future", "111111111111", 9)])
    put_lines(s3, REPORTS, "history/summary/dt=2024-1-05/summary.json", [trend("2024-1-05", "111111111111", 9)])
    put_lines(s3, REPORTS, "history/summary/dt=2024-02-30/summary.json", [trend("2024-02-30", "111111111111", 9)])
    put_lines(s3, REPORTS, "history/summary/other/summary.json", [trend("other", "111111111111", 9)])
    put_lines(s3, REPORTS, "history/summary/dt=2024-01-01/_temporary.json", [trend("temp", "111111111111", 9)])
    # A Glue partition of a projected table is ignored, and its objects with it.
    put_lines(s3, REPORTS, "elsewhere/summary.json", [trend("glue", "111111111111", 9)])
    glue.create_partition(DatabaseName=DB, TableName="report_history", PartitionInput={
        "Values": ["2024-06-01"], "StorageDescriptor": {"Location": f"s3://{REPORTS}/elsewhere/"}})

    done = run(athena, "SELECT dt, date, account_id, live_nodes, compliant FROM report_history ORDER BY dt, account_id")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    header, data, _ = rows(athena, done["QueryExecutionId"])
    assert header == ["dt", "date", "account_id", "live_nodes", "compliant"]
    assert data == [["2024-01-01", "2024-01-01", "111111111111", "3", "2"],
                    ["2025-02-28", "2025-02-28", "111111111111", "4", "3"],
                    ["2025-02-28", "2025-02-28", "222222222222", "7", "6"],
                    [today, today, "111111111111", "5", "4"]]
    # The partition column is the last one, as for any partitioned table, and filters rows.
    star = run(athena, "SELECT * FROM report_history WHERE dt = '2025-02-28' AND account_id = '222222222222'")
    header, data, _ = rows(athena, star["QueryExecutionId"])
    assert header[-1] == "dt" and data == [[*map(str, trend("2025-02-28", "222222222222", 7).values()), "2025-02-28"]]

    missing = {"account_id": "111111111111", "region": "us-east-1", "node_id": "i-1", "patch_id": "KB1",
               "compliance_level": None, "classification": "SecurityUpdates", "first_seen": "2025-02-01",
               "days_missing": 27, "sla_days": 14, "past_sla": True}
    put_lines(s3, REPORTS, "history/missing/dt=2025-02-28/missing.json.gz", [missing])
    put_lines(s3, REPORTS, f"history/missing/dt={today}/missing.json.gz", [{**missing, "past_sla": False}])
    put_lines(s3, REPORTS, "history/missing/dt=2023-06-01/missing.json.gz", [missing])
    done = run(athena, "SELECT dt, patch_id, compliance_level, days_missing, past_sla, \"$path\" AS p "
                       "FROM report_missing_patches ORDER BY dt")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(athena, done["QueryExecutionId"])[1] == [
        ["2025-02-28", "KB1", None, "27", "true", f"s3://{REPORTS}/history/missing/dt=2025-02-28/missing.json.gz"],
        [today, "KB1", None, "27", "false", f"s3://{REPORTS}/history/missing/dt={today}/missing.json.gz"]]


def test_relative_dates_integers_enums_and_a_custom_template(aws):
    s3, glue, athena = aws
    projected_table(glue, "events", ["day", "n", "region"], {
        "projection.enabled": "true",
        "projection.day.type": "date", "projection.day.format": "yyyyMMdd", "projection.day.range": "NOW-2DAYS,NOW",
        "projection.n.type": "integer", "projection.n.range": "1,10", "projection.n.interval": "3",
        "projection.n.digits": "2",
        "projection.region.type": "enum", "projection.region.values": "us-east-1,eu-west-1",
        "storage.location.template": f"s3://{BUCKET}/custom/${{region}}/${{day}}/n${{n}}/"})
    day = {i: days_ago(i).replace("-", "") for i in range(4)}
    cases = {  # key below custom/ -> read?
        f"us-east-1/{day[0]}/n01/a.json": True,
        f"eu-west-1/{day[2]}/n10/sub/b.json": True,     # any depth below the partition's folder
        f"us-east-1/{day[1]}/n04/c.json": True,
        f"us-east-1/{day[3]}/n01/d.json": False,        # before NOW-2DAYS
        f"us-east-1/{day[0]}/n02/e.json": False,        # not on the interval (1, 4, 7, 10)
        f"us-east-1/{day[0]}/n1/f.json": False,         # not two digits
        f"us-east-1/{day[0]}/n13/g.json": False,        # past the range
        f"ap-south-1/{day[0]}/n01/h.json": False,       # not an enum value
        f"us-east-1/{days_ago(0)}/n01/i.json": False,   # not the format
    }
    for key in cases:
        put_lines(s3, BUCKET, f"custom/{key}", [{"v": key.rsplit("/", 1)[1]}])
    done = run(athena, "SELECT v, region, day, n FROM events ORDER BY v")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(athena, done["QueryExecutionId"])[1] == [
        ["a.json", "us-east-1", day[0], "01"], ["b.json", "eu-west-1", day[2], "10"],
        ["c.json", "us-east-1", day[1], "04"]]


def test_injected_columns_take_the_query_value_and_require_one(aws):
    s3, glue, athena = aws
    projected_table(glue, "devices", ["device"], {
        "projection.enabled": "true", "projection.device.type": "injected",
        "storage.location.template": f"s3://{BUCKET}/devices/${{device}}"})
    put_lines(s3, BUCKET, "devices/d-1/x.json", [{"v": "one"}])
    put_lines(s3, BUCKET, "devices/d-2/x.json", [{"v": "two"}])
    done = run(athena, "SELECT v, device FROM devices WHERE device = 'd-2'")
    assert rows(athena, done["QueryExecutionId"])[1] == [["two", "d-2"]]
    failed = run(athena, "SELECT v FROM devices")
    assert failed["Status"]["StateChangeReason"].startswith(
        "CONSTRAINT_VIOLATION: For the injected projected partition column device")


@pytest.mark.parametrize("params, reason", [
    ({"projection.enabled": "true", "projection.a.type": "enum", "projection.a.values": "x"},
     "HIVE_METASTORE_ERROR: Table inventory.broken is configured for partition projection, but the following "
     "partition columns are missing projection configuration: [b] (table inventory.broken)"),
    ({"projection.enabled": "true", "projection.a.type": "enum", "projection.a.values": "x",
      "projection.b.type": "integer", "projection.b.range": "1,2",
      "storage.location.template": f"s3://{BUCKET}/broken/${{a}}/"},
     "INVALID_TABLE_PROPERTY: The 'storage.location.template' table property must contain templates for all "
     "partition columns!"),
    ({"projection.enabled": "true", "projection.a.type": "enum", "projection.a.values": "x",
      "projection.b.type": "date", "projection.b.range": "2024-01-01 00,NOW", "projection.b.format": "yyyy-MM-dd HH"},
     "INVALID_TABLE_PROPERTY: table inventory.broken, projection of column b: format 'yyyy-MM-dd HH' is finer than "
     "a day"),
])
def test_a_projection_athena_refuses_fails_the_query(aws, params, reason):
    _, glue, athena = aws
    projected_table(glue, "broken", ["a", "b"], params)
    done = run(athena, "SELECT * FROM broken")
    assert done["Status"]["State"] == "FAILED"
    assert done["Status"]["StateChangeReason"].startswith(reason), done["Status"]["StateChangeReason"]


def test_a_table_without_projection_enabled_reads_its_glue_partitions(aws):
    s3, glue, athena = aws
    # The same projection properties, but disabled: Glue's partitions count, S3 folders do not.
    projected_table(glue, "plain", ["dt"], {
        "projection.enabled": "false", "projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "2024-01-01,NOW"})
    put_lines(s3, BUCKET, "plain/dt=2024-05-01/a.json", [{"v": "registered"}])
    put_lines(s3, BUCKET, "plain/dt=2024-05-02/a.json", [{"v": "only in S3"}])
    put_lines(s3, BUCKET, "old/a.json", [{"v": "out of range but registered"}])
    for values, location in ((["2024-05-01"], f"s3://{BUCKET}/plain/dt=2024-05-01/"),
                             (["1999-01-01"], f"s3://{BUCKET}/old/")):
        glue.create_partition(DatabaseName=DB, TableName="plain", PartitionInput={
            "Values": values, "StorageDescriptor": {"Location": location}})
    done = run(athena, "SELECT dt, v FROM plain ORDER BY dt")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(athena, done["QueryExecutionId"])[1] == [
        ["1999-01-01", "out of range but registered"], ["2024-05-01", "registered"]]
