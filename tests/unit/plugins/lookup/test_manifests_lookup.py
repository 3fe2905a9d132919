# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookup erp.platform.manifests renders with ansible-core's own templar and loader: no stand-in."""

import re

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.erp.platform.plugins.lookup.manifests import LookupModule, parse_documents


def run_lookup(role, terms, variables):
    loader = DataLoader()
    variables = dict(variables, role_path=str(role), ansible_search_path=[str(role)])
    lookup = LookupModule(loader=loader, templar=Templar(loader=loader, variables=variables))
    return lookup.run(terms, variables=variables)


@pytest.fixture
def role(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_labels.j2").write_text("{% macro labels(name) %}app.kubernetes.io/name: {{ name }}{% endmacro %}\n")
    (templates / "configmaps.yaml.j2").write_text(
        "{% from '_labels.j2' import labels %}\n"
        "{% for name in names %}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: {{ name }}\n"
        "  labels:\n"
        "    {{ labels(name) }}\n"
        "data:\n"
        '  count: "{{ names | length }}"\n'
        "{% endfor %}\n"
    )
    (templates / "empty.yaml.j2").write_text("{% if false %}\n---\nkind: X\n{% endif %}\n")
    (templates / "broken.yaml.j2").write_text("a: [\n")
    return tmp_path


def test_renders_every_template_in_order_as_one_flat_list_of_plain_data(role):
    names = ["a", "b"]
    objects = run_lookup(role, ["configmaps.yaml.j2", "empty.yaml.j2", "configmaps.yaml.j2"], {"names": names})
    assert [obj["metadata"]["name"] for obj in objects] == ["a", "b", "a", "b"]
    assert objects[0] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "a"}},
        "data": {"count": "2"},
    }
    assert objects[0]["metadata"]["name"].__class__ is str
    # The task's variables are read, not copied and not changed.
    assert names == ["a", "b"]


def test_a_missing_template_and_unparsable_yaml_are_named(role):
    with pytest.raises(AnsibleError, match=re.escape("template nothere.yaml.j2 not found")):
        run_lookup(role, ["nothere.yaml.j2"], {})
    with pytest.raises(AnsibleError, match=re.escape("broken.yaml.j2 rendered YAML that does not parse")):
        run_lookup(role, ["broken.yaml.j2"], {})


def test_manifests_lookup_parses_plain_documents():
    text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"
    documents = parse_documents(text, "x.yaml.j2")
    assert [doc["kind"] for doc in documents] == ["ConfigMap", "Secret"]
    assert documents[0].__class__ is dict
    assert documents[0]["metadata"]["name"].__class__ is str
    assert parse_documents(None, "x.yaml.j2") == []
    assert parse_documents("", "x.yaml.j2") == []
    with pytest.raises(Exception, match=re.escape("x.yaml.j2 rendered YAML that does not parse")):
        parse_documents("a: [", "x.yaml.j2")
