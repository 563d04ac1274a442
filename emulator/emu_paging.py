"""NextToken for the emulator's paginated operations (SSM, Glue, QuickSight): an opaque token that
holds the position after which the next page starts and a fingerprint of the request, so a token
minted for another query is refused, as AWS refuses it. AWS documents tokens only as opaque
strings; the error each service returns for a bad one stays with the caller."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any


def fingerprint(*parts: Any) -> str:
    """A short digest of what the request asked for (filters, names): the token's binding."""
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def make_token(after: int, fp: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": after, "fp": fp}).encode()).decode()


def read_token(token: str | None, fp: str) -> int:
    """The position in ``token`` (-1 without one). Raises ValueError for a malformed token or one
    minted for another request: the caller turns it into its service's error."""
    if not token:
        return -1
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a token") from None
    if not isinstance(data, dict) or data.get("v") != 1 or data.get("fp") != fp \
            or not isinstance(data.get("after"), int):
        raise ValueError("not a token for this request")
    return data["after"]
