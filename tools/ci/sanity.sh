#!/usr/bin/env bash
# ansible-test sanity on the collection, without containers:
#   1. stage the collection as <build>/ansible_collections/erp/platform (the layout ansible-test needs),
#      with kubernetes.core beside it;
#   2. run `ansible-test sanity --python 3.11` there; ansible-test puts each test's requirements into
#      its own virtualenv under ~/.ansible/test/venv, installed from the package index.
#
#   tools/ci/sanity.sh <build dir> [ansible-test sanity options...]
set -euo pipefail

build=${1:?usage: sanity.sh <build dir> [ansible-test options...]}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)

# ansible-test bootstraps pip into each test virtualenv with a script it downloads from a host
# outside the package registries; put our stand-in where it looks first (a real one is kept).
pip_version=$(python3 - <<'PY'
import pathlib, re, ansible_test
source = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text()
match = re.search(r"pip='([^']+)'", source)
if not match:
    raise SystemExit("sanity.sh: cannot find the pip version ansible-test bootstraps; update tools/ci/sanity.sh")
print(match.group(1))
PY
)
bootstrap=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$bootstrap" ]; then
  mkdir -p "$(dirname "$bootstrap")"
  cp "$repo/tools/ci/ansible_test_pip_bootstrap.py" "$bootstrap"
fi

collection=$("$repo/tools/ci/stage-collection.sh" "$build")

# ansible-test resolves other collections only inside the same ansible_collections tree, so the
# dependency from galaxy.yml goes beside ours: the kubernetes.core that the pinned ansible release ships.
kubernetes_core=$(python3 -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])')
rm -rf "$build/ansible_collections/kubernetes/core"
mkdir -p "$build/ansible_collections/kubernetes"
cp -R "$kubernetes_core" "$build/ansible_collections/kubernetes/core"
cd "$collection"
exec ansible-test sanity --python 3.11 --color no "$@"
