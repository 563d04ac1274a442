"""AWS Config extensions on top of moto 5.2.5.

moto's recorders, delivery channels and their errors match AWS closely enough (one customer
managed recorder per account and Region, ``MaxNumberOfConfigurationRecordersExceededException``, a
delivery channel needs a recorder, ``LastDeliveryChannelDeleteFailedException`` while recording,
``NoSuchConfigurationRecorderException``). One difference matters to our templates:

* ``PutConfigRule`` succeeds without any recorder. AWS refuses it: "NoAvailableConfigurationRecorder
  Exception: There are no customer managed configuration recorders available to record your
  resources. Use the PutConfigurationRecorder operation to create the customer managed
  configuration recorder." (AWS Config API Reference, PutConfigRule, Errors.) That is the failure
  a StackSet instance meets in an account without a recorder, so the emulator reproduces it.
  Service-linked recorders (name prefix ``AWSConfigurationRecorderFor``) do not count.
"""

from __future__ import annotations

from moto.config.responses import ConfigResponse
from moto.core.exceptions import JsonRESTError

SERVICE_LINKED_PREFIX = "AWSConfigurationRecorderFor"

_orig_put_config_rule = ConfigResponse.put_config_rule


def put_config_rule(self: ConfigResponse) -> str:
    customer_managed = [name for name in self.config_backend.recorders
                        if not name.startswith(SERVICE_LINKED_PREFIX)]
    if not customer_managed:
        raise JsonRESTError(
            "NoAvailableConfigurationRecorderException",
            "There are no customer managed configuration recorders available to record your "
            "resources. Use the PutConfigurationRecorder operation to create the customer managed "
            "configuration recorder.")
    return _orig_put_config_rule(self)


def install() -> None:
    ConfigResponse.put_config_rule = put_config_rule
