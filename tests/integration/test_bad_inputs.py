"""Bad inputs fail before anything changes, with a message that names the variable.

Each case runs the whole site.yml against the local cluster with one bad input (as extra vars)
and a namespace of its own. The run must fail, in preflight (or in the collection-wide argument
check that precedes it), with a message naming the variable, and without a Python traceback;
the namespace must not exist afterwards: the first role that would change anything creates it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-it-bad-inputs"
GOOD_SECRETS = {
    "db_password": "db-password-for-the-bad-input-tests",
    "jwt_secret": "a-jwt-secret-of-more-than-thirty-two-characters",
    "redis_password": "redis-password-for-the-bad-input-tests",
    "dapr_api_token": "dapr-token-for-the-bad-input-tests",
}
THRESHOLDS = {"error_ratio": 0.05, "latency_p99_ms": 1000, "cpu_throttled_ratio": 0.25, "memory_limit_ratio": 0.9, "volume_free_ratio": 0.1}
ALERT_FOR = {
    "pod_not_ready": "5m", "crash_looping": "5m", "replicas_below_desired": "10m", "rollout_stuck": "1m", "error_rate": "10m",
    "latency": "10m", "cpu_throttling": "15m", "memory_near_limit": "15m", "datastore_down": "2m", "volume_filling_up": "5m",
}  # fmt: skip
POSTGRES = {"enabled": True, "host": "postgres-service", "port": 5432, "database": "erpdb", "username": "postgres"}

# (case id, extra vars, strings the failure output must contain)
CASES = [
    ("unknown-environment", {"erp_environment": "dev"}, ["erp_environment", "dev", "local, staging, prod"]),
    ("namespace-not-dns", {"erp_namespace": "ERP_System"}, ["erp_namespace", "ERP_System", "DNS-1123"]),
    ("negative-replicas", {"erp_services": {"finance": {"replicas": -1}}}, ["erp_services.finance.replicas", "-1"]),
    ("non-integer-replicas", {"erp_services": {"finance": {"replicas": "two"}}}, ["erp_services.finance.replicas", "two"]),
    ("unknown-catalog-key", {"erp_services": {"finance": {"replica": 2}}}, ["erp_services.finance", "replica"]),
    (
        "bad-cpu-quantity",
        {"erp_services": {"finance": {"resources": {"limits": {"cpu": "lots"}}}}},
        ["erp_services.finance.resources.limits.cpu", "lots"],
    ),
    ("bad-storage-quantity", {"datastores_postgres_storage": "ten gigs"}, ["datastores_postgres_storage", "ten gigs"]),
    (
        "bad-quota-quantity",
        {"namespace_resource_quota": {"requests.cpu": "plenty"}},
        ["namespace_resource_quota.requests.cpu", "plenty"],
    ),
    ("service-name-not-dns", {"erp_services": {"Payroll_Svc": {"replicas": 1}}}, ["erp_services", "Payroll_Svc"]),
    ("service-port-out-of-range", {"erp_services": {"finance": {"port": 70000}}}, ["erp_services.finance.port", "70000"]),
    ("postgres-port-out-of-range", {"erp_postgres": {**POSTGRES, "port": 70000}}, ["erp_postgres.port", "70000", "65535"]),
    ("unknown-postgres-key", {"erp_postgres": {**POSTGRES, "hots": "db"}}, ["erp_postgres", "hots"]),
    (
        "partial-external-postgres",
        {"erp_postgres": {"enabled": False, "host": "db.example.com"}},
        ["erp_postgres", "missing keys", "database"],
    ),
    ("external-redis-without-host", {"erp_redis": {"enabled": False, "host": "", "port": 6379}}, ["erp_redis.host"]),
    ("unknown-services-only", {"erp_services_only": ["payroll"]}, ["erp_services_only", "payroll"]),
    # A disabled service passed the old check and failed in the service role, after the platform was applied.
    (
        "disabled-services-only",
        {"erp_services": {"sales": {"enabled": False}}, "erp_services_only": ["sales"]},
        ["erp_services_only", "sales", "not enabled or unknown: sales"],
    ),
    # The ingress rules ran in the ingress role, after every other role had applied its objects.
    ("ingress-host-not-dns", {"ingress_host": "Bad_Host"}, ["ingress_host", "Bad_Host", "DNS name"]),
    ("ingress-name-not-dns", {"ingress_name": "Erp Ingress"}, ["ingress_name", "Erp Ingress", "DNS-1123 subdomain"]),
    # The service role's rules ran in that role, after the platform was applied.
    ("max-surge-not-a-count", {"service_max_surge": "lots"}, ["service_max_surge", "lots", "a number or a percentage"]),
    ("prestop-longer-than-grace", {"service_prestop_sleep_seconds": 40}, ["service_prestop_sleep_seconds", "40", "30"]),
    (
        "limit-range-quantity",
        {"namespace_limit_range": {"default": {"cpu": "much"}}},
        ["namespace_limit_range.default.cpu", "much"],
    ),
    ("pod-security-level", {"namespace_pod_security_enforce": "strict"}, ["namespace_pod_security_enforce", "strict", "restricted"]),
    ("dapr-component-name", {"dapr_pubsub_name": "Pub_Sub"}, ["dapr_pubsub_name", "Pub_Sub"]),
    ("dapr-http-port", {"config_dapr_http_port": 3600}, ["config_dapr_http_port", "3600", "3500", "Dapr 1.16"]),
    ("dapr-grpc-port-on-metrics", {"config_dapr_grpc_port": 9090}, ["config_dapr_grpc_port", "9090", "metrics"]),
    ("service-port-on-sidecar", {"erp_services": {"finance": {"port": 3500}}}, ["erp_services.finance.port", "3500", "sidecar"]),
    ("dapr-api-token-secret-name", {"config_dapr_api_token_secret": "Dapr_Token"}, ["config_dapr_api_token_secret", "Dapr_Token"]),
    (
        "dapr-component-type",
        {"dapr_components": {"lock": {"type": "lock.memory"}}},
        ["dapr_components.lock.type", "lock.memory", "lock.redis, pubsub.redis, secretstores.kubernetes"],
    ),
    (
        "dapr-component-scope",
        {"dapr_components": {"lock": {"type": "lock.redis", "scopes": ["payroll-service"]}}},
        ["dapr_components.lock.scopes", "payroll-service", "app-ids of enabled services"],
    ),
    (
        "dapr-component-metadata",
        {"dapr_components": {"lock": {"type": "lock.redis", "metadata": [{"name": "x", "secretKeyRef": {"name": "s"}}]}}},
        ["dapr_components.lock.metadata[0].secretKeyRef", "{name: <Secret>, key: <key in it>}"],
    ),
    (
        "dapr-secret-store-without-secrets",
        {"dapr_components": {"vault": {"type": "secretstores.kubernetes"}}},
        ["dapr_components.vault.secrets", "non-empty list"],
    ),
    ("dapr-component-reserved-name", {"dapr_components": {"kubernetes": {"type": "lock.redis"}}}, ["dapr_components.kubernetes", "built-in secret store"]),
    (
        "dapr-resiliency-unknown-policy",
        {"dapr_resiliency": {"policies": {"timeouts": {"general": "5s"}}, "targets": {"apps": {"finance-service": {"retry": "fast"}}}}},
        ["dapr_resiliency.targets.apps.finance-service.retry", "fast", "dapr_resiliency.policies.retries"],
    ),
    (
        "dapr-resiliency-unknown-app",
        {"dapr_resiliency": {"policies": {"timeouts": {"general": "5s"}}, "targets": {"apps": {"payroll": {"timeout": "general"}}}}},
        ["dapr_resiliency.targets.apps", "payroll", "app-ids of enabled services"],
    ),
    (
        "dapr-resiliency-bad-duration",
        {"dapr_resiliency": {"policies": {"timeouts": {"general": "five"}}, "targets": {"apps": {"finance-service": {"timeout": "general"}}}}},
        ["dapr_resiliency.policies.timeouts.general", "five", "duration"],
    ),
    ("negative-verify-timeout", {"verify_timeout": -5}, ["verify_timeout", "-5"]),
    ("unknown-strategy", {"erp_services": {"finance": {"strategy": "green"}}}, ["erp_services.finance.strategy", "green", "rolling, canary, blue_green"]),
    (
        "blue-green-with-autoscaling",
        {"erp_services": {"finance": {"strategy": "blue_green", "autoscaling": {"enabled": True}}}},
        ["erp_services.finance.strategy", "blue_green", "while autoscaling.enabled is true"],
    ),
    (
        "canary-step-weight",
        {"erp_services": {"finance": {"strategy": "canary", "canary": {"steps": [{"weight": 0, "pause": 10}]}}}},
        ["erp_services.finance.canary.steps[0].weight", "0", "an integer from 1 to 100"],
    ),
    (
        "canary-gate-without-prometheus",
        {"erp_services": {"finance": {"strategy": "canary", "canary": {"steps": [{"weight": 10, "pause": 10, "gate": {"query": "up", "min": 1}}]}}}},
        ["canary_prometheus_url", "the Prometheus HTTP API base URL that evaluates the metric gates of finance"],
    ),
    ("canary-prometheus-url", {"canary_prometheus_url": "prometheus:9090"}, ["canary_prometheus_url", "prometheus:9090", "http:// or https:// URL"]),
    (
        "datastore-probe-period-negative",
        {"datastores_postgres_liveness_probe": {"period_seconds": -10, "timeout_seconds": 5, "failure_threshold": 6}},
        ["datastores_postgres_liveness_probe.period_seconds", "-10", "at least 1"],
    ),
    ("datastore-size-limit-not-a-quantity", {"datastores_redis_tmp_size_limit": "big"}, ["datastores_redis_tmp_size_limit", "big", "quantities"]),
    (
        "short-jwt-secret",
        {"erp_secrets": {**GOOD_SECRETS, "jwt_secret": "too-short"}},
        ["erp_secrets.jwt_secret", "9 characters", "at least 32"],
    ),
    ("missing-secret", {"erp_secrets": {**GOOD_SECRETS, "db_password": ""}}, ["erp_secrets.db_password", "missing or empty"]),
    ("unknown-secret-key", {"erp_secrets": {**GOOD_SECRETS, "jwt": "x"}}, ["erp_secrets", "jwt"]),
    (
        "latest-tag-in-prod",
        {"erp_environment": "prod", "erp_image_tag": "latest", "erp_secrets": GOOD_SECRETS},
        ["erp_image_tag", "latest"],
    ),
    # The rule had two owners that disagreed (the catalog filter: prod only; preflight: prod and staging).
    (
        "latest-tag-in-staging",
        {"erp_environment": "staging", "erp_image_tag": "latest", "erp_secrets": GOOD_SECRETS},
        ["erp_image_tag", "latest", "staging"],
    ),
    (
        "placeholder-secret-in-prod",
        {"erp_environment": "prod", "erp_secrets": {**GOOD_SECRETS, "redis_password": "CHANGE_ME-redis-password"}},
        ["erp_secrets.redis_password", "placeholder"],
    ),
    # The harness cluster has every real Dapr CRD (httpendpoints.dapr.io too); asking for one no Dapr release has
    # shows what a cluster without Dapr gets.
    (
        "dapr-without-crds",
        {"erp_dapr_enabled": True, "preflight_dapr_crds": ["components.dapr.io", "missing.dapr.io"]},
        ["missing.dapr.io", "erp_dapr_enabled"],
    ),
    ("missing-ingress-class", {"ingress_class_name": "traefik-missing"}, ["IngressClass traefik-missing", "ingress_class_name"]),
    ("unknown-monitoring-mode", {"monitoring_mode": "on"}, ["monitoring_mode", "on", "auto, enabled, disabled"]),
    (
        "bad-alert-duration",
        {"monitoring_alert_for": {**ALERT_FOR, "crash_looping": "5 minutes"}},
        ["monitoring_alert_for.crash_looping", "5 minutes", "Prometheus duration"],
    ),
    (
        "alert-ratio-out-of-range",
        {"monitoring_alert_thresholds": {**THRESHOLDS, "error_ratio": 5}},
        ["monitoring_alert_thresholds.error_ratio", "5", "at most 1"],
    ),
    (
        "exporter-without-pod-labels",
        {"monitoring_exporters": [{"name": "postgres-exporter", "pod_labels": {}, "port": 9187}]},
        ["monitoring_exporters[0].pod_labels", "non-empty"],
    ),
    ("bad-metrics-path", {"erp_services": {"finance": {"metrics": {"path": "metrics"}}}}, ["erp_services.finance.metrics.path", "metrics"]),
    ("unknown-routing", {"erp_routing": "nginx"}, ["erp_routing", "nginx", "ingress, gateway_api"]),
    (
        "gateway-without-class",
        {"erp_routing": "gateway_api", "ingress_gateway_create": True},
        ["ingress_gateway_class_name", "ingress_gateway_create"],
    ),
    (
        "created-gateway-elsewhere",
        {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "erp-local", "erp_gateway_namespace": "infra"},
        ["erp_gateway_namespace", "infra", "erp_namespace"],
    ),
    ("gateway-name-not-dns", {"erp_routing": "gateway_api", "erp_gateway_name": "Edge_GW"}, ["erp_gateway_name", "Edge_GW", "DNS-1123"]),
    # Issue 18: rules that ran only in the role that uses the value, or only in the API server, or not at all.
    (
        "surge-and-unavailable-zero",
        {"service_max_surge": 0, "service_max_unavailable": 0},
        ["service_max_surge / service_max_unavailable", "0 / 0", "not both zero"],
    ),
    (
        "ingress-rewrite-target",
        {"ingress_annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
        ["ingress_annotations", "nginx.ingress.kubernetes.io/rewrite-target"],
    ),
    (
        "toleration-seconds-without-noexecute",
        {"erp_services": {"finance": {"tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 30}]}}},
        ["erp_services.finance.tolerations[0].effect", "NoSchedule", "NoExecute when tolerationSeconds is set"],
    ),
    (
        "datastore-request-above-limit",
        {"datastores_postgres_resources": {"requests": {"cpu": "2", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}},
        ["datastores_postgres_resources", '"cpu": "2"', "no request is above its limit"],
    ),
    (
        "sidecar-request-above-limit",
        {"service_dapr_sidecar_resources": {"requests": {"cpu": "50m", "memory": "1Gi"}, "limits": {"cpu": "300m", "memory": "256Mi"}}},
        ["service_dapr_sidecar_resources", '"memory": "1Gi"', "no request is above its limit"],
    ),
    (
        "service-named-like-a-datastore",
        {"erp_services": {"postgres": {"replicas": 1}}},
        ["erp_postgres.host", "postgres-service", "erp_services.postgres"],
    ),
    (
        "external-datastore-host-is-a-catalog-service",
        {"erp_redis": {"enabled": False, "host": "finance-service", "port": 6379}},
        ["erp_redis.host", "finance-service", "erp_services.finance"],
    ),
    (
        "env-shadows-a-secret",
        {"erp_services": {"finance": {"env": {"JWT_SECRET": "plain-text"}}}},
        ["erp_services.finance.env.JWT_SECRET", "Secret erp-secrets", "erp_secrets.jwt_secret"],
    ),
    (
        "password-in-database-options",
        {"config_database_options": {"Password": "in-the-configmap"}},
        ["config_database_options", '"Password"', "ConfigMap erp-config"],
    ),
    (
        "password-in-redis-options",
        {"config_redis_options": ["ssl=false", "password=in-the-configmap"]},
        ["config_redis_options[1]", "password=", "ConfigMap erp-config"],
    ),
    (
        "secret-with-trailing-newline",
        {"erp_secrets": {**GOOD_SECRETS, "jwt_secret": GOOD_SECRETS["jwt_secret"] + "\n"}},
        ["erp_secrets.jwt_secret", "line break"],
    ),
    (
        "annotation-overrides-the-app-id",
        {"erp_services": {"finance": {"pod_annotations": {"dapr.io/app-id": "billing-service"}}}},
        ["erp_services.finance.pod_annotations", "dapr.io/app-id", "service_dapr_extra_annotations"],
    ),
    ("boolean-as-text", {"erp_dapr_enabled": "false"}, ["erp_dapr_enabled", '"false" (a string)', "true or false as a boolean"]),
    ("boolean-as-text-ingress", {"ingress_enabled": "no"}, ["ingress_enabled", '"no" (a string)']),
    (
        "boolean-as-text-one-level-down",
        {"erp_postgres": {**POSTGRES, "enabled": "false", "host": "db.example.com"}},
        ["erp_postgres.enabled", '"false" (a string)'],
    ),
    (
        "placeholder-pattern-not-a-regex",
        {"preflight_placeholder_patterns": ["change[-_ ]?me", "(unclosed"]},
        ["preflight_placeholder_patterns[1]", "(unclosed", "regular expression"],
    ),
    (
        "missing-gateway",
        {"erp_routing": "gateway_api", "erp_gateway_name": "edge-missing"},
        ["Gateway edge-missing in namespace " + NAMESPACE, "erp_gateway_name", "ingress_gateway_create"],
    ),
    (
        "missing-gateway-class",
        {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "envoy-missing"},
        ["GatewayClass envoy-missing", "ingress_gateway_class_name"],
    ),
    (
        "missing-storage-class",
        {"datastores_postgres_storage_class": "fast-ssd-missing"},
        ["StorageClass fast-ssd-missing", "datastores_postgres_storage_class"],
    ),
]


def namespace_exists(kubectl) -> bool:
    return kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").stdout.strip() != ""


@pytest.fixture(scope="module")
def clean_namespace(kubeconfig, kubectl):
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False)
    assert not namespace_exists(kubectl)
    return NAMESPACE


@pytest.mark.parametrize(("extra_vars", "expected"), [pytest.param(v, e, id=i) for i, v, e in CASES])
def test_bad_input_fails_before_any_change(extra_vars, expected, clean_namespace, kubeconfig, kubectl):
    result = run_playbook("site.yml", "inventories/local", {"erp_namespace": NAMESPACE, **extra_vars}, kubeconfig=kubeconfig, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the run succeeded:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    tasks = re.findall(r"^TASK \[(.*?)\]", output.split("fatal:")[0], re.MULTILINE)
    assert tasks, output[-3000:]
    # Preflight (or the erp role before it) runs every role's checks (its tasks/validate.yml), so the failed
    # task is preflight's, the erp role's, or a role's check run from preflight; nothing was applied before it.
    last = tasks[-1]
    assert last.startswith(("erp.platform.preflight", "erp.platform.erp")) or " : Check " in last, f"failed outside preflight: {last}"
    assert not [task for task in tasks if "k8s_apply" in task or "apply" in task.lower()], f"applied before failing: {tasks}"
    # Messages are wrapped by the YAML callback; compare on single spaces.
    flat = " ".join(output.split())
    for text in expected:
        assert text in flat, f"{text!r} not in the failure message:\n{output[-3000:]}"
    assert not namespace_exists(kubectl), "the failed run created the namespace"


def resource_versions(kubectl, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of the namespace and everything kubectl lists in it (events and leases left out)."""
    kinds = [k for k in kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split() if not k.startswith(("events", "leases."))]
    items = json.loads(kubectl("-n", namespace, "get", ",".join(kinds), "-o", "json").stdout)["items"]
    items.append(json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout))
    return {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in items}


def test_a_smaller_datastore_volume_is_refused_by_preflight_and_nothing_changes(kubeconfig, kubectl, inventory):
    """volumeClaimTemplates cannot change: preflight reads the StatefulSet and names the variable and the field,
    rather than the API server refusing the apply after the namespace, config and Dapr objects were written."""
    namespace = deleted_namespace(kubectl, NAMESPACE + "-live")
    deployed = run_playbook("site.yml", inventory, {"erp_namespace": namespace}, kubeconfig=kubeconfig, timeout=900)
    assert deployed.returncode == 0, deployed.tail()
    before = resource_versions(kubectl, namespace)
    shrunk = run_playbook(
        "site.yml", inventory, {"erp_namespace": namespace, "datastores_redis_storage": "128Mi", "config_extra_data": {"NEW_KEY": "x"}}, kubeconfig=kubeconfig
    )
    assert shrunk.returncode != 0, shrunk.tail()
    assert "Traceback" not in shrunk.output
    assert shrunk.failed_task == "erp.platform.preflight : Check the datastores' storage against their StatefulSets", shrunk.tail()
    text = shrunk.failure_text
    for expected in ('datastores_redis_storage: got "128Mi"', f"StatefulSet redis in namespace {namespace}", "volumeClaimTemplates[data] storage", "256Mi"):
        assert expected in text, text
    assert resource_versions(kubectl, namespace) == before
    # The same size written another way is no change.
    same = run_playbook("site.yml", inventory, {"erp_namespace": namespace, "datastores_redis_storage": "0.25Gi"}, kubeconfig=kubeconfig)
    assert same.returncode == 0, same.tail()
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def render_mode_env() -> dict[str, str]:
    """This process's environment without cluster access, and with the checkout's ansible.cfg from any directory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("KUBECONFIG", "K8S_AUTH_"))}
    return dict(env, KUBECONFIG="/nonexistent/kubeconfig", ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))


def test_a_relative_render_dir_starts_from_where_the_user_runs_and_keeps_the_secrets_private(tmp_path):
    """It used to start from playbooks/: -e erp_render_dir=README.md wrote the Secret into playbooks/README.md/."""
    run = run_playbook(REPO / "site.yml", REPO / "inventories" / "local", {"erp_render_dir": "manifests"}, tags="config", env=render_mode_env(), cwd=tmp_path)
    assert run.returncode == 0, run.tail()
    secret = tmp_path / "manifests" / "config" / "secret-erp-secrets.yaml"
    assert secret.is_file(), sorted(str(path) for path in tmp_path.rglob("*"))
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert not (REPO / "playbooks" / "manifests").exists()
    assert not (REPO / "manifests").exists()


@pytest.mark.parametrize(
    ("value", "where", "expected"),
    [
        pytest.param("README.md", "", ['erp_render_dir: got "README.md"', f"({REPO}/README.md, a file)"], id="a-file"),
        pytest.param("docs/manifests", "", ['erp_render_dir: got "docs/manifests"', f"directory {REPO} or in its git-ignored render/"], id="in-the-checkout"),
        pytest.param("../README.md", "playbooks", ['erp_render_dir: got "../README.md"', f"({REPO}/README.md, a file)"], id="relative-to-the-cwd"),
    ],
)
def test_a_render_dir_on_a_file_or_inside_the_checkout_is_refused_before_anything_is_written(value, where, expected):
    before = sorted(str(path) for path in (REPO / "docs").rglob("*"))
    run = run_playbook(REPO / "site.yml", REPO / "inventories" / "local", {"erp_render_dir": value}, env=render_mode_env(), cwd=REPO / where)
    assert run.returncode != 0, run.tail()
    assert "Traceback" not in run.output
    assert run.failed_task == "erp.platform.erp : Check erp_render_dir", run.tail()
    for text in expected:
        assert text in run.failure_text, run.failure_text
    assert (REPO / "README.md").is_file()
    assert sorted(str(path) for path in (REPO / "docs").rglob("*")) == before
