#!/usr/bin/env bash
# make bench: benchmark erp.platform against kubectl, Helm 4 and Helm 3 on the local cluster (see bench.py).
# Builds the two Helm CLIs once (build-helm.sh, cached under ~/.cache), starts the local cluster unless
# one is up, and then stops only the cluster it started.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
venv=$repo/.venv
cluster=$repo/tools/localcluster/cluster.sh

[ -x "$venv/bin/ansible-playbook" ] || { echo "bench: $venv is missing; run 'make venv' first" >&2; exit 1; }
# matplotlib draws the chart; only the benchmark needs it, so it is installed here, on demand.
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "bench: installing tools/bench/requirements-bench.txt into .venv" >&2
  "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$repo/tools/bench/requirements-bench.txt"
fi

# Helm 4 and Helm 3, built from the Go module proxy on the first run and reused after that.
helms=$("$repo/tools/bench/build-helm.sh")
while read -r name path; do
  case $name in
    helm4) export ERP_BENCH_HELM4="$path" ;;
    helm3) export ERP_BENCH_HELM3="$path" ;;
  esac
done <<<"$helms"

started=0
if "$cluster" status >/dev/null 2>&1; then
  echo "bench: using the local cluster that is already up (it stays up)" >&2
else
  started=1
fi
# Stops only a cluster this run started; keeps the benchmark's exit status.
stop_cluster() {
  local status=$?
  if [ "$started" = 1 ]; then
    "$cluster" down >&2 || echo "bench: cluster.sh down failed" >&2
  fi
  exit "$status"
}
trap stop_cluster EXIT
line=$("$cluster" up | tail -n 1)
case $line in
  "export KUBECONFIG="/*) export KUBECONFIG="${line#export KUBECONFIG=}" ;;
  *) echo "bench: cluster.sh up did not end with 'export KUBECONFIG=...': $line" >&2; exit 1 ;;
esac

"$venv/bin/python" "$repo/tools/bench/bench.py" "$@"
