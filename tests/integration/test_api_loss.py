"""A lost API during the verification ends the run within verify_api_unreachable_timeout, naming the API error.

site.yml reaches the API server through a TCP relay on 127.0.0.1 that this test runs (a kubeconfig whose server
is the relay's port; the server certificate names 127.0.0.1, so TLS verification still holds). Once the
verification is watching, the relay stops: the watches are reset and every reconnect is refused, as when the API
server dies. A finance pod that never becomes Ready (the local cluster's not-ready fault) keeps the verification
waiting, so without the bound the run would retry until verify_timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import yaml

from ansible_collections.erp.platform.tests.integration.conftest import deleted_namespace
from ansible_collections.erp.platform.tests.integration.playbook_run import run_playbook

NAMESPACE = "erp-it-api-loss"
VERIFY_TASK = "TASK [erp.platform.verify : Wait until everything this instance deployed is healthy]"
BOUND = 5


class Relay:
    """Forwards TCP connections from a loopback port to the API server until stop(); then refuses them."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        # When each connection was accepted (time.time()), to tell the verification's from earlier tasks'.
        self.accept_times: list[float] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _peer = self.listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.accepted += 1
                self.accept_times.append(time.time())
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self):
        self.listener.close()
        with self.lock:
            for end in self.sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()


def task_started(log: Path, header: str) -> float | None:
    """When the Ansible log says the task started (its line's timestamp, local time), or None before that."""
    for line in log.read_text().splitlines() if log.exists() else []:
        if header in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def relayed_kubeconfig(kubeconfig: str, target: Path) -> tuple[Relay, Path]:
    config = yaml.safe_load(Path(kubeconfig).read_text())
    server = urlparse(config["clusters"][0]["cluster"]["server"])
    relay = Relay(server.hostname, server.port)
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    target.write_text(yaml.safe_dump(config))
    return relay, target


def test_a_lost_api_during_verification_ends_the_run_within_the_bound_naming_the_error(kubeconfig, kubectl, inventory, tmp_path):
    deleted_namespace(kubectl, NAMESPACE)
    relay, relayed = relayed_kubeconfig(kubeconfig, tmp_path / "kubeconfig")
    log = tmp_path / "ansible.log"
    extra = {
        "erp_namespace": NAMESPACE,
        "verify_api_unreachable_timeout": BOUND,
        "erp_services": {"finance": {"pod_annotations": {"fault.erp.test/mode": "not-ready"}}},
    }
    result = []
    env = dict(os.environ, ANSIBLE_LOG_PATH=str(log))
    # The subprocess timeout is far below verify_timeout (600 s): reaching it means the bound did not hold.
    runner = threading.Thread(
        target=lambda: result.append(run_playbook("site.yml", inventory, extra, kubeconfig=str(relayed), env=env, timeout=240)), daemon=True
    )
    runner.start()
    try:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline and runner.is_alive() and not (log.exists() and VERIFY_TASK in log.read_text()):
            runner.join(0.2)
        reached = log.exists() and VERIFY_TASK in log.read_text()
        assert reached, f"the run never reached the verification:\n{result[0].tail() if result else ''}"
        # The verification's informers connect through the relay, one after another: wait until they have (no new
        # connection for a second), so the API goes away while the module waits, not while it starts. Connections
        # are counted from the task's start in the log, not from when this loop saw the line: the module may have
        # connected by then.
        started = task_started(log, VERIFY_TASK)
        last, quiet_since = relay.accepted, time.monotonic()
        while (
            time.monotonic() < deadline
            and runner.is_alive()
            and (sum(when >= started for when in list(relay.accept_times)) < 3 or time.monotonic() - quiet_since < 1.0)
        ):
            runner.join(0.1)
            if relay.accepted != last:
                last, quiet_since = relay.accepted, time.monotonic()
    finally:
        relay.stop()
    runner.join(230)
    assert result, "the run did not end"
    run = result[0]
    assert run.returncode != 0, run.tail()
    assert "Traceback" not in run.output
    assert run.failed_task == "erp.platform.verify : Wait until everything this instance deployed is healthy", run.tail()
    text = run.failure_text
    assert re.search(rf"the Kubernetes API has not answered for \d+ s \(api_unreachable_timeout {BOUND} s\)", text), text
    assert "Connection refused" in text, text
    # The workloads had been read: the summary names them, the finance Deployment still waiting for its pod.
    assert re.search(r"\d+ of \d+ resources are Current after [0-9.]+s; blocking: Deployment/finance-service InProgress", text), text
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
