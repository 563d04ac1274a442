"""The Glue crawler, run: ``StartCrawler`` catalogs the crawler's S3 targets as AWS Glue does and
announces the crawl on EventBridge.

moto's ``StartCrawler`` only records a crawl that never reads anything. A stack's crawler is what
turns the sync bucket into tables, and its ``Glue Crawler State Change`` event is what triggers
``glue-column-remover``; so the emulator crawls:

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
  to the include path"), with that page's glob rules (``glob_regex``); the table's SerDe is OpenX
  JSON, its ``classification`` ``json``;
* ``SchemaChangePolicy.UpdateBehavior`` ``UPDATE_IN_DATABASE`` adds new columns and partitions to a
  table that exists, ``LOG`` leaves it alone; nothing is ever deleted (``DeleteBehavior`` ``LOG``
  is what our template sets);
* a ``Glue Crawler State Change`` event with state ``Started``, then ``Succeeded`` (or
  ``Failed`` with the reason) on the account's default bus ("Automating AWS Glue with
  EventBridge": events for Started, Succeeded and Failed; the detail's fields and their string
  values follow the examples of "Glue Crawler State Change" events: ``startTime`` in Started,
  ``cloudWatchLogLink`` in Succeeded and Failed).

The crawl runs on a background thread; the crawler is ``RUNNING`` until it ends, then ``READY``
with ``LastCrawl`` ``SUCCEEDED`` or ``FAILED``.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
from typing import Any

from moto.events.models import events_backends
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawler, FakeCrawl, GlueBackend
from moto.s3.models import s3_backends

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
HIVE_FOLDER = re.compile(r"^([^=/]+)=([^/]*)$")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """An exclude pattern as "Include and exclude patterns" (define-crawler.html) defines it: "/"
    separates folders; "The asterisk (*) character matches zero or more characters of a name
    component without crossing folder boundaries"; "A double asterisk (**) matches zero or more
    characters crossing folder or schema boundaries"; "?" "matches exactly one character of a name
    component"; "\\" escapes; "[...]" matches one character of a name component from a set ("[!...]"
    negates; "*", "?" and "\\" match themselves inside; "-" is literal first, or first after "!");
    "{a,b}" matches if any subpattern matches ("Groups cannot be nested"); a leading dot is an
    ordinary character. The whole key below the include path must match."""

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
    return any(glob_regex(p).fullmatch(relative) for p in patterns)


def log_link(region: str, crawler: str) -> str:
    # The cloudWatchLogLink of the "Glue Crawler State Change" examples.
    return (f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
            f"group=/aws-glue/crawlers;stream={crawler}")


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table_name(path: str, prefix: str = "") -> str:
    folder = path.rstrip("/").rsplit("/", 1)[-1]
    return prefix + re.sub(r"[^a-z0-9_]", "_", folder.lower())


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
        return "struct<" + ",".join(f"{k.lower()}:{json_type(v)}" for k, v in value.items()) + ">"
    return "string"


def _rows(body: bytes) -> list[dict]:
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


class Crawl:
    """One crawl of one crawler; counts what it did for the event."""

    def __init__(self, backend: GlueBackend, crawler: FakeCrawler) -> None:
        self.backend, self.crawler = backend, crawler
        self.tables_created = self.tables_updated = self.partitions_created = 0

    def run(self) -> None:
        for target in (self.crawler.targets or {}).get("S3Targets", []):
            self.crawl_target(target["Path"], target.get("Exclusions", []))

    def crawl_target(self, path: str, exclusions: list[str]) -> None:
        match = re.match(r"^s3://([^/]+)/?(.*)$", path)
        if not match:
            raise ValueError(f"the S3 target {path!r} is not an s3:// path")
        bucket_name, prefix = match.group(1), match.group(2)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = s3_backends[self.backend.account_id]["global"].get_bucket(bucket_name)
        columns: dict[str, str] = {}
        partitions: dict[tuple[str, ...], str] = {}
        partition_keys: list[str] = []
        for key, obj in list(bucket.keys.items()):
            if not key.startswith(prefix) or key.endswith("/"):
                continue
            relative = key[len(prefix):]
            if excluded(relative, exclusions):
                continue
            folders = relative.split("/")[:-1]
            hive = [HIVE_FOLDER.match(f) for f in folders]
            if folders and all(hive):
                keys = [m.group(1).lower() for m in hive]
                if not partition_keys:
                    partition_keys = keys
                if keys == partition_keys:
                    partitions.setdefault(tuple(m.group(2) for m in hive), "/".join(folders) + "/")
            current = obj if not isinstance(obj, list) else obj[-1]
            for row in _rows(current.value):
                for k, v in row.items():
                    name, kind = k.lower(), json_type(v)
                    if columns.get(name, kind) != kind:
                        kind = "string"
                    columns[name] = kind
        if not columns:
            return
        self.write_table(table_name(path, self.crawler.table_prefix or ""), f"s3://{bucket_name}/{prefix}",
                         columns, partition_keys, partitions)

    def descriptor(self, location: str, columns: dict[str, str]) -> dict:
        return {"Columns": [{"Name": n, "Type": t} for n, t in columns.items()], "Location": location,
                "InputFormat": INPUT_FORMAT, "OutputFormat": OUTPUT_FORMAT, "Compressed": False,
                "NumberOfBuckets": -1, "SerdeInfo": {"SerializationLibrary": JSON_SERDE,
                                                     "Parameters": {"paths": ",".join(columns)}},
                "StoredAsSubDirectories": False,
                "Parameters": {"classification": "json", "compressionType": "none", "typeOfData": "file"}}

    def write_table(self, name: str, location: str, columns: dict[str, str], partition_keys: list[str],
                    partitions: dict[tuple[str, ...], str]) -> None:
        database = self.crawler.database_name
        policy = (self.crawler.schema_change_policy or {}).get("UpdateBehavior", "UPDATE_IN_DATABASE")
        try:
            table = self.backend.get_table(database, name)
        except Exception:  # TableNotFoundException
            table = None
        if table is None:
            self.backend.create_table(database, name, {
                "Name": name, "StorageDescriptor": self.descriptor(location, columns),
                "PartitionKeys": [{"Name": k, "Type": "string"} for k in partition_keys],
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"classification": "json", "compressionType": "none", "typeOfData": "file",
                               "UPDATED_BY_CRAWLER": self.crawler.name}})
            table = self.backend.get_table(database, name)
            self.tables_created += 1
        elif policy == "UPDATE_IN_DATABASE":
            existing = {c["Name"]: c["Type"] for c in (table.as_dict().get("StorageDescriptor", {}).get("Columns", []))}
            merged = {**existing, **{n: t for n, t in columns.items() if n not in existing}}
            if merged != existing:
                data = table.as_dict()
                data["StorageDescriptor"]["Columns"] = [{"Name": n, "Type": t} for n, t in merged.items()]
                for drop in ("DatabaseName", "CreateTime", "UpdateTime", "CreatedBy", "IsRegisteredWithLakeFormation",
                             "CatalogId", "VersionId"):
                    data.pop(drop, None)
                table.update(data)
                self.tables_updated += 1
        else:
            return
        for values, folder in partitions.items():
            if str(list(values)) in table.partitions:
                continue
            table.create_partition({"Values": list(values),
                                    "StorageDescriptor": self.descriptor(location + folder, columns)})
            self.partitions_created += 1


class RunningCrawl(FakeCrawl):
    """A crawl whose status is what the crawl thread sets (moto's advances on being read)."""

    def __init__(self, crawler_name: str) -> None:
        super().__init__(crawler_name)
        self._state = "RUNNING"

    @property
    def status(self) -> str:  # type: ignore[override]
        return self._state

    @status.setter
    def status(self, value: str) -> None:
        self._state = value


def _event(backend: GlueBackend, crawler: FakeCrawler, detail: dict) -> None:
    """Puts a Glue Crawler State Change event on the account's default bus."""
    bus = events_backends[backend.account_id][backend.region_name]
    bus.put_events([{"Source": "aws.glue", "DetailType": "Glue Crawler State Change",
                     "Detail": json.dumps({"crawlerName": crawler.name, "accountId": backend.account_id,
                                           **detail})}])


def _finish(backend: GlueBackend, crawler: FakeCrawler, crawl: RunningCrawl) -> None:
    started = time.monotonic()
    work = Crawl(backend, crawler)
    try:
        work.run()
        crawl.status = "SUCCEEDED"
        detail = {"state": "Succeeded", "message": "Crawler Succeeded",
                  "tablesCreated": str(work.tables_created), "tablesUpdated": str(work.tables_updated),
                  "tablesDeleted": "0", "partitionsCreated": str(work.partitions_created),
                  "partitionsUpdated": "0", "partitionsDeleted": "0", "warningMessage": "N/A",
                  "runningTime (sec)": str(int(time.monotonic() - started)),
                  "completionDate": _utc_now(),
                  "cloudWatchLogLink": log_link(backend.region_name, crawler.name)}
    except Exception as e:  # reported as Glue reports a failed crawl
        crawl.status = "FAILED"
        detail = {"state": "Failed", "message": "Crawler Failed", "errorMessage": str(e),
                  "cloudWatchLogLink": log_link(backend.region_name, crawler.name)}
    crawl.end_time = datetime.datetime.now(datetime.timezone.utc)
    crawler.crawl_elapsed_time = int((time.monotonic() - started) * 1000)
    _event(backend, crawler, detail)


def start_crawler(self: GlueBackend, name: str) -> None:
    crawler = self.get_crawler(name)
    if crawler.crawls and crawler.crawls[-1].status == "RUNNING":
        raise CrawlerRunningException(f"Crawler with name {name} has already started")
    crawl = RunningCrawl(name)
    crawler.crawls.append(crawl)
    _event(self, crawler, {"state": "Started", "message": "Crawler Started", "startTime": _utc_now()})
    threading.Thread(target=_finish, args=(self, crawler, crawl), name=f"crawl-{name}", daemon=True).start()


def _crawler_state(self: FakeCrawler) -> str:
    """The crawler's State from its last crawl: RUNNING while it runs, READY after it ended
    (LastCrawl.Status SUCCEEDED, FAILED or CANCELLED: "LastCrawlInfo", Glue API reference)."""
    if not self.crawls:
        return "READY"
    return {"RUNNING": "RUNNING", "STOPPING": "STOPPING"}.get(self.crawls[-1].status, "READY")


def install() -> None:
    """Replaces moto's StartCrawler by a crawl, and the crawler's state by the crawl's."""
    GlueBackend.start_crawler = start_crawler  # type: ignore[method-assign]
    FakeCrawler.status = property(_crawler_state)  # type: ignore[assignment]
