# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lookup erp.platform.argument_spec: the options of this collection's roles' argument specs, as plain data."""

DOCUMENTATION = """
name: argument_spec
author:
  - ERP platform team (@erp-system)
version_added: "0.1.0"
short_description: The options of the argument spec of roles of this collection
description:
  - For each role named, reads C(roles/<role>/meta/argument_specs.yml) of this collection and returns the options
    of its C(main) entry point, parsed with PyYAML's safe loader into plain data.
  - Preflight validates every role's variables against them, and the erp role finds the boolean options with them.
    Reading the file with C(ansible.builtin.file) and C(from_yaml) in a template gives values that carry the template
    engine's source tags, which every later step copies again; preflight's spec check took about twice as long
    (issue 13).
  - Use it with C(query), which keeps one result per role.
options:
  _terms:
    description: Names of roles of this collection, such as C(ingress).
    required: true
    type: list
    elements: str
  defaults:
    description:
      - Whether the options keep their C(default).
      - C(false) drops the C(default) of each top-level option, for C(ansible.builtin.validate_argument_spec) to check
        only the variables that are set.
    type: bool
    default: true
"""

EXAMPLES = """
options: "{{ query('erp.platform.argument_spec', 'ingress', defaults=false) | first }}"
"""

RETURN = """
_raw:
  description: The options of the C(main) entry point of each role's argument spec, in the order of the terms.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

try:
    import yaml
except ImportError:  # PyYAML is a dependency of ansible-core; this only keeps the error readable
    yaml = None

# plugins/lookup/ -> the collection's root, which holds roles/.
ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")


def role_options(role, roles_dir=ROLES_DIR):
    """The options of the main entry point of ``role``'s argument spec."""
    if yaml is None:
        raise AnsibleLookupError("erp.platform.argument_spec needs PyYAML")
    roles = sorted(name for name in os.listdir(roles_dir) if os.path.isfile(os.path.join(roles_dir, name, "meta", "argument_specs.yml")))
    if role not in roles:
        raise AnsibleLookupError(f"erp.platform.argument_spec: got role {role!r}; allowed: a role of erp.platform with an argument spec ({', '.join(roles)})")
    path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
    with open(path, encoding="utf-8") as spec_file:
        spec = yaml.load(spec_file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    try:
        options = spec["argument_specs"]["main"].get("options") or {}
    except (TypeError, KeyError, AttributeError):
        raise AnsibleLookupError(f"erp.platform.argument_spec: {path} has no argument_specs.main") from None
    return options


class LookupModule(LookupBase):
    """Read the argument specs of the collection's roles."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        keep_defaults = self.get_option("defaults")
        found = []
        for term in terms:
            options = role_options(str(term))
            if not keep_defaults:
                options = {name: {key: value for key, value in (option or {}).items() if key != "default"} for name, option in options.items()}
            found.append(options)
        return found
