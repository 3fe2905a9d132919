# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watch engine of erp.platform.rollout_health.

One thread per watched kind keeps a cache of the namespace's objects of that
kind (list, then watch from the list's resourceVersion; re-list on 410 Gone;
retry with back-off on transient errors) and wakes the main loop on every
change. The main loop re-evaluates every selected resource with the pure
predicates of rollout_status, so a verdict follows the event that caused it
within milliseconds, and all workloads share one deadline.

With a hold (option ``hold``, seconds), "everything is Current" is not the end: the watch goes on until
everything has been Current for that long in a row. A failure meanwhile ends the run as usual, and anything
going back to InProgress restarts the hold's clock once everything is Current again.
"""

import json
import queue
import threading
import time

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import ApiException, api_error_text, k8s_api, k8s_watch
from ansible_collections.erp.platform.plugins.module_utils.label_selectors import labels_match, parse_label_selector, selector_matches
from ansible_collections.erp.platform.plugins.module_utils.rollout_report import (
    attach_events,
    new_events,
    order,
)
from ansible_collections.erp.platform.plugins.module_utils.rollout_status import (
    CURRENT,
    FAILED,
    IN_PROGRESS,
    NOT_FOUND,
    WORKLOAD_KINDS,
    controller_uid,
    dapr_app_ids,
    dapr_component_statuses,
    httproute_backends,
    httproute_status,
    ingress_backends,
    ingress_status,
    not_found,
    pod_template,
    service_status,
    workload_status,
)

# Seconds a named workload may be missing before it counts as NotFound (it may still be being created).
NOT_FOUND_GRACE = 10
# Seconds Services, Ingresses, HTTPRoutes and Dapr components get after the workloads are Current (endpoint controllers lag).
SETTLE_GRACE = 10
# Server-side watch duration; the thread re-watches from the last resourceVersion when it ends.
WATCH_SECONDS = 50
# Safety net: re-evaluate at least this often (grace periods expire without events).
TICK = 0.5
# A hold counts as complete this close to its end: differences of clock readings round (2.3 - 0.3 < 2.0), and the
# loop would otherwise wake again after a wait too short for the clock to move.
HOLD_SLACK = 0.001
# The events that tell of pods a StatefulSet cannot create (the API serves these field selectors on Events).
STATEFULSET_FAILED_CREATE = "involvedObject.kind=StatefulSet,reason=FailedCreate"

WORKLOAD_SOURCES = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "Job": "jobs",
}


class Source:
    """How to list and watch one kind in one namespace."""

    def __init__(self, key, func, args, required=True, kwargs=None):
        self.key = key
        self.func = func
        self.args = args
        self.required = required
        self.kwargs = kwargs or {}


def build_sources(api_client, namespace, wanted):
    """Sources for the keys in ``wanted`` (deployments, pods, services, ...)."""
    apps = k8s_api.AppsV1Api(api_client)
    batch = k8s_api.BatchV1Api(api_client)
    core = k8s_api.CoreV1Api(api_client)
    table = {
        "deployments": (apps.list_namespaced_deployment, (namespace,), True),
        "replicasets": (apps.list_namespaced_replica_set, (namespace,), True),
        "statefulsets": (apps.list_namespaced_stateful_set, (namespace,), True),
        "daemonsets": (apps.list_namespaced_daemon_set, (namespace,), True),
        "jobs": (batch.list_namespaced_job, (namespace,), True),
        "pods": (core.list_namespaced_pod, (namespace,), True),
        "services": (core.list_namespaced_service, (namespace,), True),
        "endpointslices": (k8s_api.DiscoveryV1Api(api_client).list_namespaced_endpoint_slice, (namespace,), True),
        "ingresses": (k8s_api.NetworkingV1Api(api_client).list_namespaced_ingress, (namespace,), False),
        "components": (k8s_api.CustomObjectsApi(api_client).list_namespaced_custom_object, ("dapr.io", "v1alpha1", namespace, "components"), False),
        "httproutes": (k8s_api.CustomObjectsApi(api_client).list_namespaced_custom_object, ("gateway.networking.k8s.io", "v1", namespace, "httproutes"), False),
        # Pods a StatefulSet cannot create show only here (rollout_status._apply_stateful_create_refusal).
        "statefulset_events": (core.list_namespaced_event, (namespace,), False, {"field_selector": STATEFULSET_FAILED_CREATE}),
    }
    return [Source(key, *table[key]) for key in wanted]


class Informer(threading.Thread):
    """Cache of one kind in a namespace, kept current by a watch."""

    def __init__(self, source, notify, stop):
        threading.Thread.__init__(self, name="rollout-watch-" + source.key)
        self.daemon = True
        self.source = source
        self.notify = notify
        self.stop = stop
        self.lock = threading.Lock()
        self.items = {}
        self.synced = threading.Event()
        self.missing = False  # the API has no such resource (CRD not installed)
        self.error = None  # permanent error (forbidden), or the last transient one
        self.permanent = False
        self.retries = 0
        # Monotonic time of the first of the failures in a row (None while the API answers); see RolloutWatch._lost.
        self.failing_since = None

    def snapshot(self):
        with self.lock:
            return dict(self.items)

    def _list(self):
        response = self.source.func(*self.source.args, **self.source.kwargs, _preload_content=False, _request_timeout=30)
        data = json.loads(response.data)
        items = {}
        for item in data.get("items") or []:
            items[item["metadata"]["name"]] = item
        with self.lock:
            self.items = items
            self.missing = False
            self.permanent = False
            self.error = None
            self.failing_since = None
        self.synced.set()
        self.notify(self.source.key)
        return (data.get("metadata") or {}).get("resourceVersion")

    def _watch(self, resource_version):
        stream = k8s_watch.Watch(return_type="object")
        for event in stream.stream(
            self.source.func,
            *self.source.args,
            **self.source.kwargs,
            resource_version=resource_version,
            timeout_seconds=WATCH_SECONDS,
            allow_watch_bookmarks=True,
            _request_timeout=(10, WATCH_SECONDS + 15),
        ):
            if self.stop.is_set():
                stream.stop()
                break
            obj = event.get("raw_object") or {}
            kind = event.get("type")
            if kind == "ERROR":
                raise ApiException(status=obj.get("code"), reason=obj.get("message"))
            self.failing_since = None
            meta = obj.get("metadata") or {}
            resource_version = meta.get("resourceVersion") or resource_version
            if kind == "BOOKMARK":
                continue
            with self.lock:
                if kind == "DELETED":
                    self.items.pop(meta.get("name"), None)
                else:
                    self.items[meta.get("name")] = obj
            self.notify(self.source.key)
        return resource_version

    def run(self):
        resource_version = None
        backoff = 0.2
        while not self.stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self._list()
                    backoff = 0.2
                resource_version = self._watch(resource_version)
            except ApiException as exc:
                if exc.status == 410:
                    resource_version = None  # expired: list again
                    continue
                with self.lock:
                    self.error = api_error_text(exc)
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                    if exc.status == 404:
                        self.missing = True
                        self.items = {}
                    self.permanent = exc.status in (401, 403, 404)
                self.retries += 1
                resource_version = None
                if self.permanent:
                    self.synced.set()
                self.notify(self.source.key)
                self.stop.wait(5 if self.permanent else backoff)
                backoff = min(backoff * 2, 2.0)
            except Exception as exc:  # connection reset, timeouts, proxies: retry with a fresh list
                with self.lock:
                    self.error = api_error_text(exc)
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                self.retries += 1
                # List again rather than re-watch: a list answers at once (and clears failing_since), where a
                # quiet watch would leave an API that answers again counted as lost until its next event.
                resource_version = None
                self.notify(self.source.key)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)


class Selection:
    """Which workloads to verify: kinds, a label selector and/or names ("name" or "Kind/name")."""

    def __init__(self, kinds=WORKLOAD_KINDS, label_selector=None, names=None):
        self.kinds = list(kinds or WORKLOAD_KINDS)
        self.label_selector = label_selector or None
        self.requirements = parse_label_selector(label_selector)
        self.names = []
        lower = {k.lower(): k for k in WORKLOAD_KINDS}
        for entry in names or []:
            if "/" in entry:
                kind, name = entry.split("/", 1)
                if kind.lower() not in lower:
                    raise ValueError("names: {!r} has kind {!r}; allowed kinds are {}".format(entry, kind, ", ".join(WORKLOAD_KINDS)))
                self.names.append((lower[kind.lower()], name))
            else:
                self.names.append((None, entry))

    def describe(self):
        parts = []
        if self.label_selector:
            parts.append(f"label selector {self.label_selector}")
        if self.names:
            parts.append("names {}".format(", ".join(n if k is None else k + "/" + n for k, n in self.names)))
        return " and ".join(parts) or "all workloads"

    def workloads(self, caches):
        """(kind, object) of the selected workloads, and the names asked for that do not exist."""
        selected = []
        for kind in self.kinds:
            for obj in caches.get(WORKLOAD_SOURCES[kind], {}).values():
                if self.requirements and not labels_match(self.requirements, obj["metadata"].get("labels")):
                    continue
                if self.names and not any(k in (None, kind) and n == obj["metadata"]["name"] for k, n in self.names):
                    continue
                selected.append((kind, obj))
        found = {(kind, obj["metadata"]["name"]) for kind, obj in selected}
        found_names = {name for _kind, name in found}
        missing = []
        for kind, name in self.names:
            if (kind is None and name not in found_names) or (kind is not None and (kind, name) not in found):
                missing.append((kind, name))
        return selected, missing


class RolloutWatch:
    """Watch the selected workloads (and Services, Ingresses, HTTPRoutes, Dapr components) until healthy, failed or timed out."""

    def __init__(self, api_client, namespace, selection, options, since=None):
        self.api_client = api_client
        self.namespace = namespace
        self.selection = selection
        self.options = dict(options)
        self.options.setdefault("fail_fast", True)
        self.options.setdefault("unschedulable_grace", 30)
        self.options.setdefault("not_ready_grace", 60)
        self.options.setdefault("check_services", True)
        self.options.setdefault("check_ingresses", True)
        self.options.setdefault("check_routes", True)
        self.options.setdefault("route_status", "required")
        self.options.setdefault("check_dapr_components", True)
        self.options.setdefault("dapr_components", [])
        self.options.setdefault("hold", 0)
        self.options["since"] = since
        self.wakeup = queue.Queue()
        self.stop = threading.Event()
        self.informers = {}
        self.ready_at = {}
        self.failed_at = {}
        self.settled_at = None
        # The hold (options["hold"] > 0): when everything was first seen Current (None before), when the present
        # all-Current stretch began (None while something is not Current), and how long the latest stretch lasted.
        self.hold_began = None
        self.current_since = None
        self.held = 0.0
        self.caches = {}
        self.start = None

    # -- plumbing -----------------------------------------------------------

    def _wanted(self):
        keys = [WORKLOAD_SOURCES[k] for k in self.selection.kinds]
        if "Deployment" in self.selection.kinds:
            keys.append("replicasets")
        if "StatefulSet" in self.selection.kinds:
            keys.append("statefulset_events")
        keys.append("pods")
        if self.options["check_services"] or self.options["check_ingresses"] or self.options["check_routes"]:
            keys.extend(["services", "endpointslices"])
        if self.options["check_ingresses"]:
            keys.append("ingresses")
        if self.options["check_routes"]:
            keys.append("httproutes")
        if self.options["check_dapr_components"]:
            keys.append("components")
        return keys

    def _start(self):
        for source in build_sources(self.api_client, self.namespace, self._wanted()):
            informer = Informer(source, self.wakeup.put, self.stop)
            self.informers[source.key] = informer
            informer.start()

    def close(self):
        self.stop.set()

    def _snapshot(self):
        self.caches = {key: informer.snapshot() for key, informer in self.informers.items()}
        return self.caches

    def _events_for(self, kind, name):
        core = k8s_api.CoreV1Api(self.api_client)
        try:
            response = core.list_namespaced_event(
                self.namespace,
                field_selector=f"involvedObject.name={name},involvedObject.kind={kind}",
                _preload_content=False,
                _request_timeout=10,
            )
            return json.loads(response.data).get("items") or []
        except Exception:  # events are a nicety; the verdict stands without them
            return []

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, caches, now, elapsed):
        """Verdicts for everything selected, from the caches, at wall time ``now``."""
        opts = self.options
        pods = list(caches.get("pods", {}).values())
        replicasets = list(caches.get("replicasets", {}).values())
        selected, missing = self.selection.workloads(caches)
        # Index by controlling owner once, so each predicate sees only its own objects (128 services stay cheap).
        sets_by_owner, pods_by_owner = {}, {}
        for replicaset in replicasets:
            sets_by_owner.setdefault(controller_uid(replicaset), []).append(replicaset)
        for pod in pods:
            pods_by_owner.setdefault(controller_uid(pod), []).append(pod)
        events_by_object = {}
        for event in caches.get("statefulset_events", {}).values():
            events_by_object.setdefault((event.get("involvedObject") or {}).get("uid"), []).append(event)
        verdicts = []
        for kind, obj in selected:
            uid = obj["metadata"].get("uid")
            own_sets = sets_by_owner.get(uid, []) if kind == "Deployment" else []
            own_pods = list(pods_by_owner.get(uid, []))
            for replicaset in own_sets:
                own_pods.extend(pods_by_owner.get(replicaset["metadata"].get("uid"), []))
            verdicts.append(workload_status(kind, obj, own_sets, own_pods, now, opts, events_by_object.get(uid, ())))
        for kind, name in missing:
            verdict = not_found(kind or "Workload", name, "no {} named {} in namespace {}".format(kind or "workload", name, self.namespace))
            verdict["terminal"] = elapsed >= NOT_FOUND_GRACE
            verdicts.append(verdict)
        if not selected and not missing:
            verdict = not_found("Workload", "*", f"no workload in namespace {self.namespace} matches {self.selection.describe()}")
            verdict["terminal"] = elapsed >= NOT_FOUND_GRACE
            verdicts.append(verdict)

        workloads_current = all(v["status"] == CURRENT for v in verdicts)
        extras = self._extra_verdicts(caches, selected, pods)
        if extras:
            if workloads_current and self.settled_at is None:
                self.settled_at = elapsed
            if not workloads_current:
                self.settled_at = None
            settled_for = None if self.settled_at is None else elapsed - self.settled_at
            for verdict in extras:
                if verdict["status"] == CURRENT or verdict.get("terminal"):
                    continue
                if settled_for is not None and settled_for >= SETTLE_GRACE:
                    verdict["terminal"] = True
                    if opts["fail_fast"]:
                        verdict["status"] = FAILED if verdict["status"] == IN_PROGRESS else verdict["status"]
                elif not workloads_current:
                    verdict["message"] = "waiting for the workloads first; " + verdict["message"]
            verdicts.extend(extras)

        for verdict in verdicts:
            key = (verdict["kind"], verdict["name"])
            if verdict["status"] == CURRENT:
                self.ready_at.setdefault(key, elapsed)
                self.failed_at.pop(key, None)
            else:
                self.ready_at.pop(key, None)
                if verdict["status"] == FAILED:
                    self.failed_at.setdefault(key, elapsed)
            verdict["seconds_to_ready"] = self.ready_at.get(key)
            verdict["failed_at"] = self.failed_at.get(key)
        if opts["hold"] > 0:
            self._track_hold(all(v["status"] == CURRENT for v in verdicts), elapsed)
        return verdicts

    def _track_hold(self, all_current, elapsed):
        """Advance the hold's clock: the all-Current stretch goes on, begins, or ends (and keeps its length)."""
        if all_current:
            if self.current_since is None:
                self.current_since = elapsed
                if self.hold_began is None:
                    self.hold_began = elapsed
            self.held = elapsed - self.current_since
        elif self.current_since is not None:
            self.held = elapsed - self.current_since
            self.current_since = None

    def _extra_verdicts(self, caches, selected, pods):
        opts = self.options
        verdicts = []
        requirements = self.selection.requirements
        everything = not requirements and not self.selection.names
        services = caches.get("services", {})
        service_verdicts = {}
        if opts["check_services"] or opts["check_ingresses"] or opts["check_routes"]:
            templates = [(pod_template(kind, obj).get("metadata") or {}).get("labels") for kind, obj in selected]
            slices = {}
            for eps in caches.get("endpointslices", {}).values():
                slices.setdefault((eps["metadata"].get("labels") or {}).get("kubernetes.io/service-name"), []).append(eps)
            for name, service in services.items():
                service_verdicts[name] = service_status(service, slices.get(name, []), pods)
                if not opts["check_services"]:
                    continue
                selector = (service.get("spec") or {}).get("selector")
                relevant = (
                    everything
                    or (requirements and labels_match(requirements, service["metadata"].get("labels")))
                    or any(selector_matches(selector, labels) for labels in templates)
                )
                if relevant:
                    verdicts.append(service_verdicts[name])
        relevant_services = {v["name"] for v in verdicts if v["kind"] == "Service"}
        # Ingresses and HTTPRoutes: relevant when nothing narrows the selection, when their labels match, or
        # when they lead to a relevant Service.
        routing = []
        if opts["check_ingresses"]:
            routing.append(("ingresses", "Ingress", ingress_backends, ingress_status))
        if opts["check_routes"]:
            required = opts["route_status"] == "required"
            routing.append(("httproutes", "HTTPRoute", httproute_backends, lambda obj, svcs, sv: httproute_status(obj, svcs, sv, required)))
        for key, kind, backends_of, status_of in routing:
            informer = self.informers.get(key)
            for obj in caches.get(key, {}).values():
                names = {backend[1] for backend in backends_of(obj)}
                if everything or (requirements and labels_match(requirements, obj["metadata"].get("labels"))) or names & relevant_services:
                    verdicts.append(status_of(obj, services, service_verdicts))
            if informer is not None and informer.permanent and not informer.missing:
                verdicts.append(
                    {
                        "kind": kind,
                        "name": "*",
                        "status": FAILED,
                        "ready": None,
                        "desired": None,
                        "revision": None,
                        "message": f"cannot read {kind}s: {informer.error}",
                        "terminal": True,
                        "fault": None,
                    }
                )
        if opts["check_dapr_components"]:
            informer = self.informers.get("components")
            components = None if informer is None or informer.missing else caches.get("components", {})
            verdicts.extend(dapr_component_statuses(components, dapr_app_ids(selected), opts["dapr_components"]))
        return verdicts

    # -- main loop ----------------------------------------------------------

    def _done(self, verdicts):
        if all(v["status"] == CURRENT for v in verdicts):
            # Held long enough (see _track_hold, run by evaluate); until then keep watching.
            return "healthy" if self.held + HOLD_SLACK >= self.options["hold"] else None
        if self.options["fail_fast"]:
            if any(v["status"] == FAILED or v.get("terminal") for v in verdicts if v["status"] != CURRENT):
                return "failed"
        elif all(v["status"] == CURRENT or v.get("terminal") for v in verdicts):
            return "failed"
        return None

    def _required_error(self):
        for informer in self.informers.values():
            if informer.source.required and informer.permanent:
                return f"cannot watch {informer.source.key} in namespace {self.namespace}: {informer.error}"
        return None

    def _lost(self, now_mono):
        """The error message when an informer has failed to reach the API for api_unreachable_timeout seconds in a row.

        A watch that cannot reconnect (the API server stopped, the network gone) would otherwise retry until the
        overall timeout although its error is already clear; the bound ends the run with that error."""
        limit = self.options.get("api_unreachable_timeout")
        if not limit:
            return None
        for informer in self.informers.values():
            since = informer.failing_since
            if since is not None and not informer.permanent and now_mono - since >= limit:
                return (
                    f"the Kubernetes API has not answered for {now_mono - since:.0f} s (api_unreachable_timeout {limit} s) while"
                    f" watching {informer.source.key} in namespace {self.namespace}: {informer.error}"
                )
        return None

    def run(self, timeout):
        """Watch until healthy, failed or ``timeout`` seconds; returns the outcome dict.

        Outcome: ``outcome`` (healthy, failed, timeout, error), ``verdicts`` (report order),
        ``elapsed``, ``message`` (for error), ``caches`` (the last snapshot), and for a hold ``held`` (seconds
        the latest all-Current stretch lasted; 0 without a hold) and ``hold_began`` (seconds from the start
        until everything was first Current; None without a hold or when that never happened).
        """
        self.start = time.monotonic()
        deadline = self.start + timeout
        self._start()
        try:
            return self._loop(deadline)
        finally:
            self.close()

    def _loop(self, deadline):
        verdicts = []
        while True:
            now_mono = time.monotonic()
            remaining = deadline - now_mono
            synced = all(i.synced.is_set() for i in self.informers.values())
            if synced:
                error = self._required_error()
                if error:
                    return self._outcome("error", verdicts, message=error)
                verdicts = self.evaluate(self._snapshot(), time.time(), now_mono - self.start)
                done = self._done(verdicts)
                if done:
                    return self._outcome(done, verdicts)
            lost = self._lost(now_mono)
            if lost:
                return self._outcome("error", verdicts, message=lost)
            if remaining <= 0:
                if not synced:
                    pending = [i for i in self.informers.values() if not i.synced.is_set()]
                    return self._outcome(
                        "error",
                        verdicts,
                        message="could not list {} in namespace {} before the timeout: {}".format(
                            ", ".join(i.source.key for i in pending), self.namespace, "; ".join(sorted({i.error or "no answer" for i in pending}))
                        ),
                    )
                for verdict in verdicts:
                    if verdict["status"] == IN_PROGRESS:
                        verdict["status"] = FAILED
                        verdict["message"] = "not ready within the timeout: " + verdict["message"]
                        verdict["failed_at"] = now_mono - self.start
                return self._outcome("timeout", verdicts)
            wait = min(TICK, remaining)
            if self.current_since is not None:
                # Holding: wake up when the hold is due, not up to a TICK later.
                wait = min(wait, self.options["hold"] - self.held)
            try:
                self.wakeup.get(timeout=wait)
                # Coalesce a burst of events into one evaluation.
                while True:
                    self.wakeup.get_nowait()
            except queue.Empty:
                pass

    def _outcome(self, outcome, verdicts, message=None):
        elapsed = time.monotonic() - self.start
        ordered = order(verdicts)
        if outcome in ("failed", "timeout"):
            for verdict in ordered:
                if verdict["status"] not in (FAILED, NOT_FOUND) or verdict["kind"] not in WORKLOAD_KINDS:
                    continue
                fault = verdict.get("fault")
                if fault and fault.get("pod"):
                    attach_events(fault, self._events_for("Pod", fault["pod"]))
                    verdict["events"] = fault["events"]
                elif fault and verdict.get("replicaset"):
                    # Pods refused at creation: the ReplicaSet controller's FailedCreate events are on the ReplicaSet.
                    attach_events(fault, self._events_for("ReplicaSet", verdict["replicaset"]))
                    verdict["events"] = fault["events"]
                elif verdict["status"] == FAILED:
                    verdict["events"] = attach_events({}, self._events_for(verdict["kind"], verdict["name"]))["events"]
                verdict["events"] = new_events(verdict.get("events"), verdict["message"])
                if fault and "events" in fault:
                    fault["events"] = verdict["events"]
        return {
            "outcome": outcome,
            "verdicts": ordered,
            "elapsed": elapsed,
            "message": message,
            "caches": self.caches,
            "held": self.held,
            "hold_began": self.hold_began,
        }


def seconds_since(start):
    return time.monotonic() - start


__all__ = [
    "NOT_FOUND",
    "RolloutWatch",
    "Selection",
]
