# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.migrations_due (docs in migrations_due.yml).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def migrations_due(services, deployments, stamp):
    """The migration Jobs this run starts: services with a migration whose image changes."""
    from ansible_collections.erp.platform.plugins.module_utils import migrations
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(services, list) or not isinstance(deployments, list):
        raise AnsibleFilterError("erp.platform.migrations_due: expected a list of catalog entries and a list of Deployments")
    try:
        # Only the entries with a migration are copied to plain data: the catalog can hold hundreds of services.
        return migrations.due(plain(migrations.entries(services)), plain(deployments), str(stamp))
    except ValueError as error:
        raise AnsibleFilterError(f"erp.platform.migrations_due: {error}") from None


class FilterModule:
    """The migration filter of erp.platform."""

    def filters(self):
        return {"migrations_due": migrations_due}
