"""S3 extensions on top of moto 5.2.5, for the ``s3-cleanup`` custom resource
(empties versioned, versioning-suspended and unversioned buckets).

Why this module exists
----------------------
moto 5.2.5 gets right (checked with boto3, path-style): ListObjectVersions
with MaxKeys default 1000, IsTruncated, NextKeyMarker/NextVersionIdMarker set
to the last item returned and resuming after it; "null" VersionId for objects
of unversioned buckets; DeleteObjects with VersionId removing exactly that
version; CreateMultipartUpload / ListMultipartUploads / AbortMultipartUpload
(``NoSuchUpload`` on a second abort); ``NoSuchBucket`` from
ListObjectVersions/DeleteObjects/ListMultipartUploads/GetBucketVersioning and
a body-less 404 from HeadBucket (as AWS).  It differs from AWS here:

* ListObjectVersions deep-copies *every* version of the bucket on every page
  (minutes for 100,000 versions) and orders versions of a key by
  last-modified milliseconds (versions written in the same millisecond come
  out in any order).  With ``KeyMarker`` alone it restarts *at* that key,
  where AWS lists keys strictly after it.  We list without copying, from the
  next ``MaxKeys + 2`` key names (``heapq.nsmallest``), newest version first
  in the order moto stores them.  With a ``Delimiter`` moto's own code runs.
* Versioning-suspended buckets: moto treats them as unversioned, so a
  PutObject drops every version from before the suspension and a DeleteObject
  /DeleteObjects entry without VersionId removes them all.  AWS keeps them:
  PutObject replaces only the "null" version, a delete without VersionId
  replaces the "null" version with a "null" delete marker, and a delete with
  VersionId removes just that version.
* DeleteObjects: moto accepts more than 1000 objects (AWS: ``MalformedXML``),
  ignores ``<Quiet>true</Quiet>`` (AWS then answers only the errors), and does
  not flag the removal of a delete marker by VersionId (AWS: ``DeleteMarker``
  true and ``DeleteMarkerVersionId``).
* Not fixed: ListMultipartUploads ignores ``MaxUploads``/``KeyMarker``/
  ``UploadIdMarker`` (every upload in one page, never truncated), which a
  client paging correctly copes with.
* Seeding: 100,000 versions through PutObject take minutes;
  ``POST /_emulator/s3/bulk`` builds them in moto's backend directly.
* Per-key faults: AWS's per-key DeleteObjects errors (InternalError,
  AccessDenied...) cannot be provoked through the API, so
  ``POST /_emulator/s3/delete-faults`` arms them; the entry is answered as an
  ``<Error>`` and not deleted, the rest of the request is applied.

* Bucket policies: moto evaluates them for some S3 requests but ignores
  every ``Condition`` and every ``Principal``. The emulator authorizes every
  request itself (``emu_authz``: identity and bucket policies, conditions,
  cross-account), so moto's check is switched off; DeleteObjects is authorized
  per key, as S3 does (a key the caller may not delete is an ``AccessDenied``
  entry of the answer, the others are deleted).

Whole-call faults (SlowDown...) use the generic ``/_emulator/faults``.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from typing import Any

import xmltodict
from moto.core.common_types import TYPE_RESPONSE
from moto.core.responses import ActionResult
from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import AccessDeniedByLock, MalformedXML, MissingBucket
from moto.s3.models import (CaseInsensitiveDict, FakeBucket, FakeDeleteMarker, FakeKey, FakeMultipart,
                             S3Backend, s3_backends)
from moto.s3.responses import S3Response

import emu_authz
from emu_faults import Faults

LOCK = threading.RLock()
MAX_DELETE_OBJECTS = 1000

_orig_list_object_versions = S3Backend.list_object_versions
_orig_put_object = S3Backend.put_object
_orig_delete_object = S3Backend.delete_object

# ---------------------------------------------------------------------------
# Per-key DeleteObjects faults
# ---------------------------------------------------------------------------


def _delete_fault_fields(spec: dict[str, Any]) -> dict[str, Any]:
    return {"bucket": spec["bucket"], "key": spec["key"]}


class _DeleteFaults(Faults):
    def add_all(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One fault per key: "the next `times` entries for each of those keys"."""
        added = []
        for spec in specs:
            if (not isinstance(spec, dict) or not spec.get("bucket") or not isinstance(spec.get("keys"), list)
                    or not spec["keys"] or not spec.get("code")):
                raise ValueError("delete fault needs 'bucket', 'keys': [...] and 'code'")
            added += [self.add({**spec, "key": str(k)}) for k in spec["keys"]]
        return added


DELETE_FAULTS = _DeleteFaults(_delete_fault_fields)


def _take_fault(bucket: str, key: str) -> dict[str, Any] | None:
    return DELETE_FAULTS.take(lambda f: f["bucket"] == bucket and f["key"] == key)


# ---------------------------------------------------------------------------
# ListObjectVersions
# ---------------------------------------------------------------------------


def list_object_versions(self: S3Backend, bucket_name: str, delimiter: str | None = None,
                         key_marker: str | None = None, max_keys: int | None = 1000,
                         prefix: str = "", version_id_marker: str | None = None) -> Any:
    if delimiter:
        return _orig_list_object_versions(self, bucket_name, delimiter=delimiter,
                                          key_marker=key_marker, max_keys=max_keys,
                                          prefix=prefix, version_id_marker=version_id_marker)
    bucket = self.get_bucket(bucket_name)
    store = bucket.keys
    prefix = prefix or ""
    max_keys = 1000 if max_keys is None else max_keys
    versions: list[Any] = []
    markers: list[Any] = []
    next_key = next_version = None
    with LOCK:
        # After the marker key; at it too when resuming inside its versions.
        marker, inclusive = key_marker or "", bool(key_marker and version_id_marker)
        names_list = [n for n in dict.keys(store)
                      if n.startswith(prefix) and (n > marker or (inclusive and n == marker))]
        limit = max_keys + 2
        while True:
            candidates = heapq.nsmallest(limit, names_list)
            versions, markers, count, last = [], [], 0, None
            next_key = next_version = None
            truncated = False
            for name in candidates:
                entries = list(reversed(dict.__getitem__(store, name)))
                start = 0
                if name == key_marker and version_id_marker:
                    ids = [str(e.version_id) for e in entries]
                    start = ids.index(version_id_marker) + 1 if version_id_marker in ids else len(entries)
                for i in range(start, len(entries)):
                    entry = entries[i]
                    if count >= max_keys:
                        truncated = True
                        break
                    entry.is_latest = i == 0
                    (markers if isinstance(entry, FakeDeleteMarker) else versions).append(entry)
                    count += 1
                    last = entry
                if truncated:
                    break
            if truncated or len(candidates) < limit:
                break
            limit *= 4  # only when many keys have no versions left (should not happen)
        if truncated and last is not None:
            next_key, next_version = last.name, str(last.version_id)
        elif truncated:  # MaxKeys=0
            next_key = key_marker or ""
    return versions, [], markers, next_key, next_version


# ---------------------------------------------------------------------------
# Versioning-suspended buckets
# ---------------------------------------------------------------------------


def _null_marker(key: Any) -> FakeDeleteMarker:
    marker = FakeDeleteMarker(key=key)
    marker._version_id = "null"
    return marker


def put_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
    bucket = self.get_bucket(bucket_name)
    if bucket.versioning_status != "Suspended":
        return _orig_put_object(self, bucket_name, key_name, *args, **kwargs)
    with LOCK:
        # moto would replace (and dispose) every version: keep the old ones
        # aside, let moto store the new "null" version, then put them back.
        older = dict.pop(bucket.keys, key_name, None) or []
        new_key = _orig_put_object(self, bucket_name, key_name, *args, **kwargs)
        kept = [v for v in older if str(v.version_id) != "null"]
        for v in older:
            if str(v.version_id) == "null" and hasattr(v, "dispose"):
                v.dispose()
        dict.__setitem__(bucket.keys, key_name, kept + [new_key])
        return new_key


def delete_object(self: S3Backend, bucket_name: str, key_name: str,
                  version_id: str | None = None, bypass: bool = False) -> tuple[bool, dict[str, Any]]:
    bucket = self.get_bucket(bucket_name)
    if bucket.versioning_status != "Suspended":
        return _orig_delete_object(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
    with LOCK:
        entries = list(dict.get(bucket.keys, key_name) or [])
        meta: dict[str, Any] = {}
        if version_id is None:
            gone = [v for v in entries if str(v.version_id) == "null"]
            kept = [v for v in entries if str(v.version_id) != "null"]
            marker = _null_marker(entries[-1] if entries else
                                  FakeKey(key_name, b"", self.account_id, self.region_name))
            for v in gone:
                if hasattr(v, "dispose"):
                    v.dispose()
            dict.__setitem__(bucket.keys, key_name, kept + [marker])
            return True, {"version-id": "null", "delete-marker": "true"}
        meta["version-id"] = version_id
        target = [v for v in entries if str(v.version_id) == str(version_id)]
        if not target:
            return False, meta
        if isinstance(target[0], FakeKey) and target[0].is_locked(governance_bypass=bypass):
            raise AccessDeniedByLock
        if isinstance(target[0], FakeDeleteMarker):
            meta["delete-marker"] = "true"
        kept = [v for v in entries if v is not target[0]]
        if hasattr(target[0], "dispose"):
            target[0].dispose()
        if kept:
            dict.__setitem__(bucket.keys, key_name, kept)
        else:
            dict.pop(bucket.keys, key_name, None)
        return True, meta


# ---------------------------------------------------------------------------
# DeleteObjects
# ---------------------------------------------------------------------------


def _bucket_response_delete_keys(self: S3Response, bucket_name: str,
                                 authenticated: bool = True) -> TYPE_RESPONSE:
    body = xmltodict.parse(self.body, strip_whitespace=False)
    bypass = self.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
    delete = body.get("Delete") or {}
    objects = delete.get("Object", [])
    if not isinstance(objects, list):
        objects = [objects]
    if not objects or len(objects) > MAX_DELETE_OBJECTS:
        raise MalformedXML()
    quiet = str(delete.get("Quiet", "false")).strip().lower() == "true"
    bucket = self.backend.get_bucket(bucket_name)

    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for obj in objects:
        key = obj.get("Key") or ""
        version_id = obj.get("VersionId") or None
        fault = _take_fault(bucket_name, key)
        if fault is not None:
            errors.append({"Key": key, "VersionId": version_id, "Code": fault["code"],
                           "Message": fault["message"]})
            continue
        if not authenticated:
            errors.append({"Key": key, "VersionId": version_id, "Code": "AccessDenied",
                           "Message": "Access Denied"})
            continue
        # Per key, as S3 authorizes DeleteObjects ("DeleteObjects", Amazon S3 API reference:
        # s3:DeleteObject, and s3:DeleteObjectVersion for a version).
        denied = emu_authz.check_current(
            "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject", f"arn:aws:s3:::{bucket_name}/{key}")
        if denied is not None:
            errors.append({"Key": key, "VersionId": version_id, "Code": "AccessDenied", "Message": denied})
            continue
        was_marker = False
        if version_id is not None:
            was_marker = any(isinstance(v, FakeDeleteMarker) and str(v.version_id) == version_id
                             for v in (dict.get(bucket.keys, key) or []))
        try:
            _, meta = self.backend.delete_object(bucket_name, key, version_id=version_id, bypass=bypass)
        except AccessDeniedByLock:
            errors.append({"Key": key, "VersionId": version_id, "Code": "AccessDenied",
                           "Message": "Access Denied because object protected by object lock."})
            continue
        entry: dict[str, Any] = {"Key": key, "VersionId": version_id}
        if version_id is None and meta.get("delete-marker"):
            entry.update(DeleteMarker=True, DeleteMarkerVersionId=meta.get("version-id"))
        elif was_marker:
            entry.update(DeleteMarker=True, DeleteMarkerVersionId=version_id)
        deleted.append({k: v for k, v in entry.items() if v is not None})
    self.data["Action"] = "DeleteObjects"
    result: dict[str, Any] = {"Errors": [{k: v for k, v in e.items() if v is not None} for e in errors]}
    if not quiet:
        result["Deleted"] = deleted
    return self.serialized(ActionResult(result))


# ---------------------------------------------------------------------------
# Bulk seeding
# ---------------------------------------------------------------------------


def bulk(spec: dict[str, Any]) -> dict[str, Any]:
    """Creates the bucket if needed and fills it in moto's backend."""
    t0 = time.monotonic()
    account = str(spec.get("account") or "123456789012")
    region = spec.get("region") or "us-east-1"
    name = spec.get("bucket")
    if not name:
        raise ValueError("body needs 'bucket'")
    versioning = spec.get("versioning")
    if versioning not in (None, "Enabled", "Suspended"):
        raise ValueError("versioning must be 'Enabled', 'Suspended' or null")
    n = int(spec.get("objects", 0))
    k = int(spec.get("versions_per_object", 1))
    m = int(spec.get("delete_markers", 0))
    u = int(spec.get("multipart_uploads", 0))
    prefix = spec.get("key_prefix", "data/")
    if n < 0 or k < 1 or m < 0 or u < 0 or m > n:
        raise ValueError("need objects >= 0, versions_per_object >= 1, 0 <= delete_markers <= objects")
    if versioning is None and (k != 1 or m):
        raise ValueError("an unversioned bucket holds 1 version per object and no delete markers")

    backend = s3_backends[account]["global"]
    try:
        bucket = backend.get_bucket(name)
    except MissingBucket:
        bucket = backend.create_bucket(name, region)
    if versioning:
        bucket.versioning_status = versioning
    value = b"0123456789abcdef"
    width = len(str(max(n - 1, 0)))
    versions = markers = 0
    with LOCK:
        for i in range(n):
            key_name = f"{prefix}{i:0{width}d}"
            entries: list[Any] = list(dict.get(bucket.keys, key_name) or [])
            for j in range(k):
                null = versioning is None or (versioning == "Suspended" and j == k - 1)
                entries = [e for e in entries if not (null and str(e.version_id) == "null")]
                entries.append(FakeKey(key_name, value, account, region, bucket_name=name,
                                       is_versioned=not null,
                                       version_id="null" if null else str(uuid.uuid4())))
            if i < m:
                if versioning == "Suspended":
                    marker = _null_marker(entries[-1])
                    entries = [e for e in entries if str(e.version_id) != "null"]
                else:
                    marker = FakeDeleteMarker(key=entries[-1])
                entries.append(marker)
            dict.__setitem__(bucket.keys, key_name, entries)
        for i in range(u):
            mp = FakeMultipart(f"{prefix}upload-{i}", CaseInsensitiveDict(), account, region)
            bucket.multiparts[mp.id] = mp
        for entries in dict.values(bucket.keys):
            for e in entries:
                if isinstance(e, FakeDeleteMarker):
                    markers += 1
                else:
                    versions += 1
    return {"versions": versions, "delete_markers": markers, "uploads": len(bucket.multiparts),
            "seconds": round(time.monotonic() - t0, 3)}


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    """moto's own bucket-policy check, switched off: emu_authz has authorized the request."""
    return PermissionResult.NEUTRAL


def install() -> None:
    """Patches moto's S3 backend and response."""
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    install_notifications()
    S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]
    S3Backend.put_object = put_object  # type: ignore[method-assign]
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]
    S3Response._bucket_response_delete_keys = _bucket_response_delete_keys  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# Event notifications: S3 as the service principal s3.amazonaws.com
# ---------------------------------------------------------------------------------------------

def _destinations(bucket: FakeBucket) -> list[tuple[str, str]]:
    """(action S3 needs, destination ARN) of each notification of the bucket."""
    config = bucket.notification_configuration
    if config is None:
        return []
    return ([("lambda:InvokeFunction", n.arn) for n in config.cloud_function]
            + [("sqs:SendMessage", n.arn) for n in config.queue]
            + [("sns:Publish", n.arn) for n in config.topic])


def _delivery_allowed(bucket: FakeBucket, owner: str, action: str, arn: str) -> bool:
    """Whether the destination's resource policy lets S3 deliver this bucket's events: the
    documented statement names s3.amazonaws.com with aws:SourceArn the bucket's ARN and
    aws:SourceAccount its owner ("Granting permissions to publish event notification messages to a
    destination", Amazon S3 User Guide)."""
    import iam_actions

    auth = iam_actions.Authorization(action, arn, arn.split(":")[4])
    decision = emu_authz.authorize_service("s3.amazonaws.com", auth, source_account=owner,
                                           source_arn=f"arn:aws:s3:::{bucket.name}", region=bucket.region_name)
    return decision.allowed


def put_bucket_notification_configuration(self: S3Backend, bucket_name: str,
                                          notification_config: dict[str, Any]) -> None:
    """S3 tests every destination when the configuration is saved, and refuses the whole
    configuration when S3 may not deliver to one: "Unable to validate the following destination
    configurations" (PutBucketNotificationConfiguration, Amazon S3 API reference; the classic failure
    of a template whose bucket does not wait for its Lambda permission)."""
    bucket = self.get_bucket(bucket_name)
    before = bucket.notification_configuration
    _orig_put_notification(self, bucket_name, notification_config)
    refused = [arn for action, arn in _destinations(bucket)
               if not _delivery_allowed(bucket, self.account_id, action, arn)]
    if refused:
        bucket.notification_configuration = before
        raise InvalidArgumentError("Unable to validate the following destination configurations",
                                   "", ", ".join(refused))


def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """Delivery to a Lambda function, as s3.amazonaws.com: a function whose policy no longer lets S3
    invoke it gets nothing (S3 drops the event; the decision is recorded)."""
    bucket_name = ((event_body.get("Records") or [{}])[0].get("s3", {}).get("bucket", {}).get("name")
                   if isinstance(event_body, dict) else None)
    if bucket_name:
        from moto.s3.models import s3_backends

        owner = s3_backends.bucket_accounts.get(bucket_name, ("aws", account_id))[1]
        bucket = s3_backends[owner]["aws"].get_bucket(bucket_name)
        if not _delivery_allowed(bucket, owner, "lambda:InvokeFunction", fn_arn):
            return
    _orig_invoke_awslambda(account_id, event_body, fn_arn, region_name)


import moto.s3.notifications as _notifications  # noqa: E402
from moto.s3.exceptions import InvalidArgumentError  # noqa: E402

_orig_put_notification = S3Backend.put_bucket_notification_configuration
_orig_invoke_awslambda = _notifications._invoke_awslambda


def install_notifications() -> None:
    S3Backend.put_bucket_notification_configuration = put_bucket_notification_configuration  # type: ignore[method-assign]
    _notifications._invoke_awslambda = _invoke_awslambda
