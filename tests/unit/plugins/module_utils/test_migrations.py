"""Unit tests of plugins/module_utils/migrations.py: a migration is due exactly when the image changes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.plugins.module_utils.migrations import due, entries, running_image
from ansible_collections.erp.platform.plugins.module_utils.service_catalog import build_catalog

REPO = Path(__file__).resolve().parents[4]
BUILTIN = yaml.safe_load((REPO / "roles" / "erp" / "defaults" / "main.yml").read_text())["erp_service_catalog_builtin"]
STAMP = "261204180000"


def services(tag="1.0.0"):
    return build_catalog(copy.deepcopy(BUILTIN), {"finance": {"migration": {}}, "sales": {"migration": {"image": "erp-system/sales-bundle:9"}}}, tag=tag)


def deployment(name, image, container=None):
    return {"metadata": {"name": name + "-service"}, "spec": {"template": {"spec": {"containers": [{"name": container or name, "image": image}]}}}}


def test_first_install_runs_every_migration():
    assert due(services(), [], STAMP) == [
        {"name": "finance", "job_name": "finance-migrate-261204180000", "from_image": None, "to_image": "docker.io/erp-system/finance:1.0.0"},
        {"name": "sales", "job_name": "sales-migrate-261204180000", "from_image": None, "to_image": "docker.io/erp-system/sales:1.0.0"},
    ]


def test_entries_are_the_services_with_a_migration_in_catalog_order():
    assert [entry["name"] for entry in entries(services())] == ["finance", "sales"]
    assert entries([]) == []
    assert entries(None) == []


def test_unchanged_images_run_nothing():
    running = [deployment("finance", "docker.io/erp-system/finance:1.0.0"), deployment("sales", "docker.io/erp-system/sales:1.0.0")]
    assert due(services(), running, STAMP) == []


def test_only_the_changed_image_runs_its_migration():
    running = [deployment("finance", "docker.io/erp-system/finance:1.0.0"), deployment("sales", "docker.io/erp-system/sales:1.0.0")]
    changed = services()
    sales = next(entry for entry in changed if entry["name"] == "sales")
    sales["image"]["ref"] = sales["image"]["ref"].replace("1.0.0", "1.0.1")
    assert [(m["name"], m["from_image"], m["to_image"]) for m in due(changed, running, STAMP)] == [
        ("sales", "docker.io/erp-system/sales:1.0.0", "docker.io/erp-system/sales:1.0.1")
    ]


def test_services_without_a_migration_never_run_one():
    assert due(build_catalog(copy.deepcopy(BUILTIN), tag="1.0.0"), [], STAMP) == []


def test_the_service_container_is_the_one_compared():
    assert running_image(deployment("finance", "x:1", container="daprd"), "finance") is None
    assert running_image(deployment("finance", "x:1"), "finance") == "x:1"
    assert running_image(None, "finance") is None


@pytest.mark.parametrize("stamp", ["2612041800", "26120418000a", 261204180000])
def test_the_stamp_is_twelve_digits(stamp):
    with pytest.raises(ValueError, match="stamp: got"):
        due(services(), [], stamp)


def test_a_canary_deployment_on_the_new_image_means_the_release_already_migrated():
    canary = deployment("finance", "docker.io/erp-system/finance:1.0.1")
    canary["metadata"]["name"] = "finance-service-canary"
    running = [deployment("finance", "docker.io/erp-system/finance:1.0.0"), deployment("sales", "docker.io/erp-system/sales:1.0.1"), canary]
    assert due(services(tag="1.0.1"), running, STAMP) == []
    canary["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/erp-system/finance:0.9.0"
    assert [item["name"] for item in due(services(tag="1.0.1"), running, STAMP)] == ["finance"]
