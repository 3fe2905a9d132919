#!/usr/bin/env bash
# Run a command against the local cluster: start it (tools/localcluster/cluster.sh up),
# export the KUBECONFIG it prints last, run the command, and stop the cluster afterwards,
# also when the command or the start-up fails.
#
#   tools/ci/with-cluster.sh [--keep] -- <command> [args...]
#     --keep   leave the cluster running afterwards (make demo); `make cluster-down` stops it
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cluster=$repo/tools/localcluster/cluster.sh
keep=false
if [ "${1:-}" = --keep ]; then keep=true; shift; fi
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "usage: with-cluster.sh [--keep] -- <command> [args...]" >&2; exit 2; }
[ -x "$cluster" ] || { echo "with-cluster.sh: $cluster is missing or not executable" >&2; exit 1; }

stop_cluster() {
  local status=$?
  "$cluster" down >&2 || echo "with-cluster.sh: cluster.sh down failed" >&2
  exit "$status"
}
# Registered before `up`, so a half-started cluster is stopped too; the command's exit status is kept.
[ "$keep" = true ] || trap stop_cluster EXIT

# Progress of `up` goes to the terminal as it happens; the last line of its stdout is the export.
up_log=$(mktemp)
"$cluster" up | tee "$up_log"
last=$(tail -n 1 "$up_log")
rm -f "$up_log"
case $last in
  "export KUBECONFIG="/*) KUBECONFIG=${last#export KUBECONFIG=} ;;
  *) echo "with-cluster.sh: cluster.sh up did not end with 'export KUBECONFIG=<absolute path>': $last" >&2; exit 1 ;;
esac
export KUBECONFIG
[ -r "$KUBECONFIG" ] || { echo "with-cluster.sh: kubeconfig $KUBECONFIG is not readable" >&2; exit 1; }

"$@"
