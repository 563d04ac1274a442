"""Athena queries, executed: ``StartQueryExecution`` runs the SQL in DuckDB over the tables of the
emulator's Glue Data Catalog and the objects in its S3 buckets, as Athena runs it over the
catalog and S3.

moto 5.2.5 runs nothing (``GetQueryResults`` answers rows queued through a moto endpoint, or none),
so a function that reads its answers from Athena could only be tested against canned rows. Here:

* **Tables** come from the Glue catalog of the caller's account and Region (``GetTable``'s view:
  columns and their Hive types, partition keys, SerDe and its parameters, location) and their
  partitions (each with its own location, as ``config-partitioner`` and the crawler add them).
  A partitioned table reads the objects under its partitions' locations, with the partition
  values as columns; an unpartitioned one the objects under its location. Objects whose name
  starts with ``_`` or ``.`` are skipped ("Athena ignores ... files that begin with an underscore
  (_) or a dot (.)", Athena User Guide, "Table location in Amazon S3"). ``"$path"`` is the object's
  ``s3://`` location (Athena User Guide, "Getting the file locations for source data in Amazon S3").
* **Partition projection** (Athena User Guide, "Partition projection with Amazon Athena"): a table
  whose properties set ``projection.enabled`` to ``true`` ignores its Glue partitions; its
  partitions are the objects under ``storage.location.template`` (or ``<location>/<key>=<value>/``)
  whose values the columns' ``date``, ``integer``, ``enum`` or ``injected`` projections produce
  (section "partition projection" below: the rules, each with its source, and what AWS leaves open).
* **JSON** (OpenX ``org.openx.data.jsonserde.JsonSerDe`` and Hive's ``JsonSerDe``): one object
  per line, ``.gz`` objects decompressed ("Athena ... supports ... GZIP", "Compression support in
  Athena"). The OpenX SerDe's parameters apply as the Athena User Guide ("OpenX JSON SerDe") gives
  them: ``case.insensitive`` (default ``true``: keys lower-cased, and two keys that differ only in
  case fail the query with "HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException:
  Duplicate key"), ``mapping.<column>`` (the JSON key a column reads, at any depth),
  ``ignore.malformed.json`` (a malformed line reads as a row of NULLs instead of failing).
  Each object is rewritten once into a local cache in that form and read by DuckDB's JSON reader
  with the table's declared types.
* **Parquet** (``ParquetHiveSerDe``, what ``CREATE TABLE AS`` writes here): DuckDB's reader.
* **SQL**: Athena's dialect (Trino) transpiled to DuckDB by ``localathena.transpile`` (the same
  transpiler, and the same known differences, as the SQL checks: ``tests/sql/ATHENA_DUCKDB.md``);
  ``ExecutionParameters`` replace the ``?`` placeholders in order, each value being SQL text
  (Athena API Reference, StartQueryExecution: "A list of values for the parameters in a query.
  The values are applied sequentially to the parameters in the query in the order in which the
  parameters occur").
* **Statements**: ``SELECT``/``WITH``; ``CREATE TABLE ... WITH (format = 'PARQUET' | 'JSON',
  external_location = 's3://...') AS SELECT`` (CTAS: the rows written under the location, the
  table created in the catalog); ``DROP TABLE [IF EXISTS]`` (the catalog entry only: "DROP TABLE
  ... does not delete the data", Athena User Guide, "DROP TABLE"). Anything else fails the
  query with a reason that says the emulator does not run it, never silently.
* **Two grammars** (section "Athena's two grammars"): each statement is classified as Athena's
  ``StatementType`` classifies it and parsed with its grammar: the Hive DDL statements (``DROP
  TABLE``, ``CREATE [EXTERNAL] TABLE``, ``ALTER TABLE``, ``MSCK REPAIR TABLE``, databases,
  ``DESCRIBE``, ``SHOW``) with Hive's, where names take backticks; SELECT, CTAS and views with
  Trino's, where they take double quotes. A Hive DDL statement with a double-quoted name is
  refused by ``StartQueryExecution`` as Athena refuses it (``InvalidRequestException``,
  ``AthenaErrorCode`` ``MALFORMED_QUERY``, the message Athena was observed to give).
* **Results**: ``<OutputLocation>/<QueryExecutionId>.csv`` (every value in double quotes, NULL
  as an empty field) and ``<QueryExecutionId>.csv.metadata`` (AWS writes a binary file whose
  format it does not document; here the column info as JSON, for no client should parse it);
  ``GetQueryResults`` pages of at most 1,000 rows (Athena API Reference, GetQueryResults,
  ``MaxResults``: "The maximum number of results (rows) to return in this request", valid range
  1-1000), the column names as the first row of a SELECT's first page only (AWS does not say so
  in prose; its CLI example of get-query-results shows it, and clients rely on it); a CTAS answers
  a ``rows`` column, no rows and ``UpdateCount``; a DDL statement's results are ``<id>.txt``.
  A statement that does not parse is refused by ``StartQueryExecution`` itself; more than
  ``DML_QUOTA`` queued and running queries get ``TooManyRequestsException``.
* **Permissions** (section "whose permissions"): a query runs as the principal that started it
  ("their permissions pass through Athena to determine what Athena can access", "Control access to
  Amazon S3 from Athena"): ``StartQueryExecution`` keeps its caller and verifies the output bucket
  (``s3:GetBucketLocation``), then every catalog read and write (``glue:GetDatabase``,
  ``glue:GetTable``, ``glue:GetPartitions``, ``glue:CreateTable``, ``glue:DeleteTable``...) and
  every S3 listing, read and write (with the KMS permission of SSE-KMS objects through S3) is
  decided as that caller by ``emu_authz``, once per execution; a denial fails the query with
  Athena's message.
* **States**: ``QUEUED``, ``RUNNING``, then ``SUCCEEDED``, ``FAILED`` (``StateChangeReason`` and
  ``AthenaError``) or ``CANCELLED`` (``StopQueryExecution``). Queries run on a small pool of
  threads, so several run at once and later ones queue.
* **Statistics**: ``DataScannedInBytes`` is the stored size of every object of every table the
  query reads (for Parquet, the compressed size of the column chunks of the columns it names, as
  Athena reads only those). Athena also skips partitions a ``WHERE`` excludes; the emulator does
  not, so its figure is an upper bound of Athena's.
"""

from __future__ import annotations

import atexit
import calendar
import csv
import datetime
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb
import sqlglot
from sqlglot import exp

import crawler_model
import emu_acting
import emu_authz
import emu_paging
import localathena
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends

# Queries running at once; the rest wait QUEUED, as Athena queues what exceeds its capacity.
WORKERS = int(os.environ.get("EMULATOR_ATHENA_WORKERS", "3"))
MAX_RESULTS = 1000
# Active (queued and running) DML queries per account and Region: the User Guide's last published
# default outside us-east-1 ("DML query quota - ... 20 DML active queries in all other Regions",
# Service Quotas, 2021); today's quotas vary by Region and account.
DML_QUOTA = int(os.environ.get("EMULATOR_ATHENA_DML_QUOTA", "20"))
S3_URL = re.compile(r"^s3://([^/]+)/?(.*)$")


class QueryFailed(Exception):
    """A query that fails as Athena fails it: ``ErrorType`` as "Athena error catalog" numbers them
    (1000 user errors: syntax, missing table or column; 2000 system errors), the message as the
    ``StateChangeReason``."""

    def __init__(self, message: str, error_type: int = 1000, category: int = 2) -> None:
        super().__init__(message)
        self.error_type, self.category = error_type, category


# --- whose permissions: the caller's -------------------------------------------------------------
#
# "The permissions required to run Athena queries include the following: Amazon S3 locations where
# the underlying data to query is stored ... Metadata and resources that you store in the AWS Glue
# Data Catalog, such as databases and tables" (Athena User Guide, "Identity and access management in
# Athena"); "When actors interact with Athena, their permissions pass through Athena to determine
# what Athena can access. This means that users must have permission to access Amazon S3 buckets in
# order to query them with Athena" ("Control access to Amazon S3 from Athena"). So StartQueryExecution
# keeps its caller (emu_authz.current(): a role session, a Lambda function's execution role, the
# administrator) in the Execution, and every catalog and S3 access of the query is authorized as that
# caller with emu_authz.decide, each decision recorded as the HTTP requests' are (DECISIONS, the
# least-privilege evidence). Per execution, the same (action, resource, context) is decided once.
#
# What is authorized, when:
# * Catalog ("Configure access to databases and tables in the AWS Glue Data Catalog"): "For any
#   non-delete Athena action on a resource ... you need permissions to call this action on the
#   resource (table or database) and all ancestors of the resource in the Data Catalog"; "to run
#   GetPartitions on table myTable in the database myDB, you need permissions for the action
#   glue:GetPartitions in the Data Catalog, the myDB database, and myTable"; "To run DROP TABLE, you
#   need permissions to this action on the table, the database to which it belongs, and the
#   catalog". The resources are the action's resource types in the Service Authorization Reference
#   (iam_actions.resource_types: `catalog`, `database/<db>`, `table/<db>/<table>`), decided from the
#   catalog down, so a denial names the highest object not allowed. Each table a query reads:
#   glue:GetDatabase, glue:GetTable, and glue:GetPartitions when its Glue partitions are read (a
#   projected table's are not: "Athena ... ignore[s] any partition metadata registered to the table",
#   "Partition projection with Amazon Athena"). CREATE TABLE AS: glue:GetDatabase, glue:GetTable
#   (does the table exist) and glue:CreateTable, the page's CREATE TABLE example; DROP TABLE:
#   glue:GetDatabase, glue:GetTable, glue:DeleteTable, and for a partitioned table
#   glue:GetPartitions and glue:DeletePartition (its DROP TABLE example: "If your table does not have
#   partitions, do not include partition actions"). Not required: the page's policy on the `default`
#   database and the catalog for glue:GetDatabase and glue:CreateDatabase (older versions of the page
#   called it mandatory for Athena to work with the catalog at all); the emulator asks only for the
#   objects a statement names.
# * Data: s3:GetBucketLocation on each bucket a table lives in, s3:ListBucket on the bucket with
#   s3:prefix the folder listed (a table's or Glue partition's location; for a projected table each
#   partition folder holding objects: Athena lists every projected location, empty ones included,
#   which the emulator does not enumerate), s3:GetObject on each object read, and through S3 the
#   KMS permission of an SSE-KMS object (kms:Decrypt with kms:ViaService s3.<region>.amazonaws.com and
#   the object's encryption context, emu_authz.dependent).
# * Results: s3:GetBucketLocation on the output bucket when StartQueryExecution is called, then
#   s3:PutObject on each object written (`<id>.csv`, its `.metadata`, a CTAS's data files, with the
#   ListBucket and GetBucketLocation of the CTAS location's emptiness check) with the encryption the
#   results are configured with (workgroup or request EncryptionConfiguration: SSE_S3, SSE_KMS with
#   its key, then kms:GenerateDataKey through S3; CTAS data too: "if you use Athena to insert data
#   into a table that has encrypted data, Athena uses the encryption configuration that was
#   specified for the query results to encrypt the inserted data", "Encryption at rest"). CSE_KMS
#   (Athena encrypting with KMS itself) is not emulated. The result bucket permissions Athena's own
#   policies list besides ("BaseQueryResultsPermissions" of AmazonAthenaFullAccess:
#   s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts, s3:AbortMultipartUpload,
#   s3:CreateBucket) serve multipart uploads, their clean-up and a missing bucket: the emulator writes
#   each object with one PutObject and creates no bucket, so it asks for none of them (a decision
#   would claim a permission no request used).
# * Context: every request Athena makes for the caller carries aws:ViaAWSService true and
#   aws:CalledVia [athena.amazonaws.com] ("Use CalledVia context keys for Athena": "When a principal
#   makes a request to an AWS service, that service might use the principal's credentials to make
#   subsequent requests to other services. The aws:CalledVia key contains an ordered list of each
#   service in the chain"); the KMS requests S3 makes in turn add s3.amazonaws.com. Requests from
#   Athena to S3 are TLS (aws:SecureTransport true).
#
# How a denial fails the query (ErrorCategory 2, USER; ErrorType from "Athena error catalog": 1500
# "Permission error", 1501 "Amazon S3 permission error"):
# * catalog: "Insufficient permissions to execute the query. " and Glue's AccessDeniedException
#   text. AWS documents neither the whole text nor the type: "Insufficient permissions to execute
#   the query." is the reason users report for Athena's permission failures (getredash/website#54,
#   mozilla/redash#73), and Glue's text is IAM's ("User: arn:aws:sts::aws-account-id:assumed-role/
#   .../... is not authorized to perform: glue:GetDatabase on resource: arn:aws:glue:aws-region:
#   aws-account-id:catalog because no identity-based policy allows the glue:GetDatabase action",
#   Athena User Guide, "Troubleshoot table errors", for Athena for Spark). ErrorType 1500.
# * data (listing, reading, a key S3 may not use, a CTAS write): "Permission denied on S3 path:
#   s3://<bucket>/<path>", the folder listed or the object read: Athena engine 3's text as users
#   quote it (Kubecost's AWS integration troubleshooting: "Permission denied on S3 path:
#   s3://cur-report/cur-report/cur-report/year=2022/month=8"; QuickSight's Athena driver: "Permission
#   denied on S3 path: s3://xxxxxxxx"). Athena appends "This query ran against the "<db>" database,
#   unless qualified by the query. Please post the error message on our forum or contact customer
#   support with Query Id: <id>", left out here as for every other reason. The Knowledge Center's
#   "Why do I get an Access Denied error when I run a query in Amazon Athena?" quotes an older
#   engine's ("com.amazonaws.services.s3.model.AmazonS3Exception: Access Denied (Service: Amazon S3;
#   Status Code: 403; Error Code: AccessDenied; ...) (Path: s3://my-athena-source-bucket/
#   athena_data.csv)"). AWS gives no text for a denied CTAS write: ours is the same. ErrorType 1501.
# * results: "Access denied when writing output to url: s3://<output>/<id>.csv . Please ensure you
#   are allowed to access the S3 bucket. If you are encrypting query results with KMS key, please
#   ensure you are allowed to access your KMS key", word for word the Knowledge Center article's
#   (above); "Troubleshooting in Athena", "Access Denied Error when querying Amazon S3": "This can
#   occur when you don't have permission to read the data in the bucket, permission to write to the
#   results bucket". ErrorType 1501 (AWS does not say; 401 and 402 "Failed to write query results to
#   Amazon S3" are system errors).
# * the output bucket's location: StartQueryExecution itself answers InvalidRequestException
#   "Unable to verify/create output bucket <bucket>" ("Troubleshooting in Athena": "This error can
#   occur if the specified query result location doesn't exist or if the proper permissions are not
#   present"; the Knowledge Center's "How do I resolve the 'Unable to verify/create output bucket'
#   error": the role "doesn't have required Amazon S3 permissions, such as s3:GetBucketLocation";
#   clients see it from the API call: "[Simba][AthenaJDBC](100071) An error has been thrown from the
#   AWS Athena client. Unable to verify/create output bucket <bucket_name>").
# With EMULATOR_AUTHZ=record the decisions are recorded and nothing fails. A policy the emulator
# cannot evaluate (an unknown condition key) fails the query naming it, never a silent allow.

ATHENA_PRINCIPAL = "athena.amazonaws.com"
PERMISSION_ERROR, S3_PERMISSION_ERROR = 1500, 1501


def denied_on_path(path: str) -> QueryFailed:
    return QueryFailed(f"Permission denied on S3 path: {path}", error_type=S3_PERMISSION_ERROR, category=2)


def denied_writing_output(location: str) -> QueryFailed:
    return QueryFailed(f"Access denied when writing output to url: {location} . Please ensure you are allowed to "
                       "access the S3 bucket. If you are encrypting query results with KMS key, please ensure you "
                       "are allowed to access your KMS key", error_type=S3_PERMISSION_ERROR, category=2)


class Access:
    """What the query's caller may do (emu_acting.Acting: each (action, resource, context) decided
    once per execution), with Athena's failures. No caller (an execution started outside an HTTP
    request): nothing is authorized."""

    def __init__(self, caller: emu_authz.Caller | None, account: str, region: str) -> None:
        self.caller = caller
        self.acting = None if caller is None else emu_acting.Acting(
            caller, account, region, context={"aws:ViaAWSService": "true", "aws:CalledVia": [ATHENA_PRINCIPAL]},
            called_via=(ATHENA_PRINCIPAL,),
            unevaluable=lambda message: QueryFailed(f"GENERIC_INTERNAL_ERROR: {message}", error_type=2000,
                                                    category=1))

    def glue(self, action: str, database: str, table: str | None = None) -> None:
        """Fails the query when the caller may not `action` the catalog, the database (and the table)."""
        denial = self.acting.glue(action, database, table) if self.acting else None
        if denial is not None:
            raise QueryFailed(f"Insufficient permissions to execute the query. {denial}",
                              error_type=PERMISSION_ERROR, category=2)

    def s3(self, operation: str, bucket: str, **params: Any) -> str | None:
        """IAM's denial of the S3 request Athena makes for the caller, or None when allowed."""
        return self.acting.s3(operation, bucket, **params) if self.acting else None

    def list_folder(self, bucket: str, prefix: str, location: str) -> None:
        """Fails the query when the caller may not locate the bucket or list `prefix` in it."""
        if self.s3("GetBucketLocation", bucket) or self.s3("ListObjectsV2", bucket, Prefix=prefix):
            raise denied_on_path(location)

    def read(self, obj: Any) -> None:
        """Fails the query when the caller may not read the object (or use its key through S3)."""
        if self.s3("GetObject", obj.bucket_name, Key=obj.name):
            raise denied_on_path(f"s3://{obj.bucket_name}/{obj.name}")


# --- Hive types ----------------------------------------------------------------------------------

def duckdb_type(hive: str) -> str:
    """A Glue (Hive) column type as the DuckDB type that reads it (``crawler_model.duckdb_type``,
    the translation the SQL checks share); a type it does not know fails the query."""
    try:
        return crawler_model.duckdb_type(hive)
    except crawler_model.UnsupportedType:
        raise QueryFailed(f"HIVE_UNSUPPORTED_FORMAT: the emulator does not read the column type {hive!r}") from None


def hive_type(duck: str) -> str:
    """A DuckDB result type (as DESCRIBE names it: ``STRUCT(a VARCHAR, b MAP(VARCHAR, BIGINT))[]``)
    as the Glue column type a CTAS table declares (``array<struct<a:string,b:map<string,bigint>>>``)."""
    name = duck.strip()
    if name.endswith("[]"):
        return f"array<{hive_type(name[:-2])}>"
    upper = name.upper()
    if upper.startswith("MAP(") and name.endswith(")"):
        key, value = crawler_model.split_top(name[4:-1])
        return f"map<{hive_type(key)},{hive_type(value)}>"
    if upper.startswith("STRUCT(") and name.endswith(")"):
        fields = []
        for part in crawler_model.split_top(name[7:-1]):
            if part.startswith('"'):
                field_name, rest = part[1:].split('"', 1)
            else:
                field_name, rest = part.split(None, 1)
            fields.append(f"{field_name.lower()}:{hive_type(rest)}")
        return "struct<" + ",".join(fields) + ">"
    base = upper.split("(")[0]
    return {"VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "SMALLINT": "smallint",
            "TINYINT": "tinyint", "HUGEINT": "bigint", "DOUBLE": "double", "FLOAT": "float",
            "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "JSON": "string",
            "DECIMAL": name.lower()}.get(base, "string")


def athena_type(duck: str) -> str:
    """The ``ColumnInfo.Type`` Athena gives a result column of this DuckDB type (Trino's names)."""
    name = duck.upper()
    if name.endswith("[]"):
        return "array"
    base = name.split("(")[0]
    return {"VARCHAR": "varchar", "BIGINT": "bigint", "HUGEINT": "bigint", "INTEGER": "integer",
            "SMALLINT": "smallint", "TINYINT": "tinyint", "DOUBLE": "double", "FLOAT": "real",
            "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
            "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "DECIMAL": "decimal",
            "STRUCT": "row", "MAP": "map", "BLOB": "varbinary"}.get(base, "varchar")


def render_value(value: Any) -> str | None:
    """A value as Athena writes it in results (Trino's text forms); None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).replace("e+", "E").replace("e-", "E-")
    if hasattr(value, "strftime") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, list):
        return "[" + ", ".join("null" if v is None else render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["key"], list):
            pairs = zip(value["key"], value["value"])
        else:
            pairs = value.items()
        return "{" + ", ".join(f"{k}={'null' if v is None else render_value(v)}" for k, v in pairs) + "}"
    return str(value)


# --- objects as files DuckDB reads -----------------------------------------------------------------

@dataclass
class SourceFile:
    path: str        # the local file DuckDB reads
    location: str    # the object's s3:// location ("$path")
    size: int        # the object's stored size: what Athena scans
    partition: tuple[str, ...]


class Cache:
    """Objects copied to local files, once per object version and SerDe reading."""

    PREFIX = "emulator-athena-"

    def __init__(self) -> None:
        # An emulator stopped with SIGKILL (its owner's kill-on-drop) never runs atexit: the
        # folder names its process, and the next emulator removes those of processes gone.
        self.sweep()
        self.root = tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-")
        self.lock = threading.Lock()
        atexit.register(shutil.rmtree, self.root, True)

    @classmethod
    def sweep(cls) -> None:
        """Removes the object caches of emulators that no longer run."""
        base = tempfile.gettempdir()
        for name in os.listdir(base):
            pid = name[len(cls.PREFIX):].split("-", 1)[0]
            if not name.startswith(cls.PREFIX) or not pid.isdigit():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            except PermissionError:
                pass  # another user's process: alive

    def file(self, obj: Any, reading: str, convert: Callable[[bytes], bytes]) -> str:
        digest = hashlib.sha256(f"{obj.bucket_name}/{obj.name}/{obj.etag}/{obj.version_id}/{reading}"
                                .encode()).hexdigest()
        path = os.path.join(self.root, digest[:2], digest)
        if not os.path.exists(path):
            data = convert(obj.value)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temp = f"{path}.{threading.get_ident()}"
            with open(temp, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
        return path


CACHE: Cache | None = None


def _cache() -> Cache:
    global CACHE
    if CACHE is None:
        CACHE = Cache()
    return CACHE


def _objects(account: str, location: str, access: Access) -> list[Any]:
    """The current objects under an s3:// location, in key order, skipping folders and the names
    Athena ignores; the caller must be allowed to list it."""
    m = S3_URL.match(location)
    if not m:
        raise QueryFailed(f"HIVE_INVALID_METADATA: the table location {location!r} is not an s3:// path")
    bucket_name, prefix = m.group(1), m.group(2)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    access.list_folder(bucket_name, prefix, location)
    return _listed(account, bucket_name, prefix, location)


def _listed(account: str, bucket_name: str, prefix: str, location: str) -> list[Any]:
    """The current objects of a bucket whose key starts with `prefix` (any text, not only a
    folder), in key order, skipping folders and the names Athena ignores."""
    try:
        bucket = s3_backends[account]["global"].get_bucket(bucket_name)
    except Exception:
        raise QueryFailed(f"HIVE_PATH_NOT_FOUND: the bucket of {location} does not exist") from None
    found = []
    for key in sorted(bucket.keys.keys()):
        if not key.startswith(prefix) or key.endswith("/"):
            continue
        name = key.rsplit("/", 1)[-1]
        if name.startswith(("_", ".")):
            continue
        obj = bucket.keys.get(key)
        if obj is None or not hasattr(obj, "value"):  # a delete marker
            continue
        found.append(obj)
    return found


class JsonReading:
    """How the table's JSON SerDe reads keys: the rewrite each object gets before DuckDB reads it."""

    def __init__(self, params: dict[str, str]) -> None:
        self.case_insensitive = params.get("case.insensitive", "true").lower() != "false"
        self.ignore_malformed = params.get("ignore.malformed.json", "false").lower() == "true"
        # mapping.<column> = <JSON key>: the key, as the SerDe compares it, -> the column.
        self.renames = {(v.lower() if self.case_insensitive else v): k[len("mapping."):]
                        for k, v in params.items() if k.startswith("mapping.")}
        self.name = json.dumps([self.case_insensitive, self.ignore_malformed, sorted(self.renames.items())])

    def _pairs(self, items: list[tuple[str, Any]]) -> dict:
        out: dict[str, Any] = {}
        for key, value in items:
            compared = key.lower() if self.case_insensitive else key
            name = self.renames.get(compared, compared)
            if name in out:
                raise QueryFailed("HIVE_CURSOR_ERROR: Row is not a valid JSON Object - "
                                  f'JSONException: Duplicate key "{name}"')
            out[name] = value
        return out

    def convert(self, body: bytes) -> bytes:
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        lines = []
        for line in body.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=self._pairs)
            except QueryFailed:
                raise
            except ValueError as error:
                if self.ignore_malformed:
                    row = {}
                else:
                    raise QueryFailed(f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object - JSONException: {error}") from None
            lines.append(json.dumps(row if isinstance(row, dict) else {}))
        return ("\n".join(lines) + "\n").encode() if lines else b""


# --- partition projection ----------------------------------------------------------------------------
#
# Athena User Guide, "Partition projection with Amazon Athena" (partition-projection.html): a table
# whose properties set `projection.enabled` = true gets its partitions "calculated from
# configuration rather than read from a repository like the AWS Glue Data Catalog", and "Enabling
# partition projection on a table causes Athena to ignore any partition metadata registered to the
# table in the AWS Glue Data Catalog". Column rules: "Supported types for partition projection"
# (partition-projection-supported-types.html); the location template: "Set up partition
# projection", "Specifying custom S3 storage locations" (partition-projection-setting-up.html).
#
# How the emulator finds the partitions (performance): Athena enumerates every projected value
# (the cartesian product of the columns' values) and reads each location; a relative date range
# in minutes, a wide integer range or a few enums multiplied together are millions of locations,
# nearly all empty. The emulator instead lists the S3 objects under the template's fixed prefix
# once, matches each key against the template, and keeps the objects whose values each column's
# projection would have produced (`accepts`: the value parses, is formatted as the projection
# formats it, lies in the range and on the interval's grid). The rows are the same (a projected
# location without objects reads nothing: "If a projected partition does not exist in Amazon S3,
# Athena will still project the partition. Athena does not throw an error, but no data is
# returned", same page, "Considerations and limitations"), and the cost is one listing whatever the
# ranges. WHERE clauses are not used to narrow it (DuckDB filters the rows), except for `injected`
# columns, whose only values are the query's.

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# "This column can also contain relative date strings, formatted in this regular expression
# pattern: \s*NOW\s*(([\+\-])\s*([0-9]+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?)\s*)?"
# (Supported types for partition projection, Date type, projection.columnName.range). As written:
# upper case only.
RELATIVE_DATE = re.compile(r"\s*NOW\s*(([\+\-])\s*([0-9]+)\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?)\s*)?")
# "Possible values are YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES, SECONDS, or MILLISECONDS. These
# values are case insensitive" (same page, projection.columnName.interval.unit).
DATE_UNITS = ("YEARS", "MONTHS", "WEEKS", "DAYS", "HOURS", "MINUTES", "SECONDS", "MILLISECONDS")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _invalid_property(table: str, column: str, text: str) -> QueryFailed:
    # AWS does not document the messages of a malformed projection property; ours name the
    # table, the property and what is wrong.
    return QueryFailed(f"INVALID_TABLE_PROPERTY: table {table}, projection of column {column}: {text}")


def _add(moment: datetime.datetime, amount: int, unit: str) -> datetime.datetime:
    """`moment` plus `amount` ChronoUnits, as java.time's LocalDateTime.plus does it (months and
    years keep the day of month, clamped to the month's last day)."""
    if unit in ("YEARS", "MONTHS"):
        months = moment.year * 12 + moment.month - 1 + amount * (12 if unit == "YEARS" else 1)
        year, month = divmod(months, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day)
    step = {"WEEKS": datetime.timedelta(weeks=1), "DAYS": datetime.timedelta(days=1),
            "HOURS": datetime.timedelta(hours=1), "MINUTES": datetime.timedelta(minutes=1),
            "SECONDS": datetime.timedelta(seconds=1), "MILLISECONDS": datetime.timedelta(milliseconds=1)}[unit]
    return moment + amount * step


class JavaDateFormat:
    """A `projection.<column>.format`: "A date format string based on the Java date format
    DateTimeFormatter" (Supported types for partition projection, Date type). The emulator formats
    and parses the pattern letters date partitions use: y/u (year), M/L (month: 1-2 digits, MMM
    "Jan", MMMM "January"), d, H, h, m, s, S (fraction), a (AM/PM), E (day name), text in '...'
    and any other character as itself, with java.time's widths (ENGLISH names). Other letters and
    optional sections fail the query saying so."""

    def __init__(self, pattern: str, fail: Callable[[str], QueryFailed]) -> None:
        self.pattern = pattern
        self.tokens: list[tuple[str, Any]] = []   # ("text", str) or (letter, count)
        i = 0
        while i < len(pattern):
            c = pattern[i]
            if c == "'":
                end = i + 1
                text = ""
                while True:
                    if end >= len(pattern):
                        raise fail(f"format {pattern!r}: unterminated quote")
                    if pattern[end] == "'":
                        if end + 1 < len(pattern) and pattern[end + 1] == "'":
                            text, end = text + "'", end + 2
                            continue
                        break
                    text, end = text + pattern[end], end + 1
                self.tokens.append(("text", text or "'"))
                i = end + 1
            elif c.isascii() and c.isalpha():
                count = 1
                while i + count < len(pattern) and pattern[i + count] == c:
                    count += 1
                if c not in "yuMLdHhmsSaE" or (c in "dHhms" and count > 2) or (c in "ML" and count > 4) \
                        or (c == "a" and count > 1) or (c == "E" and count > 4) or (c == "S" and count > 9):
                    raise fail(f"format {pattern!r}: the emulator does not format the pattern letters {c * count!r}")
                self.tokens.append((c, count))
                i += count
            elif c in "[]{}#":
                raise fail(f"format {pattern!r}: the emulator does not format optional sections or {c!r}")
            else:
                self.tokens.append(("text", c))
                i += 1
        letters = {t[0] for t in self.tokens if t[0] != "text"}
        if not letters & {"y", "u"}:
            # java.time cannot make a date without a year; AWS does not say what Athena does.
            raise fail(f"format {pattern!r}: the emulator needs a year (y or u) in a date format")
        # The precision that decides the default interval (see DateProjection).
        if letters & set("HhmsSa"):
            self.precision = "sub-day"
        elif letters & {"d", "E"}:
            self.precision = "day"
        elif letters & {"M", "L"}:
            self.precision = "month"
        else:
            self.precision = "year"
        self._full = re.compile("".join(re.escape(arg) if kind == "text" else f"({self._regex(kind, arg)})"
                                        for kind, arg in self.tokens))
        # A value as found in a key (no groups of its own: the template's pattern names its groups).
        self.regex = "".join(re.escape(arg) if kind == "text" else f"(?:{self._regex(kind, arg)})"
                             for kind, arg in self.tokens)

    @staticmethod
    def _regex(letter: str, count: int) -> str:
        if letter in "yu":
            return r"\d{2}" if count == 2 else r"\d{%d,}" % max(count, 1)
        if letter in "ML" and count >= 3:
            return "[A-Za-z]{3}" if count == 3 else "[A-Za-z]+"
        if letter in "MLdHhms":
            return r"\d{1,2}" if count == 1 else r"\d{2}"
        if letter == "S":
            return r"\d{%d}" % count
        if letter == "a":
            return "AM|PM"
        return "[A-Za-z]{3}" if count <= 3 else "[A-Za-z]+"   # E

    def format(self, moment: datetime.datetime) -> str:
        out = []
        for kind, count in self.tokens:
            if kind == "text":
                out.append(count)
            elif kind in "yu":
                out.append(f"{moment.year % 100:02d}" if count == 2 else str(moment.year).zfill(count))
            elif kind in "ML":
                out.append(MONTH_NAMES[moment.month - 1][:3] if count == 3 else MONTH_NAMES[moment.month - 1]
                           if count == 4 else str(moment.month).zfill(count))
            elif kind in "dHms":
                value = {"d": moment.day, "H": moment.hour, "m": moment.minute, "s": moment.second}[kind]
                out.append(str(value).zfill(count))
            elif kind == "h":
                out.append(str((moment.hour + 11) % 12 + 1).zfill(count))
            elif kind == "S":
                out.append(f"{moment.microsecond:06d}000"[:count])
            elif kind == "a":
                out.append("AM" if moment.hour < 12 else "PM")
            else:  # E
                name = DAY_NAMES[moment.weekday()]
                out.append(name[:3] if count <= 3 else name)
        return "".join(out)

    def parse(self, text: str) -> datetime.datetime | None:
        """The moment `text` names, or None when it is not a value this format writes (it must
        format back to exactly `text`: zero padding, names and day of week included)."""
        m = self._full.fullmatch(text)
        if not m:
            return None
        fields = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "microsecond": 0}
        pm = None
        twelve = None
        groups = iter(m.groups())
        for kind, count in self.tokens:
            if kind == "text":
                continue
            value = next(groups)
            if kind in "yu":
                fields["year"] = 2000 + int(value) if count == 2 else int(value)  # java.time's base 2000
            elif kind in "ML":
                if count >= 3:
                    names = [n[:3] if count == 3 else n for n in MONTH_NAMES]
                    if value not in names:
                        return None
                    fields["month"] = names.index(value) + 1
                else:
                    fields["month"] = int(value)
            elif kind in "dHms":
                fields[{"d": "day", "H": "hour", "m": "minute", "s": "second"}[kind]] = int(value)
            elif kind == "h":
                twelve = int(value)
            elif kind == "S":
                fields["microsecond"] = int((value + "000000")[:6])
            elif kind == "a":
                pm = value == "PM"
        if twelve is not None:
            if not 1 <= twelve <= 12:
                return None
            fields["hour"] = twelve % 12 + (12 if pm else 0)
        try:
            moment = datetime.datetime(**fields)
        except ValueError:
            return None
        return moment if self.format(moment) == text else None


class DateProjection:
    """`projection.<column>.type` = date (Supported types for partition projection, Date type)."""

    def __init__(self, table: str, column: str, props: dict[str, str], now: datetime.datetime) -> None:
        fail = functools.partial(_invalid_property, table, column)
        if "format" not in props or "range" not in props:
            raise fail("a date projection needs 'format' and 'range' (both are Required)")
        # "Required. A date format string based on the Java date format DateTimeFormatter".
        self.fmt = JavaDateFormat(props["format"], fail)
        self.regex = self.fmt.regex
        # "Required. A two-element, comma-separated list which provides the minimum and maximum
        # range values ... These values are inclusive"; "White spaces are allowed, but in date
        # literals are considered part of the date strings themselves" (so a literal is not trimmed).
        bounds = props["range"].split(",")
        if len(bounds) != 2:
            raise fail(f"range {props['range']!r} is not two comma-separated values")
        self.low, self.high = (self._bound(b, now, fail) for b in bounds)
        # "When the provided dates are at single-day or single-month precision, the interval is
        # optional and defaults to 1 day or 1 month, respectively. Otherwise, interval is
        # required" (and the same for interval.unit). A year-only format: AWS is silent; a year's
        # step projects the same values as a month's, so 1 YEARS.
        default_unit = {"day": "DAYS", "month": "MONTHS", "year": "YEARS"}.get(self.fmt.precision)
        interval, unit = props.get("interval"), props.get("interval.unit")
        if default_unit is None and (interval is None or unit is None):
            raise fail(f"format {self.fmt.pattern!r} is finer than a day: 'interval' and 'interval.unit' are required")
        try:
            # "A positive integer ... Leading and trailing white space is allowed."
            self.interval = int(interval.strip()) if interval is not None else 1
        except ValueError:
            self.interval = 0
        if self.interval <= 0:
            raise fail(f"interval {interval!r} is not a positive integer")
        self.unit = unit.strip().upper() if unit is not None else default_unit
        if self.unit not in DATE_UNITS:
            raise fail(f"interval.unit {unit!r} is not one of {', '.join(DATE_UNITS)}")

    def _bound(self, text: str, now: datetime.datetime, fail: Callable[[str], QueryFailed]) -> datetime.datetime:
        if m := RELATIVE_DATE.fullmatch(text):
            # "Projected date columns are generated in Coordinated Universal Time (UTC) at query
            # execution time" (Important note, Date type): NOW is the query's start, in UTC.
            moment = now
            if m.group(1):
                unit = m.group(4) if m.group(4).endswith("S") else m.group(4) + "S"
                moment = _add(now, int(m.group(3)) * (1 if m.group(2) == "+" else -1), unit)
            # AWS does not say how NOW meets a format coarser than its instant; Trino's
            # reimplementation of projection (trinodb/trino, DateProjection.adjustBoundToDateFormat)
            # truncates each bound to the format (formats it and parses it back): with
            # "NOW-3DAYS,NOW" and yyyy-MM-dd, the three days before today and today.
            return self.fmt.parse(self.fmt.format(moment)) or moment
        moment = self.fmt.parse(text)
        if moment is None:
            # "Both the minimum and maximum values must use the same format. The format specified in
            # the .format property must be the format used for these values."
            raise fail(f"range bound {text!r} is neither written as {self.fmt.pattern!r} nor NOW[+-n UNIT]")
        return moment

    def accepts(self, value: str) -> bool:
        moment = self.fmt.parse(value)
        if moment is None or not self.low <= moment <= self.high:
            return False
        # On the interval's grid from the range's start: start, start + interval, ... ("a range
        # value of 2017-01,2018-12 with an interval value of 2 and an interval.unit value of MONTHS
        # produces the values 2017-01, 2017-03, 2017-05, and so on").
        if self.unit in ("YEARS", "MONTHS"):
            months = (moment.year - self.low.year) * 12 + moment.month - self.low.month
            step = self.interval * (12 if self.unit == "YEARS" else 1)
            return months % step == 0 and _add(self.low, months, "MONTHS") == moment
        step = _add(self.low, self.interval, self.unit) - self.low
        return (moment - self.low) % step == datetime.timedelta(0)


class IntegerProjection:
    """`projection.<column>.type` = integer (Supported types for partition projection, Integer type)."""

    regex = r"-?\d+"

    def __init__(self, table: str, column: str, props: dict[str, str]) -> None:
        fail = functools.partial(_invalid_property, table, column)
        # "Required. A two-element comma-separated list that provides the minimum and maximum range
        # values ... These values are inclusive, can be negative, and can have leading zeroes.
        # Leading and trailing white space is allowed."
        try:
            self.low, self.high = (int(v.strip()) for v in props["range"].split(","))
        except (KeyError, ValueError):
            raise fail(f"range {props.get('range')!r} is not two comma-separated integers") from None
        # interval: "Optional. A positive integer ... The default is 1." digits: "Optional. A
        # positive integer that specifies the number of digits to include in the partition value's
        # final representation ... The default is no static number of digits and no leading zeroes."
        try:
            self.interval = int(props.get("interval", "1").strip())
            self.digits = int(props["digits"].strip()) if "digits" in props else None
        except ValueError:
            raise fail("interval and digits must be positive integers") from None
        if self.interval <= 0 or (self.digits is not None and self.digits <= 0):
            raise fail("interval and digits must be positive integers")

    def accepts(self, value: str) -> bool:
        number = int(value)
        # The value as projected: "%0<digits>d" (a sign counts in the width, as Java's and
        # Python's formats agree), else the plain number.
        written = f"{number:0{self.digits}d}" if self.digits else str(number)
        return written == value and self.low <= number <= self.high and (number - self.low) % self.interval == 0


class EnumProjection:
    """`projection.<column>.type` = enum (Supported types for partition projection, Enum type)."""

    def __init__(self, table: str, column: str, props: dict[str, str]) -> None:
        if "values" not in props:
            raise _invalid_property(table, column, "an enum projection needs 'values' (Required)")
        # "Required. A comma-separated list of enumerated partition values ... Any white space is
        # considered part of an enum value."
        self.values = set(props["values"].split(","))
        self.regex = "|".join(re.escape(v) for v in sorted(self.values, key=len, reverse=True) if v) or "(?!)"

    def accepts(self, value: str) -> bool:
        return value in self.values


class InjectedProjection:
    """`projection.<column>.type` = injected (Supported types for partition projection, Injected
    type): "Queries on injected columns fail if a filter expression is not provided for each
    injected column" and "Queries on an injected column fail if a filter expression on the column
    allows multiple values". The emulator takes the query's `<column> = <literal>` comparisons;
    none, or two different values, fail the query (AWS does not document the message: ours is our
    best match). Any other filter on the column is left to DuckDB."""

    regex = r"[^/]+"

    def __init__(self, table: str, column: str, query: exp.Expression | None) -> None:
        found = set()
        for node in (query.find_all(exp.EQ) if query is not None else ()):
            sides = (node.this, node.expression)
            for a, b in (sides, sides[::-1]):
                if isinstance(a, exp.Column) and a.name.lower() == column and isinstance(b, exp.Literal):
                    found.add(b.this)
        if len(found) != 1:
            raise QueryFailed(f"CONSTRAINT_VIOLATION: For the injected projected partition column {column}, the WHERE "
                              "clause must contain only static equality conditions, and at least one such condition "
                              "must be present.")
        self.value = found.pop()

    def accepts(self, value: str) -> bool:
        return value == self.value


def projection_enabled(params: dict[str, str]) -> bool:
    # "For Key, enter projection.enabled, and for its Value, enter true" and "You can disable
    # partition projection on this table at any time by setting projection.enabled to false" (Set up
    # partition projection). The case and white space of "true" are not specified: both tolerated.
    return str(params.get("projection.enabled", "")).strip().lower() == "true"


def projected_objects(account: str, table: str, location: str, keys: list[str], params: dict[str, str],
                      query: exp.Expression | None, access: Access) -> list[tuple[tuple[str, ...], Any]]:
    """The objects of a projected table's partitions, each with its partition values, in key order."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    lowered = {k.lower(): str(v) for k, v in params.items()}
    projections: dict[str, Any] = {}
    missing = []
    for key in keys:
        prefix = f"projection.{key}."
        props = {k[len(prefix):]: v for k, v in lowered.items() if k.startswith(prefix)}
        # "Leading and trailing white space is allowed" in every type's value, "case insensitive".
        kind = props.get("type", "").strip().lower()
        if not kind:
            missing.append(key)
        elif kind == "date":
            projections[key] = DateProjection(table, key, props, now)
        elif kind == "integer":
            projections[key] = IntegerProjection(table, key, props)
        elif kind == "enum":
            projections[key] = EnumProjection(table, key, props)
        elif kind == "injected":
            projections[key] = InjectedProjection(table, key, query)
        else:
            # "A table can have any combination of enum, integer, date, or injected partition column types."
            raise _invalid_property(table, key, f"type {props['type']!r} is not enum, integer, date or injected")
    if missing:
        # Set up partition projection, word for word: "HIVE_METASTORE_ERROR: Table
        # database_name.table_name is configured for partition projection, but the following
        # partition columns are missing projection configuration: [column_name] (table
        # database_name.table_name)".
        raise QueryFailed(f"HIVE_METASTORE_ERROR: Table {table} is configured for partition projection, but the "
                          f"following partition columns are missing projection configuration: [{', '.join(missing)}] "
                          f"(table {table})")
    # "By default, Athena builds partition locations using the form s3://<bucket>/<table-root>/
    # partition-col-1=<partition-col-1-val>/partition-col-2=<partition-col-2-val>/" (Partition
    # projection with Amazon Athena, "Customizing the partition path template").
    template = params.get("storage.location.template") or (
        location.rstrip("/") + "/" + "/".join(f"{k}=${{{k}}}" for k in keys) + "/")
    named = [n.lower() for n in PLACEHOLDER.findall(template)]
    if set(keys) - set(named):
        # "if you use a custom template, the template must contain a placeholder for each partition
        # column" (Set up partition projection); the message is the one AWS's knowledge center
        # quotes ("How do I troubleshoot partition projection issues in Amazon Athena?").
        raise QueryFailed("INVALID_TABLE_PROPERTY: The 'storage.location.template' table property must contain "
                          "templates for all partition columns!")
    if set(named) - set(keys):
        # AWS is silent on a placeholder that names no partition column: refused, naming it.
        raise QueryFailed(f"INVALID_TABLE_PROPERTY: storage.location.template {template!r} names "
                          f"{sorted(set(named) - set(keys))}, which are not partition columns of {table}")
    m = S3_URL.match(template)
    if not m or "${" in m.group(1):
        raise QueryFailed(f"INVALID_TABLE_PROPERTY: storage.location.template {template!r} is not an s3:// location "
                          "with a fixed bucket")
    bucket, key_template = m.group(1), m.group(2)
    # "Templated locations must end with a forward slash so that the partitioned data files live in
    # a 'folder' per partition" (Set up partition projection); AWS's own injection example
    # (Dynamic ID partitioning) has none ("s3://bucket/prefix/${device_id}"): its location is read
    # as that folder all the same.
    if not key_template.endswith("/"):
        key_template += "/"
    pattern, groups, pos = [], {}, 0
    for found in PLACEHOLDER.finditer(key_template):
        pattern.append(re.escape(key_template[pos:found.start()]))
        name = found.group(1).lower()
        if name in groups:
            # A column placed twice holds the same value in both places (AWS's second example of a
            # template repeats ${b} and ${c}).
            pattern.append(f"(?P={groups[name]})")
        else:
            groups[name] = f"p{len(groups)}"
            pattern.append(f"(?P<{groups[name]}>{projections[name].regex})")
        pos = found.end()
    pattern.append(re.escape(key_template[pos:]) + ".+")
    matcher = re.compile("".join(pattern), re.S)
    fixed = key_template[:key_template.index("${")] if "${" in key_template else key_template
    out = []
    if access.s3("GetBucketLocation", bucket):
        raise denied_on_path(f"s3://{bucket}/{fixed}")
    # Objects below the partition's folder, at any depth, as a Glue partition's location is read.
    for obj in _listed(account, bucket, fixed, template):
        hit = matcher.fullmatch(obj.name)
        if hit is None:
            continue
        values = tuple(hit.group(groups[k]) for k in keys)
        if all(projections[k].accepts(v) for k, v in zip(keys, values)):
            # Athena lists the projected partition's folder: the caller must be allowed to.
            named = dict(zip(keys, values))
            folder = PLACEHOLDER.sub(lambda m: named[m.group(1).lower()], key_template)
            access.list_folder(bucket, folder, f"s3://{bucket}/{folder}")
            out.append((values, obj))
    return out


@dataclass
class Table:
    """One Glue table, resolved for a query."""

    database: str
    name: str
    columns: list[tuple[str, str]]
    partition_keys: list[str]
    serde: str
    params: dict[str, str]
    files: list[SourceFile] = field(default_factory=list)

    @property
    def format(self) -> str:
        lib = self.serde.lower()
        if "json" in lib:
            return "json"
        if "parquet" in lib:
            return "parquet"
        raise QueryFailed(f"HIVE_UNSUPPORTED_FORMAT: the emulator reads JSON and Parquet tables, not {self.serde} "
                          f"({self.database}.{self.name})")


def resolve_table(account: str, region: str, database: str, name: str, position: str,
                  query: exp.Expression | None = None, access: Access | None = None) -> Table:
    """The table as the query reads it, every catalog read and S3 access authorized as the query's
    caller (`access`; section "whose permissions")."""
    access = access or Access(None, account, region)
    backend = glue_backends[account][region]
    access.glue("glue:GetDatabase", database)
    access.glue("glue:GetTable", database, name)
    try:
        glue = backend.get_table(database, name)
    except Exception:
        raise QueryFailed(f"TABLE_NOT_FOUND: line {position}: Table 'awsdatacatalog.{database}.{name}' does not exist") from None
    data = glue.as_dict()
    if data.get("TableType") == "VIRTUAL_VIEW":
        raise QueryFailed(f"NOT_SUPPORTED: the emulator does not read views ({database}.{name})")
    sd = data.get("StorageDescriptor") or {}
    serde = sd.get("SerdeInfo") or {}
    table = Table(database, name, [(c["Name"].lower(), c["Type"]) for c in sd.get("Columns", [])],
                  [k["Name"].lower() for k in data.get("PartitionKeys") or []],
                  serde.get("SerializationLibrary") or "", {k: str(v) for k, v in (serde.get("Parameters") or {}).items()})
    reading = JsonReading(table.params) if table.format == "json" else None
    table_params = {k: str(v) for k, v in (data.get("Parameters") or {}).items()}
    found: list[tuple[tuple[str, ...], Any]] = []
    if table.partition_keys and projection_enabled(table_params):
        # Partition projection: the partitions come from the table's properties and S3, the
        # catalog's partitions are ignored (see "partition projection" above). A table without
        # partition keys has nothing to project (AWS is silent): its location is read as usual.
        found = projected_objects(account, f"{database}.{name}", sd.get("Location") or "", table.partition_keys,
                                  table_params, query, access)
    else:
        if table.partition_keys:
            access.glue("glue:GetPartitions", database, name)
            places = [(tuple(p.partition_input.get("Values", [])),
                       (p.partition_input.get("StorageDescriptor") or {}).get("Location") or "")
                      for p in glue.partitions.values()]
        else:
            places = [((), sd.get("Location") or "")]
        for values, location in places:
            if location:
                found += [(values, obj) for obj in _objects(account, location, access)]
    cache = _cache()
    for values, obj in found:
        access.read(obj)
        path = cache.file(obj, reading.name, reading.convert) if reading else cache.file(obj, "raw", lambda b: b)
        table.files.append(SourceFile(path, f"s3://{obj.bucket_name}/{obj.name}", obj.size, values))
    return table


def create_view(con: duckdb.DuckDBPyConnection, table: Table, used: set[str]) -> int:
    """The table as a DuckDB view in schema ``<database>``; returns the bytes Athena would scan.
    ``"$path"`` is a column only when the query names it: Athena's pseudo-columns are hidden from
    ``SELECT *`` (a CTAS of ``SELECT *`` copies the table's own columns)."""
    with_path = "$path" in used
    target = f"{localathena._quote(table.database)}.{localathena._quote(table.name)}"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {localathena._quote(table.database)}")
    quote, literal = localathena._quote, localathena._literal
    declared = [(n, duckdb_type(t)) for n, t in table.columns]
    files = [f for f in table.files if os.path.getsize(f.path) > 0] if table.format == "json" else table.files
    if not files:
        nulls = [f"CAST(NULL AS {t}) AS {quote(n)}" for n, t in declared]
        nulls += [f"CAST(NULL AS VARCHAR) AS {quote(k)}" for k in [*table.partition_keys, *(["$path"] if with_path else [])]]
        con.execute(f"CREATE VIEW {target} AS SELECT {', '.join(nulls)} WHERE false")
        return 0 if table.format == "json" else sum(f.size for f in table.files)
    index = f"{quote(table.database)}.{quote('__files_' + table.name)}"
    con.execute(f"CREATE TABLE {index} (__file VARCHAR, \"$path\" VARCHAR"
                + "".join(f", {quote(k)} VARCHAR" for k in table.partition_keys) + ")")
    con.executemany(f"INSERT INTO {index} VALUES ({', '.join(['?'] * (2 + len(table.partition_keys)))})",
                    [[f.path, f.location, *f.partition] for f in files])
    listing = "[" + ", ".join(literal(f.path) for f in files) + "]"
    if table.format == "json":
        columns = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in declared) + "}"
        source = (f"read_json({listing}, format = 'newline_delimited', columns = {columns}, "
                  f"filename = '__file', maximum_object_size = 268435456)")
        scanned = sum(f.size for f in table.files)
    else:
        present = {r[0].lower() for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({listing})").fetchall()}
        missing = [f"CAST(NULL AS {t}) AS {quote(n)}" for n, t in declared if n not in present]
        source = f"(SELECT *{', ' if missing else ''}{', '.join(missing)} FROM read_parquet({listing}, filename = '__file'))"
        wanted = {n for n, _ in declared if n in used} or {declared[0][0]} if declared else set()
        scanned = sum(r[0] or 0 for r in con.execute(
            f"SELECT sum(total_compressed_size) FROM parquet_metadata({listing}) "
            f"WHERE lower(path_in_schema) IN ({', '.join(literal(w) for w in wanted) or 'NULL'})").fetchall())
    data_columns = ", ".join(f"CAST(d.{quote(n)} AS {t}) AS {quote(n)}" for n, t in declared)
    partitions = "".join(f", f.{quote(k)}" for k in table.partition_keys)
    path = ', f."$path"' if with_path else ""
    con.execute(f"CREATE VIEW {target} AS SELECT {data_columns}{partitions}{path} "
                f"FROM {source} AS d JOIN {index} AS f ON d.__file = f.__file")
    return scanned


# --- Athena's two grammars: Hive DDL and Trino DML ---------------------------------------------------
#
# "With some exceptions, Athena DDL is based on HiveQL DDL and Athena DML is based on Trino" (Athena
# User Guide, "SQL reference for Athena"); "To escape reserved keywords in DDL statements, enclose
# them in backticks (`). To escape reserved keywords in SQL SELECT statements and in queries on
# views, enclose them in double quotes" (User Guide, "Reserved keywords"; the same words in "Names
# for tables, databases, and columns", whose examples quote DDL names with backticks: "CREATE
# EXTERNAL TABLE IF NOT EXISTS `_myunderscoretable`"; DROP TABLE's own example is "DROP TABLE
# `my-athena-database-01.my-athena-table`"). So each statement is classified first, as Athena's
# StatementType classifies it ("DDL indicates DDL query statements. DML indicates DML ... query
# statements, such as CREATE TABLE AS SELECT. UTILITY indicates query statements other than DDL and
# DML, such as SHOW CREATE TABLE, or DESCRIBE TABLE", API Reference, QueryExecution), then parsed with
# its grammar: the Hive DDL statements (the User Guide's "DDL statements" list: CREATE [EXTERNAL]
# TABLE, DROP TABLE, ALTER TABLE ..., MSCK REPAIR TABLE, CREATE/DROP/ALTER DATABASE, DESCRIBE,
# SHOW ...) with sqlglot's "hive" dialect, where backticks quote an identifier and double quotes a
# string; everything else with Trino's. CREATE TABLE AS SELECT and views are Trino statements: "When
# running SELECT, CTAS, or VIEW queries, put quotation marks around identifiers" ("Names for
# tables, databases, and columns"), the CTAS synopsis is Trino's ("WITH ( property_name = expression
# [, ...] )", User Guide, "CREATE TABLE AS") and its StatementType is DML (above).
#
# A Hive DDL statement that names something with double quotes is refused by StartQueryExecution
# itself: InvalidRequestException, AthenaErrorCode MALFORMED_QUERY, no execution. AWS documents
# neither the refusal nor its text (the pages above only say that DDL takes backticks; "Considerations
# and limitations" says nothing of quotes). What the emulator answers is what athena-local measured
# against Athena on 2026-09-25 (github.com/aoyagikouhei/athena-local, .claude/issue-notes/204.md and
# docs/caveats.md, "A quoted table name is rejected at StartQueryExecution before it reaches Trino"),
# for a name of at most three parts whose part q is the first one in double quotes:
#
# * DROP TABLE [IF EXISTS], SHOW COLUMNS FROM|IN: q = 1 or 3 answers "line L:C: mismatched input
#   '<part>' expecting {<EXPECTING>}", q = 2 "line L:C: no viable alternative at input '<the name up
#   to the end of part 2>'"; SHOW TABLES IN <database>: "mismatched input" whatever q;
# * DESCRIBE, DESC: q = 1 "no viable alternative" from the statement's first word, q = 2 from the
#   name's start, q = 3 "mismatched input";
# * ALTER TABLE, CREATE [EXTERNAL] TABLE (not a CTAS): "no viable alternative" from the statement's
#   first word to the end of part q;
# * SHOW CREATE TABLE: "Queries of this type are not supported";
# * MSCK REPAIR TABLE: the message of Athena's Trino parser, "line 1:1: mismatched input 'MSCK'.
#   Expecting: ...", whose list the emulator leaves out (it is Trino's list of statements, which
#   athena-local did not record).
#
# L:C is the quoted part's line and column, both from 1, the column in UTF-16 units, counted after
# the statement's leading whitespace (a leading comment counts); a newline, CR or tab inside the quoted
# input is written \n, \r, \t. EXPECTING was measured the same for every statement and name shape;
# its tokens (IDENTIFIER, BACKQUOTED_IDENTIFIER and non-reserved words such as STRATIFY or CODEGEN)
# suggest an ANTLR grammar of Spark SQL's lineage, which reads "x" as a string literal: the list is
# what may stand where that grammar wants an identifier. Not measured, and answered here with the
# same "mismatched input" at the quoted token: a double-quoted database name (CREATE/DROP/ALTER
# DATABASE, SHOW PARTITIONS, SHOW TBLPROPERTIES, ...), partition key (PARTITION ("dt" = ...)) or
# column name (a CREATE TABLE's columns, ADD/REPLACE COLUMNS, PARTITIONED BY), or the new name of
# ALTER TABLE ... RENAME TO; athena-local saw DROP DATABASE and the ALTER TABLE spellings Trino has no
# grammar for (ADD COLUMNS, SET TBLPROPERTIES) answer with Trino's parser message instead, which the
# emulator does not reproduce. Either way the call is refused with the same exception and code.
#
# Hive's own parser text, "FAILED: ParseException line L:C cannot recognize input near ...", is what
# Athena gives at run time (a FAILED query, ErrorCategory 1, ErrorType 1003 "DDL task failed") for a
# DDL statement that passes this first check and not Hive's parser: athena-local observed it for block
# comments inside SHOW CREATE TABLE, MSCK REPAIR TABLE and ALTER TABLE (issue-notes/244.md), and
# users report it (getredash/redash#2556: "FAILED: ParseException line 1:0 cannot recognize input
# near '/' '*' 'Username'" for an MSCK REPAIR TABLE). A double-quoted name never gets that far.

EXPECTING = ("{'SELECT', 'FROM', 'ADD', 'AS', 'ALL', 'DISTINCT', 'WHERE', 'GROUP', 'BY', 'GROUPING', 'SETS', "
             "'CUBE', 'ROLLUP', 'ORDER', 'HAVING', 'LIMIT', 'AT', 'OR', 'AND', 'IN', NOT, 'NO', 'EXISTS', "
             "'BETWEEN', 'LIKE', RLIKE, 'IS', 'NULL', 'TRUE', 'FALSE', 'NULLS', 'ASC', 'DESC', 'FOR', 'INTERVAL', "
             "'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'JOIN', 'CROSS', 'OUTER', 'INNER', 'LEFT', 'SEMI', 'RIGHT', "
             "'FULL', 'NATURAL', 'ON', 'LATERAL', 'WINDOW', 'OVER', 'PARTITION', 'RANGE', 'ROWS', 'UNBOUNDED', "
             "'PRECEDING', 'FOLLOWING', 'CURRENT', 'ROW', 'WITH', 'VALUES', 'CREATE', 'TABLE', 'VIEW', 'REPLACE', "
             "'INSERT', 'DELETE', 'INTO', 'DESCRIBE', 'EXPLAIN', 'FORMAT', 'LOGICAL', 'CODEGEN', 'CAST', 'SHOW', "
             "'TABLES', 'COLUMNS', 'COLUMN', 'USE', 'PARTITIONS', 'FUNCTIONS', 'DROP', 'UNION', 'EXCEPT', "
             "'INTERSECT', 'TO', 'TABLESAMPLE', 'STRATIFY', 'ALTER', 'RENAME', 'ARRAY', 'MAP', 'STRUCT', "
             "'COMMENT', 'SET', 'RESET', 'DATA', 'START', 'TRANSACTION', 'COMMIT', 'ROLLBACK', 'MACRO', 'FIRST', "
             "'AFTER', 'IF', 'DIV', 'PERCENT', 'BUCKET', 'OUT', 'OF', 'SORT', 'CLUSTER', 'DISTRIBUTE', "
             "'OVERWRITE', 'TRANSFORM', 'REDUCE', 'USING', 'SERDE', 'SERDEPROPERTIES', 'RECORDREADER', "
             "'RECORDWRITER', 'DELIMITED', 'FIELDS', 'TERMINATED', 'COLLECTION', 'ITEMS', 'KEYS', 'ESCAPED', "
             "'LINES', 'SEPARATED', 'FUNCTION', 'EXTENDED', 'REFRESH', 'CLEAR', 'CACHE', 'UNCACHE', 'LAZY', "
             "'FORMATTED', TEMPORARY, 'OPTIONS', 'UNSET', 'TBLPROPERTIES', 'DBPROPERTIES', 'BUCKETS', 'SKEWED', "
             "'STORED', 'DIRECTORIES', 'LOCATION', 'EXCHANGE', 'ARCHIVE', 'UNARCHIVE', 'FILEFORMAT', 'TOUCH', "
             "'COMPACT', 'CONCATENATE', 'CHANGE', 'CASCADE', 'RESTRICT', 'CLUSTERED', 'SORTED', 'PURGE', "
             "'INPUTFORMAT', 'OUTPUTFORMAT', DATABASE, DATABASES, 'DFS', 'TRUNCATE', 'ANALYZE', 'COMPUTE', "
             "'LIST', 'STATISTICS', 'PARTITIONED', 'EXTERNAL', 'DEFINED', 'REVOKE', 'GRANT', 'LOCK', 'UNLOCK', "
             "'MSCK', 'REPAIR', 'EXPORT', 'IMPORT', 'LOAD', 'ROLE', 'ROLES', 'COMPACTIONS', 'PRINCIPALS', "
             "'TRANSACTIONS', 'INDEX', 'INDEXES', 'LOCKS', 'OPTION', 'ANTI', 'LOCAL', 'INPATH', IDENTIFIER, "
             "BACKQUOTED_IDENTIFIER}")

# The lexemes the classification and the quoted-name check read: comments and whitespace dropped,
# `...` (`` inside: a backtick, as in Hive's QuotedIdentifier) and "..." kept whole, '...' as Hive
# reads it (backslash escapes).
_LEXEME = re.compile(r"""(?P<space>\s+) | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<backquoted>`(?:[^`]|``)*`) | (?P<quoted>"(?:[^"]|"")*") | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<word>[A-Za-z0-9_$]+) | (?P<other>.)""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Lexeme:
    kind: str  # word, backquoted, quoted, string or other
    text: str
    start: int
    end: int

    def keyword(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def lexemes(sql: str) -> list[Lexeme]:
    return [Lexeme(m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _LEXEME.finditer(sql)
            if m.lastgroup not in ("space", "comment")]


@dataclass(frozen=True)
class StatementKind:
    statement_type: str  # QueryExecution.StatementType: DDL, DML or UTILITY
    substatement: str | None  # SubstatementType, where its value is known
    hive: bool  # parsed with Athena's Hive DDL grammar
    keywords: tuple[str, ...] = ()  # the words before the name the statement acts on
    rule: str = ""  # the quoted-name rule that applies (above); "" for a statement without a name


# The Hive DDL statements by their first words, longest first. SubstatementType values are those
# athena-local observed (AWS does not list them); None where nobody recorded one.
HIVE_STATEMENTS: tuple[tuple[tuple[str, ...], str, str | None, str], ...] = (
    (("DROP", "TABLE"), "DDL", "DROP_TABLE", "drop"),
    (("DROP", "DATABASE"), "DDL", "DROP_DATABASE", "other"),
    (("DROP", "SCHEMA"), "DDL", "DROP_DATABASE", "other"),
    (("CREATE", "EXTERNAL", "TABLE"), "DDL", "CREATE_TABLE", "create"),
    (("CREATE", "TABLE"), "DDL", "CREATE_TABLE", "create"),
    (("CREATE", "DATABASE"), "DDL", "CREATE_DATABASE", "other"),
    (("CREATE", "SCHEMA"), "DDL", "CREATE_DATABASE", "other"),
    (("ALTER", "TABLE"), "DDL", None, "alter"),
    (("ALTER", "DATABASE"), "DDL", None, "other"),
    (("ALTER", "SCHEMA"), "DDL", None, "other"),
    (("MSCK", "REPAIR", "TABLE"), "DDL", "MSCK_REPAIR", "msck"),
    (("DESCRIBE", "EXTENDED"), "UTILITY", "DESCRIBE_TABLE", "other"),
    (("DESCRIBE", "FORMATTED"), "UTILITY", "DESCRIBE_TABLE", "other"),
    (("DESCRIBE",), "UTILITY", "DESCRIBE_TABLE", "describe"),
    (("DESC",), "UTILITY", "DESCRIBE_TABLE", "describe"),
    (("SHOW", "COLUMNS", "FROM"), "UTILITY", "SHOW_COLUMNS", "drop"),
    (("SHOW", "COLUMNS", "IN"), "UTILITY", "SHOW_COLUMNS", "drop"),
    (("SHOW", "TABLES", "IN"), "UTILITY", "SHOW_TABLES", "show_tables"),
    (("SHOW", "TABLES"), "UTILITY", "SHOW_TABLES", ""),
    (("SHOW", "CREATE", "TABLE"), "UTILITY", "SHOW_CREATE_TABLE", "show_create"),
    (("SHOW", "DATABASES"), "UTILITY", "SHOW_DATABASES", ""),
    (("SHOW", "SCHEMAS"), "UTILITY", "SHOW_DATABASES", ""),
    (("SHOW", "PARTITIONS"), "UTILITY", None, "other"),
    (("SHOW", "TBLPROPERTIES"), "UTILITY", None, "other"),
    (("SHOW", "VIEWS", "IN"), "UTILITY", None, "other"),
    (("SHOW", "VIEWS"), "UTILITY", None, ""),
)


def _is_ctas(tokens: list[Lexeme]) -> bool:
    """A CREATE TABLE whose AS, outside parentheses, starts a query."""
    depth = 0
    for n, token in enumerate(tokens[:-1]):
        depth += {"(": 1, ")": -1}.get(token.text, 0)
        if depth == 0 and token.keyword() == "AS" and (
                tokens[n + 1].keyword() in ("SELECT", "WITH", "VALUES") or tokens[n + 1].text == "("):
            return True
    return False


def classify(text: str) -> StatementKind:
    """The statement's StatementType, SubstatementType and grammar, from its first words."""
    tokens = lexemes(text)
    words = tuple(t.keyword() for t in tokens[:4])
    ctas = words[:2] == ("CREATE", "TABLE") and _is_ctas(tokens)
    for keywords, statement_type, substatement, rule in HIVE_STATEMENTS:
        if words[:len(keywords)] == keywords and not ctas:
            return StatementKind(statement_type, substatement, True, keywords, rule)
    if ctas:
        # DML as the API Reference says (athena-local observed DDL); the substatement's name for a
        # CTAS is not documented.
        return StatementKind("DML", "CREATE_TABLE_AS_SELECT", False)
    first = words[0] if words else ""
    if first in ("SELECT", "WITH", "VALUES") or (tokens and tokens[0].text == "("):
        return StatementKind("DML", "SELECT", False)
    if first in ("CREATE", "DROP", "ALTER"):  # views (Trino)
        view = "VIEW" in words[1:3] or words[1:4] == ("OR", "REPLACE", "VIEW")
        return StatementKind("DDL", f"{first}_VIEW" if view and first != "ALTER" else None, False)
    if first in ("SHOW", "DESCRIBE"):
        return StatementKind("UTILITY", None, False)
    return StatementKind("DML", "INSERT" if first == "INSERT" else None, False)


def parse(text: str, kind: StatementKind) -> list[exp.Expression | None]:
    """The statement parsed with its grammar (raises sqlglot's ParseError)."""
    if kind.hive:
        return sqlglot.parse(text, read="hive")
    return sqlglot.parse(localathena._quote_colon_segments(text), read="trino")


def _at(sql: str, offset: int) -> str:
    before = sql[:offset]
    line_start = before.rfind("\n") + 1
    return f"{before.count(chr(10)) + 1}:{len(before[line_start:].encode('utf-16-le')) // 2 + 1}"


def _input(text: str) -> str:
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _no_viable(sql: str, part: Lexeme, start: int) -> str:
    return f"line {_at(sql, part.start)}: no viable alternative at input '{_input(sql[start:part.end])}'"


def _mismatched(sql: str, token: Lexeme) -> str:
    return f"line {_at(sql, token.start)}: mismatched input '{_input(token.text)}' expecting {EXPECTING}"


def _name(tokens: list[Lexeme], at: int) -> list[Lexeme]:
    """The parts of the dotted name that starts at `at`."""
    parts: list[Lexeme] = []
    while at < len(tokens) and tokens[at].kind in ("word", "backquoted", "quoted"):
        parts.append(tokens[at])
        if at + 1 < len(tokens) and tokens[at + 1].text == "." and at + 2 < len(tokens):
            at += 2
        else:
            break
    return parts


def _other_names(tokens: list[Lexeme], kind: StatementKind, after_name: int) -> list[Lexeme]:
    """The other tokens a Hive DDL statement reads as identifiers: the first token of each item of a
    list in parentheses after PARTITION, COLUMNS or BY (partition keys, columns) or after a CREATE
    TABLE's name (its columns), and the new name of RENAME TO. A TBLPROPERTIES list is strings."""
    found: list[Lexeme] = []
    lists: list[bool] = []
    item_starts = False
    for n, token in enumerate(tokens):
        if token.text == "(":
            opener = tokens[n - 1].keyword() if n else ""
            lists.append(opener in ("PARTITION", "COLUMNS", "BY") or (kind.rule == "create" and n == after_name))
            item_starts = lists[-1]
            continue
        if token.text == ")":
            if lists:
                lists.pop()
            item_starts = False
            continue
        if token.text == "," and lists and lists[-1]:
            item_starts = True
            continue
        if item_starts or (n >= 2 and (tokens[n - 2].keyword(), tokens[n - 1].keyword()) == ("RENAME", "TO")):
            found.append(token)
        item_starts = False
    return found


def quoted_name_refusal(text: str) -> str | None:
    """Athena's refusal of a Hive DDL statement that names something in double quotes (the rules
    above), or None."""
    sql = text.lstrip(" \t\r\n")
    kind = classify(sql)
    if not kind.hive:
        return None
    tokens = lexemes(sql)
    at = len(kind.keywords)
    if kind.rule != "alter":  # IF [NOT] EXISTS
        for word in ("IF", "NOT", "EXISTS"):
            if at < len(tokens) and tokens[at].keyword() == word:
                at += 1
    parts = _name(tokens, at) if kind.rule else []
    quoted = next((n for n, part in enumerate(parts[:3]) if part.kind == "quoted"), None)
    if quoted is not None:
        part, first = parts[quoted], tokens[0]
        if kind.rule == "show_create":
            return "Queries of this type are not supported"
        if kind.rule == "msck":
            return f"line {_at(sql, first.start)}: mismatched input '{first.text}'"
        if kind.rule in ("alter", "create") or (kind.rule == "describe" and quoted == 0):
            return _no_viable(sql, part, first.start)
        if kind.rule == "show_tables":
            return _mismatched(sql, part)
        if kind.rule in ("drop", "describe") and quoted == 1:
            return _no_viable(sql, part, parts[0].start)
        return _mismatched(sql, part)
    after_name = at + 2 * len(parts) - 1 if parts else at
    for token in parts[3:] + _other_names(tokens, kind, after_name):
        if token.kind == "quoted":
            return _mismatched(sql, token)
    return None


# --- one execution -----------------------------------------------------------------------------------

@dataclass
class Execution:
    id: str
    query: str
    database: str
    catalog: str
    workgroup: str
    output: str | None
    parameters: list[str]
    account: str
    region: str
    statement_type: str = "DML"
    substatement: str | None = None
    state: str = "QUEUED"
    reason: str | None = None
    error: QueryFailed | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    scanned: int = 0
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    header: bool = True
    update_count: int = 0
    # The workgroup's output location when it overrides the client's (a CTAS may then not name
    # its own location).
    enforced: bool = False
    # Who started it: every catalog and S3 access of the query is authorized as this caller
    # (emu_authz.Caller; None outside an HTTP request: nothing is authorized).
    caller: Any = None
    # The results' EncryptionConfiguration (workgroup's or request's): how results and CTAS data
    # are written.
    encryption: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {"ErrorCategory": self.error.category, "ErrorType": self.error.error_type,
                                     "Retryable": False, "ErrorMessage": self.reason}
        engine = int(((self.completed or time.time()) - (self.started or self.submitted)) * 1000) if self.started else 0
        out: dict[str, Any] = {
            "QueryExecutionId": self.id, "Query": self.query, "StatementType": self.statement_type,
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status, "WorkGroup": self.workgroup,
            "Statistics": {"EngineExecutionTimeInMillis": engine, "DataScannedInBytes": self.scanned,
                           "TotalExecutionTimeInMillis": int(((self.completed or time.time()) - self.submitted) * 1000),
                           "QueryQueueTimeInMillis": int(((self.started or time.time()) - self.submitted) * 1000)},
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
        }
        if self.output:
            out["ResultConfiguration"] = {"OutputLocation": self.output}
            if self.encryption:
                out["ResultConfiguration"]["EncryptionConfiguration"] = self.encryption
        if self.parameters:
            out["ExecutionParameters"] = self.parameters
        if self.substatement:
            out["SubstatementType"] = self.substatement
        return out


def _position(text: str, node: exp.Expression) -> str:
    """Trino's "line L:C" of a node (1-based), from sqlglot's token offsets."""
    ident = node.args.get("db") or node.args.get("table") or node.this
    meta = getattr(ident, "meta", None) or {}
    if "start" not in meta:
        return "1:1"
    start = meta["start"] - (1 if getattr(ident, "quoted", False) else 0)
    line_start = text.rfind("\n", 0, start) + 1
    return f"{text.count(chr(10), 0, start) + 1}:{start - line_start + 1}"


def _bind_parameters(statement: exp.Expression, parameters: list[str]) -> exp.Expression:
    placeholders = [p for p in statement.find_all(exp.Placeholder)]
    if len(placeholders) != len(parameters):
        raise QueryFailed(f"INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected {len(placeholders)} "
                          f"but found {len(parameters)}")
    for node, value in zip(placeholders, parameters):
        try:
            node.replace(sqlglot.parse_one(value, read="trino"))
        except sqlglot.errors.ParseError as error:
            raise QueryFailed(f"INVALID_PARAMETER_USAGE: the execution parameter {value!r} is not a SQL value: {error}") from None
    return statement


def _duckdb_error(error: Exception, text_sql: str, query: exp.Expression) -> QueryFailed:
    text = str(error)
    if m := re.search(r'Referenced column "([^"]+)" not found', text) or re.search(r'column "?([^" ]+)"? not found', text, re.I):
        name = m.group(1)
        node = next((c for c in query.find_all(exp.Column) if c.name.lower() == name.lower()), None)
        where = _position(text_sql, node) if node is not None else "1:1"
        # Athena engine 3's text and ErrorType as clients capture them (1006, category USER).
        return QueryFailed(f"COLUMN_NOT_FOUND: line {where}: Column '{name}' cannot be resolved or requester is not "
                           "authorized to access requested resources", error_type=1006)
    if "Function" in text and "does not exist" in text:
        return QueryFailed(f"FUNCTION_NOT_FOUND: {text.splitlines()[0]}")
    if isinstance(error, (duckdb.ConversionException, duckdb.InvalidInputException)):
        return QueryFailed(f"INVALID_CAST_ARGUMENT: {text.splitlines()[0]}")
    return QueryFailed(f"GENERIC_USER_ERROR: {text.splitlines()[0]}")


def _sse(execution: Execution) -> dict[str, str]:
    """The PutObject parameters of the results' encryption ("EncryptionConfiguration": SSE_S3,
    SSE_KMS with KmsKey "the KMS key ARN or ID"); CSE_KMS is not emulated (nothing is set)."""
    config = execution.encryption or {}
    option = config.get("EncryptionOption")
    if option == "SSE_S3":
        return {"ServerSideEncryption": "AES256"}
    if option == "SSE_KMS":
        return {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": config["KmsKey"]} if config.get("KmsKey") else {})}
    return {}


def _put(execution: Execution, access: Access, location: str, body: bytes,
         denied: Callable[[str], QueryFailed]) -> None:
    """Writes an object as Athena writes it for the caller: s3:PutObject with the results'
    encryption (and its KMS permission through S3), else the query fails with `denied`."""
    m = S3_URL.match(location)
    if not m:
        raise QueryFailed(f"INVALID_REQUEST: {location!r} is not an s3:// location", category=2)
    sse = _sse(execution)
    if access.s3("PutObject", m.group(1), Key=m.group(2), **sse):
        raise denied(location)
    try:
        s3_backends[execution.account]["global"].put_object(m.group(1), m.group(2), body,
                                                            encryption=sse.get("ServerSideEncryption"),
                                                            kms_key_id=sse.get("SSEKMSKeyId"))
    except Exception as error:
        raise QueryFailed(f"Unable to write the results to {location}: {error}", error_type=2000, category=1) from None


def run(execution: Execution) -> None:
    """Runs one execution to its final state (never raises)."""
    if execution.state == "CANCELLED":
        return
    execution.state, execution.started = "RUNNING", time.time()
    try:
        _execute(execution)
        final = "SUCCEEDED"
    except QueryFailed as error:
        execution.error, execution.reason, final = error, str(error), "FAILED"
    except Exception as error:  # the emulator's own fault: reported as Athena reports a system error
        execution.error = QueryFailed(f"GENERIC_INTERNAL_ERROR: {error}", error_type=2000, category=1)
        execution.reason, final = str(execution.error), "FAILED"
    if execution.state != "CANCELLED":
        execution.state = final
    execution.completed = time.time()


def _execute(execution: Execution) -> None:
    access = Access(execution.caller, execution.account, execution.region)
    text = execution.query.strip().rstrip(";")
    kind = classify(text)
    try:
        statements = parse(text, kind)
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise QueryFailed(f"line {first.get('line', 1)}:{first.get('col', 1)}: {first.get('description', error)}") from None
    if len(statements) != 1 or statements[0] is None:
        raise QueryFailed("Only one sql statement is allowed. Got: " + str(len(statements)))
    statement = statements[0]
    if kind.substatement == "DROP_TABLE" and isinstance(statement, exp.Drop):
        _drop(execution, statement, access)
        # A DROP TABLE has no rows; its results object is the .txt DDL writes (start_query_execution).
        execution.columns, execution.header = [], False
        _write_results(execution, access)
        return
    if kind.hive:
        raise QueryFailed(f"NOT_SUPPORTED: the emulator runs SELECT, CREATE TABLE AS SELECT and DROP TABLE, "
                          f"not {' '.join(kind.keywords)}")
    create = statement if isinstance(statement, exp.Create) else None
    if create is not None:
        if str(create.args.get("kind", "")).upper() != "TABLE" or not isinstance(create.expression, exp.Query):
            raise QueryFailed(f"NOT_SUPPORTED: the emulator runs SELECT, CREATE TABLE AS SELECT and DROP TABLE, "
                              f"not {text.split(None, 2)[:2]}")
        query = create.expression
    elif isinstance(statement, exp.Query):
        query = statement
    else:
        raise QueryFailed(f"NOT_SUPPORTED: the emulator runs SELECT, CREATE TABLE AS SELECT and DROP TABLE, "
                          f"not {type(statement).__name__.upper()}")
    query = _bind_parameters(query, execution.parameters)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 2")
        _attach_tables(con, execution, text, query, access)
        sql = localathena.transpile_expression(query)
        try:
            if create is not None:
                # The query runs once, into the table's file (COPY answers the rows it wrote).
                written = _write_table(execution, con, create, sql, execution.enforced, access)
            else:
                cursor = con.execute(sql)
                names = [d[0] for d in cursor.description]
                types = [str(d[1]) for d in cursor.description]
                rows = cursor.fetchall()
        except duckdb.Error as error:
            raise _duckdb_error(error, text, query) from None
        if create is not None:
            # A CTAS answers one bigint column "rows" and no rows; UpdateCount is the number of
            # rows written ("The number of rows inserted with a CREATE TABLE AS SELECT", API
            # Reference, GetQueryResults; the empty "rows" column is what clients observe).
            execution.columns = [_column("rows", "BIGINT")]
            execution.rows, execution.header, execution.update_count = [], False, written
        else:
            execution.columns = [_column(n, t) for n, t in zip(names, types)]
            execution.rows = [[render_value(v) for v in row] for row in rows]
        _write_results(execution, access)
    finally:
        con.close()


# ColumnInfo.Precision as Athena answers it for these types (AWS CLI example of get-query-results
# and captured responses; "For DECIMAL data types, specifies the total number of digits").
PRECISION = {"varchar": 2147483647, "bigint": 19, "integer": 10, "smallint": 5, "tinyint": 3}


def _column(name: str, duck: str) -> dict[str, Any]:
    kind = athena_type(duck)
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
            "Type": kind, "Precision": PRECISION.get(kind, 0), "Scale": 0,
            "Nullable": "UNKNOWN", "CaseSensitive": kind == "varchar"}


def _attach_tables(con: duckdb.DuckDBPyConnection, execution: Execution, text: str, query: exp.Expression,
                   access: Access) -> None:
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    used = {c.name.lower() for c in query.find_all(exp.Column)}
    seen: set[tuple[str, str]] = set()
    for node in query.find_all(exp.Table):
        if not node.name or isinstance(node.this, exp.Func):
            continue
        database = (node.db or execution.database).lower()
        name = node.name.lower()
        if not node.db and name in ctes:
            continue
        if (database, name) in seen:
            continue
        seen.add((database, name))
        table = resolve_table(execution.account, execution.region, database, name, _position(text, node), query,
                              access)
        execution.scanned += create_view(con, table, used)
        # The query names it as written (catalog- or database-qualified, or bare in the context's).
        node.set("catalog", None)
        node.set("db", exp.to_identifier(database))


def _write_table(execution: Execution, con: duckdb.DuckDBPyConnection, create: exp.Create, sql: str,
                 enforced: bool, access: Access) -> int:
    """Writes the CTAS's rows under its location and creates its table; returns the rows written."""
    target = create.this.this if isinstance(create.this, exp.Schema) else create.this
    database = (target.db or execution.database).lower()
    name = target.name.lower()
    props: dict[str, str] = {}
    for prop in (create.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.FileFormatProperty):
            props["format"] = prop.this.name
        elif isinstance(prop, exp.Property):
            props[prop.name.lower()] = prop.args["value"].name
        else:
            raise QueryFailed(f"NOT_SUPPORTED: the emulator does not apply the table property {prop.sql('trino')}")
    unknown = set(props) - {"format", "external_location", "write_compression"}
    if unknown:
        raise QueryFailed(f"NOT_SUPPORTED: the emulator does not apply the table properties {sorted(unknown)}")
    fmt = props.get("format", "PARQUET").upper()
    if fmt not in ("PARQUET", "JSON"):
        raise QueryFailed(f"NOT_SUPPORTED: the emulator writes PARQUET or JSON tables, not {fmt}")
    backend = glue_backends[execution.account][execution.region]
    # The CREATE TABLE example of "Configure access to databases and tables in the AWS Glue Data
    # Catalog": glue:GetDatabase, glue:GetTable (the table must not exist yet), glue:CreateTable.
    access.glue("glue:GetDatabase", database)
    access.glue("glue:GetTable", database, name)
    try:
        backend.get_table(database, name)
        raise QueryFailed(f"TABLE_ALREADY_EXISTS: Table 'awsdatacatalog.{database}.{name}' already exists")
    except QueryFailed:
        raise
    except Exception:
        pass
    location = props.get("external_location")
    if location and enforced:
        # Troubleshooting workgroups (Athena User Guide), word for word.
        raise QueryFailed("The Create Table As Select query failed because it was submitted with an 'external_location' "
                          "property to an Athena Workgroup that enforces a centralized output location for all queries. "
                          "Please remove the 'external_location' property and resubmit the query.")
    if not location:
        # "s3://<workgroup-query-results-location>/tables/<query-id>/" (CREATE TABLE AS: the
        # dated console sub-folders are not created for API calls).
        if not execution.output:
            raise QueryFailed("INVALID_REQUEST: a CREATE TABLE AS needs external_location or an output location")
        location = execution.output.rsplit("/", 1)[0] + f"/tables/{execution.id}/"
    if not location.endswith("/"):
        location += "/"
    if _objects(execution.account, location, access):
        # Observed text (dbt-labs/dbt-athena#58); "make sure that the Amazon S3 location that you
        # specify has no data ... or your CTAS query will fail" (CREATE TABLE AS).
        raise QueryFailed(f"HIVE_PATH_ALREADY_EXISTS: Target directory for table '{database}.{name}' already exists: "
                          f"{location}. Athena will not delete data in your account.")
    local = os.path.join(_cache().root, f"ctas-{execution.id}")
    columns = con.execute(f"DESCRIBE {sql}").fetchall()
    if fmt == "PARQUET":
        written = con.execute(f"COPY ({sql}) TO {localathena._literal(local)} (FORMAT PARQUET, COMPRESSION "
                              f"{props.get('write_compression', 'GZIP').upper()})").fetchone()[0]
        serde = {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                 "Parameters": {"serialization.format": "1"}}
        formats = ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat")
    else:
        written = con.execute(f"COPY ({sql}) TO {localathena._literal(local)} (FORMAT JSON)").fetchone()[0]
        serde = {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {}}
        formats = ("org.apache.hadoop.mapred.TextInputFormat",
                   "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
    with open(local, "rb") as handle:
        # Data files have no extension (observed; Athena does not document their names).
        _put(execution, access,
             f"{location}{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}_{execution.id}_{uuid.uuid4()}",
             handle.read(), denied_on_path)
    os.remove(local)
    # The catalog entry comes last, as Athena commits a CTAS: a denied glue:CreateTable leaves the
    # data written ("Even if a CTAS or INSERT INTO statement fails, orphaned data can be left in the
    # data location specified in the statement", "Troubleshooting in Athena").
    access.glue("glue:CreateTable", database, name)
    backend.create_table(database, name, {
        "Name": name, "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": fmt.lower()},
        "PartitionKeys": [],
        "StorageDescriptor": {"Columns": [{"Name": c[0].lower(), "Type": hive_type(c[1])}
                                          for c in columns],
                              "Location": location, "InputFormat": formats[0], "OutputFormat": formats[1],
                              "SerdeInfo": serde}})
    return int(written)


def _drop(execution: Execution, statement: exp.Drop, access: Access) -> None:
    if str(statement.args.get("kind", "")).upper() != "TABLE":
        raise QueryFailed("NOT_SUPPORTED: the emulator drops tables only")
    backend = glue_backends[execution.account][execution.region]
    for node in statement.args.get("tables") or [statement.this]:
        database, name = (node.db or execution.database).lower(), node.name.lower()
        # The DROP TABLE example of "Configure access to databases and tables in the AWS Glue Data
        # Catalog": glue:GetDatabase, glue:GetTable, glue:DeleteTable, and for a partitioned table
        # glue:GetPartitions and glue:DeletePartition.
        access.glue("glue:GetDatabase", database)
        access.glue("glue:GetTable", database, name)
        try:
            table = backend.get_table(database, name)
        except Exception:
            if not statement.args.get("exists"):
                raise QueryFailed(f"Table {name} does not exist") from None
            continue
        if table.as_dict().get("PartitionKeys"):
            access.glue("glue:GetPartitions", database, name)
            access.glue("glue:DeletePartition", database, name)
        access.glue("glue:DeleteTable", database, name)
        backend.delete_table(database, name)


def _write_results(execution: Execution, access: Access) -> None:
    if not execution.output:
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    if execution.header:
        writer.writerow([c["Name"] for c in execution.columns])
    for row in execution.rows:
        # NULL is an empty, unquoted field; csv.writer would quote "" too.
        buffer.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n")
    _put(execution, access, execution.output, buffer.getvalue().encode(), denied_writing_output)
    _put(execution, access, execution.output + ".metadata", json.dumps({"ColumnInfo": execution.columns}).encode(),
         denied_writing_output)


# --- the API ---------------------------------------------------------------------------------------

POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="athena-query")


def _executions(self: AthenaResponse) -> dict[str, Execution]:
    backend = self.athena_backend
    if not hasattr(backend, "emu_executions"):
        backend.emu_executions = {}
    return backend.emu_executions


def _invalid(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidRequestException", message)


def _malformed(message: str) -> JsonRESTError:
    """InvalidRequestException as Athena answers a statement it cannot parse: with AthenaErrorCode
    MALFORMED_QUERY (observed: athena-local's measurements, above; the API Reference documents the
    member, "The error code returned when the query execution failed to process", not its values)."""
    error = _invalid(message)
    error.description = json.dumps({"__type": "InvalidRequestException", "Message": message,
                                    "AthenaErrorCode": "MALFORMED_QUERY"})
    return error


def _find(self: AthenaResponse) -> Execution:
    exec_id = self._get_param("QueryExecutionId")
    execution = _executions(self).get(exec_id)
    if execution is None:
        raise _invalid(f"QueryExecution {exec_id} was not found")
    return execution


def start_query_execution(self: AthenaResponse) -> str:
    query = self._get_param("QueryString") or ""
    context = self._get_param("QueryExecutionContext") or {}
    request_config = self._get_param("ResultConfiguration") or {}
    group_name = self._get_param("WorkGroup") or "primary"
    group = self.athena_backend.work_groups.get(group_name)
    if group is None:
        raise _invalid(f"WorkGroup {group_name} is not found.")
    group_config = group.configuration or {}
    group_output = (group_config.get("ResultConfiguration") or {}).get("OutputLocation")
    # "If set to true, the settings for the workgroup override client-side settings" (Athena API
    # Reference, WorkGroupConfiguration.EnforceWorkGroupConfiguration).
    enforce = str(group_config.get("EnforceWorkGroupConfiguration", "true")).lower() == "true"
    output = group_output if enforce and group_output else request_config.get("OutputLocation") or group_output
    if not output:
        raise _invalid("No output location provided. An output location is required either through the Workgroup "
                       "result configuration setting or as an API input.")
    # A statement Athena cannot parse is refused by this call, with the parser's text and no
    # execution (observed: "line 1:10: mismatched input '<EOF>'. Expecting: ..."), parsed with its
    # grammar: Hive's for the Hive DDL statements, Trino's for the rest (section "Athena's two
    # grammars"). A Hive DDL statement that double-quotes a name is refused the same way.
    text = query.strip().rstrip(";")
    kind = classify(text)
    try:
        parse(text, kind)
    except sqlglot.errors.ParseError as error:
        first = error.errors[0] if error.errors else {}
        raise _malformed(f"line {first.get('line', 1)}:{first.get('col', 1)}: {first.get('description', error)}") from None
    refusal = quoted_name_refusal(text)
    if refusal is not None:
        raise _malformed(refusal)
    # The query runs with its caller's permissions (section "whose permissions"): the caller is
    # kept, and the output bucket located now, as Athena verifies it before running anything.
    serving = emu_authz.current()
    caller = serving[0] if serving is not None else None
    bucket = S3_URL.match(output)
    if bucket and Access(caller, self.current_account, self.region).s3("GetBucketLocation", bucket.group(1)):
        raise _invalid(f"Unable to verify/create output bucket {bucket.group(1)}")
    encryption = (group_config.get("ResultConfiguration") or {}).get("EncryptionConfiguration")
    if not (enforce and encryption):
        encryption = request_config.get("EncryptionConfiguration") or encryption
    active = sum(e.state in ("QUEUED", "RUNNING") for e in _executions(self).values())
    if active >= DML_QUOTA:
        # "A DML or DDL query quota includes both running and queued queries ... query 26 will
        # result in a TooManyRequestsException error" (Athena User Guide, "Service Quotas"); the
        # message is the one clients capture.
        raise JsonRESTError("TooManyRequestsException",
                            "You have exceeded the limit for the number of queries you can run concurrently. Please "
                            "reduce the number of concurrent queries submitted by this account. Contact customer "
                            "support to request a concurrent query limit increase.")
    exec_id = str(uuid.uuid4())
    # "DDL query results are saved as plain text files" (<id>.txt), "Working with query results,
    # recent queries, and output files".
    extension = "txt" if kind.statement_type == "DDL" else "csv"
    execution = Execution(
        id=exec_id, query=query, database=(context.get("Database") or "default").lower(),
        catalog=context.get("Catalog") or "AwsDataCatalog", workgroup=group_name,
        output=output.rstrip("/") + f"/{exec_id}.{extension}",
        parameters=list(self._get_param("ExecutionParameters") or []),
        account=self.current_account, region=self.region, enforced=bool(enforce and group_output),
        statement_type=kind.statement_type, substatement=kind.substatement, caller=caller, encryption=encryption)
    _executions(self)[exec_id] = execution
    POOL.submit(run, execution)
    return json.dumps({"QueryExecutionId": exec_id})


def get_query_execution(self: AthenaResponse) -> str:
    return json.dumps({"QueryExecution": _find(self).view()})


def batch_get_query_execution(self: AthenaResponse) -> str:
    found, missing = [], []
    for exec_id in self._get_param("QueryExecutionIds") or []:
        execution = _executions(self).get(exec_id)
        if execution is None:
            missing.append({"QueryExecutionId": exec_id, "ErrorCode": "InvalidRequestException",
                            "ErrorMessage": f"QueryExecution {exec_id} was not found"})
        else:
            found.append(execution.view())
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def get_query_results(self: AthenaResponse) -> str:
    execution = _find(self)
    if execution.state in ("QUEUED", "RUNNING"):
        raise _invalid(f"Query has not yet finished. Current state: {execution.state}")
    if execution.state != "SUCCEEDED":
        raise _invalid(f"Query did not finish successfully. Final query state: {execution.state}")
    max_results = self._get_param("MaxResults") or MAX_RESULTS
    if not 1 <= int(max_results) <= MAX_RESULTS:
        raise _invalid(f"MaxResults must be between 1 and {MAX_RESULTS}")
    table = ([[c["Name"] for c in execution.columns]] if execution.header else []) + execution.rows
    fp = emu_paging.fingerprint("athena", execution.id)
    try:
        after = emu_paging.read_token(self._get_param("NextToken"), fp)
    except ValueError:
        raise _invalid("The NextToken is invalid") from None
    page = table[after + 1: after + 1 + int(max_results)]
    out: dict[str, Any] = {
        "UpdateCount": execution.update_count,
        "ResultSet": {"Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
                      "ResultSetMetadata": {"ColumnInfo": execution.columns}}}
    end = after + len(page)
    if end + 1 < len(table):
        out["NextToken"] = emu_paging.make_token(end, fp)
    return json.dumps(out)


def stop_query_execution(self: AthenaResponse) -> str:
    execution = _find(self)
    if execution.state in ("QUEUED", "RUNNING"):
        execution.state, execution.completed = "CANCELLED", time.time()
        execution.reason = "Query cancelled by user"
    return json.dumps({})


def list_query_executions(self: AthenaResponse) -> str:
    group = self._get_param("WorkGroup") or "primary"
    ids = [e.id for e in sorted(_executions(self).values(), key=lambda e: -e.submitted) if e.workgroup == group]
    max_results = int(self._get_param("MaxResults") or 50)
    fp = emu_paging.fingerprint("athena-list", group)
    try:
        after = emu_paging.read_token(self._get_param("NextToken"), fp)
    except ValueError:
        raise _invalid("The NextToken is invalid") from None
    page = ids[after + 1: after + 1 + max_results]
    out: dict[str, Any] = {"QueryExecutionIds": page}
    if after + 1 + max_results < len(ids):
        out["NextToken"] = emu_paging.make_token(after + len(page), fp)
    return json.dumps(out)


def install() -> None:
    for fn in (start_query_execution, get_query_execution, batch_get_query_execution, get_query_results,
               stop_query_execution, list_query_executions):
        setattr(AthenaResponse, fn.__name__, fn)
