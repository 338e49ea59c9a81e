#!/usr/bin/env bash
# Rootless Podman for ReproServer: `podman.sh start|stop|status`.
# start: installs Debian's podman when missing, makes the unprivileged user $PODMAN_USER with
# subordinate uid/gid ranges, and runs `podman system service` AS THAT USER (rootless), with its
# home, image storage and runtime folder under $STATE_DIR/podman, serving the Docker-compatible
# API on a unix socket. Records the socket in $STATE_DIR/services.env as PODMAN_SOCKET (the server
# takes it as its Docker socket: DOCKER_SOCKET=$PODMAN_SOCKET, or DOCKER_HOST=unix://…).
# No network is ever made: runs use network "none". The local registry ($REGISTRY, when
# registry.sh started one) is marked insecure in that user's registries.conf, as Docker treats
# 127.0.0.0/8. Exits 0 with PODMAN_UNAVAILABLE=<reason> recorded when it cannot run here.
set -euo pipefail
LOG_TAG=podman
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PODMAN_USER=reproserver-podman
# Subordinate ids of that user: above the example packages' user (100000+) and far below the
# sandbox's own run users (2147000000+).
SUB_START=300000
SUB_COUNT=65536

DIR="$STATE_DIR/podman"
HOME_DIR="$DIR/home"
RUN_DIR="$DIR/run"
SOCKET="$RUN_DIR/podman.sock"
PID_FILE="$DIR/podman.pid"

answers() { curl -sf --max-time 2 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1; }

unavailable() {
  log "Podman is unavailable: $1"
  set_service_var PODMAN_UNAVAILABLE "\"$1\""
  unset_service_var PODMAN_SOCKET
  exit 0
}

# The prefix that runs a command as the podman user, with exactly the environment rootless
# podman needs (its home and runtime folder; no systemd user session here).
AS_USER=(setpriv --reuid "$PODMAN_USER" --regid "$PODMAN_USER" --init-groups
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME_DIR" USER="$PODMAN_USER"
  XDG_RUNTIME_DIR="$RUN_DIR" XDG_CONFIG_HOME="$HOME_DIR/.config"
  XDG_DATA_HOME="$HOME_DIR/.local/share")

make_user() {
  if ! getent passwd "$PODMAN_USER" >/dev/null; then
    log "creating user $PODMAN_USER (rootless Podman runs as it)"
    useradd --system --user-group --no-create-home --home-dir "$HOME_DIR" \
      --shell /usr/sbin/nologin "$PODMAN_USER"
  fi
  grep -q "^$PODMAN_USER:" /etc/subuid 2>/dev/null ||
    usermod --add-subuids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$PODMAN_USER"
  grep -q "^$PODMAN_USER:" /etc/subgid 2>/dev/null ||
    usermod --add-subgids "$SUB_START-$((SUB_START + SUB_COUNT - 1))" "$PODMAN_USER"
}

# The user's configuration: no systemd here (cgroupfs, events in a file), storage in its home,
# Debian's runc (crun is not required), catatonit as the containers' init (Docker's `Init: true`).
# exit_command_delay: each exec's monitor (conmon) otherwise stays 5 minutes after the exec ends;
# without a cgroup (cgroup v1), root steps' process limit is an rlimit that counts those too.
write_config() {
  local config="$HOME_DIR/.config/containers"
  install -d -o "$PODMAN_USER" -g "$PODMAN_USER" -m 0700 "$HOME_DIR" "$HOME_DIR/.config" "$config"
  install -d -o "$PODMAN_USER" -g "$PODMAN_USER" -m 0700 "$RUN_DIR"
  cat > "$config/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
init_path = "/usr/bin/catatonit"
exit_command_delay = 10
CONF
  cat > "$config/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$HOME_DIR/.local/share/containers/storage"
runroot = "$RUN_DIR/containers"
CONF
  {
    echo 'unqualified-search-registries = []'
    if [ -n "${REGISTRY:-}" ]; then
      printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY"
    fi
  } > "$config/registries.conf"
  chown "$PODMAN_USER:$PODMAN_USER" "$config"/*.conf
}

start() {
  if pid_alive "$PID_FILE" && answers "$SOCKET"; then
    log "already running (pid $(cat "$PID_FILE"))"
    set_service_var PODMAN_SOCKET "$SOCKET"; unset_service_var PODMAN_UNAVAILABLE
    return
  fi
  is_root || unavailable "starting a rootless Podman for another user needs root; run 'podman system service' yourself"
  ensure_debs podman uidmap catatonit || unavailable "Debian's podman could not be installed"
  make_user
  mkdir -p "$DIR"
  # The user must reach its home under the state folder (and the server's helper, which runs
  # bind-mount from the clone): a clone in a private folder cannot be used by another user.
  "${AS_USER[@]}" test -x "$DIR" ||
    unavailable "$PODMAN_USER cannot reach $DIR (a parent folder is private)"
  "${AS_USER[@]}" test -x "$ROOT_DIR/server" ||
    unavailable "$PODMAN_USER cannot reach $ROOT_DIR/server, whose helper runs bind-mount (a parent folder is private)"
  # The registry's address, if registry.sh recorded one.
  local REGISTRY=""
  [ -f "$SERVICES_ENV" ] && REGISTRY="$(sed -n 's/^REGISTRY=//p' "$SERVICES_ENV")"
  write_config
  rm -f "$SOCKET" "$PID_FILE"
  log "starting podman system service as $PODMAN_USER (storage in $HOME_DIR, log $DIR/podman.log)"
  # setsid: the service must outlive the shell that started it, and not get its signals.
  # --time=0: it serves until stopped, not only while clients come.
  setsid "${AS_USER[@]}" podman system service --time=0 "unix://$SOCKET" \
    >"$DIR/podman.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  if ! wait_for 60 answers "$SOCKET"; then
    tail -n 20 "$DIR/podman.log" >&2 || true
    stop
    unavailable "podman system service did not start; see $DIR/podman.log"
  fi
  set_service_var PODMAN_SOCKET "$SOCKET"; unset_service_var PODMAN_UNAVAILABLE
  log "ready at $SOCKET ($("${AS_USER[@]}" podman --version))"
}

# Stops the service (its process group), then the user namespace's pause process that rootless
# podman leaves behind (its pid is in the runtime folder; only that one process is stopped).
stop() {
  local pid=""
  [ -s "$PID_FILE" ] && pid="$(cat "$PID_FILE")"
  stop_pid_file "$PID_FILE" "podman system service"
  # Rootless podman re-executes itself inside its user namespace: that child, in the process
  # group setsid gave the service, outlives the recorded pid unless the group is stopped too.
  if [ -n "$pid" ] && [[ "$pid" =~ ^[0-9]+$ ]]; then
    kill -- "-$pid" 2>/dev/null || true
  fi
  local pause="$RUN_DIR/libpod/tmp/pause.pid"
  if [ -s "$pause" ] && [ "$(stat -c %U "/proc/$(cat "$pause")" 2>/dev/null)" = "$PODMAN_USER" ]; then
    stop_pid_file "$pause" "podman pause process"
  fi
}

status() {
  if pid_alive "$PID_FILE" && answers "$SOCKET"; then echo "running (pid $(cat "$PID_FILE"), $SOCKET)";
  else echo "stopped"; return 1; fi
}

service_main "$@"
