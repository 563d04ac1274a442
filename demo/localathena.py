"""A local stand-in for Athena over a fleet-sim folder (or anything laid out as AWS writes it).

`connect(fleet_dir)` loads into DuckDB exactly the tables the reporting stack's Athena queries read,
laid out as they are in the Glue catalog:

* schema ``inv``, one table per resource data sync type folder under ``<fleet_dir>/sync/``, as the
  Glue crawler of ``cfn/central-reporting.yaml`` makes them: table name = type folder lower-cased
  with ``:`` as ``_`` (``AWS:ComplianceItem`` -> ``aws_complianceitem``); columns = the JSON
  attribute names lower-cased (the crawler's JSON classifier and the openx JsonSerDe match keys
  case-insensitively), every one ``string``, then the partition keys ``accountid``, ``region``,
  ``resourcetype`` taken from the ``key=value`` folders of the object key. Only
  ``<Type>/accountid=*/region=*/resourcetype=*/*.json`` is read, so the sync's write check
  ``AWS:InstanceInformation/accountid=<id>/test.json`` is skipped, as the crawler's
  ``**/test.json`` exclusion skips it. An attribute a row omits is NULL; one written as ``""``
  stays ``''`` (Athena does the same).
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
100,000-node folder (about 900,000 objects) loads without a Python loop over files.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import duckdb
import sqlglot
import yaml

INVENTORY_SCHEMA = "inv"
CONFIG_SCHEMA = "cfg"
CONFIG_TABLE = "aws_config_snapshot"

# Placeholders of the Athena named queries (cfn/queries/*.sql, Fn::Sub in the template) and of the
# QuickSight dataset SQL (crates/quicksight-builder/sql/*.sql, replaced by quicksight-builder).
NAMED_QUERY_VALUES = {"Database": INVENTORY_SCHEMA, "ConfigDatabase": CONFIG_SCHEMA, "ConfigTable": CONFIG_TABLE}
DATASET_VALUES = {"database": INVENTORY_SCHEMA, "config_database": CONFIG_SCHEMA, "config_table": CONFIG_TABLE}

SYNC_FIELDS = ["resourceId", "captureTime", "schemaVersion"]
PARTITIONS = ["accountid", "region", "resourcetype"]

# The attributes of each type (the inventory schema, ../shared/reference/data-formats.md). The
# crawler's columns are the keys the objects hold; these are always declared, and keys found in a
# sample of the objects are added, so a query never fails on a column the crawler would have made.
ATTRIBUTES: dict[str, list[str]] = {
    "AWS:InstanceInformation": [
        "AgentType", "AgentVersion", "ComputerName", "InstanceId", "IpAddress", "PlatformName",
        "PlatformType", "PlatformVersion", "ResourceType", "AgentStatus", "InstanceStatus"],
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
HIVE_TO_DUCKDB = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "boolean": "BOOLEAN",
                  "double": "DOUBLE"}


class AthenaError(Exception):
    """What Athena would answer instead of rows (its error text)."""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as plain values (enough to read a table)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


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
        doc = yaml.load(template.read_text(), Loader=_CfnLoader)
        sd = doc["Resources"]["ConfigSnapshotTable"]["Properties"]["TableInput"]["StorageDescriptor"]
        columns = {c["Name"]: c["Type"] for c in sd["Columns"]}
        struct = re.fullmatch(r"array<struct<(.*)>>", columns["configurationitems"]).group(1)
        fields = dict(f.split(":", 1) for f in re.findall(r"[a-z0-9]+:(?:map<[^>]*>|[a-z]+)", struct))
        return cls(columns, fields, {k: str(v) for k, v in (sd["SerdeInfo"].get("Parameters") or {}).items()})


def _duckdb_type(hive: str) -> str:
    if m := re.fullmatch(r"map<(\w+),(\w+)>", hive):
        return f"MAP({HIVE_TO_DUCKDB[m.group(1)]}, {HIVE_TO_DUCKDB[m.group(2)]})"
    return HIVE_TO_DUCKDB[hive]


CONFIG_KEY = re.compile(
    r"(?:^|/)AWSLogs/\d{12}/Config/[a-z0-9-]+/\d{4}/\d{1,2}/\d{1,2}/ConfigSnapshot/[^/]+$")

SAMPLE_FILES = 500


def table_name(type_name: str) -> str:
    return type_name.lower().replace(":", "_")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sample(type_dir: Path, limit: int = SAMPLE_FILES) -> list[str]:
    """Up to `limit` data objects of a type folder, spread over its account and Region folders,
    found without listing every file."""
    leaves = [leaf for acct in sorted(type_dir.glob("accountid=*")) if acct.is_dir()
              for region in sorted(acct.glob("region=*")) if region.is_dir()
              for leaf in sorted(region.glob("resourcetype=*")) if leaf.is_dir()]
    if not leaves:
        return []
    per_leaf = max(1, limit // len(leaves))
    files: list[str] = []
    for leaf in leaves:
        with os.scandir(leaf) as entries:
            for n, entry in enumerate(e for e in entries if e.name.endswith(".json") and e.is_file()):
                if n >= per_leaf:
                    break
                files.append(entry.path)
    return files


def _json_keys(con: duckdb.DuckDBPyConnection, files: list[str]) -> list[str]:
    if not files:
        return []
    listing = "[" + ", ".join(_literal(f) for f in files) + "]"
    rows = con.execute(
        f"SELECT DISTINCT unnest(json_keys(json)) AS k FROM read_json_objects({listing}, "
        "format = 'newline_delimited') ORDER BY k").fetchall()
    return [r[0] for r in rows]


def _load_inventory_type(con: duckdb.DuckDBPyConnection, sync_dir: Path, type_name: str) -> None:
    table = table_name(type_name)
    type_dir = sync_dir / type_name
    # Lower-case column -> the key's spelling: the declared attributes first, then the keys only the
    # objects have; where both spell a key, the objects' spelling wins.
    found = {key.lower(): key for key in reversed(_json_keys(con, _sample(type_dir)))}
    keys: dict[str, str] = {}
    for key in ATTRIBUTES.get(type_name, []) + SYNC_FIELDS + sorted(found.values()):
        keys.setdefault(key.lower(), found.get(key.lower(), key))
    for column in REMOVED_COLUMNS.get(table, set()) | set(PARTITIONS):
        keys.pop(column, None)
    target = f"{INVENTORY_SCHEMA}.{_quote(table)}"
    outputs = [f"{_quote(key)} AS {_quote(column)}" for column, key in keys.items()] + PARTITIONS
    glob = type_dir / "accountid=*" / "region=*" / "resourcetype=*" / "*.json"
    columns = "{" + ", ".join(f"{_literal(key)}: 'VARCHAR'" for key in keys.values()) + "}"
    hive_types = "{" + ", ".join(f"{_literal(p)}: 'VARCHAR'" for p in PARTITIONS) + "}"
    try:
        con.execute(
            f"CREATE TABLE {target} AS SELECT {', '.join(outputs)} FROM read_json({_literal(str(glob))}, "
            f"format = 'newline_delimited', columns = {columns}, hive_partitioning = true, "
            f"hive_types = {hive_types})")
    except duckdb.IOException as error:
        if "No files found" not in str(error):
            raise
        con.execute(f"CREATE TABLE {target} ({', '.join(_quote(c) + ' VARCHAR' for c in [*keys, *PARTITIONS])})")


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

    for file in files:
        with gzip.open(file, "rt") as handle:
            json.load(handle, object_pairs_hook=pairs)
    return spelling


def _load_config(con: duckdb.DuckDBPyConnection, config_dir: Path, table: ConfigTable) -> None:
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
        f"CREATE TABLE {target} AS SELECT {_quote(key('fileversion'))} AS fileversion, "
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
        f"maximum_object_size = 1073741824, columns = {{{_literal(key('fileversion'))}: 'VARCHAR', "
        f"{_literal(key('configsnapshotid'))}: 'VARCHAR', {_literal(key('configurationitems'))}: {_literal(item_json)}}})")


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


def connect(fleet_dir: Path | str, database: str = ":memory:",
            config_table: ConfigTable | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the ``inv`` and ``cfg`` schemas loaded from `fleet_dir`
    (``sync/`` and ``config/`` below it). `database` may name a file to keep memory low;
    `config_table` replaces the template's Config table definition (tests of the SerDe's rules).
    Raises `AthenaError` where Athena would fail the query."""
    fleet_dir = Path(fleet_dir)
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    # Tables have no order in Athena either; keeping the files' order makes loading several times slower.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {INVENTORY_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {CONFIG_SCHEMA}")
    for type_name in ATTRIBUTES:
        _load_inventory_type(con, fleet_dir / "sync", type_name)
    _load_config(con, fleet_dir / "config", config_table or ConfigTable.from_template())
    return con


def render(text: str, values: Mapping[str, str]) -> str:
    """`text` with every ``${name}`` replaced; a placeholder left over is an error."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    if left:
        raise ValueError(f"placeholders without a value: {sorted(set(left))}")
    return text


def transpile(text: str, values: Mapping[str, str]) -> str:
    """The Athena (Trino) query `text`, placeholders replaced, as DuckDB SQL."""
    statements = sqlglot.transpile(render(text, values), read="trino", write="duckdb")
    if len(statements) != 1:
        raise ValueError(f"expected one statement, got {len(statements)}")
    return statements[0]


def fetch(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict]:
    """Run DuckDB `sql` and return its rows as dicts."""
    cursor = con.execute(sql, parameters or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def declared_parameters(text: str) -> list[str]:
    """The execution parameters a query declares in its header (``-- parameters: a, b (...)``), in
    the order of its ``?`` placeholders."""
    match = re.search(r"^-- parameters: ([\w, ]+)", text, re.M)
    return [p.strip() for p in match.group(1).split(",")] if match else []


def run(con: duckdb.DuckDBPyConnection, text: str, values: Mapping[str, str],
        parameters: list | None = None) -> list[dict]:
    """Run the Athena (Trino) query `text` with `values` for its ``${...}`` placeholders and
    `parameters` for its ``?`` execution parameters (as Athena's ExecutionParameters)."""
    declared = declared_parameters(text)
    if len(parameters or []) != len(declared):
        raise ValueError(f"the query takes the execution parameters {declared}, got {parameters}")
    return fetch(con, transpile(text, values), list(parameters or []))
