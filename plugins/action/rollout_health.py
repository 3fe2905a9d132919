# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of erp.platform.rollout_health: on the controller the module runs in Ansible's worker process,
elsewhere as a module process (plugins/plugin_utils/module_in_worker.py says when and why)."""

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import HAS_K8S_CORE, HAS_KUBERNETES
from ansible_collections.erp.platform.plugins.modules import rollout_health
from ansible_collections.erp.platform.plugins.plugin_utils.module_in_worker import action_for

ActionModule = action_for(rollout_health, importable=HAS_KUBERNETES and HAS_K8S_CORE)
