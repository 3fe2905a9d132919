# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metric gate of a canary step: a PromQL instant query and a threshold, judged from the uri result.

The playbook asks Prometheus (GET ``<url>/api/v1/query?query=...``, built by ``query_url``) with
``ansible.builtin.uri`` accepting any status, and ``verdict`` turns what uri registered into one verdict:

- ``pass``: every sample within the threshold;
- ``threshold``: a sample outside it (the worst one is named, with its labels and value);
- ``no_data``: an empty result; a pass only when the gate says ``no_data: pass``;
- ``unreachable``: no HTTP answer at all (uri's status -1: refused, timeout, DNS);
- ``error``: an answer that is no usable instant value: Prometheus' error body (bad_data, timeout, ...),
  another HTTP error, a body that is not the Prometheus API format, a matrix, string or histogram result.

Plain Python (no Ansible import). Values come as strings (the API's way to send NaN and +-Inf) and are
parsed with float(); NaN never passes, +Inf fails a maximum, -Inf fails a minimum. A value equal to a
bound passes.
"""

import json
import math
import re
from urllib.parse import quote

VERDICTS = ("pass", "threshold", "no_data", "unreachable", "error")
_STATUS_PREFIX = re.compile(r"^Status code was -?\d+ and not \[[^\]]*\]: ")
_SNIPPET = 120


def query_url(base_url, query):
    """The GET URL of the instant query: ``base_url`` (trailing slashes dropped) + ``/api/v1/query?query=`` + the encoded query."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError(f"base_url: got {base_url!r}; allowed: the Prometheus URL, e.g. http://prometheus.monitoring:9090")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query: got {query!r}; allowed: a PromQL expression")
    return base_url.strip().rstrip("/") + "/api/v1/query?query=" + quote(query, safe="")


def number(value):
    """A sample value or bound as Prometheus writes it: NaN, +Inf, -Inf, integers without '.0'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def labels(metric):
    """A series as PromQL writes it: ``name{a="x", b="y"}``; ``{}`` without labels."""
    metric = dict(metric or {})
    name = metric.pop("__name__", "")
    return name + "{" + ", ".join(f"{key}={json.dumps(str(value))}" for key, value in sorted(metric.items())) + "}"


def _result(verdict, reason, value=None, series=0):
    return {"passed": verdict == "pass", "verdict": verdict, "value": value, "series": series, "reason": reason}


def _bound(gate, key):
    value = gate.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{key}: got {value!r}; allowed: a number")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: got {value!r}; allowed: a number") from None
    if math.isnan(value):
        raise ValueError(f"{key}: got NaN; allowed: a number")
    return value


def _threshold_text(maximum, minimum):
    if maximum is not None and minimum is not None:
        return f"the range {number(minimum)} to {number(maximum)}"
    if maximum is not None:
        return f"the maximum {number(maximum)}"
    return f"the minimum {number(minimum)}"


def _margin(value, maximum, minimum):
    """How far inside the threshold a value is (negative: outside); NaN is outside by an unknown amount."""
    if math.isnan(value):
        return -math.inf
    margins = []
    if maximum is not None:
        margins.append(maximum - value)
    if minimum is not None:
        margins.append(value - minimum)
    return min(margins)


def _outside(value, series, maximum, minimum):
    """Why a sample is outside the threshold, or None."""
    if math.isnan(value):
        return f"NaN for {series}, which never passes {_threshold_text(maximum, minimum)} (not a number, e.g. 0/0 without traffic)"
    if maximum is not None and value > maximum:
        return f"{number(value)} above the maximum {number(maximum)} for {series}"
    if minimum is not None and value < minimum:
        return f"{number(value)} below the minimum {number(minimum)} for {series}"
    return None


def _where(response):
    """The URL asked, without its query string (the reason names the query already)."""
    return str(response.get("url") or "Prometheus").split("?", 1)[0]


def _snippet(text):
    text = " ".join(str(text).split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


def _body(response):
    """The parsed body: uri's ``json`` or, failing that, ``content`` parsed as JSON; None when neither is JSON."""
    body = response.get("json")
    if isinstance(body, dict):
        return body
    content = response.get("content")
    if isinstance(content, str) and content.strip().startswith("{"):
        try:
            body = json.loads(content)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    return None


def _samples(data, query):
    """[(series, value)] of a vector or scalar result, or (None, reason) for any other result."""
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "matrix":
        count = len(result) if isinstance(result, list) else 0
        return None, (
            f"{query}: Prometheus returned a range vector (matrix, {count} series); a gate needs an instant value: "
            "drop the range selector or subquery [...], or wrap it in a function such as rate() or max_over_time()"
        )
    if result_type == "scalar":
        if not (isinstance(result, list) and len(result) == 2):
            return None, f"{query}: a scalar result that is not [<time>, <value>]: {_snippet(json.dumps(result))}"
        return [("the scalar result", result[1])], None
    if result_type != "vector":
        return None, f"{query}: Prometheus returned resultType {result_type!r}; a gate needs a vector or a scalar"
    if not isinstance(result, list):
        return None, f"{query}: a vector result that is not a list: {_snippet(json.dumps(result))}"
    samples = []
    for item in result:
        item = item if isinstance(item, dict) else {}
        series = labels(item.get("metric"))
        if "value" not in item:
            kind = "a native histogram" if "histogram" in item else "no value"
            return None, f"{query}: sample {series} has {kind}; a gate needs a float, e.g. histogram_quantile() or histogram_count()"
        value = item["value"]
        if not (isinstance(value, list) and len(value) == 2):
            return None, f"{query}: sample {series} has a value that is not [<time>, <value>]: {_snippet(json.dumps(value))}"
        samples.append((series, value[1]))
    return samples, None


def _http_error(response, body, query):
    status = response.get("status")
    where = _where(response)
    if isinstance(body, dict) and body.get("status") == "error":
        return _result("error", f"{query}: Prometheus answered HTTP {status}, {body.get('errorType') or 'error'}: {body.get('error') or '(no message)'}")
    if not 200 <= status < 300:
        detail = response.get("content") or response.get("msg") or ""
        return _result("error", f"{query}: HTTP {status} from {where}: {_snippet(detail) or '(no body)'}")
    if not (isinstance(body, dict) and body.get("status") == "success" and isinstance(body.get("data"), dict)):
        kind = response.get("content_type") or "no content type"
        start = response.get("content") or (json.dumps(body) if body is not None else "")
        return _result(
            "error",
            f"{query}: HTTP {status} from {where} is not a Prometheus API answer ({kind}): {_snippet(start) or '(empty body)'}; "
            "is the URL the Prometheus base URL, and is no sign-in proxy in the way?",
        )
    return None


def verdict(gate, response):
    """The verdict of ``gate`` on the ``ansible.builtin.uri`` result ``response``.

    ``gate``: {query, max, min, no_data ("fail" or "pass")}; missing keys read as None and "fail".
    Returns {passed, verdict, value (the worst sample's, or None), series (number of samples), reason}.
    """
    gate = gate if isinstance(gate, dict) else {}
    response = response if isinstance(response, dict) else {}
    query = str(gate.get("query") or "(no query)")
    try:
        maximum, minimum = _bound(gate, "max"), _bound(gate, "min")
    except ValueError as error:
        return _result("error", f"{query}: the gate's {error}")
    if maximum is None and minimum is None:
        return _result("error", f"{query}: the gate has neither max nor min, so nothing to compare with")
    if minimum is not None and maximum is not None and minimum > maximum:
        return _result("error", f"{query}: the gate's min {number(minimum)} is above its max {number(maximum)}")

    if response.get("skipped"):
        return _result("error", f"{query}: the Prometheus query did not run (its task was skipped)")
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or status <= 0:
        where = _where(response)
        detail = _STATUS_PREFIX.sub("", str(response.get("msg") or "no answer"))
        return _result("unreachable", f"{query}: Prometheus unreachable at {where}: {detail}")

    body = _body(response)
    failure = _http_error(response, body, query)
    if failure:
        return failure

    samples, problem = _samples(body["data"], query)
    if problem:
        return _result("error", problem)
    warnings = body.get("warnings") or []
    warned = f" (Prometheus warned: {_snippet('; '.join(map(str, warnings)))})" if warnings else ""
    threshold = _threshold_text(maximum, minimum)
    if not samples:
        if gate.get("no_data") == "pass":
            return {**_result("no_data", f"{query}: no data (empty result); passes because the gate's no_data is pass{warned}"), "passed": True}
        return _result("no_data", f"{query}: no data (empty result), so nothing shows it within {threshold}; set no_data: pass to accept that{warned}")

    parsed = []
    for series, text in samples:
        try:
            parsed.append((series, float(text)))
        except (TypeError, ValueError):
            return _result("error", f"{query}: sample {series} has value {text!r}, not a number", series=len(samples))
    worst_index = min(range(len(parsed)), key=lambda index: _margin(parsed[index][1], maximum, minimum))
    worst_series, worst = parsed[worst_index]
    outside = [index for index, (series, value) in enumerate(parsed) if _outside(value, series, maximum, minimum)]
    if not outside:
        others = f"; worst {number(worst)} for {worst_series}" if len(parsed) > 1 else f" for {worst_series}"
        count = f"{len(parsed)} series" if len(parsed) > 1 else number(worst)
        return _result("pass", f"{query}: {count} within {threshold}{others}{warned}", worst, len(parsed))
    reason = f"{query}: {_outside(worst, worst_series, maximum, minimum)}"
    rest = [parsed[index] for index in outside if index != worst_index]
    if rest:
        listed = ", ".join(f"{number(value)} for {series}" for series, value in rest[:3])
        more = f" and {len(rest) - 3} more" if len(rest) > 3 else ""
        reason += f"; also outside {threshold}: {listed}{more}"
    reason += f"; {len(outside)} of {len(parsed)} series outside{warned}"
    return _result("threshold", reason, worst, len(parsed))
