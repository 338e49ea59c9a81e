#!/usr/bin/env bash
# Installs and builds everything the product and its tests need; safe to run again (it skips what
# is up to date). Debian packages when root; npm packages into node_modules; Python packages into
# .venv; then builds the server and the extension and installs them into .venv for JupyterLab.
set -euo pipefail
LOG_TAG=setup
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

DEBIAN_PACKAGES=(docker.io docker-registry chromium bubblewrap uidmap proot busybox-static curl gcc libc6-dev)

# A stamp file holds the hash of what an install step consumed; the step reruns when it changes.
stamp_matches() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_debian_packages() {
  ensure_debs "${DEBIAN_PACKAGES[@]}" ||
    log "continuing without them: Docker, the registry or UI tests may be unavailable"
}

check_node() {
  command -v node >/dev/null || die "Node.js 20.19 or newer is needed on PATH"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
    die "Node.js $(node --version) is too old: 20.19 or newer is needed (the JupyterLab 4.6 builder requires it)"
}

install_npm_packages() {
  local want; want="$(hash_files package-lock.json)"
  stamp_matches node_modules/.setup-stamp "$want" && return 0
  log "installing npm packages (npm ci)"
  # better-sqlite3 has no prebuilt binary we may download here: compile it against the local
  # Node.js headers when the distribution ships them (Debian's nodejs does).
  if [ -f /usr/include/node/node.h ] && [ "$(command -v node)" = /usr/bin/node ]; then
    export npm_config_nodedir=/usr
  fi
  export npm_config_build_from_source=true
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.setup-stamp
}

install_python_packages() {
  local want; want="$(hash_files requirements-dev.txt pyproject.toml)"
  [ -x "$VENV_DIR/bin/python" ] || { log "creating $VENV_DIR"; python3 -m venv "$VENV_DIR"; }
  stamp_matches "$VENV_DIR/.setup-stamp" "$want" && return 0
  log "installing Python packages into .venv"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
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
check_node
install_npm_packages
install_python_packages
build
install_into_venv
log "setup done"
