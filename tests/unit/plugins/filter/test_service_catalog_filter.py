"""The filter plugin is a thin wrapper: registered names, AnsibleFilterError instead of tracebacks."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.service_catalog import FilterModule

FILTERS = FilterModule().filters()


def test_filters_are_registered():
    assert set(FILTERS) == {"service_catalog", "ingress_routes"}


def test_service_catalog_filter_returns_entries():
    entries = FILTERS["service_catalog"]([{"name": "gateway", "ingress_paths": ["/"]}], {"ledger": {}}, tag="1.0.0")
    assert [entry["name"] for entry in entries] == ["gateway", "ledger"]
    assert FILTERS["ingress_routes"](entries) == [{"path": "/", "service": "gateway", "service_name": "gateway-service"}]


def test_service_catalog_filter_raises_ansible_error():
    with pytest.raises(AnsibleFilterError, match=r"Invalid service catalog: erp_services\.gateway\.replicas: got -1"):
        FILTERS["service_catalog"]([{"name": "gateway"}], {"gateway": {"replicas": -1}}, tag="1.0.0")


def test_ingress_routes_filter_raises_ansible_error():
    with pytest.raises(AnsibleFilterError, match="Invalid ingress routes: erp_service_catalog: got"):
        FILTERS["ingress_routes"]({"not": "a list"})
