# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary releases: which services start one in this run, and what carries it.

A service with ``strategy: canary`` whose Deployment ``<name>-service`` exists and runs another image than the
catalog's starts a canary release instead of a rolling update: the stable Deployment is left as the cluster has
it, and the new image runs in Deployment ``<name>-service-canary`` beside it. North-south traffic is split by
weight between two Services of the release: ``<name>-service-stable``, which selects the stable Deployment's
current pods by their ``pod-template-hash`` (so the stable pods need no new label and are not touched), and
``<name>-service-canary``, which selects the canary's pods by the label ``erp.platform/track: canary``.
``<name>-service``, which the gateway and Dapr service invocation reach, selects both (the split follows the
replica ratio). Plain Python, shared by the filter and the unit tests.
"""

from ansible_collections.erp.platform.plugins.module_utils.migrations import running_image
from ansible_collections.erp.platform.plugins.module_utils.service_catalog import CANARY_SUFFIX, STABLE_SUFFIX

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def current_hash(deployment, replicasets):
    """The pod-template-hash of the Deployment's current ReplicaSet (the one of its revision), or None."""
    uid = _meta(deployment).get("uid")
    revision = (_meta(deployment).get("annotations") or {}).get(REVISION_ANNOTATION)
    if not uid or not revision:
        return None
    for replicaset in replicasets or []:
        meta = _meta(replicaset)
        owned = any(ref.get("uid") == uid and ref.get("controller") for ref in meta.get("ownerReferences") or [])
        if owned and (meta.get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return (meta.get("labels") or {}).get(HASH_LABEL)
    return None


def entries(services):
    """The canary entries of ``services`` (strategy canary), in catalog order."""
    return [entry for entry in services or [] if entry.get("strategy") == "canary"]


def releases(services, deployments, replicasets, promote=False):
    """The canary releases this run starts or continues, in catalog order.

    ``services``: the catalog entries the run deploys; ``deployments``, ``replicasets``: the namespace's, as the
    API returns them (any superset of the services'); ``promote``: the run promotes (``playbooks/promote.yml``),
    so no release is started and every service gets its new image the ordinary way.

    Each release: ``name``, ``service_name`` (the stable Deployment and the Service of both tracks),
    ``canary_name``, ``stable_name`` (the release's two Services; the canary Deployment is ``canary_name`` too),
    ``from_image``, ``to_image``, ``stable_hash``, and the entry's ``canary`` settings (replicas, steps,
    promotion, header).
    """
    if promote:
        return []
    by_name = {_meta(d).get("name"): d for d in deployments or []}
    result = []
    for entry in entries(services):
        service_name = entry["service_name"]
        stable = by_name.get(service_name)
        current = running_image(stable, entry["name"])
        if stable is None or current is None or current == entry["image"]["ref"]:
            continue
        stable_hash = current_hash(stable, replicasets)
        if stable_hash is None:
            raise ValueError(
                f"{service_name}: the Deployment runs {current} but its current ReplicaSet (revision"
                f" {(_meta(stable).get('annotations') or {}).get(REVISION_ANNOTATION)}) was not found, so its pods cannot be told"
                " apart from a canary's; wait until the Deployment controller has created it, then run again"
            )
        result.append(
            {
                "name": entry["name"],
                "service_name": service_name,
                "canary_name": service_name + CANARY_SUFFIX,
                "stable_name": service_name + STABLE_SUFFIX,
                "from_image": current,
                "to_image": entry["image"]["ref"],
                "stable_hash": stable_hash,
                "replicas": entry["canary"]["replicas"],
                "steps": entry["canary"]["steps"],
                "promotion": entry["canary"]["promotion"],
                "header": entry["canary"]["header"],
            }
        )
    return result
