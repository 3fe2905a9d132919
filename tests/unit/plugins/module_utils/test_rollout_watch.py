"""The watch engine of erp.platform.rollout_health without a cluster: informer loop, selection, evaluation."""

import json
import queue
import threading

import pytest

from ansible_collections.erp.platform.plugins.module_utils import k8s_client
from ansible_collections.erp.platform.plugins.module_utils import rollout_status as rs
from ansible_collections.erp.platform.plugins.module_utils import rollout_watch as rw
from ansible_collections.erp.platform.plugins.module_utils.rollout_report import failure_message
from ansible_collections.erp.platform.tests.unit.fixtures import (
    NOW,
    container_status,
    deployment,
    endpointslice,
    httproute,
    replicaset,
    rs_pod,
    service,
    stamp,
    statefulset,
)


class FakeResponse:
    def __init__(self, data=None, events=()):
        self.data = data
        self.events = events

    def stream(self, amt=None, decode_content=False):
        for event in self.events:
            yield (json.dumps(event) + "\n").encode()

    def close(self):
        pass

    def release_conn(self):
        pass


def meta(name, rv):
    return {"metadata": {"name": name, "resourceVersion": rv}}


class ScriptedApi:
    """A list function that serves two lists and watch sessions, with a 410 in between."""

    def __init__(self, stop):
        self.stop = stop
        self.lists = [
            {"metadata": {"resourceVersion": "10"}, "items": [meta("a", "9")]},
            {"metadata": {"resourceVersion": "20"}, "items": [meta("a", "11"), meta("b", "12"), meta("c", "19")]},
        ]
        self.watches = [
            [
                {"type": "MODIFIED", "object": meta("a", "11")},
                {"type": "BOOKMARK", "object": meta("", "11")},
                {"type": "ADDED", "object": meta("b", "12")},
                {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}},
            ],
            [{"type": "DELETED", "object": meta("a", "21")}],
        ]
        self.calls = []

    def __call__(self, namespace, **kwargs):
        self.calls.append(("watch" if kwargs.get("watch") else "list", kwargs.get("resource_version")))
        if not kwargs.get("watch"):
            return FakeResponse(data=json.dumps(self.lists.pop(0)))
        if not self.watches:
            self.stop.set()
            return FakeResponse()
        return FakeResponse(events=self.watches.pop(0))


def test_informer_lists_watches_and_relists_after_410():
    stop = threading.Event()
    api = ScriptedApi(stop)
    notified = []
    informer = rw.Informer(rw.Source("pods", api, ("erp-system",)), notified.append, stop)
    informer.run()
    assert api.calls == [("list", None), ("watch", "10"), ("list", None), ("watch", "20"), ("watch", "21")]
    assert sorted(informer.snapshot()) == ["b", "c"]
    assert informer.synced.is_set()
    assert notified.count("pods") >= 4


def test_informer_forbidden_is_permanent_and_marks_synced():
    stop = threading.Event()

    def forbidden(namespace, **kwargs):
        stop.set()
        raise k8s_client.ApiException(status=403, reason="Forbidden")

    informer = rw.Informer(rw.Source("ingresses", forbidden, ("erp-system",), required=False), lambda key: None, stop)
    informer.run()
    assert informer.permanent
    assert informer.synced.is_set()
    assert informer.error.startswith("403 Forbidden")


def test_selection_names_and_kinds():
    selection = rw.Selection(names=["Deployment/finance-service", "sales-service"], label_selector="app.kubernetes.io/instance=erp")
    dep = deployment()
    other = deployment(name="gateway-service")
    selected, missing = selection.workloads({"deployments": {"finance-service": dep, "gateway-service": other}})
    assert [obj["metadata"]["name"] for _kind, obj in selected] == ["finance-service"]
    assert missing == [(None, "sales-service")]
    assert "names Deployment/finance-service, sales-service" in selection.describe()
    with pytest.raises(ValueError, match="allowed kinds are Deployment"):
        rw.Selection(names=["Pod/x"])


class FakeInformer:
    def __init__(self, permanent=False, missing=False):
        self.permanent = permanent
        self.missing = missing


def engine(**options):
    watch = rw.RolloutWatch(None, "erp-system", rw.Selection(kinds=["Deployment"]), dict({"check_dapr_components": False}, **options))
    watch.informers = {"ingresses": FakeInformer()}
    return watch


def healthy_caches(with_endpoints=True):
    dep = deployment()
    new = replicaset(dep, 2, "7c9d8f6b5", available=2)
    pods = [rs_pod(new, "a"), rs_pod(new, "b")]
    return {
        "deployments": {"finance-service": dep},
        "replicasets": {new["metadata"]["name"]: new},
        "pods": {p["metadata"]["name"]: p for p in pods},
        "services": {"finance-service": service()},
        "endpointslices": {"s": endpointslice("finance-service", [True, True])} if with_endpoints else {},
        "ingresses": {},
    }


def test_engine_healthy_with_seconds_to_ready():
    watch = engine()
    verdicts = watch.evaluate(healthy_caches(), NOW, 1.5)
    assert [(v["kind"], v["status"]) for v in verdicts] == [("Deployment", rs.CURRENT), ("Service", rs.CURRENT)]
    assert verdicts[0]["seconds_to_ready"] == 1.5
    assert watch._done(verdicts) == "healthy"
    assert watch.evaluate(healthy_caches(), NOW, 3.0)[0]["seconds_to_ready"] == 1.5  # first time seen, not last


def test_engine_service_without_endpoints_fails_after_settle_grace():
    watch = engine()
    first = watch.evaluate(healthy_caches(with_endpoints=False), NOW, 1.0)
    assert first[1]["status"] == rs.IN_PROGRESS
    assert watch._done(first) is None
    later = watch.evaluate(healthy_caches(with_endpoints=False), NOW, 1.0 + rw.SETTLE_GRACE)
    assert later[1]["status"] == rs.FAILED
    assert watch._done(later) == "failed"


def test_engine_judges_httproutes_of_the_relevant_services_and_fails_a_rejected_one():
    gateway = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "erp-gateway", "namespace": "erp-system"}
    rejected = {"Accepted": ("False", "NoMatchingParent"), "ResolvedRefs": ("True", "ResolvedRefs")}
    watch = engine(route_status="reported")
    watch.informers["httproutes"] = FakeInformer()
    caches = dict(
        healthy_caches(),
        httproutes={
            "finance-service": httproute("finance-service", backend="finance-service"),
            "other": httproute("other", backend="other-service", status=[(gateway, rejected, 1)]),
        },
    )
    verdicts = watch.evaluate(caches, NOW, 1.0)
    routes = [v for v in verdicts if v["kind"] == "HTTPRoute"]
    # nothing narrows the selection: every route counts; the unanswered one is only reported
    assert [(v["name"], v["status"]) for v in routes] == [("finance-service", rs.CURRENT), ("other", rs.FAILED)]
    assert "NoMatchingParent" in routes[1]["message"]
    assert watch._done(verdicts) == "failed"
    assert "httproutes" in watch._wanted()
    assert "httproutes" not in engine(check_routes=False)._wanted()


def test_engine_missing_name_gets_a_grace_then_not_found():
    watch = rw.RolloutWatch(
        None,
        "erp-system",
        rw.Selection(kinds=["Deployment"], names=["reporting-service"]),
        {"check_services": False, "check_ingresses": False, "check_routes": False, "check_dapr_components": False},
    )
    early = watch.evaluate({"deployments": {}}, NOW, 1.0)
    assert early[0]["status"] == rs.NOT_FOUND
    assert watch._done(early) is None
    late = watch.evaluate({"deployments": {}}, NOW, rw.NOT_FOUND_GRACE + 0.1)
    assert watch._done(late) == "failed"
    assert "no Deployment named" not in late[0]["message"]
    assert "no workload named reporting-service in namespace erp-system" in late[0]["message"]


def test_engine_without_fail_fast_waits_on_pod_faults_but_ends_on_terminal_states():
    watch = engine(fail_fast=False, check_services=False, check_ingresses=False)
    paused = deployment(paused=True)
    verdicts = watch.evaluate({"deployments": {"finance-service": paused}, "pods": {}, "replicasets": {}}, NOW, 1.0)
    assert watch._done(verdicts) == "failed"
    rolling = deployment(updated=1, available=1)
    verdicts = watch.evaluate({"deployments": {"finance-service": rolling}, "pods": {}, "replicasets": {}}, NOW, 1.0)
    assert watch._done(verdicts) is None


def test_api_error_text_reads_the_status_body():
    exc = k8s_client.ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps({"kind": "Status", "message": 'pods is forbidden: User "system:serviceaccount:erp:deployer" cannot list resource "pods"'})
    assert k8s_client.api_error_text(exc) == '403 Forbidden: pods is forbidden: User "system:serviceaccount:erp:deployer" cannot list resource "pods"'
    assert k8s_client.api_error_text(ValueError("boom")) == "ValueError: boom"


def test_outcome_of_pods_refused_at_creation_reads_the_replicaset_events():
    refusal = 'pods "finance-service-7c9d8f6b5-x7k2p" is forbidden: exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0'
    dep = deployment(updated=0, status_replicas=0, available=0, revision="1")
    new = replicaset(dep, 1, "7c9d8f6b5", available=0, replicas=2)
    new["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": refusal, "lastTransitionTime": stamp(45)}]
    watch = engine(check_services=False, check_ingresses=False)
    watch.start = 0.0
    asked = []

    def events_for(kind, name):
        asked.append((kind, name))
        return [
            {"type": "Warning", "reason": "FailedCreate", "message": "Error creating: " + refusal.replace("x7k2p", "zz9qq"), "count": 3},
            {"type": "Warning", "reason": "FailedScheduling", "message": "something else", "count": 1},
        ]

    watch._events_for = events_for
    verdicts = watch.evaluate({"deployments": {"finance-service": dep}, "replicasets": {new["metadata"]["name"]: new}, "pods": {}}, NOW, 1.0)
    assert watch._done(verdicts) == "failed"
    outcome = watch._outcome("failed", verdicts)
    failed = outcome["verdicts"][0]
    assert asked == [("ReplicaSet", "finance-service-7c9d8f6b5")]
    assert failed["message"].endswith("(FailedCreate by ResourceQuota): " + refusal)
    assert failed["events"] == ["FailedScheduling: something else"]
    assert failed["fault"]["events"] == failed["events"]


def test_statefulsets_bring_a_watch_on_their_failed_create_events():
    watch = rw.RolloutWatch(
        None,
        "erp-system",
        rw.Selection(kinds=["StatefulSet"]),
        {"check_services": False, "check_ingresses": False, "check_routes": False, "check_dapr_components": False},
    )
    assert watch._wanted() == ["statefulsets", "statefulset_events", "pods"]
    sources = {source.key: source for source in rw.build_sources(k8s_client.k8s_api.ApiClient(), "erp-system", watch._wanted())}
    assert sources["statefulset_events"].kwargs == {"field_selector": "involvedObject.kind=StatefulSet,reason=FailedCreate"}
    assert not sources["statefulset_events"].required
    assert "statefulset_events" not in engine()._wanted()


def test_outcome_of_a_statefulset_refused_at_creation_names_it_once():
    refusal = 'pods "postgres-0" is forbidden: exceeded quota: erp-quota, requested: pods=1, used: pods=0, limited: pods=0'
    sts = statefulset(replicas=1, ready=0, updated=0, status_replicas=0)
    sts["metadata"]["managedFields"] = [{"manager": "erp.platform", "operation": "Apply", "time": stamp(120)}]
    event = {
        "metadata": {"name": "postgres.18a1b2c3d4e5f6a7"},
        "involvedObject": {"kind": "StatefulSet", "name": "postgres", "uid": sts["metadata"]["uid"]},
        "type": "Warning",
        "reason": "FailedCreate",
        "message": "create Pod postgres-0 in StatefulSet postgres failed error: " + refusal,
        "firstTimestamp": stamp(60),
        "lastTimestamp": stamp(2),
        "count": 4,
    }
    watch = rw.RolloutWatch(
        None,
        "erp-system",
        rw.Selection(kinds=["StatefulSet"]),
        {"check_services": False, "check_ingresses": False, "check_routes": False, "check_dapr_components": False},
    )
    watch.start = 0.0
    watch._events_for = lambda kind, name: [event] if (kind, name) == ("StatefulSet", "postgres") else []
    verdicts = watch.evaluate({"statefulsets": {"postgres": sts}, "statefulset_events": {"postgres.18a1b2c3d4e5f6a7": event}, "pods": {}}, NOW, 1.0)
    assert watch._done(verdicts) == "failed"
    failed = watch._outcome("failed", verdicts)["verdicts"][0]
    assert failed["message"] == "StatefulSet postgres cannot create pod postgres-0 (FailedCreate by ResourceQuota): " + refusal
    assert failed["events"] == []


def test_informer_counts_failures_in_a_row_from_the_first_and_forgets_them_on_an_answer():
    stop = threading.Event()
    calls = []

    def flaky(namespace, **kwargs):
        calls.append(kwargs.get("watch"))
        if len(calls) <= 2:
            raise ConnectionRefusedError(111, "Connection refused")
        if not kwargs.get("watch"):
            return FakeResponse(data=json.dumps({"metadata": {"resourceVersion": "5"}, "items": []}))
        stop.set()
        return FakeResponse()

    seen = []
    informer = rw.Informer(rw.Source("pods", flaky, ("erp-system",)), lambda key: seen.append(informer.failing_since), stop)
    informer.run()
    first, second = seen[:2]
    assert first is not None
    assert second == first, "the first failure of the run starts the count"
    assert informer.failing_since is None, "a list that answers resets it"
    assert informer.synced.is_set()


class LostInformer(FakeInformer):
    def __init__(self, since, permanent=False):
        super().__init__(permanent=permanent)
        self.failing_since = since
        self.error = "request failed: MaxRetryError: Connection refused"
        self.source = rw.Source("pods", None, ())


def test_engine_ends_the_run_once_the_api_has_not_answered_for_the_bound():
    watch = engine(api_unreachable_timeout=30)
    watch.informers = {"pods": LostInformer(since=100.0)}
    assert watch._lost(129.0) is None
    message = watch._lost(130.5)
    assert "has not answered for 30 s (api_unreachable_timeout 30 s)" in message
    assert "watching pods in namespace erp-system: request failed: MaxRetryError: Connection refused" in message
    # No bound given (a caller that sets none): only the overall timeout ends it; a permanent error has its own path.
    assert engine()._lost(10_000.0) is None
    watch.informers = {"pods": LostInformer(since=100.0, permanent=True)}
    assert watch._lost(1000.0) is None


# -- hold: everything must stay Current for `hold` seconds in a row ------------


def crashing_caches():
    """The Deployment of healthy_caches after one of its pods started crash-looping: Failed (fail fast)."""
    caches = not_ready_caches()
    dep, new = caches["deployments"]["finance-service"], next(iter(caches["replicasets"].values()))
    crashing = rs_pod(
        new, "b", containers=[container_status(waiting="CrashLoopBackOff", message="back-off 20s restarting failed container", restarts=2, last_exit=1)]
    )
    caches["deployments"] = {"finance-service": dep}
    caches["pods"][crashing["metadata"]["name"]] = crashing
    return caches


def not_ready_caches(not_ready_since=5):
    """The Deployment of healthy_caches with one pod not Ready (since ``not_ready_since`` s before NOW): InProgress."""
    dep = deployment(available=1)
    new = replicaset(dep, 2, "7c9d8f6b5", available=1, replicas=2)
    pods = [rs_pod(new, "a"), rs_pod(new, "b", ready=False, ready_since=not_ready_since)]
    return dict(
        healthy_caches(),
        deployments={"finance-service": dep},
        replicasets={new["metadata"]["name"]: new},
        pods={p["metadata"]["name"]: p for p in pods},
        endpointslices={"s": endpointslice("finance-service", [True, False])},
    )


def test_hold_zero_is_healthy_at_once_and_holds_nothing():
    watch = engine()
    assert watch._done(watch.evaluate(healthy_caches(), NOW, 1.0)) == "healthy"
    assert (watch.held, watch.hold_began) == (0.0, None)


def test_hold_is_healthy_only_after_everything_was_current_for_hold_seconds():
    # The readings of the watch's clock this test hands evaluate(): the first look, and the one that sees everything
    # Current. Scripted values, not measured durations.
    first_look, all_current = 0.5, 1.0
    watch = engine(hold=10)
    first = watch.evaluate(not_ready_caches(), NOW, first_look)
    assert watch._done(first) is None
    # The Service (one ready endpoint is enough) is Current at the first look already; the Deployment is not.
    assert {v["kind"]: v["status"] for v in first} == {"Deployment": rs.IN_PROGRESS, "Service": rs.CURRENT}
    assert watch._done(watch.evaluate(healthy_caches(), NOW, all_current)) is None
    assert (watch.held, watch.hold_began) == (0.0, all_current)
    assert watch._done(watch.evaluate(healthy_caches(), NOW, 10.9)) is None
    assert watch.held == pytest.approx(9.9)
    verdicts = watch.evaluate(healthy_caches(), NOW, 11.0)
    assert watch._done(verdicts) == "healthy"
    assert watch.held == 10.0
    assert {v["kind"]: v["status"] for v in verdicts} == {"Deployment": rs.CURRENT, "Service": rs.CURRENT}


def test_hold_restarts_when_something_goes_back_to_in_progress():
    watch = engine(hold=10)
    watch.evaluate(healthy_caches(), NOW, 1.0)
    verdicts = watch.evaluate(not_ready_caches(), NOW, 4.0)
    assert verdicts[0]["status"] == rs.IN_PROGRESS
    assert watch._done(verdicts) is None, "not ready within not_ready_grace is no failure"
    assert (watch.held, watch.current_since) == (3.0, None), "the stretch that ended is kept"
    assert watch._done(watch.evaluate(healthy_caches(), NOW, 5.0)) is None
    assert watch._done(watch.evaluate(healthy_caches(), NOW, 14.0)) is None, "10 s after the first Current, but 9 s after the last"
    assert watch._done(watch.evaluate(healthy_caches(), NOW, 15.0)) == "healthy"
    assert (watch.held, watch.hold_began) == (10.0, 1.0)


def test_hold_failure_ends_the_run_at_once_and_keeps_how_long_it_held():
    watch = engine(hold=30)
    watch.evaluate(healthy_caches(), NOW, 1.0)
    verdicts = watch.evaluate(crashing_caches(), NOW, 8.0)
    assert verdicts[0]["status"] == rs.FAILED
    assert "CrashLoopBackOff" in verdicts[0]["message"]
    assert watch._done(verdicts) == "failed"
    assert (watch.held, watch.hold_began) == (7.0, 1.0)


class Clock:
    """time.monotonic and time.time of rollout_watch, advanced only by the loop's waits (no real sleeps)."""

    def __init__(self):
        self.t = 0.0
        self.waits = []

    def monotonic(self):
        return self.t

    def time(self):
        return NOW + self.t


class Timeline:
    """The caches as they change at given (fake) times; each change wakes the loop, as an informer's event does."""

    def __init__(self, clock, changes):
        self.clock = clock
        self.changes = sorted(changes, key=lambda change: change[0])

    def caches(self):
        return [caches for at, caches in self.changes if at <= self.clock.t][-1]

    def get(self, timeout):
        self.clock.waits.append(timeout)
        due = [at for at, _caches in self.changes if self.clock.t < at <= self.clock.t + timeout]
        if due:
            self.clock.t = due[0]
            return "pods"
        self.clock.t += timeout
        raise queue.Empty

    def get_nowait(self):
        raise queue.Empty


class TimelineInformer(FakeInformer):
    def __init__(self, key, timeline):
        super().__init__()
        self.source = rw.Source(key, None, ())
        self.synced = threading.Event()
        self.synced.set()
        self.failing_since = None
        self.error = None
        self.timeline = timeline

    def snapshot(self):
        return dict(self.timeline.caches().get(self.source.key, {}))


def watch_loop(monkeypatch, changes, timeout, **options):
    """Run RolloutWatch._loop over ``changes`` [(time, caches)] with a fake clock; returns (outcome, watch, clock)."""
    clock = Clock()
    monkeypatch.setattr(rw, "time", clock)
    watch = engine(**options)
    timeline = Timeline(clock, changes)
    watch.wakeup = timeline
    watch.informers = {key: TimelineInformer(key, timeline) for key in changes[0][1]}
    watch._events_for = lambda kind, name: []
    watch.start = clock.t
    return watch._loop(watch.start + timeout), watch, clock


def test_loop_without_hold_is_healthy_at_the_first_all_current(monkeypatch):
    outcome, _watch, clock = watch_loop(monkeypatch, [(0.0, not_ready_caches()), (1.2, healthy_caches())], 60)
    assert outcome["outcome"] == "healthy"
    assert (clock.t, outcome["held"], outcome["hold_began"]) == (1.2, 0.0, None)


def test_loop_wakes_up_when_the_hold_is_due(monkeypatch):
    # Everything is Current from 0.3 s; an event at 1.0 s (nothing changes) puts the ticks at 1.5 and 2.0 s.
    changes = [(0.0, not_ready_caches()), (0.3, healthy_caches()), (1.0, healthy_caches())]
    outcome, _watch, clock = watch_loop(monkeypatch, changes, 60, hold=2)
    assert outcome["outcome"] == "healthy"
    assert clock.t == pytest.approx(2.3)
    assert outcome["held"] == pytest.approx(2.0)
    assert outcome["hold_began"] == 0.3
    assert max(clock.waits) <= rw.TICK
    assert clock.waits[-1] == pytest.approx(0.3), "the last wait ends when the hold is due, not at the next tick"


def test_loop_fails_at_once_when_a_pod_crash_loops_during_the_hold(monkeypatch):
    changes = [(0.0, healthy_caches()), (7.2, crashing_caches())]
    outcome, _watch, clock = watch_loop(monkeypatch, changes, 120, hold=30)
    assert outcome["outcome"] == "failed"
    assert clock.t == 7.2
    assert (outcome["held"], outcome["hold_began"]) == (7.2, 0.0)
    message = failure_message("erp-system", outcome["verdicts"], "failed", outcome["elapsed"], 120, hold=30, held=outcome["held"], hold_began=0.0)
    assert message.startswith(
        "rollout failed during the hold of 30 s after 7.2 s healthy, in namespace erp-system after 7.2s: Deployment/finance-service Failed: pod"
    )
    assert "CrashLoopBackOff" in message


def test_loop_fails_when_a_pod_stays_not_ready_past_the_grace_during_the_hold(monkeypatch):
    changes = [(0.0, healthy_caches()), (2.0, not_ready_caches(not_ready_since=-2))]
    outcome, _watch, clock = watch_loop(monkeypatch, changes, 120, hold=30, not_ready_grace=5)
    assert outcome["outcome"] == "failed"
    assert clock.t == pytest.approx(7.0)
    assert (outcome["held"], outcome["hold_began"]) == (2.0, 0.0), "healthy from 0 to 2 s, then not Ready"
    assert outcome["verdicts"][0]["fault"]["reason"] == "NotReady"


def test_loop_restarts_the_hold_after_in_progress(monkeypatch):
    changes = [(0.0, healthy_caches()), (4.0, not_ready_caches()), (5.5, healthy_caches())]
    outcome, _watch, clock = watch_loop(monkeypatch, changes, 60, hold=10)
    assert outcome["outcome"] == "healthy"
    assert clock.t == pytest.approx(15.5)
    assert outcome["held"] == pytest.approx(10.0)
    assert outcome["hold_began"] == 0.0


def test_loop_times_out_when_the_hold_is_not_completed(monkeypatch):
    changes = [(0.0, not_ready_caches()), (5.0, healthy_caches())]
    outcome, _watch, clock = watch_loop(monkeypatch, changes, 12, hold=10)
    assert outcome["outcome"] == "timeout"
    assert clock.t == pytest.approx(12.0)
    assert outcome["held"] == pytest.approx(7.0)
    assert all(v["status"] == rs.CURRENT for v in outcome["verdicts"])
    message = failure_message("erp-system", outcome["verdicts"], "timeout", outcome["elapsed"], 12, hold=10, held=outcome["held"], hold_began=5.0)
    assert message == "timed out after 12s in namespace erp-system; the hold of 10 s was not completed after 7.0 s healthy"
