"""Report ordering, summary table, messages and rollback targets of erp.platform.rollout_health."""

import pytest

from ansible_collections.erp.platform.plugins.module_utils import rollout_report as report
from ansible_collections.erp.platform.plugins.module_utils import rollout_rollback as rollback
from ansible_collections.erp.platform.plugins.module_utils import rollout_status as rs
from ansible_collections.erp.platform.tests.unit.fixtures import (
    controller_revision,
    deployment,
    replicaset,
    statefulset,
)


def verdict(kind, name, status, message="", failed_at=None, ready=None, desired=None, seconds=None, revision=None, image=None):
    return {
        "kind": kind,
        "name": name,
        "status": status,
        "image": image,
        "message": message,
        "failed_at": failed_at,
        "ready": ready,
        "desired": desired,
        "seconds_to_ready": seconds,
        "revision": revision,
        "fault": None,
        "terminal": False,
    }


def test_order_puts_the_blocking_resource_first():
    verdicts = [
        verdict("Service", "gateway-service", rs.CURRENT),
        verdict("Deployment", "sales-service", rs.IN_PROGRESS),
        verdict("Deployment", "inventory-service", rs.FAILED, failed_at=3.0),
        verdict("Deployment", "finance-service", rs.FAILED, failed_at=1.5),
        verdict("Job", "erp-db-migrate", rs.SUSPENDED),
        verdict("Workload", "reporting-service", rs.NOT_FOUND),
        verdict("Deployment", "gateway-service", rs.CURRENT),
    ]
    names = [v["name"] for v in report.order(verdicts)]
    assert names == [
        "finance-service",  # failed first, earliest failure first
        "inventory-service",
        "reporting-service",
        "erp-db-migrate",
        "sales-service",
        "gateway-service",  # the Deployment before the Service of the same name
        "gateway-service",
    ]
    assert report.order(verdicts)[5]["kind"] == "Deployment"


def test_summary_table_is_aligned_and_truncates_long_messages():
    verdicts = [
        verdict("Deployment", "finance-service", rs.FAILED, "x" * 200, ready=0, desired=2, revision="2", image="erp/finance:2"),
        verdict("Deployment", "gateway-service", rs.CURRENT, "2 of 2 updated replicas are available", ready=2, desired=2, seconds=1.234, revision="1"),
        verdict("Service", "gateway-service", rs.CURRENT, "2 ready endpoints"),
    ]
    lines = report.summary_lines(verdicts)
    assert lines[0].split() == ["STATUS", "KIND", "NAME", "IMAGE", "READY", "REVISION", "ROLLOUT", "TIME", "MESSAGE"]
    assert lines[1].startswith("Failed   Deployment  finance-service  erp/finance:2  0/2    2         -        -     ")
    assert lines[1].endswith("...")
    assert len(lines[1]) < 160
    assert "1.2s" in lines[2]
    assert lines[3].split()[:7] == ["Current", "Service", "gateway-service", "-", "-", "-", "-"]
    # Columns line up: MESSAGE starts at the same offset on every line.
    offset = lines[0].index("MESSAGE")
    assert lines[2][offset:].startswith("2 of 2")


def test_headline_and_failure_message_name_what_blocks():
    verdicts = report.order(
        [
            verdict("Deployment", "gateway-service", rs.CURRENT),
            verdict("Deployment", "finance-service", rs.FAILED, "pod finance-service-7c9d8f6b5-x2x7q container finance: CrashLoopBackOff", failed_at=2.0),
            verdict("Deployment", "sales-service", rs.IN_PROGRESS, "1 of 2 updated replicas are available"),
        ]
    )
    verdicts[0]["events"] = ["BackOff: Back-off restarting failed container finance (x3)"]
    assert report.headline(verdicts, "failed", 4.04).startswith("1 of 3 resources are Current after 4.0s; blocking: Deployment/finance-service Failed")
    msg = report.failure_message("erp-system", verdicts, "failed", 4.04, 300)
    assert msg.startswith("rollout failed in namespace erp-system after 4.0s: Deployment/finance-service Failed: pod finance-service-7c9d8f6b5-x2x7q")
    assert "[events: BackOff: Back-off restarting failed container finance (x3)]" in msg
    assert "Deployment/sales-service still InProgress" in msg
    assert report.failure_message("erp-system", verdicts, "timeout", 300, 300).startswith("timed out after 300s")
    assert report.headline([verdict("Job", "j", rs.CURRENT)], "healthy", 0.5) == "all 1 resources are Current after 0.5s"


def test_warning_events_newest_last_with_counts():
    events = [
        {"type": "Normal", "reason": "Pulled", "message": "ok", "lastTimestamp": "2026-11-27T12:00:05Z"},
        {"type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container", "count": 4, "lastTimestamp": "2026-11-27T12:00:09Z"},
        {"type": "Warning", "reason": "Failed", "message": "Error: exit 1", "lastTimestamp": "2026-11-27T12:00:03Z"},
        {"type": "Warning", "reason": "Unhealthy", "note": "Readiness probe failed", "eventTime": "2026-11-27T12:00:08.000000Z"},
    ]
    assert report.warning_events(events) == [
        "Failed: Error: exit 1",
        "Unhealthy: Readiness probe failed",
        "BackOff: Back-off restarting failed container (x4)",
    ]


def test_result_entry_keeps_documented_keys_only():
    entry = report.result_entry(dict(verdict("Deployment", "a", rs.CURRENT, seconds=1.23456), terminal=True, failed_at=None))
    assert set(entry) == set(report.RESULT_KEYS)
    assert entry["seconds_to_ready"] == 1.23


def test_rollback_message_variants():
    items = [
        {
            "kind": "Deployment",
            "name": "finance-service",
            "from_revision": "2",
            "to_revision": "1",
            "new_revision": "3",
            "verified": True,
            "planned_only": False,
        },
        {
            "kind": "StatefulSet",
            "name": "postgres",
            "from_revision": "4",
            "to_revision": "3",
            "verified": False,
            "planned_only": False,
            "message": "0 of 1 pods are ready",
        },
        {"kind": "Job", "name": "migrate", "to_revision": None, "message": "a Job has no revisions to roll back to"},
        {"kind": "Deployment", "name": "sales-service", "from_revision": "5", "to_revision": "4", "planned_only": True},
    ]
    text = report.rollback_message(items)
    assert "Deployment/finance-service rolled back from revision 2 to revision 1 (now revision 3) and is healthy again" in text
    assert "StatefulSet/postgres rolled back from revision 4 to revision 3 but is not healthy: 0 of 1 pods are ready" in text
    assert "Job/migrate not rolled back" in text
    assert "would be rolled back from revision 5 to revision 4 (check mode)" in text


# ---------------------------------------------------------------------------
# Rollback targets


def test_deployment_rollback_goes_to_the_revision_still_serving():
    dep = deployment(revision="3")
    rs1 = replicaset(dep, 1, "aaaa", available=0, image="erp-system/finance:0.9.0")
    rs2 = replicaset(dep, 2, "bbbb", available=2, image="erp-system/finance:1.0.0")
    rs3 = replicaset(dep, 3, "cccc", available=0, image="erp-system/finance:1.1.0")
    target, why = rollback.deployment_rollback_target(dep, [rs1, rs3, rs2])
    assert target["metadata"]["name"] == "finance-service-bbbb"
    assert "still serving" in why


def test_deployment_rollback_skips_a_failed_revision_that_no_longer_serves():
    # Revision 2 crashed and was scaled away by an earlier rollback; revision 3 (v1 again) serves.
    dep = deployment(revision="4")
    rs2 = replicaset(dep, 2, "bbbb", available=0)
    rs3 = replicaset(dep, 3, "aaaa", available=2)
    rs4 = replicaset(dep, 4, "dddd", available=0)
    target, _reason = rollback.deployment_rollback_target(dep, [rs2, rs3, rs4])
    assert target["metadata"]["name"] == "finance-service-aaaa"


def test_deployment_rollback_without_serving_takes_newest_older_and_none_without_history():
    dep = deployment(revision="3")
    older = [replicaset(dep, 1, "aaaa"), replicaset(dep, 2, "bbbb"), replicaset(dep, 3, "cccc")]
    target, why = rollback.deployment_rollback_target(dep, older)
    assert target["metadata"]["name"] == "finance-service-bbbb"
    assert why == "newest earlier revision"
    first = deployment(revision="1")
    assert rollback.deployment_rollback_target(first, [replicaset(first, 1, "aaaa")])[0] is None


def test_deployment_rollback_ignores_replicasets_of_other_deployments():
    dep = deployment(revision="2")
    other = deployment(name="sales-service")
    target, _reason = rollback.deployment_rollback_target(dep, [replicaset(other, 1, "zzzz", available=2), replicaset(dep, 2, "cccc")])
    assert target is None


def test_deployment_rollback_patch_like_kubectl_undo():
    dep = deployment(revision="3")
    dep["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    target = replicaset(dep, 2, "bbbb", available=2, image="erp-system/finance:1.0.0", change_cause="release 1.0.0")
    patch = rollback.deployment_rollback_patch(dep, target)
    template = patch[0]["value"]
    assert patch[0]["path"] == "/spec/template"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    assert "pod-template-hash" in target["spec"]["template"]["metadata"]["labels"]  # the input is left alone
    assert template["spec"]["containers"][0]["image"] == "erp-system/finance:1.0.0"
    annotations = patch[1]["value"]
    assert annotations["kubernetes.io/change-cause"] == "release 1.0.0"
    assert annotations["deployment.kubernetes.io/revision"] == "3"  # kept from the Deployment
    assert "deployment.kubernetes.io/desired-replicas" not in annotations


def test_statefulset_rollback_to_current_revision_when_update_stopped_half_way():
    sts = statefulset(updated=1, ready=2, current_revision="postgres-5d8f7c", update_revision="postgres-84bd9f")
    revisions = [
        controller_revision(sts, "StatefulSet", "postgres-1111aa", 1),
        controller_revision(sts, "StatefulSet", "postgres-5d8f7c", 2),
        controller_revision(sts, "StatefulSet", "postgres-84bd9f", 3, image="docker.io/library/postgres:17.0"),
    ]
    target, why = rollback.controllerrevision_rollback_target(sts, revisions)
    assert target["metadata"]["name"] == "postgres-5d8f7c"
    assert "not yet updated" in why
    plan = rollback.plan_rollback("StatefulSet", sts, revisions)
    assert (plan["from_revision"], plan["to_revision"], plan["patch_type"]) == ("3", "2", "strategic")
    assert plan["patch"]["spec"]["template"]["$patch"] == "replace"
    assert plan["failed_revision"] == "postgres-84bd9f"


def test_statefulset_rollback_after_full_update_takes_previous_revision():
    sts = statefulset(current_revision="postgres-84bd9f", update_revision="postgres-84bd9f")
    revisions = [controller_revision(sts, "StatefulSet", "postgres-5d8f7c", 2), controller_revision(sts, "StatefulSet", "postgres-84bd9f", 3)]
    target, _reason = rollback.controllerrevision_rollback_target(sts, revisions)
    assert target["metadata"]["name"] == "postgres-5d8f7c"
    assert rollback.controllerrevision_rollback_target(sts, revisions[1:])[0] is None


def test_plan_rollback_deployment_and_job():
    dep = deployment(revision="2")
    plan = rollback.plan_rollback("Deployment", dep, [replicaset(dep, 1, "aaaa", available=1), replicaset(dep, 2, "bbbb")])
    assert (plan["from_revision"], plan["to_revision"], plan["patch_type"], plan["target"]) == ("2", "1", "json", "finance-service-aaaa")
    assert rollback.plan_rollback("Job", {"metadata": {"name": "migrate"}}, [])["to_revision"] is None


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [(rs.FAILED, "Deployment", True), (rs.FAILED, "Job", True), (rs.IN_PROGRESS, "Deployment", False), (rs.FAILED, "Service", False)],
)
def test_rollback_candidates_are_failed_workloads_only(status, kind, expected):
    assert bool(rollback.rollback_candidates([verdict(kind, "x", status)])) is expected


def test_new_events_drops_failed_create_events_that_repeat_the_refusal():
    refusal = (
        'pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: violates PodSecurity "restricted:latest": '
        'unrestricted capabilities (container "daprd" must set securityContext.capabilities.drop=["ALL"])'
    )
    message = "ReplicaSet finance-service-7c9d8f6b5 cannot create pods (FailedCreate by PodSecurity): " + refusal
    # As the ReplicaSet controller records them: one per attempt, each for another generated pod name.
    events = [
        {
            "type": "Warning",
            "reason": "FailedCreate",
            "message": "Error creating: " + refusal.replace("x7k2p", suffix),
            "count": 1,
            "lastTimestamp": f"2027-01-15T08:00:0{i}Z",
        }
        for i, suffix in enumerate(("a1b2c", "d3e4f"))
    ]
    events.append({"type": "Warning", "reason": "FailedCreate", "message": "(combined from similar events): Error creating: " + refusal, "count": 7})
    mount = {"type": "Warning", "reason": "FailedMount", "message": 'MountVolume.SetUp failed for volume "x"', "count": 1}
    events.append(dict(mount, lastTimestamp="2027-01-15T08:00:09Z"))
    lines = report.warning_events(events, limit=5)
    assert len(lines) == 4
    assert report.new_events(lines, message) == ['FailedMount: MountVolume.SetUp failed for volume "x"']


def test_new_events_keeps_kubelet_back_off_events():
    lines = ["BackOff: Back-off restarting failed container finance in pod finance-service-7c9d8f6b5-x7k2p_erp-system(uid) (x4)"]
    message = "pod finance-service-7c9d8f6b5-x7k2p container finance: CrashLoopBackOff (back-off 40s restarting failed container=finance); last exit code 1"
    assert report.new_events(lines, message) == lines
    assert report.new_events(["Failed: Error: ErrImagePull"], "x: ImagePullBackOff (Error: ErrImagePull)") == []
