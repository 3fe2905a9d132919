#!/usr/bin/python
# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: cluster_facts
short_description: Read the Kubernetes version and several kinds of objects in one module run
version_added: 0.1.0
author:
  - ERP platform team (@erp-system)
description:
  - Returns the API server's version and, for each entry of O(lookups), the objects of that kind (one by name, or
    all of them), over one connection. Changes nothing.
  - A kind the cluster does not serve (for example a CRD's group that is not installed) gives an empty result with
    RV(lookups[].served=false), not a failure, so that the caller can report every missing prerequisite at once.
  - Fails only when the API cannot be reached or refuses to tell its version; the message says which and why. A
    lookup the API refuses (for example 403, a missing permission) is reported in RV(lookups[].error) instead.
options:
  lookups:
    description:
      - What to read.
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: API version of the kind, for example C(storage.k8s.io/v1).
        type: str
        required: true
      kind:
        description: Kind, for example C(StorageClass).
        type: str
        required: true
      name:
        description: Name of the one object to read; omit to list all of them.
        type: str
      namespace:
        description: Namespace; required for namespaced kinds.
        type: str
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
requirements:
  - python >= 3.8
  - kubernetes >= 24.2.0
  - the C(kubernetes.core) collection
notes:
  - Authentication is that of C(kubernetes.core), including the C(K8S_AUTH_*) environment variables.
  - The identity needs get (by name) or list (without a name) on the kinds looked up.
seealso:
  - module: kubernetes.core.k8s_cluster_info
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read the cluster's version, the Dapr CRD and the StorageClasses
  erp.platform.cluster_facts:
    lookups:
      - {api_version: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: components.dapr.io}
      - {api_version: storage.k8s.io/v1, kind: StorageClass}
      - {api_version: apps/v1, kind: Deployment, namespace: dapr-system, name: dapr-sidecar-injector}
  register: cluster

- name: Show the default StorageClass
  ansible.builtin.debug:
    msg: >-
      {{ cluster.lookups[1].resources
         | selectattr('metadata.annotations', 'defined')
         | selectattr('metadata.annotations', 'contains', 'storageclass.kubernetes.io/is-default-class')
         | map(attribute='metadata.name') | list }}
"""

RETURN = r"""
version:
  description: The API server's version, as its C(/version) endpoint returns it.
  returned: success
  type: dict
  sample: {major: "1", minor: "34", gitVersion: v1.34.4}
lookups:
  description: One entry per entry of O(lookups), in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    api_version:
      description: As asked.
      type: str
    kind:
      description: As asked.
      type: str
    name:
      description: As asked (null when listing).
      type: str
    namespace:
      description: As asked (null for cluster-scoped kinds).
      type: str
    served:
      description: Whether the cluster serves this kind at all.
      type: bool
    resources:
      description: The objects found (empty when none, when the kind is not served, or on an error).
      type: list
      elements: dict
    error:
      description: Why the lookup could not be done (null when it was), for example C(403 Forbidden - ...).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import ApiException, api_error_text
from ansible_collections.erp.platform.plugins.module_utils.k8s_module import auth_argument_spec, connect_or_fail
from ansible_collections.erp.platform.plugins.module_utils.k8s_objects import Cluster, ObjectError


def argument_spec():
    return auth_argument_spec(
        lookups={
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "api_version": {"type": "str", "required": True},
                "kind": {"type": "str", "required": True},
                "name": {"type": "str"},
                "namespace": {"type": "str"},
            },
        },
    )


def look_up(cluster, lookup):
    """One entry of RV(lookups); a read the API refuses is reported in the entry's error, not raised."""
    entry = {
        "api_version": lookup["api_version"],
        "kind": lookup["kind"],
        "name": lookup["name"],
        "namespace": lookup["namespace"],
        "served": True,
        "resources": [],
        "error": None,
    }
    try:
        served = cluster.resources(lookup["api_version"])
        if served is None or lookup["kind"] not in served:
            entry["served"] = False
            return entry
        if served[lookup["kind"]][1] and not lookup["namespace"]:
            entry["error"] = f"{lookup['kind']} is namespaced: set the lookup's namespace"
        elif lookup["name"]:
            found = cluster.get(cluster.path(lookup["api_version"], lookup["kind"], lookup["namespace"], lookup["name"]))
            entry["resources"] = [found] if found else []
        else:
            entry["resources"] = cluster.list(lookup["api_version"], lookup["kind"], lookup["namespace"])
    except ApiException as exc:
        entry["error"] = api_error_text(exc)
    except ObjectError as exc:
        entry["error"] = str(exc)
    return entry


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    cluster = Cluster(connect_or_fail(module))
    try:
        version = cluster.version()
        # After the version, the API is known to answer: a lookup it refuses (403) is reported in its entry.
        lookups = [look_up(cluster, lookup) for lookup in module.params["lookups"]]
    except ObjectError as exc:
        module.fail_json(msg=str(exc))
    except ApiException as exc:
        module.fail_json(msg=f"the Kubernetes API refused a read: {api_error_text(exc)}")
    except Exception as exc:  # transport errors (refused, timed out) end the run with a message, not a traceback
        module.fail_json(msg=f"cannot reach the Kubernetes API: {type(exc).__name__}: {exc}")
    module.exit_json(changed=False, version=version, lookups=lookups)


if __name__ == "__main__":
    main()
