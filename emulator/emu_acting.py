"""A service acting with a principal's permissions: Athena with the caller's ("their permissions
pass through Athena to determine what Athena can access", Athena User Guide, "Control access to
Amazon S3 from Athena"), a Glue crawler with its role's ("Crawler prerequisites", Glue Developer
Guide).

Each call the service makes in the principal's name is decided by emu_authz.decide, as the request
the service sends would be: S3 operations as the reference maps them (with the KMS permission an
SSE-KMS object needs through S3), Glue catalog actions on the catalog, the database and the table.
Each (action, resource, context) is decided once per run (a query, a crawl); every decision is
recorded with the others.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from typing import Any, Callable

import emu_authz
import iam_actions
from iam_policy import PolicyError


@functools.lru_cache(maxsize=64)
def glue_templates(action: str) -> tuple[str, ...]:
    """The ARN formats of the action's catalog, database and table resource types, catalog first
    (the optional `catalog/${CatalogName}` of other catalogs than the account's is not ours)."""
    order = {"rootcatalog": 0, "catalog": 0, "database": 1, "table": 2}
    types = [(order[name], template) for name, _, template in iam_actions.resource_types(action)
             if name in order and "${CatalogName}" not in template]
    return tuple(template for _, template in sorted(types))


class Acting:
    """What `caller` may have a service do, decided once per (action, resource, context).

    `context`: the keys of the service's requests (`aws:CalledVia`...), over the caller's own.
    `called_via`: the services before S3 in a chain (S3 calling KMS for Athena).
    `unevaluable`: the exception to raise when a policy cannot be evaluated (its message)."""

    def __init__(self, caller: emu_authz.Caller, account: str, region: str, *, context: dict[str, Any] | None = None,
                 called_via: tuple[str, ...] = (), unevaluable: Callable[[str], Exception]) -> None:
        self.caller, self.account, self.region = caller, account, region
        self.context = {**emu_authz.base_context(caller.principal, region), **(context or {})}
        self.called_via = called_via
        self.unevaluable = unevaluable
        self.decided: dict[tuple[str, str, str], str | None] = {}

    def denial(self, auth: iam_actions.Authorization) -> str | None:
        """IAM's denial message, or None when allowed (or when the emulator only records)."""
        key = (auth.action, auth.resource, json.dumps(auth.context, sort_keys=True, default=str))
        if key in self.decided:
            return self.decided[key]
        try:
            decision = emu_authz.decide(self.caller.principal, auth, self.context, self.caller)
        except PolicyError as error:
            message = f"emulator: cannot authorize {auth.action} on {auth.resource}: {error}"
            emu_authz.log({"error": message})
            raise self.unevaluable(message) from None
        denial = None if decision.allowed or not emu_authz.enforcing() else \
            emu_authz.denial_message(self.caller.principal, auth, decision)
        self.decided[key] = denial
        return denial

    def s3(self, operation: str, bucket: str, **params: Any) -> str | None:
        """IAM's denial of an S3 request the service makes (its actions as the reference maps the
        operation, with S3's condition keys, and the KMS permission it needs through S3), or None."""
        call = iam_actions.Call(service="s3", prefix="s3", operation=operation, params={"Bucket": bucket, **params},
                                account=self.caller.principal.account or self.account, region=self.region,
                                partition=emu_authz.PARTITION)
        auths = iam_actions.resolve(call)
        through = [replace(a, context={**a.context, "aws:CalledVia": [*self.called_via,
                                                                         *a.context.get("aws:CalledVia", [])]})
                   for a in emu_authz.dependent(call, auths)]
        for auth in auths + through:
            denial = self.denial(auth)
            if denial is not None:
                return denial
        return None

    def glue(self, action: str, database: str, table: str | None = None) -> str | None:
        """IAM's denial of a catalog action on the catalog, the database (and the table), decided
        from the catalog down, or None."""
        values = {"Partition": emu_authz.PARTITION, "Region": self.region, "Account": self.account,
                  "DatabaseName": database, "TableName": table or ""}
        for template in glue_templates(action):
            if "${TableName}" in template and table is None:
                continue
            arn = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)
            denial = self.denial(iam_actions.Authorization(action, arn, self.account))
            if denial is not None:
                return denial
        return None
