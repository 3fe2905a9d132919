"""Fixtures for tests that run against the real local control plane.

The cluster comes from tools/localcluster/cluster.sh. When KUBECONFIG is already set
(``make integration`` starts the cluster and exports it), the tests use that cluster;
otherwise the session starts one and stops it at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "tools" / "localcluster" / "cluster.sh"
# Fixtures that change what every namespace of the cluster sees: the emulated Dapr injector's setting, the Gateway
# API CRDs removed (test_gateway_routing.py), the Prometheus Operator CRDs removed (test_monitoring.py). A test that
# uses one is marked cluster_wide: tools/ci/integration.sh runs those alone, after the parallel pass.
CLUSTER_WIDE_FIXTURES = frozenset({"dapr_drop_all_off", "without_gateway_api", "without_monitoring_crds"})


def pytest_collection_modifyitems(items):
    for item in items:
        if CLUSTER_WIDE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.cluster_wide)


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """Absolute path of a kubeconfig for a running local cluster."""
    existing = os.environ.get("KUBECONFIG")
    if existing and Path(existing).is_file():
        yield existing
        return
    out = subprocess.run([str(CLUSTER_SH), "up"], check=True, capture_output=True, text=True)
    path = out.stdout.strip().splitlines()[-1].removeprefix("export KUBECONFIG=")
    os.environ["KUBECONFIG"] = path
    try:
        yield path
    finally:
        subprocess.run([str(CLUSTER_SH), "down"], check=False)


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """The kubectl built with the cluster (matches the apiserver), else the one on PATH."""
    versions = dict(
        line.split("=", 1) for line in (REPO / "tools" / "localcluster" / "versions.env").read_text().splitlines() if line and not line.startswith("#")
    )
    cache = Path(os.environ.get("ERP_CLUSTER_CACHE", Path.home() / ".cache/erp-platform/localcluster"))
    built = cache / "bin" / f"kubernetes-{versions['K8S_VERSION']}" / "kubectl"
    return str(built) if built.exists() else "kubectl"


@pytest.fixture(scope="session")
def kubectl(kubeconfig, kubectl_bin):
    """Run kubectl against the local cluster; returns CompletedProcess (text)."""

    def run(*args: str, check: bool = True, input_text: str | None = None):
        result = subprocess.run(
            [kubectl_bin, "--kubeconfig", kubeconfig, *args],
            capture_output=True,
            text=True,
            input=input_text,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="session")
def k8s_client(kubeconfig):
    """A kubernetes.client ApiClient for the local cluster."""
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig)


def wait_for_default_serviceaccount(api_client, name: str, timeout: int = 60) -> None:
    """Pods are rejected until the controller-manager creates the `default` ServiceAccount."""
    from kubernetes import client, watch

    core = client.CoreV1Api(api_client)
    listing = core.list_namespaced_service_account(name, field_selector="metadata.name=default")
    if listing.items:
        return
    for _event in watch.Watch().stream(
        core.list_namespaced_service_account,
        name,
        field_selector="metadata.name=default",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=timeout,
    ):
        return
    raise AssertionError(f"namespace {name}: no default ServiceAccount after {timeout}s")


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    """A copy of inventories/local (with its generated .secrets) for one test module, whose group_vars its tests may extend."""
    target = tmp_path_factory.mktemp("inventory") / "local"
    shutil.copytree(REPO / "inventories" / "local", target, symlinks=True)
    return target


@pytest.fixture
def namespace(kubectl, k8s_client, request):
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    name = f"t-{request.node.name[:40].lower().replace('_', '-')}-{uuid.uuid4().hex[:5]}"
    name = "".join(c for c in name if c.isalnum() or c == "-")[:63].strip("-")
    kubectl("create", "namespace", name)
    wait_for_default_serviceaccount(k8s_client, name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def deleted_namespace(kubectl, name: str) -> str:
    """Delete the namespace and wait until it is gone, so a test of a fixed namespace starts from nothing
    even on a cluster an earlier run left objects in. Returns the name."""
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=180s")
    assert kubectl("get", "namespace", name, "--ignore-not-found", "-o", "name").stdout.strip() == "", f"namespace {name} still exists"
    return name


@pytest.fixture
def dapr_drop_all_off(kubectl):
    """For one test: the emulated injector with Dapr's default SIDECAR_DROP_ALL_CAPABILITIES=false; "true" afterwards."""
    from ansible_collections.erp.platform.tests.integration.dapr_injector import drop_all

    with drop_all(kubectl, False):
        yield
