"""Requests validated against the service's published model (emulator/emu_validate.py, issue #23).

Over HTTP through boto3 clients that skip botocore's own checks (`unvalidated`), so the emulator sees
what a client that does not validate (the AWS SDK for Rust checks little) would send: a missing
required member, an enum outside its values, a string over its maximum length, a pattern mismatch and
a number out of range, for JSON services (SSM, Glue, Athena, Config), rest-json (QuickSight, Lambda)
and query (IAM, SNS, CloudFormation), each answered with the status, code and message AWS answers
(emu_validate's docstring cites them); valid calls, values at the limits included, still succeed.
The walker's and the Java regex translation's details are unit-tested at the end.

    .venv/bin/python -m pytest tests/emulator/test_validate.py -q
"""

from __future__ import annotations

import json

import emu_validate
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, client, error_of, trust, unvalidated
from emu_request import ParsedRequest
from moto.core.utils import get_service_model

ONE = "1 validation error detected: "


def refused(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as e:
        call()
    return error_of(e)


def enum_of(service: str, shape: str) -> str:
    return "[" + ", ".join(get_service_model(service).shape_for(shape).enum) + "]"


# --------------------------------------------------------------------------
# JSON protocol: ValidationException (Athena: InvalidRequestException)
# --------------------------------------------------------------------------


def test_ssm(emulator):
    ssm = unvalidated(emulator, "ssm")
    assert refused(lambda: ssm.put_parameter(Value="v")) == (400, "ValidationException", (
        ONE + "Value null at 'name' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: ssm.describe_instance_information(
        InstanceInformationFilterList=[{"key": "Bogus", "valueSet": ["x"]}])) == (400, "ValidationException", (
            ONE + "Value 'Bogus' at 'instanceInformationFilterList.1.member.key' failed to satisfy constraint: "
            "Member must satisfy enum value set: " + enum_of("ssm", "InstanceInformationFilterKey")))
    assert refused(lambda: ssm.describe_instance_information(MaxResults=51)) == (400, "ValidationException", (
        ONE + "Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"))
    assert refused(lambda: ssm.describe_instance_information(MaxResults=4)) == (400, "ValidationException", (
        ONE + "Value '4' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 5"))
    assert refused(lambda: ssm.put_parameter(Name="p" * 2049, Value="v")) == (400, "ValidationException", (
        ONE + f"Value '{'p' * 2049}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"))
    assert refused(lambda: ssm.put_parameter(Name="/p", Value="v", KeyId="alias key")) == (
        400, "ValidationException", ONE + "Value 'alias key' at 'keyId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$")
    # A list member's own length, inside a list of structures.
    assert refused(lambda: ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": []}])) == (
        400, "ValidationException", ONE + "Value '[]' at 'filters.1.member.values' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1")
    # The limits themselves are valid.
    valid = client(emulator, "ssm")
    for n in (5, 50):
        assert valid.describe_instance_information(MaxResults=n)["InstanceInformationList"] == []


def test_glue(emulator):
    glue = unvalidated(emulator, "glue")
    assert refused(lambda: glue.get_table(DatabaseName="db")) == (400, "ValidationException", (
        ONE + "Value null at 'name' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: glue.get_table(DatabaseName="d" * 256, Name="t")) == (400, "ValidationException", (
        ONE + f"Value '{'d' * 256}' at 'databaseName' failed to satisfy constraint: "
        "Member must have length less than or equal to 255"))
    pattern = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
    assert refused(lambda: glue.get_table(DatabaseName="db\n", Name="t")) == (400, "ValidationException", (
        ONE + "Value 'db\n' at 'databaseName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"))
    assert refused(lambda: glue.get_partitions(DatabaseName="db", TableName="t", MaxResults=0)) == (
        400, "ValidationException", ONE + "Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")
    assert refused(lambda: glue.create_database(DatabaseInput={"Name": "db", "CreateTableDefaultPermissions": [
        {"Permissions": ["EVERYTHING"]}]}))[:2] == (400, "ValidationException")
    # A string member sent as a JSON number: the body cannot be read, before any constraint.
    assert refused(lambda: glue.get_table(DatabaseName=5, Name="")) == (
        400, "SerializationException", "NUMBER_VALUE can not be converted to a String")
    # Java's pattern reads the surrogate pair as U+10000-U+10FFFF: a character outside the BMP is valid.
    valid = client(emulator, "glue")
    valid.create_database(DatabaseInput={"Name": "db", "Description": "données 😀"})
    assert valid.get_database(Name="db")["Database"]["Description"] == "données 😀"


def test_athena(emulator):
    athena = unvalidated(emulator, "athena")
    assert refused(lambda: athena.get_work_group()) == (400, "InvalidRequestException", (
        ONE + "Value null at 'workGroup' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: athena.list_work_groups(MaxResults=51)) == (400, "InvalidRequestException", (
        ONE + "Value '51' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 50"))
    assert refused(lambda: athena.start_query_execution(QueryString="SELECT 1", WorkGroup="my group")) == (
        400, "InvalidRequestException", ONE + "Value 'my group' at 'workGroup' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9._-]{1,128}")
    assert refused(lambda: athena.start_query_execution(QueryString="S" * 262145))[:2] == (
        400, "InvalidRequestException")
    assert refused(lambda: athena.list_query_executions(WorkGroup="primary", NextToken=""))[2] == (
        ONE + "Value '' at 'nextToken' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1")
    assert client(emulator, "athena").list_work_groups(MaxResults=50)["WorkGroups"]


def config_rule(**changes) -> dict:
    return {"ConfigRuleName": "versioning", "Source": {"Owner": "AWS",
                                                       "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
            **changes}


def test_config(emulator):
    cfg = unvalidated(emulator, "config")
    # Every violation at once, in the model's member order.
    name = "n" * 129
    assert refused(lambda: cfg.put_config_rule(ConfigRule=config_rule(
        ConfigRuleName=name, MaximumExecutionFrequency="Weekly", ConfigRuleState="BOGUS"))) == (
        400, "ValidationException", "3 validation errors detected: "
        f"Value '{name}' at 'configRule.configRuleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128; "
        "Value 'Weekly' at 'configRule.maximumExecutionFrequency' failed to satisfy constraint: "
        "Member must satisfy enum value set: " + enum_of("config", "MaximumExecutionFrequency") + "; "
        "Value 'BOGUS' at 'configRule.configRuleState' failed to satisfy constraint: "
        "Member must satisfy enum value set: " + enum_of("config", "ConfigRuleState"))
    assert refused(lambda: cfg.put_config_rule(ConfigRule={"ConfigRuleName": "x"})) == (
        400, "ValidationException", ONE + "Value null at 'configRule.source' failed to satisfy constraint: "
        "Member must not be null")
    assert refused(lambda: cfg.describe_config_rules(ConfigRuleNames=["r" * 129]))[2] == (
        ONE + f"Value '[{'r' * 129}]' at 'configRuleNames' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have length greater "
        "than or equal to 1, Member must satisfy regular expression pattern: .*\\S.*]")
    assert refused(lambda: cfg.describe_config_rules(ConfigRuleNames=[" "]))[:2] == (400, "ValidationException")
    assert refused(lambda: cfg.get_compliance_details_by_config_rule(ConfigRuleName="r", Limit=101))[2] == (
        ONE + "Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or "
        "equal to 100")
    valid = client(emulator, "config")
    valid.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config"})
    valid.put_config_rule(ConfigRule=config_rule(ConfigRuleName="c" * 128))
    assert valid.describe_config_rules(ConfigRuleNames=["c" * 128])["ConfigRules"]


def test_kms_leaves_a_sensitive_value_out(emulator):
    kms = unvalidated(emulator, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    # As AWS answers it (LocalStack's snapshot of KMS, tests/aws/services/kms/test_kms.snapshot.json).
    assert refused(lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * 4097)) == (400, "ValidationException", (
        ONE + "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or "
        "equal to 4096"))
    assert kms.encrypt(KeyId=key, Plaintext=b"x" * 4096)["CiphertextBlob"]


# --------------------------------------------------------------------------
# rest-json: ValidationException, URI, query-string and header members included
# --------------------------------------------------------------------------


def test_quicksight(emulator):
    qs = unvalidated(emulator, "quicksight")
    assert refused(lambda: qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="d", Type="ATHENA")) == (
        400, "ValidationException", ONE + "Value null at 'name' failed to satisfy constraint: "
        "Member must not be null")
    assert refused(lambda: qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="d", Name="",
                                                 Type="ATHENAX")) == (
        400, "ValidationException", "2 validation errors detected: "
        "Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1; "
        "Value 'ATHENAX' at 'type' failed to satisfy constraint: Member must satisfy enum value set: "
        + enum_of("quicksight", "DataSourceType"))
    assert refused(lambda: qs.create_data_source(AwsAccountId=ACCOUNT, DataSourceId="d", Name="n" * 129,
                                                 Type="ATHENA"))[2] == (
        ONE + f"Value '{'n' * 129}' at 'name' failed to satisfy constraint: "
        "Member must have length less than or equal to 128")
    # The account id in the URI: its pattern and its length.
    assert refused(lambda: qs.list_data_sources(AwsAccountId="12345")) == (400, "ValidationException", (
        "2 validation errors detected: "
        "Value '12345' at 'awsAccountId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ^[0-9]{12}$; "
        "Value '12345' at 'awsAccountId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 12"))
    # A query-string member (max-results).
    assert refused(lambda: qs.list_data_sources(AwsAccountId=ACCOUNT, MaxResults=101)) == (
        400, "ValidationException", ONE + "Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100")
    # A map's keys, as AWS answered boto/boto3#2601 (the value printed as our toString).
    msg = refused(lambda: qs.create_data_set(
        AwsAccountId=ACCOUNT, DataSetId="s", Name="s", ImportMode="SPICE",
        PhysicalTableMap={"table_map1": {"CustomSql": {"DataSourceArn": "arn", "Name": "q", "SqlQuery": "SELECT 1",
                                                       "Columns": [{"Name": "c", "Type": "STRING"}]}}}))[2]
    assert msg.startswith(ONE + "Value '{table_map1=PhysicalTable(")
    assert msg.endswith("at 'physicalTableMap' failed to satisfy constraint: Map keys must satisfy constraint: "
                        "[Member must have length less than or equal to 64, Member must have length greater than "
                        "or equal to 1, Member must satisfy regular expression pattern: [0-9a-zA-Z-]*]")
    valid = client(emulator, "quicksight")
    assert valid.list_data_sources(AwsAccountId=ACCOUNT, MaxResults=100)["DataSources"] == []


def test_lambda(emulator):
    lam = unvalidated(emulator, "lambda")
    role = client(emulator, "iam").create_role(RoleName="fn", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    code = {"ZipFile": b"zip"}
    # As AWS answers it (LocalStack's snapshot of Lambda, test_lambda_api.snapshot.json).
    assert refused(lambda: lam.create_function(FunctionName="f", Role="r1", Code=code, Runtime="python3.12",
                                               Handler="h")) == (400, "ValidationException", (
        ONE + "Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"))
    assert refused(lambda: lam.create_function(FunctionName="f" * 141, Role=role, Code=code,
                                               Runtime="python3.12", Handler="h"))[2] == (
        ONE + f"Value '{'f' * 141}' at 'functionName' failed to satisfy constraint: "
        "Member must have length less than or equal to 140")
    assert refused(lambda: lam.create_function(FunctionName="f", Role=role, Code=code, Runtime="cobol",
                                               Handler="h"))[2].startswith(
        ONE + "Value 'cobol' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [")
    assert refused(lambda: lam.create_function(FunctionName="f", Role=role, Runtime="python3.12",
                                               Handler="h"))[2] == (
        ONE + "Value null at 'code' failed to satisfy constraint: Member must not be null")
    # Environment variable names have at least two characters; the map is sensitive, so its value is left out.
    assert refused(lambda: lam.create_function(FunctionName="f", Role=role, Code=code, Runtime="python3.12",
                                               Handler="h", Environment={"Variables": {"A": "1"}}))[2] == (
        ONE + "Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    assert refused(lambda: lam.create_function(FunctionName="f", Role=role, Code=code, Runtime="python3.12",
                                               Handler="h", Timeout=0))[2] == (
        ONE + "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or "
        "equal to 1")
    assert refused(lambda: lam.create_function(FunctionName="f", Role=role, Code=code, Runtime="python3.12",
                                               Handler="h", Architectures=["X86_64"]))[2] == (
        ONE + "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
    # A header member (X-Amz-Invocation-Type) and query-string members.
    assert refused(lambda: lam.invoke(FunctionName="f", InvocationType="Later")) == (
        400, "ValidationException", ONE + "Value 'Later' at 'invocationType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    assert refused(lambda: lam.list_functions(MaxItems=0))[2] == (
        ONE + "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or "
        "equal to 1")
    # A map's values, as AWS answers them (test_lambda_api.snapshot.json): bounds of a double.
    assert refused(lambda: lam.update_alias(FunctionName="f", Name="live", RoutingConfig={
        "AdditionalVersionWeights": {"2": 2.0}}))[2] == (
        ONE + "Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must "
        "have value greater than or equal to 0.0, Member must not be null]")
    valid = client(emulator, "lambda")
    assert valid.list_functions(MaxItems=10000)["Functions"] == []
    assert valid.list_functions(FunctionVersion="ALL")["Functions"] == []


# --------------------------------------------------------------------------
# query protocol: ValidationError
# --------------------------------------------------------------------------


def test_iam(emulator):
    iam = unvalidated(emulator, "iam")
    assert refused(lambda: iam.create_role(RoleName="my role", AssumeRolePolicyDocument=trust())) == (
        400, "ValidationError", ONE + "Value 'my role' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    assert refused(lambda: iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=trust())) == (
        400, "ValidationError", ONE + f"Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64")
    assert refused(lambda: iam.create_role(RoleName="r")) == (400, "ValidationError", (
        ONE + "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust(),
                                           Tags=[{"Key": "team"}])) == (400, "ValidationError", (
        ONE + "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: iam.list_policies(Scope="Mine")) == (400, "ValidationError", (
        ONE + "Value 'Mine' at 'scope' failed to satisfy constraint: "
        "Member must satisfy enum value set: [All, AWS, Local]"))
    assert refused(lambda: iam.list_roles(MaxItems=1001)) == (400, "ValidationError", (
        ONE + "Value '1001' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000"))
    # Java's \w is ASCII: a letter outside it breaks the role name's pattern, not a tag's \p{L}.
    assert refused(lambda: iam.create_role(RoleName="rôle", AssumeRolePolicyDocument=trust()))[1] == (
        "ValidationError")
    valid = client(emulator, "iam")
    valid.create_role(RoleName="r" * 64, AssumeRolePolicyDocument=trust(), Description="Rôle à l'été",
                      Tags=[{"Key": "équipe", "Value": "Données 42 + x@y.z"}], MaxSessionDuration=43200)
    assert valid.list_roles(MaxItems=1000)["Roles"]


def test_sns(emulator):
    sns = unvalidated(emulator, "sns")
    topic = client(emulator, "sns").create_topic(Name="t")["TopicArn"]
    # As AWS answers it (Comcast/cmb's SNS; LocalStack's SNS snapshots for the same null checks).
    assert refused(lambda: sns.publish(TopicArn=topic)) == (400, "ValidationError", (
        ONE + "Value null at 'message' failed to satisfy constraint: Member must not be null"))
    assert refused(lambda: sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "k" * 129, "Value": "v"}])) == (
        400, "ValidationError", ONE + f"Value '{'k' * 129}' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must have length less than or equal to 128")
    assert refused(lambda: sns.list_tags_for_resource(ResourceArn="a" * 1012))[:2] == (400, "ValidationError")
    assert refused(lambda: sns.list_origination_numbers(MaxResults=31))[2] == (
        ONE + "Value '31' at 'maxResults' failed to satisfy constraint: Member must have value less than or "
        "equal to 30")
    # A phone number is sensitive: its value is left out.
    assert refused(lambda: sns.create_sms_sandbox_phone_number(PhoneNumber="+1555", LanguageCode="xx-XX"))[2] == (
        "2 validation errors detected: Value at 'phoneNumber' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^(\\+[0-9]{8,}|[0-9]{0,9})$; Value 'xx-XX' at 'languageCode' "
        "failed to satisfy constraint: Member must satisfy enum value set: "
        + enum_of("sns", "LanguageCodeString"))
    valid = client(emulator, "sns")
    valid.tag_resource(ResourceArn=topic, Tags=[{"Key": "k" * 128, "Value": ""}])
    valid.publish(TopicArn=topic, Message="hello")


def test_cloudformation(emulator):
    cfn = unvalidated(emulator, "cloudformation")
    assert refused(lambda: cfn.create_stack(TemplateBody="{}")) == (400, "ValidationError", (
        ONE + "Value null at 'stackName' failed to satisfy constraint: Member must not be null"))
    # A list of enums is reported once, at the list, with its member's constraints.
    assert refused(lambda: cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE", "DONE"])) == (
        400, "ValidationError", ONE + "Value '[CREATE_COMPLETE, DONE]' at 'stackStatusFilter' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        + enum_of("cloudformation", "StackStatus") + "]")
    assert refused(lambda: cfn.create_stack(StackName="s", TemplateBody="{}", TimeoutInMinutes=0)) == (
        400, "ValidationError", ONE + "Value '0' at 'timeoutInMinutes' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")
    assert refused(lambda: cfn.create_stack(StackName="s", TemplateBody="{}", ClientRequestToken="-t")) == (
        400, "ValidationError", ONE + "Value '-t' at 'clientRequestToken' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*")
    assert refused(lambda: cfn.create_stack(StackName="s", TemplateBody="{}", OnFailure="EXPLODE"))[2] == (
        ONE + "Value 'EXPLODE' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: "
        "[DO_NOTHING, ROLLBACK, DELETE]")
    assert refused(lambda: cfn.create_stack(StackName="s", TemplateBody="{}",
                                            StackPolicyBody="p" * 16385))[2].endswith(
        "at 'stackPolicyBody' failed to satisfy constraint: Member must have length less than or equal to 16384")
    valid = client(emulator, "cloudformation")
    assert valid.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []


# --------------------------------------------------------------------------
# EC2, SQS, S3: their own errors
# --------------------------------------------------------------------------


def test_ec2_and_sqs_answer_missing_parameter(emulator):
    ec2 = unvalidated(emulator, "ec2")
    assert refused(lambda: ec2.create_tags(Resources=["i-12345678"])) == (
        400, "MissingParameter", "The request must contain the parameter Tag")
    sqs = unvalidated(emulator, "sqs")
    url = client(emulator, "sqs").create_queue(QueueName="q")["QueueUrl"]
    assert refused(lambda: sqs.send_message(QueueUrl=url)) == (
        400, "MissingParameter", "The request must contain the parameter MessageBody.")
    # Their enums and ranges are not the model validation's: EC2 and SQS answer their own errors.
    assert client(emulator, "ec2").describe_instances(MaxResults=5)["Reservations"] == []


def test_s3_key_too_long(emulator):
    s3 = client(emulator, "s3", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="keys")
    assert refused(lambda: s3.put_object(Bucket="keys", Key="k" * 1025, Body=b"x")) == (
        400, "KeyTooLongError", "Your key is too long.")
    # 1024 bytes of UTF-8 (two-byte characters, and slashes, both URL-encoded on the wire) is the limit.
    key = ("é" * 255 + "/") * 2 + "ab"
    assert len(key.encode()) == 1024
    s3.put_object(Bucket="keys", Key=key, Body=b"x")
    assert s3.get_object(Bucket="keys", Key=key)["Body"].read() == b"x"


# --------------------------------------------------------------------------
# The walker and the Java regular expressions (unit)
# --------------------------------------------------------------------------


def check(service: str, operation: str, params: dict) -> emu_validate.Invalid | None:
    model = get_service_model(service)
    return emu_validate.validate(ParsedRequest(model, model.operation_model(operation), params))


@pytest.mark.parametrize("pattern, value, expected", [
    # Java reads a surrogate pair in a class as one code point: U+10000-U+10FFFF.
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "a😀b", True),
    ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "a\nb", False),
    # Java's \w \d \s are ASCII; \p{L} stays Unicode.
    ("[\\w+=,.@-]+", "rôle", False),
    ("\\d+", "١٢", False),
    ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", "Équipe données 42", True),
    # Java's `.` stops at every line terminator, not only \n.
    ("^.{1,256}$", "a\rb", False),
    ("(?s).*", "a\rb", True),
    # Whole-value match, as AWS's validation (IAM refuses "my role").
    ("[\\w+=,.@-]+", "my role", False),
    ("[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*", "*@da591fa3_$", False),
    # Nested classes and intersections; Java's \S inside a class is ASCII too.
    ("[\\s\\S]*\\S[\\s\\S]*", " \u00a0 ", True),
    ("[a-z&&[^b]]+", "ac", True),
    ("[a-z&&[^b]]+", "ab", False),
    ("\\A[\\p{L}\\s.|&^\\-]*\\z", "a|b&c^-d", True),
    ("\\Qa.b\\E", "axb", False),
    ("\\p{Alpha}+", "é", False),
    ("x*+y", "xxy", True),
    ("(?i)all|[0-9]{12}", "ALL", True),
])
def test_java_patterns(pattern, value, expected):
    assert emu_validate.matches(pattern, value) is expected


def test_every_pattern_of_the_services_we_call_compiles():
    services = ["athena", "cloudformation", "cloudtrail", "cloudwatch", "config", "ec2", "events", "glue", "iam",
                "kms", "lambda", "logs", "organizations", "quicksight", "s3", "sns", "sqs", "ssm", "sts"]
    for service in services:
        model = get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                assert emu_validate.java_regex(pattern) is not None, (service, name, pattern)


def test_lengths_count_as_aws_might():
    # A character outside the BMP is 1 code point and 2 UTF-16 units: a string is refused only when
    # both counts break the limit (the service may count either).
    letter = "\U0001D400"  # MATHEMATICAL BOLD CAPITAL A, a \p{L}
    assert check("iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}",
                                       "Tags": [{"Key": letter * 128, "Value": "v"}]}) is None
    assert check("iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}",
                                       "Tags": [{"Key": letter * 129, "Value": "v"}]}).code == "ValidationError"
    # min 20: 10 such letters are 20 UTF-16 units.
    assert check("iam", "CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": "{}",
                                       "PermissionsBoundary": letter * 10}) is None


def test_answers_by_service():
    assert check("logs", "GetLogEvents", {"logGroupName": "g", "logStreamName": "s", "limit": 10001}) == (
        emu_validate.Invalid(400, "InvalidParameterException", ONE + "Value '10001' at 'limit' failed to satisfy "
                             "constraint: Member must have value less than or equal to 10000"))
    assert check("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r",
                                       "RoleSessionName": "Session1:2"}) == emu_validate.Invalid(
        400, "ValidationError", ONE + "Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*")
    assert check("events", "PutTargets", {"Rule": "r", "Targets": [{"Id": "!@#$@!#$", "Arn": "arn"}]}) == (
        emu_validate.Invalid(400, "ValidationException", ONE + "Value '!@#$@!#$' at 'targets.1.member.id' failed "
                             "to satisfy constraint: Member must satisfy regular expression pattern: "
                             "[\\.\\-_A-Za-z0-9]+"))
    # A map of structures: '<map>.<key>.member.<field>' (LocalStack's SNS snapshot).
    assert check("sns", "Publish", {"Message": "m", "MessageAttributes": {"attr1": {"StringValue": "v"}}}) == (
        emu_validate.Invalid(400, "ValidationError", ONE + "Value null at 'messageAttributes.attr1.member."
                             "dataType' failed to satisfy constraint: Member must not be null"))
    # S3's model is not S3's validation: only the key length is checked.
    assert check("s3", "PutObject", {"Bucket": "b", "Key": "k", "StorageClass": "NOPE"}) is None
    # EC2: required members only, by their wire names.
    assert check("ec2", "CreateTags", {"Resources": ["i-1"], "Tags": [{"Key": "k" * 1000}]}) is None
    # A query-string list the parser reads as [] when absent is not a present empty list.
    assert check("lambda", "ListFunctions", {"MaxItems": 10}) is None


def test_refusals_are_logged_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "refusals.jsonl"
    monkeypatch.setenv("EMULATOR_VALIDATION_LOG", str(log))
    assert check("sns", "Publish", {}) is not None
    assert check("sns", "Publish", {"Message": "m"}) is None
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"service": "sns", "operation": "Publish", "code": "ValidationError",
         "message": ONE + "Value null at 'message' failed to satisfy constraint: Member must not be null"}]


def test_every_region_and_account_is_validated(emulator):
    other = client(emulator, "ssm", region="eu-west-1", parameter_validation=False)
    assert refused(lambda: other.describe_instance_information(MaxResults=51))[:2] == (400, "ValidationException")
