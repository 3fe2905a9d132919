# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.canary_releases (docs in canary_releases.yml).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def canary_releases(services, deployments, replicasets, promote=False):
    """The canary releases of this run: canary services whose Deployment runs another image."""
    from ansible_collections.erp.platform.plugins.module_utils import canary
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(services, list) or not isinstance(deployments, list) or not isinstance(replicasets, list):
        raise AnsibleFilterError("erp.platform.canary_releases: expected a list of catalog entries, a list of Deployments and a list of ReplicaSets")
    try:
        # Only the canary entries are copied to plain data: the catalog can hold hundreds of services.
        return canary.releases(plain(canary.entries(services)), plain(deployments), plain(replicasets), bool(promote))
    except ValueError as error:
        raise AnsibleFilterError(f"erp.platform.canary_releases: {error}") from None


class FilterModule:
    """The canary filter of erp.platform."""

    def filters(self):
        return {"canary_releases": canary_releases}
