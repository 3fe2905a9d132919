"""The module's interface: documentation and argument_spec agree, defaults are documented."""

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erp.platform.plugins.module_utils import k8s_module
from ansible_collections.erp.platform.plugins.module_utils import rollout_status as rs
from ansible_collections.erp.platform.plugins.modules import rollout_health


def test_documented_options_match_argument_spec():
    doc = yaml.safe_load(rollout_health.DOCUMENTATION)
    spec = rollout_health.argument_spec()
    own = {name: value for name, value in spec.items() if name not in k8s_module.AUTH_ARG_SPEC}
    assert set(doc["options"]) == set(own)
    for name, option in doc["options"].items():
        assert option.get("type", "str") == own[name].get("type", "str"), name
        assert option.get("default") == own[name].get("default"), name
        assert option.get("choices") == own[name].get("choices"), name
        assert bool(option.get("required")) == bool(own[name].get("required")), name


def test_auth_options_come_from_kubernetes_core():
    spec = rollout_health.argument_spec()
    for name in ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "impersonate_user"):
        assert name in spec
    assert "kubernetes.core.k8s_auth_options" in yaml.safe_load(rollout_health.DOCUMENTATION)["extends_documentation_fragment"]


def test_examples_and_return_are_valid_yaml():
    examples = yaml.safe_load(rollout_health.EXAMPLES)
    assert all("erp.platform.rollout_health" in task or "ansible.builtin.debug" in task for task in examples)
    returned = yaml.safe_load(rollout_health.RETURN)
    assert {"outcome", "elapsed", "resources", "summary", "summary_lines", "rolled_back", "rollback_elapsed"} <= set(returned)


def test_hold_is_documented_for_canary_steps_with_its_bounds():
    doc = yaml.safe_load(rollout_health.DOCUMENTATION)["options"]["hold"]
    text = " ".join(doc["description"])
    assert (doc["type"], doc["default"]) == ("int", 0)
    for words in ("canary", "O(timeout)", "O(fail_fast)", "failed during the hold of N s after H s healthy", "RV(held)"):
        assert words in text
    held = yaml.safe_load(rollout_health.RETURN)["held"]
    assert (held["type"], held["returned"]) == ("float", "always")


def run_module(args, capsys):
    with patch_module_args(dict(args, _ansible_check_mode=False)), pytest.raises(SystemExit) as exited:
        rollout_health.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exited.value.code
    return result


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"hold": 300}, "hold: got 300; allowed: 0 or more and less than timeout (300), since the hold must end within the timeout"),
        ({"hold": 90, "timeout": 60}, "hold: got 90; allowed: 0 or more and less than timeout (60), since the hold must end within the timeout"),
        ({"hold": -1}, "hold: got -1; allowed: 0 or more and less than timeout (300), since the hold must end within the timeout"),
    ],
)
def test_hold_outside_zero_to_timeout_is_refused_before_connecting(monkeypatch, capsys, args, msg):
    monkeypatch.setattr(rollout_health, "connect_or_fail", lambda module: pytest.fail("connected"))
    result = run_module(dict(args, namespace="erp-system"), capsys)
    assert (result["rc"], result["failed"], result["msg"]) == (1, True, msg)


def verdict(kind, name, status, message="", seconds=None, fault=None):
    return {
        "kind": kind,
        "name": name,
        "status": status,
        "image": None,
        "message": message,
        "failed_at": None,
        "ready": None,
        "desired": None,
        "seconds_to_ready": seconds,
        "revision": None,
        "fault": fault,
        "terminal": False,
    }


class FakeWatch:
    """RolloutWatch with a given outcome; records the options it was given."""

    outcome = None
    options = None  # a list per test (the fixture watched)

    def __init__(self, api_client, namespace, selection, options, since=None):
        FakeWatch.options.append(options)

    def run(self, timeout):
        return dict(FakeWatch.outcome, caches={}, message=None)


@pytest.fixture
def watched(monkeypatch):
    """The module with a fake watch; returns what mark_verified and roll_back were given."""
    seen = {"marked": [], "rollback_options": []}
    FakeWatch.options = []
    monkeypatch.setattr(rollout_health, "connect_or_fail", lambda module: object())
    monkeypatch.setattr(rollout_health, "RolloutWatch", FakeWatch)

    def mark_verified(api_client, namespace, outcome):
        seen["marked"].append([(v["kind"], v["name"]) for v in outcome["verdicts"] if v["status"] == rs.CURRENT])
        return [], []

    def roll_back(api_client, namespace, candidates, options, timeout, check_mode=False):
        seen["rollback_options"].append(options)
        return []

    monkeypatch.setattr(rollout_health, "mark_verified", mark_verified)
    monkeypatch.setattr(rollout_health, "roll_back", roll_back)
    return seen


def test_hold_healthy_reports_held_and_marks_what_held(watched, capsys):
    FakeWatch.outcome = {
        "outcome": "healthy",
        "verdicts": [verdict("Deployment", "finance-service", rs.CURRENT, seconds=2.0), verdict("Service", "finance-service", rs.CURRENT, seconds=2.5)],
        "elapsed": 32.5,
        "held": 30.004,
        "hold_began": 2.5,
    }
    result = run_module({"namespace": "erp-system", "hold": 30}, capsys)
    assert (result["rc"], result["outcome"], result["held"]) == (0, "healthy", 30.0)
    assert result["summary_lines"][0] == "all 2 resources are Current after 32.5s and held Current for 30.0 s (hold 30 s)"
    assert FakeWatch.options[0]["hold"] == 30
    assert watched["marked"] == [[("Deployment", "finance-service"), ("Service", "finance-service")]]


def test_hold_zero_returns_held_zero_and_the_usual_wording(watched, capsys):
    FakeWatch.outcome = {
        "outcome": "healthy",
        "verdicts": [verdict("Deployment", "finance-service", rs.CURRENT, seconds=0.0)],
        "elapsed": 0.4,
        "held": 0.0,
        "hold_began": None,
    }
    result = run_module({"namespace": "erp-system"}, capsys)
    assert (result["rc"], result["held"], result["summary_lines"][0]) == (0, 0.0, "all 1 resources are Current after 0.4s")
    assert FakeWatch.options[0]["hold"] == 0


def test_hold_failure_says_it_failed_during_the_hold_and_the_rollback_verification_does_not_hold(watched, capsys):
    crash = "pod finance-service-7c9d8f6b5-x2x7q container finance: CrashLoopBackOff (back-off 20s restarting failed container)"
    FakeWatch.outcome = {
        "outcome": "failed",
        "verdicts": [verdict("Deployment", "finance-service", rs.FAILED, crash), verdict("Service", "finance-service", rs.CURRENT, seconds=1.0)],
        "elapsed": 12.04,
        "held": 7.0,
        "hold_began": 5.04,
    }
    result = run_module({"namespace": "erp-system", "hold": 60, "rollback": True}, capsys)
    assert (result["rc"], result["outcome"], result["held"]) == (1, "failed", 7.0)
    assert result["msg"].startswith(
        "rollout failed during the hold of 60 s after 7.0 s healthy, in namespace erp-system after 12.0s: Deployment/finance-service Failed: " + crash
    )
    assert result["summary_lines"][0].startswith("1 of 2 resources are Current after 12.0s; failed during the hold of 60 s after 7.0 s healthy; blocking:")
    assert len(watched["rollback_options"]) == 1
    assert "hold" not in watched["rollback_options"][0]
    assert watched["marked"] == [[]], "nothing was Current for the hold (the Service for 11 s): nothing is marked"


def test_hold_not_completed_by_the_timeout_is_a_timeout_that_says_so(watched, capsys):
    FakeWatch.outcome = {
        "outcome": "timeout",
        "verdicts": [verdict("Deployment", "finance-service", rs.CURRENT, seconds=40.0), verdict("Deployment", "sales-service", rs.CURRENT, seconds=2.0)],
        "elapsed": 60.01,
        "held": 20.01,
        "hold_began": 2.0,
    }
    result = run_module({"namespace": "erp-system", "hold": 30, "timeout": 60}, capsys)
    assert (result["rc"], result["outcome"], result["held"]) == (1, "timeout", 20.01)
    assert result["msg"] == "timed out after 60s in namespace erp-system; the hold of 30 s was not completed after 20.0 s healthy"
    assert watched["marked"] == [[("Deployment", "sales-service")]], "only what was Current for the hold is marked verified"
