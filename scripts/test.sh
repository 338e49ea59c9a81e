#!/usr/bin/env bash
# Test command (what CI runs): install and build, start the services the tests need, run lint,
# unit, integration and UI tests and the Binder check, and stop what this run started.
set -euo pipefail
LOG_TAG=test
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
started_at=$SECONDS

scripts/setup.sh

# Services: start those that are not running, and stop exactly those on exit.
started=()
# podman after registry: its user's registries.conf marks the registry as insecure (127.0.0.1).
for service in docker registry s3 podman; do
  if ! "scripts/services/$service.sh" status >/dev/null 2>&1; then
    "scripts/services/$service.sh" start
    started+=("$service")
  fi
done
cleanup() {
  local i
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    "scripts/services/${started[$i]}.sh" stop || true
  done
}
trap cleanup EXIT

scripts/make-examples.sh

set -a; source "$SERVICES_ENV"; set +a
export REPROSERVER_EXAMPLES_DIR="$STATE_DIR/examples"
[ -n "${DOCKER_SOCKET:-}" ] || die "the tests need Docker: ${DOCKER_UNAVAILABLE:-no daemon}"
# The Docker backend's engine-parametrized tests also run on rootless Podman.
[ -n "${PODMAN_SOCKET:-}" ] || die "the tests need rootless Podman: ${PODMAN_UNAVAILABLE:-no service}"

step() { log "── $1 ($((SECONDS - started_at)) s)"; }

step "lint"
npm run --silent lint

step "unit tests"
npx jest --config jest.config.js --ci
(cd server && npx jest --config jest.config.js --ci --selectProjects unit)

step "release check (sdist and wheel, twine, the wheel's tag, npm pack, the CLI)"
scripts/release-check.sh

step "JupyterLab versions: the oldest and the newest supported, the wheel alone in fresh venvs"
scripts/jlab-versions-check.sh --dist "$STATE_DIR/release-check/dist"

step "integration tests (real dockerd, rootless Podman, registry and reprozip packages)"
(cd server && npx jest --config jest.config.js --ci --selectProjects integration --runInBand)

step "UI tests (real JupyterLab in Debian Chromium)"
(cd ui-tests && PATH="$VENV_DIR/bin:$PATH" npx playwright test)

step "Binder check (the image binder/ makes, a non-root user, no Docker, 2 GiB)"
scripts/binder-check.sh

step "Binder check with user namespaces refused (seccomp, as Docker's default profile), 1 GiB, a 200 MiB upload"
scripts/binder-check.sh --userns-refused --memory 1024

step "all tests passed in $((SECONDS - started_at)) s"
