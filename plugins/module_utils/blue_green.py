# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Blue/green releases: which colour serves, which one a run deploys, and whether it switches.

A service with ``strategy: blue_green`` runs as Deployment ``<name>-service-blue`` or ``<name>-service-green``
(pods labelled ``erp.platform/colour``), and Service ``<name>-service`` selects the active colour by that label.
What is active is read from the cluster: the colour the Service selects, when that colour's Deployment exists;
else the Deployment ``<name>-service`` of the rolling strategy (``legacy``: the service switches to blue/green);
else nothing (the first install, which deploys blue and serves it at once).

A release starts when the active colour runs another image than the catalog's, and always from ``legacy``: the
other colour is deployed with the new image beside the active one, which is left as the cluster has it, Service
``<name>-service-preview`` selects the new colour, and ``<name>-service`` keeps selecting the active one (for
``legacy``, its current pods by their ``pod-template-hash``). The blue_green role switches after the verification.
Plain Python, shared by the filter and the unit tests.
"""

from ansible_collections.erp.platform.plugins.module_utils.canary import current_hash
from ansible_collections.erp.platform.plugins.module_utils.migrations import running_image

COLOUR_LABEL = "erp.platform/colour"
COLOURS = ("blue", "green")
LEGACY = "legacy"


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def other(colour):
    return "green" if colour == "blue" else "blue"


def label(name, colour):
    """The app.kubernetes.io/name label of a colour's Deployment (legacy: the service's own name)."""
    return name if colour == LEGACY else f"{name}-{colour}"


def entries(services):
    """The blue/green entries of ``services`` (strategy blue_green), in catalog order."""
    return [entry for entry in services or [] if entry.get("strategy") == "blue_green"]


def states(services, deployments, live_services, replicasets):
    """One state per blue/green entry of ``services``, in catalog order.

    ``deployments``, ``live_services``, ``replicasets``: the namespace's, as the API returns them (any superset).
    Each state: ``name``, ``service_name``, ``active`` (blue, green, legacy or None), ``deploy`` (the colour whose
    Deployment this run renders, with the catalog's image), ``serve`` (the selector labels ``<name>-service`` has
    beyond name and instance during the run's apply), ``preview`` (the colour Service ``<name>-service-preview``
    selects, or None), ``keep`` (the app.kubernetes.io/name labels of the entry's Deployments that stay), and
    ``release`` (None, or ``from``, ``to``, ``from_image``, ``to_image``, ``delay``, ``from_label``,
    ``deployment``, ``from_deployment``).
    """
    by_name = {_meta(d).get("name"): d for d in deployments or []}
    live = {_meta(s).get("name"): s for s in live_services or []}
    result = []
    for entry in entries(services):
        name, service_name = entry["name"], entry["service_name"]
        selected = ((live.get(service_name) or {}).get("spec") or {}).get("selector") or {}
        colour = selected.get(COLOUR_LABEL)
        if colour in COLOURS and f"{service_name}-{colour}" in by_name:
            active = colour
        elif service_name in by_name:
            active = LEGACY
        else:
            active = None
        state = {"name": name, "service_name": service_name, "active": active, "preview": None, "release": None}
        if active is None:
            state.update(deploy="blue", serve={COLOUR_LABEL: "blue"}, keep=[label(name, "blue")])
            result.append(state)
            continue
        from_deployment = by_name[service_name if active == LEGACY else f"{service_name}-{active}"]
        from_image = running_image(from_deployment, name)
        if active != LEGACY and from_image == entry["image"]["ref"]:
            state.update(deploy=active, serve={COLOUR_LABEL: active}, keep=[label(name, active)])
            result.append(state)
            continue
        to = "blue" if active == LEGACY else other(active)
        if active == LEGACY:
            stable_hash = current_hash(from_deployment, replicasets)
            if stable_hash is None:
                raise ValueError(
                    f"{service_name}: its current ReplicaSet was not found, so its pods cannot be told apart from the new colour's;"
                    " wait until the Deployment controller has created it, then run again"
                )
            serve = {"pod-template-hash": stable_hash}
        else:
            serve = {COLOUR_LABEL: active}
        state.update(
            deploy=to,
            serve=serve,
            preview=to,
            keep=[label(name, active), label(name, to)],
            release={
                "from": active,
                "to": to,
                "from_image": from_image,
                "to_image": entry["image"]["ref"],
                "delay": entry["blue_green"]["delay"],
                "from_label": label(name, active),
                "deployment": f"{service_name}-{to}",
                "from_deployment": _meta(from_deployment).get("name"),
            },
        )
        result.append(state)
    return result
