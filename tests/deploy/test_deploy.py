"""`make deploy` against the emulator, as it runs against AWS: an organization with member accounts
in an organizational unit, the central stack, the member StackSets with instances in every member
account and Region, the custom resources run by their real binaries (`local-aws`' Lambda runner),
a re-run that changes nothing, an update, and `make undeploy` keeping the data.

Needs the debug binaries (`cargo build --locked --workspace --bins`; `make test` builds them first):
`LOCAL_AWS` names the `local-aws` binary (default target/debug/local-aws), whose runner runs each
function's binary from the same folder.
"""

from __future__ import annotations

import io
import os
import pathlib
import subprocess
import sys
import zipfile

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

import config as configuration  # noqa: E402
import deploy  # noqa: E402

TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
LOCAL_AWS = pathlib.Path(os.environ.get("LOCAL_AWS", TARGET / "debug" / "local-aws"))
CENTRAL_REGION = "us-east-1"
MEMBER_REGIONS = ["us-east-1", "eu-west-1"]
FUNCTIONS = ["glue-column-remover", "config-partitioner", "sync-monitor", "s3-cleanup", "org-data-sync",
             "quicksight-builder", "config-recorder", "ec2-os-tagger"]


@pytest.fixture(scope="module")
def local_aws():
    """The emulator with a Lambda runner whose functions run the debug binaries."""
    if not LOCAL_AWS.exists():
        pytest.fail(f"{LOCAL_AWS} does not exist: cargo build --locked --workspace --bins")
    proc = subprocess.Popen([str(LOCAL_AWS), "--port", "0", "--bin-dir", str(LOCAL_AWS.parent)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("AWS_ENDPOINT_URL="), line
    endpoint = line.split()[0].split("=", 1)[1]
    yield endpoint
    proc.terminate()
    proc.wait(timeout=20)


def session(endpoint: str, account: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id=account, aws_secret_access_key="local", region_name=CENTRAL_REGION)


@pytest.fixture(scope="module")
def organization(local_aws, tmp_path_factory):
    """A management account (moto's default) with an OU of three member accounts, one of which is
    the central reporting account; AWS profiles for the two roles the deployment signs in as."""
    management = "123456789012"
    org = boto3.client("organizations", endpoint_url=local_aws, region_name=CENTRAL_REGION,
                       aws_access_key_id=management, aws_secret_access_key="local")
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    accounts = []
    for i in range(3):
        status = org.create_account(Email=f"member{i}@example.com", AccountName=f"member{i}")["CreateAccountStatus"]
        account = status["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        accounts.append(account)
    home = tmp_path_factory.mktemp("aws")
    (home / "config").write_text("".join(
        f"[profile {name}]\nregion = {CENTRAL_REGION}\nendpoint_url = {local_aws}\n"
        f"aws_access_key_id = {account}\naws_secret_access_key = local\n\n"
        for name, account in (("central", accounts[0]), ("management", management), ("tooling", accounts[1]))))
    os.environ["AWS_CONFIG_FILE"] = str(home / "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "credentials")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    return {"id": org_id, "ou": ou, "accounts": accounts, "management": management, "endpoint": local_aws}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> pathlib.Path:
    """cargo-lambda's layout with a package per function. The runner's --bin-dir replaces each
    package's bootstrap by the debug binary of the same name, so the zips only need the layout."""
    folder = tmp_path_factory.mktemp("dist")
    for function in FUNCTIONS:
        (folder / function).mkdir()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("bootstrap", f"#!/bin/sh\n# {function}: replaced by the runner's --bin-dir\nexit 1\n")
        (folder / function / "bootstrap.zip").write_bytes(buffer.getvalue())
    return folder


def write_config(path: pathlib.Path, organization: dict, dist: pathlib.Path, *, keep: bool = True,
                 patching: bool = False, regions: list[str] = MEMBER_REGIONS, management: bool = False,
                 name: str = "patch-compliance", members: str = 'profile = "management"') -> pathlib.Path:
    path.write_text(f"""
organization_id = "{organization['id']}"
[artifacts]
bucket_prefix = "demo-artifacts"
version = "test-1"
dist = "{dist}"
[central]
profile = "central"
account_id = "{organization['accounts'][0]}"
region = "{CENTRAL_REGION}"
keep_data_on_delete = {str(keep).lower()}
alarm_email = ""
stack_name = "{name}-reporting"
[config_analytics]
enabled = {str(patching).lower()}
[members]
{members}
regions = {regions!r}
organizational_units = ["{organization['ou']}"]
management_account_stacks = {str(management).lower()}
[members.data_sync]
stack_set_name = "{name}-data-sync"
[members.patching]
enabled = {str(patching).lower()}
stack_set_name = "{name}-patching"
""".replace("'", '"'))
    return path


def run(path: pathlib.Path) -> deploy.Outcome:
    out: list[str] = []
    cfg = configuration.load(path)
    deployer = deploy.Deployer(cfg, yes=True, poll=0.2, out=out.append)
    try:
        return deployer.deploy()
    finally:
        print("\n".join(out))


def test_deploy_rerun_update_undeploy(organization, dist, tmp_path) -> None:
    path = write_config(tmp_path / "deploy.toml", organization, dist)
    result = run(path)
    central = result.outputs["central"]
    assert {"SyncBucketName", "KmsKeyArn", "WorkGroupName", "CrawlerName"} <= set(central)

    # Every member account and Region has the organization's resource data sync into the bucket,
    # created by org-data-sync's binary answering CloudFormation.
    for account in organization["accounts"]:
        for region in MEMBER_REGIONS:
            ssm = boto3.client("ssm", endpoint_url=organization["endpoint"], region_name=region,
                               aws_access_key_id=account, aws_secret_access_key="local")
            syncs = ssm.list_resource_data_sync()["ResourceDataSyncItems"]
            assert [s["S3Destination"]["BucketName"] for s in syncs] == [central["SyncBucketName"]], (account, region)

    # Unchanged file: nothing changes.
    again = run(path)
    assert again.changed == []

    # Keep the data on deletion, then undeploy: StackSets first, the buckets stay.
    s3 = boto3.client("s3", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                      aws_access_key_id=organization["accounts"][0], aws_secret_access_key="local")
    s3.put_object(Bucket=central["SyncBucketName"], Key="inventory/AWS:Tag/x.json", Body=b"{}")
    cfg = configuration.load(path)
    deploy.Deployer(cfg, yes=True, poll=0.2, out=print).undeploy()
    assert s3.get_object(Bucket=central["SyncBucketName"], Key="inventory/AWS:Tag/x.json")["Body"].read() == b"{}"
    cfn = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                       aws_access_key_id=organization["management"], aws_secret_access_key="local")
    assert not [s for s in cfn.list_stack_sets()["Summaries"] if s["Status"] == "ACTIVE"]


def test_plan_changes_nothing_and_the_management_account_gets_its_own_stacks(organization, dist, tmp_path) -> None:
    path = write_config(tmp_path / "deploy.toml", organization, dist, patching=True, management=True,
                        name="second")
    cfg = configuration.load(path)
    management = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                              aws_access_key_id=organization["management"], aws_secret_access_key="local")
    central = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                           aws_access_key_id=organization["accounts"][0], aws_secret_access_key="local")

    def live(client) -> set[str]:
        return {s["StackName"] for s in client.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}

    before = (live(management), live(central))
    out: list[str] = []
    deploy.Deployer(cfg, yes=True, poll=0.2, dry_run=True, out=out.append).deploy()
    assert "central stack second-reporting (us-east-1): create" in "\n".join(out)
    assert (live(management), live(central)) == before, "plan created a stack"

    result = run(path)
    assert "second-reporting" in live(central)
    # Service-managed StackSets skip the management account: its own stacks, one per member Region.
    for region in MEMBER_REGIONS:
        cfn = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=region,
                           aws_access_key_id=organization["management"], aws_secret_access_key="local")
        assert {"second-data-sync", "second-patching"} <= live(cfn), region
    instances = management.list_stack_instances(StackSetName="second-patching")["Summaries"]
    assert {(i["Account"], i["Region"]) for i in instances} == {
        (a, r) for a in organization["accounts"] for r in MEMBER_REGIONS}
    assert result.todo, "the to-do list names the first crawl"

    deploy.Deployer(cfg, yes=True, poll=0.2, out=print).undeploy()
    assert "second-reporting" not in live(central)
    for region in MEMBER_REGIONS:
        cfn = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=region,
                           aws_access_key_id=organization["management"], aws_secret_access_key="local")
        assert not {"second-data-sync", "second-patching"} & live(cfn), region


def test_a_failed_instance_is_reported_and_deployed_again_by_the_next_run(organization, dist, tmp_path) -> None:
    # One member already has an organization resource data sync of its own in one Region: AWS allows
    # one per account and Region, so that instance of the StackSet fails.
    account, region = organization["accounts"][2], "eu-west-1"
    ssm = boto3.client("ssm", endpoint_url=organization["endpoint"], region_name=region,
                       aws_access_key_id=account, aws_secret_access_key="local")
    ssm.create_resource_data_sync(SyncName="someone-elses", S3Destination={
        "BucketName": "elsewhere", "SyncFormat": "JsonSerDe", "Region": "us-east-1",
        "DestinationDataSharing": {"DestinationDataSharingType": "Organization"}})
    path = write_config(tmp_path / "deploy.toml", organization, dist, name="third", management=False)
    with pytest.raises(deploy.DeployError) as failed:
        run(path)
    message = str(failed.value)
    assert "third-data-sync" in message and f"{account}/{region}" in message and "DataSync" in message, message

    # The owner removes their sync; the next run deploys the failed instance again, nothing else.
    ssm.delete_resource_data_sync(SyncName="someone-elses")
    out: list[str] = []
    deploy.Deployer(configuration.load(path), yes=True, poll=0.2, out=out.append).deploy()
    assert f"instance {account}/{region} OUTDATED" in "\n".join(out), out
    assert [s["SyncName"] for s in ssm.list_resource_data_sync()["ResourceDataSyncItems"]] == ["patch-compliance"]
    assert run(path).changed == []
    deploy.Deployer(configuration.load(path), yes=True, poll=0.2, out=print).undeploy()


def test_a_delegated_administrator_deploys_the_stack_sets(organization, dist, tmp_path) -> None:
    members = 'profile = "tooling"\ncall_as = "DELEGATED_ADMIN"\nmanagement_profile = "management"'
    path = write_config(tmp_path / "deploy.toml", organization, dist, name="fourth", management=True,
                        regions=["us-east-1"], members=members)
    cfg = configuration.load(path)
    with pytest.raises(deploy.DeployError) as refused:
        deploy.Deployer(cfg, yes=True, poll=0.2, out=print).deploy()
    assert "register-delegated-administrator --service-principal member.org.stacksets.cloudformation.amazonaws.com " \
           f"--account-id {organization['accounts'][1]}" in str(refused.value)

    org = boto3.client("organizations", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                       aws_access_key_id=organization["management"], aws_secret_access_key="local")
    org.register_delegated_administrator(AccountId=organization["accounts"][1],
                                         ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    try:
        run(path)
        tooling = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                               aws_access_key_id=organization["accounts"][1], aws_secret_access_key="local")
        instances = tooling.list_stack_instances(StackSetName="fourth-data-sync", CallAs="DELEGATED_ADMIN")["Summaries"]
        assert {i["Account"] for i in instances} == set(organization["accounts"])
        # The management account's own stack is made with management_profile, in the management account.
        management = boto3.client("cloudformation", endpoint_url=organization["endpoint"], region_name=CENTRAL_REGION,
                                  aws_access_key_id=organization["management"], aws_secret_access_key="local")
        assert management.describe_stacks(StackName="fourth-data-sync")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        deploy.Deployer(cfg, yes=True, poll=0.2, out=print).undeploy()
        assert tooling.list_stack_sets(CallAs="DELEGATED_ADMIN", Status="ACTIVE")["Summaries"] == []
    finally:
        org.deregister_delegated_administrator(AccountId=organization["accounts"][1],
                                               ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")


def test_renaming_the_cleanup_resource_keeps_every_object_and_deleting_the_stack_empties_them(organization) -> None:
    """Issue #23, with s3-cleanup's real binary answering CloudFormation as the role the central
    template gives it (the emulator authorizes each call as IAM does): the central stack, data
    kept on nothing (`KeepDataOnDelete` false, so `EmptyOnDelete` "true"), objects in its buckets;
    an update that renames the cleanup resource (a new logical id: CloudFormation creates the new
    one and sends the old one a Delete in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS) keeps every object
    version; deleting the stack then empties the buckets, which CloudFormation deletes."""
    import json
    import time
    import urllib.request

    sys.path.insert(0, str(ROOT / "cfn"))
    import render

    endpoint = organization["endpoint"]
    # An account and Region of its own: no other test here deploys into us-west-2.
    account, region = organization["accounts"][1], "us-west-2"

    def client(service: str):
        return boto3.client(service, endpoint_url=endpoint, region_name=region, aws_access_key_id=account,
                            aws_secret_access_key="local")

    s3, cfn = client("s3"), client("cloudformation")
    # The template's transform (AWS::LanguageExtensions) needs CAPABILITY_AUTO_EXPAND.
    capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    # The packages the template's functions are made from; the runner runs each one's debug binary.
    prefix, version = "rename-artifacts", "test-1"
    s3.create_bucket(Bucket=f"{prefix}-{region}", CreateBucketConfiguration={"LocationConstraint": region})
    for function in [*FUNCTIONS, "compliance-report"]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("bootstrap", f"#!/bin/sh\n# {function}: replaced by the runner's --bin-dir\nexit 1\n")
        s3.put_object(Bucket=f"{prefix}-{region}", Key=f"patch-compliance/{version}/{function}.zip",
                      Body=buffer.getvalue())
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in {
        "OrganizationId": organization["id"], "ArtifactBucketPrefix": prefix, "ArtifactVersion": version,
        "KeepDataOnDelete": "false", "AlarmEmail": ""}.items()]
    body = render.template("central-reporting.yaml")
    renamed = body.replace("\n  BucketCleanup:\n    Type: Custom::S3Cleanup\n",
                           "\n  StackCleanup:\n    Type: Custom::S3Cleanup\n")
    assert renamed != body and "BucketCleanup" not in renamed

    def settled(stack_id: str) -> str:
        deadline = time.monotonic() + 300
        while True:
            status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
            if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def reasons(stack_id: str) -> list[str]:
        return [f"{e['LogicalResourceId']} {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
                for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]]

    def cleanup_calls() -> dict[str, int]:
        with urllib.request.urlopen(f"{endpoint}/_emulator/calls-by-principal") as answer:
            calls = json.loads(answer.read())["calls"]
        return {f"{c['service']}:{c['operation']}": c["count"] for c in calls
                if c["principal"] == f"{account}-s3-cleanup"}

    stack_id = cfn.create_stack(StackName="rename-reporting", TemplateBody=body, Parameters=parameters,
                                Capabilities=capabilities)["StackId"]
    assert settled(stack_id) == "CREATE_COMPLETE", reasons(stack_id)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"]}
    buckets = [outputs["SyncBucketName"], outputs["AthenaResultsBucketName"], outputs["ReportsBucketName"]]
    for bucket in buckets[:2]:
        for i in range(2):
            s3.put_object(Bucket=bucket, Key="inventory/AWS:Tag/x.json", Body=f"version {i}".encode())
        s3.delete_object(Bucket=bucket, Key="inventory/AWS:Tag/x.json")
        s3.put_object(Bucket=bucket, Key="history/day=1/y.json", Body=b"{}")
    # Only compliance-report writes the reports bucket (its policy denies everyone else): the same
    # four versions, placed by the emulator.
    seed = urllib.request.Request(f"{endpoint}/_emulator/s3/bulk", method="POST", data=json.dumps({
        "account": account, "region": region, "bucket": outputs["ReportsBucketName"], "versioning": "Enabled",
        "objects": 1, "versions_per_object": 3, "delete_markers": 1, "key_prefix": "history/"}).encode(),
        headers={"Content-Type": "application/json"})
    urllib.request.urlopen(seed, timeout=60).read()

    def versions(bucket: str) -> int:
        out = s3.list_object_versions(Bucket=bucket)
        return len(out.get("Versions", [])) + len(out.get("DeleteMarkers", []))

    before = {bucket: versions(bucket) for bucket in buckets}
    assert before == {bucket: 4 for bucket in buckets}, before

    # The rename: the new cleanup resource is created, the old one deleted in the update's cleanup,
    # with EmptyOnDelete "true". s3-cleanup reads the stack's status and keeps everything.
    cfn.update_stack(StackName=stack_id, TemplateBody=renamed, Parameters=parameters,
                     Capabilities=capabilities)
    assert settled(stack_id) == "UPDATE_COMPLETE", reasons(stack_id)
    events = reasons(stack_id)
    assert any(e.startswith("BucketCleanup DELETE_COMPLETE") for e in events), events
    assert any(e.startswith("StackCleanup CREATE_COMPLETE") for e in events), events
    assert {bucket: versions(bucket) for bucket in buckets} == before, "every object version kept"
    calls = cleanup_calls()
    assert calls.get("cloudformation:DescribeStacks") == 1, calls
    assert not [op for op in calls if op.startswith("s3:")], f"the rename's Delete touched S3: {calls}"

    # The stack's deletion: s3-cleanup empties the buckets, and CloudFormation deletes them.
    cfn.delete_stack(StackName=stack_id)
    assert settled(stack_id) == "DELETE_COMPLETE", reasons(stack_id)
    calls = cleanup_calls()
    assert calls.get("cloudformation:DescribeStacks") == 2 and calls.get("s3:DeleteObjects"), calls
    remaining = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not remaining & set(buckets), f"not deleted: {remaining & set(buckets)}"
