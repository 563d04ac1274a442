"""The emulator answers every service our code calls in the protocol the locked botocore speaks.

botocore's service models change protocols between patch releases (1.44.18 moved Athena from `json`
to `rest-json`), and moto routes each service by the protocol its code was written against: a
protocol moto does not serve turns every call of that service into a 404. This test makes one read
call per service through boto3 (the locked botocore's model) and fails with the model's protocol and
what to do, instead of a suite of unexplained 404s.

    .venv/bin/python -m pytest tests/emulator/test_protocols.py -q
"""

from __future__ import annotations

import botocore
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, client

# One read call per service that our functions (the Rust SDK crates in Cargo.toml), the deployment
# tool, the demo or the tests call. A call may fail with an error its operation's model declares
# (Organizations without an organization): that error came through the service's routes.
CALLS = [
    ("athena", "list_work_groups", {}),
    ("cloudformation", "list_stacks", {}),
    ("cloudtrail", "list_event_data_stores", {}),
    ("cloudwatch", "list_metrics", {}),
    ("config", "describe_configuration_recorders", {}),
    ("ec2", "describe_instances", {}),
    ("events", "list_rules", {}),
    ("glue", "get_databases", {}),
    ("iam", "list_roles", {}),
    ("kms", "list_keys", {}),
    ("lambda", "list_functions", {}),
    ("logs", "describe_log_groups", {}),
    ("organizations", "describe_organization", {}),
    ("quicksight", "list_data_sources", {"AwsAccountId": ACCOUNT}),
    ("s3", "list_buckets", {}),
    ("sns", "list_topics", {}),
    ("sqs", "list_queues", {}),
    ("ssm", "describe_instance_information", {}),
    ("sts", "get_caller_identity", {}),
]


@pytest.mark.parametrize(("service", "method", "params"), CALLS, ids=[c[0] for c in CALLS])
def test_every_service_we_call_is_routed_in_the_locked_botocores_protocol(emulator, service, method,
                                                                          params):
    api = client(emulator, service)
    model = api.meta.service_model
    operation = model.operation_model(api.meta.method_to_api_mapping[method])
    declared = {shape.error_code or shape.name for shape in operation.error_shapes}
    try:
        getattr(api, method)(**params)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert code in declared, (
            f"{service}.{operation.name} answered HTTP {status} {code!r}, an error its model does not "
            f"declare: botocore {botocore.__version__}'s {service} model speaks {model.protocol!r}, "
            "which the emulator may not route. Lock a botocore whose model moto serves, or serve the "
            "new protocol in the emulator (requirements.in explains the botocore pin)."
        )
