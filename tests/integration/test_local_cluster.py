"""The local cluster is a real control plane: scheduling, admission, volumes, faults, GC, SSA."""

from __future__ import annotations

import json
import textwrap

import pytest

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
