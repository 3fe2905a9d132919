#!/usr/bin/env bash
# Build the collection artifact the way a release does and prove it holds collection content only.
#
#   tools/ci/check-artifact.sh <outdir>      builds <outdir>/erp-platform-<version>.tar.gz
set -euo pipefail

outdir=${1:?usage: check-artifact.sh <outdir>}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

version=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
tarball=$outdir/erp-platform-$version.tar.gz
mkdir -p "$outdir"
rm -f "$tarball"
ansible-galaxy collection build --force --output-path "$outdir" . >/dev/null
[ -f "$tarball" ] || { echo "check-artifact: expected $tarball, not found" >&2; exit 1; }

listing=$(tar -tzf "$tarball" | sed 's#^\./##')
fail=0
for required in MANIFEST.json FILES.json README.md meta/runtime.yml requirements.txt; do
  grep -qx "$required" <<<"$listing" || { echo "check-artifact: $required missing from $tarball" >&2; fail=1; }
done
# Development files must never ship: each pattern is an extended regex on the member path.
forbidden='^(\.venv[^/]*|\.build|\.cache|\.collections|\.ci|\.git|\.localcluster|tools|molecule|extensions|tests/(unit|integration|output))(/|$)'
forbidden+='|(^|/)(__pycache__|\.pytest_cache|\.ruff_cache|\.secrets)(/|$)|\.pyc$|\.tar\.gz$'
forbidden+='|^(Makefile|ansible\.cfg|pyproject\.toml|requirements-dev\.txt|requirements-scan\.txt|requirements-uv\.txt|\.gitignore|\.yamllint|\.ansible-lint)$'
if bad=$(grep -E "$forbidden" <<<"$listing"); then
  echo "check-artifact: development files in $tarball:" >&2
  awk '{print "  " $0}' <<<"$bad" >&2
  fail=1
fi
[ "$fail" -eq 0 ] || exit 1
echo "check-artifact: $tarball ($(wc -l <<<"$listing") members, $(du -h "$tarball" | cut -f1)) holds collection content only"
