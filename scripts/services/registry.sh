#!/usr/bin/env bash
# Docker registry for ReproServer's image cache: `registry.sh start|stop|status`.
# Debian's docker-registry on 127.0.0.1 (a free port, kept across restarts), no auth, storage under
# $STATE_DIR/registry. Records its address in $STATE_DIR/services.env as REGISTRY.
set -euo pipefail
LOG_TAG=registry
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DIR="$STATE_DIR/registry"
PID_FILE="$DIR/registry.pid"
PORT_FILE="$DIR/port"

answers() { curl -sf --max-time 2 "http://127.0.0.1:$1/v2/" >/dev/null 2>&1; }

start() {
  mkdir -p "$DIR/data"
  if port_service_up "$PID_FILE" "$PORT_FILE"; then
    log "already running on 127.0.0.1:$(cat "$PORT_FILE")"
    set_service_var REGISTRY "127.0.0.1:$(cat "$PORT_FILE")"
    return
  fi
  if ! command -v docker-registry >/dev/null; then
    ensure_debs docker-registry || { log "no registry: images will not be cached across engines"; unset_service_var REGISTRY; exit 0; }
  fi
  local port; port="$(free_port)"
  cat > "$DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  start_port_service docker-registry "$PID_FILE" "$PORT_FILE" "$DIR/registry.log" "$port" \
    docker-registry serve "$DIR/config.yml"
  set_service_var REGISTRY "127.0.0.1:$port"
  log "ready at 127.0.0.1:$port"
}

stop() { stop_pid_file "$PID_FILE" docker-registry; }

status() {
  if port_service_up "$PID_FILE" "$PORT_FILE"; then echo "running on 127.0.0.1:$(cat "$PORT_FILE")";
  else echo "stopped"; return 1; fi
}

service_main "$@"
