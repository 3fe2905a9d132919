"""Release records: every site.yml run that changes something records one, a no-op run records none, a failed
verification is recorded with its verdict, playbooks/history.yml lists them, and the history stays bounded.

v1 (tag 1.0.0), the same again (nothing changed), v2 (tag 1.0.1 and a ConfigMap key more), v3 (tag 1.0.2, finance
crash-loops and is rolled back), playbooks/rollback.yml -e erp_release=1 (release 4: v1's images and
configuration), then v5 with release_history_limit 2: records 4 and 5 remain; v6 narrowed to finance records the
other services as they still run.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-releases"
FAULT = "fault.erp.test/mode"
FEATURE = {"Features__Ledger": "on"}


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

    v2 = site(kubeconfig, inventory, erp_image_tag="1.0.1", config_extra_data=FEATURE)
    assert v2.rc == 0, v2.tail()
    # finance crash-loops in v3: the verification fails and rolls it back to v2, and the record says so.
    v3 = site(
        kubeconfig,
        inventory,
        erp_image_tag="1.0.2",
        config_extra_data=FEATURE,
        verify_rollback=True,
        erp_services={"finance": {"pod_annotations": {FAULT: "crashloop"}}},
    )
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
        assert record["config"] == recorded[1]["config"] | (FEATURE if record["number"] > 1 else {})
        assert record["rollback_of"] is None
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


def rollback(kubeconfig, inventory, **extra):
    return run_playbook("playbooks/rollback.yml", inventory, {"erp_namespace": NAMESPACE, **extra}, kubeconfig=kubeconfig)


def deployed_images(kubectl) -> dict[str, str]:
    items = json.loads(kubectl("-n", NAMESPACE, "get", "deployments", "-l", "app.kubernetes.io/component=service", "-o", "json").stdout)["items"]
    return {item["metadata"]["labels"]["app.kubernetes.io/name"]: item["spec"]["template"]["spec"]["containers"][0]["image"] for item in items}


def config_data(kubectl) -> dict[str, str]:
    return json.loads(kubectl("-n", NAMESPACE, "get", "configmap", "erp-config", "-o", "json").stdout)["data"]


def resource_versions(kubectl) -> dict[str, str]:
    items = json.loads(kubectl("-n", NAMESPACE, "get", "deployments,configmaps,secrets,services", "-o", "json").stdout)["items"]
    return {f"{item['kind']}/{item['metadata']['name']}": item["metadata"]["resourceVersion"] for item in items}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"erp_release": 99}, "erp_release: got 99; allowed: the number of a recorded release (1, 2, 3)"),
        ({"erp_release": "one"}, "erp_release: got"),
        ({"erp_release": 1, "rollback_services": ["finance"]}, "allowed: exactly one of them"),
    ],
)
def test_a_rollback_to_a_release_that_cannot_be_restored_is_refused_with_nothing_changed(kubeconfig, kubectl, inventory, extra, message):
    before = resource_versions(kubectl)
    refused = rollback(kubeconfig, inventory, **extra)
    assert refused.rc != 0
    assert message in refused.output, refused.tail()
    assert "Traceback" not in refused.output
    assert resource_versions(kubectl) == before


def test_a_rollback_to_release_1_restores_its_images_and_config_and_is_recorded_as_release_4(kubeconfig, kubectl, inventory):
    assert set(deployed_images(kubectl).values()) >= {"docker.io/erp-system/finance:1.0.1", "docker.io/erp-system/sales:1.0.2"}
    assert config_data(kubectl)["Features__Ledger"] == "on"
    restored = rollback(kubeconfig, inventory, erp_release=1)
    assert restored.rc == 0, restored.tail()
    first = records(kubectl)[1]
    assert deployed_images(kubectl) == images(first)
    assert config_data(kubectl) == first["config"]
    assert "Features__Ledger" not in config_data(kubectl)
    recorded = records(kubectl)
    assert sorted(recorded) == [1, 2, 3, 4]
    assert recorded[4]["rollback_of"] == 1
    assert recorded[4]["result"] == "healthy"
    assert images(recorded[4]) == images(first)
    assert recorded[4]["config"] == first["config"]
    assert recorded[4]["checksums"] == first["checksums"]
    # The same secrets as release 1's: no warning.
    assert "differ from those release 1 ran with" not in restored.output

    history = run_playbook("playbooks/history.yml", inventory, {"erp_namespace": NAMESPACE}, kubeconfig=kubeconfig)
    assert history.rc == 0, history.tail()
    table = history.stdout.split("msg: |-", 1)[1].split("PLAY RECAP", 1)[0]
    lines = [line for line in table.splitlines() if line.strip()]
    assert lines[0].split() == ["4", "release(s)", "recorded"], table
    header = lines[1]
    row = next(line for line in lines[2:] if line.split()[0] == "4")
    assert row[header.index("RESTORES") :].split()[0] == "1", table


def test_the_history_keeps_the_newest_records_only(kubeconfig, kubectl, inventory):
    v5 = site(kubeconfig, inventory, erp_image_tag="1.0.3", release_history_limit=2)
    assert v5.rc == 0, v5.tail()
    recorded = records(kubectl)
    assert sorted(recorded) == [4, 5], sorted(recorded)
    assert recorded[5]["result"] == "healthy"


def test_a_run_narrowed_to_one_service_records_the_others_as_they_still_run(kubeconfig, kubectl, inventory):
    v6 = site(kubeconfig, inventory, erp_image_tag="1.0.4", erp_services_only=["finance"])
    assert v6.rc == 0, v6.tail()
    recorded = records(kubectl)
    assert sorted(recorded) == [4, 5, 6], sorted(recorded)
    assert recorded[6]["services_only"] == ["finance"]
    assert images(recorded[6]) == deployed_images(kubectl)
    assert images(recorded[6])["finance"] == "docker.io/erp-system/finance:1.0.4"
    assert images(recorded[6])["sales"] == "docker.io/erp-system/sales:1.0.3"
