"""The Glue crawler's table model: which table an S3 folder becomes, its name, partition keys,
columns and SerDe, and which objects the crawler skips.

Two callers build tables from the same S3 layout and must agree, so the rules live here once:

* ``emu_crawler`` (the emulator's ``StartCrawler``) writes the tables into the Glue catalog;
* ``localathena`` (the SQL checks' Athena stand-in) builds DuckDB views over a fleet-sim folder
  laid out as the sync bucket is.

The rules, as AWS Glue documents them:

* one table per S3 target, named after the target's last folder, lower-cased, every character
  other than a letter, digit or underscore replaced by ``_`` (``AWS:InstanceInformation`` →
  ``aws_instanceinformation``; AWS Glue Developer Guide, "How does a crawler determine when to
  create partitions?", crawler-s3-folder-table-partition.html: "add each table's root folder as a
  separate data store" for separate tables; the name rule is not documented beyond "The name of the
  table is based on the Amazon S3 prefix or folder name" (same page), the lower-casing and ``_``
  are what Athena shows for such tables);
* Hive-style folders below the target (``accountid=<id>/region=<r>/resourcetype=<t>/``) become
  partition keys with those names, one partition per folder (same page: ``year=2019/month=Jan/day=1``
  folders give "a single table with four partitions, with partition keys year, month, and day");
* columns from every JSON object's keys, lower-cased, in first-seen order, typed by the JSON
  classifier (string, boolean, bigint, double, array, struct; a key whose values disagree is a
  string) — with no check against the partition keys, so a ``resourceType`` field becomes a
  ``resourcetype`` data column beside the partition key of that name (the clash
  ``glue-column-remover`` removes);
* ``Exclusions`` are glob patterns on the key below the target (``**/test.json``: "Include and
  exclude patterns", define-crawler.html#crawler-data-stores-exclude: "The exclude path is relative
  to the include path"), with that page's glob rules (``glob_regex``); an excluded object adds
  neither columns nor a partition;
* the table's SerDe is OpenX JSON, its ``classification`` ``json``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
# The parameters a crawler sets on a JSON table and on its storage descriptor.
TABLE_PARAMETERS = {"classification": "json", "compressionType": "none", "typeOfData": "file"}
# A partition key's type: the folder name's text.
PARTITION_KEY_TYPE = "string"
HIVE_FOLDER = re.compile(r"^([^=/]+)=([^/]*)$")


def table_name(path: str, prefix: str = "") -> str:
    """The table an S3 target (``s3://bucket/prefix/AWS:Tag/``, or just the folder ``AWS:Tag``)
    becomes, with the crawler's ``TablePrefix``."""
    folder = path.rstrip("/").rsplit("/", 1)[-1]
    return prefix + re.sub(r"[^a-z0-9_]", "_", folder.lower())


@functools.lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """An exclude pattern as "Include and exclude patterns" (define-crawler.html) defines it: "/"
    separates folders; "The asterisk (*) character matches zero or more characters of a name
    component without crossing folder boundaries"; "A double asterisk (**) matches zero or more
    characters crossing folder or schema boundaries"; "?" "matches exactly one character of a name
    component"; "\\" escapes; "[...]" matches one character of a name component from a set ("[!...]"
    negates; "*", "?" and "\\" match themselves inside; "-" is literal first, or first after "!");
    "{a,b}" matches if any subpattern matches ("Groups cannot be nested"); a leading dot is an
    ordinary character. The whole key below the include path must match. (Cached: the SQL checks
    test every object of a large fleet against the same few patterns.)"""

    def translate(text: str, in_group: bool) -> str:
        out, i = [], 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                out.append(re.escape(text[i + 1]))
                i += 2
            elif c == "*":
                if text.startswith("**", i):
                    out.append(".*")
                    i += 2
                else:
                    out.append("[^/]*")
                    i += 1
            elif c == "?":
                out.append("[^/]")
                i += 1
            elif c == "[":
                j = i + 1
                negate = j < len(text) and text[j] == "!"
                j += negate
                members = []
                if j < len(text) and text[j] == "-":
                    members.append("\\-")
                    j += 1
                while j < len(text) and text[j] != "]":
                    if text[j] == "-" and members and j + 1 < len(text) and text[j + 1] != "]":
                        members.append("-")
                    else:
                        members.append(re.escape(text[j]))
                    j += 1
                if j >= len(text):  # no closing bracket: a literal "["
                    out.append(re.escape(c))
                    i += 1
                    continue
                body = "".join(members)
                out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
                i = j + 1
            elif c == "{" and not in_group:
                end = text.find("}", i)
                if end < 0:
                    out.append(re.escape(c))
                    i += 1
                    continue
                parts = text[i + 1:end].split(",")
                out.append("(?:" + "|".join(translate(p, True) for p in parts) + ")")
                i = end + 1
            else:
                out.append(re.escape(c))
                i += 1
        return "".join(out)

    return re.compile(translate(pattern, False), re.DOTALL)


def excluded(relative: str, patterns: list[str]) -> bool:
    """Whether the crawler skips the object `relative` (its key below the include path)."""
    return any(glob_regex(p).fullmatch(relative) for p in patterns)


def partition(relative: str) -> tuple[list[str], list[str]] | None:
    """The partition keys (lower-cased) and values of an object (its key below the target) whose
    every folder is a Hive ``key=value`` folder; None for an object directly at the target or below
    any other folder."""
    folders = relative.split("/")[:-1]
    hive = [HIVE_FOLDER.match(f) for f in folders]
    if not folders or not all(hive):
        return None
    return [m.group(1).lower() for m in hive], [m.group(2) for m in hive]


def column_name(key: str) -> str:
    """The column a JSON key becomes: lower-cased (Glue's catalog names are lower case, and the
    OpenX JSON SerDe matches keys case-insensitively: "case.insensitive ... The default is TRUE",
    Athena User Guide, "OpenX JSON SerDe")."""
    return key.lower()


def json_type(value: Any) -> str:
    """The Hive type Glue's JSON classifier gives a value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, list):
        inner = {json_type(v) for v in value}
        return f"array<{inner.pop() if len(inner) == 1 else 'string'}>"
    if isinstance(value, dict):
        return "struct<" + ",".join(f"{column_name(k)}:{json_type(v)}" for k, v in value.items()) + ">"
    return "string"


def json_rows(body: bytes) -> list[dict]:
    """The JSON objects of an object: one per line (the sync's layout) or one document."""
    text = body.decode("utf-8", "replace")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            try:
                value = json.loads(text)
            except ValueError:
                return []
            return [value] if isinstance(value, dict) else []
        if isinstance(value, dict):
            rows.append(value)
    return rows


@dataclass
class Table:
    """What one crawl of one S3 target finds: columns (name -> Hive type, first-seen order), the
    partition keys and each partition's folder below the target (values -> ``k=v/.../``). Fed
    object by object with `place` and `add_row`, in listing order."""

    columns: dict[str, str] = field(default_factory=dict)
    partition_keys: list[str] = field(default_factory=list)
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)

    def place(self, relative: str) -> bool:
        """Records the partition of a crawled (not excluded) object; whether it is in one. The
        first object below Hive folders sets the keys; an object below Hive folders with other
        keys is in no partition."""
        found = partition(relative)
        if found is None:
            return False
        keys, values = found
        if not self.partition_keys:
            self.partition_keys = keys
        if keys != self.partition_keys:
            return False
        self.partitions.setdefault(tuple(values), relative.rsplit("/", 1)[0] + "/")
        return True

    def add_row(self, row: dict) -> None:
        """The JSON classifier over one object of a crawled file: a new key is a new column, a key
        whose type disagrees with an earlier value's becomes a string."""
        for key, value in row.items():
            name, kind = column_name(key), json_type(value)
            if self.columns.get(name, kind) != kind:
                kind = "string"
            self.columns[name] = kind


def storage_descriptor(location: str, columns: dict[str, str]) -> dict:
    """The StorageDescriptor a crawler gives a JSON table or partition at `location`."""
    return {"Columns": [{"Name": n, "Type": t} for n, t in columns.items()], "Location": location,
            "InputFormat": INPUT_FORMAT, "OutputFormat": OUTPUT_FORMAT, "Compressed": False,
            "NumberOfBuckets": -1, "SerdeInfo": {"SerializationLibrary": JSON_SERDE,
                                                 "Parameters": {"paths": ",".join(columns)}},
            "StoredAsSubDirectories": False, "Parameters": dict(TABLE_PARAMETERS)}


# --- Hive column types as DuckDB reads them --------------------------------------------------------
# One translation for the emulator's Athena (``emu_athena_query``) and the SQL checks'
# (``localathena``): both read Glue columns (and the types the JSON classifier above gives) in DuckDB.

HIVE_SCALARS = {"string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "bigint": "BIGINT",
                "int": "INTEGER", "integer": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT",
                "double": "DOUBLE", "float": "FLOAT", "boolean": "BOOLEAN", "date": "DATE",
                "timestamp": "TIMESTAMP", "binary": "BLOB"}


class UnsupportedType(ValueError):
    """A Hive type ``duckdb_type`` does not translate."""


def split_top(text: str) -> list[str]:
    """`text` split at the commas that are not inside <...> or (...), parts trimmed, empty ones
    dropped (``map<string,decimal(10,2)>``'s inner text -> ``["string", "decimal(10,2)"]``)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def duckdb_type(hive: str) -> str:
    """A Glue (Hive) column type (a table's, or one the JSON classifier infers) as the DuckDB type
    that reads it: ``array<struct<a:string>>`` -> ``STRUCT("a" VARCHAR)[]``. Case-insensitive;
    raises ``UnsupportedType`` for a type it does not know."""
    t = hive.strip()
    low = t.lower()
    if low.startswith("array<") and low.endswith(">"):
        return duckdb_type(t[6:-1]) + "[]"
    if low.startswith("map<") and low.endswith(">"):
        key, value = split_top(t[4:-1])
        return f"MAP({duckdb_type(key)}, {duckdb_type(value)})"
    if low.startswith("struct<") and low.endswith(">"):
        fields = [f.split(":", 1) for f in split_top(t[7:-1])]
        return "STRUCT(" + ", ".join(
            '"' + n.strip().replace('"', '""') + '" ' + duckdb_type(ft) for n, ft in fields) + ")"
    if m := re.fullmatch(r"decimal\((\d+)\s*,\s*(\d+)\)", low):
        return f"DECIMAL({m.group(1)}, {m.group(2)})"
    if re.fullmatch(r"(var)?char\(\d+\)", low):
        return "VARCHAR"
    if low in HIVE_SCALARS:
        return HIVE_SCALARS[low]
    raise UnsupportedType(hive)
