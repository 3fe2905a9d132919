# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.manifests (docs in the .yml sidecar)."""

from ansible.errors import AnsibleFilterError

try:
    import yaml
except ImportError:  # PyYAML is a dependency of ansible-core; this only keeps the import error readable
    yaml = None


def manifests(text):
    """The non-empty documents of a multi-document YAML string, as plain Python values."""
    if yaml is None:
        raise AnsibleFilterError("erp.platform.manifests needs PyYAML")
    if text is None:
        # The template engine gives None for a template that renders to nothing.
        return []
    if not isinstance(text, str):
        raise AnsibleFilterError(f"erp.platform.manifests expects a string of YAML documents, got {type(text).__name__}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        # str() drops the template engine's tags: the result is plain data, cheap to copy in later tasks.
        return [doc for doc in yaml.load_all(str(text), Loader=loader) if doc]
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"erp.platform.manifests: the rendered YAML does not parse: {exc}") from None


class FilterModule:
    """Parsing of rendered manifests."""

    def filters(self):
        return {"manifests": manifests}
