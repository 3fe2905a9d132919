"""The filters erp.platform.metric_verdict and metric_query_url: thin wrappers with AnsibleFilterError instead of tracebacks."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.metric_gate import FilterModule

FILTERS = FilterModule().filters()
GATE = {"query": 'max(rate(errors_total{job="finance-service"}[5m]))', "max": 0.05, "min": None, "no_data": "fail"}


def vector(value):
    body = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"pod": "x"}, "value": [1796131838.214, value]}]}}
    return {"status": 200, "msg": "OK (118 bytes)", "json": body, "url": "http://127.0.0.1:9090/api/v1/query?query=x"}


def test_filters_are_registered():
    assert set(FILTERS) == {"metric_verdict", "metric_query_url"}


def test_metric_verdict_judges_the_registered_uri_result():
    assert FILTERS["metric_verdict"](vector("0.01"), GATE)["verdict"] == "pass"
    result = FILTERS["metric_verdict"](vector("0.12"), GATE)
    assert (result["passed"], result["verdict"], result["value"]) == (False, "threshold", 0.12)
    assert result["reason"] == f'{GATE["query"]}: 0.12 above the maximum 0.05 for {{pod="x"}}; 1 of 1 series outside'


def test_metric_verdict_of_a_refused_connection_is_unreachable():
    refused = {
        "status": -1,
        "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>",
        "url": "http://127.0.0.1:9",
    }
    assert FILTERS["metric_verdict"](refused, GATE)["verdict"] == "unreachable"


@pytest.mark.parametrize(("response", "gate"), [(None, GATE), ("200 OK", GATE), ([], GATE), (vector("0.01"), None), (vector("0.01"), "up > 0")])
def test_metric_verdict_refuses_wrong_types(response, gate):
    with pytest.raises(AnsibleFilterError, match=r"erp\.platform\.metric_verdict: expected the registered result"):
        FILTERS["metric_verdict"](response, gate)


def test_metric_query_url_builds_the_get_url():
    assert FILTERS["metric_query_url"]("http://prometheus:9090/", 'up{job=~"a|b"}') == "http://prometheus:9090/api/v1/query?query=up%7Bjob%3D~%22a%7Cb%22%7D"


@pytest.mark.parametrize(
    ("base_url", "query", "says"), [(None, "up", "expected"), ("http://p:9090", ["up"], "expected"), ("", "up", "base_url"), ("http://p:9090", " ", "query")]
)
def test_metric_query_url_refuses_wrong_input(base_url, query, says):
    with pytest.raises(AnsibleFilterError, match=rf"erp\.platform\.metric_query_url: .*{says}"):
        FILTERS["metric_query_url"](base_url, query)
