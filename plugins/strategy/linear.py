# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Strategy erp.platform.linear: Ansible's linear strategy, with the Jinja plugins loaded before the first task."""

DOCUMENTATION = """
name: linear
author:
  - ERP platform team (@erp-system)
version_added: "0.1.0"
short_description: The linear strategy, with the plugins that templates use loaded once in the controller
description:
  - Runs a play exactly as C(ansible.builtin.linear) does, task after task in lockstep over the play's hosts.
  - Before the first task, loads in the controller process the filter and test plugins of C(ansible.builtin) and
    the filters, tests and lookups of C(erp.platform) with the module_utils they import. Every task runs in a worker
    forked from the controller, which then finds them loaded; otherwise each worker loads them again on first use,
    about 1 s of an 8-service run of C(erp.platform.site) (issue 13's profile).
  - The collection's playbooks set it with the play keyword C(strategy). A play that sets another strategy runs as
    before, without the preload.
notes:
  - The preload imports the plugin files and nothing else; no task, template or module runs before the play's first task.
"""

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategyModule

from ansible_collections.erp.platform.plugins.plugin_utils.preload import preload


class StrategyModule(LinearStrategyModule):
    """ansible.builtin.linear, after preload()."""

    def run(self, iterator, play_context):
        preload()
        return super().run(iterator, play_context)
