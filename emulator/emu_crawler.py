"""The Glue crawler, run: ``StartCrawler`` catalogs the crawler's S3 targets as AWS Glue does and
announces the crawl on EventBridge.

moto's ``StartCrawler`` only records a crawl that never reads anything. A stack's crawler is what
turns the sync bucket into tables, and its ``Glue Crawler State Change`` event is what triggers
``glue-column-remover``; so the emulator crawls:

* one table per S3 target, its name, partitions, typed columns and SerDe as ``crawler_model``
  describes them (the rules and their AWS sources are there, shared with ``localathena``), the
  target's ``Exclusions`` skipped;
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

from moto.events.models import events_backends
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawler, FakeCrawl, GlueBackend
from moto.s3.models import s3_backends

from crawler_model import (PARTITION_KEY_TYPE, TABLE_PARAMETERS, Table, excluded, json_rows, storage_descriptor,
                           table_name)


def log_link(region: str, crawler: str) -> str:
    # The cloudWatchLogLink of the "Glue Crawler State Change" examples.
    return (f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
            f"group=/aws-glue/crawlers;stream={crawler}")


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        found = Table()
        for key, obj in list(bucket.keys.items()):
            if not key.startswith(prefix) or key.endswith("/"):
                continue
            relative = key[len(prefix):]
            if excluded(relative, exclusions):
                continue
            found.place(relative)
            current = obj if not isinstance(obj, list) else obj[-1]
            for row in json_rows(current.value):
                found.add_row(row)
        if not found.columns:
            return
        self.write_table(table_name(path, self.crawler.table_prefix or ""), f"s3://{bucket_name}/{prefix}", found)

    def write_table(self, name: str, location: str, found: Table) -> None:
        columns = found.columns
        database = self.crawler.database_name
        policy = (self.crawler.schema_change_policy or {}).get("UpdateBehavior", "UPDATE_IN_DATABASE")
        try:
            table = self.backend.get_table(database, name)
        except Exception:  # TableNotFoundException
            table = None
        if table is None:
            self.backend.create_table(database, name, {
                "Name": name, "StorageDescriptor": storage_descriptor(location, columns),
                "PartitionKeys": [{"Name": k, "Type": PARTITION_KEY_TYPE} for k in found.partition_keys],
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {**TABLE_PARAMETERS, "UPDATED_BY_CRAWLER": self.crawler.name}})
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
        for values, folder in found.partitions.items():
            if str(list(values)) in table.partitions:
                continue
            table.create_partition({"Values": list(values),
                                    "StorageDescriptor": storage_descriptor(location + folder, columns)})
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
