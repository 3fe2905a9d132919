"""The monitoring role (issue 16) against the local cluster, which serves the real Prometheus Operator
v0.93.0 CRDs (tools/localcluster/crds/prometheus-operator/) and runs no operator or Prometheus.

- site.yml applies the PodMonitors, the PrometheusRule, the dashboard ConfigMap and the scrape
  NetworkPolicy, each accepted by the API server's schema validation, with the inventory's labels;
  the pods' Dapr metrics annotations match the scraped port; a second run reports changed=0;
- with the CRDs removed, monitoring_mode auto deploys without monitoring and says so once, and
  monitoring_mode enabled is refused by preflight with every resourceVersion unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, run_playbook, wait_for

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "tools" / "localcluster" / "crds" / "prometheus-operator"
NAMESPACE = "erp-it-monitoring"
SERVICES = ["gateway", "finance", "inventory", "sales", "procurement", "production", "identity", "reporting"]
MONITORING = {"monitoring_labels": {"release": "kube-prometheus-stack"}}
SAID_ONCE = "monitoring_mode is auto and the cluster does not serve monitoring.coreos.com/v1"
# Every kind the collection writes into the namespace, for "nothing changed".
KINDS = "deployments,statefulsets,services,configmaps,networkpolicies,ingresses,poddisruptionbudgets,components.dapr.io"


def run_site(kubeconfig: str, inventory: Path, **extra) -> PlaybookRun:
    return run_playbook("site.yml", inventory, {"erp_namespace": NAMESPACE, **MONITORING, **extra}, kubeconfig=kubeconfig)


def items(kubectl, kind: str) -> list[dict]:
    out = kubectl("-n", NAMESPACE, "get", kind, "-l", "app.kubernetes.io/managed-by=erp.platform", "-o", "json").stdout
    return json.loads(out)["items"]


def resource_versions(kubectl) -> dict[str, str]:
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items(kubectl, KINDS)}


@pytest.fixture(scope="module")
def deployed(kubeconfig, kubectl, inventory):
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s")
    result = run_site(kubeconfig, inventory)
    assert result.returncode == 0, result.tail()
    return result


def test_the_monitors_rule_dashboard_and_policy_are_applied_with_the_inventorys_labels(deployed, kubectl):
    monitors = {m["metadata"]["name"]: m for m in items(kubectl, "podmonitors.monitoring.coreos.com")}
    assert set(monitors) == {"erp-dapr-sidecars"} | {f"{s}-service" for s in SERVICES}
    for monitor in monitors.values():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitors["erp-dapr-sidecars"]["spec"]["podMetricsEndpoints"] == [{"port": "dapr-metrics", "path": "/"}]
    assert monitors["finance-service"]["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics"}]
    assert monitors["finance-service"]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "finance", "app.kubernetes.io/instance": "erp"}

    (rule,) = items(kubectl, "prometheusrules.monitoring.coreos.com")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "ErpPodNotReady", "ErpPodCrashLooping", "ErpReplicasBelowDesired", "ErpRolloutStuck", "ErpHighErrorRate",
        "ErpHighLatency", "ErpCpuThrottling", "ErpMemoryNearLimit", "ErpDatastoreDown", "ErpVolumeFillingUp",
    }  # fmt: skip
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] in ("warning", "critical"), name
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"]), name
        assert alert["annotations"]["runbook_url"].endswith(f"docs/runbook.md#{name.lower()}")
        assert f'namespace="{NAMESPACE}"' in alert["expr"], name
        heading = f"## {name}\n"
        assert heading in (REPO / "docs" / "runbook.md").read_text(), f"docs/runbook.md has no section {name}"

    dashboard = next(c for c in items(kubectl, "configmaps") if c["metadata"]["name"] == "erp-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    panels = json.loads(dashboard["data"]["erp-system.json"])["panels"]
    assert len(panels) == 7
    assert all(target["expr"] for panel in panels for target in panel["targets"])

    policy = next(p for p in items(kubectl, "networkpolicies") if p["metadata"]["name"] == "erp-prometheus-scrape")
    (rule_in,) = policy["spec"]["ingress"]
    assert {p["port"] for p in rule_in["ports"]} == {8080, 9090}
    assert rule_in["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]


def test_the_pods_open_the_sidecar_metrics_port_that_is_scraped(deployed, kubectl):
    pods = [p for p in items(kubectl, "pods") if p["metadata"]["labels"].get("app.kubernetes.io/name") == "finance"]
    assert pods
    for pod in pods:
        annotations = pod["metadata"]["annotations"]
        assert annotations["dapr.io/enable-metrics"] == "true"
        assert annotations["dapr.io/metrics-port"] == "9090"
        assert annotations["dapr.io/log-as-json"] == "false"
        daprd = next(c for c in pod["spec"]["containers"] if c["name"] == "daprd")
        assert {"name": "dapr-metrics", "containerPort": 9090, "protocol": "TCP"} in daprd["ports"]


def test_a_second_run_with_monitoring_changes_nothing(deployed, kubeconfig, inventory):
    result = run_site(kubeconfig, inventory)
    assert result.returncode == 0, result.tail()
    assert result.recap["changed"] == 0, result.changed_tasks


@pytest.fixture
def without_monitoring_crds(kubectl):
    """The Prometheus Operator's CRDs removed for one test, then put back as cluster.sh applies them."""
    kubectl("delete", "-f", str(CRDS), "--wait=true", "--timeout=120s")
    # Discovery drops the group a moment after the CRDs are gone.
    group = "monitoring.coreos.com"
    wait_for(lambda: not kubectl("api-resources", f"--api-group={group}", "-o", "name").stdout.strip(), f"discovery without {group}", timeout=60, interval=0.5)
    try:
        yield
    finally:
        kubectl("apply", "--server-side", "-f", str(CRDS))
        for crd in ("servicemonitors", "podmonitors", "prometheusrules"):
            kubectl("wait", "--for", "condition=Established", "--timeout", "60s", f"crd/{crd}.monitoring.coreos.com")
        wait_for(lambda: kubectl("api-resources", "--api-group=monitoring.coreos.com", "-o", "name").stdout.count("monitoring.coreos.com") == 3,
                 "discovery of monitoring.coreos.com", timeout=60, interval=0.5)  # fmt: skip


def test_without_the_crds_auto_deploys_without_monitoring_and_enabled_is_refused(deployed, without_monitoring_crds, kubeconfig, kubectl, inventory):
    auto = run_site(kubeconfig, inventory)
    assert auto.returncode == 0, auto.tail()
    assert auto.stdout.count(SAID_ONCE) == 1, auto.stdout[-6000:]
    names = {f"{i['kind']}/{i['metadata']['name']}" for i in items(kubectl, "configmaps,networkpolicies")}
    assert "ConfigMap/erp-dashboard" not in names
    assert "NetworkPolicy/erp-prometheus-scrape" not in names
    assert "ConfigMap/erp-config" in names

    before = resource_versions(kubectl)
    enabled = run_site(kubeconfig, inventory, monitoring_mode="enabled")
    assert enabled.returncode != 0, enabled.tail()
    assert "Traceback" not in enabled.output
    assert enabled.failed_task.startswith("erp.platform.preflight"), enabled.failed_task
    for text in ("CRD podmonitors.monitoring.coreos.com (monitoring_mode is enabled)", "prometheusrules.monitoring.coreos.com"):
        assert text in enabled.failure_text, enabled.failure_text
    assert resource_versions(kubectl) == before
