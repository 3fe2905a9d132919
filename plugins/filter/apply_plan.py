# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.apply_request (docs in the .yml sidecar).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def apply_request(plan, namespace, instance, part=None):
    """The apply_objects request (objects, prune scopes, secret_data) for the run's plan, or one part of it."""
    from ansible_collections.erp.platform.plugins.module_utils import apply_plan

    try:
        return apply_plan.request(plan, namespace, instance, part)
    except apply_plan.PlanError as exc:
        raise AnsibleFilterError(f"erp.platform.apply_request: {exc}") from None


class FilterModule:
    """The plan filter of erp.platform."""

    def filters(self):
        return {"apply_request": apply_request}
