"""Publishes the Lambda artifacts where the templates look for them.

A StackSet deploys its functions in every target Region, and Lambda reads a function's code only
from a bucket in the function's own Region. So each Region gets a bucket named
``<prefix>-<region>``, and every zip from ``make build`` goes to
``patch-compliance/<version>/<function>.zip`` in each of them. The templates take the prefix
(``ArtifactBucketPrefix``) and the version (``ArtifactVersion``) as parameters.

A missing bucket is created with versioning, default encryption, the public-access block, a
TLS-only policy and, when ``--org-id`` is given, read access for every account of the
organization (``aws:PrincipalOrgID``), which is what the StackSet's member accounts need. An
existing bucket is used as it is (its policy is never changed); one owned by another account is an
error, and so is one whose policy does not let the organization read the artifacts when
``--org-id`` is given (the message has the statement to add).

A published version is never overwritten: an artifact already at its key with the same content is
left alone ("unchanged"), one with different content stops the run before anything is uploaded
anywhere, since stacks would not pick it up (publish a new version instead). The default version
``<crate version>-<commit>`` needs a clean work tree; with uncommitted changes, commit or choose
one with ``VERSION=...``.

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
ORG_READ_SID = "OrganizationReadsArtifacts"
# The condition operators under which aws:PrincipalOrgID = <org> grants the organization (lowercase).
ORG_OPERATORS = ("stringequals", "foranyvalue:stringequals")


class PublishError(Exception):
    """A problem the person running the command can fix; the message says how."""


def default_version(root: pathlib.Path) -> str:
    """``<crate version>-<short commit>``; refused when the work tree has uncommitted changes.

    A version names what was built: ``<commit>`` plus uncommitted changes names nothing that can be
    rebuilt, and two different dirty builds would get the same name (and the second would be
    refused as a conflicting artifact, see ``publish``). An explicit ``--version`` is the caller's
    choice and is not checked here.
    """
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
    if dirty:
        raise PublishError(f"the work tree has uncommitted changes, so {version}-{commit} would not name "
                           "what is built: commit them, or choose the version yourself with VERSION=... "
                           "(make publish VERSION=..., or --version)")
    return f"{version}-{commit}"


def artifacts(dist: pathlib.Path) -> dict[str, pathlib.Path]:
    """Function name → its zip."""
    found = {p.parent.name: p for p in sorted(dist.glob("*/bootstrap.zip"))}
    if not found:
        raise PublishError(f"no {dist}/<function>/bootstrap.zip: run `make build` first")
    return found


def org_read_statement(bucket: str, partition: str, org_id: str) -> dict:
    """Every account of the organization may read the artifacts (and nothing else).

    ``aws:PrincipalOrgID`` is the organization of the calling principal ("AWS global condition
    context keys", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
    so new member accounts are covered without editing the policy. A StackSet instance's Lambda
    CreateFunction reads the zip with the member account's credentials.
    """
    return {
        "Sid": ORG_READ_SID, "Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": f"arn:{partition}:s3:::{bucket}/{KEY_PREFIX}/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
    }


def bucket_policy(bucket: str, partition: str, org_id: str | None) -> dict:
    arn = f"arn:{partition}:s3:::{bucket}"
    statements = [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]
    if org_id:
        statements.append(org_read_statement(bucket, partition, org_id))
    return {"Version": "2012-10-17", "Statement": statements}


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's matching: ``*`` any run of characters, ``?`` one character, nothing else special."""
    if not isinstance(pattern, str):
        return False
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S | (re.I if ignore_case else 0)) is not None


def grants_org_read(policy: dict | None, objects: list[str], org_id: str) -> bool:
    """Whether some Allow statement of ``policy`` lets every account of ``org_id`` GetObject each of
    ``objects`` (ARNs): Principal ``*`` or ``{"AWS": "*"}``, an action matching ``s3:GetObject``
    (``s3:GetObject*``, ``s3:*``...), resources covering every object, and ``aws:PrincipalOrgID``
    equal to the organization under ``StringEquals`` or ``ForAnyValue:StringEquals``.

    Deliberately narrow: statements with NotPrincipal/NotAction/NotResource are not credited, and
    Deny statements are not evaluated (the owner's own restrictions are the owner's business).
    """
    if not policy:
        return False
    for s in _list(policy.get("Statement") or []):
        if not isinstance(s, dict) or s.get("Effect") != "Allow":
            continue
        if any(k in s for k in ("NotPrincipal", "NotAction", "NotResource")):
            continue
        principal = s.get("Principal")
        if not (principal == "*" or (isinstance(principal, dict) and "*" in _list(principal.get("AWS")))):
            continue
        if not any(_wildcard(a, "s3:GetObject", ignore_case=True) for a in _list(s.get("Action") or [])):
            continue
        resources = _list(s.get("Resource") or [])
        if not all(any(_wildcard(r, o) for r in resources) for o in objects):
            continue
        # Operators and condition keys are matched without regard to case, as IAM does for keys.
        for operator, keys in (s.get("Condition") or {}).items():
            if operator.lower() not in ORG_OPERATORS or not isinstance(keys, dict):
                continue
            if any(key.lower() == "aws:principalorgid" and org_id in _list(values)
                   for key, values in keys.items()):
                return True
    return False


def bucket_exists(s3, bucket: str, owner: str) -> bool:
    """Whether the bucket exists and is `owner`'s: every call names the expected owner, so a bucket
    of that name in another account is refused ("If the parameter doesn't match the bucket owner's
    account ID, the request fails with an Access Denied error", S3 User Guide, "Verifying bucket
    ownership with bucket owner condition") instead of receiving our artifacts."""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
        return True
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise PublishError(f"bucket {bucket} exists but is not this account's ({owner}) or this account may "
                               "not use it: bucket names are global, so another account may own it. Choose another "
                               "ARTIFACT_BUCKET_PREFIX") from None
        if status != 404:
            raise
        return False


def read_policy(s3, bucket: str, owner: str) -> dict | None:
    """The bucket's policy, None when it has none."""
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)["Policy"])
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
            raise PublishError(f"may not read the policy of bucket {bucket} (s3:GetBucketPolicy), so cannot "
                               "check that member accounts may read the artifacts: grant it, or publish "
                               "without ORG_ID if no StackSet uses this bucket") from None
        raise


def head_artifact(s3, bucket: str, key: str, owner: str) -> dict | None:
    """HeadObject of a published artifact, None when there is none."""
    try:
        return s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            return None
        if status == 403:
            # Without s3:ListBucket, S3 answers a HeadObject of a missing key with 403, not 404
            # ("HeadObject", Amazon S3 API Reference,
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
            raise PublishError(f"may not read s3://{bucket}/{key} to check whether it is already published: "
                               "grant s3:GetObject on the objects and s3:ListBucket on the bucket") from None
        raise


def same_content(head: dict, body: bytes, sha256: str) -> bool:
    """Whether the object HeadObject describes holds ``body``.

    The ``sha256`` metadata this script stores on upload decides; without it (an object put by
    hand), the ETag, which is the MD5 of the data for a single-part upload stored plain or with
    SSE-S3 (the default encryption of the buckets created here). A multipart ETag (``<md5>-<parts>``)
    or an SSE-KMS one cannot be compared and counts as different: better a new version than code
    that may not be what was built.
    """
    stored = (head.get("Metadata") or {}).get("sha256")
    if stored:
        return stored == sha256
    etag = (head.get("ETag") or "").strip('"')
    return "-" not in etag and etag == hashlib.md5(body).hexdigest()


def create_bucket(s3, bucket: str, region: str, org_id: str | None, owner: str) -> None:
    create = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(Bucket=bucket, ExpectedBucketOwner=owner, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=owner,
                             VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=bucket, ExpectedBucketOwner=owner, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner,
                         Policy=json.dumps(bucket_policy(bucket, s3.meta.partition, org_id)))


def publish(regions: list[str], prefix: str, version: str, dist: pathlib.Path,
            org_id: str | None, session=None) -> list[dict]:
    """Uploads every artifact to every Region's bucket; returns what it did, one entry per object.

    Everything is checked in every Region first (buckets, their policy, what is already at the
    keys); only then are buckets created and zips uploaded, so a refusal leaves nothing
    half-published.
    """
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
    regions = list(dict.fromkeys(regions))
    # Read and hashed once, uploaded to every Region.
    bodies = {function: path.read_bytes() for function, path in artifacts(dist).items()}
    digests = {function: hashlib.sha256(body).hexdigest() for function, body in bodies.items()}
    keys = {function: f"{KEY_PREFIX}/{version}/{function}.zip" for function in bodies}
    session = session or boto3.session.Session()
    if not org_id:
        print(f"publish: warning: no ORG_ID (--org-id): member accounts of StackSets will not be able to "
              f"read the artifacts unless the bucket policy of {prefix}-<region> allows them "
              "(aws:PrincipalOrgID)", file=sys.stderr)

    # 1. Check every Region; nothing is written.
    owner = session.client("sts", region_name=regions[0]).get_caller_identity()["Account"]
    plans, unreadable, conflicts = [], [], []
    for region in regions:
        s3 = session.client("s3", region_name=region)
        bucket = f"{prefix}-{region}"
        exists = bucket_exists(s3, bucket, owner)
        unchanged = set()
        if exists:
            partition = s3.meta.partition
            if org_id and not grants_org_read(read_policy(s3, bucket, owner),
                                              [f"arn:{partition}:s3:::{bucket}/{k}" for k in keys.values()],
                                              org_id):
                unreadable.append((bucket, org_read_statement(bucket, partition, org_id)))
            for function, key in keys.items():
                head = head_artifact(s3, bucket, key, owner)
                if head is None:
                    continue
                if same_content(head, bodies[function], digests[function]):
                    unchanged.add(function)
                else:
                    conflicts.append(f"s3://{bucket}/{key}")
        plans.append((region, s3, bucket, exists, unchanged))

    problems = []
    for bucket, statement in unreadable:
        # An existing bucket is not ours to change: it may hold other things, under a policy its
        # owner manages (perhaps with CloudFormation, which would revert an edit).
        problems.append(
            f"bucket {bucket} exists but its policy does not let the accounts of organization {org_id} "
            "read the artifacts (s3:GetObject with aws:PrincipalOrgID), so creating the Lambda functions "
            "would fail in every StackSet member account. publish.py does not change the policy of a "
            "bucket it did not create: have its owner add this statement to the bucket policy's "
            "\"Statement\" list (a bucket without a policy: {\"Version\": \"2012-10-17\", \"Statement\": "
            "[<statement>]}), then publish again:\n" + json.dumps(statement, indent=2))
    if conflicts:
        # CloudFormation updates a function's code only when Code.S3Key or S3ObjectVersion changes:
        # "Changes to a deployment package in Amazon S3 ... are not detected automatically during
        # stack updates. To update the function code, change the object key or version in the
        # template." ("AWS::Lambda::Function Code", AWS CloudFormation template reference,
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
        # Overwriting a version would leave existing stacks on the old code and give new stack
        # instances the new one, under the same ArtifactVersion.
        problems.append(
            f"version {version} is already published with different content (or content that cannot be "
            f"compared) at: {', '.join(conflicts)}. Published versions are never overwritten: "
            "CloudFormation redeploys a function's code only when its S3Key changes, so stacks already "
            f"on {version} would keep the old code. Publish a new version (VERSION=... make publish, "
            "or --version) and pass it as ArtifactVersion. Nothing was uploaded.")
    if problems:
        raise PublishError("\n\n".join(problems))

    # 2. Create what is missing and upload what is not there yet.
    done = []
    for region, s3, bucket, exists, unchanged in plans:
        if not exists:
            create_bucket(s3, bucket, region, org_id, owner)
        for function, body in bodies.items():
            key = keys[function]
            if function not in unchanged:
                s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digests[function]},
                              ExpectedBucketOwner=owner)
            done.append({"region": region, "bucket": bucket, "key": key, "bytes": len(body),
                         "bucket_created": not exists, "unchanged": function in unchanged})
    return done


def main(argv: list[str] | None = None) -> int:
    root = pathlib.Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", required=True, help='space- or comma-separated, e.g. "us-east-1 eu-west-1"')
    parser.add_argument("--bucket-prefix", required=True, help="buckets are <prefix>-<region>")
    parser.add_argument("--version", default=None,
                        help="default: <crate version>-<commit>, which needs a clean work tree")
    parser.add_argument("--dist", default=str(root / "dist" / "lambda"))
    parser.add_argument("--org-id", default=None, help="grant the organization read access")
    args = parser.parse_args(argv)
    regions = [r for r in re.split(r"[\s,]+", args.regions) if r]
    try:
        version = args.version or default_version(root)
        done = publish(regions, args.bucket_prefix, version, pathlib.Path(args.dist),
                       args.org_id or None)
    except PublishError as e:
        print(f"publish: {e}", file=sys.stderr)
        return 2
    for d in done:
        note = "  (unchanged)" if d["unchanged"] else f"  {d['bytes']} bytes"
        print(f"s3://{d['bucket']}/{d['key']}{note}{'  (bucket created)' if d['bucket_created'] else ''}")
    print(f"\nArtifactBucketPrefix={args.bucket_prefix}  ArtifactVersion={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
