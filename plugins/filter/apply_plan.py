# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.apply_request (docs in the .yml sidecar)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.module_utils.apply_plan import PlanError, request


def apply_request(plan, namespace, instance):
    """The apply_objects request (objects, prune scopes, secret_data) for the run's plan."""
    try:
        return request(plan, namespace, instance)
    except PlanError as exc:
        raise AnsibleFilterError(f"erp.platform.apply_request: {exc}") from None


class FilterModule:
    """The plan filter of erp.platform."""

    def filters(self):
        return {"apply_request": apply_request}
