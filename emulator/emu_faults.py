"""Armed faults: the store behind every fault endpoint of the control API.

Why this module exists
----------------------
``/_emulator/faults`` (whole calls, ``emu_control``), ``/_emulator/glue/entry-faults``
(batch partition entries, ``emu_glue``) and ``/_emulator/s3/delete-faults`` (DeleteObjects
keys, ``emu_s3``) share one behaviour: a fault answers the next ``times`` matching calls or
entries (``-1``: all of them), then disarms itself; they can be listed and cleared, and
``/_emulator/reset`` clears them.  Only what a fault matches on differs, so each owner gives
the fields it keeps (validating the spec) and the match at ``take`` time.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable


class Faults:
    def __init__(self, fields: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """``fields(spec)``: what the fault matches on, taken from the POSTed spec (raises
        ``ValueError``, answered as HTTP 400, for a bad spec)."""
        self.fields = fields
        self.lock = threading.Lock()
        self.items: list[dict[str, Any]] = []

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        fault = {"id": str(uuid.uuid4()), **self.fields(spec)}
        if not spec.get("code"):
            raise ValueError("fault needs 'code'")
        fault.update(code=spec["code"], message=spec.get("message", spec["code"]),
                     times=int(spec.get("times", 1)))
        if fault["times"] == 0 or fault["times"] < -1:
            raise ValueError("times must be a positive count or -1 (forever)")
        with self.lock:
            self.items.append(fault)
        return dict(fault)

    def add_all(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.add(s) for s in specs]

    def take(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The first armed fault for which ``match(fault)`` holds, consuming one use."""
        with self.lock:
            for fault in self.items:
                if match(fault):
                    if fault["times"] > 0:
                        fault["times"] -= 1
                        if fault["times"] == 0:
                            self.items.remove(fault)
                    return dict(fault)
        return None

    def clear(self) -> None:
        with self.lock:
            self.items.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(f) for f in self.items]
