"""`make publish` (cfn/publish.py) against the emulator's S3: buckets per Region created with the
organization read policy, every zip under the versioned key, an existing bucket reused (and refused
when its policy does not let the organization read the artifacts), a published version never
overwritten, a dirty work tree needing an explicit version, and bad input refused before any call.

    .venv/bin/python -m pytest tests/emulator/test_publish.py -q
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import subprocess
import sys

import boto3
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "cfn"))
import publish  # noqa: E402

from conftest import control  # noqa: E402

ORG = "o-a1b2c3d4e5"


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


def writes(emulator: str) -> list[str]:
    """The calls since the last reset of the call log that were not reads."""
    calls = control(emulator, "GET", "/_emulator/calls")[1]["calls"]
    return [c["operation"] for c in calls if not c["operation"].startswith(("Head", "Get", "List"))]


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


def test_publishing_the_same_version_again_leaves_it_unchanged(session, dist, emulator) -> None:
    first = publish.publish(["us-east-1", "eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    assert not any(d["unchanged"] for d in first)
    control(emulator, "DELETE", "/_emulator/calls")
    again = publish.publish(["us-east-1", "eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    # The buckets publish.py created pass its own policy check; nothing is written again.
    assert all(d["unchanged"] and not d["bucket_created"] for d in again) and len(again) == 4
    assert writes(emulator) == []


def test_an_object_put_by_hand_is_compared_by_its_etag(session, dist, emulator) -> None:
    s3 = session.client("s3", region_name="eu-west-1")
    publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, None, session=session)
    key = "patch-compliance/2/org-data-sync.zip"
    # No sha256 metadata: a single-part upload's ETag is the MD5 of the data.
    s3.put_object(Bucket="acme-artifacts-eu-west-1", Key=key, Body=b"zip of org-data-sync")
    done = publish.publish(["eu-west-1"], "acme-artifacts", "2", dist, None, session=session)
    assert {d["key"]: d["unchanged"] for d in done} == {
        key: True, "patch-compliance/2/ec2-os-tagger.zip": False}

    s3.put_object(Bucket="acme-artifacts-eu-west-1", Key="patch-compliance/3/org-data-sync.zip",
                  Body=b"other")
    with pytest.raises(publish.PublishError, match="patch-compliance/3/org-data-sync.zip"):
        publish.publish(["eu-west-1"], "acme-artifacts", "3", dist, None, session=session)


def test_a_published_version_is_never_overwritten_in_any_region(session, dist, emulator) -> None:
    publish.publish(["eu-west-1"], "acme-artifacts", "1.0", dist, ORG, session=session)
    (dist / "ec2-os-tagger" / "bootstrap.zip").write_bytes(b"rebuilt ec2-os-tagger")
    control(emulator, "DELETE", "/_emulator/calls")
    # us-east-1 has nothing yet and comes first: it must not be published either.
    with pytest.raises(publish.PublishError) as err:
        publish.publish(["us-east-1", "eu-west-1"], "acme-artifacts", "1.0", dist, ORG, session=session)
    message = str(err.value)
    assert "s3://acme-artifacts-eu-west-1/patch-compliance/1.0/ec2-os-tagger.zip" in message
    assert "org-data-sync" not in message  # same content: not a conflict
    assert "S3Key" in message and "VERSION=" in message
    assert writes(emulator) == []
    s3 = session.client("s3", region_name="eu-west-1")
    body = s3.get_object(Bucket="acme-artifacts-eu-west-1",
                         Key="patch-compliance/1.0/ec2-os-tagger.zip")["Body"].read()
    assert body == b"zip of ec2-os-tagger"
    assert "acme-artifacts-us-east-1" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def _existing_bucket(session, policy: dict | None) -> str:
    s3 = session.client("s3", region_name="eu-west-1")
    bucket = "acme-artifacts-eu-west-1"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    if policy is not None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


def _statement(**changes) -> dict:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::acme-artifacts-eu-west-1/*",
                 "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}
    statement.update(changes)
    return {k: v for k, v in statement.items() if v is not None}


@pytest.mark.parametrize("policy", [
    None,
    {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": "arn:aws:s3:::acme-artifacts-eu-west-1/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
    {"Version": "2012-10-17", "Statement": [
        _statement(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}})]},
    {"Version": "2012-10-17", "Statement": [_statement(Condition=None)]},
    {"Version": "2012-10-17", "Statement": [_statement(Action="s3:PutObject")]},
    {"Version": "2012-10-17", "Statement": [_statement(Principal={"AWS": "arn:aws:iam::123456789012:root"})]},
    {"Version": "2012-10-17", "Statement": [_statement(Resource="arn:aws:s3:::acme-artifacts-eu-west-1/other/*")]},
    {"Version": "2012-10-17", "Statement": [_statement(Resource="arn:aws:s3:::acme-artifacts-eu-west-1")]},
], ids=["no-policy", "tls-only", "other-org", "no-condition", "put-only", "one-account", "other-prefix",
        "bucket-not-objects"])
def test_an_existing_bucket_without_the_org_read_policy_is_refused(session, dist, emulator, policy) -> None:
    bucket = _existing_bucket(session, policy)
    control(emulator, "DELETE", "/_emulator/calls")
    with pytest.raises(publish.PublishError) as err:
        publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    message = str(err.value)
    assert bucket in message
    statement = json.loads(message[message.index("\n{"):])
    assert statement == publish.org_read_statement(bucket, "aws", ORG) == {
        "Sid": "OrganizationReadsArtifacts", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/patch-compliance/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}}
    # Nothing uploaded, and the owner's policy left as it was.
    assert writes(emulator) == []
    s3 = session.client("s3", region_name="eu-west-1")
    if policy is None:
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=bucket)
    else:
        assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy

    # The statement it prints, added as told, is enough.
    doc = policy or {"Version": "2012-10-17", "Statement": []}
    doc["Statement"].append(statement)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc))
    done = publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    assert len(done) == 2 and not any(d["bucket_created"] or d["unchanged"] for d in done)


@pytest.mark.parametrize("statement", [
    _statement(),
    _statement(Principal={"AWS": "*"}, Action=["s3:GetObjectVersion", "s3:GetObject*"],
               Condition={"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ["o-zzzzzzzzzz", ORG]}}),
    _statement(Action="s3:*", Resource=["arn:aws:s3:::acme-artifacts-eu-west-1",
                                        "arn:aws:s3:::acme-artifacts-eu-west-1/patch-compliance/*"]),
    _statement(Resource="arn:aws:s3:::acme-artifacts-*/*"),
], ids=["plain", "aws-star-any-value", "s3-star-prefix", "covering-pattern"])
def test_an_existing_bucket_with_the_org_read_policy_is_used(session, dist, emulator, statement) -> None:
    bucket = _existing_bucket(session, {"Version": "2012-10-17", "Statement": [statement]})
    done = publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    assert {d["bucket"] for d in done} == {bucket} and not any(d["bucket_created"] for d in done)
    s3 = session.client("s3", region_name="eu-west-1")
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"] == [statement]


def test_without_org_id_a_warning_says_member_accounts_cannot_read(session, dist, capsys) -> None:
    publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, None, session=session)
    err = capsys.readouterr().err
    assert "warning" in err and "member accounts" in err and "bucket policy" in err
    # The bucket it created has no organization read statement: that is what the warning is about.
    with pytest.raises(publish.PublishError, match="does not let the accounts of organization"):
        publish.publish(["eu-west-1"], "acme-artifacts", "2", dist, ORG, session=session)
    publish.publish(["eu-west-1"], "acme-org-artifacts", "1", dist, ORG, session=session)
    assert "warning" not in capsys.readouterr().err


@pytest.fixture
def git(monkeypatch) -> dict:
    """Fakes the two git commands of default_version; ``state["dirty"]`` is what `git status` says."""
    state = {"dirty": ""}
    real = subprocess.run

    def run(args, **kwargs):
        if args[:2] == ["git", "rev-parse"]:
            return subprocess.CompletedProcess(args, 0, stdout="0123456789ab\n", stderr="")
        if args[:2] == ["git", "status"]:
            return subprocess.CompletedProcess(args, 0, stdout=state["dirty"], stderr="")
        return real(args, **kwargs)

    monkeypatch.setattr(publish.subprocess, "run", run)
    return state


def test_default_version_names_the_commit(git) -> None:
    root = pathlib.Path(__file__).resolve().parents[2]
    crate = re.search(r'^\s*version\s*=\s*"([^"]+)"', (root / "Cargo.toml").read_text(), re.M).group(1)
    assert publish.default_version(root) == f"{crate}-0123456789ab"


def test_a_dirty_work_tree_needs_an_explicit_version(git, session, dist, emulator, capsys) -> None:
    git["dirty"] = " M crates/org-data-sync/src/main.rs\n"
    root = pathlib.Path(__file__).resolve().parents[2]
    with pytest.raises(publish.PublishError, match="commit .*VERSION="):
        publish.default_version(root)
    control(emulator, "DELETE", "/_emulator/calls")
    args = ["--regions", "eu-west-1", "--bucket-prefix", "acme-artifacts", "--dist", str(dist)]
    assert publish.main(args) == 2
    assert "VERSION=" in capsys.readouterr().err
    assert control(emulator, "GET", "/_emulator/calls")[1]["calls"] == []

    # An explicit version is the caller's choice, dirty or not.
    assert publish.main([*args, "--version", "1.2.3-hotfix", "--org-id", ORG]) == 0
    out = capsys.readouterr().out
    assert "s3://acme-artifacts-eu-west-1/patch-compliance/1.2.3-hotfix/org-data-sync.zip" in out
    assert "ArtifactVersion=1.2.3-hotfix" in out
    assert publish.main([*args, "--version", "1.2.3-hotfix", "--org-id", ORG]) == 0
    assert "(unchanged)" in capsys.readouterr().out


def test_a_bucket_of_that_name_owned_by_another_account_is_refused(session, dist, emulator) -> None:
    # Bucket names are global: another account can hold <prefix>-<region>, and may even let anyone
    # write into it. Every call names this account as the expected owner, so nothing is uploaded
    # there ("Verifying bucket ownership with bucket owner condition").
    other = boto3.client("s3", region_name="eu-west-1", endpoint_url=emulator, aws_access_key_id="444455556666",
                         aws_secret_access_key="x")
    other.create_bucket(Bucket="acme-artifacts-eu-west-1",
                        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    other.put_bucket_policy(Bucket="acme-artifacts-eu-west-1", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                "Resource": ["arn:aws:s3:::acme-artifacts-eu-west-1",
                                                             "arn:aws:s3:::acme-artifacts-eu-west-1/*"]}]}))
    control(emulator, "DELETE", "/_emulator/calls")
    with pytest.raises(publish.PublishError, match="not this account's"):
        publish.publish(["eu-west-1"], "acme-artifacts", "1", dist, ORG, session=session)
    assert writes(emulator) == []
    assert "Contents" not in other.list_objects_v2(Bucket="acme-artifacts-eu-west-1")
