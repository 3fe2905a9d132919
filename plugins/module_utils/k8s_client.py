# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection and errors of the collection's Kubernetes modules: the kubernetes library (or stand-ins
when it is missing, so except clauses still work), the ApiClient built by kubernetes.core's auth handling,
and the short text of an API error."""

import json
import traceback

try:
    from kubernetes import client as k8s_api
    from kubernetes import watch as k8s_watch
    from kubernetes.client.rest import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    k8s_api = None
    k8s_watch = None
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):
        """Stand-in so except clauses work when the kubernetes library is missing."""

        status = None


try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

    HAS_K8S_CORE = True
except ImportError:
    HAS_K8S_CORE = False


def api_error_text(exc):
    """Short text of an API error: status, reason and the Status message of the body."""
    if isinstance(exc, ApiException):
        detail = ""
        body = getattr(exc, "body", None)
        if body:
            try:
                detail = json.loads(body).get("message") or ""
            except (ValueError, AttributeError):
                detail = str(body)[:200]
        return "{} {}{}".format(exc.status, exc.reason, ": " + detail if detail else "")
    return f"{type(exc).__name__}: {exc}"


def connect(auth):
    """An ApiClient built by kubernetes.core's auth handling (kubeconfig, context, K8S_AUTH_*).

    ``auth`` holds the k8s_auth_options values (None where not given).
    Raises RuntimeError with a message a person can act on.
    """
    if not HAS_KUBERNETES:
        raise RuntimeError("the kubernetes Python library is required on the host that runs the module (pip install kubernetes)")
    if not HAS_K8S_CORE:
        raise RuntimeError("the kubernetes.core collection is required (ansible-galaxy collection install kubernetes.core)")
    params = {key: value for key, value in auth.items() if value is not None}
    try:
        k8s = get_api_client(**params)
    except Exception as exc:
        raise RuntimeError(f"cannot connect to the Kubernetes API: {exc if str(exc) else api_error_text(exc)}") from exc
    configuration = k8s.configuration
    # One watch per kind plus the lists: more connections than urllib3's default pool.
    configuration.connection_pool_maxsize = max(getattr(configuration, "connection_pool_maxsize", 0) or 0, 32)
    api_client = k8s_api.ApiClient(configuration)
    dynamic = getattr(k8s, "client", None)
    inner = getattr(dynamic, "client", None)
    for header, value in (getattr(inner, "default_headers", None) or {}).items():
        if header.lower().startswith("impersonate"):
            api_client.set_default_header(header, value)
    return api_client


__all__ = [
    "HAS_K8S_CORE",
    "HAS_KUBERNETES",
    "KUBERNETES_IMPORT_ERROR",
    "ApiException",
    "api_error_text",
    "connect",
    "k8s_api",
    "k8s_watch",
]
