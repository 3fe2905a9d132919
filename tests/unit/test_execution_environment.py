"""execution-environment.yml turns into an image build context that carries what the collection needs.

There is no container engine here, so the image itself is not built: `ansible-builder create`
writes the build context (Containerfile plus _build/), and these tests read what it wrote.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EE_FILE = REPO / "execution-environment.yml"


def _builder() -> str:
    """ansible-builder from the same virtualenv as the running pytest, else from PATH."""
    beside = Path(sys.executable).with_name("ansible-builder")
    if beside.exists():
        return str(beside)
    found = shutil.which("ansible-builder")
    if not found:
        pytest.fail("ansible-builder is not installed (it is pinned in requirements-dev.txt)")
    return found


def _pins(requirements: Path) -> dict[str, str]:
    """name -> version of the `name==version` lines of a pip requirements file."""
    pins = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def build_context(tmp_path_factory) -> Path:
    context = tmp_path_factory.mktemp("ee-context")
    result = subprocess.run(
        [_builder(), "create", "--file", str(EE_FILE), "--context", str(context), "--output-filename", "Containerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"ansible-builder create failed:\n{result.stdout}\n{result.stderr}"
    return context


def test_definition_is_ansible_builder_v3_with_pinned_base_image():
    definition = yaml.safe_load(EE_FILE.read_text())
    assert definition["version"] == 3
    base = definition["images"]["base_image"]["name"]
    assert ":" in base.rsplit("/", 1)[-1], f"base image {base} has no tag"
    assert not base.endswith(":latest"), f"base image {base} floats on latest"


def test_build_context_is_complete(build_context):
    containerfile = build_context / "Containerfile"
    assert containerfile.is_file()
    assert (build_context / "_build" / "requirements.txt").is_file()
    assert (build_context / "_build" / "requirements.yml").is_file()
    text = containerfile.read_text()
    assert "ansible-galaxy collection install" in text
    assert "LABEL ansible-execution-environment=true" in text


def test_image_installs_the_collection_dependencies(build_context):
    galaxy = yaml.safe_load((build_context / "_build" / "requirements.yml").read_text())
    names = {entry["name"] for entry in galaxy["collections"]}
    declared = set(yaml.safe_load((REPO / "galaxy.yml").read_text())["dependencies"])
    assert declared <= names, f"collections in galaxy.yml but not in the image: {declared - names}"

    python = (build_context / "_build" / "requirements.txt").read_text()
    for package in ("kubernetes", "jsonpatch"):
        assert re.search(rf"^{package}\b", python, re.MULTILINE), f"{package} missing from the image's Python requirements"


def test_image_runs_the_ansible_core_and_runner_that_ci_tests(build_context):
    dev_pins = _pins(REPO / "requirements-dev.txt")
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', (build_context / "Containerfile").read_text(), re.MULTILINE)
    assert refs, "the Containerfile installs no ansible-core"
    installed = dict(ref.split("==", 1) for ref in refs.group(1).split())
    for package in ("ansible-core", "ansible-runner"):
        assert installed.get(package) == dev_pins[package], f"{package}: image has {installed.get(package)}, requirements-dev.txt pins {dev_pins[package]}"
