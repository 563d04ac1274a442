"""The templates agree with the code and keep the promises of cfn/README.md.

Every function crate is deployed; environment variables and custom resource properties are ones
the code reads; custom resources answer within minutes; every role grants exactly the actions its
crate's lib.rs header lists (plus Lambda's own log and dead-letter actions), scoped; names never
collide across stacks or Regions; and the defects of the public samples
(../shared/reference/reference-implementations.md) stay fixed.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from cfn import (CFN, CRATES, RUNTIME_ACTIONS, STAR_RESOURCE_ACTIONS, TEMPLATES, function_crates,
                 functions, header_actions, header_properties, load, ref_target, resources,
                 sub_text, walk)

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
        ("member-patching", "OsTagger"), ("quicksight", "Datasets")]


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
                assert policy_name in depends
    allowed = header_properties(crate)
    used = set(props) - {"ServiceToken", "ServiceTimeout"}
    assert used <= allowed, f"{crate} does not read {used - allowed}"


# --------------------------------------------------------------------------------------------
# IAM least privilege
# --------------------------------------------------------------------------------------------


def role_statements(template: dict, role_name: str) -> list[dict]:
    role = template["Resources"][role_name]
    assert not role["Properties"].get("ManagedPolicyArns"), "no managed policies on function roles"
    statements = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for res in template["Resources"].values():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy"):
            roles = res["Properties"].get("Roles", []) + [res["Properties"].get("RoleName")]
            if any(ref_target(r) == role_name for r in roles if r):
                statements += res["Properties"]["PolicyDocument"]["Statement"]
    return statements


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
                assert action in STAR_RESOURCE_ACTIONS, f"{action} on * (only {sorted(STAR_RESOURCE_ACTIONS)})"
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
}
# Types whose optional name is unique per account: leave it to CloudFormation.
UNNAMED = {"AWS::IAM::Role", "AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::Events::Rule",
           "AWS::IAM::ManagedPolicy", "AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel"}
UNNAMED_KEYS = ("RoleName", "FunctionName", "QueueName", "Name", "ManagedPolicyName")
# Types without an account-wide name (none, or one scoped to a parent resource).
NAMELESS = {"AWS::Athena::NamedQuery", "AWS::CloudFormation::WaitConditionHandle", "AWS::Glue::Table",
            "AWS::KMS::Key", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Permission",
            "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SSM::MaintenanceWindowTarget",
            "AWS::SSM::MaintenanceWindowTask"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_names_never_collide_across_stacks_or_regions(path: pathlib.Path) -> None:
    for name, res in load(path)["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in NAME_PROPERTIES:
            value = props.get(NAME_PROPERTIES[res["Type"]])
            assert value is not None, f"{name}: give it a stack-derived name"
            blob = json.dumps(value)
            assert "AWS::StackName" in blob or "AWS::StackId" in blob, f"{name}: {blob}"
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
    assert {"WorkGroup", "Database", "ConfigSnapshotTable", "PrincipalArns"} <= set(qs)
    assert qs["PrincipalArns"]["Type"] == "CommaDelimitedList"
    assert "identity Region" in qs["PrincipalArns"]["Description"]
    sync = load(CFN / "member-data-sync.yaml")["Parameters"]
    assert {"BucketName", "BucketRegion", "BucketPrefix", "KmsKeyArn"} <= set(sync)


# --------------------------------------------------------------------------------------------
# The samples' defects stay fixed
# --------------------------------------------------------------------------------------------

CENTRAL = load(CFN / "central-reporting.yaml")
PATCHING = load(CFN / "member-patching.yaml")


def test_kms_key_lets_ssm_in_only_for_the_organizations_syncs() -> None:
    key = CENTRAL["Resources"]["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert services and all(s["Principal"]["Service"] == "ssm.amazonaws.com" for s in services)
    for s in services:
        assert s["Condition"]["StringEquals"]["aws:SourceOrgID"] == {"Ref": "OrganizationId"}
        assert "resource-data-sync/" in sub_text(s["Condition"]["ArnLike"]["aws:SourceArn"])
        assert "quicksight" not in json.dumps(s).lower()


@pytest.mark.parametrize("bucket", ["SyncBucket", "AthenaResultsBucket", "ConfigBucket"])
def test_bucket_hygiene(bucket: str) -> None:
    props = CENTRAL["Resources"][bucket]["Properties"]
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["LifecycleConfiguration"]["Rules"]
    policy = next(r for r in CENTRAL["Resources"].values()
                  if r["Type"] == "AWS::S3::BucketPolicy" and ref_target(r["Properties"]["Bucket"]) == bucket)
    deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    for s in policy["Properties"]["PolicyDocument"]["Statement"]:
        if s["Effect"] == "Allow":
            assert s["Condition"]["StringEquals"]["aws:SourceOrgID"] == {"Ref": "OrganizationId"}, s["Sid"]


def test_sync_bucket_policy_matches_the_organization_sync() -> None:
    policy = CENTRAL["Resources"]["SyncBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = {s["Action"] for s in policy if s["Effect"] == "Allow"}
    assert actions == {"s3:GetBucketAcl", "s3:PutObject", "s3:PutObjectTagging"}
    sync_key = CENTRAL["Resources"]["SyncBucket"]["Properties"]["BucketEncryption"]
    assert ref_target(sync_key["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == "DataKey"
    rules = {r["Id"]: r for r in CENTRAL["Resources"]["SyncBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-stale-node-files"]["ExpirationInDays"]["Fn::If"][1] == {"Ref": "StaleNodeFileDays"}
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == {"Ref": "NoncurrentVersionDays"}


def test_crawler_skips_the_write_check_at_any_depth_and_keeps_the_fix() -> None:
    crawler = CENTRAL["Resources"]["Crawler"]["Properties"]
    assert "**/test.json" in crawler["Targets"]["S3Targets"][0]["Exclusions"]
    assert json.loads(crawler["Configuration"]) == {
        "Version": 1.0, "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}}}
    assert crawler["SchemaChangePolicy"]["DeleteBehavior"] in ("LOG", "DEPRECATE_IN_DATABASE")
    assert crawler["Schedule"]["Fn::If"][0] == "HasCrawlerSchedule"


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
        "configuration:string,tags:map<string,string>,resourcecreationtime:string>>"}
    assert [k["Name"] for k in table["PartitionKeys"]] == ["accountid", "region", "dt"]
    sql = (CRATES / "quicksight-builder" / "sql" / "config_compliance.sql").read_text()
    for field in ("configsnapshotid", "configurationitems", "resourcetype", "resourceid",
                  "configurationitemstatus", "configurationitemcapturetime", "configuration", "tags"):
        assert field in sql


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


def test_keep_data_retains_buckets_and_skips_the_cleanup() -> None:
    assert CENTRAL["Transform"] == "AWS::LanguageExtensions"
    for name in ("SyncBucket", "AthenaResultsBucket", "ConfigBucket", "DataKey"):
        res = CENTRAL["Resources"][name]
        assert res["DeletionPolicy"] == {"Fn::If": ["KeepData", "Retain", "Delete"]}, name
        assert res["UpdateReplacePolicy"] == res["DeletionPolicy"]
    for name in ("BucketCleanup", "CleanupFunction", "CleanupRole"):
        assert CENTRAL["Resources"][name]["Condition"] == "DeleteData"
    names = CENTRAL["Resources"]["BucketCleanup"]["Properties"]["BucketNames"]
    assert {ref_target(n) for n in names if ref_target(n)} == {"SyncBucket", "AthenaResultsBucket"}


def test_member_patching_rules_associations_and_tagger() -> None:
    res = PATCHING["Resources"]
    identifiers = {r["Properties"]["Source"]["SourceIdentifier"] for r in res.values() if r["Type"] == "AWS::Config::ConfigRule"}
    assert identifiers == {"EC2_INSTANCE_MANAGED_BY_SSM", "EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK"}
    for r in res.values():
        if r["Type"] == "AWS::Config::ConfigRule":
            default = {"EC2_INSTANCE_MANAGED_BY_SSM": "ec2-instance-managed-by-systems-manager",
                       "EC2_MANAGEDINSTANCE_PATCH_COMPLIANCE_STATUS_CHECK": "ec2-managedinstance-patch-compliance-status-check"}
            assert default[r["Properties"]["Source"]["SourceIdentifier"]] in sub_text(r["Properties"]["ConfigRuleName"])
    for name in ("ConfigRecorder", "ConfigDeliveryChannel", "ConfigRecorderRole"):
        assert res[name]["Condition"] == "CreateRecorder"
    assert "ConfigRecorder" in as_list(res["ConfigDeliveryChannel"].get("DependsOn", [])), \
        "a delivery channel needs an existing recorder"
    documents = {r["Properties"]["Name"]: r for r in res.values() if r["Type"] == "AWS::SSM::Association"}
    assert set(documents) == {"AWS-UpdateSSMAgent", "AWS-GatherSoftwareInventory", "AWS-RunPatchBaseline"}
    scan = documents["AWS-RunPatchBaseline"]["Properties"]
    assert scan["Parameters"]["Operation"] == ["Scan"]
    default = PATCHING["Parameters"]["PatchScanSchedule"]["Default"]
    assert not re.search(r"rate\(\d+ (minute|hour)s?\)", default) and "*/" not in default, "never hourly"
    for name in ("PatchBaseline", "InstallWindow", "InstallWindowTarget", "InstallWindowTask"):
        assert res[name]["Condition"] == "CreateWindow"
    assert res["InstallWindowTarget"]["Properties"]["Targets"][0]["Key"] == "tag:Patch Group"
    assert res["TaggerScheduleRule"]["Properties"]["ScheduleExpression"] == {"Ref": "TaggerSchedule"}
    assert ref_target(res["TaggerScheduleRule"]["Properties"]["Targets"][0]["Arn"]) == "TaggerFunction"
    assert res["OsTagger"]["Type"] == "Custom::Ec2OsTagger"


def test_cloudtrail_lake_store_holds_configuration_items() -> None:
    store = load(CFN / "cloudtrail-lake.yaml")["Resources"]["ConfigItemsStore"]["Properties"]
    selectors = store["AdvancedEventSelectors"][0]["FieldSelectors"]
    assert {"Field": "eventCategory", "Equals": ["ConfigurationItem"]} in selectors
    assert store["MultiRegionEnabled"] is True
