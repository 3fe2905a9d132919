#!/usr/bin/python
# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: apply_objects
short_description: Server-side apply a list of Kubernetes objects and prune the managed ones no longer wanted
version_added: 0.1.0
author:
  - ERP platform team (@erp-system)
description:
  - Applies every object of O(objects) with server-side apply under one field manager, over one connection in one
    module run. Kinds go in the order of O(objects); the objects of one kind go up to O(parallel) at a time. Each
    group-version is discovered once, with a single request.
  - Reports each object as C(created), C(configured) or C(unchanged). An object counts as changed when it is new or
    when anything but its status and server-maintained metadata differs after the apply; a no-op apply does not
    touch the object, so its resourceVersion stays.
  - With O(prune), then deletes, scope by scope, the objects of the scope's kinds that carry its O(prune[].selector)
    labels but whose O(prune[].keep_label) value is not kept, for example the objects of a service that was disabled.
    An object applied by the same call is never pruned.
  - Secret values can come in O(secret_data) instead of O(objects), a no_log option, so the task's logged arguments
    hold no secret while everything else about the objects stays readable.
  - Every object is read before the first one is applied. With O(owner_labels), an object that already exists without
    every one of these labels at its value (created by someone else, or by another instance) fails the run before
    anything is changed, naming the object, its labels and its field managers, unless O(adopt) names it; an adopted
    object is applied like the others, and so takes the labels of O(objects).
  - A failing object stops the run - no further object of its kind is started (at most O(parallel) - 1 already in
    flight finish), later kinds and the prune are not started - and the message names the object and quotes the API
    server's reason. RV(objects) lists what was applied.
options:
  objects:
    description:
      - Kubernetes objects (mappings with C(apiVersion), C(kind) and C(metadata.name), and C(metadata.namespace) for
        namespaced kinds), applied in this order.
    type: list
    elements: dict
    required: true
  field_manager:
    description:
      - Field manager of the server-side apply.
    type: str
    default: erp.platform
  force_conflicts:
    description:
      - Take over fields owned by other managers instead of failing on a conflict.
    type: bool
    default: true
  parallel:
    description:
      - How many objects of the same kind are applied at the same time. Kinds still go one after the other, in the
        order of O(objects), so a Namespace or a ServiceAccount exists before what needs it.
      - C(1) applies one object at a time.
    type: int
    default: 8
  owner_labels:
    description:
      - Labels, with their values, that an existing object must carry to be changed, for example
        C(app.kubernetes.io/managed-by) C(erp.platform) and C(app.kubernetes.io/instance) C(erp). Empty applies to any object.
    type: dict
    default: {}
  adopt:
    description:
      - Existing objects to take over although they lack O(owner_labels), each C(Kind/name) (any namespace) or
        C(Kind/namespace/name), for example C(Service/erp-system/billing-service) or C(Namespace/erp-system).
    type: list
    elements: str
    default: []
  adopt_var:
    description:
      - The name under which the caller's user sets O(adopt), for the failure message (the collection passes C(erp_adopt)).
    type: str
    default: adopt
  secret_data:
    description:
      - Data of Secrets in O(objects), keyed by C(<namespace>/<name>), each a mapping with C(data) and/or
        C(stringData); put into the Secret of that name before the apply. A key that names no Secret of O(objects)
        fails the run before anything is applied.
      - The option is no_log; the filter P(erp.platform.apply_request#filter) fills it from a plan.
    type: dict
    default: {}
  prune:
    description:
      - Scopes of objects to delete after the apply, pruned one after the other. Omit (or empty) to delete nothing.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description:
          - Namespace to prune in. Only namespaced kinds can be pruned.
        type: str
        required: true
      selector:
        description:
          - Label selector every pruned object must match, for example
            C(app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/component=service).
          - Required and not empty, so that nothing another tool created is touched.
        type: str
        required: true
      keep_label:
        description:
          - Label whose value decides whether a matching object is kept.
        type: str
        default: app.kubernetes.io/name
      keep:
        description:
          - O(prune[].keep_label) values whose objects are kept, for kinds without their own list.
        type: list
        elements: str
        default: []
      kinds:
        description:
          - Kinds to prune.
        type: list
        elements: dict
        required: true
        suboptions:
          api_version:
            description: API version of the kind, for example C(apps/v1).
            type: str
            required: true
          kind:
            description: Kind, for example C(Deployment).
            type: str
            required: true
          keep:
            description: O(prune[].keep_label) values kept for this kind; replaces O(prune[].keep) for it.
            type: list
            elements: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    description: Can run in check mode and report what would change.
    support: full
    details:
      - Applies as a server-side dry run, so admission and validation still run, and lists what would be pruned.
      - An object whose namespace does not exist yet is reported as C(created) without validation.
  diff_mode:
    description: Returns the changes, as before and after YAML per changed object.
    support: full
    details: Values of Secrets are replaced by C(<hidden>) in the diff; use C(no_log) to hide the rest.
requirements:
  - python >= 3.8
  - kubernetes >= 25.0.0
  - PyYAML, for diff mode
  - the C(kubernetes.core) collection
notes:
  - Authentication is that of C(kubernetes.core) - O(kubeconfig), O(context), O(host), O(api_key) and the other
    options, or their C(K8S_AUTH_*) environment variables - so an AWX Kubernetes credential works unchanged.
  - The identity needs get and patch on every applied kind, and list and delete on every pruned kind.
seealso:
  - module: kubernetes.core.k8s
  - module: erp.platform.rollout_health
"""

EXAMPLES = r"""
- name: Apply the objects of the services, then remove those of services no longer enabled
  erp.platform.apply_objects:
    objects: "{{ service_objects }}"
    field_manager: erp.platform
    prune:
      - namespace: erp-system
        selector: app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/instance=erp,app.kubernetes.io/component=service
        keep: [gateway, finance]
        kinds:
          - {api_version: apps/v1, kind: Deployment}
          - {api_version: v1, kind: Service}
          - {api_version: policy/v1, kind: PodDisruptionBudget, keep: [finance]}

- name: Apply a Secret with its values in the no_log option, the rest of the object readable in the log
  erp.platform.apply_objects:
    objects:
      - apiVersion: v1
        kind: Secret
        metadata: {name: erp-secrets, namespace: erp-system}
    secret_data:
      erp-system/erp-secrets:
        stringData: {token: "{{ vault_token }}"}
"""

RETURN = r"""
objects:
  description: One entry per applied object, in the order given, then one per pruned object.
  returned: always
  type: list
  elements: dict
  contains:
    api_version:
      description: API version.
      type: str
      sample: apps/v1
    kind:
      description: Kind.
      type: str
      sample: Deployment
    namespace:
      description: Namespace (null for cluster-scoped objects).
      type: str
      sample: erp-system
    name:
      description: Name.
      type: str
      sample: finance-service
    action:
      description: C(created), C(configured), C(unchanged) or C(deleted) (in check mode, what would happen).
      type: str
      sample: configured
counts:
  description: How many objects were created, configured, unchanged and deleted.
  returned: always
  type: dict
  sample: {created: 0, configured: 1, unchanged: 43, deleted: 4}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.erp.platform.plugins.module_utils.apply_plan import with_secret_data
from ansible_collections.erp.platform.plugins.module_utils.k8s_module import auth_argument_spec, connect_or_fail
from ansible_collections.erp.platform.plugins.module_utils.k8s_objects import Cluster, ObjectError, apply_all
from ansible_collections.erp.platform.plugins.module_utils.manifests import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    check_manifests,
)

ACTIONS = ("created", "configured", "unchanged", "deleted")
# Older clients cannot send a server-side apply body (they serialise only JSON content types).
MIN_KUBERNETES = "25.0.0"


def argument_spec():
    return auth_argument_spec(
        objects={"type": "list", "elements": "dict", "required": True},
        field_manager={"type": "str", "default": "erp.platform"},
        force_conflicts={"type": "bool", "default": True},
        parallel={"type": "int", "default": 8},
        owner_labels={"type": "dict", "default": {}},
        adopt={"type": "list", "elements": "str", "default": []},
        adopt_var={"type": "str", "default": "adopt"},
        secret_data={"type": "dict", "default": {}, "no_log": True},
        prune={
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "namespace": {"type": "str", "required": True},
                "selector": {"type": "str", "required": True},
                "keep_label": {"type": "str", "default": "app.kubernetes.io/name"},
                "keep": {"type": "list", "elements": "str", "default": []},
                "kinds": {
                    "type": "list",
                    "elements": "dict",
                    "required": True,
                    "options": {
                        "api_version": {"type": "str", "required": True},
                        "kind": {"type": "str", "required": True},
                        "keep": {"type": "list", "elements": "str"},
                    },
                },
            },
        },
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if module._diff and not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    params = module.params
    errors = check_manifests(params["objects"])
    if errors:
        module.fail_json(msg="objects: " + "; ".join(errors[:5]) + ("; ..." if len(errors) > 5 else ""))
    if params["parallel"] < 1:
        module.fail_json(msg=f"parallel: got {params['parallel']}; allowed: 1 or more")
    for number, scope in enumerate(params["prune"]):
        if not scope["selector"].strip():
            module.fail_json(msg=f"prune[{number}].selector: got an empty selector; allowed: a non-empty label selector")
    try:
        params["objects"] = with_secret_data(params["objects"], params["secret_data"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    cluster = Cluster(connect_or_fail(module, min_kubernetes=MIN_KUBERNETES))

    entries, diffs = [], []
    failure = None
    try:
        apply_all(cluster, params, module.check_mode, module._diff, entries, diffs)
    except ObjectError as exc:
        failure = str(exc)
    except Exception as exc:  # transport errors (refused, timed out) end the run with a message, not a traceback
        failure = f"request to the Kubernetes API failed: {type(exc).__name__}: {exc}"
    result = {
        "changed": any(item["action"] != "unchanged" for item in entries),
        "objects": entries,
        "counts": {action: sum(1 for item in entries if item["action"] == action) for action in ACTIONS},
    }
    if module._diff and diffs:
        result["diff"] = diffs
    if failure:
        done = f" ({len(entries)} objects done before it)" if entries else ""
        module.fail_json(msg=failure + done, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
