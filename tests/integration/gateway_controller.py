"""What a Gateway controller would write, written by the tests: the local cluster runs none.

Gateway API v1.6.1 (`apis/v1/httproute_types.go`, `RouteParentStatus`; `apis/v1/shared_types.go`,
`RouteConditionType`): a controller that handles a route's parent appends one entry to
`status.parents` with that `parentRef`, its `controllerName` and the conditions `Accepted` and
`ResolvedRefs`, each with the route's `metadata.generation` as `observedGeneration`. Rejections set
`Accepted` false (reasons `NotAllowedByListeners`, `NoMatchingListenerHostname`, `NoMatchingParent`,
`UnsupportedValue`) or `ResolvedRefs` false (`RefNotPermitted`, `InvalidKind`, `BackendNotFound`,
`UnsupportedProtocol`). The status subresource is patched as a controller patches it; the product
never writes status.
"""

from __future__ import annotations

import json
import time

CONTROLLER = "erp.test/no-controller"


def condition(kind: str, status: bool, reason: str, message: str, generation: int) -> dict:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_route_status(
    kubectl, namespace: str, name: str, accepted=(True, "Accepted", "Route is accepted"), resolved=(True, "ResolvedRefs", "All references resolved")
):
    """Answer for every parentRef of HTTPRoute `name` with the given (status, reason, message) of each condition.

    accepted=None removes the answer (status.parents empty), as before any controller saw the route.
    """
    route = json.loads(kubectl("-n", namespace, "get", "httproute", name, "-o", "json").stdout)
    generation = route["metadata"]["generation"]
    parents = []
    if accepted is not None:
        for ref in route["spec"]["parentRefs"]:
            parents.append(
                {
                    "parentRef": ref,
                    "controllerName": CONTROLLER,
                    "conditions": [condition("Accepted", *accepted, generation), condition("ResolvedRefs", *resolved, generation)],
                }
            )
    kubectl(
        "-n", namespace, "patch", "httproute", name, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"parents": parents}}),
    )  # fmt: skip
