"""The service layer (services and ingress) against the local cluster, issue 5's "Done when".

One namespace of its own and a copy of inventories/local (so inventory changes stay in the test):
- a full `site.yml` deploys everything; every Deployment reaches its replicas Ready, every Service has
  ready endpoints, the Ingress routes are those of SYSTEM.md; a second run reports changed=0;
- changing one config key rolls every service Deployment and changes no other object;
- a ninth service added only in the inventory deploys, is routed and is in the config;
- disabling sales removes its objects and references, re-enabling restores them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, changed_tasks, recap, run_playbook, wait_for

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-it-services"
SERVICES = ["gateway", "finance", "inventory", "sales", "procurement", "production", "identity", "reporting"]
REPLICAS = {"gateway": 2, "finance": 2, "inventory": 2, "sales": 2, "procurement": 1, "production": 1, "identity": 2, "reporting": 1}
SERVICE_KINDS = "deployments,services,serviceaccounts,poddisruptionbudgets,horizontalpodautoscalers,networkpolicies"
# Every object kind the collection manages in the namespace, for "nothing else changed".
MANAGED_KINDS = SERVICE_KINDS + ",configmaps,secrets,statefulsets,ingresses,components.dapr.io"
SELECTOR = "app.kubernetes.io/managed-by=erp.platform"
# The system's objects: the release records aside (a run that changes something adds one; test_releases.py tests them).
SYSTEM_SELECTOR = SELECTOR + ",app.kubernetes.io/component!=release"


def set_inventory_services(inventory: Path, services: dict) -> None:
    """Write erp_services into the inventory copy (a group_vars file of its own)."""
    path = inventory / "group_vars" / "erp" / "zz_test_services.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n" + yaml.safe_dump({"erp_services": services}, sort_keys=False))


def run_site(kubeconfig: str, inventory: Path, *args: str) -> PlaybookRun:
    return run_playbook("site.yml", inventory, {"erp_namespace": NAMESPACE}, args=args, kubeconfig=kubeconfig)


def assert_ok(result: PlaybookRun, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout[-8000:]}\n{result.stderr[-3000:]}"


def get_json(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-n", NAMESPACE, "-o", "json").stdout)


def deployments_ready(kubectl, names: list[str]) -> bool:
    items = {item["metadata"]["name"]: item for item in get_json(kubectl, "deployments", "-l", SELECTOR)["items"]}
    for name in names:
        item = items.get(f"{name}-service")
        if item is None:
            return False
        status, spec = item.get("status", {}), item["spec"]
        if status.get("observedGeneration") != item["metadata"]["generation"]:
            return False
        if status.get("readyReplicas", 0) != spec["replicas"] or status.get("updatedReplicas", 0) != spec["replicas"]:
            return False
        if status.get("replicas", 0) != spec["replicas"]:
            return False
    return True


def ready_endpoints(kubectl, service: str) -> int:
    slices = get_json(kubectl, "endpointslices", "-l", f"kubernetes.io/service-name={service}")["items"]
    return sum(1 for item in slices for endpoint in item.get("endpoints") or [] if endpoint.get("conditions", {}).get("ready"))


def managed_state(kubectl) -> dict[str, dict]:
    """kind/name -> the object minus server bookkeeping and status: what a run may have changed."""
    state = {}
    for item in get_json(kubectl, MANAGED_KINDS, "-l", SYSTEM_SELECTOR)["items"]:
        metadata = {key: value for key, value in item["metadata"].items() if key in ("labels", "annotations")}
        # The Deployment controller counts revisions in an annotation of its own.
        metadata.get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
        body = {key: value for key, value in item.items() if key not in ("metadata", "status")}
        state[f"{item['kind']}/{item['metadata']['name']}"] = {"metadata": metadata, **body}
    return state


def service_objects(kubectl, name: str) -> list[str]:
    listing = get_json(kubectl, SERVICE_KINDS, "-l", f"{SELECTOR},app.kubernetes.io/name={name}")
    return sorted(f"{item['kind']}/{item['metadata']['name']}" for item in listing["items"])


def ingress_routes(kubectl) -> dict[str, str]:
    ingress = get_json(kubectl, "ingress", "erp-ingress")
    routes = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            routes[path["path"]] = f"{backend['name']}:{backend['port'].get('number', backend['port'].get('name'))}"
            assert path["pathType"] == "Prefix"
    return routes


@pytest.fixture(scope="module")
def deployed(kubeconfig, kubectl, inventory):
    """The first full deploy; the namespace is deleted after the module."""
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)
    result = run_site(kubeconfig, inventory)
    assert_ok(result, "full deploy")
    wait_for(lambda: deployments_ready(kubectl, SERVICES), "every service Deployment Ready")
    yield result
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_every_deployment_reaches_its_replicas(deployed, kubectl):
    items = {item["metadata"]["name"]: item for item in get_json(kubectl, "deployments", "-l", f"{SELECTOR},app.kubernetes.io/component=service")["items"]}
    assert sorted(items) == sorted(f"{name}-service" for name in SERVICES)
    for name, replicas in REPLICAS.items():
        item = items[f"{name}-service"]
        assert item["spec"]["replicas"] == replicas, name
        assert item["status"]["readyReplicas"] == replicas, name


def test_a_full_deploy_prints_no_warning(deployed):
    """A plain run warns of nothing, deprecations included (a strategy plugin outside ansible.builtin made every run warn)."""
    warnings = [line for line in deployed.output.splitlines() if "WARNING]" in line]
    assert warnings == [], warnings


def test_deployments_follow_the_contract(deployed, kubectl):
    for item in get_json(kubectl, "deployments", "-l", f"{SELECTOR},app.kubernetes.io/component=service")["items"]:
        name = item["metadata"]["labels"]["app.kubernetes.io/name"]
        spec = item["spec"]
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": "erp"}
        assert container["image"] == f"docker.io/erp-system/{name}:1.0.0"
        assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert [source.get("configMapRef", source.get("secretRef"))["name"] for source in container["envFrom"]] == ["erp-config", "erp-secrets"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert "startupProbe" in container
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == f"{name}-service"
        annotations = spec["template"]["metadata"]["annotations"]
        assert annotations["dapr.io/app-id"] == f"{name}-service"
        assert annotations["dapr.io/app-port"] == "8080"
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["erp.platform/config-checksum"])


def test_every_service_has_ready_endpoints(deployed, kubectl):
    for name in SERVICES:
        count = wait_for(lambda name=name: ready_endpoints(kubectl, f"{name}-service"), f"ready endpoints of {name}-service", timeout=120)
        assert count == REPLICAS[name], name


def test_pdbs_only_for_two_replicas_or_more(deployed, kubectl):
    names = sorted(item["metadata"]["name"] for item in get_json(kubectl, "poddisruptionbudgets", "-l", SELECTOR)["items"])
    assert names == sorted(f"{name}-service" for name, replicas in REPLICAS.items() if replicas >= 2)


def test_ingress_routes_match_system_md(deployed, kubectl):
    assert ingress_routes(kubectl) == {"/": "gateway-service:80", "/api/dashboard": "reporting-service:80", "/api/reports": "reporting-service:80"}
    ingress = get_json(kubectl, "ingress", "erp-ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "erp.example.com"
    annotations = ingress["metadata"].get("annotations", {})
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "50m"
    assert not any("rewrite-target" in key for key in annotations)


def test_second_run_changes_nothing(deployed, kubeconfig, inventory):
    result = run_site(kubeconfig, inventory)
    assert_ok(result, "second run")
    assert recap(result)["changed"] == 0, "changed tasks:\n" + "\n".join(changed_tasks(result))


def test_config_key_change_rolls_only_the_pods(deployed, kubeconfig, kubectl, inventory):
    before = managed_state(kubectl)
    generations = {item["metadata"]["name"]: item["metadata"]["generation"] for item in get_json(kubectl, "deployments", "-l", SELECTOR)["items"]}
    try:
        result = run_site(kubeconfig, inventory, "-e", "config_aspnetcore_environment=Staging")
        assert_ok(result, "config change")
        after = managed_state(kubectl)
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        expected = ["ConfigMap/erp-config"] + [f"Deployment/{name}-service" for name in SERVICES]
        assert changed == sorted(expected)
        for name in SERVICES:
            old, new = before[f"Deployment/{name}-service"], after[f"Deployment/{name}-service"]
            old_annotations = old["spec"]["template"]["metadata"]["annotations"]
            new_annotations = new["spec"]["template"]["metadata"]["annotations"]
            assert old_annotations["erp.platform/config-checksum"] != new_annotations["erp.platform/config-checksum"]
            old["spec"]["template"]["metadata"]["annotations"].pop("erp.platform/config-checksum")
            new["spec"]["template"]["metadata"]["annotations"].pop("erp.platform/config-checksum")
            assert old == new, f"{name}: more than the checksum changed"
        wait_for(lambda: deployments_ready(kubectl, SERVICES), "rolled Deployments Ready")
        rolled = {item["metadata"]["name"]: item["metadata"]["generation"] for item in get_json(kubectl, "deployments", "-l", SELECTOR)["items"]}
        assert all(rolled[f"{name}-service"] == generations[f"{name}-service"] + 1 for name in SERVICES)
    finally:
        assert_ok(run_site(kubeconfig, inventory), "restore the config")


def test_ninth_service_from_inventory_only(deployed, kubeconfig, kubectl, inventory):
    set_inventory_services(inventory, {"ledger": {"ingress_paths": ["/api/ledger"]}})
    try:
        result = run_site(kubeconfig, inventory)
        assert_ok(result, "deploy with ledger")
        wait_for(lambda: deployments_ready(kubectl, ["ledger"]), "ledger Ready")
        assert service_objects(kubectl, "ledger") == [
            "Deployment/ledger-service",
            "NetworkPolicy/ledger-service",
            "Service/ledger-service",
            "ServiceAccount/ledger-service",
        ]
        assert ingress_routes(kubectl)["/api/ledger"] == "ledger-service:80"
        assert get_json(kubectl, "configmap", "erp-config")["data"]["ServiceUrls__Ledger"] == "http://ledger-service"
        scopes = {item["metadata"]["name"]: item.get("scopes", []) for item in get_json(kubectl, "components.dapr.io")["items"]}
        assert all("ledger-service" in value for value in scopes.values()), scopes
        wait_for(lambda: ready_endpoints(kubectl, "ledger-service"), "ledger endpoints", timeout=120)
    finally:
        set_inventory_services(inventory, {})
    result = run_site(kubeconfig, inventory)
    assert_ok(result, "remove ledger")
    assert service_objects(kubectl, "ledger") == []
    assert "/api/ledger" not in ingress_routes(kubectl)


def test_disable_and_reenable_sales(deployed, kubeconfig, kubectl, inventory):
    full = service_objects(kubectl, "sales")
    assert len(full) == 5  # Deployment, Service, ServiceAccount, PDB, NetworkPolicy
    set_inventory_services(inventory, {"sales": {"enabled": False}})
    try:
        assert_ok(run_site(kubeconfig, inventory), "disable sales")
        assert service_objects(kubectl, "sales") == []
        assert "ServiceUrls__Sales" not in get_json(kubectl, "configmap", "erp-config")["data"]
        for item in get_json(kubectl, "components.dapr.io")["items"]:
            assert "sales-service" not in item.get("scopes", [])
        # The other services are still there and ready.
        assert deployments_ready(kubectl, [name for name in SERVICES if name != "sales"])
    finally:
        set_inventory_services(inventory, {})
    assert_ok(run_site(kubeconfig, inventory), "re-enable sales")
    assert service_objects(kubectl, "sales") == full
    assert get_json(kubectl, "configmap", "erp-config")["data"]["ServiceUrls__Sales"] == "http://sales-service"
    wait_for(lambda: deployments_ready(kubectl, ["sales"]), "sales Ready again")


def resource_versions(kubectl) -> dict[str, str]:
    """kind/name -> resourceVersion of every object the collection manages in the namespace."""
    items = get_json(kubectl, MANAGED_KINDS, "-l", SYSTEM_SELECTOR)["items"]
    return {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in items}


def test_tags_select_a_service_added_by_the_inventory(deployed, kubeconfig, kubectl, inventory):
    """--tags payroll (a service only the inventory defines) applies payroll's objects and nothing else."""
    set_inventory_services(inventory, {"payroll": {"replicas": 1, "ingress_paths": ["/api/payroll"]}})
    try:
        assert_ok(run_site(kubeconfig, inventory), "deploy with payroll")
        wait_for(lambda: deployments_ready(kubectl, [*SERVICES, "payroll"]), "every Deployment Ready, payroll included")
        before = resource_versions(kubectl)
        payroll_before = service_objects(kubectl, "payroll")
        assert "PodDisruptionBudget/payroll-service" not in payroll_before
        # Both payroll and gateway change in the inventory; only payroll is asked for.
        set_inventory_services(inventory, {"payroll": {"replicas": 2, "ingress_paths": ["/api/payroll"]}, "gateway": {"replicas": 3}})
        result = run_site(kubeconfig, inventory, "--tags", "payroll")
        assert_ok(result, "--tags payroll")
        assert recap(result)["changed"] > 0
        after = resource_versions(kubectl)
        changed = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        assert changed, "--tags payroll changed nothing"
        assert all(key.endswith("/payroll-service") for key in changed), changed
        assert "PodDisruptionBudget/payroll-service" in service_objects(kubectl, "payroll")
        assert get_json(kubectl, "deployment", "payroll-service")["spec"]["replicas"] == 2
        assert get_json(kubectl, "deployment", "gateway-service")["spec"]["replicas"] == REPLICAS["gateway"]
    finally:
        set_inventory_services(inventory, {})
    assert_ok(run_site(kubeconfig, inventory), "remove payroll")
    assert service_objects(kubectl, "payroll") == []


def test_tags_naming_no_catalog_service_is_refused_before_any_change(deployed, kubeconfig, kubectl, inventory):
    before = resource_versions(kubectl)
    result = run_site(kubeconfig, inventory, "--tags", "payroll")
    assert result.returncode != 0, result.tail()
    assert result.failed_task.startswith("erp.platform.preflight"), result.failed_task
    text = result.failure_text
    assert "--tags: got payroll" in text, text
    assert "gateway, finance, inventory, sales, procurement, production, identity, reporting" in text, text
    assert resource_versions(kubectl) == before


def test_skip_tags_naming_a_service_is_refused_and_tool_tags_pass(deployed, kubeconfig, kubectl, inventory):
    """--skip-tags sales would deploy sales anyway (its tasks carry always): refused. Molecule's own skip tags pass."""
    before = resource_versions(kubectl)
    refused = run_site(kubeconfig, inventory, "--skip-tags", "sales")
    assert refused.returncode != 0, refused.tail()
    assert refused.failed_task.startswith("erp.platform.preflight"), refused.failed_task
    assert "--skip-tags: got sales" in refused.failure_text, refused.failure_text
    assert resource_versions(kubectl) == before
    passed = run_site(kubeconfig, inventory, "--tags", "preflight", "--skip-tags", "molecule-notest,notest")
    assert_ok(passed, "--tags preflight --skip-tags molecule-notest,notest")
    assert resource_versions(kubectl) == before
