# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters erp.platform.service_catalog and erp.platform.ingress_routes (docs in the .yml sidecars).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def service_catalog(builtin, overrides=None, registry="docker.io", tag=None, environment="local"):
    """Effective catalog: built-in entries merged with overrides, validated, defaults filled in."""
    from ansible_collections.erp.platform.plugins.module_utils import service_catalog as rules

    try:
        return rules.build_catalog(builtin, overrides, registry=registry, tag=tag, environment=environment)
    except rules.CatalogError as exc:
        raise AnsibleFilterError(f"Invalid service catalog: {exc}") from None


def ingress_routes(catalog):
    """Ingress routes (path, service, service_name) of the enabled catalog entries."""
    from ansible_collections.erp.platform.plugins.module_utils import service_catalog as rules

    try:
        return rules.ingress_routes(catalog)
    except rules.CatalogError as exc:
        raise AnsibleFilterError(f"Invalid ingress routes: {exc}") from None


class FilterModule:
    """The service catalog filters of erp.platform."""

    def filters(self):
        return {
            "service_catalog": service_catalog,
            "ingress_routes": ingress_routes,
        }
