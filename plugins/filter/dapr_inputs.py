# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters erp.platform.dapr_inputs and erp.platform.dapr_input_problems (docs in the .yml sidecars).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

import json

from ansible.errors import AnsibleFilterError


def _plain(value):
    # Plain data: template-engine tags on the inputs would be deep-copied by every later lookup.
    return json.loads(json.dumps(value))


def dapr_inputs(inputs):
    """Validated and normalized Dapr inputs: components, resiliency, secret store access, app-ids needing the API."""
    from ansible_collections.erp.platform.plugins.module_utils import dapr_inputs as rules

    if not isinstance(inputs, dict):
        raise AnsibleFilterError(f"erp.platform.dapr_inputs expects a mapping, got {type(inputs).__name__}")
    try:
        return _plain(rules.build(inputs))
    except rules.DaprInputError as exc:
        raise AnsibleFilterError(f"Invalid Dapr inputs: {exc}") from None


def dapr_input_problems(inputs):
    """Every problem of the Dapr inputs, each naming the variable, the value and what is allowed."""
    from ansible_collections.erp.platform.plugins.module_utils import dapr_inputs as rules

    if not isinstance(inputs, dict):
        raise AnsibleFilterError(f"erp.platform.dapr_input_problems expects a mapping, got {type(inputs).__name__}")
    return [str(problem) for problem in rules.problems(inputs)]


class FilterModule:
    """The Dapr filters of erp.platform."""

    def filters(self):
        return {
            "dapr_inputs": dapr_inputs,
            "dapr_input_problems": dapr_input_problems,
        }
