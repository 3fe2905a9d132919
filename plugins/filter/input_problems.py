# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.input_problems (docs in the .yml sidecar)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.module_utils.input_rules import InputRuleError, problems


def input_problems(checks):
    """Every value that breaks its rule, each message naming the variable, the value and what is allowed."""
    if not isinstance(checks, list):
        raise AnsibleFilterError(f"erp.platform.input_problems expects a list of checks, got {type(checks).__name__}")
    try:
        return problems(checks)
    except InputRuleError as exc:
        raise AnsibleFilterError(f"erp.platform.input_problems: {exc}") from None


class FilterModule:
    """The input-rule filter of erp.platform."""

    def filters(self):
        return {"input_problems": input_problems}
