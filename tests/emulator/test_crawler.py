"""emu_crawler and crawler_model: StartCrawler catalogs the S3 targets as Glue does and announces
the crawl on EventBridge."""

from __future__ import annotations

import json
import re
import time

from conftest import client


def crawl(emulator: str, name: str) -> dict:
    glue = client(emulator, "glue")
    glue.start_crawler(Name=name)
    for _ in range(200):
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        time.sleep(0.05)
    raise AssertionError("the crawl did not end")


def setup(emulator: str) -> None:
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
    glue.create_crawler(Name="c", Role="arn:aws:iam::123456789012:role/r", DatabaseName="inv",
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
    glue.create_crawler(Name="g", Role="arn:aws:iam::123456789012:role/r", DatabaseName="g",
                        Targets={"S3Targets": [{"Path": "s3://globs/data/", "Exclusions": [
                            "*.json", "accountid=[!1]/?.json", "{accountid=9,accountid=4}/**"]}]})
    crawl(emulator, "g")
    table = glue.get_table(DatabaseName="g", Name="data")["Table"]
    # "*.json" excludes top.json only; "?.json" under accountid=2 and =3 excludes x and y; the brace
    # group excludes accountid=4.
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["deep"]

