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
  if pid_alive "$PID_FILE" && [ -s "$PORT_FILE" ] && answers "$(cat "$PORT_FILE")"; then
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
  log "starting docker-registry on 127.0.0.1:$port (log $DIR/registry.log)"
  setsid docker-registry serve "$DIR/config.yml" > "$DIR/registry.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  echo "$port" > "$PORT_FILE"
  if ! wait_for 30 answers "$port"; then
    tail -n 20 "$DIR/registry.log" >&2 || true
    stop_pid_file "$PID_FILE" docker-registry
    die "docker-registry did not start; see $DIR/registry.log"
  fi
  set_service_var REGISTRY "127.0.0.1:$port"
  log "ready at 127.0.0.1:$port"
}

stop() { stop_pid_file "$PID_FILE" docker-registry; }

status() {
  if pid_alive "$PID_FILE" && answers "$(cat "$PORT_FILE")"; then echo "running on 127.0.0.1:$(cat "$PORT_FILE")";
  else echo "stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
