"""The one fixtures module of the unit tests.

Two parts: realistic API objects (as the apiserver returns them, trimmed) for the rollout_health
tests, and an in-memory stand-in for the ApiClient (FakeApi) with the manifests the apply path
tests send to it. The behaviour on a real API server is covered by tests/integration.
"""

import copy
import json
import threading
import time

from kubernetes.client.rest import ApiException

from ansible_collections.erp.platform.plugins.module_utils import k8s_objects as ko

# ---------------------------------------------------------------------------
# API objects for the rollout tests


NOW = 1_800_000_000.0  # wall clock of the tests, seconds since the epoch


def stamp(seconds_ago):
    """RFC 3339 timestamp ``seconds_ago`` before NOW."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def owner(kind, name, uid):
    return [{"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind, "name": name, "uid": uid, "controller": True, "blockOwnerDeletion": True}]


def pod_spec(image="docker.io/erp-system/finance:1.0.0", readiness=None):
    container = {"name": "finance", "image": image, "ports": [{"containerPort": 8080}]}
    if readiness is not None:
        container["readinessProbe"] = readiness
    return {"containers": [container]}


def deployment(
    name="finance-service",
    replicas=2,
    generation=2,
    observed=2,
    updated=2,
    status_replicas=2,
    available=2,
    ready=None,
    revision="2",
    paused=False,
    conditions=None,
    strategy=None,
    annotations=None,
):
    obj = {
        "metadata": {
            "name": name,
            "namespace": "erp-system",
            "uid": "dep-" + name,
            "generation": generation,
            "labels": {"app.kubernetes.io/name": name.replace("-service", ""), "app.kubernetes.io/instance": "erp"},
            "annotations": {"deployment.kubernetes.io/revision": revision},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name.replace("-service", "")}},
            "strategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/name": name.replace("-service", ""), "app.kubernetes.io/instance": "erp"},
                    "annotations": annotations or {},
                },
                "spec": pod_spec(),
            },
        },
        "status": {
            "observedGeneration": observed,
            "replicas": status_replicas,
            "updatedReplicas": updated,
            "readyReplicas": available if ready is None else ready,
            "availableReplicas": available,
            "conditions": conditions
            or [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": stamp(30)},
            ],
        },
    }
    if paused:
        obj["spec"]["paused"] = True
    return obj


def replicaset(dep, revision, pod_hash, available=0, replicas=None, image=None, change_cause=None):
    name = "{}-{}".format(dep["metadata"]["name"], pod_hash)
    template = copy.deepcopy(dep["spec"]["template"])
    template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    if image:
        template["spec"]["containers"][0]["image"] = image
    annotations = {
        "deployment.kubernetes.io/revision": str(revision),
        "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
        "deployment.kubernetes.io/max-replicas": "3",
    }
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    return {
        "metadata": {
            "name": name,
            "namespace": "erp-system",
            "uid": "rs-" + name,
            "labels": dict(template["metadata"]["labels"]),
            "annotations": annotations,
            "ownerReferences": owner("Deployment", dep["metadata"]["name"], dep["metadata"]["uid"]),
        },
        "spec": {"replicas": available if replicas is None else replicas, "template": template},
        "status": {"replicas": available if replicas is None else replicas, "availableReplicas": available, "readyReplicas": available},
    }


def container_status(name="finance", waiting=None, message=None, running_since=None, ready=False, restarts=0, last_exit=None, started=None):
    status = {"name": name, "image": "docker.io/erp-system/finance:1.0.0", "ready": ready, "restartCount": restarts}
    if waiting:
        status["state"] = {"waiting": {"reason": waiting, "message": message or ""}}
    elif running_since is not None:
        status["state"] = {"running": {"startedAt": stamp(running_since)}}
    else:
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error", "finishedAt": stamp(5)}}
    if started is not None:
        status["started"] = started
    return status


def pod(
    name,
    owner_kind,
    owner_name,
    owner_uid,
    labels=None,
    phase="Running",
    containers=None,
    init_containers=None,
    ready=True,
    ready_since=60,
    scheduled=True,
    unschedulable_since=None,
    created=120,
    spec=None,
):
    conditions = []
    if unschedulable_since is not None:
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
                "lastTransitionTime": stamp(unschedulable_since),
            }
        )
        phase = "Pending"
    elif scheduled:
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(created)})
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": None if ready else "ContainersNotReady",
                "message": None if ready else "containers with unready status: [finance]",
                "lastTransitionTime": stamp(ready_since),
            }
        )
    obj = {
        "metadata": {
            "name": name,
            "namespace": "erp-system",
            "uid": "pod-" + name,
            "labels": labels or {},
            "creationTimestamp": stamp(created),
            "ownerReferences": owner(owner_kind, owner_name, owner_uid),
        },
        "spec": spec or pod_spec(),
        "status": {"phase": phase, "conditions": conditions},
    }
    if containers is not None:
        obj["status"]["containerStatuses"] = containers
    elif unschedulable_since is None:
        obj["status"]["containerStatuses"] = [container_status(running_since=created - 5, ready=ready)]
    if init_containers is not None:
        obj["status"]["initContainerStatuses"] = init_containers
    return obj


def rs_pod(rs, suffix, **kwargs):
    labels = dict(rs["spec"]["template"]["metadata"]["labels"])
    return pod(rs["metadata"]["name"] + "-" + suffix, "ReplicaSet", rs["metadata"]["name"], rs["metadata"]["uid"], labels=labels, **kwargs)


def statefulset(
    name="postgres",
    replicas=3,
    generation=2,
    observed=2,
    ready=3,
    updated=3,
    current_revision="postgres-5d8f7c",
    update_revision="postgres-5d8f7c",
    partition=None,
    strategy_type="RollingUpdate",
    status_replicas=None,
):
    strategy = {"type": strategy_type}
    if strategy_type == "RollingUpdate":
        strategy["rollingUpdate"] = {"partition": partition or 0}
    return {
        "metadata": {"name": name, "namespace": "erp-system", "uid": "sts-" + name, "generation": generation, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "updateStrategy": strategy,
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": pod_spec("docker.io/library/postgres:16.4")},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": replicas if status_replicas is None else status_replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": replicas - updated if current_revision != update_revision else replicas,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
        },
    }


def sts_pod(sts, ordinal, revision, **kwargs):
    name = sts["metadata"]["name"]
    labels = {"app.kubernetes.io/name": name, "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": f"{name}-{ordinal}"}
    return pod(f"{name}-{ordinal}", "StatefulSet", name, sts["metadata"]["uid"], labels=labels, **kwargs)


def controller_revision(owner_obj, kind, name, revision, image="docker.io/library/postgres:16.4"):
    return {
        "metadata": {
            "name": name,
            "namespace": "erp-system",
            "uid": "cr-" + name,
            "ownerReferences": owner(kind, owner_obj["metadata"]["name"], owner_obj["metadata"]["uid"]),
        },
        "revision": revision,
        "data": {
            "spec": {
                "template": {"$patch": "replace", "metadata": {"labels": {"app.kubernetes.io/name": owner_obj["metadata"]["name"]}}, "spec": pod_spec(image)}
            }
        },
    }


def daemonset(name="log-agent", generation=1, observed=1, desired=3, updated=3, available=3, strategy_type="RollingUpdate"):
    return {
        "metadata": {
            "name": name,
            "namespace": "erp-system",
            "uid": "ds-" + name,
            "generation": generation,
            "annotations": {"deprecated.daemonset.template.generation": str(generation)},
        },
        "spec": {"updateStrategy": {"type": strategy_type}, "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec()}},
        "status": {
            "observedGeneration": observed,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberReady": available,
        },
    }


def job(name="erp-db-migrate", completions=1, succeeded=0, failed=0, active=1, conditions=None, suspend=False):
    return {
        "metadata": {"name": name, "namespace": "erp-system", "uid": "job-" + name, "generation": 1},
        "spec": {"completions": completions, "parallelism": 1, "backoffLimit": 2, "suspend": suspend, "template": {"spec": pod_spec()}},
        "status": {"succeeded": succeeded, "failed": failed, "active": active, "conditions": conditions or []},
    }


def service(name="finance-service", selector=None, ports=None, svc_type="ClusterIP", labels=None):
    spec = {"type": svc_type, "ports": ports or [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    if selector is not False:
        spec["selector"] = selector or {"app.kubernetes.io/name": "finance", "app.kubernetes.io/instance": "erp"}
    if svc_type == "ExternalName":
        spec = {"type": "ExternalName", "externalName": "db.example.com"}
    return {"metadata": {"name": name, "namespace": "erp-system", "labels": labels or {"app.kubernetes.io/instance": "erp"}}, "spec": spec}


def endpointslice(service_name, ready_flags):
    return {
        "metadata": {"name": service_name + "-abcde", "namespace": "erp-system", "labels": {"kubernetes.io/service-name": service_name}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"10.0.0.{i + 1}"], "conditions": {"ready": flag, "serving": flag, "terminating": False}} for i, flag in enumerate(ready_flags)
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def httproute(name="reporting-service", backend="reporting-service", port=80, parents=None, generation=1, status=None):
    """An HTTPRoute as the API returns it; ``status``: list of (parentRef, {condition type: (status, reason)}, observedGeneration)."""
    parents = parents if parents is not None else [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "erp-gateway", "namespace": "erp-system"}]
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "erp-system", "generation": generation, "labels": {"app.kubernetes.io/instance": "erp"}},
        "spec": {
            "parentRefs": parents,
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/api/dashboard"}}, {"path": {"type": "PathPrefix", "value": "/api/reports"}}],
                    "backendRefs": [{"group": "", "kind": "Service", "name": backend, "port": port, "weight": 1}],
                }
            ],
        },
    }
    if status is not None:
        route["status"] = {
            "parents": [
                {
                    "parentRef": ref,
                    "controllerName": "example.com/gateway-controller",
                    "conditions": [
                        {"type": kind, "status": state, "reason": reason, "message": f"{kind} is {state}: {reason}", "observedGeneration": observed}
                        for kind, (state, reason) in conditions.items()
                    ],
                }
                for ref, conditions, observed in status
            ]
        }
    return route


def ingress(name="erp", paths=None):
    paths = paths or [("/", "gateway-service", 80), ("/api/reports", "reporting-service", 80)]
    return {
        "metadata": {"name": name, "namespace": "erp-system", "labels": {"app.kubernetes.io/instance": "erp"}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "erp.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": p,
                                "pathType": "Prefix",
                                "backend": {"service": {"name": s, "port": {"number": port} if isinstance(port, int) else {"name": port}}},
                            }
                            for p, s, port in paths
                        ]
                    },
                }
            ],
        },
    }


def component(name, component_type="pubsub.redis", scopes=None):
    obj = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "namespace": "erp-system"},
        "spec": {"type": component_type, "version": "v1"},
    }
    if scopes is not None:
        obj["scopes"] = scopes
    return obj


OPTS = {"fail_fast": True, "unschedulable_grace": 30, "not_ready_grace": 60}


# ---------------------------------------------------------------------------
# The ApiClient stand-in of the apply path (k8s_objects, apply_objects, cluster_facts)

DISCOVERY = {
    "/api/v1": [("ServiceAccount", "serviceaccounts", True), ("Service", "services", True), ("Namespace", "namespaces", False)],
    "/apis/apps/v1": [("Deployment", "deployments", True), ("Deployment", "deployments/status", True)],
}
MANAGED = {"app.kubernetes.io/managed-by": "erp.platform"}
PLURALS = {entry[1] for entries in DISCOVERY.values() for entry in entries}


class Response:
    def __init__(self, body):
        self.data = json.dumps(body).encode() if body is not None else b""


def api_error(status, message):
    exc = ApiException(status=status, reason={403: "Forbidden", 404: "Not Found", 422: "Unprocessable Entity", 500: "Internal Server Error"}[status])
    exc.body = json.dumps({"message": message})
    return exc


class FakeApi:
    """Objects by path; apply merges the body over what is stored and bumps resourceVersion on a change."""

    def __init__(self, delay=0.0):
        self.store = {}
        self.calls = []
        self.delay = delay
        self.fail = {}
        self.lock = threading.Lock()
        self.spans = []
        self.active = 0
        self.max_active = 0

    def call_api(self, path, method, query_params=None, header_params=None, body=None, **_):
        with self.lock:
            self.calls.append((method, path, dict(query_params or [])))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            started = time.monotonic()
        try:
            time.sleep(self.delay)
            return Response(self._answer(path, method, dict(query_params or []), header_params or {}, body))
        finally:
            with self.lock:
                self.active -= 1
                self.spans.append((method, path, started, time.monotonic()))

    def _answer(self, path, method, query, headers, body):
        if (method, path) in self.fail:
            raise self.fail[(method, path)]
        if path in DISCOVERY:
            return {"resources": [{"kind": kind, "name": name, "namespaced": namespaced} for kind, name, namespaced in DISCOVERY[path]]}
        if path.startswith("/apis/") and path.count("/") == 3:
            raise api_error(404, "the server could not find the requested resource")
        if method == "GET" and path.rsplit("/", 1)[1] in PLURALS:
            wanted = dict(term.split("=", 1) for term in (query.get("labelSelector") or "").split(",") if term)
            items = [
                obj
                for key, obj in self.store.items()
                if key.rsplit("/", 1)[0] == path and all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
            return {"items": [{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")} for obj in items]}
        if method == "GET":
            if path not in self.store:
                raise api_error(404, "not found")
            return self.store[path]
        if method == "PATCH":
            assert headers["Content-Type"] == ko.APPLY_CONTENT_TYPE
            old = self.store.get(path)
            new = json.loads(json.dumps(body))
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] if old else "1"
            new["metadata"]["managedFields"] = [{"manager": query["fieldManager"]}]
            if old is not None and ko.comparable(old) != ko.comparable(new):
                new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
            if old is not None and "status" in old:
                new["status"] = old["status"]
            if query.get("dryRun") != "All":
                self.store[path] = new
            return new
        if method == "DELETE":
            if path not in self.store:
                raise api_error(404, "not found")
            if query.get("dryRun") != "All":
                del self.store[path]
            return {"kind": "Status", "status": "Success"}
        raise AssertionError(f"unexpected {method} {path}")


def manifest_deployment(name, replicas=1, labels=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "erp", "labels": MANAGED | {"app.kubernetes.io/name": name} if labels is None else labels},
        "spec": {"replicas": replicas},
    }


def manifest_service_account(name):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "erp", "labels": MANAGED | {"app.kubernetes.io/name": name}}}
