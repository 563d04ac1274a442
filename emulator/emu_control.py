"""WSGI middleware in front of moto: call counting, fault injection, and the
emulator's control endpoints under ``/_emulator/``.

Why this module exists
----------------------
Tests of AWS-calling code need to assert *how many* calls of each kind were
made (pagination, batching, retries) and to make a given call fail the way AWS
would (throttling, access denied...).  moto has neither, so every request
passes through ``EmulatorMiddleware`` first:

* AWS requests (everything but ``/_emulator/*`` and ``/moto-api/*``) are
  counted by (region, service, operation).  Service and region come from the
  SigV4 credential scope (``Credential=AKID/20240101/us-east-1/ssm/aws4_request``);
  the operation from ``X-Amz-Target`` (JSON protocols), the ``Action``
  parameter (query protocols: ec2, sts, iam...), or a best-effort name from the
  method and path (S3 and the other REST protocols).
* A matching fault, if one is armed, answers instead of moto, rendered in the
  service's protocol so that SDKs parse the error code and message.
* ``/_emulator/*`` is the JSON control API (see README.md).
"""

from __future__ import annotations

import io
import json
import re
import sys
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import emu_authz
import emu_cloudformation
import emu_deliveries
import emu_glue
import emu_events
import emu_lambda
import emu_request
import emu_s3
import emu_ssm
import emu_validate
from emu_faults import Faults

DEFAULT_ACCOUNT = "123456789012"
# Call records by caller: `<account>-<caller>` labels (emu_authz.Caller.label), so the calls of each
# function can be told apart.
_LABEL_RE = re.compile(r"^\d{12}(?:-[A-Za-z0-9-]+)?$")
DEFAULT_REGION = "us-east-1"

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def access_key_id(environ: dict[str, Any]) -> str | None:
    """The access key id a request is signed with (header, or a pre-signed URL's query)."""
    m = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
    if m:
        return m.group(1)
    cred = _query_keys(environ).get("X-Amz-Credential", [""])[0]
    return cred.split("/", 1)[0] or None


# --------------------------------------------------------------------------
# Identifying a request
# --------------------------------------------------------------------------


def _query_keys(environ: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def s3_operation(method: str, path: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str:
    """Best-effort S3 operation name for a path-style request."""
    parts = [p for p in path.split("/") if p != ""] if path != "/" else []
    q = set(query)
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if not parts:
        return "ListBuckets" if method == "GET" else f"{method} /"
    if len(parts) == 1:  # bucket level
        sub = {
            "versioning": "BucketVersioning", "tagging": "BucketTagging",
            "policy": "BucketPolicy", "lifecycle": "BucketLifecycleConfiguration",
            "encryption": "BucketEncryption", "acl": "BucketAcl", "cors": "BucketCors",
            "notification": "BucketNotificationConfiguration",
            "publicAccessBlock": "PublicAccessBlock", "ownershipControls": "BucketOwnershipControls",
            "logging": "BucketLogging", "website": "BucketWebsite", "replication": "BucketReplication",
            "object-lock": "ObjectLockConfiguration", "accelerate": "BucketAccelerateConfiguration",
            "requestPayment": "BucketRequestPayment", "policyStatus": "BucketPolicyStatus",
        }
        found = next((s for s in sub if s in q), None)
        if method == "GET":
            if "versions" in q:
                return "ListObjectVersions"
            if "uploads" in q:
                return "ListMultipartUploads"
            if "location" in q:
                return "GetBucketLocation"
            if found:
                return "Get" + sub[found]
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        if method == "PUT":
            return "Put" + sub[found] if found else "CreateBucket"
        if method == "HEAD":
            return "HeadBucket"
        if method == "DELETE":
            if found == "lifecycle":
                return "DeleteBucketLifecycle"
            return "Delete" + sub[found] if found else "DeleteBucket"
        if method == "POST" and "delete" in q:
            return "DeleteObjects"
        return f"{method} /{{Bucket}}"
    # object level
    if method == "PUT":
        if "partNumber" in q and "uploadId" in q:
            return "UploadPartCopy" if copy else "UploadPart"
        if "tagging" in q:
            return "PutObjectTagging"
        if "acl" in q:
            return "PutObjectAcl"
        if "retention" in q:
            return "PutObjectRetention"
        if "legal-hold" in q:
            return "PutObjectLegalHold"
        return "CopyObject" if copy else "PutObject"
    if method == "GET":
        if "uploadId" in q:
            return "ListParts"
        if "tagging" in q:
            return "GetObjectTagging"
        if "acl" in q:
            return "GetObjectAcl"
        if "attributes" in q:
            return "GetObjectAttributes"
        return "GetObject"
    if method == "HEAD":
        return "HeadObject"
    if method == "DELETE":
        if "uploadId" in q:
            return "AbortMultipartUpload"
        if "tagging" in q:
            return "DeleteObjectTagging"
        return "DeleteObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
        if "restore" in q:
            return "RestoreObject"
        if "select" in q:
            return "SelectObjectContent"
    return f"{method} /{{Bucket}}/{{Key+}}"


_ID_LIKE = re.compile(r"[0-9]|%|:|^.{40,}$")


def rest_operation(service: str, method: str, path: str, environ: dict[str, Any]) -> str:
    """Operation of a restJson1/restXml request: moto's model-based router
    first, else ``"<METHOD> <path-template>"``."""
    try:
        from moto.core.request import Request
        from moto.core.routing import get_service_router  # type: ignore

        op, _ = get_service_router(service).match(Request(dict(environ)))
        return op.name
    except Exception:
        pass
    segs = [("{}" if _ID_LIKE.search(s) else s) for s in path.split("/") if s]
    return f"{method} /" + "/".join(segs)


def identify(environ: dict[str, Any], body: bytes | None) -> tuple[str, str, str]:
    """(region, service, operation) of an AWS request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = CREDENTIAL_RE.search(auth)
    if m:
        region, service = m.group(3), m.group(4)
    else:
        # Presigned URLs carry the credential scope in the query string.
        cred = _query_keys(environ).get("X-Amz-Credential", [""])[0]
        parts = cred.split("/")
        region, service = (parts[2], parts[3]) if len(parts) == 5 else (DEFAULT_REGION, "unknown")
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return region, service, target.rsplit(".", 1)[-1]
    action = _query_keys(environ).get("Action", [None])[0]
    if action is None and body:
        try:
            action = parse_qs(body.decode("utf-8"), keep_blank_values=True).get("Action", [None])[0]
        except UnicodeDecodeError:
            action = None
    if action:
        return region, service, action
    if service == "s3":
        return region, service, s3_operation(method, path, _query_keys(environ), environ)
    return region, service, rest_operation(service, method, path, environ)


# --------------------------------------------------------------------------
# Rendering errors in each protocol
# --------------------------------------------------------------------------

REST_XML_SERVICES = {"route53", "cloudfront", "s3control"}


def render_error(environ: dict[str, Any], service: str, status: int, code: str,
                 message: str, protocol: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
    """An AWS error response in the protocol the request used."""
    request_id = str(uuid.uuid4())
    ctype = environ.get("CONTENT_TYPE", "") or ""
    if protocol is None:
        if environ.get("HTTP_X_AMZ_TARGET"):
            protocol = "json"
        elif service == "ec2":
            protocol = "ec2"
        elif service == "s3":
            protocol = "s3"
        elif ctype.startswith("application/x-www-form-urlencoded") or "Action=" in environ.get("QUERY_STRING", ""):
            protocol = "query"
        elif service in REST_XML_SERVICES:
            protocol = "rest-xml"
        else:
            protocol = "rest-json"
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    code_x, msg_x = escape(code), escape(message)
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        json_ctype = ctype if ctype.startswith("application/x-amz-json") else "application/x-amz-json-1.1"
        headers += [("Content-Type", json_ctype), ("x-amzn-ErrorType", code)]
    elif protocol == "rest-json":
        body = json.dumps({"__type": code, "code": code, "message": message, "Message": message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    elif protocol == "ec2":
        body = ('<?xml version="1.0" encoding="UTF-8"?>'
                f"<Response><Errors><Error><Code>{code_x}</Code><Message>{msg_x}</Message>"
                f"</Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
        headers += [("Content-Type", "text/xml;charset=UTF-8")]
    elif protocol == "s3":
        body = ('<?xml version="1.0" encoding="UTF-8"?>'
                f"<Error><Code>{code_x}</Code><Message>{msg_x}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>").encode()
        headers += [("Content-Type", "application/xml")]
    else:  # query and rest-xml
        error_type = "Receiver" if status >= 500 else "Sender"
        body = ('<?xml version="1.0" encoding="UTF-8"?>'
                f"<ErrorResponse><Error><Type>{error_type}</Type><Code>{code_x}</Code>"
                f"<Message>{msg_x}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        headers += [("Content-Type", "text/xml")]
    headers.append(("Content-Length", str(len(body))))
    return status_line, headers, body


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}


# --------------------------------------------------------------------------
# Shared state: call counts and faults
# --------------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: OrderedDict[tuple[str, str, str], int] = OrderedDict()

    def add(self, key: tuple[str, str, str]) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def snapshot(self, region: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [{"region": r, "service": s, "operation": o, "count": c}
                    for (r, s, o), c in self.counts.items() if region is None or r == region]

    def reset(self, region: str | None) -> None:
        with self.lock:
            for key in [k for k in self.counts if region is None or k[0] == region]:
                del self.counts[key]


def _call_fault_fields(spec: dict[str, Any]) -> dict[str, Any]:
    for req in ("service", "operation"):
        if not spec.get(req):
            raise ValueError(f"fault needs '{req}'")
    return {"service": spec["service"], "operation": spec["operation"], "region": spec.get("region"),
            "status": int(spec.get("status", 400)), "protocol": spec.get("protocol")}


# --------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------


def _json_response(start_response: Callable[..., Any], status: int, obj: Any) -> list[bytes]:
    body = json.dumps(obj).encode()
    start_response(f"{status} {_REASONS.get(status, 'OK' if status < 300 else 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


class EmulatorMiddleware:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.calls = Calls()
        # The same calls by access key id (`<account>-<caller>` keys only): what each caller did.
        self.principal_calls = Calls()
        self.faults = Faults(_call_fault_fields)
        # Requests the emulator could not authorize (emu_authz.AuthzError), for the tests to show.
        self.authz_errors: list[str] = []
        # Every fault store of the control API, by endpoint: same verbs, same reset.
        self.fault_stores = {"/_emulator/faults": self.faults,
                             "/_emulator/glue/entry-faults": emu_glue.ENTRY_FAULTS,
                             "/_emulator/s3/delete-faults": emu_s3.DELETE_FAULTS}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/") or path == "/_emulator":
            try:
                return self.control(environ, start_response)
            except ValueError as e:
                return _json_response(start_response, 400, {"error": str(e)})
            except Exception as e:  # pragma: no cover - reported to the caller
                print(f"emulator control error: {e!r}", file=sys.stderr)
                return _json_response(start_response, 500, {"error": repr(e)})
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return self.app(environ, start_response)

        # Who calls (emu_authz): a role session's key acts in the role's account, a 12-digit
        # account id (or `<account>-<label>`) is that account's administrator, so a demo or test
        # can play a member account by its credentials alone, as a StackSet would. moto reads the
        # account from x-moto-account-id.
        caller = emu_authz.principal_of(access_key_id(environ))
        if caller.principal.account and "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = caller.principal.account

        # Read the body once (the request is parsed for authorization before moto sees it) and
        # hand moto a fresh stream with the same bytes.
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        try:
            region, service, operation = identify(environ, body)
        except Exception:
            region, service, operation = DEFAULT_REGION, "unknown", "unknown"
        self.calls.add((region, service, operation))
        if _LABEL_RE.match(caller.label):
            self.principal_calls.add((caller.label, service, operation))

        # AWS's own deliveries (a resource data sync, AWS Config) are made as the sender AWS uses.
        try:
            delivery = emu_deliveries.resolve(environ, caller)
        except emu_deliveries.Refused as e:
            status, headers, err_body = render_error(environ, service, 403, "AccessDenied", str(e))
            start_response(status, headers)
            return [err_body]
        # The first sender the request's policies allow makes it (Config retries as its service
        # principal when the bucket refuses the recorder's role); the last refusal answers.
        senders = delivery if delivery is not None else [(caller, {}, [])]
        for caller, service_context, checks in senders:
            denial = self.authorize(environ, caller, service, region, body, service_context, checks)
            if denial is None:
                break
        if denial is not None:
            status, headers, err_body = denial
            start_response(status, headers)
            return [err_body]

        fault = self.faults.take(lambda f: f["service"] == service and f["operation"] == operation
                                 and f["region"] in (None, region))
        if fault is not None:
            status, headers, err_body = render_error(
                environ, service, fault["status"], fault["code"], fault["message"], fault["protocol"])
            start_response(status, headers)
            return [err_body]
        emu_authz.serving(caller, region, environ.get(emu_authz.INSECURE_HEADER, "").lower() != "true")
        if service == "s3" and operation in ("GetObject", "HeadObject"):
            return self._no_such_key_needs_list_bucket(environ, start_response)
        try:
            return self.app(environ, start_response)
        except NotImplementedError as e:
            # moto raises this for actions it does not implement; without this
            # the SDK would see an HTML 500 page and retry it.
            status, headers, err_body = render_error(
                environ, service, 501, "NotImplemented", f"moto 5.2.5 (emulator): {e}")
            start_response(status, headers)
            return [err_body]

    def _no_such_key_needs_list_bucket(self, environ: dict[str, Any],
                                       start_response: Callable[..., Any]) -> Iterable[bytes]:
        """GetObject and HeadObject of a missing key: "If you have the s3:ListBucket permission on
        the bucket, Amazon S3 returns an HTTP status code 404 Not Found error. If you don't have the
        s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error."
        (Amazon S3 API reference, GetObject, Permissions). moto answers 404 either way."""
        from urllib.parse import unquote

        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answered.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None

        body = self.app(environ, capture)
        if answered["status"].startswith("404"):
            bucket, _, key = unquote(environ.get("PATH_INFO", "/")).lstrip("/").partition("/")
            denied = emu_authz.check_current("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key})
            if denied is not None and emu_authz.bucket_exists(bucket):
                if hasattr(body, "close"):
                    body.close()
                status, headers, err_body = render_error(environ, "s3", 403, "AccessDenied", "Access Denied")
                start_response(status, headers)
                return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else err_body]
        start_response(answered["status"], answered["headers"])
        return body

    def authorize(self, environ: dict[str, Any], caller: "emu_authz.Caller", signing_name: str, region: str,
                  body: bytes, context: dict[str, Any],
                  checks: list[Any] = ()) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The service's AccessDenied error when IAM would deny the request (emu_authz); a 500 naming
        what is missing when the emulator cannot decide; None when the request may proceed."""
        parsed = emu_request.parse(environ, signing_name, body)
        if parsed is None:
            return None  # no operation of the model: moto answers it (404), nothing is done
        invalid = emu_validate.validate(parsed)
        if invalid is not None:
            return render_error(environ, signing_name, invalid.status, invalid.code, invalid.message)
        prefix = emu_authz.iam_prefix(parsed.service_model)
        try:
            denied = emu_authz.authorize(caller, parsed.service_model.service_name, prefix,
                                         parsed.operation_name, parsed.params, region,
                                         secure=environ.get(emu_authz.INSECURE_HEADER, "").lower() != "true",
                                         context=context, checks=list(checks))
        except (emu_authz.AuthzError, Exception) as e:
            # Never an HTML 500: a bug of the emulator's authorization is answered in the
            # service's protocol, with what broke.
            message = f"emulator: cannot authorize {prefix}:{parsed.operation_name}: {e!r}" \
                if not isinstance(e, emu_authz.AuthzError) else \
                f"emulator: cannot authorize {prefix}:{parsed.operation_name}: {e}"
            print(message, file=sys.stderr)
            emu_authz.log({"error": message})
            self.authz_errors.append(message)
            if not emu_authz.enforcing():
                return None
            return render_error(environ, signing_name, 500, "EmulatorAuthorizationError", message)
        if denied is None or not emu_authz.enforcing():
            return None
        return render_error(environ, signing_name, denied.status, denied.code, denied.message)

    # ------------------------------------------------------------------
    def control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        q = {k: v[-1] for k, v in _query_keys(environ).items()}
        body_raw = _read_body(environ) if method in ("POST", "PUT") else b""
        # Custom-resource answers are checked by the engine as sent (malformed ones included).
        answered = emu_cloudformation.control(method, path, body_raw)
        if answered is not None:
            return _json_response(start_response, *answered)
        try:
            body = json.loads(body_raw) if body_raw.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"body is not JSON: {e}") from None

        if path == "/_emulator/health":
            return _json_response(start_response, 200, {"ok": True})

        lambda_answer = emu_lambda.control(method, path, body) or emu_events.control(method, path, body, q)
        if lambda_answer is not None:
            return _json_response(start_response, *lambda_answer)

        if path == "/_emulator/managed-nodes":
            account = body.get("account") or q.get("account") or DEFAULT_ACCOUNT
            region = body.get("region") or q.get("region") or DEFAULT_REGION
            if method == "POST":
                nodes = body.get("nodes")
                if not isinstance(nodes, list):
                    raise ValueError("body needs 'nodes': [...]")
                t0 = time.monotonic()
                ids = emu_ssm.seed_nodes(account, region, nodes)
                return _json_response(start_response, 200,
                                      {"ids": ids, "seconds": round(time.monotonic() - t0, 3)})
            if method == "GET":
                return _json_response(start_response, 200,
                                      {"nodes": emu_ssm.list_nodes(account, region)})
            if method == "DELETE":
                if not q.get("id"):
                    raise ValueError("query needs id=")
                removed = emu_ssm.remove_node(account, region, q["id"],
                                              q.get("ec2", "false").lower() in ("1", "true", "yes"))
                return _json_response(start_response, 200 if removed else 404, {"removed": removed})

        store = self.fault_stores.get(path)
        if store is not None:
            if method == "POST":
                added = store.add_all(body if isinstance(body, list) else [body])
                return _json_response(start_response, 200, {"faults": added})
            if method == "DELETE":
                store.clear()
                return _json_response(start_response, 200, {"faults": []})
            if method == "GET":
                return _json_response(start_response, 200, {"faults": store.snapshot()})

        if path == "/_emulator/s3/bulk" and method == "POST":
            return _json_response(start_response, 200, emu_s3.bulk(body))

        if path == "/_emulator/calls":
            if method == "GET":
                return _json_response(start_response, 200, {"calls": self.calls.snapshot(q.get("region"))})
            if method == "DELETE":
                self.calls.reset(q.get("region"))
                return _json_response(start_response, 200, {"calls": []})

        if path == "/_emulator/calls-by-principal" and method == "GET":
            calls = [{"principal": c["region"], "service": c["service"], "operation": c["operation"],
                      "count": c["count"]} for c in self.principal_calls.snapshot(None)]
            return _json_response(start_response, 200, {"calls": calls})

        if path == "/_emulator/authz/decisions":
            if method == "GET":
                return _json_response(start_response, 200, {"decisions": emu_authz.DECISIONS.snapshot(),
                                                             "errors": list(self.authz_errors)})
            if method == "DELETE":
                emu_authz.DECISIONS.reset()
                self.authz_errors.clear()
                return _json_response(start_response, 200, {"decisions": []})

        if path == "/_emulator/reset" and method == "POST":
            from moto.moto_api._internal.models import moto_api_backend

            moto_api_backend.reset()  # drops every moto backend, and our SSM state with them
            for store in self.fault_stores.values():
                store.clear()
            self.calls.reset(None)
            self.principal_calls.reset(None)
            self.authz_errors.clear()
            emu_authz.reset()
            emu_lambda.reset()
            return _json_response(start_response, 200, {"status": "ok"})

        return _json_response(start_response, 404, {"error": f"no control endpoint {method} {path}"})
