#!/usr/bin/env bash
# Builds the Python distributions of this tree into DIR (emptied first):
#
#   scripts/build-dist.sh DIR [ARCH...]          ARCH: x86_64, aarch64 (default: this machine's)
#
#   DIR/jupyterlab_reproserver-VERSION-TAG.whl      one wheel per ARCH, from the tree
#   DIR/jupyterlab_reproserver-VERSION.tar.gz       the sdist (one for all machines: no binary)
#   DIR/from-sdist/jupyterlab_reproserver-*.whl     each wheel built again from that sdist, outside
#                                                   the tree: it must hold the same files
#
# A wheel for another machine than this one has the same files, with the static helper compiled
# by that machine's cross compiler (REPROSERVER_WHEEL_ARCH, hatch_build.py); RELEASE.md builds
# `x86_64 aarch64`. The companion server's bundle is rebuilt first, so that it matches the
# compiled server. Shared by the release check and the Binder check; needs .venv
# (scripts/setup.sh).
set -euo pipefail
LOG_TAG=build-dist
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
[ $# -ge 1 ] || die "usage: scripts/build-dist.sh DIR [ARCH...]"
dist="$1"
shift
arches=("$@")
[ "${#arches[@]}" -gt 0 ] || arches=("$(uname -m)")

outside="$(mktemp -d)"   # pip builds the sdist away from the tree, as a user's pip would
trap 'rm -rf "$outside"' EXIT

# (No wheel cache: pip would take a wheel cached from the same sdist path for another machine.)
pip_wheel() {
  "$VENV_DIR/bin/pip" wheel --quiet --no-deps --no-build-isolation --no-cache-dir \
    --disable-pip-version-check "$@"
}

npm run --silent build:server-bundle
rm -rf "$dist"
mkdir -p "$dist"
"$VENV_DIR/bin/python" -m hatchling build -t sdist -d "$dist" >"$dist/sdist.log" 2>&1 ||
  { cat "$dist/sdist.log" >&2; die "building the sdist failed"; }
sdist="$(ls "$dist"/jupyterlab_reproserver-*.tar.gz)"

zip_listing() { "$VENV_DIR/bin/python" -m zipfile -l "$1" | awk 'NR > 1 { print $1, $NF }' | sort; }
for arch in "${arches[@]}"; do
  export REPROSERVER_WHEEL_ARCH="$arch"
  pip_wheel -w "$dist/$arch" .
  (cd "$outside" && pip_wheel -w "$dist/from-sdist/$arch" "$sdist")
  wheel="$(ls "$dist/$arch"/jupyterlab_reproserver-*.whl)"
  again="$(ls "$dist/from-sdist/$arch"/jupyterlab_reproserver-*.whl)"
  [ "$(basename "$wheel")" = "$(basename "$again")" ] ||
    die "the $arch wheel built from the sdist is $(basename "$again"), not $(basename "$wheel")"
  diff <(zip_listing "$wheel") <(zip_listing "$again") >&2 ||
    die "the $arch wheel built from the sdist differs from the one built from the tree (above)"
  mv "$wheel" "$dist/" && rmdir "$dist/$arch"
  mv "$again" "$dist/from-sdist/" && rmdir "$dist/from-sdist/$arch"
  log "built $(basename "$wheel"); the sdist's wheel has the same files"
done
unset REPROSERVER_WHEEL_ARCH
log "built $(basename "$sdist") and ${#arches[@]} wheel(s) in $dist"
