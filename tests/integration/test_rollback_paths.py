"""playbooks/rollback.yml goes to the last healthy revision (rollout_health's verified mark) and verifies it.

The case k8s_rollback (exactly N-1) got wrong: v1 healthy, v2 never healthy (crashloop, run with
verify_rollback false so it stays), v3 healthy; rolling back from v3 must skip v2 and restore v1.
And the ordinary case: v1 healthy, v2 healthy, rollback -> v1.
"""

from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import REPO, deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-rollback"
FAULT = "fault.erp.test/mode"
VERIFIED = "erp.platform/verified"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory, kubectl):
    deleted_namespace(kubectl, NAMESPACE)
    target = tmp_path_factory.mktemp("inventory") / "local"
    shutil.copytree(REPO / "inventories" / "local", target, symlinks=True)
    return target


def site(kubeconfig, inventory, finance):
    extra = {"erp_namespace": NAMESPACE, "verify_rollback": False, "erp_services": {"finance": finance}}
    return run_playbook("site.yml", inventory, extra, kubeconfig=kubeconfig)


def finance(kubectl):
    dep = json.loads(kubectl("-n", NAMESPACE, "get", "deployment", "finance-service", "-o", "json").stdout)
    template = dep["spec"]["template"]
    env = {e["name"]: e.get("value") for c in template["spec"]["containers"] if c["name"] == "finance" for e in c.get("env") or []}
    return dep, env, template["metadata"].get("annotations") or {}


def rollback(kubeconfig, inventory):
    return run_playbook("playbooks/rollback.yml", inventory, {"erp_namespace": NAMESPACE, "rollback_services": ["finance"]}, kubeconfig=kubeconfig)


def test_rollback_skips_a_revision_that_never_became_healthy(kubeconfig, inventory, kubectl):
    v1 = site(kubeconfig, inventory, {"env": {"ROLLBACK_PATH": "v1"}})
    assert v1.rc == 0, v1.tail()
    v2 = site(kubeconfig, inventory, {"env": {"ROLLBACK_PATH": "v2"}, "pod_annotations": {FAULT: "crashloop"}})
    assert v2.rc != 0, v2.tail()
    assert "CrashLoopBackOff" in v2.output, v2.tail()
    v3 = site(kubeconfig, inventory, {"env": {"ROLLBACK_PATH": "v3"}})
    assert v3.rc == 0, v3.tail()
    replicasets = json.loads(kubectl("-n", NAMESPACE, "get", "rs", "-l", "app.kubernetes.io/name=finance", "-o", "json").stdout)["items"]
    marks = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: VERIFIED in rs["metadata"]["annotations"] for rs in replicasets}
    assert marks == {"1": True, "2": False, "3": True}, marks

    result = rollback(kubeconfig, inventory)
    assert result.rc == 0, result.tail()
    dep, env, annotations = finance(kubectl)
    assert env.get("ROLLBACK_PATH") == "v1"
    assert FAULT not in annotations
    assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]


def test_rollback_after_two_healthy_revisions_goes_to_the_previous_one(kubeconfig, inventory, kubectl):
    for version in ("a1", "a2"):
        run = site(kubeconfig, inventory, {"env": {"ROLLBACK_PATH": version}})
        assert run.rc == 0, run.tail()
    result = rollback(kubeconfig, inventory)
    assert result.rc == 0, result.tail()
    _dep, env, _annotations = finance(kubectl)
    assert env.get("ROLLBACK_PATH") == "a1"
