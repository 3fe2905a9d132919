# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's main() run in the worker: the real AnsibleModule, the payload a module process reads, its result."""

import json
import os
import sys

import pytest
from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erp.platform.plugins.plugin_utils.module_in_worker import in_worker_refusal, run_main


def echo_main():
    """A module: returns its options, the environment variable ERP_TEST_ENV and check mode; fails on ask."""
    module = AnsibleModule(
        argument_spec={"value": {"type": "str"}, "token": {"type": "str", "no_log": True}, "fail": {"type": "bool", "default": False}},
        supports_check_mode=True,
    )
    if module.params["fail"]:
        module.fail_json(msg=f"asked to fail with {module.params['token']}")
    module.exit_json(changed=True, value=module.params["value"], env=os.environ.get("ERP_TEST_ENV"), check=module.check_mode, token=module.params["token"])


def broken_main():
    raise KeyError("boom")


def result(raw):
    return json.loads(raw["stdout"])


def test_a_module_runs_with_its_arguments_environment_and_check_mode_and_hides_no_log_values():
    os.environ.pop("ERP_TEST_ENV", None)
    raw = run_main(echo_main, {"value": "v", "token": "s3cret", "_ansible_check_mode": True}, {"ERP_TEST_ENV": "from-task"})
    assert raw["rc"] == 0
    out = result(raw)
    assert out["changed"] is True
    assert out["value"] == "v"
    assert out["env"] == "from-task"
    assert out["check"] is True
    assert out["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "s3cret" not in raw["stdout"]
    # The task's environment and the module arguments are gone afterwards.
    assert "ERP_TEST_ENV" not in os.environ
    assert basic._ANSIBLE_ARGS is None


def test_fail_json_gives_rc_1_and_the_message_without_the_no_log_value():
    raw = run_main(echo_main, {"fail": True, "token": "s3cret"}, {})
    assert raw["rc"] == 1
    out = result(raw)
    assert out["failed"] is True
    assert out["msg"] == "asked to fail with ********"


def test_unknown_options_are_refused_as_a_module_process_refuses_them():
    raw = run_main(echo_main, {"nope": 1}, {})
    assert raw["rc"] == 1
    assert "Unsupported parameters" in result(raw)["msg"]
    assert "nope" in result(raw)["msg"]


def test_an_unhandled_error_is_a_failure_with_its_traceback_not_a_crash_of_the_worker():
    raw = run_main(broken_main, {}, {})
    assert raw["rc"] == 1
    assert raw["stdout"] == ""
    assert "KeyError: 'boom'" in raw["stderr"]


def test_an_existing_variable_is_restored_after_the_task_environment():
    os.environ["ERP_TEST_ENV"] = "before"
    try:
        assert result(run_main(echo_main, {}, {"ERP_TEST_ENV": "task"}))["env"] == "task"
        assert os.environ["ERP_TEST_ENV"] == "before"
    finally:
        del os.environ["ERP_TEST_ENV"]


@pytest.mark.parametrize(
    ("kwargs", "refusal"),
    [
        ({}, None),
        ({"transport": "ansible.builtin.local"}, None),
        ({"switch": "yes"}, None),
        ({"transport": "ssh"}, "connection ssh"),
        ({"become": True}, "become"),
        ({"async_val": 30}, "async"),
        ({"switch": False}, "erp_modules_in_worker is false"),
        ({"switch": "false"}, "erp_modules_in_worker is false"),
        ({"importable": False}, "the controller's Python lacks the module's libraries"),
        ({"has_profiles": False}, "ansible-core before 2.19"),
        ({"interpreter": sys.executable}, None),
        ({"interpreter": os.path.realpath(sys.executable)}, None),
        ({"interpreter": "/opt/other/bin/python3"}, "ansible_python_interpreter /opt/other/bin/python3 is not the controller's Python"),
    ],
)
def test_the_module_runs_as_a_process_unless_the_task_runs_on_the_controller(kwargs, refusal):
    arguments = {"transport": "local", "become": False, "async_val": 0, "switch": True, **kwargs}
    assert in_worker_refusal(**arguments) == refusal


def test_each_action_plugin_runs_its_own_module():
    from ansible_collections.erp.platform.plugins.action import apply_objects as action
    from ansible_collections.erp.platform.plugins.modules import apply_objects as module
    from ansible_collections.erp.platform.plugins.plugin_utils.module_in_worker import ModuleInWorker

    assert issubclass(action.ActionModule, ModuleInWorker)
    assert action.ActionModule.MODULE == "erp.platform.apply_objects"
    assert action.ActionModule.MAIN is module.main
