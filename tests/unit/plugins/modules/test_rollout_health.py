"""The module's interface: documentation and argument_spec agree, defaults are documented."""

import yaml

from ansible_collections.erp.platform.plugins.module_utils import k8s_module
from ansible_collections.erp.platform.plugins.modules import rollout_health


def test_documented_options_match_argument_spec():
    doc = yaml.safe_load(rollout_health.DOCUMENTATION)
    spec = rollout_health.argument_spec()
    own = {name: value for name, value in spec.items() if name not in k8s_module.AUTH_ARG_SPEC}
    assert set(doc["options"]) == set(own)
    for name, option in doc["options"].items():
        assert option.get("type", "str") == own[name].get("type", "str"), name
        assert option.get("default") == own[name].get("default"), name
        assert option.get("choices") == own[name].get("choices"), name
        assert bool(option.get("required")) == bool(own[name].get("required")), name


def test_auth_options_come_from_kubernetes_core():
    spec = rollout_health.argument_spec()
    for name in ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "impersonate_user"):
        assert name in spec
    assert "kubernetes.core.k8s_auth_options" in yaml.safe_load(rollout_health.DOCUMENTATION)["extends_documentation_fragment"]


def test_examples_and_return_are_valid_yaml():
    examples = yaml.safe_load(rollout_health.EXAMPLES)
    assert all("erp.platform.rollout_health" in task or "ansible.builtin.debug" in task for task in examples)
    returned = yaml.safe_load(rollout_health.RETURN)
    assert {"outcome", "elapsed", "resources", "summary", "summary_lines", "rolled_back", "rollback_elapsed"} <= set(returned)
