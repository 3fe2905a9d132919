"""Dapr components as data, the Resiliency, the secret store's access and the API token, on the local cluster.

One converge of site.yml (three services, one replica each) into a namespace of its own with a lock store, a
configuration store, a Kubernetes secret store and a Resiliency from the inventory; then: each object is stored
by the real Dapr CRD exactly as rendered (nothing pruned by the schema), scoped, labelled; the secret store's
services, and only they, may get the Secrets it names; the pods carry the API token Secret and the gRPC port;
a second run changes nothing; removing entries from the inventory removes their objects and touches no other.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, changed_tasks, recap, run_playbook

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-it-dapr"
APP_IDS = ["finance-service", "gateway-service", "sales-service"]
RESILIENCY = {
    "policies": {
        "timeouts": {"general": "5s"},
        "retries": {"standard": {"policy": "constant", "duration": "1s", "maxRetries": 3}},
        "circuitBreakers": {"simple": {"maxRequests": 1, "interval": "8s", "timeout": "45s", "trip": "consecutiveFailures >= 5"}},
    },
    "targets": {"apps": {"finance-service": {"timeout": "general", "retry": "standard", "circuitBreaker": "simple"}}},
}
COMPONENTS = {
    "lockstore": {"type": "lock.redis"},
    "configstore": {"type": "configuration.redis", "scopes": ["finance-service"], "metadata": [{"name": "enableTLS", "value": False}]},
    "secretstore": {"type": "secretstores.kubernetes", "secrets": ["erp-secrets"], "scopes": ["finance-service", "sales-service"], "initTimeout": "10s"},
}
BASE = {
    "erp_namespace": NAMESPACE,
    "erp_services": {
        **{name: {"enabled": False} for name in ("inventory", "procurement", "production", "identity", "reporting")},
        **{name: {"replicas": 1} for name in ("gateway", "finance", "sales")},
    },
}
REDIS = [{"name": "redisHost", "value": "redis-service:6379"}, {"name": "redisPassword", "secretKeyRef": {"name": "erp-secrets", "key": "REDIS_PASSWORD"}}]


def run_site(kubeconfig: str, tmp_path: Path, extra: dict, *args: str) -> PlaybookRun:
    return run_playbook("site.yml", "inventories/local", extra, args=args, kubeconfig=kubeconfig)


def get_json(kubectl, *args: str) -> dict:
    return json.loads(kubectl(*args, "-n", NAMESPACE, "-o", "json").stdout)


def dapr_objects(kubectl) -> dict[str, dict]:
    listing = get_json(kubectl, "get", "components.dapr.io,resiliencies.dapr.io,roles,rolebindings", "-l", "app.kubernetes.io/component=dapr")
    return {f"{item['kind']}/{item['metadata']['name']}": item for item in listing["items"]}


def can_get_secret(kubectl, account: str, secret: str) -> bool:
    result = kubectl("auth", "can-i", "get", f"secret/{secret}", "-n", NAMESPACE, "--as", f"system:serviceaccount:{NAMESPACE}:{account}", check=False)
    return result.stdout.strip() == "yes"


def dapr_api_token() -> str:
    return (REPO / "inventories" / "local" / ".secrets" / "dapr_api_token").read_text().strip()


@pytest.fixture(scope="module")
def converged(kubeconfig, kubectl, tmp_path_factory):
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False)
    tmp = tmp_path_factory.mktemp("dapr")
    result = run_site(kubeconfig, tmp, {**BASE, "dapr_components": COMPONENTS, "dapr_resiliency": RESILIENCY})
    assert result.returncode == 0, f"converge failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    yield tmp, result
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_every_component_kind_is_stored_as_rendered_and_scoped(converged, kubectl):
    objects = dapr_objects(kubectl)
    components = {key.split("/", 1)[1]: item for key, item in objects.items() if key.startswith("Component/")}
    assert set(components) == {"pubsub", "statestore", "lockstore", "configstore", "secretstore"}
    # The CRD's structural schema would silently drop unknown fields: compare the stored spec field by field.
    assert components["lockstore"]["spec"] == {"type": "lock.redis", "version": "v1", "metadata": REDIS}
    assert components["configstore"]["spec"] == {
        "type": "configuration.redis",
        "version": "v1",
        "metadata": [*REDIS, {"name": "enableTLS", "value": "false"}],
    }
    assert components["secretstore"]["spec"] == {"type": "secretstores.kubernetes", "version": "v1", "initTimeout": "10s", "metadata": []}
    assert components["pubsub"]["spec"]["type"] == "pubsub.redis"
    assert components["statestore"]["spec"]["type"] == "state.redis"
    scopes = {name: item["scopes"] for name, item in components.items()}
    assert scopes == {
        "pubsub": APP_IDS,
        "statestore": APP_IDS,
        "lockstore": APP_IDS,
        "configstore": ["finance-service"],
        "secretstore": ["finance-service", "sales-service"],
    }
    for item in objects.values():
        labels = item["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "erp.platform"
        assert labels["app.kubernetes.io/instance"] == "erp"
        assert labels["app.kubernetes.io/part-of"] == "erp-system"


def test_resiliency_is_stored_as_rendered(converged, kubectl):
    resiliency = dapr_objects(kubectl)["Resiliency/erp-resiliency"]
    assert resiliency["spec"] == RESILIENCY
    assert resiliency["scopes"] == APP_IDS
    assert resiliency["metadata"]["labels"]["app.kubernetes.io/name"] == "erp-resiliency"


def test_secret_store_services_may_get_only_the_named_secrets(converged, kubectl):
    role = dapr_objects(kubectl)["Role/dapr-secretstore-secretstore"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["erp-secrets"], "verbs": ["get"]}]
    assert can_get_secret(kubectl, "finance-service", "erp-secrets")
    assert can_get_secret(kubectl, "sales-service", "erp-secrets")
    assert not can_get_secret(kubectl, "gateway-service", "erp-secrets"), "a service outside the scopes may read the Secret"
    assert not can_get_secret(kubectl, "finance-service", "erp-dapr-api-token"), "the store reads a Secret it does not name"


def test_pods_carry_the_api_token_the_grpc_port_and_the_token_volume_for_the_secret_store(converged, kubectl):
    deployments = {item["metadata"]["name"]: item for item in get_json(kubectl, "get", "deployments")["items"]}
    assert set(deployments) == {f"{app_id}" for app_id in APP_IDS}
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["dapr.io/api-token-secret"] == "erp-dapr-api-token"
        assert annotations["dapr.io/grpc-port"] == "50001"
        volumes = {volume["name"] for volume in template["spec"]["volumes"]}
        needs_api = name in ("finance-service", "sales-service")
        assert ("dapr-kube-api-access" in volumes) is needs_api, name
        assert (annotations.get("dapr.io/volume-mounts") == "dapr-kube-api-access:/var/run/secrets/kubernetes.io/serviceaccount") is needs_api
        # The app container never gets the token; the pod still automounts nothing.
        assert template["spec"]["automountServiceAccountToken"] is False
        assert all(mount["name"] != "dapr-kube-api-access" for mount in template["spec"]["containers"][0]["volumeMounts"])
    pods = get_json(kubectl, "get", "pods", "-l", "app.kubernetes.io/component=service")["items"]
    assert len(pods) == 3
    for pod in pods:
        daprd = next(c for c in pod["spec"]["containers"] if c["name"] == "daprd")
        env = {item["name"]: item for item in daprd.get("env", [])}
        assert env["DAPR_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "erp-dapr-api-token", "key": "token"}


def test_api_token_secret_holds_the_token_and_the_output_does_not(converged, kubectl):
    result = converged[1]
    secret = get_json(kubectl, "get", "secret", "erp-dapr-api-token")
    assert set(secret["data"]) == {"token"}
    token = dapr_api_token()
    assert base64.b64decode(secret["data"]["token"]).decode() == token
    # The app keeps DAPR_API_TOKEN (its Dapr client sends it): the same value.
    erp_secrets = get_json(kubectl, "get", "secret", "erp-secrets")
    assert base64.b64decode(erp_secrets["data"]["DAPR_API_TOKEN"]).decode() == token
    output = result.stdout + result.stderr
    assert token not in output
    assert base64.b64encode(token.encode()).decode() not in output


def test_second_run_changes_nothing(converged, kubeconfig, kubectl):
    tmp = converged[0]
    before = {key: item["metadata"]["resourceVersion"] for key, item in dapr_objects(kubectl).items()}
    result = run_site(kubeconfig, tmp, {**BASE, "dapr_components": COMPONENTS, "dapr_resiliency": RESILIENCY})
    assert result.returncode == 0, result.stdout[-6000:]
    assert recap(result)["changed"] == 0, f"changed on re-run: {changed_tasks(result)}"
    assert {key: item["metadata"]["resourceVersion"] for key, item in dapr_objects(kubectl).items()} == before


def test_removing_entries_from_the_inventory_prunes_them(converged, kubeconfig, kubectl):
    tmp = converged[0]
    before = {key: item["metadata"]["resourceVersion"] for key, item in dapr_objects(kubectl).items()}
    kept = {"configstore": COMPONENTS["configstore"]}
    result = run_site(kubeconfig, tmp, {**BASE, "dapr_components": kept}, "--tags", "dapr")
    assert result.returncode == 0, result.stdout[-6000:]
    after = {key: item["metadata"]["resourceVersion"] for key, item in dapr_objects(kubectl).items()}
    assert set(after) == {"Component/pubsub", "Component/statestore", "Component/configstore"}
    assert after == {key: before[key] for key in after}, "pruning changed the objects it kept"
    assert not can_get_secret(kubectl, "finance-service", "erp-secrets"), "the secret store's access outlived it"
