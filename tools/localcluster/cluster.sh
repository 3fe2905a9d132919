#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, and kwok standing in for kubelets. See tools/localcluster/README.md.
#
#   cluster.sh up      build what is missing, start, wait until usable; last line: export KUBECONFIG=...
#   cluster.sh down    stop what `up` started, free the ports, remove the cluster state
#   cluster.sh status  say whether the cluster is up
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
cache=${ERP_CLUSTER_CACHE:-$HOME/.cache/erp-platform/localcluster}
state=${ERP_CLUSTER_STATE:-$here/../../.localcluster}
mkdir -p "$state"
state=$(cd "$state" && pwd)
pki=$state/pki
logs=$state/logs
kubeconfig=$state/kubeconfig

ETCD_PORT=${ERP_CLUSTER_ETCD_PORT:-2379}
ETCD_PEER_PORT=${ERP_CLUSTER_ETCD_PEER_PORT:-2380}
APISERVER_PORT=${ERP_CLUSTER_APISERVER_PORT:-6443}
CM_PORT=${ERP_CLUSTER_CONTROLLER_MANAGER_PORT:-10257}
SCHED_PORT=${ERP_CLUSTER_SCHEDULER_PORT:-10259}
KWOK_PORT=${ERP_CLUSTER_KWOK_PORT:-10247}
# The emulated Dapr injector's SIDECAR_DROP_ALL_CAPABILITIES at start (manifests/dapr-injector.yaml).
DAPR_DROP_ALL=${ERP_CLUSTER_DAPR_DROP_ALL:-true}
DAPR_CRDS=(components configurations httpendpoints resiliencies subscriptions)
GATEWAY_CRDS=(gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies)
MONITORING_CRDS=(servicemonitors podmonitors prometheusrules)
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

k8s_bin=$cache/bin/kubernetes-$K8S_VERSION
etcd_bin=$cache/bin/etcd-$ETCD_VERSION/etcd
kwok_bin=$cache/bin/kwok-$KWOK_VERSION/kwok
kubectl=$k8s_bin/kubectl

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pid_alive() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }

kc() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }

is_up() {
  for c in "${COMPONENTS[@]}"; do pid_alive "$c" || return 1; done
  kc get --raw /readyz >/dev/null 2>&1
}

# Wait until "$@" succeeds, up to $1 seconds; polling here is only for process start-up,
# where there is nothing to watch yet.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && { log "timed out after ${timeout}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

make_pki() {
  [ -f "$pki/admin.crt" ] && return
  log "creating PKI in $pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=erp-localcluster-ca" 2>/dev/null
    cat > apiserver.ext <<EOF
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt \
      -days 3650 -extfile apiserver.ext 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=erp-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt \
      -days 3650 -extfile client.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr
  )
}

write_kubeconfig() {
  cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: erp-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: erp-admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: erp-local
  context: {cluster: erp-local, user: erp-admin}
current-context: erp-local
EOF
}

# True when a pod annotated dapr.io/enabled would get the daprd container (server-side dry run).
injection_active() {
  kc -n default create --dry-run=server -o jsonpath='{.spec.containers[*].name}' -f - <<'EOF' | grep -qw daprd
apiVersion: v1
kind: Pod
metadata: {name: erp-injection-probe, annotations: {dapr.io/enabled: "true", dapr.io/app-id: probe}}
spec: {containers: [{name: app, image: registry.example/app:1.0.0}]}
EOF
}

start() {
  local name=$1; shift
  "$@" >"$logs/$name.log" 2>&1 &
  echo $! > "$state/$name.pid"
}

up() {
  if is_up; then
    log "cluster already up"
    echo "export KUBECONFIG=$kubeconfig"
    return
  fi
  # Half-started leftovers: clear them before starting again.
  for c in "${COMPONENTS[@]}"; do pid_alive "$c" && down_processes && break; done

  case $DAPR_DROP_ALL in
    true | false) ;;
    *) die "ERP_CLUSTER_DAPR_DROP_ALL='$DAPR_DROP_ALL' is not allowed: use true (the Dapr injector drops ALL capabilities, what Pod Security restricted needs) or false (Dapr's default)" ;;
  esac
  "$here/build.sh" >&2
  local kwok_mod
  kwok_mod=$(cd "$here/kwok" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -d "$kwok_mod" ] || die "kwok module source not found for $KWOK_VERSION"

  for p in $ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $CM_PORT $SCHED_PORT $KWOK_PORT; do
    port_free "$p" || die "port $p on 127.0.0.1 is in use (another cluster? run 'make cluster-down', or set ERP_CLUSTER_*_PORT)"
  done

  make_pki
  write_kubeconfig
  mkdir -p "$logs" "$state/etcd"
  local t0=$SECONDS

  log "starting etcd $ETCD_VERSION"
  start etcd "$etcd_bin" --name default --data-dir "$state/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" \
    --quota-backend-bytes 2147483648 --log-level warn

  log "starting kube-apiserver $K8S_VERSION"
  start kube-apiserver "$k8s_bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --endpoint-reconciler-type none \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode Node,RBAC \
    --client-ca-file "$pki/ca.crt" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --enable-garbage-collector=true --profiling=false --v 1 \
    --feature-gates MutatingAdmissionPolicy=true \
    --runtime-config admissionregistration.k8s.io/v1beta1=true

  wait_for 120 "etcd" curl -sf "http://127.0.0.1:$ETCD_PORT/health" || { tail -20 "$logs/etcd.log" >&2; die "etcd did not start"; }
  wait_for 180 "kube-apiserver /readyz" kc get --raw /readyz || { tail -30 "$logs/kube-apiserver.log" >&2; die "kube-apiserver did not become ready"; }
  log "kube-apiserver ready after $((SECONDS - t0))s"

  log "starting kube-controller-manager, kube-scheduler"
  start kube-controller-manager "$k8s_bin/kube-controller-manager" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$CM_PORT" \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --use-service-account-credentials=false --allocate-node-cidrs=false \
    --node-monitor-grace-period 60s --profiling=false --v 1
  start kube-scheduler "$k8s_bin/kube-scheduler" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --profiling=false --v 1

  # kwok reads its Stages from the API: the CRD first, then our stages, then kwok itself.
  kc apply --server-side -f "$kwok_mod/kustomize/crd/bases/kwok.x-k8s.io_stages.yaml" >/dev/null
  kc wait --for condition=Established --timeout 60s crd/stages.kwok.x-k8s.io >/dev/null
  kc apply --server-side -f "$here/manifests/stages.yaml" >/dev/null

  log "starting kwok $KWOK_VERSION"
  start kwok "$kwok_bin" --kubeconfig "$kubeconfig" --manage-all-nodes=true --enable-crds=Stage \
    --node-lease-duration-seconds 40 --cidr 10.0.0.0/16 --node-ip 10.255.0.1 \
    --server-address "127.0.0.1:$KWOK_PORT" --v=WARN

  # The real Dapr v1.16.19, Gateway API v1.6.1 and Prometheus Operator v0.93.0 CRDs (crds/*/README.md), then the
  # emulated injector (manifests/dapr-injector.yaml) and a GatewayClass without a controller (manifests/gateway-class.yaml).
  kc apply --server-side -f "$here/manifests/nodes.yaml" -f "$here/manifests/cluster-fixtures.yaml" \
    -f "$here/crds/dapr/" -f "$here/crds/gateway-api/" -f "$here/crds/prometheus-operator/" >/dev/null
  local crd
  for crd in "${DAPR_CRDS[@]}"; do
    kc wait --for condition=Established --timeout 60s "crd/$crd.dapr.io" >/dev/null
  done
  for crd in "${GATEWAY_CRDS[@]}"; do
    kc wait --for condition=Established --timeout 60s "crd/$crd.gateway.networking.k8s.io" >/dev/null
  done
  for crd in "${MONITORING_CRDS[@]}"; do
    kc wait --for condition=Established --timeout 60s "crd/$crd.monitoring.coreos.com" >/dev/null
  done
  kc apply --server-side -f "$here/manifests/gateway-class.yaml" >/dev/null
  kc apply --server-side -f "$here/manifests/dapr-injector.yaml" >/dev/null
  if [ "$DAPR_DROP_ALL" != true ]; then
    kc -n dapr-system set env deployment/dapr-sidecar-injector "SIDECAR_DROP_ALL_CAPABILITIES=$DAPR_DROP_ALL" >/dev/null
  fi
  kc wait --for condition=Ready --timeout 120s node --all >/dev/null || { tail -30 "$logs/kwok.log" >&2; die "kwok nodes did not become Ready"; }
  wait_for 120 "the default ServiceAccount" kc -n default get serviceaccount default \
    || { tail -30 "$logs/kube-controller-manager.log" >&2; die "controller-manager did not create the default ServiceAccount"; }
  # The API server loads admission policies asynchronously: wait until a pod would get its sidecar.
  wait_for 60 "the Dapr sidecar injection policy" injection_active \
    || die "the MutatingAdmissionPolicy dapr-sidecar-injector does not inject daprd (see $logs/kube-apiserver.log)"
  log "cluster usable after $((SECONDS - t0))s (state: $state, logs: $logs)"
  echo "export KUBECONFIG=$kubeconfig"
}

down_processes() {
  # Reverse order: kwok and the controllers first, etcd last.
  local c pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[$i]}
    [ -f "$state/$c.pid" ] || continue
    pid=$(cat "$state/$c.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$c.pid"
  done
}

down() {
  down_processes
  rm -rf "$state"
  log "cluster down, state removed"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) if is_up; then echo "up: export KUBECONFIG=$kubeconfig"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
