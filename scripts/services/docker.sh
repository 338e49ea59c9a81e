#!/usr/bin/env bash
# Docker Engine for ReproServer: `docker.sh start|stop|status`.
# start: uses a daemon that already answers on /var/run/docker.sock; otherwise starts Debian's
# dockerd with no bridge network and no iptables (experiments run with network "none"), its data
# under $STATE_DIR/docker. Records the socket in $STATE_DIR/services.env as DOCKER_SOCKET.
# Exits 0 with DOCKER_UNAVAILABLE=<reason> recorded when no engine can be had here.
set -euo pipefail
LOG_TAG=docker
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DIR="$STATE_DIR/docker"
SOCKET="$DIR/docker.sock"
PID_FILE="$DIR/dockerd.pid"
SYSTEM_SOCKET=/var/run/docker.sock

answers() { curl -sf --max-time 2 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1; }

unavailable() {
  log "Docker is unavailable: $1"
  set_service_var DOCKER_UNAVAILABLE "\"$1\""
  unset_service_var DOCKER_SOCKET
  exit 0
}

start() {
  mkdir -p "$DIR"
  if [ -S "$SYSTEM_SOCKET" ] && answers "$SYSTEM_SOCKET"; then
    log "using the daemon at $SYSTEM_SOCKET"
    set_service_var DOCKER_SOCKET "$SYSTEM_SOCKET"; unset_service_var DOCKER_UNAVAILABLE
    return
  fi
  if pid_alive "$PID_FILE" && answers "$SOCKET"; then
    log "already running (pid $(cat "$PID_FILE"))"
    set_service_var DOCKER_SOCKET "$SOCKET"; unset_service_var DOCKER_UNAVAILABLE
    return
  fi
  is_root || unavailable "no daemon at $SYSTEM_SOCKET, and starting one needs root"
  ensure_debs docker.io || unavailable "Debian's docker.io could not be installed"
  rm -f "$SOCKET" "$PID_FILE"
  log "starting dockerd (data in $DIR, log $DIR/dockerd.log)"
  # setsid: the daemon must outlive the shell that started it, and not get its signals.
  setsid dockerd \
    --host "unix://$SOCKET" \
    --data-root "$DIR/data" \
    --exec-root "$DIR/exec" \
    --pidfile "$DIR/dockerd.own.pid" \
    --bridge=none --iptables=false --ip-masq=false \
    --storage-driver overlay2 \
    >"$DIR/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  if ! wait_for 60 answers "$SOCKET"; then
    tail -n 20 "$DIR/dockerd.log" >&2 || true
    stop_pid_file "$PID_FILE" dockerd
    unavailable "dockerd did not start; see $DIR/dockerd.log"
  fi
  set_service_var DOCKER_SOCKET "$SOCKET"; unset_service_var DOCKER_UNAVAILABLE
  log "ready at $SOCKET"
}

stop() { stop_pid_file "$PID_FILE" dockerd; }

status() {
  if pid_alive "$PID_FILE" && answers "$SOCKET"; then echo "running (pid $(cat "$PID_FILE"), $SOCKET)";
  elif answers "$SYSTEM_SOCKET"; then echo "system daemon at $SYSTEM_SOCKET";
  else echo "stopped"; return 1; fi
}

service_main "$@"
