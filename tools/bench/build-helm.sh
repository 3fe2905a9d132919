#!/usr/bin/env bash
# Build the Helm 3 and Helm 4 CLIs that make bench measures, from the Go module proxy, once per version.
# The wrapper modules in tools/bench/helm3 and tools/bench/helm4 pin the versions (their go.sum is
# committed); binaries land in $ERP_BENCH_CACHE/bin/helm-<version>/helm and are reused when present.
# Prints one line per version: "helm<major> <path>".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ERP_BENCH_CACHE:-$HOME/.cache/erp-platform/bench}
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf '[bench-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The version a wrapper pins, read from its go.mod (one place to change it).
pinned() { awk -v m="helm.sh/helm/v$1" '$1 == m { print $2 }' "$here/helm$1/go.mod"; }

for major in 4 3; do
  version=$(pinned "$major")
  [ -n "$version" ] || { log "tools/bench/helm$major/go.mod does not require helm.sh/helm/v$major"; exit 1; }
  out="$cache/bin/helm-$version"
  if [ -x "$out/helm" ]; then
    log "helm $version: cached"
  else
    log "helm $version: building (cold: a few minutes on 2 cores)"
    start=$SECONDS
    (cd "$here/helm$major" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v$major/internal/version.version=$version" \
      -o "$out/helm" "helm.sh/helm/v$major/cmd/helm")
    secs=$((SECONDS - start))
    log "built helm $version in ${secs}s"
    # What the benchmark page reports about the build (docs/benchmarks.md, versions table).
    printf '{"seconds": %d, "built": "%s", "load": "%s", "nproc": %d}\n' "$secs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" > "$out/build.json"
  fi
  echo "helm$major $out/helm"
done
