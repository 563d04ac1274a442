"""The emulator refuses what IAM refuses (emulator/emu_authz.py), over HTTP as a client sees it.

The evaluation logic itself is tested in test_iam_policy.py; here: who the caller is (an account's
administrator, a role session from sts:AssumeRole), which policies apply (role policies, resource
policies, SCPs of member accounts), the service's AccessDenied shape, and the loud error for what
the emulator cannot evaluate.

    .venv/bin/python -m pytest tests/emulator/test_authz.py -q
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import REGION, control, error_of, role_session, trust

MANAGEMENT, MEMBER = "111111111111", "222222222222"


def admin(emulator: str, service: str, account: str, region: str = REGION):
    return boto3.client(service, endpoint_url=emulator, region_name=region, aws_access_key_id=account,
                        aws_secret_access_key="x")


def organization(emulator: str) -> dict:
    org = admin(emulator, "organizations", MANAGEMENT)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    member = org.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
    return {"org": org, "root": root, "ou": ou, "member": member}


def scp(org, name: str, statements: list[dict], target: str) -> str:
    policy = org.create_policy(Name=name, Description=name, Type="SERVICE_CONTROL_POLICY",
                               Content=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    policy_id = policy["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy_id, TargetId=target)
    return policy_id


def test_an_scp_denies_a_member_account_but_never_the_management_account(emulator):
    # "SCPs don't affect users or roles in the management account" and an explicit deny in an SCP
    # applies to every principal of the member accounts below it, their root user included
    # (AWS Organizations User Guide, "Service control policies").
    o = organization(emulator)
    deny = [{"Effect": "Deny", "Action": "ssm:CreateResourceDataSync", "Resource": "*"}]
    scp(o["org"], "no-syncs", deny, o["ou"])
    sync = {"SyncName": "s", "SyncType": "SyncToDestination",
            "S3Destination": {"BucketName": "b", "SyncFormat": "JsonSerDe", "Region": REGION}}
    # Not in force until the policy type is enabled on the root.
    admin(emulator, "ssm", o["member"]).create_resource_data_sync(**sync)
    o["org"].enable_policy_type(RootId=o["root"], PolicyType="SERVICE_CONTROL_POLICY")
    with pytest.raises(ClientError) as e:
        admin(emulator, "ssm", o["member"]).create_resource_data_sync(**{**sync, "SyncName": "t"})
    status, code, message = error_of(e)
    assert (status, code) == (400, "AccessDeniedException")
    assert message.startswith(f"User: arn:aws:iam::{o['member']}:root is not authorized to perform: "
                              "ssm:CreateResourceDataSync on resource: ")
    assert message.endswith("with an explicit deny in a service control policy")
    admin(emulator, "ssm", MANAGEMENT).create_resource_data_sync(**{**sync, "SyncName": "t"})


def test_every_level_of_the_path_needs_an_allowing_scp(emulator):
    # An OU whose only SCP allows EC2 leaves nothing else to its accounts, whatever the root allows.
    o = organization(emulator)
    o["org"].enable_policy_type(RootId=o["root"], PolicyType="SERVICE_CONTROL_POLICY")
    full = next(p["Id"] for p in o["org"].list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
                if p["Name"] == "FullAWSAccess")
    scp(o["org"], "ec2-only", [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}], o["ou"])
    o["org"].detach_policy(PolicyId=full, TargetId=o["ou"])
    admin(emulator, "ec2", o["member"]).describe_instances()
    with pytest.raises(ClientError) as e:
        admin(emulator, "sqs", o["member"]).list_queues()
    assert "because no service control policy allows the sqs:ListQueues action" in error_of(e)[2]


def test_a_role_session_may_do_what_its_policies_allow_on_the_resources_they_name(emulator):
    allowed = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mine/*"}
    admin(emulator, "s3", MEMBER).create_bucket(Bucket="mine")
    admin(emulator, "s3", MEMBER).put_object(Bucket="mine", Key="k", Body=b"1")
    s3 = role_session(emulator, "reader", [allowed], account=MEMBER).client("s3", endpoint_url=emulator)
    assert s3.get_object(Bucket="mine", Key="k")["Body"].read() == b"1"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="mine", Key="k", Body=b"2")
    status, code, message = error_of(e)
    assert (status, code) == (403, "AccessDenied")
    assert message == (f"User: arn:aws:sts::{MEMBER}:assumed-role/reader/test is not authorized to perform: "
                       "s3:PutObject on resource: arn:aws:s3:::mine/k because no identity-based policy allows "
                       "the s3:PutObject action")


def test_another_accounts_bucket_needs_its_bucket_policy_too(emulator):
    # "Cross-account policy evaluation logic": the identity policy and the resource policy.
    admin(emulator, "s3", MANAGEMENT).create_bucket(Bucket="theirs")
    admin(emulator, "s3", MANAGEMENT).put_object(Bucket="theirs", Key="k", Body=b"1")
    mine = admin(emulator, "s3", MEMBER)
    with pytest.raises(ClientError) as e:
        mine.get_object(Bucket="theirs", Key="k")
    assert "because no resource-based policy allows the s3:GetObject action" in error_of(e)[2]
    admin(emulator, "s3", MANAGEMENT).put_bucket_policy(Bucket="theirs", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": MEMBER},
                                                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::theirs/*"}]}))
    assert mine.get_object(Bucket="theirs", Key="k")["Body"].read() == b"1"


def test_assume_role_needs_the_trust_policy_and_the_callers_permission(emulator):
    iam = admin(emulator, "iam", MEMBER)
    lam = iam.create_role(RoleName="for-lambda", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    sts = admin(emulator, "sts", MEMBER)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=lam, RoleSessionName="me")
    assert error_of(e)[:2] == (403, "AccessDenied")
    assert "because no resource-based policy allows the sts:AssumeRole action" in error_of(e)[2]
    # A session without sts:AssumeRole may not assume a role that trusts its account.
    trusting = iam.create_role(RoleName="trusting", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MEMBER}:root"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    session = role_session(emulator, "nothing", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                                   "Resource": "*"}], account=MEMBER)
    with pytest.raises(ClientError) as e:
        session.client("sts", endpoint_url=emulator).assume_role(RoleArn=trusting, RoleSessionName="me")
    assert "because no identity-based policy allows the sts:AssumeRole action" in error_of(e)[2]


def test_iam_refuses_a_trust_policy_that_is_not_one(emulator):
    with pytest.raises(ClientError) as e:
        admin(emulator, "iam", MEMBER).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    assert error_of(e)[1] == "MalformedPolicyDocument"


def test_lambda_refuses_a_role_it_may_not_assume(emulator):
    import io
    import zipfile

    iam = admin(emulator, "iam", MEMBER)
    role = iam.create_role(RoleName="for-glue", AssumeRolePolicyDocument=trust("glue.amazonaws.com"))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    with pytest.raises(ClientError) as e:
        admin(emulator, "lambda", MEMBER).create_function(
            FunctionName="f", Runtime="provided.al2023", Handler="bootstrap", Role=role,
            Code={"ZipFile": buf.getvalue()})
    assert error_of(e)[1:] == ("InvalidParameterValueException",
                               "The role defined for the function cannot be assumed by Lambda.")


def test_a_config_recorder_names_a_role_the_caller_may_pass(emulator):
    iam = admin(emulator, "iam", MEMBER)
    role = iam.create_role(RoleName="recorder", AssumeRolePolicyDocument=trust("config.amazonaws.com"))["Role"]["Arn"]
    recorder = {"name": "default", "roleARN": role, "recordingGroup": {"allSupported": True}}
    cannot_pass = role_session(emulator, "configurer", [{"Effect": "Allow", "Action": "config:*", "Resource": "*"}],
                               account=MEMBER)
    with pytest.raises(ClientError) as e:
        cannot_pass.client("config", endpoint_url=emulator).put_configuration_recorder(ConfigurationRecorder=recorder)
    assert "iam:PassRole on resource: " + role in error_of(e)[2]
    can_pass = role_session(emulator, "configurer2", [
        {"Effect": "Allow", "Action": "config:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
         "Condition": {"StringEquals": {"iam:PassedToService": "config.amazonaws.com"}}}], account=MEMBER)
    can_pass.client("config", endpoint_url=emulator).put_configuration_recorder(ConfigurationRecorder=recorder)


def test_a_policy_the_emulator_cannot_evaluate_is_a_loud_error_not_a_silent_allow(emulator):
    session = role_session(emulator, "odd", [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*",
                                              "Condition": {"StringEquals": {"aws:SomeKeyNobodyKnows": "x"}}}])
    with pytest.raises(ClientError) as e:
        session.client("s3", endpoint_url=emulator).list_buckets()
    status, code, message = error_of(e)
    assert (status, code) == (500, "EmulatorAuthorizationError")
    assert "aws:SomeKeyNobodyKnows" in message
    _, decisions = control(emulator, "GET", "/_emulator/authz/decisions")
    assert any("aws:SomeKeyNobodyKnows" in err for err in decisions["errors"])
