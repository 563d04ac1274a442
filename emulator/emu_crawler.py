"""The Glue crawler, run: ``StartCrawler`` catalogs the crawler's S3 targets as AWS Glue does, as
the crawler's IAM role, and announces the crawl on EventBridge.

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
  ``cloudWatchLogLink`` in Succeeded and Failed);
* every request of the crawl made as the crawler's role, authorized as IAM authorizes it (section
  "whose permissions" below).

The crawl runs on a background thread; the crawler is ``RUNNING`` until it ends, then ``READY``
with ``LastCrawl`` ``SUCCEEDED`` or ``FAILED`` (and ``ErrorMessage``, which moto leaves out:
"LastCrawlInfo", Glue API reference: "ErrorMessage – If an error occurred, the error information
about the last crawl"). The emulator has no crawler schedules: a crawl starts with ``StartCrawler``
only.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
import sys
import threading
import time
import uuid
from typing import Any

from moto.events.models import events_backends
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawler, FakeCrawl, GlueBackend
from moto.s3.models import s3_backends

import emu_acting
import emu_authz
import iam_actions
from crawler_model import (PARTITION_KEY_TYPE, TABLE_PARAMETERS, Table, excluded, json_rows, storage_descriptor,
                           table_name)
from iam_policy import PolicyError

# --- whose permissions: the crawler's role ----------------------------------------------------
#
# "The crawler assumes the permissions of the AWS Identity and Access Management (IAM) role that
# you specify when you define it. This IAM role must have permissions to extract data from your
# data store and write to the Data Catalog. The AWS Glue console lists only IAM roles that have
# attached a trust policy for the AWS Glue principal service" (Glue Developer Guide, "Crawler
# prerequisites"); "Choose AWS service as the trusted entity type. Then, for service or use case,
# find and choose AWS Glue" ("Step 2: Create an IAM role for AWS Glue"). So each crawl opens a
# session of the crawler's `Role` (CreateCrawler/UpdateCrawler; a role name means the crawler's
# account's role of that name) as glue.amazonaws.com: emu_authz.session_credentials, which checks
# the role's trust policy (recorded as the decision of glue.amazonaws.com on sts:AssumeRole). Glue
# documents no aws:SourceAccount/aws:SourceArn for crawler roles (the "Crawler prerequisites"
# trust is the service alone), so the emulator sets none: a trust policy that requires them is
# refused. The session is named `AWS-Crawler`, the name of Glue's crawler sessions in the
# denials users quote ("User: arn:aws:sts::*******:assumed-role/tf-acc-test-.../AWS-Crawler is not
# authorized to perform: glue:GetConnection on resource: * (Service: AmazonDataCatalog; Status
# Code: 400; Error Code: AccessDeniedException; ...)", hashicorp/terraform-provider-aws,
# internal/service/glue/crawler.go). Then every request of the crawl is decided as that session by
# emu_authz.decide with the global keys of a request the role makes itself (Glue uses the role's
# own credentials, not a caller's: no aws:ViaAWSService or aws:CalledVia), each decision recorded
# with the others (/_emulator/authz/decisions, the least-privilege evidence); the same (action,
# resource, request context) is decided once per crawl.
#
# What is authorized, when (the resources of each action are its resource types in the Service
# Authorization Reference, iam_actions.resource_types):
# * Logs, when the crawl starts: "Crawler logs ... /aws-glue/crawlers", one stream per crawler (the
#   cloudWatchLogLink of the events: group=/aws-glue/crawlers;stream=<crawler>). AWSGlueServiceRole,
#   the policy "Crawler prerequisites" asks for ("ensure that it includes the AWSGlueServiceRole
#   policy or equivalent (or a scoped down version of this policy)"), grants "logs:CreateLogGroup",
#   "logs:CreateLogStream", "logs:PutLogEvents" on "arn:aws:logs:*:*:*:/aws-glue/*" ("Step 1: Create
#   an IAM policy for the AWS Glue service"), and Glue creates the group when it is missing (our
#   template's CreateCrawlerLogGroup: "Glue itself creates it without retention"; nuuday/
#   terraform-aws-cur: "Crawlers will automatically create this Log Group with infinite
#   retention"). So logs:CreateLogGroup on `log-group:/aws-glue/crawlers` when the group does not
#   exist, then logs:CreateLogStream and logs:PutLogEvents on
#   `log-group:/aws-glue/crawlers:log-stream:<crawler>` at every crawl (which calls Glue makes to an
#   existing stream is not documented). A denial drops the logs and nothing else: "the Crawler
#   didn't write any logs due to permission issues. At that point, the Crawler had created one
#   table" (tecRacer, "Glue Crawlers: No GetObject, No Problem", 2022); after a denied
#   CreateLogGroup nothing more is asked. The emulator keeps no crawler logs (as for Lambda's,
#   emu_lambda._deliver_logs): the decisions are the permissions Glue would use.
# * Data, per S3 target: s3:ListBucket on the bucket with s3:prefix the target's folder (one
#   listing of the prefix: which prefixes Glue lists, and with which delimiter, is not documented),
#   then s3:GetObject on each object it reads (not the excluded ones) and, for an SSE-KMS object,
#   kms:Decrypt through S3 with the object's encryption context (emu_authz.dependent): "Data
#   sources require s3:ListBucket and s3:GetObject permissions" (Glue Studio, "Review IAM
#   permissions needed for ETL jobs"); for S3 "the inline policy would at a minimum be ...
#   s3:GetObject" ("Crawler prerequisites"); "If the crawler reads Amazon S3 data encrypted with AWS
#   Key Management Service (AWS KMS), then the role must have decrypt permissions on the AWS KMS
#   key" ("Step 3: Configure security settings"; "Crawler prerequisites" says the same). "Setting up
#   encryption in AWS Glue" adds what encrypted catalogs and logs need ("Any client that accesses or
#   writes to an encrypted catalog—that is, any console user, crawler, job, or development
#   endpoint—needs" kms:GenerateDataKey, kms:Decrypt, kms:Encrypt; "Any ETL job or crawler that
#   writes encrypted Amazon CloudWatch Logs requires the following permissions in the key policy and
#   IAM policy"): the emulator has neither catalog encryption nor security configurations, so it
#   asks for neither. s3:GetBucketLocation, which AWSGlueServiceRole also grants, is not asked: no
#   page says a crawl calls it.
# * Catalog, after the data is read: glue:GetDatabase (the crawler's database), then per table
#   found glue:GetTable; a new table glue:CreateTable and its partitions glue:BatchCreatePartition
#   (100 per request, the API's limit); a table that exists, with UPDATE_IN_DATABASE,
#   glue:UpdateTable when it gains columns, glue:BatchGetPartition for the partitions found (which
#   of them exist) and glue:BatchCreatePartition for the new ones. Each on the catalog, the
#   database and the table, as the reference lists for each of these actions. Which catalog calls a
#   crawl makes is not documented: these are the emulator's, each the one API that does what the
#   crawl does.
#
# How a denial ends the crawl:
# * the role cannot be assumed: the crawl fails with "Service is unable to assume provided role.
#   Please verify role's TrustPolicy", the InvalidInputException Glue answers CreateCrawler and
#   UpdateCrawler with for such a role (hashicorp/terraform-provider-aws issue #30371 and
#   crawler.go; ansible-collections/community.aws#546 quotes the older "Service is unable to assume
#   role <arn>. Please verify role's TrustPolicy"). What LastCrawl.ErrorMessage says when a role
#   stops being assumable after the crawler was created is not documented; the emulator checks the
#   role at each crawl only (its CreateCrawler and UpdateCrawler do not).
# * a denied s3:GetObject (or kms:Decrypt through S3) skips the object: the crawler logs the S3
#   error and goes on ("Once the missing-log problem had been fixed, we could see S3 Access Denied
#   messages in the logs ... we quickly figured out that kms:Decrypt and s3:GetObject were missing",
#   and a new folder it could not read got no table, tecRacer, above; the crawler's log line as users
#   quote it: "ERROR : Not all read errors will be logged.
#   com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: Amazon S3; Status
#   Code: 403; Error Code: AccessDenied; ...)"). A target none of whose objects can be read gets no
#   table; the crawl succeeds. Not modelled: the crawler's own memory of objects it read in earlier
#   crawls, from which AWS re-creates a table it can no longer read (tecRacer, above).
# * a denied listing fails the crawl: with nothing listed the target cannot be crawled; AWS does
#   not document the message. The emulator's: "Error listing s3://<bucket>/<prefix>: " and the S3
#   SDK's AccessDenied text ("Access Denied (Service: Amazon S3; Status Code: 403; Error Code:
#   AccessDenied; Request ID: ...; S3 Extended Request ID: ...; Proxy: null)", the form of Glue's
#   "Unable to validate existence of s3 target s3://bucket1 because: All access to this object has
#   been disabled (Service: Amazon S3; Status Code: 403; Error Code: AllAccessDisabled; ...)",
#   terraform-provider-aws#30370).
# * a denied catalog read or write fails the crawl with IAM's denial and Glue's error suffix, as the
#   crawler reports a catalog refusal ("ERROR : Insufficient Lake Formation permission(s) on moj
#   (Database name: moj) (Service: AWSGlue; Status Code: 400; Error Code: AccessDeniedException;
#   Request ID: ...; Proxy: null)", ministryofjustice/modernisation-platform-environments#12190,
#   a crawler run): "User: arn:aws:sts::<account>:assumed-role/<role>/AWS-Crawler is not authorized
#   to perform: glue:CreateTable on resource: <arn> because no identity-based policy allows the
#   glue:CreateTable action (Service: AWSGlue; Status Code: 400; Error Code: AccessDeniedException;
#   Request ID: <id>; Proxy: null)". Tables written before the denial stay (nothing is rolled
#   back); the data is read before any catalog write, so a refused crawl writes nothing it found
#   after the refusal.
# * a denied log write: nothing (above), the denial recorded.
# With EMULATOR_AUTHZ=record, the decisions are recorded and nothing is refused (the role must still
# be assumable: there is no session otherwise). A policy the emulator cannot evaluate (an unknown
# condition key) fails the crawl naming it, never a silent allow.

GLUE_PRINCIPAL = "glue.amazonaws.com"
SESSION_NAME = "AWS-Crawler"
UNASSUMABLE = "Service is unable to assume provided role. Please verify role's TrustPolicy"
LOG_GROUP = "/aws-glue/crawlers"
BATCH_CREATE, BATCH_GET = 100, 1000


class CrawlFailed(Exception):
    """The crawl ends FAILED with this message as LastCrawl's ErrorMessage."""


def log_link(region: str, crawler: str) -> str:
    # The cloudWatchLogLink of the "Glue Crawler State Change" examples.
    return (f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
            f"group={LOG_GROUP};stream={crawler}")


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def s3_access_denied() -> str:
    """S3's AccessDenied as the AWS SDK for Java renders it (Glue's crawler runs on it)."""
    return (f"Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: "
            f"{secrets.token_hex(8).upper()}; S3 Extended Request ID: {secrets.token_urlsafe(48)}; Proxy: null)")


def glue_access_denied(denial: str) -> str:
    return (f"{denial} (Service: AWSGlue; Status Code: 400; Error Code: AccessDeniedException; "
            f"Request ID: {uuid.uuid4()}; Proxy: null)")


def role_arn(crawler: FakeCrawler, account: str) -> str:
    role = crawler.role or ""
    return role if role.startswith("arn:") else f"arn:{emu_authz.PARTITION}:iam::{account}:role/{role}"


class RoleSession:
    """The crawler's role as Glue assumes it for one crawl, and what it may do (emu_acting.Acting:
    each (action, resource, request context) decided once)."""

    def __init__(self, backend: GlueBackend, crawler: FakeCrawler) -> None:
        self.account, self.region = backend.account_id, backend.region_name
        self.role = role_arn(crawler, self.account)
        try:
            credentials = emu_authz.session_credentials(self.role, SESSION_NAME, service=GLUE_PRINCIPAL,
                                                        region=self.region)
        except PolicyError as error:
            raise self._cannot_authorize(f"emulator: cannot authorize sts:AssumeRole on {self.role}: {error}") \
                from None
        except PermissionError:
            raise CrawlFailed(UNASSUMABLE) from None
        self.caller = emu_authz.principal_of(credentials["access_key_id"])
        self.acting = emu_acting.Acting(self.caller, self.account, self.region, unevaluable=self._cannot_authorize)

    @staticmethod
    def _cannot_authorize(message: str) -> CrawlFailed:
        print(f"{message} (Glue crawler)", file=sys.stderr)
        emu_authz.log({"error": message})
        return CrawlFailed(message)

    def denial(self, auth: iam_actions.Authorization) -> str | None:
        """IAM's denial message, or None when allowed (or when the emulator only records)."""
        return self.acting.denial(auth)

    def s3(self, operation: str, bucket: str, **params: Any) -> str | None:
        """IAM's denial of an S3 request of the crawl, or None when allowed."""
        return self.acting.s3(operation, bucket, **params)

    def glue(self, action: str, database: str, table: str | None = None) -> None:
        """Fails the crawl when the role may not `action` the catalog, the database (and the
        table), decided from the catalog down."""
        denial = self.acting.glue(action, database, table)
        if denial is not None:
            raise CrawlFailed(glue_access_denied(denial))

    def logs(self, crawler: str) -> None:
        """The log writes of the crawl: a denial drops the logs, nothing else."""
        from moto.logs.models import logs_backends

        group = f"arn:{emu_authz.PARTITION}:logs:{self.region}:{self.account}:log-group:{LOG_GROUP}"
        if LOG_GROUP not in logs_backends[self.account][self.region].groups:
            if self.denial(iam_actions.Authorization("logs:CreateLogGroup", group, self.account)) is not None:
                return
        stream = f"{group}:log-stream:{crawler}"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            if self.denial(iam_actions.Authorization(action, stream, self.account)) is not None:
                return


class Crawl:
    """One crawl of one crawler as its role; counts what it did for the event."""

    def __init__(self, backend: GlueBackend, crawler: FakeCrawler, access: RoleSession) -> None:
        self.backend, self.crawler, self.access = backend, crawler, access
        self.tables_created = self.tables_updated = self.partitions_created = 0
        self.read_errors = 0

    def run(self) -> None:
        self.access.logs(self.crawler.name)
        found = [self.read_target(target["Path"], target.get("Exclusions", []))
                 for target in (self.crawler.targets or {}).get("S3Targets", [])]
        database = self.crawler.database_name
        self.access.glue("glue:GetDatabase", database)
        for name, location, table in found:
            if table.columns:
                self.write_table(name, location, table)

    def read_target(self, path: str, exclusions: list[str]) -> tuple[str, str, Table]:
        match = re.match(r"^s3://([^/]+)/?(.*)$", path)
        if not match:
            raise ValueError(f"the S3 target {path!r} is not an s3:// path")
        bucket_name, prefix = match.group(1), match.group(2)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = s3_backends[self.backend.account_id]["global"].get_bucket(bucket_name)
        if self.access.s3("ListObjectsV2", bucket_name, **({"Prefix": prefix} if prefix else {})) is not None:
            raise CrawlFailed(f"Error listing s3://{bucket_name}/{prefix}: {s3_access_denied()}")
        found = Table()
        for key, obj in list(bucket.keys.items()):
            if not key.startswith(prefix) or key.endswith("/"):
                continue
            relative = key[len(prefix):]
            if excluded(relative, exclusions):
                continue
            if self.access.s3("GetObject", bucket_name, Key=key) is not None:
                self.read_errors += 1  # logged by Glue, skipped
                continue
            found.place(relative)
            current = obj if not isinstance(obj, list) else obj[-1]
            for row in json_rows(current.value):
                found.add_row(row)
        return table_name(path, self.crawler.table_prefix or ""), f"s3://{bucket_name}/{prefix}", found

    def write_table(self, name: str, location: str, found: Table) -> None:
        columns = found.columns
        database = self.crawler.database_name
        policy = (self.crawler.schema_change_policy or {}).get("UpdateBehavior", "UPDATE_IN_DATABASE")
        self.access.glue("glue:GetTable", database, name)
        try:
            table = self.backend.get_table(database, name)
        except Exception:  # TableNotFoundException
            table = None
        if table is None:
            self.access.glue("glue:CreateTable", database, name)
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
                self.access.glue("glue:UpdateTable", database, name)
                data = table.as_dict()
                data["StorageDescriptor"]["Columns"] = [{"Name": n, "Type": t} for n, t in merged.items()]
                for drop in ("DatabaseName", "CreateTime", "UpdateTime", "CreatedBy", "IsRegisteredWithLakeFormation",
                             "CatalogId", "VersionId"):
                    data.pop(drop, None)
                table.update(data)
                self.tables_updated += 1
            if found.partitions:
                self.access.glue("glue:BatchGetPartition", database, name)
        else:
            return
        new = [(values, folder) for values, folder in found.partitions.items()
               if str(list(values)) not in table.partitions]
        for start in range(0, len(new), BATCH_CREATE):
            self.access.glue("glue:BatchCreatePartition", database, name)
            for values, folder in new[start:start + BATCH_CREATE]:
                table.create_partition({"Values": list(values),
                                        "StorageDescriptor": storage_descriptor(location + folder, columns)})
                self.partitions_created += 1


class RunningCrawl(FakeCrawl):
    """A crawl whose status is what the crawl thread sets (moto's advances on being read)."""

    def __init__(self, crawler_name: str) -> None:
        super().__init__(crawler_name)
        self._state = "RUNNING"
        self.error_message: str | None = None

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
    try:
        work = Crawl(backend, crawler, RoleSession(backend, crawler))
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
        crawl.error_message = str(e)
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


_moto_as_dict = FakeCrawler.as_dict


def _crawler_as_dict(self: FakeCrawler) -> dict[str, Any]:
    """moto's crawler, with LastCrawl's ErrorMessage of a failed crawl ("LastCrawlInfo")."""
    data = _moto_as_dict(self)
    message = getattr(self.crawls[-1], "error_message", None) if self.crawls else None
    if message and "LastCrawl" in data:
        data["LastCrawl"]["ErrorMessage"] = message
    return data


def install() -> None:
    """Replaces moto's StartCrawler by a crawl, and the crawler's state by the crawl's."""
    GlueBackend.start_crawler = start_crawler  # type: ignore[method-assign]
    FakeCrawler.status = property(_crawler_state)  # type: ignore[assignment]
    FakeCrawler.as_dict = _crawler_as_dict  # type: ignore[method-assign]
