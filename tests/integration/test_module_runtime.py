"""Where the collection's modules run: inside Ansible's worker on the controller, a module process otherwise.

Both paths deploy the same objects (the run after the other changes nothing), the worker path honours the
task's `environment` (K8S_AUTH_* given only there reach kubernetes.core's auth handling) and reports a
module's failure as a module process does.
"""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_module, run_playbook

NAMESPACE = "erp-it-runtime"
MODULE_FILE = re.compile(r"Using module file \S*/plugins/modules/(\w+)\.py")


@pytest.fixture(scope="module")
def fresh(kubectl):
    deleted_namespace(kubectl, NAMESPACE)
    yield
    deleted_namespace(kubectl, NAMESPACE)


def site(kubeconfig, inventory, in_worker):
    extra = {"erp_namespace": NAMESPACE, "erp_modules_in_worker": in_worker}
    return run_playbook("site.yml", inventory, extra, kubeconfig=kubeconfig, args=["-vvv"])


def test_the_worker_and_the_process_path_deploy_the_same_objects(fresh, kubeconfig, inventory, kubectl):
    in_worker = site(kubeconfig, inventory, True)
    assert in_worker.rc == 0, in_worker.tail()
    # No module process: -vvv names the module file of every module it starts.
    assert not set(MODULE_FILE.findall(in_worker.output)) & {"apply_objects", "cluster_facts", "rollout_health"}, in_worker.tail()
    assert "erp.platform.apply_objects runs in the worker process" in in_worker.output, in_worker.tail()

    as_process = site(kubeconfig, inventory, False)
    assert as_process.rc == 0, as_process.tail()
    assert {"apply_objects", "cluster_facts", "rollout_health"} <= set(MODULE_FILE.findall(as_process.output)), as_process.tail()
    assert "erp.platform.apply_objects runs as a module process: erp_modules_in_worker is false" in as_process.output, as_process.tail()
    # What the worker path applied is exactly what the process path wants: nothing changes.
    assert as_process.recap["changed"] == 0, as_process.changed_tasks

    again = site(kubeconfig, inventory, True)
    assert again.rc == 0, again.tail()
    assert again.recap["changed"] == 0, again.changed_tasks


def test_the_task_environment_reaches_the_module_in_the_worker(kubeconfig, tmp_path):
    playbook = tmp_path / "environment.yml"
    playbook.write_text(
        "- hosts: erp\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Read the version with the kubeconfig given only in the task's environment\n"
        "      erp.platform.cluster_facts:\n"
        "        lookups: []\n"
        "      environment:\n"
        f"        K8S_AUTH_KUBECONFIG: {kubeconfig}\n"
        "      register: facts\n"
        "    - name: Show the version\n"
        "      ansible.builtin.debug:\n"
        "        msg: 'server {{ facts.version.gitVersion }}'\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(("KUBECONFIG", "K8S_AUTH_"))}
    result = run_playbook(playbook, "inventories/local", env=env)
    assert result.rc == 0, result.tail()
    assert re.search(r"server v1\.\d+", result.output), result.tail()


def test_a_module_failure_in_the_worker_reads_as_a_module_failure(kubeconfig):
    rc, result, output = run_module("erp.platform.rollout_health", {"namespace": NAMESPACE, "timeout": 0}, kubeconfig=kubeconfig)
    assert rc != 0, output
    assert result["failed"] is True
    assert result["msg"] == "timeout must be at least 1, got 0"
    rc, result, output = run_module("erp.platform.rollout_health", {"namespace": NAMESPACE, "bogus": 1}, kubeconfig=kubeconfig)
    assert rc != 0, output
    assert "Unsupported parameters" in result["msg"], result
    assert "bogus" in result["msg"], result
