"""AWS's own deliveries into the reporting account's buckets, made as AWS makes them.

A resource data sync and AWS Config write into the central buckets, not the reporting account: the
sync as the service principal `ssm.amazonaws.com` for the account and Region it syncs, AWS Config
with the IAM role of the account's configuration recorder (or as `config.amazonaws.com` when the
recorder uses the service-linked role). Whether a write lands is the bucket policy's (and the key
policy's) decision on that principal and the keys it sets, so the tests and the demo must make
those writes as that principal, never as the bucket owner.

The writer (fleet-sim, the demo, a test) signs with the emulator's administrator identity and says
which delivery a PUT is:

    x-emulator-delivery: resource-data-sync | config
    x-emulator-source-account: <12 digits>
    x-emulator-source-region: <region>

and the emulator finds the sender as AWS would:
- **resource-data-sync**: the source account's sync in that Region whose S3 destination is this
  bucket and prefix; it writes as `ssm.amazonaws.com` with `aws:SourceAccount`, `aws:SourceArn` (the
  sync's ARN, "Creating a resource data sync for Inventory": `arn:aws:ssm:*:<account>:resource-data-sync/*`)
  and `aws:SourceOrgID` (the account's organization, for an organization-shared sync), and sends
  what SSM sends: `x-amz-acl: bucket-owner-full-control`, and SSE-KMS with the sync's key when it
  has one (the documented bucket policies require both). No such sync: the write is refused (SSM
  would write nothing).
- **config**: the source account's configuration recorder in that Region. With the service-linked
  role (`AWSServiceRoleForConfig`) it writes as `config.amazonaws.com` with `aws:SourceAccount`,
  `aws:SourceArn` `arn:aws:config:<region>:<account>` and `aws:SourceOrgID`; with another role,
  first as a session of that role (which AWS Config assumes: its trust policy must let
  `config.amazonaws.com` assume it), and when the bucket refuses the role, again as the service
  principal: "When AWS Config sends configuration information to an Amazon S3 bucket in another
  account, it first attempts to use the IAM role, but this attempt fails if the access policy for
  the bucket does not grant WRITE access to the IAM role. In this event, AWS Config sends the
  information again, this time as the AWS Config service principal." ("Permissions for the Amazon
  S3 Bucket for the AWS Config Delivery Channel", AWS Config Developer Guide). It sends
  `x-amz-acl: bucket-owner-full-control`. No recorder: refused (Config delivers nothing).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import emu_authz
from emu_authz import Caller
from iam_actions import Authorization
from iam_policy import Principal

DELIVERY_HEADER = "HTTP_X_EMULATOR_DELIVERY"
ACCOUNT_HEADER = "HTTP_X_EMULATOR_SOURCE_ACCOUNT"
REGION_HEADER = "HTTP_X_EMULATOR_SOURCE_REGION"
SERVICE_LINKED_CONFIG_ROLE = "AWSServiceRoleForConfig"


class Refused(Exception):
    """The delivery AWS would not make (no sync or recorder), or a signer that may not ask."""


def _bucket_and_key(environ: dict[str, Any]) -> tuple[str, str]:
    path = unquote(environ.get("PATH_INFO", "/")).lstrip("/")
    bucket, _, key = path.partition("/")
    return bucket, key


def _set_header(environ: dict[str, Any], name: str, value: str) -> None:
    environ["HTTP_" + name.upper().replace("-", "_")] = value


# A sender: who writes, the context keys it sets, and the checks it makes of the bucket first
# (SSM: "SSMBucketPermissionsCheck", s3:GetBucketAcl; AWS Config: s3:GetBucketAcl and s3:ListBucket,
# "bucket existence check" and "ACL check" of "Permissions for the Amazon S3 Bucket for the AWS
# Config Delivery Channel"), each of which its policies must allow too.
Sender = tuple[Caller, dict[str, Any], list[Authorization]]


def resolve(environ: dict[str, Any], caller: Caller) -> list[Sender] | None:
    """The senders of a delivery request, each with its context keys, in the order AWS tries them
    (the first the bucket accepts writes it), or None when the request is no delivery. Adds to the
    request the headers the senders send. Raises Refused."""
    kind = environ.get(DELIVERY_HEADER)
    if not kind:
        return None
    if not caller.principal.administrator:
        raise Refused(f"{caller.principal.arn} may not send AWS's deliveries: only the emulator's "
                      "administrator identity stands for them")
    account, region = environ.get(ACCOUNT_HEADER, ""), environ.get(REGION_HEADER)
    if not account:
        raise Refused("a delivery needs x-emulator-source-account (and x-emulator-source-region but for "
                      "the write checks, which name no Region)")
    if kind not in ("resource-data-sync", "config"):
        raise Refused(f"unknown delivery {kind!r}: resource-data-sync or config")
    bucket, key = _bucket_and_key(environ)
    _set_header(environ, "x-amz-acl", "bucket-owner-full-control")
    # A write check (SSM's test.json, Config's ConfigWritabilityCheckFile) names no Region: the
    # account's sync or recorder of any Region sends it.
    regions = [region] if region else _regions(kind)
    refusals = []
    for r in regions:
        try:
            if kind == "resource-data-sync":
                return _sync(environ, account, r, bucket, key)
            return _config(account, r, bucket)
        except Refused as e:
            refusals.append(str(e))
    raise Refused(refusals[0] if len(refusals) == 1 else
                  f"no Region of account {account} has a {kind} writing to s3://{bucket}/{key}")


def _regions(kind: str) -> list[str]:
    import boto3

    return boto3.session.Session().get_available_regions("ssm" if kind == "resource-data-sync" else "config")


def _source_context(account: str, source_arn: str) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:SourceAccount": account, "aws:SourceOwner": account, "aws:SourceArn": source_arn}
    org = emu_authz.organization_id(account)
    if org:
        context["aws:SourceOrgID"] = org
    return context


def _sync(environ: dict[str, Any], account: str, region: str, bucket: str, key: str) -> list[Sender]:
    import emu_ssm

    for name, sync in emu_ssm.state_for(account, region).syncs.items():
        dest = sync.get("S3Destination") or {}
        prefix = (dest.get("Prefix") or "").strip("/")
        if dest.get("BucketName") != bucket or (prefix and not key.startswith(prefix + "/")):
            continue
        if dest.get("AWSKMSKeyARN"):
            _set_header(environ, "x-amz-server-side-encryption", "aws:kms")
            _set_header(environ, "x-amz-server-side-encryption-aws-kms-key-id", dest["AWSKMSKeyARN"])
        arn = f"arn:aws:ssm:{region}:{account}:resource-data-sync/{name}"
        context = _source_context(account, arn)
        shared = (dest.get("DestinationDataSharing") or {}).get("DestinationDataSharingType") == "Organization"
        if not shared:
            context.pop("aws:SourceOrgID", None)
        principal = Principal("service", "ssm.amazonaws.com", None)
        checks = [Authorization("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", None)]
        return [(Caller(principal, "ssm.amazonaws.com"), context, checks)]
    raise Refused(f"no resource data sync of account {account} in {region} writes to s3://{bucket}/{key}: "
                  "Systems Manager would deliver nothing")


def _config(account: str, region: str, bucket: str) -> list[Sender]:
    from moto.config.models import config_backends

    recorders = list(config_backends[account][region].recorders.values())
    if not recorders:
        raise Refused(f"account {account} has no configuration recorder in {region}: AWS Config would "
                      "deliver nothing")
    role = recorders[0].role_arn
    checks = [Authorization("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}", None),
              Authorization("s3:ListBucket", f"arn:aws:s3:::{bucket}", None)]
    service: Sender = (Caller(Principal("service", "config.amazonaws.com", None), "config.amazonaws.com"),
                       _source_context(account, f"arn:aws:config:{region}:{account}"), checks)
    if role.rsplit("/", 1)[-1] == SERVICE_LINKED_CONFIG_ROLE:
        return [service]
    try:
        credentials = emu_authz.session_credentials(role, "AWSConfig-BucketConfigCheck",
                                                    service="config.amazonaws.com", region=region,
                                                    context=service[1])
    except PermissionError as e:
        raise Refused(str(e)) from None
    return [(emu_authz.principal_of(credentials["access_key_id"]), {}, checks), service]
