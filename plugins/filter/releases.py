# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters erp.platform.release_next, release_verdict, release_table, release_services and release_restore (docs in the
.yml sidecars).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def release_next(config_maps, limit):
    """{number, keep}: the next release number among the ConfigMaps, and the record names to keep once it is written."""
    from ansible_collections.erp.platform.plugins.module_utils import releases

    if not isinstance(config_maps, list):
        raise AnsibleFilterError(f"erp.platform.release_next: expected a list of ConfigMaps, got {type(config_maps).__name__}")
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"erp.platform.release_next: limit: got {limit!r}; allowed: a whole number of at least 1") from None
    if limit < 1:
        raise AnsibleFilterError(f"erp.platform.release_next: limit: got {limit}; allowed: a whole number of at least 1")
    return releases.next_release(config_maps, limit)


def release_verdict(verify_result, apply_failed=False):
    """healthy, rolled back, failed or unverified, from the verification's result."""
    from ansible_collections.erp.platform.plugins.module_utils import releases

    return releases.verdict(verify_result, bool(apply_failed))


def release_table(config_maps):
    """The release history recorded among the ConfigMaps, as a table, oldest first."""
    from ansible_collections.erp.platform.plugins.module_utils import releases

    if not isinstance(config_maps, list):
        raise AnsibleFilterError(f"erp.platform.release_table: expected a list of ConfigMaps, got {type(config_maps).__name__}")
    return releases.table(releases.history(config_maps))


def release_services(catalog, applied, config_maps):
    """The services a new record lists: as this run applied them, the others as the newest earlier record has them."""
    from ansible_collections.erp.platform.plugins.module_utils import releases
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(catalog, list) or not isinstance(config_maps, list):
        raise AnsibleFilterError("erp.platform.release_services: expected the service catalog (a list) and a list of ConfigMaps")
    return releases.record_services(plain(catalog), plain(applied), plain(config_maps))


def release_restore(config_maps, number, catalog):
    """What a rollback to release ``number`` re-applies: erp_services overrides, the ConfigMap's data, the secrets' checksum."""
    from ansible_collections.erp.platform.plugins.module_utils import releases
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(config_maps, list) or not isinstance(catalog, list):
        raise AnsibleFilterError("erp.platform.release_restore: expected a list of ConfigMaps and the service catalog (a list)")
    try:
        return releases.restore(plain(config_maps), plain(number), plain(catalog))
    except releases.RestoreError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    """The release-record filters of erp.platform."""

    def filters(self):
        return {
            "release_next": release_next,
            "release_verdict": release_verdict,
            "release_table": release_table,
            "release_services": release_services,
            "release_restore": release_restore,
        }
