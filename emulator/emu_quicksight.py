"""QuickSight data sources, datasets and their permissions on top of moto 5.2.5.

Why this module exists
----------------------
The ``quicksight-builder`` custom resource (Rust SDK, restJson1) creates,
updates and deletes an Athena data source, datasets built from custom SQL over
it, and the permissions of QuickSight users/groups on both.  moto 5.2.5 covers
only part of that, and not the way AWS does (checked against the emulator with
boto3):

* ``Create/Describe/Update/Delete/ListDataSources`` answer, but: no
  ``ResourceExistsException`` for a duplicate id (moto overwrites),
  ``ResourceNotFoundException`` comes back as HTTP 400 (AWS: 404), timestamps
  are naive ISO strings (restJson1 wants epoch seconds: the Rust SDK would fail
  to parse them), ``Permissions`` are dropped, ``ListDataSources`` ignores
  ``MaxResults`` and ids with a ``.`` do not route.
* ``CreateDataSet`` stores only the id and name (no definition, no
  permissions, duplicates overwrite); ``ListDataSets`` is not implemented (our
  HTTP 501); ``Describe/Update/DeleteDataSet`` and all four ``*Permissions``
  operations have no route at all (HTML 404 page, which SDKs cannot parse).

So ``install()`` adds the missing routes and replaces all fourteen operations
on ``QuickSightResponse``:

* Data sources and datasets per (account from the URL's ``AwsAccountId``,
  region), with the definition as sent, the permissions (create-time
  ``Permissions`` plus ``Update*Permissions`` grants/revokes, merged per
  principal), ``CreatedTime``/``LastUpdatedTime`` as epoch seconds, ARNs as
  AWS writes them (``datasource/<id>``, ``dataset/<id>``).
* HTTP status as bound by the model (``Status`` is the response status code,
  also echoed in the body): CreateDataSource 202 (creation is asynchronous in
  AWS; we report ``CREATION_SUCCESSFUL`` at once), CreateDataSet 201, the rest
  200.  The status codes are not in the API reference ("HTTP Status"); 202/201
  follow the AWS CLI examples.
* Errors in restJson1 form with the model's status codes:
  ``ResourceNotFoundException`` 404 and ``ResourceExistsException`` 409 (both
  with ``ResourceType``), ``InvalidParameterValueException`` 400,
  ``InvalidNextTokenException`` 400; header ``x-amzn-ErrorType``, body
  ``{"Message", "RequestId", ...}`` (no ``__type``, as AWS).
* Validation that catches request-shape bugs: ``Name`` 1..128 chars; known
  ``Type``/``ImportMode``; ``PhysicalTableMap`` 1..32 entries, each with
  exactly one of RelationalTable/CustomSql/S3Source/SaaSTable/FileSource whose
  ``DataSourceArn`` names an existing data source of the same account and
  region; CustomSql ``Name`` 1..128, ``SqlQuery`` 1..168000 chars, ``Columns``
  non-empty (stricter than the model, where it is optional: a custom-SQL
  dataset without columns is useless to us) with types from the model's
  ``InputColumnDataType``; ``LogicalTableMap`` sources naming existing physical
  tables; permissions 1..64 per list, principals shaped
  ``arn:<partition>:quicksight:<region>:<account>:(user|group|namespace)/...``,
  actions 1..20, each ``quicksight:<Action>``.
* ``List*`` pages with ``MaxResults`` 1..100 (default 100; the docs give none)
  and an opaque ``NextToken`` in creation order.

Our state lives in an attribute of moto's per-account-per-region QuickSight
backend, so ``/moto-api/reset`` (and ``/_emulator/reset``) clears it.  moto's
own ``data_sources``/``data_sets`` stores are no longer used.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote, urlparse

from moto.quicksight import urls as qs_urls
from moto.quicksight.models import quicksight_backends
from moto.quicksight.responses import QuickSightResponse
from moto.utilities.utils import get_partition

import emu_paging

LOCK = threading.RLock()

MAX_PAGE = 100
DEFAULT_PAGE = 100
MAX_SQL = 168000
MAX_PHYSICAL_TABLES = 32
MAX_PERMISSIONS = 64
MAX_ACTIONS = 20
INPUT_COLUMN_TYPES = ("STRING", "INTEGER", "DECIMAL", "DATETIME", "BIT", "BOOLEAN", "JSON", "SEMISTRUCT")
OUTPUT_COLUMN_TYPES = ("STRING", "INTEGER", "DECIMAL", "DATETIME")
IMPORT_MODES = ("SPICE", "DIRECT_QUERY")
PHYSICAL_KINDS = ("RelationalTable", "CustomSql", "S3Source", "SaaSTable", "FileSource")
PRINCIPAL_RE = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]*:\d{12}:(user|group|namespace)/\S+$")
ACTION_RE = re.compile(r"^quicksight:[A-Za-z]+$")
ID_RE = re.compile(r"^[^/]{1,2048}$")  # "ResourceId": the model has no pattern; "/" cannot route

_seq = itertools.count()

Response = tuple[int, dict[str, Any], str]  # status, headers, body: what a moto action returns


class QSError(Exception):
    """A QuickSight error: code, HTTP status, message and extra body members."""

    def __init__(self, code: str, status: int, message: str, **members: Any) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.members = code, status, message, members


def not_found(kind: str, resource_id: str) -> QSError:
    label = "DataSource" if kind == "DATA_SOURCE" else "DataSet"
    return QSError("ResourceNotFoundException", 404,
                   f"{label} {resource_id} not found", ResourceType=kind)


def invalid(message: str) -> QSError:
    return QSError("InvalidParameterValueException", 400, message)


# --------------------------------------------------------------------------
# State attached to moto's QuickSight backend
# --------------------------------------------------------------------------


class Store:
    def __init__(self) -> None:
        self.data_sources: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.data_sets: OrderedDict[str, dict[str, Any]] = OrderedDict()


def _store(account: str, region: str) -> Store:
    per_account = quicksight_backends[account]
    if region not in per_account.regions:
        # moto lists only the Regions where QuickSight is offered; the Rust tests spread over
        # many Regions (one per test), so every Region gets a backend here.
        per_account.regions.append(region)
    backend = per_account[region]
    store = getattr(backend, "_emu_quicksight", None)
    if store is None:
        store = backend._emu_quicksight = Store()
    return store


def _arn(region: str, account: str, kind: str, resource_id: str) -> str:
    return f"arn:{get_partition(region)}:quicksight:{region}:{account}:{kind}/{resource_id}"


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _check_name(name: Any, where: str = "Name") -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise invalid(f"{where} must be a string of 1 to 128 characters.")


def _check_permissions(perms: Any, where: str) -> list[dict[str, Any]]:
    if perms is None:
        return []
    if not isinstance(perms, list) or not 1 <= len(perms) <= MAX_PERMISSIONS:
        raise invalid(f"{where} must list 1 to {MAX_PERMISSIONS} permissions.")
    for p in perms:
        principal = p.get("Principal") if isinstance(p, dict) else None
        if not isinstance(principal, str) or not PRINCIPAL_RE.match(principal) or len(principal) > 256:
            raise invalid(f"Principal {principal!r} in {where} is not a valid QuickSight user, group "
                          "or namespace ARN.")
        actions = p.get("Actions")
        if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_ACTIONS:
            raise invalid(f"Actions for principal {principal} in {where} must list 1 to {MAX_ACTIONS} actions.")
        for a in actions:
            if not isinstance(a, str) or not ACTION_RE.match(a):
                raise invalid(f"Action {a!r} for principal {principal} is not a valid QuickSight action.")
    return perms


def _merge_grants(current: OrderedDict[str, list[str]],
                  perms: list[dict[str, Any]]) -> OrderedDict[str, list[str]]:
    for p in perms:
        actions = current.setdefault(p["Principal"], [])
        for a in p["Actions"]:
            if a not in actions:
                actions.append(a)
    return current


def _apply_revokes(current: OrderedDict[str, list[str]], perms: list[dict[str, Any]]) -> None:
    for p in perms:
        if p["Principal"] in current:
            left = [a for a in current[p["Principal"]] if a not in p["Actions"]]
            if left:
                current[p["Principal"]] = left
            else:
                del current[p["Principal"]]


def _perm_list(current: OrderedDict[str, list[str]]) -> list[dict[str, Any]]:
    return [{"Principal": p, "Actions": list(a)} for p, a in current.items()]


def _update_permissions(resource: dict[str, Any], label: str, body: dict[str, Any]) -> Response:
    """Update{DataSource,DataSet}Permissions: grants merged per principal, then revokes."""
    grants = _check_permissions(body.get("GrantPermissions"), "GrantPermissions")
    revokes = _check_permissions(body.get("RevokePermissions"), "RevokePermissions")
    _merge_grants(resource["permissions"], grants)
    _apply_revokes(resource["permissions"], revokes)
    return _respond(200, {f"{label}Arn": resource["Arn"], f"{label}Id": resource[f"{label}Id"]})


def _describe_permissions(resource: dict[str, Any], label: str) -> Response:
    return _respond(200, {f"{label}Arn": resource["Arn"], f"{label}Id": resource[f"{label}Id"],
                          "Permissions": _perm_list(resource["permissions"])})


def _check_columns(columns: Any, where: str) -> None:
    if not isinstance(columns, list) or not columns:
        raise invalid(f"{where} must list at least one column.")
    if len(columns) > 2048:
        raise invalid(f"{where} must list at most 2048 columns.")
    for c in columns:
        if not isinstance(c, dict):
            raise invalid(f"{where} entries must be objects with Name and Type.")
        _check_name(c.get("Name"), f"{where}.Name")
        if c.get("Type") not in INPUT_COLUMN_TYPES:
            raise invalid(f"Column type {c.get('Type')!r} of {c.get('Name')} is not one of "
                          f"{', '.join(INPUT_COLUMN_TYPES)}.")


def _check_physical_tables(store: Store, account: str, region: str, ptm: Any) -> None:
    if not isinstance(ptm, dict) or not ptm:
        raise invalid("PhysicalTableMap must have at least one physical table.")
    if len(ptm) > MAX_PHYSICAL_TABLES:
        raise invalid(f"PhysicalTableMap can have at most {MAX_PHYSICAL_TABLES} physical tables.")
    source_prefix = _arn(region, account, "datasource", "")
    for table_id, table in ptm.items():
        if not re.match(r"^[0-9a-zA-Z-]{1,64}$", table_id):
            raise invalid(f"Physical table id {table_id!r} must be 1 to 64 letters, digits or '-'.")
        kinds = [k for k in PHYSICAL_KINDS if isinstance(table, dict) and table.get(k) is not None]
        if len(kinds) != 1:
            raise invalid(f"Physical table {table_id} must have exactly one of {', '.join(PHYSICAL_KINDS)}.")
        spec = table[kinds[0]]
        where = f"PhysicalTableMap.{table_id}.{kinds[0]}"
        arn = spec.get("DataSourceArn")
        if (not isinstance(arn, str) or not arn.startswith(source_prefix)
                or arn[len(source_prefix):] not in store.data_sources):
            raise invalid(f"{where}.DataSourceArn {arn!r} does not name a data source of account "
                          f"{account} in {region}.")
        if kinds[0] == "CustomSql":
            _check_name(spec.get("Name"), f"{where}.Name")
            sql = spec.get("SqlQuery")
            if not isinstance(sql, str) or not sql.strip():
                raise invalid(f"{where}.SqlQuery must not be empty.")
            if len(sql) > MAX_SQL:
                raise invalid(f"{where}.SqlQuery must be at most {MAX_SQL} characters.")
            _check_columns(spec.get("Columns"), f"{where}.Columns")
        elif kinds[0] == "RelationalTable":
            _check_name(spec.get("Name"), f"{where}.Name")
            _check_columns(spec.get("InputColumns"), f"{where}.InputColumns")
        else:
            _check_columns(spec.get("InputColumns"), f"{where}.InputColumns")


def _check_logical_tables(ltm: Any, ptm: dict[str, Any]) -> None:
    if ltm is None:
        return
    if not isinstance(ltm, dict) or not 1 <= len(ltm) <= 64:
        raise invalid("LogicalTableMap must have 1 to 64 logical tables.")
    for table_id, table in ltm.items():
        if not isinstance(table, dict) or not table.get("Alias") or not isinstance(table.get("Source"), dict):
            raise invalid(f"Logical table {table_id} needs Alias and Source.")
        source = table["Source"]
        pid = source.get("PhysicalTableId")
        if pid is not None and pid not in ptm:
            raise invalid(f"Logical table {table_id} refers to physical table {pid}, which does not exist.")
        if pid is None and source.get("DataSetArn") is None and source.get("JoinInstruction") is None:
            raise invalid(f"Logical table {table_id} needs a Source.")


def _output_columns(ptm: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for table in ptm.values():
        for kind in PHYSICAL_KINDS:
            spec = table.get(kind)
            if spec is None:
                continue
            for c in spec.get("Columns") or spec.get("InputColumns") or []:
                if c["Name"] in seen:
                    continue
                seen.add(c["Name"])
                kind_type = c["Type"] if c["Type"] in OUTPUT_COLUMN_TYPES else (
                    "INTEGER" if c["Type"] == "BIT" else "STRING")
                col = {"Name": c["Name"], "Type": kind_type}
                if c.get("SubType") and kind_type == "DECIMAL":
                    col["SubType"] = c["SubType"]
                out.append(col)
    return out


# --------------------------------------------------------------------------
# Request plumbing
# --------------------------------------------------------------------------

PATH_RE = re.compile(r"/accounts/(?P<account>[^/]+)/(?P<kind>data-sources|data-sets)"
                     r"(?:/(?P<id>[^/]+))?(?P<perms>/permissions)?/?$")


def _request(self: QuickSightResponse) -> tuple[str, str, str | None, dict[str, Any]]:
    path = urlparse(self.uri).path
    m = PATH_RE.search(path)
    account = m.group("account") if m else self.current_account
    resource_id = unquote(m.group("id")) if m and m.group("id") else None
    try:
        body = json.loads(self.body) if self.body else {}
    except (ValueError, TypeError):
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return account, self.region, resource_id, body


def _respond(status: int, payload: dict[str, Any]) -> Response:
    request_id = str(uuid.uuid4())
    body = dict(payload, RequestId=request_id, Status=status)
    return status, {"status": status, "Content-Type": "application/json",
                    "x-amzn-RequestId": request_id}, json.dumps(body)


def _error(e: QSError) -> Response:
    request_id = str(uuid.uuid4())
    body = {"Message": e.message, **e.members, "RequestId": request_id}
    return e.status, {"status": e.status, "Content-Type": "application/json",
                      "x-amzn-ErrorType": e.code, "x-amzn-RequestId": request_id}, json.dumps(body)


def _action(fn):  # type: ignore[no-untyped-def]
    """Runs an action under the lock, rendering QSErrors in restJson1 form."""

    def wrapper(self: QuickSightResponse) -> Response:
        try:
            with LOCK:
                account, region, resource_id, body = _request(self)
                return fn(self, account, region, resource_id, body)
        except QSError as e:
            return _error(e)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _page(self: QuickSightResponse, items: list[dict[str, Any]], kind: str) -> tuple[list[dict[str, Any]], str | None]:
    qs = self.querystring
    raw_max = (qs.get("max-results") or [None])[0]
    try:
        max_results = DEFAULT_PAGE if raw_max is None else int(raw_max)
    except ValueError:
        raise invalid(f"MaxResults {raw_max!r} is not a number.") from None
    if not 1 <= max_results <= MAX_PAGE:
        raise invalid(f"MaxResults must be between 1 and {MAX_PAGE}.")
    token = (qs.get("next-token") or [None])[0]
    try:
        after = emu_paging.read_token(token, kind)
    except ValueError:
        raise QSError("InvalidNextTokenException", 400, "The NextToken is not valid.") from None
    rest = [i for i in items if i["seq"] > after]
    page = rest[:max_results]
    next_token = None
    if len(rest) > max_results:
        next_token = emu_paging.make_token(page[-1]["seq"], kind)
    return page, next_token


def _list(self: QuickSightResponse, items: OrderedDict[str, dict[str, Any]], kind: str, member: str,
          view: Any) -> Response:
    page, token = _page(self, list(items.values()), kind)
    out: dict[str, Any] = {member: [view(i) for i in page]}
    if token:
        out["NextToken"] = token
    return _respond(200, out)


def _get(items: OrderedDict[str, dict[str, Any]], kind: str, resource_id: str | None) -> dict[str, Any]:
    found = items.get(resource_id or "")
    if found is None:
        raise not_found(kind, resource_id or "")
    return found


# --------------------------------------------------------------------------
# Data sources
# --------------------------------------------------------------------------

DATA_SOURCE_TYPES = ("ADOBE_ANALYTICS", "AMAZON_ELASTICSEARCH", "ATHENA", "AURORA", "AURORA_POSTGRESQL",
                     "AWS_IOT_ANALYTICS", "GITHUB", "JIRA", "MARIADB", "MYSQL", "ORACLE", "POSTGRESQL",
                     "PRESTO", "REDSHIFT", "S3", "SALESFORCE", "SERVICENOW", "SNOWFLAKE", "SPARK",
                     "SQLSERVER", "TERADATA", "TWITTER", "TIMESTREAM", "AMAZON_OPENSEARCH", "EXASOL",
                     "DATABRICKS", "STARBURST", "TRINO", "BIGQUERY")


def _check_ds_parameters(params: Any) -> None:
    if params is None:
        return
    if not isinstance(params, dict) or len(params) != 1:
        raise invalid("DataSourceParameters must have exactly one member, e.g. AthenaParameters.")


def _data_source_view(ds: dict[str, Any]) -> dict[str, Any]:
    out = {k: ds[k] for k in ("Arn", "DataSourceId", "Name", "Type", "Status", "CreatedTime",
                              "LastUpdatedTime")}
    for k in ("DataSourceParameters", "VpcConnectionProperties", "SslProperties"):
        if ds.get(k) is not None:
            out[k] = copy.deepcopy(ds[k])
    return out


def _get_data_source(account: str, region: str, resource_id: str | None) -> dict[str, Any]:
    return _get(_store(account, region).data_sources, "DATA_SOURCE", resource_id)


@_action
def create_data_source(self, account, region, _id, body):  # type: ignore[no-untyped-def]
    ds_id = body.get("DataSourceId")
    if not isinstance(ds_id, str) or not ID_RE.match(ds_id):
        raise invalid(f"DataSourceId {ds_id!r} is not valid.")
    _check_name(body.get("Name"))
    if body.get("Type") not in DATA_SOURCE_TYPES:
        raise invalid(f"Type {body.get('Type')!r} is not a valid data source type.")
    _check_ds_parameters(body.get("DataSourceParameters"))
    perms = _check_permissions(body.get("Permissions"), "Permissions")
    store = _store(account, region)
    if ds_id in store.data_sources:
        raise QSError("ResourceExistsException", 409, f"DataSource {ds_id} already exists.",
                      ResourceType="DATA_SOURCE")
    now = time.time()
    ds = {
        "seq": next(_seq), "Arn": _arn(region, account, "datasource", ds_id), "DataSourceId": ds_id,
        "Name": body["Name"], "Type": body["Type"], "Status": "CREATION_SUCCESSFUL",
        "CreatedTime": now, "LastUpdatedTime": now,
        "DataSourceParameters": body.get("DataSourceParameters"),
        "VpcConnectionProperties": body.get("VpcConnectionProperties"),
        "SslProperties": body.get("SslProperties"), "permissions": _merge_grants(OrderedDict(), perms),
    }
    store.data_sources[ds_id] = ds
    return _respond(202, {"Arn": ds["Arn"], "DataSourceId": ds_id, "CreationStatus": ds["Status"]})


@_action
def describe_data_source(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _respond(200, {"DataSource": _data_source_view(_get_data_source(account, region, ds_id))})


@_action
def update_data_source(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    ds = _get_data_source(account, region, ds_id)
    _check_name(body.get("Name"))
    _check_ds_parameters(body.get("DataSourceParameters"))
    ds["Name"] = body["Name"]
    for k in ("DataSourceParameters", "VpcConnectionProperties", "SslProperties"):
        if body.get(k) is not None:
            ds[k] = body[k]
    ds["Status"] = "UPDATE_SUCCESSFUL"
    ds["LastUpdatedTime"] = time.time()
    return _respond(200, {"Arn": ds["Arn"], "DataSourceId": ds["DataSourceId"], "UpdateStatus": ds["Status"]})


@_action
def delete_data_source(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    ds = _get_data_source(account, region, ds_id)
    del _store(account, region).data_sources[ds["DataSourceId"]]
    return _respond(200, {"Arn": ds["Arn"], "DataSourceId": ds["DataSourceId"]})


@_action
def list_data_sources(self, account, region, _id, body):  # type: ignore[no-untyped-def]
    return _list(self, _store(account, region).data_sources, "data-sources", "DataSources", _data_source_view)


@_action
def update_data_source_permissions(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _update_permissions(_get_data_source(account, region, ds_id), "DataSource", body)


@_action
def describe_data_source_permissions(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _describe_permissions(_get_data_source(account, region, ds_id), "DataSource")


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def _get_data_set(account: str, region: str, resource_id: str | None) -> dict[str, Any]:
    return _get(_store(account, region).data_sets, "DATA_SET", resource_id)


def _check_data_set_definition(store: Store, account: str, region: str, body: dict[str, Any]) -> None:
    _check_name(body.get("Name"))
    if body.get("ImportMode") not in IMPORT_MODES:
        raise invalid(f"ImportMode {body.get('ImportMode')!r} must be SPICE or DIRECT_QUERY.")
    _check_physical_tables(store, account, region, body.get("PhysicalTableMap"))
    _check_logical_tables(body.get("LogicalTableMap"), body["PhysicalTableMap"])


def _set_definition(ds: dict[str, Any], body: dict[str, Any]) -> None:
    ds["Name"] = body["Name"]
    ds["ImportMode"] = body["ImportMode"]
    ds["PhysicalTableMap"] = copy.deepcopy(body["PhysicalTableMap"])
    ds["LogicalTableMap"] = copy.deepcopy(body.get("LogicalTableMap"))
    ds["OutputColumns"] = _output_columns(body["PhysicalTableMap"])


def _ingestion(ds: dict[str, Any]) -> dict[str, Any]:
    if ds["ImportMode"] != "SPICE":
        return {}
    ingestion_id = str(uuid.uuid4())
    return {"IngestionArn": f"{ds['Arn']}/ingestion/{ingestion_id}", "IngestionId": ingestion_id}


def _data_set_view(ds: dict[str, Any]) -> dict[str, Any]:
    out = {k: copy.deepcopy(ds[k]) for k in ("Arn", "DataSetId", "Name", "CreatedTime", "LastUpdatedTime",
                                             "PhysicalTableMap", "OutputColumns", "ImportMode")}
    if ds.get("LogicalTableMap") is not None:
        out["LogicalTableMap"] = copy.deepcopy(ds["LogicalTableMap"])
    out["ConsumedSpiceCapacityInBytes"] = 0
    return out


def _data_set_summary(ds: dict[str, Any]) -> dict[str, Any]:
    return {"Arn": ds["Arn"], "DataSetId": ds["DataSetId"], "Name": ds["Name"],
            "CreatedTime": ds["CreatedTime"], "LastUpdatedTime": ds["LastUpdatedTime"],
            "ImportMode": ds["ImportMode"], "RowLevelPermissionTagConfigurationApplied": False,
            "ColumnLevelPermissionRulesApplied": False}


@_action
def create_data_set(self, account, region, _id, body):  # type: ignore[no-untyped-def]
    ds_id = body.get("DataSetId")
    if not isinstance(ds_id, str) or not ID_RE.match(ds_id):
        raise invalid(f"DataSetId {ds_id!r} is not valid.")
    store = _store(account, region)
    _check_data_set_definition(store, account, region, body)
    perms = _check_permissions(body.get("Permissions"), "Permissions")
    if ds_id in store.data_sets:
        raise QSError("ResourceExistsException", 409, f"DataSet {ds_id} already exists.",
                      ResourceType="DATA_SET")
    now = time.time()
    ds: dict[str, Any] = {"seq": next(_seq), "Arn": _arn(region, account, "dataset", ds_id),
                          "DataSetId": ds_id, "CreatedTime": now, "LastUpdatedTime": now,
                          "permissions": _merge_grants(OrderedDict(), perms)}
    _set_definition(ds, body)
    store.data_sets[ds_id] = ds
    return _respond(201, {"Arn": ds["Arn"], "DataSetId": ds_id, **_ingestion(ds)})


@_action
def describe_data_set(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _respond(200, {"DataSet": _data_set_view(_get_data_set(account, region, ds_id))})


@_action
def update_data_set(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    ds = _get_data_set(account, region, ds_id)
    _check_data_set_definition(_store(account, region), account, region, body)
    _set_definition(ds, body)
    ds["LastUpdatedTime"] = time.time()
    return _respond(200, {"Arn": ds["Arn"], "DataSetId": ds["DataSetId"], **_ingestion(ds)})


@_action
def delete_data_set(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    ds = _get_data_set(account, region, ds_id)
    del _store(account, region).data_sets[ds["DataSetId"]]
    return _respond(200, {"Arn": ds["Arn"], "DataSetId": ds["DataSetId"]})


@_action
def list_data_sets(self, account, region, _id, body):  # type: ignore[no-untyped-def]
    return _list(self, _store(account, region).data_sets, "data-sets", "DataSetSummaries", _data_set_summary)


@_action
def update_data_set_permissions(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _update_permissions(_get_data_set(account, region, ds_id), "DataSet", body)


@_action
def describe_data_set_permissions(self, account, region, ds_id, body):  # type: ignore[no-untyped-def]
    return _describe_permissions(_get_data_set(account, region, ds_id), "DataSet")


# --------------------------------------------------------------------------

ACTIONS = (create_data_source, describe_data_source, update_data_source, delete_data_source,
           list_data_sources, update_data_source_permissions, describe_data_source_permissions,
           create_data_set, describe_data_set, update_data_set, delete_data_set, list_data_sets,
           update_data_set_permissions, describe_data_set_permissions)

_ROUTES = (
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sources$",
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sources/(?P<datasourceid>[^/]+)$",
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sources/(?P<datasourceid>[^/]+)/permissions$",
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sets$",
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sets/(?P<datasetid>[^/]+)$",
    r"{0}/accounts/(?P<account_id>[\d]+)/data-sets/(?P<datasetid>[^/]+)/permissions$",
)


def install() -> None:
    """Adds the missing routes (before moto builds the QuickSight app, which it
    does on the first QuickSight request) and installs our actions."""
    # moto's own id route excludes '.', which AWS ids may contain.
    qs_urls.url_paths.pop(r"{0}/accounts/(?P<account_id>[\d]+)/data-sources/(?P<datasourceid>[^/.]+)$", None)
    for route in _ROUTES:
        qs_urls.url_paths.setdefault(route, QuickSightResponse.dispatch)
    for fn in ACTIONS:
        setattr(QuickSightResponse, fn.__name__, fn)
