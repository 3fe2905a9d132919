"""Readiness and fail-fast predicates of erp.platform.rollout_health, per kind."""

import pytest

from ansible_collections.erp.platform.plugins.module_utils import rollout_status as rs
from ansible_collections.erp.platform.tests.unit.fixtures import (
    NOW,
    OPTS,
    component,
    container_status,
    daemonset,
    deployment,
    endpointslice,
    httproute,
    ingress,
    job,
    pod,
    pod_spec,
    replicaset,
    rs_pod,
    service,
    stamp,
    statefulset,
    sts_pod,
)

# ---------------------------------------------------------------------------
# Deployments: kubectl's rules and the early-finish traps of ROLLOUT.md


def dep_status(dep, replicasets=(), pods=(), **opts):
    return rs.deployment_status(dep, list(replicasets), list(pods), NOW, dict(OPTS, **opts))


def test_deployment_complete_is_current():
    dep = deployment()
    new = replicaset(dep, 2, "7c9d8f6b5", available=2)
    verdict = dep_status(dep, [new], [rs_pod(new, "a"), rs_pod(new, "b")])
    assert verdict["status"] == rs.CURRENT
    assert (verdict["ready"], verdict["desired"], verdict["revision"]) == (2, 2, "2")
    assert verdict["fault"] is None


def test_deployment_rollout_seconds_come_from_api_timestamps():
    dep = deployment()  # Progressing: NewReplicaSetAvailable 30 s before NOW
    new = replicaset(dep, 2, "7c9d8f6b5", available=2)
    new["metadata"]["creationTimestamp"] = stamp(42)
    verdict = dep_status(dep, [new], [rs_pod(new, "a"), rs_pod(new, "b")])
    assert verdict["rollout_seconds"] == 12.0
    # Without the ReplicaSet's creation time there is nothing to measure from.
    del new["metadata"]["creationTimestamp"]
    assert dep_status(dep, [new], [rs_pod(new, "a"), rs_pod(new, "b")])["rollout_seconds"] is None


def test_deployment_observed_generation_lagging_is_not_done():
    # The status still describes generation 2, complete; generation 3 was just applied.
    verdict = dep_status(deployment(generation=3, observed=2))
    assert verdict["status"] == rs.IN_PROGRESS
    assert "observe generation 3" in verdict["message"]


def test_deployment_updated_replicas_below_spec_is_in_progress():
    verdict = dep_status(deployment(replicas=3, updated=1, status_replicas=3, available=3))
    assert verdict["status"] == rs.IN_PROGRESS
    assert "1 of 3 updated" in verdict["message"]


def test_deployment_old_replicas_still_terminating_is_in_progress():
    # All new pods available, but old ones still counted: kubectl waits, Helm 3 does not.
    verdict = dep_status(deployment(replicas=2, updated=2, status_replicas=3, available=3))
    assert verdict["status"] == rs.IN_PROGRESS
    assert "1 old replicas are pending termination" in verdict["message"]


def test_deployment_max_surge_zero_mid_rollout_is_in_progress():
    # maxSurge 0: the controller first scales the old ReplicaSet down, so replicas == available
    # while only one pod is new - a predicate that only compares ready to desired finishes early.
    dep = deployment(
        replicas=2,
        updated=1,
        status_replicas=2,
        available=2,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
    )
    verdict = dep_status(dep)
    assert verdict["status"] == rs.IN_PROGRESS


def test_deployment_updated_but_not_available_is_in_progress():
    # Helm 3 subtracts maxUnavailable and calls this ready; we do not.
    verdict = dep_status(deployment(replicas=4, updated=4, status_replicas=4, available=3))
    assert verdict["status"] == rs.IN_PROGRESS
    assert "3 of 4 updated replicas are available" in verdict["message"]


def test_deployment_scaled_to_zero_is_current():
    verdict = dep_status(deployment(replicas=0, updated=0, status_replicas=0, available=0))
    assert verdict["status"] == rs.CURRENT


def test_deployment_progress_deadline_exceeded_fails():
    conditions = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "finance-service-7c9d8f6b5" has timed out progressing.',
            "lastUpdateTime": stamp(5),
        }
    ]
    verdict = dep_status(deployment(updated=1, available=1, conditions=conditions))
    assert verdict["status"] == rs.FAILED
    assert verdict["terminal"] is True
    assert "progress deadline (600s)" in verdict["message"]


def test_deployment_progress_deadline_from_before_a_rollback_is_ignored():
    conditions = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "lastUpdateTime": stamp(100)}]
    verdict = dep_status(deployment(updated=1, available=1, conditions=conditions), since=NOW - 10)
    assert verdict["status"] == rs.IN_PROGRESS


def test_paused_deployment_is_suspended_not_current():
    verdict = dep_status(deployment(paused=True))
    assert verdict["status"] == rs.SUSPENDED
    assert verdict["terminal"] is True
    assert "rollout resume" in verdict["message"]


def test_deleted_deployment_is_terminating():
    dep = deployment()
    dep["metadata"]["deletionTimestamp"] = stamp(1)
    assert dep_status(dep)["status"] == rs.TERMINATING


def _rollout_with_new_pod(container=None, init=None, **pod_kwargs):
    """Deployment at revision 2 mid-rollout: old ReplicaSet serving, one new pod with the given state."""
    dep = deployment(updated=1, status_replicas=3, available=2)
    old = replicaset(dep, 1, "6d5f8c7b9", available=2)
    new = replicaset(dep, 2, "7c9d8f6b5", available=0, replicas=1)
    containers = [container] if container else None
    new_pod = rs_pod(new, "x2x7q", containers=containers, init_containers=init, ready=False, **pod_kwargs)
    return dep, [old, new], [rs_pod(old, "a"), rs_pod(old, "b"), new_pod]


def test_crashloop_in_new_revision_fails_fast_naming_pod_container_reason():
    dep, sets, pods = _rollout_with_new_pod(
        container_status(waiting="CrashLoopBackOff", message="back-off 20s restarting failed container=finance", restarts=2, last_exit=1)
    )
    verdict = dep_status(dep, sets, pods)
    assert verdict["status"] == rs.FAILED
    fault = verdict["fault"]
    assert (fault["pod"], fault["container"], fault["reason"], fault["restarts"]) == ("finance-service-7c9d8f6b5-x2x7q", "finance", "CrashLoopBackOff", 2)
    assert "last exit code 1 (Error)" in fault["message"]
    assert verdict["message"].startswith("pod finance-service-7c9d8f6b5-x2x7q container finance: CrashLoopBackOff")


def test_crashloop_in_old_revision_is_not_blamed_on_the_new_one():
    dep = deployment(updated=1, status_replicas=3, available=2)
    old = replicaset(dep, 1, "6d5f8c7b9", available=1)
    new = replicaset(dep, 2, "7c9d8f6b5", available=0, replicas=1)
    bad_old = rs_pod(old, "a", containers=[container_status(waiting="CrashLoopBackOff", restarts=5)], ready=False)
    verdict = dep_status(dep, [old, new], [bad_old, rs_pod(new, "n", ready=False, ready_since=2)])
    assert verdict["status"] == rs.IN_PROGRESS
    assert verdict["fault"] is None


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"])
def test_each_fatal_waiting_reason_fails(reason):
    dep, sets, pods = _rollout_with_new_pod(container_status(waiting=reason, message="detail of " + reason))
    verdict = dep_status(dep, sets, pods)
    assert verdict["status"] == rs.FAILED
    assert verdict["fault"]["reason"] == reason
    assert "detail of " + reason in verdict["message"]


def test_transient_waiting_reason_is_not_fatal():
    dep, sets, pods = _rollout_with_new_pod(container_status(waiting="ContainerCreating"))
    assert dep_status(dep, sets, pods)["status"] == rs.IN_PROGRESS


def test_init_container_waiting_fails_and_says_init():
    init = [container_status(name="migrate", waiting="ImagePullBackOff", message='Back-off pulling image "erp-system/migrate:9"')]
    dep, sets, pods = _rollout_with_new_pod(container_status(waiting="PodInitializing"), init=init)
    verdict = dep_status(dep, sets, pods)
    assert verdict["status"] == rs.FAILED
    assert verdict["fault"]["init"] is True
    assert "init container migrate: ImagePullBackOff" in verdict["message"]


def test_fail_fast_off_reports_fault_but_keeps_waiting():
    dep, sets, pods = _rollout_with_new_pod(container_status(waiting="ImagePullBackOff"))
    verdict = dep_status(dep, sets, pods, fail_fast=False)
    assert verdict["status"] == rs.IN_PROGRESS
    assert "ImagePullBackOff" in verdict["message"]
    assert verdict["fault"]["reason"] == "ImagePullBackOff"


def test_unschedulable_within_grace_waits():
    dep, sets, pods = _rollout_with_new_pod(unschedulable_since=10)
    assert dep_status(dep, sets, pods)["status"] == rs.IN_PROGRESS


def test_unschedulable_past_grace_fails_with_scheduler_message():
    dep, sets, pods = _rollout_with_new_pod(unschedulable_since=45)
    verdict = dep_status(dep, sets, pods)
    assert verdict["status"] == rs.FAILED
    assert verdict["fault"]["reason"] == "Unschedulable"
    assert "Insufficient cpu" in verdict["message"]
    assert verdict["fault"]["container"] is None


def test_running_never_ready_fails_after_grace():
    dep, sets, pods = _rollout_with_new_pod(container_status(running_since=90), ready_since=90)
    verdict = dep_status(dep, sets, pods)
    assert verdict["status"] == rs.FAILED
    assert verdict["fault"]["reason"] == "NotReady"
    assert "not Ready for 90s" in verdict["message"]


def test_running_not_ready_within_grace_waits():
    dep, sets, pods = _rollout_with_new_pod(container_status(running_since=20), ready_since=20)
    assert dep_status(dep, sets, pods)["status"] == rs.IN_PROGRESS


def test_not_ready_grace_respects_readiness_initial_delay():
    slow = pod_spec(readiness={"httpGet": {"path": "/health/ready", "port": 8080}, "initialDelaySeconds": 120, "periodSeconds": 10})
    dep, sets, pods = _rollout_with_new_pod(container_status(running_since=90), ready_since=90, spec=slow)
    assert dep_status(dep, sets, pods)["status"] == rs.IN_PROGRESS


def test_startup_probe_not_yet_passed_is_not_not_ready():
    dep, sets, pods = _rollout_with_new_pod(container_status(running_since=300, started=False), ready_since=300)
    assert dep_status(dep, sets, pods)["status"] == rs.IN_PROGRESS


def test_replica_failure_from_admission_fails():
    dep = deployment(updated=0, status_replicas=0, available=0, revision="1")
    new = replicaset(dep, 1, "7c9d8f6b5", available=0, replicas=2)
    new["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": 'pods "finance-service-7c9d8f6b5-abcde" is forbidden: violates PodSecurity "restricted:latest"',
            "lastTransitionTime": stamp(40),
        }
    ]
    verdict = dep_status(dep, [new])
    assert verdict["status"] == rs.FAILED
    assert "violates PodSecurity" in verdict["message"]


# ---------------------------------------------------------------------------
# StatefulSets


def sts_status(sts, pods=(), **opts):
    return rs.statefulset_status(sts, list(pods), NOW, dict(OPTS, **opts))


def test_statefulset_complete_is_current():
    assert sts_status(statefulset())["status"] == rs.CURRENT


def test_statefulset_rolling_update_incomplete_is_in_progress():
    sts = statefulset(updated=1, current_revision="postgres-5d8f7c", update_revision="postgres-84bd9f")
    verdict = sts_status(sts)
    assert verdict["status"] == rs.IN_PROGRESS
    assert "1 of 3 pods at revision postgres-84bd9f" in verdict["message"]


def test_statefulset_not_all_ready_is_in_progress():
    assert sts_status(statefulset(ready=2))["status"] == rs.IN_PROGRESS


def test_statefulset_generation_lag_is_in_progress():
    assert sts_status(statefulset(generation=3, observed=2))["status"] == rs.IN_PROGRESS


def test_statefulset_partition_done_when_pods_above_partition_updated():
    # partition 2 of 3: only ordinal 2 is updated; currentRevision never catches up, which is fine.
    sts = statefulset(partition=2, updated=1, current_revision="postgres-5d8f7c", update_revision="postgres-84bd9f")
    verdict = sts_status(sts)
    assert verdict["status"] == rs.CURRENT
    assert "held back by partition 2" in verdict["message"]


def test_statefulset_partition_waits_for_pods_above_partition():
    sts = statefulset(partition=1, updated=1, current_revision="postgres-5d8f7c", update_revision="postgres-84bd9f")
    assert sts_status(sts)["status"] == rs.IN_PROGRESS


def test_statefulset_crashloop_in_update_revision_fails_old_revision_ignored():
    sts = statefulset(ready=2, updated=1, current_revision="postgres-5d8f7c", update_revision="postgres-84bd9f")
    crash = container_status(waiting="CrashLoopBackOff", restarts=3, last_exit=1)
    old_bad = sts_pod(sts, 0, "postgres-5d8f7c", containers=[container_status(waiting="CrashLoopBackOff")], ready=False)
    assert sts_status(sts, [old_bad])["status"] == rs.IN_PROGRESS
    new_bad = sts_pod(sts, 2, "postgres-84bd9f", containers=[crash], ready=False)
    verdict = sts_status(sts, [old_bad, new_bad])
    assert verdict["status"] == rs.FAILED
    assert verdict["fault"]["pod"] == "postgres-2"


def test_statefulset_on_delete_is_current_when_ready():
    sts = statefulset(strategy_type="OnDelete", updated=0, update_revision="postgres-84bd9f")
    assert sts_status(sts)["status"] == rs.CURRENT


def test_statefulset_surplus_pods_terminating_is_in_progress():
    assert sts_status(statefulset(replicas=2, ready=2, updated=2, status_replicas=3))["status"] == rs.IN_PROGRESS


# ---------------------------------------------------------------------------
# DaemonSets and Jobs


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, rs.CURRENT),
        ({"updated": 2}, rs.IN_PROGRESS),
        ({"available": 2}, rs.IN_PROGRESS),
        ({"generation": 2, "observed": 1}, rs.IN_PROGRESS),
    ],
)
def test_daemonset_rules(kwargs, expected):
    assert rs.daemonset_status(daemonset(**kwargs), [], NOW, OPTS)["status"] == expected


def test_daemonset_image_pull_fails():
    ds = daemonset(available=2)
    bad = pod("log-agent-q8z", "DaemonSet", "log-agent", ds["metadata"]["uid"], containers=[container_status(waiting="ErrImagePull")], ready=False)
    assert rs.daemonset_status(ds, [bad], NOW, OPTS)["status"] == rs.FAILED


def test_job_complete_is_current():
    done = job(succeeded=1, active=0, conditions=[{"type": "Complete", "status": "True"}])
    verdict = rs.job_status(done, [], NOW, OPTS)
    assert (verdict["status"], verdict["ready"], verdict["desired"]) == (rs.CURRENT, 1, 1)


def test_failed_job_fails_with_reason():
    failed = job(
        failed=3,
        active=0,
        conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}],
    )
    verdict = rs.job_status(failed, [], NOW, OPTS)
    assert verdict["status"] == rs.FAILED
    assert verdict["terminal"] is True
    assert "BackoffLimitExceeded" in verdict["message"]
    assert "3 failed pods" in verdict["message"]


def test_failed_job_names_its_newest_failed_pod_the_exit_and_how_to_read_the_logs():
    failed = job(failed=2, active=0, conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "backoff limit"}])
    exited = {"name": "migrate", "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "relation finance.ledger exists"}}}
    older = pod("erp-db-migrate-aaaaa", "Job", "erp-db-migrate", "job-erp-db-migrate", phase="Failed", containers=[dict(exited)], created=60)
    newer = pod("erp-db-migrate-bbbbb", "Job", "erp-db-migrate", "job-erp-db-migrate", phase="Failed", containers=[dict(exited)], created=30)
    message = rs.job_status(failed, [older, newer], NOW, OPTS)["message"]
    assert message == (
        "job failed: BackoffLimitExceeded: backoff limit (2 failed pods); pod erp-db-migrate-bbbbb container migrate: exit code 3"
        " (Error: relation finance.ledger exists); its logs: kubectl logs -n erp-system erp-db-migrate-bbbbb --all-containers"
    )


def test_running_job_is_in_progress_and_suspended_job_suspended():
    assert rs.job_status(job(), [], NOW, OPTS)["status"] == rs.IN_PROGRESS
    assert rs.job_status(job(suspend=True, active=0), [], NOW, OPTS)["status"] == rs.SUSPENDED


def test_job_pod_image_pull_fails_fast():
    j = job()
    bad = pod(
        "erp-db-migrate-7xk2p", "Job", j["metadata"]["name"], j["metadata"]["uid"], containers=[container_status(waiting="ImagePullBackOff")], ready=False
    )
    assert rs.job_status(j, [bad], NOW, OPTS)["status"] == rs.FAILED


# ---------------------------------------------------------------------------
# Services, Ingresses, Dapr components


def finance_pods(ready=True):
    labels = {"app.kubernetes.io/name": "finance", "app.kubernetes.io/instance": "erp"}
    return [pod("finance-a", "ReplicaSet", "finance-rs", "rs-1", labels=labels, ready=ready)]


def test_service_with_ready_endpoint_is_current():
    verdict = rs.service_status(service(), [endpointslice("finance-service", [True, False])], finance_pods())
    assert verdict["status"] == rs.CURRENT
    assert verdict["ready"] == 1


def test_service_selecting_no_pods_names_the_label_mismatch():
    svc = service(selector={"app.kubernetes.io/name": "finanse"})
    verdict = rs.service_status(svc, [], finance_pods())
    assert verdict["status"] == rs.IN_PROGRESS
    assert "selector app.kubernetes.io/name=finanse matches no pods" in verdict["message"]


def test_service_with_only_unready_endpoints_is_not_current():
    verdict = rs.service_status(service(), [endpointslice("finance-service", [False])], finance_pods(ready=False))
    assert verdict["status"] == rs.IN_PROGRESS
    assert "matches 1 pods, 0 of them Ready" in verdict["message"]


def test_external_name_and_selectorless_services_are_not_checked():
    assert rs.service_status(service(svc_type="ExternalName"), [], [])["status"] == rs.CURRENT
    assert rs.service_status(service(selector=False), [], [])["status"] == rs.CURRENT


def test_ingress_backends_missing_service_wrong_port_and_ok():
    services = {"gateway-service": service("gateway-service"), "reporting-service": service("reporting-service")}
    verdicts = {"gateway-service": {"status": rs.CURRENT}, "reporting-service": {"status": rs.CURRENT}}
    assert rs.ingress_status(ingress(), services, verdicts)["status"] == rs.CURRENT
    missing = rs.ingress_status(ingress(paths=[("/", "gateway-service", 80), ("/api/dashboard", "dashboard-service", 80)]), services, verdicts)
    assert missing["status"] == rs.IN_PROGRESS
    assert "backend Service dashboard-service does not exist" in missing["message"]
    wrong_port = rs.ingress_status(ingress(paths=[("/", "gateway-service", 8080)]), services, verdicts)
    assert "has no port 8080" in wrong_port["message"]
    by_name = rs.ingress_status(ingress(paths=[("/", "gateway-service", "http")]), services, verdicts)
    assert by_name["status"] == rs.CURRENT


GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "erp-gateway", "namespace": "erp-system"}
ACCEPTED = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}


def route_inputs():
    services = {"reporting-service": service("reporting-service")}
    return services, {"reporting-service": {"status": rs.CURRENT, "message": "2 of 2 endpoints ready"}}


def test_httproute_accepted_by_its_gateway_with_ready_backends_is_current():
    verdict = rs.httproute_status(httproute(status=[(GATEWAY, ACCEPTED, 1)]), *route_inputs())
    assert verdict["kind"] == "HTTPRoute"
    assert verdict["status"] == rs.CURRENT
    assert verdict["message"] == "1 backends, all with ready endpoints; accepted by Gateway erp-system/erp-gateway"
    assert rs.httproute_backends(httproute()) == [("rule 1 /api/dashboard", "reporting-service", 80)]


def test_httproute_rejected_by_its_controller_fails_at_once_with_the_reason_and_message():
    rejected = {"Accepted": ("False", "NotAllowedByListeners"), "ResolvedRefs": ("True", "ResolvedRefs")}
    verdict = rs.httproute_status(httproute(status=[(GATEWAY, rejected, 1)]), *route_inputs(), require_acceptance=False)
    assert verdict["status"] == rs.FAILED
    assert verdict["terminal"] is True
    assert verdict["message"] == (
        "Gateway erp-system/erp-gateway (example.com/gateway-controller): Accepted False: NotAllowedByListeners: Accepted is False: NotAllowedByListeners"
    )
    refused = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "RefNotPermitted")}
    assert "ResolvedRefs False: RefNotPermitted" in rs.httproute_status(httproute(status=[(GATEWAY, refused, 1)]), *route_inputs())["message"]


def test_httproute_backend_not_found_waits_as_the_controller_corrects_it():
    lagging = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")}
    verdict = rs.httproute_status(httproute(status=[(GATEWAY, lagging, 1)]), *route_inputs())
    assert verdict["status"] == rs.IN_PROGRESS
    assert not verdict["terminal"]
    assert "ResolvedRefs False: BackendNotFound" in verdict["message"]


def test_httproute_no_controller_answer_waits_when_required_and_is_only_reported_otherwise():
    required = rs.httproute_status(httproute(), *route_inputs(), require_acceptance=True)
    assert required["status"] == rs.IN_PROGRESS
    assert required["message"] == "no controller has answered for Gateway erp-system/erp-gateway (no status for it)"
    reported = rs.httproute_status(httproute(), *route_inputs(), require_acceptance=False)
    assert reported["status"] == rs.CURRENT
    assert reported["message"].endswith(
        "no controller has answered for Gateway erp-system/erp-gateway (no status for it) (not required: route_status is reported)"
    )


def test_httproute_condition_unknown_is_not_decided_yet_not_a_rejection():
    undecided = {"Accepted": ("Unknown", "Pending"), "ResolvedRefs": ("True", "ResolvedRefs")}
    required = rs.httproute_status(httproute(status=[(GATEWAY, undecided, 1)]), *route_inputs())
    assert required["status"] == rs.IN_PROGRESS
    assert not required["terminal"]
    assert required["message"] == "Gateway erp-system/erp-gateway (example.com/gateway-controller) has not decided: Accepted Unknown: Pending"
    reported = rs.httproute_status(httproute(status=[(GATEWAY, undecided, 1)]), *route_inputs(), require_acceptance=False)
    assert reported["status"] == rs.CURRENT


def test_httproute_status_of_an_older_generation_or_another_parent_is_no_answer():
    stale = rs.httproute_status(httproute(generation=3, status=[(GATEWAY, ACCEPTED, 2)]), *route_inputs())
    assert stale["status"] == rs.IN_PROGRESS
    assert "(its status is for generation 2 of 3)" in stale["message"]
    listener = dict(GATEWAY, sectionName="https")
    other = rs.httproute_status(httproute(parents=[listener], status=[(GATEWAY, ACCEPTED, 1)]), *route_inputs())
    assert other["status"] == rs.IN_PROGRESS
    assert "Gateway erp-system/erp-gateway listener https (no status for it)" in other["message"]
    # parentRef defaults (group, kind, namespace) match a status written with them spelled out
    short = rs.httproute_status(httproute(parents=[{"name": "erp-gateway"}], status=[(GATEWAY, ACCEPTED, 1)]), *route_inputs())
    assert short["status"] == rs.CURRENT


def test_httproute_missing_backend_or_port_keeps_it_in_progress_and_names_the_rule():
    services, verdicts = route_inputs()
    missing = rs.httproute_status(httproute(backend="dashboard-service", status=[(GATEWAY, ACCEPTED, 1)]), services, verdicts)
    assert missing["status"] == rs.IN_PROGRESS
    assert missing["message"] == "rule 1 /api/dashboard: backend Service dashboard-service does not exist"
    port = rs.httproute_status(httproute(port=8080, status=[(GATEWAY, ACCEPTED, 1)]), services, verdicts)
    assert "rule 1 /api/dashboard: Service reporting-service has no port 8080" in port["message"]
    not_ready = rs.httproute_status(
        httproute(status=[(GATEWAY, ACCEPTED, 1)]), services, {"reporting-service": {"status": rs.IN_PROGRESS, "message": "no ready endpoints"}}
    )
    assert "Service reporting-service: no ready endpoints" in not_ready["message"]


def test_dapr_scoped_component_is_reported_not_blocking_and_missing_component():
    app_ids = {"finance-service": "Deployment/finance-service", "sales-service": "Deployment/sales-service"}
    components = {"pubsub": component("pubsub", scopes=["finance-service"]), "statestore": component("statestore", "state.redis")}
    verdicts = {v["name"]: v for v in rs.dapr_component_statuses(components, app_ids, [])}
    assert verdicts["statestore"]["status"] == rs.CURRENT
    assert verdicts["statestore"]["ready"] == 2
    # A narrower scope is deliberate (a secret store for one service): reported with its count, not waited for.
    assert verdicts["pubsub"]["status"] == rs.CURRENT
    assert verdicts["pubsub"]["message"] == "pubsub.redis scoped to finance-service (1 of 2 selected app-ids)"
    assert (verdicts["pubsub"]["ready"], verdicts["pubsub"]["desired"]) == (1, 2)
    required = rs.dapr_component_statuses(components, app_ids, ["statestore", "bindings"])
    assert [v["status"] for v in required] == [rs.CURRENT, rs.NOT_FOUND]


def test_dapr_crd_missing_fails_and_nothing_to_check_without_dapr_apps():
    assert rs.dapr_component_statuses(None, {"finance-service": "Deployment/finance-service"}, [])[0]["status"] == rs.FAILED
    assert rs.dapr_component_statuses(None, {}, []) == []


def test_dapr_app_ids_from_pod_template_annotations():
    dapr = deployment(annotations={"dapr.io/enabled": "true", "dapr.io/app-id": "finance-service"})
    plain = deployment(name="gateway-service")
    assert rs.dapr_app_ids([("Deployment", dapr), ("Deployment", plain)]) == {"finance-service": "Deployment/finance-service"}


# ---------------------------------------------------------------------------
# Timestamps


def test_parse_time_variants():
    assert rs.parse_time("2026-11-27T12:00:00Z") == rs.parse_time("2026-11-27T13:00:00+01:00")
    assert rs.parse_time("2026-11-27T12:00:00.250000Z") - rs.parse_time("2026-11-27T12:00:00Z") == pytest.approx(0.25)
    assert rs.parse_time(None) is None
    assert rs.parse_time("yesterday") is None


# ---------------------------------------------------------------------------
# Pods refused at creation: the ReplicaFailure condition as the ReplicaSet controller writes it
# (reason FailedCreate, the API's refusal as the message, lastTransitionTime of the first failure).

POD_SECURITY_REFUSAL = (
    'pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: violates PodSecurity "restricted:latest": '
    'unrestricted capabilities (container "daprd" must set securityContext.capabilities.drop=["ALL"])'
)
QUOTA_REFUSAL = 'pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0'
LIMIT_RANGE_REFUSAL = 'pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: maximum memory usage per Container is 256Mi, but limit is 512Mi'
WEBHOOK_REFUSAL = 'admission webhook "validate.policy.example.com" denied the request: image registry docker.io is not allowed'


def _refused(message, seconds_ago, deployment_only=False):
    dep = deployment(updated=0, status_replicas=0, available=0, revision="1")
    new = replicaset(dep, 1, "7c9d8f6b5", available=0, replicas=2)
    cond = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message, "lastTransitionTime": stamp(seconds_ago)}
    if deployment_only:
        # The Deployment controller copies the ReplicaSet's condition (same reason, message and time).
        dep["status"]["conditions"] = [dict(cond, lastUpdateTime=cond["lastTransitionTime"])]
    else:
        new["status"]["conditions"] = [cond]
    return dep, [new]


def test_pod_security_refusal_fails_at_once_naming_rule_and_container():
    dep, sets = _refused(POD_SECURITY_REFUSAL, 0)
    verdict = dep_status(dep, sets)
    assert verdict["status"] == rs.FAILED
    assert verdict["message"] == "ReplicaSet finance-service-7c9d8f6b5 cannot create pods (FailedCreate by PodSecurity): " + POD_SECURITY_REFUSAL
    assert verdict["fault"]["container"] == "daprd"
    assert verdict["fault"]["reason"] == "FailedCreate"
    assert verdict["replicaset"] == "finance-service-7c9d8f6b5"


def test_refusal_copied_to_the_deployment_only_counts_too():
    dep, sets = _refused(POD_SECURITY_REFUSAL, 0, deployment_only=True)
    assert dep_status(dep, sets)["status"] == rs.FAILED


def test_quota_refusal_waits_the_grace_then_fails_naming_the_quota():
    dep, sets = _refused(QUOTA_REFUSAL, 5)
    early = dep_status(dep, sets)
    assert early["status"] == rs.IN_PROGRESS
    assert early["fault"] is None
    dep, sets = _refused(QUOTA_REFUSAL, 31)
    late = dep_status(dep, sets)
    assert late["status"] == rs.FAILED
    assert "(FailedCreate by ResourceQuota): " in late["message"]
    assert late["message"].endswith("exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0")


@pytest.mark.parametrize(
    ("message", "admission"),
    [(LIMIT_RANGE_REFUSAL, "LimitRange"), (WEBHOOK_REFUSAL, "webhook validate.policy.example.com")],
)
def test_limit_range_and_webhook_refusals_fail_at_once(message, admission):
    dep, sets = _refused(message, 0)
    verdict = dep_status(dep, sets)
    assert verdict["status"] == rs.FAILED
    assert f"(FailedCreate by {admission}): {message}" in verdict["message"]


def test_unknown_create_failure_waits_the_grace():
    dep, sets = _refused('pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: error looking up service account erp-system/finance', 5)
    assert dep_status(dep, sets)["status"] == rs.IN_PROGRESS
    dep, sets = _refused('pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: error looking up service account erp-system/finance', 40)
    verdict = dep_status(dep, sets)
    assert verdict["status"] == rs.FAILED
    assert "cannot create pods (FailedCreate): pods " in verdict["message"]


def test_refusal_from_before_this_watch_gets_the_grace_from_its_start():
    dep, sets = _refused(POD_SECURITY_REFUSAL, 600)
    assert dep_status(dep, sets, since=NOW - 5)["status"] == rs.IN_PROGRESS
    assert dep_status(dep, sets, since=NOW - 31)["status"] == rs.FAILED


def test_refusal_without_fail_fast_is_reported_but_waits():
    dep, sets = _refused(POD_SECURITY_REFUSAL, 0)
    verdict = dep_status(dep, sets, fail_fast=False)
    assert verdict["status"] == rs.IN_PROGRESS
    assert verdict["message"].endswith("; ReplicaSet finance-service-7c9d8f6b5 cannot create pods (FailedCreate by PodSecurity): " + POD_SECURITY_REFUSAL)


def test_admission_refusal_reads_each_admission():
    several = (
        'pods "x" is forbidden: violates PodSecurity "restricted:v1.34": allowPrivilegeEscalation != false '
        '(containers "daprd", "finance" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true '
        '(pod or container "daprd" must set securityContext.runAsNonRoot=true)'
    )
    found = rs.admission_refusal(several)
    assert (found["admission"], found["container"], found["permanent"]) == ("PodSecurity", "daprd", True)
    assert found["detail"].startswith("restricted:v1.34: allowPrivilegeEscalation != false")
    assert rs.admission_refusal(QUOTA_REFUSAL)["detail"] == "quota erp-quota"
    failed = rs.admission_refusal('pods "x" is forbidden: failed quota: erp-quota: must specify limits.cpu for: finance')
    assert (failed["admission"], failed["detail"], failed["permanent"]) == ("ResourceQuota", "quota erp-quota", False)
    assert rs.admission_refusal(LIMIT_RANGE_REFUSAL)["admission"] == "LimitRange"
    assert rs.admission_refusal('Internal error occurred: failed calling webhook "x": connection refused') is None
    assert rs.admission_refusal("") is None


def test_admission_core_drops_the_event_prefix_and_the_pod_name():
    event = "(combined from similar events): Error creating: " + POD_SECURITY_REFUSAL.replace("x7k2p", "q9zzt")
    assert rs.admission_core(event) == rs.admission_core(POD_SECURITY_REFUSAL)
    assert rs.admission_core(event).startswith('violates PodSecurity "restricted:latest"')


# ---------------------------------------------------------------------------
# Pods a StatefulSet cannot create: only its FailedCreate events tell (no condition)

STATEFUL_QUOTA_REFUSAL = 'pods "postgres-0" is forbidden: exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0'
STATEFUL_POD_SECURITY_REFUSAL = (
    'pods "postgres-0" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true '
    '(pod or container "postgres" must set securityContext.runAsNonRoot=true)'
)


def refused_statefulset(spec_written_ago=300):
    """A one-replica StatefulSet whose pod does not exist, its spec last applied ``spec_written_ago`` seconds ago."""
    sts = statefulset(replicas=1, ready=0, updated=0, status_replicas=0)
    sts["metadata"]["managedFields"] = [
        {"manager": "erp.platform", "operation": "Apply", "time": stamp(spec_written_ago)},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": stamp(0)},
    ]
    return sts


def failed_create(sts, refusal, last_ago, first_ago=None, pod_name="postgres-0", uid=None):
    return {
        "metadata": {"name": "postgres.18a1b2c3d4e5f6a7", "namespace": "erp-system"},
        "involvedObject": {"kind": "StatefulSet", "name": sts["metadata"]["name"], "uid": uid or sts["metadata"]["uid"]},
        "reason": "FailedCreate",
        "type": "Warning",
        "message": f"create Pod {pod_name} in StatefulSet {sts['metadata']['name']} failed error: {refusal}",
        "firstTimestamp": stamp(last_ago if first_ago is None else first_ago),
        "lastTimestamp": stamp(last_ago),
        "count": 3,
    }


def sts_events_status(sts, events, pods=(), **opts):
    return rs.statefulset_status(sts, list(pods), NOW, dict(OPTS, **opts), events)


def test_statefulset_pod_security_refusal_fails_at_once_naming_pod_rule_and_container():
    sts = refused_statefulset()
    verdict = sts_events_status(sts, [failed_create(sts, STATEFUL_POD_SECURITY_REFUSAL, 1)])
    assert verdict["status"] == rs.FAILED
    assert verdict["message"] == "StatefulSet postgres cannot create pod postgres-0 (FailedCreate by PodSecurity): " + STATEFUL_POD_SECURITY_REFUSAL
    assert (verdict["fault"]["reason"], verdict["fault"]["container"], verdict["fault"]["pod"]) == ("FailedCreate", "postgres", None)


def test_statefulset_quota_refusal_waits_the_grace_from_its_first_time_then_names_the_quota():
    sts = refused_statefulset()
    assert sts_events_status(sts, [failed_create(sts, STATEFUL_QUOTA_REFUSAL, 1, first_ago=5)])["status"] == rs.IN_PROGRESS
    late = sts_events_status(sts, [failed_create(sts, STATEFUL_QUOTA_REFUSAL, 1, first_ago=31)])
    assert late["status"] == rs.FAILED
    assert late["message"] == "StatefulSet postgres cannot create pod postgres-0 (FailedCreate by ResourceQuota): " + STATEFUL_QUOTA_REFUSAL


def test_statefulset_quota_grace_counts_from_the_last_spec_write_when_that_is_later():
    sts = refused_statefulset(spec_written_ago=5)
    assert sts_events_status(sts, [failed_create(sts, STATEFUL_QUOTA_REFUSAL, 1, first_ago=600)])["status"] == rs.IN_PROGRESS


def test_statefulset_refusal_of_an_earlier_spec_is_ignored():
    sts = refused_statefulset(spec_written_ago=10)
    verdict = sts_events_status(sts, [failed_create(sts, STATEFUL_POD_SECURITY_REFUSAL, 20)])
    assert verdict["status"] == rs.IN_PROGRESS
    assert verdict["fault"] is None


def test_statefulset_refusal_of_a_pod_that_exists_now_or_of_another_statefulset_is_ignored():
    sts = refused_statefulset()
    created = sts_pod(sts, 0, "postgres-5d8f7c", ready=False, created=5)
    assert sts_events_status(sts, [failed_create(sts, STATEFUL_POD_SECURITY_REFUSAL, 1)], [created])["fault"] is None
    assert sts_events_status(sts, [failed_create(sts, STATEFUL_POD_SECURITY_REFUSAL, 1, uid="sts-old")])["fault"] is None


def test_statefulset_refusal_without_fail_fast_is_reported_but_waits():
    sts = refused_statefulset()
    verdict = sts_events_status(sts, [failed_create(sts, STATEFUL_POD_SECURITY_REFUSAL, 1)], fail_fast=False)
    assert verdict["status"] == rs.IN_PROGRESS
    assert verdict["message"].endswith("; StatefulSet postgres cannot create pod postgres-0 (FailedCreate by PodSecurity): " + STATEFUL_POD_SECURITY_REFUSAL)


def test_spec_changed_at_reads_managed_fields_outside_status_else_creation():
    sts = refused_statefulset(spec_written_ago=42)
    assert rs.spec_changed_at(sts) == NOW - 42
    del sts["metadata"]["managedFields"]
    sts["metadata"]["creationTimestamp"] = stamp(99)
    assert rs.spec_changed_at(sts) == NOW - 99


def test_admission_core_drops_the_statefulset_event_prefix():
    event = "create Pod postgres-0 in StatefulSet postgres failed error: " + STATEFUL_QUOTA_REFUSAL
    assert rs.admission_core(event) == "exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0"
