"""No silent take-over: site.yml refuses to change an existing object that this instance does not manage.

An object that exists without this instance's app.kubernetes.io/managed-by and app.kubernetes.io/instance
labels (created by someone else, or by another tool) fails the run before anything is applied, naming the
object, its labels and its field managers, unless erp_adopt names it (as Helm refuses resources whose
ownership metadata is not its release's). An adopted object takes the collection's labels, and from then on
is this instance's. The namespace is such an object too: erp_namespace naming kube-system is refused.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-ownership"
OURS = {"app.kubernetes.io/managed-by": "erp.platform", "app.kubernetes.io/instance": "erp"}


def versions(kubectl, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of the namespace and of every object in it that kubectl lists (left out: events,
    and the leader-election leases that the controllers renew every few seconds)."""
    restless = ("events", "leases.coordination.k8s.io")
    kinds = [kind for kind in kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").stdout.split() if not kind.startswith(restless)]
    items = json.loads(kubectl("-n", namespace, "get", ",".join(kinds), "-o", "json").stdout)["items"]
    items.append(json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout))
    return {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in items}


def labels(kubectl, *what: str) -> dict:
    return json.loads(kubectl(*what, "-o", "json").stdout)["metadata"].get("labels") or {}


@pytest.fixture(scope="module")
def foreign_service(kubectl):
    """The namespace as an earlier run of this instance left it (its labels), plus a Service finance-service
    that someone else created with kubectl, which the catalog's finance service would take over."""
    deleted_namespace(kubectl, NAMESPACE)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": OURS}}
    kubectl("apply", "--server-side", "--field-manager", "erp.platform", "-f", "-", input_text=json.dumps(namespace))
    kubectl("-n", NAMESPACE, "create", "service", "clusterip", "finance-service", "--tcp=80:8080")
    # What kube-controller-manager adds to a new namespace and for a new Service, at a moment of its choosing:
    # waited for here, so that the tests' "nothing changed" compares what the run did, not what the controllers did.
    kubectl("-n", NAMESPACE, "wait", "--for=create", "serviceaccount/default", "configmap/kube-root-ca.crt", "endpoints/finance-service", "--timeout=60s")
    kubectl("-n", NAMESPACE, "wait", "--for=create", "endpointslices", "-l", "kubernetes.io/service-name=finance-service", "--timeout=60s")
    yield NAMESPACE
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_a_foreign_object_is_refused_naming_it_and_its_owner_and_nothing_changes(foreign_service, kubeconfig, kubectl, inventory):
    before = versions(kubectl, foreign_service)
    result = run_playbook("site.yml", inventory, {"erp_namespace": foreign_service}, kubeconfig=kubeconfig, timeout=900)
    assert result.returncode != 0, result.tail()
    assert "Traceback" not in result.output
    text = result.failure_text
    assert f"Service/finance-service in namespace {foreign_service}" in text, text
    assert "app.kubernetes.io/managed-by=<none>" in text, text
    assert "kubectl-create" in text, text
    assert "erp_adopt" in text, text
    assert "Nothing was changed" in text, text
    assert versions(kubectl, foreign_service) == before


def test_an_adopted_object_is_taken_over_and_labelled_then_updated_as_ours(foreign_service, kubeconfig, kubectl, inventory):
    adopted = run_playbook(
        "site.yml", inventory, {"erp_namespace": foreign_service, "erp_adopt": ["Service/finance-service"]}, kubeconfig=kubeconfig, timeout=900
    )
    assert adopted.returncode == 0, adopted.tail()
    service = labels(kubectl, "-n", foreign_service, "get", "service", "finance-service")
    assert {key: service.get(key) for key in OURS} == OURS
    # Ours now: a run without erp_adopt updates it as any object this instance created.
    again = run_playbook(
        "site.yml", inventory, {"erp_namespace": foreign_service, "erp_services": {"finance": {"replicas": 2}}}, kubeconfig=kubeconfig, timeout=900
    )
    assert again.returncode == 0, again.tail()
    assert json.loads(kubectl("-n", foreign_service, "get", "deployment", "finance-service", "-o", "json").stdout)["spec"]["replicas"] == 2


def test_a_system_namespace_is_refused_and_left_as_it_was(kubeconfig, kubectl, inventory):
    """erp_namespace: kube-system would be relabelled Pod Security restricted and get a default-deny policy."""
    before = versions(kubectl, "kube-system")
    result = run_playbook("site.yml", inventory, {"erp_namespace": "kube-system"}, kubeconfig=kubeconfig, timeout=900)
    assert result.returncode != 0, result.tail()
    assert "Traceback" not in result.output
    text = result.failure_text
    assert "Namespace/kube-system" in text, text
    assert "erp_adopt" in text, text
    assert versions(kubectl, "kube-system") == before
    assert "pod-security.kubernetes.io/enforce" not in labels(kubectl, "get", "namespace", "kube-system")
