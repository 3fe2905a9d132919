"""k8s_objects without a cluster: discovery, change detection, ordering, pruning, error messages.

The ApiClient is replaced by FakeApi, an in-memory store that answers the handful of
requests Cluster makes (discovery, GET, apply PATCH, LIST, DELETE). The behaviour on a real
API server is covered by tests/integration.
"""

import json

import pytest

from ansible_collections.erp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.erp.platform.plugins.module_utils.manifests import HIDDEN, LAST_APPLIED, check_manifests, describe, object_key, redacted
from ansible_collections.erp.platform.tests.unit.fixtures import DISCOVERY, FakeApi, api_error, manifest_deployment, manifest_service_account


def test_apply_reports_created_then_unchanged_then_configured():
    api = FakeApi()
    cluster = ko.Cluster(api)
    assert cluster.apply(manifest_deployment("a"), "erp.platform", True)[0] == "created"
    assert cluster.apply(manifest_deployment("a"), "erp.platform", True)[0] == "unchanged"
    action, before, after = cluster.apply(manifest_deployment("a", replicas=3), "erp.platform", True)
    assert action == "configured"
    assert before["spec"]["replicas"] == 1
    assert after["spec"]["replicas"] == 3
    patch = [call for call in api.calls if call[0] == "PATCH"][-1]
    assert patch[1] == "/apis/apps/v1/namespaces/erp/deployments/a"
    assert patch[2] == {"fieldManager": "erp.platform", "force": "true"}


def test_status_and_server_metadata_do_not_count_as_a_change():
    before = manifest_deployment("a")
    before["metadata"].update(resourceVersion="7", generation=2, uid="u", managedFields=[{"manager": "x"}], creationTimestamp="t")
    before["status"] = {"readyReplicas": 1}
    assert ko.comparable(before) == ko.comparable(manifest_deployment("a"))
    assert ko.comparable(before) != ko.comparable(manifest_deployment("a", replicas=2))
    assert "status" in before
    assert "uid" in before["metadata"]
    assert ko.comparable(None) is None


def test_check_mode_is_a_server_dry_run_and_stores_nothing():
    api = FakeApi()
    cluster = ko.Cluster(api)
    assert cluster.apply(manifest_deployment("a"), "m", True, dry_run=True)[0] == "created"
    assert api.store == {}
    assert [call[2].get("dryRun") for call in api.calls if call[0] == "PATCH"] == ["All"]


def test_check_mode_in_a_namespace_this_run_did_not_create_counts_as_created():
    api = FakeApi()
    api.fail[("PATCH", "/apis/apps/v1/namespaces/erp/deployments/a")] = api_error(404, 'namespaces "erp" not found')
    cluster = ko.Cluster(api)
    assert cluster.apply(manifest_deployment("a"), "m", True, dry_run=True)[0] == "created"
    with pytest.raises(ko.ObjectError, match='Deployment/a in namespace erp: 404 Not Found: namespaces "erp" not found'):
        cluster.apply(manifest_deployment("a"), "m", True)


def test_rejected_object_is_named_with_the_servers_reason():
    api = FakeApi()
    api.fail[("PATCH", "/api/v1/namespaces/erp/services/web")] = api_error(422, 'Service "web" is invalid: spec.ports: Required value')
    cluster = ko.Cluster(api)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "erp"}}
    with pytest.raises(ko.ObjectError) as raised:
        cluster.apply(svc, "m", True)
    assert str(raised.value) == 'Service/web in namespace erp: 422 Unprocessable Entity: Service "web" is invalid: spec.ports: Required value'


def test_unknown_group_and_kind_and_missing_namespace_are_explained():
    cluster = ko.Cluster(FakeApi())
    crd = {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "pubsub", "namespace": "erp"}}
    with pytest.raises(ko.ObjectError, match=r"Component/pubsub in namespace erp: the cluster does not serve API version dapr.io/v1alpha1"):
        cluster.apply(crd, "m", True)
    odd = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "a", "namespace": "erp"}}
    with pytest.raises(ko.ObjectError, match=r"serves no kind Deploymnet in apps/v1; it serves Deployment$"):
        cluster.apply(odd, "m", True)
    bare = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}}
    with pytest.raises(ko.ObjectError, match=r"Deployment/a: Deployment is namespaced: set metadata.namespace"):
        cluster.apply(bare, "m", True)


def test_discovery_is_one_request_per_group_version_and_skips_subresources():
    api = FakeApi()
    cluster = ko.Cluster(api)
    for name in "abc":
        cluster.apply(manifest_deployment(name), "m", True)
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "erp"}}, "m", True)
    discovery = [call for call in api.calls if call[1] in DISCOVERY]
    assert [call[1] for call in discovery] == ["/apis/apps/v1", "/api/v1"]
    assert cluster.resource("apps/v1", "Deployment") == ("deployments", True)
    assert cluster.path("v1", "Namespace", None, "erp") == "/api/v1/namespaces/erp"


def test_kind_runs_keep_the_order_of_kinds():
    objects = [manifest_service_account("a"), manifest_service_account("b"), manifest_deployment("a"), manifest_service_account("c"), manifest_deployment("b")]
    runs = ko.kind_runs(objects)
    assert [[obj["kind"] for obj in run] for run in runs] == [["ServiceAccount", "ServiceAccount"], ["Deployment"], ["ServiceAccount"], ["Deployment"]]
    assert ko.kind_runs([]) == []


def test_apply_in_order_runs_one_kind_at_a_time_in_parallel_within_it():
    api = FakeApi(delay=0.02)
    cluster = ko.Cluster(api)
    objects = [manifest_service_account(f"sa{i}") for i in range(6)] + [manifest_deployment(f"d{i}") for i in range(6)]
    done = ko.apply_in_order(cluster, objects, "m", True, parallel=4)
    assert [item[0]["metadata"]["name"] for item in done] == [obj["metadata"]["name"] for obj in objects]
    assert {item[1] for item in done} == {"created"}
    assert api.max_active > 1
    patches = [span for span in api.spans if span[0] == "PATCH"]
    last_sa_finished = max(span[3] for span in patches if "/serviceaccounts/" in span[1])
    first_deployment_started = min(span[2] for span in patches if "/deployments/" in span[1])
    # The barrier between kinds: no Deployment request starts before every ServiceAccount is applied.
    assert first_deployment_started >= last_sa_finished


def test_apply_in_order_stops_after_a_failure_and_keeps_what_was_done():
    api = FakeApi()
    api.fail[("PATCH", "/api/v1/namespaces/erp/serviceaccounts/sa1")] = api_error(422, "bad")
    cluster = ko.Cluster(api)
    done = []
    objects = [manifest_service_account("sa0"), manifest_service_account("sa1"), manifest_service_account("sa2"), manifest_deployment("d0")]
    with pytest.raises(ko.ObjectError, match="ServiceAccount/sa1 in namespace erp: 422"):
        ko.apply_in_order(cluster, objects, "m", True, parallel=1, done=done)
    assert [item[0]["metadata"]["name"] for item in done] == ["sa0"]
    patched = [call[1].rsplit("/", 1)[1] for call in api.calls if call[0] == "PATCH"]
    assert patched == ["sa0", "sa1"]


def test_apply_in_order_records_every_object_applied_before_a_transport_error():
    api = FakeApi(delay=0.01)
    api.fail[("PATCH", "/api/v1/namespaces/erp/serviceaccounts/sa0")] = ConnectionResetError("connection reset by peer")
    cluster = ko.Cluster(api)
    done = []
    objects = [manifest_service_account(f"sa{i}") for i in range(4)]
    with pytest.raises(ko.ObjectError, match="ServiceAccount/sa0 in namespace erp: request failed: ConnectionResetError: connection reset by peer"):
        ko.apply_in_order(cluster, objects, "m", True, parallel=4, done=done)
    applied = {path.rsplit("/", 1)[1] for path in api.store}
    assert {item[0]["metadata"]["name"] for item in done} == applied
    assert applied == {"sa1", "sa2", "sa3"}


def test_apply_in_order_names_the_object_whose_group_is_not_served():
    cluster = ko.Cluster(FakeApi())
    crd = {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "pubsub", "namespace": "erp"}}
    with pytest.raises(ko.ObjectError, match="Component/pubsub in namespace erp: the cluster does not serve"):
        ko.apply_in_order(cluster, [crd], "m", True)


def test_list_fills_in_kind_and_delete_tolerates_objects_already_gone():
    api = FakeApi()
    cluster = ko.Cluster(api)
    cluster.apply(manifest_deployment("a"), "m", True)
    cluster.apply(manifest_deployment("b", labels={"app.kubernetes.io/name": "other"}), "m", True)
    items = cluster.list("apps/v1", "Deployment", "erp", "app.kubernetes.io/name=a")
    assert [(item["apiVersion"], item["kind"], item["metadata"]["name"]) for item in items] == [("apps/v1", "Deployment", "a")]
    assert [call[2] for call in api.calls if call[1] == "/apis/apps/v1/namespaces/erp/deployments"] == [{"labelSelector": "app.kubernetes.io/name=a"}]
    assert cluster.delete(items[0], dry_run=True) is True
    assert api.store
    assert cluster.delete(items[0]) is True
    assert cluster.delete(items[0]) is False
    delete = [call for call in api.calls if call[0] == "DELETE"][-1]
    assert delete[2] == {"propagationPolicy": "Background"}


def test_prune_skips_a_group_version_the_cluster_does_not_serve_but_not_a_missing_kind_of_a_served_one():
    """No CRD, no objects: pruning HTTPRoutes where Gateway API is not installed deletes nothing and fails nothing."""
    api = FakeApi()
    cluster = ko.Cluster(api)
    cluster.apply(manifest_deployment("stale"), "m", True)
    scope = {"namespace": "erp", "selector": "app.kubernetes.io/managed-by=erp.platform", "keep_label": "app.kubernetes.io/name", "keep": []}
    params = {"objects": [], "field_manager": "m", "force_conflicts": True, "parallel": 8}
    unserved = {"api_version": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "keep": None}
    deployments = {"api_version": "apps/v1", "kind": "Deployment", "keep": None}
    entries = []
    ko.apply_all(cluster, dict(params, prune=[dict(scope, kinds=[unserved, deployments])]), False, False, entries, [])
    assert [(e["kind"], e["name"], e["action"]) for e in entries] == [("Deployment", "stale", "deleted")]
    assert not [call for call in api.calls if "gateway.networking.k8s.io/v1/" in call[1]]
    typo = {"api_version": "apps/v1", "kind": "Deploymnet", "keep": None}
    with pytest.raises(ko.ObjectError, match=r"prune\.kinds: Deploymnet: the cluster serves no kind Deploymnet in apps/v1"):
        ko.apply_all(cluster, dict(params, prune=[dict(scope, kinds=[typo])]), False, False, [], [])


def test_prune_candidates_keep_by_label_and_never_touch_protected_objects():
    items = [
        manifest_deployment("finance"),
        manifest_deployment("sales"),
        manifest_deployment("nolabel", labels={}),
        manifest_deployment("gateway"),
    ]
    protected = {object_key(manifest_deployment("gateway"))}
    doomed = ko.prune_candidates(items, {"finance"}, "app.kubernetes.io/name", protected)
    assert [item["metadata"]["name"] for item in doomed] == ["sales", "nolabel"]


def test_redacted_hides_secret_values_and_kubectls_copy_of_them():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "annotations": {LAST_APPLIED: '{"data":{"a":"c2VjcmV0"}}', "team": "erp"}},
        "data": {"a": "c2VjcmV0"},
        "stringData": {"b": "secret"},
    }
    hidden = redacted(secret)
    assert hidden["data"] == {"a": HIDDEN}
    assert hidden["stringData"] == {"b": HIDDEN}
    assert hidden["metadata"]["annotations"] == {LAST_APPLIED: HIDDEN, "team": "erp"}
    assert "c2VjcmV0" not in json.dumps(hidden)
    assert secret["data"]["a"] == "c2VjcmV0"
    config = {"kind": "ConfigMap", "data": {"a": "visible"}}
    assert redacted(config) is config
    assert redacted(None) is None


def test_check_manifests_names_each_bad_item():
    errors = check_manifests(
        [manifest_deployment("a"), "text", {"kind": "Service", "metadata": {}}, {"apiVersion": "v1", "kind": "", "metadata": {"name": "x"}}]
    )
    assert errors == [
        "objects[1]: got str; allowed: a mapping",
        "objects[2]: missing apiVersion, metadata.name",
        "objects[3]: missing kind",
    ]
    assert describe("v1", "Namespace", None, "erp") == "Namespace/erp"


OWNER = {"app.kubernetes.io/managed-by": "erp.platform", "app.kubernetes.io/instance": "erp"}


def owned_params(objects, adopt=()):
    return {
        "objects": objects, "field_manager": "erp.platform", "force_conflicts": True, "parallel": 8, "prune": [],
        "owner_labels": OWNER, "adopt": list(adopt), "adopt_var": "erp_adopt",
    }  # fmt: skip


def test_a_foreign_object_is_refused_before_any_object_is_applied():
    """Helm's rule: an object that exists without this instance's labels is not taken over by the forced apply."""
    api = FakeApi()
    cluster = ko.Cluster(api)
    cluster.apply(manifest_deployment("b", labels={"app.kubernetes.io/instance": "other"}), "kubectl-create", True)
    api.calls.clear()
    objects = [manifest_service_account("a"), manifest_deployment("a", labels=OWNER), manifest_deployment("b", labels=OWNER)]
    with pytest.raises(ko.ObjectError) as failure:
        ko.apply_all(cluster, owned_params(objects), False, False, [], [])
    message = str(failure.value)
    assert "refusing to change 1 existing object(s)" in message
    assert "Deployment/b in namespace erp" in message
    assert "app.kubernetes.io/managed-by=<none>, app.kubernetes.io/instance=other" in message
    assert "name it in erp_adopt" in message
    assert [call for call in api.calls if call[0] == "PATCH"] == []
    assert ("apps/v1", "Deployment", "erp", "a") not in {object_key(obj) for obj in api.store.values()}


@pytest.mark.parametrize("adopt", [["Deployment/b"], ["Deployment/erp/b"]])
def test_an_adopted_object_is_applied_and_takes_the_labels(adopt):
    api = FakeApi()
    cluster = ko.Cluster(api)
    cluster.apply(manifest_deployment("b", labels={}), "kubectl-create", True)
    entries = []
    ko.apply_all(cluster, owned_params([manifest_deployment("b", labels=OWNER)], adopt), False, False, entries, [])
    assert [(e["name"], e["action"]) for e in entries] == [("b", "configured")]
    assert api.store[next(key for key in api.store if "deployments/b" in str(key))]["metadata"]["labels"] == OWNER
    # Owned now: applied without adopt, and objects that do not exist yet are created as before.
    entries = []
    ko.apply_all(cluster, owned_params([manifest_deployment("b", labels=OWNER), manifest_deployment("c", labels=OWNER)]), False, False, entries, [])
    assert [(e["name"], e["action"]) for e in entries] == [("b", "unchanged"), ("c", "created")]


def test_adopt_entries_name_kind_and_name_optionally_with_the_namespace():
    key = ("v1", "Service", "erp-system", "billing-service")
    assert ko.adopt_key_matches("Service/billing-service", key)
    assert ko.adopt_key_matches("Service/erp-system/billing-service", key)
    assert not ko.adopt_key_matches("Service/other/billing-service", key)
    assert not ko.adopt_key_matches("Deployment/billing-service", key)
    assert ko.adopt_key_matches("Namespace/kube-system", ("v1", "Namespace", None, "kube-system"))


def test_every_object_is_read_once_before_the_first_apply():
    api = FakeApi()
    cluster = ko.Cluster(api)
    objects = [manifest_service_account("a"), manifest_deployment("a", labels=OWNER)]
    ko.apply_all(cluster, owned_params(objects), False, False, [], [])
    methods = [call[0] for call in api.calls if call[1].startswith(("/api/v1/namespaces", "/apis/apps/v1/namespaces"))]
    assert methods == ["GET", "GET", "PATCH", "PATCH"]
