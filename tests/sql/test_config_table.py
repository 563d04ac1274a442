"""The AWS Config snapshot table as the OpenX JSON SerDe reads it.

A configuration item whose keys differ only in case (tags ``Name`` and ``name`` on one instance,
which EC2 allows) fails every query of a case-insensitive OpenX table with "HIVE_CURSOR_ERROR: Row
is not a valid JSON Object - JSONException: Duplicate key" (Athena User Guide, "OpenX JSON SerDe";
"Troubleshooting in Athena"). The template's table is case-sensitive with a mapping per camelCase
key, as AWS's own Config tables are; the local engine reads that definition from the template and
fails where Athena would.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import pathlib

import localathena as la
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "111122223333", "eu-west-1"


def snapshot(folder: pathlib.Path, items: list[dict]) -> None:
    """One snapshot object where AWS Config delivers it."""
    key = (f"AWSLogs/{ACCOUNT}/Config/{REGION}/2026/11/21/ConfigSnapshot/"
           f"{ACCOUNT}_Config_{REGION}_ConfigSnapshot_20261121T050000Z_0b9a1e3c.json.gz")
    path = folder / "config" / key
    path.parent.mkdir(parents=True)
    body = {"fileVersion": "1.0", "configSnapshotId": "0b9a1e3c-5d7f-4c2a-9e1b-3f6a8c0d2e4f",
            "configurationItems": items}
    with gzip.open(path, "wt") as handle:
        json.dump(body, handle)


def instance(node: str, tags: dict[str, str]) -> dict:
    return {"configurationItemVersion": "1.3", "configurationItemCaptureTime": "2026-11-21T04:12:09.123Z",
            "configurationStateId": 1763698329123, "awsAccountId": ACCOUNT,
            "configurationItemStatus": "OK", "resourceType": "AWS::EC2::Instance", "resourceId": node,
            "ARN": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{node}", "awsRegion": REGION,
            "availabilityZone": f"{REGION}a", "configurationStateMd5Hash": "",
            "configuration": {"instanceId": node, "state": {"code": 16, "name": "running"}},
            "supplementaryConfiguration": {}, "tags": tags}


@pytest.fixture
def fleet(tmp_path: pathlib.Path) -> pathlib.Path:
    snapshot(tmp_path, [instance("i-0a1b2c3d4e5f60718", {"Name": "web-1", "name": "legacy-web"}),
                        instance("i-0f1e2d3c4b5a69788", {"Name": "db-1"})])
    return tmp_path


def test_the_template_table_reads_keys_that_differ_only_in_case(fleet: pathlib.Path) -> None:
    con = la.connect(fleet)
    rows = la.fetch(con, "SELECT ci.resourceid AS node, ci.tags['Name'] AS name, ci.tags['name'] AS lower_name, "
                         "ci.arn AS arn, ci.configurationitemstatus AS status "
                         "FROM cfg.aws_config_snapshot, unnest(configurationitems) AS t(ci) ORDER BY node")
    assert rows == [
        {"node": "i-0a1b2c3d4e5f60718", "name": "web-1", "lower_name": "legacy-web",
         "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0a1b2c3d4e5f60718", "status": "OK"},
        {"node": "i-0f1e2d3c4b5a69788", "name": "db-1", "lower_name": None,
         "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0f1e2d3c4b5a69788", "status": "OK"}]


def test_a_case_insensitive_table_fails_as_athena_does(fleet: pathlib.Path) -> None:
    table = la.ConfigTable.from_template()
    serde = {k: v for k, v in table.serde.items() if k != "case.insensitive"}
    with pytest.raises(la.AthenaError, match=r'Duplicate key "name"'):
        la.connect(fleet, config_table=dataclasses.replace(table, serde=serde))


def test_a_case_sensitive_table_without_mappings_reads_nothing(fleet: pathlib.Path) -> None:
    """Case-sensitive matching means the mappings are what make the camelCase keys readable: without
    them the columns are NULL (the queries would report no instance at all)."""
    table = la.ConfigTable.from_template()
    serde = {k: v for k, v in table.serde.items() if not k.startswith("mapping.")}
    con = la.connect(fleet, config_table=dataclasses.replace(table, serde=serde))
    assert la.fetch(con, "SELECT configsnapshotid, configurationitems FROM cfg.aws_config_snapshot") == [
        {"configsnapshotid": None, "configurationitems": None}]


def test_the_named_queries_see_the_instance_by_its_name_tag(fleet: pathlib.Path) -> None:
    """The Config queries read element_at(tags, 'Name'): the tag spelled Name, not name."""
    con = la.connect(fleet)
    text = la.read_sql(ROOT / "cfn" / "queries" / "config_patch_compliance.sql")
    rows = la.run(con, text, la.NAMED_QUERY_VALUES)
    assert {r["node_id"]: r["name"] for r in rows} == {"i-0a1b2c3d4e5f60718": "web-1", "i-0f1e2d3c4b5a69788": "db-1"}
