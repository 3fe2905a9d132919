#!/usr/bin/env bash
# Render the prod manifests (no cluster) and scan them with checkov's Kubernetes checks.
# checkov lives in its own virtualenv (.venv-scan): its dependency tree would fight ansible-lint's.
# Fails on any failed check; a skip must be written into the manifest with its reason.
#
#   tools/ci/scan.sh <work dir>     (no path component may start with a dot: checkov skips those)
set -euo pipefail

work=${1:?usage: scan.sh <work dir>}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
venv=$repo/.venv-scan
stamp=$venv/.installed-$(sha256sum requirements-scan.txt | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing checkov into .venv-scan"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # With .venv's uv (make venv installs it; the Makefile sets its certificates), as the Makefile installs .venv.
  "$repo/.venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r requirements-scan.txt
  rm -f "$venv"/.installed-* && touch "$stamp"
fi

rm -rf "$work" && mkdir -p "$work"
# Scan-only secrets: prod's placeholders are refused by preflight, and these never reach a cluster.
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(36))'; }
cat > "$work/secrets.json" <<JSON
{"erp_secrets": {"db_password": "$(secret)", "jwt_secret": "$(secret)", "redis_password": "$(secret)", "dapr_api_token": "$(secret)"}}
JSON
# Both routing modes: Ingress (manifests/ingress) and Gateway API with the Gateway the collection creates
# (manifests/gateway-api); the class name only has to be valid, no cluster is contacted.
render() {
  local mode=$1
  shift
  ansible-playbook playbooks/render.yml -i inventories/prod \
    --vault-id placeholder@inventories/vault-password.PLACEHOLDER-ONLY \
    -e "erp_render_dir=$work/manifests/$mode" -e '{"erp_render_in_collection": true}' -e "@$work/secrets.json" -e "erp_routing=$mode" "$@" >"$work/render-$mode.log" \
    || { tail -40 "$work/render-$mode.log" >&2; echo "scan.sh: rendering prod ($mode) failed" >&2; exit 1; }
}
# The two renders are independent single-threaded ansible-playbook runs: side by side, one per core.
render ingress &
ingress_render=$!
render gateway_api -e '{"ingress_gateway_create": true}' -e ingress_gateway_class_name=example &
gateway_render=$!
wait "$ingress_render" || exit 1
wait "$gateway_render" || exit 1
rm -f "$work/secrets.json"
find "$work/manifests" -name "secret-*.yaml" -delete
for kind in ingress httproute gateway; do
  find "$work/manifests" -name "$kind-*.yaml" | grep -q . || { echo "scan.sh: no $kind manifest was rendered" >&2; exit 1; }
done
count=$(find "$work/manifests" -name '*.yaml' | wc -l)
echo "==> checkov --framework kubernetes on $count prod manifests (Ingress and Gateway API modes)"
# checkov's exit status says whether a check failed; the JSON report also proves that it scanned something.
status=0
"$venv/bin/checkov" --framework kubernetes --directory "$work/manifests" --skip-download \
  --output json >"$work/checkov.json" || status=$?
python3 - "$work/checkov.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
reports = report if isinstance(report, list) else [report]
# With no resource found checkov writes a bare summary instead of a report.
reports = [r for r in reports if "summary" in r]
if not reports:
    sys.exit("checkov found no Kubernetes resource to scan (a hidden directory in the path is skipped by checkov)")
summary = {key: sum(r["summary"][key] for r in reports) for key in ("passed", "failed", "skipped")}
print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped (with reasons in the manifests)")
for r in reports:
    for check in r["results"]["failed_checks"]:
        print(f"  FAILED {check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})")
sys.exit(1 if summary["failed"] or not summary["passed"] else 0)
PY
exit "$status"
