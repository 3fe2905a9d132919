# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collection's shared input rules, each written once: Kubernetes names, label values, quantities,
probe timings. The service catalog, the Dapr inputs and every role's tasks/validate.yml (through the
filter erp.platform.input_problems) check against these, so a rule cannot drift between its users.

A check is a mapping {var, value, rule} and optionally each: true, which applies the rule to every leaf
of a mapping value (named var.key.subkey). A problem names the variable, the bad value and what is allowed.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, DecimalException

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# A label value that may not be empty (an empty one is allowed where a label is optional).
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# ConfigMap and Secret data keys.
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# Kubernetes resource.Quantity, non-negative: digits, optional fraction, optional suffix.
QUANTITY = re.compile(r"^(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]+)?$")
# A host name, optionally a wildcard: *.example.com.
HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
# Labels the collection sets on every object it manages (and pod selectors use): no inventory label map
# may replace them, or the object would carry another owner's labels.
RESERVED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
)
# An absolute HTTP path of URL path characters (no spaces); "//" is refused separately.
HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


def is_str(value) -> bool:
    return isinstance(value, str)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def http_path(value) -> bool:
    return is_str(value) and bool(HTTP_PATH.match(value)) and "//" not in value


def dns_label(value) -> bool:
    return is_str(value) and len(value) <= 63 and bool(DNS1123_LABEL.match(value))


def dns_subdomain(value) -> bool:
    return is_str(value) and len(value) <= 253 and bool(DNS1123_SUBDOMAIN.match(value))


def label_value(value) -> bool:
    return is_str(value) and bool(LABEL_VALUE.match(value))


_SUFFIX_FACTOR = {
    None: Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip


def quantity_value(value):
    """A non-negative Kubernetes quantity as a Decimal (2, 0.5, "500m", "1Gi", "1e3"), or None when it is not one."""
    # Numbers are quantities too (2 CPUs); booleans are not.
    if is_int(value) or isinstance(value, float):
        return Decimal(str(value)) if value >= 0 else None
    if not is_str(value):
        return None
    match = QUANTITY.match(value)
    if not match:
        return None
    suffix = match.group("suffix")
    try:
        number = Decimal(match.group("num"))
        if suffix and suffix[0] in "eE":
            return number * (Decimal(10) ** int(suffix[1:]))
        return number * _SUFFIX_FACTOR[suffix]
    except (DecimalException, ValueError, OverflowError):
        return None


def quantity(value) -> bool:
    return quantity_value(value) is not None


def over_limits(resources) -> list:
    """The resources of container resources {requests, limits} whose request is above its limit (the API server
    refuses such a pod). Values that are not quantities are left to the quantity rule."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    found = []
    for resource, request in requests.items():
        wanted, cap = quantity_value(request), quantity_value(limits.get(resource))
        if wanted is not None and cap is not None and wanted > cap:
            found.append(resource)
    return found


def requests_within_limits(value) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("requests") or {}, dict) or not isinstance(value.get("limits") or {}, dict):
        return False
    return not over_limits(value)


def regex(value) -> bool:
    if not is_str(value):
        return False
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError):
        return False
    return True


def whole_number(value, minimum: int) -> bool:
    if is_int(value):
        return value >= minimum
    return is_str(value) and value.isascii() and value.isdigit() and int(value) >= minimum


# rule -> (test, what is allowed)
RULES = {
    "dns_label": (dns_label, "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"),
    "dns_subdomain": (dns_subdomain, "a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters)"),
    "host": (lambda value: value == "" or (is_str(value) and len(value) <= 253 and bool(HOST.match(value))), "empty or a DNS name, optionally *.-prefixed"),
    "label_value": (
        label_value,
        "a non-empty label value (letters, digits, '-', '_', '.', starting and ending with a letter or digit, at most 63 characters)",
    ),
    "data_key": (lambda value: is_str(value) and bool(DATA_KEY.match(value)), "a ConfigMap key of letters, digits, '-', '_' and '.'"),
    "quantity": (quantity, "Kubernetes quantities such as 500m, 2, 256Mi, 10Gi"),
    "requests_within_limits": (
        requests_within_limits,
        "a mapping of requests and limits in which no request is above its limit (the API server refuses such a pod)",
    ),
    "probe_seconds": (
        lambda value: whole_number(value, 1),
        "whole numbers of at least 1 (a 0 would be replaced by Kubernetes' default, a negative number refused by the API server)",
    ),
    "seconds": (lambda value: whole_number(value, 0), "a whole number of seconds, 0 or more"),
    "positive_seconds": (lambda value: whole_number(value, 1), "a whole number of seconds, at least 1"),
    "positive_count": (lambda value: whole_number(value, 1), "a whole number of at least 1"),
    "pinned_tag": (lambda value: value not in (None, "", "latest") and not isinstance(value, bool), "a pinned tag, not latest"),
    "digest": (lambda value: value in (None, "") or (is_str(value) and bool(DIGEST.match(value))), "empty or sha256:<64 hex>"),
    "rolling_count": (lambda value: (is_int(value) and value >= 0) or (is_str(value) and bool(re.match(r"^[0-9]+%?$", value))), "a number or a percentage"),
    "port": (lambda value: whole_number(value, 1) and int(value) <= 65535, "a TCP port from 1 to 65535"),
    "pg_identifier": (
        lambda value: is_str(value) and bool(re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", value)),
        "a PostgreSQL identifier (letters, digits, underscore, not starting with a digit)",
    ),
    "http_url": (
        lambda value: value == "" or (is_str(value) and bool(re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$", value))),
        "empty or an http:// or https:// URL such as http://prometheus.monitoring.svc:9090",
    ),
    "http_path": (http_path, "an HTTP path starting with '/' (no spaces, no '//'), such as /api/reports"),
    "duration": (
        lambda value: is_str(value) and bool(re.match(r"^([0-9]+(ms|s|m|h|d|w|y))+$", value)) and bool(re.search(r"[1-9]", value)),
        "a Prometheus duration such as 30s, 5m or 1h30m (not zero)",
    ),
    "regex": (regex, "a Python regular expression (re module syntax)"),
    "unreserved_label_keys": (
        lambda value: isinstance(value, dict) and not set(value) & set(RESERVED_LABELS),
        "a mapping of labels without the ones the collection sets (" + ", ".join(RESERVED_LABELS) + ")",
    ),
    "pod_security_version": (lambda value: is_str(value) and bool(re.match(r"^(latest|v1\.[0-9]+)$", value)), "latest or v1.N"),
}


class InputRuleError(ValueError):
    """A check that names no known rule, or is not a mapping: a defect of the caller, not of the input."""


def show(value) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _leaves(var: str, value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(f"{var}.{key}", item)
    else:
        yield var, value


def problems(checks) -> list[str]:
    """One message per value that breaks its rule: '<var>: got <value>; allowed: <what>'."""
    found = []
    for check in checks:
        if not isinstance(check, dict) or check.get("rule") not in RULES or not is_str(check.get("var")):
            raise InputRuleError(f"not a check {{var, value, rule}} with a rule of {sorted(RULES)}: {show(check)}")
        test, allowed = RULES[check["rule"]]
        value = check.get("value")
        if check.get("each"):
            if not isinstance(value, dict):
                found.append(f"{check['var']}: got {show(value)}; allowed: a mapping whose values are {allowed}")
                continue
            items = list(_leaves(check["var"], value))
        else:
            items = [(check["var"], value)]
        found.extend(f"{var}: got {show(item)}; allowed: {allowed}" for var, item in items if not test(item))
    return found
