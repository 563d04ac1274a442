"""AWS managed IAM policies, on demand; role trust policies validated as IAM validates them.

AWS managed policies (``arn:aws:iam::aws:policy/...``) exist in every account; member-patching.yaml
attaches ``service-role/AWS_ConfigRole``. moto has them only with ``MOTO_IAM_LOAD_MANAGED_POLICIES``,
which loads all ~1,600 into every account's backend at each reset (seconds per test). Instead, the
first attach or GetPolicy of one adds that policy alone, from moto's own copy of AWS's list.

CreateRole: moto stores any text as the trust policy ("{}" included); IAM refuses a document that
is not a policy with `MalformedPolicyDocument` (CreateRole, IAM API reference, Errors), and the
emulator evaluates the trust policy on every sts:AssumeRole (emu_authz), so it must parse.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.models import AWSManagedPolicy, IAMBackend

from iam_policy import PolicyError, parse_policy

AWS_POLICY_PREFIX = ":iam::aws:policy/"


@lru_cache(maxsize=1)
def _known() -> dict[str, Any]:
    return json.loads(aws_managed_policies_data)


def ensure_aws_policy(backend: IAMBackend, policy_arn: str) -> None:
    if AWS_POLICY_PREFIX not in policy_arn or policy_arn in backend.managed_policies:
        return
    name = policy_arn.rsplit("/", 1)[-1]
    data = _known().get(name)
    if data is not None:
        policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        if policy.arn == policy_arn:
            backend.managed_policies[policy.arn] = policy


def _wrap(method_name: str) -> None:
    original = getattr(IAMBackend, method_name)

    def wrapper(self: IAMBackend, policy_arn: str, *args: Any, **kwargs: Any) -> Any:
        ensure_aws_policy(self, policy_arn)
        return original(self, policy_arn, *args, **kwargs)

    setattr(IAMBackend, method_name, wrapper)


_orig_create_role = IAMBackend.create_role


def create_role(self: IAMBackend, role_name: str, assume_role_policy_document: str, *args: Any,
                **kwargs: Any) -> Any:
    try:
        parse_policy(assume_role_policy_document, f"trust policy of {role_name}", resource_policy=True)
    except PolicyError as e:
        raise MalformedPolicyDocument(f"Syntax errors in policy: {e}") from None
    return _orig_create_role(self, role_name, assume_role_policy_document, *args, **kwargs)


def install() -> None:
    for name in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy"):
        _wrap(name)
    IAMBackend.create_role = create_role  # type: ignore[method-assign]
