"""The shared input rules: each rule accepts what Kubernetes accepts and names the variable when it refuses."""

from __future__ import annotations

import pytest

from ansible_collections.erp.platform.plugins.module_utils.input_rules import RULES, InputRuleError, problems


def check(rule, value, var="v", **extra):
    return problems([{"var": var, "value": value, "rule": rule, **extra}])


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        ("dns_label", ["erp-system", "a", "a" * 63], ["ERP", "-a", "a-", "a.b", "a" * 64, "", 5, None]),
        ("dns_subdomain", ["erp-ingress", "a.b.c", "db.example.com"], ["A.b", "a..b", "a_b", "", "a" * 254]),
        ("host", ["", "erp.example.com", "*.example.com"], ["Bad_Host", "*", "a..b", 7]),
        ("label_value", ["erp", "erp_1.x", "A"], ["", "-a", "a" * 64, "a b"]),
        ("data_key", ["Key_1.x-y"], ["a b", "", "a/b"]),
        ("quantity", ["500m", "2", 2, 0.5, "256Mi", "10Gi", "1e3"], ["lots", "ten gigs", True, -1, "-1", "1 Gi", None, "1e9999999"]),
        ("probe_seconds", [1, "5", 30], [0, -10, "0", "x", True, 1.5, None]),
        ("seconds", [0, 60, "0"], [-1, "x", True]),
        ("positive_seconds", [1, 600], [0, -5, "x"]),
        ("positive_count", [1, 10, "3"], [0, -1, "x", True, 1.5, None]),
        ("port", [1, 5432, 65535, "6379"], [0, 65536, 70000, "x", True]),
        ("pg_identifier", ["erpdb", "_x1"], ["1db", "a-b", "", None]),
        ("pinned_tag", ["1.0.0", 16], ["latest", "", None]),
        ("digest", ["", None, "sha256:" + "a" * 64], ["sha256:abc", "md5:" + "a" * 32]),
        ("rolling_count", [0, 1, "25%", "1"], ["lots", "-1", -1, "1.5"]),
        ("pod_security_version", ["latest", "v1.34"], ["1.34", "v2.0", ""]),
        ("http_path", ["/", "/metrics", "/api/reports"], ["metrics", "/a b", "//x", "/a//b", "", None, 5]),
        (
            "http_url",
            ["", "http://prometheus-operated.monitoring.svc:9090", "https://prom.example.com/prometheus"],
            ["prometheus:9090", "ftp://x", "http://", "http://a b", None, 5],
        ),
        ("duration", ["30s", "5m", "1h30m", "500ms", "2d"], ["0m", "5", "5 m", "m", "", 5, None, "1.5m"]),
        ("regex", ["change[-_ ]?me", "^(x+)$", ""], ["(unclosed", "[a-", "*x", None, 5, "a{4294967296}"]),
        ("unreserved_label_keys", [{}, {"team": "erp", "example.com/tier": "1"}], [{"app.kubernetes.io/instance": "other"}, ["x"], None]),
        (
            "requests_within_limits",
            [
                {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}},
                {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}},
                {"requests": {"cpu": "lots"}, "limits": {"cpu": "1"}},
                {},
            ],
            [
                {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}},
                {"requests": {"cpu": 0.5}, "limits": {"cpu": "100m"}},
                {"requests": ["cpu"]},
                "2",
            ],
        ),
    ],
)
def test_rule_accepts_and_refuses(rule, good, bad):
    for value in good:
        assert check(rule, value) == [], (rule, value)
    for value in bad:
        assert len(check(rule, value)) == 1, (rule, value)


def test_every_rule_is_covered_above():
    assert set(RULES) == {
        "dns_label",
        "dns_subdomain",
        "duration",
        "host",
        "http_path",
        "http_url",
        "label_value",
        "data_key",
        "quantity",
        "probe_seconds",
        "seconds",
        "positive_seconds",
        "positive_count",
        "port",
        "pg_identifier",
        "pinned_tag",
        "digest",
        "rolling_count",
        "pod_security_version",
        "regex",
        "requests_within_limits",
        "unreserved_label_keys",
    }


def test_a_problem_names_the_variable_the_value_and_what_is_allowed():
    assert check("dns_label", "ERP_System", var="erp_namespace") == [
        'erp_namespace: got "ERP_System"; allowed: a DNS-1123 label (lowercase letters, digits and '
        "'-', starting and ending with a letter or digit, at most 63 characters)"
    ]


def test_each_checks_every_leaf_and_names_its_path():
    found = problems([{"var": "res", "value": {"requests": {"cpu": "lots", "memory": "1Gi"}, "limits": {"cpu": "x"}}, "rule": "quantity", "each": True}])
    assert [problem.split(";")[0] for problem in found] == ['res.requests.cpu: got "lots"', 'res.limits.cpu: got "x"']


def test_each_on_a_non_mapping_is_a_problem_not_a_crash():
    assert check("probe_seconds", [1, 2], each=True) == ["v: got [1, 2]; allowed: a mapping whose values are " + RULES["probe_seconds"][1]]


@pytest.mark.parametrize("bad", [{"var": "v", "value": 1, "rule": "nope"}, {"value": 1, "rule": "quantity"}, "v"])
def test_a_malformed_check_is_a_caller_defect(bad):
    with pytest.raises(InputRuleError):
        problems([bad])
