"""site.yml run the way AWX runs it: ansible-runner, a private data directory, a bearer-token credential.

AWX's "OpenShift or Kubernetes API Bearer Token" credential puts the API URL, the token and the CA in
K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL and K8S_AUTH_SSL_CA_CERT (the CA written to a
0600 file under the private data directory's env/), and the job has no kubeconfig. The token here
belongs to the ServiceAccount of docs/rbac/erp-deployer.yaml, applied as an administrator would,
so a successful run proves that this least-privilege RBAC is enough.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RBAC_MANIFEST = REPO / "docs" / "rbac" / "erp-deployer.yaml"
NAMESPACE = "erp-awx"
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:erp-deployer"
# What an AWX project checkout would not contain, or what is only local state.
NOT_IN_PROJECT = shutil.ignore_patterns(
    ".git", ".venv", ".localcluster", ".build", ".cache", ".ansible", ".pytest_cache", ".ruff_cache",
    "__pycache__", "out", "render", "tests", "tools", "*.tar.gz",
)  # fmt: skip


def rbac_for(namespace: str) -> str:
    """The documented manifest, moved to another namespace the way its header tells administrators to."""
    return RBAC_MANIFEST.read_text().replace("erp-system", namespace)


def cluster_endpoint(kubeconfig: str) -> tuple[str, str]:
    """(API server URL, CA file) of the kubeconfig's current context."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    ca = cluster["certificate-authority"]
    if not Path(ca).is_absolute():
        ca = str(Path(kubeconfig).parent / ca)
    return cluster["server"], ca


def wait_namespace_gone(kubectl, name: str) -> None:
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=180s")


@pytest.fixture(scope="module")
def deployer(kubeconfig, kubectl):
    """The erp-deployer ServiceAccount of the RBAC manifest in NAMESPACE, and a token for it."""
    wait_namespace_gone(kubectl, NAMESPACE)
    kubectl("apply", "-f", "-", input_text=rbac_for(NAMESPACE))
    token = kubectl("-n", NAMESPACE, "create", "token", "erp-deployer", "--duration", "1h").stdout.strip()
    server, ca = cluster_endpoint(kubeconfig)
    yield {"token": token, "server": server, "ca": ca}
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
    kubectl(
        "delete", "clusterrolebinding", f"erp-deployer-preflight-{NAMESPACE}", f"erp-deployer-namespace-{NAMESPACE}",
        "--ignore-not-found", check=False,
    )  # fmt: skip
    kubectl("delete", "clusterrole", f"erp-deployer-namespace-{NAMESPACE}", "--ignore-not-found", check=False)
    kubectl("-n", "dapr-system", "delete", "rolebinding", f"erp-deployer-{NAMESPACE}", "--ignore-not-found", check=False)


def as_deployer(kubectl_bin: str, deployer: dict, *args: str) -> subprocess.CompletedProcess:
    """kubectl with only the bearer token: no kubeconfig at all."""
    return subprocess.run(
        [
            kubectl_bin, "--kubeconfig", os.devnull, "--server", deployer["server"],
            "--certificate-authority", deployer["ca"], "--token", deployer["token"], *args,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def can_i(kubectl_bin: str, deployer: dict, *args: str) -> bool:
    result = as_deployer(kubectl_bin, deployer, "auth", "can-i", *args)
    assert result.stdout.strip() in ("yes", "no"), f"kubectl auth can-i {args}: {result.stdout} {result.stderr}"
    return result.stdout.strip() == "yes"


def test_deployer_is_not_a_cluster_admin(kubectl, kubectl_bin, deployer):
    """The token can do its job in its namespace and nothing of an administrator's."""
    ns = ["-n", NAMESPACE]
    assert can_i(kubectl_bin, deployer, "patch", "deployments", *ns)
    assert can_i(kubectl_bin, deployer, "create", "components.dapr.io", *ns)
    assert can_i(kubectl_bin, deployer, "patch", f"namespace/{NAMESPACE}")

    assert not can_i(kubectl_bin, deployer, "*", "*", "--all-namespaces")
    assert not can_i(kubectl_bin, deployer, "create", "namespaces")
    assert not can_i(kubectl_bin, deployer, "delete", f"namespace/{NAMESPACE}")
    assert not can_i(kubectl_bin, deployer, "list", "namespaces")
    assert not can_i(kubectl_bin, deployer, "patch", "namespace/default")
    assert not can_i(kubectl_bin, deployer, "get", "secrets", "-n", "kube-system")
    assert not can_i(kubectl_bin, deployer, "create", "deployments", "-n", "default")
    assert not can_i(kubectl_bin, deployer, "create", "clusterrolebindings")
    # Roles and RoleBindings of its own namespace (a Dapr secret store's), but no way past its own rights.
    assert can_i(kubectl_bin, deployer, "create", "rolebindings", *ns)
    assert not can_i(kubectl_bin, deployer, "bind", "clusterroles", *ns)
    assert not can_i(kubectl_bin, deployer, "escalate", "roles", *ns)
    # In Dapr's namespace only the one read preflight does.
    assert can_i(kubectl_bin, deployer, "get", "deployment/dapr-sidecar-injector", "-n", "dapr-system")
    assert not can_i(kubectl_bin, deployer, "list", "deployments", "-n", "dapr-system")
    assert not can_i(kubectl_bin, deployer, "get", "deployment/dapr-operator", "-n", "dapr-system")
    assert not can_i(kubectl_bin, deployer, "patch", "deployment/dapr-sidecar-injector", "-n", "dapr-system")
    assert not can_i(kubectl_bin, deployer, "list", "secrets", *ns)
    assert not can_i(kubectl_bin, deployer, "update", "deployments", *ns)
    assert not can_i(kubectl_bin, deployer, "patch", "customresourcedefinitions")
    assert not can_i(kubectl_bin, deployer, "list", "nodes")

    # And no binding anywhere hands it a built-in broad role.
    bindings = json.loads(kubectl("get", "clusterrolebindings,rolebindings", "-A", "-o", "json").stdout)["items"]
    roles = {
        b["roleRef"]["name"]
        for b in bindings
        for s in b.get("subjects") or []
        if s.get("kind") == "ServiceAccount" and s.get("name") == "erp-deployer" and s.get("namespace") == NAMESPACE
    }
    assert roles == {"erp-deployer", "erp-deployer-preflight", f"erp-deployer-namespace-{NAMESPACE}", "erp-deployer-dapr-injector"}


def private_data_dir(root: Path, deployer: dict, token: str) -> Path:
    """A runner private data directory as AWX prepares one for a job on the local inventory."""
    pdd = root / "pdd"
    shutil.copytree(REPO, pdd / "project", symlinks=True, ignore=NOT_IN_PROJECT)
    env = pdd / "env"
    env.mkdir()
    # The credential's CA, as AWX's injector writes it: a private file under env/.
    handle, ca_path = tempfile.mkstemp(dir=env)
    with os.fdopen(handle, "w") as ca_file:
        ca_file.write(Path(deployer["ca"]).read_text())
    os.chmod(ca_path, 0o600)
    (env / "envvars").write_text(
        yaml.safe_dump(
            {
                "K8S_AUTH_HOST": deployer["server"],
                "K8S_AUTH_API_KEY": token,
                "K8S_AUTH_VERIFY_SSL": "True",
                "K8S_AUTH_SSL_CA_CERT": ca_path,
            }
        )
    )
    # The extra vars a job template's survey would set (docs/awx.md), plus the execution
    # environment's interpreter, which here is this virtualenv's.
    (env / "extravars").write_text(yaml.safe_dump({"erp_namespace": NAMESPACE, "ansible_python_interpreter": sys.executable}))
    return pdd


def run_like_awx(pdd: Path, home: Path, ident: str, playbook: str = "site.yml", extra_vars: dict | None = None) -> tuple[int, list[dict]]:
    """ansible-runner with a scrubbed environment: no KUBECONFIG, an empty HOME (no ~/.kube/config).

    extra_vars are a job's own extra variables (a launch-time survey), on top of env/extravars.
    """
    venv_bin = str(Path(sys.executable).parent)
    env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    runner = Path(venv_bin) / "ansible-runner"
    result = subprocess.run(
        [
            str(runner), "run", str(pdd), "--playbook", playbook, "--ident", ident,
            "--inventory", str(pdd / "project" / "inventories" / "local"),
            *(["--cmdline", "-e " + shlex.quote(json.dumps(extra_vars))] if extra_vars else []),
        ],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    artifacts = pdd / "artifacts" / ident
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    stdout = (artifacts / "stdout").read_text() if (artifacts / "stdout").exists() else result.stdout
    rc_file = artifacts / "rc"
    rc = int(rc_file.read_text()) if rc_file.exists() else result.returncode
    if rc != 0:
        print(stdout[-20000:])
        print(result.stderr[-5000:])
    return rc, events


def test_site_runs_under_ansible_runner_with_the_bearer_token_only(kubectl, deployer, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, deployer["token"])

    # AWX passes the job's id and user as extra vars; the release record keeps them. finance's migration Job
    # needs the Role's create on batch jobs.
    migration = {"erp_services": {"finance": {"migration": {"args": ["--version"]}}}}
    rc, events = run_like_awx(pdd, home, "deploy", extra_vars={"awx_job_id": 4711, "awx_user_name": "operator", **migration})

    failed = [e["event_data"].get("task") for e in events if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
    assert rc == 0, f"site.yml failed under ansible-runner with the erp-deployer token; failed tasks: {failed}"
    assert not failed
    stats = next(e for e in events if e["event"] == "playbook_on_stats")["event_data"]
    assert stats["failures"] == {}
    assert stats["dark"] == {}
    assert sum(stats["ok"].values()) > 0
    assert not (home / ".kube").exists(), "the run looked for a kubeconfig"

    # The system is really there, written by the collection's field manager.
    deployments = json.loads(kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json", "--show-managed-fields").stdout)["items"]
    names = {d["metadata"]["name"] for d in deployments}
    assert {"gateway", "finance", "reporting"} <= {n.removesuffix("-service") for n in names}, names
    for deployment in deployments:
        status = deployment.get("status", {})
        assert status.get("availableReplicas", 0) == deployment["spec"]["replicas"], deployment["metadata"]["name"]
        managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
        assert "erp.platform" in managers

    (job,) = json.loads(kubectl("-n", NAMESPACE, "get", "jobs", "-l", "app.kubernetes.io/component=migration", "-o", "json").stdout)["items"]
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"]), job["status"]

    # The "ERP status" job template (docs/awx.md) with the same credential: read-only, and healthy.
    rc, events = run_like_awx(pdd, home, "status", playbook="playbooks/status.yml")
    assert rc == 0, "playbooks/status.yml failed under ansible-runner with the erp-deployer token"
    health = [
        e["event_data"]["res"] for e in events if e["event"] == "runner_on_ok" and e["event_data"].get("resolved_action") == "erp.platform.rollout_health"
    ]
    assert len(health) == 1
    assert health[0]["outcome"] == "healthy"
    assert not health[0]["changed"]

    # The deploy recorded a release naming the AWX job and its user; the "ERP history" job template reads it.
    records = json.loads(kubectl("-n", NAMESPACE, "get", "configmaps", "-l", "erp.platform/release", "-o", "json").stdout)["items"]
    newest = max(records, key=lambda item: int(item["metadata"]["labels"]["erp.platform/release"]))
    record = json.loads(newest["data"]["release.json"])
    assert record["actor"] == {"user": "operator", "awx_job_id": 4711}, record["actor"]
    assert record["result"] == "healthy"
    rc, events = run_like_awx(pdd, home, "history", playbook="playbooks/history.yml")
    assert rc == 0, "playbooks/history.yml failed under ansible-runner with the erp-deployer token"
    printed = [
        e["event_data"]["res"]["msg"]
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"].get("task") == "Print the release history" and "msg" in e["event_data"]["res"]
    ]
    assert len(printed) == 1
    assert "operator (AWX job 4711)" in printed[0], printed[0]


def test_gateway_api_mode_runs_under_ansible_runner_with_the_bearer_token_only(kubectl, deployer, tmp_path):
    """The same job template with the survey's erp_routing=gateway_api: the switch from the Ingress the test
    above deployed to HTTPRoutes on a Gateway the collection creates, and back, with the documented RBAC
    (preflight's GatewayClass read, the routes and the Gateway applied, watched and pruned)."""
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, deployer["token"])
    gateway_mode = {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "erp-local"}

    rc, events = run_like_awx(pdd, home, "deploy-gateway-api", extra_vars=gateway_mode)
    failed = [e["event_data"].get("task") for e in events if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
    assert rc == 0, f"site.yml in Gateway API mode failed under ansible-runner with the erp-deployer token; failed tasks: {failed}"

    def managed(kind: str) -> set[str]:
        items = json.loads(kubectl("-n", NAMESPACE, "get", kind, "-l", "app.kubernetes.io/managed-by=erp.platform", "-o", "json").stdout)["items"]
        return {item["metadata"]["name"] for item in items}

    assert managed("httproutes") == {"gateway-service", "reporting-service"}
    assert managed("gateways") == {"erp-gateway"}
    assert managed("ingresses") == set()

    rc, _events = run_like_awx(pdd, home, "deploy-ingress-again", extra_vars={"erp_routing": "ingress"})
    assert rc == 0, "switching back to Ingress mode failed under ansible-runner with the erp-deployer token"
    assert managed("ingresses") == {"erp-ingress"}
    assert managed("httproutes") == set()
    assert managed("gateways") == set()


def finance_template(kubectl) -> tuple[str, list[dict]]:
    """The revision annotation and the app container's env of the finance Deployment."""
    deployment = json.loads(kubectl("-n", NAMESPACE, "get", "deployment", "finance-service", "-o", "json").stdout)
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "finance")
    return deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"], container.get("env") or []


def test_rollback_runs_under_ansible_runner_with_the_bearer_token_only(kubectl, deployer, tmp_path):
    """The "ERP rollback" job template (docs/awx.md): a second revision of finance, then back to the first."""
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, deployer["token"])
    rc, _events = run_like_awx(pdd, home, "deploy")
    assert rc == 0, "site.yml failed under ansible-runner with the erp-deployer token"
    revision, env = finance_template(kubectl)
    assert all(item["name"] != "AWX_ROLLBACK_TEST" for item in env)

    rc, _events = run_like_awx(pdd, home, "deploy-v2", extra_vars={"erp_services": {"finance": {"env": {"AWX_ROLLBACK_TEST": "v2"}}}})
    assert rc == 0, "the second revision of finance failed to deploy"
    revision_2, env_2 = finance_template(kubectl)
    assert int(revision_2) == int(revision) + 1
    assert {"name": "AWX_ROLLBACK_TEST", "value": "v2"} in env_2

    rc, events = run_like_awx(pdd, home, "rollback", playbook="playbooks/rollback.yml", extra_vars={"rollback_services": ["finance"]})
    failed = [e["event_data"].get("task") for e in events if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
    assert rc == 0, f"playbooks/rollback.yml failed under ansible-runner with the erp-deployer token; failed tasks: {failed}"
    revision_3, env_3 = finance_template(kubectl)
    assert int(revision_3) == int(revision_2) + 1
    assert all(item["name"] != "AWX_ROLLBACK_TEST" for item in env_3)
    health = [
        e["event_data"]["res"] for e in events if e["event"] == "runner_on_ok" and e["event_data"].get("resolved_action") == "erp.platform.rollout_health"
    ]
    assert [result["outcome"] for result in health] == ["healthy"]
    verified = {(entry["kind"], entry["name"]) for entry in health[0]["resources"]}
    assert {name for kind, name in verified if kind in ("Deployment", "StatefulSet")} == {"finance-service"}


def test_release_strategies_run_under_ansible_runner_with_the_bearer_token_only(kubectl, deployer, tmp_path):
    """The strategies' job templates (docs/awx.md): "ERP deploy" starting a canary that waits for a manual promotion,
    "ERP promote" finishing it, then another canary ended by "ERP abort", in Gateway API mode (the routes'
    weights); then blue/green releases and back to rolling; with the documented RBAC (the ReplicaSets read, the
    canary and colour objects applied and pruned, the Service switched)."""
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, deployer["token"])
    gateway_mode = {"erp_routing": "gateway_api", "ingress_gateway_create": True, "ingress_gateway_class_name": "erp-local"}

    def canary(tag: str, strategy: str = "canary") -> dict:
        steps = [{"weight": 30, "pause": 1}]
        reporting = {"strategy": strategy, "image": {"tag": tag}, "canary": {"steps": steps, "promotion": "manual"}, "blue_green": {"delay": 1}}
        return {**gateway_mode, "erp_services": {"reporting": reporting}}

    def image(name: str) -> str:
        deployment = json.loads(kubectl("-n", NAMESPACE, "get", "deployment", name, "-o", "json").stdout)
        return deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    def canary_objects() -> list[str]:
        return kubectl("-n", NAMESPACE, "get", "deployments,services", "-l", "app.kubernetes.io/component=canary", "-o", "name").stdout.split()

    def deploy(ident: str, extra_vars: dict, playbook: str = "site.yml") -> None:
        rc, events = run_like_awx(pdd, home, ident, playbook=playbook, extra_vars=extra_vars)
        failed = [e["event_data"].get("task") for e in events if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
        assert rc == 0, f"{ident} ({playbook}) failed under ansible-runner with the erp-deployer token; failed tasks: {failed}"

    # 2.0.1 as a canary beside what the earlier tests left running, promoted by promote.yml.
    stable = image("reporting-service")
    deploy("canary", canary("2.0.1"))
    assert image("reporting-service") == stable
    assert image("reporting-service-canary") == "docker.io/erp-system/reporting:2.0.1"
    assert len(canary_objects()) == 3, canary_objects()
    deploy("promote", canary("2.0.1"), playbook="playbooks/promote.yml")
    assert image("reporting-service") == "docker.io/erp-system/reporting:2.0.1"
    assert canary_objects() == []

    # 2.0.2 as a canary, ended by abort.yml.
    deploy("canary-again", canary("2.0.2"))
    assert len(canary_objects()) == 3, canary_objects()
    deploy("abort", gateway_mode, playbook="playbooks/abort.yml")
    assert canary_objects() == []
    assert image("reporting-service") == "docker.io/erp-system/reporting:2.0.1"

    # Blue/green: the rolling Deployment to blue (the Service switched, the rolling Deployment removed), then back to
    # the rolling strategy, and to Ingress mode (blue removed after the verification, the routes pruned).
    def reporting_deployments() -> set[str]:
        deployed = json.loads(kubectl("-n", NAMESPACE, "get", "deployments", "-o", "json").stdout)["items"]
        return {d["metadata"]["name"] for d in deployed if d["metadata"]["name"].startswith("reporting")}

    deploy("blue-green", canary("2.0.1", "blue_green"))
    assert reporting_deployments() == {"reporting-service-blue"}
    deploy("rolling-again", {"erp_routing": "ingress", "erp_services": canary("2.0.1", "rolling")["erp_services"]})
    assert reporting_deployments() == {"reporting-service"}


def test_a_bad_token_is_refused(deployer, tmp_path):
    """Control: the token is the only credential the job has; a wrong one stops the run."""
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, "not-a-valid-token")

    rc, events = run_like_awx(pdd, home, "bad-token")

    assert rc != 0
    failed = [e["event_data"] for e in events if e["event"] == "runner_on_failed"]
    assert failed, "the run failed before any task: not the credential that stopped it"
    # Stopped by preflight's cluster check, before anything could change.
    assert failed[0].get("role") == "preflight", failed[0].get("task")


def test_a_token_without_the_preflight_reads_is_told_which_permission_is_missing(kubectl, deployer, tmp_path):
    """A ServiceAccount with no role at all: preflight names the reads it may not do, not an unreachable API."""
    kubectl("-n", NAMESPACE, "create", "serviceaccount", "erp-no-roles")
    token = kubectl("-n", NAMESPACE, "create", "token", "erp-no-roles", "--duration", "10m").stdout.strip()
    home = tmp_path / "home"
    home.mkdir()
    pdd = private_data_dir(tmp_path, deployer, token)

    rc, events = run_like_awx(pdd, home, "no-roles")

    assert rc != 0
    failed = [e["event_data"] for e in events if e["event"] == "runner_on_failed"]
    assert failed, "the run failed before any task"
    assert failed[0].get("role") == "preflight", failed[0].get("task")
    msg = failed[0]["res"]["msg"]
    assert "not reachable" not in msg
    assert "cannot read StorageClass (list) (403 Forbidden" in msg
    assert "cannot read CustomResourceDefinition components.dapr.io (403 Forbidden" in msg
    assert "grant the identity get and list on it (docs/rbac/erp-deployer.yaml)" in msg
    assert "cannot read the Dapr sidecar injector (Deployment dapr-sidecar-injector in namespace dapr-system, 403 Forbidden" in msg
    assert "Role erp-deployer-dapr-injector in docs/rbac/erp-deployer.yaml" in msg
    # A refused read is not also reported as a missing object.
    assert "install the Dapr" not in msg
    assert "does not exist" not in msg
    assert "a default StorageClass" not in msg
