# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.input_problems (docs in the .yml sidecar)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.module_utils.input_rules import InputRuleError, problems, quantity_value


def input_problems(checks):
    """Every value that breaks its rule, each message naming the variable, the value and what is allowed."""
    if not isinstance(checks, list):
        raise AnsibleFilterError(f"erp.platform.input_problems expects a list of checks, got {type(checks).__name__}")
    try:
        return problems(checks)
    except InputRuleError as exc:
        raise AnsibleFilterError(f"erp.platform.input_problems: {exc}") from None


def quantity_bytes(value):
    """A Kubernetes quantity as a number (1Gi and 1024Mi give the same), for comparing two of them."""
    number = quantity_value(value)
    if number is None:
        raise AnsibleFilterError(f"erp.platform.quantity_bytes: got {value!r}; allowed: a Kubernetes quantity such as 10Gi")
    return float(number)


class FilterModule:
    """The input-rule filters of erp.platform."""

    def filters(self):
        return {"input_problems": input_problems, "quantity_bytes": quantity_bytes}
