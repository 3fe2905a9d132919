"""Migration Jobs (catalog field migration): a Job before the Deployment changes, only when the image changes.

finance has a migration. v1 installs: its Job completes before finance's first pod exists. The same again starts
no Job. v2 with a migration whose pod fails (fault `fail`): the run stops, naming the pod, its exit and how to read
its logs, and finance keeps its ReplicaSet and pods. v2 again without the fault: a new Job completes before the
new ReplicaSet is created.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-migrations"
FAULT = "fault.erp.test/mode"
MIGRATION = {"args": ["--connection", "$(ConnectionStrings__DefaultConnection)"], "timeout": 120}


@pytest.fixture(scope="module")
def fresh(kubectl):
    return deleted_namespace(kubectl, NAMESPACE)


def site(kubeconfig, inventory, tag, migration=None):
    extra = {"erp_namespace": NAMESPACE, "erp_image_tag": tag, "erp_services": {"finance": {"migration": migration or MIGRATION}}}
    return run_playbook("site.yml", inventory, extra, kubeconfig=kubeconfig)


def get(kubectl, *args) -> list[dict]:
    return json.loads(kubectl("-n", NAMESPACE, "get", *args, "-o", "json").stdout)["items"]


def jobs(kubectl) -> list[dict]:
    return sorted(get(kubectl, "jobs", "-l", "app.kubernetes.io/component=migration"), key=lambda job: job["metadata"]["creationTimestamp"])


def finance_replicasets(kubectl) -> list[dict]:
    return get(kubectl, "replicasets", "-l", "app.kubernetes.io/name=finance")


def finance_pods(kubectl) -> dict[str, str]:
    return {pod["metadata"]["name"]: pod["metadata"]["uid"] for pod in get(kubectl, "pods", "-l", "app.kubernetes.io/name=finance")}


def condition(job: dict, kind: str) -> dict:
    return next((c for c in job["status"].get("conditions") or [] if c["type"] == kind and c["status"] == "True"), {})


def test_the_first_install_migrates_before_the_first_pod(fresh, kubeconfig, kubectl, inventory):
    v1 = site(kubeconfig, inventory, "1.0.0")
    assert v1.rc == 0, v1.tail()
    (job,) = jobs(kubectl)
    assert job["metadata"]["name"].startswith("finance-migrate-")
    assert condition(job, "Complete"), job["status"]
    spec = job["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["image"] == "docker.io/erp-system/finance:1.0.0"
    assert container["args"] == MIGRATION["args"]
    assert spec["serviceAccountName"] == "finance-service"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"configMapRef": {"name": "erp-config"}} in container["envFrom"]
    # No Dapr sidecar (it would keep the Job running) and no label a Service of the service selects.
    assert not any(key.startswith("dapr.io/") for key in job["spec"]["template"]["metadata"].get("annotations") or {})
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "finance-migration"
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400
    assert job["spec"]["activeDeadlineSeconds"] == 120
    (replicaset,) = finance_replicasets(kubectl)
    # Once, before the new pods: the Deployment (and its ReplicaSet) were written after the Job completed.
    assert job["status"]["completionTime"] <= replicaset["metadata"]["creationTimestamp"], (job["status"], replicaset["metadata"])
    assert len(jobs(kubectl)) == 1, "the migration ran more than once"


def test_an_unchanged_re_run_starts_no_job(kubeconfig, kubectl, inventory):
    before = [job["metadata"]["uid"] for job in jobs(kubectl)]
    again = site(kubeconfig, inventory, "1.0.0")
    assert again.rc == 0, again.tail()
    assert again.recap["changed"] == 0, again.changed_tasks
    assert [job["metadata"]["uid"] for job in jobs(kubectl)] == before


def test_a_failed_migration_stops_the_run_before_the_deployment_changes(kubeconfig, kubectl, inventory):
    replicasets = {rs["metadata"]["uid"] for rs in finance_replicasets(kubectl)}
    pods = finance_pods(kubectl)
    assert pods
    failing = site(kubeconfig, inventory, "1.0.1", migration=dict(MIGRATION, pod_annotations={FAULT: "fail"}))
    assert failing.rc != 0, failing.tail()
    assert "BackoffLimitExceeded" in failing.output, failing.tail()
    assert "container migrate: exit code 1" in failing.output, failing.tail()
    assert f"kubectl logs -n {NAMESPACE} finance-migrate-" in failing.output, failing.tail()
    assert "Nothing after migration was applied" in failing.output, failing.tail()
    assert {rs["metadata"]["uid"] for rs in finance_replicasets(kubectl)} == replicasets
    assert finance_pods(kubectl) == pods
    (deployment,) = get(kubectl, "deployments", "-l", "app.kubernetes.io/name=finance")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/erp-system/finance:1.0.0"
    failed = jobs(kubectl)[-1]
    assert condition(failed, "Failed"), failed["status"]
    # The failed Job's pod stays, so its logs can be read.
    assert get(kubectl, "pods", "-l", "batch.kubernetes.io/job-name=" + failed["metadata"]["name"])
    records = get(kubectl, "configmaps", "-l", "erp.platform/release")
    newest = max(records, key=lambda cm: int(cm["metadata"]["labels"]["erp.platform/release"]))
    assert json.loads(newest["data"]["release.json"])["result"] == "failed"


def test_the_next_run_migrates_again_before_the_new_pods(kubeconfig, kubectl, inventory):
    before = {rs["metadata"]["uid"] for rs in finance_replicasets(kubectl)}
    v2 = site(kubeconfig, inventory, "1.0.1")
    assert v2.rc == 0, v2.tail()
    all_jobs = jobs(kubectl)
    assert len(all_jobs) == 3, [job["metadata"]["name"] for job in all_jobs]
    newest = all_jobs[-1]
    assert condition(newest, "Complete"), newest["status"]
    assert newest["metadata"]["annotations"]["erp.platform/migrates-from"] == "docker.io/erp-system/finance:1.0.0"
    assert newest["metadata"]["annotations"]["erp.platform/migrates-to"] == "docker.io/erp-system/finance:1.0.1"
    (replicaset,) = [rs for rs in finance_replicasets(kubectl) if rs["metadata"]["uid"] not in before]
    assert newest["status"]["completionTime"] <= replicaset["metadata"]["creationTimestamp"]
