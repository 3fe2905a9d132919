"""Unit tests of plugins/module_utils/canary.py: which services start a canary release, and the stable pods' hash."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.plugins.module_utils.canary import current_hash, entries, releases
from ansible_collections.erp.platform.plugins.module_utils.service_catalog import build_catalog
from ansible_collections.erp.platform.tests.unit import fixtures

REPO = Path(__file__).resolve().parents[4]
BUILTIN = yaml.safe_load((REPO / "roles" / "erp" / "defaults" / "main.yml").read_text())["erp_service_catalog_builtin"]
STEPS = [{"weight": 25, "pause": 30}]


def services(tag="1.0.1", **finance):
    return build_catalog(copy.deepcopy(BUILTIN), {"finance": {"strategy": "canary", "canary": {"steps": STEPS, **finance}}}, tag=tag)


def stable(revision="3", image="docker.io/erp-system/finance:1.0.0"):
    dep = fixtures.deployment(revision=revision)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return dep


def replicasets(dep):
    """An older ReplicaSet (revision 2) and the current one (revision 3) of the Deployment."""
    return [fixtures.replicaset(dep, 2, "oldhash"), fixtures.replicaset(dep, 3, "newhash")]


def test_a_canary_service_whose_image_changes_starts_a_release():
    dep = stable()
    (release,) = releases(services(), [dep], replicasets(dep))
    assert release == {
        "name": "finance",
        "service_name": "finance-service",
        "canary_name": "finance-service-canary",
        "stable_name": "finance-service-stable",
        "from_image": "docker.io/erp-system/finance:1.0.0",
        "to_image": "docker.io/erp-system/finance:1.0.1",
        "stable_hash": "newhash",
        "replicas": 1,
        "steps": [{"weight": 25, "pause": 30, "gate": None}],
        "promotion": "auto",
        "header": None,
    }


@pytest.mark.parametrize(
    ("catalog", "deployments"),
    [
        (services(tag="1.0.0"), "stable"),  # the image does not change
        (services(), "none"),  # the first install: no Deployment yet
        (build_catalog(copy.deepcopy(BUILTIN), {}, tag="1.0.1"), "stable"),  # strategy rolling
    ],
    ids=["same-image", "first-install", "rolling"],
)
def test_no_release_when_nothing_to_compare_or_not_canary(catalog, deployments):
    dep = stable()
    assert releases(catalog, [dep] if deployments == "stable" else [], replicasets(dep)) == []


def test_entries_are_the_canary_services_in_catalog_order():
    overrides = {"sales": {"strategy": "canary"}, "finance": {"strategy": "canary"}, "hr": {"strategy": "blue_green"}}
    catalog = build_catalog(copy.deepcopy(BUILTIN), overrides, tag="1.0.0")
    assert [entry["name"] for entry in entries(catalog)] == [entry["name"] for entry in catalog if entry["name"] in ("finance", "sales")]
    assert len(entries(catalog)) == 2
    assert entries([]) == []
    assert entries(None) == []


def test_promote_starts_no_release():
    dep = stable()
    assert releases(services(), [dep], replicasets(dep), promote=True) == []


def test_the_settings_come_from_the_catalog():
    dep = stable()
    (release,) = releases(services(replicas=2, promotion="manual", header="X-Canary"), [dep], replicasets(dep))
    assert (release["replicas"], release["promotion"], release["header"]) == (2, "manual", "X-Canary")


def test_current_hash_is_the_replicaset_of_the_deployments_revision_it_controls():
    dep = stable(revision="2")
    assert current_hash(dep, replicasets(dep)) == "oldhash"
    other = copy.deepcopy(replicasets(dep)[0])
    other["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    assert current_hash(dep, [other]) is None
    assert current_hash({"metadata": {"uid": "x"}}, replicasets(dep)) is None


def test_a_missing_current_replicaset_is_an_error_that_says_what_to_do():
    dep = stable(revision="4")
    with pytest.raises(ValueError, match=r"finance-service: the Deployment runs docker.io/erp-system/finance:1.0.0 but its current ReplicaSet \(revision 4\)"):
        releases(services(), [dep], replicasets(dep))
