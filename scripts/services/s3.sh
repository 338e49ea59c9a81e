#!/usr/bin/env bash
# S3-compatible object store for the S3 blob store's tests: `s3.sh start|stop|status`.
# moto's server (PyPI moto[server], installed into .venv by setup.sh) on 127.0.0.1 (a free port),
# in memory: buckets vanish when it stops. Records its URL in
# $STATE_DIR/services.env as S3_ENDPOINT.
set -euo pipefail
LOG_TAG=s3
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DIR="$STATE_DIR/s3"
PID_FILE="$DIR/moto.pid"
PORT_FILE="$DIR/port"
MOTO="$VENV_DIR/bin/moto_server"

answers() { curl -sf --max-time 2 "http://127.0.0.1:$1/" >/dev/null 2>&1; }

start() {
  mkdir -p "$DIR"
  if port_service_up "$PID_FILE" "$PORT_FILE"; then
    log "already running on 127.0.0.1:$(cat "$PORT_FILE")"
    set_service_var S3_ENDPOINT "http://127.0.0.1:$(cat "$PORT_FILE")"
    return
  fi
  [ -x "$MOTO" ] || die "$MOTO is missing: run scripts/setup.sh (requirements-dev.txt has moto[server])"
  local port; port="$(free_port)"
  start_port_service moto_server "$PID_FILE" "$PORT_FILE" "$DIR/moto.log" "$port" \
    "$MOTO" -H 127.0.0.1 -p "$port"
  set_service_var S3_ENDPOINT "http://127.0.0.1:$port"
  log "ready at http://127.0.0.1:$port"
}

stop() {
  stop_pid_file "$PID_FILE" moto_server
  unset_service_var S3_ENDPOINT
}

status() {
  if port_service_up "$PID_FILE" "$PORT_FILE"; then
    echo "running on 127.0.0.1:$(cat "$PORT_FILE")"
  else echo "stopped"; return 1; fi
}

service_main "$@"
