#!/usr/bin/env bash
# make checks: the steps of `make test` that need no cluster (lint, sanity, package, scan, rules, unit) on two
# lanes side by side, one per core of the CI machine: ansible-test sanity and ansible-lint each keep about one
# core busy, so one after the other they left the second core idle. Each step's output goes to
# out/checks/<step>.log and is printed, in make test's order, once both lanes are done. A lane goes on after a
# failed step, so that one run reports every failure; the script fails, naming the failed steps, if any did.
#
# The lanes share nothing they write: sanity stages into .build/ansible_collections, package builds into
# .build/dist, scan and rules write under out/ (which lint, sanity and package leave out).
#
#   tools/ci/checks.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
out=out/checks
rm -rf "$out"
mkdir -p "$out"

lane() {
  local step started status
  for step in "$@"; do
    started=$SECONDS
    status=0
    make --no-print-directory "$step" >"$out/$step.log" 2>&1 </dev/null || status=$?
    echo "$status $((SECONDS - started))" >"$out/$step.status"
  done
}

# Balanced on the 2-core machine with warm caches: 88 s (sanity 60, package 1, rules 15, unit 12) and 84 s (lint 48,
# scan 36) in a fresh clone.
lane sanity package rules unit &
first=$!
lane lint scan &
second=$!
wait "$first" || true
wait "$second" || true

failed=()
for step in lint sanity package scan rules unit; do
  if [ ! -f "$out/$step.status" ]; then
    echo "==> make $step: did not run" && failed+=("$step") && continue
  fi
  read -r status seconds <"$out/$step.status"
  echo "==> make $step (${seconds} s)"
  cat "$out/$step.log"
  [ "$status" -eq 0 ] || failed+=("$step")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make checks: failed: ${failed[*]} (logs in $out/)" >&2
  exit 1
fi
