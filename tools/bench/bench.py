#!/usr/bin/env python3
# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark erp.platform against kubectl, Helm 4 and Helm 3 on the local cluster; write docs/benchmarks.md.

Run through tools/bench/run.sh (``make bench``), which starts the local cluster when
none is up and exports KUBECONFIG. Every figure is measured here, in this run, on this
cluster: both tools in the same run, alternating which goes first, each figure the
median of ``--runs`` runs with min and max. Nothing is estimated or carried over.

What is measured (issues 8 and 13):
  cold     site.yml -i inventories/local  vs  kubectl apply --server-side + rollout status,
                                              helm upgrade --install --wait (Helm 4: --wait=watcher)
  noop     site.yml again                 vs  the same kubectl and helm commands again, and kubectl diff
  scale    the cold deploy with 8, 32, 128 services (generated erp_services), peak memory
  verdict  erp.platform.rollout_health    vs  kubectl rollout status, on the same events
  fault    helm upgrade --wait of a crashlooping revision: time to Helm's verdict and what it says

Helm deploys a chart of static templates: the render-mode manifests, one file per template.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIELD_MANAGER = "erp.platform"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# The gate that holds pods unscheduled until the verdict benchmark releases them, so the
# module is already watching when the last pod becomes Ready (or the first one crashes).
HOLD_GATE = "bench.erp.test/hold"
FAULT_ANNOTATION = "fault.erp.test/mode"
# Progress deadline given to the faulty Deployment in the fault benchmark: kubectl rollout
# status only fails on ProgressDeadlineExceeded, and the Deployment default is 600 s.
FAULT_PROGRESS_DEADLINE = 30
# Apply order of the rendered role directories: the namespace before what lives in it.
ROLE_ORDER = ("namespace", "config", "datastores", "dapr", "service", "services", "ingress")
CMD_TIMEOUT = 900  # no single command of the benchmark may run longer than this (s)

# The goals of issue 13. A ratio is ours / the other tool's median; "faster than Helm 4" is a
# ratio below 1.0 (STRICT_GOALS: below, not at). marginal_ms is our slope minus kubectl's.
GOALS = {
    "cold_ratio": 1.5,
    "cold_vs_helm4": 1.0,
    "noop_ratio": 1.5,
    "noop_vs_helm4": 1.0,
    "scale_ratio": 1.0,
    "marginal_ms": 20.0,
    "success_verdict_s": 0.5,
    "fault_verdict_s": 0.5,
    "peak_rss_mb": 250.0,
}
STRICT_GOALS = ("cold_vs_helm4", "noop_vs_helm4")
# Helm: the release name, the namespace its release records live in (the chart creates the
# system's own namespace, so the records cannot live there), and the tools in the order of a run.
HELM_RELEASE = "erp-bench"
HELM_RECORDS_NAMESPACE = "default"
HELMS = ("helm4", "helm3")
# Kinds of the rendered manifests that are not namespaced (the chart sets metadata.namespace on the rest).
CLUSTER_KINDS = ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass", "IngressClass")


class _Dumper(yaml.SafeDumper):
    """Indented block sequences, so the files it writes pass the project's yamllint."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def dump_yaml(*docs) -> str:
    """YAML documents as the repository's yamllint wants them (document start, indented lists)."""
    return yaml.dump_all([d for d in docs if d is not None], Dumper=_Dumper, explicit_start=True, sort_keys=False, width=150)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    """A step of the benchmark failed; the run stops rather than publish partial numbers."""


# --------------------------------------------------------------------------------------
# Processes and memory
# --------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return kids


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


class LoadSampler(threading.Thread):
    """The 1-minute load average every 5 s over the whole benchmark: how busy the machine was."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(os.getloadavg()[0])
            self._halt.wait(5)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


class MemorySampler(threading.Thread):
    """Peak of RSS (and PSS) summed over a process tree, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss_kib = self.peak_pss_kib = self.samples = 0
        self.peak_procs = 0
        self.peak_breakdown: list[tuple[str, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            procs = _tree(self.pid)
            rss = pss = 0
            for p in procs:
                r, s = _rss_pss_kib(p)
                rss += r
                pss += s
            self.samples += 1
            if rss > self.peak_rss_kib:
                self.peak_rss_kib, self.peak_procs = rss, len(procs)
                self.peak_breakdown = [(self._label(p), _rss_pss_kib(p)[0] // 1024) for p in procs]
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self._halt.wait(self.interval)

    def _label(self, pid: int) -> str:
        """What a process of the tree is: the controller, a forked worker, or the module it runs."""
        if pid == self.pid:
            return "ansible-playbook controller"
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().decode(errors="replace").split("\0")
        except OSError:
            return "gone"
        if Path(argv[0]).name in ("sh", "bash", "dash"):
            return "shell that starts a module"
        module = next((re.sub(r"^AnsiballZ_|\.py$", "", Path(a).name) for a in argv if "AnsiballZ_" in a), None)
        if module:
            return f"module {module}"
        if "ansible-playbook" in " ".join(argv[:2]):
            return "ansible-playbook worker (fork)"
        return Path(argv[0]).name or "?"

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def run(cmd: list[str], *, timeout: float = CMD_TIMEOUT, env: dict | None = None, sample_memory: bool = False, check: bool = True, what: str = "") -> dict:
    """Run cmd from the repository root; return elapsed time, rc, output (and peak memory)."""
    full_env = dict(os.environ, **(env or {}))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = MemorySampler(proc.pid) if sample_memory else None
    if sampler:
        sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Only the process group this call started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise BenchError(f"{what or cmd[0]} timed out after {timeout:.0f}s:\n{(out or '')[-3000:]}\n{(err or '')[-3000:]}") from None
    finally:
        if sampler:
            sampler.stop()
    elapsed = time.monotonic() - t0
    result = {"elapsed": elapsed, "rc": proc.returncode, "stdout": out, "stderr": err}
    if sampler:
        result.update(
            peak_rss_mib=sampler.peak_rss_kib / 1024,
            peak_pss_mib=sampler.peak_pss_kib / 1024,
            peak_procs=sampler.peak_procs,
            peak_breakdown_mib=sampler.peak_breakdown,
            mem_samples=sampler.samples,
        )
    if check and proc.returncode != 0:
        raise BenchError(f"{what or ' '.join(cmd[:3])} failed (rc {proc.returncode}):\n{out[-4000:]}\n{err[-3000:]}")
    return result


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values), "values": values}


# --------------------------------------------------------------------------------------
# The two tools
# --------------------------------------------------------------------------------------


class Tools:
    def __init__(self, work: Path):
        self.work = work
        self.kubeconfig = os.environ["KUBECONFIG"]
        self.kubectl_bin = self._find_kubectl()
        self.ansible_playbook = str(REPO / ".venv" / "bin" / "ansible-playbook")
        self.python = str(REPO / ".venv" / "bin" / "python")
        self.timing_seq = 0
        self.helm_bins = self._find_helms()
        home = work / "helm-home"
        self.helm_env = {f"HELM_{d}_HOME": str(home / d.lower()) for d in ("CACHE", "CONFIG", "DATA")}

    @staticmethod
    def _find_helms() -> dict:
        """The Helm binaries tools/bench/build-helm.sh built; run.sh passes their paths."""
        found = {}
        for name in HELMS:
            path = os.environ.get(f"ERP_BENCH_{name.upper()}", "")
            if not path or not os.access(path, os.X_OK):
                raise BenchError(f"ERP_BENCH_{name.upper()}={path!r} is not an executable Helm: run through tools/bench/run.sh (make bench)")
            found[name] = path
        return found

    def helm(self, name: str, *args: str, timeout: float = 400, check: bool = True) -> dict:
        cmd = [self.helm_bins[name], "--kubeconfig", self.kubeconfig, *args]
        return run(cmd, timeout=timeout, check=check, env=self.helm_env, what=f"{name} {' '.join(args[:2])}")

    def helm_build(self, name: str) -> dict:
        """How the binary was built: build-helm.sh's record next to it (seconds, date, load)."""
        record = Path(self.helm_bins[name]).with_name("build.json")
        try:
            return json.loads(record.read_text())
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _find_kubectl() -> str:
        versions = {}
        for line in (REPO / "tools/localcluster/versions.env").read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                versions[key.strip()] = value.strip()
        cache = Path(os.environ.get("ERP_CLUSTER_CACHE", Path.home() / ".cache/erp-platform/localcluster"))
        built = cache / "bin" / f"kubernetes-{versions.get('K8S_VERSION', '')}" / "kubectl"
        if built.exists():
            return str(built)
        found = shutil.which("kubectl")
        if not found:
            raise BenchError("no kubectl: neither the cluster's build nor one on PATH")
        return found

    def kubectl(self, *args: str, timeout: float = 300, check: bool = True, **kw) -> dict:
        return run([self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args], timeout=timeout, check=check, what="kubectl " + " ".join(args[:2]), **kw)

    def ansible_env(self, timing_file: Path | None) -> dict:
        env = {
            "K8S_AUTH_KUBECONFIG": self.kubeconfig,
            "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timing",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if timing_file:
            env["BENCH_TIMING_FILE"] = str(timing_file)
        return env

    def new_timing_file(self, label: str) -> Path:
        self.timing_seq += 1
        path = self.work / "timing" / f"{self.timing_seq:03d}-{label}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

    def site(self, *extra: str, label: str, sample_memory: bool = False, check: bool = True, timeout: float = CMD_TIMEOUT) -> dict:
        timing = self.new_timing_file(label)
        cmd = [self.ansible_playbook, "site.yml", "-i", "inventories/local", *extra]
        result = run(cmd, env=self.ansible_env(timing), sample_memory=sample_memory, check=check, timeout=timeout, what=f"ansible-playbook site.yml ({label})")
        result["timing_file"] = str(timing)
        result["recap"] = parse_recap(result["stdout"])
        return result


def parse_recap(stdout: str) -> dict:
    """The localhost line of PLAY RECAP as a dict of ints (ok, changed, failed, ...)."""
    recap: dict[str, int] = {}
    for line in stdout.splitlines()[::-1]:
        if re.match(r"^\S+\s+:\s+ok=", line):
            for key, value in re.findall(r"(\w+)=(\d+)", line):
                recap[key] = recap.get(key, 0) + int(value)
        elif recap:
            break
    return recap


def read_timing(path: str | Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def task_profile(path: str | Path) -> list[dict]:
    """Per-task wall time (s) from a bench_timing file: task start to its last result."""
    starts: dict[str, dict] = {}
    ends: dict[str, float] = {}
    outcomes: dict[str, str] = {}
    items: dict[str, int] = {}
    order: list[str] = []
    for rec in read_timing(path):
        uuid = rec.get("uuid")
        if rec["event"] == "task_start":
            if uuid not in starts:
                order.append(uuid)
            starts[uuid] = rec
        elif rec["event"] == "item" and uuid:
            items[uuid] = items.get(uuid, 0) + 1
        elif rec["event"].startswith("runner_") and rec["event"] != "runner_start" and uuid:
            ends[uuid] = rec["time"]
            outcomes[uuid] = rec["event"].removeprefix("runner_")
    profile = []
    for uuid in order:
        if uuid in ends:
            start = starts[uuid]
            profile.append(
                {
                    "task": start["task"],
                    "role": start.get("role"),
                    "action": start.get("action"),
                    "seconds": ends[uuid] - start["time"],
                    "outcome": outcomes[uuid],
                    "items": items.get(uuid, 0),
                }
            )
    return profile


# --------------------------------------------------------------------------------------
# Rendered manifests
# --------------------------------------------------------------------------------------


class Manifests:
    """The manifests render mode wrote for one catalog: apply order, namespace, workloads."""

    def __init__(self, root: Path):
        self.root = root
        self.files: list[Path] = []
        self.objects: list[tuple[Path, dict]] = []
        for path in sorted(root.rglob("*")):
            if path.suffix not in (".yaml", ".yml") or not path.is_file():
                continue
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]
            if docs:
                self.files.append(path)
                self.objects.extend((path, d) for d in docs)
        if not self.objects:
            raise BenchError(f"render mode wrote no manifests into {root}")
        namespaces = [d["metadata"]["name"] for _, d in self.objects if d["kind"] == "Namespace"]
        if len(namespaces) != 1:
            raise BenchError(f"expected exactly one Namespace in {root}, found {namespaces}")
        self.namespace = namespaces[0]
        ns_labels = next(d for _, d in self.objects if d["kind"] == "Namespace")["metadata"].get("labels") or {}
        self.instance = ns_labels.get("app.kubernetes.io/instance", "erp")
        self.workloads = [(d["kind"], d["metadata"]["name"], d) for _, d in self.objects if d["kind"] in WORKLOAD_KINDS]
        if not self.workloads:
            raise BenchError(f"no Deployment or StatefulSet among the manifests in {root}")

        def rank(path: Path) -> tuple:
            kinds = {d["kind"] for p, d in self.objects if p == path}
            role = path.relative_to(root).parts[0] if len(path.relative_to(root).parts) > 1 else ""
            first = 0 if kinds & {"Namespace", "CustomResourceDefinition"} else 1
            role_rank = ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)
            return (first, role_rank, str(path))

        self.files.sort(key=rank)

    @property
    def count(self) -> int:
        return len(self.objects)

    def file_args(self) -> list[str]:
        args: list[str] = []
        for path in self.files:
            args += ["-f", str(path)]
        return args

    def expected_pods(self) -> int:
        return sum(int(d.get("spec", {}).get("replicas", 1) or 0) for _, _, d in self.workloads)

    def gated_copy(self, dest: Path) -> Manifests:
        """A copy whose workloads' pods wait behind HOLD_GATE (scheduling gates)."""
        if dest.exists():
            shutil.rmtree(dest)
        for path in self.files:
            target = dest / path.relative_to(self.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            docs = list(yaml.safe_load_all(path.read_text()))
            for doc in docs:
                if isinstance(doc, dict) and doc.get("kind") in WORKLOAD_KINDS:
                    pod_spec = doc["spec"]["template"]["spec"]
                    pod_spec["schedulingGates"] = [*pod_spec.get("schedulingGates", []), {"name": HOLD_GATE}]
            target.write_text(dump_yaml(*docs))
        return Manifests(dest)


def helm_chart(manifests: Manifests, dest: Path, fault: str | None = None) -> Path:
    """A chart of static templates: every render-mode manifest file becomes one template, unchanged
    except that a literal '{{' is escaped for Helm and namespaced objects get metadata.namespace (Helm
    installs into the release's namespace, kubectl gets -n). With fault, that Deployment's pods crashloop (kwok's fault stage) and its
    progress deadline is FAULT_PROGRESS_DEADLINE, as in the kubectl fault benchmark."""
    if dest.exists():
        shutil.rmtree(dest)
    templates = dest / "templates"
    templates.mkdir(parents=True)
    (dest / "Chart.yaml").write_text(
        dump_yaml({"apiVersion": "v2", "name": HELM_RELEASE, "version": "0.1.0", "description": "erp.platform render-mode manifests (tools/bench)"})
    )
    for index, path in enumerate(manifests.files):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]
        for doc in docs:
            if doc["kind"] not in CLUSTER_KINDS:
                doc["metadata"].setdefault("namespace", manifests.namespace)
            if fault and doc["kind"] == "Deployment" and doc["metadata"]["name"] == fault:
                doc["spec"]["progressDeadlineSeconds"] = FAULT_PROGRESS_DEADLINE
                doc["spec"]["template"]["metadata"].setdefault("annotations", {})[FAULT_ANNOTATION] = "crashloop"
        # A literal '{{' (the Grafana dashboard's legend formats) would be a template action to Helm: the
        # action {{"{{"}} prints it back, so the chart's objects stay byte for byte the manifests kubectl applies.
        text = dump_yaml(*docs).replace("{{", '{{"{{"}}')
        name = "-".join(path.relative_to(manifests.root).parts)
        (templates / f"{index:03d}-{name}").write_text(text)
    return dest


def render_key(vars_file: Path | None) -> str:
    """Hash of everything that shapes the rendered manifests: roles, plugins, playbooks, inventory, catalog."""
    digest = hashlib.sha256()
    paths = [REPO / "site.yml", *(p for d in ("roles", "plugins", "playbooks", "inventories/local") for p in (REPO / d).rglob("*"))]
    if vars_file:
        paths.append(vars_file)
    for path in sorted(paths):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(REPO) if path.is_relative_to(REPO) else path.name).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthetic_catalog(total: int, builtin: int = 8, inventory_services: dict | None = None) -> dict:
    """erp_services adding generated services to the built-in eight, `total` in all.

    Extra vars replace the inventory's erp_services instead of merging, so its entries are kept here.
    """
    services = dict(inventory_services or {})
    for i in range(total - builtin):
        services[f"synth{i:03d}"] = {"replicas": 1}
    return {"erp_services": services}


# --------------------------------------------------------------------------------------
# Cluster steps
# --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.tools = Tools(self.work)
        self.results: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "runs": args.runs}
        self._api = None
        self.t_start = time.monotonic()

    # -- helpers -------------------------------------------------------------------------

    @property
    def api(self):
        if self._api is None:
            from kubernetes import client, config

            self._api = client.CoreV1Api(config.new_client_from_config(config_file=self.tools.kubeconfig))
        return self._api

    def delete_namespace(self, ns: str) -> float:
        t0 = time.monotonic()
        self.tools.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false")
        waited = self.tools.kubectl("wait", "--for=delete", f"namespace/{ns}", "--timeout=300s", check=False, timeout=330)
        if waited["rc"] != 0:
            gone = self.tools.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name")
            if gone["stdout"].strip():
                raise BenchError(f"namespace {ns} still exists after 300 s: {waited['stderr'][-1000:]}")
        return time.monotonic() - t0

    def render(self, label: str, vars_file: Path | None) -> Manifests:
        """Render mode of site.yml for a catalog; reused while nothing that shapes the manifests changed."""
        key = render_key(vars_file)
        dest = self.work / "render" / f"{label}-{key}"
        done = dest / ".complete"
        if done.exists():
            manifests = Manifests(dest)
            log(f"render mode ({label}): reusing {dest} (same roles, inventory and catalog)")
            self.results.setdefault("render_seconds", {})[label] = json.loads(done.read_text())["seconds"]
            return manifests
        for stale in (self.work / "render").glob(f"{label}-*"):
            shutil.rmtree(stale)
        dest.mkdir(parents=True)
        # The work directory (out/bench by default) is inside the checkout: render mode needs leave to write there.
        extra = ["-e", f"erp_render_dir={dest}", "-e", '{"erp_render_in_collection": true}']
        if vars_file:
            extra += ["-e", f"@{vars_file}"]
        log(f"render mode ({label}) -> {dest}")
        result = self.tools.site(*extra, label=f"render-{label}")
        manifests = Manifests(dest)
        done.write_text(json.dumps({"seconds": result["elapsed"], "timing_file": result["timing_file"]}))
        self.results.setdefault("render_seconds", {})[label] = result["elapsed"]
        log(f"  {manifests.count} objects, {len(manifests.workloads)} workloads, {manifests.expected_pods()} pods, rendered in {result['elapsed']:.1f}s")
        return manifests

    def kubectl_apply(self, manifests: Manifests, *, timeout: float = 600) -> dict:
        return self.tools.kubectl(
            "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-n", manifests.namespace, *manifests.file_args(), timeout=timeout
        )

    def kubectl_rollout_all(self, manifests: Manifests, timeout: int = 300) -> None:
        """kubectl rollout status of every workload, one after another (a CI script's loop)."""
        for kind, name, _ in manifests.workloads:
            self.tools.kubectl("rollout", "status", f"{kind.lower()}/{name}", "-n", manifests.namespace, f"--timeout={timeout}s", timeout=timeout + 30)

    # -- 1 and 3: cold deploy ------------------------------------------------------------

    def cold_kubectl(self, manifests: Manifests) -> dict:
        self.delete_namespace(manifests.namespace)
        t0 = time.monotonic()
        applied = self.kubectl_apply(manifests)
        t1 = time.monotonic()
        self.kubectl_rollout_all(manifests)
        t2 = time.monotonic()
        return {"elapsed": t2 - t0, "apply": t1 - t0, "rollout_status": t2 - t1, "apply_lines": len(applied["stdout"].splitlines())}

    def cold_ansible(self, manifests: Manifests, vars_file: Path | None, label: str) -> dict:
        self.delete_namespace(manifests.namespace)
        extra = ["-e", f"@{vars_file}"] if vars_file else []
        result = self.tools.site(*extra, label=label, sample_memory=True)
        keys = ("elapsed", "peak_rss_mib", "peak_pss_mib", "peak_procs", "peak_breakdown_mib", "mem_samples", "recap", "timing_file")
        return {k: result[k] for k in keys}

    def cold_pair(self, manifests: Manifests, vars_file: Path | None, label: str, i: int, after_ansible=None) -> tuple:
        """One run of both tools, alternating which goes first; after_ansible runs on ansible's converged state."""
        order = ("kubectl", "ansible") if i % 2 == 0 else ("ansible", "kubectl")
        out = {}
        for tool in order:
            if tool == "kubectl":
                out["kubectl"] = self.cold_kubectl(manifests)
                log(
                    f"  {label} run {i + 1}: kubectl {out['kubectl']['elapsed']:.1f}s "
                    f"(apply {out['kubectl']['apply']:.1f}s + rollout status {out['kubectl']['rollout_status']:.1f}s)"
                )
            else:
                out["ansible"] = self.cold_ansible(manifests, vars_file, f"cold-{label}-{i + 1}")
                log(
                    f"  {label} run {i + 1}: site.yml {out['ansible']['elapsed']:.1f}s, peak RSS "
                    f"{out['ansible']['peak_rss_mib']:.0f} MiB, recap {out['ansible']['recap']}"
                )
                if after_ansible:
                    after_ansible(i)
        return out["ansible"], out["kubectl"]

    # -- Helm -----------------------------------------------------------------------------

    def helm_upgrade(self, name: str, chart: Path, timeout: int, check: bool = True) -> dict:
        """helm upgrade --install --wait: Helm 4 with its kstatus watcher, Helm 3 with its only wait."""
        wait = "--wait=watcher" if name == "helm4" else "--wait"
        return self.tools.helm(
            name,
            "upgrade",
            "--install",
            HELM_RELEASE,
            str(chart),
            "-n",
            HELM_RECORDS_NAMESPACE,
            wait,
            f"--timeout={timeout}s",
            timeout=timeout + 60,
            check=check,
        )

    def forget_helm_release(self, manifests: Manifests) -> None:
        """Nothing of an earlier run for any tool: the system's namespace and Helm's release records."""
        self.delete_namespace(manifests.namespace)
        self.tools.kubectl("delete", "secret", "-n", HELM_RECORDS_NAMESPACE, "-l", f"owner=helm,name={HELM_RELEASE}", "--ignore-not-found")

    def helm_pair(self, manifests: Manifests, chart: Path, i: int, sink: dict) -> None:
        """Cold deploy and no-op re-run with each Helm, alternating which goes first."""
        order = HELMS if i % 2 == 0 else HELMS[::-1]
        for name in order:
            self.forget_helm_release(manifests)
            cold = self.helm_upgrade(name, chart, timeout=300)
            noop = self.helm_upgrade(name, chart, timeout=300)
            sink.setdefault(name, {}).setdefault("cold", []).append({"elapsed": cold["elapsed"]})
            sink[name].setdefault("noop", []).append({"elapsed": noop["elapsed"], "said": noop["stdout"].strip().splitlines()[:3]})
            log(f"  helm run {i + 1}: {name} cold {cold['elapsed']:.1f}s, no-op re-run {noop['elapsed']:.1f}s")
        self.forget_helm_release(manifests)

    def helm_fault(self, manifests: Manifests, name: str, i: int) -> dict:
        """From a system Helm converged, upgrade to the crashlooping revision and wait for Helm's verdict."""
        ns = manifests.namespace
        target = fault_target(manifests)
        healthy = helm_chart(manifests, self.work / "chart")
        faulty = helm_chart(manifests, self.work / "chart-fault", fault=target)
        self.forget_helm_release(manifests)
        self.helm_upgrade(name, healthy, timeout=300)
        timeout = 2 * FAULT_PROGRESS_DEADLINE
        watcher = PodWatcher(self.api, ns)
        watcher.start()
        try:
            watcher.release()  # nothing is gated here; pods of the new revision start at once
            started = time.time()
            result = self.helm_upgrade(name, faulty, timeout=timeout, check=False)
            returned = time.time()
        finally:
            watcher.stop()
        first_seen = watcher.first_crashloop_seen()
        if first_seen is None:
            raise BenchError(f"{name}: no pod showed CrashLoopBackOff in the fault benchmark")
        said = (result["stderr"].strip() or result["stdout"].strip()).splitlines()
        outcome = {
            "tool": name,
            "rc": result["rc"],
            "timeout": timeout,
            "after_upgrade": returned - started,
            "vs_seen": returned - first_seen,
            "said": said[-1:] if said else [],
        }
        log(f"  {name} fault run {i + 1}: rc {outcome['rc']} {outcome['vs_seen']:.1f}s after the first CrashLoopBackOff: {' '.join(outcome['said'])[:200]}")
        self.forget_helm_release(manifests)
        return outcome

    # -- 2: no-op ------------------------------------------------------------------------

    def noop_pair(self, manifests: Manifests, i: int, sink: dict) -> None:
        order = ("ansible", "kubectl") if i % 2 == 0 else ("kubectl", "ansible")
        for tool in order:
            if tool == "ansible":
                result = self.tools.site(label=f"noop-{i + 1}")
                sink.setdefault("ansible", []).append({"elapsed": result["elapsed"], "recap": result["recap"], "timing_file": result["timing_file"]})
                log(f"  no-op run {i + 1}: site.yml {result['elapsed']:.1f}s, recap {result['recap']}")
            else:
                result = self.tools.kubectl(
                    "diff", "--server-side", f"--field-manager={FIELD_MANAGER}", "-n", manifests.namespace, *manifests.file_args(), check=False
                )
                if result["rc"] > 1:
                    raise BenchError(f"kubectl diff failed (rc {result['rc']}): {result['stderr'][-2000:]}")
                diff_objects = re.findall(r"^diff -u -N .*/([^/\s]+)\s", result["stdout"], re.M)
                # The anchor of the goal: the cold deploy's commands again, on the converged system.
                t0 = time.monotonic()
                self.kubectl_apply(manifests)
                self.kubectl_rollout_all(manifests)
                again = time.monotonic() - t0
                sink.setdefault("kubectl", []).append(
                    {
                        "elapsed": again,
                        "diff_elapsed": result["elapsed"],
                        "rc": result["rc"],
                        "diff_objects": diff_objects,
                        "diff_excerpt": result["stdout"][:3000],
                    }
                )
                log(
                    f"  no-op run {i + 1}: kubectl apply + rollout status {again:.1f}s; kubectl diff {result['elapsed']:.1f}s, "
                    f"rc {result['rc']} ({len(diff_objects)} objects differ)"
                )

    # -- 4: verdict latency ----------------------------------------------------------------

    def verdict_playbook(self, manifests: Manifests, fail_fast: bool = True) -> Path:
        path = self.work / "verdict.yml"
        play = [
            {
                "name": "Verdict of erp.platform.rollout_health (tools/bench)",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
                "tasks": [
                    {
                        "name": "Wait for every workload of the namespace",
                        "erp.platform.rollout_health": rollout_health_args(manifests.namespace, manifests.instance, fail_fast),
                    }
                ],
            }
        ]
        path.write_text(dump_yaml(play))
        return path

    def localhost_inventory(self) -> Path:
        path = self.work / "localhost.yml"
        path.write_text(dump_yaml({"all": {"hosts": {"localhost": {"ansible_connection": "local"}}}}))
        return path

    def start_verdict(self, manifests: Manifests, label: str) -> tuple[subprocess.Popen, Path]:
        timing = self.tools.new_timing_file(label)
        playbook = self.verdict_playbook(manifests)
        env = dict(os.environ, **self.tools.ansible_env(timing))
        out = open(self.work / f"{label}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [self.tools.ansible_playbook, "-i", str(self.localhost_inventory()), str(playbook)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        proc.log_handle = out  # type: ignore[attr-defined]
        return proc, timing

    def wait_module_started(self, proc: subprocess.Popen, timing: Path, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rec in read_timing(timing):
                if rec["event"] == "runner_start" and "rollout_health" in (rec.get("action") or ""):
                    return rec["time"]
            if proc.poll() is not None:
                raise BenchError(f"the verdict playbook ended before the module started: see {timing}")
            time.sleep(0.1)
        raise BenchError(f"the rollout_health task did not start within {timeout}s")

    def finish_verdict(self, proc: subprocess.Popen, timing: Path, timeout: float) -> dict:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BenchError(f"the verdict playbook did not end within {timeout}s") from None
        finally:
            proc.log_handle.close()  # type: ignore[attr-defined]
        for rec in read_timing(timing):
            if rec["event"] in ("runner_ok", "runner_failed") and "rollout_health" in (rec.get("action") or ""):
                return {"returned": rec["time"], "failed": rec["failed"], "msg": rec.get("msg", ""), "rc": proc.returncode, "result": rec.get("result", {})}
        raise BenchError(f"no result of rollout_health in {timing} (rc {proc.returncode})")

    def verdict_success(self, manifests: Manifests, i: int) -> dict:
        gated = manifests.gated_copy(self.work / "render" / "gated")
        ns = manifests.namespace
        self.delete_namespace(ns)
        watcher = PodWatcher(self.api, ns)
        watcher.start()
        try:
            self.kubectl_apply(gated)
            watcher.wait_pods(len(gated.workloads), timeout=120)
            proc, timing = self.start_verdict(gated, f"verdict-success-{i + 1}")
            kubectl_done: dict = {}
            kubectl_thread = threading.Thread(target=self._kubectl_rollout_thread, args=(gated, kubectl_done), daemon=True)
            kubectl_thread.start()
            self.wait_module_started(proc, timing)
            time.sleep(self.args.settle)  # the module imports, connects and opens its watches
            if proc.poll() is not None:
                raise BenchError("rollout_health returned before the pods were released: see the verdict log")
            released = time.time()
            watcher.release()
            module = self.finish_verdict(proc, timing, timeout=300)
            kubectl_thread.join(timeout=330)
        finally:
            watcher.stop()
        if module["failed"]:
            raise BenchError(f"rollout_health failed on a healthy rollout: {module['msg'][:1500]}")
        if kubectl_done.get("error"):
            raise BenchError(f"kubectl rollout status failed on a healthy rollout: {kubectl_done['error']}")
        pods = self.api.list_namespaced_pod(ns).items
        api_ready = []
        for pod in pods:
            for cond in pod.status.conditions or []:
                if cond.type == "Ready" and cond.status == "True":
                    api_ready.append(cond.last_transition_time.timestamp())
        if not api_ready:
            raise BenchError("no Ready pod after the success verdict")
        last_api = max(api_ready)
        last_seen = watcher.last_ready_seen()
        return {
            "pods": len(pods),
            "released": released,
            "last_ready_api": last_api,
            "last_ready_seen": last_seen,
            "module_returned": module["returned"],
            "kubectl_returned": kubectl_done["time"],
            "module_vs_api": module["returned"] - last_api,
            "module_vs_seen": module["returned"] - last_seen,
            "kubectl_vs_api": kubectl_done["time"] - last_api,
            "kubectl_vs_seen": kubectl_done["time"] - last_seen,
            "module_result": module["result"],
        }

    def _kubectl_rollout_thread(self, manifests: Manifests, sink: dict) -> None:
        try:
            self.kubectl_rollout_all(manifests)
        except BenchError as exc:
            sink["error"] = str(exc)[:1500]
        sink["time"] = time.time()

    def verdict_fault(self, manifests: Manifests, i: int) -> dict:
        ns = manifests.namespace
        target = fault_target(manifests)
        self.delete_namespace(ns)
        self.kubectl_apply(manifests)
        self.kubectl_rollout_all(manifests)
        watcher = PodWatcher(self.api, ns)
        watcher.start()
        try:
            patch = {
                "spec": {
                    "progressDeadlineSeconds": FAULT_PROGRESS_DEADLINE,
                    "template": {"metadata": {"annotations": {FAULT_ANNOTATION: "crashloop"}}, "spec": {"schedulingGates": [{"name": HOLD_GATE}]}},
                }
            }
            patched = time.monotonic()
            self.tools.kubectl("patch", "deployment", target, "-n", ns, "--type=strategic", "-p", json.dumps(patch))
            proc, timing = self.start_verdict(manifests, f"verdict-fault-{i + 1}")
            kubectl_done: dict = {}
            kubectl_thread = threading.Thread(target=self._kubectl_fault_thread, args=(ns, target, kubectl_done), daemon=True)
            kubectl_thread.start()
            self.wait_module_started(proc, timing)
            time.sleep(self.args.settle)
            if proc.poll() is not None:
                raise BenchError("rollout_health returned before the faulty pod was released: see the verdict log")
            watcher.release()
            module = self.finish_verdict(proc, timing, timeout=300)
            kubectl_thread.join(timeout=FAULT_PROGRESS_DEADLINE + 120)
        finally:
            watcher.stop()
        if not module["failed"]:
            raise BenchError("rollout_health reported success on a crashlooping rollout")
        first_seen = watcher.first_crashloop_seen()
        first_api = first_crashloop_api(self.api, ns)
        if first_seen is None or first_api is None:
            raise BenchError("no pod showed CrashLoopBackOff in the fault benchmark")
        if "time" not in kubectl_done:
            raise BenchError("kubectl rollout status did not end in the fault benchmark")
        return {
            "target": target,
            "deadline": FAULT_PROGRESS_DEADLINE,
            "first_crashloop_api": first_api,
            "first_crashloop_seen": first_seen,
            "module_returned": module["returned"],
            "module_msg": module["msg"],
            "module_result": module["result"],
            "module_vs_api": module["returned"] - first_api,
            "module_vs_seen": module["returned"] - first_seen,
            "kubectl_returned": kubectl_done["time"],
            "kubectl_rc": kubectl_done["rc"],
            "kubectl_msg": kubectl_done["msg"],
            "kubectl_vs_api": kubectl_done["time"] - first_api,
            "kubectl_vs_seen": kubectl_done["time"] - first_seen,
            "kubectl_after_patch": kubectl_done["monotonic"] - patched,
        }

    def _kubectl_fault_thread(self, ns: str, target: str, sink: dict) -> None:
        timeout = FAULT_PROGRESS_DEADLINE + 90
        result = self.tools.kubectl("rollout", "status", f"deployment/{target}", "-n", ns, f"--timeout={timeout}s", check=False, timeout=timeout + 30)
        sink.update(time=time.time(), monotonic=time.monotonic(), rc=result["rc"], msg=(result["stderr"].strip() or result["stdout"].strip()).splitlines()[-1:])

    # -- fixed costs -----------------------------------------------------------------------

    def startup_costs(self) -> dict:
        empty = self.work / "empty.yml"
        empty.write_text(
            dump_yaml([{"name": "Nothing (tools/bench: start-up cost)", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": []}])
        )
        ansible, kubectl = [], []
        for _ in range(self.args.runs):
            ansible.append(
                run([self.tools.ansible_playbook, "-i", str(self.localhost_inventory()), str(empty)], env=self.tools.ansible_env(None), what="empty playbook")[
                    "elapsed"
                ]
            )
            kubectl.append(self.tools.kubectl("get", "namespace", "default", "-o", "name")["elapsed"])
        return {"ansible_playbook_empty": stats(ansible), "kubectl_get": stats(kubectl)}

    # -- the whole run ---------------------------------------------------------------------

    def run_all(self) -> dict:
        res = self.results
        res["machine"] = machine()
        res["versions"] = self.versions()
        res["load_before"] = os.getloadavg()
        res["code"] = code_version()
        t_start = self.t_start = time.monotonic()
        load = LoadSampler()
        load.start()
        try:
            self._measure(res)
        finally:
            load.stop()
            res["load_during"] = load.samples
        res["duration_s"] = time.monotonic() - t_start
        res["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return res

    def _measure(self, res: dict) -> None:
        args = self.args

        log("start-up cost of each tool")
        res["startup"] = self.startup_costs()

        base = self.render("base", None)
        res["namespace"], res["settle"] = base.namespace, args.settle
        res["helm_records_namespace"] = HELM_RECORDS_NAMESPACE
        res["base_objects"], res["base_workloads"] = base.count, len(base.workloads)
        res["base_pods"] = base.expected_pods()
        builtin_services = sum(
            1 for kind, _, d in base.workloads if kind == "Deployment" and (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "service"
        )
        res["builtin_services"] = builtin_services or 8

        log(f"1+2. cold deploy and no-op re-run of the system, {args.runs} runs")
        cold = {"ansible": [], "kubectl": []}
        noop: dict = {}
        for i in range(args.runs):
            a, k = self.cold_pair(base, None, "base", i, after_ansible=lambda i: self.noop_pair(base, i, noop))
            cold["ansible"].append(a)
            cold["kubectl"].append(k)
        res["cold"], res["noop"] = cold, noop
        self.checkpoint()

        log(f"1+2. Helm 4 and Helm 3: cold deploy and no-op re-run, {args.runs} runs")
        chart = helm_chart(base, self.work / "chart")
        res["helm"] = {}
        for i in range(args.runs):
            self.helm_pair(base, chart, i, res["helm"])
        res["scale"] = {res["builtin_services"]: {"objects": base.count, "pods": base.expected_pods(), **cold}}
        self.checkpoint()

        log(f"4. verdict latency, {args.runs} runs each")
        res["verdict_success"] = []
        for i in range(args.runs):
            v = self.verdict_success(base, i)
            res["verdict_success"].append(v)
            log(
                f"  success run {i + 1}: module {v['module_vs_seen']:.2f}s after the last pod was seen Ready "
                f"({v['module_vs_api']:.2f}s after its API timestamp); kubectl {v['kubectl_vs_seen']:.2f}s"
            )
        res["verdict_fault"] = []
        for i in range(args.runs):
            v = self.verdict_fault(base, i)
            res["verdict_fault"].append(v)
            log(
                f"  fault run {i + 1}: module {v['module_vs_seen']:.2f}s after the first CrashLoopBackOff was seen; "
                f"kubectl {v['kubectl_vs_seen']:.2f}s (rc {v['kubectl_rc']}: {v['kubectl_msg']})"
            )
        log(f"4. Helm's verdict on a crashlooping revision, {args.runs} runs each")
        res["helm_fault"] = []
        for i in range(args.runs):
            for name in HELMS if i % 2 == 0 else HELMS[::-1]:
                res["helm_fault"].append(self.helm_fault(base, name, i))
        self.delete_namespace(base.namespace)
        self.checkpoint()

        # The largest catalogs last: with a time budget, what does not fit is skipped and the page says so.
        for total in sorted(args.scales, reverse=True):  # the largest first: it decides the memory goal
            if total == res["builtin_services"]:
                continue
            if args.budget_minutes and time.monotonic() - self.t_start > args.budget_minutes * 60:
                log(f"3. scale: {total} services skipped, the time budget of {args.budget_minutes} min is spent")
                res.setdefault("skipped", []).append(f"scale {total} services: time budget of {args.budget_minutes} min spent")
                continue
            log(f"3. scale: {total} services, {args.runs} runs")
            vars_file = self.work / f"catalog-{total}.yml"
            vars_file.write_text(dump_yaml(synthetic_catalog(total, res["builtin_services"], self.inventory_services())))
            manifests = self.render(f"scale-{total}", vars_file)
            runs = {"ansible": [], "kubectl": [], "objects": manifests.count, "pods": manifests.expected_pods()}
            for i in range(args.runs):
                a, k = self.cold_pair(manifests, vars_file, f"{total}", i)
                runs["ansible"].append(a)
                runs["kubectl"].append(k)
            res["scale"][total] = runs
            self.delete_namespace(manifests.namespace)
            self.checkpoint()

    def checkpoint(self) -> None:
        """The results so far, so a run that stops later still leaves its measurements on disk."""
        (self.work / "results.partial.json").write_text(json.dumps(self.results, indent=1, default=str))

    def inventory_services(self) -> dict:
        """erp_services as inventories/local sets it (empty when it sets none)."""
        result = run(
            [str(REPO / ".venv/bin/ansible-inventory"), "-i", "inventories/local", "--host", "localhost"],
            check=False,
            what="ansible-inventory",
        )
        if result["rc"] != 0:
            raise BenchError(f"ansible-inventory -i inventories/local failed: {result['stderr'][-1000:]}")
        return json.loads(result["stdout"]).get("erp_services") or {}

    def versions(self) -> dict:
        out = {}
        core = run([str(REPO / ".venv/bin/ansible"), "--version"], what="ansible --version")["stdout"]
        out["ansible-core"] = re.search(r"core ([\w.]+)", core).group(1)
        listing = run([str(REPO / ".venv/bin/ansible-galaxy"), "collection", "list", "kubernetes.core"], check=False, what="ansible-galaxy collection list")[
            "stdout"
        ]
        found = re.findall(r"^kubernetes\.core\s+(\S+)", listing, re.M)
        out["kubernetes.core"] = found[0] if found else "not found"
        version = json.loads(self.tools.kubectl("version", "-o", "json")["stdout"])
        out["kubectl"] = version["clientVersion"]["gitVersion"]
        out["kube-apiserver"] = version["serverVersion"]["gitVersion"]
        out["python"] = platform.python_version()
        import kubernetes

        out["kubernetes (Python client)"] = kubernetes.__version__
        for name in HELMS:
            said = self.tools.helm(name, "version", "--template", "{{ .Version }} (Go {{ .GoVersion }})")["stdout"].strip()
            built = self.tools.helm_build(name)
            if built:
                said += f"; built from the Go module proxy in {built['seconds']} s on {built['built']} (load {built['load']}, {built['nproc']} CPUs)"
            out[f"Helm {name[-1]}"] = said
        return out


def rollout_health_args(namespace: str, instance: str, fail_fast: bool) -> dict:
    """Options of erp.platform.rollout_health as the verify role passes them, rollback off."""
    return {
        "namespace": namespace,
        "label_selector": f"app.kubernetes.io/managed-by=erp.platform,app.kubernetes.io/instance={instance}",
        "timeout": 240,
        "fail_fast": fail_fast,
        "check_services": True,
        "check_ingresses": True,
        "check_dapr_components": True,
        "rollback": False,
    }


def fault_target(manifests: Manifests) -> str:
    """The Deployment of the first ordinary service (not the gateway) gets the crashloop fault."""
    for kind, name, doc in manifests.workloads:
        labels = doc["metadata"].get("labels") or {}
        if kind == "Deployment" and labels.get("app.kubernetes.io/component") == "service" and labels.get("app.kubernetes.io/name") != "gateway":
            return name
    for kind, name, _ in manifests.workloads:
        if kind == "Deployment":
            return name
    raise BenchError("no Deployment to inject the crashloop fault into")


def first_crashloop_api(api, ns: str) -> float | None:
    """API timestamp of the first CrashLoopBackOff: the crashed container's finishedAt (second resolution)."""
    times = []
    for pod in api.list_namespaced_pod(ns).items:
        for cs in pod.status.container_statuses or []:
            waiting = cs.state and cs.state.waiting
            if waiting and waiting.reason == "CrashLoopBackOff" and cs.last_state and cs.last_state.terminated:
                times.append(cs.last_state.terminated.finished_at.timestamp())
    return min(times) if times else None


class PodWatcher(threading.Thread):
    """Watches the namespace's pods: when each was first seen Ready or in CrashLoopBackOff;
    after release(), removes HOLD_GATE from every pod (also those created later)."""

    def __init__(self, api, namespace: str):
        super().__init__(daemon=True)
        self.api, self.ns = api, namespace
        self.ready_seen: dict[str, float] = {}
        self.crash_seen: dict[str, float] = {}
        self.gated: set[str] = set()
        self.pods: set[str] = set()
        self._released = threading.Event()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.error: str | None = None

    def run(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        resource_version = None
        deadline = time.monotonic() + 900
        while not self._halt.is_set() and time.monotonic() < deadline:
            try:
                if resource_version is None:
                    listing = self.api.list_namespaced_pod(self.ns)
                    for pod in listing.items:
                        self._observe(pod)
                    resource_version = listing.metadata.resource_version
                stream = watch.Watch().stream(self.api.list_namespaced_pod, self.ns, resource_version=resource_version, timeout_seconds=2, _request_timeout=10)
                for event in stream:
                    pod = event["object"]
                    resource_version = pod.metadata.resource_version
                    if event["type"] != "DELETED":
                        self._observe(pod)
                    if self._halt.is_set():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    resource_version = None
                    continue
                self.error = str(exc)[:500]
                time.sleep(0.2)
            except Exception as exc:  # a dropped connection: watch again from where we were
                self.error = str(exc)[:500]
                time.sleep(0.2)

    def _observe(self, pod) -> None:
        now = time.time()
        name = pod.metadata.name
        with self._lock:
            self.pods.add(name)
            for cond in pod.status.conditions or []:
                if cond.type == "Ready" and cond.status == "True":
                    self.ready_seen.setdefault(name, now)
            for cs in pod.status.container_statuses or []:
                if cs.state and cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff":
                    self.crash_seen.setdefault(name, now)
            gated = any(g.name == HOLD_GATE for g in pod.spec.scheduling_gates or [])
            if gated:
                self.gated.add(name)
            else:
                self.gated.discard(name)
        if gated and self._released.is_set():
            self._ungate(name)

    def _ungate(self, name: str) -> None:
        from kubernetes.client.exceptions import ApiException

        with contextlib.suppress(ApiException):
            self.api.patch_namespaced_pod(name, self.ns, [{"op": "remove", "path": "/spec/schedulingGates"}])

    def wait_pods(self, minimum: int, timeout: float) -> None:
        """Until at least `minimum` gated pods exist and no new one appeared for a second."""
        deadline = time.monotonic() + timeout
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self.gated)
            if count != last:
                last, stable_since = count, time.monotonic()
            elif count >= minimum and time.monotonic() - stable_since > 1.0:
                return
            time.sleep(0.1)
        raise BenchError(f"only {last} gated pods appeared in {timeout}s (expected at least {minimum})")

    def release(self) -> None:
        self._released.set()
        with self._lock:
            names = sorted(self.gated)
        for name in names:
            self._ungate(name)

    def last_ready_seen(self) -> float:
        with self._lock:
            return max(self.ready_seen.values())

    def first_crashloop_seen(self) -> float | None:
        with self._lock:
            return min(self.crash_seen.values()) if self.crash_seen else None

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)


def code_version() -> dict:
    """Which code was measured: the commit, whether the tree had changes, and the hash render_key takes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=False)
    return {"commit": head.stdout.strip() or "unknown", "changed_paths": len(dirty.stdout.splitlines()), "content_hash": render_key(None)}


def machine() -> dict:
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kib = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": mem_kib / 1024 / 1024, "kernel": platform.release(), "os": platform.platform()}


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")), help="runs per figure (at least 3 for a published document)")
    parser.add_argument("--scales", default=os.environ.get("BENCH_SCALES", "8,32,128"), help="numbers of services of the scale benchmark, comma-separated")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds between the module's start and the release of the pods it waits for")
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=float(os.environ.get("BENCH_BUDGET_MINUTES", "0")),
        help="skip the larger scale catalogs once this much time is spent (0: no budget)",
    )
    parser.add_argument("--work", default=str(REPO / "out" / "bench"), help="scratch directory (git-ignored)")
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--chart", default=str(REPO / "docs" / "benchmarks-deploy-time.png"))
    parser.add_argument("--report-only", action="store_true", help="rewrite the document and chart from the results.json of the last run")
    args = parser.parse_args(argv)
    args.scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    if args.runs < 1 or any(s < 8 for s in args.scales):
        parser.error("--runs must be at least 1 and every scale at least 8 (the built-in catalog)")
    if "KUBECONFIG" not in os.environ and not args.report_only:
        parser.error("KUBECONFIG is not set: run through tools/bench/run.sh (make bench)")

    work = Path(args.work).resolve()
    results_file = work / "results.json"
    from report import write_report  # tools/bench/report.py, next to this file

    if args.report_only:
        results = json.loads(results_file.read_text())
    else:
        bench = Bench(args)
        try:
            results = bench.run_all()
        except BenchError as exc:
            log(f"FAILED: {exc}")
            bench.results["error"] = str(exc)
            results_file.write_text(json.dumps(bench.results, indent=1, default=str))
            log(f"partial results in {results_file}; docs/benchmarks.md was not rewritten")
            return 1
        results_file.write_text(json.dumps(results, indent=1, default=str))
    write_report(results, Path(args.doc), Path(args.chart), GOALS, STRICT_GOALS)
    log(f"wrote {args.doc} and {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
