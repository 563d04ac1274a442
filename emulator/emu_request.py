"""An AWS request read as the service reads it: its operation and its parameters, from botocore's model.

Authorization (which action, on which resource) and validation (required members, enums, lengths,
patterns) both need the request's parameters as the service model names them, whatever the protocol
carried them in: a JSON body (`json`, `rest-json`), a form body (`query`, `ec2`), the URI and headers
(`rest-json`, `rest-xml`). moto already routes and parses requests from botocore's models
(`moto.core.routing`, `moto.core.parse`) for its own handlers; this module runs the same routing and
parsing once, before moto, so that nothing is parsed by hand here.

A request the model cannot route (an operation of a protocol moto does not serve, a path no operation
has) is `None`: the caller decides (moto answers it with its own 404, as before).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import Request
from moto.core.routing import determine_request_protocol, get_service_router
from moto.core.utils import get_service_model
from werkzeug.exceptions import HTTPException

# The SigV4 signing name (the credential scope's service) where it differs from botocore's model name.
MODEL_OF_SIGNING_NAME = {
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
    "email": "ses",
}


@dataclass(frozen=True)
class ParsedRequest:
    service_model: ServiceModel
    operation: OperationModel
    params: dict[str, Any]

    @property
    def operation_name(self) -> str:
        return self.operation.name


def parse(environ: dict[str, Any], signing_name: str, body: bytes) -> ParsedRequest | None:
    """The request's operation and parameters, or None when the model does not route it.

    `body` is the request body, already read; the environ's input stream is left for moto."""
    service = MODEL_OF_SIGNING_NAME.get(signing_name, signing_name)
    try:
        service_model = get_service_model(service)
    except Exception:
        return None
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    env["CONTENT_LENGTH"] = str(len(body))
    env.pop("HTTP_TRANSFER_ENCODING", None)
    request = Request(env)
    try:
        operation, uri_params = get_service_router(service).match(request)
    except (HTTPException, NotImplementedError, KeyError):
        return None
    protocol = determine_request_protocol(service_model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](operation)
    params = parser.parse({
        "method": request.method,
        "values": request.values,
        "headers": request.headers,
        "body": body,
        "url_path": request.path,
        "url_params": uri_params,
    })
    return ParsedRequest(service_model, operation, dict(params))
