# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preload: a worker forked after it loads no plugin file for the templates a task evaluates.

Each case runs in a Python process of its own (ansible-core's plugin loader and collection finder are
process-wide), with the real loader, Templar and this collection's plugins: the controller's process preloads
(directly, through loading one of the collection's action plugins as Ansible's strategies do, or not at all),
then forks a worker, as Ansible forks one per task, which evaluates templates and records every plugin file it
had to load.
"""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.erp.platform.plugins.plugin_utils import preload as preload_module
from ansible_collections.erp.platform.plugins.plugin_utils.preload import MODULE_UTILS, imported_module_utils, plugin_names, preload

REPO = Path(__file__).resolve().parents[4]

# The "controller": preloads when told, then forks a "worker" that evaluates templates as a task's worker does.
SCRIPT = r"""
import json, os, sys
from ansible.plugins.loader import PluginLoader, init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
names = []
if sys.argv[2] == "preload":
    from ansible_collections.erp.platform.plugins.plugin_utils.preload import preload
    names = preload()
elif sys.argv[2] == "action":
    # What the linear and free strategies do in the controller for each task before forking its worker.
    from ansible.plugins.loader import action_loader
    action_loader.get("erp.platform.write_manifests", class_only=True)
    from ansible_collections.erp.platform.plugins.plugin_utils.preload import _STATE
    names = ["done"] if _STATE["done"] else []
read, write = os.pipe()
if os.fork() == 0:
    loaded = []
    original = PluginLoader._load_module_source
    def recording(self, *, python_module_name, path):
        if python_module_name not in sys.modules:
            loaded.append(python_module_name)
        return original(self, python_module_name=python_module_name, path=path)
    PluginLoader._load_module_source = recording
    templar = Templar(loader=DataLoader(), variables={"flag": "yes", "items": [3, 1, 3]})
    values = [
        templar.evaluate_expression(trust_as_template(expression))
        for expression in ["flag | bool", "items | unique | list", "items is contains(1)",
                           "[{'var': 'x', 'value': 'Bad_Name', 'rule': 'dns_label'}] | erp.platform.input_problems",
                           "query('erp.platform.argument_spec', 'verify') | length"]
    ]
    os.write(write, json.dumps({"loaded": loaded, "values": [str(value) for value in values]}).encode())
    os._exit(0)
os.close(write)
print(json.dumps({"preloaded": names, "kubernetes": "kubernetes" in sys.modules, "worker": json.loads(os.read(read, 1 << 20))}))
"""


def controller(mode):
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO / ".collections"), mode], capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize("mode", ["preload", "action", "none"])
def test_the_worker_evaluates_the_same_templates_either_way(mode):
    values = controller(mode)["worker"]["values"]
    assert values[:3] == ["True", "[3, 1]", "True"]
    assert "x" in values[3]
    assert "Bad_Name" in values[3]
    assert values[4] == "1"


def test_a_worker_forked_after_the_preload_loads_no_plugin_file():
    result = controller("preload")
    assert result["worker"]["loaded"] == [], result["worker"]["loaded"]
    preloaded = result["preloaded"]
    assert "filter erp.platform.input_problems" in preloaded
    assert "lookup erp.platform.argument_spec" in preloaded
    assert "module_utils input_rules" in preloaded
    # The modules' Kubernetes client is the action plugins' to import, when a task uses one.
    assert result["kubernetes"] is False


def test_loading_an_action_plugin_of_the_collection_preloads_for_the_workers_forked_after_it():
    result = controller("action")
    assert result["preloaded"] == ["done"]
    assert result["worker"]["loaded"] == [], result["worker"]["loaded"]


def test_preload_once_preloads_the_first_time_only(monkeypatch):
    calls = []
    monkeypatch.setattr(preload_module, "_STATE", {"done": False})
    monkeypatch.setattr(preload_module, "preload", lambda: calls.append("preload") or ["filter x"])
    assert preload_module.preload_once() == ["filter x"]
    assert preload_module.preload_once() == []
    assert calls == ["preload"]


def test_preload_once_leaves_the_plugins_to_their_first_use_when_the_preload_fails(monkeypatch):
    def failing():
        raise KeyError("collection metadata was not loaded for collection erp.platform")

    monkeypatch.setattr(preload_module, "_STATE", {"done": False})
    monkeypatch.setattr(preload_module, "preload", failing)
    assert preload_module.preload_once() == []
    assert preload_module._STATE["done"] is True


def test_without_the_preload_each_worker_loads_the_plugin_files_again():
    """The control case: the same worker, forked from a controller that did not preload, loads them itself."""
    loaded = controller("none")["worker"]["loaded"]
    # ansible-core names the builtin plugin files' modules with a suffix of its own: ansible.plugins.filter.core_<n>.
    assert [name for name in loaded if name.startswith("ansible.plugins.filter.core")], loaded
    assert [name for name in loaded if name.startswith("ansible_collections.erp.platform.plugins.filter.")], loaded
    assert "ansible_collections.erp.platform.plugins.lookup.argument_spec" in loaded


def test_plugin_names_are_the_sorted_stems_of_one_suffix_without_private_files(tmp_path):
    for name in ["zeta.yml", "alpha.yml", "alpha.py", "_private.yml", "notes.txt"]:
        (tmp_path / name).write_text("")
    assert plugin_names(tmp_path, ".yml") == ["alpha", "zeta"]
    assert plugin_names(tmp_path, ".py") == ["alpha"]
    assert plugin_names(tmp_path / "missing", ".py") == []


def test_every_filter_file_of_the_collection_documents_its_filters_by_name():
    """preload() finds the filters by their documentation files: each filter a file defines has one."""
    filters = REPO / "plugins" / "filter"
    defined = set()
    for name in plugin_names(filters, ".py"):
        module = importlib.import_module(f"ansible_collections.erp.platform.plugins.filter.{name}")
        defined.update(module.FilterModule().filters())
    assert defined, "no filter found"
    assert defined == set(plugin_names(filters, ".yml"))


def test_imported_module_utils_finds_every_import_form_anywhere_in_a_file(tmp_path):
    (tmp_path / "a.py").write_text(
        f"import os\nfrom {MODULE_UTILS} import alpha, beta as b\ndef f():\n    from {MODULE_UTILS}.gamma import thing\n    import {MODULE_UTILS}.delta\n"
    )
    (tmp_path / "b.py").write_text(f"from ansible.module_utils.basic import AnsibleModule\nfrom {MODULE_UTILS}.alpha import other\n")
    found = imported_module_utils([tmp_path / "a.py", tmp_path / "b.py"])
    assert found == [f"{MODULE_UTILS}.{name}" for name in ["alpha", "beta", "delta", "gamma"]]
    assert imported_module_utils([]) == []


def test_a_module_util_that_fails_to_import_is_left_to_the_task_that_uses_it(tmp_path):
    """The preload is a head start: an import error does not stop the play before its first task."""
    (tmp_path / "filter").mkdir()
    (tmp_path / "filter" / "broken.py").write_text(f"def f():\n    from {MODULE_UTILS} import no_such_module_util, input_rules\n")
    assert preload(plugins=tmp_path) == ["module_utils input_rules"]
