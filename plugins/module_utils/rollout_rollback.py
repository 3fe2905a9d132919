# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roll failed workloads back to their last healthy revision, then verify them.

Two ways in: ``roll_back`` for the workloads a watch saw fail (option rollback), and
``plan_named``/``apply_named`` for workloads named explicitly (option rollback_names, which
playbooks/rollback.yml uses), whatever their state. Either way the target is the last healthy
revision: for a Deployment the newest earlier ReplicaSet that rollout_health marked verified
(``mark_verified``, VERIFIED_ANNOTATION) or that still serves, never one that never became healthy.

Deployments go back through their ReplicaSets (the pod template of the chosen
ReplicaSet, without its pod-template-hash label, patched into the Deployment,
as ``kubectl rollout undo`` does); StatefulSets and DaemonSets through their
ControllerRevisions. A StatefulSet does not replace a pod of the bad revision
that never became Ready, so those pods are deleted after the patch.
"""

import json
import time

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import api_error_text, k8s_api
from ansible_collections.erp.platform.plugins.module_utils.rollout_status import (
    CONTROLLER_REVISION_HASH,
    CURRENT,
    FAILED,
    POD_TEMPLATE_HASH,
    REVISION_ANNOTATION,
    _int,
    _meta,
    _spec,
    _status,
    condition,
    controller_uid,
    newest_replicaset,
)
from ansible_collections.erp.platform.plugins.module_utils.rollout_watch import (
    RolloutWatch,
    Selection,
)

ROLLBACK_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


# ---------------------------------------------------------------------------
# Rollback targets (pure: the objects as the API returns them)


def _revision_of(obj):
    return _int((_meta(obj).get("annotations") or {}).get(REVISION_ANNOTATION))


# Set by rollout_health on the ReplicaSet of a Deployment revision it saw Current:
# "<pod-template-hash> <RFC3339 UTC time>". The hash ties the mark to that ReplicaSet, so a
# value copied elsewhere (a Deployment's annotations reach its new ReplicaSets) does not count.
VERIFIED_ANNOTATION = "erp.platform/verified"


def verified_mark(replicaset):
    """The time (RFC3339 text) this ReplicaSet's revision was verified healthy, or None."""
    value = (_meta(replicaset).get("annotations") or {}).get(VERIFIED_ANNOTATION) or ""
    parts = value.split()
    own_hash = (_meta(replicaset).get("labels") or {}).get(POD_TEMPLATE_HASH)
    if len(parts) == 2 and own_hash and parts[0] == own_hash:
        return parts[1]
    return None


def verified_mark_value(replicaset, now):
    """The VERIFIED_ANNOTATION value for ``replicaset`` verified at epoch seconds ``now``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return "{} {}".format((_meta(replicaset).get("labels") or {}).get(POD_TEMPLATE_HASH), stamp)


def deployment_rollback_target(deployment, replicasets):
    """(ReplicaSet, why) to roll a Deployment back to, or (None, why not).

    The last healthy revision is the newest older ReplicaSet that was verified healthy
    (VERIFIED_ANNOTATION) or still has available pods (it was serving when the failed rollout
    started). A revision that never became healthy carries neither and is skipped. Only when no
    older revision has either (a history from before the mark, or from another tool) is it the
    newest older one.
    """
    uid = _meta(deployment).get("uid")
    owned = [rs for rs in replicasets if controller_uid(rs) == uid]
    current = _int((_meta(deployment).get("annotations") or {}).get(REVISION_ANNOTATION))
    if not current and owned:
        current = max(_revision_of(rs) for rs in owned)
    older = [rs for rs in owned if 0 < _revision_of(rs) < current]
    if not older:
        return None, "no earlier revision to roll back to (current revision {})".format(current or "unknown")
    healthy = [rs for rs in older if _int(_status(rs).get("availableReplicas")) > 0 or verified_mark(rs)]
    if healthy:
        target = max(healthy, key=_revision_of)
        if _int(_status(target).get("availableReplicas")) > 0:
            return target, "newest earlier revision still serving"
        return target, f"newest earlier revision verified healthy (at {verified_mark(target)})"
    return max(older, key=_revision_of), "newest earlier revision"


# kubectl rollout undo keeps these annotations of the Deployment instead of copying the ReplicaSet's.
_SKIPPED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
    # Belongs to the ReplicaSet it was verified on; on the Deployment it would reach every new ReplicaSet.
    VERIFIED_ANNOTATION,
)


def deployment_rollback_patch(deployment, replicaset):
    """JSON patch that puts the ReplicaSet's pod template back into the Deployment."""
    template = _copy(_spec(replicaset).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    current = _meta(deployment).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in _SKIPPED_ANNOTATIONS}
    for key, value in (_meta(replicaset).get("annotations") or {}).items():
        if key not in _SKIPPED_ANNOTATIONS:
            annotations[key] = value
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def controllerrevision_rollback_target(workload, revisions):
    """(ControllerRevision, why) for a failed StatefulSet or DaemonSet, or (None, why not).

    A StatefulSet whose update stopped half way still runs its currentRevision on the
    pods not yet updated: that is the last healthy one. Otherwise the newest older revision.
    """
    uid = _meta(workload).get("uid")
    owned = sorted((cr for cr in revisions if controller_uid(cr) == uid), key=lambda cr: _int(cr.get("revision")))
    if not owned:
        return None, "no ControllerRevisions found"
    by_name = {_meta(cr).get("name"): cr for cr in owned}
    status = _status(workload)
    update, current = status.get("updateRevision"), status.get("currentRevision")
    if update and current and update != current and current in by_name:
        return by_name[current], "revision still serving the pods not yet updated"
    newest = by_name.get(update) or owned[-1]
    older = [cr for cr in owned if _int(cr.get("revision")) < _int(newest.get("revision"))]
    if not older:
        return None, "no earlier revision to roll back to"
    return older[-1], "newest earlier revision"


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def read_workload_history(api_client, namespace, kind, name):
    """The workload's current object plus its revision history (ReplicaSets or ControllerRevisions)."""
    apps = k8s_api.AppsV1Api(api_client)
    if kind == "Deployment":
        obj = json.loads(apps.read_namespaced_deployment(name, namespace, _preload_content=False).data)
        history = json.loads(apps.list_namespaced_replica_set(namespace, _preload_content=False).data).get("items") or []
    else:
        read = apps.read_namespaced_stateful_set if kind == "StatefulSet" else apps.read_namespaced_daemon_set
        obj = json.loads(read(name, namespace, _preload_content=False).data)
        history = json.loads(apps.list_namespaced_controller_revision(namespace, _preload_content=False).data).get("items") or []
    return obj, history


def rollback_candidates(verdicts):
    """The workloads whose rollout failed (in report order)."""
    return [v for v in verdicts if v["status"] == FAILED and v["kind"] in (*ROLLBACK_KINDS, "Job")]


def plan_rollback(kind, workload, history):
    """A rollback plan for one failed workload: target revision, the patch, or why not.

    Returns a dict with kind, name, from_revision, to_revision (None when impossible),
    reason, patch, patch_type (json or strategic) and message.
    """
    meta = workload.get("metadata") or {}
    plan = {
        "kind": kind,
        "name": meta.get("name"),
        "from_revision": None,
        "to_revision": None,
        "reason": None,
        "patch": None,
        "patch_type": None,
        "message": None,
    }
    if kind == "Deployment":
        plan["from_revision"] = (meta.get("annotations") or {}).get(REVISION_ANNOTATION)
        target, why = deployment_rollback_target(workload, history)
        if target is None:
            plan["message"] = why
            return plan
        plan["to_revision"] = (target["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)
        plan["reason"] = why
        plan["patch"] = deployment_rollback_patch(workload, target)
        plan["patch_type"] = "json"
        plan["target"] = target["metadata"]["name"]
        return plan
    if kind in ("StatefulSet", "DaemonSet"):
        uid = meta.get("uid")
        owned = {cr["metadata"]["name"]: cr for cr in history if controller_uid(cr) == uid}
        update = (workload.get("status") or {}).get("updateRevision")
        if update in owned:
            plan["from_revision"] = str(owned[update].get("revision"))
        elif owned:
            plan["from_revision"] = str(max(int(cr.get("revision") or 0) for cr in owned.values()))
        target, why = controllerrevision_rollback_target(workload, history)
        if target is None:
            plan["message"] = why
            return plan
        plan["to_revision"] = str(target.get("revision"))
        plan["reason"] = why
        plan["patch"] = target.get("data")
        plan["patch_type"] = "strategic"
        plan["target"] = target["metadata"]["name"]
        plan["failed_revision"] = update
        return plan
    plan["message"] = f"a {kind} has no revisions to roll back to"
    return plan


def _apply(api_client, namespace, plan):
    apps = k8s_api.AppsV1Api(api_client)
    patch = {
        "Deployment": apps.patch_namespaced_deployment,
        "StatefulSet": apps.patch_namespaced_stateful_set,
        "DaemonSet": apps.patch_namespaced_daemon_set,
    }[plan["kind"]]
    # The client sends a list as a JSON patch and a dict as a strategic merge patch.
    patched = patch(plan["name"], namespace, plan["patch"], _request_timeout=30)
    if plan["kind"] == "StatefulSet" and plan.get("failed_revision"):
        # Delete the broken pods only once the controller works from the restored template,
        # or it would recreate them at the failed revision.
        generation = patched.metadata.generation
        for _attempt in range(50):
            current = apps.read_namespaced_stateful_set_status(plan["name"], namespace, _request_timeout=10)
            if (current.status.observed_generation or 0) >= generation:
                break
            time.sleep(0.2)
        core = k8s_api.CoreV1Api(api_client)
        response = core.list_namespaced_pod(
            namespace, label_selector="{}={}".format(CONTROLLER_REVISION_HASH, plan["failed_revision"]), _preload_content=False, _request_timeout=30
        )
        for pod in json.loads(response.data).get("items") or []:
            if (condition(pod, "Ready") or {}).get("status") != "True":
                core.delete_namespaced_pod(pod["metadata"]["name"], namespace, _request_timeout=30)


def _not_rolled_back(verdict, message):
    """The rolled_back entry of a failed workload that could not be rolled back."""
    return {
        "kind": verdict["kind"],
        "name": verdict["name"],
        "from_revision": None,
        "to_revision": None,
        "verified": False,
        "status": verdict["status"],
        "message": message,
    }


def roll_back(api_client, namespace, failed, options, timeout, check_mode=False):
    """Roll back each failed workload, verify the lot under one ``timeout``; returns the rolled_back list."""
    results = []
    applied = []
    started = time.time()
    for verdict in failed:
        kind, name = verdict["kind"], verdict["name"]
        if kind not in ROLLBACK_KINDS:
            results.append(_not_rolled_back(verdict, f"a {kind} has no revisions to roll back to"))
            continue
        try:
            workload, history = read_workload_history(api_client, namespace, kind, name)
            plan = plan_rollback(kind, workload, history)
        except Exception as exc:
            results.append(_not_rolled_back(verdict, f"cannot read revision history: {api_error_text(exc)}"))
            continue
        entry = {
            "kind": kind,
            "name": name,
            "from_revision": plan["from_revision"],
            "to_revision": plan["to_revision"],
            "target": plan.get("target"),
            "reason": plan["reason"],
            "verified": False,
            "status": verdict["status"],
            "message": plan["message"],
        }
        results.append(entry)
        if plan["to_revision"] is None:
            continue
        if check_mode:
            entry["planned_only"] = True
            entry["message"] = "check mode: not rolled back"
            continue
        try:
            _apply(api_client, namespace, plan)
        except Exception as exc:
            entry["to_revision"] = None
            entry["message"] = f"rollback patch failed: {api_error_text(exc)}"
            continue
        applied.append(entry)

    if applied:
        selection = Selection(kinds=sorted({e["kind"] for e in applied}), names=["{}/{}".format(e["kind"], e["name"]) for e in applied])
        verify_options = dict(options, fail_fast=True, check_services=False, check_ingresses=False, check_routes=False, check_dapr_components=False)
        outcome = RolloutWatch(api_client, namespace, selection, verify_options, since=started).run(timeout)
        mark_verified(api_client, namespace, outcome)
        by_key = {(v["kind"], v["name"]): v for v in outcome["verdicts"]}
        for entry in applied:
            verdict = by_key.get((entry["kind"], entry["name"]))
            entry["status"] = verdict["status"] if verdict else "Unknown"
            entry["verified"] = bool(verdict and verdict["status"] == CURRENT)
            entry["seconds_to_ready"] = round(verdict["seconds_to_ready"], 2) if verdict and verdict.get("seconds_to_ready") is not None else None
            entry["message"] = verdict["message"] if verdict else "not seen after the rollback"
            if entry["kind"] == "Deployment" and verdict and verdict.get("revision"):
                entry["new_revision"] = verdict["revision"]
    for entry in results:
        entry.setdefault("seconds_to_ready", None)
        entry.setdefault("planned_only", False)
        entry.setdefault("new_revision", None)
    return results


# ---------------------------------------------------------------------------
# Explicit rollback of named workloads


def parse_rollback_name(entry):
    """(kind, name) of a rollback_names entry: ``name`` (a Deployment) or ``Kind/name``; ValueError otherwise."""
    if "/" not in entry:
        return "Deployment", entry
    kind, name = entry.split("/", 1)
    lower = {k.lower(): k for k in ROLLBACK_KINDS}
    if kind.lower() not in lower or not name:
        raise ValueError("rollback_names: got {!r}; allowed: a Deployment name or Kind/name with Kind one of {}".format(entry, ", ".join(ROLLBACK_KINDS)))
    return lower[kind.lower()], name


def plan_named(api_client, namespace, entries):
    """Plans for the named workloads, and the reasons some cannot be rolled back (then nothing should be)."""
    plans, problems = [], []
    for kind, name in entries:
        try:
            workload, history = read_workload_history(api_client, namespace, kind, name)
        except Exception as exc:
            problems.append(f"{kind}/{name}: cannot read it or its revision history: {api_error_text(exc)}")
            continue
        plan = plan_rollback(kind, workload, history)
        if plan["to_revision"] is None:
            problems.append(f"{kind}/{name}: {plan['message']}")
        plans.append(plan)
    return plans, problems


def apply_named(api_client, namespace, plans, check_mode=False):
    """Patch each planned workload back (or only report it in check mode); returns the rolled_back entries."""
    entries = []
    for plan in plans:
        entry = {
            "kind": plan["kind"],
            "name": plan["name"],
            "from_revision": plan["from_revision"],
            "to_revision": plan["to_revision"],
            "target": plan.get("target"),
            "reason": plan["reason"],
            "verified": False,
            "status": None,
            "message": None,
            "seconds_to_ready": None,
            "planned_only": check_mode,
            "new_revision": None,
        }
        entries.append(entry)
        if check_mode:
            entry["message"] = "check mode: not rolled back"
            continue
        try:
            _apply(api_client, namespace, plan)
        except Exception as exc:
            entry["to_revision"] = None
            entry["message"] = f"rollback patch failed: {api_error_text(exc)}"
    return entries


def settle_named(entries, verdicts):
    """Fill the named rollback entries in from the verdicts of the watch that verified them."""
    by_key = {(v["kind"], v["name"]): v for v in verdicts}
    for entry in entries:
        if entry["to_revision"] is None or entry["planned_only"]:
            continue
        verdict = by_key.get((entry["kind"], entry["name"]))
        entry["status"] = verdict["status"] if verdict else "Unknown"
        entry["verified"] = bool(verdict and verdict["status"] == CURRENT)
        entry["seconds_to_ready"] = round(verdict["seconds_to_ready"], 2) if verdict and verdict.get("seconds_to_ready") is not None else None
        entry["message"] = verdict["message"] if verdict else "not seen after the rollback"
        if entry["kind"] == "Deployment" and verdict and verdict.get("revision"):
            entry["new_revision"] = verdict["revision"]
    return entries


# ---------------------------------------------------------------------------
# The verified mark


def replicasets_to_mark(verdicts, caches, now):
    """(ReplicaSet name, mark value) for each Current Deployment whose current ReplicaSet is not marked yet."""
    deployments = caches.get("deployments") or {}
    replicasets = list((caches.get("replicasets") or {}).values())
    due = []
    for verdict in verdicts:
        if verdict["kind"] != "Deployment" or verdict["status"] != CURRENT:
            continue
        deployment = deployments.get(verdict["name"])
        replicaset = newest_replicaset(deployment, replicasets) if deployment else None
        if replicaset is None or verified_mark(replicaset):
            continue
        due.append((replicaset["metadata"]["name"], verified_mark_value(replicaset, now)))
    return due


def mark_verified(api_client, namespace, outcome):
    """Mark the ReplicaSets of the Deployments the watch saw Current; returns (marked names, warnings).

    Only the ReplicaSet's annotation changes (never the Deployment or its pods), and only when the
    mark is missing, so a re-run patches nothing. A refused patch is a warning: the verdict stands.
    """
    marked, warnings = [], []
    apps = k8s_api.AppsV1Api(api_client)
    for name, value in replicasets_to_mark(outcome["verdicts"], outcome.get("caches") or {}, time.time()):
        body = {"metadata": {"annotations": {VERIFIED_ANNOTATION: value}}}
        try:
            apps.patch_namespaced_replica_set(name, namespace, body, _request_timeout=30)
        except Exception as exc:
            warnings.append(f"cannot mark ReplicaSet {name} verified ({VERIFIED_ANNOTATION}), a later rollback cannot count on it: {api_error_text(exc)}")
            continue
        marked.append(name)
    return marked, warnings
