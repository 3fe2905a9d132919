"""Release records: every site.yml run that changes something records one, a no-op run records none, a failed
verification is recorded with its verdict, playbooks/history.yml lists them, and the history stays bounded.

v1 (tag 1.0.0), the same again (nothing changed), v2 (tag 1.0.1), v3 (tag 1.0.2, finance crash-loops and is
rolled back), then v4 with release_history_limit 2: records 3 and 4 remain.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-releases"
FAULT = "fault.erp.test/mode"


@pytest.fixture(scope="module")
def fresh(kubectl):
    return deleted_namespace(kubectl, NAMESPACE)


def site(kubeconfig, inventory, **extra):
    return run_playbook("site.yml", inventory, {"erp_namespace": NAMESPACE, **extra}, kubeconfig=kubeconfig)


def records(kubectl) -> dict[int, dict]:
    """number -> release.json of every release record in the namespace."""
    items = json.loads(kubectl("-n", NAMESPACE, "get", "configmaps", "-l", "erp.platform/release", "-o", "json").stdout)["items"]
    return {int(item["metadata"]["labels"]["erp.platform/release"]): json.loads(item["data"]["release.json"]) for item in items}


def images(record: dict) -> dict[str, str]:
    return {service["name"]: service["image"] for service in record["services"]}


def test_changed_runs_record_releases_a_no_op_run_records_none_and_history_lists_them(fresh, kubeconfig, kubectl, inventory):
    v1 = site(kubeconfig, inventory, erp_image_tag="1.0.0")
    assert v1.rc == 0, v1.tail()
    assert sorted(records(kubectl)) == [1]

    again = site(kubeconfig, inventory, erp_image_tag="1.0.0")
    assert again.rc == 0, again.tail()
    assert again.recap["changed"] == 0, again.changed_tasks
    assert sorted(records(kubectl)) == [1], "a run that changed nothing recorded a release"

    v2 = site(kubeconfig, inventory, erp_image_tag="1.0.1")
    assert v2.rc == 0, v2.tail()
    # finance crash-loops in v3: the verification fails and rolls it back to v2, and the record says so.
    v3 = site(kubeconfig, inventory, erp_image_tag="1.0.2", verify_rollback=True, erp_services={"finance": {"pod_annotations": {FAULT: "crashloop"}}})
    assert v3.rc != 0, v3.tail()
    assert "CrashLoopBackOff" in v3.output, v3.tail()

    recorded = records(kubectl)
    assert sorted(recorded) == [1, 2, 3]
    assert [recorded[n]["result"] for n in (1, 2, 3)] == ["healthy", "healthy", "rolled back"]
    assert set(images(recorded[1]).values()) == {f"docker.io/erp-system/{name}:1.0.0" for name in images(recorded[1])}
    assert images(recorded[2])["finance"] == "docker.io/erp-system/finance:1.0.1"
    assert images(recorded[3])["finance"] == "docker.io/erp-system/finance:1.0.2"
    assert len(recorded[1]["services"]) == 8
    for record in recorded.values():
        assert record["environment"] == "local"
        assert record["namespace"] == NAMESPACE
        assert record["collection_version"] == "0.1.0"
        assert record["actor"]["user"]
        assert record["actor"]["awx_job_id"] is None
        assert {service["strategy"] for service in record["services"]} == {"rolling"}
        assert set(record["checksums"]) == {"configmap", "secrets"}
    # Checksums, never values: the local inventory's generated secrets appear in no record.
    secrets = [path.read_text().strip() for path in (inventory / ".secrets").iterdir()]
    assert len(secrets) == 4
    text = json.dumps(recorded)
    assert [value for value in secrets if value in text] == []

    history = run_playbook("playbooks/history.yml", inventory, {"erp_namespace": NAMESPACE}, kubeconfig=kubeconfig)
    assert history.rc == 0, history.tail()
    assert history.recap["changed"] == 0
    table = history.stdout.split("msg: |-", 1)[1].split("PLAY RECAP", 1)[0]
    rows = [line.split() for line in table.splitlines() if line.strip()]
    assert rows[0] == ["3", "release(s)", "recorded"], table
    assert rows[1][:4] == ["RELEASE", "TIME", "RESULT", "ENV"], table
    assert [row[0] for row in rows[2:]] == ["1", "2", "3"], table
    assert rows[2][2] == "healthy", table
    assert rows[4][2:4] == ["rolled", "back"], table
    assert "finance=1.0.0," in rows[2], table
    assert "finance=1.0.2," in rows[4], table


def test_the_history_keeps_the_newest_records_only(kubeconfig, kubectl, inventory):
    v4 = site(kubeconfig, inventory, erp_image_tag="1.0.3", release_history_limit=2)
    assert v4.rc == 0, v4.tail()
    recorded = records(kubectl)
    assert sorted(recorded) == [3, 4], sorted(recorded)
    assert recorded[4]["result"] == "healthy"
