#!/usr/bin/env bash
# Start command: everything installed and built, services up, JupyterLab in the foreground.
set -euo pipefail
LOG_TAG=start
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

PORT="${REPROSERVER_LAB_PORT:-8888}"
WORKSPACE="${REPROSERVER_WORKSPACE:-$ROOT_DIR/workspace}"

scripts/setup.sh
scripts/services/docker.sh start
scripts/services/registry.sh start

# The workspace opens with example packages: the committed ones at once, the packed ones when the
# packer can make them here.
mkdir -p "$WORKSPACE"
scripts/make-examples.sh || log "could not pack the example recipes; the committed examples are still there"
for rpz in examples/*.rpz "$STATE_DIR"/examples/*.rpz; do
  [ -f "$rpz" ] && [ ! -e "$WORKSPACE/$(basename "$rpz")" ] && cp "$rpz" "$WORKSPACE/"
done

if curl -s --max-time 2 "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then
  die "port $PORT is in use: is JupyterLab already running? (set REPROSERVER_LAB_PORT to use another)"
fi

set -a; source "$SERVICES_ENV"; set +a
export REPROSERVER_STATE_DIR="$STATE_DIR/server"
export REPROSERVER_WORKSPACE="$WORKSPACE"
[ -n "${DOCKER_UNAVAILABLE:-}" ] && log "Docker is unavailable here: $DOCKER_UNAVAILABLE"

TOKEN="${JUPYTER_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(24))')}"
log "JupyterLab: http://127.0.0.1:$PORT/lab?token=$TOKEN"
log "(Ctrl-C stops JupyterLab; './reproserver-lab stop' stops Docker and the registry)"
extra=()
is_root && extra+=(--allow-root)
exec "$VENV_DIR/bin/jupyter" lab --no-browser \
  --ServerApp.ip=127.0.0.1 --ServerApp.port="$PORT" --ServerApp.port_retries=0 \
  --ServerApp.root_dir="$WORKSPACE" --IdentityProvider.token="$TOKEN" "${extra[@]}"
