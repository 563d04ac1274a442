"""The IAM lint (iam_lint.py, also run by `make lint`) on every template, and checks that the lint
itself sees what it should: the defects it exists for are found on small policies, the global keys
it adds are accepted, both branches of an Fn::If are linted, and a policy it cannot read fails."""

from __future__ import annotations

import pathlib

import pytest

import iam_lint
from cfn import CFN, TEMPLATES, load

ACCOUNT = iam_lint.ACCOUNT


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_policy_of_the_template_passes_the_iam_lint(path: pathlib.Path) -> None:
    failing, _allowed, stale, _count = iam_lint.check([path])
    assert not failing, "findings (fix the statement, or add an ALLOWED entry with the reason):\n" + \
        "\n".join(map(str, failing))
    assert not stale, "ALLOWED entries that match nothing any more (remove them):\n" + "\n".join(map(str, stale))


def test_every_allow_list_entry_names_a_template_and_gives_a_reason() -> None:
    stems = {p.stem for p in TEMPLATES}
    for entry in iam_lint.ALLOWED:
        assert entry.template in stems, entry
        assert len(entry.reason) > 40, entry


def findings(*statements: dict) -> set[tuple[str, str]]:
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    return {(f.issue, f.detail) for f in iam_lint.lint_policy("test", "policy", policy)}


def allow(action, resource, condition=None) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


GLUE = f"arn:aws:glue:us-east-1:{ACCOUNT}"
QUICKSIGHT = f"arn:aws:quicksight:us-east-1:{ACCOUNT}"


def test_resources_of_the_wrong_type_are_found() -> None:
    # glue:GetTable authorizes the root catalog, the database and the table (all required).
    got = findings(allow("glue:GetTable", f"{GLUE}:table/db/t"))
    assert ("RESOURCE_MISMATCH", "glue:GetTable needs a resource of arn:*:glue:*:*:database/* and "
            "arn:*:glue:*:*:catalog") in got
    assert not findings(allow("glue:GetTable", [f"{GLUE}:catalog", f"{GLUE}:database/db", f"{GLUE}:table/db/t"]))
    # CreateDataSource has no resource type (only "*"); CreateDataSet is authorized on its data source.
    assert findings(allow("quicksight:CreateDataSource", f"{QUICKSIGHT}:datasource/d")) == {
        ("RESOURCE_MISMATCH", "quicksight:CreateDataSource needs a resource of *")}
    assert findings(allow("quicksight:CreateDataSet", f"{QUICKSIGHT}:dataset/d")) == {
        ("RESOURCE_MISMATCH", "quicksight:CreateDataSet needs a resource of arn:*:quicksight:*:*:datasource/*"),
        ("RESOURCE_OF_NO_ACTION", f"{QUICKSIGHT}:dataset/d is of no resource type of quicksight:CreateDataSet")}
    assert not findings(allow("quicksight:CreateDataSource", "*"),
                        allow("quicksight:CreateDataSet", f"{QUICKSIGHT}:datasource/d"))
    # Athena's query actions are authorized on the work group.
    assert ("RESOURCE_MISMATCH", "athena:StartQueryExecution needs a resource of arn:*:athena:*:*:workgroup/*") in \
        findings(allow("athena:StartQueryExecution", f"arn:aws:athena:us-east-1:{ACCOUNT}:datacatalog/AwsDataCatalog"))


def test_resources_no_action_of_the_statement_authorizes_are_found() -> None:
    # parliament checks required resource types only: s3:PutObject's are all optional.
    assert findings(allow("s3:PutObject", "arn:aws:s3:::b")) == {
        ("NO_RESOURCE_OF_ITS_TYPES", "s3:PutObject authorizes accesspointobject, object: none is among the resources"),
        ("RESOURCE_OF_NO_ACTION", "arn:aws:s3:::b is of no resource type of s3:PutObject")}
    assert findings(allow("s3:GetObject", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])) == {
        ("RESOURCE_OF_NO_ACTION", "arn:aws:s3:::b is of no resource type of s3:GetObject")}
    assert not findings(allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]))


def test_unknown_actions_and_condition_keys_are_found() -> None:
    assert findings(allow("s3:GetObjekt", "arn:aws:s3:::b/*")) == {("UNKNOWN_ACTION", "Unknown action s3:GetObjekt")}
    assert findings(allow("s3:GetObject", "arn:aws:s3:::b/*", {"StringEquals": {"s3:x-amz-acl": "private"}})) == {
        ("UNKNOWN_CONDITION_FOR_ACTION", "Unknown condition s3:x-amz-acl for action s3:GetObject")}
    assert findings(allow("s3:GetObject", "arn:aws:s3:::b/*", {"StringEquals": {"aws:SourceAcount": ACCOUNT}})) == {
        ("UNKNOWN_CONDITION_FOR_ACTION", "Unknown condition aws:SourceAcount for action s3:GetObject")}
    # Newer data than parliament's own: s3:PutObject's object resource type is optional there now.
    assert not findings(allow("s3:PutObject", "arn:aws:s3:::b/*", {"StringEquals": {"s3:x-amz-acl": "private"}}))


@pytest.mark.parametrize("key", sorted(iam_lint.MISSING_GLOBAL_KEYS))
def test_the_global_keys_parliament_lacks_are_accepted(key: str) -> None:
    kind, _anchor = iam_lint.MISSING_GLOBAL_KEYS[key]
    operator, value = {"String": ("StringEquals", "o-abcde12345"), "Bool": ("Bool", "true"),
                       "Arn": ("ArnLike", f"arn:aws:sns:us-east-1:{ACCOUNT}:*"), "Ip": ("IpAddress", "10.0.0.0/8")}[kind]
    assert not findings(allow("sns:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:t", {operator: {key: value}}))


def test_both_branches_of_each_fn_if_are_linted() -> None:
    central = load(CFN / "central-reporting.yaml")
    document = next(d for d in iam_lint.documents(central) if d.name == "ComplianceReportRole.Policies.compliance-report")
    cases = iam_lint.variants(central, iam_lint.PARAMETERS["central-reporting"], document)
    sids = [{s.get("Sid") for s in policy["Statement"]} for _fixed, policy in cases]
    assert any("Owners" in s for s in sids) and any("Owners" not in s for s in sids)
    data = [next(s for s in policy["Statement"] if s["Sid"] == "AthenaReadsTheData")["Resource"] for _f, policy in cases]
    existing = "arn:aws:s3:::aws-controltower-logs-999988887777-us-east-1"
    assert any(existing in r for r in data) and any(existing not in r and len(r) == 5 for r in data)


def test_a_lambda_permission_is_linted_as_the_statement_lambda_adds() -> None:
    central = load(CFN / "central-reporting.yaml")
    document = next(d for d in iam_lint.documents(central) if d.name == "ConfigPartitionerS3Permission")
    (_fixed, policy), = iam_lint.variants(central, iam_lint.PARAMETERS["central-reporting"], document)
    statement, = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    function = "central-ConfigPartitionerFunction-1A2B3C4D5E6F"
    assert statement["Resource"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:s3:::patch-config-{ACCOUNT}-us-east-1-1a2b3c4d"},
        "StringEquals": {"AWS:SourceAccount": ACCOUNT}}


def test_a_policy_the_lint_cannot_read_fails_it() -> None:
    template = {"Resources": {"Thing": {"Type": "AWS::Example::Thing", "Properties": {"AccessPolicy": {
        "Version": "2012-10-17", "Statement": [allow("s3:GetObject", "*")]}}}}}
    with pytest.raises(AssertionError, match="Thing .AWS::Example::Thing. holds a policy"):
        iam_lint.documents(template)


def test_statement_ids_follow_the_service_model() -> None:
    assert not iam_lint.statement_id_problems("events", "PutPermissionRequest", "patch-compliance-config-events-1a2b3c4d")
    assert iam_lint.statement_id_problems("events", "PutPermissionRequest", "config events")
    assert iam_lint.statement_id_problems("events", "PutPermissionRequest", "x" * 65)
