"""The one way the integration tests run Ansible: playbooks (`run_playbook`) and single modules (`run_module`).

`run_playbook` runs `ansible-playbook` from the checkout (or from `cwd`) with the project's
text callback (ansible.cfg: default callback, YAML result format, no colour) and returns a
`PlaybookRun`: a CompletedProcess (returncode, stdout, stderr) with the recap, the failed
task, its message and the changed tasks read from that text. `run_module` runs one module
through `ansible localhost -m` with the one JSON callback (ansible.posix.json) and returns
the task's result. Every integration test runs Ansible through these two; the AWX test runs
ansible-runner on purpose (that is the user's path).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
JSON_CALLBACK = "ansible.posix.json"


class PlaybookRun(subprocess.CompletedProcess):
    """One ansible-playbook run: returncode, stdout, stderr, plus what the tests read from the text output."""

    @property
    def rc(self) -> int:
        return self.returncode

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def recap(self) -> dict[str, int]:
        return recap(self)

    @property
    def failed_task(self) -> str:
        return failed_task(self)

    @property
    def failure_text(self) -> str:
        return failure_text(self)

    @property
    def changed_tasks(self) -> list[str]:
        return changed_tasks(self)

    def tail(self, stdout: int = 8000, stderr: int = 3000) -> str:
        """The end of both streams, for an assertion message."""
        return f"{self.stdout[-stdout:]}\n{self.stderr[-stderr:]}"


def run_playbook(
    playbook: str | Path = "site.yml",
    inventory: str | Path = "inventories/local",
    extra_vars: Mapping | None = None,
    *,
    args: Sequence[str] = (),
    kubeconfig: str | None = None,
    tags: str | Sequence[str] | None = None,
    skip_tags: str | Sequence[str] | None = None,
    check: bool = False,
    diff: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: str | Path = REPO,
    timeout: float = 1800,
) -> PlaybookRun:
    """Run ansible-playbook and return a PlaybookRun (never raises on a failed run).

    extra_vars go in as one JSON file (`-e @file`), so any value (dicts, booleans) arrives typed.
    kubeconfig=None and env=None run with this process's environment; `env` replaces the base
    environment (e.g. render mode without KUBECONFIG, or the built-collection test's clean one).
    Further command-line arguments (`-e k=v`, `--vault-id`, ...) go in `args`.
    """
    command = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-i", str(inventory)]
    for flag, value in (("--tags", tags), ("--skip-tags", skip_tags)):
        if value:
            command += [flag, value if isinstance(value, str) else ",".join(value)]
    command += ["--check"] * check + ["--diff"] * diff
    base = dict(os.environ if env is None else env)
    base.update(ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    if kubeconfig is not None:
        base["KUBECONFIG"] = kubeconfig
    with tempfile.TemporaryDirectory(prefix="erp-run-") as scratch:
        if extra_vars is not None:
            path = Path(scratch) / "extra-vars.json"
            path.write_text(json.dumps(dict(extra_vars)))
            command += ["-e", f"@{path}"]
        proc = subprocess.run([*command, *args], cwd=cwd, env=base, capture_output=True, text=True, check=False, timeout=timeout)
    return PlaybookRun(proc.args, proc.returncode, proc.stdout, proc.stderr)


def run_module(
    module: str,
    module_args: Mapping,
    *flags: str,
    kubeconfig: str | None = None,
    inventory: str | Path = "inventories/local",
    timeout: float = 900,
) -> tuple[int, dict, str]:
    """One module through `ansible localhost -m` with the JSON callback: (rc, the task's result, raw output).

    The result carries `_wall`, the seconds the whole `ansible` process took.
    """
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK=JSON_CALLBACK, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_NOCOLOR="1")
    if kubeconfig is not None:
        env["KUBECONFIG"] = kubeconfig
    command = [str(VENV_BIN / "ansible"), "localhost", "-i", str(inventory), "-m", module, "-a", json.dumps(dict(module_args)), *flags]
    started = time.time()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.time() - started
    try:
        output = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f"ansible printed no JSON (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}") from exc
    result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    result["_wall"] = wall
    return proc.returncode, result, proc.stdout + proc.stderr


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


def failed_task(result: subprocess.CompletedProcess) -> str:
    """The header of the task that failed the run."""
    before = result.stdout.split("fatal:")[0]
    tasks = re.findall(r"^TASK \[(.*?)\]", before, re.MULTILINE)
    assert "fatal:" in result.stdout, f"no failed task:\n{result.stdout[-4000:]}"
    assert tasks, result.stdout[-4000:]
    return tasks[-1]


def failure_text(result: subprocess.CompletedProcess) -> str:
    """The failed task's output, lines unwrapped (the YAML result format folds long messages)."""
    text = result.stdout.split("fatal:", 1)[1].split("PLAY RECAP", 1)[0]
    return re.sub(r"\s+", " ", text)


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
