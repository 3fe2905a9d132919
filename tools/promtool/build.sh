#!/usr/bin/env bash
# Build promtool from the Go module proxy, once per version, as the local cluster's binaries are built.
# The wrapper module here pins the Prometheus release (github.com/prometheus/prometheus v0.316.0 is
# Prometheus 3.16.0; go.sum committed); the binary lands in $ERP_PROMTOOL_CACHE/promtool-<version>/promtool
# and is reused when present. Prints the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${ERP_PROMTOOL_CACHE:-$HOME/.cache/erp-platform/promtool}
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly

log() { printf '[promtool-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

version=$(awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$here/go.mod")
[ -n "$version" ] || { log "tools/promtool/go.mod does not require github.com/prometheus/prometheus"; exit 1; }
out="$cache/promtool-$version"
if [ -x "$out/promtool" ]; then
  log "promtool $version: cached"
else
  log "promtool $version: building (cold: a few minutes on 2 cores)"
  start=$SECONDS
  mkdir -p "$out"
  (cd "$here" && go build -trimpath -ldflags "-s -w" -o "$out/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
  mv "$out/promtool.tmp" "$out/promtool"
  log "built promtool $version in $((SECONDS - start))s"
fi
echo "$out/promtool"
