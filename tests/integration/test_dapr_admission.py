"""The product on a Dapr cluster: the daprd sidecar under Pod Security, and pods refused by admission.

The local cluster injects daprd the way Dapr v1.16.19's injector does (tools/localcluster, helper
tests/integration/dapr_injector.py switches SIDECAR_DROP_ALL_CAPABILITIES). With drop-ALL on the
whole system deploys under `restricted`; with Dapr's default (off) preflight refuses before anything is
applied; told to let it through (preflight_dapr_injector=skip), the verification fails fast with Pod
Security's reason. A ResourceQuota that forbids the pods fails fast naming the quota, and a crash
loop's kubelet Warning events appear in the failure message of a Deployment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.erp.platform.tests.integration.dapr_injector import injected_sidecar
from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, failed_task, failure_text, recap, run_playbook
from ansible_collections.erp.platform.tests.integration.test_rollout_health import apply, deployment, run_module

REPO = Path(__file__).resolve().parents[2]
VERIFY_TASK = "erp.platform.verify : Wait until everything this instance deployed is healthy"
# Kinds whose objects change on their own (heartbeats, leader leases, events): left out of the snapshot.
RESTLESS = {"events", "events.events.k8s.io", "leases.coordination.k8s.io", "nodes", "componentstatuses"}


def run_site(kubeconfig: str, namespace: str, extra: dict | None = None) -> PlaybookRun:
    """site.yml on the local inventory into ``namespace``, with extra variables."""
    return run_playbook("site.yml", "inventories/local", dict({"erp_namespace": namespace}, **(extra or {})), kubeconfig=kubeconfig)


def settle(kubectl) -> None:
    """Wait (kubectl wait watches) until no namespace an earlier test deleted is still finalizing, and no volume it
    released is still being deleted: the namespace controller and kwok change those whatever this test does."""
    namespaces = json.loads(kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    for name in [ns["metadata"]["name"] for ns in namespaces if ns["metadata"].get("deletionTimestamp")]:
        kubectl("wait", "--for=delete", f"namespace/{name}", "--timeout=180s", check=False)
    volumes = json.loads(kubectl("get", "persistentvolumes", "-o", "json").stdout)["items"]
    for name in [pv["metadata"]["name"] for pv in volumes if (pv.get("status") or {}).get("phase") == "Released"]:
        kubectl("wait", "--for=delete", f"persistentvolume/{name}", "--timeout=180s", check=False)


def cluster_snapshot(kubectl) -> dict[str, str]:
    """kind/namespace/name -> resourceVersion of every object the API lists (RESTLESS kinds left out)."""
    kinds = kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    listing = json.loads(kubectl("get", ",".join(k for k in kinds if k not in RESTLESS), "-A", "-o", "json").stdout)
    return {
        "{}/{}/{}".format(item["kind"], item["metadata"].get("namespace", ""), item["metadata"]["name"]): item["metadata"]["resourceVersion"]
        for item in listing["items"]
    }


def delete_namespace(kubectl, name: str) -> None:
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)


@pytest.fixture
def fresh_namespace(kubectl, request):
    """A namespace name site.yml creates (it does not exist before); deleted afterwards, waiting until it is
    gone, so that no namespace is still terminating (and changing) when the next test takes its snapshot."""
    name = "erp-it-" + re.sub(r"[^a-z0-9-]", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    delete_namespace(kubectl, name)
    yield name
    delete_namespace(kubectl, name)


def test_with_drop_all_the_system_deploys_and_every_daprd_is_admitted_under_restricted(kubeconfig, kubectl, fresh_namespace):
    assert (injected_sidecar(kubectl).get("securityContext") or {}).get("capabilities", {}).get("drop") == ["ALL"]
    result = run_site(kubeconfig, fresh_namespace)
    assert result.returncode == 0, f"site.yml failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert recap(result)["failed"] == 0

    labels = json.loads(kubectl("get", "namespace", fresh_namespace, "-o", "json").stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    deployments = json.loads(kubectl("-n", fresh_namespace, "get", "deployments", "-o", "json").stdout)["items"]
    dapr_apps = [d for d in deployments if (d["spec"]["template"]["metadata"].get("annotations") or {}).get("dapr.io/enabled") == "true"]
    assert len(dapr_apps) == 8, [d["metadata"]["name"] for d in deployments]
    pods = json.loads(kubectl("-n", fresh_namespace, "get", "pods", "-o", "json").stdout)["items"]
    for app in dapr_apps:
        selector = app["spec"]["selector"]["matchLabels"]
        own = [p for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())]
        assert len(own) == app["spec"]["replicas"], f"{app['metadata']['name']}: {len(own)} pods"
        for pod in own:
            daprd = [c for c in pod["spec"]["containers"] if c["name"] == "daprd"]
            assert daprd, f"pod {pod['metadata']['name']} has no daprd container"
            context = daprd[0].get("securityContext") or {}
            assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{pod['metadata']['name']}: {context}"
            assert context.get("allowPrivilegeEscalation") is False
            statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
            assert statuses.get("daprd", {}).get("ready") is True, f"{pod['metadata']['name']}: daprd not ready"


@pytest.mark.usefixtures("dapr_drop_all_off")
def test_without_drop_all_preflight_refuses_and_nothing_changes(kubeconfig, kubectl, fresh_namespace):
    settle(kubectl)
    before = cluster_snapshot(kubectl)
    result = run_site(kubeconfig, fresh_namespace)
    assert result.returncode != 0, result.stdout[-4000:]
    assert failed_task(result) == "erp.platform.preflight : Check the cluster's prerequisites"
    message = failure_text(result)
    assert "the Dapr sidecar injector (Deployment dapr-sidecar-injector in namespace dapr-system) adds a daprd container" in message
    assert 'SIDECAR_DROP_ALL_CAPABILITIES="false": daprd gets no capabilities.drop [ALL]' in message
    assert "dapr_sidecar_injector.sidecarDropALLCapabilities=true" in message
    assert "namespace_pod_security_enforce=baseline" in message
    assert "preflight_dapr_injector=drops-all" in message
    assert "Traceback" not in result.stdout + result.stderr
    assert kubectl("get", "namespace", fresh_namespace, check=False).returncode != 0, "the namespace was created"
    after = cluster_snapshot(kubectl)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}, "the refused run changed the cluster"
    assert set(before) == set(after)


@pytest.mark.usefixtures("dapr_drop_all_off")
def test_without_drop_all_baseline_is_accepted_by_preflight(kubeconfig, kubectl, fresh_namespace):
    """The second supported combination: Dapr's default injector with the namespace at baseline (preflight only)."""
    variables = {"erp_namespace": fresh_namespace, "namespace_pod_security_enforce": "baseline"}
    result = run_playbook("site.yml", "inventories/local", variables, kubeconfig=kubeconfig, tags="preflight", timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert recap(result)["changed"] == 0


@pytest.mark.usefixtures("dapr_drop_all_off")
def test_without_drop_all_skip_fails_fast_in_verification_naming_pod_security(kubeconfig, kubectl, fresh_namespace):
    result = run_site(kubeconfig, fresh_namespace, {"preflight_dapr_injector": "skip"})
    assert result.returncode != 0, result.stdout[-4000:]
    assert failed_task(result) == VERIFY_TASK, failure_text(result)[:3000]
    message = failure_text(result)
    assert f"rollout failed in namespace {fresh_namespace}" in message, message[:3000]
    assert "timed out" not in message
    assert "progress deadline" not in message
    assert "cannot create pods (FailedCreate by PodSecurity): " in message
    assert 'violates PodSecurity "restricted:latest"' in message
    assert 'unrestricted capabilities (container "daprd" must set securityContext.capabilities.drop=["ALL"])' in message


def test_a_quota_that_forbids_the_pods_fails_fast_naming_the_quota(kubeconfig, kubectl, fresh_namespace):
    result = run_site(kubeconfig, fresh_namespace, {"namespace_resource_quota": {"pods": "0"}, "verify_unschedulable_grace": 10})
    assert result.returncode != 0, result.stdout[-4000:]
    assert failed_task(result) == VERIFY_TASK, failure_text(result)[:3000]
    message = failure_text(result)
    assert f"rollout failed in namespace {fresh_namespace}" in message, message[:3000]
    assert "timed out" not in message
    # The datastores' StatefulSets are applied first, so their pods' refusal may pass the grace first: either
    # kind of controller may be the one named, always with the quota's own words.
    named = r"(ReplicaSet [\w-]+ cannot create pods|StatefulSet (postgres|redis) cannot create pod (postgres|redis)-0)"
    assert re.search(named + r" \(FailedCreate by ResourceQuota\): ", message), message[:3000]
    assert "exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0" in message


def test_crashloop_warning_events_appear_in_the_failure_message_of_a_deployment(kubectl, kubeconfig, namespace):
    apply(kubectl, namespace, deployment("billing", replicas=1, fault="crashloop"))
    result = run_module(kubeconfig, namespace, names=["Deployment/billing"], timeout=180, check_services=False, check_dapr_components=False)
    assert result["failed"] is True
    assert result["outcome"] == "failed"
    assert "container billing: CrashLoopBackOff" in result["msg"]
    events = re.search(r"\[events: ([^\]]*)\]", result["msg"])
    assert events, result["msg"]
    assert "BackOff: Back-off restarting failed container billing" in events.group(1)
    failed = next(r for r in result["resources"] if r["kind"] == "Deployment" and r["name"] == "billing")
    assert any(line.startswith("BackOff: ") for line in failed["events"])
