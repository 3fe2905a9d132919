"""The Dapr rules of erp.platform (module_utils/dapr_inputs.py): every rule, with its message."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.erp.platform.plugins.module_utils.dapr_inputs import DaprInputError, build, problems

SERVICES = [
    {"name": "gateway", "app_id": "gateway-service", "service_name": "gateway-service", "port": 8080},
    {"name": "finance", "app_id": "finance-service", "service_name": "finance-service", "port": 8080},
    {"name": "sales", "app_id": "sales-app", "service_name": "sales-service", "port": 8080},
]
APP_IDS = ["finance-service", "gateway-service", "sales-app"]
INPUTS = {
    "dapr_enabled": True,
    "http_port": 3500,
    "grpc_port": 50001,
    "api_token_secret": "erp-dapr-api-token",
    "services": SERVICES,
    "components": {},
    "resiliency": {},
    "resiliency_name": "erp-resiliency",
    "pubsub": {"name": "pubsub", "scopes": [], "metadata": []},
    "statestore": {"name": "statestore", "scopes": [], "metadata": []},
    "redis_host": "redis-service:6379",
    "redis_secret": {"name": "erp-secrets", "key": "REDIS_PASSWORD"},
}
RESILIENCY = {
    "policies": {
        "timeouts": {"general": "5s"},
        "retries": {"standard": {"policy": "constant", "duration": "1s", "maxRetries": 3, "matching": {"httpStatusCodes": "500,502-504"}}},
        "circuitBreakers": {"simple": {"maxRequests": 1, "interval": "8s", "timeout": "45s", "trip": "consecutiveFailures >= 5"}},
    },
    "targets": {"apps": {"finance-service": {"timeout": "general", "retry": "standard", "circuitBreaker": "simple"}}},
}
REDIS = [{"name": "redisHost", "value": "redis-service:6379"}, {"name": "redisPassword", "secretKeyRef": {"name": "erp-secrets", "key": "REDIS_PASSWORD"}}]


def inputs(**changes):
    result = copy.deepcopy(INPUTS)
    result.update(changes)
    return result


def only_problem(**changes):
    found = problems(inputs(**changes))
    assert len(found) == 1, found
    return found[0]


def test_defaults_give_pubsub_and_statestore_scoped_to_every_app():
    result = build(inputs())
    assert [(c["name"], c["type"]) for c in result["components"]] == [("pubsub", "pubsub.redis"), ("statestore", "state.redis")]
    for component in result["components"]:
        assert component["metadata"] == REDIS
        assert component["scopes"] == APP_IDS
        assert component["version"] == "v1"
    assert result["resiliency"] is None
    assert result["secret_store_access"] == []
    assert result["kubernetes_api_app_ids"] == []


def test_builtin_extra_metadata_follows_the_redis_items():
    result = build(inputs(pubsub={"name": "pubsub", "scopes": ["finance-service"], "metadata": [{"name": "enableTLS", "value": True}]}))
    assert result["components"][0]["metadata"] == [*REDIS, {"name": "enableTLS", "value": "true"}]
    assert result["components"][0]["scopes"] == ["finance-service"]


def test_catalog_components_render_with_defaults():
    components = {
        "lock": {"type": "lock.redis"},
        "config": {"type": "configuration.redis", "scopes": ["finance-service"], "metadata": [{"name": "keyPrefix", "value": 3}]},
        "secrets": {"type": "secretstores.kubernetes", "secrets": ["b", "a"], "scopes": ["sales-app"], "ignoreErrors": True, "initTimeout": "10s"},
    }
    result = build(inputs(components=components))
    by_name = {c["name"]: c for c in result["components"]}
    assert list(by_name) == ["pubsub", "statestore", "config", "lock", "secrets"]
    assert by_name["lock"] == {"name": "lock", "type": "lock.redis", "version": "v1", "metadata": REDIS, "scopes": APP_IDS, "secrets": []}
    assert by_name["config"]["metadata"] == [*REDIS, {"name": "keyPrefix", "value": "3"}]
    assert by_name["secrets"] == {
        "name": "secrets",
        "type": "secretstores.kubernetes",
        "version": "v1",
        "metadata": [],
        "scopes": ["sales-app"],
        "secrets": ["a", "b"],
        "ignoreErrors": True,
        "initTimeout": "10s",
    }
    # The ServiceAccount is the service's, not its app-id.
    assert result["secret_store_access"] == [{"component": "secrets", "secrets": ["a", "b"], "service_accounts": ["sales-service"]}]
    assert result["kubernetes_api_app_ids"] == ["sales-app"]


def test_redis_component_may_name_its_own_redis():
    own = [{"name": "redisHost", "value": "other:6379"}, {"name": "redisPassword", "secretKeyRef": {"name": "other", "key": "pw"}}]
    result = build(inputs(components={"lock": {"type": "lock.redis", "metadata": own}}))
    assert result["components"][2]["metadata"] == own


def test_resiliency_renders_with_default_scopes():
    result = build(inputs(resiliency=RESILIENCY))
    assert result["resiliency"] == {"name": "erp-resiliency", **copy.deepcopy(RESILIENCY), "scopes": APP_IDS}


def test_dapr_disabled_checks_only_the_ports():
    assert build(inputs(dapr_enabled=False, components={"x": {"type": "nope"}}))["components"] == []
    assert problems(inputs(dapr_enabled=False, http_port=3600)) == [
        "config_dapr_http_port: got 3600; allowed: 3500 only, because Dapr 1.16's sidecar injector always makes daprd listen on 3500 (no annotation changes it)"
    ]


def test_all_problems_are_reported_together():
    with pytest.raises(DaprInputError) as caught:
        build(inputs(http_port=8080, components={"lock": {"type": "lock.memory"}}, resiliency={"policies": {}, "targets": {}}))
    assert len(caught.value.problems) == 4
    assert str(caught.value) == "; ".join(caught.value.problems)


# (changes, the one problem expected)
CASES = [
    ({"http_port": 3600}, "config_dapr_http_port: got 3600; allowed: 3500 only, because Dapr 1.16's sidecar injector always makes daprd listen on 3500"),
    ({"grpc_port": 70000}, "config_dapr_grpc_port: got 70000; allowed: a TCP port from 1 to 65535 other than 3500, 3501, 9090, 50002"),
    ({"grpc_port": 3500}, "config_dapr_grpc_port: got 3500 (the sidecar's HTTP API); allowed:"),
    ({"grpc_port": 9090}, "config_dapr_grpc_port: got 9090 (the sidecar's metrics port); allowed:"),
    (
        {"services": [{**SERVICES[0], "port": 50002}]},
        "erp_services.gateway.port: got 50002, which is the sidecar's internal gRPC port in the same pod; "
        "allowed: a port other than 3500, 3501, 9090, 50001, 50002",
    ),
    (
        {"grpc_port": 50011, "services": [{**SERVICES[0], "port": 50011}]},
        "erp_services.gateway.port: got 50011, which is the sidecar's gRPC API (config_dapr_grpc_port) in the same pod",
    ),
    ({"api_token_secret": "Bad_Name"}, 'config_dapr_api_token_secret: got "Bad_Name"; allowed: a Secret name (DNS-1123 subdomain) other than erp-secrets'),
    ({"api_token_secret": "erp-secrets"}, 'config_dapr_api_token_secret: got "erp-secrets"; allowed:'),
    ({"pubsub": {"name": "Pub_Sub", "scopes": [], "metadata": []}}, 'dapr_pubsub_name: got "Pub_Sub"; allowed: a DNS-1123 name of at most 63 characters'),
    ({"statestore": {"name": "kubernetes", "scopes": [], "metadata": []}}, 'dapr_statestore_name: got "kubernetes"; allowed:'),
    (
        {"statestore": {"name": "pubsub", "scopes": [], "metadata": []}},
        'dapr_pubsub_name and dapr_statestore_name: both "pubsub"; allowed: two different names',
    ),
    (
        {"pubsub": {"name": "pubsub", "scopes": ["payroll-service"], "metadata": []}},
        'dapr_pubsub_scopes: unknown app-ids ["payroll-service"]; allowed: app-ids of enabled services (gateway-service, finance-service, sales-app)',
    ),
    (
        {"statestore": {"name": "statestore", "scopes": [], "metadata": [{"name": "redisHost", "value": "x"}]}},
        'dapr_statestore_metadata: got ["redisHost"]; allowed: other names, the role sets redisHost and redisPassword from erp_redis',
    ),
    ({"components": []}, "dapr_components: got []; allowed: a mapping of Component name to {type, version, metadata, scopes}"),
    ({"components": {"Lock": {"type": "lock.redis"}}}, 'dapr_components.Lock: the name "Lock" is not allowed; allowed: a DNS-1123 name of at most 63'),
    ({"components": {"kubernetes": {"type": "secretstores.kubernetes", "secrets": ["a"]}}}, 'dapr_components.kubernetes: the name "kubernetes" is not allowed'),
    ({"components": {"x" * 64: {"type": "lock.redis"}}}, f"dapr_components.{'x' * 64}: the name"),
    (
        {"components": {"pubsub": {"type": "lock.redis"}}},
        "dapr_components.pubsub: the name is already dapr_pubsub_name; allowed: a name no other Component has",
    ),
    ({"components": {"lock": "lock.redis"}}, 'dapr_components.lock: got "lock.redis"; allowed: a mapping with type'),
    ({"components": {"lock": {"type": "lock.redis", "scope": []}}}, 'dapr_components.lock: unknown keys ["scope"]; allowed: type, version, metadata, scopes'),
    (
        {"components": {"lock": {"type": "lock.memory"}}},
        'dapr_components.lock.type: got "lock.memory"; allowed: configuration.redis, lock.redis, pubsub.redis, secretstores.kubernetes, state.redis',
    ),
    ({"components": {"lock": {"type": "lock.redis", "version": "v2"}}}, 'dapr_components.lock.version: got "v2"; allowed: v1'),
    ({"components": {"lock": {"type": "lock.redis", "metadata": {"a": 1}}}}, 'dapr_components.lock.metadata: got {"a": 1}; allowed: a list of {name, value}'),
    ({"components": {"lock": {"type": "lock.redis", "metadata": ["x"]}}}, 'dapr_components.lock.metadata[0]: got "x"; allowed: a mapping {name, value}'),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "value": "1", "envRef": "X"}]}}},
        'dapr_components.lock.metadata[0]: unknown keys ["envRef"]; allowed: name, value, secretKeyRef',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a b", "value": "1"}]}}},
        'dapr_components.lock.metadata[0].name: got "a b"; allowed: a metadata field name',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]}}},
        'dapr_components.lock.metadata[1].name: "a" is given twice; allowed: each metadata name once',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a"}]}}},
        'dapr_components.lock.metadata[0]: got {"name": "a"}; allowed: exactly one of value or secretKeyRef',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "value": [1]}]}}},
        "dapr_components.lock.metadata[0].value: got [1]; allowed: a string, number or boolean",
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "secretKeyRef": {"name": "s"}}]}}},
        'dapr_components.lock.metadata[0].secretKeyRef: got {"name": "s"}; allowed: {name: <Secret>, key: <key in it>}',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "secretKeyRef": {"name": "S_1", "key": "k"}}]}}},
        'dapr_components.lock.metadata[0].secretKeyRef.name: got "S_1"; allowed: a Secret name (DNS-1123 subdomain)',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "metadata": [{"name": "a", "secretKeyRef": {"name": "s", "key": "k/1"}}]}}},
        'dapr_components.lock.metadata[0].secretKeyRef.key: got "k/1"; allowed: a Secret key',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "scopes": "finance-service"}}},
        'dapr_components.lock.scopes: got "finance-service"; allowed: a list of app-ids of enabled services',
    ),
    (
        {"components": {"lock": {"type": "lock.redis", "scopes": ["finance"]}}},
        'dapr_components.lock.scopes: unknown app-ids ["finance"]; allowed: app-ids of enabled services',
    ),
    ({"components": {"lock": {"type": "lock.redis", "ignoreErrors": "yes"}}}, 'dapr_components.lock.ignoreErrors: got "yes"; allowed: true or false'),
    (
        {"components": {"lock": {"type": "lock.redis", "initTimeout": "10"}}},
        'dapr_components.lock.initTimeout: got "10"; allowed: a duration such as 5s, 1m30s',
    ),
    (
        {"components": {"s": {"type": "secretstores.kubernetes"}}},
        "dapr_components.s.secrets: got null; allowed: a non-empty list of names of Secrets in erp_namespace",
    ),
    ({"components": {"s": {"type": "secretstores.kubernetes", "secrets": ["Bad"]}}}, 'dapr_components.s.secrets: got ["Bad"]; allowed: a non-empty list'),
    (
        {"components": {"lock": {"type": "lock.redis", "secrets": ["a"]}}},
        'dapr_components.lock.secrets: got ["a"]; allowed only with type secretstores.kubernetes',
    ),
    ({"resiliency": ["x"]}, 'dapr_resiliency: got ["x"]; allowed: a mapping with policies, targets, scopes'),
    ({"resiliency": {**RESILIENCY, "target": {}}}, 'dapr_resiliency: unknown keys ["target"]; allowed: policies, targets, scopes'),
    ({"resiliency": RESILIENCY, "resiliency_name": "Res"}, 'dapr_resiliency_name: got "Res"; allowed: a DNS-1123 name of at most 63 characters'),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "retry": {}}}},
        'dapr_resiliency.policies: unknown keys ["retry"]; allowed: timeouts, retries, circuitBreakers',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "timeouts": {"general": "5 s"}}}},
        'dapr_resiliency.policies.timeouts.general: got "5 s"; allowed: a duration such as 500ms',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "retries": {"standard": {"policy": "linear"}}}}},
        'dapr_resiliency.policies.retries.standard.policy: got "linear"; allowed: constant, exponential',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "retries": {"standard": {"policy": "constant", "maxRetries": -2}}}}},
        "dapr_resiliency.policies.retries.standard.maxRetries: got -2; allowed: an integer, -1 (retry forever) or more",
    ),
    (
        {
            "resiliency": {
                **RESILIENCY,
                "policies": {**RESILIENCY["policies"], "retries": {"standard": {"policy": "constant", "matching": {"httpStatusCodes": "5xx"}}}},
            }
        },
        'dapr_resiliency.policies.retries.standard.matching.httpStatusCodes: got "5xx"; allowed: status codes and ranges',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "retries": {"standard": {"policy": "constant", "backoff": 1}}}}},
        'dapr_resiliency.policies.retries.standard: unknown keys ["backoff"]; allowed: policy, duration, maxInterval, maxRetries, matching',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "circuitBreakers": {"simple": {"trip": ""}}}}},
        'dapr_resiliency.policies.circuitBreakers.simple.trip: got ""; allowed: a condition such as "consecutiveFailures >= 5"',
    ),
    (
        {"resiliency": {**RESILIENCY, "policies": {**RESILIENCY["policies"], "circuitBreakers": {"simple": {"trip": "x", "maxRequests": -1}}}}},
        "dapr_resiliency.policies.circuitBreakers.simple.maxRequests: got -1; allowed: an integer, 0 or more",
    ),
    ({"resiliency": {**RESILIENCY, "targets": {"apps": {}}}}, "dapr_resiliency.targets.apps: got {}; allowed: a mapping of app-id to"),
    ({"resiliency": {**RESILIENCY, "targets": {**RESILIENCY["targets"], "actors": {}}}}, 'dapr_resiliency.targets: unknown keys ["actors"]; allowed: apps'),
    (
        {"resiliency": {**RESILIENCY, "targets": {"apps": {"payroll": {"timeout": "general"}}}}},
        'dapr_resiliency.targets.apps: unknown app-id "payroll"; allowed: app-ids of enabled services',
    ),
    (
        {"resiliency": {**RESILIENCY, "targets": {"apps": {"finance-service": {"retry": "fast"}}}}},
        'dapr_resiliency.targets.apps.finance-service.retry: got "fast"; allowed: a name from dapr_resiliency.policies.retries (standard)',
    ),
    (
        {"resiliency": {**RESILIENCY, "targets": {"apps": {"finance-service": {"circuitBreakerCacheSize": 0}}}}},
        "dapr_resiliency.targets.apps.finance-service.circuitBreakerCacheSize: got 0; allowed: an integer, 1 or more",
    ),
    ({"resiliency": {**RESILIENCY, "scopes": ["payroll"]}}, 'dapr_resiliency.scopes: unknown app-ids ["payroll"]; allowed:'),
]


@pytest.mark.parametrize(("changes", "expected"), CASES, ids=[expected.split(":")[0] + f"-{index}" for index, (_changes, expected) in enumerate(CASES)])
def test_each_rule_names_the_variable_value_and_what_is_allowed(changes, expected):
    assert only_problem(**changes).startswith(expected)
