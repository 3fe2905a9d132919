# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Lookup erp.platform.manifests: render a role's templates and parse them into Kubernetes objects."""

DOCUMENTATION = """
name: manifests
author:
  - ERP platform team (@erp-system)
version_added: "0.1.0"
short_description: Render templates of multi-document YAML into a list of Kubernetes objects
description:
  - Renders each template with the task's variables as C(ansible.builtin.template) does, with the same search path
    (the role's C(templates) directory, then the play's), Jinja imports resolved beside the template and blocks
    trimmed, and parses the result with PyYAML's safe loader.
  - Returns the non-empty documents of all the templates, in order, as one flat list of plain data, without the
    template engine's source tags, so that large object lists stay cheap for the tasks that use them afterwards.
  - Unlike C(ansible.builtin.template), it does not deep-copy every variable of the task for each template, which
    cost seconds per run once the run's plan held every rendered object (profile in issue 13). A template may read
    the task's variables but not change them.
  - Use it with C(query), which keeps the list; C(lookup) would join it.
options:
  _terms:
    description: Template file names, looked up as C(ansible.builtin.template) looks them up.
    required: true
    type: list
    elements: str
"""

EXAMPLES = """
objects: "{{ query('erp.platform.manifests', 'configmap.yaml.j2', 'secret.yaml.j2') }}"
"""

RETURN = """
_raw:
  description: The documents of all the templates, in order, without empty ones.
  type: list
  elements: dict
"""

import os
from collections import ChainMap

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template

try:
    import yaml
except ImportError:  # PyYAML is a dependency of ansible-core; this only keeps the error readable
    yaml = None


def parse_documents(text, source):
    """The non-empty documents of a multi-document YAML string, as plain Python values."""
    if yaml is None:
        raise AnsibleLookupError("erp.platform.manifests needs PyYAML")
    if text is None:
        # The template engine gives None for a template that renders to nothing.
        return []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        # str() drops the template engine's tags: the result is plain data, cheap to copy in later tasks.
        return [doc for doc in yaml.load_all(str(text), Loader=loader) if doc]
    except yaml.YAMLError as exc:
        raise AnsibleLookupError(f"erp.platform.manifests: {source} rendered YAML that does not parse: {exc}") from None


class LookupModule(LookupBase):
    """Render and parse manifests."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        objects = []
        for term in terms:
            path = self.find_file_in_search_path(variables, "templates", term)
            if not path:
                raise AnsibleLookupError(f"erp.platform.manifests: template {term} not found in the role's or the play's templates")
            searchpath = [os.path.dirname(path)]
            for directory in variables.get("ansible_search_path", []):
                searchpath.extend([os.path.join(directory, "templates"), directory])
            # A layer of its own on top of the task's variables instead of a deep copy of them.
            templar = self._templar.copy_with_new_env(available_variables=ChainMap({}, variables), searchpath=searchpath)
            text = templar.template(
                trust_as_template(self._loader.get_text_file_contents(path)),
                escape_backslashes=False,
                overrides={"trim_blocks": True},
            )
            objects.extend(parse_documents(text, term))
        return objects
