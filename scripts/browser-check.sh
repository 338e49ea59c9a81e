#!/usr/bin/env bash
# Runs `python -m jupyterlab.browser_check` for the JupyterLab of a Python environment: JupyterLab
# starts, a headless browser loads it, and the check fails on any error in the page or the server
# log (an extension that does not load, for one). With Debian's Chromium; no browser is downloaded.
#
#   scripts/browser-check.sh [PYTHON]        (default: .venv/bin/python)
#
# browser_check installs the npm package `playwright` into <app dir>/browser_test, runs
# `npx playwright install chromium` and launches Playwright's own Chromium. Here that folder gets
# the Playwright the UI tests use (from npm's cache), and scripts/seed-playwright-browsers.cjs lays
# out a browsers folder whose "downloaded" Chromium is Debian's; the install command itself is
# answered by a shim and never runs.
set -euo pipefail
LOG_TAG=browser-check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="${1:-$VENV_DIR/bin/python}"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing (Debian package chromium; scripts/setup.sh installs it as root)"
[ -f "$ROOT_DIR/node_modules/playwright/package.json" ] || die "node_modules is missing: run scripts/setup.sh first"

app_dir="$("$PYTHON" -c 'from jupyterlab.commands import get_app_dir; print(get_app_dir())')"
target="$app_dir/browser_test"
# The same version as the UI tests: already in npm's cache, and known to drive Debian's Chromium.
playwright_version="$(node -p "require('$ROOT_DIR/node_modules/playwright/package.json').version")"
if [ "$(node -p "try { require('$target/node_modules/playwright/package.json').version } catch { '' }")" != "$playwright_version" ]; then
  log "installing playwright@$playwright_version into $target"
  rm -rf "$target"
  mkdir -p "$target"
  (cd "$target" && npm init -y >/dev/null &&
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
      "playwright@$playwright_version")
fi

export PLAYWRIGHT_BROWSERS_PATH="$STATE_DIR/playwright-browsers"
node "$ROOT_DIR/scripts/seed-playwright-browsers.cjs" "$target" "$CHROMIUM" >/dev/null
# Should Playwright still want to download a browser, it fails at once instead of fetching one.
export PLAYWRIGHT_DOWNLOAD_HOST=http://127.0.0.1:9
export PLAYWRIGHT_SKIP_BROWSER_GC=1

extra=()
is_root && extra+=(--allow-root)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# browser_check runs `npx playwright install chromium`; we never run `playwright install` (the
# browser is Debian's, seeded above): an `npx` first on PATH answers that one call itself.
mkdir "$work/bin"
real_npx="$(command -v npx)"
cat >"$work/bin/npx" <<SHIM
#!/bin/sh
if [ "\$1" = playwright ] && [ "\$2" = install ]; then
  echo "browser-check: not running 'playwright install': Debian's Chromium is used" >&2
  exit 0
fi
exec "$real_npx" "\$@"
SHIM
chmod +x "$work/bin/npx"
export PATH="$work/bin:$PATH"
log "python -m jupyterlab.browser_check ($PYTHON, $("$CHROMIUM" --version 2>/dev/null))"
(cd "$work" && "$PYTHON" -m jupyterlab.browser_check --ServerApp.port="$(free_port)" \
  --ServerApp.port_retries=0 --ServerApp.log_level=WARN --BrowserApp.log_level=WARN --LabApp.log_level=WARN "${extra[@]}")
log "browser check passed"
