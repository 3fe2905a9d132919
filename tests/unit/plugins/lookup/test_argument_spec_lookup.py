# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookup erp.platform.argument_spec reads the roles' own argument specs: the files of this checkout."""

from pathlib import Path

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.erp.platform.plugins.lookup import argument_spec
from ansible_collections.erp.platform.plugins.lookup.argument_spec import LookupModule

REPO = Path(__file__).resolve().parents[4]
ERP_ROLES = yaml.safe_load((REPO / "roles" / "erp" / "vars" / "main.yml").read_text(encoding="utf-8"))["erp_roles"]


def run_lookup(terms, **options):
    # The options of DOCUMENTATION registered as ansible-core's plugin loader registers them when it loads the lookup.
    name = "erp.platform.argument_spec"
    C.config.initialize_plugin_configuration_definitions("lookup", name, yaml.safe_load(argument_spec.DOCUMENTATION)["options"])
    loader = DataLoader()
    lookup = LookupModule(loader=loader, templar=Templar(loader=loader))
    lookup._load_name = name
    return lookup.run(terms, variables={}, **options)


def spec_options(role):
    spec = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return spec["argument_specs"]["main"]["options"]


def test_every_role_the_run_checks_gives_its_options_as_in_its_file_in_the_order_asked():
    found = run_lookup(list(reversed(ERP_ROLES)))
    assert len(found) == len(ERP_ROLES)
    for role, options in zip(reversed(ERP_ROLES), found, strict=True):
        assert options == spec_options(role), role
    assert found[list(reversed(ERP_ROLES)).index("ingress")]["ingress_enabled"]["type"] == "bool"


def test_without_defaults_only_the_top_level_default_goes():
    kept = run_lookup(["erp"])[0]
    dropped = run_lookup(["erp"], defaults=False)[0]
    assert "default" in kept["erp_namespace"]
    assert "default" not in dropped["erp_namespace"]
    assert dropped["erp_namespace"] == {key: value for key, value in kept["erp_namespace"].items() if key != "default"}
    # One level down stays as written: validate_argument_spec needs the keys' own defaults for nothing, and
    # checks them only when the variable is set.
    assert dropped["erp_postgres"]["options"] == kept["erp_postgres"]["options"]
    assert set(dropped) == set(kept)


def test_the_values_are_plain_data():
    options = run_lookup(["service"])[0]
    name, option = next(iter(options.items()))
    # Exactly str and dict: the template engine's source-tagged values are subclasses of them.
    assert name.__class__ is str
    assert option.__class__ is dict


@pytest.mark.parametrize("role", ["nosuchrole", "../erp", "k8s_apply/../erp", ""])
def test_a_name_that_is_not_a_role_with_a_spec_is_refused_naming_it_and_the_roles(role):
    with pytest.raises(AnsibleLookupError) as error:
        run_lookup([role])
    assert f"got role {role!r}" in str(error.value)
    assert "namespace" in str(error.value)
