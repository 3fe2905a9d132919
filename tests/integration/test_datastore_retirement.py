"""A datastore switched to external is retired through the collection's prune: its StatefulSet, Service,
NetworkPolicy and ServiceAccount go, its PVCs only when datastores_delete_volumes is true; Redis stays."""

from __future__ import annotations

import shutil

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import REPO, deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-retire"
KINDS = "statefulsets,services,networkpolicies,serviceaccounts,persistentvolumeclaims"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory, kubectl):
    deleted_namespace(kubectl, NAMESPACE)
    target = tmp_path_factory.mktemp("inventory") / "local"
    shutil.copytree(REPO / "inventories" / "local", target, symlinks=True)
    return target


def objects(kubectl, name):
    listing = kubectl("-n", NAMESPACE, "get", KINDS, "-l", f"app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/name={name}", "-o", "name")
    return sorted(line.split("/")[0].split(".")[0] for line in listing.stdout.split())


def test_external_postgres_is_retired_and_its_volumes_go_only_on_the_explicit_ask(kubeconfig, inventory, kubectl):
    first = run_playbook("site.yml", inventory, {"erp_namespace": NAMESPACE}, kubeconfig=kubeconfig)
    assert first.rc == 0, first.tail()
    assert objects(kubectl, "postgres") == ["networkpolicy", "persistentvolumeclaim", "service", "serviceaccount", "statefulset"]
    redis = objects(kubectl, "redis")
    external = {
        "erp_namespace": NAMESPACE,
        "erp_postgres": {"enabled": False, "host": "db.example.com", "port": 5432, "database": "erpdb", "username": "postgres"},
    }
    kept = run_playbook("site.yml", inventory, external, kubeconfig=kubeconfig, tags="datastores")
    assert kept.rc == 0, kept.tail()
    assert objects(kubectl, "postgres") == ["persistentvolumeclaim"]
    assert objects(kubectl, "redis") == redis
    gone = run_playbook("site.yml", inventory, dict(external, datastores_delete_volumes=True), kubeconfig=kubeconfig, tags="datastores")
    assert gone.rc == 0, gone.tail()
    assert objects(kubectl, "postgres") == []
    assert objects(kubectl, "redis") == redis
