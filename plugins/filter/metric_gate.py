# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters erp.platform.metric_verdict and metric_query_url (docs in metric_verdict.yml, metric_query_url.yml).

The module_utils are imported on the first call, not at load: see "Filter plugins" in docs/design.md.
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def metric_verdict(response, gate):
    """The verdict of a canary step's metric gate on the registered result of its ansible.builtin.uri query."""
    from ansible_collections.erp.platform.plugins.module_utils import metric_gate
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(response, Mapping) or not isinstance(gate, Mapping):
        raise AnsibleFilterError(
            "erp.platform.metric_verdict: expected the registered result of the ansible.builtin.uri query (a dict) and the gate (a dict "
            f"with query, max, min, no_data); got {type(response).__name__} and {type(gate).__name__}"
        )
    return metric_gate.verdict(plain(gate), plain(response))


def metric_query_url(base_url, query):
    """The GET URL of the instant query ``query`` on the Prometheus at ``base_url``."""
    from ansible_collections.erp.platform.plugins.module_utils import metric_gate
    from ansible_collections.erp.platform.plugins.module_utils.service_catalog import plain

    if not isinstance(base_url, str) or not isinstance(query, str):
        raise AnsibleFilterError(
            f"erp.platform.metric_query_url: expected the Prometheus base URL and a PromQL query, both strings; got {type(base_url).__name__} "
            f"and {type(query).__name__}"
        )
    try:
        return metric_gate.query_url(plain(base_url), plain(query))
    except ValueError as error:
        raise AnsibleFilterError(f"erp.platform.metric_query_url: {error}") from None


class FilterModule:
    """The metric gate filters of erp.platform."""

    def filters(self):
        return {"metric_verdict": metric_verdict, "metric_query_url": metric_query_url}
