"""A local stand-in for Athena over a fleet-sim folder (or anything laid out as AWS writes it).

`connect(fleet_dir)` loads into DuckDB exactly the tables the reporting stack's Athena queries read,
laid out as they are in the Glue catalog:

* schema ``inv``, one table per resource data sync type folder under ``<fleet_dir>/sync/``, as the
  Glue crawler of ``cfn/central-reporting.yaml`` makes them, by the crawler's own model
  (``crawler_model``, shared with the emulator's crawler): the table name (``AWS:ComplianceItem``
  -> ``aws_complianceitem``), the target's ``Exclusions`` read from the template (so the sync's
  write check ``AWS:InstanceInformation/accountid=<id>/test.json`` adds no column, as
  ``**/test.json`` skips it), the columns (the JSON attribute names lower-cased, typed by the
  JSON classifier: ``string`` for everything a sync writes), then the partition keys
  (``accountid``, ``region``, ``resourcetype``) from the ``key=value`` folders of the object
  keys. The view reads every object in those partition folders, as Athena reads a partition's
  location. An attribute a row omits is NULL; one written as ``""`` stays ``''`` (Athena does
  the same).
* the ``resourcetype`` *data* column of ``aws_instanceinformation`` (the ``ResourceType``
  attribute: ``EC2Instance``/``ManagedInstance``) is left out, as ``glue-column-remover`` removes
  it after every crawl, so ``resourcetype`` is the partition value there too.
* schema ``cfg``, table ``aws_config_snapshot``, as declared by ``ConfigSnapshotTable`` in
  ``cfn/central-reporting.yaml``, read from the template (its columns, its struct fields and the
  OpenX SerDe's ``case.insensitive`` and ``mapping.*`` properties, with the SerDe's rules: keys
  matched exactly through the mappings when case-sensitive, and a "Duplicate key" error for keys
  that differ only in case when not; ``configuration`` is declared ``string``, so it holds the
  JSON text of the object) over every ``ConfigSnapshot/*.json.gz`` under
  ``<fleet_dir>/config/``, with the partitions ``config-partitioner`` adds: ``accountid``,
  ``region`` and ``dt`` (``yyyy-mm-dd``, zero-padded) from the key
  ``[prefix/]AWSLogs/<account>/Config/<region>/<yyyy>/<m>/<d>/ConfigSnapshot/<file>``.
  ConfigHistory objects and the ConfigWritabilityCheckFile probe are not read. Athena's ``"$path"``
  pseudo-column (the object's location; here its file) is a column: the Config queries order a
  day's snapshots by the delivery time in the object's name.

A type folder that does not exist gives an empty table with the declared columns.

`run(con, text, values)` replaces the ``${...}`` placeholders (``NAMED_QUERY_VALUES`` for
``cfn/queries/*.sql``, ``DATASET_VALUES`` for ``crates/quicksight-builder/sql/*.sql``), transpiles
the Athena (Trino) SQL to DuckDB with sqlglot and returns the rows as dicts. The session time zone
is UTC, as Athena's. See ``tests/sql/ATHENA_DUCKDB.md`` for what the transpiler does not bridge.

Everything is read by DuckDB's own readers (one ``read_json`` per table over a glob), so a
100,000-node folder (about 900,000 objects) is read without a Python loop over their contents (only
the object names pass through Python, for the crawler's exclusions and partitions); by default
each table is a view over its objects, read when a query runs, as Athena reads S3.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import sys

import duckdb
import sqlglot
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cfn"))
import render as sources  # noqa: E402

from emu_cfn_template import load_template_text  # noqa: E402
from crawler_model import PARTITION_KEY_TYPE, Table, column_name, excluded, partition, table_name  # noqa: E402
from crawler_model import duckdb_type as _duckdb_type  # noqa: E402  (one Hive -> DuckDB translation)

INVENTORY_SCHEMA = "inv"
CONFIG_SCHEMA = "cfg"
CONFIG_TABLE = "aws_config_snapshot"
CLOUDTRAIL_SCHEMA = "ctl"
CLOUDTRAIL_TABLE = "config_items"

# Placeholders of the Athena named queries (cfn/queries/*.sql, Fn::Sub in the template) and of the
# QuickSight dataset SQL (crates/quicksight-builder/sql/*.sql, replaced by quicksight-builder).
NAMED_QUERY_VALUES = {"Database": INVENTORY_SCHEMA, "ConfigDatabase": CONFIG_SCHEMA, "ConfigTable": CONFIG_TABLE,
                      "ConfigObjectKey": '"$path"'}
# The dataset SQL uses the same names (crates/quicksight-builder/src/sql.rs), so the parts both
# include (cfn/queries/parts/) read the same.
DATASET_VALUES = NAMED_QUERY_VALUES
# The CloudTrail Lake queries (cfn/cloudtrail-lake/*.sql) name the event data store by id; their
# time placeholders (${StartTime}, ${EndTime}, ${AsOf}) are the caller's.
CLOUDTRAIL_VALUES = {"EventDataStoreId": f"{CLOUDTRAIL_SCHEMA}.{CLOUDTRAIL_TABLE}"}

SYNC_FIELDS = ["resourceId", "captureTime", "schemaVersion"]
# The partition keys of a type folder that holds no object yet (the crawler takes them from the
# folders of the objects): the sync's accountid=<id>/region=<r>/resourcetype=<t>/ folders.
PARTITIONS = ["accountid", "region", "resourcetype"]

# The attributes of each type (the inventory schema, ../shared/reference/data-formats.md): the
# columns of a table whose folder holds no object yet. Otherwise the columns are the keys the
# objects hold, as the crawler makes them. AgentStatus is in the inventory schema but not in the
# objects a sync writes (AWS's own Athena tables over synced inventory have no such column).
ATTRIBUTES: dict[str, list[str]] = {
    "AWS:InstanceInformation": [
        "AgentType", "AgentVersion", "ComputerName", "InstanceId", "IpAddress", "PlatformName",
        "PlatformType", "PlatformVersion", "ResourceType", "InstanceStatus"],
    "AWS:PatchSummary": [
        "PatchGroup", "BaselineId", "SnapshotId", "OwnerInformation", "OperationType",
        "OperationStartTime", "OperationEndTime", "InstallOverrideList", "RebootOption",
        "LastNoRebootInstallOperationTime", "ExecutionId", "NonCompliantSeverity", "InstalledCount",
        "InstalledOtherCount", "InstalledPendingRebootCount", "InstalledRejectedCount",
        "NotApplicableCount", "UnreportedNotApplicableCount", "MissingCount", "FailedCount",
        "CriticalNonCompliantCount", "SecurityNonCompliantCount", "OtherNonCompliantCount"],
    "AWS:ComplianceItem": [
        "ComplianceType", "ExecutionId", "ExecutionType", "ExecutionTime", "Id", "Title", "Status",
        "Severity", "DocumentName", "DocumentVersion", "Classification", "PatchBaselineId",
        "PatchSeverity", "PatchState", "PatchGroup", "InstalledTime"],
    "AWS:ComplianceSummary": [
        "ComplianceType", "PatchGroup", "PatchBaselineId", "Status", "OverallSeverity", "ExecutionId",
        "ExecutionType", "ExecutionTime"]
    + [f"{k}{s}Count" for k in ("Compliant", "NonCompliant")
       for s in ("Critical", "High", "Medium", "Low", "Informational", "Unspecified")],
    "AWS:Tag": ["Key", "Value"],
    "AWS:Application": [
        "Name", "ApplicationType", "Publisher", "Version", "Release", "Epoch", "InstalledTime",
        "Architecture", "URL", "Summary", "PackageId"],
    "AWS:AWSComponent": ["Name", "ApplicationType", "Publisher", "Version", "InstalledTime", "Architecture", "URL"],
    "AWS:InstanceDetailedInformation": [
        "CPUModel", "CPUCores", "CPUs", "CPUSpeedMHz", "CPUSockets", "CPUHyperThreadEnabled",
        "OSServicePack", "KernelVersion"],
    "AWS:Network": ["Name", "SubnetMask", "Gateway", "DHCPServer", "DNSServer", "MacAddress", "IPV4", "IPV6"],
}

# The columns glue-column-remover drops after each crawl (table -> data columns).
REMOVED_COLUMNS = {"aws_instanceinformation": {"resourcetype"}}

# ConfigSnapshotTable's definition is read from the template itself (columns, struct fields and the
# OpenX SerDe's properties), so the local table is the deployed one.
TEMPLATE = Path(__file__).resolve().parents[1] / "cfn" / "central-reporting.yaml"


class AthenaError(Exception):
    """What Athena would answer instead of rows (its error text)."""


def _template(template: Path) -> dict:
    """The parsed template (parsed once while the file is unchanged: a connection reads both the
    crawler's targets and the Config table from it)."""
    return _parse_template(template, template.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _parse_template(template: Path, mtime_ns: int) -> dict:
    # The emulator's CloudFormation loader: one reading of the short forms for the whole emulator.
    return load_template_text(template.read_text())


def sync_exclusions(template: Path = TEMPLATE) -> dict[str, list[str]]:
    """The ``Exclusions`` of each type folder the stack's crawler crawls (its S3 targets: one per
    type folder, the folder being the target path's last)."""
    targets = _template(template)["Resources"]["Crawler"]["Properties"]["Targets"]["S3Targets"]
    return {_path_text(t["Path"]).rstrip("/").rsplit("/", 1)[-1]: list(t.get("Exclusions") or []) for t in targets}


def _path_text(path) -> str:
    """A target path's text: a string, or the template of its ``Fn::Sub`` (either form)."""
    if isinstance(path, dict) and "Fn::Sub" in path:
        sub = path["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else sub
    return path


@dataclass(frozen=True)
class ConfigTable:
    """The Glue definition of the Config snapshot table: top-level columns (name -> Hive type), the
    fields of the ``configurationitems`` struct (name -> Hive type) and the SerDe parameters."""

    columns: dict[str, str]
    item_fields: dict[str, str]
    serde: dict[str, str]

    @property
    def case_insensitive(self) -> bool:
        # "case.insensitive ... The default is TRUE" (Athena User Guide, "OpenX JSON SerDe").
        return self.serde.get("case.insensitive", "true").lower() != "false"

    def key(self, name: str) -> str:
        """The JSON key a column or struct field reads: its mapping, else its own name."""
        return self.serde.get(f"mapping.{name}", name)

    @classmethod
    def from_template(cls, template: Path = TEMPLATE) -> "ConfigTable":
        sd = _template(template)["Resources"]["ConfigSnapshotTable"]["Properties"]["TableInput"]["StorageDescriptor"]
        columns = {c["Name"]: c["Type"] for c in sd["Columns"]}
        struct = re.fullmatch(r"array<struct<(.*)>>", columns["configurationitems"]).group(1)
        fields = dict(f.split(":", 1) for f in re.findall(r"[a-z0-9]+:(?:map<[^>]*>|[a-z]+)", struct))
        return cls(columns, fields, {k: str(v) for k, v in (sd["SerdeInfo"].get("Parameters") or {}).items()})




# Compressed bytes of Config snapshots the duplicate-key check parses (every object below this).
DUPLICATE_KEY_CHECK_BYTES = 64 * 2**20

CONFIG_KEY = re.compile(
    r"(?:^|/)AWSLogs/\d{12}/Config/[a-z0-9-]+/\d{4}/\d{1,2}/\d{1,2}/ConfigSnapshot/[^/]+$")

def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _crawl(con: duckdb.DuckDBPyConnection, type_dir: Path, exclusions: list[str]) -> tuple[Table, list[str]]:
    """What the crawler makes of the type folder `type_dir` (``crawler_model.Table``: partition
    keys and typed columns), and every key spelling of the objects it crawls (DuckDB's JSON reader
    matches keys exactly, the SerDe case-insensitively, so each column is read by its spelling).

    The objects are listed by DuckDB in S3's order (by key) and only their names pass through
    Python: exclusions first, then the Hive folders. Their contents are read by DuckDB, which
    keeps one value of each key per JSON type for the classifier (``crawler_model.json_type``),
    so every object is parsed once, by DuckDB."""
    found = Table()
    if not type_dir.is_dir():
        return found, []
    root = type_dir.as_posix() + "/"
    names = sorted(f[len(root):] for (f,) in con.execute("SELECT file FROM glob(?)", [root + "**"]).fetchall())
    crawled = [name for name in names if not excluded(name, exclusions)]
    placed = sum(found.place(name) for name in crawled)
    # The objects the crawler reads are exactly those of the partition folders (the sync's case:
    # its only other object is the excluded write check): one glob reads them; otherwise the list.
    in_partitions = sum(1 for name in names if (p := partition(name)) and p[0] == found.partition_keys)
    if crawled and placed == len(crawled) == in_partitions:
        source = _literal(str(_partition_glob(type_dir, found.partition_keys)))
    elif crawled:
        source = "[" + ", ".join(_literal(root + name) for name in crawled) + "]"
    else:
        return found, []
    # One value per key and JSON type (per structure, for an array or object) is all the
    # classifier needs: values of one JSON type have one Hive type.
    samples = con.execute(
        "SELECT k, any_value(v) FROM (SELECT e.key AS k, e.value AS v, json_type(e.value) AS t FROM ("
        "SELECT unnest(map_entries(TRY_CAST(json AS MAP(VARCHAR, JSON)))) AS e "
        f"FROM read_json_objects({source}, format = 'newline_delimited'))) "
        "GROUP BY k, t, CASE WHEN t IN ('ARRAY', 'OBJECT') THEN json_structure(v) END").fetchall()
    spellings: set[str] = set()
    for key, value in samples:
        found.add_row({key: json.loads(value)})
        spellings.add(key)
    return found, sorted(spellings)


def _partition_glob(type_dir: Path, keys: list[str]) -> Path:
    """Every object in a partition folder (``accountid=*/region=*/resourcetype=*/*``)."""
    return type_dir.joinpath(*(f"{key}=*" for key in keys), "*")


def _load_inventory_type(con: duckdb.DuckDBPyConnection, sync_dir: Path, type_name: str, exclusions: list[str],
                         kind: str) -> None:
    table = table_name(type_name)
    type_dir = sync_dir / type_name
    found, spellings = _crawl(con, type_dir, exclusions)
    partitions = found.partition_keys or PARTITIONS
    glob = _partition_glob(type_dir, partitions)
    # Lower-case column -> the key's spelling in the objects. Only keys the objects hold become
    # columns, as with the crawler: a query reading an attribute AWS never writes (AgentStatus)
    # fails here as it fails in Athena. A folder without objects gets the documented attributes.
    keys: dict[str, str] = {}
    for key in SYNC_FIELDS + (spellings or sorted(ATTRIBUTES.get(type_name, []))):
        keys.setdefault(column_name(key), key)
    for column in REMOVED_COLUMNS.get(table, set()) | set(partitions):
        keys.pop(column, None)
    # The classifier's type; a declared attribute no object holds yet is a string, as the sync writes them.
    types = {column: _duckdb_type(found.columns.get(column, "string")) for column in keys}
    target = f"{INVENTORY_SCHEMA}.{_quote(table)}"
    outputs = [f"{_quote(key)} AS {_quote(column)}" for column, key in keys.items()] + partitions
    columns = "{" + ", ".join(f"{_literal(key)}: {_literal(types[column])}" for column, key in keys.items()) + "}"
    partition_type = _duckdb_type(PARTITION_KEY_TYPE)
    hive_types = "{" + ", ".join(f"{_literal(p)}: {_literal(partition_type)}" for p in partitions) + "}"
    try:
        con.execute(
            f"CREATE {kind} {target} AS SELECT {', '.join(outputs)} FROM read_json({_literal(str(glob))}, "
            f"format = 'newline_delimited', columns = {columns}, hive_partitioning = true, "
            f"hive_types = {hive_types})")
    except duckdb.IOException as error:
        if "No files found" not in str(error):
            raise
        declared = [f"{_quote(c)} {t}" for c, t in types.items()]
        declared += [f"{_quote(p)} {partition_type}" for p in partitions]
        con.execute(f"CREATE TABLE {target} ({', '.join(declared)})")


def _duplicate_key_check(files: list[str], table: ConfigTable) -> dict[str, str]:
    """With ``case.insensitive`` (the SerDe's default) every key of every object is lower-cased,
    and two keys that differ only in case fail the query: "HIVE_CURSOR_ERROR: Row is not a valid
    JSON Object - JSONException: Duplicate key" (Athena User Guide, "OpenX JSON SerDe"). Raises that
    error as Athena would; otherwise returns lower-case name -> the spelling the objects use."""
    spelling: dict[str, str] = {}

    def pairs(items: list[tuple[str, object]]) -> dict:
        seen: dict[str, str] = {}
        for key, _ in items:
            lower = key.lower()
            if lower in seen and seen[lower] != key:
                raise AthenaError("HIVE_CURSOR_ERROR: Row is not a valid JSON Object - "
                                  f'JSONException: Duplicate key "{lower}"')
            seen[lower] = key
            spelling.setdefault(lower, key)
        return dict(items)

    # Every object of a small fleet; of a large one, objects of every account and Region (round
    # robin) up to a byte budget: one writer (AWS Config) spells the keys of every object alike.
    by_place: dict[str, list[str]] = {}
    for file in files:
        by_place.setdefault(str(Path(file).parent.parent), []).append(file)
    budget = DUPLICATE_KEY_CHECK_BYTES
    for round_ in itertools.zip_longest(*by_place.values()):
        for file in filter(None, round_):
            if budget <= 0:
                return spelling
            budget -= os.path.getsize(file)
            with gzip.open(file, "rt") as handle:
                json.load(handle, object_pairs_hook=pairs)
    return spelling


def _load_config(con: duckdb.DuckDBPyConnection, config_dir: Path, table: ConfigTable, kind: str) -> None:
    target = f"{CONFIG_SCHEMA}.{CONFIG_TABLE}"
    items_type = "STRUCT(" + ", ".join(f"{f} {_duckdb_type(t)}" for f, t in table.item_fields.items()) + ")[]"
    files = sorted(str(p) for p in _config_snapshots(config_dir))
    if not files:
        con.execute(f"CREATE TABLE {target} (fileversion VARCHAR, configsnapshotid VARCHAR, "
                    f"configurationitems {items_type}, \"$path\" VARCHAR, accountid VARCHAR, region VARCHAR, "
                    "dt VARCHAR)")
        return
    if table.case_insensitive:
        spelling = _duplicate_key_check(files, table)
        key = lambda name: spelling.get(name, name)  # noqa: E731
    else:
        # Case-sensitive: each column reads exactly its mapped key (DuckDB's JSON reader matches
        # keys case-sensitively too), and an unmapped camelCase key reads as NULL, as in Athena.
        key = table.key
    item_json = "STRUCT(" + ", ".join(
        f"{_quote(key(f))} {_duckdb_type(t)}" for f, t in table.item_fields.items()) + ")[]"
    rename = "struct_pack(" + ", ".join(f"{f} := x.{_quote(key(f))}" for f in table.item_fields) + ")"
    key_re = r"AWSLogs/(\d{12})/Config/([^/]+)/(\d{4})/(\d{1,2})/(\d{1,2})/ConfigSnapshot/[^/]+$"
    listing = "[" + ", ".join(_literal(f) for f in files) + "]"
    con.execute(
        f"CREATE {kind} {target} AS SELECT {_quote(key('fileversion'))} AS fileversion, "
        f"{_quote(key('configsnapshotid'))} AS configsnapshotid, "
        f"CAST(list_transform({_quote(key('configurationitems'))}, x -> {rename}) AS {items_type}) AS configurationitems, "
        # Athena's "$path" pseudo-column: the object's location (here its file).
        f"filename AS \"$path\", "
        f"regexp_extract(filename, {_literal(key_re)}, 1) AS accountid, "
        f"regexp_extract(filename, {_literal(key_re)}, 2) AS region, "
        f"regexp_extract(filename, {_literal(key_re)}, 3) || '-' || "
        f"lpad(regexp_extract(filename, {_literal(key_re)}, 4), 2, '0') || '-' || "
        f"lpad(regexp_extract(filename, {_literal(key_re)}, 5), 2, '0') AS dt "
        f"FROM read_json({listing}, format = 'auto', compression = 'gzip', filename = true, "
        f"maximum_object_size = {_largest_object(files)}, columns = {{{_literal(key('fileversion'))}: 'VARCHAR', "
        f"{_literal(key('configsnapshotid'))}: 'VARCHAR', {_literal(key('configurationitems'))}: {_literal(item_json)}}})")


def _largest_object(files: list[str]) -> int:
    """The size to tell DuckDB's JSON reader a Config object can have: the largest uncompressed
    size among `files` (a gzip member ends with its size modulo 2^32), with room to spare. DuckDB
    sizes each thread's read buffer from it, so a fixed 1 GiB would cost gigabytes of memory."""
    largest = 0
    for file in files:
        with open(file, "rb") as handle:
            handle.seek(-4, os.SEEK_END)
            largest = max(largest, int.from_bytes(handle.read(4), "little"))
    return max(2 * largest, 16 * 2**20)


def _config_snapshots(config_dir: Path) -> Iterator[Path]:
    """Every snapshot object under `config_dir` (any prefix before AWSLogs/), found by walking only
    the Config folders (few files: a snapshot per account, Region and delivery)."""
    if not config_dir.is_dir():
        return
    for root, dirs, files in os.walk(config_dir):
        dirs[:] = [d for d in dirs if d not in ("ConfigHistory", "OversizedChangeNotification")]
        for name in files:
            path = Path(root) / name
            if name.endswith(".json.gz") and CONFIG_KEY.search(path.relative_to(config_dir).as_posix()):
                yield path


def _config_history(config_dir: Path) -> Iterator[Path]:
    """Every ConfigHistory object under `config_dir` (any prefix before AWSLogs/)."""
    if not config_dir.is_dir():
        return
    for root, dirs, files in os.walk(config_dir):
        dirs[:] = [d for d in dirs if d not in ("ConfigSnapshot", "OversizedChangeNotification")]
        if Path(root).name == "ConfigHistory":
            yield from (Path(root) / name for name in files if name.endswith(".json.gz"))


# The event data store's columns (CloudTrail User Guide, "Supported SQL schemas for event data
# stores", AWS Config configuration item record fields) and eventjson, which that page lists for
# CloudTrail events only but AWS's own configuration item queries read
# (aws-samples/cloud-trail-lake-query-samples, ssm-patch-compliance-*.sql).
CLOUDTRAIL_EVENTDATA = (
    "STRUCT(configurationitemversion VARCHAR, configurationitemcapturetime VARCHAR, "
    "configurationitemstatus VARCHAR, configurationitemstateid VARCHAR, accountid VARCHAR, "
    "resourcetype VARCHAR, resourceid VARCHAR, resourcename VARCHAR, arn VARCHAR, awsregion VARCHAR, "
    "availabilityzone VARCHAR, resourcecreationtime VARCHAR, configuration MAP(VARCHAR, VARCHAR), "
    "supplementaryconfiguration MAP(VARCHAR, VARCHAR), relatedevents VARCHAR, tags MAP(VARCHAR, VARCHAR))")


def _load_cloudtrail_lake(con: duckdb.DuckDBPyConnection, config_dir: Path, kind: str) -> None:
    """``ctl.config_items``: an event data store of AWS Config configuration items, one event per
    item of the ConfigHistory objects (the items Config recorded as they changed; a store holds
    the items captured after its creation). eventtime is the item's capture time: CloudTrail does
    not document how the two relate for a configuration item, and the capture time is the time the
    item describes. eventdata.configuration is a map of the item's top-level configuration keys to
    their JSON text (the documented type is map<string,string>; nested values as JSON text is our
    reading); eventjson holds the whole record with the configuration as a JSON object."""
    target = f"{CLOUDTRAIL_SCHEMA}.{CLOUDTRAIL_TABLE}"
    files = sorted(str(p) for p in _config_history(config_dir))
    if not files:
        con.execute(f"CREATE TABLE {target} (eventversion VARCHAR, eventcategory VARCHAR, eventtype VARCHAR, "
                    f"eventid VARCHAR, eventtime TIMESTAMP, awsregion VARCHAR, recipientaccountid VARCHAR, "
                    f"eventdata {CLOUDTRAIL_EVENTDATA}, eventjson VARCHAR)")
        return
    listing = "[" + ", ".join(_literal(f) for f in files) + "]"
    field = lambda name: f"ci->>'$.{name}'"  # noqa: E731
    as_map = lambda name: (f"map_from_entries(list_transform(json_keys(ci->'$.{name}'), "  # noqa: E731
                           f"k -> struct_pack(k := k, v := CAST(json_extract(ci->'$.{name}', '$.\"' || k || '\"') AS VARCHAR))))")
    captured = f"CAST(strptime({field('configurationItemCaptureTime')}, ['%Y-%m-%dT%H:%M:%S.%gZ', '%Y-%m-%dT%H:%M:%SZ']) AS TIMESTAMP)"
    con.execute(f"""
        CREATE {kind} {target} AS
        WITH items AS (
            SELECT unnest(configurationItems) AS ci
            FROM read_json({listing}, format = 'auto', compression = 'gzip', maximum_object_size = {_largest_object(files)},
                           columns = {{'configurationItems': 'JSON[]'}})
        )
        SELECT
            '1.09' AS eventversion, 'ConfigurationItem' AS eventcategory, 'AwsConfigurationItem' AS eventtype,
            md5(CAST(ci AS VARCHAR)) AS eventid, {captured} AS eventtime,
            {field('awsRegion')} AS awsregion, {field('awsAccountId')} AS recipientaccountid,
            CAST(struct_pack(
                configurationitemversion := {field('configurationItemVersion')},
                configurationitemcapturetime := {field('configurationItemCaptureTime')},
                configurationitemstatus := {field('configurationItemStatus')},
                configurationitemstateid := {field('configurationStateId')},
                accountid := {field('awsAccountId')},
                resourcetype := {field('resourceType')},
                resourceid := {field('resourceId')},
                resourcename := {field('resourceName')},
                arn := {field('ARN')},
                awsregion := {field('awsRegion')},
                availabilityzone := {field('availabilityZone')},
                resourcecreationtime := {field('resourceCreationTime')},
                configuration := {as_map('configuration')},
                supplementaryconfiguration := {as_map('supplementaryConfiguration')},
                relatedevents := CAST(ci->'$.relatedEvents' AS VARCHAR),
                tags := {as_map('tags')}
            ) AS {CLOUDTRAIL_EVENTDATA}) AS eventdata,
            CAST(json_object(
                'eventVersion', '1.09', 'eventCategory', 'ConfigurationItem', 'eventType', 'AwsConfigurationItem',
                'eventTime', strftime({captured}, '%Y-%m-%d %H:%M:%S'), 'awsRegion', {field('awsRegion')},
                'recipientAccountId', {field('awsAccountId')},
                'eventData', json_object(
                    'configurationItemVersion', {field('configurationItemVersion')},
                    'configurationItemCaptureTime', {field('configurationItemCaptureTime')},
                    'configurationItemStatus', {field('configurationItemStatus')},
                    'configurationStateId', {field('configurationStateId')},
                    'accountId', {field('awsAccountId')}, 'resourceType', {field('resourceType')},
                    'resourceId', {field('resourceId')}, 'resourceName', {field('resourceName')},
                    'arn', {field('ARN')}, 'awsRegion', {field('awsRegion')},
                    'availabilityZone', {field('availabilityZone')},
                    'resourceCreationTime', {field('resourceCreationTime')},
                    'configuration', ci->'$.configuration',
                    'supplementaryConfiguration', ci->'$.supplementaryConfiguration',
                    'relatedEvents', ci->'$.relatedEvents', 'relationships', ci->'$.relationships',
                    'tags', ci->'$.tags'))
            AS VARCHAR) AS eventjson
        FROM items""")


def connect(fleet_dir: Path | str, database: str = ":memory:",
            config_table: ConfigTable | None = None, lazy: bool = True,
            memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the ``inv`` and ``cfg`` schemas over `fleet_dir` (``sync/`` and
    ``config/`` below it). With `lazy` (the default) every table is a view that reads the JSON
    objects when a query runs, as Athena does, so memory does not grow with the fleet; without
    it the objects are loaded once into tables (faster when one small fleet answers many
    queries). `database` may name a file; `config_table` replaces the template's Config table
    definition (tests of the SerDe's rules); `memory_limit` (e.g. "4GB") caps DuckDB's memory,
    which otherwise grows to 80% of the machine's before it spills to disk. Raises `AthenaError`
    where Athena would fail the query."""
    fleet_dir = Path(fleet_dir)
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute(f"SET memory_limit = {_literal(memory_limit)}")
    # Tables have no order in Athena either; keeping the files' order makes loading several times slower.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {INVENTORY_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CONFIG_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CLOUDTRAIL_SCHEMA}")
    kind = "VIEW" if lazy else "TABLE"
    exclusions = sync_exclusions()
    for type_name in ATTRIBUTES:
        _load_inventory_type(con, fleet_dir / "sync", type_name, exclusions.get(type_name, []), kind)
    _load_config(con, fleet_dir / "config", config_table or ConfigTable.from_template(), kind)
    # An event data store holds its own copy of the events (CloudTrail Lake ingests them; it does
    # not read S3 when queried), so the stand-in is a table even when the Athena tables are views.
    _load_cloudtrail_lake(con, fleet_dir / "config", "TABLE")
    return con


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with every ``${name}`` replaced; a placeholder left over is an error."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    if left:
        raise ValueError(f"placeholders without a value: {sorted(set(left))}")
    return text


def _count_if_as_trino(node: exp.Expression) -> exp.Expression:
    """Trino's ``count_if(x)`` is the number of rows where x is TRUE, 0 when none is ("Returns the
    number of TRUE input values", Trino docs, Aggregate functions); DuckDB's is NULL when every x is
    NULL. ``count(CASE WHEN x THEN 1 END)`` means the same in both."""
    if isinstance(node, exp.CountIf):
        return exp.Count(this=exp.Case(ifs=[exp.If(this=node.this, true=exp.Literal.number(1))]))
    return node


# A JSON path segment with a colon, such as .AWS:ComplianceItem: Trino's path tokenizer allows ':'
# in dot notation (JsonPathTokenizer.isUnquotedPathCharacter), sqlglot splits it at the colon.
_COLON_SEGMENT = re.compile(r"\.([A-Za-z0-9_]+:[A-Za-z0-9_:]+)")


def _quote_colon_segments(text: str) -> str:
    """`text` with every JSON path literal ('$...') segment that holds a colon written in the
    bracket form Trino also reads (["AWS:ComplianceItem"]), which sqlglot keeps whole."""
    return re.sub(r"'\$[^']*'", lambda m: _COLON_SEGMENT.sub(r'["\1"]', m.group(0)), text)


def transpile(text: str, values: Mapping[str, str]) -> str:
    """The Athena (Trino) query `text`, placeholders replaced, as DuckDB SQL."""
    statements = sqlglot.parse(_quote_colon_segments(render(text, values)), read="trino")
    if len(statements) != 1 or statements[0] is None:
        raise ValueError(f"expected one statement, got {len(statements)}")
    return transpile_expression(statements[0])


def transpile_expression(statement: exp.Expression) -> str:
    """A parsed Athena (Trino) statement as DuckDB SQL, with the rewrites the two engines need to
    agree (see ``tests/sql/ATHENA_DUCKDB.md``)."""
    return statement.transform(_count_if_as_trino).transform(_inline_cte).sql(dialect="duckdb")


def _inline_cte(node: exp.Expression) -> exp.Expression:
    """Trino expands a WITH query wherever it is referenced rather than computing it once (Trino
    documentation, SELECT, "WITH clause": "the SQL for the WITH clause will be inlined anywhere the
    named relation is used"; Athena's engine is Trino), so a CTE read twice reads its tables twice. DuckDB materializes such a CTE instead,
    which holds every row of it in memory: over a year of Config items, more than the machine has."""
    if isinstance(node, exp.CTE):
        node.set("materialized", False)
    return node


def fetch(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict]:
    """Run DuckDB `sql` and return its rows as dicts."""
    cursor = con.execute(sql, parameters or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def stream(con: duckdb.DuckDBPyConnection, text: str, values: Mapping[str, str],
           parameters: list | None = None, batch: int = 50_000) -> Iterator[dict]:
    """`run`, with the rows read `batch` at a time (for answers too large to hold)."""
    declared = declared_parameters(text)
    if len(parameters or []) != len(declared):
        raise ValueError(f"the query takes the execution parameters {declared}, got {parameters}")
    cursor = con.cursor()
    cursor.execute(transpile(text, values), list(parameters or []))
    names = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(batch):
        for row in rows:
            yield dict(zip(names, row))


def declared_parameters(text: str) -> list[str]:
    """The execution parameters a query declares in its header (``-- parameters: a, b (...)``), in
    the order of its ``?`` placeholders."""
    match = re.search(r"^-- parameters: ([\w, ]+)", text, re.M)
    return [p.strip() for p in match.group(1).split(",")] if match else []


def read_sql(path: Path) -> str:
    """A shipped query as Athena and QuickSight get it: its ``-- include:`` parts expanded
    (cfn/render.py)."""
    return sources.expand(Path(path))


def run(con: duckdb.DuckDBPyConnection, text: str, values: Mapping[str, str],
        parameters: list | None = None) -> list[dict]:
    """Run the Athena (Trino) query `text` with `values` for its ``${...}`` placeholders and
    `parameters` for its ``?`` execution parameters (as Athena's ExecutionParameters)."""
    declared = declared_parameters(text)
    if len(parameters or []) != len(declared):
        raise ValueError(f"the query takes the execution parameters {declared}, got {parameters}")
    return fetch(con, transpile(text, values), list(parameters or []))
