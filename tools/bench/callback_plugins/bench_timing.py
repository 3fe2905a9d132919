# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback of the benchmark (tools/bench): a wall-clock record of every task.

Writes one JSON line per event to the file named by BENCH_TIMING_FILE, flushed at
once, so the benchmark can see a task start while the playbook still runs and can
take the moment a module's result reached the controller (the module's return).
The per-task durations are the profile the benchmark reports (the same measurement
as ansible.posix.profile_tasks, kept as data instead of text).
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timing
type: aggregate
short_description: record task start and result times for tools/bench
description:
  - Appends JSON lines (event, time, task, action, role, changed, failed) to the file in BENCH_TIMING_FILE.
requirements:
  - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    """Timestamps of task starts and results, as JSON lines."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        path = os.environ.get("BENCH_TIMING_FILE")
        # Line-buffered: the benchmark reads the file while the playbook runs.
        self._out = open(path, "a", buffering=1, encoding="utf-8") if path else None  # noqa: SIM115

    def _emit(self, event, task=None, result=None, **extra):
        if self._out is None:
            return
        record = {"event": event, "time": time.time()}
        if task is not None:
            record["task"] = task.get_name()
            record["action"] = task.action
            role = getattr(task, "_role", None)
            record["role"] = role.get_name() if role else None
            record["uuid"] = task._uuid
        if result is not None:
            record["changed"] = bool(result._result.get("changed"))
            record["failed"] = event == "runner_failed" or bool(result._result.get("failed"))
            if record["failed"]:
                record["msg"] = str(result._result.get("msg", ""))[:2000]
            if "rollout_health" in (task.action or ""):
                # The verdict benchmark reports what the module itself said (per-resource times).
                record["result"] = {k: v for k, v in result._result.items() if not k.startswith("_ansible")}
        record.update(extra)
        self._out.write(json.dumps(record, default=str) + "\n")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit("task_start", task)

    def v2_playbook_on_handler_task_start(self, task):
        self._emit("task_start", task)

    def v2_runner_on_start(self, host, task):
        self._emit("runner_start", task)

    def v2_runner_on_ok(self, result):
        self._emit("runner_ok", result._task, result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("runner_failed", result._task, result, ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._emit("runner_skipped", result._task, result)

    def v2_runner_item_on_ok(self, result):
        self._emit("item", result._task)

    def v2_runner_item_on_failed(self, result):
        self._emit("item", result._task)

    def v2_playbook_on_stats(self, stats):
        self._emit("stats", summary={h: stats.summarize(h) for h in stats.processed})
        if self._out is not None:
            self._out.close()
            self._out = None
