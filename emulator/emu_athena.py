"""Athena extensions on top of moto 5.2.5: the two calls CloudFormation's Athena resources need.

moto has no ``UpdateWorkGroup`` (AWS::Athena::WorkGroup updates) and no ``DeleteNamedQuery``
(AWS::Athena::NamedQuery deletes, every property of which requires replacement). Both follow the
Athena API Reference: UpdateWorkGroup applies ``ConfigurationUpdates`` (WorkGroupConfigurationUpdates,
with its ``Remove*`` switches), ``Description`` and ``State``; DeleteNamedQuery answers
``InvalidRequestException`` for an unknown id, as Athena does for a missing resource.
"""

from __future__ import annotations

import json
from typing import Any

from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError


def _missing(what: str) -> JsonRESTError:
    return JsonRESTError("InvalidRequestException", f"{what} is not found.")


def _apply_result_updates(result: dict[str, Any], updates: dict[str, Any]) -> None:
    for key in ("OutputLocation", "EncryptionConfiguration", "ExpectedBucketOwner", "AclConfiguration"):
        if updates.get(f"Remove{key}"):
            result.pop(key, None)
        elif key in updates:
            result[key] = updates[key]


def update_work_group(self: AthenaResponse) -> str:
    group = self.athena_backend.work_groups.get(self._get_param("WorkGroup"))
    if group is None:
        raise _missing("WorkGroup")
    if self._get_param("Description") is not None:
        group.description = self._get_param("Description")
    if self._get_param("State") is not None:
        group.state = self._get_param("State")
    updates: dict[str, Any] = self._get_param("ConfigurationUpdates") or {}
    config = group.configuration
    for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled",
                "BytesScannedCutoffPerQuery", "RequesterPaysEnabled", "EngineVersion"):
        if key in updates:
            config[key] = updates[key]
    if updates.get("RemoveBytesScannedCutoffPerQuery"):
        config.pop("BytesScannedCutoffPerQuery", None)
    if "ResultConfigurationUpdates" in updates:
        _apply_result_updates(config.setdefault("ResultConfiguration", {}), updates["ResultConfigurationUpdates"])
    return "{}"


def delete_named_query(self: AthenaResponse) -> str:
    query_id = self._get_param("NamedQueryId")
    if self.athena_backend.named_queries.pop(query_id, None) is None:
        raise _missing(f"NamedQuery {query_id}")
    return json.dumps({})


def install() -> None:
    for fn in (update_work_group, delete_named_query):
        setattr(AthenaResponse, fn.__name__, fn)
