# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout report of erp.platform.rollout_health: ordering, summary table, messages.

Pure functions over verdicts (see rollout_status), importable without Ansible.
"""

import re

from ansible_collections.erp.platform.plugins.module_utils.rollout_status import (
    CURRENT,
    FAILED,
    IN_PROGRESS,
    NOT_FOUND,
    SUSPENDED,
    TERMINATING,
    admission_core,
    describe_fault,
    parse_time,
)

# Blocking first: what failed, then what is missing or stuck, then what is merely slow.
_STATUS_RANK = {FAILED: 0, NOT_FOUND: 1, SUSPENDED: 2, TERMINATING: 3, IN_PROGRESS: 4, CURRENT: 5}
_KIND_RANK = {"Deployment": 0, "StatefulSet": 1, "DaemonSet": 2, "Job": 3, "Service": 4, "Ingress": 5, "HTTPRoute": 6, "Component": 7}

# Keys of a resource entry in the module result (the verdict's internals stay out).
RESULT_KEYS = ("kind", "name", "status", "image", "ready", "desired", "revision", "rollout_seconds", "seconds_to_ready", "message", "fault", "events")

MESSAGE_WIDTH = 72

# The " (xN)" that warning_events appends to a repeated event.
_COUNT_RE = re.compile(r" \(x\d+\)$")


def order(verdicts):
    """Blocking resources first; among failures the earliest detected first; then kind and name."""

    def key(verdict):
        failed_at = verdict.get("failed_at")
        return (
            _STATUS_RANK.get(verdict["status"], 9),
            failed_at if failed_at is not None else float("inf"),
            _KIND_RANK.get(verdict["kind"], 9),
            verdict["name"] or "",
        )

    return sorted(verdicts, key=key)


def result_entry(verdict):
    entry = {key: verdict.get(key) for key in RESULT_KEYS}
    for key in ("seconds_to_ready", "rollout_seconds"):
        if entry[key] is not None:
            entry[key] = round(entry[key], 2)
    return entry


def _cell(value):
    return "-" if value is None else str(value)


def summary_lines(verdicts):
    """A fixed-width table, one line per resource, in report order."""
    rows = [("STATUS", "KIND", "NAME", "IMAGE", "READY", "REVISION", "ROLLOUT", "TIME", "MESSAGE")]
    for verdict in verdicts:
        ready = "-" if verdict.get("desired") is None else "{}/{}".format(_cell(verdict.get("ready")), verdict["desired"])
        seconds = verdict.get("seconds_to_ready")
        rollout = verdict.get("rollout_seconds")
        message = verdict.get("message") or ""
        if len(message) > MESSAGE_WIDTH:
            message = message[: MESSAGE_WIDTH - 3] + "..."
        revision = _cell(verdict.get("revision"))
        if len(revision) > 24:
            revision = revision[:21] + "..."
        rows.append(
            (
                verdict["status"],
                verdict["kind"],
                verdict["name"] or "",
                _cell(verdict.get("image")),
                ready,
                revision,
                "-" if rollout is None else f"{rollout:.0f}s",
                "-" if seconds is None else f"{seconds:.1f}s",
                message,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(len(widths))]
        cells.append(row[-1])
        lines.append("  ".join(cells).rstrip())
    return lines


def hold_phrase(outcome, hold, held, hold_began):
    """What became of the hold (the module's option), or "" without one or when nothing was ever all Current.

    ``held`` is how long the latest all-Current stretch lasted; ``hold_began`` when everything was first
    Current (None if never)."""
    if not hold or hold_began is None:
        return ""
    if outcome == "healthy":
        return f"held Current for {held:.1f} s (hold {hold} s)"
    if outcome == "failed":
        return f"failed during the hold of {hold} s after {held:.1f} s healthy"
    return f"the hold of {hold} s was not completed after {held:.1f} s healthy"


def headline(verdicts, outcome, elapsed, hold=0, held=0.0, hold_began=None):
    """One sentence: how many resources are Current, what became of the hold, and what blocks the rest."""
    total = len(verdicts)
    current = len([v for v in verdicts if v["status"] == CURRENT])
    held_text = hold_phrase(outcome, hold, held, hold_began)
    if outcome == "healthy":
        text = f"all {total} resources are Current after {elapsed:.1f}s"
        return f"{text} and {held_text}" if held_text else text
    blocking = [v for v in verdicts if v["status"] != CURRENT]
    text = f"{current} of {total} resources are Current after {elapsed:.1f}s"
    if held_text:
        text += "; " + held_text
    if blocking:
        first = blocking[0]
        text += "; blocking: {}/{} {}: {}".format(first["kind"], first["name"], first["status"], first.get("message") or "")
    return text


def warning_events(events, limit=3):
    """Recent Warning events as short strings, newest last ('Reason: message (xN)')."""

    def when(event):
        for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
            stamp = parse_time(event.get(key) or ((event.get("series") or {}).get("lastObservedTime")))
            if stamp is not None:
                return stamp
        return 0.0

    warnings = sorted((e for e in events if e.get("type") == "Warning"), key=when)
    lines = []
    for event in warnings[-limit:]:
        count = event.get("count") or (event.get("series") or {}).get("count") or 1
        line = "{}: {}".format(event.get("reason") or "?", (event.get("message") or event.get("note") or "").strip())
        if count and int(count) > 1:
            line += f" (x{count})"
        lines.append(line)
    return lines


def failure_message(namespace, verdicts, outcome, elapsed, timeout, hold=0, held=0.0, hold_began=None):
    """The module's failure message: what failed, where, why, and what else was still pending.

    After everything had been Current once under a hold, it says so: "rollout failed during the hold of 30 s
    after 7.0 s healthy, in namespace ..." - the resource became unhealthy after being ready."""
    failed = [v for v in verdicts if v["status"] in (FAILED, NOT_FOUND, SUSPENDED, TERMINATING)]
    pending = [v for v in verdicts if v["status"] == IN_PROGRESS]
    held_text = hold_phrase(outcome, hold, held, hold_began)
    parts = []
    if outcome == "timeout":
        parts.append(f"timed out after {timeout}s in namespace {namespace}" + ("; " + held_text if held_text else ""))
    elif held_text:
        parts.append(f"rollout {held_text}, in namespace {namespace} after {elapsed:.1f}s")
    else:
        parts.append(f"rollout failed in namespace {namespace} after {elapsed:.1f}s")
    details = []
    for verdict in failed:
        text = "{}/{} {}: {}".format(verdict["kind"], verdict["name"], verdict["status"], verdict.get("message") or "")
        if verdict.get("events"):
            text += " [events: {}]".format("; ".join(verdict["events"]))
        details.append(text)
    for verdict in pending:
        details.append("{}/{} still {}: {}".format(verdict["kind"], verdict["name"], verdict["status"], verdict.get("message") or ""))
    message = parts[0]
    if details:
        message += ": " + " | ".join(details)
    return message


def rollback_message(rollbacks):
    """What was rolled back to which revision, and whether that was verified."""
    texts = []
    for item in rollbacks:
        if item.get("to_revision") is None:
            texts.append("{}/{} not rolled back: {}".format(item["kind"], item["name"], item.get("message")))
            continue
        text = "{}/{} rolled back from revision {} to revision {}".format(item["kind"], item["name"], item.get("from_revision"), item["to_revision"])
        if item.get("planned_only"):
            text = "{}/{} would be rolled back from revision {} to revision {} (check mode)".format(
                item["kind"], item["name"], item.get("from_revision"), item["to_revision"]
            )
        elif item.get("verified"):
            if item.get("new_revision") and item["new_revision"] != item["to_revision"]:
                text += " (now revision {})".format(item["new_revision"])
            text += " and is healthy again"
        else:
            text += " but is not healthy: {}".format(item.get("message") or "")
        texts.append(text)
    return "; ".join(texts)


def new_events(lines, message):
    """The event lines (from warning_events) that add to ``message``: not one that only repeats it.

    A FailedCreate event repeats the ReplicaFailure condition as "Error creating: <the same refusal>",
    each time for another generated pod name; those count as repeats too.
    """
    core = admission_core(message)
    kept = []
    for line in lines or []:
        text = line.split(": ", 1)[-1]
        text = _COUNT_RE.sub("", text)
        if text in message or (admission_core(text) and admission_core(text) in core):
            continue
        kept.append(line)
    return kept


def attach_events(fault, events):
    """Add the pod's recent Warning events to a fault; returns the fault."""
    if fault is not None:
        fault["events"] = warning_events(events)
    return fault


__all__ = [
    "attach_events",
    "describe_fault",
    "failure_message",
    "headline",
    "hold_phrase",
    "new_events",
    "order",
    "result_entry",
    "rollback_message",
    "summary_lines",
    "warning_events",
]
