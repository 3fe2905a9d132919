"""The last healthy revision (the verified mark), the mark itself, and explicit rollback names."""

import pytest

from ansible_collections.erp.platform.plugins.module_utils import rollout_rollback as rollback
from ansible_collections.erp.platform.tests.unit.fixtures import deployment, replicaset

NOW = 1796169600.0  # 2026-12-02T00:00:00Z


def marked(replica_set, stamp="2026-12-01T10:00:00Z"):
    replica_set["metadata"]["annotations"][rollback.VERIFIED_ANNOTATION] = "{} {}".format(replica_set["metadata"]["labels"]["pod-template-hash"], stamp)
    return replica_set


def test_a_previous_revision_that_never_became_healthy_is_skipped_for_the_verified_one():
    # v1 verified, v2 crashlooped (never healthy), v3 is current and serving: back to v1, not N-1.
    dep = deployment(revision="3")
    rs1 = marked(replicaset(dep, 1, "aaaa", available=0, image="erp-system/finance:1.0.0"))
    rs2 = replicaset(dep, 2, "bbbb", available=0, image="erp-system/finance:2.0.0")
    rs3 = marked(replicaset(dep, 3, "cccc", available=2, image="erp-system/finance:3.0.0"))
    target, why = rollback.deployment_rollback_target(dep, [rs3, rs2, rs1])
    assert target["metadata"]["name"] == "finance-service-aaaa"
    assert why == "newest earlier revision verified healthy (at 2026-12-01T10:00:00Z)"
    plan = rollback.plan_rollback("Deployment", dep, [rs3, rs2, rs1])
    assert (plan["from_revision"], plan["to_revision"]) == ("3", "1")


def test_the_newest_of_verified_and_serving_wins():
    dep = deployment(revision="4")
    rs1 = marked(replicaset(dep, 1, "aaaa"))
    rs2 = replicaset(dep, 2, "bbbb", available=1)
    rs3 = marked(replicaset(dep, 3, "cccc"))
    target, why = rollback.deployment_rollback_target(dep, [rs1, rs2, rs3, replicaset(dep, 4, "dddd")])
    assert target["metadata"]["name"] == "finance-service-cccc"
    assert why.startswith("newest earlier revision verified healthy")
    target, why = rollback.deployment_rollback_target(dep, [rs1, rs2, replicaset(dep, 3, "cccc"), replicaset(dep, 4, "dddd")])
    assert (target["metadata"]["name"], why) == ("finance-service-bbbb", "newest earlier revision still serving")


def test_a_mark_copied_from_another_replicaset_does_not_count():
    dep = deployment(revision="3")
    rs1 = marked(replicaset(dep, 1, "aaaa"))
    rs2 = replicaset(dep, 2, "bbbb")
    rs2["metadata"]["annotations"][rollback.VERIFIED_ANNOTATION] = "aaaa 2026-12-01T10:00:00Z"  # inherited, not its own
    assert rollback.verified_mark(rs2) is None
    assert rollback.verified_mark(rs1) == "2026-12-01T10:00:00Z"
    target, _why = rollback.deployment_rollback_target(dep, [rs1, rs2, replicaset(dep, 3, "cccc")])
    assert target["metadata"]["name"] == "finance-service-aaaa"


def test_the_rollback_patch_never_copies_the_mark_to_the_deployment():
    dep = deployment(revision="3")
    patch = rollback.deployment_rollback_patch(dep, marked(replicaset(dep, 1, "aaaa")))
    assert rollback.VERIFIED_ANNOTATION not in patch[1]["value"]


def caches(dep, *replicasets):
    return {"deployments": {dep["metadata"]["name"]: dep}, "replicasets": {r["metadata"]["name"]: r for r in replicasets}}


def test_current_deployments_get_their_replicaset_marked_once():
    dep = deployment(revision="2")
    rs1, rs2 = replicaset(dep, 1, "aaaa"), replicaset(dep, 2, "bbbb", available=2)
    verdicts = [{"kind": "Deployment", "name": "finance-service", "status": "Current"}]
    assert rollback.replicasets_to_mark(verdicts, caches(dep, rs1, rs2), NOW) == [("finance-service-bbbb", "bbbb 2026-12-02T00:00:00Z")]
    # Marked already: nothing to patch on a re-run.
    assert rollback.replicasets_to_mark(verdicts, caches(dep, rs1, marked(rs2)), NOW) == []


@pytest.mark.parametrize("status", ["Failed", "InProgress", "Suspended"])
def test_deployments_not_current_are_not_marked(status):
    dep = deployment(revision="2")
    verdicts = [{"kind": "Deployment", "name": "finance-service", "status": status}, {"kind": "Service", "name": "x", "status": "Current"}]
    assert rollback.replicasets_to_mark(verdicts, caches(dep, replicaset(dep, 2, "bbbb", available=2)), NOW) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("finance-service", ("Deployment", "finance-service")),
        ("statefulset/postgres", ("StatefulSet", "postgres")),
        ("DaemonSet/agent", ("DaemonSet", "agent")),
    ],
)
def test_rollback_names(entry, expected):
    assert rollback.parse_rollback_name(entry) == expected


@pytest.mark.parametrize("entry", ["Job/migrate", "Deployment/", "Pod/x"])
def test_rollback_names_refused(entry):
    with pytest.raises(ValueError, match=r"rollback_names: got .*allowed: a Deployment name or Kind/name with Kind one of Deployment, StatefulSet, DaemonSet"):
        rollback.parse_rollback_name(entry)


def test_settle_named_fills_in_the_verdicts():
    entries = [
        {"kind": "Deployment", "name": "finance-service", "to_revision": "1", "planned_only": False, "verified": False},
        {"kind": "Deployment", "name": "sales-service", "to_revision": None, "planned_only": False, "verified": False, "message": "patch failed"},
    ]
    verdicts = [{"kind": "Deployment", "name": "finance-service", "status": "Current", "seconds_to_ready": 1.234, "message": "ok", "revision": "4"}]
    first, second = rollback.settle_named(entries, verdicts)
    assert (first["verified"], first["new_revision"], first["seconds_to_ready"]) == (True, "4", 1.23)
    assert (second["verified"], second["message"]) == (False, "patch failed")
