#!/usr/bin/env python3
"""`make deploy` / `make undeploy`: the whole organization from one configuration file.

    python deploy/deploy.py [--config deploy.toml] [--yes] [--poll SECONDS] [deploy|undeploy|plan]

`deploy` publishes the Lambda artifacts and the templates to every Region (cfn/publish.py), then
creates or updates, in dependency order and passing each stack's outputs to the next:
1. the central stack (`central-reporting.yaml`) in the central account;
2. the organization reader (`organization-reader.yaml`) in the management account, when owners are
   on: the role the central report function assumes to read account names and owner tags;
   then the QuickSight stack (`quicksight.yaml`) in the central account, when enabled;
3. the CloudTrail Lake stack (`cloudtrail-lake.yaml`) in the management account, when enabled;
4. the service-managed StackSets of `member-data-sync.yaml` and (when enabled) `member-patching.yaml`
   from the management account or a delegated administrator, with automatic deployment to accounts
   that join the organizational units later, and the same templates as ordinary stacks in the
   management account, which service-managed StackSets never deploy to.
Every stack change goes through a change set that is shown before it is executed (`--yes` executes
without asking); a StackSet change is shown as the parameters, template and instances that differ.
An unchanged file changes nothing. `undeploy` removes everything in the safe order (StackSets
first, so no sync writes into a bucket being emptied) and keeps the data when the file's
`central.keep_data_on_delete` says so. `plan` shows what `deploy` would change and changes nothing
but the published artifacts.

Credentials come from the AWS profiles the file names (or the default chain), the endpoint from the
standard environment (`AWS_ENDPOINT_URL` points the whole run at the local emulator). boto3 does
the signing, retries and waiting (its CloudFormation waiters); StackSet operations have no waiter,
so they are polled with DescribeStackSetOperation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import threading
import time
from dataclasses import dataclass, field

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, WaiterError

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "cfn"))

import config as configuration  # noqa: E402
import publish  # noqa: E402
import render  # noqa: E402

# The templates need IAM roles with names CloudFormation generates (CAPABILITY_IAM), one named role
# (organization-reader.yaml: CAPABILITY_NAMED_IAM) and, for the central stack, the
# AWS::LanguageExtensions transform (CAPABILITY_AUTO_EXPAND: "Acknowledging IAM resources in
# CloudFormation templates" and "AWS::LanguageExtensions transform", user guide).
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
TEMPLATE_PREFIX = "patch-compliance/{version}/templates"
# DescribeChangeSet's reason when a change set would change nothing (AWS's wording, matched loosely:
# "The submitted information didn't contain changes. Submit different information to create a change set.").
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# Where Glue writes every crawler's logs; the central stack creates it unless it exists.
CRAWLER_LOG_GROUP = "/aws-glue/crawlers"
# Stack states in which a stack exists and can be updated (DescribeStacks StackStatus, API reference).
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE"}


class DeployError(Exception):
    """A step failed; the message says which and why, and what to do."""


@dataclass
class StackPlan:
    """One CloudFormation stack the deployment owns."""
    label: str
    session: boto3.Session
    region: str
    name: str
    template: str
    parameters: dict[str, str]


@dataclass
class StackSetPlan:
    label: str
    name: str
    template: str
    parameters: dict[str, str]
    regions: list[str]
    ous: list[str]


@dataclass
class Outcome:
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    # Each stack's resources, logical id -> physical id (what an operator looks for in the console).
    resources: dict[str, dict[str, str]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)


class Deployer:
    def __init__(self, cfg: configuration.Deployment, *, yes: bool, poll: float, dry_run: bool = False,
                 out=print, ask=input) -> None:
        self.cfg, self.yes, self.poll, self.dry_run = cfg, yes, poll, dry_run
        self.out, self.ask = out, ask
        self.version = cfg.artifacts.version or publish.default_version(configuration.ROOT)
        self._sessions: dict[str | None, boto3.Session] = {}
        self.result = Outcome()

    # ---- sessions and clients ------------------------------------------------------------------
    def session(self, profile: str | None) -> boto3.Session:
        if profile not in self._sessions:
            self._sessions[profile] = boto3.Session(profile_name=profile)
        return self._sessions[profile]

    def client(self, session: boto3.Session, service: str, region: str):
        # Standard retry mode: CloudFormation throttles bursts of Describe calls during long waits.
        return session.client(service, region_name=region,
                              config=BotoConfig(retries={"mode": "standard", "max_attempts": 8}))

    @property
    def central(self) -> boto3.Session:
        return self.session(self.cfg.central.profile)

    @property
    def management(self) -> boto3.Session:
        """Who operates the StackSets: the management account, or a delegated administrator."""
        return self.session(self.cfg.members.profile)

    @property
    def management_account(self) -> boto3.Session:
        """The management account itself, for its own stacks (StackSets never deploy there)."""
        m = self.cfg.members
        return self.session(m.management_profile or m.profile)

    # ---- checks before anything changes --------------------------------------------------------
    def check_accounts(self) -> str:
        """The central and management credentials belong to the organization the file names;
        returns the management account id."""
        cfg = self.cfg
        central_account = self.client(self.central, "sts", cfg.central.region).get_caller_identity()["Account"]
        if cfg.central.account_id and central_account != cfg.central.account_id:
            raise DeployError(f"central.profile signs in to account {central_account}, not central.account_id "
                              f"{cfg.central.account_id}: fix the profile or the key")
        org = self.client(self.management, "organizations", cfg.central.region).describe_organization()["Organization"]
        if org["Id"] != cfg.organization_id:
            raise DeployError(f"members.profile belongs to organization {org['Id']}, not organization_id "
                              f"{cfg.organization_id}")
        caller = self.client(self.management, "sts", cfg.central.region).get_caller_identity()["Account"]
        if cfg.members.call_as == "SELF" and caller != org["MasterAccountId"]:
            raise DeployError(f"members.profile signs in to {caller}, which is not the management account "
                              f"{org['MasterAccountId']}: use the management account, or a CloudFormation "
                              "delegated administrator with members.call_as = \"DELEGATED_ADMIN\"")
        if cfg.members.call_as == "DELEGATED_ADMIN":
            self.check_delegated_admin(caller, org["MasterAccountId"])
            if cfg.members.management_account_stacks:
                own = self.client(self.management_account, "sts", cfg.central.region).get_caller_identity()["Account"]
                if own != org["MasterAccountId"]:
                    raise DeployError(f"members.management_profile signs in to {own}, not the management account "
                                      f"{org['MasterAccountId']}")
        if central_account == org["MasterAccountId"]:
            self.result.todo.append("the central stack runs in the management account: AWS recommends a "
                                    "dedicated reporting account (the management account should run as little as possible)")
        return org["MasterAccountId"]

    def check_delegated_admin(self, caller: str, management: str) -> None:
        """CallAs DELEGATED_ADMIN works only from an account registered for StackSets ("Register a
        delegated administrator", StackSets user guide); CloudFormation checks it by calling
        organizations:ListDelegatedAdministrators as the caller, so the caller needs that permission too
        (AWS then answers "Account used is not a delegated administrator" either way)."""
        register = ("from the management account: aws organizations register-delegated-administrator "
                    f"--service-principal {STACKSETS_PRINCIPAL} --account-id {caller}")
        if caller == management:
            raise DeployError("members.call_as = \"DELEGATED_ADMIN\" but members.profile signs in to the management "
                              "account: use call_as = \"SELF\" there")
        try:
            admins = self.client(self.management, "organizations", self.cfg.central.region) \
                .list_delegated_administrators(ServicePrincipal=STACKSETS_PRINCIPAL)["DelegatedAdministrators"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "AccessDeniedException":
                raise
            raise DeployError(f"members.profile ({caller}) may not list the organization's delegated administrators: "
                              f"it is not one, or lacks organizations:ListDelegatedAdministrators (StackSets need "
                              f"it too); to register it, {register}") from e
        if caller not in {a["Id"] for a in admins}:
            raise DeployError(f"members.profile ({caller}) is not a delegated administrator for StackSets; {register}")

    # ---- publishing ----------------------------------------------------------------------------
    def publish(self) -> dict[str, str]:
        """Uploads the zips to every Region and the templates beside them; returns each template's URL."""
        cfg = self.cfg
        session = self.session(cfg.artifacts.profile or cfg.central.profile)
        done = publish.publish(cfg.regions(), cfg.artifacts.bucket_prefix, self.version, cfg.artifacts.dist,
                               cfg.organization_id, session=session)
        uploaded = sum(not d["unchanged"] for d in done)
        self.out(f"artifacts: version {self.version}, {len(done)} objects in {len(cfg.regions())} Region(s), "
                 f"{uploaded} uploaded")
        # TemplateBody is limited to 51,200 bytes (CreateStack, API reference) and central-reporting.yaml is
        # larger, so every template goes by TemplateURL from the central Region's artifact bucket.
        region = cfg.central.region
        s3 = self.client(session, "s3", region)
        bucket = f"{cfg.artifacts.bucket_prefix}-{region}"
        # publish.publish checked that the bucket is this account's; every call here says so too.
        owner = self.client(session, "sts", region).get_caller_identity()["Account"]
        urls = {}
        # The templates as deployed: cfn/*.yaml with the SQL of cfn/queries included (cfn/render.py).
        for name, text in render.templates().items():
            key = f"{TEMPLATE_PREFIX.format(version=self.version)}/{name}"
            body = text.encode()
            digest = hashlib.sha256(body).hexdigest()
            head = publish.head_artifact(s3, bucket, key, owner)
            if head is None:
                s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest},
                              ExpectedBucketOwner=owner)
            elif not publish.same_content(head, body, digest):
                raise DeployError(f"s3://{bucket}/{key} holds a different {name} for version {self.version}: "
                                  "published versions are never overwritten; set artifacts.version to a new one")
            urls[name] = f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
        return urls

    # ---- stacks --------------------------------------------------------------------------------
    def describe(self, cfn, name: str) -> dict | None:
        try:
            return cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as e:
            if "does not exist" in e.response["Error"].get("Message", ""):
                return None
            raise

    def deploy_stack(self, plan: StackPlan, url: str) -> dict[str, str]:
        cfn = self.client(plan.session, "cloudformation", plan.region)
        stack = self.describe(cfn, plan.name)
        where = f"{plan.label} stack {plan.name} ({plan.region})"
        if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            # A stack whose creation failed can only be deleted ("Troubleshooting CloudFormation",
            # ROLLBACK_COMPLETE); it holds nothing.
            self.out(f"{where}: its creation failed before ({stack.get('StackStatusReason', '')}); deleting it to retry")
            if not self.dry_run:
                cfn.delete_stack(StackName=plan.name)
                self.wait(cfn, "stack_delete_complete", plan.name, where)
            stack = None
        elif stack and stack["StackStatus"] not in DONE:
            raise DeployError(f"{where} is {stack['StackStatus']}: wait for it to finish (or fix it in the console), "
                              "then run again")
        kind = "UPDATE" if stack else "CREATE"
        name = f"deploy-{int(time.time())}"
        cfn.create_change_set(StackName=plan.name, ChangeSetName=name, ChangeSetType=kind, TemplateURL=url,
                              Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(plan.parameters.items())],
                              Capabilities=CAPABILITIES, Description="make deploy")
        try:
            cfn.get_waiter("change_set_create_complete").wait(
                StackName=plan.name, ChangeSetName=name, WaiterConfig={"Delay": self.poll, "MaxAttempts": 360})
        except WaiterError:
            described = cfn.describe_change_set(StackName=plan.name, ChangeSetName=name)
            reason = described.get("StatusReason", "")
            if any(text in reason for text in NO_CHANGES):
                cfn.delete_change_set(StackName=plan.name, ChangeSetName=name)
                self.out(f"{where}: no changes")
                return self.outputs(cfn, plan.name)
            raise DeployError(f"{where}: the change set failed: {reason}") from None
        changes = cfn.describe_change_set(StackName=plan.name, ChangeSetName=name)
        self.show_changes(where, kind, changes)
        if self.dry_run or not self.confirm(f"execute this change set on {plan.name}?"):
            cfn.delete_change_set(StackName=plan.name, ChangeSetName=name)
            if kind == "CREATE":
                # A CREATE change set leaves the stack in REVIEW_IN_PROGRESS; remove it so nothing stays behind.
                cfn.delete_stack(StackName=plan.name)
            self.out(f"{where}: not changed")
            return self.outputs(cfn, plan.name) if stack else {}
        cfn.execute_change_set(StackName=plan.name, ChangeSetName=name)
        self.wait(cfn, f"stack_{kind.lower()}_complete", plan.name, where)
        self.result.changed.append(where)
        return self.outputs(cfn, plan.name)

    def outputs(self, cfn, name: str) -> dict[str, str]:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def show_changes(self, where: str, kind: str, described: dict) -> None:
        self.out(f"{where}: {kind.lower()}, {len(described['Changes'])} change(s)")
        for change in described["Changes"]:
            rc = change["ResourceChange"]
            replace = {"True": "  REPLACED", "Conditional": "  may be replaced"}.get(rc.get("Replacement", ""), "")
            self.out(f"  {rc['Action']:<7} {rc['LogicalResourceId']:<40} {rc['ResourceType']}{replace}")

    def confirm(self, question: str) -> bool:
        if self.yes:
            return True
        return self.ask(f"{question} [y/N] ").strip().lower() in ("y", "yes")

    def wait(self, cfn, waiter: str, name: str, where: str) -> None:
        """Waits with boto3's waiter while a thread prints the stack's new events."""
        stop = threading.Event()
        seen: set[str] = set(e["EventId"] for e in self.events(cfn, name))
        printer = threading.Thread(target=self.print_events, args=(cfn, name, seen, stop), daemon=True)
        printer.start()
        try:
            cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": self.poll, "MaxAttempts": 720})
        except WaiterError as e:
            stop.set()
            printer.join()
            raise DeployError(f"{where}: {waiter.replace('_', ' ')} failed: {self.failure(cfn, name) or e}") from None
        stop.set()
        printer.join()

    def events(self, cfn, name: str) -> list[dict]:
        try:
            return cfn.describe_stack_events(StackName=name)["StackEvents"]
        except ClientError:
            return []

    def print_events(self, cfn, name: str, seen: set[str], stop: threading.Event) -> None:
        while True:
            last = stop.wait(self.poll)
            for event in reversed(self.events(cfn, name)):
                if event["EventId"] not in seen:
                    seen.add(event["EventId"])
                    reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
                    self.out(f"    {event['LogicalResourceId']:<40} {event['ResourceStatus']}{reason}")
            if last:
                return

    def failure(self, cfn, name: str) -> str:
        """The first failed resource's reason: the cause, where the stack's own status only says it rolled back."""
        for event in reversed(self.events(cfn, name)):
            if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
                return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
        return ""

    # ---- StackSets -----------------------------------------------------------------------------
    def deploy_stack_set(self, plan: StackSetPlan, url: str, body: str) -> None:
        cfn = self.client(self.management, "cloudformation", self.cfg.central.region)
        call_as = self.cfg.members.call_as
        where = f"{plan.label} StackSet {plan.name}"
        params = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(plan.parameters.items())]
        try:
            current = cfn.describe_stack_set(StackSetName=plan.name, CallAs=call_as)["StackSet"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "StackSetNotFoundException":
                raise
            current = None
        if current is None:
            self.out(f"{where}: create, instances in {len(plan.ous)} organizational unit(s) x {plan.regions}")
            if self.dry_run or not self.confirm(f"create StackSet {plan.name}?"):
                return
            cfn.create_stack_set(
                StackSetName=plan.name, TemplateURL=url, Parameters=params, Capabilities=CAPABILITIES,
                PermissionModel="SERVICE_MANAGED", CallAs=call_as, Description="patch compliance (make deploy)",
                # "Enable or disable automatic deployments" (StackSets user guide): accounts that join the
                # OUs later get an instance; one that leaves has its stack deleted.
                AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                ManagedExecution={"Active": True})
            self.stack_set_operation(cfn, plan, where, cfn.create_stack_instances(
                StackSetName=plan.name, DeploymentTargets={"OrganizationalUnitIds": plan.ous},
                Regions=plan.regions, OperationPreferences=self.preferences(), CallAs=call_as)["OperationId"])
            self.result.changed.append(where)
            return
        before = {p["ParameterKey"]: p["ParameterValue"] for p in current.get("Parameters", [])}
        differs = sorted(k for k in set(before) | set(plan.parameters) if before.get(k) != plan.parameters.get(k))
        template_changed = current.get("TemplateBody", "").strip() != body.strip()
        have: dict[str, set[str]] = {}
        stale: list[str] = []
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=plan.name, CallAs=call_as):
            for summary in page["Summaries"]:
                have.setdefault(summary["Region"], set()).add(summary.get("OrganizationalUnitId", ""))
                if summary["Status"] != "CURRENT":
                    # OUTDATED: the last operation failed or was cancelled there (ListStackInstances,
                    # StackInstanceSummary Status); an update with the same template deploys it again.
                    stale.append(f"{summary['Account']}/{summary['Region']} {summary['Status']}"
                                 + (f": {summary['StatusReason']}" if summary.get("StatusReason") else ""))
        if differs or template_changed or stale:
            self.out(f"{where}: update" + (", template changed" if template_changed else "")
                     + "".join(f"\n  parameter {k}: {before.get(k)!r} -> {plan.parameters.get(k)!r}" for k in differs)
                     + "".join(f"\n  instance {s} (deployed again)" for s in stale))
            if not self.dry_run and self.confirm(f"update StackSet {plan.name} and all its instances?"):
                self.stack_set_operation(cfn, plan, where, cfn.update_stack_set(
                    StackSetName=plan.name, TemplateURL=url, Parameters=params, Capabilities=CAPABILITIES,
                    OperationPreferences=self.preferences(), CallAs=call_as)["OperationId"])
                self.result.changed.append(where)
        # Instances: the OUs and Regions in the file, no more and no fewer.
        missing = [r for r in plan.regions if not set(plan.ous) <= have.get(r, set())]
        extra = [r for r in have if r not in plan.regions]
        if missing:
            self.out(f"{where}: add instances in {missing}")
            if not self.dry_run and self.confirm(f"add instances of {plan.name} in {missing}?"):
                self.stack_set_operation(cfn, plan, where, cfn.create_stack_instances(
                    StackSetName=plan.name, DeploymentTargets={"OrganizationalUnitIds": plan.ous}, Regions=missing,
                    OperationPreferences=self.preferences(), CallAs=call_as)["OperationId"])
                self.result.changed.append(where)
        if extra:
            self.out(f"{where}: remove instances in {extra} (no longer in members.regions)")
            if not self.dry_run and self.confirm(f"delete the instances of {plan.name} in {extra}?"):
                self.delete_instances(cfn, plan, where, extra)
        if not (differs or template_changed or stale or missing or extra):
            self.out(f"{where}: no changes")

    def preferences(self) -> dict:
        m = self.cfg.members
        return {"FailureTolerancePercentage": m.failure_tolerance_percentage,
                "MaxConcurrentPercentage": m.max_concurrent_percentage,
                "RegionConcurrencyType": m.region_concurrency}

    def delete_instances(self, cfn, plan: StackSetPlan, where: str, regions: list[str]) -> None:
        self.stack_set_operation(cfn, plan, where, cfn.delete_stack_instances(
            StackSetName=plan.name, DeploymentTargets={"OrganizationalUnitIds": plan.ous}, Regions=regions,
            RetainStacks=False, OperationPreferences=self.preferences(), CallAs=self.cfg.members.call_as)["OperationId"])

    def stack_set_operation(self, cfn, plan: StackSetPlan, where: str, operation: str) -> None:
        """Polls DescribeStackSetOperation (boto3 has no StackSet waiter) until the operation ends."""
        call_as = self.cfg.members.call_as
        started, status = time.monotonic(), "RUNNING"
        while status in ("RUNNING", "QUEUED", "STOPPING"):
            time.sleep(self.poll)
            status = cfn.describe_stack_set_operation(StackSetName=plan.name, OperationId=operation,
                                                      CallAs=call_as)["StackSetOperation"]["Status"]
            self.out(f"    {where}: operation {status} ({time.monotonic() - started:.0f} s)")
        failed = []
        for page in cfn.get_paginator("list_stack_set_operation_results").paginate(
                StackSetName=plan.name, OperationId=operation, CallAs=call_as):
            failed += [f"{r['Account']}/{r['Region']}: {r.get('StatusReason', r['Status'])}"
                       for r in page["Summaries"] if r["Status"] != "SUCCEEDED"]
        if status != "SUCCEEDED":
            raise DeployError(f"{where}: operation {status}; failed instances:\n  " + "\n  ".join(failed or ["(none listed)"]))
        if failed:
            # Within the failure tolerance the operation succeeds with some instances failed: say which.
            self.result.todo.append(f"{where}: instances failed within the failure tolerance:\n    " + "\n    ".join(failed))

    # ---- the plans -----------------------------------------------------------------------------
    def central_plan(self) -> StackPlan:
        cfg = self.cfg
        params = {**{k: configuration.as_parameter(v) for k, v in cfg.central.parameters.items()},
                  "OrganizationId": cfg.organization_id, "ArtifactBucketPrefix": cfg.artifacts.bucket_prefix,
                  "ArtifactVersion": self.version, "Architecture": cfg.architecture,
                  "KeepDataOnDelete": configuration.as_parameter(cfg.central.keep_data_on_delete),
                  "AlarmEmail": cfg.central.alarm_email,
                  "EnableConfigAnalytics": configuration.as_parameter(cfg.config_analytics.enabled),
                  "ExistingConfigBucket": cfg.config_analytics.existing_bucket,
                  "ExistingConfigBucketAccount": cfg.config_analytics.existing_bucket_account}
        if cfg.owners.enabled:
            params["ReportOrganizationsRoleArn"] = self.reader_role_arn()
            params["ReportOwnerTagKey"] = cfg.owners.tag_key
        if "CreateCrawlerLogGroup" not in cfg.central.parameters:
            params["CreateCrawlerLogGroup"] = "false" if self.crawler_log_group_taken() else "true"
        return StackPlan("central", self.central, cfg.central.region, cfg.central.stack_name,
                         "central-reporting.yaml", params)

    @property
    def owners_account(self) -> boto3.Session:
        """Where the organization reader goes: owners.profile, else the management account."""
        o, m = self.cfg.owners, self.cfg.members
        return self.session(o.profile or m.management_profile or m.profile)

    def reader_role_arn(self) -> str:
        """The reader role's ARN, known before the role exists: the central stack names it first,
        the reader stack (whose trust policy needs the central role) comes after."""
        caller = self.client(self.owners_account, "sts", self.cfg.central.region).get_caller_identity()["Arn"]
        partition, account = caller.split(":")[1], caller.split(":")[4]
        return f"arn:{partition}:iam::{account}:role/{self.cfg.owners.role_name}"

    def reader_plan(self, central: dict[str, str]) -> StackPlan:
        o = self.cfg.owners
        return StackPlan("organization reader", self.owners_account, self.cfg.central.region, o.stack_name,
                         "organization-reader.yaml",
                         {"ReportRoleArn": central.get("ComplianceReportRoleArn", ""),
                          "OrganizationId": self.cfg.organization_id, "RoleName": o.role_name})

    def crawler_log_group_taken(self) -> bool:
        """Whether `/aws-glue/crawlers` exists and this stack does not own it. Glue writes every
        crawler's logs there (Glue Developer Guide, "Viewing crawler results"), so an account
        that ran a crawler has it, and a stack creating it again fails with
        ResourceAlreadyExistsException; the central stack retains it on deletion too."""
        cfg = self.cfg
        logs = self.client(self.central, "logs", cfg.central.region)
        groups = logs.describe_log_groups(logGroupNamePrefix=CRAWLER_LOG_GROUP)["logGroups"]
        if not any(g["logGroupName"] == CRAWLER_LOG_GROUP for g in groups):
            return False
        cfn = self.client(self.central, "cloudformation", cfg.central.region)
        try:
            owned = cfn.describe_stack_resource(StackName=cfg.central.stack_name, LogicalResourceId="CrawlerLogGroup")
            return owned["StackResourceDetail"].get("PhysicalResourceId") != CRAWLER_LOG_GROUP
        except ClientError:
            self.out(f"central stack: {CRAWLER_LOG_GROUP} already exists, so the stack uses it "
                     "(CreateCrawlerLogGroup=false); its retention stays as it is")
            return True

    def artifact_params(self) -> dict[str, str]:
        return {"ArtifactBucketPrefix": self.cfg.artifacts.bucket_prefix, "ArtifactVersion": self.version,
                "Architecture": self.cfg.architecture}

    def quicksight_plan(self, central: dict[str, str]) -> StackPlan:
        q = self.cfg.quicksight
        params = {**{k: configuration.as_parameter(v) for k, v in q.parameters.items()}, **self.artifact_params(),
                  "WorkGroup": central["WorkGroupName"], "Database": central["DatabaseName"],
                  "ConfigSnapshotTable": central.get("ConfigSnapshotTable", ""),
                  "PrincipalArns": ",".join(q.principal_arns), "ImportMode": q.import_mode,
                  "SyncBucketName": central["SyncBucketName"],
                  "AthenaResultsBucketName": central["AthenaResultsBucketName"],
                  "ConfigBucketName": central.get("ConfigBucketName", ""), "KmsKeyArn": central["KmsKeyArn"]}
        return StackPlan("QuickSight", self.central, self.cfg.central.region, q.stack_name, "quicksight.yaml", params)

    def member_params(self, part: configuration.StackSetPart, central: dict[str, str], sync: bool) -> dict[str, str]:
        wired = ({"BucketName": central["SyncBucketName"], "BucketRegion": central["SyncBucketRegion"],
                  "BucketPrefix": central["SyncPrefix"], "KmsKeyArn": central["KmsKeyArn"]} if sync
                 else {"ConfigBucketName": central.get("ConfigBucketName", "")})
        return {**{k: configuration.as_parameter(v) for k, v in part.parameters.items()}, **self.artifact_params(), **wired}

    # ---- deploy / undeploy ---------------------------------------------------------------------
    def deploy(self) -> Outcome:
        cfg = self.cfg
        management_account = self.check_accounts()
        urls = self.publish()
        central = self.deploy_stack(self.central_plan(), urls["central-reporting.yaml"])
        self.result.outputs["central"] = central
        if central:
            cfn = self.client(self.central, "cloudformation", cfg.central.region)
            self.result.resources["central"] = {
                r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for page in cfn.get_paginator("list_stack_resources").paginate(StackName=cfg.central.stack_name)
                for r in page["StackResourceSummaries"]}
        if not central:
            return self.result
        if cfg.owners.enabled:
            self.result.outputs["owners"] = self.deploy_stack(self.reader_plan(central),
                                                              urls["organization-reader.yaml"])
        if cfg.quicksight.enabled:
            self.result.outputs["quicksight"] = self.deploy_stack(self.quicksight_plan(central), urls["quicksight.yaml"])
        if cfg.cloudtrail_lake.enabled:
            lake = cfg.cloudtrail_lake
            plan = StackPlan("CloudTrail Lake", self.session(lake.profile or cfg.members.profile),
                             lake.region or cfg.central.region, lake.stack_name, "cloudtrail-lake.yaml",
                             {k: configuration.as_parameter(v) for k, v in lake.parameters.items()})
            self.result.outputs["cloudtrail_lake"] = self.deploy_stack(plan, urls["cloudtrail-lake.yaml"])
        for part, template, sync in self.member_parts():
            plan = StackSetPlan(template.removesuffix(".yaml"), part.stack_set_name, template,
                                self.member_params(part, central, sync), cfg.members.regions,
                                cfg.members.organizational_units)
            self.deploy_stack_set(plan, urls[template], render.template(template))
            if cfg.members.management_account_stacks:
                for region in cfg.members.regions:
                    self.deploy_stack(StackPlan(f"{plan.label} (management account {management_account})",
                                                self.management_account, region, part.stack_set_name, template,
                                                plan.parameters), urls[template])
        self.todo(central)
        return self.result

    def member_parts(self):
        m = self.cfg.members
        yield m.data_sync, "member-data-sync.yaml", True
        if m.patching.enabled:
            yield m.patching, "member-patching.yaml", False

    def todo(self, central: dict[str, str]) -> None:
        cfg, todo = self.cfg, self.result.todo
        if cfg.central.alarm_email:
            todo.append(f"confirm the SNS subscription e-mail sent to {cfg.central.alarm_email} (alarms reach no one until then)")
        if cfg.config_analytics.existing_bucket:
            todo.append(f"give the owner of {cfg.config_analytics.existing_bucket} the central outputs "
                        "ExistingConfigBucketPolicyStatement and ExistingConfigBucketEventRule to add (cfn/README.md)")
        if cfg.quicksight.enabled and cfg.quicksight.import_mode == "SPICE":
            todo.append("SPICE datasets import what the tables hold when made: run make deploy again after the first crawl")
        todo.append(f"data arrives as the syncs run; run the crawler once now (aws glue start-crawler --name "
                    f"{central.get('CrawlerName', '<CrawlerName>')}) or wait for its schedule")

    def undeploy(self) -> Outcome:
        cfg = self.cfg
        management_account = self.check_accounts()
        urls = self.publish() if self._keep_setting_differs() else {}
        for part, template, _sync in reversed(list(self.member_parts())):
            if cfg.members.management_account_stacks:
                for region in cfg.members.regions:
                    self.delete_stack(StackPlan(f"{template} (management account {management_account})",
                                                self.management_account,
                                                region, part.stack_set_name, template, {}))
            self.delete_stack_set(part.stack_set_name, template)
        if cfg.cloudtrail_lake.enabled:
            lake = cfg.cloudtrail_lake
            self.delete_stack(StackPlan("CloudTrail Lake", self.session(lake.profile or cfg.members.profile),
                                        lake.region or cfg.central.region, lake.stack_name, "cloudtrail-lake.yaml", {}))
            self.result.todo.append("the CloudTrail Lake event data store is retained (DeletionPolicy Retain, termination "
                                    "protection): delete it in CloudTrail when its history is no longer needed")
        if cfg.owners.enabled:
            self.delete_stack(self.reader_plan({}))
        if cfg.quicksight.enabled:
            self.delete_stack(StackPlan("QuickSight", self.central, cfg.central.region, cfg.quicksight.stack_name,
                                        "quicksight.yaml", {}))
        plan = self.central_plan()
        if urls:
            # The deletion follows the deployed KeepDataOnDelete: bring it in line with the file first.
            self.out(f"central stack: KeepDataOnDelete becomes {plan.parameters['KeepDataOnDelete']} before deletion")
            self.deploy_stack(plan, urls["central-reporting.yaml"])
        self.delete_stack(plan)
        if cfg.central.keep_data_on_delete:
            self.result.todo.append("kept (keep_data_on_delete): the sync, Athena results and Config buckets and the KMS key")
        return self.result

    def _keep_setting_differs(self) -> bool:
        cfn = self.client(self.central, "cloudformation", self.cfg.central.region)
        stack = self.describe(cfn, self.cfg.central.stack_name)
        if stack is None:
            return False
        deployed = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        return deployed.get("KeepDataOnDelete") != configuration.as_parameter(self.cfg.central.keep_data_on_delete)

    def delete_stack(self, plan: StackPlan) -> None:
        cfn = self.client(plan.session, "cloudformation", plan.region)
        where = f"{plan.label} stack {plan.name} ({plan.region})"
        if self.describe(cfn, plan.name) is None:
            self.out(f"{where}: not deployed")
            return
        if self.dry_run or not self.confirm(f"delete {where}?"):
            return
        cfn.delete_stack(StackName=plan.name)
        self.wait(cfn, "stack_delete_complete", plan.name, where)
        self.result.changed.append(f"{where} deleted")

    def delete_stack_set(self, name: str, template: str) -> None:
        cfn = self.client(self.management, "cloudformation", self.cfg.central.region)
        call_as = self.cfg.members.call_as
        where = f"StackSet {name}"
        try:
            cfn.describe_stack_set(StackSetName=name, CallAs=call_as)
        except ClientError as e:
            if e.response["Error"]["Code"] == "StackSetNotFoundException":
                self.out(f"{where}: not deployed")
                return
            raise
        if self.dry_run or not self.confirm(f"delete {where} and all its stack instances?"):
            return
        regions: set[str] = set()
        ous: set[str] = set()
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name, CallAs=call_as):
            for summary in page["Summaries"]:
                regions.add(summary["Region"])
                ous.add(summary.get("OrganizationalUnitId", ""))
        plan = StackSetPlan(template, name, template, {}, sorted(regions), sorted(o for o in ous if o))
        if regions:
            self.delete_instances(cfn, plan, where, sorted(regions))
        cfn.delete_stack_set(StackSetName=name, CallAs=call_as)
        self.result.changed.append(f"{where} deleted")


def report(result: Outcome, out=print) -> None:
    for stack, outputs in result.outputs.items():
        if outputs:
            out(f"\n{stack} outputs:")
            for key, value in sorted(outputs.items()):
                out(f"  {key} = {value}")
    out("\nchanged: " + ("; ".join(result.changed) if result.changed else "nothing"))
    if result.todo:
        out("\nstill to do:")
        for item in result.todo:
            out(f"  - {item}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", default="deploy", choices=["deploy", "undeploy", "plan"])
    parser.add_argument("--config", type=pathlib.Path, default=pathlib.Path("deploy.toml"),
                        help="the configuration file (default deploy.toml; see deploy/example.toml)")
    parser.add_argument("--yes", action="store_true", help="execute every change without asking")
    parser.add_argument("--poll", type=float, default=15.0,
                        help="seconds between status checks while waiting (default 15)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the outputs and to-do list here as JSON")
    args = parser.parse_args(argv)
    try:
        cfg = configuration.load(args.config)
        deployer = Deployer(cfg, yes=args.yes, poll=args.poll, dry_run=args.action == "plan")
        result = deployer.undeploy() if args.action == "undeploy" else deployer.deploy()
    except (configuration.ConfigError, DeployError, publish.PublishError, render.RenderError) as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 2
    except ClientError as e:
        print(f"deploy: AWS refused {e.operation_name}: {e}", file=sys.stderr)
        return 1
    report(result)
    if args.json:
        args.json.write_text(json.dumps({"outputs": result.outputs, "resources": result.resources,
                                         "changed": result.changed, "todo": result.todo},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
