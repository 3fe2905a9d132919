"""The local cluster is a real control plane: scheduling, admission, volumes, faults, GC, SSA."""

from __future__ import annotations

import json
import textwrap

import pytest

DAPR_CRDS = ["components", "configurations", "httpendpoints", "resiliencies", "subscriptions"]

RESTRICTED_CONTAINER = """
        securityContext:
          runAsNonRoot: true
          runAsUser: 10001
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          seccompProfile: {type: RuntimeDefault}
"""


def deployment(name: str, replicas: int = 3, annotations: dict | None = None, deadline: int = 600) -> str:
    pod_annotations = json.dumps(annotations or {})
    return textwrap.dedent(
        f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: {replicas}
          progressDeadlineSeconds: {deadline}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata:
              labels: {{app: {name}}}
              annotations: {pod_annotations}
            spec:
              topologySpreadConstraints:
              - maxSkew: 1
                topologyKey: kubernetes.io/hostname
                whenUnsatisfiable: DoNotSchedule
                labelSelector: {{matchLabels: {{app: {name}}}}}
              containers:
              - name: app
                image: registry.example/app:1.0.0
                ports: [{{containerPort: 8080, name: http}}]
        """
    )


def ready_endpoints(api_client, namespace: str, service: str, want: int, timeout: int = 60) -> list:
    """Watch the Service's EndpointSlices until `want` endpoints are ready; return them."""
    from kubernetes import client, watch

    discovery = client.DiscoveryV1Api(api_client)
    selector = f"kubernetes.io/service-name={service}"
    slices = {}

    def ready() -> list:
        return [e for s in slices.values() for e in s.endpoints or [] if e.conditions.ready]

    listing = discovery.list_namespaced_endpoint_slice(namespace, label_selector=selector)
    slices.update({s.metadata.name: s for s in listing.items})
    if len(ready()) >= want:
        return ready()
    stream = watch.Watch().stream(
        discovery.list_namespaced_endpoint_slice,
        namespace,
        label_selector=selector,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=timeout,
    )
    for event in stream:
        slices[event["object"].metadata.name] = event["object"]
        if len(ready()) >= want:
            return ready()
    raise AssertionError(f"{service}: {len(ready())} ready endpoints after {timeout}s, wanted {want}")


def pod(name: str, mode: str) -> str:
    return textwrap.dedent(
        f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
          annotations: {{fault.erp.test/mode: {mode}}}
        spec:
          restartPolicy: Always
          containers:
          - name: app
            image: registry.example/app:1.0.0
        """
    )


def test_deployment_spreads_ready_pods_and_endpoints(kubectl, k8s_client, namespace):
    service = textwrap.dedent(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: http}]
        """
    )
    kubectl("-n", namespace, "apply", "-f", "-", input_text=deployment("web") + "---\n" + service)
    kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s")

    pods = json.loads(kubectl("-n", namespace, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])]
    assert len(ready) == 3
    assert {p["spec"]["nodeName"] for p in ready} == {"kwok-node-0", "kwok-node-1", "kwok-node-2"}

    endpoints = ready_endpoints(k8s_client, namespace, "web", want=3)
    assert len(endpoints) == 3
    assert {e.node_name for e in endpoints} == {"kwok-node-0", "kwok-node-1", "kwok-node-2"}
    slices = json.loads(kubectl("-n", namespace, "get", "endpointslice", "-l", "kubernetes.io/service-name=web", "-o", "json").stdout)["items"]
    assert all(s["ports"][0]["port"] == 8080 for s in slices)


def test_restricted_namespace_rejects_root_pod(kubectl, namespace):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    root_pod = textwrap.dedent(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: root}
        spec:
          containers:
          - name: app
            image: registry.example/app:1.0.0
            securityContext: {runAsUser: 0}
        """
    )
    result = kubectl("-n", namespace, "apply", "-f", "-", input_text=root_pod, check=False)
    assert result.returncode != 0
    assert "violates PodSecurity" in result.stderr
    assert "restricted:latest" in result.stderr

    compliant = textwrap.dedent(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: compliant}
        spec:
          containers:
          - name: app
            image: registry.example/app:1.0.0
        """
    ).rstrip() + RESTRICTED_CONTAINER.replace("        ", "    ")
    kubectl("-n", namespace, "apply", "-f", "-", input_text=compliant)


def test_statefulset_with_volume_claims_becomes_ready(kubectl, namespace):
    sts = textwrap.dedent(
        """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          serviceName: db
          replicas: 2
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec:
              containers:
              - name: db
                image: registry.example/db:1.0.0
                volumeMounts: [{name: data, mountPath: /data}]
          volumeClaimTemplates:
          - metadata: {name: data}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 1Gi}}
        """
    )
    kubectl("-n", namespace, "apply", "-f", "-", input_text=sts)
    kubectl("-n", namespace, "rollout", "status", "statefulset/db", "--timeout=120s")
    pvcs = json.loads(kubectl("-n", namespace, "get", "pvc", "-o", "json").stdout)["items"]
    assert sorted(p["metadata"]["name"] for p in pvcs) == ["data-db-0", "data-db-1"]
    assert {p["status"]["phase"] for p in pvcs} == {"Bound"}
    assert all(p["spec"]["storageClassName"] == "standard" for p in pvcs)


@pytest.mark.parametrize(
    ("mode", "phase", "reason"),
    [("image-pull", "Pending", "ImagePullBackOff"), ("crashloop", "Running", "CrashLoopBackOff"), ("not-ready", "Running", None)],
)
def test_fault_modes_produce_their_status(kubectl, namespace, mode, phase, reason):
    kubectl("-n", namespace, "apply", "-f", "-", input_text=pod("faulty", mode))
    kubectl("-n", namespace, "wait", "--for=jsonpath={.status.phase}=" + phase, "pod/faulty", "--timeout=60s")
    kubectl("-n", namespace, "wait", "--for=jsonpath={.status.containerStatuses[0].name}=app", "pod/faulty", "--timeout=60s")
    status = json.loads(kubectl("-n", namespace, "get", "pod", "faulty", "-o", "json").stdout)["status"]
    container = status["containerStatuses"][0]
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert status["phase"] == phase
    assert ready["Ready"] == "False"
    assert container["ready"] is False
    if reason:
        assert container["state"]["waiting"]["reason"] == reason
    else:
        assert "running" in container["state"]
    if mode == "crashloop":
        assert container["restartCount"] > 0
        assert container["lastState"]["terminated"]["exitCode"] == 1


def test_crashlooping_deployment_exceeds_progress_deadline(kubectl, namespace):
    manifest = deployment("crashy", replicas=2, annotations={"fault.erp.test/mode": "crashloop"}, deadline=10)
    kubectl("-n", namespace, "apply", "-f", "-", input_text=manifest)
    kubectl(
        "-n",
        namespace,
        "wait",
        "--for=jsonpath={.status.conditions[?(@.type=='Progressing')].reason}=ProgressDeadlineExceeded",
        "deployment/crashy",
        "--timeout=90s",
    )
    rollout = kubectl("-n", namespace, "rollout", "status", "deployment/crashy", "--timeout=10s", check=False)
    assert rollout.returncode != 0
    assert "exceeded its progress deadline" in rollout.stderr


def test_namespace_deletion_completes(kubectl, namespace):
    kubectl("-n", namespace, "apply", "-f", "-", input_text=deployment("gone", replicas=2))
    kubectl("-n", namespace, "rollout", "status", "deployment/gone", "--timeout=60s")
    kubectl("delete", "namespace", namespace, "--timeout=120s")
    result = kubectl("get", "namespace", namespace, check=False)
    assert result.returncode != 0
    assert "NotFound" in result.stderr


def test_server_side_apply_twice_changes_nothing(kubectl, namespace):
    config_map = textwrap.dedent(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {key: value}
        """
    )
    args = ("-n", namespace, "apply", "--server-side", "--field-manager=erp-test", "-f", "-")
    kubectl(*args, input_text=config_map)
    first = json.loads(kubectl("-n", namespace, "get", "configmap", "settings", "-o", "json").stdout)
    kubectl(*args, input_text=config_map)
    second = json.loads(kubectl("-n", namespace, "get", "configmap", "settings", "-o", "json", "--show-managed-fields").stdout)
    assert first["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert second["metadata"]["managedFields"][0]["manager"] == "erp-test"
    diff = kubectl("-n", namespace, "diff", "--server-side", "--field-manager=erp-test", "-f", "-", input_text=config_map, check=False)
    assert diff.returncode == 0, diff.stdout


def dapr_pod(name: str, annotations: dict | None = None) -> str:
    """A pod that Pod Security `restricted` admits as written; Dapr-enabled unless annotations say otherwise."""
    pod_annotations = {"dapr.io/enabled": "true", "dapr.io/app-id": name, "dapr.io/app-port": "8080"} if annotations is None else annotations
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "annotations": pod_annotations},
            "spec": {
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example/app:1.0.0",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "securityContext": {"runAsUser": 10001, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    }
                ],
            },
        }
    )


def dapr_deployment(name: str, replicas: int) -> str:
    """A Deployment whose pod template is dapr_pod(name)."""
    pod_manifest = json.loads(dapr_pod(name))
    template = {"metadata": {"labels": {"app": name}, "annotations": pod_manifest["metadata"]["annotations"]}, "spec": pod_manifest["spec"]}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template}
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec})


@pytest.fixture
def restricted_namespace(kubectl, namespace):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    return namespace


def test_real_dapr_crds_are_served(kubectl):
    for plural in DAPR_CRDS:
        crd = json.loads(kubectl("get", "crd", f"{plural}.dapr.io", "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True", plural
        # Dapr's published CRDs, not stand-ins: generated by controller-gen, with the upstream labels.
        assert "controller-gen.kubebuilder.io/version" in crd["metadata"]["annotations"], plural
        assert crd["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dapr", plural
    served = kubectl("api-resources", "--api-group=dapr.io", "-o", "name").stdout.split()
    assert sorted(served) == sorted(f"{p}.dapr.io" for p in DAPR_CRDS)


def test_component_missing_required_fields_is_refused_by_the_real_schema(kubectl, namespace):
    component = json.dumps({"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "bad"}, "spec": {"type": "state.redis"}})
    result = kubectl("-n", namespace, "create", "--dry-run=server", "-f", "-", input_text=component, check=False)
    assert result.returncode != 0
    assert "spec.version: Required value" in result.stderr


def test_dapr_pod_gets_daprd_admitted_under_restricted(kubectl, restricted_namespace):
    kubectl("-n", restricted_namespace, "create", "-f", "-", input_text=dapr_pod("orders"))
    kubectl("-n", restricted_namespace, "wait", "--for=condition=Ready", "pod/orders", "--timeout=60s")
    pod = json.loads(kubectl("-n", restricted_namespace, "get", "pod", "orders", "-o", "json").stdout)
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert list(containers) == ["app", "daprd"]
    daprd = containers["daprd"]
    assert daprd["image"] == "ghcr.io/dapr/daprd:1.16.19"
    assert daprd["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert {p["name"]: p["containerPort"] for p in daprd["ports"]} == {"dapr-http": 3500, "dapr-grpc": 50001, "dapr-internal": 50002, "dapr-metrics": 9090}
    assert daprd["readinessProbe"]["httpGet"] == {"path": "/v1.0/healthz", "port": 3501, "scheme": "HTTP"}
    assert daprd["livenessProbe"]["tcpSocket"] == {"port": 3501}
    assert {"name": "dapr-identity-token", "mountPath": "/var/run/secrets/dapr.io/sentrytoken", "readOnly": True} in daprd["volumeMounts"]
    assert "--app-port" in daprd["args"]
    assert daprd["args"][daprd["args"].index("--app-port") + 1] == "8080"
    app_env = {e["name"]: e["value"] for e in containers["app"]["env"]}
    assert app_env == {"DAPR_HTTP_PORT": "3500", "DAPR_GRPC_PORT": "50001", "APP_PROTOCOL": "http"}
    assert pod["metadata"]["labels"]["dapr.io/sidecar-injected"] == "true"
    statuses = {s["name"]: s["ready"] for s in pod["status"]["containerStatuses"]}
    assert statuses == {"app": True, "daprd": True}


def test_dapr_annotations_shape_the_sidecar(kubectl, namespace):
    annotations = {
        "dapr.io/enabled": "true",
        "dapr.io/app-id": "finance",
        "dapr.io/grpc-port": "50011",
        "dapr.io/metrics-port": "9191",
        "dapr.io/sidecar-cpu-request": "100m",
        "dapr.io/sidecar-memory-request": "64Mi",
        "dapr.io/sidecar-cpu-limit": "500m",
        "dapr.io/sidecar-memory-limit": "256Mi",
        "dapr.io/sidecar-seccomp-profile-type": "RuntimeDefault",
        "dapr.io/api-token-secret": "erp-dapr-api-token",
    }
    out = kubectl("-n", namespace, "create", "--dry-run=server", "-o", "json", "-f", "-", input_text=dapr_pod("finance", annotations))
    pod = json.loads(out.stdout)
    daprd = next(c for c in pod["spec"]["containers"] if c["name"] == "daprd")
    assert {p["name"]: p["containerPort"] for p in daprd["ports"]}["dapr-grpc"] == 50011
    assert {p["name"]: p["containerPort"] for p in daprd["ports"]}["dapr-metrics"] == 9191
    assert daprd["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    assert daprd["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    token = next(e for e in daprd["env"] if e["name"] == "DAPR_API_TOKEN")
    assert token["valueFrom"] == {"secretKeyRef": {"name": "erp-dapr-api-token", "key": "token"}}
    app = next(c for c in pod["spec"]["containers"] if c["name"] == "app")
    assert {"name": "DAPR_GRPC_PORT", "value": "50011"} in app["env"]


@pytest.mark.usefixtures("dapr_drop_all_off")
def test_dapr_pod_refused_under_restricted_without_drop_all(kubectl, restricted_namespace):
    result = kubectl("-n", restricted_namespace, "create", "-f", "-", input_text=dapr_pod("orders"), check=False)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr
    assert 'container "daprd" must set securityContext.capabilities.drop=["ALL"]' in result.stderr
    assert kubectl("-n", restricted_namespace, "get", "pod", "orders", check=False).returncode != 0


def test_pod_without_dapr_annotation_gets_no_sidecar(kubectl, restricted_namespace):
    kubectl("-n", restricted_namespace, "create", "-f", "-", input_text=dapr_pod("plain", annotations={}))
    pod = json.loads(kubectl("-n", restricted_namespace, "get", "pod", "plain", "-o", "json").stdout)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert "env" not in pod["spec"]["containers"][0]
    assert "dapr.io/sidecar-injected" not in pod["metadata"].get("labels", {})


def test_pod_that_has_daprd_is_left_alone(kubectl, namespace):
    pod = json.loads(dapr_pod("own"))
    pod["spec"]["containers"].append({"name": "daprd", "image": "registry.example/daprd:custom"})
    out = kubectl("-n", namespace, "create", "--dry-run=server", "-o", "json", "-f", "-", input_text=json.dumps(pod))
    containers = json.loads(out.stdout)["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "registry.example/app:1.0.0"), ("daprd", "registry.example/daprd:custom")]


def watch_pod_events(api_client, namespace: str, pod_name: str, want: set, timeout: int = 60) -> list:
    """Watch the Events whose involvedObject is Pod `pod_name` until every (type, reason, message) in `want` is seen."""
    from kubernetes import client, watch

    core = client.CoreV1Api(api_client)
    selector = f"involvedObject.kind=Pod,involvedObject.name={pod_name}"
    seen: list = []

    def done() -> bool:
        return want <= {(e.type, e.reason, e.message) for e in seen}

    listing = core.list_namespaced_event(namespace, field_selector=selector)
    seen.extend(listing.items)
    if done():
        return seen
    stream = watch.Watch().stream(
        core.list_namespaced_event, namespace, field_selector=selector, resource_version=listing.metadata.resource_version, timeout_seconds=timeout
    )
    for event in stream:
        seen.append(event["object"])
        if done():
            return seen
    got = sorted({(e.type, e.reason, e.message) for e in seen})
    raise AssertionError(f"pod {pod_name}: events {got} after {timeout}s, wanted {sorted(want)}")


def test_crashloop_fault_emits_the_kubelet_backoff_events(kubectl, k8s_client, namespace):
    kubectl("-n", namespace, "apply", "-f", "-", input_text=pod("crashy", "crashloop"))
    uid = kubectl("-n", namespace, "get", "pod", "crashy", "-o", "jsonpath={.metadata.uid}").stdout
    want = {("Warning", "BackOff", f"Back-off restarting failed container app in pod crashy_{namespace}({uid})")}
    events = watch_pod_events(k8s_client, namespace, "crashy", want)
    backoff = next(e for e in events if e.reason == "BackOff")
    assert backoff.involved_object.kind == "Pod"
    assert backoff.involved_object.uid == uid
    assert backoff.involved_object.field_path == "spec.containers{app}"
    assert backoff.source.component == "kubelet"


def test_image_pull_fault_emits_the_kubelet_pull_events(kubectl, k8s_client, namespace):
    kubectl("-n", namespace, "apply", "-f", "-", input_text=pod("pully", "image-pull"))
    image = '"registry.example/app:1.0.0"'
    want = {
        ("Warning", "Failed", f"Failed to pull image {image}: not found"),
        ("Normal", "BackOff", f"Back-off pulling image {image}"),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    }
    events = watch_pod_events(k8s_client, namespace, "pully", want)
    assert {e.involved_object.kind for e in events} == {"Pod"}


def test_crashlooping_dapr_pod_has_backoff_events_for_each_container(kubectl, k8s_client, namespace):
    manifest = json.loads(dapr_pod("crashy-dapr"))
    manifest["metadata"]["annotations"]["fault.erp.test/mode"] = "crashloop"
    kubectl("-n", namespace, "create", "-f", "-", input_text=json.dumps(manifest))
    uid = kubectl("-n", namespace, "get", "pod", "crashy-dapr", "-o", "jsonpath={.metadata.uid}").stdout
    want = {("Warning", "BackOff", f"Back-off restarting failed container {c} in pod crashy-dapr_{namespace}({uid})") for c in ("app", "daprd")}
    watch_pod_events(k8s_client, namespace, "crashy-dapr", want)


def test_dapr_deployment_rolls_out_under_restricted_with_daprd_in_every_pod(kubectl, restricted_namespace):
    kubectl("-n", restricted_namespace, "apply", "-f", "-", input_text=dapr_deployment("web", replicas=2))
    kubectl("-n", restricted_namespace, "rollout", "status", "deployment/web", "--timeout=90s")
    pods = json.loads(kubectl("-n", restricted_namespace, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for item in pods:
        daprd = next(c for c in item["spec"]["containers"] if c["name"] == "daprd")
        assert daprd["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {s["name"]: s["ready"] for s in item["status"]["containerStatuses"]} == {"app": True, "daprd": True}


@pytest.mark.usefixtures("dapr_drop_all_off")
def test_dapr_deployment_without_drop_all_fails_to_create_pods(kubectl, restricted_namespace):
    kubectl("-n", restricted_namespace, "apply", "-f", "-", input_text=dapr_deployment("web", replicas=1))
    kubectl(
        "-n",
        restricted_namespace,
        "wait",
        "--for=jsonpath={.status.conditions[?(@.type=='ReplicaFailure')].reason}=FailedCreate",
        "deployment/web",
        "--timeout=60s",
    )
    deployment = json.loads(kubectl("-n", restricted_namespace, "get", "deployment", "web", "-o", "json").stdout)
    failure = next(c for c in deployment["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert 'container "daprd" must set securityContext.capabilities.drop=["ALL"]' in failure["message"]
