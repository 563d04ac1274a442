"""Glue Data Catalog extensions on top of moto 5.2.5.

Why this module exists
----------------------
Lambda handlers that rewrite Glue tables and their partitions (optimistic
locking on the table, paging through partitions, batch updates with per-entry
errors) must be tested against AWS's behaviour.  moto 5.2.5 gets the basics
right (CreateDatabase/CreateTable/GetTable/DeleteTable/GetPartition, whole-call
``EntityNotFoundException`` for a missing database or table, per-entry
``AlreadyExistsException`` in BatchCreatePartition and
``EntityNotFoundException`` in BatchUpdatePartition), but differs from AWS here:

* ``VersionId``: moto numbers a new table "1"; AWS starts at "0" (``aws glue
  get-table`` on a fresh table shows ``"VersionId": "0"``) and adds 1 on every
  UpdateTable.  We renumber moto's version store at creation.
* ``UpdateTable`` ignores ``VersionId``.  AWS uses it for optimistic locking:
  if it is not the table's current version the call fails with HTTP 400
  ``ConcurrentModificationException`` ("Update table failed due to concurrent
  modifications.") and nothing changes.  Check-and-update runs under one lock
  (the server is threaded).  Without ``VersionId`` the update is unconditional.
* ``UpdateCrawler`` is missing (CloudFormation updates AWS::Glue::Crawler in place with it).
  The table name is taken from ``TableInput.Name``, else the top-level ``Name``
  newer SDKs can send (moto crashes without ``TableInput.Name``).
* ``GetPartitions`` ignores ``MaxResults``/``NextToken`` and returns every
  partition in one page.  We page (MaxResults 1..1000, else
  ``ValidationException``; default 1000 - the docs give no default, we use
  the maximum) with an opaque token tied to the table and expression
  (``InvalidInputException`` for a bad one), in creation order, so a
  partition updated between pages keeps its place.  ``ExcludeColumnSchema``
  drops ``StorageDescriptor.Columns``.  moto's ``Expression`` filtering is kept.
  GetPartitions and GetPartition add the ``CatalogId`` AWS returns (moto omits it).
* ``BatchCreatePartition``: moto accepts any number of inputs and partitions
  whose value count differs from the table's partition keys.  AWS limits the
  list to 100 (``ValidationException``) and rejects a value-count mismatch
  with a whole-call ``InvalidInputException`` "The number of partition keys do
  not match the number of partition values" (seen from real AWS in a Java SDK
  user's code; the docs do not say), before creating anything.
* ``BatchUpdatePartition``: moto accepts any number of entries, gives an
  updated partition a new ``CreationTime``, re-keys the partition under ``[]``
  when ``PartitionInput.Values`` is omitted, and, when an entry renames a
  partition onto one that exists, drops the old partition and fails the whole
  call.  We limit entries to 1..100 (``ValidationException``), keep
  ``CreationTime``, treat omitted ``Values`` as "unchanged", and report
  ``AlreadyExistsException`` / ``InvalidInputException`` (value-count
  mismatch) / ``EntityNotFoundException`` per entry, leaving the others
  applied.
* Per-entry fault injection: apart from AlreadyExists/EntityNotFound, AWS's
  per-entry errors (internal errors, limits...) cannot be provoked through
  the API, so ``POST /_emulator/glue/entry-faults`` arms errors for chosen
  partition values in BatchCreatePartition/BatchUpdatePartition; the entry
  answers that error and is not applied, the rest of the batch is.

Whole-call faults (throttling etc.) use the generic ``/_emulator/faults``.
Errors are moto ``JsonRESTError``s, rendered as awsJson1_1
(``{"__type": Code, "message": ...}``, HTTP 400).
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.glue.exceptions import GlueClientError
from moto.glue.models import FakePartition, FakeTable
from moto.glue.responses import GlueResponse

import emu_paging
from emu_faults import Faults

LOCK = threading.RLock()

MAX_BATCH_ENTRIES = 100
MAX_PAGE = 1000
DEFAULT_PAGE = 1000
KEY_COUNT_MISMATCH = "The number of partition keys do not match the number of partition values"

_seq = itertools.count()


def error(code: str, message: str) -> GlueClientError:
    return GlueClientError(code, message)


def validation_error(value: Any, where: str, constraint: str) -> GlueClientError:
    return error("ValidationException",
                 f"1 validation error detected: Value '{value}' at '{where}' "
                 f"failed to satisfy constraint: {constraint}")


def _check_list_len(items: list[Any], where: str, lo: int, hi: int) -> None:
    if len(items) > hi:
        shown = "[" + ", ".join("PartitionInput" if isinstance(i, dict) else str(i) for i in items[:3]) + ", ...]"
        raise validation_error(shown, where, f"Member must have length less than or equal to {hi}")
    if len(items) < lo:
        raise validation_error("[]", where, f"Member must have length greater than or equal to {lo}")


# --------------------------------------------------------------------------
# Model patches: version numbering and partition creation order
# --------------------------------------------------------------------------

_orig_table_init = FakeTable.__init__
_orig_partition_init = FakePartition.__init__


def _table_init(self: FakeTable, *args: Any, **kwargs: Any) -> None:
    _orig_table_init(self, *args, **kwargs)
    # AWS numbers the first version "0".
    first = self.versions.pop(str(self._current_version))
    self._current_version = 0
    self.versions["0"] = first


def _partition_init(self: FakePartition, *args: Any, **kwargs: Any) -> None:
    _orig_partition_init(self, *args, **kwargs)
    self.seq = next(_seq)  # creation order: GetPartitions ordering and cursor


def _key(values: list[str]) -> str:
    return str(list(values))  # moto's key in FakeTable.partitions


def _partition_keys(table: FakeTable) -> list[dict[str, Any]]:
    return table.as_dict().get("PartitionKeys") or []


# --------------------------------------------------------------------------
# Per-entry faults
# --------------------------------------------------------------------------

ENTRY_OPERATIONS = ("BatchCreatePartition", "BatchUpdatePartition")


def _entry_fault_fields(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("operation") not in ENTRY_OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(ENTRY_OPERATIONS)}")
    if not isinstance(spec.get("values"), list):
        raise ValueError("entry fault needs 'values': [...] (the partition's values)")
    return {"operation": spec["operation"], "values": [str(v) for v in spec["values"]],
            "database": spec.get("database"), "table": spec.get("table")}


ENTRY_FAULTS = Faults(_entry_fault_fields)


def _take_entry_fault(operation: str, database: str, table: str,
                      values: list[str]) -> dict[str, Any] | None:
    return ENTRY_FAULTS.take(lambda f: f["operation"] == operation and f["values"] == list(values)
                             and f["database"] in (None, database) and f["table"] in (None, table))


def _entry_error(values_key: str, values: list[str], code: str, message: str) -> dict[str, Any]:
    return {values_key: list(values), "ErrorDetail": {"ErrorCode": code, "ErrorMessage": message}}


# --------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------


def update_table(self: GlueResponse) -> ActionResult:
    database_name = self.parameters.get("DatabaseName")
    table_input = self.parameters.get("TableInput") or {}
    table_name = table_input.get("Name") or self.parameters.get("Name")
    version_id = self.parameters.get("VersionId")
    with LOCK:
        table = self.glue_backend.get_table(database_name, table_name)
        if version_id is not None and str(version_id) != str(table._current_version):
            raise error("ConcurrentModificationException",
                        "Update table failed due to concurrent modifications.")
        table.update(table_input)
    return EmptyResult()


def _token_fp(database: str, table: str, expression: str | None) -> str:
    return emu_paging.fingerprint(database, table, expression or "")


def _read_token(token: str | None, fp: str) -> int:
    try:
        return emu_paging.read_token(token, fp)
    except ValueError:
        raise error("InvalidInputException", "Invalid NextToken.") from None


def _partition_dict(p: FakePartition, catalog_id: str, exclude_columns: bool) -> dict[str, Any]:
    out = p.as_dict()
    out.setdefault("CatalogId", catalog_id)
    if exclude_columns and isinstance(out.get("StorageDescriptor"), dict):
        out["StorageDescriptor"] = {k: v for k, v in out["StorageDescriptor"].items() if k != "Columns"}
    return out


def get_partitions(self: GlueResponse) -> ActionResult:
    database_name = self.parameters.get("DatabaseName")
    table_name = self.parameters.get("TableName")
    expression = self.parameters.get("Expression")
    max_results = self.parameters.get("MaxResults")
    max_results = DEFAULT_PAGE if max_results is None else int(max_results)
    if max_results > MAX_PAGE:
        raise validation_error(max_results, "maxResults",
                               f"Member must have value less than or equal to {MAX_PAGE}")
    if max_results < 1:
        raise validation_error(max_results, "maxResults", "Member must have value greater than or equal to 1")
    fp = _token_fp(database_name, table_name, expression)
    after = _read_token(self.parameters.get("NextToken"), fp)
    exclude = bool(self.parameters.get("ExcludeColumnSchema"))
    with LOCK:
        table = self.glue_backend.get_table(database_name, table_name)
        matching = sorted(table.get_partitions(expression), key=lambda p: p.seq)
        matching = [p for p in matching if p.seq > after]
        page = matching[:max_results]
        result: dict[str, Any] = {
            "Partitions": [_partition_dict(p, table.catalog_id, exclude) for p in page]}
    if len(matching) > max_results:
        result["NextToken"] = emu_paging.make_token(page[-1].seq, fp)
    return ActionResult(result)


def get_partition(self: GlueResponse) -> ActionResult:
    with LOCK:
        table = self.glue_backend.get_table(self.parameters.get("DatabaseName"),
                                            self.parameters.get("TableName"))
        p = table.get_partition(self.parameters.get("PartitionValues"))
        return ActionResult({"Partition": _partition_dict(p, table.catalog_id, False)})


def batch_create_partition(self: GlueResponse) -> ActionResult:
    database_name = self.parameters.get("DatabaseName")
    table_name = self.parameters.get("TableName")
    inputs = self.parameters.get("PartitionInputList") or []
    _check_list_len(inputs, "partitionInputList", 0, MAX_BATCH_ENTRIES)
    errors = []
    with LOCK:
        table = self.glue_backend.get_table(database_name, table_name)
        n_keys = len(_partition_keys(table))
        # AWS validates every input before creating any.
        if any(len(i.get("Values") or []) != n_keys for i in inputs):
            raise error("InvalidInputException", KEY_COUNT_MISMATCH)
        for part_input in inputs:
            values = part_input.get("Values") or []
            fault = _take_entry_fault("BatchCreatePartition", database_name, table_name, values)
            if fault is not None:
                errors.append(_entry_error("PartitionValues", values, fault["code"], fault["message"]))
            elif _key(values) in table.partitions:
                errors.append(_entry_error("PartitionValues", values, "AlreadyExistsException",
                                           "Partition already exists."))
            else:
                table.create_partition(part_input)
    return ActionResult({"Errors": errors} if errors else {})


def batch_update_partition(self: GlueResponse) -> ActionResult:
    database_name = self.parameters.get("DatabaseName")
    table_name = self.parameters.get("TableName")
    entries = self.parameters.get("Entries") or []
    _check_list_len(entries, "entries", 1, MAX_BATCH_ENTRIES)
    errors = []
    with LOCK:
        table = self.glue_backend.get_table(database_name, table_name)
        n_keys = len(_partition_keys(table))
        for entry in entries:
            old_values = list(entry.get("PartitionValueList") or [])
            part_input = dict(entry.get("PartitionInput") or {})
            new_values = list(part_input.get("Values") or old_values)
            part_input["Values"] = new_values
            fault = _take_entry_fault("BatchUpdatePartition", database_name, table_name, old_values)
            old = table.partitions.get(_key(old_values))
            if fault is not None:
                errors.append(_entry_error("PartitionValueList", old_values, fault["code"], fault["message"]))
            elif old is None:
                errors.append(_entry_error("PartitionValueList", old_values, "EntityNotFoundException",
                                           "Partition not found."))
            elif len(new_values) != n_keys:
                errors.append(_entry_error("PartitionValueList", old_values, "InvalidInputException",
                                           KEY_COUNT_MISMATCH))
            elif new_values != old_values and _key(new_values) in table.partitions:
                errors.append(_entry_error("PartitionValueList", old_values, "AlreadyExistsException",
                                           "Partition already exists."))
            else:
                new = FakePartition(table.database_name, table.name, part_input)
                new.creation_time, new.seq = old.creation_time, old.seq
                if new_values != old_values:
                    del table.partitions[_key(old_values)]
                table.partitions[_key(new_values)] = new  # same key: keeps its place
    return ActionResult({"Errors": errors} if errors else {})


# UpdateCrawler's fields and the crawler attributes moto keeps them in (Glue API Reference,
# UpdateCrawler: every field but Name optional, absent = unchanged; Schedule "" removes it).
CRAWLER_UPDATE_FIELDS = {"Role": "role", "DatabaseName": "database_name", "Description": "description",
                         "Targets": "targets", "Classifiers": "classifiers", "TablePrefix": "table_prefix",
                         "SchemaChangePolicy": "schema_change_policy", "RecrawlPolicy": "recrawl_policy",
                         "LineageConfiguration": "lineage_configuration", "Configuration": "configuration",
                         "CrawlerSecurityConfiguration": "crawler_security_configuration"}


def update_crawler(self: GlueResponse) -> EmptyResult:
    """moto has no UpdateCrawler (AWS::Glue::Crawler updates in place need it). A running crawler
    cannot be updated (``CrawlerRunningException``)."""
    crawler = self.glue_backend.get_crawler(self._get_param("Name"))
    if crawler.status == "RUNNING":
        raise GlueClientError("CrawlerRunningException", f"Crawler {crawler.name} is running.")
    for field_name, attribute in CRAWLER_UPDATE_FIELDS.items():
        if self._get_param(field_name) is not None:
            setattr(crawler, attribute, self._get_param(field_name))
    schedule = self._get_param("Schedule")
    if schedule is not None:
        crawler.schedule = schedule or None
    crawler.version += 1
    return EmptyResult()


def install() -> None:
    """Patches moto's Glue models and installs our actions on GlueResponse."""
    FakeTable.__init__ = _table_init  # type: ignore[method-assign]
    FakePartition.__init__ = _partition_init  # type: ignore[method-assign]
    for fn in (update_table, get_partitions, get_partition, batch_create_partition,
               batch_update_partition, update_crawler):
        setattr(GlueResponse, fn.__name__, fn)

