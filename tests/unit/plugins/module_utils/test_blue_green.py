"""Unit tests of plugins/module_utils/blue_green.py: which colour serves, which one a run deploys, when it switches."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.plugins.module_utils.blue_green import entries, states
from ansible_collections.erp.platform.plugins.module_utils.service_catalog import build_catalog
from ansible_collections.erp.platform.tests.unit import fixtures

REPO = Path(__file__).resolve().parents[4]
BUILTIN = yaml.safe_load((REPO / "roles" / "erp" / "defaults" / "main.yml").read_text())["erp_service_catalog_builtin"]
V1, V2 = "docker.io/erp-system/finance:1.0.0", "docker.io/erp-system/finance:1.0.1"


def services(tag="1.0.1"):
    return build_catalog(copy.deepcopy(BUILTIN), {"finance": {"strategy": "blue_green", "blue_green": {"delay": 30}}}, tag=tag)


def deployment(name, image=V1, revision="1"):
    dep = fixtures.deployment(name=name, revision=revision)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return dep


def service(colour=None):
    selector = {"app.kubernetes.io/name": "finance", "app.kubernetes.io/instance": "erp"}
    if colour:
        selector["erp.platform/colour"] = colour
    return fixtures.service(name="finance-service", selector=selector)


def only(result):
    (state,) = result
    return state


def test_the_first_install_deploys_blue_and_serves_it():
    state = only(states(services(), [], [], []))
    assert state == {
        "name": "finance",
        "service_name": "finance-service",
        "active": None,
        "deploy": "blue",
        "serve": {"erp.platform/colour": "blue"},
        "preview": None,
        "keep": ["finance-blue"],
        "release": None,
    }


def test_the_serving_colour_on_the_catalogs_image_is_steady():
    state = only(states(services(tag="1.0.0"), [deployment("finance-service-green")], [service("green")], []))
    assert (state["active"], state["deploy"], state["serve"], state["preview"], state["release"]) == (
        "green",
        "green",
        {"erp.platform/colour": "green"},
        None,
        None,
    )
    assert state["keep"] == ["finance-green"]


def test_a_new_image_deploys_the_other_colour_and_keeps_serving_the_old_one():
    state = only(states(services(), [deployment("finance-service-blue"), deployment("finance-service-green", V1)], [service("blue")], []))
    assert (state["active"], state["deploy"], state["serve"], state["preview"]) == ("blue", "green", {"erp.platform/colour": "blue"}, "green")
    assert state["keep"] == ["finance-blue", "finance-green"]
    assert state["release"] == {
        "from": "blue",
        "to": "green",
        "from_image": V1,
        "to_image": V2,
        "delay": 30,
        "from_label": "finance-blue",
        "deployment": "finance-service-green",
        "from_deployment": "finance-service-blue",
    }


def test_leaving_the_rolling_strategy_is_a_release_to_blue_that_serves_the_old_pods_by_their_hash():
    legacy = deployment("finance-service", V2, revision="3")
    sets = [fixtures.replicaset(legacy, 2, "older"), fixtures.replicaset(legacy, 3, "current")]
    state = only(states(services(), [legacy], [service()], sets))
    assert (state["active"], state["deploy"], state["serve"], state["preview"]) == ("legacy", "blue", {"pod-template-hash": "current"}, "blue")
    assert state["keep"] == ["finance", "finance-blue"]
    assert state["release"]["from_label"] == "finance"
    assert state["release"]["from_deployment"] == "finance-service"
    # Even on the same image: the pods move to a colour.
    assert only(states(services(tag="1.0.1"), [legacy], [service()], sets))["release"]["to"] == "blue"


def test_a_selected_colour_without_its_deployment_falls_back_to_what_exists():
    legacy = deployment("finance-service", V2, revision="1")
    state = only(states(services(), [legacy], [service("green")], [fixtures.replicaset(legacy, 1, "h")]))
    assert state["active"] == "legacy"


def test_rolling_and_canary_services_have_no_state():
    catalog = build_catalog(copy.deepcopy(BUILTIN), {"finance": {"strategy": "canary"}}, tag="1.0.0")
    assert states(catalog, [], [], []) == []


def test_entries_are_the_blue_green_services_in_catalog_order():
    overrides = {"sales": {"strategy": "blue_green"}, "finance": {"strategy": "blue_green"}, "hr": {"strategy": "canary"}}
    catalog = build_catalog(copy.deepcopy(BUILTIN), overrides, tag="1.0.0")
    assert [entry["name"] for entry in entries(catalog)] == [entry["name"] for entry in catalog if entry["name"] in ("finance", "sales")]
    assert len(entries(catalog)) == 2
    assert entries([]) == []
    assert entries(None) == []


def test_a_missing_current_replicaset_of_the_rolling_deployment_is_an_error():
    with pytest.raises(ValueError, match=r"finance-service: its current ReplicaSet was not found"):
        states(services(), [deployment("finance-service", V1, revision="2")], [service()], [])
