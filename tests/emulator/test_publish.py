"""`make publish` (cfn/publish.py) against the emulator's S3: buckets per Region created with the
organization read policy, every zip under the versioned key, an existing bucket reused, and bad
input refused before any call.

    .venv/bin/python -m pytest tests/emulator/test_publish.py -q
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import boto3
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "cfn"))
import publish  # noqa: E402

from conftest import control  # noqa: E402


@pytest.fixture
def dist(tmp_path: pathlib.Path) -> pathlib.Path:
    for function in ("org-data-sync", "ec2-os-tagger"):
        (tmp_path / function).mkdir()
        (tmp_path / function / "bootstrap.zip").write_bytes(f"zip of {function}".encode())
    return tmp_path


@pytest.fixture
def session(emulator, monkeypatch) -> boto3.session.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.session.Session()


def test_publishes_every_artifact_to_every_region(session, dist, emulator) -> None:
    done = publish.publish(["us-east-1", "eu-west-1"], "acme-artifacts", "0.1.0-abc", dist, "o-a1b2c3d4e5",
                           session=session)
    assert {(d["bucket"], d["key"]) for d in done} == {
        (f"acme-artifacts-{r}", f"patch-compliance/0.1.0-abc/{f}.zip")
        for r in ("us-east-1", "eu-west-1") for f in ("org-data-sync", "ec2-os-tagger")}
    s3 = session.client("s3", region_name="eu-west-1")
    body = s3.get_object(Bucket="acme-artifacts-eu-west-1",
                         Key="patch-compliance/0.1.0-abc/org-data-sync.zip")["Body"].read()
    assert body == b"zip of org-data-sync"
    assert s3.get_bucket_location(Bucket="acme-artifacts-eu-west-1")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_versioning(Bucket="acme-artifacts-eu-west-1")["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket="acme-artifacts-eu-west-1")["Policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "OrganizationReadsArtifacts")
    assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    assert read["Resource"] == "arn:aws:s3:::acme-artifacts-eu-west-1/patch-compliance/*"
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = s3.get_public_access_block(Bucket="acme-artifacts-eu-west-1")["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                  "RestrictPublicBuckets"))
    sse = s3.get_bucket_encryption(Bucket="acme-artifacts-eu-west-1")["ServerSideEncryptionConfiguration"]
    assert sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    head = s3.head_object(Bucket="acme-artifacts-eu-west-1", Key="patch-compliance/0.1.0-abc/org-data-sync.zip")
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"zip of org-data-sync").hexdigest()

    # Publishing again (a new version) reuses the buckets.
    again = publish.publish(["eu-west-1"], "acme-artifacts", "0.1.1", dist, None, session=session)
    assert not any(d["bucket_created"] for d in again)


@pytest.mark.parametrize("args,message", [
    ((["eu-west"], "acme", "1", None), "is not a Region name"),
    (([], "acme", "1", None), "at least one Region"),
    ((["eu-west-1"], "Acme_Artifacts", "1", None), "ARTIFACT_BUCKET_PREFIX"),
    # The templates' ArtifactBucketPrefix pattern: 3 to 42 characters, ending with a letter or digit.
    ((["eu-west-1"], "ab", "1", None), "ARTIFACT_BUCKET_PREFIX"),
    ((["eu-west-1"], "acme-", "1", None), "ARTIFACT_BUCKET_PREFIX"),
    ((["eu-west-1"], "acme", "1/2", None), "version"),
    ((["eu-west-1"], "acme", "1", "org-1"), "ORG_ID"),
])
def test_bad_input_is_refused_before_any_call(session, dist, emulator, args, message) -> None:
    control(emulator, "DELETE", "/_emulator/calls")
    regions, prefix, version, org_id = args
    with pytest.raises(publish.PublishError, match=message):
        publish.publish(regions, prefix, version, dist, org_id, session=session)
    assert control(emulator, "GET", "/_emulator/calls")[1]["calls"] == []


def test_longest_prefix_the_templates_accept_is_published(session, dist) -> None:
    prefix = "a" * 42
    done = publish.publish(["ap-southeast-2"], prefix, "1", dist, None, session=session)
    assert {d["bucket"] for d in done} == {f"{prefix}-ap-southeast-2"}


def test_missing_artifacts_say_make_build(session, tmp_path) -> None:
    with pytest.raises(publish.PublishError, match="make build"):
        publish.publish(["eu-west-1"], "acme", "1", tmp_path, None, session=session)


def test_default_version_names_the_commit() -> None:
    version = publish.default_version(pathlib.Path(__file__).resolve().parents[2])
    assert version.startswith("0.1.0-") and len(version) >= len("0.1.0-") + 12
