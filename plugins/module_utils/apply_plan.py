# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's plan: what each role rendered, turned into one erp.platform.apply_objects request.

Each role adds an entry {component, objects, prune_kinds, prune_keep} (erp.platform.k8s_apply); site.yml
applies every entry in one module run. ``request`` concatenates the objects in the roles' order, makes one
prune scope per entry that prunes (selected by managed-by, instance and the entry's component label), and
moves the data of every Secret into ``secret_data``, which the module takes as a no_log option: the values
stay out of the arguments Ansible logs, while every other field stays readable.
"""

import re

SECRET_FIELDS = ("data", "stringData")
# The component is a label value and a directory of render mode: a lowercase DNS label.
COMPONENT_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
COMPONENT_LABEL = "app.kubernetes.io/component"


class PlanError(ValueError):
    """An entry of the plan is malformed; the message names it."""


def secret_key(obj):
    metadata = obj.get("metadata") or {}
    return "{}/{}".format(metadata.get("namespace") or "", metadata.get("name"))


def identity(obj, namespace):
    """(API group, kind, namespace, name) of a manifest: two objects with the same one are the same object."""
    if not isinstance(obj, dict):
        return (None, None, None, id(obj))
    metadata = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""
    return (group, obj.get("kind"), metadata.get("namespace") or namespace, metadata.get("name"))


PARTS = ("objects", "prune", "secret_data")


def _entries(plan):
    """The entries of ``plan``, each checked for its shape and its component."""
    if not isinstance(plan, list):
        raise PlanError(f"the plan must be a list of entries, got {type(plan).__name__}")
    for number, entry in enumerate(plan):
        if not isinstance(entry, dict) or not isinstance(entry.get("component"), str) or not isinstance(entry.get("objects", []), list):
            raise PlanError(f"plan entry {number}: expected {{component, objects, prune_kinds, prune_keep}}, got {entry!r:.200}")
        if not COMPONENT_RE.match(entry["component"]) or len(entry["component"]) > 63:
            raise PlanError(
                f"k8s_apply_component: got {entry['component']!r}; allowed: a lowercase name of letters, digits and '-' (at most 63),"
                " the value of the component label its objects carry"
            )
    return plan


def _has_secret_data(obj):
    return isinstance(obj, dict) and obj.get("kind") == "Secret" and any(field in obj for field in SECRET_FIELDS)


def objects(plan, namespace):
    """The objects of every entry of ``plan``, in order, each Secret without its data (see ``secret_data``).

    Refuses an object a pruning entry does not label with its component, and an object two entries (or one
    entry twice) render.
    """
    result = []
    # Two roles (or two services) that render an object of the same kind and name would overwrite each other:
    # refused here, before anything is applied, naming both.
    owners = {}
    for entry in _entries(plan):
        if entry.get("prune_kinds"):
            # The prune selects by this label: an object labelled otherwise would never be pruned by its own role.
            for obj in entry.get("objects") or []:
                labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
                if labels.get(COMPONENT_LABEL) != entry["component"]:
                    name = "{} {}".format(obj.get("kind"), (obj.get("metadata") or {}).get("name"))
                    raise PlanError(
                        f"{name}: label {COMPONENT_LABEL}={labels.get(COMPONENT_LABEL)!r}, but its role prunes by "
                        f"{COMPONENT_LABEL}={entry['component']}; the labels and the role's component must agree"
                    )
        for obj in entry.get("objects") or []:
            key = identity(obj, namespace)
            if key in owners:
                raise PlanError(
                    f"{key[1]} {key[3]} (namespace {key[2]}) is rendered twice, by {owners[key]} and by {entry['component']}: one"
                    " would overwrite the other; rename one of them (a catalog service's objects are named <name>-service)"
                )
            owners[key] = entry["component"]
            if _has_secret_data(obj):
                # A shallow copy without the data: nothing below the top level is changed, and a deep copy of
                # Ansible's lazily templated containers costs seconds (py-spy, issue 13).
                obj = {key: value for key, value in obj.items() if key not in SECRET_FIELDS}
            result.append(obj)
    return result


def secret_data(plan):
    """The data of every Secret of ``plan``, by ``<namespace>/<name>``: the module's no_log option."""
    return {
        secret_key(obj): {field: obj[field] for field in SECRET_FIELDS if field in obj}
        for entry in _entries(plan)
        for obj in entry.get("objects") or []
        if _has_secret_data(obj)
    }


def prune(plan, namespace, instance):
    """One prune scope per entry of ``plan`` that prunes, selected by managed-by, instance and its component."""
    return [
        {
            "namespace": namespace,
            # Only objects carrying every one of these labels are ever pruned: nothing another tool or
            # another instance created is touched.
            "selector": ",".join(
                [
                    "app.kubernetes.io/managed-by=erp.platform",
                    f"app.kubernetes.io/instance={instance}",
                    f"{COMPONENT_LABEL}={entry['component']}",
                ]
            ),
            "keep_label": "app.kubernetes.io/name",
            "keep": list(entry.get("prune_keep") or []),
            "kinds": list(entry["prune_kinds"]),
        }
        for entry in _entries(plan)
        if entry.get("prune_kinds")
    ]


def request(plan, namespace, instance, part=None):
    """{objects, prune, secret_data} for apply_objects from the entries of ``plan``, in order; or only ``part`` of it.

    Each part is computed on its own, so a task whose options each take one part computes each once.
    """
    if part is None:
        return {"objects": objects(plan, namespace), "prune": prune(plan, namespace, instance), "secret_data": secret_data(plan)}
    if part == "objects":
        return objects(plan, namespace)
    if part == "prune":
        return prune(plan, namespace, instance)
    if part == "secret_data":
        return secret_data(plan)
    raise PlanError(f"part: got {part!r}; allowed: {', '.join(PARTS)}, or none for all three")


def with_secret_data(objects, secret_data):
    """The objects with each Secret's data put back from ``secret_data``; ValueError for data of no Secret."""
    if not secret_data:
        return objects
    wanted = dict(secret_data)
    result = []
    for obj in objects:
        if isinstance(obj, dict) and obj.get("kind") == "Secret" and secret_key(obj) in wanted:
            obj = dict(obj, **wanted.pop(secret_key(obj)))
        result.append(obj)
    if wanted:
        raise ValueError("secret_data: {} name no Secret of objects".format(", ".join(sorted(wanted))))
    return result
