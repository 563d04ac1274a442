"""The emulator's IAM policy evaluation (emulator/iam_policy.py) against the IAM User Guide's rules.

Each case names the page and rule it follows (iam_policy.py's docstring lists the pages).

    .venv/bin/python -m pytest tests/emulator/test_iam_policy.py -q
"""

from __future__ import annotations

import pytest
from iam_policy import PolicyError, Principal, Request, evaluate, parse_policy

A, B = "111111111111", "222222222222"
ROLE = Principal("role", f"arn:aws:sts::{A}:assumed-role/app/fn", A, role_arn=f"arn:aws:iam::{A}:role/app")
OTHER_ROLE = Principal("role", f"arn:aws:sts::{A}:assumed-role/other/fn", A,
                       role_arn=f"arn:aws:iam::{A}:role/other")
CONFIG = Principal("service", "config.amazonaws.com", None)


def policy(*statements, kind="identity", name="p"):
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, f"{kind} {name}",
                        resource_policy=kind == "resource")


def request(action, resource, principal=ROLE, account=A, **context):
    return Request(principal, action, resource, account, context)


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_identity_policy_allows_only_what_it_names():
    ident = policy(allow("s3:GetObject", "arn:aws:s3:::b/k/*"))
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/k/x"), identity=ident, resource=None, scps=None).allowed
    denied = evaluate(request("s3:GetObject", "arn:aws:s3:::b/other/x"), identity=ident, resource=None, scps=None)
    assert not denied.allowed and "no identity-based policy" in denied.reason
    assert not evaluate(request("s3:PutObject", "arn:aws:s3:::b/k/x"), identity=ident, resource=None, scps=None).allowed


def test_actions_ignore_case_resources_do_not_and_question_mark_is_one_character():
    # MATCH: action names are not case-sensitive; ARNs are.
    ident = policy(allow("S3:get?bject", "arn:aws:s3:::b/K*"))
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/K1"), identity=ident, resource=None, scps=None).allowed
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::b/k1"), identity=ident, resource=None, scps=None).allowed
    assert not evaluate(request("s3:GetObjectAcl", "arn:aws:s3:::b/K1"), identity=ident, resource=None,
                        scps=None).allowed


def test_not_action_and_not_resource():
    ident = policy({"Effect": "Allow", "NotAction": "s3:DeleteObject", "NotResource": "arn:aws:s3:::b/secret/*"})
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/x"), identity=ident, resource=None, scps=None).allowed
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::b/secret/x"), identity=ident, resource=None,
                        scps=None).allowed
    assert not evaluate(request("s3:DeleteObject", "arn:aws:s3:::b/x"), identity=ident, resource=None,
                        scps=None).allowed


def test_a_bucket_policy_deny_on_insecure_transport_overrides_the_identity_allow():
    # EVAL: an explicit deny in any policy wins.
    ident = policy(allow("s3:GetObject", "arn:aws:s3:::b/*"))
    bucket = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, kind="resource")
    tls = evaluate(request("s3:GetObject", "arn:aws:s3:::b/x", **{"aws:SecureTransport": "true"}),
                   identity=ident, resource=bucket, scps=None)
    plain = evaluate(request("s3:GetObject", "arn:aws:s3:::b/x", **{"aws:SecureTransport": "false"}),
                     identity=ident, resource=bucket, scps=None)
    assert tls.allowed
    assert not plain.allowed and plain.explicit and "explicit deny in a resource-based policy" in plain.reason


def test_within_one_account_either_side_allows_but_an_account_principal_delegates():
    # BASICS: same account, a resource policy naming the role allows without an identity policy.
    direct = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/app"},
                     "Action": "sns:Publish", "Resource": "*"}, kind="resource")
    topic = f"arn:aws:sns:us-east-1:{A}:t"
    assert evaluate(request("sns:Publish", topic), identity=[], resource=direct, scps=None).allowed
    assert not evaluate(request("sns:Publish", topic, principal=OTHER_ROLE), identity=[], resource=direct,
                        scps=None).allowed
    # PRINCIPAL: naming the account delegates to the account's identity policies.
    account = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                      "Action": "sns:Publish", "Resource": "*"}, kind="resource")
    assert not evaluate(request("sns:Publish", topic), identity=[], resource=account, scps=None).allowed
    assert evaluate(request("sns:Publish", topic), identity=policy(allow("sns:Publish", topic)),
                    resource=account, scps=None).allowed


def test_across_accounts_both_sides_must_allow():
    # XACCT.
    obj = "arn:aws:s3:::theirs/x"
    ident = policy(allow("s3:GetObject", obj))
    rp = policy({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "s3:GetObject", "Resource": obj},
                kind="resource")
    assert not evaluate(request("s3:GetObject", obj, account=B), identity=ident, resource=None, scps=None).allowed
    assert not evaluate(request("s3:GetObject", obj, account=B), identity=[], resource=rp, scps=None).allowed
    assert evaluate(request("s3:GetObject", obj, account=B), identity=ident, resource=rp, scps=None).allowed


def test_a_kms_key_needs_its_key_policy_whatever_iam_says():
    # KMS: "Unless the key policy explicitly allows it, you cannot use IAM policies to allow access".
    key = f"arn:aws:kms:us-east-1:{A}:key/k"
    ident = policy(allow("kms:Decrypt", key))
    other = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:role/other"},
                    "Action": "kms:*", "Resource": "*"}, kind="resource")
    root = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*",
                   "Resource": "*"}, kind="resource")
    assert not evaluate(request("kms:Decrypt", key), identity=ident, resource=None, scps=None).allowed
    assert not evaluate(request("kms:Decrypt", key), identity=ident, resource=other, scps=None).allowed
    assert evaluate(request("kms:Decrypt", key), identity=ident, resource=root, scps=None).allowed
    assert not evaluate(request("kms:Decrypt", key), identity=[], resource=root, scps=None).allowed


def test_a_role_trust_policy_is_required_to_assume_it():
    # TRUST: Lambda assumes a function's role only if the trust policy names lambda.amazonaws.com.
    role = f"arn:aws:iam::{A}:role/app"
    trust = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}, kind="resource")
    lam = Principal("service", "lambda.amazonaws.com", None)
    assert evaluate(request("sts:AssumeRole", role, principal=lam), identity=[], resource=trust, scps=None).allowed
    assert not evaluate(request("sts:AssumeRole", role, principal=CONFIG), identity=[], resource=trust,
                        scps=None).allowed
    assert not evaluate(request("sts:AssumeRole", role), identity=policy(allow("sts:AssumeRole", role)),
                        resource=trust, scps=None).allowed


def test_a_service_principal_is_allowed_only_by_the_resource_policy_and_its_conditions():
    # Config's documented bucket policy: config.amazonaws.com writes AWSLogs/<account>/Config/* with
    # aws:SourceAccount of that account.
    bucket = policy({"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:PutObject",
                     "Resource": "arn:aws:s3:::cfg/AWSLogs/${aws:SourceAccount}/Config/*",
                     "Condition": {"StringEquals": {"aws:SourceOrgID": "o-abc"}}}, kind="resource")
    own = request("s3:PutObject", f"arn:aws:s3:::cfg/AWSLogs/{B}/Config/x", principal=CONFIG,
                  **{"aws:SourceAccount": B, "aws:SourceOrgID": "o-abc"})
    forged = request("s3:PutObject", f"arn:aws:s3:::cfg/AWSLogs/{A}/Config/x", principal=CONFIG,
                     **{"aws:SourceAccount": B, "aws:SourceOrgID": "o-abc"})
    outside = request("s3:PutObject", f"arn:aws:s3:::cfg/AWSLogs/{B}/Config/x", principal=CONFIG,
                      **{"aws:SourceAccount": B, "aws:SourceOrgID": "o-zzz"})
    assert evaluate(own, identity=[], resource=bucket, scps=None).allowed
    assert not evaluate(forged, identity=[], resource=bucket, scps=None).allowed
    assert not evaluate(outside, identity=[], resource=bucket, scps=None).allowed


def test_scps_need_an_allow_at_every_level_and_any_deny_applies():
    # SCP: root, OU and account each need an allowing SCP.
    ident = policy(allow("ssm:*", "*"))
    full = policy(allow("*", "*"), kind="scp", name="FullAWSAccess")
    no_ssm = policy({"Effect": "Deny", "Action": "ssm:DeleteResourceDataSync", "Resource": "*"}, kind="scp")
    only_ec2 = policy(allow("ec2:*", "*"), kind="scp", name="ec2")
    req = request("ssm:DeleteResourceDataSync", f"arn:aws:ssm:us-east-1:{A}:resource-data-sync/s")
    assert evaluate(req, identity=ident, resource=None, scps=[full, full]).allowed
    denied = evaluate(req, identity=ident, resource=None, scps=[full, full + no_ssm])
    assert not denied.allowed and "explicit deny in a service control policy" in denied.reason
    assert not evaluate(req, identity=ident, resource=None, scps=[full, only_ec2]).allowed
    # An administrator is held to SCPs too.
    admin = Principal("root", f"arn:aws:iam::{A}:root", A, administrator=True)
    assert not evaluate(Request(admin, req.action, req.resource, A, {}), identity=[], resource=None,
                        scps=[full, only_ec2]).allowed


@pytest.mark.parametrize(("operator", "key", "values", "context", "holds"), [
    # CONDITIONS: a missing key makes a condition false, a negated one true, IfExists true.
    ("StringEquals", "aws:SourceAccount", A, {}, False),
    ("StringNotLike", "aws:SourceAccount", "9*", {}, True),
    ("StringEqualsIfExists", "aws:SourceAccount", A, {}, True),
    ("StringEqualsIfExists", "aws:SourceAccount", A, {"aws:SourceAccount": B}, False),
    ("NumericEqualsIfExists", "s3:max-keys", "10", {"s3:max-keys": "10"}, True),
    ("Null", "aws:PrincipalOrgID", "true", {}, True),
    ("Null", "aws:PrincipalOrgID", "false", {}, False),
    # Multivalued keys.
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a", "c"]}, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a", "c"]}, True),
    # OR across one key's values; keys are case-insensitive; Bool compares case-insensitively.
    ("StringEquals", "AWS:sourceaccount", [B, A], {"aws:SourceAccount": A}, True),
    ("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "False"}, True),
    ("ArnLike", "aws:SourceArn", "arn:aws:events:*:111111111111:rule/r*",
     {"aws:SourceArn": "arn:aws:events:eu-west-1:111111111111:rule/r1"}, True),
    ("ArnNotEquals", "aws:SourceArn", "arn:aws:sns:us-east-1:1:t", {}, True),
    # VARS in condition values.
    ("StringEquals", "aws:ResourceAccount", "${aws:PrincipalAccount}",
     {"aws:ResourceAccount": A, "aws:PrincipalAccount": A}, True),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "10.1.2.3"}, True),
    ("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", {"aws:CurrentTime": "2026-12-08T00:00:00Z"}, True),
])
def test_condition_operators(operator, key, values, context, holds):
    from iam_policy import condition_holds
    assert condition_holds(operator, key, values, context) is holds


@pytest.mark.parametrize("operator", ["StringEqualz", "Bogus", "ForSomeValues:StringEquals", "NullIfExists"])
def test_an_unknown_operator_is_an_error_not_a_silent_non_match(operator):
    with pytest.raises(PolicyError, match="operator"):
        policy({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {operator: {"aws:SourceAccount": A}}})


def test_an_unknown_condition_key_is_an_error_when_the_caller_says_so():
    def known(key):
        if key.lower() != "aws:sourceaccount":
            raise PolicyError(f"condition key {key} is not evaluated by the emulator")

    ident = policy(allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:SourceAcount": A}}))
    with pytest.raises(PolicyError, match="aws:SourceAcount"):
        evaluate(request("s3:GetObject", "arn:aws:s3:::b/x"), identity=ident, resource=None, scps=None,
                 known_key=known)


def test_a_resource_with_a_variable_without_a_value_matches_nothing():
    ident = policy(allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"))
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::b/x/y"), identity=ident, resource=None,
                        scps=None).allowed
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/x/y", **{"aws:username": "x"}), identity=ident,
                    resource=None, scps=None).allowed


def test_malformed_policies_are_refused():
    with pytest.raises(PolicyError, match="Principal"):
        policy({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    with pytest.raises(PolicyError, match="needs a Principal"):
        policy(allow("*", "*"), kind="resource")
    with pytest.raises(PolicyError, match="Effect"):
        policy({"Effect": "allow", "Action": "*", "Resource": "*"})
    with pytest.raises(PolicyError, match="unknown element"):
        policy({"Effect": "Allow", "Action": "*", "Resources": "*"})
