"""erp.platform.apply_objects against the real API server, called as Ansible calls it.

Each test runs the module through `ansible localhost -m` (JSON output) in a fresh namespace:
created / unchanged / configured with resourceVersions read back, a server-side dry run
under --check, a rejected object named with the server's reason, and a prune that deletes
only the labelled objects that are not kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.erp.platform.tests.integration import playbook_run

REPO = Path(__file__).resolve().parents[2]
LABELS = {"app.kubernetes.io/managed-by": "erp.platform", "app.kubernetes.io/component": "apitest"}
# the objects the tests apply; kube-root-ca.crt, which kube-controller-manager adds to each new namespace when it gets to it, is not one
SELECTOR = "app.kubernetes.io/component=apitest"


def run_module(kubeconfig: str, args: dict, *flags: str) -> tuple[int, dict, str]:
    return playbook_run.run_module("erp.platform.apply_objects", args, *flags, kubeconfig=kubeconfig, timeout=300)


def config_map(namespace: str, name: str, value: str, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS, **{"app.kubernetes.io/name": name}) if labels is None else labels},
        "data": {"value": value},
    }


def deployment(namespace: str, name: str, replicas: int = 0) -> dict:
    match = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS, **match)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {"metadata": {"labels": match}, "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}},
        },
    }


def our_writes(kubectl, namespace: str) -> dict[str, object]:
    """kind/name -> what shows a write by the module's field manager.

    A ConfigMap's resourceVersion: nothing else writes them. A Deployment's resourceVersion also
    moves when kube-controller-manager writes its status and revision annotation, which it does
    after the first apply at a time the test does not control (CI saw it between two reads), so
    for it: metadata.generation and the erp.platform entries of metadata.managedFields.
    """
    listing = json.loads(kubectl("get", "configmaps,deployments", "-n", namespace, "-l", SELECTOR, "--show-managed-fields", "-o", "json").stdout)
    writes = {}
    for item in listing["items"]:
        meta = item["metadata"]
        if item["kind"] == "ConfigMap":
            writes[f"ConfigMap/{meta['name']}"] = meta["resourceVersion"]
        else:
            ours = [entry for entry in meta.get("managedFields", []) if entry["manager"] == "erp.platform"]
            writes[f"{item['kind']}/{meta['name']}"] = (meta["generation"], ours)
    return writes


def actions(result: dict) -> dict[str, int]:
    return {action: count for action, count in result["counts"].items() if count}


def test_created_then_unchanged_then_configured(kubeconfig, kubectl, namespace):
    objects = [config_map(namespace, f"cm{i:02d}", "one") for i in range(30)] + [deployment(namespace, "web")]
    rc, first, log = run_module(kubeconfig, {"objects": objects})
    assert rc == 0, log
    assert first["changed"] is True
    assert actions(first) == {"created": 31}
    assert [item["name"] for item in first["objects"]] == [obj["metadata"]["name"] for obj in objects]
    versions = our_writes(kubectl, namespace)
    assert len(versions) == len(objects)
    assert versions["Deployment/web"][1], "no managedFields entry of the erp.platform field manager"

    rc, second, log = run_module(kubeconfig, {"objects": objects})
    assert rc == 0, log
    assert second["changed"] is False
    assert actions(second) == {"unchanged": 31}
    assert our_writes(kubectl, namespace) == versions

    objects[7] = config_map(namespace, "cm07", "two")
    rc, third, log = run_module(kubeconfig, {"objects": objects})
    assert rc == 0, log
    assert actions(third) == {"configured": 1, "unchanged": 30}
    assert [item["name"] for item in third["objects"] if item["action"] == "configured"] == ["cm07"]
    changed = {key for key, version in our_writes(kubectl, namespace).items() if versions.get(key) != version}
    assert changed == {"ConfigMap/cm07"}


def test_check_mode_reports_and_changes_nothing(kubeconfig, kubectl, namespace):
    rc, _result, log = run_module(kubeconfig, {"objects": [config_map(namespace, "settings", "one")]})
    assert rc == 0, log
    versions = our_writes(kubectl, namespace)
    rc, checked, log = run_module(kubeconfig, {"objects": [config_map(namespace, "settings", "two")]}, "--check", "--diff")
    assert rc == 0, log
    assert checked["changed"] is True
    assert actions(checked) == {"configured": 1}
    assert "value: two" in checked["diff"][0]["after"]
    assert "value: one" in checked["diff"][0]["before"]
    assert our_writes(kubectl, namespace) == versions
    data = json.loads(kubectl("get", "configmap", "settings", "-n", namespace, "-o", "json").stdout)["data"]
    assert data == {"value": "one"}


def test_rejected_object_is_named_with_the_servers_reason(kubeconfig, kubectl, namespace):
    objects = [config_map(namespace, "first", "one"), deployment(namespace, "bad", replicas=-1), config_map(namespace, "after", "x")]
    rc, result, log = run_module(kubeconfig, {"objects": objects})
    assert rc != 0
    assert result["failed"] is True
    assert f"Deployment/bad in namespace {namespace}: 422 Unprocessable Entity" in result["msg"]
    assert "spec.replicas" in result["msg"]
    assert "Traceback" not in log
    assert [(item["name"], item["action"]) for item in result["objects"]] == [("first", "created")]
    names = set(kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split())
    assert "configmap/first" in names
    assert "configmap/after" not in names


def test_prune_deletes_only_labelled_objects_not_kept(kubeconfig, kubectl, namespace):
    objects = [config_map(namespace, name, "v") for name in ("keep-me", "applied", "stale")]
    objects.append(config_map(namespace, "foreign", "v", labels={"app.kubernetes.io/name": "foreign"}))
    rc, _result, log = run_module(kubeconfig, {"objects": objects})
    assert rc == 0, log
    prune = {
        "namespace": namespace,
        "selector": "app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/component=apitest",
        "keep": ["keep-me"],
        "kinds": [{"api_version": "v1", "kind": "ConfigMap"}],
    }
    rc, checked, log = run_module(kubeconfig, {"objects": [objects[1]], "prune": [prune]}, "--check")
    assert rc == 0, log
    assert [(item["name"], item["action"]) for item in checked["objects"]] == [("applied", "unchanged"), ("stale", "deleted")]
    assert "configmap/stale" in kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split()

    rc, pruned, log = run_module(kubeconfig, {"objects": [objects[1]], "prune": [prune]})
    assert rc == 0, log
    assert pruned["changed"] is True
    assert [(item["name"], item["action"]) for item in pruned["objects"]] == [("applied", "unchanged"), ("stale", "deleted")]
    names = set(kubectl("get", "configmaps", "-n", namespace, "-o", "name").stdout.split())
    assert {"configmap/keep-me", "configmap/applied", "configmap/foreign"} <= names
    assert "configmap/stale" not in names

    rc, again, log = run_module(kubeconfig, {"objects": [objects[1]], "prune": [prune]})
    assert rc == 0, log
    assert again["changed"] is False
