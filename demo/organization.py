#!/usr/bin/env python3
"""The demo's organization in the emulator: a management account (moto's default), a reporting
account in the root (subscribed to QuickSight, so its service role exists: "Using the QuickSight
service role", QuickSight user guide; quicksight.yaml attaches a policy to it), and an
organizational unit of member accounts. Prints what it made as JSON.

    python demo/organization.py --members N --region R

The endpoint comes from the standard AWS environment (AWS_ENDPOINT_URL); an access key id that is
an account id acts in that account in the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import boto3

MANAGEMENT = "123456789012"
QUICKSIGHT_ROLE = "aws-quicksight-service-role-v0"
# The Owner tag of member account i is OWNERS[i % 3] (none for the third).
OWNERS = ["team-payments", "team-web", None]


def client(service: str, account: str, region: str):
    return boto3.client(service, region_name=region, aws_access_key_id=account, aws_secret_access_key="local")


def create_account(org, name: str) -> str:
    status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    # CreateAccount is asynchronous ("CreateAccount", Organizations API reference): poll its status.
    for _ in range(60):
        if status["State"] == "SUCCEEDED":
            return status["AccountId"]
        if status["State"] == "FAILED":
            raise RuntimeError(f"creating account {name} failed: {status.get('FailureReason')}")
        time.sleep(0.2)
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    raise RuntimeError(f"account {name} was not created in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    org = client("organizations", MANAGEMENT, args.region)
    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    central = create_account(org, "reporting")
    client("iam", central, args.region).create_role(
        RoleName=QUICKSIGHT_ROLE, Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "quicksight.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    members = []
    for i in range(args.members):
        account = create_account(org, f"workload-{i}")
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
        # The report's owners come from this tag; every third account has none, as in a real
        # organization where tagging is never complete.
        if OWNERS[i % len(OWNERS)]:
            org.tag_resource(ResourceId=account, Tags=[{"Key": "Owner", "Value": OWNERS[i % len(OWNERS)]}])
        members.append(account)
    # The first member account runs AWS Config as Control Tower sets it up: a recorder with the
    # role Control Tower creates for it ("AWS Control Tower resources": aws-controltower-ConfigRecorderRole,
    # trusted by AWS Config, with the AWS managed policy AWS_ConfigRole). The demo's fleet step
    # creates the recorder; AWS Config only accepts a role it may assume.
    iam = client("iam", members[0], args.region)
    iam.create_role(RoleName="aws-controltower-ConfigRecorderRole", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="aws-controltower-ConfigRecorderRole",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWS_ConfigRole")
    print(json.dumps({"org_id": org_id, "ou": ou, "central": central, "members": members}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
