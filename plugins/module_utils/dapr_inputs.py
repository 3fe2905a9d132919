# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Dapr inputs of erp.platform: sidecar ports, Components and the Resiliency, checked and normalized.

Plain Python (no Ansible import), shared by the filter plugin erp.platform.dapr_inputs (which preflight,
the dapr role and the service role call) and the unit tests: every Dapr rule exists here once. Each
problem names the variable path, the bad value and what is allowed; all problems are reported together.

Facts of Dapr v1.16.19 relied on (github.com/dapr/dapr):
- pkg/injector/patcher/sidecar.go: the sidecar listens on SidecarHTTPPort 3500 (no annotation changes it),
  SidecarPublicPort 3501, dapr.io/grpc-port (default 50001), dapr.io/internal-grpc-port (50002) and
  dapr.io/metrics-port (9090).
- pkg/components/secretstores/registry.go: daprd registers a built-in secret store named "kubernetes".
- pkg/resiliency/resiliency.go: retry policies "constant" and "exponential"; targets name policies that
  must exist, else daprd drops the whole Resiliency ("Could not read resiliency policy").
"""

import copy
import json
import re
from collections.abc import Mapping

from ansible_collections.erp.platform.plugins.module_utils.input_rules import DATA_KEY, DNS1123_SUBDOMAIN, LABEL_VALUE

COMPONENTS_VAR = "dapr_components"
RESILIENCY_VAR = "dapr_resiliency"

# Types an inventory may add, and whether the collection's Redis fills redisHost/redisPassword by default.
COMPONENT_TYPES = ("configuration.redis", "lock.redis", "pubsub.redis", "secretstores.kubernetes", "state.redis")
COMPONENT_VERSIONS = ("v1",)
COMPONENT_KEYS = ("type", "version", "metadata", "scopes", "ignoreErrors", "initTimeout", "secrets")
METADATA_KEYS = ("name", "value", "secretKeyRef")
SECRET_STORE_TYPE = "secretstores.kubernetes"
# daprd registers a secret store of this name itself (Kubernetes mode).
RESERVED_NAMES = ("kubernetes",)

SIDECAR_HTTP_PORT = 3500
SIDECAR_PUBLIC_PORT = 3501
SIDECAR_INTERNAL_GRPC_PORT = 50002
SIDECAR_METRICS_PORT = 9090

RESILIENCY_KEYS = ("policies", "targets", "scopes")
POLICY_KINDS = ("timeouts", "retries", "circuitBreakers")
RETRY_KEYS = ("policy", "duration", "maxInterval", "maxRetries", "matching")
RETRY_POLICIES = ("constant", "exponential")
MATCHING_KEYS = ("httpStatusCodes", "gRPCStatusCodes")
BREAKER_KEYS = ("maxRequests", "interval", "timeout", "trip")
APP_TARGET_KEYS = ("timeout", "retry", "circuitBreaker", "circuitBreakerCacheSize")
TARGET_POLICY_KIND = {"timeout": "timeouts", "retry": "retries", "circuitBreaker": "circuitBreakers"}

# A Component or Resiliency name is also its app.kubernetes.io/name label value: DNS-1123, at most 63.
_NAME = re.compile(r"^(?=.{1,63}$)" + DNS1123_SUBDOMAIN.pattern[1:])
_SECRET_NAME = re.compile(r"^(?=.{1,253}$)" + DNS1123_SUBDOMAIN.pattern[1:])
_SECRET_KEY = DATA_KEY
_METADATA_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,253}$")
_POLICY_NAME = LABEL_VALUE
# Go's time.ParseDuration, non-negative: one or more <number><unit>.
_DURATION = re.compile(r"^(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+$|^0$")
_STATUS_CODES = re.compile(r"^\s*[0-9]{1,3}(\s*-\s*[0-9]{1,3})?(\s*,\s*[0-9]{1,3}(\s*-\s*[0-9]{1,3})?)*\s*$")


class DaprInputError(ValueError):
    """The Dapr inputs break one or more rules; str() lists every problem."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _show(value):
    """A value as the inventory author wrote it, JSON-like (strings quoted)."""
    if isinstance(value, str):
        return '"' + value + '"'
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value) if not isinstance(value, (list, dict)) else _json(value)


def _json(value):
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _port(value):
    """value as a TCP port number, or None."""
    if _is_int(value):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 1 <= number <= 65535 else None


def _app_ids(services):
    return [entry["app_id"] for entry in services]


def check_ports(http_port, grpc_port, services, dapr_enabled=True):
    """Problems of config_dapr_http_port, config_dapr_grpc_port and of service ports colliding with the sidecar."""
    problems = []
    http = _port(http_port)
    if http != SIDECAR_HTTP_PORT:
        problems.append(
            f"config_dapr_http_port: got {_show(http_port)}; allowed: {SIDECAR_HTTP_PORT} only, because Dapr 1.16's "
            f"sidecar injector always makes daprd listen on {SIDECAR_HTTP_PORT} (no annotation changes it)"
        )
    grpc = _port(grpc_port)
    reserved = {SIDECAR_HTTP_PORT: "the sidecar's HTTP API", SIDECAR_PUBLIC_PORT: "the sidecar's health port"}
    reserved.update({SIDECAR_INTERNAL_GRPC_PORT: "the sidecar's internal gRPC port", SIDECAR_METRICS_PORT: "the sidecar's metrics port"})
    if grpc is None or grpc in reserved:
        taken = f" ({reserved[grpc]})" if grpc in reserved else ""
        problems.append(
            f"config_dapr_grpc_port: got {_show(grpc_port)}{taken}; allowed: a TCP port from 1 to 65535 other than "
            f"{', '.join(str(port) for port in sorted(reserved))}, set on the sidecar as dapr.io/grpc-port"
        )
    if not dapr_enabled:
        return problems
    if grpc is not None:
        reserved.setdefault(grpc, "the sidecar's gRPC API (config_dapr_grpc_port)")
    for entry in services:
        port = _port(entry.get("port"))
        if port in reserved:
            problems.append(
                f"erp_services.{entry['name']}.port: got {port}, which is {reserved[port]} in the same pod; allowed: "
                f"a port other than {', '.join(str(p) for p in sorted(reserved))} (the Dapr sidecar's ports)"
            )
    return problems


def _check_scopes(path, scopes, app_ids, problems):
    if not isinstance(scopes, list) or not all(isinstance(item, str) for item in scopes):
        problems.append(f"{path}: got {_show(scopes)}; allowed: a list of app-ids of enabled services ({', '.join(app_ids)})")
        return []
    unknown = [item for item in scopes if item not in app_ids]
    if unknown:
        problems.append(f"{path}: unknown app-ids {_json(unknown)}; allowed: app-ids of enabled services ({', '.join(app_ids)})")
    return sorted(set(scopes))


def _check_metadata(path, items, problems):
    """Normalized metadata items ({name, value: str} or {name, secretKeyRef: {name, key}})."""
    if not isinstance(items, list):
        problems.append(f"{path}: got {_show(items)}; allowed: a list of {{name, value}} or {{name, secretKeyRef: {{name, key}}}}")
        return []
    result, seen = [], set()
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: got {_show(item)}; allowed: a mapping {{name, value}} or {{name, secretKeyRef: {{name, key}}}}")
            continue
        unknown = sorted(set(item) - set(METADATA_KEYS))
        if unknown:
            problems.append(f"{where}: unknown keys {_json(unknown)}; allowed: {', '.join(METADATA_KEYS)}")
        name = item.get("name")
        if not isinstance(name, str) or not _METADATA_NAME.match(name):
            problems.append(f"{where}.name: got {_show(name)}; allowed: a metadata field name (letters, digits, '_', '.', '-')")
        elif name in seen:
            problems.append(f"{where}.name: {_show(name)} is given twice; allowed: each metadata name once")
        seen.add(name)
        has_value, has_ref = "value" in item, "secretKeyRef" in item
        if has_value == has_ref:
            problems.append(f"{where}: got {_show(item)}; allowed: exactly one of value or secretKeyRef")
            continue
        if has_value:
            value = item["value"]
            if value is None or isinstance(value, (list, Mapping)):
                problems.append(f"{where}.value: got {_show(value)}; allowed: a string, number or boolean")
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            result.append({"name": name, "value": text})
            continue
        ref = item["secretKeyRef"]
        if not isinstance(ref, Mapping) or sorted(ref) != ["key", "name"]:
            problems.append(f"{where}.secretKeyRef: got {_show(ref)}; allowed: {{name: <Secret>, key: <key in it>}}")
            continue
        if not isinstance(ref["name"], str) or not _SECRET_NAME.match(ref["name"]):
            problems.append(f"{where}.secretKeyRef.name: got {_show(ref['name'])}; allowed: a Secret name (DNS-1123 subdomain)")
        if not isinstance(ref["key"], str) or not _SECRET_KEY.match(ref["key"]):
            problems.append(f"{where}.secretKeyRef.key: got {_show(ref['key'])}; allowed: a Secret key (letters, digits, '-', '_', '.')")
        result.append({"name": name, "secretKeyRef": {"name": ref["name"], "key": ref["key"]}})
    return result


def _redis_metadata(metadata, redis_host, redis_secret):
    """The collection's Redis (host and password reference) first, unless the entry names them itself."""
    names = {item["name"] for item in metadata}
    defaults = []
    if "redisHost" not in names:
        defaults.append({"name": "redisHost", "value": redis_host})
    if "redisPassword" not in names:
        defaults.append({"name": "redisPassword", "secretKeyRef": dict(redis_secret)})
    return defaults + metadata


def _check_builtin(prefix, name, component_type, scopes, metadata, app_ids, redis_host, redis_secret, problems):
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_NAMES:
        problems.append(
            f"{prefix}_name: got {_show(name)}; allowed: a DNS-1123 name of at most 63 characters (lowercase letters, "
            f"digits, '-', '.'), not {', '.join(RESERVED_NAMES)}"
        )
    scopes = _check_scopes(f"{prefix}_scopes", scopes, app_ids, problems) or sorted(app_ids)
    metadata = _check_metadata(f"{prefix}_metadata", metadata, problems)
    clash = sorted({item["name"] for item in metadata} & {"redisHost", "redisPassword"})
    if clash:
        problems.append(f"{prefix}_metadata: got {_json(clash)}; allowed: other names, the role sets redisHost and redisPassword from erp_redis")
    return {
        "name": name,
        "type": component_type,
        "version": "v1",
        "metadata": _redis_metadata(metadata, redis_host, redis_secret),
        "scopes": scopes,
        "secrets": [],
    }


def _check_component(name, entry, app_ids, redis_host, redis_secret, problems):
    path = f"{COMPONENTS_VAR}.{name}"
    if not isinstance(entry, Mapping):
        problems.append(f"{path}: got {_show(entry)}; allowed: a mapping with type, and optionally {', '.join(COMPONENT_KEYS[1:])}")
        return None
    unknown = sorted(set(entry) - set(COMPONENT_KEYS))
    if unknown:
        problems.append(f"{path}: unknown keys {_json(unknown)}; allowed: {', '.join(COMPONENT_KEYS)}")
    component_type = entry.get("type")
    if component_type not in COMPONENT_TYPES:
        problems.append(f"{path}.type: got {_show(component_type)}; allowed: {', '.join(COMPONENT_TYPES)}")
    version = entry.get("version", "v1")
    if version not in COMPONENT_VERSIONS:
        problems.append(f"{path}.version: got {_show(version)}; allowed: {', '.join(COMPONENT_VERSIONS)}")
    metadata = _check_metadata(f"{path}.metadata", entry.get("metadata", []), problems)
    if isinstance(component_type, str) and component_type.endswith(".redis"):
        metadata = _redis_metadata(metadata, redis_host, redis_secret)
    scopes = entry.get("scopes")
    scopes = sorted(app_ids) if scopes is None or scopes == [] else _check_scopes(f"{path}.scopes", scopes, app_ids, problems)
    component = {"name": name, "type": component_type, "version": version, "metadata": metadata, "scopes": scopes}
    if "ignoreErrors" in entry:
        if not isinstance(entry["ignoreErrors"], bool):
            problems.append(f"{path}.ignoreErrors: got {_show(entry['ignoreErrors'])}; allowed: true or false")
        component["ignoreErrors"] = entry["ignoreErrors"]
    if "initTimeout" in entry:
        if not isinstance(entry["initTimeout"], str) or not _DURATION.match(entry["initTimeout"]):
            problems.append(f"{path}.initTimeout: got {_show(entry['initTimeout'])}; allowed: a duration such as 5s, 1m30s")
        component["initTimeout"] = entry["initTimeout"]
    secrets = entry.get("secrets")
    if component_type == SECRET_STORE_TYPE:
        if not isinstance(secrets, list) or not secrets or not all(isinstance(item, str) and _SECRET_NAME.match(item) for item in secrets):
            problems.append(
                f"{path}.secrets: got {_show(secrets)}; allowed: a non-empty list of names of Secrets in erp_namespace "
                f"that the scoped services may read through this secret store (the only Secrets it can get)"
            )
            secrets = []
        component["secrets"] = sorted(set(secrets))
    else:
        if secrets is not None:
            problems.append(f"{path}.secrets: got {_show(secrets)}; allowed only with type {SECRET_STORE_TYPE}")
        component["secrets"] = []
    return component


def build_components(components, services, pubsub, statestore, redis_host, redis_secret):
    """Every Component (the pub/sub and state store first, then dapr_components by name), normalized.

    pubsub/statestore: {name, scopes, metadata} of the dapr_pubsub_* / dapr_statestore_* variables.
    Each component: {name, type, version, metadata, scopes, secrets[, ignoreErrors][, initTimeout]}.
    Raises DaprInputError naming every problem.
    """
    problems = []
    app_ids = _app_ids(services)
    result = [
        _check_builtin(
            "dapr_" + kind, spec.get("name"), component_type, spec.get("scopes", []), spec.get("metadata", []), app_ids, redis_host, redis_secret, problems
        )
        for kind, component_type, spec in (("pubsub", "pubsub.redis", pubsub), ("statestore", "state.redis", statestore))
    ]
    if result[0]["name"] == result[1]["name"]:
        problems.append(f"dapr_pubsub_name and dapr_statestore_name: both {_show(result[0]['name'])}; allowed: two different names")
    if components is None:
        components = {}
    if not isinstance(components, Mapping):
        problems.append(f"{COMPONENTS_VAR}: got {_show(components)}; allowed: a mapping of Component name to {{type, version, metadata, scopes}}")
        components = {}
    taken = {result[0]["name"]: "dapr_pubsub_name", result[1]["name"]: "dapr_statestore_name"}
    for name in sorted(components, key=str):
        if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED_NAMES:
            problems.append(
                f"{COMPONENTS_VAR}.{name}: the name {_show(name)} is not allowed; allowed: a DNS-1123 name of at most 63 "
                f"characters (lowercase letters, digits, '-', '.'), not {', '.join(RESERVED_NAMES)} (daprd's built-in secret store)"
            )
            continue
        if name in taken:
            problems.append(f"{COMPONENTS_VAR}.{name}: the name is already {taken[name]}; allowed: a name no other Component has")
            continue
        component = _check_component(name, components[name], app_ids, redis_host, redis_secret, problems)
        if component is not None:
            result.append(component)
    if problems:
        raise DaprInputError(problems)
    return result


def _check_duration(path, value, problems):
    if not isinstance(value, str) or not _DURATION.match(value):
        problems.append(f"{path}: got {_show(value)}; allowed: a duration such as 500ms, 5s, 1m30s")


def _check_policies(policies, problems):
    path = f"{RESILIENCY_VAR}.policies"
    if not isinstance(policies, Mapping) or not policies:
        problems.append(f"{path}: got {_show(policies)}; allowed: a mapping with at least one of {', '.join(POLICY_KINDS)}")
        return {}
    unknown = sorted(set(policies) - set(POLICY_KINDS))
    if unknown:
        problems.append(f"{path}: unknown keys {_json(unknown)}; allowed: {', '.join(POLICY_KINDS)}")
    result = {}
    for kind in POLICY_KINDS:
        if kind not in policies:
            continue
        named = policies[kind]
        if not isinstance(named, Mapping):
            problems.append(f"{path}.{kind}: got {_show(named)}; allowed: a mapping of policy name to its settings")
            continue
        result[kind] = {}
        for name, policy in named.items():
            where = f"{path}.{kind}.{name}"
            if not isinstance(name, str) or not _POLICY_NAME.match(name):
                problems.append(f"{path}.{kind}: the policy name {_show(name)} is not allowed; allowed: letters, digits, '-', '_', '.'")
                continue
            if kind == "timeouts":
                _check_duration(where, policy, problems)
                result[kind][name] = policy
            elif kind == "retries":
                result[kind][name] = _check_retry(where, policy, problems)
            else:
                result[kind][name] = _check_breaker(where, policy, problems)
    return result


def _check_keys(where, value, allowed, problems):
    if not isinstance(value, Mapping):
        problems.append(f"{where}: got {_show(value)}; allowed: a mapping with {', '.join(allowed)}")
        return False
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        problems.append(f"{where}: unknown keys {_json(unknown)}; allowed: {', '.join(allowed)}")
    return True


def _check_retry(where, retry, problems):
    if not _check_keys(where, retry, RETRY_KEYS, problems):
        return {}
    result = copy.deepcopy(dict(retry))
    if retry.get("policy") not in RETRY_POLICIES:
        problems.append(f"{where}.policy: got {_show(retry.get('policy'))}; allowed: {', '.join(RETRY_POLICIES)}")
    for key in ("duration", "maxInterval"):
        if key in retry:
            _check_duration(f"{where}.{key}", retry[key], problems)
    if "maxRetries" in retry and (not _is_int(retry["maxRetries"]) or retry["maxRetries"] < -1):
        problems.append(f"{where}.maxRetries: got {_show(retry['maxRetries'])}; allowed: an integer, -1 (retry forever) or more")
    if "matching" in retry and _check_keys(f"{where}.matching", retry["matching"], MATCHING_KEYS, problems):
        for key, value in retry["matching"].items():
            if key in MATCHING_KEYS and (not isinstance(value, str) or not _STATUS_CODES.match(value)):
                problems.append(f'{where}.matching.{key}: got {_show(value)}; allowed: status codes and ranges such as "500,502-504"')
    return result


def _check_breaker(where, breaker, problems):
    if not _check_keys(where, breaker, BREAKER_KEYS, problems):
        return {}
    for key in ("interval", "timeout"):
        if key in breaker:
            _check_duration(f"{where}.{key}", breaker[key], problems)
    if "maxRequests" in breaker and (not _is_int(breaker["maxRequests"]) or breaker["maxRequests"] < 0):
        problems.append(f"{where}.maxRequests: got {_show(breaker['maxRequests'])}; allowed: an integer, 0 or more")
    trip = breaker.get("trip")
    if not isinstance(trip, str) or not trip.strip():
        problems.append(f'{where}.trip: got {_show(trip)}; allowed: a condition such as "consecutiveFailures >= 5"')
    return copy.deepcopy(dict(breaker))


def build_resiliency(resiliency, services, name="erp-resiliency"):
    """The Resiliency ({name, policies, targets: {apps}, scopes}) or None when dapr_resiliency is empty.

    Raises DaprInputError naming every problem.
    """
    if not resiliency:
        return None
    problems = []
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{RESILIENCY_VAR}_name: got {_show(name)}; allowed: a DNS-1123 name of at most 63 characters (lowercase letters, digits, '-', '.')")
    app_ids = _app_ids(services)
    if not _check_keys(RESILIENCY_VAR, resiliency, RESILIENCY_KEYS, problems):
        raise DaprInputError(problems)
    policies = _check_policies(resiliency.get("policies"), problems)
    targets_path = f"{RESILIENCY_VAR}.targets"
    targets = resiliency.get("targets")
    apps = {}
    if _check_keys(targets_path, targets, ("apps",), problems):
        named = targets.get("apps")
        if not isinstance(named, Mapping) or not named:
            problems.append(f"{targets_path}.apps: got {_show(named)}; allowed: a mapping of app-id to {{{', '.join(APP_TARGET_KEYS)}}}")
            named = {}
        for app_id, target in named.items():
            where = f"{targets_path}.apps.{app_id}"
            if app_id not in app_ids:
                problems.append(f"{targets_path}.apps: unknown app-id {_show(app_id)}; allowed: app-ids of enabled services ({', '.join(app_ids)})")
                continue
            if not _check_keys(where, target, APP_TARGET_KEYS, problems):
                continue
            for key, kind in TARGET_POLICY_KIND.items():
                if key in target and target[key] not in policies.get(kind, {}):
                    known = ", ".join(sorted(policies.get(kind, {}))) or "none"
                    problems.append(f"{where}.{key}: got {_show(target[key])}; allowed: a name from {RESILIENCY_VAR}.policies.{kind} ({known})")
            if "circuitBreakerCacheSize" in target and (not _is_int(target["circuitBreakerCacheSize"]) or target["circuitBreakerCacheSize"] < 1):
                problems.append(f"{where}.circuitBreakerCacheSize: got {_show(target['circuitBreakerCacheSize'])}; allowed: an integer, 1 or more")
            apps[app_id] = copy.deepcopy(dict(target))
    scopes = resiliency.get("scopes")
    scopes = sorted(app_ids) if not scopes else _check_scopes(f"{RESILIENCY_VAR}.scopes", scopes, app_ids, problems)
    if problems:
        raise DaprInputError(problems)
    return {"name": name, "policies": policies, "targets": {"apps": apps}, "scopes": scopes}


def secret_store_access(components, services):
    """Per secretstores.kubernetes Component: {component, secrets, service_accounts} of the scoped services."""
    accounts = {entry["app_id"]: entry["service_name"] for entry in services}
    return [
        {
            "component": component["name"],
            "secrets": component["secrets"],
            "service_accounts": sorted({accounts[app_id] for app_id in component["scopes"] if app_id in accounts}),
        }
        for component in components
        if component["type"] == SECRET_STORE_TYPE
    ]


def kubernetes_api_app_ids(components):
    """App-ids whose daprd needs the pod's ServiceAccount token: those scoped to a Kubernetes secret store."""
    return sorted({app_id for component in components if component["type"] == SECRET_STORE_TYPE for app_id in component["scopes"]})


def build(inputs):
    """Everything the Dapr role and the service role need, from one mapping of inputs.

    inputs: {dapr_enabled, http_port, grpc_port, services (enabled catalog entries), components
    (dapr_components), resiliency (dapr_resiliency), resiliency_name, api_token_secret, pubsub, statestore ({name, scopes, metadata}),
    redis_host, redis_secret ({name, key})}. Returns {components, resiliency, secret_store_access,
    kubernetes_api_app_ids}; raises DaprInputError naming every problem of every input.
    """
    services = list(inputs.get("services") or [])
    problems = check_ports(inputs.get("http_port"), inputs.get("grpc_port"), services, bool(inputs.get("dapr_enabled", True)))
    token_secret = inputs.get("api_token_secret", "erp-dapr-api-token")
    if not isinstance(token_secret, str) or not _SECRET_NAME.match(token_secret) or token_secret == inputs.get("redis_secret", {}).get("name"):
        problems.append(
            f"config_dapr_api_token_secret: got {_show(token_secret)}; allowed: a Secret name (DNS-1123 subdomain) other than "
            f"erp-secrets, whose key token the sidecar reads (dapr.io/api-token-secret)"
        )
    if not inputs.get("dapr_enabled", True):
        if problems:
            raise DaprInputError(problems)
        return {"components": [], "resiliency": None, "secret_store_access": [], "kubernetes_api_app_ids": []}
    components, resiliency = [], None
    try:
        components = build_components(
            inputs.get("components"),
            services,
            inputs.get("pubsub") or {},
            inputs.get("statestore") or {},
            inputs.get("redis_host"),
            inputs.get("redis_secret") or {},
        )
    except DaprInputError as exc:
        problems.extend(exc.problems)
    try:
        resiliency = build_resiliency(inputs.get("resiliency"), services, inputs.get("resiliency_name", "erp-resiliency"))
    except DaprInputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise DaprInputError(problems)
    return {
        "components": components,
        "resiliency": resiliency,
        "secret_store_access": secret_store_access(components, services),
        "kubernetes_api_app_ids": kubernetes_api_app_ids(components),
    }


def problems(inputs):
    """The problems build() would raise, as a list (empty when the inputs are fine)."""
    try:
        build(inputs)
    except DaprInputError as exc:
        return exc.problems
    return []
