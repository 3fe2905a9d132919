#!/usr/bin/python
# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: rollout_health
short_description: Verify that rollouts in a namespace came up healthy, fail fast, roll back
version_added: 0.1.0
author:
  - ERP platform team (@erp-system)
description:
  - Watches the selected Deployments, StatefulSets, DaemonSets and Jobs of one namespace at once, under one overall
    deadline, with API watches rather than polling, and decides whether every rollout is complete.
  - Readiness per kind follows C(kubectl rollout status) - the controller has observed the latest generation, all
    replicas are updated, no old replicas are left, and the updated replicas are available; StatefulSets honour
    their partition; DaemonSets count updated and available pods; a Job must be complete, and a failed Job is a failure.
    A paused Deployment and a suspended Job are reported as C(Suspended), not as ready.
  - Fails fast, long before any timeout, when a Deployment exceeded its progress deadline, or when a pod of the new
    revision has a container or init container waiting in C(CrashLoopBackOff), C(ImagePullBackOff), C(ErrImagePull),
    C(CreateContainerConfigError) or C(InvalidImageName), stays unschedulable longer than O(unschedulable_grace),
    runs without becoming Ready longer than O(not_ready_grace), or cannot be created at all (C(ReplicaFailure),
    for example rejected by admission). The message names the workload, the pod, the container, the reason and the
    message, and adds the pod's recent Warning events.
  - Pods a ReplicaSet cannot create name the admission that refused them (PodSecurity, ResourceQuota, LimitRange, an
    admission webhook or policy) and quote its reason in full. PodSecurity, LimitRange and webhook refusals fail at
    once, since waiting cannot change them; a quota refusal fails after O(unschedulable_grace), since old pods going
    may free the quota. For such a fault, C(container) is the container PodSecurity names and C(events) are the
    ReplicaSet's.
  - Pods a StatefulSet cannot create are read from its C(FailedCreate) events (the StatefulSet controller keeps no
    condition for them), with the same rules and messages; an event counts while the pod it names does not exist
    and it is no older than the last write of the StatefulSet's spec.
  - Optionally checks that Services select ready endpoints, that Ingress backends and the Service backendRefs of
    Gateway API HTTPRoutes name existing Services and ports with ready endpoints, and that the Dapr components the
    workloads' app-ids rely on exist.
    These are judged once the workloads are Current, allowing 10 seconds for the endpoint controllers to catch up.
  - An HTTPRoute is also judged by its status, for each of its parentRefs - C(Accepted) and C(ResolvedRefs) true
    for the route's current generation. A parent that set either false fails the run at once with the controller's
    reason and message (C(ResolvedRefs) C(BackendNotFound) waits like a missing backend, since the controller
    corrects it once the Service exists). A parent with no answer is waited for like a backend when O(route_status)
    is C(required), and only reported when it is C(reported).
  - Optionally rolls the workloads that failed back to their last healthy revision, verifies the rollback with its
    own timeout, and still fails, saying what was rolled back to which revision. Workloads that succeeded are left alone.
  - With O(rollback_names), first rolls the named workloads back to their last healthy revision, whatever their state
    (an explicit rollback, as C(playbooks/rollback.yml) does), then verifies the selection as usual.
  - Each Deployment seen C(Current) (with O(hold), C(Current) for O(hold) seconds in a row) has the ReplicaSet of
    that revision marked with the annotation C(erp.platform/verified) (C(<pod-template-hash> <RFC3339 time>)), once;
    a rollback goes to the newest earlier revision marked so or still serving, so a revision that never became
    healthy is never chosen. The mark is the module's own record on the ReplicaSet (the Deployment and its pods are
    untouched) and does not count as a change. It is skipped in check mode; a refused patch is a warning.
  - Transient API errors and expired watches are retried; a named workload that does not exist yet is given
    10 seconds to appear before it counts as C(NotFound).
options:
  namespace:
    description:
      - Namespace of the workloads to verify.
    type: str
    required: true
  label_selector:
    description:
      - Label selector (the syntax of C(kubectl -l), for example C(app.kubernetes.io/instance=erp,tier!=batch)) that selects
        the workloads to verify. Services and Ingresses carrying matching labels are checked too.
      - Combined with O(names), a workload must match both.
      - Without O(label_selector) and O(names), every workload of the selected O(kinds) in the namespace is verified.
    type: str
  names:
    description:
      - Names of the workloads to verify, either a bare name (any of the O(kinds)) or C(Kind/name), for example
        C(Deployment/finance-service).
      - A name that matches no workload is reported as C(NotFound) and fails the run.
    type: list
    elements: str
    default: []
  kinds:
    description:
      - Workload kinds to verify.
    type: list
    elements: str
    choices: [Deployment, StatefulSet, DaemonSet, Job]
    default: [Deployment, StatefulSet, DaemonSet, Job]
  timeout:
    description:
      - Seconds to wait, overall, for every selected resource to become C(Current). One deadline for all of them.
      - It includes O(hold).
    type: int
    default: 300
  hold:
    description:
      - Seconds everything must stay C(Current) in a row before the run counts as healthy - for the pause of a canary
        release step, during which the canary must stay healthy. C(0) ends the run as soon as everything is C(Current).
      - Once every resource (workloads, Services, Ingresses, HTTPRoutes, Dapr components) is C(Current), the module
        keeps watching. A resource that fails meanwhile by the rules above (a pod that starts crash-looping, stays not
        Ready longer than O(not_ready_grace), and so on) fails the run at once when O(fail_fast) is true, and the
        message says C(failed during the hold of N s after H s healthy). A resource that goes back to
        C(InProgress) without failing restarts the hold once everything is C(Current) again. With O(fail_fast)
        false, a pod problem does not fail the run but keeps its workload C(InProgress), so it restarts the hold
        (and a run still waiting at the timeout times out); a final state such as a failed Job still fails it.
      - The hold must end within O(timeout) - a hold not completed by the timeout makes the run a C(timeout)
        (C(the hold of N s was not completed after H s healthy)). Must be 0 or more and less than O(timeout).
      - RV(held) tells how long everything stayed C(Current). The verification of a rollback (O(rollback)) does
        not hold.
    type: int
    default: 0
  fail_fast:
    description:
      - Stop as soon as one resource has failed (see the fail-fast rules above) instead of waiting for the timeout.
      - When false, pod problems are only reported, and the module waits until every resource is C(Current), the
        timeout expires, or everything left is in a final state (a failed Job, an exceeded progress deadline, a
        paused Deployment).
    type: bool
    default: true
  api_unreachable_timeout:
    description:
      - Seconds the Kubernetes API may fail to answer in a row (connection refused or reset, timeouts, server errors)
        before the run ends with that error, instead of retrying until O(timeout).
    type: int
    default: 30
  unschedulable_grace:
    description:
      - Seconds a pod of the new revision may stay unschedulable (C(PodScheduled=False), reason C(Unschedulable)),
        or a ReplicaSet may fail to create pods because of a quota (other admission refusals fail at once), before
        the rollout fails.
    type: int
    default: 30
  not_ready_grace:
    description:
      - Seconds a running pod of the new revision, all of whose containers have started, may stay not Ready before
        the rollout fails. Never less than the pod's longest readiness probe C(initialDelaySeconds) plus one period.
    type: int
    default: 60
  check_services:
    description:
      - Also require every relevant Service to select at least one ready endpoint (EndpointSlices).
      - Relevant are all Services of the namespace when nothing narrows the selection, otherwise the Services whose
        labels match O(label_selector) and those whose selector picks pods of a selected workload.
    type: bool
    default: true
  check_ingresses:
    description:
      - Also require every relevant Ingress backend to name an existing Service and port with ready endpoints.
      - Relevant are all Ingresses when nothing narrows the selection, otherwise those whose labels match
        O(label_selector) or whose backends are relevant Services.
    type: bool
    default: true
  check_routes:
    description:
      - Also check every relevant Gateway API HTTPRoute (C(gateway.networking.k8s.io/v1)) - its Service backendRefs
        as O(check_ingresses) checks Ingress backends, and its status for each parentRef (see O(route_status)).
      - Relevant as for O(check_ingresses). Nothing is checked where the cluster does not serve HTTPRoutes.
    type: bool
    default: true
  route_status:
    description:
      - What a parentRef that no controller has answered (no status for it, or one for an older generation)
        means. C(required) - the route is in progress until a controller accepts it, and fails 10 seconds after
        the workloads are Current. C(reported) - it is named in the message and does not fail the run (a
        cluster without a Gateway controller, such as a local test cluster).
      - A rejection (C(Accepted) or C(ResolvedRefs) false) fails the run either way.
    type: str
    choices: [required, reported]
    default: required
  check_dapr_components:
    description:
      - Also check the Dapr components (C(components.dapr.io)) that the Dapr-enabled pod templates (annotation
        C(dapr.io/enabled=true)) rely on - they exist; a component with C(scopes) is reported with the selected
        app-ids (annotation C(dapr.io/app-id)) it serves, and a narrower scope does not block.
      - Nothing is checked when no selected workload is Dapr-enabled and O(dapr_components) is empty.
    type: bool
    default: true
  dapr_components:
    description:
      - Names of Dapr components that must exist in the namespace, for example C([pubsub, statestore]).
      - When empty, every component present is reported, and at least one component must exist if a selected
        workload is Dapr-enabled.
    type: list
    elements: str
    default: []
  rollback:
    description:
      - When the rollout failed, roll back each failed Deployment, StatefulSet and DaemonSet to its last healthy
        revision - the newest earlier revision marked verified or still serving pods, otherwise (no earlier revision
        marked or serving, for a history from before the mark or from another tool) the newest earlier revision
        (Deployments through their ReplicaSets, like C(kubectl rollout undo); StatefulSets and DaemonSets through
        their ControllerRevisions; pods of a StatefulSet's failed revision that are not Ready are deleted so the
        controller replaces them).
      - The rollback is verified within O(rollback_timeout); the module fails either way and reports what it
        rolled back in RV(rolled_back). Jobs cannot be rolled back. Nothing is rolled back in check mode.
    type: bool
    default: false
  rollback_timeout:
    description:
      - Seconds the rolled back workloads get to become C(Current) again, on top of O(timeout).
    type: int
    default: 120
  rollback_names:
    description:
      - Workloads to roll back to their last healthy revision (chosen as for O(rollback)) before the watch, whatever
        their state - a Deployment name, or C(Kind/name) with Kind one of C(Deployment), C(StatefulSet), C(DaemonSet).
      - Every named workload is read and its target chosen before anything is patched; if one has none (it does not
        exist, or no earlier revision), the module fails and nothing is rolled back.
      - Then the selection (O(label_selector), O(names); the rolled back workloads when neither is given) is verified
        within O(timeout), and the module fails unless it is healthy. In check mode the rollback is only planned and
        nothing is watched (RV(outcome) is C(planned)).
      - Cannot be combined with O(rollback).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    description: Can run in check mode and return the status that would be reported.
    support: full
    details: Reads only; a rollback that would happen is reported, not done.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
requirements:
  - python >= 3.8
  - kubernetes >= 24.2.0
  - the C(kubernetes.core) collection
notes:
  - Authentication is that of C(kubernetes.core) - O(kubeconfig), O(context), O(host), O(api_key) and the other
    options, or their C(K8S_AUTH_*) environment variables - so an AWX Kubernetes credential works unchanged.
  - The identity needs get, list and watch on the selected kinds, pods, replicasets, services, endpointslices,
    ingresses, httproutes.gateway.networking.k8s.io, components.dapr.io and events in the namespace (events are
    watched when StatefulSets are selected); rollback adds patch on the workloads, list on controllerrevisions, and
    delete on pods; the verified mark needs patch on replicasets.
seealso:
  - module: kubernetes.core.k8s
  - module: kubernetes.core.k8s_rollback
"""

EXAMPLES = r"""
- name: Verify every workload of the ERP instance, rolling back what fails
  erp.platform.rollout_health:
    namespace: erp-system
    label_selector: app.kubernetes.io/instance=erp
    timeout: 600
    dapr_components: [pubsub, statestore]
    rollback: true
  register: __verify_rollout

- name: Report health without changing anything (also under --check)
  erp.platform.rollout_health:
    namespace: erp-system
    label_selector: app.kubernetes.io/instance=erp
    timeout: 30
    fail_fast: true
  register: __status_rollout
  ignore_errors: true

- name: Show the summary table
  ansible.builtin.debug:
    var: __status_rollout.summary_lines

- name: Wait for two services only, with a short grace for pods that never get Ready
  erp.platform.rollout_health:
    namespace: erp-system
    names:
      - Deployment/finance-service
      - inventory-service
    not_ready_grace: 30
    check_ingresses: false

- name: Canary step - the canary must come up and stay healthy through the step's 60 s pause
  erp.platform.rollout_health:
    namespace: erp-system
    names: [Deployment/finance-service-canary]
    timeout: 300
    hold: 60

- name: Wait for a database migration Job, using a token as AWX does
  erp.platform.rollout_health:
    host: https://k8s.example.com:6443
    api_key: "{{ k8s_token }}"
    namespace: erp-system
    names: [Job/erp-db-migrate]
    kinds: [Job]
    timeout: 900
"""

RETURN = r"""
outcome:
  description:
    - How the watch ended - C(healthy), C(failed) (fail fast or nothing left to wait for) or C(timeout).
    - C(planned) for O(rollback_names) in check mode, where nothing is watched.
  returned: always
  type: str
  sample: failed
elapsed:
  description: Seconds spent watching the rollout (without the rollback), O(hold) included.
  returned: always
  type: float
  sample: 4.21
held:
  description:
    - Seconds everything stayed C(Current) in a row, for O(hold) - the final stretch when healthy (at least O(hold)),
      else the latest stretch, up to the failure or the timeout that ended it.
    - C(0) when O(hold) is C(0), or when not everything was ever C(Current).
  returned: always
  type: float
  sample: 60.02
resources:
  description: One entry per verified resource, the blocking ones first (failed, then missing, suspended, in progress, current).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description:
        - C(Deployment), C(StatefulSet), C(DaemonSet), C(Job), C(Service), C(Ingress), C(HTTPRoute), C(Component),
          or C(Workload) for a name that matched nothing.
      type: str
      sample: Deployment
    name:
      description: Name of the resource.
      type: str
      sample: finance-service
    status:
      description: Status in kstatus words - C(Current), C(InProgress), C(Failed), C(Suspended), C(NotFound) or C(Terminating).
      type: str
      sample: Failed
    ready:
      description: Ready count - available pods of the new revision, ready StatefulSet pods, succeeded Job pods, ready endpoints, healthy backends.
      type: int
      sample: 1
    desired:
      description: The count RV(resources[].ready) must reach (null where it does not apply).
      type: int
      sample: 2
    image:
      description: Image of the first container of a workload's pod template (null for Services, Ingresses, HTTPRoutes and components).
      type: str
      sample: docker.io/erp-system/finance:1.0.0
    revision:
      description: Revision being rolled out - the Deployment revision, the StatefulSet update revision, the DaemonSet template generation.
      type: str
      sample: "3"
    rollout_seconds:
      description:
        - For a C(Current) Deployment, how long its current revision took to become available, from the API's timestamps
          (creation of its ReplicaSet to the C(NewReplicaSetAvailable) progress condition; one-second resolution).
        - Null for other kinds and while not C(Current).
      type: float
      sample: 4.0
    seconds_to_ready:
      description:
        - Seconds from the start of the watch until the resource was seen C(Current); 0 if it already was; null if it is not.
        - With O(hold), until it last became C(Current) again, when it stopped being C(Current) meanwhile.
      type: float
      sample: 2.35
    message:
      description: What the resource is waiting for, or why it failed.
      type: str
      sample: "pod finance-service-7c9d8f6b5-x2x7q container finance: CrashLoopBackOff (back-off 20s restarting failed container; last exit code 1), 2 restarts"
    events:
      description:
        - Recent Warning events (oldest first, as C(Reason - message (xN))) of the failed pod, or of the failed workload
          when no pod is to blame; only on failed workloads.
      type: list
      elements: str
      sample: ["BackOff: Back-off restarting failed container finance in pod finance-service-7c9d8f6b5-x2x7q (x4)"]
    fault:
      description: The pod problem behind a fail-fast verdict, or null.
      type: dict
      contains:
        pod:
          description: Pod name (null when the ReplicaSet could not create pods).
          type: str
        container:
          description: Container name (null for pod-level problems such as C(Unschedulable)).
          type: str
        init:
          description: Whether the container is an init container.
          type: bool
        reason:
          description:
            - C(CrashLoopBackOff), C(ImagePullBackOff), C(ErrImagePull), C(CreateContainerConfigError), C(InvalidImageName),
              C(Unschedulable), C(NotReady), or the ReplicaFailure reason.
          type: str
        message:
          description: The waiting message or condition message.
          type: str
        restarts:
          description: Restart count of the container.
          type: int
        events:
          description: Recent Warning events of the pod, oldest first, as C(Reason - message (xN)).
          type: list
          elements: str
      sample:
        pod: finance-service-7c9d8f6b5-x2x7q
        container: finance
        init: false
        reason: CrashLoopBackOff
        message: back-off 20s restarting failed container
        restarts: 2
        events: ["BackOff: Back-off restarting failed container finance"]
rollback_elapsed:
  description: Seconds spent rolling back and verifying the rollback.
  returned: when O(rollback=true) and something failed
  type: float
  sample: 5.02
summary:
  description: The report as a fixed-width table with a headline, for people.
  returned: always
  type: str
  sample: |-
    1 of 3 resources are Current after 6.2s; blocking: Deployment/finance-service Failed: pod ...
    STATUS   KIND        NAME             READY  REVISION  TIME  MESSAGE
    Failed   Deployment  finance-service  0/2    2         -     pod finance-service-7c9d8f6b5-x2x7q container finance: CrashLoopBackOff
summary_lines:
  description: RV(summary) split into lines, for C(ansible.builtin.debug).
  returned: always
  type: list
  elements: str
  sample: ["all 3 resources are Current after 1.2s", "STATUS   KIND        NAME  READY  REVISION  TIME  MESSAGE"]
verified_marks:
  description: The ReplicaSets this run marked verified (C(erp.platform/verified)); empty when all were marked already.
  returned: always
  type: list
  elements: str
  sample: [finance-service-6d5f8c7b9]
rolled_back:
  description:
    - One entry per failed workload that O(rollback) dealt with, or per workload of O(rollback_names) (empty when
      nothing was rolled back).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Workload kind.
      type: str
      sample: Deployment
    name:
      description: Workload name.
      type: str
      sample: finance-service
    from_revision:
      description: The revision rolled back from (the failed one, for O(rollback)).
      type: str
      sample: "2"
    to_revision:
      description: The revision rolled back to (null when there was none to go back to or the patch failed).
      type: str
      sample: "1"
    new_revision:
      description: The revision number the Deployment got for the restored template (Deployments renumber it).
      type: str
      sample: "3"
    target:
      description: The ReplicaSet or ControllerRevision rolled back to.
      type: str
      sample: finance-service-6d5f8c7b9
    reason:
      description: Why this revision was chosen.
      type: str
      sample: newest earlier revision verified healthy (at 2026-12-02T00:10:00Z)
    planned_only:
      description: True in check mode, where the rollback is only reported.
      type: bool
      sample: false
    verified:
      description: Whether the workload became C(Current) again within O(rollback_timeout).
      type: bool
      sample: true
    status:
      description: Status of the workload after the rollback.
      type: str
      sample: Current
    seconds_to_ready:
      description: Seconds until the rolled back workload was C(Current).
      type: float
      sample: 3.1
    message:
      description: Status message after the rollback, or why nothing was rolled back.
      type: str
      sample: 2 of 2 updated replicas are available
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erp.platform.plugins.module_utils.k8s_module import auth_argument_spec, connect_or_fail
from ansible_collections.erp.platform.plugins.module_utils.rollout_report import (
    failure_message,
    headline,
    result_entry,
    rollback_message,
    summary_lines,
)
from ansible_collections.erp.platform.plugins.module_utils.rollout_rollback import (
    apply_named,
    mark_verified,
    parse_rollback_name,
    plan_named,
    roll_back,
    rollback_candidates,
    settle_named,
)
from ansible_collections.erp.platform.plugins.module_utils.rollout_status import CURRENT, WORKLOAD_KINDS
from ansible_collections.erp.platform.plugins.module_utils.rollout_watch import RolloutWatch, Selection


def argument_spec():
    return auth_argument_spec(
        namespace={"type": "str", "required": True},
        label_selector={"type": "str"},
        names={"type": "list", "elements": "str", "default": []},
        kinds={"type": "list", "elements": "str", "choices": list(WORKLOAD_KINDS), "default": list(WORKLOAD_KINDS)},
        timeout={"type": "int", "default": 300},
        hold={"type": "int", "default": 0},
        fail_fast={"type": "bool", "default": True},
        api_unreachable_timeout={"type": "int", "default": 30},
        unschedulable_grace={"type": "int", "default": 30},
        not_ready_grace={"type": "int", "default": 60},
        check_services={"type": "bool", "default": True},
        check_ingresses={"type": "bool", "default": True},
        check_routes={"type": "bool", "default": True},
        route_status={"type": "str", "choices": ["required", "reported"], "default": "required"},
        check_dapr_components={"type": "bool", "default": True},
        dapr_components={"type": "list", "elements": "str", "default": []},
        rollback={"type": "bool", "default": False},
        rollback_timeout={"type": "int", "default": 120},
        rollback_names={"type": "list", "elements": "str", "default": []},
    )


def _check_numbers(module):
    for option, minimum in (("timeout", 1), ("rollback_timeout", 1), ("unschedulable_grace", 0), ("not_ready_grace", 0), ("api_unreachable_timeout", 1)):
        if module.params[option] < minimum:
            module.fail_json(msg=f"{option} must be at least {minimum}, got {module.params[option]}")
    hold, timeout = module.params["hold"], module.params["timeout"]
    if not 0 <= hold < timeout:
        module.fail_json(msg=f"hold: got {hold}; allowed: 0 or more and less than timeout ({timeout}), since the hold must end within the timeout")


def _held_long_enough(outcome, hold):
    """The outcome with only the verdicts fit for the verified mark: with a hold, those Current for hold seconds."""
    if not hold:
        return outcome
    verdicts = [
        v
        for v in outcome["verdicts"]
        if v["status"] != CURRENT or (v.get("seconds_to_ready") is not None and outcome["elapsed"] - v["seconds_to_ready"] >= hold)
    ]
    return dict(outcome, verdicts=verdicts)


def _named_rollback(module, api_client, entries):
    """Roll the named workloads back (all or none), then the rolled_back list and the selection to verify."""
    plans, problems = plan_named(api_client, module.params["namespace"], entries)
    if problems:
        module.fail_json(msg="rollback_names: nothing was rolled back: " + "; ".join(problems), changed=False, rolled_back=[])
    return apply_named(api_client, module.params["namespace"], plans, check_mode=module.check_mode)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    _check_numbers(module)
    params = module.params
    if params["rollback"] and params["rollback_names"]:
        module.fail_json(msg="rollback and rollback_names: got both; allowed: one of them (rollback_names is an explicit rollback, rollback the automatic one)")
    try:
        named = [parse_rollback_name(entry) for entry in params["rollback_names"]]
        names = params["names"] if params["names"] or params["label_selector"] else [f"{kind}/{name}" for kind, name in named]
        selection = Selection(kinds=params["kinds"], label_selector=params["label_selector"], names=names)
    except ValueError as exc:
        module.fail_json(msg=f"label_selector/names: {exc}" if not str(exc).startswith("rollback_names") else str(exc))

    api_client = connect_or_fail(module)

    options = {
        key: params[key]
        for key in (
            "fail_fast",
            "api_unreachable_timeout",
            "unschedulable_grace",
            "not_ready_grace",
            "check_services",
            "check_ingresses",
            "check_routes",
            "route_status",
            "check_dapr_components",
            "dapr_components",
        )
    }
    rolled_back = []
    started = time.time()
    if named:
        rolled_back = _named_rollback(module, api_client, named)
        if module.check_mode:
            lines = ["rollback planned (check mode): " + rollback_message(rolled_back)]
            module.exit_json(
                changed=True,
                outcome="planned",
                elapsed=0.0,
                held=0.0,
                resources=[],
                summary=lines[0],
                summary_lines=lines,
                rolled_back=rolled_back,
                verified_marks=[],
            )
    # The hold is the watch's alone: the rollback's verification (roll_back gets options) does not hold.
    watch = RolloutWatch(api_client, params["namespace"], selection, dict(options, hold=params["hold"]), since=started if named else None)
    outcome = watch.run(params["timeout"])
    verdicts = outcome["verdicts"]
    hold = {"hold": params["hold"], "held": outcome["held"], "hold_began": outcome["hold_began"]}
    lines = [headline(verdicts, outcome["outcome"], outcome["elapsed"], **hold), *summary_lines(verdicts)]
    result = {
        "changed": False,
        "outcome": outcome["outcome"],
        "elapsed": round(outcome["elapsed"], 2),
        "held": round(outcome["held"], 2),
        "resources": [result_entry(v) for v in verdicts],
        "summary": "\n".join(lines),
        "summary_lines": lines,
        "rolled_back": [],
        "verified_marks": [],
    }
    if outcome["outcome"] == "error":
        module.fail_json(msg=outcome["message"], **result)
    if not module.check_mode:
        result["verified_marks"], warnings = mark_verified(api_client, params["namespace"], _held_long_enough(outcome, params["hold"]))
        for warning in warnings:
            module.warn(warning)
    if named:
        result["rolled_back"] = settle_named(rolled_back, verdicts)
        result["changed"] = any(item["to_revision"] is not None for item in rolled_back)
        if outcome["outcome"] == "healthy" and all(item["verified"] for item in rolled_back):
            module.exit_json(**result)
        msg = failure_message(params["namespace"], verdicts, outcome["outcome"], outcome["elapsed"], params["timeout"], **hold)
        module.fail_json(msg=msg + ". Rollback: " + rollback_message(rolled_back), **result)
    if outcome["outcome"] == "healthy":
        module.exit_json(**result)

    msg = failure_message(params["namespace"], verdicts, outcome["outcome"], outcome["elapsed"], params["timeout"], **hold)
    if params["rollback"]:
        candidates = rollback_candidates(verdicts)
        if candidates:
            started = time.monotonic()
            rolled_back = roll_back(api_client, params["namespace"], candidates, options, params["rollback_timeout"], check_mode=module.check_mode)
            result["rolled_back"] = rolled_back
            result["changed"] = any(item["to_revision"] is not None and not item["planned_only"] for item in rolled_back)
            result["rollback_elapsed"] = round(time.monotonic() - started, 2)
            msg += ". Rollback: " + rollback_message(rolled_back)
    module.fail_json(msg=msg, **result)


if __name__ == "__main__":
    main()
