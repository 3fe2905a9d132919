# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter erp.platform.blue_green_states (docs in blue_green_states.yml).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from ansible.errors import AnsibleFilterError


def blue_green_states(services, deployments, live_services, replicasets):
    """Per blue/green service: the active colour, the colour this run deploys, and its release, if any."""
    from ansible_collections.erp.platform.plugins.module_utils import blue_green
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    for value in (services, deployments, live_services, replicasets):
        if not isinstance(value, list):
            raise AnsibleFilterError("erp.platform.blue_green_states: expected a list of catalog entries, and lists of Deployments, Services and ReplicaSets")
    try:
        # Only the blue/green entries are copied to plain data: the catalog can hold hundreds of services.
        return blue_green.states(plain(blue_green.entries(services)), plain(deployments), plain(live_services), plain(replicasets))
    except ValueError as error:
        raise AnsibleFilterError(f"erp.platform.blue_green_states: {error}") from None


class FilterModule:
    """The blue/green filter of erp.platform."""

    def filters(self):
        return {"blue_green_states": blue_green_states}
