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
  if pid_alive "$PID_FILE" && [ -s "$PORT_FILE" ] && answers "$(cat "$PORT_FILE")"; then
    log "already running on 127.0.0.1:$(cat "$PORT_FILE")"
    set_service_var S3_ENDPOINT "http://127.0.0.1:$(cat "$PORT_FILE")"
    return
  fi
  [ -x "$MOTO" ] || die "$MOTO is missing: run scripts/setup.sh (requirements-dev.txt has moto[server])"
  local port; port="$(free_port)"
  log "starting moto_server on 127.0.0.1:$port (log $DIR/moto.log)"
  setsid "$MOTO" -H 127.0.0.1 -p "$port" > "$DIR/moto.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  echo "$port" > "$PORT_FILE"
  if ! wait_for 30 answers "$port"; then
    tail -n 20 "$DIR/moto.log" >&2 || true
    stop_pid_file "$PID_FILE" moto_server
    die "moto_server did not start; see $DIR/moto.log"
  fi
  set_service_var S3_ENDPOINT "http://127.0.0.1:$port"
  log "ready at http://127.0.0.1:$port"
}

stop() {
  stop_pid_file "$PID_FILE" moto_server
  unset_service_var S3_ENDPOINT
}

status() {
  if pid_alive "$PID_FILE" && [ -s "$PORT_FILE" ] && answers "$(cat "$PORT_FILE")"; then
    echo "running on 127.0.0.1:$(cat "$PORT_FILE")"
  else echo "stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
