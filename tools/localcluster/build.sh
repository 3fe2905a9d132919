#!/usr/bin/env bash
# Build the local control plane binaries from the Go module proxy, once per version.
# Binaries land in $ERP_CLUSTER_CACHE/bin/<component>-<version>/; anything already there is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/versions.env"
cache=${ERP_CLUSTER_CACHE:-$HOME/.cache/erp-platform/localcluster}
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$cache/bin"

log() { printf '[cluster-build %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Run a long go build while printing a heartbeat, so a 20-minute step never looks like a hang.
with_heartbeat() {
  local what=$1; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  local next=$((start + 30))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $SECONDS -ge $next ]; then
      log "still building $what ($((SECONDS - start))s so far)"
      next=$((next + 30))
    fi
  done
  wait "$pid"
  log "built $what in $((SECONDS - start))s"
}

build_kubernetes() {
  local out="$cache/bin/kubernetes-$K8S_VERSION"
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local missing=()
  for b in "${want[@]}"; do [ -x "$out/$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && { log "kubernetes $K8S_VERSION: cached"; return; }
  local src="$here/kubernetes"
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version
  local ld="-s -w"
  for p in $pkg $cpkg; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  log "kubernetes $K8S_VERSION: building ${missing[*]} (cold: 15-35 min on 2 cores)"
  local targets=()
  for b in "${missing[@]}"; do targets+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$src" && with_heartbeat "kubernetes ${missing[*]}" go build -trimpath -ldflags "$ld" -o "$out/" "${targets[@]}")
}

build_etcd() {
  local out="$cache/bin/etcd-$ETCD_VERSION"
  [ -x "$out/etcd" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  log "etcd $ETCD_VERSION: building"
  (cd "$here/etcd" && with_heartbeat etcd go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  local out="$cache/bin/kwok-$KWOK_VERSION"
  [ -x "$out/kwok" ] && { log "kwok $KWOK_VERSION: cached"; return; }
  log "kwok $KWOK_VERSION: building"
  (cd "$here/kwok" && with_heartbeat kwok go build -trimpath -ldflags "-s -w" -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok)
}

build_etcd
build_kwok
build_kubernetes
log "all binaries present under $cache/bin"
