"""Helpers shared by the integration tests that run playbooks: the recap, what changed, bounded waits."""

from __future__ import annotations

import re
import subprocess
import time


def recap(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The PLAY RECAP counters of localhost (ok, changed, failed, ...)."""
    match = re.search(r"localhost\s+:\s+(.*)$", result.stdout, re.MULTILINE)
    assert match, f"no PLAY RECAP in output:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def changed_tasks(result: subprocess.CompletedProcess) -> list[str]:
    """Headers of the tasks that reported a change, to say what was not idempotent."""
    tasks, current = [], ""
    for line in result.stdout.splitlines():
        if line.startswith("TASK ["):
            current = line
        elif line.startswith("changed:"):
            tasks.append(current)
    return tasks


def wait_for(predicate, what: str, timeout: float = 300, interval: float = 2):
    """The first truthy value of predicate(), polled every interval seconds; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
