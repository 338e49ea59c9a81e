#!/usr/bin/env bash
# Binder's constraints, reproduced on this machine, and what a Binder user does under them.
#
#   scripts/binder-check.sh [--userns-refused | --without-bwrap] [--memory MIB]
#   scripts/binder-check.sh --prepare     (step 1 alone: the test command runs it in the background)
#
# (after scripts/setup.sh). The test command runs it twice: as is (bubblewrap works, 2 GiB), then
# with --userns-refused --memory 1024, as on mybinder.org at its smallest.
#
#  1. builds the image as repo2docker would from binder/: environment.yml translated for pip
#     (no conda here; scripts/binder/environment.py, tested by scripts/test_binder_environment.py,
#     which also checks its jupyterlab range is pyproject.toml's) into a fresh virtual environment
#     .state/binder-check/venv; apt.txt's Debian packages; the repository (the files git would
#     commit from this tree) copied to a home folder, .state/binder-check/home, and
#     binder/postBuild run there as the Binder user with the environment first on PATH and npm's
#     cache kept in .state/binder-check/npm-cache (so npm ci fetches little). Kept, and reused
#     while binder/, the tree and the pinned versions are the same (the test command's second
#     run). Fails if environment.yml, apt.txt or postBuild do;
#  2. the wheel of that environment is then postBuild's `pip install .` (scripts/build-dist.sh is
#     the release check's);
#  3. checks that the `reproserver` command pip installed answers as the bundled server does
#     (--version, inspect of an example), that `jupyter labextension list` says OK, and runs
#     `python -m jupyterlab.browser_check`: once per image (a run on an image that passed them
#     says so and goes on);
#  4. starts that JupyterLab (`jupyter lab`, as Binder does) as the Binder user
#     (reproserver-binder; Binder's is jovyan), in a fresh copy of the image's home folder, with
#     the example packages in examples/ (the committed ones, and the packed ones beside them),
#     a clean environment (no DOCKER_HOST, no REPROSERVER_*), no Docker socket it can reach, in a
#     memory cgroup of --memory MiB (default 2048; mybinder.org gives 1 to 2 GiB);
#  5. checks from a terminal of that JupyterLab whether `unshare -U true` works (it must exactly
#     when user namespaces are not refused), that the companion server offers as a run's default
#     memory half of the cgroup's limit (256 to 2048 MiB: room for JupyterLab), and which sandbox
#     it picked;
#  6. runs ui-tests/tests/binder.spec.ts in Debian's Chromium: double-click a package, see the
#     sandbox backend, change an argument, run, read the log, find the outputs in the workspace;
#     open another, see the default memory limit, make it allocate more than the whole cgroup and
#     see the run end as out of memory; upload a 200 MiB input from the computer (in chunks to
#     JupyterLab's contents API, not through jupyter-server-proxy) and run with it;
#  7. fails if the kernel killed anything in the cgroup for lack of memory (the run's own limit
#     must stop the experiment first) or if JupyterLab or the companion server is not the same
#     live process as before the UI flow;
#  8. reports the image's build time (or its reuse), the server's cold start through the proxy, the
#     peak memory of JupyterLab + server + experiments, and the time taken.
# --userns-refused: JupyterLab and everything it starts run under a seccomp filter that refuses new
# namespaces as Docker's default seccomp profile does to an unprivileged container (so likely on
# mybinder.org; scripts/binder/userns-refused.c, compiled here): bubblewrap really fails and the
# server must fall back to proot.
# --without-bwrap: JupyterLab sees /bin/false mounted over bubblewrap (the older, cruder stand-in
# for the same; the server must fall back to proot too).
# Needs root for the user, the cgroup and the filter without no_new_privs; without root it runs as
# the current user and says loudly what it could not reproduce.
set -euo pipefail
LOG_TAG=binder-check
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
started_at=$SECONDS

CHECK_DIR="$STATE_DIR/binder-check"
BINDER_VENV="$CHECK_DIR/venv"
BINDER_USER="${REPROSERVER_BINDER_USER:-reproserver-binder}"
memory_mib=2048
# A Python the non-root user can run: a pyenv one under /root is out of its reach.
BINDER_PYTHON="${REPROSERVER_BINDER_PYTHON:-/usr/bin/python3}"

step() { log "── $1 ($((SECONDS - started_at)) s)"; }
warn() { log "WARNING: $*"; warnings+=("$*"); }
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
summary=()
warnings=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
without_bwrap=0
userns_refused=0
prepare_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) prepare_only=1 ;;
    --without-bwrap) without_bwrap=1 ;;
    --userns-refused) userns_refused=1 ;;
    --memory)
      [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]{3,6}$ ]] && [ "$2" -ge 512 ] ||
        { log "--memory takes MiB, at least 512"; usage; }
      memory_mib=$2
      shift ;;
    *) usage ;;
  esac
  shift
done
[ "$without_bwrap$userns_refused" != 11 ] || { log "--without-bwrap or --userns-refused, not both"; usage; }
MEMORY_LIMIT=$((memory_mib * 1024 * 1024))
# What the companion server must offer as a run's default memory in that cgroup: half of it,
# rounded down to 64 MiB, 256 to 2048 (server/src/runs/default-limits.ts).
expected_default_mib=$(( memory_mib / 2 / 64 * 64 ))
[ "$expected_default_mib" -le 2048 ] || expected_default_mib=2048
mode_name="bubblewrap allowed"
[ "$without_bwrap" = 0 ] || mode_name="bubblewrap hidden"
[ "$userns_refused" = 0 ] || mode_name="user namespaces refused"

# ---- the JupyterLab under test, its cgroup, and their cleanup --------------------------------

lab_pid=""
cgroup=""        # the cgroup's directory
cgroup_kind=""   # v2 or v1
run_dir=""       # the user's home folder and temporary files
outside=""       # commands that must not see the source tree run from here

# Creates a cgroup with memory limited to MEMORY_LIMIT: cgroup v2 where the memory controller
# is on the unified hierarchy, else the v1 memory hierarchy (below our own cgroup). Sets
# cgroup/cgroup_kind, or leaves them empty when this machine does not let us.
make_memory_cgroup() {
  local name="reproserver-binder-check-$$" root own
  root="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)"
  if [ -n "$root" ] && grep -qw memory "$root/cgroup.controllers" 2>/dev/null; then
    grep -qw memory "$root/cgroup.subtree_control" ||
      echo +memory > "$root/cgroup.subtree_control" 2>/dev/null || true
    if mkdir "$root/$name" 2>/dev/null; then
      if echo "$MEMORY_LIMIT" > "$root/$name/memory.max" 2>/dev/null; then
        cgroup="$root/$name" cgroup_kind=v2
        return
      fi
      rmdir "$root/$name"
    fi
  fi
  root="$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)"
  own="$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)"
  if [ -n "$root" ] && mkdir "$root$own/$name" 2>/dev/null; then
    if echo "$MEMORY_LIMIT" > "$root$own/$name/memory.limit_in_bytes" 2>/dev/null; then
      cgroup="$root$own/$name" cgroup_kind=v1
      return
    fi
    rmdir "$root$own/$name"
  fi
}

# Memory of the cgroup now, split: processes' own (anonymous) and the page cache (files read or
# written, such as an upload; the kernel reclaims it before it kills anything).
memory_split() {
  case "$cgroup_kind" in
    v2) awk '$1 == "anon" { a = $2 } $1 == "file" { f = $2 }
      END { printf "%.0f MiB processes, %.0f MiB page cache", a / 1048576, f / 1048576 }' "$cgroup/memory.stat" ;;
    v1) awk '$1 == "total_rss" { a = $2 } $1 == "total_cache" { f = $2 }
      END { printf "%.0f MiB processes, %.0f MiB page cache", a / 1048576, f / 1048576 }' "$cgroup/memory.stat" ;;
  esac
}

memory_peak() {
  case "$cgroup_kind" in
    v2) cat "$cgroup/memory.peak" 2>/dev/null || echo 0 ;;
    v1) cat "$cgroup/memory.max_usage_in_bytes" ;;
  esac
}

oom_kills() {
  case "$cgroup_kind" in
    v2) awk '$1 == "oom_kill" { print $2 }' "$cgroup/memory.events" ;;
    v1) awk '$1 == "oom_kill" { print $2; f = 1 } END { if (!f) print 0 }' "$cgroup/memory.oom_control" ;;
  esac
}

# Stops the JupyterLab we started, then whatever of ours is left in its cgroup (the companion
# server, sandboxes), and removes the cgroup.
stop_lab() {
  if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -TERM "$lab_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$lab_pid" 2>/dev/null || true
  fi
  lab_pid=""
  if [ -n "$cgroup" ] && [ -d "$cgroup" ]; then
    local pid
    for _ in $(seq 1 50); do
      [ -s "$cgroup/cgroup.procs" ] || break
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$cgroup/cgroup.procs"
      sleep 0.1
    done
    rmdir "$cgroup" 2>/dev/null || warn "could not remove the cgroup $cgroup"
  fi
  cgroup=""
}

on_exit() {
  local status=$?
  stop_lab
  [ -z "$outside" ] || rm -rf "$outside"
  if [ "$status" != 0 ]; then
    [ -f "$CHECK_DIR/jupyterlab.log" ] && {
      log "last lines of $CHECK_DIR/jupyterlab.log:"
      tail -n 30 "$CHECK_DIR/jupyterlab.log" >&2
    }
    [ -n "$run_dir" ] && log "the home folder and workspace are kept in $run_dir"
    log "binder check FAILED after $((SECONDS - started_at)) s"
  elif [ -n "$run_dir" ]; then
    rm -rf "$run_dir"
  fi
}
trap on_exit EXIT

# ---- 0. what the check needs ----------------------------------------------------------------

[ -x "$VENV_DIR/bin/python" ] && [ -d node_modules ] &&
  [ -f jupyterlab_reproserver/labextension/package.json ] ||
  die "the tree is not built: run scripts/setup.sh first"
[ -x "$BINDER_PYTHON" ] || die "$BINDER_PYTHON is missing (set REPROSERVER_BINDER_PYTHON to a Python 3.10+ that any user can run)"
"$BINDER_PYTHON" -c 'import venv, ensurepip' 2>/dev/null || ensure_debs python3-venv ||
  die "$BINDER_PYTHON cannot make virtual environments (Debian package python3-venv)"
for example in shell-pipeline slow-printer python-options; do
  [ -f "$STATE_DIR/examples/$example.json" ] || { scripts/make-examples.sh; break; }
done
mkdir -p "$CHECK_DIR"
rm -f "$CHECK_DIR/jupyterlab.log"
# Nothing of the developer's environment may point JupyterLab or the server at this tree.
unset REPROSERVER_SERVER_JS REPROSERVER_NODE REPROSERVER_HELPER REPROSERVER_WORKSPACE \
  REPROSERVER_STATE_DIR DOCKER_HOST DOCKER_SOCKET PYTHONPATH JUPYTER_PATH JUPYTER_CONFIG_DIR
outside="$(mktemp -d)"

# ---- 1. the image, as repo2docker builds it from binder/ ------------------------------------

# What repo2docker does with binder/, without conda: environment.yml's specs, translated for pip
# (scripts/binder/environment.py, tested first, and with the check that its jupyterlab range is
# the Python package's), into a virtual environment of a Python its python= line accepts;
# apt.txt's packages; the repository copied to the user's home folder, and binder/postBuild run
# there as that user with the environment first on PATH. JupyterLab and jupyter-server-proxy
# are held to the versions the other tests use (requirements-dev.txt): pip fails if
# environment.yml's ranges exclude them. The result (environment + home) is kept, and reused
# while binder/, this tree's files, those versions and the Python are the same: the test
# command runs this check twice.
step "binder/environment.yml, apt.txt, then postBuild in a copy of the repository as its user"
(cd scripts && "$VENV_DIR/bin/pytest" -q -p no:cacheprovider test_binder_environment.py >&2) ||
  die "scripts/test_binder_environment.py failed: binder/environment.yml or its translation is wrong (above)"
python_version="$("$BINDER_PYTHON" -c 'import platform; print(platform.python_version())')"
requirements="$("$VENV_DIR/bin/python" scripts/binder/environment.py binder/environment.yml \
  --python "$python_version" --pyproject pyproject.toml)" ||
  die "binder/environment.yml cannot be installed as repo2docker would (above)"
mapfile -t requirements <<<"$requirements"
mapfile -t apt_packages < <(sed 's/#.*//' binder/apt.txt | tr -s ' \t' '\n' | sed '/^$/d')
[ "${#apt_packages[@]}" = 0 ] || ensure_debs "${apt_packages[@]}" ||
  die "cannot install binder/apt.txt's packages: ${apt_packages[*]}"
mkdir -p "$CHECK_DIR"
# The wheel and sdist earlier versions of this check built (now postBuild's pip install . does).
rm -rf "$CHECK_DIR/dist"
grep -E '^(jupyterlab|jupyter-server-proxy)==' requirements-dev.txt > "$CHECK_DIR/constraints.txt"

# The Binder user (jovyan there): postBuild and JupyterLab run as it.
as_user=()
if is_root; then
  if ! id -u "$BINDER_USER" >/dev/null 2>&1; then
    log "creating the user $BINDER_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$BINDER_USER"
  fi
  uid="$(id -u "$BINDER_USER")" gid="$(id -g "$BINDER_USER")"
  as_user=(setpriv --reuid="$uid" --regid="$gid" --clear-groups --)
  lab_user="$BINDER_USER"
else
  uid="$(id -u)" gid="$(id -g)" lab_user="$(id -un)"
  warn "not root: postBuild and JupyterLab run as $lab_user (already non-root), but no user could be created"
fi

# The repository as Binder has it: the files git would commit from this tree (tracked, and
# untracked but not ignored), nothing built, no node_modules.
list_tree() { git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -f "$f" ] && printf '%s\0' "$f"; done; }
image_key="$( { list_tree | sort -z | xargs -0 sha256sum; cat "$CHECK_DIR/constraints.txt";
  echo "$python_version $BINDER_PYTHON $BINDER_USER $uid"; } | sha256sum | cut -c1-64)"
IMAGE_HOME="$CHECK_DIR/home"
NPM_CACHE="$CHECK_DIR/npm-cache"
if [ "$(cat "$CHECK_DIR/image-key" 2>/dev/null)" = "$image_key" ] && [ -x "$BINDER_VENV/bin/jupyter" ]; then
  log "reusing the image of an earlier run (binder/ and the tree are the same)"
  summary+=("image: reused (binder/, the tree, the pinned versions and the Python unchanged)")
else
  rm -f "$CHECK_DIR/image-key" "$CHECK_DIR/checked-key"
  rm -rf "$BINDER_VENV" "$IMAGE_HOME"
  t0=$EPOCHREALTIME
  "$BINDER_PYTHON" -m venv "$BINDER_VENV"
  (cd "$outside" && "$BINDER_VENV/bin/pip" install --quiet --disable-pip-version-check \
    --constraint "$CHECK_DIR/constraints.txt" "${requirements[@]}") ||
    die "pip could not install binder/environment.yml's specs (${requirements[*]}) with $(tr '\n' ' ' < "$CHECK_DIR/constraints.txt")"
  env_seconds="$(seconds_since "$t0")"
  mkdir -p "$IMAGE_HOME"
  list_tree | tar --null -T - -cf - | tar -xf - -C "$IMAGE_HOME"
  # npm's cache, kept between runs and seeded from the developer's (which setup.sh filled): npm
  # ci then fetches nothing it has (--prefer-offline). Outside the home folder, so postBuild
  # leaves it (it empties one in the home folder, to keep the image small).
  if [ ! -d "$NPM_CACHE" ]; then
    root_cache="$(npm config get cache 2>/dev/null || true)"
    mkdir -p "$NPM_CACHE.tmp"
    [ -z "$root_cache" ] || [ ! -d "$root_cache/_cacache" ] || cp -a "$root_cache/_cacache" "$NPM_CACHE.tmp/"
    mv "$NPM_CACHE.tmp" "$NPM_CACHE"
  fi
  build_tmp="$(mktemp -d)"
  is_root && chown -R "$uid:$gid" "$BINDER_VENV" "$IMAGE_HOME" "$NPM_CACHE" "$build_tmp"
  # As repo2docker: the user, the repository as home and working folder, the environment first
  # on PATH; and this machine's network settings (certificates, proxies), which Binder has too.
  build_env=(HOME="$IMAGE_HOME" USER="$lab_user" LOGNAME="$lab_user" SHELL=/bin/bash LANG=C.UTF-8
    TMPDIR="$build_tmp" PATH="$BINDER_VENV/bin:/usr/local/bin:/usr/bin:/bin"
    npm_config_cache="$NPM_CACHE" npm_config_prefer_offline=true)
  for name in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR PIP_CERT REQUESTS_CA_BUNDLE PIP_INDEX_URL \
    PIP_FIND_LINKS npm_config_registry http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -z "${!name:-}" ] || build_env+=("$name=${!name}")
  done
  t1=$EPOCHREALTIME
  (cd "$IMAGE_HOME" && "${as_user[@]}" env -i "${build_env[@]}" ./binder/postBuild \
    > "$CHECK_DIR/postBuild.log" 2>&1) || {
    tail -n 40 "$CHECK_DIR/postBuild.log" >&2
    rm -rf "$build_tmp"
    die "binder/postBuild failed as $lab_user in $IMAGE_HOME (above; all of it in $CHECK_DIR/postBuild.log)"
  }
  rm -rf "$build_tmp"
  summary+=("image: built in $(seconds_since "$t0") s: environment.yml's specs ${env_seconds} s (pip, through its cache), postBuild $(seconds_since "$t1") s (npm ci from npm's cache, npm run build, pip install .)")
  echo "$image_key" > "$CHECK_DIR/image-key"
fi
if [ "$prepare_only" = 1 ]; then
  log "the image is ready (${summary[*]}); the checks themselves reuse it"
  exit 0
fi

# The package and the server it starts come from the environment, not from this tree.
mapfile -t where < <(cd "$outside" && "$BINDER_VENV/bin/python" -c '
import jupyterlab_reproserver._node as node
print(node.__file__)
print(node.server_script())')
for path in "${where[@]}"; do
  case "$path" in
    "$BINDER_VENV"/*) ;;
    *) die "the installed package resolves $path, outside $BINDER_VENV" ;;
  esac
done
log "the proxy starts ${where[1]}"

# Step 3 checks the image itself, whatever the mode: once per image (the test command's second
# run reuses the first's image, and goes on).
if [ "$(cat "$CHECK_DIR/checked-key" 2>/dev/null)" = "$image_key" ]; then
  log "the image's own checks (the reproserver command, labextension list, browser_check) passed on it before"
  summary+=("the image's own checks: passed on this image before, not repeated")
else
  # The `reproserver` command pip put on PATH is the bundled server: same version, same answers.
  step "the reproserver command of the environment"
  [ -x "$BINDER_VENV/bin/reproserver" ] || die "pip install put no reproserver command in $BINDER_VENV/bin"
  cli_version="$(cd "$outside" && "$BINDER_VENV/bin/reproserver" --version)"
  [ "$cli_version" = "$(node -p "require('./package.json').version")" ] ||
    die "reproserver --version says $cli_version, not the package's version"
  example="$ROOT_DIR/examples/shell-pipeline.rpz"
  diff <(cd "$outside" && "$BINDER_VENV/bin/reproserver" inspect "$example" --json) \
    <(cd "$outside" && node "${where[1]}" inspect "$example" --json) >&2 ||
    die "reproserver inspect differs from the bundled server's own output (above)"
  summary+=("reproserver command: version $cli_version; inspect answers as the bundle does")

  # ---- 3. JupyterLab's own checks -------------------------------------------------------------

  step "jupyter labextension list; python -m jupyterlab.browser_check"
  listing="$(cd "$outside" && "$BINDER_VENV/bin/jupyter" labextension list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')"
  line="$(grep 'jupyterlab-reproserver' <<<"$listing" || true)"
  grep -Eq 'jupyterlab-reproserver v[0-9.]+ enabled +OK' <<<"$line" ||
    die "jupyter labextension list does not say OK for jupyterlab-reproserver:"$'\n'"$listing"
  log "labextension list:$line"
  scripts/browser-check.sh "$BINDER_VENV/bin/python"
  echo "$image_key" > "$CHECK_DIR/checked-key"
fi

# ---- 4. the user, its home folder, no Docker, the memory limit ------------------------------

step "a non-root user, no Docker, $memory_mib MiB, $mode_name"
"${as_user[@]}" "$BINDER_VENV/bin/python" -c 'import jupyterlab_reproserver' ||
  die "$lab_user cannot use $BINDER_VENV (are its parent folders readable by all?)"

run_dir="$(mktemp -d /tmp/reproserver-binder.XXXXXX)"
home="$run_dir/home"
# A fresh container of the image: its home folder as postBuild left it (the repository, its
# committed examples in ~/examples), each run its own copy. The packed examples beside them.
cp -a "$IMAGE_HOME" "$home"
mkdir -p "$home/examples" "$run_dir/tmp"
for rpz in "$STATE_DIR"/examples/*.rpz; do
  [ -e "$home/examples/$(basename "$rpz")" ] || cp "$rpz" "$home/examples/"
done
cp ui-tests/jupyter_server_binder_config.py "$run_dir/jupyter_server_config.py"
is_root && chown -R "$uid:$gid" "$run_dir"

# No Docker: neither the system socket nor the project's dockerd may answer this user.
project_socket="$(sed -n 's/^DOCKER_SOCKET=//p' "$SERVICES_ENV" 2>/dev/null || true)"
for socket in /var/run/docker.sock $project_socket; do
  if [ ! -e "$socket" ]; then
    summary+=("docker: $socket absent")
  elif "${as_user[@]}" curl -s --max-time 2 --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1; then
    die "$lab_user reaches the Docker Engine at $socket: Binder has none. (Is the socket open to all?)"
  else
    summary+=("docker: $socket out of $lab_user's reach")
  fi
done

if is_root; then make_memory_cgroup; fi
if [ -n "$cgroup" ]; then
  log "memory cgroup ($cgroup_kind) $cgroup, limit $(mib "$MEMORY_LIMIT")"
else
  warn "NO MEMORY LIMIT: no memory cgroup could be created here ($(is_root && echo 'cgroups not writable' || echo 'not root')); JupyterLab runs without the $memory_mib MiB limit of Binder"
fi

# ---- 5. JupyterLab as that user, in the cgroup, in its mode ---------------------------------

# Bubblewrap made to fail: in a private mount namespace, /bin/false is mounted over it.
hide_bwrap=()
if [ "$without_bwrap" = 1 ]; then
  is_root || die "--without-bwrap needs root (for a private mount namespace)"
  bwrap="$(command -v bwrap)" || die "bubblewrap is not installed: nothing to hide"
  hide_bwrap=(unshare --mount --propagation private -- sh -c \
    'mount --bind /bin/false "$1" && shift && exec "$@"' sh "$bwrap")
fi

# User namespaces refused: the filter goes on before the user switch (as Docker installs its
# profile), so JupyterLab and all it starts inherit it. Checked here first, as the user, against
# a control without it: on a machine that refuses user namespaces anyway the mode proves nothing.
refuse_userns=()
if [ "$userns_refused" = 1 ]; then
  filter="$CHECK_DIR/userns-refused"
  cc -static -O2 -Wall -Werror -o "$filter" scripts/binder/userns-refused.c ||
    die "cannot compile scripts/binder/userns-refused.c (needs cc and a static libc)"
  chmod 0755 "$filter"
  refuse_userns=("$filter")
  "${as_user[@]}" "$filter" --probe > "$CHECK_DIR/userns-probe.txt" ||
    { cat "$CHECK_DIR/userns-probe.txt" >&2; die "the seccomp filter does not refuse what Docker's profile refuses (above)"; }
  if "${as_user[@]}" unshare -U true 2>/dev/null; then
    summary+=("control: $lab_user may make user namespaces on this machine without the filter")
  else
    warn "$lab_user cannot make user namespaces here even without the filter: the mode proves less"
  fi
  if out="$("$filter" "${as_user[@]}" unshare -U true 2>&1)"; then
    die "under the filter, $lab_user still made a user namespace"
  fi
  log "under the filter, as $lab_user: unshare -U true: $out"
  bwrap_out="$("$filter" "${as_user[@]}" bwrap --unshare-user --ro-bind / / true 2>&1)" &&
    die "under the filter, bubblewrap still made a user namespace"
  log "under the filter, as $lab_user: bwrap: $bwrap_out"
fi

step "starting JupyterLab as $lab_user"
port="$(free_port)"
lab_env=(HOME="$home" USER="$lab_user" LOGNAME="$lab_user" SHELL=/bin/bash LANG=C.UTF-8
  TMPDIR="$run_dir/tmp" PATH="$BINDER_VENV/bin:/usr/local/bin:/usr/bin:/bin"
  REPROSERVER_BINDER_PORT="$port")
# The shell joins the cgroup, then becomes the user's JupyterLab: everything it starts is in too.
(cd "$home" && exec sh -c '[ -z "$1" ] || echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh \
  "$cgroup" "${hide_bwrap[@]}" "${refuse_userns[@]}" "${as_user[@]}" env -i "${lab_env[@]}" \
  "$BINDER_VENV/bin/jupyter" lab --config "$run_dir/jupyter_server_config.py" --no-browser \
  >"$CHECK_DIR/jupyterlab.log" 2>&1) &
lab_pid=$!
wait_for 120 curl -sf "http://127.0.0.1:$port/api/status" ||
  die "JupyterLab did not answer on port $port within 120 s"
if [ -n "$cgroup" ]; then
  grep -qx "$lab_pid" "$cgroup/cgroup.procs" || die "JupyterLab (pid $lab_pid) is not in $cgroup"
fi

# The first request through the proxy starts the companion server: its cold start.
answer="$(curl -s -o "$CHECK_DIR/backends.json" -w '%{http_code} %{time_total}' --max-time 120 \
  "http://127.0.0.1:$port/reproserver/api/backends" || true)"
read -r code cold_start <<<"$answer"
[ "${code:-}" = 200 ] || die "GET /reproserver/api/backends through the proxy answered ${code:-nothing}"
summary+=("cold start of the companion server through jupyter-server-proxy: ${cold_start} s")
sandbox="$(node -p "require('$CHECK_DIR/backends.json').backends.find(b => b.name === 'sandbox').detail")"
log "$sandbox"
summary+=("backend: $sandbox")
if [ "$without_bwrap$userns_refused" != 00 ]; then
  grep -q 'Sandbox: proot' <<<"$sandbox" || die "with bubblewrap failing, the sandbox should be proot"
else
  grep -q 'Sandbox: bubblewrap' <<<"$sandbox" || die "with user namespaces allowed, the sandbox should be bubblewrap"
fi
default_mib="$(node -p "require('$CHECK_DIR/backends.json').defaultLimits?.memoryMiB")"
if [ -n "$cgroup" ] && [ "$default_mib" != "$expected_default_mib" ]; then
  die "in $memory_mib MiB the server offers runs $default_mib MiB of memory by default, not $expected_default_mib"
fi
summary+=("mode: $mode_name, $memory_mib MiB; a run's default memory limit: $default_mib MiB")

# From inside: a terminal of that JupyterLab, as a Binder user would open one.
inside="$(node scripts/binder/in-lab.cjs "http://127.0.0.1:$port" \
  'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; unshare -U true')" && inside_rc=0 || inside_rc=$?
log "in a JupyterLab terminal: unshare -U true exited $inside_rc:"$'\n'"$inside"
[ "$inside_rc" -lt 124 ] || die "could not run unshare -U true in a JupyterLab terminal (status $inside_rc)"
if [ "$userns_refused" = 1 ]; then
  [ "$inside_rc" != 0 ] || die "user namespaces should be refused in JupyterLab, but unshare -U true worked there"
  grep -q 'Operation not permitted' <<<"$inside" ||
    die "unshare -U true failed in JupyterLab, but not as a refused namespace does"
  grep -Eq '^Seccomp:[[:space:]]+2' <<<"$inside" || die "JupyterLab's terminal is not under a seccomp filter"
else
  [ "$inside_rc" = 0 ] || die "user namespaces should work in JupyterLab in this mode, but unshare -U true failed"
fi
summary+=("in a JupyterLab terminal: unshare -U true $([ "$inside_rc" = 0 ] && echo works || echo 'is refused (Operation not permitted)')")
server_pid=""
if [ -n "$cgroup" ]; then
  while read -r pid; do
    grep -qa 'reproserver\.js' "/proc/$pid/cmdline" 2>/dev/null && server_pid="$pid"
  done < "$cgroup/cgroup.procs"
  [ -n "$server_pid" ] || die "no companion server process in $cgroup"
  server_cmd="$(tr '\0' ' ' < "/proc/$server_pid/cmdline")"
  case "$server_cmd" in
    *" $BINDER_VENV"/*/jupyterlab_reproserver/server/bin/reproserver.js*) ;;
    *) die "the companion server runs from elsewhere than $BINDER_VENV: $server_cmd" ;;
  esac
  server_uid="$(awk '/^Uid:/ { print $2 }' "/proc/$server_pid/status")"
  [ "$server_uid" = "$(id -u "$lab_user")" ] || die "the companion server runs as uid $server_uid"
  log "companion server: pid $server_pid, uid $server_uid: $server_cmd"
  if [ "$userns_refused" = 1 ]; then
    grep -Eq '^Seccomp:[[:space:]]+2' "/proc/$server_pid/status" ||
      die "the companion server is not under the seccomp filter"
  fi
fi

# The 200 MiB upload (binder-upload.spec.ts) runs where it tells most: in a cgroup of 1 GiB or less.
specs=(tests/binder.spec.ts)
[ -n "$cgroup" ] && [ "$memory_mib" -le 1024 ] && specs+=(tests/binder-upload.spec.ts)
step "galata: ${specs[*]}"
ui_started=$EPOCHREALTIME
(cd ui-tests && REPROSERVER_BINDER_URL="http://127.0.0.1:$port" \
  REPROSERVER_BINDER_MEMORY_MIB="$([ -n "$cgroup" ] && echo "$memory_mib")" \
  REPROSERVER_BINDER_DEFAULT_MEMORY_MIB="$default_mib" \
  REPROSERVER_EXAMPLES_DIR="$STATE_DIR/examples" npx playwright test --config playwright.binder.config.js "${specs[@]}")
summary+=("UI flow: $(seconds_since "$ui_started") s")

# The experiment that ran out of memory took nothing else with it.
kill -0 "$lab_pid" 2>/dev/null || die "JupyterLab is gone after the UI flow"
curl -sf -o /dev/null "http://127.0.0.1:$port/api/status" || die "JupyterLab no longer answers after the UI flow"
if [ -n "$server_pid" ]; then
  grep -qa 'reproserver\.js' "/proc/$server_pid/cmdline" 2>/dev/null ||
    die "the companion server (pid $server_pid) is gone after the UI flow"
fi

# ---- 7. what it took ------------------------------------------------------------------------

if [ -n "$cgroup" ]; then
  summary+=("memory: peak $(mib "$(memory_peak)") of $(mib "$MEMORY_LIMIT") (cgroup $cgroup_kind, JupyterLab + companion server + experiments, page cache included; at the end $(memory_split)), OOM kills: $(oom_kills)")
  [ "$(oom_kills)" = 0 ] || die "the kernel killed processes for lack of memory in the cgroup"
fi
stop_lab
summary+=("binder check: $((SECONDS - started_at)) s in all")
log "binder check passed"
for line in "${summary[@]}"; do log "  $line"; done
for line in "${warnings[@]}"; do log "  WARNING: $line"; done
printf '%s\n' "${summary[@]}" "${warnings[@]/#/WARNING: }" > "$CHECK_DIR/report.txt"
