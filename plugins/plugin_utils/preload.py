# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load the Jinja plugins a play's templates use once, in the controller, before the first task forks a worker.

Ansible runs each task in a worker process forked from the controller. ansible-core (2.19) loads filter and test
plugins on their first use in a process: the first filter of ``ansible.builtin`` a template names makes the
worker load every builtin filter file, the first test every builtin test file, and the first ``erp.platform``
filter every filter file of the collection, compiled from source (the collection loader keeps no bytecode).
The controller never needs them before the first task, so every worker loaded them again: issue 13's profile
of an 8-service run found 93 of its 107 workers starting with the filter and test caches empty, about 1 s of
the run. Loaded here, in the controller, they are in every worker forked after it.

When: ``preload_once()``, from ``module_in_worker.action_for``, that is when the first action plugin of this
collection loads. Ansible's strategies (linear and free, ansible-core 2.19) load the action plugin of each task in
the controller before they fork the task's worker, so the first task of a play that uses one of the collection's
modules preloads, in the controller, for every task after it, in the collection's playbooks and in a user's own
play alike. Not a strategy plugin: ansible-core 2.19 deprecates strategy plugins outside ansible.builtin, with a
warning on every run.

What is loaded: the filters and tests of ansible.builtin and of the configured plugin paths (the loaders'
``all()``), and this collection's filters, tests and lookups with the module_utils they import (found in their
source: the filters import theirs on first use). Nothing is run but the files' own import. The modules' own
module_utils (the Kubernetes client) are left to the action plugins' own imports.
"""

import ast
import importlib
from pathlib import Path

from ansible.plugins.loader import filter_loader, lookup_loader, test_loader
from ansible.utils.display import Display

display = Display()

COLLECTION = "erp.platform"
PLUGINS = Path(__file__).resolve().parents[1]
MODULE_UTILS = "ansible_collections.erp.platform.plugins.module_utils"


def plugin_names(directory, suffix):
    """The names of the plugins of one type in this collection: the stems of its files with that suffix, sorted."""
    return sorted(path.stem for path in directory.glob(f"*{suffix}") if not path.stem.startswith("_"))


def imported_module_utils(paths):
    """The module_utils of this collection that the Python files at paths import, anywhere in them, sorted."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == MODULE_UTILS:
                names.update(f"{MODULE_UTILS}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(MODULE_UTILS + "."):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith(MODULE_UTILS + "."))
    return sorted(names)


# Whether this process has preloaded (a process preloads once; a forked worker inherits the answer).
_STATE = {"done": False}


def preload_once():
    """preload(), the first time it is called in this process; the names it loaded, or [] when it had run or failed.

    It runs while an action plugin's file loads: an error here (a plugin loader not set up for collections, as
    outside ansible-playbook) must not fail that load, so it is reported at -vvv and the plugins load on first use.
    """
    if _STATE["done"]:
        return []
    _STATE["done"] = True
    try:
        return preload()
    except Exception as exc:  # any error: each worker loads what it uses, as without the preload
        display.vvv(f"erp.platform preload skipped: {exc}")
        return []


def preload(plugins=PLUGINS):
    """Load the Jinja plugins and this collection's filters, tests, lookups and module_utils; the names loaded."""
    loaded = []
    for loader in (filter_loader, test_loader):
        # all() fills the loader's cache of ansible.builtin's plugins (and those of the configured paths).
        list(loader.all())
        # A filter or test plugin file holds several plugins, each documented in a file of its own name (<name>.yml);
        # looking one up loads every file of its type in the collection.
        for name in plugin_names(plugins / loader.type, ".yml"):
            if loader.get(f"{COLLECTION}.{name}") is not None:
                loaded.append(f"{loader.type} {COLLECTION}.{name}")
    for name in plugin_names(plugins / "lookup", ".py"):
        if lookup_loader.get(f"{COLLECTION}.{name}") is not None:
            loaded.append(f"lookup {COLLECTION}.{name}")
    # The filters import their module_utils on first use (docs/design.md, Filter plugins): import them here.
    # Only a head start: one that fails to import is left to the task that uses it, which reports the error.
    sources = [path for kind in ("filter", "test", "lookup") for path in sorted((plugins / kind).glob("*.py"))]
    for name in imported_module_utils(sources):
        try:
            importlib.import_module(name)
        except Exception as exc:  # any error: the task that imports it reports it
            display.vvv(f"erp.platform preload: {name} not preloaded: {exc}")
            continue
        loaded.append(f"module_utils {name.rsplit('.', 1)[-1]}")
    return loaded
