# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters erp.platform.service_catalog and erp.platform.ingress_routes (docs in the .yml sidecars)."""

from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.module_utils.service_catalog import (
    CatalogError,
    build_catalog,
)
from ansible_collections.erp.platform.plugins.module_utils.service_catalog import ingress_routes as _ingress_routes


def service_catalog(builtin, overrides=None, registry="docker.io", tag=None, environment="local"):
    """Effective catalog: built-in entries merged with overrides, validated, defaults filled in."""
    try:
        return build_catalog(builtin, overrides, registry=registry, tag=tag, environment=environment)
    except CatalogError as exc:
        raise AnsibleFilterError(f"Invalid service catalog: {exc}") from None


def ingress_routes(catalog):
    """Ingress routes (path, service, service_name) of the enabled catalog entries."""
    try:
        return _ingress_routes(catalog)
    except CatalogError as exc:
        raise AnsibleFilterError(f"Invalid ingress routes: {exc}") from None


class FilterModule:
    """The service catalog filters of erp.platform."""

    def filters(self):
        return {
            "service_catalog": service_catalog,
            "ingress_routes": ingress_routes,
        }
