"""Shared fixtures and helpers of the emulator tests.

The emulator runs as one subprocess per test session on a free port, as the
Rust test harness runs it; every test starts from ``POST /_emulator/reset``.
Test modules import the helpers with ``from conftest import ...``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
# The emulator lives at the top of the repository; tests that reach into its modules import them.
EMULATOR_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "emulator")
EMULATOR = os.path.join(EMULATOR_DIR, "emulator.py")
if EMULATOR_DIR not in sys.path:
    sys.path.insert(0, EMULATOR_DIR)
REGION = "us-east-1"
ACCOUNT = "123456789012"

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def start_emulator(*extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--port", "0", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("EMULATOR_READY port="):
        proc.kill()
        raise RuntimeError(f"no READY line: {line!r}")
    return proc, int(line.strip().split("=", 1)[1])


@pytest.fixture(scope="session")
def emulator():
    proc, port = start_emulator("--exit-on-stdin-eof")
    yield f"http://127.0.0.1:{port}"
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(autouse=True)
def reset(emulator):
    control(emulator, "POST", "/_emulator/reset")


def trust(service: str = "lambda.amazonaws.com") -> str:
    """A role trust policy letting `service` assume the role (IAM refuses "{}")."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def role_session(base: str, name: str, statements: list[dict], account: str = ACCOUNT,
                 region: str = REGION) -> boto3.Session:
    """A session of a new role in `account` whose only policy is `statements`, assumed by the
    account's administrator through sts:AssumeRole (the emulator authorizes its calls as that role)."""
    admin = boto3.Session(aws_access_key_id=account, aws_secret_access_key="x", region_name=region)
    iam = admin.client("iam", endpoint_url=base)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    creds = admin.client("sts", endpoint_url=base).assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def crawler_role(base: str, name: str, statements: list[dict], account: str = ACCOUNT,
                 service: str = "glue.amazonaws.com") -> str:
    """A new role in `account` that `service` may assume (Glue, for a crawler's `Role`), whose only
    policy is `statements`; its ARN. The emulator's crawl runs as this role."""
    admin = boto3.Session(aws_access_key_id=account, aws_secret_access_key="x", region_name=REGION)
    iam = admin.client("iam", endpoint_url=base)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="crawl", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    return arn


def control(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def seed(base: str, nodes: list[dict], region: str = REGION, account: str = ACCOUNT) -> list[str]:
    status, out = control(base, "POST", "/_emulator/managed-nodes",
                          {"account": account, "region": region, "nodes": nodes})
    assert status == 200, out
    return out["ids"]


def client(base: str, service: str, region: str = REGION, **config: Any):
    cfg = Config(retries={"total_max_attempts": 1}, **config)
    return boto3.client(service, endpoint_url=base, region_name=region,
                        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        config=cfg)


def unvalidated(base: str, service: str):
    """A client that sends out-of-range parameters instead of rejecting them."""
    return client(base, service, parameter_validation=False)


def error_of(exc: pytest.ExceptionInfo) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]
