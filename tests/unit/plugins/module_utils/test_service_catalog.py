"""Unit tests of the service catalog logic (plugins/module_utils/service_catalog.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible_collections.erp.platform.plugins.module_utils.service_catalog import (
    CatalogError,
    build_catalog,
    entry_defaults,
    ingress_routes,
    merge,
    parse_quantity,
    version_label,
)

REPO = Path(__file__).resolve().parents[4]
BUILTIN = yaml.safe_load((REPO / "roles" / "erp" / "defaults" / "main.yml").read_text())["erp_service_catalog_builtin"]
DIGEST = "sha256:" + "a" * 64


def catalog(overrides=None, **kwargs):
    kwargs.setdefault("tag", "1.0.0")
    return build_catalog(copy.deepcopy(BUILTIN), overrides, **kwargs)


def by_name(entries):
    return {entry["name"]: entry for entry in entries}


# -- the built-in catalog matches SYSTEM.md -------------------------------------------------------


def test_builtin_catalog_has_the_eight_services_in_order():
    names = [entry["name"] for entry in catalog()]
    assert names == ["gateway", "finance", "inventory", "sales", "procurement", "production", "identity", "reporting"]


@pytest.mark.parametrize(
    ("name", "replicas", "requests", "limits"),
    [
        ("gateway", 2, {"cpu": "50m", "memory": "64Mi"}, {"cpu": "250m", "memory": "256Mi"}),
        ("finance", 2, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("inventory", 2, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("sales", 2, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("procurement", 1, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("production", 1, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("identity", 2, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
        ("reporting", 1, {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "512Mi"}),
    ],
)
def test_builtin_entries_match_system_md(name, replicas, requests, limits):
    entry = by_name(catalog())[name]
    assert entry["replicas"] == replicas
    assert entry["resources"] == {"requests": requests, "limits": limits}
    assert entry["app_id"] == f"{name}-service"
    assert entry["service_name"] == f"{name}-service"
    assert entry["port"] == 8080
    assert entry["probes"]["liveness_path"] == "/health"
    assert entry["probes"]["readiness_path"] == "/health/ready"
    assert entry["image"]["ref"] == f"docker.io/erp-system/{name}:1.0.0"
    assert entry["enabled"] is True
    assert entry["service_type"] == "ClusterIP"


def test_builtin_routes_match_system_md():
    routes = ingress_routes(catalog())
    assert [(route["path"], route["service_name"]) for route in routes] == [
        ("/", "gateway-service"),
        ("/api/dashboard", "reporting-service"),
        ("/api/reports", "reporting-service"),
    ]


def test_only_the_gateway_is_the_gateway():
    assert [entry["name"] for entry in catalog() if entry["gateway"]] == ["gateway"]


# -- merging ----------------------------------------------------------------------------------------


def test_override_merges_recursively_and_keeps_the_rest():
    entry = by_name(catalog({"finance": {"resources": {"limits": {"cpu": "1"}}, "replicas": 3}}))["finance"]
    assert entry["replicas"] == 3
    assert entry["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def test_override_of_builtin_resources_keeps_builtin_values():
    entry = by_name(catalog({"gateway": {"resources": {"requests": {"cpu": "60m"}}}}))["gateway"]
    assert entry["resources"]["requests"] == {"cpu": "60m", "memory": "64Mi"}
    assert entry["resources"]["limits"] == {"cpu": "250m", "memory": "256Mi"}


def test_lists_replace():
    entry = by_name(catalog({"reporting": {"ingress_paths": ["/api/reports"]}}))["reporting"]
    assert entry["ingress_paths"] == ["/api/reports"]


def test_free_mappings_merge_one_level():
    assert merge({"env": {"A": "1"}}, {"env": {"B": "2"}}) == {"env": {"A": "1", "B": "2"}}


def test_merge_does_not_mutate_inputs():
    base = {"image": {"tag": "1"}}
    override = {"image": {"digest": DIGEST}}
    merge(base, override)
    assert base == {"image": {"tag": "1"}}
    assert override == {"image": {"digest": DIGEST}}


def test_build_does_not_mutate_builtin():
    builtin = copy.deepcopy(BUILTIN)
    build_catalog(builtin, {"finance": {"env": {"A": 1}}}, tag="1.0.0")
    assert builtin == BUILTIN


def test_empty_or_none_overrides():
    assert catalog(None) == catalog({})
    assert by_name(catalog({"finance": None}))["finance"]["replicas"] == 2


def test_ninth_service_added_by_overrides_gets_defaults():
    entries = catalog({"ledger": {"ingress_paths": ["/api/ledger"]}, "audit": {}})
    assert [entry["name"] for entry in entries][-2:] == ["audit", "ledger"]
    ledger = by_name(entries)["ledger"]
    assert ledger["image"]["ref"] == "docker.io/erp-system/ledger:1.0.0"
    assert ledger["app_id"] == "ledger-service"
    assert ledger["replicas"] == 1
    assert ledger["resources"] == entry_defaults("ledger")["resources"]
    assert "/api/ledger" in [route["path"] for route in ingress_routes(entries)]


def test_disabled_service_stays_in_catalog_without_routes():
    entries = catalog({"reporting": {"enabled": False}})
    assert by_name(entries)["reporting"]["enabled"] is False
    assert [route["path"] for route in ingress_routes(entries)] == ["/"]


def test_disabled_service_path_may_be_reused():
    entries = catalog({"reporting": {"enabled": False}, "ledger": {"ingress_paths": ["/api/reports"]}})
    assert {route["path"]: route["service"] for route in ingress_routes(entries)}["/api/reports"] == "ledger"


# -- images -----------------------------------------------------------------------------------------


def test_image_by_digest():
    entry = by_name(catalog({"finance": {"image": {"digest": DIGEST, "registry": "registry.example.com:5000"}}}))["finance"]
    assert entry["image"]["ref"] == f"registry.example.com:5000/erp-system/finance@{DIGEST}"


def test_image_registry_and_tag_from_arguments():
    entry = catalog(registry="ghcr.io/acme", tag="2.1.0")[0]
    assert entry["image"]["ref"] == "ghcr.io/acme/erp-system/gateway:2.1.0"
    assert entry["version"] == "2.1.0"


def test_empty_registry_means_no_prefix():
    assert catalog(registry="")[0]["image"]["ref"] == "erp-system/gateway:1.0.0"


def test_latest_allowed_outside_prod():
    assert catalog(tag="latest")[0]["image"]["tag"] == "latest"


def test_latest_rejected_in_prod():
    with pytest.raises(CatalogError, match=r"^erp_image_tag: got 'latest'.*prod"):
        catalog(tag="latest", environment="prod")


def test_latest_rejected_in_staging_too():
    with pytest.raises(CatalogError, match=r"^erp_image_tag: got 'latest'.*staging"):
        catalog(tag="latest", environment="staging")


def test_latest_per_service_rejected_in_prod_names_the_service():
    with pytest.raises(CatalogError, match=r"^erp_services\.sales\.image\.tag: got 'latest'"):
        catalog({"sales": {"image": {"tag": "latest"}}}, environment="prod")


def test_latest_with_digest_allowed_in_prod():
    entry = by_name(catalog({"sales": {"image": {"tag": "latest", "digest": DIGEST}}}, environment="prod"))["sales"]
    assert entry["image"]["ref"].endswith(DIGEST)


def test_missing_tag_everywhere():
    with pytest.raises(CatalogError, match=r"erp_service_catalog_builtin\[0\]\.image\.tag: got null"):
        build_catalog(copy.deepcopy(BUILTIN), {}, tag=None)


# -- bad input: every message names the path, the value and what is allowed -----------------------

BAD = [
    # (overrides, expected path, expected fragment of the allowed part)
    ({"finance": {"replicas": -1}}, "erp_services.finance.replicas", "integer from 0 to 1000"),
    ({"finance": {"replicas": "2"}}, "erp_services.finance.replicas", "integer"),
    ({"finance": {"replicas": True}}, "erp_services.finance.replicas", "integer"),
    ({"finance": {"replicas": 2.5}}, "erp_services.finance.replicas", "integer"),
    ({"finance": {"enabled": "yes"}}, "erp_services.finance.enabled", "true or false"),
    ({"finance": {"gateway": 1}}, "erp_services.finance.gateway", "true or false"),
    ({"finance": {"port": 0}}, "erp_services.finance.port", "1 to 65535"),
    ({"finance": {"port": 70000}}, "erp_services.finance.port", "1 to 65535"),
    ({"finance": {"port": "8080"}}, "erp_services.finance.port", "1 to 65535"),
    ({"finance": {"replica": 2}}, "erp_services.finance.replica", "allowed keys"),
    ({"finance": {"image": {"tags": "1"}}}, "erp_services.finance.image.tags", "allowed keys"),
    ({"finance": {"image": "erp/finance:1"}}, "erp_services.finance.image", "a mapping"),
    ({"finance": {"image": {"tag": 1.0}}}, "erp_services.finance.image.tag", "quote numbers"),
    ({"finance": {"image": {"tag": "bad tag"}}}, "erp_services.finance.image.tag", "image tag"),
    ({"finance": {"image": {"digest": "sha256:abc"}}}, "erp_services.finance.image.digest", "sha256:"),
    ({"finance": {"image": {"repository": "Erp/Finance"}}}, "erp_services.finance.image.repository", "repository"),
    ({"finance": {"image": {"registry": "bad registry"}}}, "erp_services.finance.image.registry", "registry"),
    ({"finance": {"app_id": "Finance_Service"}}, "erp_services.finance.app_id", "DNS-1123"),
    ({"finance": {"resources": {"requests": {"cpu": "lots"}}}}, "erp_services.finance.resources.requests.cpu", "quantity"),
    ({"finance": {"resources": {"requests": {"cpu": "-1"}}}}, "erp_services.finance.resources.requests.cpu", "quantity"),
    ({"finance": {"resources": {"requests": {"cpu": -1}}}}, "erp_services.finance.resources.requests.cpu", "quantity"),
    ({"finance": {"resources": {"limits": {"memory": "512MB"}}}}, "erp_services.finance.resources.limits.memory", "quantity"),
    ({"finance": {"resources": {"limits": {"memory": "0"}}}}, "erp_services.finance.resources.limits.memory", "greater than zero"),
    ({"finance": {"resources": {"limits": {"gpu": "1"}}}}, "erp_services.finance.resources.limits.gpu", "allowed keys"),
    ({"finance": {"resources": {"requests": {"cpu": "2"}}}}, "erp_services.finance.resources.requests.cpu", "not above its limit"),
    ({"finance": {"resources": {"requests": {"memory": "1Gi"}}}}, "erp_services.finance.resources.requests.memory", "not above its limit"),
    ({"finance": {"resources": []}}, "erp_services.finance.resources", "a mapping"),
    ({"finance": {"probes": {"liveness_path": "health"}}}, "erp_services.finance.probes.liveness_path", "starting with '/'"),
    ({"finance": {"probes": {"readiness": "/ready"}}}, "erp_services.finance.probes.readiness", "allowed keys"),
    ({"finance": {"ingress_paths": "/api/finance"}}, "erp_services.finance.ingress_paths", "a list"),
    ({"finance": {"ingress_paths": ["api/finance"]}}, "erp_services.finance.ingress_paths[0]", "starting with '/'"),
    ({"finance": {"ingress_paths": ["/api finance"]}}, "erp_services.finance.ingress_paths[0]", "no spaces"),
    ({"finance": {"ingress_paths": ["/a", "/a"]}}, "erp_services.finance.ingress_paths[1]", "once per service"),
    ({"finance": {"ingress_paths": ["/api/reports"]}}, "erp_services.finance.ingress_paths[0]", "'reporting' already has it"),
    ({"finance": {"ingress_paths": ["/"]}}, "erp_services.finance.ingress_paths[0]", "'gateway' already has it"),
    ({"finance": {"autoscaling": {"enabled": "on"}}}, "erp_services.finance.autoscaling.enabled", "true or false"),
    ({"finance": {"autoscaling": {"min_replicas": 0}}}, "erp_services.finance.autoscaling.min_replicas", "1 to 1000"),
    ({"finance": {"autoscaling": {"min_replicas": 5, "max_replicas": 3}}}, "erp_services.finance.autoscaling.max_replicas", ">= autoscaling.min_replicas"),
    ({"finance": {"autoscaling": {"cpu_utilization": None, "memory_utilization": None}}}, "erp_services.finance.autoscaling.cpu_utilization", "not both null"),
    ({"finance": {"autoscaling": {"max": 3}}}, "erp_services.finance.autoscaling.max", "allowed keys"),
    ({"finance": {"service_type": "ExternalName"}}, "erp_services.finance.service_type", "ClusterIP, NodePort, LoadBalancer"),
    ({"finance": {"env": ["A=1"]}}, "erp_services.finance.env", "a mapping"),
    ({"finance": {"env": {"1BAD": "x"}}}, "erp_services.finance.env", "environment variable name"),
    ({"finance": {"env": {"A": {"b": 1}}}}, "erp_services.finance.env.A", "string, number or boolean"),
    ({"finance": {"pod_labels": {"app.kubernetes.io/name": "x"}}}, "erp_services.finance.pod_labels", "cannot be overridden"),
    ({"finance": {"pod_labels": {"team": "a b"}}}, "erp_services.finance.pod_labels.team", "label value"),
    ({"finance": {"pod_labels": {"team": 5}}}, "erp_services.finance.pod_labels.team", "quote numbers"),
    ({"finance": {"pod_labels": {"bad key!": "x"}}}, "erp_services.finance.pod_labels", "label key"),
    ({"finance": {"pod_labels": {"Bad_Prefix/x": "x"}}}, "erp_services.finance.pod_labels", "label key"),
    ({"finance": {"pod_annotations": {"x": ["a"]}}}, "erp_services.finance.pod_annotations.x", "string, number or boolean"),
    ({"finance": {"pod_annotations": {"/x": "a"}}}, "erp_services.finance.pod_annotations", "annotation key"),
    ({"finance": {"node_selector": ["zone"]}}, "erp_services.finance.node_selector", "a mapping"),
    ({"finance": {"tolerations": {"key": "a"}}}, "erp_services.finance.tolerations", "a list"),
    ({"finance": {"tolerations": [{"key": "a", "effect": "Never"}]}}, "erp_services.finance.tolerations[0].effect", "NoSchedule"),
    ({"finance": {"tolerations": [{"key": "a", "operator": "In"}]}}, "erp_services.finance.tolerations[0].operator", "Exists, Equal"),
    ({"finance": {"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]}}, "erp_services.finance.tolerations[0].value", "no value"),
    ({"finance": {"tolerations": [{"value": "b"}]}}, "erp_services.finance.tolerations[0]", "a key when operator is Equal"),
    ({"finance": {"tolerations": [{"key": "a", "tolerationSeconds": -5}]}}, "erp_services.finance.tolerations[0].tolerationSeconds", "integer >= 0"),
    ({"finance": {"tolerations": [{"key": "a", "seconds": 5}]}}, "erp_services.finance.tolerations[0].seconds", "allowed keys"),
    ({"finance": {"name": "ledger"}}, "erp_services.finance.name", "same name as the key"),
    ({"finance": "off"}, "erp_services.finance", "a mapping"),
    ({"Finance": {}}, "erp_services key", "DNS-1035"),
    ({"9lives": {}}, "erp_services key", "DNS-1035"),
    ({"a" * 56: {}}, "erp_services key", "at most 55"),
    ({"ledger": {"app_id": "finance-service"}}, "erp_services.ledger.app_id", "'finance' already has it"),
]


@pytest.mark.parametrize(("overrides", "path", "allowed"), BAD, ids=[item[1] + ":" + item[2] for item in BAD])
def test_bad_input_names_path_value_and_allowed(overrides, path, allowed):
    with pytest.raises(CatalogError) as caught:
        catalog(overrides)
    message = str(caught.value)
    assert message.startswith(path + ":"), message
    assert allowed in message, message
    assert "allowed" in message, message


def test_bad_value_is_shown():
    with pytest.raises(CatalogError, match=r"got -3 \(integer\)"):
        catalog({"finance": {"replicas": -3}})


def test_error_in_builtin_names_builtin_index():
    builtin = copy.deepcopy(BUILTIN)
    builtin[2]["replicas"] = "two"
    with pytest.raises(CatalogError, match=r"^erp_service_catalog_builtin\[2\]\.replicas: got 'two'"):
        build_catalog(builtin, {}, tag="1.0.0")


def test_override_of_other_key_blames_builtin_for_builtin_value():
    builtin = copy.deepcopy(BUILTIN)
    builtin[1]["port"] = 0
    with pytest.raises(CatalogError, match=r"^erp_service_catalog_builtin\[1\]\.port"):
        build_catalog(builtin, {"finance": {"replicas": 3}}, tag="1.0.0")


@pytest.mark.parametrize(
    ("builtin", "overrides", "kwargs", "path"),
    [
        ("nope", {}, {}, "erp_service_catalog_builtin"),
        ([{"replicas": 1}], {}, {}, r"erp_service_catalog_builtin\[0\]\.name"),
        (["gateway"], {}, {}, r"erp_service_catalog_builtin\[0\]"),
        ([{"name": "a"}, {"name": "a"}], {}, {}, r"erp_service_catalog_builtin\[1\]\.name"),
        ([{"name": "a"}], ["a"], {}, "erp_services"),
        ([{"name": "a"}], {}, {"environment": "dev"}, "erp_environment"),
        ([{"name": "a"}], {}, {"tag": "a b"}, "erp_image_tag"),
        ([{"name": "a"}], {}, {"tag": 1.0}, "erp_image_tag"),
        ([{"name": "a"}], {}, {"registry": "http://x"}, "erp_image_registry"),
    ],
)
def test_bad_top_level_inputs(builtin, overrides, kwargs, path):
    kwargs.setdefault("tag", "1.0.0")
    with pytest.raises(CatalogError, match="^" + path + ": got"):
        build_catalog(builtin, overrides, **kwargs)


# -- values that are accepted and normalised ---------------------------------------------------------


def test_env_and_annotations_are_stringified():
    entry = by_name(catalog({"finance": {"env": {"A": 1, "B": True, "C": "x"}, "pod_annotations": {"n": 2, "b": False}}}))["finance"]
    assert entry["env"] == {"A": "1", "B": "true", "C": "x"}
    assert entry["pod_annotations"] == {"n": "2", "b": "false"}


def test_numeric_quantities_become_strings():
    entry = by_name(catalog({"finance": {"resources": {"limits": {"cpu": 1}}}}))["finance"]
    assert entry["resources"]["limits"]["cpu"] == "1"


def test_valid_extras_pass():
    entry = by_name(
        catalog(
            {
                "finance": {
                    "pod_labels": {"team": "ledger", "example.com/tier": "backend"},
                    "node_selector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {"key": "dedicated", "operator": "Equal", "value": "erp", "effect": "NoSchedule"},
                        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                    ],
                    "service_type": "LoadBalancer",
                    "autoscaling": {"enabled": True, "memory_utilization": None},
                }
            }
        )
    )["finance"]
    assert entry["pod_labels"]["example.com/tier"] == "backend"
    assert entry["autoscaling"] == {"enabled": True, "min_replicas": 2, "max_replicas": 6, "cpu_utilization": 70, "memory_utilization": None}


def test_duplicate_app_id_of_disabled_service_is_fine():
    entries = catalog({"finance": {"enabled": False}, "ledger": {"app_id": "finance-service"}})
    assert by_name(entries)["ledger"]["app_id"] == "finance-service"


@pytest.mark.parametrize(
    ("text", "value"),
    [("100m", "0.1"), ("1", "1"), ("0.5", "0.5"), ("128Mi", str(128 * 2**20)), ("1Gi", str(2**30)), ("1e3", "1000"), ("2k", "2000"), (".5", "0.5"), (3, "3")],
)
def test_parse_quantity(text, value):
    from decimal import Decimal

    assert parse_quantity(text, "x") == Decimal(value)


@pytest.mark.parametrize("text", ["", "m", "1.2.3", "10mi", "-1", "1 Gi", None, [], "1iB"])
def test_parse_quantity_rejects(text):
    with pytest.raises(CatalogError, match=r"^x: got .*Kubernetes quantity"):
        parse_quantity(text, "x")


@pytest.mark.parametrize(("tag", "label"), [("1.0.0", "1.0.0"), ("_dev", "dev"), ("v" * 70, "v" * 63), (None, "")])
def test_version_label(tag, label):
    assert version_label(tag) == label


def test_ingress_routes_rejects_garbage():
    with pytest.raises(CatalogError, match=r"^erp_service_catalog: got"):
        ingress_routes("x")
    with pytest.raises(CatalogError, match=r"^erp_service_catalog\[0\]: got"):
        ingress_routes([{"name": "a"}])


def test_ingress_routes_rejects_duplicates_in_handmade_catalog():
    handmade = [
        {"name": "a", "enabled": True, "ingress_paths": ["/x"]},
        {"name": "b", "enabled": True, "ingress_paths": ["/x"]},
    ]
    with pytest.raises(CatalogError, match="'a' already routes it"):
        ingress_routes(handmade)


def test_metrics_endpoint_defaults_to_the_http_port_and_is_validated():
    entries = by_name(catalog({"finance": {"metrics": {"port": 9464}}, "sales": {"metrics": {"enabled": False}}}))
    assert entries["gateway"]["metrics"] == {"enabled": True, "path": "/metrics", "port": 8080}
    assert entries["finance"]["metrics"] == {"enabled": True, "path": "/metrics", "port": 9464}
    assert entries["sales"]["metrics"]["enabled"] is False
    for bad, field, value in (
        ({"path": "metrics"}, "path", "'metrics'"),
        ({"port": 0}, "port", "0"),
        ({"enabled": "yes"}, "enabled", "'yes'"),
    ):
        with pytest.raises(CatalogError, match=rf"erp_services\.finance\.metrics\.{field}: got {value}"):
            catalog({"finance": {"metrics": bad}})
    with pytest.raises(CatalogError, match=r"erp_services\.finance\.metrics\.scheme: unknown key 'scheme'; allowed keys: enabled, path, port"):
        catalog({"finance": {"metrics": {"scheme": "https"}}})


# -- migration ------------------------------------------------------------------------------------


def test_no_migration_by_default():
    assert {entry["migration"] for entry in catalog()} == {None}


def test_migration_gets_defaults_the_service_image_and_a_job_prefix():
    entry = by_name(catalog({"finance": {"migration": {"args": ["--connection", "$(ConnectionStrings__DefaultConnection)"]}}}))["finance"]
    assert entry["migration"] == {
        "image": None,
        "command": [],
        "args": ["--connection", "$(ConnectionStrings__DefaultConnection)"],
        "timeout": 600,
        "backoff_limit": 0,
        "pod_annotations": {},
        "ref": "docker.io/erp-system/finance:1.0.0",
        "job_prefix": "finance-migrate-",
    }


def test_migration_image_of_its_own():
    entry = by_name(catalog({"finance": {"migration": {"image": "registry.erp.test:5000/erp-system/finance-bundle:2.0.0"}}}))["finance"]
    assert entry["migration"]["ref"] == "registry.erp.test:5000/erp-system/finance-bundle:2.0.0"


def test_migration_job_prefix_leaves_room_for_the_time_in_63_characters():
    name = "a" * 55
    entry = by_name(catalog({name: {"migration": {}}}))[name]
    assert len(entry["migration"]["job_prefix"] + "261204180000") == 63


@pytest.mark.parametrize(
    ("migration", "path", "allowed"),
    [
        ({"imagee": "x"}, "erp_services.finance.migration.imagee", "allowed keys: image, command, args, timeout, backoff_limit, pod_annotations"),
        ({"image": "Not An Image"}, "erp_services.finance.migration.image", "an image reference"),
        ({"command": "migrate"}, "erp_services.finance.migration.command", "a list of strings"),
        ({"args": [1]}, "erp_services.finance.migration.args", "a list of strings"),
        ({"timeout": 0}, "erp_services.finance.migration.timeout", "an integer from 1 to 86400"),
        ({"backoff_limit": 11}, "erp_services.finance.migration.backoff_limit", "an integer from 0 to 10"),
        ({"pod_annotations": {"dapr.io/enabled": "true"}}, "erp_services.finance.migration.pod_annotations", "never gets a Dapr sidecar"),
        ("yes", "erp_services.finance.migration", "a mapping with keys image"),
    ],
)
def test_bad_migration_names_the_field(migration, path, allowed):
    with pytest.raises(CatalogError) as caught:
        catalog({"finance": {"migration": migration}})
    assert str(caught.value).startswith(path + ":"), str(caught.value)
    assert allowed in str(caught.value)


@pytest.mark.parametrize("image", ["registry.erp.test/erp-system/finance-bundle", "registry.erp.test:5000/erp-system/finance-bundle:latest"])
def test_migration_image_must_be_pinned_in_prod(image):
    with pytest.raises(CatalogError, match=r"erp_services.finance.migration.image: .*pinned version tag or a digest when erp_environment is prod"):
        catalog({"finance": {"migration": {"image": image}}}, environment="prod")


def test_migration_image_by_digest_is_pinned_in_prod():
    image = "registry.erp.test:5000/erp-system/finance-bundle@" + DIGEST
    assert by_name(catalog({"finance": {"migration": {"image": image}}}, environment="prod"))["finance"]["migration"]["ref"] == image


# -- strategy and canary ---------------------------------------------------------------------------


def test_every_service_rolls_by_default_with_the_default_canary_settings():
    entries = catalog()
    assert {entry["strategy"] for entry in entries} == {"rolling"}
    assert entries[0]["blue_green"] == {"delay": 60}
    assert entries[0]["canary"] == {
        "replicas": 1,
        "steps": [{"weight": 10, "pause": 60, "gate": None}, {"weight": 50, "pause": 60, "gate": None}],
        "promotion": "auto",
        "header": None,
    }


def test_canary_steps_replace_the_default_and_a_gate_gets_its_defaults():
    steps = [{"weight": 5, "pause": 0}, {"weight": 100, "pause": 30, "gate": {"query": "sum(up)", "min": 1}}]
    entry = by_name(catalog({"finance": {"strategy": "canary", "canary": {"steps": steps, "promotion": "manual"}}}))["finance"]
    assert entry["strategy"] == "canary"
    assert entry["canary"]["steps"] == [
        {"weight": 5, "pause": 0, "gate": None},
        {"weight": 100, "pause": 30, "gate": {"query": "sum(up)", "max": None, "min": 1, "no_data": "fail"}},
    ]
    assert entry["canary"]["promotion"] == "manual"


@pytest.mark.parametrize(
    ("override", "path", "allowed"),
    [
        ({"strategy": "green"}, "erp_services.finance.strategy", "allowed: rolling, canary, blue_green"),
        ({"blue_green": {"delay": -1}}, "erp_services.finance.blue_green.delay", "an integer from 0 to 3600"),
        ({"blue_green": {"wait": 1}}, "erp_services.finance.blue_green.wait", "allowed keys: delay"),
        (
            {"strategy": "blue_green", "autoscaling": {"enabled": True}},
            "erp_services.finance.strategy",
            "rolling or canary while autoscaling.enabled is true",
        ),
        ({"canary": {"replicas": 0}}, "erp_services.finance.canary.replicas", "an integer from 1 to 100"),
        ({"canary": {"promotion": "later"}}, "erp_services.finance.canary.promotion", "allowed: auto, manual"),
        ({"canary": {"header": "X Canary"}}, "erp_services.finance.canary.header", "an HTTP header name"),
        ({"canary": {"weights": [10]}}, "erp_services.finance.canary.weights", "allowed keys: replicas, steps, promotion, header"),
        ({"canary": {"steps": []}}, "erp_services.finance.canary.steps", "a non-empty list of steps"),
        ({"canary": {"steps": [{"weight": 10}]}}, "erp_services.finance.canary.steps[0]", "missing key 'pause'"),
        ({"canary": {"steps": [{"weight": 101, "pause": 1}]}}, "erp_services.finance.canary.steps[0].weight", "an integer from 1 to 100"),
        ({"canary": {"steps": [{"weight": 10, "pause": -1}]}}, "erp_services.finance.canary.steps[0].pause", "an integer from 0 to 86400"),
        ({"canary": {"steps": [{"weight": 10, "pause": 1, "wait": 1}]}}, "erp_services.finance.canary.steps[0].wait", "allowed keys: weight, pause, gate"),
        ({"canary": {"steps": [{"weight": 10, "pause": 1, "gate": {"query": ""}}]}}, "erp_services.finance.canary.steps[0].gate.query", "a PromQL expression"),
        ({"canary": {"steps": [{"weight": 10, "pause": 1, "gate": {"query": "up"}}]}}, "erp_services.finance.canary.steps[0].gate", "a max, a min or both"),
        ({"canary": {"steps": [{"weight": 10, "pause": 1, "gate": {"query": "up", "max": "1"}}]}}, "erp_services.finance.canary.steps[0].gate.max", "a number"),
        (
            {"canary": {"steps": [{"weight": 10, "pause": 1, "gate": {"query": "up", "max": 1, "min": 2}}]}},
            "erp_services.finance.canary.steps[0].gate.min",
            "not above max",
        ),
        (
            {"canary": {"steps": [{"weight": 10, "pause": 1, "gate": {"query": "up", "max": 1, "no_data": "ok"}}]}},
            "erp_services.finance.canary.steps[0].gate.no_data",
            "fail, pass",
        ),
    ],
)
def test_bad_strategy_or_canary_names_the_field(override, path, allowed):
    with pytest.raises(CatalogError) as caught:
        catalog({"finance": override})
    assert str(caught.value).startswith(path + ":"), str(caught.value)
    assert allowed in str(caught.value)


def test_a_canary_service_name_leaves_room_for_its_services():
    name = "a" * 49
    assert by_name(catalog({name: {}}))[name]["strategy"] == "rolling"
    with pytest.raises(CatalogError, match=rf"erp_services.{name}.strategy: got 'canary' .*a name longer than 48 characters"):
        catalog({name: {"strategy": "canary"}})
    assert by_name(catalog({"a" * 48: {"strategy": "canary"}}))["a" * 48]["strategy"] == "canary"


def test_a_blue_green_service_name_leaves_room_for_its_preview_service():
    name = "b" * 48
    with pytest.raises(CatalogError, match=rf"erp_services.{name}.strategy: got 'blue_green' .*a name longer than 47 characters"):
        catalog({name: {"strategy": "blue_green"}})
    assert by_name(catalog({"b" * 47: {"strategy": "blue_green"}}))["b" * 47]["strategy"] == "blue_green"
