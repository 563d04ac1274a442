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

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, client, control, error_of

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


# --- Hive DDL and Trino DML ------------------------------------------------------------------------
# Athena's DDL takes backtick-quoted names, its DML (SELECT, CTAS) double-quoted ones ("Reserved
# keywords", "Names for tables, databases, and columns"); a DDL statement with a double-quoted name is
# refused by StartQueryExecution as athena-local measured Athena refuse it (emu_athena_query.py,
# "Athena's two grammars").

def refused(athena, sql: str) -> tuple[str, str]:
    """StartQueryExecution's refusal of `sql`: (the message, AthenaErrorCode)."""
    before = athena.list_query_executions(WorkGroup="reports")["QueryExecutionIds"]
    with pytest.raises(ClientError) as exc:
        athena.start_query_execution(QueryString=sql, WorkGroup="reports", QueryExecutionContext={"Database": DB})
    status, code, message = error_of(exc)
    assert (status, code) == (400, "InvalidRequestException"), (sql, status, code, message)
    # Nothing ran: no execution was created.
    assert athena.list_query_executions(WorkGroup="reports")["QueryExecutionIds"] == before
    return message, exc.value.response.get("AthenaErrorCode")


def test_ctas_takes_double_quotes_and_drop_table_backticks(aws):
    s3, glue, athena = aws
    json_table(glue, "things", [("thing", "string"), ("n", "bigint")])
    put_partition(s3, glue, "things", ["1", "r"], [{"thing": "a", "n": 1}])
    # A CTAS is a Trino statement: double-quoted names, as compliance-report writes its staging copies.
    ctas = run(athena, """CREATE TABLE "inventory"."copy" WITH (format = 'PARQUET')
                          AS SELECT * FROM "inventory"."things\"""")
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    assert (ctas["StatementType"], ctas["SubstatementType"]) == ("DML", "CREATE_TABLE_AS_SELECT")

    # DROP TABLE is Hive DDL: double quotes are refused at once, the table stays.
    message, code = refused(athena, 'DROP TABLE IF EXISTS "inventory"."copy"')
    assert code == "MALFORMED_QUERY"
    assert message.startswith("""line 1:22: mismatched input '"inventory"' expecting {'SELECT', 'FROM', """), message
    assert message.endswith(", IDENTIFIER, BACKQUOTED_IDENTIFIER}"), message
    assert refused(athena, 'DROP TABLE inventory."copy"')[0] == (
        """line 1:22: no viable alternative at input 'inventory."copy"'""")
    glue.get_table(DatabaseName=DB, Name="copy")

    dropped = run(athena, "DROP TABLE IF EXISTS `inventory`.`copy`")
    assert dropped["Status"]["State"] == "SUCCEEDED", dropped["Status"]
    assert (dropped["StatementType"], dropped["SubstatementType"]) == ("DDL", "DROP_TABLE")
    assert dropped["ResultConfiguration"]["OutputLocation"].endswith(f"/{dropped['QueryExecutionId']}.txt")
    with pytest.raises(ClientError):
        glue.get_table(DatabaseName=DB, Name="copy")
    # A backtick inside a name is written twice (Hive's quoted identifier).
    gone = run(athena, "DROP TABLE IF EXISTS `inventory`.`no``such`")
    assert gone["Status"]["State"] == "SUCCEEDED", gone["Status"]


@pytest.mark.parametrize("sql, message", [
    # athena-local's measured shapes (2026-09-25), with the names they stood for.
    ('DROP TABLE "nope"', """line 1:12: mismatched input '"nope"' expecting {"""),
    ('\n  drop table\n"nope"', """line 2:1: mismatched input '"nope"' expecting {"""),
    ('DROP TABLE awsdatacatalog."inventory".nope',
     """line 1:27: no viable alternative at input 'awsdatacatalog."inventory"'"""),
    ('/* c */ DESCRIBE "things"', """line 1:18: no viable alternative at input 'DESCRIBE "things"'"""),
    ('ALTER TABLE "things" RENAME TO x', """line 1:13: no viable alternative at input 'ALTER TABLE "things"'"""),
    ("""CREATE TABLE "t2" (n int) LOCATION 's3://b/'""",
     """line 1:14: no viable alternative at input 'CREATE TABLE "t2"'"""),
    ('SHOW CREATE TABLE "things"', "Queries of this type are not supported"),
    ('MSCK REPAIR TABLE "things"', "line 1:1: mismatched input 'MSCK'"),
    # Not measured: any other double-quoted identifier of Hive DDL, a partition key here.
    ("""ALTER TABLE `things` ADD PARTITION ("accountid" = '1', region = 'r')""",
     """line 1:37: mismatched input '"accountid"' expecting {"""),
])
def test_hive_ddl_refuses_double_quoted_names_as_athena_does(aws, sql, message):
    _, glue, athena = aws
    json_table(glue, "things", [("thing", "string")])
    got, code = refused(athena, sql)
    assert code == "MALFORMED_QUERY"
    assert got.startswith(message), got
    glue.get_table(DatabaseName=DB, Name="things")


def test_msck_and_alter_partition_take_backticks_and_the_emulator_says_it_does_not_run_them(aws):
    _, glue, athena = aws
    json_table(glue, "things", [("thing", "string")])
    # Hive DDL that Athena accepts: backticks, and double quotes where Hive reads a string. The
    # emulator runs no MSCK or ALTER TABLE, and says so, never silently.
    for sql, substatement in [
        ("MSCK REPAIR TABLE `inventory`.`things`", "MSCK_REPAIR"),
        ("""ALTER TABLE `things` ADD IF NOT EXISTS PARTITION (accountid = "1", `region` = 'r')
            LOCATION "s3://sync-bucket/things/k0=1/k1=r/\"""", None),
    ]:
        done = run(athena, sql)
        assert done["StatementType"] == "DDL"
        assert done.get("SubstatementType") == substatement
        assert done["Status"]["State"] == "FAILED"
        assert done["Status"]["StateChangeReason"].startswith(
            "NOT_SUPPORTED: the emulator runs SELECT, CREATE TABLE AS SELECT and DROP TABLE, not "), done["Status"]


# --- the caller's permissions -------------------------------------------------------------------
# "When actors interact with Athena, their permissions pass through Athena to determine what Athena
# can access" ("Control access to Amazon S3 from Athena"): the catalog reads, the data a query reads
# and the results it writes are authorized as its caller (emu_athena_query.py, section "whose
# permissions"), here a role session the test assumes through STS.

ROLE = "analyst"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/tester"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


def documented_set() -> list[dict]:
    """What a query of `things` needs, as the Athena User Guide lists it: the work group's query
    actions, the catalog reads on the catalog, database and tables ("Configure access to databases
    and tables in the AWS Glue Data Catalog"), the data bucket and the results location ("Control
    access to Amazon S3 from Athena", AmazonAthenaFullAccess's results statement without what the
    emulator never uses)."""
    return [
        {"Sid": "Queries", "Effect": "Allow", "Action": ["athena:StartQueryExecution", "athena:GetQueryExecution"],
         "Resource": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/*"},
        {"Sid": "Catalog", "Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
         "Resource": [f"{GLUE}:catalog", f"{GLUE}:database/{DB}", f"{GLUE}:table/{DB}/*"]},
        {"Sid": "Data", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Sid": "DataBucket", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Sid": "DataList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
         "Condition": {"StringLike": {"s3:prefix": "things/*"}}},
        {"Sid": "Results", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{RESULTS}/*"},
        {"Sid": "ResultsBucket", "Effect": "Allow", "Action": "s3:GetBucketLocation",
         "Resource": f"arn:aws:s3:::{RESULTS}"},
    ]


def without(statements: list[dict], sid: str, action: str | None = None) -> list[dict]:
    """The statements less statement `sid`, or less `action` in it."""
    out = []
    for st in statements:
        if st["Sid"] == sid:
            actions = [a for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]) if a != action]
            if action is None or not actions:
                continue
            st = {**st, "Action": actions}
        out.append(st)
    return out


def as_role(emulator, statements: list[dict]):
    """An Athena client signed with a session of role ROLE, whose only policy is `statements`: the
    role trusts this account, and the test's own (administrator) identity assumes it through STS."""
    iam = client(emulator, "iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=ROLE, PolicyName="athena",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    creds = client(emulator, "sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
                                                RoleSessionName="tester")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    return boto3.client("athena", endpoint_url=emulator, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                        config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def things(aws):
    s3, glue, athena = aws
    json_table(glue, "things", [("thing", "string"), ("n", "bigint")])
    put_partition(s3, glue, "things", ["1", "r"], [{"thing": "a", "n": 1}, {"thing": "b", "n": 2}])
    return aws


def failed(done: dict) -> tuple[str, int, int]:
    assert done["Status"]["State"] == "FAILED", done["Status"]
    error = done["Status"]["AthenaError"]
    assert error["ErrorMessage"] == done["Status"]["StateChangeReason"]
    return done["Status"]["StateChangeReason"], error["ErrorCategory"], error["ErrorType"]


def decisions_of(emulator, principal: str) -> list[dict]:
    _, answer = control(emulator, "GET", "/_emulator/authz/decisions")
    return [d for d in answer["decisions"] if d["principal"] == principal]


@pytest.mark.parametrize("statements, resource", [
    (without(documented_set(), "Catalog", "glue:GetTable"), f"{GLUE}:catalog"),
    # Allowed on the catalog and the database, not on this table: the table is named.
    ([*without(documented_set(), "Catalog", "glue:GetTable"),
      {"Sid": "Other", "Effect": "Allow", "Action": "glue:GetTable",
       "Resource": [f"{GLUE}:catalog", f"{GLUE}:database/{DB}", f"{GLUE}:table/{DB}/other"]}],
     f"{GLUE}:table/{DB}/things"),
])
def test_a_caller_without_glue_get_table_gets_athena_s_permission_error(emulator, things, statements, resource):
    s3, _, _ = things
    athena = as_role(emulator, statements)
    done = run(athena, "SELECT thing FROM things")
    assert failed(done) == (
        f"Insufficient permissions to execute the query. User: {SESSION} is not authorized to perform: glue:GetTable "
        f"on resource: {resource} because no identity-based policy allows the glue:GetTable action", 2, 1500)
    # Nothing ran: no results were written.
    assert s3.list_objects_v2(Bucket=RESULTS)["KeyCount"] == 0


def test_a_caller_who_may_not_read_the_data_gets_permission_denied_on_its_path(emulator, things):
    s3, _, _ = things
    athena = as_role(emulator, without(documented_set(), "Data"))
    assert failed(run(athena, "SELECT thing FROM things")) == (
        f"Permission denied on S3 path: s3://{BUCKET}/things/k0=1/k1=r/data.json", 2, 1501)
    assert s3.list_objects_v2(Bucket=RESULTS)["KeyCount"] == 0


def test_listing_is_authorized_with_the_folder_as_s3_prefix(emulator, things):
    statements = [st if st["Sid"] != "DataList" else {**st, "Condition": {"StringLike": {"s3:prefix": "other/*"}}}
                  for st in documented_set()]
    athena = as_role(emulator, statements)
    assert failed(run(athena, "SELECT thing FROM things")) == (
        f"Permission denied on S3 path: s3://{BUCKET}/things/k0=1/k1=r/", 2, 1501)


def test_a_caller_who_may_not_write_the_results_gets_access_denied_writing_output(emulator, things):
    s3, _, _ = things
    # Writing only somewhere else in the results bucket.
    statements = [st if st["Sid"] != "Results" else {**st, "Resource": f"arn:aws:s3:::{RESULTS}/elsewhere/*"}
                  for st in documented_set()]
    athena = as_role(emulator, statements)
    done = run(athena, "SELECT thing FROM things")
    location = done["ResultConfiguration"]["OutputLocation"]
    assert failed(done) == (
        f"Access denied when writing output to url: {location} . Please ensure you are allowed to access the S3 "
        "bucket. If you are encrypting query results with KMS key, please ensure you are allowed to access your KMS key",
        2, 1501)
    assert s3.list_objects_v2(Bucket=RESULTS)["KeyCount"] == 0


def test_a_caller_who_may_not_locate_the_output_bucket_is_refused_at_once(emulator, things):
    athena = as_role(emulator, without(documented_set(), "ResultsBucket"))
    with pytest.raises(ClientError) as exc:
        athena.start_query_execution(QueryString="SELECT thing FROM things", WorkGroup="reports",
                                     QueryExecutionContext={"Database": DB})
    assert error_of(exc) == (400, "InvalidRequestException", f"Unable to verify/create output bucket {RESULTS}")


def test_the_documented_set_runs_the_query_and_each_access_is_decided_once(emulator, things):
    s3, glue, _ = things
    put_partition(s3, glue, "things", ["2", "r"], [{"thing": "c", "n": 3}])
    athena = as_role(emulator, documented_set())
    control(emulator, "DELETE", "/_emulator/authz/decisions")
    # The table twice in one query: its catalog entry and objects are still authorized once.
    done = run(athena, "SELECT a.thing FROM things a JOIN inventory.things b ON a.n = b.n ORDER BY 1")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(client(emulator, "athena"), done["QueryExecutionId"])[1] == [["a"], ["b"], ["c"]]
    exec_id = done["QueryExecutionId"]
    decided = {(d["action"], d["resource"]): d for d in decisions_of(emulator, SESSION)
               if not d["action"].startswith("athena:")}
    expected = {
        ("glue:GetDatabase", f"{GLUE}:catalog"), ("glue:GetDatabase", f"{GLUE}:database/{DB}"),
        ("glue:GetTable", f"{GLUE}:catalog"), ("glue:GetTable", f"{GLUE}:database/{DB}"),
        ("glue:GetTable", f"{GLUE}:table/{DB}/things"),
        ("glue:GetPartitions", f"{GLUE}:catalog"), ("glue:GetPartitions", f"{GLUE}:database/{DB}"),
        ("glue:GetPartitions", f"{GLUE}:table/{DB}/things"),
        ("s3:GetBucketLocation", f"arn:aws:s3:::{BUCKET}"), ("s3:GetBucketLocation", f"arn:aws:s3:::{RESULTS}"),
        ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/things/k0=1/k1=r/data.json"),
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/things/k0=2/k1=r/data.json"),
        ("s3:PutObject", f"arn:aws:s3:::{RESULTS}/query-results/{exec_id}.csv"),
        ("s3:PutObject", f"arn:aws:s3:::{RESULTS}/query-results/{exec_id}.csv.metadata"),
    }
    assert set(decided) == expected
    assert all(d["allowed"] for d in decided.values())
    # Each (action, resource) once, but for the two folders listed (two s3:prefix values).
    assert {k: d["count"] for k, d in decided.items() if d["count"] != 1} == {
        ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"): 2}
    assert decided[("glue:GetTable", f"{GLUE}:table/{DB}/things")]["allowed_by"] == [
        f"identity arn:aws:iam::{ACCOUNT}:role/{ROLE} inline:athena#Catalog"]
    assert decided[("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")]["allowed_by"] == [
        f"identity arn:aws:iam::{ACCOUNT}:role/{ROLE} inline:athena#DataList"]
    body = s3.get_object(Bucket=RESULTS, Key=f"query-results/{exec_id}.csv")["Body"].read().decode()
    assert body.splitlines() == ['"thing"', '"a"', '"b"', '"c"']


def test_sse_kms_data_needs_the_key_through_s3(emulator, things):
    s3, glue, _ = things
    kms = client(emulator, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="sealed")
    s3.put_bucket_encryption(Bucket="sealed", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
    s3.put_object(Bucket="sealed", Key="sealed/part.json", Body=b'{"thing": "secret", "n": 7}\n')
    glue.create_table(DatabaseName=DB, TableInput={
        "Name": "sealed", "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {"Columns": [{"Name": "thing", "Type": "string"}], "Location": "s3://sealed/sealed/",
                              "SerdeInfo": {"SerializationLibrary": OPENX}}})
    reads = [{"Sid": "Sealed", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
              "Resource": ["arn:aws:s3:::sealed", "arn:aws:s3:::sealed/*"]}]
    # The key's default policy lets the account's IAM policies grant it; S3 asks on the caller's
    # behalf (kms:ViaService), for the object (its encryption context).
    decrypt = {"Sid": "Key", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
               "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com",
                                              "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::sealed/sealed/part.json"},
                             "ForAnyValue:StringEquals": {"aws:CalledVia": "athena.amazonaws.com"}}}
    athena = as_role(emulator, documented_set() + reads)
    assert failed(run(athena, "SELECT thing FROM sealed")) == (
        "Permission denied on S3 path: s3://sealed/sealed/part.json", 2, 1501)
    client(emulator, "iam").put_role_policy(RoleName=ROLE, PolicyName="key", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [decrypt]}))
    done = run(athena, "SELECT thing FROM sealed")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert rows(client(emulator, "athena"), done["QueryExecutionId"])[1] == [["secret"]]


def test_ctas_and_drop_table_need_the_catalog_writes(emulator, things):
    s3, glue, _ = things
    writes = {"Sid": "Staging", "Effect": "Allow", "Action": ["glue:CreateTable"],
              "Resource": [f"{GLUE}:catalog", f"{GLUE}:database/{DB}", f"{GLUE}:table/{DB}/copy"]}
    listing = {"Sid": "ResultsList", "Effect": "Allow", "Action": "s3:ListBucket",
               "Resource": f"arn:aws:s3:::{RESULTS}", "Condition": {"StringLike": {"s3:prefix": "query-results/*"}}}
    athena = as_role(emulator, documented_set() + [writes, listing])
    ctas = run(athena, 'CREATE TABLE "copy" AS SELECT thing FROM things')
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    assert glue.get_table(DatabaseName=DB, Name="copy")
    done = run(athena, "DROP TABLE `copy`")
    assert failed(done) == (
        f"Insufficient permissions to execute the query. User: {SESSION} is not authorized to perform: "
        f"glue:DeleteTable on resource: {GLUE}:catalog because no identity-based policy allows the glue:DeleteTable "
        "action", 2, 1500)
    assert glue.get_table(DatabaseName=DB, Name="copy")
    # Without glue:CreateTable on the table the data is written and the table is not created (Athena
    # commits the catalog entry last).
    again = run(athena, 'CREATE TABLE "other" AS SELECT thing FROM things')
    assert failed(again) == (
        f"Insufficient permissions to execute the query. User: {SESSION} is not authorized to perform: "
        f"glue:CreateTable on resource: {GLUE}:table/{DB}/other because no identity-based policy allows the "
        "glue:CreateTable action", 2, 1500)
    with pytest.raises(ClientError):
        glue.get_table(DatabaseName=DB, Name="other")
    written = s3.list_objects_v2(Bucket=RESULTS, Prefix=f"query-results/tables/{again['QueryExecutionId']}/")
    assert written["KeyCount"] == 1


def test_a_projected_table_lists_each_partition_folder_as_the_caller(emulator, things):
    s3, glue, _ = things
    s3.create_bucket(Bucket=REPORTS)
    template_table(glue, "ReportHistoryTable")
    put_lines(s3, REPORTS, "history/summary/dt=2025-02-28/summary.json", [trend("2025-02-28", "111111111111", 4)])
    reads = {"Sid": "History", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetBucketLocation"],
             "Resource": [f"arn:aws:s3:::{REPORTS}", f"arn:aws:s3:::{REPORTS}/history/*"]}
    listing = {"Sid": "HistoryList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{REPORTS}",
               "Condition": {"StringLike": {"s3:prefix": "history/missing/*"}}}
    athena = as_role(emulator, documented_set() + [reads, listing])
    # No glue:GetPartitions is needed (nor granted on the reports' table): Athena ignores the
    # catalog's partitions of a projected table; it lists each projected partition's folder.
    assert failed(run(athena, "SELECT account_id FROM report_history")) == (
        f"Permission denied on S3 path: s3://{REPORTS}/history/summary/dt=2025-02-28/", 2, 1501)
    client(emulator, "iam").put_role_policy(RoleName=ROLE, PolicyName="athena", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": documented_set() + [
            reads, {**listing, "Condition": {"StringLike": {"s3:prefix": "history/*"}}}]}))
    done = run(athena, "SELECT account_id FROM report_history")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    assert not [d for d in decisions_of(emulator, SESSION) if d["action"] == "glue:GetPartitions"]


def test_the_administrator_s_queries_are_authorized_too(emulator, things):
    _, _, athena = things
    control(emulator, "DELETE", "/_emulator/authz/decisions")
    done = run(athena, "SELECT count(*) FROM things")
    assert done["Status"]["State"] == "SUCCEEDED", done["Status"]
    decided = {(d["action"], d["resource"]): d["allowed"] for d in decisions_of(emulator, f"arn:aws:iam::{ACCOUNT}:root")}
    assert decided[("glue:GetTable", f"{GLUE}:table/{DB}/things")] is True
    assert decided[("s3:GetObject", f"arn:aws:s3:::{BUCKET}/things/k0=1/k1=r/data.json")] is True


def test_queued_queries_can_be_stopped_and_never_run(aws):
    _, _, athena = aws
    # About half a second each in DuckDB (a bare count(*) of the cross join is computed from the
    # cardinalities, in milliseconds: the sixth query could then finish before it is stopped).
    slow = ("SELECT count(*) FROM UNNEST(sequence(1, 6000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 6000)) AS b(y) "
            "WHERE (x * y) % 7 = 1")
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
