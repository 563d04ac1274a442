"""Resource providers of the emulator's CloudFormation engine: one provider per resource type.

Why this module exists
----------------------
moto's engine skips about twenty of the types our templates use and half-handles others
(/tmp/notes/moto_cfn_gaps.md, section 2). Each provider here makes the calls the type's real
handler makes, through the emulator's own HTTP endpoint and signed as the stack's account
(``Call.client``), so CloudFormation's calls are counted and ``/_emulator/faults`` can fail them.

Per type: ``replacement`` holds the properties whose "Update requires" is Replacement in the
CloudFormation resource reference (docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/
aws-resource-<service>-<type>.html, each property's "Update requires"); ``Ref`` is the physical id and
``attribute`` answers Fn::GetAtt, both as the page's "Return values" section documents them. Property
values reach the API through ``api()``, which converts "90" to 90 and "true" to True where the API's
model wants a number or a boolean, as CloudFormation's own handlers convert them.

A type whose handler is one create call, one delete call and at most one update call is a ``Simple``
spec (the calls, the physical id, the attributes); a type that needs more calls is a class.

A type without a provider fails the call naming the type (``provider_for``): never skipped.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore import xform_name

from emu_cfn_engine import Call, Resource, ResourceFailure, Stack, canonical, validation
from emu_cfn_template import ResolveError, scalar_str

Props = dict[str, Any]
Outcome = tuple[str, dict[str, Any]]


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _coerce(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _coerce(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_coerce(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _coerce(v, shape.value) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, str):
        return int(float(value))
    if kind in ("float", "double") and isinstance(value, str):
        return float(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind == "string" and isinstance(value, (bool, int, float)):
        return scalar_str(value)
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def api(client: Any, operation: str, **params: Any) -> Any:
    """Calls ``operation`` (its API name) with parameters converted to the types its model wants."""
    model = client.meta.service_model.operation_model(operation)
    params = {k: v for k, v in params.items() if v is not None}
    return getattr(client, xform_name(operation))(**_coerce(params, model.input_shape))


def pick(props: Props, *names: str) -> Props:
    return {n: props[n] for n in names if n in props}


def as_json(value: Any) -> str | None:
    """Policy documents: CloudFormation takes an object or a JSON string; the APIs want text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def changed(before: Props, after: Props, *names: str) -> bool:
    return any(canonical(before.get(n)) != canonical(after.get(n)) for n in names)


def tags_list(props: Props) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": scalar_str(t["Value"])} for t in props.get("Tags", [])]


def tags_map(props: Props) -> dict[str, str] | None:
    """Tags as the APIs that take a map want them (a type whose Tags are already a map keeps it)."""
    tags = props.get("Tags")
    return ({t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else tags) or None


def attribute_strings(props: Props, names: tuple[str, ...]) -> dict[str, str]:
    """Properties as an Attributes map (SQS, SNS): every value a string, objects as JSON."""
    return {k: as_json(props[k]) if isinstance(props[k], dict) else scalar_str(props[k]) for k in names if k in props}


def _error_code(e: Exception) -> str:
    response = getattr(e, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def ignore_missing(fn: Any, *codes: str) -> None:
    """Runs a delete call; "already gone" counts as deleted, as CloudFormation's handlers treat a
    NotFound on delete."""
    try:
        fn()
    except Exception as e:
        code = _error_code(e)
        if code not in codes and "NotFound" not in code and "NoSuch" not in code:
            raise


class Provider:
    type_name = ""
    replacement: frozenset[str] = frozenset()
    # Conditionally create-only properties: "properties that can only be updated under certain
    # conditions ... the resource will be replaced if it cannot be updated" ("Resource type schema",
    # CloudFormation CLI User Guide, conditionalCreateOnlyProperties). A change set shows them as
    # RequiresRecreation Conditionally; ``needs_replacement`` decides for the actual values.
    conditional: frozenset[str] = frozenset()
    may_change_physical_id = False

    def needs_replacement(self, before: Props, after: Props) -> bool:
        return changed(before, after, *self.replacement)

    def check_update(self, before: Props, after: Props) -> None:
        """Raises ResourceFailure for a change the type refuses to make (the update fails)."""

    def create(self, call: Call, props: Props) -> Outcome:
        raise NotImplementedError

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        raise NotImplementedError

    def delete(self, call: Call, res: Resource) -> None:
        raise NotImplementedError

    def attribute(self, stack: Stack, res: Resource, name: str) -> Any:
        if name in res.attributes:
            return res.attributes[name]
        raise ResolveError(f"Template error: resource {res.logical_id} does not support attribute "
                           f"type {name} in Fn::GetAtt")


PROVIDERS: dict[str, Provider] = {}


def register(provider: type[Provider] | Provider) -> Any:
    """Registers a provider class (as a decorator) or a ``Simple`` spec."""
    PROVIDERS[provider.type_name] = provider() if isinstance(provider, type) else provider
    return provider


def provider_for(type_name: str) -> Provider:
    if type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource":
        return PROVIDERS["AWS::CloudFormation::CustomResource"]
    provider = PROVIDERS.get(type_name)
    if provider is None:
        # AWS answers an unknown type with "Template format error: Unrecognized resource types: [X]";
        # for a real type the emulator cannot create the same call fails, naming the type.
        raise validation(f"Template format error: Unrecognized resource types: [{type_name}] (the "
                         "emulator's CloudFormation has no provider for this type)")
    return provider


# --------------------------------------------------------------------------------------------------
# Simple types, declared as data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One API call of a simple type: the operation (its API name), the properties it takes as they
    are (``fields``), parameters computed from the properties (``convert``) and ``params``, whose
    str values are str.format templates over ``props``, the physical ``id`` and the ``name``
    (other values are passed as they are)."""

    operation: str
    fields: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    convert: Callable[[Props], Props] | None = None

    def run(self, client: Any, props: Props, **names: Any) -> Any:
        params = pick(props, *self.fields)
        params.update(self.convert(props) if self.convert else {})
        params.update({k: v.format(props=props, **names) if isinstance(v, str) else v
                       for k, v in self.params.items()})
        return api(client, self.operation, **params)


@dataclass(frozen=True, kw_only=True)
class Simple(Provider):
    """A type whose handler makes one create call, one delete call and at most one update call.

    ``physical`` (the Ref) and the ``attributes`` (Fn::GetAtt) are str.format templates over
    ``props``, the create call's answer ``out`` and ``name``: the ``name_property``'s value, or a
    name CloudFormation generates (at most ``name_length`` characters) when the template gives none.
    The delete call tolerates "already gone" (``ignore_missing``; ``gone``: more codes meaning it).
    Without ``update_call`` every property must be in ``replacement``. ``renamed_in``: a property whose
    ``Name`` member, when changed, replaces the resource. Whatever fails (an AWS error, a property
    the call needs that the template lacks) fails the resource with the error, as a class's would.
    """

    type_name: str
    service: str
    create_call: Op
    physical: str
    delete_call: Op
    update_call: Op | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    replacement: frozenset[str] = frozenset()
    name_property: str = ""
    name_length: int = 0
    renamed_in: str = ""
    gone: tuple[str, ...] = ()

    def needs_replacement(self, before: Props, after: Props) -> bool:
        return super().needs_replacement(before, after) or bool(self.renamed_in) and changed(
            before.get(self.renamed_in, {}), after.get(self.renamed_in, {}), "Name")

    def create(self, call: Call, props: Props) -> Outcome:
        name = (props.get(self.name_property) or call.physical_name(self.name_length)) if self.name_length else None
        out = self.create_call.run(call.client(self.service), props, name=name)
        values = {"props": props, "out": out, "name": name}
        return self.physical.format(**values), {k: v.format(**values) for k, v in self.attributes.items()}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        if self.update_call is None:
            raise NotImplementedError(f"{self.type_name} is only ever replaced")
        self.update_call.run(call.client(self.service), props, id=before.physical_id)
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: self.delete_call.run(call.client(self.service), res.properties, id=res.physical_id),
                       *self.gone)


# --------------------------------------------------------------------------------------------------
# Custom resources ("Custom resources", AWS::CloudFormation::CustomResource)
# --------------------------------------------------------------------------------------------------


@register
class CustomResource(Provider):
    type_name = "AWS::CloudFormation::CustomResource"
    may_change_physical_id = True

    def create(self, call: Call, props: Props) -> Outcome:
        return call.custom("Create", props, None, None)

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        # ServiceToken: "Updates aren't supported" (AWS::CloudFormation::CustomResource).
        if before.properties.get("ServiceToken") != props.get("ServiceToken"):
            raise ResourceFailure("Modifying service token is not allowed.")
        return call.custom("Update", props, before.physical_id, before.properties)

    def delete(self, call: Call, res: Resource) -> None:
        call.custom("Delete", res.properties, res.physical_id, None)

    def attribute(self, stack: Stack, res: Resource, name: str) -> Any:
        # GetAtt reads the answer's Data; a missing key fails as AWS fails it (wording as seen).
        if name in res.attributes:
            return res.attributes[name]
        raise ResolveError(f"CustomResource attribute error: Vendor response doesn't contain {name} "
                           f"attribute in object {stack.stack_id}|{res.logical_id}|{res.physical_id} "
                           f"in region {stack.region}")


# --------------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------------


@register
class IamRole(Provider):
    type_name = "AWS::IAM::Role"
    replacement = frozenset({"RoleName", "Path"})

    def create(self, call: Call, props: Props) -> Outcome:
        iam = call.client("iam")
        name = props.get("RoleName") or call.physical_name(64)
        out = api(iam, "CreateRole", RoleName=name, Path=props.get("Path"),
                  AssumeRolePolicyDocument=as_json(props["AssumeRolePolicyDocument"]),
                  Description=props.get("Description"), MaxSessionDuration=props.get("MaxSessionDuration"),
                  PermissionsBoundary=props.get("PermissionsBoundary"), Tags=tags_list(props) or None)
        call.set_physical_id(name)
        self._policies(iam, name, {}, props)
        return name, {"Arn": out["Role"]["Arn"], "RoleId": out["Role"]["RoleId"]}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        iam, name = call.client("iam"), before.physical_id
        old = before.properties
        if changed(old, props, "AssumeRolePolicyDocument"):
            api(iam, "UpdateAssumeRolePolicy", RoleName=name,
                PolicyDocument=as_json(props["AssumeRolePolicyDocument"]))
        if changed(old, props, "Description", "MaxSessionDuration"):
            api(iam, "UpdateRole", RoleName=name, Description=props.get("Description", ""),
                MaxSessionDuration=props.get("MaxSessionDuration"))
        self._policies(iam, name, old, props)
        return name, before.attributes

    @staticmethod
    def _policies(iam: Any, name: str, old: Props, new: Props) -> None:
        old_inline = {p["PolicyName"]: p for p in old.get("Policies", [])}
        new_inline = {p["PolicyName"]: p for p in new.get("Policies", [])}
        for policy_name, p in new_inline.items():
            if canonical(old_inline.get(policy_name)) != canonical(p):
                api(iam, "PutRolePolicy", RoleName=name, PolicyName=policy_name,
                    PolicyDocument=as_json(p["PolicyDocument"]))
        for policy_name in set(old_inline) - set(new_inline):
            api(iam, "DeleteRolePolicy", RoleName=name, PolicyName=policy_name)
        old_managed, new_managed = set(old.get("ManagedPolicyArns", [])), set(new.get("ManagedPolicyArns", []))
        for arn in sorted(new_managed - old_managed):
            api(iam, "AttachRolePolicy", RoleName=name, PolicyArn=arn)
        for arn in sorted(old_managed - new_managed):
            api(iam, "DetachRolePolicy", RoleName=name, PolicyArn=arn)

    def delete(self, call: Call, res: Resource) -> None:
        iam, name = call.client("iam"), res.physical_id

        def remove() -> None:
            for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            iam.delete_role(RoleName=name)

        ignore_missing(remove)


@register
class IamRolePolicy(Provider):
    """An inline policy of a role as a resource of its own ("AWS::IAM::RolePolicy": PolicyName and
    RoleName need replacement, PolicyDocument is updated in place)."""

    type_name = "AWS::IAM::RolePolicy"
    replacement = frozenset({"PolicyName", "RoleName"})

    def create(self, call: Call, props: Props) -> Outcome:
        api(call.client("iam"), "PutRolePolicy", RoleName=props["RoleName"], PolicyName=props["PolicyName"],
            PolicyDocument=as_json(props["PolicyDocument"]))
        physical = f"{props['PolicyName']}|{props['RoleName']}"
        call.set_physical_id(physical)
        return physical, {}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        if changed(before.properties, props, "PolicyDocument"):
            api(call.client("iam"), "PutRolePolicy", RoleName=props["RoleName"], PolicyName=props["PolicyName"],
                PolicyDocument=as_json(props["PolicyDocument"]))
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: api(call.client("iam"), "DeleteRolePolicy", RoleName=res.properties["RoleName"],
                                   PolicyName=res.properties["PolicyName"]))


@register
class IamManagedPolicy(Provider):
    type_name = "AWS::IAM::ManagedPolicy"
    replacement = frozenset({"ManagedPolicyName", "Path", "Description"})
    # AWS keeps at most five versions of a managed policy ("Versioning IAM policies").
    MAX_VERSIONS = 5

    def create(self, call: Call, props: Props) -> Outcome:
        iam = call.client("iam")
        name = props.get("ManagedPolicyName") or call.physical_name(128)
        out = api(iam, "CreatePolicy", PolicyName=name, Path=props.get("Path"),
                  PolicyDocument=as_json(props["PolicyDocument"]), Description=props.get("Description"))
        arn = out["Policy"]["Arn"]
        call.set_physical_id(arn)
        self._attachments(iam, arn, {}, props)
        return arn, {"PolicyArn": arn, "PolicyId": out["Policy"]["PolicyId"]}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        iam, arn = call.client("iam"), before.physical_id
        if changed(before.properties, props, "PolicyDocument"):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= self.MAX_VERSIONS:
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            api(iam, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=as_json(props["PolicyDocument"]),
                SetAsDefault=True)
        self._attachments(iam, arn, before.properties, props)
        return arn, before.attributes

    @staticmethod
    def _attachments(iam: Any, arn: str, old: Props, new: Props) -> None:
        for prop, attach, detach, key in (("Roles", "AttachRolePolicy", "DetachRolePolicy", "RoleName"),
                                          ("Users", "AttachUserPolicy", "DetachUserPolicy", "UserName"),
                                          ("Groups", "AttachGroupPolicy", "DetachGroupPolicy", "GroupName")):
            before, after = set(old.get(prop, [])), set(new.get(prop, []))
            for name in sorted(after - before):
                api(iam, attach, PolicyArn=arn, **{key: name})
            for name in sorted(before - after):
                ignore_missing(lambda n=name: api(iam, detach, PolicyArn=arn, **{key: n}))

    def delete(self, call: Call, res: Resource) -> None:
        iam, arn = call.client("iam"), res.physical_id

        def remove() -> None:
            self._attachments(iam, arn, res.properties, {})
            for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not v["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
            iam.delete_policy(PolicyArn=arn)

        ignore_missing(remove)


# --------------------------------------------------------------------------------------------------
# KMS
# --------------------------------------------------------------------------------------------------


@register
class KmsKey(Provider):
    type_name = "AWS::KMS::Key"
    # The reference lists these as "Update requires: Replacement" (so a change set shows
    # RequiresRecreation Always), yet: "If you change the value of the KeySpec, KeyUsage, Origin, or
    # MultiRegion properties of an existing KMS key, the update request fails, regardless of the
    # value of the UpdateReplacePolicy attribute" (aws-resource-kms-key.html): ``check_update``.
    replacement = frozenset({"KeySpec", "KeyUsage", "MultiRegion", "Origin"})

    def check_update(self, before: Props, after: Props) -> None:
        names = [n for n in sorted(self.replacement) if changed(before, after, n)]
        if names:
            # AWS's wording is not documented; this one names what was changed.
            raise ResourceFailure(f"You cannot change the {', '.join(names)} of an existing KMS key; "
                                  "the update request fails (create a new AWS::KMS::Key instead)")

    def create(self, call: Call, props: Props) -> Outcome:
        kms = call.client("kms")
        meta = api(kms, "CreateKey", Description=props.get("Description"), KeyUsage=props.get("KeyUsage"),
                   KeySpec=props.get("KeySpec"), Policy=as_json(props.get("KeyPolicy")),
                   MultiRegion=props.get("MultiRegion"),
                   Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])] or None
                   )["KeyMetadata"]
        call.set_physical_id(meta["KeyId"])
        self._settings(kms, meta["KeyId"], {}, props)
        return meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}

    @staticmethod
    def _settings(kms: Any, key_id: str, old: Props, new: Props) -> None:
        if changed(old, new, "EnableKeyRotation"):
            rotate = scalar_str(new.get("EnableKeyRotation", False)) == "true"
            (kms.enable_key_rotation if rotate else kms.disable_key_rotation)(KeyId=key_id)
        if changed(old, new, "Enabled") and old:
            enabled = scalar_str(new.get("Enabled", True)) == "true"
            (kms.enable_key if enabled else kms.disable_key)(KeyId=key_id)

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        kms, key_id = call.client("kms"), before.physical_id
        if changed(before.properties, props, "KeyPolicy"):
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=as_json(props.get("KeyPolicy")))
        if changed(before.properties, props, "Description"):
            kms.update_key_description(KeyId=key_id, Description=props.get("Description", ""))
        self._settings(kms, key_id, before.properties, props)
        return key_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        # "PendingWindowInDays ... 7 to 30 ... default 30": deletion is scheduled, not immediate.
        ignore_missing(lambda: api(call.client("kms"), "ScheduleKeyDeletion", KeyId=res.physical_id,
                                   PendingWindowInDays=res.properties.get("PendingWindowInDays", 30)))


register(Simple(
    type_name="AWS::KMS::Alias", service="kms", replacement=frozenset({"AliasName"}),
    create_call=Op("CreateAlias", ("AliasName", "TargetKeyId")), physical="{props[AliasName]}",
    update_call=Op("UpdateAlias", ("TargetKeyId",), {"AliasName": "{id}"}),
    delete_call=Op("DeleteAlias", params={"AliasName": "{id}"})))


# --------------------------------------------------------------------------------------------------
# CloudWatch Logs and alarms
# --------------------------------------------------------------------------------------------------


@register
class LogGroup(Provider):
    type_name = "AWS::Logs::LogGroup"
    replacement = frozenset({"LogGroupName"})

    def check_update(self, before: Props, after: Props) -> None:
        # LogGroupClass, "Update requires: Updates are not supported." (aws-resource-logs-loggroup.html);
        # the schema does not make it create-only, so the update fails rather than replacing.
        if changed(before, after, "LogGroupClass"):
            raise ResourceFailure("LogGroupClass cannot be updated (AWS::Logs::LogGroup LogGroupClass: "
                                  "Updates are not supported)")

    def create(self, call: Call, props: Props) -> Outcome:
        logs = call.client("logs")
        name = props.get("LogGroupName") or call.physical_name(512)
        api(logs, "CreateLogGroup", logGroupName=name, kmsKeyId=props.get("KmsKeyId"),
            logGroupClass=props.get("LogGroupClass"), tags=tags_map(props))
        call.set_physical_id(name)
        self._retention(logs, name, {}, props)
        # "Arn": "arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*".
        return name, {"Arn": f"arn:{call.partition}:logs:{call.region}:{call.account}:log-group:{name}:*"}

    @staticmethod
    def _retention(logs: Any, name: str, old: Props, new: Props) -> None:
        if not changed(old, new, "RetentionInDays"):
            return
        if "RetentionInDays" in new:
            api(logs, "PutRetentionPolicy", logGroupName=name, retentionInDays=new["RetentionInDays"])
        else:
            logs.delete_retention_policy(logGroupName=name)

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        self._retention(call.client("logs"), before.physical_id, before.properties, props)
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("logs").delete_log_group(logGroupName=res.physical_id))


ALARM_FIELDS = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
                "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")


@register
class Alarm(Provider):
    type_name = "AWS::CloudWatch::Alarm"
    replacement = frozenset({"AlarmName"})

    def create(self, call: Call, props: Props) -> Outcome:
        name = props.get("AlarmName") or call.physical_name(255)
        return self._put(call, name, props)

    def _put(self, call: Call, name: str, props: Props) -> Outcome:
        cw = call.client("cloudwatch")
        api(cw, "PutMetricAlarm", AlarmName=name, Tags=tags_list(props) or None, **pick(props, *ALARM_FIELDS))
        arn = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        return name, {"Arn": arn}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        return self._put(call, before.physical_id, props)

    def delete(self, call: Call, res: Resource) -> None:
        call.client("cloudwatch").delete_alarms(AlarmNames=[res.physical_id])


# --------------------------------------------------------------------------------------------------
# S3
# --------------------------------------------------------------------------------------------------


def _filter_rules(f: Props | None) -> Props | None:
    if not f:
        return None
    return {"Key": {"FilterRules": f.get("S3Key", {}).get("Rules", [])}}


def _notification_api(cfg: Props) -> Props:
    """NotificationConfiguration in CloudFormation's shape to PutBucketNotificationConfiguration's
    (AWS::S3::Bucket NotificationConfiguration, LambdaConfiguration / QueueConfiguration /
    TopicConfiguration: one Event each; the API takes a list of Events)."""
    out: Props = {}
    for cfn_key, api_key, target_cfn, target_api in (
            ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
            ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
            ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn")):
        items = []
        for c in cfg.get(cfn_key, []):
            item = {"Events": [c["Event"]], target_api: c[target_cfn]}
            if _filter_rules(c.get("Filter")):
                item["Filter"] = _filter_rules(c.get("Filter"))
            items.append(item)
        if items:
            out[api_key] = items
    if scalar_str(cfg.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", False)) == "true":
        out["EventBridgeConfiguration"] = {}
    return out


def _encryption_rule(r: Props) -> Props:
    # ServerSideEncryptionRule: CloudFormation's ServerSideEncryptionByDefault is the API's
    # ApplyServerSideEncryptionByDefault.
    rule = pick(r, "BucketKeyEnabled", "BlockedEncryptionTypes")
    if "ServerSideEncryptionByDefault" in r:
        rule["ApplyServerSideEncryptionByDefault"] = r["ServerSideEncryptionByDefault"]
    return rule


def _lifecycle_rule(r: Props) -> Props:
    """A LifecycleConfiguration Rule in CloudFormation's shape to the API's (AWS::S3::Bucket Rule:
    ExpirationInDays, ExpiredObjectDeleteMarker, Prefix, NoncurrentVersionExpiration...)."""
    rule: Props = {"ID": r.get("Id"), "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")}}
    expiration = {}
    if "ExpirationInDays" in r:
        expiration["Days"] = r["ExpirationInDays"]
    if "ExpirationDate" in r:
        expiration["Date"] = r["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in r:
        expiration["ExpiredObjectDeleteMarker"] = r["ExpiredObjectDeleteMarker"]
    if expiration:
        rule["Expiration"] = expiration
    if "NoncurrentVersionExpiration" in r:
        rule["NoncurrentVersionExpiration"] = pick(r["NoncurrentVersionExpiration"], "NoncurrentDays",
                                                   "NewerNoncurrentVersions")
    elif "NoncurrentVersionExpirationInDays" in r:
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": r["NoncurrentVersionExpirationInDays"]}
    if "AbortIncompleteMultipartUpload" in r:
        rule["AbortIncompleteMultipartUpload"] = r["AbortIncompleteMultipartUpload"]
    if "Transitions" in r:
        rule["Transitions"] = [{"Days": t.get("TransitionInDays"), "StorageClass": t["StorageClass"]}
                               for t in r["Transitions"]]
    return {k: v for k, v in rule.items() if v is not None}


@register
class Bucket(Provider):
    type_name = "AWS::S3::Bucket"
    replacement = frozenset({"BucketName"})
    # ObjectLockEnabled is conditionally create-only in the type's schema (not createOnly): turning
    # Object Lock on is an update (S3 PutObjectLockConfiguration on a versioned bucket), turning it
    # off is impossible ("After you enable Object Lock on a bucket, you can't disable Object Lock or
    # suspend versioning for that bucket", S3 User Guide, "Configuring S3 Object Lock",
    # object-lock-configure.html), so that change replaces the bucket.
    conditional = frozenset({"ObjectLockEnabled"})

    @staticmethod
    def _locked(props: Props) -> bool:
        return scalar_str(props.get("ObjectLockEnabled", False)) == "true"

    def needs_replacement(self, before: Props, after: Props) -> bool:
        return super().needs_replacement(before, after) or (self._locked(before) and not self._locked(after))

    def create(self, call: Call, props: Props) -> Outcome:
        s3 = call.client("s3")
        name = props.get("BucketName") or call.physical_name(63, lower=True)
        kwargs: Props = {"Bucket": name}
        if call.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": call.region}
        if self._locked(props):
            kwargs["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**kwargs)
        call.set_physical_id(name)
        self._configure(s3, name, {}, props)
        return name, self._attributes(call, name)

    @staticmethod
    def _attributes(call: Call, name: str) -> dict[str, Any]:
        # "Return values" of AWS::S3::Bucket.
        return {"Arn": f"arn:{call.partition}:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{call.region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{call.region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{call.region}.amazonaws.com"}

    def _configure(self, s3: Any, name: str, old: Props, new: Props) -> None:
        """Applies each configuration the properties hold, and removes one the update dropped."""
        if changed(old, new, "VersioningConfiguration") and "VersioningConfiguration" in new:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=new["VersioningConfiguration"])
        elif "VersioningConfiguration" in old and "VersioningConfiguration" not in new:
            # A versioned bucket cannot return to unversioned: removing the property suspends it
            # ("Retaining multiple versions of objects with S3 Versioning", S3 User Guide).
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
        self._apply(new, old, "BucketEncryption",
                    lambda v: api(s3, "PutBucketEncryption", Bucket=name, ServerSideEncryptionConfiguration={
                        "Rules": [_encryption_rule(r) for r in v["ServerSideEncryptionConfiguration"]]}),
                    lambda: s3.delete_bucket_encryption(Bucket=name))
        self._apply(new, old, "PublicAccessBlockConfiguration",
                    lambda v: api(s3, "PutPublicAccessBlock", Bucket=name, PublicAccessBlockConfiguration=v),
                    lambda: s3.delete_public_access_block(Bucket=name))
        self._apply(new, old, "OwnershipControls",
                    lambda v: api(s3, "PutBucketOwnershipControls", Bucket=name, OwnershipControls=v),
                    lambda: s3.delete_bucket_ownership_controls(Bucket=name))
        self._apply(new, old, "LifecycleConfiguration",
                    lambda v: api(s3, "PutBucketLifecycleConfiguration", Bucket=name, LifecycleConfiguration={
                        "Rules": [_lifecycle_rule(r) for r in v["Rules"]]}),
                    lambda: s3.delete_bucket_lifecycle(Bucket=name))
        self._apply(new, old, "NotificationConfiguration",
                    lambda v: api(s3, "PutBucketNotificationConfiguration", Bucket=name,
                                  NotificationConfiguration=_notification_api(v)),
                    lambda: s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={}))
        self._apply(new, old, "Tags",
                    lambda v: api(s3, "PutBucketTagging", Bucket=name, Tagging={"TagSet": tags_list(new)}),
                    lambda: s3.delete_bucket_tagging(Bucket=name))

    @staticmethod
    def _apply(new: Props, old: Props, key: str, put: Any, remove: Any) -> None:
        if not changed(old, new, key):
            return
        if key in new:
            put(new[key])
        else:
            remove()

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        s3 = call.client("s3")
        self._configure(s3, before.physical_id, before.properties, props)
        if self._locked(props) and not self._locked(before.properties):
            s3.put_object_lock_configuration(Bucket=before.physical_id,
                                             ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        # A bucket with objects fails: "The bucket you tried to delete is not empty" (S3
        # DeleteBucket, BucketNotEmpty); CloudFormation reports it and the stack is DELETE_FAILED.
        ignore_missing(lambda: call.client("s3").delete_bucket(Bucket=res.physical_id), "NoSuchBucket")


PUT_BUCKET_POLICY = Op("PutBucketPolicy", ("Bucket",), convert=lambda p: {"Policy": as_json(p["PolicyDocument"])})

register(Simple(
    type_name="AWS::S3::BucketPolicy", service="s3", replacement=frozenset({"Bucket"}),
    create_call=PUT_BUCKET_POLICY, physical="{props[Bucket]}", update_call=PUT_BUCKET_POLICY,
    delete_call=Op("DeleteBucketPolicy", params={"Bucket": "{id}"})))


# --------------------------------------------------------------------------------------------------
# SQS and SNS
# --------------------------------------------------------------------------------------------------

QUEUE_ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                    "VisibilityTimeout", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled",
                    "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
                    "RedrivePolicy", "RedriveAllowPolicy")


@register
class Queue(Provider):
    type_name = "AWS::SQS::Queue"
    replacement = frozenset({"QueueName", "FifoQueue"})

    def create(self, call: Call, props: Props) -> Outcome:
        sqs = call.client("sqs")
        fifo = scalar_str(props.get("FifoQueue", False)) == "true"
        name = props.get("QueueName") or (call.physical_name(75) + ".fifo" if fifo else call.physical_name(80))
        url = sqs.create_queue(QueueName=name, Attributes=attribute_strings(props, QUEUE_ATTRIBUTES),
                               tags=tags_map(props) or {})["QueueUrl"]
        call.set_physical_id(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        attrs = attribute_strings(props, QUEUE_ATTRIBUTES)
        if attrs:
            call.client("sqs").set_queue_attributes(QueueUrl=before.physical_id, Attributes=attrs)
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("sqs").delete_queue(QueueUrl=res.physical_id),
                       "AWS.SimpleQueueService.NonExistentQueue")


@register
class QueuePolicy(Provider):
    type_name = "AWS::SQS::QueuePolicy"

    def create(self, call: Call, props: Props) -> Outcome:
        self._set(call, props["Queues"], as_json(props["PolicyDocument"]))
        return call.physical_name(128), {}

    @staticmethod
    def _set(call: Call, queues: list[str], policy: str) -> None:
        for url in queues:
            call.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        self._set(call, props["Queues"], as_json(props["PolicyDocument"]))
        dropped = [q for q in before.properties.get("Queues", []) if q not in props["Queues"]]
        self._set(call, dropped, "")
        return before.physical_id, {}

    def delete(self, call: Call, res: Resource) -> None:
        for url in res.properties.get("Queues", []):
            ignore_missing(lambda u=url: self._set(call, [u], ""), "AWS.SimpleQueueService.NonExistentQueue")


TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication",
                    "SignatureVersion", "TracingConfig", "ArchivePolicy")


@register
class Topic(Provider):
    type_name = "AWS::SNS::Topic"
    replacement = frozenset({"TopicName", "FifoTopic"})

    def create(self, call: Call, props: Props) -> Outcome:
        sns = call.client("sns")
        name = props.get("TopicName") or call.physical_name(256)
        arn = sns.create_topic(Name=name, Attributes={k: scalar_str(props[k]) for k in TOPIC_ATTRIBUTES
                                                      if k in props and k != "ArchivePolicy"},
                               Tags=tags_list(props))["TopicArn"]
        call.set_physical_id(arn)
        for sub in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
        return arn, {"TopicArn": arn, "TopicName": name}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        sns = call.client("sns")
        for key in TOPIC_ATTRIBUTES:
            if changed(before.properties, props, key) and key != "FifoTopic":
                sns.set_topic_attributes(TopicArn=before.physical_id, AttributeName=key,
                                         AttributeValue=scalar_str(props.get(key, "")))
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        call.client("sns").delete_topic(TopicArn=res.physical_id)


def _default_topic_policy(topic_arn: str) -> str:
    """The policy SNS gives a new topic (the default statement as observed; "Example cases for Amazon
    SNS access control" does not print it); TopicPolicy's delete restores it."""
    account = topic_arn.split(":")[4]
    return json.dumps({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                   "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                   "SNS:Publish"],
        "Resource": topic_arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]})


@register
class TopicPolicy(Provider):
    type_name = "AWS::SNS::TopicPolicy"

    def create(self, call: Call, props: Props) -> Outcome:
        for arn in props["Topics"]:
            call.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                                    AttributeValue=as_json(props["PolicyDocument"]))
        return call.physical_name(128), {}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        self.create(call, props)
        for arn in [t for t in before.properties.get("Topics", []) if t not in props["Topics"]]:
            self._reset(call, arn)
        return before.physical_id, {}

    @staticmethod
    def _reset(call: Call, arn: str) -> None:
        ignore_missing(lambda: call.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=_default_topic_policy(arn)))

    def delete(self, call: Call, res: Resource) -> None:
        for arn in res.properties.get("Topics", []):
            self._reset(call, arn)


SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery",
                           "RedrivePolicy", "SubscriptionRoleArn", "ReplayPolicy")


@register
class Subscription(Provider):
    type_name = "AWS::SNS::Subscription"
    replacement = frozenset({"Endpoint", "Protocol", "TopicArn"})

    def create(self, call: Call, props: Props) -> Outcome:
        arn = call.client("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                                           Endpoint=props.get("Endpoint"),
                                           Attributes=attribute_strings(props, SUBSCRIPTION_ATTRIBUTES),
                                           ReturnSubscriptionArn=True)["SubscriptionArn"]
        return arn, {"Arn": arn}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        for key, value in attribute_strings(props, SUBSCRIPTION_ATTRIBUTES).items():
            call.client("sns").set_subscription_attributes(SubscriptionArn=before.physical_id,
                                                           AttributeName=key, AttributeValue=value)
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("sns").unsubscribe(SubscriptionArn=res.physical_id))


# --------------------------------------------------------------------------------------------------
# EventBridge
# --------------------------------------------------------------------------------------------------

TARGET_FIELDS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy",
                 "DeadLetterConfig", "SqsParameters", "HttpParameters", "EcsParameters")


@register
class Rule(Provider):
    type_name = "AWS::Events::Rule"
    replacement = frozenset({"Name"})
    # EventBusName is conditionally create-only in the type's schema: naming the same bus another
    # way (omitted, "default", its ARN) is an update; another bus is a new rule there (EventBridge
    # cannot move a rule between buses), i.e. a replacement.
    conditional = frozenset({"EventBusName"})

    @staticmethod
    def _bus(props: Props) -> str:
        bus = scalar_str(props.get("EventBusName") or "default")
        return bus.split(":event-bus/", 1)[1] if ":event-bus/" in bus else bus

    def needs_replacement(self, before: Props, after: Props) -> bool:
        return super().needs_replacement(before, after) or self._bus(before) != self._bus(after)

    def create(self, call: Call, props: Props) -> Outcome:
        name = props.get("Name") or call.physical_name(64)
        arn = self._put(call, name, props, {})
        bus = props.get("EventBusName")
        # Ref: the rule name; "eventbusname|rulename" on a custom bus (AWS::Events::Rule, Return values).
        physical = f"{bus}|{name}" if bus and bus != "default" else name
        return physical, {"Arn": arn}

    @staticmethod
    def _name(physical: str) -> str:
        return physical.split("|")[-1]

    def _put(self, call: Call, name: str, props: Props, old: Props) -> str:
        events = call.client("events")
        pattern = props.get("EventPattern")
        arn = api(events, "PutRule", Name=name, EventBusName=props.get("EventBusName"),
                  EventPattern=as_json(pattern), ScheduleExpression=props.get("ScheduleExpression"),
                  State=props.get("State"), Description=props.get("Description"),
                  RoleArn=props.get("RoleArn"))["RuleArn"]
        new_ids = {t["Id"] for t in props.get("Targets", [])}
        stale = [t["Id"] for t in old.get("Targets", []) if t["Id"] not in new_ids]
        if stale:
            api(events, "RemoveTargets", Rule=name, EventBusName=props.get("EventBusName"), Ids=stale)
        if props.get("Targets"):
            api(events, "PutTargets", Rule=name, EventBusName=props.get("EventBusName"),
                Targets=[pick(t, *TARGET_FIELDS) for t in props["Targets"]])
        return arn

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        self._put(call, self._name(before.physical_id), props, before.properties)
        return before.physical_id, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        events, name, bus = call.client("events"), self._name(res.physical_id), res.properties.get("EventBusName")

        def remove() -> None:
            ids = [t["Id"] for t in api(events, "ListTargetsByRule", Rule=name, EventBusName=bus)["Targets"]]
            if ids:
                api(events, "RemoveTargets", Rule=name, EventBusName=bus, Ids=ids)
            api(events, "DeleteRule", Name=name, EventBusName=bus)

        ignore_missing(remove)


@register
class EventBusPolicy(Provider):
    """One statement of a bus's policy (AWS::Events::EventBusPolicy: Statement, or Action +
    Principal + Condition), added to whatever policy the bus has."""

    type_name = "AWS::Events::EventBusPolicy"
    replacement = frozenset({"StatementId", "EventBusName"})

    def create(self, call: Call, props: Props) -> Outcome:
        events, bus = call.client("events"), props.get("EventBusName", "default")
        if "Statement" in props:
            statement = dict(props["Statement"], Sid=props["StatementId"])
            current = events.describe_event_bus(Name=bus).get("Policy")
            policy = json.loads(current) if current else {"Version": "2012-10-17", "Statement": []}
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != props["StatementId"]]
            policy["Statement"].append(statement)
            events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
        else:
            api(events, "PutPermission", EventBusName=bus, Action=props.get("Action"),
                Principal=props.get("Principal"), StatementId=props["StatementId"], Condition=props.get("Condition"))
        return props["StatementId"], {}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        return self.create(call, props)

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("events").remove_permission(
            StatementId=res.physical_id, EventBusName=res.properties.get("EventBusName", "default")))


# --------------------------------------------------------------------------------------------------
# Lambda
# --------------------------------------------------------------------------------------------------

FUNCTION_CONFIG = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime",
                   "DeadLetterConfig", "KmsKeyArn", "TracingConfig", "Layers", "EphemeralStorage",
                   "LoggingConfig", "VpcConfig", "ImageConfig", "SnapStart", "FileSystemConfigs")


def _code(props: Props) -> Props:
    code = dict(props["Code"])
    if "ZipFile" in code:
        # Code.ZipFile: inline source CloudFormation zips as index.<ext> (AWS::Lambda::Function Code,
        # ZipFile: Node.js and Python; "the index file that CloudFormation creates uses the extension .js").
        ext = "py" if str(props.get("Runtime", "")).startswith("python") else "js"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"index.{ext}", code["ZipFile"])
        code["ZipFile"] = buf.getvalue()
    return code


@register
class Function(Provider):
    type_name = "AWS::Lambda::Function"
    replacement = frozenset({"FunctionName", "PackageType"})

    def create(self, call: Call, props: Props) -> Outcome:
        lam = call.client("lambda")
        name = props.get("FunctionName") or call.physical_name(64)
        out = api(lam, "CreateFunction", FunctionName=name, Code=_code(props),
                  Architectures=props.get("Architectures"), PackageType=props.get("PackageType"),
                  Tags=tags_map(props), **pick(props, *FUNCTION_CONFIG))
        call.set_physical_id(name)
        if "ReservedConcurrentExecutions" in props:
            api(lam, "PutFunctionConcurrency", FunctionName=name,
                ReservedConcurrentExecutions=props["ReservedConcurrentExecutions"])
        return name, {"Arn": out["FunctionArn"]}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        lam, name = call.client("lambda"), before.physical_id
        if changed(before.properties, props, "Code", "Architectures"):
            api(lam, "UpdateFunctionCode", FunctionName=name, Architectures=props.get("Architectures"),
                **{k: v for k, v in _code(props).items() if k in ("S3Bucket", "S3Key", "S3ObjectVersion",
                                                                  "ZipFile", "ImageUri")})
        config = {k: props.get(k) for k in FUNCTION_CONFIG if changed(before.properties, props, k)}
        if config:
            if "Environment" in config and config["Environment"] is None:
                config["Environment"] = {"Variables": {}}
            api(lam, "UpdateFunctionConfiguration", FunctionName=name, **config)
        if changed(before.properties, props, "ReservedConcurrentExecutions"):
            if "ReservedConcurrentExecutions" in props:
                api(lam, "PutFunctionConcurrency", FunctionName=name,
                    ReservedConcurrentExecutions=props["ReservedConcurrentExecutions"])
            else:
                lam.delete_function_concurrency(FunctionName=name)
        return name, before.attributes

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("lambda").delete_function(FunctionName=res.physical_id))


register(Simple(
    type_name="AWS::Lambda::Permission", service="lambda",
    # Every property of AWS::Lambda::Permission: "Update requires: Replacement" (InvokedViaFunctionUrl
    # included).
    replacement=frozenset({"Action", "EventSourceToken", "FunctionName", "FunctionUrlAuthType",
                           "InvokedViaFunctionUrl", "Principal", "PrincipalOrgID", "SourceAccount", "SourceArn"}),
    name_length=100,  # the statement id: no property names it
    create_call=Op("AddPermission", ("FunctionName", "Action", "Principal", "SourceArn", "SourceAccount",
                                     "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType",
                                     "InvokedViaFunctionUrl"), {"StatementId": "{name}"}),
    physical="{name}",
    delete_call=Op("RemovePermission", params={"FunctionName": "{props[FunctionName]}", "StatementId": "{id}"})))


EVENT_INVOKE_FIELDS = ("FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                       "DestinationConfig")

register(Simple(
    type_name="AWS::Lambda::EventInvokeConfig", service="lambda", replacement=frozenset({"FunctionName", "Qualifier"}),
    create_call=Op("PutFunctionEventInvokeConfig", EVENT_INVOKE_FIELDS),
    physical="{props[FunctionName]}|{props[Qualifier]}",
    update_call=Op("UpdateFunctionEventInvokeConfig", EVENT_INVOKE_FIELDS),
    delete_call=Op("DeleteFunctionEventInvokeConfig",
                   params={"FunctionName": "{props[FunctionName]}", "Qualifier": "{props[Qualifier]}"})))


# --------------------------------------------------------------------------------------------------
# Glue and Athena
# --------------------------------------------------------------------------------------------------


# Glue cannot rename a database: a new DatabaseInput Name is made as a new database (the reference
# says DatabaseInput updates without interruption; what its handler does on a rename is not
# documented). CatalogId: "Update requires: No interruption" (aws-resource-glue-database.html; only
# DatabaseName is createOnly in the schema): UpdateDatabase with the new CatalogId.
register(Simple(
    type_name="AWS::Glue::Database", service="glue", replacement=frozenset({"DatabaseName"}),
    renamed_in="DatabaseInput",
    create_call=Op("CreateDatabase", ("CatalogId", "DatabaseInput")), physical="{props[DatabaseInput][Name]}",
    update_call=Op("UpdateDatabase", ("CatalogId", "DatabaseInput"), {"Name": "{id}"}),
    delete_call=Op("DeleteDatabase", params={"Name": "{id}"})))

register(Simple(
    type_name="AWS::Glue::Table", service="glue", replacement=frozenset({"CatalogId", "DatabaseName"}),
    renamed_in="TableInput",
    create_call=Op("CreateTable", ("CatalogId", "DatabaseName", "TableInput")), physical="{props[TableInput][Name]}",
    update_call=Op("UpdateTable", ("CatalogId", "DatabaseName", "TableInput")),
    delete_call=Op("DeleteTable", params={"DatabaseName": "{props[DatabaseName]}", "Name": "{id}"})))


CRAWLER_FIELDS = ("Role", "DatabaseName", "Description", "Targets", "Classifiers", "TablePrefix",
                  "SchemaChangePolicy", "RecrawlPolicy", "LineageConfiguration", "Configuration",
                  "CrawlerSecurityConfiguration", "LakeFormationConfiguration")


def _crawler_schedule(props: Props) -> str | None:
    # Schedule is {ScheduleExpression} in CloudFormation, a string in the API.
    return props.get("Schedule", {}).get("ScheduleExpression")


register(Simple(
    type_name="AWS::Glue::Crawler", service="glue", replacement=frozenset({"Name"}),
    name_property="Name", name_length=255,
    create_call=Op("CreateCrawler", CRAWLER_FIELDS, {"Name": "{name}"},
                   convert=lambda p: {"Schedule": _crawler_schedule(p), "Tags": tags_map(p)}),
    physical="{name}",
    # Schedule "" when the template has none: the update removes the crawler's schedule.
    update_call=Op("UpdateCrawler", CRAWLER_FIELDS, {"Name": "{id}"},
                   convert=lambda p: {"Schedule": _crawler_schedule(p) or ""}),
    delete_call=Op("DeleteCrawler", params={"Name": "{id}"})))


def _workgroup_updates(config: Props) -> Props:
    """WorkGroupConfiguration to UpdateWorkGroup's ConfigurationUpdates (Athena API Reference,
    WorkGroupConfigurationUpdates: ResultConfigurationUpdates and its Remove* switches)."""
    updates = pick(config, "EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled",
                   "BytesScannedCutoffPerQuery", "RequesterPaysEnabled", "EngineVersion")
    result = config.get("ResultConfiguration", {})
    updates["ResultConfigurationUpdates"] = {
        "OutputLocation": result.get("OutputLocation"), "RemoveOutputLocation": "OutputLocation" not in result,
        "EncryptionConfiguration": result.get("EncryptionConfiguration"),
        "RemoveEncryptionConfiguration": "EncryptionConfiguration" not in result}
    if "BytesScannedCutoffPerQuery" not in config:
        updates["RemoveBytesScannedCutoffPerQuery"] = True
    updates["ResultConfigurationUpdates"] = {k: v for k, v in updates["ResultConfigurationUpdates"].items()
                                             if v is not None}
    return updates


@register
class WorkGroup(Provider):
    type_name = "AWS::Athena::WorkGroup"
    replacement = frozenset({"Name"})

    def create(self, call: Call, props: Props) -> Outcome:
        athena = call.client("athena")
        api(athena, "CreateWorkGroup", Name=props["Name"], Description=props.get("Description"),
            Configuration=props.get("WorkGroupConfiguration"), Tags=tags_list(props) or None)
        if props.get("State") == "DISABLED":
            athena.update_work_group(WorkGroup=props["Name"], State="DISABLED")
        return props["Name"], {}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        api(call.client("athena"), "UpdateWorkGroup", WorkGroup=before.physical_id,
            Description=props.get("Description", ""), State=props.get("State", "ENABLED"),
            ConfigurationUpdates=_workgroup_updates(props.get("WorkGroupConfiguration", {})))
        return before.physical_id, {}

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: api(call.client("athena"), "DeleteWorkGroup", WorkGroup=res.physical_id,
                                   RecursiveDeleteOption=res.properties.get("RecursiveDeleteOption", False)),
                       "InvalidRequestException")


register(Simple(
    type_name="AWS::Athena::NamedQuery", service="athena",
    # Every property of AWS::Athena::NamedQuery: "Update requires: Replacement".
    replacement=frozenset({"Database", "Description", "Name", "QueryString", "WorkGroup"}),
    create_call=Op("CreateNamedQuery", ("Name", "Description", "Database", "QueryString", "WorkGroup")),
    physical="{out[NamedQueryId]}", attributes={"NamedQueryId": "{out[NamedQueryId]}"},
    delete_call=Op("DeleteNamedQuery", params={"NamedQueryId": "{id}"}), gone=("InvalidRequestException",)))


# --------------------------------------------------------------------------------------------------
# AWS Config, Systems Manager, CloudTrail
# --------------------------------------------------------------------------------------------------


@register
class ConfigRule(Provider):
    type_name = "AWS::Config::ConfigRule"
    replacement = frozenset({"ConfigRuleName"})

    def _put(self, call: Call, name: str, props: Props) -> Outcome:
        config = call.client("config")
        rule = dict(pick(props, "Description", "Scope", "Source", "MaximumExecutionFrequency", "EvaluationModes"),
                    ConfigRuleName=name)
        if "InputParameters" in props:
            rule["InputParameters"] = as_json(props["InputParameters"])
        api(config, "PutConfigRule", ConfigRule=rule)
        described = config.describe_config_rules(ConfigRuleNames=[name])["ConfigRules"][0]
        return name, {"Arn": described["ConfigRuleArn"], "ConfigRuleId": described["ConfigRuleId"]}

    def create(self, call: Call, props: Props) -> Outcome:
        return self._put(call, props.get("ConfigRuleName") or call.physical_name(128), props)

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        return self._put(call, before.physical_id, props)

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("config").delete_config_rule(ConfigRuleName=res.physical_id))


BASELINE_FIELDS = ("Description", "GlobalFilters", "ApprovalRules", "ApprovedPatches",
                   "ApprovedPatchesComplianceLevel", "ApprovedPatchesEnableNonSecurity", "RejectedPatches",
                   "RejectedPatchesAction", "Sources", "AvailableSecurityUpdatesComplianceStatus")


@register
class PatchBaseline(Provider):
    type_name = "AWS::SSM::PatchBaseline"
    replacement = frozenset({"OperatingSystem"})

    def create(self, call: Call, props: Props) -> Outcome:
        ssm = call.client("ssm")
        baseline_id = api(ssm, "CreatePatchBaseline", Name=props["Name"],
                          OperatingSystem=props.get("OperatingSystem"), Tags=tags_list(props) or None,
                          **pick(props, *BASELINE_FIELDS))["BaselineId"]
        call.set_physical_id(baseline_id)
        self._registrations(ssm, baseline_id, {}, props)
        return baseline_id, {}

    @staticmethod
    def _registrations(ssm: Any, baseline_id: str, old: Props, new: Props) -> None:
        before, after = set(old.get("PatchGroups", [])), set(new.get("PatchGroups", []))
        for group in sorted(before - after):
            ignore_missing(lambda g=group: ssm.deregister_patch_baseline_for_patch_group(
                BaselineId=baseline_id, PatchGroup=g))
        for group in sorted(after - before):
            ssm.register_patch_baseline_for_patch_group(BaselineId=baseline_id, PatchGroup=group)
        if scalar_str(new.get("DefaultBaseline", False)) == "true" and changed(old, new, "DefaultBaseline"):
            ssm.register_default_patch_baseline(BaselineId=baseline_id)

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        ssm = call.client("ssm")
        api(ssm, "UpdatePatchBaseline", BaselineId=before.physical_id, Name=props["Name"],
            **pick(props, *BASELINE_FIELDS))
        self._registrations(ssm, before.physical_id, before.properties, props)
        return before.physical_id, {}

    def delete(self, call: Call, res: Resource) -> None:
        ssm = call.client("ssm")
        self._registrations(ssm, res.physical_id, res.properties, {})
        ignore_missing(lambda: ssm.delete_patch_baseline(BaselineId=res.physical_id))


WINDOW_FIELDS = ("Description", "Schedule", "Duration", "Cutoff", "AllowUnassociatedTargets", "ScheduleTimezone",
                 "ScheduleOffset", "StartDate", "EndDate")


register(Simple(
    type_name="AWS::SSM::MaintenanceWindow", service="ssm",
    create_call=Op("CreateMaintenanceWindow", ("Name", *WINDOW_FIELDS),
                   convert=lambda p: {"Tags": tags_list(p) or None}),
    physical="{out[WindowId]}",
    update_call=Op("UpdateMaintenanceWindow", ("Name", *WINDOW_FIELDS), {"WindowId": "{id}", "Replace": True}),
    delete_call=Op("DeleteMaintenanceWindow", params={"WindowId": "{id}"})))


WINDOW_TARGET_FIELDS = ("Targets", "OwnerInformation", "Name", "Description")

register(Simple(
    type_name="AWS::SSM::MaintenanceWindowTarget", service="ssm", replacement=frozenset({"WindowId"}),
    create_call=Op("RegisterTargetWithMaintenanceWindow", ("WindowId", "ResourceType", *WINDOW_TARGET_FIELDS)),
    physical="{out[WindowTargetId]}",
    update_call=Op("UpdateMaintenanceWindowTarget", ("WindowId", *WINDOW_TARGET_FIELDS),
                   {"WindowTargetId": "{id}", "Replace": True}),
    delete_call=Op("DeregisterTargetFromMaintenanceWindow",
                   params={"WindowId": "{props[WindowId]}", "WindowTargetId": "{id}"})))


# TaskInvocationParameters: CloudFormation's MaintenanceWindow<Kind>Parameters are the API's <Kind>
# (AWS::SSM::MaintenanceWindowTask TaskInvocationParameters).
TASK_INVOCATION_KEYS = {"MaintenanceWindowRunCommandParameters": "RunCommand",
                        "MaintenanceWindowAutomationParameters": "Automation",
                        "MaintenanceWindowStepFunctionsParameters": "StepFunctions",
                        "MaintenanceWindowLambdaParameters": "Lambda"}


WINDOW_TASK_FIELDS = ("Targets", "TaskArn", "ServiceRoleArn", "TaskInvocationParameters", "Priority", "MaxConcurrency",
                      "MaxErrors", "LoggingInfo", "Name", "Description", "CutoffBehavior")


def _task_invocation(props: Props) -> Props:
    if "TaskInvocationParameters" not in props:
        return {}
    return {"TaskInvocationParameters": {TASK_INVOCATION_KEYS.get(k, k): v
                                         for k, v in props["TaskInvocationParameters"].items()}}


register(Simple(
    type_name="AWS::SSM::MaintenanceWindowTask", service="ssm", replacement=frozenset({"WindowId", "TaskType"}),
    create_call=Op("RegisterTaskWithMaintenanceWindow", ("WindowId", "TaskType", *WINDOW_TASK_FIELDS),
                   convert=_task_invocation),
    physical="{out[WindowTaskId]}",
    update_call=Op("UpdateMaintenanceWindowTask", ("WindowId", *WINDOW_TASK_FIELDS),
                   {"WindowTaskId": "{id}", "Replace": True}, convert=_task_invocation),
    delete_call=Op("DeregisterTaskFromMaintenanceWindow",
                   params={"WindowId": "{props[WindowId]}", "WindowTaskId": "{id}"})))


ASSOCIATION_FIELDS = ("Name", "AssociationName", "DocumentVersion", "InstanceId", "Parameters", "Targets",
                      "ScheduleExpression", "OutputLocation", "MaxConcurrency", "MaxErrors",
                      "ComplianceSeverity", "SyncCompliance", "ApplyOnlyAtCronInterval", "CalendarNames",
                      "ScheduleOffset", "AutomationTargetParameterName")


# AWS::SSM::Association; WaitForSuccessTimeoutSeconds (wait for the first run) is not an API parameter
# and nothing runs documents in the emulator, so it is not waited for. UpdateAssociation takes no InstanceId.
register(Simple(
    type_name="AWS::SSM::Association", service="ssm",
    create_call=Op("CreateAssociation", ASSOCIATION_FIELDS),
    physical="{out[AssociationDescription][AssociationId]}",
    attributes={"AssociationId": "{out[AssociationDescription][AssociationId]}"},
    update_call=Op("UpdateAssociation", tuple(f for f in ASSOCIATION_FIELDS if f != "InstanceId"),
                   {"AssociationId": "{id}"}),
    delete_call=Op("DeleteAssociation", params={"AssociationId": "{id}"})))


EVENT_DATA_STORE_FIELDS = ("AdvancedEventSelectors", "MultiRegionEnabled", "OrganizationEnabled", "RetentionPeriod",
                           "TerminationProtectionEnabled", "KmsKeyId", "BillingMode")


@register
class EventDataStore(Provider):
    type_name = "AWS::CloudTrail::EventDataStore"

    def create(self, call: Call, props: Props) -> Outcome:
        out = api(call.client("cloudtrail"), "CreateEventDataStore", Name=props["Name"],
                  StartIngestion=props.get("IngestionEnabled"), TagsList=tags_list(props) or None,
                  **pick(props, *EVENT_DATA_STORE_FIELDS))
        return out["EventDataStoreArn"], self._attributes(out)

    @staticmethod
    def _attributes(out: Props) -> dict[str, Any]:
        return {"EventDataStoreArn": out["EventDataStoreArn"], "Status": out.get("Status"),
                "CreatedTimestamp": str(out.get("CreatedTimestamp")),
                "UpdatedTimestamp": str(out.get("UpdatedTimestamp"))}

    def update(self, call: Call, before: Resource, props: Props) -> Outcome:
        trail = call.client("cloudtrail")
        out = api(trail, "UpdateEventDataStore", EventDataStore=before.physical_id, Name=props["Name"],
                  **pick(props, *EVENT_DATA_STORE_FIELDS))
        if changed(before.properties, props, "IngestionEnabled"):
            on = scalar_str(props.get("IngestionEnabled", True)) == "true"
            (trail.start_event_data_store_ingestion if on else trail.stop_event_data_store_ingestion)(
                EventDataStore=before.physical_id)
        return before.physical_id, self._attributes(out)

    def delete(self, call: Call, res: Resource) -> None:
        ignore_missing(lambda: call.client("cloudtrail").delete_event_data_store(EventDataStore=res.physical_id))
