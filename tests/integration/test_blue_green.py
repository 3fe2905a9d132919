"""Blue/green releases (catalog strategy blue_green) on the local cluster.

reporting starts on the rolling strategy (1.0.0), then switches to blue/green on the same image: blue comes up
beside the rolling Deployment, Service reporting-service moves to it once it is available, and only then does the
rolling Deployment go. 1.0.1: green beside blue, the switch, blue kept for the delay while green is verified behind
the Service, then removed. 1.0.2 whose new colour crash-loops: never switched to. 1.0.3 healthy, but one of its pods
fails after the switch (the test writes the status the kubelet would): the Service is switched back. Then back to
the rolling strategy: the colours go only after the rolling Deployment is verified. Every step is watched.
"""

from __future__ import annotations

import json
import threading

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook
from ansible_collections.erp.platform.tests.integration.watch_events import recorded

NAMESPACE = "erp-it-blue-green"
FAULT = "fault.erp.test/mode"
COLOUR = "erp.platform/colour"


def site(kubeconfig, inventory, tag: str, strategy: str = "blue_green", delay: int = 2, **reporting):
    entry = {"strategy": strategy, "blue_green": {"delay": delay}, **reporting}
    extra = {"erp_namespace": NAMESPACE, "erp_image_tag": "1.0.0", "erp_services": {"reporting": {"image": {"tag": tag}, **entry}}}
    return run_playbook("site.yml", inventory, extra, kubeconfig=kubeconfig)


def get(kubectl, kind: str, name: str) -> dict:
    return json.loads(kubectl("-n", NAMESPACE, "get", kind, name, "-o", "json").stdout)


def deployments(kubectl) -> dict[str, str]:
    items = json.loads(kubectl("-n", NAMESPACE, "get", "deployments", "-l", "app.kubernetes.io/instance=erp", "-o", "json").stdout)["items"]
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"] for d in items if d["metadata"]["name"].startswith("reporting")}


def selector(kubectl) -> dict:
    return get(kubectl, "service", "reporting-service")["spec"]["selector"]


def serving_colours(kubectl) -> set[str]:
    """The colour labels of the pods behind reporting-service's ready endpoints ('' for a pod without one)."""
    slices = json.loads(kubectl("-n", NAMESPACE, "get", "endpointslices", "-l", "kubernetes.io/service-name=reporting-service", "-o", "json").stdout)
    names = {e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")}
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=reporting", "-o", "json").stdout)["items"]
    return {p["metadata"]["labels"].get(COLOUR, "") for p in pods if p["metadata"]["name"] in names}


def watched(k8s_client, run):
    """run() while the Deployments of reporting and Service reporting-service are watched: in order,
    ("available", Deployment) when one first has all its replicas available, ("deleted", Deployment), and
    ("selects", colour or "hash" or "all") when the Service's selector changes."""
    from kubernetes import client

    available = set()

    def deployments(event):
        obj = event["object"]
        name = obj.metadata.name
        if not name.startswith("reporting-service"):
            return None
        if event["type"] == "DELETED":
            return ("deleted", name)
        if name not in available and obj.status.available_replicas and obj.status.available_replicas >= obj.spec.replicas:
            available.add(name)
            return ("available", name)
        return None

    def service(event):
        obj = event["object"]
        if obj.metadata.name != "reporting-service":
            return None
        chosen = obj.spec.selector or {}
        return ("selects", chosen.get(COLOUR) or ("hash" if "pod-template-hash" in chosen else "all"))

    streams = [
        (client.AppsV1Api(k8s_client).list_namespaced_deployment, (NAMESPACE,), deployments),
        (client.CoreV1Api(k8s_client).list_namespaced_service, (NAMESPACE,), service),
    ]
    return recorded(streams, run)


def then(events, first, second):
    """`second` happens after `first` (its first time)."""
    assert first in events, events
    assert second in events[events.index(first) + 1 :], events


def before(events, first, second):
    """`second` happens after `first`, and not before it (the watch's first events are the objects as they were)."""
    then(events, first, second)
    assert second not in events[: events.index(first)], events


@pytest.fixture(scope="module")
def rolling(kubectl, kubeconfig, inventory):
    deleted_namespace(kubectl, NAMESPACE)
    result = site(kubeconfig, inventory, "1.0.0", strategy="rolling")
    assert result.rc == 0, result.tail()
    assert deployments(kubectl) == {"reporting-service": "docker.io/erp-system/reporting:1.0.0"}


def test_switching_from_rolling_serves_blue_only_once_it_is_available(rolling, kubectl, kubeconfig, inventory, k8s_client):
    result, events = watched(k8s_client, lambda: site(kubeconfig, inventory, "1.0.0"))
    assert result.rc == 0, result.tail()
    # Until the switch, the Service selects the rolling Deployment's pods by their hash; blue is available first;
    # the rolling Deployment goes last.
    before(events, ("selects", "hash"), ("selects", "blue"))
    before(events, ("available", "reporting-service-blue"), ("selects", "blue"))
    before(events, ("selects", "blue"), ("deleted", "reporting-service"))
    assert deployments(kubectl) == {"reporting-service-blue": "docker.io/erp-system/reporting:1.0.0"}
    assert serving_colours(kubectl) == {"blue"}
    assert "reporting-service-preview" not in kubectl("-n", NAMESPACE, "get", "services", "-o", "name").stdout


def test_a_re_run_changes_nothing(kubectl, kubeconfig, inventory):
    again = site(kubeconfig, inventory, "1.0.0")
    assert again.rc == 0, again.tail()
    assert again.recap["changed"] == 0, again.changed_tasks


def test_a_healthy_new_colour_is_switched_to_and_the_old_one_goes_after_the_delay(kubectl, kubeconfig, inventory, k8s_client):
    result, events = watched(k8s_client, lambda: site(kubeconfig, inventory, "1.0.1"))
    assert result.rc == 0, result.tail()
    before(events, ("available", "reporting-service-green"), ("selects", "green"))
    before(events, ("selects", "green"), ("deleted", "reporting-service-blue"))
    assert ("selects", "blue") not in events[events.index(("selects", "green")) :], events
    assert deployments(kubectl) == {"reporting-service-green": "docker.io/erp-system/reporting:1.0.1"}
    assert selector(kubectl)[COLOUR] == "green"
    assert serving_colours(kubectl) == {"green"}


def test_a_new_colour_that_never_becomes_ready_is_never_switched_to(kubectl, kubeconfig, inventory, k8s_client):
    result, events = watched(k8s_client, lambda: site(kubeconfig, inventory, "1.0.2", pod_annotations={FAULT: "crashloop"}))
    assert result.rc != 0, result.tail()
    assert "Deployment/reporting-service-blue Failed" in result.output, result.tail()
    assert "CrashLoopBackOff" in result.output, result.tail()
    # The watch starts with the Service as it is (green); it never selects blue.
    assert ("selects", "blue") not in events, events
    assert selector(kubectl)[COLOUR] == "green"
    assert serving_colours(kubectl) == {"green"}
    assert deployments(kubectl)["reporting-service-green"] == "docker.io/erp-system/reporting:1.0.1"


def fail_a_pod_after_the_switch(kubectl, k8s_client, colour: str, done: threading.Event):
    """When the Service selects `colour`, write one of its pods' status as a crash-looping kubelet would."""
    from kubernetes import client, watch

    core = client.CoreV1Api(k8s_client)
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_service, NAMESPACE, timeout_seconds=300):
        obj = event["object"]
        if obj.metadata.name == "reporting-service" and (obj.spec.selector or {}).get(COLOUR) == colour:
            break
        if done.is_set():
            stream.stop()
            return
    stream.stop()
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-l", f"{COLOUR}={colour}", "-o", "json").stdout)["items"]
    pod = pods[0]
    waiting = {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=reporting"}
    statuses = [
        {**status, "ready": False, "started": False, "restartCount": 2, "state": {"waiting": waiting}} if status["name"] == "reporting" else status
        for status in pod["status"]["containerStatuses"]
    ]
    conditions = [{**c, "status": "False"} if c["type"] in ("Ready", "ContainersReady") else c for c in pod["status"]["conditions"]]
    kubectl(
        "-n", NAMESPACE, "patch", "pod", pod["metadata"]["name"], "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"containerStatuses": statuses, "conditions": conditions}}),
    )  # fmt: skip


def test_a_failure_after_the_switch_switches_back(kubectl, kubeconfig, inventory, k8s_client):
    done = threading.Event()
    saboteur = threading.Thread(target=fail_a_pod_after_the_switch, args=(kubectl, k8s_client, "blue", done), daemon=True)
    saboteur.start()
    result, events = watched(k8s_client, lambda: site(kubeconfig, inventory, "1.0.3", delay=30))
    done.set()
    saboteur.join(timeout=30)
    assert result.rc != 0, result.tail()
    assert "The blue/green release of reporting" in result.output, result.tail()
    assert "failed after the switch; reporting-service was switched back to green" in result.output, result.tail()
    assert "Deployment/reporting-service-blue Failed" in result.output, result.tail()
    assert "CrashLoopBackOff" in result.output, result.tail()
    # Green served when the watch began; the switch to blue, then back to green, then blue removed.
    then(events, ("selects", "blue"), ("selects", "green"))
    then(events, ("selects", "blue"), ("deleted", "reporting-service-blue"))
    assert selector(kubectl)[COLOUR] == "green"
    assert serving_colours(kubectl) == {"green"}
    # The failed colour went once the Service was switched back; the old one is as it was.
    assert deployments(kubectl) == {"reporting-service-green": "docker.io/erp-system/reporting:1.0.1"}


def test_back_to_rolling_the_colours_go_only_after_the_rolling_deployment_is_verified(kubectl, kubeconfig, inventory, k8s_client):
    result, events = watched(k8s_client, lambda: site(kubeconfig, inventory, "1.0.1", strategy="rolling"))
    assert result.rc == 0, result.tail()
    before(events, ("available", "reporting-service"), ("deleted", "reporting-service-green"))
    assert deployments(kubectl) == {"reporting-service": "docker.io/erp-system/reporting:1.0.1"}
    assert "erp.platform/colour" not in selector(kubectl)
    assert serving_colours(kubectl) == {""}
