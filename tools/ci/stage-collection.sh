#!/usr/bin/env bash
# Copy the collection's files into <dest>/ansible_collections/erp/platform, the layout
# ansible-test requires. The files are what git would commit: tracked plus untracked-but-not-ignored,
# minus the development symlink .collections and the tools/ harness (see below).
# The stage gets its own empty git repository, so ansible-test sees the same file list.
#
#   tools/ci/stage-collection.sh <dest>      prints the staged collection path
set -euo pipefail

dest=${1:?usage: stage-collection.sh <dest>}
repo=$(cd "$(dirname "$0")/../.." && pwd)
target=$dest/ansible_collections/erp/platform

rm -rf "$target"
mkdir -p "$target"
target=$(cd "$target" && pwd)

cd "$repo"
# Deleted-but-still-indexed paths are skipped; everything else is copied with its directory.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do
      case $f in
        # The development symlink back to the checkout.
        .collections/*) continue ;;
        # Development harness (local cluster, CI helpers, benchmark): never shipped (galaxy.yml
        # build_ignore), so not held to ansible-test's collection rules; make lint checks it with
        # yamllint, ruff and shellcheck.
        tools/*) continue ;;
      esac
      [ -e "$f" ] || [ -L "$f" ] || continue
      printf '%s\0' "$f"
    done \
  | tar --null --no-recursion -T - -cf - \
  | tar -xf - -C "$target"

# ansible-test lists files through the nearest enclosing git repository; without one of its own
# the stage would resolve to this checkout, where .build/ is ignored, and every test would be skipped.
git -C "$target" init -q

echo "$target"
