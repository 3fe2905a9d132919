# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's Kubernetes modules share: kubernetes.core's auth options and the connection."""

import copy

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, connect

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
except ImportError:
    AUTH_ARG_SPEC = {}

try:
    from kubernetes import __version__ as KUBERNETES_VERSION
except ImportError:
    KUBERNETES_VERSION = None


def auth_argument_spec(**options):
    """kubernetes.core's auth options (kubeconfig, context, host, api_key, ...) plus the module's own."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(options)
    return spec


def connect_or_fail(module, min_kubernetes=None):
    """An ApiClient for the module's auth options; otherwise the module fails with what to install or fix."""
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    if not AUTH_ARG_SPEC:
        module.fail_json(msg="the kubernetes.core collection is required (ansible-galaxy collection install kubernetes.core)")
    if min_kubernetes and LooseVersion(KUBERNETES_VERSION) < LooseVersion(min_kubernetes):
        module.fail_json(
            msg=f"the kubernetes Python library {KUBERNETES_VERSION} is too old; allowed: {min_kubernetes} or newer "
            f"(pip install 'kubernetes>={min_kubernetes}')"
        )
    try:
        return connect({key: module.params.get(key) for key in AUTH_ARG_SPEC})
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))
