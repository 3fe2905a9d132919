"""apply_objects, write_manifests and cluster_facts: interfaces, and the logic that needs no cluster."""

import json
import os
import re
import stat

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erp.platform.plugins.module_utils import k8s_module
from ansible_collections.erp.platform.plugins.module_utils import k8s_objects as ko
from ansible_collections.erp.platform.plugins.modules import apply_objects, cluster_facts, write_manifests
from ansible_collections.erp.platform.tests.unit.fixtures import FakeApi, api_error, manifest_deployment, manifest_service_account


def own_options(module, spec):
    return {name: value for name, value in spec.items() if name not in k8s_module.AUTH_ARG_SPEC}


def compare(doc_options, spec_options):
    assert set(doc_options) == set(spec_options)
    for name, option in doc_options.items():
        assert option.get("type", "str") == spec_options[name].get("type", "str"), name
        assert option.get("default") == spec_options[name].get("default"), name
        assert bool(option.get("required")) == bool(spec_options[name].get("required")), name
        if "suboptions" in option:
            compare(option["suboptions"], spec_options[name]["options"])


@pytest.mark.parametrize("module", [apply_objects, cluster_facts])
def test_documented_options_match_argument_spec(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    compare(doc["options"], own_options(module, module.argument_spec()))
    assert "kubernetes.core.k8s_auth_options" in doc["extends_documentation_fragment"]
    assert yaml.safe_load(module.EXAMPLES)
    assert yaml.safe_load(module.RETURN)


def run_module(module, args, capsys, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        module.main()
    result = json.loads(capsys.readouterr().out)
    result["rc"] = exited.value.code
    return result


def test_write_manifests_writes_once_prunes_and_checks(tmp_path, capsys):
    target = tmp_path / "service"
    objects = [manifest_service_account("a"), manifest_deployment("a"), manifest_deployment("b")]
    first = run_module(write_manifests, {"path": str(target), "objects": objects}, capsys)
    assert first["rc"] == 0
    assert first["changed"] is True
    assert sorted(os.listdir(target)) == ["deployment-a.yaml", "deployment-b.yaml", "serviceaccount-a.yaml"]
    text = (target / "deployment-a.yaml").read_text()
    assert text.startswith("---\n")
    assert list(yaml.safe_load_all(text)) == [manifest_deployment("a")]
    assert stat.S_IMODE((target / "deployment-a.yaml").stat().st_mode) == 0o644

    again = run_module(write_manifests, {"path": str(target), "objects": objects}, capsys)
    assert again["changed"] is False
    assert again["unchanged"] == 3

    (target / "notes.txt").write_text("not a manifest")
    checked = run_module(write_manifests, {"path": str(target), "objects": objects[:2]}, capsys, check_mode=True, diff=True)
    assert checked["changed"] is True
    assert checked["removed"] == [str(target / "deployment-b.yaml")]
    assert (target / "deployment-b.yaml").exists()
    assert checked["diff"][0]["after"] == ""

    pruned = run_module(write_manifests, {"path": str(target), "objects": objects[:2]}, capsys)
    assert pruned["removed"] == [str(target / "deployment-b.yaml")]
    assert sorted(os.listdir(target)) == ["deployment-a.yaml", "notes.txt", "serviceaccount-a.yaml"]

    # Only the permissions change (a component switched to no_log): reported, and done outside check mode.
    checked = run_module(write_manifests, {"path": str(target), "objects": objects[:2], "mode": "0600"}, capsys, check_mode=True)
    assert checked["changed"] is True
    assert stat.S_IMODE((target / "deployment-a.yaml").stat().st_mode) == 0o644
    private = run_module(write_manifests, {"path": str(target), "objects": objects[:2], "mode": "0600"}, capsys)
    assert private["changed"] is True
    # The directory of private files becomes private too (it was made 0755 for the public ones).
    assert sorted(private["written"]) == [str(target), str(target / "deployment-a.yaml"), str(target / "serviceaccount-a.yaml")]
    assert stat.S_IMODE((target / "deployment-a.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert run_module(write_manifests, {"path": str(target), "objects": objects[:2], "mode": "0600"}, capsys)["changed"] is False


def test_write_manifests_diff_hides_secret_values(tmp_path, capsys):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "erp"}, "stringData": {"token": "first-secret"}}
    run_module(write_manifests, {"path": str(tmp_path), "objects": [secret], "mode": "0600"}, capsys)
    secret["stringData"]["token"] = "second-secret"
    changed = run_module(write_manifests, {"path": str(tmp_path), "objects": [secret], "mode": "0600"}, capsys, diff=True)
    assert changed["changed"] is True
    shown = json.dumps(changed["diff"])
    assert "first-secret" not in shown
    assert "second-secret" not in shown
    assert "<hidden>" in changed["diff"][0]["after"]
    assert "second-secret" in (tmp_path / "secret-s.yaml").read_text()
    removed = run_module(write_manifests, {"path": str(tmp_path), "objects": []}, capsys, diff=True)
    assert "second-secret" not in json.dumps(removed["diff"])


def test_write_manifests_refuses_bad_objects_and_modes(tmp_path, capsys):
    bad = run_module(write_manifests, {"path": str(tmp_path), "objects": [{"kind": "Service"}]}, capsys)
    assert bad["failed"] is True
    assert bad["msg"] == "objects: objects[0]: missing apiVersion, metadata.name"
    twice = run_module(write_manifests, {"path": str(tmp_path), "objects": [manifest_deployment("a"), manifest_deployment("a")]}, capsys)
    assert twice["msg"] == "objects: two objects would both be written to deployment-a.yaml"
    mode = run_module(write_manifests, {"path": str(tmp_path), "objects": [], "mode": "rw"}, capsys)
    assert mode["msg"] == "mode: got 'rw'; allowed: an octal string such as 0644"
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe not text")
    binary = run_module(write_manifests, {"path": str(tmp_path), "objects": [manifest_deployment("a")]}, capsys)
    assert binary["msg"].startswith(f"cannot write the manifests into {tmp_path}: 'utf-8' codec can't decode")
    (tmp_path / "binary.yaml").unlink()
    (tmp_path / "deployment-a.yaml").unlink()
    sneaky = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "../x"}}
    escaped = run_module(write_manifests, {"path": str(tmp_path), "objects": [sneaky]}, capsys)
    assert "is not a plain file name" in escaped["msg"]
    assert os.listdir(tmp_path) == []


PRUNE = {
    "namespace": "erp",
    "selector": "app.kubernetes.io/managed-by=erp.platform",
    "keep_label": "app.kubernetes.io/name",
    "keep": ["a"],
    "kinds": [{"api_version": "apps/v1", "kind": "Deployment", "keep": None}, {"api_version": "v1", "kind": "ServiceAccount", "keep": ["a", "b"]}],
}


def params(objects, prune=None, parallel=2):
    return {"objects": objects, "field_manager": "erp.platform", "force_conflicts": True, "parallel": parallel, "prune": [prune] if prune else []}


def test_apply_all_applies_then_prunes_what_is_not_kept(tmp_path):
    api = FakeApi()
    cluster = ko.Cluster(api)
    entries, diffs = [], []
    ko.apply_all(
        cluster,
        params([manifest_deployment("a"), manifest_deployment("b"), manifest_service_account("b"), manifest_service_account("c")]),
        False,
        False,
        entries,
        diffs,
    )
    assert [item["action"] for item in entries] == ["created"] * 4

    entries = []
    # b is no longer wanted, but it is applied by this call: never pruned. c is neither kept nor applied.
    ko.apply_all(cluster, params([manifest_deployment("a"), manifest_deployment("b")], PRUNE), False, True, entries, diffs)
    assert [(item["kind"], item["name"], item["action"]) for item in entries] == [
        ("Deployment", "a", "unchanged"),
        ("Deployment", "b", "unchanged"),
        ("ServiceAccount", "c", "deleted"),
    ]
    assert diffs[-1]["before_header"] == "ServiceAccount/c in namespace erp"
    assert diffs[-1]["after"] == ""

    entries = []
    ko.apply_all(cluster, params([manifest_deployment("a")], PRUNE), True, False, entries, [])
    assert [(item["kind"], item["name"], item["action"]) for item in entries] == [("Deployment", "a", "unchanged"), ("Deployment", "b", "deleted")]
    assert "/apis/apps/v1/namespaces/erp/deployments/b" in api.store  # check mode deletes nothing


def test_apply_all_refuses_to_prune_cluster_scoped_kinds_before_applying():
    api = FakeApi()
    prune = dict(PRUNE, kinds=[{"api_version": "v1", "kind": "Namespace", "keep": None}])
    with pytest.raises(ko.ObjectError, match=re.escape("prune.kinds: Namespace is cluster-scoped; allowed: namespaced kinds")):
        ko.apply_all(ko.Cluster(api), params([manifest_deployment("a")], prune), False, False, [], [])
    assert api.store == {}


def test_apply_all_diff_hides_secret_values():
    cluster = ko.Cluster(FakeApi())
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "erp"}, "spec": {"type": "ClusterIP"}}
    diffs = []
    ko.apply_all(cluster, params([svc]), False, True, [], diffs)
    assert diffs[0]["before"] == ""
    assert "ClusterIP" in diffs[0]["after"]
    text = ko.yaml_text({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "resourceVersion": "3"}, "data": {"k": "c2VjcmV0"}})
    assert "c2VjcmV0" not in text
    assert "<hidden>" in text
    assert "resourceVersion" not in text


def test_apply_objects_refuses_bad_input_before_connecting(capsys):
    bad = run_module(apply_objects, {"objects": [{"apiVersion": "v1", "metadata": {"name": "x"}}]}, capsys)
    assert bad["msg"] == "objects: objects[0]: missing kind"
    parallel = run_module(apply_objects, {"objects": [], "parallel": 0}, capsys)
    assert parallel["msg"] == "parallel: got 0; allowed: 1 or more"
    prune = dict(PRUNE, selector=" ")
    empty = run_module(apply_objects, {"objects": [], "prune": [PRUNE, prune]}, capsys)
    assert empty["msg"] == "prune[1].selector: got an empty selector; allowed: a non-empty label selector"
    stray = run_module(apply_objects, {"objects": [], "secret_data": {"erp/erp-secrets": {"data": {"k": "dg=="}}}}, capsys)
    assert stray["msg"] == "secret_data: erp/erp-secrets name no Secret of objects"


def test_cluster_facts_looks_up_by_name_lists_and_reports_unserved_kinds():
    cluster = ko.Cluster(FakeApi())
    cluster.apply(manifest_deployment("a"), "m", True)
    cluster.apply(manifest_service_account("x"), "m", True)
    found = cluster_facts.look_up(cluster, {"api_version": "apps/v1", "kind": "Deployment", "name": "a", "namespace": "erp"})
    assert found["served"] is True
    assert [item["metadata"]["name"] for item in found["resources"]] == ["a"]
    missing = cluster_facts.look_up(cluster, {"api_version": "apps/v1", "kind": "Deployment", "name": "zz", "namespace": "erp"})
    assert missing["resources"] == []
    listed = cluster_facts.look_up(cluster, {"api_version": "v1", "kind": "ServiceAccount", "name": None, "namespace": "erp"})
    assert [item["kind"] for item in listed["resources"]] == ["ServiceAccount"]
    crd = cluster_facts.look_up(cluster, {"api_version": "dapr.io/v1alpha1", "kind": "Component", "name": "pubsub", "namespace": "erp"})
    assert crd["served"] is False
    assert crd["resources"] == []
    assert crd["error"] is None
    bare = cluster_facts.look_up(cluster, {"api_version": "v1", "kind": "ServiceAccount", "name": None, "namespace": None})
    assert bare["error"] == "ServiceAccount is namespaced: set the lookup's namespace"


def test_cluster_facts_reports_a_refused_lookup_in_its_entry():
    api = FakeApi()
    api.fail[("GET", "/api/v1/namespaces/erp/serviceaccounts")] = api_error(403, 'serviceaccounts is forbidden: User "x" cannot list resource')
    entry = cluster_facts.look_up(ko.Cluster(api), {"api_version": "v1", "kind": "ServiceAccount", "name": None, "namespace": "erp"})
    assert entry["served"] is True
    assert entry["resources"] == []
    assert entry["error"] == '403 Forbidden: serviceaccounts is forbidden: User "x" cannot list resource'


def test_cluster_facts_reads_one_namespaced_object_by_name_and_names_its_namespace():
    """Preflight's read of Dapr's sidecar injector: a get by name in another namespace, or the 403 that refuses it."""
    api = FakeApi()
    cluster = ko.Cluster(api)
    injector = manifest_deployment("dapr-sidecar-injector")
    injector["metadata"]["namespace"] = "dapr-system"
    cluster.apply(injector, "m", True)
    lookup = {"api_version": "apps/v1", "kind": "Deployment", "name": "dapr-sidecar-injector", "namespace": "dapr-system"}
    entry = cluster_facts.look_up(cluster, lookup)
    assert (entry["namespace"], entry["name"], entry["error"]) == ("dapr-system", "dapr-sidecar-injector", None)
    assert [item["metadata"]["namespace"] for item in entry["resources"]] == ["dapr-system"]
    assert cluster_facts.look_up(cluster, dict(lookup, namespace="erp"))["resources"] == []
    api.fail[("GET", "/apis/apps/v1/namespaces/dapr-system/deployments/dapr-sidecar-injector")] = api_error(
        403, 'deployments.apps "dapr-sidecar-injector" is forbidden: User "x" cannot get resource "deployments" in the namespace "dapr-system"'
    )
    refused = cluster_facts.look_up(cluster, lookup)
    assert refused["resources"] == []
    assert refused["error"].startswith('403 Forbidden: deployments.apps "dapr-sidecar-injector" is forbidden')
