"""Routing through Gateway API as well as Ingress (issue 14), site.yml against the local cluster.

The cluster serves the real Gateway API v1.6.1 standard-channel CRDs and the GatewayClass `erp-local`,
and runs no Gateway controller: route status is written here (gateway_controller.py) where a
controller's verdict is needed. In order, in one namespace:
- Ingress mode, then a switch to Gateway API mode with the Gateway the collection creates: the
  HTTPRoutes and the Gateway are those the issue asks for, the Ingress is pruned only after the routes
  exist, the NetworkPolicies admit the Gateway's data plane instead of the ingress controller, and a
  second run reports changed=0;
- a route the "controller" rejects fails site.yml's verification with its reason; accepted routes pass
  with verify_route_status=required, which prod and staging use;
- the routes move to a Gateway the user names in another namespace, which the run never changes;
- the switch back: the Ingress exists before the routes are pruned.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.gateway_controller import CONTROLLER, write_route_status
from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, run_playbook, wait_for

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-it-gateway"
GATEWAY_MODE = {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "erp-local", "ingress_tls_enabled": True}
ROUTED = ("gateway-service", "reporting-service")
FROM_CONTROLLER = {f"{name}-from-ingress-controller" for name in ROUTED}
FROM_GATEWAY = {f"{name}-from-gateway" for name in ROUTED}
GROUP, VERSION = "gateway.networking.k8s.io", "v1"


def run_site(kubeconfig: str, inventory: Path, playbook: str = "site.yml", **extra) -> PlaybookRun:
    return run_playbook(playbook, inventory, {"erp_namespace": NAMESPACE, **extra}, kubeconfig=kubeconfig)


def assert_ok(result: PlaybookRun, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.tail()}"


def names(kubectl, kind: str, namespace: str = NAMESPACE) -> set[str]:
    out = kubectl("-n", namespace, "get", kind, "-l", "app.kubernetes.io/managed-by=erp.platform", "-o", "json").stdout
    return {item["metadata"]["name"] for item in json.loads(out)["items"]}


def get_json(kubectl, kind: str, name: str) -> dict:
    return json.loads(kubectl("-n", NAMESPACE, "get", kind, name, "-o", "json").stdout)


class DeletionWitness(threading.Thread):
    """Watches one kind of the namespace; when an object of it is deleted, lists the other kinds at once.

    `seen` holds, per deleted object, the names of the other kinds' objects that existed at that moment:
    the proof that the new routes (and the policies that admit their traffic) were there before the old
    ones went.
    """

    def __init__(self, k8s_client, watched: str, *other: str):
        super().__init__(daemon=True)
        from kubernetes import client

        self.custom = client.CustomObjectsApi(k8s_client)
        self.networking = client.NetworkingV1Api(k8s_client)
        self.watched, self.other = watched, other
        self.seen: dict[str, set[str]] = {}
        self.error: Exception | None = None
        self.stop = threading.Event()
        self.resource_version = self._list(watched)[1]

    def _call(self, kind: str):
        if kind == "ingresses":
            return self.networking.list_namespaced_ingress, (NAMESPACE,)
        if kind == "networkpolicies":
            return self.networking.list_namespaced_network_policy, (NAMESPACE,)
        return self.custom.list_namespaced_custom_object, (GROUP, VERSION, NAMESPACE, kind)

    def _list(self, kind: str) -> tuple[set[str], str]:
        func, args = self._call(kind)
        listing = func(*args)
        if isinstance(listing, dict):
            return {item["metadata"]["name"] for item in listing["items"]}, listing["metadata"]["resourceVersion"]
        return {item.metadata.name for item in listing.items}, listing.metadata.resource_version

    def run(self):
        from kubernetes import watch

        func, args = self._call(self.watched)
        stream = watch.Watch()
        try:
            for event in stream.stream(func, *args, resource_version=self.resource_version, timeout_seconds=300):
                if event["type"] == "DELETED":
                    obj = event["object"]
                    name = obj["metadata"]["name"] if isinstance(obj, dict) else obj.metadata.name
                    self.seen[name] = set().union(*(self._list(kind)[0] for kind in self.other))
                if self.stop.is_set():
                    break
        except Exception as exc:  # reported by the test, not swallowed
            self.error = exc
        finally:
            stream.stop()


@pytest.fixture(scope="module")
def ingress_mode(kubeconfig, kubectl, inventory):
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s")
    result = run_site(kubeconfig, inventory)
    assert_ok(result, "site.yml in Ingress mode")
    assert names(kubectl, "ingresses") == {"erp-ingress"}
    assert names(kubectl, "httproutes") == set()
    assert names(kubectl, "networkpolicies") >= FROM_CONTROLLER
    return result


def switch(k8s_client, kubeconfig, inventory, **extra) -> tuple[PlaybookRun, dict[str, set[str]]]:
    """site.yml with ``extra``, watched: for every Ingress, HTTPRoute and NetworkPolicy deleted during the run,
    the names of the Ingresses, HTTPRoutes and NetworkPolicies that existed at that moment. (What is deleted
    in the same prune a moment later may already be gone too; what the run applied before it must be there.)"""
    witnesses = [DeletionWitness(k8s_client, kind, "ingresses", "httproutes", "networkpolicies") for kind in ("ingresses", "httproutes", "networkpolicies")]
    for witness in witnesses:
        witness.start()
    result = run_site(kubeconfig, inventory, **extra)
    seen = {}
    for witness in witnesses:
        witness.stop.set()
        witness.join(timeout=10)
        assert witness.error is None, witness.error
        seen.update(witness.seen)
    return result, seen


@pytest.fixture(scope="module")
def gateway_mode(ingress_mode, kubeconfig, kubectl, k8s_client, inventory):
    """The switch from Ingress to Gateway API mode, watched."""
    return switch(k8s_client, kubeconfig, inventory, **GATEWAY_MODE)


def test_switching_to_gateway_api_creates_the_routes_before_the_ingress_goes(gateway_mode, kubectl):
    result, seen = gateway_mode
    assert_ok(result, "site.yml switching to Gateway API mode")
    assert names(kubectl, "ingresses") == set()
    assert names(kubectl, "httproutes") == {"gateway-service", "reporting-service"}
    assert names(kubectl, "gateways") == {"erp-gateway"}
    # At the moment the Ingress and each of the ingress controller's policies was deleted, both routes and the
    # policies that admit the Gateway's data plane already existed.
    assert set(seen) == {"erp-ingress"} | FROM_CONTROLLER, seen
    for gone, existing in seen.items():
        assert set(ROUTED) | FROM_GATEWAY <= existing, (gone, existing)
    assert not FROM_CONTROLLER & names(kubectl, "networkpolicies")


def test_the_routes_are_the_catalogs_on_the_gateway_the_collection_created(gateway_mode, kubectl):
    routes = {name: get_json(kubectl, "httproute", name) for name in ("gateway-service", "reporting-service")}
    parent = {"group": GROUP, "kind": "Gateway", "name": "erp-gateway", "namespace": NAMESPACE}
    paths = {}
    for name, route in routes.items():
        spec = route["spec"]
        assert spec["parentRefs"] == [parent]
        assert spec["hostnames"] == ["erp.example.com"]
        assert route["metadata"]["labels"]["app.kubernetes.io/component"] == "ingress"
        for rule in spec["rules"]:
            assert [ref["name"] for ref in rule["backendRefs"]] == [name]
            assert {ref["port"] for ref in rule["backendRefs"]} == {80}
            for match in rule["matches"]:
                assert match["path"]["type"] == "PathPrefix"
                paths[match["path"]["value"]] = name
    assert paths == {"/": "gateway-service", "/api/dashboard": "reporting-service", "/api/reports": "reporting-service"}

    gateway = get_json(kubectl, "gateway", "erp-gateway")
    assert gateway["spec"]["gatewayClassName"] == "erp-local"
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    assert (listeners["http"]["protocol"], listeners["http"]["port"]) == ("HTTP", 80)
    assert (listeners["https"]["protocol"], listeners["https"]["port"]) == ("HTTPS", 443)
    assert listeners["https"]["tls"]["mode"] == "Terminate"
    assert [ref["name"] for ref in listeners["https"]["tls"]["certificateRefs"]] == ["erp-tls"]
    for listener in listeners.values():
        assert listener["hostname"] == "erp.example.com"
        assert listener["allowedRoutes"]["namespaces"] == {"from": "Same"}


def test_network_policies_admit_the_gateways_data_plane_instead_of_the_ingress_controller(gateway_mode, kubectl):
    data_plane = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
        "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "erp-gateway"}},
    }
    policies = names(kubectl, "networkpolicies")
    assert policies >= FROM_GATEWAY, policies
    assert not FROM_CONTROLLER & policies, policies
    for routed in ROUTED:
        policy = get_json(kubectl, "networkpolicy", f"{routed}-from-gateway")
        assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == routed.removesuffix("-service")
        assert policy["spec"]["ingress"] == [{"from": [data_plane], "ports": [{"port": "http", "protocol": "TCP"}]}]
        # the service role's own policy admits only traffic from inside the system
        own = get_json(kubectl, "networkpolicy", routed)
        assert not [peer for rule in own["spec"].get("ingress") or [] for peer in rule["from"] if "namespaceSelector" in peer], own
    # a service without routes admits no edge traffic at all
    assert not [name for name in policies if name.startswith("finance-service-from")]
    # clients reach the data plane of the Gateway the collection created, where it runs in this namespace
    dataplane = get_json(kubectl, "networkpolicy", "erp-gateway-dataplane")
    assert dataplane["spec"]["podSelector"] == {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "erp-gateway"}}
    assert dataplane["spec"]["ingress"] == [{}]


def test_a_second_run_in_gateway_api_mode_changes_nothing(gateway_mode, kubeconfig, inventory):
    result = run_site(kubeconfig, inventory, **GATEWAY_MODE)
    assert_ok(result, "the second run in Gateway API mode")
    assert result.recap["changed"] == 0, result.changed_tasks


def test_a_route_the_controller_rejects_fails_the_verification_with_its_reason(gateway_mode, kubeconfig, kubectl, inventory):
    write_route_status(kubectl, NAMESPACE, "gateway-service")
    write_route_status(kubectl, NAMESPACE, "reporting-service", resolved=(False, "RefNotPermitted", "backend reporting-service is not permitted"))
    rejected = run_site(kubeconfig, inventory, **GATEWAY_MODE)
    assert rejected.returncode != 0, rejected.tail()
    assert "Traceback" not in rejected.output
    assert "Wait until everything this instance deployed is healthy" in rejected.failed_task
    assert (
        f"Gateway {NAMESPACE}/erp-gateway ({CONTROLLER}): ResolvedRefs False: RefNotPermitted: backend reporting-service is not permitted"
        in rejected.failure_text
    )

    # Both accepted: the verification passes even where a controller's answer is required (prod, staging).
    write_route_status(kubectl, NAMESPACE, "reporting-service")
    accepted = run_site(kubeconfig, inventory, **GATEWAY_MODE, verify_route_status="required")
    assert_ok(accepted, "site.yml with both routes accepted and verify_route_status=required")
    # the summary table (its message column is cut at 70 characters)
    for route in ("gateway-service", "reporting-service"):
        assert re.search(rf"Current +HTTPRoute +{route} .* accepted by Gateway {NAMESPACE[:8]}", accepted.stdout), accepted.tail()


def test_turning_ingress_gateway_create_off_under_the_routes_is_refused(gateway_mode, kubeconfig, kubectl, inventory):
    """The collection's own Gateway, named with ingress_gateway_create false, would be pruned while the routes use it."""
    before = get_json(kubectl, "gateway", "erp-gateway")["metadata"]["resourceVersion"]
    refused = run_site(kubeconfig, inventory, **{**GATEWAY_MODE, "ingress_gateway_create": False})
    assert refused.returncode != 0, refused.tail()
    assert refused.failed_task.startswith("erp.platform.preflight"), refused.failed_task
    assert f"Gateway erp-gateway in namespace {NAMESPACE} (erp_gateway_name) was created by this collection" in refused.failure_text
    assert get_json(kubectl, "gateway", "erp-gateway")["metadata"]["resourceVersion"] == before


def test_routes_attach_to_a_gateway_the_user_names_in_another_namespace(gateway_mode, kubeconfig, kubectl, inventory):
    """A platform team's shared Gateway: the routes name it (and its listener), the collection's own Gateway goes,
    the user's is never changed, and the NetworkPolicies admit that Gateway's data plane."""
    infra = f"{NAMESPACE}-infra"
    kubectl("delete", "namespace", infra, "--ignore-not-found", "--wait=true", "--timeout=120s")
    kubectl("create", "namespace", infra)
    shared = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": infra},
        "spec": {
            "gatewayClassName": "erp-local",
            "listeners": [{"name": "web", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "All"}}}],
        },
    }
    kubectl("apply", "--server-side", "--field-manager", "platform-team", "-f", "-", input_text=json.dumps(shared))
    before = json.loads(kubectl("-n", infra, "get", "gateway", "edge", "-o", "json").stdout)["metadata"]["resourceVersion"]
    try:
        result = run_site(
            kubeconfig, inventory, erp_routing="gateway_api", erp_gateway_name="edge", erp_gateway_namespace=infra, ingress_gateway_section_name="web"
        )
        assert_ok(result, "site.yml on the user's Gateway")
        for name in ("gateway-service", "reporting-service"):
            assert get_json(kubectl, "httproute", name)["spec"]["parentRefs"] == [
                {"group": GROUP, "kind": "Gateway", "name": "edge", "namespace": infra, "sectionName": "web"}
            ]
        assert names(kubectl, "gateways") == set()
        after = json.loads(kubectl("-n", infra, "get", "gateway", "edge", "-o", "json").stdout)["metadata"]["resourceVersion"]
        assert after == before, "the user's Gateway was changed"
        policy = get_json(kubectl, "networkpolicy", "reporting-service-from-gateway")
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        assert peers == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": infra}},
                "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "edge"}},
            }
        ], peers
        # the collection's own Gateway went, and so did the policy for its data plane
        assert "erp-gateway-dataplane" not in names(kubectl, "networkpolicies")
    finally:
        kubectl("delete", "namespace", infra, "--wait=false", check=False)


def test_switching_back_to_ingress_creates_the_ingress_before_the_routes_go(gateway_mode, kubeconfig, kubectl, k8s_client, inventory):
    result, seen = switch(k8s_client, kubeconfig, inventory)
    assert_ok(result, "site.yml switching back to Ingress mode")
    assert names(kubectl, "ingresses") == {"erp-ingress"}
    assert names(kubectl, "httproutes") == set()
    assert names(kubectl, "gateways") == set()
    # The routes and the Gateway's policies went only after the Ingress and the ingress controller's policies were back.
    assert set(seen) >= set(ROUTED) | FROM_GATEWAY, seen
    for gone in set(ROUTED) | FROM_GATEWAY:
        assert {"erp-ingress"} | FROM_CONTROLLER <= seen[gone], (gone, seen[gone])
    policies = names(kubectl, "networkpolicies")
    assert policies >= FROM_CONTROLLER
    assert not FROM_GATEWAY & policies


@pytest.fixture
def without_gateway_api(kubectl):
    """The Gateway API CRDs (and so the GatewayClass) removed for one test, then put back as cluster.sh applies them."""
    crds = REPO / "tools" / "localcluster" / "crds" / "gateway-api"
    kubectl("delete", "-f", str(crds), "--wait=true", "--timeout=120s")
    # Discovery drops the group a moment after the CRDs are gone.
    wait_for(lambda: not kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout.strip(), f"discovery without {GROUP}", timeout=60, interval=0.5)
    try:
        yield
    finally:
        kubectl("apply", "--server-side", "-f", str(crds))
        for crd in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies"):
            kubectl("wait", "--for", "condition=Established", "--timeout", "60s", f"crd/{crd}.{GROUP}")
        wait_for(
            lambda: "httproutes" in kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout, f"discovery of {GROUP}", timeout=60, interval=0.5
        )
        kubectl("apply", "--server-side", "-f", str(REPO / "tools" / "localcluster" / "manifests" / "gateway-class.yaml"))


def test_where_gateway_api_is_not_served_ingress_mode_works_and_gateway_mode_is_refused(without_gateway_api, kubeconfig, kubectl, inventory):
    # A namespace of its own: removing the CRDs is cluster-wide, so this test runs alone (marker cluster_wide),
    # apart from the module's other tests and their namespace.
    namespace = deleted_namespace(kubectl, NAMESPACE + "-unserved")
    ingress = run_playbook("site.yml", inventory, {"erp_namespace": namespace}, kubeconfig=kubeconfig)
    assert_ok(ingress, "site.yml in Ingress mode on a cluster without Gateway API (its kinds are pruned, not listed)")
    assert names(kubectl, "ingresses", namespace) == {"erp-ingress"}

    before = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in json.loads(
        kubectl("-n", namespace, "get", "deployments,services,configmaps,networkpolicies,ingresses", "-o", "json").stdout
    )["items"]}  # fmt: skip
    refused = run_playbook("site.yml", inventory, {"erp_namespace": namespace, **GATEWAY_MODE}, kubeconfig=kubeconfig)
    assert refused.returncode != 0, refused.tail()
    assert "Traceback" not in refused.output
    assert refused.failed_task.startswith("erp.platform.preflight"), refused.failed_task
    assert "Gateway API (gateway.networking.k8s.io/v1, erp_routing is gateway_api): the cluster does not serve it" in refused.failure_text
    after = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in json.loads(
        kubectl("-n", namespace, "get", "deployments,services,configmaps,networkpolicies,ingresses", "-o", "json").stdout
    )["items"]}  # fmt: skip
    assert after == before
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)
