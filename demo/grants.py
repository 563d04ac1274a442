#!/usr/bin/env python3
"""What each function's role grants, as the stacks created it: read back from IAM in every account
and Region a function ran in, by crate (the package a function runs, `<crate>.zip`). The demo's
test compares it with what each function called (`calls-by-function.json`): least privilege,
measured on the roles the templates made.

    python demo/grants.py --places ACCOUNT/REGION [...] --out granted-by-function.json

Credentials and the endpoint come from the standard AWS environment; an access key id that is an
account id acts in that account in the emulator.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import urllib.parse

import boto3


def allowed_actions(document: dict) -> set[str]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    actions: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        action = statement.get("Action", [])
        actions.update([action] if isinstance(action, str) else action)
    return actions


def decode(document) -> dict:
    """IAM returns policy documents URL-encoded ("GetRolePolicy", IAM API reference); boto3
    decodes them, a raw answer does not."""
    if isinstance(document, dict):
        return document
    return json.loads(urllib.parse.unquote(document))


def role_actions(iam, role: str) -> set[str]:
    actions: set[str] = set()
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role):
        for name in page["PolicyNames"]:
            actions |= allowed_actions(decode(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role):
        for policy in page["AttachedPolicies"]:
            if ":aws:policy/" in policy["PolicyArn"]:
                continue  # AWS managed (basic execution): Lambda's own logging only
            version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)
            actions |= allowed_actions(decode(document["PolicyVersion"]["Document"]))
    return actions


def grants(places: list[tuple[str, str]]) -> dict[str, list[str]]:
    granted: dict[str, set[str]] = {}
    for account, region in places:
        session = boto3.Session(aws_access_key_id=account, aws_secret_access_key="local", region_name=region)
        lam, iam = session.client("lambda"), session.client("iam")
        for page in lam.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                location = lam.get_function(FunctionName=function["FunctionName"])["Code"].get("Location", "")
                package = location.split("?")[0].rsplit("/", 1)[-1]
                if not package.endswith(".zip"):
                    continue
                role = function["Role"].rsplit("/", 1)[-1]
                granted.setdefault(package.removesuffix(".zip"), set()).update(role_actions(iam, role))
    return {crate: sorted(actions) for crate, actions in sorted(granted.items())}


def labelled(document: dict, source: str) -> list[dict]:
    """Each statement with the label the emulator's authorization records it by
    (emulator/iam_policy.py, Statement.label: `<source>#<Sid or index>`)."""
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return [{"label": f"{source}#{st.get('Sid') or i}", "effect": st.get("Effect"), "statement": st}
            for i, st in enumerate(statements)]


def template_of(stack: str) -> str:
    """The stack or StackSet a stack instance belongs to: `StackSet-<name>-<uuid>` is `<name>`."""
    return re.sub(r"^StackSet-|-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", "", stack)


def stack_statements(places: list[tuple[str, str]]) -> list[dict]:
    """Every statement of every role, role policy and resource policy the stacks created (their
    resources, read back from each service), labelled as the emulator records decisions."""
    out: list[dict] = []
    seen: set[str] = set()
    for account, region in places:
        session = boto3.Session(aws_access_key_id=account, aws_secret_access_key="local", region_name=region)
        cfn, iam = session.client("cloudformation"), session.client("iam")
        resources = []
        permissions: dict[str, str] = {}
        buses: set[str] = set()
        for page in cfn.get_paginator("list_stacks").paginate(
                StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]):
            for stack in page["StackSummaries"]:
                for rpage in cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"]):
                    resources += [(stack["StackName"], r) for r in rpage["StackResourceSummaries"]]
        for stack, r in resources:
            kind, physical = r["ResourceType"], r.get("PhysicalResourceId", "")
            where = f"{template_of(stack)}/{r['LogicalResourceId']}"
            found: list[dict] = []
            if kind == "AWS::IAM::Role":
                role = iam.get_role(RoleName=physical)["Role"]
                found += labelled(decode(role["AssumeRolePolicyDocument"]), f"trust {role['Arn']}")
                for name in iam.list_role_policies(RoleName=physical)["PolicyNames"]:
                    doc = decode(iam.get_role_policy(RoleName=physical, PolicyName=name)["PolicyDocument"])
                    found += labelled(doc, f"identity {role['Arn']} inline:{name}")
                for policy in iam.list_attached_role_policies(RoleName=physical)["AttachedPolicies"]:
                    if ":aws:policy/" in policy["PolicyArn"]:
                        continue
                    version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
                    doc = decode(iam.get_policy_version(PolicyArn=policy["PolicyArn"],
                                                        VersionId=version)["PolicyVersion"]["Document"])
                    found += labelled(doc, f"identity {role['Arn']} managed:{policy['PolicyArn']}")
            elif kind == "AWS::S3::BucketPolicy":
                doc = json.loads(session.client("s3").get_bucket_policy(Bucket=physical)["Policy"])
                found += labelled(doc, f"resource bucket:{physical}")
            elif kind == "AWS::KMS::Key":
                doc = json.loads(session.client("kms").get_key_policy(KeyId=physical, PolicyName="default")["Policy"])
                found += labelled(doc, f"resource key:{physical}")
            elif kind == "AWS::SNS::TopicPolicy":
                sns = session.client("sns")
                for topic in sns.list_topics()["Topics"]:
                    doc = json.loads(sns.get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]["Policy"])
                    if any(st.get("Sid", "").startswith("__default") for st in doc.get("Statement", [])):
                        continue
                    found += labelled(doc, f"resource topic:{topic['TopicArn']}")
            elif kind == "AWS::SQS::QueuePolicy":
                sqs = session.client("sqs")
                url = physical if physical.startswith("http") else None
                for queue in ([url] if url else sqs.list_queues().get("QueueUrls", [])):
                    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy", "QueueArn"])
                    if "Policy" in attrs["Attributes"]:
                        found += labelled(json.loads(attrs["Attributes"]["Policy"]),
                                          f"resource queue:{attrs['Attributes']['QueueArn']}")
            elif kind == "AWS::Lambda::Permission":
                permissions[physical] = where  # the statement id; its function is found below
            elif kind == "AWS::Events::EventBusPolicy":
                buses.add(physical)
            for entry in found:
                key = entry["label"]
                if key not in seen:
                    seen.add(key)
                    out.append({**entry, "stack": stack, "place": f"{account}/{region}", "type": kind,
                                "template_statement": f"{where}/{entry['label'].split(' ')[-1].split(':', 1)[0] if entry['label'].startswith('identity') else ''}#{entry['label'].rsplit('#', 1)[1]}"})
        lam = session.client("lambda")
        for page in lam.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                try:
                    policy = json.loads(lam.get_policy(FunctionName=function["FunctionName"])["Policy"])
                except lam.exceptions.ResourceNotFoundException:
                    continue
                for entry in labelled(policy, f"resource function:{function['FunctionName']}"):
                    sid = entry["statement"].get("Sid")
                    if sid in permissions and entry["label"] not in seen:
                        seen.add(entry["label"])
                        out.append({**entry, "place": f"{account}/{region}", "type": "AWS::Lambda::Permission",
                                    "template_statement": f"{permissions[sid]}/#permission"})
        if buses:
            events = session.client("events")
            for bus in events.list_event_buses()["EventBuses"]:
                if bus.get("Policy"):
                    for entry in labelled(json.loads(bus["Policy"]), f"resource bus:event-bus/{bus['Name']}"):
                        if entry["label"] not in seen:
                            seen.add(entry["label"])
                            out.append({**entry, "place": f"{account}/{region}", "type": "AWS::Events::EventBusPolicy",
                                        "template_statement": f"event-bus/{bus['Name']}/#{entry['label'].rsplit('#', 1)[1]}"})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", nargs="+", required=True, help="ACCOUNT/REGION pairs")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--statements", type=pathlib.Path,
                        help="also write every statement of the stacks' roles and resource policies here")
    args = parser.parse_args(argv)
    places = [tuple(p.split("/", 1)) for p in args.places]
    result = grants(places)  # type: ignore[arg-type]
    args.out.write_text(json.dumps(result, indent=2))
    print(f"grants of {len(result)} functions' roles written to {args.out}")
    if args.statements:
        statements = stack_statements(places)  # type: ignore[arg-type]
        args.statements.write_text(json.dumps(statements, indent=2))
        print(f"{len(statements)} policy statements of the stacks written to {args.statements}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
