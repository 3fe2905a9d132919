# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.input_problems (docs in the .yml sidecar).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def input_problems(checks):
    """Every value that breaks its rule, each message naming the variable, the value and what is allowed."""
    from ansible_collections.erp.platform.plugins.module_utils import input_rules

    if not isinstance(checks, list):
        raise AnsibleFilterError(f"erp.platform.input_problems expects a list of checks, got {type(checks).__name__}")
    try:
        return input_rules.problems(checks)
    except input_rules.InputRuleError as exc:
        raise AnsibleFilterError(f"erp.platform.input_problems: {exc}") from None


def quantity_bytes(value):
    """A Kubernetes quantity as a number (1Gi and 1024Mi give the same), for comparing two of them."""
    from ansible_collections.erp.platform.plugins.module_utils import input_rules

    number = input_rules.quantity_value(value)
    if number is None:
        raise AnsibleFilterError(f"erp.platform.quantity_bytes: got {value!r}; allowed: a Kubernetes quantity such as 10Gi")
    return float(number)


class FilterModule:
    """The input-rule filters of erp.platform."""

    def filters(self):
        return {"input_problems": input_problems, "quantity_bytes": quantity_bytes}
