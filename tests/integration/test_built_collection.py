"""The collection works from its built artifact, as a user installs it, not only from the checkout.

`ansible-galaxy collection build`, install the tarball into an empty collections path, then run
`ansible-playbook erp.platform.site` from a directory outside the checkout, so neither the
checkout's ansible.cfg nor its .collections symlink can help.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "erp-built"
VENV_BIN = Path(sys.executable).parent


def outside_env(collections: Path, home: Path, kubeconfig: str | None = None) -> dict[str, str]:
    """An environment with no trace of the checkout: only the temp collections path (plus site-packages)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHON", "MOLECULE_", "K8S_AUTH_")) and key != "KUBECONFIG"}
    env.update(
        {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            # An empty configuration: nothing from the checkout, ~/.ansible.cfg or /etc/ansible.
            "ANSIBLE_CONFIG": str(home / "empty.cfg"),
        }
    )
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    return env


class Installed(NamedTuple):
    tarball: Path
    collections: Path
    scratch: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """erp.platform built, and installed from its own artifact into an empty collections path."""
    scratch = tmp_path_factory.mktemp("built")
    dist = scratch / "dist"
    built = subprocess.run(
        [VENV_BIN / "ansible-galaxy", "collection", "build", str(REPO), "--output-path", str(dist)],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = dist / f"erp-platform-{version}.tar.gz"
    assert tarball.is_file(), f"no {tarball.name} in {list(dist.iterdir())}"

    collections = scratch / "collections"
    home = scratch / "home"
    home.mkdir()
    (home / "empty.cfg").write_text("[defaults]\n")
    install = subprocess.run(
        [VENV_BIN / "ansible-galaxy", "collection", "install", str(tarball), "--collections-path", str(collections), "--no-deps"],
        cwd=scratch,
        env=outside_env(collections, home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return Installed(tarball, collections, scratch)


def test_artifact_holds_the_collection_and_no_development_files(installed):
    tarball = installed.tarball
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for required in (
        "MANIFEST.json",
        "FILES.json",
        "meta/runtime.yml",
        "playbooks/site.yml",
        "plugins/modules/rollout_health.py",
        "roles/service/tasks/main.yml",
        "roles/preflight/meta/argument_specs.yml",
    ):
        assert required in names, f"{required} missing from {tarball.name}"
    for name in names:
        top = name.split("/", 1)[0]
        assert top not in {".venv", ".git", ".localcluster", ".collections", "tools", "molecule", "extensions"}, name
        assert not name.startswith(("tests/integration", "tests/unit")), name
        assert Path(name).name not in {"Makefile", "ansible.cfg", "requirements-dev.txt"}, name


def test_modules_resolve_from_the_installed_artifact(installed):
    collections, scratch = installed.collections, installed.scratch
    doc = subprocess.run(
        [VENV_BIN / "ansible-doc", "--json", "erp.platform.rollout_health"],
        cwd=scratch,
        env=outside_env(collections, scratch / "home"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    filename = json.loads(doc.stdout)["erp.platform.rollout_health"]["doc"]["filename"]
    assert Path(filename).resolve().is_relative_to(collections.resolve()), f"resolved from {filename}, not the installed artifact"


def test_site_playbook_by_its_full_name_deploys(installed, kubeconfig, kubectl):
    collections, scratch = installed.collections, installed.scratch
    inventory = scratch / "inventory"
    shutil.copytree(REPO / "inventories" / "local", inventory)
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s")

    run = run_playbook(
        "erp.platform.site",
        inventory,
        {"erp_namespace": NAMESPACE, "ansible_python_interpreter": sys.executable},
        cwd=scratch,
        env=outside_env(collections, scratch / "home", kubeconfig),
    )
    try:
        assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
        assert "failed=0" in run.stdout
        deployments = json.loads(kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json").stdout)["items"]
        assert len(deployments) >= 8, [d["metadata"]["name"] for d in deployments]
        for deployment in deployments:
            assert deployment["status"].get("availableReplicas", 0) == deployment["spec"]["replicas"], deployment["metadata"]["name"]
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
