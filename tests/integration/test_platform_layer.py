"""The platform layer (preflight, namespace, config, datastores, Dapr) against the local cluster.

One converge of `site.yml -i inventories/local --tags platform` into a namespace of its own, then:
the objects are there and healthy, a second run and a --check run change nothing, the verbose
output leaks no secret, and a prod-like run with placeholder secrets stops in preflight without
touching anything.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, changed_tasks, recap, run_playbook, wait_for

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-it-platform"
PLATFORM = ["--tags", "platform", "-e", f"erp_namespace={NAMESPACE}"]
VAULT_ID = ["--vault-id", f"placeholder@{REPO / 'inventories' / 'vault-password.PLACEHOLDER-ONLY'}"]
SECRET_KEYS = ("db_password", "jwt_secret", "redis_password", "dapr_api_token")
# Everything the platform roles create in the namespace, for the untouched-cluster comparison.
KINDS = "configmaps,secrets,serviceaccounts,services,statefulsets,networkpolicies,persistentvolumeclaims,components.dapr.io"


def run_site(kubeconfig: str, *args: str, inventory: str = "inventories/local") -> PlaybookRun:
    return run_playbook("site.yml", inventory, args=args, kubeconfig=kubeconfig)


def snapshot(kubectl) -> dict[str, str]:
    """kind/name -> resourceVersion of the namespace and of every platform object in it."""
    listing = json.loads(kubectl("get", KINDS, "-n", NAMESPACE, "-o", "json").stdout)
    versions = {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in listing["items"]}
    namespace = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)
    versions[f"Namespace/{NAMESPACE}"] = namespace["metadata"]["resourceVersion"]
    return versions


@pytest.fixture(scope="module")
def converged(kubeconfig, kubectl):
    """The first converge of the platform layer; the namespace is deleted after the module."""
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False)
    result = run_site(kubeconfig, *PLATFORM)
    assert result.returncode == 0, f"converge failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    yield result
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def local_secrets() -> dict[str, str]:
    directory = REPO / "inventories" / "local" / ".secrets"
    return {key: (directory / key).read_text().strip() for key in SECRET_KEYS}


def test_namespace_has_pod_security_and_default_deny(converged, kubectl):
    namespace = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["app.kubernetes.io/managed-by"] == "erp.platform"
    policy = json.loads(kubectl("get", "networkpolicy", "default-deny-ingress", "-n", NAMESPACE, "-o", "json").stdout)
    assert policy["spec"]["podSelector"] == {}
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_config_map_has_exactly_the_system_keys(converged, kubectl):
    data = json.loads(kubectl("get", "configmap", "erp-config", "-n", NAMESPACE, "-o", "json").stdout)["data"]
    services = ["Finance", "Inventory", "Sales", "Procurement", "Production", "Identity", "Reporting"]
    expected = {
        "ASPNETCORE_ENVIRONMENT": "Production",
        "DAPR_HTTP_PORT": "3500",
        "DAPR_GRPC_PORT": "50001",
        "ConnectionStrings__DefaultConnection": "Host=postgres-service;Port=5432;Database=erpdb;Username=postgres",
        "Redis__Configuration": "redis-service:6379",
        **{f"ServiceUrls__{name}": f"http://{name.lower()}-service" for name in services},
    }
    assert data == expected


def test_secret_holds_the_generated_dev_secrets(converged, kubectl):
    secret = json.loads(kubectl("get", "secret", "erp-secrets", "-n", NAMESPACE, "-o", "json").stdout)
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    generated = local_secrets()
    assert decoded == {key.upper(): generated[key] for key in SECRET_KEYS}
    assert all(len(value) == 48 for value in generated.values())


def test_datastores_are_ready_with_bound_volumes(converged, kubectl):
    def ready():
        sets = json.loads(kubectl("get", "statefulsets", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        by_name = {item["metadata"]["name"]: item for item in sets}
        return set(by_name) == {"postgres", "redis"} and all(item["status"].get("readyReplicas") == 1 for item in sets)

    wait_for(ready, "postgres and redis StatefulSets to have 1 ready replica")
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    for name in ("postgres-0", "redis-0"):
        pod = next(p for p in pods if p["metadata"]["name"] == name)
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        assert conditions.get("Ready") == "True", f"{name} not Ready: {conditions}"
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    claims = json.loads(kubectl("get", "pvc", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    phases = {claim["metadata"]["name"]: claim["status"].get("phase") for claim in claims}
    assert phases == {"data-postgres-0": "Bound", "data-redis-0": "Bound"}
    services = json.loads(kubectl("get", "services", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    assert {s["metadata"]["name"] for s in services} >= {"postgres-service", "redis-service"}


PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def probe_budget(probe: dict) -> int:
    """Seconds a probe may keep failing before it counts as failed (the API server's defaults filled in)."""
    return probe.get("initialDelaySeconds", 0) + probe["failureThreshold"] * probe["periodSeconds"]


def check_datastore_pod_spec(name: str, spec: dict) -> None:
    """Three distinct probes, liveness gated by a startup budget longer than its own, and bounded emptyDirs."""
    container = spec["containers"][0]
    missing = [kind for kind in PROBES if kind not in container]
    assert not missing, f"{name}: no {missing}"
    startup, liveness, readiness = (container[kind] for kind in PROBES)
    assert liveness != readiness, f"{name}: liveness and readiness are the same probe: {liveness}"
    assert startup != liveness, f"{name}: the startup probe repeats liveness: {startup}"
    assert startup != readiness, f"{name}: the startup probe repeats readiness: {startup}"
    handler = {kind: {key: container[kind][key] for key in ("exec", "tcpSocket", "httpGet", "grpc") if key in container[kind]} for kind in PROBES}
    assert handler["livenessProbe"] != handler["readinessProbe"], f"{name}: liveness and readiness check the same thing: {handler}"
    # Liveness runs only after the startup probe succeeded; a recovery that outlasts the liveness budget
    # must still fit in the startup budget, and liveness must not wait on a delay of its own instead.
    assert probe_budget(startup) > probe_budget(liveness), f"{name}: startup budget {probe_budget(startup)} s <= liveness {probe_budget(liveness)} s"
    assert liveness.get("initialDelaySeconds", 0) == 0, f"{name}: liveness delayed instead of gated: {liveness}"
    empty_dirs = {volume["name"]: volume["emptyDir"] for volume in spec["volumes"] if "emptyDir" in volume}
    assert empty_dirs, f"{name}: no emptyDir volumes (the read-only root filesystem needs /tmp)"
    unbounded = [volume for volume, source in empty_dirs.items() if not source.get("sizeLimit")]
    assert not unbounded, f"{name}: emptyDir without sizeLimit: {unbounded}"


def test_datastore_probes_are_distinct_and_empty_dirs_have_size_limits(converged, kubectl):
    sets = json.loads(kubectl("get", "statefulsets", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    by_name = {item["metadata"]["name"]: item["spec"]["template"]["spec"] for item in sets}
    assert set(by_name) == {"postgres", "redis"}
    for name, spec in by_name.items():
        check_datastore_pod_spec(name, spec)
    postgres, redis = (by_name[name]["containers"][0] for name in ("postgres", "redis"))
    # PostgreSQL: readiness waits for "accepting"; liveness also accepts "rejecting" (a server in recovery).
    assert postgres["readinessProbe"]["exec"]["command"][0] == "pg_isready"
    assert "[ $? -le 1 ]" in postgres["livenessProbe"]["exec"]["command"][-1]
    # Redis: readiness is an authenticated PING; liveness a TCP connect to the server's port.
    assert "redis-cli" in redis["readinessProbe"]["exec"]["command"][-1]
    assert redis["livenessProbe"]["tcpSocket"]["port"] == "redis"
    probes_text = json.dumps([container[kind] for container in (postgres, redis) for kind in PROBES])
    for key, value in local_secrets().items():
        assert value not in probes_text, f"{key} appears in a probe"
    # The pods the kubelet got carry the same spec.
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    for pod in pods:
        if pod["metadata"]["name"] in ("postgres-0", "redis-0"):
            check_datastore_pod_spec(pod["metadata"]["name"], pod["spec"])


def test_dapr_components_point_at_redis_with_scopes(converged, kubectl):
    components = json.loads(kubectl("get", "components.dapr.io", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    by_name = {item["metadata"]["name"]: item for item in components}
    assert set(by_name) == {"pubsub", "statestore"}
    assert by_name["pubsub"]["spec"]["type"] == "pubsub.redis"
    assert by_name["statestore"]["spec"]["type"] == "state.redis"
    app_ids = sorted(f"{name}-service" for name in ("gateway", "finance", "inventory", "sales", "procurement", "production", "identity", "reporting"))
    for component in components:
        metadata = {item["name"]: item for item in component["spec"]["metadata"]}
        assert metadata["redisHost"]["value"] == "redis-service:6379"
        assert metadata["redisPassword"]["secretKeyRef"] == {"name": "erp-secrets", "key": "REDIS_PASSWORD"}
        assert sorted(component["scopes"]) == app_ids


def test_second_run_changes_nothing_and_verbose_output_has_no_secret(converged, kubeconfig, kubectl):
    before = snapshot(kubectl)
    result = run_site(kubeconfig, *PLATFORM, "-vvv")
    assert result.returncode == 0, result.stdout[-6000:]
    assert recap(result)["changed"] == 0, f"changed on re-run: {changed_tasks(result)}"
    assert snapshot(kubectl) == before, "a re-run changed objects in the cluster (secrets included)"
    output = result.stdout + result.stderr
    for key, value in local_secrets().items():
        assert value not in output, f"{key} appears in the -vvv output"
        assert base64.b64encode(value.encode()).decode() not in output, f"{key} (base64) appears in the -vvv output"


def test_check_mode_on_converged_cluster_changes_nothing(converged, kubeconfig, kubectl):
    before = snapshot(kubectl)
    result = run_site(kubeconfig, *PLATFORM, "--check", "--diff")
    assert result.returncode == 0, result.stdout[-6000:]
    assert recap(result)["changed"] == 0, f"--check reports changes: {changed_tasks(result)}"
    assert snapshot(kubectl) == before


def test_prod_with_placeholder_secrets_stops_in_preflight(converged, kubeconfig, kubectl):
    before = snapshot(kubectl)
    result = run_site(kubeconfig, *VAULT_ID, "-e", f"erp_namespace={NAMESPACE}", inventory="inventories/prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    failed_task = re.findall(r"^TASK \[(.*?)\]", output.split("fatal:")[0], re.MULTILINE)[-1]
    assert failed_task.startswith("erp.platform.preflight"), f"failed outside preflight: {failed_task}"
    for key in SECRET_KEYS:
        assert f"erp_secrets.{key}" in output, f"erp_secrets.{key} not named:\n{output[-4000:]}"
    assert "placeholder" in output
    assert "Traceback" not in output
    assert snapshot(kubectl) == before, "the failed prod run changed the cluster"


def render(extra_vars: Path, tags: str = "platform") -> PlaybookRun:
    """site.yml in render mode (erp_render_dir among the extra vars): no cluster is reachable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KUBECONFIG", "K8S_AUTH_"))}
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"
    return run_playbook("site.yml", "inventories/local", args=["-e", f"@{extra_vars}"], tags=tags, env=env, timeout=900)


def test_render_follows_the_catalog_and_external_datastores(tmp_path):
    """Render mode (no cluster): a disabled service loses its URL, external datastores deploy nothing."""
    extra = tmp_path / "extra-vars.json"
    extra.write_text(
        json.dumps(
            {
                "erp_render_dir": str(tmp_path / "render"),
                "erp_services": {"sales": {"enabled": False}, "payroll": {"replicas": 1}},
                "erp_postgres": {"enabled": False, "host": "erp-db.example.com", "port": 6432, "database": "erpdb", "username": "erp"},
                "erp_redis": {"enabled": False, "host": "cache.example.com", "port": 6380},
            }
        )
    )
    result = render(extra)
    assert result.returncode == 0, result.stdout[-4000:]
    rendered = tmp_path / "render"
    assert not (rendered / "datastores").exists() or not list((rendered / "datastores").iterdir())
    config = (rendered / "config" / "configmap-erp-config.yaml").read_text()
    assert "Host=erp-db.example.com;Port=6432;Database=erpdb;Username=erp" in config
    assert "Redis__Configuration: cache.example.com:6380" in config
    assert "ServiceUrls__Sales" not in config
    assert "ServiceUrls__Payroll: http://payroll-service" in config
    pubsub = (rendered / "dapr" / "component-pubsub.yaml").read_text()
    assert "cache.example.com:6380" in pubsub
    assert "sales-service" not in pubsub
    assert "payroll-service" in pubsub


def test_render_takes_the_datastore_probe_timings_and_size_limits(tmp_path):
    """Render mode: the probe and sizeLimit variables reach the StatefulSets, and the defaults pass the checks."""
    startup = {"period_seconds": 15, "timeout_seconds": 4, "failure_threshold": 120}
    extra = tmp_path / "extra-vars.json"
    extra.write_text(
        json.dumps(
            {
                "erp_render_dir": str(tmp_path / "render"),
                "datastores_postgres_startup_probe": startup,
                "datastores_redis_liveness_probe": {"period_seconds": 7, "timeout_seconds": 2, "failure_threshold": 4},
                "datastores_postgres_run_size_limit": "8Mi",
                "datastores_redis_tmp_size_limit": "32Mi",
            }
        )
    )
    result = render(extra, tags="datastores")
    assert result.returncode == 0, result.stdout[-4000:]
    rendered = tmp_path / "render" / "datastores"
    specs = {name: yaml.safe_load((rendered / f"statefulset-{name}.yaml").read_text())["spec"]["template"]["spec"] for name in ("postgres", "redis")}
    for name, spec in specs.items():
        check_datastore_pod_spec(name, spec)
    postgres, redis = (specs[name]["containers"][0] for name in ("postgres", "redis"))
    assert postgres["startupProbe"] == {"exec": postgres["readinessProbe"]["exec"], "periodSeconds": 15, "timeoutSeconds": 4, "failureThreshold": 120}
    assert redis["livenessProbe"] == {"tcpSocket": {"port": "redis"}, "periodSeconds": 7, "timeoutSeconds": 2, "failureThreshold": 4}
    limits = {name: {volume["name"]: volume["emptyDir"]["sizeLimit"] for volume in spec["volumes"] if "emptyDir" in volume} for name, spec in specs.items()}
    assert limits == {"postgres": {"run": "8Mi", "tmp": "64Mi"}, "redis": {"tmp": "32Mi"}}
