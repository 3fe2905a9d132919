"""The Dapr filters are thin wrappers: registered names, plain data, AnsibleFilterError instead of tracebacks."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.dapr_inputs import FilterModule

FILTERS = FilterModule().filters()
INPUTS = {
    "http_port": 3500,
    "grpc_port": 50001,
    "services": [{"name": "finance", "app_id": "finance-service", "service_name": "finance-service", "port": 8080}],
    "components": {"lock": {"type": "lock.redis"}},
    "pubsub": {"name": "pubsub"},
    "statestore": {"name": "statestore"},
    "redis_host": "redis-service:6379",
    "redis_secret": {"name": "erp-secrets", "key": "REDIS_PASSWORD"},
}


def test_filters_are_registered():
    assert set(FILTERS) == {"dapr_inputs", "dapr_input_problems"}


def test_dapr_inputs_returns_the_components():
    result = FILTERS["dapr_inputs"](INPUTS)
    assert [component["name"] for component in result["components"]] == ["pubsub", "statestore", "lock"]
    assert FILTERS["dapr_input_problems"](INPUTS) == []


def test_dapr_inputs_raises_ansible_error_with_every_problem():
    with pytest.raises(AnsibleFilterError, match=r'^Invalid Dapr inputs: config_dapr_http_port: got 1; .*; dapr_components.lock.type: got "x"'):
        FILTERS["dapr_inputs"]({**INPUTS, "http_port": 1, "components": {"lock": {"type": "x"}}})
    assert len(FILTERS["dapr_input_problems"]({**INPUTS, "http_port": 1, "components": {"lock": {"type": "x"}}})) == 2


@pytest.mark.parametrize("name", ["dapr_inputs", "dapr_input_problems"])
def test_not_a_mapping_is_an_ansible_error(name):
    with pytest.raises(AnsibleFilterError, match=f"erp.platform.{name} expects a mapping, got list"):
        FILTERS[name]([])
