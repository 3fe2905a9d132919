"""The run's plan turned into one apply_objects request: order, prune scopes, Secret values apart."""

from __future__ import annotations

import re

import pytest

from ansible_collections.erp.platform.plugins.module_utils.apply_plan import PlanError, request, with_secret_data

NAMESPACE_OBJ = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "erp"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "erp-secrets", "namespace": "erp"}, "data": {"DB_PASSWORD": "cHc="}}
CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "erp-config", "namespace": "erp"}, "data": {"a": "b"}}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "finance-service", "namespace": "erp", "labels": {"app.kubernetes.io/component": "service"}},
}
KINDS = [{"api_version": "apps/v1", "kind": "Deployment"}]

PLAN = [
    {"component": "namespace", "objects": [NAMESPACE_OBJ], "prune_kinds": [], "prune_keep": []},
    {"component": "config", "objects": [CONFIG, SECRET], "prune_kinds": [], "prune_keep": []},
    {"component": "service", "objects": [DEPLOYMENT], "prune_kinds": KINDS, "prune_keep": ["finance"]},
    {"component": "database", "objects": [], "prune_kinds": KINDS, "prune_keep": []},
]


def test_objects_keep_the_roles_order_and_secret_values_move_to_secret_data():
    result = request(PLAN, "erp", "erp")
    assert [obj["kind"] for obj in result["objects"]] == ["Namespace", "ConfigMap", "Secret", "Deployment"]
    assert "data" not in result["objects"][2]
    assert result["secret_data"] == {"erp/erp-secrets": {"data": {"DB_PASSWORD": "cHc="}}}
    assert SECRET["data"] == {"DB_PASSWORD": "cHc="}, "the plan itself is not changed"
    assert result["objects"][1]["data"] == {"a": "b"}, "a ConfigMap keeps its data"


def test_one_prune_scope_per_entry_that_prunes_selected_by_its_component():
    scopes = request(PLAN, "erp-system", "blue")["prune"]
    assert [scope["selector"] for scope in scopes] == [
        "app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/instance=blue,app.kubernetes.io/component=service",
        "app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/instance=blue,app.kubernetes.io/component=database",
    ]
    assert [scope["keep"] for scope in scopes] == [["finance"], []]
    assert {scope["namespace"] for scope in scopes} == {"erp-system"}
    assert all(scope["kinds"] == KINDS and scope["keep_label"] == "app.kubernetes.io/name" for scope in scopes)


def test_secret_data_goes_back_into_its_secret_and_stray_data_is_refused():
    result = request(PLAN, "erp", "erp")
    merged = with_secret_data(result["objects"], result["secret_data"])
    assert merged[2] == SECRET
    assert with_secret_data(result["objects"], {}) is result["objects"]
    with pytest.raises(ValueError, match="erp/other name no Secret"):
        with_secret_data(result["objects"], {"erp/other": {"data": {}}})


@pytest.mark.parametrize("bad", ["not a list", [{"objects": []}], [{"component": "x", "objects": "y"}]])
def test_a_malformed_plan_is_named(bad):
    with pytest.raises(PlanError):
        request(bad, "erp", "erp")


def test_an_entry_that_prunes_must_label_its_objects_with_its_component():
    drifted = [{"component": "datastores", "objects": [DEPLOYMENT], "prune_kinds": KINDS, "prune_keep": []}]
    with pytest.raises(PlanError, match=re.escape("Deployment finance-service: label app.kubernetes.io/component='service', but its role prunes by")):
        request(drifted, "erp", "erp")
    # Without a prune the label is not checked: nothing is selected by it.
    assert request([dict(drifted[0], prune_kinds=[])], "erp", "erp")["objects"] == [DEPLOYMENT]


def test_an_object_rendered_twice_is_refused_naming_both_roles():
    """A ninth service whose Service is another role's (or two entries with one name) would overwrite it."""
    twice = [
        {"component": "database", "objects": [dict(DEPLOYMENT, metadata={"name": "finance-service", "namespace": "erp"})], "prune_kinds": []},
        {"component": "service", "objects": [DEPLOYMENT], "prune_kinds": []},
    ]
    with pytest.raises(PlanError, match=re.escape("Deployment finance-service (namespace erp) is rendered twice, by database and by service")):
        request(twice, "erp", "erp")
    # The same name in another kind, another API group or another namespace is another object.
    other_kind = dict(DEPLOYMENT, kind="StatefulSet")
    other_group = dict(DEPLOYMENT, apiVersion="extensions.example.com/v1")
    other_namespace = dict(DEPLOYMENT, metadata={"name": "finance-service", "namespace": "other"})
    entries = [{"component": "service", "objects": [DEPLOYMENT, other_kind, other_group, other_namespace], "prune_kinds": []}]
    assert len(request(entries, "erp", "erp")["objects"]) == 4
    # A namespaced object without metadata.namespace lands in the run's namespace.
    implicit = dict(DEPLOYMENT, metadata={"name": "finance-service"})
    with pytest.raises(PlanError, match="rendered twice"):
        request([{"component": "service", "objects": [DEPLOYMENT, implicit], "prune_kinds": []}], "erp", "erp")


@pytest.mark.parametrize("component", ["", "Service", "my_role", "-x", "a" * 64])
def test_a_component_that_is_no_lowercase_name_is_refused_naming_the_variable(component):
    with pytest.raises(PlanError, match=re.escape(f"k8s_apply_component: got {component!r}; allowed: a lowercase name")):
        request([{"component": component, "objects": [CONFIG], "prune_kinds": []}], "erp", "erp")


def test_a_secret_keeps_every_other_field_and_the_plan_keeps_its_data():
    secret = dict(SECRET, type="Opaque", stringData={"x": "y"})
    result = request([{"component": "config", "objects": [secret], "prune_kinds": []}], "erp", "erp")
    assert result["objects"] == [{"apiVersion": "v1", "kind": "Secret", "metadata": SECRET["metadata"], "type": "Opaque"}]
    assert result["secret_data"] == {"erp/erp-secrets": {"data": SECRET["data"], "stringData": {"x": "y"}}}
    assert secret["stringData"] == {"x": "y"}
    assert secret["data"] == SECRET["data"]


@pytest.mark.parametrize("part", ["objects", "prune", "secret_data"])
def test_each_part_alone_equals_that_part_of_the_whole_request(part):
    assert request(PLAN, "erp", "blue", part) == request(PLAN, "erp", "blue")[part]


def test_the_secret_data_part_reads_no_label_and_a_part_still_checks_the_entries():
    drifted = [{"component": "datastores", "objects": [DEPLOYMENT, SECRET], "prune_kinds": KINDS, "prune_keep": []}]
    # The objects part refuses the drifted label; the Secret's data is the same whichever part computes it.
    with pytest.raises(PlanError, match="its role prunes by"):
        request(drifted, "erp", "erp", "objects")
    assert request(drifted, "erp", "erp", "secret_data") == {"erp/erp-secrets": {"data": {"DB_PASSWORD": "cHc="}}}
    with pytest.raises(PlanError, match="plan entry 0"):
        request([{"objects": []}], "erp", "erp", "prune")
    with pytest.raises(PlanError, match="k8s_apply_component: got 'Bad'"):
        request([{"component": "Bad", "objects": []}], "erp", "erp", "secret_data")


def test_an_unknown_part_is_refused_naming_the_parts():
    with pytest.raises(PlanError, match=re.escape("part: got 'all'; allowed: objects, prune, secret_data")):
        request(PLAN, "erp", "erp", "all")
