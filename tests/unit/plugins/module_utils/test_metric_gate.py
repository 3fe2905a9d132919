"""Unit tests of plugins/module_utils/metric_gate.py: one clear verdict per answer Prometheus (or its absence) gives.

The responses in prometheus/*.json are what ansible.builtin.uri registers; each file's ``source`` says where its
body's shape comes from (the Prometheus HTTP API docs) and how the uri result was recorded.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.erp.platform.plugins.module_utils.metric_gate import VERDICTS, query_url, verdict

RECORDED = Path(__file__).resolve().parent / "prometheus"
CANARY = '{pod="finance-service-canary-6c4b9d7f8-r5tlm"}'
STABLE = '{pod="finance-service-7d9f8c6b5-x2kqp"}'


def recorded(name):
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))["response"]


def asked(response):
    """The query the recorded request asked, read back from its URL."""
    return parse_qs(urlsplit(response["url"]).query)["query"][0]


def gate(response, **bounds):
    return {"query": asked(response), "max": None, "min": None, "no_data": "fail", **bounds}


def with_values(name, *values):
    """The recorded vector with its samples' values replaced, in order."""
    response = copy.deepcopy(recorded(name))
    for sample, value in zip(response["json"]["data"]["result"], values, strict=True):
        sample["value"][1] = value
    return response


def test_every_recording_names_its_source_and_holds_a_uri_result():
    names = sorted(path.stem for path in RECORDED.glob("*.json"))
    assert names == sorted(
        ["vector_pass", "vector_threshold", "vector_empty", "vector_nan", "scalar", "matrix", "bad_data_400", "timeout_503", "html_login_200", "unreachable"]
    )
    for name in names:
        document = json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))
        assert set(document) == {"source", "response"}
        assert document["source"]
        assert {"status", "msg", "url"} <= set(document["response"])
        assert urlsplit(document["response"]["url"]).hostname == "127.0.0.1"


def test_every_sample_within_the_maximum_passes_and_names_the_worst():
    response = recorded("vector_pass")
    result = verdict(gate(response, max=0.05), response)
    assert result["passed"] is True
    assert result["verdict"] == "pass"
    assert result["value"] == 0.0231
    assert result["series"] == 3
    assert asked(response) in result["reason"]
    assert "0.0231" in result["reason"]
    assert "the maximum 0.05" in result["reason"]
    assert CANARY in result["reason"]


def test_a_sample_above_the_maximum_fails_naming_its_labels_value_and_the_threshold():
    response = recorded("vector_threshold")
    result = verdict(gate(response, max=0.05), response)
    assert result["passed"] is False
    assert result["verdict"] == "threshold"
    assert result["value"] == 0.12
    assert result["series"] == 3
    assert result["reason"] == f"{asked(response)}: 0.12 above the maximum 0.05 for {CANARY}; 1 of 3 series outside"


def test_several_samples_outside_name_the_worst_first_and_the_others_after():
    response = with_values("vector_threshold", "0.07", "0.004", "0.12")
    result = verdict(gate(response, max=0.05), response)
    assert result["verdict"] == "threshold"
    assert result["value"] == 0.12
    reason = result["reason"]
    assert reason.index(f"0.12 above the maximum 0.05 for {CANARY}") < reason.index(f"0.07 for {STABLE}")
    assert "2 of 3 series outside" in reason
    assert "0.004" not in reason


def test_a_value_equal_to_the_maximum_passes():
    response = with_values("vector_threshold", "0.003", "0.0041", "0.05")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"], result["value"]) == (True, "pass", 0.05)


def test_a_minimum_fails_the_lowest_sample():
    response = recorded("vector_pass")
    result = verdict(gate(response, min=0.002), response)
    assert (result["passed"], result["verdict"], result["value"]) == (False, "threshold", 0.0012)
    assert f"0.0012 below the minimum 0.002 for {STABLE}" in result["reason"]


@pytest.mark.parametrize(
    ("values", "passed", "worst", "says"),
    [
        (("0.5", "0.6", "0.9"), True, 0.9, "within the range 0.2 to 1"),
        (("0.5", "0.21", "0.9"), True, 0.21, "worst 0.21"),
        (("0.5", "0.6", "1.5"), False, 1.5, "1.5 above the maximum 1"),
        (("0.1", "0.6", "0.9"), False, 0.1, "0.1 below the minimum 0.2"),
        (("0.1", "0.6", "3"), False, 3.0, "3 above the maximum 1"),
    ],
)
def test_both_bounds_make_a_range_and_the_worst_sample_is_the_one_furthest_out(values, passed, worst, says):
    response = with_values("vector_threshold", *values)
    result = verdict(gate(response, min=0.2, max=1), response)
    assert result["passed"] is passed
    assert result["verdict"] == ("pass" if passed else "threshold")
    assert result["value"] == worst
    assert says in result["reason"]


def test_an_empty_result_is_no_data_and_not_a_pass():
    response = recorded("vector_empty")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"], result["value"], result["series"]) == (False, "no_data", None, 0)
    assert asked(response) in result["reason"]
    assert "no data" in result["reason"]
    assert "the maximum 0.05" in result["reason"]


def test_an_empty_result_passes_when_the_gate_says_so_and_the_reason_says_why():
    response = recorded("vector_empty")
    result = verdict(gate(response, max=0.05, no_data="pass"), response)
    assert (result["passed"], result["verdict"], result["value"], result["series"]) == (True, "no_data", None, 0)
    assert "no_data is pass" in result["reason"]


def test_a_scalar_result_is_one_sample():
    response = recorded("scalar")
    assert verdict(gate(response, max=0.05), response) == {
        "passed": True,
        "verdict": "pass",
        "value": 0.0031,
        "series": 1,
        "reason": f"{asked(response)}: 0.0031 within the maximum 0.05 for the scalar result",
    }
    result = verdict(gate(response, max=0.001), response)
    assert (result["passed"], result["verdict"], result["value"]) == (False, "threshold", 0.0031)
    assert "0.0031 above the maximum 0.001 for the scalar result" in result["reason"]


def test_a_matrix_is_refused_because_a_gate_needs_an_instant_value():
    response = recorded("matrix")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"], result["value"]) == (False, "error", None)
    assert asked(response) in result["reason"]
    assert "matrix" in result["reason"]
    assert "instant value" in result["reason"]


def test_nan_never_passes():
    response = recorded("vector_nan")
    for bounds in ({"max": 0.05}, {"min": 0}, {"min": 0, "max": 1}):
        result = verdict(gate(response, **bounds), response)
        assert (result["passed"], result["verdict"], result["series"]) == (False, "threshold", 2)
        assert math.isnan(result["value"])
        assert f"NaN for {CANARY}" in result["reason"]
        assert "never passes the" in result["reason"]


@pytest.mark.parametrize(
    ("value", "bounds", "passed"),
    [
        ("+Inf", {"max": 0.05}, False),
        ("+Inf", {"min": 0}, True),
        ("-Inf", {"min": 0}, False),
        ("-Inf", {"max": 0.05}, True),
        ("+Inf", {"min": 0, "max": 1}, False),
        ("-Inf", {"min": 0, "max": 1}, False),
    ],
)
def test_infinities_fail_the_bound_they_cross(value, bounds, passed):
    response = with_values("vector_nan", "0.01", value)
    result = verdict(gate(response, **bounds), response)
    assert result["passed"] is passed
    if not passed:
        assert result["verdict"] == "threshold"
        assert result["value"] == float(value)
        assert f"{value} {'above' if value == '+Inf' else 'below'} the" in result["reason"]
        assert CANARY in result["reason"]


def test_prometheus_error_body_is_an_error_quoting_its_type_and_message():
    response = recorded("bad_data_400")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"], result["value"], result["series"]) == (False, "error", None, 0)
    assert result["reason"] == (
        f'{asked(response)}: Prometheus answered HTTP 400, bad_data: invalid parameter "query": 1:57: parse error: unclosed left parenthesis'
    )


def test_a_query_timeout_is_an_error_quoting_its_type_and_message():
    response = recorded("timeout_503")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"]) == (False, "error")
    assert "HTTP 503, timeout: query timed out in expression evaluation" in result["reason"]


def test_the_error_body_is_read_from_content_when_uri_did_not_parse_it():
    response = copy.deepcopy(recorded("bad_data_400"))
    del response["json"]
    result = verdict(gate(response, max=0.05), response)
    assert result["verdict"] == "error"
    assert "bad_data: invalid parameter" in result["reason"]


def test_a_200_that_is_not_the_prometheus_format_is_an_error():
    response = recorded("html_login_200")
    result = verdict(gate(response, max=0.05), response)
    assert (result["passed"], result["verdict"], result["value"]) == (False, "error", None)
    assert "not a Prometheus API answer (text/html; charset=utf-8)" in result["reason"]
    assert "<title>Sign In</title>" in result["reason"]
    assert "\n" not in result["reason"]
    assert "http://127.0.0.1:19090/api/v1/query " in result["reason"]


def test_an_http_error_without_a_prometheus_body_is_an_error():
    response = {"status": 502, "msg": "HTTP Error 502: Bad Gateway", "content": "", "url": "http://prometheus:9090/api/v1/query?query=up"}
    result = verdict({"query": "up", "min": 1}, response)
    assert (result["passed"], result["verdict"]) == (False, "error")
    assert result["reason"] == "up: HTTP 502 from http://prometheus:9090/api/v1/query: HTTP Error 502: Bad Gateway"


def test_a_refused_connection_is_unreachable():
    response = recorded("unreachable")
    result = verdict({"query": "up", "min": 1}, response)
    assert (result["passed"], result["verdict"], result["value"], result["series"]) == (False, "unreachable", None, 0)
    assert result["reason"] == "up: Prometheus unreachable at http://127.0.0.1:9/api/v1/query: Request failed: <urlopen error [Errno 111] Connection refused>"


@pytest.mark.parametrize("response", [{}, {"msg": "no status"}, {"status": None}, {"skipped": True, "skip_reason": "Conditional result was False"}])
def test_no_answer_at_all_is_never_a_pass(response):
    result = verdict({"query": "up", "min": 1}, response)
    assert result["passed"] is False
    assert result["verdict"] in {"unreachable", "error"}
    assert result["reason"].startswith("up: ")


@pytest.mark.parametrize(
    ("bad_gate", "says"),
    [
        ({"query": "up"}, "neither max nor min"),
        ({"query": "up", "max": "lots"}, "max: got 'lots'"),
        ({"query": "up", "min": 2, "max": 1}, "min 2 is above its max 1"),
    ],
)
def test_a_gate_without_a_usable_threshold_is_an_error_not_a_pass(bad_gate, says):
    response = recorded("vector_pass")
    result = verdict(bad_gate, response)
    assert (result["passed"], result["verdict"]) == (False, "error")
    assert says in result["reason"]


def test_missing_gate_keys_read_as_none_and_fail():
    response = recorded("vector_empty")
    result = verdict({"max": 0.05}, response)
    assert (result["passed"], result["verdict"]) == (False, "no_data")
    assert verdict({}, {})["verdict"] == "error"


def test_a_histogram_sample_or_a_value_that_is_no_number_is_an_error():
    response = copy.deepcopy(recorded("vector_pass"))
    sample = response["json"]["data"]["result"][0]
    sample["histogram"] = [sample.pop("value")[0], {"count": "3", "sum": "0.6", "buckets": [[0, "0.1", "0.2", "3"]]}]
    result = verdict(gate(response, max=1), response)
    assert (result["verdict"], result["passed"]) == ("error", False)
    assert "native histogram" in result["reason"]
    assert STABLE in result["reason"]
    response = with_values("vector_pass", "0.001", "many", "0.002")
    result = verdict(gate(response, max=1), response)
    assert (result["verdict"], result["passed"]) == ("error", False)
    assert "'many'" in result["reason"]


def test_warnings_are_quoted_in_the_reason():
    response = copy.deepcopy(recorded("vector_pass"))
    response["json"]["warnings"] = ["PromQL info: metric might not be a counter"]
    result = verdict(gate(response, max=0.05), response)
    assert result["verdict"] == "pass"
    assert "Prometheus warned: PromQL info: metric might not be a counter" in result["reason"]


def test_every_result_has_the_same_keys_and_a_known_verdict():
    for path in RECORDED.glob("*.json"):
        response = json.loads(path.read_text(encoding="utf-8"))["response"]
        result = verdict({"query": "up", "max": 0.05}, response)
        assert set(result) == {"passed", "verdict", "value", "series", "reason"}, path.name
        assert result["verdict"] in VERDICTS, path.name
        assert result["passed"] is (result["verdict"] == "pass"), path.name
        assert "\n" not in result["reason"], path.name


def test_query_url_encodes_the_query_and_drops_trailing_slashes():
    query = 'sum(rate(http_requests_total{job="finance-service",code=~"5.."}[5m])) > 0'
    url = query_url("http://prometheus.monitoring:9090/", query)
    assert url == (
        "http://prometheus.monitoring:9090/api/v1/query?query="
        "sum%28rate%28http_requests_total%7Bjob%3D%22finance-service%22%2Ccode%3D~%225..%22%7D%5B5m%5D%29%29%20%3E%200"
    )
    assert parse_qs(urlsplit(url).query)["query"] == [query]
    assert query_url("http://127.0.0.1:9090/prometheus//", "a+b / c & d") == "http://127.0.0.1:9090/prometheus/api/v1/query?query=a%2Bb%20%2F%20c%20%26%20d"


def test_query_url_builds_the_recorded_urls():
    for name in ("vector_pass", "bad_data_400", "matrix"):
        response = recorded(name)
        assert query_url("http://127.0.0.1:19090", asked(response)) == response["url"]


@pytest.mark.parametrize(("base_url", "query"), [("", "up"), (None, "up"), ("http://prometheus:9090", ""), ("http://prometheus:9090", 5)])
def test_query_url_refuses_an_empty_url_or_query(base_url, query):
    with pytest.raises(ValueError, match=r"base_url|query"):
        query_url(base_url, query)
