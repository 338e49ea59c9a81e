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
lint_pid=""
jlab_pid=""
binder_pid=""
cleanup() {
  local i pid
  # A background step still going when a step failed: stopped with the run.
  for pid in "$lint_pid" "$jlab_pid" "$binder_pid"; do
    [ -z "$pid" ] || kill -- "-$pid" 2>/dev/null || true
  done
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    "scripts/services/${started[$i]}.sh" stop || true
  done
}
trap cleanup EXIT

# Lint needs only the sources: it runs while the services start and the examples are packed
# (which mostly wait), in a session of its own, its output kept apart and shown when it ends.
step "lint, in the background"
mkdir -p "$STATE_DIR"
lint_log="$STATE_DIR/lint.log"
setsid npm run --silent lint >"$lint_log" 2>&1 &
lint_pid=$!

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
lint_status=0
wait "$lint_pid" || lint_status=$?
lint_pid=""
cat "$lint_log" >&2
[ "$lint_status" -eq 0 ] || die "lint failed (its output is above)"

# Two workers: on two cores Jest's default (one fewer than the cores) runs them one at a time.
step "unit tests"
npx jest --config jest.config.js --ci --maxWorkers=2
(cd server && npx jest --config jest.config.js --ci --selectProjects unit --maxWorkers=2)

step "release check (sdist and wheel, twine, the wheel's tag, npm pack, the CLI)"
scripts/release-check.sh

# Mostly downloads and installs into fresh venvs: these run beside the integration tests (about
# 100 s and 200 s saved), their output kept apart and shown when they end.
step "JupyterLab versions, in the background: the oldest and the newest supported, the wheel alone in fresh venvs"
jlab_log="$STATE_DIR/jlab-versions.log"
# In a session of its own, so that a failed run can stop it with everything it started.
setsid scripts/jlab-versions-check.sh --dist "$STATE_DIR/release-check/dist" >"$jlab_log" 2>&1 &
jlab_pid=$!
step "the Binder check's image, in the background (binder/: the environment, then postBuild)"
binder_log="$STATE_DIR/binder-prepare.log"
setsid scripts/binder-check.sh --prepare >"$binder_log" 2>&1 &
binder_pid=$!

step "integration tests (real dockerd, rootless Podman, registry and reprozip packages)"
(cd server && npx jest --config jest.config.js --ci --selectProjects integration --runInBand)

step "JupyterLab versions: the background check's end"
jlab_status=0
wait "$jlab_pid" || jlab_status=$?
jlab_pid=""
cat "$jlab_log" >&2
[ "$jlab_status" -eq 0 ] || die "the JupyterLab versions check failed (its log is above)"

step "UI tests (real JupyterLab in Debian Chromium)"
(cd ui-tests && PATH="$VENV_DIR/bin:$PATH" npx playwright test)

step "the Binder check's image: the background run's end"
binder_status=0
wait "$binder_pid" || binder_status=$?
binder_pid=""
cat "$binder_log" >&2
[ "$binder_status" -eq 0 ] || die "building the Binder check's image failed (its log is above)"

step "Binder check (the image binder/ makes, a non-root user, no Docker, 2 GiB)"
scripts/binder-check.sh

step "Binder check with user namespaces refused (seccomp, as Docker's default profile), 1 GiB, a 200 MiB upload"
scripts/binder-check.sh --userns-refused --memory 1024

step "all tests passed in $((SECONDS - started_at)) s"
