"""The templates agree with the code and keep the promises of cfn/README.md.

Every function crate is deployed; environment variables and custom resource properties are ones
the code reads; custom resources answer within minutes; every role grants exactly the actions its
crate's lib.rs header lists (plus Lambda's own log and dead-letter actions), scoped; names never
collide across stacks or Regions; and the defects of the public samples
(../shared/reference/reference-implementations.md) stay fixed.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import re

import pytest
import regex

from cfn import (CFN, CRATES, RENDERED, RUNTIME_ACTIONS, render, STAR_RESOURCE_ACTIONS, TEMPLATES, Stack, function_crates,
                 functions, header_actions, header_properties, load, ref_target, resources, section,
                 sub_text, walk)

import iam_actions  # noqa: E402  (emulator/, on the path through cfn)

FUNCTIONS = functions()
FUNCTION_IDS = [f"{p.stem}:{n}" for p, n, _, _ in FUNCTIONS]


def as_list(value):
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------------
# Functions and code
# --------------------------------------------------------------------------------------------


def test_every_function_crate_is_deployed() -> None:
    deployed = {crate for _, _, crate, _ in FUNCTIONS}
    assert set(function_crates()) <= deployed, set(function_crates()) - deployed
    assert deployed <= set(function_crates()), deployed - set(function_crates())


@pytest.mark.parametrize("path,name,crate,fn", FUNCTIONS, ids=FUNCTION_IDS)
def test_function_shape(path, name, crate, fn) -> None:
    props = fn["Properties"]
    template = load(path)
    assert props["Runtime"] == "provided.al2023" and props["Handler"] == "bootstrap"
    assert sub_text(props["Code"]["S3Bucket"]) == "${ArtifactBucketPrefix}-${AWS::Region}"
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert template["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert template["Parameters"]["Architecture"]["Default"] == "x86_64"
    logging = props["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    group = template["Resources"][ref_target(logging["LogGroup"])]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "${AWS::StackName}" in sub_text(group["Properties"]["LogGroupName"])
    assert ref_target(props["Role"]) in resources(template, "AWS::IAM::Role")


@pytest.mark.parametrize("path,name,crate,fn", FUNCTIONS, ids=FUNCTION_IDS)
def test_environment_variables_are_read_by_the_code(path, name, crate, fn) -> None:
    source = "\n".join(p.read_text() for p in (CRATES / crate / "src").glob("*.rs") if p.name != "tests.rs")
    for variable in fn["Properties"].get("Environment", {}).get("Variables", {}):
        assert f'"{variable}"' in source, f"{crate} never reads {variable}"


def custom_resources():
    found = []
    for path in TEMPLATES:
        template = load(path)
        for name, res in template["Resources"].items():
            if res["Type"].startswith("Custom::") or res["Type"] == "AWS::CloudFormation::CustomResource":
                fn_name = ref_target(res["Properties"]["ServiceToken"])
                found.append((path, name, res, fn_name, template["Resources"][fn_name]))
    return found


CUSTOM = custom_resources()


def test_custom_resources_exist() -> None:
    assert sorted((path.stem, name) for path, name, _, _, _ in CUSTOM) == [
        ("central-reporting", "BucketCleanup"), ("member-data-sync", "DataSync"),
        ("member-patching", "ConfigRecorder"), ("member-patching", "OsTagger"), ("quicksight", "Datasets")]


@pytest.mark.parametrize("path,name,res,fn_name,fn", CUSTOM, ids=[c[1] for c in CUSTOM])
def test_custom_resource_contract(path, name, res, fn_name, fn) -> None:
    crate = next(c for p, n, c, _ in FUNCTIONS if p == path and n == fn_name)
    props = res["Properties"]
    timeout = props.get("ServiceTimeout")
    assert isinstance(timeout, int) and 60 <= timeout <= 900, "ServiceTimeout: minutes, never the hour"
    assert fn["Properties"]["Timeout"] < timeout, "the function must give up before CloudFormation"
    depends = set(as_list(res.get("DependsOn", [])))
    role = ref_target(fn["Properties"]["Role"])
    assert role in depends, "the role (and its inline policies) must outlive the custom resource"
    template = load(path)
    for policy_name, policy in template["Resources"].items():
        if policy["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            roles = policy["Properties"].get("Roles", []) + [policy["Properties"].get("RoleName")]
            if any(ref_target(r) == role for r in roles if r):
                if name in as_list(policy.get("DependsOn", [])):
                    # A previous-name policy: updated after the custom resource, so it names the
                    # previous identity while a rename runs; it grants nothing the role's own
                    # policies do not grant on the current one.
                    own = {a for p in template["Resources"][role]["Properties"].get("Policies", [])
                           for st in p["PolicyDocument"]["Statement"] for a in as_list(st["Action"])}
                    previous = {a for st in policy["Properties"]["PolicyDocument"]["Statement"]
                                for a in as_list(st["Action"])}
                    assert previous <= own, f"{policy_name} grants {previous - own} beyond the role's own"
                else:
                    assert policy_name in depends
    allowed = header_properties(crate)
    used = set(props) - {"ServiceToken", "ServiceTimeout"}
    assert used <= allowed, f"{crate} does not read {used - allowed}"


# --------------------------------------------------------------------------------------------
# IAM least privilege
# --------------------------------------------------------------------------------------------


def branches(statements: list) -> list[dict]:
    """Statements with every `Fn::If` statement replaced by its branches (either may be granted)."""
    out = []
    for s in statements:
        if isinstance(s, dict) and list(s) == ["Fn::If"]:
            out += branches([b for b in s["Fn::If"][1:] if b != {"Ref": "AWS::NoValue"}])
        else:
            out.append(s)
    return out


def role_statements(template: dict, role_name: str) -> list[dict]:
    role = template["Resources"][role_name]
    assert not role["Properties"].get("ManagedPolicyArns"), "no managed policies on function roles"
    statements = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for res in template["Resources"].values():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"):
            roles = as_list(res["Properties"].get("Roles", [])) + [res["Properties"].get("RoleName")]
            if any(ref_target(r) == role_name for r in roles if r):
                statements += res["Properties"]["PolicyDocument"]["Statement"]
    return branches(statements)


@pytest.mark.parametrize("path,name,crate,fn", FUNCTIONS, ids=FUNCTION_IDS)
def test_role_grants_exactly_the_header_actions(path, name, crate, fn) -> None:
    template = load(path)
    statements = role_statements(template, ref_target(fn["Properties"]["Role"]))
    granted: set[str] = set()
    for s in statements:
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        actions = as_list(s["Action"])
        assert not any("*" in a for a in actions), f"wildcard action in {s}"
        granted |= set(actions)
    expected = header_actions(crate)
    assert expected, f"{crate}: no IAM actions parsed from its header"
    assert granted - set(RUNTIME_ACTIONS) == expected


def test_the_organization_reader_grants_what_the_report_calls_as_it_and_trusts_only_the_report() -> None:
    # compliance-report's header names what it calls as the assumed role; the reader role grants
    # exactly that, read-only, to the report's role alone, which may assume it only when set.
    reader = load(RENDERED / "organization-reader.yaml")
    statements = role_statements(reader, "ReaderRole")
    granted = {a for s in statements for a in as_list(s["Action"])}
    expected = set(re.findall(r"`(organizations:[A-Za-z]+)`", section("compliance-report",
                                                                       "The Organizations role's actions")))
    assert expected and granted == expected
    assert all(a.split(":")[1].startswith(("List", "Describe")) for a in granted)
    for s in statements:
        if "*" in as_list(s["Resource"]):
            # Only the tree listings take "*" (see the template's comment); tags are read on accounts.
            assert set(as_list(s["Action"])) <= {"organizations:ListRoots", "organizations:ListAccountsForParent",
                                                 "organizations:ListOrganizationalUnitsForParent"}
    trust = reader["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [ref_target(s["Principal"]["AWS"]) for s in trust] == ["ReportRoleArn"]
    central = load(RENDERED / "central-reporting.yaml")
    env = central["Resources"]["ComplianceReportFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ORGANIZATIONS_ROLE_ARN"]["Fn::If"][0] == "HasOrganizationsRole"
    assume = [s for s in role_statements(central, "ComplianceReportRole") if "sts:AssumeRole" in as_list(s["Action"])]
    assert [ref_target(s["Resource"]) for s in assume] == ["ReportOrganizationsRoleArn"]
    statement = next(s for s in central["Resources"]["ComplianceReportRole"]["Properties"]["Policies"][0]
                     ["PolicyDocument"]["Statement"] if "Fn::If" in s)
    assert statement["Fn::If"][0] == "HasOrganizationsRole"


@pytest.mark.parametrize("path,name,crate,fn", FUNCTIONS, ids=FUNCTION_IDS)
def test_role_resources_are_scoped(path, name, crate, fn) -> None:
    template = load(path)
    log_group = ref_target(fn["Properties"]["LoggingConfig"]["LogGroup"])
    dlq = ref_target(fn["Properties"].get("DeadLetterConfig", {}).get("TargetArn"))
    for s in role_statements(template, ref_target(fn["Properties"]["Role"])):
        actions, targets = as_list(s["Action"]), as_list(s["Resource"])
        if "*" in targets:
            assert targets == ["*"]
            for action in actions:
                # "*" where the Service Authorization Reference lists no resource type for the
                # action (only "*" can grant it), or for the reasons STAR_RESOURCE_ACTIONS gives.
                assert action in STAR_RESOURCE_ACTIONS or not iam_actions.resource_types(action), \
                    f"{action} on * (the reference lists resource types for it; only {sorted(STAR_RESOURCE_ACTIONS)})"
        runtime = [a for a in actions if a in RUNTIME_ACTIONS]
        if runtime:
            assert runtime == actions, "runtime actions in their own statement"
            own = dlq if runtime == ["sqs:SendMessage"] else log_group
            assert own and all(ref_target(t) == own for t in targets), f"{runtime} beyond the function's own {own}"


def test_no_managed_full_access_policies_anywhere() -> None:
    for path in TEMPLATES:
        text = path.read_text()
        assert "FullAccess" not in text and "quicksight:*" not in text, path.name


def test_every_arn_names_the_partition() -> None:
    for path in TEMPLATES:
        template = load(path)
        for node in walk({"Resources": template["Resources"], "Outputs": template.get("Outputs", {})}):
            text = sub_text(node) if isinstance(node, (str, dict)) else None
            if text and "arn:" in text:
                for partition in re.findall(r"\barn:(\$\{[^}]*\}|[A-Za-z-]*):", text):
                    assert partition == "${AWS::Partition}", f"{path.name}: {text}"


# --------------------------------------------------------------------------------------------
# Parameters, names, outputs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_parameters_are_grouped_labelled_and_described(path: pathlib.Path) -> None:
    template = load(path)
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"]), "every parameter in exactly one group"
    labels = interface["ParameterLabels"]
    assert set(labels) == set(template["Parameters"])
    for name, label in labels.items():
        assert list(label) == ["default"], f"label of {name}"
    for name, param in template["Parameters"].items():
        assert len(param.get("Description", "").split()) >= 4, name
        if param["Type"] == "String":
            assert "AllowedPattern" in param or "AllowedValues" in param, f"{name} is unconstrained"


# Types whose name is unique per account (and Region): the name must derive from the stack.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName", "AWS::Glue::Crawler": "Name", "AWS::Athena::WorkGroup": "Name",
    "AWS::KMS::Alias": "AliasName", "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SSM::Association": "AssociationName", "AWS::Config::ConfigRule": "ConfigRuleName",
    "AWS::SSM::MaintenanceWindow": "Name", "AWS::SSM::PatchBaseline": "Name",
    "AWS::CloudTrail::EventDataStore": "Name", "AWS::Glue::Database": "DatabaseInput",
    "AWS::Events::EventBusPolicy": "StatementId",
}
# Resources of those types that must be named, each with the reason (the stack's name makes the
# name unique, as CloudFormation's would be).
NAMED_FOR_A_REASON = {("central-reporting", "AlarmTopic"): "the data key's policy binds CloudWatch's and "
                      "EventBridge's use of the key to the topic's ARN, which it cannot reference"}
# Types whose optional name is unique per account: leave it to CloudFormation.
UNNAMED = {"AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::Events::Rule",
           "AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::CloudWatch::Alarm"}
UNNAMED_KEYS = ("RoleName", "FunctionName", "QueueName", "Name", "ManagedPolicyName", "TopicName", "AlarmName")
# Types without an account-wide name (none, or one scoped to a parent resource).
NAMELESS = {"AWS::Athena::NamedQuery", "AWS::CloudFormation::WaitConditionHandle", "AWS::Glue::Table",
            "AWS::KMS::Key", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Permission",
            "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SSM::MaintenanceWindowTarget",
            "AWS::SSM::MaintenanceWindowTask", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription",
            # An inline policy's name is unique within its role only, and the role is the stack's.
            "AWS::IAM::RolePolicy"}


# Names AWS fixes, so no stack can choose them.
FIXED_NAMES = {("central-reporting", "CrawlerLogGroup"): "Glue writes every crawler's logs to /aws-glue/crawlers",
               # The central stack names the role (ReportOrganizationsRoleArn) before it exists:
               # its trust policy names the central role, which IAM requires to exist first.
               ("organization-reader", "ReaderRole"): "a parameter, one role per account"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_names_never_collide_across_stacks_or_regions(path: pathlib.Path) -> None:
    for name, res in load(path)["Resources"].items():
        props = res.get("Properties", {})
        if (path.stem, name) in FIXED_NAMES:
            continue
        if res["Type"] in NAME_PROPERTIES:
            value = props.get(NAME_PROPERTIES[res["Type"]])
            assert value is not None, f"{name}: give it a stack-derived name"
            blob = json.dumps(value)
            assert "AWS::StackName" in blob or "AWS::StackId" in blob, f"{name}: {blob}"
        elif res["Type"] in UNNAMED and (path.stem, name) in NAMED_FOR_A_REASON:
            named = [props[key] for key in UNNAMED_KEYS if key in props]
            assert len(named) == 1 and "AWS::StackName" in json.dumps(named[0]), \
                f"{name}: a stack-derived name ({NAMED_FOR_A_REASON[(path.stem, name)]})"
        elif res["Type"] in UNNAMED:
            named = [key for key in UNNAMED_KEYS if key in props]
            assert not named, f"{name}: {named} set; let CloudFormation name it"
        else:
            assert res["Type"] in NAMELESS or res["Type"].startswith("Custom::"), \
                f"{name}: classify {res['Type']} in NAME_PROPERTIES, UNNAMED or NAMELESS"
    template = load(path)
    for output in template.get("Outputs", {}).values():
        if "Export" in output:
            assert "${AWS::StackName}" in sub_text(output["Export"]["Name"])


def test_central_outputs_feed_the_next_stacks() -> None:
    outputs = set(load(CFN / "central-reporting.yaml")["Outputs"])
    assert {"SyncBucketName", "SyncBucketRegion", "SyncPrefix", "KmsKeyArn", "DatabaseName",
            "WorkGroupName", "ConfigSnapshotTable", "ConfigBucketName"} <= outputs
    qs = load(CFN / "quicksight.yaml")["Parameters"]
    assert {"WorkGroup", "Database", "ConfigSnapshotTable", "PrincipalArns", "SyncBucketName",
            "AthenaResultsBucketName", "ConfigBucketName", "KmsKeyArn"} <= set(qs)
    assert {"SyncBucketName", "AthenaResultsBucketName", "ConfigBucketName", "KmsKeyArn"} <= outputs
    assert qs["PrincipalArns"]["Type"] == "CommaDelimitedList"
    assert "identity Region" in qs["PrincipalArns"]["Description"]
    sync = load(CFN / "member-data-sync.yaml")["Parameters"]
    assert {"BucketName", "BucketRegion", "BucketPrefix", "KmsKeyArn"} <= set(sync)


# --------------------------------------------------------------------------------------------
# The samples' defects stay fixed
# --------------------------------------------------------------------------------------------

CENTRAL = load(CFN / "central-reporting.yaml")
PATCHING = load(CFN / "member-patching.yaml")
REQUIRED_CENTRAL = {"OrganizationId": "o-abcde12345", "ArtifactBucketPrefix": "acme-artifacts",
                    "ArtifactVersion": "0.1.0-abc1234"}
REQUIRED_PATCHING = {"ArtifactBucketPrefix": "acme-artifacts", "ArtifactVersion": "0.1.0-abc1234",
                     "ConfigBucketName": "patch-config-111122223333-us-east-1-1a2b3c4d"}
QUICKSIGHT = load(CFN / "quicksight.yaml")
REQUIRED_QUICKSIGHT = {"WorkGroup": "patch-compliance-1a2b3c4d", "Database": "patch_compliance_1a2b3c4d",
                       "SyncBucketName": "patch-sync-111122223333-us-east-1-1a2b3c4d",
                       "AthenaResultsBucketName": "patch-athena-111122223333-us-east-1-1a2b3c4d",
                       "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                       "PrincipalArns": "arn:aws:quicksight:us-east-1:111122223333:group/default/authors",
                       "ArtifactBucketPrefix": "acme-artifacts", "ArtifactVersion": "0.1.0-abc1234"}



def test_kms_key_lets_ssm_in_only_for_the_organizations_syncs() -> None:
    key = CENTRAL["Resources"]["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    services = [s for s in statements if s["Principal"].get("Service") == "ssm.amazonaws.com"]
    assert services
    # The only other services: the alarm topic's publishers, with nothing but the message keys.
    others = [s for s in statements if "Service" in s["Principal"] and s not in services]
    assert {s["Principal"]["Service"] for s in others} == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    assert all(sorted(s["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"] for s in others)
    for s in services:
        # The documented statements (SSM User Guide, "Walkthrough: Using resource data sync to
        # aggregate inventory data" and "Cross-service confused deputy prevention") allow only
        # kms:GenerateDataKey, limited by aws:SourceArn; for a whole organization the account is a
        # wildcard and the organization is required where SSM sends it.
        assert s["Action"] == "kms:GenerateDataKey"
        arns = [sub_text(a) for a in s["Condition"]["ArnLike"]["aws:SourceArn"]]
        assert arns == ["arn:${AWS::Partition}:ssm:*:*:resource-data-sync/*",
                        "arn:${AWS::Partition}:ssm:*:*:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"]
        assert s["Condition"]["StringEqualsIfExists"]["aws:SourceOrgID"] == {"Ref": "OrganizationId"}
        assert set(s["Condition"]) == {"ArnLike", "StringEqualsIfExists"}
        assert "quicksight" not in json.dumps(s).lower()


@pytest.mark.parametrize("bucket", ["SyncBucket", "AthenaResultsBucket", "ConfigBucket", "ReportsBucket"])
def test_bucket_hygiene(bucket: str) -> None:
    props = CENTRAL["Resources"][bucket]["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["LifecycleConfiguration"]["Rules"]
    policy = next(r for r in CENTRAL["Resources"].values()
                  if r["Type"] == "AWS::S3::BucketPolicy" and ref_target(r["Properties"]["Bucket"]) == bucket)
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Effect") == "Deny"]
    assert deny and deny[0]["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def statements_by_sid(policy: str, **parameters) -> dict[str, dict]:
    stack = Stack(CENTRAL, {**REQUIRED_CENTRAL, **parameters})
    doc = stack.value(CENTRAL["Resources"][policy]["Properties"]["PolicyDocument"])
    return {s["Sid"]: s for s in doc["Statement"]}


def test_sync_bucket_policy_is_the_documented_organization_policy() -> None:
    """SSM User Guide, "Creating a resource data sync for Inventory" (accounts defined in AWS
    Organizations): GetBucketAcl and PutObjectTagging without conditions, PutObject with
    s3:x-amz-acl and aws:SourceOrgID; the encryption conditions of the walkthrough. A condition the
    guide does not give is allowed only in its IfExists form, which cannot refuse a sync."""
    allow = {sid: s for sid, s in statements_by_sid("SyncBucketPolicy").items() if s["Effect"] == "Allow"}
    assert set(allow) == {"SSMBucketPermissionsCheck", "SSMBucketDelivery", "SSMBucketDeliveryTagging"}
    assert all(s["Principal"] == {"Service": "ssm.amazonaws.com"} for s in allow.values())
    bucket = "SyncBucket.Arn"
    objects = f"{bucket}/inventory/*/accountid=*/*"
    check, delivery, tagging = (allow[k] for k in ("SSMBucketPermissionsCheck", "SSMBucketDelivery",
                                                   "SSMBucketDeliveryTagging"))
    assert (check["Action"], check["Resource"]) == ("s3:GetBucketAcl", bucket)
    assert (tagging["Action"], tagging["Resource"]) == ("s3:PutObjectTagging", objects)
    for undocumented in (check, tagging):
        assert list(undocumented.get("Condition", {})) in ([], ["StringEqualsIfExists"])
    assert (delivery["Action"], delivery["Resource"]) == ("s3:PutObject", objects)
    assert delivery["Condition"] == {"StringEquals": {
        "s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceOrgID": "o-abcde12345",
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": "DataKey.Arn"}}


def test_config_bucket_policy_never_limits_the_service_principal_by_organization() -> None:
    """AWS Config Developer Guide, "Permissions for the Amazon S3 Bucket for the AWS Config Delivery
    Channel": organization conditions do not work for the service principal; IAM-role recorders
    of the organization are allowed by aws:PrincipalOrgID, the service principal only for named
    accounts by AWS:SourceAccount."""
    for accounts, expected in (("", set()), ("444455556666,777788889999",
                                             {"AWSConfigBucketPermissionsCheck", "AWSConfigBucketDelivery"})):
        allow = {sid: s for sid, s in statements_by_sid(
            "ConfigBucketPolicy", EnableConfigAnalytics="true", ConfigServicePrincipalAccounts=accounts).items()
            if s["Effect"] == "Allow"}
        service = {sid for sid, s in allow.items() if "Service" in s["Principal"]}
        assert service == expected
        for sid, s in allow.items():
            conditions = s["Condition"]["StringEquals"]
            if sid in service:
                assert "aws:SourceOrgID" not in json.dumps(s)
                assert conditions["AWS:SourceAccount"] == accounts.split(",")
            else:
                assert s["Principal"] == {"AWS": "*"} and conditions["aws:PrincipalOrgID"] == "o-abcde12345"
            if "s3:PutObject" in as_list(s["Action"]):
                assert conditions["s3:x-amz-acl"] == "bucket-owner-full-control"


def test_sync_bucket_encryption_and_lifecycle() -> None:
    sync_key = CENTRAL["Resources"]["SyncBucket"]["Properties"]["BucketEncryption"]
    assert ref_target(sync_key["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == "DataKey"
    rules = {r["Id"]: r for r in CENTRAL["Resources"]["SyncBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-stale-node-files"]["ExpirationInDays"]["Fn::If"][1] == {"Ref": "StaleNodeFileDays"}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == {"Ref": "NoncurrentVersionDays"}
    # Off by default: a live node whose inventory does not change is never rewritten, and an expiry
    # would make it vanish from the reports.
    assert CENTRAL["Parameters"]["StaleNodeFileDays"]["Default"] == 0
    stack = Stack(CENTRAL, REQUIRED_CENTRAL)
    rules = {r["Id"]: r for r in stack.value(CENTRAL["Resources"]["SyncBucket"]["Properties"])["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-stale-node-files"]["Status"] == "Disabled"


# The type folders a resource data sync writes (SSM User Guide, "Metadata collected by inventory";
# ../shared/reference/data-formats.md).
SYNC_TYPES = ["AWS:Application", "AWS:AWSComponent", "AWS:BillingInfo", "AWS:ComplianceItem",
              "AWS:ComplianceSummary", "AWS:File", "AWS:InstanceDetailedInformation",
              "AWS:InstanceInformation", "AWS:Network", "AWS:PatchSummary", "AWS:ResourceGroup",
              "AWS:Service", "AWS:Tag", "AWS:WindowsRegistry", "AWS:WindowsRole", "AWS:WindowsUpdate"]


def test_crawler_makes_one_table_per_type_and_skips_the_write_check() -> None:
    """A single target on the prefix lets the crawler merge type folders with similar schemas into
    one table partitioned by partition_0; one target per type folder makes each its own table
    (Glue Developer Guide, "How does a crawler determine when to create partitions?")."""
    stack = Stack(CENTRAL, REQUIRED_CENTRAL)
    crawler = stack.value(CENTRAL["Resources"]["Crawler"]["Properties"])
    targets = crawler["Targets"]["S3Targets"]
    assert [t["Path"] for t in targets] == [f"s3://SyncBucket.Ref/inventory/{t}/" for t in SYNC_TYPES]
    assert all(t["Exclusions"] == ["**/test.json"] for t in targets)
    assert json.loads(crawler["Configuration"]) == {
        "Version": 1.0, "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}
    raw = CENTRAL["Resources"]["Crawler"]["Properties"]
    assert raw["SchemaChangePolicy"]["DeleteBehavior"] in ("LOG", "DEPRECATE_IN_DATABASE")
    assert raw["Schedule"]["Fn::If"][0] == "HasCrawlerSchedule"


def test_crawler_role_is_the_documented_baseline() -> None:
    role = CENTRAL["Resources"]["CrawlerRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    statements = {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}
    listing = statements["ListTheSyncBucket"]
    assert sorted(as_list(listing["Action"])) == ["s3:GetBucketLocation", "s3:ListBucket"]
    assert "Condition" not in listing, "which prefixes the crawler lists is not documented"
    assert statements["ReadTheSyncPrefix"]["Action"] == "s3:GetObject"


def test_crawler_logs_expire() -> None:
    group = CENTRAL["Resources"]["CrawlerLogGroup"]
    assert group["Properties"]["LogGroupName"] == "/aws-glue/crawlers"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["DeletionPolicy"] == "Retain", "other crawlers of the account log there too"
    assert CENTRAL["Parameters"]["CreateCrawlerLogGroup"]["Default"] == "true"


def test_column_fix_also_runs_on_a_schedule() -> None:
    """Glue's crawler events are best-effort (EventBridge Events Reference, "AWS Glue events")."""
    stack = Stack(CENTRAL, REQUIRED_CENTRAL)
    assert stack.exists("ColumnFixScheduleRule") and stack.exists("ColumnFixSchedulePermission")
    rule = stack.value(CENTRAL["Resources"]["ColumnFixScheduleRule"]["Properties"])
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    assert rule["Targets"][0]["Arn"] == "ColumnRemoverFunction.Arn"
    assert rule["Targets"][0]["DeadLetterConfig"]["Arn"] == "ColumnRemoverDeadLetterQueue.Arn"
    queue_policy = stack.value(CENTRAL["Resources"]["ColumnRemoverDeadLetterQueuePolicy"]["Properties"])
    sources = queue_policy["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sources == ["CrawlerSucceededRule.Arn", "ColumnFixScheduleRule.Arn"]
    off = Stack(CENTRAL, {**REQUIRED_CENTRAL, "ColumnFixSchedule": ""})
    assert not off.exists("ColumnFixScheduleRule")


def test_column_remover_fires_for_this_crawler_only() -> None:
    rule = CENTRAL["Resources"]["CrawlerSucceededRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.glue"] and pattern["detail-type"] == ["Glue Crawler State Change"]
    assert pattern["detail"] == {"crawlerName": [{"Ref": "Crawler"}], "state": ["Succeeded"]}
    fn = CENTRAL["Resources"]["ColumnRemoverFunction"]["Properties"]
    assert fn["Environment"]["Variables"]["CRAWLER_NAME"] == {"Ref": "Crawler"}
    assert ref_target(fn["DeadLetterConfig"]["TargetArn"]) == "ColumnRemoverDeadLetterQueue"
    assert ref_target(rule["Targets"][0]["DeadLetterConfig"]["Arn"]) == "ColumnRemoverDeadLetterQueue"


def test_athena_workgroup_is_encrypted_and_enforced() -> None:
    config = CENTRAL["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] in ("SSE_KMS", "CSE_KMS")


def test_config_snapshot_table_is_what_the_dataset_reads() -> None:
    table = CENTRAL["Resources"]["ConfigSnapshotTable"]["Properties"]["TableInput"]
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    columns = {c["Name"]: c["Type"] for c in sd["Columns"]}
    assert columns == {
        "fileversion": "string", "configsnapshotid": "string",
        "configurationitems": "array<struct<configurationitemversion:string,configurationitemcapturetime:string,"
        "configurationstateid:bigint,awsaccountid:string,configurationitemstatus:string,resourcetype:string,"
        "resourceid:string,resourcename:string,arn:string,awsregion:string,availabilityzone:string,"
        "configurationstatemd5hash:string,configuration:string,supplementaryconfiguration:map<string,string>,"
        "tags:map<string,string>,resourcecreationtime:string>>"}
    assert [k["Name"] for k in table["PartitionKeys"]] == ["accountid", "region", "dt"]
    sql = render.expand(CRATES / "quicksight-builder" / "sql" / "config_compliance.sql")
    for field in ("configsnapshotid", "configurationitems", "resourcetype", "resourceid",
                  "configurationitemstatus", "configurationitemcapturetime", "configuration", "tags"):
        assert field in sql


def test_config_snapshot_table_matches_keys_case_sensitively() -> None:
    """The OpenX SerDe's default lower-cases every key, and a resource with tags Name and name then
    fails every Config query with "Duplicate key". Case-sensitive, with a mapping for every column
    and struct field whose JSON key is not its lower-case name, as AWS's own Config tables are."""
    sd = CENTRAL["Resources"]["ConfigSnapshotTable"]["Properties"]["TableInput"]["StorageDescriptor"]
    params = sd["SerdeInfo"]["Parameters"]
    assert params["case.insensitive"] == "false"
    names = [c["Name"] for c in sd["Columns"]]
    names += re.findall(r"([a-z0-9]+):", next(c["Type"] for c in sd["Columns"] if c["Name"] == "configurationitems"))
    for name in names:
        key = params.get(f"mapping.{name}", name)
        assert key.lower() == name, f"mapping.{name} = {key}"
        if name not in ("configuration", "tags"):
            assert f"mapping.{name}" in params, f"{name}: Config writes a camelCase key; map it"
    assert params["mapping.arn"] == "ARN" and params["mapping.configurationitems"] == "configurationItems"


def test_config_notification_avoids_the_circular_dependency() -> None:
    bucket = CENTRAL["Resources"]["ConfigBucket"]
    permission = CENTRAL["Resources"]["ConfigPartitionerS3Permission"]["Properties"]
    assert "ConfigPartitionerS3Permission" in as_list(bucket["DependsOn"])
    assert json.dumps(permission["SourceArn"]).count("patch-config") == 1
    assert json.dumps(bucket["Properties"]["BucketName"]) in json.dumps(permission["SourceArn"])
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    location = CENTRAL["Resources"]["ConfigSnapshotTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Location"]
    assert json.dumps(bucket["Properties"]["BucketName"]) in json.dumps(location), "the table reads another bucket"
    assert ref_target(CENTRAL["Resources"]["ConfigPartitionerFunction"]["Properties"]["DeadLetterConfig"]["TargetArn"])


def test_keep_data_retains_buckets_and_tells_the_cleanup() -> None:
    assert CENTRAL["Transform"] == "AWS::LanguageExtensions"
    for name in ("SyncBucket", "AthenaResultsBucket", "ConfigBucket", "ReportsBucket", "DataKey"):
        res = CENTRAL["Resources"][name]
        assert res["DeletionPolicy"] == {"Fn::If": ["KeepData", "Retain", "Delete"]}, name
        assert res["UpdateReplacePolicy"] == res["DeletionPolicy"]
    names = CENTRAL["Resources"]["BucketCleanup"]["Properties"]["BucketNames"]
    assert {ref_target(n) for n in names if ref_target(n)} == {"SyncBucket", "AthenaResultsBucket", "ReportsBucket"}
    for keep, empty in (("true", "false"), ("false", "true")):
        stack = Stack(CENTRAL, {**REQUIRED_CENTRAL, "KeepDataOnDelete": keep})
        cleanup = stack.value(CENTRAL["Resources"]["BucketCleanup"]["Properties"])
        assert cleanup["EmptyOnDelete"] == empty
        # Keeping the data also takes the delete permissions away from the cleanup role.
        policies = stack.value(CENTRAL["Resources"]["CleanupRole"]["Properties"]["Policies"])
        granted = {a for p in policies for s in p["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
        assert ("s3:DeleteObjectVersion" in granted) == (empty == "true"), keep


def data_deleting_custom_resources():
    """(template, logical id, resource, function) of every custom resource whose function's role may
    delete objects."""
    found = []
    for path, name, res, fn_name, fn in CUSTOM:
        template = load(path)
        actions = {a for s in role_statements(template, ref_target(fn["Properties"]["Role"]))
                   for a in as_list(s["Action"])}
        if any(a.startswith("s3:Delete") for a in actions):
            found.append((path, name, res, fn_name))
    return found


def test_no_data_deleting_custom_resource_is_conditional() -> None:
    """A Condition on a resource that deletes data on Delete turns a stack update that switches the
    condition off into a Delete: the update empties the buckets. Such resources, their functions,
    roles and log groups exist whatever the parameters say, carry the choice as `EmptyOnDelete`,
    and are present under every value of every parameter their template's conditions read."""
    found = data_deleting_custom_resources()
    assert [(p.stem, n) for p, n, _, _ in found] == [("central-reporting", "BucketCleanup")]
    for path, name, res, fn_name in found:
        template = load(path)
        fn = template["Resources"][fn_name]
        chain = [name, fn_name, ref_target(fn["Properties"]["Role"]),
                 ref_target(fn["Properties"]["LoggingConfig"]["LogGroup"])] + as_list(res.get("DependsOn", []))
        for logical_id in chain:
            assert "Condition" not in template["Resources"][logical_id], f"{path.name}: {logical_id} is conditional"
        assert "EmptyOnDelete" in res["Properties"], f"{name}: the choice must be a property"
        # Under every combination of the parameters with allowed values, the resource exists.
        choices = {k: v["AllowedValues"] for k, v in template["Parameters"].items()
                   if v.get("AllowedValues") and len(v["AllowedValues"]) <= 3}
        keys = sorted(choices)
        for combo in itertools.product(*(choices[k] for k in keys)):
            stack = Stack(template, {**REQUIRED_CENTRAL, **dict(zip(keys, map(str, combo)))})
            assert all(stack.exists(i) for i in chain), combo


# The managed rules' documented resource types (AWS Config Developer Guide, the rules' pages:
# ec2-instance-managed-by-ssm.html, ec2-managedinstance-patch-compliance-status-check.html).
MANAGED_RULE_TYPES = {
    "EC2_INSTANCE_MANAGED_BY_SSM": ["AWS::EC2::Instance", "AWS::SSM::ManagedInstanceInventory"],
    "EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK": ["AWS::SSM::PatchCompliance"],
}


def test_managed_rules_scope_every_type_they_evaluate() -> None:
    """A rule scoped to fewer types than it evaluates is not re-evaluated when the others change:
    an instance that becomes managed (a new ManagedInstanceInventory item) keeps its old result."""
    for name, res in resources(PATCHING, "AWS::Config::ConfigRule").items():
        props = res["Properties"]
        expected = MANAGED_RULE_TYPES[props["Source"]["SourceIdentifier"]]
        assert sorted(props["Scope"]["ComplianceResourceTypes"]) == sorted(expected), name
    managed = next(r for r in resources(PATCHING, "AWS::Config::ConfigRule").values()
                   if r["Properties"]["Source"]["SourceIdentifier"] == "EC2_INSTANCE_MANAGED_BY_SSM")
    description = managed["Properties"]["Description"].lower()
    assert "stopped ones included" not in description and "running" in description


def test_member_patching_rules_associations_and_tagger() -> None:
    res = PATCHING["Resources"]
    identifiers = {r["Properties"]["Source"]["SourceIdentifier"] for r in res.values() if r["Type"] == "AWS::Config::ConfigRule"}
    assert identifiers == {"EC2_INSTANCE_MANAGED_BY_SSM", "EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK"}
    for r in res.values():
        if r["Type"] == "AWS::Config::ConfigRule":
            default = {"EC2_INSTANCE_MANAGED_BY_SSM": "ec2-instance-managed-by-systems-manager",
                       "EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK": "ec2-managedinstance-patch-compliance-status-check"}
            assert default[r["Properties"]["Source"]["SourceIdentifier"]] in sub_text(r["Properties"]["ConfigRuleName"])
    # A StackSet applies one template to accounts with a recorder (Control Tower, Security Hub) and
    # without one: a static recorder fails in the first, rules without one fail in the second. The
    # template declares no recorder or channel; config-recorder looks and creates only where none
    # exists, and every rule waits for it.
    kinds = {r["Type"] for r in res.values()}
    assert not kinds & {"AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel"}
    assert res["ConfigRecorder"]["Type"] == "Custom::ConfigRecorder"
    for name, rule in resources(PATCHING, "AWS::Config::ConfigRule").items():
        assert "ConfigRecorder" in as_list(rule.get("DependsOn", [])), f"{name} needs the recorder first"
        assert rule.get("Condition") == res["ConfigRecorder"].get("Condition")
    assert ref_target(res["ConfigRecorder"]["Properties"]["RoleArn"]) == "ConfigRecorderRole", "the role outlives the recorder"
    assert "NoValue" not in json.dumps(res["ConfigRecorder"]["Properties"]["BucketName"])
    documents = {r["Properties"]["Name"]: r for r in res.values() if r["Type"] == "AWS::SSM::Association"}
    assert set(documents) == {"AWS-UpdateSSMAgent", "AWS-GatherSoftwareInventory", "AWS-RunPatchBaseline"}
    scan = documents["AWS-RunPatchBaseline"]["Properties"]
    assert scan["Parameters"]["Operation"] == ["Scan"]
    default = PATCHING["Parameters"]["PatchScanSchedule"]["Default"]
    assert not re.search(r"rate\(\d+ (minute|hour)s?\)", default) and "*/" not in default, "never hourly"
    for name in ("InstallWindow", "InstallWindowTarget", "InstallWindowTask"):
        assert res[name]["Condition"] == "CreateWindow"
    assert res["InstallWindowTarget"]["Properties"]["Targets"][0]["Key"] == "tag:Patch Group"
    assert res["TaggerScheduleRule"]["Properties"]["ScheduleExpression"] == {"Ref": "TaggerSchedule"}
    assert ref_target(res["TaggerScheduleRule"]["Properties"]["Targets"][0]["Arn"]) == "TaggerFunction"
    assert res["OsTagger"]["Type"] == "Custom::Ec2OsTagger"


def test_cloudtrail_lake_retention_fits_the_pricing_option() -> None:
    """CreateEventDataStore: up to 3653 days with EXTENDABLE_RETENTION_PRICING, 2557 with FIXED."""
    template = load(CFN / "cloudtrail-lake.yaml")
    for mode in template["Parameters"]["BillingMode"]["AllowedValues"]:
        for days in template["Parameters"]["RetentionDays"]["AllowedValues"]:
            stack = Stack(template, {"BillingMode": mode, "RetentionDays": str(days)})
            refused = mode == "FIXED_RETENTION_PRICING" and days > 2557
            assert bool(stack.broken_rules()) == refused, (mode, days)
    assert "no longer open to new customers" in template["Description"]


def test_cloudtrail_lake_store_holds_configuration_items() -> None:
    store = load(CFN / "cloudtrail-lake.yaml")["Resources"]["ConfigItemsStore"]["Properties"]
    selectors = store["AdvancedEventSelectors"][0]["FieldSelectors"]
    assert {"Field": "eventCategory", "Equals": ["ConfigurationItem"]} in selectors
    assert store["MultiRegionEnabled"] is True


# --------------------------------------------------------------------------------------------
# Names fit their limits with the longest valid inputs
# --------------------------------------------------------------------------------------------

# (property, documented limit as a regex over the whole name, source). A StackSet instance's
# stack is named StackSet-<stack set name>-<uuid> (CloudFormation User Guide, "Detecting
# unmanaged configuration changes in stack sets", example output), and any stack name may be 128
# characters long ("Stack name ... 128 characters", CloudFormation quotas).
NAME_LIMITS = {
    "AWS::Config::ConfigRule": ("ConfigRuleName", r"(?=.*\S).{1,128}", "AWS Config API Reference, PutConfigRule"),
    "AWS::SSM::Association": ("AssociationName", r"[a-zA-Z0-9_\-.]{3,128}", "AWS::SSM::Association"),
    "AWS::SSM::MaintenanceWindow": ("Name", r"[a-zA-Z0-9_\-.]{3,128}", "AWS::SSM::MaintenanceWindow"),
    "AWS::SSM::PatchBaseline": ("Name", r"[a-zA-Z0-9_\-.]{3,128}", "AWS::SSM::PatchBaseline"),
    "AWS::Athena::WorkGroup": ("Name", r"[a-zA-Z0-9._-]{1,128}", "AWS::Athena::WorkGroup"),
    "AWS::Glue::Crawler": ("Name", r".{1,255}", "AWS::Glue::Crawler"),
    "AWS::KMS::Alias": ("AliasName", r"(?=.{1,256}$)alias/[a-zA-Z0-9/_-]+", "AWS::KMS::Alias"),
    "AWS::Logs::LogGroup": ("LogGroupName", r"[\.\-_/#A-Za-z0-9]{1,512}", "CloudWatch Logs API Reference, CreateLogGroup"),
    "AWS::CloudTrail::EventDataStore": ("Name", r"[a-zA-Z0-9._\-]{3,128}", "CloudTrail API Reference, CreateEventDataStore"),
    "AWS::SNS::Topic": ("TopicName", r"[A-Za-z0-9_-]{1,256}", "AWS::SNS::Topic"),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", r"[\w+=,.@-]{1,128}", "IAM API Reference, CreatePolicy"),
    "AWS::IAM::Role": ("RoleName", r"[\w+=,.@-]{1,64}", "IAM API Reference, CreateRole"),
    "AWS::Glue::Database": ("DatabaseInput", None, "Glue database names: 1 to 255 lower-case characters"),
    "AWS::S3::Bucket": ("BucketName", r"(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "S3 general purpose bucket naming rules"),
    "Custom::QuickSightBuilder": ("DataSourceId", r"[A-Za-z0-9_.-]{1,100}", "quicksight-builder's DataSourceId check"),
    "AWS::Events::EventBusPolicy": ("StatementId", r"[a-zA-Z0-9-_]{1,64}", "EventBridge API Reference, PutPermission StatementId"),
}
DESCRIPTION_LIMITS = {"AWS::SSM::MaintenanceWindow": 128, "AWS::SSM::MaintenanceWindowTarget": 128,
                      "AWS::SSM::MaintenanceWindowTask": 128, "AWS::SSM::PatchBaseline": 1024}
LONGEST_STACK = "StackSet-" + "s" * (128 - len("StackSet-") - 37) + "-b0fb6083-60c0-4e39-af15-2f071e0db90c"
assert len(LONGEST_STACK) == 128
# The longest valid value of every parameter a name is built from (each template's own patterns).
LONGEST = {
    "central-reporting": {**REQUIRED_CENTRAL, "DatabaseName": "d" * 255, "SyncPrefix": "p" * 256},
    "member-patching": {"ArtifactBucketPrefix": "a" * 42, "ArtifactVersion": "v" * 64,
                        "PatchGroup": "Patch Group: web/east=1+a@b-" + "x" * 228},
    "member-data-sync": {"BucketName": "b" * 63, "BucketRegion": "ap-southeast-5", "ArtifactBucketPrefix": "a" * 42,
                         "ArtifactVersion": "v" * 64, "SyncName": "n" * 64,
                         "KmsKeyArn": "arn:aws:kms:ap-southeast-5:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    "quicksight": {**REQUIRED_QUICKSIGHT, "WorkGroup": "w" * 128, "Database": "d" * 255,
                   "ArtifactBucketPrefix": "a" * 42, "ArtifactVersion": "v" * 64},
    "cloudtrail-lake": {},
    "organization-reader": {"ReportRoleArn": "arn:aws:iam::111122223333:role/" + "r" * 64,
                            "OrganizationId": "o-" + "a" * 32, "RoleName": "n" * 64},
}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_names_fit_their_limits_with_the_longest_inputs(path: pathlib.Path) -> None:
    template = load(path)
    given = {k: v for k, v in LONGEST[path.stem].items() if k in template.get("Parameters", {})}
    for parameter, value in given.items():
        pattern = template["Parameters"][parameter].get("AllowedPattern")
        assert pattern is None or regex.fullmatch(pattern, value), f"{parameter}={value!r} is not valid input"
    checked = 0
    for region in ("us-east-1", "ap-southeast-5"):
        stack = Stack(template, given, stack_name=LONGEST_STACK, region=region,
                      stack_uuid="b0fb6083-60c0-4e39-af15-2f071e0db90c")
        for logical_id, res in template["Resources"].items():
            kind = res["Type"]
            props = res.get("Properties", {})
            if kind in NAME_LIMITS and NAME_LIMITS[kind][0] in props:
                prop, limit, source = NAME_LIMITS[kind]
                name = stack.value(props[prop])
                if kind == "AWS::Glue::Database":
                    name, limit = name["Name"], r"[a-z0-9_]{1,255}"
                assert re.fullmatch(limit, str(name)), f"{logical_id}: {name!r} breaks {source} ({limit})"
                checked += 1
            if kind in DESCRIPTION_LIMITS and "Description" in props:
                text = stack.value(props["Description"])
                assert 1 <= len(text) <= DESCRIPTION_LIMITS[kind], f"{logical_id}: description of {len(text)}"
    assert checked or path.stem == "member-data-sync"



def test_quicksight_role_gets_the_data_through_a_policy_the_stack_owns() -> None:
    """Today a manual step: QuickSight's service role needs the workgroup, the catalog, the buckets
    and the key. A customer managed policy attached to the role(s) named, scoped to this
    deployment's resources; none when no role is named."""
    stack = Stack(QUICKSIGHT, {**REQUIRED_QUICKSIGHT, "ConfigSnapshotTable": "aws_config_snapshot",
                               "ConfigBucketName": "patch-config-111122223333-us-east-1-1a2b3c4d"})
    policy = stack.value(QUICKSIGHT["Resources"]["QuickSightDataAccess"]["Properties"])
    assert policy["Roles"] == ["aws-quicksight-service-role-v0"]
    granted: dict[str, set[str]] = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(as_list(statement["Resource"]))
    sync, results = REQUIRED_QUICKSIGHT["SyncBucketName"], REQUIRED_QUICKSIGHT["AthenaResultsBucketName"]
    config = "patch-config-111122223333-us-east-1-1a2b3c4d"
    assert granted["athena:StartQueryExecution"] == {
        "arn:aws:athena:us-east-1:111122223333:workgroup/patch-compliance-1a2b3c4d"}
    assert granted["s3:GetObject"] == {f"arn:aws:s3:::{b}/*" for b in (sync, config, results)}
    assert granted["s3:PutObject"] == {f"arn:aws:s3:::{results}/*"}, "results only"
    assert granted["kms:Decrypt"] == granted["kms:GenerateDataKey"] == {REQUIRED_QUICKSIGHT["KmsKeyArn"]}
    assert "table/patch_compliance_1a2b3c4d/*" in " ".join(granted["glue:GetTable"])
    star = {a for a, r in granted.items() if "*" in r}
    assert star == {"athena:ListWorkGroups", "athena:ListDataCatalogs"}, "only listings on *"
    assert not Stack(QUICKSIGHT, {**REQUIRED_QUICKSIGHT, "QuickSightRoleNames": ""}).exists("QuickSightDataAccess")


def test_config_deliveries_expire_after_the_retention() -> None:
    for days, status in (("2557", "Enabled"), ("0", "Disabled"), ("400", "Enabled")):
        stack = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true", "ConfigRetentionDays": days})
        rules = {r["Id"]: r for r in stack.value(CENTRAL["Resources"]["ConfigBucket"]["Properties"])
                 ["LifecycleConfiguration"]["Rules"]}
        assert rules["expire-config-deliveries"]["Status"] == status
        if status == "Enabled":
            assert rules["expire-config-deliveries"]["ExpirationInDays"] == days
    assert CENTRAL["Parameters"]["ConfigRetentionDays"]["Default"] == 2557


# Filter keys per operating system (SSM API Reference, DescribePatchProperties: "Valid properties")
# and their documented values (PatchFilter, botocore model of 2019; SEVERITY "Moderate" on SUSE).
FILTERS = {
    "WINDOWS": {"PRODUCT": None, "PRODUCT_FAMILY": None, "MSRC_SEVERITY": {"Critical", "Important", "Moderate", "Low", "Unspecified"},
                "CLASSIFICATION": {"CriticalUpdates", "DefinitionUpdates", "Drivers", "FeaturePacks", "SecurityUpdates",
                                   "ServicePacks", "Tools", "UpdateRollups", "Updates", "Upgrades"}},
    **{os_: {"PRODUCT": None, "CLASSIFICATION": {"Security", "Bugfix", "Enhancement", "Recommended", "Newpackage"},
             "SEVERITY": {"Critical", "Important", "Medium", "Low"}}
       for os_ in ("AMAZON_LINUX_2", "AMAZON_LINUX_2023", "REDHAT_ENTERPRISE_LINUX")},
    "SUSE": {"PRODUCT": None, "CLASSIFICATION": {"Security", "Recommended", "Optional", "Feature", "Document", "Yast"},
             "SEVERITY": {"Critical", "Important", "Moderate", "Low"}},
    **{os_: {"PRODUCT": None, "PRIORITY": {"Required", "Important", "Standard", "Optional", "Extra"}}
       for os_ in ("UBUNTU", "DEBIAN")},
}
BASELINE_PARAMETERS = {"Windows": "WINDOWS", "AmazonLinux2": "AMAZON_LINUX_2", "AmazonLinux2023": "AMAZON_LINUX_2023",
                       "RedHat": "REDHAT_ENTERPRISE_LINUX", "Suse": "SUSE", "Ubuntu": "UBUNTU", "Debian": "DEBIAN"}


def test_a_baseline_for_every_os_with_the_compliance_levels_chosen() -> None:
    """The reports' compliance levels come from the baselines (predefined ones give UNSPECIFIED):
    one baseline per OS a parameter asks for, its rules ranking security patches at
    SecurityComplianceLevel and the rest at OtherComplianceLevel, with filters that OS accepts."""
    choices = {f"Baseline{k}": "CreateAsDefault" for k in BASELINE_PARAMETERS}
    stack = Stack(PATCHING, {**REQUIRED_PATCHING, **choices, "PatchGroup": "web servers",
                             "SecurityComplianceLevel": "HIGH", "OtherComplianceLevel": "LOW"})
    made = {}
    for name, res in resources(PATCHING, "AWS::SSM::PatchBaseline").items():
        assert stack.exists(name)
        props = stack.value(res["Properties"])
        made[props["OperatingSystem"]] = props
        assert props["DefaultBaseline"] is True and props["PatchGroups"] == ["web servers"]
        valid = FILTERS[props["OperatingSystem"]]
        levels = set()
        for rule in props["ApprovalRules"]["PatchRules"]:
            levels.add(rule["ComplianceLevel"])
            for f in rule["PatchFilterGroup"]["PatchFilters"]:
                assert f["Key"] in valid, (props["OperatingSystem"], f["Key"])
                assert valid[f["Key"]] is None or set(f["Values"]) <= valid[f["Key"]], f
            # "Not supported for Debian Server or Ubuntu Server" (PatchRule ApproveAfterDays); the
            # others need a delay or a date.
            no_delay = props["OperatingSystem"] in ("UBUNTU", "DEBIAN")
            assert ("ApproveAfterDays" in rule) != no_delay, props["OperatingSystem"]
        if props["OperatingSystem"] in ("UBUNTU", "DEBIAN"):
            assert levels == {"LOW"}, "no security classification on these: every priority at the other level"
        else:
            assert levels == {"HIGH", "LOW"}
    assert set(made) == set(BASELINE_PARAMETERS.values())
    assert made["WINDOWS"]["AvailableSecurityUpdatesComplianceStatus"] == "NON_COMPLIANT"
    # None by default; Create registers for the patch group without becoming the default.
    assert not any(Stack(PATCHING, REQUIRED_PATCHING).exists(n) for n in resources(PATCHING, "AWS::SSM::PatchBaseline"))
    one = Stack(PATCHING, {**REQUIRED_PATCHING, "BaselineUbuntu": "Create"})
    assert one.value(PATCHING["Resources"]["PatchBaselineUbuntu"]["Properties"])["DefaultBaseline"] is False
    assert "PatchGroups" not in one.value(PATCHING["Resources"]["PatchBaselineUbuntu"]["Properties"])


def test_scan_and_agent_update_associations_can_be_left_to_quick_setup() -> None:
    """Two scan methods overwrite each other's compliance data ("Avoiding unintentional patch
    compliance data overwrites"): each association has a switch."""
    on = Stack(PATCHING, REQUIRED_PATCHING)
    assert on.exists("PatchScanAssociation") and on.exists("UpdateSsmAgentAssociation")
    off = Stack(PATCHING, {**REQUIRED_PATCHING, "CreatePatchScanAssociation": "false",
                           "CreateAgentUpdateAssociation": "false"})
    assert not off.exists("PatchScanAssociation") and not off.exists("UpdateSsmAgentAssociation")
    assert "overwrites" in PATCHING["Parameters"]["CreatePatchScanAssociation"]["Description"]


def test_install_output_goes_to_s3_when_asked() -> None:
    base = {**REQUIRED_PATCHING, "CreateInstallWindow": "true", "PatchGroup": "web"}
    task = lambda stack: stack.value(PATCHING["Resources"]["InstallWindowTask"]["Properties"])  # noqa: E731
    params = task(Stack(PATCHING, {**base, "InstallOutputBucket": "install-logs"}))[
        "TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"]
    assert params["OutputS3BucketName"] == "install-logs"
    assert params["OutputS3KeyPrefix"] == "patch-install/111122223333/us-east-1"
    params = task(Stack(PATCHING, base))["TaskInvocationParameters"]["MaintenanceWindowRunCommandParameters"]
    assert "OutputS3BucketName" not in params
    assert Stack(PATCHING, {**REQUIRED_PATCHING, "CreateInstallWindow": "true"}).broken_rules() == [
        "InstallWindowNeedsAPatchGroup"]


def test_an_existing_organization_config_bucket_is_read_never_written() -> None:
    """Control Tower forbids new delivery channels and keeps Config data in its log archive bucket
    (o-xxxx/AWSLogs/...): the table reads that bucket, its deliveries reach the partitioner through
    EventBridge, nothing of the stack writes to it or empties it, and the outputs say what its
    owner must add."""
    bucket, owner = "aws-controltower-logs-999988887777-us-east-1", "999988887777"
    stack = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true",
                            "ExistingConfigBucket": bucket, "ExistingConfigBucketAccount": owner})
    assert not stack.broken_rules()
    for absent in ("ConfigBucket", "ConfigBucketPolicy", "ConfigPartitionerS3Permission"):
        assert not stack.exists(absent), absent
    table = stack.value(CENTRAL["Resources"]["ConfigSnapshotTable"]["Properties"])
    assert table["TableInput"]["StorageDescriptor"]["Location"] == f"s3://{bucket}/"
    rule = stack.value(CENTRAL["Resources"]["ConfigDeliveryRule"]["Properties"])
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [bucket]
    assert rule["Targets"][0]["Arn"] == "ConfigPartitionerFunction.Arn"
    bus = stack.value(CENTRAL["Resources"]["ConfigEventsFromTheBucketOwner"]["Properties"])
    assert bus["Statement"]["Principal"] == {"AWS": f"arn:aws:iam::{owner}:root"}
    # Never emptied, never granted to the cleanup.
    cleanup = stack.value(CENTRAL["Resources"]["BucketCleanup"]["Properties"])
    assert cleanup["BucketNames"] == ["SyncBucket.Ref", "AthenaResultsBucket.Ref", "ReportsBucket.Ref"]
    assert bucket not in json.dumps(stack.value(CENTRAL["Resources"]["CleanupRole"]["Properties"]))
    outputs = {k for k, v in CENTRAL["Outputs"].items()
               if "Condition" not in v or stack.condition(v["Condition"])}
    assert {"ExistingConfigBucketPolicyStatement", "ExistingConfigBucketEventRule", "ConfigBucketName"} <= outputs
    assert stack.value(CENTRAL["Outputs"]["ConfigBucketName"]["Value"]) == bucket
    # The same account: no bus policy needed. No owner: refused before anything is created.
    same = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true", "ExistingConfigBucket": bucket,
                           "ExistingConfigBucketAccount": "111122223333"})
    assert not same.exists("ConfigEventsFromTheBucketOwner") and same.exists("ConfigDeliveryRule")
    unowned = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true", "ExistingConfigBucket": bucket})
    assert unowned.broken_rules() == ["ExistingConfigBucketNeedsItsOwner"]
    # Without it, the stack's own bucket and its S3 notifications, as before.
    own = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true"})
    assert own.exists("ConfigBucket") and not own.exists("ConfigDeliveryRule")


def test_the_pipeline_is_watched() -> None:
    """A dead-letter queue with messages, a function's errors or throttles, a failed crawl, and an
    account and Region that stopped syncing (or a monitor that stopped reporting) each reach the
    alarm topic; cfn/README.md says what each means and what to do."""
    stack = Stack(CENTRAL, {**REQUIRED_CENTRAL, "EnableConfigAnalytics": "true", "AlarmEmail": "ops@example.com"})
    live = stack.resources()
    alarms = {n: stack.value(r["Properties"]) for n, r in live.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == ["AlarmTopic.Ref"] and alarm["OKActions"] == ["AlarmTopic.Ref"]
    watched = {(a["Namespace"], a["MetricName"], a["Dimensions"][0]["Value"]) for a in alarms.values()}
    for name, res in live.items():
        if res["Type"] == "AWS::Lambda::Function":
            for metric in ("Errors", "Throttles"):
                assert ("AWS/Lambda", metric, f"{name}.Ref") in watched, (name, metric)
        if res["Type"] == "AWS::SQS::Queue":
            assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"{name}.QueueName") in watched, name
    stopped = alarms["SyncStoppedAlarm"]
    assert (stopped["Namespace"], stopped["MetricName"]) == ("PatchCompliance", "StaleSyncSources")
    assert stopped["Dimensions"] == [{"Name": "Bucket", "Value": "SyncBucket.Ref"}]
    assert stopped["TreatMissingData"] == "breaching", "a monitor that stopped running must alarm too"
    monitor = stack.value(CENTRAL["Resources"]["SyncMonitorFunction"]["Properties"])["Environment"]["Variables"]
    assert monitor == {"BUCKET_NAME": "SyncBucket.Ref", "SYNC_PREFIX": "inventory", "STALE_AFTER_DAYS": "3",
                       "METRIC_NAMESPACE": "PatchCompliance"}
    failed = stack.value(CENTRAL["Resources"]["CrawlerFailedRule"]["Properties"])
    assert failed["EventPattern"]["detail"] == {"crawlerName": ["Crawler.Ref"], "state": ["Failed"]}
    assert failed["Targets"][0]["Arn"] == "AlarmTopic.Ref"
    topic_policy = stack.value(CENTRAL["Resources"]["AlarmTopicPolicy"]["Properties"])["PolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in topic_policy} == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    assert stack.value(CENTRAL["Resources"]["AlarmEmailSubscription"]["Properties"])["Endpoint"] == "ops@example.com"
    assert not Stack(CENTRAL, REQUIRED_CENTRAL).exists("AlarmEmailSubscription")
    readme = (CFN / "README.md").read_text()
    for name in alarms:
        assert f"`{name}`" in readme, f"cfn/README.md does not say what {name} means"
    assert "`CrawlerFailedRule`" in readme
