"""emu_crawler and crawler_model: StartCrawler catalogs the S3 targets as Glue does and announces
the crawl on EventBridge."""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import ACCOUNT, REGION, client, control, crawler_role

ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/AWS-Crawler"
# What the crawl of `setup` does, as the Glue Developer Guide documents a crawler role ("Crawler
# prerequisites", "Step 3: Configure security settings"): list and read the targets, catalog the
# tables in its database, write its logs to /aws-glue/crawlers.
CATALOG_ACTIONS = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                   "glue:BatchGetPartition", "glue:BatchCreatePartition"]


def crawler_statements(bucket: str, prefix: str, database: str, *, without: tuple[str, ...] = ()) -> list[dict]:
    """The documented permissions of a crawler of s3://<bucket>/<prefix> into `database`, less the
    actions `without` names."""
    statements = [
        {"Sid": "List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"},
        {"Sid": "Catalog", "Effect": "Allow", "Action": CATALOG_ACTIONS,
         "Resource": [f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
                      f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{database}",
                      f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{database}/*"]},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/crawlers*"},
    ]
    for st in statements:
        st["Action"] = [a for a in st["Action"] if a not in without]
    return [st for st in statements if st["Action"]]


def crawl(emulator: str, name: str) -> dict:
    glue = client(emulator, "glue")
    glue.start_crawler(Name=name)
    for _ in range(200):
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        time.sleep(0.05)
    raise AssertionError("the crawl did not end")


def setup(emulator: str, *, without: tuple[str, ...] = (), service: str = "glue.amazonaws.com") -> None:
    """The sync bucket's inventory, and crawler `c` of two of its types as role `r` (the documented
    permissions less `without`, assumable by `service`)."""
    crawler_role(emulator, "r", crawler_statements("sync", "inventory/", "inv", without=without), service=service)
    s3, glue = client(emulator, "s3"), client(emulator, "glue")
    s3.create_bucket(Bucket="sync")
    rows = {"AWS:InstanceInformation": [{"InstanceId": "i-1", "resourceType": "EC2Instance", "AgentVersion": "3.3"}],
            "AWS:Tag": [{"Key": "Name", "Value": "web"}, {"Key": "env", "Value": "prod"}]}
    for kind, body in rows.items():
        for account in ("111111111111", "222222222222"):
            s3.put_object(Bucket="sync", Key=f"inventory/{kind}/accountid={account}/region=us-east-1/"
                                             f"resourcetype=ManagedInstanceInventory/i-1.json",
                          Body="\n".join(json.dumps(r) for r in body).encode())
    s3.put_object(Bucket="sync", Key="inventory/AWS:InstanceInformation/accountid=111111111111/test.json", Body=b"{}")
    glue.create_database(DatabaseInput={"Name": "inv"})
    glue.create_crawler(Name="c", Role=ROLE, DatabaseName="inv",
                        Targets={"S3Targets": [{"Path": f"s3://sync/inventory/{k}/", "Exclusions": ["**/test.json"]}
                                               for k in rows]},
                        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"})


def test_tables_partitions_and_the_resourcetype_clash(emulator) -> None:
    setup(emulator)
    crawler = crawl(emulator, "c")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    glue = client(emulator, "glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="inv")["TableList"]}
    assert set(tables) == {"aws_instanceinformation", "aws_tag"}
    info = tables["aws_instanceinformation"]
    assert [k["Name"] for k in info["PartitionKeys"]] == ["accountid", "region", "resourcetype"]
    # The data column the crawler adds beside the partition key of the same name.
    assert [c["Name"] for c in info["StorageDescriptor"]["Columns"]] == ["instanceid", "resourcetype", "agentversion"]
    assert info["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    parts = glue.get_partitions(DatabaseName="inv", TableName="aws_instanceinformation")["Partitions"]
    # test.json is excluded: its folder is not a partition.
    assert sorted(p["Values"][0] for p in parts) == ["111111111111", "222222222222"]


def test_recrawl_adds_columns_and_partitions_only(emulator) -> None:
    setup(emulator)
    crawl(emulator, "c")
    s3 = client(emulator, "s3")
    s3.put_object(Bucket="sync", Key="inventory/AWS:Tag/accountid=333333333333/region=eu-west-1/"
                                     "resourcetype=ManagedInstanceInventory/mi-1.json",
                  Body=json.dumps({"Key": "k", "Value": "v", "Extra": True}).encode())
    crawl(emulator, "c")
    glue = client(emulator, "glue")
    table = glue.get_table(DatabaseName="inv", Name="aws_tag")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("key", "string"), ("value", "string"), ("extra", "boolean")]
    assert len(glue.get_partitions(DatabaseName="inv", TableName="aws_tag")["Partitions"]) == 3


def test_state_change_events_reach_a_rule(emulator) -> None:
    setup(emulator)
    sqs, events = client(emulator, "sqs"), client(emulator, "events")
    queue = sqs.create_queue(QueueName="crawls")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="crawls", EventPattern=json.dumps({"source": ["aws.glue"],
                                                             "detail-type": ["Glue Crawler State Change"]}))
    events.put_targets(Rule="crawls", Targets=[{"Id": "q", "Arn": arn}])
    crawl(emulator, "c")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    states = [json.loads(m["Body"])["detail"]["state"] for m in messages]
    assert states == ["Started", "Succeeded"]
    done = json.loads(messages[1]["Body"])["detail"]
    assert done["crawlerName"] == "c" and done["tablesCreated"] == "2"
    # The "Glue Crawler State Change" examples: Started carries startTime, Succeeded cloudWatchLogLink.
    started = json.loads(messages[0]["Body"])["detail"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started["startTime"])
    assert done["cloudWatchLogLink"] == ("https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                                         "#logEventViewer:group=/aws-glue/crawlers;stream=c")


def test_glob_rules_match_the_documented_examples_and_the_write_check() -> None:
    """The examples of "Include and exclude patterns" (define-crawler.html#crawler-data-stores-exclude),
    each relative to the include path s3://mybucket/myfolder/; "**" "matches zero or more characters
    crossing folder or schema boundaries", so "**/x" needs a "/" before x: it matches x one or more
    folders down, not x directly at the include path."""
    from crawler_model import excluded

    assert excluded("departments/finance.json", ["departments/**"])
    assert not excluded("employees/hr.json", ["departments/**"])
    assert excluded("departments/market-emea.json", ["departments/market*"])
    assert not excluded("departments/finance.json", ["departments/market*"])
    assert excluded("employees/john.csv", ["**.csv"])
    assert excluded("employees/jane.csv", ["employees/*.csv"])
    assert not excluded("employees/juan.txt", ["employees/*.csv"])
    assert not excluded("employees/john.csv", ["*.csv"])  # "an object name in the current folder"
    assert excluded("myfolder", ["myfolder**"]) and excluded("myfolder/mydata.txt", ["myfolder**"])
    assert excluded("myfolder/mysource", ["myfolder/*"]) and not excluded("myfolder/mysource/data", ["myfolder/*"])
    assert excluded("myfolder/mysource/data", ["myfolder/*/*"])
    # The sync's write check below a target <prefix>/AWS:InstanceInformation/ (one folder down).
    assert excluded("accountid=111111111111/test.json", ["**/test.json"])
    assert excluded("a/b/test.json", ["**/test.json"])
    # Zero folders: "**/" does not match nothing; a test.json at the target itself would need "test.json".
    assert not excluded("test.json", ["**/test.json"])
    assert excluded("test.json", ["**test.json"]) and excluded("test.json", ["{test.json,**/test.json}"])
    # The exclusions of AWS's own templates, relative to a bucket-root include path.
    assert excluded("AWS:InstanceInformation/accountid=111111111111/test.json",
                    ["AWS:InstanceInformation/accountid=*/test.json"])
    assert excluded("ResourceDataSync/AWS:InstanceInformation/accountid=111111111111/test.json",
                    ["*/AWS:InstanceInformation/accountid=*/test.json"])


def test_exclusions_follow_glues_glob_rules(emulator) -> None:
    """"Include and exclude patterns" (define-crawler.html): "*" stays within a folder, "**" crosses
    folders, "?", "[!...]" and "{a,b}" as documented; the pattern is relative to the include path."""
    s3, glue = client(emulator, "s3"), client(emulator, "glue")
    s3.create_bucket(Bucket="globs")
    objects = {"top.json": {"top": 1}, "accountid=1/deep.json": {"deep": 1}, "accountid=2/x.json": {"two": 1},
               "accountid=3/y.json": {"three": 1}, "accountid=4/z.json": {"four": 1}}
    for key, row in objects.items():
        s3.put_object(Bucket="globs", Key=f"data/{key}", Body=json.dumps(row).encode())
    glue.create_database(DatabaseInput={"Name": "g"})
    crawler_role(emulator, "r", crawler_statements("globs", "data/", "g"))
    glue.create_crawler(Name="g", Role="r", DatabaseName="g",
                        Targets={"S3Targets": [{"Path": "s3://globs/data/", "Exclusions": [
                            "*.json", "accountid=[!1]/?.json", "{accountid=9,accountid=4}/**"]}]})
    crawl(emulator, "g")
    table = glue.get_table(DatabaseName="g", Name="data")["Table"]
    # "*.json" excludes top.json only; "?.json" under accountid=2 and =3 excludes x and y; the brace
    # group excludes accountid=4.
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["deep"]


# --- the crawl runs as the crawler's role (emu_crawler, "whose permissions") --------------------

def tables(emulator: str, database: str = "inv") -> list[str]:
    return [t["Name"] for t in client(emulator, "glue").get_tables(DatabaseName=database)["TableList"]]


def decisions(emulator: str) -> list[dict]:
    status, out = control(emulator, "GET", "/_emulator/authz/decisions")
    assert status == 200 and not out["errors"], out
    return out["decisions"]


@pytest.mark.parametrize("role", ["trusts-lambda", "missing"])
def test_a_role_glue_cannot_assume_fails_the_crawl(emulator, role) -> None:
    # The role's trust policy must let glue.amazonaws.com assume it ("Crawler prerequisites"); Glue's
    # answer for a role it cannot assume is "Service is unable to assume provided role. Please
    # verify role's TrustPolicy".
    setup(emulator, service="lambda.amazonaws.com")
    if role == "missing":
        client(emulator, "glue").update_crawler(Name="c", Role=f"arn:aws:iam::{ACCOUNT}:role/missing")
    crawler = crawl(emulator, "c")
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert crawler["LastCrawl"]["ErrorMessage"] == ("Service is unable to assume provided role. Please verify "
                                                    "role's TrustPolicy")
    assert tables(emulator) == []
    trust = [d for d in decisions(emulator) if d["action"] == "sts:AssumeRole"]
    assert [(d["principal"], d["allowed"]) for d in trust] == [("glue.amazonaws.com", False)]
    assert not [d for d in decisions(emulator) if d["principal"] == SESSION]


def test_without_get_object_nothing_is_read_so_nothing_is_cataloged(emulator) -> None:
    # A crawler logs the objects it cannot read and goes on ("S3 Access Denied messages in the
    # logs", and no table for what it could not read: tecRacer, "Glue Crawlers: No GetObject, No
    # Problem"); every object refused, no table.
    setup(emulator, without=("s3:GetObject",))
    crawler = crawl(emulator, "c")
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED" and "ErrorMessage" not in crawler["LastCrawl"]
    assert tables(emulator) == []
    refused = {d["resource"] for d in decisions(emulator) if d["principal"] == SESSION and not d["allowed"]}
    assert refused == {f"arn:aws:s3:::sync/inventory/{kind}/accountid={account}/region=us-east-1/"
                       f"resourcetype=ManagedInstanceInventory/i-1.json"
                       for kind in ("AWS:InstanceInformation", "AWS:Tag")
                       for account in ("111111111111", "222222222222")}
    # The excluded test.json is never read.
    assert not [d for d in decisions(emulator)
                if d["principal"] == SESSION and d["resource"].endswith("/test.json")]


def test_without_create_table_the_crawl_fails_with_the_denial(emulator) -> None:
    # Decided from the catalog down: the denial names the highest object not allowed, as Glue's
    # ("... is not authorized to perform: glue:UpdateTable on resource: arn:aws:glue:eu-west-2:
    # <account>:catalog because no identity-based policy allows the glue:UpdateTable action",
    # LBHackney-IT/Data-Platform#1823).
    setup(emulator, without=("glue:CreateTable",))
    crawler = crawl(emulator, "c")
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert re.fullmatch(
        rf"User: {SESSION} is not authorized to perform: glue:CreateTable on resource: "
        rf"arn:aws:glue:{REGION}:{ACCOUNT}:catalog because no identity-based policy "
        r"allows the glue:CreateTable action \(Service: AWSGlue; Status Code: 400; Error Code: "
        r"AccessDeniedException; Request ID: [0-9a-f-]{36}; Proxy: null\)", crawler["LastCrawl"]["ErrorMessage"])
    assert tables(emulator) == []


def test_without_list_bucket_the_crawl_fails(emulator) -> None:
    setup(emulator, without=("s3:ListBucket",))
    crawler = crawl(emulator, "c")
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert re.fullmatch(r"Error listing s3://sync/inventory/AWS:InstanceInformation/: Access Denied \(Service: "
                        r"Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: \w+; S3 Extended "
                        r"Request ID: \S+; Proxy: null\)", crawler["LastCrawl"]["ErrorMessage"])
    assert tables(emulator) == []


def test_denied_log_writes_are_recorded_and_do_not_fail_the_crawl(emulator) -> None:
    setup(emulator, without=("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"))
    assert crawl(emulator, "c")["LastCrawl"]["Status"] == "SUCCEEDED"
    assert sorted(tables(emulator)) == ["aws_instanceinformation", "aws_tag"]
    # /aws-glue/crawlers does not exist: Glue would create it, and is refused; the logs are dropped.
    refused = [(d["action"], d["resource"]) for d in decisions(emulator) if d["principal"] == SESSION
               and not d["allowed"]]
    assert refused == [("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/crawlers")]
    client(emulator, "logs").create_log_group(logGroupName="/aws-glue/crawlers")
    control(emulator, "DELETE", "/_emulator/authz/decisions")
    assert crawl(emulator, "c")["LastCrawl"]["Status"] == "SUCCEEDED"
    refused = [d["action"] for d in decisions(emulator) if d["principal"] == SESSION and not d["allowed"]]
    assert refused == ["logs:CreateLogStream"]


def test_sse_kms_objects_need_kms_decrypt_through_s3(emulator) -> None:
    # "If the crawler reads Amazon S3 data encrypted with AWS KMS, then the role must have decrypt
    # permissions on the AWS KMS key" ("Step 3: Configure security settings").
    s3, glue, kms = client(emulator, "s3"), client(emulator, "glue"), client(emulator, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="enc")
    s3.put_object(Bucket="enc", Key="data/x=1/a.json", Body=b'{"a": 1}', ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key)
    glue.create_database(DatabaseInput={"Name": "e"})
    crawler_role(emulator, "r", crawler_statements("enc", "data/", "e"))
    glue.create_crawler(Name="e", Role=ROLE, DatabaseName="e", Targets={"S3Targets": [{"Path": "s3://enc/data/"}]})
    assert crawl(emulator, "e")["LastCrawl"]["Status"] == "SUCCEEDED" and tables(emulator, "e") == []
    denied = [d for d in decisions(emulator) if d["principal"] == SESSION and not d["allowed"]]
    assert [(d["action"], d["resource"]) for d in denied] == [("kms:Decrypt", key)]
    client(emulator, "iam").put_role_policy(RoleName="r", PolicyName="decrypt", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
                                                "Condition": {"StringEquals": {
                                                    "kms:ViaService": f"s3.{REGION}.amazonaws.com"}}}]}))
    assert crawl(emulator, "e")["LastCrawl"]["Status"] == "SUCCEEDED" and tables(emulator, "e") == ["data"]


def test_the_decisions_show_each_call_of_the_crawler_role_once_per_crawl(emulator) -> None:
    setup(emulator)
    control(emulator, "DELETE", "/_emulator/authz/decisions")
    assert crawl(emulator, "c")["LastCrawl"]["Status"] == "SUCCEEDED"
    got = decisions(emulator)
    assert [(d["principal"], d["resource"], d["allowed"], d["count"]) for d in got
            if d["action"] == "sts:AssumeRole"] == [("glue.amazonaws.com", ROLE, True, 1)]
    assert [d["needed"] for d in got if d["action"] == "sts:AssumeRole"] == [[f"trust {ROLE}#0"]]
    mine = [d for d in got if d["principal"] == SESSION]
    assert all(d["allowed"] and d["caller"] == f"{ACCOUNT}-r" for d in mine)
    # Once per (action, resource, request context): the two targets' listings of the bucket differ
    # in s3:prefix, so they are two.
    assert [(d["action"], d["count"]) for d in mine if d["count"] != 1] == [("s3:ListBucket", 2)]
    catalog, table = f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog", f"arn:aws:glue:{REGION}:{ACCOUNT}:table/inv/aws_tag"
    database = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/inv"
    by_action: dict[str, set[str]] = {}
    for d in mine:
        by_action.setdefault(d["action"], set()).add(d["resource"])
    assert set(by_action) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "s3:ListBucket",
                              "s3:GetObject", "glue:GetDatabase", "glue:GetTable", "glue:CreateTable",
                              "glue:BatchCreatePartition"}
    assert by_action["glue:GetDatabase"] == {catalog, database}
    assert {catalog, database, table} <= by_action["glue:CreateTable"]
    assert by_action["s3:ListBucket"] == {"arn:aws:s3:::sync"}
    assert len(by_action["s3:GetObject"]) == 4
    assert by_action["logs:PutLogEvents"] == {
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/crawlers:log-stream:c"}
    # Each statement of the documented policy was needed by some call.
    assert {label.rsplit("#", 1)[1] for d in mine for label in d["needed"]} == {"List", "Read", "Catalog", "Logs"}
    # A recrawl that finds a new column and partition updates the table and reads its partitions.
    client(emulator, "s3").put_object(Bucket="sync", Key="inventory/AWS:Tag/accountid=333333333333/region=eu-west-1/"
                                      "resourcetype=ManagedInstanceInventory/mi-1.json", Body=b'{"Extra": true}')
    control(emulator, "DELETE", "/_emulator/authz/decisions")
    assert crawl(emulator, "c")["LastCrawl"]["Status"] == "SUCCEEDED"
    glue_calls = {(d["action"], d["resource"]) for d in decisions(emulator)
                  if d["principal"] == SESSION and d["action"].startswith("glue:")}
    assert {a for a, r in glue_calls if r == table} == {"glue:GetTable", "glue:UpdateTable", "glue:BatchGetPartition",
                                                         "glue:BatchCreatePartition"}
