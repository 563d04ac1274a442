"""SSM extensions on top of moto 5.2.5.

Why this module exists
----------------------
moto's SSM backend has no notion of *managed nodes* (the fleet that SSM Agent
registers), so it cannot answer ``DescribeInstanceInformation`` the way AWS
does, it refuses tags on ``ManagedInstance`` resources (``InvalidResourceId``
for every id), and it does not implement the resource-data-sync operations at
all.  We add:

* a managed-node store per (account, region), seeded through the emulator's
  control endpoint (``POST /_emulator/managed-nodes``, see ``seed_nodes``);
* ``DescribeInstanceInformation`` with both filter styles, AWS's MaxResults
  bounds, opaque/validated ``NextToken`` and stable (insertion) ordering;
* ``AddTagsToResource`` / ``ListTagsForResource`` / ``RemoveTagsFromResource``
  for ``ResourceType=ManagedInstance`` (other resource types go to moto);
* ``CreateResourceDataSync`` / ``ListResourceDataSync`` /
  ``DeleteResourceDataSync``;
* State Manager associations, which moto lacks (``Create/Describe/Update/Delete/ListAssociations``,
  for AWS::SSM::Association), and the update calls CloudFormation's SSM resources make that moto
  lacks: ``UpdatePatchBaseline``, ``RegisterDefaultPatchBaseline``/``GetDefaultPatchBaseline``,
  ``UpdateMaintenanceWindow``, ``UpdateMaintenanceWindowTarget``, ``UpdateMaintenanceWindowTask``.

How it hooks in
---------------
moto dispatches an SSM call to the ``SimpleSystemManagerResponse`` method named
after the action in snake_case (``DescribeInstanceInformation`` ->
``describe_instance_information``), so ``install()`` sets those methods on the
class.  Errors are raised as moto ``ServiceException``s, which moto renders as
awsJson1_1 errors (HTTP 400, ``{"__type": Code, "Message": ...}`` plus any
modelled error members such as ``SyncName``).  Results are returned as moto
``ActionResult``s so moto's model-driven serializer emits timestamps as epoch
seconds.

Our state lives in an attribute of moto's per-account-per-region SSM backend
object.  ``/moto-api/reset`` (and our ``/_emulator/reset``) discards those
backend objects, so our state is reset with them.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

import emu_ec2
import emu_paging

# One lock for all of our SSM state: the server is threaded, and the stores are
# small enough that contention does not matter.
LOCK = threading.RLock()

DEFAULT_AGENT_VERSION = "3.3.1142.0"
MANAGED_INSTANCE_ID_RE = re.compile(r"^mi-[0-9a-f]{17}$")
NODE_ID_RE = re.compile(r"^(i-[0-9a-f]{8}([0-9a-f]{9})?|mi-[0-9a-f]{17})$")
PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
PLATFORM_TYPES = ("Windows", "Linux", "MacOS")
RESOURCE_TYPES = ("EC2Instance", "ManagedInstance")
# AWS's default quota: 5 resource data syncs of each type per account and Region.
MAX_SYNCS_PER_TYPE = 5
SYNC_TYPES = ("SyncToDestination", "SyncFromSource")


class SSMError(ServiceException):
    """An SSM error with an explicit code; extra kwargs become error members
    (e.g. ``SyncName``), which moto serializes when the AWS model declares them."""

    def __init__(self, code: str, message: str, **members: Any) -> None:
        super().__init__(code, message)
        for key, value in members.items():
            setattr(self, key, value)


def validation_error(value: Any, where: str, constraint: str) -> SSMError:
    """AWS's wording for request-validation failures."""
    return SSMError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{where}' "
        f"failed to satisfy constraint: {constraint}",
    )


def now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------
# State attached to moto's SSM backend
# --------------------------------------------------------------------------


@dataclass
class ManagedNode:
    """One SSM managed node, in the shape of the API's InstanceInformation."""

    instance_id: str
    resource_type: str  # EC2Instance | ManagedInstance
    seq: int  # insertion sequence: ordering and pagination cursor
    ping_status: str = "Online"
    last_ping: datetime = field(default_factory=now)
    agent_version: str = DEFAULT_AGENT_VERSION
    is_latest_version: bool = True
    platform_type: str = "Linux"
    platform_name: str | None = None
    platform_version: str | None = None
    ip_address: str | None = None
    computer_name: str | None = None
    name: str | None = None  # hybrid only
    activation_id: str | None = None  # hybrid only
    iam_role: str | None = None
    registration_date: datetime | None = None  # hybrid only
    association_status: str | None = None
    in_ec2: bool = False  # EC2 nodes: does moto's EC2 backend hold the instance?
    # Tags of ManagedInstance nodes, and of EC2 nodes absent from moto's EC2
    # backend.  EC2 nodes present in EC2 read their tags from moto's EC2 backend.
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def source_type(self) -> str:
        if self.resource_type == "EC2Instance":
            return "AWS::EC2::Instance"
        return "AWS::SSM::ManagedInstance"

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "InstanceId": self.instance_id,
            "PingStatus": self.ping_status,
            "LastPingDateTime": self.last_ping,
            "AgentVersion": self.agent_version,
            "IsLatestVersion": self.is_latest_version,
            "PlatformType": self.platform_type,
            "ResourceType": self.resource_type,
            "SourceId": self.instance_id,
            "SourceType": self.source_type,
        }
        optional = {
            # A node that has not reported its OS yet has no PlatformName /
            # PlatformVersion: AWS omits the keys, and so do we.
            "PlatformName": self.platform_name,
            "PlatformVersion": self.platform_version,
            "IPAddress": self.ip_address,
            "ComputerName": self.computer_name,
            "Name": self.name,
            "ActivationId": self.activation_id,
            "IamRole": self.iam_role,
            "RegistrationDate": self.registration_date,
            "AssociationStatus": self.association_status,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


class SSMExtState:
    """Our per-(account, region) SSM state."""

    def __init__(self) -> None:
        self.nodes: OrderedDict[str, ManagedNode] = OrderedDict()
        self.next_seq = 0
        self.syncs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.associations: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.default_baselines: dict[str, str] = {}  # operating system -> baseline id


def state_of(backend: Any) -> SSMExtState:
    with LOCK:
        st = backend.__dict__.get("_emulator_state")
        if st is None:
            st = SSMExtState()
            backend.__dict__["_emulator_state"] = st
        return st


def state_for(account: str, region: str) -> SSMExtState:
    return state_of(ssm_backends[account][region])


def node_tags(node: ManagedNode, account: str, region: str) -> dict[str, str]:
    if node.resource_type == "EC2Instance" and node.in_ec2:
        return emu_ec2.instance_tags(account, region, node.instance_id)
    return node.tags


# --------------------------------------------------------------------------
# Seeding (called by the control endpoint)
# --------------------------------------------------------------------------


def _new_mi_id() -> str:
    return "mi-" + secrets.token_hex(9)[:17]


def _ip_for(seq: int) -> str:
    return f"10.{(seq >> 16) & 255}.{(seq >> 8) & 255}.{seq & 255}"


def seed_nodes(account: str, region: str, specs: list[dict[str, Any]]) -> list[str]:
    """Register managed nodes; returns their ids in request order.

    EC2 nodes with ``in_ec2`` (default true) get a real instance in moto's EC2
    backend (created in one batched run_instances call) so that EC2 CreateTags
    / DescribeTags / DescribeInstances work on them.
    """
    for i, spec in enumerate(specs):
        kind = spec.get("kind", "ec2")
        if kind not in ("ec2", "hybrid"):
            raise ValueError(f"nodes[{i}].kind must be 'ec2' or 'hybrid', got {kind!r}")
        if spec.get("ping_status", "Online") not in PING_STATUSES:
            raise ValueError(f"nodes[{i}].ping_status must be one of {PING_STATUSES}")
        if spec.get("platform_type", "Linux") not in PLATFORM_TYPES:
            raise ValueError(f"nodes[{i}].platform_type must be one of {PLATFORM_TYPES}")
        if kind == "hybrid" and spec.get("id") and not MANAGED_INSTANCE_ID_RE.match(spec["id"]):
            raise ValueError(f"nodes[{i}].id must be mi- followed by 17 hex digits")

    # Create the EC2 instances first, in one batch.
    want_ec2 = [
        i for i, s in enumerate(specs)
        if s.get("kind", "ec2") == "ec2" and s.get("in_ec2", True) and not s.get("id")
    ]
    ec2_ids = iter(emu_ec2.create_instances(account, region, len(want_ec2)))

    st = state_for(account, region)
    ids: list[str] = []
    with LOCK:
        for spec in specs:
            kind = spec.get("kind", "ec2")
            in_ec2 = False
            if kind == "ec2":
                if spec.get("id"):
                    node_id = spec["id"]
                    in_ec2 = emu_ec2.instance_exists(account, region, node_id)
                elif spec.get("in_ec2", True):
                    node_id = next(ec2_ids)
                    in_ec2 = True
                else:
                    node_id = emu_ec2.new_instance_id()
                resource_type = "EC2Instance"
            else:
                node_id = spec.get("id") or _new_mi_id()
                resource_type = "ManagedInstance"
            seq = st.next_seq
            st.next_seq += 1
            ip = spec.get("ip_address") or _ip_for(seq)
            node = ManagedNode(
                instance_id=node_id,
                resource_type=resource_type,
                seq=seq,
                ping_status=spec.get("ping_status", "Online"),
                agent_version=spec.get("agent_version") or DEFAULT_AGENT_VERSION,
                is_latest_version=bool(spec.get("is_latest_version", True)),
                platform_type=spec.get("platform_type", "Linux"),
                # null / absent -> the key is omitted from API answers
                platform_name=spec.get("platform_name"),
                platform_version=spec.get("platform_version"),
                ip_address=ip,
                computer_name=spec.get("computer_name")
                or ("ip-" + ip.replace(".", "-") + f".{region}.compute.internal"
                    if kind == "ec2" else f"onprem-{seq}.example.internal"),
                association_status=spec.get("association_status"),
                iam_role=spec.get("iam_role")
                or (None if kind == "ec2" else "service-role/AmazonEC2RunCommandRoleForManagedInstances"),
                in_ec2=in_ec2,
            )
            if "last_ping_epoch" in spec:
                node.last_ping = datetime.fromtimestamp(float(spec["last_ping_epoch"]), timezone.utc)
            if kind == "hybrid":
                node.name = spec.get("name")
                node.activation_id = spec.get("activation_id") or str(uuid.uuid4())
                node.registration_date = now()
            tags = dict(spec.get("tags") or {})
            if tags:
                if in_ec2:
                    emu_ec2.tag_instance(account, region, node_id, tags)
                else:
                    node.tags = tags
            if node_id in st.nodes:
                del st.nodes[node_id]
            st.nodes[node_id] = node
            ids.append(node_id)
    return ids


def remove_node(account: str, region: str, node_id: str, from_ec2: bool) -> bool:
    st = state_for(account, region)
    with LOCK:
        node = st.nodes.pop(node_id, None)
    if from_ec2 and node_id.startswith("i-"):
        emu_ec2.remove_instance(account, region, node_id)
    return node is not None


def list_nodes(account: str, region: str) -> list[dict[str, Any]]:
    st = state_for(account, region)
    with LOCK:
        out = []
        for n in st.nodes.values():
            d = n.to_api()
            for k in ("LastPingDateTime", "RegistrationDate"):
                if k in d:
                    d[k] = d[k].timestamp()
            d["Tags"] = node_tags(n, account, region)
            d["InEc2"] = n.in_ec2
            out.append(d)
        return out


# --------------------------------------------------------------------------
# Pagination tokens
# --------------------------------------------------------------------------


def read_token(token: str | None, fp: str) -> int:
    """The cursor in ``token``; InvalidNextToken for a malformed token or one minted for another query."""
    try:
        return emu_paging.read_token(token, fp)
    except ValueError:
        raise SSMError("InvalidNextToken", "The specified token isn't valid.") from None


# --------------------------------------------------------------------------
# DescribeInstanceInformation
# --------------------------------------------------------------------------

_FILTER_KEYS = (
    "InstanceIds", "AgentVersion", "PingStatus", "PlatformTypes", "ActivationIds",
    "IamRole", "ResourceType", "AssociationStatus",
)
_STRING_FILTER_KEYS = _FILTER_KEYS + ("SourceIds", "SourceTypes")


def _bad_value(msg: str) -> SSMError:
    return SSMError("InvalidInstanceInformationFilterValue", msg)


def _normalize_filters(legacy: list | None, filters: list | None) -> list[tuple[str, list[str]]]:
    """Validates the request's filters; returns [(key, values)]."""
    if legacy and filters:
        # The API reference: "Attempting to use InstanceInformationFilterList
        # and Filters leads to an exception error."
        raise _bad_value(
            "InstanceInformationFilterList and Filters cannot be used in the same request."
        )
    out: list[tuple[str, list[str]]] = []
    if legacy:
        for f in legacy:
            key, values = f.get("key") or f.get("Key"), f.get("valueSet") or f.get("ValueSet")
            if key not in _FILTER_KEYS:
                raise SSMError("InvalidFilterKey", f"The filter key {key} is not valid.")
            out.append((key, list(values or [])))
    for f in filters or []:
        key, values = f.get("Key"), f.get("Values")
        if not (key in _STRING_FILTER_KEYS or key == "tag-key"
                or (isinstance(key, str) and key.startswith("tag:") and len(key) > 4)):
            raise SSMError("InvalidFilterKey", f"The filter key {key} is not valid.")
        out.append((key, list(values or [])))
    has_tag = any(k == "tag-key" or k.startswith("tag:") for k, _ in out)
    if has_tag and any(not (k == "tag-key" or k.startswith("tag:")) for k, _ in out):
        # The API reference: "Tag filters can't be combined with other filter types."
        raise SSMError("InvalidFilterKey", "Tag filters can't be combined with other filter types.")
    for key, values in out:
        if not values:
            raise _bad_value(f"{key} filter must contain at least one value.")
        if len(values) > 100:
            raise validation_error(values, "filters.member.values",
                                   "Member must have length less than or equal to 100")
        if key == "PingStatus":
            for v in values:
                if v not in PING_STATUSES:
                    raise _bad_value(
                        "PingStatus filter is invalid, valid values are Online, ConnectionLost, Inactive")
        if key == "PlatformTypes":
            for v in values:
                if v not in PLATFORM_TYPES:
                    raise _bad_value(
                        "PlatformTypes filter is invalid, valid values are Windows, Linux, MacOS")
        if key == "ResourceType":
            if len(values) != 1:
                raise _bad_value("ResourceType filter may contain only one value.")
            if values[0] not in RESOURCE_TYPES:
                raise _bad_value(
                    "ResourceType filter is invalid, valid values are EC2Instance, ManagedInstance")
        if key == "InstanceIds":
            for v in values:
                if not NODE_ID_RE.match(v):
                    raise SSMError("InvalidInstanceId", f"Instance Id {v} is invalid.")
    return out


# The DescribeInstanceInformation filters that compare one attribute of the node with the values.
FILTER_ATTRIBUTES = {
    "InstanceIds": "instance_id", "SourceIds": "instance_id", "AgentVersion": "agent_version",
    "PingStatus": "ping_status", "PlatformTypes": "platform_type", "ActivationIds": "activation_id",
    "IamRole": "iam_role", "ResourceType": "resource_type", "AssociationStatus": "association_status",
    "SourceTypes": "source_type",
}


def _node_matches(node: ManagedNode, flt: list[tuple[str, list[str]]], account: str, region: str) -> bool:
    for key, values in flt:
        if key in FILTER_ATTRIBUTES:
            ok = getattr(node, FILTER_ATTRIBUTES[key]) in values
        elif key == "tag-key":
            tags = node_tags(node, account, region)
            ok = any(v in tags for v in values)
        else:  # tag:<key>
            tags = node_tags(node, account, region)
            tag_key = key[4:]
            ok = tag_key in tags and tags[tag_key] in values
        if not ok:
            return False
    return True


def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
    max_results = self._get_param("MaxResults")
    if max_results is None:
        max_results = 10  # the documented default
    max_results = int(max_results)
    if max_results > 50:
        raise validation_error(max_results, "maxResults",
                               "Member must have value less than or equal to 50")
    if max_results < 5:
        raise validation_error(max_results, "maxResults",
                               "Member must have value greater than or equal to 5")
    flt = _normalize_filters(self._get_param("InstanceInformationFilterList"),
                             self._get_param("Filters"))
    account, region = self.current_account, self.region
    fp = emu_paging.fingerprint("DescribeInstanceInformation", account, region, flt)
    after = read_token(self._get_param("NextToken"), fp)

    st = state_of(self.ssm_backend)
    page: list[ManagedNode] = []
    more = False
    with LOCK:
        for node in list(st.nodes.values()):
            if node.seq <= after or not _node_matches(node, flt, account, region):
                continue
            if len(page) == max_results:
                more = True
                break
            page.append(node)
        result: dict[str, Any] = {"InstanceInformationList": [n.to_api() for n in page]}
    if more:
        result["NextToken"] = emu_paging.make_token(page[-1].seq, fp)
    return ActionResult(result)


# --------------------------------------------------------------------------
# Tags on ManagedInstance
# --------------------------------------------------------------------------

_orig_add_tags = SimpleSystemManagerResponse.add_tags_to_resource
_orig_remove_tags = SimpleSystemManagerResponse.remove_tags_from_resource
_orig_list_tags = SimpleSystemManagerResponse.list_tags_for_resource


def _managed_node(self: SimpleSystemManagerResponse) -> ManagedNode:
    resource_id = self._get_param("ResourceId") or ""
    st = state_of(self.ssm_backend)
    node = st.nodes.get(resource_id) if MANAGED_INSTANCE_ID_RE.match(resource_id) else None
    if node is None or node.resource_type != "ManagedInstance":
        raise SSMError("InvalidResourceId", "Invalid Resource Id")
    return node


def _validate_tags(tags: list[dict[str, Any]]) -> None:
    if len(tags) > 1000:
        raise validation_error(f"[{len(tags)} tags]", "tags",
                               "Member must have length less than or equal to 1000")
    for i, tag in enumerate(tags, start=1):
        key, value = tag.get("Key"), tag.get("Value")
        if key is None or len(key) < 1:
            raise validation_error(key, f"tags.{i}.member.key",
                                   "Member must have length greater than or equal to 1")
        if len(key) > 128:
            raise validation_error(key, f"tags.{i}.member.key",
                                   "Member must have length less than or equal to 128")
        if value is None:
            raise validation_error(value, f"tags.{i}.member.value", "Member must not be null")
        if len(value) > 256:
            raise validation_error(value, f"tags.{i}.member.value",
                                   "Member must have length less than or equal to 256")


def add_tags_to_resource(self: SimpleSystemManagerResponse) -> ActionResult:
    tags = self._get_param("Tags") or []
    _validate_tags(tags)
    if self._get_param("ResourceType") != "ManagedInstance":
        return _orig_add_tags(self)
    with LOCK:
        node = _managed_node(self)
        for tag in tags:
            node.tags[tag["Key"]] = tag["Value"]
    return EmptyResult()


def remove_tags_from_resource(self: SimpleSystemManagerResponse) -> ActionResult:
    if self._get_param("ResourceType") != "ManagedInstance":
        return _orig_remove_tags(self)
    with LOCK:
        node = _managed_node(self)
        for key in self._get_param("TagKeys") or []:
            node.tags.pop(key, None)
    return EmptyResult()


def list_tags_for_resource(self: SimpleSystemManagerResponse) -> ActionResult:
    if self._get_param("ResourceType") != "ManagedInstance":
        return _orig_list_tags(self)
    with LOCK:
        node = _managed_node(self)
        tag_list = [{"Key": k, "Value": v} for k, v in node.tags.items()]
    return ActionResult({"TagList": tag_list})


# --------------------------------------------------------------------------
# Resource data syncs
# --------------------------------------------------------------------------


def _invalid_sync(msg: str) -> SSMError:
    return SSMError("ResourceDataSyncInvalidConfigurationException", msg, Message=msg)


def _validate_s3_destination(dest: dict[str, Any]) -> None:
    for req in ("BucketName", "SyncFormat", "Region"):
        if not dest.get(req):
            raise _invalid_sync(f"S3Destination.{req} is required.")
    if dest["SyncFormat"] != "JsonSerDe":
        raise _invalid_sync(
            f"SyncFormat {dest['SyncFormat']} is not supported. Supported formats: JsonSerDe")
    sharing = dest.get("DestinationDataSharing")
    if sharing is not None and sharing.get("DestinationDataSharingType") != "Organization":
        raise _invalid_sync(
            "DestinationDataSharingType "
            f"{sharing.get('DestinationDataSharingType')} is not supported. "
            "Supported type: Organization")


def create_resource_data_sync(self: SimpleSystemManagerResponse) -> ActionResult:
    name = self._get_param("SyncName") or ""
    if not 1 <= len(name) <= 64:
        raise validation_error(name, "syncName",
                               "Member must have length less than or equal to 64"
                               if name else "Member must have length greater than or equal to 1")
    sync_type = self._get_param("SyncType") or "SyncToDestination"
    dest = self._get_param("S3Destination")
    source = self._get_param("SyncSource")
    if sync_type not in SYNC_TYPES:
        raise _invalid_sync(f"SyncType {sync_type} is not supported.")
    if sync_type == "SyncToDestination":
        if not dest:
            raise _invalid_sync("S3Destination is required for SyncType SyncToDestination.")
        if source:
            raise _invalid_sync("SyncSource is not supported for SyncType SyncToDestination.")
        _validate_s3_destination(dest)
    else:
        if dest:
            raise _invalid_sync("S3Destination is not supported for SyncType SyncFromSource.")
        if not source:
            raise _invalid_sync("SyncSource is required for SyncType SyncFromSource.")
        if source.get("SourceType") not in ("AwsOrganizations", "SingleAccountMultiRegions"):
            raise _invalid_sync(f"SourceType {source.get('SourceType')} is not supported.")
        if not source.get("SourceRegions"):
            raise _invalid_sync("SyncSource.SourceRegions is required.")
    st = state_of(self.ssm_backend)
    with LOCK:
        if name in st.syncs:
            raise SSMError("ResourceDataSyncAlreadyExistsException",
                           f"Sync {name} already exists.", SyncName=name)
        # "You can have multiple standard syncs, including multiple standard syncs and an
        # Organizations-based sync. But, you can only have one Organizations-based resource data
        # sync." (SSM User Guide, "Creating a resource data sync for Inventory", section on AWS
        # Organizations). Syncs are regional, so the state here is per account and Region. The
        # error AWS returns is not documented; this code is the API's closest modelled one, and
        # clients must treat any error as the refusal.
        if (dest or {}).get("DestinationDataSharing") and any(
                (s.get("S3Destination") or {}).get("DestinationDataSharing")
                for s in st.syncs.values()):
            msg = ("Only one resource data sync with DestinationDataSharing Organization is "
                   "allowed per account and Region.")
            raise SSMError("ResourceDataSyncCountExceededException", msg, Message=msg)
        if sum(1 for s in st.syncs.values() if s["SyncType"] == sync_type) >= MAX_SYNCS_PER_TYPE:
            msg = (f"The maximum number of resource data syncs of type {sync_type} "
                   f"({MAX_SYNCS_PER_TYPE}) has been reached.")
            raise SSMError("ResourceDataSyncCountExceededException", msg, Message=msg)
        created = now()
        item: dict[str, Any] = {
            "SyncName": name,
            "SyncType": sync_type,
            "SyncCreatedTime": created,
            "SyncLastModifiedTime": created,
            "LastSyncTime": created,
            "LastSuccessfulSyncTime": created,
            "LastStatus": "Successful",
        }
        if dest:
            item["S3Destination"] = dest
        if source:
            item["SyncSource"] = dict(source)
        st.syncs[name] = item
    return EmptyResult()


def list_resource_data_sync(self: SimpleSystemManagerResponse) -> ActionResult:
    max_results = self._get_param("MaxResults")
    max_results = 50 if max_results is None else int(max_results)
    if max_results > 50:
        raise validation_error(max_results, "maxResults",
                               "Member must have value less than or equal to 50")
    if max_results < 1:
        raise validation_error(max_results, "maxResults",
                               "Member must have value greater than or equal to 1")
    sync_type = self._get_param("SyncType")
    if sync_type is not None and sync_type not in SYNC_TYPES:
        raise _invalid_sync(f"SyncType {sync_type} is not supported.")
    fp = emu_paging.fingerprint("ListResourceDataSync", self.current_account, self.region, sync_type)
    after = read_token(self._get_param("NextToken"), fp)
    st = state_of(self.ssm_backend)
    with LOCK:
        matching = [(i, s) for i, s in enumerate(st.syncs.values())
                    if i > after and (sync_type is None or s["SyncType"] == sync_type)]
        page = matching[:max_results]
        result: dict[str, Any] = {"ResourceDataSyncItems": [dict(s) for _, s in page]}
    if len(matching) > max_results:
        result["NextToken"] = emu_paging.make_token(page[-1][0], fp)
    return ActionResult(result)


def delete_resource_data_sync(self: SimpleSystemManagerResponse) -> ActionResult:
    name = self._get_param("SyncName") or ""
    sync_type = self._get_param("SyncType")
    if sync_type is not None and sync_type not in SYNC_TYPES:
        raise _invalid_sync(f"SyncType {sync_type} is not supported.")
    st = state_of(self.ssm_backend)
    with LOCK:
        item = st.syncs.get(name)
        if item is None or (sync_type is not None and item["SyncType"] != sync_type):
            msg = f"Sync {name} not found."
            raise SSMError("ResourceDataSyncNotFoundException", msg,
                           SyncName=name, SyncType=sync_type, Message=msg)
        del st.syncs[name]
    return EmptyResult()


# --------------------------------------------------------------------------
# State Manager associations (SSM API Reference: CreateAssociation, DescribeAssociation,
# UpdateAssociation, DeleteAssociation, ListAssociations). No document runs in the emulator, so an
# association stays in its first Overview status, Pending.
# --------------------------------------------------------------------------

ASSOCIATION_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
ASSOCIATION_FIELDS = ("Name", "AssociationName", "DocumentVersion", "InstanceId", "Parameters", "Targets",
                      "ScheduleExpression", "OutputLocation", "MaxConcurrency", "MaxErrors",
                      "ComplianceSeverity", "SyncCompliance", "ApplyOnlyAtCronInterval", "CalendarNames",
                      "TargetLocations", "ScheduleOffset", "Duration", "TargetMaps", "AlarmConfiguration",
                      "AutomationTargetParameterName")


def _association_not_found() -> SSMError:
    return SSMError("AssociationDoesNotExist", "The specified association does not exist.")


def _association_fields(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fields = {k: self._get_param(k) for k in ASSOCIATION_FIELDS if self._get_param(k) is not None}
    name = fields.get("AssociationName")
    if name is not None and not ASSOCIATION_NAME_RE.match(name):
        raise validation_error(name, "associationName", "Member must satisfy regular expression pattern: "
                               "^[a-zA-Z0-9_\\-.]{3,128}$")
    if "InstanceId" not in fields and "Targets" not in fields and self._get_param("Name") is not None \
            and self._get_action() == "CreateAssociation":
        raise SSMError("InvalidTargets", "Specify either InstanceId or Targets.")
    return fields


def _find_association(st: SSMExtState, self: SimpleSystemManagerResponse) -> dict[str, Any]:
    association_id = self._get_param("AssociationId")
    if association_id:
        found = st.associations.get(association_id)
    else:
        name, instance = self._get_param("Name"), self._get_param("InstanceId")
        found = next((a for a in st.associations.values()
                      if a["Name"] == name and a.get("InstanceId") == instance), None)
    if found is None:
        raise _association_not_found()
    return found


def create_association(self: SimpleSystemManagerResponse) -> ActionResult:
    fields = _association_fields(self)
    st = state_of(self.ssm_backend)
    with LOCK:
        if "InstanceId" in fields and any(a["Name"] == fields["Name"] and a.get("InstanceId") == fields["InstanceId"]
                                          for a in st.associations.values()):
            raise SSMError("AssociationAlreadyExists", "The specified association already exists.")
        stamp = now()
        association = {"AssociationId": str(uuid.uuid4()), "AssociationVersion": "1",
                       "DocumentVersion": "$DEFAULT", "Date": stamp, "LastUpdateAssociationDate": stamp,
                       "Status": {"Date": stamp, "Name": "Pending", "Message": "Associated with " +
                                  (fields.get("InstanceId") or "targets")},
                       "Overview": {"Status": "Pending", "DetailedStatus": "Creating"}, **fields}
        st.associations[association["AssociationId"]] = association
        return ActionResult({"AssociationDescription": dict(association)})


def describe_association(self: SimpleSystemManagerResponse) -> ActionResult:
    with LOCK:
        return ActionResult({"AssociationDescription": dict(_find_association(state_of(self.ssm_backend), self))})


def update_association(self: SimpleSystemManagerResponse) -> ActionResult:
    """Fields given replace the stored ones; each update is a new AssociationVersion."""
    fields = _association_fields(self)
    with LOCK:
        association = _find_association(state_of(self.ssm_backend), self)
        association.update(fields)
        association["AssociationVersion"] = str(int(association["AssociationVersion"]) + 1)
        association["LastUpdateAssociationDate"] = now()
        return ActionResult({"AssociationDescription": dict(association)})


def delete_association(self: SimpleSystemManagerResponse) -> EmptyResult:
    st = state_of(self.ssm_backend)
    with LOCK:
        del st.associations[_find_association(st, self)["AssociationId"]]
    return EmptyResult()


LIST_ASSOCIATION_KEYS = ("Name", "InstanceId", "AssociationId", "AssociationVersion", "DocumentVersion",
                         "Targets", "LastExecutionDate", "Overview", "ScheduleExpression", "AssociationName",
                         "ScheduleOffset", "Duration", "TargetMaps")
FILTER_FIELDS = {"InstanceId": "InstanceId", "Name": "Name", "AssociationId": "AssociationId",
                 "AssociationName": "AssociationName", "AssociationStatusName": None,
                 "LastExecutedBefore": None, "LastExecutedAfter": None, "ResourceGroupName": None}


def list_associations(self: SimpleSystemManagerResponse) -> ActionResult:
    """MaxResults 1..50 (default 50), opaque NextToken as DescribeInstanceInformation's."""
    max_results = self._get_param("MaxResults", 50)
    if not 1 <= max_results <= 50:
        raise validation_error(max_results, "maxResults", "Member must have value less than or equal to 50")
    wanted = []
    for f in self._get_param("AssociationFilterList") or []:
        if f["key"] not in FILTER_FIELDS:
            raise validation_error(f["key"], "associationFilterList.member.key", "Member must satisfy enum value set")
        if FILTER_FIELDS[f["key"]]:
            wanted.append((FILTER_FIELDS[f["key"]], f["value"]))
    with LOCK:
        rows = [a for a in state_of(self.ssm_backend).associations.values()
                if all(a.get(k) == v for k, v in wanted)]
    fp = emu_paging.fingerprint("associations", wanted)
    start = read_token(self._get_param("NextToken"), fp) + 1  # the token holds the last index given
    page = rows[start:start + max_results]
    out: dict[str, Any] = {"Associations": [{k: a[k] for k in LIST_ASSOCIATION_KEYS if k in a} for a in page]}
    if start + max_results < len(rows):
        out["NextToken"] = emu_paging.make_token(start + max_results - 1, fp)
    return ActionResult(out)


# --------------------------------------------------------------------------
# Updates moto lacks for AWS::SSM::PatchBaseline / MaintenanceWindow / Target / Task (SSM API
# Reference: UpdatePatchBaseline, RegisterDefaultPatchBaseline, GetDefaultPatchBaseline,
# UpdateMaintenanceWindow, UpdateMaintenanceWindowTarget, UpdateMaintenanceWindowTask: fields given
# replace the stored ones; with Replace true, optional fields not given are cleared).
# --------------------------------------------------------------------------

BASELINE_ATTRIBUTES = {"Name": "name", "GlobalFilters": "global_filters", "ApprovalRules": "approval_rules",
                       "ApprovedPatches": "approved_patches",
                       "ApprovedPatchesComplianceLevel": "approved_patches_compliance_level",
                       "ApprovedPatchesEnableNonSecurity": "approved_patches_enable_non_security",
                       "RejectedPatches": "rejected_patches", "RejectedPatchesAction": "rejected_patches_action",
                       "Description": "description", "Sources": "sources"}


def _baseline(self: SimpleSystemManagerResponse) -> Any:
    baseline_id = self._get_param("BaselineId")
    baseline = self.ssm_backend.baselines.get(baseline_id)
    if baseline is None:
        raise SSMError("DoesNotExistException", f"Patch Baseline {baseline_id} does not exist.")
    return baseline


def update_patch_baseline(self: SimpleSystemManagerResponse) -> ActionResult:
    baseline = _baseline(self)
    replace = self._get_param("Replace", False)
    for key, attribute in BASELINE_ATTRIBUTES.items():
        value = self._get_param(key)
        if value is not None or (replace and key != "Name"):
            setattr(baseline, attribute, value)
    return ActionResult({"BaselineId": baseline.id, "Name": baseline.name,
                         "OperatingSystem": baseline.operating_system,
                         "ApprovalRules": baseline.approval_rules, "Description": baseline.description})


def register_default_patch_baseline(self: SimpleSystemManagerResponse) -> ActionResult:
    baseline = _baseline(self)
    state_of(self.ssm_backend).default_baselines[baseline.operating_system] = baseline.id
    baseline.default_baseline = True
    return ActionResult({"BaselineId": baseline.id})


def get_default_patch_baseline(self: SimpleSystemManagerResponse) -> ActionResult:
    os_name = self._get_param("OperatingSystem", "WINDOWS")
    baseline_id = state_of(self.ssm_backend).default_baselines.get(os_name)
    if baseline_id is None or baseline_id not in self.ssm_backend.baselines:
        # Without one of ours, the predefined AWS baseline of that OS is the default ("Predefined
        # baselines"); the emulator names it by OS only.
        baseline_id = f"arn:aws:ssm:{self.region}:aws:patchbaseline/predefined-{os_name.lower()}"
    return ActionResult({"BaselineId": baseline_id, "OperatingSystem": os_name})


def _apply(obj: Any, self: SimpleSystemManagerResponse, attributes: dict[str, str]) -> None:
    replace = self._get_param("Replace", False)
    for key, attribute in attributes.items():
        value = self._get_param(key)
        if value is not None or replace:
            setattr(obj, attribute, value)


WINDOW_ATTRIBUTES = {"Name": "name", "Description": "description", "Schedule": "schedule",
                     "ScheduleTimezone": "schedule_timezone", "ScheduleOffset": "schedule_offset",
                     "Duration": "duration", "Cutoff": "cutoff", "StartDate": "start_date",
                     "EndDate": "end_date", "AllowUnassociatedTargets": "allow_unassociated_targets",
                     "Enabled": "enabled"}


def update_maintenance_window(self: SimpleSystemManagerResponse) -> ActionResult:
    window = self.ssm_backend.get_maintenance_window(self._get_param("WindowId"))
    required = {"Name", "Schedule", "Duration", "Cutoff", "AllowUnassociatedTargets", "Enabled"}
    for key, attribute in WINDOW_ATTRIBUTES.items():
        value = self._get_param(key)
        if value is not None or (self._get_param("Replace", False) and key not in required):
            setattr(window, attribute, value)
    return ActionResult({"WindowId": window.id, "Name": window.name, "Schedule": window.schedule,
                         "Duration": window.duration, "Cutoff": window.cutoff})


def _window_child(self: SimpleSystemManagerResponse, collection: str, key: str, code: str) -> Any:
    window = self.ssm_backend.get_maintenance_window(self._get_param("WindowId"))
    child = getattr(window, collection).get(self._get_param(key))
    if child is None:
        raise SSMError("DoesNotExistException", f"{code} {self._get_param(key)} does not exist")
    return child


def update_maintenance_window_target(self: SimpleSystemManagerResponse) -> ActionResult:
    target = _window_child(self, "targets", "WindowTargetId", "Maintenance window target")
    _apply(target, self, {"Targets": "targets", "OwnerInformation": "owner_information",
                          "Name": "name", "Description": "description"})
    return ActionResult({"WindowId": target.window_id, "WindowTargetId": target.window_target_id,
                         "Targets": target.targets})


def update_maintenance_window_task(self: SimpleSystemManagerResponse) -> ActionResult:
    task = _window_child(self, "tasks", "WindowTaskId", "Maintenance window task")
    _apply(task, self, {"Targets": "targets", "TaskArn": "task_arn", "ServiceRoleArn": "service_role_arn",
                        "TaskParameters": "task_parameters", "TaskInvocationParameters": "task_invocation_parameters",
                        "Priority": "priority", "MaxConcurrency": "max_concurrency", "MaxErrors": "max_errors",
                        "LoggingInfo": "logging_info", "Name": "name", "Description": "description",
                        "CutoffBehavior": "cutoff_behavior", "AlarmConfiguration": "alarm_configurations"})
    return ActionResult({"WindowId": task.window_id, "WindowTaskId": task.window_task_id,
                         "TaskArn": task.task_arn, "Priority": task.priority})


def _register_patch_baseline_for_patch_group(self: Any, baseline_id: str, patch_group: str) -> tuple[str, str]:
    """moto pre-fills a patch group with AWS's predefined baselines and refuses to register one of
    ours for any OS of a group that exists (AlreadyExistsException). AWS refuses only a second
    baseline *of ours* for the same OS ("A patch group can be registered with only one patch
    baseline for each operating system", "Patch groups"); the predefined one is just the default."""
    if baseline_id not in self.baselines:
        from moto.ssm.exceptions import DoesNotExistException

        raise DoesNotExistException(baseline_id)
    group = self.patch_groups.get(patch_group)
    if group is not None:
        current = group.associations.get(self.baselines[baseline_id].operating_system)
        if current in self.baselines and current != baseline_id:
            from moto.ssm.exceptions import AlreadyExistsException

            raise AlreadyExistsException(self.baselines[baseline_id].operating_system)
        group.associations = dict(group.associations)
        group.associations[self.baselines[baseline_id].operating_system] = baseline_id
        return baseline_id, patch_group
    return _orig_register_for_patch_group(self, baseline_id, patch_group)


_orig_register_for_patch_group = SimpleSystemManagerBackend.register_patch_baseline_for_patch_group


def _deregister_patch_baseline_for_patch_group(self: Any, baseline_id: str, patch_group: str) -> tuple[str, str]:
    """moto's deregister leaves the baseline registered; AWS removes it, so the OS falls back to
    the default baseline ("DeregisterPatchBaselineForPatchGroup")."""
    group = self.patch_groups.get(patch_group)
    baseline = self.baselines.get(baseline_id)
    if group is not None and baseline is not None:
        os_name = baseline.operating_system
        if group.associations.get(os_name) == baseline_id:
            group.associations = dict(group.associations)
            group.associations[os_name] = group.default_associations.get(os_name)
    return baseline_id, patch_group


def install() -> None:
    """Installs our actions on moto's SSM response class (ours win over any
    moto implementation of the same action)."""
    SimpleSystemManagerBackend.register_patch_baseline_for_patch_group = _register_patch_baseline_for_patch_group
    SimpleSystemManagerBackend.deregister_patch_baseline_for_patch_group = _deregister_patch_baseline_for_patch_group
    for fn in (
        describe_instance_information,
        add_tags_to_resource,
        remove_tags_from_resource,
        list_tags_for_resource,
        create_resource_data_sync,
        list_resource_data_sync,
        delete_resource_data_sync,
        create_association,
        describe_association,
        update_association,
        delete_association,
        list_associations,
        update_patch_baseline,
        register_default_patch_baseline,
        get_default_patch_baseline,
        update_maintenance_window,
        update_maintenance_window_target,
        update_maintenance_window_task,
    ):
        setattr(SimpleSystemManagerResponse, fn.__name__, fn)
