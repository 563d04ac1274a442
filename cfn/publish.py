"""Publishes the Lambda artifacts where the templates look for them.

A StackSet deploys its functions in every target Region, and Lambda reads a function's code only
from a bucket in the function's own Region. So each Region gets a bucket named
``<prefix>-<region>``, and every zip from ``make build`` goes to
``patch-compliance/<version>/<function>.zip`` in each of them. The templates take the prefix
(``ArtifactBucketPrefix``) and the version (``ArtifactVersion``) as parameters.

A missing bucket is created with versioning, default encryption, the public-access block, a
TLS-only policy and, when ``--org-id`` is given, read access for every account of the
organization (``aws:PrincipalOrgID``), which is what the StackSet's member accounts need. An
existing bucket is used as it is; one owned by another account is an error.

    make publish REGIONS="us-east-1 eu-west-1" ARTIFACT_BUCKET_PREFIX=acme-patch-artifacts ORG_ID=o-abc123

Credentials and the endpoint come from the standard AWS environment (``AWS_PROFILE``,
``AWS_ENDPOINT_URL`` for a local emulator, ...).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import re
import subprocess
import sys

import boto3
from botocore.exceptions import ClientError

KEY_PREFIX = "patch-compliance"
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")
# The templates' AllowedPattern of OrganizationId, ArtifactBucketPrefix and ArtifactVersion: what
# is published here must be what a stack can then be given.
ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,40}[a-z0-9]$")
VERSION_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PublishError(Exception):
    """A problem the person running the command can fix; the message says how."""


def default_version(root: pathlib.Path) -> str:
    """``<crate version>-<short commit>``, with ``-dirty`` when the work tree has changes."""
    cargo = (root / "Cargo.toml").read_text()
    match = re.search(r'^\s*version\s*=\s*"([^"]+)"', cargo, re.M)
    version = match.group(1) if match else "0.0.0"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return version
    return f"{version}-{commit}{'-dirty' if dirty else ''}"


def artifacts(dist: pathlib.Path) -> dict[str, pathlib.Path]:
    """Function name → its zip."""
    found = {p.parent.name: p for p in sorted(dist.glob("*/bootstrap.zip"))}
    if not found:
        raise PublishError(f"no {dist}/<function>/bootstrap.zip: run `make build` first")
    return found


def bucket_policy(bucket: str, partition: str, org_id: str | None) -> dict:
    arn = f"arn:{partition}:s3:::{bucket}"
    statements = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]
    if org_id:
        statements.append({
            "Sid": "OrganizationReadsArtifacts", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": f"{arn}/{KEY_PREFIX}/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
        })
    return {"Version": "2012-10-17", "Statement": statements}


def ensure_bucket(s3, bucket: str, region: str, org_id: str | None) -> bool:
    """Creates the bucket when missing; True when it was created."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise PublishError(f"bucket {bucket} exists but this account may not use it (another account "
                               "owns it?): choose another ARTIFACT_BUCKET_PREFIX") from None
        if status != 404:
            raise
    create = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy(bucket, s3.meta.partition, org_id)))
    return True


def publish(regions: list[str], prefix: str, version: str, dist: pathlib.Path,
            org_id: str | None, session=None) -> list[dict]:
    """Uploads every artifact to every Region's bucket; returns what it did, one entry per object."""
    for region in regions:
        if not REGION_RE.match(region):
            raise PublishError(f"{region!r} is not a Region name such as eu-west-1 (REGIONS)")
    if not regions:
        raise PublishError('name at least one Region: REGIONS="us-east-1 eu-west-1"')
    if not PREFIX_RE.match(prefix or ""):
        raise PublishError(f"ARTIFACT_BUCKET_PREFIX {prefix!r} must be 3 to 42 lowercase letters, digits, "
                           "'.' or '-', starting and ending with a letter or digit (the bucket names are "
                           "<prefix>-<region>)")
    if not VERSION_RE.match(version):
        raise PublishError(f"version {version!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    if org_id is not None and not ORG_RE.match(org_id):
        raise PublishError(f"ORG_ID {org_id!r} is not an organization id such as o-a1b2c3d4e5")
    # Read and hashed once, uploaded to every Region.
    bodies = {function: path.read_bytes() for function, path in artifacts(dist).items()}
    digests = {function: hashlib.sha256(body).hexdigest() for function, body in bodies.items()}
    session = session or boto3.session.Session()
    done = []
    for region in regions:
        s3 = session.client("s3", region_name=region)
        bucket = f"{prefix}-{region}"
        created = ensure_bucket(s3, bucket, region, org_id)
        for function, body in bodies.items():
            key = f"{KEY_PREFIX}/{version}/{function}.zip"
            s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digests[function]})
            done.append({"region": region, "bucket": bucket, "key": key, "bytes": len(body),
                         "bucket_created": created})
    return done


def main(argv: list[str] | None = None) -> int:
    root = pathlib.Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", required=True, help='space- or comma-separated, e.g. "us-east-1 eu-west-1"')
    parser.add_argument("--bucket-prefix", required=True, help="buckets are <prefix>-<region>")
    parser.add_argument("--version", default=None, help="default: <crate version>-<commit>")
    parser.add_argument("--dist", default=str(root / "dist" / "lambda"))
    parser.add_argument("--org-id", default=None, help="grant the organization read access")
    args = parser.parse_args(argv)
    regions = [r for r in re.split(r"[\s,]+", args.regions) if r]
    version = args.version or default_version(root)
    try:
        done = publish(regions, args.bucket_prefix, version, pathlib.Path(args.dist),
                       args.org_id or None)
    except PublishError as e:
        print(f"publish: {e}", file=sys.stderr)
        return 2
    for d in done:
        print(f"s3://{d['bucket']}/{d['key']}  {d['bytes']} bytes"
              f"{'  (bucket created)' if d['bucket_created'] else ''}")
    print(f"\nArtifactBucketPrefix={args.bucket_prefix}  ArtifactVersion={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
