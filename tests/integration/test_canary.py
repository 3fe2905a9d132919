"""Canary releases (catalog strategy canary) on the local cluster, in Gateway API and in Ingress mode.

reporting (routed: /api/reports, /api/dashboard) has the canary strategy. 1.0.0 installs as any first install
does. 1.0.1, healthy, goes through two steps (20 %, then 60 %, a short pause each), watched: the HTTPRoute's weights
at each step, and the stable Deployment still on 1.0.0 until the last step passed; then it is promoted. 1.0.2 with
a canary that crash-loops (fault annotation) is aborted at its first step: the stable pods are the same pods,
the route is back to one backend, the canary's objects are gone. With manual promotion the run stops after the
last step; playbooks/promote.yml finishes it, playbooks/abort.yml ends one. Ingress mode: the canary Ingress of
ingress-nginx (canary-weight, canary-by-header) and the main Ingress on the stable Service.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import PlaybookRun, run_playbook
from ansible_collections.erp.platform.tests.integration.watch_events import recorded

NAMESPACE = "erp-it-canary"
GROUP, VERSION = "gateway.networking.k8s.io", "v1"
FAULT = "fault.erp.test/mode"
GATEWAY_MODE = {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "erp-local"}
STEPS = [{"weight": 20, "pause": 2}, {"weight": 60, "pause": 2}]
CANARY_OBJECTS = {"deployment/reporting-service-canary", "service/reporting-service-canary", "service/reporting-service-stable"}


def site(kubeconfig, inventory, tag: str, playbook: str = "site.yml", routing: dict | None = None, **canary) -> PlaybookRun:
    reporting = {"strategy": "canary", "canary": {"steps": STEPS, **{k: v for k, v in canary.items() if k != "pod_annotations"}}}
    if "pod_annotations" in canary:
        reporting["pod_annotations"] = canary["pod_annotations"]
    extra = {"erp_namespace": NAMESPACE, "erp_image_tag": tag, "erp_services": {"reporting": reporting}, **(GATEWAY_MODE if routing is None else routing)}
    return run_playbook(playbook, inventory, extra, kubeconfig=kubeconfig)


def get(kubectl, kind: str, name: str) -> dict:
    return json.loads(kubectl("-n", NAMESPACE, "get", kind, name, "-o", "json").stdout)


def image(kubectl, name: str = "reporting-service") -> str:
    return get(kubectl, "deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def canary_objects(kubectl) -> set[str]:
    listing = kubectl("-n", NAMESPACE, "get", "deployments,services,ingresses", "-l", "app.kubernetes.io/component=canary", "-o", "name").stdout
    return {line.replace(".apps", "").replace(".networking.k8s.io", "") for line in listing.split()}


def backends(route: dict) -> list[tuple[str, int]]:
    """The route's backendRefs as (Service, weight); the API defaults a missing weight to 1."""
    return [(ref["name"], ref.get("weight", 1)) for ref in route["spec"]["rules"][0]["backendRefs"]]


def stable_pods(kubectl) -> dict[str, str]:
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=reporting", "-o", "json").stdout)["items"]
    return {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in pods if "erp.platform/track" not in pod["metadata"]["labels"]}


def track_pods(kubectl, track: str) -> dict[str, str]:
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-l", f"erp.platform/track={track}", "-o", "json").stdout)["items"]
    return {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in pods}


def endpoint_pods(kubectl, service: str) -> set[str]:
    """The pods behind the Service's ready endpoints."""
    slices = json.loads(kubectl("-n", NAMESPACE, "get", "endpointslices", "-l", f"kubernetes.io/service-name={service}", "-o", "json").stdout)
    return {e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")}


def timeline(k8s_client, run):
    """run() while HTTPRoute reporting-service and Deployment reporting-service are watched: each change, in order,
    as ("route", ((Service, weight), ...)) and ("stable", image)."""
    from kubernetes import client

    def route(event):
        obj = event["object"]
        return ("route", tuple(backends(obj))) if obj["metadata"]["name"] == "reporting-service" else None

    def stable(event):
        obj = event["object"]
        return ("stable", obj.spec.template.spec.containers[0].image) if obj.metadata.name == "reporting-service" else None

    streams = [
        (client.CustomObjectsApi(k8s_client).list_namespaced_custom_object, (GROUP, VERSION, NAMESPACE, "httproutes"), route),
        (client.AppsV1Api(k8s_client).list_namespaced_deployment, (NAMESPACE,), stable),
    ]
    return recorded(streams, run)


@pytest.fixture(scope="module")
def installed(kubectl, kubeconfig, inventory):
    deleted_namespace(kubectl, NAMESPACE)
    first = site(kubeconfig, inventory, "1.0.0")
    assert first.rc == 0, first.tail()
    return first


def test_the_first_install_is_an_ordinary_one(installed, kubectl):
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.0"
    assert canary_objects(kubectl) == set()
    assert backends(get(kubectl, "httproute", "reporting-service")) == [("reporting-service", 1)]


@pytest.fixture(scope="module")
def promoted(installed, kubectl, kubeconfig, inventory, k8s_client):
    return timeline(k8s_client, lambda: site(kubeconfig, inventory, "1.0.1"))


def test_a_healthy_canary_goes_through_its_steps_then_is_promoted(promoted, kubectl):
    result, events = promoted
    assert result.rc == 0, result.tail()
    routes = [value for kind, value in events if kind == "route"]
    stable = ("reporting-service-stable", 80), ("reporting-service-canary", 20)
    later = ("reporting-service-stable", 40), ("reporting-service-canary", 60)
    assert stable in routes, routes
    assert later in routes, routes
    assert routes.index(stable) < routes.index(later), routes
    # The stable Deployment took 1.0.1 only after the last step, once the route was back on its own Service.
    changed = events.index(("stable", "docker.io/erp-system/reporting:1.0.1"))
    assert events.index(("route", later)) < changed, events
    assert events.index(("route", (("reporting-service", 1),))) < changed, events
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.1"
    assert canary_objects(kubectl) == set()
    assert backends(get(kubectl, "httproute", "reporting-service")) == [("reporting-service", 1)]


def test_a_crash_looping_canary_is_aborted_at_its_first_step(promoted, kubectl, kubeconfig, inventory):
    pods = stable_pods(kubectl)
    assert pods
    failing = site(kubeconfig, inventory, "1.0.2", pod_annotations={FAULT: "crashloop"})
    assert failing.rc != 0, failing.tail()
    message = failing.output
    assert "The canary release of reporting" in message, failing.tail()
    assert "was aborted at step 1 of 2 (20%)" in message, failing.tail()
    assert "Deployment/reporting-service-canary Failed" in message, failing.tail()
    assert "CrashLoopBackOff" in message, failing.tail()
    assert "reporting-service was not changed and still runs docker.io/erp-system/reporting:1.0.1" in message, failing.tail()
    assert stable_pods(kubectl) == pods
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.1"
    assert canary_objects(kubectl) == set()
    assert backends(get(kubectl, "httproute", "reporting-service")) == [("reporting-service", 1)]
    # The event for Dapr's operator: an annotation on the stable Deployment's metadata, by a field manager of its own.
    stable = json.loads(kubectl("-n", NAMESPACE, "get", "deployment", "reporting-service", "-o", "json", "--show-managed-fields").stdout)
    assert "erp.platform/dapr-reconcile" in stable["metadata"]["annotations"], stable["metadata"]["annotations"]
    assert "erp.platform-dapr-reconcile" in {entry["manager"] for entry in stable["metadata"]["managedFields"]}


def test_manual_promotion_stops_after_the_last_step_and_promote_yml_finishes(promoted, kubectl, kubeconfig, inventory):
    waiting = site(kubeconfig, inventory, "1.0.2", promotion="manual")
    assert waiting.rc == 0, waiting.tail()
    assert "Promote it with playbooks/promote.yml" in waiting.output, waiting.tail()
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.1"
    assert image(kubectl, "reporting-service-canary") == "docker.io/erp-system/reporting:1.0.2"
    assert canary_objects(kubectl) == CANARY_OBJECTS
    assert backends(get(kubectl, "httproute", "reporting-service")) == [("reporting-service-stable", 40), ("reporting-service-canary", 60)]
    # East-west as documented: reporting-service (the gateway's and Dapr invocation's way in) has both tracks'
    # pods; -stable only the stable pods, -canary only the canary's; the canary keeps the stable selector.
    stable_names, canary_names = set(stable_pods(kubectl)), set(track_pods(kubectl, "canary"))
    assert stable_names
    assert canary_names
    assert endpoint_pods(kubectl, "reporting-service") == stable_names | canary_names
    assert endpoint_pods(kubectl, "reporting-service-stable") == stable_names
    assert endpoint_pods(kubectl, "reporting-service-canary") == canary_names
    selector = get(kubectl, "deployment", "reporting-service")["spec"]["selector"]
    assert get(kubectl, "deployment", "reporting-service-canary")["spec"]["selector"] == selector

    promote = site(kubeconfig, inventory, "1.0.2", playbook="playbooks/promote.yml", promotion="manual")
    assert promote.rc == 0, promote.tail()
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.2"
    assert canary_objects(kubectl) == set()
    assert backends(get(kubectl, "httproute", "reporting-service")) == [("reporting-service", 1)]


def test_abort_yml_ends_a_waiting_canary_in_ingress_mode(promoted, kubectl, kubeconfig, inventory):
    # The switch to Ingress mode and the next canary in one run: the plan's routes are the ordinary ones, the
    # steps then weigh them.
    ingress = {"erp_routing": "ingress"}
    pods = stable_pods(kubectl)
    waiting = site(kubeconfig, inventory, "1.0.3", routing=ingress, promotion="manual", header="X-Canary")
    assert waiting.rc == 0, waiting.tail()
    canary = get(kubectl, "ingress", "reporting-service-canary")
    assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] == "true"
    assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "60"
    assert canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-by-header"] == "X-Canary"
    canary_paths = {p["path"]: p["backend"]["service"]["name"] for p in canary["spec"]["rules"][0]["http"]["paths"]}
    assert canary_paths == {"/api/reports": "reporting-service-canary", "/api/dashboard": "reporting-service-canary"}
    main = get(kubectl, "ingress", "erp-ingress")
    main_paths = {p["path"]: p["backend"]["service"]["name"] for p in main["spec"]["rules"][0]["http"]["paths"]}
    assert main_paths["/api/reports"] == "reporting-service-stable", main_paths
    assert main_paths["/"] == "gateway-service", main_paths

    aborted = run_playbook("playbooks/abort.yml", inventory, {"erp_namespace": NAMESPACE, "erp_routing": "ingress"}, kubeconfig=kubeconfig)
    assert aborted.rc == 0, aborted.tail()
    assert "Aborted the canary releases of reporting" in aborted.output, aborted.tail()
    assert canary_objects(kubectl) == set()
    assert kubectl("-n", NAMESPACE, "get", "ingress", "-o", "name").stdout.split() == ["ingress.networking.k8s.io/erp-ingress"]
    main = get(kubectl, "ingress", "erp-ingress")
    assert {p["backend"]["service"]["name"] for p in main["spec"]["rules"][0]["http"]["paths"] if p["path"].startswith("/api/")} == {"reporting-service"}
    assert stable_pods(kubectl) == pods
    assert image(kubectl) == "docker.io/erp-system/reporting:1.0.2"


def test_switching_the_strategy_alone_changes_nothing(promoted, kubectl, kubeconfig, inventory):
    """rolling and canary differ only in how the next image arrives: switching either way, on the image the
    cluster runs, replaces no pod and reports no change."""
    # The aborted canary left reporting on an older tag than the other services (and the version label of its
    # Service, ServiceAccount and policies on the canary's): the inventory says so, and a first run converges.
    current, others = image(kubectl).rsplit(":", 1)[1], image(kubectl, "gateway-service").rsplit(":", 1)[1]
    pods = stable_pods(kubectl)

    def run(strategy: str) -> PlaybookRun:
        reporting = {"strategy": strategy, "image": {"tag": current}}
        extra = {"erp_namespace": NAMESPACE, "erp_image_tag": others, "erp_routing": "ingress", "erp_services": {"reporting": reporting}}
        result = run_playbook("site.yml", inventory, extra, kubeconfig=kubeconfig)
        assert result.rc == 0, result.tail()
        assert stable_pods(kubectl) == pods
        assert canary_objects(kubectl) == set()
        return result

    run("canary")
    for strategy in ("rolling", "canary"):
        again = run(strategy)
        assert again.recap["changed"] == 0, again.changed_tasks
