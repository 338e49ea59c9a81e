#!/usr/bin/env bash
# Test command (what CI runs): install and build, start the services the tests need, run lint,
# unit, integration and UI tests and the Binder check, and stop what this run started.
set -euo pipefail
LOG_TAG=test
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
started_at=$SECONDS

scripts/setup.sh

step() { log "── $1 ($((SECONDS - started_at)) s)"; }

# What this run started, stopped on its exit: services, and background steps still going.
started=()
declare -A background_pid=() background_log=()
cleanup() {
  local i pid
  # A background step still going when a step failed: stopped with the run.
  for pid in "${background_pid[@]}"; do
    kill -- "-$pid" 2>/dev/null || true
  done
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    "scripts/services/${started[$i]}.sh" stop || true
  done
}
trap cleanup EXIT

# Starts a step in the background, in a session of its own (so that a failed run can stop it with
# everything it started), its output kept apart until it ends.
start_in_background() { # NAME COMMAND...
  local name="$1"
  shift
  background_log[$name]="$STATE_DIR/$name.log"
  setsid "$@" >"${background_log[$name]}" 2>&1 &
  background_pid[$name]=$!
}

# Waits for a background step, shows its output, and fails if it did.
end_of_background() { # NAME WHAT
  local status=0
  wait "${background_pid[$1]}" || status=$?
  unset "background_pid[$1]"
  cat "${background_log[$1]}" >&2
  [ "$status" -eq 0 ] || die "$2 failed (its output is above)"
}

# Lint needs only the sources: it runs while the services start and the examples are packed
# (which mostly wait).
step "lint, in the background"
mkdir -p "$STATE_DIR"
start_in_background lint npm run --silent lint

# Services: start those that are not running (and stop exactly those on exit).
# podman after registry: its user's registries.conf marks the registry as insecure (127.0.0.1).
# slurm: a one-node cluster (MUNGE, slurmctld, slurmd) for the slurm backend, ready in ~2 s.
for service in docker registry s3 podman slurm; do
  if ! "scripts/services/$service.sh" status >/dev/null 2>&1; then
    "scripts/services/$service.sh" start
    started+=("$service")
  fi
done

scripts/make-examples.sh

set -a; source "$SERVICES_ENV"; set +a
export REPROSERVER_EXAMPLES_DIR="$STATE_DIR/examples"
[ -n "${DOCKER_SOCKET:-}" ] || die "the tests need Docker: ${DOCKER_UNAVAILABLE:-no daemon}"
# The Docker backend's engine-parametrized tests also run on rootless Podman.
[ -n "${PODMAN_SOCKET:-}" ] || die "the tests need rootless Podman: ${PODMAN_UNAVAILABLE:-no service}"
# The slurm backend's tests run on the one-node cluster.
[ -n "${SLURM_CONF:-}" ] || die "the tests need the one-node Slurm cluster: ${SLURM_UNAVAILABLE:-not started}"

step "lint: the background run's end"
end_of_background lint "lint"

# Two workers: on two cores Jest's default (one fewer than the cores) runs them one at a time.
step "unit tests"
npx jest --config jest.config.js --ci --maxWorkers=2
(cd server && npx jest --config jest.config.js --ci --selectProjects unit --maxWorkers=2)

step "release check (sdist and wheel, twine, the wheel's tag, npm pack, the CLI)"
scripts/release-check.sh

# Mostly downloads and installs into fresh venvs: these run beside the integration tests (about
# 100 s and 200 s saved).
step "JupyterLab versions, in the background: the oldest and the newest supported, the wheel alone in fresh venvs"
start_in_background jlab-versions scripts/jlab-versions-check.sh --dist "$STATE_DIR/release-check/dist"
step "the Binder check's image, in the background (binder/: the environment, then postBuild)"
start_in_background binder-prepare scripts/binder-check.sh --prepare

step "integration tests (real dockerd, rootless Podman, registry and reprozip packages)"
(cd server && npx jest --config jest.config.js --ci --selectProjects integration --runInBand)

step "JupyterLab versions: the background check's end"
end_of_background jlab-versions "the JupyterLab versions check"

step "UI tests (real JupyterLab in Debian Chromium)"
(cd ui-tests && PATH="$VENV_DIR/bin:$PATH" npx playwright test)

step "the Binder check's image: the background run's end"
end_of_background binder-prepare "building the Binder check's image"

step "Binder check (the image binder/ makes, a non-root user, no Docker, 2 GiB)"
scripts/binder-check.sh

step "Binder check with user namespaces refused (seccomp, as Docker's default profile), 1 GiB, a 200 MiB upload"
scripts/binder-check.sh --userns-refused --memory 1024

step "all tests passed in $((SECONDS - started_at)) s"
