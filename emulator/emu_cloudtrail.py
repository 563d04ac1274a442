"""CloudTrail Lake event data stores, which moto 5.2.5 lacks entirely.

``cloudtrail-lake.yaml`` creates an AWS::CloudTrail::EventDataStore; its handler calls the API
below, implemented as the CloudTrail API Reference defines it: CreateEventDataStore (Name 3-128 of
``[a-zA-Z0-9._-]``, RetentionPeriod 7-3653, or 7-2557 with FIXED_RETENTION_PRICING,
``EventDataStoreAlreadyExistsException`` for a taken name, status ENABLED or, with StartIngestion
false, STOPPED_INGESTION), GetEventDataStore / ListEventDataStores / UpdateEventDataStore by ARN or
id, DeleteEventDataStore (``EventDataStoreTerminationProtectedException`` while
TerminationProtectionEnabled; the store enters PENDING_DELETION, so it is no longer listed), and
Start/StopEventDataStoreIngestion. Nothing is ingested: no events exist in the emulator.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult

NAME_RE = re.compile(r"^[a-zA-Z0-9._-]{3,128}$")
FIELDS = ("AdvancedEventSelectors", "MultiRegionEnabled", "OrganizationEnabled", "RetentionPeriod",
          "TerminationProtectionEnabled", "KmsKeyId", "BillingMode")


class TrailError(ServiceException):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@dataclass
class Store:
    arn: str
    name: str
    settings: dict[str, Any]
    status: str
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    updated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_api(self) -> dict[str, Any]:
        return {"EventDataStoreArn": self.arn, "Name": self.name, "Status": self.status,
                "CreatedTimestamp": self.created, "UpdatedTimestamp": self.updated, **self.settings}


def _stores(self: CloudTrailResponse) -> dict[str, Store]:
    backend = self.cloudtrail_backend
    if not hasattr(backend, "_emu_event_data_stores"):
        backend._emu_event_data_stores = {}
    return backend._emu_event_data_stores


def _validate(params: dict[str, Any]) -> None:
    billing = params.get("BillingMode", "EXTENDABLE_RETENTION_PRICING")
    limit = 2557 if billing == "FIXED_RETENTION_PRICING" else 3653
    period = params.get("RetentionPeriod")
    if period is not None and not 7 <= int(period) <= limit:
        raise TrailError("InvalidParameterException",
                         f"RetentionPeriod must be between 7 and {limit} days with {billing}.")


def _find(self: CloudTrailResponse) -> Store:
    key = self._get_param("EventDataStore")
    for store in _stores(self).values():
        if key in (store.arn, store.arn.rsplit("/", 1)[-1]) and store.status != "PENDING_DELETION":
            return store
    raise TrailError("EventDataStoreNotFoundException", f"The event data store {key} does not exist.")


def create_event_data_store(self: CloudTrailResponse) -> ActionResult:
    name = self._get_param("Name")
    if not NAME_RE.match(name or ""):
        raise TrailError("InvalidParameterException", "Event data store name is not valid.")
    if any(s.name == name and s.status != "PENDING_DELETION" for s in _stores(self).values()):
        raise TrailError("EventDataStoreAlreadyExistsException", f"An event data store named {name} already exists.")
    settings = {"MultiRegionEnabled": True, "OrganizationEnabled": False, "RetentionPeriod": 2557,
                "TerminationProtectionEnabled": True, "BillingMode": "EXTENDABLE_RETENTION_PRICING",
                **{k: self._get_param(k) for k in FIELDS if self._get_param(k) is not None}}
    _validate(settings)
    arn = (f"arn:aws:cloudtrail:{self.region}:{self.current_account}:eventdatastore/{uuid.uuid4()}")
    status = "ENABLED" if self._get_param("StartIngestion", True) else "STOPPED_INGESTION"
    store = Store(arn, name, settings, status)
    _stores(self)[arn] = store
    return ActionResult(store.to_api())


def get_event_data_store(self: CloudTrailResponse) -> ActionResult:
    return ActionResult(_find(self).to_api())


def list_event_data_stores(self: CloudTrailResponse) -> ActionResult:
    return ActionResult({"EventDataStores": [s.to_api() for s in _stores(self).values()
                                             if s.status != "PENDING_DELETION"]})


def update_event_data_store(self: CloudTrailResponse) -> ActionResult:
    store = _find(self)
    updates = {k: self._get_param(k) for k in FIELDS if self._get_param(k) is not None}
    _validate({**store.settings, **updates})
    store.settings.update(updates)
    if self._get_param("Name"):
        store.name = self._get_param("Name")
    store.updated = datetime.now(timezone.utc)
    return ActionResult(store.to_api())


def delete_event_data_store(self: CloudTrailResponse) -> ActionResult:
    store = _find(self)
    if store.settings.get("TerminationProtectionEnabled"):
        raise TrailError("EventDataStoreTerminationProtectedException",
                         "The event data store cannot be deleted because termination protection is enabled.")
    store.status = "PENDING_DELETION"
    return EmptyResult()


def _ingestion(status: str) -> Any:
    def handler(self: CloudTrailResponse) -> ActionResult:
        _find(self).status = status
        return EmptyResult()

    return handler


def install() -> None:
    for fn in (create_event_data_store, get_event_data_store, list_event_data_stores,
               update_event_data_store, delete_event_data_store):
        setattr(CloudTrailResponse, fn.__name__, fn)
    CloudTrailResponse.start_event_data_store_ingestion = _ingestion("ENABLED")
    CloudTrailResponse.stop_event_data_store_ingestion = _ingestion("STOPPED_INGESTION")
