# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's modules run inside Ansible's worker process when the task runs on the controller.

A module task normally starts a new Python process, which imports the module and its libraries: for the
Kubernetes modules, importing the kubernetes client is most of the second each run cost (issue 13's profile).
Each module has an action plugin of the same name (``plugins/action/``), made by ``action_for``. When
the task's connection is ``local`` (the controller, as the collection's inventories and AWX run it), the action
runs the module's own ``main()`` in the worker that Ansible forked for the task: AnsibleModule reads the same
encoded arguments a module process reads from its payload (``_update_module_args`` adds check mode, diff,
no_log and the rest), the printed result is parsed as a module's output is (``_parse_returned_data``), and
the task's ``environment`` (``K8S_AUTH_*`` among others) is in ``os.environ`` while it runs. The action
plugin's file imports the module, so the strategy, which loads every task's action plugin in the controller
process, imports the kubernetes client once per run and every worker forked after that has it; the first action
plugin to load also preloads the Jinja plugins the templates use (preload.py).

Anything else runs the module as a process, as before: another connection, ``become``, ``async``, an
``ansible_python_interpreter`` other than the controller's Python, an
ansible-core without the module serialization profiles (before 2.19), a module whose libraries the controller's
Python lacks (the host's interpreter may have them), or ``erp_modules_in_worker: false``.
The precedent is ansible.netcommon's direct execution of network modules in the worker (its ``import_modules``).
"""

import contextlib
import io
import json
import os
import sys
import traceback

from ansible.module_utils import basic
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.erp.platform.plugins.plugin_utils.preload import preload_once

try:
    from ansible.module_utils.common.json import Direction, get_module_encoder

    HAS_PROFILES = True
except ImportError:  # ansible-core before 2.19: modules run as processes
    HAS_PROFILES = False

display = Display()

# The serialization profile of the modules' payload and result (ansible-core's default for Python modules).
PROFILE = "legacy"
LOCAL_CONNECTIONS = ("local", "ansible.builtin.local")
# The variable that turns the in-worker run off (erp role defaults).
SWITCH = "erp_modules_in_worker"


def same_python(interpreter, executable=sys.executable):
    """Whether the task's interpreter (None: not set) is the controller's Python."""
    if interpreter is None or interpreter == executable:
        return True
    return os.path.realpath(interpreter) == os.path.realpath(executable)


def in_worker_refusal(transport, become, async_val, switch, interpreter=None, has_profiles=HAS_PROFILES, importable=True):
    """Why this task's module must run as a process, or None when it can run in the worker."""
    if not has_profiles:
        return "ansible-core before 2.19"
    if not boolean(switch, strict=False):
        return f"{SWITCH} is false"
    if transport not in LOCAL_CONNECTIONS:
        return f"connection {transport}"
    if become:
        return "become"
    if async_val:
        return "async"
    if not same_python(interpreter):
        return f"ansible_python_interpreter {interpreter} is not the controller's Python"
    if not importable:
        return "the controller's Python lacks the module's libraries"
    return None


@contextlib.contextmanager
def _environment(values):
    """os.environ with the task's environment, restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({str(name): str(value) for name, value in values.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_main(main, module_args, environment):
    """Run a module's main() with module_args; the stdout, stderr and rc a module process would give."""
    encoder = get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
    stdout, stderr = io.StringIO(), io.StringIO()
    saved = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE)
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = payload, PROFILE
    rc = 0
    try:
        with _environment(environment), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                main()
            except SystemExit as exc:  # exit_json and fail_json end with sys.exit, as in a module process
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # an unhandled error is a module failure with its traceback, as in a process
                traceback.print_exc()
                rc = 1
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved
    return {"stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "rc": rc}


def action_for(module, importable=True):
    """The ActionModule class of a module of the collection (its Python module, imported by the action file).

    importable is False when the module's libraries are missing from the controller's Python.
    Called when an action plugin's file loads, which Ansible's strategies do in the controller before forking the
    task's worker: the first one preloads the Jinja plugins for every worker forked after it (preload.py).
    """
    preload_once()
    name = "erp.platform." + module.__name__.rsplit(".", 1)[-1]
    return type("ActionModule", (ModuleInWorker,), {"MODULE": name, "MAIN": staticmethod(module.main), "IMPORTABLE": importable})


class ModuleInWorker(ActionBase):
    """Action plugin of one of the collection's modules: in the worker where it can, else as a process."""

    _supports_check_mode = True
    _supports_async = True
    MODULE = None  # the module's fully qualified name
    MAIN = None  # the module's main(), as a staticmethod
    IMPORTABLE = True  # False when the module's libraries are missing from the controller's Python

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        refusal = in_worker_refusal(
            getattr(self._connection, "transport", None),
            self._play_context.become,
            self._task.async_val,
            self._templar.template(task_vars.get(SWITCH, True)),
            interpreter=self._templar.template(task_vars.get("ansible_python_interpreter")),
            importable=self.IMPORTABLE,
        )
        if refusal:
            display.vvv(f"{self.MODULE} runs as a module process: {refusal}", host=task_vars.get("inventory_hostname"))
            # As ansible.builtin.normal runs a module.
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(module_name=self.MODULE, task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        display.vvv(f"{self.MODULE} runs in the worker process ({SWITCH})", host=task_vars.get("inventory_hostname"))
        module_args = dict(self._task.args)
        self._update_module_args(self.MODULE, module_args, task_vars)
        environment = {}
        self._compute_environment_string(environment)
        data = self._parse_returned_data(run_main(self.MAIN, module_args, environment), PROFILE)
        # What _execute_module does with a module's result.
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        for stream in ("stdout", "stderr"):
            if stream in data and f"{stream}_lines" not in data:
                data[f"{stream}_lines"] = (data[stream] or "").splitlines()
        return merge_hash(result, data)
