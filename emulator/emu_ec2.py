"""EC2 extensions on top of moto 5.2.5.

Why this module exists
----------------------
* ``CreateTags``: moto tags unknown instance ids without complaint.  Real AWS
  rejects the *whole* call (nothing is tagged) with HTTP 400
  ``InvalidInstanceID.NotFound`` naming every missing id
  (``The instance ID 'i-1' does not exist`` /
  ``The instance IDs 'i-1, i-2' do not exist``), and accepts at most 1000
  resource ids per call.  Code that tags instances which SSM still lists but
  EC2 has already forgotten (terminated and gone) must be tested against that
  behaviour, so we replace moto's ``create_tags`` with one that checks first
  and then delegates to moto's backend (so DescribeTags / DescribeInstances
  still show the tags).  Checking uses one set of ids instead of moto's
  per-id linear scan, which also keeps large fleets fast.
* Fast bulk instance creation for the seeding endpoint: moto's run_instances
  is quadratic in the number of instances (every new instance re-scans all
  AMIs, instances and volumes), which would make seeding 10,000 nodes take
  minutes.  ``create_instances`` temporarily gives the backend indexed
  versions of the three lookups it uses.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from moto.core.responses import EmptyResult
from moto.ec2.exceptions import EC2ClientError, InvalidInstanceIdError
from moto.ec2.models import ec2_backends, validate_resource_ids
from moto.ec2.responses.tags import TagResponse
from moto.ec2.utils import random_instance_id

SEED_LOCK = threading.Lock()
DEFAULT_IMAGE_ID = "ami-12c6146b"  # an AMI in moto's default catalogue
MAX_CREATE_TAGS_RESOURCES = 1000


def backend(account: str, region: str) -> Any:
    return ec2_backends[account][region]


def new_instance_id() -> str:
    return random_instance_id()


def all_instance_ids(b: Any) -> set[str]:
    return {i.id for r in list(b.reservations.values()) for i in list(r.instances)}


def instance_exists(account: str, region: str, instance_id: str) -> bool:
    return instance_id in all_instance_ids(backend(account, region))


def instance_tags(account: str, region: str, instance_id: str) -> dict[str, str]:
    return dict(backend(account, region).tags.get(instance_id, {}))


def tag_instance(account: str, region: str, instance_id: str, tags: dict[str, str]) -> None:
    backend(account, region).create_tags([instance_id], tags)


def remove_instance(account: str, region: str, instance_id: str) -> None:
    """Terminates the instance and drops it from moto, like AWS does about an
    hour after termination."""
    b = backend(account, region)
    if instance_id not in all_instance_ids(b):
        return
    b.terminate_instances([instance_id])
    for res_id, res in list(b.reservations.items()):
        res.instances = [i for i in res.instances if i.id != instance_id]
        if not res.instances:
            del b.reservations[res_id]
    b.tags.pop(instance_id, None)


def create_instances(account: str, region: str, count: int) -> list[str]:
    """Runs ``count`` instances in one moto run_instances call, with indexed
    lookups patched onto the backend object for the duration."""
    if count <= 0:
        return []
    b = backend(account, region)
    cls = type(b)
    images_cache: dict[str, Any] = {}
    instance_index: dict[str, Any] = {}

    def describe_images(ami_ids: Any = None, filters: Any = None, **kw: Any) -> Any:
        if filters and list(filters) == ["image-id"] and not ami_ids and not kw:
            key = repr(filters["image-id"])
            if key not in images_cache:
                images_cache[key] = cls.describe_images(b, filters=filters)
            return images_cache[key]
        return cls.describe_images(b, ami_ids=ami_ids, filters=filters, **kw)

    scanned: dict[str, Any] = {"reservation": None, "upto": 0}

    def get_instance(instance_id: str) -> Any:
        inst = instance_index.get(instance_id)
        if inst is None and b.reservations:
            # New instances are appended to the newest reservation: index the
            # ones not seen yet.
            newest = next(reversed(b.reservations.values()))
            if scanned["reservation"] is not newest:
                scanned["reservation"], scanned["upto"] = newest, 0
            for i in newest.instances[scanned["upto"]:]:
                instance_index[i.id] = i
            scanned["upto"] = len(newest.instances)
            inst = instance_index.get(instance_id)
        return inst if inst is not None else cls.get_instance(b, instance_id)

    def describe_volumes(volume_ids: Any = None, filters: Any = None) -> Any:
        if volume_ids and not filters and all(v in b.volumes for v in volume_ids):
            return [b.volumes[v] for v in volume_ids]
        return cls.describe_volumes(b, volume_ids=volume_ids, filters=filters)

    patches: dict[str, Callable[..., Any]] = {
        "describe_images": describe_images,
        "get_instance": get_instance,
        "describe_volumes": describe_volumes,
    }
    with SEED_LOCK:
        b.__dict__.update(patches)
        try:
            reservation = b.run_instances(
                DEFAULT_IMAGE_ID, count, None, [],
                instance_type="t3.micro", is_instance_type_default=False,
                region_name=region, tags={},
            )
        finally:
            for name in patches:
                b.__dict__.pop(name, None)
    return [i.id for i in reservation.instances]


def create_tags(self: TagResponse) -> Any:
    """CreateTags with AWS's all-or-nothing check of instance ids."""
    resource_ids = self._get_param("Resources", []) or []
    if len(resource_ids) > MAX_CREATE_TAGS_RESOURCES:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Too many resource IDs: {len(resource_ids)}. "
            f"Up to {MAX_CREATE_TAGS_RESOURCES} resource IDs can be tagged in one request.",
        )
    validate_resource_ids(resource_ids)
    instance_ids = [r for r in resource_ids if r.startswith("i-")]
    if instance_ids:
        known = all_instance_ids(self.ec2_backend)
        missing = list(dict.fromkeys(r for r in instance_ids if r not in known))
        if missing:
            raise InvalidInstanceIdError(missing)
    self.ec2_backend.do_resources_exist([r for r in resource_ids if not r.startswith("i-")])
    tags = {tag["Key"]: tag.get("Value", "") for tag in self._get_param("Tags", []) or []}
    self.error_on_dryrun()
    self.ec2_backend.create_tags(resource_ids, tags)
    return EmptyResult()


def install() -> None:
    TagResponse.create_tags = create_tags  # type: ignore[method-assign]
