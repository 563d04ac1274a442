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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", nargs="+", required=True, help="ACCOUNT/REGION pairs")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)
    places = [tuple(p.split("/", 1)) for p in args.places]
    result = grants(places)  # type: ignore[arg-type]
    args.out.write_text(json.dumps(result, indent=2))
    print(f"grants of {len(result)} functions' roles written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
