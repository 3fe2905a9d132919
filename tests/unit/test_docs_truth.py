"""The docs say what the code does: role defaults, argument specs and READMEs agree, and design.md's layout exists.

Each default is written in three places (defaults/main.yml, meta/argument_specs.yml, the role README); these
tests make the defaults file the owner and fail when either copy drifts from it. docs/design.md's layout block
names the folders and plugin files of the collection; every path it names must exist and every plugin file
must be named there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(path.parent.parent for path in REPO.glob("roles/*/defaults/main.yml"))
README_ROW = re.compile(r"^\| `([a-z0-9_]+)` \| `([^`|]*)` \|", re.MULTILINE)


def role_defaults(role):
    return yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {}


def role_options(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return specs["argument_specs"]["main"].get("options", {})


def test_every_role_with_defaults_is_checked():
    expected = {"erp", "preflight", "namespace", "config", "datastores", "dapr", "service", "ingress", "verify", "k8s_apply", "release"}
    assert {role.name for role in ROLES} >= expected


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_default_has_a_comment_and_the_same_default_in_the_argument_spec(role):
    defaults = role_defaults(role)
    options = role_options(role)
    lines = (role / "defaults" / "main.yml").read_text(encoding="utf-8").splitlines()
    problems = []
    for name, value in defaults.items():
        line = next(index for index, text in enumerate(lines) if text.startswith(f"{name}:"))
        if not lines[line - 1].startswith("#"):
            problems.append(f"{name}: no comment above it in defaults/main.yml")
        if name not in options:
            problems.append(f"{name}: no argument_specs entry")
        elif options[name].get("default") != value:
            problems.append(f"{name}: argument_specs default {options[name].get('default')!r} is not {value!r}")
    problems.extend(f"{name}: in argument_specs but not in defaults/main.yml" for name in options if name not in defaults)
    assert not problems, problems


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_the_readme_names_every_default_and_states_it_as_defaults_main_does(role):
    defaults = role_defaults(role)
    readme = (role / "README.md").read_text(encoding="utf-8")
    problems = [f"{name}: not in README.md" for name in defaults if f"`{name}`" not in readme]
    for name, cell in README_ROW.findall(readme):
        if name not in defaults or "<" in cell:
            continue  # a field table of another kind, or an elided value such as {CKV_K8S_35: <reason>}
        stated = cell if "{{" in cell else yaml.safe_load(cell)
        if stated != defaults[name]:
            problems.append(f"{name}: README says {cell!r}, defaults/main.yml has {defaults[name]!r}")
    assert not problems, problems


def layout_block():
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    return design.split("## Layout", 1)[1].split("```", 2)[1]


def layout_paths():
    """Every path the layout block names, with {a,b} expanded and bare `x/` after `roles/...` read as roles/x/."""
    paths = []
    for line in layout_block().splitlines():
        names = line.split("#", 1)[0].split("->", 1)[0].split()
        parent = ""
        for name in names:
            braces = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", name)
            expanded = [braces[1] + part + braces[3] for part in braces[2].split(",")] if braces else [name]
            for path in expanded:
                if "/" not in path.rstrip("/") and path.endswith("/") and parent:
                    path = parent + path
                elif path.count("/") > 1 and path.endswith("/"):
                    parent = path.rstrip("/").rsplit("/", 1)[0] + "/"
                paths.append(path)
    return paths


def test_the_layout_names_only_paths_that_exist():
    paths = layout_paths()
    assert "roles/verify/" in paths
    assert "playbooks/rollback.yml" in paths
    assert [path for path in paths if not (REPO / path).exists()] == []


@pytest.mark.parametrize("folder", ["plugins/modules", "plugins/module_utils", "plugins/filter"])
def test_the_layout_names_every_plugin_file(folder):
    lines = layout_block().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(folder + "/"))
    described = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        described.append(line)
    text = " ".join(line.split("#", 1)[1] for line in described)
    named = set(re.findall(r"[a-z0-9_]+", text))
    files = {path.stem for path in (REPO / folder).iterdir() if path.suffix == ".py" and path.stem != "__init__"}
    assert files - named == set()


def test_design_names_the_annotations_the_templates_render():
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    sources = "".join(path.read_text(encoding="utf-8") for path in REPO.glob("roles/*/templates/*.j2"))
    sources += "".join(path.read_text(encoding="utf-8") for path in REPO.glob("plugins/**/*.py"))
    sources += "".join(path.read_text(encoding="utf-8") for path in REPO.glob("roles/*/tasks/*.yml"))
    named = set(re.findall(r"`(erp\.platform/[a-z0-9-]+)`", design))
    assert "erp.platform/config-checksum" in named
    assert [name for name in sorted(named) if name not in sources] == []


def test_the_collection_version_the_release_records_keep_is_galaxy_yml_s():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
    erp_vars = yaml.safe_load((REPO / "roles" / "erp" / "vars" / "main.yml").read_text(encoding="utf-8"))
    assert str(erp_vars["erp_collection_version"]) == str(galaxy["version"])
