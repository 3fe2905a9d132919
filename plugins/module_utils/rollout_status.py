# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness predicates of erp.platform.rollout_health, one per kind.

Pure functions over the objects as the API returns them (plain dicts), so they
run and are tested without Ansible, without the kubernetes library and
without a cluster. Each returns a *verdict* dict:

``kind``, ``name``, ``status`` (kstatus words: Current, InProgress, Failed,
Suspended, NotFound, Terminating), ``ready``, ``desired``, ``revision``,
``message``, ``terminal`` (no point waiting any longer) and ``fault`` (the pod
problem behind a fail-fast verdict, or None).

The workload rules are kubectl's ``rollout status`` rules; the fail-fast rules
add what kubectl and kstatus miss (image pulls, crash loops, pods that never
become Ready, unschedulable pods, pods refused by admission).
"""

import calendar
import re
import time

from ansible_collections.erp.platform.plugins.module_utils.label_selectors import selector_matches

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
SUSPENDED = "Suspended"
NOT_FOUND = "NotFound"
TERMINATING = "Terminating"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")

# Container waiting reasons that do not heal by waiting (Argo CD and kstatus treat them alike).
FATAL_WAITING_REASONS = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"
DAPR_ENABLED = "dapr.io/enabled"
DAPR_APP_ID = "dapr.io/app-id"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_TIME_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(value):
    """Seconds since the epoch of an RFC 3339 API timestamp; None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    match = _TIME_RE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    seconds = float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
    if match.group(7):
        seconds += float(match.group(7))
    zone = match.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


def now_epoch():
    return time.time()


def _meta(obj):
    return obj.get("metadata") or {}


def _spec(obj):
    return obj.get("spec") or {}


def _status(obj):
    return obj.get("status") or {}


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def condition(obj, cond_type):
    for cond in _status(obj).get("conditions") or []:
        if cond.get("type") == cond_type:
            return cond
    return None


def controller_uid(obj):
    """uid of the controlling owner (ownerReferences with controller: true), or None."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def _verdict(kind, name, status, message, ready=None, desired=None, revision=None, terminal=False, fault=None):
    return {
        "kind": kind,
        "name": name,
        "status": status,
        "ready": ready,
        "desired": desired,
        "revision": revision,
        "message": message,
        "terminal": terminal,
        "fault": fault,
    }


def not_found(kind, name, message=None):
    return _verdict(kind, name, NOT_FOUND, message or f"{kind} {name} does not exist")


def _generation_lag(obj):
    """Message when the controller has not yet seen the latest spec, else None."""
    generation = _int(_meta(obj).get("generation"))
    observed = _int(_status(obj).get("observedGeneration"))
    if observed < generation:
        return f"waiting for the controller to observe generation {generation} (observed {observed})"
    return None


# ---------------------------------------------------------------------------
# Pods


def _age(since, now):
    start = parse_time(since)
    if start is None:
        return None
    return max(0.0, now - start)


def _readiness_floor(pod):
    """Seconds a pod cannot be Ready anyway: the longest readiness probe initial delay plus one period."""
    floor = 0
    for container in _spec(pod).get("containers") or []:
        probe = container.get("readinessProbe") or {}
        if probe:
            floor = max(floor, _int(probe.get("initialDelaySeconds")) + _int(probe.get("periodSeconds"), 10))
    return floor


def pod_fault(pod, now, unschedulable_grace, not_ready_grace):
    """The reason a pod will not become Ready by waiting, or None.

    Returns a dict with ``pod``, ``container`` (None for pod-level faults),
    ``init`` (bool), ``reason``, ``message`` and ``restarts``.
    """
    meta = _meta(pod)
    if meta.get("deletionTimestamp"):
        return None
    status = _status(pod)
    name = meta.get("name")

    def fault(container, reason, message, init=False, restarts=0):
        return {
            "pod": name,
            "container": container,
            "init": init,
            "reason": reason,
            "message": message or "",
            "restarts": restarts,
        }

    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for cstatus in status.get(key) or []:
            waiting = (cstatus.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in FATAL_WAITING_REASONS:
                message = waiting.get("message") or ""
                last = (cstatus.get("lastState") or {}).get("terminated") or {}
                if reason == "CrashLoopBackOff" and last:
                    detail = "last exit code {}".format(last.get("exitCode"))
                    if last.get("reason"):
                        detail += " ({})".format(last.get("reason"))
                    message = f"{message}; {detail}" if message else detail
                return fault(cstatus.get("name"), reason, message, init=init, restarts=_int(cstatus.get("restartCount")))

    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        age = _age(scheduled.get("lastTransitionTime"), now)
        if age is not None and age >= unschedulable_grace:
            return fault(None, "Unschedulable", "unschedulable for {:.0f}s: {}".format(age, scheduled.get("message") or ""))
        return None

    if status.get("phase") == "Running" and not_ready_grace is not None:
        ready = condition(pod, "Ready")
        cstatuses = status.get("containerStatuses") or []
        if ready and ready.get("status") == "False" and cstatuses:
            running = all((c.get("state") or {}).get("running") for c in cstatuses)
            started = all(c.get("started", True) for c in cstatuses)
            if running and started:
                since = [ready.get("lastTransitionTime")]
                since.extend((c.get("state") or {}).get("running", {}).get("startedAt") for c in cstatuses)
                ages = [a for a in (_age(s, now) for s in since) if a is not None]
                age = min(ages) if ages else None
                grace = max(not_ready_grace, _readiness_floor(pod))
                if age is not None and age >= grace:
                    unready = [c.get("name") for c in cstatuses if not c.get("ready")]
                    return fault(
                        unready[0] if unready else None,
                        "NotReady",
                        "running but not Ready for {:.0f}s (readiness probe failing?){}".format(age, ": " + ready["message"] if ready.get("message") else ""),
                    )
    return None


def first_pod_fault(pods, now, unschedulable_grace, not_ready_grace):
    """The first fault among pods, oldest pod first so the report is stable."""
    for pod in sorted(pods, key=lambda p: (_meta(p).get("creationTimestamp") or "", _meta(p).get("name") or "")):
        found = pod_fault(pod, now, unschedulable_grace, not_ready_grace)
        if found:
            return found
    return None


def describe_fault(found):
    """One line naming pod, container, reason and message."""
    if found["container"]:
        where = "pod {} {}container {}".format(found["pod"], "init " if found["init"] else "", found["container"])
    else:
        where = "pod {}".format(found["pod"])
    text = "{}: {}".format(where, found["reason"])
    if found.get("message"):
        text += " ({})".format(found["message"])
    if found.get("restarts"):
        text += ", {} restarts".format(found["restarts"])
    return text


def _apply_fault(verdict, found, fail_fast):
    """Turn an in-progress verdict into a failure when a pod of the new revision cannot recover."""
    if not found:
        return verdict
    verdict["fault"] = found
    if fail_fast:
        verdict["status"] = FAILED
        verdict["message"] = describe_fault(found)
    else:
        verdict["message"] = "{}; {}".format(verdict["message"], describe_fault(found))
    return verdict


# ---------------------------------------------------------------------------
# Workloads


def newest_replicaset(deployment, replicasets):
    """The ReplicaSet of the Deployment's current revision (highest revision it owns), or None."""
    uid = _meta(deployment).get("uid")
    owned = [rs for rs in replicasets if controller_uid(rs) == uid]
    if not owned:
        return None
    wanted = _meta(deployment).get("annotations", {}).get(REVISION_ANNOTATION)
    for rs in owned:
        if wanted is not None and (_meta(rs).get("annotations") or {}).get(REVISION_ANNOTATION) == wanted:
            return rs
    return max(owned, key=lambda rs: _int((_meta(rs).get("annotations") or {}).get(REVISION_ANNOTATION)))


def deployment_status(deployment, replicasets, pods, now, opts):
    """kubectl's Deployment rules plus fail-fast over the pods of the newest ReplicaSet.

    ``pods`` are all pods of the namespace (or at least those the Deployment owns through
    its ReplicaSets); ``opts`` has fail_fast, unschedulable_grace, not_ready_grace.
    """
    kind = "Deployment"
    meta, spec, status = _meta(deployment), _spec(deployment), _status(deployment)
    name = meta.get("name")
    desired = _int(spec.get("replicas"), 1)
    revision = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
    new_rs = newest_replicaset(deployment, replicasets)
    if new_rs is not None:
        ready = _int(_status(new_rs).get("availableReplicas"))
    else:
        ready = min(_int(status.get("updatedReplicas")), _int(status.get("availableReplicas")))

    def verdict(state, message, **kw):
        return _verdict(kind, name, state, message, ready=ready, desired=desired, revision=revision, **kw)

    if meta.get("deletionTimestamp"):
        return verdict(TERMINATING, "being deleted", terminal=True)
    if spec.get("paused"):
        return verdict(SUSPENDED, f"rollout is paused (spec.paused); resume it with kubectl rollout resume deployment/{name}", terminal=True)
    lag = _generation_lag(deployment)
    if lag:
        return verdict(IN_PROGRESS, lag)

    progressing = condition(deployment, "Progressing")
    stale = opts.get("since") and (parse_time((progressing or {}).get("lastUpdateTime")) or 0) < opts["since"]
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded" and not stale:
        result = verdict(
            FAILED,
            "exceeded its progress deadline ({}s): {}".format(spec.get("progressDeadlineSeconds", 600), progressing.get("message") or ""),
            terminal=True,
        )
        if new_rs is not None:
            uid = _meta(new_rs).get("uid")
            result["fault"] = first_pod_fault([p for p in pods if controller_uid(p) == uid], now, opts["unschedulable_grace"], opts["not_ready_grace"])
            if result["fault"]:
                result["message"] += "; " + describe_fault(result["fault"])
        return result

    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < desired:
        result = verdict(IN_PROGRESS, f"{updated} of {desired} updated replicas created")
    elif replicas > updated:
        result = verdict(IN_PROGRESS, f"{replicas - updated} old replicas are pending termination")
    elif available < updated:
        result = verdict(IN_PROGRESS, f"{available} of {updated} updated replicas are available")
    else:
        result = verdict(CURRENT, f"{available} of {desired} updated replicas are available")
        result["rollout_seconds"] = _rollout_seconds(new_rs, progressing)
        return result

    if new_rs is not None:
        uid = _meta(new_rs).get("uid")
        new_pods = [p for p in pods if controller_uid(p) == uid]
        _apply_fault(result, first_pod_fault(new_pods, now, opts["unschedulable_grace"], opts["not_ready_grace"]), opts["fail_fast"])
        if result["status"] == IN_PROGRESS:
            _apply_replica_failure(result, new_rs, deployment, now, opts)
    return result


# ---------------------------------------------------------------------------
# Pods refused at creation (admission)

# The API error the ReplicaSet controller copies into its ReplicaFailure condition (and into the
# FailedCreate event, prefixed "Error creating: ") starts with the refused pod's generated name.
_FORBIDDEN_PREFIX_RE = re.compile(r'^pods? "[^"]*" is forbidden: ')
_POD_SECURITY_RE = re.compile(r'violates PodSecurity "([^"]+)": (.*)$', re.S)
_POD_SECURITY_CONTAINER_RE = re.compile(r'containers? "([^"]+)"')
_QUOTA_RE = re.compile(r"(?:exceeded quota|failed quota|status unknown for quota): ([^\s,:]+)")
_LIMIT_RANGE_RE = re.compile(r"(?:maximum|minimum) \S+ usage per (?:Container|Pod|PersistentVolumeClaim) is|max limit to request ratio per")
_WEBHOOK_RE = re.compile(r'admission webhook "([^"]+)" denied the request')
_POLICY_RE = re.compile(r"ValidatingAdmissionPolicy '([^']+)'(?: with binding '[^']*')? denied request")
# The StatefulSet controller keeps no condition for a pod it cannot create; it writes a Warning event on the
# StatefulSet, reason FailedCreate, message "create Pod <pod> in StatefulSet <set> failed error: <the API's
# refusal>" (Kubernetes v1.34.4, pkg/controller/statefulset/stateful_pod_control.go, recordPodEvent).
_STATEFUL_CREATE_RE = re.compile(r"^create Pod (\S+) in StatefulSet \S+ failed error: (.*)$", re.S)


def admission_refusal(message):
    """Which admission refused a pod, from the API error text: a dict or None when none is recognised.

    ``admission`` (PodSecurity, ResourceQuota, LimitRange, webhook NAME, ValidatingAdmissionPolicy NAME),
    ``detail`` (the Pod Security level and its violations, or the quota's name), ``container`` (the
    first container Pod Security names, else None) and ``permanent``: waiting cannot help, because the
    same template is refused again (a quota, in contrast, can free up while old pods terminate).
    """
    text = _FORBIDDEN_PREFIX_RE.sub("", (message or "").strip())
    match = _POD_SECURITY_RE.search(text)
    if match:
        container = _POD_SECURITY_CONTAINER_RE.search(match.group(2))
        return {
            "admission": "PodSecurity",
            "detail": f"{match.group(1)}: {match.group(2)}",
            "container": container.group(1) if container else None,
            "permanent": True,
        }
    match = _QUOTA_RE.search(text)
    if match:
        return {"admission": "ResourceQuota", "detail": "quota " + match.group(1), "container": None, "permanent": False}
    if _LIMIT_RANGE_RE.search(text):
        return {"admission": "LimitRange", "detail": text, "container": None, "permanent": True}
    match = _WEBHOOK_RE.search(text)
    if match:
        return {"admission": "webhook " + match.group(1), "detail": text, "container": None, "permanent": True}
    match = _POLICY_RE.search(text)
    if match:
        return {"admission": "ValidatingAdmissionPolicy " + match.group(1), "detail": text, "container": None, "permanent": True}
    return None


def admission_core(text):
    """The admission's own words of a refusal: without "Error creating: " (ReplicaSet) or "create Pod ... failed
    error: " (StatefulSet) and the pod's name."""
    text = (text or "").strip()
    for prefix in ("(combined from similar events): ", "Error creating: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    stateful = _STATEFUL_CREATE_RE.match(text)
    if stateful:
        text = stateful.group(2)
    return _FORBIDDEN_PREFIX_RE.sub("", text)


def event_time(event):
    """When an event last happened (series, lastTimestamp or eventTime), in seconds since the epoch; or None."""
    for value in ((event.get("series") or {}).get("lastObservedTime"), event.get("lastTimestamp"), event.get("eventTime")):
        seen = parse_time(value)
        if seen is not None:
            return seen
    return None


def spec_changed_at(obj):
    """When the object's spec was last written: the newest managedFields time outside subresources (status).

    Falls back to creationTimestamp; None when neither is readable.
    """
    times = [parse_time(entry.get("time")) for entry in _meta(obj).get("managedFields") or [] if not entry.get("subresource")]
    times = [seen for seen in times if seen is not None]
    return max(times) if times else parse_time(_meta(obj).get("creationTimestamp"))


def _apply_stateful_create_refusal(result, statefulset, pods, events, now, opts):
    """Pods the StatefulSet cannot even create: quota, LimitRange, PodSecurity, a webhook, from its events.

    An event counts while the pod it names does not exist and it happened after the last write of the
    StatefulSet's spec (second resolution, so the same second counts): a refusal of an earlier template, or
    of a pod created since, says nothing about now. As for ReplicaSets, a refusal that waiting cannot heal
    fails at once; any other after ``unschedulable_grace`` from its first time under the current spec.
    Limit: a refusal that healed, of a pod deleted since without a spec write, counts again in the moment
    before the controller re-creates that pod.
    """
    uid = _meta(statefulset).get("uid")
    existing = {_meta(pod).get("name") for pod in pods if controller_uid(pod) == uid}
    changed = spec_changed_at(statefulset)
    newest = None
    for event in events or ():
        involved = event.get("involvedObject") or {}
        match = _STATEFUL_CREATE_RE.match((event.get("message") or "").strip())
        seen = event_time(event)
        if event.get("reason") != "FailedCreate" or involved.get("uid") != uid or not match or seen is None:
            continue
        if match.group(1) in existing or (changed is not None and seen < changed - 1):
            continue
        if newest is None or seen > newest[0]:
            first = parse_time(event.get("firstTimestamp")) or seen
            newest = (seen, max(first, changed or first), match.group(1), match.group(2))
    if newest is None:
        return
    _seen, first, pod, error = newest
    refusal = admission_refusal(error)
    if not (refusal and refusal["permanent"]) and now - first < opts["unschedulable_grace"]:
        return
    found = {
        "pod": None,
        "container": refusal["container"] if refusal else None,
        "init": False,
        "reason": "FailedCreate",
        "message": error,
        "restarts": 0,
    }
    result["fault"] = found
    by = " by {}".format(refusal["admission"]) if refusal else ""
    text = "StatefulSet {} cannot create pod {} (FailedCreate{}): {}".format(_meta(statefulset).get("name"), pod, by, error)
    if opts["fail_fast"]:
        result["status"] = FAILED
        result["message"] = text
    else:
        result["message"] += "; " + text


def _apply_replica_failure(result, new_rs, deployment, now, opts):
    """Pods the ReplicaSet cannot even create: quota, LimitRange, PodSecurity, a webhook.

    The controller puts the API's refusal, in full, into the ReplicaSet's ReplicaFailure condition
    (reason FailedCreate) and copies it to the Deployment. A refusal that waiting cannot heal fails at
    once; any other (a quota that frees up as old pods go) after ``unschedulable_grace``.
    """
    failure = condition(new_rs, "ReplicaFailure") or condition(deployment, "ReplicaFailure")
    if not failure or failure.get("status") != "True":
        return
    message = failure.get("message") or ""
    refusal = admission_refusal(message)
    age = _age(failure.get("lastTransitionTime"), now)
    since = opts.get("since")
    changed = parse_time(failure.get("lastTransitionTime"))
    stale = bool(since) and changed is not None and changed < since
    if stale:
        # Set before this watch began (the controller keeps the first time while retrying): give the
        # retry the grace, counted from the start of this watch, whatever the admission.
        age = max(0.0, now - since)
    if (stale or not (refusal and refusal["permanent"])) and age is not None and age < opts["unschedulable_grace"]:
        return
    found = {
        "pod": None,
        "container": refusal["container"] if refusal else None,
        "init": False,
        "reason": failure.get("reason") or "ReplicaFailure",
        "message": message,
        "restarts": 0,
    }
    result["fault"] = found
    result["replicaset"] = _meta(new_rs).get("name")
    by = " by {}".format(refusal["admission"]) if refusal else ""
    text = "ReplicaSet {} cannot create pods ({}{}): {}".format(_meta(new_rs).get("name"), found["reason"], by, message)
    if opts["fail_fast"]:
        result["status"] = FAILED
        result["message"] = text
    else:
        result["message"] += "; " + text


def _rollout_seconds(new_rs, progressing):
    """How long the current revision took to become available, from the API's own timestamps.

    From the creation of its ReplicaSet to the Progressing condition's NewReplicaSetAvailable
    (one-second resolution); None when either is missing.
    """
    if new_rs is None or not progressing or progressing.get("reason") != "NewReplicaSetAvailable":
        return None
    created = parse_time(_meta(new_rs).get("creationTimestamp"))
    available = parse_time(progressing.get("lastUpdateTime"))
    if created is None or available is None:
        return None
    return max(0.0, available - created)


def statefulset_status(statefulset, pods, now, opts, events=()):
    """kubectl's StatefulSet rules (partition aware) plus fail-fast over pods of the update revision.

    ``events`` are the StatefulSet's FailedCreate events: pods it cannot create (admission).
    """
    kind = "StatefulSet"
    meta, spec, status = _meta(statefulset), _spec(statefulset), _status(statefulset)
    name = meta.get("name")
    desired = _int(spec.get("replicas"), 1)
    revision = status.get("updateRevision")
    ready_count = _int(status.get("readyReplicas"))

    def verdict(state, message, **kw):
        return _verdict(kind, name, state, message, ready=ready_count, desired=desired, revision=revision, **kw)

    if meta.get("deletionTimestamp"):
        return verdict(TERMINATING, "being deleted", terminal=True)
    lag = _generation_lag(statefulset)
    if lag or not status.get("observedGeneration"):
        return verdict(IN_PROGRESS, lag or "waiting for the controller to observe the StatefulSet")

    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    partition = _int((strategy.get("rollingUpdate") or {}).get("partition")) if rolling else 0
    updated = _int(status.get("updatedReplicas"))
    available = status.get("availableReplicas")

    if ready_count < desired:
        result = verdict(IN_PROGRESS, f"{ready_count} of {desired} pods are ready")
    elif available is not None and _int(available) < desired:
        result = verdict(IN_PROGRESS, f"{_int(available)} of {desired} pods are available (minReadySeconds)")
    elif _int(status.get("replicas")) > desired:
        result = verdict(IN_PROGRESS, "{} surplus pods are pending termination".format(_int(status.get("replicas")) - desired))
    elif not rolling:
        return verdict(CURRENT, f"{ready_count} of {desired} pods ready (OnDelete: pods take the new revision only when deleted)")
    elif partition > 0:
        if updated < desired - partition:
            result = verdict(IN_PROGRESS, f"partitioned rollout: {updated} of {desired - partition} pods above partition {partition} updated")
        else:
            return verdict(CURRENT, f"partitioned rollout complete: {updated} pods updated, {partition} held back by partition {partition}")
    elif updated < desired or (status.get("currentRevision") and status.get("currentRevision") != revision):
        result = verdict(IN_PROGRESS, f"rolling update: {updated} of {desired} pods at revision {revision}")
    else:
        return verdict(CURRENT, f"{ready_count} of {desired} pods ready at revision {revision}")

    uid = meta.get("uid")
    new_pods = [p for p in pods if controller_uid(p) == uid and (_meta(p).get("labels") or {}).get(CONTROLLER_REVISION_HASH) == revision]
    _apply_fault(result, first_pod_fault(new_pods, now, opts["unschedulable_grace"], opts["not_ready_grace"]), opts["fail_fast"])
    if result["status"] == IN_PROGRESS and not result.get("fault"):
        _apply_stateful_create_refusal(result, statefulset, pods, events, now, opts)
    return result


def daemonset_status(daemonset, pods, now, opts):
    """kubectl's DaemonSet rules plus fail-fast over its pods."""
    kind = "DaemonSet"
    meta, spec, status = _meta(daemonset), _spec(daemonset), _status(daemonset)
    name = meta.get("name")
    desired = _int(status.get("desiredNumberScheduled"))
    ready_count = _int(status.get("numberAvailable"))
    revision = (meta.get("annotations") or {}).get("deprecated.daemonset.template.generation") or str(_int(meta.get("generation")))

    def verdict(state, message, **kw):
        return _verdict(kind, name, state, message, ready=ready_count, desired=desired, revision=revision, **kw)

    if meta.get("deletionTimestamp"):
        return verdict(TERMINATING, "being deleted", terminal=True)
    lag = _generation_lag(daemonset)
    if lag:
        return verdict(IN_PROGRESS, lag)
    updated = _int(status.get("updatedNumberScheduled"))
    rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    if rolling and updated < desired:
        result = verdict(IN_PROGRESS, f"{updated} of {desired} updated pods scheduled")
    elif ready_count < desired:
        result = verdict(IN_PROGRESS, f"{ready_count} of {desired} updated pods are available")
    else:
        return verdict(CURRENT, f"{ready_count} of {desired} pods available")
    uid = meta.get("uid")
    own = [p for p in pods if controller_uid(p) == uid]
    return _apply_fault(result, first_pod_fault(own, now, opts["unschedulable_grace"], opts["not_ready_grace"]), opts["fail_fast"])


def job_status(job, pods, now, opts):
    """A Job is Current when complete, Failed when failed (also when its pods cannot start)."""
    kind = "Job"
    meta, spec, status = _meta(job), _spec(job), _status(job)
    name = meta.get("name")
    completions = spec.get("completions")
    desired = _int(completions, 1) if completions is not None else 1
    succeeded = _int(status.get("succeeded"))

    def verdict(state, message, **kw):
        return _verdict(kind, name, state, message, ready=succeeded, desired=desired, revision=None, **kw)

    if meta.get("deletionTimestamp"):
        return verdict(TERMINATING, "being deleted", terminal=True)
    uid = meta.get("uid")
    own = [p for p in pods if controller_uid(p) == uid]
    for cond_type in ("Failed", "FailureTarget"):
        cond = condition(job, cond_type)
        if cond and cond.get("status") == "True":
            message = "job failed: {}: {} ({} failed pods)".format(cond.get("reason") or cond_type, cond.get("message") or "", _int(status.get("failed")))
            failed_pod = last_failed_pod(own)
            if failed_pod:
                message += "; " + failed_pod
            return verdict(FAILED, message, terminal=True)
    complete = condition(job, "Complete")
    if complete and complete.get("status") == "True":
        return verdict(CURRENT, f"complete: {succeeded} of {desired} succeeded")
    if spec.get("suspend"):
        return verdict(SUSPENDED, "job is suspended (spec.suspend)", terminal=True)
    result = verdict(
        IN_PROGRESS,
        "{} active, {} of {} succeeded, {} failed".format(_int(status.get("active")), succeeded, desired, _int(status.get("failed"))),
    )
    return _apply_fault(result, first_pod_fault(own, now, opts["unschedulable_grace"], opts["not_ready_grace"]), opts["fail_fast"])


def last_failed_pod(pods):
    """The newest failed pod of a Job: its container's exit, and the command that reads its logs; or None."""
    failed = [p for p in pods if _status(p).get("phase") == "Failed"]
    if not failed:
        return None
    pod = max(failed, key=lambda p: (_meta(p).get("creationTimestamp") or "", _meta(p).get("name") or ""))
    meta, status = _meta(pod), _status(pod)
    text = "pod {}".format(meta.get("name"))
    for cstatus in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        terminated = (cstatus.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode") not in (None, 0):
            text += " container {}: exit code {}".format(cstatus.get("name"), terminated.get("exitCode"))
            detail = ": ".join(str(part) for part in (terminated.get("reason"), terminated.get("message")) if part)
            if detail:
                text += f" ({detail})"
            break
    else:
        if status.get("reason") or status.get("message"):
            text += ": " + ": ".join(str(part) for part in (status.get("reason"), status.get("message")) if part)
    return "{}; its logs: kubectl logs -n {} {} --all-containers".format(text, meta.get("namespace") or "<namespace>", meta.get("name"))


def workload_status(kind, obj, replicasets, pods, now, opts, events=()):
    """The verdict on one workload; ``events`` (the StatefulSet's FailedCreate events) only matter to StatefulSets."""
    if kind == "Deployment":
        verdict = deployment_status(obj, replicasets, pods, now, opts)
    elif kind == "StatefulSet":
        verdict = statefulset_status(obj, pods, now, opts, events)
    elif kind == "DaemonSet":
        verdict = daemonset_status(obj, pods, now, opts)
    elif kind == "Job":
        verdict = job_status(obj, pods, now, opts)
    else:
        raise ValueError(f"unsupported kind {kind}")
    verdict["image"] = template_image(kind, obj)
    return verdict


def template_image(kind, obj):
    """Image of the first container of the pod template: what a person asks "which version is this?" of."""
    containers = _spec(pod_template(kind, obj)).get("containers") or []
    return containers[0].get("image") if containers else None


def pod_template(kind, obj):
    """The pod template of a workload (Jobs included)."""
    return _spec(obj).get("template") or {}


# ---------------------------------------------------------------------------
# Services, Ingresses, Dapr components


def endpoint_addresses(service_name, endpointslices):
    """(ready, all) endpoint addresses in the EndpointSlices of a Service."""
    ready, every = [], []
    for eps in endpointslices:
        if (_meta(eps).get("labels") or {}).get(SERVICE_NAME_LABEL) != service_name:
            continue
        for endpoint in eps.get("endpoints") or []:
            addresses = endpoint.get("addresses") or []
            every.extend(addresses)
            # The API says a missing ready condition means ready.
            if (endpoint.get("conditions") or {}).get("ready", True) is not False:
                ready.extend(addresses)
    return ready, every


def service_status(service, endpointslices, pods):
    """A Service is Current when it selects at least one ready endpoint.

    ``pods`` are only read to explain a Service without ready endpoints (label mismatch or unready pods).
    """
    kind = "Service"
    meta, spec = _meta(service), _spec(service)
    name = meta.get("name")
    if spec.get("type") == "ExternalName":
        return _verdict(kind, name, CURRENT, "ExternalName {}: no endpoints to check".format(spec.get("externalName")))
    selector = spec.get("selector") or {}
    if not selector:
        return _verdict(kind, name, CURRENT, "no selector: endpoints are managed outside Kubernetes, not checked")
    ready, every = endpoint_addresses(name, endpointslices)
    if ready:
        return _verdict(kind, name, CURRENT, f"{len(ready)} of {len(every)} endpoints ready", ready=len(ready), desired=len(every))
    matching = [p for p in pods if selector_matches(selector, _meta(p).get("labels")) and not _meta(p).get("deletionTimestamp")]
    wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    if not matching:
        message = f"no ready endpoints: selector {wanted} matches no pods (label mismatch?)"
    else:
        ready_pods = [p for p in matching if (condition(p, "Ready") or {}).get("status") == "True"]
        message = f"no ready endpoints: selector {wanted} matches {len(matching)} pods, {len(ready_pods)} of them Ready"
    return _verdict(kind, name, IN_PROGRESS, message, ready=0, desired=len(every))


def ingress_backends(ingress):
    """(path, service name, port number or name) of every Service backend of an Ingress."""
    spec = _spec(ingress)
    found = []
    default = (spec.get("defaultBackend") or {}).get("service")
    if default:
        port = default.get("port") or {}
        found.append(("(default backend)", default.get("name"), port.get("number") or port.get("name")))
    for rule in spec.get("rules") or []:
        host = rule.get("host") or "*"
        for path in (rule.get("http") or {}).get("paths") or []:
            backend = (path.get("backend") or {}).get("service")
            if not backend:
                continue
            port = backend.get("port") or {}
            found.append(("{}{}".format(host, path.get("path") or "/"), backend.get("name"), port.get("number") or port.get("name")))
    return found


def _service_has_port(service, port):
    return any(port in (sport.get("port"), sport.get("name")) for sport in _spec(service).get("ports") or [])


def backend_problems(backends, services, service_verdicts):
    """One message per (where, Service name, port) backend whose Service is missing, lacks the port or has no
    ready endpoints: the rule Ingress and HTTPRoute backends share."""
    problems = []
    for where, svc_name, port in backends:
        service = services.get(svc_name)
        if service is None:
            problems.append(f"{where}: backend Service {svc_name} does not exist")
        elif port is not None and not _service_has_port(service, port):
            problems.append(f"{where}: Service {svc_name} has no port {port}")
        elif (service_verdicts.get(svc_name) or {}).get("status") != CURRENT:
            problems.append("{}: Service {}: {}".format(where, svc_name, (service_verdicts.get(svc_name) or {}).get("message", "not checked")))
    return problems


def ingress_status(ingress, services, service_verdicts):
    """Current when each backend names an existing Service and port with ready endpoints.

    ``services``: name -> Service object; ``service_verdicts``: name -> verdict of service_status.
    """
    kind = "Ingress"
    name = _meta(ingress).get("name")
    backends = ingress_backends(ingress)
    problems = backend_problems(backends, services, service_verdicts)
    if problems:
        return _verdict(kind, name, IN_PROGRESS, "; ".join(problems), ready=len(backends) - len(problems), desired=len(backends))
    return _verdict(kind, name, CURRENT, f"{len(backends)} backends, all with ready endpoints", ready=len(backends), desired=len(backends))


GATEWAY_GROUP = "gateway.networking.k8s.io"
# ResolvedRefs=False reasons a controller may still correct on its own once the Service it names exists.
_ROUTE_TRANSIENT = ("BackendNotFound",)


def httproute_backends(route):
    """(where, Service name, port) of every Service backendRef of an HTTPRoute in the route's namespace.

    ``where`` names the rule and its first match (``rule 1 /api/reports``); backendRefs of other kinds or
    namespaces are not checked here (their controller reports them in ResolvedRefs).
    """
    namespace = _meta(route).get("namespace")
    found = []
    for number, rule in enumerate(_spec(route).get("rules") or [], start=1):
        matches = rule.get("matches") or [{}]
        path = ((matches[0].get("path") or {}).get("value")) or "/"
        where = f"rule {number} {path}"
        for ref in rule.get("backendRefs") or []:
            if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
                continue
            if (ref.get("namespace") or namespace) != namespace:
                continue
            found.append((where, ref.get("name"), ref.get("port")))
    return found


def _parent_key(ref, namespace):
    return (
        ref.get("group") or GATEWAY_GROUP,
        ref.get("kind") or "Gateway",
        ref.get("namespace") or namespace,
        ref.get("name"),
        ref.get("sectionName") or None,
        ref.get("port") or None,
    )


def _parent_label(key):
    group, kind, namespace, name, section, port = key
    label = f"{kind} {namespace}/{name}" if group == GATEWAY_GROUP else f"{kind}.{group} {namespace}/{name}"
    if section:
        label += f" listener {section}"
    if port:
        label += f" port {port}"
    return label


def route_parent_verdicts(route):
    """One (state, text) per parentRef of a Gateway API route, from the route's status.

    state: ``accepted`` (Accepted and ResolvedRefs true for the route's current generation), ``rejected`` (a
    condition false: the controller's reason and message), ``pending`` (ResolvedRefs false for a reason the
    controller corrects itself, such as BackendNotFound while the Service is created) or ``unanswered`` (no
    status for this parent, one for an older generation, or a condition Unknown: not decided yet).
    """
    meta = _meta(route)
    namespace = meta.get("namespace")
    generation = _int(meta.get("generation"))
    parents = {}
    for parent in (route.get("status") or {}).get("parents") or []:
        parents[_parent_key(parent.get("parentRef") or {}, namespace)] = parent
    answers = []
    for ref in _spec(route).get("parentRefs") or []:
        key = _parent_key(ref, namespace)
        label = _parent_label(key)
        parent = parents.get(key)
        conditions = {c.get("type"): c for c in (parent or {}).get("conditions") or []}
        accepted, resolved = conditions.get("Accepted"), conditions.get("ResolvedRefs")
        stale = [c for c in (accepted, resolved) if c and generation and _int(c.get("observedGeneration")) and _int(c.get("observedGeneration")) < generation]
        if parent is None or not accepted or not resolved or stale:
            why = "its status is for generation {} of {}".format(_int(stale[0].get("observedGeneration")), generation) if stale else "no status for it"
            answers.append(("unanswered", f"no controller has answered for {label} ({why})"))
            continue
        controller = parent.get("controllerName") or "its controller"
        undecided = [c for c in (accepted, resolved) if c.get("status") not in ("True", "False")]
        if undecided:
            # Unknown (reason Pending): the controller saw the route and has not decided yet.
            first = undecided[0]
            answers.append(("unanswered", f"{label} ({controller}) has not decided: {first.get('type')} {first.get('status')}: {first.get('reason')}"))
            continue
        for condition in (accepted, resolved):
            if condition.get("status") != "True":
                state = "pending" if condition is resolved and condition.get("reason") in _ROUTE_TRANSIENT else "rejected"
                answers.append(
                    (
                        state,
                        "{} ({}): {} {}: {}: {}".format(
                            label, controller, condition.get("type"), condition.get("status"), condition.get("reason"), condition.get("message") or "no message"
                        ),
                    )
                )
                break
        else:
            answers.append(("accepted", f"accepted by {label}"))
    return answers


def httproute_status(route, services, service_verdicts, require_acceptance=True):
    """Current when every Service backendRef has ready endpoints and every parent accepted the route.

    A parent that rejected it fails at once, with the controller's reason. A parent that has not answered
    keeps the route in progress when ``require_acceptance`` (a controller must be there), else it is reported
    in the message and does not hold the route back.
    """
    kind = "HTTPRoute"
    name = _meta(route).get("name")
    backends = httproute_backends(route)
    problems = backend_problems(backends, services, service_verdicts)
    answers = route_parent_verdicts(route)
    rejected = [text for state, text in answers if state == "rejected"]
    waiting = [text for state, text in answers if state == "pending" or (state == "unanswered" and require_acceptance)]
    noted = [text + " (not required: route_status is reported)" for state, text in answers if state == "unanswered" and not require_acceptance]
    accepted = [text for state, text in answers if state == "accepted"]
    counts = {"ready": len(backends) - len(problems), "desired": len(backends)}
    if rejected:
        return _verdict(kind, name, FAILED, "; ".join(rejected + problems), terminal=True, **counts)
    if problems or waiting:
        return _verdict(kind, name, IN_PROGRESS, "; ".join(problems + waiting + noted), **counts)
    return _verdict(kind, name, CURRENT, "; ".join([f"{len(backends)} backends, all with ready endpoints", *accepted, *noted]), **counts)


def dapr_app_ids(workloads):
    """app-id -> workload label ("Kind/name") for Dapr-enabled pod templates."""
    app_ids = {}
    for kind, obj in workloads:
        annotations = _meta(pod_template(kind, obj)).get("annotations") or {}
        if str(annotations.get(DAPR_ENABLED, "")).lower() == "true":
            app_id = annotations.get(DAPR_APP_ID) or _meta(obj).get("name")
            app_ids[app_id] = "{}/{}".format(kind, _meta(obj).get("name"))
    return app_ids


def dapr_component_statuses(components, app_ids, required):
    """One verdict per Dapr component that the selected Dapr apps rely on.

    ``components``: name -> Component, or None when the Dapr CRD is not installed;
    ``app_ids``: from dapr_app_ids; ``required``: names that must exist (empty: every
    component present is reported, and at least one must exist).
    """
    kind = "Component"
    if not app_ids and not required:
        return []
    if components is None:
        return [
            _verdict(
                kind,
                "components.dapr.io",
                FAILED,
                "the Dapr CRD components.dapr.io is not installed; Dapr apps: {}".format(", ".join(sorted(app_ids))),
                terminal=True,
            )
        ]
    verdicts = []
    names = list(required) or sorted(components)
    if not names:
        return [_verdict(kind, "(none)", NOT_FOUND, "no Dapr Component in the namespace, but Dapr is enabled for {}".format(", ".join(sorted(app_ids))))]
    for comp_name in names:
        comp = components.get(comp_name)
        if comp is None:
            verdicts.append(not_found(kind, comp_name, f"Dapr component {comp_name} does not exist"))
            continue
        scopes = comp.get("scopes") or []
        component_type = _spec(comp).get("type") or "?"
        # Scopes are deliberate: a Component scoped to some app-ids serves those, and the others do not
        # expect it. Waiting could not change a scope either, so a narrower scope is reported, not blocking.
        served = sorted(app for app in app_ids if not scopes or app in scopes)
        if scopes:
            message = "{} scoped to {} ({} of {} selected app-ids)".format(component_type, ", ".join(scopes), len(served), len(app_ids))
        else:
            message = f"{component_type} available to {len(app_ids)} app-ids"
        verdicts.append(_verdict(kind, comp_name, CURRENT, message, ready=len(served), desired=len(app_ids)))
    return verdicts
