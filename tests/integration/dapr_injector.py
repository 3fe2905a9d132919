"""Switch the local cluster's emulated Dapr sidecar injector between its two settings.

The local cluster (tools/localcluster/manifests/dapr-injector.yaml) injects the ``daprd`` container
with a MutatingAdmissionPolicy that reads SIDECAR_DROP_ALL_CAPABILITIES from the env of the
Deployment dapr-system/dapr-sidecar-injector, as Dapr v1.16.19's injector reads it from its own
environment. The cluster starts with "true".

    from ansible_collections.erp.platform.tests.integration.dapr_injector import drop_all, set_drop_all

    set_drop_all(kubectl, False)          # returns once new pods get daprd without capabilities.drop
                                          # and the injector's own rollout is over
    with drop_all(kubectl, False): ...     # restores "true" afterwards, also on failure

or the fixture ``dapr_drop_all_off`` of conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator

NAMESPACE = "dapr-system"
DEPLOYMENT = "dapr-sidecar-injector"
SETTING = "SIDECAR_DROP_ALL_CAPABILITIES"

# A pod the policy injects into, created only as a server-side dry run (nothing is stored).
_PROBE_POD = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "erp-dapr-injector-probe", "annotations": {"dapr.io/enabled": "true", "dapr.io/app-id": "probe"}},
        "spec": {"automountServiceAccountToken": False, "containers": [{"name": "app", "image": "registry.example/app:1.0.0"}]},
    }
)


def injected_sidecar(kubectl: Callable) -> dict:
    """The daprd container a new Dapr-enabled pod gets right now (server-side dry run)."""
    result = kubectl("-n", NAMESPACE, "create", "--dry-run=server", "-o", "json", "-f", "-", input_text=_PROBE_POD)
    containers = json.loads(result.stdout)["spec"]["containers"]
    sidecars = [c for c in containers if c["name"] == "daprd"]
    if not sidecars:
        raise AssertionError(f"no daprd container injected; containers: {[c['name'] for c in containers]}")
    return sidecars[0]


def drops_all(sidecar: dict) -> bool:
    """True when the sidecar's securityContext drops ALL capabilities."""
    return (sidecar.get("securityContext") or {}).get("capabilities", {}).get("drop") == ["ALL"]


def set_drop_all(kubectl: Callable, value: bool, timeout: float = 30.0) -> None:
    """Set the injector's SIDECAR_DROP_ALL_CAPABILITIES; return once new pods get the new shape
    and the injector's own rollout (the env is in its pod template) is over.

    The API server reads the policy's parameter from its informer cache, so the change reaches
    admission a moment after the update; there is no object to watch for that, so this checks
    with dry-run pod creates, bounded by ``timeout``. The rollout is waited for so that a test
    taking a snapshot of the cluster next does not see kube-controller-manager and kwok finish it.
    """
    kubectl("-n", NAMESPACE, "set", "env", f"deployment/{DEPLOYMENT}", f"{SETTING}={'true' if value else 'false'}")
    deadline = time.monotonic() + timeout
    while True:
        sidecar = injected_sidecar(kubectl)
        if drops_all(sidecar) == value:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"{SETTING}={value}: new pods still get securityContext {sidecar.get('securityContext')} after {timeout}s")
        time.sleep(0.2)
    kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{DEPLOYMENT}", f"--timeout={int(timeout)}s")
    # rollout status does not count terminating pods; the old pod is gone when kwok has deleted it.
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-o", "json").stdout)["items"]
    for name in [pod["metadata"]["name"] for pod in pods if pod["metadata"].get("deletionTimestamp")]:
        kubectl("-n", NAMESPACE, "wait", "--for=delete", f"pod/{name}", f"--timeout={int(timeout)}s")


@contextlib.contextmanager
def drop_all(kubectl: Callable, value: bool) -> Iterator[None]:
    """Run the block with SIDECAR_DROP_ALL_CAPABILITIES=value, then restore "true" (the cluster's start setting)."""
    set_drop_all(kubectl, value)
    try:
        yield
    finally:
        set_drop_all(kubectl, True)
