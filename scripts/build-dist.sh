#!/usr/bin/env bash
# Builds the Python distributions of this tree into DIR (emptied first):
#
#   scripts/build-dist.sh DIR
#
#   DIR/jupyterlab_reproserver-VERSION-TAG.whl      the wheel, from the tree
#   DIR/jupyterlab_reproserver-VERSION.tar.gz       the sdist
#   DIR/from-sdist/jupyterlab_reproserver-*.whl     the wheel built again from that sdist, outside
#                                                   the tree: it must hold the same files
#
# The companion server's bundle is rebuilt first, so that it matches the compiled server. Shared
# by the release check and the Binder check; needs .venv (scripts/setup.sh).
set -euo pipefail
LOG_TAG=build-dist
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
[ $# = 1 ] || die "usage: scripts/build-dist.sh DIR"
dist="$1"

outside="$(mktemp -d)"   # pip builds the sdist away from the tree, as a user's pip would
trap 'rm -rf "$outside"' EXIT

npm run --silent build:server-bundle
rm -rf "$dist"
mkdir -p "$dist"
"$VENV_DIR/bin/pip" wheel --quiet --no-deps --no-build-isolation --disable-pip-version-check \
  -w "$dist" .
"$VENV_DIR/bin/python" -m hatchling build -t sdist -d "$dist" >"$dist/sdist.log" 2>&1 ||
  { cat "$dist/sdist.log" >&2; die "building the sdist failed"; }
sdist="$(ls "$dist"/jupyterlab_reproserver-*.tar.gz)"
(cd "$outside" && "$VENV_DIR/bin/pip" wheel --quiet --no-deps --no-build-isolation \
  --disable-pip-version-check -w "$dist/from-sdist" "$sdist")

zip_listing() { "$VENV_DIR/bin/python" -m zipfile -l "$1" | awk 'NR > 1 { print $1, $NF }' | sort; }
wheel="$(ls "$dist"/jupyterlab_reproserver-*.whl)"
again="$(ls "$dist"/from-sdist/jupyterlab_reproserver-*.whl)"
[ "$(basename "$wheel")" = "$(basename "$again")" ] ||
  die "the wheel built from the sdist is $(basename "$again"), not $(basename "$wheel")"
diff <(zip_listing "$wheel") <(zip_listing "$again") >&2 ||
  die "the wheel built from the sdist differs from the one built from the tree (above)"
log "built $(basename "$wheel") and $(basename "$sdist"); the sdist's wheel has the same files"
