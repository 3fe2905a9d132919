#!/usr/bin/env bash
# The monitoring role's alert rules and dashboard, checked and unit-tested with Prometheus' own promtool:
# render the local inventory (no cluster), then
#   promtool check rules   on the PrometheusRule's groups and on every dashboard expression (as recording rules),
#   promtool test rules    on tests/rules/erp-alerts.test.yml, which must test every alert the rule renders.
# promtool is built from the Go module proxy by tools/promtool/build.sh (cached under ~/.cache/erp-platform).
#
#   tools/ci/rules.sh <work dir>
set -euo pipefail

work=${1:?usage: rules.sh <work dir>}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
promtool=$(tools/promtool/build.sh)

rm -rf "$work" && mkdir -p "$work"
ansible-playbook playbooks/render.yml -i inventories/local -e "erp_render_dir=$work/manifests" -e '{"erp_render_in_collection": true}' >"$work/render.log" \
  || { tail -40 "$work/render.log" >&2; echo "rules.sh: rendering the local inventory failed" >&2; exit 1; }
# Only the monitoring objects are read; the rendered Secrets (local dev values) are not kept.
find "$work/manifests" -name "secret-*.yaml" -delete
python3 - "$work" tests/rules/erp-alerts.test.yml <<'PY'
import json, sys
from pathlib import Path
import yaml

work, tests = Path(sys.argv[1]), Path(sys.argv[2])
manifests = work / "manifests" / "monitoring"
rule = yaml.safe_load((manifests / "prometheusrule-erp-alerts.yaml").read_text())
(work / "erp-alerts.rules.yml").write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}

configmap = yaml.safe_load((manifests / "configmap-erp-dashboard.yaml").read_text())
(name, text), = configmap["data"].items()
dashboard = json.loads(text)  # the dashboard is valid JSON, or this fails
records = []
for panel in dashboard["panels"]:
    if not panel.get("targets"):
        sys.exit(f"rules.sh: dashboard panel {panel.get('title')!r} has no query")
    for target in panel["targets"]:
        records.append({"record": f"erp:dashboard:panel_{panel['id']}_{target['refId'].lower()}", "expr": target["expr"]})
(work / "dashboard.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "erp-dashboard", "rules": records}]}, sort_keys=False))

tested = {case["alertname"] for test in yaml.safe_load(tests.read_text())["tests"] for case in test.get("alert_rule_test", [])}
if alerts != tested:
    sys.exit(f"rules.sh: alerts without a promtool test: {sorted(alerts - tested)}; tests of no such alert: {sorted(tested - alerts)}")
print(f"==> {len(alerts)} alerts, each with a unit test; {len(records)} dashboard expressions in {len(dashboard['panels'])} panels ({name})")
PY
cp tests/rules/erp-alerts.test.yml "$work/"
echo "==> promtool check rules (alerts, dashboard expressions)"
"$promtool" check rules "$work/erp-alerts.rules.yml" "$work/dashboard.rules.yml"
echo "==> promtool test rules"
"$promtool" test rules "$work/erp-alerts.test.yml"
