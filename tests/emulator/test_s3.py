"""Tests of the emulator's S3 (moto + emu_s3.py), as the ``s3-cleanup`` custom
resource uses it: ListObjectVersions paging, DeleteObjects with VersionIds,
multipart uploads, for versioned / suspended / unversioned buckets; bulk
seeding and per-key DeleteObjects faults.

    .venv/bin/python -m pytest tests/emulator/test_s3.py -q
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, client, control, error_of


def s3(emulator):
    return client(emulator, "s3", s3={"addressing_style": "path"})


def versioned(c, bucket="vbucket", status="Enabled"):
    c.create_bucket(Bucket=bucket)
    c.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    return bucket


def all_versions(c, bucket, max_keys=1000):
    """Every (key, version, is_latest, is_marker) paging like s3-cleanup, and the page count."""
    out, kw, pages = [], {}, 0
    while True:
        r = c.list_object_versions(Bucket=bucket, MaxKeys=max_keys, **kw)
        pages += 1
        items = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
        items += [(d["Key"], d["VersionId"], d["IsLatest"], True) for d in r.get("DeleteMarkers", [])]
        out += sorted(items, key=lambda t: t[0])  # both lists are in key order
        assert len(items) <= max_keys
        if not r["IsTruncated"]:
            assert "NextKeyMarker" not in r
            return out, pages
        kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}


def test_versions_paging_newest_first_with_markers(emulator):
    c = s3(emulator)
    b = versioned(c)
    ids = {}
    for k in ("a", "b", "c"):
        ids[k] = [c.put_object(Bucket=b, Key=k, Body=b"x")["VersionId"] for _ in range(3)]
    dm = c.delete_object(Bucket=b, Key="b")["VersionId"]
    r = c.list_object_versions(Bucket=b)
    assert r["MaxKeys"] == 1000 and r["IsTruncated"] is False
    out, pages = all_versions(c, b, max_keys=2)
    assert pages == 5
    assert [(k, v) for k, v, _, _ in out if k == "a"] == [("a", v) for v in reversed(ids["a"])]
    b_items = [t for t in out if t[0] == "b"]
    assert b_items[0] == ("b", dm, True, True)
    assert [t[1] for t in b_items[1:]] == list(reversed(ids["b"])) and not any(t[2] for t in b_items[1:])
    assert len(out) == 10
    first = c.list_object_versions(Bucket=b, MaxKeys=4)
    assert first["IsTruncated"] and first["NextKeyMarker"] == "b" and first["NextVersionIdMarker"] == dm


def test_key_marker_alone_starts_after_that_key(emulator):
    c = s3(emulator)
    b = versioned(c)
    for k in ("a", "b", "c"):
        c.put_object(Bucket=b, Key=k, Body=b"x")
    r = c.list_object_versions(Bucket=b, KeyMarker="a")
    assert [v["Key"] for v in r["Versions"]] == ["b", "c"]
    r = c.list_object_versions(Bucket=b, Prefix="c")
    assert [v["Key"] for v in r["Versions"]] == ["c"]


def test_unversioned_bucket_reports_null_and_deletes(emulator):
    c = s3(emulator)
    c.create_bucket(Bucket="plain")
    c.put_object(Bucket="plain", Key="x", Body=b"1")
    assert "Status" not in c.get_bucket_versioning(Bucket="plain")
    r = c.list_object_versions(Bucket="plain")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [("x", "null", True)]
    out = c.delete_objects(Bucket="plain", Delete={"Objects": [{"Key": "x", "VersionId": "null"}]})
    assert out["Deleted"] == [{"Key": "x", "VersionId": "null"}]
    assert "Versions" not in c.list_object_versions(Bucket="plain")


def test_suspended_bucket_keeps_old_versions(emulator):
    c = s3(emulator)
    b = versioned(c, "susp")
    old = [c.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"] for _ in range(2)]
    c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert c.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    c.put_object(Bucket=b, Key="k", Body=b"3")
    c.put_object(Bucket=b, Key="k", Body=b"4")  # replaces the null version
    out, _ = all_versions(c, b)
    assert [(v, latest) for _, v, latest, _ in out] == [("null", True), (old[1], False), (old[0], False)]
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"4"
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k"}]})
    assert r["Deleted"] == [{"Key": "k", "DeleteMarker": True, "DeleteMarkerVersionId": "null"}]
    out, _ = all_versions(c, b)
    assert [(v, m) for _, v, _, m in out] == [(old[1], False), (old[0], False), ("null", True)]
    objs = [{"Key": "k", "VersionId": v} for v in (old[0], old[1], "null")]
    r = c.delete_objects(Bucket=b, Delete={"Objects": objs})
    assert len(r["Deleted"]) == 3
    assert "Versions" not in c.list_object_versions(Bucket=b)
    assert "DeleteMarkers" not in c.list_object_versions(Bucket=b)


def test_delete_objects_exact_versions_markers_and_quiet(emulator):
    c = s3(emulator)
    b = versioned(c)
    v1 = c.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"]
    v2 = c.put_object(Bucket=b, Key="k", Body=b"2")["VersionId"]
    dm = c.delete_object(Bucket=b, Key="k")["VersionId"]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": dm},
                                                       {"Key": "k", "VersionId": v1}]})
    assert sorted(r["Deleted"], key=lambda d: d["VersionId"] == v1) == [
        {"Key": "k", "VersionId": dm, "DeleteMarker": True, "DeleteMarkerVersionId": dm},
        {"Key": "k", "VersionId": v1}]
    out, _ = all_versions(c, b)
    assert out == [("k", v2, True, False)]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": v2}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert "Versions" not in c.list_object_versions(Bucket=b)


def test_delete_objects_over_1000_is_malformed(emulator):
    c = s3(emulator)
    c.create_bucket(Bucket="plain")
    with pytest.raises(ClientError) as e:
        c.delete_objects(Bucket="plain", Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert error_of(e)[:2] == (400, "MalformedXML")
    r = c.delete_objects(Bucket="plain", Delete={"Objects": [{"Key": f"k{i}"} for i in range(1000)]})
    assert len(r["Deleted"]) == 1000


def test_no_such_bucket(emulator):
    c = s3(emulator)
    for call in (lambda: c.list_object_versions(Bucket="nope"),
                 lambda: c.delete_objects(Bucket="nope", Delete={"Objects": [{"Key": "a"}]}),
                 lambda: c.list_multipart_uploads(Bucket="nope"),
                 lambda: c.get_bucket_versioning(Bucket="nope")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)[:2] == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        c.head_bucket(Bucket="nope")
    assert error_of(e)[:2] == (404, "404")  # HEAD: no body, as AWS


def test_multipart_list_and_abort(emulator):
    c = s3(emulator)
    c.create_bucket(Bucket="plain")
    ups = [c.create_multipart_upload(Bucket="plain", Key=f"m{i}")["UploadId"] for i in range(3)]
    r = c.list_multipart_uploads(Bucket="plain")
    assert sorted(u["UploadId"] for u in r["Uploads"]) == sorted(ups)
    c.abort_multipart_upload(Bucket="plain", Key="m0", UploadId=ups[0])
    assert len(c.list_multipart_uploads(Bucket="plain")["Uploads"]) == 2
    with pytest.raises(ClientError) as e:
        c.abort_multipart_upload(Bucket="plain", Key="m0", UploadId=ups[0])
    assert error_of(e)[:2] == (404, "NoSuchUpload")


def test_delete_faults_per_key(emulator):
    c = s3(emulator)
    b = versioned(c)
    ids = {k: c.put_object(Bucket=b, Key=k, Body=b"x")["VersionId"] for k in ("a", "b", "c")}
    st, _ = control(emulator, "POST", "/_emulator/s3/delete-faults",
                    {"bucket": b, "keys": ["b"], "code": "InternalError", "message": "boom", "times": 1})
    assert st == 200
    objs = [{"Key": k, "VersionId": v} for k, v in ids.items()]
    r = c.delete_objects(Bucket=b, Delete={"Objects": objs, "Quiet": True})
    assert r["Errors"] == [{"Key": "b", "VersionId": ids["b"], "Code": "InternalError", "Message": "boom"}]
    assert "Deleted" not in r
    assert [t[0] for t in all_versions(c, b)[0]] == ["b"]
    r = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "b", "VersionId": ids["b"]}]})
    assert r["Deleted"] == [{"Key": "b", "VersionId": ids["b"]}] and "Errors" not in r
    control(emulator, "POST", "/_emulator/s3/delete-faults",
            {"bucket": b, "keys": ["z"], "code": "AccessDenied", "times": -1})
    assert len(control(emulator, "GET", "/_emulator/s3/delete-faults")[1]["faults"]) == 1
    control(emulator, "DELETE", "/_emulator/s3/delete-faults")
    assert control(emulator, "GET", "/_emulator/s3/delete-faults")[1]["faults"] == []
    st, _ = control(emulator, "POST", "/_emulator/s3/delete-faults", {"bucket": b, "keys": ["z"], "code": "X"})
    assert st == 200 and len(control(emulator, "GET", "/_emulator/s3/delete-faults")[1]["faults"]) == 1
    control(emulator, "POST", "/_emulator/reset")
    assert control(emulator, "GET", "/_emulator/s3/delete-faults")[1]["faults"] == []


def test_delete_fault_times_count_per_key(emulator):
    c = s3(emulator)
    b = versioned(c)
    for k in ("a", "b"):
        c.put_object(Bucket=b, Key=k, Body=b"x")
    st, _ = control(emulator, "POST", "/_emulator/s3/delete-faults",
                    {"bucket": b, "keys": ["a", "b"], "code": "InternalError", "times": 1})
    assert st == 200
    objs = {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True}
    assert sorted(e["Key"] for e in c.delete_objects(Bucket=b, Delete=objs)["Errors"]) == ["a", "b"]
    assert "Errors" not in c.delete_objects(Bucket=b, Delete=objs)  # each key's one use is spent
    assert control(emulator, "GET", "/_emulator/s3/delete-faults")[1]["faults"] == []


def test_operation_names_counted(emulator):
    c = s3(emulator)
    b = versioned(c)
    c.put_object(Bucket=b, Key="k", Body=b"x")
    c.head_bucket(Bucket=b)
    c.get_bucket_versioning(Bucket=b)
    c.list_object_versions(Bucket=b)
    c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k"}]})
    up = c.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    c.list_multipart_uploads(Bucket=b)
    c.abort_multipart_upload(Bucket=b, Key="m", UploadId=up)
    calls = {x["operation"] for x in control(emulator, "GET", "/_emulator/calls")[1]["calls"]
             if x["service"] == "s3"}
    assert {"CreateBucket", "PutBucketVersioning", "PutObject", "HeadBucket", "GetBucketVersioning",
            "ListObjectVersions", "DeleteObjects", "CreateMultipartUpload",
            "ListMultipartUploads", "AbortMultipartUpload"} <= calls, calls


@pytest.mark.parametrize("versioning,k,m,expect", [
    (None, 1, 0, (5, 0)), ("Enabled", 3, 2, (15, 2)), ("Suspended", 3, 2, (13, 2))])
def test_bulk_small(emulator, versioning, k, m, expect):
    c = s3(emulator)
    st, out = control(emulator, "POST", "/_emulator/s3/bulk",
                      {"bucket": "seeded", "versioning": versioning, "objects": 5,
                       "versions_per_object": k, "delete_markers": m, "multipart_uploads": 2,
                       "key_prefix": "p/"})
    assert st == 200, out
    assert (out["versions"], out["delete_markers"], out["uploads"]) == (*expect, 2)
    items, _ = all_versions(c, "seeded", max_keys=4)
    assert sum(not t[3] for t in items) == expect[0] and sum(t[3] for t in items) == expect[1]
    assert [t[0] for t in items if t[2]] == [f"p/{i}" for i in range(5)]  # one latest per key
    if versioning == "Suspended":
        assert [t[1] for t in items if t[0] == "p/4"][0] == "null"
    assert len(c.list_multipart_uploads(Bucket="seeded")["Uploads"]) == 2
    if versioning:
        assert c.get_bucket_versioning(Bucket="seeded")["Status"] == versioning
    assert c.get_object(Bucket="seeded", Key="p/4")["Body"].read() == b"0123456789abcdef"


def test_bulk_100k_versions_seed_list_and_delete(emulator):
    c = s3(emulator)
    t0 = time.monotonic()
    st, out = control(emulator, "POST", "/_emulator/s3/bulk",
                      {"bucket": "big", "versioning": "Enabled", "objects": 25_000,
                       "versions_per_object": 4, "delete_markers": 5_000})
    seed = time.monotonic() - t0
    assert st == 200 and out["versions"] == 100_000 and out["delete_markers"] == 5_000
    assert seed < 20, out
    t0 = time.monotonic()
    r = c.list_object_versions(Bucket="big")
    n = len(r.get("Versions", [])) + len(r.get("DeleteMarkers", []))
    assert n == 1000 and r["IsTruncated"]
    # Three rounds the way s3-cleanup empties it: list a page, delete it.
    for _ in range(3):
        r = c.list_object_versions(Bucket="big")
        objs = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in r.get("Versions", []) + r.get("DeleteMarkers", [])]
        assert len(objs) == 1000
        d = c.delete_objects(Bucket="big", Delete={"Objects": objs, "Quiet": True})
        assert "Errors" not in d
    r = c.list_object_versions(Bucket="big", KeyMarker=r["NextKeyMarker"],
                               VersionIdMarker=r["NextVersionIdMarker"])
    assert r["IsTruncated"]
    print(f"seed {out['seconds']}s (HTTP {seed:.2f}s), 3 list+delete pages {time.monotonic() - t0:.2f}s")


def test_bucket_policy_conditions_are_evaluated(emulator):
    """The usual TLS-only Deny applies to a plain-HTTP request only (the emulator's loopback HTTP
    stands for AWS's HTTPS unless a request says otherwise), and an unconditional Deny applies to
    everyone (emu_authz; "Policy evaluation logic": an explicit deny overrides any allow)."""
    import json

    c = s3(emulator)
    c.create_bucket(Bucket="tls-only")
    arn = "arn:aws:s3:::tls-only"
    tls_only = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    c.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]}))
    c.put_object(Bucket="tls-only", Key="a", Body=b"1")
    assert c.get_object(Bucket="tls-only", Key="a")["Body"].read() == b"1"
    plain = s3(emulator)
    plain.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__(
        "x-emulator-insecure-transport", "true"))
    with pytest.raises(ClientError) as e:
        plain.get_object(Bucket="tls-only", Key="a")
    status, code, message = error_of(e)
    assert (status, code) == (403, "AccessDenied")
    assert "s3:GetObject on resource: arn:aws:s3:::tls-only/a with an explicit deny in a resource-based policy" \
        in message
    deny_puts = {"Sid": "NoPuts", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                 "Resource": f"{arn}/*"}
    c.put_bucket_policy(Bucket="tls-only",
                        Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only, deny_puts]}))
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket="tls-only", Key="b", Body=b"2")
    assert error_of(e)[0] == 403


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(emulator):
    """GetObject, Permissions: without s3:ListBucket a missing key is 403 AccessDenied, with it 404
    NoSuchKey (the caller may not learn what does not exist)."""
    from conftest import role_session

    s3(emulator).create_bucket(Bucket="quiet")
    s3(emulator).put_object(Bucket="quiet", Key="there", Body=b"1")
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::quiet/*"}
    blind = role_session(emulator, "blind", [read]).client("s3", endpoint_url=emulator)
    assert blind.get_object(Bucket="quiet", Key="there")["Body"].read() == b"1"
    with pytest.raises(ClientError) as e:
        blind.get_object(Bucket="quiet", Key="missing")
    assert error_of(e)[:2] == (403, "AccessDenied")
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::quiet"}
    seeing = role_session(emulator, "seeing", [read, listing]).client("s3", endpoint_url=emulator)
    with pytest.raises(ClientError) as e:
        seeing.get_object(Bucket="quiet", Key="missing")
    assert error_of(e)[:2] == (404, "NoSuchKey")


def test_expected_bucket_owner_refuses_another_accounts_bucket(emulator):
    """"If the parameter doesn't match the bucket owner's account ID, the request fails with an
    Access Denied error message" (S3 User Guide, "Verifying bucket ownership")."""
    c = s3(emulator)
    c.create_bucket(Bucket="owned")
    c.put_object(Bucket="owned", Key="k", Body=b"1", ExpectedBucketOwner=ACCOUNT)
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket="owned", Key="k", Body=b"2", ExpectedBucketOwner="999999999999")
    assert error_of(e)[:2] == (403, "AccessDenied")
    assert c.get_object(Bucket="owned", Key="k")["Body"].read() == b"1"
