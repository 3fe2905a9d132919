# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The service catalog of erp.platform: merge, defaults and validation.

Plain Python (no Ansible import) so that unit tests and the filter plugin share
it. Every error names the variable path the bad value came from, the value and
what would have been accepted, because the person reading it edits an
inventory, not this file.
"""

import copy
import math
import re
from collections.abc import Mapping

from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    DIGEST as _DIGEST,
)
from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    DNS1035_LABEL as _DNS1035,
)
from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    DNS1123_LABEL as _DNS1123_LABEL,
)
from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    DNS1123_SUBDOMAIN as _DNS1123_SUBDOMAIN,
)
from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    RESERVED_LABELS,
    over_limits,
    quantity_value,
)
from ansible_collections.erp.platform.plugins.module_utils.input_rules import (
    RULES as _RULES,
)

# Environments where the image tag latest is refused (unless a digest pins the image).
PINNED_ENVIRONMENTS = ("prod", "staging")
BUILTIN_VAR = "erp_service_catalog_builtin"
OVERRIDES_VAR = "erp_services"

# A Service is named <name>-service and must stay a DNS-1035 label (63 chars).
SERVICE_SUFFIX = "-service"
MAX_NAME_LEN = 63 - len(SERVICE_SUFFIX)

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REGISTRY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# An image reference: [registry[:port]/]repository[:tag][@digest].
_IMAGE_REF = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
ENVIRONMENTS = ("local", "staging", "prod")
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
TOLERATION_OPERATORS = ("Exists", "Equal")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Pod annotation prefixes the collection sets itself (the Dapr sidecar's settings, the config checksum).
RESERVED_ANNOTATION_PREFIXES = ("dapr.io/", "erp.platform/")


class CatalogError(ValueError):
    """A catalog input is invalid; the message is meant for the inventory author."""


def entry_defaults(name):
    """Return the defaults every catalog entry starts from."""
    return {
        "name": name,
        "enabled": True,
        "replicas": 1,
        "gateway": False,
        "image": {"registry": None, "repository": f"erp-system/{name}", "tag": None, "digest": None},
        "port": 8080,
        "app_id": name + SERVICE_SUFFIX,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "probes": {"liveness_path": "/health", "readiness_path": "/health/ready", "startup_path": "/health"},
        # The service's own Prometheus endpoint, scraped through the monitoring role (port null: the http port).
        "metrics": {"enabled": True, "path": "/metrics", "port": None},
        "ingress_paths": [],
        "autoscaling": {
            "enabled": False,
            "min_replicas": 2,
            "max_replicas": 6,
            "cpu_utilization": 70,
            "memory_utilization": 80,
        },
        "service_type": "ClusterIP",
        "env": {},
        "pod_labels": {},
        "pod_annotations": {},
        "node_selector": {},
        "tolerations": [],
        # A database migration Job run before the service's Deployment changes (null: none); see MIGRATION_DEFAULTS.
        "migration": None,
        # How a new image reaches the pods: rolling (the Deployment's rolling update) or canary (see CANARY_DEFAULTS).
        "strategy": "rolling",
        "canary": copy.deepcopy(CANARY_DEFAULTS),
        "blue_green": copy.deepcopy(BLUE_GREEN_DEFAULTS),
    }


# The fields of a catalog entry's migration, with their defaults: image null runs the service's own image;
# command and args replace the image's entrypoint and its arguments (empty: the image's own); timeout is the
# Job's activeDeadlineSeconds and how long the run waits for it; backoff_limit the retries after a failed pod;
# pod_annotations go on the Job's pod only (the Deployment's pod_annotations and Dapr's never do).
MIGRATION_DEFAULTS = {"image": None, "command": [], "args": [], "timeout": 600, "backoff_limit": 0, "pod_annotations": {}}
# The migration Job is named <name>-migrate-<12-digit UTC time> and a Job name is at most 63 characters.
MIGRATION_JOB_SUFFIX_LEN = len("-migrate-") + 12


# A canary release (strategy canary): replicas of the canary Deployment while the steps run; steps, each a traffic
# weight (percent of the north-south requests sent to the canary), a pause (seconds the canary must stay healthy at
# that weight) and an optional metric gate; promotion auto (after the last step) or manual (playbooks/promote.yml);
# header: Ingress mode only, the request header that sends a request to the canary (nginx canary-by-header).
CANARY_DEFAULTS = {
    "replicas": 1,
    "steps": [{"weight": 10, "pause": 60, "gate": None}, {"weight": 50, "pause": 60, "gate": None}],
    "promotion": "auto",
    "header": None,
}
# A blue/green release (strategy blue_green): delay, the seconds the new colour must stay healthy behind the service's
# Service after the switch while the old colour still runs (switching back is instant), before the old one goes.
BLUE_GREEN_DEFAULTS = {"delay": 60}
STRATEGIES = ("rolling", "canary", "blue_green")
CANARY_PROMOTIONS = ("auto", "manual")
# A step's gate: a PromQL expression whose every sample must lie within max and/or min; no_data says whether an
# empty result passes (it does not by default).
GATE_DEFAULTS = {"query": None, "max": None, "min": None, "no_data": "fail"}
GATE_NO_DATA = ("fail", "pass")
# The names a strategy adds after <name>-service: a canary's Deployment and Services <name>-service-canary and
# <name>-service-stable, a blue/green service's Deployments <name>-service-blue and -green and its Service
# <name>-service-preview. The one owner of these suffixes (canary.py, blue_green.py and migrations.py import them);
# each name must stay a DNS-1035 label of at most 63 characters.
CANARY_SUFFIX = "-canary"
STABLE_SUFFIX = "-stable"
PREVIEW_SUFFIX = "-preview"
STRATEGY_SUFFIXES = {"canary": (CANARY_SUFFIX, STABLE_SUFFIX), "blue_green": ("-blue", "-green", PREVIEW_SUFFIX)}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_]*$")


# Keys whose value is a free-form mapping (validated per item, not merged against a fixed shape).
_FREE_MAPPINGS = ("env", "pod_labels", "pod_annotations", "node_selector")


def _describe(value):
    if isinstance(value, str):
        return f"{value!r} (string)"
    if value is None:
        return "null"
    return f"{value!r} ({_type_name(value)})"


def _type_name(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _fail(path, value, allowed):
    raise CatalogError(f"{path}: got {_describe(value)}; allowed: {allowed}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value):
    # Ansible hands over its own str subclasses; they are strings all the same.
    return isinstance(value, str)


def merge(base, override):
    """Recursively merge mapping override over base; lists and scalars replace."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict) and key not in _FREE_MAPPINGS:
            result[key] = merge(result[key], value)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            # Free-form mappings (env, labels, ...) merge one level: an inventory adds keys.
            merged = copy.deepcopy(result[key])
            merged.update(copy.deepcopy(value))
            result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_quantity(value, path):
    """Return a Kubernetes quantity as Decimal, or raise CatalogError naming path."""
    number = quantity_value(value)
    if number is None:
        _fail(path, value, "a Kubernetes quantity such as 100m, 0.5, 1, 128Mi or 1Gi (non-negative)")
    return number


class _Builder:
    """Builds one effective catalog; remembers where each value came from."""

    def __init__(self, builtin, overrides, registry, tag, environment):
        self.builtin = builtin
        self.overrides = overrides
        self.registry = registry
        self.tag = tag
        self.environment = environment
        self.builtin_index = {}

    # -- where a value came from ------------------------------------------------------------

    def origin(self, name, keys):
        """Variable path of entry name's value at keys: the override if it set it, else the built-in."""
        node = self.overrides.get(name) if isinstance(self.overrides, dict) else None
        found = isinstance(node, dict)
        for key in keys:
            in_dict = isinstance(node, dict) and key in node
            in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
            if found and (in_dict or in_list):
                node = node[key]
            else:
                found = False
                break
        builtin = name in self.builtin_index and not found
        path = f"{BUILTIN_VAR}[{self.builtin_index[name]}]" if builtin else f"{OVERRIDES_VAR}.{name}"
        for key in keys:
            path += f"[{key}]" if isinstance(key, int) else f".{key}"
        return path

    # -- inputs ---------------------------------------------------------------------------

    def check_inputs(self):
        if not isinstance(self.builtin, (list, tuple)):
            _fail(BUILTIN_VAR, self.builtin, "a list of catalog entries (mappings with a name)")
        for index, item in enumerate(self.builtin):
            path = f"{BUILTIN_VAR}[{index}]"
            if not isinstance(item, dict):
                _fail(path, item, "a mapping with at least a name")
            name = item.get("name")
            self.check_name(name, path + ".name")
            if name in self.builtin_index:
                _fail(path + ".name", name, "a name not used by another built-in entry")
            self.builtin_index[name] = index
        if self.overrides is None:
            self.overrides = {}
        if not isinstance(self.overrides, dict):
            _fail(OVERRIDES_VAR, self.overrides, "a mapping of service name to catalog entry fields")
        for name, override in self.overrides.items():
            self.check_name(name, f"{OVERRIDES_VAR} key")
            if override is not None and not isinstance(override, dict):
                _fail(f"{OVERRIDES_VAR}.{name}", override, "a mapping of catalog entry fields (or empty)")
            if isinstance(override, dict) and "name" in override and override["name"] != name:
                _fail(f"{OVERRIDES_VAR}.{name}.name", override["name"], f"the same name as the key ({name!r}) or no name at all")
        if self.registry is not None and not (_is_str(self.registry) and (self.registry == "" or _REGISTRY.match(self.registry))):
            _fail("erp_image_registry", self.registry, "a registry host[:port][/path] such as docker.io")
        if self.tag is not None and not (_is_str(self.tag) and _TAG.match(self.tag)):
            _fail("erp_image_tag", self.tag, "an image tag such as 1.0.0 (letters, digits, _ . -, at most 128; quote numbers in YAML)")
        if self.environment not in ENVIRONMENTS:
            _fail("erp_environment", self.environment, ", ".join(ENVIRONMENTS))

    @staticmethod
    def check_name(name, path):
        if not _is_str(name) or len(name) > MAX_NAME_LEN or not _DNS1035.match(name):
            _fail(
                path,
                name,
                f"a DNS-1035 label of at most {MAX_NAME_LEN} characters (lowercase letters, digits and '-', starting with a letter, not ending with '-')",
            )

    # -- one entry ------------------------------------------------------------------------

    def check_keys(self, name, keys, value, allowed_keys):
        path = self.origin(name, keys)
        if not isinstance(value, dict):
            _fail(path, value, "a mapping with keys " + ", ".join(allowed_keys))
        for key in value:
            if key not in allowed_keys:
                raise CatalogError("{}: unknown key {!r}; allowed keys: {}".format(self.origin(name, [*keys, key]), key, ", ".join(allowed_keys)))

    def check_bool(self, name, keys, value):
        if not isinstance(value, bool):
            _fail(self.origin(name, keys), value, "true or false")

    def check_int(self, name, keys, value, minimum, maximum=None):
        ok = _is_int(value) and value >= minimum and (maximum is None or value <= maximum)
        if not ok:
            if maximum is None:
                _fail(self.origin(name, keys), value, f"an integer >= {minimum}")
            _fail(self.origin(name, keys), value, f"an integer from {minimum} to {maximum}")

    def check_path(self, name, keys, value):
        test, allowed = _RULES["http_path"]
        if not test(value):
            _fail(self.origin(name, keys), value, allowed)

    def build_entry(self, name, source):
        defaults = entry_defaults(name)
        entry = merge(defaults, source)
        allowed = list(defaults)
        self.check_keys(name, [], entry, allowed)
        self.check_bool(name, ["enabled"], entry["enabled"])
        self.check_int(name, ["replicas"], entry["replicas"], 0, 1000)
        self.check_bool(name, ["gateway"], entry["gateway"])
        self.check_int(name, ["port"], entry["port"], 1, 65535)
        self.check_image(name, entry)
        app_id = entry["app_id"]
        if not _is_str(app_id) or len(app_id) > 63 or not _DNS1123_LABEL.match(app_id):
            _fail(self.origin(name, ["app_id"]), app_id, "a DNS-1123 label of at most 63 characters (lowercase letters, digits and '-')")
        self.check_resources(name, entry["resources"])
        self.check_keys(name, ["probes"], entry["probes"], list(defaults["probes"]))
        for key in defaults["probes"]:
            self.check_path(name, ["probes", key], entry["probes"][key])
        self.check_metrics(name, entry["metrics"], list(defaults["metrics"]))
        self.check_ingress_paths(name, entry["ingress_paths"])
        self.check_autoscaling(name, entry["autoscaling"], list(defaults["autoscaling"]))
        if entry["service_type"] not in SERVICE_TYPES:
            _fail(self.origin(name, ["service_type"]), entry["service_type"], ", ".join(SERVICE_TYPES))
        entry["env"] = self.check_env(name, entry["env"])
        self.check_labels(name, ["pod_labels"], entry["pod_labels"], reserved=True)
        entry["pod_annotations"] = self.check_annotations(
            name,
            ["pod_annotations"],
            entry["pod_annotations"],
            ": the Dapr sidecar's app-id, ports and settings, the config checksum); allowed: annotation keys outside these prefixes"
            " (extra Dapr settings go in service_dapr_extra_annotations)",
        )
        self.check_labels(name, ["node_selector"], entry["node_selector"], reserved=False)
        self.check_tolerations(name, entry["tolerations"])
        entry["migration"] = self.check_migration(name, entry["migration"])
        self.check_strategy(name, entry)
        self.complete(entry)
        return entry

    def check_image(self, name, entry):
        image = entry["image"]
        self.check_keys(name, ["image"], image, ["registry", "repository", "tag", "digest"])
        registry = image["registry"]
        if registry is not None and not (_is_str(registry) and (registry == "" or _REGISTRY.match(registry))):
            _fail(
                self.origin(name, ["image", "registry"]), registry, "null (use erp_image_registry), empty (no registry prefix) or a registry host[:port][/path]"
            )
        repository = image["repository"]
        if not _is_str(repository) or not _REPOSITORY.match(repository):
            _fail(self.origin(name, ["image", "repository"]), repository, f"an image repository such as erp-system/{name} (lowercase path components)")
        tag = image["tag"]
        if tag is not None and not (_is_str(tag) and _TAG.match(tag)):
            _fail(
                self.origin(name, ["image", "tag"]),
                tag,
                "null (use erp_image_tag) or an image tag such as 1.0.0 (letters, digits, _ . -; quote numbers in YAML)",
            )
        digest = image["digest"]
        if digest is not None and not (_is_str(digest) and _DIGEST.match(digest)):
            _fail(self.origin(name, ["image", "digest"]), digest, "null or a digest such as sha256:<64 lowercase hex digits>")
        if tag is None and self.tag is None:
            _fail(self.origin(name, ["image", "tag"]), tag, "an image tag, or set erp_image_tag for every service")
        effective_tag = tag if tag is not None else self.tag
        # The one owner of the rule: prod and staging pull what was tested, so a moving tag is refused.
        if self.environment in PINNED_ENVIRONMENTS and effective_tag == "latest" and digest is None:
            path = self.origin(name, ["image", "tag"]) if tag is not None else "erp_image_tag"
            _fail(
                path,
                effective_tag,
                f"a pinned version tag (e.g. 1.0.0) or an image.digest when erp_environment is {self.environment} ('latest' is not)",
            )

    def check_resources(self, name, resources):
        self.check_keys(name, ["resources"], resources, ["requests", "limits"])
        parsed = {}
        for section in ("requests", "limits"):
            values = resources[section]
            self.check_keys(name, ["resources", section], values, list(RESOURCE_NAMES))
            for resource in ("cpu", "memory"):
                if resource not in values:
                    raise CatalogError(
                        "{}: missing key {!r}; every service needs {} {}".format(
                            self.origin(name, ["resources", section]), resource, section, "for cpu and memory"
                        )
                    )
            for resource, value in values.items():
                path = self.origin(name, ["resources", section, resource])
                parsed[(section, resource)] = parse_quantity(value, path)
                if resource == "memory" and parsed[(section, resource)] == 0:
                    _fail(path, value, "a memory quantity greater than zero such as 128Mi")
                if _is_int(value) or isinstance(value, float):
                    values[resource] = str(value)
        for resource in over_limits(resources):
            _fail(
                self.origin(name, ["resources", "requests", resource]),
                resources["requests"][resource],
                "a {} request not above its limit {}".format(resource, resources["limits"][resource]),
            )

    def check_metrics(self, name, metrics, allowed):
        self.check_keys(name, ["metrics"], metrics, allowed)
        self.check_bool(name, ["metrics", "enabled"], metrics["enabled"])
        self.check_path(name, ["metrics", "path"], metrics["path"])
        if metrics["port"] is not None:
            self.check_int(name, ["metrics", "port"], metrics["port"], 1, 65535)

    def check_ingress_paths(self, name, paths):
        path = self.origin(name, ["ingress_paths"])
        if not isinstance(paths, list):
            _fail(path, paths, "a list of HTTP path prefixes such as [/api/reports]")
        seen = set()
        for index, value in enumerate(paths):
            self.check_path(name, ["ingress_paths", index], value)
            if value in seen:
                _fail(self.origin(name, ["ingress_paths", index]), value, "each path once per service")
            seen.add(value)

    def check_autoscaling(self, name, autoscaling, allowed):
        self.check_keys(name, ["autoscaling"], autoscaling, allowed)
        self.check_bool(name, ["autoscaling", "enabled"], autoscaling["enabled"])
        self.check_int(name, ["autoscaling", "min_replicas"], autoscaling["min_replicas"], 1, 1000)
        self.check_int(name, ["autoscaling", "max_replicas"], autoscaling["max_replicas"], 1, 1000)
        if autoscaling["max_replicas"] < autoscaling["min_replicas"]:
            _fail(
                self.origin(name, ["autoscaling", "max_replicas"]),
                autoscaling["max_replicas"],
                f"an integer >= autoscaling.min_replicas ({autoscaling['min_replicas']})",
            )
        for key in ("cpu_utilization", "memory_utilization"):
            value = autoscaling[key]
            if value is not None:
                self.check_int(name, ["autoscaling", key], value, 1, 1000)
        if autoscaling["cpu_utilization"] is None and autoscaling["memory_utilization"] is None:
            _fail(self.origin(name, ["autoscaling", "cpu_utilization"]), None, "a target percentage for cpu_utilization or memory_utilization (not both null)")

    def scalar_text(self, name, keys, value):
        """A string, number or boolean as the string Kubernetes expects (booleans as true/false)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if _is_int(value) or isinstance(value, float):
            return str(value)
        if not _is_str(value):
            _fail(self.origin(name, keys), value, "a string, number or boolean")
        return value

    def check_env(self, name, env):
        if not isinstance(env, dict):
            _fail(self.origin(name, ["env"]), env, "a mapping of environment variable name to value")
        result = {}
        for key, value in env.items():
            if not _is_str(key) or not _ENV_NAME.match(key):
                raise CatalogError(
                    "{}: invalid environment variable name {}; allowed: letters, digits, '_', '-', '.', not starting with a digit".format(
                        self.origin(name, ["env"]), _describe(key)
                    )
                )
            result[key] = self.scalar_text(name, ["env", key], value)
        return result

    def check_labels(self, name, keys, labels, reserved):
        path = self.origin(name, keys)
        if not isinstance(labels, dict):
            _fail(path, labels, "a mapping of label key to label value")
        for key, value in labels.items():
            self.check_qualified_key(path, key, "label key")
            if reserved and key in RESERVED_LABELS:
                raise CatalogError(f"{path}: label {key!r} is set by the collection and cannot be overridden; allowed: any other label key")
            if not _is_str(value) or len(value) > 63 or not _LABEL_VALUE.match(value):
                _fail(
                    self.origin(name, [*keys, key]),
                    value,
                    "a label value: at most 63 characters, alphanumeric at both ends, '-', '_', '.' inside (quote numbers and booleans in YAML)",
                )

    @staticmethod
    def check_qualified_key(path, key, what):
        allowed = f"a {what}: optional DNS subdomain prefix and '/', then a name of at most 63 characters (alphanumeric at both ends, '-', '_', '.' inside)"
        if not _is_str(key):
            raise CatalogError(f"{path}: invalid {what} {_describe(key)}; allowed: {allowed}")
        prefix, _sep, local = key.rpartition("/")
        bad = (
            not local
            or len(local) > 63
            or not _QUALIFIED_NAME.match(local)
            or (_sep and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)))
        )
        if bad:
            raise CatalogError(f"{path}: invalid {what} {_describe(key)}; allowed: {allowed}")

    def check_annotations(self, name, keys, annotations, reserved_because):
        """Pod annotations at ``keys`` as strings; keys in the collection's prefixes are refused, ``reserved_because`` says why."""
        path = self.origin(name, keys)
        if not isinstance(annotations, dict):
            _fail(path, annotations, "a mapping of annotation key to string value")
        result = {}
        for key, value in annotations.items():
            self.check_qualified_key(path, key, "annotation key")
            if key.startswith(RESERVED_ANNOTATION_PREFIXES):
                raise CatalogError(
                    f"{path}: annotation {key!r} is in a prefix the collection sets ({', '.join(RESERVED_ANNOTATION_PREFIXES)}{reserved_because}"
                )
            result[key] = self.scalar_text(name, [*keys, key], value)
        return result

    def check_tolerations(self, name, tolerations):
        path = self.origin(name, ["tolerations"])
        if not isinstance(tolerations, list):
            _fail(path, tolerations, "a list of Kubernetes tolerations (key, operator, value, effect, tolerationSeconds)")
        allowed = ["key", "operator", "value", "effect", "tolerationSeconds"]
        for index, item in enumerate(tolerations):
            keys = ["tolerations", index]
            self.check_keys(name, keys, item, allowed)
            operator = item.get("operator", "Equal")
            if operator not in TOLERATION_OPERATORS:
                _fail(self.origin(name, [*keys, "operator"]), operator, ", ".join(TOLERATION_OPERATORS))
            if "effect" in item and item["effect"] not in TOLERATION_EFFECTS:
                _fail(self.origin(name, [*keys, "effect"]), item["effect"], ", ".join(TOLERATION_EFFECTS))
            for key in ("key", "value"):
                if key in item and not _is_str(item[key]):
                    _fail(self.origin(name, [*keys, key]), item[key], "a string")
            if operator == "Exists" and item.get("value"):
                _fail(self.origin(name, [*keys, "value"]), item["value"], "no value when operator is Exists")
            if operator == "Equal" and not item.get("key"):
                _fail(self.origin(name, keys), item, "a toleration with a key when operator is Equal")
            if "tolerationSeconds" in item:
                self.check_int(name, [*keys, "tolerationSeconds"], item["tolerationSeconds"], 0)
                # The API server's rule (core/v1 validation): only a NoExecute taint evicts after a while.
                if item.get("effect") != "NoExecute":
                    _fail(self.origin(name, [*keys, "effect"]), item.get("effect"), "NoExecute when tolerationSeconds is set")

    def check_migration(self, name, migration):
        """The migration with its defaults filled in, or None; every field checked."""
        if migration is None:
            return None
        self.check_keys(name, ["migration"], migration, list(MIGRATION_DEFAULTS))
        migration = merge(MIGRATION_DEFAULTS, migration)
        image = migration["image"]
        if image is not None and not (_is_str(image) and _IMAGE_REF.match(image)):
            _fail(
                self.origin(name, ["migration", "image"]),
                image,
                "null (the service's image) or an image reference such as registry.example.com/erp-system/finance-migrate:1.0.0",
            )
        if self.environment in PINNED_ENVIRONMENTS and _is_str(image) and "@" not in image and image.rsplit("/", 1)[-1].partition(":")[2] in ("", "latest"):
            _fail(
                self.origin(name, ["migration", "image"]),
                image,
                f"an image with a pinned version tag or a digest when erp_environment is {self.environment} (not 'latest', not untagged)",
            )
        for key in ("command", "args"):
            value = migration[key]
            if not isinstance(value, list) or not all(_is_str(item) for item in value):
                _fail(self.origin(name, ["migration", key]), value, "a list of strings (empty: the image's own)")
        self.check_int(name, ["migration", "timeout"], migration["timeout"], 1, 86400)
        self.check_int(name, ["migration", "backoff_limit"], migration["backoff_limit"], 0, 10)
        migration["pod_annotations"] = self.check_annotations(
            name,
            ["migration", "pod_annotations"],
            migration["pod_annotations"],
            "); a migration Job's pod never gets a Dapr sidecar (it would keep the Job from completing); allowed: annotation keys outside these prefixes",
        )
        return migration

    def check_strategy(self, name, entry):
        """The strategy and the canary settings (checked whatever the strategy, so a switch finds no surprise)."""
        if entry["strategy"] not in STRATEGIES:
            _fail(self.origin(name, ["strategy"]), entry["strategy"], ", ".join(STRATEGIES))
        canary = entry["canary"]
        self.check_keys(name, ["canary"], canary, list(CANARY_DEFAULTS))
        self.check_int(name, ["canary", "replicas"], canary["replicas"], 1, 100)
        if canary["promotion"] not in CANARY_PROMOTIONS:
            _fail(self.origin(name, ["canary", "promotion"]), canary["promotion"], ", ".join(CANARY_PROMOTIONS))
        header = canary["header"]
        if header is not None and not (_is_str(header) and len(header) <= 256 and _HEADER_NAME.match(header)):
            _fail(self.origin(name, ["canary", "header"]), header, "null or an HTTP header name such as X-Canary (letters, digits, '-', '_')")
        steps = canary["steps"]
        if not isinstance(steps, list) or not steps:
            _fail(self.origin(name, ["canary", "steps"]), steps, "a non-empty list of steps such as [{weight: 10, pause: 60}, {weight: 50, pause: 60}]")
        canary["steps"] = [self.check_step(name, index, step) for index, step in enumerate(steps)]
        blue_green = entry["blue_green"]
        self.check_keys(name, ["blue_green"], blue_green, list(BLUE_GREEN_DEFAULTS))
        self.check_int(name, ["blue_green", "delay"], blue_green["delay"], 0, 3600)
        limit = strategy_name_limit(entry["strategy"])
        if len(name) > limit:
            suffixes = STRATEGY_SUFFIXES[entry["strategy"]]
            _fail(
                self.origin(name, ["strategy"]),
                entry["strategy"],
                "{} for a name longer than {} characters (its {} must be DNS-1035 labels of at most 63 characters)".format(
                    " or ".join(other for other in STRATEGIES if len(name) <= strategy_name_limit(other)),
                    limit,
                    ", ".join(f"<name>{SERVICE_SUFFIX}{suffix}" for suffix in suffixes),
                ),
            )
        if entry["strategy"] == "blue_green" and entry["autoscaling"]["enabled"]:
            _fail(
                self.origin(name, ["strategy"]),
                "blue_green",
                "rolling or canary while autoscaling.enabled is true (a HorizontalPodAutoscaler scales one Deployment; blue/green has two)",
            )

    def check_step(self, name, index, step):
        keys = ["canary", "steps", index]
        self.check_keys(name, keys, step, ["weight", "pause", "gate"])
        for key in ("weight", "pause"):
            if key not in step:
                raise CatalogError(f"{self.origin(name, keys)}: missing key {key!r}; every step needs a weight (1-100) and a pause (seconds)")
        self.check_int(name, [*keys, "weight"], step["weight"], 1, 100)
        self.check_int(name, [*keys, "pause"], step["pause"], 0, 86400)
        gate = step.get("gate")
        if gate is None:
            return {"weight": step["weight"], "pause": step["pause"], "gate": None}
        self.check_keys(name, [*keys, "gate"], gate, list(GATE_DEFAULTS))
        gate = merge(GATE_DEFAULTS, gate)
        query = gate["query"]
        if not _is_str(query) or not query.strip():
            _fail(self.origin(name, [*keys, "gate", "query"]), query, 'a PromQL expression such as sum(rate(http_requests_total{code=~"5.."}[1m]))')
        for bound in ("max", "min"):
            value = gate[bound]
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)):
                _fail(self.origin(name, [*keys, "gate", bound]), value, "null or a number")
        if gate["max"] is None and gate["min"] is None:
            _fail(self.origin(name, [*keys, "gate"]), gate, "a gate with a max, a min or both")
        if gate["max"] is not None and gate["min"] is not None and gate["min"] > gate["max"]:
            _fail(self.origin(name, [*keys, "gate", "min"]), gate["min"], f"a number not above max ({gate['max']})")
        if gate["no_data"] not in GATE_NO_DATA:
            _fail(self.origin(name, [*keys, "gate", "no_data"]), gate["no_data"], ", ".join(GATE_NO_DATA))
        return {"weight": step["weight"], "pause": step["pause"], "gate": gate}

    def complete(self, entry):
        """Add the computed fields templates use: resolved image reference, Service name, version label."""
        image = entry["image"]
        if image["registry"] is None:
            image["registry"] = self.registry if self.registry is not None else ""
        if image["tag"] is None:
            image["tag"] = self.tag
        base = image["repository"]
        if image["registry"]:
            base = "{}/{}".format(image["registry"], base)
        image["ref"] = "{}@{}".format(base, image["digest"]) if image["digest"] else "{}:{}".format(base, image["tag"])
        entry["service_name"] = entry["name"] + SERVICE_SUFFIX
        entry["version"] = version_label(image["tag"])
        if entry["metrics"]["port"] is None:
            entry["metrics"]["port"] = entry["port"]
        if entry["migration"] is not None:
            # The image the Job runs, and its name without the run's time (a Job name is at most 63 characters).
            entry["migration"]["ref"] = entry["migration"]["image"] or image["ref"]
            entry["migration"]["job_prefix"] = entry["name"][: 63 - MIGRATION_JOB_SUFFIX_LEN].rstrip("-") + "-migrate-"

    # -- the whole catalog ----------------------------------------------------------------

    def build(self):
        self.check_inputs()
        names = [item["name"] for item in self.builtin]
        names += sorted(name for name in self.overrides if name not in self.builtin_index)
        catalog = []
        for name in names:
            source = copy.deepcopy(self.builtin[self.builtin_index[name]]) if name in self.builtin_index else {}
            source = merge(source, self.overrides.get(name) or {})
            source.pop("name", None)
            catalog.append(self.build_entry(name, source))
        self.check_across(catalog)
        return catalog

    def check_across(self, catalog):
        """Paths and Dapr app ids must be unique among enabled services; blame the inventory's side first."""
        for field, what in (("ingress_paths", "a path no other enabled service routes"), ("app_id", "a Dapr app id no other enabled service uses")):
            owners = {}
            for entry in catalog:
                if not entry["enabled"]:
                    continue
                values = entry[field] if field == "ingress_paths" else [entry[field]]
                for index, value in enumerate(values):
                    keys = [field, index] if field == "ingress_paths" else [field]
                    if value not in owners:
                        owners[value] = (entry["name"], keys)
                        continue
                    other, other_keys = owners[value]
                    here, there = self.origin(entry["name"], keys), self.origin(other, other_keys)
                    if not here.startswith(OVERRIDES_VAR) and there.startswith(OVERRIDES_VAR):
                        here, there, other = there, here, entry["name"]
                    _fail(here, value, f"{what} ({other!r} already has it at {there})")


def strategy_name_limit(strategy):
    """The longest service name a strategy allows: <name>-service and its longest suffix within 63 characters."""
    return 63 - len(SERVICE_SUFFIX) - max(map(len, STRATEGY_SUFFIXES.get(strategy, ("",))))


def version_label(tag):
    """Turn an image tag into a valid app.kubernetes.io/version label value."""
    value = (tag or "")[:63]
    value = re.sub(r"[^A-Za-z0-9_.-]", "", value)
    return value.strip("-_.")


def plain(value):
    """Return value as plain dicts, lists and scalars.

    Ansible hands filters lazy containers that template on access and cannot always be deep-copied;
    walking them once yields data this module can copy and compare freely.
    """
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def build_catalog(builtin, overrides=None, registry="docker.io", tag=None, environment="local"):
    """Return the effective service catalog: a list of validated, completed entries.

    builtin: list of entries (each with a name) in deployment order.
    overrides: mapping name -> partial entry; merged recursively over a built-in entry of that
    name, or added as a new service.
    Raises CatalogError for any invalid input.
    """
    return _Builder(plain(builtin), plain(overrides), plain(registry), plain(tag), plain(environment)).build()


def ingress_routes(catalog):
    """Return the Ingress routes of the enabled entries: list of {path, service, service_name}.

    Disabled services contribute no routes; a path routed twice is an error.
    """
    catalog = plain(catalog)
    if not isinstance(catalog, list):
        _fail("erp_service_catalog", catalog, "the list computed by the erp.platform.service_catalog filter")
    routes = []
    owners = {}
    for index, entry in enumerate(catalog):
        if not isinstance(entry, dict) or "name" not in entry or "ingress_paths" not in entry:
            _fail(f"erp_service_catalog[{index}]", entry, "an entry computed by erp.platform.service_catalog")
        if not entry.get("enabled", True):
            continue
        for path in entry["ingress_paths"]:
            if path in owners:
                _fail(f"erp_service_catalog[{index}].ingress_paths", path, f"a path no other enabled service routes ({owners[path]!r} already routes it)")
            owners[path] = entry["name"]
            routes.append({"path": path, "service": entry["name"], "service_name": entry.get("service_name", entry["name"] + SERVICE_SUFFIX)})
    return sorted(routes, key=lambda route: route["path"])
